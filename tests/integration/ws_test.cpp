// The WebSocket feed through a real WebSocket client on 127.0.0.1: a snapshot then live
// events in JSON, filters, resuming after a disconnect with exactly the missed events,
// refusals with a FeedClosing and a close code, binary messages refused, and a subscriber
// that stops reading cut off while another one gets every event. After each, the HTTP and
// device ports still serve.

#include "tests/integration/clinic_scenario.hpp"

#include "daemon/engine/profile.hpp"

#include <boost/beast/websocket/rfc6455.hpp>
#include <google/protobuf/util/json_util.h>
#include <gtest/gtest.h>

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

TEST(WebSocketFeed, ASubscriberGetsASnapshotThenLiveAlarmsAndVitalsAsJson) {
  daemon_under_test d(fast_config());
  control_client ops(d.control_port());
  open_session(ops, "chair-1");
  test_client monitor(d.port());
  ASSERT_TRUE(monitor.hello("dev-1", device_token, "chair-1")->has_welcome());
  const std::int64_t t0 = wall_ms();
  monitor.send(vitals(1, t0, 72, 97));
  ASSERT_TRUE(monitor.wait_ack(1));

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
  const auto& snap = first.snapshot();
  ASSERT_EQ(snap.sessions_size(), 1);
  EXPECT_EQ(snap.sessions(0).phase(), v1::PHASE_BASELINE);
  ASSERT_EQ(snap.vitals_size(), 1);
  EXPECT_EQ(snap.vitals(0).values_size(), 2);
  EXPECT_GT(snap.last_event_id(), 0u);

  monitor.send(vitals(2, t0 + 1000, 74, 80));
  ASSERT_TRUE(monitor.wait_ack(2));
  bool saw_vitals = false;
  std::optional<v1::FeedMessage> alarm;
  while (auto m = feed.next()) {
    if (m->has_vitals()) saw_vitals = true;
    if (m->has_event() && m->event().event().type() == v1::EVENT_TYPE_ALARM_RAISED &&
        m->event().event().rule() == "spo2_critical") {
      alarm = m;
      break;
    }
  }
  ASSERT_TRUE(alarm) << "the desaturation alarm reaches the subscriber";
  EXPECT_EQ(alarm->event().event().priority(), v1::PRIORITY_HIGH);
  EXPECT_GT(alarm->event().event().event_id(), snap.last_event_id());
  EXPECT_TRUE(saw_vitals || feed.next(std::chrono::seconds(2)).has_value());

  feed.close();
  EXPECT_EQ(feed.close_code(), 0) << "the subscriber closed first";
  expect_unharmed(d);
}

TEST(WebSocketFeed, FiltersAdmitOnlyTheChairsAndCategoriesAskedFor) {
  daemon_under_test d(fast_config());
  control_client ops(d.control_port());
  open_session(ops, "chair-1");
  open_session(ops, "chair-2");
  ws_client feed(d.http_port());
  feed.subscribe(subscribe_to({"chair-2"}, {v1::EVENT_CATEGORY_NOTES}));
  const auto snap = feed.next();
  ASSERT_TRUE(snap && snap->has_snapshot());
  ASSERT_EQ(snap->snapshot().sessions_size(), 1);
  EXPECT_EQ(snap->snapshot().sessions(0).chair_id(), "chair-2");
  add_note(ops, "chair-1", "not for this subscriber");
  add_note(ops, "chair-2", "for this subscriber");
  const auto m = feed.next_event();
  ASSERT_TRUE(m && m->has_event());
  EXPECT_EQ(m->event().event().chair_id(), "chair-2");
  EXPECT_EQ(m->event().event().text(), "for this subscriber");
  add_note(ops, "chair-2", "second");
  const auto second = feed.next_event();
  ASSERT_TRUE(second && second->has_event());
  EXPECT_EQ(second->event().event().text(), "second");
}

