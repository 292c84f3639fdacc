// Artefact judgement (docs/alarms.md section 3.2): which samples the physiological rules may see.

#include "daemon/engine/core.hpp"

namespace vigil::engine::detail::artefact {

bool usable(const model::vital_sample& s) {
  namespace quality = model::quality;
  return (s.quality & (quality::artifact | quality::implausible | quality::sensor_off)) == 0;
}

}  // namespace vigil::engine::detail::artefact
