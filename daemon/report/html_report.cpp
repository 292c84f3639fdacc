#include "daemon/report/html_report.hpp"

#include "daemon/report/alarm_burden.hpp"
#include "daemon/report/chart.hpp"
#include "daemon/report/wording.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <iterator>
#include <map>
#include <optional>

namespace vigil::report {
namespace {

using engine::event_type;
using engine::priority;
using model::vital_kind;

std::string_view priority_title(priority p) {
  switch (p) {
    case priority::high: return "High";
    case priority::medium: return "Medium";
    case priority::low: return "Low";
  }
  return "?";
}
/// A small inline SVG showing one priority's marker, for tables and the legend.
std::string shape_icon(priority p) {
  return fmt::format(R"(<svg class="icon" width="12" height="12" viewBox="0 0 16 16" aria-hidden="true">{}</svg>)",
                     alarm_shape(p, 8, 8.5, 6.5));
}
std::string value_text(double v) {
  if (std::abs(v - std::round(v)) < 1e-9) return fmt::format("{:.0f}", v);
  return fmt::format("{:.1f}", v);
}

std::optional<trace_point> extreme(std::span<const model::vital_sample> samples, bool highest) {
  std::optional<trace_point> out;
  for (const auto& s : samples) {
    if (!usable(s)) continue;
    if (!out || (highest ? s.value > out->value : s.value < out->value)) out = trace_point{s.time_ms, s.value};
  }
  return out;
}
constexpr std::string_view stylesheet = R"css(
:root { --ink: #1b1f23; --muted: #5f6368; --rule: #d0d4d9; --accent: #1f3b57; --high: #c62828; --medium: #a86400; --low: #00796b; }
* { box-sizing: border-box; }
html { background: #e6e8eb; }
body { margin: 0; font: 10pt/1.4 "Helvetica Neue", Helvetica, Arial, "Liberation Sans", sans-serif; color: var(--ink);
       -webkit-print-color-adjust: exact; print-color-adjust: exact; }
.page { width: 210mm; min-height: 297mm; margin: 8mm auto; padding: 13mm 13mm 12mm; background: #fff;
        box-shadow: 0 1px 5px rgba(0,0,0,.25); }
header.doc { display: flex; justify-content: space-between; align-items: flex-end; gap: 6mm;
             border-bottom: 2.5px solid var(--accent); padding-bottom: 2.5mm; margin-bottom: 3.5mm; }
h1 { margin: 0; font-size: 19pt; font-weight: 700; color: var(--accent); letter-spacing: .2px; }
.subtitle { margin-top: 1mm; color: var(--muted); font-size: 10pt; }
.doc-ids { text-align: right; font-size: 8.5pt; color: var(--muted); line-height: 1.5; }
.doc-ids strong { color: var(--ink); font-size: 11pt; }
h2 { font-size: 11.5pt; color: var(--accent); margin: 6mm 0 2.5mm; padding-bottom: 1mm; border-bottom: 1px solid var(--rule);
     break-after: avoid; page-break-after: avoid; }
table { border-collapse: collapse; width: 100%; }
table.facts th { text-align: left; font-weight: 600; color: var(--muted); font-size: 8pt; text-transform: uppercase;
                 letter-spacing: .3px; white-space: nowrap; padding: 1.3mm 2mm 1.3mm 0; vertical-align: top; width: 19%; }
table.facts td { padding: 1.1mm 3mm 1.1mm 0; vertical-align: top; width: 31%; }
table.facts tr + tr > * { border-top: 1px solid #eceff1; }
.tiles { display: grid; grid-template-columns: repeat(3, 1fr); gap: 2.5mm; }
.tile { border: 1px solid var(--rule); border-left: 3px solid var(--accent); border-radius: 1mm; padding: 1.8mm 3mm; }
.tile .label { font-size: 7.5pt; text-transform: uppercase; letter-spacing: .4px; color: var(--muted); }
.tile .value { font-size: 14pt; font-weight: 650; margin: .3mm 0; }
.tile .value small { font-size: 9pt; font-weight: 400; color: var(--muted); }
.tile .note { font-size: 8.5pt; color: var(--muted); }
.chart svg.vitals-chart { display: block; width: 100%; height: auto; }
.legend { display: flex; flex-wrap: wrap; gap: 1mm 5mm; font-size: 8.5pt; color: #333; margin-top: 1.5mm; }
.legend span { white-space: nowrap; }
svg.icon { vertical-align: -1px; }
.caption { font-size: 8.5pt; color: var(--muted); margin: 1.5mm 0 0; }
table.grid th { text-align: left; font-size: 7.5pt; text-transform: uppercase; letter-spacing: .3px; color: var(--muted);
                font-weight: 600; padding: 1.2mm 1.5mm; border-bottom: 1.5px solid var(--ink); }
table.grid td { padding: 1.1mm 1.5mm; border-bottom: 1px solid #e3e6e8; vertical-align: top; font-size: 8.8pt;
                overflow-wrap: anywhere; }
table.grid tr { break-inside: avoid; page-break-inside: avoid; }
thead { display: table-header-group; }
.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.time { font-variant-numeric: tabular-nums; white-space: nowrap; }
.sub { display: block; font-size: 7.8pt; color: var(--muted); }
.prio { font-weight: 700; white-space: nowrap; }
.prio-high { color: var(--high); } .prio-medium { color: var(--medium); } .prio-low { color: var(--low); }
tr.alarm-row-high td:first-child { box-shadow: inset 3px 0 var(--high); }
tr.alarm-row-medium td:first-child { box-shadow: inset 3px 0 #e08a00; }
tr.alarm-row-low td:first-child { box-shadow: inset 3px 0 #0097a7; }
.cuff { display: grid; grid-template-columns: repeat(4, 1fr); gap: 0 4mm; font-size: 8.8pt; }
.cuff div { display: flex; justify-content: space-between; border-bottom: 1px solid #eceff1; padding: .7mm 0;
            font-variant-numeric: tabular-nums; }
.cuff .t { color: var(--muted); }
.empty { color: var(--muted); font-style: italic; }
.notes td.text { white-space: pre-wrap; }
td.who, td.what { white-space: nowrap; overflow-wrap: normal; }
th.w-time { width: 12%; } th.w-after { width: 9%; } th.w-event { width: 15%; } th.w-by { width: 11%; }
th .sub { text-transform: none; letter-spacing: 0; font-weight: 400; }
.signoff { display: grid; grid-template-columns: 2fr 2fr 1fr; gap: 8mm; margin-top: 12mm; break-inside: avoid;
           page-break-inside: avoid; }
.signoff div { border-top: 1px solid var(--ink); padding-top: 1mm; font-size: 8pt; color: var(--muted); }
footer { margin-top: 6mm; padding-top: 2mm; border-top: 1px solid var(--rule); font-size: 7.8pt; color: var(--muted); }
@page { size: A4; margin: 12mm 11mm 14mm;
        @bottom-left { content: "Vigil ketamine session report"; font: 7.5pt sans-serif; color: #777; }
        @bottom-right { content: "Page " counter(page) " of " counter(pages); font: 7.5pt sans-serif; color: #777; } }
@media print {
  /* Compact enough that identification, summary and chart fit the first A4 page. */
  html { background: none; }
  body { font-size: 9pt; }
  .page { width: auto; min-height: 0; margin: 0; padding: 0; box-shadow: none; }
  h1 { font-size: 17pt; }
  h2 { margin: 3.5mm 0 1.8mm; font-size: 10.5pt; }
  table.facts th, table.facts td { padding-top: .7mm; padding-bottom: .7mm; }
  .tiles { gap: 1.8mm; }
  .tile { padding: 1.2mm 2.5mm; }
  .tile .value { font-size: 12pt; }
  .legend { font-size: 7.5pt; gap: .5mm 4mm; }
  .caption { font-size: 7.5pt; }
  section.chart, .tiles, header.doc, table.facts { break-inside: avoid; page-break-inside: avoid; }
}
)css";

struct html_writer {
  std::string out;
  std::back_insert_iterator<std::string> it() { return std::back_inserter(out); }
};

std::string outcome_text(const session_record& r) {
  const auto& s = r.summary;
  if (s.outcome == "open") return "Open when this report was made";
  std::string reason;
  for (const auto& e : r.events) {
    if (e.type == event_type::session_closed) reason = e.text;
  }
  if (s.outcome == "aborted") return reason.empty() ? "Aborted" : "Aborted: " + reason;
  if (s.outcome == "closed") return reason.empty() || reason == "closed" ? "Closed" : "Closed (" + reason + ")";
  return s.outcome;
}

std::string time_with_offset(millis at, std::optional<millis> reference) {
  std::string out = fmt::format(R"(<span class="time">{}</span>)", clock_utc(at));
  if (reference) fmt::format_to(std::back_inserter(out), R"(<span class="sub">{}</span>)", minutes_after(at, *reference));
  return out;
}

void write_header(html_writer& w, const session_record& r, const export_context& ctx) {
  const auto& s = r.summary;
  fmt::format_to(w.it(),
                 R"(<header class="doc"><div><h1>Ketamine session report</h1>)"
                 R"(<div class="subtitle">Patient {} &middot; {} &middot; {}</div></div>)"
                 R"(<div class="doc-ids"><strong>Session {}</strong><br>Generated {}<br>Vigil {} &middot; all times UTC</div></header>)",
                 html_escape(s.patient_ref), html_escape(s.chair_id), date_time_utc(s.opened_ms).substr(0, 10), s.id,
                 html_escape(date_time_utc(ctx.generated_ms)), html_escape(ctx.version));
}

void write_facts(html_writer& w, const session_record& r, const std::vector<dose_record>& doses) {
  const auto& s = r.summary;
  std::string closed = R"(<span class="empty">&mdash;</span>)";
  if (s.closed_ms) {
    std::string by;
    for (const auto& e : r.events) {
      if (e.type == event_type::session_closed) by = e.who;
    }
    closed = fmt::format("{}{}", date_time_utc(*s.closed_ms), by.empty() ? "" : " by " + html_escape(by));
  }
  std::string dose_html;
  for (std::size_t i = 0; i < doses.size(); ++i) {
    const auto& d = doses[i];
    if (i > 0) dose_html += "<br>";
    fmt::format_to(std::back_inserter(dose_html), R"(<span class="time">{}</span> &middot; {}{})", clock_utc(d.at),
                   html_escape(d.text), d.by.empty() ? "" : " &middot; by " + html_escape(d.by));
  }
  std::string window = R"(<span class="empty">not started</span>)";
  if (!doses.empty()) {
    const millis end = doses.back().window_end;
    window = fmt::format(R"(<span class="time">{}</span> &ndash; <span class="time">{}</span> ({}))", clock_utc(doses.front().at),
                         clock_utc(end), duration_text(end - doses.front().at));
  }
  std::string baseline;
  for (const auto& e : r.events) {
    // The latest one in force: the first dose's, or an operator's re-take (with who).
    if (e.type == event_type::baseline_set) {
      baseline = e.who.empty() ? clinical_text(e.text) : fmt::format("{} (by {})", clinical_text(e.text), e.who);
    }
  }

  std::vector<std::pair<std::string, std::string>> facts;  // label, HTML; in pairs, then full rows
  facts.emplace_back("Patient reference", "<strong>" + html_escape(s.patient_ref) + "</strong>");
  facts.emplace_back("Chair", html_escape(s.chair_id));
  facts.emplace_back("Profile", html_escape(s.profile));
  facts.emplace_back("Outcome", html_escape(outcome_text(r)));
  facts.emplace_back("Opened", fmt::format("{} by {}", date_time_utc(s.opened_ms), html_escape(s.opened_by)));
  facts.emplace_back("Closed", closed);
  facts.emplace_back(doses.size() > 1 ? "Doses" : "Dose", doses.empty() ? R"(<span class="empty">no dose marked</span>)" : dose_html);
  facts.emplace_back("Observation window", window);
  const std::pair<std::string, std::string> full_rows[] = {
      {"Ready for discharge assessment",
       s.ready_ms ? fmt::format(R"(<span class="time">{}</span> ({} after the first dose))", clock_utc(*s.ready_ms),
                                duration_text(*s.ready_ms - s.dose_ms.value_or(*s.ready_ms)))
                  : std::string(R"(<span class="empty">not reached</span>)")},
      {"Baseline (median, with its quality)", baseline.empty() ? R"(<span class="empty">not set</span>)" : html_escape(baseline)},
  };

  w.out += R"(<table class="facts">)";
  for (std::size_t i = 0; i + 1 < facts.size(); i += 2) {
    fmt::format_to(w.it(), "<tr><th>{}</th><td>{}</td><th>{}</th><td>{}</td></tr>", facts[i].first, facts[i].second,
                   facts[i + 1].first, facts[i + 1].second);
  }
  for (const auto& [label, html] : full_rows) {
    fmt::format_to(w.it(), R"(<tr><th>{}</th><td colspan="3">{}</td></tr>)", label, html);
  }
  w.out += "</table>";
}

void tile(html_writer& w, std::string_view label, const std::string& value_html, const std::string& note_html) {
  fmt::format_to(w.it(), R"(<div class="tile"><div class="label">{}</div><div class="value">{}</div><div class="note">{}</div></div>)",
                 label, value_html, note_html);
}

void write_summary(html_writer& w, const session_record& r, std::span<const alarm_record> alarms) {
  const auto& s = r.summary;
  const std::optional<millis> dose = s.dose_ms;
  const auto when = [&](millis at) {
    return dose ? fmt::format("{} UTC ({} after dose)", clock_utc(at).substr(0, 5), minutes_after(at, *dose))
                : fmt::format("{} UTC", clock_utc(at).substr(0, 5));
  };
  w.out += R"(<section><h2>Summary</h2><div class="tiles">)";

  const millis end = record_end(r);
  tile(w, "Session length", duration_text(end - s.opened_ms),
       fmt::format("{} &ndash; {} UTC{}", clock_utc(s.opened_ms).substr(0, 5), clock_utc(end).substr(0, 5),
                   s.closed_ms ? "" : " (still open)"));
  if (dose && s.ready_ms) {
    tile(w, "Dose to ready", duration_text(*s.ready_ms - *dose),
         fmt::format("ready for discharge assessment at {} UTC", clock_utc(*s.ready_ms).substr(0, 5)));
  } else {
    tile(w, "Dose to ready", "&mdash;", dose ? "readiness not reached" : "no dose marked");
  }

  auto hr = series(r, vital_kind::heart_rate);
  if (hr.empty()) hr = series(r, vital_kind::pulse_rate);
  const auto hr_peak = extreme(hr, true);
  const auto hr_low = extreme(hr, false);
  if (hr_peak && hr_low) {
    tile(w, "Heart rate", fmt::format("{} <small>bpm peak</small>", value_text(hr_peak->value)),
         fmt::format("at {}<br>lowest {} bpm at {} UTC", when(hr_peak->at), value_text(hr_low->value),
                     clock_utc(hr_low->at).substr(0, 5)));
  } else {
    tile(w, "Heart rate", "&mdash;", "no usable readings");
  }

  const auto cuff = cuff_readings(r);
  const auto peak = std::max_element(cuff.begin(), cuff.end(), [](const auto& a, const auto& b) { return a.systolic < b.systolic; });
  if (peak != cuff.end()) {
    tile(w, "Blood pressure",
         fmt::format("{}{} <small>mmHg peak</small>", value_text(peak->systolic),
                     peak->diastolic ? "/" + value_text(*peak->diastolic) : ""),
         fmt::format("at {}<br>{} cuff reading{}", when(peak->at), cuff.size(), cuff.size() == 1 ? "" : "s"));
  } else {
    tile(w, "Blood pressure", "&mdash;", "no cuff readings");
  }

  const auto spo2 = series(r, vital_kind::spo2);
  if (const auto low = extreme(spo2, false)) {
    tile(w, "SpO\u2082", fmt::format("{} <small>% lowest</small>", value_text(low->value)), fmt::format("at {}", when(low->at)));
  } else {
    tile(w, "SpO\u2082", "&mdash;", "no usable readings");
  }

  std::map<priority, int> by_level;
  std::map<engine::alarm_kind, int> by_kind;
  for (const auto& a : alarms) {
    ++by_level[a.level];
    ++by_kind[a.kind];
  }
  std::string levels;
  for (const priority p : {priority::high, priority::medium, priority::low}) {
    if (!levels.empty()) levels += " &middot; ";
    fmt::format_to(std::back_inserter(levels), "{} {} {}", shape_icon(p), by_level[p], priority_title(p));
  }
  tile(w, "Alarms", fmt::format("{} <small>raised</small>", alarms.size()),
       fmt::format("{}<br>{} physiological &middot; {} technical &middot; {} advisory", levels,
                   by_kind[engine::alarm_kind::physiological], by_kind[engine::alarm_kind::technical],
                   by_kind[engine::alarm_kind::advisory]));
  w.out += "</div></section>";
}

void write_legend(html_writer& w, bool pulse) {
  const auto line_icon = [](std::string_view colour, std::string_view dash) {
    return fmt::format(R"(<svg class="icon" width="22" height="10" viewBox="0 0 22 10" aria-hidden="true"><line x1="1" x2="21" y1="5" y2="5" stroke="{}" stroke-width="2"{}/></svg>)",
                       colour, dash.empty() ? "" : fmt::format(R"( stroke-dasharray="{}")", dash));
  };
  w.out += R"(<div class="legend">)";
  fmt::format_to(w.it(), "<span>{} {}</span>", line_icon(hr_colour, ""), pulse ? "Pulse rate (oximeter)" : "Heart rate");
  fmt::format_to(w.it(),
                 R"(<span><svg class="icon" width="14" height="16" viewBox="0 0 14 16" aria-hidden="true"><g stroke="{}" fill="none" stroke-width="1.4"><path d="M2.5 1L7 5L11.5 1"/><path d="M2.5 15L7 11L11.5 15"/><line x1="7" x2="7" y1="5" y2="11"/></g></svg> Cuff BP: &or; systolic, &and; diastolic</span>)",
                 bp_colour);
  fmt::format_to(w.it(), "<span>{} SpO\u2082</span>", line_icon(spo2_colour, ""));
  fmt::format_to(w.it(),
                 R"(<span><svg class="icon" width="16" height="10" aria-hidden="true"><rect width="16" height="10" fill="{}" stroke="#b08a2e" stroke-width="0.8"/></svg> Observation window</span>)",
                 window_fill);
  fmt::format_to(w.it(), "<span>{} Dose</span>", line_icon("#111", ""));
  fmt::format_to(w.it(), "<span>{} Ready for discharge assessment</span>", line_icon(ready_colour, "5 2"));
  w.out += R"(<span><svg class="icon" width="16" height="8" aria-hidden="true"><rect width="16" height="5" y="3" fill="#8d8d8d"/></svg> Samples flagged (artifact, sensor off)</span>)";
  for (const priority p : {priority::high, priority::medium, priority::low}) {
    fmt::format_to(w.it(), "<span>{} {} priority alarm</span>", shape_icon(p), priority_title(p));
  }
  w.out += "</div>";
}

void write_chart(html_writer& w, const session_record& r, std::span<const alarm_record> alarms,
                 const std::vector<dose_record>& doses) {
  w.out += R"(<section class="chart"><h2>Vital signs</h2>)";
  w.out += render_chart(r, alarms, doses);
  write_legend(w, series(r, vital_kind::heart_rate).empty() && !series(r, vital_kind::pulse_rate).empty());
  w.out += R"(<p class="caption">Lines show the lowest and highest value of each pixel column, so short extremes stay )"
           R"(visible; samples flagged by the monitor or at ingest are left out of the lines and the summary. )"
           R"(Alarm markers are numbered as in the alarm table; the bar runs from raise to clear, the black tick marks )"
           R"(the first acknowledgement.</p></section>)";
}

void write_alarm_table(html_writer& w, std::span<const alarm_record> alarms, std::optional<millis> dose) {
  w.out += "<section><h2>Alarms</h2>";
  if (alarms.empty()) {
    w.out += R"(<p class="empty">No alarm was raised in this session.</p></section>)";
    return;
  }
  w.out += R"(<table class="grid alarms"><thead><tr><th>#</th><th>Alarm</th><th>Priority</th><th class="num">Value</th>)"
           R"(<th>Raised<span class="sub">after dose</span></th><th>Acknowledged</th><th>Cleared</th><th>Escalation reached</th></tr></thead><tbody>)";
  for (std::size_t i = 0; i < alarms.size(); ++i) {
    const auto& a = alarms[i];
    const auto level = engine::name(a.level);
    fmt::format_to(w.it(), R"(<tr class="alarm-row-{}"><td class="time">{} A{}</td>)", level, shape_icon(a.level), i + 1);
    fmt::format_to(w.it(), R"(<td><strong>{}</strong><span class="sub">{} &middot; {} &middot; id {}</span></td>)",
                   html_escape(rule_title(a.rule)), html_escape(alarm_display_text(a.rule, a.value, a.text)), engine::name(a.kind), a.id);
    fmt::format_to(w.it(), R"(<td class="prio prio-{}">{}</td>)", level, priority_title(a.level));
    // Technical alarms and advisories carry no value (0).
    const bool valued = a.kind == engine::alarm_kind::physiological || a.value != 0;
    fmt::format_to(w.it(), R"(<td class="num">{}</td>)", valued ? value_text(a.value) : "&mdash;");
    fmt::format_to(w.it(), "<td>{}</td>", time_with_offset(a.raised_at, dose));
    if (a.first_ack_at) {
      fmt::format_to(w.it(), R"(<td><span class="time">{}</span><span class="sub">by {}{}</span></td>)", clock_utc(*a.first_ack_at),
                     html_escape(a.first_ack_by),
                     a.acknowledgements > 1 ? fmt::format(" &middot; {}&times; in all", a.acknowledgements) : "");
    } else {
      w.out += R"(<td><span class="empty">not acknowledged</span></td>)";
    }
    if (a.cleared_at) {
      fmt::format_to(w.it(), R"(<td><span class="time">{}</span><span class="sub">{}</span></td>)", clock_utc(*a.cleared_at),
                     html_escape(clinical_text(a.cleared_why)));
    } else {
      w.out += R"(<td><span class="empty">still active</span></td>)";
    }
    std::string escalation = a.highest_tier >= 0 ? fmt::format("{} <span class=\"sub\">tier {}</span>", html_escape(responder_title(a.highest_responder)),
                                                               a.highest_tier)
                                                 : std::string(R"(<span class="empty">none</span>)");
    if (a.resoundings > 0) escalation += fmt::format(R"(<span class="sub">re-sounded {}&times;</span>)", a.resoundings);
    fmt::format_to(w.it(), "<td>{}</td></tr>", escalation);
  }
  w.out += "</tbody></table></section>";
}

/// "45 s", "2 min 05 s"; "&mdash;" when there is none.
std::string ack_text(std::optional<millis> ms) {
  if (!ms) return "&mdash;";
  const millis s = (*ms + 500) / 1000;
  return s < 60 ? fmt::format("{} s", s) : fmt::format("{} min {:02} s", s / 60, s % 60);
}

void burden_row(html_writer& w, const std::string& label_html, const burden_counts& c, millis patient_ms) {
  const auto rate = per_patient_hour(c.alarms, patient_ms);
  const auto percent = [](std::optional<double> v) { return v ? fmt::format("{:.0f}%", *v * 100) : std::string("&mdash;"); };
  fmt::format_to(w.it(),
                 R"(<tr><td>{}</td><td class="num">{}</td><td class="num">{}</td><td class="num">{}</td>)"
                 R"(<td class="num">{}</td><td class="num">{}</td><td class="num">{}</td></tr>)",
                 label_html, c.alarms, rate ? fmt::format("{:.2f}", *rate) : std::string("&mdash;"),
                 percent(share(c.short_alarms, c.alarms)), percent(share(c.acknowledged, c.alarms)),
                 ack_text(percentile(c.ack_ms, 50)), ack_text(percentile(c.ack_ms, 90)));
}

void write_burden(html_writer& w, const session_record& r, const export_context& ctx) {
  const std::vector<burden_session> one = {{r.summary.id, r.summary.opened_ms, r.events}};
  const auto b = burden_of(one, std::max(ctx.generated_ms, record_end(r)));
  w.out += "<section class=\"burden\"><h2>Alarm burden</h2>";
  fmt::format_to(w.it(), R"(<p>Patient time {} ({:.2f} patient-hours), {}.</p>)", duration_text(b.patient_ms),
                 static_cast<double>(b.patient_ms) / 3'600'000.0,
                 r.summary.closed_ms ? "from opening to closing" : "from opening to when this report was made");
  if (b.all.alarms == 0) {
    w.out += R"(<p class="empty">No alarm was raised in this session.</p></section>)";
    return;
  }
  w.out += R"(<table class="grid burden"><thead><tr><th>Alarms of</th><th class="num">Alarms</th>)"
           R"(<th class="num">Per patient-hour</th><th class="num">Under 30 s</th><th class="num">Acknowledged</th>)"
           R"(<th class="num">To acknowledge<span class="sub">median</span></th>)"
           R"(<th class="num">To acknowledge<span class="sub">90th percentile</span></th></tr></thead><tbody>)";
  burden_row(w, "<strong>All</strong>", b.all, b.patient_ms);
  for (const auto level : {priority::high, priority::medium, priority::low}) {
    const auto& c = b.by_priority[static_cast<std::size_t>(level) - 1];
    if (c.alarms == 0) continue;
    burden_row(w, fmt::format("{} {} priority", shape_icon(level), priority_title(level)), c, b.patient_ms);
  }
  for (const auto kind : {engine::alarm_kind::physiological, engine::alarm_kind::technical, engine::alarm_kind::advisory}) {
    const auto& c = b.by_kind[static_cast<std::size_t>(kind) - 1];
    if (c.alarms == 0) continue;
    const std::string_view title = kind == engine::alarm_kind::physiological ? "Physiological"
                                   : kind == engine::alarm_kind::technical    ? "Technical"
                                                                              : "Advisory";
    burden_row(w, fmt::format("{} alarms", title), c, b.patient_ms);
  }
  for (const auto& [key, c] : b.by_rule) {
    burden_row(w,
               fmt::format(R"(<strong>{}</strong><span class="sub">{} &middot; {}</span>)", html_escape(rule_title(key.rule)),
                           priority_title(key.level), engine::name(key.kind)),
               c, b.patient_ms);
  }
  w.out += R"(</tbody></table><p class="caption">An alarm is one alarm id, from raised to cleared; one still active )"
           R"(is not counted as under 30 s. Acknowledged: at least once. To acknowledge: from raised to the first )"
           R"(acknowledgement, nearest-rank median and 90th percentile of the acknowledged alarms.</p></section>)";
}

void write_cuff_readings(html_writer& w, const session_record& r) {
  const auto cuff = cuff_readings(r);
  w.out += "<section><h2>Cuff blood pressure readings</h2>";
  if (cuff.empty()) {
    w.out += R"(<p class="empty">No cuff reading was recorded.</p></section>)";
    return;
  }
  w.out += R"(<div class="cuff">)";
  for (const auto& c : cuff) {
    fmt::format_to(w.it(), R"(<div><span class="t">{}{}</span><span>{}{}{}</span></div>)", clock_utc(c.at).substr(0, 5),
                   r.summary.dose_ms ? " (" + minutes_after(c.at, *r.summary.dose_ms) + ")" : "", value_text(c.systolic),
                   c.diastolic ? "/" + value_text(*c.diastolic) : "", c.mean ? " (" + value_text(*c.mean) + ")" : "");
  }
  w.out += R"(</div><p class="caption">Systolic/diastolic (mean) in mmHg; minutes after the first dose in brackets.</p></section>)";
}

void write_notes(html_writer& w, const session_record& r) {
  w.out += "<section><h2>Notes</h2>";
  bool any = false;
  for (const auto& e : r.events) {
    if (e.type != event_type::note_added && e.type != event_type::predose_override) continue;
    if (!any) {
      w.out += R"(<table class="grid notes"><thead><tr><th class="w-time">Time<span class="sub">after dose</span></th><th class="w-by">By</th><th>Note</th></tr></thead><tbody>)";
      any = true;
    }
    fmt::format_to(w.it(), R"(<tr><td>{}</td><td class="who">{}</td><td class="text">{}{}</td></tr>)", time_with_offset(e.at, r.summary.dose_ms),
                   html_escape(e.who), e.type == event_type::predose_override ? "<strong>Pre-dose check overridden:</strong> " : "",
                   html_escape(e.text));
  }
  w.out += any ? "</tbody></table></section>" : R"(<p class="empty">No notes were recorded.</p></section>)";
}

void write_timeline(html_writer& w, const session_record& r, std::span<const alarm_record> alarms) {
  std::map<std::uint64_t, std::size_t> number;
  for (std::size_t i = 0; i < alarms.size(); ++i) number[alarms[i].id] = i + 1;
  w.out += R"(<section class="timeline"><h2>Event timeline</h2>)"
           R"(<table class="grid events"><thead><tr><th class="w-time">Time</th><th class="w-after">After dose</th><th class="w-event">Event</th><th>Details</th><th class="w-by">By</th></tr></thead><tbody>)";
  for (const auto& e : r.events) {
    const auto n = number.find(e.alarm);
    const std::string label = n != number.end() ? fmt::format("A{}", n->second) : fmt::format("alarm {}", e.alarm);
    fmt::format_to(w.it(), R"(<tr><td class="time">{}</td><td class="time">{}</td><td class="what">{}</td><td>{}</td><td class="who">{}</td></tr>)",
                   clock_utc(e.at), r.summary.dose_ms ? minutes_after(e.at, *r.summary.dose_ms) : "", event_title(e.type),
                   html_escape(event_detail(e, label)), html_escape(e.who));
  }
  w.out += "</tbody></table></section>";
}

}  // namespace

std::string html_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20 && c != '\n' && c != '\t') {
          out += ' ';
        } else {
          out += c;
        }
    }
  }
  return out;
}
std::string render_html(const session_record& r, const export_context& ctx) {
  const auto alarms = alarm_history(r.events);
  const auto dose_list = doses(r.events);
  html_writer w;
  w.out.reserve(128 * 1024);
  fmt::format_to(w.it(),
                 "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                 "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
                 "<meta name=\"generator\" content=\"Vigil {}\">"
                 "<title>Ketamine session report \u2014 session {} \u2014 {}</title><style>{}</style></head>\n"
                 "<body><main class=\"page\">",
                 html_escape(ctx.version), r.summary.id, html_escape(r.summary.patient_ref), stylesheet);
  write_header(w, r, ctx);
  write_facts(w, r, dose_list);
  write_summary(w, r, alarms);
  write_chart(w, r, alarms, dose_list);
  write_alarm_table(w, alarms, r.summary.dose_ms);
  write_burden(w, r, ctx);
  write_cuff_readings(w, r);
  write_notes(w, r);
  write_timeline(w, r, alarms);
  w.out += R"(<div class="signoff"><div>Reviewed by (name, role)</div><div>Signature</div><div>Date</div></div>)";
  fmt::format_to(w.it(),
                 "<footer>Generated by Vigil {} on {} from the session timeline recorded by vigild. Times are session time "
                 "(the bedside monitor's clock) in UTC. Values are as recorded by the monitor. Vigil supports the clinical "
                 "staff who observe the patient; it does not replace their judgement.</footer>",
                 html_escape(ctx.version), date_time_utc(ctx.generated_ms));
  w.out += "</main></body></html>\n";
  return std::move(w.out);
}

}  // namespace vigil::report
