// The feed through real sockets on 127.0.0.1, written once and run over both transports: the
// TCP feed port (protobuf frames) and the WebSocket feed of the HTTP port (JSON text messages).
// A snapshot then live events, filters, resuming with exactly the missed events, refusals with
// a reason (and on WebSocket the close code of api.md section 7), the handshake timeout,
// heartbeats, the stop of the daemon, and a subscriber that stops reading cut off, logged and
// counted while the monitors and other subscribers carry on. What only one transport has (the
// upgrade, binary and oversized WebSocket messages) is in ws_test.cpp.

#include "tests/integration/clinic_scenario.hpp"

#include "daemon/engine/profile.hpp"
#include "daemon/feed/ws_framing.hpp"
#include "daemon/log/log.hpp"

#include <gtest/gtest.h>
#include <spdlog/sinks/ringbuffer_sink.h>
#include <spdlog/spdlog.h>

#include <set>

namespace vigil::test {
namespace {

/// A subscriber on the TCP feed port.
struct tcp_subscriber {
  static constexpr const char* log_component = "feed";  // the logger its session writes to

  explicit tcp_subscriber(daemon_under_test& d, int receive_buffer = 0) : client(d.feed_port(), receive_buffer) {}
  void subscribe(v1::FeedRequest request) { client.subscribe(std::move(request)); }
  /// A first message that is no FeedRequest.
  void send_unparsable() { client.send_raw(std::string("\x05\xff\xff\xff\xff\xff", 6)); }
  /// Something sent after the FeedRequest, which the daemon reads and ignores.
  void send_after_request() { client.send_raw(std::string("\x02{}", 3)); }
  std::optional<v1::FeedMessage> next(std::chrono::milliseconds timeout = default_wait) { return client.next(timeout); }
  std::optional<v1::FeedMessage> next_event(std::chrono::milliseconds timeout = default_wait) {
    return client.next_event(timeout);
  }
  bool closed() const { return client.closed(); }
  /// The end of the stream after a FeedClosing with `error` is as the transport's doc says.
  void expect_ended_as(v1::FeedError) const { EXPECT_TRUE(client.closed()); }

  feed_client client;
};

/// A subscriber on the WebSocket feed of the HTTP port.
struct ws_subscriber {
  static constexpr const char* log_component = "http";

  explicit ws_subscriber(daemon_under_test& d, int receive_buffer = 0) : client(d.http_port(), receive_buffer) {}
  void subscribe(v1::FeedRequest request) { client.subscribe(std::move(request)); }
  void send_unparsable() { client.send_text("{\"token\": \"operator-token-ana\", \"subscribe\": "); }
  void send_after_request() { client.send_text("{}"); }  // a browser's keep-alive
  std::optional<v1::FeedMessage> next(std::chrono::milliseconds timeout = default_wait) { return client.next(timeout); }
  std::optional<v1::FeedMessage> next_event(std::chrono::milliseconds timeout = default_wait) {
    return client.next_event(timeout);
  }
  bool closed() const { return client.closed(); }
  /// A close frame with the code and reason of api.md section 7 follows the FeedClosing.
  void expect_ended_as(v1::FeedError error) const {
    EXPECT_TRUE(client.closed());
    EXPECT_EQ(client.close_code(), static_cast<int>(feed::ws_close_code(error))) << v1::FeedError_Name(error);
    EXPECT_EQ(client.close_reason(), feed::ws_close_reason(error));
  }

  ws_client client;
};

template <class Subscriber>
class Feed : public ::testing::Test {
 protected:
  using subscriber = Subscriber;

  /// The FeedClosing that ends a refused subscription, after which the stream ends as its
  /// transport says.
  static v1::FeedClosing refused(Subscriber& feed) {
    const auto m = feed.next();
    EXPECT_TRUE(m && m->has_closing()) << (m ? m->DebugString() : "nothing");
    EXPECT_FALSE(feed.next(std::chrono::seconds(5)).has_value());
    if (!m || !m->has_closing()) return v1::FeedClosing{};
    feed.expect_ended_as(m->closing().error());
    return m->closing();
  }
};

struct transport_names {
  template <class T>
  static std::string GetName(int) {
    return std::is_same_v<T, tcp_subscriber> ? "Tcp" : "WebSocket";
  }
};

using transports = ::testing::Types<tcp_subscriber, ws_subscriber>;
TYPED_TEST_SUITE(Feed, transports, transport_names);

/// The lines a component logs while it lives (attach before the daemon starts, so that no
/// other thread is logging while the sinks change; it detaches when destroyed).
class log_capture {
 public:
  explicit log_capture(const std::string& component)
      : logger_(log::component_logger(component)), sink_(std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(1024)) {
    sink_->set_pattern("%v");
    logger_->sinks().push_back(sink_);
  }
  ~log_capture() { std::erase(logger_->sinks(), sink_); }
  std::vector<std::string> lines() const { return sink_->last_formatted(); }

