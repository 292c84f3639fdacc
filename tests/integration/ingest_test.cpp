// Loopback tests of the ingest listener: a real daemon on 127.0.0.1 port 0, real sockets.

#include "sim/device_client.hpp"
#include "tests/integration/harness.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <gtest/gtest.h>

#include <limits>
#include <set>

namespace vigil::test {
namespace {

using namespace std::chrono_literals;

v1::ErrorCode fatal_error_of(const std::optional<v1::DaemonMessage>& reply) {
  if (!reply || !reply->has_error()) return v1::ERROR_CODE_UNSPECIFIED;
  EXPECT_TRUE(reply->error().fatal());
  EXPECT_FALSE(reply->error().message().empty());
  return reply->error().code();
}

TEST(Ingest, HandshakeAcceptedWithWelcome) {
  daemon_under_test d;
  test_client c(d.port());
  const auto reply = c.hello("dev-1");
  ASSERT_TRUE(reply && reply->has_welcome());
  EXPECT_EQ(reply->welcome().protocol_version(), v1::PROTOCOL_VERSION_1);
  EXPECT_EQ(reply->welcome().acked_seq(), 0u);
  EXPECT_EQ(reply->welcome().max_frame_bytes(), codec::default_max_frame_bytes);
  EXPECT_GT(reply->welcome().idle_timeout_ms(), 0u);
}

TEST(Ingest, HandshakeRefusedWithCodeThenClosed) {
  daemon_under_test d;
  struct refusal {
    std::string device, token, chair;
    v1::ErrorCode code;
  };
  const refusal cases[] = {
      {"stranger", device_token, "chair-1", v1::UNKNOWN_DEVICE},
      {"dev-1", "not-the-token", "chair-1", v1::BAD_TOKEN},
      {"pinned", device_token, "chair-2", v1::BAD_CHAIR},
      {"dev-1", device_token, "", v1::BAD_CHAIR},
  };
  for (const auto& r : cases) {
    SCOPED_TRACE(r.device + "/" + r.token + "/" + r.chair);
    test_client c(d.port());
    EXPECT_EQ(fatal_error_of(c.hello(r.device, r.token, r.chair)), r.code);
    EXPECT_TRUE(c.wait_closed());
  }
  test_client wrong_version(d.port());
  auto hello = make_hello("dev-1", device_token, "chair-1");
  hello.mutable_hello()->set_protocol_version(static_cast<v1::ProtocolVersion>(2));
  wrong_version.send(hello);
  EXPECT_EQ(fatal_error_of(wrong_version.receive()), v1::UNSUPPORTED_VERSION);
  EXPECT_EQ(d.stats().handshakes_refused.load(), 5u);
}

TEST(Ingest, BatchBeforeHelloIsAProtocolViolation) {
  daemon_under_test d;
  test_client c(d.port());
  c.send(make_batch(1, 4));
  EXPECT_EQ(fatal_error_of(c.receive()), v1::PROTOCOL_VIOLATION);
  EXPECT_TRUE(c.wait_closed());
  EXPECT_TRUE(d.sink().batches().empty());
}

TEST(Ingest, HundredThousandSamplesFromOneDeviceAllAckedInOrder) {
  daemon_under_test d;
  test_client c(d.port());
  ASSERT_TRUE(c.hello("dev-1")->has_welcome());
  constexpr int total = 100'000;
  constexpr int per_batch = 64;
  std::string stream;
  std::uint64_t seq = 0;
  for (int sent = 0; sent < total; sent += per_batch) {
    codec::append_frame(stream, make_batch(++seq, std::min(per_batch, total - sent), 1'700'000'000'000 + sent * 1000LL));
  }
  c.send_raw(stream);
  ASSERT_TRUE(c.wait_ack(seq));

  const auto& acks = c.acks();
  ASSERT_FALSE(acks.empty());
  for (std::size_t i = 1; i < acks.size(); ++i) EXPECT_LT(acks[i - 1], acks[i]) << "acks must only move forward";
  EXPECT_EQ(acks.back(), seq);

  const auto batches = d.sink().batches();
  ASSERT_EQ(batches.size(), seq);
  std::int64_t previous_time = 0;
  std::size_t samples = 0;
  for (std::size_t i = 0; i < batches.size(); ++i) {
    EXPECT_EQ(batches[i].seq, i + 1);
    for (const auto& s : batches[i].samples) {
      EXPECT_GT(s.time_ms, previous_time);
      previous_time = s.time_ms;
      ++samples;
    }
  }
  EXPECT_EQ(samples, static_cast<std::size_t>(total));
}

TEST(Ingest, ReconnectAndResendStoresEachBatchOnce) {
  daemon_under_test d;
  {
    test_client first(d.port());
    ASSERT_TRUE(first.hello("dev-1")->has_welcome());
    for (std::uint64_t seq = 1; seq <= 40; ++seq) first.send(make_batch(seq, 8));
    ASSERT_TRUE(first.wait_ack(40));
    first.close();  // drops without a goodbye, as a network fault would
  }
  test_client second(d.port());
  const auto welcome = second.hello("dev-1");
  ASSERT_TRUE(welcome && welcome->has_welcome());
  EXPECT_EQ(welcome->welcome().acked_seq(), 40u);
  // A device unsure of what arrived resends from well before the ack point.
  for (std::uint64_t seq = 25; seq <= 60; ++seq) second.send(make_batch(seq, 8));
  ASSERT_TRUE(second.wait_ack(60));

  std::set<std::uint64_t> seen;
  for (const auto& b : d.sink().batches()) EXPECT_TRUE(seen.insert(b.seq).second) << "seq " << b.seq << " stored twice";
  EXPECT_EQ(seen.size(), 60u);
  EXPECT_EQ(d.sink().sample_count(), 60u * 8u);
  EXPECT_EQ(d.stats().batches_duplicate.load(), 16u);
}

TEST(Ingest, DeviceClientDropsMidStreamAndLosesNothing) {
  daemon_under_test d;
  boost::asio::io_context io;
  sim::device_client::options o;
  o.port = d.port();
  o.device_id = "dev-7";
  o.token = device_token;
  o.chair_id = "chair-7";
  o.max_in_flight = 8;
  o.reconnect_delay = 10ms;
  sim::device_client client(io.get_executor(), o);
  google::protobuf::RepeatedPtrField<v1::Sample> samples;
  *samples.Add() = make_batch(1, 1).batch().samples(0);
  boost::asio::co_spawn(io, client.run(), boost::asio::detached);
  boost::asio::co_spawn(
      io,
      [&]() -> boost::asio::awaitable<void> {
        // Drop twice while batches are in flight: once acks have reached 20, then 300.
        for (int i = 0; i < 500; ++i) client.push(samples);
        co_await client.wait_acked(20);
        client.drop_connection();
        co_await client.wait_acked(300);
        client.drop_connection();
        co_await client.drain();
        client.stop();
      },
      boost::asio::detached);
  io.run_for(30s);
  EXPECT_EQ(client.acked_seq(), 500u);
  EXPECT_GE(client.stats().connects, 3u);
  std::set<std::uint64_t> seen;
  for (const auto& b : d.sink().batches()) EXPECT_TRUE(seen.insert(b.seq).second) << "seq " << b.seq << " stored twice";
  EXPECT_EQ(seen.size(), 500u);
}

TEST(Ingest, RestartedDeviceClientContinuesAboveTheDaemonsAck) {
  daemon_under_test d;
  google::protobuf::RepeatedPtrField<v1::Sample> samples;
  *samples.Add() = make_batch(1, 1).batch().samples(0);
  // Two runs of a monitor that keeps no numbering between runs, as vigil-sim does.
  for (int run = 0; run < 2; ++run) {
    boost::asio::io_context io;
    sim::device_client::options o;
    o.port = d.port();
    o.device_id = "dev-restarting";
    o.token = device_token;
    o.chair_id = "chair-3";
    sim::device_client client(io.get_executor(), o);
    boost::asio::co_spawn(io, client.run(), boost::asio::detached);
    boost::asio::co_spawn(
        io,
        [&]() -> boost::asio::awaitable<void> {
          for (int i = 0; i < 20; ++i) client.push(samples);
          co_await client.drain();
          client.stop();
        },
        boost::asio::detached);
    io.run_for(30s);
    EXPECT_EQ(client.acked_seq(), 20u * static_cast<std::uint64_t>(run + 1));
  }
  EXPECT_EQ(d.sink().batches().size(), 40u) << "the second run's batches were all stored, none taken as resends";
}

TEST(Ingest, OversizedFrameClosesOnlyThatConnection) {
  auto config = test_config();
  config.ingest.max_frame_bytes = 1024;
  daemon_under_test d(config);
  test_client good(d.port());
  test_client bad(d.port());
  ASSERT_TRUE(good.hello("dev-good")->has_welcome());
  ASSERT_TRUE(bad.hello("dev-bad", device_token, "chair-2")->has_welcome());
  good.send(make_batch(1, 10));
  ASSERT_TRUE(good.wait_ack(1));

  bad.send(make_batch(1, 200));  // about 4 KB, over the 1 KiB cap
  EXPECT_EQ(fatal_error_of(bad.receive()), v1::FRAME_TOO_LARGE);
  EXPECT_TRUE(bad.wait_closed());

  for (std::uint64_t seq = 2; seq <= 20; ++seq) good.send(make_batch(seq, 10));
  EXPECT_TRUE(good.wait_ack(20));
  EXPECT_EQ(d.stats().protocol_errors.load(), 1u);
  for (const auto& b : d.sink().batches()) EXPECT_EQ(b.device_id, "dev-good");
}

TEST(Ingest, GarbageAndMalformedFramesGetTheirCodes) {
  daemon_under_test d;
  struct bad_input {
    std::string name;
    std::string bytes;
    v1::ErrorCode code;
  };
  const bad_input cases[] = {
      {"zero-length frame", std::string(1, '\0'), v1::EMPTY_FRAME},
      {"11-byte varint", std::string(11, '\xff'), v1::MALFORMED_VARINT},
      {"garbage payload", std::string("\x04\xff\xff\xff\xff", 5), v1::UNPARSABLE_MESSAGE},
  };
  test_client bystander(d.port());
  ASSERT_TRUE(bystander.hello("dev-0")->has_welcome());
  std::uint64_t seq = 0;
  for (const auto& input : cases) {
    SCOPED_TRACE(input.name);
    test_client c(d.port());
    ASSERT_TRUE(c.hello("dev-x", device_token, "chair-2")->has_welcome());
    c.send_raw(input.bytes);
    EXPECT_EQ(fatal_error_of(c.receive()), input.code);
    EXPECT_TRUE(c.wait_closed());
    bystander.send(make_batch(++seq, 2));
    EXPECT_TRUE(bystander.wait_ack(seq));
  }
}

TEST(Ingest, RejectedSamplesAreReportedAndTheRestKept) {
  daemon_under_test d;
  test_client c(d.port());
  ASSERT_TRUE(c.hello("dev-1")->has_welcome());
  auto batch = make_batch(1, 3);
  batch.mutable_batch()->mutable_samples(1)->set_value(std::numeric_limits<double>::quiet_NaN());
  batch.mutable_batch()->mutable_samples(2)->set_value(900);  // implausible heart rate: kept, flagged
  c.send(batch);
  const auto reply = c.receive();
  ASSERT_TRUE(reply && reply->has_error());
  EXPECT_EQ(reply->error().code(), v1::SAMPLE_REJECTED);
  EXPECT_FALSE(reply->error().fatal());
  ASSERT_EQ(reply->error().rejected_size(), 1);
  EXPECT_EQ(reply->error().rejected(0).index(), 1u);
  EXPECT_TRUE(c.wait_ack(1));
  const auto batches = d.sink().batches();
  ASSERT_EQ(batches.size(), 1u);
  ASSERT_EQ(batches[0].samples.size(), 2u);
  EXPECT_EQ(batches[0].samples[1].quality & model::quality::implausible, model::quality::implausible);
}

TEST(Ingest, HandshakeTimeoutFires) {
  auto config = test_config();
  config.ingest.handshake_timeout = 150ms;
  daemon_under_test d(config);
  test_client silent(d.port());
  silent.send_raw("\x0a");  // a partial frame does not count as a handshake
  EXPECT_EQ(fatal_error_of(silent.receive()), v1::HANDSHAKE_TIMEOUT);
  EXPECT_TRUE(silent.wait_closed());
  EXPECT_EQ(d.stats().handshake_timeouts.load(), 1u);
}

TEST(Ingest, IdleTimeoutFiresAndPingsKeepAlive) {
  auto config = test_config();
  config.ingest.idle_timeout = 300ms;
  daemon_under_test d(config);
  test_client idle(d.port());
  test_client busy(d.port());
  ASSERT_TRUE(idle.hello("dev-idle")->has_welcome());
  ASSERT_TRUE(busy.hello("dev-busy", device_token, "chair-2")->has_welcome());
  // The busy device pings every 100 ms until the idle one is cut off.
  v1::DeviceMessage ping;
  std::optional<v1::DaemonMessage> idle_reply;
  for (std::uint64_t nonce = 1; !idle_reply && nonce < 100; ++nonce) {
    ping.mutable_ping()->set_nonce(nonce);
    busy.send(ping);
    const auto pong = busy.receive();
    ASSERT_TRUE(pong && pong->has_pong());
    EXPECT_EQ(pong->pong().nonce(), nonce);
    idle_reply = idle.receive(100ms);
  }
  EXPECT_EQ(fatal_error_of(idle_reply), v1::IDLE_TIMEOUT);
  EXPECT_TRUE(idle.wait_closed());
  busy.send(make_batch(1, 1));
  EXPECT_TRUE(busy.wait_ack(1));
}

TEST(Ingest, ConnectionLimitRefusesTheExtraConnection) {
  auto config = test_config();
  config.ingest.max_connections = 2;
  daemon_under_test d(config);
  test_client a(d.port());
  test_client b(d.port());
  ASSERT_TRUE(a.hello("dev-a")->has_welcome());
  ASSERT_TRUE(b.hello("dev-b", device_token, "chair-2")->has_welcome());
  test_client extra(d.port());
  EXPECT_EQ(fatal_error_of(extra.receive()), v1::TOO_MANY_CONNECTIONS);
  EXPECT_TRUE(extra.wait_closed());
  a.send_raw(std::string(1, '\0'));  // an empty frame: the daemon closes this one
  ASSERT_TRUE(a.wait_closed());
  // Once a slot frees up, a new device gets in.
  std::optional<v1::DaemonMessage> reply;
  for (int attempt = 0; attempt < 50 && !(reply && reply->has_welcome()); ++attempt) {
    test_client again(d.port());
    reply = again.hello("dev-c");
  }
  EXPECT_TRUE(reply && reply->has_welcome());
}

TEST(Ingest, SameDeviceAgainReplacesTheOldConnection) {
  daemon_under_test d;
  test_client old_link(d.port());
  ASSERT_TRUE(old_link.hello("dev-1")->has_welcome());
  old_link.send(make_batch(1, 2));
  ASSERT_TRUE(old_link.wait_ack(1));
  test_client new_link(d.port());
  const auto welcome = new_link.hello("dev-1");
  ASSERT_TRUE(welcome && welcome->has_welcome());
  EXPECT_EQ(welcome->welcome().acked_seq(), 1u);
  EXPECT_EQ(fatal_error_of(old_link.receive()), v1::DEVICE_RECONNECTED);
  EXPECT_TRUE(old_link.wait_closed());
  new_link.send(make_batch(2, 2));
  EXPECT_TRUE(new_link.wait_ack(2));
}

TEST(Ingest, GracefulStopAcksThenSaysShuttingDown) {
  daemon_under_test d;
  test_client c(d.port());
  ASSERT_TRUE(c.hello("dev-1")->has_welcome());
  c.send(make_batch(1, 5));
  ASSERT_TRUE(c.wait_ack(1));
  d.stop();
  EXPECT_EQ(fatal_error_of(c.receive()), v1::SHUTTING_DOWN);
  EXPECT_TRUE(c.wait_closed());
}

}  // namespace
}  // namespace vigil::test

