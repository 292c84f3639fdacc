// The alarm engine, rule by rule: delays to the millisecond, hysteresis, latching,
// acknowledgement, audio pause, escalation, cuff confirmation, relative rules, technical
// alarms, the pre-dose gate, discharge readiness, NEWS2, session lifecycle and bad input.
// Each test builds a profile holding exactly the rules it needs (engine_fixture.hpp) and
// drives time explicitly: sample timestamps and engine::advance. Nothing sleeps.

#include "tests/unit/engine/engine_fixture.hpp"

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

// --- acknowledgement -------------------------------------------------------------------------------

profile escalating_profile() {
  auto p = with_rules({high_rule("hr_high", vital_kind::heart_rate, 120, 0, priority::medium),
                       high_rule("hr_critical", vital_kind::heart_rate, 160, 0, priority::high)});
  p.escalation_high = {{"nurse", 0}, {"charge_nurse", 2 * min_}, {"physician", 5 * min_}};
  p.escalation_medium = {{"nurse", 0}, {"charge_nurse", 2 * min_}, {"physician", 5 * min_}};
  p.escalation_low = {{"nurse", 0}};
  p.audio.ack_silence_ms = 5 * min_;
  return p;
}

TEST(EngineAck, RecordsWhoStopsEscalationAndReSoundsWhileTheConditionPersists) {
  rig r(escalating_profile());
  r.open();
  const millis raised_at = t0 + 1 * s_;
  r.feed(vital_kind::heart_rate, 130, raised_at);
  const auto ev0 = r.take();
  const auto raised = first(ev0, event_type::alarm_raised, "hr_high");
  ASSERT_TRUE(raised);
  ASSERT_EQ(count(ev0, event_type::alarm_escalated), 1u);  // tier 0 at once

  const millis ack_at = raised_at + 1 * min_;
  const auto res = r.ack(raised->alarm, ack_at, "nurse-x");
  ASSERT_TRUE(res.ok()) << res.message;
  const auto acked = of_type(r.take(), event_type::alarm_acknowledged);
  ASSERT_EQ(acked.size(), 1u);
  EXPECT_EQ(acked[0].who, "nurse-x");
  EXPECT_EQ(acked[0].at, ack_at);
  EXPECT_EQ(acked[0].alarm, raised->alarm);
  EXPECT_EQ(acked[0].until, ack_at + 5 * min_);
  auto a = r.alarm("hr_high");
  ASSERT_TRUE(a);
  EXPECT_TRUE(a->acknowledged);
  EXPECT_EQ(a->acknowledged_by, "nurse-x");
  EXPECT_FALSE(a->audible);

  // Silenced: no escalation (tier 1 would have been due at raised_at + 2 min) until it re-sounds.
  r.advance(ack_at + 5 * min_ - 1);
  auto quiet = r.take();
  EXPECT_EQ(count(quiet, event_type::alarm_escalated), 0u) << describe(quiet);
  EXPECT_EQ(count(quiet, event_type::alarm_resounded), 0u);

  r.advance(ack_at + 5 * min_);
  const auto ev = r.take();
  const auto resounded = of_type(ev, event_type::alarm_resounded);
  ASSERT_EQ(resounded.size(), 1u) << describe(ev);
  EXPECT_EQ(resounded[0].at, ack_at + 5 * min_);
  EXPECT_EQ(resounded[0].alarm, raised->alarm);
  // Escalation restarts from the re-sounding: tier 0 at once, then 2 and 5 minutes later.
  const auto esc = of_type(ev, event_type::alarm_escalated);
  ASSERT_EQ(esc.size(), 1u);
  EXPECT_EQ(esc[0].tier, 0);
  EXPECT_EQ(esc[0].at, ack_at + 5 * min_);
  a = r.alarm("hr_high");
  ASSERT_TRUE(a);
  EXPECT_FALSE(a->acknowledged);
  EXPECT_TRUE(a->audible);

  const millis back = ack_at + 5 * min_;
  r.advance(back + 2 * min_ - 1);
  EXPECT_EQ(count(r.take(), event_type::alarm_escalated), 0u);
  r.advance(back + 2 * min_);
  auto t1 = of_type(r.take(), event_type::alarm_escalated);
  ASSERT_EQ(t1.size(), 1u);
  EXPECT_EQ(t1[0].tier, 1);
  r.advance(back + 5 * min_);
  auto t2 = of_type(r.take(), event_type::alarm_escalated);
  ASSERT_EQ(t2.size(), 1u);
  EXPECT_EQ(t2[0].tier, 2);
  EXPECT_EQ(t2[0].at, back + 5 * min_);
}

TEST(EngineAck, AcknowledgedAlarmWhoseConditionClearsDoesNotReSound) {
  rig r(escalating_profile());
  r.open();
  r.feed(vital_kind::heart_rate, 130, t0 + 1 * s_);
  const auto id = r.must_alarm("hr_high").id;
  ASSERT_TRUE(r.ack(id, t0 + 2 * s_).ok());
  r.feed(vital_kind::heart_rate, 90, t0 + 3 * s_);
  r.advance(t0 + 1 * hour_ms);
  const auto ev = r.take();
  EXPECT_EQ(count(ev, event_type::alarm_cleared), 1u);
  EXPECT_EQ(count(ev, event_type::alarm_resounded), 0u);
  EXPECT_EQ(count(ev, event_type::alarm_escalated), 1u);  // only tier 0, before the ack
}

TEST(EngineAck, NeedsWhoAndAKnownActiveAlarm) {
  rig r(escalating_profile());
  r.open();
  r.feed(vital_kind::heart_rate, 130, t0 + 1 * s_);
  const auto id = r.must_alarm("hr_high").id;
  r.take();

  auto res = r.eng.apply(acknowledge{r.chair, id, ""}, t0 + 2 * s_);
  EXPECT_EQ(res.error, command_error::invalid_argument);
  EXPECT_FALSE(res.message.empty());

  res = r.ack(id + 1000, t0 + 2 * s_);
  EXPECT_EQ(res.error, command_error::unknown_alarm);
  EXPECT_FALSE(res.message.empty());

  res = r.eng.apply(acknowledge{"no-such-chair", id, "nurse-a"}, t0 + 2 * s_);
  EXPECT_EQ(res.error, command_error::unknown_alarm);
  EXPECT_FALSE(res.message.empty());

  EXPECT_EQ(count(r.take(), event_type::alarm_acknowledged), 0u);
  EXPECT_FALSE(r.must_alarm("hr_high").acknowledged);

  // A cleared alarm can no longer be acknowledged.
  r.feed(vital_kind::heart_rate, 90, t0 + 3 * s_);
  res = r.ack(id, t0 + 4 * s_);
  EXPECT_EQ(res.error, command_error::unknown_alarm);
}

// --- audio pause -----------------------------------------------------------------------------------

profile pause_profile() {
  auto p = with_rules({high_rule("hr_high", vital_kind::heart_rate, 120, 0, priority::medium),
                       low_rule("spo2_critical", vital_kind::spo2, 85, 0, priority::high)});
  p.audio.max_pause_ms = 2 * min_;
  return p;
}

