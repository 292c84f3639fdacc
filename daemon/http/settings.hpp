#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>

namespace vigil::http {

/// HTTP listener settings; defaults match config/vigild.yaml.
struct settings {
  bool enabled = true;
  std::string address = "127.0.0.1";
  std::uint16_t port = 7402;
  // WebSocket feed subscribers count here too: room for a ward's dashboards and nurse stations.
  std::size_t max_connections = 1024;
  // Connections that have not yet sent a request with a valid token, in all and from one address:
  // room for the browsers of a ward behind one address loading the station page at once.
  std::size_t max_unauthenticated = 256;
  std::size_t max_unauthenticated_per_peer = 64;
  // Until then, each request must arrive whole within this long of the accept or of the previous
  // response, idle time included.
  std::chrono::milliseconds unauthenticated_timeout{5'000};
  // A request body larger than this is refused with 413 before it is read.
  std::size_t max_body_bytes = 64 * 1024;
  // A keep-alive connection with no new request for this long is closed.
  std::chrono::milliseconds idle_timeout{60'000};
  // Time allowed to read one whole request once its first byte has arrived, and to write a response.
  std::chrono::milliseconds read_timeout{10'000};
  // How long a session token from POST /api/v1/signin is accepted.
  std::chrono::hours signin_validity{12};
};

/// Request headers larger than this are refused with 431: fixed, as for the control port's frames.
inline constexpr std::size_t max_header_bytes = 8 * 1024;

/// Failed authentications (a token that is no user's, a refused sign-in) on one connection
/// before it is closed, as on the control port: guessing is not a service.
inline constexpr int max_failed_authentications = 3;

}  // namespace vigil::http
