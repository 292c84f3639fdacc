#pragma once

// Small helpers over SQLite's C API shared by the timeline's writer and reader. Internal to
// vigil_store.

#include <sqlite3.h>

#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>

namespace vigil::store::sql {

[[noreturn]] inline void fail(sqlite3* db, const std::string& what) {
  throw std::runtime_error(what + ": " + (db ? sqlite3_errmsg(db) : "out of memory"));
}

inline void exec(sqlite3* db, const char* sql, const std::string& what) {
  char* error = nullptr;
  if (sqlite3_exec(db, sql, nullptr, nullptr, &error) != SQLITE_OK) {
    const std::string reason = error ? error : "unknown error";
    sqlite3_free(error);
    throw std::runtime_error(what + ": " + reason);
  }
}

inline int user_version(sqlite3* db) {
  sqlite3_stmt* stmt = nullptr;
  int version = -1;
  if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &stmt, nullptr) == SQLITE_OK && sqlite3_step(stmt) == SQLITE_ROW) {
    version = sqlite3_column_int(stmt, 0);
  }
  sqlite3_finalize(stmt);
  return version;
}

/// A prepared statement that finalizes itself.
class statement {
 public:
  statement(sqlite3* db, const char* sql) {
    if (sqlite3_prepare_v2(db, sql, -1, &stmt_, nullptr) != SQLITE_OK) fail(db, std::string("prepare ") + sql);
  }
  ~statement() { sqlite3_finalize(stmt_); }
  statement(const statement&) = delete;
  statement& operator=(const statement&) = delete;
  sqlite3_stmt* get() const { return stmt_; }

 private:
  sqlite3_stmt* stmt_ = nullptr;
};

/// Opens a database with a busy timeout; throws with the path and SQLite's reason.
inline sqlite3* open(const std::string& path, int flags) {
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(path.c_str(), &db, flags, nullptr) != SQLITE_OK) {
    const std::string reason = db ? sqlite3_errmsg(db) : "out of memory";
    sqlite3_close(db);
    throw std::runtime_error("cannot open timeline database '" + path + "': " + reason);
  }
  sqlite3_busy_timeout(db, 5000);
  return db;
}

inline std::string text(sqlite3_stmt* stmt, int column) {
  const auto* p = sqlite3_column_text(stmt, column);
  return p ? std::string(reinterpret_cast<const char*>(p), static_cast<std::size_t>(sqlite3_column_bytes(stmt, column)))
           : std::string();
}

inline std::string_view blob(sqlite3_stmt* stmt, int column) {
  const auto* p = static_cast<const char*>(sqlite3_column_blob(stmt, column));
  return p ? std::string_view(p, static_cast<std::size_t>(sqlite3_column_bytes(stmt, column))) : std::string_view();
}

inline void bind(sqlite3_stmt* st, int i, std::string_view text) {
  // An empty view may have no data pointer, which SQLite would take for NULL.
  sqlite3_bind_text(st, i, text.data() != nullptr ? text.data() : "", static_cast<int>(text.size()), SQLITE_STATIC);
}

inline void bind(sqlite3_stmt* st, int i, std::int64_t v) { sqlite3_bind_int64(st, i, v); }

inline void bind(sqlite3_stmt* st, int i, std::uint64_t v) { sqlite3_bind_int64(st, i, static_cast<sqlite3_int64>(v)); }

/// Runs a statement that returns no rows, then resets it for the next use.
inline void step_done(sqlite3* db, sqlite3_stmt* st, const char* what) {
  if (sqlite3_step(st) != SQLITE_DONE) fail(db, what);
  sqlite3_reset(st);
}

}  // namespace vigil::store::sql
