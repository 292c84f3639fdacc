#pragma once

#include "daemon/control/access.hpp"
#include "vigil/v1/control.pb.h"

#include <memory>
#include <string>
#include <vector>

namespace spdlog {
class logger;
}

namespace vigil::clinic {
class clinic;
}

namespace vigil::control {

/// Carries out control requests against the clinic. No I/O: request in, response out.
class service {
 public:
  service(clinic::clinic& clinic, std::vector<user> users);

  /// Checks the token and the role, runs the command, and says what came of it.
  v1::ControlResponse handle(const v1::ControlRequest& request);
  /// The user holding `token`, if any.
  const user* authenticate(std::string_view token) const { return find_user(users_, token); }
  /// The least role a command needs.
  static role needed_for(v1::ControlRequest::CommandCase command) noexcept;

 private:
  clinic::clinic& clinic_;
  std::vector<user> users_;
  std::shared_ptr<spdlog::logger> log_;
};

}  // namespace vigil::control
