// Artefact judgement (docs/alarms.md sections 3.2 and 3.6): which samples the physiological
// rules may see. A device flags some samples itself; others it sends as good, and the context
// (the other rate, the source's previous readings, the other parts of a cuff reading) shows
// they cannot be measurements.

#include "daemon/engine/core.hpp"

#include <cmath>

namespace vigil::engine {

std::string_view name(artefact_reason r) noexcept {
  switch (r) {
    case artefact_reason::none: return "none";
    case artefact_reason::zero_no_signal: return "zero_no_signal";
    case artefact_reason::rates_disagree: return "rates_disagree";
    case artefact_reason::impossible_step: return "impossible_step";
    case artefact_reason::cuff_implausible: return "cuff_implausible";
    case artefact_reason::cuff_inconsistent: return "cuff_inconsistent";
  }
  return "unknown";
}

namespace detail::artefact {
namespace {

/// How far a rate is outside 50-110 per minute (0 inside).
double off_normal(double rate) { return std::max({0.0, 50.0 - rate, rate - 110.0}); }

/// The latest current usable value of `kind` from any source (the one applied last), unless
/// that source's latest sample of the kind was judged an artefact: a stream in dispute is no
/// reference (a real change seen by both rates would otherwise judge each against the other).
std::optional<double> reference_value(const chair_state& c, vital_kind kind) {
  const source_state* from = nullptr;
  for (const auto& src : c.sources) {
    const auto& v = src.latest[slot(kind)];
    if (v && current(c, src, kind) && (from == nullptr || v->heard > from->latest[slot(kind)]->heard)) from = &src;
  }
  if (from == nullptr || !undisputed(c, *from, kind)) return std::nullopt;
  return from->latest[slot(kind)]->value;
}

double step_of(const artefact_rules& a, vital_kind kind) {
  switch (kind) {
    case vital_kind::spo2: return a.spo2_step;
    case vital_kind::heart_rate:
    case vital_kind::pulse_rate: return a.heart_step;
    case vital_kind::respiratory_rate: return a.respiratory_step;
    default: return 0;
  }
}

/// A cuff part below any pressure a cuff can measure on a living patient.
bool below_floor(const artefact_rules& a, vital_kind kind, double v) {
  switch (kind) {
    case vital_kind::nibp_systolic: return v < a.systolic_min;
    case vital_kind::nibp_diastolic: return v < a.diastolic_min;
    case vital_kind::nibp_mean: return v < a.mean_min;
    default: return false;
  }
}

/// The part of kind `kind` of the cuff reading `s` belongs to: a sample of that kind sent with `s`
/// in its batch, as usable, neither 0 (no signal) nor below its floor, within the reading's span
/// of `s` (the nearest in time, the first on a tie); else the source's latest usable value of
/// the kind if its sample time is within the span.
std::optional<double> cuff_part(const artefact_rules& a, const source_state& src, const model::vital_sample& s,
                                std::span<const model::vital_sample> batch, vital_kind kind) {
  const model::vital_sample* best = nullptr;
  for (const auto& p : batch) {
    if (p.kind != kind || !usable(p) || (a.zero_is_no_signal && p.value == 0) || below_floor(a, kind, p.value)) continue;
    const millis d = std::abs(p.time_ms - s.time_ms);
    if (d <= a.cuff_reading_ms && (best == nullptr || d < std::abs(best->time_ms - s.time_ms))) best = &p;
  }
  if (best != nullptr) return best->value;
  const auto& v = src.latest[slot(kind)];
  if (!v || std::abs(v->at - s.time_ms) > a.cuff_reading_ms) return std::nullopt;
  return v->value;
}

artefact_reason judge_cuff(const artefact_rules& a, const source_state& src, const model::vital_sample& s,
                           std::span<const model::vital_sample> batch) {
  if (below_floor(a, s.kind, s.value)) return artefact_reason::cuff_implausible;
  auto part = [&](vital_kind k) { return k == s.kind ? std::optional<double>(s.value) : cuff_part(a, src, s, batch, k); };
  const auto sys = part(vital_kind::nibp_systolic);
  const auto dia = part(vital_kind::nibp_diastolic);
  const auto mean = part(vital_kind::nibp_mean);
  if (sys && dia) {
    const double pp = *sys - *dia;
    if (pp < a.pulse_pressure_min || pp > a.pulse_pressure_max) return artefact_reason::cuff_inconsistent;
  }
  if (mean && ((sys && !(*sys > *mean)) || (dia && !(*mean > *dia)))) return artefact_reason::cuff_inconsistent;
  return artefact_reason::none;
}

}  // namespace

bool usable(const model::vital_sample& s) {
  namespace quality = model::quality;
  return (s.quality & (quality::artifact | quality::implausible | quality::sensor_off)) == 0;
}

artefact_reason judge(const chair_state& c, const source_state& src, const model::vital_sample& s,
                      std::span<const model::vital_sample> batch) {
  const auto& a = c.s->prof->artefacts;
  if (!a.enabled) return artefact_reason::none;
  if (a.zero_is_no_signal && s.value == 0) return artefact_reason::zero_no_signal;
  if (is_cuff(s.kind)) return judge_cuff(a, src, s, batch);
  if (s.kind == vital_kind::heart_rate || s.kind == vital_kind::pulse_rate) {
    const auto other = reference_value(c, s.kind == vital_kind::heart_rate ? vital_kind::pulse_rate : vital_kind::heart_rate);
    if (other && std::abs(s.value - *other) > a.rate_disagreement_bpm && off_normal(s.value) > off_normal(*other)) {
      return artefact_reason::rates_disagree;
    }
  }
  // A step from the source's current value that its previous reading did not lead up to.
  const double step = step_of(a, s.kind);
  const auto& latest = src.latest[slot(s.kind)];
  const auto& sent = src.last_sent[slot(s.kind)];
  if (step > 0 && latest && current(c, src, s.kind) && std::abs(s.value - latest->value) > step &&
      (!sent || std::abs(s.value - *sent) > step)) {
    return artefact_reason::impossible_step;
  }
  return artefact_reason::none;
}

}  // namespace detail::artefact
}  // namespace vigil::engine
