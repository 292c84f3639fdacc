#pragma once

// Shared helpers for the alarm engine tests: small profiles that hold exactly the rules a
// test needs, a rig that drives one engine with an explicit (fake) clock, and event queries.
// Nothing here sleeps or reads a clock: time is whatever the test says it is.

#include "daemon/engine/engine.hpp"
#include "daemon/engine/profile.hpp"
#include "daemon/model/vitals.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstddef>
#include <map>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace vigil::engine::testing {

using model::vital_kind;
namespace quality = model::quality;

/// A realistic device clock origin (ms since the Unix epoch), so no test relies on time 0.
inline constexpr millis t0 = 1'700'000'000'000;
inline constexpr millis hour_ms = 60 * minutes_ms;

/// A profile with no limit rules, no escalation, NEWS2 off, no pre-dose reading required and
/// technical timers so long they never fire in a test that does not ask for them. Tests switch
/// on exactly what they exercise.
inline profile quiet_profile(std::string id = "test") {
  profile p;
  p.id = std::move(id);
  p.name = "test profile";
  p.baseline_window_ms = 10 * minutes_ms;
  p.predose.require_reading = false;
  p.predose.systolic_max = 140;
  p.predose.diastolic_max = 90;
  p.technical.stale_after_ms = 1000 * hour_ms;
  p.technical.max_interval_ms = 1000 * hour_ms;  // no stream is too slow unless a test says so
  p.technical.sensor_off_delay_ms = 10 * seconds_ms;
  p.technical.cuff_interval_ms = 1000 * hour_ms;
  p.technical.post_dose_check_ms = 1000 * hour_ms;
  p.technical.cuff_grace_ms = 5 * minutes_ms;
  p.technical.disconnected_after_ms = 10 * seconds_ms;
  p.news2.enabled = false;
  p.news2.delay_ms = 60 * seconds_ms;
  p.news2.min_readings = 1;
  p.artefacts.enabled = false;  // no sample is judged an artefact in context unless a test says so
  p.discharge.observation_ms = 120 * minutes_ms;
  p.discharge.hold_ms = 10 * minutes_ms;
  p.discharge.bp_band_percent = 20;
  p.discharge.spo2_min = 92;
  p.audio.max_pause_ms = 2 * minutes_ms;
  p.audio.ack_silence_ms = 5 * minutes_ms;
  return p;
}

inline limit_rule high_rule(std::string id, vital_kind kind, double high, millis delay_ms, priority level = priority::medium) {
  limit_rule r;
  r.id = std::move(id);
  r.kind = kind;
  r.high = high;
  r.delay_ms = delay_ms;
  r.level = level;
  r.min_readings = 1;  // one reading raises and clears unless a test asks for confirmation
  return r;
}

inline limit_rule low_rule(std::string id, vital_kind kind, double low, millis delay_ms, priority level = priority::medium) {
  limit_rule r;
  r.id = std::move(id);
  r.kind = kind;
  r.low = low;
  r.delay_ms = delay_ms;
  r.level = level;
  r.min_readings = 1;  // one reading raises and clears unless a test asks for confirmation
  return r;
}

inline profile with_rules(std::vector<limit_rule> rules, profile p = quiet_profile()) {
  p.limits = std::move(rules);
  return p;
}

inline model::vital_sample sample(vital_kind kind, double value, millis at, std::uint32_t q = quality::ok) {
  model::vital_sample s;
  s.kind = kind;
  s.value = value;
  s.time_ms = at;
  s.quality = q;
  return s;
}

// --- event queries ------------------------------------------------------------------------------

inline std::vector<event> of_type(const std::vector<event>& events, event_type type, std::string_view rule = {}) {
  std::vector<event> out;
  for (const auto& e : events) {
    if (e.type == type && (rule.empty() || e.rule == rule)) out.push_back(e);
  }
  return out;
}

