// The PostgreSQL backend's own matters: its schema and migrations, what it says when it cannot
// start (never a password), text PostgreSQL cannot hold, and a server that stops and comes back.
// What every backend promises is in timeline_test.cpp, run against this one too.

#include "daemon/store/postgres.hpp"
#include "daemon/store/postgres_timeline.hpp"
#include "tests/common/postgres_server.hpp"
#include "tests/unit/store/backends.hpp"
#include "tests/unit/store/story.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <vector>

namespace vigil::store {
namespace {

using namespace story;

/// The message of what `f` throws; empty if it does not throw.
template <class F>
std::string thrown_by(F f) {
  try {
    f();
  } catch (const std::exception& e) {
    return e.what();
  }
  return {};
}

class PostgresTimelineTest : public ::testing::Test {
 protected:
  backends::postgres database_;
};

TEST_F(PostgresTimelineTest, ANewDatabaseGetsTheLatestSchemaAndKeepsWhatWasCommittedAcrossReopen) {
  {
    postgres_timeline store({database_.url()});
    store.append_batch("dev-1", "chair-1", 7, 3, heart_rates(0, 4), nullptr);
    auto opened = make_event(engine::event_type::session_opened, 7, 1'000);
    opened.id = 40;
    opened.chair = "chair-1";
    opened.patient_ref = "p-7";
    opened.profile = "esketamine_nasal";
    opened.who = "nurse-ana";
    store.append_state({opened}, {{"chair-1", 1'000, std::string("state\0with a NUL", 15)}});
    store.flush();
  }
  postgres_timeline again({database_.url()});
  const auto reader = again.open_reader();
  EXPECT_EQ(reader->schema_version(), postgres_schema_version);
  EXPECT_EQ(reader->session_vitals(7).size(), 4u);
  EXPECT_EQ(reader->device_seqs().at("dev-1"), 3u);
  const auto session = reader->session(7);
  ASSERT_TRUE(session.has_value());
  EXPECT_EQ(session->patient_ref, "p-7");
  EXPECT_EQ(session->profile, "esketamine_nasal");
  const auto checkpoints = reader->checkpoints();
  ASSERT_EQ(checkpoints.size(), 1u);
  EXPECT_EQ(checkpoints[0].state, std::string("state\0with a NUL", 15)) << "checkpoints are bytes, kept exactly";
  EXPECT_EQ(reader->last_event_id(), 40u);
}

TEST_F(PostgresTimelineTest, ANewerSchemaIsRefusedNamingTheDatabaseAndNeverThePassword) {
  { postgres_timeline store({database_.url()}); }
  pg::connection(database_.url()).exec("UPDATE vigil_schema SET version = 99", "pretend a newer build");
  // The test server trusts every local connection, so a password in the URL is accepted and ignored.
  std::string url = database_.url();
  url.insert(url.find('@'), ":s3cret-word");
  const std::string writer = thrown_by([&] { postgres_timeline store({url}); });
  EXPECT_NE(writer.find("newer than this vigild understands"), std::string::npos) << writer;
  EXPECT_NE(writer.find("127.0.0.1:" + std::to_string(backends::postgres::server().port())), std::string::npos) << writer;
  EXPECT_EQ(writer.find("s3cret-word"), std::string::npos) << writer;
  const std::string reader = thrown_by([&] { postgres_reader r(url); });
  EXPECT_NE(reader.find("newer than this build reads"), std::string::npos) << reader;
  EXPECT_EQ(reader.find("s3cret-word"), std::string::npos) << reader;
}

TEST_F(PostgresTimelineTest, AServerThatCannotBeReachedIsNamedWithTheReasonAndNoPassword) {
  const auto port = test::postgres_server::free_port();
  const std::string url = "postgresql://vigil:s3cret-word@127.0.0.1:" + std::to_string(port) + "/clinic";
  const std::string message = thrown_by([&] { postgres_timeline store({url}); });
  EXPECT_NE(message.find("127.0.0.1:" + std::to_string(port) + "/clinic as vigil"), std::string::npos) << message;
  EXPECT_NE(message.find("cannot connect"), std::string::npos) << message;
  EXPECT_EQ(message.find("s3cret-word"), std::string::npos) << message;
  EXPECT_EQ(pg::describe("not a url = ="), "(an unreadable connection URL)");
}

TEST_F(PostgresTimelineTest, ReadersRefuseADatabaseThatIsNotATimeline) {
  const std::string message = thrown_by([&] { postgres_reader r(database_.url()); });
  EXPECT_NE(message.find("is not a Vigil timeline"), std::string::npos) << message;
}

TEST_F(PostgresTimelineTest, TextPostgreSQLCannotHoldIsStoredWithReplacementsAndHoldsUpNothing) {
  postgres_timeline store({database_.url()});
  auto note = make_event(engine::event_type::note_added, 2, t0);
  note.id = 5;
  note.who = "nurse-\xff";
  note.text = std::string("bad \0 byte and \xc3\x28 and caf\xc3\xa9", 27);
  std::atomic<int> committed{0};
  store.append_state({note}, {}, [&](bool ok) { committed += ok ? 1 : 0; });
  store.append_batch("dev-2", "chair-2", 2, 1, heart_rates(0, 2), [&](bool ok) { committed += ok ? 1 : 0; });
  store.flush();
  EXPECT_EQ(committed.load(), 2) << "the event and the batch beside it are both committed";
  const auto events = store.open_reader()->session_events(2);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].text, "bad \xef\xbf\xbd byte and \xef\xbf\xbd( and caf\xc3\xa9");
  EXPECT_EQ(events[0].who, "nurse-\xef\xbf\xbd");
  EXPECT_EQ(pg::clean_text("\xed\xa0\x80"), "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd") << "a UTF-16 surrogate";
  EXPECT_EQ(pg::clean_text("\xe0\x80\xaf"), "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd") << "an overlong encoding";
  EXPECT_EQ(pg::clean_text("\xf0\x9f\x92\x89 ok"), "\xf0\x9f\x92\x89 ok");
}

TEST_F(PostgresTimelineTest, DaemonsStartingTogetherOnANewDatabaseMigrateItOnceAndOnlyOneWrites) {
  std::vector<std::thread> starting;
  std::vector<std::string> errors(4);
  for (std::size_t i = 0; i < errors.size(); ++i) {
    starting.emplace_back([&, i] { errors[i] = thrown_by([&] { postgres_timeline store({database_.url()}); }); });
  }
  for (auto& t : starting) t.join();
  std::size_t started = 0;
  for (const auto& e : errors) {
    if (e.empty()) {
      ++started;
    } else {
      EXPECT_NE(e.find("another vigild is writing to this database"), std::string::npos) << e;
    }
  }
  EXPECT_GE(started, 1u);
  const auto versions = pg::connection(database_.url()).exec("SELECT version FROM vigil_schema", "read versions");
  ASSERT_EQ(versions.rows(), 1);
  EXPECT_EQ(versions.number(0, 0), postgres_schema_version);
}

TEST_F(PostgresTimelineTest, ASecondDaemonOnTheSameDatabaseIsRefusedUntilTheFirstHasStopped) {
  auto first = std::make_unique<postgres_timeline>(postgres_options{database_.url()});
  const std::string refused = thrown_by([&] { postgres_timeline second({database_.url()}); });
  EXPECT_NE(refused.find("another vigild is writing to this database"), std::string::npos) << refused;
  EXPECT_NE(refused.find(database_.url().substr(database_.url().find('@') + 1)), std::string::npos)
      << "names the database: " << refused;
  first.reset();
  EXPECT_EQ(thrown_by([&] { postgres_timeline second({database_.url()}); }), "");
}

TEST_F(PostgresTimelineTest, ABatchSentAgainAfterACommitWhoseAnswerWasLostIsAckedAndStoredOnce) {
  postgres_timeline store({database_.url()});
  for (std::uint64_t seq = 1; seq <= 3; ++seq) store.append_batch("dev-1", "chair-1", 1, seq, heart_rates(0, 2), nullptr, 0);
  store.flush();
  // The device heard nothing (the connection broke as the COMMIT went), reconnects, resends.
  std::vector<std::pair<std::uint64_t, bool>> results;
  const auto record = [&](std::uint64_t seq) { return [&results, seq](bool ok) { results.emplace_back(seq, ok); }; };
  for (std::uint64_t seq = 2; seq <= 4; ++seq) store.append_batch("dev-1", "chair-1", 1, seq, heart_rates(0, 2), record(seq), 1);
  store.flush();
  EXPECT_EQ(results, (std::vector<std::pair<std::uint64_t, bool>>{{2, true}, {3, true}, {4, true}}));
  EXPECT_EQ(store.open_reader()->session_vitals(1).size(), 8u) << "seqs 1 to 4, each once";
  // The events of such a transaction are kept and sent again: those already in are skipped.
  auto note = make_event(engine::event_type::note_added, 1, t0);
  note.id = 10;
  note.text = "sent twice";
  std::vector<bool> saved;
  store.append_state({note}, {}, [&](bool ok) { saved.push_back(ok); });
  store.flush();
  store.append_state({note}, {}, [&](bool ok) { saved.push_back(ok); });
  store.flush();
  EXPECT_EQ(saved, (std::vector<bool>{true, true}));
  EXPECT_EQ(store.open_reader()->session_events(1).size(), 1u);
  EXPECT_EQ(store.open_reader()->device_seqs().at("dev-1"), 4u);
  // After an operator's reset the device counts from 1 again, and is stored again.
  store.reset_device({"dev-1", 5'000, "nurse-ana", "monitor replaced", 4}, nullptr);
  store.append_batch("dev-1", "chair-1", 1, 1, heart_rates(10'000, 2), nullptr, 2);
  store.flush();
  EXPECT_EQ(store.open_reader()->session_vitals(1).size(), 10u);
  EXPECT_EQ(store.open_reader()->device_seqs().at("dev-1"), 1u);
}

TEST(PostgresServerGone, CommitsFailWhileTheServerIsDownAndResumeWithNothingLostWhenItIsBack) {
  test::postgres_server server;  // a server of its own: this test stops it
  pg::connection(server.url()).exec("CREATE DATABASE clinic", "create the database");
  postgres_timeline store({server.url("clinic")});
  std::mutex mutex;
  std::condition_variable changed;
  std::vector<bool> health;
  store.on_health([&](bool saving, const std::string&) {
    std::lock_guard lock(mutex);
    health.push_back(saving);
    changed.notify_all();
  });
  std::atomic<int> committed{0};
  std::atomic<int> refused{0};
  const auto count = [&](bool ok) { (ok ? committed : refused) += 1; };

  server.stop();
  auto raised = make_event(engine::event_type::alarm_raised, 3, t0);
  raised.id = 1;
  raised.alarm = 1;
  raised.rule = "spo2_low";
  store.append_state({raised}, {}, count);
  store.append_batch("dev-3", "chair-3", 3, 1, heart_rates(0, 2), count);
  store.flush();
  EXPECT_EQ(committed.load(), 0);
  EXPECT_EQ(refused.load(), 2);
  {
    std::unique_lock lock(mutex);
    changed.wait(lock, [&] { return !health.empty(); });
    EXPECT_EQ(health.front(), false);
  }

  server.start();
  // The device resends its batch on a new connection; the event is retried with it.
  store.append_batch("dev-3", "chair-3", 3, 1, heart_rates(0, 2), count, 1);
  store.flush();
  {
    std::unique_lock lock(mutex);
    changed.wait(lock, [&] { return health.size() >= 2; });
    EXPECT_EQ(health.back(), true);
  }
  EXPECT_EQ(committed.load(), 1);
  const auto reader = store.open_reader();
  EXPECT_EQ(reader->session_events(3).size(), 1u) << "the event raised while the server was down is saved";
  EXPECT_EQ(reader->session_vitals(3).size(), 2u) << "the resent batch, once";
}

}  // namespace
}  // namespace vigil::store

namespace vigil::store {
namespace {

TEST(PostgresServerFrozen, AStatementWithNoAnswerFailsInBoundedTimeAndWritingResumesWhenTheServerDoes) {
  test::postgres_server server;  // a server of its own: this test freezes it
  pg::connection(server.url()).exec("CREATE DATABASE clinic", "create the database");
  postgres_timeline store({server.url("clinic")});
  std::mutex mutex;
  std::condition_variable changed;
  std::vector<std::pair<bool, std::string>> health;
  store.on_health([&](bool saving, const std::string& reason) {
    std::lock_guard lock(mutex);
    health.emplace_back(saving, reason);
    changed.notify_all();
  });
  std::atomic<int> committed{0};
  std::atomic<int> refused{0};
  const auto count = [&](bool ok) { (ok ? committed : refused) += 1; };

  server.freeze();
  store.append_batch("dev-1", "chair-1", 1, 1, heart_rates(0, 2), count);
  {
    // Without a deadline of its own the writer would wait for ever: the kernel keeps the
    // frozen server's sockets open and acknowledges what is sent.
    std::unique_lock lock(mutex);
    changed.wait(lock, [&] { return !health.empty(); });
    EXPECT_FALSE(health.front().first);
    EXPECT_NE(health.front().second.find("did not answer within 10 s"), std::string::npos) << health.front().second;
  }
  server.thaw();
  store.flush();
  EXPECT_EQ(refused.load(), 1);
  store.append_batch("dev-1", "chair-1", 1, 1, heart_rates(0, 2), count, 1);
  store.flush();
  EXPECT_EQ(committed.load(), 1);
  EXPECT_EQ(store.open_reader()->session_vitals(1).size(), 2u);
  std::lock_guard lock(mutex);
  EXPECT_TRUE(health.back().first) << "saving again";
}

}  // namespace
}  // namespace vigil::store
