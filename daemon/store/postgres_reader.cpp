#include "daemon/store/chunk.hpp"
#include "daemon/store/postgres.hpp"
#include "daemon/store/postgres_timeline.hpp"

#include <algorithm>
#include <stdexcept>

namespace vigil::store {
namespace {

constexpr const char* session_columns =
    "SELECT session_id, chair_id, patient_ref, profile, opened_by, opened_ms, dose_ms, window_end_ms, ready_ms, "
    "closed_ms, outcome FROM sessions ";

session_summary summary_of(const pg::result& r, int row) {
  session_summary s;
  s.id = static_cast<std::uint64_t>(r.number(row, 0));
  s.chair_id = r.text(row, 1);
  s.patient_ref = r.text(row, 2);
  s.profile = r.text(row, 3);
  s.opened_by = r.text(row, 4);
  s.opened_ms = r.number(row, 5);
  s.dose_ms = r.optional_number(row, 6);
  s.window_end_ms = r.optional_number(row, 7);
  s.ready_ms = r.optional_number(row, 8);
  s.closed_ms = r.optional_number(row, 9);
  s.outcome = r.text(row, 10);
  return s;
}

constexpr const char* event_columns =
    "SELECT id, session_id, chair_id, at_ms, type, alarm_id, rule, kind, priority, from_phase, to_phase, who, "
    "responder, tier, value, until_ms, text FROM events ";

engine::event event_of(const pg::result& r, int row) {
  engine::event e;
  e.id = static_cast<std::uint64_t>(r.number(row, 0));
  e.session = static_cast<std::uint64_t>(r.number(row, 1));
  e.chair = r.text(row, 2);
  e.at = r.number(row, 3);
  e.type = static_cast<engine::event_type>(r.number(row, 4));
  e.alarm = static_cast<std::uint64_t>(r.number(row, 5));
  e.rule = r.text(row, 6);
  e.kind = static_cast<engine::alarm_kind>(r.number(row, 7));
  e.level = static_cast<engine::priority>(r.number(row, 8));
  e.from = static_cast<engine::phase>(r.number(row, 9));
  e.to = static_cast<engine::phase>(r.number(row, 10));
  e.who = r.text(row, 11);
  e.responder = r.text(row, 12);
  e.tier = static_cast<int>(r.number(row, 13));
  e.value = r.real(row, 14);
  e.until = r.number(row, 15);
  e.text = r.text(row, 16);
  return e;
}

}  // namespace

postgres_reader::postgres_reader(const std::string& url) : db_(std::make_unique<pg::connection>(url)) {
  const std::string name = "timeline database " + db_->where();
  db_->exec("SET default_transaction_read_only = on", name + ": make the connection read-only");
  int version = 0;
  try {
    version = schema_version();
  } catch (const std::exception& e) {
    throw std::runtime_error(name + ": " + e.what());
  }
  const std::string problem = schema_problem(version, postgres_schema_version);
  if (!problem.empty()) throw std::runtime_error(name + " " + problem);
}

postgres_reader::~postgres_reader() = default;

int postgres_reader::schema_version() {
  const auto exists = db_->exec("SELECT to_regclass('vigil_schema') IS NOT NULL", "read the schema version");
  if (exists.text(0, 0) != "t") return 0;
  return static_cast<int>(
      db_->exec("SELECT coalesce(max(version), 0) FROM vigil_schema", "read the schema version").number(0, 0));
}

std::map<std::string, std::uint64_t> postgres_reader::device_seqs() {
  const auto r = db_->exec("SELECT device_id, stored_seq FROM devices", "read device seqs");
  std::map<std::string, std::uint64_t> out;
  for (int i = 0; i < r.rows(); ++i) out[r.text(i, 0)] = static_cast<std::uint64_t>(r.number(i, 1));
  return out;
}

std::vector<session_summary> postgres_reader::sessions(std::size_t limit, bool open_only) {
  const std::string query = std::string(session_columns) + (open_only ? "WHERE closed_ms IS NULL " : "") +
                            "ORDER BY session_id DESC LIMIT $1";
  pg::params p;
  if (limit == 0) {
    p.null();  // LIMIT NULL: all
  } else {
    p.number(static_cast<std::uint64_t>(limit));
  }
  const auto r = db_->exec(query.c_str(), p, "read sessions");
  std::vector<session_summary> out;
  for (int i = 0; i < r.rows(); ++i) out.push_back(summary_of(r, i));
  return out;
}

std::optional<session_summary> postgres_reader::session(std::uint64_t id) {
  const std::string query = std::string(session_columns) + "WHERE session_id = $1";
  const auto r = db_->exec(query.c_str(), pg::params{}.number(id), "read a session");
  if (r.rows() == 0) return std::nullopt;
  return summary_of(r, 0);
}

std::vector<stored_sample> postgres_reader::session_vitals(std::uint64_t session) {
  const auto r = db_->exec("SELECT chair_id, kind, first_ms, data FROM vitals WHERE session_id = $1 "
                           "ORDER BY kind, first_ms, id",
                           pg::params{}.number(session), "read a session's vitals");
  std::vector<stored_sample> out;
  std::vector<model::vital_sample> unpacked;
  for (int i = 0; i < r.rows(); ++i) {
    const std::string chair = r.text(i, 0);
    const auto kind = model::vital_kind_from_wire(static_cast<int>(r.number(i, 1)));
    unpacked.clear();
    if (!kind || !unpack_chunk(r.bytes(i, 3), *kind, r.number(i, 2), unpacked)) {
      throw std::runtime_error("timeline database " + db_->where() + ": a vitals chunk is corrupt");
    }
    for (const auto& s : unpacked) out.push_back({s, chair});
  }
  return out;
}

void postgres_reader::add_session_details(std::vector<engine::event>& events) {
  // session_opened carries its patient and profile from the sessions index.
  for (auto& e : events) {
    if (e.type != engine::event_type::session_opened) continue;
    if (auto s = session(e.session)) {
      e.patient_ref = s->patient_ref;
      e.profile = s->profile;
    }
  }
}

std::vector<engine::event> postgres_reader::session_events(std::uint64_t session) {
  const std::string query = std::string(event_columns) + "WHERE session_id = $1 ORDER BY id";
  const auto r = db_->exec(query.c_str(), pg::params{}.number(session), "read a session's events");
  std::vector<engine::event> out;
  for (int i = 0; i < r.rows(); ++i) out.push_back(event_of(r, i));
  if (!out.empty() && out.front().type == engine::event_type::session_opened) {
    std::vector<engine::event> first{out.front()};
    add_session_details(first);
    out.front() = std::move(first.front());
  }
  return out;
}

std::vector<engine::event> postgres_reader::events_after(std::uint64_t after, std::size_t limit) {
  const std::string query = std::string(event_columns) + "WHERE id > $1 ORDER BY id LIMIT $2";
  const auto r = db_->exec(query.c_str(), pg::params{}.number(after).number(static_cast<std::uint64_t>(limit)),
                           "read events");
  std::vector<engine::event> out;
  for (int i = 0; i < r.rows(); ++i) out.push_back(event_of(r, i));
  add_session_details(out);
  return out;
}

std::size_t postgres_reader::count_events(std::uint64_t after, std::uint64_t before, std::size_t cap) {
  const auto r = db_->exec("SELECT count(*) FROM (SELECT 1 FROM events WHERE id > $1 AND id < $2 LIMIT $3) AS c",
                           pg::params{}.number(after).number(before).number(static_cast<std::uint64_t>(cap)),
                           "count events");
  return static_cast<std::size_t>(r.number(0, 0));
}

std::map<std::string, std::string> postgres_reader::chair_bindings() {
  const auto r = db_->exec("SELECT chair_id, device_id FROM chair_bindings", "read chair bindings");
  std::map<std::string, std::string> out;
  for (int i = 0; i < r.rows(); ++i) out[r.text(i, 0)] = r.text(i, 1);
  return out;
}

std::vector<stored_checkpoint> postgres_reader::checkpoints() {
  const auto r = db_->exec("SELECT chair_id, saved_ms, state FROM checkpoints ORDER BY chair_id", "read checkpoints");
  std::vector<stored_checkpoint> out;
  for (int i = 0; i < r.rows(); ++i) out.push_back({r.text(i, 0), r.number(i, 1), r.bytes(i, 2)});
  return out;
}

id_floor postgres_reader::ids() {
  const auto r = db_->exec(
      "SELECT greatest((SELECT coalesce(max(session_id), 0) FROM sessions), "
      "(SELECT coalesce(max(session_id), 0) FROM events)), "
      "(SELECT coalesce(max(alarm_id), 0) FROM events), (SELECT coalesce(max(id), 0) FROM events)",
      "read the id floor");
  const id_range stored{static_cast<std::uint64_t>(r.number(0, 0)), static_cast<std::uint64_t>(r.number(0, 1)),
                        static_cast<std::uint64_t>(r.number(0, 2))};
  return floor_above(stored, reserved());
}

std::uint64_t postgres_reader::last_event_id() {
  return static_cast<std::uint64_t>(
      db_->exec("SELECT coalesce(max(id), 0) FROM events", "read the last event id").number(0, 0));
}

id_range postgres_reader::reserved() {
  const auto r = db_->exec("SELECT name, reserved_through FROM id_reservations", "read reserved ids");
  id_range out;
  for (int i = 0; i < r.rows(); ++i) {
    const std::string name = r.text(i, 0);
    const auto through = static_cast<std::uint64_t>(r.number(i, 1));
    if (name == "session") out.session = through;
    if (name == "alarm") out.alarm = through;
    if (name == "event") out.event = through;
  }
  return out;
}

}  // namespace vigil::store
