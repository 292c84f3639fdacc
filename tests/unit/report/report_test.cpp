#include "daemon/report/chart.hpp"
#include "daemon/report/csv_export.hpp"
#include "daemon/report/html_report.hpp"
#include "daemon/report/json_export.hpp"
#include "daemon/store/sqlite_timeline.hpp"
#include "daemon/wire/events.hpp"
#include "tests/unit/report/report_fixture.hpp"

#include <fmt/format.h>
#include <google/protobuf/util/json_util.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <random>
#include <sstream>

namespace vigil::report {
namespace {

using namespace testing;
namespace fs = std::filesystem;

const export_context ctx{t0 + 200 * minutes_ms, "9.9.9"};

std::size_t count(const std::string& text, std::string_view what) {
  std::size_t n = 0;
  for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + what.size())) ++n;
  return n;
}

std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out;
  std::size_t start = 0;
  for (auto end = text.find("\r\n"); end != std::string::npos; end = text.find("\r\n", start)) {
    out.push_back(text.substr(start, end - start));
    start = end + 2;
  }
  EXPECT_EQ(start, text.size()) << "every row ends with CRLF";
  return out;
}

// --- times -----------------------------------------------------------------------------------

TEST(Times, AreUtcWithExplicitMarkers) {
  EXPECT_EQ(rfc3339_utc(t0 + 250), "2024-05-02T08:30:00.250Z");
  EXPECT_EQ(date_time_utc(t0), "2024-05-02 08:30:00 UTC");
  EXPECT_EQ(clock_utc(t0 + 61 * seconds_ms), "08:31:01");
  EXPECT_EQ(minutes_after(dose_at + 40 * minutes_ms + 20 * seconds_ms, dose_at), "+40 min");
  EXPECT_EQ(minutes_after(dose_at - 5 * minutes_ms, dose_at), "-5 min");
  EXPECT_EQ(minutes_after(dose_at, dose_at), "0 min");
  EXPECT_EQ(duration_text(134 * minutes_ms), "2 h 14 min");
  EXPECT_EQ(duration_text(45 * minutes_ms), "45 min");
  EXPECT_EQ(duration_text(30 * seconds_ms), "30 s");
  EXPECT_EQ(quality_names(model::quality::artifact | model::quality::low_perfusion), "artifact|low_perfusion");
  EXPECT_EQ(quality_names(0), "");
}

// --- alarms gathered from events -------------------------------------------------------------

TEST(AlarmHistory, FollowsEachAlarmFromRaiseToClear) {
  const auto r = make_record();
  const auto alarms = alarm_history(r.events);
  ASSERT_EQ(alarms.size(), 3u);
  EXPECT_EQ(alarms[0].id, 7u);
  EXPECT_EQ(alarms[0].level, engine::priority::high);
  EXPECT_EQ(alarms[0].value, 187);
  EXPECT_EQ(alarms[0].first_ack_at, dose_at + 40 * minutes_ms + 70 * seconds_ms);
  EXPECT_EQ(alarms[0].first_ack_by, "nurse-ana");
  EXPECT_EQ(alarms[0].highest_tier, 0);
  EXPECT_EQ(alarms[0].cleared_why, "nibp_systolic back to 172");
  EXPECT_EQ(alarms[1].highest_responder, "charge_nurse");
  EXPECT_FALSE(alarms[1].first_ack_at);
  EXPECT_FALSE(alarms[2].cleared_at) << "still active at the end of the record";
  EXPECT_EQ(alarms[2].highest_tier, -1);
}

// --- JSON ------------------------------------------------------------------------------------

