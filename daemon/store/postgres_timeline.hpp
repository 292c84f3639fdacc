#pragma once

// The session timeline in a PostgreSQL database: the backend of store::timeline for several
// vigild sharing one durable record (docs/deployment.md). group_writer's writer thread owns one
// connection and commits each group in one transaction with synchronous_commit on, writing many
// rows per statement; readers have connections of their own.

#include "daemon/store/group_writer.hpp"
#include "daemon/store/timeline.hpp"

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

namespace vigil::store {

namespace pg {
class connection;
}

/// The PostgreSQL schema this build writes and reads; postgres_timeline migrates a database up to
/// it (one step per version, under an advisory lock, so daemons starting together migrate once).
inline constexpr int postgres_schema_version = 2;

struct postgres_options {
  std::string url;                     // a libpq connection URL: postgresql://user@host:port/database
  std::size_t max_group_items = 4096;  // batches per transaction at most (state items ride along)
  // Cluster mode: the chairs this daemon holds, and its node name in chair_leases. Null: the
  // only vigild on the database (it holds the database alone).
  std::shared_ptr<const lease_set> leases{};
  std::string node{};
};

/// Whether `text` names a PostgreSQL database (a postgresql:// or postgres:// URL), not a file.
bool is_postgres_url(const std::string& text);
/// The database a URL names, for people: "PostgreSQL database host:port/database as user", never
/// its password.
std::string postgres_where(const std::string& url);

class postgres_timeline final : public group_writer {
 public:
  /// Connects, creates or migrates the schema; throws std::runtime_error naming the database
  /// (never its password) and PostgreSQL's reason on failure, or when another vigild already
  /// writes to the database (one daemon per database until cluster mode: docs/storage.md).
  explicit postgres_timeline(postgres_options opts);
  /// Commits what is queued, then stops the writer.
  ~postgres_timeline() override;
  postgres_timeline(const postgres_timeline&) = delete;
  postgres_timeline& operator=(const postgres_timeline&) = delete;

  std::unique_ptr<reader> open_reader() const override;
  std::string where() const override;

 private:
  bool write_group(std::vector<item>& group, std::string& error) override;
  /// In a cluster: leaves out what was queued under a lease this daemon no longer holds
  /// (docs/deployment.md §3), locking the group's leases until the transaction ends.
  void refuse_lost_chairs(std::vector<item>& group);
  void skip_stored_batches(std::vector<item>& group);
  void write_vitals(const std::vector<item>& group);
  void write_state(const std::vector<item>& group);
  void write_devices(const std::vector<item>& group);
  void write_reservations(const std::vector<item>& group);
  void write_bindings(const std::vector<item>& group);
  std::size_t remove_closed(engine::millis cutoff);
  /// Sets up a new session of the writer's connection: synchronous_commit on, and the database
  /// held for this daemon alone. Throws if another vigild holds it.
  void claim_database();

  postgres_options opts_;
  std::unique_ptr<pg::connection> db_;  // the writer thread's, once started
  std::uint64_t claimed_generation_ = 0;  // the connection generation claim_database() ran on
};

/// Reads of a PostgreSQL timeline on a connection of its own (read-only transactions).
class postgres_reader final : public reader {
 public:
  /// Connects; throws std::runtime_error with the reason if the database cannot be reached, is
  /// not a Vigil timeline, or has a schema this build does not read.
  explicit postgres_reader(const std::string& url);
  ~postgres_reader() override;
  postgres_reader(const postgres_reader&) = delete;
  postgres_reader& operator=(const postgres_reader&) = delete;

  int schema_version() override;
  std::map<std::string, std::uint64_t> device_seqs() override;
  std::vector<session_summary> sessions(std::size_t limit = 0, bool open_only = false) override;
  std::optional<session_summary> session(std::uint64_t id) override;
  std::vector<stored_sample> session_vitals(std::uint64_t session) override;
  std::vector<engine::event> session_events(std::uint64_t session) override;
  std::vector<engine::event> events_after(std::uint64_t after, std::size_t limit) override;
  std::size_t count_events(std::uint64_t after, std::uint64_t before, std::size_t cap) override;
  std::map<std::string, std::string> chair_bindings() override;
  std::vector<stored_checkpoint> checkpoints() override;
  id_floor ids() override;
  std::uint64_t last_event_id() override;
  id_range reserved() override;

 private:
  void add_session_details(std::vector<engine::event>& events);

  std::unique_ptr<pg::connection> db_;
};

}  // namespace vigil::store
