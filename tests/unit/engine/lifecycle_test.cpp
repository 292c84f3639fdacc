// The alarm lifecycle: acknowledgement, escalation, re-sounding and the audio pause.
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

// --- acknowledgement -------------------------------------------------------------------------------


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

TEST(EngineAck, ARepeatedAcknowledgementChangesNothingAndRecordsNothing) {
  rig r(escalating_profile());
  r.open();
  r.feed(vital_kind::heart_rate, 130, t0 + 1 * s_);
  const auto id = r.must_alarm("hr_high").id;
  const millis ack_at = t0 + 1 * min_;
  ASSERT_TRUE(r.ack(id, ack_at, "nurse-x").ok());
  r.take();

  // The same alarm again, by another nurse, a minute later: ok, no event, same who, same silence.
  const auto again = r.ack(id, ack_at + 1 * min_, "nurse-y");
  ASSERT_TRUE(again.ok()) << again.message;
  EXPECT_EQ(again.session, r.view().id);
  EXPECT_EQ(again.message, "alarm " + std::to_string(id) + " is already acknowledged by nurse-x");
  EXPECT_EQ(count(r.take(), event_type::alarm_acknowledged), 0u);
  EXPECT_EQ(r.must_alarm("hr_high").acknowledged_by, "nurse-x");

  // The silence still ends 5 min after the first acknowledgement, not after the repeat.
  r.advance(ack_at + 5 * min_);
  EXPECT_EQ(count(r.take(), event_type::alarm_resounded), 1u);

  // Once it re-sounds it is no longer acknowledged: the next acknowledgement is a new one.
  ASSERT_TRUE(r.ack(id, ack_at + 6 * min_, "nurse-y").ok());
  const auto acked = of_type(r.take(), event_type::alarm_acknowledged);
  ASSERT_EQ(acked.size(), 1u);
  EXPECT_EQ(acked[0].who, "nurse-y");
  EXPECT_EQ(acked[0].until, ack_at + 11 * min_);
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


TEST(EngineAudioPauseLimit, AHighAlarmSilentThroughOnePauseIsNotSilencedByTheNext) {
  rig r(generic_profile());
  r.open();
  const millis s = t0 + 1 * s_;
  r.feed(vital_kind::heart_rate, 150, s);  // hr_critical: high priority, after its delay
  r.feed(vital_kind::heart_rate, 150, s + 1 * s_);  // confirmed by a second reading
  r.advance(s + 5 * min_);
  ASSERT_TRUE(r.alarm("hr_critical"));
  ASSERT_TRUE(r.pause(2 * min_, s + 5 * min_).ok());
  EXPECT_FALSE(r.alarm("hr_critical")->audible) << "the first pause silences it";
  r.advance(s + 8 * min_);  // the pause has run out
  EXPECT_TRUE(r.alarm("hr_critical")->audible);
  ASSERT_TRUE(r.pause(2 * min_, s + 8 * min_).ok());
  EXPECT_TRUE(r.alarm("hr_critical")->audible) << "a second pause must not keep a high-priority alarm silent";
}


TEST(EngineAudioPauseLimit, ChainedPausesDoNotKeepAHighAlarmSilent) {
  rig r(generic_profile());
  r.open();
  const millis s = t0 + 1 * s_;
  r.feed(vital_kind::heart_rate, 150, s);
  r.feed(vital_kind::heart_rate, 150, s + 1 * s_);
  r.advance(s + 5 * min_);
  ASSERT_TRUE(r.alarm("hr_critical"));
  ASSERT_TRUE(r.pause(2 * min_, s + 5 * min_).ok());
  EXPECT_FALSE(r.alarm("hr_critical")->audible);
  // Renewed before it runs out.
  ASSERT_TRUE(r.pause(2 * min_, s + 6 * min_ + 50 * s_).ok());
  EXPECT_TRUE(r.alarm("hr_critical")->audible) << "a renewed pause must not silence a high-priority alarm again";
}

}  // namespace
}  // namespace vigil::engine::testing
