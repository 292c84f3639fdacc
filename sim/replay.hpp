#pragma once

// Replay of recorded vital signs from CSV: columns mapped to vital kinds by their header, with
// units and markers per column (no sample, sensor off, artifact), one row per sample interval or
// a time column.

#include "vigil/v1/device.pb.h"

#include <cstdint>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace vigil::sim {

/// How one CSV column becomes samples of one vital kind.
struct replay_column {
  std::string header;
  std::string unit;     // "" for the kind's own unit; see docs/simulator.md for the others
  std::string missing;  // a cell equal to this (after trimming) is no sample; an empty cell always is
  bool missing_given = false;
  std::string sensor_off;  // a cell equal to this is a sample flagged sensor-off, value 0; "": none
  std::string artifact;    // a cell equal to this is a sample flagged artifact, value 0; "": none
};

/// Ends a recorded value that is an artifact, kept with its value: "277!art".
inline constexpr std::string_view artifact_suffix = "!art";

struct replay_spec {
  std::string file;                              // the CSV file
  std::map<v1::VitalKind, replay_column> columns;
  std::int64_t interval_ms = 1000;               // between rows, when there is no time column
  std::string time_header;                       // optional: a column with each row's time
  std::string time_unit = "s";                   // s, ms or min, from the start of the recording
};

/// One sample of a row: its kind, its value in the kind's unit, and its v1::QualityFlag bits.
struct replay_value {
  v1::VitalKind kind = v1::VITAL_KIND_UNSPECIFIED;
  double value = 0;
  std::uint32_t quality = v1::QUALITY_OK;

  bool operator==(const replay_value&) const = default;
};

/// One row of a recording: its time from the start, and the samples in it.
struct replay_row {
  std::int64_t offset_ms = 0;
  std::vector<replay_value> values;
};

class replay_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// The vital kind a name such as "heart_rate" or "nibp_systolic" stands for.
std::optional<v1::VitalKind> vital_from(const std::string& name);
/// The factor that turns a value in `unit` into the kind's own unit (bpm, %, mmHg, /min);
/// nullopt for a unit the kind does not take.
std::optional<double> unit_factor(v1::VitalKind kind, const std::string& unit);

/// Parses a recording; throws replay_error naming `source`, the line and the column of the
/// first problem. Rows come out in order of time; a time going back is an error.
std::vector<replay_row> parse_replay_csv(const std::string& text, const replay_spec& spec, const std::string& source);
/// Reads spec.file and parses it.
std::vector<replay_row> load_replay(const replay_spec& spec);

/// Plays a recording second by second, as the monitor in a chair would send it.
class replay_source {
 public:
  explicit replay_source(std::vector<replay_row> rows) : rows_(std::move(rows)) {}
  /// Appends the rows recorded in the second that starts at `t_ms`, each stamped
  /// `origin_ms` + its own offset.
  void second(std::int64_t t_ms, std::int64_t origin_ms, google::protobuf::RepeatedPtrField<v1::Sample>& out);
  /// The recording's length: the last row's offset plus one second.
  std::int64_t length_ms() const { return rows_.empty() ? 0 : rows_.back().offset_ms + 1000; }

 private:
  std::vector<replay_row> rows_;
  std::size_t next_ = 0;
};

}  // namespace vigil::sim
