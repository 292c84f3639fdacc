// The engine as a whole: bad input, batches, and the generic profile end to end.
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
  // The first reading of 125, a step of 50 from 75, is judged an artefact (alarms.md 3.6); the
  // condition starts at the second, which confirms the new level.
  const millis from = g.t + 10 * s_;  // readings every 5 s: the second reading of 125
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


// --- one firing pass, family by family (alarms.md 2.3) ----------------------------------------------------

TEST(EngineFiringPass, PhysiologicalRulesFireBeforeTechnicalOnesDueAtTheSameMoment) {
  auto p = news2_profile();
  p.technical.sensor_off_delay_ms = 60 * s_;
  p.technical.sensor_off_level = priority::medium;
  rig r(p);
  r.open();
  const millis s = t0 + 1 * s_;
  r.feed(vital_kind::respiratory_rate, 16, s);
  r.feed(vital_kind::nibp_systolic, 120, s + 1);
  r.feed(vital_kind::heart_rate, 70, s + 2);
  r.feed(vital_kind::spo2, 91, s + 3);                                // NEWS2 3 points: urgent after 60 s
  r.feed(vital_kind::heart_rate, 0, s + 3, quality::sensor_off);      // ECG off: alarm after 60 s
  r.take();
  r.advance(s + 3 + 60 * s_);
  const auto raised = of_type(r.take(), event_type::alarm_raised);
  ASSERT_EQ(raised.size(), 2u) << describe(raised);
  EXPECT_EQ(raised[0].rule, "news2_urgent");
  EXPECT_EQ(raised[1].rule, "sensor_off_ecg");
  EXPECT_EQ(raised[0].at, raised[1].at);
  EXPECT_LT(raised[0].alarm, raised[1].alarm);
}

// Found on recorded data: a reading that came exactly when a timer was due (a once-a-minute
// stream back inside exactly at the end of a 60 s delay, a stream's next sample exactly at its
// stale limit) was applied after the timer, so an alarm was raised and cleared at one instant,
// and still escalated. The reading goes first now.
TEST(EngineSamplePath, AReadingAtATimersDueTimeIsAppliedBeforeTheTimer) {
  auto p = stale_profile();
  p.limits = {low_rule("spo2_low", vital_kind::spo2, 92, 60 * s_)};
  p.escalation_medium = {{"nurse", 0}};
  rig r(p);
  r.open();
  // SpO2 at 1 Hz, then a gap of exactly the stale limit (30 s): the sample at the limit is in time.
  for (int i = 1; i <= 5; ++i) r.feed(vital_kind::spo2, 97, t0 + i * s_);
  r.feed(vital_kind::spo2, 97, t0 + 35 * s_);
  // Below the limit once, and back inside exactly when the 60 s delay ends: no alarm.
  r.feed(vital_kind::spo2, 90, t0 + 40 * s_);
  for (int i = 1; i <= 6; ++i) r.feed(vital_kind::spo2, i < 6 ? 90 : 97, t0 + 40 * s_ + i * 10 * s_);
  r.advance(t0 + 129 * s_);
  const auto ev = r.take();
  EXPECT_EQ(count(ev, event_type::alarm_raised, "stale_spo2"), 0u) << describe(ev);
  EXPECT_EQ(count(ev, event_type::alarm_raised, "spo2_low"), 0u) << describe(ev);
  EXPECT_EQ(count(ev, event_type::alarm_cleared, "spo2_low"), 0u) << describe(ev);
}
}  // namespace
}  // namespace vigil::engine::testing
