#pragma once

#include "daemon/control/access.hpp"
#include "vigil/v1/control.pb.h"

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace spdlog {
class logger;
}

namespace vigil::clinic {
class clinic;
}

namespace vigil::control {

/// What became of an operator's reset of a device.
struct reset_report {
  bool known = false;              // some entry of ingest.devices admits the id
  std::uint64_t previous_seq = 0;  // the ack point before the reset
  bool saved = true;               // the reset is in the timeline (or there is none)
};

/// Carries out control requests against the clinic. No I/O: request in, response out.
class service {
 public:
  using reply = std::function<void(v1::ControlResponse)>;
  /// Resets a device's sequence numbers, then calls `done` on the I/O thread once the reset is
  /// saved (or could not be).
  using device_resetter = std::function<void(const std::string& device_id, const std::string& who,
                                             const std::string& reason, std::function<void(reset_report)> done)>;

  service(clinic::clinic& clinic, std::vector<user> users);

  /// Checks the token and the role, runs the command, and says what came of it at once, without
  /// waiting for the timeline (for reads, and tests of the rules). ResetDevice is refused here.
  v1::ControlResponse handle(const v1::ControlRequest& request);
  /// The same, answering through `answer` once the events the command produced are saved
  /// (control.md 8): a command is never answered before it is durable. At once when it
  /// changed nothing, or when there is no timeline. If the transaction holding them fails, the
  /// command stays in effect, its events are retried, and the answer is CONTROL_ERROR_NOT_SAVED.
  void handle(const v1::ControlRequest& request, reply answer);
  /// Where device resets go (the ingest registry and the timeline). Unset: refused.
  void on_device_reset(device_resetter resetter) { reset_device_ = std::move(resetter); }
  /// The user holding `token`, if any.
  const user* authenticate(std::string_view token) const { return find_user(users_, token); }
  /// The chair of open session `session`, if it is open.
  std::optional<std::string> chair_of_session(std::uint64_t session) const;
  /// The least role a command needs.
  static role needed_for(v1::ControlRequest::CommandCase command) noexcept;

 private:
  /// Checks the request and has the clinic apply the command; answers once its events are saved
  /// (`wait_for_save`) or at once. A refusal or a read is answered at once.
  void execute(const v1::ControlRequest& request, reply answer, bool wait_for_save);

  clinic::clinic& clinic_;
  /// The caller, if its token is known and its role allows the command; else the refusal.
  const user* admit(const v1::ControlRequest& request, v1::ControlResponse& response) const;

  std::vector<user> users_;
  std::shared_ptr<spdlog::logger> log_;
  device_resetter reset_device_;
};

}  // namespace vigil::control
