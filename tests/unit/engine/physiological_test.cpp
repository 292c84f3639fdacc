// Physiological rules, rule by rule: limit delays to the millisecond, hysteresis, latching,
// cuff confirmation, inclusive limits, rules relative to the baseline, and NEWS2 as an alarm source.
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

// --- limit rules: the condition delay ------------------------------------------------------------

TEST(EngineLimits, HighLimitRaisedExactlyAtTheDelayAndNotATickBefore) {
  rig r(with_rules({high_rule("hr_high", vital_kind::heart_rate, 120, 60 * s_)}));
  const auto session = r.open();
  r.take();
  const millis since = t0 + 1 * s_;
  EXPECT_EQ(r.feed(vital_kind::heart_rate, 130, since), sample_outcome::applied);
  EXPECT_EQ(count(r.take(), event_type::alarm_raised), 0u);
  ASSERT_TRUE(raised_exactly_at(r, "hr_high", since + 60 * s_));

  const auto raised = first(r.log, event_type::alarm_raised, "hr_high");
  ASSERT_TRUE(raised);
  EXPECT_EQ(raised->chair, r.chair);
  EXPECT_EQ(raised->session, session);
  EXPECT_NE(raised->alarm, 0u);
  EXPECT_EQ(raised->kind, alarm_kind::physiological);
  EXPECT_EQ(raised->level, priority::medium);
  EXPECT_EQ(raised->value, 130);
  EXPECT_FALSE(raised->text.empty());

  const auto a = r.alarm("hr_high");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->id, raised->alarm);
  EXPECT_EQ(a->raised_at, since + 60 * s_);
  EXPECT_TRUE(a->condition);
  EXPECT_FALSE(a->acknowledged);
  EXPECT_TRUE(a->audible);
  EXPECT_EQ(a->tier, -1);  // no escalation tiers in this profile
}

TEST(EngineLimits, LowLimitRaisedExactlyAtTheDelay) {
  rig r(with_rules({low_rule("spo2_low", vital_kind::spo2, 90, 30 * s_, priority::high)}));
  r.open();
  const millis since = t0 + 5 * s_;
  r.feed(vital_kind::spo2, 97, t0 + 1 * s_);
  r.feed(vital_kind::spo2, 89, since);
  ASSERT_TRUE(raised_exactly_at(r, "spo2_low", since + 30 * s_));
  const auto a = r.alarm("spo2_low");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->level, priority::high);
  EXPECT_EQ(a->value, 89);
}

TEST(EngineLimits, SamplesStreamingThroughTheDelayRaiseAtTheDelayToo) {
  // The same rule driven by samples alone (no advance): the alarm is raised at since + delay,
  // by the sample arriving at that moment, and not by the one a millisecond earlier.
  rig r(with_rules({high_rule("hr_high", vital_kind::heart_rate, 120, 60 * s_)}));
  r.open();
  const millis since = t0 + 1 * s_;
  for (millis t = since; t < since + 60 * s_; t += 1 * s_) r.feed(vital_kind::heart_rate, 130, t);
  r.feed(vital_kind::heart_rate, 131, since + 60 * s_ - 1);
  EXPECT_EQ(count(r.take(), event_type::alarm_raised), 0u);
  r.feed(vital_kind::heart_rate, 132, since + 60 * s_);
  const auto raised = of_type(r.take(), event_type::alarm_raised, "hr_high");
  ASSERT_EQ(raised.size(), 1u);
  EXPECT_EQ(raised[0].at, since + 60 * s_);
}

TEST(EngineLimits, ZeroDelayRaisesOnTheSample) {
  rig r(with_rules({high_rule("hr_high", vital_kind::heart_rate, 120, 0)}));
  r.open();
  r.feed(vital_kind::heart_rate, 121, t0 + 7);
  const auto raised = of_type(r.take(), event_type::alarm_raised, "hr_high");
  ASSERT_EQ(raised.size(), 1u);
  EXPECT_EQ(raised[0].at, t0 + 7);
}

TEST(EngineLimits, ValueExactlyAtTheLimitIsNotACondition) {
  rig r(with_rules({high_rule("hr_high", vital_kind::heart_rate, 120, 0), low_rule("spo2_low", vital_kind::spo2, 90, 0)}));
  r.open();
  r.feed(vital_kind::heart_rate, 120, t0 + 1 * s_);
  r.feed(vital_kind::spo2, 90, t0 + 1 * s_);
  r.advance(t0 + 1 * hour_ms);
  EXPECT_EQ(count(r.take(), event_type::alarm_raised), 0u);
}

TEST(EngineLimits, ConditionBrokenBeforeTheDelayRaisesNothingAndRestartsTheDelay) {
  rig r(with_rules({high_rule("hr_high", vital_kind::heart_rate, 120, 60 * s_)}));
  r.open();
  const millis since = t0 + 1 * s_;
  r.feed(vital_kind::heart_rate, 130, since);
  r.feed(vital_kind::heart_rate, 100, since + 59 * s_);  // broken a second before the delay
  r.advance(since + 10 * min_);
  EXPECT_EQ(count(r.take(), event_type::alarm_raised), 0u);

  // The condition returns: the delay counts again from the new start.
  const millis again = since + 10 * min_ + 1;
  r.feed(vital_kind::heart_rate, 125, again);
  ASSERT_TRUE(raised_exactly_at(r, "hr_high", again + 60 * s_));
}

TEST(EngineLimits, RaisedOnceWhileTheConditionPersists) {
  rig r(with_rules({high_rule("hr_high", vital_kind::heart_rate, 120, 10 * s_)}));
  r.open();
  for (millis t = t0 + 1 * s_; t < t0 + 30 * min_; t += 1 * s_) r.feed(vital_kind::heart_rate, 130, t);
  EXPECT_EQ(count(r.take(), event_type::alarm_raised, "hr_high"), 1u);
  EXPECT_EQ(r.view().alarms.size(), 1u);
}

// --- evidence: a condition lasts only while its reading is current (alarms.md 5.7, 6) ---------------------

/// A 1 Hz monitor: stale and evidence limits of 30 s (3 x 1 s, floor 30 s).
profile evidence_profile(std::vector<limit_rule> rules) {
  auto p = with_rules(std::move(rules));
  p.technical.stale_after_ms = 30 * s_;
  p.technical.max_interval_ms = 60 * s_;
  return p;
}

