#pragma once

#include <boost/asio/ip/address.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>

namespace vigil::net {

/// The address that per-peer limits and failure counts apply to: an IPv4 address, or the /64
/// network of an IPv6 address. One IPv6 host is usually given a whole /64, so limits per IPv6
/// address would be free to dodge. An IPv4-mapped IPv6 address counts as its IPv4 address.
class peer_key {
 public:
  peer_key() = default;
  /// The key of a remote address.
  static peer_key of(const boost::asio::ip::address& address) noexcept;

  /// For logs: "127.0.0.2", or "2001:db8:0:1::/64".
  std::string to_string() const;
  std::size_t hash() const noexcept;
  friend bool operator==(const peer_key&, const peer_key&) = default;

 private:
  std::array<std::uint8_t, 16> bytes_{};  // IPv4 in the first four bytes; IPv6 masked to /64
  bool v6_ = false;
};

struct peer_key_hash {
  std::size_t operator()(const peer_key& key) const noexcept { return key.hash(); }
};

}  // namespace vigil::net
