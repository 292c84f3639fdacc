#pragma once

// Internal to vigil_config: reads the keys of one YAML mapping, recording every problem
// against its dotted key path. Shared by the daemon configuration (config.cpp) and the
// protocol profiles (profile_loader.cpp).

#include "daemon/config/config.hpp"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <chrono>
#include <cmath>
#include <cstdint>
#include <initializer_list>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace vigil::config::detail {

/// Reads the keys of one YAML mapping, recording problems against dotted key paths.
///
/// Every key read (or looked for) is remembered; when the section is destroyed, keys of the
/// mapping that were never looked for are reported as unknown, and keys given twice as
/// duplicates. A value that is absent or null leaves its target unchanged.
class section {
 public:
  section(YAML::Node node, std::string path, std::vector<problem>& problems)
      : node_(std::move(node)), path_(std::move(path)), problems_(problems) {
    if (node_ && !node_.IsNull() && !node_.IsMap()) {
      report(path_, "must be a mapping of keys to values");
      node_ = YAML::Node();
    }
  }

  section(const section&) = delete;
  section& operator=(const section&) = delete;
  section(section&&) = delete;  // a moved-from section would report its keys twice
  section& operator=(section&&) = delete;

  ~section() {
    if (!node_ || !node_.IsMap()) return;
    std::set<std::string> keys;
    for (const auto& entry : node_) {
      if (!entry.first.IsScalar()) {
        report(key_of("?"), "keys must be plain names");
        continue;
      }
      const auto key = entry.first.as<std::string>();
      // yaml-cpp keeps the first of two equal keys; a silent pick could hide a mistake.
      if (!keys.insert(key).second) report(key_of(key), "appears more than once");
      if (!seen_.contains(key)) report(key_of(key), "unknown key");
    }
  }

  section child(const std::string& key) { return section(take(key), key_of(key), problems_); }

  void text(const std::string& key, std::string& target) {
    const YAML::Node value = take(key);
    if (!value) return;
    if (!value.IsScalar()) return report(key_of(key), "must be a string");
    target = value.as<std::string>();
  }

  void choice(const std::string& key, std::string& target, std::initializer_list<std::string_view> allowed) {
    std::string value = target;
    text(key, value);
    for (const auto a : allowed) {
      if (a == value) {
        target = value;
        return;
      }
    }
    std::string list;
    for (const auto a : allowed) list += fmt::format("{}{}", list.empty() ? "" : ", ", a);
    report(key_of(key), fmt::format("'{}' is not one of: {}", value, list));
  }

  template <class Int>
  void integer(const std::string& key, Int& target, Int low, Int high) {
    const YAML::Node value = take(key);
    if (!value) return;
    long long parsed = 0;
    if (!value.IsScalar() || !YAML::convert<long long>::decode(value, parsed)) {
      return report(key_of(key), "must be a whole number");
    }
    if (parsed < static_cast<long long>(low) || parsed > static_cast<long long>(high)) {
      return report(key_of(key), fmt::format("{} is outside the allowed range {}..{}", parsed, low, high));
    }
    target = static_cast<Int>(parsed);
  }

  void millis(const std::string& key, std::chrono::milliseconds& target, long long low, long long high) {
    long long count = target.count();
    integer(key, count, low, high);
    target = std::chrono::milliseconds(count);
  }

  /// A whole number of `unit_ms` units (1000 for a key ending in _s, 60000 for _min), stored
  /// as milliseconds. The bounds are in units.
  void duration(const std::string& key, std::int64_t& target_ms, std::int64_t unit_ms, long long low, long long high) {
    long long count = 0;
    const bool was_set = has(key);
    const auto problems_before = problems_.size();
    integer(key, count, low, high);
    if (was_set && problems_.size() == problems_before) target_ms = static_cast<std::int64_t>(count) * unit_ms;
  }

  /// A finite number, whole or decimal. Returns whether the key was given with a usable value.
  bool number(const std::string& key, double& target, double low, double high) {
    const YAML::Node value = take(key);
    if (!value) return false;
    double parsed = 0;
    if (!value.IsScalar() || !YAML::convert<double>::decode(value, parsed) || !std::isfinite(parsed)) {
      report(key_of(key), "must be a number");
      return false;
    }
    if (parsed < low || parsed > high) {
      report(key_of(key), fmt::format("{} is outside the allowed range {}..{}", parsed, low, high));
      return false;
    }
    target = parsed;
    return true;
  }

  /// true or false (yaml-cpp also takes yes/no and on/off).
  void boolean(const std::string& key, bool& target) {
    const YAML::Node value = take(key);
    if (!value) return;
    bool parsed = false;
    if (!value.IsScalar() || !YAML::convert<bool>::decode(value, parsed)) {
      return report(key_of(key), "must be true or false");
    }
    target = parsed;
  }

  /// Whether `key` is given with a value other than null. Marks the key as known.
  bool has(const std::string& key) { return static_cast<bool>(take(key)); }

  /// The YAML sequence under `key`, if any. When there is none (absent, null, or not a list,
  /// which is reported) the node returned is a null node, which is true in a boolean test:
  /// check IsSequence() to tell the cases apart.
  YAML::Node list(const std::string& key) {
    const YAML::Node value = take(key);
    if (!value) return {};
    if (!value.IsSequence()) {
      report(key_of(key), "must be a list");
      return {};
    }
    return value;
  }

  std::string key_of(const std::string& key) const { return path_.empty() ? key : path_ + "." + key; }

  /// Records a problem against `key` (a full dotted path, see key_of).
  void report(std::string key, std::string message) { problems_.push_back({std::move(key), std::move(message)}); }

 private:
  /// The value under `key`; an undefined node (false in a boolean test) when absent or null.
  YAML::Node take(const std::string& key) {
    seen_.insert(key);
    if (!node_ || !node_.IsMap()) return YAML::Node(YAML::NodeType::Undefined);
    YAML::Node value = node_[key];
    if (!value || value.IsNull()) return YAML::Node(YAML::NodeType::Undefined);
    return value;
  }

  YAML::Node node_;
  std::string path_;
  std::vector<problem>& problems_;
  std::set<std::string> seen_;
};

}  // namespace vigil::config::detail