/// Feeds `kind` at 1 Hz with `value` from `from` to `to` inclusive; returns the next second.
millis stream(rig& r, vital_kind kind, double value, millis from, millis to) {
  for (millis t = from; t <= to; t += 1 * s_) r.feed(kind, value, t);
  return to + 1 * s_;
}

TEST(EngineEvidence, AnAlarmOnAReadingThatIsNoLongerCurrentClears) {
  rig r(evidence_profile({high_rule("hr_high", vital_kind::heart_rate, 120, 0)}));
  r.open();
  millis t = stream(r, vital_kind::heart_rate, 70, t0 + 1 * s_, t0 + 60 * s_);
  r.feed(vital_kind::heart_rate, 170, t);  // one reading, then the ECG sends nothing more
  ASSERT_TRUE(r.alarm("hr_high"));
  r.take();
  r.advance(t + 30 * s_ - 1);
  EXPECT_EQ(count(r.take(), event_type::alarm_cleared, "hr_high"), 0u);
  r.advance(t + 30 * s_);
  const auto cleared = of_type(r.take(), event_type::alarm_cleared, "hr_high");
  ASSERT_EQ(cleared.size(), 1u);
  EXPECT_EQ(cleared[0].at, t + 30 * s_);
  EXPECT_EQ(cleared[0].text, "no current heart_rate reading");
}

TEST(EngineEvidence, ALatchedAlarmOnAReadingThatIsNoLongerCurrentStaysButStopsEscalating) {
  auto rule = low_rule("hr_critical_low", vital_kind::heart_rate, 40, 0, priority::high);
  rule.latching = true;
  auto p = evidence_profile({rule});
  p.escalation_high = {{"nurse", 0}, {"charge_nurse", 2 * min_}, {"physician", 5 * min_}};
  rig r(p);
  r.open();
  millis t = stream(r, vital_kind::heart_rate, 70, t0 + 1 * s_, t0 + 60 * s_);
  r.feed(vital_kind::heart_rate, 11, t);  // one implausible reading, then nothing
  r.advance(t + 1 * hour_ms);
  const auto ev = r.take();
  const auto escalated = of_type(ev, event_type::alarm_escalated, "hr_critical_low");
  ASSERT_EQ(escalated.size(), 1u) << describe(ev);  // the nurse at once; nobody after
  EXPECT_EQ(escalated[0].responder, "nurse");
  const auto a = r.alarm("hr_critical_low");
  ASSERT_TRUE(a);  // latched: a nurse acknowledges it
  EXPECT_FALSE(a->condition);
  EXPECT_EQ(count(ev, event_type::alarm_cleared, "hr_critical_low"), 0u);
}

TEST(EngineEvidence, AConditionMustHaveCurrentEvidenceThroughItsDelay) {
  rig r(evidence_profile({low_rule("spo2_low", vital_kind::spo2, 90, 60 * s_)}));
  r.open();
  millis t = stream(r, vital_kind::spo2, 97, t0 + 1 * s_, t0 + 60 * s_);
  r.feed(vital_kind::spo2, 85, t);  // one reading below, then the oximeter sends nothing
  r.advance(t + 1 * hour_ms);
  EXPECT_EQ(count(r.take(), event_type::alarm_raised, "spo2_low"), 0u);
}

TEST(EngineEvidence, News2DropsAHeartRateThatIsNoLongerCurrentAndFallsBackToThePulse) {
  auto p = evidence_profile({});
  p.news2.enabled = true;
  p.news2.medium_at = 5;
  p.news2.high_at = 7;
  p.news2.single_three_is_medium = true;
  p.news2.delay_ms = 60 * s_;
  rig r(p);
  r.open();
  millis t = t0 + 1 * s_;
  for (; t <= t0 + 3 * min_; t += 1 * s_) {
    r.feed(vital_kind::heart_rate, 135, t);  // 3 points
    r.feed(vital_kind::pulse_rate, 80, t + 1);
    r.feed(vital_kind::spo2, 97, t + 2);
    r.feed(vital_kind::respiratory_rate, 16, t + 3);
  }
  ASSERT_TRUE(r.alarm("news2_urgent"));
  const millis last_hr = t - 1 * s_;
  // The ECG leads come off and send nothing; the oximeter goes on.
  for (; t <= t0 + 6 * min_; t += 1 * s_) {
    r.feed(vital_kind::pulse_rate, 80, t + 1);
    r.feed(vital_kind::spo2, 97, t + 2);
    r.feed(vital_kind::respiratory_rate, 16, t + 3);
  }
  const auto cleared = of_type(r.take(), event_type::alarm_cleared, "news2_urgent");
  ASSERT_EQ(cleared.size(), 1u);
  EXPECT_EQ(cleared[0].at, last_hr + 30 * s_);
  EXPECT_EQ(cleared[0].text, "NEWS2 down to 0");
}

// --- hysteresis ------------------------------------------------------------------------------------

TEST(EngineHysteresis, HighLimitClearsOnlyOnceTheValueIsHysteresisBackInside) {
  auto rule = high_rule("hr_high", vital_kind::heart_rate, 120, 0);
  rule.hysteresis = 5;
  rig r(with_rules({rule}));
  r.open();
  const millis s = t0 + 1 * s_;
  r.feed(vital_kind::heart_rate, 125, s);
  const auto raised = first(r.take(), event_type::alarm_raised, "hr_high");
  ASSERT_TRUE(raised);

  r.feed(vital_kind::heart_rate, 118, s + 1 * s_);  // below the limit, inside the band: kept
  r.feed(vital_kind::heart_rate, 116, s + 2 * s_);
  EXPECT_EQ(count(r.take(), event_type::alarm_cleared), 0u);
  ASSERT_TRUE(r.alarm("hr_high"));
  EXPECT_TRUE(r.must_alarm("hr_high").condition);

  r.feed(vital_kind::heart_rate, 115, s + 3 * s_);  // 120 - 5: cleared
  const auto cleared = of_type(r.take(), event_type::alarm_cleared, "hr_high");
  ASSERT_EQ(cleared.size(), 1u);
  EXPECT_EQ(cleared[0].at, s + 3 * s_);
  EXPECT_EQ(cleared[0].alarm, raised->alarm);
  EXPECT_FALSE(cleared[0].text.empty());
  EXPECT_FALSE(r.alarm("hr_high"));

  // 118 after clearing is below the limit: no new alarm; 121 is a new alarm with a new id.
  r.feed(vital_kind::heart_rate, 118, s + 4 * s_);
  EXPECT_EQ(count(r.take(), event_type::alarm_raised), 0u);
  r.feed(vital_kind::heart_rate, 121, s + 5 * s_);
  const auto again = of_type(r.take(), event_type::alarm_raised, "hr_high");
  ASSERT_EQ(again.size(), 1u);
  EXPECT_NE(again[0].alarm, raised->alarm);
}