TEST(EngineAudioPause, PausesAudioUntilItExpires) {
  rig r(pause_profile());
  r.open();
  r.feed(vital_kind::heart_rate, 130, t0 + 1 * s_);
  r.take();
  ASSERT_TRUE(r.must_alarm("hr_high").audible);

  const millis p = t0 + 10 * s_;
  const auto res = r.pause(2 * min_, p, "nurse-x");
  ASSERT_TRUE(res.ok()) << res.message;
  const auto paused = of_type(r.take(), event_type::audio_paused);
  ASSERT_EQ(paused.size(), 1u);
  EXPECT_EQ(paused[0].at, p);
  EXPECT_EQ(paused[0].until, p + 2 * min_);
  EXPECT_EQ(paused[0].who, "nurse-x");
  EXPECT_EQ(r.view().paused_until, p + 2 * min_);
  EXPECT_FALSE(r.must_alarm("hr_high").audible);
  EXPECT_FALSE(r.must_alarm("hr_high").acknowledged);  // a pause is not an acknowledgement

  r.advance(p + 2 * min_ - 1);
  EXPECT_EQ(count(r.take(), event_type::audio_resumed), 0u);
  EXPECT_FALSE(r.must_alarm("hr_high").audible);

  r.advance(p + 2 * min_);
  const auto resumed = of_type(r.take(), event_type::audio_resumed);
  ASSERT_EQ(resumed.size(), 1u);
  EXPECT_EQ(resumed[0].at, p + 2 * min_);
  EXPECT_EQ(r.view().paused_until, 0);
  EXPECT_TRUE(r.must_alarm("hr_high").audible);  // still active: audible again
}

TEST(EngineAudioPause, RefusesPausesLongerThanTheMaximumOrWithoutWho) {
  rig r(pause_profile());
  r.open();
  r.take();
  auto res = r.pause(2 * min_ + 1, t0 + 1 * s_);
  EXPECT_EQ(res.error, command_error::invalid_argument);
  EXPECT_FALSE(res.message.empty());
  res = r.pause(0, t0 + 1 * s_);
  EXPECT_EQ(res.error, command_error::invalid_argument);
  res = r.pause(-5 * s_, t0 + 1 * s_);
  EXPECT_EQ(res.error, command_error::invalid_argument);
  res = r.pause(30 * s_, t0 + 1 * s_, "");
  EXPECT_EQ(res.error, command_error::invalid_argument);
  EXPECT_EQ(count(r.take(), event_type::audio_paused), 0u);
  EXPECT_EQ(r.view().paused_until, 0);

  res = r.pause(2 * min_, t0 + 1 * s_);  // exactly the maximum is allowed
  EXPECT_TRUE(res.ok()) << res.message;

  res = r.eng.apply(pause_audio{"no-such-chair", 30 * s_, "nurse-a"}, t0 + 2 * s_);
  EXPECT_EQ(res.error, command_error::no_open_session);
  EXPECT_FALSE(res.message.empty());
}

TEST(EngineAudioPause, NewHighPriorityAlarmEndsThePauseOnce) {
  rig r(pause_profile());
  r.open();
  r.feed(vital_kind::heart_rate, 130, t0 + 1 * s_);
  const millis p = t0 + 10 * s_;
  ASSERT_TRUE(r.pause(2 * min_, p).ok());
  r.take();

  const millis high_at = p + 30 * s_;
  r.feed(vital_kind::spo2, 80, high_at);
  r.advance(p + 10 * min_);
  const auto ev = r.take();
  const auto raised = of_type(ev, event_type::alarm_raised, "spo2_critical");
  ASSERT_EQ(raised.size(), 1u);
  EXPECT_EQ(raised[0].at, high_at);
  const auto resumed = of_type(ev, event_type::audio_resumed);
  ASSERT_FALSE(resumed.empty());
  EXPECT_EQ(resumed[0].at, high_at);
  EXPECT_EQ(r.view().paused_until, 0);
  EXPECT_TRUE(r.must_alarm("spo2_critical").audible);
  EXPECT_TRUE(r.must_alarm("hr_high").audible);
  EXPECT_EQ(resumed.size(), 1u) << describe(ev);
}

TEST(EngineAudioPause, MediumAlarmDoesNotEndThePause) {
  rig r(pause_profile());
  r.open();
  const millis p = t0 + 10 * s_;
  ASSERT_TRUE(r.pause(2 * min_, p).ok());
  r.take();
  r.feed(vital_kind::heart_rate, 130, p + 10 * s_);
  auto ev = r.take();
  EXPECT_EQ(count(ev, event_type::alarm_raised, "hr_high"), 1u);
  EXPECT_EQ(count(ev, event_type::audio_resumed), 0u);
  EXPECT_FALSE(r.must_alarm("hr_high").audible);
  EXPECT_EQ(r.view().paused_until, p + 2 * min_);
}

// --- escalation ------------------------------------------------------------------------------------

TEST(EngineEscalation, TiersAtExactlyZeroTwoAndFiveMinutes) {
  rig r(escalating_profile());
  r.open();
  const millis raised_at = t0 + 1 * s_;
  r.feed(vital_kind::heart_rate, 170, raised_at);  // hr_high (medium) and hr_critical (high)
  const auto ev0 = r.take();
  const auto critical = first(ev0, event_type::alarm_raised, "hr_critical");
  ASSERT_TRUE(critical);
  auto esc = of_type(ev0, event_type::alarm_escalated, "hr_critical");
  ASSERT_EQ(esc.size(), 1u);
  EXPECT_EQ(esc[0].at, raised_at);
  EXPECT_EQ(esc[0].tier, 0);
  EXPECT_EQ(esc[0].responder, "nurse");
  EXPECT_EQ(esc[0].alarm, critical->alarm);
  EXPECT_EQ(esc[0].level, priority::high);

  r.advance(raised_at + 2 * min_ - 1);
  EXPECT_EQ(count(r.take(), event_type::alarm_escalated, "hr_critical"), 0u);
  r.advance(raised_at + 2 * min_);
  esc = of_type(r.take(), event_type::alarm_escalated, "hr_critical");
  ASSERT_EQ(esc.size(), 1u);
  EXPECT_EQ(esc[0].at, raised_at + 2 * min_);
  EXPECT_EQ(esc[0].tier, 1);
  EXPECT_EQ(esc[0].responder, "charge_nurse");
  EXPECT_EQ(r.must_alarm("hr_critical").responder, "charge_nurse") << "the view names the responder reached";

  r.advance(raised_at + 5 * min_ - 1);
  EXPECT_EQ(count(r.take(), event_type::alarm_escalated, "hr_critical"), 0u);
  r.advance(raised_at + 5 * min_);
  esc = of_type(r.take(), event_type::alarm_escalated, "hr_critical");
  ASSERT_EQ(esc.size(), 1u);
  EXPECT_EQ(esc[0].at, raised_at + 5 * min_);
  EXPECT_EQ(esc[0].tier, 2);
  EXPECT_EQ(esc[0].responder, "physician");
  EXPECT_EQ(r.must_alarm("hr_critical").tier, 2);

  r.advance(raised_at + 3 * hour_ms);
  EXPECT_EQ(count(r.take(), event_type::alarm_escalated, "hr_critical"), 0u);  // no tier beyond the last
}

TEST(EngineEscalation, NoneAfterAcknowledgement) {
  auto p = escalating_profile();
  p.audio.ack_silence_ms = 30 * min_;
  rig r(p);
  r.open();
  const millis raised_at = t0 + 1 * s_;
  r.feed(vital_kind::heart_rate, 130, raised_at);
  r.advance(raised_at + 2 * min_);
  EXPECT_EQ(count(r.take(), event_type::alarm_escalated), 2u);
  ASSERT_TRUE(r.ack(r.must_alarm("hr_high").id, raised_at + 3 * min_).ok());
  r.advance(raised_at + 30 * min_);
  EXPECT_EQ(count(r.take(), event_type::alarm_escalated), 0u);
  EXPECT_EQ(r.must_alarm("hr_high").tier, 1);
}

