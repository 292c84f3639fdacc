#include "daemon/config/profile_loader.hpp"

#include "daemon/config/yaml_section.hpp"
#include "daemon/model/vitals.hpp"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <exception>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <string_view>
#include <system_error>

// The format read here is documented, key by key, in config/profiles/README.md; keep the two
// (and the bounds below) in step.

namespace vigil::config {
namespace {

using detail::section;
using engine::priority;
using model::vital_kind;

constexpr std::int64_t sec = engine::seconds_ms;
constexpr std::int64_t min = engine::minutes_ms;

// Bounds of numbers read (in the unit of their key).
constexpr double relative_limit_bound = 150;  // bpm or mmHg either side of the baseline
constexpr double max_hysteresis = 50;
constexpr int max_confirm_readings = 5;
constexpr int max_min_readings = 10;
constexpr std::size_t max_name_length = 64;

bool valid_name(std::string_view s, std::size_t max_length) {
  if (s.empty() || s.size() > max_length) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
           c == '.';
  });
}

std::string_view priority_name(priority p) {
  switch (p) {
    case priority::low:
      return "low";
    case priority::medium:
      return "medium";
    case priority::high:
      return "high";
  }
  return "medium";
}

void read_priority(section& s, const std::string& key, priority& target) {
  std::string value{priority_name(target)};
  s.choice(key, value, {"low", "medium", "high"});
  if (value == "low") target = priority::low;
  if (value == "medium") target = priority::medium;
  if (value == "high") target = priority::high;
}

std::optional<vital_kind> vital_from_name(std::string_view text) {
  for (int n = 1; n <= model::vital_kind_count; ++n) {
    const auto kind = model::vital_kind_from_wire(n);
    if (kind && model::name(*kind) == text) return kind;
  }
  return std::nullopt;
}

std::string vital_names() {
  std::string list;
  for (int n = 1; n <= model::vital_kind_count; ++n) {
    if (const auto kind = model::vital_kind_from_wire(n)) {
      list += fmt::format("{}{}", list.empty() ? "" : ", ", model::name(*kind));
    }
  }
  return list;
}

/// Kinds whose rise or fall from the session's baseline is meaningful: those ketamine moves
/// (HR and BP, CLINICAL.md). SpO2 and RR are judged on absolute values (NEWS2, oximetry).
bool relative_allowed(vital_kind kind) {
  switch (kind) {
    case vital_kind::heart_rate:
    case vital_kind::pulse_rate:
    case vital_kind::nibp_systolic:
    case vital_kind::nibp_diastolic:
    case vital_kind::nibp_mean:
      return true;
    case vital_kind::spo2:
    case vital_kind::respiratory_rate:
      return false;
  }
  return false;
}

bool is_cuff(vital_kind kind) {
  return kind == vital_kind::nibp_systolic || kind == vital_kind::nibp_diastolic || kind == vital_kind::nibp_mean;
}

std::string_view phase_name(engine::phase p) {
  switch (p) {
    case engine::phase::baseline:
      return "baseline";
    case engine::phase::observation:
      return "observation";
    case engine::phase::ready:
      return "ready";
    case engine::phase::closed:
      return "closed";
    case engine::phase::aborted:
      return "aborted";
  }
  return "";
}

void read_phases(section& rule, std::vector<engine::phase>& target) {
  const YAML::Node list = rule.list("phases");
  if (!list.IsSequence()) return;
  const std::string path = rule.key_of("phases");
  if (list.size() == 0) {
    rule.report(path, "must name at least one phase (leave the key out for all of them)");
    return;
  }
  std::vector<engine::phase> phases;
  for (std::size_t i = 0; i < list.size(); ++i) {
    const std::string key = fmt::format("{}[{}]", path, i);
    const YAML::Node item = list[i];
    std::optional<engine::phase> found;
    if (item.IsScalar()) {
      const auto text = item.as<std::string>();
      for (const auto p : {engine::phase::baseline, engine::phase::observation, engine::phase::ready}) {
        if (phase_name(p) == text) found = p;
      }
    }
    if (!found) {
      rule.report(key, fmt::format("'{}' is not one of: baseline, observation, ready",
                                   item.IsScalar() ? item.as<std::string>() : std::string("(not a name)")));
      continue;
    }
    if (std::find(phases.begin(), phases.end(), *found) != phases.end()) {
      rule.report(key, fmt::format("'{}' is listed twice", phase_name(*found)));
      continue;
    }
    phases.push_back(*found);
  }
  const auto has = [&](engine::phase p) { return std::find(phases.begin(), phases.end(), p) != phases.end(); };
  if (has(engine::phase::ready) && !has(engine::phase::observation)) {
    // Any alarm sends a ready session back to observation, where such a rule would stop at once.
    rule.report(path, "a rule active in ready must be active in observation too");
  }
  target = std::move(phases);
}

