#pragma once

// The WebSocket feed, GET /api/v1/feed: the TCP feed's conversation (daemon/feed/session.hpp)
// over WebSocket text messages, each one FeedMessage in protobuf's JSON mapping. The
// http_session hands its stream over once it has read an upgrade request for the feed; the
// connection stays an HTTP connection for the listener's limit.

#include "daemon/control/access.hpp"
#include "daemon/feed/settings.hpp"
#include "daemon/http/sign_ins.hpp"
#include "daemon/hub/hub.hpp"
#include "daemon/log/log.hpp"
#include "daemon/net/listener.hpp"
#include "vigil/v1/feed.pb.h"

#include <boost/asio.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/stream_traits.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/websocket/stream.hpp>
#include <fmt/format.h>
#include <google/protobuf/util/json_util.h>
#include <spdlog/spdlog.h>

#include <netinet/tcp.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace vigil::http {

namespace asio = boost::asio;

/// What the WebSocket feed serves from: the hub, the users and the feed's limits.
struct feed_context {
  hub::hub& hub;
  const std::vector<control::user>& users;
  const feed::settings& config;
  sign_ins* sessions = nullptr;  // session tokens from signing in, also accepted; null: none
};

/// A WebSocket message larger than this (the FeedRequest is the only one expected) fails the
/// connection with close code 1009: fixed, as the TCP feed's request frame limit.
inline constexpr std::size_t max_ws_message_bytes = 16 * 1024;

