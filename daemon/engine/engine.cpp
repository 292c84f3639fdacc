#include "daemon/engine/engine.hpp"

#include "daemon/engine/chair_state.hpp"
#include "daemon/engine/checkpoint.hpp"
#include "daemon/engine/news2.hpp"

#include <algorithm>
#include <cmath>
#include <deque>
#include <limits>
#include <map>
#include <unordered_map>
#include <utility>

#include <fmt/format.h>

namespace vigil::engine {
namespace {

using namespace detail;

using model::vital_kind;
namespace quality = model::quality;


std::size_t slot(vital_kind k) { return static_cast<std::size_t>(k); }

/// Flagged samples are kept but drive no physiological rule.
bool usable(const model::vital_sample& s) {
  return (s.quality & (quality::artifact | quality::implausible | quality::sensor_off)) == 0;
}

bool is_cuff(vital_kind k) {
  return k == vital_kind::nibp_systolic || k == vital_kind::nibp_diastolic || k == vital_kind::nibp_mean;
}

bool open_phase(phase p) { return p == phase::baseline || p == phase::observation || p == phase::ready; }

sensor sensor_of(vital_kind k) {
  switch (k) {
    case vital_kind::heart_rate: return ecg;
    case vital_kind::pulse_rate:
    case vital_kind::spo2: return oximeter;
    case vital_kind::nibp_systolic:
    case vital_kind::nibp_diastolic:
    case vital_kind::nibp_mean: return cuff;
    case vital_kind::respiratory_rate: return respiration;
  }
  return ecg;
}
constexpr const char* sensor_rule[sensor_count] = {"sensor_off_ecg", "sensor_off_oximeter", "sensor_off_cuff",
                                                   "sensor_off_respiration"};

/// How long a source's word on a kind stands without a newer sample from it: cuff readings
/// are minutes apart, the other kinds stream.
millis horizon(const technical_rules& t, vital_kind k) {
  return is_cuff(k) ? t.cuff_interval_ms + t.cuff_grace_ms : t.stale_after_ms;
}
millis horizon(const technical_rules& t, sensor which) {
  return which == cuff ? t.cuff_interval_ms + t.cuff_grace_ms : t.stale_after_ms;
}


const std::vector<escalation_tier>& tiers_for(const profile& p, priority level) {
  switch (level) {
    case priority::high: return p.escalation_high;
    case priority::medium: return p.escalation_medium;
    case priority::low: break;
  }
  return p.escalation_low;
}

bool rule_active_in(const limit_rule& r, phase p) {
  if (r.phases.empty()) return open_phase(p);
  return std::find(r.phases.begin(), r.phases.end(), p) != r.phases.end();
}

}  // namespace

struct engine::state {
  std::vector<profile> profiles;
  // Ordered, so that advance() visits chairs, and emits their events, in the same order every run.
  std::map<std::string, chair_state, std::less<>> chairs;
  std::vector<event> events;
  std::uint64_t next_session = 1;
  std::uint64_t next_alarm = 1;
  std::vector<chair_state*> changed;  // chairs are never erased, so the pointers stay valid
  bool storage_saved = true;

  // --- helpers --------------------------------------------------------------------------------

  const profile* find_profile(std::string_view id) const {
    for (const auto& p : profiles) {
      if (p.id == id) return &p;
    }
    return nullptr;
  }

  chair_state& chair(std::string_view id) {
    auto it = chairs.find(id);
    if (it == chairs.end()) {
      it = chairs.emplace(std::string(id), chair_state{}).first;
      it->second.id = std::string(id);
    }
    return it->second;
  }

  chair_state* find_chair(std::string_view id) {
    auto it = chairs.find(id);
    return it == chairs.end() ? nullptr : &it->second;
  }

  void touch(chair_state& c) {
    if (c.changed) return;
    c.changed = true;
    changed.push_back(&c);
  }

  event& emit(chair_state& c, event_type type) {
    touch(c);
    event& e = events.emplace_back();
    e.type = type;
    e.at = c.now;
    e.chair = c.id;
    e.session = c.s ? c.s->id : 0;
    return e;
  }

  void emit_alarm(chair_state& c, event_type type, const alarm_rec& a) {
    event& e = emit(c, type);
    e.alarm = a.id;
    e.rule = a.rule;
    e.kind = a.kind;
    e.level = a.level;
    e.value = a.value;
    if (type == event_type::alarm_raised) e.text = a.text;
  }

  alarm_rec* find_alarm(session_state& s, std::string_view rule) {
    for (auto& a : s.alarms) {
      if (a.rule == rule) return &a;
    }
    return nullptr;
  }

  // --- alarm lifecycle ------------------------------------------------------------------------

  void raise(chair_state& c, std::string rule, alarm_kind kind, priority level, double value, std::string text,
                   bool latching = false) {
    auto& s = *c.s;
    alarm_rec a;
    a.id = next_alarm++;
    a.rule = std::move(rule);
    a.kind = kind;
    a.level = level;
    a.raised_at = c.now;
    a.latching = latching;
    a.tier_base = c.now;
    a.value = value;
    a.text = std::move(text);
    s.alarms.push_back(std::move(a));
    emit_alarm(c, event_type::alarm_raised, s.alarms.back());
    s.ready_ok_since.reset();
    if (s.current == phase::ready) set_phase(c, phase::observation, "alarm raised");
    if (level == priority::high && s.paused_until > c.now) {
      s.paused_until = 0;
      emit(c, event_type::audio_resumed).text = "audio pause ended by a new high-priority alarm";
    }
    schedule(c, c.now);
  }

  void clear(chair_state& c, std::uint64_t id, std::string_view why) {
    auto& alarms = c.s->alarms;
    auto it = std::find_if(alarms.begin(), alarms.end(), [id](const alarm_rec& a) { return a.id == id; });
    if (it == alarms.end()) return;
    emit_alarm(c, event_type::alarm_cleared, *it);
    events.back().text = std::string(why);
    alarms.erase(it);
  }

  /// The condition behind an alarm is gone: non-latching alarms clear, latching ones wait for an ack.
  void condition_gone(chair_state& c, alarm_rec& a, std::string_view why) {
    if (a.latching && !a.acknowledged) {
      a.condition = false;
      return;
    }
    clear(c, a.id, why);
  }

