#pragma once

#include "daemon/model/vitals.hpp"

#include <chrono>
#include <cstdint>
#include <memory>
#include <span>
#include <string_view>

namespace vigil::ingest {

struct device_state;

/// How often a device says it sends one kind (Hello.cadences, protocol.md 4.1).
struct declared_cadence {
  model::vital_kind kind = model::vital_kind::heart_rate;
  std::int64_t interval_ms = 0;
};

/// One accepted batch, valid only during sample_sink::submit.
struct batch_view {
  std::string_view device_id;
  std::string_view chair_id;
  std::uint64_t seq = 0;
  std::span<const model::vital_sample> samples;
  std::uint64_t session = 0;  // the chair's open session, once the clinic has looked; 0: none
  std::chrono::steady_clock::time_point arrived{};  // read from the socket; default: unknown
};

/// Where accepted samples go (the engine and the timeline store).
/// The ack a device receives is the highest seq the sink has reported stored, so the
/// sink alone decides what "acknowledged" promises: in memory, or durably on disk.
class sample_sink {
 public:
  virtual ~sample_sink() = default;

  /// Takes one batch. Must later call `device->mark_stored(batch.seq, epoch)` (or
  /// `storage_failed(epoch)`), with the device's epoch at submit, on the ingest thread, for
  /// batches of one device in the order they were submitted.
  virtual void submit(const batch_view& batch, const std::shared_ptr<device_state>& device) = 0;

  /// A device serving `chair_id` was admitted with these declared cadences (its Hello's, checked:
  /// streamed kinds only, each at most once); called on every admitted Hello, after link_changed.
  virtual void cadences_declared(std::string_view device_id, std::string_view chair_id,
                                 std::span<const declared_cadence> cadences) {
    (void)device_id;
    (void)chair_id;
    (void)cadences;
  }

  /// A device serving `chair_id` connected (up) or lost its last connection (down).
  virtual void link_changed(std::string_view device_id, std::string_view chair_id, bool up) {
    (void)device_id;
    (void)chair_id;
    (void)up;
  }
};

}  // namespace vigil::ingest

namespace vigil::ingest {

/// Holds nothing: reports each batch stored at once. Acks then mean "received and
/// checked"; the timeline store replaces it to make them mean "on disk".
class memory_sink final : public sample_sink {
 public:
  void submit(const batch_view& batch, const std::shared_ptr<device_state>& device) override;
};

}  // namespace vigil::ingest
