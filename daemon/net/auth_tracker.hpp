#pragma once

#include "daemon/net/peer.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <unordered_map>

namespace vigil::net {

/// Failed authentications per peer address, shared by every listener: a peer that keeps
/// presenting wrong credentials is answered more and more slowly, then refused for a while.
/// A success never clears a peer's failures: one user's token must not buy guesses at another's.
/// Bounded in memory (limits::max_peers). Used on the I/O thread only.
class auth_tracker {
 public:
  using clock = std::chrono::steady_clock;

  struct limits {
    // Failures within `window` (counted from the peer's first failure in it) answered at once.
    std::size_t free_failures = 3;
    std::chrono::milliseconds window{300'000};
    // Each further failure is answered after first_delay, doubled each time, at most max_delay.
    std::chrono::milliseconds first_delay{500};
    std::chrono::milliseconds max_delay{8'000};
    // The failure that reaches block_after within the window blocks the peer for block_for:
    // its new connections are closed at once. 0 never blocks.
    std::size_t block_after = 10;
    std::chrono::milliseconds block_for{300'000};
    // Peers remembered at most; past it, the quietest are forgotten first, blocked ones last.
    std::size_t max_peers = 10'000;
  };

  /// What to do with the answer to one failure.
  struct verdict {
    std::chrono::milliseconds delay{0};  // hold the answer this long
    bool blocked = false;                // the peer is blocked: close the connection after the answer
    bool block_started = false;          // this failure began the block (log it once)
    std::size_t failures = 0;            // the peer's failures in its window, this one included
  };

  explicit auth_tracker(limits l, std::function<clock::time_point()> now = clock::now);

  /// Records a failed authentication from `peer`.
  verdict failed(const peer_key& peer);
  /// Whether new connections from `peer` are to be closed at once.
  bool blocked(const peer_key& peer) const;

  const limits& settings() const noexcept { return limits_; }
  std::size_t peers() const noexcept { return peers_.size(); }
  /// Peers blocked now (counted at the call: for /metrics).
  std::size_t blocked_peers() const;
  /// Blocks begun since start.
  std::uint64_t blocks() const noexcept { return blocks_; }

 private:
  struct entry {
    std::size_t failures = 0;
    clock::time_point window_start{};
    clock::time_point blocked_until{};
    clock::time_point last_failure{};
  };

  /// Makes room for one more peer when the table is full.
  void shed(clock::time_point now);

  limits limits_;
  std::function<clock::time_point()> now_;
  std::unordered_map<peer_key, entry, peer_key_hash> peers_;
  std::uint64_t blocks_ = 0;
};

}  // namespace vigil::net
