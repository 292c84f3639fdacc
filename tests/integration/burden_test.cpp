// The alarm burden through a running daemon: GET /api/v1/alarm-burden over a timeline written
// beforehand (exact figures), its roles and parameters; `vigilctl burden` printing it; and the
// burden series of /metrics from alarms the daemon raises and a nurse acknowledges.

#include "daemon/store/sqlite_timeline.hpp"
#include "tests/common/run_program.hpp"
#include "tests/integration/harness.hpp"
#include "tests/unit/report/report_fixture.hpp"
#include "vigil/v1/burden.pb.h"

#include <fmt/format.h>
#include <google/protobuf/util/json_util.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <regex>

namespace vigil::test {
namespace {

namespace fs = std::filesystem;
using engine::event_type;
using engine::minutes_ms;
using engine::seconds_ms;
using report::testing::t0;

constexpr const char* viewer_token = "viewer-token-vic";

class temp_dir {
 public:
  temp_dir() {
    path_ = fs::temp_directory_path() / ("vigil-burden-" + std::to_string(getpid()) + "-" +
                                         ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~temp_dir() { fs::remove_all(path_); }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

config::daemon_config burden_config(const fs::path& data_dir) {
  auto c = test_config();
  c.users = {{"nurse-ana", operator_token, control::role::admin}, {"dr-vic", viewer_token, control::role::viewer}};
  c.data_dir = data_dir.string();
  c.retention_days = 36'500;  // the sessions are of 2024: keep them
  return c;
}

/// Two closed sessions, four hours of patient time and four alarms:
///  session 42 (report fixture, 08:30 to 10:50): systolic_high (high) acknowledged after 70 s,
///    spo2_low (medium) for 6 min, cuff_overdue (low, technical) active until the close;
///  session 43 (chair-2, 11:30 to 13:10): spo2_low (medium) acknowledged after 10 s, cleared after 20 s.
void write_timeline(const fs::path& dir) {
  store::sqlite_timeline store({(dir / "timeline.db").string(), false});
  store.append_state(report::testing::story("P-0001", "Patient calm."), {});
  const engine::millis opened = t0 + 180 * minutes_ms;
  const auto event = [&](event_type type, engine::millis at) {
    engine::event e;
    e.type = type;
    e.at = at;
    e.chair = "chair-2";
    e.session = 43;
    return e;
  };
  auto open = event(event_type::session_opened, opened);
  open.who = "nurse-ana";
  open.patient_ref = "P-0002";
  open.profile = "generic";
  const auto alarm = [&](event_type type, engine::millis at) {
    auto e = event(type, at);
    e.alarm = 50;
    e.rule = "spo2_low";
    e.level = engine::priority::medium;
    return e;
  };
  auto ack = alarm(event_type::alarm_acknowledged, opened + 10 * minutes_ms + 10 * seconds_ms);
  ack.who = "nurse-ana";
  auto phase = event(event_type::phase_changed, opened + 100 * minutes_ms);
  phase.from = engine::phase::observation;
  phase.to = engine::phase::closed;
  phase.text = "closed";
  auto close = event(event_type::session_closed, opened + 100 * minutes_ms);
  close.who = "nurse-ana";
  close.text = "closed";
  store.append_state({open, alarm(event_type::alarm_raised, opened + 10 * minutes_ms), ack,
                      alarm(event_type::alarm_cleared, opened + 10 * minutes_ms + 20 * seconds_ms), phase, close},
                     {});
  store.flush();
}

v1::AlarmBurden parse(const http_reply& r) {
  v1::AlarmBurden b;
  EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(r.body, &b).ok()) << r.body;
  return b;
}

std::string error_of(const http_reply& r) {
  const auto at = r.body.find("\"error\":\"");
  if (at == std::string::npos) return {};
  return r.body.substr(at + 9, r.body.find('"', at + 9) - at - 9);
}

TEST(AlarmBurdenRoute, CountsTheStoredSessionsExactly) {
  temp_dir dir;
  write_timeline(dir.path());
  daemon_under_test d(burden_config(dir.path()));
  http_client client(d.http_port());

  const auto r = client.request("GET", "/api/v1/alarm-burden", viewer_token);
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(r->header("content-type"), "application/json");
  const auto b = parse(*r);
  EXPECT_EQ(b.sessions(), 2u);
  EXPECT_EQ(b.patient_ms(), 240 * minutes_ms);
  EXPECT_EQ(b.patient_hours(), 4.0);
  EXPECT_FALSE(b.limited());
  EXPECT_GT(b.now_ms(), 0);
  const auto& all = b.all();
  EXPECT_EQ(all.alarms(), 4u);
  EXPECT_EQ(all.per_patient_hour(), 1.0);
  EXPECT_EQ(all.short_alarms(), 1u);
  EXPECT_EQ(all.short_share(), 0.25);
  EXPECT_EQ(all.acknowledged(), 2u);
  EXPECT_EQ(all.acknowledged_share(), 0.5);
  EXPECT_EQ(all.ack_median_ms(), 10 * seconds_ms);
  EXPECT_EQ(all.ack_p90_ms(), 70 * seconds_ms);
  EXPECT_EQ(all.alarm_ms(), 5 * minutes_ms + 6 * minutes_ms + 25 * minutes_ms + 20 * seconds_ms);

  ASSERT_EQ(b.priorities_size(), 3);
  EXPECT_EQ(b.priorities(0).priority(), v1::PRIORITY_LOW);
  EXPECT_EQ(b.priorities(0).figures().per_patient_hour(), 0.25);
  EXPECT_FALSE(b.priorities(0).figures().has_ack_median_ms());
  EXPECT_EQ(b.priorities(1).priority(), v1::PRIORITY_MEDIUM);
  EXPECT_EQ(b.priorities(1).figures().alarms(), 2u);
  EXPECT_EQ(b.priorities(1).figures().short_share(), 0.5);
  EXPECT_EQ(b.priorities(2).figures().acknowledged_share(), 1.0);
  ASSERT_EQ(b.kinds_size(), 3);
  EXPECT_EQ(b.kinds(0).figures().alarms(), 3u);
  EXPECT_EQ(b.kinds(1).figures().alarms(), 1u);
  EXPECT_EQ(b.kinds(2).figures().alarms(), 0u);
  EXPECT_EQ(b.kinds(2).figures().per_patient_hour(), 0.0);
  EXPECT_TRUE(b.kinds(2).figures().has_per_patient_hour());
  EXPECT_FALSE(b.kinds(2).figures().has_short_share());
  ASSERT_EQ(b.rules_size(), 3);
  EXPECT_EQ(b.rules(0).rule(), "cuff_overdue");
  EXPECT_EQ(b.rules(0).kind(), v1::ALARM_KIND_TECHNICAL);
  EXPECT_EQ(b.rules(1).rule(), "spo2_low");
  EXPECT_EQ(b.rules(1).figures().per_patient_hour(), 0.5);
  EXPECT_EQ(b.rules(2).rule(), "systolic_high");
  EXPECT_EQ(b.rules(2).priority(), v1::PRIORITY_HIGH);

  ASSERT_EQ(b.per_session_size(), 2);  // newest first
  EXPECT_EQ(b.per_session(0).session_id(), 43u);
  EXPECT_EQ(b.per_session(0).chair_id(), "chair-2");
  EXPECT_EQ(b.per_session(0).profile(), "generic");
  EXPECT_EQ(b.per_session(0).patient_ms(), 100 * minutes_ms);
  EXPECT_EQ(b.per_session(0).figures().alarms(), 1u);
  EXPECT_EQ(b.per_session(1).session_id(), 42u);
  EXPECT_EQ(b.per_session(1).patient_ms(), 140 * minutes_ms);
  EXPECT_EQ(b.per_session(1).closed_ms(), t0 + 140 * minutes_ms);

  // One session; sessions opened since a moment; the newest N.
  auto one = client.request("GET", "/api/v1/alarm-burden?session=42", viewer_token);
  ASSERT_TRUE(one && one->status == 200) << (one ? one->body : "");
  EXPECT_EQ(parse(*one).sessions(), 1u);
  EXPECT_EQ(parse(*one).all().alarms(), 3u);
  auto since = client.request("GET", fmt::format("/api/v1/alarm-burden?since_ms={}", t0 + 60 * minutes_ms), viewer_token);
  ASSERT_TRUE(since && since->status == 200) << (since ? since->body : "");
  EXPECT_EQ(parse(*since).sessions(), 1u);
  EXPECT_EQ(parse(*since).since_ms(), t0 + 60 * minutes_ms);
  EXPECT_EQ(parse(*since).per_session(0).session_id(), 43u);
  auto limited = client.request("GET", "/api/v1/alarm-burden?limit=1", viewer_token);
  ASSERT_TRUE(limited && limited->status == 200);
  EXPECT_TRUE(parse(*limited).limited());
  EXPECT_EQ(parse(*limited).per_session(0).session_id(), 43u);
}

TEST(AlarmBurdenRoute, AsksForAUserAndRefusesBadParameters) {
  temp_dir dir;
  write_timeline(dir.path());
  daemon_under_test d(burden_config(dir.path()));
  http_client client(d.http_port());
  auto r = client.request("GET", "/api/v1/alarm-burden");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 401);
  r = client.request("POST", "/api/v1/alarm-burden", viewer_token);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 405);
  for (const char* query : {"?since_ms=abc", "?since_ms=-5", "?session=0", "?limit=0", "?limit=10001", "?session=42&limit=5",
                            "?session=42&since_ms=0", "?days=7", "?limit=5&limit=6"}) {
    r = client.request("GET", std::string("/api/v1/alarm-burden") + query, viewer_token);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 400) << query << " -> " << r->body;
    EXPECT_EQ(error_of(*r), "invalid_argument") << query;
  }
  r = client.request("GET", "/api/v1/alarm-burden?session=99", viewer_token);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 404);
  EXPECT_EQ(error_of(*r), "not_found");
}

