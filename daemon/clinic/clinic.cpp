#include "daemon/clinic/clinic.hpp"

#include "daemon/ingest/device_registry.hpp"
#include "daemon/log/log.hpp"
#include "daemon/report/wording.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>

namespace vigil::clinic {

namespace {
engine::millis steady_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}
}  // namespace

clinic::clinic(std::vector<engine::profile> profiles, std::string default_profile, ingest::sample_sink& next,
               wall_clock now, wall_clock elapsed)
    : engine_(std::move(profiles)),
      default_profile_(std::move(default_profile)),
      next_(next),
      now_(std::move(now)),
      elapsed_(elapsed ? std::move(elapsed) : wall_clock(steady_ms)),
      log_(log::component_logger("clinic")) {}

void clinic::submit(const ingest::batch_view& batch, const std::shared_ptr<ingest::device_state>& device) {
  if (held_ && !held_(batch.chair_id)) {
    next_.submit(batch, device);
    return;
  }
  // Far-future timestamps would move the chair's clock past every later sample.
  std::span<const model::vital_sample> evaluate = batch.samples;
  const engine::millis horizon = std::max(engine_.clock(batch.chair_id).value_or(0), now_()) + max_ahead_ms;
  const bool any_far = std::any_of(batch.samples.begin(), batch.samples.end(),
                                   [&](const model::vital_sample& s) { return s.time_ms > horizon; });
  if (any_far) {
    plausible_.clear();
    for (const auto& s : batch.samples) {
      if (s.time_ms <= horizon) plausible_.push_back(s);
    }
    const auto dropped = batch.samples.size() - plausible_.size();
    stats_.samples_far_ahead += dropped;
    log_->warn("chair {}: {} samples stamped more than {} min ahead of its clock and the daemon's were kept but "
               "not evaluated (device {})",
               batch.chair_id, dropped, max_ahead_ms / engine::minutes_ms, batch.device_id);
    evaluate = plausible_;
  }
  // Each device is a source of its own: a second device on the chair never masks the first's alarms.
  const auto outcomes = engine_.on_samples(batch.chair_id, evaluate, batch.device_id, &judged_);
  if (!judged_.empty()) {
    // Stored and shown as judged, with the reason (alarms.md 3.6): bit 16, reason in bits 8-15.
    marked_.assign(evaluate.begin(), evaluate.end());
    for (const auto& j : judged_) {
      const auto reason = static_cast<std::uint32_t>(j.reason);
      marked_[j.index].quality |= model::quality::judged_artefact | (reason << model::quality::reason_shift);
      ++stats_.samples_judged[std::min<std::size_t>(reason, stats_.samples_judged.size() - 1)];
    }
    evaluate = marked_;
  }
  stats_.samples_out_of_order += outcomes[static_cast<std::size_t>(engine::sample_outcome::out_of_order)];
  stats_.samples_duplicate += outcomes[static_cast<std::size_t>(engine::sample_outcome::duplicate)];
  stats_.samples_without_session += outcomes[static_cast<std::size_t>(engine::sample_outcome::no_session)];
  engine::millis latest = 0;
  for (const auto& sample : evaluate) latest = std::max(latest, sample.time_ms);
  if (latest > 0) {
    auto it = anchors_.find(batch.chair_id);
    if (it == anchors_.end()) it = anchors_.emplace(std::string(batch.chair_id), anchor{}).first;
    auto& a = it->second;
    if (latest >= a.session) {
      a.session = latest;
      a.wall = now_();
      a.elapsed = elapsed_();
      note_skew(batch.chair_id, a);
    }
  }
  publish(batch.arrived);
  ingest::batch_view forwarded = batch;
  forwarded.session = engine_.session_id(batch.chair_id);
  if (!judged_.empty()) {
    // The timeline keeps the judged samples marked too (the report and the station's charts
    // read it), and the far-ahead ones, which were not evaluated, as they came.
    if (!any_far) {
      forwarded.samples = marked_;
    } else {
      stored_.assign(batch.samples.begin(), batch.samples.end());
      std::size_t k = 0;
      for (auto& s : stored_) {
        if (s.time_ms <= horizon) s.quality = marked_[k++].quality;
      }
      forwarded.samples = stored_;
    }
  }
  if (vitals_observer_) vitals_observer_(batch.chair_id, forwarded.session, evaluate);
  next_.submit(forwarded, device);
}

