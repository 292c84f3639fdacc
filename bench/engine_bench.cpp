// Cost of the alarm engine (daemon/engine), with the built-in generic profile.
//
// BM_EngineSession: one chair, one whole session from open to close: a 10-minute baseline
// with two cuff readings, the dose, then 125 minutes of observation until the patient is
// ready for discharge assessment. Heart rate, pulse rate, SpO2 and respiratory rate every second
// (four vitals at 1 Hz, 32,481 samples in all), a cuff
// triple (systolic, diastolic, mean) every 5 minutes, advance() and take_events() every
// second, as the daemon's tick would. Blood pressure and heart rate rise after the dose and
// peak about 40 minutes later (+50/+30 mmHg), so systolic_rise and diastolic_rise fire; a
// 90-second SpO2 dip to 89-90% an hour after the dose fires spo2_low and news2_urgent. The
// first physiological alarm is acknowledged a minute after it is raised and re-sounds five
// minutes later. Reported: time per whole session; samples/s as items.
//
// BM_EngineChairs: one engine with N chairs (1,000 by default), each with an open session
// past its dose, fed interleaved second by second (every chair's samples for one second,
// then the next second), with advance() and take_events() once per simulated second. The
// same 10 minutes of pre-generated samples are replayed with their times shifted on every
// pass, so the sessions keep going (and eventually reach the ready phase). One chair in ten
// has a 60-second SpO2 dip per 10 minutes, so alarms are raised and cleared throughout.
// Reported: samples per second (items).
//
// All samples are generated before the timed loop.

#include "daemon/engine/engine.hpp"
#include "daemon/engine/profile.hpp"
#include "daemon/model/vitals.hpp"

#include <benchmark/benchmark.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <map>
#include <random>
#include <string>
#include <vector>

namespace {

namespace eng = vigil::engine;
using vigil::model::vital_kind;
using vigil::model::vital_sample;

constexpr std::int64_t t0 = 1'760'000'000'000;  // ms since the epoch
constexpr std::int64_t sec = 1'000;
constexpr std::int64_t minute = 60 * sec;

/// The physiological story of one patient, as a function of seconds since the dose.
struct patient {
  double hr = 72;
  double sys = 124;
  double dia = 78;
  double spo2 = 97.6;
  double rr = 14;

