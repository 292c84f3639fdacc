// vigild with its timeline in PostgreSQL (store.backend: postgres), through real sockets on
// 127.0.0.1, against a throwaway server of the test's own: a restart on the same database brings
// every chair back; while the server is stopped, alarms keep reaching subscribers from memory,
// acks pause, the technical alarm shows, and everything is saved, once, when it is back.

#include "tests/integration/clinic_scenario.hpp"

#include "daemon/store/postgres.hpp"
#include "daemon/store/postgres_timeline.hpp"
#include "tests/common/postgres_server.hpp"
#include "vigil/v1/control.pb.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <set>
#include <thread>

namespace vigil::test {
namespace {

using namespace std::chrono_literals;

/// A fresh database on a server of this test's own.
struct clinic_database {
  clinic_database() { store::pg::connection(server.url()).exec("CREATE DATABASE clinic", "create the database"); }
  std::string url() const { return server.url("clinic"); }
  postgres_server server;
};

config::daemon_config on_postgres(const clinic_database& db) {
  auto config = fast_config();
  config.store.backend = "postgres";
  config.store.url = db.url();
  return config;
}

/// The chair's session as the control port lists it; nullopt when it has none.
std::optional<v1::SessionState> session_of(control_client& ops, const std::string& chair) {
  v1::ControlRequest list;
  list.mutable_list_sessions();
  const auto response = ops.call(list);
  if (!response) return std::nullopt;
  for (const auto& s : response->sessions()) {
    if (s.chair_id() == chair) return s;
  }
  return std::nullopt;
}

std::set<std::string> active_rules(control_client& ops, const std::string& chair) {
  std::set<std::string> rules;
  if (auto s = session_of(ops, chair)) {
    for (const auto& a : s->alarms()) rules.insert(a.rule());
  }
  return rules;
}

/// Asks again until the chair's alarms satisfy `pred` or the default wait passes: storage news
/// reaches the clinic from the writer thread.
template <class Pred>
bool eventually_rules(control_client& ops, const std::string& chair, Pred pred) {
  const auto deadline = std::chrono::steady_clock::now() + default_wait;
  while (std::chrono::steady_clock::now() < deadline) {
    if (pred(active_rules(ops, chair))) return true;
  }
  return false;
}

/// The next event of `type` on the feed; nullopt if none arrives in time.
std::optional<v1::TimelineEvent> next_of(feed_client& feed, v1::EventType type) {
  while (auto m = feed.next_event()) {
    if (m->has_event() && m->event().event().type() == type) return m->event().event();
  }
  return std::nullopt;
}

TEST(PostgresStore, ADaemonStartedAgainOnTheSameDatabaseRestoresItsChairsAlarmsAndDevices) {
  clinic_database db;
  const auto config = on_postgres(db);
  std::map<std::uint64_t, std::string> alarms;  // id -> rule, each acknowledged
  {
    daemon_under_test d(config);
    control_client ops(d.control_port());
    open_session(ops, "chair-1");
    test_client monitor(d.port());
    ASSERT_TRUE(monitor.hello("dev-1", device_token, "chair-1")->has_welcome());
    const std::int64_t t0 = wall_ms();
    monitor.send(vitals(1, t0, 72, 97));
    monitor.send(vitals(2, t0 + 1000, 74, 80));  // a desaturation: spo2_low and spo2_critical
    ASSERT_TRUE(monitor.wait_ack(2));
    const auto s = session_of(ops, "chair-1");
    ASSERT_TRUE(s && s->alarms_size() == 2) << (s ? s->DebugString() : std::string("no session"));
    for (const auto& a : s->alarms()) {
      alarms[a.alarm_id()] = a.rule();
      v1::ControlRequest ack;
      ack.mutable_acknowledge()->set_chair_id("chair-1");
      ack.mutable_acknowledge()->set_alarm_id(a.alarm_id());
      ASSERT_EQ(ops.call(ack)->error(), v1::CONTROL_ERROR_NONE);
    }
  }
  daemon_under_test d(config);
  control_client ops(d.control_port());
  const auto s = session_of(ops, "chair-1");
  ASSERT_TRUE(s) << "the open session came back from the database";
  std::map<std::uint64_t, std::string> restored;
  for (const auto& a : s->alarms()) {
    restored[a.alarm_id()] = a.rule();
    EXPECT_TRUE(a.acknowledged()) << a.rule();
    EXPECT_EQ(a.acknowledged_by(), "nurse-ana") << a.rule();
  }
  EXPECT_EQ(restored, alarms) << "the same alarms, with the same ids";
  test_client monitor(d.port());
  const auto welcome = monitor.hello("dev-1", device_token, "chair-1");
  ASSERT_TRUE(welcome && welcome->has_welcome());
  EXPECT_EQ(welcome->welcome().acked_seq(), 2u) << "the device resumes after its last durable ack";

  store::postgres_reader reader(db.url());
  EXPECT_EQ(reader.session_vitals(s->session_id()).size(), 4u);

  // The REST API's stored sessions, exports and report read the same database.
  http_client http(d.http_port());
  const std::string base = "/api/v1/sessions/" + std::to_string(s->session_id());
  const auto stored = http.request("GET", "/api/v1/sessions?state=all&limit=10", operator_token);
  ASSERT_TRUE(stored && stored->status == 200);
  EXPECT_NE(stored->body.find("P-chair-1"), std::string::npos) << stored->body;
  const auto timeline = http.request("GET", base + "/timeline.json", operator_token);
  ASSERT_TRUE(timeline && timeline->status == 200) << (timeline ? timeline->body : "no answer");
  EXPECT_NE(timeline->body.find("spo2_critical"), std::string::npos);
  const auto csv = http.request("GET", base + "/timeline.csv?what=vitals", operator_token);
  ASSERT_TRUE(csv && csv->status == 200);
  EXPECT_EQ(std::count(csv->body.begin(), csv->body.end(), '\n'), 5) << "a header and the 4 samples:\n" << csv->body;
  const auto report = http.request("GET", base + "/report.html", operator_token);
  ASSERT_TRUE(report && report->status == 200);
  EXPECT_NE(report->body.find("P-chair-1"), std::string::npos);
}

TEST(PostgresStore, WhileTheServerIsStoppedAlarmsReachSubscribersAcksPauseAndAllIsSavedOnceWhenItIsBack) {
  clinic_database db;
  daemon_under_test d(on_postgres(db));
  control_client ops(d.control_port());
  open_session(ops, "chair-1");
  feed_client feed(d.feed_port());
  feed.subscribe(subscribe_to({"chair-1"}));
  ASSERT_TRUE(feed.next()->has_snapshot());
  const std::int64_t t0 = wall_ms();
  std::uint64_t seq = 1;
  {
    test_client monitor(d.port());
    ASSERT_TRUE(monitor.hello("dev-1", device_token, "chair-1")->has_welcome());
    monitor.send(vitals(seq, t0, 72, 97));
    ASSERT_TRUE(monitor.wait_ack(seq));
  }

  db.server.stop();
  // The server stays down for 10 s while the monitor keeps reconnecting and sending its
  // readings (a desaturation among them): none is acked, the alarm is raised from memory.
  const auto down_until = std::chrono::steady_clock::now() + 10s;
  std::uint64_t acked = seq;
  bool desaturation_seen = false;
  bool technical_seen = false;
  while (std::chrono::steady_clock::now() < down_until) {
    test_client monitor(d.port());
    const auto welcome = monitor.hello("dev-1", device_token, "chair-1");
    ASSERT_TRUE(welcome && welcome->has_welcome());
    EXPECT_EQ(welcome->welcome().acked_seq(), acked) << "nothing is acked while the server is down";
    // The device resends what was not acked, then one reading more.
    for (std::uint64_t s = acked + 1; s <= seq; ++s) monitor.send(vitals(s, t0 + static_cast<std::int64_t>(s) * 1000, 74, 80));
    ++seq;
    monitor.send(vitals(seq, t0 + static_cast<std::int64_t>(seq) * 1000, 74, 80));
    EXPECT_FALSE(monitor.wait_ack(seq, 2s));
    if (!desaturation_seen) {
      const auto raised = next_of(feed, v1::EVENT_TYPE_ALARM_RAISED);
      ASSERT_TRUE(raised) << "the alarm reaches the subscriber while the database is down";
      desaturation_seen = true;
    }
    technical_seen = technical_seen || active_rules(ops, "chair-1").count("timeline_not_saved") == 1;
  }
  EXPECT_TRUE(desaturation_seen);
  EXPECT_TRUE(eventually_rules(ops, "chair-1", [](const auto& r) { return r.count("timeline_not_saved") == 1; }))
      << "the technical alarm shows";
  EXPECT_TRUE(active_rules(ops, "chair-1").count("spo2_critical") == 1 ||
              active_rules(ops, "chair-1").count("spo2_low") == 1);

  db.server.start();
  {
    test_client monitor(d.port());
    const auto welcome = monitor.hello("dev-1", device_token, "chair-1");
    ASSERT_TRUE(welcome && welcome->has_welcome());
    EXPECT_EQ(welcome->welcome().acked_seq(), acked);
    for (std::uint64_t s = acked + 1; s <= seq; ++s) monitor.send(vitals(s, t0 + static_cast<std::int64_t>(s) * 1000, 74, 80));
    // The first group after the server is back may still find the old connection broken.
    if (!monitor.wait_ack(seq)) {
      test_client again(d.port());
      ASSERT_TRUE(again.hello("dev-1", device_token, "chair-1")->has_welcome());
      for (std::uint64_t s = acked + 1; s <= seq; ++s) again.send(vitals(s, t0 + static_cast<std::int64_t>(s) * 1000, 74, 80));
      ASSERT_TRUE(again.wait_ack(seq));
    }
  }
  EXPECT_TRUE(eventually_rules(ops, "chair-1", [](const auto& r) { return r.count("timeline_not_saved") == 0; }));

  const auto session = session_of(ops, "chair-1");
  ASSERT_TRUE(session);
  store::postgres_reader reader(db.url());
  const auto samples = reader.session_vitals(session->session_id());
  EXPECT_EQ(samples.size(), 2 * seq) << "every reading, acked once the server was back";
  std::set<std::pair<int, std::int64_t>> distinct;
  for (const auto& s : samples) distinct.emplace(static_cast<int>(s.sample.kind), s.sample.time_ms);
  EXPECT_EQ(distinct.size(), samples.size()) << "no sample stored twice";
  std::map<std::string, int> raised;
  for (const auto& e : reader.session_events(session->session_id())) {
    if (e.type == engine::event_type::alarm_raised) ++raised[e.rule];
  }
  EXPECT_EQ(raised, (std::map<std::string, int>{{"spo2_critical", 1}, {"spo2_low", 1}, {"timeline_not_saved", 1}}))
      << "raised while the server was down, each written once it was back";
}

}  // namespace
}  // namespace vigil::test
