#include "daemon/store/postgres_cluster.hpp"

#include "daemon/store/postgres.hpp"
#include "daemon/store/postgres_timeline.hpp"

#include <unistd.h>

#include <array>
#include <random>
#include <stdexcept>

namespace vigil::store {
namespace {

// A lease's expiry, in the database server's time: `$n` milliseconds from the statement's moment.
std::string expiry(int n) { return "clock_timestamp() + $" + std::to_string(n) + "::bigint * interval '1 millisecond'"; }

std::int64_t millis(std::chrono::milliseconds d) { return static_cast<std::int64_t>(d.count()); }

}  // namespace

std::string cluster_node_name(const std::string& name) {
  std::string base = name;
  if (base.empty()) {
    std::array<char, 256> host{};
    base = gethostname(host.data(), host.size() - 1) == 0 && host[0] != '\0' ? host.data() : "vigild";
  }
  std::random_device random;
  const auto instance = (static_cast<std::uint64_t>(random()) << 32) ^ random();
  constexpr char hex[] = "0123456789abcdef";
  std::string suffix;
  for (int i = 0; i < 8; ++i) suffix += hex[(instance >> (4 * i)) & 0xf];
  return base + "#" + suffix;
}

postgres_cluster::postgres_cluster(cluster_options opts) : opts_(std::move(opts)) {
  if (opts_.node.empty()) throw std::invalid_argument("a cluster node needs a name");
  if (opts_.lease.count() < 300) throw std::invalid_argument("a cluster lease must be at least 300 ms");
  db_ = std::make_unique<pg::connection>(opts_.url);
  // A statement unanswered for a whole lease means a server that cannot be reached: by then the
  // leases it would renew have run out anyway.
  db_->answer_within(opts_.lease);
  const auto version = db_->exec("SELECT to_regclass('chair_leases') IS NOT NULL", "read the schema");
  if (version.text(0, 0) != "t") {
    throw std::runtime_error("timeline database " + db_->where() + " has no cluster tables (schema " +
                             std::to_string(postgres_schema_version) + " has them: start the timeline first)");
  }
}

postgres_cluster::~postgres_cluster() = default;

postgres_cluster::renewal postgres_cluster::renew() {
  if (!db_->usable()) throw std::runtime_error("cannot reach PostgreSQL " + db_->where());
  renewal out;
  db_->exec("BEGIN", "begin lease renewal");
  try {
    db_->exec(("INSERT INTO cluster_nodes(node, addresses, expires_at) VALUES($1, $2, " + expiry(3) +
               ") ON CONFLICT(node) DO UPDATE SET addresses = excluded.addresses, expires_at = excluded.expires_at")
                  .c_str(),
              pg::params{}.text(opts_.node).text(opts_.addresses).number(millis(opts_.lease)), "announce the node");
    // Locked in chair order, as the timeline's writer locks them: neither waits for the other in turn.
    const auto held = db_->exec(
        ("UPDATE chair_leases SET expires_at = " + expiry(2) +
         " WHERE chair_id IN (SELECT chair_id FROM chair_leases WHERE node = $1 ORDER BY chair_id FOR UPDATE) "
         "RETURNING chair_id, epoch")
            .c_str(),
        pg::params{}.text(opts_.node).number(millis(opts_.lease)), "renew leases");
    for (int i = 0; i < held.rows(); ++i) out.held[held.text(i, 0)] = static_cast<std::uint64_t>(held.number(i, 1));
    const auto nodes = db_->exec(
        "SELECT n.node, (SELECT count(*) FROM chair_leases l WHERE l.node = n.node AND l.expires_at > clock_timestamp()) "
        "FROM cluster_nodes n WHERE n.expires_at > clock_timestamp() ORDER BY n.node",
        "read the live nodes");
    for (int i = 0; i < nodes.rows(); ++i) out.load[nodes.text(i, 0)] = static_cast<std::size_t>(nodes.number(i, 1));
    out.live_nodes = out.load.size();
    const auto chairs = db_->exec(
        "SELECT l.chair_id, l.node = '' OR l.expires_at <= clock_timestamp(), l.node, coalesce(n.addresses, '') "
        "FROM chair_leases l LEFT JOIN cluster_nodes n ON n.node = l.node ORDER BY l.chair_id",
        "read the chairs");
    out.chairs = static_cast<std::size_t>(chairs.rows());
    for (int i = 0; i < chairs.rows(); ++i) {
      if (chairs.text(i, 1) == "t") {
        out.free_chairs.push_back(chairs.text(i, 0));
      } else if (chairs.text(i, 2) != opts_.node) {
        out.elsewhere[chairs.text(i, 0)] = {chairs.text(i, 2), chairs.text(i, 3)};
      }
    }
    // Nodes long gone are forgotten; their leases stay, for their epochs.
    db_->exec("DELETE FROM cluster_nodes WHERE expires_at < clock_timestamp() - interval '1 hour'", "forget old nodes");
    db_->exec("COMMIT", "commit lease renewal");
  } catch (...) {
    try {
      db_->exec("ROLLBACK", "roll back lease renewal");
    } catch (const std::exception&) {
      // The connection is gone: the server rolls back on its own.
    }
    throw;
  }
  return out;
}

std::optional<std::uint64_t> postgres_cluster::take(const std::string& chair) {
  if (!db_->usable()) throw std::runtime_error("cannot reach PostgreSQL " + db_->where());
  // The epoch moves on even when this node held the chair before: what it queued then is refused.
  const auto r = db_->exec(
      ("INSERT INTO chair_leases(chair_id, node, epoch, expires_at) VALUES($1, $2, 1, " + expiry(3) +
       ") ON CONFLICT(chair_id) DO UPDATE SET node = excluded.node, epoch = chair_leases.epoch + 1, "
       "expires_at = excluded.expires_at "
       "WHERE chair_leases.node = '' OR chair_leases.expires_at <= clock_timestamp() RETURNING epoch")
          .c_str(),
      pg::params{}.text(chair).text(opts_.node).number(millis(opts_.lease)), "take a chair");
  if (r.rows() == 0) return std::nullopt;
  return static_cast<std::uint64_t>(r.number(0, 0));
}

void postgres_cluster::offer(const std::string& chair) {
  if (!db_->usable()) throw std::runtime_error("cannot reach PostgreSQL " + db_->where());
  db_->exec("INSERT INTO chair_leases(chair_id, node, epoch, expires_at) VALUES($1, '', 0, clock_timestamp()) "
            "ON CONFLICT(chair_id) DO NOTHING",
            pg::params{}.text(chair), "offer a chair");
}

std::optional<stored_checkpoint> postgres_cluster::checkpoint_of(const std::string& chair) {
  if (!db_->usable()) throw std::runtime_error("cannot reach PostgreSQL " + db_->where());
  const auto r = db_->exec("SELECT saved_ms, state FROM checkpoints WHERE chair_id = $1", pg::params{}.text(chair),
                           "read a chair's checkpoint");
  if (r.rows() == 0) return std::nullopt;
  return stored_checkpoint{chair, r.number(0, 0), r.bytes(0, 1)};
}

std::map<std::string, std::uint64_t> postgres_cluster::device_seqs_of(const std::string& chair) {
  if (!db_->usable()) throw std::runtime_error("cannot reach PostgreSQL " + db_->where());
  const auto r = db_->exec("SELECT device_id, stored_seq FROM devices WHERE chair_id = $1", pg::params{}.text(chair),
                           "read a chair's device seqs");
  std::map<std::string, std::uint64_t> out;
  for (int i = 0; i < r.rows(); ++i) out[r.text(i, 0)] = static_cast<std::uint64_t>(r.number(i, 1));
  return out;
}

void postgres_cluster::release(const std::string& chair, std::uint64_t epoch) {
  if (!db_->usable()) throw std::runtime_error("cannot reach PostgreSQL " + db_->where());
  db_->exec("UPDATE chair_leases SET node = '', expires_at = clock_timestamp() "
            "WHERE chair_id = $1 AND node = $2 AND epoch = $3",
            pg::params{}.text(chair).text(opts_.node).number(epoch), "give a chair up");
}

std::optional<postgres_cluster::holder> postgres_cluster::holder_of(const std::string& chair) {
  if (!db_->usable()) throw std::runtime_error("cannot reach PostgreSQL " + db_->where());
  const auto r = db_->exec(
      "SELECT l.node, coalesce(n.addresses, ''), l.epoch FROM chair_leases l LEFT JOIN cluster_nodes n ON n.node = l.node "
      "WHERE l.chair_id = $1 AND l.node <> '' AND l.expires_at > clock_timestamp()",
      pg::params{}.text(chair), "find a chair's node");
  if (r.rows() == 0) return std::nullopt;
  return holder{r.text(0, 0), r.text(0, 1), static_cast<std::uint64_t>(r.number(0, 2))};
}

std::map<std::string, std::string> postgres_cluster::nodes() {
  if (!db_->usable()) throw std::runtime_error("cannot reach PostgreSQL " + db_->where());
  const auto r = db_->exec("SELECT node, addresses FROM cluster_nodes WHERE expires_at > clock_timestamp()",
                           "read the live nodes");
  std::map<std::string, std::string> out;
  for (int i = 0; i < r.rows(); ++i) out[r.text(i, 0)] = r.text(i, 1);
  return out;
}

engine::id_range postgres_cluster::take_ids(engine::id_range sizes) {
  if (!db_->usable()) throw std::runtime_error("cannot reach PostgreSQL " + db_->where());
  // Above every stored id too: a database a single daemon wrote before holds ids of its own.
  const auto stored = db_->exec(
      "SELECT greatest((SELECT coalesce(max(session_id), 0) FROM sessions), "
      "(SELECT coalesce(max(session_id), 0) FROM events)), "
      "(SELECT coalesce(max(alarm_id), 0) FROM events), (SELECT coalesce(max(id), 0) FROM events)",
      "read the id floor");
  const auto block = [&](const char* name, std::int64_t floor, std::uint64_t size) {
    // The row lock makes concurrent takers wait in turn; each block starts where the last ended.
    const auto r = db_->exec(
        "INSERT INTO id_reservations(name, reserved_through) VALUES($1, $2::bigint + $3::bigint) ON CONFLICT(name) "
        "DO UPDATE SET reserved_through = greatest(id_reservations.reserved_through, $2::bigint) + $3::bigint "
        "RETURNING reserved_through",
        pg::params{}.text(name).number(floor).number(size), std::string("take a block of ") + name + " ids");
    return static_cast<std::uint64_t>(r.number(0, 0)) - size + 1;
  };
  return {block("session", stored.number(0, 0), sizes.session), block("alarm", stored.number(0, 1), sizes.alarm),
          block("event", stored.number(0, 2), sizes.event)};
}

void postgres_cluster::leave() {
  if (!db_->usable()) return;
  db_->exec("UPDATE chair_leases SET node = '', expires_at = clock_timestamp() WHERE node = $1",
            pg::params{}.text(opts_.node), "give the chairs up");
  db_->exec("DELETE FROM cluster_nodes WHERE node = $1", pg::params{}.text(opts_.node), "leave the cluster");
}

}  // namespace vigil::store
