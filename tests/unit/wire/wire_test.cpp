// The wire library: the one mapping of the engine's events and views to protobuf and JSON.

#include "daemon/wire/events.hpp"
#include "daemon/wire/json.hpp"
#include "daemon/wire/time.hpp"
#include "daemon/wire/views.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <vector>

namespace vigil::wire {
namespace {

using engine::event_type;

// Every field of the message is set: a field added to the .proto and not mapped fails here.
void expect_every_field_set(const google::protobuf::Message& m) {
  std::vector<const google::protobuf::FieldDescriptor*> set;
  m.GetReflection()->ListFields(m, &set);
  const auto* d = m.GetDescriptor();
  for (int i = 0; i < d->field_count(); ++i) {
    const auto* f = d->field(i);
    EXPECT_NE(std::find(set.begin(), set.end(), f), set.end()) << d->name() << "." << f->name() << " is not filled";
  }
}

engine::alarm_view busy_alarm() {
  engine::alarm_view a;
  a.id = 17;
  a.rule = "spo2_low";
  a.kind = engine::alarm_kind::technical;
  a.level = engine::priority::high;
  a.raised_at = 1'714'638'600'250;
  a.condition = true;
  a.acknowledged = true;
  a.acknowledged_by = "nurse.kim";
  a.tier = 2;
  a.audible = true;
  a.value = 87.5;
  a.text = "SpO2 87.5 % below 90 %";
  a.responder = "charge_nurse";
  return a;
}

TEST(WireViews, AnAlarmFillsEveryFieldOfAlarmState) {
  v1::AlarmState out;
  fill(out, busy_alarm());
  expect_every_field_set(out);
  EXPECT_EQ(out.alarm_id(), 17u);
  EXPECT_EQ(out.kind(), v1::ALARM_KIND_TECHNICAL);
  EXPECT_EQ(out.priority(), v1::PRIORITY_HIGH);
  EXPECT_EQ(out.acknowledged_by(), "nurse.kim");
  EXPECT_EQ(out.responder(), "charge_nurse");
}

TEST(WireViews, ASessionFillsEveryFieldOfSessionStateWithItsAlarms) {
  engine::session_view s;
  s.id = 4;
  s.chair = "chair-3";
  s.patient_ref = "MRN-1";
  s.profile = "adult_iv";
  s.current = engine::phase::observation;
  s.opened_at = 1'000;
  s.dose_at = 2'000;
  s.window_end = 3'000;
  s.paused_until = 4'000;
  s.baseline = "nibp_systolic 124.0 (good, 1 reading, spread 0.0)";
  s.alarms = {busy_alarm(), busy_alarm()};
  v1::SessionState out;
  fill(out, s);
  expect_every_field_set(out);
  EXPECT_EQ(out.phase(), v1::PHASE_OBSERVATION);
  EXPECT_EQ(out.alarms_size(), 2);
  EXPECT_EQ(out.window_end_ms(), 3'000);
}

engine::event full_event(event_type type) {
  engine::event e;
  e.id = 99;
  e.type = type;
  e.at = 1'714'638'600'000;
  e.chair = "chair-1";
  e.session = 7;
  e.alarm = 12;
  e.rule = "hr_high";
  e.kind = engine::alarm_kind::technical;
  e.level = engine::priority::medium;
  e.from = engine::phase::observation;
  e.to = engine::phase::ready;
  e.who = "nurse.kim";
  e.responder = "physician";
  e.tier = 1;
  e.value = 131;
  e.until = 1'714'638'720'000;
  e.text = "detail";
  e.patient_ref = "MRN-1";
  e.profile = "adult_iv";
  return e;
}

TEST(WireEvents, EveryTypeComesBackFromItsTimelineEventAsFarAsTheMessageCarriesIt) {
  for (int t = static_cast<int>(event_type::session_opened); t <= static_cast<int>(event_type::note_added); ++t) {
    const auto type = static_cast<event_type>(t);
    const auto e = full_event(type);
    const auto back = from_proto(to_proto(e));
    SCOPED_TRACE(engine::name(type));
    EXPECT_EQ(back.id, e.id);
    EXPECT_EQ(back.type, e.type);
    EXPECT_EQ(back.at, e.at);
    EXPECT_EQ(back.chair, e.chair);
    EXPECT_EQ(back.session, e.session);
    EXPECT_EQ(back.who, e.who);
    EXPECT_EQ(back.until, e.until);
    EXPECT_EQ(back.text, e.text);
    const bool alarm = is_alarm_event(type);
    EXPECT_EQ(back.alarm, alarm ? e.alarm : 0u);
    EXPECT_EQ(back.rule, alarm ? e.rule : "");
    EXPECT_EQ(back.kind, alarm ? e.kind : engine::event{}.kind);
    EXPECT_EQ(back.level, alarm ? e.level : engine::event{}.level);
    const bool valued = alarm && type != event_type::alarm_escalated && type != event_type::alarm_acknowledged;
    EXPECT_EQ(back.value, valued ? e.value : 0);
    EXPECT_EQ(back.tier, type == event_type::alarm_escalated ? e.tier : 0);
    EXPECT_EQ(back.responder, type == event_type::alarm_escalated ? e.responder : "");
    EXPECT_EQ(back.from, type == event_type::phase_changed ? e.from : engine::event{}.from);
    const bool to = type == event_type::phase_changed || type == event_type::session_opened;
    EXPECT_EQ(back.to, to ? e.to : engine::event{}.to);
  }
}

TEST(WireEvents, ANoteCarriesNoAlarmFieldsAndTimesAreWrittenAsText) {
  const auto note = to_proto(full_event(event_type::note_added));
  EXPECT_FALSE(note.has_value());
  EXPECT_FALSE(note.has_tier());
  EXPECT_EQ(note.priority(), v1::PRIORITY_UNSPECIFIED);
  EXPECT_EQ(note.at(), "2024-05-02T08:30:00.000Z");
  EXPECT_EQ(note.until(), "2024-05-02T08:32:00.000Z");
}

TEST(WireTime, InstantsAreUtcToTheMillisecondAndFloorBefore1970) {
  EXPECT_EQ(rfc3339_utc(0), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(rfc3339_utc(1'714'638'600'250), "2024-05-02T08:30:00.250Z");
  EXPECT_EQ(rfc3339_utc(-1), "1969-12-31T23:59:59.999Z");
}

TEST(WireJson, UsesTheProtoFileFieldNamesOnOneLine) {
  v1::AlarmState a;
  fill(a, busy_alarm());
  const auto json = to_json(a);
  EXPECT_NE(json.find(R"("alarm_id":"17")"), std::string::npos) << json;
  EXPECT_NE(json.find(R"("acknowledged_by":"nurse.kim")"), std::string::npos) << json;
  EXPECT_NE(json.find(R"("priority":"PRIORITY_HIGH")"), std::string::npos) << json;
  EXPECT_EQ(json.find('\n'), std::string::npos);
}

}  // namespace
}  // namespace vigil::wire
