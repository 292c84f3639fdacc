#pragma once

#include "daemon/ingest/sink.hpp"
#include "daemon/store/timeline.hpp"

#include <boost/asio/any_io_executor.hpp>

#include <memory>

namespace vigil::app {

/// Keeps batches in the timeline store: a device's batch counts as stored, and is acked, only
/// once its transaction is committed with a full sync.
class durable_sink final : public ingest::sample_sink {
 public:
  explicit durable_sink(store::timeline& store);
  /// Where commit results are delivered: the ingest thread's executor. Set before the first submit.
  void attach(boost::asio::any_io_executor ingest_executor) { executor_ = std::move(ingest_executor); }

  void submit(const ingest::batch_view& batch, const std::shared_ptr<ingest::device_state>& device) override;

  /// Batches whose commit failed (the disk, not the data): not acked, so devices keep them.
  std::uint64_t failed() const noexcept { return failed_.load(std::memory_order_relaxed); }

 private:
  store::timeline& store_;
  boost::asio::any_io_executor executor_;
  std::atomic<std::uint64_t> failed_{0};
};

}  // namespace vigil::app
