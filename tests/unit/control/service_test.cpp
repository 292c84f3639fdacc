// When the control service answers a command (control.md 7.2): only once the events it produced
// are saved, whatever the transport (the TCP control port and the REST API both answer through
// service::handle with a reply). The clinic's recorder here holds the "saved" callbacks until
// the test releases them, as a timeline whose transaction has not committed yet would.

#include "daemon/control/service.hpp"
#include "daemon/clinic/clinic.hpp"
#include "daemon/ingest/device_registry.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <optional>
#include <vector>

namespace vigil::control {
namespace {

constexpr engine::millis t0 = 1'700'000'000'000;
constexpr const char* nurse_token = "service-test-token-01";

/// Stores at once: samples are not what this file is about.
class storing_sink final : public ingest::sample_sink {
 public:
  void submit(const ingest::batch_view& batch, const std::shared_ptr<ingest::device_state>& device) override {
    device->mark_stored(batch.seq, device->epoch);
  }
};

/// A clinic whose recorder holds what it is given, and the service in front of it.
struct rig {
  explicit rig(bool recording = true)
      : c(
            {engine::generic_profile()}, "generic", sink, [] { return t0; }, [] { return engine::millis{0}; }),
        svc(c, {user{"nurse-ana", nurse_token, role::admin}}) {
    if (recording) {
      c.record_state_with([this](const std::vector<engine::event>& events, std::vector<clinic::chair_checkpoint>,
                                 clinic::saved_callback saved) {
        for (const auto& e : events) recorded.push_back(e.type);
        if (saved) held.push_back(std::move(saved));
      });
    }
  }

  /// Sends `request` and keeps its answer when it comes.
  void send(v1::ControlRequest request) {
    request.set_token(nurse_token);
    answer.reset();
    svc.handle(request, [this](v1::ControlResponse r) { answer = std::move(r); });
  }

  v1::ControlRequest open(const std::string& chair) {
    v1::ControlRequest r;
    r.mutable_open_session()->set_chair_id(chair);
    r.mutable_open_session()->set_patient_ref("P-1");
    return r;
  }

