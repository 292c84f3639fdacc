#pragma once

#include "vigil/v1/device.pb.h"

#include <cstdint>
#include <random>

namespace vigil::sim {

/// A resting patient's vitals: individual baselines with slow drift and beat-to-beat noise.
/// Heart rate, pulse rate, SpO2 and respiratory rate every second; a cuff reading
/// (systolic, diastolic, mean) every five minutes.
class vitals_generator {
 public:
  explicit vitals_generator(std::uint64_t seed);

  /// Appends the samples measured in the second that starts at `time_ms`.
  void second(std::int64_t time_ms, google::protobuf::RepeatedPtrField<v1::Sample>& out);

 private:
  void add(google::protobuf::RepeatedPtrField<v1::Sample>& out, v1::VitalKind kind, double value, std::int64_t time_ms);

  std::mt19937_64 rng_;
  std::normal_distribution<double> noise_{0.0, 1.0};
  double heart_rate_;
  double spo2_;
  double respiratory_rate_;
  double systolic_;
  double diastolic_;
  std::int64_t seconds_ = 0;
};

}  // namespace vigil::sim
