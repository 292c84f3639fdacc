// vigil-sim: simulated bedside monitors and a simulated nurse, feeding vigild.

#include "daemon/client/rest_client.hpp"
#include "sim/device_client.hpp"
#include "sim/monitor.hpp"
#include "sim/runner.hpp"
#include "sim/scenario.hpp"

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
#include <cstdlib>
#include <functional>
#include <memory>

#include <unistd.h>

namespace asio = boost::asio;
using namespace std::chrono_literals;

namespace {

struct load_options {
  int devices = 100;
  std::string device_prefix = "sim-";
  std::string chair_prefix = "chair-";
  std::uint64_t samples = 100'000;
  int batch_size = 64;
  double rate = 0;  // samples per second per monitor; 0: as fast as acked
};

struct load_run {
  std::vector<std::unique_ptr<vigil::sim::device_client>> clients;
  std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();
  int producers_running = 0;
  bool stopping = false;
};

/// Load mode: one monitor streams `samples` samples in batches, at a fixed rate or as fast as acked.
asio::awaitable<void> load_feed(load_run& run, std::size_t index, const load_options& opts, std::uint64_t seed) {
  using namespace vigil::sim;
  auto& client = *run.clients[index];
  asio::steady_timer pace(co_await asio::this_coro::executor);
  patient_spec spec;
  spec.seed = seed;
  dose_plan never;  // no dose: resting vitals
  never.at_ms = 24 * 60 * minute_ms;
  physiology patient(spec, never, {});
  monitor mon(patient, seed, monitor_settings{}, {}, 24 * 60 * minute_ms);
  google::protobuf::RepeatedPtrField<vigil::v1::Sample> batch, second;
  const auto start_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  std::uint64_t sent = 0;
  std::int64_t t = 0;
  co_await client.wait_connected();
  while (!run.stopping && !client.refused() && sent < opts.samples) {
    batch.Clear();
    const auto want = static_cast<int>(std::min<std::uint64_t>(static_cast<std::uint64_t>(opts.batch_size), opts.samples - sent));
    while (batch.size() < want) {
      if (second.empty()) {
        mon.second(t, start_ms + t, second);
        t += second_ms;
      }
      batch.Add()->Swap(&second[0]);
      second.DeleteSubrange(0, 1);
    }
    sent += static_cast<std::uint64_t>(batch.size());
    co_await client.wait_for_room();
    client.push(batch);
    if (opts.rate > 0) {
      pace.expires_at(run.started + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                        std::chrono::duration<double>(static_cast<double>(sent) / opts.rate)));
      co_await pace.async_wait(asio::as_tuple(asio::use_awaitable));
    }
  }
  co_await client.drain();
  client.stop();
  --run.producers_running;
}

