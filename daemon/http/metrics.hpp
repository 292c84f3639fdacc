#pragma once

// /metrics: the daemon's counters in the Prometheus text exposition format (version 0.0.4).
// The app fills a snapshot on the I/O thread at each scrape; rendering it is pure.

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace vigil::http {

/// The counters of one listener (ingest, control, feed, http).
struct listener_counters {
  std::string name;
  std::uint64_t open = 0;
  std::uint64_t accepted = 0;
  std::uint64_t refused = 0;  // at the connection limit
  std::uint64_t unauthenticated = 0;          // open now, not authenticated
  std::uint64_t refused_unauthenticated = 0;  // the address was at its unauthenticated limit
  std::uint64_t evicted = 0;                  // oldest unauthenticated, closed to make room
  std::uint64_t blocked = 0;                  // closed on accept: the address is blocked
  std::uint64_t auth_failures = 0;
  std::uint64_t auth_delayed = 0;
  std::uint64_t bad_requests = 0;
};

/// The timeline store's counters, when the daemon keeps a timeline.
/// A histogram as Prometheus wants it: (upper bound in seconds, observations at or under it),
/// cumulative and ascending, without the +Inf bucket (that is `count`).
struct histogram_counters {
  std::vector<std::pair<double, std::uint64_t>> buckets;
  std::uint64_t count = 0;
  double sum_seconds = 0;
};

struct store_counters {
  bool saving = true;
  std::uint64_t transactions = 0;
  std::uint64_t failures = 0;
  std::uint64_t events_dropped = 0;
  std::uint64_t queued = 0;
  std::uint64_t refused = 0;  // cluster mode: writes for chairs whose lease this daemon lost
  histogram_counters commit_latency;
};

/// Cluster mode's lease keeper (docs/deployment.md §3).
struct cluster_counters {
  bool reachable = true;
  std::uint64_t chairs_held = 0;
  std::uint64_t rounds = 0;
  std::uint64_t failed_rounds = 0;
  std::uint64_t taken = 0;
  std::uint64_t lost = 0;
  std::uint64_t handed_over = 0;
};

/// The feed hub's counters.
struct feed_counters {
  std::uint64_t subscribers = 0;
  std::uint64_t queued_bytes = 0;
  std::uint64_t dropped_slow = 0;
  std::uint64_t events = 0;
  std::uint64_t frames = 0;
  std::uint64_t vitals_merged = 0;
  std::uint64_t resumes = 0;
  histogram_counters alarm_delivery;
  histogram_counters alarm_delivery_after_resume;
};

/// The alarms of one rule at one priority, in sessions (chair advisories outside a session are
/// no patient's and not counted), since vigild started.
struct burden_rule_counters {
  std::string rule;
  std::string kind;      // physiological, technical, advisory
  std::string priority;  // low, medium, high
  std::uint64_t raised = 0;
  std::uint64_t short_cleared = 0;  // cleared less than 30 s after raised
  std::uint64_t acknowledged = 0;   // acknowledged at least once
  double alarm_seconds = 0;         // raised to cleared, or to now while active
};

/// The alarm burden since vigild started (docs/api.md section 6.2).
struct burden_counters {
  double patient_seconds = 0;  // time sessions have been open, all added
  std::vector<burden_rule_counters> rules;
  std::array<histogram_counters, 3> ack_seconds;  // raised to first acknowledgement, by priority low, medium, high
};

/// The process's own figures, as the Prometheus client libraries name them (process_*). Each is
/// absent when it could not be read.
struct process_counters {
  std::optional<double> resident_bytes;
  std::optional<double> virtual_bytes;
  std::optional<double> cpu_seconds;
  std::optional<double> open_fds;
  std::optional<double> max_fds;
  std::optional<double> start_time_seconds;  // since the Unix epoch
};

/// The figures of /proc/self/stat's line (`stat`, as the kernel writes it), given the clock
/// ticks per second, the page size and the boot time (btime of /proc/stat). Pure.
process_counters parse_proc_stat(std::string_view stat, long ticks_per_second, long page_size,
                                 std::optional<double> boot_time);

/// This process's figures, from /proc/self and getrlimit.
process_counters read_process_counters();

/// Everything /metrics reports, read at one moment.
struct metrics_snapshot {
  std::string version;
  std::vector<listener_counters> listeners;
  std::uint64_t samples_accepted = 0;
  std::uint64_t samples_rejected = 0;
  std::uint64_t samples_flagged = 0;
  std::uint64_t batches_accepted = 0;
  std::uint64_t batches_duplicate = 0;
  std::uint64_t protocol_errors = 0;
  std::uint64_t handshakes_refused = 0;
  std::uint64_t sessions_open = 0;
  std::uint64_t peers_blocked = 0;  // addresses blocked now for failed authentications
  std::uint64_t peer_blocks = 0;    // blocks begun
  std::array<std::uint64_t, 3> alarms_raised{};  // low, medium, high
  std::array<std::uint64_t, 3> alarms_active{};  // low, medium, high
  // Samples judged artefacts in context, by reason name (alarms.md 3.6).
  std::vector<std::pair<std::string, std::uint64_t>> samples_judged;
  std::optional<store_counters> store;
  std::optional<cluster_counters> cluster;
  feed_counters feeds;
  burden_counters burden;
  process_counters process;
};

/// The Content-Type of what render_metrics returns.
inline constexpr const char* metrics_content_type = "text/plain; version=0.0.4; charset=utf-8";

/// The snapshot in the Prometheus text format.
std::string render_metrics(const metrics_snapshot& m);

}  // namespace vigil::http
