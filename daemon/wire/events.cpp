#include "daemon/wire/events.hpp"

#include "daemon/wire/time.hpp"

namespace vigil::wire {

using engine::event_type;

v1::Priority to_proto(engine::priority p) { return static_cast<v1::Priority>(static_cast<int>(p)); }
v1::AlarmKind to_proto(engine::alarm_kind k) { return static_cast<v1::AlarmKind>(static_cast<int>(k)); }
v1::Phase to_proto(engine::phase p) { return static_cast<v1::Phase>(static_cast<int>(p)); }

bool is_alarm_event(event_type t) {
  return t == event_type::alarm_raised || t == event_type::alarm_escalated || t == event_type::alarm_acknowledged ||
         t == event_type::alarm_resounded || t == event_type::alarm_cleared;
}

v1::TimelineEvent to_proto(const engine::event& e) {
  v1::TimelineEvent out;
  out.set_event_id(e.id);
  out.set_type(static_cast<v1::EventType>(static_cast<int>(e.type)));
  out.set_at_ms(e.at);
  out.set_at(rfc3339_utc(e.at));
  out.set_chair_id(e.chair);
  out.set_session_id(e.session);
  if (is_alarm_event(e.type)) {
    out.set_alarm_id(e.alarm);
    out.set_rule(e.rule);
    out.set_kind(to_proto(e.kind));
    out.set_priority(to_proto(e.level));
    if (e.type != event_type::alarm_escalated && e.type != event_type::alarm_acknowledged) out.set_value(e.value);
  }
  if (e.type == event_type::phase_changed) out.set_from_phase(to_proto(e.from));
  if (e.type == event_type::phase_changed || e.type == event_type::session_opened) out.set_to_phase(to_proto(e.to));
  out.set_who(e.who);
  if (e.type == event_type::alarm_escalated) {
    out.set_responder(e.responder);
    out.set_tier(e.tier);
  }
  if (e.until != 0) {
    out.set_until_ms(e.until);
    out.set_until(rfc3339_utc(e.until));
  }
  out.set_text(e.text);
  out.set_patient_ref(e.patient_ref);
  out.set_profile(e.profile);
  return out;
}

engine::event from_proto(const v1::TimelineEvent& e) {
  engine::event out;
  out.id = e.event_id();
  out.type = static_cast<event_type>(static_cast<int>(e.type()));
  out.at = e.at_ms();
  out.chair = e.chair_id();
  out.session = e.session_id();
  out.alarm = e.alarm_id();
  out.rule = e.rule();
  if (e.kind() != v1::ALARM_KIND_UNSPECIFIED) out.kind = static_cast<engine::alarm_kind>(static_cast<int>(e.kind()));
  if (e.priority() != v1::PRIORITY_UNSPECIFIED) {
    out.level = static_cast<engine::priority>(static_cast<int>(e.priority()));
  }
  if (e.from_phase() != v1::PHASE_UNSPECIFIED) out.from = static_cast<engine::phase>(static_cast<int>(e.from_phase()));
  if (e.to_phase() != v1::PHASE_UNSPECIFIED) out.to = static_cast<engine::phase>(static_cast<int>(e.to_phase()));
  out.who = e.who();
  out.responder = e.responder();
  out.tier = e.tier();
  out.value = e.value();
  out.until = e.until_ms();
  out.text = e.text();
  out.patient_ref = e.patient_ref();
  out.profile = e.profile();
  return out;
}

}  // namespace vigil::wire