  /// Rise after the dose: a bell peaking 40 min after it, gone by about 90 min.
  static double rise(double since_dose_s) {
    if (since_dose_s < 0) return 0;
    const double x = (since_dose_s - 40 * 60) / (20 * 60.0);
    return std::exp(-x * x);
  }
};

double clamp_round(double v, double lo, double hi) { return std::clamp(std::round(v), lo, hi); }

// ---------------------------------------------------------------------------------------------
// One whole session on one chair.

struct step {
  std::int64_t at = 0;                 // session time of this second
  std::vector<vital_sample> samples;   // that second's samples (3, or 6 with a cuff triple)
};

struct session_script {
  std::int64_t open_at = 0;
  std::int64_t dose_at = 0;
  std::int64_t close_at = 0;
  std::vector<step> steps;
  std::size_t sample_count = 0;
};

constexpr std::int64_t baseline_s = 10 * 60;
constexpr std::int64_t observed_s = 125 * 60;
constexpr std::int64_t cuff_every_s = 5 * 60;
constexpr std::int64_t cuff_first_s = 30;
constexpr std::int64_t dip_from_s = 60 * 60;  // since the dose
constexpr std::int64_t dip_for_s = 90;

session_script make_session(unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<double> n_hr(0, 2), n_spo2(0, 0.5), n_rr(0, 1), n_bp(0, 3);
  const patient p;
  session_script script;
  script.open_at = t0;
  script.dose_at = t0 + baseline_s * sec;
  script.close_at = script.dose_at + observed_s * sec;
  for (std::int64_t s = 0; s < baseline_s + observed_s; ++s) {
    step st;
    st.at = t0 + s * sec;
    const double since_dose = static_cast<double>(s - baseline_s);
    const double r = patient::rise(since_dose);
    const bool dip = since_dose >= dip_from_s && since_dose < dip_from_s + dip_for_s;
    const double spo2 = dip ? 89.6 + n_spo2(rng) : p.spo2 + n_spo2(rng);
    const double hr = p.hr + 14 * r + n_hr(rng);
    st.samples.push_back({st.at, clamp_round(hr, 30, 200), vital_kind::heart_rate, 0});
    st.samples.push_back({st.at, clamp_round(hr + n_hr(rng) / 2, 30, 200), vital_kind::pulse_rate, 0});
    st.samples.push_back({st.at, clamp_round(spo2, 70, 100), vital_kind::spo2, 0});
    st.samples.push_back({st.at, clamp_round(p.rr + n_rr(rng), 4, 40), vital_kind::respiratory_rate, 0});
    if (s >= cuff_first_s && (s - cuff_first_s) % cuff_every_s == 0) {
      const double sys = clamp_round(p.sys + 50 * r + n_bp(rng), 60, 260);
      const double dia = clamp_round(p.dia + 30 * r + n_bp(rng), 30, 160);
      st.samples.push_back({st.at, sys, vital_kind::nibp_systolic, 0});
      st.samples.push_back({st.at, dia, vital_kind::nibp_diastolic, 0});
      st.samples.push_back({st.at, std::round((sys + 2 * dia) / 3), vital_kind::nibp_mean, 0});
    }
    script.sample_count += st.samples.size();
    script.steps.push_back(std::move(st));
  }
  return script;
}

struct session_outcome {
  std::size_t events = 0;
  std::map<std::string, int> raised;  // rule -> times raised
  bool reached_ready = false;
  int resounded = 0;
};

/// Runs the script through `e` from open to close.
session_outcome run_session(eng::engine& e, const session_script& script) {
  const std::string chair = "chair-01";
  session_outcome out;
  std::uint64_t ack_alarm = 0;
  std::int64_t ack_at = -1;
  bool acked_once = false;

  auto drain = [&] {
    auto events = e.take_events();
    out.events += events.size();
    for (const auto& ev : events) {
      if (ev.type == eng::event_type::alarm_raised) {
        ++out.raised[ev.rule];
        if (!acked_once && ack_at < 0 && ev.kind == eng::alarm_kind::physiological) {
          ack_alarm = ev.alarm;
          ack_at = ev.at + minute;
        }
      } else if (ev.type == eng::event_type::phase_changed && ev.to == eng::phase::ready) {
        out.reached_ready = true;
      } else if (ev.type == eng::event_type::alarm_resounded) {
        ++out.resounded;
      }
    }
  };

  e.on_device(chair, true, script.open_at);
  e.apply(eng::open_session{chair, "bench-patient", "generic", "nurse-a"}, script.open_at);
  for (const auto& st : script.steps) {
    if (st.at == script.dose_at) e.apply(eng::mark_dose{chair, "iv", "0.5 mg/kg over 40 min", "dr-b"}, st.at);
    e.advance(st.at);
    for (const auto& s : st.samples) e.on_sample(chair, s);
    if (ack_at >= 0 && st.at >= ack_at) {
      e.apply(eng::acknowledge{chair, ack_alarm, "nurse-a"}, st.at);
      ack_at = -1;
      acked_once = true;
    }
    drain();
  }
  e.apply(eng::close_session{chair, "nurse-a", false, {}}, script.close_at);
  drain();
  return out;
}

void BM_EngineSession(benchmark::State& state) {
  const session_script script = make_session(42);
  const std::vector<eng::profile> profiles{eng::generic_profile()};

  // One untimed run to check that the scenario does what it claims.
  {
    eng::engine e(profiles);
    const auto out = run_session(e, script);
    std::string label = out.reached_ready ? "ready;" : "NOT READY;";
    for (const auto& [rule, n] : out.raised) label += " " + rule + (n > 1 ? "x" + std::to_string(n) : "");
    label += "; resounded " + std::to_string(out.resounded);
    state.SetLabel(label);
    state.counters["events"] = static_cast<double>(out.events);
    if (!out.reached_ready) state.SkipWithError("the scripted session never reached the ready phase");
  }

  std::size_t events = 0;
  for (auto _ : state) {
    state.PauseTiming();
    eng::engine e(profiles);
    state.ResumeTiming();
    const auto out = run_session(e, script);
    events += out.events;
    benchmark::DoNotOptimize(events);
  }
  state.counters["samples"] = static_cast<double>(script.sample_count);
  state.counters["ns_per_sample"] = benchmark::Counter(
      static_cast<double>(script.sample_count) * static_cast<double>(state.iterations()),
      benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()) *
                          static_cast<std::int64_t>(script.sample_count));
}
BENCHMARK(BM_EngineSession)->Unit(benchmark::kMillisecond);

// ---------------------------------------------------------------------------------------------
// Many chairs on one engine.

struct chair_sample {
  std::uint32_t chair = 0;
  vital_sample sample;
};

struct chairs_script {
  std::vector<std::string> names;
  std::vector<chair_sample> baseline;                    // 10 min before the dose, all chairs
  std::vector<std::vector<chair_sample>> chunk_seconds;  // 10 min after it, per second
  std::size_t chunk_samples = 0;
};

constexpr std::int64_t chunk_s = 10 * 60;

/// Chair i's monitor reports at its own millisecond within each second.
std::int64_t jitter(std::uint32_t chair) { return (chair * 997) % 1000; }

