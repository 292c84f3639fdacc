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
  control_session(Stream stream, std::uint64_t id, std::string peer, service& handler, std::size_t max_frame_bytes,
                  std::chrono::milliseconds idle_timeout, spdlog::logger& log)
      : stream_(std::move(stream)),
        id_(id),
        peer_(std::move(peer)),
        service_(handler),
        decoder_(max_frame_bytes),
        idle_timeout_(idle_timeout),
        timer_(stream_.get_executor()),
        log_(log) {}

  asio::awaitable<void> run() override {
    using namespace asio::experimental::awaitable_operators;
    constexpr auto nothrow = asio::as_tuple(asio::use_awaitable);
    auto self = this->shared_from_this();
    log_.debug("[C{}] control connection from {}", id_, peer_);
    v1::ControlRequest request;
    std::string out;
    std::string reason = "closed by the client";
    for (;;) {
      out.clear();
      bool fatal = false;
      for (;;) {
        const auto frame = decoder_.next(request);
        if (frame.status == codec::decode_status::need_more) break;
        if (frame.status == codec::decode_status::bad) {
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
        if (response.error() == v1::CONTROL_ERROR_UNAUTHORIZED) {
          // Logged once per connection, and a few tries only: guessing tokens is not a service.
          if (++unauthorized_ == 1) log_.warn("[C{}] {} sent a missing or unknown control token", id_, peer_);
          if (unauthorized_ >= max_unauthorized) {
            reason = fmt::format("{} requests with a missing or unknown token", unauthorized_);
            fatal = true;
            break;
          }
        }
      }
      if (!out.empty()) {
        timer_.expires_after(idle_timeout_);
        // A client that stops reading its responses gets the idle timeout to take them.
        auto written = co_await (asio::async_write(stream_, asio::buffer(out), nothrow) || timer_.async_wait(nothrow));
        if (written.index() == 1 || std::get<0>(std::get<0>(written))) {
          reason = "responses not taken: write failed or timed out";
          break;
        }
      }
      if (fatal || stopping_) {
        if (stopping_) reason = "daemon stopping";
        break;
      }
      timer_.expires_after(idle_timeout_);
      const auto space = decoder_.prepare();
      auto result = co_await (stream_.async_read_some(asio::buffer(space.data(), space.size()), nothrow) ||
                              timer_.async_wait(nothrow));
      if (result.index() == 1) {
        reason = stopping_ ? "daemon stopping" : "idle timeout";
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

 private:
  Stream stream_;
  std::uint64_t id_;
  std::string peer_;
  service& service_;
  codec::frame_decoder decoder_;
  std::chrono::milliseconds idle_timeout_;
  asio::steady_timer timer_;
  spdlog::logger& log_;
  static constexpr int max_unauthorized = 3;
  int unauthorized_ = 0;
  bool stopping_ = false;
};

}  // namespace vigil::control
