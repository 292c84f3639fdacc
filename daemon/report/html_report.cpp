#include "daemon/report/html_report.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <iterator>
#include <map>
#include <optional>
#include <set>

namespace vigil::report {
namespace {

using engine::event_type;
using engine::priority;
using model::vital_kind;

// --- chart geometry (SVG user units; the SVG scales to the page width) ----------------------

constexpr double svg_width = 900;
constexpr double plot_left = 62;
constexpr double plot_right = 884;
constexpr int plot_columns = 822;  // one bucket per unit of plot width
constexpr double lane_top = 26;
constexpr double lane_row = 18;
constexpr int lane_max_rows = 6;
constexpr double panel_gap = 12;
constexpr double cardio_height = 230;
constexpr double spo2_height = 104;
// Two usable samples further apart than this are not joined by the line (a 1 Hz stream that
// stopped, or a sensor taken off).
constexpr millis line_gap_ms = 30 * engine::seconds_ms;
// A diastolic reading belongs to the systolic reading of the same cuff cycle.
constexpr millis cuff_pair_ms = 60 * engine::seconds_ms;

constexpr std::string_view hr_colour = "#2e7d32";
constexpr std::string_view bp_colour = "#5e35b1";
constexpr std::string_view spo2_colour = "#0277bd";
constexpr std::string_view window_fill = "#fcf5e3";
constexpr std::string_view ready_colour = "#00695c";

std::string_view priority_colour(priority p) {
  switch (p) {
    case priority::high: return "#c62828";
    case priority::medium: return "#e08a00";
    case priority::low: return "#0097a7";
  }
  return "#757575";
}

std::string_view priority_title(priority p) {
  switch (p) {
    case priority::high: return "High";
    case priority::medium: return "Medium";
    case priority::low: return "Low";
  }
  return "?";
}

/// The marker of a priority, centred on (x, y): high a triangle, medium a diamond, low a
/// circle, so that priority never rests on colour alone.
std::string alarm_shape(priority p, double x, double y, double size) {
  const auto colour = priority_colour(p);
  switch (p) {
    case priority::high:
      return fmt::format(R"(<path d="M{:.1f} {:.1f}L{:.1f} {:.1f}L{:.1f} {:.1f}Z" fill="{}" stroke="#222" stroke-width="0.8"/>)",
                         x, y - size, x + size, y + size * 0.75, x - size, y + size * 0.75, colour);
    case priority::medium:
      return fmt::format(R"(<path d="M{:.1f} {:.1f}L{:.1f} {:.1f}L{:.1f} {:.1f}L{:.1f} {:.1f}Z" fill="{}" stroke="#222" stroke-width="0.8"/>)",
                         x, y - size, x + size, y, x, y + size, x - size, y, colour);
    case priority::low:
      return fmt::format(R"(<circle cx="{:.1f}" cy="{:.1f}" r="{:.1f}" fill="{}" stroke="#222" stroke-width="0.8"/>)", x, y,
                         size * 0.8, colour);
  }
  return {};
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

struct cuff_reading {
  millis at = 0;
  double systolic = 0;
  std::optional<double> diastolic;
  std::optional<double> mean;
};

std::optional<double> value_near(std::span<const model::vital_sample> samples, millis at) {
  std::optional<double> out;
  millis best = cuff_pair_ms + 1;
  for (const auto& s : samples) {
    if (!usable(s)) continue;
    const millis d = s.time_ms > at ? s.time_ms - at : at - s.time_ms;
    if (d < best) {
      best = d;
      out = s.value;
    }
  }
  return out;
}

std::vector<cuff_reading> cuff_readings(const session_record& r) {
  const auto diastolic = series(r, vital_kind::nibp_diastolic);
  const auto mean = series(r, vital_kind::nibp_mean);
  std::vector<cuff_reading> out;
  for (const auto& s : series(r, vital_kind::nibp_systolic)) {
    if (!usable(s)) continue;
    out.push_back({s.time_ms, s.value, value_near(diastolic, s.time_ms), value_near(mean, s.time_ms)});
  }
  return out;
}

/// Maps session time and values onto the chart.
struct frame {
  millis from = 0;
  millis to = 1;
  double x(millis t) const {
    const double f = static_cast<double>(t - from) / static_cast<double>(to - from);
    return plot_left + std::clamp(f, 0.0, 1.0) * (plot_right - plot_left);
  }
  bool inside(millis t) const { return t >= from && t <= to; }
};

struct panel {
  double top = 0;
  double height = 0;
  double low = 0;
  double high = 1;
  double y(double v) const {
    const double f = (std::clamp(v, low, high) - low) / (high - low);
    return top + height - f * height;
  }
  double bottom() const { return top + height; }
};

class svg_chart {
 public:
  svg_chart(const session_record& r, std::span<const alarm_record> alarms, const std::vector<dose_record>& doses)
      : r_(r), alarms_(alarms), doses_(doses) {
    f_.from = r.summary.opened_ms;
    f_.to = std::max(record_end(r), f_.from + engine::minutes_ms);
    reference_ = doses.empty() ? r.summary.opened_ms : doses.front().at;
    hr_ = series(r, vital_kind::heart_rate);
    hr_name_ = "HR";
    if (hr_.empty()) {
      hr_ = series(r, vital_kind::pulse_rate);
      hr_name_ = "Pulse";
    }
    spo2_ = series(r, vital_kind::spo2);
    cuff_ = cuff_readings(r);
    place_alarms();
    cardio_.top = lane_top + lane_row * rows_ + panel_gap;
    cardio_.height = cardio_height;
    set_cardio_range();
    spo2_panel_.top = cardio_.bottom() + panel_gap;
    spo2_panel_.height = spo2_height;
    set_spo2_range();
    height_ = spo2_panel_.bottom() + 48;
  }

  std::string render() {
    fmt::format_to(out(),
                   R"(<svg class="vitals-chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {:.0f} {:.0f}" role="img" aria-label="Vital signs across the session">)",
                   svg_width, height_);
    out_ += R"(<g font-family="Helvetica, Arial, sans-serif" font-size="12" fill="#222">)";
    draw_window();
    draw_panel_grid(cardio_, 20, "HR bpm \u00b7 BP mmHg");
    draw_panel_grid(spo2_panel_, spo2_step_, "SpO\u2082 %");
    draw_time_axis();
    draw_flagged(hr_, cardio_);
    draw_flagged(spo2_, spo2_panel_);
    draw_trace(hr_, cardio_, hr_colour, "hr-line");
    draw_bp();  // over the heart rate: diastolic readings often sit on its line
    draw_trace(spo2_, spo2_panel_, spo2_colour, "spo2-line");
    draw_marks();
    draw_alarms();
    out_ += "</g></svg>";
    return std::move(out_);
  }

 private:
  std::back_insert_iterator<std::string> out() { return std::back_inserter(out_); }

  /// Width of an alarm's label ("A12") in the lane.
  static double label_width(std::size_t number) { return 7.5 * static_cast<double>(std::to_string(number).size() + 1); }

  /// Labels go left of their marker, so that the bar (raise to clear) and the acknowledgement
  /// tick on its right stay clear; right of it only where the plot's left edge is too close.
  bool label_left(std::size_t i) const { return f_.x(alarms_[i].raised_at) - 10 - label_width(i + 1) >= plot_left; }

  void place_alarms() {
    // Greedy rows: an alarm goes on the first row whose previous alarm (label, marker and bar)
    // ends before it starts, so nothing overlaps.
    std::vector<double> row_end;
    for (std::size_t i = 0; i < alarms_.size(); ++i) {
      const auto& a = alarms_[i];
      const double x = f_.x(a.raised_at);
      const double start = label_left(i) ? x - 10 - label_width(i + 1) : x - 8;
      const double end = std::max({x + 8, f_.x(a.cleared_at.value_or(f_.to)), label_left(i) ? 0.0 : x + 10 + label_width(i + 1)}) + 4;
      std::size_t row = 0;
      while (row < row_end.size() && row_end[row] > start) ++row;
      if (row == row_end.size()) {
        if (row_end.size() < lane_max_rows) {
          row_end.push_back(end);
        } else {
          row = static_cast<std::size_t>(std::min_element(row_end.begin(), row_end.end()) - row_end.begin());
        }
      }
      row_end[row] = std::max(row_end[row], end);
      rows_of_.push_back(static_cast<int>(row));
    }
    rows_ = std::max<int>(1, static_cast<int>(row_end.size()));
  }

  void set_cardio_range() {
    double low = 40;
    double high = 180;
    for (const auto& s : hr_) {
      if (!usable(s)) continue;
      low = std::min(low, s.value - 5);
      high = std::max(high, s.value + 5);
    }
    for (const auto& c : cuff_) {
      high = std::max(high, c.systolic + 10);
      low = std::min(low, c.diastolic.value_or(c.systolic) - 5);
    }
    cardio_.low = std::max(0.0, std::floor(low / 20) * 20);
    cardio_.high = std::ceil(high / 20) * 20;
  }

  void set_spo2_range() {
    double low = 85;
    for (const auto& s : spo2_) {
      if (usable(s)) low = std::min(low, s.value - 2);
    }
    spo2_panel_.low = std::max(0.0, std::floor(low / 5) * 5);
    spo2_panel_.high = 100;
    spo2_step_ = spo2_panel_.high - spo2_panel_.low > 30 ? 10 : 5;
  }

  void draw_window() {
    if (doses_.empty()) return;
    const millis start = doses_.front().at;
    const millis end = doses_.back().window_end;
    if (end <= start) return;
    const double x0 = f_.x(start);
    const double x1 = f_.x(end);
    const double top = cardio_.top;
    const double bottom = spo2_panel_.bottom();
    fmt::format_to(out(), R"(<g class="obs-window"><rect x="{:.1f}" y="{:.1f}" width="{:.1f}" height="{:.1f}" fill="{}"/>)",
                   x0, top, std::max(0.0, x1 - x0), bottom - top, window_fill);
    const std::string label = fmt::format("Observation window {}{}", duration_text(end - start),
                                          end > f_.to ? " (continues past the end of the record)" : "");
    fmt::format_to(out(), R"(<text x="{:.1f}" y="{:.1f}" font-size="11" fill="#7a5a00">{}</text>)", x0 + 5, top + 13,
                   html_escape(label));
    if (end <= f_.to) {
      fmt::format_to(out(), R"(<line x1="{0:.1f}" x2="{0:.1f}" y1="{1:.1f}" y2="{2:.1f}" stroke="#b08a2e" stroke-width="1" stroke-dasharray="4 3"/>)",
                     x1, top, bottom);
    }
    out_ += "</g>";
  }

  void draw_panel_grid(const panel& p, double step, std::string_view title) {
    fmt::format_to(out(), R"(<rect x="{:.1f}" y="{:.1f}" width="{:.1f}" height="{:.1f}" fill="none" stroke="#9aa0a6" stroke-width="0.8"/>)",
                   plot_left, p.top, plot_right - plot_left, p.height);
    for (double v = p.low; v <= p.high + 1e-9; v += step) {
      const double y = p.y(v);
      if (v > p.low && v < p.high) {
        fmt::format_to(out(), R"(<line x1="{:.1f}" x2="{:.1f}" y1="{:.1f}" y2="{:.1f}" stroke="#e3e6e8" stroke-width="0.8"/>)",
                       plot_left, plot_right, y, y);
      }
      fmt::format_to(out(), R"(<text x="{:.1f}" y="{:.1f}" text-anchor="end" font-size="11" fill="#555">{:.0f}</text>)",
                     plot_left - 5, y + 4, v);
    }
    const double mid = p.top + p.height / 2;
    fmt::format_to(out(), R"svg(<text transform="translate(16 {:.1f}) rotate(-90)" text-anchor="middle" font-size="11" fill="#444">{}</text>)svg",
                   mid, title);
  }

  void draw_time_axis() {
    static constexpr millis steps[] = {1, 2, 5, 10, 15, 20, 30, 60, 120, 240};
    const millis span = f_.to - f_.from;
    millis step = steps[std::size(steps) - 1] * engine::minutes_ms;
    for (const millis s : steps) {
      if (span / (s * engine::minutes_ms) <= 14) {
        step = s * engine::minutes_ms;
        break;
      }
    }
    // Ticks at whole steps from the first dose (or the opening), which is tick 0.
    millis k = -((reference_ - f_.from) / step);
    const double top = cardio_.top;
    const double bottom = spo2_panel_.bottom();
    for (millis t = reference_ + k * step; t <= f_.to; t = reference_ + (++k) * step) {
      if (t < f_.from) continue;
      const double x = f_.x(t);
      fmt::format_to(out(), R"(<line x1="{0:.1f}" x2="{0:.1f}" y1="{1:.1f}" y2="{2:.1f}" stroke="#e3e6e8" stroke-width="0.8"/>)", x,
                     top, bottom);
      fmt::format_to(out(), R"(<line x1="{0:.1f}" x2="{0:.1f}" y1="{1:.1f}" y2="{2:.1f}" stroke="#9aa0a6" stroke-width="0.8"/>)", x,
                     bottom, bottom + 4);
      const millis minutes = (t - reference_) / engine::minutes_ms;
      fmt::format_to(out(), R"(<text x="{:.1f}" y="{:.1f}" text-anchor="middle" font-size="11">{}{}</text>)", x, bottom + 16,
                     minutes > 0 ? "+" : "", minutes);
      fmt::format_to(out(), R"(<text x="{:.1f}" y="{:.1f}" text-anchor="middle" font-size="10" fill="#666">{}</text>)", x,
                     bottom + 28, clock_utc(t).substr(0, 5));
    }
    fmt::format_to(out(), R"(<text x="{:.1f}" y="{:.1f}" text-anchor="middle" font-size="11" fill="#444">{}</text>)",
                   (plot_left + plot_right) / 2, bottom + 44,
                   doses_.empty() ? "minutes after the session opened \u00b7 clock time UTC"
                                  : "minutes after the first dose \u00b7 clock time UTC");
  }

  void draw_trace(std::span<const model::vital_sample> samples, const panel& p, std::string_view colour,
                  std::string_view css_class) {
    fmt::format_to(out(), R"(<g class="{}" fill="none" stroke="{}" stroke-width="1.1" stroke-linejoin="round">)", css_class, colour);
    for (const auto& run : downsample(samples, f_.from, f_.to, plot_columns, line_gap_ms)) {
      if (run.size() == 1) {
        fmt::format_to(out(), R"(<circle cx="{:.1f}" cy="{:.1f}" r="1.5" fill="{}"/>)", f_.x(run[0].at), p.y(run[0].value), colour);
        continue;
      }
      out_ += R"(<polyline points=")";
      for (const auto& pt : run) fmt::format_to(out(), "{:.1f},{:.1f} ", f_.x(pt.at), p.y(pt.value));
      out_.back() = '"';
      out_ += "/>";
    }
    out_ += "</g>";
  }

  /// A grey strip along the panel's foot where samples were flagged (artifact, sensor off).
  void draw_flagged(std::span<const model::vital_sample> samples, const panel& p) {
    std::set<int> columns;
    const double width = static_cast<double>(f_.to - f_.from);
    for (const auto& s : samples) {
      if (usable(s) || !f_.inside(s.time_ms)) continue;
      const auto c = static_cast<int>(static_cast<double>(s.time_ms - f_.from) / width * plot_columns);
      columns.insert(std::clamp(c, 0, plot_columns - 1));
    }
    if (columns.empty()) return;
    out_ += R"(<g class="flagged" fill="#8d8d8d">)";
    auto it = columns.begin();
    while (it != columns.end()) {
      const int first = *it;
      int last = first;
      while (++it != columns.end() && *it <= last + 2) last = *it;
      const double x0 = plot_left + first * (plot_right - plot_left) / plot_columns;
      const double x1 = plot_left + (last + 1) * (plot_right - plot_left) / plot_columns;
      fmt::format_to(out(), R"(<rect x="{:.1f}" y="{:.1f}" width="{:.1f}" height="5"/>)", x0, p.bottom() - 5,
                     std::max(1.5, x1 - x0));
    }
    out_ += "</g>";
  }

  void draw_bp() {
    if (cuff_.empty()) return;
    fmt::format_to(out(), R"(<g class="bp" stroke="{0}" fill="none" stroke-width="1.4">)", bp_colour);
    std::string systolic_line;
    std::string diastolic_line;
    for (const auto& c : cuff_) {
      const double x = f_.x(c.at);
      const double ys = cardio_.y(c.systolic);
      fmt::format_to(std::back_inserter(systolic_line), "{:.1f},{:.1f} ", x, ys);
      // Systolic: a chevron pointing down onto the value; diastolic: pointing up.
      fmt::format_to(out(), R"(<path d="M{:.1f} {:.1f}L{:.1f} {:.1f}L{:.1f} {:.1f}"/>)", x - 4.5, ys - 6, x, ys, x + 4.5, ys - 6);
      if (c.diastolic) {
        const double yd = cardio_.y(*c.diastolic);
        fmt::format_to(std::back_inserter(diastolic_line), "{:.1f},{:.1f} ", x, yd);
        fmt::format_to(out(), R"(<path d="M{:.1f} {:.1f}L{:.1f} {:.1f}L{:.1f} {:.1f}"/>)", x - 4.5, yd + 6, x, yd, x + 4.5, yd + 6);
        fmt::format_to(out(), R"(<line x1="{0:.1f}" x2="{0:.1f}" y1="{1:.1f}" y2="{2:.1f}" stroke-width="1"/>)", x, ys, yd);
      }
    }
    for (const auto* line : {&systolic_line, &diastolic_line}) {
      if (line->empty()) continue;
      fmt::format_to(out(), R"(<polyline points="{}" stroke-width="0.8" stroke-dasharray="3 2" opacity="0.7"/>)",
                     std::string_view(*line).substr(0, line->size() - 1));
    }
    out_ += "</g>";
  }

  void draw_marks() {
    const double top = lane_top - 6;
    const double bottom = spo2_panel_.bottom();
    for (std::size_t i = 0; i < doses_.size(); ++i) {
      const double x = f_.x(doses_[i].at);
      fmt::format_to(out(),
                     R"(<g class="dose-mark"><line x1="{0:.1f}" x2="{0:.1f}" y1="{1:.1f}" y2="{2:.1f}" stroke="#111" stroke-width="1.6"/>)"
                     R"(<text x="{0:.1f}" y="12" text-anchor="middle" font-size="11" font-weight="bold">{3}</text></g>)",
                     x, top, bottom, doses_.size() == 1 ? std::string("Dose") : fmt::format("Dose {}", i + 1));
    }
    if (r_.summary.ready_ms && f_.inside(*r_.summary.ready_ms)) {
      const double x = f_.x(*r_.summary.ready_ms);
      fmt::format_to(out(),
                     R"(<g class="ready-mark"><line x1="{0:.1f}" x2="{0:.1f}" y1="{1:.1f}" y2="{2:.1f}" stroke="{3}" stroke-width="1.4" stroke-dasharray="6 3"/>)"
                     R"(<text x="{0:.1f}" y="12" text-anchor="middle" font-size="11" font-weight="bold" fill="{3}">Ready</text></g>)",
                     x, top, bottom, ready_colour);
    }
  }

  void draw_alarms() {
    fmt::format_to(out(), R"(<text x="{:.1f}" y="{:.1f}" text-anchor="end" font-size="11" fill="#444">Alarms</text>)", plot_left - 5,
                   lane_top + lane_row / 2 + 4);
    fmt::format_to(out(), R"(<line x1="{0:.1f}" x2="{1:.1f}" y1="{2:.1f}" y2="{2:.1f}" stroke="#d0d4d9" stroke-width="0.8"/>)", plot_left,
                   plot_right, lane_top + lane_row * rows_ + 2);
    for (std::size_t i = 0; i < alarms_.size(); ++i) {
      const auto& a = alarms_[i];
      const double x = f_.x(a.raised_at);
      const double y = lane_top + lane_row * rows_of_[i] + lane_row / 2;
      const double x_end = f_.x(a.cleared_at.value_or(f_.to));
      const auto colour = priority_colour(a.level);
      fmt::format_to(out(), R"(<g class="alarm-marker" data-alarm="{}"><title>{}</title>)", a.id,
                     html_escape(fmt::format("A{} {} ({} priority): {}", i + 1, a.rule, engine::name(a.level), a.text)));
      fmt::format_to(out(), R"(<line x1="{0:.1f}" x2="{0:.1f}" y1="{1:.1f}" y2="{2:.1f}" stroke="{3}" stroke-width="0.8" stroke-dasharray="1 3"/>)",
                     x, lane_top + lane_row * rows_ + 2, spo2_panel_.bottom(), colour);
      if (x_end > x + 1) {
        fmt::format_to(out(), R"(<rect x="{:.1f}" y="{:.1f}" width="{:.1f}" height="4" fill="{}" opacity="0.45"/>)", x, y - 2,
                       x_end - x, colour);
      }
      if (a.first_ack_at) {
        const double xa = f_.x(*a.first_ack_at);
        fmt::format_to(out(), R"(<line x1="{0:.1f}" x2="{0:.1f}" y1="{1:.1f}" y2="{2:.1f}" stroke="#222" stroke-width="1.2"/>)", xa,
                       y - 6, y + 6);
      }
      out_ += alarm_shape(a.level, x, y, 6);
      const bool left = label_left(i);
      fmt::format_to(out(),
                     R"(<text x="{:.1f}" y="{:.1f}" text-anchor="{}" font-size="11" font-weight="bold" stroke="#fff" stroke-width="3" paint-order="stroke">A{}</text></g>)",
                     left ? x - 9 : x + 9, y + 4, left ? "end" : "start", i + 1);
    }
  }

  const session_record& r_;
  std::span<const alarm_record> alarms_;
  const std::vector<dose_record>& doses_;
  frame f_;
  millis reference_ = 0;
  std::span<const model::vital_sample> hr_;
  std::string_view hr_name_;
  std::span<const model::vital_sample> spo2_;
  std::vector<cuff_reading> cuff_;
  std::vector<int> rows_of_;
  int rows_ = 1;
  panel cardio_;
  panel spo2_panel_;
  double spo2_step_ = 5;
  double height_ = 0;
  std::string out_;
};

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
    if (e.type == event_type::baseline_set) baseline = e.text;
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
      {"Baseline (pre-dose mean)", baseline.empty() ? R"(<span class="empty">not set</span>)" : html_escape(baseline)},
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
  svg_chart chart(r, alarms, doses);
  w.out += chart.render();
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
    fmt::format_to(w.it(), R"(<td><strong>{}</strong><span class="sub">{} &middot; {} &middot; id {}</span></td>)", html_escape(a.rule),
                   html_escape(a.text), engine::name(a.kind), a.id);
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
                     html_escape(a.cleared_why));
    } else {
      w.out += R"(<td><span class="empty">still active</span></td>)";
    }
    std::string escalation = a.highest_tier >= 0 ? fmt::format("{} <span class=\"sub\">tier {}</span>", html_escape(a.highest_responder),
                                                               a.highest_tier)
                                                 : std::string(R"(<span class="empty">none</span>)");
    if (a.resoundings > 0) escalation += fmt::format(R"(<span class="sub">re-sounded {}&times;</span>)", a.resoundings);
    fmt::format_to(w.it(), "<td>{}</td></tr>", escalation);
  }
  w.out += "</tbody></table></section>";
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

