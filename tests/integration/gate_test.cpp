// Connections that have not authenticated, and failed authentications, on the four listeners
// through real sockets: idle sockets from other addresses (127.0.0.2 and up, all loopback on
// Linux) never keep a user, a monitor or /healthz out; an address at its limit of
// unauthenticated connections is refused while others get in; the oldest unauthenticated
// connection is evicted with its protocol's error; wrong tokens are slowed, counted and then
// blocked per address, across the listeners, while 127.0.0.1 with a good token is unaffected;
// bad frames and requests are counted per listener.

#include "tests/integration/clinic_scenario.hpp"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/read.hpp>

#include <cstdlib>
#include <memory>
#include <sstream>

namespace vigil::test {
namespace {

namespace asio = boost::asio;
using asio::ip::tcp;
using namespace std::chrono_literals;

constexpr const char* viewer_token = "viewer-token-vic";

/// The address of the n-th attacking peer: 127.0.0.2 and up.
std::string attacker(int n) { return fmt::format("127.0.0.{}", 2 + n); }

/// Sockets that connect and then say nothing, `each` from every one of `addresses` addresses
/// (127.0.0.2 and up): one io_context for all, so a thousand cost a thousand descriptors.
class idle_crowd {
 public:
  idle_crowd(std::uint16_t port, int addresses, int each, int first_address = 0) {
    sockets_.reserve(static_cast<std::size_t>(addresses * each));
    for (int a = 0; a < addresses; ++a) {
      for (int i = 0; i < each; ++i) {
        sockets_.emplace_back(io_);
        open_from(sockets_.back(), attacker(first_address + a));
        sockets_.back().connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
      }
    }
  }

  std::size_t size() const { return sockets_.size(); }

  /// What the daemon sent on socket `i` until it closed it; nullopt if it did not close it within `timeout`.
  std::optional<std::string> until_closed(std::size_t i, std::chrono::milliseconds timeout = default_wait) {
    std::string received;
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      bool done = false;
      boost::system::error_code result;
      std::size_t n = 0;
      char chunk[4096];
      sockets_[i].async_read_some(asio::buffer(chunk), [&](boost::system::error_code ec, std::size_t got) {
        done = true;
        result = ec;
        n = got;
      });
      io_.restart();
      io_.run_until(deadline);
      if (!done) {
        sockets_[i].cancel();
        io_.restart();
        io_.run();
        return std::nullopt;
      }
      if (result) return received;
      received.append(chunk, n);
    }
  }

