#pragma once

// The session timeline in one SQLite file in WAL mode, written by group_writer's one thread,
// which owns the connection and commits in groups (one transaction and one sync per group): the
// embedded backend of store::timeline.

#include "daemon/engine/engine.hpp"
#include "daemon/model/vitals.hpp"
#include "daemon/store/group_writer.hpp"
#include "daemon/store/sqlite_reader.hpp"
#include "daemon/store/timeline.hpp"

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

struct sqlite3;

namespace vigil::store {

struct options {
  std::string path;                 // the database file; created with its directory's permissions
  bool full_sync = true;            // synchronous=FULL: a commit survives power loss
  std::size_t max_group_items = 4096;  // batches per transaction at most (state items ride along)
};

/// The timeline in one SQLite file; group_writer's writer thread owns the connection.
class sqlite_timeline final : public group_writer {
 public:
  /// Opens (creating and migrating as needed) the database after checking every page of it
  /// (PRAGMA quick_check); throws std::runtime_error with the path and SQLite's reason on
  /// failure, and with what to do when the file is damaged.
  explicit sqlite_timeline(options opts);
  /// Commits what is queued, then stops the writer.
  ~sqlite_timeline() override;
  sqlite_timeline(const sqlite_timeline&) = delete;
  sqlite_timeline& operator=(const sqlite_timeline&) = delete;

  std::unique_ptr<reader> open_reader() const override { return std::make_unique<sqlite_reader>(opts_.path); }
  std::string where() const override { return "SQLite file " + opts_.path; }

  const std::string& path() const noexcept { return opts_.path; }

 private:
  bool write_group(std::vector<item>& group, std::string& error) override;
  void write_state(const std::vector<item>& group);
  void write_devices(const std::vector<item>& group);
  void write_reservations(const std::vector<item>& group);
  void write_bindings(const std::vector<item>& group);
  std::size_t remove_closed(engine::millis cutoff);

  options opts_;
  sqlite3* db_ = nullptr;
  bool damaged_ = false;  // writer thread only: the file is corrupt; nothing more is written
  std::string damage_;    // writer thread only: what to tell while damaged
};

/// What an operator does about a damaged timeline at `path`: set it aside, start afresh, salvage.
std::string damaged_timeline_advice(const std::string& path);

}  // namespace vigil::store
