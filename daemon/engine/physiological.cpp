// Physiological rules (docs/alarms.md sections 5 and 6): the profile's limit rules, absolute and
// relative to the baseline, evaluated per source, and NEWS2 over the sources' current values.

#include "daemon/engine/core.hpp"
#include "daemon/engine/news2.hpp"

#include <algorithm>
#include <optional>

#include <fmt/format.h>

namespace vigil::engine::detail::physiological {
namespace {

constexpr std::string_view urgent_rule = "news2_urgent";
constexpr std::string_view emergency_rule = "news2_emergency";

bool rule_active_in(const limit_rule& r, phase p) {
  if (r.phases.empty()) return open_phase(p);
  return std::find(r.phases.begin(), r.phases.end(), p) != r.phases.end();
}

bool held_by_any(const chair_state& c, std::size_t rule) {
  return std::any_of(c.sources.begin(), c.sources.end(),
                     [&](const source_state& src) { return src.limits[rule].held; });
}

/// The kind a source's state of a rule rests on: the pulse rate for a heart-rate rule read from
/// the oximeter (5.8), else the rule's own.
vital_kind evidence_kind(const limit_rule& rule, const limit_state& st) {
  return st.via_pulse ? vital_kind::pulse_rate : rule.kind;
}

std::size_t sources_on(const chair_state& c, std::size_t rule) {
  return static_cast<std::size_t>(std::count_if(c.sources.begin(), c.sources.end(),
                                                [&](const source_state& src) { return src.limits[rule].cond.on; }));
}

/// A source's condition may raise (or revive) the rule's alarm: it has been beyond the limit at
/// min_readings consecutive readings, or a second source's condition is on too (5.2).
bool confirmed(const limit_state& st, const limit_rule& rule, std::size_t on) {
  return st.cond.on && (st.readings >= rule.min_readings || on >= 2);
}

/// A NEWS2 condition after a scoring at `now`. Readings are counted at distinct times: found
/// (`seen`, since the condition started; only when `reading`: a sample whose own value scored)
/// and not found (`absent`, since it was last found).
void update_scored(chair_state& c, condition& cond, bool on, double value, millis delay, int min_readings,
                   bool reading) {
  constexpr int count_cap = 1'000'000;  // a long run of scorings stops counting here
  if (on) {
    if (!cond.on) {
      cond = condition{};
      cond.on = true;
      cond.since = c.now;
    }
    if (reading && (cond.seen == 0 || c.now > cond.seen_at)) {
      cond.seen = std::min(cond.seen + 1, count_cap);
      cond.seen_at = c.now;
    }
    cond.value = value;
    cond.absent = 0;
    if (cond.seen >= min_readings) core::schedule(c, cond.since + delay);
  } else {
    cond.on = false;
    if (cond.absent == 0 || c.now > cond.absent_at) {
      cond.absent = std::min(cond.absent + 1, count_cap);
      cond.absent_at = c.now;
    }
  }
}

std::string limit_text(const limit_rule& r, double value, const session_state& s, vital_kind read = vital_kind::heart_rate,
                       bool via_pulse = false) {
  const auto kind = model::name(via_pulse ? read : r.kind);
  if (r.relative) {
    return fmt::format("{} {:+.0f} {} from baseline {:.0f}", kind, value, model::unit(r.kind),
                       s.baseline[slot(r.kind)].value_or(0));
  }
  if (r.high && (value > *r.high || (r.inclusive && value >= *r.high))) {
    return fmt::format("{} {:g} {} above {:g}", kind, value, model::unit(r.kind), *r.high);
  }
  return fmt::format("{} {:g} {} below {:g}", kind, value, model::unit(r.kind), r.low.value_or(0));
}

}  // namespace

millis due(core&, chair_state& c) {
  const auto& s = *c.s;
  const profile& p = *s.prof;
  millis due = never;
  auto consider = [&](millis t) { due = std::min(due, t); };
  // Each source's conditions; a rule's alarm is looked for only when a source has a confirmed
  // one (the look is the costly part, and this runs on every sample).
  for (std::size_t i = 0; i < p.limits.size(); ++i) {
    const auto& rule = p.limits[i];
    const std::size_t on = sources_on(c, i);
    bool looked = false;
    bool active = false;
    for (const auto& src : c.sources) {
      const auto& st = src.limits[i];
      if (confirmed(st, rule, on)) {
        if (!looked) {
          active = core::find_alarm(s, rule.id) != nullptr;
          looked = true;
        }
        if (!active) consider(st.cond.since + rule.delay_ms);
      }
      // A source's state of a rule lasts as long as its evidence (5.7).
      if (st.cond.on || st.held) {
        const auto k = evidence_kind(rule, st);
        const auto& v = src.latest[slot(k)];
        consider(v ? v->heard + evidence_limit(p.technical, src, k) : c.now);
      }
    }
  }
  if (s.news2_until) consider(*s.news2_until);
  const int scorings = p.news2.min_readings;
  if (s.news2_medium.on && s.news2_medium.seen >= scorings && !core::find_alarm(s, urgent_rule) &&
      !core::find_alarm(s, emergency_rule)) {
    consider(s.news2_medium.since + p.news2.delay_ms);
  }
  if (s.news2_high.on && s.news2_high.seen >= scorings && !core::find_alarm(s, emergency_rule)) {
    consider(s.news2_high.since + p.news2.delay_ms);
  }
  return due;
}

void fire(core& e, chair_state& c) {
  auto& s = *c.s;
  const profile& p = *s.prof;
  const millis now = c.now;
  // Evidence that is no longer current ends the conditions built on it (5.7), and NEWS2 is scored
  // again without it (6), before anything is raised.
  for (std::size_t i = 0; i < p.limits.size(); ++i) {
    const auto& rule = p.limits[i];
    bool expired = false;
    for (auto& src : c.sources) {
      auto& st = src.limits[i];
      if ((st.cond.on || st.held) && !current(c, src, evidence_kind(rule, st))) {
        st = {};
        expired = true;
      }
    }
    if (!expired) continue;
    if (auto* a = core::find_alarm(s, rule.id); a && a->condition && !held_by_any(c, i)) {
      e.condition_gone(c, *a, fmt::format("no current {} reading", model::name(rule.kind)));
    }
  }
  if (s.news2_until && *s.news2_until <= now) evaluate_news2(e, c, nullptr);
  for (std::size_t i = 0; i < p.limits.size(); ++i) {
    const auto& rule = p.limits[i];
    if (core::find_alarm(s, rule.id)) continue;
    // Any source's confirmed condition raises the alarm; the one that started first gives its value.
    std::optional<condition> due;
    bool due_via_pulse = false;
    const std::size_t on = sources_on(c, i);
    for (const auto& src : c.sources) {
      const auto& cond = src.limits[i].cond;
      if (confirmed(src.limits[i], rule, on) && cond.since + rule.delay_ms <= now && (!due || cond.since < due->since)) {
        due = cond;
        due_via_pulse = src.limits[i].via_pulse;
      }
    }
    if (due) {
      e.raise(c, rule.id, alarm_kind::physiological, rule.level, due->value,
              limit_text(rule, due->value, s, vital_kind::pulse_rate, due_via_pulse), rule.latching);
    }
  }
  // Emergency first: when both come due together, only the emergency alarm is raised.
  const int scorings = p.news2.min_readings;
  if (s.news2_high.on && s.news2_high.seen >= scorings && !core::find_alarm(s, emergency_rule) &&
      s.news2_high.since + p.news2.delay_ms <= now) {
    e.raise(c, std::string(emergency_rule), alarm_kind::physiological, priority::high, s.news2_high.value,
            fmt::format("NEWS2 {} : emergency response", s.news2_high.value));
    if (auto* urgent = core::find_alarm(s, urgent_rule)) e.clear(c, urgent->id, "superseded by news2_emergency");
  }
  if (s.news2_medium.on && s.news2_medium.seen >= scorings && !core::find_alarm(s, urgent_rule) &&
      !core::find_alarm(s, emergency_rule) && s.news2_medium.since + p.news2.delay_ms <= now) {
    e.raise(c, std::string(urgent_rule), alarm_kind::physiological, priority::medium, s.news2_medium.value,
            fmt::format("NEWS2 {} : urgent review", s.news2_medium.value));
  }
}

void evaluate_limits(core& e, chair_state& c, source_state& src, vital_kind kind, double value) {
  auto& s = *c.s;
  const profile& p = *s.prof;
  // Heart-rate rules read the best rate there is (5.8): the ECG's, else the oximeter's pulse.
  const bool pulse_for_heart = kind == vital_kind::pulse_rate && !ecg_rate_current(c);
  for (std::size_t i = 0; i < p.limits.size(); ++i) {
    const auto& rule = p.limits[i];
    const bool via_pulse = pulse_for_heart && rule.kind == vital_kind::heart_rate;
    if ((rule.kind != kind && !via_pulse) || !rule_active_in(rule, s.current)) continue;
    if (kind == vital_kind::heart_rate) {
      // The ECG rate is back: states read from the pulse rate end.
      for (auto& other : c.sources) {
        if (other.limits[i].via_pulse) other.limits[i] = {};
      }
    }
    double v = value;
    if (rule.relative) {
      if (!s.baseline[slot(kind)]) continue;
      v = value - *s.baseline[slot(kind)];
    }
    auto& st = src.limits[i];
    if (st.via_pulse != via_pulse) st = {};  // a state rests on one kind of reading
    st.via_pulse = via_pulse;
    const bool beyond = rule.inclusive ? (rule.high && v >= *rule.high) || (rule.low && v <= *rule.low)
                                       : (rule.high && v > *rule.high) || (rule.low && v < *rule.low);
    // Consecutive readings beyond; for a cuff rule with confirmation, each within its window.
    if (beyond) {
      const bool in_run = st.readings > 0 && (rule.confirm_readings <= 1 || c.now - st.last_beyond <= rule.confirm_within_ms);
      st.readings = in_run ? st.readings + 1 : 1;
      st.last_beyond = c.now;
    } else {
      st.readings = 0;
    }
    const bool condition_now = rule.confirm_readings > 1 ? st.readings >= rule.confirm_readings : beyond;
    update_condition(c, st.cond, condition_now, v, rule.delay_ms);
    const std::size_t on = sources_on(c, i);
    const bool is_confirmed = confirmed(st, rule, on);
    // Confirmed after its delay has begun: the raise may be due already.
    if (is_confirmed) core::schedule(c, st.cond.since + rule.delay_ms);
    // An inclusive limit counts the limit itself as beyond, so back inside must be strictly inside.
    const bool back_inside =
        rule.inclusive
            ? (!rule.high || v < *rule.high - rule.hysteresis) && (!rule.low || v > *rule.low + rule.hysteresis)
            : (!rule.high || v <= *rule.high - rule.hysteresis) && (!rule.low || v >= *rule.low + rule.hysteresis);
    st.inside = back_inside ? std::min(st.inside + 1, rule.min_readings) : 0;
    st.held = condition_now || (st.held && st.inside < rule.min_readings);
    if (auto* a = core::find_alarm(s, rule.id); a && !a->condition && is_confirmed) {
      // A latched alarm whose condition returns is live again: it escalates and can re-sound.
      a->condition = true;
      a->value = v;
      core::schedule(c, c.now);
    } else if (a && a->condition && !held_by_any(c, i)) {
      e.condition_gone(c, *a, fmt::format("{} back to {:g}", model::name(kind), value));
    }
  }
}

void evaluate_news2(core& e, chair_state& c, const model::vital_sample* trigger) {
  auto& s = *c.s;
  const auto& rules = s.prof->news2;
  if (!rules.enabled) return;
  news2::observations obs;
  // The worst-scoring current value of each kind, so that no source's normal reading hides
  // another's; a value that is no longer current is not scored (6). NEWS2 is scored again when
  // the first of the values it saw stops being current.
  std::optional<millis> until;
  auto worst = [&](vital_kind k, int (*points)(double)) -> std::optional<double> {
    std::optional<double> out;
    int most = -1;  // scored only once a second value is there to compare: one source costs nothing
    for (const auto& src : c.sources) {
      const auto& v = src.latest[slot(k)];
      if (!v) continue;
      const millis expires = v->heard + evidence_limit(s.prof->technical, src, k);
      if (expires <= c.now) continue;
      until = until ? std::min(*until, expires) : expires;
      if (!out) {
        out = v->value;
        continue;
      }
      if (most < 0) most = points(*out);
      if (const int score = points(v->value); score > most) {
        most = score;
        out = v->value;
      }
    }
    return out;
  };
  obs.respiratory_rate = worst(vital_kind::respiratory_rate, news2::respiratory_rate_points);
  obs.spo2 = worst(vital_kind::spo2, news2::spo2_scale1_points);
  obs.systolic = worst(vital_kind::nibp_systolic, news2::systolic_points);
  obs.pulse = worst(vital_kind::heart_rate, news2::pulse_points);
  const bool heart_current = obs.pulse.has_value();
  if (!obs.pulse) obs.pulse = worst(vital_kind::pulse_rate, news2::pulse_points);
  s.news2_until = until;
  const auto r = news2::score(obs);
  // The scoring is a reading of the condition when the sample behind it scored points itself
  // (a pulse rate only when it stands in for the heart rate).
  bool reading = false;
  if (trigger != nullptr) {
    switch (trigger->kind) {
      case vital_kind::respiratory_rate: reading = news2::respiratory_rate_points(trigger->value) > 0; break;
      case vital_kind::spo2: reading = news2::spo2_scale1_points(trigger->value) > 0; break;
      case vital_kind::nibp_systolic: reading = news2::systolic_points(trigger->value) > 0; break;
      case vital_kind::heart_rate: reading = news2::pulse_points(trigger->value) > 0; break;
      case vital_kind::pulse_rate: reading = !heart_current && news2::pulse_points(trigger->value) > 0; break;
      default: break;
    }
  }
  const double total = r.total;
  const bool high = r.total >= rules.high_at;
  // Both conditions run side by side, so a worsening score never leaves a gap; an active
  // emergency alarm stands in for the urgent one (see fire()).
  const bool medium = r.total >= rules.medium_at || (rules.single_three_is_medium && r.any_three);
  update_scored(c, s.news2_medium, medium, total, rules.delay_ms, rules.min_readings, reading);
  update_scored(c, s.news2_high, high, total, rules.delay_ms, rules.min_readings, reading);
  // An alarm clears once its condition was absent at min_readings scorings at distinct times,
  // or at once when a re-score finds it gone: the readings behind it are no longer current.
  const bool evidence_gone = trigger == nullptr;
  if (!medium && (evidence_gone || s.news2_medium.absent >= rules.min_readings)) {
    if (auto* a = core::find_alarm(s, urgent_rule)) e.condition_gone(c, *a, fmt::format("NEWS2 down to {}", r.total));
  }
  if (!high && (evidence_gone || s.news2_high.absent >= rules.min_readings)) {
    if (auto* a = core::find_alarm(s, emergency_rule)) {
      e.condition_gone(c, *a, fmt::format("NEWS2 down to {}", r.total));
    }
  }
}

void enter_phase(core& e, chair_state& c) {
  auto& s = *c.s;
  const profile& p = *s.prof;
  for (std::size_t i = 0; i < p.limits.size(); ++i) {
    if (rule_active_in(p.limits[i], s.current)) continue;
    for (auto& src : c.sources) src.limits[i] = {};
    if (auto* a = core::find_alarm(s, p.limits[i].id)) e.clear(c, a->id, "rule not active in this phase");
  }
}

}  // namespace vigil::engine::detail::physiological
