#pragma once

// The labelled alarm-quality corpus (issue 13): seeded sessions of realistic vital signs at
// 1 Hz and at one reading per minute, with true events and artefacts inserted at known times
// and labelled with the alarm each must (or must not) bring. Built by a fixed-seed generator,
// so every run of the test and of bench/alarm_quality sees the same samples.
// docs/alarm-quality.md describes the corpus, its counts, seeds and bounds.

#include "daemon/engine/engine.hpp"
#include "daemon/engine/profile.hpp"
#include "daemon/model/vitals.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace vigil::corpus {

using engine::millis;

enum class cadence : std::uint8_t { per_second = 1, per_minute = 2 };
/// How often the monitor sends each numeric: 1 s or 60 s.
millis interval(cadence c) noexcept;
/// "1 Hz" or "1/min".
std::string_view name(cadence c) noexcept;
/// "1hz" or "per_minute", for test names.
std::string_view slug(cadence c) noexcept;

/// What a session holds.
enum class group : std::uint8_t { events = 1, artefacts = 2, uneventful = 3 };
std::string_view name(group g) noexcept;

enum class label_kind : std::uint8_t {
  // true events
  desaturation = 1,
  hypertensive_response,
  bradycardia,
  oximeter_tachycardia,
  apnoea,
  sensor_off_ecg,
  sensor_off_oximeter,
  sensor_off_cuff,
  sensor_off_respiration,
  // artefacts
  cross_source,
  impossible_step,
  bp_inconsistent,
  isolated_extreme,
  zero_no_signal,
  // a true event, numbered after the artefacts to keep the earlier numbers
  ecg_stops,
};
std::string_view name(label_kind k) noexcept;
bool is_true_event(label_kind k) noexcept;
/// Every true-event kind, then every artefact kind.
const std::vector<label_kind>& true_event_kinds();
const std::vector<label_kind>& artefact_kinds();

/// The devices of a chair: a bedside monitor (ECG heart rate, SpO2, respiratory rate, cuff) and a
/// separate pulse oximeter (pulse rate).
inline constexpr std::string_view monitor = "monitor";
inline constexpr std::string_view oximeter = "oximeter";

struct label {
  label_kind kind = label_kind::desaturation;
  std::string variant;            // e.g. "pulse_rate 277", "rr samples stop"
  model::vital_kind vital = model::vital_kind::heart_rate;  // the stream it is seen on
  std::string source;             // the device whose stream it is on
  millis start = 0;               // first sample of the event or artefact
  millis end = 0;                 // last sample of it
  // True events: the alarm expected, when the engine's rules say it is due (docs/alarms.md: the first
  // reading beyond + the rule's delay, or the confirming reading if later) and the latest time it
  // counts (due + one stream interval).
  std::string expected;
  millis due = 0;
  millis deadline = 0;
  // Artefacts: the physiological rules that must not be raised, prolonged or revived by it
  // (the rules watching its vital, and NEWS2), from `start` to `window_end` (its last sample +
  // the stream's evidence limit: 30 s at 1 Hz, 180 s at 1/min, 20 min for the cuff).
  std::vector<std::string> forbidden;
  millis window_end = 0;
};

/// One sample as sent, and what it was before an artefact changed it.
struct item {
  model::vital_sample sample;
  std::uint8_t source = 0;        // 0 monitor, 1 oximeter
  int artefact = -1;              // index of the artefact label that put or changed it
  bool replaces = false;          // the artefact changed a real sample, which was `clean`
  model::vital_sample clean;
};

struct session {
  std::string id;                 // e.g. "artefacts-1hz-07"
  std::string chair;
  group kind = group::uneventful;
  cadence rate = cadence::per_second;
  std::uint32_t seed = 0;
  millis open_at = 0;
  millis dose_at = 0;
  millis close_at = 0;
  std::vector<item> samples;      // in time order
  std::vector<label> labels;
  double patient_hours() const noexcept;
};

/// The sessions of one group at one cadence, each from its own fixed seed.
std::vector<session> build(group g, cadence c);

/// The generic profile (today's engine).
engine::profile after_profile();
/// The engine as it was before issue 13: the generic profile with every limit rule and NEWS2
/// confirmed by one reading.
engine::profile before_profile();

/// Runs one session through a fresh engine: the monitor connects, streams start 6 min before the
/// open, the dose is marked, the session is closed at the end; every second the chair's clock is
/// advanced, and a nurse acknowledges every physiological alarm 60 s after it is raised. With
/// `with_artefacts` false, every artefact is taken out (changed samples get their clean values
/// back, added ones are dropped): what the session would have been without them.
std::vector<engine::event> run(const session& s, const engine::profile& p, bool with_artefacts = true);

// --- judging ----------------------------------------------------------------------------------------

/// One alarm from raise to clear (cleared_at empty when never cleared).
struct episode {
  std::uint64_t alarm = 0;
  std::string rule;
  engine::alarm_kind kind = engine::alarm_kind::physiological;
  millis raised_at = 0;
  std::optional<millis> cleared_at;
  std::vector<millis> sounded;    // escalations and re-soundings
};
std::vector<episode> episodes(const std::vector<engine::event>& events);

struct verdict {
  const label* of = nullptr;      // null: not tied to any label
  bool ok = true;
  std::string what;               // for people: which label, which alarm, at what time
};

/// Each true event: was its expected alarm raised within [start, deadline]?
std::vector<verdict> judge_events(const session& s, const std::vector<engine::event>& events);
/// Each artefact: did it raise, prolong or revive a physiological alarm it must not touch? Compares
/// the run with artefacts to the run without; a difference no label explains is a verdict with
/// no label.
std::vector<verdict> judge_artefacts(const session& s, const std::vector<engine::event>& with,
                                     const std::vector<engine::event>& without);
/// Alarms raised and cleared at the same instant.
std::vector<verdict> same_instant(const session& s, const std::vector<engine::event>& events);
/// Stale-stream alarms not explained by a label whose samples stop (apnoea, "rr samples stop").
std::vector<verdict> unexplained_stale(const session& s, const std::vector<engine::event>& events);

/// "+1h02m03s from the dose", for messages.
std::string when(const session& s, millis at);

}  // namespace vigil::corpus
