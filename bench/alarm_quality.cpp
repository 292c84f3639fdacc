// Alarm quality on the labelled corpus (tests/corpus, docs/alarm-quality.md): runs every session
// of the corpus through the engine twice, with the engine as it was before issue 13 and as it is
// now, and prints, per cadence and overall, markdown tables of
//   - patient-hours and alarms per patient-hour (all, physiological, technical; by rule);
//   - sensitivity for the labelled true events (alarm raised within its bound / events);
//   - false physiological alarms per patient-hour on the artefact sessions, and the artefacts
//     that raised, prolonged or revived a physiological alarm;
//   - alarms per patient-hour on uneventful sessions.
// Exit status 0 whatever the figures: it reports, the corpus test judges.
//
// Usage: alarm_quality [--rules]   (--rules: add the alarms per patient-hour by rule)

#include "tests/corpus/corpus.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace {

namespace corpus = vigil::corpus;
using corpus::cadence;
using corpus::group;
using corpus::label_kind;
using vigil::engine::alarm_kind;

struct ratio {
  std::size_t hit = 0;
  std::size_t of = 0;
  std::string text() const {
    return of == 0 ? std::string("-")
                   : fmt::format("{}/{} ({:.1f} %)", hit, of, 100.0 * static_cast<double>(hit) / static_cast<double>(of));
  }
};

struct counts {
  double hours = 0;
  std::size_t sessions = 0;
  std::size_t physiological = 0;
  std::size_t technical = 0;
  std::map<std::string, std::size_t> by_rule;
  void add(const counts& o) {
    hours += o.hours;
    sessions += o.sessions;
    physiological += o.physiological;
    technical += o.technical;
    for (const auto& [r, n] : o.by_rule) by_rule[r] += n;
  }
  double per_hour(std::size_t n) const { return hours == 0 ? 0 : static_cast<double>(n) / hours; }
};

struct result {
  std::map<group, counts> groups;
  std::map<label_kind, ratio> detected;     // true events
  std::map<label_kind, ratio> touched;      // artefacts that touched a physiological alarm
  std::map<std::string, ratio> touched_by_variant;
  std::size_t false_physiological = 0;      // on artefact sessions, absent without the artefacts
  std::size_t same_instant = 0;
  std::size_t unexplained_stale = 0;
};

result measure(const vigil::engine::profile& p, cadence c) {
  result r;
  for (auto g : {group::events, group::artefacts, group::uneventful}) {
    auto& n = r.groups[g];
    for (const auto& s : corpus::build(g, c)) {
      const auto events = corpus::run(s, p, true);
      n.hours += s.patient_hours();
      ++n.sessions;
      for (const auto& e : corpus::episodes(events)) {
        if (e.kind == alarm_kind::advisory) continue;
        (e.kind == alarm_kind::physiological ? n.physiological : n.technical) += 1;
        ++n.by_rule[e.rule];
      }
      r.same_instant += corpus::same_instant(s, events).size();
      r.unexplained_stale += corpus::unexplained_stale(s, events).size();
      if (g == group::events) {
        for (const auto& v : corpus::judge_events(s, events)) {
          auto& d = r.detected[v.of->kind];
          ++d.of;
          d.hit += v.ok ? 1 : 0;
        }
      }
      if (g == group::artefacts) {
        const auto clean = corpus::run(s, p, false);
        const auto clean_episodes = corpus::episodes(clean);
        for (const auto& e : corpus::episodes(events)) {
          if (e.kind != alarm_kind::physiological) continue;
          const bool also_clean = std::any_of(clean_episodes.begin(), clean_episodes.end(), [&](const auto& x) {
            return x.rule == e.rule && x.raised_at == e.raised_at;
          });
          if (!also_clean) ++r.false_physiological;
        }
        for (const auto& v : corpus::judge_artefacts(s, events, clean)) {
          if (v.of == nullptr) continue;
          auto& t = r.touched[v.of->kind];
          auto& tv = r.touched_by_variant[std::string(corpus::name(v.of->kind)) + ": " + v.of->variant];
          ++t.of;
          ++tv.of;
          t.hit += v.ok ? 0 : 1;
          tv.hit += v.ok ? 0 : 1;
        }
      }
    }
  }
  return r;
}

ratio sum(const std::map<label_kind, ratio>& m) {
  ratio t;
  for (const auto& [k, v] : m) {
    t.hit += v.hit;
    t.of += v.of;
  }
  return t;
}

counts all_groups(const result& r) {
  counts t;
  for (const auto& [g, n] : r.groups) t.add(n);
  return t;
}

std::string rate(const counts& n, std::size_t k) { return fmt::format("{:.2f}", n.per_hour(k)); }

