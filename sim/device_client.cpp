#include "sim/device_client.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <fmt/format.h>

namespace vigil::sim {

namespace asio = boost::asio;
using asio::ip::tcp;

namespace {
constexpr auto nothrow = asio::as_tuple(asio::use_awaitable);

// Refusals that a reconnect cannot cure.
bool permanent(v1::ErrorCode code) {
  return code == v1::UNKNOWN_DEVICE || code == v1::BAD_TOKEN || code == v1::BAD_CHAIR ||
         code == v1::BAD_CADENCE || code == v1::UNSUPPORTED_VERSION;
}
}  // namespace

device_client::device_client(asio::any_io_executor executor, options opts)
    : opts_(std::move(opts)),
      executor_(executor),
      socket_(executor),
      wake_(executor, std::chrono::steady_clock::time_point::max()),
      progress_(executor, std::chrono::steady_clock::time_point::max()),
      retry_(executor),
      decoder_(codec::hard_max_frame_bytes) {
  addresses_.emplace_back(opts_.host, opts_.port);
  addresses_.insert(addresses_.end(), opts_.more_addresses.begin(), opts_.more_addresses.end());
  // Monitors of a clinic start on different daemons of a cluster, by their chair.
  address_ = std::hash<std::string>{}(opts_.chair_id) % addresses_.size();
}

namespace {
/// "host:port" or "[v6]:port" as a redirect names a daemon; nothing if unreadable.
std::optional<std::pair<std::string, std::uint16_t>> parse_address(const std::string& text) {
  const auto colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == text.size()) return std::nullopt;
  std::string host = text.substr(0, colon);
  if (host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  unsigned port = 0;
  for (char c : text.substr(colon + 1)) {
    if (c < '0' || c > '9' || port > 65535) return std::nullopt;
    port = port * 10 + static_cast<unsigned>(c - '0');
  }
  if (port == 0 || port > 65535 || host.empty()) return std::nullopt;
  return std::make_pair(host, static_cast<std::uint16_t>(port));
}
}  // namespace

std::pair<std::string, std::uint16_t> device_client::next_address(bool after_failure) {
  if (redirect_) return *std::exchange(redirect_, std::nullopt);
  if (after_failure) address_ = (address_ + 1) % addresses_.size();
  return addresses_[address_];
}

std::uint64_t device_client::push(const google::protobuf::RepeatedPtrField<v1::Sample>& samples) {
  // The batch message is kept between calls: its samples' memory is reused.
  auto& batch = *scratch_.mutable_batch();
  batch.set_seq(next_seq_);
  *batch.mutable_samples() = samples;
  pending p{next_seq_, static_cast<std::uint32_t>(samples.size()), {}};
  codec::append_frame(p.frame, scratch_);
  queue_.push_back(std::move(p));
  wake_.cancel();
  return next_seq_++;
}

asio::awaitable<void> device_client::wait_for_room() {
  while (!stopped_ && queue_.size() >= opts_.max_queued) co_await progress_.async_wait(nothrow);
}

asio::awaitable<void> device_client::drain() {
  // pushed_seq() is read on every wake: the first handshake may renumber the queue.
  while (!stopped_ && acked_seq_ < pushed_seq()) co_await progress_.async_wait(nothrow);
}

asio::awaitable<void> device_client::wait_acked(std::uint64_t seq) {
  while (!stopped_ && acked_seq_ < seq) co_await progress_.async_wait(nothrow);
}

asio::awaitable<void> device_client::wait_connected() {
  while (!stopped_ && !refused_ && !connected_) co_await progress_.async_wait(nothrow);
}

void device_client::suspend() {
  suspended_ = true;
  drop_connection();
}

void device_client::resume() {
  suspended_ = false;
  retry_.cancel();
}

void device_client::wake_all() {
  wake_.cancel();
  progress_.cancel();
}

void device_client::stop() {
  stopped_ = true;
  drop_connection();
  retry_.cancel();
  wake_all();
}

void device_client::drop_connection() {
  boost::system::error_code ignored;
  socket_.shutdown(tcp::socket::shutdown_both, ignored);
  socket_.close(ignored);
  wake_.cancel();
}

asio::awaitable<void> device_client::run() {
  using namespace asio::experimental::awaitable_operators;
  tcp::resolver resolver(executor_);
  bool failed = false;
  while (!stopped_) {
    const auto [host, port] = next_address(failed);
    failed = true;
    auto [rec, endpoints] = co_await resolver.async_resolve(host, std::to_string(port), nothrow);
    unreachable_ = rec;
    if (!rec) {
      socket_ = tcp::socket(executor_);
      auto [cec, endpoint] = co_await asio::async_connect(socket_, endpoints, nothrow);
      unreachable_ = cec;
      if (!cec && !stopped_) {
        socket_.set_option(tcp::no_delay(true), cec);
        decoder_ = codec::frame_decoder(codec::hard_max_frame_bytes);
        ++counters_.connects;
        if (co_await handshake()) {
          connected_ = true;
          redirects_in_a_row_ = 0;
          wake_all();
          co_await (read_loop() || write_loop());
          connected_ = false;
          // Dropped after streaming: the same daemon first (a restart), unless redirected.
          failed = false;
        }
      }
    }
    drop_connection();
    if (stopped_ || refused_) break;
    // A redirect is followed at once, though not round and round without a Welcome.
    if (redirect_ && redirects_in_a_row_ < 3) {
      ++redirects_in_a_row_;
    } else {
      redirects_in_a_row_ = 0;
      retry_.expires_after(opts_.reconnect_delay);
      co_await retry_.async_wait(nothrow);
    }
    while (suspended_ && !stopped_) {
      retry_.expires_after(std::chrono::hours(24));
      co_await retry_.async_wait(nothrow);
    }
  }
  wake_all();
}

asio::awaitable<bool> device_client::read_message(v1::DaemonMessage& message) {
  for (;;) {
    const auto frame = decoder_.next(message);
    if (frame.status == codec::decode_status::ok) co_return true;
    if (frame.status == codec::decode_status::bad) {
      last_error_ = fmt::format("bad frame from the daemon: {}", codec::describe(frame.error));
      co_return false;
    }
    const auto space = decoder_.prepare();
    auto [ec, n] = co_await socket_.async_read_some(asio::buffer(space.data(), space.size()), nothrow);
    if (ec) co_return false;
    decoder_.commit(n);
  }
}

asio::awaitable<bool> device_client::handshake() {
  v1::DeviceMessage hello_message;
  auto& hello = *hello_message.mutable_hello();
  hello.set_device_id(opts_.device_id);
  hello.set_token(opts_.token);
  hello.set_chair_id(opts_.chair_id);
  hello.set_protocol_version(v1::PROTOCOL_VERSION_1);
  hello.set_software(opts_.software);
  for (const auto& [kind, every] : opts_.cadences) {
    auto& c = *hello.add_cadences();
    c.set_kind(kind);
    c.set_interval_ms(every);
  }
  std::string frame;
  codec::append_frame(frame, hello_message);
  auto [ec, n] = co_await asio::async_write(socket_, asio::buffer(frame), nothrow);
  if (ec) co_return false;

  v1::DaemonMessage reply;
  if (!co_await read_message(reply)) co_return false;
  if (reply.has_error()) {
    note_error(reply.error());
    if (permanent(reply.error().code())) refused_ = true;
    co_return false;
  }
  if (!reply.has_welcome()) co_return false;
  if (const auto idle = reply.welcome().idle_timeout_ms(); idle > 0) {
    ping_every_ = std::chrono::milliseconds(std::max<std::uint32_t>(idle / 3, 50));
  }
  if (!resumed_) {
    resumed_ = true;
    if (acked_seq_ == 0) renumber_after(reply.welcome().acked_seq());
  }
  on_ack(reply.welcome().acked_seq());
  unsent_ = 0;  // everything still held was not acked: send it again
  co_return true;
}

void device_client::renumber_after(std::uint64_t acked) {
  if (acked == 0) return;
  std::uint64_t seq = acked;
  codec::frame_decoder decoder(codec::hard_max_frame_bytes);
  for (auto& p : queue_) {
    p.seq = ++seq;
    decoder.feed({reinterpret_cast<const std::uint8_t*>(p.frame.data()), p.frame.size()});
    if (decoder.next(scratch_).status != codec::decode_status::ok) continue;  // our own frame: cannot fail
    scratch_.mutable_batch()->set_seq(seq);
    p.frame.clear();
    codec::append_frame(p.frame, scratch_);
  }
  next_seq_ = seq + 1;
  acked_seq_ = acked;
}

void device_client::on_ack(std::uint64_t seq) {
  if (seq > acked_seq_) acked_seq_ = seq;
  while (!queue_.empty() && queue_.front().seq <= acked_seq_) {
    counters_.samples_acked += queue_.front().samples;
    queue_.pop_front();
    if (unsent_ > 0) --unsent_;
  }
  wake_all();
}

void device_client::note_error(const v1::Error& error) {
  ++counters_.errors;
  if (error.code() == v1::CHAIR_ELSEWHERE) {
    ++counters_.redirects;
    if (error.has_redirect()) redirect_ = parse_address(error.redirect().ingest_address());
  }
  counters_.samples_rejected += static_cast<std::uint64_t>(error.rejected_size());
  last_error_ = fmt::format("{}: {}", v1::ErrorCode_Name(error.code()), error.message());
}

asio::awaitable<void> device_client::read_loop() {
  v1::DaemonMessage message;
  while (co_await read_message(message)) {
    if (message.has_ack()) {
      on_ack(message.ack().acked_seq());
    } else if (message.has_error()) {
      note_error(message.error());
      if (message.error().fatal()) co_return;
    }
  }
}

asio::awaitable<void> device_client::write_loop() {
  using namespace asio::experimental::awaitable_operators;
  std::string out;
  while (!stopped_) {
    out.clear();
    const std::uint64_t in_flight_limit = acked_seq_ + opts_.max_in_flight;
    while (unsent_ < queue_.size() && queue_[unsent_].seq <= in_flight_limit && out.size() < 256 * 1024) {
      out += queue_[unsent_].frame;
      counters_.samples_sent += queue_[unsent_].samples;
      ++counters_.batches_sent;
      ++unsent_;
    }
    if (out.empty()) {
      // Nothing to send: wait for a batch, and ping before the daemon's idle timeout.
      asio::steady_timer idle(executor_, ping_every_);
      auto woken = wake_.async_wait(nothrow);
      auto idle_wait = idle.async_wait(nothrow);
      const auto which = co_await (std::move(woken) || std::move(idle_wait));
      if (!socket_.is_open()) co_return;
      if (which.index() == 0) continue;
      v1::DeviceMessage ping;
      ping.mutable_ping()->set_nonce(++ping_nonce_);
      codec::append_frame(out, ping);
    }
    auto [ec, n] = co_await asio::async_write(socket_, asio::buffer(out), nothrow);
    if (ec) co_return;
  }
}

}  // namespace vigil::sim