 private:
  asio::io_context io_;
  std::vector<tcp::socket> sockets_;
};

/// The first frame in `bytes`, decoded as `Message`.
template <class Message>
std::optional<Message> first_frame(const std::string& bytes) {
  codec::frame_decoder decoder(codec::hard_max_frame_bytes);
  decoder.feed({reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size()});
  Message m;
  if (decoder.next(m).status != codec::decode_status::ok) return std::nullopt;
  return m;
}


std::string series(const char* name, const char* listener) { return fmt::format("{}{{listener=\"{}\"}}", name, listener); }

config::daemon_config gate_config() {
  auto c = fast_config();
  c.users = {{"nurse-ana", operator_token, control::role::admin}, {"dr-vic", viewer_token, control::role::viewer}};
  // The sockets held idle must outlive the test's own steps, however slow the machine.
  c.ingest.handshake_timeout = 60s;
  c.feed.handshake_timeout = 60s;
  c.control.handshake_timeout = 60s;
  c.http.unauthenticated_timeout = 60s;
  return c;
}

v1::ControlRequest list() {
  v1::ControlRequest r;
  r.mutable_list_sessions();
  return r;
}

// --- control ------------------------------------------------------------------------------------

TEST(Gate, IdleUnauthenticatedControlConnectionsDoNotKeepAnAdminOut) {
  daemon_under_test d(gate_config());
  // As many as control.max_connections (64), from 8 addresses: each at its limit of 8.
  idle_crowd crowd(d.control_port(), 8, 8);
  control_client admin(d.control_port());
  const auto r = admin.call(list());
  ASSERT_TRUE(r) << "the admin is served at once";
  EXPECT_EQ(r->error(), v1::CONTROL_ERROR_NONE) << r->message();
  // The oldest idle ones were closed to make room, each with the documented error.
  const auto bytes = crowd.until_closed(0);
  ASSERT_TRUE(bytes) << "the oldest idle connection is closed";
  const auto refusal = first_frame<v1::ControlResponse>(*bytes);
  ASSERT_TRUE(refusal);
  EXPECT_EQ(refusal->error(), v1::CONTROL_ERROR_TOO_MANY_CONNECTIONS);
  EXPECT_EQ(refusal->request_id(), 0u);
  EXPECT_NE(refusal->message().find("make room"), std::string::npos) << refusal->message();
  EXPECT_GE(metric(d, series("vigil_unauthenticated_evicted_total", "control")), 49);
  EXPECT_EQ(metric(d, series("vigil_connections_unauthenticated", "control")), 15) << "16, less the admin's";
  EXPECT_EQ(metric(d, series("vigil_connections_refused_total", "control")), 0);
}

TEST(Gate, AControlPeerAtItsUnauthenticatedLimitIsRefusedWhileAnotherGetsIn) {
  daemon_under_test d(gate_config());
  idle_crowd crowd(d.control_port(), 1, 8);  // 127.0.0.2 at control.max_unauthenticated_per_peer
  control_client extra(d.control_port(), attacker(0));
  const auto refusal = extra.receive(5s);
  ASSERT_TRUE(refusal) << "refused on accept";
  EXPECT_EQ(refusal->error(), v1::CONTROL_ERROR_TOO_MANY_CONNECTIONS);
  EXPECT_NE(refusal->message().find("this address"), std::string::npos) << refusal->message();
  EXPECT_TRUE(extra.wait_closed());
  control_client other(d.control_port(), attacker(1));
  const auto r = other.call(list());
  ASSERT_TRUE(r);
  EXPECT_EQ(r->error(), v1::CONTROL_ERROR_NONE);
  EXPECT_EQ(metric(d, series("vigil_unauthenticated_refused_total", "control")), 1);
  EXPECT_FALSE(crowd.until_closed(7, 50ms)) << "the address's first eight stay: none was evicted";
}

TEST(Gate, AControlConnectionWithoutAValidTokenIsClosedAtItsDeadline) {
  auto config = gate_config();
  config.control.handshake_timeout = 200ms;
  daemon_under_test d(config);
  control_client user(d.control_port());
  ASSERT_EQ(user.call(list())->error(), v1::CONTROL_ERROR_NONE);
  control_client silent(d.control_port());
  EXPECT_TRUE(silent.wait_closed(5s)) << "closed without a response at control.handshake_timeout_ms";
  control_client guessing(d.control_port());
  auto wrong = list();
  wrong.set_token("not-a-token-at-all");
  EXPECT_EQ(guessing.call(wrong)->error(), v1::CONTROL_ERROR_UNAUTHORIZED);
  EXPECT_TRUE(guessing.wait_closed(5s)) << "a wrong token does not extend the deadline";
  // The authenticated connection is past the deadline and still served: the idle timeout applies.
  const auto later = user.call(list());
  ASSERT_TRUE(later);
  EXPECT_EQ(later->error(), v1::CONTROL_ERROR_NONE);
}

// --- http ---------------------------------------------------------------------------------------

TEST(Gate, IdleUnauthenticatedHttpConnectionsDoNotFailHealthzOrKeepUsersOut) {
  daemon_under_test d(gate_config());
  // As many as http.max_connections (1024), from 16 addresses: each at its limit of 64.
  idle_crowd crowd(d.http_port(), 16, 64);
  http_client probe(d.http_port());
  const auto health = probe.request("GET", "/healthz");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200) << health->body;
  http_client user(d.http_port());
  const auto sessions = user.request("GET", "/api/v1/sessions", viewer_token);
  ASSERT_TRUE(sessions);
  EXPECT_EQ(sessions->status, 200) << sessions->body;
  const auto bytes = crowd.until_closed(0);
  ASSERT_TRUE(bytes) << "the oldest idle connection is closed";
  EXPECT_EQ(bytes->rfind("HTTP/1.1 503", 0), 0u) << *bytes;
  EXPECT_NE(bytes->find("\"error\":\"too_many_connections\""), std::string::npos) << *bytes;
  EXPECT_NE(bytes->find("make room"), std::string::npos) << *bytes;
  EXPECT_GE(metric(d, series("vigil_unauthenticated_evicted_total", "http")), 769);
}

