#include "daemon/ingest/device_registry.hpp"

#include "daemon/model/identifiers.hpp"
#include "daemon/net/secret.hpp"
#include "vigil/v1/device.pb.h"

#include <fmt/format.h>

namespace vigil::ingest {
device_registry::device_registry(std::vector<device_credential> credentials)
    : credentials_(std::move(credentials)) {}

const device_credential* device_registry::match(std::string_view device_id) const noexcept {
  // An exact entry wins over a prefix entry.
  const device_credential* prefix_match = nullptr;
  for (const auto& c : credentials_) {
    if (!c.id.empty() && c.id.back() == '*') {
      const std::string_view prefix(c.id.data(), c.id.size() - 1);
      if (prefix_match == nullptr && device_id.starts_with(prefix)) prefix_match = &c;
    } else if (c.id == device_id) {
      return &c;
    }
  }
  return prefix_match;
}

admission device_registry::admit(const v1::Hello& hello, device_link& link) {
  using v1::ErrorCode;
  if (hello.protocol_version() != v1::PROTOCOL_VERSION_1) {
    return {ErrorCode::UNSUPPORTED_VERSION,
            fmt::format("protocol version {} is not supported; this daemon speaks version 1",
                        static_cast<int>(hello.protocol_version())),
            nullptr};
  }
  if (!model::valid_device_id(hello.device_id())) {
    return {ErrorCode::UNKNOWN_DEVICE, "device_id must be 1 to 128 printable ASCII characters", nullptr};
  }
  const device_credential* credential = match(hello.device_id());
  if (credential == nullptr) {
    return {ErrorCode::UNKNOWN_DEVICE, fmt::format("device '{}' is not configured", hello.device_id()), nullptr};
  }
  if (!net::same_secret(hello.token(), credential->token)) {
    return {ErrorCode::BAD_TOKEN, fmt::format("wrong token for device '{}'", hello.device_id()), nullptr};
  }
  if (!model::valid_chair_id(hello.chair_id())) {
    return {ErrorCode::BAD_CHAIR, "chair_id must be 1 to 64 printable ASCII characters", nullptr};
  }
  if (!credential->chair.empty() && credential->chair != hello.chair_id()) {
    return {ErrorCode::BAD_CHAIR,
            fmt::format("device '{}' is configured for chair '{}', not '{}'", hello.device_id(),
                        credential->chair, hello.chair_id()),
            nullptr};
  }

  auto& device = devices_[hello.device_id()];
  if (!device) {
    device = std::make_shared<device_state>();
    device->device_id = hello.device_id();
  }
  device->chair_id = hello.chair_id();
  if (device->owner != nullptr && device->owner != &link) {
    device_link* previous = device->owner;
    device->owner = nullptr;
    previous->superseded();
  }
  device->owner = &link;
  return {0, {}, device};
}

void device_registry::release(device_state& device, const device_link& link) noexcept {
  if (device.owner == &link) device.owner = nullptr;
}

void device_registry::seed(const std::string& device_id, std::uint64_t seq) {
  auto& device = devices_[device_id];
  if (!device) {
    device = std::make_shared<device_state>();
    device->device_id = device_id;
  }
  device->accepted_seq = std::max(device->accepted_seq, seq);
  device->stored_seq = std::max(device->stored_seq, seq);
}

reset_outcome device_registry::reset(std::string_view device_id) {
  reset_outcome out;
  out.known = match(device_id) != nullptr;
  if (!out.known) return out;
  auto it = devices_.find(std::string(device_id));
  if (it == devices_.end()) return out;
  device_state& device = *it->second;
  out.previous_seq = device.stored_seq;
  // A new epoch: commits of batches submitted before now no longer move the ack point.
  ++device.epoch;
  device.accepted_seq = 0;
  device.stored_seq = 0;
  if (device.owner != nullptr) device.owner->sequence_reset();
  return out;
}

std::shared_ptr<const device_state> device_registry::find(std::string_view device_id) const {
  auto it = devices_.find(std::string(device_id));
  if (it == devices_.end()) return nullptr;
  return it->second;
}

}  // namespace vigil::ingest
