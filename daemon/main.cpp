// vigild: the Vigil daemon. Parses the command line and runs the app.

#include "daemon/app/daemon.hpp"
#include "daemon/config/config.hpp"
#include "daemon/log/log.hpp"

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <exception>

namespace {

int report(const std::vector<vigil::config::problem>& problems, const std::string& origin) {
  for (const auto& p : problems) {
    std::fprintf(stderr, "%s: %s%s%s\n", origin.c_str(), p.key.c_str(), p.key.empty() ? "" : ": ", p.message.c_str());
  }
  return problems.empty() ? 0 : 2;
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

  if (!check_path.empty()) {
    const auto loaded = vigil::config::load_file(check_path);
    if (const int rc = report(loaded.problems, check_path); rc != 0) return rc;
    std::printf("%s: configuration is valid (%zu devices)\n", check_path.c_str(), loaded.config.ingest.devices.size());
    return 0;
  }

  vigil::config::daemon_config config;
  if (!config_path.empty()) {
    auto loaded = vigil::config::load_file(config_path);
    if (const int rc = report(loaded.problems, config_path); rc != 0) return rc;
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
  if (const int rc = report(vigil::config::validate(config), "command line"); rc != 0) return rc;

  try {
    vigil::log::configure(config.log);
    if (config.ingest.devices.empty()) {
      vigil::log::component_logger("app")->warn("no devices configured: every device will be refused");
    }
    vigil::app::daemon daemon(std::move(config), {});
    daemon.start();
    daemon.run();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "vigild: %s\n", e.what());
    return 1;
  }
  return 0;
}
