#include "daemon/store/postgres_timeline.hpp"

#include "daemon/store/chunk.hpp"
#include "daemon/store/postgres.hpp"

#include <algorithm>
#include <map>
#include <stdexcept>
#include <string_view>
#include <tuple>

namespace vigil::store {
namespace {

// Each entry takes the schema from version i to i + 1. Never edit a shipped step: add one. The
// tables are those of the SQLite timeline (docs/storage.md), in PostgreSQL's types.
constexpr const char* migrations[] = {
    // 0 -> 1: the first schema.
    R"sql(
      CREATE TABLE devices(
        device_id  text PRIMARY KEY,
        chair_id   text NOT NULL,
        stored_seq bigint NOT NULL
      );
      CREATE TABLE vitals(
        id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        session_id bigint NOT NULL,  -- 0: the chair had no open session
        chair_id   text NOT NULL,
        kind       integer NOT NULL,
        first_ms   bigint NOT NULL,
        last_ms    bigint NOT NULL,
        count      integer NOT NULL,
        data       bytea NOT NULL
      );
      CREATE INDEX vitals_by_session ON vitals(session_id, kind, first_ms);
      CREATE INDEX vitals_by_chair ON vitals(chair_id, first_ms);
      CREATE TABLE events(
        id         bigint PRIMARY KEY,
        session_id bigint NOT NULL,
        chair_id   text NOT NULL,
        at_ms      bigint NOT NULL,
        type       integer NOT NULL,
        alarm_id   bigint NOT NULL,
        rule       text NOT NULL,
        kind       integer NOT NULL,
        priority   integer NOT NULL,
        from_phase integer NOT NULL,
        to_phase   integer NOT NULL,
        who        text NOT NULL,
        responder  text NOT NULL,
        tier       integer NOT NULL,
        value      double precision NOT NULL,
        until_ms   bigint NOT NULL,
        text       text NOT NULL
      );
      CREATE INDEX events_by_session ON events(session_id, id);
      CREATE TABLE sessions(
        session_id    bigint PRIMARY KEY,
        chair_id      text NOT NULL,
        patient_ref   text NOT NULL,
        profile       text NOT NULL,
        opened_by     text NOT NULL,
        opened_ms     bigint NOT NULL,
        dose_ms       bigint,
        window_end_ms bigint,
        ready_ms      bigint,
        closed_ms     bigint,
        outcome       text NOT NULL DEFAULT 'open'
      );
      CREATE INDEX sessions_by_close ON sessions(closed_ms);
      CREATE TABLE checkpoints(
        chair_id text PRIMARY KEY,
        saved_ms bigint NOT NULL,
        state    bytea NOT NULL
      );
      CREATE TABLE device_resets(
        id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        device_id    text NOT NULL,
        reset_ms     bigint NOT NULL,
        who          text NOT NULL,
        reason       text NOT NULL,
        previous_seq bigint NOT NULL
      );
      CREATE TABLE id_reservations(
        name             text PRIMARY KEY,
        reserved_through bigint NOT NULL
      );
      CREATE TABLE chair_bindings(
        chair_id  text PRIMARY KEY,
        device_id text NOT NULL,
        bound_ms  bigint NOT NULL
      );
    )sql",
    // 1 -> 2: cluster mode (docs/deployment.md §3). The daemons sharing the database, and which of
    // them holds each chair, under which fencing epoch. Times are the database server's, so the
    // daemons' clocks do not matter.
    R"sql(
      CREATE TABLE cluster_nodes(
        node       text PRIMARY KEY,  -- name#instance: a daemon restarted is a new node
        addresses  text NOT NULL,     -- where devices and clients reach it
        expires_at timestamptz NOT NULL
      );
      CREATE TABLE chair_leases(
        chair_id   text PRIMARY KEY,
        node       text NOT NULL,     -- '' once given up
        epoch      bigint NOT NULL,   -- grows by one each time the chair is taken
        expires_at timestamptz NOT NULL
      );
      CREATE INDEX chair_leases_by_node ON chair_leases(node);
    )sql",
};
static_assert(std::size(migrations) == postgres_schema_version, "one migration per schema version");