TEST(WebSocketFeed, AResumingSubscriberGetsExactlyTheEventsItMissed) {
  daemon_under_test d(fast_config());
  control_client ops(d.control_port());
  open_session(ops, "chair-1");
  std::uint64_t last = 0;
  {
    ws_client feed(d.http_port());
    feed.subscribe(subscribe_to({}, {v1::EVENT_CATEGORY_NOTES}));
    ASSERT_TRUE(feed.next()->has_snapshot());
    add_note(ops, "chair-1", "seen");
    const auto m = feed.next_event();
    ASSERT_TRUE(m && m->has_event());
    last = m->event().event().event_id();
  }  // dropped without a close frame, as a lost network would
  for (int i = 1; i <= 3; ++i) add_note(ops, "chair-1", "missed " + std::to_string(i));
  ws_client again(d.http_port());
  auto request = subscribe_to({}, {v1::EVENT_CATEGORY_NOTES});
  request.mutable_subscribe()->set_resume_after(last);
  again.subscribe(request);
  std::vector<std::string> texts;
  std::optional<v1::FeedMessage> done;
  while (auto m = again.next()) {
    ASSERT_FALSE(m->has_snapshot()) << "a resume sends the missed events, not a snapshot";
    if (m->has_event()) texts.push_back(m->event().event().text());
    if (m->has_resumed()) {
      done = m;
      break;
    }
  }
  EXPECT_EQ(texts, (std::vector<std::string>{"missed 1", "missed 2", "missed 3"}));
  ASSERT_TRUE(done);
  EXPECT_EQ(done->resumed().replayed(), 3u);
  add_note(ops, "chair-1", "live again");
  const auto live = again.next_event();
  ASSERT_TRUE(live && live->has_event());
  EXPECT_EQ(live->event().event().text(), "live again");
}

TEST(WebSocketFeed, BadRequestsGetAFeedClosingAndAPolicyClose) {
  daemon_under_test d(fast_config());
  {
    ws_client feed(d.http_port());
    auto bad_token = subscribe_to();
    bad_token.set_token("not-a-token-at-all");
    feed.subscribe(bad_token);
    EXPECT_EQ(refused(feed).error(), v1::FEED_ERROR_UNAUTHORIZED);
    EXPECT_EQ(feed.close_code(), static_cast<int>(close_code::policy_error));
    EXPECT_EQ(feed.close_reason(), "unauthorized");
  }
  {
    ws_client feed(d.http_port());
    auto device = subscribe_to();
    device.set_token(device_token);
    feed.subscribe(device);
    EXPECT_EQ(refused(feed).error(), v1::FEED_ERROR_UNAUTHORIZED) << "a device token is not a user's";
  }
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
  {
    ws_client feed(d.http_port());
    feed.subscribe(subscribe_to({}, {static_cast<v1::EventCategory>(42)}));
    const auto c = refused(feed);
    EXPECT_EQ(c.error(), v1::FEED_ERROR_BAD_REQUEST);
    EXPECT_NE(c.message().find("category"), std::string::npos) << c.message();
  }
  {
    ws_client feed(d.http_port());
    auto future = subscribe_to();
    future.mutable_subscribe()->set_resume_after(1'000'000);
    feed.subscribe(future);
    EXPECT_EQ(refused(feed).error(), v1::FEED_ERROR_RESUME_TOO_OLD);
    EXPECT_EQ(feed.close_code(), static_cast<int>(close_code::policy_error));
  }
  expect_unharmed(d);
}

