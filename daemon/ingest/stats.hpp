#pragma once

#include <array>
#include <atomic>
#include <cstdint>

namespace vigil::ingest {

/// Counters of the ingest path. Written on the ingest thread, readable from any thread.
struct stats {
  using counter = std::atomic<std::uint64_t>;

  counter handshakes_accepted{0};
  counter handshakes_refused{0};
  counter protocol_errors{0};      // bad frames and protocol violations (each closes a connection)
  counter handshake_timeouts{0};
  counter idle_timeouts{0};
  counter batches_accepted{0};
  counter batches_duplicate{0};
  counter samples_accepted{0};
  counter samples_rejected{0};
  counter samples_flagged{0};      // kept, flagged implausible

  void add(counter& c, std::uint64_t n = 1) noexcept { c.fetch_add(n, std::memory_order_relaxed); }
};

}  // namespace vigil::ingest
