#include "daemon/net/listener.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <system_error>

namespace vigil::net {

namespace asio = boost::asio;
using asio::ip::tcp;

namespace {
// Connection ids are unique across listeners, so "[C12]" names one connection in the whole log.
std::atomic<std::uint64_t> next_connection_id{1};
}  // namespace

listener::listener(asio::io_context& io, options opts, factory make, std::shared_ptr<spdlog::logger> log)
    : io_(io), opts_(std::move(opts)), make_(std::move(make)), log_(std::move(log)), acceptor_(io), backoff_(io) {}

listener::~listener() = default;

void listener::listen() {
  boost::system::error_code ec;
  const auto address = asio::ip::make_address(opts_.address, ec);
  if (ec) throw std::system_error(ec, fmt::format("{} address '{}' is not an IP address", opts_.name, opts_.address));
  const tcp::endpoint endpoint(address, opts_.port);
  acceptor_.open(endpoint.protocol());
  acceptor_.set_option(tcp::acceptor::reuse_address(true));
  acceptor_.bind(endpoint, ec);
  if (ec) throw std::system_error(ec, fmt::format("cannot listen for {} on {}:{}", opts_.name, opts_.address, opts_.port));
  acceptor_.listen(asio::socket_base::max_listen_connections);
  log_->info("listening for {} on {}:{}", opts_.name, opts_.address, port());
}

std::uint16_t listener::port() const { return acceptor_.local_endpoint().port(); }

void listener::start() {
  asio::co_spawn(io_, accept_loop(), [log = log_](std::exception_ptr e) {
    if (!e) return;
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& ex) {
      log->error("accept loop failed: {}", ex.what());
    }
  });
}

asio::awaitable<void> listener::accept_loop() {
  constexpr auto nothrow = asio::as_tuple(asio::use_awaitable);
  while (!stopping_) {
    auto [ec, socket] = co_await acceptor_.async_accept(nothrow);
    if (ec == asio::error::operation_aborted || stopping_) break;
    if (ec) {
      // Out of descriptors or memory: say so, pause, and keep serving the connections we have.
      log_->error("accept failed: {}; retrying in 100 ms", ec.message());
      backoff_.expires_after(std::chrono::milliseconds(100));
      co_await backoff_.async_wait(nothrow);
      continue;
    }
    stats_.accepted.fetch_add(1, std::memory_order_relaxed);
    if (connections_.size() >= opts_.max_connections) {
      stats_.refused.fetch_add(1, std::memory_order_relaxed);
      log_->warn("refused a {} connection: at the limit of {} connections", opts_.name, opts_.max_connections);
      asio::co_spawn(io_, refuse(std::move(socket)), asio::detached);
      continue;
    }
    boost::system::error_code peer_ec;
    const auto remote = socket.remote_endpoint(peer_ec);
    std::string peer =
        peer_ec ? std::string("unknown peer") : fmt::format("{}:{}", remote.address().to_string(), remote.port());
    socket.set_option(tcp::no_delay(true), peer_ec);

    const std::uint64_t id = next_connection_id.fetch_add(1, std::memory_order_relaxed);
    auto conn = make_(std::move(socket), id, std::move(peer));
    connections_.emplace(id, conn);
    stats_.active.store(connections_.size(), std::memory_order_relaxed);
    asio::co_spawn(io_, conn->run(), [this, id, conn](std::exception_ptr e) {
      if (e) {
        try {
          std::rethrow_exception(e);
        } catch (const std::exception& ex) {
          log_->error("[C{}] connection failed: {}", id, ex.what());
        }
      }
      on_closed(id);
    });
  }
}

asio::awaitable<void> listener::refuse(tcp::socket socket) {
  co_await asio::async_write(socket, asio::buffer(opts_.refusal), asio::as_tuple(asio::use_awaitable));
  boost::system::error_code ignored;
  socket.shutdown(tcp::socket::shutdown_both, ignored);
}

void listener::on_closed(std::uint64_t id) {
  connections_.erase(id);
  stats_.active.store(connections_.size(), std::memory_order_relaxed);
  if (stopping_ && connections_.empty() && on_stopped_) std::exchange(on_stopped_, nullptr)();
}

void listener::stop(std::function<void()> done) {
  stopping_ = true;
  boost::system::error_code ignored;
  acceptor_.close(ignored);
  backoff_.cancel();
  if (connections_.empty()) {
    if (done) asio::post(io_, std::move(done));
    return;
  }
  on_stopped_ = std::move(done);
  log_->info("closing {} connections ({})", connections_.size(), opts_.name);
  for (auto& [id, weak] : connections_) {
    if (auto c = weak.lock()) c->shutdown();
  }
}

}  // namespace vigil::net
