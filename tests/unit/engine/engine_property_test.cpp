// Property tests for the alarm engine over random input streams (seeded std::mt19937, so
// every failure names the seed that reproduces it). Each stream mixes samples of every kind
// and quality, duplicates and out-of-order samples, device (dis)connections and operator
// commands on one or two chairs. Properties:
//   1. never two active alarms for one rule in one session (one no_session advisory per chair);
//   2. every alarm raised is, at every moment and at the end, either cleared or active in
//      session(); every cleared/acknowledged/escalated/re-sounded event refers to an active alarm;
//   3. the events do not depend on how advance() calls are interleaved with the input, as long
//      as no advance goes past the next input's time, nor reaches the next sample's time (a
//      sample goes before the timers due at its own time): no intermediate advance at all, an
//      advance before every input, and random chunkings (global and per chair) all agree;
//   4. replay speed does not matter: advancing in 1 s ticks and in 100 ms ticks agree;
//   5. a restart changes nothing: replacing the engine at random moments by a fresh one
//      restored from the latest checkpoint of every chair that changed gives the same events.
// Most streams come from one source per chair; some from two (a monitor and an oximeter on
// the same chair, each with its own ordering, conditions and checkpointed state).
// One-chair streams are compared field by field, ids included. In two-chair streams the ids
// come from counters shared by the chairs and the chairs' events interleave differently with
// lazier clocks, so each chair's events are compared with ids renumbered per chair.

#include "tests/unit/engine/engine_fixture.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <iostream>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