  storing_sink sink;
  clinic::clinic c;
  service svc;
  std::vector<engine::event_type> recorded;
  std::vector<clinic::saved_callback> held;
  std::optional<v1::ControlResponse> answer;
};

TEST(CommandAnswers, ACommandIsAnsweredOnlyOnceItsEventsAreSaved) {
  rig r;
  r.send(r.open("chair-1"));
  ASSERT_EQ(r.held.size(), 1u) << "the session's events went to the recorder";
  EXPECT_NE(std::find(r.recorded.begin(), r.recorded.end(), engine::event_type::session_opened), r.recorded.end());
  EXPECT_FALSE(r.answer) << "no answer before the timeline holds the command";
  EXPECT_TRUE(r.c.alarms().session("chair-1")) << "the command is in effect at once";

  r.held[0](true);
  ASSERT_TRUE(r.answer);
  EXPECT_EQ(r.answer->error(), v1::CONTROL_ERROR_NONE) << r.answer->message();
  EXPECT_NE(r.answer->session_id(), 0u);
}

TEST(CommandAnswers, ACommandTheDiskCouldNotSaveIsInEffectAndSaysNotSaved) {
  rig r;
  r.send(r.open("chair-1"));
  ASSERT_EQ(r.held.size(), 1u);
  r.held[0](false);
  ASSERT_TRUE(r.answer);
  EXPECT_EQ(r.answer->error(), v1::CONTROL_ERROR_NOT_SAVED);
  EXPECT_NE(r.answer->session_id(), 0u) << "the answer still names the session it opened";
  EXPECT_NE(r.answer->message().find("do not repeat"), std::string::npos) << r.answer->message();
  EXPECT_TRUE(r.c.alarms().session("chair-1"));
}

TEST(CommandAnswers, ARefusalThatChangedNothingAndAReadAreAnsweredAtOnce) {
  rig r;
  v1::ControlRequest note;
  note.mutable_add_note()->set_chair_id("chair-9");
  note.mutable_add_note()->set_text("no session here");
  r.send(note);
  ASSERT_TRUE(r.answer) << "nothing to save: answered at once";
  EXPECT_EQ(r.answer->error(), v1::CONTROL_ERROR_NO_OPEN_SESSION);

  v1::ControlRequest list;
  list.mutable_list_sessions();
  r.send(list);
  ASSERT_TRUE(r.answer);
  EXPECT_EQ(r.answer->error(), v1::CONTROL_ERROR_NONE);
}

TEST(CommandAnswers, WithoutATimelineACommandIsAnsweredAtOnce) {
  rig r(false);
  r.send(r.open("chair-1"));
  ASSERT_TRUE(r.answer);
  EXPECT_EQ(r.answer->error(), v1::CONTROL_ERROR_NONE);
}

/// One request of each command, on chair-1.
std::vector<v1::ControlRequest> every_command() {
  std::vector<v1::ControlRequest> out;
  auto add = [&](auto fill) {
    v1::ControlRequest r;
    fill(r);
    out.push_back(std::move(r));
  };
  add([](auto& r) { r.mutable_list_sessions(); });
  add([](auto& r) {
    r.mutable_acknowledge()->set_chair_id("chair-1");
    r.mutable_acknowledge()->set_alarm_id(99);
  });
  add([](auto& r) {
    r.mutable_pause_audio()->set_chair_id("chair-1");
    r.mutable_pause_audio()->set_duration_s(60);
  });
  add([](auto& r) {
    r.mutable_add_note()->set_chair_id("chair-1");
    r.mutable_add_note()->set_text("calm");
  });
  add([](auto& r) {
    r.mutable_retake_baseline()->set_chair_id("chair-1");
    r.mutable_retake_baseline()->set_reason("cuff slipped");
  });
  add([](auto& r) {
    r.mutable_open_session()->set_chair_id("chair-1");
    r.mutable_open_session()->set_patient_ref("P-2");
  });
  add([](auto& r) {
    r.mutable_override_predose()->set_chair_id("chair-1");
    r.mutable_override_predose()->set_reason("seen");
  });
  add([](auto& r) {
    r.mutable_mark_dose()->set_chair_id("chair-1");
    r.mutable_mark_dose()->set_route("iv");
  });
  add([](auto& r) { r.mutable_close_session()->set_chair_id("chair-1"); });
  add([](auto& r) {
    r.mutable_reset_device()->set_device_id("dev-1");
    r.mutable_reset_device()->set_reason("restarted");
  });
  return out;
}

// control.md 6: viewers read; nurses also acknowledge, pause, note and re-take a baseline;
// admins also open, override, dose, close and reset devices. A refused role changes nothing.
TEST(CommandAnswers, EachRoleMayDoWhatControlMdSaysAndNothingMore) {
  const std::vector<std::pair<role, const char*>> roles = {{role::viewer, "viewer-token-000001"},
                                                           {role::nurse, "nurse-token-0000001"},
                                                           {role::admin, "admin-token-0000001"}};
  for (const auto& request : every_command()) {
    const auto command = request.command_case();
    const role needed = command == v1::ControlRequest::kListSessions ? role::viewer
                        : (command == v1::ControlRequest::kAcknowledge || command == v1::ControlRequest::kPauseAudio ||
                           command == v1::ControlRequest::kAddNote || command == v1::ControlRequest::kRetakeBaseline)
                            ? role::nurse
                            : role::admin;
    EXPECT_EQ(service::needed_for(command), needed) << request.ShortDebugString();
    for (const auto& [who, token] : roles) {
      storing_sink sink;
      clinic::clinic c(
          {engine::generic_profile()}, "generic", sink, [] { return t0; }, [] { return engine::millis{0}; });
      ASSERT_TRUE(c.apply(engine::open_session{"chair-1", "P-1", "generic", "nurse-a"}).ok());
      const auto published = c.stats().events;
      service svc(c, {user{"someone", token, who}});
      v1::ControlRequest sent = request;
      sent.set_token(token);
      std::optional<v1::ControlResponse> answer;
      svc.handle(sent, [&](v1::ControlResponse r) { answer = std::move(r); });
      ASSERT_TRUE(answer) << request.ShortDebugString();
      if (who < needed) {
        EXPECT_EQ(answer->error(), v1::CONTROL_ERROR_FORBIDDEN) << name(who) << " " << request.ShortDebugString();
        EXPECT_TRUE(c.alarms().pending_events().empty()) << "a refused role changes nothing";
        EXPECT_EQ(c.stats().events, published) << "a refused role changes nothing";
        EXPECT_EQ(c.alarms().session("chair-1")->patient_ref, "P-1");
      } else {
        EXPECT_NE(answer->error(), v1::CONTROL_ERROR_FORBIDDEN) << name(who) << " " << request.ShortDebugString();
        EXPECT_NE(answer->error(), v1::CONTROL_ERROR_UNAUTHORIZED);
      }
    }
  }
}

TEST(CommandAnswers, AnUnknownTokenIsRefusedBeforeAnythingElse) {
  rig r;
  v1::ControlRequest open = r.open("chair-1");
  open.set_token("not-a-token-of-anyone");
  std::optional<v1::ControlResponse> answer;
  r.svc.handle(open, [&](v1::ControlResponse a) { answer = std::move(a); });
  ASSERT_TRUE(answer);
  EXPECT_EQ(answer->error(), v1::CONTROL_ERROR_UNAUTHORIZED);
  EXPECT_FALSE(r.c.alarms().session("chair-1"));
  EXPECT_TRUE(r.held.empty());
}

// control.md 8.3 and 8.6: a command's own time may not be before the session opened nor more
// than 5 s ahead of the chair's time now (here the wall clock, t0: no sample yet).
TEST(CommandAnswers, ACommandsOwnTimeIsBoundedByTheOpenAndFiveSecondsAhead) {
  rig r;
  r.send(r.open("chair-1"));
  r.held.at(0)(true);
  const auto dose_at = [&](std::int64_t at_ms) {
    v1::ControlRequest dose;
    dose.mutable_mark_dose()->set_chair_id("chair-1");
    dose.mutable_mark_dose()->set_route("iv");
    dose.mutable_mark_dose()->set_at_ms(at_ms);
    r.held.clear();
    r.send(dose);
    for (auto& saved : r.held) saved(true);
    return r.answer->error();
  };
  EXPECT_EQ(dose_at(t0 - 1), v1::CONTROL_ERROR_INVALID_ARGUMENT) << "before the session opened";
  EXPECT_EQ(dose_at(t0 + 5'001), v1::CONTROL_ERROR_INVALID_ARGUMENT) << "more than 5 s ahead";
  EXPECT_NE(r.answer->message().find("5 s ahead"), std::string::npos) << r.answer->message();
  EXPECT_NE(dose_at(t0 + 5'000), v1::CONTROL_ERROR_INVALID_ARGUMENT) << "5 s ahead is allowed";
}

}  // namespace
}  // namespace vigil::control
