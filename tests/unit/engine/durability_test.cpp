// The engine and the disk. Checkpoints: a fresh engine restored from a chair's checkpoint
// carries on exactly as the original would have. Storage: while the timeline is not being
// saved, every open session says so with a technical alarm. The property test (engine_property_test.cpp) restarts random streams;
// these tests pin the state a nurse would notice: alarms, acknowledgements, audio pauses,
// escalation timers, baselines and the observation window.

#include "tests/unit/engine/engine_fixture.hpp"

#include <gtest/gtest.h>

namespace vigil::engine::testing {
namespace {

constexpr millis s_ = seconds_ms;
constexpr millis min_ = minutes_ms;

profile checkpoint_profile() {
  auto p = with_rules({high_rule("hr_high", vital_kind::heart_rate, 120, 10 * s_),
                       low_rule("spo2_critical", vital_kind::spo2, 85, 0, priority::high),
                       high_rule("systolic_rise", vital_kind::nibp_systolic, 30, 0)});
  p.limits[2].relative = true;
  p.limits[2].phases = {phase::observation, phase::ready};
  p.escalation_high = {{"nurse", 0}, {"charge_nurse", 30 * s_}, {"physician", 2 * min_}};
  p.escalation_medium = {{"nurse", 0}, {"charge_nurse", 90 * s_}};
  return p;
}

/// Replaces the rig's engine by a fresh one restored from the chair's checkpoint.
void restart(rig& r, std::string_view fallback = "test") {
  const std::string data = r.eng.checkpoint(r.chair);
  ASSERT_FALSE(data.empty());
  r.eng = engine(std::vector<profile>{checkpoint_profile()});
  const auto result = r.eng.restore(data, fallback);
  ASSERT_TRUE(result.restored) << result.message;
  EXPECT_EQ(result.chair, r.chair);
}

TEST(EngineCheckpoint, AlarmsAcknowledgementsPausesAndEscalationTimersComeBack) {
  rig r(checkpoint_profile());
  r.open();
  r.cuff(118, 76, t0 + 10 * s_);
  r.feed(vital_kind::heart_rate, 130, t0 + 20 * s_);
  r.feed(vital_kind::spo2, 80, t0 + 21 * s_);
  r.advance(t0 + 40 * s_);
  const auto hr = r.must_alarm("hr_high");
  ASSERT_TRUE(r.ack(hr.id, t0 + 41 * s_).ok());
  ASSERT_TRUE(r.pause(2 * min_, t0 + 42 * s_).ok());
  ASSERT_TRUE(r.pause(2 * min_, t0 + 43 * s_).ok());  // the second pause no longer silences spo2_critical
  r.take();
  const auto before = r.view();

  restart(r);
  const auto after = r.view();
  EXPECT_EQ(after.id, before.id);
  EXPECT_EQ(after.patient_ref, before.patient_ref);
  EXPECT_EQ(after.current, before.current);
  EXPECT_EQ(after.paused_until, before.paused_until);
  ASSERT_EQ(after.alarms.size(), before.alarms.size());
  for (std::size_t i = 0; i < after.alarms.size(); ++i) {
    const auto& a = after.alarms[i];
    const auto& b = before.alarms[i];
    EXPECT_EQ(a.id, b.id);
    EXPECT_EQ(a.rule, b.rule);
    EXPECT_EQ(a.acknowledged, b.acknowledged);
    EXPECT_EQ(a.acknowledged_by, b.acknowledged_by);
    EXPECT_EQ(a.tier, b.tier);
    EXPECT_EQ(a.audible, b.audible) << a.rule;
  }
  EXPECT_TRUE(r.must_alarm("spo2_critical").audible) << "paused through one pause already";

  // The escalation timer of the high alarm runs on from where it was: physician at raise + 2 min.
  const millis raised = r.must_alarm("spo2_critical").raised_at;
  r.advance(raised + 2 * min_ - 1);
  EXPECT_EQ(r.must_alarm("spo2_critical").tier, 1);
  r.take();
  r.advance(raised + 2 * min_);
  const auto ev = r.take();
  const auto escalated = of_type(ev, event_type::alarm_escalated, "spo2_critical");
  ASSERT_EQ(escalated.size(), 1u);
  EXPECT_EQ(escalated[0].at, raised + 2 * min_);
  EXPECT_EQ(escalated[0].responder, "physician");
  // The acknowledgement silence ends where it would have: ack + 5 min.
  r.advance(t0 + 41 * s_ + 5 * min_);
  EXPECT_EQ(count(r.take(), event_type::alarm_resounded, "hr_high"), 1u);
}

// A command on a session (REST: /sessions/{id}/...) finds its chair by the session id, from an
// index the engine keeps as sessions open, close and come back from checkpoints.
TEST(EngineCheckpoint, AnOpenSessionsChairIsFoundByItsIdBeforeAndAfterARestart) {
  rig r(checkpoint_profile());
  const auto id = r.open();
  EXPECT_EQ(r.eng.chair_of_session(id), std::optional<std::string>("chair-1"));
  EXPECT_FALSE(r.eng.chair_of_session(id + 1));
  restart(r);
  EXPECT_EQ(r.eng.chair_of_session(id), std::optional<std::string>("chair-1")) << "restored";
  ASSERT_TRUE(r.eng.apply(close_session{"chair-1", "nurse-a", false, ""}, t0 + s_).ok());
  EXPECT_FALSE(r.eng.chair_of_session(id)) << "closed";
  const auto next = r.open(t0 + 2 * s_);
  EXPECT_NE(next, id);
  EXPECT_EQ(r.eng.chair_of_session(next), std::optional<std::string>("chair-1"));
}

TEST(EngineCheckpoint, BaselineDoseAndObservationWindowComeBack) {
  rig r(checkpoint_profile());
  r.open();
  r.cuff(120, 80, t0 + 30 * s_);
  ASSERT_TRUE(r.dose(t0 + 5 * min_).ok());
  r.take();
  restart(r);
  EXPECT_EQ(r.current(), phase::observation);
  EXPECT_EQ(r.view().dose_at, t0 + 5 * min_);
  // The relative rule still knows the baseline: 150 is 30 above 120, not above; 151 is.
  r.cuff(150, 80, t0 + 10 * min_);
  EXPECT_FALSE(r.alarm("systolic_rise"));
  r.cuff(151, 80, t0 + 20 * min_);
  EXPECT_TRUE(r.alarm("systolic_rise"));
  r.cuff(125, 80, t0 + 30 * min_);
  r.feed(vital_kind::spo2, 97, t0 + 30 * min_);
  // Ready only once the two-hour observation window from the dose has passed.
  r.advance(t0 + 5 * min_ + 120 * min_ - 1);
  EXPECT_EQ(r.current(), phase::observation);
  r.advance(t0 + 5 * min_ + 120 * min_);
  EXPECT_EQ(r.current(), phase::ready);
}

// A chair's checkpoint is written with every batch that changes it, all session long; the
// baseline windows (kept after the dose for a re-take) are most of it. At 1 Hz, four streams
// and ten minutes of window: 2,400 readings. Kept compact (times as differences, whole values
// as integers), and exact: the re-take after a restart uses the same readings.
TEST(EngineCheckpoint, TheBaselineWindowsOfA1HzChairStayCompactAndExact) {
  rig r(checkpoint_profile());
  r.open(t0);
  millis t = t0 + 1 * s_;
  for (; t <= t0 + 15 * min_; t += 1 * s_) {
    r.feed(vital_kind::heart_rate, 70 + static_cast<double>(t / s_ % 7), t);
    r.feed(vital_kind::spo2, 97 + static_cast<double>(t / s_ % 2), t + 1);
    r.feed(vital_kind::respiratory_rate, 14 + static_cast<double>(t / s_ % 3), t + 2);
    r.feed(vital_kind::pulse_rate, 71.5 + static_cast<double>(t / s_ % 5), t + 3);  // not whole
  }
  ASSERT_TRUE(r.dose(t).ok());
  const auto data = r.eng.checkpoint(r.chair);
  EXPECT_LT(data.size(), 16'000u) << "bytes per checkpoint of one chair";
  const auto before = r.eng.session(r.chair)->baseline;
  restart(r);
  ASSERT_TRUE(r.eng.apply(retake_baseline{r.chair, "nurse-a", "after the restart"}, t).ok());
  const auto set = first(r.take(), event_type::baseline_set);
  ASSERT_TRUE(set);
  EXPECT_EQ(set->text, "re-taken: after the restart; " + before) << "the same readings after a restart";
}

TEST(EngineCheckpoint, NewIdsNeverRepeatOnesAlreadyGiven) {
  rig r(checkpoint_profile());
  const auto first = r.open();
  r.feed(vital_kind::spo2, 80, t0 + 1 * s_);
  const auto alarm = r.must_alarm("spo2_critical").id;
  ASSERT_TRUE(r.close(t0 + 2 * s_).ok());
  restart(r);
  const auto second = r.open(t0 + 3 * s_);
  EXPECT_GT(second, first);
  r.feed(vital_kind::spo2, 80, t0 + 4 * s_);
  EXPECT_GT(r.must_alarm("spo2_critical").id, alarm);
  // Ids the timeline holds beyond any checkpoint are kept clear of too.
  r.eng.reserve_ids(100, 500);
  ASSERT_TRUE(r.close(t0 + 5 * s_).ok());
  EXPECT_EQ(r.open(t0 + 6 * s_), 100u);
}

TEST(EngineCheckpoint, ASessionWhoseProfileIsGoneGoesOnWithTheFallbackAndSaysSo) {
  auto old_profile = checkpoint_profile();
  old_profile.id = "retired";
  rig r(old_profile);
  r.open();
  r.feed(vital_kind::heart_rate, 80, t0 + 1 * s_);
  const std::string data = r.eng.checkpoint(r.chair);
  engine fresh(std::vector<profile>{checkpoint_profile()});
  const auto result = fresh.restore(data, "test");
  ASSERT_TRUE(result.restored);
  EXPECT_NE(result.message.find("retired"), std::string::npos) << result.message;
  EXPECT_EQ(fresh.session(r.chair)->profile, "test");
}

TEST(EngineCheckpoint, CorruptCheckpointsAreRefusedWithAReason) {
  engine eng(std::vector<profile>{checkpoint_profile()});
  for (const std::string& bad : {std::string("\xff\xff\xff"), std::string()}) {
    const auto r = eng.restore(bad, "test");
    EXPECT_FALSE(r.restored);
    EXPECT_FALSE(r.message.empty());
  }
  EXPECT_TRUE(eng.sessions().empty());
}

TEST(EngineCheckpoint, ChangedChairsAreReportedOnceUntilTheyChangeAgain) {
  rig r(checkpoint_profile());
  r.open();
  EXPECT_EQ(r.eng.take_changed(), std::vector<std::string>{"chair-1"});
  EXPECT_TRUE(r.eng.take_changed().empty());
  r.advance(t0 + 1 * s_);  // nothing due: nothing changes
  EXPECT_TRUE(r.eng.take_changed().empty());
  r.eng.on_sample("chair-2", sample(vital_kind::heart_rate, 70, t0));
  r.feed(vital_kind::heart_rate, 70, t0 + 2 * s_);
  EXPECT_EQ(r.eng.take_changed(), (std::vector<std::string>{"chair-2", "chair-1"}));
}

TEST(EngineStorage, EveryOpenSessionCarriesATechnicalAlarmWhileTheTimelineIsNotSaved) {
  rig r(checkpoint_profile());
  r.open();
  r.take();
  r.eng.on_storage(false);
  auto ev = r.take();
  ASSERT_EQ(count(ev, event_type::alarm_raised, "timeline_not_saved"), 1u);
  const auto alarm = r.must_alarm("timeline_not_saved");
  EXPECT_EQ(alarm.kind, alarm_kind::technical);
  EXPECT_EQ(alarm.level, priority::medium);
  r.eng.on_storage(false);  // still failing: no second alarm
  EXPECT_EQ(count(r.take(), event_type::alarm_raised), 0u);

  // Physiological alarms keep working meanwhile.
  r.feed(vital_kind::spo2, 80, t0 + 5 * s_);
  EXPECT_TRUE(r.alarm("spo2_critical"));

  // A session opened while the disk fails gets the alarm at once.
  rig other(checkpoint_profile(), "chair-2");
  other.eng.on_storage(false);
  other.open();
  EXPECT_TRUE(other.alarm("timeline_not_saved"));

  r.eng.on_storage(true);
  ev = r.take();
  const auto cleared = of_type(ev, event_type::alarm_cleared, "timeline_not_saved");
  ASSERT_EQ(cleared.size(), 1u);
  EXPECT_EQ(cleared[0].alarm, alarm.id);
  EXPECT_FALSE(r.alarm("timeline_not_saved"));
  EXPECT_TRUE(r.alarm("spo2_critical"));
}

TEST(EngineNotes, ANoteIsRecordedWithItsAuthorAndCountedInCharacters) {
  rig r(checkpoint_profile());
  EXPECT_EQ(r.eng.apply(add_note{r.chair, "before any session", "nurse-a"}, t0).error, command_error::no_open_session);
  r.open();
  r.take();
  std::string accented;
  for (int i = 0; i < 2000; ++i) accented += "\xc3\xa9";  // 2000 characters, 4000 bytes of UTF-8
  ASSERT_TRUE(r.eng.apply(add_note{r.chair, accented, "nurse-a"}, t0 + 1).ok());
  EXPECT_EQ(r.eng.apply(add_note{r.chair, accented + "e", "nurse-a"}, t0 + 2).error, command_error::invalid_argument);
  EXPECT_EQ(r.eng.apply(add_note{r.chair, "", "nurse-a"}, t0 + 3).error, command_error::invalid_argument);
  EXPECT_EQ(r.eng.apply(add_note{r.chair, "text", ""}, t0 + 4).error, command_error::invalid_argument);
  const auto notes = of_type(r.take(), event_type::note_added);
  ASSERT_EQ(notes.size(), 1u);
  EXPECT_EQ(notes[0].who, "nurse-a");
  EXPECT_EQ(notes[0].text, accented);
  EXPECT_EQ(notes[0].at, t0 + 1);
}

}  // namespace
}  // namespace vigil::engine::testing
