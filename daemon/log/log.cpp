#include "daemon/log/log.hpp"

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstdlib>
#include <mutex>
#include <stdexcept>
#include <vector>

namespace vigil::log {
namespace {

/// The length of the well-formed UTF-8 sequence at the start of `text` that encodes a character
/// from U+00A0 up (C1 controls and malformed or overlong sequences are not characters to print);
/// 0 when there is none.
std::size_t printable_utf8(std::string_view text) {
  const auto byte = [&](std::size_t i) { return static_cast<unsigned char>(text[i]); };
  const unsigned char c = byte(0);
  const std::size_t length = c >= 0xc2 && c <= 0xdf ? 2 : c >= 0xe0 && c <= 0xef ? 3 : c >= 0xf0 && c <= 0xf4 ? 4 : 0;
  if (length == 0 || text.size() < length) return 0;
  std::uint32_t point = c & (length == 2 ? 0x1f : length == 3 ? 0x0f : 0x07);
  for (std::size_t i = 1; i < length; ++i) {
    if ((byte(i) & 0xc0) != 0x80) return 0;
    point = (point << 6) | (byte(i) & 0x3f);
  }
  const std::uint32_t least = length == 2 ? 0xa0 : length == 3 ? 0x800 : 0x10000;
  if (point < least || (point >= 0xd800 && point <= 0xdfff) || point > 0x10ffff) return 0;
  return length;
}

/// A message cut to `max_message_bytes`, saying how much more there was.
template <class Append>
void bounded(std::string& out, std::string_view text, Append append) {
  if (text.size() <= max_message_bytes) {
    append(out, text);
    return;
  }
  append(out, text.substr(0, max_message_bytes));
  out += fmt::format(" ... ({} bytes more)", text.size() - max_message_bytes);
}

/// Gives the wrapped formatter the message escaped and bounded, so that nothing a device or a
/// client sends can start a line of its own, drive a terminal, or flood the log.
class safe_text_formatter final : public spdlog::formatter {
 public:
  explicit safe_text_formatter(std::unique_ptr<spdlog::formatter> inner) : inner_(std::move(inner)) {}
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    std::string safe;
    bounded(safe, std::string_view(msg.payload.data(), msg.payload.size()), append_escaped);
    spdlog::details::log_msg copy = msg;
    copy.payload = spdlog::string_view_t(safe.data(), safe.size());
    inner_->format(copy, dest);
  }
  std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<safe_text_formatter>(inner_->clone());
  }

 private:
  std::unique_ptr<spdlog::formatter> inner_;
};

/// The structured fields of the record being logged on this thread (log::write), if any. Sinks
/// format on the thread that logs, so the formatter finds them here.
thread_local std::span<const field> current_fields;

/// One JSON object per line: ts, level, logger, then the record's fields, then msg.
class json_formatter final : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    std::string line;
    line.reserve(128 + msg.payload.size());
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(msg.time.time_since_epoch()).count();
    const std::time_t seconds = static_cast<std::time_t>(ms / 1000);
    std::tm utc{};
    gmtime_r(&seconds, &utc);
    char stamp[40];
    const auto n = std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &utc);
    line += R"({"ts":")";
    line.append(stamp, n);
    line += fmt::format(".{:03}Z\",\"level\":\"", ms % 1000);
    const auto level = spdlog::level::to_string_view(msg.level);
    line.append(level.data(), level.size());
    line += R"(","logger":")";
    append_json_escaped(line, std::string_view(msg.logger_name.data(), msg.logger_name.size()));
    line += '"';
    for (const auto& f : current_fields) {
      line += ",\"";
      append_json_escaped(line, f.key);
      line += "\":";
      if (f.number) {
        line += fmt::format("{}", *f.number);
      } else {
        line += '"';
        append_json_escaped(line, f.text);
        line += '"';
      }
    }
    line += R"(,"msg":")";
    bounded(line, std::string_view(msg.payload.data(), msg.payload.size()), append_json_escaped);
    line += "\"}\n";
    dest.append(line.data(), line.data() + line.size());
  }
  std::unique_ptr<spdlog::formatter> clone() const override { return std::make_unique<json_formatter>(); }
};

struct state {
  std::mutex mutex;
  std::vector<spdlog::sink_ptr> sinks;
  spdlog::level::level_enum level = spdlog::level::info;
};

state& shared() {
  static state s;
  return s;
}

/// `journal`: the lines go to the systemd journal, which stamps each with its own time.
spdlog::sink_ptr text_sink(spdlog::sink_ptr sink, bool journal) {
  // UTC, as in JSON lines: logs from machines in different zones line up.
  sink->set_formatter(std::make_unique<safe_text_formatter>(std::make_unique<spdlog::pattern_formatter>(
      journal ? "%-5l [%n] %v" : "%Y-%m-%dT%H:%M:%S.%eZ %^%-5l%$ [%n] %v", spdlog::pattern_time_type::utc)));
  return sink;
}

}  // namespace

std::optional<int> parse_level(std::string_view name) {
  static constexpr std::string_view names[] = {"trace", "debug", "info", "warn", "error", "critical", "off"};
  for (std::size_t i = 0; i < std::size(names); ++i) {
    if (names[i] == name) return static_cast<int>(i);
  }
  return std::nullopt;
}

