// Failed authentications per peer, with a fake clock: free failures, growing delays, the
// block and its end, the window, and the memory bound.

#include "daemon/net/auth_tracker.hpp"

#include <boost/asio/ip/address.hpp>
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <vector>

namespace vigil::net {
namespace {

using namespace std::chrono_literals;
using clock = auth_tracker::clock;

peer_key peer(const std::string& address) { return peer_key::of(boost::asio::ip::make_address(address)); }

struct fake_clock {
  clock::time_point now{std::chrono::hours(1000)};
  auto function() {
    return [this] { return now; };
  }
};

auth_tracker::limits defaults() { return {}; }

TEST(AuthTracker, FreeFailuresThenDoublingDelaysUpToTheCapThenABlock) {
  fake_clock t;
  auth_tracker tracker(defaults(), t.function());
  const auto attacker = peer("10.0.0.2");
  std::vector<std::chrono::milliseconds> delays;
  auth_tracker::verdict v;
  for (int i = 1; i <= 10; ++i) {
    if (i > 1) t.now += 1s;
    v = tracker.failed(attacker);
    delays.push_back(v.delay);
    if (i < 10) {
      EXPECT_FALSE(v.blocked) << "failure " << i;
    }
  }
  const std::vector<std::chrono::milliseconds> expected = {0ms,   0ms,    0ms,    500ms,  1000ms,
                                                           2000ms, 4000ms, 8000ms, 8000ms, 8000ms};
  EXPECT_EQ(delays, expected);
  EXPECT_TRUE(v.blocked);
  EXPECT_TRUE(v.block_started);
  EXPECT_EQ(v.failures, 10u);
  EXPECT_TRUE(tracker.blocked(attacker));
  EXPECT_FALSE(tracker.blocked(peer("10.0.0.1"))) << "another address is not affected";
  EXPECT_EQ(tracker.blocks(), 1u);
  EXPECT_EQ(tracker.blocked_peers(), 1u);

  // A failure from a connection opened before the block: slowest answer, and that connection ends.
  const auto late = tracker.failed(attacker);
  EXPECT_TRUE(late.blocked);
  EXPECT_FALSE(late.block_started);
  EXPECT_EQ(late.delay, 8000ms);

  t.now += 300s - 1ms;
  EXPECT_TRUE(tracker.blocked(attacker));
  t.now += 1ms;
  EXPECT_FALSE(tracker.blocked(attacker)) << "the block lasts block_for";
  EXPECT_EQ(tracker.blocked_peers(), 0u);
  // The count starts again after the block.
  EXPECT_EQ(tracker.failed(attacker).delay, 0ms);
}

TEST(AuthTracker, FailuresOutsideTheWindowStartANewCount) {
  fake_clock t;
  auto limits = defaults();
  limits.window = 60s;
  auth_tracker tracker(limits, t.function());
  const auto p = peer("10.0.0.2");
  for (int i = 0; i < 3; ++i) EXPECT_EQ(tracker.failed(p).delay, 0ms);
  EXPECT_EQ(tracker.failed(p).delay, 500ms);
  t.now += 60s;  // the window opened at the first failure has passed
  const auto v = tracker.failed(p);
  EXPECT_EQ(v.delay, 0ms);
  EXPECT_EQ(v.failures, 1u);
}

TEST(AuthTracker, NoBlockWhenBlockAfterIsZero) {
  fake_clock t;
  auto limits = defaults();
  limits.block_after = 0;
  auth_tracker tracker(limits, t.function());
  for (int i = 0; i < 50; ++i) EXPECT_FALSE(tracker.failed(peer("10.0.0.2")).blocked);
  EXPECT_FALSE(tracker.blocked(peer("10.0.0.2")));
}

TEST(AuthTracker, MemoryIsBoundedAndBlockedPeersAreForgottenLast) {
  fake_clock t;
  auto limits = defaults();
  limits.max_peers = 100;
  limits.block_after = 1;  // every failing address is blocked at once
  auth_tracker tracker(limits, t.function());
  const auto blocked = peer("10.1.0.1");
  tracker.failed(blocked);
  ASSERT_TRUE(tracker.blocked(blocked));
  for (int i = 0; i < 10'000; ++i) {
    t.now += 1ms;
    tracker.failed(peer(fmt::format("10.2.{}.{}", i / 250, i % 250)));
    EXPECT_LE(tracker.peers(), 100u);
  }
  EXPECT_LE(tracker.peers(), 100u) << "even when every address is blocked";

  // With peers that are not blocked, a blocked one outlives a flood of new addresses.
  auto mixed_limits = defaults();
  mixed_limits.max_peers = 100;
  mixed_limits.block_after = 3;
  auth_tracker mixed(mixed_limits, t.function());
  const auto guesser = peer("10.3.0.1");
  for (int i = 0; i < 3; ++i) mixed.failed(guesser);
  ASSERT_TRUE(mixed.blocked(guesser));
  for (int i = 0; i < 10'000; ++i) {
    t.now += 1ms;
    mixed.failed(peer(fmt::format("10.4.{}.{}", i / 250, i % 250)));
  }
  EXPECT_LE(mixed.peers(), 100u);
  EXPECT_TRUE(mixed.blocked(guesser)) << "unblocked peers are forgotten first";
}

}  // namespace
}  // namespace vigil::net
