#include "daemon/engine/checkpoint.hpp"

#include "vigil/v1/checkpoint.pb.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <deque>

namespace vigil::engine::detail {
namespace {

// 2: one stream per source. Format 1 (one stream per chair) is still read, as one source.
constexpr std::uint32_t format_version = 2;
constexpr std::uint32_t single_stream_format = 1;

void put(v1::ConditionCheckpoint& out, const condition& c) {
  out.set_on(c.on);
  out.set_since_ms(c.since);
  out.set_value(c.value);
  out.set_seen(c.seen);
  out.set_seen_at_ms(c.seen_at);
  out.set_absent(c.absent);
  out.set_absent_at_ms(c.absent_at);
}

condition get(const v1::ConditionCheckpoint& in) {
  return {in.on(), in.since_ms(), in.value(), in.seen(), in.seen_at_ms(), in.absent(), in.absent_at_ms()};
}

void put(v1::AlarmCheckpoint& out, const alarm_rec& a) {
  out.set_id(a.id);
  out.set_rule(a.rule);
  out.set_kind(static_cast<std::uint32_t>(a.kind));
  out.set_priority(static_cast<std::uint32_t>(a.level));
  out.set_raised_at_ms(a.raised_at);
  out.set_latching(a.latching);
  out.set_condition(a.condition);
  out.set_acknowledged(a.acknowledged);
  out.set_acknowledged_by(a.acknowledged_by);
  out.set_silenced_until_ms(a.silenced_until);
  out.set_tier(a.tier);
  out.set_tier_base_ms(a.tier_base);
  out.set_value(a.value);
  out.set_text(a.text);
  out.set_paused_through(a.paused_through);
}

bool get(const v1::AlarmCheckpoint& in, alarm_rec& a) {
  if (in.kind() < 1 || in.kind() > 3 || in.priority() < 1 || in.priority() > 3) return false;
  a.id = in.id();
  a.rule = in.rule();
  a.kind = static_cast<alarm_kind>(in.kind());
  a.level = static_cast<priority>(in.priority());
  a.raised_at = in.raised_at_ms();
  a.latching = in.latching();
  a.condition = in.condition();
  a.acknowledged = in.acknowledged();
  a.acknowledged_by = in.acknowledged_by();
  a.silenced_until = in.silenced_until_ms();
  a.tier = in.tier();
  a.tier_base = in.tier_base_ms();
  a.value = in.value();
  a.text = in.text();
  a.paused_through = in.paused_through();
  return true;
}

v1::KindValue& put(google::protobuf::RepeatedPtrField<v1::KindValue>& out, std::size_t kind, millis at, double value) {
  auto& kv = *out.Add();
  kv.set_kind(static_cast<std::uint32_t>(kind));
  kv.set_at_ms(at);
  kv.set_value(value);
  return kv;
}

void put(v1::LimitCheckpoint& out, const std::string& rule, const limit_state& l) {
  out.set_rule(rule);
  put(*out.mutable_condition(), l.cond);
  out.set_readings(l.readings);
  out.set_last_beyond_ms(l.last_beyond);
  out.set_held(l.held);
  out.set_inside(l.inside);
  out.set_via_pulse(l.via_pulse);
}

/// Limit states follow their rule by id, so a profile edited between runs keeps what still applies.
std::vector<limit_state> get(const google::protobuf::RepeatedPtrField<v1::LimitCheckpoint>& in, const profile& prof) {
  std::vector<limit_state> out(prof.limits.size());
  for (const auto& l : in) {
    for (std::size_t i = 0; i < prof.limits.size(); ++i) {
      if (prof.limits[i].id != l.rule()) continue;
      out[i].cond = get(l.condition());
      out[i].readings = l.readings();
      out[i].last_beyond = l.last_beyond_ms();
      out[i].held = l.held();
      out[i].inside = l.inside();
      out[i].via_pulse = l.via_pulse();
    }
  }
  return out;
}

void put(v1::SourceCheckpoint& out, const source_state& src, const session_state* s) {
  out.set_id(src.id);
  out.set_heard_ms(src.heard);
  for (std::size_t k = 1; k < kind_slots; ++k) {
    if (src.last_time[k]) put(*out.mutable_last_time(), k, *src.last_time[k], 0);
    if (const auto& v = src.latest[k]) put(*out.mutable_latest(), k, v->at, v->value).set_heard_ms(v->heard);
    if (const auto& v = src.last_sent[k]) put(*out.mutable_last_sent(), k, 0, *v);
  }
  for (std::size_t k = 1; k < kind_slots; ++k) {
    if (src.cadence[k].count == 0) continue;
    auto& ki = *out.add_cadence();
    ki.set_kind(static_cast<std::uint32_t>(k));
    for (const auto interval : src.cadence[k].in_order()) ki.add_intervals_ms(interval);
  }
  for (std::size_t k = 1; k < kind_slots; ++k) {
    if (src.declared[k] == 0) continue;
    auto& ki = *out.add_declared();
    ki.set_kind(static_cast<std::uint32_t>(k));
    ki.add_intervals_ms(src.declared[k]);
  }
  out.set_session_kinds(src.session_kinds);
  if (s == nullptr) return;
  for (std::size_t i = 0; i < src.limits.size(); ++i) put(*out.add_limits(), s->prof->limits[i].id, src.limits[i]);
  for (const auto& off : src.sensor_off) put(*out.add_sensor_off(), off);
  for (const auto heard : src.sensor_heard) out.add_sensor_heard_ms(heard);
}

bool valid_kind(std::uint32_t kind) { return kind >= 1 && kind < kind_slots; }

using baseline_window = std::deque<std::pair<millis, double>>;

/// The smallest of 1, 10 and 100 by which every value of the window is exactly a whole number
/// (read back as that number divided by it), or 0 if none is.
std::uint32_t exact_scale(const baseline_window& w) {
  for (const std::uint32_t scale : {1u, 10u, 100u}) {
    const bool exact = std::all_of(w.begin(), w.end(), [&](const auto& e) {
      const double scaled = e.second * scale;
      return std::abs(scaled) < 1e15 && static_cast<double>(std::llround(scaled)) / scale == e.second;
    });
    if (exact) return scale;
  }
  return 0;
}

void put(v1::BaselineWindow& out, std::size_t kind, const baseline_window& w) {
  out.set_kind(static_cast<std::uint32_t>(kind));
  const auto scale = exact_scale(w);
  out.set_scale(scale);
  millis previous = 0;
  for (const auto& [at, value] : w) {
    out.add_time_deltas_ms(at - previous);
    previous = at;
    if (scale == 0) {
      out.add_values(value);
    } else {
      out.add_scaled_values(std::llround(value * scale));
    }
  }
}

std::string get(const v1::BaselineWindow& in, baseline_window& w) {
  const int n = in.time_deltas_ms_size();
  const bool scaled = in.scale() == 1 || in.scale() == 10 || in.scale() == 100;
  if ((!scaled && in.scale() != 0) || (scaled ? in.scaled_values_size() : in.values_size()) != n ||
      n > static_cast<int>(max_baseline_window)) {
    return fmt::format("the baseline window of kind {} is malformed", in.kind());
  }
  w.clear();
  millis at = 0;
  for (int i = 0; i < n; ++i) {
    at += in.time_deltas_ms(i);
    w.emplace_back(at, scaled ? static_cast<double>(in.scaled_values(i)) / in.scale() : in.values(i));
  }
  return {};
}

std::optional<millis> get(bool has, millis value) { return has ? std::optional<millis>(value) : std::nullopt; }

/// Reads one stream's ordering times and latest values; an error message, or empty. Format 1
/// kept no arrival time: a latest value counts as heard at its own time.
std::string get(const google::protobuf::RepeatedPtrField<v1::KindValue>& last_time,
                const google::protobuf::RepeatedPtrField<v1::KindValue>& latest, bool has_heard, source_state& src) {
  for (const auto& kv : last_time) {
    if (!valid_kind(kv.kind())) return fmt::format("unknown vital kind {}", kv.kind());
    src.last_time[kv.kind()] = kv.at_ms();
  }
  for (const auto& kv : latest) {
    if (!valid_kind(kv.kind())) return fmt::format("unknown vital kind {}", kv.kind());
    src.latest[kv.kind()] = latest_value{kv.at_ms(), kv.value(), has_heard ? kv.heard_ms() : kv.at_ms()};
  }
  return {};
}

void get(const google::protobuf::RepeatedPtrField<v1::ConditionCheckpoint>& in,
         std::array<condition, sensor_count>& out) {
  for (int k = 0; k < in.size() && k < static_cast<int>(sensor_count); ++k) {
    out[static_cast<std::size_t>(k)] = get(in[k]);
  }
}

}  // namespace

std::string encode(const chair_state& c, std::uint64_t next_session, std::uint64_t next_alarm) {
  v1::ChairCheckpoint out;
  out.set_format(format_version);
  out.set_chair_id(c.id);
  out.set_now_ms(c.now);
  for (const auto& src : c.sources) put(*out.add_sources(), src, c.s ? &*c.s : nullptr);
  out.set_link(!c.connected ? v1::LINK_STATE_UNKNOWN : *c.connected ? v1::LINK_STATE_UP : v1::LINK_STATE_DOWN);
  if (c.no_session) put(*out.mutable_no_session(), *c.no_session);
  out.set_next_session(next_session);
  out.set_next_alarm(next_alarm);
  if (c.s) {
    const auto& s = *c.s;
    auto& o = *out.mutable_session();
    o.set_id(s.id);
    o.set_patient_ref(s.patient_ref);
    o.set_profile(s.prof->id);
    o.set_phase(static_cast<std::uint32_t>(s.current));
    o.set_opened_ms(s.opened_at);
    if (s.first_dose_at) o.set_first_dose_ms(*s.first_dose_at);
    if (s.dose_at) o.set_dose_ms(*s.dose_at);
    for (std::size_t k = 1; k < kind_slots; ++k) {
      if (s.baseline[k]) put(*o.mutable_baseline(), k, 0, *s.baseline[k]);
      if (!s.baseline_samples[k].empty()) put(*o.add_baseline_windows(), k, s.baseline_samples[k]);
    }
    o.set_baseline_text(s.baseline_text);
    o.set_predose_reading(s.predose_reading);
    o.set_predose_overridden(s.predose_overridden);
    put(*o.mutable_news2_medium(), s.news2_medium);
    put(*o.mutable_news2_high(), s.news2_high);
    if (s.news2_until) o.set_news2_until_ms(*s.news2_until);
    o.set_heart_seen_ms(s.watch[heart_group].seen);
    o.set_heart_limit_ms(s.watch[heart_group].limit);
    o.set_spo2_seen_ms(s.watch[spo2_group].seen);
    o.set_spo2_limit_ms(s.watch[spo2_group].limit);
    if (s.watch[breath_group].armed) o.set_breath_seen_ms(s.watch[breath_group].seen);
    o.set_breath_limit_ms(s.watch[breath_group].limit);
    if (s.watch[ecg_group].armed) o.set_ecg_seen_ms(s.watch[ecg_group].seen);
    o.set_ecg_limit_ms(s.watch[ecg_group].limit);
    if (s.last_cuff) o.set_last_cuff_ms(*s.last_cuff);
    o.set_post_dose_check_done(s.post_dose_check_done);
    if (s.disconnected_since) o.set_disconnected_since_ms(*s.disconnected_since);
    o.set_paused_until_ms(s.paused_until);
    if (s.ready_ok_since) o.set_ready_ok_since_ms(*s.ready_ok_since);
    for (const auto& a : s.alarms) put(*o.add_alarms(), a);
  }
  return out.SerializeAsString();
}

std::string decode(std::string_view data, const std::vector<profile>& profiles, std::string_view fallback_profile,
                   decoded& out) {
  v1::ChairCheckpoint in;
  if (!in.ParseFromArray(data.data(), static_cast<int>(data.size()))) return "the checkpoint does not parse";
  const bool single_stream = in.format() == single_stream_format;
  if (in.format() != format_version && !single_stream) {
    return fmt::format("checkpoint format {} is not one this vigild reads ({} or {})", in.format(),
                       single_stream_format, format_version);
  }
  if (in.chair_id().empty()) return "the checkpoint names no chair";
  auto& c = out.chair;
  c = chair_state{};
  c.id = in.chair_id();
  c.now = in.now_ms();
  if (single_stream) {
    // The chair's one stream becomes a source of unknown id, which the next new source takes over.
    auto& src = c.sources.emplace_back();
    src.heard = c.now;
    if (auto error = get(in.last_time(), in.latest(), false, src); !error.empty()) return error;
  } else {
    if (in.sources_size() > static_cast<int>(max_sources)) {
      return fmt::format("the checkpoint holds {} sources; a chair keeps at most {}", in.sources_size(), max_sources);
    }
    for (const auto& from : in.sources()) {
      auto& src = c.sources.emplace_back();
      src.id = from.id();
      src.heard = from.heard_ms();
      if (auto error = get(from.last_time(), from.latest(), true, src); !error.empty()) return error;
      for (const auto& kv : from.last_sent()) {
        if (!valid_kind(kv.kind())) return fmt::format("unknown vital kind {}", kv.kind());
        src.last_sent[kv.kind()] = kv.value();
      }
      for (const auto& ki : from.cadence()) {
        if (!valid_kind(ki.kind())) return fmt::format("unknown vital kind {}", ki.kind());
        // The newest five, oldest first, so that the ring holds them as before.
        const int first = std::max(0, ki.intervals_ms_size() - static_cast<int>(cadence_record::kept));
        for (int i = first; i < ki.intervals_ms_size(); ++i) {
          if (ki.intervals_ms(i) <= 0) return fmt::format("a cadence interval of kind {} is not positive", ki.kind());
          src.cadence[ki.kind()].add(ki.intervals_ms(i));
        }
      }
      for (const auto& ki : from.declared()) {
        if (!valid_kind(ki.kind())) return fmt::format("unknown vital kind {}", ki.kind());
        if (ki.intervals_ms_size() != 1 || ki.intervals_ms(0) <= 0) {
          return fmt::format("the declared cadence of kind {} is not one positive interval", ki.kind());
        }
        src.declared[ki.kind()] = ki.intervals_ms(0);
      }
      src.session_kinds = from.session_kinds();
    }
  }
  if (in.link() == v1::LINK_STATE_UP) c.connected = true;
  if (in.link() == v1::LINK_STATE_DOWN) c.connected = false;
  if (in.has_no_session()) {
    alarm_rec a;
    if (!get(in.no_session(), a)) return "the no-session advisory is malformed";
    c.no_session = std::move(a);
  }
  out.next_session = in.next_session();
  out.next_alarm = in.next_alarm();
  out.warning.clear();
  if (!in.has_session()) return {};

  const auto& o = in.session();
  auto find = [&](std::string_view id) -> const profile* {
    auto it = std::find_if(profiles.begin(), profiles.end(), [&](const profile& p) { return p.id == id; });
    return it == profiles.end() ? nullptr : &*it;
  };
  const profile* prof = find(o.profile());
  if (prof == nullptr) {
    prof = find(fallback_profile);
    if (prof == nullptr) prof = &profiles.front();
    out.warning = fmt::format("session {} used profile '{}', which is no longer configured; it goes on with '{}'",
                              o.id(), o.profile(), prof->id);
  }
  if (o.phase() < static_cast<std::uint32_t>(phase::baseline) || o.phase() > static_cast<std::uint32_t>(phase::ready)) {
    return fmt::format("session {} is in phase {}, not an open one", o.id(), o.phase());
  }
  session_state s;
  s.id = o.id();
  s.patient_ref = o.patient_ref();
  s.prof = prof;
  s.current = static_cast<phase>(o.phase());
  s.opened_at = o.opened_ms();
  s.first_dose_at = get(o.has_first_dose_ms(), o.first_dose_ms());
  s.dose_at = get(o.has_dose_ms(), o.dose_ms());
  if (s.current != phase::baseline && (!s.dose_at || !s.first_dose_at)) {
    return fmt::format("session {} is past its dose but records none", o.id());
  }
  for (const auto& kv : o.baseline()) {
    if (!valid_kind(kv.kind())) return fmt::format("unknown vital kind {}", kv.kind());
    s.baseline[kv.kind()] = kv.value();
  }
  for (const auto& kv : o.baseline_samples()) {
    if (!valid_kind(kv.kind())) return fmt::format("unknown vital kind {}", kv.kind());
    s.baseline_samples[kv.kind()].emplace_back(kv.at_ms(), kv.value());
  }
  for (const auto& w : o.baseline_windows()) {
    if (!valid_kind(w.kind())) return fmt::format("unknown vital kind {}", w.kind());
    if (auto error = get(w, s.baseline_samples[w.kind()]); !error.empty()) return error;
  }
  s.baseline_text = o.baseline_text();
  s.predose_reading = o.predose_reading();
  s.predose_overridden = o.predose_overridden();
  s.news2_medium = get(o.news2_medium());
  s.news2_high = get(o.news2_high());
  s.news2_until = get(o.has_news2_until_ms(), o.news2_until_ms());
  // Checkpoints written before cadences hold no limits: the profile's stale_after stands in.
  auto limit = [&](millis ms) { return ms > 0 ? ms : prof->technical.stale_after_ms; };
  s.watch[heart_group] = {o.heart_seen_ms(), limit(o.heart_limit_ms()), true};
  s.watch[spo2_group] = {o.spo2_seen_ms(), limit(o.spo2_limit_ms()), true};
  s.watch[breath_group] = {o.breath_seen_ms(), limit(o.breath_limit_ms()), o.has_breath_seen_ms()};
  s.watch[ecg_group] = {o.ecg_seen_ms(), limit(o.ecg_limit_ms()), o.has_ecg_seen_ms()};
  s.last_cuff = get(o.has_last_cuff_ms(), o.last_cuff_ms());
  s.post_dose_check_done = o.post_dose_check_done();
  s.disconnected_since = get(o.has_disconnected_since_ms(), o.disconnected_since_ms());
  s.paused_until = o.paused_until_ms();
  s.ready_ok_since = get(o.has_ready_ok_since_ms(), o.ready_ok_since_ms());
  for (const auto& in_alarm : o.alarms()) {
    alarm_rec a;
    if (!get(in_alarm, a)) return fmt::format("alarm {} of session {} is malformed", in_alarm.id(), o.id());
    s.alarms.push_back(std::move(a));
  }
  if (single_stream) {
    auto& src = c.sources.front();
    src.limits = get(o.limits(), *prof);
    get(o.sensor_off(), src.sensor_off);
    src.sensor_heard.fill(c.now);
    // Format 1 did not say whether the stream still held a condition: it did while the
    // condition was on, or while the rule's alarm stood with its condition present.
    for (std::size_t i = 0; i < prof->limits.size(); ++i) {
      auto it = std::find_if(s.alarms.begin(), s.alarms.end(),
                             [&](const alarm_rec& a) { return a.rule == prof->limits[i].id; });
      src.limits[i].held = src.limits[i].cond.on || (it != s.alarms.end() && it->condition);
    }
  } else {
    for (int i = 0; i < in.sources_size(); ++i) {
      const auto& from = in.sources(i);
      auto& src = c.sources[static_cast<std::size_t>(i)];
      src.limits = get(from.limits(), *prof);
      get(from.sensor_off(), src.sensor_off);
      for (int k = 0; k < from.sensor_heard_ms_size() && k < static_cast<int>(sensor_count); ++k) {
        src.sensor_heard[static_cast<std::size_t>(k)] = from.sensor_heard_ms(k);
      }
    }
  }
  c.s = std::move(s);
  return {};
}

}  // namespace vigil::engine::detail
