#include "tests/corpus/corpus.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <map>
#include <random>
#include <utility>

namespace vigil::corpus {
namespace {

using model::vital_kind;
namespace quality = model::quality;
using engine::event;
using engine::event_type;

constexpr millis sec = engine::seconds_ms;
constexpr millis minute = engine::minutes_ms;
constexpr millis base_time = 1'700'000'000'000;  // a realistic device clock, ms since the epoch
constexpr millis pre_roll = 6 * minute;          // the monitor streams before the session opens
constexpr millis cuff_every = 5 * minute;
constexpr millis cuff_horizon = 20 * minute;     // generic cuff_interval + cuff_grace (alarms.md 3.4)
constexpr millis ack_after = 60 * sec;
/// A device message: a source's samples within this of each other are fed as one batch.
constexpr millis batch_span = 50;
constexpr millis never = std::numeric_limits<millis>::max();

// Session counts per group and cadence: enough for 200 artefacts of each kind and 40 true events.
constexpr int event_sessions = 12;         // 6 events each
constexpr int events_per_session = 6;
constexpr int artefact_sessions_1hz = 42;  // 24 artefacts each
constexpr int artefact_sessions_min = 84;  // 12 artefacts each
constexpr int uneventful_sessions_1hz = 10;
constexpr int uneventful_sessions_min = 20;

/// Portable draws from std::mt19937 (the standard distributions differ between libraries).
struct draw {
  std::mt19937 gen;
  explicit draw(std::uint32_t seed) : gen(seed) {}
  double unit() { return static_cast<double>(gen()) / 4294967296.0; }
  double uniform(double lo, double hi) { return lo + (hi - lo) * unit(); }
  int integer(int lo, int hi) { return lo + static_cast<int>(unit() * static_cast<double>(hi - lo + 1)); }
  double normal(double sd) {
    const double u1 = std::max(unit(), 1e-12);
    const double u2 = unit();
    return sd * std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * 3.141592653589793 * u2);
  }
};

double clamp_round(double v, double lo, double hi) { return std::round(std::clamp(v, lo, hi)); }

struct patient {
  double hr, spo2, rr, sys, dia;
};

/// The post-dose rise: a bell peaking 40 min after the dose, gone by about 90 min.
double rise(millis since_dose) {
  if (since_dose < 0) return 0;
  const double x = (static_cast<double>(since_dose) - 40.0 * minute) / (20.0 * minute);
  return std::exp(-x * x);
}

const engine::limit_rule& rule_of(std::string_view id) {
  static const engine::profile generic = engine::generic_profile();
  for (const auto& r : generic.limits) {
    if (r.id == id) return r;
  }
  static const engine::limit_rule none;
  return none;
}

std::vector<std::string> rules_watching(vital_kind k) {
  static const engine::profile generic = engine::generic_profile();
  auto group_of = [](vital_kind v) {
    switch (v) {
      case vital_kind::heart_rate:
      case vital_kind::pulse_rate: return 1;
      case vital_kind::spo2: return 2;
      case vital_kind::respiratory_rate: return 3;
      default: return 4;
    }
  };
  std::vector<std::string> out;
  for (const auto& r : generic.limits) {
    if (group_of(r.kind) == group_of(k)) out.push_back(r.id);
  }
  out.emplace_back("news2_urgent");
  out.emplace_back("news2_emergency");
  return out;
}

class builder {
 public:
  builder(group g, cadence c, int index, std::uint32_t seed) : rng_(seed) {
    s_.kind = g;
    s_.rate = c;
    s_.seed = seed;
    s_.id = fmt::format("{}-{}-{:02}", name(g), slug(c), index);
    s_.chair = fmt::format("chair-{:02}", index);
    s_.open_at = base_time + pre_roll + 700;
    s_.dose_at = s_.open_at + 11 * minute;
    s_.close_at = s_.dose_at + 125 * minute;
    p_ = patient{rng_.uniform(58, 80), rng_.uniform(96.5, 98.5), rng_.uniform(12, 17), rng_.uniform(112, 125),
                 rng_.uniform(66, 80)};
    normal_streams();
  }

  millis every() const { return interval(s_.rate); }
  millis evidence() const { return std::max(30 * sec, 3 * every()); }
  draw& rng() { return rng_; }
  const session& peek() const { return s_; }

