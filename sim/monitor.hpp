#pragma once

// A simulated bedside monitor: measures a simulated patient as a real one would. Heart rate,
// pulse rate, SpO2 and respiratory rate every second; a cuff reading on a cycle and about
// 40 minutes after the dose; measurement noise; and the faults of real monitors (sensor off,
// motion artifacts, low perfusion). Deterministic per seed.

#include "sim/physiology.hpp"
#include "vigil/v1/device.pb.h"

#include <cstdint>
#include <random>
#include <vector>

namespace vigil::sim {

enum class sensor : unsigned { ecg = 1, oximeter = 2, cuff = 4, respiration = 8 };
inline constexpr unsigned all_sensors = 15;
std::optional<sensor> sensor_from(std::string_view name);

enum class fault_kind { sensor_off, motion, low_perfusion, network_drop };
std::optional<fault_kind> fault_from(std::string_view name);
std::string_view name(fault_kind k);

/// A fault from `start_ms` (session time from the open) for `duration_ms`. `sensors` (a mask of
/// sensor bits) says which sensors a sensor_off fault takes off the patient.
struct monitor_fault {
  fault_kind kind = fault_kind::sensor_off;
  std::int64_t start_ms = 0;
  std::int64_t duration_ms = 60 * second_ms;
  unsigned sensors = all_sensors;

  bool active(std::int64_t t_ms) const noexcept { return t_ms >= start_ms && t_ms < start_ms + duration_ms; }
};

struct monitor_settings {
  /// Cuff readings every this long from the open (and one about 40 min after the dose).
  std::int64_t cuff_interval_ms = 5 * minute_ms;
  /// The monitor's clock against the daemon's (positive: ahead).
  std::int64_t clock_skew_ms = 0;
};

class monitor {
 public:
  monitor(const physiology& patient, std::uint64_t seed, monitor_settings settings, std::vector<monitor_fault> faults,
          std::int64_t dose_at_ms);

  /// Appends what the monitor measures in the second that starts at session time `t_ms`
  /// (from the open), stamped `stamp_ms` on the monitor's clock. Seconds must come in order.
  void second(std::int64_t t_ms, std::int64_t stamp_ms, google::protobuf::RepeatedPtrField<v1::Sample>& out);
  /// Whether a cuff reading is taken in the second that starts at `t_ms`.
  bool cuff_due(std::int64_t t_ms) const;
  const monitor_settings& settings() const noexcept { return settings_; }

 private:
  unsigned fault_flags(std::int64_t t_ms, sensor s) const;

  const physiology& patient_;
  std::mt19937_64 rng_;
  std::normal_distribution<double> noise_{0.0, 1.0};
  monitor_settings settings_;
  std::vector<monitor_fault> faults_;
  std::int64_t post_dose_check_ms_;
};

}  // namespace vigil::sim
