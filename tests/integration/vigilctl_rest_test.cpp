// The built vigilctl driving a session through vigild's REST API, end to end: open, override,
// dose, list, ack, pause, note, close and abort, with its exit statuses for refusals and for
// a daemon it cannot reach.

#include "tests/common/run_program.hpp"
#include "tests/integration/harness.hpp"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

namespace vigil::test {
namespace {

namespace fs = std::filesystem;

class VigilctlRest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("vigilctl-rest-" + std::to_string(getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    auto config = test_config();
    config.users = {{"nurse-ana", operator_token, control::role::admin},
                    {"nurse-bea", "nurse-token-bea", control::role::nurse}};
    daemon_ = std::make_unique<daemon_under_test>(config);
    url_ = fmt::format("http://127.0.0.1:{}", daemon_->http_port());
  }
  void TearDown() override {
    daemon_.reset();
    fs::remove_all(dir_);
  }

  /// Runs vigilctl with `args` and VIGIL_TOKEN=`token`.
  run_result run(std::vector<std::string> args, const std::string& token = operator_token) const {
    return run_program(VIGILCTL_PATH, args, dir_, token);
  }

  fs::path dir_;
  std::unique_ptr<daemon_under_test> daemon_;
  std::string url_;
};

TEST_F(VigilctlRest, DrivesASessionThroughTheRestApi) {
  auto r = run({"--url", url_, "open", "chair-1", "--patient", "P-0001"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, "ok (session 1)\n");
  r = run({"--url", url_, "override", "chair-1", "--reason", "BP reviewed by Dr Lee"});
  ASSERT_EQ(r.status, 0) << r.err;
  r = run({"--url", url_, "dose", "chair-1", "--route", "intranasal", "--dose", "56 mg"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, "ok (session 1)\n");

  // A monitor desaturates the patient: an alarm to acknowledge.
  test_client monitor(daemon_->port());
  ASSERT_TRUE(monitor.hello("dev-1", device_token, "chair-1")->has_welcome());
  const auto t0 = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  v1::DeviceMessage m;
  m.mutable_batch()->set_seq(1);
  for (int s = 0; s < 30; ++s) {
    auto& sample = *m.mutable_batch()->add_samples();
    sample.set_kind(v1::SPO2);
    sample.set_value(84);
    sample.set_time_ms(t0 + 1000 + s * 1000);
  }
  monitor.send(m);
  ASSERT_TRUE(monitor.wait_ack(1));

  r = run({"--url", url_, "sessions"});
  ASSERT_EQ(r.status, 0) << r.err;
  std::smatch alarm;
  ASSERT_TRUE(std::regex_search(r.out, alarm, std::regex(R"(alarm (\d+)\s+HIGH\s+spo2_critical)"))) << r.out;
  EXPECT_NE(r.out.find("chair-1    session 1  patient P-0001  profile generic  observation"), std::string::npos) << r.out;

  // A nurse acknowledges, pauses and writes a note; the listing shows who acknowledged.
  r = run({"--url", url_, "ack", "chair-1", alarm[1].str()}, "nurse-token-bea");
  ASSERT_EQ(r.status, 0) << r.err;
  r = run({"--url", url_, "pause", "chair-1", "--seconds", "60"}, "nurse-token-bea");
  ASSERT_EQ(r.status, 0) << r.err;
  r = run({"--url", url_, "note", "chair-1", "Probe repositioned"}, "nurse-token-bea");
  ASSERT_EQ(r.status, 0) << r.err;
  r = run({"--url", url_, "sessions"}, "nurse-token-bea");
  EXPECT_NE(r.out.find("[acknowledged by nurse-bea]"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("audio paused until"), std::string::npos) << r.out;

  // The nurse may not close; the admin may.
  r = run({"--url", url_, "close", "chair-1"}, "nurse-token-bea");
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(r.err, "vigilctl: forbidden: nurse-bea has the role nurse; this needs admin\n");
  r = run({"--url", url_, "close", "chair-1"});
  ASSERT_EQ(r.status, 0) << r.err;
  r = run({"--url", url_, "sessions"});
  EXPECT_EQ(r.out, "no open sessions\n");
}

TEST_F(VigilctlRest, ANurseRetakesTheBaselineWithAReason) {
  ASSERT_EQ(run({"--url", url_, "open", "chair-1", "--patient", "P-0002"}).status, 0);
  // One artefact cuff reading before the dose builds a baseline of 85/40.
  test_client monitor(daemon_->port());
  ASSERT_TRUE(monitor.hello("dev-1", device_token, "chair-1")->has_welcome());
  const auto t0 = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  const auto cuff = [&](std::uint64_t seq, double systolic, double diastolic, std::int64_t at) {
    v1::DeviceMessage m;
    m.mutable_batch()->set_seq(seq);
    auto& s = *m.mutable_batch()->add_samples();
    s.set_kind(v1::NIBP_SYSTOLIC);
    s.set_value(systolic);
    s.set_time_ms(at);
    auto& d = *m.mutable_batch()->add_samples();
    d.set_kind(v1::NIBP_DIASTOLIC);
    d.set_value(diastolic);
    d.set_time_ms(at);
    monitor.send(m);
    ASSERT_TRUE(monitor.wait_ack(seq));
  };
  cuff(1, 85, 40, t0 + 1000);
  ASSERT_EQ(run({"--url", url_, "dose", "chair-1", "--route", "iv", "--dose", "0.5 mg/kg"}).status, 0);
  auto r = run({"--url", url_, "sessions"}, "nurse-token-bea");
  EXPECT_NE(r.out.find("baseline: nibp_systolic 85.0 (good, 1 reading, spread 0.0), nibp_diastolic 40.0 (good, 1 "
                       "reading, spread 0.0)"),
            std::string::npos)
      << r.out;

  // Readings after the dose; the nurse re-takes the baseline from the window before now.
  cuff(2, 124, 78, t0 + 2000);
  cuff(3, 126, 80, t0 + 3000);
  r = run({"--url", url_, "retake-baseline", "chair-1", "--reason", ""}, "nurse-token-bea");
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("vigilctl: invalid_argument: "), std::string::npos) << r.err;
  r = run({"--url", url_, "retake-baseline", "chair-1", "--reason", "the pre-dose cuff reading was an artefact"},
          "nurse-token-bea");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, "ok (session 1)\n");
  r = run({"--url", url_, "sessions"}, "nurse-token-bea");
  EXPECT_NE(r.out.find("baseline: nibp_systolic 124.0 (weak, 3 readings, spread 41.0: spread above 25), "
                       "nibp_diastolic 78.0 (weak, 3 readings, spread 40.0: spread above 20)"),
            std::string::npos)
      << r.out;
  r = run({"--url", url_, "retake-baseline", "chair-9", "--reason", "x"}, "nurse-token-bea");
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(r.err, "vigilctl: no_open_session: no open session on chair 'chair-9'\n");
}

TEST_F(VigilctlRest, RefusalsExitOneAndTransportProblemsTwo) {
  auto r = run({"--url", url_, "note", "chair-7", "hello"});
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(r.err, "vigilctl: no_open_session: no open session on chair 'chair-7'\n");
  r = run({"--url", url_, "sessions"}, "wrong-token-000000");
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(r.err, "vigilctl: unauthorized: unknown token\n");
  ASSERT_EQ(run({"--url", url_, "open", "chair-1", "--patient", "P-1"}).status, 0);
  r = run({"--url", url_, "dose", "chair-1", "--route", "iv", "--dose", "1 mg"});
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("vigilctl: predose_gate: "), std::string::npos) << r.err;
  r = run({"--url", url_, "abort", "chair-1", "--reason", "patient left"});
  EXPECT_EQ(r.status, 0) << r.err;

  r = run({"--url", url_, "sessions"}, "");
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("no user token"), std::string::npos);
  r = run({"--url", "ftp://x", "sessions"});
  EXPECT_EQ(r.status, 2);
  r = run({"--url", "http://127.0.0.1:1", "sessions"});
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("cannot reach vigild at 127.0.0.1:1"), std::string::npos) << r.err;
  r = run({"dose", "chair-1"});
  EXPECT_EQ(r.status, 2);  // --route and --dose are required
}

