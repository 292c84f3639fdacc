// End to end: the real vigild and the real vigil-sim, as child processes on loopback. The
// simulator runs a scenario from config/scenarios/ (opening sessions, marking doses and closing
// them over REST as a nurse would, its monitors streaming over the device protocol); the test
// then reads what vigild stored in its timeline.

#include "daemon/report/session_record.hpp"
#include "daemon/store/sqlite_reader.hpp"
#include "tests/integration/harness.hpp"
#include "tests/common/child_process.hpp"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <memory>
#include <regex>
#include <set>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

namespace vigil::test {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

constexpr const char* admin_token = "e2e-admin-token-0001";
constexpr const char* device_token = "e2e-device-token-0001";
constexpr engine::millis minute = 60'000;

std::string scenario(const std::string& name) { return std::string(VIGIL_SOURCE_DIR) + "/config/scenarios/" + name; }

/// vigild run from a configuration written for the test: the shipped profiles, a timeline in
/// the test's directory, the ports it is given (0: any free one).
class daemon_process {
 public:
  explicit daemon_process(const std::string& name) : dir_(fs::temp_directory_path() / ("vigil-e2e-" + std::to_string(getpid())) / name) {
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  ~daemon_process() {
    if (proc_) stop();
  }

  void start(std::uint16_t ingest = 0, std::uint16_t http = 0) {
    fs::remove(ports_file());
    std::ofstream(dir_ / "vigild.yaml") << "ports_file: " << ports_file().string() << "\n"
                                        << "data_dir: " << (dir_ / "data").string() << "\nretention_days: 0\n"
                                        << "log:\n  level: info\n"
                                        << "ingest:\n  port: " << ingest << "\n  devices:\n    - id: 'sim-*'\n      token: "
                                        << device_token << "\n"
                                        << "control:\n  port: 0\nfeed:\n  port: 0\nhttp:\n  port: " << http << "\n"
                                        << "users:\n  - name: nurse-e2e\n    token: " << admin_token << "\n    role: admin\n"
                                        << "engine:\n  profiles_dir: " << VIGIL_SOURCE_DIR << "/config/profiles\n"
                                        << "  default_profile: generic\n";
    proc_ = std::make_unique<child_process>(VIGILD_PATH, std::vector<std::string>{"--config", (dir_ / "vigild.yaml").string()});
    if (proc_->wait_line(std::regex(R"(vigild \S+ ready)"), 30s).empty()) {
      throw std::runtime_error("vigild did not start:\n" + proc_->output());
    }
    std::ifstream in(ports_file());
    std::string line;
    while (std::getline(in, line)) {
      if (line.rfind("ingest: ", 0) == 0) ingest_ = static_cast<std::uint16_t>(std::stoi(line.substr(8)));
      if (line.rfind("http: ", 0) == 0) http_ = static_cast<std::uint16_t>(std::stoi(line.substr(6)));
    }
  }

  /// SIGTERM, and a clean exit.
  void stop() {
    proc_->signal(SIGTERM);
    const int status = proc_->wait_exit(30s);
    EXPECT_EQ(status, 0) << proc_->output().substr(proc_->output().size() > 4000 ? proc_->output().size() - 4000 : 0);
    proc_.reset();
  }

  fs::path ports_file() const { return dir_ / "ports"; }
  fs::path db() const { return dir_ / "data" / "timeline.db"; }
  const fs::path& dir() const { return dir_; }
  std::uint16_t ingest_port() const { return ingest_; }
  std::uint16_t http_port() const { return http_; }

 private:
  fs::path dir_;
  std::unique_ptr<child_process> proc_;
  std::uint16_t ingest_ = 0;
  std::uint16_t http_ = 0;
};

std::unique_ptr<child_process> start_sim(const daemon_process& d, const std::string& scenario_file, const std::string& speed) {
  return std::make_unique<child_process>(
      VIGIL_SIM_PATH, std::vector<std::string>{"--ports-file", d.ports_file().string(), "--scenario", scenario_file,
                                               "--speed", speed, "--api-token", admin_token, "--token", device_token});
}

/// What the simulator said about one chair in its summary.
struct chair_summary {
  std::uint64_t session = 0;
  std::string outcome;
  std::uint64_t samples = 0;
  std::uint64_t acked = 0;
  std::uint64_t connects = 0;
};

std::map<std::string, chair_summary> summaries(const std::string& output) {
  std::map<std::string, chair_summary> out;
  const std::regex line(R"(chair (\S+) device \S+ session (\d+) (.+) samples (\d+) acked (\d+) resent \d+ connects (\d+))");
  for (auto it = std::sregex_iterator(output.begin(), output.end(), line); it != std::sregex_iterator(); ++it) {
    const auto& m = *it;
    out[m[1]] = {std::stoull(m[2]), m[3], std::stoull(m[4]), std::stoull(m[5]), std::stoull(m[6])};
  }
  return out;
}

/// Runs a scenario to its end and returns the simulator's output; the run must succeed.
std::string run_sim(const daemon_process& d, const std::string& scenario_file, const std::string& speed,
                    std::chrono::seconds limit = 90s) {
  auto sim = start_sim(d, scenario_file, speed);
  const int status = sim->wait_exit(limit);
  EXPECT_EQ(status, 0) << sim->output();
  return sim->output();
}

/// An alarm as the timeline has it, with its times from the session's first dose.
struct alarm_seen {
  std::string chair;
  std::string rule;
  engine::priority level;
  engine::alarm_kind kind;
  engine::millis raised;            // from the dose
  std::optional<engine::millis> cleared;
  std::string cleared_why;

