#pragma once

// The session timeline, as every layer above the store sees it: a backend that queues writes
// from any thread and commits them in groups, and readers on connections of their own. The
// embedded SQLite file (sqlite_timeline) is one backend; another implements these two classes
// and passes the same typed tests (tests/unit/store/timeline_test.cpp).

#include "daemon/engine/engine.hpp"
#include "daemon/model/vitals.hpp"

#include <algorithm>
#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace vigil::store {

/// A stored sample, as read back.
struct stored_sample {
  model::vital_sample sample;
  std::string chair_id;
};

/// One session as the timeline's index holds it. Times are session time (ms since the epoch).
struct session_summary {
  std::uint64_t id = 0;
  std::string chair_id;
  std::string patient_ref;
  std::string profile;
  std::string opened_by;
  engine::millis opened_ms = 0;
  std::optional<engine::millis> dose_ms;        // the first dose
  std::optional<engine::millis> window_end_ms;  // end of the observation window of the latest dose
  std::optional<engine::millis> ready_ms;       // first ready for discharge assessment
  std::optional<engine::millis> closed_ms;
  std::string outcome;                          // "open", "closed" or "aborted"
};

using engine::id_range;

struct id_floor {
  std::uint64_t next_session = 1;
  std::uint64_t next_alarm = 1;
  std::uint64_t next_event = 1;
};

/// The floor above the highest ids stored (`stored`) and every id reserved (`held`): ids up to a
/// reservation may have been handed out before a crash, so none is given again.
inline id_floor floor_above(id_range stored, id_range held) {
  return {std::max(stored.session, held.session) + 1, std::max(stored.alarm, held.alarm) + 1,
          std::max(stored.event, held.event) + 1};
}

/// The engine state of one chair as last committed, with the daemon's wall time then.
struct stored_checkpoint {
  std::string chair_id;
  engine::millis saved_ms = 0;
  std::string state;
};

/// Why a reader cannot read a timeline whose schema has `version` (0: none) when this build reads
/// `current`; empty when it can. Worded to follow "timeline database X ".
inline std::string schema_problem(int version, int current) {
  if (version <= 0) return "is not a Vigil timeline (no schema)";
  if (version > current) {
    return "has schema version " + std::to_string(version) + ", newer than this build reads (" +
           std::to_string(current) + ")";
  }
  if (version < current) {
    return "has schema version " + std::to_string(version) + "; start vigild on it once to migrate it to " +
           std::to_string(current);
  }
  return {};
}

/// Reads of the timeline on one connection: what is committed, never what is only queued. A
/// reader is used by one thread at a time; reads of a running daemon's timeline run on a
/// read_pool, never on the I/O thread. Failures throw std::runtime_error with the reason.
class reader {
 public:
  virtual ~reader() = default;

  virtual int schema_version() = 0;
  /// The highest committed batch seq of every device (to resume dedupe after a restart).
  virtual std::map<std::string, std::uint64_t> device_seqs() = 0;
  /// Sessions, newest first; at most `limit` (0: all).
  virtual std::vector<session_summary> sessions(std::size_t limit = 0, bool open_only = false) = 0;
  virtual std::optional<session_summary> session(std::uint64_t id) = 0;
  /// Every stored sample of a session, by kind then time.
  virtual std::vector<stored_sample> session_vitals(std::uint64_t session) = 0;
  /// Every stored event of a session, in order.
  virtual std::vector<engine::event> session_events(std::uint64_t session) = 0;
  /// Events with an id above `after`, in id order, at most `limit` (for feeds resuming).
  virtual std::vector<engine::event> events_after(std::uint64_t after, std::size_t limit) = 0;
  /// How many events have an id above `after` and below `before`, counting no further than
  /// `cap` (a feed's resume is refused when it would replay too many).
  virtual std::size_t count_events(std::uint64_t after, std::uint64_t before, std::size_t cap) = 0;
  /// Chair -> the device with no configured chair that serves it (timeline::bind_chair).
  virtual std::map<std::string, std::string> chair_bindings() = 0;
  /// The latest engine checkpoint of every chair.
  virtual std::vector<stored_checkpoint> checkpoints() = 0;
  /// The lowest session, alarm and event ids neither in the timeline nor reserved: ids up to
  /// a reservation may have been handed out before a crash, so they are never given again.
  virtual id_floor ids() = 0;
  /// The newest event the timeline holds; 0 when none.
  virtual std::uint64_t last_event_id() = 0;
  /// What the timeline holds of reservations alone (0 where none was made).
  virtual id_range reserved() = 0;
};

