#pragma once

#include "daemon/ingest/device_registry.hpp"
#include "daemon/ingest/settings.hpp"
#include "daemon/ingest/sink.hpp"
#include "daemon/ingest/stats.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <unordered_map>

namespace spdlog {
class logger;
}

namespace vigil::ingest {

class connection;

/// The TCP listener for devices: accepts, enforces the connection limit, runs one
/// device_session per connection, and stops them all on shutdown.
class server {
 public:
  server(boost::asio::io_context& io, const settings& config, device_registry& registry, sample_sink& sink,
         stats& counters);
  ~server();

  /// Binds the listening socket; throws std::system_error naming the address on failure.
  void listen();
  /// The bound port (useful when configured as 0).
  std::uint16_t port() const;
  /// Starts accepting connections.
  void start();
  /// Stops accepting and asks every connection to finish; `done` runs once all have closed.
  void stop(std::function<void()> done);
  std::size_t connections() const noexcept { return connections_.size(); }

 private:
  boost::asio::awaitable<void> accept_loop();
  boost::asio::awaitable<void> refuse(boost::asio::ip::tcp::socket socket);
  void on_closed(std::uint64_t id);

  boost::asio::io_context& io_;
  const settings& config_;
  device_registry& registry_;
  sample_sink& sink_;
  stats& stats_;
  std::shared_ptr<spdlog::logger> log_;
  boost::asio::ip::tcp::acceptor acceptor_;
  boost::asio::steady_timer backoff_;
  std::unordered_map<std::uint64_t, std::weak_ptr<connection>> connections_;
  std::uint64_t next_id_ = 1;
  bool stopping_ = false;
  std::function<void()> on_stopped_;
};

}  // namespace vigil::ingest
