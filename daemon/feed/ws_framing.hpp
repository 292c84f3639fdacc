#pragma once

// The WebSocket feed's framing (api.md section 7): the FeedRequest as the first text message,
// then FeedMessages in protobuf's JSON mapping, one per line, several to a text message; a
// refusal ends with a close frame whose code says what to do. The HTTP layer reads the upgrade
// request and hands it over with its stream; the accept and everything after are here.

#include "daemon/feed/session.hpp"
#include "daemon/log/log.hpp"
#include "daemon/wire/json.hpp"

#include <fmt/format.h>
#include <google/protobuf/util/json_util.h>
#include <boost/asio.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/stream_traits.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/websocket/stream.hpp>

#include <cctype>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace vigil::feed {

/// A WebSocket message larger than this (the FeedRequest is the only one expected) fails the
/// connection with close code 1009: fixed, as the TCP feed's request frame limit.
inline constexpr std::size_t max_ws_message_bytes = 16 * 1024;

/// The close code sent after a FeedClosing with `error`.
inline boost::beast::websocket::close_code ws_close_code(v1::FeedError error) {
  namespace ws = boost::beast::websocket;
  switch (error) {
    case v1::FEED_ERROR_TOO_SLOW:
      return ws::close_code::try_again_later;  // 1013: resume with the last id
    case v1::FEED_ERROR_SHUTTING_DOWN:
      return ws::close_code::going_away;  // 1001
    case v1::FEED_ERROR_TOO_MANY_CONNECTIONS:
      return ws::close_code::try_again_later;  // 1013: evicted, retry
    default:
      return ws::close_code::policy_error;  // 1008: what was asked is refused (binary: 1003, from read)
  }
}

/// The close reason sent with a FeedError: its name without the prefix, in lower case ("too_slow").
inline std::string ws_close_reason(v1::FeedError error) {
  std::string name = v1::FeedError_Name(error);
  constexpr std::string_view prefix = "FEED_ERROR_";
  if (name.rfind(prefix, 0) == 0) name.erase(0, prefix.size());
  for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return name;
}

/// `Stream` is the HTTP session's stream; when its lowest layer is a beast::tcp_stream, the
/// HTTP deadline is lifted and the kernel's send buffer set.
template <class Stream>
class ws_framing {
 public:
  using upgrade_request = boost::beast::http::request<boost::beast::http::string_body>;

  static constexpr hub::format format = hub::format::json;
  static constexpr std::string_view label = "WebSocket feed subscriber";
  static constexpr std::string_view over = " over WebSocket";
  static constexpr std::string_view evicted =
      "closed to make room: the daemon is at its limit of http connections without a user's token, and this was "
      "the oldest; send the FeedRequest at once after opening";

  ws_framing(Stream stream, upgrade_request request, const settings& config)
      : ws_(std::make_unique<boost::beast::websocket::stream<Stream>>(std::move(stream))),
        request_(std::move(request)),
        config_(&config) {}

  auto get_executor() { return ws_->get_executor(); }

  /// Answers the upgrade (101); why not, logged, if the WebSocket handshake fails.
  asio::awaitable<std::string> open(spdlog::logger& log, std::uint64_t id, const std::string& peer) {
    namespace websocket = boost::beast::websocket;
    auto& lowest = boost::beast::get_lowest_layer(*ws_);
    // The WebSocket stream keeps its own time: the HTTP session's deadline would cut it off.
    if constexpr (requires { lowest.expires_never(); }) lowest.expires_never();
    if constexpr (requires { lowest.socket(); }) {
      if (config_->send_buffer_bytes > 0) {
        boost::system::error_code ignored;
        lowest.socket().set_option(asio::socket_base::send_buffer_size(static_cast<int>(config_->send_buffer_bytes)),
                                   ignored);
      }
    }
    auto timeouts = websocket::stream_base::timeout::suggested(boost::beast::role_type::server);
    // The opening (101) and closing handshakes: as long as a FeedClosing may take.
    timeouts.handshake_timeout = config_->close_timeout;
    ws_->set_option(timeouts);
    ws_->set_option(websocket::stream_base::decorator(
        [](websocket::response_type& res) { res.set(boost::beast::http::field::server, "vigild/" VIGIL_VERSION); }));
    ws_->read_message_max(max_ws_message_bytes);
    ws_->auto_fragment(false);
    ws_->text(true);
    auto [ec] = co_await ws_->async_accept(request_, nothrow);
    request_ = {};
    if (ec) {
      log.info("[C{}] {} asked for the feed with a WebSocket handshake that failed: {}", id, peer, ec.message());
      co_return ec.message();
    }
    log.debug("[C{}] {} opened the WebSocket feed", id, peer);
    co_return std::string();
  }

