// What only the WebSocket feed has, through a real WebSocket client on 127.0.0.1: protobuf's
// JSON mapping, a first message that is not a FeedRequest in JSON, binary and oversized
// messages, the upgrade itself (the path without an upgrade, a malformed key, another
// version). After each, the HTTP and device ports still serve. What both feeds share is
// written once, over TCP and WebSocket, in feed_test.cpp.

#include "tests/integration/clinic_scenario.hpp"

#include <google/protobuf/util/json_util.h>
#include <gtest/gtest.h>
#include <boost/beast/websocket/rfc6455.hpp>

namespace vigil::test {
namespace {

using boost::beast::websocket::close_code;

/// The daemon still serves: /healthz over HTTP, a monitor's Hello on the device port, and a new
/// WebSocket subscriber's snapshot.
void expect_unharmed(daemon_under_test& d, const std::string& device = "dev-check") {
  http_client web(d.http_port());
  const auto health = web.request("GET", "/healthz");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200) << health->body;
  test_client monitor(d.port());
  const auto welcome = monitor.hello(device, device_token, "chair-check");
  EXPECT_TRUE(welcome && welcome->has_welcome());
  ws_client feed(d.http_port());
  feed.subscribe(subscribe_to());
  const auto snap = feed.next();
  EXPECT_TRUE(snap && snap->has_snapshot());
}

/// The FeedClosing that ends a refused subscription, after which the stream ends with a close frame.
v1::FeedClosing refused(ws_client& feed) {
  const auto m = feed.next();
  EXPECT_TRUE(m && m->has_closing()) << (m ? m->DebugString() : "nothing");
  EXPECT_FALSE(feed.next(std::chrono::seconds(5)).has_value());
  EXPECT_TRUE(feed.closed());
  return m ? m->closing() : v1::FeedClosing{};
}

TEST(WebSocketFeed, MessagesAreProtobufsJsonMappingWithTheProtoFieldNames) {
  daemon_under_test d(fast_config());
  control_client ops(d.control_port());
  open_session(ops, "chair-1");
  ws_client feed(d.http_port());
  feed.subscribe(subscribe_to());
  const auto text = feed.next_text();
  ASSERT_TRUE(text);
  // protobuf's JSON mapping with the .proto field names; 64-bit ids are strings.
  EXPECT_NE(text->find("\"snapshot\""), std::string::npos) << *text;
  EXPECT_NE(text->find("\"chair_id\":\"chair-1\""), std::string::npos) << *text;
  EXPECT_NE(text->find("\"last_event_id\":\""), std::string::npos) << *text;
  v1::FeedMessage first;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(*text, &first).ok());
  ASSERT_TRUE(first.has_snapshot());
  feed.close();
  EXPECT_EQ(feed.close_code(), 0) << "the subscriber closed first";
  expect_unharmed(d);
}

TEST(WebSocketFeed, AFirstMessageThatIsNoFeedRequestInJsonIsUnparsable) {
  daemon_under_test d(fast_config());
  {
    ws_client feed(d.http_port());
    feed.send_text("{\"token\": \"operator-token-ana\", \"subscribe\": ");
    const auto c = refused(feed);
    EXPECT_EQ(c.error(), v1::FEED_ERROR_UNPARSABLE);
    EXPECT_NE(c.message().find("JSON"), std::string::npos) << c.message();
    EXPECT_EQ(feed.close_code(), static_cast<int>(close_code::policy_error));
    EXPECT_EQ(feed.close_reason(), "unparsable");
  }
  {
    ws_client feed(d.http_port());
    feed.send_text(std::string("{\"token\":\"") + operator_token + "\",\"subscribe\":{\"chairs\":[\"chair-1\"]}}");
    const auto c = refused(feed);
    EXPECT_EQ(c.error(), v1::FEED_ERROR_UNPARSABLE) << "a misspelt field is refused, not ignored";
    EXPECT_NE(c.message().find("chairs"), std::string::npos) << c.message();
  }
  expect_unharmed(d);
}

