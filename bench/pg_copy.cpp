// Bare PostgreSQL: how many samples a second the server commits durably with COPY, measured the
// way ingest_load measures vigild (N clients at once, samples committed per second of wall
// time), so that the PostgreSQL backend's figure has its ceiling beside it on the same machine.
// Each client has its own connection and commits `--group` batches of `--batch` samples per
// transaction, one row per sample, with synchronous_commit on.
//
//   pg_copy --url postgresql://postgres@127.0.0.1:55432/vigil [--connections N] [--samples-per-connection S]
//           [--batch B] [--group G]

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <libpq-fe.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace {

void run(PGconn* db, const std::string& sql) {
  PGresult* r = PQexec(db, sql.c_str());
  const auto status = PQresultStatus(r);
  const std::string message = PQresultErrorMessage(r);
  PQclear(r);
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) throw std::runtime_error(sql + ": " + message);
}

PGconn* connect(const std::string& url) {
  PGconn* db = PQconnectdb(url.c_str());
  if (PQstatus(db) != CONNECTION_OK) throw std::runtime_error(std::string("connect: ") + PQerrorMessage(db));
  run(db, "SET synchronous_commit = on");
  return db;
}

/// One client: `batches` batches of `batch` samples, `group` batches per transaction.
void client(const std::string& url, int id, std::uint64_t batches, int batch, int group, std::atomic<std::uint64_t>& committed) {
  PGconn* db = connect(url);
  const auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
                       std::chrono::system_clock::now().time_since_epoch()).count();
  std::string rows;
  for (std::uint64_t b = 0; b < batches;) {
    run(db, "BEGIN");
    {
      PGresult* r = PQexec(db, "COPY copy_bench(device, seq, time_ms, kind, value) FROM STDIN");
      const bool ready = PQresultStatus(r) == PGRES_COPY_IN;
      const std::string message = PQresultErrorMessage(r);
      PQclear(r);
      if (!ready) throw std::runtime_error("copy: " + message);
    }
    std::uint64_t in_transaction = 0;
    for (int g = 0; g < group && b < batches; ++g, ++b) {
      rows.clear();
      for (int i = 0; i < batch; ++i) {
        rows += fmt::format("load-{}\t{}\t{}\t{}\t{}\n", id, b + 1, now + static_cast<std::int64_t>(b) * 1000 + i * 250,
                            1 + i % 4, 70 + i % 20);
      }
      if (PQputCopyData(db, rows.data(), static_cast<int>(rows.size())) != 1) {
        throw std::runtime_error(std::string("copy: ") + PQerrorMessage(db));
      }
      in_transaction += static_cast<std::uint64_t>(batch);
    }
    if (PQputCopyEnd(db, nullptr) != 1) throw std::runtime_error(std::string("copy end: ") + PQerrorMessage(db));
    while (PGresult* r = PQgetResult(db)) {
      const bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
      const std::string message = PQresultErrorMessage(r);
      PQclear(r);
      if (!ok) throw std::runtime_error("copy: " + message);
    }
    run(db, "COMMIT");
    committed += in_transaction;
  }
  PQfinish(db);
}

}  // namespace

int main(int argc, char** argv) {
  std::string url;
  int connections = 64;
  std::uint64_t per_connection = 200'000;
  int batch = 64;
  int group = 1;
  CLI::App cli{"pg_copy: durable COPY throughput of bare PostgreSQL, measured as ingest_load measures vigild"};
  cli.add_option("--url", url, "A postgresql:// URL of a database to write a scratch table in")->required();
  cli.add_option("--connections", connections, "Clients, each with its own connection")->capture_default_str();
  cli.add_option("--samples-per-connection", per_connection, "Samples each client commits")->capture_default_str();
  cli.add_option("--batch", batch, "Samples per batch")->capture_default_str();
  cli.add_option("--group", group, "Batches per transaction")->capture_default_str();
  CLI11_PARSE(cli, argc, argv);
  try {
    PGconn* setup = connect(url);
    run(setup, "DROP TABLE IF EXISTS copy_bench");
    run(setup, "CREATE TABLE copy_bench(device text NOT NULL, seq bigint NOT NULL, time_ms bigint NOT NULL, "
               "kind integer NOT NULL, value double precision NOT NULL)");
    const std::uint64_t batches = (per_connection + static_cast<std::uint64_t>(batch) - 1) / static_cast<std::uint64_t>(batch);
    std::atomic<std::uint64_t> committed{0};
    std::vector<std::thread> clients;
    const auto start = std::chrono::steady_clock::now();
    for (int c = 0; c < connections; ++c) {
      clients.emplace_back([&, c] {
        try {
          client(url, c, batches, batch, group, committed);
        } catch (const std::exception& e) {
          std::fprintf(stderr, "pg_copy: client %d: %s\n", c, e.what());
        }
      });
    }
    for (auto& t : clients) t.join();
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    run(setup, "DROP TABLE copy_bench");
    PQfinish(setup);
    fmt::print("connections={} batch={} group={} samples_committed={} seconds={:.3f} samples_per_second={:.0f}\n",
               connections, batch, group, committed.load(), seconds, static_cast<double>(committed.load()) / seconds);
    return committed.load() == batches * static_cast<std::uint64_t>(batch) * static_cast<std::uint64_t>(connections) ? 0 : 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "pg_copy: %s\n", e.what());
    return 1;
  }
}
