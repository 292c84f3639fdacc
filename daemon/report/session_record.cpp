#include "daemon/report/session_record.hpp"

#include "daemon/report/wording.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <ctime>
#include <map>

namespace vigil::report {

std::optional<session_record> load_session(store::reader& reader, std::uint64_t id) {
  auto summary = reader.session(id);
  if (!summary) return std::nullopt;
  session_record r;
  r.summary = std::move(*summary);
  r.events = reader.session_events(id);
  const auto stored = reader.session_vitals(id);
  r.vitals.reserve(stored.size());
  for (const auto& s : stored) r.vitals.push_back(s.sample);
  // The reader orders by kind, then by the first time of each stored batch; a monitor may send
  // samples out of order (they are stored as sent), so sort within each kind by time.
  std::stable_sort(r.vitals.begin(), r.vitals.end(), [](const auto& a, const auto& b) {
    return a.kind != b.kind ? a.kind < b.kind : a.time_ms < b.time_ms;
  });
  return r;
}

std::vector<alarm_record> alarm_history(std::span<const engine::event> events) {
  using engine::event_type;
  std::vector<alarm_record> out;
  std::map<std::uint64_t, std::size_t> index;
  for (const auto& e : events) {
    if (e.type == event_type::alarm_raised) {
      alarm_record a;
      a.id = e.alarm;
      a.rule = e.rule;
      a.kind = e.kind;
      a.level = e.level;
      a.value = e.value;
      a.text = e.text;
      a.raised_at = e.at;
      index[e.alarm] = out.size();
      out.push_back(std::move(a));
      continue;
    }
    const auto it = index.find(e.alarm);
    if (it == index.end()) continue;
    alarm_record& a = out[it->second];
    switch (e.type) {
      case event_type::alarm_escalated:
        if (e.tier > a.highest_tier) {
          a.highest_tier = e.tier;
          a.highest_responder = e.responder;
        }
        break;
      case event_type::alarm_acknowledged:
        if (!a.first_ack_at) {
          a.first_ack_at = e.at;
          a.first_ack_by = e.who;
        }
        ++a.acknowledgements;
        break;
      case event_type::alarm_resounded: ++a.resoundings; break;
      case event_type::alarm_cleared:
        a.cleared_at = e.at;
        a.cleared_why = e.text;
        break;
      default: break;
    }
  }
  return out;
}

std::vector<dose_record> doses(std::span<const engine::event> events) {
  std::vector<dose_record> out;
  for (const auto& e : events) {
    if (e.type == engine::event_type::dose_marked) out.push_back({e.at, e.text, e.who, e.until});
  }
  return out;
}

bool usable(const model::vital_sample& s) noexcept {
  return (s.quality & (model::quality::sensor_off | model::quality::artifact | model::quality::implausible |
                       model::quality::judged_artefact)) == 0;
}

std::span<const model::vital_sample> series(const session_record& r, model::vital_kind kind) {
  const auto by_kind = [](const model::vital_sample& s, model::vital_kind k) { return s.kind < k; };
  const auto first = std::lower_bound(r.vitals.begin(), r.vitals.end(), kind, by_kind);
  auto last = first;
  while (last != r.vitals.end() && last->kind == kind) ++last;
  return {first, last};
}

millis record_end(const session_record& r) {
  if (r.summary.closed_ms) return *r.summary.closed_ms;
  millis end = r.summary.opened_ms;
  for (const auto& e : r.events) end = std::max(end, e.at);
  for (const auto& s : r.vitals) end = std::max(end, s.time_ms);
  return end;
}

std::string_view event_title(engine::event_type type) noexcept {
  using engine::event_type;
  switch (type) {
    case event_type::session_opened: return "Session opened";
    case event_type::phase_changed: return "Phase changed";
    case event_type::baseline_set: return "Baseline set";
    case event_type::predose_override: return "Pre-dose check overridden";
    case event_type::dose_marked: return "Dose marked";
    case event_type::alarm_raised: return "Alarm raised";
    case event_type::alarm_escalated: return "Alarm escalated";
    case event_type::alarm_acknowledged: return "Alarm acknowledged";
    case event_type::alarm_resounded: return "Alarm re-sounded";
    case event_type::alarm_cleared: return "Alarm cleared";
    case event_type::audio_paused: return "Audio paused";
    case event_type::audio_resumed: return "Audio resumed";
    case event_type::session_closed: return "Session closed";
    case event_type::note_added: return "Note";
  }
  return "Event";
}

std::string event_detail(const engine::event& e, std::string_view alarm) {
  using engine::event_type;
  switch (e.type) {
    case event_type::phase_changed:
      return fmt::format("{} \u2192 {}{}{}", phase_title(engine::name(e.from)), phase_title(engine::name(e.to)),
                         e.text.empty() ? "" : ": ", clinical_text(e.text));
    case event_type::dose_marked:
      return e.until != 0 ? fmt::format("{}; observation until {} UTC", e.text, clock_utc(e.until)) : e.text;
    case event_type::alarm_raised:
      return fmt::format("{} {} ({} priority, {}): {}", alarm, rule_title(e.rule), engine::name(e.level), engine::name(e.kind),
                         alarm_display_text(e.rule, e.value, e.text));
    case event_type::alarm_escalated:
      return fmt::format("{} {}: tier {}, {}", alarm, rule_title(e.rule), e.tier, responder_title(e.responder));
    case event_type::alarm_acknowledged:
      return e.until != 0 ? fmt::format("{} {}: silenced until {} UTC", alarm, rule_title(e.rule), clock_utc(e.until))
                          : fmt::format("{} {}", alarm, rule_title(e.rule));
    case event_type::alarm_resounded:
      return fmt::format("{} {}: condition still present, sounding again", alarm, rule_title(e.rule));
    case event_type::alarm_cleared: return fmt::format("{} {}: {}", alarm, rule_title(e.rule), clinical_text(e.text));
    case event_type::baseline_set: return clinical_text(e.text);
    case event_type::audio_paused: return fmt::format("until {} UTC", clock_utc(e.until));
    default: return e.text;
  }
}

std::string date_time_utc(millis ms) {
  const std::tm tm = wire::utc_of(ms).fields;
  return fmt::format("{:04}-{:02}-{:02} {:02}:{:02}:{:02} UTC", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                     tm.tm_hour, tm.tm_min, tm.tm_sec);
}

std::string clock_utc(millis ms) {
  const std::tm tm = wire::utc_of(ms).fields;
  return fmt::format("{:02}:{:02}:{:02}", tm.tm_hour, tm.tm_min, tm.tm_sec);
}

std::string minutes_after(millis ms, millis from) {
  const millis diff = ms - from;
  const millis minutes = (diff >= 0 ? diff + 30'000 : diff - 30'000) / engine::minutes_ms;
  return fmt::format("{}{} min", minutes > 0 ? "+" : (minutes < 0 ? "-" : ""), minutes < 0 ? -minutes : minutes);
}

std::string duration_text(millis ms) {
  if (ms < 0) ms = 0;
  if (ms < engine::minutes_ms) return fmt::format("{} s", ms / 1000);
  const millis minutes = (ms + 30'000) / engine::minutes_ms;
  if (minutes < 60) return fmt::format("{} min", minutes);
  return fmt::format("{} h {:02} min", minutes / 60, minutes % 60);
}

std::string quality_names(std::uint32_t quality) {
  std::string out;
  const auto add = [&](std::uint32_t bit, std::string_view name) {
    if ((quality & bit) == 0) return;
    if (!out.empty()) out += '|';
    out += name;
  };
  add(model::quality::sensor_off, "sensor_off");
  add(model::quality::artifact, "artifact");
  add(model::quality::low_perfusion, "low_perfusion");
  add(model::quality::implausible, "implausible");
  // Set by vigild: judged an artefact in context, with the reason (alarms.md 3.6).
  if ((quality & model::quality::judged_artefact) != 0) {
    const auto reason = static_cast<engine::artefact_reason>((quality >> model::quality::reason_shift) & 0xffu);
    if (!out.empty()) out += '|';
    out += fmt::format("judged_artefact:{}", engine::name(reason));
  }
  const std::uint32_t unknown = quality & ~(model::quality::known | model::quality::judged_artefact | model::quality::reason_bits);
  if (unknown != 0) {
    if (!out.empty()) out += '|';
    out += fmt::format("0x{:x}", unknown);
  }
  return out;
}

}  // namespace vigil::report