TEST(Json, ParsesBackWithTheSameCountsAndValues) {
  const auto r = make_record();
  const std::string json = export_json(r, ctx);
  ASSERT_FALSE(json.empty());
  EXPECT_EQ(json.back(), '\n');

  v1::SessionTimeline back;
  const auto status = google::protobuf::util::JsonStringToMessage(json, &back);
  ASSERT_TRUE(status.ok()) << status.ToString();
  EXPECT_EQ(back.format(), 1u);
  EXPECT_EQ(back.generated_by(), "vigil 9.9.9");
  EXPECT_EQ(back.session().session_id(), session_id);
  EXPECT_EQ(back.session().patient_ref(), "P-0001");
  EXPECT_EQ(back.session().first_dose_ms(), dose_at);
  EXPECT_EQ(back.session().first_dose_at(), rfc3339_utc(dose_at));
  EXPECT_EQ(back.session().outcome(), v1::SESSION_OUTCOME_CLOSED);

  ASSERT_EQ(back.events_size(), static_cast<int>(r.events.size()));
  for (int i = 0; i < back.events_size(); ++i) {
    const auto& e = r.events[static_cast<std::size_t>(i)];
    EXPECT_EQ(back.events(i).type(), static_cast<int>(e.type)) << i;
    EXPECT_EQ(back.events(i).at_ms(), e.at) << i;
    EXPECT_EQ(back.events(i).text(), e.text) << i;
  }
  ASSERT_EQ(back.alarms_size(), 3);
  EXPECT_EQ(back.alarms(0).first_ack_by(), "nurse-ana");
  EXPECT_EQ(back.alarms(0).priority(), v1::PRIORITY_HIGH);
  EXPECT_FALSE(back.alarms(2).has_cleared_ms());

  // One series per kind, every sample with its exact value.
  ASSERT_EQ(back.vitals_size(), 5);
  std::size_t points = 0;
  for (const auto& s : back.vitals()) points += static_cast<std::size_t>(s.points_size());
  EXPECT_EQ(points, r.vitals.size());
  EXPECT_EQ(back.vitals(0).kind(), v1::HEART_RATE);
  EXPECT_EQ(back.vitals(0).unit(), "bpm");
  EXPECT_EQ(back.vitals(0).points(100).value(), r.vitals[100].value);
  EXPECT_EQ(back.vitals(0).points(100).time_ms(), r.vitals[100].time_ms);
}

TEST(Json, UsesStableNamesAndKeepsFieldsThatAreZeroButSet) {
  const std::string json = export_json(make_record(), ctx);
  EXPECT_NE(json.find(R"("type":"EVENT_TYPE_ALARM_ESCALATED")"), std::string::npos);
  EXPECT_NE(json.find(R"("priority":"PRIORITY_HIGH")"), std::string::npos);
  EXPECT_NE(json.find(R"("to_phase":"PHASE_READY")"), std::string::npos);
  EXPECT_NE(json.find(R"("tier":0)"), std::string::npos) << "tier 0 of an escalation is present";
  EXPECT_NE(json.find(R"("at":"2024-05-02T08:30:00.000Z")"), std::string::npos);
  // A note has no alarm fields at all.
  const auto note = wire::to_proto(make_event(event_type::note_added, t0));
  EXPECT_FALSE(note.has_value());
  EXPECT_FALSE(note.has_tier());
  EXPECT_EQ(note.priority(), v1::PRIORITY_UNSPECIFIED);
}

// --- CSV -------------------------------------------------------------------------------------

TEST(Csv, QuotesFieldsAsRfc4180) {
  EXPECT_EQ(csv_field("plain", true), "plain");
  EXPECT_EQ(csv_field("a,b", true), "\"a,b\"");
  EXPECT_EQ(csv_field("say \"hi\"", true), "\"say \"\"hi\"\"\"");
  EXPECT_EQ(csv_field("two\nlines", true), "\"two\nlines\"");
  EXPECT_EQ(csv_field("cr\rhere", true), "\"cr\rhere\"");
  EXPECT_EQ(csv_field("", true), "");
}

TEST(Csv, NeutralisesFormulasInTextFieldsOnly) {
  EXPECT_EQ(csv_field("=HYPERLINK(\"http://x\")", true), "\"'=HYPERLINK(\"\"http://x\"\")\"");
  EXPECT_EQ(csv_field("+1", true), "'+1");
  EXPECT_EQ(csv_field("-2+3", true), "'-2+3");
  EXPECT_EQ(csv_field("@SUM(A1)", true), "'@SUM(A1)");
  EXPECT_EQ(csv_field("\tx", true), "'\tx");
  EXPECT_EQ(csv_field("-12.5", false), "-12.5") << "numbers are not text";
  EXPECT_EQ(csv_field("a=b", true), "a=b");
}

