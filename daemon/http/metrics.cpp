#include "daemon/http/metrics.hpp"

#include <prometheus/metric_family.h>
#include <prometheus/text_serializer.h>

#include <sys/resource.h>
#include <unistd.h>

#include <charconv>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>

namespace vigil::http {
namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

constexpr std::array<const char*, 3> priorities = {"low", "medium", "high"};

ClientMetric value(double v, MetricType type, std::vector<ClientMetric::Label> labels = {}) {
  ClientMetric m;
  m.label = std::move(labels);
  if (type == MetricType::Counter) {
    m.counter.value = v;
  } else {
    m.gauge.value = v;
  }
  return m;
}

MetricFamily family(std::string name, std::string help, MetricType type) {
  MetricFamily f;
  f.name = std::move(name);
  f.help = std::move(help);
  f.type = type;
  return f;
}

MetricFamily single(std::string name, std::string help, MetricType type, double v) {
  auto f = family(std::move(name), std::move(help), type);
  f.metric.push_back(value(v, type));
  return f;
}

MetricFamily by_priority(std::string name, std::string help, MetricType type, const std::array<std::uint64_t, 3>& counts) {
  auto f = family(std::move(name), std::move(help), type);
  for (std::size_t i = 0; i < counts.size(); ++i) {
    f.metric.push_back(value(static_cast<double>(counts[i]), type, {{"priority", priorities[i]}}));
  }
  return f;
}

ClientMetric histogram_metric(const histogram_counters& h, std::vector<ClientMetric::Label> labels);

MetricFamily histogram(std::string name, std::string help, const histogram_counters& h) {
  auto f = family(std::move(name), std::move(help), MetricType::Histogram);
  f.metric.push_back(histogram_metric(h, {}));
  return f;
}

ClientMetric histogram_metric(const histogram_counters& h, std::vector<ClientMetric::Label> labels) {
  ClientMetric m;
  m.label = std::move(labels);
  for (const auto& [bound, count] : h.buckets) m.histogram.bucket.push_back({count, bound});
  m.histogram.bucket.push_back({h.count, std::numeric_limits<double>::infinity()});
  m.histogram.sample_count = h.count;
  m.histogram.sample_sum = h.sum_seconds;
  return m;
}

/// The alarm burden's series: per rule at a priority, patient time, time to acknowledge.
void add_burden(std::vector<MetricFamily>& out, const burden_counters& b) {
  constexpr auto counter = MetricType::Counter;
  out.push_back(single("vigil_patient_seconds_total",
                       "Time sessions have been open (session time), all sessions added; alarms per patient-hour is "
                       "3600 * rate(vigil_session_alarms_raised_total) / rate(vigil_patient_seconds_total).",
                       counter, b.patient_seconds));
  auto raised = family("vigil_session_alarms_raised_total",
                       "Alarms raised in sessions, by rule, kind and priority (chair advisories outside a session are "
                       "not counted).",
                       counter);
  auto short_cleared = family("vigil_session_alarms_short_total",
                              "Alarms of sessions cleared less than 30 s after they were raised.", counter);
  auto acknowledged = family("vigil_session_alarms_acknowledged_total",
                             "Alarms of sessions acknowledged at least once (counted at the first acknowledgement).",
                             counter);
  auto seconds = family("vigil_session_alarm_seconds_total",
                        "Alarm time in sessions: each alarm from raised to cleared, or to now while active.", counter);
  for (const auto& r : b.rules) {
    const std::vector<ClientMetric::Label> labels = {{"rule", r.rule}, {"kind", r.kind}, {"priority", r.priority}};
    raised.metric.push_back(value(static_cast<double>(r.raised), counter, labels));
    short_cleared.metric.push_back(value(static_cast<double>(r.short_cleared), counter, labels));
    acknowledged.metric.push_back(value(static_cast<double>(r.acknowledged), counter, labels));
    seconds.metric.push_back(value(r.alarm_seconds, counter, labels));
  }
  out.push_back(std::move(raised));
  out.push_back(std::move(short_cleared));
  out.push_back(std::move(acknowledged));
  out.push_back(std::move(seconds));
  auto ack = family("vigil_session_alarm_ack_seconds",
                    "Time from an alarm's raising to its first acknowledgement, by priority (alarms of sessions).",
                    MetricType::Histogram);
  for (std::size_t i = 0; i < b.ack_seconds.size(); ++i) {
    ack.metric.push_back(histogram_metric(b.ack_seconds[i], {{"priority", priorities[i]}}));
  }
  out.push_back(std::move(ack));
}

/// The process_* families: those of the Prometheus client libraries, for their dashboards.
void add_process(std::vector<MetricFamily>& out, const process_counters& p) {
  const auto add = [&out](const char* name, const char* help, MetricType type, const std::optional<double>& v) {
    if (v) out.push_back(single(name, help, type, *v));
  };
  add("process_cpu_seconds_total", "Total user and system CPU time spent in seconds.", MetricType::Counter,
      p.cpu_seconds);
  add("process_open_fds", "Number of open file descriptors.", MetricType::Gauge, p.open_fds);
  add("process_max_fds", "Maximum number of open file descriptors.", MetricType::Gauge, p.max_fds);
  add("process_virtual_memory_bytes", "Virtual memory size in bytes.", MetricType::Gauge, p.virtual_bytes);
  add("process_resident_memory_bytes", "Resident memory size in bytes.", MetricType::Gauge, p.resident_bytes);
  add("process_start_time_seconds", "Start time of the process since unix epoch in seconds.", MetricType::Gauge,
      p.start_time_seconds);
}

}  // namespace

