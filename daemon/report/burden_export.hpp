#pragma once

// The alarm burden of stored sessions as a vigil.v1.AlarmBurden (proto/vigil/v1/burden.proto),
// read from the timeline: what GET /api/v1/alarm-burden answers and `vigilctl burden` prints.

#include "daemon/report/alarm_burden.hpp"
#include "daemon/store/timeline.hpp"
#include "vigil/v1/burden.pb.h"

#include <cstddef>
#include <cstdint>
#include <optional>

namespace vigil::report {

/// Which stored sessions to count.
struct burden_query {
  std::optional<std::uint64_t> session;  // this one session only
  millis since_ms = 0;                   // else sessions opened at or after this,
  std::size_t limit = 1000;              // the newest `limit` of them
};

/// One group's figures over `patient_ms` of patient time.
v1::BurdenFigures to_proto(const burden_counts& c, millis patient_ms);
/// The totals, by priority, kind and rule (no per-session rows).
v1::AlarmBurden to_proto(const alarm_burden& b);

/// The burden of the sessions `q` selects, with sessions still open counted up to `now_ms`;
/// nullopt when `q` names a session the timeline does not hold.
std::optional<v1::AlarmBurden> stored_burden(store::reader& reader, const burden_query& q, millis now_ms);

}  // namespace vigil::report