  /// Raises or clears the chair's timeline_not_saved alarm to match the storage state.
  void note_storage(chair_state& c) {
    if (!c.s) return;
    auto* a = find_alarm(*c.s, storage_rule);
    if (!storage_saved && a == nullptr) {
      raise(c, std::string(storage_rule), alarm_kind::technical, priority::medium, 0,
            "the session timeline is not being saved (disk full or failing); alarms still work");
    } else if (storage_saved && a != nullptr) {
      clear(c, a->id, "the timeline is being saved again");
    }
  }
  static constexpr std::string_view storage_rule = "timeline_not_saved";

  // --- time -----------------------------------------------------------------------------------

  void schedule(chair_state& c, millis due) { c.next_due = std::min(c.next_due, due); }

  /// The earliest moment any timer of the chair's session is due; `never` if none.
  millis earliest_due(chair_state& c) {
    if (!c.s) return never;
    auto& s = *c.s;
    const profile& p = *s.prof;
    millis due = never;
    auto consider = [&](millis t) { due = std::min(due, t); };

    // Each source's conditions; a rule's alarm is looked for only when a source has one (the
    // look is the costly part, and this runs on every sample).
    for (const auto& src : c.sources) {
      for (std::size_t i = 0; i < p.limits.size(); ++i) {
        const auto& cond = src.limits[i].cond;
        if (cond.on && !find_alarm(s, p.limits[i].id)) consider(cond.since + p.limits[i].delay_ms);
      }
      for (std::size_t k = 0; k < sensor_count; ++k) {
        const auto& off = src.sensor_off[k];
        if (off.on && !find_alarm(s, sensor_rule[k])) consider(off.since + p.technical.sensor_off_delay_ms);
      }
    }
    if (s.news2_medium.on && !find_alarm(s, "news2_urgent") && !find_alarm(s, "news2_emergency")) {
      consider(s.news2_medium.since + p.news2.delay_ms);
    }
    if (s.news2_high.on && !find_alarm(s, "news2_emergency")) consider(s.news2_high.since + p.news2.delay_ms);
    if (!find_alarm(s, "stale_heart_rate")) consider(s.heart_seen + p.technical.stale_after_ms);
    if (!find_alarm(s, "stale_spo2")) consider(s.spo2_seen + p.technical.stale_after_ms);
    if (auto cuff_due = cuff_overdue_at(s); cuff_due && !find_alarm(s, "cuff_overdue")) consider(*cuff_due);
    if (s.disconnected_since && !find_alarm(s, "device_disconnected")) {
      consider(*s.disconnected_since + p.technical.disconnected_after_ms);
    }
    for (const auto& a : s.alarms) {
      const auto& tiers = tiers_for(p, a.level);
      if (!a.acknowledged && a.condition && a.tier + 1 < static_cast<int>(tiers.size())) {
        consider(a.tier_base + tiers[static_cast<std::size_t>(a.tier + 1)].after_ms);
      }
      if (a.acknowledged && a.condition && a.kind != alarm_kind::advisory) consider(a.silenced_until);
    }
    if (s.paused_until > c.now) consider(s.paused_until);
    if (s.current == phase::observation && s.ready_ok_since && s.dose_at) {
      consider(std::max(*s.dose_at + p.discharge.observation_ms, *s.ready_ok_since + p.discharge.hold_ms));
    }
    return due;
  }

  /// When the next cuff reading becomes overdue, during observation.
  std::optional<millis> cuff_overdue_at(const session_state& s) const {
    if (!s.dose_at || (s.current != phase::observation && s.current != phase::ready)) return std::nullopt;
    const auto& t = s.prof->technical;
    const millis since = s.last_cuff && *s.last_cuff >= *s.first_dose_at ? *s.last_cuff : *s.first_dose_at;
    millis due = since + t.cuff_interval_ms;
    if (!s.post_dose_check_done) due = std::min(due, *s.first_dose_at + t.post_dose_check_ms);
    return due + t.cuff_grace_ms;
  }

  bool post_dose_check_overdue(const session_state& s) const {
    const auto& t = s.prof->technical;
    return !s.post_dose_check_done && s.first_dose_at &&
           *s.first_dose_at + t.post_dose_check_ms + t.cuff_grace_ms <= *cuff_overdue_at(s);
  }

  /// Fires every timer due at or before `c.now`, earliest first, each at its own time.
  void run_timers(chair_state& c, millis until) {
    if (!c.s) {
      c.now = std::max(c.now, until);
      return;
    }
    for (;;) {
      const millis due = earliest_due(c);
      c.next_due = due;
      if (due > until) break;
      c.now = std::max(c.now, due);
      fire(c);
    }
    c.now = std::max(c.now, until);
  }

