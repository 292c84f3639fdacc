#pragma once

// Labels: what each adverse event and each artefact of a scenario must bring, so that a
// scenario can be a check (docs/simulator.md, section 7). An adverse event must raise one of
// its expected alarm rules within its window; an artefact must raise no physiological alarm
// within its window. Pure: the runner gives the alarms it saw on the daemon's feed.

#include "sim/monitor.hpp"
#include "sim/physiology.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace vigil::sim {

enum class label_kind { adverse_event, artefact };

struct label {
  label_kind kind = label_kind::adverse_event;
  std::string chair;
  std::string what;           // for people: "desaturation at +0:40:00"
  std::int64_t from_ms = 0;   // the window, in session time from the open, both ends included
  std::int64_t until_ms = 0;
  std::vector<std::string> rules;  // an adverse event: any of these alarm rules meets it
};

/// An alarm raised on a chair's session, at session time `at_ms` from the open.
struct raised_alarm {
  std::string chair;
  std::string rule;
  bool physiological = false;
  std::int64_t at_ms = 0;
};

struct label_outcome {
  label l;
  bool met = false;
  /// The alarm that met an adverse event, or the first that an artefact's window holds.
  std::optional<raised_alarm> alarm;
};

struct label_report {
  std::vector<label_outcome> outcomes;
  int events = 0, events_met = 0, artefacts = 0, artefacts_alarmed = 0;
  bool all_met() const noexcept { return events_met == events && artefacts_alarmed == 0; }
};

/// Judges every label against the alarms raised (in any order).
label_report judge_labels(const std::vector<label>& labels, const std::vector<raised_alarm>& alarms);
/// One line per label: "label chair-1: desaturation at +0:40:00: met: spo2_low raised at …".
std::string describe(const label_outcome& o);
/// "labels: 9 of 9 met; sensitivity 4/4 adverse events; artefacts that alarmed 0 of 5".
std::string summary_line(const label_report& r);
/// Session time as +H:MM:SS.
std::string session_time_text(std::int64_t ms);

/// The alarm rules an adverse event of this kind is expected to raise when the scenario names none.
std::vector<std::string> default_rules(adverse_kind k);
/// How long after its start an adverse event has to raise one of them, when the scenario does
/// not say: its ramp and the time the rules need (docs/simulator.md, section 7).
std::int64_t default_within_ms(const adverse_event& e, std::int64_t cuff_interval_ms);
/// How long after its last changed sample an artefact must raise no physiological alarm, when
/// the scenario does not say: a minute for the per-second vitals, 20 minutes for a cuff reading.
std::int64_t default_window_ms(const monitor_artefact& a);

}  // namespace vigil::sim
