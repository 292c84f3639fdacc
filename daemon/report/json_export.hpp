#pragma once

// A session's timeline as a vigil.v1.SessionTimeline (proto/vigil/v1/timeline.proto), and as
// JSON in protobuf's JSON mapping with the field names of the .proto file. Its events are
// mapped by the wire library (daemon/wire/events.hpp).

#include "daemon/engine/engine.hpp"
#include "daemon/report/session_record.hpp"
#include "vigil/v1/timeline.pb.h"

#include <string>

namespace vigil::report {

/// The whole record, with its alarms gathered from the events.
v1::SessionTimeline to_proto(const session_record& r, const export_context& ctx);

/// A stored session's summary, back from the SessionSummary the exports write.
store::session_summary from_proto(const v1::SessionSummary& s);

/// A record's summary and events back from a SessionTimeline (the vitals are left out): what
/// `vigilctl show` prints, from the API's timeline.json.
session_record from_proto(const v1::SessionTimeline& t);

/// The record as JSON on one line, ending with a newline.
std::string export_json(const session_record& r, const export_context& ctx);

}  // namespace vigil::report
