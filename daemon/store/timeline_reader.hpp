#pragma once

// Reading the session timeline: a read-only connection of its own, so reads run beside the
// writer (WAL) or with no daemon at all (vigilctl on a clinic's data directory).

#include "daemon/engine/engine.hpp"
#include "daemon/model/vitals.hpp"

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

struct sqlite3;

namespace vigil::store {

/// The schema this build writes and reads; timeline_store migrates older files up to it.
inline constexpr int current_schema_version = 3;

/// A stored sample, as read back.
struct stored_sample {
  model::vital_sample sample;
  std::string chair_id;
};

/// One session as the timeline's index holds it. Times are session time (ms since the epoch).
struct session_summary {
  std::uint64_t id = 0;
  std::string chair_id;
  std::string patient_ref;
  std::string profile;
  std::string opened_by;
  engine::millis opened_ms = 0;
  std::optional<engine::millis> dose_ms;        // the first dose
  std::optional<engine::millis> window_end_ms;  // end of the observation window of the latest dose
  std::optional<engine::millis> ready_ms;       // first ready for discharge assessment
  std::optional<engine::millis> closed_ms;
  std::string outcome;                          // "open", "closed" or "aborted"
};

using engine::id_range;

struct id_floor {
  std::uint64_t next_session = 1;
  std::uint64_t next_alarm = 1;
  std::uint64_t next_event = 1;
};

/// The engine state of one chair as last committed, with the daemon's wall time then.
struct stored_checkpoint {
  std::string chair_id;
  engine::millis saved_ms = 0;
  std::string state;
};

class timeline_reader {
 public:
  /// Opens `path` read-only; throws std::runtime_error with the reason if it is missing, is not
  /// a Vigil timeline, or has a schema this build does not read.
  explicit timeline_reader(const std::string& path);
  ~timeline_reader();
  timeline_reader(const timeline_reader&) = delete;
  timeline_reader& operator=(const timeline_reader&) = delete;

  int schema_version();
  /// The highest committed batch seq of every device (to resume dedupe after a restart).
  std::map<std::string, std::uint64_t> device_seqs();
  /// Sessions, newest first; at most `limit` (0: all).
  std::vector<session_summary> sessions(std::size_t limit = 0, bool open_only = false);
  std::optional<session_summary> session(std::uint64_t id);
  /// Every stored sample of a session, by kind then time.
  std::vector<stored_sample> session_vitals(std::uint64_t session);
  /// Every stored event of a session, in order.
  std::vector<engine::event> session_events(std::uint64_t session);
  /// Events with an id above `after`, in id order, at most `limit` (for feeds resuming).
  std::vector<engine::event> events_after(std::uint64_t after, std::size_t limit);
  /// Chair -> the device with no configured chair that serves it (timeline_store::bind_chair).
  std::map<std::string, std::string> chair_bindings();
  /// The latest engine checkpoint of every chair.
  std::vector<stored_checkpoint> checkpoints();

  /// The lowest session, alarm and event ids neither in the timeline nor reserved: ids up to
  /// a reservation may have been handed out before a crash, so they are never given again.
  id_floor ids();
  /// The newest event the timeline holds; 0 when none.
  std::uint64_t last_event_id();
  /// What the timeline holds of reservations alone (0 where none was made).
  id_range reserved();

 private:
  std::string path_;
  sqlite3* db_ = nullptr;
};

}  // namespace vigil::store
