// vigild: the Vigil daemon. Parses the command line and runs the app.

#include "daemon/app/daemon.hpp"
#include "daemon/config/config.hpp"
#include "daemon/log/log.hpp"

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdio>
#include <exception>

namespace {

using vigil::config::problem;
using vigil::config::severity;

// --check-config's exit statuses (docs/configuration.md): 2 as before for errors, so scripts that
// test for 2, or for anything but 0, keep working.
constexpr int exit_valid = 0;
constexpr int exit_errors = 2;
constexpr int exit_warnings = 3;

/// Prints each problem on a line of its own: "ORIGIN: KEY: MESSAGE" for an error,
/// "ORIGIN: KEY: warning: MESSAGE" for a warning ("ORIGIN: MESSAGE" for the file as a whole).
void print(const std::vector<problem>& problems, const std::string& origin) {
  for (const auto& p : problems) {
    std::fprintf(stderr, "%s: %s%s%s%s\n", origin.c_str(), p.key.c_str(), p.key.empty() ? "" : ": ",
                 p.level == severity::warning ? "warning: " : "", p.message.c_str());
  }
}

/// Prints the errors among `problems`; exit_errors if there are any, else 0.
int report_errors(const std::vector<problem>& problems, const std::string& origin) {
  std::vector<problem> errors;
  for (const auto& p : problems) {
    if (p.level == severity::error) errors.push_back(p);
  }
  print(errors, origin);
  return errors.empty() ? 0 : exit_errors;
}

/// vigild --check-config FILE: every error and warning, then the exit status.
int check_config(const std::string& path) {
  auto loaded = vigil::config::load_file(path);
  auto& problems = loaded.problems;
  // A file that cannot be read or parsed says nothing about the installation.
  const bool whole_file = std::any_of(problems.begin(), problems.end(), [](const problem& p) { return p.key.empty(); });
  if (!whole_file) {
    auto more = vigil::config::check_installation(loaded.config);
    problems.insert(problems.end(), more.begin(), more.end());
  }
  print(problems, path);
  if (vigil::config::has_errors(problems)) return exit_errors;
  const auto devices = loaded.config.ingest.devices.size();
  if (!problems.empty()) {
    std::printf("%s: configuration is valid, with %zu warning%s (%zu devices)\n", path.c_str(), problems.size(),
                problems.size() == 1 ? "" : "s", devices);
    return exit_warnings;
  }
  std::printf("%s: configuration is valid (%zu devices)\n", path.c_str(), devices);
  return exit_valid;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App cli{"vigild: watches vital signs during ketamine and esketamine sessions and raises alarms"};
  std::string config_path;
  std::string check_path;
  std::optional<std::string> ingest_address;
  std::optional<std::uint16_t> ingest_port;
  std::optional<std::string> log_level;
  std::optional<std::string> log_format;
  std::optional<std::string> log_file;
  std::optional<std::string> ports_file;
  cli.add_option("-c,--config", config_path, "Configuration file (YAML); without it, built-in defaults")
      ->check(CLI::ExistingFile);
  cli.add_option("--check-config", check_path, "Check a configuration file, report each problem with its key, exit");
  cli.add_option("--ingest-address", ingest_address, "Override ingest.address");
  cli.add_option("--ingest-port", ingest_port, "Override ingest.port (0 picks a free port)");
  std::optional<std::uint16_t> control_port;
  cli.add_option("--control-port", control_port, "Override control.port (0 picks a free port)");
  std::optional<std::uint16_t> feed_port;
  cli.add_option("--feed-port", feed_port, "Override feed.port (0 picks a free port)");
  std::optional<std::uint16_t> http_port;
  cli.add_option("--http-port", http_port, "Override http.port (0 picks a free port)");
  cli.add_option("--log-level", log_level, "Override log.level")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "critical", "off"}));
  cli.add_option("--log-format", log_format, "Override log.format")->check(CLI::IsMember({"text", "json"}));
  cli.add_option("--log-file", log_file, "Override log.file");
  cli.add_option("--ports-file", ports_file, "Override ports_file: where to write the bound ports");
  cli.set_version_flag("--version", std::string("vigild ") + VIGIL_VERSION);
  CLI11_PARSE(cli, argc, argv);

  if (!check_path.empty()) return check_config(check_path);

  vigil::config::daemon_config config;
  if (!config_path.empty()) {
    auto loaded = vigil::config::load_file(config_path);
    if (const int rc = report_errors(loaded.problems, config_path); rc != 0) return rc;
    config = std::move(loaded.config);
  }
  if (ingest_address) config.ingest.address = *ingest_address;
  if (ingest_port) config.ingest.port = *ingest_port;
  if (control_port) config.control.port = *control_port;
  if (feed_port) config.feed.port = *feed_port;
  if (http_port) config.http.port = *http_port;
  if (log_level) config.log.level = *log_level;
  if (log_format) config.log.style = *log_format == "json" ? vigil::log::format::json : vigil::log::format::text;
  if (log_file) config.log.file = *log_file;
  if (ports_file) config.ports_file = *ports_file;
  if (const int rc = report_errors(vigil::config::validate(config), "command line"); rc != 0) return rc;
  // The same checks as --check-config, on the configuration as the flags left it.
  const auto installation = vigil::config::check_installation(config);
  if (const int rc = report_errors(installation, config_path.empty() ? "defaults" : config_path); rc != 0) return rc;

  try {
    vigil::log::configure(config.log);
    for (const auto& p : installation) vigil::log::component_logger("app")->warn("configuration: {}: {}", p.key, p.message);
    vigil::app::daemon daemon(std::move(config), {});
    daemon.start();
    daemon.run();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "vigild: %s\n", e.what());
    return 1;
  }
  return 0;
}
