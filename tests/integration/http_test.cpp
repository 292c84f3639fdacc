// The HTTP listener through real sockets on 127.0.0.1: every role against every endpoint,
// the user recorded with each change, malformed requests answered and survived, limits,
// timeouts, /healthz and /metrics (checked by promtool).

#include "tests/integration/clinic_scenario.hpp"

#include "daemon/http/static_files.hpp"

#include <fmt/format.h>
#include <google/protobuf/util/json_util.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <optional>

namespace vigil::test {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

constexpr const char* viewer_token = "viewer-token-vic";
constexpr const char* nurse_token = "nurse-token-bea";
constexpr const char* admin_token = operator_token;  // nurse-ana, admin

/// A fresh directory for one test's timeline, removed afterwards.
class temp_dir {
 public:
  temp_dir() {
    path_ = fs::temp_directory_path() /
            ("vigil-http-" + std::to_string(getpid()) + "-" + ::testing::UnitTest::GetInstance()->current_test_info()->name() +
             "-" + std::to_string(counter_++));
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~temp_dir() { fs::remove_all(path_); }
  const fs::path& path() const { return path_; }

 private:
  static inline int counter_ = 0;
  fs::path path_;
};

config::daemon_config http_config(const fs::path& data_dir = {}) {
  auto c = test_config();
  c.users = {{"nurse-ana", admin_token, control::role::admin},
             {"nurse-bea", nurse_token, control::role::nurse},
             {"dr-vic", viewer_token, control::role::viewer}};
  c.data_dir = data_dir.string();
  return c;
}

/// The session id in a command's response, {"session_id":"N"}.
std::uint64_t session_of(const std::optional<http_reply>& r) {
  if (!r) return 0;
  v1::ControlResponse parsed;
  if (!google::protobuf::util::JsonStringToMessage(r->body, &parsed).ok()) return 0;
  return parsed.session_id();
}

v1::ControlResponse sessions_of(const http_reply& r) {
  v1::ControlResponse parsed;
  EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(r.body, &parsed).ok()) << r.body;
  return parsed;
}

std::string error_of(const http_reply& r) {
  const auto at = r.body.find("\"error\":\"");
  if (at == std::string::npos) return {};
  const auto start = at + 9;
  return r.body.substr(start, r.body.find('"', start) - start);
}

/// A clinic in a known state: sessions open on chair-1 (dosed, with an active SpO2 alarm fed by a
/// monitor), chair-2 and chair-3 (baseline).
struct clinic_fixture {
  explicit clinic_fixture(daemon_under_test& d) : monitor(d.port()) {
    http_client admin(d.http_port());
    for (const char* chair : {"chair-1", "chair-2", "chair-3"}) {
      const auto r = admin.request("POST", "/api/v1/sessions", admin_token,
                                   fmt::format(R"({{"chair_id":"{}","patient_ref":"P-{}"}})", chair, chair));
      EXPECT_TRUE(r && r->status == 201) << (r ? r->body : "no response");
      sessions.push_back(session_of(r));
    }
    EXPECT_TRUE(monitor.hello("dev-1", device_token, "chair-1")->has_welcome());
    const std::int64_t t0 = wall_ms();
    monitor.send(batch_of(++seq, {{v1::NIBP_SYSTOLIC, 122, t0}, {v1::NIBP_DIASTOLIC, 78, t0}, {v1::NIBP_MEAN, 93, t0},
                                  {v1::HEART_RATE, 72, t0}, {v1::SPO2, 97, t0}}));
    EXPECT_TRUE(monitor.wait_ack(seq));
    const auto dose = admin.request("POST", fmt::format("/api/v1/sessions/{}/dose", sessions[0]), admin_token,
                                    R"({"route":"intranasal","dose":"56 mg"})");
    EXPECT_TRUE(dose && dose->status == 200) << (dose ? dose->body : "no response");
    for (int s = 1; s <= 30; ++s) {
      const std::int64_t at = t0 + 1000 + s * 1000;
      monitor.send(batch_of(++seq, {{v1::HEART_RATE, 80, at}, {v1::SPO2, 85, at}}));
    }
    EXPECT_TRUE(monitor.wait_ack(seq));
    const auto listed = admin.request("GET", "/api/v1/sessions", viewer_token);
    EXPECT_TRUE(listed && listed->status == 200);
    const auto parsed = sessions_of(*listed);
    for (const auto& s : parsed.sessions()) {
      for (const auto& a : s.alarms()) {
        if (s.chair_id() == "chair-1" && a.priority() == v1::PRIORITY_HIGH) alarm = a.alarm_id();
      }
    }
    EXPECT_NE(alarm, 0u) << listed->body;
  }