namespace vigil::engine::testing {
namespace {

constexpr millis s_ = seconds_ms;
constexpr millis min_ = minutes_ms;

// --- profiles ------------------------------------------------------------------------------------

/// Short timers and one rule of every shape, so a 20-minute stream exercises everything.
profile busy_profile() {
  auto p = quiet_profile("busy");
  auto rule = [](std::string id, vital_kind kind, std::optional<double> low, std::optional<double> high, priority level,
                 millis delay, double hysteresis, bool latching) {
    limit_rule r;
    r.id = std::move(id);
    r.kind = kind;
    r.low = low;
    r.high = high;
    r.level = level;
    r.delay_ms = delay;
    r.hysteresis = hysteresis;
    r.latching = latching;
    return r;
  };
  const auto none = std::nullopt;
  p.limits = {
      rule("hr_high", vital_kind::heart_rate, none, 110, priority::medium, 20 * s_, 5, false),
      rule("hr_critical", vital_kind::heart_rate, none, 140, priority::high, 5 * s_, 5, true),
      rule("hr_low", vital_kind::heart_rate, 50, none, priority::medium, 10 * s_, 3, false),
      rule("pulse_band", vital_kind::pulse_rate, 45, 125, priority::low, 10 * s_, 2, false),
      rule("spo2_low", vital_kind::spo2, 92, none, priority::medium, 15 * s_, 1, false),
      rule("spo2_critical", vital_kind::spo2, 85, none, priority::high, 5 * s_, 1, true),
      rule("systolic_high", vital_kind::nibp_systolic, none, 170, priority::high, 0, 5, true),
      rule("systolic_severe", vital_kind::nibp_systolic, none, 200, priority::high, 0, 5, true),
      rule("systolic_low", vital_kind::nibp_systolic, 90, none, priority::medium, 0, 5, false),
      rule("systolic_rise", vital_kind::nibp_systolic, none, 30, priority::medium, 0, 5, false),
      rule("diastolic_rise", vital_kind::nibp_diastolic, none, 20, priority::medium, 30 * s_, 3, false),
      rule("mean_low", vital_kind::nibp_mean, 60, none, priority::medium, 0, 2, false),
      rule("rr_low", vital_kind::respiratory_rate, 8, none, priority::high, 10 * s_, 1, true),
      rule("rr_high", vital_kind::respiratory_rate, none, 26, priority::medium, 30 * s_, 2, false),
  };
  p.limits[6].confirm_readings = 2;
  p.limits[6].confirm_within_ms = 5 * min_;
  for (auto* r : {&p.limits[9], &p.limits[10]}) {
    r->relative = true;
    r->phases = {phase::observation, phase::ready};
  }
  p.limits[11].phases = {phase::observation};  // dropped when the session becomes ready
  p.baseline_window_ms = 3 * min_;
  p.predose.require_reading = true;
  p.news2.enabled = true;
  p.news2.delay_ms = 20 * s_;
  p.technical.stale_after_ms = 20 * s_;
  p.technical.sensor_off_delay_ms = 5 * s_;
  p.technical.cuff_interval_ms = 8 * min_;
  p.technical.post_dose_check_ms = 12 * min_;
  p.technical.cuff_grace_ms = 2 * min_;
  p.technical.disconnected_after_ms = 5 * s_;
  p.discharge.observation_ms = 10 * min_;
  p.discharge.hold_ms = 2 * min_;
  p.discharge.bp_band_percent = 25;
  p.audio.max_pause_ms = 60 * s_;
  p.audio.ack_silence_ms = 45 * s_;
  p.escalation_high = {{"nurse", 0}, {"charge_nurse", 20 * s_}, {"physician", 60 * s_}};
  p.escalation_medium = {{"nurse", 0}, {"charge_nurse", 90 * s_}};
  p.escalation_low = {{"nurse", 30 * s_}};
  return p;
}

std::vector<profile> property_profiles() { return {busy_profile(), generic_profile()}; }

// --- random input streams ------------------------------------------------------------------------

enum class input_kind { sample, device, open, close, dose, ack, pause, override_dose };

struct input {
  input_kind what = input_kind::sample;
  std::string chair;
  millis at = 0;  // when it happens; a bad sample's own timestamp may be older
  model::vital_sample s;
  bool flag = false;          // device: connected; close: abort
  std::string text;           // open: profile; close/override: reason
  std::uint32_t pick = 0;     // ack: which active alarm
  millis duration = 0;        // pause
  std::string ack_rule;       // ack: resolved by the reference run ("" = an unknown alarm)
  std::string source;         // sample: the device that sent it
};

struct stream {
  std::uint32_t seed = 0;
  std::vector<std::string> chairs;
  std::vector<input> inputs;
  millis end = 0;
};

double uniform(std::mt19937& rng, double lo, double hi) { return std::uniform_real_distribution<double>(lo, hi)(rng); }
millis uniform_ms(std::mt19937& rng, millis lo, millis hi) { return std::uniform_int_distribution<millis>(lo, hi)(rng); }
bool chance(std::mt19937& rng, double p) { return std::bernoulli_distribution(p)(rng); }

double value_for(std::mt19937& rng, vital_kind kind, bool calm) {
  const bool normal = chance(rng, calm ? 0.995 : 0.7);
  double v = 0;
  switch (kind) {
    case vital_kind::heart_rate:
    case vital_kind::pulse_rate: v = normal ? uniform(rng, 60, 100) : uniform(rng, 30, 180); break;
    case vital_kind::spo2: v = normal ? uniform(rng, 94, 100) : uniform(rng, 70, 100); break;
    case vital_kind::nibp_systolic: v = normal ? uniform(rng, 110, 135) : uniform(rng, 70, 230); break;
    case vital_kind::nibp_diastolic: v = normal ? uniform(rng, 70, 85) : uniform(rng, 40, 140); break;
    case vital_kind::nibp_mean: v = normal ? uniform(rng, 80, 95) : uniform(rng, 40, 120); break;
    case vital_kind::respiratory_rate: v = normal ? uniform(rng, 12, 20) : uniform(rng, 2, 40); break;
  }
  // Mostly whole numbers (as monitors send them), sometimes one decimal.
  return chance(rng, 0.8) ? static_cast<double>(static_cast<int>(v)) : static_cast<double>(static_cast<int>(v * 10)) / 10;
}

std::uint32_t quality_for(std::mt19937& rng, bool calm) {
  const double r = uniform(rng, 0, 1);
  if (calm) return r < 0.99 ? quality::ok : quality::artifact;
  if (r < 0.80) return quality::ok;
  if (r < 0.87) return quality::artifact;
  if (r < 0.94) return quality::sensor_off;
  if (r < 0.97) return quality::implausible;
  return quality::low_perfusion;
}

vital_kind kind_for(std::mt19937& rng) {
  static const vital_kind kinds[] = {vital_kind::heart_rate, vital_kind::heart_rate,     vital_kind::spo2,
                                     vital_kind::spo2,       vital_kind::respiratory_rate, vital_kind::pulse_rate,
                                     vital_kind::nibp_systolic, vital_kind::nibp_diastolic, vital_kind::nibp_mean};
  return kinds[std::uniform_int_distribution<std::size_t>(0, std::size(kinds) - 1)(rng)];
}

/// A calm stream is a mostly quiet session (normal values, clean samples, no long gaps, few
/// disruptive commands), so that sessions reach "ready" and fall back from it.
stream make_stream(std::uint32_t seed, int chair_count, int length, bool calm = false, int sources = 1) {
  std::mt19937 rng(seed);
  stream st;
  st.seed = seed;
  for (int i = 0; i < chair_count; ++i) st.chairs.push_back("chair-" + std::to_string(i + 1));
  // Latest regular sample time per chair, source and kind.
  std::map<std::tuple<std::string, std::string, vital_kind>, millis> last;

  millis now = t0;
  auto push = [&](input in) {
    in.at = now;
    st.inputs.push_back(std::move(in));
  };
  for (const auto& c : st.chairs) {
    if (chance(rng, 0.85)) {
      input d;
      d.what = input_kind::device;
      d.chair = c;
      d.flag = true;
      push(d);
    }
    if (calm) {
      input d;
      d.what = input_kind::device;
      d.chair = c;
      d.flag = true;
      push(d);
    }
    if (calm || chance(rng, 0.8)) {
      input o;
      o.what = input_kind::open;
      o.chair = c;
      o.text = calm || chance(rng, 0.75) ? "busy" : "generic";
      push(o);
    }
  }
  for (int i = 0; i < length; ++i) {
    const double g = uniform(rng, 0, 1);
    if (calm && i == length / 6) {
      // The calm session is dosed early (passing the pre-dose gate whatever the readings were).
      for (const auto& c : st.chairs) {
        input o;
        o.what = input_kind::override_dose;
        o.chair = c;
        o.text = "reviewed";
        push(o);
        input d;
        d.what = input_kind::dose;
        d.chair = c;
        push(d);
      }
    }
    if (calm) {
      now += g < 0.0005 ? uniform_ms(rng, 20 * s_, 40 * s_) : uniform_ms(rng, 0, 1500);
    } else if (g < 0.04) {
      now += uniform_ms(rng, 20 * s_, 90 * s_);  // long enough for stale streams
    } else if (g < 0.05) {
      now += uniform_ms(rng, 2 * min_, 6 * min_);
    } else if (g > 0.9) {
      // same millisecond as the previous input
    } else {
      now += uniform_ms(rng, 1, 4 * s_);
    }
    input in;
    in.chair = st.chairs[std::uniform_int_distribution<std::size_t>(0, st.chairs.size() - 1)(rng)];
    double a = uniform(rng, 0, 1);
    if (calm && (a >= 0.93 || (a >= 0.86 && a < 0.89 && !chance(rng, 0.02)))) a = 0;  // acks, rare doses
    if (a < 0.86) {
      in.what = input_kind::sample;
      // One source draws nothing from the generator, so one-source streams stay as they were.
      if (sources > 1) in.source = "device-" + std::to_string(std::uniform_int_distribution<int>(1, sources)(rng));
      const auto kind = kind_for(rng);
      in.s = sample(kind, value_for(rng, kind, calm), now, quality_for(rng, calm));
      auto it = last.find({in.chair, in.source, kind});
      const double b = uniform(rng, 0, 1);
      if (it != last.end() && b < 0.03) {
        in.s.time_ms = it->second;  // duplicate
      } else if (it != last.end() && b < 0.06) {
        in.s.time_ms = it->second - uniform_ms(rng, 1, 60 * s_);  // out of order
      } else {
        last[{in.chair, in.source, kind}] = now;
      }
    } else if (a < 0.89) {
      in.what = input_kind::dose;
    } else if (a < 0.93) {
      in.what = input_kind::ack;
      in.pick = std::uniform_int_distribution<std::uint32_t>(0, 1000)(rng);
    } else if (a < 0.945) {
      in.what = input_kind::pause;
      in.duration = chance(rng, 0.8) ? uniform_ms(rng, 1 * s_, 60 * s_) : uniform_ms(rng, -1 * s_, 3 * min_);
    } else if (a < 0.955) {
      in.what = input_kind::override_dose;
      in.text = chance(rng, 0.8) ? "reviewed by physician" : "";
    } else if (a < 0.975) {
      in.what = input_kind::device;
      in.flag = chance(rng, 0.6);
    } else if (a < 0.985) {
      in.what = input_kind::close;
      in.flag = chance(rng, 0.4);
      in.text = in.flag && chance(rng, 0.3) ? "" : "patient request";
    } else {
      in.what = input_kind::open;
      in.text = chance(rng, 0.75) ? "busy" : (chance(rng, 0.9) ? "generic" : "no-such-profile");
    }
    push(in);
  }
  st.end = now + 15 * min_;  // let every pending timer fire
  return st;
}

// --- invariants ---------------------------------------------------------------------------------

/// Follows the event stream of one run and checks properties 1 and 2 as it goes.
class checker {
 public:
  explicit checker(std::vector<std::string> chairs) : chairs_(std::move(chairs)) {}

