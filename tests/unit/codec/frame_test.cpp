#include "daemon/codec/frame.hpp"

#include "vigil/v1/device.pb.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <google/protobuf/util/delimited_message_util.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <set>
#include <span>
#include <sstream>
#include <string>
#include <vector>

namespace vigil::codec {
namespace {

using bytes = std::vector<std::uint8_t>;

std::span<const std::uint8_t> as_bytes(const std::string& s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

v1::DeviceMessage hello_message() {
  v1::DeviceMessage m;
  auto& hello = *m.mutable_hello();
  hello.set_device_id("bay2-monitor");
  hello.set_token("correct-horse-battery");
  hello.set_protocol_version(v1::PROTOCOL_VERSION_1);
  hello.set_chair_id("chair-2");
  hello.set_software("Acme VS-200 fw 4.1");
  return m;
}

v1::DeviceMessage batch_message(std::uint64_t seq, int samples) {
  v1::DeviceMessage m;
  auto& batch = *m.mutable_batch();
  batch.set_seq(seq);
  for (int i = 0; i < samples; ++i) {
    auto& s = *batch.add_samples();
    s.set_kind(i % 2 == 0 ? v1::HEART_RATE : v1::SPO2);
    s.set_value(60.0 + i * 0.5);
    s.set_time_ms(1'700'000'000'000 + 1000 * static_cast<std::int64_t>(seq) + i);
    s.set_quality(i % 3 == 0 ? static_cast<std::uint32_t>(v1::QUALITY_ARTIFACT) : 0U);
  }
  return m;
}

v1::DeviceMessage ping_message(std::uint64_t nonce) {
  v1::DeviceMessage m;
  m.mutable_ping()->set_nonce(nonce);
  return m;
}

// A realistic conversation: batch sizes differ so that prefixes span one and two bytes.
std::vector<v1::DeviceMessage> conversation() {
  return {hello_message(),      batch_message(1, 3), batch_message(2, 0),
          batch_message(3, 12), ping_message(42),    batch_message(4, 1)};
}

std::string encode(const std::vector<v1::DeviceMessage>& messages) {
  std::string out;
  for (const auto& m : messages) append_frame(out, m);
  return out;
}

std::vector<std::string> serialized(const std::vector<v1::DeviceMessage>& messages) {
  std::vector<std::string> out;
  for (const auto& m : messages) out.push_back(m.SerializeAsString());
  return out;
}

// Appends every complete frame to `out`; fails the test on a bad frame.
void drain(frame_decoder& decoder, std::vector<std::string>& out) {
  v1::DeviceMessage message;
  for (;;) {
    const auto f = decoder.next(message);
    if (f.status == decode_status::need_more) return;
    ASSERT_EQ(f.status, decode_status::ok) << describe(f.error);
    out.push_back(message.SerializeAsString());
  }
}

// A frame with a raw prefix and payload, for inputs append_frame would never write.
std::string raw_frame(std::uint64_t length, const std::string& payload) {
  std::string out;
  append_varint(out, length);
  return out + payload;
}

TEST(FrameDecoder, DecodesAWholeStreamInOrder) {
  const auto messages = conversation();
  frame_decoder decoder;
  decoder.feed(as_bytes(encode(messages)));
  std::vector<std::string> got;
  drain(decoder, got);
  EXPECT_EQ(got, serialized(messages));
  EXPECT_EQ(decoder.buffered(), 0U);
  EXPECT_EQ(decoder.finish(), frame_error::none);
}

TEST(FrameDecoder, StreamSplitAtEveryByteBoundaryDecodesIdentically) {
  const auto messages = conversation();
  const std::string stream = encode(messages);
  const auto expected = serialized(messages);
  for (std::size_t k = 0; k <= stream.size(); ++k) {
    SCOPED_TRACE("split at byte " + std::to_string(k));
    frame_decoder decoder;
    std::vector<std::string> got;
    decoder.feed(as_bytes(stream.substr(0, k)));
    drain(decoder, got);
    decoder.feed(as_bytes(stream.substr(k)));
    drain(decoder, got);
    EXPECT_EQ(got, expected);
    EXPECT_EQ(decoder.finish(), frame_error::none);
  }
}

TEST(FrameDecoder, StreamFedOneByteAtATimeDecodesIdentically) {
  const auto messages = conversation();
  const std::string stream = encode(messages);
  frame_decoder decoder;
  std::vector<std::string> got;
  for (const char c : stream) {
    const auto byte = static_cast<std::uint8_t>(c);
    decoder.feed(std::span(&byte, 1));
    drain(decoder, got);
  }
  EXPECT_EQ(got, serialized(messages));
  EXPECT_EQ(decoder.finish(), frame_error::none);
}

TEST(FrameDecoder, EmptyFeedIsHarmless) {
  // A fresh decoder has no buffer yet: an empty copy into it must not touch memory.
  frame_decoder decoder;
  decoder.feed({});
  EXPECT_EQ(decoder.buffered(), 0U);
  EXPECT_EQ(decoder.next().status, decode_status::need_more);
  EXPECT_EQ(decoder.finish(), frame_error::none);
}

TEST(FrameDecoder, PrepareAndCommitWorkLikeFeed) {
  const auto messages = conversation();
  const std::string stream = encode(messages);
  frame_decoder decoder;
  std::vector<std::string> got;
  // Odd read sizes, as a socket might return.
  for (std::size_t at = 0; at < stream.size();) {
    const std::size_t n = std::min<std::size_t>(7, stream.size() - at);
    auto space = decoder.prepare(n);
    ASSERT_GE(space.size(), n);
    std::copy_n(stream.data() + at, n, reinterpret_cast<char*>(space.data()));
    decoder.commit(n);
    at += n;
    drain(decoder, got);
  }
  EXPECT_EQ(got, serialized(messages));
}

TEST(FrameDecoder, StreamEndingInsideALengthPrefixIsATruncatedVarint) {
  frame_decoder decoder;
  std::string stream = encode({ping_message(1)});
  stream.push_back(static_cast<char>(0x80));  // continuation bit set, and then nothing
  decoder.feed(as_bytes(stream));
  v1::DeviceMessage message;
  EXPECT_EQ(decoder.next(message).status, decode_status::ok);
  EXPECT_EQ(decoder.next(message).status, decode_status::need_more);
  EXPECT_EQ(decoder.finish(), frame_error::truncated_varint);
}

TEST(FrameDecoder, NineContinuationBytesStillNeedMore) {
  frame_decoder decoder;
  decoder.feed(bytes(9, 0x80));
  EXPECT_EQ(decoder.next().status, decode_status::need_more);
  EXPECT_EQ(decoder.finish(), frame_error::truncated_varint);
}

TEST(FrameDecoder, VarintLongerThanTenBytesIsMalformed) {
  frame_decoder decoder;
  decoder.feed(bytes(11, 0xff));
  const auto f = decoder.next();
  EXPECT_EQ(f.status, decode_status::bad);
  EXPECT_EQ(f.error, frame_error::malformed_varint);
}

TEST(ReadHeader, RejectsVarintsThatDoNotFitSixtyFourBits) {
  const std::size_t no_cap = std::numeric_limits<std::size_t>::max();
  // Ten continuation bytes: an eleventh would be needed.
  EXPECT_EQ(read_header(bytes(10, 0x80), no_cap).error, frame_error::malformed_varint);
  // The tenth byte may carry only bit 63; 0x02 there is bit 64.
  bytes above_64_bits(9, 0xff);
  above_64_bits.push_back(0x02);
  EXPECT_EQ(read_header(above_64_bits, no_cap).error, frame_error::malformed_varint);
}

TEST(FrameDecoder, LengthAtTheCapIsAcceptedAndOneMoreIsTooLarge) {
  constexpr std::size_t cap = 300;  // two-byte prefix, so the cap is not a one-byte special case
  {
    frame_decoder decoder(cap);
    decoder.feed(as_bytes(raw_frame(cap, std::string(cap, 'x'))));
    const auto f = decoder.next();
    ASSERT_EQ(f.status, decode_status::ok) << describe(f.error);
    EXPECT_EQ(f.payload.size(), cap);
  }
  {
    frame_decoder decoder(cap);
    // Only the prefix: the decoder must refuse before buffering the payload.
    decoder.feed(as_bytes(raw_frame(cap + 1, "")));
    const auto f = decoder.next();
    EXPECT_EQ(f.status, decode_status::bad);
    EXPECT_EQ(f.error, frame_error::frame_too_large);
  }
}

TEST(ReadHeader, ChecksTheCapItIsGiven) {
  std::string prefix;
  append_varint(prefix, 1000);
  const auto at_cap = read_header(as_bytes(prefix), 1000);
  EXPECT_EQ(at_cap.status, decode_status::ok);
  EXPECT_EQ(at_cap.header_bytes, 2U);
  EXPECT_EQ(at_cap.payload_bytes, 1000U);
  EXPECT_EQ(read_header(as_bytes(prefix), 999).error, frame_error::frame_too_large);
}

TEST(FrameDecoder, CapIsClampedToTheHardMaximum) {
  EXPECT_EQ(frame_decoder(std::numeric_limits<std::size_t>::max()).max_frame_bytes(), hard_max_frame_bytes);
  EXPECT_EQ(frame_decoder().max_frame_bytes(), default_max_frame_bytes);
  frame_decoder decoder(std::numeric_limits<std::size_t>::max());
  decoder.feed(as_bytes(raw_frame(hard_max_frame_bytes + 1, "")));
  EXPECT_EQ(decoder.next().error, frame_error::frame_too_large);
}

TEST(FrameDecoder, GarbagePayloadIsUnparsable) {
  // 0x0f: field 1 with wire type 7, which does not exist.
  // 0x12 0x05 0x08: field 2 (batch), length 5, but only one byte follows.
  for (const std::string& payload : {std::string("\x0f"), std::string("\x12\x05\x08", 3)}) {
    SCOPED_TRACE(testing::PrintToString(payload));
    frame_decoder decoder;
    decoder.feed(as_bytes(raw_frame(payload.size(), payload)));
    v1::DeviceMessage message;
    const auto f = decoder.next(message);
    EXPECT_EQ(f.status, decode_status::bad);
    EXPECT_EQ(f.error, frame_error::unparsable_message);
  }
}

TEST(FrameDecoder, FramingDoesNotLookInsideThePayload) {
  // The untyped next() only splits frames; parsing is the typed overload's job.
  frame_decoder decoder;
  decoder.feed(as_bytes(raw_frame(1, "\x0f")));
  const auto f = decoder.next();
  ASSERT_EQ(f.status, decode_status::ok);
  ASSERT_EQ(f.payload.size(), 1U);
  EXPECT_EQ(f.payload[0], 0x0f);
}

TEST(FrameDecoder, ZeroLengthFrameIsEmpty) {
  frame_decoder decoder;
  decoder.feed(bytes{0x00});
  const auto f = decoder.next();
  EXPECT_EQ(f.status, decode_status::bad);
  EXPECT_EQ(f.error, frame_error::empty_frame);
}

TEST(FrameDecoder, StreamEndingInsideAPayloadIsATruncatedFrame) {
  frame_decoder decoder;
  std::string stream = encode({ping_message(7)});
  const std::string next_frame = encode({batch_message(9, 4)});
  stream += next_frame.substr(0, next_frame.size() - 3);
  decoder.feed(as_bytes(stream));
  v1::DeviceMessage message;
  EXPECT_EQ(decoder.next(message).status, decode_status::ok);
  EXPECT_EQ(decoder.next(message).status, decode_status::need_more);
  EXPECT_EQ(decoder.finish(), frame_error::truncated_frame);
}

TEST(FrameDecoder, StaysBadAfterTheFirstError) {
  frame_decoder decoder;
  decoder.feed(bytes{0x00});
  ASSERT_EQ(decoder.next().error, frame_error::empty_frame);
  // Valid frames afterwards cannot resynchronise the stream.
  decoder.feed(as_bytes(encode(conversation())));
  v1::DeviceMessage message;
  for (int i = 0; i < 3; ++i) {
    const auto f = decoder.next(message);
    EXPECT_EQ(f.status, decode_status::bad);
    EXPECT_EQ(f.error, frame_error::empty_frame);
    EXPECT_TRUE(f.payload.empty());
  }
  EXPECT_EQ(decoder.finish(), frame_error::empty_frame);
}

TEST(FrameDecoder, UnparsableMessageIsStickyToo) {
  frame_decoder decoder;
  decoder.feed(as_bytes(raw_frame(1, "\x0f") + encode({ping_message(3)})));
  v1::DeviceMessage message;
  ASSERT_EQ(decoder.next(message).error, frame_error::unparsable_message);
  EXPECT_EQ(decoder.next(message).error, frame_error::unparsable_message);
  EXPECT_EQ(decoder.next().error, frame_error::unparsable_message);
  EXPECT_EQ(decoder.finish(), frame_error::unparsable_message);
}

TEST(Interop, ProtobufReadsFramesWrittenByAppendFrame) {
  const auto messages = conversation();
  const std::string stream = encode(messages);
  google::protobuf::io::ArrayInputStream input(stream.data(), static_cast<int>(stream.size()));
  std::vector<std::string> got;
  for (;;) {
    v1::DeviceMessage message;
    bool clean_eof = false;
    if (!google::protobuf::util::ParseDelimitedFromZeroCopyStream(&message, &input, &clean_eof)) {
      EXPECT_TRUE(clean_eof) << "protobuf stopped before the end of the stream";
      break;
    }
    got.push_back(message.SerializeAsString());
  }
  EXPECT_EQ(got, serialized(messages));
}

TEST(Interop, DecoderReadsFramesWrittenByProtobufToOstream) {
  const auto messages = conversation();
  std::ostringstream out;
  for (const auto& m : messages) ASSERT_TRUE(google::protobuf::util::SerializeDelimitedToOstream(m, &out));
  frame_decoder decoder;
  decoder.feed(as_bytes(out.str()));
  std::vector<std::string> got;
  drain(decoder, got);
  EXPECT_EQ(got, serialized(messages));
  EXPECT_EQ(decoder.finish(), frame_error::none);
}

TEST(Interop, DecoderReadsFramesWrittenByProtobufToZeroCopyStream) {
  const auto messages = conversation();
  std::string stream;
  {
    google::protobuf::io::StringOutputStream output(&stream);
    for (const auto& m : messages) {
      ASSERT_TRUE(google::protobuf::util::SerializeDelimitedToZeroCopyStream(m, &output));
    }
  }  // the stream trims its unused buffer when destroyed
  frame_decoder decoder;
  decoder.feed(as_bytes(stream));
  std::vector<std::string> got;
  drain(decoder, got);
  EXPECT_EQ(got, serialized(messages));
  EXPECT_EQ(decoder.finish(), frame_error::none);
}

TEST(AppendVarint, EdgeValuesHaveTheirStandardEncoding) {
  struct edge {
    std::uint64_t value;
    bytes encoded;
  };
  const edge edges[] = {
      {0, {0x00}},
      {1, {0x01}},
      {127, {0x7f}},
      {128, {0x80, 0x01}},
      {300, {0xac, 0x02}},
      {16'383, {0xff, 0x7f}},
      {16'384, {0x80, 0x80, 0x01}},
      {std::numeric_limits<std::uint64_t>::max(), {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}},
  };
  for (const auto& e : edges) {
    SCOPED_TRACE(e.value);
    std::string out = "prefix";  // append, not overwrite
    append_varint(out, e.value);
    ASSERT_EQ(out.substr(0, 6), "prefix");
    const auto written = as_bytes(out).subspan(6);
    EXPECT_EQ(bytes(written.begin(), written.end()), e.encoded);

    // Protobuf's own reader agrees.
    google::protobuf::io::CodedInputStream in(written.data(), static_cast<int>(written.size()));
    std::uint64_t decoded = 0;
    ASSERT_TRUE(in.ReadVarint64(&decoded));
    EXPECT_EQ(decoded, e.value);
  }
}

TEST(AppendVarint, RoundTripsThroughReadHeader) {
  const std::size_t no_cap = std::numeric_limits<std::size_t>::max();
  for (const std::uint64_t value : {std::uint64_t{1}, std::uint64_t{127}, std::uint64_t{128}, std::uint64_t{1} << 32,
                                    std::numeric_limits<std::uint64_t>::max()}) {
    SCOPED_TRACE(value);
    std::string out;
    append_varint(out, value);
    const auto header = read_header(as_bytes(out), no_cap);
    ASSERT_EQ(header.status, decode_status::ok) << describe(header.error);
    EXPECT_EQ(header.header_bytes, out.size());
    EXPECT_EQ(header.payload_bytes, value);
  }
  // Zero encodes fine but announces an empty frame, which the reader refuses.
  std::string zero;
  append_varint(zero, 0);
  EXPECT_EQ(read_header(as_bytes(zero), no_cap).error, frame_error::empty_frame);
}

TEST(ReadHeader, PartialPrefixNeedsMore) {
  std::string out;
  append_varint(out, 1'000'000);  // three bytes
  ASSERT_EQ(out.size(), 3U);
  for (std::size_t n = 0; n < out.size(); ++n) {
    const auto header = read_header(as_bytes(out).first(n), default_max_frame_bytes);
    EXPECT_EQ(header.status, decode_status::need_more) << n << " bytes";
  }
}

TEST(Describe, GivesADistinctTextForEachError) {
  const frame_error errors[] = {frame_error::none,
                                frame_error::malformed_varint,
                                frame_error::frame_too_large,
                                frame_error::empty_frame,
                                frame_error::truncated_varint,
                                frame_error::truncated_frame,
                                frame_error::unparsable_message};
  std::set<std::string_view> texts;
  for (const auto e : errors) {
    const auto text = describe(e);
    EXPECT_FALSE(text.empty()) << static_cast<int>(e);
    EXPECT_TRUE(texts.insert(text).second) << "duplicate text: " << text;
  }
}

TEST(FrameDecoder, BufferStaysBoundedOverALongStream) {
  constexpr std::size_t chunk = 16 * 1024;
  // Frames of several sizes so that chunk edges land everywhere inside them.
  std::vector<v1::DeviceMessage> messages;
  for (std::uint64_t seq = 1; seq <= 600; ++seq) messages.push_back(batch_message(seq, static_cast<int>(seq % 97)));
  const std::string stream = encode(messages);
  std::size_t largest_frame = 0;
  for (const auto& m : messages) largest_frame = std::max(largest_frame, m.ByteSizeLong() + max_varint_bytes);
  ASSERT_GT(stream.size(), 20 * chunk) << "the stream must span many chunks for the bound to mean anything";

  frame_decoder decoder;
  std::vector<std::string> got;
  for (std::size_t at = 0; at < stream.size();) {
    auto space = decoder.prepare(chunk);
    // What prepare() hands out is the buffer's free tail, so this bounds the allocation.
    EXPECT_LE(space.size() + decoder.buffered(), largest_frame + chunk);
    const std::size_t n = std::min(chunk, stream.size() - at);
    std::copy_n(stream.data() + at, n, reinterpret_cast<char*>(space.data()));
    decoder.commit(n);
    at += n;
    EXPECT_LE(decoder.buffered(), largest_frame + chunk);
    drain(decoder, got);
    EXPECT_LT(decoder.buffered(), largest_frame);
  }
  EXPECT_EQ(got, serialized(messages));
  EXPECT_EQ(decoder.finish(), frame_error::none);
  // Fully drained, prepare() hands out the whole buffer: this is the memory the decoder kept.
  EXPECT_LE(decoder.prepare(1).size(), largest_frame + chunk);
}

}  // namespace
}  // namespace vigil::codec