  /// Sends a batch and waits for its ack: with a data_dir, everything queued before is committed.
  bool sync() {
    const std::int64_t at = wall_ms() + 60'000;
    monitor.send(batch_of(++seq, {{v1::HEART_RATE, 80, at}}));
    return monitor.wait_ack(seq);
  }

  test_client monitor;
  std::uint64_t seq = 0;
  std::vector<std::uint64_t> sessions;  // chair-1, chair-2, chair-3
  std::uint64_t alarm = 0;
};

// --- the auth matrix ----------------------------------------------------------------------

enum who : std::uint8_t { none, bad_token, device, viewer, nurse, admin };

const char* token_of(who w) {
  switch (w) {
    case none: return "";
    case bad_token: return "not-a-token-of-anyone";
    case device: return device_token;
    case viewer: return viewer_token;
    case nurse: return nurse_token;
    case admin: return admin_token;
  }
  return "";
}

const char* label(who w) {
  constexpr const char* names[] = {"no token", "unknown token", "device token", "viewer", "nurse", "admin"};
  return names[w];
}

struct endpoint_case {
  std::string method;
  std::function<std::string(const clinic_fixture&)> target;
  std::string body;
  bool open = false;       // no token needed
  control::role least = control::role::viewer;
  int success = 200;       // the status for a role allowed to call it
};

std::vector<endpoint_case> every_endpoint() {
  const auto s = [](int i, std::string rest) {
    return [i, rest](const clinic_fixture& f) { return fmt::format("/api/v1/sessions/{}{}", f.sessions[static_cast<std::size_t>(i)], rest); };
  };
  const auto fixed = [](std::string t) { return [t](const clinic_fixture&) { return t; }; };
  using control::role;
  return {
      {"GET", fixed("/healthz"), "", true},
      {"GET", fixed("/metrics"), "", true},
      {"GET", fixed("/"), "", true},
      {"GET", fixed("/static/app.js"), "", true},
      {"GET", fixed("/api/v1/me"), ""},
      {"GET", fixed("/api/v1/sessions"), ""},
      {"GET", fixed("/api/v1/sessions?state=all&limit=10"), ""},
      {"GET", s(0, ""), ""},
      {"GET", s(0, "/timeline.json"), ""},
      {"GET", s(0, "/timeline.csv?what=vitals"), ""},
      {"GET", s(0, "/timeline.csv?what=events"), ""},
      {"GET", s(0, "/report.html"), ""},
      {"GET", fixed("/api/v1/alarm-burden"), ""},
      {"POST", s(0, "/notes"), R"({"text":"Patient calm."})", false, role::nurse},
      {"POST", s(0, "/pause"), R"({"duration_s":60})", false, role::nurse},
      {"POST", [](const clinic_fixture& f) { return fmt::format("/api/v1/sessions/{}/alarms/{}/ack", f.sessions[0], f.alarm); },
       "", false, role::nurse},
      {"POST", fixed("/api/v1/sessions"), R"({"chair_id":"chair-4","patient_ref":"P-4"})", false, role::admin, 201},
      {"POST", s(1, "/override"), R"({"reason":"BP reviewed by Dr Lee"})", false, role::admin},
      {"POST", s(1, "/dose"), R"({"route":"iv","dose":"0.5 mg/kg"})", false, role::admin},
      {"POST", s(1, "/close"), "", false, role::admin},
      {"POST", s(2, "/abort"), R"({"reason":"patient left"})", false, role::admin},
      {"POST", fixed("/api/v1/devices/reset"), R"({"device_id":"dev-9","reason":"monitor replaced"})", false,
       role::admin},
  };
}

int expected(const endpoint_case& e, who w) {
  if (e.open) return 200;
  if (w <= device) return 401;
  const auto r = w == viewer ? control::role::viewer : w == nurse ? control::role::nurse : control::role::admin;
  return r < e.least ? 403 : e.success;
}

class HttpAuthMatrix : public ::testing::TestWithParam<who> {};

TEST_P(HttpAuthMatrix, EveryEndpointAnswersThisRoleExactly) {
  const who w = GetParam();
  temp_dir dir;
  auto config = http_config(dir.path());
  // Every endpoint with a wrong token from one address: neither slowed nor blocked here
  // (tests/integration/gate_test.cpp tests that).
  config.auth_failures.free_failures = 1'000;
  config.auth_failures.block_after = 0;
  daemon_under_test d(config);
  clinic_fixture f(d);
  ASSERT_NE(f.alarm, 0u);
  auto client = std::make_unique<http_client>(d.http_port());
  for (const auto& e : every_endpoint()) {
    const auto target = e.target(f);
    const auto r = client->request(e.method, target, token_of(w), e.body);
    ASSERT_TRUE(r) << e.method << " " << target;
    // A connection is closed after three tokens that are no user's: the next request takes a new one.
    if (!r->keep_alive) client = std::make_unique<http_client>(d.http_port());
    EXPECT_EQ(r->status, expected(e, w)) << label(w) << ": " << e.method << " " << target << " -> " << r->body;
    if (r->status == 401) {
      EXPECT_EQ(error_of(*r), "unauthorized") << r->body;
      EXPECT_EQ(r->header("www-authenticate"), "Bearer realm=\"vigil\"");
    }
    if (r->status == 403) {
      EXPECT_EQ(error_of(*r), "forbidden") << r->body;
    }
    EXPECT_NE(r->header("content-type"), "");
  }
}

std::string role_test_name(const ::testing::TestParamInfo<who>& param) {
  constexpr const char* test_names[] = {"NoToken", "UnknownToken", "DeviceToken", "Viewer", "Nurse", "Admin"};
  return test_names[param.param];
}

INSTANTIATE_TEST_SUITE_P(Roles, HttpAuthMatrix, ::testing::Values(none, bad_token, device, viewer, nurse, admin),
                         role_test_name);

// --- what a change records ------------------------------------------------------------------

TEST(Http, StateChangesRecordTheUserWhoMadeThem) {
  temp_dir dir;
  daemon_under_test d(http_config(dir.path()));
  clinic_fixture f(d);
  http_client nurse(d.http_port());
  const auto base = fmt::format("/api/v1/sessions/{}", f.sessions[0]);
  auto r = nurse.request("POST", fmt::format("{}/alarms/{}/ack", base, f.alarm), nurse_token);
  ASSERT_EQ(r->status, 200) << r->body;
  r = nurse.request("POST", base + "/notes", nurse_token, R"({"text":"SpO2 probe repositioned"})");
  ASSERT_EQ(r->status, 200) << r->body;

  r = nurse.request("GET", base, viewer_token);
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_NE(r->body.find("\"acknowledged_by\":\"nurse-bea\""), std::string::npos) << r->body;

  ASSERT_TRUE(f.sync());
  r = nurse.request("GET", base + "/timeline.csv?what=events", viewer_token);
  ASSERT_EQ(r->status, 200);
  EXPECT_EQ(r->header("content-type"), "text/csv; charset=utf-8");
  EXPECT_NE(r->body.find("note_added,,,,,,,nurse-bea,,,,,SpO2 probe repositioned"), std::string::npos) << r->body;
  EXPECT_NE(r->body.find("alarm_acknowledged"), std::string::npos);
  EXPECT_NE(r->body.find("session_opened,,,,,,baseline,nurse-ana"), std::string::npos) << r->body;
}

TEST(Http, CommandsOnClosedOrUnknownSessionsAreRefusedWithAReason) {
  temp_dir dir;
  daemon_under_test d(http_config(dir.path()));
  http_client admin(d.http_port());
  const auto id = session_of(admin.request("POST", "/api/v1/sessions", admin_token, R"({"chair_id":"chair-1","patient_ref":"P-1"})"));
  ASSERT_NE(id, 0u);
  auto r = admin.request("POST", "/api/v1/sessions", admin_token, R"({"chair_id":"chair-1","patient_ref":"P-2"})");
  EXPECT_EQ(r->status, 409);
  EXPECT_EQ(error_of(*r), "session_already_open");
  r = admin.request("POST", fmt::format("/api/v1/sessions/{}/dose", id), admin_token, R"({"route":"iv","dose":"1 mg"})");
  EXPECT_EQ(r->status, 409) << r->body;
  EXPECT_EQ(error_of(*r), "predose_gate");
  ASSERT_EQ(admin.request("POST", fmt::format("/api/v1/sessions/{}/close", id), admin_token)->status, 200);
  // Until its close is committed the timeline does not know the session; a monitor's ack says it is.
  test_client monitor(d.port());
  ASSERT_TRUE(monitor.hello("dev-9", device_token, "chair-9")->has_welcome());
  monitor.send(make_batch(1, 1, wall_ms()));
  ASSERT_TRUE(monitor.wait_ack(1));
  r = admin.request("POST", fmt::format("/api/v1/sessions/{}/notes", id), admin_token, R"({"text":"late"})");
  EXPECT_EQ(r->status, 409);
  EXPECT_EQ(error_of(*r), "session_closed");
  r = admin.request("POST", "/api/v1/sessions/999/notes", admin_token, R"({"text":"x"})");
  EXPECT_EQ(r->status, 404);
  r = admin.request("POST", fmt::format("/api/v1/sessions/{}/close", id + 1), admin_token, R"({"chair_id":"chair-9"})");
  EXPECT_EQ(r->status, 404);
}

TEST(Http, WithoutADataDirTimelinesAreNotFoundWithAReason) {
  daemon_under_test d(http_config());
  http_client viewer(d.http_port());
  auto r = viewer.request("GET", "/api/v1/sessions/1/timeline.json", viewer_token);
  EXPECT_EQ(r->status, 404);
  EXPECT_EQ(error_of(*r), "no_timeline");
  EXPECT_NE(r->body.find("without data_dir"), std::string::npos);
  r = viewer.request("GET", "/api/v1/sessions?state=all", viewer_token);
  EXPECT_EQ(r->status, 404);
  EXPECT_EQ(error_of(*r), "no_timeline");
  r = viewer.request("GET", "/api/v1/sessions", viewer_token);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "{}\n");
}

