#pragma once

// Cluster mode's arbiter (docs/deployment.md §3): several vigild sharing one PostgreSQL database
// agree through it which daemon holds which chair. Each chair has a lease in chair_leases: the
// node holding it, a fencing epoch that grows each time the chair is taken, and an expiry in the
// database server's time. A daemon renews its leases every third of a lease; one that stops
// renewing (killed, frozen, cut off) loses its chairs when they expire, and another takes each
// over with the next epoch. The timeline writes a chair's rows only under the epoch they were
// queued with (postgres_timeline, lease_set), so the daemon that lost a chair never writes for it
// again. Ids come in blocks from the shared reservations, so no id names two things.
//
// One connection, used by one thread at a time (the daemon's lease keeper). Failures throw
// std::runtime_error with PostgreSQL's reason.

#include "daemon/engine/engine.hpp"
#include "daemon/store/timeline.hpp"

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace vigil::store {

namespace pg {
class connection;
}

struct cluster_options {
  std::string url;        // the timeline's database
  std::string node;       // this daemon in the cluster: unique while it lives (name#instance)
  std::string addresses;  // where devices and clients reach it, for redirects
  std::chrono::milliseconds lease{3000};
};

/// A node name for this run of a daemon: `name` (the configured one, or the host's name) with
/// a random instance, so that a daemon restarted quickly is not taken for its previous run.
std::string cluster_node_name(const std::string& name);

class postgres_cluster {
 public:
  /// Connects; the database must already hold schema 2 or later (the timeline migrates it).
  /// Statements go unanswered for at most a lease.
  explicit postgres_cluster(cluster_options opts);
  ~postgres_cluster();
  postgres_cluster(const postgres_cluster&) = delete;
  postgres_cluster& operator=(const postgres_cluster&) = delete;

  struct renewal {
    std::map<std::string, std::uint64_t> held;  // chair -> epoch: every lease this node still holds
    std::size_t live_nodes = 0;                 // this one included
    std::size_t chairs = 0;                     // chairs with a lease row, held or not
    std::vector<std::string> free_chairs;       // expired or given up: any node may take them
    std::map<std::string, std::size_t> load;    // live node -> chairs it holds
    struct other {
      std::string node;
      std::string addresses;
    };
    std::map<std::string, other> elsewhere;     // chair -> the live node holding it, when not this one
  };
  /// One round: says this node is alive and renews each lease it holds (one transaction). A
  /// lease past its expiry that nobody took is renewed too: its epoch did not move, so nothing
  /// was written for the chair meanwhile.
  renewal renew();

  /// Takes `chair` if no live lease holds it (or this node's own expired one): the new epoch.
  /// Nothing when another node holds it.
  std::optional<std::uint64_t> take(const std::string& chair);
  /// Records a chair no node holds yet, free for any to take (a device asked for it here, and
  /// this node holds its share already).
  void offer(const std::string& chair);
  /// What a node taking `chair` over carries on from: the chair's latest checkpoint, and the
  /// stored seq of each device whose latest batch was for it.
  std::optional<stored_checkpoint> checkpoint_of(const std::string& chair);
  std::map<std::string, std::uint64_t> device_seqs_of(const std::string& chair);
  /// Gives the chair up at once (its state is committed): another node may take it now.
  void release(const std::string& chair, std::uint64_t epoch);
  /// The node holding `chair` under a live lease, with its addresses; nothing when none does.
  struct holder {
    std::string node;
    std::string addresses;
    std::uint64_t epoch = 0;
  };
  std::optional<holder> holder_of(const std::string& chair);
  /// The live nodes and their addresses.
  std::map<std::string, std::string> nodes();

  /// Takes a block of each kind of id: `sizes` of them, above every id stored or reserved
  /// before. Returns the first id of each block; the block runs to first + size - 1.
  engine::id_range take_ids(engine::id_range sizes);

  /// A clean stop: gives up every lease and leaves the cluster, so the others take the chairs
  /// over at their next round rather than after the leases expire.
  void leave();

  const cluster_options& options() const noexcept { return opts_; }
  /// Sets the addresses the next round announces.
  void advertise(std::string addresses) { opts_.addresses = std::move(addresses); }

 private:
  cluster_options opts_;
  std::unique_ptr<pg::connection> db_;
};

}  // namespace vigil::store
