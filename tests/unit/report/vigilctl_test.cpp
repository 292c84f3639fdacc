// The built vigilctl on a timeline this test writes: list, show, export, report, and its
// errors and exit statuses.

#include "daemon/store/sqlite_timeline.hpp"
#include "tests/common/run_program.hpp"
#include "tests/unit/report/report_fixture.hpp"
#include "vigil/v1/timeline.pb.h"

#include <google/protobuf/util/json_util.h>
#include <gtest/gtest.h>
#include <sodium.h>
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

namespace vigil::report {
namespace {

using namespace testing;
namespace fs = std::filesystem;

using test::run_result;
using test::slurp;

class VigilctlTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("vigilctl-test-" + std::to_string(getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    const auto record = make_record("P-0001", "Patient calm, BP rechecked.");
    store::sqlite_timeline store({(dir_ / "timeline.db").string(), false});
    store.append_state(record.events, {});
    store.append_batch("dev-1", "chair-1", session_id, 1, record.vitals, nullptr);
    // A second, still open session on another chair.
    auto open = make_event(event_type::session_opened, t0 + 1000);
    open.session = session_id + 1;
    open.chair = "chair-2";
    open.patient_ref = "P-0002";
    open.profile = "generic";
    store.append_state({open}, {});
    store.flush();
  }
  void TearDown() override { fs::remove_all(dir_); }

  /// Runs vigilctl with `args`; standard output and error go through files, so any size is fine.
  run_result run(std::vector<std::string> args) const { return test::run_program(VIGILCTL_PATH, args, dir_); }

  std::string data_dir() const { return dir_.string(); }

  fs::path dir_;
};

TEST_F(VigilctlTest, ListShowsSessionsNewestFirst) {
  const auto r = run({"list", "--data-dir", data_dir()});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("SESSION"), std::string::npos);
  const auto first = r.out.find("P-0002");
  const auto second = r.out.find("P-0001");
  ASSERT_NE(first, std::string::npos) << r.out;
  ASSERT_NE(second, std::string::npos) << r.out;
  EXPECT_LT(first, second);
  EXPECT_NE(r.out.find("2024-05-02 08:30:00"), std::string::npos);
  EXPECT_NE(r.out.find("closed"), std::string::npos);

