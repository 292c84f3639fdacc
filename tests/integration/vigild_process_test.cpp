// Tests of the vigild executable itself: configuration checks, port 0 reporting,
// and a clean exit on SIGTERM.

#include "tests/common/child_process.hpp"
#include "tests/integration/clinic_scenario.hpp"

#include <gtest/gtest.h>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <map>
#include <optional>
#include <set>
#include <sstream>

namespace vigil::test {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

/// vigild started as a child process.
struct vigild_process : child_process {
  explicit vigild_process(std::vector<std::string> args, output_to to = output_to::pipe)
      : child_process(VIGILD_PATH, std::move(args), to) {}
};

fs::path temp_dir() {
  fs::path dir = fs::temp_directory_path() / ("vigild-test-" + std::to_string(getpid()));
  fs::create_directories(dir);
  return dir;
}

fs::path write_file(const fs::path& path, const std::string& text) {
  std::ofstream(path) << text;
  return path;
}

/// A configuration in `dir` with a timeline in dir/data (kept whatever its age), every
/// listener on port 0, the dev-* devices and one admin.
fs::path write_timeline_config(const fs::path& dir) {
  return write_file(dir / "vigild.yaml",
                    "data_dir: data\nretention_days: 0\n"
                    "ingest:\n  port: 0\n  devices:\n    - id: 'dev-*'\n      token: integration-token\n"
                    "control:\n  port: 0\nfeed:\n  port: 0\nhttp:\n  port: 0\n"
                    "users:\n    - name: nurse-ana\n      role: admin\n      token: " +
                        std::string(operator_token) + "\nlog:\n  level: warn\n");
}

TEST(VigildProcess, CheckConfigReportsEveryProblemWithItsKey) {
  const auto file = write_file(temp_dir() / "bad.yaml",
                               "ingest:\n  port: 70000\n  max_conections: 5\n  devices:\n    - id: a\n      token: short\n"
                               "log:\n  level: loud\n");
  vigild_process p({"--check-config", file.string()});
  EXPECT_EQ(p.wait_exit(), 2);
  const auto& out = p.output();
  EXPECT_NE(out.find("ingest.port"), std::string::npos) << out;
  EXPECT_NE(out.find("ingest.max_conections: unknown key"), std::string::npos) << out;
  EXPECT_NE(out.find("ingest.devices[0].token"), std::string::npos) << out;
  EXPECT_NE(out.find("log.level"), std::string::npos) << out;
}

// Written against the daemon that took the shipped example's change-me tokens: the admin token
// printed in the docs let anyone in, and --check-config said nothing.
TEST(VigildProcess, TheShippedConfigIsRefusedUntilItsPlaceholderTokensAreReplaced) {
  const std::string shipped = std::string(VIGIL_SOURCE_DIR) + "/config/vigild.yaml";
  vigild_process p({"--check-config", shipped});
  EXPECT_EQ(p.wait_exit(), 2) << p.output();
  const auto& out = p.output();
  for (const char* key : {"ingest.devices[0].token", "ingest.devices[1].token", "users[0].token"}) {
    EXPECT_NE(out.find(std::string(key) + ": is a placeholder"), std::string::npos) << key << "\n" << out;
  }
  // Its data_dir, /var/lib/vigil, is checked on this machine too: a user who may not create it
  // is told so. Nothing else is wrong with it.
  std::istringstream lines(out);
  int others = 0;
  for (std::string line; std::getline(lines, line);) others += line.find(": data_dir: ") == std::string::npos;
  EXPECT_EQ(others, 3) << "nothing else is wrong with it: " << out;

  // With secrets of its own, and a data_dir this test may write, the same file is valid.
  std::ifstream in(shipped);
  std::stringstream text;
  text << in.rdbuf();
  const auto data = temp_dir() / "shipped-data";
  fs::create_directories(data);
  const auto mended = write_file(
      temp_dir() / "shipped-mended.yaml",
      std::regex_replace(std::regex_replace(text.str(), std::regex("change-me-([a-z0-9]+)-0000"), "k7Qp2xW9mZr3vB-$1"),
                         std::regex("\ndata_dir: /var/lib/vigil\n"), "\ndata_dir: " + data.string() + "\n"));
  vigild_process ok({"--check-config", mended.string()});
  EXPECT_EQ(ok.wait_exit(), 0) << ok.output();
}

TEST(VigildProcess, PortZeroIsReportedAndSigtermExitsCleanly) {
  const auto dir = temp_dir();
  const auto ports = dir / "ports";
  fs::remove(ports);
  const auto file = write_file(dir / "ok.yaml",
                               "ingest:\n  port: 7400\n  devices:\n    - id: 'dev-*'\n      token: integration-token\n"
                               "http:\n  port: 0\n");
  vigild_process p({"--config", file.string(), "--ingest-port", "0", "--control-port", "0", "--feed-port", "0", "--ports-file", ports.string()});
  const auto m = p.wait_line(std::regex(R"(listening for devices on 127\.0\.0\.1:(\d+))"));
  ASSERT_FALSE(m.empty()) << p.output();
  const auto port = static_cast<std::uint16_t>(std::stoi(m[1].str()));
  ASSERT_FALSE(p.wait_line(std::regex("ready")).empty()) << p.output();

  std::ifstream in(ports);
  std::string line;
  std::getline(in, line);
  EXPECT_EQ(line, "ingest: " + std::to_string(port));

  test_client c(port);
  ASSERT_TRUE(c.hello("dev-1")->has_welcome());
  c.send(make_batch(1, 10));
  ASSERT_TRUE(c.wait_ack(1));

  p.signal(SIGTERM);
  const auto reply = c.receive();
  ASSERT_TRUE(reply && reply->has_error());
  EXPECT_EQ(reply->error().code(), v1::SHUTTING_DOWN);
  EXPECT_EQ(p.wait_exit(), 0) << p.output();
}

}  // namespace
}  // namespace vigil::test

