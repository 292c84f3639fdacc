// example_session: writes one simulated IV-ketamine session into a timeline database, for the
// example report (scripts/example-report.sh, docs/example-report.html).
//
// The physiology follows CLINICAL.md: baseline HR about 75, SpO2 97-98, BP about 125/80; after
// the dose HR and BP rise, peak about 40 min after it and return over about 1.5 h. The session
// has a hypertensive episode (acknowledged by the nurse), a short SpO2 dip, an oximeter
// artifact and notes. The real engine runs it with the iv-ketamine profile, so every event is
// one vigild would have recorded. Deterministic: the same file every run.

#include "daemon/config/profile_loader.hpp"
#include "daemon/engine/engine.hpp"
#include "daemon/store/sqlite_timeline.hpp"

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <numbers>
#include <random>
#include <string>
#include <vector>

namespace {

using vigil::engine::millis;
using vigil::engine::minutes_ms;
using vigil::engine::seconds_ms;
using vigil::model::vital_kind;
using vigil::model::vital_sample;
namespace quality = vigil::model::quality;

constexpr millis open_at = 1'714'638'600'000;  // 2024-05-02 08:30:00 UTC
constexpr millis dose_at = open_at + 15 * minutes_ms;
constexpr std::string_view chair = "chair-3";

/// Share of the peak drug effect `m` minutes after the dose: up to the peak at 40 min (the end
/// of the infusion), then back to baseline over about 1.5 h.
double effect(double m) {
  if (m <= 0) return 0;
  if (m <= 40) return std::pow(std::sin(std::numbers::pi / 2 * m / 40), 2);
  return std::exp(-(m - 40) / 28);
}

struct cuff {
  double minute;  // after the dose (negative: before it)
  double systolic;
  double diastolic;
};

// Readings every 5 min in observation; the rise peaks at +40 min (above 180 twice: the
// confirmed systolic_high alarm) and falls back to baseline over the next 1.5 h.
const std::vector<cuff> cuff_readings = {
    {-14, 127, 82}, {-4, 125, 80},  {5, 128, 82},   {10, 134, 84},  {15, 141, 87},  {20, 150, 90},  {25, 163, 95},
    {30, 171, 99},  {35, 183, 104}, {40, 187, 106}, {45, 172, 101}, {50, 166, 97},  {55, 160, 94},  {60, 153, 91},
    {65, 148, 89},  {70, 144, 87},  {75, 140, 86},  {80, 137, 85},  {85, 135, 84},  {90, 133, 83},  {95, 131, 82},
    {100, 129, 82}, {105, 128, 81}, {110, 127, 81}, {115, 126, 80}, {120, 126, 80}, {125, 125, 80},
};

class session_writer {
 public:
  session_writer(vigil::engine::engine& engine, vigil::store::sqlite_timeline& store) : engine_(engine), store_(store) {}

  /// Runs the engine's clock to `t`, then feeds the samples taken at `t`.
  void samples(millis t, const std::vector<vital_sample>& batch) {
    engine_.advance(t);
    engine_.on_samples(chair, batch);
    pending_.insert(pending_.end(), batch.begin(), batch.end());
    commit_events();
    // A monitor sends a batch every 10 s.
    if (pending_.size() >= 40 || t - pending_.front().time_ms >= 9 * seconds_ms) flush_vitals();
  }

  template <typename Command>
  std::uint64_t command(const Command& c, millis at) {
    flush_vitals();
    engine_.advance(at);
    const auto result = engine_.apply(c, at);
    if (!result.ok()) throw std::runtime_error("command refused: " + result.message);
    commit_events();
    return result.session;
  }

  std::uint64_t alarm_id(std::string_view rule) const {
    const auto s = engine_.session(chair);
    if (!s) return 0;
    for (const auto& a : s->alarms) {
      if (a.rule == rule) return a.id;
    }
    return 0;
  }

