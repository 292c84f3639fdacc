#include "daemon/ingest/device_registry.hpp"

#include "daemon/model/identifiers.hpp"
#include "daemon/net/secret.hpp"
#include "vigil/v1/device.pb.h"

#include <fmt/format.h>

namespace vigil::ingest {
device_registry::device_registry(std::vector<device_credential> credentials)
    : credentials_(std::move(credentials)) {
  for (const auto& c : credentials_) {
    if (!c.chair.empty()) configured_chairs_.insert(c.chair);
  }
}

namespace {

admission refused(int code, std::string reason) {
  admission out;
  out.error_code = code;
  out.reason = std::move(reason);
  return out;
}

constexpr std::uint32_t min_declared_interval_ms = 100;
constexpr std::uint32_t max_declared_interval_ms = 3'600'000;

/// Why a Hello's declared cadences cannot be taken (protocol.md 4.1), or empty.
std::string cadence_error(const v1::Hello& hello) {
  std::uint32_t seen = 0;
  for (const auto& c : hello.cadences()) {
    const int kind = c.kind();
    if (kind != v1::HEART_RATE && kind != v1::PULSE_RATE && kind != v1::SPO2 && kind != v1::RESPIRATORY_RATE) {
      return fmt::format("cadences: kind {} is not heart rate, pulse rate, SpO2 or respiratory rate", kind);
    }
    if ((seen & (1u << kind)) != 0) return fmt::format("cadences: kind {} is declared twice", kind);
    seen |= 1u << kind;
    if (c.interval_ms() < min_declared_interval_ms || c.interval_ms() > max_declared_interval_ms) {
      return fmt::format("cadences: interval {} ms of kind {} is outside 100 ms to 1 h", c.interval_ms(), kind);
    }
  }
  return {};
}

}  // namespace

bool device_registry::connected(const std::string& device_id) const {
  const auto it = devices_.find(device_id);
  return it != devices_.end() && it->second->owner != nullptr;
}

std::string device_registry::bind(const std::string& device_id, const std::string& chair) {
  if (configured_chairs_.contains(chair)) {
    return fmt::format("chair '{}' is served by the devices configured for it", chair);
  }
  auto it = bindings_.find(chair);
  if (it != bindings_.end() && it->second != device_id) {
    const bool held = connected(it->second) || (chair_in_use_ && chair_in_use_(chair));
    if (held) {
      return fmt::format("chair '{}' is served by device '{}'; it passes to another device once that one has "
                         "disconnected and the chair's session is closed",
                         chair, it->second);
    }
  }
  if (it != bindings_.end() && it->second == device_id) return {};
  // A device moving to another chair leaves its old one.
  std::erase_if(bindings_, [&](const auto& b) { return b.second == device_id; });
  bindings_[chair] = device_id;
  if (record_binding_) record_binding_(chair, device_id);
  return {};
}

std::optional<std::string> device_registry::bound_to(std::string_view chair) const {
  const auto it = bindings_.find(chair);
  if (it == bindings_.end()) return std::nullopt;
  return it->second;
}

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
    return refused(ErrorCode::UNSUPPORTED_VERSION, fmt::format("protocol version {} is not supported; this daemon speaks version 1",
                        static_cast<int>(hello.protocol_version())));
  }
  if (!model::valid_device_id(hello.device_id())) {
    return refused(ErrorCode::UNKNOWN_DEVICE, "device_id must be 1 to 128 printable ASCII characters");
  }
  const device_credential* credential = match(hello.device_id());
  if (credential == nullptr) {
    return refused(ErrorCode::UNKNOWN_DEVICE, fmt::format("device '{}' is not configured", hello.device_id()));
  }
  if (!net::same_secret(hello.token(), credential->token)) {
    return refused(ErrorCode::BAD_TOKEN, fmt::format("wrong token for device '{}'", hello.device_id()));
  }
  if (auto why = cadence_error(hello); !why.empty()) return refused(ErrorCode::BAD_CADENCE, std::move(why));
  if (!model::valid_chair_id(hello.chair_id())) {
    return refused(ErrorCode::BAD_CHAIR, "chair_id must be 1 to 64 printable ASCII characters");
  }
  if (!credential->chair.empty() && credential->chair != hello.chair_id()) {
    return refused(ErrorCode::BAD_CHAIR, fmt::format("device '{}' is configured for chair '{}', not '{}'", hello.device_id(),
                        credential->chair, hello.chair_id()));
  }
  if (place_) {
    if (auto place = place_(hello.chair_id()); !place.here) {
      auto out = refused(ErrorCode::CHAIR_ELSEWHERE,
                         place.redirect.empty()
                             ? fmt::format("no daemon of the cluster holds chair '{}' yet; reconnect shortly",
                                           hello.chair_id())
                             : fmt::format("chair '{}' is held by daemon {} at {}; reconnect there", hello.chair_id(),
                                           place.node, place.redirect));
      out.place = std::move(place);
      return out;
    }
  }
  if (credential->chair.empty()) {
    if (auto why = bind(hello.device_id(), hello.chair_id()); !why.empty()) {
      return refused(ErrorCode::BAD_CHAIR, std::move(why));
    }
  }

  auto& device = devices_[hello.device_id()];
  if (!device) {
    device = std::make_shared<device_state>();
    device->device_id = hello.device_id();
  }
  admission out{0, {}, device, {}, {}};
  if (device->owner != nullptr && device->chair_id != hello.chair_id()) out.left_chair = device->chair_id;
  device->chair_id = hello.chair_id();
  if (device->owner != nullptr && device->owner != &link) {
    device_link* previous = device->owner;
    device->owner = nullptr;
    previous->superseded();
  }
  device->owner = &link;
  return out;
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

void device_registry::chair_moved(std::string_view chair, const chair_place& to) {
  for (auto& [id, device] : devices_) {
    if (device->chair_id != chair) continue;
    // A new epoch: commits of batches submitted before now (refused anyway) move no ack.
    ++device->epoch;
    device->accepted_seq = device->stored_seq;
    if (device->owner != nullptr) {
      device_link* owner = device->owner;
      device->owner = nullptr;
      owner->chair_moved(to.redirect, to.node);
    }
  }
}

void device_registry::resume_device(const std::string& device_id, std::uint64_t seq) {
  auto& device = devices_[device_id];
  if (!device) {
    device = std::make_shared<device_state>();
    device->device_id = device_id;
  }
  ++device->epoch;
  device->accepted_seq = seq;
  device->stored_seq = seq;
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
