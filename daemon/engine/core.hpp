#pragma once

// What the engine's rule families share, and the families themselves. Internal to vigil_engine:
// nothing outside daemon/engine includes this.
//
// The engine is split by family, each with its own evaluation, due times and firing:
//   lifecycle      raising, clearing, escalating, re-sounding alarms; the audio pause (lifecycle.cpp)
//   physiological  limit rules and NEWS2 (physiological.cpp)
//   technical      stale streams, sensors off, the cuff schedule, the link, storage (technical.cpp)
//   artefact       which samples any physiological rule may see (artefact.cpp)
//   phases         phases, the baseline, the pre-dose check, readiness (phases.cpp)
//   commands       operators' commands (commands.cpp); views and checkpoints (views.cpp)
// engine.cpp holds the sample path and the timer loop that asks each family for its due time
// and lets each fire, in the order docs/alarms.md section 2.3 gives.

#include "daemon/engine/chair_state.hpp"
#include "daemon/engine/engine.hpp"

#include <algorithm>
#include <functional>
#include <limits>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace vigil::engine::detail {

using model::vital_kind;

inline std::size_t slot(vital_kind k) { return static_cast<std::size_t>(k); }

inline bool is_cuff(vital_kind k) {
  return k == vital_kind::nibp_systolic || k == vital_kind::nibp_diastolic || k == vital_kind::nibp_mean;
}

inline bool open_phase(phase p) { return p == phase::baseline || p == phase::observation || p == phase::ready; }

sensor sensor_of(vital_kind k);

/// How long a source's word on a kind stands without a newer sample from it: cuff readings
/// are minutes apart, the other kinds stream.
inline millis horizon(const technical_rules& t, vital_kind k) {
  return is_cuff(k) ? t.cuff_interval_ms + t.cuff_grace_ms : t.stale_after_ms;
}
inline millis horizon(const technical_rules& t, sensor which) {
  return which == cuff ? t.cuff_interval_ms + t.cuff_grace_ms : t.stale_after_ms;
}

const std::vector<escalation_tier>& tiers_for(const profile& p, priority level);

/// The source's cadence for `kind`: the upper median of its kept intervals; its device's declared
/// cadence while it has none; none before its
/// second sample (alarms.md 3.5).
std::optional<millis> cadence_of(const source_state& src, vital_kind kind);
/// How long a source's usable value of `kind` stands as evidence: its freshness limit, or for the
/// cuff kinds the cuff horizon (alarms.md 3.4, 3.5).
millis evidence_limit(const technical_rules& t, const source_state& src, vital_kind kind);
/// Whether the source's latest usable value of `kind` is current at the chair's clock.
bool current(const chair_state& c, const source_state& src, vital_kind kind);
/// Current, and the source's latest sample of the kind was that usable value (not a flagged
/// or judged sample since): a stream that can stand as a reference (alarms.md 3.6, 5.8).
bool undisputed(const chair_state& c, const source_state& src, vital_kind kind);
/// Whether some source has an undisputed ECG heart rate: the heart-rate rules read it, else the
/// pulse rate (alarms.md 5.8).
bool ecg_rate_current(const chair_state& c);
/// How long a sample of `kind` from `src` stays fresh: `stale_intervals` times its cadence, or
/// of the slowest cadence the profile supervises while its own is unknown, and never less than
/// `stale_after_ms` (alarms.md 3.5).
millis freshness(const technical_rules& t, const source_state& src, vital_kind kind);

/// The engine's whole state and the helpers every family uses.
struct core {
  std::vector<profile> profiles;
  // Ordered, so that advance() visits chairs, and emits their events, in the same order every run.
  std::map<std::string, chair_state, std::less<>> chairs;
  std::map<std::uint64_t, std::string> chair_of_session;  // open sessions only
  std::vector<event> events;
  std::uint64_t next_session = 1;
  std::uint64_t next_alarm = 1;
  std::vector<chair_state*> changed;  // a chair erased (engine::forget) leaves this list first
  bool storage_saved = true;

  const profile* find_profile(std::string_view id) const;
  chair_state& chair(std::string_view id);
  chair_state* find_chair(std::string_view id);
  void touch(chair_state& c);
  event& emit(chair_state& c, event_type type);
  void emit_alarm(chair_state& c, event_type type, const alarm_rec& a);
  static alarm_rec* find_alarm(session_state& s, std::string_view rule) {
    for (auto& a : s.alarms) {
      if (a.rule == rule) return &a;
    }
    return nullptr;
  }
  static const alarm_rec* find_alarm(const session_state& s, std::string_view rule) {
    for (const auto& a : s.alarms) {
      if (a.rule == rule) return &a;
    }
    return nullptr;
  }
  static void schedule(chair_state& c, millis due) { c.next_due = std::min(c.next_due, due); }

  // --- alarm lifecycle (lifecycle.cpp) ---
  void raise(chair_state& c, std::string rule, alarm_kind kind, priority level, double value, std::string text,
             bool latching = false);
  void clear(chair_state& c, std::uint64_t id, std::string_view why);
  /// The condition behind an alarm is gone: non-latching alarms clear, latching ones wait for an ack.
  void condition_gone(chair_state& c, alarm_rec& a, std::string_view why);

  // --- the sample path and the timer loop (engine.cpp) ---
  /// `batch` is the device batch the sample came in (empty: a batch of one), for the parts of a
  /// cuff reading sent together (alarms.md 3.6).
  sample_outcome on_sample(chair_state& c, const model::vital_sample& sample, std::string_view source_id,
                           artefact_reason* why = nullptr, std::span<const model::vital_sample> batch = {});
  source_state& source(chair_state& c, std::string_view id);
  /// The earliest moment any timer of the chair's session is due; `never` if none.
  millis earliest_due(chair_state& c);
  /// Fires every timer due at or before `until`, earliest first, each at its own time.
  void run_timers(chair_state& c, millis until);
  /// One firing pass at c.now: every family, in a fixed order.
  void fire(chair_state& c);
  void settle(chair_state& c);
  void advance_chair(chair_state& c, millis at);
};

