#pragma once

// A simulated bedside monitor: measures a simulated patient as a real one would. Heart rate,
// pulse rate, SpO2 and respiratory rate every second; a cuff reading on a cycle and about
// 40 minutes after the dose; measurement noise; and the faults of real monitors (sensor off,
// motion artifacts, low perfusion). Deterministic per seed.

#include "sim/physiology.hpp"
#include "vigil/v1/device.pb.h"

#include <cstdint>
#include <optional>
#include <string_view>
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

/// Artefacts a monitor sends unflagged, as a real one without artefact flags would: a value
/// possible on its own but not in its context. Named as vigild judges them (docs/alarms.md 3.6).
enum class artefact_kind { zero_no_signal, impossible_step, rates_disagree, cuff_implausible, cuff_inconsistent };
std::optional<artefact_kind> artefact_from(std::string_view name);
std::string_view name(artefact_kind k);

/// An artefact from `start_ms` (session time from the open). `vital` is the kind whose value
/// is replaced (for a cuff artefact, the part of the reading); per-second vitals are replaced
/// every second for `duration_ms`, a cuff artefact is one reading taken at `start_ms` (the
/// scheduled one if it falls then, else one more). Without a `value`, the kind's default
/// (artefact_value).
struct monitor_artefact {
  artefact_kind kind = artefact_kind::zero_no_signal;
  v1::VitalKind vital = v1::SPO2;
  std::int64_t start_ms = 0;
  std::int64_t duration_ms = second_ms;
  std::optional<double> value;

  bool cuff() const noexcept;
  /// The session time of its last changed sample.
  std::int64_t last_ms() const noexcept { return cuff() ? start_ms : start_ms + duration_ms - second_ms; }
  bool active(std::int64_t t_ms) const noexcept { return t_ms >= start_ms && t_ms <= last_ms(); }
};

/// The value an artefact sends, given the reading's own systolic (cuff_inconsistent's default
/// is a part above it).
double artefact_value(const monitor_artefact& a, double systolic);

struct monitor_settings {
  /// Cuff readings every this long from the open (and one about 40 min after the dose).
  std::int64_t cuff_interval_ms = 5 * minute_ms;
  /// The monitor's clock against the daemon's (positive: ahead).
  std::int64_t clock_skew_ms = 0;
};

class monitor {
 public:
  monitor(const physiology& patient, std::uint64_t seed, monitor_settings settings, std::vector<monitor_fault> faults,
          std::int64_t dose_at_ms, std::vector<monitor_artefact> artefacts = {});

  /// Appends what the monitor measures in the second that starts at session time `t_ms`
  /// (from the open), stamped `stamp_ms` on the monitor's clock. Seconds must come in order.
  void second(std::int64_t t_ms, std::int64_t stamp_ms, google::protobuf::RepeatedPtrField<v1::Sample>& out);
  /// Whether a cuff reading is taken in the second that starts at `t_ms`.
  bool cuff_due(std::int64_t t_ms) const;
  const monitor_settings& settings() const noexcept { return settings_; }

 private:
  unsigned fault_flags(std::int64_t t_ms, sensor s) const;
  /// The artefact that replaces `kind` at `t_ms`, if any.
  const monitor_artefact* artefact_at(std::int64_t t_ms, v1::VitalKind kind) const;

  const physiology& patient_;
  std::mt19937_64 rng_;
  std::normal_distribution<double> noise_{0.0, 1.0};
  monitor_settings settings_;
  std::vector<monitor_fault> faults_;
  std::int64_t post_dose_check_ms_;
  std::uint64_t seed_;
  std::vector<monitor_artefact> artefacts_;
};

}  // namespace vigil::sim
