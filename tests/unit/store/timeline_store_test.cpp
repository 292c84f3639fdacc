#include "daemon/store/timeline_store.hpp"

#include "daemon/store/salvage.hpp"

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <limits>

namespace vigil::store {
namespace {

namespace fs = std::filesystem;
using model::vital_kind;

/// A fresh database path per test, removed afterwards.
class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("vigil-store-" + std::to_string(getpid()) + "-" + ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string path() const { return (dir_ / "timeline.db").string(); }
  /// Runs SQL on the database behind the store's back (to break it, or to mend it).
  void behind_the_store(const char* sql) const {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path().c_str(), &db), SQLITE_OK);
    sqlite3_busy_timeout(db, 5000);
    ASSERT_EQ(sqlite3_exec(db, sql, nullptr, nullptr, nullptr), SQLITE_OK) << sqlite3_errmsg(db);
    sqlite3_close(db);
  }

  fs::path dir_;
};

std::vector<model::vital_sample> heart_rates(std::int64_t from_ms, int n) {
  std::vector<model::vital_sample> out;
  for (int i = 0; i < n; ++i) out.push_back({from_ms + i * 1000, 60.0 + i % 40 + 0.1, vital_kind::heart_rate, 0});
  return out;
}

TEST(Chunk, RoundTripsTimesValuesAndQualityExactly) {
  std::vector<model::vital_sample> in = {
      {1'700'000'000'000, 97.3, vital_kind::spo2, 0},
      {1'700'000'000'999, 0.1, vital_kind::spo2, model::quality::artifact | model::quality::implausible},
      {1'699'999'990'000, 100, vital_kind::spo2, model::quality::sensor_off},  // backwards in time
      {1'699'999'990'000, -0.0, vital_kind::spo2, 0},
      {std::numeric_limits<std::int64_t>::max() / 4, 1e300, vital_kind::spo2, 0xffffffffu},
  };
  const std::string packed = pack_chunk(in);
  std::vector<model::vital_sample> out;
  ASSERT_TRUE(unpack_chunk(packed, vital_kind::spo2, in.front().time_ms, out));
  ASSERT_EQ(out.size(), in.size());
  for (std::size_t i = 0; i < in.size(); ++i) {
    EXPECT_EQ(out[i].time_ms, in[i].time_ms) << i;
    EXPECT_EQ(std::memcmp(&out[i].value, &in[i].value, sizeof(double)), 0) << i;
    EXPECT_EQ(out[i].quality, in[i].quality) << i;
    EXPECT_EQ(out[i].kind, vital_kind::spo2);
  }
  // About 11 bytes a sample for 1 Hz data: compact enough for the chunk to be the unit of storage.
  const auto second = pack_chunk(heart_rates(0, 600));
  EXPECT_LE(second.size(), 600u * 11u);
}

TEST(Chunk, CorruptDataIsRefusedNotMisread) {
  std::string packed = pack_chunk(heart_rates(0, 3));
  std::vector<model::vital_sample> out;
  EXPECT_FALSE(unpack_chunk(std::string_view(packed).substr(0, packed.size() - 5), vital_kind::heart_rate, 0, out));
  EXPECT_FALSE(unpack_chunk(std::string(12, '\xff'), vital_kind::heart_rate, 0, out));
}

TEST_F(StoreTest, NewDatabaseGetsTheLatestSchema) {
  timeline_store store({path()});
  EXPECT_EQ(store.schema_version(), current_schema_version);
}

TEST_F(StoreTest, OpeningAFileThatCannotBeCreatedSaysWhereAndWhy) {
  try {
    timeline_store store({(dir_ / "missing-dir" / "timeline.db").string()});
    FAIL() << "expected an error";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("missing-dir"), std::string::npos) << e.what();
  }
}

// Written against the store whose start-up errors past the open did not name the file:
// "enable WAL: unable to open database file" alone.
TEST_F(StoreTest, EveryStartUpErrorNamesTheFile) {
  { timeline_store created({path()}); }
  // Where the write-ahead log must go there is a directory: the file opens, WAL cannot start.
  fs::create_directories(path() + "-wal");
  try {
    timeline_store refused({path()});
    FAIL() << "the store opened without its write-ahead log";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("'" + path() + "'"), std::string::npos) << e.what();
    EXPECT_EQ(std::string(e.what()).find("damaged"), std::string::npos) << "a file that cannot be read is not damaged: " << e.what();
  }
}

