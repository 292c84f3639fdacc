#include "daemon/report/burden_export.hpp"

#include <vector>

namespace vigil::report {

v1::BurdenFigures to_proto(const burden_counts& c, millis patient_ms) {
  v1::BurdenFigures out;
  out.set_alarms(c.alarms);
  if (const auto rate = per_patient_hour(c.alarms, patient_ms)) out.set_per_patient_hour(*rate);
  out.set_short_alarms(c.short_alarms);
  if (const auto part = share(c.short_alarms, c.alarms)) out.set_short_share(*part);
  out.set_acknowledged(c.acknowledged);
  if (const auto part = share(c.acknowledged, c.alarms)) out.set_acknowledged_share(*part);
  if (const auto median = percentile(c.ack_ms, 50)) out.set_ack_median_ms(*median);
  if (const auto p90 = percentile(c.ack_ms, 90)) out.set_ack_p90_ms(*p90);
  out.set_alarm_ms(c.alarm_ms);
  return out;
}

v1::AlarmBurden to_proto(const alarm_burden& b) {
  v1::AlarmBurden out;
  out.set_sessions(b.sessions);
  out.set_patient_ms(b.patient_ms);
  out.set_patient_hours(static_cast<double>(b.patient_ms) / 3'600'000.0);
  *out.mutable_all() = to_proto(b.all, b.patient_ms);
  for (std::size_t i = 0; i < b.by_priority.size(); ++i) {
    auto& p = *out.add_priorities();
    p.set_priority(static_cast<v1::Priority>(i + 1));
    *p.mutable_figures() = to_proto(b.by_priority[i], b.patient_ms);
  }
  for (std::size_t i = 0; i < b.by_kind.size(); ++i) {
    auto& k = *out.add_kinds();
    k.set_kind(static_cast<v1::AlarmKind>(i + 1));
    *k.mutable_figures() = to_proto(b.by_kind[i], b.patient_ms);
  }
  for (const auto& [key, counts] : b.by_rule) {
    auto& r = *out.add_rules();
    r.set_rule(key.rule);
    r.set_kind(static_cast<v1::AlarmKind>(static_cast<int>(key.kind)));
    r.set_priority(static_cast<v1::Priority>(static_cast<int>(key.level)));
    *r.mutable_figures() = to_proto(counts, b.patient_ms);
  }
  return out;
}

std::optional<v1::AlarmBurden> stored_burden(store::reader& reader, const burden_query& q, millis now_ms) {
  std::vector<store::session_summary> chosen;
  bool limited = false;
  if (q.session) {
    auto one = reader.session(*q.session);
    if (!one) return std::nullopt;
    chosen.push_back(std::move(*one));
  } else {
    for (auto& s : reader.sessions(0)) {  // newest first
      if (s.opened_ms < q.since_ms) continue;
      if (chosen.size() == q.limit) {
        limited = true;
        break;
      }
      chosen.push_back(std::move(s));
    }
  }
  // One session's events at a time: a year of sessions is never held in memory at once.
  burden_tally overall;
  std::vector<v1::SessionBurden> rows;
  rows.reserve(chosen.size());
  const auto now = [now_ms](std::uint64_t) { return now_ms; };
  for (const auto& s : chosen) {
    const auto events = reader.session_events(s.id);
    burden_tally one;
    one.watch_session(s.id, s.opened_ms);
    overall.watch_session(s.id, s.opened_ms);
    for (const auto& e : events) {
      if (e.session != s.id) continue;
      one.add(e);
      overall.add(e);
    }
    const auto figures = one.figures(now);
    auto& row = rows.emplace_back();
    row.set_session_id(s.id);
    row.set_chair_id(s.chair_id);
    row.set_profile(s.profile);
    row.set_opened_ms(s.opened_ms);
    if (s.closed_ms) row.set_closed_ms(*s.closed_ms);
    row.set_patient_ms(figures.patient_ms);
    *row.mutable_figures() = to_proto(figures.all, figures.patient_ms);
  }
  auto out = to_proto(overall.figures(now));
  out.set_since_ms(q.session ? 0 : q.since_ms);
  out.set_now_ms(now_ms);
  out.set_limited(limited);
  for (auto& row : rows) *out.add_per_session() = std::move(row);
  return out;
}

}  // namespace vigil::report
