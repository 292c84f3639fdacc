#include "daemon/ingest/validate.hpp"

#include "vigil/v1/device.pb.h"

#include <cmath>

namespace vigil::ingest {

sample_check check_sample(const v1::Sample& wire) noexcept {
  sample_check check;
  const auto kind = model::vital_kind_from_wire(wire.kind());
  if (!kind) {
    check.outcome = verdict::rejected;
    check.reason = "unknown vital kind";
    return check;
  }
  if (!std::isfinite(wire.value())) {
    check.outcome = verdict::rejected;
    check.reason = "value is not a finite number";
    return check;
  }
  // Year 1970 to 3000: anything else is a unit mix-up (micro- or nanoseconds) or a broken clock,
  // and arithmetic on it could overflow.
  constexpr std::int64_t year_3000_ms = 32'503'680'000'000;
  if (wire.time_ms() <= 0 || wire.time_ms() >= year_3000_ms) {
    check.outcome = verdict::rejected;
    check.reason = "time_ms must be milliseconds since 1970, before the year 3000";
    return check;
  }
  check.sample = {wire.time_ms(), wire.value(), *kind, wire.quality() & model::quality::known};
  const auto range = model::plausible(*kind);
  if (wire.value() < range.low || wire.value() > range.high) {
    check.outcome = verdict::flagged;
    check.reason = "value outside the plausible range";
    check.sample.quality |= model::quality::artifact | model::quality::implausible;
  }
  return check;
}

}  // namespace vigil::ingest
