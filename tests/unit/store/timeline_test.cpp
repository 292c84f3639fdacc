// The timeline's behaviour as every layer above the store relies on it, run against each
// backend (backends.hpp): writes queued from any thread and committed in groups, what a failed
// transaction does, and what readers give back. Tests of one backend's own matters (the SQLite
// file's schema, damage and salvage) are in sqlite_timeline_test.cpp.

#include "daemon/store/read_pool.hpp"
#include "daemon/store/timeline.hpp"
#include "tests/unit/store/backends.hpp"
#include "tests/unit/store/story.hpp"

#include <gtest/gtest.h>

#include <pthread.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <map>
#include <future>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <vector>

namespace vigil::store {
namespace {

using model::vital_kind;
using namespace story;

template <class Backend>
class TimelineTest : public ::testing::Test {
 protected:
  std::unique_ptr<timeline> open() const { return backend_.open(); }

  Backend backend_;
};

struct backend_name {
  template <class Backend>
  static std::string GetName(int) {
    return Backend::name;
  }
};

using timeline_backends = ::testing::Types<backends::sqlite, backends::postgres>;
TYPED_TEST_SUITE(TimelineTest, timeline_backends, backend_name);

TYPED_TEST(TimelineTest, BatchesAreCommittedThenReportedAndReadBackExactly) {
  const auto opened = this->open();
  auto& store = *opened;
  std::atomic<int> committed{0};
  std::vector<model::vital_sample> all;
  for (std::uint64_t seq = 1; seq <= 50; ++seq) {
    auto samples = heart_rates(static_cast<std::int64_t>(seq) * 100'000, 20);
    samples.push_back({static_cast<std::int64_t>(seq) * 100'000, 97, vital_kind::spo2, 0});
    all.insert(all.end(), samples.begin(), samples.end());
    store.append_batch("dev-1", "chair-1", 3, seq, samples, [&](bool ok) { committed += ok ? 1 : 0; });
  }
  store.append_batch("dev-2", "chair-2", 4, 9, heart_rates(0, 5), nullptr);
  store.flush();
  EXPECT_EQ(committed.load(), 50);

  const auto back = store.open_reader()->session_vitals(3);
  ASSERT_EQ(back.size(), all.size());
  std::size_t spo2 = 0;
  for (const auto& s : back) {
    EXPECT_EQ(s.chair_id, "chair-1");
    if (s.sample.kind == vital_kind::spo2) ++spo2;
  }
  EXPECT_EQ(spo2, 50u);
  // Per kind, in time order.
  for (std::size_t i = 1; i < back.size(); ++i) {
    if (back[i].sample.kind == back[i - 1].sample.kind) {
      EXPECT_LE(back[i - 1].sample.time_ms, back[i].sample.time_ms);
    }
  }
  const auto seqs = store.open_reader()->device_seqs();
  EXPECT_EQ(seqs.at("dev-1"), 50u);
  EXPECT_EQ(seqs.at("dev-2"), 9u);
  const auto stats = store.stats();
  EXPECT_EQ(stats.batches, 51u);
  EXPECT_EQ(stats.samples, all.size() + 5);
  EXPECT_LE(stats.transactions, stats.batches) << "batches queued together share a transaction";
}

TYPED_TEST(TimelineTest, GroupCommitPutsManyQueuedBatchesInOneTransaction) {
  const auto opened = this->open();
  auto& store = *opened;
  for (std::uint64_t seq = 1; seq <= 1000; ++seq) store.append_batch("dev-1", "chair-1", 1, seq, heart_rates(0, 1), nullptr);
  store.flush();
  const auto stats = store.stats();
  EXPECT_LT(stats.transactions, 100u) << "1,000 queued batches must not cost 1,000 syncs";
  // Every batch's wait for its commit is in the latency histogram; its buckets are cumulative.
  EXPECT_EQ(stats.latency_count, 1000u);
  EXPECT_GT(stats.latency_sum_ms, 0.0);
  EXPECT_EQ(stats.latency_buckets.back(), 1000u) << "all within 5 s";
  for (std::size_t b = 1; b < stats.latency_buckets.size(); ++b) {
    EXPECT_GE(stats.latency_buckets[b], stats.latency_buckets[b - 1]);
  }
  EXPECT_EQ(stats.queued, 0u);
}

TYPED_TEST(TimelineTest, DeviceSeqNeverGoesBack) {
  const auto opened = this->open();
  auto& store = *opened;
  store.append_batch("dev-1", "chair-1", 1, 10, heart_rates(0, 1), nullptr);
  store.flush();
  store.append_batch("dev-1", "chair-1", 1, 4, heart_rates(0, 1), nullptr);
  store.flush();
  EXPECT_EQ(store.open_reader()->device_seqs().at("dev-1"), 10u);
}

TYPED_TEST(TimelineTest, EventsRoundTripWithEveryField) {
  const auto opened = this->open();
  auto& store = *opened;
  engine::event e;
  e.type = engine::event_type::alarm_acknowledged;
  e.at = 1'700'000'123'456;
  e.chair = "chair-3";
  e.session = 12;
  e.alarm = 99;
  e.rule = "spo2_low";
  e.kind = engine::alarm_kind::physiological;
  e.level = engine::priority::high;
  e.from = engine::phase::observation;
  e.to = engine::phase::ready;
  e.who = "nurse-ana";
  e.responder = "charge_nurse";
  e.tier = 2;
  e.value = 87.5;
  e.until = 1'700'000'423'456;
  e.text = "acknowledged at the station, \"quoted\"";
  store.append_event(e);
  engine::event other = e;
  other.session = 13;
  store.append_event(other);
  store.flush();
  const auto back = store.open_reader()->session_events(12);
  ASSERT_EQ(back.size(), 1u);
  const auto& b = back[0];
  EXPECT_EQ(b.type, e.type);
  EXPECT_EQ(b.at, e.at);
  EXPECT_EQ(b.chair, e.chair);
  EXPECT_EQ(b.session, e.session);
  EXPECT_EQ(b.alarm, e.alarm);
  EXPECT_EQ(b.rule, e.rule);
  EXPECT_EQ(b.kind, e.kind);
  EXPECT_EQ(b.level, e.level);
  EXPECT_EQ(b.from, e.from);
  EXPECT_EQ(b.to, e.to);
  EXPECT_EQ(b.who, e.who);
  EXPECT_EQ(b.responder, e.responder);
  EXPECT_EQ(b.tier, e.tier);
  EXPECT_EQ(b.value, e.value);
  EXPECT_EQ(b.until, e.until);
  EXPECT_EQ(b.text, e.text);
}

TYPED_TEST(TimelineTest, AWriteErrorIsReportedToEveryBatchOfTheGroupAndTheStoreRecovers) {
  const auto opened = this->open();
  auto& store = *opened;
  this->backend_.refuse_writes("vitals");  // its next insert fails
  std::atomic<int> failed{0};
  store.append_batch("dev-1", "chair-1", 1, 1, heart_rates(0, 3), [&](bool ok) { failed += ok ? 0 : 1; });
  store.flush();
  EXPECT_EQ(failed.load(), 1) << "the batch must not be reported stored";
  EXPECT_EQ(store.stats().failures, 1u);
  EXPECT_EQ(store.open_reader()->device_seqs().count("dev-1"), 0u) << "the device's seq rolled back with the samples";
  this->backend_.accept_writes("vitals");
  std::atomic<int> ok_count{0};
  // The device's next connection (epoch 1) resends the batch.
  store.append_batch("dev-1", "chair-1", 1, 1, heart_rates(0, 3), [&](bool ok) { ok_count += ok ? 1 : 0; }, 1);
  store.flush();
  EXPECT_EQ(ok_count.load(), 1);
  EXPECT_EQ(store.open_reader()->session_vitals(1).size(), 3u);
}

TYPED_TEST(TimelineTest, BatchesQueuedBehindAFailedOneAreNotWrittenSoTheResendIsStoredOnce) {
  const auto opened = this->open();
  auto& store = *opened;
  this->backend_.refuse_writes("vitals");
  std::vector<std::pair<std::uint64_t, bool>> results;  // written by the writer thread, read after flush()
  auto record = [&](std::uint64_t seq) { return [&results, seq](bool ok) { results.emplace_back(seq, ok); }; };
  store.append_batch("dev-1", "chair-1", 1, 1, heart_rates(0, 2), record(1), 0);
  store.flush();
  this->backend_.accept_writes("vitals");
  // Sent on the same connection before the device heard of the failure: not written.
  store.append_batch("dev-1", "chair-1", 1, 2, heart_rates(2'000, 2), record(2), 0);
  // Another device is not held back.
  store.append_batch("dev-2", "chair-2", 2, 1, heart_rates(0, 2), record(21), 0);
  store.flush();
  // The device reconnects (epoch 1) and resends both.
  store.append_batch("dev-1", "chair-1", 1, 1, heart_rates(0, 2), record(11), 1);
  store.append_batch("dev-1", "chair-1", 1, 2, heart_rates(2'000, 2), record(12), 1);
  store.flush();
  ASSERT_EQ(results.size(), 5u);
  EXPECT_EQ(results[0], std::make_pair(std::uint64_t{1}, false));
  EXPECT_EQ(results[1], std::make_pair(std::uint64_t{2}, false)) << "fenced behind the failed batch";
  EXPECT_EQ(results[2], std::make_pair(std::uint64_t{21}, true));
  EXPECT_EQ(results[3], std::make_pair(std::uint64_t{11}, true));
  EXPECT_EQ(results[4], std::make_pair(std::uint64_t{12}, true));
  EXPECT_EQ(store.open_reader()->session_vitals(1).size(), 4u) << "each of the device's samples once";
  EXPECT_EQ(store.open_reader()->device_seqs().at("dev-1"), 2u);
}

TYPED_TEST(TimelineTest, EventsKeepAnIndexOfSessionsWithTheirMilestones) {
  const auto opened = this->open();
  auto& store = *opened;
  store.append_state(session_story(1, t0), {});
  auto second = session_story(2, t0 + 1000, /*aborted=*/true);
  store.append_state({second.begin(), second.begin() + 2}, {});  // still open, dosed
  store.flush();
  const auto reader_of_store = store.open_reader();
  auto& reader = *reader_of_store;
  const auto all = reader.sessions();
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].id, 2u) << "newest first";
  EXPECT_EQ(all[0].outcome, "open");
  EXPECT_FALSE(all[0].closed_ms);
  const auto one = reader.session(1);
  ASSERT_TRUE(one);
  EXPECT_EQ(one->chair_id, "chair-1");
  EXPECT_EQ(one->patient_ref, "P-1");
  EXPECT_EQ(one->profile, "iv-ketamine");
  EXPECT_EQ(one->opened_by, "nurse-ana");
  EXPECT_EQ(one->opened_ms, t0);
  EXPECT_EQ(one->dose_ms, t0 + 600'000);
  EXPECT_EQ(one->window_end_ms, t0 + 600'000 + 7'200'000);
  EXPECT_EQ(one->ready_ms, t0 + 600'000 + 7'200'000 + 60'000);
  EXPECT_EQ(one->closed_ms, *one->ready_ms + 60'000);
  EXPECT_EQ(one->outcome, "closed");
  EXPECT_EQ(reader.sessions(0, /*open_only=*/true).size(), 1u);
  EXPECT_EQ(reader.sessions(1).size(), 1u);
  EXPECT_FALSE(reader.session(3));
  const auto events = reader.session_events(1);
  ASSERT_EQ(events.size(), 5u);
  EXPECT_EQ(events[0].patient_ref, "P-1") << "session_opened is read back with its patient and profile";
}

TYPED_TEST(TimelineTest, EventsKeepTheirIdsAndAreReadBackAfterAnId) {
  const auto opened = this->open();
  auto& store = *opened;
  auto story = session_story(1, t0);
  for (std::size_t i = 0; i < story.size(); ++i) story[i].id = 100 + i * 2;  // ids need not be dense
  store.append_state(story, {});
  store.flush();
  const auto reader_of_store = store.open_reader();
  auto& reader = *reader_of_store;
  const auto all = reader.events_after(0, 100);
  ASSERT_EQ(all.size(), story.size());
  for (std::size_t i = 0; i < all.size(); ++i) EXPECT_EQ(all[i].id, story[i].id);
  EXPECT_EQ(all.front().patient_ref, "P-1");
  const auto later = reader.events_after(104, 2);
  ASSERT_EQ(later.size(), 2u);
  EXPECT_EQ(later[0].id, 106u);
  EXPECT_EQ(later[1].id, 108u);
  EXPECT_EQ(reader.ids().next_event, 109u);
}

TYPED_TEST(TimelineTest, TheLatestCheckpointOfEachChairIsKept) {
  const auto opened = this->open();
  auto& store = *opened;
  store.append_state({}, {{"chair-1", 10, "first"}, {"chair-2", 11, "other"}});
  store.append_state({}, {{"chair-1", 12, "second"}});
  store.flush();
  store.append_state({}, {{"chair-2", 13, std::string("bin\0ary", 6)}});
  store.flush();
  const auto saved = store.open_reader()->checkpoints();
  ASSERT_EQ(saved.size(), 2u);
  EXPECT_EQ(saved[0].chair_id, "chair-1");
  EXPECT_EQ(saved[0].state, "second");
  EXPECT_EQ(saved[0].saved_ms, 12);
  EXPECT_EQ(saved[1].state, std::string("bin\0ary", 6));
}

TYPED_TEST(TimelineTest, IdFloorIsAboveEverySessionAndAlarmStored) {
  const auto opened = this->open();
  auto& store = *opened;
  EXPECT_EQ(store.open_reader()->ids().next_session, 1u);
  auto raised = make_event(engine::event_type::alarm_raised, 4, t0);
  raised.alarm = 41;
  store.append_state(session_story(3, t0), {});
  store.append_state({raised}, {});
  store.flush();
  const auto ids = store.open_reader()->ids();
  EXPECT_EQ(ids.next_session, 5u);
  EXPECT_EQ(ids.next_alarm, 42u);
}

TYPED_TEST(TimelineTest, AResetTakesTheDeviceBackToZeroAfterItsEarlierBatches) {
  const auto opened = this->open();
  auto& store = *opened;
  std::vector<bool> outcomes;
  store.append_batch("dev-1", "chair-1", 1, 500, heart_rates(0, 1), nullptr);
  // Queued behind the reset: the device's new count, from 1.
  store.reset_device({"dev-1", 1'234, "admin-ada", "monitor replaced", 500}, [&](bool ok) { outcomes.push_back(ok); });
  store.append_batch("dev-1", "chair-1", 1, 2, heart_rates(10'000, 1), nullptr);
  store.flush();
  EXPECT_EQ(outcomes, std::vector<bool>{true});
  EXPECT_EQ(store.open_reader()->device_seqs().at("dev-1"), 2u) << "counted from the reset";

  store.reset_device({"dev-1", 2'000, "admin-ada", "again", 2}, nullptr);
  store.flush();
  EXPECT_EQ(store.open_reader()->device_seqs().at("dev-1"), 0u);
}

TYPED_TEST(TimelineTest, AResetThatCannotBeSavedSaysSoAndIsSavedWhenTheDiskIsBack) {
  const auto opened = this->open();
  auto& store = *opened;
  store.append_batch("dev-1", "chair-1", 1, 50, heart_rates(0, 1), nullptr);
  store.flush();
  this->backend_.refuse_writes("device_resets");
  std::vector<bool> outcomes;
  store.reset_device({"dev-1", 1, "admin-ada", "replaced", 50}, [&](bool ok) { outcomes.push_back(ok); });
  store.flush();
  EXPECT_EQ(outcomes, std::vector<bool>{false});
  EXPECT_EQ(store.open_reader()->device_seqs().at("dev-1"), 50u);
  this->backend_.accept_writes("device_resets");
  store.append_event(make_event(engine::event_type::note_added, 1, 5));
  store.flush();
  EXPECT_EQ(outcomes, std::vector<bool>{false}) << "told once";
  EXPECT_EQ(store.open_reader()->device_seqs().at("dev-1"), 0u) << "kept and saved once the disk is back";
}

TYPED_TEST(TimelineTest, ReservedIdsAreNeverGivenAgainAndOnlyAnExactReservationLowersThem) {
  const auto opened = this->open();
  auto& store = *opened;
  std::vector<bool> outcomes;
  store.reserve_ids({10, 1'000, 100'000}, [&](bool ok) { outcomes.push_back(ok); });
  store.reserve_ids({5, 5, 5}, nullptr);  // a late, smaller one changes nothing
  store.flush();
  EXPECT_EQ(outcomes, std::vector<bool>{true});
  auto ids = store.open_reader()->ids();
  EXPECT_EQ(ids.next_session, 11u);
  EXPECT_EQ(ids.next_alarm, 1'001u);
  EXPECT_EQ(ids.next_event, 100'001u);
  EXPECT_EQ(store.open_reader()->reserved(), (id_range{10, 1'000, 100'000}));

  // A clean stop gives back what it did not hand out; what is stored still wins.
  auto raised = make_event(engine::event_type::alarm_raised, 4, t0);
  raised.alarm = 7;
  store.append_state({raised}, {});
  store.reserve_ids({3, 7, 2}, nullptr, true);
  store.flush();
  ids = store.open_reader()->ids();
  EXPECT_EQ(ids.next_session, 5u) << "session 4 is in the timeline";
  EXPECT_EQ(ids.next_alarm, 8u);
  EXPECT_EQ(ids.next_event, 3u) << "the event took the next row id, 1";
}

TYPED_TEST(TimelineTest, ADeviceServesOneChairAndEachChairOneDevice) {
  const auto opened = this->open();
  auto& store = *opened;
  store.bind_chair("chair-5", "sim-1", 10);
  store.bind_chair("chair-6", "sim-2", 11);
  store.bind_chair("chair-7", "sim-1", 12);  // sim-1 moved
  store.bind_chair("chair-6", "sim-3", 13);  // chair-6 passed on
  store.flush();
  EXPECT_EQ(store.open_reader()->chair_bindings(),
            (std::map<std::string, std::string>{{"chair-6", "sim-3"}, {"chair-7", "sim-1"}}));
}

TYPED_TEST(TimelineTest, RetentionRemovesSessionsClosedBeforeTheCutoffAndNothingElse) {
  const auto opened = this->open();
  auto& store = *opened;
  const engine::millis day = 24 * 3'600'000;
  store.append_state(session_story(1, t0), {});                 // closed early
  store.append_state(session_story(2, t0 + 10 * day), {});      // closed late
  auto open = session_story(3, t0);
  store.append_state({open.begin(), open.begin() + 2}, {});    // never closed
  for (std::uint64_t s = 0; s <= 3; ++s) store.append_batch("dev-1", "chair-1", s, s + 1, heart_rates(t0 + static_cast<std::int64_t>(s), 5), nullptr);
  store.flush();  // a chunk spans one transaction: the recent samples get their own
  store.append_batch("dev-1", "chair-1", 0, 9, heart_rates(t0 + 20 * day, 5), nullptr);
  std::size_t removed = 99;
  store.remove_closed_before(t0 + 5 * day, [&](std::size_t n) { removed = n; });
  store.flush();
  EXPECT_EQ(removed, 1u);
  const auto reader_of_store = store.open_reader();
  auto& reader = *reader_of_store;
  EXPECT_FALSE(reader.session(1));
  EXPECT_TRUE(reader.session_vitals(1).empty());
  EXPECT_TRUE(reader.session_events(1).empty());
  EXPECT_TRUE(reader.session(2));
  EXPECT_EQ(reader.session_vitals(2).size(), 5u);
  EXPECT_TRUE(reader.session(3)) << "open sessions stay, however old";
  EXPECT_EQ(reader.session_vitals(3).size(), 5u);
  EXPECT_EQ(reader.session_vitals(0).size(), 5u) << "only the recent vitals outside sessions stay";
  EXPECT_EQ(reader.device_seqs().at("dev-1"), 9u) << "resume points are never removed";
}

TYPED_TEST(TimelineTest, EventsOfAFailedTransactionAreWrittenOnceTheDiskIsBack) {
  const auto opened = this->open();
  auto& store = *opened;
  std::vector<std::pair<bool, std::string>> health;  // written by the writer thread, read after flush()
  store.on_health([&](bool saving, const std::string& reason) { health.emplace_back(saving, reason); });
  this->backend_.refuse_writes("events");
  store.append_state(session_story(1, t0), {{"chair-1", 1, "state"}});
  store.flush();
  EXPECT_GE(store.stats().failures, 1u);
  this->backend_.accept_writes("events");
  store.append_state({make_event(engine::event_type::note_added, 1, t0 + 1)}, {});
  store.flush();
  store.flush();  // the retried group and the new one
  const auto events = store.open_reader()->session_events(1);
  ASSERT_EQ(events.size(), 6u);
  EXPECT_EQ(events.front().type, engine::event_type::session_opened);
  EXPECT_EQ(events.back().type, engine::event_type::note_added);
  EXPECT_EQ(store.open_reader()->checkpoints().size(), 1u);
  EXPECT_EQ(store.stats().events_dropped, 0u);
  ASSERT_EQ(health.size(), 2u) << "told once when saving stopped and once when it resumed";
  EXPECT_FALSE(health[0].first);
  EXPECT_NE(health[0].second.find("events"), std::string::npos) << health[0].second;
  EXPECT_TRUE(health[1].first);
}

// What an operator's command waits for before it is answered (control.md 7.2): told once, after
// the transaction that holds its events, whether it committed; retried events do not tell again.
TYPED_TEST(TimelineTest, StateTellsOnceWhetherItsFirstTransactionCommitted) {
  const auto opened = this->open();
  auto& store = *opened;
  std::vector<bool> told;  // written by the writer thread, read after flush()
  bool nothing = false;
  store.append_state({}, {}, [&](bool ok) { nothing = ok; });
  EXPECT_TRUE(nothing) << "nothing to save: told at once";
  store.append_state(session_story(1, t0), {{"chair-1", 1, "state"}}, [&](bool ok) { told.push_back(ok); });
  store.flush();
  EXPECT_EQ(told, std::vector<bool>{true});
  EXPECT_EQ(store.open_reader()->session_events(1).size(), 5u) << "on disk when it was told";

  this->backend_.refuse_writes("events");
  store.append_state({make_event(engine::event_type::note_added, 1, t0 + 1)}, {}, [&](bool ok) { told.push_back(ok); });
  store.flush();
  EXPECT_EQ(told, (std::vector<bool>{true, false}));
  this->backend_.accept_writes("events");
  store.append_state({make_event(engine::event_type::note_added, 1, t0 + 2)}, {});
  store.flush();
  store.flush();
  EXPECT_EQ(told, (std::vector<bool>{true, false})) << "the retry that saves it does not tell again";
  EXPECT_EQ(store.open_reader()->session_events(1).size(), 7u) << "the note that failed is written with the next transaction";
}

TYPED_TEST(TimelineTest, EventsAreCountedBetweenTwoIdsNoFurtherThanTheCap) {
  const auto opened = this->open();
  auto& store = *opened;
  auto story = session_story(1, t0);
  auto more = session_story(2, t0 + 1'000);
  story.insert(story.end(), more.begin(), more.end());
  for (std::size_t i = 0; i < story.size(); ++i) story[i].id = 10 + i * 3;  // 10, 13, ..., 37
  store.append_state(story, {});
  store.flush();
  const auto reader = store.open_reader();
  EXPECT_EQ(reader->count_events(0, 1'000, 100), 10u);
  EXPECT_EQ(reader->count_events(10, 37, 100), 8u) << "neither end counted";
  EXPECT_EQ(reader->count_events(0, 1'000, 4), 4u) << "no further than the cap";
  EXPECT_EQ(reader->count_events(37, 1'000, 100), 0u);
  EXPECT_EQ(reader->last_event_id(), 37u);
}

TYPED_TEST(TimelineTest, ReadsOnThePoolRunOffTheCallersThreadAndSeeWhatIsCommitted) {
  const auto opened = this->open();
  auto& store = *opened;
  store.append_state(session_story(1, t0), {});
  store.flush();
  read_pool pool([&store] { return store.open_reader(); }, 2);
  std::mutex mutex;
  std::condition_variable done;
  std::vector<std::thread::id> threads;
  std::vector<std::size_t> counts;
  for (int i = 0; i < 8; ++i) {
    read(
        pool, [](reader& r) { return r.session_events(1).size(); },
        [&](read_result<std::size_t> got) {
          std::lock_guard lock(mutex);
          threads.push_back(std::this_thread::get_id());
          counts.push_back(got.value.value_or(0));
          done.notify_all();
        });
  }
  std::unique_lock lock(mutex);
  done.wait(lock, [&] { return counts.size() == 8; });
  EXPECT_EQ(counts, std::vector<std::size_t>(8, 5u));
  for (const auto id : threads) EXPECT_NE(id, std::this_thread::get_id());
}

TEST(ReadPool, ItsThreadsRunBelowTheCallersPriorityAndAreNamed) {
  // Reads yield the CPU to the I/O thread, which evaluates every chair's alarms.
  const int callers = getpriority(PRIO_PROCESS, static_cast<id_t>(gettid()));
  read_pool pool([]() -> std::unique_ptr<reader> { throw std::runtime_error("no reader needed"); }, 1);
  std::promise<std::pair<int, std::string>> seen;
  pool.post([&](reader*, const std::string&) {
    char name[16] = {};
    pthread_getname_np(pthread_self(), name, sizeof name);
    seen.set_value({getpriority(PRIO_PROCESS, static_cast<id_t>(gettid())), name});
  });
  const auto [niceness, name] = seen.get_future().get();
  EXPECT_EQ(niceness, std::min(callers + read_pool::niceness, 19));
  EXPECT_EQ(name, "vigil-read");
}

TEST(ReadPool, AReaderThatCannotBeOpenedGivesEachJobTheReasonAndIsTriedAgain) {
  std::atomic<int> attempts{0};
  read_pool pool([&]() -> std::unique_ptr<reader> {
    ++attempts;
    throw std::runtime_error("timeline database 'x' cannot be opened: no such file");
  }, 1);
  std::mutex mutex;
  std::condition_variable done;
  std::vector<std::string> errors;
  for (int i = 0; i < 3; ++i) {
    read(
        pool, [](reader& r) { return r.last_event_id(); },
        [&](read_result<std::uint64_t> got) {
          std::lock_guard lock(mutex);
          EXPECT_FALSE(got.value);
          errors.push_back(got.error);
          done.notify_all();
        });
  }
  std::unique_lock lock(mutex);
  done.wait(lock, [&] { return errors.size() == 3; });
  for (const auto& e : errors) EXPECT_NE(e.find("no such file"), std::string::npos) << e;
  EXPECT_EQ(attempts.load(), 3) << "opened again for each job, in case the file has come back";
}

TYPED_TEST(TimelineTest, AReadThatThrowsGivesItsReasonAndThePoolCarriesOn) {
  const auto opened = this->open();
  auto& store = *opened;
  std::vector<std::string> outcomes;  // written by the pool's one thread, read after it joined
  {
    read_pool pool([&store] { return store.open_reader(); }, 1);
    read(
        pool, [](reader&) -> int { throw std::runtime_error("disk I/O error"); },
        [&](read_result<int> got) { outcomes.push_back(got.value ? "value" : got.error); });
    read(
        pool, [](reader& r) { return static_cast<int>(r.sessions().size()); },
        [&](read_result<int> got) { outcomes.push_back(got.value ? "value" : got.error); });
  }  // the pool runs what was posted before it stops
  EXPECT_EQ(outcomes, (std::vector<std::string>{"disk I/O error", "value"}));
}

}  // namespace
}  // namespace vigil::store
