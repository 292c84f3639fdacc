#pragma once

// Small helpers over libpq shared by the PostgreSQL timeline's writer and readers: a connection
// that says where it is without its password, statements with parameters (never SQL built from
// values), results read by column, and array parameters so that one statement writes many rows.
// Internal to vigil_store_postgres.

#include <libpq-fe.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace vigil::store::pg {

/// Where a connection URL leads, for people: "host:port/database as user", never its password.
/// Falls back to "(an unreadable connection URL)" rather than repeat a URL it cannot parse.
std::string describe(const std::string& url);

/// Text as PostgreSQL's text columns take it: valid UTF-8 with no NUL, each bad byte replaced by
/// U+FFFD. SQLite stores any bytes; PostgreSQL refuses the whole statement, so one bad note
/// would otherwise fail every transaction it rides in.
std::string clean_text(std::string_view text);

/// The parameters of one statement, sent apart from its SQL.
class params {
 public:
  params& text(std::string_view value);
  params& number(std::int64_t value);
  params& number(std::uint64_t value);
  params& number(int value) { return number(static_cast<std::int64_t>(value)); }
  params& real(double value);
  params& null();
  /// Bytes as they are (a bytea parameter, sent in binary).
  params& bytes(std::string_view value);
  /// Whole arrays, for `unnest($n::type[])`: one statement, many rows.
  params& texts(const std::vector<std::string>& values);
  params& numbers(const std::vector<std::int64_t>& values);
  params& reals(const std::vector<double>& values);
  params& byte_strings(const std::vector<std::string>& values);

  int size() const noexcept { return static_cast<int>(values_.size()); }
  const char* const* values() const noexcept { return pointers_.data(); }
  const int* lengths() const noexcept { return lengths_.data(); }
  const int* formats() const noexcept { return formats_.data(); }

 private:
  params& add(std::optional<std::string> value, bool binary);

  std::vector<std::unique_ptr<std::string>> values_;  // stable addresses for pointers_
  std::vector<const char*> pointers_;
  std::vector<int> lengths_;
  std::vector<int> formats_;
};

/// A statement's result, read by row and column (text format).
class result {
 public:
  explicit result(PGresult* r) : r_(r, &PQclear) {}
  int rows() const { return PQntuples(r_.get()); }
  bool is_null(int row, int column) const { return PQgetisnull(r_.get(), row, column) != 0; }
  std::string text(int row, int column) const;
  std::int64_t number(int row, int column) const;
  std::optional<std::int64_t> optional_number(int row, int column) const;
  double real(int row, int column) const;
  /// A bytea column's bytes.
  std::string bytes(int row, int column) const;
  /// Rows a command changed (DELETE, UPDATE, INSERT).
  std::uint64_t changed() const;

 private:
  std::unique_ptr<PGresult, void (*)(PGresult*)> r_;
};

/// One connection. Failures throw std::runtime_error: "<what>: <PostgreSQL's reason>".
class connection {
 public:
  /// A statement with no answer after this long means a server that cannot be reached (stopped,
  /// frozen, cut off without a reset): the connection is dropped and the statement fails.
  static constexpr std::chrono::milliseconds answer_timeout{10'000};

  /// Connects; throws with describe(url) and the reason when it cannot.
  explicit connection(const std::string& url);
  ~connection();
  connection(const connection&) = delete;
  connection& operator=(const connection&) = delete;

  /// Runs one statement; throws unless it succeeded.
  result exec(const char* sql, const params& p, const std::string& what);
  result exec(const char* sql, const std::string& what) { return exec(sql, params{}, what); }
  /// Runs several statements with no parameters (a migration step); throws unless all succeeded.
  void script(const char* sql, const std::string& what);
  /// Whether the connection is up; when it is not (broken, or dropped after a statement went
  /// unanswered), tries once to make a new one.
  bool usable();
  /// Counts the connections made: 1 after the constructor, one more each time usable() made a
  /// new one (what a session held, its advisory locks and settings, is gone then).
  std::uint64_t generation() const noexcept { return generation_; }
  const std::string& where() const noexcept { return where_; }
  /// How long a statement may go unanswered on this connection (answer_timeout by default): the
  /// cluster's lease keeper waits no longer than a fraction of a lease.
  void answer_within(std::chrono::milliseconds limit) noexcept { answer_limit_ = limit; }

 private:
  PGresult* run(const char* sql, const params& p, const std::string& what);
  bool wait_for(int events, std::chrono::steady_clock::time_point deadline);

  // Defaults first; the URL's own settings override them. A stopped or unreachable server is
  // noticed in seconds, not after the kernel's TCP timeouts.
  static constexpr const char* keys_[] = {"connect_timeout", "keepalives_idle", "keepalives_interval",
                                          "keepalives_count", "tcp_user_timeout", "application_name",
                                          "dbname", nullptr};
  PGconn* conn_ = nullptr;
  std::string where_;
  std::array<const char*, 8> values_;
  std::string url_;
  std::uint64_t generation_ = 1;
  std::chrono::milliseconds answer_limit_ = answer_timeout;
};

}  // namespace vigil::store::pg
