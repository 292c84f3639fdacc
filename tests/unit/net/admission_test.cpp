// The admission policy of a listener, without sockets: who is admitted, who is refused, and
// which unauthenticated connection is let go to make room.

#include "daemon/net/admission.hpp"

#include <boost/asio/ip/address.hpp>
#include <gtest/gtest.h>

namespace vigil::net {
namespace {

peer_key peer(const char* address) { return peer_key::of(boost::asio::ip::make_address(address)); }

using outcome = admission::outcome;

TEST(Admission, APeerAtItsUnauthenticatedLimitIsRefusedWhileOthersGetIn) {
  admission a({64, 16, 2});
  EXPECT_EQ(a.admit(1, peer("10.0.0.2")).result, outcome::admitted);
  EXPECT_EQ(a.admit(2, peer("10.0.0.2")).result, outcome::admitted);
  const auto third = a.admit(3, peer("10.0.0.2"));
  EXPECT_EQ(third.result, outcome::refused_peer_limit);
  EXPECT_FALSE(third.evicted);
  EXPECT_EQ(a.admit(4, peer("10.0.0.1")).result, outcome::admitted);
  EXPECT_EQ(a.unauthenticated_from(peer("10.0.0.2")), 2u);
  EXPECT_EQ(a.connections(), 3u);
}

TEST(Admission, AuthenticatedConnectionsDoNotCountAgainstTheirPeersLimit) {
  admission a({64, 16, 2});
  ASSERT_EQ(a.admit(1, peer("10.0.0.2")).result, outcome::admitted);
  ASSERT_EQ(a.admit(2, peer("10.0.0.2")).result, outcome::admitted);
  a.authenticated(1);
  a.authenticated(1);  // idempotent
  EXPECT_EQ(a.admit(3, peer("10.0.0.2")).result, outcome::admitted);
  EXPECT_EQ(a.unauthenticated(), 2u);
  EXPECT_EQ(a.connections(), 3u);
  a.closed(2);
  a.closed(3);
  EXPECT_EQ(a.unauthenticated_from(peer("10.0.0.2")), 0u);
  EXPECT_EQ(a.connections(), 1u);
  EXPECT_TRUE(a.is_authenticated(1));
}

TEST(Admission, AFullUnauthenticatedBudgetEvictsTheOldest) {
  admission a({64, 3, 3});
  ASSERT_EQ(a.admit(10, peer("10.0.0.2")).result, outcome::admitted);
  ASSERT_EQ(a.admit(11, peer("10.0.0.3")).result, outcome::admitted);
  ASSERT_EQ(a.admit(12, peer("10.0.0.4")).result, outcome::admitted);
  const auto d = a.admit(13, peer("10.0.0.1"));
  EXPECT_EQ(d.result, outcome::admitted);
  ASSERT_TRUE(d.evicted);
  EXPECT_EQ(*d.evicted, 10u);
  EXPECT_EQ(d.evicted_peer, peer("10.0.0.2"));
  EXPECT_EQ(a.unauthenticated(), 3u);
  EXPECT_EQ(a.unauthenticated_from(peer("10.0.0.2")), 0u);
  // The evicted one's close later changes nothing: it was let go already.
  a.closed(10);
  EXPECT_EQ(a.unauthenticated(), 3u);
  EXPECT_EQ(a.connections(), 3u);
  // An authenticated connection is never the one let go.
  a.authenticated(11);
  EXPECT_FALSE(a.admit(14, peer("10.0.0.1")).evicted) << "11 left the budget: room for one";
  const auto next = a.admit(15, peer("10.0.0.1"));
  ASSERT_TRUE(next.evicted);
  EXPECT_EQ(*next.evicted, 12u);
}

TEST(Admission, AFullListenerEvictsAnUnauthenticatedConnectionAndRefusesOnlyWhenAllAreAuthenticated) {
  admission a({3, 3, 3});
  for (std::uint64_t id = 1; id <= 3; ++id) ASSERT_EQ(a.admit(id, peer("10.0.0.9")).result, outcome::admitted);
  a.authenticated(1);
  a.authenticated(3);
  const auto d = a.admit(4, peer("10.0.0.1"));
  EXPECT_EQ(d.result, outcome::admitted);
  ASSERT_TRUE(d.evicted);
  EXPECT_EQ(*d.evicted, 2u);
  a.authenticated(4);
  EXPECT_EQ(a.connections(), 3u);
  const auto full = a.admit(5, peer("10.0.0.1"));
  EXPECT_EQ(full.result, outcome::refused_full);
  EXPECT_FALSE(full.evicted);
  a.closed(1);
  EXPECT_EQ(a.admit(6, peer("10.0.0.1")).result, outcome::admitted);
}

TEST(Admission, LimitsAboveTheirParentActAsTheParent) {
  admission a({2, 100, 100});  // budget 2, per peer 2
  ASSERT_EQ(a.admit(1, peer("10.0.0.2")).result, outcome::admitted);
  ASSERT_EQ(a.admit(2, peer("10.0.0.2")).result, outcome::admitted);
  EXPECT_EQ(a.admit(3, peer("10.0.0.2")).result, outcome::refused_peer_limit);
  const auto d = a.admit(4, peer("10.0.0.3"));
  EXPECT_EQ(d.result, outcome::admitted);
  EXPECT_EQ(d.evicted, std::optional<std::uint64_t>(1));
}

TEST(PeerKey, IPv6PeersAreTheirSlash64AndMappedIPv4IsIPv4) {
  EXPECT_EQ(peer("2001:db8:1:2::5"), peer("2001:db8:1:2:ffff::9"));
  EXPECT_NE(peer("2001:db8:1:2::5"), peer("2001:db8:1:3::5"));
  EXPECT_EQ(peer("::ffff:10.1.2.3"), peer("10.1.2.3"));
  EXPECT_NE(peer("127.0.0.1"), peer("127.0.0.2"));
  EXPECT_EQ(peer("2001:db8:1:2::5").to_string(), "2001:db8:1:2::/64");
  EXPECT_EQ(peer("::ffff:10.1.2.3").to_string(), "10.1.2.3");
  EXPECT_NE(peer("127.0.0.1").hash(), peer("127.0.0.2").hash());
}

}  // namespace
}  // namespace vigil::net
