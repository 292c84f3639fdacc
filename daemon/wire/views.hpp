#pragma once

// The engine's views as wire messages: an active alarm, an open session, a chair's latest
// vitals. Used by the control port (ListSessions), the feeds' snapshots and the REST API.

#include "daemon/engine/engine.hpp"
#include "vigil/v1/control.pb.h"
#include "vigil/v1/feed.pb.h"

#include <cstdint>
#include <string_view>

namespace vigil::wire {

void fill(v1::AlarmState& out, const engine::alarm_view& a);
void fill(v1::SessionState& out, const engine::session_view& s);
/// The chair's latest vitals; false if it has none.
bool fill(v1::VitalsUpdate& out, const engine::engine& engine, std::string_view chair, std::uint64_t session);

}  // namespace vigil::wire
