// The vitals chunk codec every backend stores samples with.

#include "daemon/store/chunk.hpp"

#include "tests/unit/store/story.hpp"

#include <gtest/gtest.h>

#include <cstring>
#include <limits>
#include <vector>

namespace vigil::store {
namespace {

using model::vital_kind;
using namespace story;

TEST(Chunk, RoundTripsTimesValuesAndQualityExactly) {
  std::vector<model::vital_sample> in = {
      {1'700'000'000'000, 97.3, vital_kind::spo2, 0},
      {1'700'000'000'999, 0.1, vital_kind::spo2, model::quality::artifact | model::quality::implausible},
      {1'699'999'990'000, 100, vital_kind::spo2, model::quality::sensor_off},  // backwards in time
      {1'699'999'990'000, -0.0, vital_kind::spo2, 0},
      {std::numeric_limits<std::int64_t>::max() / 4, 1e300, vital_kind::spo2, 0xffffffffu},
  };
  const std::string packed = pack_chunk(in);
  std::vector<model::vital_sample> out;
  ASSERT_TRUE(unpack_chunk(packed, vital_kind::spo2, in.front().time_ms, out));
  ASSERT_EQ(out.size(), in.size());
  for (std::size_t i = 0; i < in.size(); ++i) {
    EXPECT_EQ(out[i].time_ms, in[i].time_ms) << i;
    EXPECT_EQ(std::memcmp(&out[i].value, &in[i].value, sizeof(double)), 0) << i;
    EXPECT_EQ(out[i].quality, in[i].quality) << i;
    EXPECT_EQ(out[i].kind, vital_kind::spo2);
  }
  // About 11 bytes a sample for 1 Hz data: compact enough for the chunk to be the unit of storage.
  const auto second = pack_chunk(heart_rates(0, 600));
  EXPECT_LE(second.size(), 600u * 11u);
}

TEST(Chunk, CorruptDataIsRefusedNotMisread) {
  std::string packed = pack_chunk(heart_rates(0, 3));
  std::vector<model::vital_sample> out;
  EXPECT_FALSE(unpack_chunk(std::string_view(packed).substr(0, packed.size() - 5), vital_kind::heart_rate, 0, out));
  EXPECT_FALSE(unpack_chunk(std::string(12, '\xff'), vital_kind::heart_rate, 0, out));
}

}  // namespace
}  // namespace vigil::store
