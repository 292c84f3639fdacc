// The clinic is the one gate for operators' commands (docs/architecture.md, the clinic): it
// applies each command to the engine at the chair's session time, then publishes what it
// produced, to the observers at once and to the recorder with the command's "saved" callback.
// Nothing else can change the engine: the clinic hands it out read-only.

#include "daemon/clinic/clinic.hpp"

#include "daemon/ingest/device_registry.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <optional>
#include <type_traits>
#include <utility>
#include <vector>

namespace vigil::clinic {
namespace {

using engine::event_type;
using engine::millis;

constexpr millis t0 = 1'700'000'000'000;

static_assert(std::is_const_v<std::remove_reference_t<decltype(std::declval<clinic&>().alarms())>>,
              "the clinic hands out the engine read-only: commands go through the clinic");

class null_sink final : public ingest::sample_sink {
 public:
  void submit(const ingest::batch_view& batch, const std::shared_ptr<ingest::device_state>& device) override {
    device->mark_stored(batch.seq, device->epoch);
  }
};

/// What a command's callback was told.
struct outcome {
  engine::command_result result;
  bool saved = false;
};

/// A clinic whose recorder holds the "saved" callbacks until the test releases them, as a
/// timeline whose transaction has not committed yet would, and an observer standing for the hub.
struct rig {
  rig()
      : c(
            {engine::generic_profile()}, "generic", sink, [this] { return wall; }, [this] { return steady; }) {
    c.record_state_with([this](const std::vector<engine::event>& events, std::vector<chair_checkpoint> checkpoints,
                               saved_callback saved) {
      for (const auto& e : events) recorded.push_back(e);
      for (const auto& cp : checkpoints) checkpointed.push_back(cp.chair);
      if (saved) held.push_back(std::move(saved));
    });
    c.observe(
        [this](const std::vector<engine::event>& events, std::chrono::steady_clock::time_point) {
          observed.insert(observed.end(), events.begin(), events.end());
        },
        nullptr);
  }

  /// A callback for a command that keeps what it is told.
  command_callback keep() {
    told.reset();
    return [this](const engine::command_result& result, bool saved) { told = outcome{result, saved}; };
  }

  /// Releases every held callback with `saved`.
  void release(bool saved = true) {
    auto callbacks = std::move(held);
    held.clear();
    for (auto& cb : callbacks) cb(saved);
  }

  /// Forgets what was recorded and observed so far.
  void forget() {
    recorded.clear();
    observed.clear();
    checkpointed.clear();
  }

  static bool has(const std::vector<engine::event>& events, event_type type, std::string_view who = {}) {
    return std::any_of(events.begin(), events.end(),
                       [&](const engine::event& e) { return e.type == type && (who.empty() || e.who == who); });
  }

  /// Opens a session on `chair` and saves it.
  std::uint64_t open(const std::string& chair) {
    const auto r = c.apply(engine::open_session{chair, "P-1", "generic", "dr-a"});
    EXPECT_TRUE(r.ok()) << r.message;
    release();
    forget();
    return r.session;
  }

