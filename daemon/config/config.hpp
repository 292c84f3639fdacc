#pragma once

#include "daemon/control/server.hpp"
#include "daemon/engine/profile.hpp"
#include "daemon/feed/settings.hpp"
#include "daemon/http/settings.hpp"
#include "daemon/ingest/settings.hpp"
#include "daemon/log/log.hpp"
#include "daemon/net/auth_tracker.hpp"

#include <chrono>
#include <string>
#include <vector>

namespace vigil::config {

/// Where the session timeline is kept (docs/storage.md, docs/deployment.md).
struct store_settings {
  // "sqlite": one file, data_dir/timeline.db (the default); "postgres": a PostgreSQL database at
  // `url`, which several vigild may share.
  std::string backend = "sqlite";
  std::string url;             // postgres: a libpq URL, postgresql://user@host:port/database
  std::size_t pool_size = 2;   // connections (and threads) reading the timeline beside the writer
};

/// Cluster mode (docs/deployment.md §3): several vigild on one PostgreSQL timeline share the
/// clinic's chairs, each chair held by one of them through a lease in the database.
struct cluster_settings {
  bool enabled = false;
  std::string node;  // this daemon's name among the others; empty: the host's name
  std::chrono::milliseconds lease{3'000};  // a dead daemon's chairs are taken over after this
  // The host name or address devices and clients use to reach this daemon (redirects name it
  // with the listeners' ports); empty: ingest.address.
  std::string advertise;
};

/// Everything vigild is configured with. Defaults are those documented in config/vigild.yaml.
struct daemon_config {
  ingest::settings ingest;
  control::settings control;
  feed::settings feed;
  http::settings http;
  // Failed authentications per peer address, across the four listeners.
  net::auth_tracker::limits auth_failures;
  // Everyone who reads feeds or changes state: name, token, role.
  std::vector<control::user> users;
  // Protocol profiles: read from engine.profiles_dir; the built-in generic one when empty.
  std::string profiles_dir;
  std::vector<engine::profile> profiles;
  std::string default_profile = "generic";
  log::options log;
  std::string ports_file;  // empty: none written
  // Where the timeline database lives; empty: nothing is stored and acks mean "received".
  std::string data_dir;
  store_settings store;
  cluster_settings cluster;
  // Closed sessions are removed from the timeline this many days after they closed; 0: never.
  int retention_days = 365;
  std::chrono::milliseconds shutdown_timeout{5'000};
};

/// How bad a problem is: an error stops vigild from starting; a warning weakens an installation
/// that still starts (docs/configuration.md has the table).
enum class severity : std::uint8_t { error, warning };

/// One problem found in a configuration, tied to the key it concerns.
struct problem {
  std::string key;  // dotted path, e.g. "ingest.max_connections"; empty for the file as a whole
  std::string message;  // says what is wrong and why, without the key or the file's name
  severity level = severity::error;
};

struct load_result {
  daemon_config config;
  std::vector<problem> problems;  // empty when the configuration is usable
};

/// Reads and checks a YAML configuration file. Never throws: every fault is a problem.
load_result load_file(const std::string& path);
/// Same, from YAML text. No message names the text (or a file): whoever prints a problem names
/// its source once, before it. `origin` is kept for callers that pass it.
load_result load_text(const std::string& text, const std::string& origin = "<text>");
/// Checks cross-field rules of a configuration that came from anywhere (file plus flags).
std::vector<problem> validate(const daemon_config& config);
/// Checks what the configuration means on this machine, for the user running the check: whether
/// data_dir can be used (by creating and removing a probe file; a missing directory is created and
/// removed again), and what weakens the installation (no data_dir, no users or devices, plain
/// listeners reachable from other machines, published demo tokens). Changes nothing it finds.
std::vector<problem> check_installation(const daemon_config& config);
/// Whether any of `problems` is an error.
bool has_errors(const std::vector<problem>& problems);

}  // namespace vigil::config
