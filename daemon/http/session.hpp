#pragma once

#include "daemon/feed/ws_framing.hpp"
#include "daemon/http/api.hpp"
#include "daemon/http/settings.hpp"
#include "daemon/log/log.hpp"
#include "daemon/net/listener.hpp"

#include <spdlog/spdlog.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/stream_traits.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/websocket/rfc6455.hpp>

#include <algorithm>
#include <chrono>
#include <memory>
#include <string>

namespace vigil::http {

/// The response to a request that could not be read, and whether one is sent at all.
response read_error_response(const boost::system::error_code& ec);

/// One HTTP/1.1 connection over any Beast stream whose lowest layer is a beast::tcp_stream:
/// requests in, one response each, in order; keep-alive until the client or a limit ends it,
/// or until a WebSocket upgrade for the feed takes the connection over.
template <class Stream>
class http_session final : public net::connection, public std::enable_shared_from_this<http_session<Stream>> {
 public:
  http_session(Stream stream, std::uint64_t id, std::string peer, api& handler, const settings& config,
               const feed::context& feed, spdlog::logger& log, net::auth_gate gate = {})
      : stream_(std::move(stream)),
        id_(id),
        peer_(std::move(peer)),
        api_(handler),
        config_(config),
        feed_(feed),
        log_(log),
        gate_(std::move(gate)),
        hold_(stream_.get_executor()) {}

