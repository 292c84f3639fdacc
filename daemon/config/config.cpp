#include "daemon/config/config.hpp"

#include "daemon/config/profile_loader.hpp"
#include "daemon/config/yaml_section.hpp"
#include "daemon/http/passwords.hpp"
#include "daemon/http/sign_ins.hpp"
#include "daemon/ingest/device_registry.hpp"
#include "daemon/model/identifiers.hpp"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <boost/asio/ip/address.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <system_error>
#include <filesystem>
#include <fstream>
#include <limits>
#include <set>
#include <sstream>

namespace vigil::config {
namespace {

constexpr std::size_t min_token_length = 16;

/// Why `token` will not do as a secret; empty if it will. Example files ship placeholders, and a
/// placeholder left in place is a door anyone who read the example can open.
std::string secret_problem(std::string_view token) {
  if (token.size() < min_token_length) return fmt::format("must be at least {} characters", min_token_length);
  std::string lower(token);
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  for (const std::string_view placeholder : {"change-me", "changeme", "change_me", "replace-me", "replaceme",
                                             "replace_me", "placeholder", "example", "your-token", "password"}) {
    if (lower.find(placeholder) != std::string::npos) {
      return fmt::format("is a placeholder (it contains '{}'): set a secret of your own, e.g. from "
                         "'openssl rand -base64 24'",
                         placeholder);
    }
  }
  constexpr std::size_t min_distinct = 8;
  if (std::set<char>(token.begin(), token.end()).size() < min_distinct) {
    return fmt::format("is too simple to be a secret (fewer than {} different characters)", min_distinct);
  }
  return {};
}

using detail::section;

/// Why store.url cannot serve the configured backend; empty if it can.
std::string store_url_problem(const store_settings& store) {
  const bool postgres_url = store.url.rfind("postgresql://", 0) == 0 || store.url.rfind("postgres://", 0) == 0;
  if (store.backend == "postgres" && store.url.empty()) {
    return "is empty: the postgres backend needs a connection URL, postgresql://user@host:port/database";
  }
  if (store.backend == "postgres" && !postgres_url) {
    return "must be a PostgreSQL URL starting postgresql:// (postgresql://user@host:port/database)";
  }
  if (store.backend == "sqlite" && !store.url.empty()) {
    return "is set, but store.backend is sqlite (the timeline is data_dir/timeline.db): set store.backend: postgres "
           "to use it, or remove it";
  }
  return {};
}

/// Whether a PostgreSQL URL carries a password ("postgresql://user:secret@host/..."): a secret in
/// the configuration file, which belongs in PostgreSQL's password file instead.
bool url_has_password(const std::string& url) {
  const auto scheme = url.find("://");
  if (scheme == std::string::npos) return false;
  const auto authority_end = url.find_first_of("/?", scheme + 3);
  const std::string authority = url.substr(scheme + 3, authority_end == std::string::npos ? std::string::npos
                                                                                          : authority_end - scheme - 3);
  const auto at = authority.rfind('@');
  return at != std::string::npos && authority.substr(0, at).find(':') != std::string::npos;
}

void read_devices(section& listener, std::vector<ingest::device_credential>& devices,
                  std::vector<problem>& problems) {
  const YAML::Node list = listener.list("devices");
  if (!list) return;
  devices.clear();
  for (std::size_t i = 0; i < list.size(); ++i) {
    section entry(list[i], fmt::format("{}[{}]", listener.key_of("devices"), i), problems);
    ingest::device_credential device;
    entry.text("id", device.id);
    entry.text("token", device.token);
    entry.text("chair", device.chair);
    devices.push_back(std::move(device));
  }
}

void read(const YAML::Node& root, daemon_config& config, std::vector<problem>& problems) {
  section top(root, "", problems);
  top.text("ports_file", config.ports_file);
  top.text("data_dir", config.data_dir);
  top.integer<int>("retention_days", config.retention_days, 0, 36'500);
  {
    section timeline = top.child("store");
    timeline.choice("backend", config.store.backend, {"sqlite", "postgres"});
    timeline.text("url", config.store.url);
    timeline.integer<std::size_t>("pool_size", config.store.pool_size, 1, 64);
  }
  {
    section cluster = top.child("cluster");
    cluster.boolean("enabled", config.cluster.enabled);
    cluster.text("node", config.cluster.node);
    cluster.millis("lease_ms", config.cluster.lease, 300, 60'000);
    cluster.text("advertise", config.cluster.advertise);
  }
  top.millis("shutdown_timeout_ms", config.shutdown_timeout, 100, 60'000);
  {
    section logging = top.child("log");
    logging.choice("level", config.log.level, {"trace", "debug", "info", "warn", "error", "critical", "off"});
    std::string style = config.log.style == log::format::json ? "json" : "text";
    logging.choice("format", style, {"text", "json"});
    config.log.style = style == "json" ? log::format::json : log::format::text;
    logging.text("file", config.log.file);
  }
  {
    auto& in = config.ingest;
    section listener = top.child("ingest");
    listener.text("address", in.address);
    listener.integer<std::uint16_t>("port", in.port, 0, 65535);
    listener.integer<std::size_t>("max_connections", in.max_connections, 1, 100'000);
    listener.integer<std::size_t>("max_unauthenticated", in.max_unauthenticated, 1, 100'000);
    listener.integer<std::size_t>("max_unauthenticated_per_peer", in.max_unauthenticated_per_peer, 1, 100'000);
    listener.integer<std::size_t>("max_frame_bytes", in.max_frame_bytes, 64, codec::hard_max_frame_bytes);
    listener.millis("handshake_timeout_ms", in.handshake_timeout, 100, 600'000);
    listener.millis("idle_timeout_ms", in.idle_timeout, 100, 3'600'000);
    listener.millis("close_timeout_ms", in.close_timeout, 10, 60'000);
    listener.integer<std::uint64_t>("seq_window", in.seq_window, 1, 4'294'967'295);
    read_devices(listener, in.devices, problems);
  }
  {
    auto& ctl = config.control;
    section control = top.child("control");
    control.boolean("enabled", ctl.enabled);
    control.text("address", ctl.address);
    control.integer<std::uint16_t>("port", ctl.port, 0, 65535);
    control.integer<std::size_t>("max_connections", ctl.max_connections, 1, 10'000);
    control.integer<std::size_t>("max_unauthenticated", ctl.max_unauthenticated, 1, 10'000);
    control.integer<std::size_t>("max_unauthenticated_per_peer", ctl.max_unauthenticated_per_peer, 1, 10'000);
    control.millis("handshake_timeout_ms", ctl.handshake_timeout, 100, 600'000);
    control.millis("idle_timeout_ms", ctl.idle_timeout, 1'000, 86'400'000);
    if (control.has("operators")) {
      control.report(control.key_of("operators"), "has moved: list people under the top-level 'users' key, each with a role");
    }
  }
  {
    auto& f = config.feed;
    section feeds = top.child("feed");
    feeds.boolean("enabled", f.enabled);
    feeds.text("address", f.address);
    feeds.integer<std::uint16_t>("port", f.port, 0, 65535);
    feeds.integer<std::size_t>("max_connections", f.max_connections, 1, 100'000);
    feeds.integer<std::size_t>("max_unauthenticated", f.max_unauthenticated, 1, 100'000);
    feeds.integer<std::size_t>("max_unauthenticated_per_peer", f.max_unauthenticated_per_peer, 1, 100'000);
    feeds.millis("handshake_timeout_ms", f.handshake_timeout, 100, 60'000);
    feeds.integer<std::size_t>("soft_queue_bytes", f.soft_queue_bytes, 4'096, 1'073'741'824);
    feeds.integer<std::size_t>("hard_queue_bytes", f.hard_queue_bytes, 4'096, 1'073'741'824);
    feeds.millis("slow_grace_ms", f.slow_grace, 0, 600'000);
    feeds.integer<std::size_t>("history_events", f.history_events, 0, 10'000'000);
    feeds.integer<std::size_t>("send_buffer_bytes", f.send_buffer_bytes, 0, 16 * 1024 * 1024);
    auto& web = config.http;
    section http = top.child("http");
    http.boolean("enabled", web.enabled);
    http.text("address", web.address);
    http.integer<std::uint16_t>("port", web.port, 0, 65535);
    http.integer<std::size_t>("max_connections", web.max_connections, 1, 100'000);
    http.integer<std::size_t>("max_unauthenticated", web.max_unauthenticated, 1, 100'000);
    http.integer<std::size_t>("max_unauthenticated_per_peer", web.max_unauthenticated_per_peer, 1, 100'000);
    http.millis("unauthenticated_timeout_ms", web.unauthenticated_timeout, 100, 600'000);
    http.integer<std::size_t>("max_body_bytes", web.max_body_bytes, 1'024, 16 * 1024 * 1024);
    http.millis("idle_timeout_ms", web.idle_timeout, 1'000, 3'600'000);
    http.millis("read_timeout_ms", web.read_timeout, 100, 600'000);
    auto signin_hours = web.signin_validity.count();
    http.integer<decltype(signin_hours)>("signin_hours", signin_hours, 1, 168);
    web.signin_validity = std::chrono::hours(signin_hours);
  }
  {
    auto& a = config.auth_failures;
    section failures = top.child("auth_failures");
    failures.integer<std::size_t>("free_failures", a.free_failures, 0, 1'000);
    failures.millis("window_ms", a.window, 1'000, 86'400'000);
    failures.millis("first_delay_ms", a.first_delay, 0, 60'000);
    failures.millis("max_delay_ms", a.max_delay, 0, 60'000);
    failures.integer<std::size_t>("block_after", a.block_after, 0, 100'000);
    failures.millis("block_ms", a.block_for, 0, 86'400'000);
    failures.integer<std::size_t>("max_peers", a.max_peers, 100, 10'000'000);
  }
  {
    const YAML::Node list = top.list("users");
    for (std::size_t i = 0; list && i < list.size(); ++i) {
      section entry(list[i], fmt::format("users[{}]", i), problems);
      control::user u;
      entry.text("name", u.name);
      entry.text("token", u.token);
      entry.text("password_hash", u.password_hash);
      // vigild knows users by their token inside (control service, records of who did what);
      // one who only signs in with a password gets one nobody is shown, a new one each load.
      if (u.token.empty() && !u.password_hash.empty()) u.token = http::random_token();
      std::string role;
      entry.text("role", role);
      if (const auto r = control::role_from_name(role)) {
        u.role = *r;
      } else if (role.empty()) {
        entry.report(entry.key_of("role"), "is required: viewer, nurse or admin");
      } else {
        entry.report(entry.key_of("role"), fmt::format("'{}' is not a role: viewer, nurse or admin", role));
      }
      config.users.push_back(std::move(u));
    }
  }
  {
    section alarms = top.child("engine");
    alarms.text("profiles_dir", config.profiles_dir);
    alarms.text("default_profile", config.default_profile);
  }
}

/// Loads the profiles of `config.profiles_dir` (relative to `base`) and checks the default.
void load_profiles(daemon_config& config, const std::filesystem::path& base, std::vector<problem>& problems) {
  if (config.profiles_dir.empty()) {
    if (config.default_profile != "generic") {
      problems.push_back({"engine.default_profile",
                          fmt::format("'{}' needs engine.profiles_dir; only 'generic' is built in", config.default_profile)});
    }
    return;
  }
  std::filesystem::path dir(config.profiles_dir);
  if (dir.is_relative() && !base.empty()) dir = base / dir;
  auto loaded = load_profile_dir(dir.string());
  for (auto& p : loaded.problems) {
    problems.push_back({p.key.empty() ? "engine.profiles_dir" : "engine.profiles_dir: " + p.key, std::move(p.message)});
  }
  config.profiles = std::move(loaded.profiles);
  const bool found = std::any_of(config.profiles.begin(), config.profiles.end(),
                                 [&](const engine::profile& p) { return p.id == config.default_profile; });
  if (!found && loaded.problems.empty()) {
    problems.push_back({"engine.default_profile",
                        fmt::format("no profile '{}' in {}", config.default_profile, dir.string())});
  }
}

load_result parse(const std::string& text, const std::filesystem::path& base) {
  load_result result;
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    // Without the file's name: whoever prints the problem names the file once, before it.
    result.problems.push_back(
        {"", fmt::format("YAML syntax error at line {}, column {}: {}", e.mark.line + 1, e.mark.column + 1, e.msg)});
    return result;
  }
  read(root, result.config, result.problems);
  load_profiles(result.config, base, result.problems);
  // Relative data directories are taken from the configuration file's own directory too.
  if (!result.config.data_dir.empty() && std::filesystem::path(result.config.data_dir).is_relative() && !base.empty()) {
    result.config.data_dir = (base / result.config.data_dir).lexically_normal().string();
  }
  auto more = validate(result.config);
  result.problems.insert(result.problems.end(), more.begin(), more.end());
  return result;
}

}  // namespace

std::vector<problem> validate(const daemon_config& config) {
  std::vector<problem> problems;
  boost::system::error_code ec;
  boost::asio::ip::make_address(config.ingest.address, ec);
  if (ec) problems.push_back({"ingest.address", fmt::format("'{}' is not an IP address", config.ingest.address)});

  std::set<std::string> ids;
  for (std::size_t i = 0; i < config.ingest.devices.size(); ++i) {
    const auto& d = config.ingest.devices[i];
    const std::string key = fmt::format("ingest.devices[{}]", i);
    // The same rules the handshake applies, so that no configured device is one that can never connect.
    if (!model::valid_device_id(d.id)) {
      problems.push_back({key + ".id", "must be 1 to 128 printable ASCII characters without spaces"});
    }
    if (!d.id.empty() && !ids.insert(d.id).second) problems.push_back({key + ".id", fmt::format("'{}' is listed twice", d.id)});
    if (auto why = secret_problem(d.token); !why.empty()) problems.push_back({key + ".token", std::move(why)});
    if (!d.chair.empty() && !model::valid_chair_id(d.chair)) {
      problems.push_back({key + ".chair", "must be 1 to 64 printable ASCII characters without spaces"});
    }
  }

  if (auto why = store_url_problem(config.store); !why.empty()) problems.push_back({"store.url", std::move(why)});
  if (config.cluster.enabled && config.store.backend != "postgres") {
    problems.push_back({"cluster.enabled", "needs store.backend: postgres (the daemons of a cluster share its database)"});
  }
  if (!config.cluster.node.empty() && !model::valid_chair_id(config.cluster.node)) {
    problems.push_back({"cluster.node", "must be 1 to 64 printable ASCII characters without spaces"});
  }
  // A colon is a port, unless the whole is an IPv6 address.
  bool colon_port = false;
  if (config.cluster.advertise.find(':') != std::string::npos) {
    boost::asio::ip::make_address_v6(config.cluster.advertise, ec);
    colon_port = static_cast<bool>(ec);
    ec.clear();
  }
  if (colon_port || config.cluster.advertise.find_first_of(" \t\r\n/") != std::string::npos) {
    problems.push_back({"cluster.advertise", "must be a host name or an IP address, without a port or spaces"});
  }

  boost::asio::ip::make_address(config.feed.address, ec);
  if (ec) problems.push_back({"feed.address", fmt::format("'{}' is not an IP address", config.feed.address)});
  if (config.feed.hard_queue_bytes < config.feed.soft_queue_bytes) {
    problems.push_back({"feed.hard_queue_bytes", "must be at least feed.soft_queue_bytes"});
  }
  if (config.auth_failures.max_delay < config.auth_failures.first_delay) {
    problems.push_back({"auth_failures.max_delay_ms", "must be at least auth_failures.first_delay_ms"});
  }
  boost::asio::ip::make_address(config.control.address, ec);
  if (ec) problems.push_back({"control.address", fmt::format("'{}' is not an IP address", config.control.address)});
  boost::asio::ip::make_address(config.http.address, ec);
  if (ec) problems.push_back({"http.address", fmt::format("'{}' is not an IP address", config.http.address)});
  std::set<std::string> names;
  std::set<std::string> tokens;
  for (std::size_t i = 0; i < config.users.size(); ++i) {
    const auto& o = config.users[i];
    const std::string key = fmt::format("users[{}]", i);
    if (!model::valid_identifier(o.name, model::max_user_name_length)) {
      problems.push_back({key + ".name", "must be 1 to 64 printable ASCII characters without spaces"});
    } else if (!names.insert(o.name).second) {
      problems.push_back({key + ".name", fmt::format("'{}' is listed twice", o.name)});
    }
    if (o.token.empty() && o.password_hash.empty()) {
      problems.push_back({key, "needs a token, a password_hash or both"});
    } else if (auto why = secret_problem(o.token); !why.empty()) {
      problems.push_back({key + ".token", std::move(why)});
    } else if (!tokens.insert(o.token).second) {
      problems.push_back({key + ".token", "is the same as another user's: everyone needs their own"});
    }
    if (!o.password_hash.empty() && !http::is_argon2id_hash(o.password_hash)) {
      problems.push_back({key + ".password_hash",
                          "is not an Argon2id hash ($argon2id$v=19$...): make one with 'vigilctl hash-secret'"});
    }
  }
  return problems;
}

load_result load_text(const std::string& text, const std::string&) { return parse(text, {}); }

load_result load_file(const std::string& path) {
  const auto failed = [](std::string why) {
    load_result result;
    result.problems.push_back({"", "cannot read: " + why});
    return result;
  };
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) return failed(std::make_error_code(std::errc::is_a_directory).message());
  std::ifstream in(path);
  if (!in) return failed(std::error_code(errno, std::generic_category()).message());
  std::stringstream text;
  text << in.rdbuf();
  if (in.bad()) return failed(std::error_code(errno, std::generic_category()).message());
  // Relative paths in the file (engine.profiles_dir) are taken from the file's own directory.
  return parse(text.str(), std::filesystem::path(path).parent_path());
}

bool has_errors(const std::vector<problem>& problems) {
  return std::any_of(problems.begin(), problems.end(), [](const problem& p) { return p.level == severity::error; });
}

namespace {

std::string reason(int error) { return std::error_code(error, std::generic_category()).message(); }

/// Why the existing directory `dir` cannot take the timeline; empty if it can. Tried, not
/// guessed from permission bits: root, ACLs, read-only mounts and SELinux all have their say.
std::string unwritable(const std::filesystem::path& dir) {
  const auto probe = dir / fmt::format(".vigild-check-{}", ::getpid());
  const int fd = ::open(probe.c_str(), O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0600);
  if (fd < 0) return fmt::format("'{}' is not writable: {}", dir.string(), reason(errno));
  ::close(fd);
  ::unlink(probe.c_str());
  const auto db = dir / "timeline.db";
  std::error_code ec;
  if (std::filesystem::exists(std::filesystem::symlink_status(db, ec))) {
    const int fd_db = ::open(db.c_str(), O_RDWR | O_CLOEXEC);
    if (fd_db < 0) return fmt::format("'{}' cannot be opened for writing: {}", db.string(), reason(errno));
    ::close(fd_db);
  }
  return {};
}

/// Why `data_dir` cannot be used by vigild; empty if it can.
std::string data_dir_problem(const std::string& data_dir) {
  namespace fs = std::filesystem;
  const fs::path dir(data_dir);
  std::error_code ec;
  const auto status = fs::status(dir, ec);
  if (fs::exists(status)) {
    if (!fs::is_directory(status)) return fmt::format("'{}' is not a directory", data_dir);
    return unwritable(dir);
  }
  // Missing: created the way vigild creates it, probed, and removed again, up to the first
  // directory that was there before.
  std::vector<fs::path> made;
  for (fs::path p = dir; !p.empty() && !fs::exists(fs::symlink_status(p, ec)); p = p.parent_path()) {
    made.push_back(p);
    if (p == p.parent_path()) break;
  }
  std::string why;
  for (auto it = made.rbegin(); it != made.rend(); ++it) {
    if (::mkdir(it->c_str(), 0750) != 0) {
      why = fmt::format("'{}' does not exist and cannot be created: {}", data_dir, reason(errno));
      made.erase(made.begin(), it.base());  // only those made before are removed
      break;
    }
  }
  if (why.empty()) {
    why = unwritable(dir);
  }
  for (const auto& p : made) ::rmdir(p.c_str());  // deepest first; one not made fails harmlessly: it is not empty
  return why;
}

/// The tokens of config/demo.yaml, printed in README.md: fine for the demo, known to anyone.
bool published_token(std::string_view token) {
  return token == "demo-operator-token" || token == "sim-device-token";
}

}  // namespace

std::vector<problem> check_installation(const daemon_config& config) {
  std::vector<problem> problems;
  const auto warn = [&problems](std::string key, std::string message) {
    problems.push_back({std::move(key), std::move(message), severity::warning});
  };
  if (config.store.backend == "postgres") {
    if (url_has_password(config.store.url)) {
      warn("store.url", "holds a password: leave it out and put it in PostgreSQL's password file (~/.pgpass of the "
                        "user vigild runs as, or the file PGPASSFILE names), readable by that user only");
    }
  } else if (config.data_dir.empty()) {
    warn("data_dir", "is empty: nothing is stored, acks only mean \"received\", and a restart forgets open sessions "
                     "and their alarms");
  } else if (auto why = data_dir_problem(config.data_dir); !why.empty()) {
    problems.push_back({"data_dir", std::move(why)});
  }
  if (config.ingest.devices.empty()) warn("ingest.devices", "none listed: every monitor is refused");
  if (config.users.empty()) {
    warn("users", "none listed: every request on the control, feed and HTTP listeners (the nurse station, vigilctl) "
                  "is refused");
  }
  constexpr std::string_view advice = ": set a secret of your own, e.g. from 'openssl rand -base64 24'";
  for (std::size_t i = 0; i < config.ingest.devices.size(); ++i) {
    if (published_token(config.ingest.devices[i].token)) {
      warn(fmt::format("ingest.devices[{}].token", i),
           fmt::format("is the demo's token, published in README.md and config/demo.yaml{}", advice));
    }
  }
  for (std::size_t i = 0; i < config.users.size(); ++i) {
    if (published_token(config.users[i].token)) {
      warn(fmt::format("users[{}].token", i),
           fmt::format("is the demo's token, published in README.md and config/demo.yaml{}", advice));
    }
  }
  // Every listener is plain TCP: on an address other machines can reach, its tokens and what it
  // carries can be read (and replayed) by anyone on the network (docs/configuration.md).
  const auto plain = [&warn](const std::string& key, const std::string& address, std::string_view carries) {
    boost::system::error_code ec;
    const auto a = boost::asio::ip::make_address(address, ec);
    if (ec || a.is_loopback()) return;  // an address that is no address is an error of validate()
    warn(key, fmt::format("'{}' is reachable from other machines and the listener has no TLS: {} cross the network "
                          "unencrypted",
                          address, carries));
  };
  plain("ingest.address", config.ingest.address, "device tokens and vital signs");
  if (config.control.enabled) plain("control.address", config.control.address, "user tokens and commands");
  if (config.feed.enabled) {
    plain("feed.address", config.feed.address, "user tokens, patients' sessions, vital signs and alarms");
  }
  if (config.http.enabled) {
    plain("http.address", config.http.address, "user tokens, patients' sessions, vital signs and alarms");
  }
  return problems;
}

}  // namespace vigil::config
