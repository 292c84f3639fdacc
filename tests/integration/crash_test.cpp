// vigild killed with SIGKILL at random moments, over and over, while three monitors on three
// chairs stream into one commit group, a nurse acknowledges, pauses and writes notes, sessions
// close and open, and a feed subscriber follows everything, resuming after each restart. Kills
// fall at start-up (before and during recovery), while idle, mid-stream and with commands in
// flight. Checked after each restart and at the end:
//
// - nothing acked is lost and nothing is stored twice (every device's samples);
// - no id names two things: an event id never names two events, an alarm id two alarms, a
//   session id two sessions, whether or not the first was committed before the kill;
// - the resumed subscriber gets exactly what it missed: every committed event, once, as it was
//   committed, and nothing twice;
// - after a kill with nothing in flight, the restored state is the state before the kill plus
//   exactly the events the daemon published since: timers that fell due during the downtime
//   (an audio pause that ended, an escalation) are in those events, and nothing else differs.
//
// 20 kills in the normal run; scripts/soak-crash.sh runs 200 kills for each of ten seeds:
//   VIGIL_CRASH_KILLS=200 VIGIL_CRASH_SEED=44 build/tests/integration/crash_test

#include "tests/common/child_process.hpp"
#include "tests/integration/clinic_scenario.hpp"

#include "daemon/wire/events.hpp"
#include "daemon/store/sqlite_reader.hpp"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <regex>
#include <set>
#include <sstream>
#include <condition_variable>
#include <mutex>
#include <thread>

namespace vigil::test {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

constexpr int device_count = 3;

struct vigild_process : child_process {
  explicit vigild_process(std::vector<std::string> args) : child_process(VIGILD_PATH, std::move(args)) {}
};

// --- the clinic as the test models it -------------------------------------------------------

struct alarm_model {
  std::uint64_t id = 0;
  std::string rule;
  int kind = 0;
  int priority = 0;
  std::int64_t raised_at = 0;
  bool condition = true;
  bool acknowledged = false;
  std::string acknowledged_by;
  int tier = -1;
  std::string responder;
  double value = 0;
  std::string text;
  bool paused_through = false;  // sat through the end of a pause (high priority): stays audible in the next
};

struct session_model {
  std::uint64_t id = 0;
  std::string chair;
  std::string patient;
  std::string profile;
  int phase = 0;
  std::int64_t opened_at = 0;
  std::int64_t dose_at = 0;
  std::int64_t window_end = 0;
  std::int64_t paused_until = 0;
  std::vector<alarm_model> alarms;  // in the order raised
};

/// The clinic as a subscriber can know it: a snapshot, then events applied one by one as
/// docs/alarms.md says they change it.
struct clinic_model {
  std::map<std::string, session_model> sessions;  // by chair
  std::map<std::string, alarm_model> advisories;  // by chair

  static alarm_model alarm_of(const v1::AlarmState& a, bool paused) {
    alarm_model m;
    m.id = a.alarm_id();
    m.rule = a.rule();
    m.kind = a.kind();
    m.priority = a.priority();
    m.raised_at = a.raised_at_ms();
    m.condition = a.condition();
    m.acknowledged = a.acknowledged();
    m.acknowledged_by = a.acknowledged_by();
    m.tier = a.tier();
    m.responder = a.responder();
    m.value = a.value();
    m.text = a.text();
    // During a pause a high-priority alarm is audible only if it sat through an earlier one.
    m.paused_through = paused && a.audible();
    return m;
  }

  static clinic_model of(const v1::Snapshot& s) {
    clinic_model m;
    for (const auto& st : s.sessions()) {
      session_model sm;
      sm.id = st.session_id();
      sm.chair = st.chair_id();
      sm.patient = st.patient_ref();
      sm.profile = st.profile();
      sm.phase = st.phase();
      sm.opened_at = st.opened_at_ms();
      sm.dose_at = st.dose_at_ms();
      sm.window_end = st.window_end_ms();
      sm.paused_until = st.paused_until_ms();
      for (const auto& a : st.alarms()) sm.alarms.push_back(alarm_of(a, sm.paused_until != 0));
      m.sessions[sm.chair] = std::move(sm);
    }
    for (const auto& adv : s.advisories()) m.advisories[adv.chair_id()] = alarm_of(adv.alarm(), false);
    return m;
  }

  static alarm_model raised(const v1::TimelineEvent& e) {
    alarm_model a;
    a.id = e.alarm_id();
    a.rule = e.rule();
    a.kind = e.kind();
    a.priority = e.priority();
    a.raised_at = e.at_ms();
    a.value = e.value();
    a.text = e.text();
    return a;
  }

  alarm_model* find(session_model& s, std::uint64_t id) {
    for (auto& a : s.alarms) {
      if (a.id == id) return &a;
    }
    return nullptr;
  }

