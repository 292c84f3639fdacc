#pragma once

// The session timeline on disk: one SQLite file in WAL mode, written by one thread that
// owns the connection and commits in groups (one transaction and one sync per group).

#include "daemon/engine/engine.hpp"
#include "daemon/model/vitals.hpp"
#include "daemon/store/timeline_reader.hpp"

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

/// Appends vitals and events to the timeline from any thread; a writer thread commits them.
class timeline_store {
 public:
  /// Called on the writer thread once the item is committed (true) or could not be (false).
  using completion = std::function<void(bool committed)>;

  /// Opens (creating and migrating as needed) the database after checking every page of it
  /// (PRAGMA quick_check); throws std::runtime_error with the path and SQLite's reason on
  /// failure, and with what to do when the file is damaged.
  explicit timeline_store(options opts);
  /// Commits what is queued, then stops the writer.
  ~timeline_store();
  /// Commits what is queued (what the disk refuses is dropped and counted in events_dropped),
  /// then stops the writer; stats() still answer. Nothing may be queued after it.
  void stop();
  timeline_store(const timeline_store&) = delete;
  timeline_store& operator=(const timeline_store&) = delete;

  /// Queues one device batch; `done` runs after its transaction. `epoch` is the device's
  /// connection epoch (device_state::epoch): once a transaction holding one of the device's
  /// batches fails, its later batches of that epoch or older are not written (reported not
  /// committed), since the device resends them all after its last ack. Writing one would store
  /// it twice.
  void append_batch(std::string device_id, std::string chair_id, std::uint64_t session, std::uint64_t seq,
                    std::span<const model::vital_sample> samples, completion done, std::uint64_t epoch = 0);
  /// Queues engine events with the checkpoints of the chairs they changed, committed together
  /// (one transaction), so the stored state always matches the stored events. Events of a
  /// transaction that fails are kept and retried with the next one. `done`, if given, runs once,
  /// on the writer thread, after the first transaction that holds them (false: not saved yet;
  /// they are retried); at once when there is nothing to queue.
  void append_state(std::vector<engine::event> events, std::vector<stored_checkpoint> checkpoints,
                    completion done = {});
  /// Queues one engine event.
  void append_event(const engine::event& e);

  /// An operator's reset of a device's sequence numbers (the device restarted its count).
  struct device_reset {
    std::string device_id;
    engine::millis at_ms = 0;  // the daemon's wall time
    std::string who;
    std::string reason;
    std::uint64_t previous_seq = 0;
  };
  /// Queues a reset: the device's stored seq goes back to 0 after every batch of it queued
  /// before, and the reset is recorded. `done` runs after the first transaction that holds it
  /// (false: not saved yet; it is kept and retried with the next transactions, like events).
  void reset_device(device_reset reset, completion done);
  /// Queues the record that `device_id` (a device with no configured chair) now serves
  /// `chair_id`, and no other chair; kept and retried like events if a transaction fails.
  void bind_chair(std::string chair_id, std::string device_id, engine::millis at_ms);
  /// Queues a reservation of ids: every id up to `through` may be handed out. Reservations only
  /// grow, except an `exact` one (a clean stop giving back what it did not use). `done` as for
  /// reset_device.
  void reserve_ids(id_range through, completion done, bool exact = false);
  /// Removes sessions closed before `cutoff_ms` (session time), with their vitals and events,
  /// and vitals recorded outside any session before then; `done` gets the number of sessions.
  void remove_closed_before(engine::millis cutoff_ms, std::function<void(std::size_t sessions)> done);
  /// Waits until everything queued before the call is committed (or failed).
  void flush();

  /// Called on the writer thread when commits start failing (false, with SQLite's reason) and
  /// when they succeed again (true). Null to stop being told. The callback must not call the
  /// store: hand the news to another thread.
  using health_callback = std::function<void(bool saving, const std::string& reason)>;
  void on_health(health_callback callback);

  // Reads use their own connection (WAL lets them run beside the writer); callable from any thread.

  /// A reader of this database.
  timeline_reader reader() const { return timeline_reader(opts_.path); }
  const std::string& path() const noexcept { return opts_.path; }
  std::map<std::string, std::uint64_t> device_seqs() { return reader().device_seqs(); }
  std::vector<stored_sample> session_vitals(std::uint64_t session) { return reader().session_vitals(session); }
  std::vector<engine::event> session_events(std::uint64_t session) { return reader().session_events(session); }
  int schema_version() { return reader().schema_version(); }

  struct counters {
    std::uint64_t transactions = 0;
    std::uint64_t batches = 0;
    std::uint64_t samples = 0;
    std::uint64_t events = 0;
    std::uint64_t failures = 0;
    std::uint64_t events_dropped = 0;  // kept for a retry past the limit while the disk failed
    // Time from a batch being queued to its transaction's commit, as a histogram: counts of
    // batches at or under each bound of latency_bounds_ms (cumulative, as Prometheus wants).
    std::array<std::uint64_t, 12> latency_buckets{};
    std::uint64_t latency_count = 0;
    double latency_sum_ms = 0;
    std::size_t queued = 0;  // items waiting for the writer now
  };
  static constexpr std::array<double, 12> latency_bounds_ms = {1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000};
  counters stats();

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
