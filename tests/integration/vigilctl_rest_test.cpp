// The built vigilctl driving a session through vigild's REST API, end to end: open, override,
// dose, list, ack, pause, note, close and abort, with its exit statuses for refusals and for
// a daemon it cannot reach; its arguments checked before anything is sent; and the stored
// sessions (list, show, export, report) read through the API from a timeline written beforehand.

#include "daemon/store/sqlite_timeline.hpp"
#include "tests/common/run_program.hpp"
#include "tests/integration/harness.hpp"
#include "tests/unit/report/report_fixture.hpp"
#include "vigil/v1/timeline.pb.h"

#include <google/protobuf/util/json_util.h>

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

// --- arguments checked before anything is sent --------------------------------------------

TEST_F(VigilctlRest, APatientReferenceMustBeAnIdentifierNotANameOrADate) {
  for (const char* ref : {"Jane Doe 1970-01-01", "Jane Doe", "1970-01-01", "P/0001", ""}) {
    const auto r = run({"--url", url_, "open", "chair-1", "--patient", ref});
    EXPECT_EQ(r.status, 2) << ref;
    EXPECT_NE(r.err.find("vigilctl: --patient"), std::string::npos) << ref << ": " << r.err;
  }
  auto r = run({"--url", url_, "sessions"});
  EXPECT_EQ(r.out, "no open sessions\n") << "nothing was sent";

  // The daemon holds the same rule for every client.
  http_client other(daemon_->http_port());
  const auto refused = other.request("POST", "/api/v1/sessions", operator_token,
                                     R"({"chair_id":"chair-1","patient_ref":"Jane Doe 1970-01-01"})");
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->status, 400);
  EXPECT_NE(refused->body.find("\"error\":\"invalid_argument\""), std::string::npos) << refused->body;
  EXPECT_NE(refused->body.find("patient_ref"), std::string::npos) << refused->body;

  r = run({"--url", url_, "open", "chair-1", "--patient", "MRN_2024-0001.7"});
  EXPECT_EQ(r.status, 0) << r.err;
}

TEST_F(VigilctlRest, ARouteAndADoseAreCheckedBeforeTheyAreSent) {
  ASSERT_EQ(run({"--url", url_, "open", "chair-1", "--patient", "P-0001"}).status, 0);
  ASSERT_EQ(run({"--url", url_, "override", "chair-1", "--reason", "BP reviewed"}).status, 0);
  auto r = run({"--url", url_, "dose", "chair-1", "--route", "oral-ish", "--dose", "lots"});
  EXPECT_EQ(r.status, 2);
  EXPECT_EQ(r.err, "vigilctl: --route is one of iv, im, intranasal, sublingual, not 'oral-ish'\n");
  for (const char* dose : {"lots", "56", "mg", "56 mg lots", "0 mg", "0.5 mg/kg over", "1e3 mg", "56 kg", "1,5 mg"}) {
    r = run({"--url", url_, "dose", "chair-1", "--route", "iv", "--dose", dose});
    EXPECT_EQ(r.status, 2) << dose;
    EXPECT_NE(r.err.find("vigilctl: --dose is an amount and a unit"), std::string::npos) << dose << ": " << r.err;
  }
  r = run({"--url", url_, "sessions"});
  EXPECT_NE(r.out.find("  baseline  "), std::string::npos) << "no dose was sent: " << r.out;
  EXPECT_NE(r.out.find("dose -"), std::string::npos) << r.out;

  for (const char* dose : {"0.5 mg/kg over 40 min", "56 mg", "0.5 mg/kg", "200 mcg", "1.5 mcg/kg over 10 min"}) {
    r = run({"--url", url_, "dose", "chair-1", "--route", "iv", "--dose", dose});
    EXPECT_EQ(r.status, 0) << dose << ": " << r.err;
  }
  r = run({"--url", url_, "dose", "chair-1", "--route", "intranasal", "--dose", "84 mg"});
  EXPECT_EQ(r.status, 0) << r.err;
}

// --- acknowledging twice -----------------------------------------------------------------------

