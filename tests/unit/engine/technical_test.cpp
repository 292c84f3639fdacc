// Technical rules: stale streams, sensors off, the cuff schedule and the monitor's link.
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

// --- stale streams -----------------------------------------------------------------------------------


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

  // A heart-rate sample clears its alarm (not the SpO2 one); the timeout counts from the last
  // one again, here 30 s: the stream's cadence (1 s, known from its second sample) times three is
  // less than the 30 s floor.
  const millis hr_at = open_at + 40 * s_;
  r.feed(vital_kind::heart_rate, 72, hr_at);
  const auto cleared = of_type(r.take(), event_type::alarm_cleared);
  ASSERT_EQ(cleared.size(), 1u);
  EXPECT_EQ(cleared[0].rule, "stale_heart_rate");
  EXPECT_EQ(cleared[0].at, hr_at);
  EXPECT_TRUE(r.alarm("stale_spo2"));
  r.feed(vital_kind::heart_rate, 72, hr_at + 1 * s_);
  ASSERT_TRUE(raised_exactly_at(r, "stale_heart_rate", hr_at + 1 * s_ + 30 * s_));

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

// --- cadence: stale limits follow how often a stream comes (alarms.md 3.5, 7.1, 7.6) ----------------------

/// Events of one kind and rule over the whole of `events`.
std::size_t raised(const std::vector<event>& events, std::string_view rule) {
  return count(events, event_type::alarm_raised, rule);
}

TEST(EngineCadence, AOnceAMinuteStreamRaisesNoStaleAlarmWhileItKeepsItsCadence) {
  rig r(stale_profile());
  // The monitor streams before the session opens, so its cadence is known at the open.
  millis t = t0 - 3 * min_;
  for (; t < t0; t += 1 * min_) {
    r.feed(vital_kind::heart_rate, 72, t);
    r.feed(vital_kind::spo2, 97, t + 1);
  }
  r.open(t0 + 30 * s_);  // halfway between two readings
  for (; t <= t0 + 2 * hour_ms; t += 1 * min_) {
    r.feed(vital_kind::heart_rate, 72, t);
    r.feed(vital_kind::spo2, 97, t + 1);
  }
  const millis last = t - 1 * min_;
  std::vector<event> ev = r.take();
  EXPECT_EQ(raised(ev, "stale_heart_rate"), 0u) << describe(ev);
  EXPECT_EQ(raised(ev, "stale_spo2"), 0u);
  EXPECT_EQ(raised(ev, "stream_too_slow"), 0u);
  // Stopped: stale after three of its intervals, 180 s.
  ASSERT_TRUE(raised_exactly_at(r, "stale_heart_rate", last + 3 * min_));
  const auto a = r.alarm("stale_heart_rate");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->text, "no heart rate for 180 s");
}

TEST(EngineCadence, AOnceAMinuteStreamStartingAtTheOpenRaisesNoStaleAlarm) {
  // Until its second reading a stream's cadence is unknown: it is given three of the slowest
  // intervals the profile supervises (60 s), not the 30 s floor.
  rig r(stale_profile());
  r.open(t0);
  for (millis t = t0; t <= t0 + 30 * min_; t += 1 * min_) {
    r.feed(vital_kind::pulse_rate, 80, t);
    r.feed(vital_kind::spo2, 96, t + 1);
  }
  const auto ev = r.take();
  EXPECT_EQ(raised(ev, "stale_heart_rate"), 0u) << describe(ev);
  EXPECT_EQ(raised(ev, "stale_spo2"), 0u);
}

TEST(EngineCadence, AOneHertzStreamStillGoesStaleAfterThirtySeconds) {
  rig r(stale_profile());
  r.open(t0);
  millis t = t0 + 1 * s_;
  for (; t <= t0 + 10 * min_; t += 1 * s_) r.feed(vital_kind::heart_rate, 72, t);
  ASSERT_TRUE(raised_exactly_at(r, "stale_heart_rate", t - 1 * s_ + 30 * s_));
  EXPECT_EQ(r.alarm("stale_heart_rate")->text, "no heart rate for 30 s");
}

