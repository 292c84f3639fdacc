#pragma once

// Runs a scenario against vigild: one simulated monitor per chair streaming over the device
// protocol, and the nurse's commands (open, dose, close) over the REST API, in real or
// accelerated time.

#include "sim/scenario.hpp"

#include <chrono>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace vigil::sim {

struct run_options {
  std::string host = "127.0.0.1";
  std::uint16_t ingest_port = 7400;
  std::uint16_t http_port = 7402;
  std::uint16_t feed_port = 7403;  // the alarms seen are counted from the daemon's feed
  std::string ports_file;  // re-read before every reconnect when set
  // Cluster mode: the other daemons' device ports; monitors go from one to the next when one
  // fails, and where a CHAIR_ELSEWHERE error sends them (protocol.md 5.2).
  std::vector<std::pair<std::string, std::uint16_t>> more_ingest;
  std::string device_token = "sim-device-token";
  std::string api_token;
  double speed = 1;       // 0: as fast as the daemon acks
  int batch_seconds = 0;  // seconds of samples per batch; 0: speed/100 (1 to 60) when paced, 10 as fast as possible
  bool quiet = false;     // no progress line, no per-session lines
  std::chrono::milliseconds rest_patience{60'000};  // how long a nurse's command is retried
};

/// The exit status of a run that completed but did not meet every label of its scenario (or
/// could not judge them: the feed did not show every session's end).
inline constexpr int labels_not_met = 3;

/// Runs the scenario to its end (or until SIGINT/SIGTERM); prints the summary, and the labels
/// met and missed. The exit status: 0 when every session ran, every sample was acked and every
/// label was met; labels_not_met (3) when only labels were not; 1 otherwise.
int run_scenario(const scenario& plan, const run_options& options);

}  // namespace vigil::sim