TEST_F(VigilctlRest, ASecondAcknowledgementSucceedsAndRecordsNothing) {
  daemon_.reset();
  auto config = test_config();
  config.users = {{"nurse-ana", operator_token, control::role::admin},
                  {"nurse-bea", "nurse-token-bea", control::role::nurse}};
  config.data_dir = (dir_ / "data").string();
  daemon_ = std::make_unique<daemon_under_test>(config);
  url_ = fmt::format("http://127.0.0.1:{}", daemon_->http_port());

  ASSERT_EQ(run({"--url", url_, "open", "chair-1", "--patient", "P-0001"}).status, 0);
  ASSERT_EQ(run({"--url", url_, "override", "chair-1", "--reason", "BP reviewed"}).status, 0);
  ASSERT_EQ(run({"--url", url_, "dose", "chair-1", "--route", "intranasal", "--dose", "56 mg"}).status, 0);
  test_client monitor(daemon_->port());
  ASSERT_TRUE(monitor.hello("dev-1", device_token, "chair-1")->has_welcome());
  const auto t0 =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
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
  auto r = run({"--url", url_, "sessions"});
  std::smatch alarm;
  ASSERT_TRUE(std::regex_search(r.out, alarm, std::regex(R"(alarm (\d+)\s+HIGH\s+spo2_critical)"))) << r.out;
  const std::string id = alarm[1].str();

  r = run({"--url", url_, "ack", "chair-1", id}, "nurse-token-bea");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, "ok (session 1)\n");
  r = run({"--url", url_, "ack", "chair-1", id});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, "ok (session 1): alarm " + id + " is already acknowledged by nurse-bea\n");
  http_client api(daemon_->http_port());
  const auto again = api.request("POST", fmt::format("/api/v1/sessions/1/alarms/{}/ack", id), operator_token);
  ASSERT_TRUE(again);
  EXPECT_EQ(again->status, 200);
  EXPECT_EQ(again->body,
            "{\"message\":\"alarm " + id + " is already acknowledged by nurse-bea\",\"session_id\":\"1\"}\n");
  r = run({"--url", url_, "sessions"});
  EXPECT_NE(r.out.find("[acknowledged by nurse-bea]"), std::string::npos) << r.out;

  // A batch acked by the daemon: everything before it is committed. The timeline holds one acknowledgement.
  monitor.send(make_batch(2, 1, t0 + 60'000));
  ASSERT_TRUE(monitor.wait_ack(2));
  r = run({"export", "1", "--format", "csv", "--what", "events", "--data-dir", (dir_ / "data").string()});
  ASSERT_EQ(r.status, 0) << r.err;
  std::size_t acks = 0;
  for (auto at = r.out.find(",alarm_acknowledged,"); at != std::string::npos;
       at = r.out.find(",alarm_acknowledged,", at + 1)) {
    ++acks;
  }
  EXPECT_EQ(acks, 1u) << r.out;
}

// --- what the operator reads when something is wrong ----------------------------------------------

TEST_F(VigilctlRest, AnUnreachableDaemonIsDescribedInPlainWords) {
  // A socket bound but not listening: connections to its port are refused, and no one else takes it.
  boost::asio::io_context io;
  boost::asio::ip::tcp::socket held(io);
  held.open(boost::asio::ip::tcp::v4());
  held.bind({boost::asio::ip::make_address("127.0.0.1"), 0});
  const auto port = held.local_endpoint().port();
  const std::string where = fmt::format("127.0.0.1:{}", port);
  for (const std::vector<std::string>& command : std::vector<std::vector<std::string>>{
           {"sessions"}, {"open", "chair-1", "--patient", "P-1"}, {"list"}, {"show", "1"}}) {
    auto args = std::vector<std::string>{"--url", "http://" + where};
    args.insert(args.end(), command.begin(), command.end());
    const auto r = run(args);
    EXPECT_EQ(r.status, 2) << command[0];
    EXPECT_EQ(r.err, "vigilctl: cannot reach vigild at " + where + ": connection refused\n") << command[0];
  }
}

TEST_F(VigilctlRest, AMisspeltCommandNamesTheNearestOnes) {
  auto r = run({"lsit"});
  EXPECT_EQ(r.status, 2);
  EXPECT_EQ(r.err, "vigilctl: unknown command 'lsit'; did you mean 'list'?\n");
  r = run({"--url", url_, "sesions"});
  EXPECT_EQ(r.status, 2);
  EXPECT_EQ(r.err, "vigilctl: unknown command 'sesions'; did you mean 'sessions'?\n");
  r = run({"--token=x", "clsoe", "chair-1"});
  EXPECT_EQ(r.status, 2);
  EXPECT_EQ(r.err, "vigilctl: unknown command 'clsoe'; did you mean 'close'?\n");
  r = run({"frobnicate"});
  EXPECT_EQ(r.status, 2);
  EXPECT_EQ(r.err.rfind("vigilctl: unknown command 'frobnicate'; the commands are: sessions, open, ", 0), 0u) << r.err;
  r = run({});
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("A subcommand is required"), std::string::npos) << r.err;
}

