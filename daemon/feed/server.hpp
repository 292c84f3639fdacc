#pragma once

#include "daemon/control/access.hpp"
#include "daemon/feed/settings.hpp"
#include "daemon/hub/hub.hpp"
#include "daemon/net/listener.hpp"

#include <boost/asio/io_context.hpp>

#include <functional>
#include <memory>
#include <vector>

namespace vigil::feed {

/// The TCP listener for feed subscribers: one feed_session per connection.
class server {
 public:
  /// `failures`: failed authentications per peer, shared with the other listeners (may be null).
  server(boost::asio::io_context& io, const settings& config, hub::hub& hub, const std::vector<control::user>& users,
         net::auth_tracker* failures = nullptr);

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

}  // namespace vigil::feed
