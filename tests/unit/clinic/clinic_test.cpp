#include "daemon/clinic/clinic.hpp"

#include "daemon/ingest/device_registry.hpp"

#include <gtest/gtest.h>

namespace vigil::clinic {
namespace {

using engine::millis;
using model::vital_kind;

constexpr millis t0 = 1'700'000'000'000;

/// Stores at once and counts what it was given.
class counting_sink final : public ingest::sample_sink {
 public:
  void submit(const ingest::batch_view& batch, const std::shared_ptr<ingest::device_state>& device) override {
    samples += batch.samples.size();
    last.assign(batch.samples.begin(), batch.samples.end());
    device->mark_stored(batch.seq, device->epoch);
  }
  std::size_t samples = 0;
  std::vector<model::vital_sample> last;  // the last batch stored
};

/// A clinic with hand-driven wall and monotonic clocks, and one chair with an open session.
struct rig {
  rig() : c({engine::generic_profile()}, "generic", next, [this] { return wall; }, [this] { return steady; }) {
    EXPECT_TRUE(c.apply(engine::open_session{"chair-1", "P-1", "generic", "nurse-a"}).ok());
  }
  void send(std::vector<model::vital_sample> samples) {
    c.submit({"dev-1", "chair-1", ++seq, samples}, device);
  }
  bool has_alarm(std::string_view rule) {
    const auto s = c.alarms().session("chair-1");
    for (const auto& a : s->alarms) {
      if (a.rule == rule) return true;
    }
    return false;
  }

