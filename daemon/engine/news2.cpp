#include "daemon/engine/news2.hpp"

#include <cmath>

namespace vigil::engine::news2 {
namespace {

// Slack so that decimal halves stored just below the half (35.05 is 35.0499999...) still round
// up; a billionth of a step is far below any monitor's resolution.
constexpr double half_way_slack = 1e-9;

// The reading in whole chart steps (steps_per_unit = 1 for whole numbers, 10 for tenths),
// rounded half up. Kept as a double so huge readings cannot overflow an integer conversion.
double chart_steps(double value, double steps_per_unit) {
  return std::floor(value * steps_per_unit + 0.5 + half_way_slack);
}

double whole(double value) {
  return chart_steps(value, 1.0);
}
double tenths(double value) {
  return chart_steps(value, 10.0);
}

}  // namespace

int respiratory_rate_points(double breaths_per_min) {
  if (!std::isfinite(breaths_per_min)) return 0;
  const double rr = whole(breaths_per_min);
  if (rr <= 8) return 3;
  if (rr <= 11) return 1;
  if (rr <= 20) return 0;
  if (rr <= 24) return 2;
  return 3;
}

int spo2_scale1_points(double percent) {
  if (!std::isfinite(percent)) return 0;
  const double spo2 = whole(percent);
  if (spo2 <= 91) return 3;
  if (spo2 <= 93) return 2;
  if (spo2 <= 95) return 1;
  return 0;
}

int systolic_points(double mmhg) {
  if (!std::isfinite(mmhg)) return 0;
  const double sbp = whole(mmhg);
  if (sbp <= 90) return 3;
  if (sbp <= 100) return 2;
  if (sbp <= 110) return 1;
  if (sbp <= 219) return 0;
  return 3;
}

int pulse_points(double beats_per_min) {
  if (!std::isfinite(beats_per_min)) return 0;
  const double pulse = whole(beats_per_min);
  if (pulse <= 40) return 3;
  if (pulse <= 50) return 1;
  if (pulse <= 90) return 0;
  if (pulse <= 110) return 1;
  if (pulse <= 130) return 2;
  return 3;
}

int temperature_points(double celsius) {
  if (!std::isfinite(celsius)) return 0;
  // Compared in tenths of a degree, where the chart's edges are exact integers.
  const double temp_tenths = tenths(celsius);
  if (temp_tenths <= 350) return 3;
  if (temp_tenths <= 360) return 1;
  if (temp_tenths <= 380) return 0;
  if (temp_tenths <= 390) return 1;
  return 2;
}

int consciousness_points(bool alert) {
  return alert ? 0 : 3;
}

int oxygen_points(bool supplemental) {
  return supplemental ? 2 : 0;
}

namespace {

void add(result& r, int points) {
  r.total += points;
  r.any_three = r.any_three || points == 3;
  ++r.parameters_scored;
}

// A non-finite reading is no measurement, so it is left out like a missing one.
void add_reading(result& r, const std::optional<double>& reading, int (*points)(double)) {
  if (reading && std::isfinite(*reading)) add(r, points(*reading));
}

void add_flag(result& r, const std::optional<bool>& flag, int (*points)(bool)) {
  if (flag) add(r, points(*flag));
}

risk band_for(int total, bool any_three) {
  if (total >= 7) return risk::high;
  if (total >= 5) return risk::medium;
  if (any_three) return risk::low_medium;
  return risk::low;
}

}  // namespace

result score(const observations& obs) {
  result r;
  add_reading(r, obs.respiratory_rate, respiratory_rate_points);
  add_reading(r, obs.spo2, spo2_scale1_points);
  add_flag(r, obs.supplemental_oxygen, oxygen_points);
  add_reading(r, obs.systolic, systolic_points);
  add_reading(r, obs.pulse, pulse_points);
  add_flag(r, obs.alert, consciousness_points);
  add_reading(r, obs.temperature_c, temperature_points);
  r.band = band_for(r.total, r.any_three);
  return r;
}

}  // namespace vigil::engine::news2