/// Writes to the timeline, from any thread. Each backend commits queued items in groups (one
/// transaction, one sync), in the order queued, and calls completions on a thread of its own:
/// whoever waits on one hands the news to its own thread.
class timeline {
 public:
  /// Called once the item is committed (true) or could not be (false).
  using completion = std::function<void(bool committed)>;
  virtual ~timeline() = default;

  /// Commits what is queued (what the backend refuses is dropped and counted in
  /// events_dropped), then stops; stats() still answer. Nothing may be queued after it.
  virtual void stop() = 0;

  /// Queues one device batch; `done` runs after its transaction. `epoch` is the device's
  /// connection epoch (device_state::epoch): once a transaction holding one of the device's
  /// batches fails, its later batches of that epoch or older are not written (reported not
  /// committed), since the device resends them all after its last ack. Writing one would store
  /// it twice.
  virtual void append_batch(std::string device_id, std::string chair_id, std::uint64_t session, std::uint64_t seq,
                            std::span<const model::vital_sample> samples, completion done, std::uint64_t epoch = 0) = 0;
  /// Queues engine events with the checkpoints of the chairs they changed, committed together
  /// (one transaction), so the stored state always matches the stored events. Events of a
  /// transaction that fails are kept and retried with the next one. `done`, if given, runs once,
  /// after the first transaction that holds them (false: not saved yet; they are retried); at
  /// once when there is nothing to queue.
  virtual void append_state(std::vector<engine::event> events, std::vector<stored_checkpoint> checkpoints,
                            completion done = {}) = 0;
  /// Queues one engine event.
  void append_event(const engine::event& e) { append_state({e}, {}); }

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
  virtual void reset_device(device_reset reset, completion done) = 0;
  /// Queues the record that `device_id` (a device with no configured chair) now serves
  /// `chair_id`, and no other chair; kept and retried like events if a transaction fails.
  virtual void bind_chair(std::string chair_id, std::string device_id, engine::millis at_ms) = 0;
  /// Queues a reservation of ids: every id up to `through` may be handed out. Reservations only
  /// grow, except an `exact` one (a clean stop giving back what it did not use). `done` as for
  /// reset_device.
  virtual void reserve_ids(id_range through, completion done, bool exact = false) = 0;
  /// Removes sessions closed before `cutoff_ms` (session time), with their vitals and events,
  /// and vitals recorded outside any session before then; `done` gets the number of sessions.
  virtual void remove_closed_before(engine::millis cutoff_ms, std::function<void(std::size_t sessions)> done) = 0;
  /// Waits until everything queued before the call is committed (or failed).
  virtual void flush() = 0;

  /// Called when commits start failing (false, with the backend's reason) and when they succeed
  /// again (true). Null to stop being told. The callback must not call the timeline: hand the
  /// news to another thread.
  using health_callback = std::function<void(bool saving, const std::string& reason)>;
  virtual void on_health(health_callback callback) = 0;

  /// A new reader of what this timeline has committed, for one thread at a time.
  virtual std::unique_ptr<reader> open_reader() const = 0;
  /// Where the timeline is, for people: "SQLite file /var/lib/vigil/timeline.db".
  virtual std::string where() const = 0;

  struct counters {
    std::uint64_t transactions = 0;
    std::uint64_t batches = 0;
    std::uint64_t samples = 0;
    std::uint64_t events = 0;
    std::uint64_t failures = 0;
    std::uint64_t events_dropped = 0;  // kept for a retry past the limit while the backend failed
    // In a cluster: batches, state items and bindings not written because this daemon no longer
    // held their chair's lease (another daemon took the chair over).
    std::uint64_t refused = 0;
    // Time from a batch being queued to its transaction's commit, as a histogram: counts of
    // batches at or under each bound of latency_bounds_ms (cumulative, as Prometheus wants).
    std::array<std::uint64_t, 12> latency_buckets{};
    std::uint64_t latency_count = 0;
    double latency_sum_ms = 0;
    std::size_t queued = 0;  // items waiting to be written now
  };
  static constexpr std::array<double, 12> latency_bounds_ms = {1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000};
  virtual counters stats() = 0;
};

}  // namespace vigil::store