inline std::size_t count(const std::vector<event>& events, event_type type, std::string_view rule = {}) {
  return of_type(events, type, rule).size();
}

inline std::optional<event> first(const std::vector<event>& events, event_type type, std::string_view rule = {}) {
  for (const auto& e : events) {
    if (e.type == type && (rule.empty() || e.rule == rule)) return e;
  }
  return std::nullopt;
}

inline std::vector<event> for_chair(const std::vector<event>& events, std::string_view chair) {
  std::vector<event> out;
  for (const auto& e : events) {
    if (e.chair == chair) out.push_back(e);
  }
  return out;
}

inline std::string describe(const event& e) {
  std::string s = std::string(name(e.type)) + " at=" + std::to_string(e.at) + " chair=" + e.chair +
                  " session=" + std::to_string(e.session) + " alarm=" + std::to_string(e.alarm) + " rule=" + e.rule +
                  " kind=" + std::string(name(e.kind)) + " level=" + std::string(name(e.level)) +
                  " from=" + std::string(name(e.from)) + " to=" + std::string(name(e.to)) + " who=" + e.who +
                  " responder=" + e.responder + " tier=" + std::to_string(e.tier) + " value=" + std::to_string(e.value) +
                  " until=" + std::to_string(e.until) + " text=" + e.text;
  return s;
}

inline std::string describe(const std::vector<event>& events) {
  std::string s;
  for (const auto& e : events) s += "  " + describe(e) + "\n";
  return s;
}

/// Every field, so replays can be compared exactly.
inline bool same(const event& a, const event& b) {
  return a.type == b.type && a.at == b.at && a.chair == b.chair && a.session == b.session && a.alarm == b.alarm &&
         a.rule == b.rule && a.kind == b.kind && a.level == b.level && a.from == b.from && a.to == b.to &&
         a.who == b.who && a.responder == b.responder && a.tier == b.tier && a.value == b.value &&
         a.until == b.until && a.text == b.text && a.patient_ref == b.patient_ref && a.profile == b.profile;
}

/// Replaces session and alarm ids by their order of first appearance, so event streams from
/// engines whose global id counters differ (another chair consumed ids) can be compared.
inline std::vector<event> normalise_ids(std::vector<event> events) {
  std::map<std::uint64_t, std::uint64_t> sessions;
  std::map<std::uint64_t, std::uint64_t> alarms;
  for (auto& e : events) {
    if (e.session != 0) e.session = sessions.emplace(e.session, sessions.size() + 1).first->second;
    if (e.alarm != 0) e.alarm = alarms.emplace(e.alarm, alarms.size() + 1).first->second;
  }
  return events;
}

inline ::testing::AssertionResult same_events(const std::vector<event>& a, const std::vector<event>& b) {
  const std::size_t n = std::min(a.size(), b.size());
  for (std::size_t i = 0; i < n; ++i) {
    if (!same(a[i], b[i])) {
      return ::testing::AssertionFailure() << "event " << i << " differs:\n  " << describe(a[i]) << "\n  "
                                           << describe(b[i]);
    }
  }
  if (a.size() != b.size()) {
    return ::testing::AssertionFailure() << "lengths differ: " << a.size() << " vs " << b.size() << "; extra:\n"
                                         << describe(std::vector<event>(a.size() > b.size() ? a.begin() + static_cast<std::ptrdiff_t>(n) : b.begin() + static_cast<std::ptrdiff_t>(n),
                                                                        a.size() > b.size() ? a.end() : b.end()));
  }
  return ::testing::AssertionSuccess();
}

// --- the rig -------------------------------------------------------------------------------------

/// One engine and one chair, driven by explicit times. Every event taken is also kept in `log`.
struct rig {
  engine eng;
  std::string chair = "chair-1";
  std::string profile_id;
  std::vector<event> log;

  explicit rig(profile p, std::string chair_id = "chair-1")
      : eng(std::vector<profile>{p}), chair(std::move(chair_id)), profile_id(p.id) {}

