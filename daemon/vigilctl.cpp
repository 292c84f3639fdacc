// vigilctl: the operators' command line. Drives sessions through vigild's REST API (docs/api.md)
// and reads stored sessions through it from any machine that reaches the daemon; with --data-dir
// or --db it reads a timeline database file directly instead (read-only, no daemon needed).

#include "daemon/client/rest_client.hpp"
#include "daemon/model/identifiers.hpp"
#include "daemon/report/csv_export.hpp"
#include "daemon/report/html_report.hpp"
#include "daemon/report/json_export.hpp"
#include "daemon/report/session_record.hpp"
#include "daemon/store/salvage.hpp"
#include "daemon/store/postgres_timeline.hpp"
#include "daemon/store/sqlite_reader.hpp"
#include "vigil/v1/burden.pb.h"
#include "vigil/v1/control.pb.h"
#include "vigil/v1/timeline.pb.h"

#include <CLI/CLI.hpp>
#include <sodium.h>
#include <termios.h>
#include <unistd.h>
#include <boost/beast/http/verb.hpp>
#include <boost/system/system_error.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <regex>
#include <string>
#include <vector>

using vigil::v1::ControlResponse;

namespace {

namespace bh = boost::beast::http;
using vigil::client::reply;

ControlResponse parse_response(const reply& r) {
  ControlResponse out;
  if (!vigil::client::parse_json(r.body, out)) throw std::runtime_error("the daemon's answer is not the JSON expected");
  return out;
}

std::string clock_time(std::int64_t ms) {
  if (ms == 0) return "-";
  const std::time_t seconds = static_cast<std::time_t>(ms / 1000);
  std::tm local{};
  localtime_r(&seconds, &local);
  char text[16];
  std::strftime(text, sizeof text, "%H:%M:%S", &local);
  return text;
}

std::string_view phase_name(vigil::v1::Phase p) {
  switch (p) {
    case vigil::v1::PHASE_BASELINE: return "baseline";
    case vigil::v1::PHASE_OBSERVATION: return "observation";
    case vigil::v1::PHASE_READY: return "READY for discharge assessment";
    case vigil::v1::PHASE_CLOSED: return "closed";
    case vigil::v1::PHASE_ABORTED: return "aborted";
    default: return "?";
  }
}

void print_sessions(const ControlResponse& response) {
  for (const auto& a : response.advisories()) {
    std::printf("%-10s no session: %s (advisory %llu)\n", a.chair_id().c_str(), a.alarm().text().c_str(),
                static_cast<unsigned long long>(a.alarm().alarm_id()));
  }
  if (response.sessions().empty()) {
    std::printf("no open sessions\n");
    return;
  }
  for (const auto& s : response.sessions()) {
    std::printf("%-10s session %llu  patient %s  profile %s  %s  opened %s  dose %s%s\n", s.chair_id().c_str(),
                static_cast<unsigned long long>(s.session_id()), s.patient_ref().c_str(), s.profile().c_str(),
                std::string(phase_name(s.phase())).c_str(), clock_time(s.opened_at_ms()).c_str(),
                clock_time(s.dose_at_ms()).c_str(),
                s.paused_until_ms() ? fmt::format("  audio paused until {}", clock_time(s.paused_until_ms())).c_str() : "");
    if (!s.baseline().empty()) std::printf("           baseline: %s\n", s.baseline().c_str());
    for (const auto& a : s.alarms()) {
      const char* level = a.priority() == vigil::v1::PRIORITY_HIGH     ? "HIGH"
                          : a.priority() == vigil::v1::PRIORITY_MEDIUM ? "MEDIUM"
                                                                       : "low";
      std::printf("    alarm %-5llu %-6s %-20s %s%s%s\n", static_cast<unsigned long long>(a.alarm_id()), level,
                  a.rule().c_str(), a.text().c_str(),
                  a.acknowledged() ? fmt::format("  [acknowledged by {}]", a.acknowledged_by()).c_str() : "",
                  a.condition() ? "" : "  [latched]");
    }
  }
}

// --- stored sessions: list, show, export, report --------------------------------------------

struct timeline_args {
  std::string data_dir;
  std::string db;
  std::uint64_t session = 0;
  std::size_t limit = 20;
  bool open_only = false;
  std::string format;
  std::string what;
  std::string output;
};

void add_timeline_options(CLI::App* cmd, timeline_args& args) {
  auto* dir = cmd->add_option("--data-dir", args.data_dir, "vigild's data_dir: reads DIR/timeline.db");
  auto* db = cmd->add_option("--db", args.db,
                               "The timeline database file, or a PostgreSQL URL (postgresql://user@host/database)");
  dir->excludes(db);
  cmd->footer("Without --data-dir or --db the daemon at --url (or --ports-file) is asked, with a user's token.");
}

/// Text from the timeline made safe for a terminal: control characters become '?'.
std::string printable(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
  }
  return out;
}

std::string clock_or_dash(const std::optional<std::int64_t>& ms) { return ms ? vigil::report::clock_utc(*ms) : "-"; }