  /// Indices of the items of one stream with time in [from, to], in time order.
  std::vector<std::size_t> in(vital_kind k, std::uint8_t src, millis from, millis to) const {
    std::vector<std::size_t> out;
    for (std::size_t i = 0; i < items_.size(); ++i) {
      const auto& it = items_[i];
      if (it.sample.kind == k && it.source == src && it.sample.time_ms >= from && it.sample.time_ms <= to) out.push_back(i);
    }
    std::sort(out.begin(), out.end(), [&](std::size_t a, std::size_t b) {
      return items_[a].sample.time_ms < items_[b].sample.time_ms;
    });
    return out;
  }
  /// The first `n` items of a stream at or after `from`.
  std::vector<std::size_t> next(vital_kind k, std::uint8_t src, millis from, std::size_t n) const {
    auto all = in(k, src, from, never);
    if (all.size() > n) all.resize(n);
    return all;
  }
  /// The latest item of a stream before `t`.
  std::optional<std::size_t> before(vital_kind k, std::uint8_t src, millis t) const {
    auto all = in(k, src, std::numeric_limits<millis>::min(), t - 1);
    if (all.empty()) return std::nullopt;
    return all.back();
  }
  model::vital_sample& at(std::size_t i) { return items_[i].sample; }

  void erase(const std::vector<std::size_t>& which) {
    std::vector<bool> gone(items_.size(), false);
    for (auto i : which) gone[i] = true;
    std::vector<item> kept;
    kept.reserve(items_.size());
    for (std::size_t i = 0; i < items_.size(); ++i) {
      if (!gone[i]) kept.push_back(items_[i]);
    }
    items_ = std::move(kept);
  }

  /// Marks item `i` as changed by the artefact about to be labelled, keeping its clean value.
  model::vital_sample& taint(std::size_t i) {
    auto& it = items_[i];
    if (it.artefact < 0) {
      it.clean = it.sample;
      it.replaces = true;
    }
    it.artefact = static_cast<int>(s_.labels.size());
    return it.sample;
  }

  /// The mean of the usable cuff readings of `k` in the baseline window, as the engine takes it.
  double baseline(vital_kind k) const {
    double sum = 0;
    int n = 0;
    for (auto i : in(k, 0, s_.dose_at - 10 * minute, s_.dose_at - 1)) {
      sum += items_[i].sample.value;
      ++n;
    }
    return n == 0 ? 0 : sum / n;
  }

  void add(label l) { s_.labels.push_back(std::move(l)); }

  /// The alarm's documented raise time for a limit rule whose readings beyond start at `first`:
  /// max(first reading + delay, the min_readings-th reading), for the rule's stream.
  millis limit_due(const std::string& rule, vital_kind k, std::uint8_t src, millis first) const {
    const auto& r = rule_of(rule);
    const auto m = static_cast<std::size_t>(std::max(r.min_readings, r.confirm_readings));
    const auto readings = next(k, src, first, m);
    if (readings.size() < m) return never;
    return std::max(items_[readings.front()].sample.time_ms + r.delay_ms, items_[readings.back()].sample.time_ms);
  }

  session finish() {
    std::stable_sort(items_.begin(), items_.end(),
                     [](const item& a, const item& b) { return a.sample.time_ms < b.sample.time_ms; });
    s_.samples = std::move(items_);
    return std::move(s_);
  }

 private:
  void push(vital_kind k, std::uint8_t src, millis t, double v) {
    item it;
    it.sample.kind = k;
    it.sample.time_ms = t;
    it.sample.value = v;
    it.sample.quality = quality::ok;
    it.source = src;
    items_.push_back(it);
  }

  void normal_streams() {
    const millis step = every();
    for (millis t = base_time; t < s_.close_at; t += step) {
      const double r = rise(t - s_.dose_at);
      const double hr = clamp_round(p_.hr + 6 * r + rng_.normal(1.5), 52, 95);
      push(vital_kind::heart_rate, 0, t, hr);
      push(vital_kind::spo2, 0, t + 10, clamp_round(p_.spo2 + rng_.normal(0.5), 95, 100));
      push(vital_kind::respiratory_rate, 0, t + 20, clamp_round(p_.rr + rng_.normal(1.0), 11, 20));
      push(vital_kind::pulse_rate, 1, t + 500, clamp_round(hr + rng_.normal(1.0), 50, 97));
    }
    for (millis t = s_.open_at + minute; t < s_.close_at; t += cuff_every) {
      const double r = rise(t - s_.dose_at);
      const double sys = std::round(p_.sys + 8 * r + std::clamp(rng_.normal(3), -6.0, 6.0));
      const double dia = std::round(p_.dia + 5 * r + std::clamp(rng_.normal(2.5), -6.0, 6.0));
      push(vital_kind::nibp_systolic, 0, t + 100, sys);
      push(vital_kind::nibp_diastolic, 0, t + 101, dia);
      push(vital_kind::nibp_mean, 0, t + 102, std::round(dia + (sys - dia) / 3));
    }
  }