  millis wall = t0;
  millis steady = 0;
  null_sink sink;
  clinic c;
  std::vector<engine::event> recorded;
  std::vector<engine::event> observed;
  std::vector<std::string> checkpointed;
  std::vector<saved_callback> held;
  std::optional<outcome> told;
};

/// Checks that one command's events went to the observer at once and to the recorder with the
/// callback, which tells the command's result only when the recorder says they are saved.
void expect_published(rig& r, const engine::command_result& result, event_type type, std::string_view who) {
  ASSERT_TRUE(result.ok()) << result.message;
  EXPECT_TRUE(rig::has(r.observed, type, who)) << "observers get the events at once";
  EXPECT_TRUE(rig::has(r.recorded, type, who)) << "the recorder gets them with the command's callback";
  EXPECT_FALSE(r.checkpointed.empty()) << "with the checkpoint of the chair it changed";
  EXPECT_TRUE(r.c.alarms().pending_events().empty()) << "nothing is left unpublished";
  ASSERT_EQ(r.held.size(), 1u);
  EXPECT_FALSE(r.told) << "not told before the events are saved";
  r.release();
  ASSERT_TRUE(r.told);
  EXPECT_TRUE(r.told->saved);
  EXPECT_EQ(r.told->result.error, result.error);
  EXPECT_EQ(r.told->result.session, result.session);
  r.forget();
}

TEST(ClinicCommands, OpeningASessionIsAppliedAtTheChairsTimeAndPublished) {
  rig r;
  r.wall = t0 + 7'000;
  const auto result = r.c.apply(engine::open_session{"chair-1", "P-1", "generic", "dr-a"}, r.keep());
  ASSERT_TRUE(result.ok()) << result.message;
  const auto session = r.c.alarms().session("chair-1");
  ASSERT_TRUE(session) << "in effect at once, before it is saved";
  EXPECT_EQ(session->id, result.session);
  EXPECT_EQ(session->opened_at, t0 + 7'000) << "the chair's session time now";
  expect_published(r, result, event_type::session_opened, "dr-a");
}

TEST(ClinicCommands, EveryCommandIsAppliedThenPublishedWithItsCallback) {
  rig r;
  const auto session = r.open("chair-1");

  auto result = r.c.apply(engine::override_predose{"chair-1", "dr-a", "BP taken by hand"}, r.keep());
  expect_published(r, result, event_type::predose_override, "dr-a");

  result = r.c.apply(engine::mark_dose{"chair-1", "iv", "0.5 mg/kg", "dr-a"}, std::nullopt, r.keep());
  expect_published(r, result, event_type::dose_marked, "dr-a");
  EXPECT_EQ(result.session, session);
  EXPECT_EQ(r.c.alarms().session("chair-1")->dose_at, t0);

  result = r.c.apply(engine::add_note{"chair-1", "calm", "nurse-b"}, r.keep());
  expect_published(r, result, event_type::note_added, "nurse-b");

  result = r.c.apply(engine::retake_baseline{"chair-1", "nurse-b", "cuff slipped"}, r.keep());
  expect_published(r, result, event_type::baseline_set, "nurse-b");

  result = r.c.apply(engine::pause_audio{"chair-1", 60'000, "nurse-b"}, r.keep());
  expect_published(r, result, event_type::audio_paused, "nurse-b");

  // An alarm to acknowledge: the timeline stops being saved.
  r.c.storage_changed(false);
  r.release();
  std::uint64_t alarm = 0;
  const auto open = r.c.alarms().session("chair-1");
  ASSERT_TRUE(open);
  for (const auto& a : open->alarms) alarm = a.id;
  ASSERT_NE(alarm, 0u);
  r.forget();
  result = r.c.apply(engine::acknowledge{"chair-1", alarm, "nurse-b"}, r.keep());
  expect_published(r, result, event_type::alarm_acknowledged, "nurse-b");

  result = r.c.apply(engine::close_session{"chair-1", "dr-a", false, ""}, std::nullopt, r.keep());
  expect_published(r, result, event_type::session_closed, "dr-a");
  EXPECT_EQ(result.session, session);
  EXPECT_FALSE(r.c.alarms().session("chair-1"));
}

TEST(ClinicCommands, AnAbortIsAppliedAndPublished) {
  rig r;
  r.open("chair-1");
  const auto result =
      r.c.apply(engine::close_session{"chair-1", "dr-a", true, "patient unwell"}, std::nullopt, r.keep());
  expect_published(r, result, event_type::session_closed, "dr-a");
  EXPECT_FALSE(r.c.alarms().session("chair-1"));
}

TEST(ClinicCommands, ADoseOrACloseAtATimeOfItsOwnIsAppliedThen) {
  rig r;
  r.open("chair-1");
  r.c.apply(engine::override_predose{"chair-1", "dr-a", "BP taken by hand"});
  r.wall = t0 + 4'000;  // the chair's time is t0 + 4 s; the dose was given at t0 + 2 s
  auto result = r.c.apply(engine::mark_dose{"chair-1", "iv", "", "dr-a"}, t0 + 2'000);
  ASSERT_TRUE(result.ok()) << result.message;
  EXPECT_EQ(r.c.alarms().session("chair-1")->dose_at, t0 + 2'000);
  r.forget();
  result = r.c.apply(engine::close_session{"chair-1", "dr-a", false, ""}, t0 + 3'000);
  ASSERT_TRUE(result.ok()) << result.message;
  ASSERT_TRUE(rig::has(r.observed, event_type::session_closed));
  for (const auto& e : r.observed) {
    if (e.type == event_type::session_closed) {
      EXPECT_EQ(e.at, t0 + 3'000);
    }
  }
}

TEST(ClinicCommands, ACommandTheDiskCouldNotSaveIsInEffectAndTheCallbackSaysSo) {
  rig r;
  const auto result = r.c.apply(engine::open_session{"chair-1", "P-1", "generic", "dr-a"}, r.keep());
  ASSERT_TRUE(result.ok());
  ASSERT_EQ(r.held.size(), 1u);
  r.release(false);
  ASSERT_TRUE(r.told);
  EXPECT_FALSE(r.told->saved);
  EXPECT_TRUE(r.told->result.ok());
  EXPECT_TRUE(r.c.alarms().session("chair-1"));
}

TEST(ClinicCommands, ARefusedCommandChangesNothingAndIsToldAtOnce) {
  rig r;
  const auto result = r.c.apply(engine::add_note{"chair-9", "no session here", "nurse-b"}, r.keep());
  EXPECT_EQ(result.error, engine::command_error::no_open_session);
  EXPECT_TRUE(r.recorded.empty());
  EXPECT_TRUE(r.observed.empty());
  EXPECT_TRUE(r.held.empty());
  ASSERT_TRUE(r.told) << "nothing to save: told at once";
  EXPECT_TRUE(r.told->saved);
  EXPECT_EQ(r.told->result.error, engine::command_error::no_open_session);
  EXPECT_EQ(r.told->result.message, result.message);
}

TEST(ClinicCommands, WithoutARecorderTheCallbackIsToldAtOnce) {
  null_sink sink;
  clinic c(
      {engine::generic_profile()}, "generic", sink, [] { return t0; }, [] { return millis{0}; });
  std::optional<outcome> told;
  const auto result = c.apply(engine::open_session{"chair-1", "P-1", "generic", "dr-a"},
                              [&](const engine::command_result& r, bool saved) {
                                told = outcome{r, saved};
                              });
  ASSERT_TRUE(result.ok());
  ASSERT_TRUE(told);
  EXPECT_TRUE(told->saved);
  EXPECT_EQ(told->result.session, result.session);
  EXPECT_EQ(c.stats().events, 1u) << "published: session_opened";
}

}  // namespace
}  // namespace vigil::clinic
