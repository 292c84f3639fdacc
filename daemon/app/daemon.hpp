#pragma once

#include "daemon/clinic/clinic.hpp"
#include "daemon/hub/latency.hpp"
#include "daemon/config/config.hpp"
#include "daemon/ingest/stats.hpp"

#include <cstdint>
#include <memory>

namespace vigil::ingest {
class sample_sink;
}

namespace vigil::app {

/// vigild as an object: owns the I/O context, the listeners and their wiring.
/// Tests run it in-process; main() runs it with signal handling.
class daemon {
 public:
  struct options {
    bool handle_signals = true;                 // SIGINT and SIGTERM start a graceful stop
    std::shared_ptr<ingest::sample_sink> sink;  // where accepted batches are kept; null: memory only
    clinic::wall_clock clock;                   // null: the system clock
  };

  daemon(config::daemon_config config, options opts);
  ~daemon();
  daemon(const daemon&) = delete;
  daemon& operator=(const daemon&) = delete;

  /// Binds every listener and writes the ports file; throws std::exception with a clear message.
  void start();
  /// Serves until stopped; returns once every connection has closed or the shutdown timeout passed.
  void run();
  /// Starts a graceful stop. Safe to call from any thread, any number of times.
  void stop();

  std::uint16_t ingest_port() const;
  /// The bound control port; 0 when the control listener is disabled.
  std::uint16_t control_port() const;
  std::uint16_t feed_port() const;
  /// The bound HTTP port; 0 when the HTTP listener is disabled.
  std::uint16_t http_port() const;
  const ingest::stats& ingest_stats() const;
  /// From a sample's arrival to the end of the write of the alarm it raised, per feed
  /// subscriber (TCP and WebSocket). Safe to read from any thread.
  const hub::latency_histogram& alarm_delivery() const;
  const hub::latency_histogram& alarm_delivery_after_resume() const;

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace vigil::app
