// Sessions and phases: the pre-dose gate, readiness for discharge assessment, and a session's
// whole course from opening to closing.
// Each test builds a profile holding exactly the rules it needs (engine_fixture.hpp) and
// drives time explicitly: sample timestamps and engine::advance. Nothing sleeps.

#include "tests/unit/engine/engine_fixture.hpp"
#include "tests/unit/engine/family_profiles.hpp"

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

namespace vigil::engine::testing {
namespace {

constexpr millis s_ = seconds_ms;
constexpr millis min_ = minutes_ms;

// --- pre-dose gate --------------------------------------------------------------------------------------


TEST(EnginePredose, HighBaselineBpRaisesAnAdvisoryThatGatesTheDoseUntilAcknowledged) {
  rig r(predose_profile());
  r.open();
  r.cuff(150, 85, t0 + 1 * min_);
  const auto ev = r.take();
  const auto raised = of_type(ev, event_type::alarm_raised, "predose_bp");
  ASSERT_EQ(raised.size(), 1u);
  EXPECT_EQ(raised[0].kind, alarm_kind::advisory);
  EXPECT_EQ(raised[0].value, 150);
  EXPECT_FALSE(raised[0].text.empty());

  auto res = r.dose(t0 + 2 * min_);
  EXPECT_EQ(res.error, command_error::predose_gate);
  EXPECT_FALSE(res.message.empty());
  EXPECT_EQ(count(r.take(), event_type::dose_marked), 0u);
  EXPECT_EQ(r.current(), phase::baseline);

  ASSERT_TRUE(r.ack(raised[0].alarm, t0 + 3 * min_, "dr-b").ok());
  const auto ack_ev = r.take();
  EXPECT_EQ(count(ack_ev, event_type::alarm_acknowledged), 1u);
  EXPECT_EQ(count(ack_ev, event_type::alarm_cleared, "predose_bp"), 1u);  // advisories clear on ack
  res = r.dose(t0 + 4 * min_);
  EXPECT_TRUE(res.ok()) << res.message;
  EXPECT_EQ(r.current(), phase::observation);
}

TEST(EnginePredose, DiastolicAloneAboveNinetyRaisesTheAdvisory) {
  rig r(predose_profile());
  r.open();
  r.cuff(130, 95, t0 + 1 * min_);
  const auto raised = of_type(r.take(), event_type::alarm_raised, "predose_bp");
  ASSERT_EQ(raised.size(), 1u);
  EXPECT_EQ(raised[0].value, 95);
  EXPECT_EQ(r.dose(t0 + 2 * min_).error, command_error::predose_gate);
}

TEST(EnginePredose, ExactlyOneFortyOverNinetyIsNotAbove) {
  rig r(predose_profile());
  r.open();
  r.cuff(140, 90, t0 + 1 * min_);
  EXPECT_EQ(count(r.take(), event_type::alarm_raised), 0u);
  EXPECT_TRUE(r.dose(t0 + 2 * min_).ok());
}

TEST(EnginePredose, OverrideWithWhoAndReasonAllowsTheDose) {
  rig r(predose_profile());
  r.open();
  r.cuff(160, 100, t0 + 1 * min_);
  r.take();
  auto res = r.eng.apply(override_predose{r.chair, "dr-b", ""}, t0 + 2 * min_);
  EXPECT_EQ(res.error, command_error::invalid_argument);
  EXPECT_FALSE(res.message.empty());
  res = r.eng.apply(override_predose{r.chair, "", "usual for this patient"}, t0 + 2 * min_);
  EXPECT_EQ(res.error, command_error::invalid_argument);
  EXPECT_EQ(count(r.take(), event_type::predose_override), 0u);

  res = r.eng.apply(override_predose{r.chair, "dr-b", "usual for this patient"}, t0 + 2 * min_);
  ASSERT_TRUE(res.ok()) << res.message;
  const auto ev = r.take();
  const auto ov = of_type(ev, event_type::predose_override);
  ASSERT_EQ(ov.size(), 1u);
  EXPECT_EQ(ov[0].who, "dr-b");
  EXPECT_EQ(ov[0].text, "usual for this patient");
  EXPECT_EQ(ov[0].at, t0 + 2 * min_);
  EXPECT_EQ(count(ev, event_type::alarm_cleared, "predose_bp"), 1u);
  EXPECT_TRUE(r.dose(t0 + 3 * min_).ok());

  // After the dose the pre-dose check no longer applies.
  res = r.eng.apply(override_predose{r.chair, "dr-b", "again"}, t0 + 4 * min_);
  EXPECT_EQ(res.error, command_error::wrong_phase);
}

TEST(EnginePredose, NoReadingAtAllGatesTheDoseUnlessOverridden) {
  rig r(predose_profile());
  r.open();
  auto res = r.dose(t0 + 1 * min_);
  EXPECT_EQ(res.error, command_error::predose_gate);
  EXPECT_FALSE(res.message.empty());
  ASSERT_TRUE(r.eng.apply(override_predose{r.chair, "dr-b", "cuff broken, manual reading 120/80"}, t0 + 2 * min_).ok());
  EXPECT_TRUE(r.dose(t0 + 3 * min_).ok());
}

TEST(EnginePredose, FlaggedReadingDoesNotCountAsThePreDoseReading) {
  rig r(predose_profile());
  r.open();
  r.feed(vital_kind::nibp_systolic, 120, t0 + 1 * min_, quality::artifact);
  EXPECT_EQ(r.dose(t0 + 2 * min_).error, command_error::predose_gate);
  r.feed(vital_kind::nibp_systolic, 120, t0 + 3 * min_);
  EXPECT_TRUE(r.dose(t0 + 4 * min_).ok());
}

// --- discharge readiness --------------------------------------------------------------------------------




TEST(EngineDischarge, ReadyExactlyWhenTheObservationWindowEnds) {
  rig r(discharge_profile());
  const millis dose = start_dosed(r);
  r.cuff(126, 84, dose + 30 * min_);
  ASSERT_TRUE(phase_becomes_at(r, phase::observation, phase::ready, dose + 120 * min_));
  EXPECT_EQ(r.current(), phase::ready);
}

TEST(EngineDischarge, ReadyOnlyAfterTheCriteriaHeldForTheHoldTime) {
  rig r(discharge_profile());
  const millis dose = start_dosed(r);
  r.cuff(150, 80, dose + 10 * min_);   // +25%: outside the band
  r.cuff(150, 82, dose + 60 * min_);
  r.cuff(126, 84, dose + 114 * min_);  // back within 20% from here
  ASSERT_TRUE(phase_becomes_at(r, phase::observation, phase::ready, dose + 124 * min_));
}

TEST(EngineDischarge, LowSpo2OrNoBaselineKeepsTheSessionInObservation) {
  rig r(discharge_profile());
  const millis dose = start_dosed(r);
  r.cuff(126, 84, dose + 30 * min_);
  r.feed(vital_kind::spo2, 92, dose + 31 * min_);  // the criterion is > 92
  r.advance(dose + 4 * hour_ms);
  EXPECT_EQ(count(r.take(), event_type::phase_changed), 0u);
  EXPECT_EQ(r.current(), phase::observation);

  rig nobase(discharge_profile());
  nobase.open();
  nobase.feed(vital_kind::spo2, 98, t0 + 1 * min_);
  ASSERT_TRUE(nobase.dose(t0 + 5 * min_).ok());  // no BP reading required by this profile
  nobase.cuff(120, 80, t0 + 30 * min_);
  nobase.advance(t0 + 5 * hour_ms);
  EXPECT_EQ(nobase.current(), phase::observation);
}

TEST(EngineDischarge, AlarmDuringReadySendsThePhaseBackToObservation) {
  rig r(discharge_profile());
  const millis dose = start_dosed(r);
  r.cuff(126, 84, dose + 30 * min_);
  r.advance(dose + 120 * min_);
  ASSERT_EQ(r.current(), phase::ready);
  r.take();

  const millis alarm_at = dose + 130 * min_;
  r.feed(vital_kind::heart_rate, 130, alarm_at);
  const auto ev = r.take();
  ASSERT_EQ(count(ev, event_type::alarm_raised, "hr_high"), 1u);
  const auto changed = of_type(ev, event_type::phase_changed);
  ASSERT_EQ(changed.size(), 1u) << describe(ev);
  EXPECT_EQ(changed[0].at, alarm_at);
  EXPECT_EQ(changed[0].from, phase::ready);
  EXPECT_EQ(changed[0].to, phase::observation);

  // Cleared again: ready once the criteria have held for the hold time.
  const millis clear_at = dose + 131 * min_;
  r.feed(vital_kind::heart_rate, 80, clear_at);
  ASSERT_TRUE(phase_becomes_at(r, phase::observation, phase::ready, clear_at + 10 * min_));
}

TEST(EngineDischarge, TimerRaisedAlarmDuringReadySendsThePhaseBackToObservation) {
  // Same as above, but the alarm comes from a timer (the monitor disconnects) and no sample
  // follows: the session must not stay "ready" with an active alarm.
  rig r(discharge_profile());
  const millis dose = start_dosed(r);
  r.cuff(126, 84, dose + 30 * min_);
  r.advance(dose + 120 * min_);
  ASSERT_EQ(r.current(), phase::ready);
  r.take();
  const millis off = dose + 130 * min_;
  r.eng.on_device(r.chair, false, off);
  r.advance(off + 10 * s_);
  const auto ev = r.take();
  ASSERT_EQ(count(ev, event_type::alarm_raised, "device_disconnected"), 1u);
  EXPECT_EQ(r.current(), phase::observation) << describe(ev);
  const auto changed = of_type(ev, event_type::phase_changed);
  ASSERT_EQ(changed.size(), 1u);
  EXPECT_EQ(changed[0].at, off + 10 * s_);
}

TEST(EngineDischarge, NotReadyWhenADelayedAlarmIsRaisedAtTheSameMoment) {
  // A delayed condition that started before the window ends becomes an alarm exactly when
  // the window ends: there is then an active alarm, so the session is not ready.
  auto p = discharge_profile();
  p.limits = {high_rule("hr_high", vital_kind::heart_rate, 120, 60 * s_)};
  rig r(p);
  const millis dose = start_dosed(r);
  r.cuff(126, 84, dose + 30 * min_);
  r.feed(vital_kind::heart_rate, 130, dose + 119 * min_);
  r.advance(dose + 120 * min_);
  const auto ev = r.take();
  ASSERT_EQ(count(ev, event_type::alarm_raised, "hr_high"), 1u);
  EXPECT_EQ(r.current(), phase::observation) << describe(ev);
  EXPECT_EQ(count(ev, event_type::phase_changed), 0u) << describe(ev);
}

TEST(EngineDischarge, ASecondDoseRestartsTheObservationWindow) {
  rig r(discharge_profile());
  const millis dose = start_dosed(r);
  r.cuff(126, 84, dose + 30 * min_);
  const millis second = dose + 60 * min_;
  ASSERT_TRUE(r.dose(second).ok());
  const auto ev = r.take();
  EXPECT_EQ(count(ev, event_type::dose_marked), 1u);
  EXPECT_EQ(count(ev, event_type::baseline_set), 0u);  // the baseline is the first dose's
  EXPECT_EQ(r.view().dose_at, second);
  ASSERT_TRUE(phase_becomes_at(r, phase::observation, phase::ready, second + 120 * min_));
}


// --- session lifecycle -------------------------------------------------------------------------------------

TEST(EngineLifecycle, OpenBaselineDoseReadyClose) {
  auto p = discharge_profile();
  p.technical.stale_after_ms = 30 * s_;
  rig r(p);
  r.eng.on_device(r.chair, true, t0);
  auto res = r.eng.apply(open_session{r.chair, "patient-7", "test", "nurse-a"}, t0);
  ASSERT_TRUE(res.ok()) << res.message;
  const auto id = res.session;
  EXPECT_NE(id, 0u);
  auto ev = r.take();
  const auto opened = of_type(ev, event_type::session_opened);
  ASSERT_EQ(opened.size(), 1u);
  EXPECT_EQ(opened[0].session, id);
  EXPECT_EQ(opened[0].at, t0);
  EXPECT_EQ(opened[0].who, "nurse-a");
  EXPECT_EQ(opened[0].to, phase::baseline);
  auto v = r.view();
  EXPECT_EQ(v.id, id);
  EXPECT_EQ(v.patient_ref, "patient-7");
  EXPECT_EQ(v.profile, "test");
  EXPECT_EQ(v.current, phase::baseline);
  EXPECT_EQ(v.opened_at, t0);
  EXPECT_FALSE(v.dose_at);

  // Opening twice is refused.
  res = r.eng.apply(open_session{r.chair, "patient-8", "test", "nurse-a"}, t0 + 1);
  EXPECT_EQ(res.error, command_error::session_already_open);
  EXPECT_FALSE(res.message.empty());

  for (millis t = t0 + 2 * s_; t < t0 + 5 * min_; t += 10 * s_) {
    r.feed(vital_kind::heart_rate, 72, t);
    r.feed(vital_kind::spo2, 98, t);
  }
  r.cuff(120, 80, t0 + 4 * min_ + 53 * s_);
  const millis dose = t0 + 5 * min_;
  res = r.dose(dose, "dr-b");
  ASSERT_TRUE(res.ok()) << res.message;
  ev = r.take();
  const auto dosed = of_type(ev, event_type::dose_marked);
  ASSERT_EQ(dosed.size(), 1u);
  EXPECT_EQ(dosed[0].who, "dr-b");
  EXPECT_EQ(dosed[0].at, dose);
  EXPECT_NE(dosed[0].text.find("iv"), std::string::npos);
  const auto base = of_type(ev, event_type::baseline_set);
  ASSERT_EQ(base.size(), 1u);
  EXPECT_NE(base[0].text.find("nibp_systolic 120.0"), std::string::npos) << base[0].text;
  EXPECT_NE(base[0].text.find("heart_rate 72.0"), std::string::npos) << base[0].text;
  const auto to_obs = of_type(ev, event_type::phase_changed);
  ASSERT_EQ(to_obs.size(), 1u);
  EXPECT_EQ(to_obs[0].from, phase::baseline);
  EXPECT_EQ(to_obs[0].to, phase::observation);
  EXPECT_EQ(to_obs[0].at, dose);
  EXPECT_EQ(r.view().dose_at, dose);

  // Vitals through the observation window.
  for (millis t = dose + 5 * s_; t <= dose + 125 * min_; t += 10 * s_) {
    r.feed(vital_kind::heart_rate, 75, t);
    r.feed(vital_kind::spo2, 97, t);
    if ((t - dose) % (15 * min_) < 10 * s_) r.cuff(125, 82, t + 2);
  }
  ev = r.take();
  EXPECT_EQ(count(ev, event_type::alarm_raised), 0u) << describe(ev);
  const auto to_ready = of_type(ev, event_type::phase_changed);
  ASSERT_EQ(to_ready.size(), 1u);
  EXPECT_EQ(to_ready[0].to, phase::ready);
  EXPECT_EQ(to_ready[0].at, dose + 120 * min_);

  // A dose in ready is refused; closing ends the session.
  res = r.dose(dose + 125 * min_ + 1 * s_);
  EXPECT_EQ(res.error, command_error::wrong_phase);
  EXPECT_FALSE(res.message.empty());
  const millis close_at = dose + 125 * min_ + 2 * s_;
  res = r.close(close_at);
  ASSERT_TRUE(res.ok()) << res.message;
  EXPECT_EQ(res.session, id);
  ev = r.take();
  const auto closed_phase = of_type(ev, event_type::phase_changed);
  ASSERT_EQ(closed_phase.size(), 1u);
  EXPECT_EQ(closed_phase[0].from, phase::ready);
  EXPECT_EQ(closed_phase[0].to, phase::closed);
  EXPECT_EQ(closed_phase[0].at, close_at);
  const auto closed = of_type(ev, event_type::session_closed);
  ASSERT_EQ(closed.size(), 1u);
  EXPECT_EQ(closed[0].session, id);
  EXPECT_EQ(closed[0].who, "nurse-a");
  EXPECT_EQ(closed[0].at, close_at);
  EXPECT_FALSE(r.eng.session(r.chair));
  EXPECT_TRUE(r.eng.sessions().empty());

  // Nothing more happens on the closed session.
  r.advance(close_at + 5 * hour_ms);
  EXPECT_TRUE(r.take().empty());
  EXPECT_EQ(r.close(close_at + 5 * hour_ms).error, command_error::no_open_session);
}

TEST(EngineLifecycle, CloseClearsEveryActiveAlarm) {
  auto p = escalating_profile();
  p.technical.stale_after_ms = 30 * s_;
  p.technical.max_interval_ms = 10 * s_;  // a stream of one sample is stale after max(30 s, 3 x 10 s)
  // Latching, so that both stay active once the heart rate behind them is no longer current.
  for (auto& rule : p.limits) rule.latching = true;
  rig r(p);
  const auto id = r.open();
  r.feed(vital_kind::heart_rate, 170, t0 + 1 * s_);  // hr_high and hr_critical
  r.advance(t0 + 1 * min_);                         // both streams stale too
  const auto active = r.view().alarms;
  ASSERT_EQ(active.size(), 4u);  // hr_high, hr_critical, stale_heart_rate, stale_spo2
  r.take();
  ASSERT_TRUE(r.close(t0 + 2 * min_).ok());
  const auto ev = r.take();
  const auto cleared = of_type(ev, event_type::alarm_cleared);
  ASSERT_EQ(cleared.size(), 4u);
  std::set<std::uint64_t> ids;
  for (const auto& a : active) ids.insert(a.id);
  for (const auto& c : cleared) {
    EXPECT_EQ(ids.count(c.alarm), 1u);
    EXPECT_EQ(c.at, t0 + 2 * min_);
  }
  const auto changed = of_type(ev, event_type::phase_changed);
  ASSERT_EQ(changed.size(), 1u);
  EXPECT_EQ(changed[0].from, phase::baseline);
  EXPECT_EQ(changed[0].to, phase::closed);
  ASSERT_FALSE(ev.empty());
  EXPECT_EQ(ev.back().type, event_type::session_closed);
  for (const auto& e : ev) EXPECT_EQ(e.session, id) << describe(e);
  EXPECT_FALSE(r.eng.session(r.chair));
}

TEST(EngineLifecycle, AbortNeedsAReason) {
  rig r(quiet_profile());
  const auto id = r.open();
  r.take();
  auto res = r.close(t0 + 1 * min_, true, "");
  EXPECT_EQ(res.error, command_error::invalid_argument);
  EXPECT_FALSE(res.message.empty());
  EXPECT_TRUE(r.eng.session(r.chair));
  EXPECT_TRUE(r.take().empty());

  res = r.eng.apply(close_session{r.chair, "", false, ""}, t0 + 1 * min_);
  EXPECT_EQ(res.error, command_error::invalid_argument);
  EXPECT_TRUE(r.eng.session(r.chair));

  res = r.close(t0 + 2 * min_, true, "patient vomiting, session stopped");
  ASSERT_TRUE(res.ok()) << res.message;
  const auto ev = r.take();
  const auto changed = of_type(ev, event_type::phase_changed);
  ASSERT_EQ(changed.size(), 1u);
  EXPECT_EQ(changed[0].to, phase::aborted);
  const auto closed = of_type(ev, event_type::session_closed);
  ASSERT_EQ(closed.size(), 1u);
  EXPECT_EQ(closed[0].session, id);
  EXPECT_EQ(closed[0].text, "patient vomiting, session stopped");
  EXPECT_FALSE(r.eng.session(r.chair));
}

TEST(EngineLifecycle, UnknownProfileAndMissingChairAreRefused) {
  rig r(quiet_profile());
  auto res = r.eng.apply(open_session{r.chair, "p", "no-such-profile", "nurse-a"}, t0);
  EXPECT_EQ(res.error, command_error::unknown_profile);
  EXPECT_FALSE(res.message.empty());
  res = r.eng.apply(open_session{"", "p", "test", "nurse-a"}, t0);
  EXPECT_EQ(res.error, command_error::invalid_argument);
  EXPECT_FALSE(res.message.empty());
  EXPECT_TRUE(r.take().empty());
  EXPECT_TRUE(r.eng.sessions().empty());
}

TEST(EngineLifecycle, APatientReferenceIsAnIdentifierNotANameOrADate) {
  rig r(quiet_profile());
  const std::vector<std::string> identifiers = {"P-0001",      "MRN_123.45", "a", std::string(64, 'x'),
                                                "P-2024-0001", "19700101"};
  for (const std::string& ref : identifiers) {
    auto res = r.eng.apply(open_session{r.chair, ref, "test", "nurse-a"}, t0);
    ASSERT_TRUE(res.ok()) << ref << ": " << res.message;
    ASSERT_TRUE(r.close(t0).ok());
  }
  r.take();
  const std::vector<std::string> refused = {"",         std::string(65, 'x'), "Jane Doe 1970-01-01", "Jane Doe",
                                            "P-0001 ",  "Jane,Doe",           "P/0001",              "J\u00f6rg",
                                            "1970-01-01", "P-1970-1-1",       "Doe.01.02.1970",      "1.2.1970"};
  for (const std::string& ref : refused) {
    const auto res = r.eng.apply(open_session{r.chair, ref, "test", "nurse-a"}, t0);
    EXPECT_EQ(res.error, command_error::invalid_argument) << ref;
    EXPECT_NE(res.message.find("patient_ref"), std::string::npos) << res.message;
  }
  EXPECT_TRUE(r.take().empty());
  EXPECT_TRUE(r.eng.sessions().empty());
}

TEST(EngineLifecycle, SessionIdsAreFreshAndChairsIndependent) {
  engine eng(std::vector<profile>{quiet_profile()});
  eng.on_device("a", true, t0);
  eng.on_device("b", true, t0);
  const auto a = eng.apply(open_session{"a", "p1", "test", "n"}, t0);
  const auto b = eng.apply(open_session{"b", "p2", "test", "n"}, t0);
  ASSERT_TRUE(a.ok());
  ASSERT_TRUE(b.ok());
  EXPECT_NE(a.session, b.session);
  ASSERT_TRUE(eng.apply(close_session{"a", "n", false, ""}, t0 + 1).ok());
  const auto a2 = eng.apply(open_session{"a", "p3", "test", "n"}, t0 + 2);
  ASSERT_TRUE(a2.ok());
  EXPECT_NE(a2.session, a.session);
  EXPECT_NE(a2.session, b.session);
  const auto all = eng.sessions();
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].chair, "a");
  EXPECT_EQ(all[1].chair, "b");
}

TEST(EngineLifecycle, AdvancingOneChairLeavesTheOthersClockAlone) {
  auto p = stale_profile();
  engine eng(std::vector<profile>{p});
  eng.on_device("a", true, t0);
  eng.on_device("b", true, t0);
  ASSERT_TRUE(eng.apply(open_session{"a", "p1", "test", "n"}, t0).ok());
  ASSERT_TRUE(eng.apply(open_session{"b", "p2", "test", "n"}, t0).ok());
  eng.take_events();
  eng.advance("a", t0 + 1 * min_);
  const auto ev = eng.take_events();
  EXPECT_EQ(count(ev, event_type::alarm_raised), 2u);
  for (const auto& e : ev) EXPECT_EQ(e.chair, "a");
  EXPECT_EQ(eng.clock("a"), t0 + 1 * min_);
  EXPECT_EQ(eng.clock("b"), t0);
  EXPECT_FALSE(eng.clock("unknown"));
}

}  // namespace
}  // namespace vigil::engine::testing