void clinic::note_skew(std::string_view chair, anchor& a) {
  // Session time is the monitor's clock; a monitor far off the daemon's clock still alarms on
  // its own timeline, but a session opened before its first sample started on the daemon's.
  constexpr engine::millis report_above = 30 * engine::seconds_ms;
  constexpr engine::millis settled_below = 5 * engine::seconds_ms;
  const engine::millis skew = a.session - a.wall;
  if (!a.skew_reported && std::abs(skew) > report_above) {
    a.skew_reported = true;
    log_->warn("chair {}: monitor clock is {} s {} the daemon's; check the monitor's time source", chair,
               std::abs(skew) / engine::seconds_ms, skew > 0 ? "ahead of" : "behind");
  } else if (a.skew_reported && std::abs(skew) < settled_below) {
    a.skew_reported = false;
    log_->info("chair {}: monitor clock agrees with the daemon's again", chair);
  }
}

void clinic::link_changed(std::string_view device_id, std::string_view chair_id, bool up) {
  if (held_ && !held_(chair_id)) return;
  auto it = links_.find(chair_id);
  if (it == links_.end()) it = links_.emplace(std::string(chair_id), std::set<std::string>{}).first;
  auto& devices = it->second;
  const bool was_connected = !devices.empty();
  if (up) {
    devices.emplace(device_id);
  } else {
    devices.erase(std::string(device_id));
  }
  if (was_connected != !devices.empty()) {
    engine_.on_device(chair_id, !devices.empty(), now_for(chair_id));
    publish();
  }
}

void clinic::cadences_declared(std::string_view device_id, std::string_view chair_id,
                               std::span<const ingest::declared_cadence> cadences) {
  if (held_ && !held_(chair_id)) return;
  // Every streamed kind: the declared interval, or 0 to withdraw an earlier Hello's.
  for (const auto kind : {model::vital_kind::heart_rate, model::vital_kind::pulse_rate, model::vital_kind::spo2,
                          model::vital_kind::respiratory_rate}) {
    engine::millis every = 0;
    for (const auto& c : cadences) {
      if (c.kind == kind) every = c.interval_ms;
    }
    engine_.declare_cadence(chair_id, device_id, kind, every);
  }
  publish();  // a declaration changes the chair's state: its checkpoint goes with the next write
}

engine::millis clinic::now_for(std::string_view chair) const {
  auto it = anchors_.find(chair);
  if (it == anchors_.end()) {
    const engine::millis wall = now_();
    return std::max(wall, engine_.clock(chair).value_or(wall));
  }
  // Carried forward by the monotonic clock: a step of the wall clock moves no session.
  return it->second.session + (elapsed_() - it->second.elapsed);
}

void clinic::tick(std::size_t slices) {
  const std::size_t total = engine_.session_count();
  std::size_t left = slices <= 1 ? total : (total + slices - 1) / slices;
  bool wrapped = false;
  while (left > 0) {
    const auto chairs = engine_.session_chairs(tick_after_, left);
    for (const auto& chair : chairs) engine_.advance(chair, now_for(chair));
    left -= chairs.size();
    if (left == 0) {
      tick_after_ = chairs.back();
    } else {
      // Past the last chair: go on from the first, once.
      tick_after_.clear();
      if (wrapped) break;
      wrapped = true;
    }
  }
  publish();
}

void clinic::storage_changed(bool saving) {
  // Raised or cleared at each chair's time now, not at its last sample.
  for (const auto& chair : engine_.session_chairs()) engine_.advance(chair, now_for(chair));
  engine_.on_storage(saving);
  publish();
}

