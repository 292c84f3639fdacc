// Cluster mode's leases, fencing and id blocks on a real PostgreSQL (docs/deployment.md §3): no
// chair is held by two daemons, a daemon that lost a chair's lease never writes for it again, and
// no id is handed to two daemons. Time passing is simulated by moving a lease's expiry in the
// database, never by waiting.

#include "daemon/store/leases.hpp"
#include "daemon/store/postgres.hpp"
#include "daemon/store/postgres_cluster.hpp"
#include "daemon/store/postgres_timeline.hpp"
#include "tests/unit/store/backends.hpp"
#include "tests/unit/store/story.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <set>
#include <stdexcept>
#include <thread>
#include <vector>

namespace vigil::store {
namespace {

using namespace story;

/// One daemon of a cluster as the store sees it: its node, its leases and its timeline.
struct member {
  // The timeline first, as in vigild: it creates or migrates the schema.
  member(const std::string& url, const std::string& name)
      : leases(std::make_shared<lease_set>()),
        node(cluster_node_name(name)),
        timeline(postgres_options{url, 4096, leases, node}),
        cluster({url, node, "ingest=" + name + ":7000", std::chrono::milliseconds(3000)}) {}

  /// Takes the chair in the database and holds it for the timeline's writes.
  std::uint64_t take(const std::string& chair) {
    const auto epoch = cluster.take(chair);
    if (!epoch) throw std::runtime_error(chair + " is held elsewhere");
    leases->hold(chair, *epoch);
    return *epoch;
  }
  /// Queues one batch of four samples for the chair; says whether it was committed.
  bool write_batch(const std::string& device, const std::string& chair, std::uint64_t seq) {
    bool committed = false;
    timeline.append_batch(device, chair, 1, seq, heart_rates(static_cast<std::int64_t>(seq) * 10'000, 4),
                          [&](bool ok) { committed = ok; });
    timeline.flush();
    return committed;
  }

  std::shared_ptr<lease_set> leases;
  std::string node;
  postgres_timeline timeline;
  postgres_cluster cluster;
};

class PostgresClusterTest : public ::testing::Test {
 protected:
  /// As if the chair's lease had run out: its expiry moves into the past.
  void expire(const std::string& chair) {
    pg::connection(database_.url())
        .exec("UPDATE chair_leases SET expires_at = clock_timestamp() - interval '1 second' WHERE chair_id = $1",
              pg::params{}.text(chair), "expire a lease");
  }
  std::int64_t count(const std::string& sql) {
    return pg::connection(database_.url()).exec(sql.c_str(), "count").number(0, 0);
  }