  /// Connects the chair's monitor and opens a session at `at`.
  std::uint64_t open(millis at = t0, std::string patient = "patient-1") {
    eng.on_device(chair, true, at);
    const auto r = eng.apply(open_session{chair, std::move(patient), profile_id, "nurse-a"}, at);
    EXPECT_TRUE(r.ok()) << r.message;
    return r.session;
  }

  /// A sample from a named source (device).
  sample_outcome from(std::string_view source, vital_kind kind, double value, millis at) {
    return eng.on_sample(chair, sample(kind, value, at), source);
  }
  sample_outcome feed(vital_kind kind, double value, millis at, std::uint32_t q = quality::ok) {
    return eng.on_sample(chair, sample(kind, value, at, q));
  }

  /// A cuff reading: systolic, then diastolic 1 ms later.
  void cuff(double systolic, double diastolic, millis at) {
    feed(vital_kind::nibp_systolic, systolic, at);
    feed(vital_kind::nibp_diastolic, diastolic, at + 1);
  }

  command_result dose(millis at, std::string by = "dr-b") {
    return eng.apply(mark_dose{chair, "iv", "0.5 mg/kg over 40 min", std::move(by)}, at);
  }

  command_result ack(std::uint64_t alarm, millis at, std::string by = "nurse-a") {
    return eng.apply(acknowledge{chair, alarm, std::move(by)}, at);
  }

  command_result pause(millis duration, millis at, std::string by = "nurse-a") {
    return eng.apply(pause_audio{chair, duration, std::move(by)}, at);
  }

  command_result close(millis at, bool abort = false, std::string reason = {}) {
    return eng.apply(close_session{chair, "nurse-a", abort, std::move(reason)}, at);
  }

  void advance(millis at) { eng.advance(at); }

  /// Events since the last take.
  std::vector<event> take() {
    auto e = eng.take_events();
    log.insert(log.end(), e.begin(), e.end());
    return e;
  }

  session_view view() const {
    auto v = eng.session(chair);
    EXPECT_TRUE(v.has_value()) << "no open session on " << chair;
    return v.value_or(session_view{});
  }

  std::optional<alarm_view> alarm(std::string_view rule) const {
    auto v = eng.session(chair);
    if (!v) return std::nullopt;
    for (const auto& a : v->alarms) {
      if (a.rule == rule) return a;
    }
    return std::nullopt;
  }

  /// The active alarm of `rule`; a test failure (and a default view) when there is none.
  alarm_view must_alarm(std::string_view rule) const {
    auto a = alarm(rule);
    if (!a) ADD_FAILURE() << "no active " << rule << " alarm on " << chair;
    return a.value_or(alarm_view{});
  }

  phase current() const { return view().current; }
};

}  // namespace vigil::engine::testing

namespace vigil::engine::testing {

/// Advances to one tick before `due` (no `rule` alarm may be raised by then) and then to `due`
/// (exactly one `rule` alarm raised, at `due`). Events taken on the way go to the rig's log.
inline ::testing::AssertionResult raised_exactly_at(rig& r, std::string_view rule, millis due) {
  r.advance(due - 1);
  const auto before = r.take();
  if (count(before, event_type::alarm_raised, rule) != 0) {
    return ::testing::AssertionFailure() << rule << " raised before " << due << ":\n" << describe(before);
  }
  r.advance(due);
  const auto now = r.take();
  const auto raised = of_type(now, event_type::alarm_raised, rule);
  if (raised.size() != 1) {
    return ::testing::AssertionFailure() << "expected one " << rule << " raised at " << due << ", got:\n" << describe(now);
  }
  if (raised.front().at != due) {
    return ::testing::AssertionFailure() << rule << " raised at " << raised.front().at << ", expected " << due;
  }
  return ::testing::AssertionSuccess();
}

}  // namespace vigil::engine::testing
