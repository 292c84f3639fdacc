#include "daemon/net/peer.hpp"

#include <boost/asio/ip/address_v6.hpp>

#include <cstring>

namespace vigil::net {

peer_key peer_key::of(const boost::asio::ip::address& address) noexcept {
  peer_key key;
  if (address.is_v4() || (address.is_v6() && address.to_v6().is_v4_mapped())) {
    const auto v4 = address.is_v4() ? address.to_v4()
                                    : boost::asio::ip::make_address_v4(boost::asio::ip::v4_mapped, address.to_v6());
    const auto bytes = v4.to_bytes();
    std::memcpy(key.bytes_.data(), bytes.data(), bytes.size());
    return key;
  }
  const auto bytes = address.to_v6().to_bytes();
  std::memcpy(key.bytes_.data(), bytes.data(), 8);  // the /64 network; the host part stays zero
  key.v6_ = true;
  return key;
}

std::string peer_key::to_string() const {
  if (!v6_) {
    boost::asio::ip::address_v4::bytes_type bytes{};
    std::memcpy(bytes.data(), bytes_.data(), bytes.size());
    return boost::asio::ip::address_v4(bytes).to_string();
  }
  boost::asio::ip::address_v6::bytes_type bytes{};
  std::memcpy(bytes.data(), bytes_.data(), bytes.size());
  return boost::asio::ip::address_v6(bytes).to_string() + "/64";
}

std::size_t peer_key::hash() const noexcept {
  std::uint64_t high = 0;
  std::uint64_t low = 0;
  std::memcpy(&high, bytes_.data(), 8);
  std::memcpy(&low, bytes_.data() + 8, 8);
  // Mixes both halves (splitmix64's finaliser): IPv4 keys differ only in their first bytes.
  std::uint64_t x = high ^ (low * 0x9e3779b97f4a7c15ULL) ^ (v6_ ? 0x6a09e667f3bcc909ULL : 0);
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return static_cast<std::size_t>(x ^ (x >> 31));
}

}  // namespace vigil::net