// --- malformed input, and the daemon afterwards -------------------------------------------

/// Another HTTP client is served, and a monitor's batch is still acked.
void expect_unharmed(daemon_under_test& d) {
  http_client other(d.http_port());
  const auto r = other.request("GET", "/healthz");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  test_client monitor(d.port());
  ASSERT_TRUE(monitor.hello("dev-9", device_token, "chair-9")->has_welcome());
  monitor.send(make_batch(1, 3, wall_ms()));
  EXPECT_TRUE(monitor.wait_ack(1));
}

struct bad_input {
  std::string name;
  std::string bytes;
  int status;
  std::string error;
  bool closes;
};

TEST(Http, MalformedRequestsGetAReasonAndTheDaemonServesOn) {
  daemon_under_test d(http_config());
  const std::string auth = std::string("Authorization: Bearer ") + admin_token + "\r\n";
  const auto post = [&](const std::string& type, const std::string& body) {
    return "POST /api/v1/sessions HTTP/1.1\r\n" + auth + "Content-Type: " + type +
           "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
  };
  const std::vector<bad_input> cases = {
      {"garbage request line", "GARBAGE\r\n\r\n", 400, "bad_request", true},
      {"binary noise", std::string("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 11) + "\r\n\r\n", 400, "bad_request", true},
      {"header without a colon", "GET /healthz HTTP/1.1\r\nHost 127.0.0.1\r\n\r\n", 400, "bad_request", true},
      {"bad content length", "POST /api/v1/sessions HTTP/1.1\r\nContent-Length: x12\r\n\r\n", 400, "bad_request", true},
      {"huge header", "GET /healthz HTTP/1.1\r\nX-Filler: " + std::string(20'000, 'a') + "\r\n\r\n", 431,
       "headers_too_large", true},
      {"oversized body", "POST /api/v1/sessions HTTP/1.1\r\n" + auth +
                             "Content-Type: application/json\r\nContent-Length: 100000\r\n\r\n" + std::string(100'000, ' '),
       413, "payload_too_large", true},
      {"oversized chunked body", "POST /api/v1/sessions HTTP/1.1\r\n" + auth +
                                     "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
                                     "18000\r\n" + std::string(0x18000, ' ') + "\r\n0\r\n\r\n",
       413, "payload_too_large", true},
      {"bad JSON", post("application/json", "{\"chair_id\": tru"), 400, "bad_json", false},
      {"wrong JSON type", post("application/json", "{\"chair_id\": 7}"), 400, "bad_json", false},
      {"unknown field", post("application/json", "{\"chair\": \"c1\"}"), 400, "bad_json", false},
      {"JSON that is no object", post("application/json", "[1, 2]"), 400, "bad_json", false},
      {"invalid UTF-8 in JSON", post("application/json", "{\"chair_id\": \"\xff\xfe\"}"), 400, "bad_json", false},
      {"not JSON", post("text/plain", "hello"), 415, "unsupported_media_type", false},
      {"wrong method", "DELETE /api/v1/sessions/1 HTTP/1.1\r\n" + auth + "\r\n", 405, "method_not_allowed", false},
      {"unknown path", "GET /api/v2/things HTTP/1.1\r\n\r\n", 404, "not_found", false},
      {"id that is no number", "GET /api/v1/sessions/abc HTTP/1.1\r\n" + auth + "\r\n", 404, "not_found", false},
      {"bad query", "GET /api/v1/sessions?state=some HTTP/1.1\r\n" + auth + "\r\n", 400, "invalid_argument", false},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    http_client client(d.http_port());
    client.send_raw(c.bytes);
    const auto r = client.receive();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, c.status) << r->body;
    EXPECT_EQ(r->header("content-type"), "application/json");
    EXPECT_EQ(error_of(*r), c.error) << r->body;
    EXPECT_NE(r->body.find("\"message\":\""), std::string::npos);
    if (c.status == 405) {
      EXPECT_EQ(r->header("allow"), "GET");
    }
    if (c.closes) {
      EXPECT_FALSE(r->keep_alive);
      EXPECT_TRUE(client.wait_closed());
    } else {
      // The connection stays usable.
      const auto next = client.request("GET", "/healthz");
      ASSERT_TRUE(next);
      EXPECT_EQ(next->status, 200);
    }
    expect_unharmed(d);
  }
}

TEST(Http, KeepAliveServesManyRequestsAndConnectionCloseEndsIt) {
  daemon_under_test d(http_config());
  http_client client(d.http_port());
  for (int i = 0; i < 5; ++i) {
    const auto r = client.request("GET", "/api/v1/sessions", viewer_token);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    EXPECT_TRUE(r->keep_alive);
  }
  client.send_raw("GET /healthz HTTP/1.1\r\nConnection: close\r\n\r\n");
  const auto r = client.receive();
  ASSERT_TRUE(r);
  EXPECT_FALSE(r->keep_alive);
  EXPECT_TRUE(client.wait_closed());
}

TEST(Http, ConnectionsBeyondTheLimitAreRefusedWith503) {
  auto config = http_config();
  config.http.max_connections = 1;
  daemon_under_test d(config);
  http_client first(d.http_port());
  // Accepted, counted and authenticated: an unauthenticated one would be closed to make room.
  ASSERT_EQ(first.request("GET", "/api/v1/me", viewer_token)->status, 200);
  http_client second(d.http_port());
  const auto r = second.receive();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 503);
  EXPECT_EQ(error_of(*r), "too_many_connections");
  EXPECT_TRUE(second.wait_closed());
  EXPECT_EQ(first.request("GET", "/healthz")->status, 200);
}

TEST(Http, IdleAndSlowConnectionsAreClosed) {
  auto config = http_config();
  config.http.idle_timeout = 200ms;
  config.http.read_timeout = 200ms;
  daemon_under_test d(config);
  http_client idle(d.http_port());
  EXPECT_TRUE(idle.wait_closed(5s));
  http_client slow(d.http_port());
  slow.send_raw("GET /healthz HTTP/1.1\r\nHost: x\r\n");  // never finishes its headers
  EXPECT_TRUE(slow.wait_closed(5s));
  expect_unharmed(d);
}

TEST(Http, StopClosesIdleKeepAliveConnections) {
  daemon_under_test d(http_config());
  http_client client(d.http_port());
  ASSERT_EQ(client.request("GET", "/healthz")->status, 200);
  d.stop();  // returns only once every connection has closed
  EXPECT_TRUE(client.wait_closed(1s));
}

// --- /healthz and /metrics ------------------------------------------------------------------

// --- the nurse station page ------------------------------------------------------------------

/// Sends `bytes` on a new connection and reads everything until the daemon closes it.
std::string exchange_raw(std::uint16_t port, const std::string& bytes) {
  boost::asio::io_context io;
  boost::asio::ip::tcp::socket socket(io);
  socket.connect({boost::asio::ip::make_address("127.0.0.1"), port});
  boost::asio::write(socket, boost::asio::buffer(bytes));
  std::string out;
  boost::system::error_code ec;
  char chunk[4096];
  for (;;) {
    const auto n = socket.read_some(boost::asio::buffer(chunk), ec);
    if (ec) break;
    out.append(chunk, n);
  }
  return out;
}

TEST(Http, TheNurseStationPageIsServedAtTheRootWithAStrictPolicy) {
  daemon_under_test d(http_config());
  http_client web(d.http_port());
  const auto page = web.request("GET", "/");
  ASSERT_TRUE(page);
  EXPECT_EQ(page->status, 200);
  EXPECT_EQ(page->header("content-type"), "text/html; charset=utf-8");
  EXPECT_EQ(page->header("content-security-policy"), std::string(http::page_csp));
  EXPECT_NE(page->header("content-security-policy").find("default-src 'self'"), std::string::npos);
  EXPECT_EQ(page->header("cache-control"), "no-cache");
  EXPECT_EQ(page->header("x-content-type-options"), "nosniff");
  EXPECT_EQ(page->header("x-frame-options"), "DENY");
  EXPECT_EQ(page->header("etag"), std::string(http::find_web_file("/index.html")->etag));
  EXPECT_NE(page->body.find("/static/app.js"), std::string::npos);

  // Every file of web/ under /static/, byte for byte, with its content type.
  const std::map<std::string, std::string> types = {{".js", "text/javascript; charset=utf-8"},
                                                    {".css", "text/css; charset=utf-8"},
                                                    {".svg", "image/svg+xml"},
                                                    {".html", "text/html; charset=utf-8"},
                                                    {".json", "application/json"}};
  ASSERT_GE(http::web_files().size(), 5u);
  for (const auto& file : http::web_files()) {
    if (file.path == "/index.html") continue;
    const auto r = web.request("GET", "/static" + std::string(file.path));
    ASSERT_TRUE(r) << file.path;
    EXPECT_EQ(r->status, 200) << file.path;
    EXPECT_EQ(r->body, file.body) << file.path;
    EXPECT_EQ(r->header("content-type"), types.at(fs::path(std::string(file.path)).extension().string())) << file.path;
    EXPECT_EQ(r->header("content-security-policy"), std::string(http::page_csp)) << file.path;
  }

  for (const char* missing : {"/static/missing.js", "/static/index.html", "/static/", "/index.html", "/static/../api/v1/me"}) {
    const auto r = web.request("GET", missing);
    ASSERT_TRUE(r) << missing;
    EXPECT_EQ(r->status, 404) << missing;
    EXPECT_EQ(error_of(*r), "not_found") << missing;
  }
  const auto post = web.request("POST", "/", "", "{}");
  ASSERT_TRUE(post);
  EXPECT_EQ(post->status, 405);
  EXPECT_EQ(post->header("allow"), "GET, HEAD");

  // Revalidation: the same ETag answers 304 without a body.
  web.send_raw("GET /static/app.js HTTP/1.1\r\nHost: vigil\r\nIf-None-Match: " +
               std::string(http::find_web_file("/app.js")->etag) + "\r\n\r\n");
  const auto cached = web.receive();
  ASSERT_TRUE(cached);
  EXPECT_EQ(cached->status, 304);
  EXPECT_EQ(cached->body, "");

  // HEAD: the GET's headers, its length included, and no body.
  const auto head = exchange_raw(d.http_port(), "HEAD / HTTP/1.1\r\nHost: vigil\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(head.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << head;
  EXPECT_NE(head.find(fmt::format("Content-Length: {}\r\n", page->body.size())), std::string::npos) << head;
  EXPECT_EQ(head.substr(head.size() - 4), "\r\n\r\n") << "nothing after the headers: " << head;
}

TEST(Http, MeSaysWhoTheTokenBelongsTo) {
  daemon_under_test d(http_config());
  http_client web(d.http_port());
  const std::vector<std::pair<std::string, std::string>> users = {
      {nurse_token, R"({"name":"nurse-bea","role":"nurse"})"}, {viewer_token, R"({"name":"dr-vic","role":"viewer"})"}};
  for (const auto& [token, expected_body] : users) {
    const auto me = web.request("GET", "/api/v1/me", token);
    ASSERT_TRUE(me);
    EXPECT_EQ(me->status, 200);
    EXPECT_EQ(me->body, expected_body + "\n");
  }
  const auto query = web.request("GET", "/api/v1/me?x=1", viewer_token);
  ASSERT_TRUE(query && query->status == 400);
}

TEST(Http, HealthzNeedsNoTokenAndNamesTheListenersAndTimeline) {
  temp_dir dir;
  daemon_under_test d(http_config(dir.path()));
  http_client client(d.http_port());
  const auto r = client.request("GET", "/healthz");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->header("content-type"), "application/json");
  EXPECT_NE(r->body.find("\"status\":\"ok\""), std::string::npos) << r->body;
  EXPECT_NE(r->body.find(fmt::format("\"http\":{}", d.http_port())), std::string::npos) << r->body;
  EXPECT_NE(r->body.find(fmt::format("\"ingest\":{}", d.port())), std::string::npos) << r->body;
  EXPECT_NE(r->body.find("\"timeline\":\"saving\""), std::string::npos) << r->body;
}

/// Runs `promtool check metrics` on `text`; its exit status and output.
std::pair<int, std::string> promtool_check(const std::string& text) {
  const auto file = fs::temp_directory_path() / ("vigil-metrics-" + std::to_string(getpid()) + ".txt");
  std::ofstream(file) << text;
  const std::string command = "promtool check metrics < " + file.string() + " 2>&1";
  std::string output;
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return {-1, "popen failed"};
  char chunk[512];
  while (const auto n = std::fread(chunk, 1, sizeof chunk, pipe)) output.append(chunk, n);
  const int status = pclose(pipe);
  fs::remove(file);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, output};
}

TEST(Http, MetricsAreValidPrometheusTextWithTheDaemonsCounters) {
  // scripts/setup.sh installs promtool (Debian package prometheus): missing is a failure, not a skip.
  ASSERT_EQ(std::system("command -v promtool > /dev/null 2>&1"), 0)
      << "promtool is not installed: run scripts/setup.sh (Debian package prometheus)";
  temp_dir dir;
  daemon_under_test d(http_config(dir.path()));
  clinic_fixture f(d);
  ASSERT_TRUE(f.sync());
  http_client client(d.http_port());
  const auto r = client.request("GET", "/metrics");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->header("content-type"), "text/plain; version=0.0.4; charset=utf-8");
  const auto& m = r->body;
  for (const char* line : {"# TYPE vigil_samples_accepted_total counter", "# TYPE vigil_connections gauge",
                           "# TYPE vigil_store_commit_latency_seconds histogram", "vigil_connections{listener=\"http\"} 1",
                           "vigil_connections{listener=\"ingest\"} 1", "vigil_sessions_open 3",
                           "vigil_alarms_active{priority=\"high\"} 1", "vigil_store_commit_latency_seconds_bucket{le=\"+Inf\"}",
                           "vigil_store_queue_items ", "vigil_protocol_errors_total 0", "vigil_store_failures_total 0",
                           "vigil_store_events_dropped_total 0", "vigil_alarms_raised_total{priority=\"high\"} "}) {
    EXPECT_NE(m.find(line), std::string::npos) << line << "\n" << m;
  }
  EXPECT_NE(m.find(fmt::format("vigil_samples_accepted_total {}", d.stats().samples_accepted.load())), std::string::npos) << m;
  const auto [status, output] = promtool_check(m);
  EXPECT_EQ(status, 0) << output << "\n" << m;
  std::printf("promtool check metrics: exit %d%s%s\n", status, output.empty() ? "" : ": ", output.c_str());
}

}  // namespace
}  // namespace vigil::test

