// The engine inside vigild: sessions driven over the control port, alarms from samples
// streamed over the device port, through real sockets on 127.0.0.1.

#include "tests/integration/clinic_scenario.hpp"

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <tuple>
#include <vector>

namespace vigil::test {
namespace {

using namespace std::chrono_literals;

v1::ControlRequest open_on(const std::string& chair) {
  v1::ControlRequest r;
  r.mutable_open_session()->set_chair_id(chair);
  r.mutable_open_session()->set_patient_ref("P-1001");
  return r;
}

v1::ControlRequest dose_on(const std::string& chair) {
  v1::ControlRequest r;
  r.mutable_mark_dose()->set_chair_id(chair);
  r.mutable_mark_dose()->set_route("intranasal");
  r.mutable_mark_dose()->set_dose("56 mg");
  return r;
}

v1::ControlRequest list() {
  v1::ControlRequest r;
  r.mutable_list_sessions();
  return r;
}

TEST(Clinic, ControlNeedsAKnownToken) {
  daemon_under_test d;
  control_client ops(d.control_port());
  auto request = list();
  request.set_token("not-a-token");
  const auto response = ops.call(request);
  ASSERT_TRUE(response);
  EXPECT_EQ(response->error(), v1::CONTROL_ERROR_UNAUTHORIZED);
  EXPECT_FALSE(response->message().empty());
}

TEST(Clinic, SessionCommandsReportClearErrors) {
  daemon_under_test d;
  control_client ops(d.control_port());
  auto response = ops.call(dose_on("chair-1"));
  ASSERT_TRUE(response);
  EXPECT_EQ(response->error(), v1::CONTROL_ERROR_NO_OPEN_SESSION);

  response = ops.call(open_on("chair-1"));
  ASSERT_TRUE(response);
  EXPECT_EQ(response->error(), v1::CONTROL_ERROR_NONE) << response->message();
  EXPECT_GT(response->session_id(), 0u);
  EXPECT_EQ(ops.call(open_on("chair-1"))->error(), v1::CONTROL_ERROR_SESSION_ALREADY_OPEN);

  // No blood pressure taken yet: the first dose has to wait.
  response = ops.call(dose_on("chair-1"));
  EXPECT_EQ(response->error(), v1::CONTROL_ERROR_PREDOSE_GATE);
  EXPECT_NE(response->message().find("pre-dose"), std::string::npos) << response->message();

  v1::ControlRequest ack;
  ack.mutable_acknowledge()->set_chair_id("chair-1");
  ack.mutable_acknowledge()->set_alarm_id(999);
  EXPECT_EQ(ops.call(ack)->error(), v1::CONTROL_ERROR_UNKNOWN_ALARM);

  auto unknown = open_on("chair-2");
  unknown.mutable_open_session()->set_profile("no-such-profile");
  EXPECT_EQ(ops.call(unknown)->error(), v1::CONTROL_ERROR_UNKNOWN_PROFILE);
}

TEST(Clinic, ADoseAndACloseMayNameTheirMomentOnTheChairsClock) {
  daemon_under_test d;
  control_client ops(d.control_port());
  ASSERT_EQ(ops.call(open_on("chair-1"))->error(), v1::CONTROL_ERROR_NONE);
  auto listed = ops.call(list());
  ASSERT_EQ(listed->sessions_size(), 1);
  const std::int64_t opened = listed->sessions(0).opened_at_ms();

  test_client monitor(d.port());
  ASSERT_TRUE(monitor.hello("dev-1", device_token, "chair-1")->has_welcome());
  const std::int64_t t0 = opened + 1000;
  monitor.send(batch_of(1, {{v1::NIBP_SYSTOLIC, 122, t0}, {v1::NIBP_DIASTOLIC, 78, t0}, {v1::HEART_RATE, 72, t0}}));
  ASSERT_TRUE(monitor.wait_ack(1));

  auto dose = dose_on("chair-1");
  dose.mutable_mark_dose()->set_at_ms(opened - 1);
  auto response = ops.call(dose);
  EXPECT_EQ(response->error(), v1::CONTROL_ERROR_INVALID_ARGUMENT) << "before the session opened";
  EXPECT_NE(response->message().find("before the session opened"), std::string::npos) << response->message();
  dose.mutable_mark_dose()->set_at_ms(t0 + 60'000);
  EXPECT_EQ(ops.call(dose)->error(), v1::CONTROL_ERROR_INVALID_ARGUMENT) << "a minute ahead of the chair's clock";

  // Half a second after the latest sample: the dose is marked at exactly that moment.
  dose.mutable_mark_dose()->set_at_ms(t0 + 500);
  ASSERT_EQ(ops.call(dose)->error(), v1::CONTROL_ERROR_NONE);
  listed = ops.call(list());
  EXPECT_EQ(listed->sessions(0).dose_at_ms(), t0 + 500);

  // A moment the chair's clock has passed takes effect at the clock.
  v1::ControlRequest close;
  close.mutable_close_session()->set_chair_id("chair-1");
  close.mutable_close_session()->set_at_ms(t0);
  EXPECT_EQ(ops.call(close)->error(), v1::CONTROL_ERROR_NONE);
}

TEST(Clinic, StreamedDesaturationRaisesAnAlarmThatANurseAcknowledges) {
  daemon_under_test d;
  control_client ops(d.control_port());
  ASSERT_EQ(ops.call(open_on("chair-1"))->error(), v1::CONTROL_ERROR_NONE);

  test_client monitor(d.port());
  ASSERT_TRUE(monitor.hello("dev-1", device_token, "chair-1")->has_welcome());
  const std::int64_t t0 = wall_ms();
  std::uint64_t seq = 0;
  monitor.send(batch_of(++seq, {{v1::NIBP_SYSTOLIC, 122, t0}, {v1::NIBP_DIASTOLIC, 78, t0}, {v1::NIBP_MEAN, 93, t0},
                                {v1::HEART_RATE, 72, t0}, {v1::SPO2, 97, t0}}));
  ASSERT_TRUE(monitor.wait_ack(seq));
  auto response = ops.call(dose_on("chair-1"));
  ASSERT_EQ(response->error(), v1::CONTROL_ERROR_NONE) << response->message();

  // Thirty seconds of SpO2 at 85 %, one sample a second on the monitor's clock.
  for (int s = 1; s <= 30; ++s) {
    const std::int64_t at = t0 + 1000 + s * 1000;
    monitor.send(batch_of(++seq, {{v1::HEART_RATE, 80, at}, {v1::SPO2, 85, at}}));
  }
  ASSERT_TRUE(monitor.wait_ack(seq));

  response = ops.call(list());
  ASSERT_TRUE(response);
  ASSERT_EQ(response->sessions_size(), 1);
  const auto& session = response->sessions(0);
  EXPECT_EQ(session.chair_id(), "chair-1");
  EXPECT_EQ(session.phase(), v1::PHASE_OBSERVATION);
  const v1::AlarmState* desaturation = nullptr;
  for (const auto& a : session.alarms()) {
    if (a.rule().rfind("spo2", 0) == 0 && a.priority() == v1::PRIORITY_HIGH) desaturation = &a;
  }
  ASSERT_NE(desaturation, nullptr) << response->DebugString();
  EXPECT_EQ(desaturation->kind(), v1::ALARM_KIND_PHYSIOLOGICAL);
  EXPECT_TRUE(desaturation->audible());
  const std::uint64_t alarm_id = desaturation->alarm_id();  // `response` is reused below

  v1::ControlRequest ack;
  ack.mutable_acknowledge()->set_chair_id("chair-1");
  ack.mutable_acknowledge()->set_alarm_id(alarm_id);
  response = ops.call(ack);
  ASSERT_EQ(response->error(), v1::CONTROL_ERROR_NONE) << response->message();

  response = ops.call(list());
  bool acknowledged = false;
  for (const auto& a : response->sessions(0).alarms()) {
    if (a.alarm_id() == alarm_id) {
      acknowledged = a.acknowledged() && a.acknowledged_by() == "nurse-ana" && !a.audible();
    }
  }
  EXPECT_TRUE(acknowledged) << response->DebugString();
}

/// The SpO2 alarms of chair-7 after a monitor reading 82 % streams for 20 s on the chair's
/// clock, with (or without) a pulse oximeter configured for the same chair reading 97 % beside it.
/// The first sample is stamped 10 s after the open, so that the wall-clock tick cannot have
/// moved the chair's clock past it however slowly the test runs.
std::vector<std::tuple<std::string, v1::Priority, std::int64_t, double>> spo2_alarms_with(bool oximeter) {
  auto config = test_config();
  config.ingest.devices.push_back({"monitor-7", device_token, "chair-7"});
  config.ingest.devices.push_back({"oximeter-7", device_token, "chair-7"});
  daemon_under_test d(config);
  control_client ops(d.control_port());
  EXPECT_EQ(ops.call(open_on("chair-7"))->error(), v1::CONTROL_ERROR_NONE);
  const std::int64_t opened = ops.call(list())->sessions(0).opened_at_ms();

  test_client monitor(d.port());
  EXPECT_TRUE(monitor.hello("monitor-7", device_token, "chair-7")->has_welcome());
  std::optional<test_client> second;
  if (oximeter) {
    second.emplace(d.port());
    EXPECT_TRUE(second->hello("oximeter-7", device_token, "chair-7")->has_welcome());
  }
  for (std::uint64_t s = 1; s <= 20; ++s) {
    const std::int64_t at = opened + 9'000 + static_cast<std::int64_t>(s) * 1000;
    monitor.send(batch_of(s, {{v1::SPO2, 82, at}}));
    EXPECT_TRUE(monitor.wait_ack(s));
    if (second) {
      second->send(batch_of(s, {{v1::SPO2, 97, at + 500}}));
      EXPECT_TRUE(second->wait_ack(s));
    }
  }
  std::vector<std::tuple<std::string, v1::Priority, std::int64_t, double>> out;
  const auto response = ops.call(list());
  EXPECT_EQ(response->sessions_size(), 1);
  for (const auto& a : response->sessions(0).alarms()) {
    if (a.rule().rfind("spo2", 0) == 0) out.emplace_back(a.rule(), a.priority(), a.raised_at_ms() - opened, a.value());
  }
  return out;
}

TEST(Clinic, TwoDevicesOfOneChairDoNotMaskEachOthersAlarm) {
  const auto alone = spo2_alarms_with(false);
  ASSERT_EQ(alone.size(), 1u);
  EXPECT_EQ(std::get<0>(alone[0]), "spo2_critical");
  EXPECT_EQ(std::get<1>(alone[0]), v1::PRIORITY_HIGH);
  EXPECT_EQ(std::get<2>(alone[0]), 20'000) << "the first 82 % at 10 s, then the rule's 10 s";
  EXPECT_EQ(spo2_alarms_with(true), alone);
}

TEST(Clinic, ChairStreamingWithoutASessionDisturbsNoOther) {
  daemon_under_test d;
  control_client ops(d.control_port());
  ASSERT_EQ(ops.call(open_on("chair-1"))->error(), v1::CONTROL_ERROR_NONE);
  test_client stray(d.port());
  ASSERT_TRUE(stray.hello("dev-9", device_token, "chair-9")->has_welcome());
  const std::int64_t t0 = wall_ms();
  stray.send(batch_of(1, {{v1::SPO2, 70, t0}, {v1::HEART_RATE, 190, t0}}));
  ASSERT_TRUE(stray.wait_ack(1));
  const auto response = ops.call(list());
  ASSERT_EQ(response->sessions_size(), 1);
  EXPECT_EQ(response->sessions(0).chair_id(), "chair-1");
  // The stray chair is visible, with an advisory rather than a physiological alarm.
  ASSERT_EQ(response->advisories_size(), 1);
  EXPECT_EQ(response->advisories(0).chair_id(), "chair-9");
  EXPECT_EQ(response->advisories(0).alarm().rule(), "no_session");
  EXPECT_EQ(response->advisories(0).alarm().kind(), v1::ALARM_KIND_ADVISORY);
  for (const auto& a : response->sessions(0).alarms()) EXPECT_EQ(a.kind(), v1::ALARM_KIND_TECHNICAL) << a.rule();
}

}  // namespace
}  // namespace vigil::test

namespace vigil::test {
namespace {

TEST(Clinic, GuessingTokensEndsTheConnection) {
  daemon_under_test d;
  control_client ops(d.control_port());
  auto request = list();
  request.set_token("guess-number-1");
  for (int i = 0; i < 3; ++i) {
    const auto response = ops.call(request);
    ASSERT_TRUE(response) << "try " << i;
    EXPECT_EQ(response->error(), v1::CONTROL_ERROR_UNAUTHORIZED);
  }
  EXPECT_FALSE(ops.call(request)) << "the daemon closes the connection after three unknown tokens";
  control_client again(d.control_port());
  EXPECT_EQ(again.call(list())->error(), v1::CONTROL_ERROR_NONE) << "others are not affected";
}

}  // namespace
}  // namespace vigil::test

namespace vigil::test {
namespace {

TEST(Clinic, EachRoleMayDoWhatItAllowsAndNoMore) {
  auto config = test_config();
  config.users = {{"ward-screen", "viewer-token-0001", control::role::viewer},
                  {"nurse-cy", "nurse-token-00002", control::role::nurse},
                  {"dr-bo", "admin-token-000003", control::role::admin}};
  daemon_under_test d(config);
  control_client ops(d.control_port());
  auto as = [](std::string token, v1::ControlRequest r) {
    r.set_token(std::move(token));
    return r;
  };
  // Viewers see, and change nothing.
  EXPECT_EQ(ops.call(as("viewer-token-0001", list()))->error(), v1::CONTROL_ERROR_NONE);
  const auto refused = ops.call(as("viewer-token-0001", open_on("chair-1")));
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->error(), v1::CONTROL_ERROR_FORBIDDEN);
  EXPECT_NE(refused->message().find("needs admin"), std::string::npos) << refused->message();
  // Nurses add notes, acknowledge, pause and re-take baselines, but do not run sessions.
  EXPECT_EQ(ops.call(as("nurse-token-00002", open_on("chair-1")))->error(), v1::CONTROL_ERROR_FORBIDDEN);
  EXPECT_EQ(ops.call(as("admin-token-000003", open_on("chair-1")))->error(), v1::CONTROL_ERROR_NONE);
  v1::ControlRequest note;
  note.mutable_add_note()->set_chair_id("chair-1");
  note.mutable_add_note()->set_text("comfortable");
  EXPECT_EQ(ops.call(as("viewer-token-0001", note))->error(), v1::CONTROL_ERROR_FORBIDDEN);
  EXPECT_EQ(ops.call(as("nurse-token-00002", note))->error(), v1::CONTROL_ERROR_NONE);
  v1::ControlRequest pause;
  pause.mutable_pause_audio()->set_chair_id("chair-1");
  pause.mutable_pause_audio()->set_duration_s(60);
  EXPECT_EQ(ops.call(as("viewer-token-0001", pause))->error(), v1::CONTROL_ERROR_FORBIDDEN);
  EXPECT_EQ(ops.call(as("nurse-token-00002", pause))->error(), v1::CONTROL_ERROR_NONE);
  EXPECT_EQ(ops.call(as("nurse-token-00002", dose_on("chair-1")))->error(), v1::CONTROL_ERROR_FORBIDDEN);
  v1::ControlRequest retake;
  retake.mutable_retake_baseline()->set_chair_id("chair-1");
  retake.mutable_retake_baseline()->set_reason("cuff slipped");
  EXPECT_EQ(ops.call(as("viewer-token-0001", retake))->error(), v1::CONTROL_ERROR_FORBIDDEN);
  EXPECT_EQ(ops.call(as("nurse-token-00002", retake))->error(), v1::CONTROL_ERROR_NONE);
  v1::ControlRequest close;
  close.mutable_close_session()->set_chair_id("chair-1");
  EXPECT_EQ(ops.call(as("nurse-token-00002", close))->error(), v1::CONTROL_ERROR_FORBIDDEN);
  EXPECT_EQ(ops.call(as("admin-token-000003", close))->error(), v1::CONTROL_ERROR_NONE);
  // A device token is not a user's.
  EXPECT_EQ(ops.call(as(device_token, list()))->error(), v1::CONTROL_ERROR_UNAUTHORIZED);
}

}  // namespace
}  // namespace vigil::test

namespace vigil::test {
namespace {

// Written against the daemon that let any device whose entry names no chair (the demo's sim-*)
// name any chair: streaming normal SpO2 into a chair whose own monitor read 82 % kept that chair
// from ever alarming.
TEST(Clinic, ADeviceWithNoConfiguredChairCannotFeedAChairAnotherDeviceServes) {
  auto config = test_config();
  config.ingest.devices.push_back({"monitor-3", device_token, "chair-3"});
  daemon_under_test d(config);
  control_client ops(d.control_port());
  ASSERT_EQ(ops.call(open_on("chair-3"))->error(), v1::CONTROL_ERROR_NONE);
  ASSERT_EQ(ops.call(open_on("chair-5"))->error(), v1::CONTROL_ERROR_NONE);

  test_client monitor(d.port());
  ASSERT_TRUE(monitor.hello("monitor-3", device_token, "chair-3")->has_welcome());
  test_client intruder(d.port());
  const auto refused = intruder.hello("dev-66", device_token, "chair-3");
  ASSERT_TRUE(refused && refused->has_error()) << "a chair configured for a device is that device's";
  EXPECT_EQ(refused->error().code(), v1::BAD_CHAIR);
  EXPECT_NE(refused->error().message().find("configured"), std::string::npos) << refused->error().message();

  // Two devices of the same prefix entry: the first to name chair-5 serves it.
  test_client first(d.port());
  ASSERT_TRUE(first.hello("dev-1", device_token, "chair-5")->has_welcome());
  test_client second(d.port());
  const auto taken = second.hello("dev-2", device_token, "chair-5");
  ASSERT_TRUE(taken && taken->has_error());
  EXPECT_EQ(taken->error().code(), v1::BAD_CHAIR);
  EXPECT_NE(taken->error().message().find("dev-1"), std::string::npos) << taken->error().message();

  // The monitor's desaturation alarms as it would alone.
  const std::int64_t opened = ops.call(list())->sessions(0).opened_at_ms();
  for (std::uint64_t s = 1; s <= 25; ++s) {
    monitor.send(batch_of(s, {{v1::SPO2, 82, opened + 9'000 + static_cast<std::int64_t>(s) * 1000}}));
    ASSERT_TRUE(monitor.wait_ack(s));
  }
  bool critical = false;
  const auto listed = ops.call(list());
  ASSERT_TRUE(listed);
  for (const auto& session : listed->sessions()) {
    for (const auto& a : session.alarms()) critical = critical || (session.chair_id() == "chair-3" && a.rule() == "spo2_critical");
  }
  EXPECT_TRUE(critical);
}

TEST(Clinic, AChairPassesToAnotherDeviceOnlyOnceItsDeviceHasGoneAndItsSessionIsOver) {
  daemon_under_test d;
  control_client ops(d.control_port());
  ASSERT_EQ(ops.call(open_on("chair-6"))->error(), v1::CONTROL_ERROR_NONE);
  {
    test_client first(d.port());
    ASSERT_TRUE(first.hello("dev-1", device_token, "chair-6")->has_welcome());
  }
  // Gone, but the session is open: still dev-1's chair.
  {
    test_client second(d.port());
    const auto r = second.hello("dev-2", device_token, "chair-6");
    ASSERT_TRUE(r && r->has_error());
    EXPECT_EQ(r->error().code(), v1::BAD_CHAIR);
  }
  v1::ControlRequest close;
  close.mutable_close_session()->set_chair_id("chair-6");
  ASSERT_EQ(ops.call(close)->error(), v1::CONTROL_ERROR_NONE);
  test_client second(d.port());
  EXPECT_TRUE(second.hello("dev-2", device_token, "chair-6")->has_welcome());
}

}  // namespace
}  // namespace vigil::test