  backends::postgres database_;
};

TEST_F(PostgresClusterTest, NodeNamesOfTwoRunsDiffer) {
  const auto a = cluster_node_name("vigil-a");
  EXPECT_EQ(a.rfind("vigil-a#", 0), 0u) << a;
  EXPECT_NE(a, cluster_node_name("vigil-a"));
  EXPECT_FALSE(cluster_node_name("").empty());
}

TEST_F(PostgresClusterTest, AChairIsHeldByOneNodeAtATime) {
  member a(database_.url(), "a");
  member b(database_.url(), "b");
  EXPECT_EQ(a.take("chair-1"), 1u);
  EXPECT_FALSE(b.cluster.take("chair-1").has_value()) << "a live lease is not taken";
  const auto holder = b.cluster.holder_of("chair-1");
  ASSERT_TRUE(holder.has_value());
  EXPECT_EQ(holder->node, a.cluster.options().node);
  EXPECT_EQ(holder->epoch, 1u);
  a.cluster.renew();
  EXPECT_EQ(b.cluster.holder_of("chair-1")->addresses, "ingest=a:7000") << "its addresses, for redirects";
  EXPECT_FALSE(b.cluster.holder_of("chair-9").has_value());
}

TEST_F(PostgresClusterTest, AChairWhoseLeaseRanOutIsTakenWithTheNextEpochAndItsOldHolderNeverWritesForItAgain) {
  member a(database_.url(), "a");
  member b(database_.url(), "b");
  a.take("chair-1");
  a.take("chair-2");
  ASSERT_TRUE(a.write_batch("dev-1", "chair-1", 1));
  // a is frozen past its lease: b takes chair-1 over.
  expire("chair-1");
  ASSERT_EQ(b.take("chair-1"), 2u);

  // a wakes up still believing it holds chair-1 (epoch 1): its writes for it are refused.
  EXPECT_FALSE(a.write_batch("dev-1", "chair-1", 2)) << "not acked: the device sends it again to chair-1's new holder";
  auto lost = make_event(engine::event_type::note_added, 1, t0);
  lost.chair = "chair-1";
  lost.id = 500;
  auto kept = make_event(engine::event_type::note_added, 2, t0);
  kept.chair = "chair-2";
  kept.id = 501;
  bool saved = true;
  a.timeline.append_state({lost, kept}, {{"chair-1", t0, "a's stale state"}, {"chair-2", t0, "a's state"}},
                          [&](bool ok) { saved = ok; });
  a.timeline.flush();
  EXPECT_FALSE(saved) << "part of it was refused, so it is not reported saved";
  EXPECT_EQ(count("SELECT count(*) FROM events WHERE id = 500"), 0) << "chair-1's event was refused";
  EXPECT_EQ(count("SELECT count(*) FROM events WHERE id = 501"), 1) << "chair-2's, still a's, was written";
  EXPECT_EQ(count("SELECT count(*) FROM checkpoints WHERE chair_id = 'chair-1'"), 0);
  EXPECT_EQ(count("SELECT count(*) FROM checkpoints WHERE chair_id = 'chair-2'"), 1);
  EXPECT_EQ(count("SELECT stored_seq FROM devices WHERE device_id = 'dev-1'"), 1);
  EXPECT_EQ(a.timeline.stats().refused, 2u);

  // b writes for chair-1 under its epoch; a's next round says chair-1 is no longer a's.
  EXPECT_TRUE(b.write_batch("dev-1", "chair-1", 2));
  const auto round = a.cluster.renew();
  EXPECT_EQ(round.held, (std::map<std::string, std::uint64_t>{{"chair-2", 1}}));
}

TEST_F(PostgresClusterTest, WhatANodeQueuedBeforeItTookAChairBackIsStillRefused) {
  member a(database_.url(), "a");
  member b(database_.url(), "b");
  a.take("chair-1");
  expire("chair-1");
  b.take("chair-1");
  expire("chair-1");
  // a takes chair-1 back with a new epoch: a batch tagged with its first epoch is still refused.
  bool committed = true;
  a.timeline.append_batch("dev-1", "chair-1", 1, 1, heart_rates(0, 4), [&](bool ok) { committed = ok; });
  EXPECT_EQ(a.take("chair-1"), 3u);
  a.timeline.flush();
  EXPECT_FALSE(committed) << "queued under epoch 1, the lease is at 3";
  EXPECT_TRUE(a.write_batch("dev-1", "chair-1", 1)) << "queued under epoch 3";
}

TEST_F(PostgresClusterTest, AWriteForAChairTheNodeNeverHeldIsRefused) {
  member a(database_.url(), "a");
  EXPECT_FALSE(a.write_batch("dev-1", "chair-1", 1));
  a.timeline.bind_chair("chair-1", "dev-1", t0);
  a.timeline.flush();
  EXPECT_EQ(count("SELECT count(*) FROM chair_bindings"), 0);
  EXPECT_EQ(count("SELECT count(*) FROM vitals"), 0);
}

TEST_F(PostgresClusterTest, ALeaseThatRanOutButNobodyTookIsRenewedWithItsEpoch) {
  member a(database_.url(), "a");
  a.take("chair-1");
  expire("chair-1");
  const auto round = a.cluster.renew();
  EXPECT_EQ(round.held, (std::map<std::string, std::uint64_t>{{"chair-1", 1}}));
  EXPECT_TRUE(round.free_chairs.empty());
  EXPECT_TRUE(a.write_batch("dev-1", "chair-1", 1)) << "nothing was written for it meanwhile: same epoch";
}

TEST_F(PostgresClusterTest, ARoundCountsTheLiveNodesTheirChairsAndTheFreeChairs) {
  member a(database_.url(), "a");
  member b(database_.url(), "b");
  a.take("chair-1");
  a.take("chair-2");
  b.take("chair-3");
  b.cluster.renew();
  expire("chair-2");
  const auto round = a.cluster.renew();
  EXPECT_EQ(round.live_nodes, 2u);
  EXPECT_EQ(round.chairs, 3u);
  EXPECT_EQ(round.load.at(a.cluster.options().node), 2u) << "chair-2 renewed in this round";
  EXPECT_EQ(round.load.at(b.cluster.options().node), 1u);
  EXPECT_TRUE(round.free_chairs.empty());
  expire("chair-3");
  const auto later = a.cluster.renew();
  EXPECT_EQ(later.free_chairs, std::vector<std::string>{"chair-3"});
  EXPECT_EQ(later.load.at(b.cluster.options().node), 0u);
}

TEST_F(PostgresClusterTest, AChairGivenUpOrLeftIsTakenAtOnce) {
  member a(database_.url(), "a");
  member b(database_.url(), "b");
  const auto epoch = a.take("chair-1");
  a.take("chair-2");
  EXPECT_FALSE(b.cluster.take("chair-1").has_value());
  a.cluster.release("chair-1", epoch);
  EXPECT_EQ(b.cluster.take("chair-1"), 2u);
  a.cluster.release("chair-1", epoch);  // too late: b holds it now, and keeps it
  EXPECT_EQ(b.cluster.holder_of("chair-1")->node, b.cluster.options().node);
  a.cluster.leave();
  EXPECT_EQ(b.cluster.take("chair-2"), 2u);
  EXPECT_EQ(b.cluster.nodes().count(a.cluster.options().node), 0u);
}

TEST_F(PostgresClusterTest, IdBlocksTakenAtOnceByManyNodesNeverOverlapAndStartAboveWhatIsStored) {
  {
    // A database a single daemon wrote before: ids up to 40 are stored, up to 1,000 reserved.
    postgres_timeline single({database_.url()});
    auto e = make_event(engine::event_type::alarm_raised, 12, t0);
    e.id = 40;
    e.alarm = 30;
    single.append_event(e);
    single.reserve_ids({20, 1'000, 900}, nullptr);
    single.flush();
  }
  constexpr int nodes = 4;
  constexpr int blocks_each = 25;
  const engine::id_range size{10, 100, 1'000};
  std::vector<std::vector<engine::id_range>> taken(nodes);
  std::vector<std::thread> threads;
  for (int n = 0; n < nodes; ++n) {
    threads.emplace_back([&, n] {
      postgres_cluster c({database_.url(), cluster_node_name("n"), "", std::chrono::milliseconds(3000)});
      for (int i = 0; i < blocks_each; ++i) taken[n].push_back(c.take_ids(size));
    });
  }
  for (auto& t : threads) t.join();
  std::vector<engine::id_range> all;
  for (const auto& list : taken) all.insert(all.end(), list.begin(), list.end());
  const auto disjoint = [&](auto first_of, std::uint64_t length, std::uint64_t floor) {
    std::vector<std::uint64_t> firsts;
    for (const auto& r : all) firsts.push_back(first_of(r));
    std::sort(firsts.begin(), firsts.end());
    EXPECT_GT(firsts.front(), floor);
    for (std::size_t i = 1; i < firsts.size(); ++i) EXPECT_GE(firsts[i], firsts[i - 1] + length) << i;
  };
  disjoint([](const engine::id_range& r) { return r.session; }, size.session, 20);
  disjoint([](const engine::id_range& r) { return r.alarm; }, size.alarm, 1'000);
  disjoint([](const engine::id_range& r) { return r.event; }, size.event, 900);
  // A reader's floor lies above every block, so a daemon started later gives none of them again.
  const auto floor = postgres_reader(database_.url()).ids();
  EXPECT_EQ(floor.next_event, 900 + nodes * blocks_each * size.event + 1);
}

TEST_F(PostgresClusterTest, ClusterNodesAndASingleDaemonKeepEachOtherOffTheDatabase) {
  {
    member a(database_.url(), "a");
    member b(database_.url(), "b");  // several cluster nodes share it
    std::string refused;
    try {
      postgres_timeline single({database_.url()});
    } catch (const std::exception& e) {
      refused = e.what();
    }
    EXPECT_NE(refused.find("another vigild is writing"), std::string::npos) << refused;
  }
  postgres_timeline single({database_.url()});
  std::string refused;
  try {
    member a(database_.url(), "a");
  } catch (const std::exception& e) {
    refused = e.what();
  }
  EXPECT_NE(refused.find("outside cluster mode"), std::string::npos) << refused;
}

TEST_F(PostgresClusterTest, AVersionOneDatabaseIsMigratedToTheClusterTables) {
  {
    postgres_timeline single({database_.url()});
    single.append_batch("dev-1", "chair-1", 1, 1, heart_rates(0, 4), nullptr);
    single.flush();
  }
  pg::connection db(database_.url());
  db.exec("DROP TABLE chair_leases", "make a version 1 database");
  db.exec("DROP TABLE cluster_nodes", "make a version 1 database");
  db.exec("UPDATE vigil_schema SET version = 1", "make a version 1 database");
  member a(database_.url(), "a");
  EXPECT_EQ(a.take("chair-1"), 1u);
  EXPECT_EQ(count("SELECT version FROM vigil_schema"), 2);
  EXPECT_EQ(count("SELECT stored_seq FROM devices WHERE device_id = 'dev-1'"), 1);
}

TEST_F(PostgresClusterTest, ANodeNeedsTheClusterTables) {
  pg::connection(database_.url()).exec("SELECT 1", "connect");
  std::string refused;
  try {
    postgres_cluster c({database_.url(), "a#1", "", std::chrono::milliseconds(3000)});
  } catch (const std::exception& e) {
    refused = e.what();
  }
  EXPECT_NE(refused.find("no cluster tables"), std::string::npos) << refused;
}

}  // namespace
}  // namespace vigil::store