namespace vigil::test {
namespace {

TEST(Ingest, StopThatRunsOutOfTimeStillEndsCleanly) {
  // A device that sends without ever reading: the daemon's replies back up, its writer
  // blocks, and the graceful stop runs out of time. The daemon must still stop, and tear
  // down the stuck connection without touching anything already gone.
  auto config = test_config();
  config.shutdown_timeout = std::chrono::milliseconds(200);
  config.ingest.close_timeout = std::chrono::seconds(30);
  daemon_under_test d(config);

  boost::asio::io_context io;
  boost::asio::ip::tcp::socket socket(io);
  socket.connect({boost::asio::ip::make_address("127.0.0.1"), d.port()});
  std::string flood;
  codec::append_frame(flood, make_hello("dev-stuck", device_token, "chair-1"));
  v1::DeviceMessage ping;
  ping.mutable_ping()->set_nonce(1);
  std::string one;
  codec::append_frame(one, ping);
  while (flood.size() < 32 * 1024 * 1024) flood += one;
  bool written = false;
  boost::asio::async_write(socket, boost::asio::buffer(flood), [&](boost::system::error_code, std::size_t) { written = true; });
  io.run_for(std::chrono::seconds(2));  // until the daemon stops reading: both sides' buffers are full
  EXPECT_FALSE(written) << "the flood should have filled every buffer";

  const auto before = std::chrono::steady_clock::now();
  d.stop();
  EXPECT_LT(std::chrono::steady_clock::now() - before, std::chrono::seconds(5));
  socket.close();
  io.run();
}

}  // namespace
}  // namespace vigil::test