  void consume(const std::vector<event>& events, const engine& eng) {
    for (const auto& e : events) on_event(e);
    for (const auto& c : chairs_) compare_view(c, eng);
  }

  void finish(const engine& eng) {
    for (const auto& c : chairs_) compare_view(c, eng);
    // Every alarm still tracked as active is visible in its chair's session (advisories
    // outside a session have no session to be visible in).
    std::set<std::uint64_t> visible;
    for (const auto& v : eng.sessions()) {
      for (const auto& a : v.alarms) visible.insert(a.id);
    }
    for (const auto& [id, a] : active_) {
      if (a.session != 0 && visible.count(id) == 0) fail("alarm " + std::to_string(id) + " (" + a.rule + ") neither cleared nor active");
    }
  }

  bool ok() const { return failures_.empty(); }
  const std::string& failures() const { return failures_; }
  std::size_t raised() const { return raised_; }

 private:
  struct tracked {
    std::string chair;
    std::uint64_t session = 0;
    std::string rule;
    int tier = -1;
    bool acknowledged = false;
  };

  void fail(const std::string& why) {
    if (failures_.size() < 4000) failures_ += why + "\n";
  }

  void on_event(const event& e) {
    auto& last = last_at_[e.chair];
    if (e.at < last) fail("time went backwards on " + e.chair + ": " + describe(e));
    last = e.at;
    switch (e.type) {
      case event_type::alarm_raised: {
        ++raised_;
        if (!seen_.insert(e.alarm).second) fail("alarm id raised twice: " + describe(e));
        for (const auto& [id, a] : active_) {
          if (a.chair == e.chair && a.session == e.session && a.rule == e.rule) {
            fail("two active alarms for one rule: " + std::to_string(id) + " and " + describe(e));
          }
        }
        active_[e.alarm] = tracked{e.chair, e.session, e.rule, -1, false};
        break;
      }
      case event_type::alarm_cleared: {
        if (active_.erase(e.alarm) == 0) fail("cleared an alarm that is not active: " + describe(e));
        break;
      }
      case event_type::alarm_acknowledged: {
        auto it = active_.find(e.alarm);
        if (it == active_.end()) {
          fail("acknowledged an alarm that is not active: " + describe(e));
        } else {
          it->second.acknowledged = true;
          if (e.who.empty()) fail("acknowledgement without who: " + describe(e));
        }
        break;
      }
      case event_type::alarm_escalated: {
        auto it = active_.find(e.alarm);
        if (it == active_.end()) {
          fail("escalated an alarm that is not active: " + describe(e));
        } else {
          if (it->second.acknowledged) fail("escalated an acknowledged alarm: " + describe(e));
          if (e.tier != it->second.tier + 1) fail("escalation skipped a tier: " + describe(e));
          it->second.tier = e.tier;
        }
        break;
      }
      case event_type::alarm_resounded: {
        auto it = active_.find(e.alarm);
        if (it == active_.end()) {
          fail("re-sounded an alarm that is not active: " + describe(e));
        } else {
          if (!it->second.acknowledged) fail("re-sounded an alarm that was not acknowledged: " + describe(e));
          it->second.acknowledged = false;
          it->second.tier = -1;
        }
        break;
      }
      case event_type::session_closed: {
        for (const auto& [id, a] : active_) {
          if (a.session == e.session && a.session != 0) fail("alarm " + std::to_string(id) + " survives its session's close");
        }
        break;
      }
      default: break;
    }
  }

