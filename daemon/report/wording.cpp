#include "daemon/report/wording.hpp"

#include "vigil/v1/wording.pb.h"

#include <fmt/format.h>
#include <google/protobuf/util/json_util.h>

#include <cctype>
#include <cmath>
#include <regex>

namespace vigil::report {
namespace {

/// The table, read once. A table that does not parse is a build mistake the unit tests catch;
/// the report then falls back to the engine's own words rather than failing.
const v1::Wording& table() {
  static const v1::Wording parsed = [] {
    v1::Wording w;
    if (!google::protobuf::util::JsonStringToMessage(std::string(wording_json()), &w).ok()) w.Clear();
    return w;
  }();
  return parsed;
}

const v1::VitalWording* vital_of(std::string_view id) {
  const auto& vitals = table().vitals();
  const auto it = vitals.find(std::string(id));
  return it == vitals.end() ? nullptr : &it->second;
}

const v1::RuleWording* rule_of(std::string_view id) {
  const auto& rules = table().rules();
  const auto it = rules.find(std::string(id));
  return it == rules.end() ? nullptr : &it->second;
}

/// "195", "36.5": whole values without decimals, others with one.
std::string number_text(double v) {
  if (!std::isfinite(v)) return "–";
  if (std::abs(v - std::round(v)) < 1e-9) return fmt::format("{:.0f}", v);
  return fmt::format("{:.1f}", v);
}

bool word_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_'; }

std::string capitalised(std::string s) {
  if (!s.empty() && s[0] >= 'a' && s[0] <= 'z') s[0] = static_cast<char>(s[0] - 'a' + 'A');
  return s;
}

void replace_all(std::string& s, std::string_view what, std::string_view with) {
  for (auto at = s.find(what); at != std::string::npos; at = s.find(what, at + with.size())) s.replace(at, what.size(), with);
}

/// `id`'s entry in one of the table's plain maps, else `id` with its underscores as spaces.
std::string title_in(const google::protobuf::Map<std::string, std::string>& map, std::string_view id) {
  if (const auto it = map.find(std::string(id)); it != map.end() && !it->second.empty()) return it->second;
  std::string out(id);
  replace_all(out, "_", " ");
  return out;
}

}  // namespace

std::string vital_display_name(model::vital_kind kind) {
  const auto* v = vital_of(model::name(kind));
  return v != nullptr ? v->name() : std::string(model::name(kind));
}

std::string vital_display_unit(model::vital_kind kind) {
  const auto* v = vital_of(model::name(kind));
  return v != nullptr ? v->unit() : std::string(model::unit(kind));
}

std::string rule_title(std::string_view rule) {
  if (const auto* r = rule_of(rule); r != nullptr && !r->title().empty()) return r->title();
  std::string out(rule);
  replace_all(out, "_", " ");
  return out;
}

std::string phase_title(std::string_view phase) { return title_in(table().phases(), phase); }

std::string responder_title(std::string_view responder) { return title_in(table().responders(), responder); }

std::string clinical_text(std::string_view text) {
  std::string out;
  out.reserve(text.size() + 16);
  std::size_t i = 0;
  while (i < text.size()) {
    if (!word_char(text[i]) || (i > 0 && word_char(text[i - 1]))) {
      out += text[i++];
      continue;
    }
    std::size_t end = i;
    while (end < text.size() && word_char(text[end])) ++end;
    const std::string_view word = text.substr(i, end - i);
    if (const auto* v = vital_of(word)) {
      out += v->name();
      // "heart_rate 75.0" gets its unit, unless the text gives it already.
      std::size_t n = end;
      if (n + 1 < text.size() && text[n] == ' ' && (std::isdigit(static_cast<unsigned char>(text[n + 1])) != 0)) {
        ++n;
        while (n < text.size() && (std::isdigit(static_cast<unsigned char>(text[n])) != 0 || text[n] == '.')) ++n;
        out += text.substr(end, n - end);
        if (!v->unit().empty() && text.substr(n, v->unit().size() + 1) != " " + v->unit()) out += " " + v->unit();
        end = n;
      }
    } else if (word == "SpO2") {
      out += "SpO\u2082";
    } else if (const auto* r = rule_of(word); r != nullptr && !r->title().empty()) {
      out += r->title();
    } else {
      out += word;
    }
    i = end;
  }
  return out;
}

std::string alarm_display_text(std::string_view rule, double value, std::string_view engine_text) {
  const std::string text(engine_text);
  if (const auto* r = rule_of(rule); r != nullptr && !r->text().empty()) {
    std::string out = r->text();
    std::smatch first;
    static const std::regex number(R"((^|[^A-Za-z0-9_.])([0-9]+(\.[0-9]+)?))");  // a number of its own, not SpO2's 2
    const std::string n = std::regex_search(text, first, number) ? first.str(2) : number_text(value);
    replace_all(out, "{value}", number_text(value));
    replace_all(out, "{n}", n);
    replace_all(out, "{text}", clinical_text(text));
    replace_all(out, "{Text}", capitalised(clinical_text(text)));
    return out;
  }
  // The engine's limit texts (docs/alarms.md 5 and 13): "<vital> <value> <unit> above|below
  // <limit>" and "<vital> <+delta> <unit> from baseline <baseline>".
  static const std::regex absolute(R"(^([a-z0-9_]+) (-?[0-9.]+) (\S+) (above|below) (-?[0-9.]+)$)");
  static const std::regex relative(R"(^([a-z0-9_]+) ([+-][0-9.]+) (\S+) from baseline (-?[0-9.]+)$)");
  std::smatch m;
  if (std::regex_match(text, m, relative)) {
    if (const auto* v = vital_of(m.str(1))) return fmt::format("{} {} {} \u2014 from baseline {}", v->name(), m.str(2), v->unit(), m.str(4));
  } else if (std::regex_match(text, m, absolute)) {
    if (const auto* v = vital_of(m.str(1))) {
      return fmt::format("{} {} {} \u2014 {} {}", v->name(), number_text(value), v->unit(), m.str(4), m.str(5));
    }
  }
  return capitalised(clinical_text(text));
}

}  // namespace vigil::report
