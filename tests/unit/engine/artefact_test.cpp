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
