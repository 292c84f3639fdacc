#include "daemon/store/sqlite_timeline.hpp"

#include "daemon/store/chunk.hpp"
#include "daemon/store/sqlite.hpp"

#include <algorithm>
#include <stdexcept>
#include <tuple>

namespace vigil::store {
namespace {

// Each entry takes the schema from version i to i + 1. Never edit a shipped step: add one.
constexpr const char* migrations[] = {
    // 0 -> 1: the first schema.
    R"sql(
      CREATE TABLE devices(
        device_id  TEXT PRIMARY KEY,
        chair_id   TEXT NOT NULL,
        stored_seq INTEGER NOT NULL
      ) WITHOUT ROWID;
      CREATE TABLE vitals(
        id         INTEGER PRIMARY KEY,
        session_id INTEGER NOT NULL,  -- 0: the chair had no open session
        chair_id   TEXT NOT NULL,
        kind       INTEGER NOT NULL,
        first_ms   INTEGER NOT NULL,
        last_ms    INTEGER NOT NULL,
        count      INTEGER NOT NULL,
        data       BLOB NOT NULL
      );
      CREATE INDEX vitals_by_session ON vitals(session_id, kind, first_ms);
      CREATE INDEX vitals_by_chair ON vitals(chair_id, first_ms);
      CREATE TABLE events(
        id         INTEGER PRIMARY KEY,
        session_id INTEGER NOT NULL,
        chair_id   TEXT NOT NULL,
        at_ms      INTEGER NOT NULL,
        type       INTEGER NOT NULL,
        alarm_id   INTEGER NOT NULL,
        rule       TEXT NOT NULL,
        kind       INTEGER NOT NULL,
        priority   INTEGER NOT NULL,
        from_phase INTEGER NOT NULL,
        to_phase   INTEGER NOT NULL,
        who        TEXT NOT NULL,
        responder  TEXT NOT NULL,
        tier       INTEGER NOT NULL,
        value      REAL NOT NULL,
        until_ms   INTEGER NOT NULL,
        text       TEXT NOT NULL
      );
      CREATE INDEX events_by_session ON events(session_id, id);
    )sql",
    // 1 -> 2: an index of sessions (filled from the events already stored), and the engine
    // checkpoints a restart resumes from.
    R"sql(
      CREATE TABLE sessions(
        session_id    INTEGER PRIMARY KEY,
        chair_id      TEXT NOT NULL,
        patient_ref   TEXT NOT NULL,
        profile       TEXT NOT NULL,
        opened_by     TEXT NOT NULL,
        opened_ms     INTEGER NOT NULL,
        dose_ms       INTEGER,
        window_end_ms INTEGER,
        ready_ms      INTEGER,
        closed_ms     INTEGER,
        outcome       TEXT NOT NULL DEFAULT 'open'
      );
      CREATE INDEX sessions_by_close ON sessions(closed_ms);
      INSERT INTO sessions(session_id, chair_id, patient_ref, profile, opened_by, opened_ms)
        SELECT session_id, chair_id,
               CASE WHEN text LIKE 'patient % with profile %'
                    THEN substr(text, 9, instr(text, ' with profile ') - 9) ELSE '' END,
               CASE WHEN instr(text, ' with profile ') > 0
                    THEN substr(text, instr(text, ' with profile ') + 14) ELSE '' END,
               who, at_ms
        FROM events WHERE type = 1;
      UPDATE sessions SET dose_ms = (SELECT min(at_ms) FROM events e
                                     WHERE e.session_id = sessions.session_id AND e.type = 5);
      UPDATE sessions SET ready_ms = (SELECT min(at_ms) FROM events e
                                      WHERE e.session_id = sessions.session_id AND e.type = 2 AND e.to_phase = 3);
      UPDATE sessions SET closed_ms = (SELECT max(at_ms) FROM events e
                                       WHERE e.session_id = sessions.session_id AND e.type = 2 AND e.to_phase IN (4, 5));
      UPDATE sessions SET outcome = CASE WHEN EXISTS (SELECT 1 FROM events e WHERE e.session_id = sessions.session_id
                                                      AND e.type = 2 AND e.to_phase = 5) THEN 'aborted' ELSE 'closed' END
        WHERE closed_ms IS NOT NULL;
      CREATE TABLE checkpoints(
        chair_id TEXT PRIMARY KEY,
        saved_ms INTEGER NOT NULL,
        state    BLOB NOT NULL
      ) WITHOUT ROWID;
    )sql",
    // 2 -> 3: operators' resets of devices' sequence numbers; the id ranges handed out (ids up to
    // reserved_through may have reached someone before a crash, so none is given again); and
    // which device with no configured chair serves which chair.
    R"sql(
      CREATE TABLE device_resets(
        id           INTEGER PRIMARY KEY,
        device_id    TEXT NOT NULL,
        reset_ms     INTEGER NOT NULL,
        who          TEXT NOT NULL,
        reason       TEXT NOT NULL,
        previous_seq INTEGER NOT NULL
      );
      CREATE TABLE id_reservations(
        name             TEXT PRIMARY KEY,
        reserved_through INTEGER NOT NULL
      ) WITHOUT ROWID;
      CREATE TABLE chair_bindings(
        chair_id  TEXT PRIMARY KEY,
        device_id TEXT NOT NULL,
        bound_ms  INTEGER NOT NULL
      ) WITHOUT ROWID;
    )sql",
};
static_assert(std::size(migrations) == current_schema_version, "one migration per schema version");

