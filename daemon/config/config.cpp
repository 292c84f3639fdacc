#include "daemon/config/config.hpp"

#include "daemon/ingest/device_registry.hpp"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <boost/asio/ip/address.hpp>

#include <fstream>
#include <limits>
#include <set>
#include <sstream>

namespace vigil::config {
namespace {

constexpr std::size_t min_token_length = 12;

/// Reads the keys of one YAML mapping, recording problems against dotted key paths.
class section {
 public:
  section(YAML::Node node, std::string path, std::vector<problem>& problems)
      : node_(std::move(node)), path_(std::move(path)), problems_(problems) {
    if (node_ && !node_.IsNull() && !node_.IsMap()) {
      report(path_, "must be a mapping of keys to values");
      node_ = YAML::Node();
    }
  }

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

  /// The YAML sequence under `key`, if any.
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

 private:
  /// The value under `key`; an undefined node (false in a boolean test) when absent or null.
  YAML::Node take(const std::string& key) {
    seen_.insert(key);
    if (!node_ || !node_.IsMap()) return YAML::Node(YAML::NodeType::Undefined);
    YAML::Node value = node_[key];
    if (!value || value.IsNull()) return YAML::Node(YAML::NodeType::Undefined);
    return value;
  }
  void report(std::string key, std::string message) { problems_.push_back({std::move(key), std::move(message)}); }

  YAML::Node node_;
  std::string path_;
  std::vector<problem>& problems_;
  std::set<std::string> seen_;
};

void read_devices(section& listener, std::vector<ingest::device_credential>& devices,
                  std::vector<problem>& problems) {
  const YAML::Node list = listener.list("devices");
  if (!list) return;
  devices.clear();
  for (std::size_t i = 0; i < list.size(); ++i) {
    section entry(list[i], fmt::format("{}[{}]", listener.key_of("devices"), i), problems);
    ingest::device_credential device;
    entry.text("id", device.id);
    entry.text("token", device.token);
    entry.text("chair", device.chair);
    devices.push_back(std::move(device));
  }
}

void read(const YAML::Node& root, daemon_config& config, std::vector<problem>& problems) {
  section top(root, "", problems);
  top.text("ports_file", config.ports_file);
  top.millis("shutdown_timeout_ms", config.shutdown_timeout, 100, 60'000);
  {
    section logging = top.child("log");
    logging.choice("level", config.log.level, {"trace", "debug", "info", "warn", "error", "critical", "off"});
    std::string style = config.log.style == log::format::json ? "json" : "text";
    logging.choice("format", style, {"text", "json"});
    config.log.style = style == "json" ? log::format::json : log::format::text;
    logging.text("file", config.log.file);
  }
  {
    auto& in = config.ingest;
    section listener = top.child("ingest");
    listener.text("address", in.address);
    listener.integer<std::uint16_t>("port", in.port, 0, 65535);
    listener.integer<std::size_t>("max_connections", in.max_connections, 1, 100'000);
    listener.integer<std::size_t>("max_frame_bytes", in.max_frame_bytes, 64, codec::hard_max_frame_bytes);
    listener.millis("handshake_timeout_ms", in.handshake_timeout, 100, 600'000);
    listener.millis("idle_timeout_ms", in.idle_timeout, 100, 3'600'000);
    listener.millis("close_timeout_ms", in.close_timeout, 10, 60'000);
    read_devices(listener, in.devices, problems);
  }
}

load_result finish(load_result result) {
  auto more = validate(result.config);
  result.problems.insert(result.problems.end(), more.begin(), more.end());
  return result;
}

}  // namespace

std::vector<problem> validate(const daemon_config& config) {
  std::vector<problem> problems;
  boost::system::error_code ec;
  boost::asio::ip::make_address(config.ingest.address, ec);
  if (ec) problems.push_back({"ingest.address", fmt::format("'{}' is not an IP address", config.ingest.address)});

  std::set<std::string> ids;
  for (std::size_t i = 0; i < config.ingest.devices.size(); ++i) {
    const auto& d = config.ingest.devices[i];
    const std::string key = fmt::format("ingest.devices[{}]", i);
    // The same rules the handshake applies, so that no configured device is one that can never connect.
    if (!ingest::valid_identifier(d.id, 128)) {
      problems.push_back({key + ".id", "must be 1 to 128 printable ASCII characters without spaces"});
    }
    if (!d.id.empty() && !ids.insert(d.id).second) problems.push_back({key + ".id", fmt::format("'{}' is listed twice", d.id)});
    if (d.token.size() < min_token_length) {
      problems.push_back({key + ".token", fmt::format("must be at least {} characters", min_token_length)});
    }
    if (!d.chair.empty() && !ingest::valid_identifier(d.chair, 64)) {
      problems.push_back({key + ".chair", "must be 1 to 64 printable ASCII characters without spaces"});
    }
  }
  return problems;
}

load_result load_text(const std::string& text, const std::string& origin) {
  load_result result;
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    result.problems.push_back(
        {"", fmt::format("{}: YAML syntax error at line {}, column {}: {}", origin, e.mark.line + 1, e.mark.column + 1, e.msg)});
    return result;
  }
  read(root, result.config, result.problems);
  return finish(std::move(result));
}

load_result load_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    load_result result;
    result.problems.push_back({"", fmt::format("cannot read '{}'", path)});
    return result;
  }
  std::stringstream text;
  text << in.rdbuf();
  return load_text(text.str(), path);
}

}  // namespace vigil::config