  session s_;
  draw rng_;
  patient p_{};
  std::vector<item> items_;
};

// --- true events ---------------------------------------------------------------------------------

/// How long a sustained event lasts: minutes at 1 Hz, a number of readings at 1/min.
millis span(builder& b, int lo_s, int hi_s, int lo_n, int hi_n) {
  if (b.every() == sec) return b.rng().integer(lo_s, hi_s) * sec;
  return b.rng().integer(lo_n, hi_n) * b.every();
}

label event_label(builder& b, label_kind k, std::string variant, vital_kind v, std::uint8_t src,
                  const std::vector<std::size_t>& affected, std::string rule) {
  label l;
  l.kind = k;
  l.variant = std::move(variant);
  l.vital = v;
  l.source = std::string(src == 0 ? monitor : oximeter);
  l.start = b.at(affected.front()).time_ms;
  l.end = b.at(affected.back()).time_ms;
  l.expected = std::move(rule);
  return l;
}

void set_values(builder& b, const std::vector<std::size_t>& which, double lo, double hi) {
  for (auto i : which) b.at(i).value = std::round(b.rng().uniform(lo, hi));
}

void flag_off(builder& b, const std::vector<std::size_t>& which) {
  for (auto i : which) {
    b.at(i).value = 0;
    b.at(i).quality = quality::sensor_off;
  }
}

/// A limit event on one stream: every reading in [t, t + d) beyond the limit.
void limit_event(builder& b, millis t, millis d, label_kind k, std::string variant, vital_kind v, std::uint8_t src,
                 double lo, double hi, std::string rule) {
  const auto which = b.in(v, src, t, t + d - 1);
  set_values(b, which, lo, hi);
  auto l = event_label(b, k, std::move(variant), v, src, which, std::move(rule));
  l.due = b.limit_due(l.expected, v, src, l.start);
  l.deadline = l.due + b.every();
  b.add(std::move(l));
}

void sensor_off_event(builder& b, millis t, millis d, label_kind k, vital_kind v, std::string rule) {
  const auto which = b.in(v, 0, t, t + d - 1);
  flag_off(b, which);
  auto l = event_label(b, k, fmt::format("{} flagged sensor_off", model::name(v)), v, 0, which, std::move(rule));
  l.due = l.start + engine::technical_rules{}.sensor_off_delay_ms;
  l.deadline = l.due + b.every();
  b.add(std::move(l));
}

void true_event(builder& b, int variant, millis t) {
  switch (variant) {
    case 0:
      limit_event(b, t, span(b, 180, 300, 3, 5), label_kind::desaturation, "spo2 80-86", vital_kind::spo2, 0, 80, 86,
                  "spo2_critical");
      break;
    case 1: {  // cuff systolic >= 185 on two or three readings 5 min apart
      const auto n = static_cast<std::size_t>(b.rng().integer(2, 3));
      const auto sys = b.next(vital_kind::nibp_systolic, 0, t, n);
      set_values(b, sys, 185, 198);
      const auto dia = b.next(vital_kind::nibp_diastolic, 0, t, n);
      set_values(b, dia, 92, 104);
      const auto mean = b.next(vital_kind::nibp_mean, 0, t, n);  // the cuff's mean follows its parts
      for (std::size_t j = 0; j < n; ++j) {
        b.at(mean[j]).value = std::round(b.at(dia[j]).value + (b.at(sys[j]).value - b.at(dia[j]).value) / 3);
      }
      auto l = event_label(b, label_kind::hypertensive_response, "systolic 185-198 on repeat readings",
                           vital_kind::nibp_systolic, 0, sys, "systolic_high");
      l.due = b.limit_due(l.expected, vital_kind::nibp_systolic, 0, l.start);
      l.deadline = l.due + b.every();
      b.add(std::move(l));
      break;
    }
    case 2: {
      const millis d = span(b, 120, 240, 3, 5);
      limit_event(b, t, d, label_kind::bradycardia, "heart_rate 30-37", vital_kind::heart_rate, 0, 30, 37,
                  "hr_critical_low");
      set_values(b, b.in(vital_kind::pulse_rate, 1, t, t + d - 1), 30, 38);
      break;
    }
    case 3:
    case 8: {  // the ECG leads come off (or the ECG stops) 4 min before; only the oximeter sees the rate
      const millis d = span(b, 240, 360, 4, 6);
      const auto ecg = b.in(vital_kind::heart_rate, 0, t - 4 * minute, t + d + minute);
      std::string what;
      if (variant == 3) {
        flag_off(b, ecg);
        what = "pulse_rate 145-150, ECG flagged sensor_off";
      } else {
        // The ECG stopping silently is a true event of its own: the pulse goes on, so only the
        // ECG's stale alarm can say it (alarms.md 7.1).
        const auto last = b.before(vital_kind::heart_rate, 0, t - 4 * minute);
        label stop = event_label(b, label_kind::ecg_stops, "heart_rate samples stop, the pulse goes on",
                                 vital_kind::heart_rate, 0, ecg, "stale_ecg");
        stop.due = (last ? b.at(*last).time_ms : stop.start) + b.evidence();
        stop.deadline = stop.due + b.every();
        b.erase(ecg);
        b.add(std::move(stop));
        what = "pulse_rate 145-150, no ECG heart_rate";
      }
      limit_event(b, t, d, label_kind::oximeter_tachycardia, what, vital_kind::pulse_rate, 1, 145, 150, "hr_critical");
      break;
    }
    case 4:
      limit_event(b, t, span(b, 180, 300, 3, 5), label_kind::apnoea, "respiratory_rate 4-6", vital_kind::respiratory_rate,
                  0, 4, 6, "rr_low");
      break;
    case 9: {  // respiratory-rate samples stop while the other streams go on
      const millis d = b.every() == sec ? 5 * minute : 8 * minute;
      const auto last = b.before(vital_kind::respiratory_rate, 0, t);
      const auto gone = b.in(vital_kind::respiratory_rate, 0, t, t + d - 1);
      label l = event_label(b, label_kind::apnoea, "respiratory_rate samples stop", vital_kind::respiratory_rate, 0,
                            gone, "stale_respiratory_rate");
      l.due = (last ? b.at(*last).time_ms : l.start) + b.evidence();
      l.deadline = l.due + b.every();
      b.erase(gone);
      b.add(std::move(l));
      break;
    }
    case 5:
      sensor_off_event(b, t, span(b, 60, 180, 2, 4), label_kind::sensor_off_ecg, vital_kind::heart_rate, "sensor_off_ecg");
      break;
    case 6: {  // a rise of 46-54 mmHg over the pre-dose baseline, below 180
      const auto sys = b.next(vital_kind::nibp_systolic, 0, t, 2);
      const double base = b.baseline(vital_kind::nibp_systolic);
      for (auto i : sys) b.at(i).value = std::min(178.0, std::round(base + b.rng().uniform(46, 54)));
      auto l = event_label(b, label_kind::hypertensive_response, "systolic +46-54 mmHg over baseline",
                           vital_kind::nibp_systolic, 0, sys, "systolic_rise");
      l.due = b.limit_due(l.expected, vital_kind::nibp_systolic, 0, l.start);
      l.deadline = l.due + b.every();
      b.add(std::move(l));
      break;
    }
    case 7:
      sensor_off_event(b, t, span(b, 60, 180, 2, 4), label_kind::sensor_off_oximeter, vital_kind::spo2,
                       "sensor_off_oximeter");
      break;
    case 10: {  // one cuff reading flagged sensor_off, all three parts
      const auto sys = b.next(vital_kind::nibp_systolic, 0, t, 1);
      flag_off(b, sys);
      flag_off(b, b.next(vital_kind::nibp_diastolic, 0, t, 1));
      flag_off(b, b.next(vital_kind::nibp_mean, 0, t, 1));
      auto l = event_label(b, label_kind::sensor_off_cuff, "cuff reading flagged sensor_off", vital_kind::nibp_systolic,
                           0, sys, "sensor_off_cuff");
      l.due = l.start + engine::technical_rules{}.sensor_off_delay_ms;
      l.deadline = l.due + b.every();
      b.add(std::move(l));
      break;
    }
    default:
      sensor_off_event(b, t, span(b, 60, 180, 2, 4), label_kind::sensor_off_respiration, vital_kind::respiratory_rate,
                       "sensor_off_respiration");
      break;
  }
}

// --- artefacts -----------------------------------------------------------------------------------

void artefact_label(builder& b, label_kind k, std::string variant, vital_kind v, std::uint8_t src,
                    const std::vector<std::size_t>& changed) {
  label l;
  l.kind = k;
  l.variant = std::move(variant);
  l.vital = v;
  l.source = std::string(src == 0 ? monitor : oximeter);
  l.start = b.at(changed.front()).time_ms;
  l.end = b.at(changed.back()).time_ms;
  const bool cuff = v == vital_kind::nibp_systolic || v == vital_kind::nibp_diastolic || v == vital_kind::nibp_mean;
  l.window_end = l.end + (cuff ? cuff_horizon : b.evidence());
  l.forbidden = rules_watching(v);
  b.add(std::move(l));
}

void artefact(builder& b, label_kind k, millis t) {
  auto& rng = b.rng();
  const bool per_second = b.every() == sec;
  switch (k) {
    case label_kind::cross_source: {  // the oximeter's pulse rate goes wild; the ECG reads normal
      const auto n = static_cast<std::size_t>(per_second ? rng.integer(1, 8) : rng.integer(1, 2));
      const bool high = rng.unit() < 0.7;
      const auto which = b.next(vital_kind::pulse_rate, 1, t, n);
      for (auto i : which) b.taint(i).value = std::round(high ? rng.uniform(250, 300) : rng.uniform(20, 30));
      artefact_label(b, k, high ? "oximeter pulse_rate 250-300, ECG normal" : "oximeter pulse_rate 20-30, ECG normal",
                     vital_kind::pulse_rate, 1, which);
      break;
    }
    case label_kind::impossible_step: {  // one SpO2 reading ~60 points down, the next back
      const auto which = b.next(vital_kind::spo2, 0, t, 1);
      auto& s = b.taint(which.front());
      s.value = std::max(20.0, std::round(s.value - rng.uniform(55, 65)));
      artefact_label(b, k, "spo2 down ~60 for one reading", vital_kind::spo2, 0, which);
      break;
    }
    case label_kind::bp_inconsistent: {
      const auto sys = b.next(vital_kind::nibp_systolic, 0, t, 1);
      const auto dia = b.next(vital_kind::nibp_diastolic, 0, t, 1);
      const auto mean = b.next(vital_kind::nibp_mean, 0, t, 1);
      std::vector<std::size_t> changed;
      std::string what;
      switch (rng.integer(0, 3)) {
        case 0:
          b.taint(dia.front()).value = 10;
          changed = dia;
          what = "diastolic 10, systolic and mean normal";
          break;
        case 1:
          b.taint(mean.front()).value = 31;
          changed = mean;
          what = "mean 31, systolic and diastolic normal";
          break;
        case 2: {
          const double s = b.at(sys.front()).value;
          b.taint(dia.front()).value = std::max(s + 5, 122.0) + std::round(rng.uniform(0, 8));
          changed = dia;
          what = "diastolic above systolic (above 120)";
          break;
        }
        default: {
          auto& s = b.taint(sys.front());
          s.value = std::round(rng.uniform(84, 88));
          b.taint(dia.front()).value = s.value - 5;
          b.taint(mean.front()).value = s.value + std::round(rng.uniform(8, 15));
          changed = {sys.front(), dia.front(), mean.front()};
          what = "systolic below 90 under a higher mean, pulse pressure 5";
          break;
        }
      }
      artefact_label(b, k, what, vital_kind::nibp_systolic, 0, changed);
      break;
    }
    case label_kind::isolated_extreme: {
      const int v = rng.integer(0, 2);
      const vital_kind kind = v == 2 ? vital_kind::respiratory_rate : vital_kind::heart_rate;
      const auto which = b.next(kind, 0, t, 1);
      auto& s = b.taint(which.front());
      if (v == 0) s.value = std::round(rng.uniform(8, 14));
      if (v == 1) s.value = std::round(rng.uniform(240, 260));
      if (v == 2) s.value = std::round(rng.uniform(1, 3));
      artefact_label(b, k,
                     v == 0   ? "one heart_rate 8-14 between normal readings"
                     : v == 1 ? "one heart_rate 240-260 between normal readings"
                              : "one respiratory_rate 1-3 between normal readings",
                     kind, 0, which);
      break;
    }
    default: {  // zero_no_signal: the device sends 0 with quality ok for "no signal"
      const int v = rng.integer(0, 2);
      const vital_kind kind = v == 0 ? vital_kind::heart_rate : v == 1 ? vital_kind::spo2 : vital_kind::respiratory_rate;
      const auto n = static_cast<std::size_t>(per_second ? rng.integer(3, 40) : rng.integer(1, 3));
      const auto which = b.next(kind, 0, t, n);
      for (auto i : which) b.taint(i).value = 0;
      const std::string run = per_second ? (n < 10 ? "3-9 s" : n < 30 ? "10-29 s" : "30-40 s")
                                         : (n == 1 ? "1 reading" : "2-3 readings");
      artefact_label(b, label_kind::zero_no_signal, fmt::format("{} 0 for {}, quality ok", model::name(kind), run), kind, 0,
                     which);
      break;
    }
  }
}

std::uint32_t seed_of(group g, cadence c, int index) {
  return 20'130u + 1'000u * static_cast<std::uint32_t>(g) + 100u * static_cast<std::uint32_t>(c) +
         static_cast<std::uint32_t>(index);
}

std::string offset(millis d) {
  const char* sign = d < 0 ? "-" : "+";
  if (d < 0) d = -d;
  const millis h = d / (60 * minute);
  const millis m = d / minute % 60;
  const millis s = d / sec % 60;
  const millis ms = d % sec;
  if (ms != 0) return fmt::format("{}{}h{:02}m{:02}.{:03}s", sign, h, m, s, ms);
  return fmt::format("{}{}h{:02}m{:02}s", sign, h, m, s);
}

const label* attribute(const session& s, const std::string& rule, millis at) {
  const label* found = nullptr;
  for (const auto& l : s.labels) {
    if (is_true_event(l.kind)) continue;
    if (at < l.start || at > l.window_end) continue;
    if (std::find(l.forbidden.begin(), l.forbidden.end(), rule) == l.forbidden.end()) continue;
    if (found == nullptr || l.start >= found->start) found = &l;
  }
  return found;
}

std::string describe(const session& s, const label& l) {
  return fmt::format("{} [{}] {} \"{}\" ({} from {}) start dose{} end dose{}", s.id, name(s.rate), name(l.kind), l.variant,
                     model::name(l.vital), l.source, offset(l.start - s.dose_at), offset(l.end - s.dose_at));
}

}  // namespace