  const auto open = run({"list", "--db", (dir_ / "timeline.db").string(), "--open"});
  ASSERT_EQ(open.status, 0) << open.err;
  EXPECT_NE(open.out.find("P-0002"), std::string::npos);
  EXPECT_EQ(open.out.find("P-0001"), std::string::npos);
  EXPECT_EQ(run({"list", "--data-dir", data_dir(), "--limit", "1"}).out.find("P-0001"), std::string::npos);
}

TEST_F(VigilctlTest, ShowPrintsSummaryAlarmsAndEvents) {
  const auto r = run({"show", "42", "--data-dir", data_dir()});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("Session 42"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("Alarms (3)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("systolic_high"), std::string::npos);
  EXPECT_NE(r.out.find("nurse-ana"), std::string::npos);
  EXPECT_NE(r.out.find("Patient calm, BP rechecked."), std::string::npos);
  EXPECT_NE(r.out.find("UTC"), std::string::npos);
}

TEST_F(VigilctlTest, ExportsJsonToStdoutAndCsvToAFile) {
  const auto json = run({"export", "42", "--format", "json", "--data-dir", data_dir()});
  ASSERT_EQ(json.status, 0) << json.err;
  v1::SessionTimeline back;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(json.out, &back).ok());
  EXPECT_EQ(back.session().patient_ref(), "P-0001");
  EXPECT_EQ(back.alarms_size(), 3);

  const auto file = dir_ / "vitals.csv";
  const auto csv = run({"export", "42", "--format", "csv", "--what", "vitals", "-o", file.string(), "--data-dir", data_dir()});
  ASSERT_EQ(csv.status, 0) << csv.err;
  EXPECT_TRUE(csv.out.empty());
  const std::string text = slurp(file);
  EXPECT_EQ(text.rfind("time_utc,time_ms,session_id,chair_id,kind,value,unit,quality,usable\r\n", 0), 0u);

  const auto events = run({"export", "42", "--format", "csv", "--what", "events", "--data-dir", data_dir()});
  ASSERT_EQ(events.status, 0) << events.err;
  EXPECT_NE(events.out.find(",alarm_acknowledged,7,systolic_high,"), std::string::npos);
}

TEST_F(VigilctlTest, ReportWritesOneHtmlFile) {
  const auto file = dir_ / "report.html";
  const auto r = run({"report", "42", "-o", file.string(), "--data-dir", data_dir()});
  ASSERT_EQ(r.status, 0) << r.err;
  const std::string html = slurp(file);
  EXPECT_EQ(html.rfind("<!DOCTYPE html>", 0), 0u);
  EXPECT_NE(html.find("<svg class=\"vitals-chart\""), std::string::npos);
  EXPECT_NE(html.find("P-0001"), std::string::npos);
}

TEST_F(VigilctlTest, ErrorsHaveClearMessagesAndExitStatuses) {
  const auto missing = run({"show", "999", "--data-dir", data_dir()});
  EXPECT_EQ(missing.status, 1);
  EXPECT_NE(missing.err.find("no session 999"), std::string::npos) << missing.err;
  EXPECT_EQ(run({"report", "999", "-o", (dir_ / "x.html").string(), "--data-dir", data_dir()}).status, 1);
  EXPECT_FALSE(fs::exists(dir_ / "x.html"));

  // Without --data-dir or --db the daemon is asked, which needs a user's token.
  const auto no_db = run({"list"});
  EXPECT_EQ(no_db.status, 2);
  EXPECT_NE(no_db.err.find("no user token"), std::string::npos) << no_db.err;
  EXPECT_NE(no_db.err.find("--data-dir"), std::string::npos) << no_db.err;

  const auto absent = run({"list", "--data-dir", (dir_ / "nowhere").string()});
  EXPECT_EQ(absent.status, 2);
  EXPECT_NE(absent.err.find("nowhere"), std::string::npos) << absent.err;

  // CSV without --what is the vitals (exports.md section 1); --what with JSON is a mistake.
  const auto csv = run({"export", "42", "--format", "csv", "--data-dir", data_dir()});
  EXPECT_EQ(csv.status, 0) << csv.err;
  EXPECT_EQ(csv.out, run({"export", "42", "--format", "csv", "--what", "vitals", "--data-dir", data_dir()}).out);
  const auto json_what = run({"export", "42", "--format", "json", "--what", "events", "--data-dir", data_dir()});
  EXPECT_EQ(json_what.status, 2);
  EXPECT_NE(json_what.err.find("--what"), std::string::npos) << json_what.err;
  EXPECT_EQ(run({"export", "42", "--format", "xml", "--data-dir", data_dir()}).status, 2);
  EXPECT_EQ(run({"report", "42", "--data-dir", data_dir()}).status, 2) << "-o is required";
  EXPECT_EQ(run({"report", "42", "-o", (dir_ / "no-such-dir" / "r.html").string(), "--data-dir", data_dir()}).status, 2);

  const auto help = run({"export", "--help"});
  EXPECT_EQ(help.status, 0);
  EXPECT_NE(help.out.find("--what"), std::string::npos);
}

// An administrator hashes a user's password for users[].password_hash; the hash is what vigild
// checks a sign-in against.
TEST_F(VigilctlTest, HashSecretPrintsAnArgon2idHashOfTheSecretOnStandardInput) {
  const auto r = test::run_program(VIGILCTL_PATH, {"hash-secret"}, dir_, std::nullopt, "correct horse battery\n");
  ASSERT_EQ(r.status, 0) << r.err;
  ASSERT_FALSE(r.out.empty());
  EXPECT_EQ(r.out.back(), '\n');
  const std::string hash = r.out.substr(0, r.out.size() - 1);
  EXPECT_EQ(hash.rfind("$argon2id$v=19$", 0), 0u) << hash;
  ASSERT_GE(sodium_init(), 0);
  const std::string secret = "correct horse battery";  // without the newline that ended the line
  EXPECT_EQ(crypto_pwhash_str_verify(hash.c_str(), secret.data(), secret.size()), 0);
  const std::string other = "correct horse battery\n";
  EXPECT_NE(crypto_pwhash_str_verify(hash.c_str(), other.data(), other.size()), 0);
  EXPECT_EQ(r.out.find("correct horse"), std::string::npos);
  EXPECT_EQ(r.err.find("correct horse"), std::string::npos);
}

TEST_F(VigilctlTest, HashSecretRefusesAShortSecret) {
  const auto r = test::run_program(VIGILCTL_PATH, {"hash-secret"}, dir_, std::nullopt, "short-11chr\n");
  EXPECT_EQ(r.status, 2);
  EXPECT_TRUE(r.out.empty()) << r.out;
  EXPECT_NE(r.err.find("the secret must be at least 12 characters (it has 11); nothing was hashed"), std::string::npos)
      << r.err;
  EXPECT_EQ(r.err.find("short-11chr"), std::string::npos);
}

}  // namespace
}  // namespace vigil::report

#include "daemon/store/postgres_timeline.hpp"
#include "tests/unit/store/backends.hpp"

namespace vigil::report {
namespace {

TEST(VigilctlOnPostgres, ReadsATimelineInPostgreSQLByItsUrlAndNeverPrintsItsPassword) {
  store::backends::postgres database;
  const auto record = make_record("P-0001", "Patient calm, BP rechecked.");
  {
    store::postgres_timeline store({database.url()});
    store.append_state(record.events, {});
    store.append_batch("dev-1", "chair-1", session_id, 1, record.vitals, nullptr);
    store.flush();
  }
  const fs::path dir = fs::temp_directory_path() / ("vigilctl-pg-" + std::to_string(getpid()));
  fs::create_directories(dir);
  // The test server trusts local connections: the password is accepted and ignored.
  std::string url = database.url();
  url.insert(url.find('@'), ":s3cret-word");
  const auto list = test::run_program(VIGILCTL_PATH, {"list", "--db", url}, dir);
  ASSERT_EQ(list.status, 0) << list.err;
  EXPECT_NE(list.out.find("P-0001"), std::string::npos) << list.out;
  const auto exported = test::run_program(VIGILCTL_PATH, {"export", std::to_string(session_id), "--format", "json", "--db", url}, dir);
  ASSERT_EQ(exported.status, 0) << exported.err;
  EXPECT_NE(exported.out.find("Patient calm, BP rechecked."), std::string::npos);
  const auto missing = test::run_program(VIGILCTL_PATH, {"show", "999", "--db", url}, dir);
  EXPECT_EQ(missing.status, 1);
  EXPECT_NE(missing.err.find("no session 999 in PostgreSQL database 127.0.0.1:"), std::string::npos) << missing.err;
  EXPECT_EQ(missing.err.find("s3cret-word"), std::string::npos) << missing.err;
  fs::remove_all(dir);
}

}  // namespace
}  // namespace vigil::report
