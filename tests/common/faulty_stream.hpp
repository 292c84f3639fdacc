#pragma once

// A stream for fault tests of a session: an Asio stream over one socket of a local socket pair
// whose operations are counted, one of them failing (connection_reset) or made short (one byte
// moved) as a fault_plan says. A test runs its scenario once with nothing failing to learn how
// many operations it takes, then once for every N up to one past that.
//
// A WebSocket user (Beast) also needs async_teardown and beast_close_socket for faulty_stream,
// declared in this namespace so that argument-dependent lookup finds them; see the feed test.

#include <boost/asio.hpp>
#include <boost/asio/local/stream_protocol.hpp>

#include <cstddef>
#include <cstdint>
#include <limits>
#include <utility>

namespace vigil::testing_support {

using local_socket = boost::asio::local::stream_protocol::socket;

/// Which operation of the stream goes wrong, and how.
struct fault_plan {
  std::size_t fail_at = std::numeric_limits<std::size_t>::max();
  bool short_only = false;  // the operation moves one byte instead of failing
  std::size_t operations = 0;

  enum class outcome : std::uint8_t { normal, fail, short_op };
  outcome next() {
    const bool hit = operations++ == fail_at;
    if (!hit) return outcome::normal;
    return short_only ? outcome::short_op : outcome::fail;
  }
};

/// An Asio stream over a socket whose operations (reads, writes, non-blocking writes) are
/// counted, the `fail_at`-th going wrong as the plan says. Its own lowest layer.
class faulty_stream {
 public:
  using executor_type = local_socket::executor_type;

  faulty_stream(local_socket socket, fault_plan& plan) : socket_(std::move(socket)), plan_(&plan) {}

  executor_type get_executor() { return socket_.get_executor(); }
  local_socket& underlying() { return socket_; }
  void non_blocking(bool mode, boost::system::error_code& ec) { socket_.non_blocking(mode, ec); }
  void shutdown(boost::asio::socket_base::shutdown_type what, boost::system::error_code& ec) {
    socket_.shutdown(what, ec);
  }
  void close(boost::system::error_code& ec) { socket_.close(ec); }

  template <class Buffers, class Token>
  auto async_read_some(const Buffers& buffers, Token&& token) {
    return boost::asio::async_initiate<Token, void(boost::system::error_code, std::size_t)>(
        [this](auto handler, const Buffers& b) {
          switch (plan_->next()) {
            case fault_plan::outcome::fail:
              return fail(std::move(handler));
            case fault_plan::outcome::short_op:
              return socket_.async_read_some(first_of<boost::asio::mutable_buffer>(b), std::move(handler));
            case fault_plan::outcome::normal:
              return socket_.async_read_some(b, std::move(handler));
          }
        },
        token, buffers);
  }

  template <class Buffers, class Token>
  auto async_write_some(const Buffers& buffers, Token&& token) {
    return boost::asio::async_initiate<Token, void(boost::system::error_code, std::size_t)>(
        [this](auto handler, const Buffers& b) {
          switch (plan_->next()) {
            case fault_plan::outcome::fail:
              return fail(std::move(handler));
            case fault_plan::outcome::short_op:
              return socket_.async_write_some(first_of<boost::asio::const_buffer>(b), std::move(handler));
            case fault_plan::outcome::normal:
              return socket_.async_write_some(b, std::move(handler));
          }
        },
        token, buffers);
  }

  template <class Buffers>
  std::size_t write_some(const Buffers& buffers, boost::system::error_code& ec) {
    switch (plan_->next()) {
      case fault_plan::outcome::fail:
        ec = boost::asio::error::connection_reset;
        return 0;
      case fault_plan::outcome::short_op:
        return socket_.write_some(first_of<boost::asio::const_buffer>(buffers), ec);
      case fault_plan::outcome::normal:
        break;
    }
    return socket_.write_some(buffers, ec);
  }

 private:
  /// One byte of the first non-empty buffer.
  template <class Buffer, class Buffers>
  static Buffer first_of(const Buffers& buffers) {
    for (auto it = boost::asio::buffer_sequence_begin(buffers); it != boost::asio::buffer_sequence_end(buffers); ++it) {
      const Buffer b(*it);
      if (b.size() > 0) return boost::asio::buffer(b, 1);
    }
    return Buffer();
  }

  /// Completes the operation with a reset, as a handler of the stream's executor (never inline).
  template <class Handler>
  void fail(Handler handler) {
    boost::asio::post(socket_.get_executor(), [h = std::move(handler)]() mutable {
      std::move(h)(boost::system::error_code(boost::asio::error::connection_reset), std::size_t{0});
    });
  }

  local_socket socket_;
  fault_plan* plan_;
};

}  // namespace vigil::testing_support
