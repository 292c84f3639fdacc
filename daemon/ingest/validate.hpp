#pragma once

#include "daemon/model/vitals.hpp"

#include <string_view>

namespace vigil::v1 {
class Sample;
}

namespace vigil::ingest {

enum class verdict : std::uint8_t { accepted, flagged, rejected };

struct sample_check {
  verdict outcome = verdict::accepted;
  std::string_view reason;  // why it was rejected or flagged
  model::vital_sample sample;
};

/// Checks one wire sample: malformed ones are rejected, implausible ones kept and flagged.
sample_check check_sample(const v1::Sample& wire) noexcept;

}  // namespace vigil::ingest