TEST(EngineCadence, CadenceIsTheUpperMedianOfTheLastFiveIntervals) {
  rig r(stale_profile());
  r.open(t0);
  for (const millis at : {t0 + 1 * s_, t0 + 2 * s_, t0 + 3 * s_, t0 + 4 * s_}) r.feed(vital_kind::heart_rate, 72, at);
  ASSERT_TRUE(raised_exactly_at(r, "stale_heart_rate", t0 + 34 * s_));  // 1 s cadence: the 30 s floor
  // Intervals 1, 1, 1, 60 s: sorted, the upper of the two middle ones is 1 s.
  r.feed(vital_kind::heart_rate, 72, t0 + 64 * s_);
  ASSERT_TRUE(raised_exactly_at(r, "stale_heart_rate", t0 + 94 * s_));
  // 1, 1, 1, 60, 60 s: the middle one is still 1 s.
  r.feed(vital_kind::heart_rate, 72, t0 + 124 * s_);
  ASSERT_TRUE(raised_exactly_at(r, "stale_heart_rate", t0 + 154 * s_));
  // One more 60 s interval pushes out a 1 s one: 1, 1, 60, 60, 60 has 60 s in the middle.
  r.feed(vital_kind::heart_rate, 72, t0 + 184 * s_);
  ASSERT_TRUE(raised_exactly_at(r, "stale_heart_rate", t0 + 184 * s_ + 180 * s_));
}

TEST(EngineCadence, AStreamSlowerThanTheProfileSupervisesRaisesOneAlarmNotAFlood) {
  rig r(stale_profile());  // supervises streams of up to one reading a minute
  r.open(t0);
  millis t = t0 + 1 * s_;
  for (; t <= t0 + 2 * hour_ms; t += 5 * min_) {
    r.feed(vital_kind::heart_rate, 72, t);
    r.feed(vital_kind::spo2, 97, t + 1);
  }
  const auto ev = r.take();
  // Once cadence is known (the second reading) one alarm says the stream is too slow; the stale
  // limit follows the cadence (3 x 5 min), so the stale alarms of the first interval are the last.
  ASSERT_EQ(raised(ev, "stream_too_slow"), 1u) << describe(ev);
  EXPECT_LE(raised(ev, "stale_heart_rate"), 1u);
  EXPECT_LE(raised(ev, "stale_spo2"), 1u);
  const auto slow = first(ev, event_type::alarm_raised, "stream_too_slow");
  EXPECT_EQ(slow->at, t0 + 1 * s_ + 5 * min_);
  EXPECT_EQ(slow->kind, alarm_kind::technical);
  EXPECT_EQ(slow->level, priority::low);
  EXPECT_EQ(slow->value, 300);
  EXPECT_EQ(slow->text, "heart_rate arrives every 300 s, slower than the 60 s this profile supervises");
  ASSERT_TRUE(r.alarm("stream_too_slow"));

  // Back to once every 30 s: once the middle of the last five intervals is 30 s, it clears.
  t -= 5 * min_;
  for (int i = 0; i < 3; ++i) {
    t += 30 * s_;
    r.feed(vital_kind::heart_rate, 72, t);
    r.feed(vital_kind::spo2, 97, t + 1);
  }
  const auto cleared = of_type(r.take(), event_type::alarm_cleared, "stream_too_slow");
  ASSERT_EQ(cleared.size(), 1u);
  EXPECT_EQ(cleared[0].at, t + 1);  // SpO2 was the last stream still slow
  EXPECT_EQ(cleared[0].text, "every stream within the profile's cadence");
}