using sql::exec;
using sql::statement;

}  // namespace

namespace {

/// What PRAGMA quick_check finds wrong with the file: empty when it is sound. It reads every
/// page, so damage behind an intact header is found before the daemon relies on the file.
bool is_damage(int code) { return (code & 0xff) == SQLITE_CORRUPT || (code & 0xff) == SQLITE_NOTADB; }

std::vector<std::string> damage(sqlite3* db) {
  constexpr int max_reported = 5;
  std::vector<std::string> problems;
  // A check that cannot run for another reason (the write-ahead log cannot be opened, the disk
  // cannot be read) says nothing about the pages: that is an error of its own, not damage.
  const auto failed = [&](const char* what) {
    if (is_damage(sqlite3_extended_errcode(db))) {
      problems.emplace_back(sqlite3_errmsg(db));
    } else {
      sql::fail(db, what);
    }
  };
  sqlite3_stmt* st = nullptr;
  if (sqlite3_prepare_v2(db, "PRAGMA quick_check(5)", -1, &st, nullptr) != SQLITE_OK) {
    failed("check the file's pages");
    return problems;
  }
  int rc = 0;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    std::string line = sql::text(st, 0);
    if (line != "ok" && static_cast<int>(problems.size()) < max_reported) problems.push_back(std::move(line));
  }
  sqlite3_finalize(st);
  if (rc != SQLITE_DONE) failed("check the file's pages");
  return problems;
}

}  // namespace

std::string damaged_timeline_advice(const std::string& path) {
  return "vigild does not start on a damaged timeline. With vigild stopped, set the file aside (mv " + path + " " +
         path + ".damaged, and the same for its -wal and -shm files if present) and start vigild again: it starts "
         "a new timeline, monitors resend what was not yet acked, and open sessions must be opened again. Copy what "
         "can still be read of the old record with: vigilctl salvage " + path + ".damaged -o salvaged.db (then "
         "vigilctl list --db salvaged.db). See docs/storage.md, \"A damaged timeline\".";
}

