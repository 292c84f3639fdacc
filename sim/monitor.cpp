#include "sim/monitor.hpp"

#include "sim/names.hpp"

#include <algorithm>
#include <cmath>

namespace vigil::sim {

namespace {
constexpr named<sensor> sensors[] = {{"ecg", sensor::ecg},
                                     {"oximeter", sensor::oximeter},
                                     {"cuff", sensor::cuff},
                                     {"respiration", sensor::respiration}};
constexpr named<fault_kind> fault_kinds[] = {{"sensor_off", fault_kind::sensor_off},
                                             {"motion", fault_kind::motion},
                                             {"low_perfusion", fault_kind::low_perfusion},
                                             {"network_drop", fault_kind::network_drop}};
constexpr named<artefact_kind> artefact_kinds[] = {{"zero_no_signal", artefact_kind::zero_no_signal},
                                                   {"impossible_step", artefact_kind::impossible_step},
                                                   {"rates_disagree", artefact_kind::rates_disagree},
                                                   {"cuff_implausible", artefact_kind::cuff_implausible},
                                                   {"cuff_inconsistent", artefact_kind::cuff_inconsistent}};
}  // namespace

std::optional<artefact_kind> artefact_from(std::string_view n) { return from_name<artefact_kind>(artefact_kinds, n); }
std::string_view name(artefact_kind k) { return name_in<artefact_kind>(artefact_kinds, k); }

double artefact_value(const monitor_artefact& a, double systolic) {
  if (a.kind == artefact_kind::zero_no_signal) return 0;
  if (a.value) return *a.value;
  switch (a.kind) {
    case artefact_kind::zero_no_signal: return 0;
    case artefact_kind::impossible_step:
      // One reading far from the ones around it (alarms.md 3.6: SpO2 98, 36, 98).
      if (a.vital == v1::SPO2) return 36;
      if (a.vital == v1::RESPIRATORY_RATE) return 2;
      return 250;
    case artefact_kind::rates_disagree:
      // An oximeter pulse of 277 beside a normal ECG rate; an ECG rate of 11 beside a normal pulse.
      return a.vital == v1::HEART_RATE ? 11 : 277;
    case artefact_kind::cuff_implausible:
      if (a.vital == v1::NIBP_SYSTOLIC) return 45;
      return a.vital == v1::NIBP_DIASTOLIC ? 10 : 31;
    case artefact_kind::cuff_inconsistent: return systolic + 10;  // a part above the reading's systolic
  }
  return 0;
}

std::optional<sensor> sensor_from(std::string_view n) { return from_name<sensor>(sensors, n); }
std::optional<fault_kind> fault_from(std::string_view n) { return from_name<fault_kind>(fault_kinds, n); }
std::string_view name(fault_kind k) { return name_in<fault_kind>(fault_kinds, k); }

bool monitor_artefact::cuff() const noexcept {
  return vital == v1::NIBP_SYSTOLIC || vital == v1::NIBP_DIASTOLIC || vital == v1::NIBP_MEAN;
}

monitor::monitor(const physiology& patient, std::uint64_t seed, monitor_settings settings,
                 std::vector<monitor_fault> faults, std::int64_t dose_at_ms, std::vector<monitor_artefact> artefacts)
    : patient_(patient),
      rng_(seed ^ 0x9e3779b97f4a7c15ULL),
      settings_(settings),
      faults_(std::move(faults)),
      post_dose_check_ms_(dose_at_ms + response_peak_ms),
      seed_(seed),
      artefacts_(std::move(artefacts)) {}

bool monitor::cuff_due(std::int64_t t_ms) const {
  const std::int64_t interval = std::max<std::int64_t>(settings_.cuff_interval_ms, second_ms);
  // The cycle, and the check about 40 minutes after the dose (CLINICAL.md) when it falls between.
  return t_ms % interval == 0 || t_ms == post_dose_check_ms_;
}

unsigned monitor::fault_flags(std::int64_t t_ms, sensor s) const {
  unsigned flags = v1::QUALITY_OK;
  const auto bit = static_cast<unsigned>(s);
  for (const auto& f : faults_) {
    if (!f.active(t_ms)) continue;
    switch (f.kind) {
      case fault_kind::sensor_off:
        if (f.sensors & bit) flags |= v1::QUALITY_SENSOR_OFF;
        break;
      case fault_kind::motion:
        if (s == sensor::ecg || s == sensor::oximeter) flags |= v1::QUALITY_ARTIFACT;
        break;
      case fault_kind::low_perfusion:
        if (s == sensor::oximeter) flags |= v1::QUALITY_LOW_PERFUSION;
        break;
      case fault_kind::network_drop: break;
    }
  }
  return flags;
}

const monitor_artefact* monitor::artefact_at(std::int64_t t_ms, v1::VitalKind kind) const {
  for (const auto& a : artefacts_) {
    if (a.vital == kind && a.active(t_ms)) return &a;
  }
  return nullptr;
}

void monitor::second(std::int64_t t_ms, std::int64_t stamp_ms, google::protobuf::RepeatedPtrField<v1::Sample>& out) {
  const vitals v = patient_.at(t_ms);
  // The noise is drawn every second whatever the faults, so a fault changes no later value.
  const double n_hr = noise_(rng_), n_pr = noise_(rng_), n_spo2 = noise_(rng_), n_rr = noise_(rng_);
  const double n_art = noise_(rng_);
  double systolic_sent = 0;  // of this second's cuff reading, for a part inconsistent with it
  auto add = [&](v1::VitalKind kind, double value, unsigned flags) {
    auto& s = *out.Add();
    s.set_kind(kind);
    s.set_time_ms(stamp_ms);
    s.set_quality(flags);
    if (flags & v1::QUALITY_SENSOR_OFF) {
      s.set_value(0);  // nothing measured
      return;
    }
    s.set_value(std::round(value));
    // An artefact is sent as the value measured: unflagged, as a monitor without artefact flags sends it.
    if (const auto* a = flags == v1::QUALITY_OK ? artefact_at(t_ms, kind) : nullptr) {
      s.set_value(std::round(artefact_value(*a, systolic_sent)));
    }
    if (kind == v1::NIBP_SYSTOLIC) systolic_sent = s.value();
  };
  const unsigned ecg = fault_flags(t_ms, sensor::ecg);
  const unsigned ox = fault_flags(t_ms, sensor::oximeter);
  const bool moving_ecg = (ecg & v1::QUALITY_ARTIFACT) != 0;
  const bool moving_ox = (ox & v1::QUALITY_ARTIFACT) != 0;
  const bool poor = (ox & v1::QUALITY_LOW_PERFUSION) != 0;
  const double hr = v.heart_rate + 1.5 * n_hr;
  add(v1::HEART_RATE, moving_ecg ? hr + 35 * std::abs(n_art) : hr, ecg);
  add(v1::PULSE_RATE, moving_ox ? hr - 20 * std::abs(n_art) : hr + 0.8 * n_pr, ox);
  double spo2 = v.spo2 + (poor ? 1.5 : 0.4) * n_spo2 - (poor ? 1 : 0) - (moving_ox ? 8 * std::abs(n_art) : 0);
  add(v1::SPO2, std::min(100.0, spo2), ox);
  add(v1::RESPIRATORY_RATE, v.respiratory_rate + 0.6 * n_rr, fault_flags(t_ms, sensor::respiration));
  bool cuff_artefact = false;
  for (const auto& a : artefacts_) cuff_artefact |= a.cuff() && a.start_ms == t_ms;
  const bool scheduled = cuff_due(t_ms);
  if (scheduled || cuff_artefact) {
    double n_sys = 0, n_dia = 0;
    if (scheduled) {
      n_sys = noise_(rng_);
      n_dia = noise_(rng_);
    } else {
      // A reading off the cycle draws its noise apart, so an artefact changes no other value.
      std::mt19937_64 own(seed_ ^ static_cast<std::uint64_t>(t_ms) ^ 0xc2b2ae3d27d4eb4fULL);
      std::normal_distribution<double> noise(0.0, 1.0);
      n_sys = noise(own);
      n_dia = noise(own);
    }
    const unsigned cuff = fault_flags(t_ms, sensor::cuff);
    const double sys = v.systolic + 4 * n_sys;
    const double dia = v.diastolic + 3 * n_dia;
    add(v1::NIBP_SYSTOLIC, sys, cuff);
    add(v1::NIBP_DIASTOLIC, dia, cuff);
    add(v1::NIBP_MEAN, dia + (sys - dia) / 3, cuff);
  }
}

}  // namespace vigil::sim
