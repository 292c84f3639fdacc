#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace vigil::model {

/// Kinds of vital sign, numbered as on the wire (vigil.v1.VitalKind).
enum class vital_kind : std::uint8_t {
  heart_rate = 1,
  pulse_rate = 2,
  spo2 = 3,
  nibp_systolic = 4,
  nibp_diastolic = 5,
  nibp_mean = 6,
  respiratory_rate = 7,
};
inline constexpr int vital_kind_count = 7;

/// Quality bits, as on the wire (vigil.v1.QualityFlag).
namespace quality {
inline constexpr std::uint32_t ok = 0;
inline constexpr std::uint32_t sensor_off = 1;
inline constexpr std::uint32_t artifact = 2;
inline constexpr std::uint32_t low_perfusion = 4;
inline constexpr std::uint32_t implausible = 8;
inline constexpr std::uint32_t known = sensor_off | artifact | low_perfusion | implausible;
// Set by vigild, never by a device: the sample was judged an artefact in context (alarms.md
// 3.6), with the reason's number (engine::artefact_reason) in bits 8-15.
inline constexpr std::uint32_t judged_artefact = 1u << 16;
inline constexpr unsigned reason_shift = 8;
inline constexpr std::uint32_t reason_bits = 0xffu << reason_shift;
}  // namespace quality

/// One measurement as Vigil keeps it.
struct vital_sample {
  std::int64_t time_ms = 0;  // device clock, ms since the Unix epoch
  double value = 0;
  vital_kind kind = vital_kind::heart_rate;
  std::uint32_t quality = quality::ok;
};

/// The range outside which a value cannot be a real measurement of a living patient.
struct plausible_range {
  double low;
  double high;
};

/// The kind for a wire number, if it names one.
std::optional<vital_kind> vital_kind_from_wire(int number) noexcept;
/// Short stable name: "heart_rate", "spo2", "nibp_systolic", ...
std::string_view name(vital_kind kind) noexcept;
/// Unit of the kind's values: "bpm", "%", "mmHg", "breaths/min".
std::string_view unit(vital_kind kind) noexcept;
/// Plausibility limits used to flag artifacts at ingest (see docs/protocol.md).
plausible_range plausible(vital_kind kind) noexcept;

}  // namespace vigil::model