template <class Command>
engine::command_result clinic::command(const Command& c, engine::millis at, command_callback done) {
  if (held_ && !held_(c.chair)) {
    // Cluster mode: applied here, it would start a second record of a chair another daemon
    // carries on; the store would refuse it anyway.
    engine::command_result refused{engine::command_error::chair_elsewhere,
                                   fmt::format("chair '{}' is held by another daemon of the cluster{}; send the command "
                                               "there (docs/deployment.md section 3)",
                                               c.chair, holder_ ? holder_(c.chair) : std::string()),
                                   0};
    if (done) done(refused, true);
    return refused;
  }
  auto result = engine_.apply(c, at);
  saved_callback saved;
  if (done) saved = [result, done = std::move(done)](bool ok) { done(result, ok); };
  publish({}, std::move(saved));
  return result;
}

engine::command_result clinic::apply(const engine::open_session& c, command_callback done) {
  return command(c, now_for(c.chair), std::move(done));
}
engine::command_result clinic::apply(const engine::override_predose& c, command_callback done) {
  return command(c, now_for(c.chair), std::move(done));
}
engine::command_result clinic::apply(const engine::acknowledge& c, command_callback done) {
  return command(c, now_for(c.chair), std::move(done));
}
engine::command_result clinic::apply(const engine::pause_audio& c, command_callback done) {
  return command(c, now_for(c.chair), std::move(done));
}
engine::command_result clinic::apply(const engine::add_note& c, command_callback done) {
  return command(c, now_for(c.chair), std::move(done));
}
engine::command_result clinic::apply(const engine::retake_baseline& c, command_callback done) {
  return command(c, now_for(c.chair), std::move(done));
}
engine::command_result clinic::apply(const engine::mark_dose& c, std::optional<engine::millis> at,
                                     command_callback done) {
  return command(c, at ? *at : now_for(c.chair), std::move(done));
}
engine::command_result clinic::apply(const engine::close_session& c, std::optional<engine::millis> at,
                                     command_callback done) {
  return command(c, at ? *at : now_for(c.chair), std::move(done));
}

std::vector<engine::event> clinic::publish(std::chrono::steady_clock::time_point origin, saved_callback saved) {
  auto events = engine_.take_events();
  stats_.events += events.size();
  for (auto& e : events) e.id = next_event_id_++;
  const auto changed = engine_.take_changed();
  if (recorder_ && (!events.empty() || !changed.empty())) {
    std::vector<chair_checkpoint> checkpoints;
    checkpoints.reserve(changed.size());
    const engine::millis wall = now_();
    for (const auto& chair : changed) checkpoints.push_back({chair, wall, engine_.checkpoint(chair)});
    recorder_(events, std::move(checkpoints), std::move(saved));
    saved = nullptr;
  }
  if (!events.empty() || !changed.empty()) keep_ids_reserved();
  if (event_observer_ && !events.empty()) event_observer_(events, origin);
  for (const auto& e : events) {
    if (e.type == engine::event_type::alarm_raised) ++stats_.alarms_raised[static_cast<std::size_t>(e.level)];
    // Described only when it is logged: most events of a busy clinic are below the log level.
    const auto level = e.type == engine::event_type::alarm_raised && e.level == engine::priority::high
                           ? spdlog::level::warn
                           : spdlog::level::info;
    if (log_->should_log(level)) log::write(*log_, level, log_fields(e), describe(e));
  }
  if (saved) saved(true);  // nothing to save, or nowhere to save it
  return events;
}

engine::id_range clinic::handed_out() const noexcept {
  const auto next = engine_.next_ids();
  return {next.session - 1, next.alarm - 1, next_event_id_ - 1};
}

engine::id_range clinic::reservation_ahead() const noexcept {
  const auto used = handed_out();
  return {used.session + id_blocks.session, used.alarm + id_blocks.alarm, used.event + id_blocks.event};
}

void clinic::reserve_ids_with(id_reserver reserver, engine::id_range saved) {
  reserver_ = std::move(reserver);
  requested_ = saved;
  saved_ = saved;
  beyond_saved_ = false;
  keep_ids_reserved();
}