int run_load(const vigil::sim::run_options& base, const load_options& opts, std::uint64_t seed) {
  asio::io_context io(1);
  load_run run;
  for (int i = 1; i <= opts.devices; ++i) {
    vigil::sim::device_client::options o;
    o.host = base.host;
    o.port = base.ingest_port;
    o.more_addresses = base.more_ingest;
    o.device_id = fmt::format("{}{}", opts.device_prefix, i);
    o.chair_id = fmt::format("{}{}", opts.chair_prefix, i);
    o.token = base.device_token;
    run.clients.push_back(std::make_unique<vigil::sim::device_client>(io.get_executor(), o));
  }
  for (std::size_t i = 0; i < run.clients.size(); ++i) {
    asio::co_spawn(io, run.clients[i]->run(), asio::detached);
    asio::co_spawn(io, load_feed(run, i, opts, seed * 7919 + i), asio::detached);
    ++run.producers_running;
  }
  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](boost::system::error_code ec, int) {
    if (ec) return;
    run.stopping = true;
    for (auto& client : run.clients) client->stop();
  });
  const bool interactive = isatty(STDERR_FILENO) != 0;
  auto line = [&](bool final) {
    std::uint64_t sent = 0, acked = 0, rejected = 0, connects = 0;
    int connected = 0;
    for (const auto& client : run.clients) {
      sent += client->stats().samples_sent;
      acked += client->stats().samples_acked;
      rejected += client->stats().samples_rejected;
      connects += client->stats().connects;
      connected += client->connected() ? 1 : 0;
    }
    const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - run.started).count();
    std::fprintf(final ? stdout : stderr,
                 "%s%s %.1fs | monitors %d/%zu connected | samples %llu sent, %llu acked (%.0f/s) | rejected %llu | connects %llu%s",
                 !final && interactive ? "\r\033[K" : "", final ? "summary: load" : "vigil-sim load", elapsed, connected,
                 run.clients.size(), static_cast<unsigned long long>(sent), static_cast<unsigned long long>(acked),
                 elapsed > 0 ? static_cast<double>(acked) / elapsed : 0.0, static_cast<unsigned long long>(rejected),
                 static_cast<unsigned long long>(connects), final || !interactive ? "\n" : "");
  };
  asio::steady_timer progress(io);
  std::uint64_t ticks = 0;
  std::function<void()> tick = [&] {
    progress.expires_after(1s);
    progress.async_wait([&](boost::system::error_code ec) {
      if (ec) return;
      ++ticks;
      if (!base.quiet && (interactive || ticks % 10 == 0)) line(false);
      if (run.producers_running == 0) {
        signals.cancel();
        return;
      }
      tick();
    });
  };
  tick();
  io.run();
  if (!base.quiet && interactive) std::fputc('\n', stderr);
  line(true);
  int refused = 0;
  std::uint64_t unacked = 0;
  for (const auto& client : run.clients) {
    if (client->refused()) {
      ++refused;
      std::fprintf(stderr, "vigil-sim: %s refused: %s\n", client->settings().device_id.c_str(), client->last_error().c_str());
    }
    unacked += client->pushed_seq() - client->acked_seq();
  }
  return refused > 0 || (unacked > 0 && !run.stopping) ? 1 : 0;
}

}  // namespace

