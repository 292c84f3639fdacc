#pragma once

#include "daemon/codec/frame.hpp"
#include "vigil/v1/device.pb.h"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <cstdint>
#include <deque>
#include <optional>
#include <utility>
#include <vector>
#include <string>

namespace vigil::sim {

/// A monitor's link to vigild: sends batches, keeps each until it is acked, and after a
/// drop reconnects and resends everything above the daemon's last ack, as a real
/// monitor must. Runs on one executor; not thread-safe.
class device_client {
 public:
  struct options {
    std::string host = "127.0.0.1";
    std::uint16_t port = 7400;
    std::string device_id;
    std::string token;
    std::string chair_id;
    std::string software = "vigil-sim";
    // Declared in the Hello: how often the device sends each kind, in ms (protocol.md 4.1).
    std::vector<std::pair<v1::VitalKind, std::uint32_t>> cadences;
    std::size_t max_in_flight = 64;   // batches sent but not yet acked
    std::size_t max_queued = 8192;    // batches held; wait_for_room() waits beyond this
    std::chrono::milliseconds reconnect_delay{200};
    // Cluster mode (protocol.md 5.2): the other daemons' device ports, tried in turn after
    // host:port when a connection fails or drops. A CHAIR_ELSEWHERE error that names a daemon
    // sends the client there at once.
    std::vector<std::pair<std::string, std::uint16_t>> more_addresses;
  };

  struct counters {
    std::uint64_t batches_sent = 0;  // including resends
    std::uint64_t samples_sent = 0;  // including resends
    std::uint64_t samples_acked = 0;
    std::uint64_t connects = 0;
    std::uint64_t samples_rejected = 0;
    std::uint64_t errors = 0;        // error frames received
    std::uint64_t redirects = 0;     // CHAIR_ELSEWHERE errors received
  };

  device_client(boost::asio::any_io_executor executor, options opts);

  /// Queues one batch of samples and returns the seq it was given. A client keeps no
  /// numbering across restarts (a real monitor must), so on its first handshake it
  /// continues above the daemon's ack point: seqs returned before then may shift.
  std::uint64_t push(const google::protobuf::RepeatedPtrField<v1::Sample>& samples);
  /// Waits until the queue has room for another batch (or the client stopped).
  boost::asio::awaitable<void> wait_for_room();
  /// Waits until every batch up to `seq` is acked (or the client stopped).
  boost::asio::awaitable<void> wait_acked(std::uint64_t seq);
  /// Waits until every batch pushed so far is acked (or the client stopped).
  boost::asio::awaitable<void> drain();

  /// Connects and streams until stop(); reconnects after every drop. Returns early when
  /// the daemon refuses the device for a reason a retry cannot fix (bad token, unknown device).
  boost::asio::awaitable<void> run();
  /// Waits until the client is connected (or stopped, or refused).
  boost::asio::awaitable<void> wait_connected();
  /// Closes the connection and ends run().
  void stop();
  /// Drops the connection as a network fault would; run() reconnects and resends.
  void drop_connection();
  /// Drops the connection and keeps it down until resume(): a network outage. Batches pushed
  /// meanwhile are held and sent after the reconnect, as a monitor buffers them.
  void suspend();
  void resume();

  bool connected() const noexcept { return connected_; }
  bool refused() const noexcept { return refused_; }
  std::uint64_t pushed_seq() const noexcept { return next_seq_ - 1; }
  std::uint64_t acked_seq() const noexcept { return acked_seq_; }
  std::size_t queued() const noexcept { return queue_.size(); }
  const counters& stats() const noexcept { return counters_; }
  /// Why the last attempt to reach the daemon failed (resolving its name or connecting); no
  /// error once connected.
  const boost::system::error_code& unreachable() const noexcept { return unreachable_; }
  /// The last error frame the daemon sent, as "CODE: message".
  const std::string& last_error() const noexcept { return last_error_; }
  const options& settings() const noexcept { return opts_; }

 private:
  struct pending {
    std::uint64_t seq;
    std::uint32_t samples;
    std::string frame;  // encoded once: a load generator must not spend its time encoding
  };

  boost::asio::awaitable<bool> handshake();
  boost::asio::awaitable<void> read_loop();
  boost::asio::awaitable<void> write_loop();
  boost::asio::awaitable<bool> read_message(v1::DaemonMessage& message);
  void on_ack(std::uint64_t seq);
  void renumber_after(std::uint64_t acked);
  void note_error(const v1::Error& error);
  /// Where the next connection goes: a redirect's address, or the next of the addresses.
  std::pair<std::string, std::uint16_t> next_address(bool after_failure);
  void wake_all();

  options opts_;
  boost::asio::any_io_executor executor_;
  boost::asio::ip::tcp::socket socket_;
  boost::asio::steady_timer wake_;      // never expires; cancel() wakes the writer
  boost::asio::steady_timer progress_;  // never expires; cancel() wakes room and drain waiters
  boost::asio::steady_timer retry_;
  codec::frame_decoder decoder_;
  v1::DeviceMessage scratch_;
  std::deque<pending> queue_;  // unacked batches, oldest first
  std::size_t unsent_ = 0;     // index in queue_ of the first batch not yet sent on this connection
  std::uint64_t next_seq_ = 1;
  std::uint64_t acked_seq_ = 0;
  counters counters_;
  std::string last_error_;
  boost::system::error_code unreachable_;
  bool connected_ = false;
  bool stopped_ = false;
  bool refused_ = false;
  bool resumed_ = false;  // the daemon has told this client where its numbering stands
  bool suspended_ = false;
  std::chrono::milliseconds ping_every_{10'000};  // a third of the daemon's idle timeout
  std::uint64_t ping_nonce_ = 0;
  std::vector<std::pair<std::string, std::uint16_t>> addresses_;  // host:port, then more_addresses
  std::size_t address_ = 0;                                       // the one in use
  std::optional<std::pair<std::string, std::uint16_t>> redirect_;  // go there next, at once
  int redirects_in_a_row_ = 0;
};

}  // namespace vigil::sim
