// The feed session over a stream that fails its N-th read or write (or makes it short), for
// every N from the first operation to one past the last of a whole scenario, over both
// framings: whatever fails, the session ends (no hang), its subscriber leaves the hub and its
// close is logged with a reason; a short read or write changes nothing the subscriber gets; and
// with nothing failing the scenario runs to its end. The subscriber is a socket pair in this
// process: no ports, no clock.

#include "daemon/codec/frame.hpp"
#include "daemon/engine/profile.hpp"
#include "daemon/feed/tcp_framing.hpp"
#include "daemon/feed/ws_framing.hpp"
#include "tests/common/faulty_stream.hpp"

#include <google/protobuf/util/json_util.h>
#include <gtest/gtest.h>
#include <spdlog/sinks/ringbuffer_sink.h>
#include <spdlog/spdlog.h>
#include <boost/asio.hpp>
#include <boost/asio/local/connect_pair.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/websocket/stream.hpp>

#include <limits>

namespace vigil::testing_support {

// The WebSocket stream's closing of the connection, on the socket underneath.
template <class Handler>
void async_teardown(boost::beast::role_type role, faulty_stream& s, Handler&& handler) {
  boost::beast::websocket::async_teardown(role, s.underlying(), std::forward<Handler>(handler));
}
inline void beast_close_socket(faulty_stream& s) {
  boost::system::error_code ignored;
  s.close(ignored);
}

}  // namespace vigil::testing_support

namespace vigil::feed {
namespace {

namespace asio = boost::asio;
using local_socket = asio::local::stream_protocol::socket;
constexpr auto nothrow = asio::as_tuple(asio::use_awaitable);

using testing_support::fault_plan;
using testing_support::faulty_stream;

engine::event numbered(std::uint64_t id) {
  engine::event e;
  e.id = id;
  e.type = engine::event_type::note_added;
  e.chair = "chair-1";
  e.session = 1;
  e.at = 1'700'000'000'000 + static_cast<engine::millis>(id);
  e.text = "note " + std::to_string(id);
  return e;
}

/// The subscriber's side of the TCP feed: protobuf frames on the other socket of the pair.
struct tcp_peer {
  using session_type = tcp_session<faulty_stream>;

  static std::shared_ptr<session_type> make_session(local_socket server, fault_plan& plan, const context& feed,
                                                    spdlog::logger& log) {
    return std::make_shared<session_type>(tcp_framing<faulty_stream>(faulty_stream(std::move(server), plan)), 1, "peer",
                                          feed, log, nullptr);
  }

  explicit tcp_peer(local_socket socket) : socket_(std::move(socket)), decoder_(codec::hard_max_frame_bytes) {}

  asio::awaitable<bool> open() { co_return true; }
  asio::awaitable<bool> send(const v1::FeedRequest& request) {
    std::string frame;
    codec::append_frame(frame, request);
    auto [ec, n] = co_await asio::async_write(socket_, asio::buffer(frame), nothrow);
    co_return !ec;
  }
  /// The next message; nullopt once the stream has ended.
  asio::awaitable<std::optional<v1::FeedMessage>> next() {
    v1::FeedMessage m;
    for (;;) {
      const auto f = decoder_.next(m);
      if (f.status == codec::decode_status::ok) co_return m;
      if (f.status == codec::decode_status::bad) co_return std::nullopt;
      const auto space = decoder_.prepare();
      auto [ec, n] = co_await socket_.async_read_some(asio::buffer(space.data(), space.size()), nothrow);
      if (ec) co_return std::nullopt;
      decoder_.commit(n);
    }
  }
  asio::awaitable<void> close() {
    boost::system::error_code ignored;
    socket_.close(ignored);
    co_return;
  }

  local_socket socket_;
  codec::frame_decoder decoder_;
};

/// The subscriber's side of the WebSocket feed: an upgrade, then JSON text messages.
struct ws_peer {
  using session_type = ws_session<faulty_stream>;

  /// The server reads the upgrade request from the socket itself, as the HTTP session does,
  /// before handing it over (uncounted); the peer sends nothing more until it has the 101.
  static std::shared_ptr<session_type> make_session(local_socket server, fault_plan& plan, const context& feed,
                                                    spdlog::logger& log) {
    boost::beast::flat_buffer buffer;
    boost::beast::http::request<boost::beast::http::string_body> req;
    boost::beast::http::read(server, buffer, req);
    EXPECT_EQ(buffer.size(), 0u);
    return std::make_shared<session_type>(
        ws_framing<faulty_stream>(faulty_stream(std::move(server), plan), std::move(req), feed.config), 1, "peer", feed,
        log, &gate_);
  }

  explicit ws_peer(local_socket socket) : ws_(std::move(socket)) {}

