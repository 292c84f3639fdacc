#pragma once

#include "daemon/feed/session.hpp"
#include "daemon/http/api.hpp"
#include "daemon/http/settings.hpp"
#include "daemon/net/listener.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/thread_pool.hpp>

#include <cstdint>
#include <functional>
#include <memory>

namespace vigil::http {

/// What the WebSocket feed serves from (the session tokens of signing in are added by the server).
using feed_context = feed::context;

/// The HTTP listener: one http_session per connection, the REST API, /healthz, /metrics and
/// the WebSocket feed (from `feed`, which must outlive the server), and signing in with a user
/// name and password (the users of `feed`).
class server {
 public:
  /// `failures`: failed authentications per peer, shared with the other listeners (may be null).
  /// Makes the dummy password hash of password_check (one Argon2id hash, when a user has a password).
  server(boost::asio::io_context& io, const settings& config, control::service& commands, sources from,
         feed_context feed, net::auth_tracker* failures = nullptr);
  /// Waits for a timeline read still running on the reader thread.
  ~server();

  /// Binds the listening socket; throws std::system_error naming the address on failure.
  void listen() { listener_.listen(); }
  std::uint16_t port() const { return listener_.port(); }
  void start() { listener_.start(); }
  /// Stops accepting; idle connections close at once, a request being served is answered first.
  void stop(std::function<void()> done) { listener_.stop(std::move(done)); }
  std::size_t connections() const noexcept { return listener_.connections(); }
  const net::listener_stats& connection_stats() const noexcept { return listener_.stats(); }

 private:
  std::shared_ptr<spdlog::logger> log_;
  boost::asio::thread_pool readers_{1};
  sign_ins sign_ins_;
  password_check passwords_;
  api api_;
  feed_context feed_;
  net::listener listener_;
};

}  // namespace vigil::http