void print_table(const std::vector<std::vector<std::string>>& rows) {
  std::vector<std::size_t> width;
  for (const auto& row : rows) {
    width.resize(std::max(width.size(), row.size()));
    for (std::size_t i = 0; i < row.size(); ++i) width[i] = std::max(width[i], row[i].size());
  }
  for (const auto& row : rows) {
    std::string line;
    for (std::size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) line += std::string(width[i] - row[i].size() + 2, ' ');
    }
    std::printf("%s\n", line.c_str());
  }
}

void print_list(const std::vector<vigil::store::session_summary>& sessions) {
  if (sessions.empty()) {
    std::printf("no sessions\n");
    return;
  }
  std::vector<std::vector<std::string>> rows = {{"SESSION", "CHAIR", "PATIENT", "PROFILE", "OPENED (UTC)", "DOSE", "OUTCOME"}};
  for (const auto& s : sessions) {
    rows.push_back({std::to_string(s.id), printable(s.chair_id), printable(s.patient_ref), printable(s.profile),
                    vigil::report::date_time_utc(s.opened_ms).substr(0, 19), clock_or_dash(s.dose_ms), s.outcome});
  }
  print_table(rows);
}

void print_show(const vigil::report::session_record& r) {
  namespace rep = vigil::report;
  const auto& s = r.summary;
  const auto after_dose = [&](std::int64_t at) {
    return s.dose_ms ? fmt::format(" ({} after dose)", rep::minutes_after(at, *s.dose_ms)) : std::string();
  };
  std::printf("Session %llu  chair %s  patient %s  profile %s  (times UTC)\n", static_cast<unsigned long long>(s.id),
              printable(s.chair_id).c_str(), printable(s.patient_ref).c_str(), printable(s.profile).c_str());
  std::printf("  opened    %s by %s\n", rep::date_time_utc(s.opened_ms).c_str(), printable(s.opened_by).c_str());
  for (const auto& d : rep::doses(r.events)) {
    std::printf("  dose      %s  %s%s\n", rep::date_time_utc(d.at).c_str(), printable(d.text).c_str(),
                d.by.empty() ? "" : fmt::format(" (by {})", printable(d.by)).c_str());
  }
  if (s.window_end_ms) std::printf("  window    until %s\n", rep::date_time_utc(*s.window_end_ms).c_str());
  if (s.ready_ms) std::printf("  ready     %s%s\n", rep::date_time_utc(*s.ready_ms).c_str(), after_dose(*s.ready_ms).c_str());
  if (s.closed_ms) std::printf("  closed    %s\n", rep::date_time_utc(*s.closed_ms).c_str());
  std::printf("  outcome   %s\n", s.outcome.c_str());

  const auto alarms = rep::alarm_history(r.events);
  std::printf("\nAlarms (%zu)\n", alarms.size());
  if (!alarms.empty()) {
    std::vector<std::vector<std::string>> rows = {
        {"  #", "ID", "PRIORITY", "RULE", "RAISED", "ACKNOWLEDGED", "CLEARED", "ESCALATION", "TEXT / CLEARED BECAUSE"}};
    for (std::size_t i = 0; i < alarms.size(); ++i) {
      const auto& a = alarms[i];
      rows.push_back({fmt::format("  A{}", i + 1), std::to_string(a.id), std::string(vigil::engine::name(a.level)),
                      printable(a.rule), rep::clock_utc(a.raised_at),
                      a.first_ack_at ? fmt::format("{} {}", rep::clock_utc(*a.first_ack_at), printable(a.first_ack_by)) : "-",
                      clock_or_dash(a.cleared_at), a.highest_tier >= 0 ? printable(a.highest_responder) : "-",
                      printable(a.text) + (a.cleared_at ? " / " + printable(a.cleared_why) : " / still active")});
    }
    print_table(rows);
  }

  std::printf("\nEvents (%zu)\n", r.events.size());
  std::map<std::uint64_t, std::size_t> number;
  for (std::size_t i = 0; i < alarms.size(); ++i) number[alarms[i].id] = i + 1;
  std::vector<std::vector<std::string>> rows;
  for (const auto& e : r.events) {
    const auto n = number.find(e.alarm);
    const std::string label = n != number.end() ? fmt::format("A{}", n->second) : fmt::format("alarm {}", e.alarm);
    rows.push_back({"  " + rep::clock_utc(e.at), s.dose_ms ? rep::minutes_after(e.at, *s.dose_ms) : "",
                    std::string(rep::event_title(e.type)),
                    printable(rep::event_detail(e, label)) + (e.who.empty() ? "" : fmt::format(" [{}]", printable(e.who)))});
  }
  print_table(rows);
}

// --- the alarm burden (GET /api/v1/alarm-burden) ----------------------------------------------