TEST(AlarmBurdenRoute, WithoutATimelineIsNotFound) {
  auto config = test_config();
  daemon_under_test d(config);
  http_client client(d.http_port());
  const auto r = client.request("GET", "/api/v1/alarm-burden", operator_token);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 404);
  EXPECT_EQ(error_of(*r), "no_timeline");
}

TEST(AlarmBurdenVigilctl, PrintsTheFiguresByPriorityKindRuleAndSession) {
  temp_dir dir;
  write_timeline(dir.path());
  daemon_under_test d(burden_config(dir.path()));
  const auto url = fmt::format("http://127.0.0.1:{}", d.http_port());
  auto r = run_program(VIGILCTL_PATH, {"--url", url, "burden"}, dir.path(), viewer_token);
  ASSERT_EQ(r.status, 0) << r.err;
  const auto& out = r.out;
  EXPECT_EQ(out.rfind("Alarm burden: 2 sessions, 4.00 patient-hours (times UTC)\n", 0), 0u) << out;
  for (const char* line : {
           R"(\nall\s+4\s+1\.00\s+25%\s+50%\s+10 s\s+1 min 10 s\n)",
           R"(\npriority low\s+1\s+0\.25\s+0%\s+0%\s+-\s+-\n)",
           R"(\npriority medium\s+2\s+0\.50\s+50%\s+50%\s+10 s\s+10 s\n)",
           R"(\npriority high\s+1\s+0\.25\s+0%\s+100%\s+1 min 10 s\s+1 min 10 s\n)",
           R"(\nkind physiological\s+3\s+0\.75\s+33%\s+67%\s+10 s\s+1 min 10 s\n)",
           R"(\nkind advisory\s+0\s+0\.00\s+-\s+-\s+-\s+-\n)",
           R"(\nrule cuff_overdue \(low, technical\)\s+1\s+0\.25\s+0%\s+0%\s+-\s+-\n)",
           R"(\nrule spo2_low \(medium, physiological\)\s+2\s+0\.50\s+50%\s+50%\s+10 s\s+10 s\n)",
           R"(\n43\s+chair-2\s+generic\s+2024-05-02 11:30:00\s+1\.67\s+1\s+0\.60\s+100%\s+100%\s+10 s\n)",
           R"(\n42\s+chair-1\s+iv-ketamine\s+2024-05-02 08:30:00\s+2\.33\s+3\s+1\.29\s+0%\s+33%\s+1 min 10 s\n)",
       }) {
    EXPECT_TRUE(std::regex_search(out, std::regex(line))) << line << "\n" << out;
  }

  r = run_program(VIGILCTL_PATH, {"--url", url, "burden", "--session", "43"}, dir.path(), viewer_token);
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out.rfind("Alarm burden: 1 session, 1.67 patient-hours (times UTC)\n", 0), 0u) << r.out;
  r = run_program(VIGILCTL_PATH, {"--url", url, "burden", "--since", "2024-05-02T10:00Z"}, dir.path(), viewer_token);
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out.rfind("Alarm burden: 1 session, 1.67 patient-hours, sessions opened since 2024-05-02 10:00:00 UTC "
                        "(times UTC)\n",
                        0),
            0u)
      << r.out;
  r = run_program(VIGILCTL_PATH, {"--url", url, "burden", "--session", "99"}, dir.path(), viewer_token);
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(r.err, "vigilctl: not_found: no session 99 in the timeline\n");
  r = run_program(VIGILCTL_PATH, {"--url", url, "burden", "--since", "yesterday"}, dir.path(), viewer_token);
  EXPECT_EQ(r.status, 2);
  r = run_program(VIGILCTL_PATH, {"--url", url, "burden", "--session", "42", "--since", "7d"}, dir.path(), viewer_token);
  EXPECT_EQ(r.status, 2);
}

