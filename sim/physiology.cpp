#include "sim/physiology.hpp"

#include "sim/names.hpp"

#include <algorithm>
#include <cmath>
#include <numbers>
#include <random>

namespace vigil::sim {

namespace {
constexpr named<route> routes[] = {{"iv", route::iv},
                                   {"im", route::im},
                                   {"intranasal", route::intranasal},
                                   {"sublingual", route::sublingual},
                                   {"lozenge", route::sublingual},
                                   {"oral", route::sublingual}};
constexpr named<adverse_kind> adverse_kinds[] = {{"hypertensive", adverse_kind::hypertensive},
                                                 {"tachycardia", adverse_kind::tachycardia},
                                                 {"desaturation", adverse_kind::desaturation},
                                                 {"bradycardia", adverse_kind::bradycardia}};
}  // namespace

std::optional<route> route_from(std::string_view n) { return from_name<route>(routes, n); }
std::string_view name(route r) { return name_in<route>(routes, r); }
std::optional<adverse_kind> adverse_from(std::string_view n) { return from_name<adverse_kind>(adverse_kinds, n); }
std::string_view name(adverse_kind k) { return name_in<adverse_kind>(adverse_kinds, k); }

double default_magnitude(adverse_kind k) {
  switch (k) {
    case adverse_kind::hypertensive: return 45;  // mmHg systolic on top of the usual rise
    case adverse_kind::tachycardia: return 60;   // bpm: a resting 75 goes to about 140
    case adverse_kind::desaturation: return 10;  // SpO2 points: 97 % goes to about 87 %
    case adverse_kind::bradycardia: return 30;   // bpm: a resting 70 goes to about 40
  }
  return 0;
}

double response_fraction(std::int64_t since_ms) {
  // A gamma-shaped curve, (t/p)^k e^(k(1 - t/p)): 0 at the dose, 1 at the peak p; with k = 3
  // it is down to 4 % of the peak 90 min after it (vitals back to baseline within about
  // 1.5 h, CLINICAL.md).
  if (since_ms <= 0) return 0;
  constexpr double k = 3;
  const double x = static_cast<double>(since_ms) / static_cast<double>(response_peak_ms);
  return std::pow(x, k) * std::exp(k * (1 - x));
}

std::vector<std::int64_t> spray_offsets(int sprays) {
  std::vector<std::int64_t> out;
  for (int i = 0; i < std::max(1, sprays); ++i) out.push_back(i * spray_interval_ms);
  return out;
}

physiology::physiology(const patient_spec& spec, dose_plan dose, std::vector<adverse_event> events)
    : dose_(dose), events_(std::move(events)) {
  std::mt19937_64 rng(spec.seed);
  std::uniform_real_distribution<double> pick(0.0, 1.0);
  // Drawn in a fixed order, whether or not the spec overrides them, so that overriding one
  // value leaves the others as they were.
  const double hr = 62 + 16 * pick(rng);
  const double sys = 114 + 20 * pick(rng);
  const double dia = 70 + 12 * pick(rng);
  const double spo2 = 96.5 + 2 * pick(rng);
  const double rr = 12 + 5 * pick(rng);
  // Individual variation of the response: log-normal around 1.
  std::normal_distribution<double> spread(0.0, 0.3);
  const double scale = std::exp(spread(rng));
  baseline_ = {spec.heart_rate.value_or(hr), spec.systolic.value_or(sys), spec.diastolic.value_or(dia),
               spec.spo2.value_or(spo2), spec.respiratory_rate.value_or(rr)};
  scale_ = spec.response.value_or(scale);
  for (auto& p : phase_) {
    p[0] = 2 * std::numbers::pi * pick(rng);
    p[1] = 2 * std::numbers::pi * pick(rng);
  }
}

double physiology::drug_effect(std::int64_t t_ms) const {
  const std::int64_t since = t_ms - dose_.at_ms;
  if (dose_.by != route::intranasal) return response_fraction(since);
  // Each spray adds its share; the peak comes about 40 min after the middle spray.
  const auto offsets = spray_offsets(dose_.sprays);
  double sum = 0;
  for (const auto offset : offsets) sum += response_fraction(since - offset);
  return sum / static_cast<double>(offsets.size());
}

double physiology::wander(std::int64_t t_ms, int which) const {
  // Slow natural variation: two slow waves (periods of 7 and 23 minutes), -1..1.
  const double t = static_cast<double>(t_ms) / static_cast<double>(minute_ms);
  const auto& p = phase_[which];
  return 0.6 * std::sin(2 * std::numbers::pi * t / 7 + p[0]) + 0.4 * std::sin(2 * std::numbers::pi * t / 23 + p[1]);
}

namespace {
// 0 outside the event, 1 while it is at full strength, a linear ramp in and out.
double strength(const adverse_event& e, std::int64_t t_ms) {
  const std::int64_t in = t_ms - e.start_ms;
  const std::int64_t out = e.start_ms + e.duration_ms - t_ms;
  if (in <= 0 || out <= 0) return 0;
  const double ramp = static_cast<double>(std::max<std::int64_t>(1, std::min(e.ramp_ms, e.duration_ms / 2)));
  return std::min({1.0, static_cast<double>(in) / ramp, static_cast<double>(out) / ramp});
}
}  // namespace

vitals physiology::at(std::int64_t t_ms) const {
  const response_peak peak;
  const double drug = scale_ * drug_effect(t_ms);
  vitals v = baseline_;
  v.heart_rate += peak.heart_rate * drug + 2.5 * wander(t_ms, 0);
  v.systolic += peak.systolic * drug + 3 * wander(t_ms, 1);
  v.diastolic += peak.diastolic * drug + 2 * wander(t_ms, 2);
  v.spo2 += 0.4 * wander(t_ms, 3);
  v.respiratory_rate += 0.8 * wander(t_ms, 4);
  for (const auto& e : events_) {
    const double m = e.magnitude * strength(e, t_ms);
    switch (e.kind) {
      case adverse_kind::hypertensive:
        v.systolic += m;
        v.diastolic += 0.55 * m;
        v.heart_rate += 0.2 * m;
        break;
      case adverse_kind::tachycardia: v.heart_rate += m; break;
      case adverse_kind::desaturation:
        v.spo2 -= m;
        v.respiratory_rate -= 0.2 * m;
        break;
      case adverse_kind::bradycardia: v.heart_rate -= m; break;
    }
  }
  v.spo2 = std::min(v.spo2, 100.0);
  return v;
}

}  // namespace vigil::sim
