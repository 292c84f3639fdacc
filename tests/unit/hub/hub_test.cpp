// The hub with a real engine and fake subscribers: snapshots, filters, live events, merged
// vitals, resumes from memory and from the timeline, and slow subscribers cut off with a reason.

#include "daemon/codec/frame.hpp"
#include "daemon/engine/profile.hpp"
#include "daemon/hub/hub.hpp"

#include <google/protobuf/util/json_util.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <deque>
#include <functional>
#include <set>

namespace vigil::hub {
namespace {

using engine::event_type;
using model::vital_kind;
constexpr engine::millis t0 = 1'700'000'000'000;

/// Decodes protobuf feed frames.
std::vector<v1::FeedMessage> decode(const std::vector<std::shared_ptr<const std::string>>& frames) {
  std::vector<v1::FeedMessage> out;
  codec::frame_decoder decoder(codec::hard_max_frame_bytes);
  for (const auto& f : frames) {
    auto space = decoder.prepare();
    EXPECT_GE(space.size(), f->size());
    std::copy(f->begin(), f->end(), space.data());
    decoder.commit(f->size());
    v1::FeedMessage m;
    while (decoder.next(m).status == codec::decode_status::ok) out.push_back(m);
  }
  return out;
}

engine::event numbered(std::uint64_t id, std::string chair, event_type type = event_type::alarm_raised,
                       std::uint64_t session = 1) {
  engine::event e;
  e.id = id;
  e.type = type;
  e.chair = std::move(chair);
  e.session = session;
  e.at = t0 + static_cast<engine::millis>(id);
  e.rule = "spo2_low";
  return e;
}

struct HubTest : ::testing::Test {
  engine::engine eng{std::vector<engine::profile>{engine::generic_profile()}};
  std::chrono::steady_clock::time_point now{};
  limits lim;
  std::vector<engine::event> timeline;  // what a timeline would hold
  std::unique_ptr<hub> h;
  int wakes = 0;

  // The timeline behind memory as the daemon's read pool serves it: answered at once, or, while
  // `deferred`, held until answer_reads() (as answers posted back from the reader thread).
  bool deferred = false;
  std::deque<std::function<void()>> unanswered;
  std::size_t largest_ask = 0;
  std::size_t largest_chunk = 0;
  std::size_t reads = 0;
  history timeline_history() {
    history past;
    past.read = [this](std::uint64_t after, std::size_t limit, format, history::done done) {
      ++reads;
      largest_ask = std::max(largest_ask, limit);
      history_answer a;
      for (const auto& e : timeline) {
        if (e.id > after && a.events.size() < limit) a.events.push_back(e);
      }
      largest_chunk = std::max(largest_chunk, a.events.size());
      answer(std::move(done), std::move(a));
    };
    past.count = [this](std::uint64_t after, std::uint64_t before, std::size_t cap, history::done done) {
      history_answer a;
      for (const auto& e : timeline) {
        if (e.id > after && e.id < before && a.count < cap) ++a.count;
      }
      answer(std::move(done), std::move(a));
    };
    return past;
  }
  void answer(history::done done, history_answer a) {
    if (!deferred) return done(std::move(a));
    unanswered.push_back([done = std::move(done), a = std::move(a)] { done(a); });
  }
  /// Delivers the answers held back until now (not those asked for meanwhile); true if any.
  bool answer_reads() {
    auto now_due = std::move(unanswered);
    unanswered.clear();
    for (auto& next : now_due) next();
    return !now_due.empty();
  }

