// The simulated patient and monitor: the ketamine response's shape, the intranasal spray
// schedule, adverse events, the cuff cycle and faults, and determinism per seed.

#include "sim/monitor.hpp"
#include "sim/physiology.hpp"

#include <gtest/gtest.h>

#include <cmath>

namespace vigil::sim {
namespace {

patient_spec fixed_patient(std::uint64_t seed = 5) {
  patient_spec p;
  p.seed = seed;
  p.heart_rate = 70;
  p.systolic = 120;
  p.diastolic = 75;
  p.spo2 = 97;
  p.respiratory_rate = 14;
  p.response = 1.0;
  return p;
}

dose_plan dose_at(route r, std::int64_t at_ms, int sprays = 1) {
  dose_plan d;
  d.by = r;
  d.at_ms = at_ms;
  d.sprays = sprays;
  return d;
}

TEST(Physiology, ResponsePeaksFortyMinutesAfterTheDose) {
  EXPECT_EQ(response_fraction(0), 0);
  EXPECT_EQ(response_fraction(-minute_ms), 0);
  EXPECT_NEAR(response_fraction(40 * minute_ms), 1.0, 1e-12);
  std::int64_t peak = 0;
  double best = 0;
  for (std::int64_t t = 0; t <= 240 * minute_ms; t += minute_ms) {
    if (response_fraction(t) > best) {
      best = response_fraction(t);
      peak = t;
    }
  }
  EXPECT_EQ(peak, 40 * minute_ms);
  EXPECT_GT(response_fraction(20 * minute_ms), 0.4) << "the rise is well under way 20 min after the dose";
}

TEST(Physiology, ResponseReturnsTowardBaselineAboutNinetyMinutesAfterThePeak) {
  EXPECT_LT(response_fraction((40 + 90) * minute_ms), 0.1);
  EXPECT_LT(response_fraction(4 * 60 * minute_ms), 0.01);
  // Monotone after the peak.
  for (std::int64_t t = 40 * minute_ms; t < 200 * minute_ms; t += minute_ms) {
    EXPECT_GE(response_fraction(t), response_fraction(t + minute_ms));
  }
}

TEST(Physiology, BloodPressureRisesByTheMeanPeakOfTheSourcesThenReturns) {
  const physiology p(fixed_patient(), dose_at(route::iv, 10 * minute_ms), {});
  const auto before = p.at(5 * minute_ms);
  const auto peak = p.at(50 * minute_ms);
  const auto after = p.at(10 * minute_ms + 130 * minute_ms);
  // Baseline 120/75 plus the slow natural variation (a few mmHg).
  EXPECT_NEAR(before.systolic, 120, 3.5);
  EXPECT_NEAR(peak.systolic - 120, response_peak{}.systolic, 3.5);
  EXPECT_NEAR(peak.diastolic - 75, response_peak{}.diastolic, 2.5);
  EXPECT_GT(peak.heart_rate, before.heart_rate);
  EXPECT_LT(after.systolic - 120, 5);
}

TEST(Physiology, IntranasalDosesComeAsSpraysFiveMinutesApart) {
  EXPECT_EQ(spray_offsets(3), (std::vector<std::int64_t>{0, 5 * minute_ms, 10 * minute_ms}));
  EXPECT_EQ(spray_offsets(1), (std::vector<std::int64_t>{0}));
  const physiology nasal(fixed_patient(), dose_at(route::intranasal, 0, 3), {});
  // Each spray adds a third: at the second spray the first alone acts.
  EXPECT_NEAR(nasal.drug_effect(5 * minute_ms), response_fraction(5 * minute_ms) / 3, 1e-12);
  // The combined peak comes about 40 min after the middle spray.
  std::int64_t peak = 0;
  double best = 0;
  for (std::int64_t t = 0; t <= 120 * minute_ms; t += minute_ms) {
    if (nasal.drug_effect(t) > best) {
      best = nasal.drug_effect(t);
      peak = t;
    }
  }
  EXPECT_GE(peak, 42 * minute_ms);
  EXPECT_LE(peak, 48 * minute_ms);
}

TEST(Physiology, AdverseEventsRampInHoldAndRampOut) {
  adverse_event e;
  e.kind = adverse_kind::desaturation;
  e.start_ms = 10 * minute_ms;
  e.duration_ms = 10 * minute_ms;
  e.ramp_ms = 2 * minute_ms;
  e.magnitude = 10;
  const physiology p(fixed_patient(), dose_at(route::iv, 500 * minute_ms), {e});
  const physiology calm(fixed_patient(), dose_at(route::iv, 500 * minute_ms), {});
  EXPECT_DOUBLE_EQ(p.at(9 * minute_ms).spo2, calm.at(9 * minute_ms).spo2);
  EXPECT_NEAR(calm.at(11 * minute_ms).spo2 - p.at(11 * minute_ms).spo2, 5, 1e-9);
  EXPECT_NEAR(calm.at(15 * minute_ms).spo2 - p.at(15 * minute_ms).spo2, 10, 1e-9);
  EXPECT_DOUBLE_EQ(p.at(21 * minute_ms).spo2, calm.at(21 * minute_ms).spo2);
}

TEST(Physiology, TheSameSeedGivesTheSamePatientAndAnotherSeedAnother) {
  patient_spec a;
  a.seed = 42;
  const physiology one(a, dose_at(route::iv, 10 * minute_ms), {});
  const physiology two(a, dose_at(route::iv, 10 * minute_ms), {});
  a.seed = 43;
  const physiology other(a, dose_at(route::iv, 10 * minute_ms), {});
  EXPECT_DOUBLE_EQ(one.baseline().heart_rate, two.baseline().heart_rate);
  EXPECT_DOUBLE_EQ(one.at(33 * minute_ms).systolic, two.at(33 * minute_ms).systolic);
  EXPECT_NE(one.baseline().systolic, other.baseline().systolic);
  // Resting values stay in the ranges that raise nothing (NEWS2 0 for each).
  for (std::uint64_t seed = 1; seed < 200; ++seed) {
    a.seed = seed;
    const physiology p(a, dose_at(route::iv, 10 * minute_ms), {});
    EXPECT_GE(p.baseline().heart_rate, 51);
    EXPECT_LE(p.baseline().heart_rate, 90);
    EXPECT_GE(p.baseline().spo2, 96);
    EXPECT_LE(p.baseline().systolic, 140) << "below the pre-dose limit";
  }
}

std::vector<v1::Sample> run_monitor(std::uint64_t seed, std::vector<monitor_fault> faults, std::int64_t seconds,
                                    std::vector<monitor_artefact> artefacts = {}) {
  const physiology p(fixed_patient(seed), dose_at(route::iv, 10 * minute_ms), {});
  monitor m(p, seed, monitor_settings{}, std::move(faults), 10 * minute_ms, std::move(artefacts));
  google::protobuf::RepeatedPtrField<v1::Sample> out;
  for (std::int64_t t = 0; t < seconds * second_ms; t += second_ms) m.second(t, 1'700'000'000'000 + t, out);
  return {out.begin(), out.end()};
}

TEST(Monitor, VitalsEverySecondAndTheCuffOnItsCycleAndFortyMinutesAfterTheDose) {
  const auto samples = run_monitor(1, {}, 600);
  int heart = 0, spo2 = 0, cuff = 0;
  for (const auto& s : samples) {
    heart += s.kind() == v1::HEART_RATE;
    spo2 += s.kind() == v1::SPO2;
    cuff += s.kind() == v1::NIBP_SYSTOLIC;
    EXPECT_EQ(s.quality(), 0u);
  }
  EXPECT_EQ(heart, 600);
  EXPECT_EQ(spo2, 600);
  EXPECT_EQ(cuff, 2) << "at 0:00 and 5:00";
  monitor_settings every_15;
  every_15.cuff_interval_ms = 15 * minute_ms;
  const physiology p(fixed_patient(), dose_at(route::iv, 12 * minute_ms), {});
  const monitor m(p, 1, every_15, {}, 12 * minute_ms);
  EXPECT_TRUE(m.cuff_due(0));
  EXPECT_TRUE(m.cuff_due(15 * minute_ms));
  EXPECT_TRUE(m.cuff_due(52 * minute_ms)) << "the check 40 min after the dose";
  EXPECT_FALSE(m.cuff_due(51 * minute_ms));
}

TEST(Monitor, TheSameSeedGivesTheSameSamples) {
  const auto a = run_monitor(9, {}, 300);
  const auto b = run_monitor(9, {}, 300);
  ASSERT_EQ(a.size(), b.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].SerializeAsString(), b[i].SerializeAsString()) << i;
  }
  const auto c = run_monitor(10, {}, 300);
  bool differ = false;
  for (std::size_t i = 0; i < std::min(a.size(), c.size()); ++i) differ |= a[i].value() != c[i].value();
  EXPECT_TRUE(differ);
}