int main(int argc, char** argv) {
  vigil::sim::run_options opts;
  load_options load;
  std::string scenario_path;
  int devices = 0;
  bool fast = false;
  bool load_mode = false;
  std::uint64_t seed = 1;
  CLI::App cli{
      "vigil-sim: simulated bedside monitors, and a simulated nurse, feeding vigild.\n"
      "A scenario (config/scenarios/*.yaml, docs/simulator.md) gives each chair a patient whose vitals respond to "
      "ketamine by route, adverse events, monitor faults and unflagged artefacts; the simulator opens each session, "
      "marks the dose and closes it through vigild's REST API as a nurse would, while a monitor per chair streams over "
      "the device protocol, in real time or faster. Each adverse event and artefact is a label: at the end every label "
      "is reported met or missed, and the exit status is 3 if one was missed. --load streams monitors without sessions, "
      "for benchmarks."};
  // A later flag wins, so wrappers can set defaults that the user's own flags override.
  cli.option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  cli.add_option("--scenario", scenario_path, "Scenario file (YAML), e.g. config/scenarios/hypertensive.yaml");
  cli.add_option("--devices", devices,
                 "Without --scenario: a clinic of N chairs, uneventful sessions two minutes apart, routes in turn; "
                 "with --load: the number of monitors (default 100)")
      ->check(CLI::Range(1, 100000));
  cli.add_option("--speed", opts.speed,
                 "Time factor: 1 is real time, 60 is a minute a second, 1000 is 1000x; 0 is as fast as the daemon acks")
      ->check(CLI::Range(0.0, 1000000.0))
      ->capture_default_str();
  cli.add_flag("--fast", fast, "As fast as the daemon acks (the same as --speed 0)");
  cli.add_option("--batch-seconds", opts.batch_seconds,
                 "Seconds of samples per batch (default: speed/100, from 1 to 60, when paced; 10 as fast as possible); "
                 "alarms do not depend on it")
      ->check(CLI::Range(1, 600));
  cli.add_option("--seed", seed, "Seed for the patients a scenario does not seed itself (--devices, --load)")->capture_default_str();
  cli.add_option("--host", opts.host, "Daemon host")->capture_default_str();
  cli.add_option("--port", opts.ingest_port, "Daemon ingest (device) port")->capture_default_str();
  std::vector<std::string> also;
  cli.add_option("--also-ingest", also,
                 "Another daemon's device port, HOST:PORT (cluster mode; repeatable): monitors move to the next one "
                 "when theirs fails, and follow the daemons' redirects");
  cli.add_option("--http-port", opts.http_port, "Daemon HTTP port, for the REST API")->capture_default_str();
  cli.add_option("--feed-port", opts.feed_port, "Daemon feed port, where the alarms seen are counted")->capture_default_str();
  cli.add_option("--ports-file", opts.ports_file,
                 "vigild's ports file: its 'ingest:', 'http:' and 'feed:' lines override --port, --http-port and --feed-port");
  cli.add_option("--token", opts.device_token, "Device token configured in vigild for the monitors")->capture_default_str();
  cli.add_option("--api-token", opts.api_token,
                 "A user token with the admin role, for opening, dosing and closing sessions (default: $VIGIL_TOKEN)");
  cli.add_flag("-q,--quiet", opts.quiet, "No progress line and no line per session event; the summary only");
  cli.add_flag("--load", load_mode, "Load mode for benchmarks: --devices monitors, one connection each, no sessions");
  cli.add_option("--samples", load.samples, "Load mode: samples per monitor")->capture_default_str();
  cli.add_option("--batch-size", load.batch_size, "Load mode: samples per batch")->check(CLI::Range(1, 2048))->capture_default_str();
  cli.add_option("--rate", load.rate, "Load mode: samples per second per monitor (0: as fast as the daemon acks)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  cli.add_option("--device-prefix", load.device_prefix, "Load mode: monitors are PREFIX1, PREFIX2, ...")->capture_default_str();
  cli.add_option("--chair-prefix", load.chair_prefix, "Load mode: chairs are PREFIX1, PREFIX2, ...")->capture_default_str();
  CLI11_PARSE(cli, argc, argv);
  if (fast) opts.speed = 0;

  for (const auto& text : also) {
    const auto colon = text.rfind(':');
    unsigned long port = 0;
    if (colon != std::string::npos && colon > 0) port = std::strtoul(text.c_str() + colon + 1, nullptr, 10);
    if (port == 0 || port > 65535) {
      std::fprintf(stderr, "vigil-sim: --also-ingest %s: expected HOST:PORT\n", text.c_str());
      return 2;
    }
    std::string host = text.substr(0, colon);
    if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
    opts.more_ingest.emplace_back(host, static_cast<std::uint16_t>(port));
  }
  if (!opts.ports_file.empty()) {
    const auto ingest = vigil::client::read_port(opts.ports_file, "ingest");
    if (!ingest) {
      std::fprintf(stderr, "vigil-sim: no 'ingest:' line in %s\n", opts.ports_file.c_str());
      return 2;
    }
    opts.ingest_port = *ingest;
    if (const auto http = vigil::client::read_port(opts.ports_file, "http")) opts.http_port = *http;
    if (const auto feed = vigil::client::read_port(opts.ports_file, "feed")) opts.feed_port = *feed;
  }

  if (load_mode) {
    if (devices > 0) load.devices = devices;
    return run_load(opts, load, seed);
  }

  if (opts.api_token.empty()) {
    if (const char* env = std::getenv("VIGIL_TOKEN")) opts.api_token = env;
  }
  if (opts.api_token.empty()) {
    std::fprintf(stderr, "vigil-sim: the nurse needs a user token: use --api-token or set VIGIL_TOKEN (or --load for monitors only)\n");
    return 2;
  }
  vigil::sim::scenario plan;
  try {
    if (!scenario_path.empty()) {
      plan = vigil::sim::load_scenario(scenario_path);
    } else {
      plan = vigil::sim::parse_scenario(
          fmt::format("name: clinic of {0}\nseed: {1}\nchairs:\n  - repeat: {0}\n    stagger_min: 2\n"
                      "    route: [iv, intranasal, im, sublingual]\n",
                      devices > 0 ? devices : 6, seed),
          "--devices");
    }
  } catch (const vigil::sim::scenario_error& e) {
    std::fprintf(stderr, "vigil-sim: %s\n", e.what());
    return 2;
  }
  return vigil::sim::run_scenario(plan, opts);
}
