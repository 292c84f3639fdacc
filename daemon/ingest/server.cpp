#include "daemon/ingest/server.hpp"

#include "daemon/ingest/session.hpp"
#include "daemon/log/log.hpp"

#include <fmt/format.h>

namespace vigil::ingest {

namespace {

std::string refusal_frame(std::string text) {
  v1::DaemonMessage message;
  auto& error = *message.mutable_error();
  error.set_code(v1::TOO_MANY_CONNECTIONS);
  error.set_message(std::move(text));
  error.set_fatal(true);
  std::string frame;
  codec::append_frame(frame, message);
  return frame;
}

}  // namespace

server::server(boost::asio::io_context& io, const settings& config, device_registry& registry, sample_sink& sink,
               stats& counters, net::auth_tracker* failures)
    : log_(log::component_logger("ingest")),
      listener_(io,
                {"devices", config.address, config.port, config.max_connections, config.max_unauthenticated,
                 config.max_unauthenticated_per_peer,
                 refusal_frame(fmt::format("the daemon is at its limit of {} device connections", config.max_connections)),
                 refusal_frame(fmt::format("this address already has {} device connections without a Hello, its limit; "
                                           "retry after a delay",
                                           config.max_unauthenticated_per_peer)),
                 failures},
                [&config, &registry, &sink, &counters, log = log_.get()](boost::asio::ip::tcp::socket socket,
                                                                         std::uint64_t id, std::string peer,
                                                                         net::auth_gate gate) {
                  return std::make_shared<device_session<boost::asio::ip::tcp::socket>>(
                      std::move(socket), id, std::move(peer),
                      device_protocol::context{config, registry, sink, counters, *log}, std::move(gate));
                },
                log_) {}

}  // namespace vigil::ingest