TEST(EngineEscalation, NoneAfterClear) {
  rig r(escalating_profile());
  r.open();
  const millis raised_at = t0 + 1 * s_;
  r.feed(vital_kind::heart_rate, 130, raised_at);
  r.feed(vital_kind::heart_rate, 90, raised_at + 1 * min_);
  r.advance(raised_at + 1 * hour_ms);
  const auto ev = r.take();
  EXPECT_EQ(count(ev, event_type::alarm_cleared), 1u);
  const auto esc = of_type(ev, event_type::alarm_escalated);
  ASSERT_EQ(esc.size(), 1u);
  EXPECT_EQ(esc[0].at, raised_at);
}

TEST(EngineEscalation, EachPriorityUsesItsOwnTiers) {
  auto p = with_rules({high_rule("low_one", vital_kind::respiratory_rate, 30, 0, priority::low),
                       high_rule("medium_one", vital_kind::heart_rate, 120, 0, priority::medium)});
  p.escalation_low = {{"nurse", 0}};
  p.escalation_medium = {{"nurse", 0}, {"charge_nurse", 5 * min_}};
  p.escalation_high = {{"physician", 0}};
  rig r(p);
  r.open();
  r.feed(vital_kind::respiratory_rate, 35, t0 + 1 * s_);
  r.feed(vital_kind::heart_rate, 130, t0 + 1 * s_);
  r.advance(t0 + 1 * hour_ms);
  const auto ev = r.take();
  const auto low = of_type(ev, event_type::alarm_escalated, "low_one");
  ASSERT_EQ(low.size(), 1u);
  EXPECT_EQ(low[0].responder, "nurse");
  const auto medium = of_type(ev, event_type::alarm_escalated, "medium_one");
  ASSERT_EQ(medium.size(), 2u);
  EXPECT_EQ(medium[1].responder, "charge_nurse");
  EXPECT_EQ(medium[1].at, t0 + 1 * s_ + 5 * min_);
}

TEST(EngineEscalation, NoTiersNoEscalation) {
  rig r(with_rules({high_rule("hr_high", vital_kind::heart_rate, 120, 0, priority::high)}));
  r.open();
  r.feed(vital_kind::heart_rate, 130, t0 + 1 * s_);
  r.advance(t0 + 1 * hour_ms);
  EXPECT_EQ(count(r.take(), event_type::alarm_escalated), 0u);
}

// --- cuff confirmation -----------------------------------------------------------------------------
// (Cuff readings above 140/90 in the baseline phase also raise the predose_bp advisory, so these
// tests count physiological alarms.)

std::size_t physiological_raised(const std::vector<event>& events) {
  std::size_t n = 0;
  for (const auto& e : events) n += e.type == event_type::alarm_raised && e.kind == alarm_kind::physiological ? 1 : 0;
  return n;
}

profile bp_profile() {
  auto confirmed = high_rule("systolic_high", vital_kind::nibp_systolic, 180, 0, priority::high);
  confirmed.confirm_readings = 2;
  confirmed.confirm_within_ms = 5 * min_;
  auto severe = high_rule("systolic_severe", vital_kind::nibp_systolic, 200, 0, priority::high);
  return with_rules({confirmed, severe});
}

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

limit_rule rise_rule(std::string id, vital_kind kind, double rise, millis delay = 0) {
  auto r = high_rule(std::move(id), kind, rise, delay);
  r.relative = true;
  r.phases = {phase::observation, phase::ready};
  return r;
}

