#pragma once

// The engine's state of one chair, shared by the engine and its checkpoints. Internal to
// vigil_engine: nothing outside daemon/engine includes this.

#include "daemon/engine/engine.hpp"

#include <array>
#include <deque>
#include <limits>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace vigil::engine::detail {

constexpr millis never = std::numeric_limits<millis>::max();
constexpr std::size_t kind_slots = model::vital_kind_count + 1;  // indexed by wire number
/// Readings a kind's baseline window holds at most, whatever a monitor sends: ample for 1 Hz
/// over a 60-minute window.
constexpr std::size_t max_baseline_window = 4096;

// Sensor-off alarms are raised per sensor: ECG, oximeter, cuff, respiration.
enum sensor : std::size_t { ecg, oximeter, cuff, respiration, sensor_count };

struct alarm_rec {
  std::uint64_t id = 0;
  std::string rule;
  alarm_kind kind = alarm_kind::physiological;
  priority level = priority::low;
  millis raised_at = 0;
  bool latching = false;
  bool condition = true;
  bool acknowledged = false;
  std::string acknowledged_by;
  millis silenced_until = 0;
  int tier = -1;
  millis tier_base = 0;
  double value = 0;
  std::string text;
  bool paused_through = false;  // high priority, silent through one whole audio pause already
};

/// A condition that must hold for a delay before it becomes an alarm.
struct condition {
  bool on = false;
  millis since = 0;
  double value = 0;
  // NEWS2 (alarms.md 6): scorings at distinct times that found the condition since it started,
  // and, since it was last found, scorings at distinct times that did not; with the time of the
  // last of each.
  int seen = 0;
  millis seen_at = 0;
  int absent = 0;
  millis absent_at = 0;
};

/// One source's state of one limit rule.
struct limit_state {
  condition cond;
  int readings = 0;        // consecutive readings beyond the limit (cuff: each within confirm_within)
  millis last_beyond = 0;
  int inside = 0;          // consecutive readings back inside the hysteresis
  bool via_pulse = false;  // a heart-rate rule read from the oximeter's pulse rate (alarms.md 5.8)
  bool held = false;       // beyond at some evaluation and not back inside the hysteresis since
};

// Stale-stream alarms watch three groups of kinds: heart (heart_rate, pulse_rate), SpO2 and
// respiratory rate.
// heart: heart_rate or pulse_rate from any source; ecg: heart_rate alone (alarms.md 7.1).
enum stream_group : std::size_t { heart_group, spo2_group, breath_group, ecg_group, stream_group_count };

/// One group's stale-stream timer: due at seen + limit while armed.
struct stream_watch {
  millis seen = 0;     // the last alive sample's own time, or the open time
  millis limit = 0;    // the freshness limit of the stream heard last (alarms.md 3.5)
  bool armed = false;  // heart and SpO2 from the open; respiratory rate from its first sample
};

/// The last intervals between one source's samples of one kind, for its cadence (alarms.md 3.5).
struct cadence_record {
  static constexpr std::size_t kept = 5;
  std::array<millis, kept> intervals{};  // a ring; `next` is where the next interval goes
  std::uint8_t count = 0;
  std::uint8_t next = 0;
  millis median = 0;  // the upper median of the kept intervals; 0 while none is kept
  void add(millis interval) {
    intervals[next] = interval;
    next = static_cast<std::uint8_t>((next + 1) % kept);
    if (count < kept) ++count;
    // At most five: an insertion sort, once per sample rather than at every look.
    std::array<millis, kept> sorted{};
    for (std::size_t i = 0; i < count; ++i) {
      std::size_t j = i;
      for (; j > 0 && sorted[j - 1] > intervals[i]; --j) sorted[j] = sorted[j - 1];
      sorted[j] = intervals[i];
    }
    median = sorted[count / 2];
  }
  /// The kept intervals, oldest first.
  std::vector<millis> in_order() const {
    std::vector<millis> out;
    for (std::size_t i = 0; i < count; ++i) out.push_back(intervals[(next + kept - count + i) % kept]);
    return out;
  }
};

struct session_state {
  std::uint64_t id = 0;
  std::string patient_ref;
  const profile* prof = nullptr;
  phase current = phase::baseline;
  millis opened_at = 0;
  std::optional<millis> first_dose_at;
  std::optional<millis> dose_at;  // latest dose: the observation window counts from it
  std::array<std::optional<double>, kind_slots> baseline{};
  std::string baseline_text;  // the baseline with its quality per kind (alarms.md 4.3); empty before the first dose
  // The readings that count for a baseline, per kind, kept in every open phase: a re-take after
  // the dose recomputes the baseline from the window before it.
  std::array<std::deque<std::pair<millis, double>>, kind_slots> baseline_samples{};  // at most max_baseline_window each
  bool predose_reading = false;
  bool predose_overridden = false;
  condition news2_medium;
  condition news2_high;
  std::optional<millis> news2_until;  // when the first value NEWS2 was last scored with stops being current
  std::array<stream_watch, stream_group_count> watch{};  // the stale-stream timers (alarms.md 7.1)
  std::optional<millis> last_cuff;
  bool post_dose_check_done = false;
  std::optional<millis> disconnected_since;
  millis paused_until = 0;
  std::optional<millis> ready_ok_since;
  std::vector<alarm_rec> alarms;  // raised and not yet cleared
};

struct latest_value {
  millis at = 0;      // the sample's own time
  double value = 0;
  millis heard = 0;   // the chair's clock when it was applied: comparable whatever the source's clock
};

/// A chair keeps at most this many sources; a new one takes the slot of the least recently heard.
constexpr std::size_t max_sources = 8;

/// What the chair knows of one source (the device that sent its samples), and the source's part
/// of the open session's rules: sources never mask each other's conditions.
struct source_state {
  std::string id;     // empty: unknown (a checkpoint written before sources); the next new source takes it
  millis heard = 0;   // the chair's clock at its latest accepted sample, to choose a slot to reuse
  std::array<std::optional<millis>, kind_slots> last_time{};      // any sample, for ordering
  std::array<std::optional<latest_value>, kind_slots> latest{};   // usable samples only
  // The value of its latest sample of each kind its device sent as usable, judged or not
  // (alarms.md 3.6: a step confirmed by the next reading is real).
  std::array<std::optional<double>, kind_slots> last_sent{};
  // With a session open: one state per profile limit rule, and its sensors' off-conditions with
  // the chair's clock at its latest sample of each sensor. Reset when a session opens.
  std::vector<limit_state> limits;
  std::array<condition, sensor_count> sensor_off{};
  std::array<millis, sensor_count> sensor_heard{};
  // How often it sends each kind, learned from every sample, with or without a session, and as
  // its device declared it (0: not declared).
  std::array<cadence_record, kind_slots> cadence{};
  std::array<millis, kind_slots> declared{};
  // Kinds (bit = wire number) it has sent while the open session was open; reset when one opens.
  std::uint32_t session_kinds = 0;
};

struct chair_state {
  std::string id;
  millis now = std::numeric_limits<millis>::min();
  std::vector<source_state> sources;  // at most max_sources, in the order they first came
  std::optional<bool> connected;  // unknown until the ingest side reports the chair's link
  std::optional<session_state> s;
  std::optional<alarm_rec> no_session;  // advisory while streaming without a session
  millis next_due = never;
  bool changed = false;  // since the last take_changed()
};

}  // namespace vigil::engine::detail
