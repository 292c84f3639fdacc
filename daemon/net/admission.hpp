#pragma once

#include "daemon/net/peer.hpp"

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <unordered_map>
#include <unordered_set>

namespace vigil::net {

/// Which connections a listener takes, and which it lets go to make room. Pure bookkeeping, no
/// sockets and no clock: the listener asks on accept and reports authentications and closes.
///
/// A connection counts as unauthenticated from its accept until its protocol accepts its
/// credentials. Unauthenticated connections have budgets of their own, per listener and per
/// peer address, so that sockets that never authenticate cannot keep users out:
///   1. a peer already holding max_unauthenticated_per_peer of them is refused;
///   2. if the listener already holds max_unauthenticated of them, or max_connections
///      connections with at least one unauthenticated, the OLDEST unauthenticated connection
///      is evicted and the new one admitted;
///   3. only when every connection is authenticated is a new one refused at max_connections.
class admission {
 public:
  struct limits {
    std::size_t max_connections = 1024;
    // Larger values act as max_connections (and the per-peer one as max_unauthenticated).
    std::size_t max_unauthenticated = 256;
    std::size_t max_unauthenticated_per_peer = 64;
  };

  enum class outcome : std::uint8_t {
    admitted,
    refused_peer_limit,  // the peer is at max_unauthenticated_per_peer
    refused_full,        // max_connections, every one authenticated
  };

  struct decision {
    outcome result = outcome::admitted;
    std::optional<std::uint64_t> evicted;  // closed to make room; it no longer counts
    peer_key evicted_peer;                 // its address, for the log
  };

  explicit admission(limits l) noexcept;

  /// Decides on connection `id`, just accepted from `peer`; an admitted one counts as unauthenticated.
  decision admit(std::uint64_t id, const peer_key& peer);
  /// Connection `id` authenticated: it leaves the unauthenticated budgets. Idempotent.
  void authenticated(std::uint64_t id);
  /// Connection `id` closed; nothing changes for one evicted earlier (it was let go then).
  void closed(std::uint64_t id);

  /// Connections counted against max_connections.
  std::size_t connections() const noexcept { return authenticated_.size() + unauthenticated_.size(); }
  std::size_t unauthenticated() const noexcept { return unauthenticated_.size(); }
  std::size_t unauthenticated_from(const peer_key& peer) const;
  bool is_authenticated(std::uint64_t id) const { return authenticated_.contains(id); }

 private:
  void forget_unauthenticated(std::map<std::uint64_t, peer_key>::iterator it);

  std::size_t max_connections_;
  std::size_t max_unauthenticated_;
  std::size_t max_per_peer_;
  std::unordered_set<std::uint64_t> authenticated_;
  // By connection id, which grows with every accept: begin() is the oldest.
  std::map<std::uint64_t, peer_key> unauthenticated_;
  std::unordered_map<peer_key, std::size_t, peer_key_hash> per_peer_;
};

}  // namespace vigil::net
