#include "daemon/ingest/server.hpp"

#include "daemon/log/log.hpp"
#include "daemon/ingest/session.hpp"

#include <fmt/format.h>

#include <system_error>

namespace vigil::ingest {

namespace asio = boost::asio;
using asio::ip::tcp;

server::server(asio::io_context& io, const settings& config, device_registry& registry, sample_sink& sink,
               stats& counters)
    : io_(io),
      config_(config),
      registry_(registry),
      sink_(sink),
      stats_(counters),
      log_(log::component_logger("ingest")),
      acceptor_(io),
      backoff_(io) {}

server::~server() = default;

void server::listen() {
  boost::system::error_code ec;
  const auto address = asio::ip::make_address(config_.address, ec);
  if (ec) {
    throw std::system_error(ec, fmt::format("ingest.address '{}' is not an IP address", config_.address));
  }
  const tcp::endpoint endpoint(address, config_.port);
  acceptor_.open(endpoint.protocol());
  acceptor_.set_option(tcp::acceptor::reuse_address(true));
  acceptor_.bind(endpoint, ec);
  if (ec) {
    throw std::system_error(ec, fmt::format("cannot listen for devices on {}:{}", config_.address, config_.port));
  }
  acceptor_.listen(asio::socket_base::max_listen_connections);
  log_->info("listening for devices on {}:{}", config_.address, port());
}

std::uint16_t server::port() const { return acceptor_.local_endpoint().port(); }

void server::start() {
  asio::co_spawn(io_, accept_loop(), [log = log_](std::exception_ptr e) {
    if (!e) return;
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& ex) {
      log->error("accept loop failed: {}", ex.what());
    }
  });
}

asio::awaitable<void> server::accept_loop() {
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
    stats_.add(stats_.connections_accepted);
    if (connections_.size() >= config_.max_connections) {
      stats_.add(stats_.connections_refused);
      asio::co_spawn(io_, refuse(std::move(socket)), asio::detached);
      continue;
    }
    boost::system::error_code peer_ec;
    const auto remote = socket.remote_endpoint(peer_ec);
    std::string peer = peer_ec ? std::string("unknown peer") : fmt::format("{}:{}", remote.address().to_string(), remote.port());
    socket.set_option(tcp::no_delay(true), peer_ec);

    const std::uint64_t id = next_id_++;
    auto session = std::make_shared<device_session<tcp::socket>>(
        std::move(socket), id, std::move(peer), device_protocol::context{config_, registry_, sink_, stats_, *log_});
    connections_.emplace(id, session);
    stats_.connections_active.store(connections_.size(), std::memory_order_relaxed);
    asio::co_spawn(io_, session->run(), [this, id, session](std::exception_ptr e) {
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

asio::awaitable<void> server::refuse(tcp::socket socket) {
  v1::DaemonMessage message;
  auto& error = *message.mutable_error();
  error.set_code(v1::TOO_MANY_CONNECTIONS);
  error.set_message(fmt::format("the daemon is at its limit of {} device connections", config_.max_connections));
  error.set_fatal(true);
  std::string frame;
  codec::append_frame(frame, message);
  log_->warn("refused a device connection: at the limit of {} connections", config_.max_connections);
  co_await asio::async_write(socket, asio::buffer(frame), asio::as_tuple(asio::use_awaitable));
  boost::system::error_code ignored;
  socket.shutdown(tcp::socket::shutdown_both, ignored);
}

void server::on_closed(std::uint64_t id) {
  connections_.erase(id);
  stats_.connections_active.store(connections_.size(), std::memory_order_relaxed);
  if (stopping_ && connections_.empty() && on_stopped_) {
    auto done = std::move(on_stopped_);
    on_stopped_ = nullptr;
    done();
  }
}

void server::stop(std::function<void()> done) {
  stopping_ = true;
  boost::system::error_code ignored;
  acceptor_.close(ignored);
  backoff_.cancel();
  on_stopped_ = std::move(done);
  if (connections_.empty()) {
    auto callback = std::move(on_stopped_);
    on_stopped_ = nullptr;
    if (callback) asio::post(io_, std::move(callback));
    return;
  }
  log_->info("closing {} device connections", connections_.size());
  for (auto& [id, weak] : connections_) {
    if (auto c = weak.lock()) c->shutdown();
  }
}

}  // namespace vigil::ingest
