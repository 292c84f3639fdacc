#pragma once

// Names of the simulator's enumerations, as scenarios spell them: one table per enumeration,
// read both ways.

#include <optional>
#include <span>
#include <string_view>

namespace vigil::sim {

template <typename T>
struct named {
  std::string_view name;
  T value;
};

/// The value `name` stands for in `table`, if any.
template <typename T>
std::optional<T> from_name(std::span<const named<T>> table, std::string_view name) {
  for (const auto& entry : table) {
    if (entry.name == name) return entry.value;
  }
  return std::nullopt;
}

/// The first name `value` has in `table` ("" if none).
template <typename T>
std::string_view name_in(std::span<const named<T>> table, T value) {
  for (const auto& entry : table) {
    if (entry.value == value) return entry.name;
  }
  return {};
}

}  // namespace vigil::sim
