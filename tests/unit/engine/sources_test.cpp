// Several sources on one chair: a bedside monitor and a separate pulse oximeter (or a cuff)
// configured for the same chair. Each sample comes from a source (the device id that sent it)
// and one source's normal readings must never mask another's alarm condition: each test
// compares two sources with the abnormal source alone, or pins the events to the
// millisecond (docs/alarms.md, section 3.4).

#include "tests/unit/engine/engine_fixture.hpp"

#include "vigil/v1/checkpoint.pb.h"

#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace vigil::engine::testing {
namespace {

constexpr millis s_ = seconds_ms;
constexpr millis min_ = minutes_ms;

/// Feeds one sample from `source`.
sample_outcome feed(rig& r, std::string_view source, vital_kind kind, double value, millis at,
                    std::uint32_t q = quality::ok) {
  return r.eng.on_sample(r.chair, sample(kind, value, at, q), source);
}

/// Every event of a session driven by `script` from its open, with `end` reached by advance.
std::vector<event> events_of(const profile& p, const std::function<void(rig&)>& script, millis end) {
  rig r(p);
  r.open();
  script(r);
  r.advance(end);
  r.take();
  return r.log;
}

/// A relative limit like the generic profile's systolic_rise: +40 mmHg or more over the baseline.
limit_rule rise_rule() {
  auto r = high_rule("systolic_rise", vital_kind::nibp_systolic, 40, 0);
  r.relative = true;
  r.inclusive = true;
  r.hysteresis = 5;
  r.phases = {phase::observation, phase::ready};
  return r;
}

// --- limit rules: one source's normal readings mask nothing ------------------------------------

TEST(EngineSources, NormalSpo2FromASecondSourceDoesNotMaskALowOne) {
  // The bedside monitor reads 82 % (below spo2_critical's 88); the oximeter beside it reads 97 %.
  auto run = [](bool oximeter) {
    return events_of(generic_profile(), [&](rig& r) {
      for (millis s = 1; s <= 120; ++s) {
        EXPECT_EQ(feed(r, "monitor", vital_kind::spo2, 82, t0 + s * s_), sample_outcome::applied);
        if (oximeter) {
          EXPECT_EQ(feed(r, "oximeter", vital_kind::spo2, 97, t0 + s * s_ + 500), sample_outcome::applied);
        }
      }
    }, t0 + 121 * s_);
  };
  const auto alone = run(false);
  const auto both = run(true);
  const auto critical = first(alone, event_type::alarm_raised, "spo2_critical");
  ASSERT_TRUE(critical);
  EXPECT_EQ(critical->at, t0 + 11 * s_);
  EXPECT_EQ(critical->level, priority::high);
  EXPECT_EQ(critical->value, 82);
  EXPECT_TRUE(same_events(alone, both));
}

TEST(EngineSources, NormalHeartRateFromASecondSourceDoesNotMaskATachycardia) {
  auto run = [](bool second) {
    return events_of(generic_profile(), [&](rig& r) {
      for (millis s = 1; s <= 6 * 60; ++s) {
        feed(r, "monitor", vital_kind::heart_rate, 150, t0 + s * s_);
        if (second) feed(r, "ecg-2", vital_kind::heart_rate, 80, t0 + s * s_ + 250);
      }
    }, t0 + 6 * min_ + 1 * s_);
  };
  const auto alone = run(false);
  const auto critical = first(alone, event_type::alarm_raised, "hr_critical");
  ASSERT_TRUE(critical);
  EXPECT_EQ(critical->at, t0 + 31 * s_);
  const auto high = first(alone, event_type::alarm_raised, "hr_high");
  ASSERT_TRUE(high);
  EXPECT_EQ(high->at, t0 + 1 * s_ + 5 * min_);
  EXPECT_TRUE(same_events(alone, run(true)));
}

TEST(EngineSources, ARiseOverTheBaselineFromOneCuffIsNotMaskedByAnotherSource) {
  auto run = [](bool second) {
    return events_of(with_rules({rise_rule()}), [&](rig& r) {
      feed(r, "monitor", vital_kind::nibp_systolic, 120, t0 + 1 * s_);
      ASSERT_TRUE(r.dose(t0 + 2 * s_).ok());
      for (int i = 1; i <= 4; ++i) {
        const millis at = t0 + i * 5 * min_;
        feed(r, "monitor", vital_kind::nibp_systolic, 164 + i, at);  // +45 .. +48
        if (second) feed(r, "arm-cuff", vital_kind::nibp_systolic, 118, at + 30 * s_);
      }
    }, t0 + 30 * min_);
  };
  const auto alone = run(false);
  ASSERT_EQ(count(alone, event_type::alarm_raised, "systolic_rise"), 1u);
  EXPECT_EQ(count(alone, event_type::alarm_cleared, "systolic_rise"), 0u);
  EXPECT_TRUE(same_events(alone, run(true)));
}

TEST(EngineSources, CuffConfirmationCountsTheReadingsOfEachSource) {
  auto systolic_high = high_rule("systolic_high", vital_kind::nibp_systolic, 180, 0, priority::high);
  systolic_high.confirm_readings = 2;
  systolic_high.confirm_within_ms = 10 * min_;
  systolic_high.latching = true;
  auto run = [&](bool second) {
    return events_of(with_rules({systolic_high}), [&](rig& r) {
      feed(r, "monitor", vital_kind::nibp_systolic, 185, t0 + 5 * min_);
      if (second) feed(r, "arm-cuff", vital_kind::nibp_systolic, 120, t0 + 7 * min_);
      feed(r, "monitor", vital_kind::nibp_systolic, 190, t0 + 10 * min_);
    }, t0 + 11 * min_);
  };
  const auto alone = run(false);
  const auto raised = first(alone, event_type::alarm_raised, "systolic_high");
  ASSERT_TRUE(raised);
  EXPECT_EQ(raised->at, t0 + 10 * min_);
  EXPECT_EQ(raised->value, 190);
  EXPECT_TRUE(same_events(alone, run(true)));
}

// --- clearing and latching ----------------------------------------------------------------------

TEST(EngineSources, AnAlarmClearsOnlyOnceEverySourceIsBackInside) {
  auto spo2_low = low_rule("spo2_low", vital_kind::spo2, 92, 5 * s_);
  spo2_low.hysteresis = 1;
  rig r(with_rules({spo2_low}));
  r.open();
  for (millis s = 1; s <= 10; ++s) {
    feed(r, "A", vital_kind::spo2, 85, t0 + s * s_);
    feed(r, "B", vital_kind::spo2, 86, t0 + s * s_ + 500);
  }
  auto ev = r.take();
  const auto raised = first(ev, event_type::alarm_raised, "spo2_low");
  ASSERT_TRUE(raised);
  EXPECT_EQ(raised->at, t0 + 6 * s_);
  EXPECT_EQ(raised->value, 85) << "A's condition started first, so A's reading is the alarm's";

  // A is back inside; B still reads 86, then 92 (not below 92, but not back inside 92 + 1 either).
  for (millis s = 11; s <= 20; ++s) {
    feed(r, "A", vital_kind::spo2, 97, t0 + s * s_);
    feed(r, "B", vital_kind::spo2, s < 20 ? 86 : 92, t0 + s * s_ + 500);
  }
  EXPECT_EQ(count(r.take(), event_type::alarm_cleared), 0u);
  EXPECT_TRUE(r.must_alarm("spo2_low").condition);

  feed(r, "A", vital_kind::spo2, 97, t0 + 21 * s_);
  feed(r, "B", vital_kind::spo2, 93, t0 + 21 * s_ + 500);
  ev = r.take();
  const auto cleared = of_type(ev, event_type::alarm_cleared, "spo2_low");
  ASSERT_EQ(cleared.size(), 1u) << describe(ev);
  EXPECT_EQ(cleared[0].at, t0 + 21 * s_ + 500);
  EXPECT_EQ(cleared[0].text, "spo2 back to 93");
  EXPECT_EQ(cleared[0].value, 85);
}

TEST(EngineSources, ALatchedAlarmRevivesFromEitherSource) {
  auto critical = low_rule("spo2_critical", vital_kind::spo2, 88, 5 * s_, priority::high);
  critical.latching = true;
  critical.hysteresis = 1;
  rig r(with_rules({critical}));
  r.open();
  for (millis s = 1; s <= 10; ++s) {
    feed(r, "A", vital_kind::spo2, 80, t0 + s * s_);
    feed(r, "B", vital_kind::spo2, 97, t0 + s * s_ + 500);
  }
  ASSERT_EQ(count(r.take(), event_type::alarm_raised, "spo2_critical"), 1u);
  const auto id = r.must_alarm("spo2_critical").id;

  feed(r, "A", vital_kind::spo2, 97, t0 + 11 * s_);  // A back inside, B never held: latched
  EXPECT_FALSE(r.must_alarm("spo2_critical").condition);
  feed(r, "B", vital_kind::spo2, 81, t0 + 11 * s_ + 500);  // B's condition returns: live again
  auto a = r.must_alarm("spo2_critical");
  EXPECT_TRUE(a.condition);
  EXPECT_EQ(a.id, id);
  EXPECT_EQ(a.value, 81);
  feed(r, "B", vital_kind::spo2, 97, t0 + 12 * s_ + 500);
  EXPECT_FALSE(r.must_alarm("spo2_critical").condition);
  feed(r, "A", vital_kind::spo2, 79, t0 + 13 * s_);  // and from A again
  a = r.must_alarm("spo2_critical");
  EXPECT_TRUE(a.condition);
  EXPECT_EQ(a.value, 79);
  const auto ev = r.take();
  EXPECT_EQ(count(ev, event_type::alarm_raised), 0u);
  EXPECT_EQ(count(ev, event_type::alarm_cleared), 0u);
}

TEST(EngineSources, ASilentSourceHoldsItsConditionOnlyWhileItsReadingIsCurrent) {
  // The monitor reading 85 % is unplugged; the oximeter goes on reading 97 %. The monitor's
  // condition stands until its last SpO2 is no longer current: its freshness limit, here 30 s
  // (a 1 Hz stream, alarms.md 3.5), after it was applied; then a timer ends it (5.7).
  auto spo2_low = low_rule("spo2_low", vital_kind::spo2, 92, 5 * s_);
  spo2_low.hysteresis = 1;
  auto p = with_rules({spo2_low});
  p.technical.stale_after_ms = 30 * s_;
  rig r(p);
  r.open();
  for (millis s = 1; s <= 60; ++s) {
    if (s <= 10) feed(r, "A", vital_kind::spo2, 85, t0 + s * s_);
    feed(r, "B", vital_kind::spo2, 97, t0 + s * s_ + 500);
  }
  const auto ev = r.take();
  ASSERT_EQ(count(ev, event_type::alarm_raised, "spo2_low"), 1u);
  const auto cleared = of_type(ev, event_type::alarm_cleared, "spo2_low");
  ASSERT_EQ(cleared.size(), 1u) << describe(ev);
  // A's last SpO2 arrived at 10 s: it stops being current at 40 s.
  EXPECT_EQ(cleared[0].at, t0 + 40 * s_);
  EXPECT_EQ(cleared[0].text, "no current spo2 reading");
}

// --- ordering -----------------------------------------------------------------------------------

TEST(EngineSources, ASourceWhoseClockLagsAnotherStillHasEverySampleEvaluated) {
  // The oximeter's clock runs 30 s ahead of the monitor's: the chair's clock follows the
  // oximeter, and the monitor's samples are applied at the chair's clock.
  rig r(generic_profile());
  r.open();
  for (millis s = 1; s <= 30; ++s) {
    EXPECT_EQ(feed(r, "oximeter", vital_kind::spo2, 97, t0 + 30 * s_ + s * s_), sample_outcome::applied);
    EXPECT_EQ(feed(r, "monitor", vital_kind::spo2, 82, t0 + s * s_), sample_outcome::applied) << s;
  }
  EXPECT_EQ(feed(r, "monitor", vital_kind::spo2, 82, t0 + 30 * s_), sample_outcome::duplicate);
  EXPECT_EQ(feed(r, "monitor", vital_kind::spo2, 82, t0 + 29 * s_), sample_outcome::out_of_order);
  const auto raised = first(r.take(), event_type::alarm_raised, "spo2_critical");
  ASSERT_TRUE(raised);
  EXPECT_EQ(raised->at, t0 + 41 * s_);  // condition from the chair clock at 31 s, delay 10 s
  EXPECT_EQ(raised->value, 82);
  EXPECT_EQ(*r.eng.clock(r.chair), t0 + 60 * s_);
}

// --- NEWS2 and sensor-off -----------------------------------------------------------------------

TEST(EngineSources, News2ScoresTheWorstCurrentValueOfTheSources) {
  auto p = quiet_profile();
  p.news2.enabled = true;
  p.technical.stale_after_ms = 30 * s_;
  auto run = [&](bool second) {
    return events_of(p, [&](rig& r) {
      for (millis s = 1; s <= 120; ++s) {
        if (s <= 70) feed(r, "monitor", vital_kind::spo2, 90, t0 + s * s_);  // 3 points
        if (second) feed(r, "oximeter", vital_kind::spo2, 97, t0 + s * s_ + 500);
      }
    }, t0 + 121 * s_);
  };
  const auto alone = run(false);
  const auto both = run(true);
  for (const auto* events : {&alone, &both}) {
    const auto urgent = first(*events, event_type::alarm_raised, "news2_urgent");
    ASSERT_TRUE(urgent) << describe(*events);
    EXPECT_EQ(urgent->at, t0 + 61 * s_);
    EXPECT_EQ(urgent->value, 3);
  }
  // The monitor's last 90 % (applied at 70 s) stops being current at 100 s, alone or beside a
  // source still sending, and NEWS2 is scored again then without it (alarms.md 6).
  for (const auto* events : {&alone, &both}) {
    const auto cleared = first(*events, event_type::alarm_cleared, "news2_urgent");
    ASSERT_TRUE(cleared) << describe(*events);
    EXPECT_EQ(cleared->at, t0 + 100 * s_);
    EXPECT_EQ(cleared->text, "NEWS2 down to 0");
  }
}

TEST(EngineSources, SensorOffOfOneSourceIsRaisedWhileAnotherReads) {
  auto run = [](bool second) {
    return events_of(quiet_profile(), [&](rig& r) {
      for (millis s = 1; s <= 30; ++s) {
        feed(r, "monitor", vital_kind::spo2, 0, t0 + s * s_, quality::sensor_off);
        if (second) feed(r, "oximeter", vital_kind::spo2, 97, t0 + s * s_ + 500);
      }
      feed(r, "monitor", vital_kind::spo2, 96, t0 + 31 * s_);
    }, t0 + 40 * s_);
  };
  const auto alone = run(false);
  const auto raised = first(alone, event_type::alarm_raised, "sensor_off_oximeter");
  ASSERT_TRUE(raised);
  EXPECT_EQ(raised->at, t0 + 11 * s_);
  const auto cleared = first(alone, event_type::alarm_cleared, "sensor_off_oximeter");
  ASSERT_TRUE(cleared);
  EXPECT_EQ(cleared->at, t0 + 31 * s_);
  EXPECT_EQ(cleared->text, "sensor back on");
  EXPECT_TRUE(same_events(alone, run(true)));
}

// --- the station's view -------------------------------------------------------------------------

TEST(EngineSources, LatestVitalsShowTheNewestReadingOfAnySource) {
  rig r(quiet_profile());
  r.open();
  feed(r, "A", vital_kind::spo2, 95, t0 + 1 * s_);
  feed(r, "B", vital_kind::spo2, 97, t0 + 2 * s_);
  feed(r, "A", vital_kind::heart_rate, 70, t0 + 3 * s_);
  auto latest = r.eng.latest_vitals(r.chair);
  ASSERT_EQ(latest.size(), 2u);
  EXPECT_EQ(latest[0].kind, vital_kind::heart_rate);
  EXPECT_EQ(latest[1].kind, vital_kind::spo2);
  EXPECT_EQ(latest[1].value, 97);
  feed(r, "A", vital_kind::spo2, 94, t0 + 4 * s_);
  latest = r.eng.latest_vitals(r.chair);
  EXPECT_EQ(latest[1].value, 94);
  EXPECT_EQ(latest[1].at, t0 + 4 * s_);
}

// --- checkpoints --------------------------------------------------------------------------------

profile two_source_profile() {
  auto spo2_low = low_rule("spo2_low", vital_kind::spo2, 92, 30 * s_);
  spo2_low.hysteresis = 1;
  auto critical = low_rule("spo2_critical", vital_kind::spo2, 85, 10 * s_, priority::high);
  critical.latching = true;
  auto p = with_rules({spo2_low, critical});
  p.news2.enabled = true;
  p.technical.stale_after_ms = 30 * s_;
  p.escalation_high = {{"nurse", 0}, {"charge_nurse", 20 * s_}};
  return p;
}

TEST(EngineSources, TwoSourcesSurviveACheckpointAndRestore) {
  // Source A reads low, B normal, B's probe comes off for a while; the engine is replaced by one
  // restored from the chair's checkpoint at `restart_at` seconds (never, for the reference).
  auto run = [](millis restart_at) {
    rig r(two_source_profile());
    r.open();
    for (millis s = 1; s <= 120; ++s) {
      if (s == restart_at) {
        r.take();
        const auto data = r.eng.checkpoint(r.chair);
        r.eng = engine(std::vector<profile>{two_source_profile()});
        const auto result = r.eng.restore(data, "test");
        EXPECT_TRUE(result.restored) << result.message;
        // Each source's ordering came back: a resent sample is still a duplicate.
        EXPECT_EQ(feed(r, "A", vital_kind::spo2, 88, t0 + (s - 1) * s_), sample_outcome::duplicate);
        EXPECT_EQ(feed(r, "B", vital_kind::spo2, 97, t0 + (s - 2) * s_ + 500), sample_outcome::out_of_order);
      }
      feed(r, "A", vital_kind::spo2, s < 90 ? 88 : 84, t0 + s * s_);
      const bool probe_off = s > 40 && s < 60;
      feed(r, "B", vital_kind::spo2, probe_off ? 0 : 97, t0 + s * s_ + 500,
           probe_off ? quality::sensor_off : quality::ok);
    }
    r.advance(t0 + 130 * s_);
    r.take();
    return r.log;
  };
  const auto reference = run(0);
  const auto low = first(reference, event_type::alarm_raised, "spo2_low");
  ASSERT_TRUE(low) << describe(reference);
  EXPECT_EQ(low->at, t0 + 31 * s_);
  EXPECT_TRUE(first(reference, event_type::alarm_raised, "news2_urgent"));
  EXPECT_TRUE(first(reference, event_type::alarm_raised, "sensor_off_oximeter"));
  EXPECT_TRUE(first(reference, event_type::alarm_raised, "spo2_critical"));
  for (const millis restart_at : {15, 35, 50, 65, 95, 100}) {
    EXPECT_TRUE(same_events(reference, run(restart_at))) << "restart at " << restart_at << " s";
  }
}

TEST(EngineSources, ACheckpointFromBeforeSourcesRestoresAsOneStreamThatTheNextSourceTakesOver) {
  // Format 1 kept one stream per chair: its ordering times, latest values and rule states become
  // those of the source with the empty id, which the first named source to send takes over.
  auto p = two_source_profile();
  p.news2.enabled = false;
  v1::ChairCheckpoint old;
  old.set_format(1);
  old.set_chair_id("chair-1");
  old.set_now_ms(t0 + 10 * s_);
  auto* last = old.add_last_time();
  last->set_kind(static_cast<std::uint32_t>(vital_kind::spo2));
  last->set_at_ms(t0 + 10 * s_);
  auto* latest = old.add_latest();
  latest->set_kind(static_cast<std::uint32_t>(vital_kind::spo2));
  latest->set_at_ms(t0 + 10 * s_);
  latest->set_value(89);
  old.set_link(v1::LINK_STATE_UP);
  old.set_next_session(2);
  old.set_next_alarm(1);
  auto& session = *old.mutable_session();
  session.set_id(1);
  session.set_patient_ref("patient-1");
  session.set_profile("test");
  session.set_phase(static_cast<std::uint32_t>(phase::baseline));
  session.set_opened_ms(t0);
  auto* limit = session.add_limits();
  limit->set_rule("spo2_low");
  limit->mutable_condition()->set_on(true);
  limit->mutable_condition()->set_since_ms(t0 + 1 * s_);
  limit->mutable_condition()->set_value(89);
  session.add_limits()->set_rule("spo2_critical");
  for (int i = 0; i < 4; ++i) session.add_sensor_off();
  session.set_heart_seen_ms(t0 + 10 * s_);
  session.set_spo2_seen_ms(t0 + 10 * s_);

  rig r(p);
  const auto result = r.eng.restore(old.SerializeAsString(), "test");
  ASSERT_TRUE(result.restored) << result.message;
  EXPECT_EQ(r.eng.latest_vitals(r.chair).size(), 1u);
  // The monitor resends what the old stream had seen: not evaluated twice.
  EXPECT_EQ(feed(r, "dev-1", vital_kind::spo2, 89, t0 + 10 * s_), sample_outcome::duplicate);
  EXPECT_EQ(feed(r, "dev-1", vital_kind::spo2, 89, t0 + 9 * s_), sample_outcome::out_of_order);
  // A second device is a source of its own, and its normal reading masks nothing.
  for (millis s = 11; s <= 31; ++s) {
    EXPECT_EQ(feed(r, "dev-1", vital_kind::spo2, 89, t0 + s * s_), sample_outcome::applied);
    EXPECT_EQ(feed(r, "dev-2", vital_kind::spo2, 97, t0 + s * s_ + 500), sample_outcome::applied);
  }
  const auto raised = first(r.take(), event_type::alarm_raised, "spo2_low");
  ASSERT_TRUE(raised);
  EXPECT_EQ(raised->at, t0 + 31 * s_) << "the condition restored from format 1 went on";
}

// --- bounds -------------------------------------------------------------------------------------

TEST(EngineSources, ANinthSourceTakesTheSlotOfTheSourceHeardLeastRecently) {
  auto spo2_low = low_rule("spo2_low", vital_kind::spo2, 92, 5 * s_);
  rig r(with_rules({spo2_low}));
  r.open();
  // Eight sources, "s0" heard first.
  for (int i = 0; i < 8; ++i) feed(r, "s" + std::to_string(i), vital_kind::spo2, 97, t0 + (i + 1) * s_);
  EXPECT_EQ(feed(r, "s0", vital_kind::spo2, 97, t0 + 1 * s_), sample_outcome::duplicate);
  // A ninth takes s0's slot: s0's ordering is forgotten, the others' kept.
  EXPECT_EQ(feed(r, "s8", vital_kind::spo2, 97, t0 + 9 * s_), sample_outcome::applied);
  EXPECT_EQ(feed(r, "s1", vital_kind::spo2, 97, t0 + 2 * s_), sample_outcome::duplicate);
  EXPECT_EQ(feed(r, "s0", vital_kind::spo2, 97, t0 + 1 * s_), sample_outcome::applied) << "s0 is new again";
  // s0 came back in s1's slot (then the least recently heard; a rejected sample is not heard).
  EXPECT_EQ(feed(r, "s1", vital_kind::spo2, 97, t0 + 2 * s_), sample_outcome::applied);
  EXPECT_EQ(feed(r, "s3", vital_kind::spo2, 97, t0 + 4 * s_), sample_outcome::duplicate);
}

}  // namespace
}  // namespace vigil::engine::testing
