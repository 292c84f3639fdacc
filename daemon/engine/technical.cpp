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

namespace technical {
namespace {

namespace quality = model::quality;

constexpr std::string_view sensor_rule[sensor_count] = {"sensor_off_ecg", "sensor_off_oximeter", "sensor_off_cuff",
                                                        "sensor_off_respiration"};
constexpr std::string_view stale_heart_rule = "stale_heart_rate";
constexpr std::string_view stale_spo2_rule = "stale_spo2";
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

/// A stream is alive while it delivers usable values or says its sensor is off.
void note_stream(core& e, chair_state& c, vital_kind kind, millis at) {
  auto& s = *c.s;
  if (kind == vital_kind::heart_rate || kind == vital_kind::pulse_rate) {
    if (at < s.heart_seen) return;
    s.heart_seen = at;
    if (auto* a = core::find_alarm(s, stale_heart_rule)) e.clear(c, a->id, "heart rate back");
  } else if (kind == vital_kind::spo2) {
    if (at < s.spo2_seen) return;
    s.spo2_seen = at;
    if (auto* a = core::find_alarm(s, stale_spo2_rule)) e.clear(c, a->id, "SpO2 back");
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
  if (!core::find_alarm(s, stale_heart_rule)) consider(s.heart_seen + t.stale_after_ms);
  if (!core::find_alarm(s, stale_spo2_rule)) consider(s.spo2_seen + t.stale_after_ms);
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
  if (!core::find_alarm(s, stale_heart_rule) && s.heart_seen + t.stale_after_ms <= now) {
    e.raise(c, std::string(stale_heart_rule), alarm_kind::technical, t.stale_level, 0,
            fmt::format("no heart rate for {} s", t.stale_after_ms / seconds_ms));
  }
  if (!core::find_alarm(s, stale_spo2_rule) && s.spo2_seen + t.stale_after_ms <= now) {
    e.raise(c, std::string(stale_spo2_rule), alarm_kind::technical, t.stale_level, 0,
            fmt::format("no SpO2 for {} s", t.stale_after_ms / seconds_ms));
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
  // Artefacts alone do not keep a stream alive; a sensor that says it is off does (it has its own alarm).
  if (usable || (sample.quality & quality::sensor_off) != 0) note_stream(e, c, sample.kind, sample.time_ms);
  note_sensor(e, c, src, sample);
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