namespace vigil::test {
namespace {

// Written against the daemon that kept the last of two values for one query parameter, though
// api.md said 400, and took chair ids of 1,000 characters or with control characters.
TEST(Http, ARepeatedQueryParameterAndAChairNoMonitorCouldNameAreRefused) {
  daemon_under_test d(http_config());
  http_client client(d.http_port());
  auto r = client.request("GET", "/api/v1/sessions?state=all&state=open", admin_token);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400) << r->body;
  EXPECT_EQ(error_of(*r), "invalid_argument");
  EXPECT_NE(r->body.find("'state' is given more than once"), std::string::npos) << r->body;

  for (const std::string& chair : {std::string(1'000, 'c'), std::string("chair\\u0007bell"), std::string("chair 1")}) {
    SCOPED_TRACE(chair.substr(0, 20));
    r = client.request("POST", "/api/v1/sessions", admin_token,
                       "{\"chair_id\":\"" + chair + "\",\"patient_ref\":\"P-1\"}");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 400) << r->body;
    EXPECT_NE(r->body.find("chair_id must be 1 to 64 printable ASCII characters"), std::string::npos) << r->body;
  }
  control_client ops(d.control_port());
  v1::ControlRequest pause;
  pause.set_token(admin_token);
  pause.mutable_pause_audio()->set_chair_id(std::string("chair\x1b[2J", 10));
  pause.mutable_pause_audio()->set_duration_s(60);
  const auto refused = ops.call(pause);
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->error(), v1::CONTROL_ERROR_INVALID_ARGUMENT);
}

}  // namespace
}  // namespace vigil::test