TEST(EngineHysteresis, LowLimitClearsOnlyOnceTheValueIsHysteresisBackInside) {
  auto rule = low_rule("spo2_low", vital_kind::spo2, 90, 0);
  rule.hysteresis = 2;
  rig r(with_rules({rule}));
  r.open();
  r.feed(vital_kind::spo2, 85, t0 + 1 * s_);
  r.feed(vital_kind::spo2, 91, t0 + 2 * s_);
  EXPECT_TRUE(r.alarm("spo2_low"));
  r.feed(vital_kind::spo2, 92, t0 + 3 * s_);
  EXPECT_FALSE(r.alarm("spo2_low"));
  const auto ev = r.take();
  EXPECT_EQ(count(ev, event_type::alarm_raised, "spo2_low"), 1u);
  ASSERT_EQ(count(ev, event_type::alarm_cleared, "spo2_low"), 1u);
  EXPECT_EQ(first(ev, event_type::alarm_cleared)->at, t0 + 3 * s_);
}

// --- latching --------------------------------------------------------------------------------------

TEST(EngineLatching, LatchedAlarmStaysAfterTheConditionClearsUntilAcknowledged) {
  auto rule = high_rule("hr_critical", vital_kind::heart_rate, 140, 0, priority::high);
  rule.latching = true;
  rig r(with_rules({rule}));
  r.open();
  r.feed(vital_kind::heart_rate, 150, t0 + 1 * s_);
  const auto raised = first(r.take(), event_type::alarm_raised, "hr_critical");
  ASSERT_TRUE(raised);

  r.feed(vital_kind::heart_rate, 80, t0 + 2 * s_);
  r.advance(t0 + 2 * hour_ms);
  EXPECT_EQ(count(r.take(), event_type::alarm_cleared), 0u);
  auto a = r.alarm("hr_critical");
  ASSERT_TRUE(a);
  EXPECT_FALSE(a->condition);
  EXPECT_FALSE(a->acknowledged);
  EXPECT_TRUE(a->audible);

  const millis ack_at = t0 + 2 * hour_ms + 1;
  const auto res = r.ack(raised->alarm, ack_at, "nurse-x");
  ASSERT_TRUE(res.ok()) << res.message;
  const auto ev = r.take();
  const auto acked = of_type(ev, event_type::alarm_acknowledged);
  ASSERT_EQ(acked.size(), 1u);
  EXPECT_EQ(acked[0].alarm, raised->alarm);
  EXPECT_EQ(acked[0].who, "nurse-x");
  EXPECT_EQ(acked[0].at, ack_at);
  const auto cleared = of_type(ev, event_type::alarm_cleared);
  ASSERT_EQ(cleared.size(), 1u);
  EXPECT_EQ(cleared[0].alarm, raised->alarm);
  EXPECT_EQ(cleared[0].at, ack_at);
  EXPECT_TRUE(r.view().alarms.empty());
}

TEST(EngineLatching, AcknowledgedLatchedAlarmClearsWhenTheConditionGoes) {
  auto rule = high_rule("hr_critical", vital_kind::heart_rate, 140, 0, priority::high);
  rule.latching = true;
  rig r(with_rules({rule}));
  r.open();
  r.feed(vital_kind::heart_rate, 150, t0 + 1 * s_);
  const auto id = r.must_alarm("hr_critical").id;
  ASSERT_TRUE(r.ack(id, t0 + 2 * s_).ok());
  EXPECT_EQ(count(r.take(), event_type::alarm_cleared), 0u);  // condition persists: silenced, not cleared
  EXPECT_TRUE(r.must_alarm("hr_critical").acknowledged);
  r.feed(vital_kind::heart_rate, 80, t0 + 3 * s_);
  const auto cleared = of_type(r.take(), event_type::alarm_cleared);
  ASSERT_EQ(cleared.size(), 1u);
  EXPECT_EQ(cleared[0].alarm, id);
  EXPECT_EQ(cleared[0].at, t0 + 3 * s_);
}

TEST(EngineLatching, LatchedAlarmWhoseConditionReturnsIsSilencedNotClearedByAck) {
  // A latched alarm whose condition went away and came back describes a present condition:
  // its view says so, and acknowledging it silences it (as for any alarm whose condition
  // persists) instead of clearing it and raising a fresh alarm for the same rule.
  auto rule = high_rule("hr_critical", vital_kind::heart_rate, 140, 0, priority::high);
  rule.latching = true;
  rig r(with_rules({rule}));
  r.open();
  r.feed(vital_kind::heart_rate, 150, t0 + 1 * s_);
  const auto id = r.must_alarm("hr_critical").id;
  r.feed(vital_kind::heart_rate, 80, t0 + 2 * s_);   // latched, condition gone
  r.feed(vital_kind::heart_rate, 155, t0 + 3 * s_);  // condition back
  r.take();
  ASSERT_TRUE(r.ack(id, t0 + 4 * s_).ok());
  const auto ev = r.take();
  EXPECT_EQ(count(ev, event_type::alarm_cleared), 0u) << describe(ev);
  EXPECT_EQ(count(ev, event_type::alarm_raised), 0u) << describe(ev);
  const auto a = r.alarm("hr_critical");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->id, id);
  EXPECT_TRUE(a->condition);
  EXPECT_TRUE(a->acknowledged);
}


// --- cuff confirmation -----------------------------------------------------------------------------
// (Cuff readings above 140/90 in the baseline phase also raise the predose_bp advisory, so these
// tests count physiological alarms.)