void clinic::ids_saved(engine::id_range through) {
  saved_ = {std::max(saved_.session, through.session), std::max(saved_.alarm, through.alarm),
            std::max(saved_.event, through.event)};
  keep_ids_reserved();
}

void clinic::take_id_blocks_with(block_taker taker, engine::id_range first) {
  block_taker_ = std::move(taker);
  reserver_ = nullptr;
  beyond_saved_ = false;
  id_block_granted(first);
}

void clinic::id_block_granted(engine::id_range first) {
  // Blocks only grow: each lies above every block taken before it, by any daemon.
  engine_.reserve_ids(first.session, first.alarm);
  next_event_id_ = std::max(next_event_id_, first.event);
  block_first_ = first;
  saved_ = {first.session + id_blocks.session - 1, first.alarm + id_blocks.alarm - 1, first.event + id_blocks.event - 1};
  block_asked_ = false;
  keep_ids_reserved();
}

void clinic::take_over(const std::optional<chair_checkpoint>& saved, std::vector<std::string>& problems) {
  if (saved) {
    const auto r = engine_.restore(saved->state, default_profile_, /*raise_ids=*/false);
    if (!r.restored) {
      problems.push_back(fmt::format("chair {}: checkpoint not restored: {}", saved->chair, r.message));
    } else {
      if (!r.message.empty()) problems.push_back(fmt::format("chair {}: {}", r.chair, r.message));
      const engine::millis wall = now_();
      const engine::millis clock = engine_.clock(r.chair).value_or(wall);
      auto& a = anchors_[r.chair];
      a = anchor{};
      a.session = clock + std::max<engine::millis>(0, wall - saved->saved_ms);
      a.wall = wall;
      a.elapsed = elapsed_();
      // Its monitor comes back to this daemon; until it does, the chair counts as disconnected.
      engine_.on_device(r.chair, false, a.session);
    }
  }
  publish();
}

void clinic::give_up(std::string_view chair) {
  engine_.forget(chair);
  if (const auto a = anchors_.find(chair); a != anchors_.end()) anchors_.erase(a);
  if (const auto l = links_.find(chair); l != links_.end()) links_.erase(l);
}

void clinic::keep_ids_reserved() {
  if (block_taker_) {
    const auto used = handed_out();
    const auto half_used = [](std::uint64_t used_id, std::uint64_t first, std::uint64_t block) {
      return used_id + 1 >= first + block / 2;
    };
    if (!block_asked_ && (half_used(used.session, block_first_.session, id_blocks.session) ||
                          half_used(used.alarm, block_first_.alarm, id_blocks.alarm) ||
                          half_used(used.event, block_first_.event, id_blocks.event))) {
      block_asked_ = true;
      block_taker_();
    }
    const bool beyond = used.session > saved_.session || used.alarm > saved_.alarm || used.event > saved_.event;
    if (beyond && !beyond_saved_) {
      log_->error("ids are being handed out past this daemon's block (session {}, alarm {}, event {}; the block ends "
                  "at {}, {}, {}): the cluster's database gives no new block, and another daemon may give these ids "
                  "too", used.session, used.alarm, used.event, saved_.session, saved_.alarm, saved_.event);
    }
    beyond_saved_ = beyond;
    return;
  }
  if (!reserver_) return;
  const auto used = handed_out();
  const auto low = [](std::uint64_t used_id, std::uint64_t requested, std::uint64_t block) {
    return requested < used_id + block / 2;
  };
  if (low(used.session, requested_.session, id_blocks.session) || low(used.alarm, requested_.alarm, id_blocks.alarm) ||
      low(used.event, requested_.event, id_blocks.event)) {
    const auto ahead = reservation_ahead();
    requested_ = {std::max(requested_.session, ahead.session), std::max(requested_.alarm, ahead.alarm),
                  std::max(requested_.event, ahead.event)};
    reserver_(requested_);
  }
  const bool beyond = used.session > saved_.session || used.alarm > saved_.alarm || used.event > saved_.event;
  if (beyond && !beyond_saved_) {
    log_->error("ids are being handed out past the last saved reservation (session {}, alarm {}, event {}; saved up "
                "to {}, {}, {}): the timeline is not saving, and after a crash now an id could name two things",
                used.session, used.alarm, used.event, saved_.session, saved_.alarm, saved_.event);
  } else if (!beyond && beyond_saved_) {
    log_->info("ids are covered by a saved reservation again");
  }
  beyond_saved_ = beyond;
}

