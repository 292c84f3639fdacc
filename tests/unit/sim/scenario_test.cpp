// Scenario files and CSV replay: what they say, and how they say what is wrong with them.

#include "sim/replay.hpp"
#include "sim/scenario.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

namespace vigil::sim {
namespace {

using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

TEST(Scenario, ReadsChairsWithTheirPatientsEventsAndFaults) {
  const auto s = parse_scenario(R"(name: two
defaults:
  dose_at_min: 12
chairs:
  - chair: chair-7
    device: sim-7
    route: intranasal
    sprays: 3
    patient: {ref: P-1, seed: 99, systolic: 131}
    duration_min: 140
    adverse_events:
      - {type: hypertensive, at_min: 30, duration_min: 60, magnitude: 40}
    faults:
      - {type: sensor_off, sensor: cuff, at_min: 5, duration_s: 30}
      - {type: network_drop, at_s: 600, duration_s: 90}
  - route: sublingual
    start_min: 3
)",
                                "two.yaml");
  EXPECT_EQ(s.name, "two");
  ASSERT_EQ(s.chairs.size(), 2u);
  const auto& a = s.chairs[0];
  EXPECT_EQ(a.chair, "chair-7");
  EXPECT_EQ(a.device, "sim-7");
  EXPECT_EQ(a.profile, "intranasal-esketamine");
  EXPECT_EQ(a.dose.by, route::intranasal);
  EXPECT_EQ(a.dose.sprays, 3);
  EXPECT_EQ(a.dose.at_ms, 12 * minute_ms);
  EXPECT_EQ(a.dose_text, "84 mg (3 devices)");
  EXPECT_EQ(a.patient.seed, 99u);
  EXPECT_EQ(a.patient.systolic, 131);
  EXPECT_FALSE(a.patient.heart_rate);
  EXPECT_EQ(a.duration_ms, 140 * minute_ms);
  ASSERT_EQ(a.events.size(), 1u);
  EXPECT_EQ(a.events[0].kind, adverse_kind::hypertensive);
  EXPECT_EQ(a.events[0].start_ms, 30 * minute_ms);
  EXPECT_EQ(a.events[0].magnitude, 40);
  ASSERT_EQ(a.faults.size(), 2u);
  EXPECT_EQ(a.faults[0].sensors, static_cast<unsigned>(sensor::cuff));
  EXPECT_EQ(a.faults[1].kind, fault_kind::network_drop);
  EXPECT_EQ(a.faults[1].start_ms, 600 * second_ms);
  const auto& b = s.chairs[1];
  EXPECT_EQ(b.chair, "chair-2") << "numbered by position";
  EXPECT_EQ(b.device, "sim-2");
  EXPECT_EQ(b.profile, "generic");
  EXPECT_EQ(b.start_ms, 3 * minute_ms);
  EXPECT_EQ(b.duration_ms, 150 * minute_ms) << "the default session";
  EXPECT_EQ(s.length_ms(), (3 + 150) * minute_ms);
}

TEST(Scenario, RepeatNumbersChairsStaggersThemAndTakesRoutesInTurn) {
  const auto s = parse_scenario("chairs:\n  - repeat: 5\n    stagger_min: 4\n    route: [iv, im]\n  - route: iv\n", "r.yaml");
  ASSERT_EQ(s.chairs.size(), 6u);
  EXPECT_EQ(s.chairs[4].chair, "chair-5");
  EXPECT_EQ(s.chairs[4].start_ms, 16 * minute_ms);
  EXPECT_EQ(s.chairs[1].dose.by, route::im);
  EXPECT_EQ(s.chairs[2].dose.by, route::iv);
  EXPECT_EQ(s.chairs[5].chair, "chair-6");
  EXPECT_NE(s.chairs[0].patient.seed, s.chairs[1].patient.seed);
}

TEST(Scenario, EveryProblemIsReportedWithItsLineAndKey) {
  try {
    parse_scenario(R"(chairs:
  - route: nasal
    dose_at_min: 200
    colour: blue
    adverse_events:
      - {type: fainting, at_min: 5}
    faults:
      - {type: sensor_off, sensor: toe, duration_s: 10}
)",
                   "bad.yaml");
    FAIL() << "accepted";
  } catch (const scenario_error& e) {
    const std::string what = e.what();
    EXPECT_THAT(what, HasSubstr("bad.yaml:2: chairs[0].route: 'nasal' is not one of"));
    EXPECT_THAT(what, HasSubstr("bad.yaml:4: chairs[0].colour: unknown key"));
    EXPECT_THAT(what, HasSubstr("chairs[0].adverse_events[0].type: 'fainting'"));
    EXPECT_THAT(what, HasSubstr("chairs[0].faults[0].sensor: 'toe'"));
    EXPECT_THAT(what, HasSubstr("chairs[0].faults[0].at_min: is required"));
    EXPECT_THAT(what, HasSubstr("the dose must come before the close"));
  }
  EXPECT_THROW(parse_scenario("chairs: [", "broken.yaml"), scenario_error);
  EXPECT_THROW(parse_scenario("name: none\n", "empty.yaml"), scenario_error);
  EXPECT_THROW(parse_scenario("chairs:\n  - chair: a\n  - chair: a\n", "twice.yaml"), scenario_error);
}

