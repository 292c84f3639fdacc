#pragma once

// The session chart: HR, cuff BP and SpO2 across the whole session as inline SVG, with the
// dose, the observation window, readiness and one marker per alarm. Part of the HTML report.

#include "daemon/report/session_record.hpp"

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace vigil::report {

// Colours shared by the chart and the report's legend.
inline constexpr std::string_view hr_colour = "#2e7d32";
inline constexpr std::string_view bp_colour = "#5e35b1";
inline constexpr std::string_view spo2_colour = "#0277bd";
inline constexpr std::string_view window_fill = "#fcf5e3";
inline constexpr std::string_view ready_colour = "#00695c";

struct trace_point {
  millis at = 0;
  double value = 0;
};

/// Usable samples in [from, to] reduced for a chart `width` columns wide: per column the lowest
/// and the highest value, in time order, so no extreme is lost. A new run (a break in the
/// line) starts where consecutive usable samples are more than `max_gap_ms` apart.
std::vector<std::vector<trace_point>> downsample(std::span<const model::vital_sample> samples, millis from,
                                                 millis to, int width, millis max_gap_ms);

/// One cuff cycle: a usable systolic reading with the diastolic and mean taken with it.
struct cuff_reading {
  millis at = 0;
  double systolic = 0;
  std::optional<double> diastolic;
  std::optional<double> mean;
};

std::vector<cuff_reading> cuff_readings(const session_record& r);

std::string_view priority_colour(engine::priority p);
/// The marker of a priority centred on (x, y), as SVG: high a triangle, medium a diamond, low a
/// circle, so that priority never rests on colour alone.
std::string alarm_shape(engine::priority p, double x, double y, double size);

/// The chart of the whole session as one <svg> element.
std::string render_chart(const session_record& r, std::span<const alarm_record> alarms,
                         const std::vector<dose_record>& doses);

}  // namespace vigil::report
