#pragma once

// The REST API, /healthz and /metrics: one request in, one response out. Every state change
// goes through control::service, exactly as on the control port, so the roles checked and the
// user recorded are the same. Reads of the timeline run on a reader thread, never on the I/O
// thread that runs the alarm engine.

#include "daemon/control/service.hpp"
#include "daemon/http/metrics.hpp"
#include "daemon/http/router.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

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
};

/// What the API reads besides the control service; the functions run on the I/O thread.
struct sources {
  std::function<metrics_snapshot()> metrics;
  std::function<health_status()> health;
  std::string timeline_path;  // the timeline database; empty when vigild runs without data_dir
};

/// A JSON error body, {"error":code,"message":message}, with its status.
response error_response(status code, std::string_view error, std::string_view message);
/// `text` as a JSON string, quotes included; invalid UTF-8 becomes U+FFFD.
std::string json_quote(std::string_view text);

/// What a request did for its connection's authentication.
enum class auth_outcome : std::uint8_t {
  none,    // no token looked at: an open endpoint, or no token given
  passed,  // a user's token
  failed,  // a token that is no user's
};

class api {
 public:
  /// `readers` runs the timeline reads (a thread of their own).
  api(control::service& commands, sources from, boost::asio::any_io_executor readers);

  /// Answers one request, and says in `auth` what its token was. Never throws: faults become JSON errors.
  boost::asio::awaitable<response> handle(const request& req, auth_outcome& auth);

 private:
  struct caller;
  boost::asio::awaitable<response> dispatch(const request& req, const route_match& route, auth_outcome& auth);
  boost::asio::awaitable<response> command(const request& req, const route_match& route, const control::user& who);
  boost::asio::awaitable<response> read(const request& req, const route_match& route, const control::user& who);
  response healthz() const;
  /// The open sessions as the control service lists them to `who`.
  v1::ControlResponse live(const control::user& who);

  control::service& commands_;
  sources from_;
  boost::asio::any_io_executor readers_;
};

}  // namespace vigil::http
