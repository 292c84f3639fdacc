#pragma once

// Protocol profiles from YAML: config/profiles/*.yaml. The file format (every key, its unit,
// default and bounds) is documented in config/profiles/README.md.

#include "daemon/config/config.hpp"
#include "daemon/engine/profile.hpp"

#include <string>
#include <vector>

namespace vigil::config {

struct profile_result {
  /// The profile read. Keys not given keep the values of engine::generic_profile(), except
  /// `limits` (a list given replaces the generic list entirely), the id (from the caller or
  /// the file name) and `name` (the id when not given). Not to be used when `problems` is
  /// not empty: it may then hold defaults in place of the values that were wrong.
  engine::profile profile;
  std::vector<problem> problems;  // empty when the profile is usable
};

struct profiles_result {
  /// The profiles that loaded without problems, sorted by file name.
  std::vector<engine::profile> profiles;
  /// Every problem of every file; keys are prefixed with the file name, e.g.
  /// "iv-ketamine.yaml: limits[2].high" (just "iv-ketamine.yaml" for the file as a whole).
  std::vector<problem> problems;
};

/// Reads and checks one profile from YAML text. `id` names the profile (and the text, in
/// messages); it must be 1..64 letters, digits, '-', '_' or '.'. Never throws.
profile_result load_profile_text(const std::string& yaml, const std::string& id);

/// Reads and checks one profile file; its id is the file name without the extension
/// ("config/profiles/iv-ketamine.yaml" -> "iv-ketamine"). Never throws.
profile_result load_profile_file(const std::string& path);

/// Reads every *.yaml file in `dir`, in file-name order. A directory that cannot be read or
/// holds no *.yaml file is a problem, and so is a *.yml file (which would otherwise be
/// silently skipped). Never throws.
profiles_result load_profile_dir(const std::string& dir);

}  // namespace vigil::config