TEST(Gate, AnHttpPeerAtItsUnauthenticatedLimitIsRefusedWhileAnotherGetsIn) {
  daemon_under_test d(gate_config());
  idle_crowd crowd(d.http_port(), 1, 64);
  http_client extra(d.http_port(), attacker(0));
  const auto refusal = extra.receive(5s);
  ASSERT_TRUE(refusal);
  EXPECT_EQ(refusal->status, 503);
  EXPECT_NE(refusal->body.find("this address"), std::string::npos) << refusal->body;
  EXPECT_EQ(refusal->header("retry-after"), "1");
  http_client other(d.http_port(), attacker(1));
  EXPECT_EQ(other.request("GET", "/healthz")->status, 200);
}

TEST(Gate, AnUnauthenticatedKeepAliveConnectionIsClosedAfterItsDeadlineAndAnAuthenticatedOneIsNot) {
  auto config = gate_config();
  config.http.unauthenticated_timeout = 200ms;
  daemon_under_test d(config);
  http_client user(d.http_port());
  ASSERT_EQ(user.request("GET", "/api/v1/me", viewer_token)->status, 200);
  http_client health(d.http_port());
  const auto r = health.request("GET", "/healthz");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_TRUE(r->keep_alive);
  EXPECT_TRUE(health.wait_closed(5s)) << "idle past http.unauthenticated_timeout_ms without a token";
  http_client trickle(d.http_port());
  trickle.send_raw("GET /healthz HTTP/1.1\r\nHost: x\r\n");  // never finishes
  EXPECT_TRUE(trickle.wait_closed(5s));
  // Past both deadlines, the authenticated connection is still served (http.idle_timeout_ms applies).
  const auto me = user.request("GET", "/api/v1/me", viewer_token);
  ASSERT_TRUE(me);
  EXPECT_EQ(me->status, 200);
}

// --- ingest -------------------------------------------------------------------------------------

TEST(Gate, IdleDeviceConnectionsFromAnotherAddressDoNotKeepANewMonitorOut) {
  daemon_under_test d(gate_config());
  // As many as ingest.max_connections (1024), from 8 addresses: each at its limit of 128.
  idle_crowd crowd(d.port(), 8, 128);
  test_client monitor(d.port());
  const auto welcome = monitor.hello("dev-1");
  ASSERT_TRUE(welcome);
  EXPECT_TRUE(welcome->has_welcome()) << welcome->DebugString();
  monitor.send(make_batch(1, 3, wall_ms()));
  EXPECT_TRUE(monitor.wait_ack(1));
  const auto bytes = crowd.until_closed(0);
  ASSERT_TRUE(bytes);
  const auto error = first_frame<v1::DaemonMessage>(*bytes);
  ASSERT_TRUE(error && error->has_error());
  EXPECT_EQ(error->error().code(), v1::TOO_MANY_CONNECTIONS);
  EXPECT_TRUE(error->error().fatal());
  EXPECT_NE(error->error().message().find("make room"), std::string::npos) << error->error().message();
  EXPECT_GE(metric(d, series("vigil_unauthenticated_evicted_total", "ingest")), 769);
}

TEST(Gate, ADevicePeerAtItsUnauthenticatedLimitIsRefusedWhileAnotherGetsIn) {
  daemon_under_test d(gate_config());
  idle_crowd crowd(d.port(), 1, 128);
  test_client extra(d.port(), attacker(0));
  const auto refusal = extra.receive(5s);
  ASSERT_TRUE(refusal && refusal->has_error());
  EXPECT_EQ(refusal->error().code(), v1::TOO_MANY_CONNECTIONS);
  EXPECT_NE(refusal->error().message().find("this address"), std::string::npos) << refusal->error().message();
  EXPECT_TRUE(extra.wait_closed());
  test_client other(d.port(), attacker(1));
  const auto welcome = other.hello("dev-2");
  ASSERT_TRUE(welcome);
  EXPECT_TRUE(welcome->has_welcome());
  EXPECT_EQ(metric(d, series("vigil_unauthenticated_refused_total", "ingest")), 1);
}

// --- feed ---------------------------------------------------------------------------------------

