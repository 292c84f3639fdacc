#pragma once

// The session report: one self-contained HTML file (inline CSS and SVG, no scripts, nothing
// fetched) that a clinic can print on A4 and file. docs/exports.md describes its contents.

#include "daemon/report/session_record.hpp"

#include <string>
#include <string_view>

namespace vigil::report {

/// `text` made safe as HTML text or as a quoted attribute value; control characters become spaces.
std::string html_escape(std::string_view text);

/// The whole report as one HTML document.
std::string render_html(const session_record& r, const export_context& ctx);

}  // namespace vigil::report
