#include "daemon/config/config.hpp"
#include "tests/common/quick_hash.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <fmt/format.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <ostream>
#include <string>
#include <vector>

#include <unistd.h>

namespace vigil::config {

// Lets a failing assertion print the problems it was given.
void PrintTo(const problem& p, std::ostream* os) {
  *os << "{key: '" << p.key << "', message: '" << p.message << "'}";
}

namespace {

using testing::AllOf;
using testing::Contains;
using testing::ElementsAre;
using testing::Field;
using testing::HasSubstr;
using testing::IsEmpty;
using testing::SizeIs;
using test::quick_hash;

testing::Matcher<problem> problem_at(const std::string& key) {
  return Field(&problem::key, key);
}

testing::Matcher<problem> problem_at(const std::string& key, const std::string& mentions) {
  return AllOf(Field(&problem::key, key), Field(&problem::message, HasSubstr(mentions)));
}

/// Problems of a configuration that is valid apart from `extra` lines in the ingest section.
std::vector<problem> problems_with_ingest(const std::string& extra) {
  return load_text("ingest:\n" + extra).problems;
}

TEST(LoadText, EmptyTextGivesTheDefaults) {
  for (const std::string text : {"", "# only a comment\n", "---\n"}) {
    SCOPED_TRACE(text);
    const auto result = load_text(text);
    EXPECT_THAT(result.problems, IsEmpty());
    const auto& c = result.config;
    EXPECT_EQ(c.ingest.address, "127.0.0.1");
    EXPECT_EQ(c.ingest.port, 7400);
    EXPECT_EQ(c.ingest.max_connections, 1024U);
    EXPECT_EQ(c.ingest.max_frame_bytes, 64U * 1024U);
    EXPECT_EQ(c.ingest.handshake_timeout, std::chrono::milliseconds(5'000));
    EXPECT_EQ(c.ingest.idle_timeout, std::chrono::milliseconds(30'000));
    EXPECT_EQ(c.ingest.close_timeout, std::chrono::milliseconds(2'000));
    EXPECT_THAT(c.ingest.devices, IsEmpty());
    EXPECT_EQ(c.log.level, "info");
    EXPECT_EQ(c.log.style, log::format::text);
    EXPECT_EQ(c.log.file, "");
    EXPECT_EQ(c.ports_file, "");
    EXPECT_EQ(c.shutdown_timeout, std::chrono::milliseconds(5'000));
    EXPECT_EQ(c.retention_days, 365);
  }
}

TEST(LoadText, FullConfigurationIsParsedIntoItsFields) {
  const auto result = load_text(R"(
ports_file: /run/vigil/ports
retention_days: 30
shutdown_timeout_ms: 7000
log:
  level: debug
  format: json
  file: /var/log/vigil/vigild.log
ingest:
  address: "::1"
  port: 7500
  max_connections: 64
  max_frame_bytes: 131072
  handshake_timeout_ms: 1500
  idle_timeout_ms: 45000
  close_timeout_ms: 250
  devices:
    - id: bay1-monitor
      token: "0123456789abcdef"
      chair: chair-1
    - id: "sim-*"
      token: simulator-shared-token
)");
  ASSERT_THAT(result.problems, IsEmpty());
  const auto& c = result.config;
  EXPECT_EQ(c.ports_file, "/run/vigil/ports");
  EXPECT_EQ(c.shutdown_timeout, std::chrono::milliseconds(7'000));
  EXPECT_EQ(c.retention_days, 30);
  EXPECT_EQ(c.log.level, "debug");
  EXPECT_EQ(c.log.style, log::format::json);
  EXPECT_EQ(c.log.file, "/var/log/vigil/vigild.log");
  EXPECT_EQ(c.ingest.address, "::1");
  EXPECT_EQ(c.ingest.port, 7500);
  EXPECT_EQ(c.ingest.max_connections, 64U);
  EXPECT_EQ(c.ingest.max_frame_bytes, 131'072U);
  EXPECT_EQ(c.ingest.handshake_timeout, std::chrono::milliseconds(1'500));
  EXPECT_EQ(c.ingest.idle_timeout, std::chrono::milliseconds(45'000));
  EXPECT_EQ(c.ingest.close_timeout, std::chrono::milliseconds(250));
  ASSERT_EQ(c.ingest.devices.size(), 2U);
  EXPECT_EQ(c.ingest.devices[0].id, "bay1-monitor");
  EXPECT_EQ(c.ingest.devices[0].token, "0123456789abcdef");
  EXPECT_EQ(c.ingest.devices[0].chair, "chair-1");
  EXPECT_EQ(c.ingest.devices[1].id, "sim-*");
  EXPECT_EQ(c.ingest.devices[1].token, "simulator-shared-token");
  EXPECT_EQ(c.ingest.devices[1].chair, "");
}

TEST(LoadText, UnknownKeysAreReportedWithTheirPath) {
  EXPECT_THAT(problems_with_ingest("  max_conections: 10\n"),
              ElementsAre(problem_at("ingest.max_conections", "unknown")));
  EXPECT_THAT(load_text("listen: 7400\n").problems, ElementsAre(problem_at("listen", "unknown")));
  EXPECT_THAT(load_text("log:\n  colour: true\n").problems, ElementsAre(problem_at("log.colour", "unknown")));
  EXPECT_THAT(problems_with_ingest("  devices:\n    - id: bay1-monitor\n      token: 0123456789abcdef\n"
                                   "      chiar: chair-1\n"),
              ElementsAre(problem_at("ingest.devices[0].chiar", "unknown")));
}

struct range_case {
  std::string name;
  std::string key;   // dotted
  std::string yaml;  // sets the key
};
// Names the case in test listings and failures (the default is a dump of the struct's bytes).
void PrintTo(const range_case& c, std::ostream* os) {
  *os << c.name;
}

class OutOfRange : public testing::TestWithParam<range_case> {};

TEST_P(OutOfRange, IsReportedAgainstItsKey) {
  const auto result = load_text(GetParam().yaml);
  EXPECT_THAT(result.problems, ElementsAre(problem_at(GetParam().key, "range")));
}

INSTANTIATE_TEST_SUITE_P(
    LoadText, OutOfRange,
    testing::Values(
        range_case{"port_above", "ingest.port", "ingest:\n  port: 70000\n"},
        range_case{"port_negative", "ingest.port", "ingest:\n  port: -1\n"},
        range_case{"max_connections_zero", "ingest.max_connections", "ingest:\n  max_connections: 0\n"},
        range_case{"max_frame_bytes_above", "ingest.max_frame_bytes", "ingest:\n  max_frame_bytes: 100000000\n"},
        range_case{"handshake_timeout_zero", "ingest.handshake_timeout_ms", "ingest:\n  handshake_timeout_ms: 0\n"},
        range_case{"idle_timeout_negative", "ingest.idle_timeout_ms", "ingest:\n  idle_timeout_ms: -30000\n"},
        range_case{"shutdown_timeout_above", "shutdown_timeout_ms", "shutdown_timeout_ms: 99999999\n"},
        range_case{"retention_negative", "retention_days", "retention_days: -1\n"}));

TEST(LoadText, OutOfRangeValueLeavesTheDefault) {
  const auto result = load_text("ingest:\n  port: 70000\n");
  EXPECT_EQ(result.config.ingest.port, 7400) << "not 70000 truncated to 16 bits";
}

TEST(LoadText, WrongTypesAreReportedAgainstTheirKey) {
  EXPECT_THAT(problems_with_ingest("  idle_timeout_ms: soon\n"),
              ElementsAre(problem_at("ingest.idle_timeout_ms", "whole number")));
  EXPECT_THAT(problems_with_ingest("  port: 7400.5\n"), ElementsAre(problem_at("ingest.port", "whole number")));
  EXPECT_THAT(problems_with_ingest("  port: [7400]\n"), ElementsAre(problem_at("ingest.port")));
  EXPECT_THAT(problems_with_ingest("  devices: bay1-monitor\n"), ElementsAre(problem_at("ingest.devices", "list")));
  EXPECT_THAT(load_text("ingest: 7400\n").problems, ElementsAre(problem_at("ingest", "mapping")));
  EXPECT_THAT(load_text("log:\n  file: [a, b]\n").problems, ElementsAre(problem_at("log.file", "string")));
}

TEST(LoadText, BadLogLevelIsReportedWithTheChoices) {
  const auto result = load_text("log:\n  level: loud\n");
  ASSERT_THAT(result.problems, ElementsAre(problem_at("log.level", "loud")));
  EXPECT_THAT(result.problems[0].message, HasSubstr("debug"));
  EXPECT_THAT(load_text("log:\n  format: xml\n").problems, ElementsAre(problem_at("log.format", "xml")));
}

// The file's name is printed once, before the problem (vigild --check-config FILE prints
// "FILE: message" for the file as a whole): it is not in the message too.
TEST(LoadText, YamlSyntaxErrorNamesTheLine) {
  const auto result = load_text("log:\n  level: info\ningest: [port: 1\n", "broken.yaml");
  ASSERT_THAT(result.problems, SizeIs(1));
  EXPECT_EQ(result.problems[0].key, "");
  EXPECT_THAT(result.problems[0].message, testing::StartsWith("YAML syntax error at line "));
  EXPECT_THAT(result.problems[0].message, testing::Not(HasSubstr("broken.yaml")));
  // The error is on the third or fourth line (where the flow sequence is left open).
  EXPECT_THAT(result.problems[0].message, testing::AnyOf(HasSubstr("line 3"), HasSubstr("line 4")));
}

TEST(LoadText, DuplicateDeviceIdIsReported) {
  const auto problems = problems_with_ingest(R"(  devices:
    - id: bay1-monitor
      token: 0123456789abcdef
    - id: bay2-monitor
      token: 0123456789abcdef
    - id: bay1-monitor
      token: fedcba9876543210
)");
  EXPECT_THAT(problems, ElementsAre(problem_at("ingest.devices[2].id", "bay1-monitor")));
}

TEST(LoadText, ShortTokenIsReported) {
  // Fifteen characters: one short of the minimum.
  EXPECT_THAT(problems_with_ingest("  devices:\n    - id: bay1-monitor\n      token: 0123456789abcde\n"),
              ElementsAre(problem_at("ingest.devices[0].token", "16")));
  EXPECT_THAT(problems_with_ingest("  devices:\n    - id: bay1-monitor\n      token: 0123456789abcdef\n"), IsEmpty());
  EXPECT_THAT(problems_with_ingest("  devices:\n    - id: bay1-monitor\n"),
              ElementsAre(problem_at("ingest.devices[0].token")));
}

// Written against the configuration that took the shipped example's change-me tokens (printed in
// the docs too) and let anyone who had read them in.
TEST(LoadText, PlaceholderAndSimpleSecretsAreRefused) {
  EXPECT_THAT(problems_with_ingest("  devices:\n    - id: bay1-monitor\n      token: change-me-bay1-0000\n"),
              ElementsAre(problem_at("ingest.devices[0].token", "placeholder")));
  EXPECT_THAT(problems_with_ingest("  devices:\n    - id: bay1-monitor\n      token: aaaaaaaaaaaaaaaaaaaaaaaa\n"),
              ElementsAre(problem_at("ingest.devices[0].token", "too simple")));
  EXPECT_THAT(load_text("users:\n  - {name: a, token: Change-Me-Station-0000, role: admin}\n").problems,
              ElementsAre(problem_at("users[0].token", "placeholder")));
  EXPECT_THAT(load_text("users:\n  - {name: a, token: this-is-an-example-token, role: admin}\n").problems,
              ElementsAre(problem_at("users[0].token", "placeholder")));
}

TEST(LoadText, DeviceWithoutIdIsReported) {
  EXPECT_THAT(problems_with_ingest("  devices:\n    - token: 0123456789abcdef\n"),
              Contains(problem_at("ingest.devices[0].id")));
}

TEST(LoadText, BadAddressIsReported) {
  for (const std::string address : {"localhost", "300.1.1.1", "127.0.0.1:7400", ""}) {
    SCOPED_TRACE(address);
    EXPECT_THAT(problems_with_ingest("  address: \"" + address + "\"\n"), ElementsAre(problem_at("ingest.address")));
  }
  EXPECT_THAT(problems_with_ingest("  address: 0.0.0.0\n"), IsEmpty());
  EXPECT_THAT(problems_with_ingest("  address: \"::\"\n"), IsEmpty());
}

TEST(LoadText, ReportsEveryProblemInOnePass) {
  const auto result = load_text(R"(
log:
  level: chatty
ingest:
  address: nowhere
  port: 70000
  max_connections: 0
  idle_timeout_ms: soon
  max_conections: 5
  devices:
    - id: bay1-monitor
      token: short
    - id: bay1-monitor
      token: 0123456789abcdef
)");
  EXPECT_THAT(result.problems,
              testing::UnorderedElementsAre(problem_at("log.level"), problem_at("ingest.address"),
                                            problem_at("ingest.port"), problem_at("ingest.max_connections"),
                                            problem_at("ingest.idle_timeout_ms"), problem_at("ingest.max_conections"),
                                            problem_at("ingest.devices[0].token"), problem_at("ingest.devices[1].id")));
}

// The reason is given; the path is not repeated (it heads the line, see above).
TEST(LoadFile, MissingFileIsAProblemWithItsReason) {
  const std::string path = "/nonexistent/vigil/vigild.yaml";
  const auto result = load_file(path);
  ASSERT_THAT(result.problems, SizeIs(1));
  EXPECT_EQ(result.problems[0].key, "");
  EXPECT_EQ(result.problems[0].message, "cannot read: No such file or directory");
  const auto dir = load_file(std::filesystem::temp_directory_path().string());
  ASSERT_THAT(dir.problems, SizeIs(1));
  EXPECT_EQ(dir.problems[0].message, "cannot read: Is a directory");
}

// Written against the loader that printed "engine.profiles_dir: : cannot read the profile
// directory ...": the directory's own problems have the key alone.
TEST(LoadText, AProfilesDirThatCannotBeReadIsNamedOnceWithTheReason) {
  const auto dir = std::filesystem::temp_directory_path() / ("vigil-no-profiles-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  const auto result = load_text("engine:\n  profiles_dir: '" + dir.string() + "'\n");
  ASSERT_THAT(result.problems, SizeIs(1));
  EXPECT_EQ(result.problems[0].key, "engine.profiles_dir");
  EXPECT_EQ(result.problems[0].message,
            "cannot read the profile directory '" + dir.string() + "': No such file or directory");
}

// A profile file's problems are keyed by its name; its path is not repeated in the message.
TEST(LoadText, AProfileWithBrokenYamlIsNamedOnce) {
  const auto dir = std::filesystem::temp_directory_path() / ("vigil-broken-profiles-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "site.yaml") << "limits: [\n";
  const auto result = load_text("engine:\n  profiles_dir: '" + dir.string() + "'\n");
  ASSERT_THAT(result.problems, SizeIs(1));
  EXPECT_EQ(result.problems[0].key, "engine.profiles_dir: site.yaml");
  EXPECT_THAT(result.problems[0].message, testing::StartsWith("YAML syntax error at line 2, column 1: "));
  std::filesystem::remove_all(dir);
}

TEST(LoadFile, TheShippedConfigurationLoadsWithOnlyItsPlaceholderTokensToReplace) {
  const std::filesystem::path shipped = std::filesystem::path(VIGIL_SOURCE_DIR) / "config" / "vigild.yaml";
  ASSERT_TRUE(std::filesystem::exists(shipped)) << shipped;
  const auto result = load_file(shipped.string());
  EXPECT_THAT(result.problems, ElementsAre(problem_at("ingest.devices[0].token", "placeholder"),
                                           problem_at("ingest.devices[1].token", "placeholder"),
                                           problem_at("users[0].token", "placeholder")));
}

}  // namespace
}  // namespace vigil::config

namespace vigil::config {
namespace {

bool has_problem(const load_result& r, const std::string& key, const std::string& words) {
  for (const auto& p : r.problems) {
    if (p.key == key && p.message.find(words) != std::string::npos) return true;
  }
  return false;
}

TEST(ConfigRules, DuplicateKeysAreReported) {
  const auto r = load_text("ingest:\n  port: 7400\n  port: 7401\n");
  EXPECT_TRUE(has_problem(r, "ingest.port", "more than once"));
}

TEST(ConfigRules, DeviceIdsAndChairsFollowTheHandshakeRules) {
  const auto r = load_text(
      "ingest:\n  devices:\n"
      "    - {id: \"bay\\x01\", token: long-enough-token}\n"
      "    - {id: ok-id, token: long-enough-token, chair: chair 1}\n"
      "    - {id: also-ok, token: long-enough-token, chair: chair-1}\n");
  EXPECT_TRUE(has_problem(r, "ingest.devices[0].id", "printable"));
  EXPECT_TRUE(has_problem(r, "ingest.devices[1].chair", "printable"));
  EXPECT_EQ(r.problems.size(), 2u);
}

}  // namespace
}  // namespace vigil::config

namespace vigil::config {
namespace {

TEST(Users, EachHasANameATokenAndARole) {
  const auto result = load_text(R"(
users:
  - {name: ward-screen, token: viewer-token-0001, role: viewer}
  - {name: nurse-ana, token: nurse-token-00002, role: nurse}
  - {name: dr-bo, token: admin-token-000003, role: admin}
)");
  ASSERT_THAT(result.problems, IsEmpty());
  ASSERT_EQ(result.config.users.size(), 3u);
  EXPECT_EQ(result.config.users[0].role, control::role::viewer);
  EXPECT_EQ(result.config.users[1].role, control::role::nurse);
  EXPECT_EQ(result.config.users[2].name, "dr-bo");
  EXPECT_EQ(result.config.users[2].role, control::role::admin);
}

// Written against the loader that said "is required" of a role that was given but unknown.
TEST(Users, ARoleIsRequiredAndMustBeKnown) {
  auto problems = load_text("users:\n  - {name: a, token: token-0000000001}\n").problems;
  ASSERT_THAT(problems, ElementsAre(problem_at("users[0].role")));
  EXPECT_EQ(problems[0].message, "is required: viewer, nurse or admin");
  problems = load_text("users:\n  - {name: a, token: token-0000000001, role: root}\n").problems;
  ASSERT_THAT(problems, ElementsAre(problem_at("users[0].role")));
  EXPECT_EQ(problems[0].message, "'root' is not a role: viewer, nurse or admin");
}

TEST(Users, TokensAreLongUniqueAndNamesUnique) {
  const auto problems = validate(load_text(R"(
users:
  - {name: a, token: short, role: viewer}
  - {name: b, token: same-token-00001, role: nurse}
  - {name: b, token: same-token-00001, role: admin}
)").config);
  EXPECT_THAT(problems, testing::IsSupersetOf({problem_at("users[0].token", "at least"), problem_at("users[2].name", "twice"),
                                               problem_at("users[2].token", "another user")}));
}

TEST(Users, APasswordHashStandsInForATokenAndEachSuchUserGetsADistinctInternalToken) {
  const auto result = load_text(fmt::format(R"(
users:
  - {{name: nurse-ana, password_hash: '{}', role: nurse}}
  - {{name: nurse-cy, password_hash: '{}', role: nurse}}
  - {{name: dr-bo, token: admin-token-000003, password_hash: '{}', role: admin}}
)",
                                            quick_hash("ana's long secret"), quick_hash("cy's long secret"),
                                            quick_hash("bo's long secret")));
  ASSERT_THAT(result.problems, IsEmpty());
  ASSERT_EQ(result.config.users.size(), 3u);
  const auto& users = result.config.users;
  for (const auto i : {0, 1}) {
    SCOPED_TRACE(i);
    // 32 random bytes in hex: what the rest of the daemon knows the user by, never shown to anyone.
    EXPECT_THAT(users[i].token, testing::MatchesRegex("[0-9a-f]{64}"));
  }
  EXPECT_NE(users[0].token, users[1].token);
  EXPECT_EQ(users[2].token, "admin-token-000003");  // a configured token is kept
  // Another load draws other internal tokens.
  const auto again = load_text(fmt::format("users:\n  - {{name: nurse-ana, password_hash: '{}', role: nurse}}\n",
                                           quick_hash("ana's long secret")));
  ASSERT_THAT(again.problems, IsEmpty());
  EXPECT_NE(again.config.users[0].token, users[0].token);
}

TEST(Users, AMalformedPasswordHashIsRefusedWithItsKey) {
  // The password itself (no quote in it: the YAML quotes the hash), a broken hash, a cut one,
  // and an Argon2i hash (not Argon2id).
  ASSERT_GE(sodium_init(), 0);
  char argon2i[crypto_pwhash_STRBYTES];
  ASSERT_EQ(crypto_pwhash_argon2i_str(argon2i, "a long secret", 13, crypto_pwhash_argon2i_OPSLIMIT_MIN,
                                      crypto_pwhash_argon2i_MEMLIMIT_MIN),
            0);
  for (const std::string& hash : std::vector<std::string>{"anas long secret", "$argon2id$v=19$m=65536,t=2,p=1$garbage",
                                                         quick_hash("a long secret").substr(0, 40), argon2i}) {
    SCOPED_TRACE(hash);
    const auto problems =
        load_text(fmt::format("users:\n  - {{name: nurse-ana, password_hash: '{}', role: nurse}}\n", hash)).problems;
    EXPECT_THAT(problems, ElementsAre(problem_at("users[0].password_hash", "vigilctl hash-secret")));
  }
}

TEST(Users, AUserNeedsATokenOrAPasswordHash) {
  const auto problems = load_text("users:\n  - {name: nurse-ana, role: nurse}\n").problems;
  EXPECT_THAT(problems, ElementsAre(problem_at("users[0]", "needs a token, a password_hash or both")));
}

TEST(Users, OperatorsUnderControlSayWhereTheyMoved) {
  EXPECT_THAT(load_text("control:\n  operators:\n    - {name: a, token: token-0000000001}\n").problems,
              ElementsAre(problem_at("control.operators", "users")));
}

}  // namespace
}  // namespace vigil::config

namespace vigil::config {
namespace {

TEST(LoadText, ConnectionBudgetsAndFailedAuthenticationLimitsHaveDefaultsAndAreParsed) {
  const auto defaults = load_text("").config;
  EXPECT_EQ(defaults.ingest.max_unauthenticated, 256U);
  EXPECT_EQ(defaults.ingest.max_unauthenticated_per_peer, 128U);
  EXPECT_EQ(defaults.control.max_unauthenticated, 16U);
  EXPECT_EQ(defaults.control.max_unauthenticated_per_peer, 8U);
  EXPECT_EQ(defaults.control.handshake_timeout, std::chrono::milliseconds(5'000));
  EXPECT_EQ(defaults.feed.max_unauthenticated, 64U);
  EXPECT_EQ(defaults.feed.max_unauthenticated_per_peer, 16U);
  EXPECT_EQ(defaults.http.max_unauthenticated, 256U);
  EXPECT_EQ(defaults.http.max_unauthenticated_per_peer, 64U);
  EXPECT_EQ(defaults.http.unauthenticated_timeout, std::chrono::milliseconds(5'000));
  EXPECT_EQ(defaults.auth_failures.free_failures, 3U);
  EXPECT_EQ(defaults.auth_failures.window, std::chrono::milliseconds(300'000));
  EXPECT_EQ(defaults.auth_failures.first_delay, std::chrono::milliseconds(500));
  EXPECT_EQ(defaults.auth_failures.max_delay, std::chrono::milliseconds(8'000));
  EXPECT_EQ(defaults.auth_failures.block_after, 10U);
  EXPECT_EQ(defaults.auth_failures.block_for, std::chrono::milliseconds(300'000));
  EXPECT_EQ(defaults.auth_failures.max_peers, 10'000U);

  const auto result = load_text(R"(
ingest: {max_unauthenticated: 500, max_unauthenticated_per_peer: 400}
control: {max_unauthenticated: 4, max_unauthenticated_per_peer: 2, handshake_timeout_ms: 2500}
feed: {max_unauthenticated: 8, max_unauthenticated_per_peer: 3}
http: {max_unauthenticated: 100, max_unauthenticated_per_peer: 20, unauthenticated_timeout_ms: 3000}
auth_failures:
  free_failures: 5
  window_ms: 60000
  first_delay_ms: 100
  max_delay_ms: 2000
  block_after: 20
  block_ms: 600000
  max_peers: 5000
)");
  ASSERT_THAT(result.problems, IsEmpty());
  const auto& c = result.config;
  EXPECT_EQ(c.ingest.max_unauthenticated, 500U);
  EXPECT_EQ(c.ingest.max_unauthenticated_per_peer, 400U);
  EXPECT_EQ(c.control.max_unauthenticated, 4U);
  EXPECT_EQ(c.control.max_unauthenticated_per_peer, 2U);
  EXPECT_EQ(c.control.handshake_timeout, std::chrono::milliseconds(2'500));
  EXPECT_EQ(c.feed.max_unauthenticated, 8U);
  EXPECT_EQ(c.feed.max_unauthenticated_per_peer, 3U);
  EXPECT_EQ(c.http.max_unauthenticated, 100U);
  EXPECT_EQ(c.http.max_unauthenticated_per_peer, 20U);
  EXPECT_EQ(c.http.unauthenticated_timeout, std::chrono::milliseconds(3'000));
  EXPECT_EQ(c.auth_failures.free_failures, 5U);
  EXPECT_EQ(c.auth_failures.window, std::chrono::milliseconds(60'000));
  EXPECT_EQ(c.auth_failures.first_delay, std::chrono::milliseconds(100));
  EXPECT_EQ(c.auth_failures.max_delay, std::chrono::milliseconds(2'000));
  EXPECT_EQ(c.auth_failures.block_after, 20U);
  EXPECT_EQ(c.auth_failures.block_for, std::chrono::milliseconds(600'000));
  EXPECT_EQ(c.auth_failures.max_peers, 5'000U);

  const auto bad = load_text("auth_failures: {first_delay_ms: 3000, max_delay_ms: 1000}\ncontrol: {handshake_timeout_ms: 5}\n");
  EXPECT_TRUE(has_problem(bad, "auth_failures.max_delay_ms", "at least auth_failures.first_delay_ms"));
  EXPECT_TRUE(has_problem(bad, "control.handshake_timeout_ms", "outside the allowed range"));
}

TEST(LoadFile, ShippedConfigurationStatesTheDefaultsOfTheConnectionBudgets) {
  const std::filesystem::path shipped = std::filesystem::path(VIGIL_SOURCE_DIR) / "config" / "vigild.yaml";
  const auto c = load_file(shipped.string()).config;
  const auto d = load_text("").config;
  EXPECT_EQ(c.ingest.max_unauthenticated, d.ingest.max_unauthenticated);
  EXPECT_EQ(c.ingest.max_unauthenticated_per_peer, d.ingest.max_unauthenticated_per_peer);
  EXPECT_EQ(c.control.max_unauthenticated, d.control.max_unauthenticated);
  EXPECT_EQ(c.control.max_unauthenticated_per_peer, d.control.max_unauthenticated_per_peer);
  EXPECT_EQ(c.control.handshake_timeout, d.control.handshake_timeout);
  EXPECT_EQ(c.feed.max_unauthenticated, d.feed.max_unauthenticated);
  EXPECT_EQ(c.feed.max_unauthenticated_per_peer, d.feed.max_unauthenticated_per_peer);
  EXPECT_EQ(c.http.max_unauthenticated, d.http.max_unauthenticated);
  EXPECT_EQ(c.http.max_unauthenticated_per_peer, d.http.max_unauthenticated_per_peer);
  EXPECT_EQ(c.http.unauthenticated_timeout, d.http.unauthenticated_timeout);
  EXPECT_EQ(c.auth_failures.free_failures, d.auth_failures.free_failures);
  EXPECT_EQ(c.auth_failures.window, d.auth_failures.window);
  EXPECT_EQ(c.auth_failures.first_delay, d.auth_failures.first_delay);
  EXPECT_EQ(c.auth_failures.max_delay, d.auth_failures.max_delay);
  EXPECT_EQ(c.auth_failures.block_after, d.auth_failures.block_after);
  EXPECT_EQ(c.auth_failures.block_for, d.auth_failures.block_for);
  EXPECT_EQ(c.auth_failures.max_peers, d.auth_failures.max_peers);
}

}  // namespace
}  // namespace vigil::config

namespace vigil::config {
namespace {

using testing::Not;

TEST(Store, TheEmbeddedFileIsTheDefaultAndPostgresNeedsAUrl) {
  const auto defaults = load_text("");
  EXPECT_EQ(defaults.config.store.backend, "sqlite");
  EXPECT_EQ(defaults.config.store.pool_size, 2u);

  const auto shared = load_text("store:\n  backend: postgres\n  url: postgresql://vigil@db1:5432/clinic\n  pool_size: 4\n");
  EXPECT_THAT(shared.problems, ElementsAre());
  EXPECT_EQ(shared.config.store.backend, "postgres");
  EXPECT_EQ(shared.config.store.url, "postgresql://vigil@db1:5432/clinic");
  EXPECT_EQ(shared.config.store.pool_size, 4u);

  EXPECT_THAT(load_text("store:\n  backend: postgres\n").problems, ElementsAre(problem_at("store.url", "is empty")));
  EXPECT_THAT(load_text("store:\n  backend: postgres\n  url: /var/lib/vigil\n").problems,
              ElementsAre(problem_at("store.url", "postgresql://")));
  EXPECT_THAT(load_text("store:\n  url: postgresql://vigil@db1/clinic\n").problems,
              ElementsAre(problem_at("store.url", "store.backend is sqlite")));
  EXPECT_THAT(load_text("store:\n  backend: oracle\n").problems, ElementsAre(problem_at("store.backend")));
  EXPECT_THAT(load_text("store:\n  pool_size: 0\n").problems, ElementsAre(problem_at("store.pool_size")));
}

TEST(Cluster, ClusterModeIsOffByDefaultNeedsPostgresAndChecksItsKeys) {
  const auto defaults = load_text("");
  EXPECT_FALSE(defaults.config.cluster.enabled);
  EXPECT_EQ(defaults.config.cluster.lease, std::chrono::milliseconds(3000));

  const std::string postgres = "store:\n  backend: postgres\n  url: postgresql://vigil@db1:5432/clinic\n";
  const auto on = load_text(postgres +
                            "cluster:\n  enabled: true\n  node: vigil-a\n  lease_ms: 2000\n  advertise: vigil-a.clinic.example\n");
  EXPECT_THAT(on.problems, ElementsAre());
  EXPECT_TRUE(on.config.cluster.enabled);
  EXPECT_EQ(on.config.cluster.node, "vigil-a");
  EXPECT_EQ(on.config.cluster.lease, std::chrono::milliseconds(2000));
  EXPECT_EQ(on.config.cluster.advertise, "vigil-a.clinic.example");

  EXPECT_THAT(load_text("cluster:\n  enabled: true\n").problems,
              ElementsAre(problem_at("cluster.enabled", "store.backend: postgres")));
  EXPECT_THAT(load_text(postgres + "cluster:\n  lease_ms: 100\n").problems, ElementsAre(problem_at("cluster.lease_ms")));
  EXPECT_THAT(load_text(postgres + "cluster:\n  node: two words\n").problems, ElementsAre(problem_at("cluster.node")));
  EXPECT_THAT(load_text(postgres + "cluster:\n  advertise: host:7400\n").problems,
              ElementsAre(problem_at("cluster.advertise", "without a port")));
}

TEST(Store, APasswordInThePostgresUrlIsAWarningThatNamesThePasswordFileAndNotThePassword) {
  daemon_config config;
  config.store.backend = "postgres";
  config.store.url = "postgresql://vigil:s3cret-word@db1:5432/clinic";
  const auto problems = check_installation(config);
  EXPECT_THAT(problems, Contains(problem_at("store.url", "password file")));
  for (const auto& p : problems) EXPECT_EQ(p.message.find("s3cret-word"), std::string::npos) << p.message;
  EXPECT_THAT(problems, Not(Contains(problem_at("data_dir")))) << "with postgres the timeline is not in data_dir";

  config.store.url = "postgresql://vigil@db1:5432/clinic?sslmode=verify-full";
  EXPECT_THAT(check_installation(config), Not(Contains(problem_at("store.url"))));
}

}  // namespace
}  // namespace vigil::config
