#pragma once

// Shared steps of the integration tests that drive a clinic: a profile with no alarm delays,
// vitals batches stamped near now, and operators' commands that must succeed.

#include "tests/integration/harness.hpp"

#include "daemon/engine/profile.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <initializer_list>
#include <tuple>
#include <string>
#include <utility>
#include <vector>

namespace vigil::test {

inline std::int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

/// test_config() with the generic profile made immediate: no alarm delays, a single reading
/// raises (and clears), no artefact judgement (a value may jump), NEWS2 off.
inline config::daemon_config fast_config() {
  auto config = test_config();
  auto fast = engine::generic_profile();
  fast.id = "fast";
  for (auto& rule : fast.limits) {
    rule.delay_ms = 0;
    rule.min_readings = 1;
  }
  fast.news2.enabled = false;
  fast.artefacts.enabled = false;
  config.profiles = {fast};
  config.default_profile = "fast";
  return config;
}

/// A batch of the given samples: (kind, value, time).
inline v1::DeviceMessage batch_of(std::uint64_t seq,
                                  std::initializer_list<std::tuple<v1::VitalKind, double, std::int64_t>> samples) {
  v1::DeviceMessage m;
  m.mutable_batch()->set_seq(seq);
  for (const auto& [kind, value, at] : samples) {
    auto& s = *m.mutable_batch()->add_samples();
    s.set_kind(kind);
    s.set_value(value);
    s.set_time_ms(at);
  }
  return m;
}

/// A batch of one heart rate and one SpO2 sample, both stamped `at`.
inline v1::DeviceMessage vitals(std::uint64_t seq, std::int64_t at, double heart_rate, double spo2) {
  v1::DeviceMessage m;
  m.mutable_batch()->set_seq(seq);
  for (const auto& [kind, value] : {std::pair{v1::HEART_RATE, heart_rate}, std::pair{v1::SPO2, spo2}}) {
    auto& s = *m.mutable_batch()->add_samples();
    s.set_kind(kind);
    s.set_value(value);
    s.set_time_ms(at);
  }
  return m;
}

inline void open_session(control_client& ops, const std::string& chair) {
  v1::ControlRequest open;
  open.mutable_open_session()->set_chair_id(chair);
  open.mutable_open_session()->set_patient_ref("P-" + chair);
  const auto r = ops.call(open);
  ASSERT_TRUE(r && r->error() == v1::CONTROL_ERROR_NONE) << (r ? r->message() : "no response");
}

inline void add_note(control_client& ops, const std::string& chair, const std::string& text) {
  v1::ControlRequest note;
  note.mutable_add_note()->set_chair_id(chair);
  note.mutable_add_note()->set_text(text);
  const auto r = ops.call(note);
  ASSERT_TRUE(r && r->error() == v1::CONTROL_ERROR_NONE) << (r ? r->message() : "no response");
}

inline v1::FeedRequest subscribe_to(std::vector<std::string> chairs = {},
                                    std::vector<v1::EventCategory> categories = {}) {
  v1::FeedRequest r;
  for (auto& c : chairs) r.mutable_subscribe()->add_chair_ids(c);
  for (auto c : categories) r.mutable_subscribe()->add_categories(c);
  return r;
}

}  // namespace vigil::test