/// A condition that must hold for `delay` before its timer is due: started, refreshed or ended.
void update_condition(chair_state& c, condition& cond, bool on, double value, millis delay);

// --- weighing several sources' values (NEWS2 and readiness) ---------------------------------

/// Calls `f` with each value of `kind` that NEWS2 and readiness weigh: the latest usable value
/// of every source heard on that kind within its horizon or, when none is, of the sources
/// heard last. So a second source can add a value, never hide one that is still current.
template <class F>
void for_each_weighed(const chair_state& c, vital_kind kind, F&& f) {
  const auto k = slot(kind);
  if (c.sources.size() == 1) {
    // One source: its value is current, or else the one heard last, either way the one weighed.
    if (const auto& v = c.sources.front().latest[k]) f(v->value);
    return;
  }
  bool any_current = false;
  millis last_heard = std::numeric_limits<millis>::min();
  for (const auto& src : c.sources) {
    if (const auto& v = src.latest[k]) {
      any_current = any_current || current(c, src, kind);
      last_heard = std::max(last_heard, v->heard);
    }
  }
  for (const auto& src : c.sources) {
    const auto& v = src.latest[k];
    if (v && (any_current ? current(c, src, kind) : v->heard == last_heard)) f(v->value);
  }
}

/// Whether `kind` has a value to weigh and every one of them passes `ok`.
template <class F>
bool all_weighed(const chair_state& c, vital_kind kind, F&& ok) {
  bool any = false;
  bool all = true;
  for_each_weighed(c, kind, [&](double v) {
    any = true;
    all = all && ok(v);
  });
  return any && all;
}

// --- the families ---------------------------------------------------------------------------
// Each family's due() is the earliest due time of its timers (`never` if none); its fire() acts
// on every one of its timers due at c.now.

namespace artefact {
/// Whether a sample may drive physiological rules, as its device flagged it: flagged samples
/// (artefact, implausible, sensor off) are kept for the record and drive none.
bool usable(const model::vital_sample& s);
/// Judges, in an open session, a sample its device sent as usable against its context
/// (alarms.md 3.6): why it is an artefact, or `none`. `batch` is the device batch `s` came in
/// (`s` among it, or empty): the other parts of a cuff reading sent with it. Looks, changes nothing.
artefact_reason judge(const chair_state& c, const source_state& src, const model::vital_sample& s,
                      std::span<const model::vital_sample> batch);
}  // namespace artefact

namespace physiological {
millis due(core& e, chair_state& c);
void fire(core& e, chair_state& c);
/// Evaluates the limit rules on `kind` with a usable sample from `src`.
void evaluate_limits(core& e, chair_state& c, source_state& src, vital_kind kind, double value);
/// Scores NEWS2 at `now`; `trigger`: the sample that asked for it (null: the re-score timer).
void evaluate_news2(core& e, chair_state& c, const model::vital_sample* trigger);
/// Drops the conditions and alarms of the limit rules not active in the session's phase.
void enter_phase(core& e, chair_state& c);
}  // namespace physiological

namespace technical {
inline constexpr std::string_view storage_rule = "timeline_not_saved";
millis due(core& e, chair_state& c);
void fire(core& e, chair_state& c);
/// A sample of `kind` from `src`: its sensor's off-condition, and whether its stream is alive.
void note_sample(core& e, chair_state& c, source_state& src, const model::vital_sample& sample, bool usable);
/// A usable cuff reading of `kind`.
void note_cuff(core& e, chair_state& c, vital_kind kind);
/// The chair's monitor connected or disconnected at c.now.
void note_link(core& e, chair_state& c, bool connected);
/// Raises or clears the chair's timeline_not_saved alarm to match the storage state.
void note_storage(core& e, chair_state& c);
/// A session opened on the chair: its stale-stream timers start.
void open_session(chair_state& c);
}  // namespace technical

namespace lifecycle {
millis due(core& e, chair_state& c);
void fire(core& e, chair_state& c);
}  // namespace lifecycle

namespace phases {
millis due(core& e, chair_state& c);
void fire(core& e, chair_state& c);
void set_phase(core& e, chair_state& c, phase to, std::string_view why);
/// Whether a usable sample counts as a reading for the baseline (the one place to add further
/// judgement of the reading, e.g. that it is not an artefact).
bool counts_for_baseline(const model::vital_sample& sample);
/// A usable sample in an open phase: kept in its kind's baseline window if it counts.
void note_baseline_sample(session_state& s, const model::vital_sample& sample);
/// Sets the baseline from the readings in the window before `now`; a summary for baseline_set.
std::string take_baseline(session_state& s, millis now);
/// The operator's re-take (alarms.md 4.3): restarts the window before the dose, recomputes the
/// baseline after it and clears the relative rules' alarms.
void retake_baseline(core& e, chair_state& c, const std::string& by, const std::string& reason);
/// The pre-dose blood-pressure check on a usable cuff reading (the predose_bp advisory).
void check_predose(core& e, chair_state& c, vital_kind kind, double value);
/// Starts or ends the time the discharge criteria have held; leaves ready when they stop holding.
void review_readiness(core& e, chair_state& c);
}  // namespace phases

}  // namespace vigil::engine::detail

namespace vigil::engine {
struct engine::state : detail::core {};
}  // namespace vigil::engine