namespace vigil::test {
namespace {

// Written against the daemon that took any seq above the last: one batch numbered 2^64 - 1,
// sent by anyone holding the shared prefix token, made every later batch of that device id a
// "duplicate", acked and dropped, for good.
TEST(Ingest, OneWildSeqCannotSilenceADeviceForGood) {
  daemon_under_test d;
  {
    test_client attacker(d.port());
    ASSERT_TRUE(attacker.hello("dev-7")->has_welcome());
    attacker.send(make_batch(std::numeric_limits<std::uint64_t>::max(), 1));
    std::optional<v1::Error> error;
    while (auto m = attacker.receive()) {
      if (m->has_error()) error = m->error();
    }
    ASSERT_TRUE(error);
    EXPECT_EQ(error->code(), v1::BAD_SEQUENCE) << error->message();
  }
  test_client monitor(d.port());
  const auto welcome = monitor.hello("dev-7");
  ASSERT_TRUE(welcome && welcome->has_welcome());
  EXPECT_EQ(welcome->welcome().acked_seq(), 0u);
  monitor.send(make_batch(1, 3));
  monitor.send(make_batch(2, 3));
  ASSERT_TRUE(monitor.wait_ack(2));
  EXPECT_EQ(d.sink().sample_count(), 6u) << "the monitor's own batches are taken, not dropped as duplicates";
}

}  // namespace
}  // namespace vigil::test
