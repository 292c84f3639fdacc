// Technical rules (docs/alarms.md section 7): stale streams, sensors off, the cuff schedule, the
// monitor's link and the timeline's storage.

#include "daemon/engine/core.hpp"

#include <algorithm>
#include <optional>

#include <fmt/format.h>

namespace vigil::engine::detail {

sensor sensor_of(vital_kind k) {
  switch (k) {
    case vital_kind::heart_rate: return ecg;
    case vital_kind::pulse_rate:
    case vital_kind::spo2: return oximeter;
    case vital_kind::nibp_systolic:
    case vital_kind::nibp_diastolic:
    case vital_kind::nibp_mean: return cuff;
    case vital_kind::respiratory_rate: return respiration;
  }
  return ecg;
}

std::optional<millis> cadence_of(const source_state& src, vital_kind kind) {
  // What arrives decides; a declaration stands in until the second sample shows it.
  const auto& rec = src.cadence[slot(kind)];
  if (rec.count > 0) return rec.median;
  if (const millis d = src.declared[slot(kind)]; d > 0) return d;
  return std::nullopt;
}

millis freshness(const technical_rules& t, const source_state& src, vital_kind kind) {
  const millis every = cadence_of(src, kind).value_or(t.max_interval_ms);
  return std::max(t.stale_after_ms, t.stale_intervals * every);
}

millis evidence_limit(const technical_rules& t, const source_state& src, vital_kind kind) {
  return is_cuff(kind) ? horizon(t, kind) : freshness(t, src, kind);
}

bool current(const chair_state& c, const source_state& src, vital_kind kind) {
  const auto& v = src.latest[slot(kind)];
  return v && v->heard + evidence_limit(c.s->prof->technical, src, kind) > c.now;
}

bool undisputed(const chair_state& c, const source_state& src, vital_kind kind) {
  const auto& v = src.latest[slot(kind)];
  const auto& last = src.last_time[slot(kind)];
  return current(c, src, kind) && last && *last == v->at;
}

bool ecg_rate_current(const chair_state& c) {
  return std::any_of(c.sources.begin(), c.sources.end(),
                     [&](const source_state& src) { return undisputed(c, src, vital_kind::heart_rate); });
}

namespace technical {
namespace {

namespace quality = model::quality;

constexpr std::string_view sensor_rule[sensor_count] = {"sensor_off_ecg", "sensor_off_oximeter", "sensor_off_cuff",
                                                        "sensor_off_respiration"};
constexpr std::string_view stale_rule[stream_group_count] = {"stale_heart_rate", "stale_spo2",
                                                               "stale_respiratory_rate", "stale_ecg"};
constexpr std::string_view stale_what[stream_group_count] = {"heart rate", "SpO2", "respiratory rate",
                                                               "ECG heart rate"};
constexpr std::string_view slow_rule = "stream_too_slow";
constexpr std::string_view cuff_rule = "cuff_overdue";
constexpr std::string_view link_rule = "device_disconnected";

/// When the next cuff reading becomes overdue, during observation.
std::optional<millis> cuff_overdue_at(const session_state& s) {
  if (!s.dose_at || (s.current != phase::observation && s.current != phase::ready)) return std::nullopt;
  const auto& t = s.prof->technical;
  const millis since = s.last_cuff && *s.last_cuff >= *s.first_dose_at ? *s.last_cuff : *s.first_dose_at;
  millis due = since + t.cuff_interval_ms;
  if (!s.post_dose_check_done) due = std::min(due, *s.first_dose_at + t.post_dose_check_ms);
  return due + t.cuff_grace_ms;
}

bool post_dose_check_overdue(const session_state& s) {
  const auto& t = s.prof->technical;
  return !s.post_dose_check_done && s.first_dose_at &&
         *s.first_dose_at + t.post_dose_check_ms + t.cuff_grace_ms <= *cuff_overdue_at(s);
}

std::optional<stream_group> group_of(vital_kind kind) {
  switch (kind) {
    case vital_kind::heart_rate:
    case vital_kind::pulse_rate: return heart_group;
    case vital_kind::spo2: return spo2_group;
    case vital_kind::respiratory_rate: return breath_group;
    default: return std::nullopt;
  }
}

/// A stream is alive while it delivers usable values or says its sensor is off.
void note_stream(core& e, chair_state& c, const source_state& src, vital_kind kind, millis at) {
  auto& s = *c.s;
  const auto keep_alive = [&](stream_group g) {
    auto& w = s.watch[g];
    if (w.armed && at < w.seen) return;
    w.armed = true;
    w.seen = at;
    w.limit = freshness(s.prof->technical, src, kind);
    if (auto* a = core::find_alarm(s, stale_rule[g])) e.clear(c, a->id, fmt::format("{} back", stale_what[g]));
  };
  const auto group = group_of(kind);
  if (!group) return;
  keep_alive(*group);
  if (kind == vital_kind::heart_rate) keep_alive(ecg_group);
}

/// The ECG's own stale alarm says that the ECG stopped while the heart rate still comes from
/// another stream; with no heart rate at all, stale_heart_rate says it.
bool ecg_watched(const session_state& s) { return core::find_alarm(s, stale_rule[heart_group]) == nullptr; }

/// The first stream of the session slower than the profile supervises, in source and kind order.
std::optional<std::pair<const source_state*, vital_kind>> slow_stream(const chair_state& c) {
  const millis max = c.s->prof->technical.max_interval_ms;
  for (const auto& src : c.sources) {
    for (std::size_t k = 1; k < kind_slots; ++k) {
      const auto kind = static_cast<vital_kind>(k);
      if (is_cuff(kind) || (src.session_kinds & (1u << k)) == 0) continue;
      if (auto e = cadence_of(src, kind); e && *e > max) return std::pair{&src, kind};
    }
  }
  return std::nullopt;
}

/// Raises stream_too_slow while some stream of the session is slower than the profile supervises.
void review_cadence(core& e, chair_state& c) {
  auto& s = *c.s;
  const auto slow = slow_stream(c);
  auto* a = core::find_alarm(s, slow_rule);
  if (slow && a == nullptr) {
    const millis every = *cadence_of(*slow->first, slow->second);
    e.raise(c, std::string(slow_rule), alarm_kind::technical, s.prof->technical.slow_level,
            static_cast<double>(every) / seconds_ms,
            fmt::format("{} arrives every {:g} s, slower than the {:g} s this profile supervises",
                        model::name(slow->second), static_cast<double>(every) / seconds_ms,
                        static_cast<double>(s.prof->technical.max_interval_ms) / seconds_ms));
  } else if (!slow && a != nullptr) {
    e.clear(c, a->id, "every stream within the profile's cadence");
  }
}

void note_sensor(core& e, chair_state& c, source_state& src, const model::vital_sample& sample) {
  auto& s = *c.s;
  const auto& t = s.prof->technical;
  const auto which = sensor_of(sample.kind);
  const bool off = (sample.quality & quality::sensor_off) != 0;
  update_condition(c, src.sensor_off[which], off, 0, t.sensor_off_delay_ms);
  src.sensor_heard[which] = c.now;
  // Back on only when no source says its sensor is off; a source silent on the sensor for
  // its horizon no longer says so.
  bool any_off = false;
  for (auto& other : c.sources) {
    auto& cond = other.sensor_off[which];
    if (&other != &src && cond.on && other.sensor_heard[which] + horizon(t, which) <= c.now) cond.on = false;
    any_off = any_off || cond.on;
  }
  if (!any_off) {
    if (auto* a = core::find_alarm(s, sensor_rule[which])) e.clear(c, a->id, "sensor back on");
  }
}

}  // namespace

millis due(core&, chair_state& c) {
  const auto& s = *c.s;
  const auto& t = s.prof->technical;
  millis due = never;
  auto consider = [&](millis at) { due = std::min(due, at); };
  for (const auto& src : c.sources) {
    for (std::size_t k = 0; k < sensor_count; ++k) {
      const auto& off = src.sensor_off[k];
      if (off.on && !core::find_alarm(s, sensor_rule[k])) consider(off.since + t.sensor_off_delay_ms);
    }
  }
  for (std::size_t g = 0; g < stream_group_count; ++g) {
    const auto& w = s.watch[g];
    if (g == ecg_group && !ecg_watched(s)) continue;
    if (w.armed && !core::find_alarm(s, stale_rule[g])) consider(w.seen + w.limit);
  }
  if (auto cuff_due = cuff_overdue_at(s); cuff_due && !core::find_alarm(s, cuff_rule)) consider(*cuff_due);
  if (s.disconnected_since && !core::find_alarm(s, link_rule)) consider(*s.disconnected_since + t.disconnected_after_ms);
  return due;
}

void fire(core& e, chair_state& c) {
  auto& s = *c.s;
  const auto& t = s.prof->technical;
  const millis now = c.now;
  for (std::size_t k = 0; k < sensor_count; ++k) {
    if (core::find_alarm(s, sensor_rule[k])) continue;
    const bool due = std::any_of(c.sources.begin(), c.sources.end(), [&](const source_state& src) {
      return src.sensor_off[k].on && src.sensor_off[k].since + t.sensor_off_delay_ms <= now;
    });
    if (due) {
      e.raise(c, std::string(sensor_rule[k]), alarm_kind::technical, t.sensor_off_level, 0,
              "sensor reports it is off the patient");
    }
  }
  for (std::size_t g = 0; g < stream_group_count; ++g) {
    const auto& w = s.watch[g];
    if (g == ecg_group && !ecg_watched(s)) continue;
    if (w.armed && !core::find_alarm(s, stale_rule[g]) && w.seen + w.limit <= now) {
      e.raise(c, std::string(stale_rule[g]), alarm_kind::technical, t.stale_level, 0,
              fmt::format("no {} for {:g} s", stale_what[g], static_cast<double>(w.limit) / seconds_ms));
      if (g == heart_group) {
        if (auto* a = core::find_alarm(s, stale_rule[ecg_group])) e.clear(c, a->id, "no heart rate from any source");
      }
    }
  }
  if (auto due = cuff_overdue_at(s); due && *due <= now && !core::find_alarm(s, cuff_rule)) {
    e.raise(c, std::string(cuff_rule), alarm_kind::technical, t.cuff_level, 0,
            post_dose_check_overdue(s) ? "post-dose cuff reading overdue" : "cuff reading overdue");
  }
  if (s.disconnected_since && !core::find_alarm(s, link_rule) && *s.disconnected_since + t.disconnected_after_ms <= now) {
    e.raise(c, std::string(link_rule), alarm_kind::technical, t.disconnected_level, 0, "monitor disconnected");
  }
}

void note_sample(core& e, chair_state& c, source_state& src, const model::vital_sample& sample, bool usable) {
  src.session_kinds |= 1u << slot(sample.kind);
  // Artefacts alone do not keep a stream alive; a sensor that says it is off does (it has its own alarm).
  if (usable || (sample.quality & quality::sensor_off) != 0) note_stream(e, c, src, sample.kind, sample.time_ms);
  // Only this stream's cadence moved: with no stream_too_slow active and this one not slow,
  // none is (the review would change nothing).
  if (!is_cuff(sample.kind)) {
    const auto every = cadence_of(src, sample.kind);
    if ((every && *every > c.s->prof->technical.max_interval_ms) || core::find_alarm(*c.s, slow_rule)) {
      review_cadence(e, c);
    }
  }
  note_sensor(e, c, src, sample);
}

void open_session(chair_state& c) {
  auto& s = *c.s;
  const auto& t = s.prof->technical;
  for (auto& src : c.sources) src.session_kinds = 0;
  // Heart rate and SpO2 are expected from the open, respiratory rate once it has been heard. The
  // first limit is that of the slowest stream of the group the chair's sources are known to send.
  for (std::size_t g = 0; g < stream_group_count; ++g) {
    auto& w = s.watch[g];
    w.seen = c.now;
    w.armed = g != breath_group && g != ecg_group;
    w.limit = t.stale_after_ms;
    for (const auto& src : c.sources) {
      for (std::size_t k = 1; k < kind_slots; ++k) {
        const auto kind = static_cast<vital_kind>(k);
        if (group_of(kind) == static_cast<stream_group>(g) && cadence_of(src, kind)) w.limit = std::max(w.limit, freshness(t, src, kind));
      }
    }
  }
}

void note_cuff(core& e, chair_state& c, vital_kind kind) {
  auto& s = *c.s;
  if (kind != vital_kind::nibp_systolic) return;
  s.last_cuff = c.now;
  const auto& t = s.prof->technical;
  if (s.first_dose_at && !s.post_dose_check_done && c.now >= *s.first_dose_at + t.post_dose_check_ms - t.cuff_grace_ms) {
    s.post_dose_check_done = true;
  }
  if (auto* a = core::find_alarm(s, cuff_rule)) e.clear(c, a->id, "cuff reading taken");
}

void note_link(core& e, chair_state& c, bool connected) {
  auto& s = *c.s;
  if (connected) {
    s.disconnected_since.reset();
    if (auto* a = core::find_alarm(s, link_rule)) e.clear(c, a->id, "monitor reconnected");
  } else if (!s.disconnected_since) {
    s.disconnected_since = c.now;
    core::schedule(c, c.now + s.prof->technical.disconnected_after_ms);
  }
}

void note_storage(core& e, chair_state& c) {
  if (!c.s) return;
  auto* a = core::find_alarm(*c.s, storage_rule);
  if (!e.storage_saved && a == nullptr) {
    e.raise(c, std::string(storage_rule), alarm_kind::technical, priority::medium, 0,
            "the session timeline is not being saved (disk full or failing); alarms still work");
  } else if (e.storage_saved && a != nullptr) {
    e.clear(c, a->id, "the timeline is being saved again");
  }
}
}  // namespace technical
}  // namespace vigil::engine::detail