// --- stored sessions through the REST API ------------------------------------------------------

constexpr const char* viewer_token = "viewer-token-vic";

/// A timeline written beforehand (session 42 closed on chair-1, session 43 still open on chair-2)
/// and a daemon serving it; every read is compared with the same read of the database file.
class VigilctlReads : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("vigilctl-reads-" + std::to_string(getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "data");
    {
      using namespace report::testing;
      const auto record = make_record("P-0001", "Patient calm, BP rechecked.");
      store::sqlite_timeline store({(dir_ / "data" / "timeline.db").string(), false});
      store.append_state(record.events, {});
      store.append_batch("dev-1", "chair-1", session_id, 1, record.vitals, nullptr);
      auto open = make_event(event_type::session_opened, t0 + 1000);
      open.session = session_id + 1;
      open.chair = "chair-2";
      open.patient_ref = "P-0002";
      open.profile = "generic";
      store.append_state({open}, {});
      store.flush();
    }
    auto config = test_config();
    config.users = {{"nurse-ana", operator_token, control::role::admin},
                    {"dr-vic", viewer_token, control::role::viewer}};
    config.data_dir = (dir_ / "data").string();
    config.retention_days = 36'500;  // the sessions are of 2024: keep them
    daemon_ = std::make_unique<daemon_under_test>(config);
    url_ = fmt::format("http://127.0.0.1:{}", daemon_->http_port());
  }
  void TearDown() override {
    daemon_.reset();
    fs::remove_all(dir_);
  }

  /// vigilctl through the API, as a viewer.
  run_result rest(std::vector<std::string> args, const std::string& token = viewer_token) const {
    args.insert(args.begin(), {"--url", url_});
    return run_program(VIGILCTL_PATH, args, dir_, token);
  }
  /// vigilctl on the database file, without a token.
  run_result local(std::vector<std::string> args) const {
    args.push_back("--data-dir");
    args.push_back((dir_ / "data").string());
    return run_program(VIGILCTL_PATH, args, dir_);
  }

  fs::path dir_;
  std::unique_ptr<daemon_under_test> daemon_;
  std::string url_;
};

