#include "daemon/wire/views.hpp"

#include "daemon/wire/events.hpp"

namespace vigil::wire {

void fill(v1::AlarmState& out, const engine::alarm_view& a) {
  out.set_alarm_id(a.id);
  out.set_rule(a.rule);
  out.set_kind(to_proto(a.kind));
  out.set_priority(to_proto(a.level));
  out.set_raised_at_ms(a.raised_at);
  out.set_condition(a.condition);
  out.set_acknowledged(a.acknowledged);
  out.set_acknowledged_by(a.acknowledged_by);
  out.set_tier(a.tier);
  out.set_audible(a.audible);
  out.set_value(a.value);
  out.set_text(a.text);
  out.set_responder(a.responder);
}

void fill(v1::SessionState& out, const engine::session_view& s) {
  out.set_session_id(s.id);
  out.set_chair_id(s.chair);
  out.set_patient_ref(s.patient_ref);
  out.set_profile(s.profile);
  out.set_phase(to_proto(s.current));
  out.set_opened_at_ms(s.opened_at);
  out.set_dose_at_ms(s.dose_at.value_or(0));
  out.set_window_end_ms(s.window_end.value_or(0));
  out.set_paused_until_ms(s.paused_until);
  out.set_baseline(s.baseline);
  for (const auto& a : s.alarms) fill(*out.add_alarms(), a);
}

bool fill(v1::VitalsUpdate& out, const engine::engine& engine, std::string_view chair, std::uint64_t session) {
  const auto latest = engine.latest_vitals(chair);
  if (latest.empty()) return false;
  out.set_chair_id(std::string(chair));
  out.set_session_id(session);
  for (const auto& v : latest) {
    auto& value = *out.add_values();
    value.set_kind(static_cast<v1::VitalKind>(v.kind));
    value.set_value(v.value);
    value.set_time_ms(v.at);
  }
  return true;
}

}  // namespace vigil::wire
