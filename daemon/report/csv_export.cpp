#include "daemon/report/csv_export.hpp"

#include <fmt/format.h>

#include <initializer_list>

namespace vigil::report {
namespace {

using engine::event_type;

constexpr std::string_view line_end = "\r\n";

struct field {
  std::string value;
  bool text = false;
};

void append_row(std::string& out, std::initializer_list<field> fields) {
  bool first = true;
  for (const auto& f : fields) {
    if (!first) out += ',';
    first = false;
    out += csv_field(f.value, f.text);
  }
  out += line_end;
}

bool is_alarm_event(event_type t) {
  return t == event_type::alarm_raised || t == event_type::alarm_escalated || t == event_type::alarm_acknowledged ||
         t == event_type::alarm_resounded || t == event_type::alarm_cleared;
}

}  // namespace

std::string csv_field(std::string_view value, bool text) {
  std::string v;
  // A spreadsheet runs a cell starting with one of these as a formula (or, for tab and CR,
  // may strip them and then do so); the quote makes it plain text.
  if (text && !value.empty() && std::string_view("=+-@\t\r").find(value.front()) != std::string_view::npos) v = "'";
  v += value;
  if (v.find_first_of(",\"\r\n") == std::string::npos) return v;
  std::string quoted = "\"";
  for (const char c : v) {
    if (c == '"') quoted += '"';
    quoted += c;
  }
  quoted += '"';
  return quoted;
}

std::string export_vitals_csv(const session_record& r) {
  std::string out;
  out.reserve(64 * (r.vitals.size() + 1));
  append_row(out, {{"time_utc"}, {"time_ms"}, {"session_id"}, {"chair_id"}, {"kind"}, {"value"}, {"unit"},
                   {"quality"}, {"usable"}});
  const std::string session = std::to_string(r.summary.id);
  for (const auto& s : r.vitals) {
    append_row(out, {{rfc3339_utc(s.time_ms)},
                     {std::to_string(s.time_ms)},
                     {session},
                     {r.summary.chair_id, true},
                     {std::string(model::name(s.kind))},
                     {fmt::format("{}", s.value)},
                     {std::string(model::unit(s.kind))},
                     {quality_names(s.quality)},
                     {usable(s) ? "1" : "0"}});
  }
  return out;
}

std::string export_events_csv(const session_record& r) {
  std::string out;
  append_row(out, {{"time_utc"}, {"time_ms"}, {"session_id"}, {"chair_id"}, {"type"}, {"alarm_id"}, {"rule"},
                   {"kind"}, {"priority"}, {"from_phase"}, {"to_phase"}, {"who"}, {"responder"}, {"tier"},
                   {"value"}, {"until_utc"}, {"text"}});
  for (const auto& e : r.events) {
    const bool alarm = is_alarm_event(e.type);
    const bool phases = e.type == event_type::phase_changed;
    const bool escalation = e.type == event_type::alarm_escalated;
    const bool valued = alarm && !escalation && e.type != event_type::alarm_acknowledged;
    append_row(out, {{rfc3339_utc(e.at)},
                     {std::to_string(e.at)},
                     {std::to_string(e.session)},
                     {e.chair, true},
                     {std::string(engine::name(e.type))},
                     {alarm ? std::to_string(e.alarm) : ""},
                     {alarm ? e.rule : "", true},
                     {alarm ? std::string(engine::name(e.kind)) : ""},
                     {alarm ? std::string(engine::name(e.level)) : ""},
                     {phases ? std::string(engine::name(e.from)) : ""},
                     {phases || e.type == event_type::session_opened ? std::string(engine::name(e.to)) : ""},
                     {e.who, true},
                     {e.responder, true},
                     {escalation ? std::to_string(e.tier) : ""},
                     {valued ? fmt::format("{}", e.value) : ""},
                     {e.until != 0 ? rfc3339_utc(e.until) : ""},
                     {e.text, true}});
  }
  return out;
}

}  // namespace vigil::report
