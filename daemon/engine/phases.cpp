// Sessions and their phases (docs/alarms.md section 4): phase changes, the baseline, the
// pre-dose blood-pressure check, and readiness for discharge assessment.

#include "daemon/engine/core.hpp"

#include <algorithm>
#include <cmath>

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

std::string take_baseline(session_state& s, millis now) {
  std::string summary;
  for (std::size_t k = 1; k < kind_slots; ++k) {
    const auto& window = s.baseline_samples[k];
    if (window.empty()) continue;
    double sum = 0;
    int n = 0;
    for (const auto& [t, v] : window) {
      if (t > now - s.prof->baseline_window_ms) {
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
  return summary;
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