  boost::asio::awaitable<void> run() override {
    namespace asio = boost::asio;
    namespace bh = boost::beast::http;
    using clock = std::chrono::steady_clock;
    constexpr auto nothrow = asio::as_tuple(asio::use_awaitable);
    auto self = this->shared_from_this();
    auto& lowest = boost::beast::get_lowest_layer(stream_);
    log_.debug("[C{}] http connection from {}", id_, peer_);
    std::string reason = "closed by the client";
    bool drain = false;
    // Until a request brings a user's token, each request must arrive whole within
    // unauthenticated_timeout of the accept or of the previous response, idle time included.
    auto unauthenticated_deadline = clock::now() + config_.unauthenticated_timeout;
    const auto deadline = [&](std::chrono::milliseconds timeout) {
      const auto at = clock::now() + timeout;
      return gate_.authenticated() ? at : std::min(at, unauthenticated_deadline);
    };
    const auto timed_out = [&](const char* authenticated_reason) {
      return gate_.authenticated() ? std::string(authenticated_reason)
                                   : fmt::format("no whole request within {} ms while not authenticated",
                                                 config_.unauthenticated_timeout.count());
    };
    for (;;) {
      if (stopping_) {
        reason = "daemon stopping";
        break;
      }
      if (evicted_) break;
      if (buffer_.size() == 0) {
        // Between requests: the idle timeout, and a stop may end the wait at once.
        idle_ = true;
        lowest.expires_at(deadline(config_.idle_timeout));
        auto [ec, n] = co_await stream_.async_read_some(buffer_.prepare(read_chunk), nothrow);
        idle_ = false;
        if (ec) {
          if (ec == boost::beast::error::timeout) reason = timed_out("idle timeout");
          if (stopping_) reason = "daemon stopping";
          break;
        }
        buffer_.commit(n);
      }
      // The whole request, headers and body, within the read timeout.
      bh::request_parser<bh::string_body> parser;
      parser.header_limit(static_cast<std::uint32_t>(max_header_bytes));
      parser.body_limit(config_.max_body_bytes);
      lowest.expires_at(deadline(config_.read_timeout));
      reading_ = true;
      auto [read_ec, read_n] = co_await bh::async_read(stream_, buffer_, parser, nothrow);
      reading_ = false;
      if (read_ec) {
        if (evicted_) {
          drain = true;  // it was sending a request: let the refusal reach it
          break;
        }
        if (read_ec == bh::error::end_of_stream || read_ec == bh::error::partial_message) break;
        if (read_ec == boost::beast::error::timeout) {
          reason = timed_out("request not received within the read timeout");
          break;
        }
        if (read_ec == asio::error::operation_aborted || read_ec == asio::error::eof ||
            read_ec == asio::error::connection_reset) {
          reason = fmt::format("connection error: {}", read_ec.message());
          break;
        }
        gate_.bad_request();
        auto refusal = read_error_response(read_ec);
        log_.info("[C{}] {} sent a request that cannot be served ({}): {}", id_, peer_, refusal.result_int(),
                  read_ec.message());
        refusal.keep_alive(false);
        refusal.prepare_payload();
        lowest.expires_after(config_.read_timeout);
        co_await bh::async_write(stream_, refusal, nothrow);
        reason = fmt::format("bad request: {}", read_ec.message());
        drain = true;
        break;
      }
      auto req = parser.release();
      if (is_feed_upgrade(req) && !valid_websocket_key(req)) {
        // Beast would accept any key; RFC 6455 4.2.1 says it is 16 bytes in base64.
        auto refusal = error_response(status::bad_request, "bad_request",
                                      "Sec-WebSocket-Key must be 16 bytes in base64 (RFC 6455 section 4.2.1)");
        refusal.version(req.version());
        refusal.keep_alive(false);
        refusal.set(bh::field::server, "vigild/" VIGIL_VERSION);
        refusal.prepare_payload();
        lowest.expires_after(config_.read_timeout);
        co_await bh::async_write(stream_, refusal, nothrow);
        reason = "bad request: malformed Sec-WebSocket-Key";
        break;
      }
      if (is_feed_upgrade(req)) {
        // The feed's WebSocket session owns the stream from here and closes it; this session ends with it.
        upgraded_ = std::make_shared<feed::ws_session<Stream>>(
            feed::ws_framing<Stream>(std::move(stream_), std::move(req), feed_.config), id_, peer_, feed_, log_,
            &gate_);
        if (stopping_) upgraded_->shutdown();
        co_await upgraded_->run();
        co_return;
      }
      const bool keep_alive = req.keep_alive();
      auth_outcome auth = auth_outcome::none;
      response res = co_await api_.handle(req, auth, client{id_, peer_});
      bool close_after = false;
      if (auth == auth_outcome::passed) gate_.passed();
      if (auth == auth_outcome::failed || auth == auth_outcome::signin_refused) {
        ++failed_;
        // Once per connection; a refused sign-in is logged by the API, which knows whose name it was.
        if (auth == auth_outcome::failed && !wrong_token_logged_) {
          wrong_token_logged_ = true;
          log_.warn("[C{}] {} sent a token that is no user's", id_, peer_);
        }
        const auto verdict = gate_.failed();
        if (verdict.delay.count() > 0 && !stopping_ && !evicted_) {
          hold_.expires_after(verdict.delay);
          holding_ = true;
          co_await hold_.async_wait(nothrow);
          holding_ = false;
        }
        if (verdict.blocked) {
          close_after = true;
          reason = "its address is blocked after too many failed authentications";
        } else if (failed_ >= max_failed_authentications) {
          close_after = true;
          reason = fmt::format("{} failed authentications (tokens that are no user's, refused sign-ins)", failed_);
        }
      }
      res.version(req.version());
      res.keep_alive(keep_alive && !stopping_ && !close_after);
      res.set(bh::field::server, "vigild/" VIGIL_VERSION);
      res.prepare_payload();
      if (req.method() == bh::verb::head) {
        // The headers of the GET, Content-Length included, without the body.
        const auto length = res.body().size();
        res.body().clear();
        res.content_length(length);
      }
      log_.debug("[C{}] {} {} -> {}", id_,
                 log::clip(std::string_view(req.method_string().data(), req.method_string().size()), 32),
                 log::clip(std::string_view(req.target().data(), req.target().size()), 256), res.result_int());
      lowest.expires_after(config_.read_timeout);
      auto [write_ec, written] = co_await bh::async_write(stream_, res, nothrow);
      if (write_ec) {
        reason = fmt::format("response not taken: {}", write_ec.message());
        break;
      }
      if (!res.keep_alive()) {
        if (!close_after) reason = stopping_ ? "daemon stopping" : "closed after the response (Connection: close)";
        break;
      }
      unauthenticated_deadline = clock::now() + config_.unauthenticated_timeout;
    }
    boost::system::error_code ignored;
    if (evicted_ && !stopping_) {
      // 503 as at the connection limit: the client may retry, and authenticate at once.
      auto refusal = error_response(status::service_unavailable, "too_many_connections",
                                    "closed to make room: the daemon is at its limit of http connections without a "
                                    "user's token, and this was the oldest");
      refusal.keep_alive(false);
      refusal.set(bh::field::retry_after, "1");
      refusal.prepare_payload();
      lowest.expires_after(eviction_write_timeout);
      co_await bh::async_write(stream_, refusal, nothrow);
      reason = "closed to make room for a newer connection: the oldest without a user's token";
    }
    lowest.socket().shutdown(asio::socket_base::shutdown_send, ignored);
    if (drain) {
      // Read what the client still sends (the rest of a refused body) before closing, so that
      // the close does not reset the connection and destroy the response in flight. An evicted
      // connection no longer counts against any limit: it gets a short while only.
      lowest.expires_after(evicted_ ? std::chrono::milliseconds(eviction_write_timeout) : config_.read_timeout);
      std::size_t discarded = 0;
      while (discarded < drain_limit) {
        buffer_.clear();
        auto [ec, n] = co_await stream_.async_read_some(buffer_.prepare(read_chunk), nothrow);
        if (ec) break;
        discarded += n;
      }
    }
    lowest.close();
    log_.debug("[C{}] http connection from {} closed: {}", id_, peer_, reason);
  }