// Held while migrating, so daemons starting together on a new database migrate it once.
constexpr const char* migration_lock = "SELECT pg_advisory_xact_lock(5659676900000001)";
// Held by the writer's session for as long as it lives: one vigild writes to a database, or
// several in cluster mode, which hold it shared (and so keep a single daemon out, and the reverse).
constexpr const char* writer_try_lock = "SELECT pg_try_advisory_lock(5659676900000002)";
constexpr const char* writer_lock = "SELECT pg_advisory_lock(5659676900000002)";
constexpr const char* cluster_try_lock = "SELECT pg_try_advisory_lock_shared(5659676900000002)";
constexpr const char* cluster_lock = "SELECT pg_advisory_lock_shared(5659676900000002)";

std::int64_t as_number(std::uint64_t v) { return static_cast<std::int64_t>(v); }

/// The schema version a database holds: 0 when it has no Vigil schema.
int stored_version(pg::connection& db) {
  const auto exists = db.exec("SELECT to_regclass('vigil_schema') IS NOT NULL", "read the schema version");
  if (exists.text(0, 0) != "t") return 0;
  const auto version = db.exec("SELECT coalesce(max(version), 0) FROM vigil_schema", "read the schema version");
  return static_cast<int>(version.number(0, 0));
}

}  // namespace

bool is_postgres_url(const std::string& text) {
  return text.rfind("postgresql://", 0) == 0 || text.rfind("postgres://", 0) == 0;
}

postgres_timeline::postgres_timeline(postgres_options opts)
    : group_writer(opts.max_group_items, opts.leases), opts_(std::move(opts)) {
  if (opts_.leases && opts_.node.empty()) throw std::invalid_argument("a cluster timeline needs its node's name");
  db_ = std::make_unique<pg::connection>(opts_.url);
  const std::string name = "timeline database " + db_->where();
  try {
    claim_database();
    db_->exec("BEGIN", "begin migration");
    db_->exec(migration_lock, "lock the schema for migration");
    db_->exec("CREATE TABLE IF NOT EXISTS vigil_schema(version integer NOT NULL)", "create the schema version");
    const int version = stored_version(*db_);
    if (version > postgres_schema_version) {
      throw std::runtime_error("has schema version " + std::to_string(version) + ", newer than this vigild understands (" +
                               std::to_string(postgres_schema_version) + ")");
    }
    for (int v = version; v < postgres_schema_version; ++v) {
      db_->script(migrations[v], "migrate schema to version " + std::to_string(v + 1));
      db_->exec("DELETE FROM vigil_schema", "record schema version");
      db_->exec("INSERT INTO vigil_schema(version) VALUES($1)", pg::params{}.number(v + 1), "record schema version");
    }
    db_->exec("COMMIT", "commit migration");
  } catch (const std::exception& e) {
    throw std::runtime_error(name + ": " + e.what());
  }
  start();
}

postgres_timeline::~postgres_timeline() { stop(); }

void postgres_timeline::claim_database() {
  // A commit is acked only once it is durable on the server (and on its synchronous standbys).
  db_->exec("SET synchronous_commit = on", "set synchronous_commit");
  const bool cluster = leases() != nullptr;
  if (claimed_generation_ == 0) {
    if (db_->exec(cluster ? cluster_try_lock : writer_try_lock, "claim the database").text(0, 0) != "t") {
      throw std::runtime_error(cluster ? "a vigild outside cluster mode is writing to this database; stop it first "
                                         "(docs/deployment.md)"
                                       : "another vigild is writing to this database; one vigild per database unless "
                                         "in cluster mode (docs/deployment.md)");
    }
  } else {
    // A new connection of this daemon's: the server may not yet have ended the session of the
    // old one, which holds the lock until it notices the connection is gone.
    db_->exec("SET lock_timeout = '5s'", "claim the database");
    try {
      db_->exec(cluster ? cluster_lock : writer_lock, "claim the database");
    } catch (const std::exception& e) {
      throw std::runtime_error(std::string(e.what()) + " (is another vigild writing to this database?)");
    }
    db_->exec("SET lock_timeout = 0", "claim the database");
  }
  claimed_generation_ = db_->generation();
}

std::unique_ptr<reader> postgres_timeline::open_reader() const { return std::make_unique<postgres_reader>(opts_.url); }

std::string postgres_where(const std::string& url) { return "PostgreSQL database " + pg::describe(url); }

std::string postgres_timeline::where() const { return postgres_where(opts_.url); }