millis interval(cadence c) noexcept { return c == cadence::per_second ? sec : minute; }
std::string_view name(cadence c) noexcept { return c == cadence::per_second ? "1 Hz" : "1/min"; }
std::string_view slug(cadence c) noexcept { return c == cadence::per_second ? "1hz" : "per_minute"; }

std::string_view name(group g) noexcept {
  switch (g) {
    case group::events: return "events";
    case group::artefacts: return "artefacts";
    case group::uneventful: return "uneventful";
  }
  return "unknown";
}

std::string_view name(label_kind k) noexcept {
  switch (k) {
    case label_kind::desaturation: return "desaturation";
    case label_kind::hypertensive_response: return "hypertensive_response";
    case label_kind::bradycardia: return "bradycardia";
    case label_kind::oximeter_tachycardia: return "oximeter_tachycardia";
    case label_kind::apnoea: return "apnoea";
    case label_kind::sensor_off_ecg: return "sensor_off_ecg";
    case label_kind::sensor_off_oximeter: return "sensor_off_oximeter";
    case label_kind::sensor_off_cuff: return "sensor_off_cuff";
    case label_kind::sensor_off_respiration: return "sensor_off_respiration";
    case label_kind::cross_source: return "cross_source";
    case label_kind::impossible_step: return "impossible_step";
    case label_kind::bp_inconsistent: return "bp_inconsistent";
    case label_kind::isolated_extreme: return "isolated_extreme";
    case label_kind::zero_no_signal: return "zero_no_signal";
    case label_kind::ecg_stops: return "ecg_stops";
  }
  return "unknown";
}

