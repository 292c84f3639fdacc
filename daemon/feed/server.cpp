#include "daemon/feed/server.hpp"

#include "daemon/feed/tcp_framing.hpp"
#include "daemon/log/log.hpp"

namespace vigil::feed {
namespace {

std::string refusal_frame(std::string text) {
  v1::FeedMessage m;
  m.mutable_closing()->set_error(v1::FEED_ERROR_TOO_MANY_CONNECTIONS);
  m.mutable_closing()->set_message(std::move(text));
  std::string frame;
  codec::append_frame(frame, m);
  return frame;
}

}  // namespace

server::server(boost::asio::io_context& io, const settings& config, hub::hub& hub,
               const std::vector<control::user>& users, net::auth_tracker* failures)
    : log_(log::component_logger("feed")),
      listener_(
          io,
          {"feeds", config.address, config.port, config.max_connections, config.max_unauthenticated,
           config.max_unauthenticated_per_peer,
           refusal_frame(fmt::format("the daemon is at its limit of {} feed subscribers", config.max_connections)),
           refusal_frame(fmt::format("this address already has {} feed connections without an accepted "
                                     "FeedRequest, its limit; retry after a delay",
                                     config.max_unauthenticated_per_peer)),
           failures},
          [&config, &hub, &users, log = log_.get()](boost::asio::ip::tcp::socket socket, std::uint64_t id,
                                                    std::string peer, net::auth_gate gate) {
            if (config.send_buffer_bytes > 0) {
              boost::system::error_code ignored;  // a refusal leaves the system's default
              socket.set_option(boost::asio::socket_base::send_buffer_size(static_cast<int>(config.send_buffer_bytes)),
                                ignored);
            }
            using socket_framing = tcp_framing<boost::asio::ip::tcp::socket>;
            return std::make_shared<tcp_session<boost::asio::ip::tcp::socket>>(
                socket_framing(std::move(socket)), id, std::move(peer), context{hub, users, config}, *log, nullptr,
                std::move(gate));
          },
          log_) {}

}  // namespace vigil::feed