  millis wall = t0;
  millis steady = 0;
  counting_sink next;
  std::shared_ptr<ingest::device_state> device = std::make_shared<ingest::device_state>();
  std::uint64_t seq = 0;
  clinic c;
};

TEST(Clinic, OneFarFutureTimestampDoesNotBlindTheChair) {
  rig r;
  r.send({{t0 + 1000, 97, vital_kind::spo2, 0}, {t0 + 1000, 70, vital_kind::heart_rate, 0}});
  // A glitch: one SpO2 sample stamped a day ahead.
  r.send({{t0 + 24 * 3600 * 1000LL, 97, vital_kind::spo2, 0}});
  EXPECT_EQ(r.c.stats().samples_far_ahead, 1u);
  EXPECT_EQ(r.next.samples, 3u) << "the sample is still kept for the record";
  // Then SpO2 at 80 for a minute: the desaturation alarm must still come.
  for (int i = 2; i <= 70; ++i) {
    r.send({{t0 + i * 1000, 80, vital_kind::spo2, 0}, {t0 + i * 1000, 70, vital_kind::heart_rate, 0}});
  }
  EXPECT_TRUE(r.has_alarm("spo2_critical"));
}

TEST(Clinic, ASampleJudgedAnArtefactIsStoredMarkedWithItsReason) {
  rig r;
  constexpr std::uint32_t impossible_step = model::quality::judged_artefact | (3u << model::quality::reason_shift);
  r.send({{t0 + 1000, 98, vital_kind::spo2, 0}});
  r.send({{t0 + 2000, 98, vital_kind::spo2, 0}});
  r.send({{t0 + 3000, 36, vital_kind::spo2, 0}, {t0 + 3000, 70, vital_kind::heart_rate, 0}});
  ASSERT_EQ(r.next.last.size(), 2u);
  EXPECT_EQ(r.next.last[0].quality, impossible_step) << "alarms.md 3.6: bit 16, the reason in bits 8-15";
  EXPECT_EQ(r.next.last[1].quality, 0u);
  // With a far-ahead sample in the batch (kept, not evaluated), the marks still land on their samples.
  r.send({{t0 + 4000, 98, vital_kind::spo2, 0}});
  r.send({{t0 + 24 * 3600 * 1000LL, 97, vital_kind::spo2, 0}, {t0 + 5000, 36, vital_kind::spo2, 0}});
  ASSERT_EQ(r.next.last.size(), 2u);
  EXPECT_EQ(r.next.last[0].quality, 0u);
  EXPECT_EQ(r.next.last[1].quality, impossible_step);
}

TEST(Clinic, AStepOfTheWallClockMovesNoSession) {
  rig r;
  r.send({{t0 + 1000, 97, vital_kind::spo2, 0}, {t0 + 1000, 70, vital_kind::heart_rate, 0}});
  r.wall += 3600 * 1000;  // the daemon's wall clock jumps an hour; the monotonic clock does not
  r.c.tick();
  EXPECT_LE(*r.c.alarms().clock("chair-1"), t0 + 2000) << "a tick carries time with the monotonic clock";
  for (int i = 2; i <= 70; ++i) {
    r.steady += 1000;
    r.send({{t0 + i * 1000, 80, vital_kind::spo2, 0}, {t0 + i * 1000, 70, vital_kind::heart_rate, 0}});
    r.c.tick();
  }
  EXPECT_TRUE(r.has_alarm("spo2_critical")) << "timers keep firing on the monitor's timeline";
  EXPECT_FALSE(r.has_alarm("stale_heart_rate"));
}

TEST(Clinic, TicksCarrySessionTimeBetweenSamples) {
  rig r;
  // Two readings a second apart: 1 Hz streams, stale after the 30 s floor (alarms.md 3.5).
  r.send({{t0 + 1000, 97, vital_kind::spo2, 0}, {t0 + 1000, 70, vital_kind::heart_rate, 0},
          {t0 + 2000, 97, vital_kind::spo2, 0}, {t0 + 2000, 70, vital_kind::heart_rate, 0}});
  r.steady += 45 * 1000;  // the monitor falls silent for 45 s
  r.c.tick();
  EXPECT_TRUE(r.has_alarm("stale_heart_rate"));
  EXPECT_TRUE(r.has_alarm("stale_spo2"));
}

TEST(Clinic, CadencesDeclaredInAHelloJudgeAStreamFromItsFirstReading) {
  // One reading each, then silence: declared 1 s, stale after the 30 s floor; undeclared, the
  // cadence is unknown and three of the slowest intervals the profile supervises stand in.
  for (const bool declared : {true, false}) {
    rig r;
    std::vector<ingest::declared_cadence> cadences;
    if (declared) cadences = {{vital_kind::heart_rate, 1000}, {vital_kind::spo2, 1000}};
    r.c.cadences_declared("dev-1", "chair-1", cadences);
    r.send({{t0 + 1000, 97, vital_kind::spo2, 0}, {t0 + 1000, 70, vital_kind::heart_rate, 0}});
    r.steady += 45 * 1000;
    r.c.tick();
    EXPECT_EQ(r.has_alarm("stale_heart_rate"), declared) << declared;
    EXPECT_EQ(r.has_alarm("stale_spo2"), declared) << declared;
  }
}

TEST(Clinic, SlicedTicksReachEveryChairOnceARound) {
  rig r;
  // Chairs 1 to 5 with sessions (chair-1 from the rig), each with a sample at the same moment.
  for (int i = 2; i <= 5; ++i) {
    const auto chair = "chair-" + std::to_string(i);
    ASSERT_TRUE(r.c.apply(engine::open_session{chair, "P-" + std::to_string(i), "generic", "nurse-a"}).ok());
  }
  for (int i = 1; i <= 5; ++i) {
    const std::vector<model::vital_sample> samples = {{t0 + 1000, 97, vital_kind::spo2, 0},
                                                      {t0 + 1000, 70, vital_kind::heart_rate, 0}};
    r.c.submit({"dev-" + std::to_string(i), "chair-" + std::to_string(i), 1, samples}, r.device);
  }
  r.steady += 10'000;
  // Three slices of five chairs: two, two, then the last one; then round again.
  const auto advanced = [&] {
    std::vector<std::string> out;
    for (int i = 1; i <= 5; ++i) {
      const auto chair = "chair-" + std::to_string(i);
      if (*r.c.alarms().clock(chair) > t0 + 1000) out.push_back(chair);
    }
    return out;
  };
  r.c.tick(3);
  EXPECT_EQ(advanced(), (std::vector<std::string>{"chair-1", "chair-2"}));
  r.c.tick(3);
  EXPECT_EQ(advanced(), (std::vector<std::string>{"chair-1", "chair-2", "chair-3", "chair-4"}));
  r.c.tick(3);
  EXPECT_EQ(advanced().size(), 5u);
  // A full tick from the middle of a round still reaches every chair.
  r.steady += 10'000;
  r.c.tick(3);
  r.c.tick();
  for (int i = 1; i <= 5; ++i) EXPECT_EQ(*r.c.alarms().clock("chair-" + std::to_string(i)), t0 + 21'000) << i;
}

TEST(Clinic, TwoDevicesOfOneChairAreSourcesThatDoNotMaskEachOther) {
  // A bedside monitor reading 82 % and a pulse oximeter reading 97 %, both configured for
  // chair-1: the oximeter's readings must not keep the chair from alarming.
  rig r;
  auto oximeter = std::make_shared<ingest::device_state>();
  std::uint64_t oximeter_seq = 0;
  for (int i = 1; i <= 20; ++i) {
    const std::vector<model::vital_sample> low = {{t0 + i * 1000, 82, vital_kind::spo2, 0}};
    const std::vector<model::vital_sample> normal = {{t0 + i * 1000 + 500, 97, vital_kind::spo2, 0}};
    r.c.submit({"monitor-1", "chair-1", ++r.seq, low}, r.device);
    r.c.submit({"oximeter-1", "chair-1", ++oximeter_seq, normal}, oximeter);
  }
  EXPECT_TRUE(r.has_alarm("spo2_critical"));
  EXPECT_EQ(r.c.stats().samples_out_of_order, 0u);
}

}  // namespace
}  // namespace vigil::clinic

namespace vigil::clinic {
namespace {

TEST(ClinicIds, AReservationIsAskedForBeforeTheReserveRunsLowAndNoIdPassesWhatIsSaved) {
  rig r;  // one session opened: session 1
  r.c.publish();
  std::vector<engine::id_range> asked;
  r.c.reserve_ids_with([&](engine::id_range through) { asked.push_back(through); }, {0, 0, 0});
  ASSERT_EQ(asked.size(), 1u) << "nothing saved yet: a block is asked for at once";
  EXPECT_EQ(asked[0].session, 1u + clinic::id_blocks.session);
  r.c.ids_saved(asked[0]);

  // Sessions up to half a block past the reservation's start need nothing more...
  std::uint64_t last = 0;
  for (int i = 2; r.c.handed_out().session < 1 + clinic::id_blocks.session / 2; ++i) {
    const auto opened = r.c.apply(engine::open_session{"chair-" + std::to_string(i), "P", "generic", "a"});
    ASSERT_TRUE(opened.ok());
    last = opened.session;
    r.c.publish();
  }
  EXPECT_EQ(asked.size(), 1u);
  // ...the next one asks for another block, before the first is used up.
  const auto opened = r.c.apply(engine::open_session{"chair-x", "P", "generic", "a"});
  r.c.publish();
  ASSERT_EQ(asked.size(), 2u);
  EXPECT_EQ(asked[1].session, opened.session + clinic::id_blocks.session);
  EXPECT_GT(asked[1].session, asked[0].session);
  EXPECT_LT(last, asked[0].session) << "every id handed out so far is covered by the saved block";
}

}  // namespace
}  // namespace vigil::clinic

namespace vigil::clinic {
namespace {

// Written against the log that held every note in full: a note is the patient record's, and
// 2,000 characters a time of anyone's text is not the log's to keep.
TEST(ClinicLog, ANoteIsLoggedByItsLengthAndOtherTextsAreCutShort) {
  engine::event note;
  note.type = engine::event_type::note_added;
  note.chair = "chair-1";
  note.session = 4;
  note.who = "nurse-ana";
  note.text = "patient reports mild dissociation";
  const auto line = describe(note);
  EXPECT_EQ(line.find("dissociation"), std::string::npos) << line;
  EXPECT_NE(line.find("33 characters"), std::string::npos) << line;

  engine::event closed;
  closed.type = engine::event_type::session_closed;
  closed.text = std::string(1'000, 'r');
  EXPECT_LT(describe(closed).size(), 300u);
}

}  // namespace
}  // namespace vigil::clinic

#include "daemon/log/log.hpp"

#include <google/protobuf/struct.pb.h>
#include <spdlog/spdlog.h>
#include <google/protobuf/util/json_util.h>

#include <filesystem>
#include <fstream>
#include <unistd.h>

namespace vigil::clinic {
namespace {

/// Every line of a JSON log, each parsed as a JSON object.
std::vector<google::protobuf::Struct> json_lines(const std::filesystem::path& path) {
  std::vector<google::protobuf::Struct> out;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) {
    google::protobuf::Struct s;
    EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(line, &s).ok()) << line;
    out.push_back(std::move(s));
  }
  return out;
}

std::string text_of(const google::protobuf::Struct& s, const std::string& key) {
  const auto it = s.fields().find(key);
  return it == s.fields().end() ? "<none>" : it->second.string_value();
}

double number_of(const google::protobuf::Struct& s, const std::string& key) {
  const auto it = s.fields().find(key);
  return it == s.fields().end() || !it->second.has_number_value() ? -1 : it->second.number_value();
}

// A log collector (Loki, Elasticsearch, journald) filters by field: "every alarm of chair-3",
// "every acknowledgement of alarm 12". Written against the JSON log that had the chair, session,
// alarm, rule and priority only inside the message's words.
TEST(ClinicLog, JsonLinesCarryTheChairSessionAlarmRuleAndPriorityAsFields) {
  const auto path = std::filesystem::temp_directory_path() / ("vigil-clinic-log-" + std::to_string(getpid()) + ".jsonl");
  std::filesystem::remove(path);
  log::configure({"info", log::format::json, path.string()});
  {
    rig r;
    r.c.publish();  // the session opened
    for (int i = 1; i <= 30 && !r.has_alarm("spo2_critical"); ++i) {
      r.send({{t0 + i * 1000, 80, vital_kind::spo2, 0}, {t0 + i * 1000, 70, vital_kind::heart_rate, 0}});
      r.c.publish();
    }
    ASSERT_TRUE(r.has_alarm("spo2_critical"));
    std::uint64_t alarm = 0;
    const auto session = r.c.alarms().session("chair-1");
    ASSERT_TRUE(session);
    for (const auto& a : session->alarms) {
      if (a.rule == "spo2_critical") alarm = a.id;
    }
    ASSERT_TRUE(r.c.apply(engine::acknowledge{"chair-1", alarm, "nurse-ana"}).ok());
    r.c.publish();
  }
  log::component_logger("clinic")->flush();
  const auto lines = json_lines(path);
  log::configure({"info", log::format::text, ""});
  std::filesystem::remove(path);

  const google::protobuf::Struct* opened = nullptr;
  const google::protobuf::Struct* raised = nullptr;
  const google::protobuf::Struct* acknowledged = nullptr;
  for (const auto& l : lines) {
    if (text_of(l, "event") == "session_opened") opened = &l;
    if (text_of(l, "event") == "alarm_raised" && text_of(l, "rule") == "spo2_critical") raised = &l;
    if (text_of(l, "event") == "alarm_acknowledged") acknowledged = &l;
  }
  ASSERT_NE(opened, nullptr);
  EXPECT_EQ(text_of(*opened, "chair"), "chair-1");
  EXPECT_EQ(number_of(*opened, "session"), 1);
  EXPECT_EQ(text_of(*opened, "by"), "nurse-a");
  EXPECT_EQ(opened->fields().count("alarm"), 0u) << "no alarm fields on a session event";

  ASSERT_NE(raised, nullptr);
  EXPECT_EQ(text_of(*raised, "level"), "warning") << "a high alarm is logged at warn";
  EXPECT_EQ(text_of(*raised, "logger"), "clinic");
  EXPECT_EQ(text_of(*raised, "chair"), "chair-1");
  EXPECT_EQ(number_of(*raised, "session"), 1);
  EXPECT_GT(number_of(*raised, "alarm"), 0);
  EXPECT_EQ(text_of(*raised, "rule"), "spo2_critical");
  EXPECT_EQ(text_of(*raised, "priority"), "high");
  EXPECT_EQ(text_of(*raised, "kind"), "physiological");
  EXPECT_NE(text_of(*raised, "msg").find("alarm_raised #"), std::string::npos) << "the words stay: " << text_of(*raised, "msg");
  // After the ids, the alarm as the station and the report word it (web/wording.json).
  EXPECT_NE(text_of(*raised, "msg").find("spo2_critical (high physiological): SpO\u2082 "), std::string::npos)
      << text_of(*raised, "msg");
  EXPECT_NE(text_of(*raised, "msg").find(" % \u2014 below "), std::string::npos) << text_of(*raised, "msg");

  ASSERT_NE(acknowledged, nullptr);
  EXPECT_EQ(number_of(*acknowledged, "alarm"), number_of(*raised, "alarm"));
  EXPECT_EQ(text_of(*acknowledged, "rule"), "spo2_critical");
  EXPECT_EQ(text_of(*acknowledged, "priority"), "high");
  EXPECT_EQ(text_of(*acknowledged, "by"), "nurse-ana");
}

}  // namespace
}  // namespace vigil::clinic

