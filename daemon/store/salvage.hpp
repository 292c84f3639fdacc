#pragma once

// Copying what can still be read out of a damaged timeline into a new one, table by table and
// row by row, past pages that cannot be read. vigild refuses to start on a damaged file
// (sqlite_timeline checks every page); an operator sets it aside, starts afresh, and salvages the
// old record with `vigilctl salvage` to read it with vigilctl's list, show, export and report.

#include <cstdint>
#include <string>
#include <vector>

namespace vigil::store {

struct salvaged_table {
  std::string name;
  std::uint64_t rows = 0;     // copied
  bool whole = true;          // read to the end without a damaged page
  std::uint64_t skips = 0;    // damaged stretches stepped over (tables keyed by row id)
};

struct salvage_report {
  std::vector<salvaged_table> tables;
};

/// Copies every readable row of the timeline at `damaged` into a new timeline at `out` (which
/// must not exist). Throws std::runtime_error, naming the file, if `damaged` cannot be opened or
/// its schema cannot be read at all, or if `out` exists or cannot be written.
salvage_report salvage(const std::string& damaged, const std::string& out);

}  // namespace vigil::store
