#pragma once

// Vitals at rest: the samples of one kind of one chair, in time order, packed into one compact
// chunk (zigzag varint time deltas, raw 8-byte values, varint quality). Every timeline backend
// stores vitals as these chunks.

#include "daemon/model/vitals.hpp"

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace vigil::store {

/// Packs samples of one kind, in time order, into a chunk.
std::string pack_chunk(std::span<const model::vital_sample> samples);
/// Unpacks a chunk of `kind` whose first sample is at `first_ms`, appending to `out`; false if it
/// is corrupt.
bool unpack_chunk(std::string_view data, model::vital_kind kind, std::int64_t first_ms,
                  std::vector<model::vital_sample>& out);

}  // namespace vigil::store
