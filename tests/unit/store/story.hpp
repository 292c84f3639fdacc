#pragma once

// What the store tests write: heart-rate batches and whole sessions' events.

#include "daemon/engine/engine.hpp"
#include "daemon/model/vitals.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace vigil::store::story {

inline std::vector<model::vital_sample> heart_rates(std::int64_t from_ms, int n) {
  std::vector<model::vital_sample> out;
  for (int i = 0; i < n; ++i) out.push_back({from_ms + i * 1000, 60.0 + i % 40 + 0.1, model::vital_kind::heart_rate, 0});
  return out;
}

inline constexpr engine::millis t0 = 1'700'000'000'000;

inline engine::event make_event(engine::event_type type, std::uint64_t session, engine::millis at) {
  engine::event e;
  e.type = type;
  e.session = session;
  e.chair = "chair-" + std::to_string(session);
  e.at = at;
  return e;
}

/// A whole session's events: opened, dosed (window 2 h), ready, closed (or aborted).
inline std::vector<engine::event> session_story(std::uint64_t session, engine::millis opened, bool aborted = false) {
  using engine::event_type;
  std::vector<engine::event> out;
  auto open = make_event(event_type::session_opened, session, opened);
  open.who = "nurse-ana";
  open.patient_ref = "P-" + std::to_string(session);
  open.profile = "iv-ketamine";
  open.text = "patient " + open.patient_ref + " with profile iv-ketamine";
  out.push_back(open);
  auto dose = make_event(event_type::dose_marked, session, opened + 600'000);
  dose.until = dose.at + 7'200'000;
  out.push_back(dose);
  auto ready = make_event(event_type::phase_changed, session, dose.until + 60'000);
  ready.from = engine::phase::observation;
  ready.to = engine::phase::ready;
  out.push_back(ready);
  auto close = make_event(event_type::phase_changed, session, ready.at + 60'000);
  close.from = engine::phase::ready;
  close.to = aborted ? engine::phase::aborted : engine::phase::closed;
  out.push_back(close);
  out.push_back(make_event(event_type::session_closed, session, close.at));
  return out;
}

}  // namespace vigil::store::story
