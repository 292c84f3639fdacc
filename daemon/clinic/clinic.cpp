#include "daemon/clinic/clinic.hpp"

#include "daemon/ingest/device_registry.hpp"
#include "daemon/log/log.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <cstdlib>

namespace vigil::clinic {

clinic::clinic(std::vector<engine::profile> profiles, std::string default_profile, ingest::sample_sink& next,
               wall_clock now)
    : engine_(std::move(profiles)),
      default_profile_(std::move(default_profile)),
      next_(next),
      now_(std::move(now)),
      log_(log::component_logger("clinic")) {}

void clinic::submit(const ingest::batch_view& batch, const std::shared_ptr<ingest::device_state>& device) {
  const auto outcomes = engine_.on_samples(batch.chair_id, batch.samples);
  stats_.samples_out_of_order += outcomes[static_cast<std::size_t>(engine::sample_outcome::out_of_order)];
  stats_.samples_duplicate += outcomes[static_cast<std::size_t>(engine::sample_outcome::duplicate)];
  stats_.samples_without_session += outcomes[static_cast<std::size_t>(engine::sample_outcome::no_session)];
  engine::millis latest = 0;
  for (const auto& sample : batch.samples) latest = std::max(latest, sample.time_ms);
  if (latest > 0) {
    auto it = anchors_.find(batch.chair_id);
    if (it == anchors_.end()) it = anchors_.emplace(std::string(batch.chair_id), anchor{}).first;
    auto& a = it->second;
    if (latest >= a.session) {
      a.session = latest;
      a.wall = now_();
      note_skew(batch.chair_id, a);
    }
  }
  publish();
  ingest::batch_view forwarded = batch;
  forwarded.session = engine_.session_id(batch.chair_id);
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

engine::millis clinic::now_for(std::string_view chair) const {
  const engine::millis wall = now_();
  auto it = anchors_.find(chair);
  if (it == anchors_.end()) return std::max(wall, engine_.clock(chair).value_or(wall));
  return it->second.session + (wall - it->second.wall);
}

void clinic::tick() {
  for (const auto& view : engine_.sessions()) engine_.advance(view.chair, now_for(view.chair));
  publish();
}

std::vector<engine::event> clinic::publish() {
  auto events = engine_.take_events();
  stats_.events += events.size();
  for (const auto& e : events) {
    if (recorder_) recorder_(e);
    if (e.type == engine::event_type::alarm_raised && e.level == engine::priority::high) {
      log_->warn("{}", describe(e));
    } else {
      log_->info("{}", describe(e));
    }
  }
  return events;
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
  if (!e.text.empty()) line += fmt::format(": {}", e.text);
  return line;
}

}  // namespace vigil::clinic
