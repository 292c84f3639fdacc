#pragma once

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

/// An operator allowed to use the control listener; `name` is recorded on every change.
struct operator_credential {
  std::string name;
  std::string token;
};

/// Carries out control requests against the clinic. No I/O: request in, response out.
class service {
 public:
  service(clinic::clinic& clinic, std::vector<operator_credential> operators);

  /// Checks the token, runs the command, and says what came of it.
  v1::ControlResponse handle(const v1::ControlRequest& request);

 private:
  const operator_credential* authenticate(const std::string& token) const;

  clinic::clinic& clinic_;
  std::vector<operator_credential> operators_;
  std::shared_ptr<spdlog::logger> log_;
};

}  // namespace vigil::control
