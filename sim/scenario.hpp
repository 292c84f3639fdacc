#pragma once

// Scenarios: what happens in a simulated clinic, read from YAML (config/scenarios/, format in
// docs/simulator.md). Each chair has a patient, a session opened, dosed and closed by the
// simulator acting as the nurse, adverse events and monitor faults.

#include "sim/labels.hpp"
#include "sim/monitor.hpp"
#include "sim/physiology.hpp"
#include "sim/replay.hpp"

#include <memory>

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace vigil::sim {

/// One chair's session.
struct chair_plan {
  std::string chair;
  std::string device;
  std::string patient_ref;
  std::string profile;     // the daemon's protocol profile; from the route unless given
  std::string dose_text;   // as the nurse writes it
  patient_spec patient;
  dose_plan dose;          // dose.at_ms counts from the open
  std::int64_t start_ms = 0;     // the open, from the start of the run
  std::int64_t duration_ms = 0;  // from the open to the close
  bool close = true;             // close the session at the end (otherwise leave it open)
  monitor_settings monitor;
  std::vector<adverse_event> events;  // times from the open
  std::vector<monitor_fault> faults;  // times from the open
  std::vector<monitor_artefact> artefacts;  // times from the open
  /// What each adverse event and artefact must bring (the events first, then the artefacts).
  std::vector<label> labels;
  /// A recording played instead of the simulated patient (loaded by load_scenario).
  std::optional<replay_spec> replay;
  std::shared_ptr<const std::vector<replay_row>> recording;
  bool duration_given = false;

  std::int64_t end_ms() const noexcept { return start_ms + duration_ms; }
};

struct scenario {
  std::string name;
  std::string description;
  std::vector<chair_plan> chairs;
  /// From the start of the run to the last chair's close.
  std::int64_t length_ms() const;
};

/// Every problem found in a scenario file, one per line as "FILE:LINE: key: what".
class scenario_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Reads and checks a scenario, and the recordings it replays (paths relative to the scenario
/// file); throws scenario_error listing every problem.
scenario load_scenario(const std::string& path);
/// The same from YAML text; `source` names it in messages.
scenario parse_scenario(const std::string& yaml, const std::string& source);

/// The daemon profile the shipped config/profiles give each route.
std::string default_profile(route r);

}  // namespace vigil::sim
