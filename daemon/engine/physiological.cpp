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

std::string limit_text(const limit_rule& r, double value, const session_state& s) {
  const auto kind = model::name(r.kind);
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
  // Each source's conditions; a rule's alarm is looked for only when a source has one (the
  // look is the costly part, and this runs on every sample).
  for (const auto& src : c.sources) {
    for (std::size_t i = 0; i < p.limits.size(); ++i) {
      const auto& st = src.limits[i];
      if (st.cond.on && !core::find_alarm(s, p.limits[i].id)) consider(st.cond.since + p.limits[i].delay_ms);
      // A source's state of a rule lasts as long as its evidence (5.7).
      if (st.cond.on || st.held) {
        const auto& v = src.latest[slot(p.limits[i].kind)];
        consider(v ? v->heard + evidence_limit(p.technical, src, p.limits[i].kind) : c.now);
      }
    }
  }
  if (s.news2_until) consider(*s.news2_until);
  if (s.news2_medium.on && !core::find_alarm(s, urgent_rule) && !core::find_alarm(s, emergency_rule)) {
    consider(s.news2_medium.since + p.news2.delay_ms);
  }
  if (s.news2_high.on && !core::find_alarm(s, emergency_rule)) consider(s.news2_high.since + p.news2.delay_ms);
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
      if ((st.cond.on || st.held) && !current(c, src, rule.kind)) {
        st = {};
        expired = true;
      }
    }
    if (!expired) continue;
    if (auto* a = core::find_alarm(s, rule.id); a && a->condition && !held_by_any(c, i)) {
      e.condition_gone(c, *a, fmt::format("no current {} reading", model::name(rule.kind)));
    }
  }
  if (s.news2_until && *s.news2_until <= now) evaluate_news2(e, c);
  for (std::size_t i = 0; i < p.limits.size(); ++i) {
    const auto& rule = p.limits[i];
    if (core::find_alarm(s, rule.id)) continue;
    // Any source's condition raises the alarm; the one that started first gives its value.
    std::optional<condition> due;
    for (const auto& src : c.sources) {
      const auto& cond = src.limits[i].cond;
      if (cond.on && cond.since + rule.delay_ms <= now && (!due || cond.since < due->since)) due = cond;
    }
    if (due) {
      e.raise(c, rule.id, alarm_kind::physiological, rule.level, due->value, limit_text(rule, due->value, s),
              rule.latching);
    }
  }
  // Emergency first: when both come due together, only the emergency alarm is raised.
  if (s.news2_high.on && !core::find_alarm(s, emergency_rule) && s.news2_high.since + p.news2.delay_ms <= now) {
    e.raise(c, std::string(emergency_rule), alarm_kind::physiological, priority::high, s.news2_high.value,
            fmt::format("NEWS2 {} : emergency response", s.news2_high.value));
    if (auto* urgent = core::find_alarm(s, urgent_rule)) e.clear(c, urgent->id, "superseded by news2_emergency");
  }
  if (s.news2_medium.on && !core::find_alarm(s, urgent_rule) && !core::find_alarm(s, emergency_rule) &&
      s.news2_medium.since + p.news2.delay_ms <= now) {
    e.raise(c, std::string(urgent_rule), alarm_kind::physiological, priority::medium, s.news2_medium.value,
            fmt::format("NEWS2 {} : urgent review", s.news2_medium.value));
  }
}

void evaluate_limits(core& e, chair_state& c, source_state& src, vital_kind kind, double value) {
  auto& s = *c.s;
  const profile& p = *s.prof;
  for (std::size_t i = 0; i < p.limits.size(); ++i) {
    const auto& rule = p.limits[i];
    if (rule.kind != kind || !rule_active_in(rule, s.current)) continue;
    double v = value;
    if (rule.relative) {
      if (!s.baseline[slot(kind)]) continue;
      v = value - *s.baseline[slot(kind)];
    }
    auto& st = src.limits[i];
    const bool beyond = rule.inclusive ? (rule.high && v >= *rule.high) || (rule.low && v <= *rule.low)
                                       : (rule.high && v > *rule.high) || (rule.low && v < *rule.low);
    bool condition_now = beyond;
    if (rule.confirm_readings > 1) {
      if (beyond) {
        st.readings = st.readings > 0 && c.now - st.last_beyond <= rule.confirm_within_ms ? st.readings + 1 : 1;
        st.last_beyond = c.now;
      } else {
        st.readings = 0;
      }
      condition_now = st.readings >= rule.confirm_readings;
    }
    update_condition(c, st.cond, condition_now, v, rule.delay_ms);
    // An inclusive limit counts the limit itself as beyond, so back inside must be strictly inside.
    const bool back_inside =
        rule.inclusive
            ? (!rule.high || v < *rule.high - rule.hysteresis) && (!rule.low || v > *rule.low + rule.hysteresis)
            : (!rule.high || v <= *rule.high - rule.hysteresis) && (!rule.low || v >= *rule.low + rule.hysteresis);
    st.held = condition_now || (st.held && !back_inside);
    if (auto* a = core::find_alarm(s, rule.id); a && !a->condition && condition_now) {
      // A latched alarm whose condition returns is live again: it escalates and can re-sound.
      a->condition = true;
      a->value = v;
      core::schedule(c, c.now);
    } else if (a && a->condition && !held_by_any(c, i)) {
      e.condition_gone(c, *a, fmt::format("{} back to {:g}", model::name(kind), value));
    }
  }
}

void evaluate_news2(core& e, chair_state& c) {
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
  if (!obs.pulse) obs.pulse = worst(vital_kind::pulse_rate, news2::pulse_points);
  s.news2_until = until;
  const auto r = news2::score(obs);
  const double total = r.total;
  const bool high = r.total >= rules.high_at;
  // Both conditions run side by side, so a worsening score never leaves a gap; an active
  // emergency alarm stands in for the urgent one (see fire()).
  const bool medium = r.total >= rules.medium_at || (rules.single_three_is_medium && r.any_three);
  update_condition(c, s.news2_medium, medium, total, rules.delay_ms);
  update_condition(c, s.news2_high, high, total, rules.delay_ms);
  if (!medium) {
    if (auto* a = core::find_alarm(s, urgent_rule)) e.condition_gone(c, *a, fmt::format("NEWS2 down to {}", r.total));
  }
  if (!high) {
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
