#include "daemon/report/json_export.hpp"

#include "daemon/wire/events.hpp"
#include "daemon/wire/json.hpp"

#include <stdexcept>

namespace vigil::report {
namespace {

using wire::to_proto;

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

session_record from_proto(const v1::SessionTimeline& t) {
  session_record out;
  out.summary = from_proto(t.session());
  out.events.reserve(static_cast<std::size_t>(t.events_size()));
  for (const auto& e : t.events()) out.events.push_back(wire::from_proto(e));
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

  for (const auto& e : r.events) *out.add_events() = wire::to_proto(e);

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
  std::string out;
  if (!wire::to_json(to_proto(r, ctx), out)) throw std::runtime_error("cannot write the session as JSON");
  out += '\n';
  return out;
}

}  // namespace vigil::report
