#include "daemon/http/api.hpp"

#include "daemon/control/answer.hpp"
#include "daemon/http/static_files.hpp"
#include "daemon/report/burden_export.hpp"
#include "daemon/report/csv_export.hpp"
#include "daemon/report/html_report.hpp"
#include "daemon/report/json_export.hpp"
#include "daemon/report/session_record.hpp"
#include "daemon/store/read_pool.hpp"
#include "daemon/wire/json.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/http/field.hpp>
#include <fmt/format.h>
#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <limits>
#include <optional>

// GCC 12 reports Asio's coroutine frame allocation as a mismatched new/delete in some
// coroutines here (a false positive: awaitable_frame_base declares both operators).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif

namespace vigil::http {

namespace asio = boost::asio;
namespace bh = boost::beast::http;
using google::protobuf::util::JsonParseOptions;
using wire::to_json;

namespace {

constexpr const char* json_type = "application/json";
constexpr std::size_t default_list_limit = 100;
constexpr std::size_t max_list_limit = 10'000;
constexpr std::size_t default_burden_limit = 1'000;

/// Runs `f` on `ex` (the reader thread); the caller resumes on its own executor with the result.
/// `f` is taken by reference and copied: GCC 12 may destroy a temporary with captures twice when
/// it lives across a co_await, so callers pass a named lambda.
template <class F>
asio::awaitable<std::invoke_result_t<F>> run_on(const asio::any_io_executor& ex, const F& f) {
  using result = std::invoke_result_t<F>;
  return asio::co_spawn(ex, [f]() -> asio::awaitable<result> { co_return f(); }, asio::use_awaitable);
}

/// Runs `f(reader&)` on the timeline's read pool, never on the I/O thread, and resumes the
/// awaiting coroutine on its own executor with the result. Not a coroutine itself: the read and
/// its handler are arguments of async_initiate, never temporaries held across the suspension.
template <class F>
auto read_timeline(store::read_pool& pool, F f) {
  using value = std::invoke_result_t<F&, store::reader&>;
  const auto start = [&pool](auto handler, F read) {
    // Tracks work on the caller's executor until the answer is posted back to it.
    auto ex = asio::prefer(asio::get_associated_executor(handler), asio::execution::outstanding_work.tracked);
    auto shared = std::make_shared<decltype(handler)>(std::move(handler));
    store::read(pool, std::move(read), [shared, ex](store::read_result<value> r) {
      asio::post(ex, [shared, r = std::move(r)]() mutable { (*shared)(std::move(r)); });
    });
  };
  return asio::async_initiate<decltype(asio::use_awaitable), void(store::read_result<value>)>(
      start, asio::use_awaitable, std::move(f));
}

/// A read's value; a read that failed throws std::runtime_error with the reason (a 500).
template <class T>
T value_of(store::read_result<T> got) {
  if (!got.value) throw std::runtime_error("the timeline could not be read: " + got.error);
  return std::move(*got.value);
}


response body_response(status code, std::string body, const char* content_type) {
  response r(code, 11);
  r.set(bh::field::content_type, content_type);
  r.set(bh::field::cache_control, "no-store");
  r.body() = std::move(body);
  return r;
}

response json_response(status code, std::string body) { return body_response(code, std::move(body) + "\n", json_type); }

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

/// The token of "Authorization: Bearer <token>"; empty when there is none.
std::string_view bearer_token(const request& req) {
  const auto it = req.find(bh::field::authorization);
  if (it == req.end()) return {};
  std::string_view value(it->value().data(), it->value().size());
  constexpr std::string_view scheme = "bearer ";
  if (value.size() <= scheme.size() || !iequals(value.substr(0, scheme.size()), scheme)) return {};
  value.remove_prefix(scheme.size());
  while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  while (!value.empty() && value.back() == ' ') value.remove_suffix(1);
  return value;
}

response unauthorized(std::string_view message) {
  auto r = error_response(status::unauthorized, "unauthorized", message);
  r.set(bh::field::www_authenticate, "Bearer realm=\"vigil\"");
  return r;
}

/// The control command an endpoint sends; COMMAND_NOT_SET for reads.
v1::ControlRequest::CommandCase command_of(endpoint e) {
  switch (e) {
    case endpoint::session_open: return v1::ControlRequest::kOpenSession;
    case endpoint::session_dose: return v1::ControlRequest::kMarkDose;
    case endpoint::session_override: return v1::ControlRequest::kOverridePredose;
    case endpoint::session_close:
    case endpoint::session_abort: return v1::ControlRequest::kCloseSession;
    case endpoint::session_note: return v1::ControlRequest::kAddNote;
    case endpoint::session_baseline: return v1::ControlRequest::kRetakeBaseline;
    case endpoint::session_pause: return v1::ControlRequest::kPauseAudio;
    case endpoint::alarm_ack: return v1::ControlRequest::kAcknowledge;
    case endpoint::device_reset: return v1::ControlRequest::kResetDevice;
    default: return v1::ControlRequest::COMMAND_NOT_SET;
  }
}

/// The HTTP status for a control error, and the error's name in JSON.
std::pair<status, std::string> http_error(v1::ControlError e) {
  std::string name = v1::ControlError_Name(e);
  constexpr std::string_view prefix = "CONTROL_ERROR_";
  if (name.rfind(prefix, 0) == 0) name.erase(0, prefix.size());
  std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  switch (e) {
    case v1::CONTROL_ERROR_UNAUTHORIZED: return {status::unauthorized, name};
    case v1::CONTROL_ERROR_FORBIDDEN: return {status::forbidden, name};
    case v1::CONTROL_ERROR_UNPARSABLE:
    case v1::CONTROL_ERROR_NO_COMMAND:
    case v1::CONTROL_ERROR_INVALID_ARGUMENT:
    case v1::CONTROL_ERROR_UNKNOWN_PROFILE: return {status::bad_request, name};
    case v1::CONTROL_ERROR_UNKNOWN_ALARM:
    case v1::CONTROL_ERROR_UNKNOWN_DEVICE: return {status::not_found, name};
    case v1::CONTROL_ERROR_NOT_SAVED: return {status::service_unavailable, name};
    case v1::CONTROL_ERROR_CHAIR_ELSEWHERE: return {status::misdirected_request, name};
    case v1::CONTROL_ERROR_NO_OPEN_SESSION:
    case v1::CONTROL_ERROR_SESSION_ALREADY_OPEN:
    case v1::CONTROL_ERROR_WRONG_PHASE:
    case v1::CONTROL_ERROR_PREDOSE_GATE: return {status::conflict, name};
    default: return {status::internal_server_error, name};
  }
}

response no_timeline() {
  return error_response(status::not_found, "no_timeline", "no timeline: vigild runs without data_dir");
}

std::int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

report::export_context context() { return {wall_ms(), VIGIL_VERSION}; }

std::string summary_json(const store::session_summary& s) {
  report::session_record r;
  r.summary = s;
  return to_json(report::to_proto(r, context()).session());
}

/// Whether a request body is JSON (or absent).
bool json_body(const request& req) {
  if (req.body().empty()) return true;
  const auto it = req.find(bh::field::content_type);
  if (it == req.end()) return false;
  std::string_view type(it->value().data(), it->value().size());
  type = type.substr(0, type.find(';'));
  while (!type.empty() && type.back() == ' ') type.remove_suffix(1);
  return iequals(type, json_type);
}

}  // namespace

std::string json_quote(std::string_view text) {
  std::string out = "\"";
  for (std::size_t i = 0; i < text.size(); ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20 || c == 0x7f) {
      out += fmt::format("\\u{:04x}", c);
    } else if (c < 0x80) {
      out += static_cast<char>(c);
    } else {
      // Copy a well-formed UTF-8 sequence whole; anything else becomes U+FFFD.
      const std::size_t length = c >= 0xf0 && c <= 0xf4 ? 4 : c >= 0xe0 ? 3 : c >= 0xc2 && c <= 0xdf ? 2 : 0;
      bool ok = length > 0 && i + length <= text.size();
      for (std::size_t k = 1; ok && k < length; ++k) ok = (static_cast<unsigned char>(text[i + k]) & 0xc0) == 0x80;
      if (ok) {
        out.append(text.substr(i, length));
        i += length - 1;
      } else {
        out += "\xef\xbf\xbd";
      }
    }
  }
  out += '"';
  return out;
}