void postgres_timeline::refuse_lost_chairs(std::vector<item>& group) {
  // Every chair the group writes for, with the epochs it was queued under.
  std::map<std::string_view, std::vector<std::uint64_t>> wanted;
  for (const auto& it : group) {
    if (it.type == item::what::batch && !it.batch.fenced) wanted[it.batch.chair_id].push_back(it.batch.lease);
    if (it.type == item::what::binding) wanted[it.binding.chair_id].push_back(it.binding.lease);
    if (it.type == item::what::state) {
      for (const auto& [chair, epoch] : it.state.leases) wanted[chair].push_back(epoch);
    }
  }
  if (wanted.empty()) return;
  std::vector<std::string> chairs;
  for (const auto& [chair, epochs] : wanted) chairs.emplace_back(chair);
  // Locked until this transaction ends: a daemon taking one of these chairs over waits for it,
  // and then sees everything it wrote; once the epoch has moved on, nothing more is written.
  // In chair order, as the lease keeper locks them, so the two never wait for each other.
  const auto rows = db_->exec(
      "SELECT chair_id, epoch FROM chair_leases WHERE chair_id = ANY($1::text[]) AND node = $2 ORDER BY chair_id "
      "FOR SHARE",
      pg::params{}.texts(chairs).text(opts_.node), "check chair leases");
  std::map<std::string, std::uint64_t, std::less<>> held;
  for (int i = 0; i < rows.rows(); ++i) held[rows.text(i, 0)] = static_cast<std::uint64_t>(rows.number(i, 1));
  const auto valid = [&](std::string_view chair, std::uint64_t epoch) {
    const auto h = held.find(chair);
    return epoch != 0 && h != held.end() && h->second == epoch;
  };
  std::uint64_t refused = 0;
  for (auto& it : group) {
    if (it.type == item::what::batch && !it.batch.fenced && !valid(it.batch.chair_id, it.batch.lease)) {
      it.batch.fenced = true;
      ++refused;
    } else if (it.type == item::what::binding && !it.binding.refused &&
               !valid(it.binding.chair_id, it.binding.lease)) {
      it.binding.refused = true;
      ++refused;
    } else if (it.type == item::what::state) {
      auto& st = it.state;
      const auto lost = [&](const std::string& chair) {
        const auto l = st.leases.find(chair);
        return l == st.leases.end() || !valid(chair, l->second);
      };
      const auto events = st.events.size();
      const auto checkpoints = st.checkpoints.size();
      std::erase_if(st.events, [&](const engine::event& e) { return lost(e.chair); });
      std::erase_if(st.checkpoints, [&](const stored_checkpoint& c) { return lost(c.chair_id); });
      if (st.events.size() != events || st.checkpoints.size() != checkpoints) {
        st.refused = true;
        ++refused;
      }
    }
  }
  if (refused > 0) count_refused(refused);
}

void postgres_timeline::skip_stored_batches(std::vector<item>& group) {
  // A COMMIT whose answer was lost (the connection broke as it went) may have gone through: the
  // batches were reported not stored, and their devices send them again. The devices' stored
  // seqs, read and locked in this transaction, say which of them are stored already.
  std::vector<std::string> ids;
  for (auto& it : group) {
    it.batch.stored_before = false;
    if (it.type == item::what::batch && !it.batch.fenced) ids.push_back(it.batch.device_id);
  }
  if (ids.empty()) return;
  const auto rows = db_->exec("SELECT device_id, stored_seq FROM devices WHERE device_id = ANY($1::text[]) FOR UPDATE",
                              pg::params{}.texts(ids), "read device seqs");
  std::map<std::string, std::uint64_t, std::less<>> stored;
  for (int i = 0; i < rows.rows(); ++i) stored[rows.text(i, 0)] = static_cast<std::uint64_t>(rows.number(i, 1));
  // In queue order: a reset takes the device back to 0.
  for (auto& it : group) {
    if (it.type == item::what::reset) {
      stored[it.reset.device_id] = 0;
    } else if (it.type == item::what::batch && !it.batch.fenced) {
      auto& seq = stored[it.batch.device_id];
      if (it.batch.seq <= seq) {
        it.batch.stored_before = true;
      } else {
        seq = it.batch.seq;
      }
    }
  }
}

