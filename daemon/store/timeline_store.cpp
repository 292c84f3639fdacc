#include "daemon/store/timeline_store.hpp"

#include <sqlite3.h>

#include <algorithm>
#include <cstring>
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
};
constexpr int latest_version = static_cast<int>(std::size(migrations));

[[noreturn]] void fail(sqlite3* db, const std::string& what) {
  throw std::runtime_error(what + ": " + (db ? sqlite3_errmsg(db) : "out of memory"));
}

void exec(sqlite3* db, const char* sql, const std::string& what) {
  char* error = nullptr;
  if (sqlite3_exec(db, sql, nullptr, nullptr, &error) != SQLITE_OK) {
    const std::string reason = error ? error : "unknown error";
    sqlite3_free(error);
    throw std::runtime_error(what + ": " + reason);
  }
}

int user_version(sqlite3* db) {
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

sqlite3* open(const std::string& path, int flags) {
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(path.c_str(), &db, flags, nullptr) != SQLITE_OK) {
    const std::string reason = db ? sqlite3_errmsg(db) : "out of memory";
    sqlite3_close(db);
    throw std::runtime_error("cannot open timeline database '" + path + "': " + reason);
  }
  sqlite3_busy_timeout(db, 5000);
  return db;
}

struct reader {
  explicit reader(const std::string& path) : db(open(path, SQLITE_OPEN_READONLY)) {}
  ~reader() { sqlite3_close(db); }
  sqlite3* db;
};

void append_varint(std::string& out, std::uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}

bool read_varint(std::string_view& in, std::uint64_t& v) {
  v = 0;
  for (int shift = 0; shift < 64 && !in.empty(); shift += 7) {
    const auto byte = static_cast<std::uint8_t>(in.front());
    in.remove_prefix(1);
    v |= static_cast<std::uint64_t>(byte & 0x7f) << shift;
    if ((byte & 0x80) == 0) return true;
  }
  return false;
}

std::string text_of(sqlite3_stmt* stmt, int column) {
  const auto* p = sqlite3_column_text(stmt, column);
  return p ? std::string(reinterpret_cast<const char*>(p), static_cast<std::size_t>(sqlite3_column_bytes(stmt, column)))
           : std::string();
}

}  // namespace

std::string pack_chunk(std::span<const model::vital_sample> samples) {
  std::string out;
  out.reserve(samples.size() * 11);
  std::int64_t previous = samples.empty() ? 0 : samples.front().time_ms;
  for (const auto& s : samples) {
    const std::int64_t delta = s.time_ms - previous;
    previous = s.time_ms;
    append_varint(out, (static_cast<std::uint64_t>(delta) << 1) ^ static_cast<std::uint64_t>(delta >> 63));
    char raw[8];
    std::memcpy(raw, &s.value, sizeof raw);
    out.append(raw, sizeof raw);
    append_varint(out, s.quality);
  }
  return out;
}

bool unpack_chunk(std::string_view data, model::vital_kind kind, std::int64_t first_ms,
                  std::vector<model::vital_sample>& out) {
  std::int64_t time = first_ms;
  while (!data.empty()) {
    std::uint64_t zigzag = 0;
    std::uint64_t quality = 0;
    if (!read_varint(data, zigzag) || data.size() < 8) return false;
    time += static_cast<std::int64_t>((zigzag >> 1) ^ (~(zigzag & 1) + 1));
    model::vital_sample s;
    std::memcpy(&s.value, data.data(), 8);
    data.remove_prefix(8);
    if (!read_varint(data, quality)) return false;
    s.time_ms = time;
    s.kind = kind;
    s.quality = static_cast<std::uint32_t>(quality);
    out.push_back(s);
  }
  return true;
}