std::optional<engine::limit_rule> read_rule(const YAML::Node& node, const std::string& path,
                                            std::vector<problem>& problems) {
  if (!node.IsMap()) {
    problems.push_back({path, "must be a mapping of keys to values (id, vital, low/high, priority, ...)"});
    return std::nullopt;
  }
  section s(node, path, problems);
  engine::limit_rule rule;

  const auto before_id = problems.size();
  if (!s.has("id")) s.report(s.key_of("id"), "is required");
  s.text("id", rule.id);
  if (problems.size() == before_id && !valid_name(rule.id, max_name_length)) {
    s.report(s.key_of("id"), "must be 1 to 64 letters, digits, '-', '_' or '.'");
  }

  std::optional<vital_kind> kind;
  if (!s.has("vital")) {
    s.report(s.key_of("vital"), fmt::format("is required: one of {}", vital_names()));
  } else {
    std::string text;
    const auto before_vital = problems.size();
    s.text("vital", text);
    kind = vital_from_name(text);
    if (kind) {
      rule.kind = *kind;
    } else if (problems.size() == before_vital) {  // not already reported as "must be a string"
      s.report(s.key_of("vital"), fmt::format("'{}' is not one of: {}", text, vital_names()));
    }
  }

  s.boolean("relative", rule.relative);
  if (rule.relative && kind && !relative_allowed(*kind)) {
    s.report(s.key_of("relative"),
             fmt::format("a limit relative to the baseline is not supported for {}; use an absolute limit "
                         "(relative limits: heart_rate, pulse_rate, nibp_systolic, nibp_diastolic, nibp_mean)",
                         model::name(*kind)));
  }

  // Absolute limits must lie within what the sensor can report; relative ones are deltas.
  double bound_low = -relative_limit_bound;
  double bound_high = relative_limit_bound;
  if (!rule.relative) {
    const auto range = model::plausible(kind.value_or(vital_kind::heart_rate));
    bound_low = kind ? range.low : 0;
    bound_high = kind ? range.high : 1000;
  }
  double value = 0;
  if (s.number("low", value, bound_low, bound_high)) rule.low = value;
  if (s.number("high", value, bound_low, bound_high)) rule.high = value;
  const bool has_low = s.has("low");
  const bool has_high = s.has("high");
  if (!has_low && !has_high) s.report(path, "needs a low or a high limit (or both)");
  if (rule.low && rule.high && *rule.low >= *rule.high) {
    s.report(s.key_of("low"), fmt::format("{} must be below high ({})", *rule.low, *rule.high));
  }

  if (!s.has("priority")) s.report(s.key_of("priority"), "is required: low, medium or high");
  read_priority(s, "priority", rule.level);

  s.duration("delay_s", rule.delay_ms, sec, 0, 3'600);
  s.number("hysteresis", rule.hysteresis, 0, max_hysteresis);
  if (rule.low && rule.high && rule.hysteresis > 0 && 2 * rule.hysteresis >= *rule.high - *rule.low) {
    s.report(s.key_of("hysteresis"),
             fmt::format("{} is too large for limits {}..{}: the two clearing points would cross", rule.hysteresis,
                         *rule.low, *rule.high));
  }
  s.boolean("latching", rule.latching);
  s.boolean("inclusive", rule.inclusive);

  const auto problems_before = problems.size();
  s.integer("confirm_readings", rule.confirm_readings, 1, max_confirm_readings);
  const bool confirm_ok = problems.size() == problems_before;  // else the checks below would mislead
  const bool has_within = s.has("confirm_within_min");
  s.duration("confirm_within_min", rule.confirm_within_ms, min, 1, 60);
  if (!confirm_ok) {
    // reported above
  } else if (rule.confirm_readings > 1) {
    if (!has_within) {
      s.report(s.key_of("confirm_within_min"), "is required when confirm_readings is more than 1");
    }
    if (kind && !is_cuff(*kind)) {
      s.report(s.key_of("confirm_readings"),
               fmt::format("confirmation by repeat readings is for cuff readings (nibp_*), not {}; use delay_s",
                           model::name(*kind)));
    }
  } else if (has_within) {
    s.report(s.key_of("confirm_within_min"), "has no effect unless confirm_readings is more than 1");
  }

  s.integer("min_readings", rule.min_readings, 1, max_min_readings);

  const bool has_phases = s.has("phases");
  read_phases(s, rule.phases);
  // (Phases given but unusable leave the list empty; that is reported already.)
  if (rule.relative && !(has_phases && rule.phases.empty())) {
    const bool in_baseline = rule.phases.empty() || std::find(rule.phases.begin(), rule.phases.end(),
                                                              engine::phase::baseline) != rule.phases.end();
    if (in_baseline) {
      s.report(s.key_of("phases"),
               "a relative limit needs the baseline, which exists only after the dose: "
               "list the phases without baseline, e.g. [observation, ready]");
    }
  }
  return rule;
}

void read_limits(section& top, std::vector<engine::limit_rule>& target, std::vector<problem>& problems) {
  const YAML::Node list = top.list("limits");
  if (!list.IsSequence()) return;
  std::vector<engine::limit_rule> rules;
  std::map<std::string, std::size_t> ids;
  for (std::size_t i = 0; i < list.size(); ++i) {
    const std::string path = fmt::format("limits[{}]", i);
    auto rule = read_rule(list[i], path, problems);
    if (!rule) continue;
    if (!rule->id.empty()) {
      const auto [at, inserted] = ids.emplace(rule->id, i);
      if (!inserted) {
        problems.push_back({path + ".id", fmt::format("'{}' is already the id of limits[{}]", rule->id, at->second)});
      }
    }
    rules.push_back(std::move(*rule));
  }
  target = std::move(rules);  // a list given replaces the generic one entirely
}

void read_tiers(section& escalation, const std::string& key, std::vector<engine::escalation_tier>& target,
                std::vector<problem>& problems) {
  const YAML::Node list = escalation.list(key);
  if (!list.IsSequence()) return;
  std::vector<engine::escalation_tier> tiers;
  for (std::size_t i = 0; i < list.size(); ++i) {
    const std::string path = fmt::format("{}[{}]", escalation.key_of(key), i);
    if (!list[i].IsMap()) {
      problems.push_back({path, "must be a mapping with responder and after_s"});
      continue;
    }
    section s(list[i], path, problems);
    engine::escalation_tier tier;
    const auto before_responder = problems.size();
    if (!s.has("responder")) s.report(s.key_of("responder"), "is required");
    s.text("responder", tier.responder);
    if (problems.size() == before_responder && !valid_name(tier.responder, max_name_length)) {
      s.report(s.key_of("responder"), "must be 1 to 64 letters, digits, '-', '_' or '.'");
    }
    if (!s.has("after_s")) s.report(s.key_of("after_s"), "is required");
    tier.after_ms = -1;
    s.duration("after_s", tier.after_ms, sec, 0, 3'600);
    if (tier.after_ms < 0) continue;  // missing or wrong: reported above
    if (!tiers.empty() && tier.after_ms <= tiers.back().after_ms) {
      s.report(s.key_of("after_s"), fmt::format("{} s must be later than the tier before ({} s)", tier.after_ms / sec,
                                                tiers.back().after_ms / sec));
    }
    tiers.push_back(std::move(tier));
  }
  target = std::move(tiers);
}

void read(const YAML::Node& root, engine::profile& p, std::vector<problem>& problems) {
  section top(root, "", problems);
  top.text("name", p.name);
  top.duration("baseline_window_min", p.baseline_window_ms, min, 1, 60);
  {
    section s = top.child("baseline");
    section counts = s.child("min_readings");
    section spreads = s.child("max_spread");
    for (int n = 1; n <= model::vital_kind_count; ++n) {
      const auto kind = model::vital_kind_from_wire(n);
      if (!kind) continue;
      const std::string key(model::name(*kind));
      const auto k = static_cast<std::size_t>(n);
      counts.integer(key, p.baseline.min_readings[k], 1, 100);
      spreads.number(key, p.baseline.max_spread[k], 0, 100);
    }
  }
  {
    section s = top.child("predose");
    s.number("systolic_max", p.predose.systolic_max, 100, 220);
    s.number("diastolic_max", p.predose.diastolic_max, 60, 140);
    s.boolean("require_reading", p.predose.require_reading);
  }
  {
    section s = top.child("discharge");
    s.duration("observation_min", p.discharge.observation_ms, min, 30, 720);
    s.number("bp_band_percent", p.discharge.bp_band_percent, 5, 50);
    s.number("spo2_min", p.discharge.spo2_min, 80, 100);
    s.duration("hold_min", p.discharge.hold_ms, min, 0, 60);
  }
  {
    auto& t = p.technical;
    section s = top.child("technical");
    s.duration("stale_after_s", t.stale_after_ms, sec, 5, 600);
    s.integer("stale_intervals", t.stale_intervals, 2, 10);
    read_priority(s, "stale_priority", t.stale_level);
    s.duration("max_interval_s", t.max_interval_ms, sec, 1, 3600);
    read_priority(s, "slow_priority", t.slow_level);
    s.duration("sensor_off_delay_s", t.sensor_off_delay_ms, sec, 0, 600);
    read_priority(s, "sensor_off_priority", t.sensor_off_level);
    s.duration("cuff_interval_min", t.cuff_interval_ms, min, 1, 120);
    s.duration("post_dose_check_min", t.post_dose_check_ms, min, 5, 240);
    s.duration("cuff_grace_min", t.cuff_grace_ms, min, 0, 60);
    read_priority(s, "cuff_priority", t.cuff_level);
    s.duration("disconnected_after_s", t.disconnected_after_ms, sec, 1, 600);
    read_priority(s, "disconnected_priority", t.disconnected_level);
  }
  {
    auto& n = p.news2;
    section s = top.child("news2");
    s.boolean("enabled", n.enabled);
    s.integer("medium_at", n.medium_at, 1, 20);
    s.integer("high_at", n.high_at, 1, 20);
    s.boolean("single_three_is_medium", n.single_three_is_medium);
    s.duration("delay_s", n.delay_ms, sec, 0, 3'600);
    s.integer("min_readings", n.min_readings, 1, max_min_readings);
  }
  {
    auto& a = p.artefacts;
    section s = top.child("artefacts");
    s.boolean("enabled", a.enabled);
    s.boolean("zero_is_no_signal", a.zero_is_no_signal);
    s.number("rate_disagreement_bpm", a.rate_disagreement_bpm, 10, 100);
    s.number("spo2_step", a.spo2_step, 5, 100);
    s.number("heart_step", a.heart_step, 10, 200);
    s.number("respiratory_step", a.respiratory_step, 3, 60);
    s.number("systolic_min", a.systolic_min, 0, 120);
    s.number("diastolic_min", a.diastolic_min, 0, 80);
    s.number("mean_min", a.mean_min, 0, 100);
    s.number("pulse_pressure_min", a.pulse_pressure_min, 0, 60);
    s.number("pulse_pressure_max", a.pulse_pressure_max, 60, 250);
    if (a.pulse_pressure_min >= a.pulse_pressure_max) {
      s.report(s.key_of("pulse_pressure_min"), "must be below pulse_pressure_max");
    }
    s.duration("cuff_reading_s", a.cuff_reading_ms, sec, 1, 120);
  }
  {
    section s = top.child("audio");
    s.duration("max_pause_s", p.audio.max_pause_ms, sec, 10, 600);
    s.duration("ack_silence_s", p.audio.ack_silence_ms, sec, 30, 3'600);
  }
  read_limits(top, p.limits, problems);
  {
    section s = top.child("escalation");
    read_tiers(s, "high", p.escalation_high, problems);
    read_tiers(s, "medium", p.escalation_medium, problems);
    read_tiers(s, "low", p.escalation_low, problems);
  }
}

/// Rules between fields of different sections.
void check(const engine::profile& p, std::vector<problem>& problems) {
  if (p.news2.medium_at >= p.news2.high_at) {
    problems.push_back(
        {"news2.medium_at", fmt::format("{} must be below high_at ({})", p.news2.medium_at, p.news2.high_at)});
  }
  if (p.technical.cuff_grace_ms >= p.technical.cuff_interval_ms) {
    problems.push_back(
        {"technical.cuff_grace_min", fmt::format("{} min must be shorter than cuff_interval_min ({} min)",
                                                 p.technical.cuff_grace_ms / min, p.technical.cuff_interval_ms / min)});
  }
  if (p.technical.post_dose_check_ms >= p.discharge.observation_ms) {
    problems.push_back({"technical.post_dose_check_min",
                        fmt::format("{} min must fall within the observation time (discharge.observation_min: {})",
                                    p.technical.post_dose_check_ms / min, p.discharge.observation_ms / min)});
  }
}

/// `origin` names the text at the start of a message about it as a whole; empty when the caller
/// names it already (a file of a profile directory is named in the problem's key).
profile_result load(const std::string& yaml, const std::string& id, const std::string& origin) {
  const auto about = [&origin](std::string what) { return origin.empty() ? what : origin + ": " + what; };
  profile_result result;
  result.profile = engine::generic_profile();
  result.profile.id = id;
  result.profile.name.clear();
  try {
    if (!valid_name(id, max_name_length)) {
      result.problems.push_back(
          {"", about(fmt::format("the profile id '{}' must be 1 to 64 letters, digits, '-', '_' or '.'", id))});
    }
    YAML::Node root;
    try {
      root = YAML::Load(yaml);
    } catch (const YAML::Exception& e) {
      result.problems.push_back({"", about(fmt::format("YAML syntax error at line {}, column {}: {}", e.mark.line + 1,
                                                       e.mark.column + 1, e.msg))});
      return result;
    }
    read(root, result.profile, result.problems);
    check(result.profile, result.problems);
  } catch (const std::exception& e) {
    result.problems.push_back({"", about(fmt::format("cannot be read: {}", e.what()))});
  } catch (...) {
    result.problems.push_back({"", about("cannot be read")});
  }
  if (result.profile.name.empty()) result.profile.name = result.profile.id;
  return result;
}

/// One profile file; `named` when the caller names the file in the problems' keys already.
profile_result read_profile_file(const std::string& path, bool named) {
  const auto failed = [&path, named](const std::string& id, const std::string& why) {
    profile_result result;
    result.profile = engine::generic_profile();
    result.profile.id = result.profile.name = id;
    result.problems.push_back({"", named ? fmt::format("cannot read: {}", why) : fmt::format("cannot read '{}': {}", path, why)});
    return result;
  };
  std::string id;
  try {
    id = std::filesystem::path(path).stem().string();
    std::error_code ec;
    if (!std::filesystem::is_regular_file(path, ec)) {  // follows symbolic links
      return failed(id, std::filesystem::exists(path, ec) ? "not a regular file" : "no such file");
    }
    std::ifstream in(path, std::ios::binary);
    if (!in) return failed(id, std::error_code(errno, std::generic_category()).message());
    std::stringstream text;
    text << in.rdbuf();
    if (in.bad()) return failed(id, "read error");
    return load(text.str(), id, named ? std::string() : path);
  } catch (const std::exception& e) {
    return failed(id, e.what());
  }
}

}  // namespace

profile_result load_profile_text(const std::string& yaml, const std::string& id) {
  return load(yaml, id, id);
}

profile_result load_profile_file(const std::string& path) { return read_profile_file(path, false); }

profiles_result load_profile_dir(const std::string& dir) {
  profiles_result result;
  try {
    namespace fs = std::filesystem;
    std::error_code ec;
    std::vector<fs::path> files;
    fs::directory_iterator it(dir, ec);
    if (ec) {
      result.problems.push_back({"", fmt::format("cannot read the profile directory '{}': {}", dir, ec.message())});
      return result;
    }
    for (const fs::directory_iterator end; it != end; it.increment(ec)) {
      const fs::path& file = it->path();
      std::error_code type_ec;
      if (!fs::is_regular_file(file, type_ec)) continue;  // follows symbolic links
      const auto ext = file.extension().string();
      if (ext == ".yaml") files.push_back(file);
      if (ext == ".yml") {
        result.problems.push_back({file.filename().string(), "ignored: profile files must end in .yaml"});
      }
    }
    if (ec) {
      result.problems.push_back({"", fmt::format("cannot list the profile directory '{}': {}", dir, ec.message())});
      return result;
    }
    std::sort(files.begin(), files.end(),
              [](const fs::path& a, const fs::path& b) { return a.filename().string() < b.filename().string(); });
    if (files.empty()) result.problems.push_back({"", fmt::format("no *.yaml profile files in '{}'", dir)});
    for (const auto& file : files) {
      auto loaded = read_profile_file(file.string(), true);
      const std::string prefix = file.filename().string();
      for (auto& p : loaded.problems) {
        result.problems.push_back({p.key.empty() ? prefix : prefix + ": " + p.key, std::move(p.message)});
      }
      if (loaded.problems.empty()) result.profiles.push_back(std::move(loaded.profile));
    }
  } catch (const std::exception& e) {
    result.problems.push_back({"", fmt::format("cannot read the profile directory '{}': {}", dir, e.what())});
  }
  return result;
}

}  // namespace vigil::config
