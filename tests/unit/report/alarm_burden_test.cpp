// The alarm burden from hand-built events: what counts as an alarm, a short one, an
// acknowledged one, the time to acknowledge and patient time, with exact numbers.

#include "daemon/report/alarm_burden.hpp"

#include <gtest/gtest.h>

#include <vector>

namespace vigil::report {
namespace {

using engine::alarm_kind;
using engine::event_type;
using engine::priority;

constexpr millis t0 = 1'714'638'600'000;  // 2024-05-02 08:30:00 UTC
constexpr millis s = 1'000;
constexpr millis minute = 60 * s;

engine::event ev(event_type type, millis at, std::uint64_t session, std::uint64_t alarm = 0, std::string rule = "",
                 priority level = priority::low, alarm_kind kind = alarm_kind::physiological) {
  engine::event e;
  e.type = type;
  e.at = at;
  e.chair = "chair-1";
  e.session = session;
  e.alarm = alarm;
  e.rule = std::move(rule);
  e.level = level;
  e.kind = kind;
  return e;
}

/// Session 1, two hours (08:30 to 10:30): four alarms.
///  A1 spo2_low medium: raised +10 min, acknowledged after 20 s, cleared after 25 s (short).
///  A2 spo2_low medium: raised +30 min, acknowledged after 90 s, cleared after 5 min.
///  A3 stale_spo2 medium technical: raised +60 min, cleared after 29.999 s (short), never acknowledged.
///  A4 systolic_high high: raised +100 min, acknowledged after 40 s and again later, cleared at the close (+120 min).
std::vector<engine::event> two_hour_session() {
  using enum event_type;
  const millis a1 = t0 + 10 * minute, a2 = t0 + 30 * minute, a3 = t0 + 60 * minute, a4 = t0 + 100 * minute;
  return {
      ev(session_opened, t0, 1),
      ev(alarm_raised, a1, 1, 11, "spo2_low", priority::medium),
      ev(alarm_escalated, a1, 1, 11, "spo2_low", priority::medium),
      ev(alarm_acknowledged, a1 + 20 * s, 1, 11, "spo2_low", priority::medium),
      ev(alarm_cleared, a1 + 25 * s, 1, 11, "spo2_low", priority::medium),
      ev(alarm_raised, a2, 1, 12, "spo2_low", priority::medium),
      ev(alarm_acknowledged, a2 + 90 * s, 1, 12, "spo2_low", priority::medium),
      ev(alarm_resounded, a2 + 90 * s + 5 * minute - s, 1, 12, "spo2_low", priority::medium),
      ev(alarm_cleared, a2 + 5 * minute, 1, 12, "spo2_low", priority::medium),
      ev(alarm_raised, a3, 1, 13, "stale_spo2", priority::medium, alarm_kind::technical),
      ev(alarm_cleared, a3 + 29'999, 1, 13, "stale_spo2", priority::medium, alarm_kind::technical),
      ev(alarm_raised, a4, 1, 14, "systolic_high", priority::high),
      ev(alarm_acknowledged, a4 + 40 * s, 1, 14, "systolic_high", priority::high),
      ev(alarm_acknowledged, a4 + 400 * s, 1, 14, "systolic_high", priority::high),
      ev(alarm_cleared, t0 + 120 * minute, 1, 14, "systolic_high", priority::high),
      ev(session_closed, t0 + 120 * minute, 1),
  };
}

TEST(AlarmBurden, CountsOneClosedSessionExactly) {
  const auto events = two_hour_session();
  const std::vector<burden_session> sessions = {{1, t0, events}};
  const auto b = burden_of(sessions, t0 + 999 * minute);  // "now" does not matter for a closed session

  EXPECT_EQ(b.sessions, 1u);
  EXPECT_EQ(b.patient_ms, 120 * minute);
  EXPECT_EQ(b.all.alarms, 4u);
  EXPECT_EQ(b.all.short_alarms, 2u);   // A1 (25 s) and A3 (29.999 s)
  EXPECT_EQ(b.all.acknowledged, 3u);   // A4's second acknowledgement is not a second one
  EXPECT_EQ(b.all.ack_ms, (std::vector<millis>{20 * s, 40 * s, 90 * s}));
  EXPECT_EQ(b.all.ack_sum_ms, 150 * s);
  EXPECT_EQ(b.all.alarm_ms, 25 * s + 5 * minute + 29'999 + 20 * minute);
  EXPECT_EQ(*per_patient_hour(b.all.alarms, b.patient_ms), 2.0);
  EXPECT_EQ(*share(b.all.short_alarms, b.all.alarms), 0.5);
  EXPECT_EQ(*share(b.all.acknowledged, b.all.alarms), 0.75);
  EXPECT_EQ(*percentile(b.all.ack_ms, 50), 40 * s);
  EXPECT_EQ(*percentile(b.all.ack_ms, 90), 90 * s);

  // By priority: low, medium, high.
  EXPECT_EQ(b.by_priority[0].alarms, 0u);
  EXPECT_EQ(b.by_priority[1].alarms, 3u);
  EXPECT_EQ(b.by_priority[1].short_alarms, 2u);
  EXPECT_EQ(b.by_priority[1].acknowledged, 2u);
  EXPECT_EQ(b.by_priority[2].alarms, 1u);
  EXPECT_EQ(b.by_priority[2].ack_ms, (std::vector<millis>{40 * s}));
  // By kind: physiological, technical, advisory.
  EXPECT_EQ(b.by_kind[0].alarms, 3u);
  EXPECT_EQ(b.by_kind[1].alarms, 1u);
  EXPECT_EQ(b.by_kind[1].short_alarms, 1u);
  EXPECT_EQ(b.by_kind[2].alarms, 0u);

  // By rule at its priority, ordered by rule id.
  ASSERT_EQ(b.by_rule.size(), 3u);
  auto it = b.by_rule.begin();
  EXPECT_EQ(it->first.rule, "spo2_low");
  EXPECT_EQ(it->second.alarms, 2u);
  EXPECT_EQ(*per_patient_hour(it->second.alarms, b.patient_ms), 1.0);
  EXPECT_EQ(it->second.ack_ms, (std::vector<millis>{20 * s, 90 * s}));
  ++it;
  EXPECT_EQ(it->first.rule, "stale_spo2");
  EXPECT_EQ(it->first.kind, alarm_kind::technical);
  EXPECT_EQ(it->second.acknowledged, 0u);
  ++it;
  EXPECT_EQ(it->first.rule, "systolic_high");
  EXPECT_EQ(it->first.level, priority::high);
  EXPECT_EQ(it->second.alarm_ms, 20 * minute);
}

TEST(AlarmBurden, AnAlarmStillActiveIsNotShortAndCountsToNow) {
  using enum event_type;
  const std::vector<engine::event> events = {
      ev(session_opened, t0, 2),
      ev(alarm_raised, t0 + 10 * minute, 2, 21, "hr_high", priority::medium),
  };
  const std::vector<burden_session> sessions = {{2, t0, events}};
  // Now is 10 s after the raise: still active, so not short even though it has lasted 10 s.
  const auto b = burden_of(sessions, t0 + 10 * minute + 10 * s);
  EXPECT_EQ(b.patient_ms, 10 * minute + 10 * s);
  EXPECT_EQ(b.all.alarms, 1u);
  EXPECT_EQ(b.all.short_alarms, 0u);
  EXPECT_EQ(b.all.acknowledged, 0u);
  EXPECT_EQ(b.all.alarm_ms, 10 * s);
  EXPECT_FALSE(percentile(b.all.ack_ms, 50));
  // A "now" before the latest event counts to that event instead.
  const auto early = burden_of(sessions, t0);
  EXPECT_EQ(early.patient_ms, 10 * minute);
  EXPECT_EQ(early.all.alarm_ms, 0);
}

TEST(AlarmBurden, AddsSessionsTogetherAndIgnoresChairAdvisories) {
  using enum event_type;
  const auto first = two_hour_session();
  const std::vector<engine::event> second = {
      ev(session_opened, t0 + 3 * 60 * minute, 3),
      ev(alarm_raised, t0 + 3 * 60 * minute + minute, 3, 31, "predose_bp", priority::low, alarm_kind::advisory),
      ev(alarm_acknowledged, t0 + 3 * 60 * minute + 2 * minute, 3, 31, "predose_bp", priority::low, alarm_kind::advisory),
      ev(alarm_cleared, t0 + 3 * 60 * minute + 2 * minute, 3, 31, "predose_bp", priority::low, alarm_kind::advisory),
      // A chair advisory outside any session, as a record could hold one: no patient's.
      ev(alarm_raised, t0 + 3 * 60 * minute + 3 * minute, 0, 32, "no_session", priority::low, alarm_kind::advisory),
      ev(session_closed, t0 + 4 * 60 * minute, 3),
  };
  const std::vector<burden_session> sessions = {{1, t0, first}, {3, t0 + 3 * 60 * minute, second}};
  const auto b = burden_of(sessions, t0);
  EXPECT_EQ(b.sessions, 2u);
  EXPECT_EQ(b.patient_ms, 3 * 60 * minute);
  EXPECT_EQ(b.all.alarms, 5u);
  EXPECT_EQ(b.by_kind[2].alarms, 1u);
  EXPECT_EQ(b.by_priority[0].acknowledged, 1u);
  EXPECT_EQ(b.all.ack_ms, (std::vector<millis>{20 * s, 40 * s, 60 * s, 90 * s}));
  EXPECT_EQ(*percentile(b.all.ack_ms, 50), 40 * s);  // rank ceil(0.5 * 4) = 2
  EXPECT_EQ(*percentile(b.all.ack_ms, 90), 90 * s);  // rank ceil(0.9 * 4) = 4
  EXPECT_DOUBLE_EQ(*per_patient_hour(b.all.alarms, b.patient_ms), 5.0 / 3.0);
  EXPECT_FALSE(b.by_rule.contains(rule_key{"no_session", alarm_kind::advisory, priority::low}));
}

TEST(AlarmBurden, EventsOfAlarmsRaisedBeforeTheRecordAreIgnored) {
  using enum event_type;
  const std::vector<engine::event> events = {
      ev(alarm_acknowledged, t0 + minute, 4, 40, "spo2_low", priority::medium),
      ev(alarm_cleared, t0 + 2 * minute, 4, 40, "spo2_low", priority::medium),
      ev(session_closed, t0 + 60 * minute, 4),
  };
  burden_tally tally;
  tally.watch_session(4, t0);
  for (const auto& e : events) tally.add(e);
  const auto b = tally.figures([](std::uint64_t) { return t0; });
  EXPECT_EQ(b.all.alarms, 0u);
  EXPECT_EQ(b.all.acknowledged, 0u);
  EXPECT_EQ(b.patient_ms, 60 * minute);
  EXPECT_TRUE(tally.open_sessions().empty());
}

TEST(AlarmBurden, ALiveTallyKeepsTheHistogramAndNoList) {
  burden_tally tally(false);
  for (const auto& e : two_hour_session()) tally.add(e);
  const auto b = tally.figures([](std::uint64_t) { return t0; });
  EXPECT_TRUE(b.all.ack_ms.empty());
  EXPECT_EQ(b.all.acknowledged, 3u);
  // 20, 40 and 90 s against 5, 10, 30, 60, 120, ... s: cumulative.
  const std::array<std::uint64_t, ack_bounds_s.size()> expected = {0, 0, 1, 2, 3, 3, 3, 3, 3};
  EXPECT_EQ(b.all.ack_buckets, expected);
}

TEST(AlarmBurden, RatesSharesAndPercentilesOfNothingAreAbsent) {
  EXPECT_FALSE(per_patient_hour(3, 0));
  EXPECT_FALSE(share(0, 0));
  EXPECT_EQ(*per_patient_hour(0, 60 * minute), 0.0);
  EXPECT_FALSE(percentile({}, 50));
  const std::vector<millis> one = {7};
  EXPECT_EQ(*percentile(one, 50), 7);
  EXPECT_EQ(*percentile(one, 90), 7);
  const std::vector<millis> ten = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
  EXPECT_EQ(*percentile(ten, 50), 5);
  EXPECT_EQ(*percentile(ten, 90), 9);
  EXPECT_EQ(*percentile(ten, 100), 10);
}

}  // namespace
}  // namespace vigil::report