response error_response(status code, std::string_view error, std::string_view message) {
  return json_response(code, fmt::format("{{\"error\":{},\"message\":{}}}", json_quote(error), json_quote(message)));
}

api::api(control::service& commands, sources from, asio::any_io_executor readers, sign_in_context signing)
    : commands_(commands), from_(std::move(from)), readers_(std::move(readers)), signing_(signing) {}

asio::awaitable<response> api::handle(const request& req, auth_outcome& auth, client from) {
  auth = auth_outcome::none;
  if (auto page = serve_page(req)) co_return std::move(*page);
  const std::string_view target(req.target().data(), req.target().size());
  const auto route = find_route(std::string_view(req.method_string().data(), req.method_string().size()), path_of(target));
  if (route.result == route_match::outcome::not_found) {
    co_return error_response(status::not_found, "not_found", "no such resource; the API is under /api/v1 (docs/api.md)");
  }
  if (route.result == route_match::outcome::method_not_allowed) {
    auto r = error_response(status::method_not_allowed, "method_not_allowed",
                            fmt::format("this resource takes {}", route.allow));
    r.set(bh::field::allow, route.allow);
    co_return r;
  }
  try {
    co_return co_await dispatch(req, route, auth, from);
  } catch (const std::exception& e) {
    // A timeline that cannot be opened or read; anything else is a bug, reported the same way.
    co_return error_response(status::service_unavailable, "unavailable", e.what());
  }
}