  auto key() const { return std::tie(chair, rule, level, kind, raised, cleared, cleared_why); }
  bool operator==(const alarm_seen& o) const { return key() == o.key(); }
  bool operator<(const alarm_seen& o) const { return key() < o.key(); }
};

std::ostream& operator<<(std::ostream& out, const alarm_seen& a) {
  return out << a.chair << " " << a.rule << " " << engine::name(a.level) << " raised D" << (a.raised >= 0 ? "+" : "")
             << a.raised / 1000 << "s cleared " << (a.cleared ? std::to_string(*a.cleared / 1000) + "s" : "never") << " ("
             << a.cleared_why << ")";
}

struct stored_session {
  store::session_summary summary;
  std::vector<alarm_seen> alarms;
  std::size_t samples = 0;
  std::set<std::tuple<int, engine::millis>> distinct;  // (kind, time)
};

/// Every session vigild stored, by chair; the daemon must be stopped.
std::map<std::string, stored_session> stored(const daemon_process& d) {
  store::sqlite_reader reader(d.db().string());
  std::map<std::string, stored_session> out;
  for (const auto& s : reader.sessions()) {
    auto record = report::load_session(reader, s.id);
    if (!record) continue;
    auto& entry = out[s.chair_id];
    entry.summary = s;
    const engine::millis dose = s.dose_ms.value_or(0);
    for (const auto& a : report::alarm_history(record->events)) {
      entry.alarms.push_back({s.chair_id, a.rule, a.level, a.kind, a.raised_at - dose,
                              a.cleared_at ? std::optional(*a.cleared_at - dose) : std::nullopt, a.cleared_why});
    }
    const auto vitals = reader.session_vitals(s.id);
    entry.samples = vitals.size();
    for (const auto& v : vitals) entry.distinct.emplace(static_cast<int>(v.sample.kind), v.sample.time_ms);
  }
  return out;
}

std::vector<alarm_seen> all_alarms(const std::map<std::string, stored_session>& sessions) {
  std::vector<alarm_seen> out;
  for (const auto& [chair, s] : sessions) out.insert(out.end(), s.alarms.begin(), s.alarms.end());
  std::sort(out.begin(), out.end());
  return out;
}

/// A scenario run alone through a fresh daemon: what the simulator said and what vigild stored.
struct scenario_run {
  std::string output;
  std::map<std::string, stored_session> sessions;
};

scenario_run run_alone(const std::string& name, const std::string& scenario_file, const std::string& speed) {
  daemon_process d(name);
  d.start();
  scenario_run out;
  out.output = run_sim(d, scenario_file, speed);
  d.stop();
  out.sessions = stored(d);
  return out;
}

/// Writes a scenario and the recording it replays (case.csv) into the daemon's directory;
/// returns the scenario's path.
std::string write_replay(const daemon_process& d, const std::string& yaml, const std::string& csv) {
  std::ofstream(d.dir() / "case.csv") << csv;
  std::ofstream(d.dir() / "replay.yaml") << yaml;
  return (d.dir() / "replay.yaml").string();
}

/// The first and the last sample time of a stored session.
std::pair<engine::millis, engine::millis> sample_span(const stored_session& s) {
  engine::millis first = std::numeric_limits<engine::millis>::max(), last = 0;
  for (const auto& [kind, time] : s.distinct) {
    first = std::min(first, time);
    last = std::max(last, time);
  }
  return {first, last};
}

bool blood_pressure_rule(const std::string& rule) {
  return rule == "systolic_high" || rule == "diastolic_high" || rule == "systolic_severe" || rule == "diastolic_severe";
}

TEST(SimEndToEnd, HypertensiveResponseRaisesAHighPriorityBloodPressureAlarmAboutFortyMinutesAfterTheDose) {
  const auto run = run_alone("hypertensive", scenario("hypertensive.yaml"), "0");
  ASSERT_EQ(run.sessions.count("chair-1"), 1u) << run.output;
  const auto& s = run.sessions.at("chair-1");
  EXPECT_EQ(s.summary.outcome, "closed");
  ASSERT_TRUE(s.summary.dose_ms);
  EXPECT_NEAR(static_cast<double>(*s.summary.dose_ms - s.summary.opened_ms), static_cast<double>(10 * minute + 1400), 600);
  const alarm_seen* high = nullptr;
  for (const auto& a : s.alarms) {
    if (blood_pressure_rule(a.rule) && a.level == engine::priority::high && !high) high = &a;
  }
  ASSERT_NE(high, nullptr) << ::testing::PrintToString(s.alarms);
  EXPECT_GE(high->raised, 30 * minute) << *high;
  EXPECT_LE(high->raised, 50 * minute) << *high;
  EXPECT_FALSE(s.summary.ready_ms) << "a latched high-priority alarm nobody acknowledged keeps the patient in observation";
}

TEST(SimEndToEnd, UneventfulSessionRaisesNoPhysiologicalAlarmAndBecomesReadyAfterTheObservationWindow) {
  const auto run = run_alone("uneventful", scenario("uneventful.yaml"), "0");
  ASSERT_EQ(run.sessions.count("chair-1"), 1u) << run.output;
  const auto& s = run.sessions.at("chair-1");
  for (const auto& a : s.alarms) {
    EXPECT_NE(a.kind, engine::alarm_kind::physiological) << a;
    EXPECT_EQ(a.cleared_why, "session closed") << "only the ends of the session clear anything: " << a;
  }
  ASSERT_TRUE(s.summary.dose_ms);
  ASSERT_TRUE(s.summary.ready_ms) << "ready for discharge assessment";
  EXPECT_GE(*s.summary.ready_ms - *s.summary.dose_ms, 120 * minute);
  EXPECT_LE(*s.summary.ready_ms - *s.summary.dose_ms, 131 * minute);
  EXPECT_EQ(s.summary.outcome, "closed");
}

TEST(SimEndToEnd, SensorOffRaisesTheTechnicalAlarmAndTheSensorBackClearsIt) {
  const auto run = run_alone("sensor-off", scenario("sensor-off.yaml"), "0");
  ASSERT_EQ(run.sessions.count("chair-1"), 1u) << run.output;
  const auto& s = run.sessions.at("chair-1");
  const alarm_seen* off = nullptr;
  for (const auto& a : s.alarms) {
    if (a.rule == "sensor_off_oximeter") off = &a;
    EXPECT_NE(a.kind, engine::alarm_kind::physiological) << "artifacts and low perfusion raise nothing: " << a;
  }
  ASSERT_NE(off, nullptr) << ::testing::PrintToString(s.alarms);
  EXPECT_EQ(off->kind, engine::alarm_kind::technical);
  // Off at 40 min after the open (30 after the dose, which came 0.9 s after 10 min),
  // raised 10 s later, cleared when the sensor is back two minutes after it came off.
  EXPECT_NEAR(static_cast<double>(off->raised), static_cast<double>(30 * minute + 10'000), 1000) << *off;
  ASSERT_TRUE(off->cleared);
  EXPECT_NEAR(static_cast<double>(*off->cleared), static_cast<double>(32 * minute), 1000) << *off;
  EXPECT_EQ(off->cleared_why, "sensor back on");
}

// The close comes 900 ms after the last sample the monitor sent, whatever the recording's last
// rows hold: here its last row has no sample, ten seconds after the one before.
TEST(SimEndToEnd, ARecordingWhoseLastRowHasNoSampleIsClosedAfterItsLastSample) {
  daemon_process d("replay-empty-end");
  d.start();
  const auto file = write_replay(d,
                                 "chairs:\n  - chair: chair-1\n    device: sim-1\n    dose_at_s: 0\n    replay:\n"
                                 "      file: case.csv\n      interval_s: 10\n"
                                 "      columns: {heart_rate: {header: HR, missing: '-'}}\n",
                                 "HR\n70\n71\n72\n-\n");
  const auto out = run_sim(d, file, "0");
  d.stop();
  const auto sessions = stored(d);
  ASSERT_EQ(sessions.count("chair-1"), 1u) << out;
  const auto& s = sessions.at("chair-1");
  EXPECT_EQ(s.summary.outcome, "closed") << out;
  ASSERT_EQ(s.samples, 3u);
  const auto [first, last] = sample_span(s);
  EXPECT_EQ(last - first, 20'000);
  ASSERT_TRUE(s.summary.closed_ms) << out;
  EXPECT_NEAR(static_cast<double>(*s.summary.closed_ms - last), 900, 600) << out;
}

// Likewise the dose: at its moment the recording has sent nothing for ten seconds, and the
// daemon's clock for the chair stands at the last sample, so the dose comes 900 ms after it.
TEST(SimEndToEnd, ADoseWhereTheRecordingHasNoSampleIsMarkedAfterTheLastSampleSent) {
  daemon_process d("replay-dose-gap");
  d.start();
  std::string csv = "HR\n";
  for (int row = 0; row < 35; ++row) csv += row >= 5 && row < 25 ? "-\n" : "70\n";
  const auto file = write_replay(d,
                                 "chairs:\n  - chair: chair-1\n    device: sim-1\n    dose_at_s: 15\n    replay:\n"
                                 "      file: case.csv\n      columns: {heart_rate: {header: HR, missing: '-'}}\n",
                                 csv);
  const auto out = run_sim(d, file, "0");
  d.stop();
  const auto sessions = stored(d);
  ASSERT_EQ(sessions.count("chair-1"), 1u) << out;
  const auto& s = sessions.at("chair-1");
  EXPECT_EQ(s.summary.outcome, "closed") << out;
  ASSERT_TRUE(s.summary.dose_ms) << out;
  const auto [first, last] = sample_span(s);
  EXPECT_NEAR(static_cast<double>(*s.summary.dose_ms - first), 4900, 600) << out;
  EXPECT_EQ(last - first, 34'000);
}

// A recording says itself when a sensor was off and which values are artifacts: its sensor-off
// cells raise the technical alarm as a monitor's would, and its artifacts drive no alarm.
TEST(SimEndToEnd, ARecordingsSensorOffCellsRaiseTheTechnicalAlarmAndItsArtifactsNone) {
  daemon_process d("replay-markers");
  d.start();
  std::string csv = "HR,SpO2\n";
  for (int row = 0; row < 120; ++row) {
    if (row >= 30 && row < 50) {
      csv += "OFF,97\n";  // the ECG lead off for 20 s
    } else if (row >= 80 && row < 95) {
      csv += "190!art,97\n";  // motion: a heart rate far above the limits, flagged
    } else if (row >= 95 && row < 100) {
      csv += "ART,97\n";
    } else {
      csv += "72,97\n";
    }
  }
  const auto file = write_replay(d,
                                 "chairs:\n  - chair: chair-1\n    device: sim-1\n    dose_at_s: 10\n    replay:\n"
                                 "      file: case.csv\n      columns:\n"
                                 "        heart_rate: {header: HR, sensor_off: 'OFF', artifact: ART}\n"
                                 "        spo2: {header: SpO2}\n",
                                 csv);
  const auto out = run_sim(d, file, "0");
  d.stop();
  const auto sessions = stored(d);
  ASSERT_EQ(sessions.count("chair-1"), 1u) << out;
  const auto& s = sessions.at("chair-1");
  EXPECT_EQ(s.summary.outcome, "closed") << out;
  const alarm_seen* off = nullptr;
  for (const auto& a : s.alarms) {
    if (a.rule == "sensor_off_ecg") off = &a;
    EXPECT_NE(a.kind, engine::alarm_kind::physiological) << "artifacts raise nothing: " << a;
  }
  ASSERT_NE(off, nullptr) << ::testing::PrintToString(s.alarms) << out;
  // The dose came 900 ms after row 10; the lead came off at row 30, the alarm 10 s later, and
  // the lead was back at row 50.
  EXPECT_NEAR(static_cast<double>(off->raised), 29'100, 1000) << *off;
  ASSERT_TRUE(off->cleared) << *off;
  EXPECT_NEAR(static_cast<double>(*off->cleared), 39'100, 1000) << *off;
  EXPECT_EQ(off->cleared_why, "sensor back on");

  store::sqlite_reader reader(d.db().string());
  std::map<std::pair<std::uint32_t, double>, int> heart;  // (quality, value) -> samples
  for (const auto& v : reader.session_vitals(s.summary.id)) {
    if (v.sample.kind == model::vital_kind::heart_rate) ++heart[{v.sample.quality, v.sample.value}];
  }
  EXPECT_EQ((heart[{model::quality::sensor_off, 0.0}]), 20);
  EXPECT_EQ((heart[{model::quality::artifact, 190.0}]), 15);
  EXPECT_EQ((heart[{model::quality::artifact, 0.0}]), 5);
  EXPECT_EQ((heart[{model::quality::ok, 72.0}]), 80);
}

/// Every sample the simulator generated is stored exactly once in its chair's session.
void expect_nothing_lost(const std::string& out, const std::map<std::string, stored_session>& sessions) {
  const auto said = summaries(out);
  ASSERT_FALSE(said.empty()) << out;
  for (const auto& [chair, summary] : said) {
    SCOPED_TRACE(chair);
    ASSERT_EQ(sessions.count(chair), 1u);
    const auto& s = sessions.at(chair);
    EXPECT_EQ(summary.outcome, "closed");
    EXPECT_EQ(summary.acked, summary.samples) << "the simulator saw every sample acked";
    EXPECT_EQ(s.samples, summary.samples) << "the timeline holds every sample";
    EXPECT_EQ(s.distinct.size(), s.samples) << "and none twice";
  }
}

TEST(SimEndToEnd, ANetworkDropLosesNothing) {
  const auto run = run_alone("network-drop", scenario("network-drop.yaml"), "0");
  expect_nothing_lost(run.output, run.sessions);
  EXPECT_GE(summaries(run.output).at("chair-1").connects, 2u) << "the monitor reconnected after the drop\n" << run.output;
}

// A network drop is the link's fault, not the recording's: a replaying monitor buffers its
// samples through it and resends them after it reconnects.
TEST(SimEndToEnd, ANetworkDropOnAReplayingChairLosesNothing) {
  daemon_process d("replay-drop");
  d.start();
  std::string csv = "HR,SpO2\n";
  for (int row = 0; row < 120; ++row) csv += "72,97\n";
  const auto file = write_replay(d,
                                 "chairs:\n  - chair: chair-1\n    device: sim-1\n    dose_at_s: 10\n    replay:\n"
                                 "      file: case.csv\n      columns: {heart_rate: {header: HR}, spo2: {header: SpO2}}\n"
                                 "    faults:\n      - {type: network_drop, at_s: 30, duration_s: 20}\n",
                                 csv);
  const auto out = run_sim(d, file, "0");
  d.stop();
  const auto sessions = stored(d);
  expect_nothing_lost(out, sessions);
  EXPECT_EQ(sessions.at("chair-1").samples, 240u) << out;
  EXPECT_GE(summaries(out).at("chair-1").connects, 2u) << "the monitor reconnected after the drop\n" << out;
}

// The clinic day has every kind of alarm the shipped scenarios raise: limits with delays and
// without, confirmed cuff readings, NEWS2, technical alarms, the pre-dose advisory. Under the
// sanitizers the daemon is too slow to take twenty chairs' doses at their exact moments as fast
// as possible (docs/simulator.md, Time), so there the test runs the one-chair hypertensive
// scenario instead.
// The labelled scenario is a check: every true event raises its expected alarm in time and no
// artefact raises a physiological one (docs/simulator.md, section 7). The artefacts are sent as
// a monitor without artefact flags sends them, and vigild judges each of them in context.
TEST(SimEndToEnd, EveryLabelOfTheLabelledScenarioIsMet) {
  daemon_process d("labelled");
  d.start();
  auto sim = start_sim(d, scenario("labelled.yaml"), "0");
  const int status = sim->wait_exit(120s);
  const auto out = sim->output();
  // vigild's own count of the samples it judged artefacts in context, by reason (alarms.md 3.6).
  std::map<std::string, double> judged;
  {
    http_client client(d.http_port());
    const auto r = client.request("GET", "/metrics");
    ASSERT_TRUE(r && r->status == 200);
    const std::regex series(R"re(vigil_samples_judged_artefact_total\{reason="(\w+)"\} (\d+))re");
    for (auto it = std::sregex_iterator(r->body.begin(), r->body.end(), series); it != std::sregex_iterator(); ++it) {
      judged[(*it)[1]] = std::stod((*it)[2]);
    }
  }
  d.stop();
  EXPECT_EQ(status, 0) << out;
  EXPECT_NE(out.find("labels: 15 of 15 met; sensitivity 4/4 adverse events; artefacts that alarmed 0 of 11"),
            std::string::npos)
      << out;
  const std::regex label_line(R"(label (chair-\d): (.+?): (met|missed))");
  int met = 0;
  for (auto it = std::sregex_iterator(out.begin(), out.end(), label_line); it != std::sregex_iterator(); ++it) {
    EXPECT_EQ((*it)[3], "met") << (*it)[0];
    met += (*it)[3] == "met" ? 1 : 0;
  }
  EXPECT_EQ(met, 15) << out;

  // The artefacts reached vigild unflagged, with their values, and it judged every one of them
  // for the reason of its kind: the labels are met because the daemon judged the artefacts.
  const std::map<std::string, double> expected{{"zero_no_signal", 5 + 3},
                                               {"rates_disagree", 5 + 1 + 5},
                                               {"impossible_step", 1 + 1 + 1},
                                               {"cuff_implausible", 2},
                                               // a cuff reading sent in one batch is judged whole:
                                               // its three parts (alarms.md 3.6)
                                               {"cuff_inconsistent", 3}};
  for (const auto& [reason, n] : expected) EXPECT_EQ(judged[reason], n) << reason;
  const auto sessions = stored(d);
  ASSERT_EQ(sessions.count("chair-5"), 1u) << out;
  store::sqlite_reader reader(d.db().string());
  std::map<std::pair<model::vital_kind, double>, int> odd;  // (kind, value) -> samples, of the artefacts' values
  for (const auto& v : reader.session_vitals(sessions.at("chair-5").summary.id)) {
    EXPECT_EQ(v.sample.quality & model::quality::known, 0u) << "no device flag";
    for (const double value : {0.0, 2.0, 10.0, 11.0, 31.0, 36.0, 277.0}) {
      if (v.sample.value == value) ++odd[{v.sample.kind, value}];
    }
  }
  using k = model::vital_kind;
  EXPECT_EQ(odd, (std::map<std::pair<model::vital_kind, double>, int>{{{k::spo2, 0}, 5},
                                                                       {{k::heart_rate, 0}, 3},
                                                                       {{k::spo2, 36}, 1},
                                                                       {{k::respiratory_rate, 2}, 1},
                                                                       {{k::pulse_rate, 277}, 5},
                                                                       {{k::heart_rate, 11}, 1},
                                                                       {{k::nibp_diastolic, 10}, 1},
                                                                       {{k::nibp_mean, 31}, 1}}));
  for (const auto& [chair, s] : sessions) EXPECT_EQ(s.summary.outcome, "closed") << chair;
}

// A label that cannot be met makes the scenario fail, with its own exit status.
TEST(SimEndToEnd, ALabelNotMetIsReportedAsMissedAndTheRunExitsWithStatus3) {
  daemon_process d("label-missed");
  d.start();
  std::ofstream(d.dir() / "missed.yaml")
      << "name: missed\nchairs:\n  - chair: chair-1\n    device: sim-1\n    dose_at_min: 1\n    duration_min: 12\n"
      << "    adverse_events:\n"
      // A mild fall of 3 points raises no SpO2 alarm.
      << "      - {type: desaturation, at_min: 3, duration_min: 5, ramp_min: 1, magnitude: 3}\n";
  auto sim = start_sim(d, (d.dir() / "missed.yaml").string(), "0");
  const int status = sim->wait_exit(60s);
  const auto out = sim->output();
  d.stop();
  EXPECT_EQ(status, 3) << out;
  EXPECT_NE(out.find("label chair-1: desaturation at +0:03:00: missed: no spo2_low or spo2_critical raised from +0:03:00 "
                     "to +0:06:00"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("labels: 0 of 1 met; sensitivity 0/1 adverse events; artefacts that alarmed 0 of 0"), std::string::npos)
      << out;
}

TEST(SimEndToEnd, TheSameScenarioAtX1000AndAsFastAsPossibleGivesIdenticalAlarms) {
#ifdef VIGIL_SANITIZED
  const std::string file = scenario("hypertensive.yaml");
  const std::size_t at_least = 4;
#else
  const std::string file = scenario("clinic-day.yaml");
  const std::size_t at_least = 10;
#endif
  std::vector<alarm_seen> runs[2];
  const char* speeds[2] = {"1000", "0"};
  for (int i = 0; i < 2; ++i) {
    const auto run = run_alone(std::string("identical-") + speeds[i], file, speeds[i]);
    EXPECT_EQ(run.output.find("late doses"), std::string::npos) << run.output;
    runs[i] = all_alarms(run.sessions);
  }
  EXPECT_GE(runs[0].size(), at_least);
  EXPECT_EQ(runs[0], runs[1]) << "x1000:\n" << ::testing::PrintToString(runs[0]) << "\nas fast as possible:\n"
                              << ::testing::PrintToString(runs[1]);
}

TEST(SimEndToEnd, ADaemonRestartMidSessionLosesNothingAndTheSessionsGoOn) {
  daemon_process d("restart");
  d.start();
  const auto ingest = d.ingest_port();
  const auto http = d.http_port();
  auto sim = start_sim(d, scenario("daemon-restart.yaml"), "1000");
  ASSERT_FALSE(sim->wait_line(std::regex("chair-2: dose marked"), 60s).empty()) << sim->output();
  d.stop();
  d.start(ingest, http);  // the same ports: the monitors and the nurse find it again
  ASSERT_EQ(sim->wait_exit(120s), 0) << sim->output();
  const auto out = sim->output();
  d.stop();
  const auto sessions = stored(d);
  expect_nothing_lost(out, sessions);
  const auto& hypertensive = sessions.at("chair-2");
  bool high = false;
  for (const auto& a : hypertensive.alarms) high |= blood_pressure_rule(a.rule) && a.level == engine::priority::high;
  EXPECT_TRUE(high) << "alarms go on after the restart: " << ::testing::PrintToString(hypertensive.alarms);
  EXPECT_TRUE(sessions.at("chair-1").summary.ready_ms) << "so does the observation window";
}

// How long it takes is a measurement, not a test (docs/performance.md, "A clinic day").
TEST(SimEndToEnd, ATwentyChairClinicDayAsFastAsTheDaemonAcksRaisesItsAlarmsAndNoOthers) {
  daemon_process d("clinic-day");
  d.start();
  const auto out = run_sim(d, scenario("clinic-day.yaml"), "0", 120s);
  d.stop();
  const auto sessions = stored(d);
  ASSERT_EQ(sessions.size(), 20u) << out;
  expect_nothing_lost(out, sessions);
  std::map<std::string, std::set<std::string>> rules;
  for (const auto& [chair, s] : sessions) {
    for (const auto& a : s.alarms) {
      if (a.kind != engine::alarm_kind::advisory) rules[chair].insert(a.rule);
    }
  }
  EXPECT_TRUE(rules["chair-17"].count("systolic_high") || rules["chair-17"].count("diastolic_high")) << out;
  EXPECT_TRUE(rules["chair-18"].count("spo2_critical"));
  EXPECT_TRUE(rules["chair-19"].count("hr_critical"));
  EXPECT_TRUE(rules["chair-20"].count("sensor_off_oximeter"));
  int ready = 0;
  for (int i = 1; i <= 16; ++i) {
    const auto& s = sessions.at("chair-" + std::to_string(i));
    ready += s.summary.ready_ms ? 1 : 0;
    for (const auto& a : s.alarms) EXPECT_NE(a.kind, engine::alarm_kind::physiological) << a;
  }
  EXPECT_EQ(ready, 16) << "every uneventful session became ready for discharge assessment";
}

/// A loopback port nothing listens on: taken from the system, then closed (connection refused).
std::uint16_t closed_port() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t size = sizeof addr;
  EXPECT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  EXPECT_EQ(getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &size), 0);
  close(fd);
  return ntohs(addr.sin_port);
}

/// Runs vigil-sim (one uneventful chair) with `ports` as its ports file until it says `expected`.
void expect_said(const std::string& ports, const std::string& expected) {
  const auto file = fs::temp_directory_path() / ("vigil-e2e-ports-" + std::to_string(getpid()));
  std::ofstream(file) << ports;
  child_process sim(VIGIL_SIM_PATH, {"--ports-file", file.string(), "--devices", "1", "--speed", "1", "-q", "--api-token",
                                     admin_token, "--token", device_token});
  const auto said = sim.wait_line(std::regex(expected), 15s);
  sim.signal(SIGINT);
  EXPECT_GE(sim.wait_exit(15s), 0);
  fs::remove(file);
  EXPECT_FALSE(said.empty()) << sim.output();
  for (const auto* internal : {"system:", "boost", "asio", ".hpp"}) {
    EXPECT_EQ(sim.output().find(internal), std::string::npos) << internal << " in:\n" << sim.output();
  }
}

// A wrong port or a daemon not started shows at once, in plain words, not as a summary of zeros.
TEST(SimEndToEnd, ADevicePortThatCannotBeReachedIsSaidAtOnceInPlainWords) {
  const auto port = closed_port();
  expect_said(fmt::format("ingest: {}\nhttp: {}\nfeed: {}\n", port, closed_port(), closed_port()),
              fmt::format(R"(^vigil-sim: cannot reach vigild's device port at 127\.0\.0\.1:{}: connection refused; still trying$)",
                          port));
}

TEST(SimEndToEnd, ARestApiThatCannotBeReachedIsSaidAtOnceInPlainWords) {
  daemon_process d("rest-unreachable");
  d.start();
  const auto port = closed_port();
  expect_said(fmt::format("ingest: {}\nhttp: {}\n", d.ingest_port(), port),
              fmt::format(R"(^vigil-sim: cannot reach vigild's REST API at 127\.0\.0\.1:{}: connection refused; still trying$)",
                          port));
  d.stop();
}

}  // namespace
}  // namespace vigil::test
