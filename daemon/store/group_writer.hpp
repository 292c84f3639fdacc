#pragma once

// What every timeline backend shares: a queue that any thread appends to; one writer thread that
// takes everything queued and commits it as one group (one transaction, one sync); the fencing of
// a device's later batches once one of them failed; the retry of events, resets, reservations and
// bindings whose transaction failed; the health reports and the counters. A backend says only how
// a group is written (write_group) and how its readers open.

#include "daemon/store/leases.hpp"
#include "daemon/store/timeline.hpp"

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <thread>
#include <vector>

namespace vigil::store {

class group_writer : public timeline {
 public:
  /// A backend's destructor calls stop() first: the writer thread calls write_group.
  ~group_writer() override;
  group_writer(const group_writer&) = delete;
  group_writer& operator=(const group_writer&) = delete;

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
  counters stats() override;

 protected:
  /// `max_group_items`: batches per transaction at most (state items ride along).
  /// `leases`: in a cluster, the chairs this daemon holds; each item is tagged with its chairs'
  /// epochs when queued, and write_group refuses what was queued under a lease since lost.
  explicit group_writer(std::size_t max_group_items, std::shared_ptr<const lease_set> leases = nullptr);
  /// Starts the writer thread; at the end of the backend's constructor, once it can write.
  void start();

  struct batch_item {
    std::string device_id;
    std::string chair_id;
    std::uint64_t session = 0;
    std::uint64_t seq = 0;
    std::vector<model::vital_sample> samples;
    completion done;
    std::chrono::steady_clock::time_point queued;
    std::uint64_t epoch = 0;
    // Behind a failed batch of its device, or refused (its chair's lease is lost): not written.
    bool fenced = false;
    std::uint64_t lease = 0;  // in a cluster: the epoch of its chair's lease when queued (0: not held)
    // Its seq is already stored (a backend that cannot tell whether a commit it lost sight of
    // went through sets it): reported committed, not written again.
    bool stored_before = false;
  };
  struct state_item {
    std::vector<engine::event> events;
    std::vector<stored_checkpoint> checkpoints;
    // In a cluster: the epoch each chair of its events and checkpoints was held under when
    // queued (0: not held). The backend removes what it refuses and sets `refused`.
    std::map<std::string, std::uint64_t, std::less<>> leases;
    bool refused = false;
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
      std::uint64_t lease = 0;  // as batch_item::lease
      bool refused = false;
    } binding;
    id_range ids;
    bool exact = false;
    completion done;  // reset, reservation and state: called once, with the first outcome
    bool reported = false;
    engine::millis cutoff = 0;
    std::size_t removed = 0;  // retention: sessions the backend removed
    std::function<void(std::size_t)> retention_done;
    std::function<void()> marker;
  };

  /// Writes the group in one transaction, leaving out the batches marked `fenced`, and sets the
  /// `removed` count of its retention items. True once committed; false with the reason in
  /// `error` when nothing of it was (the transaction is undone). On the writer thread only.
  virtual bool write_group(std::vector<item>& group, std::string& error) = 0;

  /// Counts what write_group refused (its chair's lease lost); on the writer thread.
  void count_refused(std::uint64_t items);
  /// In a cluster, the chairs held; null otherwise.
  const std::shared_ptr<const lease_set>& leases() const noexcept { return leases_; }

 private:
  void push(item it);
  void run();
  bool commit(std::vector<item>& group);

  const std::size_t max_group_items_;
  const std::shared_ptr<const lease_set> leases_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<item> queue_;
  bool stopping_ = false;
  bool healthy_ = true;  // writer thread only
  std::map<std::string, std::uint64_t, std::less<>> failed_epochs_;  // writer thread only: device -> epoch
  std::string last_error_;  // writer thread only
  health_callback health_;
  counters stats_;
  std::thread writer_;
};

}  // namespace vigil::store
