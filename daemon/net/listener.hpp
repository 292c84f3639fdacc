#pragma once

#include "daemon/net/admission.hpp"
#include "daemon/net/auth_tracker.hpp"
#include "daemon/net/peer.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include <atomic>
#include <chrono>
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
  /// Closes a connection that has not authenticated, to make room for a newer one: sends the
  /// protocol's too-many-connections error when the stream allows, then closes.
  virtual void evict() = 0;
};

/// A listener's counters. Written on the I/O thread, readable from any thread.
struct listener_stats {
  using counter = std::atomic<std::uint64_t>;
  counter accepted{0};
  counter refused{0};  // at max_connections, every connection authenticated
  counter active{0};
  counter unauthenticated{0};          // open now and not (yet) authenticated
  counter refused_unauthenticated{0};  // the peer was at max_unauthenticated_per_peer
  counter evicted{0};                  // the oldest unauthenticated, closed to make room
  counter blocked{0};                  // closed on accept: the peer is blocked for failed authentications
  counter auth_failures{0};            // wrong credentials presented
  counter auth_delayed{0};             // failures answered after a delay
  counter bad_requests{0};             // bad frames or malformed requests
};

namespace detail {
struct listener_core;
}

/// A connection's line back to its listener: its protocol reports here that the peer
/// authenticated, failed to, or sent something unreadable. Calls after the listener is gone,
/// or on a gate made outside a listener (unit tests), only change the gate itself.
class auth_gate {
 public:
  auth_gate() = default;

  /// The protocol accepted the peer's credentials: the connection leaves the unauthenticated budgets.
  void passed();
  /// Wrong credentials from the peer: how long to hold the answer, and whether the peer is now blocked.
  auth_tracker::verdict failed();
  /// A frame or request that could not be read.
  void bad_request();
  bool authenticated() const noexcept { return passed_; }
  std::uint64_t id() const noexcept { return id_; }

 private:
  friend class listener;
  auth_gate(std::weak_ptr<detail::listener_core> core, std::uint64_t id, peer_key peer, std::string peer_text)
      : core_(std::move(core)), id_(id), peer_(peer), peer_text_(std::move(peer_text)) {}

  std::weak_ptr<detail::listener_core> core_;
  std::uint64_t id_ = 0;
  peer_key peer_;
  std::string peer_text_;
  bool passed_ = false;
};

/// A TCP listener: accepts, enforces the connection limits (all connections, and those not yet
/// authenticated: see admission), refuses peers blocked for failed authentications, runs one
/// connection object per socket, and stops them all on shutdown. What the connections speak
/// is the factory's business.
class listener {
 public:
  struct options {
    std::string name;  // "devices", "control": for logs and errors
    std::string address;
    std::uint16_t port = 0;
    std::size_t max_connections = 1024;
    std::size_t max_unauthenticated = 1024;
    std::size_t max_unauthenticated_per_peer = 1024;
    std::string refusal;       // bytes sent to a connection refused at max_connections, then closed
    std::string peer_refusal;  // bytes sent to a connection refused at max_unauthenticated_per_peer
    auth_tracker* failures = nullptr;  // shared by the listeners; null: nobody is ever blocked
  };
  using factory = std::function<std::shared_ptr<connection>(boost::asio::ip::tcp::socket socket, std::uint64_t id,
                                                            std::string peer, auth_gate gate)>;

  listener(boost::asio::io_context& io, options opts, factory make, std::shared_ptr<spdlog::logger> log);
  ~listener();

  /// Binds the listening socket; throws std::system_error naming the address on failure.
  void listen();
  std::uint16_t port() const;
  void start();
  /// Stops accepting and asks every connection to finish; `done` runs once all have closed.
  void stop(std::function<void()> done);
  std::size_t connections() const noexcept { return connections_.size(); }
  const listener_stats& stats() const noexcept;

 private:
  boost::asio::awaitable<void> accept_loop();
  boost::asio::awaitable<void> refuse(boost::asio::ip::tcp::socket socket, const std::string& bytes);
  void on_closed(std::uint64_t id);

  boost::asio::io_context& io_;
  options opts_;
  factory make_;
  std::shared_ptr<spdlog::logger> log_;
  boost::asio::ip::tcp::acceptor acceptor_;
  boost::asio::steady_timer backoff_;
  std::unordered_map<std::uint64_t, std::weak_ptr<connection>> connections_;
  std::shared_ptr<detail::listener_core> core_;  // shared with the gates, which may outlive the listener
  bool stopping_ = false;
  std::function<void()> on_stopped_;
};

}  // namespace vigil::net
