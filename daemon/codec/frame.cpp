#include "daemon/codec/frame.hpp"

#include <google/protobuf/message_lite.h>

#include <algorithm>
#include <cstring>

namespace vigil::codec {

std::string_view describe(frame_error error) noexcept {
  switch (error) {
    case frame_error::none: return "no error";
    case frame_error::malformed_varint: return "malformed length prefix (varint longer than 10 bytes)";
    case frame_error::frame_too_large: return "frame larger than the frame size cap";
    case frame_error::empty_frame: return "empty frame (length prefix of zero)";
    case frame_error::truncated_varint: return "stream ended inside a length prefix";
    case frame_error::truncated_frame: return "stream ended inside a frame";
    case frame_error::unparsable_message: return "frame payload is not a valid protobuf message";
  }
  return "unknown error";
}

header_result read_header(std::span<const std::uint8_t> in, std::size_t max_frame_bytes) noexcept {
  std::uint64_t value = 0;
  const std::size_t limit = std::min(in.size(), max_varint_bytes);
  for (std::size_t i = 0; i < limit; ++i) {
    const std::uint64_t byte = in[i];
    // The tenth byte may only carry the 64th bit.
    if (i == max_varint_bytes - 1 && byte > 1) {
      return {decode_status::bad, frame_error::malformed_varint, 0, 0};
    }
    value |= (byte & 0x7f) << (7 * i);
    if ((byte & 0x80) == 0) {
      if (value == 0) return {decode_status::bad, frame_error::empty_frame, 0, 0};
      if (value > max_frame_bytes) return {decode_status::bad, frame_error::frame_too_large, 0, 0};
      return {decode_status::ok, frame_error::none, i + 1, static_cast<std::size_t>(value)};
    }
  }
  if (in.size() >= max_varint_bytes) return {decode_status::bad, frame_error::malformed_varint, 0, 0};
  return {};
}

frame_decoder::frame_decoder(std::size_t max_frame_bytes)
    : max_frame_bytes_(std::min(max_frame_bytes, hard_max_frame_bytes)) {}

std::span<std::uint8_t> frame_decoder::prepare(std::size_t min_bytes) {
  if (begin_ == end_) {
    begin_ = end_ = 0;
  }
  if (buffer_.size() - end_ < min_bytes) {
    // Move the partial frame to the front before growing: the buffer stays
    // bounded by one frame plus one read.
    if (begin_ > 0) {
      std::memmove(buffer_.data(), buffer_.data() + begin_, end_ - begin_);
      end_ -= begin_;
      begin_ = 0;
    }
    if (buffer_.size() - end_ < min_bytes) buffer_.resize(end_ + min_bytes);
  }
  return {buffer_.data() + end_, buffer_.size() - end_};
}

void frame_decoder::commit(std::size_t n) noexcept { end_ += std::min(n, buffer_.size() - end_); }

void frame_decoder::feed(std::span<const std::uint8_t> bytes) {
  if (bytes.empty()) return;  // memcpy may not be given the null data of an empty buffer
  auto space = prepare(bytes.size());
  std::memcpy(space.data(), bytes.data(), bytes.size());
  commit(bytes.size());
}

frame_decoder::frame frame_decoder::next() noexcept {
  if (error_ != frame_error::none) return {decode_status::bad, error_, {}};
  const std::span<const std::uint8_t> pending{buffer_.data() + begin_, end_ - begin_};
  const header_result header = read_header(pending, max_frame_bytes_);
  if (header.status == decode_status::bad) {
    error_ = header.error;
    return {decode_status::bad, error_, {}};
  }
  if (header.status == decode_status::need_more) return {};
  const std::size_t total = header.header_bytes + header.payload_bytes;
  if (pending.size() < total) return {};
  begin_ += total;
  return {decode_status::ok, frame_error::none, pending.subspan(header.header_bytes, header.payload_bytes)};
}

frame_decoder::frame frame_decoder::next(google::protobuf::MessageLite& message) noexcept {
  frame f = next();
  if (f.status != decode_status::ok) return f;
  if (!message.ParseFromArray(f.payload.data(), static_cast<int>(f.payload.size()))) {
    error_ = frame_error::unparsable_message;
    return {decode_status::bad, error_, {}};
  }
  return f;
}

frame_error frame_decoder::finish() const noexcept {
  if (error_ != frame_error::none) return error_;
  if (begin_ == end_) return frame_error::none;
  const header_result header = read_header({buffer_.data() + begin_, end_ - begin_}, max_frame_bytes_);
  return header.status == decode_status::need_more ? frame_error::truncated_varint : frame_error::truncated_frame;
}

void append_varint(std::string& out, std::uint64_t value) {
  while (value >= 0x80) {
    out.push_back(static_cast<char>((value & 0x7f) | 0x80));
    value >>= 7;
  }
  out.push_back(static_cast<char>(value));
}

void append_frame(std::string& out, const google::protobuf::MessageLite& message) {
  const std::size_t size = message.ByteSizeLong();
  append_varint(out, size);
  const std::size_t at = out.size();
  out.resize(at + size);
  message.SerializeWithCachedSizesToArray(reinterpret_cast<std::uint8_t*>(out.data() + at));
}

}  // namespace vigil::codec
