#include "daemon/config/profile_loader.hpp"
#include "daemon/engine/profile.hpp"
#include "daemon/model/vitals.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <unistd.h>
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <ostream>
#include <regex>
#include <set>
#include <string>
#include <vector>

namespace vigil::config {

// Lets a failing assertion print the problems it was given.
void PrintTo(const problem& p, std::ostream* os) {
  *os << "{key: '" << p.key << "', message: '" << p.message << "'}";
}

namespace {

namespace fs = std::filesystem;
using engine::minutes_ms;
using engine::phase;
using engine::priority;
using engine::seconds_ms;
using model::vital_kind;
using testing::AllOf;
using testing::Contains;
using testing::ElementsAre;
using testing::Field;
using testing::HasSubstr;
using testing::IsEmpty;
using testing::SizeIs;

testing::Matcher<problem> problem_at(const std::string& key) {
  return Field(&problem::key, key);
}

testing::Matcher<problem> problem_at(const std::string& key, const std::string& mentions) {
  return AllOf(Field(&problem::key, key), Field(&problem::message, HasSubstr(mentions)));
}

const fs::path profiles_dir = fs::path(VIGIL_SOURCE_DIR) / "config" / "profiles";
const std::vector<std::string> shipped = {"generic", "im-ketamine", "intranasal-esketamine", "iv-ketamine"};

/// Expects every field of two profiles to be equal (the structs have no operator==).
void expect_same(const engine::profile& a, const engine::profile& b) {
  EXPECT_EQ(a.id, b.id);
  EXPECT_EQ(a.name, b.name);
  EXPECT_EQ(a.baseline_window_ms, b.baseline_window_ms);
  EXPECT_EQ(a.baseline.min_readings, b.baseline.min_readings);
  EXPECT_EQ(a.baseline.max_spread, b.baseline.max_spread);
  EXPECT_EQ(a.artefacts.enabled, b.artefacts.enabled);
  EXPECT_EQ(a.artefacts.zero_is_no_signal, b.artefacts.zero_is_no_signal);
  EXPECT_EQ(a.artefacts.rate_disagreement_bpm, b.artefacts.rate_disagreement_bpm);
  EXPECT_EQ(a.artefacts.spo2_step, b.artefacts.spo2_step);
  EXPECT_EQ(a.artefacts.heart_step, b.artefacts.heart_step);
  EXPECT_EQ(a.artefacts.respiratory_step, b.artefacts.respiratory_step);
  EXPECT_EQ(a.artefacts.systolic_min, b.artefacts.systolic_min);
  EXPECT_EQ(a.artefacts.diastolic_min, b.artefacts.diastolic_min);
  EXPECT_EQ(a.artefacts.mean_min, b.artefacts.mean_min);
  EXPECT_EQ(a.artefacts.pulse_pressure_min, b.artefacts.pulse_pressure_min);
  EXPECT_EQ(a.artefacts.pulse_pressure_max, b.artefacts.pulse_pressure_max);
  EXPECT_EQ(a.artefacts.cuff_reading_ms, b.artefacts.cuff_reading_ms);
  EXPECT_EQ(a.news2.min_readings, b.news2.min_readings);
  EXPECT_EQ(a.predose.systolic_max, b.predose.systolic_max);
  EXPECT_EQ(a.predose.diastolic_max, b.predose.diastolic_max);
  EXPECT_EQ(a.predose.require_reading, b.predose.require_reading);
  EXPECT_EQ(a.discharge.observation_ms, b.discharge.observation_ms);
  EXPECT_EQ(a.discharge.bp_band_percent, b.discharge.bp_band_percent);
  EXPECT_EQ(a.discharge.spo2_min, b.discharge.spo2_min);
  EXPECT_EQ(a.discharge.hold_ms, b.discharge.hold_ms);
  const auto &t = a.technical, &u = b.technical;
  EXPECT_EQ(t.stale_after_ms, u.stale_after_ms);
  EXPECT_EQ(t.stale_level, u.stale_level);
  EXPECT_EQ(t.sensor_off_delay_ms, u.sensor_off_delay_ms);
  EXPECT_EQ(t.sensor_off_level, u.sensor_off_level);
  EXPECT_EQ(t.cuff_interval_ms, u.cuff_interval_ms);
  EXPECT_EQ(t.post_dose_check_ms, u.post_dose_check_ms);
  EXPECT_EQ(t.cuff_grace_ms, u.cuff_grace_ms);
  EXPECT_EQ(t.cuff_level, u.cuff_level);
  EXPECT_EQ(t.disconnected_after_ms, u.disconnected_after_ms);
  EXPECT_EQ(t.disconnected_level, u.disconnected_level);
  EXPECT_EQ(a.news2.enabled, b.news2.enabled);
  EXPECT_EQ(a.news2.medium_at, b.news2.medium_at);
  EXPECT_EQ(a.news2.high_at, b.news2.high_at);
  EXPECT_EQ(a.news2.single_three_is_medium, b.news2.single_three_is_medium);
  EXPECT_EQ(a.news2.delay_ms, b.news2.delay_ms);
  EXPECT_EQ(a.audio.max_pause_ms, b.audio.max_pause_ms);
  EXPECT_EQ(a.audio.ack_silence_ms, b.audio.ack_silence_ms);
  ASSERT_EQ(a.limits.size(), b.limits.size());
  for (std::size_t i = 0; i < a.limits.size(); ++i) {
    const auto &r = a.limits[i], &s = b.limits[i];
    SCOPED_TRACE(r.id);
    EXPECT_EQ(r.id, s.id);
    EXPECT_EQ(r.kind, s.kind);
    EXPECT_EQ(r.low, s.low);
    EXPECT_EQ(r.high, s.high);
    EXPECT_EQ(r.relative, s.relative);
    EXPECT_EQ(r.level, s.level);
    EXPECT_EQ(r.delay_ms, s.delay_ms);
    EXPECT_EQ(r.hysteresis, s.hysteresis);
    EXPECT_EQ(r.latching, s.latching);
    EXPECT_EQ(r.inclusive, s.inclusive);
    EXPECT_EQ(r.confirm_readings, s.confirm_readings);
    EXPECT_EQ(r.min_readings, s.min_readings);
    EXPECT_EQ(r.confirm_within_ms, s.confirm_within_ms);
    EXPECT_EQ(r.phases, s.phases);
  }
  const auto same_tiers = [](const std::vector<engine::escalation_tier>& x,
                             const std::vector<engine::escalation_tier>& y) {
    ASSERT_EQ(x.size(), y.size());
    for (std::size_t i = 0; i < x.size(); ++i) {
      EXPECT_EQ(x[i].responder, y[i].responder);
      EXPECT_EQ(x[i].after_ms, y[i].after_ms);
    }
  };
  same_tiers(a.escalation_high, b.escalation_high);
  same_tiers(a.escalation_medium, b.escalation_medium);
  same_tiers(a.escalation_low, b.escalation_low);
}

const engine::limit_rule* find_rule(const engine::profile& p, const std::string& id) {
  for (const auto& r : p.limits) {
    if (r.id == id) return &r;
  }
  return nullptr;
}

/// A scratch directory, removed at the end of the test.
class scratch_dir {
 public:
  scratch_dir() {
    const auto* info = testing::UnitTest::GetInstance()->current_test_info();
    path_ = fs::temp_directory_path() / ("vigil-profile-test-" + std::to_string(::getpid()) + "-" + info->name());
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~scratch_dir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  scratch_dir(const scratch_dir&) = delete;
  scratch_dir& operator=(const scratch_dir&) = delete;

  void write(const std::string& name, const std::string& text) const { std::ofstream(path_ / name) << text; }
  std::string str() const { return path_.string(); }

 private:
  fs::path path_;
};

// ---- the built-in generic profile ----------------------------------------------------------

TEST(GenericProfile, RuleIdsAreUnique) {
  const auto p = engine::generic_profile();
  ASSERT_THAT(p.limits, testing::Not(IsEmpty()));
  std::set<std::string> ids;
  for (const auto& r : p.limits) EXPECT_TRUE(ids.insert(r.id).second) << r.id << " appears twice";
}

TEST(GenericProfile, RulesAreSane) {
  const auto p = engine::generic_profile();
  EXPECT_EQ(p.id, "generic");
  EXPECT_FALSE(p.name.empty());
  for (const auto& r : p.limits) {
    SCOPED_TRACE(r.id);
    EXPECT_FALSE(r.id.empty());
    EXPECT_TRUE(r.low || r.high) << "a rule needs a limit";
    if (r.low && r.high) {
      EXPECT_LT(*r.low, *r.high);
    }
    const bool cuff =
        r.kind == vital_kind::nibp_systolic || r.kind == vital_kind::nibp_diastolic || r.kind == vital_kind::nibp_mean;
    if (r.relative) {
      EXPECT_TRUE(cuff || r.kind == vital_kind::heart_rate);
      EXPECT_THAT(r.phases, ElementsAre(phase::observation, phase::ready)) << "a rise needs the baseline";
    } else {
      const auto range = model::plausible(r.kind);
      if (r.low) {
        EXPECT_TRUE(*r.low > range.low && *r.low < range.high);
      }
      if (r.high) {
        EXPECT_TRUE(*r.high > range.low && *r.high < range.high);
      }
      EXPECT_THAT(r.phases, IsEmpty());
    }
    if (cuff) {
      EXPECT_EQ(r.delay_ms, 0) << "cuff readings are discrete";
    } else {
      EXPECT_GT(r.delay_ms, 0);
      EXPECT_LE(r.delay_ms, 5 * minutes_ms);
      EXPECT_EQ(r.confirm_readings, 1) << "confirmation is for cuff readings";
    }
    EXPECT_GE(r.confirm_readings, 1);
    EXPECT_LE(r.confirm_readings, 5);
    if (r.confirm_readings > 1) {
      EXPECT_GT(r.confirm_within_ms, 0);
    }
    EXPECT_GE(r.hysteresis, 0);
    EXPECT_LE(r.hysteresis, 10);
    if (r.level == priority::high) {
      EXPECT_TRUE(r.latching) << "high-priority alarms latch in the generic profile";
    }
  }
  for (const auto* tiers : {&p.escalation_high, &p.escalation_medium, &p.escalation_low}) {
    ASSERT_THAT(*tiers, testing::Not(IsEmpty()));
    EXPECT_EQ(tiers->front().responder, "nurse");
    EXPECT_EQ(tiers->front().after_ms, 0);
    for (std::size_t i = 1; i < tiers->size(); ++i) EXPECT_GT((*tiers)[i].after_ms, (*tiers)[i - 1].after_ms);
  }
  EXPECT_LT(p.news2.medium_at, p.news2.high_at);
  EXPECT_LT(p.technical.cuff_grace_ms, p.technical.cuff_interval_ms);
  EXPECT_LT(p.technical.post_dose_check_ms, p.discharge.observation_ms);
}

TEST(GenericProfile, HasTheRulesTheIssueAsksFor) {
  const auto p = engine::generic_profile();
  const auto* spo2 = find_rule(p, "spo2_low");
  ASSERT_NE(spo2, nullptr);
  EXPECT_EQ(spo2->kind, vital_kind::spo2);
  EXPECT_EQ(spo2->low, 92.0);
  EXPECT_EQ(spo2->delay_ms, 30 * seconds_ms);
  const auto* hr = find_rule(p, "hr_high");
  ASSERT_NE(hr, nullptr);
  EXPECT_EQ(hr->high, 120.0);
  EXPECT_EQ(hr->delay_ms, 5 * minutes_ms);
  const auto* sys = find_rule(p, "systolic_high");
  ASSERT_NE(sys, nullptr);
  EXPECT_EQ(sys->high, 180.0);
  EXPECT_EQ(sys->level, priority::high);
  EXPECT_EQ(sys->confirm_readings, 2);
  const auto* severe = find_rule(p, "systolic_severe");
  ASSERT_NE(severe, nullptr);
  EXPECT_EQ(severe->high, 200.0);
  EXPECT_EQ(severe->confirm_readings, 1);
  const auto* rise = find_rule(p, "systolic_rise");
  ASSERT_NE(rise, nullptr);
  EXPECT_TRUE(rise->relative);
  EXPECT_EQ(rise->high, 40.0);
  const auto* drise = find_rule(p, "diastolic_rise");
  ASSERT_NE(drise, nullptr);
  EXPECT_TRUE(drise->relative);
  EXPECT_EQ(drise->high, 25.0);
  ASSERT_THAT(p.escalation_high, SizeIs(3));
  EXPECT_EQ(p.escalation_high[1].after_ms, 2 * minutes_ms);
  EXPECT_EQ(p.escalation_high[2].after_ms, 5 * minutes_ms);
  EXPECT_EQ(p.escalation_high[2].responder, "physician");
}

// ---- shipped profiles ------------------------------------------------------------------------

TEST(ShippedProfiles, EachLoadsWithoutProblems) {
  for (const auto& id : shipped) {
    SCOPED_TRACE(id);
    const auto result = load_profile_file((profiles_dir / (id + ".yaml")).string());
    EXPECT_THAT(result.problems, IsEmpty());
    EXPECT_EQ(result.profile.id, id);
    EXPECT_NE(result.profile.name, id) << "each shipped profile has a name for people";
    EXPECT_GE(result.profile.discharge.observation_ms, 120 * minutes_ms) << "at least 2 h (Spravato label)";
    EXPECT_THAT(result.profile.limits, testing::Not(IsEmpty()));
  }
}

TEST(ShippedProfiles, DirectoryLoadsAllOfThemInNameOrder) {
  const auto result = load_profile_dir(profiles_dir.string());
  EXPECT_THAT(result.problems, IsEmpty());
  std::vector<std::string> ids;
  for (const auto& p : result.profiles) ids.push_back(p.id);
  EXPECT_EQ(ids, shipped);
}

TEST(ShippedProfiles, GenericFileMatchesTheBuiltInProfile) {
  const auto result = load_profile_file((profiles_dir / "generic.yaml").string());
  ASSERT_THAT(result.problems, IsEmpty());
  expect_same(result.profile, engine::generic_profile());
}

TEST(ShippedProfiles, RouteDifferencesFollowTheClinicalNotes) {
  const auto load = [](const std::string& id) {
    return load_profile_file((profiles_dir / (id + ".yaml")).string()).profile;
  };
  const auto iv = load("iv-ketamine");
  EXPECT_EQ(iv.technical.cuff_interval_ms, 10 * minutes_ms) << "Yale chart review: BP every 10 min";
  EXPECT_EQ(iv.technical.post_dose_check_ms, 40 * minutes_ms);
  const auto nasal = load("intranasal-esketamine");
  EXPECT_TRUE(nasal.predose.require_reading) << "label: BP before each dose";
  EXPECT_EQ(nasal.predose.systolic_max, 140);
  EXPECT_EQ(nasal.predose.diastolic_max, 90);
  EXPECT_EQ(nasal.technical.post_dose_check_ms, 40 * minutes_ms) << "label: BP about 40 min after dosing";
  EXPECT_GT(nasal.technical.cuff_level, engine::generic_profile().technical.cuff_level);
  EXPECT_EQ(nasal.discharge.observation_ms, 120 * minutes_ms);
  for (const auto& p : {iv, nasal, load("im-ketamine")}) {
    SCOPED_TRACE(p.id);
    for (const char* id : {"systolic_rise", "diastolic_rise", "systolic_high", "systolic_severe", "spo2_low"}) {
      EXPECT_NE(find_rule(p, id), nullptr) << id;
    }
  }
}

TEST(ShippedProfiles, EveryNumberCarriesItsSource) {
  // A value that starts with a number (after "key:" or "- ") must have a comment citing
  // CLINICAL.md or saying "site choice".
  const std::regex numeric_value(R"((:|-)\s*-?[0-9])");
  for (const auto& id : shipped) {
    std::ifstream in(profiles_dir / (id + ".yaml"));
    ASSERT_TRUE(in) << id;
    std::string line;
    int number = 0;
    bool has_header = false;
    while (std::getline(in, line)) {
      ++number;
      if (line.find("MEDICAL DIRECTOR") != std::string::npos) has_header = true;
      const auto hash = line.find('#');
      const std::string value = line.substr(0, hash);
      if (!std::regex_search(value, numeric_value)) continue;
      const std::string comment = hash == std::string::npos ? "" : line.substr(hash);
      EXPECT_TRUE(comment.find("CLINICAL.md") != std::string::npos || comment.find("site choice") != std::string::npos)
          << id << ".yaml line " << number << " has a number without a source: " << line;
    }
    EXPECT_TRUE(has_header) << id << ".yaml: the header must ask for the medical director's review";
  }
}

// ---- reading ---------------------------------------------------------------------------------

TEST(LoadProfileText, EmptyTextGivesTheGenericProfile) {
  for (const std::string text : {"", "# only a comment\n", "---\n"}) {
    SCOPED_TRACE(text);
    const auto result = load_profile_text(text, "site");
    EXPECT_THAT(result.problems, IsEmpty());
    auto expected = engine::generic_profile();
    expected.id = "site";
    expected.name = "site";  // no name given: the id
    expect_same(result.profile, expected);
  }
}

TEST(LoadProfileText, FullProfileIsParsedIntoItsFields) {
  const auto result = load_profile_text(R"(
name: Test profile
baseline_window_min: 15
baseline:
  min_readings: {heart_rate: 5, nibp_systolic: 2}
  max_spread: {spo2: 3.5, nibp_diastolic: 15}
predose:
  systolic_max: 150.5
  diastolic_max: 95
  require_reading: false
discharge:
  observation_min: 180
  bp_band_percent: 15
  spo2_min: 94
  hold_min: 20
technical:
  stale_after_s: 45
  stale_priority: high
  sensor_off_delay_s: 0
  sensor_off_priority: low
  cuff_interval_min: 20
  post_dose_check_min: 45
  cuff_grace_min: 3
  cuff_priority: medium
  disconnected_after_s: 20
  disconnected_priority: high
news2:
  enabled: false
  medium_at: 4
  high_at: 8
  single_three_is_medium: false
  delay_s: 90
audio:
  max_pause_s: 60
  ack_silence_s: 600
limits:
  - id: sys_rise
    vital: nibp_systolic
    relative: true
    low: -30
    high: 35
    priority: low
    delay_s: 0
    hysteresis: 2.5
    latching: true
    inclusive: true
    confirm_readings: 3
    confirm_within_min: 7
    phases: [observation]
  - id: pulse
    vital: pulse_rate
    low: 40
    priority: high
    delay_s: 15
escalation:
  high:
    - {responder: nurse, after_s: 30}
    - {responder: physician, after_s: 90}
  medium: []
  low:
    - {responder: charge_nurse, after_s: 600}
)",
                                        "test");
  ASSERT_THAT(result.problems, IsEmpty());
  const auto& p = result.profile;
  EXPECT_EQ(p.id, "test");
  EXPECT_EQ(p.name, "Test profile");
  EXPECT_EQ(p.baseline_window_ms, 15 * minutes_ms);
  EXPECT_EQ(p.baseline.min_readings[static_cast<std::size_t>(vital_kind::heart_rate)], 5);
  EXPECT_EQ(p.baseline.min_readings[static_cast<std::size_t>(vital_kind::nibp_systolic)], 2);
  EXPECT_EQ(p.baseline.min_readings[static_cast<std::size_t>(vital_kind::spo2)], 3);  // the default
  EXPECT_EQ(p.baseline.max_spread[static_cast<std::size_t>(vital_kind::spo2)], 3.5);
  EXPECT_EQ(p.baseline.max_spread[static_cast<std::size_t>(vital_kind::nibp_diastolic)], 15);
  EXPECT_EQ(p.predose.systolic_max, 150.5);
  EXPECT_EQ(p.predose.diastolic_max, 95);
  EXPECT_FALSE(p.predose.require_reading);
  EXPECT_EQ(p.discharge.observation_ms, 180 * minutes_ms);
  EXPECT_EQ(p.discharge.bp_band_percent, 15);
  EXPECT_EQ(p.discharge.spo2_min, 94);
  EXPECT_EQ(p.discharge.hold_ms, 20 * minutes_ms);
  EXPECT_EQ(p.technical.stale_after_ms, 45 * seconds_ms);
  EXPECT_EQ(p.technical.stale_level, priority::high);
  EXPECT_EQ(p.technical.sensor_off_delay_ms, 0);
  EXPECT_EQ(p.technical.sensor_off_level, priority::low);
  EXPECT_EQ(p.technical.cuff_interval_ms, 20 * minutes_ms);
  EXPECT_EQ(p.technical.post_dose_check_ms, 45 * minutes_ms);
  EXPECT_EQ(p.technical.cuff_grace_ms, 3 * minutes_ms);
  EXPECT_EQ(p.technical.cuff_level, priority::medium);
  EXPECT_EQ(p.technical.disconnected_after_ms, 20 * seconds_ms);
  EXPECT_EQ(p.technical.disconnected_level, priority::high);
  EXPECT_FALSE(p.news2.enabled);
  EXPECT_EQ(p.news2.medium_at, 4);
  EXPECT_EQ(p.news2.high_at, 8);
  EXPECT_FALSE(p.news2.single_three_is_medium);
  EXPECT_EQ(p.news2.delay_ms, 90 * seconds_ms);
  EXPECT_EQ(p.audio.max_pause_ms, 60 * seconds_ms);
  EXPECT_EQ(p.audio.ack_silence_ms, 600 * seconds_ms);

