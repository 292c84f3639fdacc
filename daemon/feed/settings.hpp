#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace vigil::feed {

/// The feed listener and the hub's limits; defaults match config/vigild.yaml.
struct settings {
  bool enabled = true;
  std::string address = "127.0.0.1";
  std::uint16_t port = 7403;
  std::size_t max_connections = 1024;
  // TCP subscribers whose FeedRequest has not been accepted yet, in all and from one address.
  std::size_t max_unauthenticated = 64;
  std::size_t max_unauthenticated_per_peer = 16;
  std::chrono::milliseconds handshake_timeout{5'000};
  std::chrono::milliseconds close_timeout{1'000};
  std::size_t soft_queue_bytes = 256 * 1024;
  std::size_t hard_queue_bytes = 4 * 1024 * 1024;
  std::chrono::milliseconds slow_grace{5'000};
  std::size_t history_events = 65'536;
  // The kernel's send buffer per subscriber socket, so that a reader that stops reading shows
  // in the hub's queue (and its limits) instead of in megabytes of kernel buffer. 0: the
  // system's default.
  std::size_t send_buffer_bytes = 64 * 1024;
};

}  // namespace vigil::feed
