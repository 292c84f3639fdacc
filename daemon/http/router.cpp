#include "daemon/http/router.hpp"

#include <array>
#include <charconv>
#include <vector>

namespace vigil::http {
namespace {

struct route {
  std::string_view method;
  std::string_view pattern;  // segments; "{session}" and "{alarm}" stand for decimal ids above 0
  http::endpoint endpoint;
};

constexpr std::array routes = {
    route{"GET", "/healthz", endpoint::healthz},
    route{"GET", "/metrics", endpoint::metrics},
    route{"GET", "/api/v1/me", endpoint::me},
    route{"POST", "/api/v1/signin", endpoint::signin},
    route{"POST", "/api/v1/signout", endpoint::signout},
    route{"GET", "/api/v1/sessions", endpoint::sessions_list},
    route{"POST", "/api/v1/sessions", endpoint::session_open},
    route{"GET", "/api/v1/sessions/{session}", endpoint::session_show},
    route{"POST", "/api/v1/sessions/{session}/dose", endpoint::session_dose},
    route{"POST", "/api/v1/sessions/{session}/override", endpoint::session_override},
    route{"POST", "/api/v1/sessions/{session}/close", endpoint::session_close},
    route{"POST", "/api/v1/sessions/{session}/abort", endpoint::session_abort},
    route{"POST", "/api/v1/sessions/{session}/notes", endpoint::session_note},
    route{"POST", "/api/v1/sessions/{session}/baseline", endpoint::session_baseline},
    route{"POST", "/api/v1/sessions/{session}/pause", endpoint::session_pause},
    route{"POST", "/api/v1/sessions/{session}/alarms/{alarm}/ack", endpoint::alarm_ack},
    route{"GET", "/api/v1/sessions/{session}/timeline.json", endpoint::timeline_json},
    route{"GET", "/api/v1/sessions/{session}/timeline.csv", endpoint::timeline_csv},
    route{"GET", "/api/v1/sessions/{session}/report.html", endpoint::report_html},
    route{"POST", "/api/v1/devices/reset", endpoint::device_reset},
    route{"GET", "/api/v1/alarm-burden", endpoint::alarm_burden},
    route{"GET", "/api/v1/feed", endpoint::feed},
};

std::vector<std::string_view> segments(std::string_view path) {
  std::vector<std::string_view> out;
  std::size_t start = 0;
  while (start <= path.size()) {
    const auto end = path.find('/', start);
    const auto piece = path.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start);
    out.push_back(piece);
    if (end == std::string_view::npos) break;
    start = end + 1;
  }
  return out;
}

bool parse_id(std::string_view text, std::uint64_t& id) {
  if (text.empty() || text.size() > 19) return false;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), id);
  return ec == std::errc() && end == text.data() + text.size() && id > 0;
}

/// Whether `path` fits `pattern`, filling the ids it names.
bool fits(std::string_view pattern, std::string_view path, route_match& m) {
  const auto want = segments(pattern);
  const auto have = segments(path);
  if (want.size() != have.size()) return false;
  route_match ids;
  for (std::size_t i = 0; i < want.size(); ++i) {
    if (want[i] == "{session}") {
      if (!parse_id(have[i], ids.session)) return false;
    } else if (want[i] == "{alarm}") {
      if (!parse_id(have[i], ids.alarm)) return false;
    } else if (want[i] != have[i]) {
      return false;
    }
  }
  m.session = ids.session;
  m.alarm = ids.alarm;
  return true;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string decode(std::string_view text) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '+') {
      out += ' ';
    } else if (text[i] == '%' && i + 2 < text.size() && hex_value(text[i + 1]) >= 0 && hex_value(text[i + 2]) >= 0) {
      out += static_cast<char>(hex_value(text[i + 1]) * 16 + hex_value(text[i + 2]));
      i += 2;
    } else {
      out += text[i];
    }
  }
  return out;
}

}  // namespace

route_match find_route(std::string_view method, std::string_view path) {
  route_match m;
  for (const auto& r : routes) {
    route_match candidate;
    if (!fits(r.pattern, path, candidate)) continue;
    if (r.method == method) {
      candidate.result = route_match::outcome::found;
      candidate.endpoint = r.endpoint;
      return candidate;
    }
    m.result = route_match::outcome::method_not_allowed;
    if (m.allow.find(r.method) == std::string::npos) m.allow += (m.allow.empty() ? "" : ", ") + std::string(r.method);
  }
  return m;
}

std::string_view path_of(std::string_view target) { return target.substr(0, target.find('?')); }

query query_of(std::string_view target) {
  query out;
  const auto mark = target.find('?');
  if (mark == std::string_view::npos) return out;
  std::string_view rest = target.substr(mark + 1);
  while (!rest.empty()) {
    const auto amp = rest.find('&');
    const auto pair = rest.substr(0, amp);
    rest = amp == std::string_view::npos ? std::string_view() : rest.substr(amp + 1);
    if (pair.empty()) continue;
    const auto eq = pair.find('=');
    auto name = decode(pair.substr(0, eq));
    auto value = eq == std::string_view::npos ? std::string() : decode(pair.substr(eq + 1));
    const bool added = out.params.emplace(name, std::move(value)).second;
    if (!added && out.repeated.empty()) out.repeated = std::move(name);
  }
  return out;
}

}  // namespace vigil::http