bool is_true_event(label_kind k) noexcept { return k < label_kind::cross_source || k == label_kind::ecg_stops; }

const std::vector<label_kind>& true_event_kinds() {
  static const std::vector<label_kind> kinds{
      label_kind::desaturation,   label_kind::hypertensive_response, label_kind::bradycardia,
      label_kind::oximeter_tachycardia, label_kind::apnoea,         label_kind::sensor_off_ecg,
      label_kind::sensor_off_oximeter,  label_kind::sensor_off_cuff, label_kind::sensor_off_respiration,
      label_kind::ecg_stops};
  return kinds;
}

const std::vector<label_kind>& artefact_kinds() {
  static const std::vector<label_kind> kinds{label_kind::cross_source, label_kind::impossible_step,
                                             label_kind::bp_inconsistent, label_kind::isolated_extreme,
                                             label_kind::zero_no_signal};
  return kinds;
}

double session::patient_hours() const noexcept {
  return static_cast<double>(close_at - open_at) / static_cast<double>(60 * minute);
}

std::vector<session> build(group g, cadence c) {
  std::vector<session> out;
  const bool per_second = c == cadence::per_second;
  int sessions = 0;
  switch (g) {
    case group::events: sessions = event_sessions; break;
    case group::artefacts: sessions = per_second ? artefact_sessions_1hz : artefact_sessions_min; break;
    case group::uneventful: sessions = per_second ? uneventful_sessions_1hz : uneventful_sessions_min; break;
  }
  int counter = 0;  // events and artefacts take their kinds in turn across the sessions
  for (int n = 0; n < sessions; ++n) {
    builder b(g, c, n, seed_of(g, c, n));
    const millis dose = b.peek().dose_at;
    if (g == group::events) {
      for (int j = 0; j < events_per_session; ++j, ++counter) {
        const millis t = dose + 10 * minute + j * 20 * minute + b.rng().integer(0, 60) * sec;
        true_event(b, counter % 12, t);
      }
    } else if (g == group::artefacts) {
      const int slots = per_second ? 24 : 12;
      for (int j = 0; j < slots; ++j, ++counter) {
        const millis t = per_second ? dose + 150 * sec + j * 5 * minute + b.rng().integer(0, 20) * sec
                                    : dose + 5 * minute + j * 10 * minute + b.rng().integer(0, 30) * sec;
        artefact(b, artefact_kinds()[static_cast<std::size_t>(counter % 5)], t);
      }
    }
    out.push_back(b.finish());
  }
  return out;
}