TEST(Csv, VitalsHaveOneRowPerSample) {
  auto r = make_record();
  r.vitals[3].quality = model::quality::artifact | model::quality::implausible;
  const auto rows = lines(export_vitals_csv(r));
  ASSERT_EQ(rows.size(), r.vitals.size() + 1);
  EXPECT_EQ(rows[0], "time_utc,time_ms,session_id,chair_id,kind,value,unit,quality,usable");
  EXPECT_EQ(rows[1], fmt::format("2024-05-02T08:30:00.000Z,{},42,chair-1,heart_rate,75,bpm,,1", t0));
  EXPECT_NE(rows[4].find(",bpm,artifact|implausible,0"), std::string::npos) << rows[4];
}

// A sample the engine judged an artefact (alarms.md 3.6) was drawn and exported as a usable
// value: the report knew only the device's flags.
TEST(Csv, ASampleJudgedAnArtefactIsShownAsSuchWithItsReason) {
  auto r = make_record();
  r.vitals[3].quality = model::quality::judged_artefact | (3u << model::quality::reason_shift);
  const auto rows = lines(export_vitals_csv(r));
  EXPECT_NE(rows[4].find(",bpm,judged_artefact:impossible_step,0"), std::string::npos) << rows[4];
  EXPECT_FALSE(usable(r.vitals[3]));
}

TEST(Csv, EventsAreQuotedAndNeutralised) {
  auto r = make_record("=cmd|'/c calc'!A1", "BP high, \"recheck\"\nin 5 min");
  r.events.front().who = "@nurse";
  r.events.front().chair = "-chair";
  const std::string csv = export_events_csv(r);
  const auto header = csv.substr(0, csv.find("\r\n"));
  EXPECT_EQ(header,
            "time_utc,time_ms,session_id,chair_id,type,alarm_id,rule,kind,priority,from_phase,to_phase,who,responder,"
            "tier,value,until_utc,text");
  EXPECT_NE(csv.find("\"BP high, \"\"recheck\"\"\nin 5 min\""), std::string::npos);
  EXPECT_EQ(csv.find(",=cmd"), std::string::npos) << "no cell starts with '='";
  EXPECT_NE(csv.find(",'-chair,session_opened,"), std::string::npos);
  EXPECT_NE(csv.find(",'@nurse,"), std::string::npos);
  EXPECT_NE(csv.find("patient =cmd"), std::string::npos) << "inside a cell it is harmless text";
  EXPECT_NE(csv.find(",alarm_escalated,7,systolic_high,physiological,high,,,,nurse,0,,,"), std::string::npos);
  // One row per event, plus the header; the note's newline is inside quotes.
  EXPECT_EQ(count(csv, "\r\n"), r.events.size() + 1);
}

// --- downsampling ----------------------------------------------------------------------------

TEST(Downsample, KeepsEveryColumnsMinimumAndMaximum) {
  std::mt19937 random(7);
  std::normal_distribution<double> noise(0, 3);
  std::vector<model::vital_sample> samples;
  for (int i = 0; i < 7200; ++i) samples.push_back({t0 + i * 1000, 80 + noise(random), vital_kind::heart_rate, 0});
  samples[1234].value = 190;  // one-second extremes
  samples[5000].value = 31;
  samples[5001].value = 250;
  samples[5001].quality = model::quality::artifact;  // flagged: not a measurement
  const auto runs = downsample(samples, t0, t0 + 7199 * 1000, 100, 30 * seconds_ms);
  ASSERT_EQ(runs.size(), 1u);
  EXPECT_LE(runs[0].size(), 200u);
  double low = 1e9, high = -1e9;
  for (const auto& p : runs[0]) {
    low = std::min(low, p.value);
    high = std::max(high, p.value);
  }
  EXPECT_EQ(high, 190);
  EXPECT_EQ(low, 31);
  EXPECT_TRUE(std::is_sorted(runs[0].begin(), runs[0].end(), [](auto a, auto b) { return a.at < b.at; }));
  // Each column's extremes: compare with a direct computation.
  for (int c = 0; c < 100; ++c) {
    double lo = 1e9, hi = -1e9;
    for (const auto& s : samples) {
      if (!usable(s)) continue;
      const auto col = static_cast<int>(static_cast<double>(s.time_ms - t0) / (7199.0 * 1000) * 100);
      if (std::min(col, 99) != c) continue;
      lo = std::min(lo, s.value);
      hi = std::max(hi, s.value);
    }
    const auto has = [&](double v) {
      return std::any_of(runs[0].begin(), runs[0].end(), [&](const trace_point& p) { return p.value == v; });
    };
    EXPECT_TRUE(has(lo) && has(hi)) << "column " << c;
  }
}

