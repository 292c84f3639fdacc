// Sessions and their phases (docs/alarms.md section 4): phase changes, the baseline, the
// pre-dose blood-pressure check, and readiness for discharge assessment.

#include "daemon/engine/core.hpp"

#include <algorithm>
#include <cmath>
#include <deque>
#include <string>
#include <utility>
#include <vector>

#include <fmt/format.h>

namespace vigil::engine::detail::phases {
namespace {

constexpr std::string_view predose_rule = "predose_bp";

bool discharge_criteria_met(const chair_state& c) {
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

/// When the readiness timer is due, if it is pending.
std::optional<millis> readiness_due(const session_state& s) {
  if (s.current != phase::observation || !s.ready_ok_since || !s.dose_at) return std::nullopt;
  return std::max(*s.dose_at + s.prof->discharge.observation_ms, *s.ready_ok_since + s.prof->discharge.hold_ms);
}

}  // namespace

millis due(core&, chair_state& c) { return readiness_due(*c.s).value_or(never); }

void fire(core& e, chair_state& c) {
  auto& s = *c.s;
  if (auto due = readiness_due(s); due && *due <= c.now) {
    if (discharge_criteria_met(c)) {
      set_phase(e, c, phase::ready, "observation window elapsed; vitals within the discharge criteria");
    } else {
      s.ready_ok_since.reset();
    }
  }
}

void set_phase(core& e, chair_state& c, phase to, std::string_view why) {
  auto& s = *c.s;
  if (s.current == to) return;
  event& ev = e.emit(c, event_type::phase_changed);
  ev.from = s.current;
  ev.to = to;
  ev.text = std::string(why);
  s.current = to;
  // Rules that do not apply in the new phase drop their conditions and alarms.
  physiological::enter_phase(e, c);
}

void review_readiness(core& e, chair_state& c) {
  auto& s = *c.s;
  if (s.current != phase::observation && s.current != phase::ready) return;
  if (discharge_criteria_met(c)) {
    if (!s.ready_ok_since) {
      s.ready_ok_since = c.now;
      core::schedule(c, std::max(*s.dose_at + s.prof->discharge.observation_ms, c.now + s.prof->discharge.hold_ms));
    }
    return;
  }
  s.ready_ok_since.reset();
  if (s.current == phase::ready) set_phase(e, c, phase::observation, "discharge criteria no longer met");
}

bool counts_for_baseline(const model::vital_sample& sample) { return artefact::usable(sample); }

void note_baseline_sample(session_state& s, const model::vital_sample& sample) {
  if (!counts_for_baseline(sample)) return;
  auto& window = s.baseline_samples[slot(sample.kind)];
  window.emplace_back(sample.time_ms, sample.value);
  if (window.size() > max_baseline_window) window.pop_front();
  const millis oldest = sample.time_ms - s.prof->baseline_window_ms;
  // Cuff readings are sparse: keep the latest even when it is older than the window.
  while (window.size() > 1 && window.front().first <= oldest) window.pop_front();
}

namespace {

/// One kind's baseline: the median of its readings in the window, with their count and spread.
struct kind_baseline {
  double median = 0;
  std::size_t count = 0;
  double spread = 0;  // largest minus smallest reading
};

kind_baseline baseline_of(const std::deque<std::pair<millis, double>>& window, millis now, millis window_ms) {
  std::vector<double> values;
  for (const auto& [t, v] : window) {
    if (t > now - window_ms) values.push_back(v);
  }
  // Sparse readings (the cuff): with none in the window, the latest one stands for the baseline.
  if (values.empty()) values.push_back(window.back().second);
  std::sort(values.begin(), values.end());
  const std::size_t n = values.size();
  const double median = n % 2 == 1 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
  return {median, n, values.back() - values.front()};
}

std::string describe(vital_kind kind, const kind_baseline& b, const baseline_rules& rules) {
  const auto k = slot(kind);
  const int min_readings = rules.min_readings[k];
  const double max_spread = rules.max_spread[k];
  std::string weak;
  if (b.count < static_cast<std::size_t>(std::max(min_readings, 1))) weak = fmt::format("fewer than {} readings", min_readings);
  if (b.spread > max_spread) {
    weak += fmt::format("{}spread above {:g}", weak.empty() ? "" : " and ", max_spread);
  }
  const auto head = fmt::format("{} {:.1f} ({}, {} reading{}, spread {:.1f}", model::name(kind), b.median,
                                weak.empty() ? "good" : "weak", b.count, b.count == 1 ? "" : "s", b.spread);
  return weak.empty() ? head + ")" : fmt::format("{}: {})", head, weak);
}

}  // namespace

std::string take_baseline(session_state& s, millis now) {
  std::string summary;
  s.baseline = {};
  for (std::size_t k = 1; k < kind_slots; ++k) {
    const auto& window = s.baseline_samples[k];
    if (window.empty()) continue;
    const auto b = baseline_of(window, now, s.prof->baseline_window_ms);
    s.baseline[k] = b.median;
    summary += fmt::format("{}{}", summary.empty() ? "" : ", ", describe(static_cast<vital_kind>(k), b, s.prof->baseline));
  }
  s.baseline_text = summary;
  return summary;
}

void retake_baseline(core& e, chair_state& c, const std::string& by, const std::string& reason) {
  auto& s = *c.s;
  std::string text;
  if (s.current == phase::baseline) {
    // Readings applied before the command no longer count.
    s.baseline_samples = {};
    text = fmt::format("re-taken: {}; the window restarts, the baseline is set at the first dose", reason);
  } else {
    // Every relative rule starts afresh against the new baseline: its alarm, if any, is cleared
    // and raised again only if the next readings are beyond the new limits.
    const profile& p = *s.prof;
    for (std::size_t i = 0; i < p.limits.size(); ++i) {
      if (!p.limits[i].relative) continue;
      for (auto& src : c.sources) src.limits[i] = {};
      if (auto* a = core::find_alarm(s, p.limits[i].id)) e.clear(c, a->id, "baseline re-taken");
    }
    const std::string summary = take_baseline(s, c.now);
    text = fmt::format("re-taken: {}; {}", reason, summary.empty() ? "no baseline vitals" : summary);
  }
  event& ev = e.emit(c, event_type::baseline_set);
  ev.who = by;
  ev.text = std::move(text);
}

void check_predose(core& e, chair_state& c, vital_kind kind, double value) {
  auto& s = *c.s;
  if (s.current != phase::baseline || (kind != vital_kind::nibp_systolic && kind != vital_kind::nibp_diastolic)) return;
  if (kind == vital_kind::nibp_systolic) s.predose_reading = true;
  if (s.predose_overridden) return;
  const auto& rules = s.prof->predose;
  const double limit = kind == vital_kind::nibp_systolic ? rules.systolic_max : rules.diastolic_max;
  if (value <= limit) return;
  if (auto* a = core::find_alarm(s, predose_rule); a && !a->acknowledged) return;
  e.raise(c, std::string(predose_rule), alarm_kind::advisory, priority::low, value,
          fmt::format("pre-dose {} {:g} mmHg above {:g}: acknowledge or override before dosing", model::name(kind),
                      value, limit),
          true);
}

}  // namespace vigil::engine::detail::phases
