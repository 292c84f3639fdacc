// Signing in on the HTTP listener with a user name and password: the session token stands for
// the user (name and role) on the REST API and the WebSocket feed; a wrong password and an
// unknown name get the same answer and count as failed authentications of the address;
// signing out ends the session. Users are loaded from YAML, as vigild loads them.

#include "tests/common/quick_hash.hpp"
#include "tests/integration/clinic_scenario.hpp"

#include "daemon/config/config.hpp"

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <sstream>

namespace vigil::test {
namespace {

using testing::IsEmpty;
using testing::MatchesRegex;

constexpr const char* cy_password = "cy's long secret";
constexpr const char* bo_password = "bo's long secret";
constexpr const char* bo_token = "admin-token-dr-bo-01";
constexpr const char* vic_token = "viewer-token-dr-vic";

/// nurse-cy signs in with a password only; dr-bo has a token and a password; dr-vic a token only.
config::daemon_config signin_config() {
  auto c = fast_config();
  const auto loaded = config::load_text(fmt::format(R"(
users:
  - {{name: nurse-cy, password_hash: '{}', role: nurse}}
  - {{name: dr-bo, token: {}, password_hash: '{}', role: admin}}
  - {{name: dr-vic, token: {}, role: viewer}}
)",
                                                    quick_hash(cy_password), bo_token, quick_hash(bo_password),
                                                    vic_token));
  EXPECT_THAT(loaded.problems, IsEmpty());
  c.users = loaded.config.users;
  // Failures answered at once and never blocking: this file counts them, gate_test.cpp tests the slowing.
  c.auth_failures.free_failures = 1'000;
  c.auth_failures.block_after = 0;
  return c;
}

std::string signin_body(const std::string& name, const std::string& password) {
  return fmt::format(R"({{"name":"{}","password":"{}"}})", name, password);
}

/// A JSON string field's value in a flat object; empty when absent.
std::string field(const std::string& body, const std::string& name) {
  const auto at = body.find("\"" + name + "\":\"");
  if (at == std::string::npos) return {};
  const auto start = at + name.size() + 4;
  return body.substr(start, body.find('"', start) - start);
}


const std::string http_failures = R"(vigil_auth_failures_total{listener="http"})";

/// Signs in and returns the session token; empty on failure.
std::string sign_in(daemon_under_test& d, const std::string& name, const std::string& password) {
  http_client web(d.http_port());
  const auto r = web.request("POST", "/api/v1/signin", "", signin_body(name, password));
  EXPECT_TRUE(r && r->status == 200) << (r ? r->body : "no response");
  return r ? field(r->body, "token") : std::string();
}

TEST(SignIn, ASessionTokenStandsForTheUserOnRestAndOnTheWebSocketFeed) {
  daemon_under_test d(signin_config());
  http_client web(d.http_port());
  const auto r = web.request("POST", "/api/v1/signin", "", signin_body("nurse-cy", cy_password));
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(r->header("content-type"), "application/json");
  EXPECT_EQ(r->header("cache-control"), "no-store");
  const auto token = field(r->body, "token");
  EXPECT_THAT(token, MatchesRegex("[0-9a-f]{64}"));
  EXPECT_EQ(field(r->body, "name"), "nurse-cy");
  EXPECT_EQ(field(r->body, "role"), "nurse");
  EXPECT_THAT(r->body, MatchesRegex(R"(.*"expires_ms":[1-9][0-9]*[,}].*)"));
  EXPECT_EQ(r->body.find(cy_password), std::string::npos);

  const auto me = web.request("GET", "/api/v1/me", token);
  ASSERT_TRUE(me);
  EXPECT_EQ(me->status, 200);
  EXPECT_EQ(me->body, "{\"name\":\"nurse-cy\",\"role\":\"nurse\"}\n");
  // A nurse reads and may not open a session.
  const auto listed = web.request("GET", "/api/v1/sessions", token);
  ASSERT_TRUE(listed);
  EXPECT_EQ(listed->status, 200) << listed->body;
  const auto open = web.request("POST", "/api/v1/sessions", token, R"({"chair_id":"chair-1","patient_ref":"P-1"})");
  ASSERT_TRUE(open);
  EXPECT_EQ(open->status, 403) << open->body;
  EXPECT_NE(open->body.find("nurse-cy has the role nurse"), std::string::npos) << open->body;

  // An admin with a token and a password: the session token opens a session, recorded as dr-bo's.
  const auto admin = sign_in(d, "dr-bo", bo_password);
  ASSERT_FALSE(admin.empty());
  EXPECT_NE(admin, bo_token);
  const auto opened = web.request("POST", "/api/v1/sessions", admin, R"({"chair_id":"chair-1","patient_ref":"P-1"})");
  ASSERT_TRUE(opened);
  EXPECT_EQ(opened->status, 201) << opened->body;

  // The nurse's session token on the WebSocket feed: the snapshot holds the open session.
  ws_client feed(d.http_port());
  v1::FeedRequest request;
  request.set_token(token);
  feed.subscribe(request);
  const auto snap = feed.next();
  ASSERT_TRUE(snap && snap->has_snapshot()) << (snap ? snap->DebugString() : "nothing");
  ASSERT_EQ(snap->snapshot().sessions_size(), 1);
  EXPECT_EQ(snap->snapshot().sessions(0).chair_id(), "chair-1");
  feed.close();
  EXPECT_EQ(metric(d, http_failures), 0);
}

TEST(SignIn, AWrongPasswordAndAnUnknownNameGetTheSame401AndCountAsFailedAuthentications) {
  daemon_under_test d(signin_config());
  std::vector<std::string> bodies;
  // A wrong password, an unknown name, and a user who has a token but no password.
  for (const auto& [name, password] : std::vector<std::pair<std::string, std::string>>{
           {"nurse-cy", "not cy's secret"}, {"nobody", cy_password}, {"dr-vic", vic_token}}) {
    SCOPED_TRACE(name);
    http_client web(d.http_port());
    const auto r = web.request("POST", "/api/v1/signin", "", signin_body(name, password));
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 401);
    EXPECT_EQ(r->body.find(password), std::string::npos) << r->body;
    bodies.push_back(r->body);
  }
  EXPECT_EQ(bodies[0], R"({"error":"unauthorized","message":"unknown user name or wrong password"})" "\n");
  EXPECT_EQ(bodies[1], bodies[0]);
  EXPECT_EQ(bodies[2], bodies[0]);
  EXPECT_EQ(metric(d, http_failures), 3);

