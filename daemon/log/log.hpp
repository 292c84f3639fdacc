#pragma once

#include <spdlog/common.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
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

/// One structured field of a log record: in the JSON format a key of its own beside "msg"
/// (whose words say the same); the text format leaves it out.
struct field {
  std::string_view key;
  std::string_view text;                // a string value, or
  std::optional<std::uint64_t> number;  // a number
};

/// Logs `message` at `level` with `fields` (keys other than ts, level, logger and msg).
void write(spdlog::logger& logger, spdlog::level::level_enum level, std::span<const field> fields,
           std::string_view message);

/// Whether standard error is connected to the systemd journal: JOURNAL_STREAM, which systemd
/// sets to "DEVICE:INODE" of the stream, names standard error's own file (systemd.exec(5)). A
/// variable inherited by a process whose standard error went elsewhere does not count.
bool stderr_is_journal();

/// Whether `journal_stream` (JOURNAL_STREAM's value) names the file open as `fd`.
bool journal_stream_is(std::string_view journal_stream, int fd);

/// The level for a name, if it is one of spdlog's level names.
std::optional<int> parse_level(std::string_view name);

/// A log message longer than this is cut there, with how many bytes more it had.
inline constexpr std::size_t max_message_bytes = 4096;

/// `text` cut to `max_bytes` for a log line, with how many bytes more it had. For free text
/// from outside (a note, a reason, a monitor's software string) that a line only needs to hint at.
std::string clip(std::string_view text, std::size_t max_bytes);

/// Escapes `text` for one line of text: backslash, newline, carriage return and tab as \\,
/// \n, \r, \t; every other control byte, C1 control and byte that is not well-formed UTF-8 as
/// \xNN. Every log line goes through this (or the JSON form), whatever a message holds.
void append_escaped(std::string& out, std::string_view text);

/// Escapes `text` for the inside of a JSON string: control characters (C0 and C1) as \uNNNN,
/// and bytes that are not well-formed UTF-8 as the text \xNN, so the line stays valid JSON.
void append_json_escaped(std::string& out, std::string_view text);

}  // namespace vigil::log
