// The HTTP listener's table of routes (daemon/http/router.cpp), as api.md section 4 lists them:
// every method and path to its endpoint with the ids it names, 404 and 405 with Allow, ids that
// are not ids, and the query parser. Pure: no sockets.

#include "daemon/http/router.hpp"

#include <gtest/gtest.h>

#include <string>
#include <tuple>
#include <vector>

namespace vigil::http {
namespace {

using outcome = route_match::outcome;

TEST(Router, EveryRouteOfApiMdFindsItsEndpointAndItsIds) {
  const std::vector<std::tuple<const char*, const char*, endpoint>> table = {
      {"GET", "/healthz", endpoint::healthz},
      {"GET", "/metrics", endpoint::metrics},
      {"GET", "/api/v1/me", endpoint::me},
      {"POST", "/api/v1/signin", endpoint::signin},
      {"POST", "/api/v1/signout", endpoint::signout},
      {"GET", "/api/v1/sessions", endpoint::sessions_list},
      {"POST", "/api/v1/sessions", endpoint::session_open},
      {"GET", "/api/v1/sessions/12", endpoint::session_show},
      {"POST", "/api/v1/sessions/12/dose", endpoint::session_dose},
      {"POST", "/api/v1/sessions/12/override", endpoint::session_override},
      {"POST", "/api/v1/sessions/12/close", endpoint::session_close},
      {"POST", "/api/v1/sessions/12/abort", endpoint::session_abort},
      {"POST", "/api/v1/sessions/12/notes", endpoint::session_note},
      {"POST", "/api/v1/sessions/12/baseline", endpoint::session_baseline},
      {"POST", "/api/v1/sessions/12/pause", endpoint::session_pause},
      {"POST", "/api/v1/sessions/12/alarms/7/ack", endpoint::alarm_ack},
      {"GET", "/api/v1/sessions/12/timeline.json", endpoint::timeline_json},
      {"GET", "/api/v1/sessions/12/timeline.csv", endpoint::timeline_csv},
      {"GET", "/api/v1/sessions/12/report.html", endpoint::report_html},
      {"POST", "/api/v1/devices/reset", endpoint::device_reset},
      {"GET", "/api/v1/alarm-burden", endpoint::alarm_burden},
      {"GET", "/api/v1/feed", endpoint::feed},
  };
  for (const auto& [method, path, want] : table) {
    const auto m = find_route(method, path);
    EXPECT_EQ(m.result, outcome::found) << method << " " << path;
    EXPECT_EQ(m.endpoint, want) << method << " " << path;
    const bool has_session = std::string(path).find("/sessions/12") != std::string::npos;
    EXPECT_EQ(m.session, has_session ? 12u : 0u) << path;
    EXPECT_EQ(m.alarm, std::string(path).find("/alarms/7/") != std::string::npos ? 7u : 0u) << path;
  }
}

TEST(Router, AKnownPathWithAnotherMethodIs405WithWhatItTakes) {
  const auto sessions = find_route("DELETE", "/api/v1/sessions");
  EXPECT_EQ(sessions.result, outcome::method_not_allowed);
  EXPECT_EQ(sessions.allow, "GET, POST");
  const auto ack = find_route("GET", "/api/v1/sessions/3/alarms/4/ack");
  EXPECT_EQ(ack.result, outcome::method_not_allowed);
  EXPECT_EQ(ack.allow, "POST");
}

TEST(Router, UnknownPathsAndIdsThatAreNotIdsAre404) {
  for (const auto* path :
       {"/", "/api/v1", "/api/v1/sessions/", "/api/v1/sessions/0", "/api/v1/sessions/-1", "/api/v1/sessions/1x",
        "/api/v1/sessions/99999999999999999999", "/api/v1/sessions/3/alarms/x/ack", "/api/v1/sessions/3/alarms/4/ack/",
        "/API/V1/ME", "/api/v1/me/", "//api/v1/me"}) {
    EXPECT_EQ(find_route("GET", path).result, outcome::not_found) << path;
    EXPECT_EQ(find_route("POST", path).result, outcome::not_found) << path;
  }
  const auto largest = find_route("GET", "/api/v1/sessions/9999999999999999999");
  EXPECT_EQ(largest.result, outcome::found) << "19 digits within 64 bits";
  EXPECT_EQ(largest.session, 9'999'999'999'999'999'999u);
}

TEST(Router, TheQueryIsDecodedAndANameGivenTwiceIsNamed) {
  EXPECT_EQ(path_of("/api/v1/sessions?state=all&limit=5"), "/api/v1/sessions");
  EXPECT_EQ(path_of("/api/v1/sessions"), "/api/v1/sessions");
  const auto q = query_of("/api/v1/alarm-burden?from=2026-12-01&profile=iv%2Dketamine&who=nurse+ana&flag&&");
  EXPECT_EQ(q.params.at("from"), "2026-12-01");
  EXPECT_EQ(q.params.at("profile"), "iv-ketamine");
  EXPECT_EQ(q.params.at("who"), "nurse ana");
  EXPECT_EQ(q.params.at("flag"), "");
  EXPECT_EQ(q.params.size(), 4u);
  EXPECT_TRUE(q.repeated.empty());
  const auto twice = query_of("/x?limit=5&state=all&limit=6");
  EXPECT_EQ(twice.repeated, "limit");
  EXPECT_EQ(twice.params.at("limit"), "5") << "the first value is kept, and the request refused by the caller";
  EXPECT_EQ(query_of("/x?bad=%zz%4").params.at("bad"), "%zz%4") << "a broken escape stays as it came";
  EXPECT_TRUE(query_of("/x").params.empty());
}

}  // namespace
}  // namespace vigil::http
