#include "daemon/report/json_export.hpp"

#include <google/protobuf/util/json_util.h>

#include <stdexcept>

namespace vigil::report {
namespace {

using engine::event_type;

bool is_alarm_event(event_type t) {
  return t == event_type::alarm_raised || t == event_type::alarm_escalated || t == event_type::alarm_acknowledged ||
         t == event_type::alarm_resounded || t == event_type::alarm_cleared;
}

v1::Priority to_proto(engine::priority p) { return static_cast<v1::Priority>(static_cast<int>(p)); }
v1::AlarmKind to_proto(engine::alarm_kind k) { return static_cast<v1::AlarmKind>(static_cast<int>(k)); }
v1::Phase to_proto(engine::phase p) { return static_cast<v1::Phase>(static_cast<int>(p)); }

v1::SessionOutcome outcome_of(const std::string& outcome) {
  if (outcome == "open") return v1::SESSION_OUTCOME_OPEN;
  if (outcome == "closed") return v1::SESSION_OUTCOME_CLOSED;
  if (outcome == "aborted") return v1::SESSION_OUTCOME_ABORTED;
  return v1::SESSION_OUTCOME_UNSPECIFIED;
}

std::string outcome_name(v1::SessionOutcome o) {
  switch (o) {
    case v1::SESSION_OUTCOME_OPEN: return "open";
    case v1::SESSION_OUTCOME_CLOSED: return "closed";
    case v1::SESSION_OUTCOME_ABORTED: return "aborted";
    default: return "?";
  }
}

}  // namespace

store::session_summary from_proto(const v1::SessionSummary& s) {
  store::session_summary out;
  out.id = s.session_id();
  out.chair_id = s.chair_id();
  out.patient_ref = s.patient_ref();
  out.profile = s.profile();
  out.opened_by = s.opened_by();
  out.opened_ms = s.opened_ms();
  if (s.has_first_dose_ms()) out.dose_ms = s.first_dose_ms();
  if (s.has_window_end_ms()) out.window_end_ms = s.window_end_ms();
  if (s.has_ready_ms()) out.ready_ms = s.ready_ms();
  if (s.has_closed_ms()) out.closed_ms = s.closed_ms();
  out.outcome = outcome_name(s.outcome());
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
  // Fields the export leaves out keep the engine's defaults.
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

session_record from_proto(const v1::SessionTimeline& t) {
  session_record out;
  out.summary = from_proto(t.session());
  out.events.reserve(static_cast<std::size_t>(t.events_size()));
  for (const auto& e : t.events()) out.events.push_back(from_proto(e));
  return out;
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

v1::SessionTimeline to_proto(const session_record& r, const export_context& ctx) {
  v1::SessionTimeline out;
  out.set_format(1);
  out.set_generated_by("vigil " + ctx.version);
  out.set_generated_at(rfc3339_utc(ctx.generated_ms));

  const auto& s = r.summary;
  auto& summary = *out.mutable_session();
  summary.set_session_id(s.id);
  summary.set_chair_id(s.chair_id);
  summary.set_patient_ref(s.patient_ref);
  summary.set_profile(s.profile);
  summary.set_opened_by(s.opened_by);
  summary.set_opened_ms(s.opened_ms);
  summary.set_opened_at(rfc3339_utc(s.opened_ms));
  if (s.dose_ms) {
    summary.set_first_dose_ms(*s.dose_ms);
    summary.set_first_dose_at(rfc3339_utc(*s.dose_ms));
  }
  if (s.window_end_ms) {
    summary.set_window_end_ms(*s.window_end_ms);
    summary.set_window_end_at(rfc3339_utc(*s.window_end_ms));
  }
  if (s.ready_ms) {
    summary.set_ready_ms(*s.ready_ms);
    summary.set_ready_at(rfc3339_utc(*s.ready_ms));
  }
  if (s.closed_ms) {
    summary.set_closed_ms(*s.closed_ms);
    summary.set_closed_at(rfc3339_utc(*s.closed_ms));
  }
  summary.set_outcome(outcome_of(s.outcome));

  for (const auto& e : r.events) *out.add_events() = to_proto(e);

  for (const auto& a : alarm_history(r.events)) {
    auto& p = *out.add_alarms();
    p.set_alarm_id(a.id);
    p.set_rule(a.rule);
    p.set_kind(to_proto(a.kind));
    p.set_priority(to_proto(a.level));
    p.set_value(a.value);
    p.set_text(a.text);
    p.set_raised_ms(a.raised_at);
    p.set_raised_at(rfc3339_utc(a.raised_at));
    if (a.first_ack_at) {
      p.set_first_ack_ms(*a.first_ack_at);
      p.set_first_ack_at(rfc3339_utc(*a.first_ack_at));
      p.set_first_ack_by(a.first_ack_by);
    }
    p.set_acknowledgements(static_cast<std::uint32_t>(a.acknowledgements));
    p.set_resoundings(static_cast<std::uint32_t>(a.resoundings));
    if (a.highest_tier >= 0) {
      p.set_highest_tier(a.highest_tier);
      p.set_highest_responder(a.highest_responder);
    }
    if (a.cleared_at) {
      p.set_cleared_ms(*a.cleared_at);
      p.set_cleared_at(rfc3339_utc(*a.cleared_at));
      p.set_cleared_why(a.cleared_why);
    }
  }

  v1::VitalSeries* current = nullptr;
  for (const auto& v : r.vitals) {
    if (current == nullptr || current->kind() != static_cast<int>(v.kind)) {
      current = out.add_vitals();
      current->set_kind(static_cast<v1::VitalKind>(static_cast<int>(v.kind)));
      current->set_name(std::string(model::name(v.kind)));
      current->set_unit(std::string(model::unit(v.kind)));
    }
    auto& point = *current->add_points();
    point.set_time_ms(v.time_ms);
    point.set_value(v.value);
    point.set_quality(v.quality);
  }
  return out;
}

std::string export_json(const session_record& r, const export_context& ctx) {
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  std::string out;
  const auto status = google::protobuf::util::MessageToJsonString(to_proto(r, ctx), &out, options);
  if (!status.ok()) throw std::runtime_error("cannot write the session as JSON: " + status.ToString());
  out += '\n';
  return out;
}

}  // namespace vigil::report
