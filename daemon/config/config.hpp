#pragma once

#include "daemon/ingest/settings.hpp"
#include "daemon/log/log.hpp"

#include <chrono>
#include <string>
#include <vector>

namespace vigil::config {

/// Everything vigild is configured with. Defaults are those documented in config/vigild.yaml.
struct daemon_config {
  ingest::settings ingest;
  log::options log;
  std::string ports_file;  // empty: none written
  std::chrono::milliseconds shutdown_timeout{5'000};
};

/// One problem found in a configuration, tied to the key it concerns.
struct problem {
  std::string key;  // dotted path, e.g. "ingest.max_connections"; empty for the file as a whole
  std::string message;
};

struct load_result {
  daemon_config config;
  std::vector<problem> problems;  // empty when the configuration is usable
};

/// Reads and checks a YAML configuration file. Never throws: every fault is a problem.
load_result load_file(const std::string& path);
/// Same, from YAML text (`origin` names it in messages).
load_result load_text(const std::string& text, const std::string& origin = "<text>");
/// Checks cross-field rules of a configuration that came from anywhere (file plus flags).
std::vector<problem> validate(const daemon_config& config);

}  // namespace vigil::config
