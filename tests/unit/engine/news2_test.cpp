// NEWS2 scoring against the published RCP 2017 chart: every band edge from both sides, the
// rounding of non-integer readings, totals and risk bands.

#include "daemon/engine/news2.hpp"

#include <gtest/gtest.h>

#include <limits>
#include <vector>

namespace vigil::engine::news2 {
namespace {

struct chart_row {
  double value;
  int points;
};

using points_fn = int (*)(double);

void expect_chart(points_fn points, const std::vector<chart_row>& rows) {
  for (const auto& row : rows) {
    EXPECT_EQ(points(row.value), row.points) << "reading " << row.value;
  }
}

// --- The chart, edge by edge (both sides of every boundary) ---------------------------------

TEST(News2Chart, RespiratoryRate) {
  expect_chart(respiratory_rate_points,
               {{0, 3}, {8, 3}, {9, 1}, {11, 1}, {12, 0}, {20, 0}, {21, 2}, {24, 2}, {25, 3}, {60, 3}});
}

TEST(News2Chart, Spo2Scale1) {
  expect_chart(spo2_scale1_points, {{50, 3}, {91, 3}, {92, 2}, {93, 2}, {94, 1}, {95, 1}, {96, 0}, {100, 0}});
}

TEST(News2Chart, AirOrOxygen) {
  EXPECT_EQ(oxygen_points(true), 2);
  EXPECT_EQ(oxygen_points(false), 0);
}

TEST(News2Chart, SystolicPressure) {
  expect_chart(systolic_points,
               {{40, 3}, {90, 3}, {91, 2}, {100, 2}, {101, 1}, {110, 1}, {111, 0}, {219, 0}, {220, 3}, {300, 3}});
}

TEST(News2Chart, Pulse) {
  expect_chart(pulse_points, {{20, 3},
                              {40, 3},
                              {41, 1},
                              {50, 1},
                              {51, 0},
                              {90, 0},
                              {91, 1},
                              {110, 1},
                              {111, 2},
                              {130, 2},
                              {131, 3},
                              {220, 3}});
}

TEST(News2Chart, Consciousness) {
  EXPECT_EQ(consciousness_points(true), 0);
  EXPECT_EQ(consciousness_points(false), 3);
}

TEST(News2Chart, Temperature) {
  expect_chart(
      temperature_points,
      {{30.0, 3}, {35.0, 3}, {35.1, 1}, {36.0, 1}, {36.1, 0}, {38.0, 0}, {38.1, 1}, {39.0, 1}, {39.1, 2}, {42.0, 2}});
}

// --- Rounding: to the chart's resolution, half up, then banded -------------------------------

TEST(News2Rounding, WholeNumberParametersRoundHalfUp) {
  expect_chart(respiratory_rate_points,
               {{8.4, 3}, {8.49, 3}, {8.5, 1}, {11.4, 1}, {11.5, 0}, {20.49, 0}, {20.5, 2}, {24.4, 2}, {24.5, 3}});
  expect_chart(spo2_scale1_points, {{91.4, 3}, {91.49, 3}, {91.5, 2}, {91.6, 2}, {93.5, 1}, {95.49, 1}, {95.5, 0}});
  expect_chart(systolic_points, {{90.4, 3}, {90.5, 2}, {100.5, 1}, {110.5, 0}, {219.49, 0}, {219.5, 3}});
  expect_chart(pulse_points,
               {{40.4, 3}, {40.5, 1}, {50.5, 0}, {90.49, 0}, {90.5, 1}, {110.5, 2}, {130.49, 2}, {130.5, 3}});
}

TEST(News2Rounding, TemperatureRoundsToOneDecimalHalfUp) {
  // Decimal halves such as 35.05 are stored just below the half in binary; they still round
  // up, as they would on the paper chart.
  expect_chart(
      temperature_points,
      {{35.04, 3}, {35.049, 3}, {35.05, 1}, {36.04, 1}, {36.05, 0}, {38.04, 0}, {38.05, 1}, {39.04, 1}, {39.05, 2}});
}

TEST(News2Rounding, DecimalHalvesComputedInFloatingPointStillRoundUp) {
  // A reading produced by arithmetic (an averaged or converted value) can land a few ulps below
  // the half: these sums are 91.49999999999997 and 8.499999999999998, which plain
  // floor(x + 0.5) would round down.
  EXPECT_EQ(spo2_scale1_points(91.0 + 0.1 + 0.1 + 0.1 + 0.1 + 0.1), 2);
  EXPECT_EQ(respiratory_rate_points(8.0 + 0.1 + 0.1 + 0.1 + 0.1 + 0.1), 1);
}

TEST(News2Rounding, NonFiniteReadingsScoreNothing) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double inf = std::numeric_limits<double>::infinity();
  for (const points_fn points :
       {respiratory_rate_points, spo2_scale1_points, systolic_points, pulse_points, temperature_points}) {
    EXPECT_EQ(points(nan), 0);
    EXPECT_EQ(points(inf), 0);
    EXPECT_EQ(points(-inf), 0);
  }
}

// --- Totals and risk bands ---------------------------------------------------------------------

observations all_normal() {
  observations obs;
  obs.respiratory_rate = 16;
  obs.spo2 = 98;
  obs.supplemental_oxygen = false;
  obs.systolic = 120;
  obs.pulse = 70;
  obs.alert = true;
  obs.temperature_c = 37.0;
  return obs;
}

TEST(News2Score, EmptyObservationsScoreNothing) {
  const result r = score(observations{});
  EXPECT_EQ(r.total, 0);
  EXPECT_FALSE(r.any_three);
  EXPECT_EQ(r.parameters_scored, 0);
  EXPECT_EQ(r.band, risk::low);
}

TEST(News2Score, AllNormalIsZeroAndLow) {
  const result r = score(all_normal());
  EXPECT_EQ(r.total, 0);
  EXPECT_FALSE(r.any_three);
  EXPECT_EQ(r.parameters_scored, 7);
  EXPECT_EQ(r.band, risk::low);
}

TEST(News2Score, ParametersScoredCountsOnlyPresentReadings) {
  observations obs;
  obs.spo2 = 97;
  obs.pulse = 80;
  obs.alert = true;
  EXPECT_EQ(score(obs).parameters_scored, 3);

  // A normal reading (0 points) still counts as scored.
  obs.supplemental_oxygen = false;
  EXPECT_EQ(score(obs).parameters_scored, 4);
  EXPECT_EQ(score(obs).total, 0);
}

TEST(News2Score, NonFiniteReadingsAreTreatedAsAbsent) {
  observations obs = all_normal();
  obs.spo2 = std::numeric_limits<double>::quiet_NaN();
  obs.pulse = std::numeric_limits<double>::infinity();
  const result r = score(obs);
  EXPECT_EQ(r.parameters_scored, 5);
  EXPECT_EQ(r.total, 0);
}

TEST(News2Score, TotalIsTheSumOfEveryParameter) {
  observations obs;
  obs.respiratory_rate = 22;       // 2
  obs.spo2 = 93;                   // 2
  obs.supplemental_oxygen = true;  // 2
  obs.systolic = 105;              // 1
  obs.pulse = 115;                 // 2
  obs.alert = true;                // 0
  obs.temperature_c = 38.5;        // 1
  const result r = score(obs);
  EXPECT_EQ(r.total, 10);
  EXPECT_FALSE(r.any_three);
  EXPECT_EQ(r.parameters_scored, 7);
  EXPECT_EQ(r.band, risk::high);
}

TEST(News2Score, WorstCaseTotalIs20) {
  observations obs;
  obs.respiratory_rate = 6;
  obs.spo2 = 85;
  obs.supplemental_oxygen = true;
  obs.systolic = 80;
  obs.pulse = 140;
  obs.alert = false;
  obs.temperature_c = 34.0;
  const result r = score(obs);
  EXPECT_EQ(r.total, 20);
  EXPECT_TRUE(r.any_three);
  EXPECT_EQ(r.band, risk::high);
}

struct band_case {
  const char* name;
  observations obs;
  int total;
  bool any_three;
  risk band;
};

TEST(News2Score, RiskBands) {
  auto with = [](auto change) {
    observations obs = all_normal();
    change(obs);
    return obs;
  };
  const std::vector<band_case> cases = {
      {"total 4 without a 3 is low", with([](observations& o) {
         o.respiratory_rate = 22;  // 2
         o.spo2 = 93;              // 2
       }),
       4, false, risk::low},
      {"a single 3 with an otherwise low total is low_medium", with([](observations& o) { o.alert = false; }), 3, true,
       risk::low_medium},
      {"a single 3 plus one more point, total 4, is still low_medium", with([](observations& o) {
         o.spo2 = 91;   // 3
         o.pulse = 95;  // 1
       }),
       4, true, risk::low_medium},
      {"total exactly 5 is medium", with([](observations& o) {
         o.supplemental_oxygen = true;  // 2
         o.spo2 = 92;                   // 2
         o.systolic = 105;              // 1
       }),
       5, false, risk::medium},
      {"total 5 with a 3 is medium, not low_medium", with([](observations& o) {
         o.respiratory_rate = 25;  // 3
         o.pulse = 115;            // 2
       }),
       5, true, risk::medium},
      {"total 6 is medium", with([](observations& o) {
         o.supplemental_oxygen = true;  // 2
         o.spo2 = 92;                   // 2
         o.pulse = 120;                 // 2
       }),
       6, false, risk::medium},
      {"total exactly 7 is high", with([](observations& o) {
         o.supplemental_oxygen = true;  // 2
         o.spo2 = 92;                   // 2
         o.pulse = 120;                 // 2
         o.temperature_c = 38.5;        // 1
       }),
       7, false, risk::high},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    const result r = score(c.obs);
    EXPECT_EQ(r.total, c.total);
    EXPECT_EQ(r.any_three, c.any_three);
    EXPECT_EQ(r.band, c.band);
  }
}

TEST(News2Score, ScoreUsesTheRoundedReadings) {
  observations obs;
  obs.spo2 = 91.6;             // 92 -> 2, not 3
  obs.respiratory_rate = 8.4;  // 8 -> 3
  obs.temperature_c = 35.05;   // 35.1 -> 1
  const result r = score(obs);
  EXPECT_EQ(r.total, 6);
  EXPECT_TRUE(r.any_three);
  EXPECT_EQ(r.parameters_scored, 3);
  EXPECT_EQ(r.band, risk::medium);
}

}  // namespace
}  // namespace vigil::engine::news2
