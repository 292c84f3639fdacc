#include "daemon/net/admission.hpp"

#include <algorithm>

namespace vigil::net {

admission::admission(limits l) noexcept
    : max_connections_(std::max<std::size_t>(1, l.max_connections)),
      max_unauthenticated_(std::clamp<std::size_t>(l.max_unauthenticated, 1, max_connections_)),
      max_per_peer_(std::clamp<std::size_t>(l.max_unauthenticated_per_peer, 1, max_unauthenticated_)) {}

admission::decision admission::admit(std::uint64_t id, const peer_key& peer) {
  decision d;
  if (unauthenticated_from(peer) >= max_per_peer_) {
    d.result = outcome::refused_peer_limit;
    return d;
  }
  const bool budget_full = unauthenticated_.size() >= max_unauthenticated_;
  const bool listener_full = connections() >= max_connections_;
  if (budget_full || listener_full) {
    if (unauthenticated_.empty()) {
      d.result = outcome::refused_full;
      return d;
    }
    // The oldest has had the longest to authenticate, and a peer that opens sockets to hold
    // them idle has the oldest ones: a new connection always gets its chance.
    const auto oldest = unauthenticated_.begin();
    d.evicted = oldest->first;
    d.evicted_peer = oldest->second;
    forget_unauthenticated(oldest);
  }
  unauthenticated_.emplace(id, peer);
  ++per_peer_[peer];
  return d;
}

void admission::authenticated(std::uint64_t id) {
  const auto it = unauthenticated_.find(id);
  if (it == unauthenticated_.end()) return;
  forget_unauthenticated(it);
  authenticated_.insert(id);
}

void admission::closed(std::uint64_t id) {
  if (authenticated_.erase(id) > 0) return;
  if (const auto it = unauthenticated_.find(id); it != unauthenticated_.end()) forget_unauthenticated(it);
}

std::size_t admission::unauthenticated_from(const peer_key& peer) const {
  const auto it = per_peer_.find(peer);
  return it == per_peer_.end() ? 0 : it->second;
}

void admission::forget_unauthenticated(std::map<std::uint64_t, peer_key>::iterator it) {
  const auto count = per_peer_.find(it->second);
  if (count != per_peer_.end() && --count->second == 0) per_peer_.erase(count);
  unauthenticated_.erase(it);
}

}  // namespace vigil::net
