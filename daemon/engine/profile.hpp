#pragma once

// A protocol profile: every number the engine uses for one kind of session (route of
// dosing). Loaded from config/profiles/*.yaml; the defaults here are those of the
// generic profile. Times are milliseconds of session time.

#include "daemon/model/vitals.hpp"

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace vigil::engine {

using millis = std::int64_t;

inline constexpr millis seconds_ms = 1'000;
inline constexpr millis minutes_ms = 60 * seconds_ms;

/// IEC 60601-1-8 alarm priorities.
enum class priority : std::uint8_t { low = 1, medium = 2, high = 3 };

/// Phases of a session, in lifecycle order.
enum class phase : std::uint8_t { baseline = 1, observation = 2, ready = 3, closed = 4, aborted = 5 };

/// A physiological limit on one vital sign.
///
/// The value compared is the sample's value (absolute rules) or its difference from the
/// session's baseline for that vital (relative rules: `relative = true`, limits are deltas
/// such as +40 mmHg). A condition exists while the latest valid sample is above `high` or
/// below `low`. See docs/alarms.md for the exact semantics.
struct limit_rule {
  std::string id;                      // unique within the profile, e.g. "spo2_low"
  model::vital_kind kind = model::vital_kind::heart_rate;
  std::optional<double> low;           // condition when value < low
  std::optional<double> high;          // condition when value > high
  bool inclusive = false;              // the limits themselves count: value >= high, value <= low
  bool relative = false;               // compare value - baseline instead of value
  priority level = priority::medium;
  millis delay_ms = 0;                 // the condition must hold this long before the alarm
  double hysteresis = 0;               // the alarm clears once the value is this far back inside
  bool latching = false;               // stays until acknowledged even when the condition clears
  // Cuff readings: the alarm needs `confirm_readings` readings beyond the limit, each within
  // `confirm_within_ms` of the previous one (1: no confirmation).
  int confirm_readings = 1;
  millis confirm_within_ms = 0;
  // A source's condition raises the alarm (and revives a latched one) only once it has been
  // beyond the limit at this many consecutive readings, or another source's condition is on
  // too; and it stops holding the condition only after this many consecutive readings back
  // inside (alarms.md 5.2, 5.4). 1: a single reading raises, and a single reading clears.
  int min_readings = 2;
  // Phases in which the rule is evaluated; empty means baseline, observation and ready.
  std::vector<phase> phases;
};

/// Who is called, and when, for an alarm nobody has acknowledged.
struct escalation_tier {
  std::string responder;  // "nurse", "charge_nurse", "physician"
  millis after_ms = 0;    // since the alarm was raised (or re-sounded)
};

struct technical_rules {
  // A stream is stale once no sample has come for `stale_intervals` times its cadence, and never
  // sooner than `stale_after_ms` (alarms.md 3.5, 7.1).
  millis stale_after_ms = 30 * seconds_ms;
  int stale_intervals = 3;
  priority stale_level = priority::medium;
  // The slowest cadence the profile supervises: a stream slower than this raises stream_too_slow.
  millis max_interval_ms = 60 * seconds_ms;
  priority slow_level = priority::low;
  // A sample flagged sensor-off for this long (0: at once).
  millis sensor_off_delay_ms = 10 * seconds_ms;
  priority sensor_off_level = priority::medium;
  // A cuff reading is due every `cuff_interval_ms` during observation, and one about
  // `post_dose_check_ms` after the dose; overdue once `cuff_grace_ms` has passed.
  millis cuff_interval_ms = 15 * minutes_ms;
  millis post_dose_check_ms = 40 * minutes_ms;
  millis cuff_grace_ms = 5 * minutes_ms;
  priority cuff_level = priority::low;
  // The chair's monitor disconnected and has not come back for this long.
  millis disconnected_after_ms = 10 * seconds_ms;
  priority disconnected_level = priority::medium;
};

struct news2_rules {
  bool enabled = true;
  int medium_at = 5;            // total >= 5, or any single parameter scoring 3: urgent review
  int high_at = 7;              // total >= 7: emergency
  bool single_three_is_medium = true;
  millis delay_ms = 60 * seconds_ms;
  // A condition raises only once it was found at scorings at this many distinct times, and an
  // alarm clears only once the condition was absent at as many (alarms.md 6).
  int min_readings = 2;
};

/// Artefact judgement in context (alarms.md 3.6): samples a device sent as good that the
/// context shows cannot be a measurement. Judged samples drive no physiological rule.
struct artefact_rules {
  bool enabled = true;
  bool zero_is_no_signal = true;     // a 0 from a device means "no signal", not a reading
  double rate_disagreement_bpm = 30;  // heart rate vs pulse rate beyond this: the one further from normal
  // A reading this far from its source's current value and from its previous reading of the
  // kind: a step no physiology makes between two readings.
  double spo2_step = 25;
  double heart_step = 40;             // heart_rate and pulse_rate
  double respiratory_step = 10;
  // Cuff readings: below these a part cannot be a pressure; the parts of one reading (within
  // cuff_reading_ms of each other, same source) must have systolic > mean > diastolic and a
  // pulse pressure (systolic - diastolic) within the bounds.
  double systolic_min = 50;
  double diastolic_min = 20;
  double mean_min = 40;
  double pulse_pressure_min = 10;
  double pulse_pressure_max = 120;
  millis cuff_reading_ms = 10 * seconds_ms;
};

struct predose_rules {
  double systolic_max = 140;    // Spravato label: weigh delaying the dose above 140/90
  double diastolic_max = 90;
  bool require_reading = true;  // a dose needs a cuff reading in the baseline phase (or an override)
};

struct discharge_rules {
  millis observation_ms = 120 * minutes_ms;  // Spravato label: at least 2 hours after dosing
  double bp_band_percent = 20;               // modified Aldrete: BP within +-20% of pre-dose
  double spo2_min = 92;                      // modified Aldrete: SpO2 > 92% on room air
  millis hold_ms = 10 * minutes_ms;          // the conditions must hold this long
};

/// What makes a kind's baseline good rather than weak (alarms.md 4.3). Indexed by wire number
/// (index 0 unused). A weak baseline is still used; its quality is shown with it.
struct baseline_rules {
  using per_kind_int = std::array<int, static_cast<std::size_t>(model::vital_kind_count) + 1>;
  using per_kind_double = std::array<double, static_cast<std::size_t>(model::vital_kind_count) + 1>;
  // Fewest readings in the window: the streamed kinds send several a minute; a single pre-dose
  // cuff reading is clinical routine (heart_rate, pulse_rate, spo2, systolic, diastolic, mean, rr).
  per_kind_int min_readings{0, 3, 3, 3, 1, 1, 1, 3};
  // Widest spread (largest minus smallest reading in the window), in the kind's unit.
  per_kind_double max_spread{0, 25, 25, 5, 25, 20, 20, 8};
};

struct audio_rules {
  millis max_pause_ms = 2 * minutes_ms;          // longest audio pause an operator can ask for
  millis ack_silence_ms = 5 * minutes_ms;        // an acknowledged alarm whose condition persists re-sounds after this
};

struct profile {
  std::string id;    // file name without .yaml, e.g. "iv-ketamine"
  std::string name;  // for people: "IV ketamine 0.5 mg/kg over 40 min"
  millis baseline_window_ms = 10 * minutes_ms;  // baseline: median of usable readings in this window before the dose
  baseline_rules baseline;
  predose_rules predose;
  discharge_rules discharge;
  technical_rules technical;
  news2_rules news2;
  artefact_rules artefacts;
  audio_rules audio;
  std::vector<limit_rule> limits;
  std::vector<escalation_tier> escalation_high;    // empty: no escalation
  std::vector<escalation_tier> escalation_medium;
  std::vector<escalation_tier> escalation_low;
};

/// The built-in generic profile, used when no profile files are configured.
profile generic_profile();

}  // namespace vigil::engine
