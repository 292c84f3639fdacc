#pragma once

#include "daemon/control/service.hpp"
#include "daemon/net/listener.hpp"

#include <boost/asio/io_context.hpp>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

namespace vigil::control {

/// Control listener settings; defaults match config/vigild.yaml.
struct settings {
  bool enabled = true;
  std::string address = "127.0.0.1";
  std::uint16_t port = 7401;
  std::size_t max_connections = 64;
  // Connections that have not yet sent a request with a valid token, in all and from one address.
  std::size_t max_unauthenticated = 16;
  std::size_t max_unauthenticated_per_peer = 8;
  // From the accept to the first request with a valid token; then the idle timeout applies.
  std::chrono::milliseconds handshake_timeout{5'000};
  std::chrono::milliseconds idle_timeout{300'000};
};

/// The TCP listener for operators' tools: one control_session per connection.
class server {
 public:
  /// `failures`: failed authentications per peer, shared with the other listeners (may be null).
  server(boost::asio::io_context& io, const settings& config, service& handler, net::auth_tracker* failures = nullptr);

  void listen() { listener_.listen(); }
  std::uint16_t port() const { return listener_.port(); }
  void start() { listener_.start(); }
  void stop(std::function<void()> done) { listener_.stop(std::move(done)); }
  std::size_t connections() const noexcept { return listener_.connections(); }
  const net::listener_stats& connection_stats() const noexcept { return listener_.stats(); }

 private:
  std::shared_ptr<spdlog::logger> log_;
  net::listener listener_;
};

}  // namespace vigil::control
