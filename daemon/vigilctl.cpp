// vigilctl: the operators' command line. Talks to vigild's control listener.

#include "daemon/codec/frame.hpp"
#include "vigil/v1/control.pb.h"

#include <CLI/CLI.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <fmt/format.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <optional>

namespace asio = boost::asio;
using vigil::v1::ControlRequest;
using vigil::v1::ControlResponse;

namespace {

std::optional<std::uint16_t> read_control_port(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("control:", 0) != 0) continue;
    try {
      const unsigned long port = std::stoul(line.substr(8));
      if (port == 0 || port > 65535) return std::nullopt;
      return static_cast<std::uint16_t>(port);
    } catch (const std::exception&) {
      return std::nullopt;
    }
  }
  return std::nullopt;
}

/// Sends one request and returns its response; throws std::runtime_error on transport faults.
ControlResponse call(const std::string& host, std::uint16_t port, ControlRequest request) {
  asio::io_context io;
  asio::ip::tcp::resolver resolver(io);
  asio::ip::tcp::socket socket(io);
  asio::connect(socket, resolver.resolve(host, std::to_string(port)));
  request.set_request_id(1);
  std::string frame;
  vigil::codec::append_frame(frame, request);
  asio::write(socket, asio::buffer(frame));
  vigil::codec::frame_decoder decoder(vigil::codec::hard_max_frame_bytes);
  ControlResponse response;
  for (;;) {
    const auto f = decoder.next(response);
    if (f.status == vigil::codec::decode_status::ok) return response;
    if (f.status == vigil::codec::decode_status::bad) {
      throw std::runtime_error(fmt::format("bad response: {}", vigil::codec::describe(f.error)));
    }
    const auto space = decoder.prepare();
    boost::system::error_code ec;
    const std::size_t n = socket.read_some(asio::buffer(space.data(), space.size()), ec);
    if (ec) throw std::runtime_error(fmt::format("connection closed before a response: {}", ec.message()));
    decoder.commit(n);
  }
}

std::string clock_time(std::int64_t ms) {
  if (ms == 0) return "-";
  const std::time_t seconds = static_cast<std::time_t>(ms / 1000);
  std::tm local{};
  localtime_r(&seconds, &local);
  char text[16];
  std::strftime(text, sizeof text, "%H:%M:%S", &local);
  return text;
}

std::string_view phase_name(vigil::v1::Phase p) {
  switch (p) {
    case vigil::v1::PHASE_BASELINE: return "baseline";
    case vigil::v1::PHASE_OBSERVATION: return "observation";
    case vigil::v1::PHASE_READY: return "READY for discharge assessment";
    case vigil::v1::PHASE_CLOSED: return "closed";
    case vigil::v1::PHASE_ABORTED: return "aborted";
    default: return "?";
  }
}