  void apply(const v1::TimelineEvent& e) {
    if (e.session_id() == 0) {
      // A chair streaming with no session: its no_session advisory.
      if (e.type() == v1::EVENT_TYPE_ALARM_RAISED) {
        advisories[e.chair_id()] = raised(e);
      } else if (e.type() == v1::EVENT_TYPE_ALARM_CLEARED) {
        advisories.erase(e.chair_id());
      } else if (e.type() == v1::EVENT_TYPE_ALARM_ACKNOWLEDGED) {
        if (auto it = advisories.find(e.chair_id()); it != advisories.end()) {
          it->second.acknowledged = true;
          it->second.acknowledged_by = e.who();
        }
      }
      return;
    }
    if (e.type() == v1::EVENT_TYPE_SESSION_OPENED) {
      session_model s;
      s.id = e.session_id();
      s.chair = e.chair_id();
      s.patient = e.patient_ref();
      s.profile = e.profile();
      s.phase = e.to_phase();
      s.opened_at = e.at_ms();
      sessions[s.chair] = s;
      advisories.erase(s.chair);
      return;
    }
    auto it = sessions.find(e.chair_id());
    if (it == sessions.end() || it->second.id != e.session_id()) return;
    auto& s = it->second;
    switch (e.type()) {
      case v1::EVENT_TYPE_PHASE_CHANGED:
        s.phase = e.to_phase();
        if (s.phase == v1::PHASE_CLOSED || s.phase == v1::PHASE_ABORTED) sessions.erase(it);
        return;
      case v1::EVENT_TYPE_DOSE_MARKED:
        s.dose_at = e.at_ms();
        s.window_end = e.until_ms();
        return;
      case v1::EVENT_TYPE_ALARM_RAISED: s.alarms.push_back(raised(e)); return;
      case v1::EVENT_TYPE_ALARM_ESCALATED:
        if (auto* a = find(s, e.alarm_id())) {
          a->tier = e.tier();
          a->responder = e.responder();
        }
        return;
      case v1::EVENT_TYPE_ALARM_ACKNOWLEDGED:
        if (auto* a = find(s, e.alarm_id())) {
          a->acknowledged = true;
          a->acknowledged_by = e.who();
        }
        return;
      case v1::EVENT_TYPE_ALARM_RESOUNDED:
        if (auto* a = find(s, e.alarm_id())) {
          a->acknowledged = false;
          a->tier = -1;
          a->responder.clear();
        }
        return;
      case v1::EVENT_TYPE_ALARM_CLEARED:
        std::erase_if(s.alarms, [&](const alarm_model& a) { return a.id == e.alarm_id(); });
        return;
      case v1::EVENT_TYPE_AUDIO_PAUSED: s.paused_until = e.until_ms(); return;
      case v1::EVENT_TYPE_AUDIO_RESUMED:
        // A pause that ran its course leaves the high-priority alarms it silenced audible in
        // the next one (alarms.md); one ended by a new high-priority alarm does not.
        if (e.text() == "audio pause ended") {
          for (auto& a : s.alarms) {
            if (a.priority == v1::PRIORITY_HIGH) a.paused_through = true;
          }
        }
        s.paused_until = 0;
        return;
      default: return;
    }
  }

