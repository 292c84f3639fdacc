// The TCP feed through real sockets on 127.0.0.1: a snapshot then live events, filters,
// resuming after a disconnect with exactly the missed events, refusals with reasons, and a
// subscriber that stops reading cut off while the monitors and other subscribers carry on.

#include "tests/integration/clinic_scenario.hpp"

#include "daemon/engine/profile.hpp"

#include "daemon/log/log.hpp"

#include <gtest/gtest.h>
#include <spdlog/sinks/ringbuffer_sink.h>
#include <spdlog/spdlog.h>

#include <set>

namespace vigil::test {
namespace {

TEST(Feed, ASubscriberGetsASnapshotThenLiveAlarmsAndVitals) {
  daemon_under_test d(fast_config());
  control_client ops(d.control_port());
  open_session(ops, "chair-1");
  test_client monitor(d.port());
  ASSERT_TRUE(monitor.hello("dev-1", device_token, "chair-1")->has_welcome());
  const std::int64_t t0 = wall_ms();
  monitor.send(vitals(1, t0, 72, 97));
  ASSERT_TRUE(monitor.wait_ack(1));

  feed_client feed(d.feed_port());
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

TEST(Feed, TheDaemonTimesEachAlarmFromItsSampleToItsWrite) {
  daemon_under_test d(fast_config());
  control_client ops(d.control_port());
  open_session(ops, "chair-1");
  feed_client feed(d.feed_port());
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
  EXPECT_LT(delivery.sum_seconds(), 10.0 * static_cast<double>(raised));
}

TEST(Feed, FiltersAdmitOnlyTheChairsAndCategoriesAskedFor) {
  daemon_under_test d(fast_config());
  control_client ops(d.control_port());
  open_session(ops, "chair-1");
  open_session(ops, "chair-2");
  feed_client feed(d.feed_port());
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

TEST(Feed, AResumingSubscriberGetsExactlyTheEventsItMissed) {
  daemon_under_test d(fast_config());
  control_client ops(d.control_port());
  open_session(ops, "chair-1");
  std::uint64_t last = 0;
  {
    feed_client feed(d.feed_port());
    feed.subscribe(subscribe_to({}, {v1::EVENT_CATEGORY_NOTES}));
    ASSERT_TRUE(feed.next()->has_snapshot());
    add_note(ops, "chair-1", "seen");
    const auto m = feed.next_event();
    ASSERT_TRUE(m && m->has_event());
    last = m->event().event().event_id();
  }
  for (int i = 1; i <= 3; ++i) add_note(ops, "chair-1", "missed " + std::to_string(i));
  feed_client again(d.feed_port());
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

TEST(Feed, BadRequestsAreRefusedWithAReason) {
  daemon_under_test d(fast_config());
  auto refused = [&](v1::FeedRequest request) {
    feed_client feed(d.feed_port());
    feed.subscribe(std::move(request));
    auto m = feed.next();
    EXPECT_TRUE(m && m->has_closing());
    EXPECT_FALSE(feed.next(std::chrono::seconds(5)).has_value());
    EXPECT_TRUE(feed.closed());
    return m ? m->closing() : v1::FeedClosing{};
  };
  auto bad_token = subscribe_to();
  bad_token.set_token("not-a-token-at-all");
  EXPECT_EQ(refused(bad_token).error(), v1::FEED_ERROR_UNAUTHORIZED);
  auto device = subscribe_to();
  device.set_token(device_token);
  EXPECT_EQ(refused(device).error(), v1::FEED_ERROR_UNAUTHORIZED) << "a device token is not a user's";
  auto bad_category = subscribe_to({}, {static_cast<v1::EventCategory>(42)});
  const auto c = refused(bad_category);
  EXPECT_EQ(c.error(), v1::FEED_ERROR_BAD_REQUEST);
  EXPECT_NE(c.message().find("category"), std::string::npos) << c.message();
  auto future = subscribe_to();
  future.mutable_subscribe()->set_resume_after(1'000'000);
  EXPECT_EQ(refused(future).error(), v1::FEED_ERROR_RESUME_TOO_OLD);
}

TEST(Feed, ASubscriberThatStopsReadingIsCutOffWhileOthersAndTheMonitorsCarryOn) {
  auto config = fast_config();
  config.feed.soft_queue_bytes = 16 * 1024;
  config.feed.hard_queue_bytes = 64 * 1024;
  config.feed.send_buffer_bytes = 8 * 1024;
  daemon_under_test d(config);
  control_client ops(d.control_port());
  open_session(ops, "chair-1");
  feed_client stalled(d.feed_port(), 4096);
  stalled.subscribe(subscribe_to());
  feed_client reader(d.feed_port());
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
      while (auto m = reader.next_event(std::chrono::milliseconds(200))) {
        ASSERT_TRUE(m->has_event()) << m->DebugString();
        EXPECT_GT(m->event().event().event_id(), previous_id);
        previous_id = m->event().event().event_id();
        if (m->event().event().type() == v1::EVENT_TYPE_ALARM_RAISED) ++raised;
        if (raised == seq / 2) break;
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
  }
}

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

TEST(Feed, ASubscriberCutOffForBeingSlowIsLoggedWithTheHubsReason) {
  log_capture feed_log("feed");  // outlives the daemon, whose thread logs into it
  auto config = fast_config();
  config.feed.soft_queue_bytes = 16 * 1024;
  config.feed.hard_queue_bytes = 64 * 1024;
  config.feed.send_buffer_bytes = 8 * 1024;
  daemon_under_test d(config);
  control_client ops(d.control_port());
  open_session(ops, "chair-1");
  feed_client stalled(d.feed_port(), 4096);
  stalled.subscribe(subscribe_to());
  test_client monitor(d.port());
  ASSERT_TRUE(monitor.hello("dev-1", device_token, "chair-1")->has_welcome());
  const std::int64_t t0 = wall_ms();
  for (std::uint64_t seq = 1; seq <= 2'000; ++seq) {
    monitor.send(vitals(seq, t0 + static_cast<std::int64_t>(seq) * 100, seq % 2 ? 150 : 80, 97));
    if (seq % 100 == 0) {
      ASSERT_TRUE(monitor.wait_ack(seq));
    }
  }
  while (stalled.next(std::chrono::seconds(5))) {
  }
  ASSERT_TRUE(stalled.closed());
  d.stop();  // its last log lines are written before run() returns
  std::string closed;
  for (const auto& line : feed_log.lines()) {
    if (line.find("feed subscriber") != std::string::npos && line.find("closed:") != std::string::npos) closed = line;
  }
  ASSERT_FALSE(closed.empty()) << "the cut-off subscriber's close is logged";
  EXPECT_NE(closed.find("FEED_ERROR_TOO_SLOW: more than"), std::string::npos) << closed;
  EXPECT_EQ(closed.find("Operation canceled"), std::string::npos) << closed;
}

}  // namespace
}  // namespace vigil::test