asio::awaitable<response> api::dispatch(const request& req, const route_match& route, auth_outcome& auth,
                                        const client& from) {
  if (route.endpoint == endpoint::healthz) co_return healthz();
  if (route.endpoint == endpoint::feed) {
    // Upgrades never come here: http_session hands them to the WebSocket feed.
    auto r = error_response(status::upgrade_required, "upgrade_required",
                            "the feed is a WebSocket: GET with Upgrade: websocket, then send a FeedRequest as JSON");
    r.set(bh::field::upgrade, "websocket");
    co_return r;
  }
  if (route.endpoint == endpoint::metrics) {
    co_return body_response(status::ok, render_metrics(from_.metrics()), metrics_content_type);
  }
  if (route.endpoint == endpoint::signin) co_return co_await sign_in(req, auth, from);
  if (route.endpoint == endpoint::signout) co_return sign_out(req, auth, from);
  const auto token = bearer_token(req);
  if (token.empty()) co_return unauthorized("a user's token is needed: Authorization: Bearer <token>");
  const auto who = user_of(commands_.authenticate(token), &signing_.sessions, token);
  if (!who) {
    auth = auth_outcome::failed;
    co_return unauthorized("unknown token");
  }
  auth = auth_outcome::passed;
  const auto command = command_of(route.endpoint);
  const auto needed = command == v1::ControlRequest::COMMAND_NOT_SET ? control::role::viewer
                                                                      : control::service::needed_for(command);
  if (who->role < needed) {
    co_return error_response(status::forbidden, "forbidden",
                             fmt::format("{} has the role {}; this needs {}", who->name, control::name(who->role),
                                         control::name(needed)));
  }
  if (command == v1::ControlRequest::COMMAND_NOT_SET) co_return co_await read(req, route, *who);
  co_return co_await this->command(req, route, *who);
}