TEST(EngineRelative, RiseOverTheMeanOfTheBaselineWindowAfterTheDose) {
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

TEST(EngineRelative, BaselineIsTheMeanOfValidSamplesOnly) {
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

// --- stale streams -----------------------------------------------------------------------------------

profile stale_profile() {
  auto p = quiet_profile();
  p.technical.stale_after_ms = 30 * s_;
  p.technical.stale_level = priority::medium;
  return p;
}

TEST(EngineStale, NoHeartRateOrSpo2RaisesStaleAlarmsAtExactlyTheTimeout) {
  rig r(stale_profile());
  const millis open_at = t0;
  r.open(open_at);
  r.advance(open_at + 30 * s_ - 1);
  EXPECT_EQ(count(r.take(), event_type::alarm_raised), 0u);
  r.advance(open_at + 30 * s_);
  const auto ev = r.take();
  const auto hr = of_type(ev, event_type::alarm_raised, "stale_heart_rate");
  const auto spo2 = of_type(ev, event_type::alarm_raised, "stale_spo2");
  ASSERT_EQ(hr.size(), 1u);
  ASSERT_EQ(spo2.size(), 1u);
  EXPECT_EQ(hr[0].at, open_at + 30 * s_);
  EXPECT_EQ(hr[0].kind, alarm_kind::technical);
  EXPECT_EQ(hr[0].level, priority::medium);
  EXPECT_EQ(spo2[0].at, open_at + 30 * s_);
  EXPECT_EQ(spo2[0].kind, alarm_kind::technical);

  // A heart-rate sample clears its alarm (not the SpO2 one); the timeout counts from it again.
  const millis hr_at = open_at + 40 * s_;
  r.feed(vital_kind::heart_rate, 72, hr_at);
  const auto cleared = of_type(r.take(), event_type::alarm_cleared);
  ASSERT_EQ(cleared.size(), 1u);
  EXPECT_EQ(cleared[0].rule, "stale_heart_rate");
  EXPECT_EQ(cleared[0].at, hr_at);
  EXPECT_TRUE(r.alarm("stale_spo2"));
  ASSERT_TRUE(raised_exactly_at(r, "stale_heart_rate", hr_at + 30 * s_));

  r.feed(vital_kind::spo2, 97, hr_at + 35 * s_);
  const auto spo2_cleared = of_type(r.take(), event_type::alarm_cleared, "stale_spo2");
  ASSERT_EQ(spo2_cleared.size(), 1u);
  EXPECT_EQ(spo2_cleared[0].at, hr_at + 35 * s_);
}

TEST(EngineStale, RegularSamplesKeepTheStreamsFreshAndPulseRateCountsAsHeartRate) {
  rig r(stale_profile());
  r.open();
  for (millis t = t0 + 5 * s_; t < t0 + 10 * min_; t += 10 * s_) {
    r.feed(vital_kind::pulse_rate, 70, t);
    r.feed(vital_kind::spo2, 97, t + 1);
  }
  EXPECT_EQ(count(r.take(), event_type::alarm_raised), 0u);
  const millis last_pulse = t0 + 5 * s_ + 59 * 10 * s_;
  ASSERT_TRUE(raised_exactly_at(r, "stale_heart_rate", last_pulse + 30 * s_));
}

TEST(EngineStale, ArtifactsAloneDoNotKeepAStreamAlive) {
  // A stream of artifact-flagged values is not monitoring the patient; without a stale alarm
  // nothing would say so (artifacts raise no sensor-off alarm).
  rig r(stale_profile());
  r.open();
  for (millis t = t0 + 1 * s_; t < t0 + 30 * s_; t += 1 * s_) {
    r.feed(vital_kind::heart_rate, 75, t, quality::artifact);
    r.feed(vital_kind::spo2, 97, t);
  }
  ASSERT_TRUE(raised_exactly_at(r, "stale_heart_rate", t0 + 30 * s_));
  EXPECT_FALSE(r.alarm("stale_spo2"));
}

TEST(EngineStale, AcknowledgedStaleAlarmReSoundsWhileTheStreamIsStillMissing) {
  auto p = stale_profile();
  p.audio.ack_silence_ms = 2 * min_;
  rig r(p);
  r.open();
  r.feed(vital_kind::spo2, 97, t0 + 1 * s_);
  r.advance(t0 + 30 * s_);
  const auto id = r.must_alarm("stale_heart_rate").id;
  ASSERT_TRUE(r.ack(id, t0 + 40 * s_).ok());
  r.take();
  r.advance(t0 + 40 * s_ + 2 * min_);
  const auto re = of_type(r.take(), event_type::alarm_resounded, "stale_heart_rate");
  ASSERT_EQ(re.size(), 1u);
  EXPECT_EQ(re[0].at, t0 + 40 * s_ + 2 * min_);
}

// --- sensor off --------------------------------------------------------------------------------------

profile sensor_profile() {
  auto p = with_rules({low_rule("spo2_low", vital_kind::spo2, 90, 0), low_rule("hr_low", vital_kind::heart_rate, 40, 0)});
  p.technical.sensor_off_delay_ms = 10 * s_;
  p.technical.sensor_off_level = priority::medium;
  return p;
}

TEST(EngineSensorOff, SensorOffForTheDelayRaisesAndAGoodSampleClears) {
  rig r(sensor_profile());
  r.open();
  const millis off = t0 + 1 * s_;
  for (millis t = off; t < off + 10 * s_; t += 1 * s_) {
    EXPECT_EQ(r.feed(vital_kind::spo2, 0, t, quality::sensor_off), sample_outcome::not_evaluated);
  }
  ASSERT_TRUE(raised_exactly_at(r, "sensor_off_oximeter", off + 10 * s_));
  const auto a = r.alarm("sensor_off_oximeter");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->kind, alarm_kind::technical);
  EXPECT_EQ(a->level, priority::medium);
  EXPECT_FALSE(r.alarm("spo2_low"));  // the zeros never drove the SpO2 limit

  EXPECT_EQ(r.feed(vital_kind::spo2, 97, off + 15 * s_), sample_outcome::applied);
  const auto cleared = of_type(r.take(), event_type::alarm_cleared, "sensor_off_oximeter");
  ASSERT_EQ(cleared.size(), 1u);
  EXPECT_EQ(cleared[0].at, off + 15 * s_);
  r.advance(off + 1 * hour_ms);
  EXPECT_EQ(count(r.take(), event_type::alarm_raised), 0u);
}

TEST(EngineSensorOff, BackOnBeforeTheDelayRaisesNothing) {
  rig r(sensor_profile());
  r.open();
  r.feed(vital_kind::heart_rate, 0, t0 + 1 * s_, quality::sensor_off);
  r.feed(vital_kind::heart_rate, 0, t0 + 5 * s_, quality::sensor_off);
  r.feed(vital_kind::heart_rate, 70, t0 + 10 * s_);
  r.advance(t0 + 1 * hour_ms);
  EXPECT_EQ(count(r.take(), event_type::alarm_raised), 0u);
}

TEST(EngineSensorOff, EachSensorHasItsOwnAlarm) {
  rig r(sensor_profile());
  r.open();
  r.feed(vital_kind::heart_rate, 0, t0 + 1 * s_, quality::sensor_off);
  r.feed(vital_kind::nibp_systolic, 0, t0 + 1 * s_, quality::sensor_off);
  r.feed(vital_kind::respiratory_rate, 0, t0 + 1 * s_, quality::sensor_off);
  r.advance(t0 + 11 * s_);
  const auto ev = r.take();
  EXPECT_EQ(count(ev, event_type::alarm_raised, "sensor_off_ecg"), 1u);
  EXPECT_EQ(count(ev, event_type::alarm_raised, "sensor_off_cuff"), 1u);
  EXPECT_EQ(count(ev, event_type::alarm_raised, "sensor_off_respiration"), 1u);
  EXPECT_EQ(count(ev, event_type::alarm_raised, "sensor_off_oximeter"), 0u);
  EXPECT_EQ(count(ev, event_type::alarm_raised, "hr_low"), 0u);
}

// --- cuff reading overdue ------------------------------------------------------------------------------

profile cuff_profile(millis interval) {
  auto p = quiet_profile();
  p.technical.cuff_interval_ms = interval;
  p.technical.post_dose_check_ms = 40 * min_;
  p.technical.cuff_grace_ms = 5 * min_;
  p.technical.cuff_level = priority::low;
  return p;
}

TEST(EngineCuff, PostDoseCheckOverdueAtFortyFiveMinutesThenRegularInterval) {
  rig r(cuff_profile(60 * min_));
  r.open();
  r.cuff(120, 80, t0 + 1 * min_);
  const millis dose = t0 + 5 * min_;
  ASSERT_TRUE(r.dose(dose).ok());
  ASSERT_TRUE(raised_exactly_at(r, "cuff_overdue", dose + 45 * min_));
  const auto a = r.alarm("cuff_overdue");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->kind, alarm_kind::technical);
  EXPECT_EQ(a->level, priority::low);

  const millis reading = dose + 50 * min_;
  r.cuff(130, 85, reading);
  const auto cleared = of_type(r.take(), event_type::alarm_cleared, "cuff_overdue");
  ASSERT_EQ(cleared.size(), 1u);
  EXPECT_EQ(cleared[0].at, reading);
  // The post-dose check is done: the next reading is due an interval (plus grace) later.
  ASSERT_TRUE(raised_exactly_at(r, "cuff_overdue", reading + 60 * min_ + 5 * min_));
}

TEST(EngineCuff, ReadingNearFortyMinutesSatisfiesThePostDoseCheck) {
  rig r(cuff_profile(60 * min_));
  r.open();
  const millis dose = t0 + 5 * min_;
  ASSERT_TRUE(r.dose(dose).ok());
  r.cuff(125, 82, dose + 38 * min_);
  r.advance(dose + 38 * min_ + 65 * min_ - 1);
  EXPECT_EQ(count(r.take(), event_type::alarm_raised), 0u);
  ASSERT_TRUE(raised_exactly_at(r, "cuff_overdue", dose + 38 * min_ + 65 * min_));
}

TEST(EngineCuff, EarlyReadingsDoNotReplaceThePostDoseCheck) {
  rig r(cuff_profile(15 * min_));
  r.open();
  const millis dose = t0 + 5 * min_;
  ASSERT_TRUE(r.dose(dose).ok());
  r.cuff(125, 82, dose + 14 * min_);
  r.cuff(125, 82, dose + 29 * min_);
  // Next regular reading would be due at 44 (+5 grace = 49); the post-dose check at 40 (+5) comes first.
  ASSERT_TRUE(raised_exactly_at(r, "cuff_overdue", dose + 45 * min_));
  r.cuff(128, 84, dose + 46 * min_);
  EXPECT_EQ(count(r.take(), event_type::alarm_cleared, "cuff_overdue"), 1u);
  ASSERT_TRUE(raised_exactly_at(r, "cuff_overdue", dose + 46 * min_ + 15 * min_ + 5 * min_));
}

TEST(EngineCuff, NoCuffOverdueBeforeTheDose) {
  rig r(cuff_profile(15 * min_));
  r.open();
  r.advance(t0 + 5 * hour_ms);
  EXPECT_EQ(count(r.take(), event_type::alarm_raised), 0u);
}

// --- device disconnected ------------------------------------------------------------------------------

