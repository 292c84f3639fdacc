#pragma once

// Profiles and helpers shared by the engine's tests of each rule family: each profile holds
// exactly the rules its tests need.

#include "tests/unit/engine/engine_fixture.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace vigil::engine::testing {

inline profile escalating_profile() {
  auto p = with_rules({high_rule("hr_high", vital_kind::heart_rate, 120, 0, priority::medium),
                       high_rule("hr_critical", vital_kind::heart_rate, 160, 0, priority::high)});
  p.escalation_high = {{"nurse", 0}, {"charge_nurse", 2 * minutes_ms}, {"physician", 5 * minutes_ms}};
  p.escalation_medium = {{"nurse", 0}, {"charge_nurse", 2 * minutes_ms}, {"physician", 5 * minutes_ms}};
  p.escalation_low = {{"nurse", 0}};
  p.audio.ack_silence_ms = 5 * minutes_ms;
  return p;
}

inline profile pause_profile() {
  auto p = with_rules({high_rule("hr_high", vital_kind::heart_rate, 120, 0, priority::medium),
                       low_rule("spo2_critical", vital_kind::spo2, 85, 0, priority::high)});
  p.audio.max_pause_ms = 2 * minutes_ms;
  return p;
}

inline std::size_t physiological_raised(const std::vector<event>& events) {
  std::size_t n = 0;
  for (const auto& e : events) n += e.type == event_type::alarm_raised && e.kind == alarm_kind::physiological ? 1 : 0;
  return n;
}

inline profile bp_profile() {
  auto confirmed = high_rule("systolic_high", vital_kind::nibp_systolic, 180, 0, priority::high);
  confirmed.confirm_readings = 2;
  confirmed.confirm_within_ms = 5 * minutes_ms;
  auto severe = high_rule("systolic_severe", vital_kind::nibp_systolic, 200, 0, priority::high);
  return with_rules({confirmed, severe});
}

inline limit_rule rise_rule(std::string id, vital_kind kind, double rise, millis delay = 0) {
  auto r = high_rule(std::move(id), kind, rise, delay);
  r.relative = true;
  r.phases = {phase::observation, phase::ready};
  return r;
}

inline profile stale_profile() {
  auto p = quiet_profile();
  p.technical.stale_after_ms = 30 * seconds_ms;
  p.technical.stale_intervals = 3;
  p.technical.max_interval_ms = 60 * seconds_ms;
  p.technical.stale_level = priority::medium;
  return p;
}

inline profile sensor_profile() {
  auto p = with_rules({low_rule("spo2_low", vital_kind::spo2, 90, 0), low_rule("hr_low", vital_kind::heart_rate, 40, 0)});
  p.technical.sensor_off_delay_ms = 10 * seconds_ms;
  p.technical.sensor_off_level = priority::medium;
  return p;
}

inline profile cuff_profile(millis interval) {
  auto p = quiet_profile();
  p.technical.cuff_interval_ms = interval;
  p.technical.post_dose_check_ms = 40 * minutes_ms;
  p.technical.cuff_grace_ms = 5 * minutes_ms;
  p.technical.cuff_level = priority::low;
  return p;
}

inline profile predose_profile() {
  auto p = quiet_profile();
  p.predose.require_reading = true;
  return p;
}

inline profile discharge_profile() {
  auto p = with_rules({high_rule("hr_high", vital_kind::heart_rate, 120, 0)});
  p.discharge.observation_ms = 120 * minutes_ms;
  p.discharge.hold_ms = 10 * minutes_ms;
  p.discharge.bp_band_percent = 20;
  p.discharge.spo2_min = 92;
  return p;
}

/// Opens, takes a 120/80 baseline with SpO2 98 and doses at t0 + 5 min.
inline millis start_dosed(rig& r) {
  r.open();
  r.cuff(120, 80, t0 + 1 * minutes_ms);
  r.feed(vital_kind::spo2, 98, t0 + 1 * minutes_ms);
  const millis dose = t0 + 5 * minutes_ms;
  const auto res = r.dose(dose);
  EXPECT_TRUE(res.ok()) << res.message;
  r.take();
  return dose;
}

inline ::testing::AssertionResult phase_becomes_at(rig& r, phase from, phase to, millis at) {
  r.advance(at - 1);
  auto before = r.take();
  if (count(before, event_type::phase_changed) != 0 || r.current() != from) {
    return ::testing::AssertionFailure() << "phase changed before " << at << ":\n" << describe(before);
  }
  r.advance(at);
  const auto changed = of_type(r.take(), event_type::phase_changed);
  if (changed.size() != 1 || changed[0].at != at || changed[0].from != from || changed[0].to != to) {
    return ::testing::AssertionFailure() << "expected " << name(from) << "->" << name(to) << " at " << at << ", got:\n"
                                         << describe(changed);
  }
  return ::testing::AssertionSuccess();
}

inline profile news2_profile() {
  auto p = quiet_profile();
  p.news2.enabled = true;
  p.news2.medium_at = 5;
  p.news2.high_at = 7;
  p.news2.single_three_is_medium = true;
  p.news2.delay_ms = 60 * seconds_ms;
  return p;
}

}  // namespace vigil::engine::testing
