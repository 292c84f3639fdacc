#include "daemon/store/timeline_store.hpp"

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <filesystem>
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
  EXPECT_EQ(store.schema_version(), 1);
}

TEST_F(StoreTest, OpeningAFileThatCannotBeCreatedSaysWhereAndWhy) {
  try {
    timeline_store store({(dir_ / "missing-dir" / "timeline.db").string()});
    FAIL() << "expected an error";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("missing-dir"), std::string::npos) << e.what();
  }
}

TEST_F(StoreTest, ANewerSchemaThanThisBuildKnowsIsRefused) {
  { timeline_store store({path()}); }
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path().c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "PRAGMA user_version=99", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);
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
  EXPECT_EQ(again.schema_version(), 1);
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
  EXPECT_LT(store.stats().transactions, 100u) << "1,000 queued batches must not cost 1,000 syncs";
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
  {
    // Take the table away behind the store's back: its next insert fails.
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path().c_str(), &db), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(db, "ALTER TABLE vitals RENAME TO vitals_away", nullptr, nullptr, nullptr), SQLITE_OK);
    sqlite3_close(db);
  }
  std::atomic<int> failed{0};
  store.append_batch("dev-1", "chair-1", 1, 1, heart_rates(0, 3), [&](bool ok) { failed += ok ? 0 : 1; });
  store.flush();
  EXPECT_EQ(failed.load(), 1) << "the batch must not be reported stored";
  EXPECT_EQ(store.stats().failures, 1u);
  EXPECT_EQ(store.device_seqs().count("dev-1"), 0u) << "the device's seq rolled back with the samples";
  {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path().c_str(), &db), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(db, "ALTER TABLE vitals_away RENAME TO vitals", nullptr, nullptr, nullptr), SQLITE_OK);
    sqlite3_close(db);
  }
  std::atomic<int> ok_count{0};
  store.append_batch("dev-1", "chair-1", 1, 1, heart_rates(0, 3), [&](bool ok) { ok_count += ok ? 1 : 0; });
  store.flush();
  EXPECT_EQ(ok_count.load(), 1);
  EXPECT_EQ(store.session_vitals(1).size(), 3u);
}

}  // namespace
}  // namespace vigil::store
