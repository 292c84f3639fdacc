#pragma once

// The TCP feed's framing (feeds.md): varint length-delimited protobuf frames both ways, over
// any Asio stream whose lowest layer can be made non-blocking, shut down and closed.

#include "daemon/codec/frame.hpp"
#include "daemon/feed/session.hpp"

#include <fmt/format.h>
#include <boost/asio.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/beast/core/stream_traits.hpp>

#include <deque>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace vigil::feed {

/// A FeedRequest may hold at most this many bytes of payload (feeds.md section 1).
inline constexpr std::size_t max_request_bytes = 16 * 1024;

template <class Stream>
class tcp_framing {
 public:
  static constexpr hub::format format = hub::format::protobuf;
  static constexpr std::string_view label = "feed subscriber";
  static constexpr std::string_view over = "";
  static constexpr std::string_view evicted =
      "closed to make room: the daemon is at its limit of feed connections without an accepted FeedRequest, and "
      "this was the oldest; send the FeedRequest at once after connecting";

  explicit tcp_framing(Stream stream) : stream_(std::move(stream)), decoder_(max_request_bytes) {}

  auto get_executor() { return stream_.get_executor(); }
  Stream& stream() { return stream_; }

  /// Nothing to open: the connection is accepted.
  asio::awaitable<std::string> open(spdlog::logger&, std::uint64_t, const std::string&) { co_return std::string(); }

  /// The FeedRequest frame while one is wanted; afterwards bytes are read and ignored.
  asio::awaitable<incoming> read(bool want_request) {
    if (!want_request) {
      char sink[256];
      auto [ec, n] = co_await stream_.async_read_some(asio::buffer(sink), nothrow);
      if (!ec) co_return incoming{};
      // Aborted: the writer ended the subscription and its reason stands.
      if (ec == asio::error::eof || ec == asio::error::operation_aborted) co_return ended("");
      co_return ended(fmt::format("connection error: {}", ec.message()));
    }
    incoming in;
    for (;;) {
      const auto frame = decoder_.next(in.request);
      if (frame.status == codec::decode_status::ok) {
        in.what = incoming::kind::request;
        co_return in;
      }
      if (frame.status == codec::decode_status::bad) {
        in.what = incoming::kind::refused;
        in.error = v1::FEED_ERROR_UNPARSABLE;
        in.message = fmt::format("bad frame: {}", codec::describe(frame.error));
        co_return in;
      }
      const auto space = decoder_.prepare();
      auto [ec, n] = co_await stream_.async_read_some(asio::buffer(space.data(), space.size()), nothrow);
      if (ec) {
        co_return ended(ec == asio::error::eof                 ? std::string("closed before subscribing")
                        : ec == asio::error::operation_aborted ? std::string()
                                                               : fmt::format("connection error: {}", ec.message()));
      }
      decoder_.commit(n);
    }
  }

  void queue(std::vector<std::shared_ptr<const std::string>> frames) {
    for (auto& f : frames) pending_.push_back(std::move(f));
  }
  bool pending() const noexcept { return !pending_.empty(); }

  /// Makes the socket non-blocking, for the writes made straight from the hub's publish (the
  /// write loop's own are async); false if it cannot be.
  bool write_through() {
    boost::system::error_code ec;
    boost::beast::get_lowest_layer(stream_).non_blocking(true, ec);
    return !ec;
  }

  /// One non-blocking write of everything pending; the rest stays pending.
  void write_now() {
    boost::system::error_code ec;
    const auto n = stream_.write_some(pending_buffers(), ec);
    if (ec) return;  // would block, or an error the write loop's own write reports
    consume(n);
  }

  asio::awaitable<boost::system::error_code> write_pending() {
    auto [ec, n] = co_await asio::async_write(stream_, pending_buffers(), nothrow);
    if (!ec) {
      pending_.clear();
      offset_ = 0;
    }
    co_return ec;
  }

  std::string closing_frame(v1::FeedError error, const std::string& message) const {
    v1::FeedMessage m;
    m.mutable_closing()->set_error(error);
    m.mutable_closing()->set_message(message);
    std::string frame;
    codec::append_frame(frame, m);
    return frame;
  }

  /// Writes `frame` last, within `timeout`. The rest of a frame written in part goes first, so
  /// that the FeedClosing starts where a frame does; the frames after it are dropped.
  asio::awaitable<void> send_last(const std::string& frame, v1::FeedError, int, asio::steady_timer& timer,
                                  std::chrono::milliseconds timeout) {
    using namespace asio::experimental::awaitable_operators;
    std::vector<asio::const_buffer> buffers;
    if (offset_ > 0) buffers.push_back(asio::buffer(*pending_.front()) + offset_);
    buffers.push_back(asio::buffer(frame));
    timer.expires_after(timeout);
    co_await (asio::async_write(stream_, buffers, nothrow) || timer.async_wait(nothrow));
  }

  void close() {
    auto& lowest = boost::beast::get_lowest_layer(stream_);
    boost::system::error_code ignored;
    lowest.shutdown(asio::socket_base::shutdown_both, ignored);
    lowest.close(ignored);
  }

 private:
  static constexpr auto nothrow = asio::as_tuple(asio::use_awaitable);

  static incoming ended(std::string reason) {
    incoming in;
    in.what = incoming::kind::ended;
    in.reason = std::move(reason);
    return in;
  }

  const std::vector<asio::const_buffer>& pending_buffers() {
    buffers_.clear();
    for (std::size_t i = 0; i < pending_.size(); ++i) {
      buffers_.push_back(asio::buffer(*pending_[i]) + (i == 0 ? offset_ : 0));
    }
    return buffers_;
  }

  void consume(std::size_t n) {
    while (n > 0 && !pending_.empty()) {
      const std::size_t left = pending_.front()->size() - offset_;
      if (n < left) {
        offset_ += n;
        return;
      }
      n -= left;
      pending_.pop_front();
      offset_ = 0;
    }
  }

  Stream stream_;
  codec::frame_decoder decoder_;
  std::deque<std::shared_ptr<const std::string>> pending_;  // taken from the hub, not yet written
  std::size_t offset_ = 0;                                  // bytes of pending_.front() written
  std::vector<asio::const_buffer> buffers_;
};

/// A TCP feed subscriber over `Stream`.
template <class Stream>
using tcp_session = subscriber_session<tcp_framing<Stream>>;

}  // namespace vigil::feed