std::shared_ptr<spdlog::logger> component_logger(const std::string& name) {
  auto& s = shared();
  std::lock_guard lock(s.mutex);
  if (auto existing = spdlog::get(name)) return existing;
  if (s.sinks.empty()) {
    s.sinks.push_back(text_sink(std::make_shared<spdlog::sinks::stderr_sink_mt>(), stderr_is_journal()));
  }
  auto logger = std::make_shared<spdlog::logger>(name, s.sinks.begin(), s.sinks.end());
  logger->set_level(s.level);
  logger->flush_on(spdlog::level::warn);
  spdlog::register_logger(logger);
  return logger;
}

void configure(const options& opts) {
  const auto level = parse_level(opts.level);
  if (!level) throw std::runtime_error("unknown log level '" + opts.level + "'");
  spdlog::sink_ptr sink;
  if (opts.file.empty()) {
    sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
  } else {
    try {
      sink = std::make_shared<spdlog::sinks::basic_file_sink_mt>(opts.file);
    } catch (const spdlog::spdlog_ex& e) {
      throw std::runtime_error("cannot open log file '" + opts.file + "': " + e.what());
    }
  }
  if (opts.style == format::json) {
    sink->set_formatter(std::make_unique<json_formatter>());
  } else {
    text_sink(sink, opts.file.empty() && stderr_is_journal());
  }
  auto& s = shared();
  std::lock_guard lock(s.mutex);
  s.sinks = {sink};
  s.level = static_cast<spdlog::level::level_enum>(*level);
  spdlog::apply_all([&](const std::shared_ptr<spdlog::logger>& logger) {
    logger->sinks() = s.sinks;
    logger->set_level(s.level);
  });
}

void write(spdlog::logger& logger, spdlog::level::level_enum level, std::span<const field> fields,
           std::string_view message) {
  if (!logger.should_log(level)) return;
  const auto outer = current_fields;
  current_fields = fields;
  try {
    logger.log(level, "{}", message);
  } catch (...) {
    current_fields = outer;
    throw;
  }
  current_fields = outer;
}

bool journal_stream_is(std::string_view journal_stream, int fd) {
  const auto colon = journal_stream.find(':');
  if (colon == std::string_view::npos) return false;
  unsigned long long device = 0;
  unsigned long long inode = 0;
  const auto number = [](std::string_view s, unsigned long long& out) {
    const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
    return ec == std::errc() && end == s.data() + s.size() && !s.empty();
  };
  if (!number(journal_stream.substr(0, colon), device) || !number(journal_stream.substr(colon + 1), inode)) return false;
  struct stat st {};
  if (::fstat(fd, &st) != 0) return false;
  return static_cast<unsigned long long>(st.st_dev) == device && static_cast<unsigned long long>(st.st_ino) == inode;
}

bool stderr_is_journal() {
  const char* stream = std::getenv("JOURNAL_STREAM");
  return stream != nullptr && journal_stream_is(stream, STDERR_FILENO);
}

std::string clip(std::string_view text, std::size_t max_bytes) {
  if (text.size() <= max_bytes) return std::string(text);
  return fmt::format("{}... ({} bytes more)", text.substr(0, max_bytes), text.size() - max_bytes);
}

void append_escaped(std::string& out, std::string_view text) {
  for (std::size_t i = 0; i < text.size();) {
    const auto c = static_cast<unsigned char>(text[i]);
    switch (c) {
      case '\\': out += "\\\\"; ++i; continue;
      case '\n': out += "\\n"; ++i; continue;
      case '\r': out += "\\r"; ++i; continue;
      case '\t': out += "\\t"; ++i; continue;
      default: break;
    }
    if (c >= 0x20 && c < 0x7f) {
      out += static_cast<char>(c);
      ++i;
    } else if (const std::size_t n = c >= 0x80 ? printable_utf8(text.substr(i)) : 0; n > 0) {
      out.append(text.substr(i, n));
      i += n;
    } else {
      out += fmt::format("\\x{:02x}", c);
      ++i;
    }
  }
}

void append_json_escaped(std::string& out, std::string_view text) {
  for (std::size_t i = 0; i < text.size();) {
    const auto c = static_cast<unsigned char>(text[i]);
    switch (c) {
      case '"': out += "\\\""; ++i; continue;
      case '\\': out += "\\\\"; ++i; continue;
      case '\n': out += "\\n"; ++i; continue;
      case '\r': out += "\\r"; ++i; continue;
      case '\t': out += "\\t"; ++i; continue;
      default: break;
    }
    if (c < 0x20 || c == 0x7f) {
      out += fmt::format("\\u{:04x}", static_cast<unsigned>(c));
      ++i;
    } else if (c < 0x80) {
      out += static_cast<char>(c);
      ++i;
    } else if (const std::size_t n = printable_utf8(text.substr(i)); n > 0) {
      out.append(text.substr(i, n));
      i += n;
    } else if (c == 0xc2 && i + 1 < text.size() && static_cast<unsigned char>(text[i + 1]) >= 0x80 &&
               static_cast<unsigned char>(text[i + 1]) < 0xa0) {
      // A C1 control character: well-formed, but no terminal should act on it.
      out += fmt::format("\\u{:04x}", static_cast<unsigned>(static_cast<unsigned char>(text[i + 1])));
      i += 2;
    } else {
      // Not UTF-8: the byte as text, so the line stays valid JSON.
      out += fmt::format("\\\\x{:02x}", c);
      ++i;
    }
  }
}

}  // namespace vigil::log
