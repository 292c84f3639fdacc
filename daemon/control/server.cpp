#include "daemon/control/server.hpp"

#include "daemon/control/session.hpp"
#include "daemon/log/log.hpp"

namespace vigil::control {
namespace {

// Requests are small; a larger frame is a mistake or an attack.
constexpr std::size_t max_request_bytes = 16 * 1024;

std::string refusal_frame(std::size_t limit) {
  v1::ControlResponse response;
  response.set_error(v1::CONTROL_ERROR_TOO_MANY_CONNECTIONS);
  response.set_message(fmt::format("the daemon is at its limit of {} control connections", limit));
  std::string frame;
  codec::append_frame(frame, response);
  return frame;
}

}  // namespace

server::server(boost::asio::io_context& io, const settings& config, service& handler)
    : log_(log::component_logger("control")),
      listener_(io,
                {"operators", config.address, config.port, config.max_connections,
                 refusal_frame(config.max_connections)},
                [&config, &handler, log = log_.get()](boost::asio::ip::tcp::socket socket, std::uint64_t id,
                                                      std::string peer) {
                  return std::make_shared<control_session<boost::asio::ip::tcp::socket>>(
                      std::move(socket), id, std::move(peer), handler, max_request_bytes, config.idle_timeout, *log);
                },
                log_) {}

}  // namespace vigil::control