namespace vigil::test {
namespace {

// Taken while this test program was starting, before any test ran: the daemon under test runs
// in this process, so its process started shortly before.
const double program_began_s =
    std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();

/// The value of the one sample of `name` (a metric without labels) in `text`; nullopt if it
/// is missing or not a number. Also checks that its family has the `type` given.
std::optional<double> metric_value(const std::string& text, const std::string& name, const std::string& type) {
  if (text.find("# TYPE " + name + " " + type + "\n") == std::string::npos) return std::nullopt;
  const auto at = text.find("\n" + name + " ");
  if (at == std::string::npos) return std::nullopt;
  const auto begin = at + 1 + name.size() + 1;
  const auto end = text.find('\n', begin);
  const std::string number = text.substr(begin, end - begin);
  char* stop = nullptr;
  const double v = std::strtod(number.c_str(), &stop);
  if (stop != number.c_str() + number.size() || !std::isfinite(v)) return std::nullopt;
  return v;
}

// Written against the /metrics that said nothing of the process itself: an operator could not
// see vigild's memory, CPU or file descriptors (it holds one per connection) beside its counters.
TEST(Http, MetricsCarryTheProcessMetricsOfPrometheusConventions) {
  daemon_under_test d(http_config());
  http_client client(d.http_port());
  const auto r = client.request("GET", "/metrics");
  ASSERT_TRUE(r);
  const auto& m = r->body;
  const auto resident = metric_value(m, "process_resident_memory_bytes", "gauge");
  const auto virtual_bytes = metric_value(m, "process_virtual_memory_bytes", "gauge");
  const auto cpu = metric_value(m, "process_cpu_seconds_total", "counter");
  const auto open_fds = metric_value(m, "process_open_fds", "gauge");
  const auto max_fds = metric_value(m, "process_max_fds", "gauge");
  const auto start = metric_value(m, "process_start_time_seconds", "gauge");
  ASSERT_TRUE(resident && virtual_bytes && cpu && open_fds && max_fds && start) << m;
  EXPECT_GT(*resident, 1024.0 * 1024) << "a running daemon holds more than a MiB";
  EXPECT_GE(*virtual_bytes, *resident);
  EXPECT_GE(*cpu, 0.0);
  EXPECT_LT(*cpu, 24.0 * 3600) << "the CPU of this test's run, not of a day";
  // At least the listening sockets and this client's connection are open.
  EXPECT_GE(*open_fds, 3.0);
  EXPECT_LE(*open_fds, *max_fds);
  EXPECT_EQ(*open_fds, std::floor(*open_fds));
  // The process began before this test program's first statics, and not long before (the
  // kernel's boot time is whole seconds, the start ticks of 10 ms).
  EXPECT_LE(*start, program_began_s + 2) << std::fixed << *start << " vs " << program_began_s;
  EXPECT_GE(*start, program_began_s - 60) << std::fixed << *start << " vs " << program_began_s;
}

}  // namespace
}  // namespace vigil::test