namespace vigil::clinic {
namespace {

// Cluster mode (docs/deployment.md §3): ids in blocks, chairs taken over and given up.

TEST(ClinicCluster, IdsComeFromTheGrantedBlockAndTheNextIsAskedForAtHalfAndUsedAtOnce) {
  rig r;  // session 1, before any block
  r.c.publish();
  int asked = 0;
  r.c.take_id_blocks_with([&] { ++asked; }, {5'000, 700'000, 9'000'000});
  EXPECT_EQ(asked, 0);
  const auto first = r.c.apply(engine::open_session{"chair-2", "P-2", "generic", "a"});
  r.c.publish();
  EXPECT_EQ(first.session, 5'000u) << "the block's first id";
  EXPECT_GE(r.c.next_event_id(), 9'000'001u);
  // Half the session block used: the next block is asked for, once.
  for (int i = 3; r.c.handed_out().session < 5'000 + clinic::id_blocks.session / 2; ++i) {
    ASSERT_TRUE(r.c.apply(engine::open_session{"chair-" + std::to_string(i), "P", "generic", "a"}).ok());
    r.c.publish();
  }
  EXPECT_EQ(asked, 1);
  ASSERT_TRUE(r.c.apply(engine::open_session{"chair-y", "P", "generic", "a"}).ok());
  r.c.publish();
  EXPECT_EQ(asked, 1) << "asked once until granted";
  // Another daemon took the blocks between: this one's next block lies far above, and ids go on there.
  r.c.id_block_granted({50'000, 7'000'000, 90'000'000});
  const auto next = r.c.apply(engine::open_session{"chair-z", "P", "generic", "a"});
  r.c.publish();
  EXPECT_EQ(next.session, 50'000u);
  EXPECT_GE(r.c.next_event_id(), 90'000'001u);
}

TEST(ClinicCluster, AChairTakenOverCarriesOnFromItsCheckpointWithItsAlarmIdsAndKeepsThisDaemonsIds) {
  // The daemon that held chair-1: an open session with a high alarm, acknowledged.
  rig before;
  for (int i = 1; i <= 70; ++i) before.send({{t0 + i * 1000, 80, vital_kind::spo2, 0}});
  const auto held = before.c.alarms().session("chair-1");
  ASSERT_TRUE(held && !held->alarms.empty());
  const auto alarm = held->alarms.front();
  ASSERT_TRUE(before.c.apply(engine::acknowledge{"chair-1", alarm.id, "nurse-a"}).ok());
  before.c.publish();
  const chair_checkpoint saved{"chair-1", before.wall, before.c.alarms().checkpoint("chair-1")};

  // This daemon's ids are in a block far from those of the checkpoint; it takes the chair over
  // a second after the checkpoint.
  counting_sink next;
  millis wall = before.wall + 1'000;
  millis steady = 0;
  clinic here({engine::generic_profile()}, "generic", next, [&] { return wall; }, [&] { return steady; });
  here.take_id_blocks_with([] {}, {10'000, 20'000, 30'000});
  std::vector<std::string> problems;
  here.take_over(saved, problems);
  EXPECT_TRUE(problems.empty());
  const auto carried = here.alarms().session("chair-1");
  ASSERT_TRUE(carried.has_value());
  EXPECT_EQ(carried->id, held->id);
  const auto same = std::find_if(carried->alarms.begin(), carried->alarms.end(),
                                 [&](const engine::alarm_view& a) { return a.id == alarm.id; });
  ASSERT_NE(same, carried->alarms.end()) << "the same alarm, by its id";
  EXPECT_EQ(same->rule, alarm.rule);
  EXPECT_TRUE(same->acknowledged);
  EXPECT_EQ(same->acknowledged_by, "nurse-a");
  const auto held_now = before.c.alarms().session("chair-1");
  EXPECT_EQ(carried->alarms.size(), held_now->alarms.size());
  const auto opened = here.apply(engine::open_session{"chair-9", "P-9", "generic", "a"});
  EXPECT_EQ(opened.session, 10'000u) << "this daemon's block, not the checkpoint's ids";

  // Given up: the chair is forgotten without an event; its devices' words drive nothing here.
  here.publish();
  here.hold_chairs_with([](std::string_view chair) { return chair != "chair-1"; });
  here.give_up("chair-1");
  EXPECT_FALSE(here.alarms().session("chair-1").has_value());
  EXPECT_TRUE(here.publish().empty());
  here.link_changed("dev-1", "chair-1", false);
  auto device = std::make_shared<ingest::device_state>();
  std::vector<model::vital_sample> late{{t0 + 81'000, 80, vital_kind::spo2, 0}};
  here.submit({"dev-1", "chair-1", 1, late}, device);
  EXPECT_FALSE(here.alarms().clock("chair-1").has_value()) << "no engine state for a chair given up";
  EXPECT_EQ(next.samples, 1u) << "passed on to the store, which refuses it";
  EXPECT_TRUE(here.publish().empty());

  // A nurse's command for it is refused at once, naming where the chair is.
  here.hold_chairs_with([](std::string_view chair) { return chair != "chair-1"; },
                        [](std::string_view) { return std::string(" (b at http=10.0.0.2:7402)"); });
  int answers = 0;
  const auto refused = here.apply(engine::open_session{"chair-1", "P-1", "generic", "nurse-a"},
                                  [&](const engine::command_result& r, bool stored) {
                                    ++answers;
                                    EXPECT_EQ(r.error, engine::command_error::chair_elsewhere);
                                    EXPECT_TRUE(stored) << "nothing to save";
                                  });
  EXPECT_EQ(refused.error, engine::command_error::chair_elsewhere);
  EXPECT_NE(refused.message.find("b at http=10.0.0.2:7402"), std::string::npos) << refused.message;
  EXPECT_EQ(answers, 1);
  EXPECT_FALSE(here.alarms().session("chair-1").has_value()) << "no second record of the chair here";
  EXPECT_TRUE(here.publish().empty());
}

}  // namespace
}  // namespace vigil::clinic
