// Cluster mode's failover time (docs/performance.md): three vigild on one PostgreSQL database,
// monitors that know all three streaming one sample a second each, and a daemon killed with
// SIGKILL again and again (the one holding the most chairs, started again after). For each kill:
// the time from the kill until every monitor of the dead daemon's chairs has a batch sent after
// the kill acked by a survivor (its chair served again). Prints each, then p50, p99 and max.
//
//   cluster_failover --vigild build/daemon/vigild --url postgresql://postgres@127.0.0.1:55432/vigil
//                    [--kills 20] [--monitors 24] [--lease-ms 3000]
// The database should be empty (scripts/postgres-scratch.sh start DIR gives one).

#include "sim/device_client.hpp"
#include "tests/common/child_process.hpp"
#include "tests/common/postgres_server.hpp"

#include <CLI/CLI.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <fmt/format.h>
#include <libpq-fe.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <future>
#include <map>
#include <memory>
#include <set>
#include <thread>
#include <vector>

namespace {

namespace asio = boost::asio;
namespace fs = std::filesystem;
using clock_type = std::chrono::steady_clock;

/// chair -> node name (without its instance) holding it under a live lease.
std::map<std::string, std::string> holders(const std::string& url) {
  std::map<std::string, std::string> out;
  PGconn* db = PQconnectdb(url.c_str());
  PGresult* r = PQexec(db, "SELECT chair_id, node FROM chair_leases WHERE node <> '' AND expires_at > clock_timestamp()");
  if (PQresultStatus(r) == PGRES_TUPLES_OK) {
    for (int i = 0; i < PQntuples(r); ++i) {
      const std::string node = PQgetvalue(r, i, 1);
      out[PQgetvalue(r, i, 0)] = node.substr(0, node.find('#'));
    }
  }
  PQclear(r);
  PQfinish(db);
  return out;
}

struct daemon_process {
  std::string name;
  std::uint16_t port = 0;
  fs::path config;
  std::unique_ptr<vigil::test::child_process> process;
};

}  // namespace