process_counters parse_proc_stat(std::string_view stat, long ticks_per_second, long page_size,
                                 std::optional<double> boot_time) {
  process_counters p;
  // "pid (comm) state ppid ...": comm may hold spaces and parentheses, so fields are counted
  // from the last ')'. Field 3 (state) is the first after it.
  const auto close = stat.rfind(')');
  if (close == std::string_view::npos) return p;
  std::vector<std::string_view> fields;
  for (std::size_t i = close + 1; i < stat.size();) {
    while (i < stat.size() && (stat[i] == ' ' || stat[i] == '\n')) ++i;
    const auto begin = i;
    while (i < stat.size() && stat[i] != ' ' && stat[i] != '\n') ++i;
    if (i > begin) fields.push_back(stat.substr(begin, i - begin));
  }
  const auto field = [&fields](std::size_t number) -> std::optional<double> {
    if (number < 3 || number - 3 >= fields.size()) return std::nullopt;
    const auto text = fields[number - 3];
    unsigned long long v = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
    return static_cast<double>(v);
  };
  const auto utime = field(14);
  const auto stime = field(15);
  if (utime && stime && ticks_per_second > 0) p.cpu_seconds = (*utime + *stime) / static_cast<double>(ticks_per_second);
  if (const auto start = field(22); start && boot_time && ticks_per_second > 0) {
    p.start_time_seconds = *boot_time + *start / static_cast<double>(ticks_per_second);
  }
  p.virtual_bytes = field(23);
  if (const auto rss = field(24); rss && page_size > 0) p.resident_bytes = *rss * static_cast<double>(page_size);
  return p;
}

process_counters read_process_counters() {
  std::optional<double> boot_time;
  {
    std::ifstream in("/proc/stat");
    for (std::string line; std::getline(in, line);) {
      if (line.starts_with("btime ")) {
        boot_time = std::strtod(line.c_str() + 6, nullptr);
        break;
      }
    }
  }
  std::string stat;
  {
    std::ifstream in("/proc/self/stat");
    std::getline(in, stat);
  }
  auto p = parse_proc_stat(stat, ::sysconf(_SC_CLK_TCK), ::sysconf(_SC_PAGESIZE), boot_time);
  std::error_code ec;
  double open = 0;
  for (std::filesystem::directory_iterator it("/proc/self/fd", ec), end; !ec && it != end; it.increment(ec)) ++open;
  // The iterator's own descriptor was among them.
  if (!ec && open > 0) p.open_fds = open - 1;
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur != RLIM_INFINITY) {
    p.max_fds = static_cast<double>(limit.rlim_cur);
  }
  return p;
}