TEST(EngineCadence, RespiratoryRateGoesStaleOnceHeardAndNeverBefore) {
  rig r(stale_profile());
  r.open(t0);
  millis t = t0 + 1 * s_;
  for (; t <= t0 + 10 * min_; t += 1 * s_) {
    r.feed(vital_kind::heart_rate, 72, t);
    r.feed(vital_kind::spo2, 97, t + 1);
  }
  EXPECT_EQ(raised(r.take(), "stale_respiratory_rate"), 0u);  // never heard: not expected
  for (int i = 0; i < 20; ++i, t += 1 * s_) {
    r.feed(vital_kind::heart_rate, 72, t);
    r.feed(vital_kind::spo2, 97, t + 1);
    r.feed(vital_kind::respiratory_rate, 14, t + 2);
  }
  const millis last_rr = t - 1 * s_ + 2;
  for (; t <= last_rr + 31 * s_; t += 1 * s_) {
    r.feed(vital_kind::heart_rate, 72, t);
    r.feed(vital_kind::spo2, 97, t + 1);
  }
  const auto ev = r.take();
  const auto stale = of_type(ev, event_type::alarm_raised, "stale_respiratory_rate");
  ASSERT_EQ(stale.size(), 1u) << describe(ev);
  EXPECT_EQ(stale[0].at, last_rr + 30 * s_);
  EXPECT_EQ(stale[0].kind, alarm_kind::technical);
  EXPECT_EQ(stale[0].text, "no respiratory rate for 30 s");
  r.feed(vital_kind::respiratory_rate, 15, t + 2);
  const auto back = of_type(r.take(), event_type::alarm_cleared, "stale_respiratory_rate");
  ASSERT_EQ(back.size(), 1u);
  EXPECT_EQ(back[0].text, "respiratory rate back");
}

// Found on recorded data: with the ECG stopped and the oximeter still reporting the pulse, no
// technical alarm said the ECG was gone (the heart rate was still "fresh" from the pulse).
TEST(EngineStale, AnEcgThatStopsWhileThePulseGoesOnHasItsOwnStaleAlarm) {
  rig r(stale_profile());
  r.open(t0);
  millis t = t0 + 1 * s_;
  for (; t <= t0 + 1 * min_; t += 1 * s_) {
    r.from("monitor", vital_kind::heart_rate, 72, t);
    r.from("oximeter", vital_kind::pulse_rate, 73, t + 100);
    r.from("oximeter", vital_kind::spo2, 97, t + 100);
  }
  const millis last_ecg = t - 1 * s_;
  for (; t <= last_ecg + 2 * min_; t += 1 * s_) {  // the ECG stops; the oximeter goes on
    r.from("oximeter", vital_kind::pulse_rate, 73, t + 100);
    r.from("oximeter", vital_kind::spo2, 97, t + 100);
  }
  auto ev = r.take();
  const auto stale = of_type(ev, event_type::alarm_raised, "stale_ecg");
  ASSERT_EQ(stale.size(), 1u) << describe(ev);
  EXPECT_EQ(stale[0].at, last_ecg + 30 * s_);
  EXPECT_EQ(stale[0].kind, alarm_kind::technical);
  EXPECT_EQ(stale[0].level, priority::medium);
  EXPECT_EQ(stale[0].text, "no ECG heart rate for 30 s");
  EXPECT_EQ(raised(ev, "stale_heart_rate"), 0u) << "the heart rate still comes from the pulse";
  // The ECG back clears it.
  r.from("monitor", vital_kind::heart_rate, 72, t);
  const auto back = of_type(r.take(), event_type::alarm_cleared, "stale_ecg");
  ASSERT_EQ(back.size(), 1u);
  EXPECT_EQ(back[0].text, "ECG heart rate back");
}

