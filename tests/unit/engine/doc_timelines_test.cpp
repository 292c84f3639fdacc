// The worked timelines of docs/alarms.md section 15, run on the engine: each test lists the
// events the document's table lists, at the times it gives, so the document stays exact.

#include "tests/unit/engine/engine_fixture.hpp"

#include <gtest/gtest.h>

#include <string>
#include <tuple>
#include <vector>

namespace vigil::engine::testing {
namespace {

constexpr millis s_ = seconds_ms;

/// (second since the timeline's t = 0, event type, rule, text or responder)
using row = std::tuple<long, event_type, std::string, std::string>;

std::vector<row> rows(const std::vector<event>& events, millis origin) {
  std::vector<row> out;
  for (const auto& e : events) {
    if (e.type != event_type::alarm_raised && e.type != event_type::alarm_cleared &&
        e.type != event_type::alarm_escalated && e.type != event_type::alarm_acknowledged &&
        e.type != event_type::alarm_resounded && e.type != event_type::audio_paused &&
        e.type != event_type::audio_resumed) {
      continue;
    }
    out.emplace_back(static_cast<long>((e.at - origin) / s_), e.type, e.rule,
                     e.type == event_type::alarm_escalated ? e.responder : e.text);
  }
  return out;
}

/// The generic profile's session in the baseline phase, a cuff reading of 120/75, and the
/// timeline's t = 0 a minute after it opens.
struct timeline {
  rig r{generic_profile()};
  millis origin = t0 + 60 * s_;
  timeline() {
    r.open(t0);
    r.cuff(120, 75, t0 + 1 * s_);
    for (long t = -59; t < 0; ++t) second(t, 97);
    r.take();
  }
  void second(long t, double spo2) {
    const millis at = origin + t * s_;
    r.advance(at - 1);
    r.feed(vital_kind::heart_rate, 75, at);
    r.feed(vital_kind::respiratory_rate, 14, at);
    r.feed(vital_kind::spo2, spo2, at);
  }
};

TEST(EngineDocTimelines, SpO2DropsTo89) {  // 15.1
  timeline tl;
  for (long t = 0; t <= 400; ++t) tl.second(t, t < 340 ? 89 : t < 360 ? 92 : 93);
  const auto got = rows(tl.r.take(), tl.origin);
  const std::vector<row> want = {
      {30, event_type::alarm_raised, "spo2_low", "spo2 89 % below 92"},
      {30, event_type::alarm_escalated, "spo2_low", "nurse"},
      {60, event_type::alarm_raised, "news2_urgent", "NEWS2 3 : urgent review"},
      {60, event_type::alarm_escalated, "news2_urgent", "nurse"},
      {330, event_type::alarm_escalated, "spo2_low", "charge_nurse"},
      {341, event_type::alarm_cleared, "news2_urgent", "NEWS2 down to 2"},
      {361, event_type::alarm_cleared, "spo2_low", "spo2 back to 93"},
  };
  EXPECT_EQ(got, want) << describe(tl.r.log);
}

TEST(EngineDocTimelines, AcknowledgeThenResound) {  // 15.3
  timeline tl;
  for (long t = 0; t <= 420; ++t) {
    if (t == 45) {
      const auto a = tl.r.must_alarm("spo2_low");
      ASSERT_TRUE(tl.r.ack(a.id, tl.origin + 45 * s_).ok());
    }
    tl.second(t, t < 400 ? 90 : 95);
  }
  const auto got = rows(tl.r.take(), tl.origin);
  const std::vector<row> want = {
      {30, event_type::alarm_raised, "spo2_low", "spo2 90 % below 92"},
      {30, event_type::alarm_escalated, "spo2_low", "nurse"},
      {45, event_type::alarm_acknowledged, "spo2_low", ""},
      {60, event_type::alarm_raised, "news2_urgent", "NEWS2 3 : urgent review"},
      {60, event_type::alarm_escalated, "news2_urgent", "nurse"},
      {345, event_type::alarm_resounded, "spo2_low", ""},
      {345, event_type::alarm_escalated, "spo2_low", "nurse"},
      {360, event_type::alarm_escalated, "news2_urgent", "charge_nurse"},
      {401, event_type::alarm_cleared, "news2_urgent", "NEWS2 down to 1"},
      {401, event_type::alarm_cleared, "spo2_low", "spo2 back to 95"},
  };
  EXPECT_EQ(got, want) << describe(tl.r.log);
}

TEST(EngineDocTimelines, AudioPauseEndedByAHighPriorityAlarm) {  // 15.4
  timeline tl;
  ASSERT_TRUE(tl.r.pause(120 * s_, tl.origin).ok());
  for (long t = 0; t <= 200; ++t) tl.second(t, t >= 20 && t < 60 ? 85 : 97);
  const auto got = rows(tl.r.take(), tl.origin);
  const std::vector<row> want = {
      {0, event_type::audio_paused, "", ""},
      {30, event_type::alarm_raised, "spo2_critical", "spo2 85 % below 88"},
      {30, event_type::audio_resumed, "", "audio pause ended by a new high-priority alarm"},
      {30, event_type::alarm_escalated, "spo2_critical", "nurse"},
      {50, event_type::alarm_raised, "spo2_low", "spo2 85 % below 92"},
      {50, event_type::alarm_escalated, "spo2_low", "nurse"},
      {61, event_type::alarm_cleared, "spo2_low", "spo2 back to 97"},
  };
  EXPECT_EQ(got, want) << describe(tl.r.log);
}


TEST(EngineDocTimelines, ALatchedAlarmComesBackAtItsConfirmingReading) {  // 14, item 4
  timeline tl;
  auto hr = [&](long t, double value) {
    const millis at = tl.origin + t * s_;
    tl.r.advance(at - 1);
    tl.r.feed(vital_kind::heart_rate, value, at);
    tl.r.feed(vital_kind::respiratory_rate, 14, at);
    tl.r.feed(vital_kind::spo2, 97, at);
  };
  for (long t = 0; t <= 420; ++t) hr(t, t < 100 ? 150 : (t == 400 || t == 401) ? 160 : 130);
  std::vector<row> got;
  for (const auto& r : rows(tl.r.take(), tl.origin)) {
    if (std::get<2>(r) == "hr_critical") got.push_back(r);
  }
  const std::vector<row> want = {
      {31, event_type::alarm_raised, "hr_critical", "heart_rate 150 bpm above 140"},
      {31, event_type::alarm_escalated, "hr_critical", "nurse"},
      {401, event_type::alarm_escalated, "hr_critical", "charge_nurse"},
      {401, event_type::alarm_escalated, "hr_critical", "physician"},
  };
  EXPECT_EQ(got, want) << describe(tl.r.log);
  ASSERT_TRUE(tl.r.alarm("hr_critical"));
}
}  // namespace
}  // namespace vigil::engine::testing
