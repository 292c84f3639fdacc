#include "daemon/ingest/device_protocol.hpp"

#include "daemon/codec/frame.hpp"
#include "vigil/v1/device.pb.h"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <spdlog/sinks/null_sink.h>
#include <spdlog/spdlog.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <memory>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

namespace vigil::ingest {
namespace {

constexpr std::int64_t some_time_ms = 1'700'000'000'000;

// --- test doubles -------------------------------------------------------------------------

class fake_link final : public device_link {
 public:
  void acked() override { ++acked_calls; }
  void superseded() override { ++superseded_calls; }
  void storage_failed() override { ++storage_failed_calls; }
  void sequence_reset() override {
    ++sequence_reset_calls;
    if (protocol != nullptr) protocol->on_sequence_reset();  // as the connection does
  }

  void chair_moved(const std::string& redirect, const std::string& node) override {
    ++chair_moved_calls;
    if (protocol != nullptr) protocol->on_chair_moved(redirect, node);
  }

  int acked_calls = 0;
  int chair_moved_calls = 0;
  int superseded_calls = 0;
  int storage_failed_calls = 0;
  int sequence_reset_calls = 0;
  device_protocol* protocol = nullptr;
};

/// Records every batch. Stores at once, or, when deferred, only when the test says so,
/// the way a sink that writes to disk would.
class recording_sink final : public sample_sink {
 public:
  struct record {
    std::string device_id;
    std::string chair_id;
    std::uint64_t seq = 0;
    std::vector<model::vital_sample> samples;
  };

  void submit(const batch_view& batch, const std::shared_ptr<device_state>& device) override {
    records.push_back({std::string(batch.device_id),
                       std::string(batch.chair_id),
                       batch.seq,
                       {batch.samples.begin(), batch.samples.end()}});
    if (defer) {
      pending.push_back({batch.seq, device->epoch, device});
    } else {
      device->mark_stored(batch.seq, device->epoch);
    }
  }

  void link_changed(std::string_view device_id, std::string_view chair_id, bool up) override {
    links.push_back(fmt::format("{} {} {}", device_id, chair_id, up ? "up" : "down"));
  }

  void cadences_declared(std::string_view device_id, std::string_view chair_id,
                         std::span<const declared_cadence> cadences) override {
    std::string line = fmt::format("{} {}", device_id, chair_id);
    for (const auto& c : cadences) line += fmt::format(" {}:{}", static_cast<int>(c.kind), c.interval_ms);
    declared.push_back(line);
  }
  std::vector<std::string> declared;

  /// Reports stored every deferred batch up to and including `seq`.
  void store_through(std::uint64_t seq) {
    std::erase_if(pending, [seq](const deferred& p) {
      if (p.seq > seq) return false;
      p.device->mark_stored(p.seq, p.epoch);
      return true;
    });
  }

  std::vector<std::uint64_t> seqs() const {
    std::vector<std::uint64_t> out;
    for (const auto& r : records) out.push_back(r.seq);
    return out;
  }

  bool defer = false;
  std::vector<record> records;
  std::vector<std::string> links;
  struct deferred {
    std::uint64_t seq = 0;
    std::uint64_t epoch = 0;
    std::shared_ptr<device_state> device;
  };
  std::vector<deferred> pending;
};

// --- wire helpers -------------------------------------------------------------------------

v1::DeviceMessage hello(const std::string& device_id, const std::string& token, const std::string& chair,
                        v1::ProtocolVersion version = v1::PROTOCOL_VERSION_1) {
  v1::DeviceMessage m;
  auto& h = *m.mutable_hello();
  h.set_device_id(device_id);
  h.set_token(token);
  h.set_chair_id(chair);
  h.set_protocol_version(version);
  h.set_software("unit test");
  return m;
}

v1::Sample sample(double value, v1::VitalKind kind = v1::HEART_RATE) {
  v1::Sample s;
  s.set_kind(kind);
  s.set_value(value);
  s.set_time_ms(some_time_ms);
  return s;
}

v1::DeviceMessage batch(std::uint64_t seq, std::vector<v1::Sample> samples = {sample(72)}) {
  v1::DeviceMessage m;
  m.mutable_batch()->set_seq(seq);
  for (auto& s : samples) *m.mutable_batch()->add_samples() = std::move(s);
  return m;
}

v1::DeviceMessage ping(std::uint64_t nonce) {
  v1::DeviceMessage m;
  m.mutable_ping()->set_nonce(nonce);
  return m;
}

const v1::Error* find_error(const std::vector<v1::DaemonMessage>& out) {
  for (const auto& m : out) {
    if (m.has_error()) return &m.error();
  }
  return nullptr;
}

std::vector<std::uint64_t> acks(const std::vector<v1::DaemonMessage>& out) {
  std::vector<std::uint64_t> seqs;
  for (const auto& m : out) {
    if (m.has_ack()) seqs.push_back(m.ack().acked_seq());
  }
  return seqs;
}

// --- fixture ------------------------------------------------------------------------------

const std::string bay1_token = "bay1-secret-token";
const std::string bay2_token = "bay2-secret-token";

/// A Hello declaring cadences (kind, interval ms).
v1::DeviceMessage hello_declaring(std::initializer_list<std::pair<v1::VitalKind, std::uint32_t>> cadences) {
  auto m = hello("bay2-monitor", bay2_token, "chair-2");
  for (const auto& [kind, interval] : cadences) {
    auto& c = *m.mutable_hello()->add_cadences();
    c.set_kind(kind);
    c.set_interval_ms(interval);
  }
  return m;
}

const std::string sim_token = "sim-shared-token";

/// One connection: its link and the protocol speaking over it.
struct connection {
  connection(std::uint64_t id, const device_protocol::context& ctx) : protocol(id, ctx, link) { link.protocol = &protocol; }

