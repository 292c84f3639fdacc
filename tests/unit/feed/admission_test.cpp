// Feed admission, as both feeds use it: every refusal (missing, unknown and device tokens, each
// way a filter is refused) and every shape a FeedRequest is accepted in (a configured user's
// token, a session token, a snapshot, a resume, a filter); and the WebSocket close codes and
// reasons that follow a FeedClosing.

#include "daemon/feed/admission.hpp"
#include "daemon/feed/session.hpp"
#include "daemon/feed/ws_framing.hpp"

#include <gtest/gtest.h>

namespace vigil::feed {
namespace {

const std::vector<control::user> users = {
    {"ana", "token-ana", control::role::nurse},
    {"vic", "token-vic", control::role::viewer},
};

v1::FeedRequest request(const std::string& token) {
  v1::FeedRequest r;
  r.set_token(token);
  return r;
}

refused refusal_of(const admission& a) {
  EXPECT_TRUE(std::holds_alternative<refused>(a));
  return std::holds_alternative<refused>(a) ? std::get<refused>(a) : refused{};
}

accepted acceptance_of(const admission& a) {
  if (const auto* no = std::get_if<refused>(&a)) {
    ADD_FAILURE() << v1::FeedError_Name(no->error) << ": " << no->message;
    return accepted{};
  }
  return std::get<accepted>(a);
}

TEST(FeedAdmission, AMissingTokenIsRefusedWithoutCountingAsAFailedAuthentication) {
  const auto no = refusal_of(admit(request(""), users));
  EXPECT_EQ(no.error, v1::FEED_ERROR_UNAUTHORIZED);
  EXPECT_EQ(no.message, "missing or unknown token");
  EXPECT_FALSE(no.failed_authentication);
}

TEST(FeedAdmission, AnUnknownOrDeviceTokenIsAFailedAuthentication) {
  for (const char* token : {"not-a-token", "integration-token", "token-an"}) {
    SCOPED_TRACE(token);
    const auto no = refusal_of(admit(request(token), users));
    EXPECT_EQ(no.error, v1::FEED_ERROR_UNAUTHORIZED);
    EXPECT_EQ(no.message, "missing or unknown token");
    EXPECT_TRUE(no.failed_authentication);
  }
}

TEST(FeedAdmission, AConfiguredUsersTokenOfAnyRoleIsAcceptedForASnapshotOfEverything) {
  for (const auto& u : users) {
    const auto yes = acceptance_of(admit(request(u.token), users));
    EXPECT_EQ(yes.who.name, u.name);
    EXPECT_EQ(yes.who.role, u.role);
    EXPECT_FALSE(yes.resume_after) << "no resume_after: a snapshot";
    EXPECT_TRUE(yes.filter.chairs.empty());
    EXPECT_TRUE(yes.filter.sessions.empty());
    EXPECT_EQ(yes.filter.categories, 0u);
    EXPECT_EQ(yes.filter.vitals_interval_ms, 1000);
    EXPECT_EQ(yes.filter.heartbeat.count(), 0);
  }
}

TEST(FeedAdmission, ASessionTokenIsAcceptedOnlyWhereSessionTokensAreLookedUp) {
  int lookups = 0;
  const session_lookup sessions = [&](std::string_view token) -> std::optional<control::user> {
    ++lookups;
    if (token == "session-of-vic") return control::user{"vic", "token-vic", control::role::viewer};
    return std::nullopt;
  };
  EXPECT_EQ(acceptance_of(admit(request("session-of-vic"), users, sessions)).who.name, "vic");
  EXPECT_EQ(refusal_of(admit(request("session-of-vic"), users)).error, v1::FEED_ERROR_UNAUTHORIZED)
      << "the TCP feed takes configured users' tokens only";
  const auto unknown = refusal_of(admit(request("session-of-nobody"), users, sessions));
  EXPECT_EQ(unknown.error, v1::FEED_ERROR_UNAUTHORIZED);
  EXPECT_TRUE(unknown.failed_authentication);
  lookups = 0;
  EXPECT_EQ(acceptance_of(admit(request("token-ana"), users, sessions)).who.name, "ana");
  EXPECT_FALSE(refusal_of(admit(request(""), users, sessions)).failed_authentication);
  EXPECT_EQ(lookups, 0) << "a configured user's token, or none, is not looked up as a session token";
}

TEST(FeedAdmission, TheFilterAndTheResumePointAreThoseAskedFor) {
  auto r = request("token-ana");
  auto& s = *r.mutable_subscribe();
  s.add_chair_ids("chair-2");
  s.add_chair_ids("chair-1");
  s.add_session_ids(7);
  s.add_categories(v1::EVENT_CATEGORY_ALARMS);
  s.add_categories(v1::EVENT_CATEGORY_NOTES);
  s.set_vitals_interval_ms(2500);
  s.set_heartbeat_ms(1000);
  s.set_resume_after(41);
  const auto yes = acceptance_of(admit(r, users));
  EXPECT_EQ(yes.filter.chairs, (std::set<std::string, std::less<>>{"chair-1", "chair-2"}));
  EXPECT_EQ(yes.filter.sessions, (std::set<std::uint64_t>{7}));
  EXPECT_TRUE(yes.filter.wants(v1::EVENT_CATEGORY_ALARMS));
  EXPECT_TRUE(yes.filter.wants(v1::EVENT_CATEGORY_NOTES));
  EXPECT_FALSE(yes.filter.wants(v1::EVENT_CATEGORY_VITALS));
  EXPECT_EQ(yes.filter.vitals_interval_ms, 2500);
  EXPECT_EQ(yes.filter.heartbeat, std::chrono::milliseconds(1000));
  ASSERT_TRUE(yes.resume_after);
  EXPECT_EQ(*yes.resume_after, 41u);

  s.set_resume_after(0);
  const auto from_zero = acceptance_of(admit(r, users));
  ASSERT_TRUE(from_zero.resume_after) << "resume_after 0 is a resume from the start, not a snapshot";
  EXPECT_EQ(*from_zero.resume_after, 0u);
}

TEST(FeedAdmission, EachFilterMistakeIsABadRequestWithItsReason) {
  struct mistake {
    const char* what;
    std::function<void(v1::Subscribe&)> make;
    const char* says;
  };
  const std::vector<mistake> mistakes = {
      {"unknown category", [](v1::Subscribe& s) { s.add_categories(static_cast<v1::EventCategory>(42)); }, "category"},
      {"no category", [](v1::Subscribe& s) { s.add_categories(v1::EVENT_CATEGORY_UNSPECIFIED); }, "category"},
      {"interval too long", [](v1::Subscribe& s) { s.set_vitals_interval_ms(3'600'001); }, "vitals_interval_ms"},
      {"heartbeat too often", [](v1::Subscribe& s) { s.set_heartbeat_ms(999); }, "heartbeat_ms"},
      {"heartbeat too rare", [](v1::Subscribe& s) { s.set_heartbeat_ms(60'001); }, "heartbeat_ms"},
      {"empty chair", [](v1::Subscribe& s) { s.add_chair_ids(""); }, "chair id"},
      {"chair with a space", [](v1::Subscribe& s) { s.add_chair_ids("chair 1"); }, "chair id"},
      {"chair too long", [](v1::Subscribe& s) { s.add_chair_ids(std::string(65, 'c')); }, "chair id"},
      {"too many chairs",
       [](v1::Subscribe& s) {
         for (int i = 0; i < 1001; ++i) s.add_chair_ids("chair-" + std::to_string(i));
       },
       "at most 1000"},
      {"too many sessions",
       [](v1::Subscribe& s) {
         for (int i = 0; i < 1001; ++i) s.add_session_ids(static_cast<std::uint64_t>(i) + 1);
       },
       "at most 1000"},
  };
  for (const auto& m : mistakes) {
    SCOPED_TRACE(m.what);
    auto r = request("token-vic");
    m.make(*r.mutable_subscribe());
    const auto no = refusal_of(admit(r, users));
    EXPECT_EQ(no.error, v1::FEED_ERROR_BAD_REQUEST);
    EXPECT_NE(no.message.find(m.says), std::string::npos) << no.message;
    EXPECT_FALSE(no.failed_authentication);
    // The token is looked at first: a stranger learns nothing about its filter.
    r.set_token("not-a-token");
    EXPECT_EQ(refusal_of(admit(r, users)).error, v1::FEED_ERROR_UNAUTHORIZED);
  }
  auto edge = request("token-vic");
  edge.mutable_subscribe()->set_vitals_interval_ms(3'600'000);
  edge.mutable_subscribe()->set_heartbeat_ms(60'000);
  edge.mutable_subscribe()->add_chair_ids(std::string(64, 'c'));
  acceptance_of(admit(edge, users));
}


TEST(FeedClosing, AWebSocketCloseSaysWhatToDoAsApiMdSection7Lists) {
  namespace ws = boost::beast::websocket;
  const std::vector<std::tuple<v1::FeedError, ws::close_code, std::string>> table = {
      {v1::FEED_ERROR_UNAUTHORIZED, ws::close_code::policy_error, "unauthorized"},
      {v1::FEED_ERROR_UNPARSABLE, ws::close_code::policy_error, "unparsable"},
      {v1::FEED_ERROR_BAD_REQUEST, ws::close_code::policy_error, "bad_request"},
      {v1::FEED_ERROR_RESUME_TOO_OLD, ws::close_code::policy_error, "resume_too_old"},
      {v1::FEED_ERROR_HANDSHAKE_TIMEOUT, ws::close_code::policy_error, "handshake_timeout"},
      {v1::FEED_ERROR_TOO_SLOW, ws::close_code::try_again_later, "too_slow"},
      {v1::FEED_ERROR_SHUTTING_DOWN, ws::close_code::going_away, "shutting_down"},
      {v1::FEED_ERROR_TOO_MANY_CONNECTIONS, ws::close_code::try_again_later, "too_many_connections"},
  };
  for (const auto& [error, code, reason] : table) {
    SCOPED_TRACE(v1::FeedError_Name(error));
    EXPECT_EQ(ws_close_code(error), code);
    EXPECT_EQ(ws_close_reason(error), reason);
  }
}

}  // namespace
}  // namespace vigil::feed