  void make(history past = {}) { h = std::make_unique<hub>(lim, eng, std::move(past), [this] { return now; }); }
  std::shared_ptr<subscription> subscribe(filter f = {}, std::optional<std::uint64_t> resume = std::nullopt,
                                          format fmt = format::protobuf) {
    auto r = h->subscribe(f, fmt, resume, [this] { ++wakes; });
    EXPECT_TRUE(r.sub) << r.message;
    return r.sub;
  }
  /// A resume's frames, taken as a subscriber reads them, up to and including the ResumeDone.
  std::vector<v1::FeedMessage> replay(subscription& sub) {
    std::vector<v1::FeedMessage> out;
    while (out.empty() || !out.back().has_resumed()) {
      const auto frames = sub.take();
      if (frames.empty()) {
        ADD_FAILURE() << "the replay stalled after " << out.size() << " frames";
        break;
      }
      for (auto& m : decode(frames)) out.push_back(std::move(m));
    }
    return out;
  }
  void publish(const engine::event& e) {
    timeline.push_back(e);
    h->publish(std::span<const engine::event>(&e, 1));
  }
};

TEST_F(HubTest, ASubscriberGetsASnapshotThenLiveEventsItsFilterAdmits) {
  ASSERT_TRUE(eng.apply(engine::open_session{"chair-1", "P-1", "generic", "nurse"}, t0).ok());
  ASSERT_TRUE(eng.apply(engine::open_session{"chair-2", "P-2", "generic", "nurse"}, t0).ok());
  eng.on_sample("chair-1", {t0 + 1000, 97, vital_kind::spo2, 0});
  eng.take_events();
  make();
  filter only_one;
  only_one.chairs = {"chair-1"};
  auto sub = subscribe(only_one);
  auto first = decode(sub->take());
  ASSERT_EQ(first.size(), 1u);
  ASSERT_TRUE(first[0].has_snapshot());
  const auto& snap = first[0].snapshot();
  ASSERT_EQ(snap.sessions_size(), 1);
  EXPECT_EQ(snap.sessions(0).chair_id(), "chair-1");
  ASSERT_EQ(snap.vitals_size(), 1);
  EXPECT_EQ(snap.vitals(0).values(0).value(), 97);

  publish(numbered(1, "chair-1"));
  publish(numbered(2, "chair-2"));
  publish(numbered(3, "chair-1", event_type::note_added));
  const auto live = decode(sub->take());
  ASSERT_EQ(live.size(), 2u);
  EXPECT_EQ(live[0].event().event().event_id(), 1u);
  EXPECT_EQ(live[1].event().event().event_id(), 3u);
  EXPECT_GE(wakes, 2);

  filter alarms_only;
  alarms_only.categories = 1u << v1::EVENT_CATEGORY_ALARMS;
  auto other = subscribe(alarms_only);
  other->take();
  publish(numbered(4, "chair-2", event_type::note_added));
  publish(numbered(5, "chair-2"));
  const auto alarms = decode(other->take());
  ASSERT_EQ(alarms.size(), 1u);
  EXPECT_EQ(alarms[0].event().event().event_id(), 5u);
}

TEST_F(HubTest, JsonSubscribersGetProtobufsJsonMapping) {
  make();
  auto sub = subscribe({}, std::nullopt, format::json);
  sub->take();
  publish(numbered(7, "chair-1"));
  const auto frames = sub->take();
  ASSERT_EQ(frames.size(), 1u);
  v1::FeedMessage m;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(*frames[0], &m).ok()) << *frames[0];
  EXPECT_EQ(m.event().event().event_id(), 7u);
  EXPECT_NE(frames[0]->find("\"event_id\""), std::string::npos) << *frames[0];
}

TEST_F(HubTest, VitalsAreMergedToTheLatestValueWithinTheInterval) {
  make();
  filter f;
  f.vitals_interval_ms = 1000;
  auto sub = subscribe(f);
  sub->take();
  auto batch = [&](engine::millis at, double hr) {
    const model::vital_sample s[] = {{at, hr, vital_kind::heart_rate, 0}, {at, 97, vital_kind::spo2, 0}};
    h->publish_vitals("chair-1", 1, s);
  };
  batch(t0, 70);            // first: sent at once
  batch(t0 + 250, 71);      // within the interval: held and merged
  batch(t0 + 500, 72);
  auto got = decode(sub->take());
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].vitals().values(0).value(), 70);
  batch(t0 + 1000, 73);     // the interval has passed: the merged latest values go
  got = decode(sub->take());
  ASSERT_EQ(got.size(), 1u);
  ASSERT_EQ(got[0].vitals().values_size(), 2);
  EXPECT_EQ(got[0].vitals().values(0).value(), 73) << "heart rate: the latest";
  batch(t0 + 1100, 74);     // held...
  EXPECT_TRUE(sub->take().empty());
  h->tick();                // ...until the tick
  got = decode(sub->take());
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].vitals().values(0).value(), 74);
  EXPECT_GE(h->stats().vitals_merged, 2u);
}