asio::awaitable<response> api::sign_in(const request& req, auth_outcome& auth, const client& from) {
  if (!json_body(req)) {
    co_return error_response(status::unsupported_media_type, "unsupported_media_type",
                             "a request body must be JSON (Content-Type: application/json)");
  }
  // Parsed by hand from a Struct rather than as a message: exactly these two strings, and no
  // parser message that could quote the password back.
  const auto malformed = [] {
    return error_response(status::bad_request, "invalid_argument",
                          R"(the body is {"name": "<user name>", "password": "<password>"})");
  };
  google::protobuf::Struct body;
  if (req.body().empty() || !google::protobuf::util::JsonStringToMessage(req.body(), &body).ok()) {
    co_return malformed();
  }
  const auto& fields = body.fields();
  const auto name_it = fields.find("name");
  const auto password_it = fields.find("password");
  if (fields.size() != 2 || name_it == fields.end() || password_it == fields.end() ||
      name_it->second.kind_case() != google::protobuf::Value::kStringValue ||
      password_it->second.kind_case() != google::protobuf::Value::kStringValue) {
    co_return malformed();
  }
  // Argon2id on the reader thread: about 0.1 s of CPU that the alarm engine must never wait for.
  const auto check = [&passwords = signing_.passwords, name = name_it->second.string_value(),
                      password = password_it->second.string_value()] { return passwords.check(name, password); };
  const auto checked = co_await run_on(readers_, check);
  if (!checked.right) {
    auth = auth_outcome::signin_refused;
    // A name that is no one's may be a password typed in the wrong field: it is not logged.
    if (checked.named == nullptr) {
      signing_.log.warn("[C{}] {} failed to sign in: a name that is no user's", from.connection, from.address);
    } else {
      signing_.log.warn("[C{}] {} failed to sign in as {}: {}", from.connection, from.address, checked.named->name,
                        checked.named->password_hash.empty() ? "the user has no password_hash" : "wrong password");
    }
    co_return unauthorized("unknown user name or wrong password");
  }
  const control::user* who = checked.named;
  auth = auth_outcome::passed;
  const auto issued = signing_.sessions.issue(*who, sign_ins::clock::now());
  signing_.log.info("[C{}] {} signed in as {} ({})", from.connection, from.address, who->name,
                    control::name(who->role));
  const auto expires_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(issued.expires.time_since_epoch()).count();
  co_return json_response(status::ok, fmt::format(R"({{"token":{},"name":{},"role":{},"expires_ms":{}}})",
                                                  json_quote(issued.token), json_quote(who->name),
                                                  json_quote(control::name(who->role)), expires_ms));
}

response api::sign_out(const request& req, auth_outcome& auth, const client& from) {
  const auto token = bearer_token(req);
  if (token.empty()) return unauthorized("a session token is needed: Authorization: Bearer <token>");
  if (commands_.authenticate(token) != nullptr) {
    auth = auth_outcome::passed;
    return error_response(status::bad_request, "invalid_argument",
                          "only session tokens can be signed out; this is a user's configured token");
  }
  const auto now = sign_ins::clock::now();
  const auto who = signing_.sessions.find(token, now);
  if (!who || !signing_.sessions.revoke(token, now)) {
    auth = auth_outcome::failed;
    return unauthorized("unknown session token");
  }
  auth = auth_outcome::passed;
  signing_.log.info("[C{}] {} signed out {}", from.connection, from.address, who->name);
  response r(status::no_content, 11);
  r.set(bh::field::cache_control, "no-store");
  return r;
}

v1::ControlResponse api::live(const control::user& who) {
  v1::ControlRequest list;
  list.set_token(who.token);
  list.mutable_list_sessions();
  return commands_.handle(list);
}

