#include "daemon/model/vitals.hpp"

namespace vigil::model {

std::optional<vital_kind> vital_kind_from_wire(int number) noexcept {
  if (number < 1 || number > vital_kind_count) return std::nullopt;
  return static_cast<vital_kind>(number);
}

std::string_view name(vital_kind kind) noexcept {
  switch (kind) {
    case vital_kind::heart_rate: return "heart_rate";
    case vital_kind::pulse_rate: return "pulse_rate";
    case vital_kind::spo2: return "spo2";
    case vital_kind::nibp_systolic: return "nibp_systolic";
    case vital_kind::nibp_diastolic: return "nibp_diastolic";
    case vital_kind::nibp_mean: return "nibp_mean";
    case vital_kind::respiratory_rate: return "respiratory_rate";
  }
  return "unknown";
}

std::string_view unit(vital_kind kind) noexcept {
  switch (kind) {
    case vital_kind::heart_rate:
    case vital_kind::pulse_rate: return "bpm";
    case vital_kind::spo2: return "%";
    case vital_kind::nibp_systolic:
    case vital_kind::nibp_diastolic:
    case vital_kind::nibp_mean: return "mmHg";
    case vital_kind::respiratory_rate: return "breaths/min";
  }
  return "";
}

plausible_range plausible(vital_kind kind) noexcept {
  // Wide on purpose: these catch equipment faults, not clinical extremes, which
  // the alarm rules handle. A value of 0 is a plausible reading of asystole or apnoea.
  switch (kind) {
    case vital_kind::heart_rate:
    case vital_kind::pulse_rate: return {0, 350};
    case vital_kind::spo2: return {0, 100};
    case vital_kind::nibp_systolic: return {20, 320};
    case vital_kind::nibp_diastolic: return {5, 250};
    case vital_kind::nibp_mean: return {10, 280};
    case vital_kind::respiratory_rate: return {0, 120};
  }
  return {0, 0};
}

}  // namespace vigil::model