TEST(Gate, IdleFeedConnectionsFromOtherAddressesDoNotKeepASubscriberOut) {
  daemon_under_test d(gate_config());
  // As many as feed.max_connections (1024), from 64 addresses: each at its limit of 16.
  idle_crowd crowd(d.feed_port(), 64, 16);
  feed_client feed(d.feed_port());
  feed.subscribe(subscribe_to());
  const auto first = feed.next();
  ASSERT_TRUE(first);
  EXPECT_TRUE(first->has_snapshot()) << first->DebugString();
  const auto bytes = crowd.until_closed(0);
  ASSERT_TRUE(bytes);
  const auto closing = first_frame<v1::FeedMessage>(*bytes);
  ASSERT_TRUE(closing && closing->has_closing());
  EXPECT_EQ(closing->closing().error(), v1::FEED_ERROR_TOO_MANY_CONNECTIONS);
  EXPECT_NE(closing->closing().message().find("make room"), std::string::npos) << closing->closing().message();

  idle_crowd more(d.feed_port(), 1, 16, 71);  // 127.0.0.73 at its limit of 16
  feed_client refused(d.feed_port(), 0, attacker(71));
  const auto refusal = refused.next(5s);
  ASSERT_TRUE(refusal && refusal->has_closing());
  EXPECT_EQ(refusal->closing().error(), v1::FEED_ERROR_TOO_MANY_CONNECTIONS);
  EXPECT_NE(refusal->closing().message().find("this address"), std::string::npos);
}

// --- failed authentication ------------------------------------------------------------------------

/// Delays short enough for a test: the delay itself is not what the tests look at.
config::daemon_config guessing_config() {
  auto c = gate_config();
  c.auth_failures.first_delay = 1ms;
  c.auth_failures.max_delay = 2ms;
  return c;
}

TEST(Gate, WrongTokensOverHttpAreSlowedThenTheAddressIsBlockedWhileOthersAreServed) {
  daemon_under_test d(guessing_config());
  int failures = 0;
  int connections = 0;
  while (failures < 10 && connections < 20) {
    http_client guesser(d.http_port(), attacker(0));
    ++connections;
    for (;;) {
      const auto r = guesser.request("GET", "/api/v1/me", fmt::format("guess-number-{:04}", failures));
      ASSERT_TRUE(r) << "every wrong token is answered";
      EXPECT_EQ(r->status, 401);
      ++failures;
      if (!r->keep_alive) {
        EXPECT_TRUE(guesser.wait_closed());
        break;
      }
      if (failures >= 10) break;
      // The good user at 127.0.0.1 is served meanwhile.
      http_client user(d.http_port());
      EXPECT_EQ(user.request("GET", "/api/v1/me", viewer_token)->status, 200);
    }
  }
  EXPECT_EQ(failures, 10);
  EXPECT_EQ(connections, 4) << "each connection is closed after three wrong tokens, the fourth by the block";
  // Blocked: a new connection from the address is closed at once, with no answer at all.
  http_client blocked(d.http_port(), attacker(0));
  EXPECT_FALSE(blocked.request("GET", "/healthz"));
  http_client user(d.http_port());
  EXPECT_EQ(user.request("GET", "/api/v1/me", viewer_token)->status, 200);
  EXPECT_EQ(metric(d, series("vigil_auth_failures_total", "http")), 10);
  EXPECT_EQ(metric(d, series("vigil_auth_failures_delayed_total", "http")), 7) << "every failure after the third";
  EXPECT_EQ(metric(d, series("vigil_connections_blocked_total", "http")), 1);
  EXPECT_EQ(metric(d, "vigil_peers_blocked"), 1);
  EXPECT_EQ(metric(d, "vigil_peer_blocks_total"), 1);
}