TEST(EngineBpConfirmation, OneReadingAboveRaisesNothing) {
  rig r(bp_profile());
  r.open();
  r.feed(vital_kind::nibp_systolic, 190, t0 + 1 * min_);
  r.advance(t0 + 3 * hour_ms);
  EXPECT_EQ(physiological_raised(r.take()), 0u);
}

TEST(EngineBpConfirmation, SecondReadingWithinTheWindowRaises) {
  rig r(bp_profile());
  r.open();
  const millis a = t0 + 1 * min_;
  r.feed(vital_kind::nibp_systolic, 190, a);
  r.advance(a + 4 * min_ - 1);
  EXPECT_EQ(physiological_raised(r.take()), 0u);
  r.feed(vital_kind::nibp_systolic, 186, a + 4 * min_);
  const auto raised = of_type(r.take(), event_type::alarm_raised, "systolic_high");
  ASSERT_EQ(raised.size(), 1u);
  EXPECT_EQ(raised[0].at, a + 4 * min_);
  EXPECT_EQ(raised[0].value, 186);
  EXPECT_EQ(raised[0].level, priority::high);
}

TEST(EngineBpConfirmation, WindowIsInclusiveAtExactlyFiveMinutes) {
  rig r(bp_profile());
  r.open();
  const millis a = t0 + 1 * min_;
  r.feed(vital_kind::nibp_systolic, 190, a);
  r.feed(vital_kind::nibp_systolic, 190, a + 5 * min_);
  EXPECT_EQ(count(r.take(), event_type::alarm_raised, "systolic_high"), 1u);
}

TEST(EngineBpConfirmation, SecondReadingAfterTheWindowStartsOver) {
  rig r(bp_profile());
  r.open();
  const millis a = t0 + 1 * min_;
  r.feed(vital_kind::nibp_systolic, 190, a);
  r.feed(vital_kind::nibp_systolic, 190, a + 5 * min_ + 1);  // just too late: counts as a first reading
  r.advance(a + 8 * min_);
  EXPECT_EQ(physiological_raised(r.take()), 0u);
  r.feed(vital_kind::nibp_systolic, 195, a + 9 * min_);  // within 5 min of the previous one
  const auto raised = of_type(r.take(), event_type::alarm_raised, "systolic_high");
  ASSERT_EQ(raised.size(), 1u);
  EXPECT_EQ(raised[0].at, a + 9 * min_);
}

TEST(EngineBpConfirmation, ANormalReadingInBetweenStartsOver) {
  rig r(bp_profile());
  r.open();
  const millis a = t0 + 1 * min_;
  r.feed(vital_kind::nibp_systolic, 190, a);
  r.feed(vital_kind::nibp_systolic, 150, a + 1 * min_);
  r.feed(vital_kind::nibp_systolic, 190, a + 2 * min_);
  EXPECT_EQ(physiological_raised(r.take()), 0u);
  r.feed(vital_kind::nibp_systolic, 190, a + 3 * min_);
  EXPECT_EQ(count(r.take(), event_type::alarm_raised, "systolic_high"), 1u);
}

TEST(EngineBpConfirmation, SevereLimitRaisesOnASingleReading) {
  rig r(bp_profile());
  r.open();
  r.feed(vital_kind::nibp_systolic, 210, t0 + 1 * min_);
  const auto ev = r.take();
  const auto raised = of_type(ev, event_type::alarm_raised, "systolic_severe");
  ASSERT_EQ(raised.size(), 1u);
  EXPECT_EQ(raised[0].at, t0 + 1 * min_);
  EXPECT_EQ(count(ev, event_type::alarm_raised, "systolic_high"), 0u);  // needs a second reading
}

TEST(EngineBpConfirmation, ConfirmedConditionStillWaitsForTheRuleDelay) {
  auto p = bp_profile();
  p.limits[0].delay_ms = 30 * s_;
  rig r(p);
  r.open();
  const millis a = t0 + 1 * min_;
  r.feed(vital_kind::nibp_systolic, 190, a);
  r.feed(vital_kind::nibp_systolic, 190, a + 2 * min_);
  ASSERT_TRUE(raised_exactly_at(r, "systolic_high", a + 2 * min_ + 30 * s_));
}

// --- relative rules --------------------------------------------------------------------------------


TEST(EngineRelative, RiseOverTheMedianOfTheBaselineWindowAfterTheDose) {
  rig r(with_rules({rise_rule("systolic_rise", vital_kind::nibp_systolic, 40)}));
  r.open();
  r.feed(vital_kind::nibp_systolic, 100, t0 + 1 * min_);   // outside the 10-min window before the dose
  r.feed(vital_kind::nibp_systolic, 120, t0 + 6 * min_);
  r.feed(vital_kind::nibp_systolic, 130, t0 + 12 * min_);
  const millis dose = t0 + 15 * min_;
  ASSERT_TRUE(r.dose(dose).ok());
  const auto base = first(r.take(), event_type::baseline_set);
  ASSERT_TRUE(base);
  EXPECT_NE(base->text.find("nibp_systolic 125.0"), std::string::npos) << base->text;

  // Baseline 125: 160 is +35 (with the 100 reading it would have been +43).
  r.feed(vital_kind::nibp_systolic, 160, dose + 5 * min_);
  EXPECT_EQ(physiological_raised(r.take()), 0u);
  r.feed(vital_kind::nibp_systolic, 166, dose + 10 * min_);
  const auto raised = of_type(r.take(), event_type::alarm_raised, "systolic_rise");
  ASSERT_EQ(raised.size(), 1u);
  EXPECT_EQ(raised[0].at, dose + 10 * min_);
  EXPECT_EQ(raised[0].value, 41);  // relative rules report the rise
  // Back below the rise: cleared.
  r.feed(vital_kind::nibp_systolic, 150, dose + 15 * min_);
  EXPECT_EQ(count(r.take(), event_type::alarm_cleared, "systolic_rise"), 1u);
}

TEST(EngineRelative, NotEvaluatedBeforeTheDose) {
  rig r(with_rules({rise_rule("systolic_rise", vital_kind::nibp_systolic, 40)}));
  r.open();
  r.feed(vital_kind::nibp_systolic, 100, t0 + 1 * min_);
  r.feed(vital_kind::nibp_systolic, 190, t0 + 5 * min_);
  r.advance(t0 + 1 * hour_ms);
  EXPECT_EQ(count(r.take(), event_type::alarm_raised, "systolic_rise"), 0u);
  EXPECT_EQ(r.current(), phase::baseline);
}