asio::awaitable<response> api::command(const request& req, const route_match& route, const control::user& who) {
  if (!json_body(req)) {
    co_return error_response(status::unsupported_media_type, "unsupported_media_type",
                             "a request body must be JSON (Content-Type: application/json)");
  }
  v1::ControlRequest c;
  c.set_token(who.token);
  google::protobuf::Message* body = nullptr;
  switch (route.endpoint) {
    case endpoint::session_open: body = c.mutable_open_session(); break;
    case endpoint::session_dose: body = c.mutable_mark_dose(); break;
    case endpoint::session_override: body = c.mutable_override_predose(); break;
    case endpoint::session_close:
    case endpoint::session_abort: body = c.mutable_close_session(); break;
    case endpoint::session_note: body = c.mutable_add_note(); break;
    case endpoint::session_baseline: body = c.mutable_retake_baseline(); break;
    case endpoint::session_pause: body = c.mutable_pause_audio(); break;
    case endpoint::alarm_ack: body = c.mutable_acknowledge(); break;
    case endpoint::device_reset: body = c.mutable_reset_device(); break;
    default: co_return error_response(status::internal_server_error, "internal", "not a command");
  }
  if (!req.body().empty()) {
    JsonParseOptions options;
    options.ignore_unknown_fields = false;  // a misspelt field is an error, not a silent default
    const auto parsed = google::protobuf::util::JsonStringToMessage(req.body(), body, options);
    if (!parsed.ok()) {
      co_return error_response(status::bad_request, "bad_json",
                               fmt::format("the body is not a valid {}: {}", body->GetDescriptor()->name(),
                                           std::string(parsed.message())));
    }
  }
  if (route.endpoint == endpoint::session_close && c.close_session().abort()) {
    co_return error_response(status::bad_request, "invalid_argument", "to abort a session, POST to its /abort");
  }
  if (route.endpoint == endpoint::session_abort) c.mutable_close_session()->set_abort(true);

  if (route.endpoint != endpoint::session_open && route.endpoint != endpoint::device_reset) {
    // Commands are per chair: the session in the path names the chair, if it is open here.
    const std::string chair = commands_.chair_of_session(route.session).value_or("");
    if (chair.empty()) {
      if (from_.timeline == nullptr) {
        co_return error_response(status::not_found, "not_found",
                                 fmt::format("no open session {} (vigild runs without data_dir and keeps no record of "
                                             "closed sessions)",
                                             route.session));
      }
      const auto lookup = [id = route.session](store::reader& r) { return r.session(id); };
      const auto stored = value_of(co_await read_timeline(*from_.timeline, lookup));
      if (!stored) co_return error_response(status::not_found, "not_found", fmt::format("no session {}", route.session));
      std::string why = fmt::format("session {} is {}", route.session, stored->outcome);
      if (stored->outcome == "open") why = fmt::format("session {} is not open in this daemon", route.session);
      co_return error_response(status::conflict, "session_closed", why);
    }
    const auto* chair_field = body->GetDescriptor()->FindFieldByName("chair_id");
    const auto* reflection = body->GetReflection();
    const std::string given = reflection->GetString(*body, chair_field);
    if (!given.empty() && given != chair) {
      co_return error_response(status::bad_request, "invalid_argument",
                               fmt::format("session {} is on {}, not on {}", route.session, chair, given));
    }
    reflection->SetString(body, chair_field, chair);
    if (route.endpoint == endpoint::alarm_ack) {
      if (c.acknowledge().alarm_id() != 0 && c.acknowledge().alarm_id() != route.alarm) {
        co_return error_response(status::bad_request, "invalid_argument", "alarm_id differs from the alarm in the path");
      }
      c.mutable_acknowledge()->set_alarm_id(route.alarm);
    }
  }

  const auto result = co_await control::answer(commands_, c);
  if (result.error() != v1::CONTROL_ERROR_NONE) {
    const auto [code, name] = http_error(result.error());
    std::string text = fmt::format("{{\"error\":{},\"message\":{}", json_quote(name), json_quote(result.message()));
    if (result.session_id() != 0) text += fmt::format(",\"session_id\":\"{}\"", result.session_id());
    co_return json_response(code, text + "}");
  }
  v1::ControlResponse done;
  done.set_session_id(result.session_id());
  done.set_message(result.message());  // empty, except for an alarm acknowledged already
  if (route.endpoint == endpoint::device_reset) {
    co_return json_response(status::ok, fmt::format("{{\"device_id\":{},\"previous_acked_seq\":\"{}\"}}",
                                                    json_quote(c.reset_device().device_id()), result.previous_acked_seq()));
  }
  auto r = json_response(route.endpoint == endpoint::session_open ? status::created : status::ok, to_json(done));
  if (route.endpoint == endpoint::session_open) {
    r.set(bh::field::location, fmt::format("/api/v1/sessions/{}", result.session_id()));
  }
  co_return r;
}

