// Artefact judgement: flagged samples are kept but drive no physiological rule.
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

}  // namespace
}  // namespace vigil::engine::testing

namespace vigil::engine::testing {
namespace {

// --- artefacts judged in context (alarms.md 3.6) --------------------------------------------------
// Found on recorded data: values possible one at a time but not in context (a pulse of 277 next
// to a normal ECG rate, SpO2 36 for one reading between 98s, a diastolic of 10 from a cuff whose
// other readings are normal, a 0 for "no signal") raised alarms and built baselines.

profile judging_profile() {
  auto p = with_rules({high_rule("hr_high", vital_kind::heart_rate, 120, 0), low_rule("hr_low", vital_kind::heart_rate, 40, 0),
                       high_rule("pr_high", vital_kind::pulse_rate, 120, 0), low_rule("spo2_low", vital_kind::spo2, 90, 0),
                       low_rule("rr_low", vital_kind::respiratory_rate, 8, 0),
                       low_rule("dia_low", vital_kind::nibp_diastolic, 40, 0), low_rule("map_low", vital_kind::nibp_mean, 50, 0),
                       high_rule("dia_high", vital_kind::nibp_diastolic, 110, 0)});
  p.artefacts = artefact_rules{};  // the generic judgement
  return p;
}

struct judged_rig : rig {
  judged_rig() : rig(judging_profile()) { open(); }
  std::size_t raised() { return count(take(), event_type::alarm_raised); }
};

TEST(EngineArtefactJudgement, AZeroIsNoSignal) {
  judged_rig r;
  for (int i = 1; i <= 5; ++i) r.feed(vital_kind::spo2, 97, t0 + i * s_);
  EXPECT_EQ(r.feed(vital_kind::spo2, 0, t0 + 6 * s_), sample_outcome::artefact);
  EXPECT_EQ(r.feed(vital_kind::spo2, 0, t0 + 7 * s_), sample_outcome::artefact) << "every zero";
  EXPECT_EQ(r.feed(vital_kind::respiratory_rate, 0, t0 + 7 * s_), sample_outcome::artefact);
  EXPECT_EQ(r.raised(), 0u);
  for (const auto& v : r.eng.latest_vitals(r.chair)) {
    if (v.kind == vital_kind::spo2) {
      EXPECT_EQ(v.value, 97) << "a judged sample is not the latest value";
    }
  }
}

TEST(EngineArtefactJudgement, ThePulseRateFurtherFromNormalThanTheEcgRateIsJudged) {
  judged_rig r;
  r.from("monitor", vital_kind::heart_rate, 72, t0 + 1 * s_);
  EXPECT_EQ(r.from("oximeter", vital_kind::pulse_rate, 277, t0 + 1 * s_ + 100), sample_outcome::artefact);
  EXPECT_EQ(r.from("oximeter", vital_kind::pulse_rate, 276, t0 + 2 * s_ + 100), sample_outcome::artefact);
  EXPECT_EQ(r.from("oximeter", vital_kind::pulse_rate, 74, t0 + 3 * s_ + 100), sample_outcome::applied);
  // The other way round: an ECG rate of 11 next to a pulse of 74.
  EXPECT_EQ(r.from("monitor", vital_kind::heart_rate, 11, t0 + 4 * s_), sample_outcome::artefact);
  EXPECT_EQ(r.from("monitor", vital_kind::heart_rate, 11, t0 + 5 * s_), sample_outcome::artefact);
  EXPECT_EQ(r.raised(), 0u);
  // Agreeing rates far from normal are both applied.
  for (int i = 6; i <= 12; ++i) {
    r.from("monitor", vital_kind::heart_rate, 72 + (i - 5) * 10, t0 + i * s_);
    r.from("oximeter", vital_kind::pulse_rate, 72 + (i - 5) * 10, t0 + i * s_ + 100);
  }
  EXPECT_TRUE(r.alarm("hr_high"));
  EXPECT_TRUE(r.alarm("pr_high"));
}

TEST(EngineArtefactJudgement, AnImpossibleStepIsJudgedAndANewLevelIsConfirmedByItsSecondReading) {
  judged_rig r;
  for (int i = 1; i <= 5; ++i) r.feed(vital_kind::spo2, 98, t0 + i * min_);
  EXPECT_EQ(r.feed(vital_kind::spo2, 36, t0 + 6 * min_), sample_outcome::artefact);
  EXPECT_EQ(r.feed(vital_kind::spo2, 98, t0 + 7 * min_), sample_outcome::applied);
  EXPECT_EQ(r.raised(), 0u);
  // A real fall: the first reading of the new level is judged, the second confirms it.
  EXPECT_EQ(r.feed(vital_kind::spo2, 60, t0 + 8 * min_), sample_outcome::artefact);
  EXPECT_EQ(r.feed(vital_kind::spo2, 61, t0 + 9 * min_), sample_outcome::applied);
  EXPECT_TRUE(r.alarm("spo2_low"));
  // An isolated extreme between normal readings.
  for (int i = 1; i <= 5; ++i) r.feed(vital_kind::respiratory_rate, 14, t0 + i * s_);
  EXPECT_EQ(r.feed(vital_kind::respiratory_rate, 2, t0 + 6 * s_), sample_outcome::artefact);
  EXPECT_EQ(r.feed(vital_kind::respiratory_rate, 14, t0 + 7 * s_), sample_outcome::applied);
  EXPECT_FALSE(r.alarm("rr_low"));
}

TEST(EngineArtefactJudgement, ACuffPartThatCannotBeAPressureOrContradictsItsReadingIsJudged) {
  judged_rig r;
  const millis at = t0 + 5 * min_;
  EXPECT_EQ(r.feed(vital_kind::nibp_systolic, 122, at), sample_outcome::applied);
  EXPECT_EQ(r.feed(vital_kind::nibp_diastolic, 10, at + 1), sample_outcome::artefact) << "below any diastolic";
  EXPECT_EQ(r.feed(vital_kind::nibp_mean, 31, at + 2), sample_outcome::artefact) << "below any mean";
  const millis next = at + 5 * min_;
  EXPECT_EQ(r.feed(vital_kind::nibp_systolic, 124, next), sample_outcome::applied);
  EXPECT_EQ(r.feed(vital_kind::nibp_diastolic, 130, next + 1), sample_outcome::artefact) << "above the systolic";
  EXPECT_EQ(r.feed(vital_kind::nibp_diastolic, 80, next + 2), sample_outcome::applied);
  EXPECT_EQ(r.feed(vital_kind::nibp_mean, 70, next + 3), sample_outcome::artefact) << "not above the diastolic";
  EXPECT_EQ(r.feed(vital_kind::nibp_mean, 95, next + 4), sample_outcome::applied);
  EXPECT_EQ(r.raised(), 0u);
  // A part far from its reading's time is not part of it.
  EXPECT_EQ(r.feed(vital_kind::nibp_diastolic, 45, next + 1 * min_), sample_outcome::applied);
}

// A cuff reading sent as one batch is judged as a whole: when its first part (the systolic) is
// the wrong one, the parts after it cannot save it, so it is judged with them. Found on the
// labelled corpus: systolic 86 under a mean of 98 raised systolic alarms.
TEST(EngineArtefactJudgement, ACuffReadingSentTogetherIsJudgedAsAWhole) {
  auto p = judging_profile();
  p.limits.push_back(low_rule("sys_low", vital_kind::nibp_systolic, 90, 0));
  rig r(p);
  r.open();
  const millis at = t0 + 5 * min_;
  const std::vector<model::vital_sample> reading{sample(vital_kind::nibp_systolic, 86, at),
                                                 sample(vital_kind::nibp_diastolic, 81, at + 1),
                                                 sample(vital_kind::nibp_mean, 98, at + 2)};
  std::vector<engine::judged_sample> judged;
  const auto counts = r.eng.on_samples(r.chair, reading, "", &judged);
  EXPECT_EQ(counts[static_cast<std::size_t>(sample_outcome::artefact)], 3u);
  ASSERT_EQ(judged.size(), 3u);
  for (const auto& j : judged) EXPECT_EQ(j.reason, artefact_reason::cuff_inconsistent);
  EXPECT_EQ(count(r.take(), event_type::alarm_raised), 0u);
  // A consistent reading in one batch is applied whole; an implausible part does not stand
  // against the others (a diastolic of 10 says nothing about the systolic).
  const millis next = at + 5 * min_;
  const std::vector<model::vital_sample> good{sample(vital_kind::nibp_systolic, 86, next),
                                              sample(vital_kind::nibp_diastolic, 10, next + 1),
                                              sample(vital_kind::nibp_mean, 70, next + 2)};
  r.eng.on_samples(r.chair, good, "", &judged);
  ASSERT_EQ(judged.size(), 1u);
  EXPECT_EQ(judged[0].index, 1u);
  EXPECT_EQ(judged[0].reason, artefact_reason::cuff_implausible);
  EXPECT_TRUE(r.alarm("sys_low"));
  // Parts sent one per batch are judged against the parts already received: the systolic of
  // such a reading goes through (alarms.md 3.6, protocol.md: send a reading's parts together).
  rig apart(p);
  apart.open();
  EXPECT_EQ(apart.feed(vital_kind::nibp_systolic, 86, at), sample_outcome::applied);
  EXPECT_EQ(apart.feed(vital_kind::nibp_diastolic, 81, at + 1), sample_outcome::artefact);
  EXPECT_TRUE(apart.alarm("sys_low"));
}

TEST(EngineArtefactJudgement, JudgedSamplesDoNotReviveALatchedAlarmOrEnterTheBaseline) {
  auto p = judging_profile();
  p.limits[3].latching = true;  // spo2_low
  rig r(p);
  r.open();
  for (int i = 1; i <= 5; ++i) r.feed(vital_kind::spo2, 97, t0 + i * s_);
  r.feed(vital_kind::spo2, 85, t0 + 6 * s_);   // judged
  r.feed(vital_kind::spo2, 85, t0 + 7 * s_);   // confirmed: the alarm
  ASSERT_TRUE(r.alarm("spo2_low"));
  r.feed(vital_kind::spo2, 97, t0 + 8 * s_);   // judged (a step up from 85)
  r.feed(vital_kind::spo2, 97, t0 + 9 * s_);   // latched
  ASSERT_FALSE(r.alarm("spo2_low")->condition);
  EXPECT_EQ(r.feed(vital_kind::spo2, 40, t0 + 10 * s_), sample_outcome::artefact);
  EXPECT_FALSE(r.alarm("spo2_low")->condition) << "an artefact does not revive it";
  r.feed(vital_kind::nibp_systolic, 120, t0 + 20 * s_);
  r.feed(vital_kind::nibp_diastolic, 12, t0 + 20 * s_ + 1);  // judged: not in the baseline
  r.feed(vital_kind::nibp_diastolic, 78, t0 + 20 * s_ + 2);
  ASSERT_TRUE(r.dose(t0 + 1 * min_).ok());
  const auto set = first(r.take(), event_type::baseline_set);
  ASSERT_TRUE(set);
  EXPECT_NE(set->text.find("nibp_diastolic 78.0"), std::string::npos) << set->text;
}

TEST(EngineArtefactJudgement, OffJudgesNothingAndWithoutASessionNothingIsJudged) {
  auto p = judging_profile();
  p.artefacts.enabled = false;
  rig off(p);
  off.open();
  EXPECT_EQ(off.feed(vital_kind::spo2, 0, t0 + 1 * s_), sample_outcome::applied);
  rig none(judging_profile());
  EXPECT_EQ(none.feed(vital_kind::spo2, 0, t0 + 1 * s_), sample_outcome::no_session);
}

}  // namespace
}  // namespace vigil::engine::testing