TEST(EngineStale, WithNoHeartRateAtAllOnlyTheHeartRateIsStale) {
  rig r(stale_profile());
  r.open(t0);
  millis t = t0 + 1 * s_;
  for (; t <= t0 + 1 * min_; t += 1 * s_) {
    r.from("monitor", vital_kind::heart_rate, 72, t);
    r.from("oximeter", vital_kind::pulse_rate, 73, t + 100);
  }
  const millis last_ecg = t - 1 * s_;
  // The ECG stops first: its own alarm; then the pulse stops too: the heart rate's alarm
  // replaces it.
  for (; t <= last_ecg + 40 * s_; t += 1 * s_) r.from("oximeter", vital_kind::pulse_rate, 73, t + 100);
  const millis last_pulse = t - 1 * s_ + 100;
  r.advance(last_pulse + 31 * s_);
  auto ev = r.take();
  ASSERT_EQ(raised(ev, "stale_ecg"), 1u) << describe(ev);
  ASSERT_EQ(raised(ev, "stale_heart_rate"), 1u) << describe(ev);
  const auto gone = of_type(ev, event_type::alarm_cleared, "stale_ecg");
  ASSERT_EQ(gone.size(), 1u);
  EXPECT_EQ(gone[0].at, last_pulse + 30 * s_);
  EXPECT_EQ(gone[0].text, "no heart rate from any source");
  // The pulse comes back, the ECG does not: the ECG's alarm again, at once.
  r.from("oximeter", vital_kind::pulse_rate, 73, last_pulse + 40 * s_);
  ev = r.take();
  EXPECT_EQ(count(ev, event_type::alarm_cleared, "stale_heart_rate"), 1u);
  const auto again = of_type(ev, event_type::alarm_raised, "stale_ecg");
  ASSERT_EQ(again.size(), 1u) << describe(ev);
  EXPECT_EQ(again[0].at, last_pulse + 40 * s_);
  // Both stopping together: the heart rate's alarm only.
  rig both(stale_profile());
  both.open(t0);
  for (millis u = t0 + 1 * s_; u <= t0 + 10 * s_; u += 1 * s_) {
    both.from("monitor", vital_kind::heart_rate, 72, u);
    both.from("monitor", vital_kind::pulse_rate, 72, u);
  }
  both.advance(t0 + 10 * min_);
  ev = both.take();
  EXPECT_EQ(raised(ev, "stale_heart_rate"), 1u);
  EXPECT_EQ(raised(ev, "stale_ecg"), 0u) << describe(ev);
}

TEST(EngineStale, AChairWithoutAnEcgHasNoEcgToGoStale) {
  rig r(stale_profile());
  r.open(t0);
  for (millis t = t0 + 1 * s_; t <= t0 + 10 * min_; t += 1 * s_) {
    r.from("oximeter", vital_kind::pulse_rate, 73, t);
    r.from("oximeter", vital_kind::spo2, 97, t);
  }
  EXPECT_EQ(raised(r.take(), "stale_ecg"), 0u);
}

TEST(EngineCadence, TheCadenceSurvivesARestart) {
  rig r(stale_profile());
  for (millis t = t0 - 5 * min_; t < t0; t += 1 * min_) r.feed(vital_kind::heart_rate, 72, t);
  r.open(t0);
  r.feed(vital_kind::heart_rate, 72, t0 + 1 * min_);
  const auto saved = r.eng.checkpoint(r.chair);
  engine restored({stale_profile()});
  ASSERT_TRUE(restored.restore(saved, "test").restored);
  // Three intervals of 60 s after the last reading, as before the restart.
  restored.advance(t0 + 1 * min_ + 180 * s_ - 1);
  EXPECT_EQ(raised(restored.take_events(), "stale_heart_rate"), 0u);
  restored.advance(t0 + 1 * min_ + 180 * s_);
  EXPECT_EQ(raised(restored.take_events(), "stale_heart_rate"), 1u);
}