  asio::awaitable<bool> open() {
    auto [ec] = co_await ws_.async_handshake("localhost", "/api/v1/feed", nothrow);
    co_return !ec;
  }
  asio::awaitable<bool> send(const v1::FeedRequest& request) {
    std::string text;
    google::protobuf::util::JsonPrintOptions options;
    options.preserve_proto_field_names = true;
    (void)google::protobuf::util::MessageToJsonString(request, &text, options);
    auto [ec, n] = co_await ws_.async_write(asio::buffer(text), nothrow);
    co_return !ec;
  }
  asio::awaitable<std::optional<v1::FeedMessage>> next() {
    if (lines_.empty()) {
      buffer_.clear();
      auto [ec, n] = co_await ws_.async_read(buffer_, nothrow);
      if (ec) co_return std::nullopt;
      const auto text = boost::beast::buffers_to_string(buffer_.data());
      for (std::size_t start = 0; start <= text.size();) {
        const auto end = std::min(text.find('\n', start), text.size());
        lines_.push_back(text.substr(start, end - start));
        start = end + 1;
      }
    }
    v1::FeedMessage m;
    const auto line = std::move(lines_.front());
    lines_.pop_front();
    if (!google::protobuf::util::JsonStringToMessage(line, &m).ok()) co_return std::nullopt;
    co_return m;
  }
  asio::awaitable<void> close() { co_await ws_.async_close(boost::beast::websocket::close_code::normal, nothrow); }

  static inline net::auth_gate gate_;
  boost::beast::websocket::stream<local_socket> ws_;
  boost::beast::flat_buffer buffer_;
  std::deque<std::string> lines_;
};

/// How a scenario went.
struct run_result {
  bool ended = false;                 // the session's run() returned
  bool subscriber_done = false;       // and the subscriber side finished
  std::string reason;                 // why, as logged
  std::string closed_line;            // the log line of the close
  std::size_t subscribers = 99;       // in the hub afterwards
  std::size_t operations = 0;         // of the stream
  std::vector<std::uint64_t> events;  // ids the subscriber got
  bool snapshot = false;
  std::optional<v1::FeedClosing> closing;
};

template <class Peer>
class FeedSessionFaults : public ::testing::Test {
 protected:
  static constexpr std::uint64_t events = 4;

  enum class ending : std::uint8_t {
    subscriber_leaves,  // it reads every event, then closes
    daemon_stops,       // the session is shut down after the events: a FeedClosing, then the close
    stops_mid_write,    // shut down as the last event is published, while it may be written in part
  };

  /// Subscribes, reads the snapshot, then each of `events` events published one by one, then
  /// ends as `how` says; `plan` says which operation of the session's stream goes wrong.
  run_result run(fault_plan plan, ending how) {
    asio::io_context io;
    engine::engine eng{std::vector<engine::profile>{engine::generic_profile()}};
    hub::hub h(hub::limits{}, eng);
    const std::vector<control::user> users = {{"ana", "token-ana", control::role::nurse}};
    settings config;
    config.handshake_timeout = std::chrono::hours(1);  // nothing here waits on time
    config.close_timeout = std::chrono::hours(1);
    auto sink = std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(64);
    sink->set_pattern("%v");
    spdlog::logger log("feed-fault-test", sink);

    local_socket server(io);
    local_socket client(io);
    asio::local::connect_pair(server, client);
    std::shared_ptr<typename Peer::session_type> session;
    Peer peer(std::move(client));
    run_result result;
    bool subscriber_done = false;
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
          if (!co_await peer.open()) co_return;
          v1::FeedRequest request;
          request.set_token("token-ana");
          request.mutable_subscribe()->add_categories(v1::EVENT_CATEGORY_NOTES);
          if (!co_await peer.send(request)) co_return;
          auto m = co_await peer.next();
          if (!m) co_return;
          result.snapshot = m->has_snapshot();
          bool closing = false;  // the session said goodbye before the scenario's end
          for (std::uint64_t id = 1; id <= events && !closing; ++id) {
            // The session's handlers for what was read run first: the next event is written from the publish.
            co_await asio::post(io.get_executor(), asio::use_awaitable);
            const auto e = numbered(id);
            h.publish(std::span<const engine::event>(&e, 1));
            if (how == ending::stops_mid_write && id == events) session->shutdown();
            for (;;) {
              m = co_await peer.next();
              if (!m) co_return;
              if (m->has_closing()) {
                result.closing = m->closing();
                closing = true;
                break;
              }
              if (m->has_event()) {
                result.events.push_back(m->event().event().event_id());
                if (m->event().event().event_id() == id) break;
              }
            }
          }
          if (!closing && how == ending::subscriber_leaves) {
            co_await peer.close();
            co_return;
          }
          if (!closing && how == ending::daemon_stops) session->shutdown();
          // To the end of the stream (on WebSocket, the close handshake).
          while (auto last = co_await peer.next()) {
            if (last->has_closing()) result.closing = last->closing();
          }
        },
        [&](std::exception_ptr) { subscriber_done = true; });
    io.poll();  // the subscriber's first write: the upgrade request, or the FeedRequest
    session = Peer::make_session(std::move(server), plan, context{h, users, config}, log);
    asio::co_spawn(io, session->run(), asio::detached);
    // Everything here is driven by the two sockets; the run is over when both sides are done (a
    // WebSocket stream keeps an idle timer while it lives). The bound only turns a hang into a failure.
    while (!(subscriber_done && session->ended())) {
      if (io.run_one_for(std::chrono::seconds(60)) == 0) break;
    }
    result.subscriber_done = subscriber_done;
    result.ended = session->ended();
    result.reason = session->reason();
    result.subscribers = h.subscribers();
    result.operations = plan.operations;
    for (const auto& line : sink->last_formatted()) {
      if (line.find("closed: ") != std::string::npos || line.find("failed: ") != std::string::npos) {
        result.closed_line = line;
      }
    }
    return result;
  }

