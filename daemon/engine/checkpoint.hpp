#pragma once

// Checkpoints of one chair's engine state, in the ChairCheckpoint protobuf message
// (proto/vigil/v1/checkpoint.proto). Internal to vigil_engine.

#include "daemon/engine/chair_state.hpp"

#include <string>
#include <string_view>
#include <vector>

namespace vigil::engine::detail {

std::string encode(const chair_state& c, std::uint64_t next_session, std::uint64_t next_alarm);

struct decoded {
  chair_state chair;
  std::uint64_t next_session = 0;
  std::uint64_t next_alarm = 0;
  std::string warning;  // set when the state was restored with a change (a profile gone)
};

/// Decodes a checkpoint; an error message, or empty on success. A session whose profile is no
/// longer among `profiles` goes on with `fallback_profile` (or the first), with a warning.
std::string decode(std::string_view data, const std::vector<profile>& profiles, std::string_view fallback_profile,
                   decoded& out);

}  // namespace vigil::engine::detail