TEST_F(HubTest, AResumeGetsExactlyTheMissedEventsFromMemory) {
  make();
  for (std::uint64_t id = 1; id <= 10; ++id) publish(numbered(id, id % 2 ? "chair-1" : "chair-2"));
  filter f;
  f.chairs = {"chair-1"};
  auto sub = subscribe(f, 4);
  const auto got = decode(sub->take());
  std::vector<std::uint64_t> ids;
  for (const auto& m : got) {
    if (m.has_event()) ids.push_back(m.event().event().event_id());
  }
  EXPECT_EQ(ids, (std::vector<std::uint64_t>{5, 7, 9}));
  ASSERT_TRUE(got.back().has_resumed());
  EXPECT_EQ(got.back().resumed().last_event_id(), 10u);
  EXPECT_EQ(got.back().resumed().replayed(), 3u);
  EXPECT_FALSE(got.front().has_snapshot()) << "a resume sends no snapshot";
}

TEST_F(HubTest, AResumeOlderThanMemoryReadsTheTimeline) {
  lim.history_events = 3;
  make(timeline_history());
  for (std::uint64_t id = 1; id <= 10; ++id) publish(numbered(id, "chair-1"));
  auto sub = subscribe({}, 2);
  std::vector<std::uint64_t> ids;
  for (const auto& m : decode(sub->take())) {
    if (m.has_event()) ids.push_back(m.event().event().event_id());
  }
  EXPECT_EQ(ids, (std::vector<std::uint64_t>{3, 4, 5, 6, 7, 8, 9, 10})) << "each once, in order";
}