  // A body that is not a sign-in is refused, and not counted: nothing was guessed.
  http_client web(d.http_port());
  for (const std::string bad : {"", "{", R"({"name":"nurse-cy"})", R"({"name":"nurse-cy","password":7})"}) {
    SCOPED_TRACE(bad);
    const auto r = web.request("POST", "/api/v1/signin", "", bad);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 400) << r->body;
  }
  EXPECT_EQ(metric(d, http_failures), 3);
  // The right password still works from the same address.
  EXPECT_FALSE(sign_in(d, "nurse-cy", cy_password).empty());
}

TEST(SignIn, SigningOutEndsTheSessionTokenOnRestAndOnTheFeed) {
  daemon_under_test d(signin_config());
  const auto token = sign_in(d, "nurse-cy", cy_password);
  const auto other = sign_in(d, "nurse-cy", cy_password);
  ASSERT_NE(token, other);
  http_client web(d.http_port());
  const auto out = web.request("POST", "/api/v1/signout", token);
  ASSERT_TRUE(out);
  EXPECT_EQ(out->status, 204) << out->body;
  EXPECT_TRUE(out->body.empty());
  http_client later(d.http_port());
  const auto me = later.request("GET", "/api/v1/me", token);
  ASSERT_TRUE(me);
  EXPECT_EQ(me->status, 401);
  // The other sign-in of the same user goes on.
  const auto still = later.request("GET", "/api/v1/me", other);
  ASSERT_TRUE(still);
  EXPECT_EQ(still->status, 200);

  ws_client feed(d.http_port());
  v1::FeedRequest request;
  request.set_token(token);
  feed.subscribe(request);
  const auto m = feed.next();
  ASSERT_TRUE(m && m->has_closing()) << (m ? m->DebugString() : "nothing");
  EXPECT_EQ(m->closing().error(), v1::FEED_ERROR_UNAUTHORIZED);

  // Signing out again, or with a configured token, does not sign anything out.
  http_client again(d.http_port());
  const auto twice = again.request("POST", "/api/v1/signout", token);
  ASSERT_TRUE(twice);
  EXPECT_EQ(twice->status, 401);
  const auto configured = again.request("POST", "/api/v1/signout", vic_token);
  ASSERT_TRUE(configured);
  EXPECT_EQ(configured->status, 400) << configured->body;
}

}  // namespace
}  // namespace vigil::test