  void compare_view(const std::string& chair, const engine& eng) {
    const auto v = eng.session(chair);
    std::set<std::uint64_t> expected;
    for (const auto& [id, a] : active_) {
      if (a.chair == chair && a.session != 0) {
        if (!v || a.session != v->id) {
          fail("alarm " + std::to_string(id) + " of a session no longer open is still active");
        } else {
          expected.insert(id);
        }
      }
    }
    std::set<std::uint64_t> shown;
    if (v && v->current == phase::ready && !v->alarms.empty()) {
      fail("session " + std::to_string(v->id) + " is ready for discharge with " + std::to_string(v->alarms.size()) +
           " active alarm(s), e.g. " + v->alarms.front().rule);
    }
    if (v) {
      std::set<std::string> rules;
      const bool paused = v->paused_until != 0;
      for (const auto& a : v->alarms) {
        shown.insert(a.id);
        if (!rules.insert(a.rule).second) fail("two active " + a.rule + " alarms in session " + std::to_string(v->id));
        // Only a high-priority alarm that already sat through a whole pause may sound during another.
        if (paused && a.audible && a.level != priority::high) {
          fail("alarm " + std::to_string(a.id) + " audible during an audio pause");
        }
        if (a.acknowledged && a.audible) fail("alarm " + std::to_string(a.id) + " audible although acknowledged");
        auto it = active_.find(a.id);
        if (it != active_.end() && it->second.acknowledged != a.acknowledged) {
          fail("alarm " + std::to_string(a.id) + " acknowledged state differs between events and view");
        }
      }
    }
    if (shown != expected) {
      std::ostringstream os;
      os << "session view of " << chair << " shows " << shown.size() << " alarms, events say " << expected.size();
      fail(os.str());
    }
  }

