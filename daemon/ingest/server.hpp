#pragma once

#include "daemon/ingest/device_registry.hpp"
#include "daemon/ingest/settings.hpp"
#include "daemon/ingest/sink.hpp"
#include "daemon/ingest/stats.hpp"
#include "daemon/net/listener.hpp"

#include <boost/asio/io_context.hpp>

#include <cstdint>
#include <functional>
#include <memory>

namespace spdlog {
class logger;
}

namespace vigil::ingest {

/// The TCP listener for devices: one device_session per connection.
class server {
 public:
  /// `failures`: failed authentications per peer, shared with the other listeners (may be null).
  server(boost::asio::io_context& io, const settings& config, device_registry& registry, sample_sink& sink,
         stats& counters, net::auth_tracker* failures = nullptr);

  /// Binds the listening socket; throws std::system_error naming the address on failure.
  void listen() { listener_.listen(); }
  /// The bound port (useful when configured as 0).
  std::uint16_t port() const { return listener_.port(); }
  void start() { listener_.start(); }
  /// Stops accepting and asks every connection to finish; `done` runs once all have closed.
  void stop(std::function<void()> done) { listener_.stop(std::move(done)); }
  std::size_t connections() const noexcept { return listener_.connections(); }
  const net::listener_stats& connection_stats() const noexcept { return listener_.stats(); }

 private:
  std::shared_ptr<spdlog::logger> log_;
  net::listener listener_;
};

}  // namespace vigil::ingest