TEST_F(StoreTest, ANewerSchemaThanThisBuildKnowsIsRefused) {
  { timeline_store store({path()}); }
  behind_the_store("PRAGMA user_version=99");
  EXPECT_THROW(timeline_store({path()}), std::runtime_error);
}

TEST_F(StoreTest, MigratesAnEmptyFileAndKeepsDataAcrossReopen) {
  {  // an empty database file, as an interrupted first start could leave
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path().c_str(), &db), SQLITE_OK);
    sqlite3_close(db);
  }
  {
    timeline_store store({path()});
    const auto samples = heart_rates(1'000, 10);
    store.append_batch("dev-1", "chair-1", 7, 1, samples, nullptr);
    store.flush();
  }
  timeline_store again({path()});
  EXPECT_EQ(again.schema_version(), current_schema_version);
  EXPECT_EQ(again.session_vitals(7).size(), 10u);
  EXPECT_EQ(again.device_seqs().at("dev-1"), 1u);
}

TEST_F(StoreTest, BatchesAreCommittedThenReportedAndReadBackExactly) {
  timeline_store store({path()});
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

  const auto back = store.session_vitals(3);
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
  const auto seqs = store.device_seqs();
  EXPECT_EQ(seqs.at("dev-1"), 50u);
  EXPECT_EQ(seqs.at("dev-2"), 9u);
  const auto stats = store.stats();
  EXPECT_EQ(stats.batches, 51u);
  EXPECT_EQ(stats.samples, all.size() + 5);
  EXPECT_LE(stats.transactions, stats.batches) << "batches queued together share a transaction";
}

