#include "daemon/store/postgres.hpp"

#include <poll.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <stdexcept>

namespace vigil::store::pg {
namespace {

/// libpq's messages end in a newline; ours are one line.
std::string one_line(const char* message) {
  std::string out = message ? message : "unknown error";
  while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
  for (char& c : out) {
    if (c == '\n') c = ' ';
  }
  return out;
}

/// One element of an array literal, quoted: backslash and double quote escaped.
void quoted_element(std::string& out, std::string_view value) {
  out.push_back('"');
  for (const char c : value) {
    if (c == '"' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  out.push_back('"');
}

std::string shortest(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "Infinity" : "-Infinity";
  char buffer[32];
  const auto [end, ec] = std::to_chars(buffer, buffer + sizeof buffer, value);
  return std::string(buffer, ec == std::errc{} ? end : buffer);
}

constexpr char hex_digits[] = "0123456789abcdef";

/// The length of the valid UTF-8 sequence at the start of `s`, or 0.
std::size_t utf8_sequence(std::string_view s) {
  const auto byte = [&](std::size_t i) { return static_cast<unsigned char>(s[i]); };
  const unsigned char first = byte(0);
  if (first >= 0x01 && first < 0x80) return 1;
  std::size_t length = 0;
  std::uint32_t code = 0;
  if (first >= 0xc2 && first <= 0xdf) {
    length = 2;
    code = first & 0x1f;
  } else if (first >= 0xe0 && first <= 0xef) {
    length = 3;
    code = first & 0x0f;
  } else if (first >= 0xf0 && first <= 0xf4) {
    length = 4;
    code = first & 0x07;
  } else {
    return 0;  // NUL, a continuation byte, or a byte never used
  }
  if (s.size() < length) return 0;
  for (std::size_t i = 1; i < length; ++i) {
    if ((byte(i) & 0xc0) != 0x80) return 0;
    code = (code << 6) | (byte(i) & 0x3f);
  }
  const bool overlong = (length == 3 && code < 0x800) || (length == 4 && code < 0x10000);
  const bool surrogate = code >= 0xd800 && code <= 0xdfff;
  if (overlong || surrogate || code > 0x10ffff) return 0;
  return length;
}

}  // namespace

std::string describe(const std::string& url) {
  char* error = nullptr;
  PQconninfoOption* options = PQconninfoParse(url.c_str(), &error);
  if (options == nullptr) {
    PQfreemem(error);
    return "(an unreadable connection URL)";
  }
  std::string host, port, database, user;
  for (PQconninfoOption* o = options; o->keyword != nullptr; ++o) {
    if (o->val == nullptr) continue;
    const std::string_view key = o->keyword;
    if (key == "host" || (key == "hostaddr" && host.empty())) host = o->val;
    if (key == "port") port = o->val;
    if (key == "dbname") database = o->val;
    if (key == "user") user = o->val;
  }
  PQconninfoFree(options);
  std::string out = host.empty() ? std::string("localhost") : host;
  if (!port.empty()) out.append(":").append(port);
  out.append("/").append(database.empty() ? std::string_view("(default database)") : std::string_view(database));
  if (!user.empty()) out.append(" as ").append(user);
  return out;
}

std::string clean_text(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  while (!text.empty()) {
    const std::size_t n = utf8_sequence(text);
    if (n == 0) {
      out += "\xef\xbf\xbd";  // U+FFFD REPLACEMENT CHARACTER
      text.remove_prefix(1);
    } else {
      out.append(text.substr(0, n));
      text.remove_prefix(n);
    }
  }
  return out;
}

params& params::add(std::optional<std::string> value, bool binary) {
  if (value) {
    values_.push_back(std::make_unique<std::string>(std::move(*value)));
    pointers_.push_back(values_.back()->data());
    lengths_.push_back(static_cast<int>(values_.back()->size()));
  } else {
    values_.push_back(nullptr);
    pointers_.push_back(nullptr);
    lengths_.push_back(0);
  }
  formats_.push_back(binary ? 1 : 0);
  return *this;
}

params& params::text(std::string_view value) { return add(clean_text(value), false); }
params& params::number(std::int64_t value) { return add(std::to_string(value), false); }
params& params::number(std::uint64_t value) { return add(std::to_string(value), false); }
params& params::real(double value) { return add(shortest(value), false); }
params& params::null() { return add(std::nullopt, false); }
params& params::bytes(std::string_view value) { return add(std::string(value), true); }

params& params::texts(const std::vector<std::string>& values) {
  std::string out = "{";
  for (const auto& v : values) {
    if (out.size() > 1) out.push_back(',');
    quoted_element(out, clean_text(v));
  }
  out.push_back('}');
  return add(std::move(out), false);
}

params& params::numbers(const std::vector<std::int64_t>& values) {
  std::string out = "{";
  for (const auto v : values) {
    if (out.size() > 1) out.push_back(',');
    out += std::to_string(v);
  }
  out.push_back('}');
  return add(std::move(out), false);
}

params& params::reals(const std::vector<double>& values) {
  std::string out = "{";
  for (const auto v : values) {
    if (out.size() > 1) out.push_back(',');
    out += shortest(v);
  }
  out.push_back('}');
  return add(std::move(out), false);
}

params& params::byte_strings(const std::vector<std::string>& values) {
  // Each element in bytea's hex form ("\x0a1b"), its backslash escaped for the array literal.
  std::string out = "{";
  for (const auto& v : values) {
    if (out.size() > 1) out.push_back(',');
    out += "\"\\\\x";
    for (const char c : v) {
      const auto b = static_cast<unsigned char>(c);
      out.push_back(hex_digits[b >> 4]);
      out.push_back(hex_digits[b & 0x0f]);
    }
    out.push_back('"');
  }
  out.push_back('}');
  return add(std::move(out), false);
}

std::string result::text(int row, int column) const {
  return std::string(PQgetvalue(r_.get(), row, column), static_cast<std::size_t>(PQgetlength(r_.get(), row, column)));
}

std::int64_t result::number(int row, int column) const {
  const char* value = PQgetvalue(r_.get(), row, column);
  const char* end = value + PQgetlength(r_.get(), row, column);
  std::int64_t out = 0;
  const auto [stop, ec] = std::from_chars(value, end, out);
  if (ec != std::errc{} || stop != end) throw std::runtime_error("PostgreSQL gave a number Vigil cannot read");
  return out;
}

std::optional<std::int64_t> result::optional_number(int row, int column) const {
  if (is_null(row, column)) return std::nullopt;
  return number(row, column);
}

double result::real(int row, int column) const {
  const std::string value = text(row, column);
  if (value == "NaN") return std::nan("");
  if (value == "Infinity") return HUGE_VAL;
  if (value == "-Infinity") return -HUGE_VAL;
  double out = 0;
  const auto [stop, ec] = std::from_chars(value.data(), value.data() + value.size(), out);
  if (ec != std::errc{} || stop != value.data() + value.size()) {
    throw std::runtime_error("PostgreSQL gave a number Vigil cannot read");
  }
  return out;
}

std::string result::bytes(int row, int column) const {
  std::size_t length = 0;
  unsigned char* raw =
      PQunescapeBytea(reinterpret_cast<const unsigned char*>(PQgetvalue(r_.get(), row, column)), &length);
  if (raw == nullptr) throw std::runtime_error("PostgreSQL gave bytes Vigil cannot read");
  std::string out(reinterpret_cast<const char*>(raw), length);
  PQfreemem(raw);
  return out;
}

std::uint64_t result::changed() const {
  const char* n = PQcmdTuples(r_.get());
  std::uint64_t out = 0;
  std::from_chars(n, n + std::char_traits<char>::length(n), out);
  return out;
}

connection::connection(const std::string& url)
    : where_(describe(url)), values_{"5", "5", "2", "2", "10000", "vigild", nullptr, nullptr}, url_(url) {
  values_[6] = url_.c_str();
  conn_ = PQconnectdbParams(keys_, values_.data(), /*expand_dbname=*/1);
  if (conn_ == nullptr) throw std::runtime_error("PostgreSQL " + where_ + ": out of memory");
  if (PQstatus(conn_) != CONNECTION_OK) {
    const std::string reason = one_line(PQerrorMessage(conn_));
    PQfinish(conn_);
    conn_ = nullptr;
    throw std::runtime_error("PostgreSQL " + where_ + ": cannot connect: " + reason);
  }
  PQsetNoticeProcessor(conn_, [](void*, const char*) {}, nullptr);  // "relation exists, skipping" and the like
}

connection::~connection() { PQfinish(conn_); }

bool connection::wait_for(int events, std::chrono::steady_clock::time_point deadline) {
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    pollfd fd{PQsocket(conn_), static_cast<short>(events), 0};
    const int n = poll(&fd, 1, static_cast<int>(std::min<std::int64_t>(left.count(), 1'000)));
    if (n > 0) return true;
    if (n < 0 && errno != EINTR) return true;  // let libpq find and report the socket's error
  }
}

PGresult* connection::run(const char* sql, const params& p, const std::string& what) {
  const auto deadline = std::chrono::steady_clock::now() + answer_limit_;
  const auto broken = [&](const std::string& why) {
    // An answer that does not come means a server that cannot be reached (stopped, frozen, cut
    // off): the connection is dropped, and usable() makes a new one.
    PQfinish(conn_);
    conn_ = nullptr;
    return std::runtime_error(what + ": " + why);
  };
  if (conn_ == nullptr) throw std::runtime_error(what + ": no connection to PostgreSQL " + where_);
  if (PQsendQueryParams(conn_, sql, p.size(), nullptr, p.values(), p.lengths(), p.formats(), 0) != 1) {
    throw broken(one_line(PQerrorMessage(conn_)));
  }
  for (int pending = PQflush(conn_); pending != 0; pending = PQflush(conn_)) {
    if (pending < 0) throw broken(one_line(PQerrorMessage(conn_)));
    if (!wait_for(POLLOUT | POLLIN, deadline)) throw broken("PostgreSQL " + where_ + " did not take the statement in time");
    if (PQconsumeInput(conn_) != 1) throw broken(one_line(PQerrorMessage(conn_)));
  }
  PGresult* last = nullptr;
  for (;;) {
    while (PQisBusy(conn_) != 0) {
      if (!wait_for(POLLIN, deadline)) {
        PQclear(last);
        const auto ms = answer_limit_.count();
        throw broken("PostgreSQL " + where_ + " did not answer within " +
                     (ms % 1000 == 0 ? std::to_string(ms / 1000) + " s" : std::to_string(ms) + " ms"));
      }
      if (PQconsumeInput(conn_) != 1) {
        PQclear(last);
        throw broken(one_line(PQerrorMessage(conn_)));
      }
    }
    PGresult* next = PQgetResult(conn_);
    if (next == nullptr) break;
    PQclear(last);
    last = next;
  }
  return last;
}

result connection::exec(const char* sql, const params& p, const std::string& what) {
  PGresult* raw = run(sql, p, what);
  const auto status = PQresultStatus(raw);
  if (raw != nullptr && (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK)) {
    return result(raw);
  }
  std::string reason = one_line(raw != nullptr ? PQresultErrorMessage(raw) : PQerrorMessage(conn_));
  PQclear(raw);
  if (reason.empty()) reason = one_line(PQerrorMessage(conn_));
  throw std::runtime_error(what + ": " + reason);
}

void connection::script(const char* sql, const std::string& what) {
  if (conn_ == nullptr) throw std::runtime_error(what + ": no connection to PostgreSQL " + where_);
  PGresult* raw = PQexec(conn_, sql);
  const auto status = PQresultStatus(raw);
  if (raw != nullptr && (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK)) {
    PQclear(raw);
    return;
  }
  const std::string reason = one_line(raw != nullptr ? PQresultErrorMessage(raw) : PQerrorMessage(conn_));
  PQclear(raw);
  throw std::runtime_error(what + ": " + reason);
}

bool connection::usable() {
  if (conn_ != nullptr && PQstatus(conn_) == CONNECTION_OK) return true;
  if (conn_ == nullptr) {
    conn_ = PQconnectdbParams(keys_, values_.data(), /*expand_dbname=*/1);
  } else {
    PQreset(conn_);
  }
  if (conn_ == nullptr || PQstatus(conn_) != CONNECTION_OK) return false;
  PQsetNoticeProcessor(conn_, [](void*, const char*) {}, nullptr);
  ++generation_;
  return true;
}

}  // namespace vigil::store::pg