 private:
  std::shared_ptr<spdlog::logger> logger_;
  std::shared_ptr<spdlog::sinks::ringbuffer_sink_mt> sink_;
};

TYPED_TEST(Feed, ASubscriberGetsASnapshotThenLiveAlarmsAndVitals) {
  daemon_under_test d(fast_config());
  control_client ops(d.control_port());
  open_session(ops, "chair-1");
  test_client monitor(d.port());
  ASSERT_TRUE(monitor.hello("dev-1", device_token, "chair-1")->has_welcome());
  const std::int64_t t0 = wall_ms();
  monitor.send(vitals(1, t0, 72, 97));
  ASSERT_TRUE(monitor.wait_ack(1));

  typename TestFixture::subscriber feed(d);
  feed.subscribe(subscribe_to());
  const auto first = feed.next();
  ASSERT_TRUE(first && first->has_snapshot()) << (first ? first->DebugString() : "nothing");
  const auto& snap = first->snapshot();
  ASSERT_EQ(snap.sessions_size(), 1);
  EXPECT_EQ(snap.sessions(0).chair_id(), "chair-1");
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
}

TYPED_TEST(Feed, TheDaemonTimesEachAlarmFromItsSampleToItsWrite) {
  daemon_under_test d(fast_config());
  control_client ops(d.control_port());
  open_session(ops, "chair-1");
  typename TestFixture::subscriber feed(d);
  feed.subscribe(subscribe_to({}, {v1::EVENT_CATEGORY_ALARMS, v1::EVENT_CATEGORY_NOTES}));
  ASSERT_TRUE(feed.next()->has_snapshot());
  test_client monitor(d.port());
  ASSERT_TRUE(monitor.hello("dev-1", device_token, "chair-1")->has_welcome());
  monitor.send(vitals(1, wall_ms(), 72, 80));
  ASSERT_TRUE(monitor.wait_ack(1));
  std::uint64_t raised = 0;
  // A note written after the alarms: once it arrives, every write before it has finished.
  bool noted = false;
  while (auto m = feed.next()) {
    if (m->has_event() && m->event().event().type() == v1::EVENT_TYPE_ALARM_RAISED) {
      ++raised;
      if (!noted) {
        add_note(ops, "chair-1", "checked the probe");
        noted = true;
      }
    }
    if (m->has_event() && m->event().event().type() == v1::EVENT_TYPE_NOTE_ADDED) break;
  }
  ASSERT_GT(raised, 0u) << "the desaturation raises an alarm";
  const auto& delivery = d.alarm_delivery();
  EXPECT_EQ(delivery.count(), raised) << "each alarm raised by the sample, written to the one subscriber";
  EXPECT_GT(delivery.sum_seconds(), 0.0);
}

TYPED_TEST(Feed, FiltersAdmitOnlyTheChairsAndCategoriesAskedFor) {
  daemon_under_test d(fast_config());
  control_client ops(d.control_port());
  open_session(ops, "chair-1");
  open_session(ops, "chair-2");
  typename TestFixture::subscriber feed(d);
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
  // Nothing else was admitted: the next note on chair-2 is the next thing to arrive.
  add_note(ops, "chair-2", "second");
  const auto second = feed.next_event();
  ASSERT_TRUE(second && second->has_event());
  EXPECT_EQ(second->event().event().text(), "second");
}

TYPED_TEST(Feed, AResumingSubscriberGetsExactlyTheEventsItMissed) {
  daemon_under_test d(fast_config());
  control_client ops(d.control_port());
  open_session(ops, "chair-1");
  std::uint64_t last = 0;
  {
    typename TestFixture::subscriber feed(d);
    feed.subscribe(subscribe_to({}, {v1::EVENT_CATEGORY_NOTES}));
    ASSERT_TRUE(feed.next()->has_snapshot());
    add_note(ops, "chair-1", "seen");
    const auto m = feed.next_event();
    ASSERT_TRUE(m && m->has_event());
    last = m->event().event().event_id();
  }  // dropped without a goodbye, as a lost network would
  for (int i = 1; i <= 3; ++i) add_note(ops, "chair-1", "missed " + std::to_string(i));
  typename TestFixture::subscriber again(d);
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

TYPED_TEST(Feed, BadRequestsAreRefusedWithAReason) {
  daemon_under_test d(fast_config());
  const auto refused = [&](std::optional<v1::FeedRequest> request) {
    typename TestFixture::subscriber feed(d);
    if (request) {
      feed.subscribe(std::move(*request));
    } else {
      feed.send_unparsable();
    }
    return TestFixture::refused(feed);
  };
  auto bad_token = subscribe_to();
  bad_token.set_token("not-a-token-at-all");
  EXPECT_EQ(refused(bad_token).error(), v1::FEED_ERROR_UNAUTHORIZED);
  auto device = subscribe_to();
  device.set_token(device_token);
  EXPECT_EQ(refused(device).error(), v1::FEED_ERROR_UNAUTHORIZED) << "a device token is not a user's";
  EXPECT_EQ(refused(std::nullopt).error(), v1::FEED_ERROR_UNPARSABLE);

  const auto c = refused(subscribe_to({}, {static_cast<v1::EventCategory>(42)}));
  EXPECT_EQ(c.error(), v1::FEED_ERROR_BAD_REQUEST);
  EXPECT_NE(c.message().find("category"), std::string::npos) << c.message();
  for (const std::string& chair :
       {std::string(1'000, 'c'), std::string("chair\n1"), std::string("chair 1"), std::string()}) {
    const auto bad_chair = refused(subscribe_to({chair}));
    EXPECT_EQ(bad_chair.error(), v1::FEED_ERROR_BAD_REQUEST);
    EXPECT_NE(bad_chair.message().find("chair id"), std::string::npos) << bad_chair.message();
  }
  auto too_often = subscribe_to();
  too_often.mutable_subscribe()->set_heartbeat_ms(100);
  const auto h = refused(too_often);
  EXPECT_EQ(h.error(), v1::FEED_ERROR_BAD_REQUEST);
  EXPECT_NE(h.message().find("heartbeat_ms"), std::string::npos) << h.message();

  auto future = subscribe_to();
  future.mutable_subscribe()->set_resume_after(1'000'000);
  EXPECT_EQ(refused(future).error(), v1::FEED_ERROR_RESUME_TOO_OLD);

  // The daemon still serves a subscriber.
  typename TestFixture::subscriber fine(d);
  fine.subscribe(subscribe_to());
  const auto snap = fine.next();
  EXPECT_TRUE(snap && snap->has_snapshot());
}

TYPED_TEST(Feed, NoRequestWithinTheHandshakeTimeoutIsRefused) {
  auto config = fast_config();
  config.feed.handshake_timeout = std::chrono::milliseconds(300);
  daemon_under_test d(config);
  typename TestFixture::subscriber feed(d);
  const auto c = TestFixture::refused(feed);
  EXPECT_EQ(c.error(), v1::FEED_ERROR_HANDSHAKE_TIMEOUT);
  EXPECT_NE(c.message().find("no FeedRequest within 300 ms"), std::string::npos) << c.message();
}

TYPED_TEST(Feed, WhatASubscriberSendsAfterItsRequestIsIgnored) {
  daemon_under_test d(fast_config());
  control_client ops(d.control_port());
  open_session(ops, "chair-1");
  typename TestFixture::subscriber feed(d);
  feed.subscribe(subscribe_to({}, {v1::EVENT_CATEGORY_NOTES}));
  ASSERT_TRUE(feed.next()->has_snapshot());
  feed.send_after_request();
  add_note(ops, "chair-1", "still here");
  const auto m = feed.next_event();
  ASSERT_TRUE(m && m->has_event());
  EXPECT_EQ(m->event().event().text(), "still here");
}

TYPED_TEST(Feed, ASubscriberThatAsksGetsHeartbeatsWhileNothingHappens) {
  daemon_under_test d(fast_config());
  typename TestFixture::subscriber feed(d);
  auto request = subscribe_to();
  request.mutable_subscribe()->set_heartbeat_ms(1000);
  feed.subscribe(request);
  const auto snap = feed.next();
  ASSERT_TRUE(snap && snap->has_snapshot());
  for (int i = 0; i < 2; ++i) {
    const auto beat = feed.next();
    ASSERT_TRUE(beat && beat->has_heartbeat()) << (beat ? beat->DebugString() : "nothing");
    EXPECT_EQ(beat->heartbeat().last_event_id(), snap->snapshot().last_event_id());
  }
  // Without asking, nothing comes while nothing happens: the first thing after a quiet while is a note.
  control_client ops(d.control_port());
  typename TestFixture::subscriber quiet(d);
  quiet.subscribe(subscribe_to({}, {v1::EVENT_CATEGORY_NOTES, v1::EVENT_CATEGORY_SESSIONS}));
  ASSERT_TRUE(quiet.next()->has_snapshot());
  for (int i = 0; i < 2; ++i) ASSERT_TRUE(feed.next()->has_heartbeat()) << "two quiet ticks of the hub";
  open_session(ops, "chair-1");
  const auto m = quiet.next();
  ASSERT_TRUE(m);
  EXPECT_TRUE(m->has_event()) << "no heartbeat unless asked for: " << m->DebugString();
}

TYPED_TEST(Feed, StoppingTheDaemonSaysSo) {
  auto config = fast_config();
  config.feed.close_timeout = std::chrono::milliseconds(200);
  daemon_under_test d(config);
  typename TestFixture::subscriber feed(d);
  feed.subscribe(subscribe_to());
  ASSERT_TRUE(feed.next()->has_snapshot());
  d.stop();  // a WebSocket's close handshake waits close_timeout for this client, which is not reading yet
  std::optional<v1::FeedClosing> closing;
  while (auto m = feed.next(std::chrono::seconds(5))) {
    if (m->has_closing()) closing = m->closing();
  }
  ASSERT_TRUE(closing);
  EXPECT_EQ(closing->error(), v1::FEED_ERROR_SHUTTING_DOWN);
  EXPECT_EQ(closing->message(), "the daemon is stopping; resume with the last event id");
  feed.expect_ended_as(v1::FEED_ERROR_SHUTTING_DOWN);
}

TYPED_TEST(Feed, ASubscriberThatStopsReadingIsCutOffLoggedAndCountedWhileOthersAndTheMonitorsCarryOn) {
  log_capture session_log(TypeParam::log_component);  // outlives the daemon, whose thread logs into it
  auto config = fast_config();
  config.feed.soft_queue_bytes = 16 * 1024;
  config.feed.hard_queue_bytes = 64 * 1024;
  config.feed.send_buffer_bytes = 8 * 1024;
  daemon_under_test d(config);
  control_client ops(d.control_port());
  open_session(ops, "chair-1");
  typename TestFixture::subscriber stalled(d, 4096);
  stalled.subscribe(subscribe_to());
  typename TestFixture::subscriber reader(d);
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
  // The stalled subscriber was cut off: what it can still read ends with the connection closed.
  std::optional<v1::FeedClosing> closing;
  while (auto m = stalled.next(std::chrono::seconds(5))) {
    if (m->has_closing()) closing = m->closing();
  }
  EXPECT_TRUE(stalled.closed());
  if (closing) {
    EXPECT_EQ(closing->error(), v1::FEED_ERROR_TOO_SLOW);
    stalled.expect_ended_as(v1::FEED_ERROR_TOO_SLOW);
  }
  EXPECT_EQ(metric(d, "vigil_feed_subscribers_dropped_total"), 1) << "the cut-off is counted";
  d.stop();  // its last log lines are written before run() returns
  std::string closed;
  for (const auto& line : session_log.lines()) {
    if (line.find("feed subscriber") != std::string::npos && line.find("closed: cut off") != std::string::npos) {
      closed = line;
    }
  }
  ASSERT_FALSE(closed.empty()) << "the cut-off subscriber's close is logged";
  EXPECT_NE(closed.find("FEED_ERROR_TOO_SLOW: more than"), std::string::npos) << closed;
  EXPECT_EQ(closed.find("Operation canceled"), std::string::npos) << closed;
}

}  // namespace
}  // namespace vigil::test
