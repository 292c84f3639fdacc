#include "sim/scenario.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

namespace vigil::sim {

namespace {

/// Reads one YAML mapping; every problem is recorded with the file, line and key; keys never
/// looked for are reported as unknown.
class reader {
 public:
  reader(YAML::Node node, std::string path, const std::string& source, std::vector<std::string>& problems)
      : node_(std::move(node)), path_(std::move(path)), source_(source), problems_(problems) {
    if (node_ && !node_.IsNull() && !node_.IsMap()) {
      report(node_, path_, "must be a mapping of keys to values");
      node_ = YAML::Node();
    }
  }
  reader(const reader&) = delete;
  reader& operator=(const reader&) = delete;
  ~reader() {
    if (!node_ || !node_.IsMap()) return;
    for (const auto& entry : node_) {
      const auto key = entry.first.Scalar();
      if (!seen_.contains(key)) report(entry.first, key_of(key), "unknown key");
    }
  }

  /// The value of `key`; a node that tests false when the key is absent or null.
  YAML::Node get(const std::string& key) {
    seen_.insert(key);
    if (!node_ || !node_.IsMap()) return absent();
    const YAML::Node& map = node_;  // const: a lookup must not add the key
    auto v = map[key];
    return v && !v.IsNull() ? v : absent();
  }
  static YAML::Node absent() { return YAML::Node(YAML::NodeType::Undefined); }
  bool has(const std::string& key) {
    return static_cast<bool>(get(key));
  }

  std::string key_of(const std::string& key) const { return path_.empty() ? key : path_ + "." + key; }

  void report(const YAML::Node& at, const std::string& key, const std::string& what) {
    const auto mark = at.Mark();
    if (mark.is_null()) {
      problems_.push_back(fmt::format("{}: {}: {}", source_, key, what));
    } else {
      problems_.push_back(fmt::format("{}:{}: {}: {}", source_, mark.line + 1, key, what));
    }
  }
  void report(const std::string& key, const std::string& what) { report(node_, key_of(key), what); }

  void text(const std::string& key, std::string& out) {
    const auto v = get(key);
    if (!v) return;
    if (!v.IsScalar()) return report(v, key_of(key), "must be text");
    out = v.Scalar();
  }

  template <typename T>
  bool number(const std::string& key, T& out, double low, double high) {
    const auto v = get(key);
    if (!v) return false;
    double d = 0;
    try {
      d = v.as<double>();
    } catch (const YAML::Exception&) {
      report(v, key_of(key), "must be a number");
      return false;
    }
    if (!std::isfinite(d) || d < low || d > high) {
      report(v, key_of(key), fmt::format("must be between {} and {}", low, high));
      return false;
    }
    if constexpr (std::is_integral_v<T>) {
      if (d != std::floor(d)) {
        report(v, key_of(key), "must be a whole number");
        return false;
      }
    }
    out = static_cast<T>(d);
    return true;
  }

  void optional_number(const std::string& key, std::optional<double>& out, double low, double high) {
    double d = 0;
    if (number(key, d, low, high)) out = d;
  }

