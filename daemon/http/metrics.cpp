#include "daemon/http/metrics.hpp"

#include <prometheus/metric_family.h>
#include <prometheus/text_serializer.h>

#include <limits>

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

}  // namespace

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
                          "subscriber.",
                          f.alarm_delivery));

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
  return prometheus::TextSerializer().Serialize(out);
}

}  // namespace vigil::http
