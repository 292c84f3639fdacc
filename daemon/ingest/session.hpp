#pragma once

#include "daemon/codec/frame.hpp"
#include "daemon/ingest/device_protocol.hpp"
#include "daemon/net/listener.hpp"
#include "vigil/v1/device.pb.h"

#include <boost/asio.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/beast/core/stream_traits.hpp>
#include <spdlog/spdlog.h>

#include <chrono>
#include <memory>
#include <string>

namespace vigil::ingest {

namespace asio = boost::asio;

/// One device connection over any Asio stream (a TCP socket today; TLS can wrap it
/// later without touching this code). A reader, a writer and a watchdog coroutine
/// share one device_protocol; everything runs on the stream's executor.
template <class Stream>
class device_session final : public net::connection,
                             public device_link,
                             public std::enable_shared_from_this<device_session<Stream>> {
 public:
  using clock = std::chrono::steady_clock;

  device_session(Stream stream, std::uint64_t id, std::string peer, device_protocol::context ctx,
                 net::auth_gate gate = {})
      : stream_(std::move(stream)),
        peer_(std::move(peer)),
        config_(ctx.config),
        log_(ctx.log),
        gate_(std::move(gate)),
        protocol_(id, ctx, *this, &gate_),
        decoder_(ctx.config.max_frame_bytes),
        writer_wake_(stream_.get_executor(), clock::time_point::max()),
        reader_wake_(stream_.get_executor(), clock::time_point::max()),
        watchdog_(stream_.get_executor()),
        hold_(stream_.get_executor()) {}

  asio::awaitable<void> run() override {
    using namespace asio::experimental::awaitable_operators;
    auto self = this->shared_from_this();
    deadline_ = clock::now() + config_.handshake_timeout;
    log_.debug("[C{}] accepted from {}", protocol_.connection_id(), peer_);
    co_await (read_loop() && write_loop() && watchdog());
    if (protocol_.close_is_fault()) {
      log_.warn("[C{}] {} closed: {}", protocol_.connection_id(), peer_, protocol_.close_reason());
    } else {
      log_.info("[C{}] {} closed: {}", protocol_.connection_id(), peer_, protocol_.close_reason());
    }
  }

  /// Stops taking frames, sends what is due and a SHUTTING_DOWN error, then closes.
  void shutdown() override {
    protocol_.fail(v1::SHUTTING_DOWN, "the daemon is stopping; reconnect and resend after the last ack");
    begin_close();
  }

  /// Closes a connection still without a Hello to make room: TOO_MANY_CONNECTIONS, then the close.
  void evict() override {
    protocol_.fail(v1::TOO_MANY_CONNECTIONS,
                   "closed to make room: the daemon is at its limit of device connections without a Hello, and this "
                   "was the oldest; send the Hello at once after connecting");
    begin_close();
  }

  void acked() override { writer_wake_.cancel(); }

  void storage_failed() override {
    protocol_.fail(v1::STORAGE_UNAVAILABLE,
                   "the timeline could not be saved; reconnect after a delay and resend after the last ack");
    begin_close();
  }

  void sequence_reset() override {
    protocol_.on_sequence_reset();
    begin_close();
  }

  void chair_moved(const std::string& redirect, const std::string& node) override {
    protocol_.on_chair_moved(redirect, node);
    begin_close();
  }

  void superseded() override {
    protocol_.fail(v1::DEVICE_RECONNECTED, "the same device connected again; this connection is replaced");
    begin_close();
  }

 private:
  static constexpr auto nothrow = asio::as_tuple(asio::use_awaitable);
  // A device that sends faster than it reads replies stops being read past this.
  static constexpr std::size_t max_output_backlog = 256 * 1024;

  void begin_close() {
    // A stop or an eviction does not wait out a slowed answer to wrong credentials.
    cut_short_ = true;
    hold_.cancel();
    deadline_ = clock::now() + config_.close_timeout;
    watchdog_.cancel();
    read_cancel_.emit(asio::cancellation_type::all);
    writer_wake_.cancel();
    reader_wake_.cancel();
  }

  asio::awaitable<void> read_loop() {
    v1::DeviceMessage message;
    bool received = false;
    clock::time_point arrived{};  // when the bytes being decoded were read
    for (;;) {
      while (!protocol_.closing()) {
        const auto frame = decoder_.next(message);
        if (frame.status == codec::decode_status::need_more) break;
        if (frame.status == codec::decode_status::bad) {
          protocol_.on_bad_frame(frame.error);
          break;
        }
        protocol_.on_message(message, arrived);
      }
      if (received && protocol_.streaming()) {
        deadline_ = clock::now() + config_.idle_timeout;
        // The idle deadline may fall before the handshake deadline the watchdog waits for.
        if (!idle_armed_) {
          idle_armed_ = true;
          watchdog_.cancel();
        }
      }
      received = false;
      if (protocol_.has_output()) writer_wake_.cancel();
      if (protocol_.closing()) break;
      if (protocol_.backlog_bytes() > max_output_backlog) {
        co_await reader_wake_.async_wait(nothrow);
        continue;
      }
      const auto space = decoder_.prepare();
      auto [ec, n] = co_await stream_.async_read_some(
          asio::buffer(space.data(), space.size()),
          asio::bind_cancellation_slot(read_cancel_.slot(), nothrow));
      if (ec) {
        if (ec == asio::error::eof) {
          protocol_.on_peer_closed(decoder_.finish());
        } else if (ec != asio::error::operation_aborted) {
          protocol_.on_transport_error(ec.message());
        }
        break;
      }
      decoder_.commit(n);
      received = true;
      arrived = clock::now();
    }
    reading_done_ = true;
    // However the conversation ended, the last frames get close_timeout, not the idle timeout;
    // an answer held back for wrong credentials gets its delay on top.
    reply_delay_ = cut_short_ ? std::chrono::milliseconds(0) : protocol_.take_reply_delay();
    const auto last = clock::now() + reply_delay_ + config_.close_timeout;
    if (deadline_ > last || reply_delay_.count() > 0) {
      deadline_ = last;
      watchdog_.cancel();
    }
    writer_wake_.cancel();
  }

  asio::awaitable<void> write_loop() {
    std::string out;
    for (;;) {
      out.clear();
      protocol_.take_output(out);
      if (out.empty()) {
        // A device that closed its side still gets the Ack of the batches it sent, once stored.
        if (reading_done_ && (dropped_ || !protocol_.awaiting_ack())) break;
        co_await writer_wake_.async_wait(nothrow);
        continue;
      }
      if (reply_delay_.count() > 0 && !cut_short_) {
        hold_.expires_after(std::exchange(reply_delay_, {}));
        co_await hold_.async_wait(nothrow);
      }
      auto [ec, n] = co_await asio::async_write(stream_, asio::buffer(out), nothrow);
      reader_wake_.cancel();
      if (ec) {
        if (ec != asio::error::operation_aborted) protocol_.on_transport_error(ec.message());
        break;
      }
    }
    finished_ = true;
    auto& socket = boost::beast::get_lowest_layer(stream_);
    boost::system::error_code ignored;
    socket.shutdown(asio::socket_base::shutdown_both, ignored);
    socket.close(ignored);
    read_cancel_.emit(asio::cancellation_type::all);
    reader_wake_.cancel();
    watchdog_.cancel();
  }

  asio::awaitable<void> watchdog() {
    while (!finished_) {
      watchdog_.expires_at(deadline_);
      co_await watchdog_.async_wait(nothrow);
      if (finished_ || clock::now() < deadline_) continue;
      if (protocol_.closing()) {
        // The device is not reading its last frames, or its last batches are not stored in
        // time: drop the connection.
        dropped_ = true;
        boost::system::error_code ignored;
        boost::beast::get_lowest_layer(stream_).close(ignored);
        writer_wake_.cancel();
        break;
      }
      protocol_.on_timeout();
      begin_close();
    }
  }

  Stream stream_;
  std::string peer_;
  const settings& config_;
  spdlog::logger& log_;
  net::auth_gate gate_;  // before protocol_, which reports to it
  device_protocol protocol_;
  codec::frame_decoder decoder_;
  asio::steady_timer writer_wake_;  // never expires; cancel() wakes the writer
  asio::steady_timer reader_wake_;  // never expires; cancel() wakes a reader held by backpressure
  asio::steady_timer watchdog_;
  asio::steady_timer hold_;  // holds the answer to wrong credentials (net::auth_tracker)
  asio::cancellation_signal read_cancel_;
  clock::time_point deadline_{};
  std::chrono::milliseconds reply_delay_{0};
  bool cut_short_ = false;
  bool idle_armed_ = false;
  bool reading_done_ = false;
  bool finished_ = false;
  bool dropped_ = false;  // the close deadline passed
};

}  // namespace vigil::ingest
