#include "daemon/store/sqlite_timeline.hpp"

#include "daemon/store/chunk.hpp"
#include "daemon/store/salvage.hpp"
#include "tests/unit/store/story.hpp"

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>

namespace vigil::store {
namespace {

namespace fs = std::filesystem;
using model::vital_kind;
using namespace story;

/// A fresh database path per test, removed afterwards.
class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("vigil-store-" + std::to_string(getpid()) + "-" + ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string path() const { return (dir_ / "timeline.db").string(); }
  /// Runs SQL on the database behind the store's back (to break it, or to mend it).
  void behind_the_store(const char* sql) const {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path().c_str(), &db), SQLITE_OK);
    sqlite3_busy_timeout(db, 5000);
    ASSERT_EQ(sqlite3_exec(db, sql, nullptr, nullptr, nullptr), SQLITE_OK) << sqlite3_errmsg(db);
    sqlite3_close(db);
  }

  fs::path dir_;
};

TEST_F(StoreTest, NewDatabaseGetsTheLatestSchema) {
  sqlite_timeline store({path()});
  EXPECT_EQ(store.open_reader()->schema_version(), current_schema_version);
}

TEST_F(StoreTest, OpeningAFileThatCannotBeCreatedSaysWhereAndWhy) {
  try {
    sqlite_timeline store({(dir_ / "missing-dir" / "timeline.db").string()});
    FAIL() << "expected an error";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("missing-dir"), std::string::npos) << e.what();
  }
}

// Written against the store whose start-up errors past the open did not name the file:
// "enable WAL: unable to open database file" alone.
TEST_F(StoreTest, EveryStartUpErrorNamesTheFile) {
  { sqlite_timeline created({path()}); }
  // Where the write-ahead log must go there is a directory: the file opens, WAL cannot start.
  fs::create_directories(path() + "-wal");
  try {
    sqlite_timeline refused({path()});
    FAIL() << "the store opened without its write-ahead log";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("'" + path() + "'"), std::string::npos) << e.what();
    EXPECT_EQ(std::string(e.what()).find("damaged"), std::string::npos) << "a file that cannot be read is not damaged: " << e.what();
  }
}

TEST_F(StoreTest, ANewerSchemaThanThisBuildKnowsIsRefused) {
  { sqlite_timeline store({path()}); }
  behind_the_store("PRAGMA user_version=99");
  EXPECT_THROW(sqlite_timeline({path()}), std::runtime_error);
}

TEST_F(StoreTest, MigratesAnEmptyFileAndKeepsDataAcrossReopen) {
  {  // an empty database file, as an interrupted first start could leave
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path().c_str(), &db), SQLITE_OK);
    sqlite3_close(db);
  }
  {
    sqlite_timeline store({path()});
    const auto samples = heart_rates(1'000, 10);
    store.append_batch("dev-1", "chair-1", 7, 1, samples, nullptr);
    store.flush();
  }
  sqlite_timeline again({path()});
  EXPECT_EQ(again.open_reader()->schema_version(), current_schema_version);
  EXPECT_EQ(again.open_reader()->session_vitals(7).size(), 10u);
  EXPECT_EQ(again.open_reader()->device_seqs().at("dev-1"), 1u);
}

// --- damage, retention of the file format, migration ------------------------------------------------

