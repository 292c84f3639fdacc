#include "daemon/client/rest_client.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/http/error.hpp>
#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>

#include <fmt/format.h>

#include <cctype>
#include <fstream>
#include <memory>

namespace vigil::client {

namespace asio = boost::asio;
namespace bh = boost::beast::http;

std::optional<std::uint16_t> read_port(const std::string& ports_file, std::string_view name) {
  std::ifstream in(ports_file);
  std::string line;
  const std::string prefix = std::string(name) + ":";
  while (std::getline(in, line)) {
    if (line.rfind(prefix, 0) != 0) continue;
    try {
      const unsigned long port = std::stoul(line.substr(prefix.size()));
      if (port == 0 || port > 65535) return std::nullopt;
      return static_cast<std::uint16_t>(port);
    } catch (const std::exception&) {
      return std::nullopt;
    }
  }
  return std::nullopt;
}

std::optional<endpoint> parse_url(const std::string& url) {
  constexpr std::string_view scheme = "http://";
  if (url.rfind(scheme, 0) != 0) return std::nullopt;
  std::string rest = url.substr(scheme.size());
  if (!rest.empty() && rest.back() == '/') rest.pop_back();
  if (rest.empty() || rest.find('/') != std::string::npos) return std::nullopt;
  endpoint e;
  const auto colon = rest.rfind(':');
  if (colon == std::string::npos || rest.back() == ']') {
    e.host = rest;
    return e;
  }
  e.host = rest.substr(0, colon);
  try {
    std::size_t used = 0;
    const unsigned long port = std::stoul(rest.substr(colon + 1), &used);
    if (used != rest.size() - colon - 1 || port == 0 || port > 65535) return std::nullopt;
    e.port = static_cast<std::uint16_t>(port);
  } catch (const std::exception&) {
    return std::nullopt;
  }
  if (e.host.size() > 2 && e.host.front() == '[' && e.host.back() == ']') e.host = e.host.substr(1, e.host.size() - 2);
  return e;
}

refusal refusal_of(const reply& r) {
  google::protobuf::Struct body;
  refusal out{fmt::format("http_{}", r.status), "the daemon's answer carries no reason"};
  if (!google::protobuf::util::JsonStringToMessage(r.body, &body).ok()) return out;
  const auto& fields = body.fields();
  if (const auto it = fields.find("error"); it != fields.end()) out.error = it->second.string_value();
  if (const auto it = fields.find("message"); it != fields.end()) out.message = it->second.string_value();
  return out;
}

std::string describe(const boost::system::error_code& ec) {
  namespace err = asio::error;
  if (ec == err::connection_refused) return "connection refused";
  if (ec == err::timed_out || ec == boost::beast::error::timeout) return "no answer in time";
  if (ec == err::host_not_found || ec == err::host_not_found_try_again) return "host not found";
  if (ec == err::network_unreachable || ec == err::host_unreachable) return "no route to the host";
  if (ec == err::connection_reset || ec == err::eof || ec == boost::beast::http::error::end_of_stream ||
      ec == boost::beast::http::error::partial_message) {
    return "the connection closed before an answer";
  }
  // Anything else: the system's words, without Boost's category and source location.
  std::string words = ec.message();
  if (!words.empty()) words[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(words[0])));
  return words;
}

std::string json_of(const google::protobuf::Message& m) {
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  std::string out;
  (void)google::protobuf::util::MessageToJsonString(m, &out, options);
  return out;
}

bool parse_json(const std::string& json, google::protobuf::Message& out) {
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = true;  // a newer daemon may say more
  return google::protobuf::util::JsonStringToMessage(json, &out, options).ok();
}

rest_client::rest_client(asio::any_io_executor executor, endpoint where, std::string token, std::string user_agent)
    : executor_(std::move(executor)), where_(std::move(where)), token_(std::move(token)), user_agent_(std::move(user_agent)) {}

asio::awaitable<reply> rest_client::call(bh::verb method, std::string target, std::string body) {
  boost::beast::tcp_stream stream(executor_);
  asio::ip::tcp::resolver resolver(executor_);
  const auto endpoints = co_await resolver.async_resolve(where_.host, std::to_string(where_.port), asio::use_awaitable);
  stream.expires_after(timeout);
  co_await stream.async_connect(endpoints, asio::use_awaitable);
  bh::request<bh::string_body> req{method, target, 11};
  req.set(bh::field::host, where_.host);
  req.set(bh::field::user_agent, user_agent_);
  req.set(bh::field::authorization, "Bearer " + token_);
  req.set(bh::field::connection, "close");
  if (!body.empty()) req.set(bh::field::content_type, "application/json");
  req.body() = std::move(body);
  req.prepare_payload();
  co_await bh::async_write(stream, req, asio::use_awaitable);
  boost::beast::flat_buffer buffer;
  bh::response_parser<bh::string_body> parser;
  parser.body_limit(boost::none);
  co_await bh::async_read(stream, buffer, parser, asio::use_awaitable);
  boost::system::error_code ignored;
  stream.socket().shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
  co_return reply{parser.get().result_int(), std::move(parser.get().body())};
}

struct blocking_rest_client::impl {
  asio::io_context io;
  rest_client client;
  impl(endpoint where, std::string token, std::string user_agent)
      : client(io.get_executor(), std::move(where), std::move(token), std::move(user_agent)) {}
};

blocking_rest_client::blocking_rest_client(endpoint where, std::string token, std::string user_agent)
    : impl_(std::make_unique<impl>(std::move(where), std::move(token), std::move(user_agent))) {}

blocking_rest_client::~blocking_rest_client() = default;

reply blocking_rest_client::call(bh::verb method, const std::string& target, const std::string& body) {
  impl_->io.restart();
  auto done = asio::co_spawn(impl_->io, impl_->client.call(method, target, body), asio::use_future);
  impl_->io.run();
  return done.get();
}

}  // namespace vigil::client