asio::awaitable<response> api::read(const request& req, const route_match& route, const control::user& who) {
  const std::string_view target(req.target().data(), req.target().size());
  const auto parsed = query_of(target);
  const auto& query = parsed.params;
  const auto only = [&](std::initializer_list<std::string_view> names) -> std::optional<response> {
    if (!parsed.repeated.empty()) {
      return error_response(status::bad_request, "invalid_argument",
                            fmt::format("query parameter '{}' is given more than once", parsed.repeated));
    }
    for (const auto& [name, value] : query) {
      if (std::find(names.begin(), names.end(), name) == names.end()) {
        return error_response(status::bad_request, "invalid_argument", fmt::format("unknown query parameter '{}'", name));
      }
    }
    return std::nullopt;
  };
  store::read_pool* const timeline = from_.timeline;

  switch (route.endpoint) {
    case endpoint::me: {
      if (auto bad = only({})) co_return *bad;
      co_return json_response(status::ok, fmt::format("{{\"name\":{},\"role\":{}}}", json_quote(who.name),
                                                      json_quote(control::name(who.role))));
    }
    case endpoint::sessions_list: {
      if (auto bad = only({"state", "limit", "outcome"})) co_return *bad;
      const auto state = query.contains("state") ? query.find("state")->second : std::string("open");
      if (state != "open" && state != "all") {
        co_return error_response(status::bad_request, "invalid_argument", "state is open or all");
      }
      if (state == "open") {
        if (query.contains("limit")) co_return error_response(status::bad_request, "invalid_argument", "limit needs state=all");
        if (query.contains("outcome")) {
          co_return error_response(status::bad_request, "invalid_argument", "outcome needs state=all");
        }
        auto listed = live(who);
        v1::ControlResponse out;
        out.mutable_sessions()->Swap(listed.mutable_sessions());
        out.mutable_advisories()->Swap(listed.mutable_advisories());
        co_return json_response(status::ok, to_json(out));
      }
      std::size_t limit = default_list_limit;
      if (const auto it = query.find("limit"); it != query.end()) {
        const auto& text = it->second;
        const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), limit);
        if (ec != std::errc() || end != text.data() + text.size() || limit < 1 || limit > max_list_limit) {
          co_return error_response(status::bad_request, "invalid_argument",
                                   fmt::format("limit is a number from 1 to {}", max_list_limit));
        }
      }
      bool open_only = false;
      if (const auto it = query.find("outcome"); it != query.end()) {
        if (it->second != "open") {
          co_return error_response(status::bad_request, "invalid_argument", "outcome is open (sessions not closed)");
        }
        open_only = true;
      }
      if (timeline == nullptr) co_return no_timeline();
      const auto list = [limit, open_only](store::reader& r) {
        std::string out = "{\"sessions\":[";
        bool first = true;
        for (const auto& s : r.sessions(limit, open_only)) {
          out += (first ? "" : ",") + summary_json(s);
          first = false;
        }
        return out + "]}";
      };
      auto text = value_of(co_await read_timeline(*timeline, list));
      co_return json_response(status::ok, std::move(text));
    }
    case endpoint::session_show: {
      if (auto bad = only({})) co_return *bad;
      std::string live_json;
      const auto listed = live(who);
      for (const auto& s : listed.sessions()) {
        if (s.session_id() == route.session) live_json = to_json(s);
      }
      std::string stored_json;
      if (timeline != nullptr) {
        const auto lookup = [id = route.session](store::reader& r) {
          const auto s = r.session(id);
          return s ? summary_json(*s) : std::string();
        };
        stored_json = value_of(co_await read_timeline(*timeline, lookup));
      }
      if (live_json.empty() && stored_json.empty()) {
        co_return error_response(status::not_found, "not_found",
                                 timeline == nullptr
                                     ? fmt::format("no open session {} (vigild runs without data_dir)", route.session)
                                              : fmt::format("no session {}", route.session));
      }
      std::string out = "{";
      if (!live_json.empty()) out += "\"live\":" + live_json;
      if (!stored_json.empty()) out += std::string(live_json.empty() ? "" : ",") + "\"stored\":" + stored_json;
      co_return json_response(status::ok, out + "}");
    }
    case endpoint::timeline_json:
    case endpoint::timeline_csv:
    case endpoint::report_html: {
      std::string what;
      if (route.endpoint == endpoint::timeline_csv) {
        if (auto bad = only({"what"})) co_return *bad;
        what = query.contains("what") ? query.find("what")->second : std::string();
        if (what != "vitals" && what != "events") {
          co_return error_response(status::bad_request, "invalid_argument", "what is vitals or events");
        }
      } else if (auto bad = only({})) {
        co_return *bad;
      }
      if (timeline == nullptr) co_return no_timeline();
      const auto kind = route.endpoint;
      const auto render = [id = route.session, kind, what](store::reader& reader) -> std::optional<std::string> {
        const auto record = report::load_session(reader, id);
        if (!record) return std::nullopt;
        if (kind == endpoint::timeline_json) return report::export_json(*record, context());
        if (kind == endpoint::report_html) return report::render_html(*record, context());
        return what == "vitals" ? report::export_vitals_csv(*record) : report::export_events_csv(*record);
      };
      auto text = value_of(co_await read_timeline(*timeline, render));
      if (!text) co_return error_response(status::not_found, "not_found", fmt::format("no session {} in the timeline", route.session));
      if (kind == endpoint::timeline_json) co_return body_response(status::ok, std::move(*text), json_type);
      if (kind == endpoint::report_html) co_return body_response(status::ok, std::move(*text), "text/html; charset=utf-8");
      auto r = body_response(status::ok, std::move(*text), "text/csv; charset=utf-8");
      r.set(bh::field::content_disposition, fmt::format("attachment; filename=\"session-{}-{}.csv\"", route.session, what));
      co_return r;
    }
    case endpoint::alarm_burden: {
      if (auto bad = only({"since_ms", "session", "limit"})) co_return *bad;
      report::burden_query q;
      q.limit = default_burden_limit;
      // A parameter's number within [low, high]: nullopt when absent; `bad` when it is not one.
      bool bad = false;
      const auto number = [&](std::string_view name, std::uint64_t low, std::uint64_t high) -> std::optional<std::uint64_t> {
        const auto it = query.find(name);
        if (it == query.end()) return std::nullopt;
        std::uint64_t v = 0;
        const auto& text = it->second;
        const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
        if (ec != std::errc() || end != text.data() + text.size() || text.empty() || v < low || v > high) bad = true;
        return v;
      };
      constexpr std::uint64_t max_ms = 253'402'300'799'999;  // 9999-12-31T23:59:59.999Z
      const auto since = number("since_ms", 0, max_ms);
      if (bad) co_return error_response(status::bad_request, "invalid_argument", "since_ms is a time in ms since 1970");
      const auto session = number("session", 1, static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()));
      if (bad) co_return error_response(status::bad_request, "invalid_argument", "session is a session id above 0");
      const auto limit = number("limit", 1, max_list_limit);
      if (bad) {
        co_return error_response(status::bad_request, "invalid_argument",
                                 fmt::format("limit is a number from 1 to {}", max_list_limit));
      }
      if (session && (since || limit)) {
        co_return error_response(status::bad_request, "invalid_argument",
                                 "session counts one session: it takes no since_ms or limit");
      }
      if (since) q.since_ms = static_cast<report::millis>(*since);
      if (session) q.session = *session;
      if (limit) q.limit = static_cast<std::size_t>(*limit);
      if (timeline == nullptr) co_return no_timeline();
      const auto compute = [q](store::reader& reader) -> std::optional<std::string> {
        const auto burden = report::stored_burden(reader, q, wall_ms());
        if (!burden) return std::nullopt;
        return to_json(*burden);
      };
      auto text = value_of(co_await read_timeline(*timeline, compute));
      if (!text) co_return error_response(status::not_found, "not_found", fmt::format("no session {} in the timeline", *q.session));
      co_return json_response(status::ok, std::move(*text));
    }
    default: co_return error_response(status::internal_server_error, "internal", "not a read");
  }
}

