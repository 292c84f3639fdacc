#include "daemon/ingest/validate.hpp"

#include "vigil/v1/device.pb.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <ostream>
#include <string>

namespace vigil::ingest {
namespace {

namespace q = model::quality;

constexpr std::int64_t some_time_ms = 1'700'000'000'000;

v1::Sample wire_sample(int kind, double value, std::int64_t time_ms = some_time_ms, std::uint32_t quality = 0) {
  v1::Sample s;
  // proto3 enums are open: a device may send any number, so the test may too.
  s.set_kind(static_cast<v1::VitalKind>(kind));
  s.set_value(value);
  s.set_time_ms(time_ms);
  s.set_quality(quality);
  return s;
}

// --- rejected -----------------------------------------------------------------------------

struct rejected_case {
  std::string name;
  v1::Sample sample;
  std::string reason_mentions;  // a word the reason must contain, so that it says why
};
// Names the case in test listings and failures (the default is a dump of the struct's bytes).
void PrintTo(const rejected_case& c, std::ostream* os) {
  *os << c.name;
}

class RejectedSample : public testing::TestWithParam<rejected_case> {};

TEST_P(RejectedSample, IsRejectedWithAReason) {
  const auto check = check_sample(GetParam().sample);
  EXPECT_EQ(check.outcome, verdict::rejected);
  EXPECT_NE(check.reason.find(GetParam().reason_mentions), std::string_view::npos) << "reason: " << check.reason;
}

constexpr double not_a_number = std::numeric_limits<double>::quiet_NaN();
constexpr double infinity = std::numeric_limits<double>::infinity();

INSTANTIATE_TEST_SUITE_P(CheckSample, RejectedSample,
                         testing::Values(rejected_case{"kind_unspecified", wire_sample(0, 70), "kind"},
                                         rejected_case{"kind_unknown", wire_sample(99, 70), "kind"},
                                         rejected_case{"kind_negative", wire_sample(-1, 70), "kind"},
                                         rejected_case{"nan", wire_sample(v1::HEART_RATE, not_a_number), "finite"},
                                         rejected_case{"plus_infinity", wire_sample(v1::SPO2, infinity), "finite"},
                                         rejected_case{"minus_infinity", wire_sample(v1::NIBP_SYSTOLIC, -infinity),
                                                       "finite"},
                                         rejected_case{"time_zero", wire_sample(v1::HEART_RATE, 70, 0), "time_ms"},
                                         rejected_case{"time_negative", wire_sample(v1::HEART_RATE, 70, -5), "time_ms"},
                                         rejected_case{"time_in_microseconds",
                                                       wire_sample(v1::HEART_RATE, 70, some_time_ms * 1000), "time_ms"},
                                         rejected_case{"time_max", wire_sample(v1::HEART_RATE, 70,
                                                                               std::numeric_limits<std::int64_t>::max()),
                                                       "time_ms"},
                                         rejected_case{"time_unset",
                                                       [] {
                                                         v1::Sample s;
                                                         s.set_kind(v1::PULSE_RATE);
                                                         s.set_value(70);
                                                         return s;
                                                       }(),
                                                       "time_ms"}));

// --- flagged ------------------------------------------------------------------------------

struct flagged_case {
  std::string name;
  v1::VitalKind kind;
  double value;
};
void PrintTo(const flagged_case& c, std::ostream* os) {
  *os << c.name;
}

class ImplausibleSample : public testing::TestWithParam<flagged_case> {};

TEST_P(ImplausibleSample, IsKeptButFlaggedArtifactAndImplausible) {
  const auto& p = GetParam();
  const auto check = check_sample(wire_sample(p.kind, p.value, some_time_ms, q::sensor_off));
  EXPECT_EQ(check.outcome, verdict::flagged);
  EXPECT_FALSE(check.reason.empty());
  // The value itself is kept untouched; only its quality says not to trust it.
  EXPECT_EQ(check.sample.value, p.value);
  EXPECT_EQ(static_cast<int>(check.sample.kind), static_cast<int>(p.kind));
  EXPECT_EQ(check.sample.time_ms, some_time_ms);
  EXPECT_EQ(check.sample.quality, q::sensor_off | q::artifact | q::implausible);
}

INSTANTIATE_TEST_SUITE_P(CheckSample, ImplausibleSample,
                         testing::Values(flagged_case{"spo2_101", v1::SPO2, 101},
                                         flagged_case{"heart_rate_400", v1::HEART_RATE, 400},
                                         flagged_case{"heart_rate_negative", v1::HEART_RATE, -1},
                                         flagged_case{"pulse_rate_1000", v1::PULSE_RATE, 1000},
                                         flagged_case{"systolic_10", v1::NIBP_SYSTOLIC, 10},
                                         flagged_case{"systolic_400", v1::NIBP_SYSTOLIC, 400},
                                         flagged_case{"diastolic_300", v1::NIBP_DIASTOLIC, 300},
                                         flagged_case{"mean_2", v1::NIBP_MEAN, 2},
                                         flagged_case{"respiratory_rate_200", v1::RESPIRATORY_RATE, 200}));

// --- accepted -----------------------------------------------------------------------------

struct accepted_case {
  std::string name;
  v1::VitalKind kind;
  double value;
  std::uint32_t wire_quality;
  std::uint32_t kept_quality;
};
void PrintTo(const accepted_case& c, std::ostream* os) {
  *os << c.name;
}

class PlausibleSample : public testing::TestWithParam<accepted_case> {};

TEST_P(PlausibleSample, IsAcceptedWithItsQuality) {
  const auto& p = GetParam();
  const auto check = check_sample(wire_sample(p.kind, p.value, some_time_ms, p.wire_quality));
  EXPECT_EQ(check.outcome, verdict::accepted) << check.reason;
  EXPECT_EQ(check.sample.value, p.value);
  EXPECT_EQ(static_cast<int>(check.sample.kind), static_cast<int>(p.kind));
  EXPECT_EQ(check.sample.time_ms, some_time_ms);
  EXPECT_EQ(check.sample.quality, p.kept_quality);
}

INSTANTIATE_TEST_SUITE_P(CheckSample, PlausibleSample,
                         testing::Values(accepted_case{"heart_rate", v1::HEART_RATE, 72, 0, 0},
                                         // 0 is a real reading (asystole, apnoea), and 100 % a real saturation.
                                         accepted_case{"heart_rate_zero", v1::HEART_RATE, 0, 0, 0},
                                         accepted_case{"spo2_full", v1::SPO2, 100, 0, 0},
                                         accepted_case{"respiratory_rate_zero", v1::RESPIRATORY_RATE, 0, 0, 0},
                                         accepted_case{"pulse_rate", v1::PULSE_RATE, 180.5, 0, 0},
                                         accepted_case{"systolic", v1::NIBP_SYSTOLIC, 120, 0, 0},
                                         accepted_case{"diastolic", v1::NIBP_DIASTOLIC, 80, 0, 0},
                                         accepted_case{"mean", v1::NIBP_MEAN, 93, 0, 0},
                                         accepted_case{"device_flags_kept", v1::SPO2, 91,
                                                       q::sensor_off | q::low_perfusion,
                                                       q::sensor_off | q::low_perfusion},
                                         accepted_case{"artifact_kept", v1::HEART_RATE, 130, q::artifact, q::artifact},
                                         accepted_case{"unknown_bits_masked", v1::SPO2, 97,
                                                       0x10U | 0x8000'0000U | q::low_perfusion, q::low_perfusion},
                                         accepted_case{"only_unknown_bits", v1::HEART_RATE, 60, 0xffff'fff0U, 0}));

TEST(CheckSample, FlaggingAlsoMasksUnknownQualityBits) {
  const auto check = check_sample(wire_sample(v1::SPO2, 140, some_time_ms, 0x100U));
  EXPECT_EQ(check.outcome, verdict::flagged);
  EXPECT_EQ(check.sample.quality, q::artifact | q::implausible);
}

}  // namespace
}  // namespace vigil::ingest
