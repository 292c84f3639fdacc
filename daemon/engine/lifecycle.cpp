// The alarm lifecycle (docs/alarms.md sections 9 and 10): raising, clearing, escalating and
// re-sounding alarms, and the audio pause.

#include "daemon/engine/core.hpp"

#include <algorithm>
#include <utility>

namespace vigil::engine::detail {

void core::raise(chair_state& c, std::string rule, alarm_kind kind, priority level, double value, std::string text,
                 bool latching) {
  auto& s = *c.s;
  alarm_rec a;
  a.id = next_alarm++;
  a.rule = std::move(rule);
  a.kind = kind;
  a.level = level;
  a.raised_at = c.now;
  a.latching = latching;
  a.tier_base = c.now;
  a.value = value;
  a.text = std::move(text);
  s.alarms.push_back(std::move(a));
  emit_alarm(c, event_type::alarm_raised, s.alarms.back());
  s.ready_ok_since.reset();
  if (s.current == phase::ready) phases::set_phase(*this, c, phase::observation, "alarm raised");
  if (level == priority::high && s.paused_until > c.now) {
    s.paused_until = 0;
    emit(c, event_type::audio_resumed).text = "audio pause ended by a new high-priority alarm";
  }
  schedule(c, c.now);
}

void core::clear(chair_state& c, std::uint64_t id, std::string_view why) {
  auto& alarms = c.s->alarms;
  auto it = std::find_if(alarms.begin(), alarms.end(), [id](const alarm_rec& a) { return a.id == id; });
  if (it == alarms.end()) return;
  emit_alarm(c, event_type::alarm_cleared, *it);
  events.back().text = std::string(why);
  alarms.erase(it);
}

void core::condition_gone(chair_state& c, alarm_rec& a, std::string_view why) {
  if (a.latching && !a.acknowledged) {
    a.condition = false;
    return;
  }
  clear(c, a.id, why);
}

namespace lifecycle {

millis due(core&, chair_state& c) {
  const auto& s = *c.s;
  const profile& p = *s.prof;
  millis due = never;
  for (const auto& a : s.alarms) {
    const auto& tiers = tiers_for(p, a.level);
    if (!a.acknowledged && a.condition && a.tier + 1 < static_cast<int>(tiers.size())) {
      due = std::min(due, a.tier_base + tiers[static_cast<std::size_t>(a.tier + 1)].after_ms);
    }
    if (a.acknowledged && a.condition && a.kind != alarm_kind::advisory) due = std::min(due, a.silenced_until);
  }
  if (s.paused_until > c.now) due = std::min(due, s.paused_until);
  return due;
}

void fire(core& e, chair_state& c) {
  auto& s = *c.s;
  const profile& p = *s.prof;
  const millis now = c.now;
  for (auto& a : s.alarms) {
    const auto& tiers = tiers_for(p, a.level);
    while (!a.acknowledged && a.condition && a.tier + 1 < static_cast<int>(tiers.size()) &&
           a.tier_base + tiers[static_cast<std::size_t>(a.tier + 1)].after_ms <= now) {
      ++a.tier;
      event& ev = e.emit(c, event_type::alarm_escalated);
      ev.alarm = a.id;
      ev.rule = a.rule;
      ev.kind = a.kind;
      ev.level = a.level;
      ev.tier = a.tier;
      ev.responder = tiers[static_cast<std::size_t>(a.tier)].responder;
    }
    if (a.acknowledged && a.condition && a.kind != alarm_kind::advisory && a.silenced_until <= now) {
      a.acknowledged = false;
      a.tier = -1;
      a.tier_base = now;
      e.emit_alarm(c, event_type::alarm_resounded, a);
    }
  }
  if (s.paused_until != 0 && s.paused_until <= now) {
    s.paused_until = 0;
    // High priority can be paused, never disabled: a later pause no longer silences these.
    for (auto& a : s.alarms) {
      if (a.level == priority::high) a.paused_through = true;
    }
    e.emit(c, event_type::audio_resumed).text = "audio pause ended";
  }
}

}  // namespace lifecycle
}  // namespace vigil::engine::detail