engine::profile after_profile() { return engine::generic_profile(); }

engine::profile before_profile() {
  auto p = engine::generic_profile();
  for (auto& r : p.limits) r.min_readings = 1;
  p.news2.min_readings = 1;
  p.artefacts.enabled = false;  // no artefact judgement in context (alarms.md 3.6)
  return p;
}

std::vector<event> run(const session& s, const engine::profile& p, bool with_artefacts) {
  engine::engine eng(std::vector<engine::profile>{p});
  std::vector<event> out;
  std::vector<std::pair<millis, std::uint64_t>> acks;  // due time, alarm: in time order
  std::size_t next_ack = 0;
  auto drain = [&] {
    for (auto& e : eng.take_events()) {
      if (e.type == event_type::alarm_raised && e.kind == engine::alarm_kind::physiological) {
        acks.emplace_back(e.at + ack_after, e.alarm);
      }
      out.push_back(std::move(e));
    }
  };
  const std::string sources[2] = {std::string(monitor), std::string(oximeter)};
  const millis first = s.samples.empty() ? s.open_at : s.samples.front().sample.time_ms;
  eng.on_device(s.chair, true, first);
  std::vector<model::vital_sample> batch;
  int step = 0;  // 0 open, 1 dose, 2 close, 3 done
  millis tick = first;
  std::size_t i = 0;
  while (step < 3) {
    while (i < s.samples.size() && with_artefacts == false && s.samples[i].artefact >= 0 && !s.samples[i].replaces) ++i;
    const millis ts = i < s.samples.size() ? s.samples[i].sample.time_ms : never;
    const millis tc = step == 0 ? s.open_at : step == 1 ? s.dose_at : s.close_at;
    const millis ta = next_ack < acks.size() ? acks[next_ack].first : never;
    if (ts <= tc && ts <= tick && ts <= ta && ts != never) {  // at one instant: samples, commands, tick, acks
      // One device message: the source's samples within batch_span of the first, as a monitor
      // sends the numerics of one moment (and the parts of a cuff reading) together.
      const std::size_t from = s.samples[i].source;
      batch.clear();
      for (; i < s.samples.size() && s.samples[i].source == from && s.samples[i].sample.time_ms - ts <= batch_span; ++i) {
        const auto& it = s.samples[i];
        if (!with_artefacts && it.artefact >= 0 && !it.replaces) continue;
        batch.push_back(with_artefacts || it.artefact < 0 ? it.sample : it.clean);
      }
      eng.on_samples(s.chair, batch, sources[from]);
    } else if (tc <= tick && tc <= ta) {
      if (step == 0) eng.apply(engine::open_session{s.chair, "patient-" + s.id, p.id, "nurse-a"}, tc);
      if (step == 1) eng.apply(engine::mark_dose{s.chair, "iv", "0.5 mg/kg over 40 min", "dr-b"}, tc);
      if (step == 2) eng.apply(engine::close_session{s.chair, "nurse-a", false, {}}, tc);
      ++step;
    } else if (tick <= ta) {
      eng.advance(s.chair, tick);
      tick += sec;
    } else {
      eng.apply(engine::acknowledge{s.chair, acks[next_ack++].second, "nurse-a"}, ta);
    }
    drain();
  }
  return out;
}