TEST_F(StoreTest, GroupCommitPutsManyQueuedBatchesInOneTransaction) {
  timeline_store store({path()});
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

TEST_F(StoreTest, DeviceSeqNeverGoesBack) {
  timeline_store store({path()});
  store.append_batch("dev-1", "chair-1", 1, 10, heart_rates(0, 1), nullptr);
  store.flush();
  store.append_batch("dev-1", "chair-1", 1, 4, heart_rates(0, 1), nullptr);
  store.flush();
  EXPECT_EQ(store.device_seqs().at("dev-1"), 10u);
}

TEST_F(StoreTest, EventsRoundTripWithEveryField) {
  timeline_store store({path()});
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
  const auto back = store.session_events(12);
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

TEST_F(StoreTest, AWriteErrorIsReportedToEveryBatchOfTheGroupAndTheStoreRecovers) {
  timeline_store store({path()});
  behind_the_store("ALTER TABLE vitals RENAME TO vitals_away");  // its next insert fails
  std::atomic<int> failed{0};
  store.append_batch("dev-1", "chair-1", 1, 1, heart_rates(0, 3), [&](bool ok) { failed += ok ? 0 : 1; });
  store.flush();
  EXPECT_EQ(failed.load(), 1) << "the batch must not be reported stored";
  EXPECT_EQ(store.stats().failures, 1u);
  EXPECT_EQ(store.device_seqs().count("dev-1"), 0u) << "the device's seq rolled back with the samples";
  behind_the_store("ALTER TABLE vitals_away RENAME TO vitals");
  std::atomic<int> ok_count{0};
  // The device's next connection (epoch 1) resends the batch.
  store.append_batch("dev-1", "chair-1", 1, 1, heart_rates(0, 3), [&](bool ok) { ok_count += ok ? 1 : 0; }, 1);
  store.flush();
  EXPECT_EQ(ok_count.load(), 1);
  EXPECT_EQ(store.session_vitals(1).size(), 3u);
}

TEST_F(StoreTest, BatchesQueuedBehindAFailedOneAreNotWrittenSoTheResendIsStoredOnce) {
  timeline_store store({path()});
  behind_the_store("ALTER TABLE vitals RENAME TO vitals_away");
  std::vector<std::pair<std::uint64_t, bool>> results;  // written by the writer thread, read after flush()
  auto record = [&](std::uint64_t seq) { return [&results, seq](bool ok) { results.emplace_back(seq, ok); }; };
  store.append_batch("dev-1", "chair-1", 1, 1, heart_rates(0, 2), record(1), 0);
  store.flush();
  behind_the_store("ALTER TABLE vitals_away RENAME TO vitals");
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
  EXPECT_EQ(store.session_vitals(1).size(), 4u) << "each of the device's samples once";
  EXPECT_EQ(store.device_seqs().at("dev-1"), 2u);
}

// --- sessions, checkpoints, retention, migration ------------------------------------------------

constexpr engine::millis t0 = 1'700'000'000'000;

engine::event make_event(engine::event_type type, std::uint64_t session, engine::millis at) {
  engine::event e;
  e.type = type;
  e.session = session;
  e.chair = "chair-" + std::to_string(session);
  e.at = at;
  return e;
}

/// A whole session's events: opened, dosed (window 2 h), ready, closed (or aborted).
std::vector<engine::event> session_story(std::uint64_t session, engine::millis opened, bool aborted = false) {
  using engine::event_type;
  std::vector<engine::event> out;
  auto open = make_event(event_type::session_opened, session, opened);
  open.who = "nurse-ana";
  open.patient_ref = "P-" + std::to_string(session);
  open.profile = "iv-ketamine";
  open.text = "patient " + open.patient_ref + " with profile iv-ketamine";
  out.push_back(open);
  auto dose = make_event(event_type::dose_marked, session, opened + 600'000);
  dose.until = dose.at + 7'200'000;
  out.push_back(dose);
  auto ready = make_event(event_type::phase_changed, session, dose.until + 60'000);
  ready.from = engine::phase::observation;
  ready.to = engine::phase::ready;
  out.push_back(ready);
  auto close = make_event(event_type::phase_changed, session, ready.at + 60'000);
  close.from = engine::phase::ready;
  close.to = aborted ? engine::phase::aborted : engine::phase::closed;
  out.push_back(close);
  out.push_back(make_event(event_type::session_closed, session, close.at));
  return out;
}

TEST_F(StoreTest, EventsKeepAnIndexOfSessionsWithTheirMilestones) {
  timeline_store store({path()});
  store.append_state(session_story(1, t0), {});
  auto second = session_story(2, t0 + 1000, /*aborted=*/true);
  store.append_state({second.begin(), second.begin() + 2}, {});  // still open, dosed
  store.flush();
  auto reader = store.reader();
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

TEST_F(StoreTest, EventsKeepTheirIdsAndAreReadBackAfterAnId) {
  timeline_store store({path()});
  auto story = session_story(1, t0);
  for (std::size_t i = 0; i < story.size(); ++i) story[i].id = 100 + i * 2;  // ids need not be dense
  store.append_state(story, {});
  store.flush();
  auto reader = store.reader();
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

TEST_F(StoreTest, TheLatestCheckpointOfEachChairIsKept) {
  timeline_store store({path()});
  store.append_state({}, {{"chair-1", 10, "first"}, {"chair-2", 11, "other"}});
  store.append_state({}, {{"chair-1", 12, "second"}});
  store.flush();
  store.append_state({}, {{"chair-2", 13, std::string("bin\0ary", 6)}});
  store.flush();
  const auto saved = store.reader().checkpoints();
  ASSERT_EQ(saved.size(), 2u);
  EXPECT_EQ(saved[0].chair_id, "chair-1");
  EXPECT_EQ(saved[0].state, "second");
  EXPECT_EQ(saved[0].saved_ms, 12);
  EXPECT_EQ(saved[1].state, std::string("bin\0ary", 6));
}

TEST_F(StoreTest, IdFloorIsAboveEverySessionAndAlarmStored) {
  timeline_store store({path()});
  EXPECT_EQ(store.reader().ids().next_session, 1u);
  auto raised = make_event(engine::event_type::alarm_raised, 4, t0);
  raised.alarm = 41;
  store.append_state(session_story(3, t0), {});
  store.append_state({raised}, {});
  store.flush();
  const auto ids = store.reader().ids();
  EXPECT_EQ(ids.next_session, 5u);
  EXPECT_EQ(ids.next_alarm, 42u);
}

TEST_F(StoreTest, AResetTakesTheDeviceBackToZeroAfterItsEarlierBatchesAndIsRecorded) {
  timeline_store store({path()});
  std::vector<bool> outcomes;
  store.append_batch("dev-1", "chair-1", 1, 500, heart_rates(0, 1), nullptr);
  // Queued behind the reset: the device's new count, from 1.
  store.reset_device({"dev-1", 1'234, "admin-ada", "monitor replaced", 500}, [&](bool ok) { outcomes.push_back(ok); });
  store.append_batch("dev-1", "chair-1", 1, 2, heart_rates(10'000, 1), nullptr);
  store.flush();
  EXPECT_EQ(outcomes, std::vector<bool>{true});
  EXPECT_EQ(store.device_seqs().at("dev-1"), 2u) << "counted from the reset";

  store.reset_device({"dev-1", 2'000, "admin-ada", "again", 2}, nullptr);
  store.flush();
  EXPECT_EQ(store.device_seqs().at("dev-1"), 0u);
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path().c_str(), &db), SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db, "SELECT device_id, reset_ms, who, reason, previous_seq FROM device_resets ORDER BY id",
                               -1, &st, nullptr),
            SQLITE_OK);
  ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
  EXPECT_STREQ(reinterpret_cast<const char*>(sqlite3_column_text(st, 0)), "dev-1");
  EXPECT_EQ(sqlite3_column_int64(st, 1), 1'234);
  EXPECT_STREQ(reinterpret_cast<const char*>(sqlite3_column_text(st, 2)), "admin-ada");
  EXPECT_STREQ(reinterpret_cast<const char*>(sqlite3_column_text(st, 3)), "monitor replaced");
  EXPECT_EQ(sqlite3_column_int64(st, 4), 500);
  ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
  EXPECT_EQ(sqlite3_step(st), SQLITE_DONE);
  sqlite3_finalize(st);
  sqlite3_close(db);
}

TEST_F(StoreTest, AResetThatCannotBeSavedSaysSoAndIsSavedWhenTheDiskIsBack) {
  timeline_store store({path()});
  store.append_batch("dev-1", "chair-1", 1, 50, heart_rates(0, 1), nullptr);
  store.flush();
  behind_the_store("ALTER TABLE device_resets RENAME TO device_resets_away");
  std::vector<bool> outcomes;
  store.reset_device({"dev-1", 1, "admin-ada", "replaced", 50}, [&](bool ok) { outcomes.push_back(ok); });
  store.flush();
  EXPECT_EQ(outcomes, std::vector<bool>{false});
  EXPECT_EQ(store.device_seqs().at("dev-1"), 50u);
  behind_the_store("ALTER TABLE device_resets_away RENAME TO device_resets");
  store.append_event(make_event(engine::event_type::note_added, 1, 5));
  store.flush();
  EXPECT_EQ(outcomes, std::vector<bool>{false}) << "told once";
  EXPECT_EQ(store.device_seqs().at("dev-1"), 0u) << "kept and saved once the disk is back";
}

TEST_F(StoreTest, ReservedIdsAreNeverGivenAgainAndOnlyAnExactReservationLowersThem) {
  timeline_store store({path()});
  std::vector<bool> outcomes;
  store.reserve_ids({10, 1'000, 100'000}, [&](bool ok) { outcomes.push_back(ok); });
  store.reserve_ids({5, 5, 5}, nullptr);  // a late, smaller one changes nothing
  store.flush();
  EXPECT_EQ(outcomes, std::vector<bool>{true});
  auto ids = store.reader().ids();
  EXPECT_EQ(ids.next_session, 11u);
  EXPECT_EQ(ids.next_alarm, 1'001u);
  EXPECT_EQ(ids.next_event, 100'001u);
  EXPECT_EQ(store.reader().reserved(), (id_range{10, 1'000, 100'000}));

  // A clean stop gives back what it did not hand out; what is stored still wins.
  auto raised = make_event(engine::event_type::alarm_raised, 4, t0);
  raised.alarm = 7;
  store.append_state({raised}, {});
  store.reserve_ids({3, 7, 2}, nullptr, true);
  store.flush();
  ids = store.reader().ids();
  EXPECT_EQ(ids.next_session, 5u) << "session 4 is in the timeline";
  EXPECT_EQ(ids.next_alarm, 8u);
  EXPECT_EQ(ids.next_event, 3u) << "the event took the next row id, 1";
}

TEST_F(StoreTest, ADeviceServesOneChairAndEachChairOneDevice) {
  timeline_store store({path()});
  store.bind_chair("chair-5", "sim-1", 10);
  store.bind_chair("chair-6", "sim-2", 11);
  store.bind_chair("chair-7", "sim-1", 12);  // sim-1 moved
  store.bind_chair("chair-6", "sim-3", 13);  // chair-6 passed on
  store.flush();
  EXPECT_EQ(store.reader().chair_bindings(),
            (std::map<std::string, std::string>{{"chair-6", "sim-3"}, {"chair-7", "sim-1"}}));
}

TEST_F(StoreTest, ADamagedFileIsRefusedAndWhatCanBeReadIsSalvagedIntoANewOne) {
  {
    timeline_store store({path()});
    for (int i = 0; i < 400; ++i) {
      store.append_batch("dev-1", "chair-1", 1, static_cast<std::uint64_t>(i + 1), heart_rates(i * 60'000, 60), nullptr);
      store.append_state(session_story(static_cast<std::uint64_t>(i + 1), t0 + i * 10'000), {});
      store.flush();  // a transaction each: many pages
    }
  }
  ASSERT_GE(fs::file_size(path()), 40u * 4096u);
  {
    std::fstream file(path(), std::ios::in | std::ios::out | std::ios::binary);
    file.seekp(20 * 4096);
    const std::string garbage(3 * 4096, '\x5a');
    file.write(garbage.data(), static_cast<std::streamsize>(garbage.size()));
  }
  try {
    timeline_store refused({path()});
    FAIL() << "a damaged file must be refused";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("is damaged"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("vigilctl salvage"), std::string::npos) << e.what();
  }

  const std::string out = (dir_ / "salvaged.db").string();
  const auto report = salvage(path(), out);
  std::map<std::string, salvaged_table> by_name;
  for (const auto& t : report.tables) by_name[t.name] = t;
  ASSERT_TRUE(by_name.contains("vitals") && by_name.contains("events") && by_name.contains("devices"));
  std::uint64_t rows = 0;
  bool damaged_seen = false;
  for (const auto& t : report.tables) {
    rows += t.rows;
    damaged_seen = damaged_seen || !t.whole;
  }
  EXPECT_TRUE(damaged_seen) << "three pages of garbage cost something";
  EXPECT_GT(by_name["vitals"].rows + by_name["events"].rows, 400u) << "most of the record is read back";
  EXPECT_EQ(by_name["devices"].rows, 1u);
  timeline_store sound({out});  // passes the check of every page
  EXPECT_FALSE(sound.reader().sessions().empty());
  EXPECT_THROW(salvage(path(), out), std::runtime_error) << "never over an existing file";
}

TEST_F(StoreTest, RetentionRemovesSessionsClosedBeforeTheCutoffAndNothingElse) {
  timeline_store store({path()});
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
  auto reader = store.reader();
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

TEST_F(StoreTest, EventsOfAFailedTransactionAreWrittenOnceTheDiskIsBack) {
  timeline_store store({path()});
  std::vector<std::pair<bool, std::string>> health;  // written by the writer thread, read after flush()
  store.on_health([&](bool saving, const std::string& reason) { health.emplace_back(saving, reason); });
  behind_the_store("ALTER TABLE events RENAME TO events_away");
  store.append_state(session_story(1, t0), {{"chair-1", 1, "state"}});
  store.flush();
  EXPECT_GE(store.stats().failures, 1u);
  behind_the_store("ALTER TABLE events_away RENAME TO events");
  store.append_state({make_event(engine::event_type::note_added, 1, t0 + 1)}, {});
  store.flush();
  store.flush();  // the retried group and the new one
  const auto events = store.session_events(1);
  ASSERT_EQ(events.size(), 6u);
  EXPECT_EQ(events.front().type, engine::event_type::session_opened);
  EXPECT_EQ(events.back().type, engine::event_type::note_added);
  EXPECT_EQ(store.reader().checkpoints().size(), 1u);
  EXPECT_EQ(store.stats().events_dropped, 0u);
  ASSERT_EQ(health.size(), 2u) << "told once when saving stopped and once when it resumed";
  EXPECT_FALSE(health[0].first);
  EXPECT_NE(health[0].second.find("events"), std::string::npos) << health[0].second;
  EXPECT_TRUE(health[1].first);
}

// What an operator's command waits for before it is answered (control.md 7.2): told once, after
// the transaction that holds its events, whether it committed; retried events do not tell again.
TEST_F(StoreTest, StateTellsOnceWhetherItsFirstTransactionCommitted) {
  timeline_store store({path()});
  std::vector<bool> told;  // written by the writer thread, read after flush()
  bool nothing = false;
  store.append_state({}, {}, [&](bool ok) { nothing = ok; });
  EXPECT_TRUE(nothing) << "nothing to save: told at once";
  store.append_state(session_story(1, t0), {{"chair-1", 1, "state"}}, [&](bool ok) { told.push_back(ok); });
  store.flush();
  EXPECT_EQ(told, std::vector<bool>{true});
  EXPECT_EQ(store.session_events(1).size(), 5u) << "on disk when it was told";

  behind_the_store("ALTER TABLE events RENAME TO events_away");
  store.append_state({make_event(engine::event_type::note_added, 1, t0 + 1)}, {}, [&](bool ok) { told.push_back(ok); });
  store.flush();
  EXPECT_EQ(told, (std::vector<bool>{true, false}));
  behind_the_store("ALTER TABLE events_away RENAME TO events");
  store.append_state({make_event(engine::event_type::note_added, 1, t0 + 2)}, {});
  store.flush();
  store.flush();
  EXPECT_EQ(told, (std::vector<bool>{true, false})) << "the retry that saves it does not tell again";
  EXPECT_EQ(store.session_events(1).size(), 7u) << "the note that failed is written with the next transaction";
}

TEST_F(StoreTest, ReadersSayWhyAFileIsNotATimeline) {
  auto message = [](const std::string& p) {
    try {
      timeline_reader r(p);
    } catch (const std::runtime_error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(message(path()).find("cannot open"), std::string::npos) << "missing file";
  { sqlite3* db = nullptr; sqlite3_open(path().c_str(), &db); sqlite3_close(db); }
  EXPECT_NE(message(path()).find("not a Vigil timeline"), std::string::npos);
}

/// The first schema exactly as vigild 0.1 shipped it (migration 0 -> 1), with a session in it.
void write_schema_v1(const std::string& path) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  const char* sql = R"sql(
    CREATE TABLE devices(device_id TEXT PRIMARY KEY, chair_id TEXT NOT NULL, stored_seq INTEGER NOT NULL) WITHOUT ROWID;
    CREATE TABLE vitals(id INTEGER PRIMARY KEY, session_id INTEGER NOT NULL, chair_id TEXT NOT NULL,
      kind INTEGER NOT NULL, first_ms INTEGER NOT NULL, last_ms INTEGER NOT NULL, count INTEGER NOT NULL,
      data BLOB NOT NULL);
    CREATE INDEX vitals_by_session ON vitals(session_id, kind, first_ms);
    CREATE INDEX vitals_by_chair ON vitals(chair_id, first_ms);
    CREATE TABLE events(id INTEGER PRIMARY KEY, session_id INTEGER NOT NULL, chair_id TEXT NOT NULL,
      at_ms INTEGER NOT NULL, type INTEGER NOT NULL, alarm_id INTEGER NOT NULL, rule TEXT NOT NULL,
      kind INTEGER NOT NULL, priority INTEGER NOT NULL, from_phase INTEGER NOT NULL, to_phase INTEGER NOT NULL,
      who TEXT NOT NULL, responder TEXT NOT NULL, tier INTEGER NOT NULL, value REAL NOT NULL,
      until_ms INTEGER NOT NULL, text TEXT NOT NULL);
    CREATE INDEX events_by_session ON events(session_id, id);
    INSERT INTO devices VALUES('dev-1', 'chair-7', 42);
    INSERT INTO events(session_id, chair_id, at_ms, type, alarm_id, rule, kind, priority, from_phase, to_phase, who,
                       responder, tier, value, until_ms, text) VALUES
      (5, 'chair-7', 1000, 1, 0, '', 1, 1, 1, 1, 'nurse-ana', '', 0, 0, 0, 'patient P-77 with profile iv-ketamine'),
      (5, 'chair-7', 2000, 5, 0, '', 1, 1, 1, 1, 'dr-bo', '', 0, 0, 0, 'iv 0.5 mg/kg'),
      (5, 'chair-7', 2000, 2, 0, '', 1, 1, 1, 2, '', '', 0, 0, 0, 'dose marked'),
      (5, 'chair-7', 2500, 6, 9, 'hr_high', 1, 2, 1, 1, '', '', 0, 131, 0, 'heart_rate 131 bpm above 120'),
      (5, 'chair-7', 9000, 2, 0, '', 1, 1, 2, 3, '', '', 0, 0, 0, 'observation window elapsed'),
      (5, 'chair-7', 9500, 2, 0, '', 1, 1, 3, 4, '', '', 0, 0, 0, 'closed'),
      (5, 'chair-7', 9500, 13, 0, '', 1, 1, 1, 1, 'nurse-ana', '', 0, 0, 0, 'closed'),
      (6, 'chair-8', 3000, 1, 0, '', 1, 1, 1, 1, 'nurse-cy', '', 0, 0, 0, 'patient P-78 with profile generic');
    PRAGMA user_version = 1;
  )sql";
  ASSERT_EQ(sqlite3_exec(db, sql, nullptr, nullptr, nullptr), SQLITE_OK) << sqlite3_errmsg(db);
  const std::string chunk = pack_chunk(heart_rates(1000, 4));
  sqlite3_stmt* st = nullptr;
  sqlite3_prepare_v2(db, "INSERT INTO vitals(session_id, chair_id, kind, first_ms, last_ms, count, data) "
                         "VALUES(5, 'chair-7', 1, 1000, 4000, 4, ?)", -1, &st, nullptr);
  sqlite3_bind_blob(st, 1, chunk.data(), static_cast<int>(chunk.size()), SQLITE_STATIC);
  ASSERT_EQ(sqlite3_step(st), SQLITE_DONE);
  sqlite3_finalize(st);
  sqlite3_close(db);
}

TEST_F(StoreTest, MigratesTheFirstSchemaKeepingEverythingAndIndexingItsSessions) {
  write_schema_v1(path());
  EXPECT_THROW(timeline_reader{path()}, std::runtime_error) << "a reader asks for the migration first";
  timeline_store store({path()});
  auto reader = store.reader();
  EXPECT_EQ(reader.schema_version(), current_schema_version);
  EXPECT_EQ(reader.device_seqs().at("dev-1"), 42u);
  EXPECT_EQ(reader.session_vitals(5).size(), 4u);
  EXPECT_EQ(reader.session_events(5).size(), 7u);
  const auto s = reader.session(5);
  ASSERT_TRUE(s);
  EXPECT_EQ(s->chair_id, "chair-7");
  EXPECT_EQ(s->patient_ref, "P-77");
  EXPECT_EQ(s->profile, "iv-ketamine");
  EXPECT_EQ(s->opened_by, "nurse-ana");
  EXPECT_EQ(s->opened_ms, 1000);
  EXPECT_EQ(s->dose_ms, 2000);
  EXPECT_EQ(s->ready_ms, 9000);
  EXPECT_EQ(s->closed_ms, 9500);
  EXPECT_EQ(s->outcome, "closed");
  const auto open = reader.session(6);
  ASSERT_TRUE(open);
  EXPECT_EQ(open->outcome, "open");
  EXPECT_EQ(open->patient_ref, "P-78");
  const auto ids = reader.ids();
  EXPECT_EQ(ids.next_session, 7u);
  EXPECT_EQ(ids.next_alarm, 10u);
  // And the migrated file takes new data as any other.
  store.append_state(session_story(7, 20'000), {});
  store.flush();
  EXPECT_EQ(store.reader().sessions().size(), 3u);
}

}  // namespace
}  // namespace vigil::store