recovery clinic::restore(const std::vector<chair_checkpoint>& saved, std::uint64_t next_session,
                         std::uint64_t next_alarm) {
  recovery out;
  engine_.reserve_ids(next_session, next_alarm);
  const engine::millis wall = now_();
  for (const auto& c : saved) {
    const auto r = engine_.restore(c.state, default_profile_);
    if (!r.restored) {
      out.problems.push_back(fmt::format("chair {}: checkpoint not restored: {}", c.chair, r.message));
      continue;
    }
    if (!r.message.empty()) out.problems.push_back(fmt::format("chair {}: {}", r.chair, r.message));
    ++out.chairs;
    const engine::millis clock = engine_.clock(r.chair).value_or(wall);
    auto& a = anchors_[r.chair];
    a = anchor{};
    a.session = clock + std::max<engine::millis>(0, wall - c.saved_ms);
    a.wall = wall;
    a.elapsed = elapsed_();
    engine_.on_device(r.chair, false, a.session);
    if (auto view = engine_.session(r.chair)) {
      ++out.sessions;
      out.alarms += view->alarms.size();
    }
  }
  return out;
}

log_field_list log_fields(const engine::event& e) {
  log_field_list out;
  std::size_t n = 0;
  const auto add = [&](std::string_view key, std::string_view text, std::optional<std::uint64_t> number = {}) {
    out.fields[n++] = {key, text, number};
  };
  add("event", engine::name(e.type));
  add("chair", e.chair);
  add("session", {}, e.session);
  switch (e.type) {
    case engine::event_type::alarm_raised:
    case engine::event_type::alarm_cleared:
    case engine::event_type::alarm_resounded:
    case engine::event_type::alarm_escalated:
    case engine::event_type::alarm_acknowledged:
      add("alarm", {}, e.alarm);
      add("rule", e.rule);
      add("priority", engine::name(e.level));
      add("kind", engine::name(e.kind));
      break;
    default: break;
  }
  if (!e.who.empty()) add("by", e.who);
  out.size = n;
  return out;
}

std::string describe(const engine::event& e) {
  std::string line = fmt::format("chair {} session {}: {}", e.chair, e.session, engine::name(e.type));
  switch (e.type) {
    case engine::event_type::alarm_raised:
    case engine::event_type::alarm_cleared:
    case engine::event_type::alarm_resounded:
      line += fmt::format(" #{} {} ({} {})", e.alarm, e.rule, engine::name(e.level), engine::name(e.kind));
      break;
    case engine::event_type::alarm_escalated:
      line += fmt::format(" #{} {} to {} (tier {})", e.alarm, e.rule, e.responder, e.tier);
      break;
    case engine::event_type::alarm_acknowledged: line += fmt::format(" #{} {}", e.alarm, e.rule); break;
    case engine::event_type::phase_changed:
      line += fmt::format(" {} -> {}", engine::name(e.from), engine::name(e.to));
      break;
    default: break;
  }
  if (!e.who.empty()) line += fmt::format(" by {}", e.who);
  // A note's words are the patient record's, kept in the timeline; the log only says one was
  // written. Other texts (reasons, alarm texts) are cut short.
  constexpr std::size_t max_text = 200;
  if (e.type == engine::event_type::note_added) {
    line += fmt::format(": {} characters", e.text.size());
  } else if (e.type == engine::event_type::alarm_raised) {
    // The ids above are for searching; the words after them as the station and report say it.
    line += fmt::format(": {}", log::clip(report::alarm_display_text(e.rule, e.value, e.text), max_text));
  } else if (!e.text.empty()) {
    line += fmt::format(": {}", log::clip(report::clinical_text(e.text), max_text));
  }
  return line;
}

}  // namespace vigil::clinic
