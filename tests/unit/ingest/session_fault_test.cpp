// The device session over a stream that fails its N-th read or write (or makes it short), for
// every N from the first operation to one past the last of a whole scenario: a device says Hello,
// sends three batches one at a time, reading each Ack, then leaves cleanly (half-close, reading to
// the end). Whatever fails, the session ends with nothing left running, the device's link is
// released, nothing is acked that the sink did not take, no batch is taken twice, and the close is
// logged once with a reason; a short read or write changes nothing the device gets; and with
// nothing failing the scenario runs to its end. The device is the other socket of a pair in this
// process: no ports, no clock (every timeout of the session is hours away).

#include "daemon/codec/frame.hpp"
#include "daemon/ingest/device_protocol.hpp"
#include "daemon/ingest/device_registry.hpp"
#include "daemon/ingest/session.hpp"
#include "daemon/ingest/settings.hpp"
#include "daemon/ingest/sink.hpp"
#include "daemon/ingest/stats.hpp"
#include "tests/common/faulty_stream.hpp"
#include "vigil/v1/device.pb.h"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <spdlog/sinks/ringbuffer_sink.h>
#include <spdlog/spdlog.h>
#include <boost/asio.hpp>
#include <boost/asio/local/connect_pair.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace vigil::ingest {
namespace {

namespace asio = boost::asio;
using testing_support::fault_plan;
using testing_support::faulty_stream;
using testing_support::local_socket;
constexpr auto nothrow = asio::as_tuple(asio::use_awaitable);

constexpr std::uint64_t batches = 3;
constexpr int samples_per_batch = 4;
const std::string device_id = "bay1-monitor";
const std::string device_token = "bay1-secret-token";
const std::string chair_id = "chair-1";

/// Records what it takes and the link changes. Reports each batch stored at once, or, when
/// deferred, only once the test finds nothing else to run, as a store committing on its own
/// thread may: after whatever the session did meanwhile.
class recording_sink final : public sample_sink {
 public:
  explicit recording_sink(bool deferred) : deferred_(deferred) {}

  void submit(const batch_view& batch, const std::shared_ptr<device_state>& device) override {
    submitted.push_back(batch.seq);
    samples += batch.samples.size();
    if (!deferred_) {
      device->mark_stored(batch.seq, device->epoch);
      return;
    }
    pending_.push_back({batch.seq, device->epoch, device});
  }

  /// Reports every deferred batch stored; false if there was none.
  bool commit() {
    if (pending_.empty()) return false;
    for (const auto& p : std::exchange(pending_, {})) p.device->mark_stored(p.seq, p.epoch);
    return true;
  }

  void link_changed(std::string_view device, std::string_view chair, bool up) override {
    links.push_back(fmt::format("{} {} {}", device, chair, up ? "up" : "down"));
  }

  std::vector<std::uint64_t> submitted;
  std::size_t samples = 0;
  std::vector<std::string> links;

 private:
  struct report {
    std::uint64_t seq = 0;
    std::uint64_t epoch = 0;
    std::shared_ptr<device_state> device;
  };
  bool deferred_;
  std::vector<report> pending_;
};

/// The device's end of the pair: frames out, frames in.
class device_end {
 public:
  explicit device_end(local_socket socket) : socket_(std::move(socket)) {}

  asio::awaitable<bool> send(const v1::DeviceMessage& message) {
    std::string frame;
    codec::append_frame(frame, message);
    auto [ec, n] = co_await asio::async_write(socket_, asio::buffer(frame), nothrow);
    co_return !ec;
  }

  /// The next message; nullopt once the stream has ended (or broke).
  asio::awaitable<std::optional<v1::DaemonMessage>> next() {
    v1::DaemonMessage m;
    for (;;) {
      const auto f = decoder_.next(m);
      if (f.status == codec::decode_status::ok) co_return m;
      if (f.status == codec::decode_status::bad) {
        garbled = true;
        co_return std::nullopt;
      }
      const auto space = decoder_.prepare();
      auto [ec, n] = co_await socket_.async_read_some(asio::buffer(space.data(), space.size()), nothrow);
      if (ec) {
        if (ec != asio::error::eof) broken = true;
        if (decoder_.buffered() > 0) garbled = true;  // the stream ended inside a frame
        co_return std::nullopt;
      }
      decoder_.commit(n);
    }
  }

  void leave() {
    boost::system::error_code ignored;
    socket_.shutdown(asio::socket_base::shutdown_send, ignored);
  }