  void flush_vitals() {
    if (pending_.empty()) return;
    // Samples go with the session open when they arrived (as vigild's ingest does).
    store_.append_batch("monitor-3", std::string(chair), engine_.session_id(chair), ++seq_, pending_, nullptr);
    pending_.clear();
  }

 private:
  void commit_events() {
    auto events = engine_.take_events();
    for (const auto& e : events) {
      if (e.type == vigil::engine::event_type::alarm_raised || e.type == vigil::engine::event_type::phase_changed) {
        std::fprintf(stderr, "%+7.1f min  %-14s %s %s\n", static_cast<double>(e.at - dose_at) / minutes_ms,
                     std::string(vigil::engine::name(e.type)).c_str(), e.rule.c_str(), e.text.c_str());
      }
    }
    if (!events.empty()) store_.append_state(std::move(events), {});
  }

  vigil::engine::engine& engine_;
  vigil::store::sqlite_timeline& store_;
  std::vector<vital_sample> pending_;
  std::uint64_t seq_ = 0;
};

}  // namespace

int main(int argc, char** argv) {
  CLI::App cli{"Writes a simulated two-hour IV-ketamine session into DIR/timeline.db"};
  std::string data_dir;
  std::string profile_path = std::string(VIGIL_SOURCE_DIR) + "/config/profiles/iv-ketamine.yaml";
  cli.add_option("--data-dir", data_dir, "Directory for timeline.db (created; must not hold one)")->required();
  cli.add_option("--profile", profile_path, "The protocol profile file")->capture_default_str();
  CLI11_PARSE(cli, argc, argv);

  const auto loaded = vigil::config::load_profile_file(profile_path);
  if (!loaded.problems.empty()) {
    for (const auto& p : loaded.problems) std::fprintf(stderr, "example_session: %s: %s\n", p.key.c_str(), p.message.c_str());
    return 1;
  }
  std::filesystem::create_directories(data_dir);
  const auto db = std::filesystem::path(data_dir) / "timeline.db";
  if (std::filesystem::exists(db)) {
    std::fprintf(stderr, "example_session: %s exists; use an empty directory\n", db.c_str());
    return 1;
  }

  try {
    vigil::engine::engine engine({loaded.profile});
    vigil::store::sqlite_timeline store({db.string(), /*full_sync=*/false});
    session_writer w(engine, store);
    std::mt19937 random(20240502);
    std::normal_distribution<double> jitter(0, 1);

    engine.on_device(chair, true, open_at - 5 * seconds_ms);
    const auto session = w.command(vigil::engine::open_session{std::string(chair), "P-0427", loaded.profile.id, "nurse-ana"}, open_at);

    const millis close_at = dose_at + 128 * minutes_ms;
    double hr_noise = 0;
    double spo2_noise = 0;
    std::size_t next_cuff = 0;
    bool noted_consent = false, dosed = false, acked = false, noted_bp = false, noted_dip = false, noted_probe = false;
    for (millis t = open_at; t < close_at; t += seconds_ms) {
      const double m = static_cast<double>(t - dose_at) / minutes_ms;  // minutes after the dose
      const double e = effect(m);
      hr_noise = 0.95 * hr_noise + 0.6 * jitter(random);
      spo2_noise = 0.9 * spo2_noise + 0.15 * jitter(random);

      double hr = 75 + 22 * e + 2.5 * std::sin(2 * std::numbers::pi * static_cast<double>(t - open_at) / 47'000) + hr_noise;
      if (m >= 38 && m < 38.35) hr += 28 * std::sin(std::numbers::pi * (m - 38) / 0.35);  // brief agitation
      double spo2 = 97.6 - 0.6 * e + spo2_noise;
      // Drowsy, shallow breathing: SpO2 dips to 89 % for about a minute and a half.
      if (m >= 52 && m < 54) spo2 -= 8.6 * std::pow(std::sin(std::numbers::pi * (m - 52) / 2), 0.6);
      spo2 = std::min(100.0, std::round(spo2));
      const bool probe_off = m >= 75 && m < 75 + 40.0 / 60;  // hand movement: oximeter artifact

      std::vector<vital_sample> batch;
      batch.push_back({t, std::round(hr), vital_kind::heart_rate, quality::ok});
      if (probe_off) {
        batch.push_back({t, std::round(60 + 15 * std::abs(jitter(random))), vital_kind::spo2, quality::artifact});
        batch.push_back({t, std::round(40 + 60 * std::abs(jitter(random))), vital_kind::pulse_rate, quality::artifact});
      } else {
        batch.push_back({t, spo2, vital_kind::spo2, quality::ok});
        batch.push_back({t, std::round(hr + 0.8 * jitter(random)), vital_kind::pulse_rate, quality::ok});
      }
      if ((t - open_at) % (5 * seconds_ms) == 0) {
        const double rr = (m >= 51 && m < 54 ? 10 : 14 + e) + 0.8 * jitter(random);
        batch.push_back({t, std::round(rr), vital_kind::respiratory_rate, quality::ok});
      }
      if (next_cuff < cuff_readings.size() && m >= cuff_readings[next_cuff].minute) {
        const auto& c = cuff_readings[next_cuff++];
        batch.push_back({t, c.systolic, vital_kind::nibp_systolic, quality::ok});
        batch.push_back({t, c.diastolic, vital_kind::nibp_diastolic, quality::ok});
        batch.push_back({t, std::round(c.diastolic + (c.systolic - c.diastolic) / 3), vital_kind::nibp_mean, quality::ok});
      }
      w.samples(t, batch);

      if (!noted_consent && m >= -1.5) {
        noted_consent = true;
        w.command(vigil::engine::add_note{std::string(chair),
                                          "Consent confirmed. Weight 70 kg: 0.5 mg/kg = 35 mg IV over 40 min. "
                                          "Pre-dose BP 125/80.",
                                          "dr-okafor"},
                  t + 500);
      }
      if (!dosed && t + seconds_ms > dose_at) {
        dosed = true;
        w.command(vigil::engine::mark_dose{std::string(chair), "iv", "35 mg (0.5 mg/kg) over 40 min", "dr-okafor"}, dose_at);
      }
      if (!acked && m >= 41.2) {
        if (const auto id = w.alarm_id("systolic_high")) {
          acked = true;
          w.command(vigil::engine::acknowledge{std::string(chair), id, "nurse-ana"}, t + 500);
        }
      }
      if (!noted_bp && m >= 42) {
        noted_bp = true;
        w.command(vigil::engine::add_note{std::string(chair),
                                          "BP 187/106 on repeat at end of infusion. Calm, no headache or chest pain. "
                                          "Dr Okafor informed; recheck every 5 min.",
                                          "nurse-ana"},
                  t + 500);
      }
      if (!noted_dip && m >= 55) {
        noted_dip = true;
        w.command(vigil::engine::add_note{std::string(chair),
                                          "Drowsy; SpO2 dipped to 89 %. Prompted deep breaths, recovered on room air.",
                                          "nurse-ana"},
                  t + 500);
      }
      if (!noted_probe && m >= 76.5) {
        noted_probe = true;
        w.command(vigil::engine::add_note{std::string(chair), "Oximeter probe dislodged by hand movement; re-seated.", "nurse-ana"},
                  t + 500);
      }
    }
    w.command(vigil::engine::add_note{std::string(chair),
                                      "Discharge assessment: alert and oriented, modified Aldrete 10. Left with escort.",
                                      "dr-okafor"},
              close_at - 30 * seconds_ms);
    w.command(vigil::engine::close_session{std::string(chair), "nurse-ana", false, ""}, close_at);
    w.flush_vitals();
    store.flush();
    std::printf("%llu\n", static_cast<unsigned long long>(session));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "example_session: %s\n", e.what());
    return 1;
  }
  return 0;
}