TEST(Gate, FailuresCountAcrossTheListenersAndASuccessDoesNotResetThem) {
  daemon_under_test d(guessing_config());
  // Three wrong control tokens, with a good viewer's request in between from the same address.
  {
    control_client ops(d.control_port(), attacker(0));
    auto wrong = list();
    wrong.set_token("guess-number-0001");
    EXPECT_EQ(ops.call(wrong)->error(), v1::CONTROL_ERROR_UNAUTHORIZED);
    auto good = list();
    good.set_token(viewer_token);
    EXPECT_EQ(ops.call(good)->error(), v1::CONTROL_ERROR_NONE);
    EXPECT_EQ(ops.call(wrong)->error(), v1::CONTROL_ERROR_UNAUTHORIZED);
    EXPECT_EQ(ops.call(wrong)->error(), v1::CONTROL_ERROR_UNAUTHORIZED);
    EXPECT_TRUE(ops.wait_closed());
  }
  // Three wrong device tokens.
  for (int i = 0; i < 3; ++i) {
    test_client device(d.port(), attacker(0));
    const auto reply = device.hello("dev-9", "guess-device-token");
    ASSERT_TRUE(reply && reply->has_error());
    EXPECT_EQ(reply->error().code(), v1::BAD_TOKEN);
  }
  // Three wrong feed tokens.
  for (int i = 0; i < 3; ++i) {
    feed_client feed(d.feed_port(), 0, attacker(0));
    auto request = subscribe_to();
    request.set_token("guess-feed-token");
    feed.subscribe(request);
    const auto m = feed.next();
    ASSERT_TRUE(m && m->has_closing());
    EXPECT_EQ(m->closing().error(), v1::FEED_ERROR_UNAUTHORIZED);
  }
  // A good viewer's token over HTTP does not help either; the tenth failure blocks the address.
  http_client web(d.http_port(), attacker(0));
  EXPECT_EQ(web.request("GET", "/api/v1/me", viewer_token)->status, 200);
  const auto tenth = web.request("GET", "/api/v1/me", "guess-number-0010");
  ASSERT_TRUE(tenth);
  EXPECT_EQ(tenth->status, 401);
  EXPECT_FALSE(tenth->keep_alive) << "the block ends the connection that caused it";

  // Every listener now closes the address's new connections at once.
  EXPECT_FALSE(control_client(d.control_port(), attacker(0)).call(list(), 5s));
  test_client device(d.port(), attacker(0));
  EXPECT_TRUE(device.wait_closed());
  feed_client feed(d.feed_port(), 0, attacker(0));
  feed.subscribe(subscribe_to());
  EXPECT_FALSE(feed.next(5s));
  EXPECT_TRUE(feed.closed());
  // 127.0.0.1 is not affected anywhere.
  EXPECT_EQ(control_client(d.control_port()).call(list())->error(), v1::CONTROL_ERROR_NONE);
  test_client monitor(d.port());
  EXPECT_TRUE(monitor.hello("dev-1")->has_welcome());
  feed_client subscriber(d.feed_port());
  subscriber.subscribe(subscribe_to());
  EXPECT_TRUE(subscriber.next()->has_snapshot());

  for (const char* l : {"control", "ingest", "feed"}) {
    EXPECT_EQ(metric(d, series("vigil_auth_failures_total", l)), 3) << l;
    EXPECT_EQ(metric(d, series("vigil_connections_blocked_total", l)), 1) << l;
  }
  EXPECT_EQ(metric(d, series("vigil_auth_failures_total", "http")), 1);
  EXPECT_EQ(metric(d, "vigil_peers_blocked"), 1);
}

TEST(Gate, ReconnectingToTheControlPortDoesNotBuyMoreGuesses) {
  daemon_under_test d(guessing_config());
  int closed_connections = 0;
  int failures = 0;
  for (int attempt = 0; attempt < 10 && failures < 10; ++attempt) {
    control_client ops(d.control_port(), attacker(0));
    auto wrong = list();
    wrong.set_token(fmt::format("guess-number-{:04}", failures));
    while (auto r = ops.call(wrong)) {
      EXPECT_EQ(r->error(), v1::CONTROL_ERROR_UNAUTHORIZED);
      ++failures;
    }
    ++closed_connections;
  }
  EXPECT_EQ(failures, 10);
  EXPECT_EQ(closed_connections, 4);
  EXPECT_FALSE(control_client(d.control_port(), attacker(0)).call(list(), 5s)) << "blocked";
  EXPECT_EQ(control_client(d.control_port()).call(list())->error(), v1::CONTROL_ERROR_NONE);
}

// --- bad frames and requests ----------------------------------------------------------------------

TEST(Gate, BadFramesAndRequestsAreCountedPerListener) {
  daemon_under_test d(gate_config());
  {
    control_client ops(d.control_port());
    ops.send_raw(std::string(1, '\0'));
    const auto r = ops.receive();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->error(), v1::CONTROL_ERROR_UNPARSABLE);
  }
  {
    feed_client feed(d.feed_port());
    feed.send_raw(std::string(1, '\0'));
    const auto m = feed.next();
    ASSERT_TRUE(m && m->has_closing());
    EXPECT_EQ(m->closing().error(), v1::FEED_ERROR_UNPARSABLE);
  }
  {
    http_client web(d.http_port());
    web.send_raw("GARBAGE\r\n\r\n");
    EXPECT_EQ(web.receive()->status, 400);
  }
  {
    test_client device(d.port());
    device.send_raw(std::string(1, '\0'));
    EXPECT_TRUE(device.wait_closed());
  }
  for (const char* l : {"control", "feed", "http", "ingest"}) {
    EXPECT_EQ(metric(d, series("vigil_bad_requests_total", l)), 1) << l;
  }
  EXPECT_EQ(metric(d, "vigil_protocol_errors_total"), 1);
}

}  // namespace
}  // namespace vigil::test
