#pragma once

// Alarm burden: how many alarms a clinic's profiles raise per patient-hour, by rule, priority and
// kind; how many were over within 30 s; how many were acknowledged, and how soon. The figures
// behind the session report's burden section, GET /api/v1/alarm-burden, `vigilctl burden` and
// the burden series of /metrics (docs/exports.md section 4.1 defines what counts).
//
// Pure: engine events in, figures out. It never reads a clock: whoever asks says what "now" is
// for a session still open and an alarm still active.

#include "daemon/engine/engine.hpp"

#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <tuple>
#include <vector>

namespace vigil::report {

using engine::millis;

/// An alarm cleared less than this long after it was raised is "short".
inline constexpr millis short_alarm_ms = 30'000;

/// Upper bounds (seconds) of the time-to-acknowledge histogram; a last bucket, +Inf, is implied.
inline constexpr std::array<double, 9> ack_bounds_s = {5, 10, 30, 60, 120, 300, 600, 1800, 3600};

/// The counts of one group of alarms (one rule at one priority, one priority, one kind, or all).
struct burden_counts {
  std::uint64_t alarms = 0;
  std::uint64_t short_alarms = 0;   // cleared less than short_alarm_ms after raised
  std::uint64_t acknowledged = 0;   // acknowledged at least once
  millis alarm_ms = 0;              // raised to cleared (or to now, while active), all alarms added
  std::vector<millis> ack_ms;       // raised to first acknowledgement, one per acknowledged alarm,
                                    // ascending (empty when the tally keeps no list)
  std::array<std::uint64_t, ack_bounds_s.size()> ack_buckets{};  // cumulative, as Prometheus wants
  millis ack_sum_ms = 0;
};

/// One rule at one priority (a rule may have another priority in another profile).
struct rule_key {
  std::string rule;
  engine::alarm_kind kind = engine::alarm_kind::physiological;
  engine::priority level = engine::priority::low;
  friend auto operator<=>(const rule_key& a, const rule_key& b) {
    return std::tie(a.rule, a.kind, a.level) <=> std::tie(b.rule, b.kind, b.level);
  }
  friend bool operator==(const rule_key&, const rule_key&) = default;
};

/// The figures of one session or of many.
struct alarm_burden {
  std::uint64_t sessions = 0;
  millis patient_ms = 0;  // each session from its opening to its close (or to now, while open)
  burden_counts all;
  std::map<rule_key, burden_counts> by_rule;         // ordered by rule id, kind, priority
  std::array<burden_counts, 3> by_priority;          // low, medium, high
  std::array<burden_counts, 3> by_kind;              // physiological, technical, advisory
};

/// Counts alarms and patient time from engine events given in the order emitted. Events of
/// chair advisories outside a session (session 0) are not counted: they are no patient's.
/// Alarms whose raising it never saw (raised before a restart) are not counted either.
class burden_tally {
 public:
  /// `keep_ack_times`: keep every time to acknowledge, for exact medians (the exports); /metrics
  /// keeps only the histogram, so that a daemon running for months holds no growing list.
  explicit burden_tally(bool keep_ack_times = true) : keep_ack_times_(keep_ack_times) {}

  /// Takes one event.
  void add(const engine::event& e);
  /// Counts a session from `from` whose session_opened was never seen (restored after a restart,
  /// or a record that begins later). Ignored if the session is already known.
  void watch_session(std::uint64_t session, millis from);

  /// The figures, with open sessions and active alarms counted up to `now(session)` (never
  /// before what was seen of them).
  alarm_burden figures(const std::function<millis(std::uint64_t session)>& now) const;
  /// The sessions open now, as far as the events say.
  std::vector<std::uint64_t> open_sessions() const;

 private:
  struct active_alarm {
    std::uint64_t session = 0;
    rule_key key;
    millis raised = 0;
    bool acknowledged = false;
  };
  struct open_session {
    millis from = 0;
    millis last = 0;  // the latest event seen of it
  };
  void finish(const active_alarm& a, millis cleared);

  bool keep_ack_times_;
  std::map<std::uint64_t, active_alarm> active_;
  std::map<std::uint64_t, open_session> open_;
  std::uint64_t sessions_ = 0;
  millis closed_patient_ms_ = 0;
  // What is settled: finished alarms and acknowledgements (an acknowledgement counts at once).
  alarm_burden done_;
};

/// One stored session as the burden sees it.
struct burden_session {
  std::uint64_t id = 0;
  millis opened = 0;
  std::span<const engine::event> events;  // the session's, in order
};

/// The burden of the sessions given; sessions still open, and their active alarms, count up to
/// `now` (or the latest of their events, if that is later).
alarm_burden burden_of(std::span<const burden_session> sessions, millis now);

/// Alarms per patient-hour; nullopt with no patient time.
std::optional<double> per_patient_hour(std::uint64_t alarms, millis patient_ms);
/// part / whole; nullopt when whole is 0.
std::optional<double> share(std::uint64_t part, std::uint64_t whole);
/// The nearest-rank percentile `p` (0 < p <= 100) of ascending `values`: the value at rank
/// ceil(p / 100 * n); nullopt when there are none.
std::optional<millis> percentile(std::span<const millis> ascending, double p);

}  // namespace vigil::report
