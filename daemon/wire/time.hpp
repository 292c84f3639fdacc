#pragma once

// Instants as the wire and the exports write them: UTC, to the millisecond.

#include "daemon/engine/engine.hpp"

#include <ctime>
#include <string>

namespace vigil::wire {

using engine::millis;

/// The calendar fields of an instant in UTC, and its milliseconds (0-999, floored, so that
/// times before 1970 still print sensibly).
struct utc_time {
  std::tm fields{};
  int millis_part = 0;
};
utc_time utc_of(millis ms);

/// An instant as RFC 3339 in UTC with milliseconds: "2026-03-01T09:30:00.250Z".
std::string rfc3339_utc(millis ms);

}  // namespace vigil::wire
