// The throwaway PostgreSQL the cluster tests run against (tests/common/postgres_server.hpp): it
// starts on loopback, commits durably, survives a crash-like stop with what it committed, and
// goes away without a trace.

#include "tests/common/postgres_server.hpp"

#include <gtest/gtest.h>
#include <libpq-fe.h>

#include <filesystem>
#include <memory>
#include <optional>
#include <string>

namespace vigil::test {
namespace {

struct connection_closer {
  void operator()(PGconn* c) const { PQfinish(c); }
};
using connection = std::unique_ptr<PGconn, connection_closer>;

connection connect(const std::string& url) { return connection(PQconnectdb(url.c_str())); }

/// The single value `sql` returns, or nothing (with the reason in `error`).
std::optional<std::string> value_of(PGconn* c, const std::string& sql, std::string& error) {
  PGresult* r = PQexec(c, sql.c_str());
  std::optional<std::string> out;
  const auto status = PQresultStatus(r);
  if (status == PGRES_TUPLES_OK && PQntuples(r) == 1 && PQnfields(r) == 1) {
    out = PQgetvalue(r, 0, 0);
  } else if (status != PGRES_COMMAND_OK) {
    error = PQresultErrorMessage(r);
  }
  PQclear(r);
  return out;
}

TEST(PostgresServer, StartsOnLoopbackAndCommitsDurably) {
  postgres_server pg;
  ASSERT_TRUE(pg.running());
  const auto c = connect(pg.url());
  ASSERT_EQ(PQstatus(c.get()), CONNECTION_OK) << PQerrorMessage(c.get());
  std::string error;
  EXPECT_EQ(value_of(c.get(), "SELECT 1 + 1", error), "2") << error;
  EXPECT_EQ(value_of(c.get(), "SHOW synchronous_commit", error), "on") << error;
  EXPECT_EQ(value_of(c.get(), "SHOW fsync", error), "on") << error;
  EXPECT_EQ(value_of(c.get(), "SHOW listen_addresses", error), "127.0.0.1") << error;
  EXPECT_EQ(value_of(c.get(), "SELECT current_setting('server_version_num')::int / 10000", error), "15") << error;
}

TEST(PostgresServer, WhatWasCommittedOutlivesAnImmediateStopAndTheServerComesBackOnItsPort) {
  postgres_server pg;
  const auto port = pg.port();
  {
    const auto c = connect(pg.url());
    ASSERT_EQ(PQstatus(c.get()), CONNECTION_OK) << PQerrorMessage(c.get());
    std::string error;
    value_of(c.get(), "CREATE TABLE acked(seq bigint PRIMARY KEY)", error);
    value_of(c.get(), "INSERT INTO acked SELECT generate_series(1, 1000)", error);
    ASSERT_TRUE(error.empty()) << error;
    pg.stop();
    // The open connection is cut, and no new one is taken while it is down.
    EXPECT_FALSE(value_of(c.get(), "SELECT 1", error));
    EXPECT_NE(PQstatus(connect(pg.url()).get()), CONNECTION_OK);
  }
  EXPECT_FALSE(pg.running());
  pg.start();
  EXPECT_EQ(pg.port(), port);
  const auto c = connect(pg.url());
  ASSERT_EQ(PQstatus(c.get()), CONNECTION_OK) << PQerrorMessage(c.get());
  std::string error;
  EXPECT_EQ(value_of(c.get(), "SELECT count(*) FROM acked", error), "1000") << error;
}

TEST(PostgresServer, TwoRunSideBySideAndEachLeavesNothingBehind) {
  std::filesystem::path first_dir;
  {
    postgres_server a;
    postgres_server b;
    EXPECT_NE(a.port(), b.port());
    const auto ca = connect(a.url());
    const auto cb = connect(b.url());
    EXPECT_EQ(PQstatus(ca.get()), CONNECTION_OK) << PQerrorMessage(ca.get());
    EXPECT_EQ(PQstatus(cb.get()), CONNECTION_OK) << PQerrorMessage(cb.get());
    first_dir = a.directory();
    EXPECT_TRUE(std::filesystem::exists(first_dir / "data" / "PG_VERSION"));
  }
  EXPECT_FALSE(std::filesystem::exists(first_dir));
}

}  // namespace
}  // namespace vigil::test