sqlite_timeline::sqlite_timeline(options opts) : group_writer(opts.max_group_items), opts_(std::move(opts)) {
  db_ = sql::open(opts_.path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX);
  try {
    if (const auto problems = damage(db_); !problems.empty()) {
      std::string list;
      for (const auto& p : problems) list += (list.empty() ? "" : "; ") + p;
      throw std::runtime_error("timeline database '" + opts_.path + "' is damaged (" + list + "). " +
                               damaged_timeline_advice(opts_.path));
    }
    exec(db_, "PRAGMA journal_mode=WAL", "enable WAL");
    exec(db_, opts_.full_sync ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL", "set synchronous");
    exec(db_, "PRAGMA foreign_keys=ON", "enable foreign keys");
    const int version = sql::user_version(db_);
    if (version > current_schema_version) {
      throw std::runtime_error("timeline database '" + opts_.path + "' has schema version " + std::to_string(version) +
                               ", newer than this vigild understands (" + std::to_string(current_schema_version) + ")");
    }
    for (int v = version; v < current_schema_version; ++v) {
      exec(db_, "BEGIN IMMEDIATE", "begin migration");
      exec(db_, migrations[v], "migrate schema to version " + std::to_string(v + 1));
      exec(db_, ("PRAGMA user_version=" + std::to_string(v + 1)).c_str(), "record schema version");
      exec(db_, "COMMIT", "commit migration");
    }
  } catch (const std::exception& e) {
    sqlite3_close(db_);
    // Every start-up failure names the file: "enable WAL: unable to open database file" alone
    // does not say which.
    const std::string what = e.what();
    if (what.rfind("timeline database '", 0) == 0) throw;
    throw std::runtime_error("timeline database '" + opts_.path + "': " + what);
  }
  start();
}

sqlite_timeline::~sqlite_timeline() {
  stop();
  sqlite3_close(db_);
}

void sqlite_timeline::write_state(const std::vector<item>& group) {
  statement event(db_,
                  "INSERT INTO events(session_id, chair_id, at_ms, type, alarm_id, rule, kind, priority, from_phase, "
                  "to_phase, who, responder, tier, value, until_ms, text, id) "
                  "VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
  statement opened(db_,
                   "INSERT INTO sessions(session_id, chair_id, patient_ref, profile, opened_by, opened_ms) "
                   "VALUES(?, ?, ?, ?, ?, ?) ON CONFLICT(session_id) DO NOTHING");
  statement dosed(db_, "UPDATE sessions SET dose_ms = coalesce(dose_ms, ?1), window_end_ms = ?2 WHERE session_id = ?3");
  statement ready(db_, "UPDATE sessions SET ready_ms = coalesce(ready_ms, ?1) WHERE session_id = ?2");
  statement closed(db_, "UPDATE sessions SET closed_ms = ?1, outcome = ?2 WHERE session_id = ?3");
  statement checkpoint(db_,
                       "INSERT INTO checkpoints(chair_id, saved_ms, state) VALUES(?, ?, ?) "
                       "ON CONFLICT(chair_id) DO UPDATE SET saved_ms = excluded.saved_ms, state = excluded.state");

  // Only the latest checkpoint of each chair in the group is written.
  std::map<std::string_view, const stored_checkpoint*> latest;
  for (const auto& it : group) {
    if (it.type != item::what::state) continue;
    for (const auto& c : it.state.checkpoints) latest[c.chair_id] = &c;
    for (const auto& e : it.state.events) {
      sqlite3_stmt* st = event.get();
      sql::bind(st, 1, e.session);
      sql::bind(st, 2, e.chair);
      sql::bind(st, 3, e.at);
      sqlite3_bind_int(st, 4, static_cast<int>(e.type));
      sql::bind(st, 5, e.alarm);
      sql::bind(st, 6, e.rule);
      sqlite3_bind_int(st, 7, static_cast<int>(e.kind));
      sqlite3_bind_int(st, 8, static_cast<int>(e.level));
      sqlite3_bind_int(st, 9, static_cast<int>(e.from));
      sqlite3_bind_int(st, 10, static_cast<int>(e.to));
      sql::bind(st, 11, e.who);
      sql::bind(st, 12, e.responder);
      sqlite3_bind_int(st, 13, e.tier);
      sqlite3_bind_double(st, 14, e.value);
      sql::bind(st, 15, e.until);
      sql::bind(st, 16, e.text);
      // The daemon's event id; events appended without one get the next row id.
      if (e.id != 0) {
        sql::bind(st, 17, e.id);
      } else {
        sqlite3_bind_null(st, 17);
      }
      sql::step_done(db_, st, "insert event");
      using engine::event_type;
      if (e.type == event_type::session_opened) {
        st = opened.get();
        sql::bind(st, 1, e.session);
        sql::bind(st, 2, e.chair);
        sql::bind(st, 3, e.patient_ref);
        sql::bind(st, 4, e.profile);
        sql::bind(st, 5, e.who);
        sql::bind(st, 6, e.at);
        sql::step_done(db_, st, "index session");
      } else if (e.type == event_type::dose_marked) {
        st = dosed.get();
        sql::bind(st, 1, e.at);
        sql::bind(st, 2, e.until);
        sql::bind(st, 3, e.session);
        sql::step_done(db_, st, "index dose");
      } else if (e.type == event_type::phase_changed && e.to == engine::phase::ready) {
        st = ready.get();
        sql::bind(st, 1, e.at);
        sql::bind(st, 2, e.session);
        sql::step_done(db_, st, "index readiness");
      } else if (e.type == event_type::phase_changed &&
                 (e.to == engine::phase::closed || e.to == engine::phase::aborted)) {
        st = closed.get();
        sql::bind(st, 1, e.at);
        sql::bind(st, 2, std::string_view(e.to == engine::phase::aborted ? "aborted" : "closed"));
        sql::bind(st, 3, e.session);
        sql::step_done(db_, st, "index close");
      }
    }
  }
  for (const auto& [chair, c] : latest) {
    sqlite3_stmt* st = checkpoint.get();
    sql::bind(st, 1, c->chair_id);
    sql::bind(st, 2, c->saved_ms);
    sqlite3_bind_blob(st, 3, c->state.data(), static_cast<int>(c->state.size()), SQLITE_STATIC);
    sql::step_done(db_, st, "store checkpoint");
  }
}

void sqlite_timeline::write_devices(const std::vector<item>& group) {
  // In queue order: a reset sets the device's stored seq back to 0, and only batches queued
  // after it count from there.
  struct seen {
    std::string_view chair;
    std::uint64_t seq = 0;
    bool reset = false;
  };
  std::map<std::string_view, seen> devices;
  for (const auto& it : group) {
    if (it.type == item::what::batch && !it.batch.fenced) {
      auto& d = devices[it.batch.device_id];
      d.chair = it.batch.chair_id;
      d.seq = std::max(d.seq, it.batch.seq);
    } else if (it.type == item::what::reset) {
      auto& d = devices[it.reset.device_id];
      d.seq = 0;
      d.reset = true;
    }
  }
  statement grow(db_,
                 "INSERT INTO devices(device_id, chair_id, stored_seq) VALUES(?1, ?2, ?3) "
                 "ON CONFLICT(device_id) DO UPDATE SET chair_id = excluded.chair_id, "
                 "stored_seq = max(stored_seq, excluded.stored_seq)");
  statement set(db_,
                "INSERT INTO devices(device_id, chair_id, stored_seq) VALUES(?1, ?2, ?3) "
                "ON CONFLICT(device_id) DO UPDATE SET chair_id = CASE WHEN ?2 = '' THEN chair_id ELSE ?2 END, "
                "stored_seq = excluded.stored_seq");
  for (const auto& [id, d] : devices) {
    sqlite3_stmt* st = d.reset ? set.get() : grow.get();
    sql::bind(st, 1, id);
    sql::bind(st, 2, d.chair);
    sql::bind(st, 3, d.seq);
    sql::step_done(db_, st, "record device seq");
  }
  statement record(db_,
                   "INSERT INTO device_resets(device_id, reset_ms, who, reason, previous_seq) VALUES(?, ?, ?, ?, ?)");
  for (const auto& it : group) {
    if (it.type != item::what::reset) continue;
    sqlite3_stmt* st = record.get();
    sql::bind(st, 1, it.reset.device_id);
    sql::bind(st, 2, it.reset.at_ms);
    sql::bind(st, 3, it.reset.who);
    sql::bind(st, 4, it.reset.reason);
    sql::bind(st, 5, it.reset.previous_seq);
    sql::step_done(db_, st, "record device reset");
  }
}

void sqlite_timeline::write_bindings(const std::vector<item>& group) {
  statement bind(db_,
                 "INSERT INTO chair_bindings(chair_id, device_id, bound_ms) VALUES(?, ?, ?) "
                 "ON CONFLICT(chair_id) DO UPDATE SET device_id = excluded.device_id, bound_ms = excluded.bound_ms");
  statement leave(db_, "DELETE FROM chair_bindings WHERE device_id = ? AND chair_id <> ?");
  for (const auto& it : group) {
    if (it.type != item::what::binding) continue;
    // A device serves one chair: binding it to one leaves the others.
    sql::bind(leave.get(), 1, it.binding.device_id);
    sql::bind(leave.get(), 2, it.binding.chair_id);
    sql::step_done(db_, leave.get(), "move chair binding");
    sql::bind(bind.get(), 1, it.binding.chair_id);
    sql::bind(bind.get(), 2, it.binding.device_id);
    sql::bind(bind.get(), 3, it.binding.at_ms);
    sql::step_done(db_, bind.get(), "record chair binding");
  }
}

void sqlite_timeline::write_reservations(const std::vector<item>& group) {
  statement grow(db_,
                 "INSERT INTO id_reservations(name, reserved_through) VALUES(?1, ?2) "
                 "ON CONFLICT(name) DO UPDATE SET reserved_through = max(reserved_through, excluded.reserved_through)");
  statement set(db_,
                "INSERT INTO id_reservations(name, reserved_through) VALUES(?1, ?2) "
                "ON CONFLICT(name) DO UPDATE SET reserved_through = excluded.reserved_through");
  for (const auto& it : group) {
    if (it.type != item::what::reservation) continue;
    sqlite3_stmt* st = it.exact ? set.get() : grow.get();
    for (const auto& [name, through] : {std::pair<std::string_view, std::uint64_t>{"session", it.ids.session},
                                        {"alarm", it.ids.alarm},
                                        {"event", it.ids.event}}) {
      sql::bind(st, 1, name);
      sql::bind(st, 2, through);
      sql::step_done(db_, st, "reserve ids");
    }
  }
}

std::size_t sqlite_timeline::remove_closed(engine::millis cutoff) {
  statement expired(db_, "CREATE TEMP TABLE IF NOT EXISTS expired(session_id INTEGER PRIMARY KEY)");
  sql::step_done(db_, expired.get(), "prepare retention");
  exec(db_, "DELETE FROM temp.expired", "prepare retention");
  statement pick(db_, "INSERT INTO temp.expired SELECT session_id FROM sessions WHERE closed_ms < ?");
  sql::bind(pick.get(), 1, cutoff);
  sql::step_done(db_, pick.get(), "select expired sessions");
  const auto sessions = static_cast<std::size_t>(sqlite3_changes(db_));
  exec(db_, "DELETE FROM vitals WHERE session_id IN (SELECT session_id FROM temp.expired)", "remove vitals");
  exec(db_, "DELETE FROM events WHERE session_id IN (SELECT session_id FROM temp.expired)", "remove events");
  exec(db_, "DELETE FROM sessions WHERE session_id IN (SELECT session_id FROM temp.expired)", "remove sessions");
  // Vitals and advisories of chairs streaming with no session age out the same way.
  statement loose(db_, "DELETE FROM vitals WHERE session_id = 0 AND last_ms < ?");
  sql::bind(loose.get(), 1, cutoff);
  sql::step_done(db_, loose.get(), "remove vitals outside sessions");
  statement loose_events(db_, "DELETE FROM events WHERE session_id = 0 AND at_ms < ?");
  sql::bind(loose_events.get(), 1, cutoff);
  sql::step_done(db_, loose_events.get(), "remove events outside sessions");
  return sessions;
}

bool sqlite_timeline::write_group(std::vector<item>& group, std::string& error) {
  if (damaged_) {
    error = damage_;
    return false;
  }
  try {
    exec(db_, "BEGIN IMMEDIATE", "begin");
    statement chunk(db_,
                    "INSERT INTO vitals(session_id, chair_id, kind, first_ms, last_ms, count, data) "
                    "VALUES(?, ?, ?, ?, ?, ?, ?)");
    // Samples of the whole group, one chunk per (session, chair, kind).
    std::map<std::tuple<std::uint64_t, std::string_view, int>, std::vector<model::vital_sample>> chunks;
    for (const auto& it : group) {
      if (it.type != item::what::batch || it.batch.fenced) continue;
      for (const auto& s : it.batch.samples) {
        chunks[{it.batch.session, it.batch.chair_id, static_cast<int>(s.kind)}].push_back(s);
      }
    }
    write_state(group);
    for (auto& [key, list] : chunks) {
      const auto& [session, chair, kind] = key;
      const std::string data = pack_chunk(list);
      sqlite3_stmt* st = chunk.get();
      sql::bind(st, 1, session);
      sql::bind(st, 2, chair);
      sqlite3_bind_int(st, 3, kind);
      sql::bind(st, 4, list.front().time_ms);
      sql::bind(st, 5, list.back().time_ms);
      sql::bind(st, 6, static_cast<std::int64_t>(list.size()));
      sqlite3_bind_blob(st, 7, data.data(), static_cast<int>(data.size()), SQLITE_STATIC);
      sql::step_done(db_, st, "insert vitals");
    }
    write_devices(group);
    write_reservations(group);
    write_bindings(group);
    // Retention last, so it sees what this transaction wrote before it.
    for (auto& it : group) {
      if (it.type == item::what::retention) it.removed = remove_closed(it.cutoff);
    }
    exec(db_, "COMMIT", "commit");
    return true;
  } catch (const std::exception& e) {
    error = e.what();
    if (is_damage(sqlite3_extended_errcode(db_))) {
      // Not a full disk that may clear: writing on would only spread the damage. The store
      // stops writing for good and says so until the daemon is restarted on a sound file.
      damaged_ = true;
      damage_ = "the timeline file is damaged (" + error + "); nothing more is written to it. " +
                damaged_timeline_advice(opts_.path);
      error = damage_;
    }
    sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    return false;
  }
}

}  // namespace vigil::store