TEST(Downsample, BreaksTheLineAtGaps) {
  std::vector<model::vital_sample> samples;
  for (int i = 0; i < 60; ++i) samples.push_back({t0 + i * 1000, 97, vital_kind::spo2, 0});
  for (int i = 120; i < 180; ++i) samples.push_back({t0 + i * 1000, 96, vital_kind::spo2, 0});
  const auto runs = downsample(samples, t0, t0 + 180 * 1000, 500, 30 * seconds_ms);
  ASSERT_EQ(runs.size(), 2u);
  EXPECT_EQ(runs[0].back().at, t0 + 59 * 1000);
  EXPECT_EQ(runs[1].front().at, t0 + 120 * 1000);
}

// --- HTML ------------------------------------------------------------------------------------

TEST(Html, IsOneSelfContainedDocumentWithTheChart) {
  const auto r = make_record();
  const std::string html = render_html(r, ctx);
  EXPECT_EQ(html.rfind("<!DOCTYPE html>", 0), 0u);
  EXPECT_NE(html.find("Ketamine session report"), std::string::npos);
  EXPECT_NE(html.find("all times UTC"), std::string::npos);
  EXPECT_NE(html.find("Vigil 9.9.9"), std::string::npos);
  EXPECT_EQ(count(html, "<svg class=\"vitals-chart\""), 1u);
  EXPECT_EQ(count(html, "class=\"dose-mark\""), 1u);
  EXPECT_EQ(count(html, "class=\"obs-window\""), 1u);
  EXPECT_EQ(count(html, "class=\"ready-mark\""), 1u);
  EXPECT_EQ(count(html, "class=\"alarm-marker\""), 3u) << "one marker per alarm";
  EXPECT_NE(html.find("data-alarm=\"7\""), std::string::npos);
  EXPECT_NE(html.find("class=\"hr-line\""), std::string::npos);
  EXPECT_NE(html.find("class=\"spo2-line\""), std::string::npos);
  EXPECT_NE(html.find("class=\"bp\""), std::string::npos);
  EXPECT_NE(html.find("@media print"), std::string::npos);
  EXPECT_NE(html.find("size: A4"), std::string::npos);
  // The alarm table: raise, acknowledgement (with who), clearing (with why), escalation.
  EXPECT_NE(html.find("Systolic BP back to 172"), std::string::npos);
  EXPECT_NE(html.find("charge nurse"), std::string::npos);
  EXPECT_NE(html.find("still active"), std::string::npos);
  // Nothing is fetched and nothing runs.
  for (const std::string_view banned : {"<script", "<link", "src=", "href=", "url(", "@import", "https://"}) {
    EXPECT_EQ(html.find(banned), std::string::npos) << banned;
  }
  EXPECT_EQ(count(html, "http://"), 1u) << "only the SVG namespace";
}

TEST(Html, EscapesHostileTextEverywhere) {
  const auto r = make_record(hostile, "<img src=x onerror=alert(1)> & </td></table><script>x</script>");
  const std::string html = render_html(r, {t0, "<b>1</b>"});
  EXPECT_EQ(html.find("<script"), std::string::npos);
  EXPECT_EQ(html.find("<img"), std::string::npos);
  EXPECT_EQ(html.find("<b>1"), std::string::npos);
  EXPECT_NE(html.find("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&quot;&amp;"), std::string::npos);
  EXPECT_NE(html.find("&lt;img src=x onerror=alert(1)&gt; &amp; &lt;/td&gt;&lt;/table&gt;"), std::string::npos);
  EXPECT_EQ(html_escape(std::string("a\0b\x1b[31m\n", 9)), "a b [31m\n");
}

