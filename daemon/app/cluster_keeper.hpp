#pragma once

// Cluster mode's lease keeper (docs/deployment.md §3): a thread of its own that, every third of a
// lease, renews this daemon's chair leases in the shared database, takes free chairs up to its
// share of the clinic, hands chairs over when another daemon holds fewer than its share, and
// takes blocks of ids when asked. It never touches the clinic: what it learns goes out through
// its hooks, which hand it to the I/O thread.

#include "daemon/engine/engine.hpp"
#include "daemon/ingest/device_registry.hpp"
#include "daemon/store/leases.hpp"
#include "daemon/store/postgres_cluster.hpp"
#include "daemon/store/timeline.hpp"

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>

namespace spdlog {
class logger;
}

namespace vigil::app {

/// What the keeper tells the daemon, on the keeper's thread.
struct cluster_hooks {
  /// This daemon holds `chair` now (the lease set says so already): carry it on from its
  /// checkpoint (none: new to the cluster); its devices resume from these stored seqs.
  std::function<void(const std::string& chair, std::optional<store::stored_checkpoint> checkpoint,
                     std::map<std::string, std::uint64_t> device_seqs)>
      gained;
  /// Another daemon holds `chair` now, or is about to (a hand-over): forget it, then call
  /// cluster_keeper::given_up().
  std::function<void(const std::string& chair)> lost;
  /// After each round: where the chairs held by other live daemons are.
  std::function<void(std::map<std::string, ingest::chair_place, std::less<>> elsewhere)> directory;
  /// The database answers again (true), or stopped answering (false, with the reason).
  std::function<void(bool reachable, const std::string& reason)> health;
  /// A new block of ids, from these on.
  std::function<void(engine::id_range first)> ids;
};

/// The device port in a node's addresses ("ingest=host:port http=host:port ..."); empty if none.
std::string ingest_address(const std::string& addresses);

class cluster_keeper {
 public:
  /// Connects (throws with the reason if it cannot). `timeline` is flushed before a chair is
  /// handed over, so its new holder starts from everything this daemon wrote for it.
  cluster_keeper(store::cluster_options opts, std::shared_ptr<store::lease_set> leases, store::timeline& timeline,
                 cluster_hooks hooks);
  ~cluster_keeper();
  cluster_keeper(const cluster_keeper&) = delete;
  cluster_keeper& operator=(const cluster_keeper&) = delete;

  /// The first block of ids, before anything is served; throws if the database does not answer.
  engine::id_range first_ids();
  /// Where devices and clients reach this daemon ("ingest=host:port http=host:port ..."), for
  /// the others' redirects; before start().
  void advertise(std::string addresses);
  /// Starts the rounds.
  void start();
  /// Stops the rounds. `leave`: gives every chair up and leaves the cluster, so the others take
  /// the chairs over at once (a clean stop, once the timeline has committed everything).
  void stop(bool leave);

  /// A device asked for `chair` here: take it at the next round if it is free. Any thread.
  void want(const std::string& chair);
  /// Take the next block of ids. Any thread.
  void ask_ids();
  /// The daemon forgot `chair` (after hooks.lost): if it was handed over, its lease is given
  /// up once the timeline holds everything written for it. Any thread.
  void given_up(const std::string& chair);

  /// Rounds completed, handed over, taken (any thread; for /metrics).
  struct counters {
    std::uint64_t rounds = 0;
    std::uint64_t failed_rounds = 0;
    std::uint64_t taken = 0;
    std::uint64_t lost = 0;
    std::uint64_t handed_over = 0;
  };
  counters stats() const;

 private:
  void run();
  void round();
  void take(const std::string& chair);
  /// A device asked for `chair`, which no other live daemon holds: taken if this daemon holds
  /// fewer than its share, else left free for one that does.
  void take_or_offer(const std::string& chair);
  /// Gives up the leases of chairs handed over that the daemon has forgotten.
  void release_given_up();

  store::cluster_options opts_;
  std::shared_ptr<store::lease_set> leases_;
  store::timeline& timeline_;
  cluster_hooks hooks_;
  std::shared_ptr<spdlog::logger> log_;
  store::postgres_cluster db_;  // the keeper thread's, once started

  mutable std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  bool ids_asked_ = false;
  std::deque<std::string> wanted_;
  std::set<std::string> released_;  // handed over and forgotten: give the lease up
  counters stats_;

  // The keeper thread's own.
  std::map<std::string, std::uint64_t> handing_over_;  // chair -> epoch, until given up
  bool reachable_ = true;
  std::size_t share_ = 0;  // this daemon's share of the chairs at the last round
  std::thread thread_;
};

}  // namespace vigil::app