  void shutdown() override {
    stopping_ = true;
    if (upgraded_) {
      upgraded_->shutdown();
      return;
    }
    // A connection waiting for its next request closes now; one in a request finishes it first.
    if (idle_) boost::beast::get_lowest_layer(stream_).cancel();
    if (holding_) hold_.cancel();
  }

  void evict() override {
    evicted_ = true;
    if (upgraded_) {
      upgraded_->evict();
      return;
    }
    // Waiting for a request or reading one: the refusal goes out now. Otherwise after the
    // response being served.
    if (idle_ || reading_) boost::beast::get_lowest_layer(stream_).cancel();
    if (holding_) hold_.cancel();
  }

 private:
  static constexpr std::size_t read_chunk = 4096;
  // An evicted connection gets this long to take its refusal.
  static constexpr std::chrono::seconds eviction_write_timeout{1};

  static bool is_feed_upgrade(const request& req) {
    if (!boost::beast::websocket::is_upgrade(req)) return false;
    const std::string_view target(req.target().data(), req.target().size());
    const auto route =
        find_route(std::string_view(req.method_string().data(), req.method_string().size()), path_of(target));
    return route.result == route_match::outcome::found && route.endpoint == endpoint::feed;
  }

  /// Whether the upgrade's Sec-WebSocket-Key is 16 bytes in base64: 22 characters of the
  /// alphabet, the last of them holding only the top two bits, then "==".
  static bool valid_websocket_key(const request& req) {
    const auto it = req.find(boost::beast::http::field::sec_websocket_key);
    if (it == req.end()) return true;  // missing: Beast answers 400 itself
    const std::string_view key(it->value().data(), it->value().size());
    constexpr std::string_view alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    if (key.size() != 24 || key.substr(22) != "==") return false;
    for (const char c : key.substr(0, 22)) {
      if (alphabet.find(c) == std::string_view::npos) return false;
    }
    return std::string_view("AQgw").find(key[21]) != std::string_view::npos;
  }

  static constexpr std::size_t drain_limit = 1024 * 1024;

  Stream stream_;
  std::uint64_t id_;
  std::string peer_;
  api& api_;
  const settings& config_;
  feed::context feed_;
  spdlog::logger& log_;
  net::auth_gate gate_;             // the WebSocket feed, once upgraded, reports to it too
  boost::asio::steady_timer hold_;  // holds the answer to a wrong token (net::auth_tracker)
  boost::beast::flat_buffer buffer_;
  std::shared_ptr<net::connection> upgraded_;  // the WebSocket feed, once upgraded
  int failed_ = 0;                             // requests with a token that is no user's, and refused sign-ins
  bool wrong_token_logged_ = false;
  bool idle_ = false;
  bool reading_ = false;
  bool holding_ = false;
  bool stopping_ = false;
  bool evicted_ = false;
};

}  // namespace vigil::http
