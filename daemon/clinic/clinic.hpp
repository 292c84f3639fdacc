#pragma once

#include "daemon/engine/engine.hpp"
#include "daemon/ingest/sink.hpp"
#include "daemon/log/log.hpp"

#include <algorithm>
#include <array>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <vector>

namespace spdlog {
class logger;
}

namespace vigil::clinic {

/// Milliseconds since the Unix epoch, from the wall clock (or a test's fake one).
using wall_clock = std::function<engine::millis()>;

/// A chair's engine state, taken when it changed, with the daemon's wall time then.
struct chair_checkpoint {
  std::string chair;
  engine::millis saved_ms = 0;
  std::string state;
};

/// Whether what was handed to the recorder is saved: called once, on the thread that runs the
/// clinic, after the first transaction that holds it (false: not saved yet, it is retried).
using saved_callback = std::function<void(bool saved)>;

/// Where events and the checkpoints of the chairs they changed go, together (the timeline); the
/// callback, when given, is to be called once they are saved (as saved_callback says).
using state_recorder =
    std::function<void(const std::vector<engine::event>&, std::vector<chair_checkpoint>, saved_callback)>;

/// What came of an operator's command, told once its events are saved (as saved_callback says).
using command_callback = std::function<void(const engine::command_result& result, bool saved)>;

/// What a restart brought back.
struct recovery {
  std::size_t chairs = 0;
  std::size_t sessions = 0;
  std::size_t alarms = 0;
  std::vector<std::string> problems;  // checkpoints not restored, or restored with a change
};

/// Joins ingest to the engine: accepted samples drive the engine, device links become
/// connection events, and a live tick moves each chair's session time between samples.
/// Lives on the ingest thread.
///
/// Each chair's session time is its monitor's clock. Between samples it is carried
/// forward by the wall clock from the arrival of the chair's latest sample, so a monitor
/// whose clock is off by minutes still gets timers at the right moments.
class clinic final : public ingest::sample_sink {
 public:
  /// `now` reads the wall clock; `elapsed` a monotonic clock (ms), which carries session time
  /// forward between samples so that a step of the wall clock moves no session. Null: the
  /// system's steady clock.
  clinic(std::vector<engine::profile> profiles, std::string default_profile, ingest::sample_sink& next,
         wall_clock now, wall_clock elapsed = nullptr);

  /// A sample more than this far ahead of both the chair's clock and the daemon's wall clock is
  /// kept for the record but not given to the engine: one bad timestamp must not blind a chair.
  static constexpr engine::millis max_ahead_ms = 60 * engine::minutes_ms;

  void submit(const ingest::batch_view& batch, const std::shared_ptr<ingest::device_state>& device) override;
  void link_changed(std::string_view device_id, std::string_view chair_id, bool up) override;
  void cadences_declared(std::string_view device_id, std::string_view chair_id,
                         std::span<const ingest::declared_cadence> cadences) override;

  /// Moves chairs' session time forward by the wall clock: the next 1/`slices` of the chairs
  /// with a session (all of them by default), so that a large clinic's timers need not hold the
  /// I/O thread for one long moment. Every chair must be reached about once a second.
  void tick(std::size_t slices = 1);
  /// The timeline stopped (false) or resumed (true) being saved: every open session says so.
  void storage_changed(bool saving);
  /// The chair's session time now.
  engine::millis now_for(std::string_view chair) const;

  /// The engine, to read: only the clinic changes it (commands go through apply()).
  const engine::engine& alarms() const noexcept { return engine_; }

  /// Applies an operator's command to the engine at the chair's session time now, then
  /// publishes what it produced as publish() does: observers get the events at once, the
  /// recorder gets them with `done`, which is told the result once they are saved (at once when
  /// there is nothing to save or no recorder). A refused command is told at once too, unless
  /// the chair's timers fired meanwhile.
  engine::command_result apply(const engine::open_session& c, command_callback done = {});
  engine::command_result apply(const engine::override_predose& c, command_callback done = {});
  engine::command_result apply(const engine::acknowledge& c, command_callback done = {});
  engine::command_result apply(const engine::pause_audio& c, command_callback done = {});
  engine::command_result apply(const engine::add_note& c, command_callback done = {});
  engine::command_result apply(const engine::retake_baseline& c, command_callback done = {});
  /// The same for a command with a time of its own, `at` (none: the chair's time now), which
  /// the caller has checked against the session and the chair's time (control.md 8.3, 8.6).
  engine::command_result apply(const engine::mark_dose& c, std::optional<engine::millis> at,
                               command_callback done = {});
  engine::command_result apply(const engine::close_session& c, std::optional<engine::millis> at,
                               command_callback done = {});