TEST(Scenario, ReadsArtefactsAndTheLabelsOfEventsAndArtefacts) {
  const auto s = parse_scenario(R"(chairs:
  - chair: chair-1
    dose_at_min: 10
    duration_min: 150
    adverse_events:
      - {type: desaturation, at_min: 40, duration_min: 10, ramp_min: 2}
      - {type: hypertensive, at_min: 60, duration_min: 30, ramp_min: 10}
      - {type: tachycardia, at_min: 100, duration_min: 10, ramp_min: 1, expect: hr_critical, expect_within_min: 3}
      - {type: bradycardia, at_min: 120, duration_min: 5, magnitude: 5, expect: none}
    artefacts:
      - {type: impossible_step, vital: spo2, at_min: 20}
      - {type: rates_disagree, vital: pulse_rate, at_min: 25, duration_s: 5, value: 280}
      - {type: cuff_implausible, vital: nibp_diastolic, at_s: 1500, window_min: 10}
      - {type: zero_no_signal, vital: heart_rate, at_min: 140}
)",
                                "labels.yaml");
  const auto& c = s.chairs.at(0);
  ASSERT_EQ(c.artefacts.size(), 4u);
  EXPECT_EQ(c.artefacts[0].kind, artefact_kind::impossible_step);
  EXPECT_EQ(c.artefacts[0].vital, v1::SPO2);
  EXPECT_EQ(c.artefacts[0].start_ms, 20 * minute_ms);
  EXPECT_EQ(c.artefacts[0].duration_ms, second_ms) << "one reading";
  EXPECT_FALSE(c.artefacts[0].value) << "the kind's default";
  EXPECT_EQ(c.artefacts[1].kind, artefact_kind::rates_disagree);
  EXPECT_EQ(c.artefacts[1].vital, v1::PULSE_RATE);
  EXPECT_EQ(c.artefacts[1].duration_ms, 5 * second_ms);
  EXPECT_EQ(c.artefacts[1].value, 280);
  EXPECT_EQ(c.artefacts[2].vital, v1::NIBP_DIASTOLIC);

  ASSERT_EQ(c.labels.size(), 7u) << "three events (the fourth expects nothing) and four artefacts";
  const auto& desaturation = c.labels[0];
  EXPECT_EQ(desaturation.kind, label_kind::adverse_event);
  EXPECT_EQ(desaturation.chair, "chair-1");
  EXPECT_THAT(desaturation.rules, ElementsAre("spo2_low", "spo2_critical"));
  EXPECT_EQ(desaturation.from_ms, 40 * minute_ms);
  EXPECT_EQ(desaturation.until_ms, 44 * minute_ms) << "its ramp and 2 minutes";
  const auto& hypertensive = c.labels[1];
  EXPECT_THAT(hypertensive.rules, Contains("systolic_high"));
  EXPECT_THAT(hypertensive.rules, Contains("systolic_rise"));
  EXPECT_EQ(hypertensive.until_ms, (60 + 10 + 2 * 5 + 1) * minute_ms) << "its ramp, two cuff cycles and a minute";
  const auto& tachycardia = c.labels[2];
  EXPECT_THAT(tachycardia.rules, ElementsAre("hr_critical"));
  EXPECT_EQ(tachycardia.until_ms, 103 * minute_ms);

  const auto& step = c.labels[3];
  EXPECT_EQ(step.kind, label_kind::artefact);
  EXPECT_EQ(step.from_ms, 20 * minute_ms);
  EXPECT_EQ(step.until_ms, 21 * minute_ms) << "a minute after its one reading";
  EXPECT_EQ(c.labels[4].until_ms, 25 * minute_ms + 4 * second_ms + minute_ms) << "a minute after its last reading";
  EXPECT_EQ(c.labels[5].until_ms, 35 * minute_ms) << "the window given";
  EXPECT_EQ(c.labels[6].until_ms, 141 * minute_ms);

  const auto cuff = parse_scenario("chairs:\n  - artefacts:\n      - {type: cuff_inconsistent, vital: nibp_mean, at_min: 30}\n",
                                   "cuff.yaml");
  EXPECT_EQ(cuff.chairs.at(0).labels.at(0).until_ms, 50 * minute_ms) << "a cuff reading stands for 20 minutes";
}

