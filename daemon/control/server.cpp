#include "daemon/control/server.hpp"

#include "daemon/control/session.hpp"
#include "daemon/log/log.hpp"

namespace vigil::control {
namespace {

// Requests are small; a larger frame is a mistake or an attack.
constexpr std::size_t max_request_bytes = 16 * 1024;

std::string refusal_frame(std::string text) {
  v1::ControlResponse response;
  response.set_error(v1::CONTROL_ERROR_TOO_MANY_CONNECTIONS);
  response.set_message(std::move(text));
  std::string frame;
  codec::append_frame(frame, response);
  return frame;
}

}  // namespace

server::server(boost::asio::io_context& io, const settings& config, service& handler, net::auth_tracker* failures)
    : log_(log::component_logger("control")),
      listener_(io,
                {"operators", config.address, config.port, config.max_connections, config.max_unauthenticated,
                 config.max_unauthenticated_per_peer,
                 refusal_frame(fmt::format("the daemon is at its limit of {} control connections", config.max_connections)),
                 refusal_frame(fmt::format("this address already has {} control connections without a valid token, "
                                           "its limit; retry after a delay",
                                           config.max_unauthenticated_per_peer)),
                 failures},
                [&config, &handler, log = log_.get()](boost::asio::ip::tcp::socket socket, std::uint64_t id,
                                                      std::string peer, net::auth_gate gate) {
                  return std::make_shared<control_session<boost::asio::ip::tcp::socket>>(
                      std::move(socket), id, std::move(peer), handler, max_request_bytes,
                      control_session<boost::asio::ip::tcp::socket>::timeouts{config.handshake_timeout,
                                                                              config.idle_timeout},
                      *log, std::move(gate));
                },
                log_) {}

}  // namespace vigil::control
