#include "daemon/app/durable_sink.hpp"

#include "daemon/ingest/device_registry.hpp"

#include <boost/asio/post.hpp>

namespace vigil::app {

durable_sink::durable_sink(store::timeline& store) : store_(store) {}

void durable_sink::submit(const ingest::batch_view& batch, const std::shared_ptr<ingest::device_state>& device) {
  store_.append_batch(std::string(batch.device_id), std::string(batch.chair_id), batch.session, batch.seq, batch.samples,
                      [this, device, seq = batch.seq, epoch = device->epoch](bool committed) {
                        // On the writer thread: hand the result back to the ingest thread.
                        if (!committed) failed_.fetch_add(1, std::memory_order_relaxed);
                        boost::asio::post(executor_, [device, seq, epoch, committed] {
                          if (committed) {
                            device->mark_stored(seq, epoch);
                          } else {
                            device->storage_failed(epoch);
                          }
                        });
                      },
                      device->epoch);
}

}  // namespace vigil::app
