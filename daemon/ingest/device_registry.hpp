#pragma once

#include "daemon/ingest/settings.hpp"

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace vigil::v1 {
class Hello;
}

namespace vigil::ingest {

/// The connection that currently speaks for a device.
class device_link {
 public:
  virtual ~device_link() = default;
  /// The device's stored seq moved forward: an ack is due.
  virtual void acked() = 0;
  /// The same device connected again; this link must close.
  virtual void superseded() = 0;
  /// A batch could not be stored: the link must close so the device resends after the ack.
  virtual void storage_failed() = 0;
  /// An operator reset the device's sequence numbers: the link must close so the device
  /// reconnects and learns that nothing is acked.
  virtual void sequence_reset() = 0;
  /// Cluster mode: another daemon holds the device's chair now (`redirect`: its device port, or
  /// empty when not known yet): the link must close so the device goes there.
  virtual void chair_moved(const std::string& redirect, const std::string& node) = 0;
};

/// Cluster mode: where a chair is held. Outside a cluster every chair is held here.
struct chair_place {
  bool here = true;
  std::string redirect;  // the holder's device port, "host:port"; empty when no daemon holds the chair
  std::string node;      // the holder's name in the cluster
  std::string addresses;  // all its addresses, for people: "ingest=host:port http=host:port ..."
};

/// What the daemon remembers of a device across its connections.
struct device_state {
  std::string device_id;
  std::string chair_id;
  std::uint64_t accepted_seq = 0;  // highest seq taken from the device
  std::uint64_t stored_seq = 0;    // highest seq the sink reported stored: the ack point
  device_link* owner = nullptr;
  // Bumped when a batch fails to store and when an operator resets the device. A sink takes
  // the epoch with each batch and reports results with it; results of an older epoch are
  // ignored, so no late commit can ack past a batch that failed, or bring back a reset count.
  std::uint64_t epoch = 0;

  /// Called by the sink once every batch up to `seq`, submitted in `submitted_epoch`, is stored.
  void mark_stored(std::uint64_t seq, std::uint64_t submitted_epoch) {
    if (submitted_epoch != epoch || seq <= stored_seq) return;
    stored_seq = seq;
    if (owner != nullptr) owner->acked();
  }

  /// Called by the sink when a batch could not be stored: later results of batches already
  /// queued are ignored, and the device is made to resend everything after the last ack.
  void storage_failed(std::uint64_t submitted_epoch) {
    if (submitted_epoch != epoch) return;
    ++epoch;
    accepted_seq = stored_seq;
    if (owner != nullptr) owner->storage_failed();
  }
};

struct reset_outcome {
  bool known = false;              // the id is configured (exactly or by a prefix entry)
  std::uint64_t previous_seq = 0;  // the ack point before the reset
};

struct admission {
  int error_code = 0;  // vigil::v1::ErrorCode; 0 when admitted
  std::string reason;
  std::shared_ptr<device_state> device;
  // The chair the device's replaced connection served, when the new one names another: its
  // link is down now unless another device serves it.
  std::string left_chair;
  chair_place place;  // for CHAIR_ELSEWHERE: where the chair is held
};

/// Known devices and their per-device state. Used on the ingest thread only.
class device_registry {
 public:
  explicit device_registry(std::vector<device_credential> credentials);

  /// Checks a Hello against the configured devices; on success the caller owns the device.
  admission admit(const v1::Hello& hello, device_link& link);
  /// Gives up ownership of `device` if `link` still holds it.
  static void release(device_state& device, const device_link& link) noexcept;

  /// Restores what the timeline store holds of a device after a restart: batches up to `seq`
  /// are stored, so their resends are dropped.
  void seed(const std::string& device_id, std::uint64_t seq);

  // A device whose entry names no chair is bound to the chair its Hello names, if no entry is
  // configured for that chair and no other device is bound to it. The binding holds while the
  // device is connected or the chair has an open session, so no second device can feed (and
  // mask) a chair another device serves; it is recorded, and passes to another device only once
  // the first has gone and the chair's session is over.

  /// Whether a chair has an open session (the clinic's to say); unset: none has.
  void chair_in_use_by(std::function<bool(std::string_view chair)> in_use) { chair_in_use_ = std::move(in_use); }
  /// Where new bindings are recorded (the timeline); unset: memory only.
  void record_bindings_with(std::function<void(const std::string& chair, const std::string& device)> record) {
    record_binding_ = std::move(record);
  }
  /// Restores a binding the timeline holds after a restart.
  void seed_binding(const std::string& chair, const std::string& device) { bindings_[chair] = device; }
  /// The device bound to `chair`, if a device without a configured chair is.
  std::optional<std::string> bound_to(std::string_view chair) const;

  /// Cluster mode: says where each chair is held; a Hello for a chair held elsewhere is refused
  /// with CHAIR_ELSEWHERE and where to go. Unset: every chair is held here.
  void place_chairs_with(std::function<chair_place(std::string_view chair)> where) { place_ = std::move(where); }
  /// Cluster mode: another daemon holds `chair` now. Its devices' connections close with
  /// CHAIR_ELSEWHERE, and results of their batches already submitted no longer move an ack.
  void chair_moved(std::string_view chair, const chair_place& to);
  /// Cluster mode: this daemon holds the device's chair now, and the timeline holds its batches
  /// up to `seq` (written by whichever daemon held the chair): the ack point is that, exactly.
  void resume_device(const std::string& device_id, std::uint64_t seq);

  /// Forgets the device's sequence numbers (it restarted its count): its ack point goes back
  /// to 0, results of batches already submitted are ignored, and its connection is closed.
  reset_outcome reset(std::string_view device_id);

  /// The state of `device_id`, if it has ever connected.
  std::shared_ptr<const device_state> find(std::string_view device_id) const;
  std::size_t size() const noexcept { return devices_.size(); }

 private:
  const device_credential* match(std::string_view device_id) const noexcept;
  /// Why `device_id` (no chair configured) may not serve `chair`; empty if it may, then bound.
  std::string bind(const std::string& device_id, const std::string& chair);
  bool connected(const std::string& device_id) const;

  std::vector<device_credential> credentials_;
  std::set<std::string, std::less<>> configured_chairs_;  // chairs some entry names
  std::unordered_map<std::string, std::shared_ptr<device_state>> devices_;
  std::map<std::string, std::string, std::less<>> bindings_;  // chair -> device with no configured chair
  std::function<bool(std::string_view)> chair_in_use_;
  std::function<void(const std::string&, const std::string&)> record_binding_;
  std::function<chair_place(std::string_view)> place_;
};

}  // namespace vigil::ingest
