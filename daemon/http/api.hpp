#pragma once

// The REST API, /healthz and /metrics: one request in, one response out. Every state change
// goes through control::service, exactly as on the control port, so the roles checked and the
// user recorded are the same. Reads of the timeline and the password checks of signing in run
// on a reader thread, never on the I/O thread that runs the alarm engine.

#include "daemon/control/service.hpp"
#include "daemon/http/metrics.hpp"
#include "daemon/http/router.hpp"
#include "daemon/http/passwords.hpp"
#include "daemon/http/sign_ins.hpp"
#include "daemon/store/read_pool.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace spdlog {
class logger;
}

namespace vigil::http {

using request = boost::beast::http::request<boost::beast::http::string_body>;
using response = boost::beast::http::response<boost::beast::http::string_body>;
using status = boost::beast::http::status;

/// What /healthz reports.
struct health_status {
  bool stopping = false;
  std::vector<std::pair<std::string, std::uint16_t>> listeners;  // name, bound port
  bool timeline = false;                                          // a data_dir is configured
  bool timeline_saving = true;
  std::string timeline_reason;  // why not, while not saving
  // Cluster mode: this daemon's node name, whether the cluster's database answers its lease
  // renewals (why not, when not), and how many chairs it holds.
  bool cluster = false;
  std::string cluster_node;
  bool cluster_reachable = true;
  std::string cluster_reason;
  std::size_t chairs_held = 0;
};

/// What the API reads besides the control service; the functions run on the I/O thread.
struct sources {
  std::function<metrics_snapshot()> metrics;
  std::function<health_status()> health;
  store::read_pool* timeline = nullptr;  // reads of the timeline; null when vigild runs without data_dir
};

/// A JSON error body, {"error":code,"message":message}, with its status.
response error_response(status code, std::string_view error, std::string_view message);
/// `text` as a JSON string, quotes included; invalid UTF-8 becomes U+FFFD.
std::string json_quote(std::string_view text);

/// What a request did for its connection's authentication.
enum class auth_outcome : std::uint8_t {
  none,            // no token looked at: an open endpoint, or no token given
  passed,          // a user's token, a session token, or a sign-in with the right password
  failed,          // a token that is no user's (nor a live session token)
  signin_refused,  // a sign-in with a name that is no user's or a wrong password (logged by the API)
};

/// Who sent a request: for the log lines of signing in and out.
struct client {
  std::uint64_t connection = 0;
  std::string_view address;
};

/// How users are known on the HTTP listener besides their configured tokens.
struct sign_in_context {
  sign_ins& sessions;               // session tokens from signing in
  const password_check& passwords;  // the users' password hashes
  spdlog::logger& log;
};

class api {
 public:
  /// `readers` runs the password checks (a thread of their own); the timeline is read on its
  /// own read pool (sources::timeline).
  api(control::service& commands, sources from, boost::asio::any_io_executor readers, sign_in_context signing);

  /// Answers one request from `from`, and says in `auth` what its token was. Never throws:
  /// faults become JSON errors.
  boost::asio::awaitable<response> handle(const request& req, auth_outcome& auth, client from);

 private:
  boost::asio::awaitable<response> dispatch(const request& req, const route_match& route, auth_outcome& auth,
                                            const client& from);
  boost::asio::awaitable<response> sign_in(const request& req, auth_outcome& auth, const client& from);
  response sign_out(const request& req, auth_outcome& auth, const client& from);
  boost::asio::awaitable<response> command(const request& req, const route_match& route, const control::user& who);
  boost::asio::awaitable<response> read(const request& req, const route_match& route, const control::user& who);
  response healthz() const;
  /// The open sessions as the control service lists them to `who`.
  v1::ControlResponse live(const control::user& who);

  control::service& commands_;
  sources from_;
  boost::asio::any_io_executor readers_;
  sign_in_context signing_;
};

}  // namespace vigil::http
