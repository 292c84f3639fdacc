#pragma once

// A synthetic session for the export tests: HR, pulse rate and SpO2 at 1 Hz, cuff readings
// every 5 minutes, a dose, alarms with their whole lifecycle, notes. Built directly as a
// session_record (or written to a timeline), so each test knows exactly what went in.

#include "daemon/engine/engine.hpp"
#include "daemon/report/session_record.hpp"

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

namespace vigil::report::testing {

using engine::event_type;
using engine::millis;
using engine::minutes_ms;
using engine::seconds_ms;
using model::vital_kind;

inline constexpr millis t0 = 1'714'638'600'000;  // 2024-05-02 08:30:00 UTC
inline constexpr millis dose_at = t0 + 15 * minutes_ms;
inline constexpr std::uint64_t session_id = 42;
inline const std::string hostile = "<script>alert('x')</script>\"&";

inline engine::event make_event(event_type type, millis at) {
  engine::event e;
  e.type = type;
  e.at = at;
  e.chair = "chair-1";
  e.session = session_id;
  return e;
}

inline engine::event alarm_event(event_type type, millis at, std::uint64_t id, std::string rule, engine::priority level) {
  auto e = make_event(type, at);
  e.alarm = id;
  e.rule = std::move(rule);
  e.level = level;
  return e;
}

/// Events of a whole session: opened, dosed, three alarms (high acknowledged then cleared,
/// medium escalated, low still active), notes, ready, closed.
inline std::vector<engine::event> story(const std::string& patient, const std::string& note) {
  std::vector<engine::event> out;
  auto open = make_event(event_type::session_opened, t0);
  open.who = "nurse-ana";
  open.patient_ref = patient;
  open.profile = "iv-ketamine";
  open.text = "patient " + patient + " with profile iv-ketamine";
  out.push_back(open);
  auto dose = make_event(event_type::dose_marked, dose_at);
  dose.who = "dr-lee";
  dose.text = "iv 35 mg over 40 min";
  dose.until = dose_at + 120 * minutes_ms;
  out.push_back(dose);
  auto baseline = make_event(event_type::baseline_set, dose_at);
  baseline.text = "heart_rate 75.0, spo2 97.0, nibp_systolic 125.0, nibp_diastolic 80.0";
  out.push_back(baseline);
  auto observe = make_event(event_type::phase_changed, dose_at);
  observe.from = engine::phase::baseline;
  observe.to = engine::phase::observation;
  observe.text = "dose marked";
  out.push_back(observe);

  auto high = alarm_event(event_type::alarm_raised, dose_at + 40 * minutes_ms, 7, "systolic_high", engine::priority::high);
  high.value = 187;
  high.text = "nibp_systolic 187 mmHg above 180";
  out.push_back(high);
  auto tier0 = alarm_event(event_type::alarm_escalated, high.at, 7, "systolic_high", engine::priority::high);
  tier0.tier = 0;
  tier0.responder = "nurse";
  out.push_back(tier0);
  auto ack = alarm_event(event_type::alarm_acknowledged, high.at + 70 * seconds_ms, 7, "systolic_high", engine::priority::high);
  ack.who = "nurse-ana";
  ack.until = ack.at + 5 * minutes_ms;
  out.push_back(ack);
  auto cleared = alarm_event(event_type::alarm_cleared, high.at + 5 * minutes_ms, 7, "systolic_high", engine::priority::high);
  cleared.value = 187;
  cleared.text = "nibp_systolic back to 172";
  out.push_back(cleared);

  auto medium = alarm_event(event_type::alarm_raised, dose_at + 53 * minutes_ms, 8, "spo2_low", engine::priority::medium);
  medium.value = 89;
  medium.text = "spo2 89 % below 92";
  out.push_back(medium);
  auto tier1 = alarm_event(event_type::alarm_escalated, medium.at + 5 * minutes_ms, 8, "spo2_low", engine::priority::medium);
  tier1.tier = 1;
  tier1.responder = "charge_nurse";
  out.push_back(tier1);
  auto medium_cleared = alarm_event(event_type::alarm_cleared, medium.at + 6 * minutes_ms, 8, "spo2_low", engine::priority::medium);
  medium_cleared.text = "spo2 back to 93";
  out.push_back(medium_cleared);

  auto low = alarm_event(event_type::alarm_raised, dose_at + 100 * minutes_ms, 9, "cuff_overdue", engine::priority::low);
  low.kind = engine::alarm_kind::technical;
  low.text = "cuff reading overdue";
  out.push_back(low);

  auto n = make_event(event_type::note_added, dose_at + 60 * minutes_ms);
  n.who = "nurse-ana";
  n.text = note;
  out.push_back(n);

  auto ready = make_event(event_type::phase_changed, dose_at + 120 * minutes_ms);
  ready.from = engine::phase::observation;
  ready.to = engine::phase::ready;
  ready.text = "observation window elapsed; vitals within the discharge criteria";
  out.push_back(ready);
  auto close = make_event(event_type::phase_changed, ready.at + 5 * minutes_ms);
  close.from = engine::phase::ready;
  close.to = engine::phase::closed;
  close.text = "closed";
  out.push_back(close);
  auto closed = make_event(event_type::session_closed, close.at);
  closed.who = "nurse-ana";
  closed.text = "closed";
  out.push_back(closed);
  return out;
}

/// Vitals from t0 to `end`: HR, pulse rate and SpO2 at 1 Hz, cuff readings every 5 minutes.
inline std::vector<model::vital_sample> vitals(millis end) {
  std::vector<model::vital_sample> hr, pr, spo2, sys, dia;
  for (millis t = t0; t < end; t += seconds_ms) {
    const double s = static_cast<double>(t - t0) / 1000;
    hr.push_back({t, 75 + 10 * std::sin(s / 300), vital_kind::heart_rate, 0});
    pr.push_back({t, 76 + 10 * std::sin(s / 300), vital_kind::pulse_rate, 0});
    spo2.push_back({t, 97 + std::sin(s / 50), vital_kind::spo2, 0});
    if ((t - t0) % (5 * minutes_ms) == 0) {
      sys.push_back({t, 125 + 20 * std::sin(s / 3000), vital_kind::nibp_systolic, 0});
      dia.push_back({t, 80 + 10 * std::sin(s / 3000), vital_kind::nibp_diastolic, 0});
    }
  }
  std::vector<model::vital_sample> out;
  for (const auto* v : {&hr, &pr, &spo2, &sys, &dia}) out.insert(out.end(), v->begin(), v->end());
  return out;
}

inline session_record make_record(const std::string& patient = "P-0001", const std::string& note = "Patient calm.") {
  session_record r;
  r.events = story(patient, note);
  r.summary.id = session_id;
  r.summary.chair_id = "chair-1";
  r.summary.patient_ref = patient;
  r.summary.profile = "iv-ketamine";
  r.summary.opened_by = "nurse-ana";
  r.summary.opened_ms = t0;
  r.summary.dose_ms = dose_at;
  r.summary.window_end_ms = dose_at + 120 * minutes_ms;
  r.summary.ready_ms = dose_at + 120 * minutes_ms;
  r.summary.closed_ms = dose_at + 125 * minutes_ms;
  r.summary.outcome = "closed";
  r.vitals = vitals(*r.summary.closed_ms);
  return r;
}

}  // namespace vigil::report::testing
