#pragma once

// Test harness: vigild in-process on 127.0.0.1 port 0, and a plain socket client that
// speaks the device protocol frame by frame.

#include "daemon/app/daemon.hpp"
#include "daemon/codec/frame.hpp"
#include "daemon/ingest/device_registry.hpp"
#include "daemon/ingest/sink.hpp"
#include "vigil/v1/device.pb.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <chrono>
#include <deque>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace vigil::test {

inline constexpr auto default_wait = std::chrono::seconds(10);
inline constexpr const char* device_token = "integration-token";
inline constexpr const char* operator_token = "operator-token-ana";

/// Keeps every batch it is given; thread-safe, so the test thread can inspect it.
class recording_sink final : public ingest::sample_sink {
 public:
  struct batch {
    std::string device_id;
    std::string chair_id;
    std::uint64_t seq;
    std::vector<model::vital_sample> samples;
  };

  void submit(const ingest::batch_view& view, const std::shared_ptr<ingest::device_state>& device) override;

  std::vector<batch> batches() const;
  std::size_t sample_count() const;

 private:
  mutable std::mutex mutex_;
  std::vector<batch> batches_;
};

/// A test configuration: port 0, short timeouts, devices "dev-*" with device_token.
config::daemon_config test_config();

/// vigild running on its own thread for the length of a test. With `data_dir` set in the
/// config, or store.backend postgres, it keeps its own timeline (and sink() stays empty).
class daemon_under_test {
 public:
  explicit daemon_under_test(config::daemon_config config = test_config());
  ~daemon_under_test();

  std::uint16_t port() const { return daemon_.ingest_port(); }
  std::uint16_t control_port() const { return daemon_.control_port(); }
  std::uint16_t feed_port() const { return daemon_.feed_port(); }
  std::uint16_t http_port() const { return daemon_.http_port(); }
  recording_sink& sink() { return *sink_; }
  const ingest::stats& stats() const { return daemon_.ingest_stats(); }
  const hub::latency_histogram& alarm_delivery() const { return daemon_.alarm_delivery(); }
  /// Stops gracefully and waits for run() to return.
  void stop();

 private:
  std::shared_ptr<recording_sink> sink_;
  app::daemon daemon_;
  std::thread thread_;
};

/// A second peer on this machine: Linux routes all of 127.0.0.0/8 to loopback, so a socket
/// bound to this source address is another address to the daemon than 127.0.0.1.
inline constexpr const char* other_peer = "127.0.0.2";

/// A device connection driven step by step from the test thread.
class test_client {
 public:
  /// Connects from `source` (an address of this machine; empty: the system's choice).
  explicit test_client(std::uint16_t port, const std::string& source = "");

  void send(const v1::DeviceMessage& message);
  void send_raw(const std::string& bytes);
  /// The next frame from the daemon; nullopt if the connection closed or `timeout` passed.
  std::optional<v1::DaemonMessage> receive(std::chrono::milliseconds timeout = default_wait);
  /// True once the daemon closes the connection within `timeout`; frames before the close are dropped.
  bool wait_closed(std::chrono::milliseconds timeout = default_wait);
  /// Sends a Hello and returns the reply.
  std::optional<v1::DaemonMessage> hello(const std::string& device_id, const std::string& token = device_token,
                                         const std::string& chair = "chair-1");
  /// Reads frames until an Ack covering `seq` arrives; false on error, close or timeout.
  bool wait_ack(std::uint64_t seq, std::chrono::milliseconds timeout = default_wait);
  /// Acks seen by wait_ack/receive, in arrival order.
  const std::vector<std::uint64_t>& acks() const { return acks_; }
  void close();

 private:
  bool read_some(std::chrono::milliseconds timeout);

  boost::asio::io_context io_;
  boost::asio::ip::tcp::socket socket_;
  codec::frame_decoder decoder_;
  std::vector<std::uint64_t> acks_;
  bool eof_ = false;
};

/// A batch frame body with `count` valid heart-rate samples.
v1::DeviceMessage make_batch(std::uint64_t seq, int count, std::int64_t first_time_ms = 1'700'000'000'000);
v1::DeviceMessage make_hello(const std::string& device_id, const std::string& token, const std::string& chair);

/// Opens `socket` and, with a non-empty `source`, binds it to that local address before it connects.
void open_from(boost::asio::ip::tcp::socket& socket, const std::string& source);

}  // namespace vigil::test

#include "vigil/v1/control.pb.h"
#include "vigil/v1/feed.pb.h"

namespace vigil::test {

/// A feed subscriber on the TCP feed port.
class feed_client {
 public:
  /// Connects; with `receive_buffer` > 0, the socket's receive buffer is made that small first
  /// (a subscriber that does not read then fills up quickly).
  explicit feed_client(std::uint16_t port, int receive_buffer = 0, const std::string& source = "");
  /// Sends the FeedRequest (with operator_token unless it has a token).
  void subscribe(v1::FeedRequest request);
  void send_raw(const std::string& bytes);
  /// The next message; nullopt once the daemon has closed the connection or after `timeout`.
  std::optional<v1::FeedMessage> next(std::chrono::milliseconds timeout = default_wait);
  /// The next event (skipping vitals); nullopt as next().
  std::optional<v1::FeedMessage> next_event(std::chrono::milliseconds timeout = default_wait);
  bool closed() const { return eof_; }

