// vigil-sim: simulated bedside monitors streaming vital signs into vigild.

#include "sim/device_client.hpp"
#include "sim/vitals_generator.hpp"

#include <CLI/CLI.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <memory>
#include <optional>

#include <unistd.h>

namespace asio = boost::asio;
using namespace std::chrono_literals;

namespace {

struct run_options {
  std::string host = "127.0.0.1";
  std::uint16_t port = 7400;
  std::string ports_file;
  int devices = 4;
  std::string device_prefix = "sim-";
  std::string chair_prefix = "chair-";
  std::string token = "sim-device-token";
  double duration_s = 0;  // 0: until interrupted
  double speed = 1;       // 0: as fast as the daemon acks
  bool load = false;
  std::uint64_t load_samples = 100'000;
  int batch_size = 64;
  bool quiet = false;
  std::uint64_t seed = 1;
};

/// Reads "ingest: PORT" from a ports file written by vigild.
std::optional<std::uint16_t> read_ingest_port(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("ingest:", 0) == 0) return static_cast<std::uint16_t>(std::stoul(line.substr(7)));
  }
  return std::nullopt;
}

struct clinic {
  std::vector<std::unique_ptr<vigil::sim::device_client>> clients;
  std::vector<vigil::sim::vitals_generator> patients;
  std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();
  int producers_running = 0;
  bool stopping = false;
};

/// Feeds one monitor: in real or accelerated time, or as fast as acks allow in load mode.
asio::awaitable<void> feed(clinic& c, std::size_t index, const run_options& opts) {
  auto& client = *c.clients[index];
  auto& patient = c.patients[index];
  asio::steady_timer pace(co_await asio::this_coro::executor);
  google::protobuf::RepeatedPtrField<vigil::v1::Sample> batch;
  const auto sim_start_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                std::chrono::system_clock::now().time_since_epoch()).count();
  const std::int64_t total_ms = static_cast<std::int64_t>(opts.duration_s * 1000);
  std::uint64_t sent = 0;
  for (std::int64_t t_ms = 0; !c.stopping && !client.refused(); t_ms += 1000) {
    if (opts.load) {
      if (sent >= opts.load_samples) break;
    } else if (total_ms > 0 && t_ms >= total_ms) {
      break;
    }
    batch.Clear();
    if (opts.load) {
      const auto want = static_cast<int>(std::min<std::uint64_t>(opts.batch_size, opts.load_samples - sent));
      while (batch.size() < want) {
        patient.second(sim_start_ms + t_ms, batch);
        t_ms += 1000;
      }
      batch.DeleteSubrange(want, batch.size() - want);
    } else {
      patient.second(sim_start_ms + t_ms, batch);
    }
    sent += static_cast<std::uint64_t>(batch.size());
    co_await client.wait_for_room();
    client.push(batch);
    if (!opts.load && opts.speed > 0) {
      const auto due = c.started + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                       std::chrono::duration<double>(static_cast<double>(t_ms + 1000) / 1000.0 / opts.speed));
      pace.expires_at(due);
      co_await pace.async_wait(asio::as_tuple(asio::use_awaitable));
    }
  }
  co_await client.drain();
  client.stop();
  --c.producers_running;
}

void print_progress(const clinic& c, bool final, bool redraw = false) {
  std::uint64_t sent = 0, acked_batches = 0, rejected = 0, connects = 0;
  int connected = 0;
  for (const auto& client : c.clients) {
    sent += client->stats().samples_sent;
    acked_batches += client->acked_seq();
    rejected += client->stats().samples_rejected;
    connects += client->stats().connects;
    connected += client->connected() ? 1 : 0;
  }
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - c.started).count();
  std::fprintf(stderr, "%s%s %.1fs | monitors %d/%zu connected | samples sent %llu | batches acked %llu | rejected %llu | connects %llu%s",
               redraw ? "\r" : "", final ? "summary:" : "vigil-sim", elapsed, connected, c.clients.size(),
               static_cast<unsigned long long>(sent), static_cast<unsigned long long>(acked_batches),
               static_cast<unsigned long long>(rejected), static_cast<unsigned long long>(connects),
               redraw ? "   " : "\n");
}

}  // namespace

