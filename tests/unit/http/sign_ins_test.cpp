// Session tokens with a clock the test sets: expiry at exactly the configured time, sign-out,
// the bound on how many are held, and tokens that are nobody's.

#include "daemon/http/sign_ins.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <set>

namespace vigil::http {
namespace {

using namespace std::chrono_literals;
using testing::MatchesRegex;

const control::user cy{"nurse-cy", "internal-token-of-cy", control::role::nurse};
const control::user bo{"dr-bo", "internal-token-of-bo", control::role::admin};
const sign_ins::clock::time_point t0{1'700'000'000'000ms};

TEST(SignIns, ASessionTokenStandsForItsUserUntilItExpires) {
  sign_ins s(12h);
  const auto issued = s.issue(cy, t0);
  EXPECT_THAT(issued.token, MatchesRegex("[0-9a-f]{64}"));
  EXPECT_EQ(issued.expires, t0 + 12h);
  const auto found = s.find(issued.token, t0 + 12h - 1ms);
  ASSERT_TRUE(found);
  EXPECT_EQ(found->name, "nurse-cy");
  EXPECT_EQ(found->role, control::role::nurse);
  EXPECT_EQ(found->token, "internal-token-of-cy");
  EXPECT_FALSE(s.find(issued.token, t0 + 12h));
  EXPECT_FALSE(s.find(issued.token, t0));  // an expired one is gone for good
  EXPECT_EQ(s.size(), 0u);
}

TEST(SignIns, SigningOutEndsOneSessionOnly) {
  sign_ins s(1h);
  const auto first = s.issue(cy, t0);
  const auto second = s.issue(cy, t0);
  EXPECT_NE(first.token, second.token);
  EXPECT_TRUE(s.revoke(first.token, t0 + 1s));
  EXPECT_FALSE(s.find(first.token, t0 + 1s));
  EXPECT_TRUE(s.find(second.token, t0 + 1s));
  EXPECT_FALSE(s.revoke(first.token, t0 + 1s));
  // An expired one cannot be signed out: there is nothing left to end.
  EXPECT_FALSE(s.revoke(second.token, t0 + 1h));
}

TEST(SignIns, TokensThatAreNobodysFindNoOne) {
  sign_ins s(1h);
  const auto issued = s.issue(cy, t0);
  EXPECT_FALSE(s.find("", t0));
  EXPECT_FALSE(s.find(cy.token, t0));
  EXPECT_FALSE(s.find(issued.token.substr(1), t0));
  EXPECT_FALSE(s.find(issued.token + "0", t0));
}

TEST(SignIns, PastTheBoundTheOldestSessionGoesFirst) {
  sign_ins s(1h, 3);
  std::vector<sign_ins::issued> tokens;
  for (int i = 0; i < 4; ++i) tokens.push_back(s.issue(i % 2 == 0 ? cy : bo, t0 + std::chrono::seconds(i)));
  EXPECT_EQ(s.size(), 3u);
  EXPECT_FALSE(s.find(tokens[0].token, t0 + 5s));
  for (int i = 1; i < 4; ++i) EXPECT_TRUE(s.find(tokens[static_cast<std::size_t>(i)].token, t0 + 5s)) << i;
  // Expired ones are dropped before a live one is.
  const auto later = s.issue(cy, t0 + 1h + 2s);  // tokens 1 and 2 have expired by then
  EXPECT_EQ(s.size(), 2u);
  EXPECT_TRUE(s.find(tokens[3].token, t0 + 1h + 2s));
  EXPECT_TRUE(s.find(later.token, t0 + 1h + 2s));
}

TEST(SignIns, RandomTokensAreHexAndDistinct) {
  std::set<std::string> seen;
  for (int i = 0; i < 100; ++i) {
    const auto t = random_token();
    EXPECT_THAT(t, MatchesRegex("[0-9a-f]{64}"));
    seen.insert(t);
  }
  EXPECT_EQ(seen.size(), 100u);
}

}  // namespace
}  // namespace vigil::http