timeline_store::timeline_store(options opts) : opts_(std::move(opts)) {
  db_ = open(opts_.path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX);
  try {
    exec(db_, "PRAGMA journal_mode=WAL", "enable WAL");
    exec(db_, opts_.full_sync ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL", "set synchronous");
    exec(db_, "PRAGMA foreign_keys=ON", "enable foreign keys");
    const int version = user_version(db_);
    if (version > latest_version) {
      throw std::runtime_error("timeline database '" + opts_.path + "' has schema version " + std::to_string(version) +
                               ", newer than this vigild understands (" + std::to_string(latest_version) + ")");
    }
    for (int v = version; v < latest_version; ++v) {
      exec(db_, "BEGIN IMMEDIATE", "begin migration");
      exec(db_, migrations[v], "migrate schema to version " + std::to_string(v + 1));
      exec(db_, ("PRAGMA user_version=" + std::to_string(v + 1)).c_str(), "record schema version");
      exec(db_, "COMMIT", "commit migration");
    }
  } catch (...) {
    sqlite3_close(db_);
    throw;
  }
  writer_ = std::thread([this] { run(); });
}

timeline_store::~timeline_store() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_one();
  writer_.join();
  sqlite3_close(db_);
}

void timeline_store::append_batch(std::string device_id, std::string chair_id, std::uint64_t session,
                                  std::uint64_t seq, std::span<const model::vital_sample> samples, completion done) {
  item it;
  it.type = item::what::batch;
  it.batch = {std::move(device_id), std::move(chair_id), session, seq, {samples.begin(), samples.end()}, std::move(done)};
  {
    std::lock_guard lock(mutex_);
    queue_.push_back(std::move(it));
  }
  wake_.notify_one();
}

void timeline_store::append_event(const engine::event& e) {
  item it;
  it.type = item::what::event;
  it.event = e;
  {
    std::lock_guard lock(mutex_);
    queue_.push_back(std::move(it));
  }
  wake_.notify_one();
}

void timeline_store::flush() {
  std::mutex m;
  std::condition_variable cv;
  bool done = false;
  item it;
  it.type = item::what::marker;
  it.marker = [&] {
    std::lock_guard lock(m);
    done = true;
    cv.notify_one();
  };
  {
    std::lock_guard lock(mutex_);
    queue_.push_back(std::move(it));
  }
  wake_.notify_one();
  std::unique_lock lock(m);
  cv.wait(lock, [&] { return done; });
}

void timeline_store::run() {
  std::vector<item> group;
  for (;;) {
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (queue_.empty() && stopping_) return;
      // Everything waiting goes into one transaction: the busier the daemon, the bigger the group.
      while (!queue_.empty() && group.size() < opts_.max_group_items) {
        group.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
    }
    const bool ok = commit(group);
    for (auto& it : group) {
      if (it.type == item::what::batch && it.batch.done) it.batch.done(ok);
      if (it.type == item::what::marker) it.marker();
    }
    group.clear();
  }
}

