#pragma once

#include "daemon/codec/frame.hpp"
#include "daemon/control/access.hpp"
#include "daemon/feed/settings.hpp"
#include "daemon/hub/hub.hpp"
#include "daemon/net/listener.hpp"
#include "vigil/v1/feed.pb.h"

#include <boost/asio.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/beast/core/stream_traits.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <deque>
#include <memory>
#include <string>
#include <vector>

namespace vigil::feed {

namespace asio = boost::asio;

/// One subscriber on the TCP feed, over any Asio stream: a FeedRequest in, then the hub's
/// frames out until either side closes.
template <class Stream>
class feed_session final : public net::connection, public std::enable_shared_from_this<feed_session<Stream>> {
 public:
  feed_session(Stream stream, std::uint64_t id, std::string peer, hub::hub& hub, const std::vector<control::user>& users,
               const settings& config, spdlog::logger& log, net::auth_gate gate = {})
      : gate_(std::move(gate)),
        stream_(std::move(stream)),
        id_(id),
        peer_(std::move(peer)),
        hub_(hub),
        users_(users),
        config_(config),
        log_(log),
        decoder_(max_request_bytes),
        timer_(stream_.get_executor()),
        wake_(stream_.get_executor(), clock::time_point::max()),
        abort_(stream_.get_executor(), clock::time_point::max()) {}

  asio::awaitable<void> run() override {
    using namespace asio::experimental::awaitable_operators;
    auto self = this->shared_from_this();
    if (co_await handshake()) {
      co_await (write_loop() || read_loop());
      hub_.unsubscribe(*sub_);
    }
    auto& socket = boost::beast::get_lowest_layer(stream_);
    boost::system::error_code ignored;
    socket.shutdown(asio::socket_base::shutdown_both, ignored);
    socket.close(ignored);
    log_.info("[C{}] feed subscriber {} closed: {}", id_, peer_, reason_);
  }

  void shutdown() override {
    stopping_ = true;
    timer_.cancel();
    wake_.cancel();
  }

  /// Only ever called before the FeedRequest is accepted: the handshake answers it.
  void evict() override {
    evicted_ = true;
    timer_.cancel();
  }

 private:
  using clock = asio::steady_timer::clock_type;
  static constexpr auto nothrow = asio::as_tuple(asio::use_awaitable);
  static constexpr std::size_t max_request_bytes = 16 * 1024;

  /// Reads the FeedRequest and subscribes; false (with the refusal sent) if that fails.
  asio::awaitable<bool> handshake() {
    using namespace asio::experimental::awaitable_operators;
    v1::FeedRequest request;
    timer_.expires_after(config_.handshake_timeout);
    for (;;) {
      const auto frame = decoder_.next(request);
      if (frame.status == codec::decode_status::ok) break;
      if (frame.status == codec::decode_status::bad) {
        gate_.bad_request();
        co_await refuse(v1::FEED_ERROR_UNPARSABLE, fmt::format("bad frame: {}", codec::describe(frame.error)));
        co_return false;
      }
      const auto space = decoder_.prepare();
      auto result = co_await (stream_.async_read_some(asio::buffer(space.data(), space.size()), nothrow) ||
                              timer_.async_wait(nothrow));
      if (result.index() == 1) {
        if (stopping_) {
          co_await refuse(v1::FEED_ERROR_SHUTTING_DOWN, "the daemon is stopping");
        } else if (evicted_) {
          co_await refuse(v1::FEED_ERROR_TOO_MANY_CONNECTIONS,
                          "closed to make room: the daemon is at its limit of feed connections without an accepted "
                          "FeedRequest, and this was the oldest; send the FeedRequest at once after connecting");
        } else {
          co_await refuse(v1::FEED_ERROR_HANDSHAKE_TIMEOUT,
                          fmt::format("no FeedRequest within {} ms", config_.handshake_timeout.count()));
        }
        co_return false;
      }
      auto [ec, n] = std::get<0>(result);
      if (ec) {
        reason_ = ec == asio::error::eof ? "closed before subscribing" : fmt::format("connection error: {}", ec.message());
        co_return false;
      }
      decoder_.commit(n);
    }
    const control::user* who = control::find_user(users_, request.token());
    if (who == nullptr) {
      log_.warn("[C{}] {} sent a missing or unknown feed token", id_, peer_);
      if (!request.token().empty()) {
        // A wrong token counts against the address, and its answer may be held back.
        if (const auto verdict = gate_.failed(); verdict.delay.count() > 0 && !stopping_ && !evicted_) {
          timer_.expires_after(verdict.delay);
          co_await timer_.async_wait(nothrow);
        }
      }
      co_await refuse(v1::FEED_ERROR_UNAUTHORIZED, "missing or unknown token");
      co_return false;
    }
    gate_.passed();
    std::string error;
    const auto filter = hub::filter::from(request.subscribe(), error);
    if (!filter) {
      co_await refuse(v1::FEED_ERROR_BAD_REQUEST, error);
      co_return false;
    }
    const auto& s = request.subscribe();
    const auto resume = s.has_resume_after() ? std::optional<std::uint64_t>(s.resume_after()) : std::nullopt;
    auto result = hub_.subscribe(*filter, hub::format::protobuf, resume, [weak = this->weak_from_this()] {
      if (auto session = weak.lock()) session->wake();
    });
    if (!result.sub) {
      co_await refuse(result.error, result.message);
      co_return false;
    }
    sub_ = std::move(result.sub);
    // For the writes made straight from the hub's publish (wake); the loop's own are async.
    boost::system::error_code ec;
    boost::beast::get_lowest_layer(stream_).non_blocking(true, ec);
    write_through_ = !ec;
    log_.info("[C{}] {} subscribed as {} ({}{})", id_, peer_, who->name, resume ? "resuming after event " : "snapshot",
              resume ? std::to_string(*resume) : "");
    reason_ = "closed by the subscriber";
    co_return true;
  }