int main(int argc, char** argv) {
  run_options opts;
  CLI::App cli{"vigil-sim: simulated bedside monitors that stream vital signs into vigild"};
  // A later flag wins, so wrappers can set defaults that the user's own flags override.
  cli.option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  cli.add_option("--host", opts.host, "Daemon host")->capture_default_str();
  cli.add_option("--port", opts.port, "Daemon ingest port")->capture_default_str();
  cli.add_option("--ports-file", opts.ports_file, "Read the ingest port from vigild's ports file instead of --port");
  cli.add_option("--devices", opts.devices, "Number of monitors, one per chair")->check(CLI::Range(1, 100000))->capture_default_str();
  cli.add_option("--device-prefix", opts.device_prefix, "Monitor ids are PREFIX1, PREFIX2, ...")->capture_default_str();
  cli.add_option("--chair-prefix", opts.chair_prefix, "Chair ids are PREFIX1, PREFIX2, ...")->capture_default_str();
  cli.add_option("--token", opts.token, "Device token configured in vigild")->capture_default_str();
  cli.add_option("--duration", opts.duration_s, "Simulated seconds to stream (0: until Ctrl-C)")->check(CLI::NonNegativeNumber)->capture_default_str();
  cli.add_option("--speed", opts.speed, "Time factor: 1 is real time, 1000 is 1000x, 0 is as fast as acks allow")
      ->check(CLI::Range(0.0, 1000000.0))->capture_default_str();
  cli.add_flag("--load", opts.load, "Load mode: each monitor sends --samples samples in batches of --batch-size, as fast as acked");
  cli.add_option("--samples", opts.load_samples, "Load mode: samples per monitor")->capture_default_str();
  cli.add_option("--batch-size", opts.batch_size, "Load mode: samples per batch")->check(CLI::Range(1, 2048))->capture_default_str();
  cli.add_option("--seed", opts.seed, "Seed for the simulated patients")->capture_default_str();
  cli.add_flag("-q,--quiet", opts.quiet, "No progress line");
  CLI11_PARSE(cli, argc, argv);

  if (!opts.ports_file.empty()) {
    const auto port = read_ingest_port(opts.ports_file);
    if (!port) {
      std::fprintf(stderr, "vigil-sim: no 'ingest:' line in %s\n", opts.ports_file.c_str());
      return 2;
    }
    opts.port = *port;
  }

  asio::io_context io(1);
  clinic c;
  for (int i = 1; i <= opts.devices; ++i) {
    vigil::sim::device_client::options o;
    o.host = opts.host;
    o.port = opts.port;
    o.device_id = fmt::format("{}{}", opts.device_prefix, i);
    o.chair_id = fmt::format("{}{}", opts.chair_prefix, i);
    o.token = opts.token;
    c.clients.push_back(std::make_unique<vigil::sim::device_client>(io.get_executor(), o));
    c.patients.emplace_back(opts.seed * 7919 + static_cast<std::uint64_t>(i));
  }
  for (std::size_t i = 0; i < c.clients.size(); ++i) {
    asio::co_spawn(io, c.clients[i]->run(), asio::detached);
    asio::co_spawn(io, feed(c, i, opts), asio::detached);
    ++c.producers_running;
  }

  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](boost::system::error_code ec, int) {
    if (ec) return;
    c.stopping = true;
    for (auto& client : c.clients) client->stop();
  });
  asio::steady_timer progress(io);
  const bool interactive = isatty(STDERR_FILENO) != 0;
  std::uint64_t ticks = 0;
  std::function<void()> tick = [&] {
    progress.expires_after(1s);
    progress.async_wait([&](boost::system::error_code ec) {
      if (ec) return;
      // On a terminal the line is redrawn every second; in a log, one line every ten.
      ++ticks;
      if (!opts.quiet && (interactive || ticks % 10 == 0)) print_progress(c, false, interactive);
      if (c.producers_running == 0) {
        signals.cancel();
        return;
      }
      tick();
    });
  };
  tick();
  io.run();
  if (!opts.quiet && interactive) std::fputc('\n', stderr);
  print_progress(c, true);

  int refused = 0;
  std::uint64_t unacked = 0;
  for (const auto& client : c.clients) {
    if (client->refused()) {
      ++refused;
      std::fprintf(stderr, "vigil-sim: %s refused: %s\n", client->settings().device_id.c_str(), client->last_error().c_str());
    }
    unacked += client->pushed_seq() - client->acked_seq();
  }
  if (refused > 0 || (unacked > 0 && !c.stopping)) return 1;
  return 0;
}