TEST(EngineRelative, BaselineIsTheMedianOfUsableSamplesOnly) {
  rig r(with_rules({rise_rule("hr_rise", vital_kind::heart_rate, 30, 20 * s_)}));
  r.open();
  const millis dose = t0 + 20 * min_;
  // Old samples (outside the window) at 100; samples in the window alternate 60 and 80, plus
  // flagged ones at 200 that must not count.
  for (millis t = t0 + 1 * s_; t < dose - 10 * min_; t += 10 * s_) r.feed(vital_kind::heart_rate, 100, t);
  bool low = true;
  for (millis t = dose - 10 * min_ + 5 * s_; t < dose; t += 10 * s_) {
    r.feed(vital_kind::heart_rate, low ? 60 : 80, t);
    r.feed(vital_kind::heart_rate, 200, t + 1, quality::artifact);
    low = !low;
  }
  ASSERT_TRUE(r.dose(dose).ok());
  const auto base = first(r.take(), event_type::baseline_set);
  ASSERT_TRUE(base);
  EXPECT_NE(base->text.find("heart_rate 70.0"), std::string::npos) << base->text;

  r.feed(vital_kind::heart_rate, 99, dose + 1 * s_);  // +29
  r.advance(dose + 5 * min_);
  EXPECT_EQ(physiological_raised(r.take()), 0u);
  const millis rise = dose + 6 * min_;
  r.feed(vital_kind::heart_rate, 101, rise);  // +31, with a 20 s delay
  ASSERT_TRUE(raised_exactly_at(r, "hr_rise", rise + 20 * s_));
}

TEST(EngineRelative, SingleOldCuffReadingIsTheBaseline) {
  rig r(with_rules({rise_rule("systolic_rise", vital_kind::nibp_systolic, 40)}));
  r.open();
  r.feed(vital_kind::nibp_systolic, 120, t0 + 1 * min_);
  const millis dose = t0 + 30 * min_;  // the reading is 29 min old, outside the 10-min window
  ASSERT_TRUE(r.dose(dose).ok());
  const auto base = first(r.take(), event_type::baseline_set);
  ASSERT_TRUE(base);
  EXPECT_NE(base->text.find("nibp_systolic 120.0"), std::string::npos) << base->text;
  r.feed(vital_kind::nibp_systolic, 170, dose + 5 * min_);
  EXPECT_EQ(count(r.take(), event_type::alarm_raised, "systolic_rise"), 1u);
}

TEST(EngineRelative, SeveralOldCuffReadingsStillGiveABaseline) {
  // As with one old reading (above), the latest pre-dose reading is kept when every reading
  // is older than the window: two old readings must not leave the session without a baseline.
  rig r(with_rules({rise_rule("systolic_rise", vital_kind::nibp_systolic, 40)}));
  r.open();
  r.feed(vital_kind::nibp_systolic, 110, t0 + 1 * min_);
  r.feed(vital_kind::nibp_systolic, 120, t0 + 3 * min_);
  const millis dose = t0 + 30 * min_;
  ASSERT_TRUE(r.dose(dose).ok());
  const auto base = first(r.take(), event_type::baseline_set);
  ASSERT_TRUE(base);
  r.feed(vital_kind::nibp_systolic, 170, dose + 5 * min_);
  EXPECT_NE(base->text.find("nibp_systolic 120.0"), std::string::npos) << base->text;
  EXPECT_EQ(count(r.take(), event_type::alarm_raised, "systolic_rise"), 1u);
}


// --- NEWS2 as an alarm source ------------------------------------------------------------------------------


TEST(EngineNews2, SingleThreeIsUrgentAfterTheDelay) {
  rig r(news2_profile());
  r.open();
  const millis s = t0 + 1 * s_;
  r.feed(vital_kind::respiratory_rate, 16, s);
  r.feed(vital_kind::nibp_systolic, 120, s + 1);
  r.feed(vital_kind::heart_rate, 70, s + 2);
  r.feed(vital_kind::spo2, 91, s + 3);  // 3 points
  ASSERT_TRUE(raised_exactly_at(r, "news2_urgent", s + 3 + 60 * s_));
  const auto a = r.alarm("news2_urgent");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->level, priority::medium);
  EXPECT_EQ(a->kind, alarm_kind::physiological);
  EXPECT_EQ(a->value, 3);
  EXPECT_FALSE(r.alarm("news2_emergency"));
}

TEST(EngineNews2, TotalOfFiveIsUrgentAndFourIsNot) {
  rig four(news2_profile());
  four.open();
  four.feed(vital_kind::respiratory_rate, 21, t0 + 1 * s_);  // 2
  four.feed(vital_kind::spo2, 93, t0 + 2 * s_);              // 2
  four.feed(vital_kind::heart_rate, 80, t0 + 3 * s_);        // 0
  four.advance(t0 + 1 * hour_ms);
  EXPECT_EQ(count(four.take(), event_type::alarm_raised), 0u);

  rig five(news2_profile());
  five.open();
  five.feed(vital_kind::respiratory_rate, 21, t0 + 1 * s_);  // 2
  five.feed(vital_kind::spo2, 93, t0 + 2 * s_);              // 2
  five.feed(vital_kind::heart_rate, 91, t0 + 3 * s_);        // 1
  ASSERT_TRUE(raised_exactly_at(five, "news2_urgent", t0 + 3 * s_ + 60 * s_));
  EXPECT_EQ(five.must_alarm("news2_urgent").value, 5);
}