  /// Acts on everything due at c.now, in a fixed order.
  void fire(chair_state& c) {
    touch(c);
    auto& s = *c.s;
    const profile& p = *s.prof;
    const millis now = c.now;
    for (std::size_t i = 0; i < p.limits.size(); ++i) {
      const auto& rule = p.limits[i];
      if (find_alarm(s, rule.id)) continue;
      // Any source's condition raises the alarm; the one that started first gives its value.
      std::optional<condition> due;
      for (const auto& src : c.sources) {
        const auto& cond = src.limits[i].cond;
        if (cond.on && cond.since + rule.delay_ms <= now && (!due || cond.since < due->since)) due = cond;
      }
      if (due) {
        raise(c, rule.id, alarm_kind::physiological, rule.level, due->value, limit_text(rule, due->value, s),
              rule.latching);
      }
    }
    for (std::size_t k = 0; k < sensor_count; ++k) {
      if (find_alarm(s, sensor_rule[k])) continue;
      const bool due = std::any_of(c.sources.begin(), c.sources.end(), [&](const source_state& src) {
        return src.sensor_off[k].on && src.sensor_off[k].since + p.technical.sensor_off_delay_ms <= now;
      });
      if (due) {
        raise(c, sensor_rule[k], alarm_kind::technical, p.technical.sensor_off_level, 0,
              "sensor reports it is off the patient");
      }
    }
    // Emergency first: when both come due together, only the emergency alarm is raised.
    if (s.news2_high.on && !find_alarm(s, "news2_emergency") && s.news2_high.since + p.news2.delay_ms <= now) {
      raise(c, "news2_emergency", alarm_kind::physiological, priority::high, s.news2_high.value,
            fmt::format("NEWS2 {} : emergency response", s.news2_high.value));
      if (auto* urgent = find_alarm(s, "news2_urgent")) clear(c, urgent->id, "superseded by news2_emergency");
    }
    if (s.news2_medium.on && !find_alarm(s, "news2_urgent") && !find_alarm(s, "news2_emergency") &&
        s.news2_medium.since + p.news2.delay_ms <= now) {
      raise(c, "news2_urgent", alarm_kind::physiological, priority::medium, s.news2_medium.value,
            fmt::format("NEWS2 {} : urgent review", s.news2_medium.value));
    }
    if (!find_alarm(s, "stale_heart_rate") && s.heart_seen + p.technical.stale_after_ms <= now) {
      raise(c, "stale_heart_rate", alarm_kind::technical, p.technical.stale_level, 0,
            fmt::format("no heart rate for {} s", p.technical.stale_after_ms / seconds_ms));
    }
    if (!find_alarm(s, "stale_spo2") && s.spo2_seen + p.technical.stale_after_ms <= now) {
      raise(c, "stale_spo2", alarm_kind::technical, p.technical.stale_level, 0,
            fmt::format("no SpO2 for {} s", p.technical.stale_after_ms / seconds_ms));
    }
    if (auto due = cuff_overdue_at(s); due && *due <= now && !find_alarm(s, "cuff_overdue")) {
      raise(c, "cuff_overdue", alarm_kind::technical, p.technical.cuff_level, 0,
            post_dose_check_overdue(s) ? "post-dose cuff reading overdue" : "cuff reading overdue");
    }
    if (s.disconnected_since && !find_alarm(s, "device_disconnected") &&
        *s.disconnected_since + p.technical.disconnected_after_ms <= now) {
      raise(c, "device_disconnected", alarm_kind::technical, p.technical.disconnected_level, 0, "monitor disconnected");
    }
    for (auto& a : s.alarms) {
      const auto& tiers = tiers_for(p, a.level);
      while (!a.acknowledged && a.condition && a.tier + 1 < static_cast<int>(tiers.size()) &&
             a.tier_base + tiers[static_cast<std::size_t>(a.tier + 1)].after_ms <= now) {
        ++a.tier;
        event& e = emit(c, event_type::alarm_escalated);
        e.alarm = a.id;
        e.rule = a.rule;
        e.kind = a.kind;
        e.level = a.level;
        e.tier = a.tier;
        e.responder = tiers[static_cast<std::size_t>(a.tier)].responder;
      }
      if (a.acknowledged && a.condition && a.kind != alarm_kind::advisory && a.silenced_until <= now) {
        a.acknowledged = false;
        a.tier = -1;
        a.tier_base = now;
        emit_alarm(c, event_type::alarm_resounded, a);
      }
    }
    if (s.paused_until != 0 && s.paused_until <= now) {
      s.paused_until = 0;
      // High priority can be paused, never disabled: a later pause no longer silences these.
      for (auto& a : s.alarms) {
        if (a.level == priority::high) a.paused_through = true;
      }
      emit(c, event_type::audio_resumed).text = "audio pause ended";
    }
    if (s.current == phase::observation && s.ready_ok_since && s.dose_at &&
        std::max(*s.dose_at + p.discharge.observation_ms, *s.ready_ok_since + p.discharge.hold_ms) <= now) {
      if (discharge_criteria_met(c)) {
        set_phase(c, phase::ready, "observation window elapsed; vitals within the discharge criteria");
      } else {
        s.ready_ok_since.reset();
      }
    }
  }

