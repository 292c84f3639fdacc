#include "daemon/net/auth_tracker.hpp"

#include <algorithm>
#include <vector>

namespace vigil::net {

auth_tracker::auth_tracker(limits l, std::function<clock::time_point()> now)
    : limits_(l), now_(std::move(now)) {
  limits_.max_peers = std::max<std::size_t>(1, limits_.max_peers);
  limits_.max_delay = std::max(limits_.max_delay, limits_.first_delay);
}

auth_tracker::verdict auth_tracker::failed(const peer_key& peer) {
  const auto now = now_();
  auto it = peers_.find(peer);
  if (it == peers_.end()) {
    if (peers_.size() >= limits_.max_peers) shed(now);
    it = peers_.emplace(peer, entry{0, now, {}, now}).first;
  }
  auto& e = it->second;
  e.last_failure = now;
  verdict v;
  if (e.blocked_until > now) {
    // From a connection opened before the block: answered slowly, and that connection ends too.
    v.delay = limits_.max_delay;
    v.blocked = true;
    v.failures = e.failures;
    return v;
  }
  if (now - e.window_start >= limits_.window) {
    e.failures = 0;
    e.window_start = now;
  }
  v.failures = ++e.failures;
  if (e.failures > limits_.free_failures) {
    const std::size_t doublings = std::min<std::size_t>(e.failures - limits_.free_failures - 1, 30);
    const auto delay = limits_.first_delay * (std::int64_t{1} << doublings);
    v.delay = std::min(delay, limits_.max_delay);
  }
  if (limits_.block_after > 0 && e.failures >= limits_.block_after && limits_.block_for.count() > 0) {
    e.blocked_until = now + limits_.block_for;
    // The count starts again after the block: the next window opens when it ends.
    e.failures = 0;
    e.window_start = e.blocked_until;
    ++blocks_;
    v.blocked = true;
    v.block_started = true;
  }
  return v;
}

bool auth_tracker::blocked(const peer_key& peer) const {
  const auto it = peers_.find(peer);
  return it != peers_.end() && it->second.blocked_until > now_();
}

std::size_t auth_tracker::blocked_peers() const {
  const auto now = now_();
  return static_cast<std::size_t>(
      std::count_if(peers_.begin(), peers_.end(), [now](const auto& p) { return p.second.blocked_until > now; }));
}

void auth_tracker::shed(clock::time_point now) {
  // Forgets a quarter of the table at once, so that a peer with many addresses pays one scan
  // per max_peers / 4 new addresses, not one per failure. Peers that are blocked go last;
  // among the others, those whose last failure is oldest go first.
  struct candidate {
    bool blocked;
    clock::time_point last;
    peer_key key;
  };
  std::vector<candidate> all;
  all.reserve(peers_.size());
  for (const auto& [key, e] : peers_) all.push_back({e.blocked_until > now, e.last_failure, key});
  const std::size_t drop = std::max<std::size_t>(1, peers_.size() / 4);
  std::nth_element(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(drop - 1), all.end(),
                   [](const candidate& a, const candidate& b) {
                     if (a.blocked != b.blocked) return !a.blocked;
                     return a.last < b.last;
                   });
  for (std::size_t i = 0; i < drop; ++i) peers_.erase(all[i].key);
}

}  // namespace vigil::net
