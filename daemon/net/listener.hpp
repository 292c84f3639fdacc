#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>

namespace spdlog {
class logger;
}

namespace vigil::net {

/// One accepted connection, whatever it speaks.
class connection {
 public:
  virtual ~connection() = default;
  /// Runs the conversation to its end.
  virtual boost::asio::awaitable<void> run() = 0;
  /// Stops taking requests, sends what is due and a goodbye, then closes.
  virtual void shutdown() = 0;
};

struct listener_stats {
  std::atomic<std::uint64_t> accepted{0};
  std::atomic<std::uint64_t> refused{0};  // at the connection limit
  std::atomic<std::uint64_t> active{0};
};

/// A TCP listener: accepts, enforces a connection limit, runs one connection object per
/// socket, and stops them all on shutdown. What the connections speak is the factory's business.
class listener {
 public:
  struct options {
    std::string name;  // "devices", "control": for logs and errors
    std::string address;
    std::uint16_t port = 0;
    std::size_t max_connections = 1024;
    std::string refusal;  // bytes sent to a connection refused at the limit, then closed
  };
  using factory =
      std::function<std::shared_ptr<connection>(boost::asio::ip::tcp::socket socket, std::uint64_t id, std::string peer)>;

  listener(boost::asio::io_context& io, options opts, factory make, std::shared_ptr<spdlog::logger> log);
  ~listener();

  /// Binds the listening socket; throws std::system_error naming the address on failure.
  void listen();
  std::uint16_t port() const;
  void start();
  /// Stops accepting and asks every connection to finish; `done` runs once all have closed.
  void stop(std::function<void()> done);
  std::size_t connections() const noexcept { return connections_.size(); }
  const listener_stats& stats() const noexcept { return stats_; }

 private:
  boost::asio::awaitable<void> accept_loop();
  boost::asio::awaitable<void> refuse(boost::asio::ip::tcp::socket socket);
  void on_closed(std::uint64_t id);

  boost::asio::io_context& io_;
  options opts_;
  factory make_;
  std::shared_ptr<spdlog::logger> log_;
  boost::asio::ip::tcp::acceptor acceptor_;
  boost::asio::steady_timer backoff_;
  std::unordered_map<std::uint64_t, std::weak_ptr<connection>> connections_;
  listener_stats stats_;
  bool stopping_ = false;
  std::function<void()> on_stopped_;
};

}  // namespace vigil::net
