#pragma once

// A session's vitals or events as CSV (RFC 4180: CRLF line ends, fields holding a comma, a
// quote, CR or LF are quoted, quotes doubled). Text fields that a spreadsheet would read as a
// formula (starting with = + - @, tab or CR) get a leading single quote. docs/exports.md lists
// the columns.

#include "daemon/report/session_record.hpp"

#include <string>
#include <string_view>

namespace vigil::report {

/// One CSV field; `text` fields are neutralised against formula injection first.
std::string csv_field(std::string_view value, bool text);

/// One row per stored sample, by kind then time, with a header row.
std::string export_vitals_csv(const session_record& r);

/// One row per event, in order, with a header row.
std::string export_events_csv(const session_record& r);

}  // namespace vigil::report