std::vector<std::vector<trace_point>> downsample(std::span<const model::vital_sample> samples, millis from, millis to,
                                                 int width, millis max_gap_ms) {
  std::vector<std::vector<trace_point>> runs;
  if (width < 1) width = 1;
  const double span = static_cast<double>(std::max<millis>(1, to - from));
  int column = -1;
  trace_point low;
  trace_point high;
  const auto flush = [&] {
    if (column < 0) return;
    auto& run = runs.back();
    const bool low_first = low.at <= high.at;
    run.push_back(low_first ? low : high);
    if (low.at != high.at) run.push_back(low_first ? high : low);
    column = -1;
  };
  std::optional<millis> last;
  for (const auto& s : samples) {
    if (!usable(s) || s.time_ms < from || s.time_ms > to) continue;
    if (!last || s.time_ms - *last > max_gap_ms) {
      flush();
      runs.emplace_back();
    }
    last = s.time_ms;
    const int c = std::clamp(static_cast<int>(static_cast<double>(s.time_ms - from) / span * width), 0, width - 1);
    if (c != column) {
      flush();
      column = c;
      low = high = {s.time_ms, s.value};
      continue;
    }
    if (s.value < low.value) low = {s.time_ms, s.value};
    if (s.value > high.value) high = {s.time_ms, s.value};
  }
  flush();
  return runs;
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