TEST(EngineDevice, DisconnectedForTheDelayRaisesAndReconnectClears) {
  rig r(quiet_profile());
  r.open();
  const millis off = t0 + 1 * min_;
  r.eng.on_device(r.chair, false, off);
  ASSERT_TRUE(raised_exactly_at(r, "device_disconnected", off + 10 * s_));
  const auto a = r.alarm("device_disconnected");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->kind, alarm_kind::technical);
  const millis on = off + 30 * s_;
  r.eng.on_device(r.chair, true, on);
  const auto cleared = of_type(r.take(), event_type::alarm_cleared, "device_disconnected");
  ASSERT_EQ(cleared.size(), 1u);
  EXPECT_EQ(cleared[0].at, on);
}

TEST(EngineDevice, ReconnectBeforeTheDelayRaisesNothing) {
  rig r(quiet_profile());
  r.open();
  r.eng.on_device(r.chair, false, t0 + 1 * min_);
  r.eng.on_device(r.chair, true, t0 + 1 * min_ + 10 * s_ - 1);
  r.advance(t0 + 1 * hour_ms);
  EXPECT_EQ(count(r.take(), event_type::alarm_raised), 0u);
}

TEST(EngineDevice, SessionOpenedOnADisconnectedMonitorAlarmsAfterTheDelay) {
  rig r(quiet_profile());
  r.eng.on_device(r.chair, false, t0 - 1 * min_);
  ASSERT_TRUE(r.eng.apply(open_session{r.chair, "p", "test", "nurse-a"}, t0).ok());
  ASSERT_TRUE(raised_exactly_at(r, "device_disconnected", t0 + 10 * s_));
  r.eng.on_device(r.chair, true, t0 + 20 * s_);
  EXPECT_EQ(count(r.take(), event_type::alarm_cleared, "device_disconnected"), 1u);
}

TEST(EngineDevice, DisconnectWithoutASessionRaisesNothing) {
  rig r(quiet_profile());
  r.eng.on_device(r.chair, false, t0);
  r.advance(t0 + 1 * hour_ms);
  EXPECT_TRUE(r.take().empty());
}

// --- pre-dose gate --------------------------------------------------------------------------------------

profile predose_profile() {
  auto p = quiet_profile();
  p.predose.require_reading = true;
  return p;
}

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

profile discharge_profile() {
  auto p = with_rules({high_rule("hr_high", vital_kind::heart_rate, 120, 0)});
  p.discharge.observation_ms = 120 * min_;
  p.discharge.hold_ms = 10 * min_;
  p.discharge.bp_band_percent = 20;
  p.discharge.spo2_min = 92;
  return p;
}

/// Opens, takes a 120/80 baseline with SpO2 98 and doses at t0 + 5 min.
millis start_dosed(rig& r) {
  r.open();
  r.cuff(120, 80, t0 + 1 * min_);
  r.feed(vital_kind::spo2, 98, t0 + 1 * min_);
  const millis dose = t0 + 5 * min_;
  const auto res = r.dose(dose);
  EXPECT_TRUE(res.ok()) << res.message;
  r.take();
  return dose;
}

