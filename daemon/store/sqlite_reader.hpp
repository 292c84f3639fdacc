#pragma once

// Reading the session timeline: a read-only connection of its own, so reads run beside the
// writer (WAL) or with no daemon at all (vigilctl on a clinic's data directory).

#include "daemon/store/timeline.hpp"

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

struct sqlite3;

namespace vigil::store {

/// The schema this build writes and reads; sqlite_timeline migrates older files up to it.
inline constexpr int current_schema_version = 3;

/// Reads of a SQLite timeline file.
class sqlite_reader final : public reader {
 public:
  /// Opens `path` read-only; throws std::runtime_error with the reason if it is missing, is not
  /// a Vigil timeline, or has a schema this build does not read.
  explicit sqlite_reader(const std::string& path);
  ~sqlite_reader() override;
  sqlite_reader(const sqlite_reader&) = delete;
  sqlite_reader& operator=(const sqlite_reader&) = delete;

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
  std::string path_;
  sqlite3* db_ = nullptr;
};

}  // namespace vigil::store