#include "daemon/http/metrics.hpp"

namespace vigil::test {
namespace {

// A process's name may hold spaces and parentheses ("vigild (ward 3)"): the fields are counted
// from the last ')'.
TEST(Http, ProcessFiguresAreReadFromProcStatWhateverTheProcessIsCalled) {
  const std::string stat =
      "4242 (vigild (ward 3)) S 1 4242 4242 0 -1 4194560 1000 0 0 0 250 50 0 0 20 0 5 0 12345 104857600 2560 "
      "18446744073709551615 1 1 0 0 0 0 0 4096 17 0 0 0 0 0 0\n";
  const auto p = http::parse_proc_stat(stat, 100, 4096, 1'700'000'000.0);
  ASSERT_TRUE(p.cpu_seconds && p.start_time_seconds && p.virtual_bytes && p.resident_bytes);
  EXPECT_DOUBLE_EQ(*p.cpu_seconds, 3.0);                            // (250 + 50) ticks at 100 a second
  EXPECT_DOUBLE_EQ(*p.start_time_seconds, 1'700'000'000.0 + 123.45);  // boot time + 12345 ticks
  EXPECT_DOUBLE_EQ(*p.virtual_bytes, 104'857'600.0);
  EXPECT_DOUBLE_EQ(*p.resident_bytes, 2560.0 * 4096);
  const auto cut = http::parse_proc_stat("4242 (vigild) S 1 2", 100, 4096, std::nullopt);
  EXPECT_FALSE(cut.cpu_seconds || cut.start_time_seconds || cut.virtual_bytes || cut.resident_bytes);
}

}  // namespace
}  // namespace vigil::test
