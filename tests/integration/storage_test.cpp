// vigild with its timeline on disk, through real sockets on 127.0.0.1: when the disk fails,
// alarms keep working from memory, every open session carries a technical alarm, samples are
// not acked (so monitors keep them), and everything resumes when the disk does. The failure is
// injected by taking the vitals table away behind the daemon's back, so its inserts fail.

#include "tests/integration/clinic_scenario.hpp"

#include "daemon/engine/profile.hpp"
#include "daemon/store/sqlite_reader.hpp"
#include "vigil/v1/control.pb.h"

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <unistd.h>

#include <filesystem>
#include <functional>
#include <set>

namespace vigil::test {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

void run_sql(const fs::path& db_path, const char* sql) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(db_path.c_str(), &db), SQLITE_OK);
  sqlite3_busy_timeout(db, 5000);
  ASSERT_EQ(sqlite3_exec(db, sql, nullptr, nullptr, nullptr), SQLITE_OK) << sqlite3_errmsg(db);
  sqlite3_close(db);
}

/// The session's alarm rules as the control port lists them.
std::set<std::string> active_rules(control_client& ops) {
  v1::ControlRequest list;
  list.mutable_list_sessions();
  const auto response = ops.call(list);
  std::set<std::string> rules;
  if (!response) return rules;
  for (const auto& s : response->sessions()) {
    for (const auto& a : s.alarms()) rules.insert(a.rule());
  }
  return rules;
}

/// Asks again until `pred` holds for the listed rules or `timeout` passes: the storage news
/// reaches the clinic from the writer thread, so it may land a moment after the failure.
bool eventually(control_client& ops, const std::function<bool(const std::set<std::string>&)>& pred,
                std::chrono::milliseconds timeout = default_wait) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (pred(active_rules(ops))) return true;
  }
  return false;
}

/// Reads frames until the daemon closes the connection; the fatal error it sent, if any.
std::optional<v1::Error> closing_error(test_client& c) {
  std::optional<v1::Error> error;
  while (auto m = c.receive()) {
    if (m->has_error() && m->error().fatal()) error = m->error();
  }
  return error;
}