void postgres_timeline::write_vitals(const std::vector<item>& group) {
  // Samples of the whole group, one chunk per (session, chair, kind).
  std::map<std::tuple<std::uint64_t, std::string_view, int>, std::vector<model::vital_sample>> chunks;
  for (const auto& it : group) {
    if (it.type != item::what::batch || it.batch.fenced || it.batch.stored_before) continue;
    for (const auto& s : it.batch.samples) {
      chunks[{it.batch.session, it.batch.chair_id, static_cast<int>(s.kind)}].push_back(s);
    }
  }
  if (chunks.empty()) return;
  std::vector<std::int64_t> sessions, kinds, firsts, lasts, counts;
  std::vector<std::string> chairs, data;
  for (const auto& [key, list] : chunks) {
    const auto& [session, chair, kind] = key;
    sessions.push_back(as_number(session));
    chairs.emplace_back(chair);
    kinds.push_back(kind);
    firsts.push_back(list.front().time_ms);
    lasts.push_back(list.back().time_ms);
    counts.push_back(static_cast<std::int64_t>(list.size()));
    data.push_back(pack_chunk(list));
  }
  db_->exec(
      "INSERT INTO vitals(session_id, chair_id, kind, first_ms, last_ms, count, data) "
      "SELECT * FROM unnest($1::bigint[], $2::text[], $3::integer[], $4::bigint[], $5::bigint[], $6::integer[], "
      "$7::bytea[])",
      pg::params{}.numbers(sessions).texts(chairs).numbers(kinds).numbers(firsts).numbers(lasts).numbers(counts)
          .byte_strings(data),
      "insert vitals");
}

void postgres_timeline::write_state(const std::vector<item>& group) {
  std::vector<const engine::event*> events;
  bool unnumbered = false;
  for (const auto& it : group) {
    if (it.type != item::what::state) continue;
    for (const auto& e : it.state.events) {
      events.push_back(&e);
      unnumbered = unnumbered || e.id == 0;
    }
  }
  if (!events.empty()) {
    // An event appended without the daemon's id gets the next one above every stored id, as
    // SQLite's row ids do.
    std::int64_t top = 0;
    if (unnumbered) top = db_->exec("SELECT coalesce(max(id), 0) FROM events", "number events").number(0, 0);
    std::vector<std::int64_t> ids, sessions, ats, types, alarms, kinds, levels, froms, tos, tiers, untils;
    std::vector<std::string> chairs, rules, whos, responders, texts;
    std::vector<double> values;
    for (const auto* e : events) {
      const std::int64_t id = e->id != 0 ? as_number(e->id) : top + 1;
      top = std::max(top, id);
      ids.push_back(id);
      sessions.push_back(as_number(e->session));
      chairs.push_back(e->chair);
      ats.push_back(e->at);
      types.push_back(static_cast<std::int64_t>(e->type));
      alarms.push_back(as_number(e->alarm));
      rules.push_back(e->rule);
      kinds.push_back(static_cast<std::int64_t>(e->kind));
      levels.push_back(static_cast<std::int64_t>(e->level));
      froms.push_back(static_cast<std::int64_t>(e->from));
      tos.push_back(static_cast<std::int64_t>(e->to));
      whos.push_back(e->who);
      responders.push_back(e->responder);
      tiers.push_back(e->tier);
      values.push_back(e->value);
      untils.push_back(e->until);
      texts.push_back(e->text);
    }
    db_->exec(
        "INSERT INTO events(id, session_id, chair_id, at_ms, type, alarm_id, rule, kind, priority, from_phase, "
        "to_phase, who, responder, tier, value, until_ms, text) "
        "SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::bigint[], $5::integer[], $6::bigint[], "
        "$7::text[], $8::integer[], $9::integer[], $10::integer[], $11::integer[], $12::text[], $13::text[], "
        "$14::integer[], $15::float8[], $16::bigint[], $17::text[]) "
        // Kept events are sent again after a COMMIT whose answer was lost: the ids say they are in.
        "ON CONFLICT (id) DO NOTHING",
        pg::params{}
            .numbers(ids).numbers(sessions).texts(chairs).numbers(ats).numbers(types).numbers(alarms).texts(rules)
            .numbers(kinds).numbers(levels).numbers(froms).numbers(tos).texts(whos).texts(responders).numbers(tiers)
            .reals(values).numbers(untils).texts(texts),
        "insert events");
  }
  // The sessions index, in event order: its milestones are few beside the events themselves.
  using engine::event_type;
  for (const auto* e : events) {
    if (e->type == event_type::session_opened) {
      db_->exec(
          "INSERT INTO sessions(session_id, chair_id, patient_ref, profile, opened_by, opened_ms) "
          "VALUES($1, $2, $3, $4, $5, $6) ON CONFLICT(session_id) DO NOTHING",
          pg::params{}.number(e->session).text(e->chair).text(e->patient_ref).text(e->profile).text(e->who).number(e->at),
          "index session");
    } else if (e->type == event_type::dose_marked) {
      db_->exec("UPDATE sessions SET dose_ms = coalesce(dose_ms, $1), window_end_ms = $2 WHERE session_id = $3",
                pg::params{}.number(e->at).number(e->until).number(e->session), "index dose");
    } else if (e->type == event_type::phase_changed && e->to == engine::phase::ready) {
      db_->exec("UPDATE sessions SET ready_ms = coalesce(ready_ms, $1) WHERE session_id = $2",
                pg::params{}.number(e->at).number(e->session), "index readiness");
    } else if (e->type == event_type::phase_changed &&
               (e->to == engine::phase::closed || e->to == engine::phase::aborted)) {
      db_->exec("UPDATE sessions SET closed_ms = $1, outcome = $2 WHERE session_id = $3",
                pg::params{}.number(e->at).text(e->to == engine::phase::aborted ? "aborted" : "closed").number(e->session),
                "index close");
    }
  }
  // Only the latest checkpoint of each chair in the group is written.
  std::map<std::string_view, const stored_checkpoint*> latest;
  for (const auto& it : group) {
    if (it.type != item::what::state) continue;
    for (const auto& c : it.state.checkpoints) latest[c.chair_id] = &c;
  }
  if (latest.empty()) return;
  std::vector<std::string> chairs, states;
  std::vector<std::int64_t> saved;
  for (const auto& [chair, c] : latest) {
    chairs.push_back(c->chair_id);
    saved.push_back(c->saved_ms);
    states.push_back(c->state);
  }
  db_->exec(
      "INSERT INTO checkpoints(chair_id, saved_ms, state) SELECT * FROM unnest($1::text[], $2::bigint[], $3::bytea[]) "
      "ON CONFLICT(chair_id) DO UPDATE SET saved_ms = excluded.saved_ms, state = excluded.state",
      pg::params{}.texts(chairs).numbers(saved).byte_strings(states), "store checkpoints");
}

