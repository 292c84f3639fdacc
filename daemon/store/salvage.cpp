#include "daemon/store/salvage.hpp"

#include "daemon/store/sqlite.hpp"
#include "daemon/store/sqlite_timeline.hpp"

#include <filesystem>
#include <optional>
#include <set>
#include <stdexcept>

namespace vigil::store {
namespace {

// The timeline's tables, and whether rows are keyed by a row id (then a damaged stretch can be
// stepped over by seeking past it).
struct table_kind {
  const char* name;
  bool rowid;
};
constexpr table_kind tables[] = {
    {"devices", false},  {"vitals", true},          {"events", true},          {"sessions", true},
    {"checkpoints", false}, {"device_resets", true}, {"id_reservations", false}, {"chair_bindings", false},
};

std::set<std::string> tables_in(sqlite3* db, const char* schema) {
  const std::string query = std::string("SELECT name FROM ") + schema + ".sqlite_schema WHERE type = 'table'";
  sql::statement st(db, query.c_str());
  std::set<std::string> out;
  int rc = 0;
  while ((rc = sqlite3_step(st.get())) == SQLITE_ROW) out.insert(sql::text(st.get(), 0));
  if (rc != SQLITE_DONE) sql::fail(db, "read the list of tables");
  return out;
}

std::vector<std::string> columns_of(sqlite3* db, const std::string& table) {
  const std::string query = "PRAGMA table_info(" + table + ")";
  sql::statement st(db, query.c_str());
  std::vector<std::string> out;
  while (sqlite3_step(st.get()) == SQLITE_ROW) out.push_back(sql::text(st.get(), 1));
  return out;
}

/// Copies rows of `table` from `from` onwards (row id order for rowid tables); returns the last
/// row id copied, or nullopt when reading stopped on a damaged page.
struct copy_result {
  bool finished = false;
  std::optional<std::int64_t> last_rowid;
};

copy_result copy_rows(sqlite3* from_db, const table_kind& t, const std::vector<std::string>& columns,
                      std::optional<std::int64_t> after, sqlite3_stmt* insert, salvaged_table& report) {
  std::string list;
  for (const auto& c : columns) list += (list.empty() ? "" : ", ") + c;
  std::string query = "SELECT " + list + (t.rowid ? ", rowid" : "") + " FROM " + t.name;
  if (t.rowid) query += after ? " WHERE rowid > ? ORDER BY rowid" : " ORDER BY rowid";
  sqlite3_stmt* select = nullptr;
  copy_result out;
  if (sqlite3_prepare_v2(from_db, query.c_str(), -1, &select, nullptr) != SQLITE_OK) return out;
  if (t.rowid && after) sqlite3_bind_int64(select, 1, *after);
  const int n = static_cast<int>(columns.size());
  int rc = 0;
  while ((rc = sqlite3_step(select)) == SQLITE_ROW) {
    for (int i = 0; i < n; ++i) sqlite3_bind_value(insert, i + 1, sqlite3_column_value(select, i));
    if (sqlite3_step(insert) == SQLITE_DONE) ++report.rows;
    sqlite3_reset(insert);
    if (t.rowid) out.last_rowid = sqlite3_column_int64(select, n);
  }
  out.finished = rc == SQLITE_DONE;
  sqlite3_finalize(select);
  return out;
}

}  // namespace

salvage_report salvage(const std::string& damaged, const std::string& out) {
  if (std::filesystem::exists(out)) throw std::runtime_error("'" + out + "' exists: salvage writes a new file");
  { sqlite_timeline fresh({out}); }  // the current schema, empty
  // The damaged file is opened read-only (nothing is written to it, not even a journal's
  // rollback); the new one is written.
  if (!std::filesystem::exists(damaged)) throw std::runtime_error("salvaging '" + damaged + "': no such file");
  sqlite3* src = sql::open(damaged, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX);
  sqlite3* db = nullptr;
  salvage_report report;
  try {
    db = sql::open(out, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX);
    const auto present = tables_in(src, "main");
    sql::exec(db, "BEGIN", "begin salvage");
    for (const auto& t : tables) {
      if (!present.contains(t.name)) continue;
      salvaged_table r;
      r.name = t.name;
      const auto columns = columns_of(db, t.name);
      std::string names, marks;
      for (const auto& c : columns) {
        names += (names.empty() ? "" : ", ") + c;
        marks += marks.empty() ? "?" : ", ?";
      }
      const std::string insert_sql = "INSERT OR IGNORE INTO " + std::string(t.name) + "(" + names + ") VALUES(" + marks + ")";
      sql::statement insert(db, insert_sql.c_str());
      auto result = copy_rows(src, t, columns, std::nullopt, insert.get(), r);
      if (!result.finished) r.whole = false;
      // Past a damaged page, seek further and further ahead by row id until rows come again.
      std::optional<std::int64_t> after = result.last_rowid.value_or(0);
      while (t.rowid && !result.finished) {
        bool resumed = false;
        for (std::int64_t jump = 1; jump > 0 && jump < (std::int64_t{1} << 40); jump *= 2) {
          const std::int64_t from = *after + jump;
          result = copy_rows(src, t, columns, from, insert.get(), r);
          if (result.last_rowid || result.finished) {
            ++r.skips;
            resumed = true;
            after = result.last_rowid.value_or(from);
            break;
          }
        }
        if (!resumed) break;
      }
      report.tables.push_back(std::move(r));
    }
    sql::exec(db, "COMMIT", "write the new timeline");
  } catch (const std::exception& e) {
    sqlite3_close(db);
    sqlite3_close(src);
    throw std::runtime_error("salvaging '" + damaged + "': " + e.what());
  }
  sqlite3_close(db);
  sqlite3_close(src);
  return report;
}

}  // namespace vigil::store
