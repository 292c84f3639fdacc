// Loopback ingest rate: vigild in-process on one thread, N simulated monitors on
// another, each sending its samples in batches as fast as the daemon acks them.
// The figure counts samples acked per second of wall time, load generator included.
//
//   ingest_load [--connections N] [--samples-per-connection S] [--batch B] [--in-flight W]
//               [--data-dir DIR | --postgres URL]
//
// With --data-dir, acks wait for the timeline store's commit (synchronous=FULL): durable ingest.
// With --postgres, the same on a PostgreSQL database (synchronous_commit=on); the database must
// exist and hold no other vigild's timeline (scripts/postgres-scratch.sh makes one).

#include "daemon/app/daemon.hpp"
#include "sim/device_client.hpp"

#include <CLI/CLI.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <fmt/format.h>

#include <chrono>
#include <thread>

namespace asio = boost::asio;

int main(int argc, char** argv) {
  int connections = 64;
  std::uint64_t per_connection = 200'000;
  int batch_size = 64;
  std::size_t in_flight = 64;
  std::string data_dir;
  std::string postgres;
  CLI::App cli{"ingest_load: loopback ingest throughput of vigild"};
  cli.add_option("--connections", connections, "Device connections")->capture_default_str();
  cli.add_option("--samples-per-connection", per_connection, "Samples each device sends")->capture_default_str();
  cli.add_option("--batch", batch_size, "Samples per batch")->capture_default_str();
  cli.add_option("--in-flight", in_flight, "Unacked batches per connection")->capture_default_str();
  auto* dir_option =
      cli.add_option("--data-dir", data_dir, "Store the timeline here and ack only after commit (durable ingest)");
  cli.add_option("--postgres", postgres, "Store the timeline in this PostgreSQL database (a postgresql:// URL)")
      ->excludes(dir_option);
  CLI11_PARSE(cli, argc, argv);

  vigil::config::daemon_config config;
  config.ingest.port = 0;
  config.ingest.devices = {{"load-*", "load-test-token", ""}};
  config.ingest.max_connections = static_cast<std::size_t>(connections) + 16;
  // Every device connects from loopback at once: room for all of them to say Hello together.
  config.ingest.max_unauthenticated = config.ingest.max_connections;
  config.ingest.max_unauthenticated_per_peer = config.ingest.max_connections;
  config.log.level = "warn";
  config.data_dir = data_dir;
  if (!postgres.empty()) {
    config.store.backend = "postgres";
    config.store.url = postgres;
  }
  vigil::log::configure(config.log);
  vigil::app::daemon daemon(config, {false, nullptr, {}});
  daemon.start();
  std::thread daemon_thread([&] { daemon.run(); });

  // One pre-built batch body per connection; the client stamps each with its seq.
  google::protobuf::RepeatedPtrField<vigil::v1::Sample> batch;
  for (int i = 0; i < batch_size; ++i) {
    auto& s = *batch.Add();
    s.set_kind(static_cast<vigil::v1::VitalKind>(1 + i % 4));
    s.set_value(70 + i % 20);
    // Timestamps near now, as a live monitor's: the daemon warns about monitor clocks far off its own.
    s.set_time_ms(std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
                      .count() +
                  i * 250);
  }
  const std::uint64_t batches = (per_connection + static_cast<std::uint64_t>(batch_size) - 1) / static_cast<std::uint64_t>(batch_size);

  asio::io_context io(1);
  std::vector<std::unique_ptr<vigil::sim::device_client>> clients;
  for (int c = 0; c < connections; ++c) {
    vigil::sim::device_client::options o;
    o.port = daemon.ingest_port();
    o.device_id = fmt::format("load-{}", c);
    o.chair_id = fmt::format("chair-{}", c);
    o.token = "load-test-token";
    o.max_in_flight = in_flight;
    o.max_queued = in_flight * 2;
    clients.push_back(std::make_unique<vigil::sim::device_client>(io.get_executor(), o));
  }
  const auto start = std::chrono::steady_clock::now();
  for (auto& client : clients) {
    asio::co_spawn(io, client->run(), asio::detached);
    asio::co_spawn(
        io,
        [&client = *client, &batch, batches]() -> asio::awaitable<void> {
          for (std::uint64_t b = 0; b < batches; ++b) {
            co_await client.wait_for_room();
            client.push(batch);
          }
          co_await client.drain();
          client.stop();
        },
        asio::detached);
  }
  io.run();
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  std::uint64_t acked_samples = 0;
  for (const auto& client : clients) acked_samples += client->acked_seq() * static_cast<std::uint64_t>(batch_size);
  const auto& stats = daemon.ingest_stats();
  daemon.stop();
  daemon_thread.join();

  const char* store = !postgres.empty() ? "postgres" : !data_dir.empty() ? "sqlite" : "none";
  fmt::print("durable={} store={} connections={} batch={} in_flight={} samples_acked={} seconds={:.3f} "
             "samples_per_second={:.0f} daemon_samples_accepted={}\n",
             store != std::string_view("none"), store, connections, batch_size, in_flight, acked_samples, seconds,
             static_cast<double>(acked_samples) / seconds, stats.samples_accepted.load());
  return acked_samples == batches * static_cast<std::uint64_t>(batch_size) * static_cast<std::uint64_t>(connections) ? 0 : 1;
}