  ASSERT_THAT(p.limits, SizeIs(2));
  const auto& r = p.limits[0];
  EXPECT_EQ(r.id, "sys_rise");
  EXPECT_EQ(r.kind, vital_kind::nibp_systolic);
  EXPECT_TRUE(r.relative);
  EXPECT_EQ(r.low, -30.0);
  EXPECT_EQ(r.high, 35.0);
  EXPECT_EQ(r.level, priority::low);
  EXPECT_EQ(r.delay_ms, 0);
  EXPECT_EQ(r.hysteresis, 2.5);
  EXPECT_TRUE(r.latching);
  EXPECT_TRUE(r.inclusive);
  EXPECT_EQ(r.confirm_readings, 3);
  EXPECT_EQ(r.confirm_within_ms, 7 * minutes_ms);
  EXPECT_THAT(r.phases, ElementsAre(phase::observation));
  const auto& q = p.limits[1];
  EXPECT_EQ(q.id, "pulse");
  EXPECT_EQ(q.kind, vital_kind::pulse_rate);
  EXPECT_EQ(q.low, 40.0);
  EXPECT_EQ(q.high, std::nullopt);
  EXPECT_FALSE(q.relative);
  EXPECT_EQ(q.level, priority::high);
  EXPECT_EQ(q.delay_ms, 15 * seconds_ms);
  EXPECT_EQ(q.hysteresis, 0);
  EXPECT_FALSE(q.latching);
  EXPECT_FALSE(q.inclusive);
  EXPECT_EQ(q.confirm_readings, 1);
  EXPECT_EQ(q.confirm_within_ms, 0);
  EXPECT_THAT(q.phases, IsEmpty());

