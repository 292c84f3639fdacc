#include "sim/replay.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <sstream>

namespace vigil::sim {

namespace {

std::string trim(std::string s) {
  const auto first = s.find_first_not_of(" \t\r");
  if (first == std::string::npos) return "";
  const auto last = s.find_last_not_of(" \t\r");
  return s.substr(first, last - first + 1);
}

/// Splits one CSV line into cells; double quotes protect commas, "" is a quote.
std::vector<std::string> split_csv(const std::string& line) {
  std::vector<std::string> cells;
  std::string cell;
  bool quoted = false;
  for (std::size_t i = 0; i < line.size(); ++i) {
    const char ch = line[i];
    if (quoted) {
      if (ch == '"' && i + 1 < line.size() && line[i + 1] == '"') {
        cell += '"';
        ++i;
      } else if (ch == '"') {
        quoted = false;
      } else {
        cell += ch;
      }
    } else if (ch == '"') {
      quoted = true;
    } else if (ch == ',') {
      cells.push_back(trim(cell));
      cell.clear();
    } else {
      cell += ch;
    }
  }
  cells.push_back(trim(cell));
  return cells;
}

std::optional<double> number(const std::string& cell) {
  if (cell.empty()) return std::nullopt;
  char* end = nullptr;
  errno = 0;
  const double v = std::strtod(cell.c_str(), &end);
  if (errno != 0 || end != cell.c_str() + cell.size() || !std::isfinite(v)) return std::nullopt;
  return v;
}

}  // namespace

std::optional<v1::VitalKind> vital_from(const std::string& name) {
  v1::VitalKind kind{};
  std::string upper = name;
  std::transform(upper.begin(), upper.end(), upper.begin(), [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  if (!v1::VitalKind_Parse(upper, &kind) || kind == v1::VITAL_KIND_UNSPECIFIED) return std::nullopt;
  return kind;
}

std::optional<double> unit_factor(v1::VitalKind kind, const std::string& unit) {
  switch (kind) {
    case v1::HEART_RATE:
    case v1::PULSE_RATE:
    case v1::RESPIRATORY_RATE:
      if (unit.empty() || unit == "bpm" || unit == "/min" || unit == "per_min") return 1.0;
      if (unit == "/s" || unit == "per_s" || unit == "hz") return 60.0;
      return std::nullopt;
    case v1::SPO2:
      if (unit.empty() || unit == "%" || unit == "percent") return 1.0;
      if (unit == "fraction") return 100.0;
      return std::nullopt;
    case v1::NIBP_SYSTOLIC:
    case v1::NIBP_DIASTOLIC:
    case v1::NIBP_MEAN:
      if (unit.empty() || unit == "mmHg" || unit == "mmhg") return 1.0;
      if (unit == "kPa" || unit == "kpa") return 7.50062;
      return std::nullopt;
    default: return std::nullopt;
  }
}

std::vector<replay_row> parse_replay_csv(const std::string& text, const replay_spec& spec, const std::string& source) {
  std::istringstream in(text);
  std::string line;
  std::size_t line_no = 0;
  auto error = [&](const std::string& what) { return replay_error(fmt::format("{}:{}: {}", source, line_no, what)); };
  // The header: the first line that is not empty.
  std::vector<std::string> header;
  while (header.empty() && std::getline(in, line)) {
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.rfind("\xEF\xBB\xBF", 0) == 0) line.erase(0, 3);  // a byte-order mark
    if (!trim(line).empty()) header = split_csv(line);
  }
  if (header.empty()) throw replay_error(fmt::format("{}: the file has no header line", source));
  auto index_of = [&](const std::string& name) -> std::size_t {
    const auto it = std::find(header.begin(), header.end(), name);
    if (it == header.end()) throw error(fmt::format("no column '{}' in the header ({})", name, fmt::join(header, ", ")));
    return static_cast<std::size_t>(it - header.begin());
  };
  if (spec.columns.empty()) throw error("no column is mapped to a vital");
  struct mapped {
    v1::VitalKind kind;
    std::size_t index;
    double factor;
    const replay_column* column;
  };
  std::vector<mapped> columns;
  for (const auto& [kind, column] : spec.columns) {
    const auto factor = unit_factor(kind, column.unit);
    if (!factor) throw error(fmt::format("unit '{}' does not fit {}", column.unit, v1::VitalKind_Name(kind)));
    columns.push_back({kind, index_of(column.header), *factor, &column});
  }
  std::optional<std::size_t> time_index;
  double time_factor = 1000;
  if (!spec.time_header.empty()) {
    time_index = index_of(spec.time_header);
    if (spec.time_unit == "ms") {
      time_factor = 1;
    } else if (spec.time_unit == "min") {
      time_factor = 60'000;
    } else if (spec.time_unit != "s") {
      throw error(fmt::format("time unit '{}' is not one of: s, ms, min", spec.time_unit));
    }
  }

  std::vector<replay_row> rows;
  std::int64_t row_index = 0;
  while (std::getline(in, line)) {
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (trim(line).empty()) continue;
    const auto cells = split_csv(line);
    if (cells.size() != header.size()) {
      throw error(fmt::format("{} cells where the header has {}", cells.size(), header.size()));
    }
    replay_row row;
    if (time_index) {
      const auto t = number(cells[*time_index]);
      if (!t || *t < 0) throw error(fmt::format("column '{}': '{}' is not a time", spec.time_header, cells[*time_index]));
      row.offset_ms = std::llround(*t * time_factor);
      if (!rows.empty() && row.offset_ms < rows.back().offset_ms) throw error("the time goes back");
    } else {
      row.offset_ms = row_index * spec.interval_ms;
    }
    ++row_index;
    for (const auto& m : columns) {
      const auto& cell = cells[m.index];
      const auto& c = *m.column;
      // The markers first, so that a marker may look like a number ("0" for a lead off).
      if (cell.empty() || (c.missing_given && cell == c.missing)) continue;
      if (!c.sensor_off.empty() && cell == c.sensor_off) {
        row.values.push_back({m.kind, 0, v1::QUALITY_SENSOR_OFF});  // nothing measured
        continue;
      }
      if (!c.artifact.empty() && cell == c.artifact) {
        row.values.push_back({m.kind, 0, v1::QUALITY_ARTIFACT});
        continue;
      }
      std::uint32_t quality = v1::QUALITY_OK;
      std::string value_text = cell;
      if (const auto flag = cell.find('!'); flag != std::string::npos) {
        if (std::string_view(cell).substr(flag) != artifact_suffix) {
          throw error(fmt::format("column '{}': '{}': '{}' is not a flag (a value may end in {}: an artifact)", c.header,
                                  cell, cell.substr(flag), artifact_suffix));
        }
        quality = v1::QUALITY_ARTIFACT;
        value_text = trim(cell.substr(0, flag));
      }
      const auto v = number(value_text);
      if (!v) {
        std::vector<std::string> markers;
        if (c.missing_given) markers.push_back(fmt::format("missing '{}'", c.missing));
        if (!c.sensor_off.empty()) markers.push_back(fmt::format("sensor_off '{}'", c.sensor_off));
        if (!c.artifact.empty()) markers.push_back(fmt::format("artifact '{}'", c.artifact));
        throw error(fmt::format("column '{}': '{}' is not a number{}", c.header, cell,
                                markers.empty() ? "" : fmt::format(" nor a marker of the column ({})", fmt::join(markers, ", "))));
      }
      row.values.push_back({m.kind, *v * m.factor, quality});
    }
    rows.push_back(std::move(row));
  }
  if (rows.empty()) throw replay_error(fmt::format("{}: the file has no rows after its header", source));
  return rows;
}

std::vector<replay_row> load_replay(const replay_spec& spec) {
  std::ifstream in(spec.file, std::ios::binary);
  if (!in) throw replay_error(fmt::format("{}: cannot read the recording", spec.file));
  std::ostringstream text;
  text << in.rdbuf();
  return parse_replay_csv(text.str(), spec, spec.file);
}

void replay_source::second(std::int64_t t_ms, std::int64_t origin_ms, google::protobuf::RepeatedPtrField<v1::Sample>& out) {
  while (next_ < rows_.size() && rows_[next_].offset_ms < t_ms + 1000) {
    const auto& row = rows_[next_++];
    if (row.offset_ms < t_ms) continue;  // before the session's time: skipped
    for (const auto& v : row.values) {
      auto& s = *out.Add();
      s.set_kind(v.kind);
      s.set_value(v.value);
      s.set_quality(v.quality);
      s.set_time_ms(origin_ms + row.offset_ms);
    }
  }
}

}  // namespace vigil::sim