TEST(Html, StaysSmallForATwoHourSessionAt1Hz) {
  auto r = make_record();
  r.summary.closed_ms = t0 + 150 * minutes_ms;
  r.vitals = vitals(*r.summary.closed_ms);
  ASSERT_GT(r.vitals.size(), 3u * 9000u);
  const std::string html = render_html(r, ctx);
  EXPECT_LT(html.size(), 200u * 1024u) << html.size();
}

TEST(Html, ASessionWithoutDoseOrVitalsStillRenders) {
  session_record r;
  r.summary.id = 1;
  r.summary.chair_id = "chair-9";
  r.summary.patient_ref = "P-9";
  r.summary.opened_ms = t0;
  r.summary.outcome = "open";
  r.events.push_back(make_event(event_type::session_opened, t0));
  const std::string html = render_html(r, ctx);
  EXPECT_NE(html.find("no dose marked"), std::string::npos);
  EXPECT_NE(html.find("No alarm was raised"), std::string::npos);
  EXPECT_EQ(count(html, "class=\"dose-mark\""), 0u);
  EXPECT_EQ(count(html, "class=\"obs-window\""), 0u);
}

TEST(Html, ShowsTheSessionsAlarmBurden) {
  const std::string html = render_html(make_record(), ctx);
  EXPECT_NE(html.find("<h2>Alarm burden</h2><p>Patient time 2 h 20 min (2.33 patient-hours), from opening to closing.</p>"),
            std::string::npos);
  // Three alarms in 140 min; none under 30 s; one acknowledged, 70 s after it was raised.
  EXPECT_NE(html.find(R"(<tr><td><strong>All</strong></td><td class="num">3</td><td class="num">1.29</td>)"
                      R"(<td class="num">0%</td><td class="num">33%</td><td class="num">1 min 10 s</td>)"
                      R"(<td class="num">1 min 10 s</td></tr>)"),
            std::string::npos);
  EXPECT_NE(html.find(R"(<tr><td><strong>Cuff reading overdue</strong><span class="sub">Low &middot; technical</span></td>)"
                      R"(<td class="num">1</td><td class="num">0.43</td><td class="num">0%</td><td class="num">0%</td>)"
                      R"(<td class="num">&mdash;</td><td class="num">&mdash;</td></tr>)"),
            std::string::npos);
  EXPECT_NE(html.find(R"(<tr><td>Technical alarms</td><td class="num">1</td>)"), std::string::npos);

  // An open session counts up to when the report was made (t0 + 200 min).
  session_record open;
  open.summary.id = 1;
  open.summary.opened_ms = t0;
  open.summary.outcome = "open";
  open.events.push_back(make_event(event_type::session_opened, t0));
  const std::string open_html = render_html(open, ctx);
  EXPECT_NE(open_html.find("Patient time 3 h 20 min (3.33 patient-hours), from opening to when this report was made."),
            std::string::npos);
}

// --- loading from a timeline -----------------------------------------------------------------

TEST(LoadSession, ReadsSummaryEventsAndVitalsBack) {
  const fs::path dir = fs::temp_directory_path() / ("vigil-report-" + std::to_string(getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  const auto expected = make_record();
  {
    store::sqlite_timeline store({(dir / "timeline.db").string(), false});
    store.append_state(expected.events, {});
    store.append_batch("dev-1", "chair-1", session_id, 1, expected.vitals, nullptr);
    store.flush();
  }
  store::sqlite_reader reader((dir / "timeline.db").string());
  const auto r = load_session(reader, session_id);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->summary.patient_ref, "P-0001");
  EXPECT_EQ(r->summary.dose_ms, dose_at);
  EXPECT_EQ(r->summary.outcome, "closed");
  EXPECT_EQ(r->events.size(), expected.events.size());
  ASSERT_EQ(r->vitals.size(), expected.vitals.size());
  EXPECT_EQ(series(*r, vital_kind::nibp_systolic).size(), series(expected, vital_kind::nibp_systolic).size());
  EXPECT_FALSE(load_session(reader, 999));
  fs::remove_all(dir);
}

}  // namespace
}  // namespace vigil::report
