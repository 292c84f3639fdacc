#include "daemon/http/server.hpp"

#include "daemon/http/session.hpp"
#include "daemon/log/log.hpp"
#include "daemon/model/background.hpp"

#include <boost/asio/post.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/write.hpp>

#include <sstream>

namespace vigil::http {
namespace {

/// Sent to a connection refused on accept, before anything is read from it.
std::string refusal_bytes(const std::string& text) {
  auto r = error_response(status::service_unavailable, "too_many_connections", text);
  r.keep_alive(false);
  r.set(boost::beast::http::field::retry_after, "1");
  r.prepare_payload();
  std::ostringstream out;
  out << r;
  return out.str();
}

}  // namespace

response read_error_response(const boost::system::error_code& ec) {
  namespace bh = boost::beast::http;
  if (ec == bh::error::body_limit) {
    return error_response(status::payload_too_large, "payload_too_large",
                          "the request body is larger than http.max_body_bytes");
  }
  if (ec == bh::error::header_limit) {
    return error_response(status::request_header_fields_too_large, "headers_too_large",
                          fmt::format("the request line and headers are larger than {} bytes", max_header_bytes));
  }
  return error_response(status::bad_request, "bad_request", fmt::format("malformed HTTP request: {}", ec.message()));
}

server::server(boost::asio::io_context& io, const settings& config, control::service& commands, sources from,
               feed_context feed, net::auth_tracker* failures)
    : log_(log::component_logger("http")),
      sign_ins_(config.signin_validity),
      passwords_(feed.users),
      api_(commands, std::move(from), readers_.get_executor(), {sign_ins_, passwords_, *log_}),
      feed_(feed),
      listener_(
          io,
          {"http", config.address, config.port, config.max_connections, config.max_unauthenticated,
           config.max_unauthenticated_per_peer,
           refusal_bytes(fmt::format("the daemon is at its limit of {} http connections", config.max_connections)),
           refusal_bytes(fmt::format("this address already has {} http connections without a user's token, its "
                                     "limit; retry after a delay",
                                     config.max_unauthenticated_per_peer)),
           failures},
          [this, &config, log = log_.get()](boost::asio::ip::tcp::socket socket, std::uint64_t id, std::string peer,
                                            net::auth_gate gate) {
            return std::make_shared<http_session<boost::beast::tcp_stream>>(boost::beast::tcp_stream(std::move(socket)),
                                                                            id, std::move(peer), api_, config, feed_,
                                                                            *log, std::move(gate));
          },
          log_) {
  feed_.sessions = [this](std::string_view token) { return sign_ins_.find(token, sign_ins::clock::now()); };
  // The password checks (about 0.1 s of CPU each) yield to the I/O thread; this runs first on it.
  boost::asio::post(readers_, [] { model::run_in_background("vigil-signin", 10); });
}

server::~server() {
  readers_.join();
}

}  // namespace vigil::http