/// `--since`: "7d", "12h", "90m" before now, or a UTC date "2024-05-02" or time "2024-05-02T08:30[:00][Z]";
/// ms since 1970, or nullopt if it is none of these.
std::optional<std::int64_t> parse_since(const std::string& text, std::int64_t now_ms) {
  if (text.size() >= 2 && (text.back() == 'm' || text.back() == 'h' || text.back() == 'd')) {
    const std::string digits = text.substr(0, text.size() - 1);
    if (digits.find_first_not_of("0123456789") != std::string::npos || digits.size() > 6) return std::nullopt;
    const std::int64_t unit = text.back() == 'm' ? 60'000 : text.back() == 'h' ? 3'600'000 : 86'400'000;
    return std::max<std::int64_t>(0, now_ms - std::stoll(digits) * unit);
  }
  std::tm tm{};
  int consumed = 0;
  if (std::sscanf(text.c_str(), "%4d-%2d-%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &consumed) != 3 || consumed != 10) {
    return std::nullopt;
  }
  std::string rest = text.substr(10);
  if (!rest.empty() && rest.back() == 'Z') rest.pop_back();
  if (!rest.empty()) {
    int used = 0;
    const int fields = std::sscanf(rest.c_str(), "T%2d:%2d%n:%2d%n", &tm.tm_hour, &tm.tm_min, &used, &tm.tm_sec, &used);
    if (fields < 2 || used != static_cast<int>(rest.size())) return std::nullopt;
  }
  if (tm.tm_mon < 1 || tm.tm_mon > 12 || tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_hour > 23 || tm.tm_min > 59 ||
      tm.tm_sec > 59) {
    return std::nullopt;
  }
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  const std::time_t t = timegm(&tm);
  if (t < 0) return std::nullopt;
  return static_cast<std::int64_t>(t) * 1000;
}

std::string rate_text(const vigil::v1::BurdenFigures& f) {
  return f.has_per_patient_hour() ? fmt::format("{:.2f}", f.per_patient_hour()) : "-";
}

std::string share_text(bool has, double value) { return has ? fmt::format("{:.0f}%", value * 100) : "-"; }

/// "45 s", "2 min 05 s".
std::string seconds_text(bool has, std::int64_t ms) {
  if (!has) return "-";
  const std::int64_t s = (ms + 500) / 1000;
  return s < 60 ? fmt::format("{} s", s) : fmt::format("{} min {:02} s", s / 60, s % 60);
}

std::vector<std::string> figures_row(std::string label, const vigil::v1::BurdenFigures& f) {
  return {std::move(label),
          std::to_string(f.alarms()),
          rate_text(f),
          share_text(f.has_short_share(), f.short_share()),
          share_text(f.has_acknowledged_share(), f.acknowledged_share()),
          seconds_text(f.has_ack_median_ms(), f.ack_median_ms()),
          seconds_text(f.has_ack_p90_ms(), f.ack_p90_ms())};
}

std::string priority_word(vigil::v1::Priority p) {
  switch (p) {
    case vigil::v1::PRIORITY_HIGH: return "high";
    case vigil::v1::PRIORITY_MEDIUM: return "medium";
    case vigil::v1::PRIORITY_LOW: return "low";
    default: return "?";
  }
}

std::string kind_word(vigil::v1::AlarmKind k) {
  switch (k) {
    case vigil::v1::ALARM_KIND_PHYSIOLOGICAL: return "physiological";
    case vigil::v1::ALARM_KIND_TECHNICAL: return "technical";
    case vigil::v1::ALARM_KIND_ADVISORY: return "advisory";
    default: return "?";
  }
}

void print_burden(const vigil::v1::AlarmBurden& b) {
  std::printf("Alarm burden: %llu session%s, %.2f patient-hours%s (times UTC)\n",
              static_cast<unsigned long long>(b.sessions()), b.sessions() == 1 ? "" : "s", b.patient_hours(),
              b.since_ms() > 0 ? fmt::format(", sessions opened since {}", vigil::report::date_time_utc(b.since_ms())).c_str()
                               : "");
  if (b.limited()) std::printf("  (only the newest %llu matching sessions: see --limit)\n",
                               static_cast<unsigned long long>(b.sessions()));
  std::printf("\n");
  std::vector<std::vector<std::string>> rows = {
      {"", "ALARMS", "PER PATIENT-HOUR", "UNDER 30 S", "ACKNOWLEDGED", "ACK MEDIAN", "ACK P90"}};
  rows.push_back(figures_row("all", b.all()));
  for (const auto& p : b.priorities()) rows.push_back(figures_row("priority " + priority_word(p.priority()), p.figures()));
  for (const auto& k : b.kinds()) rows.push_back(figures_row("kind " + kind_word(k.kind()), k.figures()));
  for (const auto& r : b.rules()) {
    rows.push_back(figures_row(fmt::format("rule {} ({}, {})", printable(r.rule()), priority_word(r.priority()),
                                           kind_word(r.kind())),
                               r.figures()));
  }
  print_table(rows);
  if (b.per_session().empty()) return;
  std::printf("\nSessions\n");
  rows = {{"SESSION", "CHAIR", "PROFILE", "OPENED (UTC)", "PATIENT-HOURS", "ALARMS", "PER PATIENT-HOUR", "UNDER 30 S",
           "ACKNOWLEDGED", "ACK MEDIAN"}};
  for (const auto& s : b.per_session()) {
    const auto& f = s.figures();
    rows.push_back({std::to_string(s.session_id()), printable(s.chair_id()), printable(s.profile()),
                    vigil::report::date_time_utc(s.opened_ms()).substr(0, 19) + (s.has_closed_ms() ? "" : " (open)"),
                    fmt::format("{:.2f}", static_cast<double>(s.patient_ms()) / 3'600'000.0), std::to_string(f.alarms()),
                    rate_text(f), share_text(f.has_short_share(), f.short_share()),
                    share_text(f.has_acknowledged_share(), f.acknowledged_share()),
                    seconds_text(f.has_ack_median_ms(), f.ack_median_ms())});
  }
  print_table(rows);
}


/// Writes `text` to `path`, or to standard output for "" and "-"; false (and a message) on failure.
bool write_output(const std::string& path, const std::string& text) {
  if (path.empty() || path == "-") {
    return std::fwrite(text.data(), 1, text.size(), stdout) == text.size() && std::fflush(stdout) == 0;
  }
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(text.data(), static_cast<std::streamsize>(text.size()));
  out.close();
  if (!out) {
    std::fprintf(stderr, "vigilctl: cannot write %s\n", path.c_str());
    return false;
  }
  return true;
}

/// Checks export's options and fills in the CSV default (vitals); false (and a message) on a mistake.
bool settle_export_options(timeline_args& args) {
  if (args.format == "json" && !args.what.empty()) {
    std::fprintf(stderr, "vigilctl: --what applies to --format csv only (the JSON holds everything)\n");
    return false;
  }
  if (args.format == "csv" && args.what.empty()) args.what = "vitals";
  return true;
}

/// Runs list, show, export or report on a timeline database file; exit status as for the daemon commands.
int run_timeline_command(CLI::App* list, CLI::App* show, CLI::App* report, const timeline_args& args) {
  const std::string path = !args.db.empty() ? args.db : (std::filesystem::path(args.data_dir) / "timeline.db").string();
  try {
    // A data directory's timeline is a SQLite file; --db may also name a PostgreSQL database by
    // its URL. Either is read through the store's interface.
    std::unique_ptr<vigil::store::reader> opened;
    if (vigil::store::is_postgres_url(path)) {
      opened = std::make_unique<vigil::store::postgres_reader>(path);
    } else {
      opened = std::make_unique<vigil::store::sqlite_reader>(path);
    }
    vigil::store::reader& reader = *opened;
    if (list->parsed()) {
      print_list(reader.sessions(args.limit, args.open_only));
      return 0;
    }
    const auto record = vigil::report::load_session(reader, args.session);
    if (!record) {
      const std::string where = vigil::store::is_postgres_url(path) ? vigil::store::postgres_where(path) : path;
      std::fprintf(stderr, "vigilctl: no session %llu in %s\n", static_cast<unsigned long long>(args.session),
                   where.c_str());
      return 1;
    }
    const vigil::report::export_context ctx{
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count(),
        VIGIL_VERSION};
    if (show->parsed()) {
      print_show(*record);
      return 0;
    }
    std::string text;
    if (report->parsed()) {
      text = vigil::report::render_html(*record, ctx);
    } else if (args.format == "json") {
      text = vigil::report::export_json(*record, ctx);
    } else if (args.what == "vitals") {
      text = vigil::report::export_vitals_csv(*record);
    } else {
      text = vigil::report::export_events_csv(*record);
    }
    if (!write_output(args.output, text)) return 2;
    if (report->parsed()) std::fprintf(stderr, "vigilctl: wrote %s (%zu bytes)\n", args.output.c_str(), text.size());
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "vigilctl: %s\n", e.what());
    return 2;
  }
}

