#pragma once

// The session report: one self-contained HTML file (inline CSS and SVG, no scripts, nothing
// fetched) that a clinic can print on A4 and file. docs/exports.md describes its contents.

#include "daemon/report/session_record.hpp"

#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace vigil::report {

/// `text` made safe as HTML text or as a quoted attribute value; control characters become spaces.
std::string html_escape(std::string_view text);

struct trace_point {
  millis at = 0;
  double value = 0;
};

/// Usable samples in [from, to] reduced for a chart `width` columns wide: per column the lowest
/// and the highest value, in time order, so no extreme is lost. A new run (a break in the
/// line) starts where consecutive usable samples are more than `max_gap_ms` apart.
std::vector<std::vector<trace_point>> downsample(std::span<const model::vital_sample> samples, millis from,
                                                 millis to, int width, millis max_gap_ms);

/// The whole report as one HTML document.
std::string render_html(const session_record& r, const export_context& ctx);

}  // namespace vigil::report