::testing::AssertionResult phase_becomes_at(rig& r, phase from, phase to, millis at) {
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

// --- NEWS2 as an alarm source ------------------------------------------------------------------------------

profile news2_profile() {
  auto p = quiet_profile();
  p.news2.enabled = true;
  p.news2.medium_at = 5;
  p.news2.high_at = 7;
  p.news2.single_three_is_medium = true;
  p.news2.delay_ms = 60 * s_;
  return p;
}

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

// --- flagged samples -------------------------------------------------------------------------------------

TEST(EngineArtifacts, FlaggedSamplesNeverDrivePhysiologicalAlarms) {
  auto p = news2_profile();
  p.limits = {high_rule("hr_high", vital_kind::heart_rate, 120, 0), low_rule("spo2_low", vital_kind::spo2, 90, 0),
              high_rule("rr_high", vital_kind::respiratory_rate, 24, 0)};
  rig r(p);
  r.open();
  millis t = t0 + 1 * s_;
  for (int i = 0; i < 100; ++i, t += 1 * s_) {
    EXPECT_EQ(r.feed(vital_kind::heart_rate, 220, t, quality::artifact), sample_outcome::not_evaluated);
    EXPECT_EQ(r.feed(vital_kind::spo2, 50, t, quality::implausible), sample_outcome::not_evaluated);
    EXPECT_EQ(r.feed(vital_kind::respiratory_rate, 40, t, quality::artifact | quality::low_perfusion),
              sample_outcome::not_evaluated);
  }
  r.advance(t + 1 * hour_ms);
  for (const auto& e : r.take()) {
    if (e.type == event_type::alarm_raised) {
      EXPECT_NE(e.kind, alarm_kind::physiological) << describe(e);
    }
  }
  // A valid sample does drive them.
  r.feed(vital_kind::heart_rate, 220, t + 1 * hour_ms + 1);
  EXPECT_EQ(count(r.take(), event_type::alarm_raised, "hr_high"), 1u);
}

TEST(EngineArtifacts, FlaggedSampleNeitherStartsNorEndsACondition) {
  rig r(with_rules({high_rule("hr_high", vital_kind::heart_rate, 120, 60 * s_)}));
  r.open();
  const millis s = t0 + 1 * s_;
  r.feed(vital_kind::heart_rate, 130, s);
  r.feed(vital_kind::heart_rate, 80, s + 30 * s_, quality::artifact);  // does not end the condition
  ASSERT_TRUE(raised_exactly_at(r, "hr_high", s + 60 * s_));
  r.feed(vital_kind::heart_rate, 80, s + 2 * min_, quality::sensor_off);  // does not clear the alarm
  EXPECT_EQ(count(r.take(), event_type::alarm_cleared, "hr_high"), 0u);
  r.feed(vital_kind::heart_rate, 80, s + 3 * min_);
  EXPECT_EQ(count(r.take(), event_type::alarm_cleared, "hr_high"), 1u);
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

// --- bad input -------------------------------------------------------------------------------------------

TEST(EngineBadInput, OutOfOrderAndDuplicateSamplesHaveNoEffect) {
  rig r(with_rules({high_rule("hr_high", vital_kind::heart_rate, 120, 0)}));
  r.open();
  r.feed(vital_kind::heart_rate, 80, t0 + 10 * s_);
  r.take();
  EXPECT_EQ(r.feed(vital_kind::heart_rate, 200, t0 + 9 * s_), sample_outcome::out_of_order);
  EXPECT_EQ(r.feed(vital_kind::heart_rate, 200, t0 + 10 * s_), sample_outcome::duplicate);
  EXPECT_EQ(r.feed(vital_kind::heart_rate, 200, t0 + 1 * s_, quality::artifact), sample_outcome::out_of_order);
  r.advance(t0 + 1 * hour_ms);
  EXPECT_TRUE(r.take().empty());
  EXPECT_TRUE(r.view().alarms.empty());
  // Ordering is per kind: another kind at the same time is fine.
  EXPECT_EQ(r.feed(vital_kind::spo2, 97, t0 + 10 * s_), sample_outcome::applied);
  // And the heart-rate stream goes on from its latest sample.
  EXPECT_EQ(r.feed(vital_kind::heart_rate, 200, t0 + 1 * hour_ms + 1), sample_outcome::applied);
  EXPECT_EQ(count(r.take(), event_type::alarm_raised, "hr_high"), 1u);
}

TEST(EngineBadInput, OutOfOrderSampleDoesNotMoveTheClock) {
  rig r(stale_profile());
  r.open();
  r.feed(vital_kind::heart_rate, 80, t0 + 10 * s_);
  EXPECT_EQ(r.eng.clock(r.chair), t0 + 10 * s_);
  r.feed(vital_kind::heart_rate, 80, t0 + 5 * s_);
  EXPECT_EQ(r.eng.clock(r.chair), t0 + 10 * s_);
}

TEST(EngineBadInput, SamplesWithoutASessionRaiseOneAdvisoryAndNoPhysiologicalAlarm) {
  auto p = news2_profile();
  p.limits = {high_rule("hr_high", vital_kind::heart_rate, 120, 0), low_rule("spo2_low", vital_kind::spo2, 90, 0)};
  rig r(p);
  millis t = t0;
  for (int i = 0; i < 60; ++i, t += 1 * s_) {
    EXPECT_EQ(r.feed(vital_kind::heart_rate, 250, t), sample_outcome::no_session);
    EXPECT_EQ(r.feed(vital_kind::spo2, 40, t), sample_outcome::no_session);
    EXPECT_EQ(r.feed(vital_kind::respiratory_rate, 45, t), sample_outcome::no_session);
  }
  r.advance(t + 1 * hour_ms);
  auto ev = r.take();
  ASSERT_EQ(ev.size(), 1u) << describe(ev);
  EXPECT_EQ(ev[0].type, event_type::alarm_raised);
  EXPECT_EQ(ev[0].rule, "no_session");
  EXPECT_EQ(ev[0].kind, alarm_kind::advisory);
  EXPECT_EQ(ev[0].session, 0u);
  EXPECT_EQ(ev[0].chair, r.chair);
  EXPECT_EQ(ev[0].at, t0);
  EXPECT_FALSE(ev[0].text.empty());
  const auto advisory = ev[0].alarm;

  // Opening a session clears the advisory.
  const millis open_at = t + 1 * hour_ms + 1;
  r.open(open_at);
  ev = r.take();
  const auto cleared = of_type(ev, event_type::alarm_cleared, "no_session");
  ASSERT_EQ(cleared.size(), 1u);
  EXPECT_EQ(cleared[0].alarm, advisory);
  EXPECT_EQ(cleared[0].at, open_at);
  EXPECT_EQ(count(ev, event_type::session_opened), 1u);
}

TEST(EngineBadInput, NoSessionAdvisoryCanBeAcknowledged) {
  rig r(quiet_profile());
  EXPECT_EQ(r.feed(vital_kind::heart_rate, 80, t0), sample_outcome::no_session);
  const auto raised = of_type(r.take(), event_type::alarm_raised, "no_session");
  ASSERT_EQ(raised.size(), 1u);
  ASSERT_TRUE(r.ack(raised[0].alarm, t0 + 1 * s_).ok());
  const auto ev = r.take();
  EXPECT_EQ(count(ev, event_type::alarm_acknowledged), 1u);
  EXPECT_EQ(count(ev, event_type::alarm_cleared, "no_session"), 1u);
}

TEST(EngineBadInput, VitalsFromBeforeTheSessionDoNotDriveItsAlarms) {
  // Samples streamed with no session open (possibly the previous patient's) must not raise
  // physiological alarms in the session opened afterwards.
  auto p = news2_profile();
  rig r(p);
  r.feed(vital_kind::spo2, 80, t0);               // no session: NEWS2 3 points
  r.feed(vital_kind::respiratory_rate, 30, t0);   // 3 points
  const millis open_at = t0 + 1 * min_;
  r.open(open_at);
  r.feed(vital_kind::heart_rate, 72, open_at + 1 * s_);  // a normal first sample in the session
  r.advance(open_at + 10 * min_);
  std::vector<event> physiological;
  for (const auto& e : r.take()) {
    if (e.type == event_type::alarm_raised && e.kind == alarm_kind::physiological) physiological.push_back(e);
  }
  EXPECT_TRUE(physiological.empty()) << "SpO2 80 and RR 30 streamed before the session drive its alarms:\n"
                                      << describe(physiological);
}

TEST(EngineBadInput, PreviousSessionsVitalsDoNotDriveTheNextSessionsAlarms) {
  auto p = news2_profile();
  rig r(p);
  r.open(t0, "patient-1");
  r.feed(vital_kind::spo2, 85, t0 + 1 * s_);
  r.feed(vital_kind::respiratory_rate, 30, t0 + 1 * s_);
  ASSERT_TRUE(r.close(t0 + 5 * min_).ok());
  r.take();
  const millis open_at = t0 + 6 * min_;
  r.open(open_at, "patient-2");
  r.feed(vital_kind::heart_rate, 72, open_at + 1 * s_);
  r.advance(open_at + 10 * min_);
  std::vector<event> physiological;
  for (const auto& e : r.take()) {
    if (e.type == event_type::alarm_raised && e.kind == alarm_kind::physiological) physiological.push_back(e);
  }
  EXPECT_TRUE(physiological.empty()) << "patient-1's SpO2 85 / RR 30 drive patient-2's alarms:\n"
                                      << describe(physiological);
}

TEST(EngineBadInput, CommandsInTheWrongStateAreClearErrors) {
  rig r(discharge_profile());
  auto res = r.dose(t0);
  EXPECT_EQ(res.error, command_error::no_open_session);
  EXPECT_FALSE(res.message.empty());
  res = r.eng.apply(override_predose{r.chair, "dr", "why"}, t0);
  EXPECT_EQ(res.error, command_error::no_open_session);
  EXPECT_FALSE(res.message.empty());
  res = r.ack(12345, t0);
  EXPECT_EQ(res.error, command_error::unknown_alarm);
  EXPECT_FALSE(res.message.empty());
  res = r.close(t0);
  EXPECT_EQ(res.error, command_error::no_open_session);
  EXPECT_FALSE(res.message.empty());
  EXPECT_TRUE(r.take().empty());

  const millis dose = start_dosed(r);
  r.cuff(126, 84, dose + 30 * min_);
  r.advance(dose + 120 * min_);
  ASSERT_EQ(r.current(), phase::ready);
  r.take();
  res = r.dose(dose + 121 * min_);
  EXPECT_EQ(res.error, command_error::wrong_phase);
  EXPECT_FALSE(res.message.empty());
  res = r.ack(999'999, dose + 121 * min_);
  EXPECT_EQ(res.error, command_error::unknown_alarm);
  EXPECT_FALSE(res.message.empty());
  EXPECT_TRUE(r.take().empty());
  EXPECT_EQ(r.current(), phase::ready);
}

TEST(EngineBadInput, NameFunctionsCoverEveryValue) {
  EXPECT_EQ(name(command_error::predose_gate), "predose_gate");
  EXPECT_EQ(name(event_type::alarm_resounded), "alarm_resounded");
  EXPECT_EQ(name(phase::ready), "ready");
  EXPECT_EQ(name(priority::medium), "medium");
  EXPECT_EQ(name(alarm_kind::technical), "technical");
  for (int i = 1; i <= 13; ++i) EXPECT_NE(name(static_cast<event_type>(i)), "unknown") << i;
}

/// Chair "quiet" runs an ordinary session with an alarm, an ack and a close; when `noisy`,
/// chair "noisy" receives every kind of bad input in between. Returns quiet's events with
/// ids normalised (the engine's id counters are shared by all chairs).
std::vector<event> quiet_chair_events(bool noisy) {
  auto p = escalating_profile();
  p.predose.require_reading = true;
  p.technical.stale_after_ms = 30 * s_;
  engine eng(std::vector<profile>{p});
  std::vector<event> all;
  auto take = [&] {
    auto e = eng.take_events();
    all.insert(all.end(), e.begin(), e.end());
  };
  auto noise = [&](millis t) {
    if (!noisy) return;
    EXPECT_EQ(eng.on_sample("noisy", sample(vital_kind::heart_rate, 250, t)), sample_outcome::no_session);
    EXPECT_EQ(eng.on_sample("noisy", sample(vital_kind::heart_rate, 250, t - 1)), sample_outcome::out_of_order);
    EXPECT_EQ(eng.on_sample("noisy", sample(vital_kind::heart_rate, 250, t)), sample_outcome::duplicate);
    EXPECT_EQ(eng.apply(mark_dose{"noisy", "iv", "x", "dr"}, t).error, command_error::no_open_session);
    EXPECT_EQ(eng.apply(acknowledge{"noisy", 77, "n"}, t).error, command_error::unknown_alarm);
    EXPECT_EQ(eng.apply(acknowledge{"quiet", 987654, "n"}, t).error, command_error::unknown_alarm);
    EXPECT_EQ(eng.apply(pause_audio{"noisy", 10 * s_, "n"}, t).error, command_error::no_open_session);
    EXPECT_EQ(eng.apply(close_session{"noisy", "n", true, "x"}, t).error, command_error::no_open_session);
    EXPECT_EQ(eng.apply(open_session{"noisy", "p", "nope", "n"}, t).error, command_error::unknown_profile);
  };
  eng.on_device("quiet", true, t0);
  EXPECT_TRUE(eng.apply(open_session{"quiet", "p", "test", "n"}, t0).ok());
  millis t = t0 + 1 * s_;
  for (; t < t0 + 10 * min_; t += 5 * s_) {
    eng.on_sample("quiet", sample(vital_kind::heart_rate, t < t0 + 3 * min_ ? 80 : 130, t));
    eng.on_sample("quiet", sample(vital_kind::spo2, 97, t));
    if (t == t0 + 1 * s_ + 60 * s_) eng.on_sample("quiet", sample(vital_kind::nibp_systolic, 120, t));
    noise(t);
    take();
  }
  const auto v = eng.session("quiet");
  EXPECT_TRUE(v && !v->alarms.empty());
  if (v && !v->alarms.empty()) {
    EXPECT_TRUE(eng.apply(acknowledge{"quiet", v->alarms.front().id, "n"}, t).ok());
  }
  noise(t + 1);
  EXPECT_EQ(eng.apply(mark_dose{"quiet", "iv", "x", "dr"}, t + 2).error, command_error::none);
  eng.advance(t + 30 * min_);
  noise(t + 30 * min_);
  EXPECT_TRUE(eng.apply(close_session{"quiet", "n", false, ""}, t + 31 * min_).ok());
  take();
  return normalise_ids(for_chair(all, "quiet"));
}

TEST(EngineBadInput, BadInputOnOneChairDoesNotDisturbAnother) {
  const auto alone = quiet_chair_events(false);
  const auto alongside = quiet_chair_events(true);
  ASSERT_GT(alone.size(), 5u);
  EXPECT_TRUE(same_events(alone, alongside));
}

// --- the generic profile ------------------------------------------------------------------------------------

TEST(EngineGeneric, RuleIdsAreUniqueAndEscalationIsConfigured) {
  const auto p = generic_profile();
  EXPECT_EQ(p.id, "generic");
  std::set<std::string> ids;
  for (const auto& r : p.limits) {
    EXPECT_TRUE(ids.insert(r.id).second) << "duplicate rule " << r.id;
    EXPECT_TRUE(r.low || r.high) << r.id;
    EXPECT_GE(r.confirm_readings, 1) << r.id;
  }
  for (const char* id : {"spo2_low", "hr_high", "systolic_high", "systolic_severe", "systolic_rise", "diastolic_rise"}) {
    EXPECT_EQ(ids.count(id), 1u) << id;
  }
  ASSERT_EQ(p.escalation_high.size(), 3u);
  EXPECT_EQ(p.escalation_high[1].after_ms, 2 * min_);
  EXPECT_EQ(p.escalation_high[2].after_ms, 5 * min_);
  EXPECT_FALSE(p.escalation_medium.empty());
  EXPECT_LE(p.audio.max_pause_ms, 2 * min_);
  EXPECT_GE(p.discharge.observation_ms, 120 * min_);  // Spravato label: at least 2 hours
  EXPECT_TRUE(p.predose.require_reading);
}

TEST(EngineGeneric, DefaultProfileWhenNoneIsGiven) {
  engine eng(std::vector<profile>{});
  eng.on_device("c", true, t0);
  const auto res = eng.apply(open_session{"c", "p", "generic", "n"}, t0);
  EXPECT_TRUE(res.ok()) << res.message;
}

/// A generic-profile session: baseline 120/78, HR 72, SpO2 98, RR 14, dosed at t0 + 10 min.
struct generic_session {
  rig r{generic_profile()};
  millis dose = t0 + 10 * min_;
  millis t = t0;  // the latest time fed
  generic_session() {
    r.open(t0);
    tick_until(t0 + 1 * min_);
    r.cuff(120, 78, t0 + 1 * min_ + 2);
    tick_until(dose - 1);
    const auto res = r.dose(dose);
    EXPECT_TRUE(res.ok()) << res.message;
  }
  /// Normal vitals every 5 s, with extra values where `hr`/`spo2` are given, and a cuff reading every 10 min.
  void tick_until(millis end, double hr = 72, double spo2 = 98, double rr = 14) {
    for (t += 5 * s_; t <= end; t += 5 * s_) {
      r.feed(vital_kind::heart_rate, hr, t);
      r.feed(vital_kind::spo2, spo2, t);
      r.feed(vital_kind::respiratory_rate, rr, t);
      if ((t - t0) % (10 * min_) < 5 * s_) r.cuff(122, 80, t + 2);
    }
    t -= 5 * s_;
  }
};

TEST(EngineGeneric, QuietSessionHasNoAlarmsAndBecomesReadyAfterTwoHours) {
  generic_session g;
  g.tick_until(g.dose + 125 * min_);
  const auto ev = g.r.take();
  EXPECT_EQ(count(ev, event_type::alarm_raised), 0u) << describe(of_type(ev, event_type::alarm_raised));
  const auto ready = first(ev, event_type::phase_changed);
  ASSERT_TRUE(ready);
  EXPECT_EQ(ready->to, phase::observation);
  const auto changes = of_type(ev, event_type::phase_changed);
  ASSERT_EQ(changes.size(), 2u);
  EXPECT_EQ(changes[1].to, phase::ready);
  EXPECT_EQ(changes[1].at, g.dose + 120 * min_);
}

TEST(EngineGeneric, SustainedTachycardiaAlarmsAfterFiveMinutes) {
  generic_session g;
  g.tick_until(g.dose + 20 * min_);
  g.r.take();
  const millis from = g.t + 5 * s_;
  g.tick_until(from + 5 * min_ - 5 * s_, 125);
  EXPECT_EQ(count(g.r.take(), event_type::alarm_raised, "hr_high"), 0u);
  g.tick_until(from + 5 * min_, 125);
  const auto raised = of_type(g.r.take(), event_type::alarm_raised, "hr_high");
  ASSERT_EQ(raised.size(), 1u);
  EXPECT_EQ(raised[0].at, from + 5 * min_);
  EXPECT_EQ(raised[0].level, priority::medium);
}

TEST(EngineGeneric, DesaturationRaisesCriticalThenLowThenNews2) {
  generic_session g;
  g.tick_until(g.dose + 20 * min_);
  g.r.take();
  const millis from = g.t + 5 * s_;
  g.tick_until(from + 2 * min_, 72, 85);
  const auto ev = g.r.take();
  const auto critical = first(ev, event_type::alarm_raised, "spo2_critical");
  const auto low = first(ev, event_type::alarm_raised, "spo2_low");
  const auto news = first(ev, event_type::alarm_raised, "news2_urgent");
  ASSERT_TRUE(critical);
  ASSERT_TRUE(low);
  ASSERT_TRUE(news);
  EXPECT_EQ(critical->at, from + 10 * s_);
  EXPECT_EQ(critical->level, priority::high);
  EXPECT_EQ(low->at, from + 30 * s_);
  EXPECT_EQ(news->at, from + 60 * s_);
  // spo2_critical latches; the others clear once SpO2 recovers.
  g.tick_until(from + 4 * min_);
  EXPECT_TRUE(g.r.alarm("spo2_critical"));
  EXPECT_FALSE(g.r.alarm("spo2_low"));
  EXPECT_FALSE(g.r.alarm("news2_urgent"));
}

TEST(EngineGeneric, SystolicRiseOfFortyOverBaselineAlarms) {
  // Spravato label: a rise of >= 40 mmHg systolic. Baseline 120: 160 is a rise of exactly 40.
  generic_session g;
  g.r.cuff(159, 80, g.dose + 30 * min_ + 1);
  EXPECT_EQ(count(g.r.take(), event_type::alarm_raised, "systolic_rise"), 0u);
  g.r.cuff(160, 80, g.dose + 31 * min_ + 1);
  EXPECT_EQ(count(g.r.take(), event_type::alarm_raised, "systolic_rise"), 1u) << "the label counts a rise of 40 or more";
}

TEST(EngineGeneric, SeverePressureAlarmsAtOnceAndHighPressureNeedsConfirmation) {
  generic_session g;
  g.tick_until(g.dose + 20 * min_);
  g.r.take();
  g.r.feed(vital_kind::nibp_systolic, 185, g.t + 1 * min_);
  auto ev = g.r.take();
  EXPECT_EQ(count(ev, event_type::alarm_raised, "systolic_high"), 0u);
  g.r.feed(vital_kind::nibp_systolic, 186, g.t + 5 * min_);
  ev = g.r.take();
  EXPECT_EQ(count(ev, event_type::alarm_raised, "systolic_high"), 1u);
  g.r.feed(vital_kind::nibp_systolic, 205, g.t + 6 * min_);
  ev = g.r.take();
  EXPECT_EQ(count(ev, event_type::alarm_raised, "systolic_severe"), 1u);
}

TEST(EngineGeneric, PreDoseGateNeedsAReading) {
  rig r(generic_profile());
  r.open();
  EXPECT_EQ(r.dose(t0 + 1 * min_).error, command_error::predose_gate);
  r.cuff(150, 95, t0 + 2 * min_);
  EXPECT_EQ(r.dose(t0 + 3 * min_).error, command_error::predose_gate);
  EXPECT_TRUE(r.alarm("predose_bp"));
}

}  // namespace
}  // namespace vigil::engine::testing

namespace vigil::engine::testing {
namespace {

TEST(EngineAudioPauseLimit, AHighAlarmSilentThroughOnePauseIsNotSilencedByTheNext) {
  rig r(generic_profile());
  r.open();
  const millis s = t0 + 1 * s_;
  r.feed(vital_kind::heart_rate, 150, s);  // hr_critical: high priority, after its delay
  r.advance(s + 5 * min_);
  ASSERT_TRUE(r.alarm("hr_critical"));
  ASSERT_TRUE(r.pause(2 * min_, s + 5 * min_).ok());
  EXPECT_FALSE(r.alarm("hr_critical")->audible) << "the first pause silences it";
  r.advance(s + 8 * min_);  // the pause has run out
  EXPECT_TRUE(r.alarm("hr_critical")->audible);
  ASSERT_TRUE(r.pause(2 * min_, s + 8 * min_).ok());
  EXPECT_TRUE(r.alarm("hr_critical")->audible) << "a second pause must not keep a high-priority alarm silent";
}

TEST(EngineNews2Order, AJumpStraightToTheEmergencyBandRaisesOnlyTheEmergencyAlarm) {
  rig r(generic_profile());
  r.open();
  const millis s = t0 + 1 * s_;
  r.feed(vital_kind::respiratory_rate, 25, s);  // 3
  r.feed(vital_kind::heart_rate, 131, s);       // 3
  r.feed(vital_kind::spo2, 91, s);              // 3: 9 at once
  r.advance(s + 5 * min_);
  const auto ev = r.take();
  EXPECT_EQ(count(ev, event_type::alarm_raised, "news2_emergency"), 1u);
  EXPECT_EQ(count(ev, event_type::alarm_raised, "news2_urgent"), 0u) << describe(ev);
}

}  // namespace
}  // namespace vigil::engine::testing

namespace vigil::engine::testing {
namespace {

TEST(EngineBatch, OnSamplesEqualsOnSampleOneByOneAndCountsOutcomes) {
  std::vector<model::vital_sample> batch;
  for (int i = 0; i < 120; ++i) {
    const millis at = t0 + 1000 + i * 1000;
    batch.push_back({at, i < 60 ? 97.0 : 85.0, vital_kind::spo2, model::quality::ok});
    batch.push_back({at, 75, vital_kind::heart_rate, i % 10 == 0 ? model::quality::artifact : model::quality::ok});
  }
  batch.push_back(batch.front());  // out of order by now
  engine one(std::vector<profile>{generic_profile()});
  engine many(std::vector<profile>{generic_profile()});
  ASSERT_TRUE(one.apply(open_session{"chair-1", "P-1", "generic", "nurse-a"}, t0).ok());
  ASSERT_TRUE(many.apply(open_session{"chair-1", "P-1", "generic", "nurse-a"}, t0).ok());
  for (const auto& s : batch) one.on_sample("chair-1", s);
  const auto counts = many.on_samples("chair-1", batch);
  EXPECT_TRUE(same_events(one.take_events(), many.take_events()));
  EXPECT_EQ(counts[static_cast<std::size_t>(sample_outcome::applied)], 228u);
  EXPECT_EQ(counts[static_cast<std::size_t>(sample_outcome::not_evaluated)], 12u);
  EXPECT_EQ(counts[static_cast<std::size_t>(sample_outcome::out_of_order)], 1u);
}

}  // namespace
}  // namespace vigil::engine::testing

namespace vigil::engine::testing {
namespace {

TEST(EngineAudioPauseLimit, ChainedPausesDoNotKeepAHighAlarmSilent) {
  rig r(generic_profile());
  r.open();
  const millis s = t0 + 1 * s_;
  r.feed(vital_kind::heart_rate, 150, s);
  r.advance(s + 5 * min_);
  ASSERT_TRUE(r.alarm("hr_critical"));
  ASSERT_TRUE(r.pause(2 * min_, s + 5 * min_).ok());
  EXPECT_FALSE(r.alarm("hr_critical")->audible);
  // Renewed before it runs out.
  ASSERT_TRUE(r.pause(2 * min_, s + 6 * min_ + 50 * s_).ok());
  EXPECT_TRUE(r.alarm("hr_critical")->audible) << "a renewed pause must not silence a high-priority alarm again";
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
