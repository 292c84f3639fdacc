// Timeline store throughput: samples per second committed with synchronous=FULL, against
// the raw SQLite rate of one row per sample with the same commits.
//
//   store_bench [--dir DIR] [--devices N] [--batches-per-device B] [--batch S]
//
// The store figure runs from the first append to the last commit completion, on this
// process's own writer thread; the raw figure inserts the same samples, one row each, into a
// plain table with a prepared statement, committing as often as the store did.

#include "daemon/store/sqlite_timeline.hpp"

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <sqlite3.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <mutex>

namespace {

using clock_type = std::chrono::steady_clock;

double seconds_since(clock_type::time_point start) {
  return std::chrono::duration<double>(clock_type::now() - start).count();
}

}  // namespace

int main(int argc, char** argv) {
  std::string dir = std::filesystem::temp_directory_path().string();
  int devices = 64;
  int batches = 250;
  int batch_size = 64;
  CLI::App cli{"store_bench: timeline store commit throughput"};
  cli.add_option("--dir", dir, "Directory for the scratch databases (use the disk you mean to measure)")->capture_default_str();
  cli.add_option("--devices", devices, "Devices")->capture_default_str();
  cli.add_option("--batches-per-device", batches, "Batches each device sends")->capture_default_str();
  cli.add_option("--batch", batch_size, "Samples per batch")->capture_default_str();
  CLI11_PARSE(cli, argc, argv);

  const auto base = std::filesystem::path(dir) / ("vigil-store-bench-" + std::to_string(getpid()));
  std::filesystem::create_directories(base);

  // One pre-built batch per device: 1 Hz vitals, four kinds.
  std::vector<std::vector<vigil::model::vital_sample>> per_device(static_cast<std::size_t>(devices));
  for (auto& samples : per_device) {
    for (int i = 0; i < batch_size; ++i) {
      samples.push_back({1'760'000'000'000 + (i / 4) * 1000, 60.0 + i % 30,
                         static_cast<vigil::model::vital_kind>(1 + i % 4), 0});
    }
  }
  const std::uint64_t total = static_cast<std::uint64_t>(devices) * static_cast<std::uint64_t>(batches) *
                              static_cast<std::uint64_t>(batch_size);

  double store_seconds = 0;
  double samples_per_transaction = 0;
  {
    vigil::store::sqlite_timeline store({(base / "timeline.db").string()});
    std::mutex m;
    std::condition_variable cv;
    std::uint64_t committed = 0;
    const auto start = clock_type::now();
    for (int b = 1; b <= batches; ++b) {
      for (int d = 0; d < devices; ++d) {
        store.append_batch(fmt::format("dev-{}", d), fmt::format("chair-{}", d), static_cast<std::uint64_t>(d + 1),
                           static_cast<std::uint64_t>(b), per_device[static_cast<std::size_t>(d)], [&](bool ok) {
                             std::lock_guard lock(m);
                             if (ok) committed += static_cast<std::uint64_t>(batch_size);
                             cv.notify_one();
                           });
      }
    }
    {
      std::unique_lock lock(m);
      cv.wait(lock, [&] { return committed == total; });
    }
    store_seconds = seconds_since(start);
    const auto stats = store.stats();
    samples_per_transaction = static_cast<double>(stats.samples) / static_cast<double>(stats.transactions);
    fmt::print("store: samples={} seconds={:.3f} samples_per_second={:.0f} transactions={} samples_per_transaction={:.0f}\n",
               total, store_seconds, static_cast<double>(total) / store_seconds, stats.transactions,
               samples_per_transaction);
  }

  {
    sqlite3* db = nullptr;
    sqlite3_open((base / "raw.db").string().c_str(), &db);
    sqlite3_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
                     "CREATE TABLE samples(chair TEXT, kind INTEGER, time_ms INTEGER, value REAL, quality INTEGER)",
                 nullptr, nullptr, nullptr);
    sqlite3_stmt* insert = nullptr;
    sqlite3_prepare_v2(db, "INSERT INTO samples VALUES(?, ?, ?, ?, ?)", -1, &insert, nullptr);
    const auto commit_every = static_cast<std::uint64_t>(std::max(1.0, samples_per_transaction));
    std::uint64_t in_transaction = 0;
    const auto start = clock_type::now();
    sqlite3_exec(db, "BEGIN", nullptr, nullptr, nullptr);
    for (int b = 1; b <= batches; ++b) {
      for (int d = 0; d < devices; ++d) {
        const std::string chair = fmt::format("chair-{}", d);
        for (const auto& s : per_device[static_cast<std::size_t>(d)]) {
          sqlite3_bind_text(insert, 1, chair.c_str(), -1, SQLITE_STATIC);
          sqlite3_bind_int(insert, 2, static_cast<int>(s.kind));
          sqlite3_bind_int64(insert, 3, s.time_ms);
          sqlite3_bind_double(insert, 4, s.value);
          sqlite3_bind_int(insert, 5, static_cast<int>(s.quality));
          sqlite3_step(insert);
          sqlite3_reset(insert);
          if (++in_transaction == commit_every) {
            sqlite3_exec(db, "COMMIT; BEGIN", nullptr, nullptr, nullptr);
            in_transaction = 0;
          }
        }
      }
    }
    sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr);
    const double raw_seconds = seconds_since(start);
    sqlite3_finalize(insert);
    sqlite3_close(db);
    fmt::print("raw sqlite, one row per sample, commit every {} rows: samples={} seconds={:.3f} samples_per_second={:.0f}\n",
               commit_every, total, raw_seconds, static_cast<double>(total) / raw_seconds);
  }
  {
    // Reading a whole two-hour session back: four vitals at 1 Hz, one batch a second, committed
    // in small groups as a live clinic would (so the session spans many chunks).
    vigil::store::sqlite_timeline store({(base / "session.db").string()});
    const std::int64_t start_ms = 1'760'000'000'000;
    for (int second = 0; second < 7200; ++second) {
      std::vector<vigil::model::vital_sample> batch;
      for (int k = 1; k <= 4; ++k) {
        batch.push_back({start_ms + second * 1000, 60.0 + second % 30, static_cast<vigil::model::vital_kind>(k), 0});
      }
      store.append_batch("dev-s", "chair-s", 42, static_cast<std::uint64_t>(second + 1), batch, nullptr);
      if (second % 10 == 9) store.flush();
    }
    store.flush();
    double best = 1e9;
    std::size_t samples = 0;
    for (int run = 0; run < 5; ++run) {
      const auto start = clock_type::now();
      samples = store.open_reader()->session_vitals(42).size();
      best = std::min(best, seconds_since(start));
    }
    fmt::print("read back a two-hour session: samples={} chunks~{} best_of_5_ms={:.1f}\n", samples,
               store.stats().transactions * 4, best * 1000);
  }
  std::filesystem::remove_all(base);
  return 0;
}
