#pragma once

#include "daemon/codec/frame.hpp"
#include "daemon/control/answer.hpp"
#include "daemon/net/listener.hpp"
#include "vigil/v1/control.pb.h"

#include <boost/asio.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/beast/core/stream_traits.hpp>
#include <spdlog/spdlog.h>

#include <chrono>
#include <memory>
#include <string>

namespace vigil::control {

namespace asio = boost::asio;

/// One control connection over any Asio stream: requests in, one response each, in order.
template <class Stream>
class control_session final : public net::connection,
                              public std::enable_shared_from_this<control_session<Stream>> {
 public:
  struct timeouts {
    std::chrono::milliseconds handshake;  // from the accept to the first request with a valid token
    std::chrono::milliseconds idle;       // waiting for a request, and writing the responses of one read
  };

  control_session(Stream stream, std::uint64_t id, std::string peer, service& handler, std::size_t max_frame_bytes,
                  timeouts limits, spdlog::logger& log, net::auth_gate gate = {})
      : stream_(std::move(stream)),
        id_(id),
        peer_(std::move(peer)),
        service_(handler),
        decoder_(max_frame_bytes),
        limits_(limits),
        timer_(stream_.get_executor()),
        log_(log),
        gate_(std::move(gate)) {}

  asio::awaitable<void> run() override {
    using namespace asio::experimental::awaitable_operators;
    using clock = asio::steady_timer::clock_type;
    constexpr auto nothrow = asio::as_tuple(asio::use_awaitable);
    auto self = this->shared_from_this();
    log_.debug("[C{}] control connection from {}", id_, peer_);
    // Counted from the accept: requests without a valid token do not extend it.
    const auto authentication_deadline = clock::now() + limits_.handshake;
    v1::ControlRequest request;
    std::string out;
    std::string reason = "closed by the client";
    for (;;) {
      out.clear();
      bool fatal = false;
      std::chrono::milliseconds hold{0};  // the answer to wrong tokens is slowed (net::auth_tracker)
      for (;;) {
        const auto frame = decoder_.next(request);
        if (frame.status == codec::decode_status::need_more) break;
        if (frame.status == codec::decode_status::bad) {
          gate_.bad_request();
          v1::ControlResponse response;
          response.set_error(v1::CONTROL_ERROR_UNPARSABLE);
          response.set_message(std::string(codec::describe(frame.error)));
          codec::append_frame(out, response);
          reason = fmt::format("bad frame: {}", codec::describe(frame.error));
          fatal = true;
          break;
        }
        const auto response = co_await answer(service_, request);
        codec::append_frame(out, response);
        if (response.error() != v1::CONTROL_ERROR_UNAUTHORIZED) {
          gate_.passed();  // the token was a user's, whatever came of the command
          continue;
        }
        // Logged once per connection, and a few tries only: guessing tokens is not a service.
        if (++unauthorized_ == 1) log_.warn("[C{}] {} sent a missing or unknown control token", id_, peer_);
        if (!request.token().empty()) {
          // A missing token guesses nothing; a wrong one counts against the address.
          const auto verdict = gate_.failed();
          hold += verdict.delay;
          if (verdict.blocked) {
            reason = "its address is blocked after too many failed authentications";
            fatal = true;
            break;
          }
        }
        if (unauthorized_ >= max_unauthorized) {
          reason = fmt::format("{} requests with a missing or unknown token", unauthorized_);
          fatal = true;
          break;
        }
      }
      if (!out.empty()) {
        if (hold.count() > 0 && !stopping_ && !evicted_) {
          timer_.expires_after(hold);
          co_await timer_.async_wait(nothrow);
        }
        if (stopping_) {
          reason = "daemon stopping";
          break;
        }
        timer_.expires_after(limits_.idle);
        // A client that stops reading its responses gets the idle timeout to take them.
        auto written = co_await (asio::async_write(stream_, asio::buffer(out), nothrow) || timer_.async_wait(nothrow));
        if (written.index() == 1 || std::get<0>(std::get<0>(written))) {
          reason = evicted_ ? evicted_reason() : "responses not taken: write failed or timed out";
          break;
        }
      }
      if (fatal || stopping_) {
        if (stopping_) reason = "daemon stopping";
        break;
      }
      if (evicted_) {
        co_await send_eviction();
        reason = evicted_reason();
        break;
      }
      auto deadline = clock::now() + limits_.idle;
      if (!gate_.authenticated()) deadline = std::min(deadline, authentication_deadline);
      timer_.expires_at(deadline);
      const auto space = decoder_.prepare();
      auto result = co_await (stream_.async_read_some(asio::buffer(space.data(), space.size()), nothrow) ||
                              timer_.async_wait(nothrow));
      if (result.index() == 1) {
        if (stopping_) {
          reason = "daemon stopping";
        } else if (evicted_) {
          co_await send_eviction();
          reason = evicted_reason();
        } else if (!gate_.authenticated()) {
          reason = fmt::format("no request with a valid token within {} ms of connecting", limits_.handshake.count());
        } else {
          reason = "idle timeout";
        }
        break;
      }
      auto [ec, n] = std::get<0>(result);
      if (ec) {
        if (ec != asio::error::eof) reason = fmt::format("connection error: {}", ec.message());
        break;
      }
      decoder_.commit(n);
    }
    auto& socket = boost::beast::get_lowest_layer(stream_);
    boost::system::error_code ignored;
    socket.shutdown(asio::socket_base::shutdown_both, ignored);
    socket.close(ignored);
    log_.info("[C{}] control connection from {} closed: {}", id_, peer_, reason);
  }

  void shutdown() override {
    stopping_ = true;
    timer_.cancel();
  }

  void evict() override {
    evicted_ = true;
    timer_.cancel();
  }

 private:
  static constexpr int max_unauthorized = 3;
  // An evicted connection gets this long to take its refusal.
  static constexpr std::chrono::seconds eviction_write_timeout{1};

  static std::string evicted_reason() {
    return "closed to make room for a newer connection: the oldest without a valid token";
  }

  /// The refusal of an evicted connection: one CONTROL_ERROR_TOO_MANY_CONNECTIONS, request_id 0.
  asio::awaitable<void> send_eviction() {
    using namespace asio::experimental::awaitable_operators;
    constexpr auto nothrow = asio::as_tuple(asio::use_awaitable);
    v1::ControlResponse response;
    response.set_error(v1::CONTROL_ERROR_TOO_MANY_CONNECTIONS);
    response.set_message(
        "closed to make room: the daemon is at its limit of control connections without a valid token, and this was "
        "the oldest; send a request with a valid token at once after connecting");
    std::string frame;
    codec::append_frame(frame, response);
    timer_.expires_after(eviction_write_timeout);
    co_await (asio::async_write(stream_, asio::buffer(frame), nothrow) || timer_.async_wait(nothrow));
  }

  Stream stream_;
  std::uint64_t id_;
  std::string peer_;
  service& service_;
  codec::frame_decoder decoder_;
  timeouts limits_;
  asio::steady_timer timer_;
  spdlog::logger& log_;
  net::auth_gate gate_;
  int unauthorized_ = 0;
  bool stopping_ = false;
  bool evicted_ = false;
};

}  // namespace vigil::control
