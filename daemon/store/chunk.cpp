#include "daemon/store/chunk.hpp"

#include <cstring>

namespace vigil::store {
namespace {

void append_varint(std::string& out, std::uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}

bool read_varint(std::string_view& in, std::uint64_t& v) {
  v = 0;
  for (int shift = 0; shift < 64 && !in.empty(); shift += 7) {
    const auto byte = static_cast<std::uint8_t>(in.front());
    in.remove_prefix(1);
    v |= static_cast<std::uint64_t>(byte & 0x7f) << shift;
    if ((byte & 0x80) == 0) return true;
  }
  return false;
}

}  // namespace

std::string pack_chunk(std::span<const model::vital_sample> samples) {
  std::string out;
  out.reserve(samples.size() * 11);
  std::int64_t previous = samples.empty() ? 0 : samples.front().time_ms;
  for (const auto& s : samples) {
    const std::int64_t delta = s.time_ms - previous;
    previous = s.time_ms;
    append_varint(out, (static_cast<std::uint64_t>(delta) << 1) ^ static_cast<std::uint64_t>(delta >> 63));
    char raw[8];
    std::memcpy(raw, &s.value, sizeof raw);
    out.append(raw, sizeof raw);
    append_varint(out, s.quality);
  }
  return out;
}

bool unpack_chunk(std::string_view data, model::vital_kind kind, std::int64_t first_ms,
                  std::vector<model::vital_sample>& out) {
  std::int64_t time = first_ms;
  while (!data.empty()) {
    std::uint64_t zigzag = 0;
    std::uint64_t quality = 0;
    if (!read_varint(data, zigzag) || data.size() < 8) return false;
    time += static_cast<std::int64_t>((zigzag >> 1) ^ (~(zigzag & 1) + 1));
    model::vital_sample s;
    std::memcpy(&s.value, data.data(), 8);
    data.remove_prefix(8);
    if (!read_varint(data, quality)) return false;
    s.time_ms = time;
    s.kind = kind;
    s.quality = static_cast<std::uint32_t>(quality);
    out.push_back(s);
  }
  return true;
}

}  // namespace vigil::store