  const std::string& default_profile() const noexcept { return default_profile_; }
  /// Event ids go on from here (above every id the timeline holds).
  void reserve_event_ids(std::uint64_t next) { next_event_id_ = std::max(next_event_id_, next); }
  /// The id the next event will get.
  std::uint64_t next_event_id() const noexcept { return next_event_id_; }
  /// Logs and hands out the events the engine produced since the last call, each given the
  /// next event id, after giving them,
  /// with checkpoints of the chairs that changed, to the recorder, if one is set.
  /// `origin`: when the sample that caused them arrived, if one did (for the hub's latency).
  /// `saved`: called once they are saved (an operator's command is answered then); at once, with
  /// true, when there is nothing to save or no recorder (nothing is kept on disk). Observers get
  /// the events at once either way: alarms never wait for the disk.
  std::vector<engine::event> publish(std::chrono::steady_clock::time_point origin = {}, saved_callback saved = {});
  /// Where events and checkpoints go as they happen (the timeline store).
  void record_state_with(state_recorder recorder) { recorder_ = std::move(recorder); }
  /// Who sees events (with their ids) and evaluated samples as they happen (the hub).
  using event_observer =
      std::function<void(const std::vector<engine::event>&, std::chrono::steady_clock::time_point origin)>;
  using vitals_observer =
      std::function<void(std::string_view chair, std::uint64_t session, std::span<const model::vital_sample>)>;
  void observe(event_observer events, vitals_observer vitals) {
    event_observer_ = std::move(events);
    vitals_observer_ = std::move(vitals);
  }

  /// Where reservations of ids go (the timeline). An id may reach a subscriber or an operator
  /// before its event is committed, so no id is handed out unless a saved reservation covers it:
  /// after a crash the ids start above every reservation and none is given twice.
  using id_reserver = std::function<void(engine::id_range through)>;
  /// How far ahead ids are reserved; a new block is asked for once fewer than half are left.
  static constexpr engine::id_range id_blocks{1'000, 100'000, 1'000'000};
  /// Sets the reserver, with the reservation already saved; from then on the clinic asks for
  /// more before its reserve runs low.
  void reserve_ids_with(id_reserver reserver, engine::id_range saved);
  /// A reservation up to `through` is saved.
  void ids_saved(engine::id_range through);
  /// The highest session, alarm and event ids handed out so far (0: none).
  engine::id_range handed_out() const noexcept;
  /// What a reservation made now would have to cover: the ids handed out plus a block of each.
  engine::id_range reservation_ahead() const noexcept;

  // --- cluster mode (docs/deployment.md §3) -------------------------------------------------

  /// Ids come in blocks from the cluster's database, between which other daemons take theirs:
  /// `taker` is asked for the next block once half of the current one is used, and
  /// id_block_granted() switches to it at once. `first`: the first ids of a block already taken.
  using block_taker = std::function<void()>;
  void take_id_blocks_with(block_taker taker, engine::id_range first);
  /// A new block, from `first` on for id_blocks of each kind: ids go on from there at once.
  void id_block_granted(engine::id_range first);
  /// Carries on a chair another daemon held, from its latest checkpoint (none: a chair new to
  /// the cluster), keeping this daemon's ids: as restore() does for one chair, then publishes
  /// what came due meanwhile. Problems (a checkpoint not restored) go to `problems`.
  void take_over(const std::optional<chair_checkpoint>& saved, std::vector<std::string>& problems);
  /// Forgets a chair this daemon no longer holds, without an event: another daemon carries it on.
  void give_up(std::string_view chair);
  /// Which chairs this daemon holds. Samples, links and cadences of any other chair drive no
  /// engine here (a device's last words after its chair moved): samples go on to the store,
  /// which refuses them. Unset: every chair.
  /// A command for any other chair is refused (command_error::chair_elsewhere), its message
  /// naming where the chair is held as `holder` describes it (" (daemon b at http=...)").
  void hold_chairs_with(std::function<bool(std::string_view chair)> held,
                        std::function<std::string(std::string_view chair)> holder = nullptr) {
    held_ = std::move(held);
    holder_ = std::move(holder);
  }

