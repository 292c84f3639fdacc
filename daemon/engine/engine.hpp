#pragma once

// The alarm engine: per-chair session state machines and alarm rules. Pure and
// deterministic: samples, operator commands and clock advances in, events out. It never
// reads a clock; time is session time, taken from sample timestamps and from advance().
// docs/alarms.md specifies every rule precisely.

#include "daemon/engine/profile.hpp"
#include "daemon/model/vitals.hpp"

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace vigil::engine {

enum class alarm_kind : std::uint8_t { physiological = 1, technical = 2, advisory = 3 };

enum class event_type : std::uint8_t {
  session_opened = 1,
  phase_changed,
  baseline_set,
  predose_override,
  dose_marked,
  alarm_raised,
  alarm_escalated,
  alarm_acknowledged,
  alarm_resounded,
  alarm_cleared,
  audio_paused,
  audio_resumed,
  session_closed,
  note_added,
};

/// One thing that happened. Fields that do not apply to a type keep their defaults.
struct event {
  std::uint64_t id = 0;       // the daemon's event id, given when published (0 before); feeds resume by it
  event_type type = event_type::session_opened;
  millis at = 0;
  std::string chair;
  std::uint64_t session = 0;  // 0 for chair advisories outside a session
  std::uint64_t alarm = 0;
  std::string rule;           // alarm rule id
  alarm_kind kind = alarm_kind::physiological;
  priority level = priority::low;
  phase from = phase::baseline;
  phase to = phase::baseline;
  std::string who;            // the operator behind a command
  std::string responder;      // escalation tier reached
  int tier = 0;
  double value = 0;           // the value behind an alarm, or a NEWS2 total
  millis until = 0;           // end of an audio pause or acknowledgement silence, or of the
                              // observation window (dose_marked)
  std::string text;           // detail for people
  std::string patient_ref;    // session_opened only
  std::string profile;        // session_opened only
};

/// One of each id the daemon hands out: session, alarm and event.
struct id_range {
  std::uint64_t session = 0;
  std::uint64_t alarm = 0;
  std::uint64_t event = 0;
  friend bool operator==(const id_range&, const id_range&) = default;
};

// --- operator commands ----------------------------------------------------------------------

struct open_session {
  std::string chair;
  std::string patient_ref;
  std::string profile = "generic";
  std::string by;
};
struct override_predose {
  std::string chair;
  std::string by;
  std::string reason;
};
struct mark_dose {
  std::string chair;
  std::string route;  // "iv", "im", "intranasal", "sublingual", ...
  std::string dose;   // free text, e.g. "0.5 mg/kg over 40 min"
  std::string by;
};
struct acknowledge {
  std::string chair;
  std::uint64_t alarm = 0;
  std::string by;
};
struct pause_audio {
  std::string chair;
  millis duration_ms = 2 * minutes_ms;
  std::string by;
};
struct close_session {
  std::string chair;
  std::string by;
  bool abort = false;
  std::string reason;
};

/// Starts the baseline again, e.g. after artefact readings: before the dose its window restarts;
/// after it, the baseline is computed anew from the window before the command.
struct retake_baseline {
  std::string chair;
  std::string by;
  std::string reason;
};

/// A note for the session's record, by a clinician.
struct add_note {
  std::string chair;
  std::string text;
  std::string by;
};

enum class command_error : std::uint8_t {
  none = 0,
  invalid_argument,
  unknown_profile,
  no_open_session,
  session_already_open,
  wrong_phase,
  predose_gate,     // pre-dose BP advisory unacknowledged, or no pre-dose reading
  unknown_alarm,
  chair_elsewhere,  // cluster mode: another daemon holds the chair (docs/deployment.md §3)
};

struct command_result {
  command_error error = command_error::none;
  std::string message;
  std::uint64_t session = 0;
  bool ok() const noexcept { return error == command_error::none; }
};

/// What became of one sample.
enum class sample_outcome : std::uint8_t {
  applied,        // evaluated by the rules
  not_evaluated,  // kept for the record; flagged (artifact, sensor off) so no physiological rule saw it
  no_session,     // the chair has no open session: kept, advisory raised
  out_of_order,   // older than the latest sample of that kind from the same source: not evaluated
  duplicate,      // same source, kind and time as the latest: not evaluated
  artefact,       // sent as good, judged an artefact in context (alarms.md 3.6): kept, drives no rule
};

/// Why a sample was judged an artefact (alarms.md 3.6). Stored with the sample (quality bits
/// 8-15, with the judged bit 16).
enum class artefact_reason : std::uint8_t {
  none = 0,
  zero_no_signal = 1,       // a 0: the device's "no signal"
  rates_disagree = 2,       // heart rate and pulse rate disagree; this one is further from normal
  impossible_step = 3,      // too far from its source's current value and its previous reading
  cuff_implausible = 4,     // a cuff part below what a pressure can be
  cuff_inconsistent = 5,    // the parts of one cuff reading contradict each other
};
std::string_view name(artefact_reason r) noexcept;

/// An alarm as it stands now.
struct alarm_view {
  std::uint64_t id = 0;
  std::string rule;
  alarm_kind kind = alarm_kind::physiological;
  priority level = priority::low;
  millis raised_at = 0;
  bool condition = true;      // false once the condition is gone (a latched alarm)
  bool acknowledged = false;
  std::string acknowledged_by;
  int tier = -1;              // highest escalation tier reached
  bool audible = true;        // neither acknowledged nor paused
  double value = 0;
  std::string text;
  std::string responder;      // the responder of the tier reached; empty before the first
};

struct session_view {
  std::uint64_t id = 0;
  std::string chair;
  std::string patient_ref;
  std::string profile;
  phase current = phase::baseline;
  millis opened_at = 0;
  std::optional<millis> dose_at;
  std::optional<millis> window_end;  // dose_at + the profile's observation time
  millis paused_until = 0;
  // The baseline in force with its quality per kind, as in baseline_set (alarms.md 4.3); empty
  // before the first dose.
  std::string baseline;
  std::vector<alarm_view> alarms;
};

class engine {
 public:
  /// `profiles` must be non-empty; open_session picks one by id.
  explicit engine(std::vector<profile> profiles);
  ~engine();
  engine(engine&&) noexcept;
  engine& operator=(engine&&) noexcept;

  /// Feeds one sample for `chair` from `source`, the device that sent it; sources never mask each other.
  sample_outcome on_sample(std::string_view chair, const model::vital_sample& sample, std::string_view source = {});

  /// A sample judged an artefact, by its index in a batch.
  struct judged_sample {
    std::size_t index = 0;
    artefact_reason reason = artefact_reason::none;
  };

  /// How many samples of a batch met each outcome, indexed by sample_outcome.
  using outcome_counts = std::array<std::uint32_t, 6>;
  /// Feeds a batch of samples from one source for one chair, in order; the same as on_sample for
  /// each, except that the parts of a cuff reading in the batch are judged together (alarms.md 3.6).
  /// With `judged`, the samples judged artefacts are listed there (cleared first).
  outcome_counts on_samples(std::string_view chair, std::span<const model::vital_sample> samples,
                            std::string_view source = {}, std::vector<judged_sample>* judged = nullptr);
  /// `source`, serving `chair`, declares that it sends `kind` every `interval` ms (its Hello,
  /// alarms.md 3.5); 0 withdraws a declaration. Stands in for the learned cadence until the
  /// source's second sample of the kind. Raises nothing; moves no clock.
  void declare_cadence(std::string_view chair, std::string_view source, model::vital_kind kind, millis interval);
  /// The chair's monitor connected or disconnected at `at`.
  void on_device(std::string_view chair, bool connected, millis at);
  /// Whether the session timeline is being saved. While it is not, every open session (and
  /// every session opened meanwhile) carries the technical alarm timeline_not_saved, raised
  /// and cleared at each chair's current time.
  void on_storage(bool saved);
  /// Moves every chair's clock to at least `at`, firing timers due by then.
  void advance(millis at);
  /// Moves one chair's clock to at least `at`.
  void advance(std::string_view chair, millis at);

  command_result apply(const open_session& c, millis at);
  command_result apply(const override_predose& c, millis at);
  command_result apply(const mark_dose& c, millis at);
  command_result apply(const acknowledge& c, millis at);
  command_result apply(const pause_audio& c, millis at);
  command_result apply(const close_session& c, millis at);
  command_result apply(const add_note& c, millis at);
  command_result apply(const retake_baseline& c, millis at);

  /// Events produced since the last call, in order.
  std::vector<event> take_events();
  /// Events waiting to be taken.
  const std::vector<event>& pending_events() const noexcept;

  /// The open session on `chair`, if any.
  std::optional<session_view> session(std::string_view chair) const;
  /// Every chair's open session.
  std::vector<session_view> sessions() const;
  /// The chair of open session `session`, if it is open (found by an index, not a listing).
  std::optional<std::string> chair_of_session(std::uint64_t session) const;
  /// The chairs with an open session, in order (cheaper than sessions()).
  std::vector<std::string> session_chairs() const;
  /// Up to `limit` chairs with an open session whose ids come after `after`, in id order.
  std::vector<std::string> session_chairs(std::string_view after, std::size_t limit) const;
  /// How many chairs have an open session.
  std::size_t session_count() const noexcept;
  /// Advisories of chairs without a session (a chair streaming with no open session).
  std::vector<std::pair<std::string, alarm_view>> chair_advisories() const;
  /// The id of the chair's open session; 0 when none.
  std::uint64_t session_id(std::string_view chair) const;
  /// The chair's clock (its latest sample or advance), if the chair is known.
  std::optional<millis> clock(std::string_view chair) const;

  struct latest_vital {
    model::vital_kind kind = model::vital_kind::heart_rate;
    millis at = 0;
    double value = 0;
  };
  /// The newest usable value of each kind, from any source (of the open session, if one is open).
  std::vector<latest_vital> latest_vitals(std::string_view chair) const;

  // --- checkpoints: what a restart needs to carry on as before -------------------------------

  /// Chairs whose state changed since the last call, in the order they first changed.
  std::vector<std::string> take_changed();
  /// The chair's whole state, serialized (proto/vigil/v1/checkpoint.proto); empty if unknown.
  std::string checkpoint(std::string_view chair) const;

  struct restore_result {
    bool restored = false;
    std::string chair;
    std::string message;  // why not, when not restored; otherwise a warning or empty
  };
  /// Replaces a chair's state with a checkpoint's. A session whose profile is gone goes on
  /// with `fallback_profile`. Emits no events; timers due meanwhile fire on the next advance.
  /// `raise_ids` false: the engine's next ids stay as they are, though the checkpoint's ids are
  /// higher (a cluster's daemons take ids in blocks: the block of the daemon that wrote the
  /// checkpoint is not this one's to continue).
  restore_result restore(std::string_view checkpoint, std::string_view fallback_profile, bool raise_ids = true);
  /// Forgets a chair: its session, alarms and timers go without an event (another daemon of a
  /// cluster holds the chair now, and carries on from its checkpoint). False if unknown.
  bool forget(std::string_view chair);
  /// Keeps new session and alarm ids at or above these (ids the timeline already holds).
  void reserve_ids(std::uint64_t next_session, std::uint64_t next_alarm);
  /// The session and alarm ids the engine will give next (event stays 0: the clinic numbers events).
  id_range next_ids() const noexcept;

 private:
  struct state;
  std::unique_ptr<state> state_;
};

std::string_view name(event_type type) noexcept;
std::string_view name(phase p) noexcept;
std::string_view name(priority p) noexcept;
std::string_view name(alarm_kind k) noexcept;
std::string_view name(command_error e) noexcept;

}  // namespace vigil::engine
