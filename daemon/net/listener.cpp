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

using steady = std::chrono::steady_clock;

/// At most one log line per kind of refusal every `quiet`: a flood of connections is one line
/// (with how many went unlogged), not one per connection. The counters have every one.
class burst {
 public:
  static constexpr auto quiet = std::chrono::seconds(10);

  /// Whether to log this event; `unlogged` is then how many came since the last line.
  bool due(steady::time_point now, std::uint64_t& unlogged) {
    if (logged_ && now - last_ < quiet) {
      ++held_;
      return false;
    }
    unlogged = std::exchange(held_, 0);
    logged_ = true;
    last_ = now;
    return true;
  }

 private:
  steady::time_point last_{};
  std::uint64_t held_ = 0;
  bool logged_ = false;
};

std::string since(std::uint64_t unlogged) {
  return unlogged == 0 ? std::string() : fmt::format(" ({} more since the last report)", unlogged);
}

void add(listener_stats::counter& c) { c.fetch_add(1, std::memory_order_relaxed); }

}  // namespace

namespace detail {

/// What a listener shares with the gates of its connections.
struct listener_core {
  listener_core(admission::limits limits, auth_tracker* f, std::shared_ptr<spdlog::logger> l)
      : policy(limits), failures(f), log(std::move(l)) {}

  void counted() { stats.unauthenticated.store(policy.unauthenticated(), std::memory_order_relaxed); }

  admission policy;
  auth_tracker* failures;
  std::shared_ptr<spdlog::logger> log;
  listener_stats stats;
  burst refused_peer;
  burst refused_full;
  burst evicted;
};

}  // namespace detail

void auth_gate::passed() {
  if (passed_) return;
  passed_ = true;
  if (const auto core = core_.lock()) {
    core->policy.authenticated(id_);
    core->counted();
  }
}

auth_tracker::verdict auth_gate::failed() {
  const auto core = core_.lock();
  if (!core) return {};
  add(core->stats.auth_failures);
  if (core->failures == nullptr) return {};
  const auto verdict = core->failures->failed(peer_);
  if (verdict.delay.count() > 0) add(core->stats.auth_delayed);
  if (verdict.block_started) {
    const auto& l = core->failures->settings();
    core->log->warn("[C{}] {}: address {} blocked for {} s after {} failed authentications within {} s; its new "
                    "connections are closed at once",
                    id_, peer_text_, peer_.to_string(), l.block_for.count() / 1000, verdict.failures,
                    l.window.count() / 1000);
  }
  return verdict;
}

void auth_gate::bad_request() {
  if (const auto core = core_.lock()) add(core->stats.bad_requests);
}

listener::listener(asio::io_context& io, options opts, factory make, std::shared_ptr<spdlog::logger> log)
    : io_(io),
      opts_(std::move(opts)),
      make_(std::move(make)),
      log_(std::move(log)),
      acceptor_(io),
      backoff_(io),
      core_(std::make_shared<detail::listener_core>(
          admission::limits{opts_.max_connections, opts_.max_unauthenticated, opts_.max_unauthenticated_per_peer},
          opts_.failures, log_)) {}

listener::~listener() = default;

const listener_stats& listener::stats() const noexcept { return core_->stats; }

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
  auto& stats = core_->stats;
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
    add(stats.accepted);
    boost::system::error_code peer_ec;
    const auto remote = socket.remote_endpoint(peer_ec);
    if (peer_ec) continue;  // gone already: nothing to serve, nobody to answer
    const auto key = peer_key::of(remote.address());
    if (opts_.failures != nullptr && opts_.failures->blocked(key)) {
      // Logged once when the block began; each connection is only counted.
      add(stats.blocked);
      boost::system::error_code ignored;
      socket.close(ignored);
      continue;
    }

    const std::uint64_t id = next_connection_id.fetch_add(1, std::memory_order_relaxed);
    const auto decision = core_->policy.admit(id, key);
    const auto now = steady::now();
    std::uint64_t unlogged = 0;
    if (decision.result == admission::outcome::refused_peer_limit) {
      add(stats.refused_unauthenticated);
      if (core_->refused_peer.due(now, unlogged)) {
        log_->warn("[C{}] {}:{} refused: address {} already holds {} {} connections that have not authenticated, its "
                   "limit{}",
                   id, remote.address().to_string(), remote.port(), key.to_string(),
                   core_->policy.unauthenticated_from(key), opts_.name, since(unlogged));
      }
      asio::co_spawn(io_, refuse(std::move(socket), opts_.peer_refusal), asio::detached);
      continue;
    }
    if (decision.result == admission::outcome::refused_full) {
      add(stats.refused);
      if (core_->refused_full.due(now, unlogged)) {
        log_->warn("[C{}] {}:{} refused: at the limit of {} {} connections, all authenticated{}", id,
                   remote.address().to_string(), remote.port(), opts_.max_connections, opts_.name, since(unlogged));
      }
      asio::co_spawn(io_, refuse(std::move(socket), opts_.refusal), asio::detached);
      continue;
    }
    if (decision.evicted) {
      add(stats.evicted);
      if (core_->evicted.due(now, unlogged)) {
        log_->warn("[C{}] {} closed to make room for [C{}]: the oldest {} connection that has not authenticated ({} "
                   "of them open, {} connections){}",
                   *decision.evicted, decision.evicted_peer.to_string(), id, opts_.name,
                   core_->policy.unauthenticated(), core_->policy.connections(), since(unlogged));
      }
      if (const auto it = connections_.find(*decision.evicted); it != connections_.end()) {
        if (const auto c = it->second.lock()) c->evict();
      }
    }
    core_->counted();

    std::string peer = fmt::format("{}:{}", remote.address().to_string(), remote.port());
    socket.set_option(tcp::no_delay(true), peer_ec);
    auth_gate gate(core_, id, key, peer);
    auto conn = make_(std::move(socket), id, std::move(peer), std::move(gate));
    connections_.emplace(id, conn);
    stats.active.store(connections_.size(), std::memory_order_relaxed);
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

asio::awaitable<void> listener::refuse(tcp::socket socket, const std::string& bytes) {
  co_await asio::async_write(socket, asio::buffer(bytes), asio::as_tuple(asio::use_awaitable));
  boost::system::error_code ignored;
  socket.shutdown(tcp::socket::shutdown_both, ignored);
}

void listener::on_closed(std::uint64_t id) {
  connections_.erase(id);
  core_->policy.closed(id);
  core_->counted();
  core_->stats.active.store(connections_.size(), std::memory_order_relaxed);
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
