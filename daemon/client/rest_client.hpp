#pragma once

// The client side of vigild's REST API (docs/api.md), shared by vigilctl and vigil-sim.

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/beast/http/verb.hpp>
#include <boost/system/error_code.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace google::protobuf {
class Message;
}

namespace vigil::client {

/// The port on the `name:` line ("ingest", "http", ...) of vigild's ports file; nullopt if the
/// file has no such line or cannot be read.
std::optional<std::uint16_t> read_port(const std::string& ports_file, std::string_view name);

/// Where vigild's HTTP listener is.
struct endpoint {
  std::string host = "127.0.0.1";
  std::uint16_t port = 7402;
};

/// Parses http://HOST or http://HOST:PORT (a trailing slash is allowed, a path is not).
std::optional<endpoint> parse_url(const std::string& url);

struct reply {
  unsigned status = 0;
  std::string body;
};

/// A refusal's body, {"error":..., "message":...}; http_<status> when the body says nothing.
struct refusal {
  std::string error;
  std::string message;
};
refusal refusal_of(const reply& r);

/// A transport fault in plain words for people, e.g. "connection refused", "timed out",
/// "host not found"; never a source location.
std::string describe(const boost::system::error_code& ec);

/// A message in protobuf's JSON mapping with the .proto field names, as the API takes it.
std::string json_of(const google::protobuf::Message& m);
/// Parses the API's JSON into `out`, ignoring fields this build does not know; false if it is not that JSON.
bool parse_json(const std::string& json, google::protobuf::Message& out);

/// Calls to the REST API with a user's token, one at a time, each on a connection of its own
/// (a simulator's calls are minutes apart, longer than the daemon keeps an idle connection).
class rest_client {
 public:
  rest_client(boost::asio::any_io_executor executor, endpoint where, std::string token,
              std::string user_agent = "vigil-client");

  /// Sends one request and reads its response; throws boost::system::system_error on transport
  /// faults (refused, reset, timed out).
  boost::asio::awaitable<reply> call(boost::beast::http::verb method, std::string target, std::string body = "");

  void set_endpoint(endpoint where) { where_ = std::move(where); }
  const endpoint& where() const noexcept { return where_; }
  /// The longest a call may take, connecting included.
  std::chrono::milliseconds timeout{10'000};

 private:
  boost::asio::any_io_executor executor_;
  endpoint where_;
  std::string token_;
  std::string user_agent_;
};

/// rest_client for command-line tools: each call runs to completion before it returns.
class blocking_rest_client {
 public:
  blocking_rest_client(endpoint where, std::string token, std::string user_agent);
  ~blocking_rest_client();
  /// As rest_client::call; throws on transport faults.
  reply call(boost::beast::http::verb method, const std::string& target, const std::string& body = "");

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace vigil::client
