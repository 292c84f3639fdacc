#include "sim/labels.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace vigil::sim {

namespace {

/// "a, b or c"
std::string either(const std::vector<std::string>& rules) {
  std::string out;
  for (std::size_t i = 0; i < rules.size(); ++i) {
    if (i > 0) out += i + 1 == rules.size() ? " or " : ", ";
    out += rules[i];
  }
  return out;
}

std::string window_text(const label& l) {
  return fmt::format("from {} to {}", session_time_text(l.from_ms), session_time_text(l.until_ms));
}

}  // namespace

label_report judge_labels(const std::vector<label>& labels, const std::vector<raised_alarm>& alarms) {
  std::vector<const raised_alarm*> in_order;
  for (const auto& a : alarms) in_order.push_back(&a);
  std::stable_sort(in_order.begin(), in_order.end(), [](const auto* a, const auto* b) { return a->at_ms < b->at_ms; });
  label_report report;
  for (const auto& l : labels) {
    label_outcome o{l, false, std::nullopt};
    for (const auto* a : in_order) {
      if (a->chair != l.chair || a->at_ms < l.from_ms || a->at_ms > l.until_ms) continue;
      const bool counts = l.kind == label_kind::adverse_event
                              ? std::find(l.rules.begin(), l.rules.end(), a->rule) != l.rules.end()
                              : a->physiological;
      if (counts) {
        o.alarm = *a;
        break;
      }
    }
    if (l.kind == label_kind::adverse_event) {
      o.met = o.alarm.has_value();
      ++report.events;
      report.events_met += o.met ? 1 : 0;
    } else {
      o.met = !o.alarm.has_value();
      ++report.artefacts;
      report.artefacts_alarmed += o.met ? 0 : 1;
    }
    report.outcomes.push_back(std::move(o));
  }
  return report;
}

std::string describe(const label_outcome& o) {
  const auto& l = o.l;
  const auto head = fmt::format("label {}: {}: {}", l.chair, l.what, o.met ? "met" : "missed");
  if (l.kind == label_kind::adverse_event) {
    if (!o.alarm) return fmt::format("{}: no {} raised {}", head, either(l.rules), window_text(l));
    return fmt::format("{}: {} raised at {} (expected {} {})", head, o.alarm->rule, session_time_text(o.alarm->at_ms),
                       either(l.rules), window_text(l));
  }
  if (!o.alarm) return fmt::format("{}: no physiological alarm {}", head, window_text(l));
  return fmt::format("{}: {} raised at {} (no physiological alarm allowed {})", head, o.alarm->rule,
                     session_time_text(o.alarm->at_ms), window_text(l));
}

std::string summary_line(const label_report& r) {
  const int met = r.events_met + r.artefacts - r.artefacts_alarmed;
  return fmt::format("labels: {} of {} met; sensitivity {}/{} adverse events; artefacts that alarmed {} of {}", met,
                     r.events + r.artefacts, r.events_met, r.events, r.artefacts_alarmed, r.artefacts);
}

std::string session_time_text(std::int64_t ms) {
  const std::int64_t s = ms / 1000;
  return fmt::format("+{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60);
}

std::vector<std::string> default_rules(adverse_kind k) {
  switch (k) {
    case adverse_kind::hypertensive:
      return {"systolic_high", "diastolic_high", "systolic_severe", "diastolic_severe", "systolic_rise", "diastolic_rise"};
    case adverse_kind::tachycardia: return {"hr_high", "hr_critical"};
    case adverse_kind::desaturation: return {"spo2_low", "spo2_critical"};
    case adverse_kind::bradycardia: return {"hr_low", "hr_critical_low"};
  }
  return {};
}

std::int64_t default_within_ms(const adverse_event& e, std::int64_t cuff_interval_ms) {
  // The physiology ramps in over at most half the event (physiology.cpp).
  const std::int64_t ramp = std::min(e.ramp_ms, e.duration_ms / 2);
  switch (e.kind) {
    // A blood-pressure rule needs cuff readings: two of them (confirmation) after the rise.
    case adverse_kind::hypertensive: return ramp + 2 * cuff_interval_ms + minute_ms;
    // hr_high's delay is 5 minutes (hr_critical's 30 s).
    case adverse_kind::tachycardia: return ramp + 6 * minute_ms;
    // spo2_low and hr_low: 30 s and two readings.
    case adverse_kind::desaturation:
    case adverse_kind::bradycardia: return ramp + 2 * minute_ms;
  }
  return ramp;
}

std::int64_t default_window_ms(const monitor_artefact& a) {
  // A cuff reading stands as evidence for the cuff horizon (alarms.md 3.4, generic 20 min); a
  // per-second reading for 30 s, and a rule's condition needs current evidence throughout its
  // delay (5.7): a minute covers it.
  return a.cuff() ? 20 * minute_ms : minute_ms;
}

}  // namespace vigil::sim
