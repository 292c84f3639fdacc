#pragma once

// One feed subscriber, whatever carries it: the FeedRequest in (admitted by feed::admit), then
// the hub's frames out until either side closes. What differs between the TCP feed and the
// WebSocket feed, how messages are framed on the stream, is the `Framing` (tcp_framing.hpp,
// ws_framing.hpp); the rest (the handshake deadline, refusals, the hub's wake, writes straight
// from the hub's publish, the stuck-write cut-off, the last FeedClosing, the log) is here once.
//
// A Framing has:
//   static constexpr hub::format format;            the hub's encoding for it
//   static constexpr std::string_view label;        "feed subscriber", as logged at the close
//   static constexpr std::string_view over;         "" or " over WebSocket", as logged at subscribing
//   static constexpr std::string_view evicted;      the FeedClosing's message when evicted
//   get_executor()
//   awaitable<std::string> open(log, id, peer)       the transport's own opening; a failure (logged) ends it
//   awaitable<incoming> read(bool want_request)      the next thing the subscriber sent
//   void queue(frames), bool pending()               frames taken from the hub, not yet written
//   bool write_through()                             non-blocking writes from wake() will do
//   void write_now()                                 one non-blocking write of what is pending
//   awaitable<error_code> write_pending()            writes everything pending
//   std::string closing_frame(error, message)        a FeedClosing, encoded
//   awaitable<void> send_last(frame, error, close_code, timer, timeout)  the last frame, then the close
//   void close()                                     closes the connection

#include "daemon/control/access.hpp"
#include "daemon/feed/admission.hpp"
#include "daemon/feed/settings.hpp"
#include "daemon/hub/hub.hpp"
#include "daemon/net/listener.hpp"
#include "vigil/v1/feed.pb.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <boost/asio.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace vigil::feed {

namespace asio = boost::asio;

/// What a feed serves from: the hub, the users and the feed's limits.
struct context {
  hub::hub& hub;
  const std::vector<control::user>& users;
  const settings& config;
  session_lookup sessions = nullptr;  // session tokens from signing in, also accepted; null: none
};

/// What a Framing read from the subscriber.
struct incoming {
  enum class kind : std::uint8_t {
    request,  // a whole FeedRequest (only when one was wanted)
    ignored,  // something the feed reads and ignores
    refused,  // something that ends the subscription: `error`, `message`, `close_code`
    ended,    // the stream ended; `reason`, if not empty, says why
  };
  kind what = kind::ignored;
  v1::FeedRequest request{};
  v1::FeedError error = v1::FEED_ERROR_UNSPECIFIED;
  std::string message{};
  int close_code = 0;  // a WebSocket close code other than the error's; 0: the error's
  std::string reason{};
};

