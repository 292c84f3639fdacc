#pragma once

// The timeline backends the typed store tests run against. A backend here gives the suite a
// fresh, empty timeline in a place of its own, and a way to make the writes of one kind of
// record fail and succeed again (as a full or failing disk would), from behind the store's back.
// A new backend adds a struct like these and its name to `timeline_backends`.

#include "daemon/store/postgres.hpp"
#include "daemon/store/postgres_timeline.hpp"
#include "daemon/store/sqlite_timeline.hpp"
#include "tests/common/postgres_server.hpp"

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <memory>
#include <string>

namespace vigil::store::backends {

/// The embedded backend: a SQLite file in a temporary directory.
class sqlite {
 public:
  static constexpr const char* name = "sqlite";

  sqlite() {
    dir_ = std::filesystem::temp_directory_path() /
           ("vigil-timeline-" + std::to_string(getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  ~sqlite() { std::filesystem::remove_all(dir_); }
  sqlite(const sqlite&) = delete;
  sqlite& operator=(const sqlite&) = delete;

  /// The timeline of this place, opened (again, after a close, with everything committed).
  std::unique_ptr<timeline> open() const { return std::make_unique<sqlite_timeline>(options{path()}); }

  /// The next writes of `table` ("vitals", "events", "device_resets") fail until accepted.
  void refuse_writes(const std::string& table) const { run("ALTER TABLE " + table + " RENAME TO " + table + "_away"); }
  void accept_writes(const std::string& table) const { run("ALTER TABLE " + table + "_away RENAME TO " + table); }

 private:
  std::string path() const { return (dir_ / "timeline.db").string(); }
  void run(const std::string& sql) const {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path().c_str(), &db), SQLITE_OK);
    sqlite3_busy_timeout(db, 5000);
    ASSERT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr), SQLITE_OK) << sqlite3_errmsg(db);
    sqlite3_close(db);
  }

  std::filesystem::path dir_;
};

/// The shared backend: a database of its own on a throwaway PostgreSQL server (one server for
/// the whole test program, started on first use, on 127.0.0.1).
class postgres {
 public:
  static constexpr const char* name = "postgres";

  postgres() : database_("timeline_" + std::to_string(next_number())) {
    pg::connection admin(server().url());
    admin.exec(("CREATE DATABASE " + database_).c_str(), "create the test database");
  }
  ~postgres() {
    try {
      pg::connection admin(server().url());
      admin.exec(("DROP DATABASE " + database_ + " WITH (FORCE)").c_str(), "drop the test database");
    } catch (const std::exception& e) {
      ADD_FAILURE() << e.what();
    }
  }
  postgres(const postgres&) = delete;
  postgres& operator=(const postgres&) = delete;

  std::unique_ptr<timeline> open() const { return std::make_unique<postgres_timeline>(postgres_options{url()}); }

  /// The next writes of `table` fail until accepted.
  void refuse_writes(const std::string& table) const { run("ALTER TABLE " + table + " RENAME TO " + table + "_away"); }
  void accept_writes(const std::string& table) const { run("ALTER TABLE " + table + "_away RENAME TO " + table); }

  std::string url() const { return server().url(database_); }
  static test::postgres_server& server() {
    static test::postgres_server instance;
    return instance;
  }

 private:
  static int next_number() {
    static std::atomic<int> counter{0};
    return ++counter;
  }
  void run(const std::string& sql) const {
    pg::connection db(url());
    db.exec(sql.c_str(), "change the test database");
  }

  std::string database_;
};

}  // namespace vigil::store::backends
