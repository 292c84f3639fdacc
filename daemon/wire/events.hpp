#pragma once

// Engine events as wire messages: the TimelineEvent the feeds send, the store's exports hold
// and vigilctl reads back. One mapping, both ways, for every layer.

#include "daemon/engine/engine.hpp"
#include "vigil/v1/control.pb.h"
#include "vigil/v1/timeline.pb.h"

namespace vigil::wire {

v1::Priority to_proto(engine::priority p);
v1::AlarmKind to_proto(engine::alarm_kind k);
v1::Phase to_proto(engine::phase p);

/// Whether the event is about one alarm (raised, escalated, acknowledged, sounding again, cleared).
bool is_alarm_event(engine::event_type t);

/// One engine event as a TimelineEvent; fields that do not apply to its type stay absent.
v1::TimelineEvent to_proto(const engine::event& e);

/// One engine event back from its TimelineEvent (the inverse of to_proto, for what it carries);
/// fields the message leaves out keep the engine's defaults.
engine::event from_proto(const v1::TimelineEvent& e);

}  // namespace vigil::wire