std::vector<episode> episodes(const std::vector<event>& events) {
  std::vector<episode> out;
  std::map<std::uint64_t, std::size_t> index;
  for (const auto& e : events) {
    if (e.alarm == 0 || e.session == 0) continue;
    if (e.type == event_type::alarm_raised) {
      index[e.alarm] = out.size();
      out.push_back(episode{e.alarm, e.rule, e.kind, e.at, std::nullopt, {}});
      continue;
    }
    const auto found = index.find(e.alarm);
    if (found == index.end()) continue;
    auto& ep = out[found->second];
    if (e.type == event_type::alarm_cleared) ep.cleared_at = e.at;
    if (e.type == event_type::alarm_escalated || e.type == event_type::alarm_resounded) ep.sounded.push_back(e.at);
  }
  return out;
}

std::vector<verdict> judge_events(const session& s, const std::vector<event>& events) {
  std::vector<verdict> out;
  for (const auto& l : s.labels) {
    if (!is_true_event(l.kind)) continue;
    verdict v{&l, false, {}};
    std::optional<millis> raised;
    std::string seen;
    for (const auto& e : events) {
      if (e.type != event_type::alarm_raised || e.at < l.start) continue;
      if (e.rule == l.expected && !raised) raised = e.at;
      if (e.at <= l.deadline + 10 * minute && seen.size() < 300) seen += fmt::format(" {} at dose{};", e.rule, offset(e.at - s.dose_at));
    }
    v.ok = raised && *raised <= l.deadline;
    if (v.ok) {
      v.what = fmt::format("{}: {} raised at dose{} (due dose{}, bound dose{})", describe(s, l), l.expected,
                           offset(*raised - s.dose_at), offset(l.due - s.dose_at), offset(l.deadline - s.dose_at));
    } else {
      v.what = fmt::format("{}: expected {} by dose{} (due dose{}); {}; raised from the start until 10 min after the "
                           "bound:{}",
                           describe(s, l), l.expected, offset(l.deadline - s.dose_at), offset(l.due - s.dose_at),
                           raised ? fmt::format("it came at dose{}, {} ms late", offset(*raised - s.dose_at),
                                                *raised - l.deadline)
                                  : std::string("it never came"),
                           seen.empty() ? " none" : seen);
    }
    out.push_back(std::move(v));
  }
  return out;
}

