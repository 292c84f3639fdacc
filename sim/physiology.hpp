#pragma once

// A simulated patient's vital signs: individual baselines, slow natural variation, the
// ketamine response by route, and adverse events. Pure and deterministic: the same seed and
// plan give the same values, whatever the speed of the simulation.

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

namespace vigil::sim {

inline constexpr std::int64_t second_ms = 1000;
inline constexpr std::int64_t minute_ms = 60 * second_ms;

enum class route { iv, im, intranasal, sublingual };
std::optional<route> route_from(std::string_view name);
std::string_view name(route r);

/// The patient's resting values.
struct vitals {
  double heart_rate = 0;
  double systolic = 0;
  double diastolic = 0;
  double spo2 = 0;
  double respiratory_rate = 0;
};

/// What a scenario says of a patient; whatever it leaves out is drawn from the seed.
struct patient_spec {
  std::uint64_t seed = 1;
  std::optional<double> heart_rate, systolic, diastolic, spo2, respiratory_rate;
  /// Scale of this patient's ketamine response (1: the mean response of the sources).
  std::optional<double> response;
};

enum class adverse_kind { hypertensive, tachycardia, desaturation, bradycardia };
std::optional<adverse_kind> adverse_from(std::string_view name);
std::string_view name(adverse_kind k);
/// The magnitude an adverse event has when the scenario gives none.
double default_magnitude(adverse_kind k);

/// An adverse event: from `start_ms` (session time from the open) for `duration_ms`, ramping in
/// and out over `ramp_ms`. Magnitude: hypertensive, mmHg added to systolic (diastolic gets
/// 55 % of it, heart rate 20 %); tachycardia, bpm added; desaturation, SpO2 points removed
/// (respiratory rate slows a little); bradycardia, bpm removed.
struct adverse_event {
  adverse_kind kind = adverse_kind::hypertensive;
  std::int64_t start_ms = 0;
  std::int64_t duration_ms = 30 * minute_ms;
  double magnitude = 0;
  std::int64_t ramp_ms = 5 * minute_ms;
};

/// The dose as given: when (session time from the open), by which route, and for intranasal
/// esketamine how many sprays (devices), five minutes apart, the first at the dose time.
struct dose_plan {
  route by = route::iv;
  std::int64_t at_ms = 10 * minute_ms;
  int sprays = 2;
};

/// Mean peak rise of the ketamine response (IV, Yale chart review: +16/+11 mmHg at 40 min,
/// CLINICAL.md); heart rate rises a little with it.
struct response_peak {
  double systolic = 16;
  double diastolic = 11;
  double heart_rate = 8;
};

/// Minutes from a dose to the peak of its blood-pressure and heart-rate rise (CLINICAL.md:
/// about 40 min, for every route the sources describe).
inline constexpr std::int64_t response_peak_ms = 40 * minute_ms;
/// Minutes between intranasal sprays (Spravato: five minutes apart).
inline constexpr std::int64_t spray_interval_ms = 5 * minute_ms;

/// The response to one dose at `since_ms` after it, as a fraction of its peak: 0 before it,
/// 1 at response_peak_ms, then back to a few per cent about 1.5 h after the peak.
double response_fraction(std::int64_t since_ms);

/// When each spray of an intranasal dose comes, from the dose time.
std::vector<std::int64_t> spray_offsets(int sprays);

class physiology {
 public:
  physiology(const patient_spec& spec, dose_plan dose, std::vector<adverse_event> events);

  /// The patient's resting values (drawn from the seed where the spec left them out).
  const vitals& baseline() const noexcept { return baseline_; }
  /// This patient's response scale (1: the mean response).
  double response_scale() const noexcept { return scale_; }
  /// The drug's effect at session time `t_ms` as a fraction of one dose's peak (summed over sprays).
  double drug_effect(std::int64_t t_ms) const;
  /// The true vitals at session time `t_ms` (from the open), before measurement noise.
  vitals at(std::int64_t t_ms) const;

 private:
  double wander(std::int64_t t_ms, int which) const;

  vitals baseline_;
  double scale_ = 1;
  dose_plan dose_;
  std::vector<adverse_event> events_;
  double phase_[5][2]{};  // phases of the slow natural variation, per vital
};

}  // namespace vigil::sim
