// Operators' commands (docs/alarms.md section 11).

#include "daemon/engine/core.hpp"
#include "daemon/model/identifiers.hpp"

#include <algorithm>

#include <fmt/format.h>

namespace vigil::engine {

using namespace detail;

command_result engine::apply(const open_session& cmd, millis at) {
  auto& st = *state_;
  if (cmd.chair.empty()) return {command_error::invalid_argument, "chair is required", 0};
  if (const auto problem = model::patient_ref_problem(cmd.patient_ref); !problem.empty()) {
    return {command_error::invalid_argument, std::string(problem), 0};
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
  st.chair_of_session[s.id] = c.id;
  c.s = std::move(s);
  // NEWS2 and the discharge criteria use this session's values only, never the last patient's.
  for (auto& src : c.sources) {
    src.latest = {};
    src.limits.assign(prof->limits.size(), limit_state{});
    src.sensor_off = {};
    src.sensor_heard = {};
  }
  technical::open_session(c);
  if (c.connected == false) c.s->disconnected_since = c.now;
  event& e = st.emit(c, event_type::session_opened);
  e.who = cmd.by;
  e.text = fmt::format("patient {} with profile {}", cmd.patient_ref, prof->id);
  e.to = phase::baseline;
  e.patient_ref = cmd.patient_ref;
  e.profile = prof->id;
  technical::note_storage(st, c);  // after the last use of `e`: raising an alarm adds events
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
    const std::string summary = phases::take_baseline(s, c->now);
    if (auto* a = st.find_alarm(s, "predose_bp")) st.clear(*c, a->id, "dose given");
    event& b = st.emit(*c, event_type::baseline_set);
    b.text = summary.empty() ? "no baseline vitals" : summary;
    phases::set_phase(st, *c, phase::observation, "dose marked");
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
    e.level = advisory.level;
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
  if (a.acknowledged) {
    // A second nurse, or a retry after a lost answer: the first acknowledgement stands as it is.
    return {command_error::none, fmt::format("alarm {} is already acknowledged by {}", a.id, a.acknowledged_by), s.id};
  }
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
  phases::set_phase(st, *c, cmd.abort ? phase::aborted : phase::closed, why);
  event& e = st.emit(*c, event_type::session_closed);
  e.who = cmd.by;
  e.text = why;
  st.chair_of_session.erase(id);
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

command_result engine::apply(const retake_baseline& cmd, millis at) {
  auto& st = *state_;
  auto* c = st.find_chair(cmd.chair);
  if (c == nullptr || !c->s) return {command_error::no_open_session, fmt::format("no open session on chair '{}'", cmd.chair), 0};
  st.advance_chair(*c, at);
  if (cmd.by.empty() || cmd.reason.empty()) {
    return {command_error::invalid_argument, "a baseline re-take needs who (by) and why (reason)", c->s->id};
  }
  phases::retake_baseline(st, *c, cmd.by, cmd.reason);
  st.settle(*c);
  return {command_error::none, {}, c->s->id};
}

}  // namespace vigil::engine
