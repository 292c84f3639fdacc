#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace spdlog {
class logger;
}

namespace vigil::log {

enum class format : std::uint8_t { text, json };

struct options {
  std::string level = "info";  // trace, debug, info, warn, error, critical, off
  format style = format::text;
  std::string file;            // empty: standard error
};

/// The named logger of a component ("ingest", "app", ...), created on first use.
std::shared_ptr<spdlog::logger> component_logger(const std::string& name);

/// Points every component logger, present and future, at the configured output.
/// Throws std::runtime_error when the level is unknown or the file cannot be opened.
void configure(const options& opts);

/// The level for a name, if it is one of spdlog's level names.
std::optional<int> parse_level(std::string_view name);

/// Text from the network made safe for a log line: printable ASCII is kept, every other byte
/// (newlines, escapes, UTF-8) becomes \xNN, and beyond `max_bytes` of input it is cut with "...".
std::string printable(std::string_view text, std::size_t max_bytes = 256);

/// Escapes `text` for the inside of a JSON string.
void append_json_escaped(std::string& out, std::string_view text);

}  // namespace vigil::log
