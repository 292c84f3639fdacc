#pragma once

#include "daemon/codec/frame.hpp"
#include "daemon/ingest/device_registry.hpp"
#include "daemon/ingest/settings.hpp"
#include "daemon/ingest/sink.hpp"
#include "daemon/ingest/stats.hpp"

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace spdlog {
class logger;
}
namespace vigil::net {
class auth_gate;
}
namespace vigil::v1 {
class DeviceMessage;
class SampleBatch;
class Hello;
}  // namespace vigil::v1

namespace vigil::ingest {

/// The device protocol of one connection, without I/O: decoded frames in, frames to
/// send out. The connection code feeds it and writes what it produces.
class device_protocol {
 public:
  enum class phase : std::uint8_t { awaiting_hello, streaming, closing };

  struct context {
    const settings& config;
    device_registry& registry;
    sample_sink& sink;
    stats& counters;
    spdlog::logger& log;
  };

  /// `gate`: where the handshake's outcome is reported (null: nowhere, as in unit tests).
  device_protocol(std::uint64_t connection_id, context ctx, device_link& link, net::auth_gate* gate = nullptr);
  ~device_protocol();
  device_protocol(const device_protocol&) = delete;
  device_protocol& operator=(const device_protocol&) = delete;

  /// Handles one decoded frame from the device.
  /// `arrived`: when the frame was read from the socket (for the alarm delivery latency).
  void on_message(const v1::DeviceMessage& message, std::chrono::steady_clock::time_point arrived = {});
  /// The stream broke the framing rules.
  void on_bad_frame(codec::frame_error error);
  /// The handshake or idle deadline passed.
  void on_timeout();
  /// Ends the conversation with a fatal error frame (code is a vigil::v1::ErrorCode); `place`,
  /// for CHAIR_ELSEWHERE, says where the chair is held.
  void fail(int code, std::string reason, const chair_place* place = nullptr);
  /// Cluster mode: another daemon holds the chair now: ends the conversation with CHAIR_ELSEWHERE.
  void on_chair_moved(const std::string& redirect, const std::string& node);
  /// An operator reset the device's sequence numbers: ends the conversation with SEQUENCE_RESET.
  void on_sequence_reset();
  /// The device closed its side; `leftover` tells whether it left a partial frame.
  void on_peer_closed(codec::frame_error leftover);
  /// The transport failed (reset, write error).
  void on_transport_error(std::string_view what);

  /// Appends every frame now due to `out`: queued replies, the ack, then a fatal error.
  void take_output(std::string& out);
  bool has_output() const noexcept;
  /// The device closed its side after batches this connection took and the sink has not yet
  /// reported stored: their Ack is still to come (protocol.md 6.6).
  bool awaiting_ack() const noexcept;
  std::size_t backlog_bytes() const noexcept { return queued_.size(); }
  /// How long to hold the next write: the answer to wrong credentials is slowed (net::auth_tracker).
  /// Reading it clears it.
  std::chrono::milliseconds take_reply_delay() noexcept { return std::exchange(reply_delay_, {}); }

  phase current() const noexcept { return phase_; }
  bool closing() const noexcept { return phase_ == phase::closing; }
  bool streaming() const noexcept { return phase_ == phase::streaming; }
  /// Why the connection is closing, for the log.
  const std::string& close_reason() const noexcept { return close_reason_; }
  /// True when the close was the device's or the network's fault, not an orderly end.
  bool close_is_fault() const noexcept { return close_is_fault_; }
  std::uint64_t connection_id() const noexcept { return id_; }

 private:
  void on_hello(const v1::Hello& hello);
  void on_batch(const v1::SampleBatch& batch, std::chrono::steady_clock::time_point arrived);

  std::uint64_t id_;
  context ctx_;
  device_link& link_;
  net::auth_gate* gate_;
  std::chrono::milliseconds reply_delay_{0};
  phase phase_ = phase::awaiting_hello;
  std::shared_ptr<device_state> device_;
  std::uint64_t sent_ack_ = 0;
  std::uint64_t last_seq_ = 0;  // highest batch seq seen on this connection
  bool ack_requested_ = false;
  std::string queued_;  // encoded frames waiting for the writer
  std::string fatal_;   // encoded fatal error, sent last
  std::string close_reason_;
  bool close_is_fault_ = false;
  bool peer_closed_ = false;  // the conversation ended by the device closing its side
  std::vector<model::vital_sample> samples_;  // reused across batches
};

}  // namespace vigil::ingest
