#include "daemon/report/alarm_burden.hpp"

#include <algorithm>
#include <cmath>

namespace vigil::report {
namespace {

std::size_t slot(engine::priority p) { return std::clamp<std::size_t>(static_cast<std::size_t>(p), 1, 3) - 1; }
std::size_t slot(engine::alarm_kind k) { return std::clamp<std::size_t>(static_cast<std::size_t>(k), 1, 3) - 1; }

/// Calls `f` with every group an alarm of `key` belongs to.
template <class F>
void each_group(alarm_burden& b, const rule_key& key, F f) {
  f(b.all);
  f(b.by_rule[key]);
  f(b.by_priority[slot(key.level)]);
  f(b.by_kind[slot(key.kind)]);
}

}  // namespace

void burden_tally::watch_session(std::uint64_t session, millis from) {
  if (session == 0 || open_.contains(session)) return;
  open_[session] = {from, from};
  ++sessions_;
}

void burden_tally::add(const engine::event& e) {
  using engine::event_type;
  if (e.session == 0) return;
  if (e.type == event_type::session_opened || e.type == event_type::alarm_raised) watch_session(e.session, e.at);
  if (const auto it = open_.find(e.session); it != open_.end()) it->second.last = std::max(it->second.last, e.at);

  switch (e.type) {
    case event_type::alarm_raised: {
      active_alarm a{e.session, {e.rule, e.kind, e.level}, e.at, false};
      each_group(done_, a.key, [](burden_counts& c) { ++c.alarms; });
      active_[e.alarm] = std::move(a);
      break;
    }
    case event_type::alarm_acknowledged: {
      const auto it = active_.find(e.alarm);
      if (it == active_.end() || it->second.acknowledged) break;
      it->second.acknowledged = true;
      const millis took = std::max<millis>(0, e.at - it->second.raised);
      const bool keep = keep_ack_times_;
      each_group(done_, it->second.key, [took, keep](burden_counts& c) {
        ++c.acknowledged;
        c.ack_sum_ms += took;
        for (std::size_t i = 0; i < ack_bounds_s.size(); ++i) {
          if (static_cast<double>(took) <= ack_bounds_s[i] * 1000.0) ++c.ack_buckets[i];
        }
        if (keep) c.ack_ms.insert(std::upper_bound(c.ack_ms.begin(), c.ack_ms.end(), took), took);
      });
      break;
    }
    case event_type::alarm_cleared: {
      const auto it = active_.find(e.alarm);
      if (it == active_.end()) break;
      finish(it->second, e.at);
      active_.erase(it);
      break;
    }
    case event_type::session_closed: {
      // The engine clears every alarm before the close; one left over ends with the session.
      for (auto it = active_.begin(); it != active_.end();) {
        if (it->second.session != e.session) {
          ++it;
          continue;
        }
        finish(it->second, e.at);
        it = active_.erase(it);
      }
      if (const auto it = open_.find(e.session); it != open_.end()) {
        closed_patient_ms_ += std::max<millis>(0, e.at - it->second.from);
        open_.erase(it);
      }
      break;
    }
    default: break;
  }
}

void burden_tally::finish(const active_alarm& a, millis cleared) {
  const millis lasted = std::max<millis>(0, cleared - a.raised);
  each_group(done_, a.key, [lasted](burden_counts& c) {
    c.alarm_ms += lasted;
    if (lasted < short_alarm_ms) ++c.short_alarms;
  });
}

alarm_burden burden_tally::figures(const std::function<millis(std::uint64_t session)>& now) const {
  alarm_burden out = done_;
  out.sessions = sessions_;
  out.patient_ms = closed_patient_ms_;
  std::map<std::uint64_t, millis> end;  // each open session's "now", asked once
  for (const auto& [id, s] : open_) {
    const millis at = std::max(now(id), s.last);
    end[id] = at;
    out.patient_ms += std::max<millis>(0, at - s.from);
  }
  for (const auto& [id, a] : active_) {
    const auto it = end.find(a.session);
    const millis at = std::max(it != end.end() ? it->second : now(a.session), a.raised);
    const millis lasted = at - a.raised;
    each_group(out, a.key, [lasted](burden_counts& c) { c.alarm_ms += lasted; });
  }
  return out;
}

std::vector<std::uint64_t> burden_tally::open_sessions() const {
  std::vector<std::uint64_t> out;
  out.reserve(open_.size());
  for (const auto& [id, s] : open_) out.push_back(id);
  return out;
}

alarm_burden burden_of(std::span<const burden_session> sessions, millis now) {
  burden_tally tally;
  for (const auto& s : sessions) {
    tally.watch_session(s.id, s.opened);
    for (const auto& e : s.events) {
      if (e.session == s.id) tally.add(e);
    }
  }
  return tally.figures([now](std::uint64_t) { return now; });
}

std::optional<double> per_patient_hour(std::uint64_t alarms, millis patient_ms) {
  if (patient_ms <= 0) return std::nullopt;
  return static_cast<double>(alarms) * 3'600'000.0 / static_cast<double>(patient_ms);
}

std::optional<double> share(std::uint64_t part, std::uint64_t whole) {
  if (whole == 0) return std::nullopt;
  return static_cast<double>(part) / static_cast<double>(whole);
}

std::optional<millis> percentile(std::span<const millis> ascending, double p) {
  if (ascending.empty() || !(p > 0) || p > 100) return std::nullopt;
  const auto n = static_cast<double>(ascending.size());
  auto rank = static_cast<std::size_t>(std::ceil(p * n / 100.0));
  rank = std::clamp<std::size_t>(rank, 1, ascending.size());
  return ascending[rank - 1];
}

}  // namespace vigil::report