// What a reset does to the device's seq is in the typed suite; here, the record the file keeps.
TEST_F(StoreTest, AResetIsRecordedWithWhoWhenWhyAndTheSeqItReplaced) {
  sqlite_timeline store({path()});
  store.append_batch("dev-1", "chair-1", 1, 500, heart_rates(0, 1), nullptr);
  store.reset_device({"dev-1", 1'234, "admin-ada", "monitor replaced", 500}, nullptr);
  store.reset_device({"dev-1", 2'000, "admin-ada", "again", 2}, nullptr);
  store.flush();
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path().c_str(), &db), SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db, "SELECT device_id, reset_ms, who, reason, previous_seq FROM device_resets ORDER BY id",
                               -1, &st, nullptr),
            SQLITE_OK);
  ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
  EXPECT_STREQ(reinterpret_cast<const char*>(sqlite3_column_text(st, 0)), "dev-1");
  EXPECT_EQ(sqlite3_column_int64(st, 1), 1'234);
  EXPECT_STREQ(reinterpret_cast<const char*>(sqlite3_column_text(st, 2)), "admin-ada");
  EXPECT_STREQ(reinterpret_cast<const char*>(sqlite3_column_text(st, 3)), "monitor replaced");
  EXPECT_EQ(sqlite3_column_int64(st, 4), 500);
  ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
  EXPECT_EQ(sqlite3_step(st), SQLITE_DONE);
  sqlite3_finalize(st);
  sqlite3_close(db);
}

TEST_F(StoreTest, ADamagedFileIsRefusedAndWhatCanBeReadIsSalvagedIntoANewOne) {
  {
    sqlite_timeline store({path()});
    for (int i = 0; i < 400; ++i) {
      store.append_batch("dev-1", "chair-1", 1, static_cast<std::uint64_t>(i + 1), heart_rates(i * 60'000, 60), nullptr);
      store.append_state(session_story(static_cast<std::uint64_t>(i + 1), t0 + i * 10'000), {});
      store.flush();  // a transaction each: many pages
    }
  }
  ASSERT_GE(fs::file_size(path()), 40u * 4096u);
  {
    std::fstream file(path(), std::ios::in | std::ios::out | std::ios::binary);
    file.seekp(20 * 4096);
    const std::string garbage(3 * 4096, '\x5a');
    file.write(garbage.data(), static_cast<std::streamsize>(garbage.size()));
  }
  try {
    sqlite_timeline refused({path()});
    FAIL() << "a damaged file must be refused";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("is damaged"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("vigilctl salvage"), std::string::npos) << e.what();
  }

  const std::string out = (dir_ / "salvaged.db").string();
  const auto report = salvage(path(), out);
  std::map<std::string, salvaged_table> by_name;
  for (const auto& t : report.tables) by_name[t.name] = t;
  ASSERT_TRUE(by_name.contains("vitals") && by_name.contains("events") && by_name.contains("devices"));
  std::uint64_t rows = 0;
  bool damaged_seen = false;
  for (const auto& t : report.tables) {
    rows += t.rows;
    damaged_seen = damaged_seen || !t.whole;
  }
  EXPECT_TRUE(damaged_seen) << "three pages of garbage cost something";
  EXPECT_GT(by_name["vitals"].rows + by_name["events"].rows, 400u) << "most of the record is read back";
  EXPECT_EQ(by_name["devices"].rows, 1u);
  sqlite_timeline sound({out});  // passes the check of every page
  EXPECT_FALSE(sound.open_reader()->sessions().empty());
  EXPECT_THROW(salvage(path(), out), std::runtime_error) << "never over an existing file";
}

TEST_F(StoreTest, ReadersSayWhyAFileIsNotATimeline) {
  auto message = [](const std::string& p) {
    try {
      sqlite_reader r(p);
    } catch (const std::runtime_error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(message(path()).find("cannot open"), std::string::npos) << "missing file";
  { sqlite3* db = nullptr; sqlite3_open(path().c_str(), &db); sqlite3_close(db); }
  EXPECT_NE(message(path()).find("not a Vigil timeline"), std::string::npos);
}

/// The first schema exactly as vigild 0.1 shipped it (migration 0 -> 1), with a session in it.
void write_schema_v1(const std::string& path) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  const char* sql = R"sql(
    CREATE TABLE devices(device_id TEXT PRIMARY KEY, chair_id TEXT NOT NULL, stored_seq INTEGER NOT NULL) WITHOUT ROWID;
    CREATE TABLE vitals(id INTEGER PRIMARY KEY, session_id INTEGER NOT NULL, chair_id TEXT NOT NULL,
      kind INTEGER NOT NULL, first_ms INTEGER NOT NULL, last_ms INTEGER NOT NULL, count INTEGER NOT NULL,
      data BLOB NOT NULL);
    CREATE INDEX vitals_by_session ON vitals(session_id, kind, first_ms);
    CREATE INDEX vitals_by_chair ON vitals(chair_id, first_ms);
    CREATE TABLE events(id INTEGER PRIMARY KEY, session_id INTEGER NOT NULL, chair_id TEXT NOT NULL,
      at_ms INTEGER NOT NULL, type INTEGER NOT NULL, alarm_id INTEGER NOT NULL, rule TEXT NOT NULL,
      kind INTEGER NOT NULL, priority INTEGER NOT NULL, from_phase INTEGER NOT NULL, to_phase INTEGER NOT NULL,
      who TEXT NOT NULL, responder TEXT NOT NULL, tier INTEGER NOT NULL, value REAL NOT NULL,
      until_ms INTEGER NOT NULL, text TEXT NOT NULL);
    CREATE INDEX events_by_session ON events(session_id, id);
    INSERT INTO devices VALUES('dev-1', 'chair-7', 42);
    INSERT INTO events(session_id, chair_id, at_ms, type, alarm_id, rule, kind, priority, from_phase, to_phase, who,
                       responder, tier, value, until_ms, text) VALUES
      (5, 'chair-7', 1000, 1, 0, '', 1, 1, 1, 1, 'nurse-ana', '', 0, 0, 0, 'patient P-77 with profile iv-ketamine'),
      (5, 'chair-7', 2000, 5, 0, '', 1, 1, 1, 1, 'dr-bo', '', 0, 0, 0, 'iv 0.5 mg/kg'),
      (5, 'chair-7', 2000, 2, 0, '', 1, 1, 1, 2, '', '', 0, 0, 0, 'dose marked'),
      (5, 'chair-7', 2500, 6, 9, 'hr_high', 1, 2, 1, 1, '', '', 0, 131, 0, 'heart_rate 131 bpm above 120'),
      (5, 'chair-7', 9000, 2, 0, '', 1, 1, 2, 3, '', '', 0, 0, 0, 'observation window elapsed'),
      (5, 'chair-7', 9500, 2, 0, '', 1, 1, 3, 4, '', '', 0, 0, 0, 'closed'),
      (5, 'chair-7', 9500, 13, 0, '', 1, 1, 1, 1, 'nurse-ana', '', 0, 0, 0, 'closed'),
      (6, 'chair-8', 3000, 1, 0, '', 1, 1, 1, 1, 'nurse-cy', '', 0, 0, 0, 'patient P-78 with profile generic');
    PRAGMA user_version = 1;
  )sql";
  ASSERT_EQ(sqlite3_exec(db, sql, nullptr, nullptr, nullptr), SQLITE_OK) << sqlite3_errmsg(db);
  const std::string chunk = pack_chunk(heart_rates(1000, 4));
  sqlite3_stmt* st = nullptr;
  sqlite3_prepare_v2(db, "INSERT INTO vitals(session_id, chair_id, kind, first_ms, last_ms, count, data) "
                         "VALUES(5, 'chair-7', 1, 1000, 4000, 4, ?)", -1, &st, nullptr);
  sqlite3_bind_blob(st, 1, chunk.data(), static_cast<int>(chunk.size()), SQLITE_STATIC);
  ASSERT_EQ(sqlite3_step(st), SQLITE_DONE);
  sqlite3_finalize(st);
  sqlite3_close(db);
}

TEST_F(StoreTest, MigratesTheFirstSchemaKeepingEverythingAndIndexingItsSessions) {
  write_schema_v1(path());
  EXPECT_THROW(sqlite_reader{path()}, std::runtime_error) << "a reader asks for the migration first";
  sqlite_timeline store({path()});
  const auto reader_of_store = store.open_reader();
  auto& reader = *reader_of_store;
  EXPECT_EQ(reader.schema_version(), current_schema_version);
  EXPECT_EQ(reader.device_seqs().at("dev-1"), 42u);
  EXPECT_EQ(reader.session_vitals(5).size(), 4u);
  EXPECT_EQ(reader.session_events(5).size(), 7u);
  const auto s = reader.session(5);
  ASSERT_TRUE(s);
  EXPECT_EQ(s->chair_id, "chair-7");
  EXPECT_EQ(s->patient_ref, "P-77");
  EXPECT_EQ(s->profile, "iv-ketamine");
  EXPECT_EQ(s->opened_by, "nurse-ana");
  EXPECT_EQ(s->opened_ms, 1000);
  EXPECT_EQ(s->dose_ms, 2000);
  EXPECT_EQ(s->ready_ms, 9000);
  EXPECT_EQ(s->closed_ms, 9500);
  EXPECT_EQ(s->outcome, "closed");
  const auto open = reader.session(6);
  ASSERT_TRUE(open);
  EXPECT_EQ(open->outcome, "open");
  EXPECT_EQ(open->patient_ref, "P-78");
  const auto ids = reader.ids();
  EXPECT_EQ(ids.next_session, 7u);
  EXPECT_EQ(ids.next_alarm, 10u);
  // And the migrated file takes new data as any other.
  store.append_state(session_story(7, 20'000), {});
  store.flush();
  EXPECT_EQ(store.open_reader()->sessions().size(), 3u);
}

}  // namespace
}  // namespace vigil::store