#include "daemon/store/sqlite_timeline.hpp"

namespace vigil::test {
namespace {

TEST(VigildProcess, AckedBatchesSurviveARestartAndResendsAreDropped) {
  const auto dir = temp_dir() / "restart";
  fs::remove_all(dir);
  fs::create_directories(dir);
  // Samples from 2023: kept whatever their age (retention would remove them otherwise).
  const auto file = write_file(dir / "vigild.yaml",
                               "data_dir: data\nretention_days: 0\n"
                               "ingest:\n  port: 0\n  devices:\n    - id: 'dev-*'\n      token: integration-token\n"
                               "control:\n  port: 0\nfeed:\n  port: 0\nhttp:\n  port: 0\n");
  const std::regex listening(R"(listening for devices on 127\.0\.0\.1:(\d+))");
  {
    vigild_process p({"--config", file.string()});
    const auto m = p.wait_line(listening);
    ASSERT_FALSE(m.empty()) << p.output();
    test_client c(static_cast<std::uint16_t>(std::stoi(m[1].str())));
    ASSERT_TRUE(c.hello("dev-1")->has_welcome());
    for (std::uint64_t seq = 1; seq <= 20; ++seq) c.send(make_batch(seq, 8, 1'700'000'000'000 + static_cast<std::int64_t>(seq) * 10'000));
    ASSERT_TRUE(c.wait_ack(20)) << "acks come once the batches are committed";
    p.signal(SIGTERM);
    EXPECT_EQ(p.wait_exit(), 0) << p.output();
  }
  {
    vigild_process p({"--config", file.string()});
    const auto m = p.wait_line(listening);
    ASSERT_FALSE(m.empty()) << p.output();
    test_client c(static_cast<std::uint16_t>(std::stoi(m[1].str())));
    const auto welcome = c.hello("dev-1");
    ASSERT_TRUE(welcome && welcome->has_welcome());
    EXPECT_EQ(welcome->welcome().acked_seq(), 20u) << "the restarted daemon knows what it stored";
    // The device resends from before the ack point, then goes on.
    for (std::uint64_t seq = 15; seq <= 25; ++seq) c.send(make_batch(seq, 8, 1'700'000'000'000 + static_cast<std::int64_t>(seq) * 10'000));
    ASSERT_TRUE(c.wait_ack(25));
    p.signal(SIGTERM);
    EXPECT_EQ(p.wait_exit(), 0) << p.output();
  }
  store::sqlite_reader timeline((dir / "data" / "timeline.db").string());
  const auto stored = timeline.session_vitals(0);  // no session was open: session 0
  EXPECT_EQ(stored.size(), 25u * 8u) << "every acked sample once, no resend twice";
  std::set<std::int64_t> times;
  for (const auto& s : stored) times.insert(s.sample.time_ms);
  EXPECT_EQ(times.size(), stored.size());
  EXPECT_EQ(timeline.device_seqs().at("dev-1"), 25u);
}

}  // namespace
}  // namespace vigil::test

#include <fmt/format.h>

#include <random>
#include <sstream>

namespace vigil::test {
namespace {

}  // namespace
}  // namespace vigil::test

namespace vigil::test {
namespace {

/// A closed session's events, `closed_days_ago` days before now.
std::vector<engine::event> closed_session(std::uint64_t id, int closed_days_ago) {
  const std::int64_t at = wall_ms() - static_cast<std::int64_t>(closed_days_ago) * 24 * 3'600'000;
  engine::event open;
  open.type = engine::event_type::session_opened;
  open.session = id;
  open.chair = "chair-1";
  open.at = at - 3'600'000;
  open.patient_ref = "P-" + std::to_string(id);
  open.profile = "generic";
  engine::event close = open;
  close.type = engine::event_type::phase_changed;
  close.at = at;
  close.to = engine::phase::closed;
  return {open, close};
}

TEST(VigildProcess, SessionsClosedLongerAgoThanTheRetentionAreRemovedAtStart) {
  const auto dir = temp_dir() / "retention";
  fs::remove_all(dir);
  fs::create_directories(dir / "data");
  const auto db = (dir / "data" / "timeline.db").string();
  {
    store::sqlite_timeline timeline({db});
    timeline.append_state(closed_session(1, 400), {});
    timeline.append_state(closed_session(2, 10), {});
    timeline.flush();
  }
  const auto file = write_file(dir / "vigild.yaml",
                               "data_dir: data\nretention_days: 365\n"
                               "ingest:\n  port: 0\n  devices:\n    - id: 'dev-*'\n      token: integration-token\n"
                               "control:\n  port: 0\nfeed:\n  port: 0\nhttp:\n  port: 0\n");
  vigild_process p({"--config", file.string()});
  ASSERT_FALSE(p.wait_line(std::regex(R"(retention: removed 1 sessions closed more than 365 days ago)")).empty())
      << p.output();
  p.signal(SIGTERM);
  EXPECT_EQ(p.wait_exit(), 0) << p.output();
  store::sqlite_reader reader(db);
  EXPECT_FALSE(reader.session(1));
  EXPECT_TRUE(reader.session(2));
}

}  // namespace
}  // namespace vigil::test

#include <sqlite3.h>

#include <functional>

namespace vigil::test {
namespace {

void run_sql(const fs::path& db_path, const char* sql) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(db_path.c_str(), &db), SQLITE_OK);
  sqlite3_busy_timeout(db, 5000);
  ASSERT_EQ(sqlite3_exec(db, sql, nullptr, nullptr, nullptr), SQLITE_OK) << sqlite3_errmsg(db);
  sqlite3_close(db);
}

/// Every id a subscriber and an operator were given in one run.
struct ids_seen {
  std::set<std::uint64_t> sessions, alarms, events;
};

/// Reads feed events until one matches `done` or nothing comes for a while, noting every id.
void read_events(feed_client& feed, ids_seen& seen, const std::function<bool(const v1::TimelineEvent&)>& done) {
  while (auto m = feed.next_event()) {
    if (!m->has_event()) continue;
    const auto& e = m->event().event();
    seen.events.insert(e.event_id());
    if (e.session_id() != 0) seen.sessions.insert(e.session_id());
    if (e.alarm_id() != 0) seen.alarms.insert(e.alarm_id());
    if (done(e)) return;
  }
  ADD_FAILURE() << "the awaited event never came";
}

// Written against the daemon that took its next ids from what the timeline had committed: ids
// already sent to subscribers and answered to operators, but not committed when it was killed,
// named other things after the restart (a new patient's session got the lost session's id).
/// The port vigild says it listens on for `what` ("devices", "operators", "feeds"); 0 if it never does.
std::uint16_t port_of(vigild_process& p, const char* what) {
  const auto m = p.wait_line(std::regex(std::string("listening for ") + what + R"( on 127\.0\.0\.1:(\d+))"));
  return m.empty() ? std::uint16_t{0} : static_cast<std::uint16_t>(std::stoi(m[1].str()));
}

// "No command is answered before it is durable" (control.md 7.2): a nurse's acknowledgement
// answered as done is killed with the daemon at once, and is there after the restart.
TEST(VigildProcess, AnAcknowledgementAnsweredJustBeforeAKillIsThereAfterTheRestart) {
  const auto dir = temp_dir() / "answered-ack";
  fs::remove_all(dir);
  fs::create_directories(dir);
  const auto file = write_timeline_config(dir);
  const std::vector<std::string> args = {"--config", file.string(), "--log-level", "info"};
  const auto high_alarm = [](control_client& ops) -> std::optional<v1::AlarmState> {
    v1::ControlRequest list;
    list.mutable_list_sessions();
    const auto r = ops.call(list);
    if (!r) return std::nullopt;
    for (const auto& s : r->sessions()) {
      for (const auto& a : s.alarms()) {
        if (a.rule() == "systolic_severe") return a;
      }
    }
    return std::nullopt;
  };

  std::uint64_t alarm_id = 0;
  {
    vigild_process p(args);
    const auto device_port = port_of(p, "devices");
    const auto ops_port = port_of(p, "operators");
    ASSERT_NE(ops_port, 0) << p.output();
    control_client ops(ops_port);
    v1::ControlRequest open;
    open.mutable_open_session()->set_chair_id("chair-1");
    open.mutable_open_session()->set_patient_ref("P-1");
    ASSERT_EQ(ops.call(open)->error(), v1::CONTROL_ERROR_NONE);
    test_client monitor(device_port);
    ASSERT_TRUE(monitor.hello("dev-1", device_token, "chair-1")->has_welcome());
    const auto at = wall_ms();
    monitor.send(batch_of(1, {{v1::HEART_RATE, 80, at}, {v1::SPO2, 97, at}, {v1::NIBP_SYSTOLIC, 215, at},
                              {v1::NIBP_DIASTOLIC, 125, at}, {v1::NIBP_MEAN, 155, at}}));
    ASSERT_TRUE(monitor.wait_ack(1));
    std::optional<v1::AlarmState> alarm;
    const auto deadline = std::chrono::steady_clock::now() + default_wait;
    while (!(alarm = high_alarm(ops)) && std::chrono::steady_clock::now() < deadline) {
    }
    ASSERT_TRUE(alarm) << "systolic_severe raised on the cuff reading: " << p.output();
    alarm_id = alarm->alarm_id();

    v1::ControlRequest ack;
    ack.mutable_acknowledge()->set_chair_id("chair-1");
    ack.mutable_acknowledge()->set_alarm_id(alarm_id);
    const auto answered = ops.call(ack);
    ASSERT_TRUE(answered);
    ASSERT_EQ(answered->error(), v1::CONTROL_ERROR_NONE) << answered->message();
    p.signal(SIGKILL);  // at once: the answer is all the nurse has seen
    p.wait_exit();
  }
  {
    vigild_process p(args);
    const auto ops_port = port_of(p, "operators");
    ASSERT_NE(ops_port, 0) << p.output();
    control_client ops(ops_port);
    const auto alarm = high_alarm(ops);
    ASSERT_TRUE(alarm) << "the alarm was restored: " << p.output();
    EXPECT_EQ(alarm->alarm_id(), alarm_id);
    EXPECT_TRUE(alarm->acknowledged()) << "the acknowledgement answered before the kill is kept";
    EXPECT_EQ(alarm->acknowledged_by(), "nurse-ana");
    p.signal(SIGTERM);
    EXPECT_EQ(p.wait_exit(), 0) << p.output();
  }
}

TEST(VigildProcess, IdsHandedOutBeforeACrashAreNeverGivenAgain) {
  const auto dir = temp_dir() / "ids";
  fs::remove_all(dir);
  fs::create_directories(dir);
  const auto db = dir / "data" / "timeline.db";
  const auto file = write_timeline_config(dir);
  const std::vector<std::string> args = {"--config", file.string(), "--log-level", "info"};
  const auto open = [](control_client& ops, const std::string& chair,
                        v1::ControlError expected = v1::CONTROL_ERROR_NONE) {
    v1::ControlRequest request;
    request.mutable_open_session()->set_chair_id(chair);
    request.mutable_open_session()->set_patient_ref("P-" + chair);
    const auto r = ops.call(request);
    return r && r->error() == expected ? r->session_id() : 0;
  };
  const std::int64_t t0 = wall_ms();

  ids_seen before;
  {
    vigild_process p(args);
    const auto device_port = port_of(p, "devices");
    const auto ops_port = port_of(p, "operators");
    const auto feed_port = port_of(p, "feeds");
    ASSERT_NE(feed_port, 0) << p.output();
    control_client ops(ops_port);
    ASSERT_NE(open(ops, "chair-1"), 0u);
    feed_client feed(feed_port);
    v1::FeedRequest request;
    feed.subscribe(request);
    ASSERT_TRUE(feed.next()->has_snapshot());

    // From here on nothing can be committed: every id below is handed out, never saved.
    run_sql(db, "ALTER TABLE events RENAME TO events_away");
    // Answered once its transaction failed: in effect, with its id, but not saved (control.md 7.2).
    const auto lost = open(ops, "chair-2", v1::CONTROL_ERROR_NOT_SAVED);
    ASSERT_NE(lost, 0u);
    before.sessions.insert(lost);
    test_client monitor(device_port);
    ASSERT_TRUE(monitor.hello("dev-9", device_token, "chair-9")->has_welcome());
    monitor.send(make_batch(1, 1, t0));  // a chair with no session: its advisory gets an alarm id at once
    read_events(feed, before, [](const v1::TimelineEvent& e) { return e.rule() == "no_session"; });
    ASSERT_FALSE(before.alarms.empty());
    p.signal(SIGKILL);
    p.wait_exit();
  }
  run_sql(db, "ALTER TABLE events_away RENAME TO events");

  ids_seen after;
  {
    vigild_process p(args);
    const auto device_port = port_of(p, "devices");
    const auto ops_port = port_of(p, "operators");
    const auto feed_port = port_of(p, "feeds");
    ASSERT_NE(feed_port, 0) << p.output();
    feed_client feed(feed_port);
    v1::FeedRequest request;
    feed.subscribe(request);
    ASSERT_TRUE(feed.next()->has_snapshot());
    control_client ops(ops_port);
    const auto next = open(ops, "chair-3");
    ASSERT_NE(next, 0u);
    after.sessions.insert(next);
    test_client monitor(device_port);
    ASSERT_TRUE(monitor.hello("dev-8", device_token, "chair-8")->has_welcome());
    monitor.send(make_batch(1, 1, t0 + 1000));
    read_events(feed, after, [](const v1::TimelineEvent& e) { return e.rule() == "no_session"; });
    p.signal(SIGTERM);
    EXPECT_EQ(p.wait_exit(), 0) << p.output();
  }
  for (const auto id : after.sessions) EXPECT_FALSE(before.sessions.count(id)) << "session id " << id << " given twice";
  for (const auto id : after.alarms) EXPECT_FALSE(before.alarms.count(id)) << "alarm id " << id << " given twice";
  for (const auto id : after.events) EXPECT_FALSE(before.events.count(id)) << "event id " << id << " given twice";
  EXPECT_GT(*after.events.begin(), *before.events.rbegin()) << "event ids only grow, so resuming subscribers miss nothing";
}

}  // namespace
}  // namespace vigil::test

namespace vigil::test {
namespace {

// Written against the daemon that opened a timeline with damaged pages behind an intact header,
// said it was ready and healthy, dropped the open session with one log line, and then flapped
// between saved and not saved while the monitor was never acked.
TEST(VigildProcess, ADamagedTimelineIsRefusedAtStartWithWhatToDo) {
  const auto dir = temp_dir() / "damaged";
  fs::remove_all(dir);
  fs::create_directories(dir);
  const auto file = write_timeline_config(dir);
  const std::vector<std::string> args = {"--config", file.string(), "--log-level", "info"};
  const std::regex listening(R"(listening for devices on 127\.0\.0\.1:(\d+))");
  const auto db = dir / "data" / "timeline.db";
  {
    vigild_process p(args);
    const auto m = p.wait_line(listening);
    ASSERT_FALSE(m.empty()) << p.output();
    test_client c(static_cast<std::uint16_t>(std::stoi(m[1].str())));
    ASSERT_TRUE(c.hello("dev-1")->has_welcome());
    // Enough batches, each its own transaction, for the file to span many pages.
    for (std::uint64_t seq = 1; seq <= 300; ++seq) {
      c.send(make_batch(seq, 20, 1'700'000'000'000 + static_cast<std::int64_t>(seq) * 60'000));
      ASSERT_TRUE(c.wait_ack(seq));
    }
    p.signal(SIGTERM);
    ASSERT_EQ(p.wait_exit(), 0) << p.output();
  }
  ASSERT_GE(fs::file_size(db), 16u * 4096u);
  {
    // Pages 3 to 6 overwritten; page 1, with the header and the schema, stays intact.
    std::fstream out(db, std::ios::in | std::ios::out | std::ios::binary);
    out.seekp(2 * 4096);
    const std::string garbage(4 * 4096, '\xa5');
    out.write(garbage.data(), static_cast<std::streamsize>(garbage.size()));
  }
  vigild_process p(args);
  EXPECT_EQ(p.wait_exit(), 1) << "vigild must not serve on a damaged timeline: " << p.output();
  const auto& out = p.output();
  EXPECT_NE(out.find("timeline database '" + db.string() + "' is damaged"), std::string::npos) << out;
  EXPECT_NE(out.find("vigilctl salvage"), std::string::npos) << "the message says how to salvage it: " << out;
  EXPECT_EQ(out.find("ready"), std::string::npos) << out;
}

}  // namespace
}  // namespace vigil::test

namespace vigil::test {
namespace {

// Written against the daemon that, stopping while the disk failed, dropped the events it still
// held without a word: the minute statistics that would have said so had already stopped.
TEST(VigildProcess, EventsLostAtAStopWhileTheDiskFailsAreLogged) {
  const auto dir = temp_dir() / "lost-at-stop";
  fs::remove_all(dir);
  fs::create_directories(dir);
  const auto file = write_timeline_config(dir);
  vigild_process p({"--config", file.string(), "--log-level", "info"});
  const auto m = p.wait_line(std::regex(R"(listening for operators on 127\.0\.0\.1:(\d+))"));
  ASSERT_FALSE(m.empty()) << p.output();
  control_client ops(static_cast<std::uint16_t>(std::stoi(m[1].str())));
  run_sql(dir / "data" / "timeline.db", "ALTER TABLE events RENAME TO events_away");
  v1::ControlRequest open;
  open.mutable_open_session()->set_chair_id("chair-1");
  open.mutable_open_session()->set_patient_ref("P-1");
  const auto r = ops.call(open);
  // In effect, but its transaction failed: answered so (control.md 7.2).
  ASSERT_TRUE(r && r->error() == v1::CONTROL_ERROR_NOT_SAVED) << (r ? r->message() : "no answer");
  ASSERT_FALSE(p.wait_line(std::regex("the timeline is not being saved")).empty()) << p.output();
  p.signal(SIGTERM);
  EXPECT_EQ(p.wait_exit(), 0) << p.output();
  EXPECT_NE(p.output().find("timeline events could not be saved before the stop (the disk was failing) and are lost"),
            std::string::npos)
      << p.output();
}

}  // namespace
}  // namespace vigil::test

namespace vigil::test {
namespace {

// What an IT department installing Vigil needs from --check-config (docs/configuration.md): every
// setting that stops or weakens the installation, each on one line with its key and the reason,
// errors apart from warnings by the exit status. Written against the vigild whose check passed
// an unusable data_dir, no users and listeners open to the network without a word, printed
// "engine.profiles_dir: : cannot read", a YAML error's path twice and no reason for a missing file.

/// The outcome of `vigild --check-config` on one file.
struct check_result {
  int status = -1;
  std::string output;
};

check_result check_config(const fs::path& file) {
  vigild_process p({"--check-config", file.string()});
  check_result r;
  r.status = p.wait_exit();
  r.output = p.output();
  return r;
}

/// A fresh directory for one check.
fs::path check_dir(const std::string& name) {
  const auto dir = temp_dir() / ("check-" + name);
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

/// A configuration with nothing to say about it but what `change` puts in: a data_dir that
/// exists, a device and a user with secrets of their own, every listener on 127.0.0.1.
struct install {
  std::string data_dir;
  std::string ingest_address = "127.0.0.1";
  std::string http_address = "127.0.0.1";
  std::string devices = "  devices:\n    - {id: 'dev-*', token: k7Qp2xW9mZr3vB-dev1}\n";
  std::string users = "users:\n  - {name: nurse-ana, role: admin, token: k7Qp2xW9mZr3vB-ana1}\n";
  std::string engine;

  std::string text() const {
    return "data_dir: '" + data_dir + "'\n" + "ingest:\n  address: '" + ingest_address + "'\n  port: 0\n" + devices +
           "http:\n  address: '" + http_address + "'\n  port: 0\n" + users + engine;
  }
};

check_result check_install(const std::string& name, const std::function<void(install&, const fs::path&)>& change) {
  const auto dir = check_dir(name);
  fs::create_directories(dir / "data");
  install config;
  config.data_dir = (dir / "data").string();
  change(config, dir);
  return check_config(write_file(dir / "vigild.yaml", config.text()));
}

/// A directory that exists and that this user cannot write into, whoever runs the test.
std::optional<fs::path> unwritable_dir() {
  if (geteuid() != 0) {
    const auto dir = check_dir("unwritable");
    fs::permissions(dir, fs::perms::owner_read | fs::perms::owner_exec);
    return dir;
  }
  // root writes wherever permissions say no; sysfs refuses new files even to root.
  if (fs::is_directory("/sys") && access("/sys", W_OK) != 0) return fs::path("/sys");
  const int fd = open("/sys/vigil-probe", O_CREAT | O_EXCL | O_WRONLY, 0600);
  if (fd >= 0) {
    close(fd);
    unlink("/sys/vigil-probe");
    return std::nullopt;
  }
  return fs::path("/sys");
}

TEST(CheckConfig, ACleanInstallationExitsZero) {
  const auto r = check_install("clean", [](install&, const fs::path&) {});
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("configuration is valid (1 devices)"), std::string::npos) << r.output;
  EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n'), 1) << r.output;
}

TEST(CheckConfig, ADataDirThatIsAFileIsAnError) {
  fs::path data;
  const auto r = check_install("data-file", [&](install& c, const fs::path& dir) {
    data = write_file(dir / "plain-file", "x");
    c.data_dir = data.string();
  });
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_NE(r.output.find(": data_dir: '" + data.string() + "' is not a directory\n"), std::string::npos) << r.output;
  EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n'), 1) << r.output;
}

TEST(CheckConfig, ADataDirThatCannotBeWrittenIsAnError) {
  const auto dir = unwritable_dir();
  if (!dir) GTEST_SKIP() << "no directory here that this user cannot write";
  const auto r = check_install("data-unwritable", [&](install& c, const fs::path&) { c.data_dir = dir->string(); });
  EXPECT_EQ(r.status, 2) << r.output;
  const auto expected = ": data_dir: '" + dir->string() + "' is not writable: ";
  EXPECT_NE(r.output.find(expected), std::string::npos) << r.output;
  const auto reason = r.output.substr(r.output.find(expected) + expected.size());
  EXPECT_TRUE(reason.starts_with("Permission denied\n") || reason.starts_with("Read-only file system\n")) << r.output;
  EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n'), 1) << r.output;
}

TEST(CheckConfig, AMissingDataDirThatCannotBeCreatedIsAnError) {
  fs::path blocked;
  const auto r = check_install("data-uncreatable", [&](install& c, const fs::path& dir) {
    blocked = write_file(dir / "a-file", "x");
    c.data_dir = (blocked / "data").string();
  });
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_NE(r.output.find(": data_dir: '" + (blocked / "data").string() +
                          "' does not exist and cannot be created: Not a directory\n"),
            std::string::npos)
      << r.output;
  EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n'), 1) << r.output;
}

TEST(CheckConfig, AMissingDataDirThatCanBeCreatedIsFineAndIsNotLeftBehind) {
  fs::path data;
  const auto r = check_install("data-creatable", [&](install& c, const fs::path& dir) {
    data = dir / "new" / "data";
    c.data_dir = data.string();
  });
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_FALSE(fs::exists(data.parent_path())) << "a check changes nothing";
}

TEST(CheckConfig, ATimelineThatCannotBeOpenedIsAnError) {
  fs::path data;
  const auto r = check_install("timeline-dir", [&](install&, const fs::path& dir) {
    data = dir / "data";
    fs::create_directories(data / "timeline.db");  // a directory where the database should be
  });
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_NE(r.output.find(": data_dir: '" + (data / "timeline.db").string() +
                          "' cannot be opened for writing: Is a directory\n"),
            std::string::npos)
      << r.output;
}

TEST(CheckConfig, NoDataDirIsAWarning) {
  const auto dir = check_dir("no-data");
  install config;
  auto text = config.text();
  text.erase(0, text.find('\n') + 1);  // no data_dir line at all
  const auto r = check_config(write_file(dir / "vigild.yaml", text));
  EXPECT_EQ(r.status, 3) << r.output;
  EXPECT_NE(r.output.find(": data_dir: warning: is empty: nothing is stored, acks only mean \"received\", and a "
                          "restart forgets open sessions and their alarms\n"),
            std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find("configuration is valid, with 1 warning (1 devices)\n"), std::string::npos) << r.output;
}

TEST(CheckConfig, NoUsersAndNoDevicesAreWarnings) {
  const auto r = check_install("nobody", [](install& c, const fs::path&) {
    c.users.clear();
    c.devices.clear();
  });
  EXPECT_EQ(r.status, 3) << r.output;
  EXPECT_NE(r.output.find(": ingest.devices: warning: none listed: every monitor is refused\n"), std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find(": users: warning: none listed: every request on the control, feed and HTTP listeners (the "
                          "nurse station, vigilctl) is refused\n"),
            std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find("configuration is valid, with 2 warnings (0 devices)\n"), std::string::npos) << r.output;
  EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n'), 3) << r.output;
}

TEST(CheckConfig, PlainListenersOnTheNetworkAreWarnings) {
  const auto r = check_install("open", [](install& c, const fs::path&) {
    c.ingest_address = "0.0.0.0";
    c.http_address = "::";
  });
  EXPECT_EQ(r.status, 3) << r.output;
  EXPECT_NE(r.output.find(": ingest.address: warning: '0.0.0.0' is reachable from other machines and the listener "
                          "has no TLS: device tokens and vital signs cross the network unencrypted\n"),
            std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find(": http.address: warning: '::' is reachable from other machines and the listener has no "
                          "TLS: user tokens, patients' sessions, vital signs and alarms cross the network unencrypted\n"),
            std::string::npos)
      << r.output;
  EXPECT_EQ(r.output.find("control.address"), std::string::npos) << "control stays on 127.0.0.1: " << r.output;
  EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n'), 3) << r.output;
}

TEST(CheckConfig, PlaceholderShortAndPublishedSecretsAreNamed) {
  const auto r = check_install("secrets", [](install& c, const fs::path&) {
    c.devices = "  devices:\n    - {id: 'dev-*', token: change-me-bay1-0000}\n    - {id: dev-b, token: short}\n";
    c.users = "users:\n  - {name: nurse-ana, role: admin, token: demo-operator-token}\n";
  });
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_NE(r.output.find(": ingest.devices[0].token: is a placeholder (it contains 'change-me'): set a secret of your "
                          "own, e.g. from 'openssl rand -base64 24'\n"),
            std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find(": ingest.devices[1].token: must be at least 16 characters\n"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find(": users[0].token: warning: is the demo's token, published in README.md and "
                          "config/demo.yaml: set a secret of your own, e.g. from 'openssl rand -base64 24'\n"),
            std::string::npos)
      << r.output;
  EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n'), 3) << r.output;
}

TEST(CheckConfig, AnUnknownRoleIsNamedAsSuch) {
  const auto r = check_install("role", [](install& c, const fs::path&) {
    c.users = "users:\n  - {name: nurse-ana, role: root, token: k7Qp2xW9mZr3vB-ana1}\n"
              "  - {name: nurse-bo, token: k7Qp2xW9mZr3vB-bo22}\n";
  });
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_NE(r.output.find(": users[0].role: 'root' is not a role: viewer, nurse or admin\n"), std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find(": users[1].role: is required: viewer, nurse or admin\n"), std::string::npos) << r.output;
  EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n'), 2) << r.output;
}

TEST(CheckConfig, MissingAndUnreadableProfilesSayWhy) {
  fs::path profiles;
  auto r = check_install("profiles-missing", [&](install& c, const fs::path& dir) {
    profiles = dir / "profiles";
    c.engine = "engine:\n  profiles_dir: profiles\n";
  });
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_NE(r.output.find(": engine.profiles_dir: cannot read the profile directory '" + profiles.string() +
                          "': No such file or directory\n"),
            std::string::npos)
      << r.output;
  EXPECT_EQ(r.output.find(": :"), std::string::npos) << r.output;
  EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n'), 1) << r.output;

  r = check_install("profiles-file", [&](install& c, const fs::path& dir) {
    profiles = write_file(dir / "profiles", "x");
    c.engine = "engine:\n  profiles_dir: profiles\n";
  });
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_NE(r.output.find(": engine.profiles_dir: cannot read the profile directory '" + profiles.string() +
                          "': Not a directory\n"),
            std::string::npos)
      << r.output;

  r = check_install("profiles-broken", [&](install& c, const fs::path& dir) {
    fs::create_directories(dir / "profiles");
    write_file(dir / "profiles" / "site.yaml", "limits: [\n");
    c.engine = "engine:\n  profiles_dir: profiles\n";
  });
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_NE(r.output.find(": engine.profiles_dir: site.yaml: YAML syntax error at line "), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("/profiles/site.yaml"), std::string::npos) << "the file is named once: " << r.output;
}

TEST(CheckConfig, AMissingFileOrBrokenYamlIsNamedOnceWithTheReason) {
  const auto dir = check_dir("file");
  const auto missing = dir / "absent.yaml";
  auto r = check_config(missing);
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_EQ(r.output, missing.string() + ": cannot read: No such file or directory\n");

  const auto broken = write_file(dir / "broken.yaml", "log:\n  level: info\ningest: [port: 1\n");
  r = check_config(broken);
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_TRUE(r.output.starts_with(broken.string() + ": YAML syntax error at line ")) << r.output;
  EXPECT_EQ(r.output.find(broken.string(), 1), std::string::npos) << "the path is printed once: " << r.output;
}

}  // namespace
}  // namespace vigil::test

namespace vigil::test {
namespace {

// journald stamps every line it takes with its own time; a second stamp of vigild's own only
// widened each line. Written against the vigild that wrote its timestamp under systemd too.
TEST(VigildProcess, UnderSystemdTextLinesCarryNoTimestampOfTheirOwn) {
  const auto dir = check_dir("journal");
  const auto file = write_file(dir / "vigild.yaml",
                               "ingest:\n  port: 0\ncontrol:\n  port: 0\nfeed:\n  port: 0\nhttp:\n  port: 0\n");
  const std::regex ready(R"(\[app\] vigild \S+ ready)");
  const std::regex stamped(R"(^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z info  \[app\] vigild \S+ ready)");
  {
    vigild_process p({"--config", file.string()}, vigild_process::output_to::journal);
    const auto m = p.wait_line(ready);
    ASSERT_FALSE(m.empty()) << p.output();
    EXPECT_EQ(m.prefix().str(), "info  ") << "no timestamp, the level first: " << p.output();
    p.signal(SIGTERM);
    EXPECT_EQ(p.wait_exit(), 0) << p.output();
    EXPECT_EQ(p.output().find("Z info "), std::string::npos) << p.output();
  }
  {
    // Anywhere else (a terminal, a file, a pipe to another program) each line keeps its time.
    vigild_process p({"--config", file.string()});
    ASSERT_FALSE(p.wait_line(stamped).empty()) << p.output();
    p.signal(SIGTERM);
    EXPECT_EQ(p.wait_exit(), 0) << p.output();
  }
}

}  // namespace
}  // namespace vigil::test