bool timeline_store::commit(std::vector<item>& group) {
  const bool has_data = std::any_of(group.begin(), group.end(), [](const item& it) { return it.type != item::what::marker; });
  if (!has_data) return true;
  try {
    exec(db_, "BEGIN IMMEDIATE", "begin");
    statement chunk(db_,
                    "INSERT INTO vitals(session_id, chair_id, kind, first_ms, last_ms, count, data) "
                    "VALUES(?, ?, ?, ?, ?, ?, ?)");
    statement device(db_,
                     "INSERT INTO devices(device_id, chair_id, stored_seq) VALUES(?, ?, ?) "
                     "ON CONFLICT(device_id) DO UPDATE SET chair_id = excluded.chair_id, "
                     "stored_seq = max(stored_seq, excluded.stored_seq)");
    statement event(db_,
                    "INSERT INTO events(session_id, chair_id, at_ms, type, alarm_id, rule, kind, priority, from_phase, "
                    "to_phase, who, responder, tier, value, until_ms, text) "
                    "VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");

    // Samples of the whole group, one chunk per (session, chair, kind).
    std::map<std::tuple<std::uint64_t, std::string_view, int>, std::vector<model::vital_sample>> chunks;
    std::map<std::string_view, std::pair<std::string_view, std::uint64_t>> devices;
    std::uint64_t batches = 0, samples = 0, events = 0;
    for (auto& it : group) {
      if (it.type == item::what::batch) {
        ++batches;
        samples += it.batch.samples.size();
        for (const auto& s : it.batch.samples) {
          chunks[{it.batch.session, it.batch.chair_id, static_cast<int>(s.kind)}].push_back(s);
        }
        auto& d = devices[it.batch.device_id];
        d = {it.batch.chair_id, std::max(d.second, it.batch.seq)};
      } else if (it.type == item::what::event) {
        ++events;
        const auto& e = it.event;
        sqlite3_stmt* st = event.get();
        sqlite3_bind_int64(st, 1, static_cast<sqlite3_int64>(e.session));
        sqlite3_bind_text(st, 2, e.chair.data(), static_cast<int>(e.chair.size()), SQLITE_STATIC);
        sqlite3_bind_int64(st, 3, e.at);
        sqlite3_bind_int(st, 4, static_cast<int>(e.type));
        sqlite3_bind_int64(st, 5, static_cast<sqlite3_int64>(e.alarm));
        sqlite3_bind_text(st, 6, e.rule.data(), static_cast<int>(e.rule.size()), SQLITE_STATIC);
        sqlite3_bind_int(st, 7, static_cast<int>(e.kind));
        sqlite3_bind_int(st, 8, static_cast<int>(e.level));
        sqlite3_bind_int(st, 9, static_cast<int>(e.from));
        sqlite3_bind_int(st, 10, static_cast<int>(e.to));
        sqlite3_bind_text(st, 11, e.who.data(), static_cast<int>(e.who.size()), SQLITE_STATIC);
        sqlite3_bind_text(st, 12, e.responder.data(), static_cast<int>(e.responder.size()), SQLITE_STATIC);
        sqlite3_bind_int(st, 13, e.tier);
        sqlite3_bind_double(st, 14, e.value);
        sqlite3_bind_int64(st, 15, e.until);
        sqlite3_bind_text(st, 16, e.text.data(), static_cast<int>(e.text.size()), SQLITE_STATIC);
        if (sqlite3_step(st) != SQLITE_DONE) fail(db_, "insert event");
        sqlite3_reset(st);
      }
    }
    for (auto& [key, list] : chunks) {
      const auto& [session, chair, kind] = key;
      const std::string data = pack_chunk(list);
      sqlite3_stmt* st = chunk.get();
      sqlite3_bind_int64(st, 1, static_cast<sqlite3_int64>(session));
      sqlite3_bind_text(st, 2, chair.data(), static_cast<int>(chair.size()), SQLITE_STATIC);
      sqlite3_bind_int(st, 3, kind);
      sqlite3_bind_int64(st, 4, list.front().time_ms);
      sqlite3_bind_int64(st, 5, list.back().time_ms);
      sqlite3_bind_int64(st, 6, static_cast<sqlite3_int64>(list.size()));
      sqlite3_bind_blob(st, 7, data.data(), static_cast<int>(data.size()), SQLITE_STATIC);
      if (sqlite3_step(st) != SQLITE_DONE) fail(db_, "insert vitals");
      sqlite3_reset(st);
    }
    for (const auto& [id, d] : devices) {
      sqlite3_stmt* st = device.get();
      sqlite3_bind_text(st, 1, id.data(), static_cast<int>(id.size()), SQLITE_STATIC);
      sqlite3_bind_text(st, 2, d.first.data(), static_cast<int>(d.first.size()), SQLITE_STATIC);
      sqlite3_bind_int64(st, 3, static_cast<sqlite3_int64>(d.second));
      if (sqlite3_step(st) != SQLITE_DONE) fail(db_, "record device seq");
      sqlite3_reset(st);
    }
    exec(db_, "COMMIT", "commit");
    std::lock_guard lock(mutex_);
    ++stats_.transactions;
    stats_.batches += batches;
    stats_.samples += samples;
    stats_.events += events;
    return true;
  } catch (const std::exception&) {
    sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    std::lock_guard lock(mutex_);
    ++stats_.failures;
    return false;
  }
}

