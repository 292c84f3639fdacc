// Labels: what each adverse event and each artefact of a scenario must bring, judged against
// the alarms the daemon raised (docs/simulator.md, section 7).

#include "sim/labels.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace vigil::sim {
namespace {

using ::testing::HasSubstr;

label event_label(std::string chair, std::int64_t from_min, std::int64_t until_min, std::vector<std::string> rules) {
  label l;
  l.kind = label_kind::adverse_event;
  l.chair = std::move(chair);
  l.what = "desaturation at " + session_time_text(from_min * minute_ms);
  l.from_ms = from_min * minute_ms;
  l.until_ms = until_min * minute_ms;
  l.rules = std::move(rules);
  return l;
}

label artefact_label(std::string chair, std::int64_t from_s, std::int64_t until_s) {
  label l;
  l.kind = label_kind::artefact;
  l.chair = std::move(chair);
  l.what = "artefact impossible_step spo2 36 at " + session_time_text(from_s * second_ms);
  l.from_ms = from_s * second_ms;
  l.until_ms = until_s * second_ms;
  return l;
}

raised_alarm alarm(std::string chair, std::string rule, std::int64_t at_s, bool physiological = true) {
  return {std::move(chair), std::move(rule), physiological, at_s * second_ms};
}

TEST(Labels, AnEventIsMetByOneOfItsRulesRaisedOnItsChairWithinItsWindow) {
  const std::vector<label> labels{event_label("chair-1", 40, 44, {"spo2_low", "spo2_critical"})};
  EXPECT_TRUE(judge_labels(labels, {alarm("chair-1", "spo2_critical", 41 * 60)}).all_met());
  EXPECT_TRUE(judge_labels(labels, {alarm("chair-1", "spo2_low", 44 * 60)}).all_met()) << "the window's end included";
  EXPECT_TRUE(judge_labels(labels, {alarm("chair-1", "spo2_low", 40 * 60)}).all_met()) << "and its start";

  // Missed: no alarm; another rule; another chair; before the event; after the window.
  EXPECT_FALSE(judge_labels(labels, {}).all_met());
  EXPECT_FALSE(judge_labels(labels, {alarm("chair-1", "news2_urgent", 41 * 60)}).all_met());
  EXPECT_FALSE(judge_labels(labels, {alarm("chair-2", "spo2_low", 41 * 60)}).all_met());
  EXPECT_FALSE(judge_labels(labels, {alarm("chair-1", "spo2_low", 40 * 60 - 1)}).all_met());
  EXPECT_FALSE(judge_labels(labels, {alarm("chair-1", "spo2_low", 44 * 60 + 1)}).all_met());

  const auto missed = judge_labels(labels, {alarm("chair-1", "spo2_low", 50 * 60)});
  ASSERT_EQ(missed.outcomes.size(), 1u);
  EXPECT_FALSE(missed.outcomes[0].met);
  EXPECT_EQ(describe(missed.outcomes[0]),
            "label chair-1: desaturation at +0:40:00: missed: no spo2_low or spo2_critical raised from +0:40:00 to "
            "+0:44:00");
  const auto met = judge_labels(labels, {alarm("chair-1", "hr_high", 40 * 60 + 5), alarm("chair-1", "spo2_low", 41 * 60 + 2),
                                         alarm("chair-1", "spo2_critical", 41 * 60 + 30)});
  EXPECT_EQ(describe(met.outcomes.at(0)),
            "label chair-1: desaturation at +0:40:00: met: spo2_low raised at +0:41:02 (expected spo2_low or "
            "spo2_critical from +0:40:00 to +0:44:00)");
}

TEST(Labels, AnArtefactIsMetWhenNoPhysiologicalAlarmIsRaisedOnItsChairWithinItsWindow) {
  const std::vector<label> labels{artefact_label("chair-2", 1200, 1260)};
  EXPECT_TRUE(judge_labels(labels, {}).all_met());
  EXPECT_TRUE(judge_labels(labels, {alarm("chair-2", "stale_spo2", 1230, false)}).all_met()) << "a technical alarm is not one";
  EXPECT_TRUE(judge_labels(labels, {alarm("chair-1", "spo2_critical", 1210)}).all_met()) << "another chair's";
  EXPECT_TRUE(judge_labels(labels, {alarm("chair-2", "spo2_critical", 1199), alarm("chair-2", "hr_high", 1261)}).all_met())
      << "before and after the window";

  const auto alarmed = judge_labels(labels, {alarm("chair-2", "spo2_critical", 1211)});
  EXPECT_FALSE(alarmed.all_met());
  EXPECT_EQ(describe(alarmed.outcomes.at(0)),
            "label chair-2: artefact impossible_step spo2 36 at +0:20:00: missed: spo2_critical raised at +0:20:11 (no "
            "physiological alarm allowed from +0:20:00 to +0:21:00)");
  EXPECT_EQ(describe(judge_labels(labels, {}).outcomes.at(0)),
            "label chair-2: artefact impossible_step spo2 36 at +0:20:00: met: no physiological alarm from +0:20:00 to "
            "+0:21:00");
}

TEST(Labels, TheReportCountsSensitivityAndTheArtefactsThatAlarmed) {
  const std::vector<label> labels{event_label("chair-1", 40, 44, {"spo2_low"}), event_label("chair-2", 40, 44, {"spo2_low"}),
                                  artefact_label("chair-3", 600, 660), artefact_label("chair-3", 900, 960),
                                  artefact_label("chair-3", 1200, 1260)};
  const auto report = judge_labels(labels, {alarm("chair-1", "spo2_low", 41 * 60), alarm("chair-3", "hr_critical", 920)});
  EXPECT_EQ(report.events, 2);
  EXPECT_EQ(report.events_met, 1);
  EXPECT_EQ(report.artefacts, 3);
  EXPECT_EQ(report.artefacts_alarmed, 1);
  EXPECT_FALSE(report.all_met());
  EXPECT_EQ(summary_line(report), "labels: 3 of 5 met; sensitivity 1/2 adverse events; artefacts that alarmed 1 of 3");
  EXPECT_EQ(summary_line(judge_labels({}, {})), "labels: 0 of 0 met; sensitivity 0/0 adverse events; artefacts that alarmed 0 of 0");
}

}  // namespace
}  // namespace vigil::sim