TEST(Monitor, FaultsFlagTheSamplesOfTheirSensors) {
  monitor_fault off;
  off.kind = fault_kind::sensor_off;
  off.sensors = static_cast<unsigned>(sensor::oximeter);
  off.start_ms = 10 * second_ms;
  off.duration_ms = 5 * second_ms;
  monitor_fault motion;
  motion.kind = fault_kind::motion;
  motion.start_ms = 20 * second_ms;
  motion.duration_ms = 3 * second_ms;
  const auto samples = run_monitor(2, {off, motion}, 30);
  const auto plain = run_monitor(2, {}, 30);
  ASSERT_EQ(samples.size(), plain.size()) << "a fault changes flags and values, not the samples sent";
  for (const auto& s : samples) {
    const auto t = (s.time_ms() - 1'700'000'000'000) / 1000;
    const bool oximeter = s.kind() == v1::SPO2 || s.kind() == v1::PULSE_RATE;
    if (t >= 10 && t < 15 && oximeter) {
      EXPECT_EQ(s.quality(), static_cast<unsigned>(v1::QUALITY_SENSOR_OFF));
    } else if (t >= 20 && t < 23 && (oximeter || s.kind() == v1::HEART_RATE)) {
      EXPECT_EQ(s.quality(), static_cast<unsigned>(v1::QUALITY_ARTIFACT));
    } else {
      EXPECT_EQ(s.quality(), 0u) << t << " " << s.kind();
    }
  }
  // After the faults the values are those of the same monitor without them.
  EXPECT_EQ(samples.back().value(), plain.back().value());
}