std::string render_metrics(const metrics_snapshot& m) {
  constexpr auto counter = MetricType::Counter;
  constexpr auto gauge = MetricType::Gauge;
  std::vector<MetricFamily> out;

  auto info = family("vigil_build_info", "Always 1; the version of vigild in a label.", gauge);
  info.metric.push_back(value(1, gauge, {{"version", m.version}}));
  out.push_back(std::move(info));

  auto open = family("vigil_connections", "Connections open now, by listener.", gauge);
  auto accepted = family("vigil_connections_accepted_total", "TCP connections accepted, by listener.", counter);
  auto refused = family("vigil_connections_refused_total",
                        "Connections refused at the listener's connection limit (all authenticated), by listener.",
                        counter);
  auto unauthenticated = family("vigil_connections_unauthenticated",
                                "Connections open now that have not authenticated, by listener.", gauge);
  auto refused_unauthenticated =
      family("vigil_unauthenticated_refused_total",
             "Connections refused because their address already held its limit of unauthenticated ones, by listener.",
             counter);
  auto evicted = family("vigil_unauthenticated_evicted_total",
                        "Oldest unauthenticated connections closed to make room for a new one, by listener.", counter);
  auto blocked = family("vigil_connections_blocked_total",
                        "Connections closed on accept because their address was blocked for failed authentications, by "
                        "listener.",
                        counter);
  auto auth_failures = family("vigil_auth_failures_total",
                              "Failed authentications (a token or device that is nobody's), by listener.", counter);
  auto auth_delayed = family("vigil_auth_failures_delayed_total",
                             "Failed authentications answered after a delay, by listener.", counter);
  auto bad_requests = family("vigil_bad_requests_total",
                             "Bad frames and malformed requests, by listener (ingest: as vigil_protocol_errors_total).",
                             counter);
  for (const auto& l : m.listeners) {
    const std::vector<ClientMetric::Label> labels = {{"listener", l.name}};
    const auto d = [](std::uint64_t v) { return static_cast<double>(v); };
    open.metric.push_back(value(d(l.open), gauge, labels));
    accepted.metric.push_back(value(d(l.accepted), counter, labels));
    refused.metric.push_back(value(d(l.refused), counter, labels));
    unauthenticated.metric.push_back(value(d(l.unauthenticated), gauge, labels));
    refused_unauthenticated.metric.push_back(value(d(l.refused_unauthenticated), counter, labels));
    evicted.metric.push_back(value(d(l.evicted), counter, labels));
    blocked.metric.push_back(value(d(l.blocked), counter, labels));
    auth_failures.metric.push_back(value(d(l.auth_failures), counter, labels));
    auth_delayed.metric.push_back(value(d(l.auth_delayed), counter, labels));
    bad_requests.metric.push_back(value(d(l.bad_requests), counter, labels));
  }
  out.push_back(std::move(open));
  out.push_back(std::move(accepted));
  out.push_back(std::move(refused));
  out.push_back(std::move(unauthenticated));
  out.push_back(std::move(refused_unauthenticated));
  out.push_back(std::move(evicted));
  out.push_back(std::move(blocked));
  out.push_back(std::move(auth_failures));
  out.push_back(std::move(auth_delayed));
  out.push_back(std::move(bad_requests));

  const auto d = [](std::uint64_t v) { return static_cast<double>(v); };
  out.push_back(single("vigil_peers_blocked", "Addresses blocked now for failed authentications (all listeners).",
                       gauge, d(m.peers_blocked)));
  out.push_back(single("vigil_peer_blocks_total", "Blocks of an address for failed authentications begun.", counter,
                       d(m.peer_blocks)));
  out.push_back(single("vigil_samples_accepted_total",
                       "Samples accepted from monitors (flagged ones included); rate() of it is samples per second.",
                       counter, d(m.samples_accepted)));
  out.push_back(single("vigil_samples_rejected_total", "Samples rejected as malformed.", counter, d(m.samples_rejected)));
  out.push_back(single("vigil_samples_flagged_total", "Samples kept but flagged implausible.", counter,
                       d(m.samples_flagged)));
  auto judged = family("vigil_samples_judged_artefact_total",
                        "Samples sent as good and judged artefacts in context, by reason (alarms.md 3.6).", counter);
  for (const auto& [reason, n] : m.samples_judged) judged.metric.push_back(value(d(n), counter, {{"reason", reason}}));
  out.push_back(std::move(judged));
  out.push_back(single("vigil_batches_accepted_total", "Sample batches accepted.", counter, d(m.batches_accepted)));
  out.push_back(single("vigil_batches_duplicate_total", "Resent batches dropped as already accepted.", counter,
                       d(m.batches_duplicate)));
  out.push_back(single("vigil_protocol_errors_total",
                       "Bad frames and protocol violations on the device port (each closes its connection).", counter,
                       d(m.protocol_errors)));
  out.push_back(single("vigil_handshakes_refused_total", "Device handshakes refused (unknown device, bad token, ...).",
                       counter, d(m.handshakes_refused)));
  out.push_back(single("vigil_sessions_open", "Sessions open now.", gauge, d(m.sessions_open)));
  out.push_back(by_priority("vigil_alarms_raised_total", "Alarms raised since vigild started, by priority.", counter,
                            m.alarms_raised));
  out.push_back(by_priority("vigil_alarms_active", "Alarms active now (open sessions and chair advisories), by priority.",
                            gauge, m.alarms_active));
  add_burden(out, m.burden);

  const auto& f = m.feeds;
  out.push_back(single("vigil_feed_subscribers", "Feed subscribers connected now (TCP and WebSocket).", gauge,
                       d(f.subscribers)));
  out.push_back(single("vigil_feed_queued_bytes", "Bytes waiting in subscribers' queues, all subscribers together.",
                       gauge, d(f.queued_bytes)));
  out.push_back(single("vigil_feed_subscribers_dropped_total",
                       "Subscribers disconnected for falling too far behind (they resume from their last event id).",
                       counter, d(f.dropped_slow)));
  out.push_back(single("vigil_feed_events_total", "Events published to the feeds.", counter, d(f.events)));
  out.push_back(single("vigil_feed_frames_total", "Frames queued to subscribers.", counter, d(f.frames)));
  out.push_back(single("vigil_feed_vitals_merged_total",
                       "Vitals updates merged into a later one for a subscriber's interval or a slow reader.", counter,
                       d(f.vitals_merged)));
  out.push_back(single("vigil_feed_resumes_total", "Subscriptions that resumed after an event id.", counter,
                       d(f.resumes)));
  out.push_back(histogram("vigil_feed_alarm_delivery_seconds",
                          "Time from the arrival of a sample to the end of the write of the alarm it raised, per "
                          "subscriber, except alarms that waited for the write of a resume's replay.",
                          f.alarm_delivery));
  out.push_back(histogram("vigil_feed_alarm_delivery_after_resume_seconds",
                          "The same for alarms raised while a resuming subscriber's replay was still being written.",
                          f.alarm_delivery_after_resume));

  if (m.store) {
    const auto& s = *m.store;
    out.push_back(single("vigil_store_saving", "1 while the timeline is being saved, 0 while commits fail.", gauge,
                         s.saving ? 1 : 0));
    out.push_back(single("vigil_store_queue_items", "Items (batches, events, retention runs) waiting for the writer.",
                         gauge, d(s.queued)));
    out.push_back(single("vigil_store_transactions_total", "Timeline transactions committed.", counter,
                         d(s.transactions)));
    out.push_back(single("vigil_store_failures_total", "Timeline transactions that failed and were rolled back.", counter,
                         d(s.failures)));
    out.push_back(single("vigil_store_events_dropped_total",
                         "Events dropped after the disk failed for longer than the store could keep them.", counter,
                         d(s.events_dropped)));
    out.push_back(histogram("vigil_store_commit_latency_seconds",
                            "Time from a batch being queued to its transaction's commit.", s.commit_latency));
  }
  if (m.cluster) {
    const auto& c = *m.cluster;
    out.push_back(single("vigil_store_writes_refused_total",
                         "Cluster mode: batches, events, checkpoints and bindings not written because another daemon "
                         "took their chair over.",
                         counter, d(m.store ? m.store->refused : 0)));
    out.push_back(single("vigil_cluster_database_reachable", "1 while the lease rounds reach the database, 0 while not.",
                         gauge, c.reachable ? 1 : 0));
    out.push_back(single("vigil_cluster_chairs_held", "Chairs this daemon holds a lease on.", gauge, d(c.chairs_held)));
    out.push_back(single("vigil_cluster_rounds_total", "Lease rounds completed.", counter, d(c.rounds)));
    out.push_back(single("vigil_cluster_rounds_failed_total", "Lease rounds that could not reach the database.", counter,
                         d(c.failed_rounds)));
    out.push_back(single("vigil_cluster_chairs_taken_total", "Chairs taken: new, given up or after a lease ran out.",
                         counter, d(c.taken)));
    out.push_back(single("vigil_cluster_chairs_lost_total", "Chairs another daemon took over while this one held them.",
                         counter, d(c.lost)));
    out.push_back(single("vigil_cluster_chairs_handed_over_total", "Chairs handed to a daemon holding fewer than its share.",
                         counter, d(c.handed_over)));
  }
  add_process(out, m.process);
  return prometheus::TextSerializer().Serialize(out);
}

}  // namespace vigil::http
