#pragma once

// The one rule for the names devices, chairs and users go by, wherever they come from: a
// monitor's Hello, an operator's command, a REST path or body, a feed filter, the
// configuration. A name no monitor could ever send is refused everywhere, so nothing can be
// opened, filtered or logged under it. Patient references have a rule of their own: an
// identifier, never a name or a date of birth.

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

inline constexpr std::size_t max_patient_ref_length = 64;

/// Why `text` is not a patient reference, or "" when it is one: 1 to 64 characters, each a
/// letter, a digit, '-', '_' or '.', and no calendar date inside (docs/control.md section 8.1).
/// A reference the clinic uses for the patient, never a name or a date of birth.
constexpr std::string_view patient_ref_problem(std::string_view text) noexcept {
  if (text.empty() || text.size() > max_patient_ref_length) return "patient_ref must be 1 to 64 characters";
  for (const char c : text) {
    const bool allowed = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
                         c == '_' || c == '.';
    if (!allowed) {
      return "patient_ref is an identifier, not a name: only letters, digits, '-', '_' and '.' (no spaces)";
    }
  }
  // A date: digit groups of 4, 1-2, 1-2 (2024-05-02) or 1-2, 1-2, 4 (02.05.2024), joined by the
  // same '-' or '.', with no digit on either side.
  const auto digit = [](char c) { return c >= '0' && c <= '9'; };
  const auto run_at = [&](std::size_t i) {
    std::size_t n = 0;
    while (i + n < text.size() && digit(text[i + n])) ++n;
    return n;
  };
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (!digit(text[i]) || (i > 0 && digit(text[i - 1]))) continue;
    const std::size_t a = run_at(i);
    std::size_t at = i + a;
    if (at >= text.size() || (text[at] != '-' && text[at] != '.')) continue;
    const char sep = text[at];
    const std::size_t b = run_at(at + 1);
    at += 1 + b;
    if (b == 0 || at >= text.size() || text[at] != sep) continue;
    const std::size_t c = run_at(at + 1);
    const bool year_first = a == 4 && b <= 2 && c >= 1 && c <= 2;
    const bool year_last = a <= 2 && b <= 2 && c == 4;
    if (year_first || year_last) return "patient_ref must not hold a date (a date of birth identifies a person)";
  }
  return {};
}

/// A patient reference: see patient_ref_problem.
constexpr bool valid_patient_ref(std::string_view text) noexcept { return patient_ref_problem(text).empty(); }

}  // namespace vigil::model