TEST(EngineNews2, TotalOfSevenIsAnEmergencyAfterTheDelayAndClearsWhenTheScoreFalls) {
  rig r(news2_profile());
  r.open();
  const millis s = t0 + 1 * s_;
  r.feed(vital_kind::respiratory_rate, 25, s);  // 3
  r.feed(vital_kind::heart_rate, 131, s + 1);   // 3: total 6
  r.feed(vital_kind::spo2, 91, s + 2);          // 3: total 9, emergency band from here
  ASSERT_TRUE(raised_exactly_at(r, "news2_emergency", s + 2 + 60 * s_));
  const auto e = r.alarm("news2_emergency");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->level, priority::high);
  EXPECT_EQ(e->kind, alarm_kind::physiological);
  EXPECT_EQ(e->value, 9);

  const millis down = s + 5 * min_;
  r.feed(vital_kind::respiratory_rate, 16, down);
  r.feed(vital_kind::heart_rate, 70, down + 1);
  r.feed(vital_kind::spo2, 98, down + 2);
  const auto ev = r.take();
  EXPECT_EQ(count(ev, event_type::alarm_cleared, "news2_emergency"), 1u);
  EXPECT_TRUE(r.view().alarms.empty());
  r.advance(down + 1 * hour_ms);
  EXPECT_EQ(count(r.take(), event_type::alarm_raised), 0u);
}

bool news2_alarm_active(const rig& r) { return r.alarm("news2_urgent") || r.alarm("news2_emergency"); }

TEST(EngineNews2, WorseningFromUrgentToEmergencyKeepsAnAlarmActiveThroughout) {
  rig r(news2_profile());
  r.open();
  const millis s = t0 + 1 * s_;
  r.feed(vital_kind::respiratory_rate, 21, s);  // 2
  r.feed(vital_kind::spo2, 93, s + 1);          // 2
  r.feed(vital_kind::heart_rate, 91, s + 2);    // 1: total 5
  ASSERT_TRUE(raised_exactly_at(r, "news2_urgent", s + 2 + 60 * s_));

  const millis worse = s + 5 * min_;
  r.feed(vital_kind::heart_rate, 131, worse);  // 3: total 7
  std::vector<millis> silent;
  for (millis t = worse; t <= worse + 90 * s_; t += 1 * s_) {
    r.advance(t);
    if (!news2_alarm_active(r)) silent.push_back(t);
  }
  const auto ev = r.take();
  const auto emergency = of_type(ev, event_type::alarm_raised, "news2_emergency");
  ASSERT_EQ(emergency.size(), 1u);
  EXPECT_EQ(emergency[0].at, worse + 60 * s_);
  EXPECT_TRUE(silent.empty()) << "a worsening patient had no NEWS2 alarm for " << silent.size() << " s:\n"
                              << describe(ev);
  EXPECT_EQ(count(ev, event_type::alarm_cleared, "news2_urgent"), 1u) << "the emergency alarm supersedes it";
  EXPECT_FALSE(r.alarm("news2_urgent"));
}

TEST(EngineNews2, ScoreFlickeringAcrossTheEmergencyLineStillAlarms) {
  // RR 21 (2) + SpO2 93 (2) + pulse alternating 111 (2) / 131 (3) every 30 s: the total
  // alternates 6 / 7 and never drops below 5, so an urgent-review alarm is due after 60 s.
  rig r(news2_profile());
  r.open();
  const millis s = t0 + 1 * s_;
  r.feed(vital_kind::respiratory_rate, 21, s);
  r.feed(vital_kind::spo2, 93, s);
  bool high = false;
  for (millis t = s; t <= s + 10 * min_; t += 30 * s_) {
    r.feed(vital_kind::heart_rate, high ? 131 : 111, t);
    high = !high;
  }
  const auto ev = r.take();
  const auto urgent = count(ev, event_type::alarm_raised, "news2_urgent");
  const auto emergency = count(ev, event_type::alarm_raised, "news2_emergency");
  EXPECT_GT(urgent + emergency, 0u) << "a total that never drops below 5 must alarm";
  EXPECT_TRUE(news2_alarm_active(r));
}

TEST(EngineNews2, SingleThreeIgnoredWhenTheProfileSaysSo) {
  auto p = news2_profile();
  p.news2.single_three_is_medium = false;
  rig r(p);
  r.open();
  r.feed(vital_kind::spo2, 91, t0 + 1 * s_);
  r.advance(t0 + 1 * hour_ms);
  EXPECT_EQ(count(r.take(), event_type::alarm_raised), 0u);
}

TEST(EngineNews2, DisabledRaisesNothing) {
  auto p = news2_profile();
  p.news2.enabled = false;
  rig r(p);
  r.open();
  r.feed(vital_kind::respiratory_rate, 30, t0 + 1 * s_);
  r.feed(vital_kind::spo2, 85, t0 + 2 * s_);
  r.feed(vital_kind::heart_rate, 150, t0 + 3 * s_);
  r.advance(t0 + 1 * hour_ms);
  EXPECT_EQ(count(r.take(), event_type::alarm_raised), 0u);
}


TEST(EngineNews2Order, AJumpStraightToTheEmergencyBandRaisesOnlyTheEmergencyAlarm) {
  rig r(generic_profile());
  r.open();
  const millis s = t0 + 1 * s_;
  // 9 at once, then every second (scored at distinct times: confirmed), for 70 s.
  for (int i = 0; i <= 70; ++i) {
    r.feed(vital_kind::respiratory_rate, 25, s + i * s_);  // 3
    r.feed(vital_kind::heart_rate, 131, s + i * s_);       // 3
    r.feed(vital_kind::spo2, 91, s + i * s_);              // 3
  }
  r.advance(s + 5 * min_);
  const auto ev = r.take();
  EXPECT_EQ(count(ev, event_type::alarm_raised, "news2_emergency"), 1u);
  EXPECT_EQ(count(ev, event_type::alarm_raised, "news2_urgent"), 0u) << describe(ev);
}


TEST(EngineInclusive, AValueHeldAtAnInclusiveLimitKeepsOneAlarm) {
  profile p = generic_profile();
  p.limits.clear();
  limit_rule rule;
  rule.id = "hr_at_120";
  rule.kind = vital_kind::heart_rate;
  rule.high = 120;
  rule.inclusive = true;
  rule.level = priority::medium;
  rule.min_readings = 1;  // one reading back inside clears
  p.limits.push_back(rule);
  rig r(p);
  r.open();
  for (int i = 1; i <= 30; ++i) r.feed(vital_kind::heart_rate, 120, t0 + i * s_);
  const auto ev = r.take();
  EXPECT_EQ(count(ev, event_type::alarm_raised, "hr_at_120"), 1u) << describe(ev);
  EXPECT_EQ(count(ev, event_type::alarm_cleared, "hr_at_120"), 0u);
  ASSERT_TRUE(r.alarm("hr_at_120"));
  EXPECT_NE(r.alarm("hr_at_120")->text.find("above 120"), std::string::npos) << r.alarm("hr_at_120")->text;
  r.feed(vital_kind::heart_rate, 119, t0 + 31 * s_);
  EXPECT_FALSE(r.alarm("hr_at_120"));
}

}  // namespace
}  // namespace vigil::engine::testing

