// The session baseline (docs/alarms.md 4.3): the median of the window's readings, its quality
// per kind (count and spread against the profile's minimum and maximum), and the operator's
// re-take, before and after the dose, through a restart.

#include "tests/unit/engine/engine_fixture.hpp"
#include "tests/unit/engine/family_profiles.hpp"

#include <gtest/gtest.h>

#include <string>
#include <string_view>

namespace vigil::engine::testing {
namespace {

constexpr millis s_ = seconds_ms;
constexpr millis min_ = minutes_ms;

std::size_t slot_of(vital_kind k) { return static_cast<std::size_t>(k); }

bool has(const std::string& text, std::string_view part) { return text.find(part) != std::string::npos; }

profile rise_profile() {
  return with_rules({rise_rule("systolic_rise", vital_kind::nibp_systolic, 40),
                     rise_rule("diastolic_rise", vital_kind::nibp_diastolic, 25)});
}

command_result retake(rig& r, millis at, std::string reason = "cuff artefacts", std::string by = "nurse-a") {
  return r.eng.apply(retake_baseline{r.chair, std::move(by), std::move(reason)}, at);
}

// --- the median and its quality ----------------------------------------------------------------

TEST(EngineBaseline, IsTheMedianOfTheWindowNotTheMean) {
  // Two artefact cuff readings that passed as usable must not drag the baseline down.
  rig r(rise_profile());
  r.open();
  r.cuff(124, 78, t0 + 1 * min_);
  r.cuff(85, 32, t0 + 3 * min_);
  r.cuff(128, 80, t0 + 5 * min_);
  const millis dose = t0 + 8 * min_;
  ASSERT_TRUE(r.dose(dose).ok());
  const auto base = first(r.take(), event_type::baseline_set);
  ASSERT_TRUE(base);
  EXPECT_TRUE(has(base->text, "nibp_systolic 124.0 (weak, 3 readings, spread 43.0: spread above 25)")) << base->text;
  EXPECT_TRUE(has(base->text, "nibp_diastolic 78.0 (weak, 3 readings, spread 48.0: spread above 20)")) << base->text;
  EXPECT_TRUE(base->who.empty());
  // The weak baseline is still used: 150/100 is +26/+22 from the median (the mean, 112/63,
  // would have made it +38/+37 and raised diastolic_rise).
  r.cuff(150, 100, dose + 5 * min_);
  EXPECT_EQ(count(r.take(), event_type::alarm_raised), 0u);
  r.cuff(165, 104, dose + 10 * min_);
  EXPECT_EQ(count(r.take(), event_type::alarm_raised, "systolic_rise"), 1u);
}

TEST(EngineBaseline, AnEvenCountTakesTheMeanOfTheMiddleTwo) {
  rig r(rise_profile());
  r.open();
  r.feed(vital_kind::heart_rate, 70, t0 + 10 * s_);
  r.feed(vital_kind::heart_rate, 90, t0 + 20 * s_);
  r.feed(vital_kind::heart_rate, 72, t0 + 30 * s_);
  r.feed(vital_kind::heart_rate, 74, t0 + 40 * s_);
  ASSERT_TRUE(r.dose(t0 + 5 * min_).ok());
  const auto base = first(r.take(), event_type::baseline_set);
  ASSERT_TRUE(base);
  EXPECT_TRUE(has(base->text, "heart_rate 73.0 (good, 4 readings, spread 20.0)")) << base->text;
}

TEST(EngineBaseline, QualityIsGoodOrWeakByCountAndSpread) {
  rig r(rise_profile());
  r.open();
  r.feed(vital_kind::heart_rate, 70, t0 + 10 * s_);
  r.feed(vital_kind::heart_rate, 72, t0 + 20 * s_);
  r.feed(vital_kind::spo2, 97, t0 + 10 * s_);
  r.feed(vital_kind::spo2, 98, t0 + 20 * s_);
  r.feed(vital_kind::spo2, 96, t0 + 30 * s_);
  r.feed(vital_kind::respiratory_rate, 10, t0 + 10 * s_);
  r.feed(vital_kind::respiratory_rate, 20, t0 + 20 * s_);
  r.cuff(120, 80, t0 + 1 * min_);
  ASSERT_TRUE(r.dose(t0 + 5 * min_).ok());
  const auto base = first(r.take(), event_type::baseline_set);
  ASSERT_TRUE(base);
  EXPECT_EQ(base->text,
            "heart_rate 71.0 (weak, 2 readings, spread 2.0: fewer than 3 readings), "
            "spo2 97.0 (good, 3 readings, spread 2.0), "
            "nibp_systolic 120.0 (good, 1 reading, spread 0.0), "
            "nibp_diastolic 80.0 (good, 1 reading, spread 0.0), "
            "respiratory_rate 15.0 (weak, 2 readings, spread 10.0: fewer than 3 readings and spread above 8)");
  // The session view shows the same.
  EXPECT_EQ(r.view().baseline, base->text);
}

TEST(EngineBaseline, TheProfileSetsTheMinimumAndTheSpread) {
  auto p = rise_profile();
  p.baseline.min_readings[slot_of(vital_kind::nibp_systolic)] = 2;
  p.baseline.max_spread[slot_of(vital_kind::nibp_systolic)] = 5;
  rig r(p);
  r.open();
  r.feed(vital_kind::nibp_systolic, 120, t0 + 1 * min_);
  ASSERT_TRUE(r.dose(t0 + 5 * min_).ok());
  const auto base = first(r.take(), event_type::baseline_set);
  ASSERT_TRUE(base);
  EXPECT_EQ(base->text, "nibp_systolic 120.0 (weak, 1 reading, spread 0.0: fewer than 2 readings)");
}

TEST(EngineBaseline, NoViewBaselineBeforeTheDose) {
  rig r(rise_profile());
  r.open();
  r.cuff(120, 80, t0 + 1 * min_);
  EXPECT_EQ(r.view().baseline, "");
}

// --- the re-take ---------------------------------------------------------------------------------

TEST(EngineBaselineRetake, BeforeTheDoseRestartsTheWindow) {
  rig r(rise_profile());
  r.open();
  r.cuff(85, 32, t0 + 1 * min_);
  r.cuff(88, 35, t0 + 2 * min_);
  r.take();
  const millis at = t0 + 3 * min_;
  ASSERT_TRUE(retake(r, at, "cuff slipped", "nurse-b").ok());
  const auto ev = r.take();
  const auto retaken = of_type(ev, event_type::baseline_set);
  ASSERT_EQ(retaken.size(), 1u) << describe(ev);
  EXPECT_EQ(retaken[0].who, "nurse-b");
  EXPECT_EQ(retaken[0].at, at);
  EXPECT_EQ(retaken[0].text, "re-taken: cuff slipped; the window restarts, the baseline is set at the first dose");
  EXPECT_EQ(r.current(), phase::baseline);

  r.cuff(124, 79, t0 + 4 * min_);
  ASSERT_TRUE(r.dose(t0 + 5 * min_).ok());
  const auto base = first(r.take(), event_type::baseline_set);
  ASSERT_TRUE(base);
  EXPECT_EQ(base->text, "nibp_systolic 124.0 (good, 1 reading, spread 0.0), nibp_diastolic 79.0 (good, 1 reading, spread 0.0)");
}

TEST(EngineBaselineRetake, BeforeTheDoseAKindWithNoNewReadingHasNoBaseline) {
  rig r(rise_profile());
  r.open();
  r.cuff(85, 32, t0 + 1 * min_);
  ASSERT_TRUE(retake(r, t0 + 2 * min_).ok());
  ASSERT_TRUE(r.dose(t0 + 3 * min_).ok());
  const auto ev = r.take();
  const auto base = of_type(ev, event_type::baseline_set);
  ASSERT_EQ(base.size(), 2u);
  EXPECT_EQ(base[1].text, "no baseline vitals");
  r.cuff(200, 120, t0 + 10 * min_);
  EXPECT_EQ(count(r.take(), event_type::alarm_raised, "systolic_rise"), 0u);
}

TEST(EngineBaselineRetake, AfterTheDoseRecomputesFromTheWindowBeforeItAndClearsRelativeAlarms) {
  rig r(rise_profile());
  r.open();
  r.cuff(85, 70, t0 + 1 * min_);  // an artefact systolic that passed as usable
  const millis dose = t0 + 5 * min_;
  ASSERT_TRUE(r.dose(dose).ok());
  r.cuff(126, 80, dose + 10 * min_);  // +41 from 85: systolic_rise
  const auto rise = r.must_alarm("systolic_rise");
  r.cuff(127, 78, dose + 12 * min_);  // still +42: the alarm holds
  r.take();

  const millis at = dose + 14 * min_;
  const auto res = retake(r, at, "pre-dose reading was an artefact", "nurse-b");
  ASSERT_TRUE(res.ok()) << res.message;
  EXPECT_EQ(res.session, r.view().id);
  const auto ev = r.take();
  // The relative rule's alarm is cleared with the reason, then the new baseline is recorded.
  ASSERT_EQ(ev.size(), 2u) << describe(ev);
  EXPECT_EQ(ev[0].type, event_type::alarm_cleared);
  EXPECT_EQ(ev[0].alarm, rise.id);
  EXPECT_EQ(ev[0].text, "baseline re-taken");
  EXPECT_EQ(ev[1].type, event_type::baseline_set);
  EXPECT_EQ(ev[1].who, "nurse-b");
  EXPECT_EQ(ev[1].at, at);
  // The readings in (at - 10 min, at]: 126/80 and 127/78 (85/70 is older and does not count).
  EXPECT_EQ(ev[1].text,
            "re-taken: pre-dose reading was an artefact; nibp_systolic 126.5 (good, 2 readings, spread 1.0), "
            "nibp_diastolic 79.0 (good, 2 readings, spread 2.0)");
  EXPECT_EQ(r.view().baseline,
            "nibp_systolic 126.5 (good, 2 readings, spread 1.0), nibp_diastolic 79.0 (good, 2 readings, spread 2.0)");
  EXPECT_EQ(r.current(), phase::observation);

  // Judged afresh against the new baseline: +33.5 is not a rise of 40, +40.5 is.
  r.cuff(160, 80, dose + 20 * min_);
  EXPECT_EQ(count(r.take(), event_type::alarm_raised), 0u);
  r.cuff(167, 80, dose + 25 * min_);
  EXPECT_EQ(count(r.take(), event_type::alarm_raised, "systolic_rise"), 1u);
}

TEST(EngineBaselineRetake, AfterTheDoseClearsALatchedRelativeAlarmToo) {
  auto p = rise_profile();
  p.limits[0].latching = true;
  rig r(p);
  r.open();
  r.cuff(85, 70, t0 + 1 * min_);
  const millis dose = t0 + 5 * min_;
  ASSERT_TRUE(r.dose(dose).ok());
  r.cuff(130, 80, dose + 10 * min_);
  ASSERT_TRUE(r.alarm("systolic_rise"));
  r.take();
  ASSERT_TRUE(retake(r, dose + 11 * min_).ok());
  EXPECT_EQ(count(r.take(), event_type::alarm_cleared, "systolic_rise"), 1u);
  EXPECT_FALSE(r.alarm("systolic_rise"));
}

TEST(EngineBaselineRetake, AfterTheDoseWithNoReadingInTheWindowTheLatestStandsIn) {
  rig r(rise_profile());
  r.open();
  r.cuff(120, 80, t0 + 1 * min_);
  const millis dose = t0 + 5 * min_;
  ASSERT_TRUE(r.dose(dose).ok());
  r.cuff(130, 82, dose + 1 * min_);
  r.take();
  ASSERT_TRUE(retake(r, dose + 40 * min_).ok());
  const auto base = first(r.take(), event_type::baseline_set);
  ASSERT_TRUE(base);
  EXPECT_EQ(base->text,
            "re-taken: cuff artefacts; nibp_systolic 130.0 (good, 1 reading, spread 0.0), "
            "nibp_diastolic 82.0 (good, 1 reading, spread 0.0)");
}

TEST(EngineBaselineRetake, NeedsAReasonWhoAndAnOpenSession) {
  rig r(rise_profile());
  auto res = retake(r, t0);
  EXPECT_EQ(res.error, command_error::no_open_session);
  r.open();
  r.take();
  res = retake(r, t0 + 1 * s_, "");
  EXPECT_EQ(res.error, command_error::invalid_argument);
  EXPECT_FALSE(res.message.empty());
  res = retake(r, t0 + 2 * s_, "reason", "");
  EXPECT_EQ(res.error, command_error::invalid_argument);
  EXPECT_EQ(count(r.take(), event_type::baseline_set), 0u);
}

TEST(EngineBaselineRetake, ARestartChangesNothing) {
  // Two engines fed alike, one restarted from its checkpoint after the dose: the re-take gives
  // the same events (the post-dose window and the baseline's text survive the checkpoint).
  auto run = [](bool restart) {
    rig r(rise_profile());
    r.open();
    r.cuff(85, 70, t0 + 1 * min_);
    const millis dose = t0 + 5 * min_;
    EXPECT_TRUE(r.dose(dose).ok());
    r.cuff(126, 80, dose + 10 * min_);
    r.cuff(124, 78, dose + 12 * min_);
    if (restart) {
      const auto data = r.eng.checkpoint(r.chair);
      engine fresh(std::vector<profile>{rise_profile()});
      EXPECT_TRUE(fresh.restore(data, "test").restored);
      r.eng = std::move(fresh);
    }
    r.take();
    EXPECT_TRUE(retake(r, dose + 14 * min_).ok());
    r.cuff(166, 80, dose + 25 * min_);
    auto ev = r.take();
    ev.push_back(event{});
    ev.back().text = r.view().baseline;
    return ev;
  };
  const auto a = run(false);
  const auto b = run(true);
  EXPECT_TRUE(same_events(normalise_ids(a), normalise_ids(b)));
}

}  // namespace
}  // namespace vigil::engine::testing