  std::vector<std::string> chairs_;
  std::map<std::uint64_t, tracked> active_;
  std::set<std::uint64_t> seen_;
  std::map<std::string, millis> last_at_;
  std::string failures_;
  std::size_t raised_ = 0;
};

// --- running a stream ----------------------------------------------------------------------------

enum class policy { reference, lazy, chunks, per_chair_chunks, tick_1s, tick_100ms, restarts };

const char* policy_name(policy p) {
  switch (p) {
    case policy::reference: return "advance before every input";
    case policy::lazy: return "no intermediate advance";
    case policy::chunks: return "random global advances";
    case policy::per_chair_chunks: return "random per-chair advances";
    case policy::tick_1s: return "1 s ticks";
    case policy::tick_100ms: return "100 ms ticks";
    case policy::restarts: return "restarts from checkpoints";
  }
  return "?";
}

struct run_result {
  std::vector<event> events;
  checker check;
  std::size_t outcomes[std::tuple_size_v<engine::outcome_counts>] = {};
};

void apply(engine& eng, input& in, std::vector<event>& events, bool resolve, std::map<std::string, std::uint64_t>& advisories,
           run_result& out) {
  switch (in.what) {
    case input_kind::sample:
      ++out.outcomes[static_cast<std::size_t>(eng.on_sample(in.chair, in.s, in.source))];
      break;
    case input_kind::device: eng.on_device(in.chair, in.flag, in.at); break;
    case input_kind::open: eng.apply(open_session{in.chair, "patient", in.text, "nurse"}, in.at); break;
    case input_kind::close: eng.apply(close_session{in.chair, "nurse", in.flag, in.text}, in.at); break;
    case input_kind::dose: eng.apply(mark_dose{in.chair, "im", "0.5 mg/kg", "dr"}, in.at); break;
    case input_kind::pause: eng.apply(pause_audio{in.chair, in.duration, "nurse"}, in.at); break;
    case input_kind::override_dose: eng.apply(override_predose{in.chair, "dr", in.text}, in.at); break;
    case input_kind::ack: {
      // Acknowledging advances the chair to `at` first; doing it explicitly here changes
      // nothing and lets the target be looked up in the state the command will see.
      eng.advance(in.chair, in.at);
      auto fresh = eng.take_events();
      for (const auto& e : fresh) {
        if (e.rule == "no_session" && e.type == event_type::alarm_raised) advisories[e.chair] = e.alarm;
        if (e.rule == "no_session" && e.type == event_type::alarm_cleared) advisories.erase(e.chair);
      }
      out.check.consume(fresh, eng);
      events.insert(events.end(), fresh.begin(), fresh.end());
      const auto v = eng.session(in.chair);
      if (resolve) {
        in.ack_rule.clear();
        if (in.pick % 9 == 0 && advisories.count(in.chair) != 0) {
          in.ack_rule = "no_session";
        } else if (v && !v->alarms.empty() && in.pick % 9 != 1) {
          in.ack_rule = v->alarms[in.pick % v->alarms.size()].rule;
        }
      }
      std::uint64_t id = 999'999'999;  // unknown
      if (in.ack_rule == "no_session") {
        if (auto it = advisories.find(in.chair); it != advisories.end()) id = it->second;
      } else if (v && !in.ack_rule.empty()) {
        for (const auto& a : v->alarms) {
          if (a.rule == in.ack_rule) id = a.id;
        }
      }
      eng.apply(acknowledge{in.chair, id, in.pick % 17 == 0 ? "" : "nurse"}, in.at);
      break;
    }
  }
}

run_result run(stream& st, policy pol, bool resolve) {
  engine eng(property_profiles());
  run_result out{{}, checker(st.chairs), {}};
  std::mt19937 rng(st.seed ^ 0x9e3779b9u);
  std::map<std::string, std::uint64_t> advisories;
  std::map<std::string, std::string> checkpoints;  // the latest of every chair, as the daemon stores them
  const millis step = pol == policy::tick_1s ? 1 * s_ : 100;
  millis tick = st.inputs.empty() ? t0 : st.inputs.front().at;
  millis prev = tick;

  auto collect = [&] {
    auto fresh = eng.take_events();
    for (const auto& e : fresh) {
      if (e.rule == "no_session" && e.type == event_type::alarm_raised) advisories[e.chair] = e.alarm;
      if (e.rule == "no_session" && e.type == event_type::alarm_cleared) advisories.erase(e.chair);
    }
    out.check.consume(fresh, eng);
    out.events.insert(out.events.end(), fresh.begin(), fresh.end());
    if (pol == policy::restarts) {
      for (const auto& chair : eng.take_changed()) checkpoints[chair] = eng.checkpoint(chair);
    }
  };

  for (auto& in : st.inputs) {
    if (pol == policy::restarts && chance(rng, 0.03)) {
      eng = engine(property_profiles());
      for (const auto& [chair, data] : checkpoints) {
        const auto r = eng.restore(data, "busy");
        EXPECT_TRUE(r.restored && r.chair == chair && r.message.empty()) << chair << ": " << r.message;
      }
    }
    // A sample is applied before the timers due at its own time (alarms.md 2.3), so advances
    // stop short of a sample's time; a command or device event advances to its time itself.
    const millis reach = in.what == input_kind::sample ? std::max(prev, in.at - 1) : in.at;
    switch (pol) {
      case policy::reference:
      case policy::restarts: eng.advance(reach); break;
      case policy::lazy: break;
      case policy::chunks:
        if (chance(rng, 0.4)) eng.advance(uniform_ms(rng, prev, reach));
        if (chance(rng, 0.2)) eng.advance(reach);
        break;
      case policy::per_chair_chunks:
        if (chance(rng, 0.5)) {
          const auto& c = st.chairs[std::uniform_int_distribution<std::size_t>(0, st.chairs.size() - 1)(rng)];
          eng.advance(c, uniform_ms(rng, prev, reach));
        }
        break;
      case policy::tick_1s:
      case policy::tick_100ms:
        for (; tick <= reach; tick += step) eng.advance(tick);
        break;
    }
    collect();
    apply(eng, in, out.events, resolve, advisories, out);
    collect();
    prev = in.at;
  }
  if (pol == policy::tick_1s || pol == policy::tick_100ms) {
    for (; tick <= st.end; tick += step) eng.advance(tick);
  }
  eng.advance(st.end);
  collect();
  out.check.finish(eng);
  return out;
}

std::vector<event> chair_events(const std::vector<event>& events, const std::string& chair) {
  return normalise_ids(for_chair(events, chair));
}

// --- the properties -----------------------------------------------------------------------------

struct totals {
  std::size_t streams = 0;
  std::size_t events = 0;
  std::size_t raised = 0;
  std::size_t ready = 0;  // sessions that reached "ready for discharge assessment"
  std::size_t outcomes[std::tuple_size_v<engine::outcome_counts>] = {};
  std::map<event_type, std::size_t> by_type;
  std::set<std::string> rules;
};

void check_stream(std::uint32_t seed, int chairs, int length, bool calm, totals& t, int sources = 1) {
  SCOPED_TRACE(::testing::Message() << "seed " << seed << ", " << chairs << " chair(s), " << length << " inputs"
                                    << (calm ? ", calm" : "") << ", " << sources << " source(s) per chair");
  auto st = make_stream(seed, chairs, length, calm, sources);
  const auto ref = run(st, policy::reference, /*resolve=*/true);
  ASSERT_TRUE(ref.check.ok()) << policy_name(policy::reference) << ":\n" << ref.check.failures();

  ++t.streams;
  t.events += ref.events.size();
  t.raised += ref.check.raised();
  for (std::size_t i = 0; i < std::size(t.outcomes); ++i) t.outcomes[i] += ref.outcomes[i];
  for (const auto& e : ref.events) {
    ++t.by_type[e.type];
    if (e.type == event_type::phase_changed && e.to == phase::ready) ++t.ready;
    if (e.type == event_type::alarm_raised) t.rules.insert(e.rule);
  }

  for (const auto pol : {policy::lazy, policy::chunks, policy::per_chair_chunks, policy::tick_1s, policy::tick_100ms,
                         policy::restarts}) {
    const auto other = run(st, pol, /*resolve=*/false);
    EXPECT_TRUE(other.check.ok()) << policy_name(pol) << ":\n" << other.check.failures();
    if (chairs == 1) {
      EXPECT_TRUE(same_events(ref.events, other.events)) << policy_name(pol) << " vs " << policy_name(policy::reference);
    } else {
      for (const auto& c : st.chairs) {
        EXPECT_TRUE(same_events(chair_events(ref.events, c), chair_events(other.events, c)))
            << c << ": " << policy_name(pol) << " vs " << policy_name(policy::reference);
      }
    }
    if (::testing::Test::HasFailure()) return;
  }
}

TEST(EngineProperty, RandomStreamsKeepTheInvariantsAndDoNotDependOnAdvanceGranularity) {
  totals t;
  for (std::uint32_t seed = 1; seed <= 240; ++seed) {
    const bool calm = seed % 4 == 1;
    const int chairs = !calm && seed % 3 == 0 ? 2 : 1;
    const int length = calm ? 1200 : 150 + static_cast<int>(seed % 7) * 50;
    check_stream(seed, chairs, length, calm, t);
    if (HasFailure()) return;
  }
  // The streams must actually exercise the engine, or the properties prove little.
  EXPECT_EQ(t.streams, 240u);
  EXPECT_GT(t.ready, 20u);
  EXPECT_GT(t.raised, 2000u);
  EXPECT_GT(t.outcomes[static_cast<std::size_t>(sample_outcome::applied)], 10000u);
  for (const auto o : {sample_outcome::not_evaluated, sample_outcome::no_session, sample_outcome::out_of_order,
                       sample_outcome::duplicate, sample_outcome::artefact}) {
    EXPECT_GT(t.outcomes[static_cast<std::size_t>(o)], 100u) << static_cast<int>(o);
  }
  for (int type = 1; type <= 13; ++type) {
    EXPECT_GT(t.by_type[static_cast<event_type>(type)], 0u) << name(static_cast<event_type>(type));
  }
  for (const char* rule : {"hr_high", "hr_critical", "spo2_critical", "systolic_high", "systolic_rise", "news2_urgent",
                           "news2_emergency", "stale_heart_rate", "sensor_off_oximeter", "cuff_overdue",
                           "device_disconnected", "predose_bp", "no_session"}) {
    EXPECT_EQ(t.rules.count(rule), 1u) << rule << " never raised";
  }
  std::ostringstream os;
  os << t.streams << " streams, " << t.events << " events, " << t.raised << " alarms raised, " << t.ready
     << " times ready;";
  for (const auto& [type, n] : t.by_type) os << ' ' << name(type) << '=' << n;
  RecordProperty("coverage", os.str());
  std::cout << "[ coverage ] " << os.str() << "\n";
}

TEST(EngineProperty, TwoSourcesPerChairKeepTheInvariantsAndSurviveRestarts) {
  totals t;
  for (std::uint32_t seed = 5001; seed <= 5060; ++seed) {
    const bool calm = seed % 4 == 1;
    const int chairs = !calm && seed % 3 == 0 ? 2 : 1;
    const int length = calm ? 1200 : 200 + static_cast<int>(seed % 5) * 50;
    check_stream(seed, chairs, length, calm, t, 2);
    if (HasFailure()) return;
  }
  EXPECT_GT(t.ready, 3u);
  EXPECT_GT(t.raised, 500u);
  for (const auto o : {sample_outcome::out_of_order, sample_outcome::duplicate}) {
    EXPECT_GT(t.outcomes[static_cast<std::size_t>(o)], 20u) << static_cast<int>(o);
  }
  for (const char* rule : {"hr_critical", "spo2_critical", "systolic_high", "news2_urgent", "sensor_off_oximeter"}) {
    EXPECT_EQ(t.rules.count(rule), 1u) << rule << " never raised";
  }
}

TEST(EngineProperty, ReplayingTheSameStreamTwiceGivesTheSameEvents) {
  // Determinism in its plainest form: same input, same policy, fresh engines.
  for (std::uint32_t seed = 1000; seed < 1010; ++seed) {
    auto st = make_stream(seed, 2, 300);
    const auto a = run(st, policy::reference, true);
    const auto b = run(st, policy::reference, false);
    EXPECT_TRUE(same_events(a.events, b.events)) << "seed " << seed;
  }
}

}  // namespace
}  // namespace vigil::engine::testing