  ASSERT_THAT(p.escalation_high, SizeIs(2));
  EXPECT_EQ(p.escalation_high[0].responder, "nurse");
  EXPECT_EQ(p.escalation_high[0].after_ms, 30 * seconds_ms);
  EXPECT_EQ(p.escalation_high[1].responder, "physician");
  EXPECT_EQ(p.escalation_high[1].after_ms, 90 * seconds_ms);
  EXPECT_THAT(p.escalation_medium, IsEmpty()) << "an empty list turns escalation off";
  ASSERT_THAT(p.escalation_low, SizeIs(1));
  EXPECT_EQ(p.escalation_low[0].responder, "charge_nurse");
  EXPECT_EQ(p.escalation_low[0].after_ms, 600 * seconds_ms);
}

TEST(LoadProfileText, PartialProfileKeepsTheGenericDefaults) {
  const auto result = load_profile_text(
      "name: Longer observation\ndischarge:\n  observation_min: 180\ntechnical:\n  cuff_interval_min: 10\n"
      "escalation:\n  low: []\n",
      "partial");
  ASSERT_THAT(result.problems, IsEmpty());
  auto expected = engine::generic_profile();
  expected.id = "partial";
  expected.name = "Longer observation";
  expected.discharge.observation_ms = 180 * minutes_ms;
  expected.technical.cuff_interval_ms = 10 * minutes_ms;
  expected.escalation_low.clear();
  expect_same(result.profile, expected);
}

TEST(LoadProfileText, LimitsGivenReplaceTheGenericList) {
  const auto result = load_profile_text(
      "limits:\n  - {id: spo2_only, vital: spo2, low: 90, priority: high, delay_s: 15}\n", "one-rule");
  ASSERT_THAT(result.problems, IsEmpty());
  ASSERT_THAT(result.profile.limits, SizeIs(1));
  EXPECT_EQ(result.profile.limits[0].id, "spo2_only");
  EXPECT_EQ(result.profile.limits[0].low, 90.0);
  EXPECT_EQ(find_rule(result.profile, "hr_high"), nullptr) << "not merged with the generic rules";
  // Everything else stays generic.
  EXPECT_EQ(result.profile.escalation_high.size(), engine::generic_profile().escalation_high.size());

  const auto none = load_profile_text("limits: []\n", "no-limits");
  EXPECT_THAT(none.problems, IsEmpty());
  EXPECT_THAT(none.profile.limits, IsEmpty());
}

TEST(LoadProfileText, AbsentOrNullLimitsKeepTheGenericList) {
  const auto generic_count = engine::generic_profile().limits.size();
  EXPECT_EQ(load_profile_text("name: x\n", "a").profile.limits.size(), generic_count);
  EXPECT_EQ(load_profile_text("limits:\n", "b").profile.limits.size(), generic_count);
}

// ---- problems --------------------------------------------------------------------------------

struct problem_case {
  std::string name;
  std::string yaml;
  std::string key;       // the key the one problem is reported against
  std::string mentions;  // a word of its message
};
void PrintTo(const problem_case& c, std::ostream* os) {
  *os << c.name;
}

class ProfileProblem : public testing::TestWithParam<problem_case> {};

TEST_P(ProfileProblem, IsReportedAgainstItsKey) {
  const auto result = load_profile_text(GetParam().yaml, "case");
  EXPECT_THAT(result.problems, ElementsAre(problem_at(GetParam().key, GetParam().mentions)));
}

/// A profile whose only limit rule has `fields` (a YAML flow mapping body).
std::string rule(const std::string& fields) {
  return "limits:\n  - {" + fields + "}\n";
}

INSTANTIATE_TEST_SUITE_P(
    LoadProfileText, ProfileProblem,
    testing::Values(
        // unknown keys and types
        problem_case{"unknown_top", "nmae: x\n", "nmae", "unknown"},
        problem_case{"unknown_nested", "technical:\n  stale_after_ms: 30000\n", "technical.stale_after_ms", "unknown"},
        problem_case{"unknown_in_rule", rule("id: a, vital: spo2, low: 90, priority: high, delay: 5"),
                     "limits[0].delay", "unknown"},
        problem_case{"unknown_in_tier", "escalation:\n  high:\n    - {responder: nurse, after_s: 0, page: yes}\n",
                     "escalation.high[0].page", "unknown"},
        problem_case{"unknown_escalation_level", "escalation:\n  urgent: []\n", "escalation.urgent", "unknown"},
        problem_case{"duplicate_key", "news2:\n  delay_s: 30\n  delay_s: 60\n", "news2.delay_s", "more than once"},
        problem_case{"section_not_mapping", "technical: 30\n", "technical", "mapping"},
        problem_case{"not_a_number", "predose:\n  systolic_max: high\n", "predose.systolic_max", "number"},
        problem_case{"not_finite", "predose:\n  systolic_max: .inf\n", "predose.systolic_max", "number"},
        problem_case{"nan", "discharge:\n  spo2_min: .nan\n", "discharge.spo2_min", "number"},
        problem_case{"fractional_time", "technical:\n  stale_after_s: 2.5\n", "technical.stale_after_s",
                     "whole number"},
        problem_case{"not_boolean", "news2:\n  enabled: maybe\n", "news2.enabled", "true or false"},
        problem_case{"limits_not_list", "limits: spo2_low\n", "limits", "list"},
        problem_case{"rule_not_mapping", "limits:\n  - spo2_low\n", "limits[0]", "mapping"},
        problem_case{"tiers_not_list", "escalation:\n  high: nurse\n", "escalation.high", "list"},
        problem_case{"bad_priority", "technical:\n  cuff_priority: urgent\n", "technical.cuff_priority", "urgent"},
        // bounds
        problem_case{"baseline_window_zero", "baseline_window_min: 0\n", "baseline_window_min", "range"},
        problem_case{"artefact_step_zero", "artefacts:\n  spo2_step: 0\n", "artefacts.spo2_step", "range"},
        problem_case{"artefact_pulse_pressure_crossed",
                     "artefacts:\n  pulse_pressure_min: 60\n  pulse_pressure_max: 60\n",
                     "artefacts.pulse_pressure_min", "below"},
        problem_case{"rule_min_readings_zero",
                     "limits:\n  - {id: x, vital: spo2, low: 90, priority: low, min_readings: 0}\n",
                     "limits[0].min_readings", "range"},
        problem_case{"news2_min_readings_big", "news2:\n  min_readings: 11\n", "news2.min_readings", "range"},
        problem_case{"baseline_min_zero", "baseline:\n  min_readings: {spo2: 0}\n", "baseline.min_readings.spo2", "range"},
        problem_case{"baseline_spread_negative", "baseline:\n  max_spread: {spo2: -1}\n", "baseline.max_spread.spo2", "range"},
        problem_case{"baseline_unknown_kind", "baseline:\n  max_spread: {temperature: 1}\n", "baseline.max_spread.temperature", "unknown"},
        problem_case{"observation_short", "discharge:\n  observation_min: 10\n", "discharge.observation_min", "range"},
        problem_case{"spo2_min_above_100", "discharge:\n  spo2_min: 101\n", "discharge.spo2_min", "range"},
        problem_case{"bp_band_negative", "discharge:\n  bp_band_percent: -5\n", "discharge.bp_band_percent", "range"},
        problem_case{"systolic_max_low", "predose:\n  systolic_max: 50\n", "predose.systolic_max", "range"},
        problem_case{"stale_after_zero", "technical:\n  stale_after_s: 0\n", "technical.stale_after_s", "range"},
        problem_case{"news2_high_at_above", "news2:\n  high_at: 21\n", "news2.high_at", "range"},
        problem_case{"max_pause_long", "audio:\n  max_pause_s: 3600\n", "audio.max_pause_s", "range"},
        problem_case{"limit_outside_sensor_range", rule("id: a, vital: spo2, low: 120, priority: high"),
                     "limits[0].low", "range"},
        problem_case{"relative_limit_too_large",
                     rule("id: a, vital: heart_rate, relative: true, high: 200, "
                          "priority: low, phases: [observation]"),
                     "limits[0].high", "range"},
        problem_case{"delay_negative", rule("id: a, vital: spo2, low: 90, priority: high, delay_s: -1"),
                     "limits[0].delay_s", "range"},
        problem_case{"hysteresis_large", rule("id: a, vital: spo2, low: 90, priority: high, hysteresis: 60"),
                     "limits[0].hysteresis", "range"},
        problem_case{"confirm_readings_zero",
                     rule("id: a, vital: nibp_systolic, high: 180, priority: high, "
                          "confirm_readings: 0"),
                     "limits[0].confirm_readings", "range"},
        problem_case{"confirm_readings_six",
                     rule("id: a, vital: nibp_systolic, high: 180, priority: high, "
                          "confirm_readings: 6, confirm_within_min: 5"),
                     "limits[0].confirm_readings", "range"},
        problem_case{"tier_after_negative", "escalation:\n  low:\n    - {responder: nurse, after_s: -10}\n",
                     "escalation.low[0].after_s", "range"},
        // limit rules
        problem_case{"no_limit", rule("id: a, vital: spo2, priority: high"), "limits[0]", "low or a high"},
        problem_case{"low_not_below_high", rule("id: a, vital: heart_rate, low: 100, high: 100, priority: high"),
                     "limits[0].low", "below high"},
        problem_case{"missing_id", rule("vital: spo2, low: 90, priority: high"), "limits[0].id", "required"},
        problem_case{"bad_id", rule("id: 'spo2 low', vital: spo2, low: 90, priority: high"), "limits[0].id", "letters"},
        problem_case{"missing_vital", rule("id: a, low: 90, priority: high"), "limits[0].vital", "required"},
        problem_case{"unknown_vital", rule("id: a, vital: temperature, low: 35, priority: high"), "limits[0].vital",
                     "temperature"},
        problem_case{"empty_vital", rule("id: a, vital: '', low: 35, priority: high"), "limits[0].vital", "not one of"},
        problem_case{"vital_not_a_name", rule("id: a, vital: [spo2], low: 35, priority: high"), "limits[0].vital",
                     "string"},
        problem_case{"missing_priority", rule("id: a, vital: spo2, low: 90"), "limits[0].priority", "required"},
        problem_case{"bad_rule_priority", rule("id: a, vital: spo2, low: 90, priority: critical"), "limits[0].priority",
                     "critical"},
        problem_case{"confirm_within_missing",
                     rule("id: a, vital: nibp_systolic, high: 180, priority: high, "
                          "confirm_readings: 2"),
                     "limits[0].confirm_within_min", "required"},
        problem_case{"confirm_within_without_confirm",
                     rule("id: a, vital: nibp_systolic, high: 180, "
                          "priority: high, confirm_within_min: 5"),
                     "limits[0].confirm_within_min", "no effect"},
        problem_case{"confirm_within_zero",
                     rule("id: a, vital: nibp_systolic, high: 180, priority: high, "
                          "confirm_readings: 2, confirm_within_min: 0"),
                     "limits[0].confirm_within_min", "range"},
        problem_case{"confirm_on_continuous_vital",
                     rule("id: a, vital: heart_rate, high: 120, priority: high, "
                          "confirm_readings: 2, confirm_within_min: 5"),
                     "limits[0].confirm_readings", "cuff"},
        problem_case{"relative_spo2",
                     rule("id: a, vital: spo2, relative: true, low: -4, priority: high, "
                          "phases: [observation, ready]"),
                     "limits[0].relative", "spo2"},
        problem_case{"relative_rr",
                     rule("id: a, vital: respiratory_rate, relative: true, high: 10, "
                          "priority: high, phases: [observation]"),
                     "limits[0].relative", "respiratory_rate"},
        problem_case{"relative_without_phases",
                     rule("id: a, vital: nibp_systolic, relative: true, high: 40, "
                          "priority: medium"),
                     "limits[0].phases", "baseline"},
        problem_case{"relative_in_baseline",
                     rule("id: a, vital: nibp_systolic, relative: true, high: 40, "
                          "priority: medium, phases: [baseline, observation]"),
                     "limits[0].phases", "baseline"},
        problem_case{"unknown_phase", rule("id: a, vital: spo2, low: 90, priority: high, phases: [closed]"),
                     "limits[0].phases[0]", "closed"},
        problem_case{"duplicate_phase",
                     rule("id: a, vital: spo2, low: 90, priority: high, "
                          "phases: [observation, observation]"),
                     "limits[0].phases[1]", "twice"},
        problem_case{"empty_phases", rule("id: a, vital: spo2, low: 90, priority: high, phases: []"),
                     "limits[0].phases", "at least one"},
        problem_case{"hysteresis_crosses",
                     rule("id: a, vital: heart_rate, low: 50, high: 60, priority: high, "
                          "hysteresis: 5"),
                     "limits[0].hysteresis", "cross"},
        problem_case{"duplicate_rule_id",
                     "limits:\n  - {id: a, vital: spo2, low: 90, priority: high}\n"
                     "  - {id: b, vital: spo2, low: 85, priority: high}\n"
                     "  - {id: a, vital: heart_rate, high: 130, priority: high}\n",
                     "limits[2].id", "limits[0]"},
        // escalation
        problem_case{"tier_not_later",
                     "escalation:\n  high:\n    - {responder: nurse, after_s: 0}\n"
                     "    - {responder: charge_nurse, after_s: 120}\n"
                     "    - {responder: physician, after_s: 120}\n",
                     "escalation.high[2].after_s", "later"},
        problem_case{"tier_earlier",
                     "escalation:\n  medium:\n    - {responder: nurse, after_s: 60}\n"
                     "    - {responder: charge_nurse, after_s: 30}\n",
                     "escalation.medium[1].after_s", "later"},
        problem_case{"tier_without_after", "escalation:\n  high:\n    - {responder: nurse}\n",
                     "escalation.high[0].after_s", "required"},
        problem_case{"tier_without_responder", "escalation:\n  high:\n    - {after_s: 0}\n",
                     "escalation.high[0].responder", "required"},
        problem_case{"tier_not_mapping", "escalation:\n  high:\n    - nurse\n", "escalation.high[0]", "mapping"},
        // between sections
        problem_case{"news2_bands_crossed", "news2:\n  medium_at: 7\n  high_at: 5\n", "news2.medium_at", "high_at"},
        problem_case{"cuff_grace_too_long", "technical:\n  cuff_interval_min: 10\n  cuff_grace_min: 10\n",
                     "technical.cuff_grace_min", "cuff_interval_min"},
        problem_case{"post_dose_check_after_observation", "technical:\n  post_dose_check_min: 150\n",
                     "technical.post_dose_check_min", "observation"}));

TEST(LoadProfileText, WrongValueLeavesTheDefault) {
  const auto result = load_profile_text("technical:\n  stale_after_s: 0\n  cuff_interval_min: soon\n", "x");
  EXPECT_THAT(result.problems, SizeIs(2));
  EXPECT_EQ(result.profile.technical.stale_after_ms, engine::generic_profile().technical.stale_after_ms);
  EXPECT_EQ(result.profile.technical.cuff_interval_ms, engine::generic_profile().technical.cuff_interval_ms);
}

TEST(LoadProfileText, ReportsEveryProblemInOnePass) {
  const auto result = load_profile_text(R"(
nmae: typo
discharge:
  observation_min: 5
limits:
  - {id: a, vital: spo2, priority: high}
  - {id: a, vital: heart_rate, low: 150, high: 100, priority: loud}
escalation:
  high:
    - {responder: nurse, after_s: 60}
    - {responder: physician, after_s: 30}
)",
                                        "many");
  EXPECT_THAT(result.problems, testing::UnorderedElementsAre(
                                   problem_at("nmae"), problem_at("discharge.observation_min"), problem_at("limits[0]"),
                                   problem_at("limits[1].low"), problem_at("limits[1].priority"),
                                   problem_at("limits[1].id"), problem_at("escalation.high[1].after_s")));
}

TEST(LoadProfileText, YamlSyntaxErrorNamesTheLine) {
  const auto result = load_profile_text("name: x\nlimits: [ {id: a\n", "broken");
  ASSERT_THAT(result.problems, SizeIs(1));
  EXPECT_EQ(result.problems[0].key, "");
  EXPECT_THAT(result.problems[0].message, HasSubstr("broken"));
  EXPECT_THAT(result.problems[0].message, HasSubstr("line"));
}

TEST(LoadProfileText, TopLevelMustBeAMapping) {
  EXPECT_THAT(load_profile_text("- a\n- b\n", "list").problems, ElementsAre(problem_at("", "mapping")));
  EXPECT_THAT(load_profile_text("just text\n", "scalar").problems, ElementsAre(problem_at("", "mapping")));
}

TEST(LoadProfileText, BadIdIsReported) {
  EXPECT_THAT(load_profile_text("", "").problems, ElementsAre(problem_at("", "profile id")));
  EXPECT_THAT(load_profile_text("", "has space").problems, ElementsAre(problem_at("", "profile id")));
}

// ---- files and directories -------------------------------------------------------------------

TEST(LoadProfileFile, IdIsTheFileStem) {
  scratch_dir dir;
  dir.write("site-iv.yaml", "name: Site IV\n");
  const auto result = load_profile_file(dir.str() + "/site-iv.yaml");
  EXPECT_THAT(result.problems, IsEmpty());
  EXPECT_EQ(result.profile.id, "site-iv");
  EXPECT_EQ(result.profile.name, "Site IV");
}

TEST(LoadProfileFile, MissingFileIsAProblem) {
  const std::string path = "/nonexistent/vigil/profiles/iv.yaml";
  const auto result = load_profile_file(path);
  ASSERT_THAT(result.problems, SizeIs(1));
  EXPECT_THAT(result.problems[0].message, HasSubstr(path));
}

TEST(LoadProfileFile, DirectoryIsAProblem) {
  scratch_dir dir;
  const auto result = load_profile_file(dir.str());
  ASSERT_THAT(result.problems, SizeIs(1));
  EXPECT_THAT(result.problems[0].message, HasSubstr("not a regular file"));
}

TEST(LoadProfileDir, ProblemKeysArePrefixedWithTheFileName) {
  scratch_dir dir;
  dir.write("b-bad.yaml",
            "limits:\n  - {id: a, vital: spo2, low: 90, priority: high}\n"
            "  - {id: b, vital: spo2, high: 900, priority: high}\n");
  dir.write("a-good.yaml", "name: Good\n");
  dir.write("c-broken.yaml", "name: [unclosed\n");
  dir.write("notes.txt", "not a profile\n");
  const auto result = load_profile_dir(dir.str());
  EXPECT_THAT(result.problems,
              ElementsAre(problem_at("b-bad.yaml: limits[1].high", "range"), problem_at("c-broken.yaml", "syntax")));
  ASSERT_THAT(result.profiles, SizeIs(1)) << "a profile with problems is left out";
  EXPECT_EQ(result.profiles[0].id, "a-good");
}

TEST(LoadProfileDir, ProfilesAreSortedByFileName) {
  scratch_dir dir;
  for (const char* name : {"zeta", "alpha", "mid"}) dir.write(std::string(name) + ".yaml", "");
  const auto result = load_profile_dir(dir.str());
  EXPECT_THAT(result.problems, IsEmpty());
  std::vector<std::string> ids;
  for (const auto& p : result.profiles) ids.push_back(p.id);
  EXPECT_THAT(ids, ElementsAre("alpha", "mid", "zeta"));
}

TEST(LoadProfileDir, YmlFileIsReportedNotSkipped) {
  scratch_dir dir;
  dir.write("good.yaml", "");
  dir.write("site.yml", "name: Site\n");
  const auto result = load_profile_dir(dir.str());
  EXPECT_THAT(result.problems, ElementsAre(problem_at("site.yml", ".yaml")));
  EXPECT_THAT(result.profiles, SizeIs(1));
}

TEST(LoadProfileDir, EmptyOrMissingDirectoryIsAProblem) {
  scratch_dir dir;
  EXPECT_THAT(load_profile_dir(dir.str()).problems, ElementsAre(problem_at("", "no *.yaml")));
  EXPECT_THAT(load_profile_dir("/nonexistent/vigil/profiles").problems,
              ElementsAre(problem_at("", "/nonexistent/vigil/profiles")));
}

}  // namespace
}  // namespace vigil::config

namespace vigil::config {
namespace {

TEST(ProfileLoaderPhases, ARuleActiveInReadyMustBeActiveInObservation) {
  const auto r = load_profile_text(
      "limits:\n"
      "  - {id: spo2_watch, vital: spo2, low: 94, priority: low, phases: [ready]}\n",
      "ready-only");
  bool reported = false;
  for (const auto& p : r.problems) reported = reported || (p.key == "limits[0].phases" && p.message.find("observation") != std::string::npos);
  EXPECT_TRUE(reported);
}

}  // namespace
}  // namespace vigil::config