TEST_F(VigilctlReads, ListAndShowThroughTheApiPrintWhatTheFilePrints) {
  for (const std::vector<std::string>& command : std::vector<std::vector<std::string>>{
           {"list"},
           {"list", "--open"},
           {"list", "--limit", "1"},
           {"list", "--limit", "0"},
           {"show", "42"},
           {"show", "43"}}) {
    const auto over_rest = rest(command);
    const auto from_file = local(command);
    ASSERT_EQ(from_file.status, 0) << from_file.err;
    EXPECT_EQ(over_rest.status, 0) << command[0] << ": " << over_rest.err;
    EXPECT_EQ(over_rest.out, from_file.out) << command[0];
    EXPECT_EQ(over_rest.err, "");
  }
  auto r = rest({"list", "--open"});
  EXPECT_NE(r.out.find("P-0002"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("P-0001"), std::string::npos) << r.out;
  r = rest({"show", "42"});
  EXPECT_NE(r.out.find("Alarms (3)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("Patient calm, BP rechecked."), std::string::npos) << r.out;

  r = rest({"show", "999"});
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(r.err, "vigilctl: not_found: no session 999 in the timeline\n");
  r = rest({"list"}, "");
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("no user token"), std::string::npos) << r.err;
  r = rest({"list"}, "wrong-token-000000");
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(r.err, "vigilctl: unauthorized: unknown token\n");
}

TEST_F(VigilctlReads, ExportsAndTheReportThroughTheApiAreTheFilesOwn) {
  for (const std::vector<std::string>& command : std::vector<std::vector<std::string>>{
           {"export", "42", "--format", "csv", "--what", "vitals"},
           {"export", "42", "--format", "csv", "--what", "events"},
           {"export", "42", "--format", "csv"}}) {
    const auto over_rest = rest(command);
    const auto from_file = local(command);
    ASSERT_EQ(from_file.status, 0) << from_file.err;
    EXPECT_EQ(over_rest.status, 0) << over_rest.err;
    EXPECT_EQ(over_rest.out, from_file.out);
  }
  // Without --what, CSV is the vitals.
  const auto vitals = rest({"export", "42", "--format", "csv"}).out;
  EXPECT_EQ(vitals, rest({"export", "42", "--format", "csv", "--what", "vitals"}).out);
  EXPECT_EQ(vitals.rfind("time_utc,time_ms,session_id,chair_id,kind,value,unit", 0), 0u);

  // JSON: the same timeline; only the moment it was generated differs.
  const auto file = dir_ / "42.json";
  auto r = rest({"export", "42", "--format", "json", "-o", file.string()});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, "");
  v1::SessionTimeline over_rest, from_file;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(slurp(file), &over_rest).ok());
  const auto json_local = local({"export", "42", "--format", "json"});
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(json_local.out, &from_file).ok());
  EXPECT_EQ(over_rest.session().patient_ref(), "P-0001");
  EXPECT_EQ(over_rest.alarms_size(), 3);
  over_rest.clear_generated_at();
  from_file.clear_generated_at();
  EXPECT_EQ(over_rest.SerializeAsString(), from_file.SerializeAsString());

  // The report, likewise.
  const auto html = dir_ / "42.html";
  const auto html_local = dir_ / "42-local.html";
  r = rest({"report", "42", "-o", html.string()});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.err, fmt::format("vigilctl: wrote {} ({} bytes)\n", html.string(), fs::file_size(html)));
  ASSERT_EQ(local({"report", "42", "-o", html_local.string()}).status, 0);
  const std::regex generated(R"((?!2024)\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC)");
  EXPECT_EQ(std::regex_replace(slurp(html), generated, "NOW"), std::regex_replace(slurp(html_local), generated, "NOW"));
  EXPECT_EQ(slurp(html).rfind("<!DOCTYPE html>", 0), 0u);

  r = rest({"report", "999", "-o", (dir_ / "x.html").string()});
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(r.err, "vigilctl: not_found: no session 999 in the timeline\n");
  EXPECT_FALSE(fs::exists(dir_ / "x.html"));
}

TEST_F(VigilctlReads, TheApiListsStoredSessionsNotClosed) {
  http_client viewer(daemon_->http_port());
  auto r = viewer.request("GET", "/api/v1/sessions?state=all&outcome=open", viewer_token);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200) << r->body;
  EXPECT_NE(r->body.find("\"patient_ref\":\"P-0002\""), std::string::npos) << r->body;
  EXPECT_EQ(r->body.find("P-0001"), std::string::npos) << r->body;
  r = viewer.request("GET", "/api/v1/sessions?state=all&outcome=closed", viewer_token);
  EXPECT_EQ(r->status, 400);
  r = viewer.request("GET", "/api/v1/sessions?outcome=open", viewer_token);
  EXPECT_EQ(r->status, 400) << "outcome needs state=all";
}

}  // namespace
}  // namespace vigil::test