  /// Everything a snapshot shows, one line per session and alarm.
  std::string text() const {
    std::string out;
    const auto alarm_line = [](const alarm_model& a, bool paused) {
      const bool audible = !a.acknowledged && (!paused || a.paused_through);
      return fmt::format("  alarm {} {} kind {} priority {} raised {} condition {} ack {} by '{}' tier {} '{}' audible {} "
                         "value {} text '{}'\n",
                         a.id, a.rule, a.kind, a.priority, a.raised_at, a.condition, a.acknowledged, a.acknowledged_by,
                         a.tier, a.responder, audible, a.value, a.text);
    };
    for (const auto& [chair, s] : sessions) {
      out += fmt::format("session {} chair {} patient {} profile {} phase {} opened {} dose {} window {} paused {}\n",
                         s.id, chair, s.patient, s.profile, s.phase, s.opened_at, s.dose_at, s.window_end,
                         s.paused_until);
      for (const auto& a : s.alarms) out += alarm_line(a, s.paused_until != 0);
    }
    for (const auto& [chair, a] : advisories) out += "advisory " + chair + "\n" + alarm_line(a, false);
    return out;
  }
};

// --- what the test saw --------------------------------------------------------------------------

struct received_event {
  v1::TimelineEvent event;
  int run = 0;
  bool replayed = false;  // sent as part of a resume (so committed before)
};

/// A kill with nothing in flight: the state just before it, just after the restart, and the
/// events published in between as a subscriber resuming from the first gets them.
struct idle_kill {
  int run = 0;  // the run that was killed
  v1::Snapshot before;
  v1::Snapshot after;
  bool lost = false;  // the newest event the state before reflected was lost in the kill
  std::vector<v1::TimelineEvent> between;
};

/// Resumes after the state before a kill and collects the events up to the state after. False
/// when the resume is refused because events the state before reflected were lost in the kill.
bool events_between(std::uint16_t feed_port, idle_kill& k) {
  feed_client feed(feed_port);
  v1::FeedRequest request;
  request.mutable_subscribe()->add_categories(v1::EVENT_CATEGORY_SESSIONS);
  request.mutable_subscribe()->add_categories(v1::EVENT_CATEGORY_ALARMS);
  request.mutable_subscribe()->add_categories(v1::EVENT_CATEGORY_NOTES);
  request.mutable_subscribe()->set_resume_after(k.before.last_event_id());
  feed.subscribe(request);
  while (auto m = feed.next_event()) {
    if (m->has_closing()) {
      EXPECT_EQ(m->closing().error(), v1::FEED_ERROR_RESUME_TOO_OLD) << m->closing().message();
      EXPECT_NE(m->closing().message().find("lost"), std::string::npos) << m->closing().message();
      k.lost = true;
      return false;
    }
    if (m->has_event() && m->event().event().event_id() <= k.after.last_event_id()) {
      k.between.push_back(m->event().event());
    }
    if (m->has_resumed()) {
      EXPECT_GE(m->resumed().last_event_id(), k.after.last_event_id());
      return true;
    }
  }
  ADD_FAILURE() << "the resume after " << k.before.last_event_id() << " never finished";
  return false;
}

/// The feed subscriber that follows the whole test, resuming after every restart. It reads on a
/// thread of its own the whole time, so it sees events as the daemon sends them, before they
/// are committed: events a kill then loses are seen too, which is what makes a reused id
/// visible. A resume is refused when the subscriber saw events that a kill lost (its state is
/// not the daemon's any more); it then starts again from a snapshot, which stands for what it
/// did not get as events.
class follower {
 public:
  struct fresh_start {
    std::uint64_t last_seen = 0;    // the resume point refused; 0 for a first subscription
    std::uint64_t snapshot_at = 0;  // the snapshot taken
  };

  ~follower() { stop(); }

  /// Subscribes (resuming after the last event seen) and reads on until the connection ends.
  void start(std::uint16_t port, int run) {
    stop();
    run_ = run;
    const std::uint64_t after = last_id();
    subscribe(port, after);
    auto first = feed_->next();
    ASSERT_TRUE(first) << "no answer to the subscription";
    if (after == 0) {
      // Nothing seen yet (the first run, or every earlier one killed before an event came): a
      // snapshot, which stands for every event before it.
      ASSERT_TRUE(first->has_snapshot());
      std::lock_guard lock(mutex_);
      snapshots_.push_back({0, first->snapshot().last_event_id()});
      last_id_ = first->snapshot().last_event_id();
    } else if (first->has_closing()) {
      EXPECT_EQ(first->closing().error(), v1::FEED_ERROR_RESUME_TOO_OLD) << first->closing().message();
      EXPECT_NE(first->closing().message().find("lost"), std::string::npos) << first->closing().message();
      subscribe(port, 0);
      auto snap = feed_->next();
      ASSERT_TRUE(snap && snap->has_snapshot());
      std::lock_guard lock(mutex_);
      snapshots_.push_back({after, snap->snapshot().last_event_id()});
      last_id_ = std::max(last_id_, snap->snapshot().last_event_id());
      resumed_ = true;
    } else {
      take(*first);
    }
    reader_ = std::thread([this] {
      while (auto m = feed_->next(std::chrono::hours(1))) {
        if (!take(*m)) break;
      }
    });
  }

  /// Waits for the reader to see the connection end (the daemon stopped or was killed).
  void stop() {
    if (reader_.joinable()) reader_.join();
  }

  /// Waits until an event with an id of at least `id` has come.
  bool catch_up(std::uint64_t id, std::chrono::milliseconds timeout = 10s) {
    std::unique_lock lock(mutex_);
    return seen_.wait_for(lock, timeout, [&] { return last_id_ >= id; });
  }

  std::uint64_t last_id() const {
    std::lock_guard lock(mutex_);
    return last_id_;
  }
  const std::vector<received_event>& events() const { return events_; }  // after stop()
  const std::vector<fresh_start>& snapshots() const { return snapshots_; }  // after stop()

