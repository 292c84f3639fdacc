#include "daemon/ingest/sink.hpp"

#include "daemon/ingest/device_registry.hpp"

namespace vigil::ingest {

void memory_sink::submit(const batch_view& batch, const std::shared_ptr<device_state>& device) {
  device->mark_stored(batch.seq, device->epoch);
}

}  // namespace vigil::ingest