namespace vigil::engine::testing {
namespace {

// --- confirmation by readings (alarms.md 5.2, 5.4, 6) ---------------------------------------------
// Found on recorded data: one implausible reading (heart rate 11 in a minute when nothing else
// reads) raised a latched high-priority alarm; a once-a-minute stream raised NEWS2 alarms that
// lasted zero seconds. A condition needs min_readings readings (or a second source) to raise,
// and min_readings readings back inside to clear.

limit_rule confirming(limit_rule r) {
  r.min_readings = 2;
  return r;
}

TEST(EngineConfirmation, ASingleReadingBeyondRaisesNothingAndTheSecondRaises) {
  rig r(with_rules({confirming(high_rule("hr_high", vital_kind::heart_rate, 120, 0, priority::high))}));
  r.open();
  r.feed(vital_kind::heart_rate, 150, t0 + 1 * s_);
  r.advance(t0 + 2 * s_ - 1);
  EXPECT_EQ(count(r.take(), event_type::alarm_raised), 0u) << "one reading is not confirmed";
  r.feed(vital_kind::heart_rate, 151, t0 + 2 * s_);
  const auto raised = of_type(r.take(), event_type::alarm_raised, "hr_high");
  ASSERT_EQ(raised.size(), 1u);
  EXPECT_EQ(raised[0].at, t0 + 2 * s_);
  EXPECT_EQ(raised[0].value, 151);
}

TEST(EngineConfirmation, TheDelayCountsFromTheFirstReadingAndTheRaiseWaitsForTheSecond) {
  // A once-a-minute stream and a 10 s delay: the delay is over before the second reading comes.
  rig r(with_rules({confirming(low_rule("spo2_critical", vital_kind::spo2, 88, 10 * s_, priority::high))}));
  r.open();
  r.feed(vital_kind::spo2, 85, t0 + 1 * min_);
  r.advance(t0 + 2 * min_ - 1);
  EXPECT_EQ(count(r.take(), event_type::alarm_raised), 0u);
  r.feed(vital_kind::spo2, 84, t0 + 2 * min_);
  const auto raised = of_type(r.take(), event_type::alarm_raised, "spo2_critical");
  ASSERT_EQ(raised.size(), 1u);
  EXPECT_EQ(raised[0].at, t0 + 2 * min_) << "at the second reading, the delay being long over";
}

TEST(EngineConfirmation, AnIsolatedReadingFollowedBySilenceNeverRaises) {
  // The recorded case: heart rate 11 once, then nothing from the ECG.
  rig r(generic_profile());
  r.open();
  r.feed(vital_kind::spo2, 97, t0 + 1 * s_);
  r.feed(vital_kind::heart_rate, 11, t0 + 1 * s_);
  for (int i = 2; i <= 600; ++i) r.feed(vital_kind::spo2, 97, t0 + i * s_);
  const auto ev = r.take();
  EXPECT_EQ(count(ev, event_type::alarm_raised, "hr_critical_low"), 0u) << describe(ev);
  EXPECT_EQ(count(ev, event_type::alarm_raised, "hr_low"), 0u) << describe(ev);
}

TEST(EngineConfirmation, ASecondSourceConfirmsAtOnce) {
  rig r(with_rules({confirming(high_rule("hr_high", vital_kind::heart_rate, 120, 0, priority::high))}));
  r.open();
  r.eng.on_sample(r.chair, sample(vital_kind::heart_rate, 150, t0 + 1 * s_), "monitor");
  EXPECT_EQ(count(r.take(), event_type::alarm_raised), 0u);
  r.eng.on_sample(r.chair, sample(vital_kind::heart_rate, 148, t0 + 1 * s_ + 200), "holter");
  const auto raised = of_type(r.take(), event_type::alarm_raised, "hr_high");
  ASSERT_EQ(raised.size(), 1u);
  EXPECT_EQ(raised[0].at, t0 + 1 * s_ + 200);
  EXPECT_EQ(raised[0].value, 150) << "the condition that started first gives the value";
}

TEST(EngineConfirmation, ClearingNeedsAsManyReadingsBackInside) {
  rig r(with_rules({confirming(high_rule("hr_high", vital_kind::heart_rate, 120, 0))}));
  r.open();
  r.feed(vital_kind::heart_rate, 150, t0 + 1 * s_);
  r.feed(vital_kind::heart_rate, 150, t0 + 2 * s_);
  ASSERT_TRUE(r.alarm("hr_high"));
  r.feed(vital_kind::heart_rate, 80, t0 + 3 * s_);
  EXPECT_TRUE(r.alarm("hr_high")) << "one reading back inside is not enough";
  r.feed(vital_kind::heart_rate, 130, t0 + 4 * s_);
  r.feed(vital_kind::heart_rate, 80, t0 + 5 * s_);
  EXPECT_TRUE(r.alarm("hr_high")) << "the run back inside starts again after a reading beyond";
  r.feed(vital_kind::heart_rate, 81, t0 + 6 * s_);
  EXPECT_FALSE(r.alarm("hr_high"));
  const auto cleared = of_type(r.take(), event_type::alarm_cleared, "hr_high");
  ASSERT_EQ(cleared.size(), 1u);
  EXPECT_EQ(cleared[0].at, t0 + 6 * s_);
  EXPECT_EQ(cleared[0].text, "heart_rate back to 81");
}

TEST(EngineConfirmation, ALatchedAlarmIsNotRevivedByASingleReading) {
  auto rule = confirming(high_rule("hr_critical", vital_kind::heart_rate, 140, 0, priority::high));
  rule.latching = true;
  auto p = with_rules({rule});
  p.escalation_high = {{"nurse", 0}, {"physician", 2 * min_}};
  rig r(p);
  r.open();
  r.feed(vital_kind::heart_rate, 150, t0 + 1 * s_);
  r.feed(vital_kind::heart_rate, 150, t0 + 2 * s_);
  r.feed(vital_kind::heart_rate, 80, t0 + 3 * s_);
  r.feed(vital_kind::heart_rate, 80, t0 + 4 * s_);
  ASSERT_TRUE(r.alarm("hr_critical"));
  EXPECT_FALSE(r.alarm("hr_critical")->condition) << "latched";
  r.feed(vital_kind::heart_rate, 160, t0 + 5 * s_);  // one reading beyond, as an artefact would be
  EXPECT_FALSE(r.alarm("hr_critical")->condition) << "not revived by one reading";
  for (int i = 6; i <= 200; ++i) r.feed(vital_kind::heart_rate, 80, t0 + i * s_);
  EXPECT_EQ(count(r.take(), event_type::alarm_escalated, "hr_critical"), 1u) << "only the tier at 0 s";
  r.feed(vital_kind::heart_rate, 160, t0 + 201 * s_);
  r.feed(vital_kind::heart_rate, 161, t0 + 202 * s_);
  EXPECT_TRUE(r.alarm("hr_critical")->condition) << "two readings revive it";
}

TEST(EngineConfirmation, News2CountsScoringsAtDistinctTimesToRaiseAndToClear) {
  auto p = news2_profile();
  p.news2.min_readings = 2;
  rig r(p);
  r.open();
  // Once-a-minute streams, all three at the same instant: one scoring time a minute.
  auto minute = [&](int m, double spo2) {
    r.feed(vital_kind::respiratory_rate, 16, t0 + m * min_);
    r.feed(vital_kind::heart_rate, 70, t0 + m * min_);
    r.feed(vital_kind::spo2, spo2, t0 + m * min_);
  };
  minute(1, 97);
  minute(2, 97);
  minute(3, 91);  // SpO2 scores 3: urgent after 60 s, once scored again
  minute(4, 97);  // back: no alarm, and none raised and cleared at this instant
  auto ev = r.take();
  EXPECT_EQ(count(ev, event_type::alarm_raised), 0u) << describe(ev);
  minute(5, 91);
  minute(6, 91);  // found again a minute later: raised, after this sample
  ev = r.take();
  auto raised = of_type(ev, event_type::alarm_raised, "news2_urgent");
  ASSERT_EQ(raised.size(), 1u) << describe(ev);
  EXPECT_EQ(raised[0].at, t0 + 6 * min_);
  minute(7, 97);
  EXPECT_TRUE(r.alarm("news2_urgent")) << "one scoring without the condition is not enough to clear";
  minute(8, 97);
  ev = r.take();
  const auto cleared = of_type(ev, event_type::alarm_cleared, "news2_urgent");
  ASSERT_EQ(cleared.size(), 1u) << describe(ev);
  EXPECT_EQ(cleared[0].at, t0 + 8 * min_);
  EXPECT_NE(cleared[0].at, raised[0].at);
}

}  // namespace
}  // namespace vigil::engine::testing

