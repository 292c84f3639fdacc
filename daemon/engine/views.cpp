// What the engine shows: events, session views, the latest vitals, names; and its checkpoints
// (what a restart needs to carry on as before).

#include "daemon/engine/checkpoint.hpp"
#include "daemon/engine/core.hpp"

#include <algorithm>
#include <utility>

namespace vigil::engine {

using namespace detail;

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

engine::restore_result engine::restore(std::string_view data, std::string_view fallback_profile, bool raise_ids) {
  auto& st = *state_;
  detail::decoded d;
  if (auto error = detail::decode(data, st.profiles, fallback_profile, d); !error.empty()) {
    return {false, d.chair.id, std::move(error)};
  }
  if (raise_ids) reserve_ids(d.next_session, d.next_alarm);
  if (raise_ids && d.chair.s) {
    st.next_session = std::max(st.next_session, d.chair.s->id + 1);
    for (const auto& a : d.chair.s->alarms) st.next_alarm = std::max(st.next_alarm, a.id + 1);
  }
  if (raise_ids && d.chair.no_session) st.next_alarm = std::max(st.next_alarm, d.chair.no_session->id + 1);
  auto& c = st.chair(d.chair.id);
  const bool was_changed = c.changed;
  if (c.s) st.chair_of_session.erase(c.s->id);
  if (d.chair.s) st.chair_of_session[d.chair.s->id] = d.chair.id;
  c = std::move(d.chair);
  c.changed = was_changed;
  // Every timer is reconsidered on the next advance, at its own time.
  c.next_due = c.s ? st.earliest_due(c) : never;
  return {true, c.id, std::move(d.warning)};
}

bool engine::forget(std::string_view chair) {
  auto& st = *state_;
  const auto it = st.chairs.find(chair);
  if (it == st.chairs.end()) return false;
  if (it->second.s) st.chair_of_session.erase(it->second.s->id);
  std::erase(st.changed, &it->second);
  st.chairs.erase(it);
  return true;
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
  v.baseline = s.baseline_text;
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

std::optional<std::string> engine::chair_of_session(std::uint64_t session) const {
  const auto it = state_->chair_of_session.find(session);
  if (it == state_->chair_of_session.end()) return std::nullopt;
  return it->second;
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
    case command_error::chair_elsewhere: return "chair_elsewhere";
  }
  return "unknown";
}

}  // namespace vigil::engine