TEST(WebSocketFeed, ASubscriberThatAsksGetsHeartbeatsWhileNothingHappens) {
  daemon_under_test d(fast_config());
  ws_client feed(d.http_port());
  auto request = subscribe_to();
  request.mutable_subscribe()->set_heartbeat_ms(1000);
  feed.subscribe(request);
  const auto snap = feed.next();
  ASSERT_TRUE(snap && snap->has_snapshot());
  // The daemon checks once a second: a heartbeat within two seconds of a quiet second.
  for (int i = 0; i < 2; ++i) {
    const auto beat = feed.next(std::chrono::seconds(3));
    ASSERT_TRUE(beat && beat->has_heartbeat()) << (beat ? beat->DebugString() : "nothing");
    EXPECT_EQ(beat->heartbeat().last_event_id(), snap->snapshot().last_event_id());
  }
  ws_client quiet(d.http_port());
  quiet.subscribe(subscribe_to());
  ASSERT_TRUE(quiet.next());
  EXPECT_FALSE(quiet.next(std::chrono::milliseconds(2500))) << "no heartbeat unless asked for";

  ws_client bad(d.http_port());
  auto too_often = subscribe_to();
  too_often.mutable_subscribe()->set_heartbeat_ms(100);
  bad.subscribe(too_often);
  const auto c = refused(bad);
  EXPECT_EQ(c.error(), v1::FEED_ERROR_BAD_REQUEST);
  EXPECT_NE(c.message().find("heartbeat_ms"), std::string::npos) << c.message();
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

TEST(WebSocketFeed, TextAfterTheRequestIsIgnoredAndOversizedMessagesCloseWith1009) {
  daemon_under_test d(fast_config());
  control_client ops(d.control_port());
  open_session(ops, "chair-1");
  ws_client feed(d.http_port());
  feed.subscribe(subscribe_to({}, {v1::EVENT_CATEGORY_NOTES}));
  ASSERT_TRUE(feed.next()->has_snapshot());
  feed.send_text("{}");  // a browser's keep-alive
  add_note(ops, "chair-1", "still here");
  const auto m = feed.next_event();
  ASSERT_TRUE(m && m->has_event());
  EXPECT_EQ(m->event().event().text(), "still here");

  feed.send_text(std::string(20 * 1024, ' '));
  EXPECT_FALSE(feed.next(std::chrono::seconds(5)).has_value());
  EXPECT_TRUE(feed.closed());
  EXPECT_EQ(feed.close_code(), static_cast<int>(close_code::too_big));
  expect_unharmed(d);
}

TEST(WebSocketFeed, NoRequestWithinTheHandshakeTimeoutIsRefused) {
  auto config = fast_config();
  config.feed.handshake_timeout = std::chrono::milliseconds(300);
  daemon_under_test d(config);
  ws_client feed(d.http_port());
  const auto c = refused(feed);
  EXPECT_EQ(c.error(), v1::FEED_ERROR_HANDSHAKE_TIMEOUT);
  EXPECT_EQ(feed.close_code(), static_cast<int>(close_code::policy_error));
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

TEST(WebSocketFeed, StoppingTheDaemonSaysSoAndClosesWithGoingAway) {
  auto config = fast_config();
  config.feed.close_timeout = std::chrono::milliseconds(200);
  daemon_under_test d(config);
  ws_client feed(d.http_port());
  feed.subscribe(subscribe_to());
  ASSERT_TRUE(feed.next()->has_snapshot());
  d.stop();  // the close handshake waits close_timeout for this client, which is not reading yet
  std::optional<v1::FeedClosing> closing;
  while (auto m = feed.next(std::chrono::seconds(5))) {
    if (m->has_closing()) closing = m->closing();
  }
  ASSERT_TRUE(closing);
  EXPECT_EQ(closing->error(), v1::FEED_ERROR_SHUTTING_DOWN);
  EXPECT_EQ(feed.close_code(), static_cast<int>(close_code::going_away));
}

TEST(WebSocketFeed, ASubscriberThatStopsReadingIsCutOffWhileAnotherGetsEveryEvent) {
  auto config = fast_config();
  config.feed.soft_queue_bytes = 16 * 1024;
  config.feed.hard_queue_bytes = 64 * 1024;
  config.feed.send_buffer_bytes = 8 * 1024;
  daemon_under_test d(config);
  control_client ops(d.control_port());
  open_session(ops, "chair-1");
  ws_client stalled(d.http_port(), 4096);
  stalled.subscribe(subscribe_to());
  ws_client reader(d.http_port());
  reader.subscribe(subscribe_to({}, {v1::EVENT_CATEGORY_ALARMS}));
  ASSERT_TRUE(reader.next()->has_snapshot());

  // Heart rate in and out of its limit: every batch raises or clears an alarm.
  test_client monitor(d.port());
  ASSERT_TRUE(monitor.hello("dev-1", device_token, "chair-1")->has_welcome());
  const std::int64_t t0 = wall_ms();
  constexpr std::uint64_t batches = 2'000;
  std::uint64_t raised = 0;
  std::uint64_t previous_id = 0;
  for (std::uint64_t seq = 1; seq <= batches; ++seq) {
    monitor.send(vitals(seq, t0 + static_cast<std::int64_t>(seq) * 100, seq % 2 ? 150 : 80, 97));
    if (seq % 100 == 0) {
      ASSERT_TRUE(monitor.wait_ack(seq)) << "the monitor is acked whatever a subscriber does";
      // The reader keeps up: it gets every alarm event, in order, none twice.
      while (raised < seq / 2) {
        const auto m = reader.next_event();
        ASSERT_TRUE(m && m->has_event()) << (m ? m->DebugString() : "nothing within the wait");
        EXPECT_GT(m->event().event().event_id(), previous_id);
        previous_id = m->event().event().event_id();
        if (m->event().event().type() == v1::EVENT_TYPE_ALARM_RAISED) ++raised;
      }
    }
  }
  EXPECT_EQ(raised, batches / 2) << "one raise per out-of-limit batch, all delivered";
  // The stalled subscriber was cut off: what it can still read ends with the stream ended.
  std::optional<v1::FeedClosing> closing;
  while (auto m = stalled.next(std::chrono::seconds(5))) {
    if (m->has_closing()) closing = m->closing();
  }
  EXPECT_TRUE(stalled.closed());
  if (closing) {
    EXPECT_EQ(closing->error(), v1::FEED_ERROR_TOO_SLOW);
    EXPECT_EQ(stalled.close_code(), static_cast<int>(close_code::try_again_later));
  }
  http_client web(d.http_port());
  const auto metrics = web.request("GET", "/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_NE(metrics->body.find("vigil_feed_subscribers_dropped_total 1"), std::string::npos)
      << "the cut-off is counted";
  expect_unharmed(d);
}

}  // namespace
}  // namespace vigil::test

namespace vigil::test {
namespace {

std::string upgrade_with(const std::string& key, const std::string& version) {
  return "GET /api/v1/feed HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
         "Sec-WebSocket-Key: " + key + "\r\nSec-WebSocket-Version: " + version + "\r\n\r\n";
}

// Written against the daemon that answered 101 to any Sec-WebSocket-Key.
TEST(WebSocketFeed, AMalformedKeyIsRefusedAndAnOtherVersionGets426) {
  daemon_under_test d(fast_config());
  for (const char* key : {"not-base64!!", "dGhlIHNhbXBsZSBub25jZQ", "dGhlIHNhbXBsZSBub25jZR==", "AAAAAAAAAAAAAAAAAAAAAAAAAAAA"}) {
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

TEST(WebSocketFeed, AFilterNamingAChairNoMonitorCouldNameIsRefused) {
  daemon_under_test d(fast_config());
  for (const std::string& chair : {std::string(1'000, 'c'), std::string("chair\n1"), std::string("chair 1"), std::string()}) {
    ws_client ws(d.http_port());
    v1::FeedRequest request;
    request.mutable_subscribe()->add_chair_ids(chair);
    ws.subscribe(request);
    const auto m = ws.next();
    ASSERT_TRUE(m && m->has_closing()) << (m ? m->DebugString() : "nothing");
    EXPECT_EQ(m->closing().error(), v1::FEED_ERROR_BAD_REQUEST);
    EXPECT_NE(m->closing().message().find("chair id"), std::string::npos) << m->closing().message();
  }
}

}  // namespace
}  // namespace vigil::test