// A device that declares its cadence in its Hello (protocol.md 4.1) is judged by it until its
// stream shows its real cadence (alarms.md 3.5).
TEST(EngineCadence, ADeclaredCadenceStandsInUntilTheStreamShowsItsOwn) {
  // Declared 1 s: a stream that stops after its first reading is stale after 30 s, not 180 s.
  rig declared(stale_profile());
  declared.eng.declare_cadence(declared.chair, "", vital_kind::heart_rate, 1 * s_);
  declared.eng.declare_cadence(declared.chair, "", vital_kind::spo2, 1 * s_);
  declared.open(t0);
  declared.feed(vital_kind::heart_rate, 72, t0 + 1 * s_);
  declared.feed(vital_kind::spo2, 97, t0 + 1 * s_);
  ASSERT_TRUE(raised_exactly_at(declared, "stale_heart_rate", t0 + 31 * s_));
  // Undeclared, the same stream is given three of the slowest intervals the profile supervises.
  rig learned(stale_profile());
  learned.open(t0);
  learned.feed(vital_kind::heart_rate, 72, t0 + 1 * s_);
  learned.feed(vital_kind::spo2, 97, t0 + 1 * s_);
  ASSERT_TRUE(raised_exactly_at(learned, "stale_heart_rate", t0 + 181 * s_));

  // Checked against what arrives: declared 1 s, sent once a minute, it floods nothing.
  rig wrong(stale_profile());
  wrong.eng.declare_cadence(wrong.chair, "", vital_kind::heart_rate, 1 * s_);
  wrong.eng.declare_cadence(wrong.chair, "", vital_kind::spo2, 1 * s_);
  wrong.open(t0);
  for (millis t = t0 + 1 * s_; t <= t0 + 20 * min_; t += 1 * min_) {
    wrong.advance(t - 1);
    wrong.feed(vital_kind::heart_rate, 72, t);
    wrong.feed(vital_kind::spo2, 97, t + 1);
  }
  const auto ev = wrong.take();
  // Only the first reading is judged by the declaration: stale once, 30 s after it, back at
  // the second reading; from then on the learned 60 s cadence holds.
  EXPECT_EQ(raised(ev, "stale_heart_rate"), 1u) << describe(ev);
  EXPECT_EQ(raised(ev, "stale_spo2"), 1u);
  EXPECT_EQ(raised(ev, "stream_too_slow"), 0u);

  // A declaration slower than the profile supervises says so at the stream's first reading.
  rig slow(stale_profile());
  slow.eng.declare_cadence(slow.chair, "", vital_kind::spo2, 5 * min_);
  slow.open(t0);
  slow.feed(vital_kind::spo2, 97, t0 + 1 * s_);
  const auto too_slow = first(slow.take(), event_type::alarm_raised, "stream_too_slow");
  ASSERT_TRUE(too_slow);
  EXPECT_EQ(too_slow->at, t0 + 1 * s_);
  EXPECT_EQ(too_slow->text, "spo2 arrives every 300 s, slower than the 60 s this profile supervises");
  // The cuff keeps its own schedule: a declaration for it changes nothing.
  const auto before = slow.eng.checkpoint(slow.chair);
  slow.eng.declare_cadence(slow.chair, "", vital_kind::nibp_systolic, 5 * min_);
  EXPECT_EQ(slow.eng.checkpoint(slow.chair), before);
}

TEST(EngineCadence, ADeclaredCadenceSurvivesARestart) {
  rig r(stale_profile());
  r.eng.declare_cadence(r.chair, "monitor", vital_kind::heart_rate, 1 * s_);
  r.open(t0);
  const auto saved = r.eng.checkpoint(r.chair);
  engine restored({stale_profile()});
  ASSERT_TRUE(restored.restore(saved, "test").restored);
  restored.on_sample(r.chair, sample(vital_kind::heart_rate, 72, t0 + 1 * s_), "monitor");
  restored.advance(t0 + 31 * s_ - 1);
  EXPECT_EQ(raised(restored.take_events(), "stale_heart_rate"), 0u);
  restored.advance(t0 + 31 * s_);
  EXPECT_EQ(raised(restored.take_events(), "stale_heart_rate"), 1u);
}

// --- sensor off --------------------------------------------------------------------------------------


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

}  // namespace
}  // namespace vigil::engine::testing