TEST(Storage, WhenTheDiskFailsAlarmsGoOnNothingIsAckedAndAllResumesWithTheDisk) {
  const fs::path dir = fs::temp_directory_path() / ("vigil-storage-" + std::to_string(getpid()));
  fs::remove_all(dir);
  auto config = test_config();
  config.data_dir = dir.string();
  auto fast = engine::generic_profile();
  fast.id = "fast";
  for (auto& rule : fast.limits) {
    rule.delay_ms = 0;
    rule.min_readings = 1;  // a single reading raises
  }
  config.profiles = {fast};
  config.default_profile = "fast";
  const fs::path db_path = dir / "timeline.db";

  std::uint64_t session = 0;
  {
    daemon_under_test d(config);
    control_client ops(d.control_port());
    v1::ControlRequest open;
    open.mutable_open_session()->set_chair_id("chair-1");
    open.mutable_open_session()->set_patient_ref("P-disk");
    const auto opened = ops.call(open);
    ASSERT_TRUE(opened && opened->error() == v1::CONTROL_ERROR_NONE);
    session = opened->session_id();

    const std::int64_t t0 = wall_ms();
    test_client monitor(d.port());
    ASSERT_TRUE(monitor.hello("dev-1", device_token, "chair-1")->has_welcome());
    monitor.send(vitals(1, t0, 72, 97));
    ASSERT_TRUE(monitor.wait_ack(1));

    run_sql(db_path, "ALTER TABLE vitals RENAME TO vitals_away");
    // A desaturation the disk cannot take: not acked, the link closes with the reason...
    monitor.send(vitals(2, t0 + 1000, 74, 80));
    const auto error = closing_error(monitor);
    ASSERT_TRUE(error);
    EXPECT_EQ(error->code(), v1::STORAGE_UNAVAILABLE);
    EXPECT_NE(error->message().find("could not be saved"), std::string::npos) << error->message();
    EXPECT_EQ(std::count(monitor.acks().begin(), monitor.acks().end(), 2u), 0);
    // ...but the alarm is raised from memory, beside the technical alarm about the timeline.
    EXPECT_TRUE(eventually(ops, [](const auto& rules) {
      return rules.count("timeline_not_saved") == 1 && rules.count("spo2_critical") == 1;
    })) << "active: " << ::testing::PrintToString(active_rules(ops));

    // Still failing: the monitor reconnects, resends and is refused again; nothing is lost.
    {
      test_client again(d.port());
      const auto welcome = again.hello("dev-1", device_token, "chair-1");
      ASSERT_TRUE(welcome && welcome->has_welcome());
      EXPECT_EQ(welcome->welcome().acked_seq(), 1u);
      again.send(vitals(2, t0 + 1000, 74, 80));
      const auto refused = closing_error(again);
      ASSERT_TRUE(refused);
      EXPECT_EQ(refused->code(), v1::STORAGE_UNAVAILABLE);
    }

    // The disk is back: the resend is stored and acked, and the technical alarm clears.
    run_sql(db_path, "ALTER TABLE vitals_away RENAME TO vitals");
    test_client back(d.port());
    const auto welcome = back.hello("dev-1", device_token, "chair-1");
    ASSERT_TRUE(welcome && welcome->has_welcome());
    EXPECT_EQ(welcome->welcome().acked_seq(), 1u);
    back.send(vitals(2, t0 + 1000, 74, 80));
    back.send(vitals(3, t0 + 2000, 75, 96));
    ASSERT_TRUE(back.wait_ack(3));
    EXPECT_TRUE(eventually(ops, [](const auto& rules) { return rules.count("timeline_not_saved") == 0; }));
    EXPECT_EQ(active_rules(ops).count("spo2_critical"), 1u) << "latched: it waits for a nurse";
  }

  // The record is whole: every sample once, and the events of the failed period kept.
  store::sqlite_reader reader(db_path.string());
  const auto samples = reader.session_vitals(session);
  EXPECT_EQ(samples.size(), 6u);
  std::set<std::pair<int, std::int64_t>> distinct;
  for (const auto& s : samples) distinct.emplace(static_cast<int>(s.sample.kind), s.sample.time_ms);
  EXPECT_EQ(distinct.size(), samples.size()) << "no sample stored twice";
  int raised_storage = 0, cleared_storage = 0, raised_spo2 = 0;
  for (const auto& e : reader.session_events(session)) {
    if (e.rule == "timeline_not_saved" && e.type == engine::event_type::alarm_raised) ++raised_storage;
    if (e.rule == "timeline_not_saved" && e.type == engine::event_type::alarm_cleared) ++cleared_storage;
    if (e.rule == "spo2_critical" && e.type == engine::event_type::alarm_raised) ++raised_spo2;
  }
  EXPECT_EQ(raised_storage, 1);
  EXPECT_EQ(cleared_storage, 1);
  EXPECT_EQ(raised_spo2, 1) << "raised while the disk failed, written once it was back";
  fs::remove_all(dir);
}