TEST(Scenario, ABadArtefactOrExpectationIsReportedWithItsLineAndKey) {
  try {
    parse_scenario(R"(chairs:
  - chair: chair-1
    duration_min: 60
    adverse_events:
      - {type: desaturation, at_min: 20, duration_min: 10, expect: [spo2 low]}
    faults:
      - {type: sensor_off, sensor: oximeter, at_min: 40, duration_min: 2}
    artefacts:
      - {type: spike, vital: spo2, at_min: 5}
      - {type: impossible_step, vital: spo2, at_min: 70}
      - {type: impossible_step, vital: nibp_systolic, at_min: 5}
      - {type: zero_no_signal, vital: spo2, at_min: 41}
      - {type: impossible_step, vital: spo2, at_min: 6, duration_s: 3}
      - {type: cuff_inconsistent, vital: nibp_systolic, at_min: 8}
      - {type: zero_no_signal, vital: spo2, at_min: 9, value: 4}
      - {type: rates_disagree, vital: heart_rate, at_min: 21}
      - {type: zero_no_signal, at_min: 3}
      - {type: impossible_step, vital: spo2, at_s: 0}
)",
                   "bad.yaml");
    FAIL() << "accepted";
  } catch (const scenario_error& e) {
    const std::string what = e.what();
    EXPECT_THAT(what, HasSubstr("bad.yaml:5: chairs[0].adverse_events[0].expect: 'spo2 low' is not a rule id"));
    EXPECT_THAT(what, HasSubstr("bad.yaml:9: chairs[0].artefacts[0].type: 'spike' is not one of: zero_no_signal, "
                                "impossible_step, rates_disagree, cuff_implausible, cuff_inconsistent"));
    EXPECT_THAT(what, HasSubstr("bad.yaml:10: chairs[0].artefacts[1]: chair-1: the artefact at +1:10:00 is after the close at +1:00:00"));
    EXPECT_THAT(what, HasSubstr("chairs[0].artefacts[2].vital: an impossible_step is a reading of spo2, heart_rate, pulse_rate or respiratory_rate"));
    EXPECT_THAT(what, HasSubstr("chairs[0].artefacts[3]: chair-1: at +0:41:00 the monitor flags its spo2 samples (faults[0], sensor_off)"));
    EXPECT_THAT(what, HasSubstr("chairs[0].artefacts[4].duration_s: an impossible_step is one reading"));
    EXPECT_THAT(what, HasSubstr("chairs[0].artefacts[5].vital: a cuff_inconsistent part is nibp_diastolic or nibp_mean"));
    EXPECT_THAT(what, HasSubstr("chairs[0].artefacts[6].value: a zero_no_signal sends 0"));
    EXPECT_THAT(what, HasSubstr("chairs[0].artefacts[7]: chair-1: the artefact's window (+0:21:00 to +0:22:00) overlaps the "
                                "desaturation at +0:20:00 (adverse_events[0], to +0:30:00)"));
    EXPECT_THAT(what, HasSubstr("chairs[0].artefacts[8].vital: is required"));
    EXPECT_THAT(what, HasSubstr("chairs[0].artefacts[9]: chair-1: an impossible_step needs a reading of spo2 before it"));
  }
  try {
    parse_scenario("chairs:\n  - close: false\n    adverse_events:\n      - {type: bradycardia, at_min: 30}\n", "open.yaml");
    FAIL() << "accepted";
  } catch (const scenario_error& e) {
    EXPECT_THAT(std::string(e.what()), HasSubstr("labels need the session closed"));
  }
  EXPECT_NO_THROW(parse_scenario("chairs:\n  - close: false\n    adverse_events:\n      - {type: bradycardia, at_min: 30, expect: none}\n",
                                 "open.yaml"));
}