chairs_script make_chairs(std::uint32_t chairs) {
  std::mt19937 rng(7);
  std::normal_distribution<double> n_hr(0, 2), n_spo2(0, 0.5), n_rr(0, 1), n_bp(0, 3);
  std::uniform_real_distribution<double> spread(-8, 8);
  chairs_script script;
  std::vector<patient> patients(chairs);
  for (std::uint32_t i = 0; i < chairs; ++i) {
    char name[32];
    std::snprintf(name, sizeof name, "chair-%04u", i);
    script.names.emplace_back(name);
    patients[i].hr += spread(rng);
    patients[i].sys += spread(rng);
    patients[i].dia += spread(rng) / 2;
  }
  auto second = [&](std::vector<chair_sample>& out, std::int64_t base, std::int64_t s, bool after_dose) {
    for (std::uint32_t i = 0; i < chairs; ++i) {
      const auto& p = patients[i];
      const std::int64_t at = base + s * sec + jitter(i);
      const bool dip = after_dose && i % 10 == 0 && s >= 300 && s < 360;
      out.push_back({i, {at, clamp_round(p.hr + 8 + n_hr(rng), 30, 200), vital_kind::heart_rate, 0}});
      out.push_back({i, {at, clamp_round((dip ? 89.6 : p.spo2) + n_spo2(rng), 70, 100), vital_kind::spo2, 0}});
      out.push_back({i, {at, clamp_round(p.rr + n_rr(rng), 4, 40), vital_kind::respiratory_rate, 0}});
      // Cuff every 5 min, each chair at its own moment.
      if ((s + i * 7) % cuff_every_s == 0) {
        const double sys = clamp_round(p.sys + (after_dose ? 20 : 0) + n_bp(rng), 60, 260);
        const double dia = clamp_round(p.dia + (after_dose ? 12 : 0) + n_bp(rng), 30, 160);
        out.push_back({i, {at, sys, vital_kind::nibp_systolic, 0}});
        out.push_back({i, {at, dia, vital_kind::nibp_diastolic, 0}});
        out.push_back({i, {at, std::round((sys + 2 * dia) / 3), vital_kind::nibp_mean, 0}});
      }
    }
  };
  for (std::int64_t s = 0; s < baseline_s; ++s) second(script.baseline, t0, s, false);
  script.chunk_seconds.resize(chunk_s);
  for (std::int64_t s = 0; s < chunk_s; ++s) {
    second(script.chunk_seconds[static_cast<std::size_t>(s)], t0 + baseline_s * sec, s, true);
    script.chunk_samples += script.chunk_seconds[static_cast<std::size_t>(s)].size();
  }
  return script;
}

void BM_EngineChairs(benchmark::State& state) {
  const auto chairs = static_cast<std::uint32_t>(state.range(0));
  const chairs_script script = make_chairs(chairs);
  eng::engine e({eng::generic_profile()});

  // Untimed: connect, open, baseline, dose.
  for (std::uint32_t i = 0; i < chairs; ++i) {
    e.on_device(script.names[i], true, t0);
    e.apply(eng::open_session{script.names[i], "p", "generic", "nurse"}, t0);
  }
  for (const auto& cs : script.baseline) e.on_sample(script.names[cs.chair], cs.sample);
  const std::int64_t dose_at = t0 + baseline_s * sec;
  for (std::uint32_t i = 0; i < chairs; ++i) {
    const auto r = e.apply(eng::mark_dose{script.names[i], "iv", "0.5 mg/kg", "dr"}, dose_at);
    if (!r.ok()) {
      state.SkipWithError(r.message.c_str());
      return;
    }
  }
  e.take_events();

  std::int64_t offset = 0;
  std::size_t samples = 0;
  std::size_t events = 0;
  std::size_t raised = 0;
  for (auto _ : state) {
    for (std::int64_t s = 0; s < chunk_s; ++s) {
      const auto& batch = script.chunk_seconds[static_cast<std::size_t>(s)];
      for (const auto& cs : batch) {
        vital_sample v = cs.sample;
        v.time_ms += offset;
        e.on_sample(script.names[cs.chair], v);
      }
      e.advance(dose_at + (s + 1) * sec + offset);
      auto ev = e.take_events();
      events += ev.size();
      for (const auto& x : ev) raised += x.type == eng::event_type::alarm_raised;
      samples += batch.size();
    }
    offset += chunk_s * sec;
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(samples));
  state.counters["chairs"] = chairs;
  state.counters["events_per_pass"] =
      static_cast<double>(events) / static_cast<double>(std::max<std::int64_t>(1, state.iterations()));
  state.counters["alarms_per_pass"] =
      static_cast<double>(raised) / static_cast<double>(std::max<std::int64_t>(1, state.iterations()));
  state.counters["samples_per_pass"] = static_cast<double>(script.chunk_samples);
}
BENCHMARK(BM_EngineChairs)->Arg(1000)->Arg(100)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
