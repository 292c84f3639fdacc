#pragma once

// Which endpoint a request is for: the table of every method and path the HTTP listener
// serves. Pure: no sockets, no JSON. A new endpoint is one more row in the table and one
// more case in api::dispatch (or, as for the WebSocket feed, in http_session::run).

#include <cstdint>
#include <map>
#include <string>
#include <string_view>

namespace vigil::http {

enum class endpoint : std::uint8_t {
  healthz,
  metrics,
  me,  // who the token belongs to
  signin,   // a session token for a user name and password
  signout,  // the end of a session token
  sessions_list,
  session_open,
  session_show,
  session_dose,
  session_override,
  session_close,
  session_abort,
  session_note,
  session_baseline,  // an operator's re-take of the baseline
  session_pause,
  alarm_ack,
  timeline_json,
  timeline_csv,
  report_html,
  device_reset,  // an operator's reset of a device's sequence numbers
  alarm_burden,  // alarms per patient-hour and the rest, over stored sessions
  feed,  // the WebSocket feed: served by feed::ws_session after an upgrade, else 426
};

/// What the table says about a method and a path.
struct route_match {
  enum class outcome : std::uint8_t { found, not_found, method_not_allowed } result = outcome::not_found;
  http::endpoint endpoint = endpoint::healthz;
  std::uint64_t session = 0;  // {session} in the path
  std::uint64_t alarm = 0;    // {alarm} in the path
  std::string allow;          // methods the path takes, for 405's Allow header ("GET, POST")
};

/// Finds the endpoint for `method` ("GET", "POST", ...) and `path` (the target without its query).
route_match find_route(std::string_view method, std::string_view path);

/// The path of a request target, before any '?'.
std::string_view path_of(std::string_view target);
/// A request's query: its parameters, percent-decoded, and the first name given more than once
/// (a request that says two things about one parameter is refused, not guessed at).
struct query {
  std::map<std::string, std::string, std::less<>> params;
  std::string repeated;  // empty when every name came once
};
query query_of(std::string_view target);

}  // namespace vigil::http
