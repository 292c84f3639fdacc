#include "sim/vitals_generator.hpp"

#include <algorithm>
#include <cmath>

namespace vigil::sim {

namespace {
constexpr std::int64_t cuff_cycle_s = 300;
}

vitals_generator::vitals_generator(std::uint64_t seed) : rng_(seed) {
  std::uniform_real_distribution<double> pick(0.0, 1.0);
  heart_rate_ = 62 + 20 * pick(rng_);
  spo2_ = 96 + 3 * pick(rng_);
  respiratory_rate_ = 12 + 5 * pick(rng_);
  systolic_ = 112 + 22 * pick(rng_);
  diastolic_ = 68 + 14 * pick(rng_);
}

void vitals_generator::add(google::protobuf::RepeatedPtrField<v1::Sample>& out, v1::VitalKind kind, double value,
                           std::int64_t time_ms) {
  auto& s = *out.Add();
  s.set_kind(kind);
  s.set_value(std::round(value * 10) / 10);
  s.set_time_ms(time_ms);
  s.set_quality(v1::QUALITY_OK);
}

void vitals_generator::second(std::int64_t time_ms, google::protobuf::RepeatedPtrField<v1::Sample>& out) {
  const double hr = heart_rate_ + 1.5 * noise_(rng_);
  add(out, v1::HEART_RATE, hr, time_ms);
  add(out, v1::PULSE_RATE, hr + 0.5 * noise_(rng_), time_ms);
  add(out, v1::SPO2, std::min(100.0, spo2_ + 0.4 * noise_(rng_)), time_ms);
  add(out, v1::RESPIRATORY_RATE, respiratory_rate_ + 0.5 * noise_(rng_), time_ms);
  if (seconds_ % cuff_cycle_s == 0) {
    const double sys = systolic_ + 3 * noise_(rng_);
    const double dia = diastolic_ + 2 * noise_(rng_);
    add(out, v1::NIBP_SYSTOLIC, sys, time_ms);
    add(out, v1::NIBP_DIASTOLIC, dia, time_ms);
    add(out, v1::NIBP_MEAN, dia + (sys - dia) / 3, time_ms);
  }
  ++seconds_;
}

}  // namespace vigil::sim