  bool broken = false;   // a read failed other than by the end of the stream
  bool garbled = false;  // what arrived was not whole frames
 private:
  local_socket socket_;
  codec::frame_decoder decoder_;
};

v1::DeviceMessage hello() {
  v1::DeviceMessage m;
  auto& h = *m.mutable_hello();
  h.set_device_id(device_id);
  h.set_token(device_token);
  h.set_chair_id(chair_id);
  h.set_protocol_version(v1::PROTOCOL_VERSION_1);
  h.set_software("fault test");
  return m;
}

v1::DeviceMessage batch(std::uint64_t seq) {
  v1::DeviceMessage m;
  m.mutable_batch()->set_seq(seq);
  for (int i = 0; i < samples_per_batch; ++i) {
    auto& s = *m.mutable_batch()->add_samples();
    s.set_kind(v1::HEART_RATE);
    s.set_value(70.0 + i);
    s.set_time_ms(1'700'000'000'000 + static_cast<std::int64_t>(seq) * 1000 + i * 250);
  }
  return m;
}

/// One line per message the device got, for comparing runs.
std::string describe(const v1::DaemonMessage& m) {
  if (m.has_welcome()) return fmt::format("welcome {}", m.welcome().acked_seq());
  if (m.has_ack()) return fmt::format("ack {}", m.ack().acked_seq());
  if (m.has_error()) return fmt::format("error {}", v1::ErrorCode_Name(m.error().code()));
  if (m.has_pong()) return "pong";
  return "?";
}

/// How a scenario went.
struct run_result {
  bool out_of_work = false;           // the io_context ran out of handlers and pending operations
  bool ended = false;                 // the session's run() completed
  bool device_done = false;           // the device's side ran to the end of the stream
  bool session_freed = false;         // nothing kept the session alive after its run
  bool owner_cleared = false;         // the registry holds no link for the device
  std::vector<std::string> received;  // what the device got, in order
  std::vector<std::uint64_t> acks;    // the acked seqs it got (Welcome's included)
  bool broken = false;
  bool garbled = false;
  std::vector<std::uint64_t> submitted;  // seqs the sink took, in order
  std::size_t samples = 0;
  std::vector<std::string> links;
  std::uint64_t accepted_seq = 0;
  std::uint64_t stored_seq = 0;
  std::uint64_t batches_accepted = 0;
  std::vector<std::string> closed_lines;  // the log lines of the close
  std::size_t operations = 0;             // of the session's stream
};

/// How the device sends its batches.
enum class pacing : std::uint8_t {
  lockstep,   // each after the Ack of the one before
  pipelined,  // all at once with the Hello, then the half-close, before reading anything
};

run_result run(fault_plan plan, bool deferred_sink, pacing how) {
  run_result result;
  settings config;
  // Nothing here waits on time: a hang shows as work left, not as a timeout passing.
  config.handshake_timeout = std::chrono::hours(1);
  config.idle_timeout = std::chrono::hours(1);
  config.close_timeout = std::chrono::hours(1);
  config.devices = {{device_id, device_token, chair_id}};
  device_registry registry(config.devices);
  stats counters;
  auto ring = std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(64);
  ring->set_pattern("%l %v");
  spdlog::logger log("ingest-fault-test", ring);
  recording_sink sink(deferred_sink);

  {
    // Declared after what the session refers to: a session left hanging dies with the io_context.
    asio::io_context io;
    local_socket server(io);
    local_socket client(io);
    asio::local::connect_pair(server, client);
    device_end device(std::move(client));
    auto session = std::make_shared<device_session<faulty_stream>>(
        faulty_stream(std::move(server), plan), 1, "peer",
        device_protocol::context{config, registry, sink, counters, log});
    const std::weak_ptr<device_session<faulty_stream>> watched = session;

    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
          auto take = [&](const v1::DaemonMessage& m) {
            result.received.push_back(describe(m));
            if (m.has_welcome()) result.acks.push_back(m.welcome().acked_seq());
            if (m.has_ack()) result.acks.push_back(m.ack().acked_seq());
          };
          if (!co_await device.send(hello())) co_return;
          std::optional<v1::DaemonMessage> m;
          if (how == pacing::pipelined) {
            for (std::uint64_t seq = 1; seq <= batches; ++seq) {
              if (!co_await device.send(batch(seq))) co_return;
            }
            device.leave();
            while ((m = co_await device.next())) take(*m);
            result.device_done = !device.broken && !device.garbled;
            co_return;
          }
          m = co_await device.next();
          if (!m) co_return;
          take(*m);
          if (!m->has_welcome()) co_return;
          for (std::uint64_t seq = 1; seq <= batches; ++seq) {
            if (!co_await device.send(batch(seq))) co_return;
            for (bool acked = false; !acked;) {
              m = co_await device.next();
              if (!m) co_return;
              take(*m);
              acked = m->has_ack() && m->ack().acked_seq() >= seq;
            }
          }
          // Leaving cleanly (protocol.md 6.6): half-close, then read to the end.
          device.leave();
          while ((m = co_await device.next())) take(*m);
          result.device_done = !device.broken && !device.garbled;
        },
        asio::detached);
    asio::co_spawn(io, session->run(), [&](const std::exception_ptr& e) {
      result.ended = true;
      if (e) ADD_FAILURE() << "the session's run() threw";
    });