/// Runs list, show, export or report through the REST API. Throws on transport faults.
int run_timeline_over_rest(vigil::client::blocking_rest_client& rest, CLI::App* list, CLI::App* show, CLI::App* report,
                           const timeline_args& args, int (*refused)(const reply&)) {
  constexpr std::size_t api_max_limit = 10'000;  // docs/api.md section 4.2
  constexpr const char* not_expected = "the daemon's answer is not the JSON expected";
  if (list->parsed()) {
    std::string target =
        fmt::format("/api/v1/sessions?state=all&limit={}", args.limit == 0 ? api_max_limit : args.limit);
    if (args.open_only) target += "&outcome=open";
    const auto r = rest.call(bh::verb::get, target);
    if (r.status != 200) return refused(r);
    vigil::v1::StoredSessions listed;
    if (!vigil::client::parse_json(r.body, listed)) throw std::runtime_error(not_expected);
    std::vector<vigil::store::session_summary> sessions;
    for (const auto& s : listed.sessions()) sessions.push_back(vigil::report::from_proto(s));
    print_list(sessions);
    return 0;
  }
  const std::string base = fmt::format("/api/v1/sessions/{}", args.session);
  std::string target = base + "/timeline.json";
  if (report->parsed()) target = base + "/report.html";
  if (!show->parsed() && !report->parsed() && args.format == "csv") target = base + "/timeline.csv?what=" + args.what;
  const auto r = rest.call(bh::verb::get, target);
  if (r.status != 200) return refused(r);
  if (show->parsed()) {
    vigil::v1::SessionTimeline timeline;
    if (!vigil::client::parse_json(r.body, timeline)) throw std::runtime_error(not_expected);
    print_show(vigil::report::from_proto(timeline));
    return 0;
  }
  if (!write_output(args.output, r.body)) return 2;
  if (report->parsed()) std::fprintf(stderr, "vigilctl: wrote %s (%zu bytes)\n", args.output.c_str(), r.body.size());
  return 0;
}