/// The value of the series `name{labels}` in a scrape; nullopt when absent.
std::optional<double> series(const std::string& scrape, const std::string& name_and_labels) {
  const auto at = scrape.find("\n" + name_and_labels + " ");
  if (at == std::string::npos) return std::nullopt;
  return std::stod(scrape.substr(at + name_and_labels.size() + 2));
}

TEST(AlarmBurdenMetrics, CountAlarmsOfSessionsTheirAcknowledgementAndPatientTime) {
  auto config = test_config();
  config.users = {{"nurse-ana", operator_token, control::role::admin}};
  daemon_under_test d(config);
  http_client client(d.http_port());
  auto r = client.request("POST", "/api/v1/sessions", operator_token, R"({"chair_id":"chair-1","patient_ref":"P-1"})");
  ASSERT_TRUE(r && r->status == 201) << (r ? r->body : "");

  // Before any alarm: the histogram by priority and patient time are there, no rule yet.
  r = client.request("GET", "/metrics");
  ASSERT_TRUE(r && r->status == 200);
  EXPECT_NE(r->body.find("# TYPE vigil_patient_seconds_total counter"), std::string::npos) << r->body;
  EXPECT_NE(r->body.find("# TYPE vigil_session_alarms_raised_total counter"), std::string::npos);
  EXPECT_NE(r->body.find("vigil_session_alarm_ack_seconds_count{priority=\"high\"} 0"), std::string::npos) << r->body;
  EXPECT_EQ(r->body.find("vigil_session_alarms_raised_total{"), std::string::npos);

  // A desaturation raises spo2_critical (high); a nurse acknowledges it.
  test_client monitor(d.port());
  ASSERT_TRUE(monitor.hello("dev-1", device_token, "chair-1")->has_welcome());
  const auto t = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  v1::DeviceMessage m;
  m.mutable_batch()->set_seq(1);
  for (int s = 0; s < 15; ++s) {
    auto& sample = *m.mutable_batch()->add_samples();
    sample.set_kind(v1::SPO2);
    sample.set_value(84);
    sample.set_time_ms(t + 1000 + s * 1000);
  }
  monitor.send(m);
  ASSERT_TRUE(monitor.wait_ack(1));
  r = client.request("GET", "/api/v1/sessions", operator_token);
  ASSERT_TRUE(r && r->status == 200);
  const std::regex alarm_id(R"re("alarm_id":"(\d+)","rule":"spo2_critical")re");
  std::smatch found;
  ASSERT_TRUE(std::regex_search(r->body, found, alarm_id)) << r->body;
  r = client.request("POST", fmt::format("/api/v1/sessions/1/alarms/{}/ack", found[1].str()), operator_token);
  ASSERT_TRUE(r && r->status == 200) << (r ? r->body : "");

  r = client.request("GET", "/metrics");
  ASSERT_TRUE(r && r->status == 200);
  const auto& scrape = r->body;
  const std::string labels = R"({rule="spo2_critical",kind="physiological",priority="high"})";
  EXPECT_EQ(series(scrape, "vigil_session_alarms_raised_total" + labels), 1.0) << scrape;
  EXPECT_EQ(series(scrape, "vigil_session_alarms_acknowledged_total" + labels), 1.0) << scrape;
  EXPECT_EQ(series(scrape, "vigil_session_alarms_short_total" + labels), 0.0) << scrape;  // still active
  EXPECT_TRUE(series(scrape, "vigil_session_alarm_seconds_total" + labels)) << scrape;
  EXPECT_EQ(series(scrape, R"(vigil_session_alarm_ack_seconds_count{priority="high"})"), 1.0) << scrape;
  EXPECT_EQ(series(scrape, R"(vigil_session_alarm_ack_seconds_bucket{priority="high",le="+Inf"})"), 1.0) << scrape;
  EXPECT_EQ(series(scrape, R"(vigil_session_alarm_ack_seconds_count{priority="medium"})"), 0.0) << scrape;
  const auto patient = series(scrape, "vigil_patient_seconds_total");
  ASSERT_TRUE(patient) << scrape;
  EXPECT_GE(*patient, 0.0);
}

}  // namespace
}  // namespace vigil::test