  void every_operation_fails_in_turn(ending how) {
    const auto whole = run(fault_plan{}, how);
    ASSERT_TRUE(whole.ended);
    ASSERT_TRUE(whole.snapshot);
    // Stopped as the last event is published, the session may stop before it takes it.
    ASSERT_GE(whole.events.size(), how == ending::stops_mid_write ? events - 1 : events);
    ASSERT_GT(whole.operations, 2u);
    for (std::size_t n = 0; n <= whole.operations; ++n) {
      for (const bool short_only : {false, true}) {
        SCOPED_TRACE(testing::Message() << "operation " << n << " of " << whole.operations
                                        << (short_only ? " is short" : " fails"));
        const auto r = run(fault_plan{n, short_only}, how);
        EXPECT_TRUE(r.ended) << "the session ends";
        EXPECT_TRUE(r.subscriber_done) << "and the subscriber sees it end";
        EXPECT_EQ(r.subscribers, 0u) << "and leaves the hub";
        EXPECT_FALSE(r.closed_line.empty()) << "its close is logged";
        EXPECT_NE(r.closed_line.find(r.reason), std::string::npos) << r.closed_line;
        EXPECT_NE(r.reason, "closed") << "with a reason";
        if (short_only || n == whole.operations) {
          // Nothing is lost to a short read or write, nor when nothing fails.
          EXPECT_TRUE(r.snapshot);
          EXPECT_EQ(r.events, whole.events);
          EXPECT_EQ(r.reason, whole.reason);
          EXPECT_EQ(r.closing.has_value(), whole.closing.has_value());
        } else {
          // Whatever the subscriber got, it got in order and once.
          for (std::size_t i = 0; i < r.events.size(); ++i) EXPECT_EQ(r.events[i], i + 1);
        }
      }
    }
  }
};

struct peer_names {
  template <class T>
  static std::string GetName(int) {
    return std::is_same_v<T, tcp_peer> ? "Tcp" : "WebSocket";
  }
};
using peers = ::testing::Types<tcp_peer, ws_peer>;
TYPED_TEST_SUITE(FeedSessionFaults, peers, peer_names);

TYPED_TEST(FeedSessionFaults, TheSubscriberLeavesAfterItsEvents) {
  const auto whole = this->run(fault_plan{}, TestFixture::ending::subscriber_leaves);
  EXPECT_EQ(whole.reason.rfind("closed by the subscriber", 0), 0u) << whole.reason;
  EXPECT_FALSE(whole.closing);
  this->every_operation_fails_in_turn(TestFixture::ending::subscriber_leaves);
}

TYPED_TEST(FeedSessionFaults, TheDaemonStopsAfterTheEvents) {
  const auto whole = this->run(fault_plan{}, TestFixture::ending::daemon_stops);
  EXPECT_EQ(whole.reason, "FEED_ERROR_SHUTTING_DOWN: the daemon is stopping; resume with the last event id");
  ASSERT_TRUE(whole.closing);
  EXPECT_EQ(whole.closing->error(), v1::FEED_ERROR_SHUTTING_DOWN);
  this->every_operation_fails_in_turn(TestFixture::ending::daemon_stops);
}

TYPED_TEST(FeedSessionFaults, TheDaemonStopsWhileTheLastEventIsBeingWritten) {
  const auto whole = this->run(fault_plan{}, TestFixture::ending::stops_mid_write);
  ASSERT_TRUE(whole.closing);
  EXPECT_EQ(whole.closing->error(), v1::FEED_ERROR_SHUTTING_DOWN);
  // A short write of the last event leaves part of its frame unwritten: the FeedClosing follows the rest.
  this->every_operation_fails_in_turn(TestFixture::ending::stops_mid_write);
}

}  // namespace
}  // namespace vigil::feed