TEST_F(VigilctlRest, FindsTheHttpPortInThePortsFile) {
  const auto ports = dir_ / "ports";
  std::ofstream(ports) << "ingest: " << daemon_->port() << "\ncontrol: " << daemon_->control_port()
                       << "\nhttp: " << daemon_->http_port() << "\n";
  auto r = run({"--ports-file", ports.string(), "sessions"});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, "no open sessions\n");
  std::ofstream(ports) << "ingest: 1\ncontrol: 2\n";
  r = run({"--ports-file", ports.string(), "sessions"});
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("no 'http:' line"), std::string::npos);
}

TEST_F(VigilctlRest, ResetsADeviceThatRestartedItsCount) {
  test_client monitor(daemon_->port());
  ASSERT_TRUE(monitor.hello("dev-3")->has_welcome());
  for (std::uint64_t seq = 1; seq <= 12; ++seq) monitor.send(make_batch(seq, 1));
  ASSERT_TRUE(monitor.wait_ack(12));

  auto r = run({"--url", url_, "device-reset", "dev-3", "--reason", "monitor replaced"}, "nurse-token-bea");
  EXPECT_EQ(r.status, 1) << "a nurse may not";
  EXPECT_NE(r.err.find("forbidden"), std::string::npos) << r.err;
  r = run({"--url", url_, "device-reset", "nobody", "--reason", "typo"});
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("unknown_device"), std::string::npos) << r.err;
  r = run({"--url", url_, "device-reset", "dev-3", "--reason", "monitor replaced"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, "ok (device dev-3 was acked up to seq 12; it numbers its batches from 1 again)\n");
  EXPECT_TRUE(monitor.wait_closed());

  test_client again(daemon_->port());
  const auto welcome = again.hello("dev-3");
  ASSERT_TRUE(welcome && welcome->has_welcome());
  EXPECT_EQ(welcome->welcome().acked_seq(), 0u);
}

TEST_F(VigilctlRest, EveryCommandHasItsHelp) {
  for (const char* command : {"sessions", "open", "override", "dose", "ack", "pause", "close", "abort", "note",
                              "retake-baseline", "device-reset", "list", "show", "export", "report", "salvage"}) {
    const auto r = run({command, "--help"});
    EXPECT_EQ(r.status, 0) << command;
    EXPECT_NE(r.out.find("Usage"), std::string::npos) << command << ": " << r.out;
  }
  const auto r = run({"--help"});
  EXPECT_NE(r.out.find("--url"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace vigil::test