std::map<std::string, std::uint64_t> timeline_store::device_seqs() {
  reader r(opts_.path);
  statement st(r.db, "SELECT device_id, stored_seq FROM devices");
  std::map<std::string, std::uint64_t> out;
  while (sqlite3_step(st.get()) == SQLITE_ROW) {
    out[text_of(st.get(), 0)] = static_cast<std::uint64_t>(sqlite3_column_int64(st.get(), 1));
  }
  return out;
}

std::vector<stored_sample> timeline_store::session_vitals(std::uint64_t session) {
  reader r(opts_.path);
  statement st(r.db, "SELECT chair_id, kind, first_ms, data FROM vitals WHERE session_id = ? ORDER BY kind, first_ms, id");
  sqlite3_bind_int64(st.get(), 1, static_cast<sqlite3_int64>(session));
  std::vector<stored_sample> out;
  std::vector<model::vital_sample> unpacked;
  while (sqlite3_step(st.get()) == SQLITE_ROW) {
    const std::string chair = text_of(st.get(), 0);
    const auto kind = model::vital_kind_from_wire(sqlite3_column_int(st.get(), 1));
    const auto* blob = static_cast<const char*>(sqlite3_column_blob(st.get(), 3));
    const std::string_view data(blob ? blob : "", static_cast<std::size_t>(sqlite3_column_bytes(st.get(), 3)));
    unpacked.clear();
    if (!kind || !unpack_chunk(data, *kind, sqlite3_column_int64(st.get(), 2), unpacked)) {
      throw std::runtime_error("timeline database '" + opts_.path + "': a vitals chunk is corrupt");
    }
    for (const auto& s : unpacked) out.push_back({s, chair});
  }
  return out;
}

std::vector<engine::event> timeline_store::session_events(std::uint64_t session) {
  reader r(opts_.path);
  statement st(r.db,
               "SELECT chair_id, at_ms, type, alarm_id, rule, kind, priority, from_phase, to_phase, who, responder, "
               "tier, value, until_ms, text FROM events WHERE session_id = ? ORDER BY id");
  sqlite3_bind_int64(st.get(), 1, static_cast<sqlite3_int64>(session));
  std::vector<engine::event> out;
  while (sqlite3_step(st.get()) == SQLITE_ROW) {
    engine::event e;
    e.session = session;
    e.chair = text_of(st.get(), 0);
    e.at = sqlite3_column_int64(st.get(), 1);
    e.type = static_cast<engine::event_type>(sqlite3_column_int(st.get(), 2));
    e.alarm = static_cast<std::uint64_t>(sqlite3_column_int64(st.get(), 3));
    e.rule = text_of(st.get(), 4);
    e.kind = static_cast<engine::alarm_kind>(sqlite3_column_int(st.get(), 5));
    e.level = static_cast<engine::priority>(sqlite3_column_int(st.get(), 6));
    e.from = static_cast<engine::phase>(sqlite3_column_int(st.get(), 7));
    e.to = static_cast<engine::phase>(sqlite3_column_int(st.get(), 8));
    e.who = text_of(st.get(), 9);
    e.responder = text_of(st.get(), 10);
    e.tier = sqlite3_column_int(st.get(), 11);
    e.value = sqlite3_column_double(st.get(), 12);
    e.until = sqlite3_column_int64(st.get(), 13);
    e.text = text_of(st.get(), 14);
    out.push_back(std::move(e));
  }
  return out;
}

int timeline_store::schema_version() {
  reader r(opts_.path);
  return user_version(r.db);
}

timeline_store::counters timeline_store::stats() {
  std::lock_guard lock(mutex_);
  return stats_;
}

}  // namespace vigil::store