// --- arguments checked before anything is sent (docs/control.md section 10) ------------------

/// The routes a dose may be given by: the profiles' routes (config/profiles).
constexpr std::string_view known_routes[] = {"iv", "im", "intranasal", "sublingual"};

bool known_route(std::string_view route) {
  return std::find(std::begin(known_routes), std::end(known_routes), route) != std::end(known_routes);
}

/// "56 mg", "0.5 mg/kg", "0.5 mg/kg over 40 min": an amount above 0, a space, a unit (mg, mg/kg,
/// mcg, mcg/kg), and optionally " over N min".
bool dose_text_ok(const std::string& text) {
  static const std::regex format(R"(([0-9]+(\.[0-9]+)?) (mg|mg/kg|mcg|mcg/kg)( over [1-9][0-9]{0,3} min)?)");
  std::smatch m;
  if (!std::regex_match(text, m, format)) return false;
  return m[1].str().find_first_not_of("0.") != std::string::npos;  // not zero
}

/// Edit distance with adjacent transpositions ("lsit" is one from "list").
std::size_t distance(std::string_view a, std::string_view b) {
  std::vector<std::vector<std::size_t>> d(a.size() + 1, std::vector<std::size_t>(b.size() + 1));
  for (std::size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
  for (std::size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
      }
    }
  }
  return d[a.size()][b.size()];
}

/// The first word on the command line that is not a global option (or its value); "" if none.
std::string command_word(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    if (a == "--") return i + 1 < argc ? argv[i + 1] : "";
    if (!a.empty() && a.front() == '-') {
      if (a.find('=') == std::string_view::npos && (a == "--url" || a == "--ports-file" || a == "--token")) ++i;
      continue;
    }
    return std::string(a);
  }
  return {};
}

/// "unknown command 'lsit'; did you mean 'list'?", or the list of commands when none is near.
std::string unknown_command(const std::string& word, const std::vector<std::string>& commands) {
  std::size_t best = std::string::npos;
  for (const auto& c : commands) best = std::min(best, distance(word, c));
  std::vector<std::string> nearest;
  if (best <= 2 && best < word.size()) {
    for (const auto& c : commands) {
      if (distance(word, c) == best) nearest.push_back("'" + c + "'");
    }
  }
  if (nearest.empty()) {
    return fmt::format("unknown command '{}'; the commands are: {}", word, fmt::join(commands, ", "));
  }
  const std::string last = nearest.back();
  nearest.pop_back();
  return fmt::format("unknown command '{}'; did you mean {}{}{}?", word, fmt::join(nearest, ", "),
                     nearest.empty() ? "" : " or ", last);
}

/// Copies what can be read of a damaged timeline into a new one and says, per table, what came.
int run_salvage(const std::string& damaged, const std::string& out) {
  try {
    const auto report = vigil::store::salvage(damaged, out);
    bool whole = true;
    for (const auto& t : report.tables) {
      whole = whole && t.whole;
      std::printf("%-16s %10llu rows  %s\n", t.name.c_str(), static_cast<unsigned long long>(t.rows),
                  t.whole ? "all read"
                          : t.skips > 0 ? fmt::format("damaged pages stepped over {} times: some rows lost", t.skips).c_str()
                                        : "stopped at a damaged page: the rest lost");
    }
    std::printf("wrote %s%s\n", out.c_str(), whole ? "" : " (incomplete: see above)");
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "vigilctl: %s\n", e.what());
    return 2;
  }
}

/// Reads one line from standard input, without its line ending; not echoed on a terminal.
std::string read_secret() {
  std::string line;
  if (::isatty(STDIN_FILENO) == 0) {
    std::getline(std::cin, line);
  } else {
    std::fprintf(stderr, "Secret (not shown): ");
    std::fflush(stderr);
    termios before{};
    const bool quiet = ::tcgetattr(STDIN_FILENO, &before) == 0;
    if (quiet) {
      termios hidden = before;
      hidden.c_lflag &= ~static_cast<tcflag_t>(ECHO);
      ::tcsetattr(STDIN_FILENO, TCSANOW, &hidden);
    }
    std::getline(std::cin, line);
    if (quiet) ::tcsetattr(STDIN_FILENO, TCSANOW, &before);
    std::fprintf(stderr, "\n");
  }
  if (!line.empty() && line.back() == '\r') line.pop_back();
  return line;
}

