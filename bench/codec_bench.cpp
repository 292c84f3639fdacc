// Decode rate of the device protocol: framing plus protobuf parsing of sample batches,
// and the same with each sample checked as ingest does. Reported in samples per second.

#include "daemon/codec/frame.hpp"
#include "daemon/ingest/validate.hpp"
#include "vigil/v1/device.pb.h"

#include <benchmark/benchmark.h>

#include <random>

namespace {

/// A stream of `batches` frames of `per_batch` samples with realistic values and times.
std::string make_stream(int batches, int per_batch) {
  std::mt19937 rng(7);
  std::normal_distribution<double> noise(0, 2);
  std::string stream;
  vigil::v1::DeviceMessage message;
  std::int64_t t = 1'760'000'000'000;
  for (int b = 1; b <= batches; ++b) {
    auto& batch = *message.mutable_batch();
    batch.Clear();
    batch.set_seq(static_cast<std::uint64_t>(b));
    for (int i = 0; i < per_batch; ++i) {
      auto& s = *batch.add_samples();
      const int kind = 1 + i % 4;
      s.set_kind(static_cast<vigil::v1::VitalKind>(kind));
      s.set_value(std::round((kind == 3 ? 97 : 75) + noise(rng)));
      s.set_time_ms(t);
      if (kind == 4) t += 1000;
    }
    vigil::codec::append_frame(stream, message);
  }
  return stream;
}

constexpr int batches_per_stream = 1024;

void feed_in_chunks(vigil::codec::frame_decoder& decoder, const std::string& stream, std::size_t& offset) {
  // Socket-sized reads, as the ingest session does.
  const std::size_t n = std::min<std::size_t>(16 * 1024, stream.size() - offset);
  auto space = decoder.prepare(n);
  std::memcpy(space.data(), stream.data() + offset, n);
  decoder.commit(n);
  offset += n;
}

void BM_DecodeBatches(benchmark::State& state) {
  const int per_batch = static_cast<int>(state.range(0));
  const std::string stream = make_stream(batches_per_stream, per_batch);
  vigil::v1::DeviceMessage message;
  std::int64_t samples = 0;
  for (auto _ : state) {
    vigil::codec::frame_decoder decoder;
    std::size_t offset = 0;
    while (offset < stream.size()) {
      feed_in_chunks(decoder, stream, offset);
      while (decoder.next(message).status == vigil::codec::decode_status::ok) {
        samples += message.batch().samples_size();
      }
    }
    benchmark::DoNotOptimize(message);
  }
  state.SetItemsProcessed(samples);
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * static_cast<std::int64_t>(stream.size()));
}
BENCHMARK(BM_DecodeBatches)->Arg(16)->Arg(64)->Arg(256);

void BM_DecodeAndCheckBatches(benchmark::State& state) {
  const int per_batch = static_cast<int>(state.range(0));
  const std::string stream = make_stream(batches_per_stream, per_batch);
  vigil::v1::DeviceMessage message;
  std::vector<vigil::model::vital_sample> accepted;
  std::int64_t samples = 0;
  for (auto _ : state) {
    vigil::codec::frame_decoder decoder;
    std::size_t offset = 0;
    while (offset < stream.size()) {
      feed_in_chunks(decoder, stream, offset);
      while (decoder.next(message).status == vigil::codec::decode_status::ok) {
        accepted.clear();
        for (const auto& s : message.batch().samples()) {
          const auto check = vigil::ingest::check_sample(s);
          if (check.outcome != vigil::ingest::verdict::rejected) accepted.push_back(check.sample);
        }
        samples += static_cast<std::int64_t>(accepted.size());
      }
    }
    benchmark::DoNotOptimize(accepted.data());
  }
  state.SetItemsProcessed(samples);
}
BENCHMARK(BM_DecodeAndCheckBatches)->Arg(64);

}  // namespace

BENCHMARK_MAIN();