TEST(Scenario, TheShippedScenariosLoad) {
  for (const auto& entry : std::filesystem::directory_iterator(std::string(VIGIL_SOURCE_DIR) + "/config/scenarios")) {
    if (entry.path().extension() != ".yaml") continue;
    SCOPED_TRACE(entry.path().string());
    const auto s = load_scenario(entry.path().string());
    EXPECT_FALSE(s.chairs.empty());
    for (const auto& c : s.chairs) EXPECT_EQ(c.device.rfind("sim-", 0), 0u) << "the demo configuration accepts sim-*";
  }
  const auto day = load_scenario(std::string(VIGIL_SOURCE_DIR) + "/config/scenarios/clinic-day.yaml");
  EXPECT_EQ(day.chairs.size(), 20u);
}

/// A column mapping: its header, unit, and markers ("" for none).
replay_column column(std::string header, std::string unit = "", std::string missing = "", std::string sensor_off = "",
                     std::string artifact = "") {
  replay_column c;
  c.header = std::move(header);
  c.unit = std::move(unit);
  c.missing_given = !missing.empty();
  c.missing = std::move(missing);
  c.sensor_off = std::move(sensor_off);
  c.artifact = std::move(artifact);
  return c;
}

replay_spec spec_hr_spo2() {
  replay_spec spec;
  spec.columns[v1::HEART_RATE] = column("HR", "", "0");
  spec.columns[v1::SPO2] = column("SpO2 (frac)", "fraction");
  return spec;
}

TEST(Replay, MapsColumnsByHeaderConvertsUnitsAndSkipsMissingValues) {
  const auto rows = parse_replay_csv("Time,HR,\"SpO2 (frac)\",Note\n0,72,0.97,a\n1,0,0.96,\"b, c\"\n2,74,,d\n", spec_hr_spo2(),
                                     "rec.csv");
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[1].offset_ms, 1000);
  ASSERT_EQ(rows[0].values.size(), 2u);
  EXPECT_EQ(rows[0].values[0], (replay_value{v1::HEART_RATE, 72.0, v1::QUALITY_OK}));
  EXPECT_NEAR(rows[0].values[1].value, 97, 1e-9);
  ASSERT_EQ(rows[1].values.size(), 1u) << "HR 0 is the missing marker";
  EXPECT_EQ(rows[1].values[0].kind, v1::SPO2);
  ASSERT_EQ(rows[2].values.size(), 1u) << "an empty cell is never a sample";
}

