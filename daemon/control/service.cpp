#include "daemon/control/service.hpp"

#include "daemon/clinic/clinic.hpp"
#include "daemon/wire/views.hpp"
#include "daemon/model/identifiers.hpp"
#include "daemon/log/log.hpp"
#include "daemon/net/secret.hpp"

#include <spdlog/spdlog.h>

#include <fmt/format.h>

#include <optional>

namespace vigil::control {
namespace {

v1::ControlError wire_error(engine::command_error e) {
  switch (e) {
    case engine::command_error::none: return v1::CONTROL_ERROR_NONE;
    case engine::command_error::invalid_argument: return v1::CONTROL_ERROR_INVALID_ARGUMENT;
    case engine::command_error::unknown_profile: return v1::CONTROL_ERROR_UNKNOWN_PROFILE;
    case engine::command_error::no_open_session: return v1::CONTROL_ERROR_NO_OPEN_SESSION;
    case engine::command_error::session_already_open: return v1::CONTROL_ERROR_SESSION_ALREADY_OPEN;
    case engine::command_error::wrong_phase: return v1::CONTROL_ERROR_WRONG_PHASE;
    case engine::command_error::predose_gate: return v1::CONTROL_ERROR_PREDOSE_GATE;
    case engine::command_error::unknown_alarm: return v1::CONTROL_ERROR_UNKNOWN_ALARM;
    case engine::command_error::chair_elsewhere: return v1::CONTROL_ERROR_CHAIR_ELSEWHERE;
  }
  return v1::CONTROL_ERROR_INVALID_ARGUMENT;
}

/// How far ahead of a chair's session time a command's `at_ms` may be: monitor clocks and the
/// client's may disagree a little, but a time further ahead would move the chair's clock past
/// the samples still to come and make them late.
constexpr engine::millis max_command_ahead_ms = 5 * engine::seconds_ms;

/// A device reset's reason, recorded in the timeline.
constexpr std::size_t max_reason_length = 500;

/// The request's command as named in control.proto (open_session, mark_dose, ...).
const std::string& command_name(const v1::ControlRequest& request) {
  return request.GetDescriptor()->FindFieldByNumber(static_cast<int>(request.command_case()))->name();
}

/// The answer to a command the clinic applied: the engine's result, and whether it is saved.
v1::ControlResponse outcome(v1::ControlResponse response, const engine::command_result& result, bool saved) {
  response.set_error(wire_error(result.error));
  response.set_message(result.message);
  response.set_session_id(result.session);
  if (result.ok() && !saved) {
    response.set_error(v1::CONTROL_ERROR_NOT_SAVED);
    response.set_message(
        "done and in effect, but the timeline could not save it yet (the disk is failing); it is "
        "retried: do not repeat the command");
  }
  return response;
}

}  // namespace

service::service(clinic::clinic& clinic, std::vector<user> users)
    : clinic_(clinic), users_(std::move(users)), log_(log::component_logger("control")) {}

std::optional<std::string> service::chair_of_session(std::uint64_t session) const {
  return clinic_.alarms().chair_of_session(session);
}

role service::needed_for(v1::ControlRequest::CommandCase command) noexcept {
  switch (command) {
    case v1::ControlRequest::kListSessions:
    case v1::ControlRequest::COMMAND_NOT_SET: return role::viewer;
    case v1::ControlRequest::kAcknowledge:
    case v1::ControlRequest::kPauseAudio:
    case v1::ControlRequest::kAddNote:
    case v1::ControlRequest::kRetakeBaseline: return role::nurse;
    case v1::ControlRequest::kOpenSession:
    case v1::ControlRequest::kOverridePredose:
    case v1::ControlRequest::kMarkDose:
    case v1::ControlRequest::kCloseSession:
    case v1::ControlRequest::kResetDevice: return role::admin;
  }
  return role::admin;
}

const user* service::admit(const v1::ControlRequest& request, v1::ControlResponse& response) const {
  response.set_request_id(request.request_id());
  const user* who = authenticate(request.token());
  if (who == nullptr) {
    response.set_error(v1::CONTROL_ERROR_UNAUTHORIZED);
    response.set_message("missing or unknown control token");
    return nullptr;
  }
  if (const role needed = needed_for(request.command_case()); who->role < needed) {
    response.set_error(v1::CONTROL_ERROR_FORBIDDEN);
    response.set_message(fmt::format("{} has the role {}; this command needs {}", who->name, name(who->role), name(needed)));
    log_->info("{} refused to {} ({}): needs {}", request.GetDescriptor()->FindFieldByNumber(static_cast<int>(request.command_case()))->name(),
               who->name, name(who->role), name(needed));
    return nullptr;
  }
  return who;
}

void service::handle(const v1::ControlRequest& request, reply answer) {
  if (request.command_case() != v1::ControlRequest::kResetDevice) {
    execute(request, std::move(answer), true);
    return;
  }
  v1::ControlResponse response;
  const user* who = admit(request, response);
  if (who == nullptr) {
    answer(std::move(response));
    return;
  }
  const auto& c = request.reset_device();
  const auto refuse = [&](v1::ControlError error, std::string message) {
    response.set_error(error);
    response.set_message(std::move(message));
    answer(std::move(response));
  };
  if (!model::valid_device_id(c.device_id())) {
    return refuse(v1::CONTROL_ERROR_INVALID_ARGUMENT, "device_id must be 1 to 128 printable ASCII characters");
  }
  if (c.reason().empty() || c.reason().size() > max_reason_length) {
    return refuse(v1::CONTROL_ERROR_INVALID_ARGUMENT, fmt::format("a reset needs a reason of 1 to {} characters", max_reason_length));
  }
  if (!reset_device_) return refuse(v1::CONTROL_ERROR_INVALID_ARGUMENT, "this daemon does not reset devices");
  reset_device_(c.device_id(), who->name, c.reason(),
                [response, device = c.device_id(), answer = std::move(answer)](reset_report report) mutable {
                  if (!report.known) {
                    response.set_error(v1::CONTROL_ERROR_UNKNOWN_DEVICE);
                    response.set_message(fmt::format("no entry of ingest.devices admits device '{}'", device));
                  } else if (!report.saved) {
                    response.set_error(v1::CONTROL_ERROR_NOT_SAVED);
                    response.set_message("the reset is in effect, but the timeline could not save it yet (the disk is "
                                         "failing); it is retried");
                  }
                  response.set_previous_acked_seq(report.previous_seq);
                  answer(std::move(response));
                });
}

v1::ControlResponse service::handle(const v1::ControlRequest& request) {
  std::optional<v1::ControlResponse> out;
  execute(
      request, [&out](v1::ControlResponse r) { out = std::move(r); }, false);
  return std::move(*out);
}

void service::execute(const v1::ControlRequest& request, reply answer, bool wait_for_save) {
  v1::ControlResponse response;
  const user* who = admit(request, response);
  if (who == nullptr) return answer(std::move(response));
  // One rule for chairs on every interface: a chair no monitor could ever name is refused
  // before any command touches it.
  if (const auto* field = request.GetDescriptor()->FindFieldByNumber(static_cast<int>(request.command_case()))) {
    if (field->message_type() != nullptr) {
      const auto& command = request.GetReflection()->GetMessage(request, field);
      if (const auto* chair = command.GetDescriptor()->FindFieldByName("chair_id")) {
        if (!model::valid_chair_id(command.GetReflection()->GetString(command, chair))) {
          response.set_error(v1::CONTROL_ERROR_INVALID_ARGUMENT);
          response.set_message("chair_id must be 1 to 64 printable ASCII characters without spaces");
          return answer(std::move(response));
        }
      }
    }
  }
  const auto& engine = clinic_.alarms();
  auto at = [&](const std::string& chair) { return clinic_.now_for(chair); };
  // A command given a time of its own (MarkDose, CloseSession): not before the session opened,
  // not ahead of the chair's time now; an earlier time than the chair's clock is applied at
  // the clock, as the engine does for every input.
  auto at_or_now = [&](const std::string& chair, std::int64_t at_ms) -> std::optional<engine::millis> {
    const engine::millis now = at(chair);
    if (at_ms == 0) return now;
    if (at_ms < 0 || at_ms > now + max_command_ahead_ms) return std::nullopt;
    if (const auto open = engine.session(chair); open && at_ms < open->opened_at) return std::nullopt;
    return at_ms;
  };
  auto bad_time = [&](const std::string& chair, std::int64_t at_ms) {
    response.set_error(v1::CONTROL_ERROR_INVALID_ARGUMENT);
    response.set_message(fmt::format("at_ms {} is before the session opened or more than {} s ahead of chair {}'s "
                                     "time now ({})",
                                     at_ms, max_command_ahead_ms / engine::seconds_ms, chair, at(chair)));
    answer(std::move(response));
  };
  // The clinic applies the command and publishes its events; the answer waits until they are
  // saved, unless the caller wants it at once.
  const auto apply = [&](const auto& command, auto... when) {
    clinic::command_callback saved;
    if (wait_for_save) {
      saved = [response, answer = std::move(answer)](const engine::command_result& result, bool ok) mutable {
        answer(outcome(std::move(response), result, ok));
      };
    }
    const auto result = clinic_.apply(command, when..., std::move(saved));
    if (!result.ok()) {
      log_->info("{} by {} refused: {}: {}", command_name(request), who->name, engine::name(result.error),
                 result.message);
    }
    if (!wait_for_save) answer(outcome(std::move(response), result, true));
  };
  switch (request.command_case()) {
    case v1::ControlRequest::kOpenSession: {
      const auto& c = request.open_session();
      const std::string profile = c.profile().empty() ? clinic_.default_profile() : c.profile();
      return apply(engine::open_session{c.chair_id(), c.patient_ref(), profile, who->name});
    }
    case v1::ControlRequest::kOverridePredose: {
      const auto& c = request.override_predose();
      return apply(engine::override_predose{c.chair_id(), who->name, c.reason()});
    }
    case v1::ControlRequest::kMarkDose: {
      const auto& c = request.mark_dose();
      const auto when = at_or_now(c.chair_id(), c.at_ms());
      if (!when) return bad_time(c.chair_id(), c.at_ms());
      return apply(engine::mark_dose{c.chair_id(), c.route(), c.dose(), who->name}, *when);
    }
    case v1::ControlRequest::kAcknowledge: {
      const auto& c = request.acknowledge();
      return apply(engine::acknowledge{c.chair_id(), c.alarm_id(), who->name});
    }
    case v1::ControlRequest::kPauseAudio: {
      const auto& c = request.pause_audio();
      return apply(engine::pause_audio{c.chair_id(), static_cast<engine::millis>(c.duration_s()) * engine::seconds_ms,
                                       who->name});
    }
    case v1::ControlRequest::kCloseSession: {
      const auto& c = request.close_session();
      const auto when = at_or_now(c.chair_id(), c.at_ms());
      if (!when) return bad_time(c.chair_id(), c.at_ms());
      return apply(engine::close_session{c.chair_id(), who->name, c.abort(), c.reason()}, *when);
    }
    case v1::ControlRequest::kAddNote: {
      const auto& c = request.add_note();
      return apply(engine::add_note{c.chair_id(), c.text(), who->name});
    }
    case v1::ControlRequest::kRetakeBaseline: {
      const auto& c = request.retake_baseline();
      return apply(engine::retake_baseline{c.chair_id(), who->name, c.reason()});
    }
    case v1::ControlRequest::kListSessions:
      for (const auto& s : engine.sessions()) wire::fill(*response.add_sessions(), s);
      for (const auto& [chair, alarm] : engine.chair_advisories()) {
        auto& advisory = *response.add_advisories();
        advisory.set_chair_id(chair);
        wire::fill(*advisory.mutable_alarm(), alarm);
      }
      return answer(std::move(response));
    case v1::ControlRequest::kResetDevice:
      response.set_error(v1::CONTROL_ERROR_INVALID_ARGUMENT);
      response.set_message("ResetDevice is answered once it is saved: call handle() with a reply");
      return answer(std::move(response));
    case v1::ControlRequest::COMMAND_NOT_SET:
      response.set_error(v1::CONTROL_ERROR_NO_COMMAND);
      response.set_message("the request carries no command");
      return answer(std::move(response));
  }
  response.set_error(v1::CONTROL_ERROR_NO_COMMAND);
  response.set_message("the request carries no command");
  answer(std::move(response));
}

}  // namespace vigil::control