  /// The hub queued frames (or closed the subscription). They are written at once, from the
  /// hub's publish, when the socket can take them: an alarm leaves in the same turn of the I/O
  /// thread as the sample that raised it, not after the handlers already waiting. What the
  /// socket cannot take now is left to the write loop.
  void wake() {
    if (write_through_ && sub_ && !sub_->closed() && !stopping_ && !writing_) {
      write_now();
      if (pending_.empty()) return;
    }
    wake_.cancel();
    if (sub_ && sub_->closed()) abort_.cancel();
  }

  /// One non-blocking write of everything queued; the rest stays in pending_.
  void write_now() {
    take_frames();
    if (pending_.empty()) return;
    boost::system::error_code ec;
    const auto n = stream_.write_some(pending_buffers(), ec);
    if (ec) return;  // would block, or an error the write loop's own write reports
    consume(n);
    if (pending_.empty()) sub_->written(std::chrono::steady_clock::now());
  }

  void take_frames() {
    for (auto& f : sub_->take()) pending_.push_back(std::move(f));
  }

  const std::vector<asio::const_buffer>& pending_buffers() {
    buffers_.clear();
    for (std::size_t i = 0; i < pending_.size(); ++i) {
      buffers_.push_back(asio::buffer(*pending_[i]) + (i == 0 ? pending_offset_ : 0));
    }
    return buffers_;
  }

  void consume(std::size_t n) {
    while (n > 0 && !pending_.empty()) {
      const std::size_t left = pending_.front()->size() - pending_offset_;
      if (n < left) {
        pending_offset_ += n;
        return;
      }
      n -= left;
      pending_.pop_front();
      pending_offset_ = 0;
    }
  }

  asio::awaitable<void> write_loop() {
    using namespace asio::experimental::awaitable_operators;
    for (;;) {
      if (sub_->closed()) {
        reason_ = fmt::format("cut off by the hub: {}", sub_->close_reason());
        co_await send_last(sub_->closing());
        co_return;
      }
      if (stopping_) {
        co_await refuse(v1::FEED_ERROR_SHUTTING_DOWN, "the daemon is stopping; resume with the last event id");
        co_return;
      }
      take_frames();
      if (pending_.empty()) {
        co_await wake_.async_wait(nothrow);
        continue;
      }
      // A write stuck on a reader that does not read is given up once the hub cuts it off.
      writing_ = true;
      auto result = co_await (asio::async_write(stream_, pending_buffers(), nothrow) || abort_.async_wait(nothrow));
      writing_ = false;
      if (result.index() == 1) {
        // Mid-frame: no FeedClosing can follow.
        reason_ = fmt::format("cut off by the hub while a write was stuck: {}", sub_->close_reason());
        co_return;
      }
      if (auto [ec, n] = std::get<0>(result); ec) {
        reason_ = fmt::format("write failed: {}", ec.message());
        co_return;
      }
      pending_.clear();
      pending_offset_ = 0;
      sub_->written(std::chrono::steady_clock::now());
    }
  }

  asio::awaitable<void> read_loop() {
    // Nothing more is expected after the request; reading tells when the subscriber leaves.
    char sink[256];
    for (;;) {
      auto [ec, n] = co_await stream_.async_read_some(asio::buffer(sink), nothrow);
      if (ec) {
        // Aborted: the writer ended the subscription and its reason stands.
        if (ec != asio::error::eof && ec != asio::error::operation_aborted) {
          reason_ = fmt::format("connection error: {}", ec.message());
        }
        co_return;
      }
    }
  }

  /// Sends a FeedClosing as the only answer, within the close timeout.
  asio::awaitable<void> refuse(v1::FeedError error, std::string message) {
    reason_ = fmt::format("{}: {}", v1::FeedError_Name(error), message);
    v1::FeedMessage m;
    m.mutable_closing()->set_error(error);
    m.mutable_closing()->set_message(std::move(message));
    std::string frame;
    codec::append_frame(frame, m);
    co_await send_last(frame);
  }

  asio::awaitable<void> send_last(const std::string& frame) {
    using namespace asio::experimental::awaitable_operators;
    timer_.expires_after(config_.close_timeout);
    co_await (asio::async_write(stream_, asio::buffer(frame), nothrow) || timer_.async_wait(nothrow));
  }

  net::auth_gate gate_;
  Stream stream_;
  std::uint64_t id_;
  std::string peer_;
  hub::hub& hub_;
  const std::vector<control::user>& users_;
  const settings& config_;
  spdlog::logger& log_;
  codec::frame_decoder decoder_;
  asio::steady_timer timer_;
  asio::steady_timer wake_;   // never expires; cancel() wakes the writer
  asio::steady_timer abort_;  // never expires; cancel() gives up a stuck write
  std::shared_ptr<hub::subscription> sub_;
  std::deque<std::shared_ptr<const std::string>> pending_;  // taken from the hub, not yet written
  std::size_t pending_offset_ = 0;                         // bytes of pending_.front() written
  std::vector<asio::const_buffer> buffers_;
  bool writing_ = false;  // the write loop's async write is in flight
  bool write_through_ = false;  // the socket is non-blocking: wake() may write at once
  std::string reason_ = "closed";
  bool stopping_ = false;
  bool evicted_ = false;
};

}  // namespace vigil::feed