TEST(Storage, NotesAndOperatorsLandInTheTimelineWithTheirAuthors) {
  const fs::path dir = fs::temp_directory_path() / ("vigil-notes-" + std::to_string(getpid()));
  fs::remove_all(dir);
  auto config = test_config();
  config.data_dir = dir.string();
  std::uint64_t session = 0;
  {
    daemon_under_test d(config);
    control_client ops(d.control_port());
    v1::ControlRequest open;
    open.mutable_open_session()->set_chair_id("chair-3");
    open.mutable_open_session()->set_patient_ref("P-note");
    session = ops.call(open)->session_id();
    v1::ControlRequest note;
    note.mutable_add_note()->set_chair_id("chair-3");
    note.mutable_add_note()->set_text("patient reports mild dissociation; reassured");
    auto response = ops.call(note);
    ASSERT_TRUE(response);
    EXPECT_EQ(response->error(), v1::CONTROL_ERROR_NONE) << response->message();
    note.mutable_add_note()->set_text("");
    EXPECT_EQ(ops.call(note)->error(), v1::CONTROL_ERROR_INVALID_ARGUMENT);
    note.mutable_add_note()->set_chair_id("chair-4");
    note.mutable_add_note()->set_text("no session here");
    EXPECT_EQ(ops.call(note)->error(), v1::CONTROL_ERROR_NO_OPEN_SESSION);
  }
  store::sqlite_reader reader((dir / "timeline.db").string());
  const auto summary = reader.session(session);
  ASSERT_TRUE(summary);
  EXPECT_EQ(summary->patient_ref, "P-note");
  EXPECT_EQ(summary->opened_by, "nurse-ana");
  int notes = 0;
  for (const auto& e : reader.session_events(session)) {
    if (e.type != engine::event_type::note_added) continue;
    ++notes;
    EXPECT_EQ(e.who, "nurse-ana");
    EXPECT_EQ(e.text, "patient reports mild dissociation; reassured");
  }
  EXPECT_EQ(notes, 1);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace vigil::test

namespace vigil::test {
namespace {

TEST(Storage, ABaselineRetakeLandsInTheTimelineWithItsAuthorAndReason) {
  const fs::path dir = fs::temp_directory_path() / ("vigil-retake-" + std::to_string(getpid()));
  fs::remove_all(dir);
  auto config = test_config();
  config.data_dir = dir.string();
  std::uint64_t session = 0;
  {
    daemon_under_test d(config);
    control_client ops(d.control_port());
    v1::ControlRequest open;
    open.mutable_open_session()->set_chair_id("chair-3");
    open.mutable_open_session()->set_patient_ref("P-retake");
    session = ops.call(open)->session_id();
    v1::ControlRequest retake;
    retake.mutable_retake_baseline()->set_chair_id("chair-3");
    EXPECT_EQ(ops.call(retake)->error(), v1::CONTROL_ERROR_INVALID_ARGUMENT) << "a reason is required";
    retake.mutable_retake_baseline()->set_reason("cuff slipped during the first readings");
    auto response = ops.call(retake);
    ASSERT_TRUE(response);
    EXPECT_EQ(response->error(), v1::CONTROL_ERROR_NONE) << response->message();
    EXPECT_EQ(response->session_id(), session);
    retake.mutable_retake_baseline()->set_chair_id("chair-4");
    EXPECT_EQ(ops.call(retake)->error(), v1::CONTROL_ERROR_NO_OPEN_SESSION);
  }
  // Answered only once saved: the daemon is gone, the timeline has it.
  store::sqlite_reader reader((dir / "timeline.db").string());
  int retakes = 0;
  for (const auto& e : reader.session_events(session)) {
    if (e.type != engine::event_type::baseline_set) continue;
    ++retakes;
    EXPECT_EQ(e.who, "nurse-ana");
    EXPECT_EQ(e.text, "re-taken: cuff slipped during the first readings; the window restarts, the baseline is set at "
                      "the first dose");
  }
  EXPECT_EQ(retakes, 1);
  fs::remove_all(dir);
}

TEST(Storage, AnOperatorResetsADeviceThatRestartedItsCountAndTheResetOutlivesARestart) {
  const fs::path dir = fs::temp_directory_path() / ("vigil-reset-" + std::to_string(getpid()));
  fs::remove_all(dir);
  auto config = test_config();
  config.data_dir = dir.string();
  config.retention_days = 0;  // the samples are from 2023
  config.users.push_back({"nurse-bo", "operator-token-bo", control::role::nurse});
  {
    daemon_under_test d(config);
    test_client monitor(d.port());
    ASSERT_TRUE(monitor.hello("dev-1")->has_welcome());
    for (std::uint64_t seq = 1; seq <= 40; ++seq) monitor.send(make_batch(seq, 2, 1'700'000'000'000 + static_cast<std::int64_t>(seq) * 10'000));
    ASSERT_TRUE(monitor.wait_ack(40));

    control_client ops(d.control_port());
    v1::ControlRequest reset;
    reset.mutable_reset_device()->set_device_id("dev-1");
    reset.mutable_reset_device()->set_reason("monitor replaced; its count starts at 1");
    reset.set_token("operator-token-bo");
    auto answer = ops.call(reset);
    ASSERT_TRUE(answer);
    EXPECT_EQ(answer->error(), v1::CONTROL_ERROR_FORBIDDEN) << "a nurse may not reset devices";
    reset.set_token(operator_token);
    reset.mutable_reset_device()->set_device_id("stranger");
    answer = ops.call(reset);
    ASSERT_TRUE(answer);
    EXPECT_EQ(answer->error(), v1::CONTROL_ERROR_UNKNOWN_DEVICE);
    reset.mutable_reset_device()->set_device_id("dev-1");
    reset.mutable_reset_device()->set_reason("");
    EXPECT_EQ(ops.call(reset)->error(), v1::CONTROL_ERROR_INVALID_ARGUMENT) << "a reset says why";
    reset.mutable_reset_device()->set_reason("monitor replaced; its count starts at 1");
    answer = ops.call(reset);
    ASSERT_TRUE(answer);
    EXPECT_EQ(answer->error(), v1::CONTROL_ERROR_NONE) << answer->message();
    EXPECT_EQ(answer->previous_acked_seq(), 40u);

    std::optional<v1::Error> closed;
    while (auto m = monitor.receive()) {
      if (m->has_error()) closed = m->error();
    }
    ASSERT_TRUE(closed);
    EXPECT_EQ(closed->code(), v1::SEQUENCE_RESET);

    test_client restarted(d.port());
    const auto welcome = restarted.hello("dev-1");
    ASSERT_TRUE(welcome && welcome->has_welcome());
    EXPECT_EQ(welcome->welcome().acked_seq(), 0u);
    restarted.send(make_batch(1, 2, 1'700'001'000'000));
    restarted.send(make_batch(2, 2, 1'700'001'010'000));
    ASSERT_TRUE(restarted.wait_ack(2));
  }
  {
    daemon_under_test d(config);
    test_client monitor(d.port());
    const auto welcome = monitor.hello("dev-1");
    ASSERT_TRUE(welcome && welcome->has_welcome());
    EXPECT_EQ(welcome->welcome().acked_seq(), 2u) << "the reset, and the new count, were saved";
  }
  store::sqlite_reader reader((dir / "timeline.db").string());
  EXPECT_EQ(reader.session_vitals(0).size(), 42u * 2u) << "every acked sample, before and after the reset, once";
  fs::remove_all(dir);
}

}  // namespace
}  // namespace vigil::test

namespace vigil::test {
namespace {

TEST(Storage, AChairKeepsItsDeviceAcrossARestart) {
  const fs::path dir = fs::temp_directory_path() / ("vigil-binding-" + std::to_string(getpid()));
  fs::remove_all(dir);
  auto config = test_config();
  config.data_dir = dir.string();
  {
    daemon_under_test d(config);
    control_client ops(d.control_port());
    v1::ControlRequest open;
    open.mutable_open_session()->set_chair_id("chair-4");
    open.mutable_open_session()->set_patient_ref("P-4");
    ASSERT_EQ(ops.call(open)->error(), v1::CONTROL_ERROR_NONE);
    test_client monitor(d.port());
    ASSERT_TRUE(monitor.hello("dev-1", device_token, "chair-4")->has_welcome());
    monitor.send(make_batch(1, 1, wall_ms()));
    ASSERT_TRUE(monitor.wait_ack(1));
  }
  daemon_under_test d(config);
  test_client other(d.port());
  const auto refused = other.hello("dev-2", device_token, "chair-4");
  ASSERT_TRUE(refused && refused->has_error()) << "the session came back, and so did its device";
  EXPECT_EQ(refused->error().code(), v1::BAD_CHAIR);
  test_client monitor(d.port());
  EXPECT_TRUE(monitor.hello("dev-1", device_token, "chair-4")->has_welcome());
  fs::remove_all(dir);
}

}  // namespace
}  // namespace vigil::test
