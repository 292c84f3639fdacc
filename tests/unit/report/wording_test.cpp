// The clinical wording of the session report: the same cases as the station page
// (tests/common/wording-cases.json, also run by tests/browser/web.test.mjs against web/format.js),
// the table built into the report, and the report itself in clinical words.

#include "daemon/report/html_report.hpp"
#include "daemon/report/session_record.hpp"
#include "daemon/report/wording.hpp"
#include "tests/unit/report/report_fixture.hpp"
#include "vigil/v1/wording.pb.h"

#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

namespace vigil::report {
namespace {

using namespace testing;

google::protobuf::Struct read_cases() {
  std::ifstream in(VIGIL_SOURCE_DIR "/tests/common/wording-cases.json");
  std::stringstream text;
  text << in.rdbuf();
  google::protobuf::Struct cases;
  EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(text.str(), &cases).ok());
  return cases;
}

const google::protobuf::Value& field(const google::protobuf::Value& v, const std::string& name) {
  return v.struct_value().fields().at(name);
}

TEST(Wording, TheBuiltInTableParsesAndNamesEveryVitalAndFixedRule) {
  v1::Wording w;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(std::string(wording_json()), &w).ok());
  EXPECT_EQ(w.vitals().size(), 7u);
  for (const auto* rule : {"news2_urgent", "news2_emergency", "stale_heart_rate", "stale_spo2", "stale_respiratory_rate", "stale_ecg",
                           "stream_too_slow", "sensor_off_ecg", "sensor_off_oximeter", "sensor_off_cuff", "sensor_off_respiration",
                           "cuff_overdue", "device_disconnected", "predose_bp", "timeline_not_saved", "no_session"}) {
    EXPECT_TRUE(w.rules().contains(rule)) << rule;
  }
  EXPECT_EQ(vital_display_name(model::vital_kind::nibp_systolic), "Systolic BP");
  EXPECT_EQ(vital_display_unit(model::vital_kind::respiratory_rate), "breaths/min");
  for (const auto phase : {engine::phase::baseline, engine::phase::observation, engine::phase::ready, engine::phase::closed,
                           engine::phase::aborted}) {
    EXPECT_TRUE(w.phases().contains(std::string(engine::name(phase)))) << engine::name(phase);
  }
  EXPECT_EQ(phase_title("ready"), "Ready for discharge assessment");
  EXPECT_EQ(responder_title("charge_nurse"), "charge nurse");
  EXPECT_EQ(responder_title("on_call_anaesthetist"), "on call anaesthetist") << "a profile's own responder";
}

TEST(Wording, AlarmTextsAreWordedAsOnTheStation) {
  const auto cases = read_cases();
  const auto& alarms = cases.fields().at("alarms").list_value().values();
  ASSERT_GT(alarms.size(), 10);
  for (const auto& c : alarms) {
    EXPECT_EQ(alarm_display_text(field(c, "rule").string_value(), field(c, "value").number_value(), field(c, "text").string_value()),
              field(c, "want").string_value())
        << field(c, "rule").string_value();
  }
}

TEST(Wording, OtherEngineTextsAndTitlesAreWordedAsOnTheStation) {
  const auto cases = read_cases();
  for (const auto& c : cases.fields().at("texts").list_value().values()) {
    EXPECT_EQ(clinical_text(field(c, "text").string_value()), field(c, "want").string_value());
  }
  for (const auto& c : cases.fields().at("titles").list_value().values()) {
    EXPECT_EQ(rule_title(field(c, "rule").string_value()), field(c, "want").string_value());
  }
}

TEST(Wording, TheReportSpeaksInClinicalWords) {
  const auto html = render_html(testing::make_record(), {testing::t0 + 200 * engine::minutes_ms, "9.9.9"});
  EXPECT_NE(html.find("Systolic BP 187 mmHg \u2014 above 180"), std::string::npos);
  EXPECT_NE(html.find("SpO\u2082 89 % \u2014 below 92"), std::string::npos);
  EXPECT_NE(html.find("Systolic BP high"), std::string::npos);
  EXPECT_NE(html.find("Heart rate 75.0 bpm, SpO\u2082 97.0 %"), std::string::npos) << "the baseline";
  EXPECT_NE(html.find("SpO\u2082 back to 93"), std::string::npos) << "a clearing reason";
  EXPECT_NE(html.find("Baseline \u2192 Observation"), std::string::npos) << "a phase change";
  EXPECT_NE(html.find("Observation \u2192 Ready for discharge assessment"), std::string::npos) << "a phase change";
  EXPECT_NE(html.find("tier 1, charge nurse"), std::string::npos) << "an escalation in the timeline";
  EXPECT_NE(html.find("charge nurse <span class=\"sub\">tier 1</span>"), std::string::npos) << "an alarm's escalation";
  for (const auto* internal : {"nibp_systolic", "nibp_diastolic", "heart_rate", "spo2 ", "systolic_high", "spo2_low", "cuff_overdue",
                               "charge_nurse", "baseline \u2192", "\u2192 observation", "\u2192 ready"}) {
    EXPECT_EQ(html.find(internal), std::string::npos) << internal << " shows in the report";
  }
}

}  // namespace
}  // namespace vigil::report
