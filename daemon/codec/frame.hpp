#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace google::protobuf {
class MessageLite;
}

namespace vigil::codec {

/// A 64-bit varint never needs more than ten bytes.
inline constexpr std::size_t max_varint_bytes = 10;
/// Default cap on one frame's payload; ingest.max_frame_bytes overrides it.
inline constexpr std::size_t default_max_frame_bytes = 64 * 1024;
/// No configuration may raise the cap above this.
inline constexpr std::size_t hard_max_frame_bytes = 16 * 1024 * 1024;

enum class decode_status : std::uint8_t { ok, need_more, bad };

/// Why a stream is bad. Each value maps to one wire error code.
enum class frame_error : std::uint8_t {
  none,
  malformed_varint,    // length prefix longer than ten bytes, or above 64 bits
  frame_too_large,     // length prefix above the frame cap
  empty_frame,         // length prefix of zero
  truncated_varint,    // stream ended inside a length prefix
  truncated_frame,     // stream ended inside a payload
  unparsable_message,  // payload is not a valid message of the expected type
};

/// A short, stable, human-readable reason for `error`.
std::string_view describe(frame_error error) noexcept;

struct header_result {
  decode_status status = decode_status::need_more;
  frame_error error = frame_error::none;
  std::size_t header_bytes = 0;   // bytes of the varint prefix, when ok
  std::size_t payload_bytes = 0;  // length it announces, when ok
};

/// Reads the varint length prefix at the start of `in` and checks it against the cap.
header_result read_header(std::span<const std::uint8_t> in, std::size_t max_frame_bytes) noexcept;

/// Incremental decoder of varint length-delimited frames over chunks of any size.
/// After the first bad frame it stays bad: a stream cannot be resynchronised.
class frame_decoder {
 public:
  struct frame {
    decode_status status = decode_status::need_more;
    frame_error error = frame_error::none;
    std::span<const std::uint8_t> payload;  // valid until the next non-const call
  };

  explicit frame_decoder(std::size_t max_frame_bytes = default_max_frame_bytes);

  /// Writable space of at least `min_bytes` for the next read; pair with commit().
  std::span<std::uint8_t> prepare(std::size_t min_bytes = 16 * 1024);
  /// Marks `n` bytes of the space from prepare() as filled.
  void commit(std::size_t n) noexcept;
  /// Copies `bytes` in; for sources that are not sockets.
  void feed(std::span<const std::uint8_t> bytes);

  /// The next complete frame, need_more, or the stream's error.
  frame next() noexcept;
  /// Decodes the next frame into `message`; unparsable payloads are bad.
  frame next(google::protobuf::MessageLite& message) noexcept;
  /// Called at end of stream: the error for a partial frame left over, if any.
  frame_error finish() const noexcept;

  std::size_t buffered() const noexcept { return end_ - begin_; }
  std::size_t max_frame_bytes() const noexcept { return max_frame_bytes_; }

 private:
  std::vector<std::uint8_t> buffer_;
  std::size_t begin_ = 0;
  std::size_t end_ = 0;
  std::size_t max_frame_bytes_;
  frame_error error_ = frame_error::none;
};

/// Appends `message` to `out` as one length-delimited frame.
void append_frame(std::string& out, const google::protobuf::MessageLite& message);
/// Appends `value` to `out` as a varint.
void append_varint(std::string& out, std::uint64_t value);

}  // namespace vigil::codec