int main(int argc, char** argv) {
  std::string vigild, url;
  int kills = 20, monitor_count = 24, lease_ms = 3000;
  CLI::App cli{"Cluster failover time: three vigild, a daemon killed again and again (docs/performance.md)"};
  cli.add_option("--vigild", vigild, "The vigild to run")->required();
  cli.add_option("--url", url, "An empty PostgreSQL database")->required();
  cli.add_option("--kills", kills, "How many kills")->capture_default_str();
  cli.add_option("--monitors", monitor_count, "Monitors, one chair each")->capture_default_str();
  cli.add_option("--lease-ms", lease_ms, "cluster.lease_ms")->capture_default_str();
  CLI11_PARSE(cli, argc, argv);

  const fs::path dir = fs::temp_directory_path() / fmt::format("vigil-failover-{}", getpid());
  fs::create_directories(dir);
  std::vector<daemon_process> daemons;
  for (const char* name : {"a", "b", "c"}) {
    daemon_process d;
    d.name = name;
    d.port = vigil::test::postgres_server::free_port();
    d.config = dir / (d.name + ".yaml");
    std::ofstream(d.config) << fmt::format(
        "retention_days: 0\nstore:\n  backend: postgres\n  url: {}\ncluster:\n  enabled: true\n  node: {}\n  lease_ms: {}\n"
        "ingest:\n  address: 127.0.0.1\n  port: {}\n  devices:\n    - id: 'mon-*'\n      token: failover-device-token\n"
        "control:\n  enabled: false\nfeed:\n  enabled: false\nhttp:\n  enabled: false\nlog:\n  level: warn\n",
        url, d.name, lease_ms, d.port);
    daemons.push_back(std::move(d));
  }
  const auto start = [&](daemon_process& d) {
    d.process = std::make_unique<vigil::test::child_process>(vigild, std::vector<std::string>{"--config", d.config.string()});
  };
  for (auto& d : daemons) start(d);

  asio::io_context io;
  std::vector<std::unique_ptr<vigil::sim::device_client>> clients;
  for (int c = 1; c <= monitor_count; ++c) {
    vigil::sim::device_client::options o;
    o.port = daemons[0].port;
    o.more_addresses = {{"127.0.0.1", daemons[1].port}, {"127.0.0.1", daemons[2].port}};
    o.device_id = fmt::format("mon-{}", c);
    o.chair_id = fmt::format("chair-{}", c);
    o.token = "failover-device-token";
    o.reconnect_delay = std::chrono::milliseconds(50);
    clients.push_back(std::make_unique<vigil::sim::device_client>(io.get_executor(), o));
  }
  for (auto& c : clients) asio::co_spawn(io, c->run(), asio::detached);
  std::thread thread([&] { io.run(); });
  const auto on_io = [&](auto f) {
    std::packaged_task<decltype(f())()> task(std::move(f));
    auto result = task.get_future();
    asio::post(io, [&task] { task(); });
    return result.get();
  };
  std::int64_t second = 0;
  const auto push_second = [&] {
    on_io([&] {
      for (auto& c : clients) {
        google::protobuf::RepeatedPtrField<vigil::v1::Sample> samples;
        auto& s = *samples.Add();
        s.set_kind(vigil::v1::HEART_RATE);
        s.set_value(72);
        s.set_time_ms(1'700'000'000'000 + second * 1000);
        c->push(samples);
      }
      return 0;
    });
    ++second;
  };
  // The monitors' seqs pushed so far, and whether each has all of its batches acked.
  const auto pushed = [&] {
    return on_io([&] {
      std::vector<std::uint64_t> out;
      for (auto& c : clients) out.push_back(c->pushed_seq());
      return out;
    });
  };
  const auto acked_past = [&](const std::vector<std::uint64_t>& seqs, const std::set<int>& which) {
    return on_io([&] {
      for (int i : which) {
        if (clients[static_cast<std::size_t>(i)]->acked_seq() < seqs[static_cast<std::size_t>(i)]) return false;
      }
      return true;
    });
  };
  const auto wait_for = [&](auto pred, std::chrono::seconds limit) {
    const auto deadline = clock_type::now() + limit;
    while (clock_type::now() < deadline) {
      if (pred()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return false;
  };
  std::set<int> everyone;
  for (int i = 0; i < monitor_count; ++i) everyone.insert(i);

  std::vector<double> times_ms;
  int status = 0;
  for (int k = 0; k < kills && status == 0; ++k) {
    // Spread over all three, every monitor served.
    const bool spread = wait_for(
        [&] {
          const auto h = holders(url);
          std::set<std::string> nodes;
          for (const auto& [chair, node] : h) nodes.insert(node);
          return nodes.size() == 3 && h.size() == static_cast<std::size_t>(monitor_count);
        },
        std::chrono::seconds(60));
    push_second();
    if (!spread || !wait_for([&] { return acked_past(pushed(), everyone); }, std::chrono::seconds(60))) {
      std::fprintf(stderr, "kill %d: the cluster did not settle\n", k);
      status = 1;
      break;
    }
    std::map<std::string, std::set<int>> by_node;
    for (const auto& [chair, node] : holders(url)) by_node[node].insert(std::stoi(chair.substr(6)) - 1);
    auto victim = std::max_element(daemons.begin(), daemons.end(), [&](const auto& a, const auto& b) {
      return by_node[a.name].size() < by_node[b.name].size();
    });
    const auto its = by_node[victim->name];
    victim->process.reset();  // SIGKILL
    const auto killed = clock_type::now();
    // One second of samples after the kill, then ten a second until the dead daemon's chairs are served.
    push_second();
    const auto after = pushed();
    bool served = false;
    while (clock_type::now() - killed < std::chrono::seconds(60)) {
      if (acked_past(after, its)) {
        served = true;
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    const double ms = std::chrono::duration<double, std::milli>(clock_type::now() - killed).count();
    if (!served) {
      std::fprintf(stderr, "kill %d: %zu chairs of vigild %s not served again within 60 s\n", k, its.size(),
                   victim->name.c_str());
      status = 1;
    }
    times_ms.push_back(ms);
    std::printf("kill %2d: vigild %s with %zu chairs; served again after %.0f ms\n", k + 1, victim->name.c_str(),
                its.size(), ms);
    std::fflush(stdout);
    start(*victim);
  }
  if (!times_ms.empty()) {
    std::sort(times_ms.begin(), times_ms.end());
    const auto at = [&](double q) {
      return times_ms[std::min(times_ms.size() - 1, static_cast<std::size_t>(q * static_cast<double>(times_ms.size())))];
    };
    std::printf("failover over %zu kills (lease %d ms, %d monitors): p50 %.0f ms, p99 %.0f ms, max %.0f ms\n",
                times_ms.size(), lease_ms, monitor_count, at(0.5), at(0.99), times_ms.back());
  }
  on_io([&] {
    for (auto& c : clients) c->stop();
    return 0;
  });
  thread.join();
  for (auto& d : daemons) d.process.reset();
  fs::remove_all(dir);
  return status;
}