  /// Brings chairs back from their latest checkpoints after a restart, keeping new ids at or
  /// above the given ones. Each chair's session time goes on from its checkpoint by the wall
  /// time since it was taken, and every chair starts with its monitor disconnected: timers
  /// that came due meanwhile fire now, and a monitor that does not come back raises its alarm.
  recovery restore(const std::vector<chair_checkpoint>& saved, std::uint64_t next_session, std::uint64_t next_alarm);

  struct counters {
    std::uint64_t samples_out_of_order = 0;
    std::uint64_t samples_duplicate = 0;
    std::uint64_t samples_without_session = 0;
    std::uint64_t samples_far_ahead = 0;
    // Samples judged artefacts in context, by engine::artefact_reason (index 0 unused).
    std::array<std::uint64_t, 6> samples_judged{};
    std::uint64_t events = 0;
    std::array<std::uint64_t, 4> alarms_raised{};  // by priority (index 1 low .. 3 high)
  };
  const counters& stats() const noexcept { return stats_; }

 private:
  struct anchor {
    engine::millis session = 0;  // latest sample time on the chair's monitor clock
    engine::millis wall = 0;     // wall time it arrived
    engine::millis elapsed = 0;  // monotonic time it arrived
    bool skew_reported = false;
  };

  void note_skew(std::string_view chair, anchor& a);
  /// Applies a command at `at`, then publishes, telling `done` once saved.
  template <class Command>
  engine::command_result command(const Command& c, engine::millis at, command_callback done);
  /// Asks for more ids before the reserve runs low; says so once when ids run past what is saved.
  void keep_ids_reserved();

  engine::engine engine_;
  std::string default_profile_;
  ingest::sample_sink& next_;
  wall_clock now_;
  wall_clock elapsed_;
  state_recorder recorder_;
  event_observer event_observer_;
  vitals_observer vitals_observer_;
  std::shared_ptr<spdlog::logger> log_;
  std::map<std::string, anchor, std::less<>> anchors_;
  std::string tick_after_;  // the last chair the previous tick reached
  std::vector<model::vital_sample> plausible_;  // reused: a batch without its far-future samples
  std::vector<engine::engine::judged_sample> judged_;  // reused: the batch's samples judged artefacts
  std::vector<model::vital_sample> marked_;            // reused: the batch with its judged samples marked
  std::vector<model::vital_sample> stored_;            // reused: the same with the far-ahead samples, to store
  std::map<std::string, std::set<std::string>, std::less<>> links_;  // chair -> connected device ids
  counters stats_;
  std::uint64_t next_event_id_ = 1;
  id_reserver reserver_;
  engine::id_range requested_{};  // asked of the reserver
  engine::id_range saved_{};      // saved: ids up to these may be handed out
  bool beyond_saved_ = false;     // ids were handed out past saved_ (said once in the log)
  block_taker block_taker_;       // cluster mode: ids in blocks
  std::function<bool(std::string_view)> held_;  // cluster mode: the chairs held here
  std::function<std::string(std::string_view)> holder_;  // and where the others are, for people
  engine::id_range block_first_{};  // the first ids of the current block
  bool block_asked_ = false;      // the next block is asked for and not yet granted
};

/// The structured fields of an event's log record (docs/operations.md section 2): event,
/// chair, session; alarm, rule, priority and kind for alarm events; by for a command. They point
/// into the event.
struct log_field_list {
  std::array<log::field, 8> fields;
  std::size_t size = 0;
  operator std::span<const log::field>() const { return {fields.data(), size}; }
};
log_field_list log_fields(const engine::event& e);

/// A one-line description of an event, for logs.
std::string describe(const engine::event& e);

}  // namespace vigil::clinic