    // Both sides are driven by the sockets alone; once nothing is ready, either the io_context has
    // run out of work or something waits for what will never come.
    // (The deferred sink commits in those pauses.)
    for (int idle = 0; idle < 3;) {
      if (io.stopped()) {
        if (!sink.commit()) break;
        io.restart();
      }
      if (io.poll() > 0 || sink.commit()) {
        idle = 0;
      } else {
        ++idle;
      }
    }
    result.out_of_work = io.stopped();
    result.broken = device.broken;
    result.garbled = device.garbled;
    session.reset();
    result.session_freed = watched.expired();
  }
  result.submitted = sink.submitted;
  result.samples = sink.samples;
  result.links = sink.links;
  const auto state = registry.find(device_id);
  result.owner_cleared = !state || state->owner == nullptr;
  if (state) {
    result.accepted_seq = state->accepted_seq;
    result.stored_seq = state->stored_seq;
  }
  result.batches_accepted = counters.batches_accepted.load();
  result.operations = plan.operations;
  for (auto line : ring->last_formatted()) {
    while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.pop_back();
    if (line.find(" closed: ") != std::string::npos) result.closed_lines.push_back(line);
  }
  return result;
}

class DeviceSessionFaults : public ::testing::TestWithParam<bool> {
 protected:
  bool deferred_sink() const { return GetParam(); }
  void every_operation_fails_or_is_short_in_turn(pacing how);
};

/// What a device that reads to the end gets, acks grouped as the daemon's reads fall: a Welcome,
/// then acks up to the last batch, in order.
bool complete(const run_result& r) {
  if (r.received.empty() || r.received.front() != "welcome 0") return false;
  for (std::size_t i = 1; i < r.received.size(); ++i) {
    if (r.received[i].rfind("ack ", 0) != 0) return false;
  }
  return std::is_sorted(r.acks.begin(), r.acks.end()) && r.acks.back() == batches;
}

TEST_P(DeviceSessionFaults, InLockstep) {
  const auto whole = run(fault_plan{}, deferred_sink(), pacing::lockstep);
  const std::vector<std::string> expected = {"welcome 0", "ack 1", "ack 2", "ack 3"};
  ASSERT_EQ(whole.received, expected);
  // A Hello, three batches and the end of the stream read; a Welcome and three Acks written.
  ASSERT_EQ(whole.operations, 9u);
  every_operation_fails_or_is_short_in_turn(pacing::lockstep);
}

// A device that sends everything, half-closes and only then reads still gets the Ack of its last
// batch (protocol.md 6.6), with a sink that reports it stored only after the end of the stream.
TEST_P(DeviceSessionFaults, Pipelined) {
  const auto whole = run(fault_plan{}, deferred_sink(), pacing::pipelined);
  EXPECT_TRUE(complete(whole)) << testing::PrintToString(whole.received);
  every_operation_fails_or_is_short_in_turn(pacing::pipelined);
}