monitor_artefact artefact(artefact_kind kind, v1::VitalKind vital, std::int64_t at_s, std::int64_t duration_s = 1,
                          std::optional<double> value = std::nullopt) {
  monitor_artefact a;
  a.kind = kind;
  a.vital = vital;
  a.start_ms = at_s * second_ms;
  a.duration_ms = duration_s * second_ms;
  a.value = value;
  return a;
}

/// The samples of one kind sent in the second `t_s`.
std::vector<v1::Sample> at(const std::vector<v1::Sample>& samples, std::int64_t t_s, v1::VitalKind kind) {
  std::vector<v1::Sample> out;
  for (const auto& s : samples) {
    if (s.time_ms() == 1'700'000'000'000 + t_s * 1000 && s.kind() == kind) out.push_back(s);
  }
  return out;
}

// An artefact is a value the monitor sends as usable (no flag), in place of the value it would
// have sent; the samples around it, and every later value, are those of the monitor without it.
TEST(Monitor, ArtefactsReplaceTheirSamplesValuesUnflaggedAndChangeNothingElse) {
  const std::vector<monitor_artefact> artefacts{
      artefact(artefact_kind::zero_no_signal, v1::HEART_RATE, 20, 3),
      artefact(artefact_kind::impossible_step, v1::SPO2, 40),
      artefact(artefact_kind::rates_disagree, v1::PULSE_RATE, 60, 2),
      artefact(artefact_kind::impossible_step, v1::RESPIRATORY_RATE, 70, 1, 3),
      artefact(artefact_kind::cuff_implausible, v1::NIBP_DIASTOLIC, 300),  // the scheduled reading at 5:00
      artefact(artefact_kind::cuff_inconsistent, v1::NIBP_MEAN, 400),      // one more reading at 6:40
  };
  const auto samples = run_monitor(3, {}, 600, artefacts);
  const auto plain = run_monitor(3, {}, 600);
  for (const auto& s : samples) EXPECT_EQ(s.quality(), 0u) << "unflagged, as a monitor without artefact flags sends it";

  for (std::int64_t t = 20; t < 23; ++t) EXPECT_EQ(at(samples, t, v1::HEART_RATE).at(0).value(), 0) << t;
  EXPECT_EQ(at(samples, 23, v1::HEART_RATE).at(0).value(), at(plain, 23, v1::HEART_RATE).at(0).value());
  EXPECT_EQ(at(samples, 40, v1::SPO2).at(0).value(), 36) << "the default SpO2 step: one reading of 36";
  EXPECT_EQ(at(samples, 41, v1::SPO2).at(0).value(), at(plain, 41, v1::SPO2).at(0).value());
  EXPECT_EQ(at(samples, 60, v1::PULSE_RATE).at(0).value(), 277) << "the default pulse beside a normal ECG rate";
  EXPECT_EQ(at(samples, 61, v1::PULSE_RATE).at(0).value(), 277);
  EXPECT_EQ(at(samples, 60, v1::HEART_RATE).at(0).value(), at(plain, 60, v1::HEART_RATE).at(0).value());
  EXPECT_EQ(at(samples, 70, v1::RESPIRATORY_RATE).at(0).value(), 3) << "a value given";

  const auto dia = at(samples, 300, v1::NIBP_DIASTOLIC);
  ASSERT_EQ(dia.size(), 1u) << "the scheduled reading, its diastolic replaced";
  EXPECT_EQ(dia[0].value(), 10);
  EXPECT_EQ(at(samples, 300, v1::NIBP_SYSTOLIC).at(0).value(), at(plain, 300, v1::NIBP_SYSTOLIC).at(0).value());

  const auto sys = at(samples, 400, v1::NIBP_SYSTOLIC);
  const auto mean = at(samples, 400, v1::NIBP_MEAN);
  ASSERT_EQ(sys.size(), 1u) << "a cuff artefact off the cycle is one more reading";
  ASSERT_EQ(mean.size(), 1u);
  EXPECT_EQ(at(samples, 400, v1::NIBP_DIASTOLIC).size(), 1u);
  EXPECT_EQ(mean[0].value(), sys[0].value() + 10) << "the default inconsistent part: 10 above the reading's systolic";
  EXPECT_TRUE(at(plain, 400, v1::NIBP_SYSTOLIC).empty());

  ASSERT_EQ(samples.size(), plain.size() + 3) << "only the extra cuff reading is added";
  EXPECT_EQ(samples.back().value(), plain.back().value()) << "and no later value changes";
}

}  // namespace
}  // namespace vigil::sim