  /// The next message: the FeedRequest in JSON while one is wanted, then text is ignored (a
  /// browser's keep-alive); a binary message at any time is refused.
  asio::awaitable<incoming> read(bool want_request) {
    namespace websocket = boost::beast::websocket;
    buffer_.clear();
    auto [ec, n] = co_await ws_->async_read(buffer_, nothrow);
    incoming in;
    if (ec) {
      in.what = incoming::kind::ended;
      if (ec == websocket::error::closed) {
        in.reason = want_request
                        ? "closed before subscribing"
                        : fmt::format("closed by the subscriber (code {})", static_cast<int>(ws_->reason().code));
      } else if (ec == asio::error::eof || ec == asio::error::connection_reset) {
        in.reason = "the subscriber left without a close frame";
      } else if (ec == boost::beast::error::timeout) {
        in.reason = "no pong within the idle timeout";
      } else if (ec == websocket::error::message_too_big) {
        in.reason = fmt::format("a message larger than {} bytes (closed with 1009)", max_ws_message_bytes);
      } else {
        in.reason = fmt::format("connection error: {}", ec.message());
      }
      co_return in;
    }
    if (!ws_->got_text()) {
      in.what = incoming::kind::refused;
      in.error = v1::FEED_ERROR_UNPARSABLE;
      in.message = "binary messages are not accepted: send the FeedRequest as JSON text";
      in.close_code = static_cast<int>(websocket::close_code::unknown_data);
      co_return in;
    }
    if (!want_request) co_return in;
    google::protobuf::util::JsonParseOptions options;
    options.ignore_unknown_fields = false;  // a misspelt field is an error, not a silent default
    const auto parsed = google::protobuf::util::JsonStringToMessage(boost::beast::buffers_to_string(buffer_.data()),
                                                                    &in.request, options);
    if (!parsed.ok()) {
      in.what = incoming::kind::refused;
      in.error = v1::FEED_ERROR_UNPARSABLE;
      // The parser's message quotes the client's text: bounded and escaped, as it is logged.
      in.message = fmt::format("the first message is not a FeedRequest in JSON: {}",
                               log::clip(std::string(parsed.message()), 200));
      co_return in;
    }
    in.what = incoming::kind::request;
    co_return in;
  }

  void queue(std::vector<std::shared_ptr<const std::string>> frames) {
    for (auto& f : frames) pending_.push_back(std::move(f));
  }
  bool pending() const noexcept { return !pending_.empty(); }
  /// Frames leave in whole messages, from the write loop only.
  bool write_through() { return false; }
  void write_now() {}

  /// Writes the frames as text messages, as many FeedMessages per message as fit in
  /// max_batch_bytes, one per line (JSON from protobuf's mapping never holds a raw newline):
  /// under load, a subscriber gets many events per message and per system call.
  asio::awaitable<boost::system::error_code> write_pending() {
    constexpr std::size_t max_batch_bytes = 64 * 1024;
    std::size_t i = 0;
    while (i < pending_.size()) {
      if (i + 1 == pending_.size() || pending_[i]->size() >= max_batch_bytes) {
        auto [ec, n] = co_await ws_->async_write(asio::buffer(*pending_[i]), nothrow);
        if (ec) co_return ec;
        ++i;
        continue;
      }
      batch_.clear();
      while (i < pending_.size() && (batch_.empty() || batch_.size() + 1 + pending_[i]->size() <= max_batch_bytes)) {
        if (!batch_.empty()) batch_.push_back('\n');
        batch_ += *pending_[i];
        ++i;
      }
      auto [ec, n] = co_await ws_->async_write(asio::buffer(batch_), nothrow);
      if (ec) co_return ec;
    }
    pending_.clear();
    co_return boost::system::error_code{};
  }

  std::string closing_frame(v1::FeedError error, const std::string& message) const {
    v1::FeedMessage m;
    m.mutable_closing()->set_error(error);
    m.mutable_closing()->set_message(message);
    return wire::to_json(m);
  }

  /// Sends `text` as the last message, then the close frame (`close_code`, or the error's);
  /// bounded by `timeout` and the close handshake's own.
  asio::awaitable<void> send_last(const std::string& text, v1::FeedError error, int close_code,
                                  asio::steady_timer& timer, std::chrono::milliseconds timeout) {
    using namespace asio::experimental::awaitable_operators;
    namespace websocket = boost::beast::websocket;
    timer.expires_after(timeout);
    auto sent = co_await (ws_->async_write(asio::buffer(text), nothrow) || timer.async_wait(nothrow));
    if (sent.index() != 0 || std::get<0>(std::get<0>(sent))) co_return;
    const auto code = close_code != 0 ? static_cast<websocket::close_code>(close_code) : ws_close_code(error);
    co_await ws_->async_close(websocket::close_reason(code, ws_close_reason(error)), nothrow);
  }

  void close() {
    auto& lowest = boost::beast::get_lowest_layer(*ws_);
    boost::system::error_code ignored;
    if constexpr (requires { lowest.socket(); }) {
      lowest.socket().shutdown(asio::socket_base::shutdown_both, ignored);
      lowest.close();
    } else {
      lowest.shutdown(asio::socket_base::shutdown_both, ignored);
      lowest.close(ignored);
    }
  }

 private:
  static constexpr auto nothrow = asio::as_tuple(asio::use_awaitable);

  // On the heap: the session moves the framing in, and a WebSocket stream is better not moved.
  std::unique_ptr<boost::beast::websocket::stream<Stream>> ws_;
  upgrade_request request_;
  const settings* config_;
  boost::beast::flat_buffer buffer_;
  std::vector<std::shared_ptr<const std::string>> pending_;
  std::string batch_;  // several frames joined into one message
};

/// A WebSocket feed subscriber over `Stream` (the HTTP session's).
template <class Stream>
using ws_session = subscriber_session<ws_framing<Stream>>;

}  // namespace vigil::feed