  fake_link link;
  device_protocol protocol;
};

class DeviceProtocol : public testing::Test {
 protected:
  DeviceProtocol() {
    config_.max_frame_bytes = 4096;
    config_.idle_timeout = std::chrono::milliseconds(12'345);
    config_.handshake_timeout = std::chrono::milliseconds(2'500);
  }

  std::unique_ptr<connection> connect() {
    return std::make_unique<connection>(++last_id_,
                                        device_protocol::context{config_, registry_, sink_, counters_, *logger_});
  }

  /// Everything the protocol has to send, decoded as the device would.
  static std::vector<v1::DaemonMessage> output(device_protocol& protocol) {
    std::string wire;
    protocol.take_output(wire);
    codec::frame_decoder decoder;
    decoder.feed({reinterpret_cast<const std::uint8_t*>(wire.data()), wire.size()});
    std::vector<v1::DaemonMessage> out;
    for (;;) {
      v1::DaemonMessage m;
      const auto f = decoder.next(m);
      if (f.status != codec::decode_status::ok) {
        EXPECT_EQ(f.status, codec::decode_status::need_more) << codec::describe(f.error);
        break;
      }
      out.push_back(std::move(m));
    }
    EXPECT_EQ(decoder.finish(), codec::frame_error::none);
    EXPECT_FALSE(protocol.has_output()) << "take_output left something behind";
    return out;
  }

  /// A connection past its handshake, with the Welcome already read.
  std::unique_ptr<connection> streaming(const std::string& device_id = "bay2-monitor",
                                        const std::string& token = bay2_token, const std::string& chair = "chair-2") {
    auto c = connect();
    c->protocol.on_message(hello(device_id, token, chair));
    const auto out = output(c->protocol);
    EXPECT_EQ(out.size(), 1U);
    EXPECT_TRUE(!out.empty() && out[0].has_welcome()) << "handshake failed";
    EXPECT_TRUE(c->protocol.streaming());
    return c;
  }

  /// Checks that `out` ends in one fatal error with `code` and that the protocol is closing.
  static void expect_fatal(const device_protocol& protocol, const std::vector<v1::DaemonMessage>& out,
                           v1::ErrorCode code) {
    ASSERT_FALSE(out.empty());
    ASSERT_TRUE(out.back().has_error()) << out.back().ShortDebugString();
    EXPECT_EQ(out.back().error().code(), code) << v1::ErrorCode_Name(out.back().error().code());
    EXPECT_TRUE(out.back().error().fatal());
    EXPECT_FALSE(out.back().error().message().empty());
    EXPECT_TRUE(protocol.closing());
    EXPECT_TRUE(protocol.close_is_fault());
    EXPECT_FALSE(protocol.close_reason().empty());
  }

  settings config_;
  device_registry registry_{{
      {"bay1-monitor", bay1_token, "chair-1"},
      {"bay2-monitor", bay2_token, ""},
      {"sim-*", sim_token, ""},
  }};
  recording_sink sink_;
  stats counters_;
  std::shared_ptr<spdlog::logger> logger_ =
      std::make_shared<spdlog::logger>("device_protocol_test", std::make_shared<spdlog::sinks::null_sink_mt>());
  std::uint64_t last_id_ = 0;
};

// --- handshake ----------------------------------------------------------------------------

TEST_F(DeviceProtocol, AcceptedHelloIsWelcomed) {
  auto c = connect();
  EXPECT_EQ(c->protocol.current(), device_protocol::phase::awaiting_hello);
  c->protocol.on_message(hello("bay1-monitor", bay1_token, "chair-1"));

  const auto out = output(c->protocol);
  ASSERT_EQ(out.size(), 1U);
  ASSERT_TRUE(out[0].has_welcome());
  const auto& welcome = out[0].welcome();
  EXPECT_EQ(welcome.protocol_version(), v1::PROTOCOL_VERSION_1);
  EXPECT_EQ(welcome.acked_seq(), 0U);
  EXPECT_EQ(welcome.max_frame_bytes(), 4096U);
  EXPECT_EQ(welcome.idle_timeout_ms(), 12'345U);
  EXPECT_EQ(welcome.daemon_version(), VIGIL_VERSION);
  EXPECT_TRUE(c->protocol.streaming());
  EXPECT_EQ(counters_.handshakes_accepted.load(), 1U);
  EXPECT_EQ(counters_.handshakes_refused.load(), 0U);
}

TEST_F(DeviceProtocol, ChairIsTakenFromHelloWhenNotConfigured) {
  auto c = streaming("bay2-monitor", bay2_token, "chair-9");
  c->protocol.on_message(batch(1));
  ASSERT_EQ(sink_.records.size(), 1U);
  EXPECT_EQ(sink_.records[0].device_id, "bay2-monitor");
  EXPECT_EQ(sink_.records[0].chair_id, "chair-9");
}

struct refusal_case {
  std::string name;
  v1::DeviceMessage hello;
  v1::ErrorCode code;
};
// Names the case in test listings and failures (the default is a dump of the struct's bytes).
void PrintTo(const refusal_case& c, std::ostream* os) {
  *os << c.name;
}

class RefusedHello : public DeviceProtocol, public testing::WithParamInterface<refusal_case> {};

TEST_P(RefusedHello, GetsAFatalErrorAndNoWelcome) {
  auto c = connect();
  c->protocol.on_message(GetParam().hello);
  const auto out = output(c->protocol);
  ASSERT_EQ(out.size(), 1U);
  expect_fatal(c->protocol, out, GetParam().code);
  EXPECT_EQ(counters_.handshakes_refused.load(), 1U);
  EXPECT_EQ(counters_.handshakes_accepted.load(), 0U);

  // A closing protocol ignores whatever else the device sends.
  c->protocol.on_message(batch(1));
  EXPECT_TRUE(output(c->protocol).empty());
  EXPECT_TRUE(sink_.records.empty());
}

INSTANTIATE_TEST_SUITE_P(
    Handshake, RefusedHello,
    testing::Values(
        refusal_case{"unknown_device", hello("bay3-monitor", bay2_token, "chair-3"), v1::UNKNOWN_DEVICE},
        refusal_case{"empty_device_id", hello("", bay2_token, "chair-3"), v1::UNKNOWN_DEVICE},
        refusal_case{"device_id_with_space", hello("bay2 monitor", bay2_token, "chair-2"), v1::UNKNOWN_DEVICE},
        refusal_case{"bad_token", hello("bay2-monitor", bay1_token, "chair-2"), v1::BAD_TOKEN},
        refusal_case{"token_prefix", hello("bay2-monitor", bay2_token.substr(0, 8), "chair-2"), v1::BAD_TOKEN},
        refusal_case{"token_longer", hello("bay2-monitor", bay2_token + "x", "chair-2"), v1::BAD_TOKEN},
        refusal_case{"token_last_char_differs",
                     hello("bay2-monitor", bay2_token.substr(0, bay2_token.size() - 1) + "X", "chair-2"),
                     v1::BAD_TOKEN},
        refusal_case{"version_unspecified",
                     hello("bay2-monitor", bay2_token, "chair-2", v1::PROTOCOL_VERSION_UNSPECIFIED),
                     v1::UNSUPPORTED_VERSION},
        refusal_case{"version_2", hello("bay2-monitor", bay2_token, "chair-2", static_cast<v1::ProtocolVersion>(2)),
                     v1::UNSUPPORTED_VERSION},
        refusal_case{"chair_mismatch", hello("bay1-monitor", bay1_token, "chair-2"), v1::BAD_CHAIR},
        refusal_case{"chair_missing", hello("bay2-monitor", bay2_token, ""), v1::BAD_CHAIR},
        refusal_case{"prefix_wrong_token", hello("sim-7", bay2_token, "chair-7"), v1::BAD_TOKEN},
        refusal_case{"prefix_not_matching", hello("simulator", sim_token, "chair-7"), v1::UNKNOWN_DEVICE},
        refusal_case{"cadence_of_a_cuff_kind", hello_declaring({{v1::NIBP_SYSTOLIC, 300'000}}), v1::BAD_CADENCE},
        refusal_case{"cadence_of_no_kind", hello_declaring({{v1::VITAL_KIND_UNSPECIFIED, 1'000}}), v1::BAD_CADENCE},
        refusal_case{"cadence_declared_twice", hello_declaring({{v1::SPO2, 1'000}, {v1::SPO2, 2'000}}), v1::BAD_CADENCE},
        refusal_case{"cadence_too_fast", hello_declaring({{v1::HEART_RATE, 99}}), v1::BAD_CADENCE},
        refusal_case{"cadence_too_slow", hello_declaring({{v1::HEART_RATE, 3'600'001}}), v1::BAD_CADENCE}));

TEST_F(DeviceProtocol, DeclaredCadencesReachTheSinkWithEveryAdmittedHello) {
  auto c = connect();
  c->protocol.on_message(hello_declaring({{v1::HEART_RATE, 1'000}, {v1::RESPIRATORY_RATE, 3'600'000}}));
  ASSERT_TRUE(c->protocol.streaming());
  auto plain = connect();
  plain->protocol.on_message(hello("bay1-monitor", bay1_token, "chair-1"));
  ASSERT_TRUE(plain->protocol.streaming());
  // Every admitted Hello, declaring or not: a device that stops declaring withdraws.
  EXPECT_EQ(sink_.declared, (std::vector<std::string>{"bay2-monitor chair-2 1:1000 7:3600000", "bay1-monitor chair-1"}));
}

TEST_F(DeviceProtocol, PrefixCredentialAdmitsMatchingIds) {
  for (const std::string id : {"sim-7", "sim-bay-12"}) {
    SCOPED_TRACE(id);
    auto c = streaming(id, sim_token, "chair-7");
    c->protocol.on_message(batch(1));
    ASSERT_FALSE(sink_.records.empty());
    EXPECT_EQ(sink_.records.back().device_id, id);
  }
  // Each id is a device of its own, with its own sequence.
  EXPECT_EQ(sink_.seqs(), (std::vector<std::uint64_t>{1, 1}));
}

// --- protocol violations ------------------------------------------------------------------

TEST_F(DeviceProtocol, BatchBeforeHelloIsAViolation) {
  auto c = connect();
  c->protocol.on_message(batch(1));
  expect_fatal(c->protocol, output(c->protocol), v1::PROTOCOL_VIOLATION);
  EXPECT_TRUE(sink_.records.empty());
  EXPECT_EQ(counters_.protocol_errors.load(), 1U);
}

TEST_F(DeviceProtocol, PingBeforeHelloIsAViolation) {
  auto c = connect();
  c->protocol.on_message(ping(5));
  const auto out = output(c->protocol);
  EXPECT_EQ(out.size(), 1U) << "no Pong before the handshake";
  expect_fatal(c->protocol, out, v1::PROTOCOL_VIOLATION);
}

TEST_F(DeviceProtocol, SecondHelloIsAViolation) {
  auto c = streaming();
  c->protocol.on_message(hello("bay2-monitor", bay2_token, "chair-2"));
  expect_fatal(c->protocol, output(c->protocol), v1::PROTOCOL_VIOLATION);
  EXPECT_EQ(counters_.protocol_errors.load(), 1U);
  EXPECT_EQ(counters_.handshakes_accepted.load(), 1U);
}

TEST_F(DeviceProtocol, MessageWithoutBodyIsAViolation) {
  auto c = streaming();
  c->protocol.on_message(v1::DeviceMessage{});
  expect_fatal(c->protocol, output(c->protocol), v1::PROTOCOL_VIOLATION);
}

TEST_F(DeviceProtocol, SeqZeroIsABadSequence) {
  auto c = streaming();
  c->protocol.on_message(batch(0));
  expect_fatal(c->protocol, output(c->protocol), v1::BAD_SEQUENCE);
  EXPECT_TRUE(sink_.records.empty());
}

struct bad_frame_case {
  codec::frame_error error;
  v1::ErrorCode code;
};
void PrintTo(const bad_frame_case& c, std::ostream* os) {
  *os << v1::ErrorCode_Name(c.code);
}

class BadFrame : public DeviceProtocol, public testing::WithParamInterface<bad_frame_case> {};

TEST_P(BadFrame, EndsTheConnectionWithItsCode) {
  auto c = streaming();
  c->protocol.on_bad_frame(GetParam().error);
  const auto out = output(c->protocol);
  ASSERT_EQ(out.size(), 1U);
  expect_fatal(c->protocol, out, GetParam().code);
  EXPECT_EQ(counters_.protocol_errors.load(), 1U);
}

INSTANTIATE_TEST_SUITE_P(Framing, BadFrame,
                         testing::Values(bad_frame_case{codec::frame_error::frame_too_large, v1::FRAME_TOO_LARGE},
                                         bad_frame_case{codec::frame_error::malformed_varint, v1::MALFORMED_VARINT},
                                         bad_frame_case{codec::frame_error::empty_frame, v1::EMPTY_FRAME},
                                         bad_frame_case{codec::frame_error::unparsable_message,
                                                        v1::UNPARSABLE_MESSAGE}));

TEST_F(DeviceProtocol, BadFrameBeforeHelloIsFatalToo) {
  auto c = connect();
  c->protocol.on_bad_frame(codec::frame_error::frame_too_large);
  expect_fatal(c->protocol, output(c->protocol), v1::FRAME_TOO_LARGE);
}

// --- timeouts and closing -----------------------------------------------------------------

TEST_F(DeviceProtocol, TimeoutBeforeHelloIsAHandshakeTimeout) {
  auto c = connect();
  c->protocol.on_timeout();
  expect_fatal(c->protocol, output(c->protocol), v1::HANDSHAKE_TIMEOUT);
  EXPECT_EQ(counters_.handshake_timeouts.load(), 1U);
  EXPECT_EQ(counters_.idle_timeouts.load(), 0U);
}

TEST_F(DeviceProtocol, TimeoutAfterHelloIsAnIdleTimeout) {
  auto c = streaming();
  c->protocol.on_timeout();
  expect_fatal(c->protocol, output(c->protocol), v1::IDLE_TIMEOUT);
  EXPECT_EQ(counters_.idle_timeouts.load(), 1U);
  EXPECT_EQ(counters_.handshake_timeouts.load(), 0U);
}

TEST_F(DeviceProtocol, OnlyTheFirstFatalErrorIsSent) {
  auto c = streaming();
  c->protocol.on_timeout();
  c->protocol.on_bad_frame(codec::frame_error::empty_frame);
  c->protocol.fail(v1::INTERNAL, "should be ignored");
  const auto out = output(c->protocol);
  ASSERT_EQ(out.size(), 1U);
  expect_fatal(c->protocol, out, v1::IDLE_TIMEOUT);
  EXPECT_EQ(counters_.protocol_errors.load(), 0U);
}

TEST_F(DeviceProtocol, OrderlyPeerCloseIsNotAFault) {
  auto c = streaming();
  c->protocol.on_peer_closed(codec::frame_error::none);
  EXPECT_TRUE(c->protocol.closing());
  EXPECT_FALSE(c->protocol.close_is_fault());
  EXPECT_TRUE(output(c->protocol).empty());
}

TEST_F(DeviceProtocol, PeerCloseInsideAFrameIsAFault) {
  auto c = streaming();
  c->protocol.on_peer_closed(codec::frame_error::truncated_frame);
  EXPECT_TRUE(c->protocol.closing());
  EXPECT_TRUE(c->protocol.close_is_fault());
  EXPECT_EQ(counters_.protocol_errors.load(), 1U);
}

TEST_F(DeviceProtocol, FatalErrorComesAfterTheAck) {
  auto c = streaming();
  c->protocol.on_message(batch(1));
  c->protocol.on_message(batch(0));
  const auto out = output(c->protocol);
  ASSERT_EQ(out.size(), 2U);
  ASSERT_TRUE(out[0].has_ack());
  EXPECT_EQ(out[0].ack().acked_seq(), 1U);
  expect_fatal(c->protocol, out, v1::BAD_SEQUENCE);
}

TEST_F(DeviceProtocol, StoredBatchIsStillAckedWhileClosing) {
  sink_.defer = true;
  auto c = streaming();
  c->protocol.on_message(batch(1));
  c->protocol.on_timeout();
  sink_.store_through(1);
  const auto out = output(c->protocol);
  ASSERT_EQ(out.size(), 2U);
  EXPECT_EQ(acks(out), std::vector<std::uint64_t>{1});
  EXPECT_TRUE(out[0].has_ack()) << "the ack goes before the fatal error";
  expect_fatal(c->protocol, out, v1::IDLE_TIMEOUT);
}

// --- batches and acks ---------------------------------------------------------------------

TEST_F(DeviceProtocol, AcceptedBatchIsSubmittedAndAcked) {
  auto c = streaming();
  c->protocol.on_message(batch(1, {sample(72), sample(98, v1::SPO2)}));
  ASSERT_EQ(sink_.records.size(), 1U);
  const auto& r = sink_.records[0];
  EXPECT_EQ(r.seq, 1U);
  ASSERT_EQ(r.samples.size(), 2U);
  EXPECT_EQ(r.samples[0].value, 72);
  EXPECT_EQ(r.samples[0].kind, model::vital_kind::heart_rate);
  EXPECT_EQ(r.samples[1].value, 98);
  EXPECT_EQ(r.samples[1].kind, model::vital_kind::spo2);
  EXPECT_EQ(r.samples[1].time_ms, some_time_ms);
  EXPECT_EQ(acks(output(c->protocol)), std::vector<std::uint64_t>{1});
  EXPECT_EQ(c->link.acked_calls, 1);
}

TEST_F(DeviceProtocol, ResentBatchesAfterReconnectAreAckedButNotSubmittedAgain) {
  auto first = streaming();
  first->protocol.on_message(batch(1));
  first->protocol.on_message(batch(2));
  EXPECT_EQ(acks(output(first->protocol)), std::vector<std::uint64_t>{2});

  // The device reconnects unsure of what arrived and resends from 1.
  auto second = streaming();
  second->protocol.on_message(batch(1));
  EXPECT_EQ(acks(output(second->protocol)), std::vector<std::uint64_t>{2}) << "a resend still gets its ack";
  second->protocol.on_message(batch(2));
  second->protocol.on_message(batch(3));
  EXPECT_EQ(acks(output(second->protocol)), std::vector<std::uint64_t>{3});

  EXPECT_EQ(sink_.seqs(), (std::vector<std::uint64_t>{1, 2, 3}));
  EXPECT_EQ(counters_.batches_accepted.load(), 3U);
  EXPECT_EQ(counters_.batches_duplicate.load(), 2U);
  EXPECT_TRUE(second->protocol.streaming());
}

TEST_F(DeviceProtocol, SeqGoingBackOnOneConnectionIsBadSequence) {
  for (const std::uint64_t again : {2u, 1u}) {
    SCOPED_TRACE(again);
    auto c = streaming();
    c->protocol.on_message(batch(10 + 2 * again));
    c->protocol.on_message(batch(10 + again));
    expect_fatal(c->protocol, output(c->protocol), v1::BAD_SEQUENCE);
  }
  EXPECT_EQ(sink_.seqs(), (std::vector<std::uint64_t>{14})) << "the second run's 12 is a resend of an accepted seq";
}

TEST_F(DeviceProtocol, SeqMayJumpForward) {
  auto c = streaming();
  c->protocol.on_message(batch(5));
  c->protocol.on_message(batch(9));
  EXPECT_EQ(sink_.seqs(), (std::vector<std::uint64_t>{5, 9}));
  EXPECT_EQ(acks(output(c->protocol)), std::vector<std::uint64_t>{9});
}

TEST_F(DeviceProtocol, RejectedSampleIsReportedAndTheRestKept) {
  auto c = streaming();
  c->protocol.on_message(batch(1, {sample(70), sample(std::nan("")), sample(72)}));

  ASSERT_EQ(sink_.records.size(), 1U);
  ASSERT_EQ(sink_.records[0].samples.size(), 2U);
  EXPECT_EQ(sink_.records[0].samples[0].value, 70);
  EXPECT_EQ(sink_.records[0].samples[1].value, 72);

  const auto out = output(c->protocol);
  const v1::Error* error = find_error(out);
  ASSERT_NE(error, nullptr);
  EXPECT_EQ(error->code(), v1::SAMPLE_REJECTED);
  EXPECT_FALSE(error->fatal());
  EXPECT_EQ(error->seq(), 1U);
  ASSERT_EQ(error->rejected_size(), 1);
  EXPECT_EQ(error->rejected(0).index(), 1U);
  EXPECT_FALSE(error->rejected(0).reason().empty());
  EXPECT_EQ(acks(out), std::vector<std::uint64_t>{1});
  EXPECT_TRUE(c->protocol.streaming());
  EXPECT_FALSE(c->protocol.close_is_fault());
}

TEST_F(DeviceProtocol, RejectionListIsBoundedButCountsEverySample) {
  auto c = streaming();
  std::vector<v1::Sample> samples(40, sample(std::nan("")));
  samples.push_back(sample(60));
  c->protocol.on_message(batch(1, samples));

  const auto out = output(c->protocol);
  const v1::Error* error = find_error(out);
  ASSERT_NE(error, nullptr);
  EXPECT_GT(error->rejected_size(), 0);
  EXPECT_LT(error->rejected_size(), 40) << "one error frame must not grow with the batch";
  for (int i = 0; i < error->rejected_size(); ++i) EXPECT_EQ(error->rejected(i).index(), static_cast<std::uint32_t>(i));
  EXPECT_NE(error->message().find("40"), std::string::npos) << error->message();
  EXPECT_EQ(counters_.samples_rejected.load(), 40U);
  EXPECT_EQ(counters_.samples_accepted.load(), 1U);
}

TEST_F(DeviceProtocol, AckIsCumulativeAndOnlyAfterStorage) {
  sink_.defer = true;
  auto c = streaming();
  for (std::uint64_t seq = 1; seq <= 3; ++seq) c->protocol.on_message(batch(seq));
  EXPECT_EQ(sink_.seqs(), (std::vector<std::uint64_t>{1, 2, 3}));
  EXPECT_FALSE(c->protocol.has_output()) << "nothing is stored yet, so nothing may be acked";
  EXPECT_TRUE(output(c->protocol).empty());
  EXPECT_EQ(c->link.acked_calls, 0);

  sink_.store_through(1);
  EXPECT_EQ(c->link.acked_calls, 1) << "the link must be woken to send the ack";
  EXPECT_TRUE(c->protocol.has_output());
  EXPECT_EQ(acks(output(c->protocol)), std::vector<std::uint64_t>{1});

  sink_.store_through(3);
  EXPECT_EQ(acks(output(c->protocol)), std::vector<std::uint64_t>{3}) << "one ack covers batches 2 and 3";
  EXPECT_FALSE(c->protocol.has_output());
}

TEST_F(DeviceProtocol, DuplicateOfAnUnstoredBatchDoesNotAckAhead) {
  sink_.defer = true;
  auto c = streaming();
  c->protocol.on_message(batch(1));
  c->protocol.on_message(batch(1));
  for (const auto seq : acks(output(c->protocol))) EXPECT_EQ(seq, 0U) << "batch 1 is not stored yet";
  sink_.store_through(1);
  EXPECT_EQ(acks(output(c->protocol)), std::vector<std::uint64_t>{1});
}

TEST_F(DeviceProtocol, PingIsAnsweredWithTheSameNonce) {
  auto c = streaming();
  constexpr std::uint64_t nonce = 0xdead'beef'cafe'f00dULL;
  c->protocol.on_message(ping(nonce));
  const auto out = output(c->protocol);
  ASSERT_EQ(out.size(), 1U);
  ASSERT_TRUE(out[0].has_pong());
  EXPECT_EQ(out[0].pong().nonce(), nonce);
}

// --- reconnection -------------------------------------------------------------------------

TEST_F(DeviceProtocol, NewConnectionSupersedesTheOldAndResumes) {
  auto first = streaming();
  for (std::uint64_t seq = 1; seq <= 3; ++seq) first->protocol.on_message(batch(seq));
  EXPECT_EQ(acks(output(first->protocol)), std::vector<std::uint64_t>{3});

  auto second = connect();
  second->protocol.on_message(hello("bay2-monitor", bay2_token, "chair-2"));
  EXPECT_EQ(first->link.superseded_calls, 1);
  EXPECT_EQ(second->link.superseded_calls, 0);
  const auto out = output(second->protocol);
  ASSERT_EQ(out.size(), 1U);
  ASSERT_TRUE(out[0].has_welcome());
  EXPECT_EQ(out[0].welcome().acked_seq(), 3U);

  // The device resends from its last unacked batch; the copy of 3 is dropped.
  second->protocol.on_message(batch(3));
  second->protocol.on_message(batch(4));
  EXPECT_EQ(sink_.seqs(), (std::vector<std::uint64_t>{1, 2, 3, 4}));
  EXPECT_EQ(acks(output(second->protocol)), std::vector<std::uint64_t>{4});
  EXPECT_EQ(second->link.acked_calls, 1);
  EXPECT_EQ(first->link.acked_calls, 3) << "acks for the device now go to the new link only";
}

TEST_F(DeviceProtocol, ClosingTheOldConnectionKeepsTheNewOwner) {
  sink_.defer = true;
  auto first = streaming();
  first->protocol.on_message(batch(1));
  auto second = streaming();
  // The superseded session closes itself; its teardown must not orphan the device.
  first->protocol.fail(v1::DEVICE_RECONNECTED, "replaced");
  EXPECT_FALSE(first->protocol.close_is_fault());
  first.reset();

  sink_.store_through(1);
  EXPECT_EQ(second->link.acked_calls, 1);
  EXPECT_EQ(acks(output(second->protocol)), std::vector<std::uint64_t>{1});
}

TEST_F(DeviceProtocol, ReconnectAfterCloseResumesFromStoredNotAccepted) {
  sink_.defer = true;
  auto first = streaming();
  first->protocol.on_message(batch(1));
  first->protocol.on_message(batch(2));
  sink_.store_through(1);
  first->protocol.on_peer_closed(codec::frame_error::none);
  first.reset();

  auto second = connect();
  second->protocol.on_message(hello("bay2-monitor", bay2_token, "chair-2"));
  const auto out = output(second->protocol);
  ASSERT_EQ(out.size(), 1U);
  ASSERT_TRUE(out[0].has_welcome());
  EXPECT_EQ(out[0].welcome().acked_seq(), 1U) << "batch 2 was taken but not stored";
  EXPECT_EQ(registry_.find("bay2-monitor")->accepted_seq, 2U);
}

// --- counters -----------------------------------------------------------------------------

TEST_F(DeviceProtocol, CountersFollowTheConversation) {
  auto c = streaming();
  c->protocol.on_message(batch(1, {sample(70), sample(400), sample(std::nan("")), sample(101, v1::SPO2)}));
  c->protocol.on_message(batch(2, {sample(71)}));
  c->protocol.on_message(ping(1));
  auto again = streaming();
  again->protocol.on_message(batch(2, {sample(71)}));
  auto refused = connect();
  refused->protocol.on_message(hello("bay2-monitor", "wrong-token-value", "chair-2"));

  EXPECT_EQ(counters_.handshakes_accepted.load(), 2U);
  EXPECT_EQ(counters_.handshakes_refused.load(), 1U);
  EXPECT_EQ(counters_.batches_accepted.load(), 2U);
  EXPECT_EQ(counters_.batches_duplicate.load(), 1U);
  EXPECT_EQ(counters_.samples_accepted.load(), 4U) << "flagged samples are kept, so they count as accepted";
  EXPECT_EQ(counters_.samples_flagged.load(), 2U);
  EXPECT_EQ(counters_.samples_rejected.load(), 1U);
  EXPECT_EQ(counters_.protocol_errors.load(), 0U);
  EXPECT_EQ(counters_.handshake_timeouts.load(), 0U);
  EXPECT_EQ(counters_.idle_timeouts.load(), 0U);
}

}  // namespace
}  // namespace vigil::ingest

// --- sequence window and operator reset ---------------------------------------------------

namespace vigil::ingest {
namespace {

TEST_F(DeviceProtocol, SeqFarAboveTheAckIsRefusedAndCannotPoisonTheDevice) {
  config_.seq_window = 1000;
  auto attacker = streaming();
  attacker->protocol.on_message(batch(1));
  attacker->protocol.on_message(batch(std::numeric_limits<std::uint64_t>::max()));
  expect_fatal(attacker->protocol, output(attacker->protocol), v1::BAD_SEQUENCE);
  attacker.reset();

  // The device's own numbering carries on: nothing was taken from the refused batch.
  auto device = streaming();
  device->protocol.on_message(batch(2));
  device->protocol.on_message(batch(1001));
  EXPECT_EQ(acks(output(device->protocol)), std::vector<std::uint64_t>{1001});
  EXPECT_EQ(sink_.seqs(), (std::vector<std::uint64_t>{1, 2, 1001}));
  EXPECT_EQ(registry_.find("bay2-monitor")->accepted_seq, 1001U);
}

TEST_F(DeviceProtocol, TheWindowCountsFromTheAckNotFromBatchesInFlight) {
  config_.seq_window = 10;
  sink_.defer = true;
  auto c = streaming();
  for (std::uint64_t seq = 1; seq <= 10; ++seq) c->protocol.on_message(batch(seq));
  c->protocol.on_message(batch(11));
  expect_fatal(c->protocol, output(c->protocol), v1::BAD_SEQUENCE);
  EXPECT_EQ(sink_.seqs().size(), 10U);
}

TEST_F(DeviceProtocol, SeqFarBelowTheAckIsARestartedCountNotADuplicate) {
  config_.seq_window = 100;
  auto first = streaming();
  for (std::uint64_t seq = 100; seq <= 500; seq += 100) first->protocol.on_message(batch(seq));
  EXPECT_EQ(acks(output(first->protocol)), std::vector<std::uint64_t>{500});
  first.reset();

  auto resend = streaming();
  resend->protocol.on_message(batch(401));
  EXPECT_EQ(acks(output(resend->protocol)), std::vector<std::uint64_t>{500}) << "within the window: a resend";
  resend.reset();

  auto restarted = streaming();
  restarted->protocol.on_message(batch(1));
  const auto out = output(restarted->protocol);
  expect_fatal(restarted->protocol, out, v1::BAD_SEQUENCE);
  EXPECT_NE(out.back().error().message().find("reset"), std::string::npos) << out.back().error().message();
  EXPECT_EQ(counters_.batches_duplicate.load(), 1U);
}

TEST_F(DeviceProtocol, AnOperatorResetLetsADeviceThatRestartedItsCountStartAgain) {
  sink_.defer = true;
  auto c = streaming();
  c->protocol.on_message(batch(41));
  c->protocol.on_message(batch(42));
  sink_.store_through(41);
  EXPECT_EQ(acks(output(c->protocol)), std::vector<std::uint64_t>{41});

  const auto reset = registry_.reset("bay2-monitor");
  ASSERT_TRUE(reset.known);
  EXPECT_EQ(reset.previous_seq, 41U);
  const auto out = output(c->protocol);
  ASSERT_FALSE(out.empty());
  ASSERT_TRUE(out.back().has_error());
  EXPECT_EQ(out.back().error().code(), v1::SEQUENCE_RESET);
  EXPECT_TRUE(out.back().error().fatal());
  EXPECT_TRUE(c->protocol.closing());
  EXPECT_FALSE(c->protocol.close_is_fault()) << "an operator's reset is an orderly end";

  sink_.store_through(42);  // committed after the reset: must not bring the old count back
  auto again = connect();
  again->protocol.on_message(hello("bay2-monitor", bay2_token, "chair-2"));
  const auto welcome = output(again->protocol);
  ASSERT_TRUE(!welcome.empty() && welcome[0].has_welcome());
  EXPECT_EQ(welcome[0].welcome().acked_seq(), 0U);
  again->protocol.on_message(batch(1));
  sink_.store_through(1);
  EXPECT_EQ(acks(output(again->protocol)), std::vector<std::uint64_t>{1});
}

TEST_F(DeviceProtocol, ResettingADeviceNobodyConfiguredIsRefused) {
  EXPECT_FALSE(registry_.reset("stranger").known);
  EXPECT_TRUE(registry_.reset("sim-7").known) << "a prefix entry admits it";
}

}  // namespace
}  // namespace vigil::ingest

// --- chairs of devices with no configured chair -----------------------------------------------

namespace vigil::ingest {
namespace {

TEST_F(DeviceProtocol, ADeviceWithNoConfiguredChairMayNotNameAConfiguredOne) {
  auto c = connect();
  c->protocol.on_message(hello("sim-1", sim_token, "chair-1"));  // bay1-monitor's chair
  expect_fatal(c->protocol, output(c->protocol), v1::BAD_CHAIR);
}

TEST_F(DeviceProtocol, TheFirstDeviceToNameAChairServesItUntilItHasGoneAndTheChairIsFree) {
  bool in_use = true;
  registry_.chair_in_use_by([&](std::string_view) { return in_use; });
  std::vector<std::pair<std::string, std::string>> recorded;
  registry_.record_bindings_with([&](const std::string& chair, const std::string& device) { recorded.emplace_back(chair, device); });

  auto first = streaming("sim-1", sim_token, "chair-5");
  auto second = connect();
  second->protocol.on_message(hello("sim-2", sim_token, "chair-5"));
  expect_fatal(second->protocol, output(second->protocol), v1::BAD_CHAIR);

  first.reset();  // gone, but the chair's session is open
  auto third = connect();
  third->protocol.on_message(hello("sim-2", sim_token, "chair-5"));
  expect_fatal(third->protocol, output(third->protocol), v1::BAD_CHAIR);

  in_use = false;
  auto fourth = streaming("sim-2", sim_token, "chair-5");
  EXPECT_EQ(registry_.bound_to("chair-5"), "sim-2");
  EXPECT_EQ(recorded, (std::vector<std::pair<std::string, std::string>>{{"chair-5", "sim-1"}, {"chair-5", "sim-2"}}));
}

TEST_F(DeviceProtocol, ADeviceThatMovesToAnotherChairLeavesItsOldOne) {
  auto first = streaming("sim-1", sim_token, "chair-5");
  auto moved = streaming("sim-1", sim_token, "chair-6");
  EXPECT_EQ(sink_.links, (std::vector<std::string>{"sim-1 chair-5 up", "sim-1 chair-5 down", "sim-1 chair-6 up"}));
  EXPECT_FALSE(registry_.bound_to("chair-5"));
  auto other = streaming("sim-2", sim_token, "chair-5");
  EXPECT_EQ(registry_.bound_to("chair-5"), "sim-2");
}

}  // namespace
}  // namespace vigil::ingest
