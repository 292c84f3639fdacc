#include "daemon/engine/profile.hpp"

#include <utility>

// The numbers here are mirrored, with their sources, in config/profiles/generic.yaml
// (a unit test checks that the two agree). Sources are in /work/shared/design/CLINICAL.md
// ("CLINICAL.md" below); every other number is a site choice that each site's medical
// director must review.

namespace vigil::engine {
namespace {

using model::vital_kind;

struct rule_spec {
  const char* id;
  vital_kind kind;
  std::optional<double> low;
  std::optional<double> high;
  priority level;
  millis delay_ms;
  double hysteresis;
  bool latching;
};

limit_rule make(const rule_spec& s) {
  limit_rule r;
  r.id = s.id;
  r.kind = s.kind;
  r.low = s.low;
  r.high = s.high;
  r.level = s.level;
  r.delay_ms = s.delay_ms;
  r.hysteresis = s.hysteresis;
  r.latching = s.latching;
  return r;
}

limit_rule inclusive(limit_rule r) {
  r.inclusive = true;
  return r;
}

/// A cuff limit confirmed by a second reading: readings are discrete, so no condition delay.
limit_rule confirmed(limit_rule r, int readings, millis within_ms) {
  r.confirm_readings = readings;
  r.confirm_within_ms = within_ms;
  return r;
}

/// A limit on the rise from the session's baseline: only once there is a baseline.
limit_rule after_dose(limit_rule r) {
  r.relative = true;
  r.phases = {phase::observation, phase::ready};
  return r;
}

constexpr std::nullopt_t none = std::nullopt;

/// A rule whose single reading raises (and clears): the profile says it must fire at once.
limit_rule at_once(limit_rule r) {
  r.min_readings = 1;
  return r;
}
constexpr millis bp_confirm_within_ms = 10 * minutes_ms;

std::vector<limit_rule> generic_limits() {
  return {
      // SpO2 < 92: NEWS2 scores SpO2 <= 91 as 3; modified Aldrete wants > 92 (CLINICAL.md).
      make({"spo2_low", vital_kind::spo2, 92, none, priority::medium, 30 * seconds_ms, 1, false}),
      make({"spo2_critical", vital_kind::spo2, 88, none, priority::high, 10 * seconds_ms, 1, true}),
      // HR > 120 sustained for 5 min: institutional example (CLINICAL.md, The session).
      make({"hr_high", vital_kind::heart_rate, none, 120, priority::medium, 5 * minutes_ms, 5, false}),
      make({"hr_critical", vital_kind::heart_rate, none, 140, priority::high, 30 * seconds_ms, 5, true}),
      make({"hr_low", vital_kind::heart_rate, 45, none, priority::medium, 30 * seconds_ms, 3, false}),
      // NEWS2 scores pulse <= 40 as 3.
      make({"hr_critical_low", vital_kind::heart_rate, 40, none, priority::high, 10 * seconds_ms, 3, true}),
      // Institutional example: > 180/110 on two readings 5 min apart; > 200/120 on one.
      confirmed(make({"systolic_high", vital_kind::nibp_systolic, none, 180, priority::high, 0, 5, true}), 2,
                bp_confirm_within_ms),
      confirmed(make({"diastolic_high", vital_kind::nibp_diastolic, none, 110, priority::high, 0, 5, true}), 2,
                bp_confirm_within_ms),
      at_once(make({"systolic_severe", vital_kind::nibp_systolic, none, 200, priority::high, 0, 5, true})),
      at_once(make({"diastolic_severe", vital_kind::nibp_diastolic, none, 120, priority::high, 0, 5, true})),
      // Spravato label: a rise of >= 40 mmHg systolic and/or >= 25 mmHg diastolic.
      // The label counts rises of 40 / 25 mmHg or more: the limits themselves alarm.
      // A cuff reading is discrete and a repeat takes minutes: one reading counts (medium priority).
      at_once(inclusive(after_dose(make({"systolic_rise", vital_kind::nibp_systolic, none, 40, priority::medium, 0, 5, false})))),
      at_once(inclusive(after_dose(make({"diastolic_rise", vital_kind::nibp_diastolic, none, 25, priority::medium, 0, 5, false})))),
      // NEWS2 scores SBP <= 90 as 3.
      at_once(make({"systolic_low", vital_kind::nibp_systolic, 90, none, priority::medium, 0, 5, false})),
      // NEWS2 scores RR <= 8 as 3 and RR >= 25 as 3.
      make({"rr_low", vital_kind::respiratory_rate, 8, none, priority::high, 30 * seconds_ms, 1, true}),
      make({"rr_high", vital_kind::respiratory_rate, none, 24, priority::medium, 60 * seconds_ms, 2, false}),
  };
}

escalation_tier tier(const char* responder, millis after_ms) {
  return escalation_tier{responder, after_ms};
}

}  // namespace

profile generic_profile() {
  profile p;  // the struct's defaults are the generic profile's baseline quality, technical, NEWS2, discharge and audio rules
  p.id = "generic";
  p.name = "Generic ketamine/esketamine session";
  p.limits = generic_limits();
  p.escalation_high = {tier("nurse", 0), tier("charge_nurse", 2 * minutes_ms), tier("physician", 5 * minutes_ms)};
  p.escalation_medium = {tier("nurse", 0), tier("charge_nurse", 5 * minutes_ms)};
  p.escalation_low = {tier("nurse", 0)};
  return p;
}

}  // namespace vigil::engine
