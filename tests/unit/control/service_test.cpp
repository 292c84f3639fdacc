// When the control service answers a command (control.md 7.2): only once the events it produced
// are saved, whatever the transport (the TCP control port and the REST API both answer through
// service::handle with a reply). The clinic's recorder here holds the "saved" callbacks until
// the test releases them, as a timeline whose transaction has not committed yet would.

#include "daemon/clinic/clinic.hpp"
#include "daemon/control/service.hpp"
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
      : c({engine::generic_profile()}, "generic", sink, [] { return t0; }, [] { return engine::millis{0}; }),
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

}  // namespace
}  // namespace vigil::control
