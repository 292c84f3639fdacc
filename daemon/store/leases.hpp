#pragma once

// The chairs a daemon holds in a cluster (docs/deployment.md §3), with the fencing epoch of each
// lease. Every write for a chair carries the epoch its chair was held under when it was queued;
// the PostgreSQL timeline writes it only if the lease still names this daemon with that epoch,
// checked inside the write's own transaction. A daemon that was paused or cut off while another
// took its chair over therefore never writes for that chair again.

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>

namespace vigil::store {

/// Chair -> fencing epoch of the lease this daemon holds. Any thread.
class lease_set {
 public:
  void hold(const std::string& chair, std::uint64_t epoch) {
    std::lock_guard lock(mutex_);
    epochs_[chair] = epoch;
  }
  void drop(std::string_view chair) {
    std::lock_guard lock(mutex_);
    if (const auto it = epochs_.find(chair); it != epochs_.end()) epochs_.erase(it);
  }
  /// The epoch the chair is held under; 0 when this daemon does not hold it.
  std::uint64_t epoch_of(std::string_view chair) const {
    std::lock_guard lock(mutex_);
    const auto it = epochs_.find(chair);
    return it == epochs_.end() ? 0 : it->second;
  }
  std::map<std::string, std::uint64_t, std::less<>> held() const {
    std::lock_guard lock(mutex_);
    return epochs_;
  }

 private:
  mutable std::mutex mutex_;
  std::map<std::string, std::uint64_t, std::less<>> epochs_;
};

}  // namespace vigil::store