std::vector<verdict> judge_artefacts(const session& s, const std::vector<event>& with, const std::vector<event>& without) {
  std::vector<verdict> out;
  std::map<const label*, std::string> harm;
  auto blame = [&](const std::string& rule, millis at, const std::string& what) {
    const label* l = attribute(s, rule, at);
    if (l == nullptr) {
      out.push_back(verdict{nullptr, false, fmt::format("{} [{}]: {} at dose{}, no artefact label explains it", s.id,
                                                        name(s.rate), what, offset(at - s.dose_at))});
      return;
    }
    auto& text = harm[l];
    if (text.size() < 400) text += fmt::format(" {} at dose{};", what, offset(at - s.dose_at));
  };
  const auto real = episodes(with);
  const auto clean = episodes(without);
  for (const auto& e : real) {
    if (e.kind != engine::alarm_kind::physiological) continue;
    const auto twin = std::find_if(clean.begin(), clean.end(), [&](const episode& c) {
      return c.rule == e.rule && c.raised_at == e.raised_at;
    });
    if (twin == clean.end()) {
      blame(e.rule, e.raised_at, fmt::format("raised {}", e.rule));
      continue;
    }
    const millis ends = e.cleared_at.value_or(never);
    const millis clean_ends = twin->cleared_at.value_or(never);
    if (ends > clean_ends) blame(e.rule, clean_ends, fmt::format("prolonged {} (cleared later than without it)", e.rule));
    for (auto t : e.sounded) {
      if (std::find(twin->sounded.begin(), twin->sounded.end(), t) == twin->sounded.end()) {
        blame(e.rule, t, fmt::format("revived {} (sounded again)", e.rule));
        break;
      }
    }
  }
  for (const auto& l : s.labels) {
    if (is_true_event(l.kind)) continue;
    const auto h = harm.find(&l);
    if (h == harm.end()) {
      out.push_back(verdict{&l, true, describe(s, l) + ": no physiological alarm touched"});
    } else {
      out.push_back(verdict{&l, false, describe(s, l) + ":" + h->second});
    }
  }
  return out;
}

std::vector<verdict> same_instant(const session& s, const std::vector<event>& events) {
  std::vector<verdict> out;
  for (const auto& e : episodes(events)) {
    if (e.cleared_at && *e.cleared_at == e.raised_at) {
      out.push_back(verdict{nullptr, false, fmt::format("{} [{}]: {} raised and cleared at dose{}", s.id, name(s.rate),
                                                        e.rule, offset(e.raised_at - s.dose_at))});
    }
  }
  return out;
}

std::vector<verdict> unexplained_stale(const session& s, const std::vector<event>& events) {
  std::vector<verdict> out;
  for (const auto& e : events) {
    if (e.type != event_type::alarm_raised || e.rule.rfind("stale_", 0) != 0) continue;
    // A run of zeros ("no signal", judged artefacts that keep no stream alive: alarms.md 3.6) as
    // long as the stream's freshness limit is a stream without readings, and stale.
    const auto stale_rule_of = [](model::vital_kind k) {
      return k == model::vital_kind::spo2               ? "stale_spo2"
             : k == model::vital_kind::respiratory_rate ? "stale_respiratory_rate"
                                                        : "stale_heart_rate";
    };
    const millis every = interval(s.rate);
    const bool explained = std::any_of(s.labels.begin(), s.labels.end(), [&](const label& l) {
      if (l.kind == label_kind::zero_no_signal) {
        // Zeros from the ECG alone: the heart rate still comes from the pulse, the ECG is stale.
        const bool rule = e.rule == stale_rule_of(l.vital) || (l.vital == model::vital_kind::heart_rate && e.rule == "stale_ecg");
        return rule && e.at >= l.start && e.at <= l.end + every;
      }
      return l.expected == e.rule && e.at >= l.start && e.at <= l.deadline;
    });
    if (!explained) {
      out.push_back(verdict{nullptr, false, fmt::format("{} [{}]: {} raised at dose{} ({})", s.id, name(s.rate), e.rule,
                                                        offset(e.at - s.dose_at), e.text)});
    }
  }
  return out;
}

std::string when(const session& s, millis at) { return "dose" + offset(at - s.dose_at); }

}  // namespace vigil::corpus