void postgres_timeline::write_devices(const std::vector<item>& group) {
  // In queue order: a reset sets the device's stored seq back to 0, and only batches queued
  // after it count from there.
  struct seen {
    std::string_view chair;
    std::uint64_t seq = 0;
    bool reset = false;
  };
  std::map<std::string_view, seen> devices;
  for (const auto& it : group) {
    if (it.type == item::what::batch && !it.batch.fenced && !it.batch.stored_before) {
      auto& d = devices[it.batch.device_id];
      d.chair = it.batch.chair_id;
      d.seq = std::max(d.seq, it.batch.seq);
    } else if (it.type == item::what::reset) {
      auto& d = devices[it.reset.device_id];
      d.seq = 0;
      d.reset = true;
    }
  }
  std::vector<std::string> ids, chairs;
  std::vector<std::int64_t> seqs;
  for (const auto& [id, d] : devices) {
    if (d.reset) {
      db_->exec(
          "INSERT INTO devices(device_id, chair_id, stored_seq) VALUES($1, $2, $3) "
          "ON CONFLICT(device_id) DO UPDATE SET chair_id = CASE WHEN $2::text = '' THEN devices.chair_id ELSE $2 END, "
          "stored_seq = excluded.stored_seq",
          pg::params{}.text(id).text(d.chair).number(d.seq), "record device seq");
      continue;
    }
    ids.emplace_back(id);
    chairs.emplace_back(d.chair);
    seqs.push_back(as_number(d.seq));
  }
  if (!ids.empty()) {
    db_->exec(
        "INSERT INTO devices(device_id, chair_id, stored_seq) SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[]) "
        "ON CONFLICT(device_id) DO UPDATE SET chair_id = excluded.chair_id, "
        "stored_seq = greatest(devices.stored_seq, excluded.stored_seq)",
        pg::params{}.texts(ids).texts(chairs).numbers(seqs), "record device seqs");
  }
  for (const auto& it : group) {
    if (it.type != item::what::reset) continue;
    db_->exec("INSERT INTO device_resets(device_id, reset_ms, who, reason, previous_seq) VALUES($1, $2, $3, $4, $5)",
              pg::params{}
                  .text(it.reset.device_id)
                  .number(it.reset.at_ms)
                  .text(it.reset.who)
                  .text(it.reset.reason)
                  .number(it.reset.previous_seq),
              "record device reset");
  }
}