 private:
  boost::asio::io_context io_;
  boost::asio::ip::tcp::socket socket_;
  codec::frame_decoder decoder_;
  bool eof_ = false;
};

/// An operator's tool on the control port, one request at a time.
class control_client {
 public:
  explicit control_client(std::uint16_t port, const std::string& source = "");
  /// Sends `request` (with the token unless it has one) and waits for its response.
  std::optional<v1::ControlResponse> call(v1::ControlRequest request, std::chrono::milliseconds timeout = default_wait);
  void send_raw(const std::string& bytes);
  /// The next response, asked for or not; nullopt once the connection closed or after `timeout`.
  std::optional<v1::ControlResponse> receive(std::chrono::milliseconds timeout = default_wait);
  /// True once the daemon closes the connection within `timeout`; responses before the close are dropped.
  bool wait_closed(std::chrono::milliseconds timeout = default_wait);

 private:
  boost::asio::io_context io_;
  boost::asio::ip::tcp::socket socket_;
  codec::frame_decoder decoder_;
  std::uint64_t next_id_ = 1;
  bool eof_ = false;
};

}  // namespace vigil::test

#include <boost/beast/core/flat_buffer.hpp>

namespace vigil::test {

/// One HTTP response as the client saw it.
struct http_reply {
  int status = 0;
  std::map<std::string, std::string> headers;  // names in lower case
  std::string body;
  bool keep_alive = true;
  std::string header(const std::string& lower_name) const;
};

/// A client of the HTTP port over one keep-alive connection, with raw access for malformed input.
class http_client {
 public:
  explicit http_client(std::uint16_t port, const std::string& source = "");
  /// Sends a request (with "Authorization: Bearer <token>" unless the token is empty) and reads its response.
  std::optional<http_reply> request(const std::string& method, const std::string& target, const std::string& token = "",
                                    const std::string& body = "", const std::string& content_type = "application/json");
  void send_raw(const std::string& bytes);
  /// The next response; nullopt if the connection closed or `timeout` passed.
  std::optional<http_reply> receive(std::chrono::milliseconds timeout = default_wait);
  /// True once the daemon closes the connection within `timeout`.
  bool wait_closed(std::chrono::milliseconds timeout = default_wait);

 private:
  boost::asio::io_context io_;
  boost::asio::ip::tcp::socket socket_;
  boost::beast::flat_buffer buffer_;
  std::deque<std::string> lines_;  // FeedMessages of the last WebSocket message not yet returned
};

/// The value of one series in `d`'s /metrics, e.g. `vigil_auth_failures_total{listener="http"}`; -1 when
/// absent, -2 when /metrics did not answer 200.
double metric(daemon_under_test& d, const std::string& series);

}  // namespace vigil::test

#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/websocket/stream.hpp>

namespace vigil::test {

/// A subscriber on the WebSocket feed (GET /api/v1/feed on the HTTP port), one JSON
/// FeedMessage per text message. Every wait has a timeout; a read that times out stays
/// pending and the next call goes on waiting for it, since a cancelled WebSocket read ends
/// the stream.
class ws_client {
 public:
  /// Connects and upgrades; with `receive_buffer` > 0 the socket's receive buffer is made that
  /// small first. Throws if the upgrade fails.
  explicit ws_client(std::uint16_t http_port, int receive_buffer = 0, const std::string& target = "/api/v1/feed");
  ~ws_client();
  /// Sends the FeedRequest as JSON (with operator_token unless it has a token).
  void subscribe(v1::FeedRequest request);
  void send_text(const std::string& text);
  void send_binary(const std::string& bytes);
  /// The next text message; nullopt once the stream has ended or after `timeout`.
  /// The next FeedMessage's JSON text: a WebSocket message holds one or more, one per line.
  std::optional<std::string> next_text(std::chrono::milliseconds timeout = default_wait);
  /// The next message parsed with JsonStringToMessage; nullopt as next_text(). Throws on bad JSON.
  std::optional<v1::FeedMessage> next(std::chrono::milliseconds timeout = default_wait);
  /// The next message that is not a VitalsUpdate; nullopt as next().
  std::optional<v1::FeedMessage> next_event(std::chrono::milliseconds timeout = default_wait);
  /// True once the stream has ended; the close frame's code is close_code() (0 without one).
  bool closed() const { return ended_; }
  int close_code() const { return close_code_; }
  std::string close_reason() const { return close_reason_; }
  /// Why the stream ended, as Beast said.
  boost::system::error_code end_error() const { return end_error_; }
  /// Sends a close frame and waits for the daemon's.
  void close();

 private:
  boost::asio::io_context io_;
  boost::beast::websocket::stream<boost::beast::tcp_stream> ws_;
  boost::beast::flat_buffer buffer_;
  std::deque<std::string> lines_;  // FeedMessages of the last WebSocket message not yet returned
  bool reading_ = false;
  bool read_done_ = false;
  boost::system::error_code read_ec_;
  bool ended_ = false;
  int close_code_ = 0;
  std::string close_reason_;
  boost::system::error_code end_error_;
};

}  // namespace vigil::test