TEST_F(HubTest, AResumeFromFarBackReadsTheTimelineAChunkAtATime) {
  // A resume reaching back past memory must not hold every event it replays (or is refused
  // for) in memory at once: the timeline is read in chunks.
  lim.history_events = 3;
  lim.max_replay_events = 2'500;
  make(timeline_history());
  for (std::uint64_t id = 1; id <= 2'000; ++id) publish(numbered(id, "chair-1"));
  auto sub = subscribe({}, 0);
  std::vector<std::uint64_t> ids;
  for (const auto& m : replay(*sub)) {
    if (m.has_event()) ids.push_back(m.event().event().event_id());
  }
  ASSERT_EQ(ids.size(), 2'000u);
  for (std::size_t i = 0; i < ids.size(); ++i) ASSERT_EQ(ids[i], i + 1) << "each once, in order";
  EXPECT_LE(largest_ask, 1'024u);
  EXPECT_LE(largest_chunk, 1'024u);

  // Too far back for max_replay_events: refused, still a chunk at a time.
  for (std::uint64_t id = 2'001; id <= 3'000; ++id) publish(numbered(id, "chair-1"));
  largest_ask = largest_chunk = 0;
  auto refused = h->subscribe({}, format::protobuf, 0, nullptr);
  EXPECT_FALSE(refused.sub);
  EXPECT_EQ(refused.error, v1::FEED_ERROR_RESUME_TOO_OLD);
  EXPECT_NE(refused.message.find("more than 2500 events"), std::string::npos) << refused.message;
  EXPECT_LE(largest_ask, 1'024u);
  EXPECT_LE(largest_chunk, 1'024u);
}

// Found by the 30-minute fuzz run under heaptrack: a resume from far back encoded and queued
// every missed event at once (up to max_replay_events frames per subscriber), so a few resumes
// at a time raised the daemon's heap by megabytes. A resume's events are queued as the
// subscriber reads them; live events, vitals and heartbeats wait for its ResumeDone.
TEST_F(HubTest, AResumeIsQueuedAsTheSubscriberReadsItNotAllAtOnce) {
  lim.history_events = 100;
  lim.soft_bytes = 4'000;
  make(timeline_history());
  for (std::uint64_t id = 1; id <= 2'000; ++id) publish(numbered(id, "chair-1"));
  filter beating;
  beating.heartbeat = std::chrono::seconds(1);
  auto sub = subscribe(beating, 0);
  const std::size_t batch_bound = lim.soft_bytes / 2 + 200;  // half the soft limit, and one frame over it
  std::vector<std::uint64_t> ids;
  std::size_t takes = 0;
  std::optional<v1::ResumeDone> done;
  while (!done) {
    ASSERT_LE(sub->queued_bytes(), batch_bound) << "after " << ids.size() << " events";
    const auto frames = sub->take();
    ASSERT_FALSE(frames.empty()) << "the replay stalled after " << ids.size() << " events";
    ++takes;
    for (const auto& m : decode(frames)) {
      ASSERT_FALSE(m.has_vitals() || m.has_heartbeat()) << "before the ResumeDone, only missed events";
      if (m.has_event()) ids.push_back(m.event().event().event_id());
      if (m.has_resumed()) done = m.resumed();
    }
    if (takes == 3) {
      // Live events, vitals and a heartbeat's time, while the replay is under way.
      for (std::uint64_t id = 2'001; id <= 2'010; ++id) publish(numbered(id, "chair-1"));
      const model::vital_sample v[] = {{t0, 97, vital_kind::spo2, 0}};
      h->publish_vitals("chair-1", 1, v);
      now += std::chrono::seconds(5);
      h->tick();
      EXPECT_LE(sub->queued_bytes(), batch_bound) << "live events wait in memory, not in the subscriber's queue";
    }
  }
  EXPECT_GT(takes, 10u);
  ASSERT_EQ(ids.size(), 2'010u);
  for (std::size_t i = 0; i < ids.size(); ++i) ASSERT_EQ(ids[i], i + 1) << "each once, in order";
  EXPECT_EQ(done->last_event_id(), 2'010u);
  EXPECT_EQ(done->replayed(), 2'010u);
  // Then live.
  publish(numbered(2'011, "chair-1"));
  const auto live = decode(sub->take());
  ASSERT_EQ(live.size(), 1u);
  EXPECT_EQ(live[0].event().event().event_id(), 2'011u);
}

TEST_F(HubTest, AResumeThatCannotBeServedIsRefusedWithAReason) {
  lim.history_events = 2;
  make();
  for (std::uint64_t id = 1; id <= 5; ++id) publish(numbered(id, "chair-1"));
  auto old = h->subscribe({}, format::protobuf, 1, nullptr);
  EXPECT_FALSE(old.sub);
  EXPECT_EQ(old.error, v1::FEED_ERROR_RESUME_TOO_OLD);
  EXPECT_NE(old.message.find("snapshot"), std::string::npos) << old.message;
  auto future = h->subscribe({}, format::protobuf, 99, nullptr);
  EXPECT_FALSE(future.sub);
  EXPECT_EQ(h->subscribers(), 0u);
}

TEST_F(HubTest, AResumeLargerThanTheQueueLimitIsStillServedWhole) {
  lim.soft_bytes = 1'000;
  lim.hard_bytes = 2'000;
  make();
  for (std::uint64_t id = 1; id <= 100; ++id) publish(numbered(id, "chair-1"));
  auto sub = subscribe({}, 0);
  EXPECT_FALSE(sub->closed()) << "a resume is not cut off for its own size; it would only resume again";
  const auto got = replay(*sub);
  EXPECT_FALSE(sub->closed());
  ASSERT_EQ(got.size(), 101u);
  EXPECT_EQ(got.back().resumed().replayed(), 100u);
}

TEST_F(HubTest, ASubscriberOverItsHardLimitIsCutOffAndOthersCarryOn) {
  lim.soft_bytes = 1'000;
  lim.hard_bytes = 4'000;
  make();
  auto slow = subscribe();
  auto fast = subscribe();
  slow->take();
  fast->take();
  std::size_t fast_got = 0;
  for (std::uint64_t id = 1; id <= 200; ++id) {
    publish(numbered(id, "chair-1"));
    fast_got += decode(fast->take()).size();
  }
  EXPECT_TRUE(slow->closed());
  EXPECT_TRUE(slow->take().empty()) << "nothing half-delivered: the subscriber resumes instead";
  v1::FeedMessage closing;
  ASSERT_TRUE(closing.ParseFromString(slow->closing().substr(1))) << "one length byte, then the message";
  EXPECT_EQ(closing.closing().error(), v1::FEED_ERROR_TOO_SLOW);
  EXPECT_NE(closing.closing().message().find("resume"), std::string::npos);
  EXPECT_EQ(fast_got, 200u);
  EXPECT_EQ(h->stats().dropped_slow, 1u);
}

TEST_F(HubTest, ASubscriberOverItsSoftLimitForTheGraceIsCutOffAtTheTick) {
  lim.soft_bytes = 500;
  lim.hard_bytes = 1'000'000;
  lim.soft_grace = std::chrono::seconds(5);
  make();
  auto slow = subscribe();
  slow->take();
  for (std::uint64_t id = 1; id <= 20; ++id) publish(numbered(id, "chair-1"));
  h->tick();
  EXPECT_FALSE(slow->closed()) << "over the soft limit, within the grace";
  now += std::chrono::seconds(4);
  h->tick();
  EXPECT_FALSE(slow->closed());
  now += std::chrono::seconds(1);
  h->tick();
  EXPECT_TRUE(slow->closed());
  // One that reads in time is never cut off.
  auto reader = subscribe();
  for (std::uint64_t id = 21; id <= 60; ++id) {
    publish(numbered(id, "chair-1"));
    reader->take();
    now += std::chrono::seconds(1);
    h->tick();
  }
  EXPECT_FALSE(reader->closed());
}

TEST(LatencyHistogram, QuantilesFallWithinTheirBucket) {
  latency_histogram h;
  EXPECT_EQ(h.quantile_us(0.99), 0.0) << "empty";
  // 98 fast observations (50 µs) and 2 slow ones (3 ms).
  for (int i = 0; i < 98; ++i) h.record(std::chrono::microseconds(50));
  h.record(std::chrono::milliseconds(3));
  h.record(std::chrono::milliseconds(3));
  EXPECT_EQ(h.count(), 100u);
  EXPECT_NEAR(h.sum_seconds(), 98 * 50e-6 + 2 * 3e-3, 1e-9);
  EXPECT_GT(h.quantile_us(0.5), 40.0);
  EXPECT_LE(h.quantile_us(0.5), 50.0);
  EXPECT_LE(h.quantile_us(0.98), 50.0);
  EXPECT_GT(h.quantile_us(0.99), 2500.0);
  EXPECT_LE(h.quantile_us(0.99), 3000.0);
  // Prometheus sees 1, 2.5 and 5 × 10^k seconds, cumulative and ascending.
  const auto buckets = h.prometheus_buckets();
  ASSERT_EQ(buckets.size(), 18u);
  EXPECT_DOUBLE_EQ(buckets.front().first, 1e-5);
  EXPECT_DOUBLE_EQ(buckets.back().first, 5.0);
  for (const auto& [bound, count] : buckets) {
    EXPECT_EQ(count, bound < 50e-6 ? 0u : bound < 3e-3 ? 98u : 100u) << bound;
  }
  // Beyond the last bound: counted, in the last bucket.
  h.record(std::chrono::seconds(30));
  EXPECT_EQ(h.count(), 101u);
  EXPECT_EQ(h.prometheus_buckets().back().second, 100u);
}

TEST_F(HubTest, AlarmDeliveryRunsFromTheSamplesArrivalToTheEndOfTheWrite) {
  make();
  auto fast = subscribe();
  auto slow = subscribe();
  auto unwritten = subscribe();
  fast->take();
  slow->take();
  unwritten->take();
  const auto arrived = std::chrono::steady_clock::time_point{} + std::chrono::hours(1);
  const std::vector<engine::event> events = {numbered(1, "chair-1"), numbered(2, "chair-1", event_type::alarm_cleared)};
  h->publish(events, arrived);
  // An alarm raised by a timer, with no sample behind it, is not measured.
  const auto timer_alarm = numbered(3, "chair-2");
  h->publish(std::span<const engine::event>(&timer_alarm, 1));

  EXPECT_EQ(fast->take().size(), 3u);
  fast->written(arrived + std::chrono::microseconds(200));
  EXPECT_EQ(slow->take().size(), 3u);
  slow->written(arrived + std::chrono::milliseconds(4));
  EXPECT_EQ(unwritten->take().size(), 3u);  // taken but never written: not measured
  fast->written(arrived + std::chrono::seconds(1));  // nothing more in flight

  const auto& d = h->alarm_delivery();
  EXPECT_EQ(d.count(), 2u) << "one alarm_raised from a sample, per subscriber that wrote it";
  EXPECT_NEAR(d.sum_seconds(), 200e-6 + 4e-3, 1e-9);
  EXPECT_LE(d.quantile_us(0.5), 200.0);
  EXPECT_GT(d.quantile_us(1.0), 3000.0);
}

TEST_F(HubTest, AnAlarmQueuedBehindAResumesReplayIsMeasuredApartFromLiveDelivery) {
  make();
  for (std::uint64_t id = 1; id <= 3; ++id) publish(numbered(id, "chair-1", event_type::alarm_cleared));
  auto live = subscribe();
  live->take();
  auto resuming = subscribe({}, 0);
  const auto arrived = std::chrono::steady_clock::time_point{} + std::chrono::hours(1);
  // The replay is queued, up to its ResumeDone, and not yet written when the alarm is raised.
  const auto replayed = resuming->take();
  ASSERT_TRUE(decode(replayed).back().has_resumed());
  const auto alarm = numbered(4, "chair-1");
  h->publish(std::span<const engine::event>(&alarm, 1), arrived);
  live->take();
  live->written(arrived + std::chrono::microseconds(300));
  resuming->written(arrived + std::chrono::milliseconds(40));  // the write of the replay ends
  EXPECT_EQ(resuming->take().size(), 1u);
  resuming->written(arrived + std::chrono::milliseconds(50));
  // Once the replay is written, the subscriber is live: its next alarm is live delivery.
  const auto next = numbered(5, "chair-1");
  h->publish(std::span<const engine::event>(&next, 1), arrived + std::chrono::seconds(1));
  EXPECT_EQ(resuming->take().size(), 1u);
  resuming->written(arrived + std::chrono::seconds(1) + std::chrono::microseconds(500));

  const auto& live_delivery = h->alarm_delivery();
  EXPECT_EQ(live_delivery.count(), 2u) << "the live subscriber's alarm and the resumed one's second";
  EXPECT_NEAR(live_delivery.sum_seconds(), 300e-6 + 500e-6, 1e-9);
  const auto& behind = h->alarm_delivery_after_resume();
  EXPECT_EQ(behind.count(), 1u) << "the alarm that waited for the replay's write";
  EXPECT_NEAR(behind.sum_seconds(), 50e-3, 1e-9);
}

TEST_F(HubTest, HeartbeatsGoOnlyToSubscribersThatAskedAndHeardNothingForThatLong) {
  make();
  filter beating;
  beating.heartbeat = std::chrono::seconds(2);
  auto asked = subscribe(beating);
  auto quiet = subscribe();
  asked->take();
  quiet->take();
  now += std::chrono::seconds(1);
  h->tick();
  EXPECT_TRUE(asked->take().empty()) << "the snapshot went out a second ago";
  publish(numbered(1, "chair-1"));
  now += std::chrono::milliseconds(1500);
  h->tick();
  EXPECT_EQ(decode(asked->take()).size(), 1u) << "the event, and no heartbeat: the event was 1.5 s ago";
  now += std::chrono::milliseconds(500);
  h->tick();
  const auto beat = decode(asked->take());
  ASSERT_EQ(beat.size(), 1u);
  ASSERT_TRUE(beat[0].has_heartbeat());
  EXPECT_EQ(beat[0].heartbeat().last_event_id(), 1u);
  now += std::chrono::seconds(2);
  h->tick();
  EXPECT_EQ(decode(asked->take()).size(), 1u) << "and again two seconds later";
  EXPECT_EQ(decode(quiet->take()).size(), 1u) << "only the event for a subscriber that did not ask";
}

TEST_F(HubTest, AHeartbeatIntervalOutsideItsBoundsIsRefused) {
  std::string error;
  v1::Subscribe s;
  s.set_heartbeat_ms(999);
  EXPECT_FALSE(filter::from(s, error));
  EXPECT_NE(error.find("heartbeat_ms"), std::string::npos) << error;
  s.set_heartbeat_ms(60'001);
  EXPECT_FALSE(filter::from(s, error));
  s.set_heartbeat_ms(1'000);
  ASSERT_TRUE(filter::from(s, error));
  EXPECT_EQ(filter::from(s, error)->heartbeat, std::chrono::seconds(1));
}

}  // namespace
}  // namespace vigil::hub

namespace vigil::hub {
namespace {

// Found by the crash test: after a restart the hub did not know the newest saved event, so a
// subscriber resuming from it before anything new happened was told the event had "not happened
// yet"; a resume across the ids skipped by a crash counted the gap as events to replay; and a
// subscriber that had seen events lost in the crash resumed as if nothing were missing.
TEST_F(HubTest, AfterARestartResumesCarryOnFromTheTimelineAndRefuseWhatWasLost) {
  make(timeline_history());
  // Before the crash: events 1 to 30 were sent, 1 to 25 saved; this run hands out from 1,000,001.
  for (std::uint64_t id = 1; id <= 25; ++id) timeline.push_back(numbered(id, "chair-1"));
  h->carry_on(25, 1'000'001);

  auto at_once = subscribe({}, 25);
  ASSERT_TRUE(at_once);
  auto got = decode(at_once->take());
  ASSERT_EQ(got.size(), 1u);
  EXPECT_TRUE(got[0].has_resumed()) << "nothing missed, nothing refused";

  auto saved = subscribe({}, 20);
  ASSERT_TRUE(saved);
  std::vector<std::uint64_t> ids;
  for (const auto& m : decode(saved->take())) {
    if (m.has_event()) ids.push_back(m.event().event().event_id());
  }
  EXPECT_EQ(ids, (std::vector<std::uint64_t>{21, 22, 23, 24, 25}));

  const auto lost = h->subscribe({}, format::protobuf, 27, nullptr);
  EXPECT_FALSE(lost.sub) << "events 26 to 27 were seen and lost: the subscriber's state is not the daemon's";
  EXPECT_EQ(lost.error, v1::FEED_ERROR_RESUME_TOO_OLD);
  EXPECT_NE(lost.message.find("lost"), std::string::npos) << lost.message;

  // The new run's events follow the saved ones, across the gap, as one resume.
  publish(numbered(1'000'001, "chair-1"));
  publish(numbered(1'000'002, "chair-1"));
  auto across = subscribe({}, 24);
  ASSERT_TRUE(across);
  ids.clear();
  for (const auto& m : decode(across->take())) {
    if (m.has_event()) ids.push_back(m.event().event().event_id());
  }
  EXPECT_EQ(ids, (std::vector<std::uint64_t>{25, 1'000'001, 1'000'002}));
  const auto still_lost = h->subscribe({}, format::protobuf, 30, nullptr);
  EXPECT_FALSE(still_lost.sub) << "a lost event stays lost once new ones come";
}

}  // namespace
}  // namespace vigil::hub

namespace vigil::hub {
namespace {

// A resume from before memory used to read the timeline on the hub's own thread (the I/O
// thread, which evaluates every chair's alarms), up to 100,000 events at a time. The hub now
// asks and carries on: the subscriber waits for the answer, everyone else does not.
TEST_F(HubTest, AResumeFromBeforeMemoryWaitsForTheTimelineWithoutHoldingUpTheHub) {
  lim.history_events = 3;
  deferred = true;
  make(timeline_history());
  for (std::uint64_t id = 1; id <= 10; ++id) publish(numbered(id, "chair-1"));
  auto live = subscribe();
  live->take();  // its snapshot
  auto resuming = subscribe({}, 2);
  ASSERT_TRUE(resuming) << "accepted before the timeline answered";
  EXPECT_TRUE(resuming->take().empty()) << "nothing until the timeline has counted what it would replay";

  publish(numbered(11, "chair-1"));
  EXPECT_EQ(decode(live->take()).size(), 1u) << "a live subscriber's event leaves while the resume waits";
  EXPECT_TRUE(resuming->take().empty());

  const int wakes_before = wakes;
  ASSERT_TRUE(answer_reads());  // the count
  EXPECT_GT(wakes, wakes_before) << "the answer wakes the subscriber";
  EXPECT_TRUE(resuming->take().empty()) << "now the events behind memory are being read";
  ASSERT_TRUE(answer_reads());  // the read
  std::vector<std::uint64_t> ids;
  for (int round = 0; round < 10 && (ids.empty() || ids.back() != 11); ++round) {
    for (const auto& m : decode(resuming->take())) {
      if (m.has_event()) ids.push_back(m.event().event().event_id());
    }
    answer_reads();
  }
  EXPECT_EQ(ids, (std::vector<std::uint64_t>{3, 4, 5, 6, 7, 8, 9, 10, 11})) << "each once, in order";
}

// The reader thread encodes what it reads, and memory keeps the frames it published, so a resume
// costs the hub's thread no encoding: the frames queued are the very ones given.
TEST_F(HubTest, AReplayQueuesTheFramesTheReaderAndThePublisherEncoded) {
  lim.history_events = 3;
  std::set<const std::string*> given;
  history past = timeline_history();
  past.read = [this, &given](std::uint64_t after, std::size_t limit, format encoding, history::done done) {
    history_answer a;
    for (const auto& e : timeline) {
      if (e.id > after && a.events.size() < limit) {
        a.events.push_back(e);
        a.frames.push_back(hub::frame_of(e, encoding));
        given.insert(a.frames.back().get());
      }
    }
    done(std::move(a));
  };
  make(std::move(past));
  auto live = subscribe();
  live->take();
  for (std::uint64_t id = 1; id <= 10; ++id) publish(numbered(id, "chair-1"));
  const auto published = live->take();  // frames of 1..10; memory keeps those of 8..10
  for (std::size_t i = 7; i < published.size(); ++i) given.insert(published[i].get());
  auto resuming = subscribe({}, 2);
  std::size_t events = 0;
  for (const auto& frame : resuming->take()) {
    if (frame->size() > 20) {  // an event, not the ResumeDone
      ++events;
      EXPECT_TRUE(given.contains(frame.get())) << "a frame the hub encoded again";
    }
  }
  EXPECT_EQ(events, 8u);
}

TEST_F(HubTest, AResumeTheTimelineCannotServeIsClosedWhenItAnswers) {
  lim.history_events = 3;
  lim.max_replay_events = 4;
  deferred = true;
  make(timeline_history());
  for (std::uint64_t id = 1; id <= 10; ++id) publish(numbered(id, "chair-1"));
  auto resuming = subscribe({}, 0);
  ASSERT_TRUE(resuming);
  EXPECT_FALSE(resuming->closed());
  ASSERT_TRUE(answer_reads());
  ASSERT_TRUE(resuming->closed());
  EXPECT_EQ(resuming->close_error(), v1::FEED_ERROR_RESUME_TOO_OLD) << "the WebSocket close code follows it";
  EXPECT_NE(resuming->close_reason().find("FEED_ERROR_RESUME_TOO_OLD"), std::string::npos);
  EXPECT_NE(resuming->close_reason().find("more than 4 events"), std::string::npos) << resuming->close_reason();
  const auto closing = decode({std::make_shared<const std::string>(resuming->closing())});
  ASSERT_EQ(closing.size(), 1u);
  EXPECT_EQ(closing[0].closing().error(), v1::FEED_ERROR_RESUME_TOO_OLD);
}

TEST_F(HubTest, ATimelineThatCannotBeReadClosesTheResumeWithItsReason) {
  lim.history_events = 3;
  history broken;
  broken.count = [](std::uint64_t, std::uint64_t, std::size_t, history::done done) {
    done({false, "disk I/O error", {}, {}, 0});
  };
  broken.read = [](std::uint64_t, std::size_t, format, history::done done) {
    done({false, "disk I/O error", {}, {}, 0});
  };
  make(std::move(broken));
  for (std::uint64_t id = 1; id <= 10; ++id) publish(numbered(id, "chair-1"));
  const auto refused = h->subscribe({}, format::protobuf, 2, nullptr);
  EXPECT_FALSE(refused.sub);
  EXPECT_EQ(refused.error, v1::FEED_ERROR_RESUME_TOO_OLD);
  EXPECT_NE(refused.message.find("the timeline could not be read (disk I/O error)"), std::string::npos)
      << refused.message;
}

TEST_F(HubTest, AnAnswerForASubscriberThatLeftOrAHubThatStoppedIsDropped) {
  lim.history_events = 3;
  deferred = true;
  make(timeline_history());
  for (std::uint64_t id = 1; id <= 10; ++id) publish(numbered(id, "chair-1"));
  auto left = subscribe({}, 2);
  h->unsubscribe(*left);
  const int wakes_before = wakes;
  EXPECT_TRUE(answer_reads());
  EXPECT_EQ(wakes, wakes_before) << "no one to wake";
  EXPECT_TRUE(left->take().empty());

  auto kept = subscribe({}, 2);  // still held by its connection when the hub goes
  h.reset();
  EXPECT_TRUE(answer_reads()) << "answered after the hub stopped: nothing happens";
  EXPECT_TRUE(kept->take().empty());
}

}  // namespace
}  // namespace vigil::hub