/// Prints the Argon2id hash of a secret from standard input, for users[].password_hash.
int run_hash_secret() {
  constexpr std::size_t min_characters = 12;
  if (sodium_init() < 0) {
    std::fprintf(stderr, "vigilctl: libsodium cannot be initialised\n");
    return 2;
  }
  std::string secret = read_secret();
  // Characters, not bytes: a UTF-8 sequence counts once.
  const auto characters = static_cast<std::size_t>(std::count_if(
      secret.begin(), secret.end(), [](char c) { return (static_cast<unsigned char>(c) & 0xc0) != 0x80; }));
  int status = 0;
  if (characters < min_characters) {
    std::fprintf(stderr, "vigilctl: the secret must be at least %zu characters (it has %zu); nothing was hashed\n",
                 min_characters, characters);
    status = 2;
  } else {
    char hash[crypto_pwhash_STRBYTES];
    if (crypto_pwhash_str_alg(hash, secret.data(), secret.size(), crypto_pwhash_OPSLIMIT_INTERACTIVE,
                              crypto_pwhash_MEMLIMIT_INTERACTIVE, crypto_pwhash_ALG_ARGON2ID13) != 0) {
      std::fprintf(stderr, "vigilctl: cannot hash the secret: out of memory\n");
      status = 2;
    } else {
      std::printf("%s\n", hash);
    }
  }
  sodium_memzero(secret.data(), secret.size());
  return status;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App cli{"vigilctl: open sessions, mark doses and acknowledge alarms on a running vigild (through its REST "
               "API); list, show, export and report stored sessions from its timeline; hash users' passwords"};
  cli.require_subcommand(1);
  std::string url = "http://127.0.0.1:7402";
  std::string ports_file;
  std::string token;
  cli.add_option("--url", url, "vigild's HTTP listener, http://HOST:PORT")->capture_default_str();
  cli.add_option("--ports-file", ports_file, "Take the port from the 'http:' line of vigild's ports file");
  cli.add_option("--token", token, "User token (default: $VIGIL_TOKEN)");

  std::string chair, text_a, text_b;
  std::uint64_t alarm_id = 0;
  unsigned seconds = 120;

  auto* sessions = cli.add_subcommand("sessions", "List open sessions with their alarms");
  auto* open = cli.add_subcommand("open", "Open a session on a chair");
  open->add_option("chair", chair, "Chair id")->required();
  open->add_option("--patient", text_a,
                   "Patient reference: the clinic's identifier, not a name or a date; 1 to 64 letters, digits, '-', "
                   "'_' or '.'")
      ->required();
  open->add_option("--profile", text_b, "Protocol profile id (default: the daemon's default)");
  auto* override_cmd = cli.add_subcommand("override", "Let the first dose go ahead despite the pre-dose BP check");
  override_cmd->add_option("chair", chair, "Chair id")->required();
  override_cmd->add_option("--reason", text_a, "Why")->required();
  auto* dose = cli.add_subcommand("dose", "Mark a dose given now");
  dose->add_option("chair", chair, "Chair id")->required();
  dose->add_option("--route", text_a, "iv, im, intranasal or sublingual")->required();
  dose->add_option("--dose", text_b,
                   "Amount and unit (mg, mg/kg, mcg, mcg/kg), optionally over N min: '56 mg', '0.5 mg/kg over 40 min'")
      ->required();
  auto* ack = cli.add_subcommand("ack", "Acknowledge an alarm");
  ack->add_option("chair", chair, "Chair id")->required();
  ack->add_option("alarm", alarm_id, "Alarm id (from 'sessions')")->required();
  auto* pause = cli.add_subcommand("pause", "Pause a chair's alarm audio for a while");
  pause->add_option("chair", chair, "Chair id")->required();
  pause->add_option("--seconds", seconds, "How long")->capture_default_str();
  auto* close = cli.add_subcommand("close", "Close a session (after the discharge assessment)");
  close->add_option("chair", chair, "Chair id")->required();
  auto* abort_cmd = cli.add_subcommand("abort", "Abort a session");
  abort_cmd->add_option("chair", chair, "Chair id")->required();
  abort_cmd->add_option("--reason", text_a, "Why")->required();
  auto* note = cli.add_subcommand("note", "Add a note to a chair's open session (recorded with your name)");
  note->add_option("chair", chair, "Chair id")->required();
  note->add_option("text", text_a, "The note, 1 to 2000 characters (quote it)")->required();
  auto* retake = cli.add_subcommand(
      "retake-baseline", "Take a chair's baseline again, e.g. after artefact readings (recorded with your name)");
  retake->add_option("chair", chair, "Chair id")->required();
  retake->add_option("--reason", text_a, "Why (recorded with the new baseline)")->required();
  std::string device;
  auto* device_reset = cli.add_subcommand(
      "device-reset", "Forget a device's batch numbers after it restarted its count (admin; recorded with your name)");
  device_reset->add_option("device", device, "Device id")->required();
  device_reset->add_option("--reason", text_a, "Why (recorded in the timeline)")->required();

  // Stored sessions: through the REST API, or with --data-dir/--db from the database file.
  timeline_args stored;
  auto* list = cli.add_subcommand("list", "List stored sessions, newest first");
  add_timeline_options(list, stored);
  list->add_option("--limit", stored.limit, "At most N sessions (0: all; through the API at most 10000)")
      ->capture_default_str();
  list->add_flag("--open", stored.open_only, "Only sessions not closed");
  auto* show = cli.add_subcommand("show", "Print one stored session: summary, alarms and events (times UTC)");
  add_timeline_options(show, stored);
  show->add_option("session", stored.session, "Session id (from 'list')")->required();
  auto* export_cmd = cli.add_subcommand("export", "Write one stored session as JSON or CSV (docs/exports.md)");
  add_timeline_options(export_cmd, stored);
  export_cmd->add_option("session", stored.session, "Session id (from 'list')")->required();
  export_cmd->add_option("--format", stored.format, "json or csv")->required()->check(CLI::IsMember({"json", "csv"}));
  export_cmd->add_option("--what", stored.what,
                         "For csv: vitals (one row per sample, the default) or events (one row per event)")
      ->check(CLI::IsMember({"vitals", "events"}));
  export_cmd->add_option("-o,--output", stored.output, "Output file (default: standard output)");
  auto* report = cli.add_subcommand("report", "Write one stored session's report: a self-contained HTML file");
  add_timeline_options(report, stored);
  report->add_option("session", stored.session, "Session id (from 'list')")->required();
  report->add_option("-o,--output", stored.output, "The HTML file to write")->required();

  std::string since;
  std::uint64_t burden_session = 0;
  std::size_t burden_limit = 0;
  auto* burden = cli.add_subcommand(
      "burden", "Alarms per patient-hour by rule, priority and kind, the share over within 30 s, the share "
                "acknowledged and the time to acknowledge, over stored sessions (docs/exports.md section 4.1)");
  auto* since_opt = burden->add_option("--since", since,
                                       "Sessions opened since: 7d, 12h, 90m before now, or a UTC date or time "
                                       "(2024-05-02, 2024-05-02T08:30Z); default: every stored session");
  auto* session_opt = burden->add_option("--session", burden_session, "Only this session");
  auto* limit_opt = burden->add_option("--limit", burden_limit, "At most the newest N sessions (default 1000, at most 10000)");
  session_opt->excludes(since_opt)->excludes(limit_opt);

  auto* hash_secret = cli.add_subcommand(
      "hash-secret", "Print the Argon2id hash of a secret read from standard input, for a user's password_hash "
                     "(docs/configuration.md); needs no daemon");

  std::string damaged, salvaged;
  auto* salvage = cli.add_subcommand(
      "salvage", "Copy what can still be read of a damaged timeline into a new file (vigild refuses a damaged one)");
  salvage->add_option("damaged", damaged, "The damaged timeline, set aside (e.g. timeline.db.damaged)")->required();
  salvage->add_option("-o,--output", salvaged, "The new timeline file to write (must not exist)")->required();

  {
    std::vector<std::string> commands;
    for (const auto* c : cli.get_subcommands([](CLI::App*) { return true; })) commands.push_back(c->get_name());
    const std::string word = command_word(argc, argv);
    if (!word.empty() && std::find(commands.begin(), commands.end(), word) == commands.end()) {
      std::fprintf(stderr, "vigilctl: %s\n", unknown_command(word, commands).c_str());
      return 2;
    }
  }
  try {
    cli.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help exits 0; every other parse problem is a usage error.
    return cli.exit(e) == 0 ? 0 : 2;
  }

  const bool stored_command = *list || *show || *export_cmd || *report;
  if (*export_cmd && !settle_export_options(stored)) return 2;
  if (stored_command && (!stored.data_dir.empty() || !stored.db.empty())) {
    return run_timeline_command(list, show, report, stored);
  }
  if (*salvage) return run_salvage(damaged, salvaged);
  if (*hash_secret) return run_hash_secret();

  // Arguments are checked here, before anything is sent.
  if (*open) {
    if (const auto problem = vigil::model::patient_ref_problem(text_a); !problem.empty()) {
      std::fprintf(stderr, "vigilctl: --patient '%s': %s\n", text_a.c_str(), std::string(problem).c_str());
      return 2;
    }
  }
  if (*dose) {
    if (!known_route(text_a)) {
      std::fprintf(stderr, "vigilctl: --route is one of %s, not '%s'\n",
                   fmt::format("{}", fmt::join(known_routes, ", ")).c_str(), text_a.c_str());
      return 2;
    }
    if (!dose_text_ok(text_b)) {
      std::fprintf(stderr,
                   "vigilctl: --dose is an amount and a unit, e.g. '56 mg', '0.5 mg/kg' or '0.5 mg/kg over 40 min' "
                   "(units mg, mg/kg, mcg, mcg/kg), not '%s'\n",
                   text_b.c_str());
      return 2;
    }
  }

  if (token.empty()) {
    if (const char* env = std::getenv("VIGIL_TOKEN")) token = env;
  }
  if (token.empty()) {
    std::fprintf(stderr, "vigilctl: no user token: use --token or set VIGIL_TOKEN%s\n",
                 stored_command ? " (or read a timeline file with --data-dir DIR or --db FILE)" : "");
    return 2;
  }
  auto where = vigil::client::parse_url(url);
  if (!where) {
    std::fprintf(stderr, "vigilctl: --url must be http://HOST or http://HOST:PORT, not '%s'\n", url.c_str());
    return 2;
  }
  if (!ports_file.empty()) {
    const auto p = vigil::client::read_port(ports_file, "http");
    if (!p) {
      std::fprintf(stderr, "vigilctl: no 'http:' line in %s\n", ports_file.c_str());
      return 2;
    }
    where->port = *p;
  }

  // A refusal prints the daemon's reason and exits 1; a daemon at its connection limit, 2.
  int (*refused)(const reply&) = [](const reply& r) {
    const auto why = vigil::client::refusal_of(r);
    std::fprintf(stderr, "vigilctl: %s: %s\n", why.error.c_str(), why.message.c_str());
    return r.status == 503 ? 2 : 1;
  };
  try {
    vigil::client::blocking_rest_client rest(*where, token, "vigilctl/" VIGIL_VERSION);
    if (stored_command) return run_timeline_over_rest(rest, list, show, report, stored, refused);
    if (*open) {
      vigil::v1::OpenSession c;
      c.set_chair_id(chair);
      c.set_patient_ref(text_a);
      c.set_profile(text_b);
      const auto r = rest.call(bh::verb::post, "/api/v1/sessions", vigil::client::json_of(c));
      if (r.status / 100 != 2) return refused(r);
      std::printf("ok (session %llu)\n", static_cast<unsigned long long>(parse_response(r).session_id()));
      return 0;
    }
    if (*device_reset) {
      vigil::v1::ResetDevice c;
      c.set_device_id(device);
      c.set_reason(text_a);
      const auto r = rest.call(bh::verb::post, "/api/v1/devices/reset", vigil::client::json_of(c));
      if (r.status / 100 != 2) return refused(r);
      std::printf("ok (device %s was acked up to seq %llu; it numbers its batches from 1 again)\n", device.c_str(),
                  static_cast<unsigned long long>(parse_response(r).previous_acked_seq()));
      return 0;
    }
    if (*burden) {
      std::string target = "/api/v1/alarm-burden";
      std::vector<std::string> params;
      if (!since.empty()) {
        const auto now =
            std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
                .count();
        const auto from = parse_since(since, now);
        if (!from) {
          std::fprintf(stderr, "vigilctl: --since takes 7d, 12h, 90m, 2024-05-02 or 2024-05-02T08:30Z, not '%s'\n",
                       since.c_str());
          return 2;
        }
        params.push_back(fmt::format("since_ms={}", *from));
      }
      if (*session_opt) params.push_back(fmt::format("session={}", burden_session));
      if (*limit_opt) params.push_back(fmt::format("limit={}", burden_limit));
      for (std::size_t i = 0; i < params.size(); ++i) target += (i == 0 ? "?" : "&") + params[i];
      const auto r = rest.call(bh::verb::get, target);
      if (r.status != 200) return refused(r);
      vigil::v1::AlarmBurden b;
      if (!vigil::client::parse_json(r.body, b)) throw std::runtime_error("the daemon's answer is not the JSON expected");
      print_burden(b);
      return 0;
    }
    const auto listed = rest.call(bh::verb::get, "/api/v1/sessions");
    if (listed.status != 200) return refused(listed);
    const auto sessions_now = parse_response(listed);
    if (*sessions) {
      print_sessions(sessions_now);
      return 0;
    }
    // Commands name a chair; the API names the session open on it.
    std::uint64_t session = 0;
    for (const auto& s : sessions_now.sessions()) {
      if (s.chair_id() == chair) session = s.session_id();
    }
    if (session == 0) {
      std::fprintf(stderr, "vigilctl: no_open_session: no open session on chair '%s'\n", chair.c_str());
      return 1;
    }
    const std::string base = fmt::format("/api/v1/sessions/{}", session);
    std::string target;
    std::string body;
    if (*override_cmd) {
      vigil::v1::OverridePredose c;
      c.set_reason(text_a);
      target = base + "/override";
      body = vigil::client::json_of(c);
    } else if (*dose) {
      vigil::v1::MarkDose c;
      c.set_route(text_a);
      c.set_dose(text_b);
      target = base + "/dose";
      body = vigil::client::json_of(c);
    } else if (*ack) {
      target = fmt::format("{}/alarms/{}/ack", base, alarm_id);
    } else if (*pause) {
      vigil::v1::PauseAudio c;
      c.set_duration_s(seconds);
      target = base + "/pause";
      body = vigil::client::json_of(c);
    } else if (*close) {
      target = base + "/close";
    } else if (*abort_cmd) {
      vigil::v1::CloseSession c;
      c.set_reason(text_a);
      target = base + "/abort";
      body = vigil::client::json_of(c);
    } else if (*note) {
      vigil::v1::AddNote c;
      c.set_text(text_a);
      target = base + "/notes";
      body = vigil::client::json_of(c);
    } else if (*retake) {
      vigil::v1::RetakeBaseline c;
      c.set_reason(text_a);
      target = base + "/baseline";
      body = vigil::client::json_of(c);
    }
    const auto r = rest.call(bh::verb::post, target, body);
    if (r.status / 100 != 2) return refused(r);
    const auto done = parse_response(r);
    // A command that changed nothing says so (an alarm acknowledged already).
    std::printf("ok (session %llu)%s\n", static_cast<unsigned long long>(done.session_id()),
                done.message().empty() ? "" : (": " + done.message()).c_str());
  } catch (const boost::system::system_error& e) {
    std::fprintf(stderr, "vigilctl: cannot reach vigild at %s:%u: %s\n", where->host.c_str(), where->port,
                 vigil::client::describe(e.code()).c_str());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "vigilctl: %s\n", e.what());
    return 2;
  }
  return 0;
}