  std::string limit_text(const limit_rule& r, double value, const session_state& s) const {
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

  // --- phases ---------------------------------------------------------------------------------

  void set_phase(chair_state& c, phase to, std::string_view why) {
    auto& s = *c.s;
    if (s.current == to) return;
    event& e = emit(c, event_type::phase_changed);
    e.from = s.current;
    e.to = to;
    e.text = std::string(why);
    s.current = to;
    // Rules that do not apply in the new phase drop their conditions and alarms.
    const profile& p = *s.prof;
    for (std::size_t i = 0; i < p.limits.size(); ++i) {
      if (rule_active_in(p.limits[i], to)) continue;
      for (auto& src : c.sources) src.limits[i] = {};
      if (auto* a = find_alarm(s, p.limits[i].id)) clear(c, a->id, "rule not active in this phase");
    }
  }

  // --- readiness for discharge assessment -----------------------------------------------------

  /// Calls `f` with each value of `kind` that NEWS2 and readiness weigh: the latest usable value
  /// of every source heard on that kind within its horizon or, when none is, of the sources
  /// heard last. So a second source can add a value, never hide one that is still current.
  template <class F>
  static void for_each_weighed(const chair_state& c, vital_kind kind, F&& f) {
    const auto k = slot(kind);
    if (c.sources.size() == 1) {
      // One source: its value is current, or else the one heard last, either way the one weighed.
      if (const auto& v = c.sources.front().latest[k]) f(v->value);
      return;
    }
    const millis h = horizon(c.s->prof->technical, kind);
    bool any_current = false;
    millis last_heard = std::numeric_limits<millis>::min();
    for (const auto& src : c.sources) {
      if (const auto& v = src.latest[k]) {
        any_current = any_current || v->heard + h > c.now;
        last_heard = std::max(last_heard, v->heard);
      }
    }
    for (const auto& src : c.sources) {
      const auto& v = src.latest[k];
      if (v && (any_current ? v->heard + h > c.now : v->heard == last_heard)) f(v->value);
    }
  }

  /// Whether `kind` has a value to weigh and every one of them passes `ok`.
  template <class F>
  static bool all_weighed(const chair_state& c, vital_kind kind, F&& ok) {
    bool any = false;
    bool all = true;
    for_each_weighed(c, kind, [&](double v) {
      any = true;
      all = all && ok(v);
    });
    return any && all;
  }

  bool discharge_criteria_met(const chair_state& c) const {
    const auto& s = *c.s;
    const auto& d = s.prof->discharge;
    if (!s.alarms.empty()) return false;
    for (const auto kind : {vital_kind::nibp_systolic, vital_kind::nibp_diastolic}) {
      const auto& base = s.baseline[slot(kind)];
      if (!base || *base <= 0) return false;
      const double band = *base * d.bp_band_percent / 100.0;
      if (!all_weighed(c, kind, [&](double v) { return std::abs(v - *base) <= band; })) return false;
    }
    return all_weighed(c, vital_kind::spo2, [&](double v) { return v > d.spo2_min; });
  }

  void review_readiness(chair_state& c) {
    auto& s = *c.s;
    if (s.current != phase::observation && s.current != phase::ready) return;
    if (discharge_criteria_met(c)) {
      if (!s.ready_ok_since) {
        s.ready_ok_since = c.now;
        schedule(c, std::max(*s.dose_at + s.prof->discharge.observation_ms, c.now + s.prof->discharge.hold_ms));
      }
      return;
    }
    s.ready_ok_since.reset();
    if (s.current == phase::ready) set_phase(c, phase::observation, "discharge criteria no longer met");
  }

  // --- samples --------------------------------------------------------------------------------

  void update_condition(chair_state& c, condition& cond, bool on, double value, millis delay) {
    if (on && !cond.on) {
      cond = {true, c.now, value};
      schedule(c, c.now + delay);
    } else if (on) {
      cond.value = value;
    } else {
      cond.on = false;
    }
  }

  /// Evaluates the rules on `kind` with a usable sample from `src`.
  void evaluate_limits(chair_state& c, source_state& src, vital_kind kind, double value) {
    auto& s = *c.s;
    const profile& p = *s.prof;
    const millis h = horizon(p.technical, kind);
    for (std::size_t i = 0; i < p.limits.size(); ++i) {
      const auto& rule = p.limits[i];
      if (rule.kind != kind || !rule_active_in(rule, s.current)) continue;
      double v = value;
      if (rule.relative) {
        if (!s.baseline[slot(kind)]) continue;
        v = value - *s.baseline[slot(kind)];
      }
      // Another source silent on this kind for its horizon (unplugged, say) no longer holds anything.
      if (c.sources.size() > 1) {
        for (auto& other : c.sources) {
          const auto& last = other.latest[slot(kind)];
          if (&other != &src && (!last || last->heard + h <= c.now)) other.limits[i] = {};
        }
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
      if (auto* a = find_alarm(s, rule.id); a && !a->condition && condition_now) {
        // A latched alarm whose condition returns is live again: it escalates and can re-sound.
        a->condition = true;
        a->value = v;
        schedule(c, c.now);
      } else if (a && a->condition && !held_by_any(c, i)) {
        condition_gone(c, *a, fmt::format("{} back to {:g}", model::name(kind), value));
      }
    }
  }

  static bool held_by_any(const chair_state& c, std::size_t rule) {
    return std::any_of(c.sources.begin(), c.sources.end(),
                       [&](const source_state& src) { return src.limits[rule].held; });
  }

  void evaluate_news2(chair_state& c) {
    auto& s = *c.s;
    const auto& rules = s.prof->news2;
    if (!rules.enabled) return;
    news2::observations obs;
    // The worst-scoring value of each kind, so that no source's normal reading hides another's.
    auto worst = [&](vital_kind k, int (*points)(double)) -> std::optional<double> {
      if (c.sources.size() == 1) {
        const auto& v = c.sources.front().latest[slot(k)];
        return v ? std::optional<double>(v->value) : std::nullopt;
      }
      std::optional<double> out;
      int most = -1;  // scored only once a second value is there to compare: one source costs nothing
      for_each_weighed(c, k, [&](double v) {
        if (!out) {
          out = v;
          return;
        }
        if (most < 0) most = points(*out);
        if (const int score = points(v); score > most) {
          most = score;
          out = v;
        }
      });
      return out;
    };
    obs.respiratory_rate = worst(vital_kind::respiratory_rate, news2::respiratory_rate_points);
    obs.spo2 = worst(vital_kind::spo2, news2::spo2_scale1_points);
    obs.systolic = worst(vital_kind::nibp_systolic, news2::systolic_points);
    obs.pulse = worst(vital_kind::heart_rate, news2::pulse_points);
    if (!obs.pulse) obs.pulse = worst(vital_kind::pulse_rate, news2::pulse_points);
    const auto r = news2::score(obs);
    const double total = r.total;
    const bool high = r.total >= rules.high_at;
    // Both conditions run side by side, so a worsening score never leaves a gap; an active
    // emergency alarm stands in for the urgent one (see fire()).
    const bool medium = r.total >= rules.medium_at || (rules.single_three_is_medium && r.any_three);
    update_condition(c, s.news2_medium, medium, total, rules.delay_ms);
    update_condition(c, s.news2_high, high, total, rules.delay_ms);
    if (!medium) {
      if (auto* a = find_alarm(s, "news2_urgent")) condition_gone(c, *a, fmt::format("NEWS2 down to {}", r.total));
    }
    if (!high) {
      if (auto* a = find_alarm(s, "news2_emergency")) condition_gone(c, *a, fmt::format("NEWS2 down to {}", r.total));
    }
  }

  void note_baseline_sample(session_state& s, vital_kind kind, millis at, double value) {
    auto& window = s.baseline_samples[slot(kind)];
    window.emplace_back(at, value);
    // Bounded whatever a monitor sends: ample for 1 Hz over a 60-minute window.
    constexpr std::size_t max_baseline_samples = 4096;
    if (window.size() > max_baseline_samples) window.pop_front();
    const millis oldest = at - s.prof->baseline_window_ms;
    // Cuff readings are sparse: keep the latest even when it is older than the window.
    while (window.size() > 1 && window.front().first <= oldest) window.pop_front();
  }

  void check_predose(chair_state& c, vital_kind kind, double value) {
    auto& s = *c.s;
    if (s.current != phase::baseline || (kind != vital_kind::nibp_systolic && kind != vital_kind::nibp_diastolic)) return;
    if (kind == vital_kind::nibp_systolic) s.predose_reading = true;
    if (s.predose_overridden) return;
    const auto& rules = s.prof->predose;
    const double limit = kind == vital_kind::nibp_systolic ? rules.systolic_max : rules.diastolic_max;
    if (value <= limit) return;
    if (auto* a = find_alarm(s, "predose_bp"); a && !a->acknowledged) return;
    raise(c, "predose_bp", alarm_kind::advisory, priority::low, value,
          fmt::format("pre-dose {} {:g} mmHg above {:g}: acknowledge or override before dosing", model::name(kind),
                      value, limit),
          true);
  }

  void note_sensor(chair_state& c, source_state& src, const model::vital_sample& sample) {
    auto& s = *c.s;
    const auto& t = s.prof->technical;
    const auto which = sensor_of(sample.kind);
    const bool off = (sample.quality & quality::sensor_off) != 0;
    update_condition(c, src.sensor_off[which], off, 0, t.sensor_off_delay_ms);
    src.sensor_heard[which] = c.now;
    // Back on only when no source says its sensor is off; a source silent on the sensor for
    // its horizon no longer says so.
    bool any_off = false;
    for (auto& other : c.sources) {
      auto& cond = other.sensor_off[which];
      if (&other != &src && cond.on && other.sensor_heard[which] + horizon(t, which) <= c.now) cond.on = false;
      any_off = any_off || cond.on;
    }
    if (!any_off) {
      if (auto* a = find_alarm(s, sensor_rule[which])) clear(c, a->id, "sensor back on");
    }
  }

  void note_stream(chair_state& c, vital_kind kind, millis at) {
    auto& s = *c.s;
    if (kind == vital_kind::heart_rate || kind == vital_kind::pulse_rate) {
      if (at < s.heart_seen) return;
      s.heart_seen = at;
      if (auto* a = find_alarm(s, "stale_heart_rate")) clear(c, a->id, "heart rate back");
    } else if (kind == vital_kind::spo2) {
      if (at < s.spo2_seen) return;
      s.spo2_seen = at;
      if (auto* a = find_alarm(s, "stale_spo2")) clear(c, a->id, "SpO2 back");
    }
  }

  void note_cuff(chair_state& c, vital_kind kind) {
    auto& s = *c.s;
    if (kind != vital_kind::nibp_systolic) return;
    s.last_cuff = c.now;
    if (s.first_dose_at && !s.post_dose_check_done &&
        c.now >= *s.first_dose_at + s.prof->technical.post_dose_check_ms - s.prof->technical.cuff_grace_ms) {
      s.post_dose_check_done = true;
    }
    if (auto* a = find_alarm(s, "cuff_overdue")) clear(c, a->id, "cuff reading taken");
  }

  /// The chair's slot for source `id`: its own, else the one of unknown id (a checkpoint from
  /// before sources), else a new one, else that of the source heard least recently.
  source_state& source(chair_state& c, std::string_view id) {
    for (auto& src : c.sources) {
      if (src.id == id) return src;
    }
    source_state* src = nullptr;
    for (auto& unknown : c.sources) {
      if (unknown.id.empty()) src = &unknown;
    }
    if (src == nullptr) {
      if (c.sources.size() < max_sources) {
        src = &c.sources.emplace_back();
      } else {
        src = &*std::min_element(c.sources.begin(), c.sources.end(),
                                 [](const source_state& a, const source_state& b) { return a.heard < b.heard; });
        *src = source_state{};
      }
      if (c.s) src->limits.resize(c.s->prof->limits.size());
    }
    src->id = std::string(id);
    return *src;
  }

  sample_outcome on_sample(chair_state& c, const model::vital_sample& sample, std::string_view source_id) {
    touch(c);
    auto& src = source(c, source_id);
    const auto k = slot(sample.kind);
    if (src.last_time[k] && sample.time_ms < *src.last_time[k]) return sample_outcome::out_of_order;
    if (src.last_time[k] && sample.time_ms == *src.last_time[k]) return sample_outcome::duplicate;
    if (sample.time_ms > c.now) run_timers(c, sample.time_ms);
    src.last_time[k] = sample.time_ms;
    src.heard = c.now;
    const bool good = usable(sample);
    if (good) src.latest[k] = latest_value{sample.time_ms, sample.value, c.now};

    if (!c.s) {
      if (!c.no_session) {
        alarm_rec a;
        a.id = next_alarm++;
        a.rule = "no_session";
        a.kind = alarm_kind::advisory;
        a.level = priority::low;
        a.raised_at = c.now;
        a.text = "chair is streaming vitals with no open session";
        c.no_session = a;
        emit_alarm(c, event_type::alarm_raised, a);
      }
      return sample_outcome::no_session;
    }

    auto& s = *c.s;
    // A stream is alive while it delivers usable values or says its sensor is off (which
    // has its own alarm); artifacts alone do not keep it alive.
    if (good || (sample.quality & quality::sensor_off) != 0) note_stream(c, sample.kind, sample.time_ms);
    note_sensor(c, src, sample);
    if (!good) {
      run_timers(c, c.now);
      return sample_outcome::not_evaluated;
    }
    if (s.current == phase::baseline) note_baseline_sample(s, sample.kind, sample.time_ms, sample.value);
    if (is_cuff(sample.kind)) {
      note_cuff(c, sample.kind);
      check_predose(c, sample.kind, sample.value);
    }
    evaluate_limits(c, src, sample.kind, sample.value);
    if (sample.kind != vital_kind::nibp_diastolic && sample.kind != vital_kind::nibp_mean) evaluate_news2(c);
    review_readiness(c);
    run_timers(c, c.now);
    return sample_outcome::applied;
  }

  void settle(chair_state& c) {
    if (c.s) review_readiness(c);
    run_timers(c, c.now);
  }

  void advance_chair(chair_state& c, millis at) {
    if (at > c.now && at >= c.next_due) {
      run_timers(c, at);
    } else {
      c.now = std::max(c.now, at);
    }
  }
};

// --- public API -------------------------------------------------------------------------------

engine::engine(std::vector<profile> profiles) : state_(std::make_unique<state>()) {
  if (profiles.empty()) profiles.push_back(generic_profile());
  state_->profiles = std::move(profiles);
}
engine::~engine() = default;
engine::engine(engine&&) noexcept = default;
engine& engine::operator=(engine&&) noexcept = default;

sample_outcome engine::on_sample(std::string_view chair, const model::vital_sample& sample, std::string_view source) {
  return state_->on_sample(state_->chair(chair), sample, source);
}

engine::outcome_counts engine::on_samples(std::string_view chair, std::span<const model::vital_sample> samples,
                                          std::string_view source) {
  outcome_counts counts{};
  auto& c = state_->chair(chair);  // one lookup for the whole batch
  for (const auto& sample : samples) ++counts[static_cast<std::size_t>(state_->on_sample(c, sample, source))];
  return counts;
}

void engine::on_device(std::string_view chair, bool connected, millis at) {
  auto& st = *state_;
  auto& c = st.chair(chair);
  st.advance_chair(c, at);
  st.touch(c);
  c.connected = connected;
  if (!c.s) return;
  auto& s = *c.s;
  if (connected) {
    s.disconnected_since.reset();
    if (auto* a = st.find_alarm(s, "device_disconnected")) st.clear(c, a->id, "monitor reconnected");
  } else if (!s.disconnected_since) {
    s.disconnected_since = c.now;
    st.schedule(c, c.now + s.prof->technical.disconnected_after_ms);
  }
  st.settle(c);
}

void engine::on_storage(bool saved) {
  auto& st = *state_;
  st.storage_saved = saved;
  for (auto& [id, c] : st.chairs) {
    st.note_storage(c);
    st.run_timers(c, c.now);
  }
}

void engine::advance(millis at) {
  for (auto& [id, c] : state_->chairs) state_->advance_chair(c, at);
}

void engine::advance(std::string_view chair, millis at) {
  if (auto* c = state_->find_chair(chair)) state_->advance_chair(*c, at);
}

command_result engine::apply(const open_session& cmd, millis at) {
  auto& st = *state_;
  if (cmd.chair.empty()) return {command_error::invalid_argument, "chair is required", 0};
  if (cmd.patient_ref.empty() || cmd.patient_ref.size() > 64) {
    return {command_error::invalid_argument, "patient_ref must be 1 to 64 characters (a reference, not a name)", 0};
  }
  const profile* prof = st.find_profile(cmd.profile);
  if (prof == nullptr) return {command_error::unknown_profile, fmt::format("no profile named '{}'", cmd.profile), 0};
  auto& c = st.chair(cmd.chair);
  st.advance_chair(c, at);
  if (c.s) {
    return {command_error::session_already_open,
            fmt::format("chair '{}' already has session {} open; close it first", cmd.chair, c.s->id), c.s->id};
  }
  if (c.no_session) {
    const auto advisory = *c.no_session;
    c.no_session.reset();
    st.emit_alarm(c, event_type::alarm_cleared, advisory);
    st.events.back().text = "session opened";
  }
  session_state s;
  s.id = st.next_session++;
  s.patient_ref = cmd.patient_ref;
  s.prof = prof;
  s.opened_at = c.now;
  s.heart_seen = c.now;
  s.spo2_seen = c.now;
  c.s = std::move(s);
  // NEWS2 and the discharge criteria use this session's values only, never the last patient's.
  for (auto& src : c.sources) {
    src.latest = {};
    src.limits.assign(prof->limits.size(), limit_state{});
    src.sensor_off = {};
    src.sensor_heard = {};
  }
  if (c.connected == false) c.s->disconnected_since = c.now;
  event& e = st.emit(c, event_type::session_opened);
  e.who = cmd.by;
  e.text = fmt::format("patient {} with profile {}", cmd.patient_ref, prof->id);
  e.to = phase::baseline;
  e.patient_ref = cmd.patient_ref;
  e.profile = prof->id;
  st.note_storage(c);  // after the last use of `e`: raising an alarm adds events
  st.schedule(c, c.now);
  st.settle(c);
  return {command_error::none, {}, c.s->id};
}

command_result engine::apply(const override_predose& cmd, millis at) {
  auto& st = *state_;
  auto* c = st.find_chair(cmd.chair);
  if (c == nullptr || !c->s) return {command_error::no_open_session, fmt::format("no open session on chair '{}'", cmd.chair), 0};
  st.advance_chair(*c, at);
  auto& s = *c->s;
  if (s.current != phase::baseline) return {command_error::wrong_phase, "the pre-dose check applies before the first dose", s.id};
  if (cmd.by.empty() || cmd.reason.empty()) {
    return {command_error::invalid_argument, "an override needs who (by) and why (reason)", s.id};
  }
  s.predose_overridden = true;
  event& e = st.emit(*c, event_type::predose_override);
  e.who = cmd.by;
  e.text = cmd.reason;
  if (auto* a = st.find_alarm(s, "predose_bp")) st.clear(*c, a->id, fmt::format("overridden by {}", cmd.by));
  st.settle(*c);
  return {command_error::none, {}, s.id};
}

command_result engine::apply(const mark_dose& cmd, millis at) {
  auto& st = *state_;
  auto* c = st.find_chair(cmd.chair);
  if (c == nullptr || !c->s) return {command_error::no_open_session, fmt::format("no open session on chair '{}'", cmd.chair), 0};
  st.advance_chair(*c, at);
  auto& s = *c->s;
  if (s.current == phase::ready) {
    return {command_error::wrong_phase,
            "the patient is ready for discharge assessment; open a new session for a new dosing session", s.id};
  }
  if (s.current == phase::baseline && !s.predose_overridden) {
    if (auto* a = st.find_alarm(s, "predose_bp"); a && !a->acknowledged) {
      return {command_error::predose_gate,
              fmt::format("pre-dose blood pressure advisory ({}) must be acknowledged or overridden first", a->text), s.id};
    }
    if (s.prof->predose.require_reading && !s.predose_reading) {
      return {command_error::predose_gate, "no pre-dose blood pressure reading: take one, or override with a reason", s.id};
    }
  }
  const bool first = s.current == phase::baseline;
  s.dose_at = c->now;
  event& e = st.emit(*c, event_type::dose_marked);
  e.who = cmd.by;
  e.text = fmt::format("{} {}", cmd.route, cmd.dose);
  e.until = c->now + s.prof->discharge.observation_ms;
  if (first) {
    s.first_dose_at = c->now;
    std::string summary;
    for (std::size_t k = 1; k < kind_slots; ++k) {
      const auto& window = s.baseline_samples[k];
      if (window.empty()) continue;
      double sum = 0;
      int n = 0;
      for (const auto& [t, v] : window) {
        if (t > c->now - s.prof->baseline_window_ms) {
          sum += v;
          ++n;
        }
      }
      if (n == 0) {
        // Sparse readings (the cuff): the latest one stands for the baseline.
        sum = window.back().second;
        n = 1;
      }
      s.baseline[k] = sum / n;
      summary += fmt::format("{}{} {:.1f}", summary.empty() ? "" : ", ", model::name(static_cast<vital_kind>(k)), sum / n);
    }
    s.baseline_samples = {};
    if (auto* a = st.find_alarm(s, "predose_bp")) st.clear(*c, a->id, "dose given");
    event& b = st.emit(*c, event_type::baseline_set);
    b.text = summary.empty() ? "no baseline vitals" : summary;
    st.set_phase(*c, phase::observation, "dose marked");
  } else {
    s.ready_ok_since.reset();
  }
  st.settle(*c);
  return {command_error::none, {}, s.id};
}

command_result engine::apply(const acknowledge& cmd, millis at) {
  auto& st = *state_;
  auto* c = st.find_chair(cmd.chair);
  if (c == nullptr) return {command_error::unknown_alarm, fmt::format("no alarm {} on chair '{}'", cmd.alarm, cmd.chair), 0};
  st.advance_chair(*c, at);
  if (cmd.by.empty()) return {command_error::invalid_argument, "an acknowledgement needs who (by)", 0};
  if (c->no_session && c->no_session->id == cmd.alarm) {
    const auto advisory = *c->no_session;
    c->no_session.reset();
    event& e = st.emit(*c, event_type::alarm_acknowledged);
    e.alarm = advisory.id;
    e.rule = advisory.rule;
    e.kind = advisory.kind;
    e.who = cmd.by;
    st.emit_alarm(*c, event_type::alarm_cleared, advisory);
    st.events.back().text = fmt::format("acknowledged by {}", cmd.by);
    return {};
  }
  if (!c->s) return {command_error::unknown_alarm, fmt::format("no alarm {} on chair '{}'", cmd.alarm, cmd.chair), 0};
  auto& s = *c->s;
  auto it = std::find_if(s.alarms.begin(), s.alarms.end(), [&](const alarm_rec& a) { return a.id == cmd.alarm; });
  if (it == s.alarms.end()) {
    return {command_error::unknown_alarm,
            fmt::format("alarm {} is not active on chair '{}' (unknown, or already cleared)", cmd.alarm, cmd.chair), s.id};
  }
  auto& a = *it;
  a.acknowledged = true;
  a.acknowledged_by = cmd.by;
  a.silenced_until = c->now + s.prof->audio.ack_silence_ms;
  event& e = st.emit(*c, event_type::alarm_acknowledged);
  e.alarm = a.id;
  e.rule = a.rule;
  e.kind = a.kind;
  e.level = a.level;
  e.who = cmd.by;
  if (a.condition && a.kind != alarm_kind::advisory) e.until = a.silenced_until;
  if (!a.condition || a.kind == alarm_kind::advisory) st.clear(*c, a.id, fmt::format("acknowledged by {}", cmd.by));
  st.settle(*c);
  return {command_error::none, {}, s.id};
}

command_result engine::apply(const pause_audio& cmd, millis at) {
  auto& st = *state_;
  auto* c = st.find_chair(cmd.chair);
  if (c == nullptr || !c->s) return {command_error::no_open_session, fmt::format("no open session on chair '{}'", cmd.chair), 0};
  st.advance_chair(*c, at);
  auto& s = *c->s;
  const millis max = s.prof->audio.max_pause_ms;
  if (cmd.duration_ms <= 0 || cmd.duration_ms > max) {
    return {command_error::invalid_argument,
            fmt::format("an audio pause lasts 1 s to {} s; alarms cannot be silenced for longer", max / seconds_ms), s.id};
  }
  if (cmd.by.empty()) return {command_error::invalid_argument, "an audio pause needs who (by)", s.id};
  if (s.paused_until > c->now) {
    // Chaining pauses must not keep a high-priority alarm silent: the replaced pause counts as ended.
    for (auto& a : s.alarms) {
      if (a.level == priority::high) a.paused_through = true;
    }
  }
  s.paused_until = c->now + cmd.duration_ms;
  event& e = st.emit(*c, event_type::audio_paused);
  e.who = cmd.by;
  e.until = s.paused_until;
  st.schedule(*c, s.paused_until);
  st.settle(*c);
  return {command_error::none, {}, s.id};
}

command_result engine::apply(const close_session& cmd, millis at) {
  auto& st = *state_;
  auto* c = st.find_chair(cmd.chair);
  if (c == nullptr || !c->s) return {command_error::no_open_session, fmt::format("no open session on chair '{}'", cmd.chair), 0};
  st.advance_chair(*c, at);
  if (cmd.by.empty()) return {command_error::invalid_argument, "closing a session needs who (by)", c->s->id};
  if (cmd.abort && cmd.reason.empty()) return {command_error::invalid_argument, "aborting a session needs a reason", c->s->id};
  auto& s = *c->s;
  const auto id = s.id;
  while (!s.alarms.empty()) st.clear(*c, s.alarms.front().id, cmd.abort ? "session aborted" : "session closed");
  std::string why = cmd.abort ? cmd.reason : "closed";
  if (!cmd.abort && s.current != phase::ready) why = fmt::format("closed in phase {}", name(s.current));
  st.set_phase(*c, cmd.abort ? phase::aborted : phase::closed, why);
  event& e = st.emit(*c, event_type::session_closed);
  e.who = cmd.by;
  e.text = why;
  c->s.reset();
  c->next_due = never;
  return {command_error::none, {}, id};
}

command_result engine::apply(const add_note& cmd, millis at) {
  auto& st = *state_;
  auto* c = st.find_chair(cmd.chair);
  if (c == nullptr || !c->s) return {command_error::no_open_session, fmt::format("no open session on chair '{}'", cmd.chair), 0};
  st.advance_chair(*c, at);
  if (cmd.by.empty()) return {command_error::invalid_argument, "a note needs who (by)", c->s->id};
  constexpr std::size_t max_note = 2000;
  // Characters, not bytes: UTF-8 continuation bytes do not count.
  const auto characters = static_cast<std::size_t>(std::count_if(
      cmd.text.begin(), cmd.text.end(), [](char ch) { return (static_cast<unsigned char>(ch) & 0xC0) != 0x80; }));
  if (characters == 0 || characters > max_note) {
    return {command_error::invalid_argument, fmt::format("a note is 1 to {} characters", max_note), c->s->id};
  }
  event& e = st.emit(*c, event_type::note_added);
  e.who = cmd.by;
  e.text = cmd.text;
  return {command_error::none, {}, c->s->id};
}

std::vector<std::string> engine::take_changed() {
  std::vector<std::string> out;
  out.reserve(state_->changed.size());
  for (auto* c : state_->changed) {
    c->changed = false;
    out.push_back(c->id);
  }
  state_->changed.clear();
  return out;
}

std::string engine::checkpoint(std::string_view chair) const {
  auto it = state_->chairs.find(chair);
  if (it == state_->chairs.end()) return {};
  return detail::encode(it->second, state_->next_session, state_->next_alarm);
}

engine::restore_result engine::restore(std::string_view data, std::string_view fallback_profile) {
  auto& st = *state_;
  detail::decoded d;
  if (auto error = detail::decode(data, st.profiles, fallback_profile, d); !error.empty()) {
    return {false, d.chair.id, std::move(error)};
  }
  reserve_ids(d.next_session, d.next_alarm);
  if (d.chair.s) {
    st.next_session = std::max(st.next_session, d.chair.s->id + 1);
    for (const auto& a : d.chair.s->alarms) st.next_alarm = std::max(st.next_alarm, a.id + 1);
  }
  if (d.chair.no_session) st.next_alarm = std::max(st.next_alarm, d.chair.no_session->id + 1);
  auto& c = st.chair(d.chair.id);
  const bool was_changed = c.changed;
  c = std::move(d.chair);
  c.changed = was_changed;
  // Every timer is reconsidered on the next advance, at its own time.
  c.next_due = c.s ? st.earliest_due(c) : never;
  return {true, c.id, std::move(d.warning)};
}

void engine::reserve_ids(std::uint64_t next_session, std::uint64_t next_alarm) {
  state_->next_session = std::max(state_->next_session, next_session);
  state_->next_alarm = std::max(state_->next_alarm, next_alarm);
}

id_range engine::next_ids() const noexcept { return {state_->next_session, state_->next_alarm, 0}; }

std::vector<event> engine::take_events() { return std::exchange(state_->events, {}); }

const std::vector<event>& engine::pending_events() const noexcept { return state_->events; }

namespace {
alarm_view view_of(const alarm_rec& a, bool paused) {
  alarm_view av;
  av.id = a.id;
  av.rule = a.rule;
  av.kind = a.kind;
  av.level = a.level;
  av.raised_at = a.raised_at;
  av.condition = a.condition;
  av.acknowledged = a.acknowledged;
  av.acknowledged_by = a.acknowledged_by;
  av.tier = a.tier;
  av.audible = !a.acknowledged && (!paused || a.paused_through);
  av.value = a.value;
  av.text = a.text;
  return av;
}

session_view view_of(const chair_state& c) {
  const auto& s = *c.s;
  session_view v;
  v.id = s.id;
  v.chair = c.id;
  v.patient_ref = s.patient_ref;
  v.profile = s.prof->id;
  v.current = s.current;
  v.opened_at = s.opened_at;
  v.dose_at = s.dose_at;
  if (s.dose_at) v.window_end = *s.dose_at + s.prof->discharge.observation_ms;
  v.paused_until = s.paused_until > c.now ? s.paused_until : 0;
  const bool paused = s.paused_until > c.now;
  for (const auto& a : s.alarms) {
    auto& av = v.alarms.emplace_back(view_of(a, paused));
    const auto& tiers = tiers_for(*s.prof, a.level);
    if (a.tier >= 0 && static_cast<std::size_t>(a.tier) < tiers.size()) av.responder = tiers[static_cast<std::size_t>(a.tier)].responder;
  }
  return v;
}
}  // namespace

std::optional<session_view> engine::session(std::string_view chair) const {
  auto it = state_->chairs.find(chair);
  if (it == state_->chairs.end() || !it->second.s) return std::nullopt;
  return view_of(it->second);
}

std::vector<session_view> engine::sessions() const {
  std::vector<session_view> out;
  for (const auto& [id, c] : state_->chairs) {
    if (c.s) out.push_back(view_of(c));
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.chair < b.chair; });
  return out;
}

std::vector<std::string> engine::session_chairs() const {
  std::vector<std::string> out;
  for (const auto& [id, c] : state_->chairs) {
    if (c.s) out.push_back(id);
  }
  return out;
}

std::vector<std::string> engine::session_chairs(std::string_view after, std::size_t limit) const {
  std::vector<std::string> out;
  for (auto it = state_->chairs.upper_bound(after); it != state_->chairs.end() && out.size() < limit; ++it) {
    if (it->second.s) out.push_back(it->first);
  }
  return out;
}

std::size_t engine::session_count() const noexcept {
  std::size_t n = 0;
  for (const auto& [id, c] : state_->chairs) n += c.s ? 1 : 0;
  return n;
}

std::vector<std::pair<std::string, alarm_view>> engine::chair_advisories() const {
  std::vector<std::pair<std::string, alarm_view>> out;
  for (const auto& [id, c] : state_->chairs) {
    if (c.no_session) out.emplace_back(id, view_of(*c.no_session, false));
  }
  return out;
}

std::uint64_t engine::session_id(std::string_view chair) const {
  auto it = state_->chairs.find(chair);
  return it == state_->chairs.end() || !it->second.s ? 0 : it->second.s->id;
}

std::vector<engine::latest_vital> engine::latest_vitals(std::string_view chair) const {
  std::vector<latest_vital> out;
  auto it = state_->chairs.find(chair);
  if (it == state_->chairs.end()) return out;
  for (std::size_t k = 1; k < detail::kind_slots; ++k) {
    // The newest reading of any source: the one applied last, then the one stamped last.
    const detail::latest_value* newest = nullptr;
    for (const auto& src : it->second.sources) {
      const auto& v = src.latest[k];
      if (v && (!newest || v->heard > newest->heard || (v->heard == newest->heard && v->at > newest->at))) newest = &*v;
    }
    if (newest) out.push_back({static_cast<model::vital_kind>(k), newest->at, newest->value});
  }
  return out;
}

std::optional<millis> engine::clock(std::string_view chair) const {
  auto it = state_->chairs.find(chair);
  if (it == state_->chairs.end()) return std::nullopt;
  return it->second.now;
}

std::string_view name(event_type type) noexcept {
  switch (type) {
    case event_type::session_opened: return "session_opened";
    case event_type::phase_changed: return "phase_changed";
    case event_type::baseline_set: return "baseline_set";
    case event_type::predose_override: return "predose_override";
    case event_type::dose_marked: return "dose_marked";
    case event_type::alarm_raised: return "alarm_raised";
    case event_type::alarm_escalated: return "alarm_escalated";
    case event_type::alarm_acknowledged: return "alarm_acknowledged";
    case event_type::alarm_resounded: return "alarm_resounded";
    case event_type::alarm_cleared: return "alarm_cleared";
    case event_type::audio_paused: return "audio_paused";
    case event_type::audio_resumed: return "audio_resumed";
    case event_type::session_closed: return "session_closed";
    case event_type::note_added: return "note_added";
  }
  return "unknown";
}

std::string_view name(phase p) noexcept {
  switch (p) {
    case phase::baseline: return "baseline";
    case phase::observation: return "observation";
    case phase::ready: return "ready";
    case phase::closed: return "closed";
    case phase::aborted: return "aborted";
  }
  return "unknown";
}

std::string_view name(priority p) noexcept {
  switch (p) {
    case priority::low: return "low";
    case priority::medium: return "medium";
    case priority::high: return "high";
  }
  return "unknown";
}

std::string_view name(alarm_kind k) noexcept {
  switch (k) {
    case alarm_kind::physiological: return "physiological";
    case alarm_kind::technical: return "technical";
    case alarm_kind::advisory: return "advisory";
  }
  return "unknown";
}

std::string_view name(command_error e) noexcept {
  switch (e) {
    case command_error::none: return "none";
    case command_error::invalid_argument: return "invalid_argument";
    case command_error::unknown_profile: return "unknown_profile";
    case command_error::no_open_session: return "no_open_session";
    case command_error::session_already_open: return "session_already_open";
    case command_error::wrong_phase: return "wrong_phase";
    case command_error::predose_gate: return "predose_gate";
    case command_error::unknown_alarm: return "unknown_alarm";
  }
  return "unknown";
}

}  // namespace vigil::engine
