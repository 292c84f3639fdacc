// The labelled corpus (tests/corpus, docs/alarm-quality.md) run through the engine with the
// generic profile. For every label: a true event alarms within its bound; an artefact raises,
// prolongs and revives no physiological alarm it must not touch. For every session: no alarm is
// raised and cleared at one instant; a once-a-minute stream that keeps its cadence is never
// stale. Each check names the session, the label, the cadence, the alarm and the time.
// Everything runs on explicit session times: nothing sleeps, nothing reads a clock.

#include "tests/corpus/corpus.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <iostream>

#include <map>
#include <ostream>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

namespace vigil::corpus {

// Parameters printed by name in test output.
void PrintTo(label_kind k, std::ostream* os) { *os << name(k); }
void PrintTo(cadence c, std::ostream* os) { *os << name(c); }

namespace {

using engine::event;
using engine::event_type;

struct runs {
  std::vector<session> sessions;
  std::vector<std::vector<event>> with;     // as labelled
  std::vector<std::vector<event>> without;  // artefacts taken out (artefact sessions only)
};

/// One group at one cadence, built and run once per test process.
const runs& of(group g, cadence c) {
  static std::map<std::pair<group, cadence>, runs> cache;
  auto found = cache.find({g, c});
  if (found != cache.end()) return found->second;
  runs r;
  r.sessions = build(g, c);
  const auto profile = after_profile();
  for (const auto& s : r.sessions) {
    r.with.push_back(run(s, profile, true));
    if (g == group::artefacts) r.without.push_back(run(s, profile, false));
  }
  return cache.emplace(std::make_pair(g, c), std::move(r)).first->second;
}

constexpr cadence both[] = {cadence::per_second, cadence::per_minute};
constexpr group all_groups[] = {group::events, group::artefacts, group::uneventful};

// --- the corpus itself -------------------------------------------------------------------------------

TEST(Corpus, HoldsWhatTheIssueAsks) {
  std::size_t true_events = 0;
  for (auto c : both) {
    std::map<label_kind, std::size_t> n;
    for (const auto& s : build(group::events, c)) {
      for (const auto& l : s.labels) ++n[l.kind];
    }
    for (const auto& s : build(group::artefacts, c)) {
      for (const auto& l : s.labels) ++n[l.kind];
    }
    for (auto k : true_event_kinds()) {
      EXPECT_GE(n[k], 6u) << name(k) << " at " << name(c);
      true_events += n[k];
    }
    for (auto k : artefact_kinds()) EXPECT_GE(n[k], 200u) << name(k) << " at " << name(c);
    const auto quiet = build(group::uneventful, c);
    EXPECT_FALSE(quiet.empty());
    for (const auto& s : quiet) EXPECT_TRUE(s.labels.empty()) << s.id;
  }
  EXPECT_GE(true_events, 40u);
}

TEST(Corpus, IsTheSameOnEveryBuild) {
  const auto a = build(group::artefacts, cadence::per_minute);
  const auto b = build(group::artefacts, cadence::per_minute);
  ASSERT_EQ(a.size(), b.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    ASSERT_EQ(a[i].samples.size(), b[i].samples.size());
    for (std::size_t j = 0; j < a[i].samples.size(); ++j) {
      ASSERT_EQ(a[i].samples[j].sample.value, b[i].samples[j].sample.value) << a[i].id << " sample " << j;
      ASSERT_EQ(a[i].samples[j].sample.time_ms, b[i].samples[j].sample.time_ms) << a[i].id << " sample " << j;
    }
  }
}

// --- per kind and cadence ---------------------------------------------------------------------------

using kind_at = std::tuple<label_kind, cadence>;

std::string test_name(const ::testing::TestParamInfo<kind_at>& info) {
  return std::string(name(std::get<0>(info.param))) + "_" + std::string(slug(std::get<1>(info.param)));
}

class TrueEvent : public ::testing::TestWithParam<kind_at> {};

// Bound: the rule's documented raise time (docs/alarms.md 5.2-5.3, 7.1, 7.2: the first reading
// beyond + the delay, or the min_readings-th reading beyond if later; for a stream that stops,
// its last sample + its freshness limit) plus one interval of the stream (1 s or 60 s).
TEST_P(TrueEvent, AlarmsWithinItsBound) {
  const auto [kind, c] = GetParam();
  const auto& r = of(group::events, c);
  std::size_t seen = 0;
  std::size_t missed = 0;
  for (std::size_t i = 0; i < r.sessions.size(); ++i) {
    for (const auto& v : judge_events(r.sessions[i], r.with[i])) {
      if (v.of->kind != kind) continue;
      ++seen;
      if (!v.ok) {
        ++missed;
        ADD_FAILURE() << v.what;
      }
    }
  }
  EXPECT_GT(seen, 0u);
  EXPECT_EQ(missed, 0u) << name(kind) << " at " << name(c) << ": " << missed << " of " << seen
                        << " labelled events missed their alarm or its bound";
}

INSTANTIATE_TEST_SUITE_P(Corpus, TrueEvent,
                         ::testing::Combine(::testing::ValuesIn(true_event_kinds()), ::testing::ValuesIn(both)),
                         test_name);

class Artefact : public ::testing::TestWithParam<kind_at> {};

// No physiological alarm whose rule watches the artefact's vital (or NEWS2) is raised from its
// first sample to its last + the stream's evidence limit, ends later, or sounds again (a latched
// alarm revived), compared with the same session without the artefacts.
TEST_P(Artefact, RaisesProlongsOrRevivesNoPhysiologicalAlarm) {
  const auto [kind, c] = GetParam();
  const auto& r = of(group::artefacts, c);
  std::size_t seen = 0;
  std::size_t failed = 0;
  std::string examples;
  for (std::size_t i = 0; i < r.sessions.size(); ++i) {
    for (const auto& v : judge_artefacts(r.sessions[i], r.with[i], r.without[i])) {
      if (v.of == nullptr || v.of->kind != kind) continue;
      ++seen;
      if (!v.ok) {
        if (++failed <= 12) examples += "\n  " + v.what;
      }
    }
  }
  EXPECT_GE(seen, 200u);
  EXPECT_EQ(failed, 0u) << name(kind) << " at " << name(c) << ": " << failed << " of " << seen
                        << " labelled artefacts touched a physiological alarm; the first " << (failed < 12 ? failed : 12)
                        << ":" << examples;
}

INSTANTIATE_TEST_SUITE_P(Corpus, Artefact,
                         ::testing::Combine(::testing::ValuesIn(artefact_kinds()), ::testing::ValuesIn(both)),
                         test_name);

// --- per cadence -------------------------------------------------------------------------------------

class Cadence : public ::testing::TestWithParam<cadence> {};

std::string cadence_name(const ::testing::TestParamInfo<cadence>& info) { return std::string(slug(info.param)); }

TEST_P(Cadence, EverySessionOpensIsDosedAndCloses) {
  for (auto g : all_groups) {
    const auto& r = of(g, GetParam());
    for (std::size_t i = 0; i < r.sessions.size(); ++i) {
      std::size_t opened = 0, dosed = 0, closed = 0;
      for (const auto& e : r.with[i]) {
        opened += e.type == event_type::session_opened;
        dosed += e.type == event_type::dose_marked;
        closed += e.type == event_type::session_closed;
      }
      EXPECT_EQ(opened + dosed + closed, 3u) << r.sessions[i].id;
    }
  }
}

TEST_P(Cadence, ArtefactSessionsWithoutTheirArtefactsRaiseNoPhysiologicalAlarm) {
  // The corpus's own check: the physiology around the artefacts is uneventful, so any
  // physiological alarm in an artefact session is a false one.
  const auto& r = of(group::artefacts, GetParam());
  for (std::size_t i = 0; i < r.sessions.size(); ++i) {
    for (const auto& e : episodes(r.without[i])) {
      EXPECT_NE(e.kind, engine::alarm_kind::physiological)
          << r.sessions[i].id << ": " << e.rule << " at " << when(r.sessions[i], e.raised_at);
    }
  }
}

TEST_P(Cadence, NoPhysiologicalAlarmInArtefactSessionsWithoutALabel) {
  const auto& r = of(group::artefacts, GetParam());
  for (std::size_t i = 0; i < r.sessions.size(); ++i) {
    for (const auto& v : judge_artefacts(r.sessions[i], r.with[i], r.without[i])) {
      if (v.of == nullptr) ADD_FAILURE() << v.what;
    }
  }
}

TEST_P(Cadence, NoAlarmRaisedAndClearedAtOneInstant) {
  for (auto g : all_groups) {
    const auto& r = of(g, GetParam());
    for (std::size_t i = 0; i < r.sessions.size(); ++i) {
      for (const auto& v : same_instant(r.sessions[i], r.with[i])) ADD_FAILURE() << v.what;
    }
  }
}

TEST_P(Cadence, NoStaleAlarmWhileStreamsKeepTheirCadence) {
  // Only a labelled stop of the respiratory-rate samples may make a stream stale.
  for (auto g : all_groups) {
    const auto& r = of(g, GetParam());
    for (std::size_t i = 0; i < r.sessions.size(); ++i) {
      for (const auto& v : unexplained_stale(r.sessions[i], r.with[i])) ADD_FAILURE() << v.what;
    }
  }
}

TEST_P(Cadence, UneventfulSessionsRaiseFewerThanTwoAlarmsPerPatientHour) {
  const auto& r = of(group::uneventful, GetParam());
  double hours = 0;
  std::size_t alarms = 0;
  std::string which;
  for (std::size_t i = 0; i < r.sessions.size(); ++i) {
    hours += r.sessions[i].patient_hours();
    for (const auto& e : episodes(r.with[i])) {
      if (e.kind == engine::alarm_kind::advisory) continue;
      ++alarms;
      if (which.size() < 400) which += " " + r.sessions[i].id + ":" + e.rule + "@" + when(r.sessions[i], e.raised_at);
    }
  }
  EXPECT_LT(static_cast<double>(alarms) / hours, 2.0) << alarms << " alarms in " << hours << " patient-hours:" << which;
}

INSTANTIATE_TEST_SUITE_P(Corpus, Cadence, ::testing::ValuesIn(both), cadence_name);

}  // namespace
}  // namespace vigil::corpus