TEST(WebSocketFeed, BinaryMessagesAreRefused) {
  daemon_under_test d(fast_config());
  {
    ws_client feed(d.http_port());
    feed.send_binary(std::string("\x0a\x05hello", 7));
    EXPECT_EQ(refused(feed).error(), v1::FEED_ERROR_UNPARSABLE);
    EXPECT_EQ(feed.close_code(), static_cast<int>(close_code::unknown_data));
  }
  {
    // After subscribing too: the subscription ends.
    ws_client feed(d.http_port());
    feed.subscribe(subscribe_to());
    ASSERT_TRUE(feed.next()->has_snapshot());
    feed.send_binary("x");
    std::optional<v1::FeedClosing> closing;
    while (auto m = feed.next()) {
      if (m->has_closing()) closing = m->closing();
    }
    ASSERT_TRUE(closing);
    EXPECT_EQ(closing->error(), v1::FEED_ERROR_UNPARSABLE);
    EXPECT_EQ(feed.close_code(), static_cast<int>(close_code::unknown_data));
  }
  expect_unharmed(d);
}

TEST(WebSocketFeed, AnOversizedMessageClosesWith1009) {
  daemon_under_test d(fast_config());
  ws_client feed(d.http_port());
  feed.subscribe(subscribe_to({}, {v1::EVENT_CATEGORY_NOTES}));
  ASSERT_TRUE(feed.next()->has_snapshot());
  feed.send_text(std::string(20 * 1024, ' '));
  EXPECT_FALSE(feed.next(std::chrono::seconds(5)).has_value());
  EXPECT_TRUE(feed.closed());
  EXPECT_EQ(feed.close_code(), static_cast<int>(close_code::too_big));
  expect_unharmed(d);
}

TEST(WebSocketFeed, ThePathWithoutAnUpgradeIsRefusedOverHttp) {
  daemon_under_test d(fast_config());
  http_client web(d.http_port());
  const auto get = web.request("GET", "/api/v1/feed", operator_token);
  ASSERT_TRUE(get);
  EXPECT_EQ(get->status, 426);
  EXPECT_EQ(get->header("upgrade"), "websocket");
  EXPECT_NE(get->body.find("\"error\":\"upgrade_required\""), std::string::npos) << get->body;
  const auto post = web.request("POST", "/api/v1/feed", operator_token, "{}");
  ASSERT_TRUE(post);
  EXPECT_EQ(post->status, 405);
  EXPECT_EQ(post->header("allow"), "GET");
  // An upgrade anywhere else is not a feed.
  EXPECT_THROW(ws_client(d.http_port(), 0, "/api/v1/sessions"), std::runtime_error);
  expect_unharmed(d);
}

}  // namespace
}  // namespace vigil::test

namespace vigil::test {
namespace {

std::string upgrade_with(const std::string& key, const std::string& version) {
  return "GET /api/v1/feed HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
         "Sec-WebSocket-Key: " +
         key + "\r\nSec-WebSocket-Version: " + version + "\r\n\r\n";
}

// Written against the daemon that answered 101 to any Sec-WebSocket-Key.
TEST(WebSocketFeed, AMalformedKeyIsRefusedAndAnOtherVersionGets426) {
  daemon_under_test d(fast_config());
  for (const char* key :
       {"not-base64!!", "dGhlIHNhbXBsZSBub25jZQ", "dGhlIHNhbXBsZSBub25jZR==", "AAAAAAAAAAAAAAAAAAAAAAAAAAAA"}) {
    SCOPED_TRACE(key);
    http_client raw(d.http_port());
    raw.send_raw(upgrade_with(key, "13"));
    const auto r = raw.receive();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 400) << r->body;
    EXPECT_NE(r->body.find("Sec-WebSocket-Key"), std::string::npos) << r->body;
    EXPECT_TRUE(raw.wait_closed());
  }
  http_client raw(d.http_port());
  raw.send_raw(upgrade_with("dGhlIHNhbXBsZSBub25jZQ==", "12"));
  const auto r = raw.receive();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 426);
  EXPECT_EQ(r->header("sec-websocket-version"), "13");
  http_client good(d.http_port());
  good.send_raw(upgrade_with("dGhlIHNhbXBsZSBub25jZQ==", "13"));
  const auto ok = good.receive();
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 101);
}

}  // namespace
}  // namespace vigil::test