 private:
  void subscribe(std::uint16_t port, std::uint64_t after) {
    feed_.emplace(port);
    v1::FeedRequest request;
    request.mutable_subscribe()->add_categories(v1::EVENT_CATEGORY_SESSIONS);
    request.mutable_subscribe()->add_categories(v1::EVENT_CATEGORY_ALARMS);
    request.mutable_subscribe()->add_categories(v1::EVENT_CATEGORY_NOTES);
    if (after > 0) request.mutable_subscribe()->set_resume_after(after);
    feed_->subscribe(request);
    resumed_ = after == 0;  // a first subscription gets a snapshot, no replay
  }

  bool take(const v1::FeedMessage& m) {
    std::lock_guard lock(mutex_);
    if (m.has_resumed()) {
      resumed_ = true;
    } else if (m.has_event()) {
      const auto& e = m.event().event();
      events_.push_back({e, run_, !resumed_});
      last_id_ = std::max(last_id_, e.event_id());
      seen_.notify_all();
    } else if (m.has_closing()) {
      if (m.closing().error() != v1::FEED_ERROR_SHUTTING_DOWN) {
        ADD_FAILURE() << "the follower was cut off: " << m.closing().message();
      }
      return false;
    }
    return true;
  }

  std::optional<feed_client> feed_;
  std::thread reader_;
  mutable std::mutex mutex_;
  std::condition_variable seen_;
  std::vector<received_event> events_;
  std::vector<fresh_start> snapshots_;
  std::uint64_t last_id_ = 0;
  bool resumed_ = false;
  int run_ = 0;
};

/// A fresh subscription's snapshot: the state, and the id of the newest event it reflects.
std::optional<v1::Snapshot> snapshot(std::uint16_t feed_port) {
  feed_client feed(feed_port);
  v1::FeedRequest request;
  request.mutable_subscribe()->add_categories(v1::EVENT_CATEGORY_SESSIONS);
  request.mutable_subscribe()->add_categories(v1::EVENT_CATEGORY_ALARMS);
  feed.subscribe(request);
  auto m = feed.next();
  if (!m || !m->has_snapshot()) return std::nullopt;
  return m->snapshot();
}

/// Four samples a batch (heart rate and SpO2, twice), each with its own time derived from the
/// seq, so the stored timeline shows each batch's presence and multiplicity exactly. The values
/// wander in and out of the crash profile's limits, and differ per device, so alarms are raised
/// and cleared all along on every chair.
v1::DeviceMessage vitals_batch(std::uint64_t seq, std::int64_t base_ms, int device, std::int64_t shift_ms = 0) {
  v1::DeviceMessage m;
  m.mutable_batch()->set_seq(seq);
  const std::uint64_t phase = seq + static_cast<std::uint64_t>(device) * 17;
  const bool fast = (phase / 37) % 2 == 1;
  const bool low = (phase / 53) % 3 == 0;
  for (int i = 0; i < 4; ++i) {
    auto& s = *m.mutable_batch()->add_samples();
    s.set_time_ms(base_ms + static_cast<std::int64_t>(seq) * 1000 + i * 250 + shift_ms);
    if (i % 2 == 0) {
      s.set_kind(v1::HEART_RATE);
      s.set_value(fast ? 131 : 78);
    } else {
      s.set_kind(v1::SPO2);
      s.set_value(low ? 89 : 97);
    }
  }
  return m;
}

fs::path write_file(const fs::path& path, const std::string& text) {
  std::ofstream(path) << text;
  return path;
}

/// The generic profile with every alarm delay at zero, so alarms follow the samples at once.
void write_crash_profile(const fs::path& dir) {
  std::ifstream in(fs::path(VIGIL_SOURCE_DIR) / "config" / "profiles" / "generic.yaml");
  std::stringstream text;
  text << in.rdbuf();
  std::string yaml = std::regex_replace(text.str(), std::regex(R"(delay_s: \d+)"), "delay_s: 0");
  yaml = std::regex_replace(yaml, std::regex(R"(name: [^\n]*)"), "name: Crash test", std::regex_constants::format_first_only);
  fs::create_directories(dir);
  write_file(dir / "crash.yaml", yaml);
}

std::string frame_of(v1::ControlRequest request) {
  request.set_token(operator_token);
  std::string frame;
  codec::append_frame(frame, request);
  return frame;
}

v1::ControlRequest open_on(const std::string& chair, const std::string& patient) {
  v1::ControlRequest r;
  r.mutable_open_session()->set_chair_id(chair);
  r.mutable_open_session()->set_patient_ref(patient);
  return r;
}

TEST(Crash, KilledAtRandomMomentsItLosesNothingAckedReusesNoIdAndResumesExactly) {
  const auto dir = fs::temp_directory_path() / ("vigil-crash-" + std::to_string(getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  write_crash_profile(dir / "profiles");
  const auto file = write_file(dir / "vigild.yaml",
                               "data_dir: data\nretention_days: 0\n"
                               "ingest:\n  port: 0\n  devices:\n    - id: 'dev-*'\n      token: integration-token\n"
                               "control:\n  port: 0\nfeed:\n  port: 0\nhttp:\n  port: 0\n"
                               "users:\n    - name: nurse-ana\n      role: admin\n      token: " +
                                   std::string(operator_token) +
                                   "\n"
                                   "engine:\n  profiles_dir: profiles\n  default_profile: crash\n"
                                   "log:\n  level: warn\n");
  const std::vector<std::string> args = {"--config", file.string(), "--log-level", "info"};
  const std::regex ingest_line(R"(listening for devices on 127\.0\.0\.1:(\d+))");
  const std::regex control_line(R"(listening for operators on 127\.0\.0\.1:(\d+))");
  const std::regex feed_line(R"(listening for feeds on 127\.0\.0\.1:(\d+))");

  const char* kills_env = std::getenv("VIGIL_CRASH_KILLS");
  const char* seed_env = std::getenv("VIGIL_CRASH_SEED");
  const int kills = kills_env ? std::max(1, std::atoi(kills_env)) : 20;
  const std::uint32_t seed = seed_env ? static_cast<std::uint32_t>(std::strtoul(seed_env, nullptr, 10)) : 20261206u;
  SCOPED_TRACE(fmt::format("VIGIL_CRASH_SEED={} VIGIL_CRASH_KILLS={}", seed, kills));
  std::mt19937 rng(seed);
  const auto chance = [&](int percent) { return static_cast<int>(rng() % 100) < percent; };
  const std::int64_t base = wall_ms();

  std::array<std::uint64_t, device_count> sent{};   // highest seq sent per device
  std::array<std::uint64_t, device_count> acked{};  // highest seq acked to us per device, over all runs
  std::map<std::uint64_t, std::string> sessions_answered;  // session id -> chair/patient, from the answers
  int patients = 0;
  follower follow;
  std::vector<idle_kill> idle;
  std::optional<v1::Snapshot> before;  // taken just before an idle kill
  int startup_kills = 0, idle_kills = 0, busy_kills = 0, command_kills = 0;

  for (int run = 0; run <= kills; ++run) {
    SCOPED_TRACE("run " + std::to_string(run));
    const bool last = run == kills;
    vigild_process p(args);

    // A kill during start-up: before, during or just after the recovery from the checkpoints.
    if (!last && run > 0 && chance(15)) {
      ++startup_kills;
      switch (rng() % 3) {
        case 0: break;  // at once
        case 1: std::this_thread::sleep_for(std::chrono::milliseconds(rng() % 30)); break;
        default: p.wait_line(ingest_line); break;  // recovered, not yet serving
      }
      p.signal(SIGKILL);
      p.wait_exit();
      continue;  // `before`, if any, is compared after the next full start
    }

    const auto port_of = [&](const std::regex& line) {
      const auto m = p.wait_line(line);
      return m.empty() ? std::uint16_t{0} : static_cast<std::uint16_t>(std::stoi(m[1].str()));
    };
    const auto device_port = port_of(ingest_line);
    const auto control_port = port_of(control_line);
    const auto feed_port = port_of(feed_line);
    ASSERT_TRUE(device_port != 0 && control_port != 0 && feed_port != 0) << p.output();

    // The restored state, before any monitor is back: compared at the end with the state before
    // the kill plus the events published in between.
    if (before) {
      auto after = snapshot(feed_port);
      ASSERT_TRUE(after) << p.output();
      idle_kill k{run - 1, *before, *after, false, {}};
      events_between(feed_port, k);
      idle.push_back(std::move(k));
      before.reset();
    }
    follow.start(feed_port, run);

    control_client ops(control_port);
    const auto open = [&](int chair) {
      const auto name = "chair-" + std::to_string(chair);
      const auto patient = "P-" + std::to_string(++patients);
      const auto r = ops.call(open_on(name, patient));
      ASSERT_TRUE(r) << p.output();
      ASSERT_EQ(r->error(), v1::CONTROL_ERROR_NONE) << r->message();
      const auto [it, added] = sessions_answered.emplace(r->session_id(), name + "/" + patient);
      EXPECT_TRUE(added) << "session id " << r->session_id() << " answered for " << name << "/" << patient
                         << " was given before to " << it->second;
    };
    if (run == 0) {
      for (int c = 1; c <= device_count; ++c) open(c);
    } else if (chance(20)) {
      // A patient leaves and the next one sits down.
      const int c = 1 + static_cast<int>(rng() % device_count);
      v1::ControlRequest close;
      close.mutable_close_session()->set_chair_id("chair-" + std::to_string(c));
      const auto r = ops.call(close);
      ASSERT_TRUE(r);
      if (r->error() == v1::CONTROL_ERROR_NONE || r->error() == v1::CONTROL_ERROR_NO_OPEN_SESSION) open(c);
    }

    // Every monitor resends what was not acked, then streams on, interleaved with the others so
    // that their batches share transactions.
    std::vector<std::unique_ptr<test_client>> monitors;
    std::array<std::uint64_t, device_count> target{};
    std::array<std::uint64_t, device_count> cursor{};  // the last seq sent in this run
    for (int d = 0; d < device_count; ++d) {
      monitors.push_back(std::make_unique<test_client>(device_port));
      const auto welcome = monitors[d]->hello("dev-" + std::to_string(d + 1), device_token, "chair-" + std::to_string(d + 1));
      ASSERT_TRUE(welcome && welcome->has_welcome()) << (welcome ? welcome->DebugString() : p.output());
      const std::uint64_t resume = welcome->welcome().acked_seq();
      ASSERT_GE(resume, acked[d]) << "dev-" << d + 1 << ": the daemon forgot a batch it had acked";
      ASSERT_LE(resume, sent[d]) << "dev-" << d + 1 << ": acked a batch never sent";
      acked[d] = resume;
      cursor[d] = resume;  // what was sent and not acked is sent again first
      target[d] = sent[d] + 10 + rng() % 100;
    }
    for (bool more = true; more;) {
      more = false;
      for (int d = 0; d < device_count; ++d) {
        const std::uint64_t to = std::min(target[d], cursor[d] + 1 + rng() % 8);
        for (std::uint64_t seq = cursor[d] + 1; seq <= to; ++seq) monitors[d]->send(vitals_batch(seq, base, d));
        cursor[d] = to;
        sent[d] = std::max(sent[d], to);
        more = more || cursor[d] < target[d];
      }
    }
    // Acks are cumulative: an ack already read may cover the seq waited for.
    const auto ensure_acked = [&](int d, std::uint64_t seq) {
      if (acked[d] < seq && !monitors[d]->wait_ack(seq)) return false;
      for (const auto a : monitors[d]->acks()) acked[d] = std::max(acked[d], a);
      return acked[d] >= seq;
    };
    // Wait for some acks only: the kill may fall with batches queued, in a transaction, or acked in flight.
    for (int d = 0; d < device_count; ++d) {
      const std::uint64_t lowest = acked[d] + 1;
      ASSERT_TRUE(ensure_acked(d, lowest + rng() % (sent[d] - acked[d]))) << p.output();
    }

    const auto active_alarm = [&]() -> std::optional<std::pair<std::string, std::uint64_t>> {
      v1::ControlRequest list;
      list.mutable_list_sessions();
      const auto r = ops.call(list);
      if (!r) return std::nullopt;
      std::vector<std::pair<std::string, std::uint64_t>> open_alarms;
      for (const auto& s : r->sessions()) {
        for (const auto& a : s.alarms()) {
          if (!a.acknowledged()) open_alarms.emplace_back(s.chair_id(), a.alarm_id());
        }
      }
      if (open_alarms.empty()) return std::nullopt;
      return open_alarms[rng() % open_alarms.size()];
    };
    const auto commands = [&]() {
      std::vector<v1::ControlRequest> out;
      if (const auto a = active_alarm(); a && chance(60)) {
        v1::ControlRequest ack;
        ack.mutable_acknowledge()->set_chair_id(a->first);
        ack.mutable_acknowledge()->set_alarm_id(a->second);
        out.push_back(ack);
      }
      if (chance(35)) {
        v1::ControlRequest pause;
        pause.mutable_pause_audio()->set_chair_id("chair-" + std::to_string(1 + rng() % device_count));
        pause.mutable_pause_audio()->set_duration_s(static_cast<std::uint32_t>(30 + rng() % 90));
        out.push_back(pause);
      }
      if (chance(30)) {
        v1::ControlRequest note;
        note.mutable_add_note()->set_chair_id("chair-" + std::to_string(1 + rng() % device_count));
        note.mutable_add_note()->set_text(fmt::format("run {} note", run));
        out.push_back(note);
      }
      return out;
    };

    if (last || chance(45)) {
      // Nothing in flight: every batch acked (so everything the engine saw is committed), the
      // nurse's commands answered and, behind one more batch each, committed too (the timeline
      // keeps their order).
      for (int d = 0; d < device_count; ++d) ASSERT_TRUE(ensure_acked(d, sent[d])) << p.output();
      for (auto& c : commands()) ASSERT_TRUE(ops.call(c)) << p.output();
      // Sometimes an audio pause whose end falls a few milliseconds after the chair's clock
      // stops: it ends during the downtime, and the restart publishes its end (the timer the
      // earlier crash test did not reason about, and failed on with VIGIL_CRASH_SEED=44).
      std::array<std::int64_t, device_count> shift{};
      if (chance(30)) {
        const int d = static_cast<int>(rng() % device_count);
        const std::uint32_t seconds = 2 + static_cast<std::uint32_t>(rng() % 4);
        v1::ControlRequest pause;
        pause.mutable_pause_audio()->set_chair_id("chair-" + std::to_string(d + 1));
        pause.mutable_pause_audio()->set_duration_s(seconds);
        ASSERT_TRUE(ops.call(pause));
        // The next batch's last sample lands a few milliseconds before the pause's end, which
        // the restart's downtime then passes.
        shift[d] = static_cast<std::int64_t>(seconds) * 1000 - 1000 - 3;
      }
      for (int d = 0; d < device_count; ++d) monitors[d]->send(vitals_batch(++sent[d], base, d, shift[d]));
      for (int d = 0; d < device_count; ++d) ASSERT_TRUE(ensure_acked(d, sent[d])) << p.output();
      before = snapshot(feed_port);
      ASSERT_TRUE(before);
      ASSERT_TRUE(follow.catch_up(before->last_event_id()));
      if (!last) ++idle_kills;
    } else if (chance(50)) {
      // Commands in flight: sent, not answered, when the kill comes.
      ++command_kills;
      std::string frames;
      for (auto& c : commands()) frames += frame_of(c);
      if (chance(50)) {
        const int c = 1 + static_cast<int>(rng() % device_count);
        v1::ControlRequest close;
        close.mutable_close_session()->set_chair_id("chair-" + std::to_string(c));
        frames += frame_of(close);
        frames += frame_of(open_on("chair-" + std::to_string(c), "P-" + std::to_string(++patients)));
      }
      if (!frames.empty()) ops.send_raw(frames);
    } else {
      ++busy_kills;  // mid-stream: batches queued, in a transaction, or acked in flight
    }

    if (last) {
      p.signal(SIGTERM);
      follow.stop();
      EXPECT_EQ(p.wait_exit(), 0) << p.output();
      // The stop's own events are published after the snapshot: the state to compare with the
      // next start is taken from the events, as for any other gap.
    } else {
      p.signal(SIGKILL);
      p.wait_exit();
      follow.stop();  // everything the daemon sent before it died
    }
  }
  // The graceful stop committed everything: one more start reads the same state back (plus
  // what the restart itself published, which the subscriber resumes into).
  {
    vigild_process p(args);
    const auto m = p.wait_line(feed_line);
    ASSERT_FALSE(m.empty()) << p.output();
    const auto port = static_cast<std::uint16_t>(std::stoi(m[1].str()));
    auto after = snapshot(port);
    ASSERT_TRUE(after && before);
    idle_kill k{kills, *before, *after, false, {}};
    EXPECT_TRUE(events_between(port, k)) << "a clean stop loses nothing";
    idle.push_back(std::move(k));
    follow.start(port, kills + 1);
    ASSERT_TRUE(follow.catch_up(after->last_event_id()));
    p.signal(SIGTERM);
    follow.stop();
    EXPECT_EQ(p.wait_exit(), 0) << p.output();
  }
  std::printf("crash test: %d kills (%d at start-up, %d idle, %d mid-stream, %d with commands in flight), %zu events "
              "followed, %zu states compared\n",
              kills, startup_kills, idle_kills, busy_kills, command_kills, follow.events().size(), idle.size());

  store::sqlite_reader reader((dir / "data" / "timeline.db").string());

  // Nothing acked is lost, nothing is stored twice: each device's samples, over all the sessions
  // of its chair and the times it had none.
  std::map<std::string, std::vector<std::int64_t>> times;  // chair -> sample times
  for (const auto& s : reader.session_vitals(0)) times[s.chair_id].push_back(s.sample.time_ms);
  for (const auto& summary : reader.sessions()) {
    for (const auto& s : reader.session_vitals(summary.id)) times[s.chair_id].push_back(s.sample.time_ms);
  }
  const auto seqs = reader.device_seqs();
  for (int d = 0; d < device_count; ++d) {
    const auto chair = "chair-" + std::to_string(d + 1);
    auto& t = times[chair];
    std::sort(t.begin(), t.end());
    EXPECT_EQ(std::adjacent_find(t.begin(), t.end()), t.end()) << chair << ": a sample stored twice";
    EXPECT_EQ(t.size(), acked[d] * 4) << chair << ": every acked batch's four samples, once";
    EXPECT_EQ(seqs.at("dev-" + std::to_string(d + 1)), acked[d]);
  }

  // No id names two things; the subscriber got every committed event once, as committed.
  std::map<std::uint64_t, std::string> received;  // event id -> the event as received
  std::map<std::uint64_t, std::string> alarms;    // alarm id -> what was raised under it
  std::map<std::uint64_t, std::string> session_ids;
  for (const auto& r : follow.events()) {
    const auto text = r.event.SerializeAsString();
    const auto [it, added] = received.emplace(r.event.event_id(), text);
    EXPECT_TRUE(added) << "event " << r.event.event_id() << " received twice" << (it->second == text ? "" : ", as two different events");
    if (r.event.type() == v1::EVENT_TYPE_ALARM_RAISED) {
      const auto what = fmt::format("{} session {} {} at {}", r.event.chair_id(), r.event.session_id(), r.event.rule(),
                                    r.event.at_ms());
      const auto [a, fresh] = alarms.emplace(r.event.alarm_id(), what);
      EXPECT_TRUE(fresh) << "alarm id " << r.event.alarm_id() << " named " << a->second << " and " << what;
    }
    if (r.event.type() == v1::EVENT_TYPE_SESSION_OPENED) {
      const auto what = r.event.chair_id() + "/" + r.event.patient_ref();
      const auto [s, fresh] = session_ids.emplace(r.event.session_id(), what);
      EXPECT_TRUE(fresh) << "session id " << r.event.session_id() << " named " << s->second << " and " << what;
      const auto answered = sessions_answered.find(r.event.session_id());
      if (answered != sessions_answered.end()) {
        EXPECT_EQ(answered->second, what) << "session " << r.event.session_id();
      }
    }
  }
  const auto stored = reader.events_after(0, std::numeric_limits<std::size_t>::max());
  std::set<std::uint64_t> committed;
  for (const auto& e : stored) committed.insert(e.id);
  // A refused resume is right only for a subscriber that saw an event the kill lost; the snapshot
  // it took instead stands for the saved events it had not seen.
  std::vector<std::pair<std::uint64_t, std::uint64_t>> covered;  // (after, through]
  std::size_t refused = 0;
  for (const auto& r : follow.snapshots()) {
    if (r.last_seen != 0) ++refused;
    EXPECT_FALSE(committed.contains(r.last_seen)) << "the resume after " << r.last_seen << " was refused though it was saved";
    auto below = committed.lower_bound(r.last_seen);
    const std::uint64_t saved_seen = below == committed.begin() ? 0 : *std::prev(below);
    covered.emplace_back(saved_seen, r.snapshot_at);
  }
  for (const auto& e : stored) {
    const auto it = received.find(e.id);
    if (it == received.end()) {
      const bool in_snapshot = std::any_of(covered.begin(), covered.end(),
                                           [&](const auto& c) { return e.id > c.first && e.id <= c.second; });
      if (!in_snapshot) {
        ADD_FAILURE() << "committed event " << e.id << " (" << engine::name(e.type) << " on " << e.chair
                      << ") never reached the resuming subscriber";
      }
      continue;
    }
    EXPECT_EQ(it->second, wire::to_proto(e).SerializeAsString()) << "event " << e.id << " committed as another event";
  }
  for (const auto& r : follow.events()) {
    if (r.replayed) {
      EXPECT_TRUE(committed.contains(r.event.event_id())) << "a replayed event that is not in the timeline";
    }
  }
  EXPECT_GE(alarms.size(), 3u) << "the streams must actually raise alarms";

  // After each kill with nothing in flight: the state after = the state before + exactly the
  // events published in between, as a subscriber resuming from the state before gets them. A
  // kill that lost an event the state before reflected (a timer that fired between the snapshot
  // and the kill, not yet saved) leaves nothing to compare: the daemon was right to forget it.
  std::size_t compared = 0;
  for (const auto& k : idle) {
    SCOPED_TRACE("the kill of run " + std::to_string(k.run));
    if (k.lost) {
      EXPECT_FALSE(committed.contains(k.before.last_event_id()));
      continue;
    }
    ++compared;
    auto model = clinic_model::of(k.before);
    std::string applied;
    for (const auto& e : k.between) {
      model.apply(e);
      applied += fmt::format("  event {} {} {} {}\n", e.event_id(), v1::EventType_Name(e.type()), e.chair_id(), e.text());
    }
    EXPECT_EQ(clinic_model::of(k.after).text(), model.text()) << "events between:\n" << applied;
  }
  EXPECT_GE(compared * 2, idle.size()) << "most kills with nothing in flight are compared";
  std::size_t timers = 0;  // timer events the restarts published (downtime reasoned about)
  for (const auto& k : idle) {
    for (const auto& e : k.between) {
      timers += e.type() == v1::EVENT_TYPE_AUDIO_RESUMED || e.type() == v1::EVENT_TYPE_ALARM_ESCALATED ||
                e.type() == v1::EVENT_TYPE_ALARM_RESOUNDED;
    }
  }
  std::printf("crash test: %zu of %zu states after a kill with nothing in flight compared, across %zu timer events "
              "published between; %zu resumes refused for lost events\n",
              compared, idle.size(), timers, refused);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace vigil::test
