#pragma once

// The session timeline in one SQLite file in WAL mode, written by one thread that owns the
// connection and commits in groups (one transaction and one sync per group): the embedded
// backend of store::timeline.

#include "daemon/engine/engine.hpp"
#include "daemon/model/vitals.hpp"
#include "daemon/store/sqlite_reader.hpp"
#include "daemon/store/timeline.hpp"

#include <array>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <span>
#include <string>
#include <thread>
#include <vector>

struct sqlite3;

namespace vigil::store {

struct options {
  std::string path;                 // the database file; created with its directory's permissions
  bool full_sync = true;            // synchronous=FULL: a commit survives power loss
  std::size_t max_group_items = 4096;  // batches per transaction at most (state items ride along)
};

/// Appends vitals and events to a SQLite timeline from any thread; a writer thread commits them
/// and calls completions on that thread.
class sqlite_timeline final : public timeline {
 public:
  /// Opens (creating and migrating as needed) the database after checking every page of it
  /// (PRAGMA quick_check); throws std::runtime_error with the path and SQLite's reason on
  /// failure, and with what to do when the file is damaged.
  explicit sqlite_timeline(options opts);
  /// Commits what is queued, then stops the writer.
  ~sqlite_timeline() override;
  sqlite_timeline(const sqlite_timeline&) = delete;
  sqlite_timeline& operator=(const sqlite_timeline&) = delete;

  void stop() override;
  void append_batch(std::string device_id, std::string chair_id, std::uint64_t session, std::uint64_t seq,
                    std::span<const model::vital_sample> samples, completion done, std::uint64_t epoch = 0) override;
  void append_state(std::vector<engine::event> events, std::vector<stored_checkpoint> checkpoints,
                    completion done = {}) override;
  void reset_device(device_reset reset, completion done) override;
  void bind_chair(std::string chair_id, std::string device_id, engine::millis at_ms) override;
  void reserve_ids(id_range through, completion done, bool exact = false) override;
  void remove_closed_before(engine::millis cutoff_ms, std::function<void(std::size_t sessions)> done) override;
  void flush() override;
  void on_health(health_callback callback) override;
  std::unique_ptr<reader> open_reader() const override { return std::make_unique<sqlite_reader>(opts_.path); }
  std::string where() const override { return "SQLite file " + opts_.path; }
  counters stats() override;

  const std::string& path() const noexcept { return opts_.path; }

 private:
  struct batch_item {
    std::string device_id;
    std::string chair_id;
    std::uint64_t session = 0;
    std::uint64_t seq = 0;
    std::vector<model::vital_sample> samples;
    completion done;
    std::chrono::steady_clock::time_point queued;
    std::uint64_t epoch = 0;
    bool fenced = false;  // behind a failed batch of its device: not written
  };
  struct state_item {
    std::vector<engine::event> events;
    std::vector<stored_checkpoint> checkpoints;
  };
  struct item {
    enum class what : std::uint8_t { batch, state, retention, marker, reset, reservation, binding } type = what::batch;
    batch_item batch;
    state_item state;
    device_reset reset;
    struct binding_item {
      std::string chair_id;
      std::string device_id;
      engine::millis at_ms = 0;
    } binding;
    id_range ids;
    bool exact = false;
    completion done;  // reset, reservation and state: called once, with the first outcome
    bool reported = false;
    engine::millis cutoff = 0;
    std::function<void(std::size_t)> retention_done;
    std::function<void()> marker;
  };

  void push(item it);
  void run();
  bool commit(std::vector<item>& group);
  void write_state(const std::vector<item>& group);
  void write_devices(const std::vector<item>& group);
  void write_reservations(const std::vector<item>& group);
  void write_bindings(const std::vector<item>& group);
  std::size_t remove_closed(engine::millis cutoff);

  options opts_;
  sqlite3* db_ = nullptr;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<item> queue_;
  bool stopping_ = false;
  bool healthy_ = true;  // writer thread only
  bool damaged_ = false;  // writer thread only: the file is corrupt; nothing more is written
  std::map<std::string, std::uint64_t, std::less<>> failed_epochs_;  // writer thread only: device -> epoch
  std::string last_error_;  // writer thread only
  health_callback health_;
  counters stats_;
  std::thread writer_;
};

/// What an operator does about a damaged timeline at `path`: set it aside, start afresh, salvage.
std::string damaged_timeline_advice(const std::string& path);

/// Packs samples of one kind, in time order, into a compact chunk (zigzag varint time deltas,
/// raw 8-byte values, varint quality).
std::string pack_chunk(std::span<const model::vital_sample> samples);
/// Unpacks a chunk of `kind`; false if it is corrupt.
bool unpack_chunk(std::string_view data, model::vital_kind kind, std::int64_t first_ms,
                  std::vector<model::vital_sample>& out);

}  // namespace vigil::store
