#pragma once

// The one rule for the names devices, chairs and users go by, wherever they come from: a
// monitor's Hello, an operator's command, a REST path or body, a feed filter, the
// configuration. A name no monitor could ever send is refused everywhere, so nothing can be
// opened, filtered or logged under it.

#include <cstddef>
#include <string_view>

namespace vigil::model {

inline constexpr std::size_t max_device_id_length = 128;
inline constexpr std::size_t max_chair_id_length = 64;
inline constexpr std::size_t max_user_name_length = 64;

/// True when `text` is 1..max_len printable ASCII characters without spaces (bytes 0x21 to 0x7E).
constexpr bool valid_identifier(std::string_view text, std::size_t max_len) noexcept {
  if (text.empty() || text.size() > max_len) return false;
  for (const char c : text) {
    if (c <= ' ' || c > '~') return false;
  }
  return true;
}

/// A chair id: 1 to 64 printable ASCII characters without spaces.
constexpr bool valid_chair_id(std::string_view text) noexcept { return valid_identifier(text, max_chair_id_length); }

/// A device id: 1 to 128 printable ASCII characters without spaces.
constexpr bool valid_device_id(std::string_view text) noexcept { return valid_identifier(text, max_device_id_length); }

}  // namespace vigil::model