void postgres_timeline::write_bindings(const std::vector<item>& group) {
  for (const auto& it : group) {
    if (it.type != item::what::binding || it.binding.refused) continue;
    // A device serves one chair: binding it to one leaves the others.
    db_->exec("DELETE FROM chair_bindings WHERE device_id = $1 AND chair_id <> $2",
              pg::params{}.text(it.binding.device_id).text(it.binding.chair_id), "move chair binding");
    db_->exec(
        "INSERT INTO chair_bindings(chair_id, device_id, bound_ms) VALUES($1, $2, $3) "
        "ON CONFLICT(chair_id) DO UPDATE SET device_id = excluded.device_id, bound_ms = excluded.bound_ms",
        pg::params{}.text(it.binding.chair_id).text(it.binding.device_id).number(it.binding.at_ms),
        "record chair binding");
  }
}

void postgres_timeline::write_reservations(const std::vector<item>& group) {
  for (const auto& it : group) {
    if (it.type != item::what::reservation) continue;
    // In a cluster, ids come in blocks that postgres_cluster::take_ids hands out, and the
    // reservations only ever grow: giving back what one daemon did not use would give another's.
    if (leases() && it.exact) continue;
    const char* sql = it.exact
                          ? "INSERT INTO id_reservations(name, reserved_through) "
                            "VALUES('session', $1), ('alarm', $2), ('event', $3) "
                            "ON CONFLICT(name) DO UPDATE SET reserved_through = excluded.reserved_through"
                          : "INSERT INTO id_reservations(name, reserved_through) "
                            "VALUES('session', $1), ('alarm', $2), ('event', $3) "
                            "ON CONFLICT(name) DO UPDATE SET "
                            "reserved_through = greatest(id_reservations.reserved_through, excluded.reserved_through)";
    db_->exec(sql, pg::params{}.number(it.ids.session).number(it.ids.alarm).number(it.ids.event), "reserve ids");
  }
}

std::size_t postgres_timeline::remove_closed(engine::millis cutoff) {
  const auto removed = db_->exec(
      "WITH expired AS (SELECT session_id FROM sessions WHERE closed_ms < $1), "
      "gone_vitals AS (DELETE FROM vitals WHERE session_id IN (SELECT session_id FROM expired)), "
      "gone_events AS (DELETE FROM events WHERE session_id IN (SELECT session_id FROM expired)) "
      "DELETE FROM sessions WHERE session_id IN (SELECT session_id FROM expired)",
      pg::params{}.number(cutoff), "remove expired sessions");
  // Vitals and advisories of chairs streaming with no session age out the same way.
  db_->exec("DELETE FROM vitals WHERE session_id = 0 AND last_ms < $1", pg::params{}.number(cutoff),
            "remove vitals outside sessions");
  db_->exec("DELETE FROM events WHERE session_id = 0 AND at_ms < $1", pg::params{}.number(cutoff),
            "remove events outside sessions");
  return static_cast<std::size_t>(removed.changed());
}

bool postgres_timeline::write_group(std::vector<item>& group, std::string& error) {
  if (!db_->usable()) {
    error = "cannot reach PostgreSQL " + db_->where();
    return false;
  }
  try {
    // A new connection (the server restarted, the network came back) holds nothing yet.
    if (claimed_generation_ != db_->generation()) claim_database();
    db_->exec("BEGIN", "begin");
    if (leases()) refuse_lost_chairs(group);
    skip_stored_batches(group);
    write_vitals(group);
    write_state(group);
    write_devices(group);
    write_reservations(group);
    write_bindings(group);
    // Retention last, so it sees what this transaction wrote before it.
    for (auto& it : group) {
      if (it.type == item::what::retention) it.removed = remove_closed(it.cutoff);
    }
    db_->exec("COMMIT", "commit");
    return true;
  } catch (const std::exception& e) {
    error = e.what();
    try {
      db_->exec("ROLLBACK", "roll back");
    } catch (const std::exception&) {
      // The connection is gone: the server rolled the transaction back itself.
    }
    return false;
  }
}

}  // namespace vigil::store