void DeviceSessionFaults::every_operation_fails_or_is_short_in_turn(pacing how) {
  const auto whole = run(fault_plan{}, deferred_sink(), how);
  ASSERT_TRUE(whole.out_of_work);
  ASSERT_TRUE(whole.ended);
  ASSERT_TRUE(whole.device_done);
  ASSERT_TRUE(complete(whole)) << testing::PrintToString(whole.received);
  ASSERT_EQ(whole.submitted, (std::vector<std::uint64_t>{1, 2, 3}));
  ASSERT_EQ(whole.samples, batches * samples_per_batch);
  ASSERT_EQ(whole.closed_lines, std::vector<std::string>{"info [C1] peer closed: closed by the device"});
  ASSERT_EQ(whole.links, (std::vector<std::string>{"bay1-monitor chair-1 up", "bay1-monitor chair-1 down"}));
  ASSERT_GE(whole.operations, 3u);

  for (std::size_t n = 0; n <= whole.operations; ++n) {
    for (const bool short_only : {false, true}) {
      SCOPED_TRACE(testing::Message() << "operation " << n << " of " << whole.operations
                                      << (short_only ? " is short" : " fails"));
      const auto r = run(fault_plan{n, short_only}, deferred_sink(), how);

      // The session ends and leaves nothing behind.
      EXPECT_TRUE(r.ended) << "the session's run() completes";
      EXPECT_TRUE(r.out_of_work) << "no handler, operation or timer is left";
      EXPECT_TRUE(r.session_freed) << "nothing holds the session after its run";
      EXPECT_TRUE(r.owner_cleared) << "the device's link is released";
      EXPECT_FALSE(r.garbled) << "the device got whole frames only";

      // Nothing acked that was not taken, nothing taken twice, the registry agrees with the sink.
      const std::set<std::uint64_t> taken(r.submitted.begin(), r.submitted.end());
      EXPECT_EQ(taken.size(), r.submitted.size()) << "no batch is submitted twice";
      EXPECT_TRUE(std::is_sorted(r.submitted.begin(), r.submitted.end()));
      for (const auto ack : r.acks) {
        for (std::uint64_t seq = 1; seq <= ack; ++seq) EXPECT_TRUE(taken.contains(seq)) << "ack " << ack;
      }
      EXPECT_EQ(r.batches_accepted, r.submitted.size());
      EXPECT_EQ(r.accepted_seq, r.submitted.empty() ? 0 : r.submitted.back());
      EXPECT_LE(r.stored_seq, r.accepted_seq);
      if (!r.acks.empty()) {
        EXPECT_LE(*std::max_element(r.acks.begin(), r.acks.end()), r.stored_seq);
      }
      // A link that came up went down again.
      const auto ups = std::count(r.links.begin(), r.links.end(), "bay1-monitor chair-1 up");
      const auto downs = std::count(r.links.begin(), r.links.end(), "bay1-monitor chair-1 down");
      EXPECT_EQ(ups, downs) << testing::PrintToString(r.links);
      EXPECT_EQ(r.links.size(), static_cast<std::size_t>(ups + downs));

      // The close is logged once, with a reason.
      EXPECT_EQ(r.closed_lines.size(), 1u) << testing::PrintToString(r.closed_lines);
      if (r.closed_lines.empty()) continue;
      const auto& line = r.closed_lines.front();
      const auto reason = line.substr(line.find(" closed: ") + 9);
      EXPECT_FALSE(reason.empty()) << line;

      if (short_only || n == whole.operations) {
        // A short read or write changes nothing; nor does a fault past the last operation.
        EXPECT_TRUE(r.device_done);
        EXPECT_TRUE(complete(r)) << testing::PrintToString(r.received);
        // In lockstep every Ack answers one batch; pipelined, one Ack may cover several (6.2).
        if (how == pacing::lockstep) {
          EXPECT_EQ(r.received, whole.received);
        }
        EXPECT_EQ(r.submitted, whole.submitted);
        EXPECT_EQ(r.samples, whole.samples);
        EXPECT_EQ(r.links, whole.links);
        EXPECT_EQ(r.closed_lines, whole.closed_lines);
        EXPECT_LE(r.operations, whole.operations + 1) << "a short operation costs at most one more";
      } else {
        // A reset is the network's fault, logged as such, unless the device had closed its side first.
        EXPECT_TRUE(line == "warning [C1] peer closed: connection error: Connection reset by peer" ||
                    (how == pacing::pipelined && line == whole.closed_lines.front()))
            << line;
        // What the device got is a prefix of the whole conversation.
        ASSERT_LE(r.received.size(), whole.received.size());
        EXPECT_TRUE(std::equal(r.received.begin(), r.received.end(), whole.received.begin()));
      }
    }
  }
}

std::string sink_name(const ::testing::TestParamInfo<bool>& param) {
  return param.param ? "DeferredSink" : "ImmediateSink";
}
INSTANTIATE_TEST_SUITE_P(Sinks, DeviceSessionFaults, ::testing::Bool(), sink_name);

}  // namespace
}  // namespace vigil::ingest
