#include "daemon/store/sqlite_reader.hpp"

#include <algorithm>

#include "daemon/store/chunk.hpp"
#include "daemon/store/sqlite.hpp"
#include "daemon/store/sqlite_timeline.hpp"

namespace vigil::store {
namespace {

std::optional<engine::millis> optional_ms(sqlite3_stmt* st, int column) {
  if (sqlite3_column_type(st, column) == SQLITE_NULL) return std::nullopt;
  return sqlite3_column_int64(st, column);
}

constexpr const char* session_columns =
    "SELECT session_id, chair_id, patient_ref, profile, opened_by, opened_ms, dose_ms, window_end_ms, ready_ms, "
    "closed_ms, outcome FROM sessions ";

session_summary summary_of(sqlite3_stmt* st) {
  session_summary s;
  s.id = static_cast<std::uint64_t>(sqlite3_column_int64(st, 0));
  s.chair_id = sql::text(st, 1);
  s.patient_ref = sql::text(st, 2);
  s.profile = sql::text(st, 3);
  s.opened_by = sql::text(st, 4);
  s.opened_ms = sqlite3_column_int64(st, 5);
  s.dose_ms = optional_ms(st, 6);
  s.window_end_ms = optional_ms(st, 7);
  s.ready_ms = optional_ms(st, 8);
  s.closed_ms = optional_ms(st, 9);
  s.outcome = sql::text(st, 10);
  return s;
}

}  // namespace

sqlite_reader::sqlite_reader(const std::string& path)
    : path_(path), db_(sql::open(path, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX)) {
  const int version = sql::user_version(db_);
  const std::string problem = schema_problem(version, current_schema_version);
  if (!problem.empty()) {
    sqlite3_close(db_);
    throw std::runtime_error("timeline database '" + path + "' " + problem);
  }
}

sqlite_reader::~sqlite_reader() { sqlite3_close(db_); }

int sqlite_reader::schema_version() { return sql::user_version(db_); }

std::map<std::string, std::uint64_t> sqlite_reader::device_seqs() {
  sql::statement st(db_, "SELECT device_id, stored_seq FROM devices");
  std::map<std::string, std::uint64_t> out;
  while (sqlite3_step(st.get()) == SQLITE_ROW) {
    out[sql::text(st.get(), 0)] = static_cast<std::uint64_t>(sqlite3_column_int64(st.get(), 1));
  }
  return out;
}

std::vector<session_summary> sqlite_reader::sessions(std::size_t limit, bool open_only) {
  const std::string query = std::string(session_columns) + (open_only ? "WHERE closed_ms IS NULL " : "") +
                            "ORDER BY session_id DESC LIMIT ?";
  sql::statement st(db_, query.c_str());
  sql::bind(st.get(), 1, limit == 0 ? std::int64_t{-1} : static_cast<std::int64_t>(limit));
  std::vector<session_summary> out;
  while (sqlite3_step(st.get()) == SQLITE_ROW) out.push_back(summary_of(st.get()));
  return out;
}

std::optional<session_summary> sqlite_reader::session(std::uint64_t id) {
  const std::string query = std::string(session_columns) + "WHERE session_id = ?";
  sql::statement st(db_, query.c_str());
  sql::bind(st.get(), 1, id);
  if (sqlite3_step(st.get()) != SQLITE_ROW) return std::nullopt;
  return summary_of(st.get());
}

std::vector<stored_sample> sqlite_reader::session_vitals(std::uint64_t session) {
  sql::statement st(db_, "SELECT chair_id, kind, first_ms, data FROM vitals WHERE session_id = ? ORDER BY kind, first_ms, id");
  sql::bind(st.get(), 1, session);
  std::vector<stored_sample> out;
  std::vector<model::vital_sample> unpacked;
  while (sqlite3_step(st.get()) == SQLITE_ROW) {
    const std::string chair = sql::text(st.get(), 0);
    const auto kind = model::vital_kind_from_wire(sqlite3_column_int(st.get(), 1));
    unpacked.clear();
    if (!kind || !unpack_chunk(sql::blob(st.get(), 3), *kind, sqlite3_column_int64(st.get(), 2), unpacked)) {
      throw std::runtime_error("timeline database '" + path_ + "': a vitals chunk is corrupt");
    }
    for (const auto& s : unpacked) out.push_back({s, chair});
  }
  return out;
}

namespace {

constexpr const char* event_columns =
    "SELECT id, session_id, chair_id, at_ms, type, alarm_id, rule, kind, priority, from_phase, to_phase, who, "
    "responder, tier, value, until_ms, text FROM events ";

engine::event event_of(sqlite3_stmt* row) {
  engine::event e;
  e.id = static_cast<std::uint64_t>(sqlite3_column_int64(row, 0));
  e.session = static_cast<std::uint64_t>(sqlite3_column_int64(row, 1));
  e.chair = sql::text(row, 2);
  e.at = sqlite3_column_int64(row, 3);
  e.type = static_cast<engine::event_type>(sqlite3_column_int(row, 4));
  e.alarm = static_cast<std::uint64_t>(sqlite3_column_int64(row, 5));
  e.rule = sql::text(row, 6);
  e.kind = static_cast<engine::alarm_kind>(sqlite3_column_int(row, 7));
  e.level = static_cast<engine::priority>(sqlite3_column_int(row, 8));
  e.from = static_cast<engine::phase>(sqlite3_column_int(row, 9));
  e.to = static_cast<engine::phase>(sqlite3_column_int(row, 10));
  e.who = sql::text(row, 11);
  e.responder = sql::text(row, 12);
  e.tier = sqlite3_column_int(row, 13);
  e.value = sqlite3_column_double(row, 14);
  e.until = sqlite3_column_int64(row, 15);
  e.text = sql::text(row, 16);
  return e;
}

}  // namespace

std::vector<engine::event> sqlite_reader::session_events(std::uint64_t session) {
  const std::string query = std::string(event_columns) + "WHERE session_id = ? ORDER BY id";
  sql::statement st(db_, query.c_str());
  sql::bind(st.get(), 1, session);
  std::vector<engine::event> out;
  while (sqlite3_step(st.get()) == SQLITE_ROW) out.push_back(event_of(st.get()));
  if (!out.empty() && out.front().type == engine::event_type::session_opened) {
    if (auto s = this->session(session)) {
      out.front().patient_ref = s->patient_ref;
      out.front().profile = s->profile;
    }
  }
  return out;
}

std::vector<engine::event> sqlite_reader::events_after(std::uint64_t after, std::size_t limit) {
  const std::string query = std::string(event_columns) + "WHERE id > ? ORDER BY id LIMIT ?";
  sql::statement st(db_, query.c_str());
  sql::bind(st.get(), 1, after);
  sql::bind(st.get(), 2, static_cast<std::int64_t>(limit));
  std::vector<engine::event> out;
  while (sqlite3_step(st.get()) == SQLITE_ROW) out.push_back(event_of(st.get()));
  // session_opened carries its patient and profile from the sessions index.
  for (auto& e : out) {
    if (e.type != engine::event_type::session_opened) continue;
    if (auto s = session(e.session)) {
      e.patient_ref = s->patient_ref;
      e.profile = s->profile;
    }
  }
  return out;
}

std::size_t sqlite_reader::count_events(std::uint64_t after, std::uint64_t before, std::size_t cap) {
  sql::statement st(db_, "SELECT count(*) FROM (SELECT 1 FROM events WHERE id > ? AND id < ? LIMIT ?)");
  sql::bind(st.get(), 1, after);
  sql::bind(st.get(), 2, before);
  sql::bind(st.get(), 3, static_cast<std::int64_t>(cap));
  if (sqlite3_step(st.get()) != SQLITE_ROW) sql::fail(db_, "timeline database '" + path_ + "': counting events");
  return static_cast<std::size_t>(sqlite3_column_int64(st.get(), 0));
}

std::map<std::string, std::string> sqlite_reader::chair_bindings() {
  sql::statement st(db_, "SELECT chair_id, device_id FROM chair_bindings");
  std::map<std::string, std::string> out;
  while (sqlite3_step(st.get()) == SQLITE_ROW) out[sql::text(st.get(), 0)] = sql::text(st.get(), 1);
  return out;
}

std::vector<stored_checkpoint> sqlite_reader::checkpoints() {
  sql::statement st(db_, "SELECT chair_id, saved_ms, state FROM checkpoints ORDER BY chair_id");
  std::vector<stored_checkpoint> out;
  while (sqlite3_step(st.get()) == SQLITE_ROW) {
    out.push_back({sql::text(st.get(), 0), sqlite3_column_int64(st.get(), 1), std::string(sql::blob(st.get(), 2))});
  }
  return out;
}

id_floor sqlite_reader::ids() {
  sql::statement st(db_,
                    "SELECT max((SELECT coalesce(max(session_id), 0) FROM sessions), "
                    "(SELECT coalesce(max(session_id), 0) FROM events)), "
                    "(SELECT coalesce(max(alarm_id), 0) FROM events), (SELECT coalesce(max(id), 0) FROM events)");
  id_range stored;
  if (sqlite3_step(st.get()) == SQLITE_ROW) {
    stored = {static_cast<std::uint64_t>(sqlite3_column_int64(st.get(), 0)),
              static_cast<std::uint64_t>(sqlite3_column_int64(st.get(), 1)),
              static_cast<std::uint64_t>(sqlite3_column_int64(st.get(), 2))};
  }
  return floor_above(stored, reserved());
}

std::uint64_t sqlite_reader::last_event_id() {
  sql::statement st(db_, "SELECT coalesce(max(id), 0) FROM events");
  return sqlite3_step(st.get()) == SQLITE_ROW ? static_cast<std::uint64_t>(sqlite3_column_int64(st.get(), 0)) : 0;
}

id_range sqlite_reader::reserved() {
  sql::statement st(db_, "SELECT name, reserved_through FROM id_reservations");
  id_range out;
  while (sqlite3_step(st.get()) == SQLITE_ROW) {
    const std::string name = sql::text(st.get(), 0);
    const auto through = static_cast<std::uint64_t>(sqlite3_column_int64(st.get(), 1));
    if (name == "session") out.session = through;
    if (name == "alarm") out.alarm = through;
    if (name == "event") out.event = through;
  }
  return out;
}

}  // namespace vigil::store
