#include "daemon/report/chart.hpp"

#include "daemon/report/wording.hpp"

#include "daemon/report/html_report.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <iterator>
#include <optional>
#include <set>

namespace vigil::report {
namespace {

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
    if (hr_.empty()) hr_ = series(r, vital_kind::pulse_rate);  // no ECG: the oximeter's pulse
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
                     html_escape(fmt::format("A{} {} ({} priority): {}", i + 1, rule_title(a.rule), engine::name(a.level),
                                                 alarm_display_text(a.rule, a.value, a.text))));
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

}  // namespace

std::string_view priority_colour(priority p) {
  switch (p) {
    case priority::high: return "#c62828";
    case priority::medium: return "#e08a00";
    case priority::low: return "#0097a7";
  }
  return "#757575";
}
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

std::string render_chart(const session_record& r, std::span<const alarm_record> alarms, const std::vector<dose_record>& doses) {
  return svg_chart(r, alarms, doses).render();
}

}  // namespace vigil::report