void print_profile(std::string_view title, const std::map<cadence, result>& rs, bool rules) {
  fmt::print("\n## {}\n\n", title);
  fmt::print("| cadence | sessions | patient-hours | alarms / patient-hour | physiological / h | technical / h | "
             "uneventful: alarms / h | sensitivity (true events) | false physiological / h (artefact sessions) | "
             "artefacts touching a physiological alarm |\n");
  fmt::print("|---|---|---|---|---|---|---|---|---|---|\n");
  result overall;
  for (const auto& [c, r] : rs) {
    const auto all = all_groups(r);
    const auto& quiet = r.groups.at(group::uneventful);
    const auto& art = r.groups.at(group::artefacts);
    fmt::print("| {} | {} | {:.1f} | {} | {} | {} | {} | {} | {:.2f} | {} |\n", corpus::name(c), all.sessions, all.hours,
               rate(all, all.physiological + all.technical), rate(all, all.physiological), rate(all, all.technical),
               rate(quiet, quiet.physiological + quiet.technical), sum(r.detected).text(),
               art.per_hour(r.false_physiological), sum(r.touched).text());
    for (const auto& [g, n] : r.groups) overall.groups[g].add(n);
    for (const auto& [k, v] : r.detected) {
      overall.detected[k].hit += v.hit;
      overall.detected[k].of += v.of;
    }
    for (const auto& [k, v] : r.touched) {
      overall.touched[k].hit += v.hit;
      overall.touched[k].of += v.of;
    }
    overall.false_physiological += r.false_physiological;
    overall.same_instant += r.same_instant;
    overall.unexplained_stale += r.unexplained_stale;
  }
  {
    const auto all = all_groups(overall);
    const auto& quiet = overall.groups.at(group::uneventful);
    const auto& art = overall.groups.at(group::artefacts);
    fmt::print("| both | {} | {:.1f} | {} | {} | {} | {} | {} | {:.2f} | {} |\n", all.sessions, all.hours,
               rate(all, all.physiological + all.technical), rate(all, all.physiological), rate(all, all.technical),
               rate(quiet, quiet.physiological + quiet.technical), sum(overall.detected).text(),
               art.per_hour(overall.false_physiological), sum(overall.touched).text());
  }
  fmt::print("\nAlarms raised and cleared at one instant: {}. Stale alarms not explained by a labelled stop: {}.\n",
             overall.same_instant, overall.unexplained_stale);

  fmt::print("\nBy group (alarms / patient-hour: all, physiological, technical):\n\n");
  fmt::print("| group | cadence | sessions | patient-hours | all | physiological | technical |\n|---|---|---|---|---|---|---|\n");
  for (auto g : {group::events, group::artefacts, group::uneventful}) {
    for (const auto& [c, r] : rs) {
      const auto& n = r.groups.at(g);
      fmt::print("| {} | {} | {} | {:.1f} | {} | {} | {} |\n", corpus::name(g), corpus::name(c), n.sessions, n.hours,
                 rate(n, n.physiological + n.technical), rate(n, n.physiological), rate(n, n.technical));
    }
  }

  fmt::print("\nSensitivity by kind of true event (alarm within its bound / events):\n\n");
  fmt::print("| true event | 1 Hz | 1/min |\n|---|---|---|\n");
  for (auto k : corpus::true_event_kinds()) {
    fmt::print("| {} | {} | {} |\n", corpus::name(k), rs.at(cadence::per_second).detected.count(k) ? rs.at(cadence::per_second).detected.at(k).text() : "-",
               rs.at(cadence::per_minute).detected.count(k) ? rs.at(cadence::per_minute).detected.at(k).text() : "-");
  }

  fmt::print("\nArtefacts that raised, prolonged or revived a physiological alarm (touched / artefacts):\n\n");
  fmt::print("| artefact | 1 Hz | 1/min |\n|---|---|---|\n");
  for (auto k : corpus::artefact_kinds()) {
    fmt::print("| {} | {} | {} |\n", corpus::name(k), rs.at(cadence::per_second).touched.at(k).text(),
               rs.at(cadence::per_minute).touched.at(k).text());
  }
  std::map<std::string, std::pair<ratio, ratio>> variants;
  for (const auto& [v, t] : rs.at(cadence::per_second).touched_by_variant) variants[v].first = t;
  for (const auto& [v, t] : rs.at(cadence::per_minute).touched_by_variant) variants[v].second = t;
  fmt::print("\nBy variant:\n\n| artefact: variant | 1 Hz | 1/min |\n|---|---|---|\n");
  for (const auto& [v, t] : variants) fmt::print("| {} | {} | {} |\n", v, t.first.text(), t.second.text());

  if (rules) {
    fmt::print("\nAlarms per patient-hour by rule (all sessions of the cadence):\n\n| rule | 1 Hz | 1/min |\n|---|---|---|\n");
    std::map<std::string, std::pair<double, double>> by_rule;
    const auto a = all_groups(rs.at(cadence::per_second));
    const auto b = all_groups(rs.at(cadence::per_minute));
    for (const auto& [rule, n] : a.by_rule) by_rule[rule].first = a.per_hour(n);
    for (const auto& [rule, n] : b.by_rule) by_rule[rule].second = b.per_hour(n);
    for (const auto& [rule, v] : by_rule) fmt::print("| {} | {:.2f} | {:.2f} |\n", rule, v.first, v.second);
  }
}

}  // namespace

int main(int argc, char** argv) {
  const bool rules = argc > 1 && std::string_view(argv[1]) == "--rules";
  fmt::print("# Alarm quality on the labelled corpus\n");
  fmt::print("\nCorpus: tests/corpus (docs/alarm-quality.md). A nurse acknowledges every physiological alarm 60 s after "
             "it is raised.\n");
  std::map<cadence, result> before;
  std::map<cadence, result> after;
  for (auto c : {cadence::per_second, cadence::per_minute}) {
    before[c] = measure(corpus::before_profile(), c);
    after[c] = measure(corpus::after_profile(), c);
  }
  print_profile("Before: generic profile, every limit rule and NEWS2 confirmed by one reading", before, rules);
  print_profile("After: generic profile (today's engine)", after, rules);
  return 0;
}