/// The close code sent after a FeedClosing with `error`.
inline boost::beast::websocket::close_code ws_close_code(v1::FeedError error) {
  namespace ws = boost::beast::websocket;
  switch (error) {
    case v1::FEED_ERROR_TOO_SLOW: return ws::close_code::try_again_later;  // 1013: resume with the last id
    case v1::FEED_ERROR_SHUTTING_DOWN: return ws::close_code::going_away;  // 1001
    case v1::FEED_ERROR_TOO_MANY_CONNECTIONS: return ws::close_code::try_again_later;  // 1013: evicted, retry
    case v1::FEED_ERROR_UNPARSABLE: return ws::close_code::policy_error;   // 1008 (binary: 1003, below)
    default: return ws::close_code::policy_error;                          // 1008: what was asked is refused
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

/// One subscriber on the WebSocket feed: a FeedRequest as the first text message, then the
/// hub's frames, one per text message, until either side closes. `Stream` is the HTTP
/// session's stream; its lowest layer is a beast::tcp_stream.
template <class Stream>
class ws_feed_session final : public net::connection, public std::enable_shared_from_this<ws_feed_session<Stream>> {
 public:
  using upgrade_request = boost::beast::http::request<boost::beast::http::string_body>;

  /// `gate`: the HTTP connection's, which outlives this session.
  ws_feed_session(Stream stream, upgrade_request req, std::uint64_t id, std::string peer, const feed_context& feed,
                  spdlog::logger& log, net::auth_gate& gate)
      : gate_(gate),
        ws_(std::move(stream)),
        request_(std::move(req)),
        id_(id),
        peer_(std::move(peer)),
        hub_(feed.hub),
        users_(feed.users),
        config_(feed.config),
        sessions_(feed.sessions),
        log_(log),
        timer_(ws_.get_executor()),
        wake_(ws_.get_executor(), clock::time_point::max()),
        abort_(ws_.get_executor(), clock::time_point::max()) {}

  asio::awaitable<void> run() override {
    using namespace asio::experimental::awaitable_operators;
    namespace websocket = boost::beast::websocket;
    auto self = this->shared_from_this();
    auto& lowest = boost::beast::get_lowest_layer(ws_);
    // The WebSocket stream keeps its own time: the HTTP session's deadline would cut it off.
    lowest.expires_never();
    boost::system::error_code ignored;
    if (config_.send_buffer_bytes > 0) {
      lowest.socket().set_option(asio::socket_base::send_buffer_size(static_cast<int>(config_.send_buffer_bytes)),
                                 ignored);
    }
    auto timeouts = websocket::stream_base::timeout::suggested(boost::beast::role_type::server);
    // The opening (101) and closing handshakes: as long as a FeedClosing may take.
    timeouts.handshake_timeout = config_.close_timeout;
    ws_.set_option(timeouts);
    ws_.set_option(websocket::stream_base::decorator(
        [](websocket::response_type& res) { res.set(boost::beast::http::field::server, "vigild/" VIGIL_VERSION); }));
    ws_.read_message_max(max_ws_message_bytes);
    ws_.auto_fragment(false);
    ws_.text(true);

    auto [accept_ec] = co_await ws_.async_accept(request_, nothrow);
    request_ = {};
    if (accept_ec) {
      log_.info("[C{}] {} asked for the feed with a WebSocket handshake that failed: {}", id_, peer_,
                accept_ec.message());
    } else {
      log_.debug("[C{}] {} opened the WebSocket feed", id_, peer_);
      deadline_ = clock::now() + config_.handshake_timeout;
      wake_.expires_at(deadline_);
      co_await (write_loop() || read_loop());
      if (sub_) hub_.unsubscribe(*sub_);
      log_.info("[C{}] WebSocket feed subscriber {} closed: {}", id_, peer_, reason_);
    }
    lowest.socket().shutdown(asio::socket_base::shutdown_both, ignored);
    lowest.close();
  }

  void shutdown() override {
    stopping_ = true;
    wake_.cancel();
    if (holding_) timer_.cancel();  // a refusal held back is sent now
  }

  /// Only ever called before the FeedRequest is accepted.
  void evict() override {
    if (holding_) timer_.cancel();
    if (sub_) return;
    refuse(v1::FEED_ERROR_TOO_MANY_CONNECTIONS,
           "closed to make room: the daemon is at its limit of http connections without a user's token, and this "
           "was the oldest; send the FeedRequest at once after opening");
  }

 private:
  using clock = asio::steady_timer::clock_type;
  static constexpr auto nothrow = asio::as_tuple(asio::use_awaitable);

  struct refusal {
    v1::FeedError error;
    std::string message;
    boost::beast::websocket::close_code code;
    std::chrono::milliseconds hold{0};  // the answer to a wrong token is slowed (net::auth_tracker)
  };

  /// Subscribes with the FeedRequest in `text`, or sets the refusal.
  void subscribe(const std::string& text) {
    v1::FeedRequest asked;
    google::protobuf::util::JsonParseOptions options;
    options.ignore_unknown_fields = false;  // a misspelt field is an error, not a silent default
    if (const auto parsed = google::protobuf::util::JsonStringToMessage(text, &asked, options); !parsed.ok()) {
      gate_.bad_request();
      // The parser's message quotes the client's text: bounded and escaped, as it is logged.
      refuse(v1::FEED_ERROR_UNPARSABLE, fmt::format("the first message is not a FeedRequest in JSON: {}",
                                                    log::clip(std::string(parsed.message()), 200)));
      return;
    }
    const auto who = user_of(control::find_user(users_, asked.token()), sessions_, asked.token());
    if (!who) {
      log_.warn("[C{}] {} sent a missing or unknown feed token", id_, peer_);
      std::chrono::milliseconds hold{0};
      if (!asked.token().empty()) hold = gate_.failed().delay;
      refuse(v1::FEED_ERROR_UNAUTHORIZED, "missing or unknown token", {}, hold);
      return;
    }
    gate_.passed();
    std::string error;
    const auto filter = hub::filter::from(asked.subscribe(), error);
    if (!filter) {
      refuse(v1::FEED_ERROR_BAD_REQUEST, error);
      return;
    }
    const auto& s = asked.subscribe();
    const auto resume = s.has_resume_after() ? std::optional<std::uint64_t>(s.resume_after()) : std::nullopt;
    auto result = hub_.subscribe(*filter, hub::format::json, resume, [weak = this->weak_from_this()] {
      if (auto session = weak.lock()) session->wake();
    });
    if (!result.sub) {
      refuse(result.error, result.message);
      return;
    }
    sub_ = std::move(result.sub);
    log_.info("[C{}] {} subscribed over WebSocket as {} ({}{})", id_, peer_, who->name,
              resume ? "resuming after event " : "snapshot", resume ? std::to_string(*resume) : "");
    reason_ = "closed by the subscriber";
    wake_.expires_at(clock::time_point::max());  // no handshake deadline any more; wakes the writer
  }

  void wake() {
    wake_.cancel();
    if (sub_ && sub_->closed()) abort_.cancel();
  }

  /// The writer sends a FeedClosing and closes with `code` (by default the error's).
  void refuse(v1::FeedError error, std::string message, std::optional<boost::beast::websocket::close_code> code = {},
              std::chrono::milliseconds hold = {}) {
    if (refusal_) return;
    refusal_ = refusal{error, std::move(message), code ? *code : ws_close_code(error), hold};
    wake_.cancel();
  }

  asio::awaitable<void> write_loop() {
    using namespace asio::experimental::awaitable_operators;
    for (;;) {
      if (refusal_) {
        if (refusal_->hold.count() > 0 && !stopping_) {
          timer_.expires_after(std::exchange(refusal_->hold, {}));
          holding_ = true;
          co_await timer_.async_wait(nothrow);
          holding_ = false;
        }
        reason_ = fmt::format("{}: {}", v1::FeedError_Name(refusal_->error), refusal_->message);
        v1::FeedMessage m;
        m.mutable_closing()->set_error(refusal_->error);
        m.mutable_closing()->set_message(refusal_->message);
        google::protobuf::util::JsonPrintOptions options;
        options.preserve_proto_field_names = true;
        std::string text;
        (void)google::protobuf::util::MessageToJsonString(m, &text, options);
        co_await send_last(text, refusal_->code, ws_close_reason(refusal_->error));
        co_return;
      }
      if (stopping_) {
        refuse(v1::FEED_ERROR_SHUTTING_DOWN, "the daemon is stopping; resume with the last event id");
        continue;
      }
      if (sub_) {
        if (sub_->closed()) {
          reason_ = fmt::format("cut off by the hub: {}", sub_->close_reason());
          co_await send_last(sub_->closing(), ws_close_code(v1::FEED_ERROR_TOO_SLOW),
                             ws_close_reason(v1::FEED_ERROR_TOO_SLOW));
          co_return;
        }
        auto frames = sub_->take();
        if (!frames.empty()) {
          // A write stuck on a reader that does not read is given up once the hub cuts it off.
          auto result = co_await (write_frames(frames) || abort_.async_wait(nothrow));
          if (result.index() == 1) {
            // Mid-message: no closing can follow.
            reason_ = fmt::format("cut off by the hub while a write was stuck: {}", sub_->close_reason());
            co_return;
          }
          if (auto ec = std::get<0>(result); ec) {
            reason_ = fmt::format("write failed: {}", ec.message());
            co_return;
          }
          sub_->written(clock::now());
          continue;
        }
      } else if (clock::now() >= deadline_) {
        refuse(v1::FEED_ERROR_HANDSHAKE_TIMEOUT,
               fmt::format("no FeedRequest within {} ms", config_.handshake_timeout.count()));
        continue;
      }
      co_await wake_.async_wait(nothrow);
    }
  }

  /// Writes the frames as text messages, as many FeedMessages per message as fit in
  /// max_batch_bytes, one per line (JSON from protobuf's mapping never holds a raw newline):
  /// under load, a subscriber gets many events per message and per system call. The first
  /// error, if any.
  asio::awaitable<boost::system::error_code> write_frames(const std::vector<std::shared_ptr<const std::string>>& frames) {
    constexpr std::size_t max_batch_bytes = 64 * 1024;
    std::size_t i = 0;
    while (i < frames.size()) {
      if (i + 1 == frames.size() || frames[i]->size() >= max_batch_bytes) {
        auto [ec, n] = co_await ws_.async_write(asio::buffer(*frames[i]), nothrow);
        if (ec) co_return ec;
        ++i;
        continue;
      }
      batch_.clear();
      while (i < frames.size() && (batch_.empty() || batch_.size() + 1 + frames[i]->size() <= max_batch_bytes)) {
        if (!batch_.empty()) batch_.push_back('\n');
        batch_ += *frames[i];
        ++i;
      }
      auto [ec, n] = co_await ws_.async_write(asio::buffer(batch_), nothrow);
      if (ec) co_return ec;
    }
    co_return boost::system::error_code{};
  }

  asio::awaitable<void> read_loop() {
    namespace websocket = boost::beast::websocket;
    boost::beast::flat_buffer buffer;
    for (;;) {
      buffer.clear();
      auto [ec, n] = co_await ws_.async_read(buffer, nothrow);
      if (ec) {
        if (refusal_ || (sub_ && sub_->closed())) co_return;  // the writer's reason stands
        if (ec == websocket::error::closed) {
          reason_ = sub_ ? fmt::format("closed by the subscriber (code {})", static_cast<int>(ws_.reason().code))
                         : "closed before subscribing";
        } else if (ec == asio::error::eof || ec == asio::error::connection_reset) {
          reason_ = "the subscriber left without a close frame";
        } else if (ec == boost::beast::error::timeout) {
          reason_ = "no pong within the idle timeout";
        } else if (ec == websocket::error::message_too_big) {
          reason_ = fmt::format("a message larger than {} bytes (closed with 1009)", max_ws_message_bytes);
        } else {
          reason_ = fmt::format("connection error: {}", ec.message());
        }
        co_return;
      }
      if (!ws_.got_text()) {
        if (!sub_) gate_.bad_request();
        refuse(v1::FEED_ERROR_UNPARSABLE, "binary messages are not accepted: send the FeedRequest as JSON text",
               websocket::close_code::unknown_data);
        continue;
      }
      // Nothing is expected after the FeedRequest: later text messages (a browser's keep-alive) are ignored.
      if (sub_ || refusal_) continue;
      subscribe(boost::beast::buffers_to_string(buffer.data()));
    }
  }

  /// Sends `text` as the last message, then the close frame; bounded by the close timeout.
  asio::awaitable<void> send_last(const std::string& text, boost::beast::websocket::close_code code,
                                  const std::string& why) {
    using namespace asio::experimental::awaitable_operators;
    timer_.expires_after(config_.close_timeout);
    auto sent = co_await (ws_.async_write(asio::buffer(text), nothrow) || timer_.async_wait(nothrow));
    if (sent.index() != 0 || std::get<0>(std::get<0>(sent))) co_return;
    co_await ws_.async_close(boost::beast::websocket::close_reason(code, why), nothrow);
  }

  net::auth_gate& gate_;
  boost::beast::websocket::stream<Stream> ws_;
  upgrade_request request_;
  std::uint64_t id_;
  std::string peer_;
  hub::hub& hub_;
  const std::vector<control::user>& users_;
  const feed::settings& config_;
  sign_ins* sessions_;  // null: no session tokens
  spdlog::logger& log_;
  asio::steady_timer timer_;
  asio::steady_timer wake_;   // cancel() wakes the writer; expires at the handshake deadline until subscribed
  asio::steady_timer abort_;  // never expires; cancel() gives up a stuck write
  clock::time_point deadline_{};
  std::shared_ptr<hub::subscription> sub_;
  std::string batch_;  // several frames joined into one message
  std::optional<refusal> refusal_;
  std::string reason_ = "closed";
  bool holding_ = false;
  bool stopping_ = false;
};

}  // namespace vigil::http