template <class Framing>
class subscriber_session final : public net::connection,
                                 public std::enable_shared_from_this<subscriber_session<Framing>> {
 public:
  /// `shared_gate`: a gate that outlives the session (the HTTP connection's); null: `gate` is the session's own.
  subscriber_session(Framing framing, std::uint64_t id, std::string peer, const context& feed, spdlog::logger& log,
                     net::auth_gate* shared_gate, net::auth_gate gate = {})
      : own_gate_(std::move(gate)),
        gate_(shared_gate != nullptr ? *shared_gate : own_gate_),
        framing_(std::move(framing)),
        id_(id),
        peer_(std::move(peer)),
        hub_(feed.hub),
        users_(feed.users),
        config_(feed.config),
        sessions_(feed.sessions),
        log_(log),
        timer_(framing_.get_executor()),
        wake_(framing_.get_executor(), clock::time_point::max()),
        abort_(framing_.get_executor(), clock::time_point::max()) {}

  asio::awaitable<void> run() override {
    using namespace asio::experimental::awaitable_operators;
    auto self = this->shared_from_this();
    if (auto failed = co_await framing_.open(log_, id_, peer_); !failed.empty()) {
      reason_ = std::move(failed);
      framing_.close();
    } else {
      deadline_ = clock::now() + config_.handshake_timeout;
      wake_.expires_at(deadline_);
      co_await (write_loop() || read_loop());
      if (sub_) hub_.unsubscribe(*sub_);
      framing_.close();
      log_.info("[C{}] {} {} closed: {}", id_, Framing::label, peer_, reason_);
    }
    ended_ = true;
  }

  void shutdown() override {
    stopping_ = true;
    wake_.cancel();
    if (holding_) timer_.cancel();  // a refusal held back is sent now
  }

  /// Only ever called before the FeedRequest is accepted: the writer answers it.
  void evict() override {
    evicted_ = true;
    if (holding_) timer_.cancel();
    if (sub_) return;
    refuse(v1::FEED_ERROR_TOO_MANY_CONNECTIONS, std::string(Framing::evicted));
  }

  /// For tests: run() has returned, and why the subscription ended.
  bool ended() const noexcept { return ended_; }
  const std::string& reason() const noexcept { return reason_; }

 private:
  using clock = asio::steady_timer::clock_type;
  static constexpr auto nothrow = asio::as_tuple(asio::use_awaitable);

  struct refusal {
    v1::FeedError error;
    std::string message;
    int close_code = 0;
    std::chrono::milliseconds hold{0};  // the answer to a wrong token is slowed (net::auth_tracker)
  };

  /// Admits the FeedRequest and subscribes to the hub, or sets the refusal.
  void subscribe(const v1::FeedRequest& request) {
    auto verdict = admit(request, users_, sessions_);
    if (auto* no = std::get_if<refused>(&verdict)) {
      std::chrono::milliseconds hold{0};
      if (no->error == v1::FEED_ERROR_UNAUTHORIZED) {
        log_.warn("[C{}] {} sent a missing or unknown feed token", id_, peer_);
        if (no->failed_authentication) hold = gate_.failed().delay;
      } else {
        gate_.passed();  // the token was a user's; what it asked for was not
      }
      refuse(no->error, std::move(no->message), 0, hold);
      return;
    }
    auto& yes = std::get<accepted>(verdict);
    gate_.passed();
    auto result = hub_.subscribe(yes.filter, Framing::format, yes.resume_after, [weak = this->weak_from_this()] {
      if (auto session = weak.lock()) session->wake();
    });
    if (!result.sub) {
      refuse(result.error, std::move(result.message));
      return;
    }
    sub_ = std::move(result.sub);
    write_through_ = framing_.write_through();
    const auto& resume = yes.resume_after;
    log_.info("[C{}] {} subscribed{} as {} ({}{})", id_, peer_, Framing::over, yes.who.name,
              resume ? "resuming after event " : "snapshot", resume ? std::to_string(*resume) : "");
    reason_ = "closed by the subscriber";
    wake_.expires_at(clock::time_point::max());  // no handshake deadline any more; wakes the writer
  }

  /// The hub queued frames (or closed the subscription). Where the framing allows, they are
  /// written at once, from the hub's publish, when the socket can take them: an alarm leaves in
  /// the same turn of the I/O thread as the sample that raised it, not after the handlers
  /// already waiting. What the socket cannot take now is left to the write loop.
  void wake() {
    if (write_through_ && sub_ && !sub_->closed() && !stopping_ && !writing_ && !refusal_) {
      framing_.queue(sub_->take());
      if (!framing_.pending()) return;
      framing_.write_now();
      if (!framing_.pending()) {
        sub_->written(std::chrono::steady_clock::now());
        return;
      }
    }
    wake_.cancel();
    if (sub_ && sub_->closed()) abort_.cancel();
  }

  /// The writer sends a FeedClosing and ends (with `close_code`, or by default the error's).
  void refuse(v1::FeedError error, std::string message, int close_code = 0, std::chrono::milliseconds hold = {}) {
    if (refusal_) return;
    refusal_ = refusal{error, std::move(message), close_code, hold};
    wake_.cancel();
  }

  asio::awaitable<void> write_loop() {
    using namespace asio::experimental::awaitable_operators;
    for (;;) {
      if (refusal_) {
        if (refusal_->hold.count() > 0 && !stopping_ && !evicted_) {
          timer_.expires_after(std::exchange(refusal_->hold, {}));
          holding_ = true;
          co_await timer_.async_wait(nothrow);
          holding_ = false;
        }
        reason_ = fmt::format("{}: {}", v1::FeedError_Name(refusal_->error), refusal_->message);
        co_await framing_.send_last(framing_.closing_frame(refusal_->error, refusal_->message), refusal_->error,
                                    refusal_->close_code, timer_, config_.close_timeout);
        co_return;
      }
      if (stopping_) {
        refuse(v1::FEED_ERROR_SHUTTING_DOWN,
               sub_ ? "the daemon is stopping; resume with the last event id" : "the daemon is stopping");
        continue;
      }
      if (sub_) {
        if (sub_->closed()) {
          reason_ = fmt::format("cut off by the hub: {}", sub_->close_reason());
          co_await framing_.send_last(sub_->closing(), sub_->close_error(), 0, timer_,
                                      config_.close_timeout);
          co_return;
        }
        framing_.queue(sub_->take());
        if (framing_.pending()) {
          // A write stuck on a reader that does not read is given up once the hub cuts it off.
          writing_ = true;
          auto result = co_await (framing_.write_pending() || abort_.async_wait(nothrow));
          writing_ = false;
          if (result.index() == 1) {
            // Mid-frame: no FeedClosing can follow.
            reason_ = fmt::format("cut off by the hub while a write was stuck: {}", sub_->close_reason());
            co_return;
          }
          if (const auto ec = std::get<0>(result); ec) {
            reason_ = fmt::format("write failed: {}", ec.message());
            co_return;
          }
          sub_->written(std::chrono::steady_clock::now());
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

  asio::awaitable<void> read_loop() {
    // After the request nothing more is expected; reading tells when the subscriber leaves.
    for (;;) {
      auto in = co_await framing_.read(!sub_ && !refusal_);
      switch (in.what) {
        case incoming::kind::ignored:
          continue;
        case incoming::kind::request:
          if (!sub_ && !refusal_) subscribe(in.request);
          continue;
        case incoming::kind::refused:
          if (!sub_) gate_.bad_request();
          refuse(in.error, std::move(in.message), in.close_code);
          continue;
        case incoming::kind::ended:
          if (refusal_ || (sub_ && sub_->closed())) {
            // The writer's last frame and reason stand: it ends the session when it is done.
            asio::steady_timer forever(framing_.get_executor(), clock::time_point::max());
            co_await forever.async_wait(nothrow);
            co_return;
          }
          if (!in.reason.empty()) reason_ = std::move(in.reason);
          co_return;
      }
    }
  }

  net::auth_gate own_gate_;
  net::auth_gate& gate_;
  Framing framing_;
  std::uint64_t id_;
  std::string peer_;
  hub::hub& hub_;
  const std::vector<control::user>& users_;
  const settings& config_;
  session_lookup sessions_;
  spdlog::logger& log_;
  asio::steady_timer timer_;  // holds a refusal back, bounds the last frame
  asio::steady_timer wake_;   // cancel() wakes the writer; expires at the handshake deadline until subscribed
  asio::steady_timer abort_;  // never expires; cancel() gives up a stuck write
  clock::time_point deadline_{};
  std::shared_ptr<hub::subscription> sub_;
  std::optional<refusal> refusal_;
  std::string reason_ = "closed";
  bool writing_ = false;        // the write loop's write is in flight
  bool write_through_ = false;  // wake() may write at once
  bool holding_ = false;
  bool stopping_ = false;
  bool evicted_ = false;
  bool ended_ = false;
};

}  // namespace vigil::feed
