#pragma once

// NEWS2 (Royal College of Physicians, 2017): the National Early Warning Score.
//
// Only SpO2 scale 1 is implemented. Scale 2 is for patients with confirmed hypercapnic
// respiratory failure, a target range a clinician must prescribe; a sedation monitor has no
// way to know it, so it must not guess.
//
// Non-integer readings. The published chart is written for whole numbers (temperature: one
// decimal), so a reading such as SpO2 91.6 or RR 8.4 falls between its bands. Every reading
// is therefore first rounded to the chart's resolution, half up, and only then banded:
//   - respiratory rate, SpO2, systolic pressure and pulse: to a whole number;
//   - temperature: to one decimal (0.1 degrees C).
// Examples: SpO2 91.5 -> 92 (2 points), 91.49 -> 91 (3); RR 8.4 -> 8 (3), 8.5 -> 9 (1);
// temperature 35.05 -> 35.1 (1), 35.04 -> 35.0 (3). This is what a nurse does when writing the
// reading on the paper chart, so the daemon and the bedside chart agree. A reading within a
// billionth of a step of the half-way point counts as half-way: binary floating point stores
// 35.05 as 35.0499999..., which would otherwise round down.
//
// Non-finite readings (NaN, infinities) are not measurements: the *_points functions give
// them 0 points and score() treats them as absent (not counted in parameters_scored). Ingest
// already rejects them; this only keeps the scoring well defined.

#include <optional>

namespace vigil::engine::news2 {

/// The latest observations; a parameter left empty is not scored.
struct observations {
  std::optional<double> respiratory_rate;  // breaths/min
  std::optional<double> spo2;              // %, SpO2 scale 1
  std::optional<double> systolic;          // mmHg
  std::optional<double> pulse;             // beats/min
  std::optional<double> temperature_c;     // degrees Celsius
  std::optional<bool> alert;               // false: new confusion, or responds to voice, pain, or is unresponsive
  std::optional<bool> supplemental_oxygen;
};

/// NEWS2 clinical risk bands.
enum class risk { low, low_medium, medium, high };

struct result {
  int total = 0;
  bool any_three = false;       // some single parameter scored 3
  int parameters_scored = 0;    // how many of the seven parameters had a value
  risk band = risk::low;        // high: total >= 7; medium: 5..6; low_medium: a single 3; low otherwise
};

// Points for one parameter, after rounding to the chart's resolution (see above).
int respiratory_rate_points(double breaths_per_min);
int spo2_scale1_points(double percent);
int systolic_points(double mmhg);
int pulse_points(double beats_per_min);
int temperature_points(double celsius);
int consciousness_points(bool alert);
int oxygen_points(bool supplemental);

/// Scores the observations present. The band is the highest that applies: a total of 5 or
/// more outranks a single 3, which only raises a low total to low_medium.
result score(const observations& obs);

}  // namespace vigil::engine::news2