void print_sessions(const ControlResponse& response) {
  for (const auto& a : response.advisories()) {
    std::printf("%-10s no session: %s (advisory %llu)\n", a.chair_id().c_str(), a.alarm().text().c_str(),
                static_cast<unsigned long long>(a.alarm().alarm_id()));
  }
  if (response.sessions().empty()) {
    std::printf("no open sessions\n");
    return;
  }
  for (const auto& s : response.sessions()) {
    std::printf("%-10s session %llu  patient %s  profile %s  %s  opened %s  dose %s%s\n", s.chair_id().c_str(),
                static_cast<unsigned long long>(s.session_id()), s.patient_ref().c_str(), s.profile().c_str(),
                std::string(phase_name(s.phase())).c_str(), clock_time(s.opened_at_ms()).c_str(),
                clock_time(s.dose_at_ms()).c_str(),
                s.paused_until_ms() ? fmt::format("  audio paused until {}", clock_time(s.paused_until_ms())).c_str() : "");
    for (const auto& a : s.alarms()) {
      const char* level = a.priority() == vigil::v1::PRIORITY_HIGH     ? "HIGH"
                          : a.priority() == vigil::v1::PRIORITY_MEDIUM ? "MEDIUM"
                                                                       : "low";
      std::printf("    alarm %-5llu %-6s %-20s %s%s%s\n", static_cast<unsigned long long>(a.alarm_id()), level,
                  a.rule().c_str(), a.text().c_str(),
                  a.acknowledged() ? fmt::format("  [acknowledged by {}]", a.acknowledged_by()).c_str() : "",
                  a.condition() ? "" : "  [latched]");
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App cli{"vigilctl: open sessions, mark doses and acknowledge alarms on a running vigild"};
  cli.require_subcommand(1);
  std::string host = "127.0.0.1";
  std::uint16_t port = 7401;
  std::string ports_file;
  std::string token;
  cli.add_option("--host", host, "vigild host")->capture_default_str();
  cli.add_option("--port", port, "vigild control port")->capture_default_str();
  cli.add_option("--ports-file", ports_file, "Read the control port from vigild's ports file");
  cli.add_option("--token", token, "Operator token (default: $VIGIL_TOKEN)");

  ControlRequest request;
  std::string chair, text_a, text_b;
  std::uint64_t alarm_id = 0;
  unsigned seconds = 120;

  auto* sessions = cli.add_subcommand("sessions", "List open sessions with their alarms");
  auto* open = cli.add_subcommand("open", "Open a session on a chair");
  open->add_option("chair", chair, "Chair id")->required();
  open->add_option("--patient", text_a, "Patient reference (not a name)")->required();
  open->add_option("--profile", text_b, "Protocol profile id (default: the daemon's default)");
  auto* override_cmd = cli.add_subcommand("override", "Let the first dose go ahead despite the pre-dose BP check");
  override_cmd->add_option("chair", chair, "Chair id")->required();
  override_cmd->add_option("--reason", text_a, "Why")->required();
  auto* dose = cli.add_subcommand("dose", "Mark a dose given now");
  dose->add_option("chair", chair, "Chair id")->required();
  dose->add_option("--route", text_a, "iv, im, intranasal, sublingual, ...")->required();
  dose->add_option("--dose", text_b, "Dose as text, e.g. '56 mg'")->required();
  auto* ack = cli.add_subcommand("ack", "Acknowledge an alarm");
  ack->add_option("chair", chair, "Chair id")->required();
  ack->add_option("alarm", alarm_id, "Alarm id (from 'sessions')")->required();
  auto* pause = cli.add_subcommand("pause", "Pause a chair's alarm audio for a while");
  pause->add_option("chair", chair, "Chair id")->required();
  pause->add_option("--seconds", seconds, "How long")->capture_default_str();
  auto* close = cli.add_subcommand("close", "Close a session (after the discharge assessment)");
  close->add_option("chair", chair, "Chair id")->required();
  auto* abort_cmd = cli.add_subcommand("abort", "Abort a session");
  abort_cmd->add_option("chair", chair, "Chair id")->required();
  abort_cmd->add_option("--reason", text_a, "Why")->required();
  try {
    cli.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help exits 0; every other parse problem is a usage error.
    return cli.exit(e) == 0 ? 0 : 2;
  }

  if (token.empty()) {
    if (const char* env = std::getenv("VIGIL_TOKEN")) token = env;
  }
  if (token.empty()) {
    std::fprintf(stderr, "vigilctl: no operator token: use --token or set VIGIL_TOKEN\n");
    return 2;
  }
  if (!ports_file.empty()) {
    const auto p = read_control_port(ports_file);
    if (!p) {
      std::fprintf(stderr, "vigilctl: no 'control:' line in %s\n", ports_file.c_str());
      return 2;
    }
    port = *p;
  }
  request.set_token(token);
  if (*sessions) {
    request.mutable_list_sessions();
  } else if (*open) {
    auto& c = *request.mutable_open_session();
    c.set_chair_id(chair);
    c.set_patient_ref(text_a);
    c.set_profile(text_b);
  } else if (*override_cmd) {
    request.mutable_override_predose()->set_chair_id(chair);
    request.mutable_override_predose()->set_reason(text_a);
  } else if (*dose) {
    auto& c = *request.mutable_mark_dose();
    c.set_chair_id(chair);
    c.set_route(text_a);
    c.set_dose(text_b);
  } else if (*ack) {
    request.mutable_acknowledge()->set_chair_id(chair);
    request.mutable_acknowledge()->set_alarm_id(alarm_id);
  } else if (*pause) {
    request.mutable_pause_audio()->set_chair_id(chair);
    request.mutable_pause_audio()->set_duration_s(seconds);
  } else if (*close || *abort_cmd) {
    auto& c = *request.mutable_close_session();
    c.set_chair_id(chair);
    c.set_abort(abort_cmd->parsed());
    c.set_reason(text_a);
  }

  try {
    const auto response = call(host, port, request);
    if (response.error() != vigil::v1::CONTROL_ERROR_NONE) {
      std::fprintf(stderr, "vigilctl: %s: %s\n", vigil::v1::ControlError_Name(response.error()).c_str(),
                   response.message().c_str());
      // Refused by the daemon: 1. Not served at all (busy): 2, like any connection problem.
      return response.error() == vigil::v1::CONTROL_ERROR_TOO_MANY_CONNECTIONS ? 2 : 1;
    }
    if (*sessions) {
      print_sessions(response);
    } else {
      std::printf("ok (session %llu)\n", static_cast<unsigned long long>(response.session_id()));
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "vigilctl: cannot reach vigild at %s:%u: %s\n", host.c_str(), port, e.what());
    return 2;
  }
  return 0;
}
