#pragma once

// One session as the exports see it: the timeline's summary, events and vitals, and what the
// exports derive from them (alarms from raise to clear, doses, notes, times as text). Pure:
// nothing here reads a file or a clock except load_session, through the reader it is given.

#include "daemon/engine/engine.hpp"
#include "daemon/model/vitals.hpp"
#include "daemon/store/timeline.hpp"
#include "daemon/wire/time.hpp"

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace vigil::report {

using engine::millis;

/// A session's whole record.
struct session_record {
  store::session_summary summary;
  std::vector<engine::event> events;         // in order
  std::vector<model::vital_sample> vitals;   // by kind, then time
};

/// Who made the export, and when (the exports never read a clock).
struct export_context {
  millis generated_ms = 0;
  std::string version;  // Vigil's version, e.g. "0.1.0"
};

/// Reads one session from the timeline; nullopt if the timeline has no such session.
std::optional<session_record> load_session(store::reader& reader, std::uint64_t id);

/// One alarm from raise to clear, gathered from its events.
struct alarm_record {
  std::uint64_t id = 0;
  std::string rule;
  engine::alarm_kind kind = engine::alarm_kind::physiological;
  engine::priority level = engine::priority::low;
  double value = 0;  // at raising
  std::string text;  // at raising
  millis raised_at = 0;
  std::optional<millis> first_ack_at;
  std::string first_ack_by;
  int acknowledgements = 0;
  int resoundings = 0;
  int highest_tier = -1;  // -1: never escalated
  std::string highest_responder;
  std::optional<millis> cleared_at;  // nullopt: still active at the end of the record
  std::string cleared_why;
};

/// The session's alarms in the order raised. Events of alarms raised before the record begins
/// are ignored.
std::vector<alarm_record> alarm_history(std::span<const engine::event> events);

/// A dose as marked.
struct dose_record {
  millis at = 0;
  std::string text;  // "<route> <dose>"
  std::string by;
  millis window_end = 0;
};

std::vector<dose_record> doses(std::span<const engine::event> events);

/// True when the sample may be trusted as a measurement (docs/alarms.md section 3.2).
bool usable(const model::vital_sample& s) noexcept;

/// The samples of one kind (a contiguous run of the record's vitals).
std::span<const model::vital_sample> series(const session_record& r, model::vital_kind kind);

/// The last instant the record covers: the close, or else its latest event or sample.
millis record_end(const session_record& r);

/// A title for people: "Alarm raised", "Dose marked", ...
std::string_view event_title(engine::event_type type) noexcept;
/// What the event says, in one line for people; `alarm` names the event's alarm ("A3", "alarm 17").
std::string event_detail(const engine::event& e, std::string_view alarm);

/// "2024-05-02T09:12:04.250Z" (RFC 3339, UTC, milliseconds), as on the wire.
using wire::rfc3339_utc;
/// "2024-05-02 09:12:04 UTC".
std::string date_time_utc(millis ms);
/// "09:12:04" (UTC).
std::string clock_utc(millis ms);
/// Signed minutes from `from` to `ms`, e.g. "+42 min", "-5 min", "+1 h 05 min".
std::string minutes_after(millis ms, millis from);
/// A duration, e.g. "2 h 14 min", "45 min", "30 s".
std::string duration_text(millis ms);
/// Names of the quality bits set, joined by '|', e.g. "artifact|low_perfusion"; "" for none.
std::string quality_names(std::uint32_t quality);

}  // namespace vigil::report
