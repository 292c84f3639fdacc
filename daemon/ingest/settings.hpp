#pragma once

#include "daemon/codec/frame.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace vigil::ingest {

/// A device allowed to connect. An id ending in '*' admits every id with that prefix.
struct device_credential {
  std::string id;
  std::string token;
  std::string chair;  // empty: the device names its chair in Hello
};

/// Ingest listener settings; defaults match config/vigild.yaml.
struct settings {
  std::string address = "127.0.0.1";
  std::uint16_t port = 7400;
  std::size_t max_connections = 1024;
  // Connections without an admitted Hello yet, in all and from one address (docs/protocol.md
  // §10.1): room for a gateway reconnecting its monitors at once, and none for sockets held idle
  // to keep monitors out.
  std::size_t max_unauthenticated = 256;
  std::size_t max_unauthenticated_per_peer = 128;
  std::size_t max_frame_bytes = codec::default_max_frame_bytes;
  std::chrono::milliseconds handshake_timeout{5'000};
  std::chrono::milliseconds idle_timeout{30'000};
  // How long a closing connection may take to flush its last frames.
  std::chrono::milliseconds close_timeout{2'000};
  // How far a batch's seq may be from the device's last ack: a new seq at most this far above
  // it, a resend less than this far below it. One bad number must not silence a device for good.
  std::uint64_t seq_window = 100'000;
  std::vector<device_credential> devices;
};

}  // namespace vigil::ingest