namespace vigil::engine::testing {
namespace {

// --- one heart rate from several sources (alarms.md 5.8) ------------------------------------------
// Found on recorded data: with the ECG leads off and the oximeter reporting a pulse of 143-149,
// no tachycardia alarm: the heart-rate rules watched the ECG rate only.

TEST(EngineHeartRateSource, WithoutACurrentEcgRateTheHeartRateRulesReadThePulseRate) {
  rig r(with_rules({high_rule("hr_critical", vital_kind::heart_rate, 140, 30 * s_, priority::high)}));
  r.open();
  for (int i = 1; i <= 60; ++i) r.eng.on_sample(r.chair, sample(vital_kind::pulse_rate, 148, t0 + i * s_), "oximeter");
  const auto raised = of_type(r.take(), event_type::alarm_raised, "hr_critical");
  ASSERT_EQ(raised.size(), 1u);
  EXPECT_EQ(raised[0].at, t0 + 31 * s_);
  EXPECT_EQ(raised[0].text, "pulse_rate 148 bpm above 140") << "the alarm names the rate it read";
}

TEST(EngineHeartRateSource, ACurrentEcgRateIsReadAndThePulseRateIsNot) {
  rig r(with_rules({high_rule("hr_critical", vital_kind::heart_rate, 140, 30 * s_, priority::high)}));
  r.open();
  for (int i = 1; i <= 60; ++i) {
    r.eng.on_sample(r.chair, sample(vital_kind::heart_rate, 80, t0 + i * s_), "monitor");
    r.eng.on_sample(r.chair, sample(vital_kind::pulse_rate, 148, t0 + i * s_ + 100), "oximeter");
  }
  EXPECT_EQ(count(r.take(), event_type::alarm_raised, "hr_critical"), 0u) << "the ECG rate stands";
}

TEST(EngineHeartRateSource, EcgLeadsOffHandTheRulesToThePulseAndTheEcgTakesThemBack) {
  rig r(with_rules({high_rule("hr_high", vital_kind::heart_rate, 120, 10 * s_)}));
  r.open();
  r.eng.on_sample(r.chair, sample(vital_kind::heart_rate, 80, t0 + 1 * s_), "monitor");
  // Leads off: the ECG's samples are flagged, so its rate is no longer a reference at once.
  for (int i = 2; i <= 30; ++i) {
    r.eng.on_sample(r.chair, sample(vital_kind::heart_rate, 0, t0 + i * s_, quality::sensor_off), "monitor");
    r.eng.on_sample(r.chair, sample(vital_kind::pulse_rate, 135, t0 + i * s_ + 100), "oximeter");
  }
  const auto raised = of_type(r.take(), event_type::alarm_raised, "hr_high");
  ASSERT_EQ(raised.size(), 1u);
  EXPECT_EQ(raised[0].at, t0 + 12 * s_ + 100);
  // The ECG comes back, normal: the pulse's state ends and the alarm clears.
  r.eng.on_sample(r.chair, sample(vital_kind::heart_rate, 82, t0 + 31 * s_), "monitor");
  const auto cleared = of_type(r.take(), event_type::alarm_cleared, "hr_high");
  ASSERT_EQ(cleared.size(), 1u);
  EXPECT_EQ(cleared[0].text, "heart_rate back to 82");
}

}  // namespace
}  // namespace vigil::engine::testing
