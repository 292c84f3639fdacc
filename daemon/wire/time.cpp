#include "daemon/wire/time.hpp"

#include <fmt/format.h>

namespace vigil::wire {

utc_time utc_of(millis ms) {
  millis seconds = ms / 1000;
  millis rest = ms % 1000;
  if (rest < 0) {
    rest += 1000;
    --seconds;
  }
  utc_time out;
  out.millis_part = static_cast<int>(rest);
  const auto t = static_cast<std::time_t>(seconds);
  gmtime_r(&t, &out.fields);
  return out;
}

std::string rfc3339_utc(millis ms) {
  const auto [tm, part] = utc_of(ms);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                     tm.tm_hour, tm.tm_min, tm.tm_sec, part);
}

}  // namespace vigil::wire