  /// A time given as `<stem>_min` or `<stem>_s` (not both), in milliseconds.
  bool duration(const std::string& stem, std::int64_t& out_ms, double max_minutes = 24 * 60) {
    double minutes = 0, seconds = 0;
    const bool m = number(stem + "_min", minutes, 0, max_minutes);
    const bool s = number(stem + "_s", seconds, 0, max_minutes * 60);
    if (m && s) {
      report(stem + "_min", fmt::format("give {0}_min or {0}_s, not both", stem));
      return false;
    }
    if (m) out_ms = std::llround(minutes * 60'000);
    if (s) out_ms = std::llround(seconds * 1000);
    if ((m || s) && out_ms % 1000 != 0) {
      report(stem + (m ? "_min" : "_s"), "must be a whole number of seconds");
      out_ms = out_ms / 1000 * 1000;
    }
    return m || s;
  }

  const YAML::Node& node() const { return node_; }
  const std::string& path() const { return path_; }
  /// Calls `read` with a reader of each item of the list at `key`.
  template <typename F>
  void each(const std::string& key, F read) {
    const auto list = get(key);
    if (!list) return;
    if (!list.IsSequence()) return report(list, key_of(key), "must be a list");
    std::size_t i = 0;
    for (const auto& node : list) {
      reader one(node, fmt::format("{}[{}]", key_of(key), i++), source_, problems_);
      read(one);
    }
  }

  /// Reads `key` as one of the names `parse` knows (listed in `names` for the message).
  template <typename T, typename P>
  bool pick(const std::string& key, T& out, P parse, std::string_view names) {
    std::string value;
    text(key, value);
    if (const auto v = parse(value)) {
      out = *v;
      return true;
    }
    report(key, fmt::format("'{}' is not one of: {}", value, names));
    return false;
  }

  reader child(const std::string& key) { return reader(get(key), key_of(key), source_, problems_); }
  reader item(const YAML::Node& node, const std::string& key, std::size_t i) {
    return reader(node, fmt::format("{}[{}]", key_of(key), i), source_, problems_);
  }

 private:
  YAML::Node node_;
  std::string path_;
  const std::string& source_;
  std::vector<std::string>& problems_;
  std::set<std::string> seen_;
};

std::string trim_copy(const std::string& s) {
  const auto first = s.find_first_not_of(" \t\r");
  if (first == std::string::npos) return "";
  return s.substr(first, s.find_last_not_of(" \t\r") - first + 1);
}

std::string default_dose_text(route r, int sprays) {
  switch (r) {
    case route::iv: return "0.5 mg/kg over 40 min";
    case route::im: return "0.5 mg/kg";
    case route::intranasal: return fmt::format("{} mg ({} devices)", 28 * sprays, sprays);
    case route::sublingual: return "200 mg lozenge";
  }
  return "";
}

/// The settings a chair entry may give, read over the scenario's defaults.
struct entry {
  chair_plan plan;
  std::vector<route> routes{route::iv};
  int repeat = 1;
  std::int64_t stagger_ms = 0;
  bool profile_given = false, dose_given = false, seed_given = false;
  /// Where each of plan.faults was written (its node and key), for messages about it.
  std::vector<std::pair<YAML::Node, std::string>> fault_at;
  /// What each of plan.events expects (its label), and where it was written.
  struct expectation {
    bool none = false;  // `expect: none`: not a label
    std::vector<std::string> rules;
    std::optional<std::int64_t> within_ms;
  };
  std::vector<expectation> expect_at;
  /// Each of plan.artefacts: where it was written, its label's window if given, and whether it
  /// was read without a problem (the checks of the whole chair are then worth making).
  struct artefact_entry {
    YAML::Node node;
    std::string key;
    std::optional<std::int64_t> window_ms;
    bool valid = true;
  };
  std::vector<artefact_entry> artefact_at;
};

bool rule_id(const std::string& s) {
  if (s.empty() || s[0] < 'a' || s[0] > 'z') return false;
  return std::all_of(s.begin(), s.end(), [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'; });
}

std::string vital_text(v1::VitalKind k) {
  std::string out = v1::VitalKind_Name(k);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

/// Which of the monitor's sensors measures `k`.
sensor sensor_of(v1::VitalKind k) {
  switch (k) {
    case v1::HEART_RATE: return sensor::ecg;
    case v1::PULSE_RATE:
    case v1::SPO2: return sensor::oximeter;
    case v1::RESPIRATORY_RATE: return sensor::respiration;
    default: return sensor::cuff;
  }
}

/// Whether fault `f` flags the samples of `k` (monitor.cpp's fault_flags).
bool flags_vital(const monitor_fault& f, v1::VitalKind k) {
  const sensor s = sensor_of(k);
  switch (f.kind) {
    case fault_kind::sensor_off: return (f.sensors & static_cast<unsigned>(s)) != 0;
    case fault_kind::motion: return s == sensor::ecg || s == sensor::oximeter;
    case fault_kind::low_perfusion: return s == sensor::oximeter;
    case fault_kind::network_drop: return false;
  }
  return false;
}

/// The vitals an artefact kind may replace, for the check and its message.
bool fits(artefact_kind kind, v1::VitalKind v, std::string& why) {
  const bool cuff = v == v1::NIBP_SYSTOLIC || v == v1::NIBP_DIASTOLIC || v == v1::NIBP_MEAN;
  switch (kind) {
    case artefact_kind::zero_no_signal: return true;
    case artefact_kind::impossible_step:
      why = "an impossible_step is a reading of spo2, heart_rate, pulse_rate or respiratory_rate";
      return !cuff;
    case artefact_kind::rates_disagree:
      why = "a rates_disagree is a reading of heart_rate or pulse_rate";
      return v == v1::HEART_RATE || v == v1::PULSE_RATE;
    case artefact_kind::cuff_implausible:
      why = "a cuff_implausible part is nibp_systolic, nibp_diastolic or nibp_mean";
      return cuff;
    case artefact_kind::cuff_inconsistent:
      why = "a cuff_inconsistent part is nibp_diastolic or nibp_mean (a part is judged against the parts of its "
            "reading already there, and the systolic comes first)";
      return v == v1::NIBP_DIASTOLIC || v == v1::NIBP_MEAN;
  }
  return false;
}

void read_entry(reader& r, entry& e, bool is_defaults) {
  auto& p = e.plan;
  if (!is_defaults) {
    r.text("chair", p.chair);
    r.text("device", p.device);
    r.number("repeat", e.repeat, 1, 10'000);
    r.duration("stagger", e.stagger_ms);
  }
  if (r.has("profile")) {
    r.text("profile", p.profile);
    e.profile_given = true;
  }
  if (r.has("dose")) {
    r.text("dose", p.dose_text);
    e.dose_given = true;
  }
  if (const auto v = r.get("route")) {
    std::vector<std::string> names;
    if (v.IsSequence()) {
      for (const auto& n : v) names.push_back(n.IsScalar() ? n.Scalar() : "");
    } else if (v.IsScalar()) {
      names.push_back(v.Scalar());
    }
    std::vector<route> routes;
    for (const auto& n : names) {
      if (const auto rt = route_from(n)) {
        routes.push_back(*rt);
      } else {
        r.report(v, r.key_of("route"), fmt::format("'{}' is not one of: iv, im, intranasal, sublingual", n));
      }
    }
    if (names.empty()) r.report(v, r.key_of("route"), "must be a route or a list of routes");
    if (!routes.empty()) e.routes = routes;
  }
  r.number("sprays", p.dose.sprays, 1, 6);
  r.duration("start", p.start_ms);
  r.duration("dose_at", p.dose.at_ms);
  if (r.duration("duration", p.duration_ms)) p.duration_given = true;
  if (const auto v = r.get("close")) {
    try {
      p.close = v.as<bool>();
    } catch (const YAML::Exception&) {
      r.report(v, r.key_of("close"), "must be true or false");
    }
  }
  r.duration("cuff_interval", p.monitor.cuff_interval_ms);
  r.number("clock_skew_ms", p.monitor.clock_skew_ms, -3'600'000, 3'600'000);

  if (r.has("patient")) {
    auto pr = r.child("patient");
    pr.text("ref", p.patient_ref);
    if (pr.number("seed", p.patient.seed, 0, 1e15)) e.seed_given = true;
    pr.optional_number("heart_rate", p.patient.heart_rate, 30, 200);
    pr.optional_number("systolic", p.patient.systolic, 70, 240);
    pr.optional_number("diastolic", p.patient.diastolic, 40, 140);
    pr.optional_number("spo2", p.patient.spo2, 70, 100);
    pr.optional_number("respiratory_rate", p.patient.respiratory_rate, 4, 40);
    pr.optional_number("response", p.patient.response, 0, 10);
  }
  if (r.has("replay")) {
    auto rr = r.child("replay");
    replay_spec spec;
    rr.text("file", spec.file);
    if (spec.file.empty()) rr.report("file", "is required (the CSV recording)");
    rr.duration("interval", spec.interval_ms);
    if (spec.interval_ms <= 0) rr.report("interval_s", "must be at least one second");
    rr.text("time_column", spec.time_header);
    rr.text("time_unit", spec.time_unit);
    if (spec.time_unit != "s" && spec.time_unit != "ms" && spec.time_unit != "min") {
      rr.report("time_unit", "must be s, ms or min");
    }
    if (const auto cols = rr.get("columns"); cols && cols.IsMap()) {
      auto cr = rr.child("columns");
      for (const auto& kv : cols) {
        const std::string kind_name = kv.first.Scalar();
        const auto kind = vital_from(kind_name);
        auto one = cr.child(kind_name);
        if (!kind) {
          cr.report(kind_name, "is not a vital: heart_rate, pulse_rate, spo2, nibp_systolic, nibp_diastolic, nibp_mean, respiratory_rate");
          continue;
        }
        replay_column column;
        one.text("header", column.header);
        if (column.header.empty()) one.report("header", "is required (the column's name in the CSV header)");
        one.text("unit", column.unit);
        if (one.has("missing")) {
          one.text("missing", column.missing);
          column.missing_given = true;
        }
        one.text("sensor_off", column.sensor_off);
        one.text("artifact", column.artifact);
        auto check_marker = [&](const char* key, const std::string& marker) {
          if (!one.has(key)) return;
          if (marker.empty() || marker != trim_copy(marker)) {
            one.report(key, "must be the text of a cell, not empty and without leading or trailing blanks");
          } else if (column.missing_given && marker == column.missing) {
            one.report(key, fmt::format("'{}' is also the column's missing marker", marker));
          }
        };
        check_marker("sensor_off", column.sensor_off);
        check_marker("artifact", column.artifact);
        if (!column.sensor_off.empty() && column.sensor_off == column.artifact) {
          one.report("artifact", fmt::format("'{}' is also the column's sensor_off marker", column.artifact));
        }
        if (!unit_factor(*kind, column.unit)) one.report("unit", fmt::format("'{}' does not fit {}", column.unit, kind_name));
        spec.columns[*kind] = column;
      }
    } else {
      rr.report("columns", "must map vitals to columns, e.g. heart_rate: {header: HR}");
    }
    p.replay = spec;
  }
  r.each("adverse_events", [&](reader& er) {
    adverse_event ev;
    er.pick("type", ev.kind, adverse_from, "hypertensive, tachycardia, desaturation, bradycardia");
    ev.magnitude = default_magnitude(ev.kind);
    if (!er.duration("at", ev.start_ms)) er.report("at_min", "is required (when the event starts, from the open)");
    er.duration("duration", ev.duration_ms);
    er.duration("ramp", ev.ramp_ms);
    er.number("magnitude", ev.magnitude, 0, 200);
    entry::expectation x;
    if (const auto v = er.get("expect")) {
      std::vector<std::string> names;
      if (v.IsScalar()) {
        names.push_back(v.Scalar());
      } else if (v.IsSequence()) {
        for (const auto& n : v) names.push_back(n.IsScalar() ? n.Scalar() : "");
      }
      if (names.size() == 1 && names[0] == "none") {
        x.none = true;
      } else if (names.empty()) {
        er.report(v, er.key_of("expect"), "must be an alarm rule id, a list of them, or none");
      } else {
        for (const auto& n : names) {
          if (!rule_id(n)) {
            er.report(v, er.key_of("expect"),
                      fmt::format("'{}' is not a rule id (lower-case letters, digits and _, such as spo2_low)", n));
          }
        }
        x.rules = names;
      }
    }
    std::int64_t within = 0;
    if (er.duration("expect_within", within)) {
      if (x.none) {
        er.report("expect_within_min", "an event that expects none is no label and has no window");
      } else if (within <= 0) {
        er.report("expect_within_min", "must be more than 0");
      } else {
        x.within_ms = within;
      }
    }
    p.events.push_back(ev);
    e.expect_at.push_back(std::move(x));
  });
  r.each("artefacts", [&](reader& ar) {
    monitor_artefact a;
    entry::artefact_entry at{ar.node(), ar.path(), std::nullopt, true};
    at.valid &= ar.pick("type", a.kind, artefact_from,
                        "zero_no_signal, impossible_step, rates_disagree, cuff_implausible, cuff_inconsistent");
    if (!ar.duration("at", a.start_ms)) {
      ar.report("at_min", "is required (when the artefact is sent, from the open)");
      at.valid = false;
    }
    std::string vital;
    ar.text("vital", vital);
    if (vital.empty()) {
      ar.report("vital", "is required (the vital whose value the artefact replaces)");
      at.valid = false;
    } else if (const auto k = vital_from(vital)) {
      a.vital = *k;
      std::string why;
      if (at.valid && !fits(a.kind, a.vital, why)) {
        ar.report("vital", why);
        at.valid = false;
      }
    } else {
      ar.report("vital", fmt::format("'{}' is not a vital: heart_rate, pulse_rate, spo2, respiratory_rate, "
                                     "nibp_systolic, nibp_diastolic, nibp_mean", vital));
      at.valid = false;
    }
    std::int64_t duration = 0;
    if (ar.duration("duration", duration, 10)) {
      const char* key = ar.has("duration_min") ? "duration_min" : "duration_s";
      if (a.cuff()) {
        ar.report(key, "a cuff artefact is one reading");
      } else if (a.kind == artefact_kind::impossible_step) {
        ar.report(key, "an impossible_step is one reading (a second reading of the same value is a real change, "
                       "docs/alarms.md 3.6)");
      } else if (duration < second_ms) {
        ar.report(key, "must be at least one second");
      } else {
        a.duration_ms = duration;
      }
    }
    ar.optional_number("value", a.value, 0, 300);
    if (a.value && a.kind == artefact_kind::zero_no_signal) {
      ar.report("value", "a zero_no_signal sends 0");
      a.value.reset();
    } else if (a.value && *a.value == 0) {
      ar.report("value", fmt::format("0 is a zero_no_signal, not a {}", name(a.kind)));
    }
    std::int64_t window = 0;
    if (ar.duration("window", window)) at.window_ms = window;
    p.artefacts.push_back(a);
    e.artefact_at.push_back(std::move(at));
  });
  r.each("faults", [&](reader& fr) {
    monitor_fault f;
    fr.pick("type", f.kind, fault_from, "sensor_off, motion, low_perfusion, network_drop");
    if (!fr.duration("at", f.start_ms)) fr.report("at_min", "is required (when the fault starts, from the open)");
    fr.duration("duration", f.duration_ms);
    if (fr.has("sensor")) {
      sensor one = sensor::ecg;
      if (f.kind != fault_kind::sensor_off) {
        fr.report("sensor", "applies to sensor_off faults only");
      } else if (fr.get("sensor").Scalar() == "all") {
        f.sensors = all_sensors;
      } else if (fr.pick("sensor", one, sensor_from, "ecg, oximeter, cuff, respiration, all")) {
        f.sensors = static_cast<unsigned>(one);
      }
    }
    p.faults.push_back(f);
    e.fault_at.emplace_back(fr.node(), fr.path());
  });
}

/// A replay sends what was recorded. A network drop is the link's, not the measurements', and
/// applies; a fault that would change what the monitor measured or flagged is refused, since a
/// recording says that itself (its markers, docs/simulator.md section 5).
void check_replay_faults(const chair_plan& p, const entry& e, reader& r) {
  for (std::size_t i = 0; i < p.faults.size() && i < e.fault_at.size(); ++i) {
    std::string instead;
    switch (p.faults[i].kind) {
      case fault_kind::network_drop: continue;
      case fault_kind::sensor_off: instead = "mark the recording's sensor-off cells with the column's sensor_off marker"; break;
      case fault_kind::motion: instead = "flag the recording's artifacts with the column's artifact marker or the !art suffix"; break;
      case fault_kind::low_perfusion: instead = "its SpO2 and pulse rate are sent as recorded"; break;
    }
    const auto& [node, key] = e.fault_at[i];
    r.report(node, key,
             fmt::format("chair {} replays a recording: a {} fault would change what was recorded ({}); of the faults "
                         "only network_drop applies to a replay",
                         p.chair, name(p.faults[i].kind), instead));
  }
}

void check_times(const chair_plan& p, const entry& e, reader& r, const std::string& what) {
  if (p.duration_ms <= 0) r.report("duration_min", fmt::format("{}: the session needs a duration", what));
  if (p.dose.at_ms >= p.duration_ms) r.report("dose_at_min", fmt::format("{}: the dose must come before the close", what));
  for (const auto& ev : p.events) {
    if (ev.start_ms >= p.duration_ms) r.report("adverse_events", fmt::format("{}: an event starts after the close", what));
  }
  for (const auto& f : p.faults) {
    if (f.start_ms >= p.duration_ms) r.report("faults", fmt::format("{}: a fault starts after the close", what));
    if (f.kind == fault_kind::network_drop && f.start_ms + f.duration_ms >= p.duration_ms) {
      r.report("faults", fmt::format("{}: a network drop must end before the close", what));
    }
  }
  (void)e;
}

std::string artefact_text(const monitor_artefact& a) {
  std::string value;
  if (a.kind == artefact_kind::cuff_inconsistent && !a.value) {
    value = "(its systolic + 10)";
  } else {
    value = fmt::format("{}", artefact_value(a, 0));
  }
  const auto lasting = a.duration_ms > second_ms && !a.cuff() ? fmt::format(" for {} s", a.duration_ms / second_ms) : "";
  return fmt::format("artefact {} {} {}{} at {}", name(a.kind), vital_text(a.vital), value, lasting,
                     session_time_text(a.start_ms));
}

/// The chair's labels: one per adverse event that expects something, then one per artefact,
/// after the checks that need the whole chair (its length, faults, events and replay).
void make_labels(chair_plan& p, const entry& e, reader& r) {
  p.labels.clear();
  std::vector<std::pair<std::int64_t, std::int64_t>> event_span;  // when an event's alarms may come
  for (std::size_t i = 0; i < p.events.size() && i < e.expect_at.size(); ++i) {
    const auto& ev = p.events[i];
    const auto& x = e.expect_at[i];
    const std::int64_t within = x.within_ms.value_or(default_within_ms(ev, p.monitor.cuff_interval_ms));
    event_span.emplace_back(ev.start_ms, std::max(ev.start_ms + ev.duration_ms, x.none ? 0 : ev.start_ms + within));
    if (x.none) continue;
    label l;
    l.kind = label_kind::adverse_event;
    l.chair = p.chair;
    l.what = fmt::format("{} at {}", name(ev.kind), session_time_text(ev.start_ms));
    l.from_ms = ev.start_ms;
    l.until_ms = ev.start_ms + within;
    l.rules = x.rules.empty() ? default_rules(ev.kind) : x.rules;
    p.labels.push_back(std::move(l));
  }
  for (std::size_t i = 0; i < p.artefacts.size() && i < e.artefact_at.size(); ++i) {
    const auto& a = p.artefacts[i];
    const auto& at = e.artefact_at[i];
    if (!at.valid) continue;
    auto problem = [&](const std::string& what) { r.report(at.node, at.key, fmt::format("{}: {}", p.chair, what)); };
    if (p.replay) {
      problem("the chair replays a recording: an artefact would change what was recorded (write the value in the "
              "recording)");
      continue;
    }
    if (a.start_ms >= p.duration_ms) {
      problem(fmt::format("the artefact at {} is after the close at {}", session_time_text(a.start_ms),
                          session_time_text(p.duration_ms)));
      continue;
    }
    if (a.last_ms() >= p.duration_ms) {
      problem(fmt::format("the artefact at {} runs past the close at {}", session_time_text(a.start_ms),
                          session_time_text(p.duration_ms)));
    }
    if (a.kind == artefact_kind::impossible_step && a.start_ms < second_ms) {
      problem(fmt::format("an impossible_step needs a reading of {} before it: at_s 1 or later (the daemon judges a "
                          "step against the reading before)",
                          vital_text(a.vital)));
    }
    for (std::size_t k = 0; k < p.faults.size(); ++k) {
      const auto& f = p.faults[k];
      const std::int64_t first = std::max(a.start_ms, f.start_ms);
      if (!flags_vital(f, a.vital) || first > std::min(a.last_ms(), f.start_ms + f.duration_ms - 1)) continue;
      problem(fmt::format("at {} the monitor flags its {} samples (faults[{}], {}): an artefact is a value sent unflagged",
                          session_time_text(first), vital_text(a.vital), k, name(f.kind)));
    }
    for (std::size_t k = 0; k < i; ++k) {
      const auto& b = p.artefacts[k];
      if (e.artefact_at[k].valid && b.vital == a.vital && a.start_ms <= b.last_ms() && b.start_ms <= a.last_ms()) {
        problem(fmt::format("the artefact overlaps artefacts[{}] on {}", k, vital_text(a.vital)));
      }
    }
    label l;
    l.kind = label_kind::artefact;
    l.chair = p.chair;
    l.what = artefact_text(a);
    l.from_ms = a.start_ms;
    l.until_ms = a.last_ms() + at.window_ms.value_or(default_window_ms(a));
    for (std::size_t k = 0; k < event_span.size(); ++k) {
      const auto [from, until] = event_span[k];
      if (l.from_ms > until || from > l.until_ms) continue;
      problem(fmt::format("the artefact's window ({} to {}) overlaps the {} at {} (adverse_events[{}], to {}): an "
                          "alarm there could be either's",
                          session_time_text(l.from_ms), session_time_text(l.until_ms), name(p.events[k].kind),
                          session_time_text(from), k, session_time_text(until)));
    }
    p.labels.push_back(std::move(l));
  }
  if (!p.close && !p.labels.empty()) {
    r.report("close", fmt::format("{}: labels need the session closed (vigil-sim judges them once the daemon's feed shows "
                                  "the close): close the session, or give its adverse events expect: none and no artefacts",
                                  p.chair));
  }
}

}  // namespace

scenario parse_scenario(const std::string& yaml, const std::string& source) {
  YAML::Node root;
  try {
    root = YAML::Load(yaml);
  } catch (const YAML::Exception& e) {
    throw scenario_error(fmt::format("{}:{}: {}", source, e.mark.line + 1, e.msg));
  }
  std::vector<std::string> problems;
  scenario out;
  {
    reader top(root, "", source, problems);
    top.text("name", out.name);
    top.text("description", out.description);
    std::uint64_t seed = 1;
    top.number("seed", seed, 0, 1e15);
    entry defaults;
    defaults.plan.duration_ms = 150 * minute_ms;
    if (top.has("defaults")) {
      auto d = top.child("defaults");
      read_entry(d, defaults, true);
    }
    const auto list = top.get("chairs");
    if (!list || !list.IsSequence() || list.size() == 0) {
      top.report("chairs", "must be a list of at least one chair");
    }
    std::size_t i = 0;
    int number = 0;
    std::set<std::string> chairs, devices;
    for (const auto& node : list && list.IsSequence() ? list : YAML::Node()) {
      auto r = top.item(node, "chairs", i++);
      entry e = defaults;
      e.plan.chair.clear();
      e.plan.device.clear();
      read_entry(r, e, false);
      if (e.repeat > 1 && (!e.plan.chair.empty() || !e.plan.device.empty())) {
        r.report("repeat", "a repeated entry numbers its chairs and devices itself: leave out chair and device");
      }
      for (int k = 0; k < e.repeat; ++k) {
        ++number;
        chair_plan p = e.plan;
        if (p.chair.empty()) p.chair = fmt::format("chair-{}", number);
        if (p.device.empty()) p.device = fmt::format("sim-{}", number);
        if (p.patient_ref.empty()) p.patient_ref = fmt::format("SIM-{:04}", number);
        if (!e.seed_given) {
          p.patient.seed = seed * 1000 + static_cast<std::uint64_t>(number);
        } else {
          p.patient.seed += static_cast<std::uint64_t>(k);
        }
        p.dose.by = e.routes[static_cast<std::size_t>(k) % e.routes.size()];
        if (!e.profile_given) p.profile = default_profile(p.dose.by);
        if (!e.dose_given) p.dose_text = default_dose_text(p.dose.by, p.dose.sprays);
        p.start_ms += k * e.stagger_ms;
        check_times(p, e, r, p.chair);
        if (p.replay) check_replay_faults(p, e, r);
        make_labels(p, e, r);
        if (!chairs.insert(p.chair).second) r.report("chair", fmt::format("{} appears more than once", p.chair));
        if (!devices.insert(p.device).second) r.report("device", fmt::format("{} appears more than once", p.device));
        out.chairs.push_back(std::move(p));
      }
    }
  }
  if (!problems.empty()) {
    std::string all;
    for (const auto& p : problems) all += p + "\n";
    all.pop_back();
    throw scenario_error(all);
  }
  return out;
}

scenario load_scenario(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw scenario_error(fmt::format("{}: cannot read the scenario file", path));
  std::ostringstream text;
  text << in.rdbuf();
  auto out = parse_scenario(text.str(), path);
  const auto dir = std::filesystem::path(path).parent_path();
  std::vector<std::string> problems;
  for (auto& c : out.chairs) {
    if (!c.replay) continue;
    if (std::filesystem::path(c.replay->file).is_relative()) c.replay->file = (dir / c.replay->file).string();
    try {
      c.recording = std::make_shared<const std::vector<replay_row>>(load_replay(*c.replay));
    } catch (const replay_error& e) {
      problems.push_back(fmt::format("{}: chair {}: {}", path, c.chair, e.what()));
      continue;
    }
    if (!c.duration_given) c.duration_ms = std::max<std::int64_t>(c.recording->back().offset_ms + 1000, c.dose.at_ms + 1000);
  }
  if (!problems.empty()) throw scenario_error(fmt::format("{}", fmt::join(problems, "\n")));
  return out;
}

std::string default_profile(route r) {
  switch (r) {
    case route::iv: return "iv-ketamine";
    case route::im: return "im-ketamine";
    case route::intranasal: return "intranasal-esketamine";
    case route::sublingual: return "generic";
  }
  return "generic";
}

std::int64_t scenario::length_ms() const {
  std::int64_t out = 0;
  for (const auto& c : chairs) out = std::max(out, c.end_ms());
  return out;
}

}  // namespace vigil::sim