response api::healthz() const {
  const auto h = from_.health();
  std::string listeners;
  for (const auto& [name, port] : h.listeners) {
    listeners += fmt::format("{}{}:{}", listeners.empty() ? "" : ",", json_quote(name), port);
  }
  std::string timeline = "\"none\"";
  if (h.timeline) timeline = h.timeline_saving ? "\"saving\"" : "\"not_saving\"";
  // In a cluster, a daemon cut off from the database is unready: its chairs go to the others
  // once its leases run out, so load balancers send clients elsewhere.
  const bool unready = h.cluster && !h.cluster_reachable;
  const std::string state = h.stopping                            ? "stopping"
                            : unready                             ? "unready"
                            : (h.timeline && !h.timeline_saving) ? "degraded"
                                                                  : "ok";
  std::string body = fmt::format("{{\"status\":\"{}\",\"version\":{},\"listeners\":{{{}}},\"timeline\":{}", state,
                                 json_quote(VIGIL_VERSION), listeners, timeline);
  if (h.timeline && !h.timeline_saving) body += ",\"timeline_reason\":" + json_quote(h.timeline_reason);
  if (h.cluster) {
    body += fmt::format(",\"cluster\":{{\"node\":{},\"database\":\"{}\",\"chairs_held\":{}", json_quote(h.cluster_node),
                        h.cluster_reachable ? "reachable" : "unreachable", h.chairs_held);
    if (!h.cluster_reachable) body += ",\"reason\":" + json_quote(h.cluster_reason);
    body += "}";
  }
  // Alarms work from memory while the disk fails, so only a stopping daemon, or one cut off from
  // its cluster, says it cannot serve.
  return json_response(h.stopping || unready ? status::service_unavailable : status::ok, body + "}");
}

}  // namespace vigil::http