TEST(Replay, TakesATimeColumnOrTheSampleInterval) {
  auto spec = spec_hr_spo2();
  spec.interval_ms = 5000;
  auto rows = parse_replay_csv("HR,SpO2 (frac)\n70,0.97\n71,0.97\n", spec, "r.csv");
  EXPECT_EQ(rows[1].offset_ms, 5000);
  spec.time_header = "t";
  spec.time_unit = "min";
  rows = parse_replay_csv("t,HR,SpO2 (frac)\n0,70,0.97\n0.5,71,0.97\n", spec, "r.csv");
  EXPECT_EQ(rows[1].offset_ms, 30'000);
  spec.columns.clear();
  spec.columns[v1::NIBP_SYSTOLIC] = column("SYS", "kPa");
  rows = parse_replay_csv("t,SYS\n0,16\n", spec, "r.csv");
  EXPECT_NEAR(rows[0].values[0].value, 120.01, 0.01);
}

TEST(Replay, BadInputIsAnErrorNamingTheLine) {
  const auto spec = spec_hr_spo2();
  auto error_of = [&](const std::string& text, replay_spec s) {
    try {
      parse_replay_csv(text, s, "rec.csv");
    } catch (const replay_error& e) {
      return std::string(e.what());
    }
    return std::string("accepted");
  };
  EXPECT_THAT(error_of("HR,SpO2\n70,97\n", spec), HasSubstr("rec.csv:1: no column 'SpO2 (frac)'"));
  EXPECT_THAT(error_of("HR,SpO2 (frac)\n70,0.97\n7O,0.97\n", spec), HasSubstr("rec.csv:3: column 'HR': '7O' is not a number"));
  EXPECT_THAT(error_of("HR,SpO2 (frac)\n70\n", spec), HasSubstr("rec.csv:2: 1 cells where the header has 2"));
  EXPECT_THAT(error_of("", spec), HasSubstr("no header"));
  EXPECT_THAT(error_of("HR,SpO2 (frac)\n", spec), HasSubstr("no rows"));
  auto timed = spec;
  timed.time_header = "t";
  EXPECT_THAT(error_of("t,HR,SpO2 (frac)\n5,70,0.97\n4,70,0.97\n", timed), HasSubstr("rec.csv:3: the time goes back"));
  auto wrong_unit = spec;
  wrong_unit.columns[v1::HEART_RATE].unit = "kPa";
  EXPECT_THAT(error_of("HR,SpO2 (frac)\n70,0.97\n", wrong_unit), HasSubstr("unit 'kPa' does not fit HEART_RATE"));
}

replay_spec spec_with_markers() {
  replay_spec spec;
  spec.columns[v1::HEART_RATE] = column("HR", "", "-", "OFF", "ART");
  spec.columns[v1::SPO2] = column("SpO2", "fraction", "", "0");
  return spec;
}

TEST(Replay, MarkedCellsAreSensorOffOrArtifactSamplesAndASuffixFlagsAValueAsAnArtifact) {
  const auto rows = parse_replay_csv("HR,SpO2\n72,0.97\nOFF,0\nART,0.96\n277!art,0.98!art\n-,\n", spec_with_markers(),
                                     "rec.csv");
  ASSERT_EQ(rows.size(), 5u);
  EXPECT_EQ(rows[0].values[0], (replay_value{v1::HEART_RATE, 72, v1::QUALITY_OK}));
  ASSERT_EQ(rows[1].values.size(), 2u);
  EXPECT_EQ(rows[1].values[0], (replay_value{v1::HEART_RATE, 0, v1::QUALITY_SENSOR_OFF})) << "nothing measured: value 0";
  EXPECT_EQ(rows[1].values[1], (replay_value{v1::SPO2, 0, v1::QUALITY_SENSOR_OFF})) << "a marker may look like a number";
  ASSERT_EQ(rows[2].values.size(), 2u);
  EXPECT_EQ(rows[2].values[0], (replay_value{v1::HEART_RATE, 0, v1::QUALITY_ARTIFACT}));
  EXPECT_EQ(rows[2].values[1].quality, v1::QUALITY_OK);
  ASSERT_EQ(rows[3].values.size(), 2u);
  EXPECT_EQ(rows[3].values[0], (replay_value{v1::HEART_RATE, 277, v1::QUALITY_ARTIFACT})) << "the value is kept";
  EXPECT_EQ(rows[3].values[1].kind, v1::SPO2);
  EXPECT_NEAR(rows[3].values[1].value, 98, 1e-9) << "in the column's unit, converted";
  EXPECT_EQ(rows[3].values[1].quality, v1::QUALITY_ARTIFACT);
  EXPECT_TRUE(rows[4].values.empty());

  replay_source source(rows);
  google::protobuf::RepeatedPtrField<v1::Sample> out;
  source.second(1000, 50'000, out);
  ASSERT_EQ(out.size(), 2);
  EXPECT_EQ(out[0].quality(), static_cast<std::uint32_t>(v1::QUALITY_SENSOR_OFF));
  EXPECT_EQ(out[0].value(), 0);
  EXPECT_EQ(out[0].time_ms(), 51'000);
  out.Clear();
  source.second(3000, 50'000, out);
  ASSERT_EQ(out.size(), 2);
  EXPECT_EQ(out[0].quality(), static_cast<std::uint32_t>(v1::QUALITY_ARTIFACT));
  EXPECT_EQ(out[0].value(), 277);
}

TEST(Replay, AnUnknownFlagOrMarkerIsAnErrorNamingTheLineAndColumn) {
  auto error_of = [&](const std::string& text) {
    try {
      parse_replay_csv(text, spec_with_markers(), "rec.csv");
    } catch (const replay_error& e) {
      return std::string(e.what());
    }
    return std::string("accepted");
  };
  EXPECT_THAT(error_of("HR,SpO2\n72,0.97\n277!artefact,0.97\n"),
              HasSubstr("rec.csv:3: column 'HR': '277!artefact': '!artefact' is not a flag (a value may end in !art"));
  EXPECT_THAT(error_of("HR,SpO2\n72,0.97!\n"), HasSubstr("rec.csv:2: column 'SpO2': '0.97!': '!' is not a flag"));
  EXPECT_THAT(error_of("HR,SpO2\n72,0.97\noff,0.97\n"),
              HasSubstr("rec.csv:3: column 'HR': 'off' is not a number nor a marker of the column (missing '-', "
                        "sensor_off 'OFF', artifact 'ART')"));
  EXPECT_THAT(error_of("HR,SpO2\nOFF!art,0.97\n"), HasSubstr("rec.csv:2: column 'HR': 'OFF!art' is not a number"));
  EXPECT_THAT(error_of("HR,SpO2\n!art,0.97\n"), HasSubstr("rec.csv:2: column 'HR': '!art' is not a number"));
}

TEST(Scenario, AReplayColumnTakesSensorOffAndArtifactMarkers) {
  const auto s = parse_scenario("chairs:\n  - replay:\n      file: case.csv\n      columns:\n"
                                "        heart_rate: {header: HR, missing: '-', sensor_off: 'OFF', artifact: ART}\n"
                                "        spo2: {header: SpO2, sensor_off: '0'}\n",
                                "m.yaml");
  ASSERT_TRUE(s.chairs[0].replay);
  const auto& hr = s.chairs[0].replay->columns.at(v1::HEART_RATE);
  EXPECT_EQ(hr.sensor_off, "OFF");
  EXPECT_EQ(hr.artifact, "ART");
  EXPECT_EQ(s.chairs[0].replay->columns.at(v1::SPO2).sensor_off, "0");
  try {
    parse_scenario("chairs:\n  - replay:\n      file: case.csv\n      columns:\n"
                   "        heart_rate: {header: HR, missing: '-', sensor_off: '-', artifact: ''}\n"
                   "        spo2: {header: SpO2, sensor_off: X, artifact: X}\n",
                   "bad.yaml");
    FAIL() << "accepted";
  } catch (const scenario_error& e) {
    const std::string what = e.what();
    EXPECT_THAT(what, HasSubstr("bad.yaml:5: chairs[0].replay.columns.heart_rate.sensor_off: '-' is also the column's "
                                "missing marker"));
    EXPECT_THAT(what, HasSubstr("bad.yaml:5: chairs[0].replay.columns.heart_rate.artifact: must be the text of a cell"));
    EXPECT_THAT(what, HasSubstr("bad.yaml:6: chairs[0].replay.columns.spo2.artifact: 'X' is also the column's sensor_off "
                                "marker"));
  }
}

TEST(Scenario, AReplayChairTakesNetworkDropsAndRefusesFaultsThatWouldChangeTheRecording) {
  const auto s = parse_scenario("chairs:\n  - replay: {file: case.csv, columns: {heart_rate: {header: HR}}}\n"
                                "    faults:\n      - {type: network_drop, at_s: 30, duration_s: 20}\n",
                                "drop.yaml");
  ASSERT_EQ(s.chairs[0].faults.size(), 1u);
  EXPECT_EQ(s.chairs[0].faults[0].kind, fault_kind::network_drop);
  try {
    parse_scenario(R"(defaults:
  faults:
    - {type: motion, at_min: 20, duration_s: 15}
chairs:
  - chair: chair-4
    replay: {file: case.csv, columns: {heart_rate: {header: HR}}}
    faults:
      - {type: network_drop, at_min: 5, duration_s: 30}
      - {type: sensor_off, sensor: oximeter, at_min: 40, duration_min: 2}
      - {type: low_perfusion, at_min: 25, duration_min: 3}
  - chair: chair-5
)",
                   "bad.yaml");
    FAIL() << "accepted";
  } catch (const scenario_error& e) {
    const std::string what = e.what();
    EXPECT_THAT(what, HasSubstr("bad.yaml:3: defaults.faults[0]: chair chair-4 replays a recording: a motion fault would "
                                "change what was recorded (flag the recording's artifacts with the column's artifact "
                                "marker or the !art suffix); of the faults only network_drop applies to a replay"));
    EXPECT_THAT(what, HasSubstr("bad.yaml:9: chairs[0].faults[1]: chair chair-4 replays a recording: a sensor_off fault "
                                "would change what was recorded (mark the recording's sensor-off cells with the "
                                "column's sensor_off marker)"));
    EXPECT_THAT(what, HasSubstr("bad.yaml:10: chairs[0].faults[2]: chair chair-4 replays a recording: a low_perfusion "
                                "fault"));
    EXPECT_THAT(what, ::testing::Not(HasSubstr("network_drop fault"))) << "a network drop applies to a replay";
    EXPECT_THAT(what, ::testing::Not(HasSubstr("chair-5"))) << "a simulated patient's monitor takes every fault";
  }
}

TEST(Replay, PlaysRowsSecondBySecondStampedFromTheOrigin) {
  auto spec = spec_hr_spo2();
  spec.interval_ms = 500;
  replay_source source(parse_replay_csv("HR,SpO2 (frac)\n70,0.97\n71,0.97\n72,0.96\n", spec, "r.csv"));
  EXPECT_EQ(source.length_ms(), 2000);
  google::protobuf::RepeatedPtrField<v1::Sample> out;
  source.second(0, 10'000, out);
  ASSERT_EQ(out.size(), 4);
  EXPECT_EQ(out[2].time_ms(), 10'500);
  out.Clear();
  source.second(1000, 10'000, out);
  ASSERT_EQ(out.size(), 2);
  EXPECT_EQ(out[0].value(), 72);
}

TEST(Scenario, AChairCanReplayARecording) {
  const auto dir = std::filesystem::temp_directory_path() / "vigil-replay-test";
  std::filesystem::create_directories(dir);
  {
    std::ofstream(dir / "case.csv") << "HR,SpO2 (frac)\n70,0.97\n71,0.97\n";
    std::ofstream(dir / "s.yaml") << "chairs:\n  - dose_at_s: 0\n    replay:\n      file: case.csv\n      columns:\n"
                                     "        heart_rate: {header: HR, missing: '0'}\n"
                                     "        spo2: {header: SpO2 (frac), unit: fraction}\n";
  }
  const auto s = load_scenario((dir / "s.yaml").string());
  ASSERT_TRUE(s.chairs[0].recording);
  EXPECT_EQ(s.chairs[0].recording->size(), 2u);
  EXPECT_EQ(s.chairs[0].duration_ms, 2000) << "as long as the recording";
  std::ofstream(dir / "s.yaml") << "chairs:\n  - replay:\n      file: nowhere.csv\n      columns: {heart_rate: {header: HR}}\n";
  EXPECT_THROW(load_scenario((dir / "s.yaml").string()), scenario_error);
}

}  // namespace
}  // namespace vigil::sim
