#include "daemon/app/daemon.hpp"

#include "daemon/app/cluster_keeper.hpp"

#include "daemon/app/durable_sink.hpp"
#include "daemon/clinic/clinic.hpp"
#include "daemon/control/server.hpp"
#include "daemon/control/service.hpp"
#include "daemon/feed/server.hpp"
#include "daemon/hub/hub.hpp"
#include "daemon/http/server.hpp"
#include "daemon/ingest/device_registry.hpp"
#include "daemon/ingest/server.hpp"
#include "daemon/ingest/sink.hpp"
#include "daemon/log/log.hpp"
#include "daemon/report/alarm_burden.hpp"
#include "daemon/store/read_pool.hpp"
#include "daemon/store/postgres_timeline.hpp"
#include "daemon/store/sqlite_timeline.hpp"

#include <boost/asio/io_context.hpp>
#include <google/protobuf/stubs/logging.h>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <stdexcept>

namespace vigil::app {

namespace asio = boost::asio;

namespace {

constexpr std::chrono::seconds stats_interval{60};
// How often session time moves on between samples: timers fire at most this late. Each tick
// reaches 1/tick_slices of the chairs, one slice every tick_interval / tick_slices, so a large
// clinic's timers never hold the I/O thread (and the alarms behind it) for one long moment.
constexpr std::chrono::milliseconds tick_interval{1000};
constexpr std::size_t tick_slices = 10;
// How often closed sessions past their retention are looked for (and once at start).
constexpr std::chrono::hours retention_interval{1};

/// Opens the configured timeline: a PostgreSQL database (store.backend: postgres), or the SQLite
/// file under data_dir, creating the directory; null when neither is configured.
std::unique_ptr<store::timeline> open_timeline(const config::daemon_config& config,
                                               const std::shared_ptr<store::lease_set>& leases, const std::string& node) {
  if (config.store.backend == "postgres") {
    return std::make_unique<store::postgres_timeline>(store::postgres_options{config.store.url, 4096, leases, node});
  }
  const std::string& data_dir = config.data_dir;
  if (data_dir.empty()) return nullptr;
  std::error_code ec;
  std::filesystem::create_directories(data_dir, ec);
  if (ec) throw std::runtime_error("cannot create data_dir '" + data_dir + "': " + ec.message());
  return std::make_unique<store::sqlite_timeline>(
      store::options{(std::filesystem::path(data_dir) / "timeline.db").string()});
}

engine::millis wall_now() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

/// Writes "name: port" lines, one per listener.
void write_ports_file(const std::string& path, const std::vector<std::pair<std::string, std::uint16_t>>& ports) {
  // Written whole and renamed into place, so a reader never sees half a file.
  const std::string temporary = path + ".tmp";
  {
    std::ofstream out(temporary, std::ios::trunc);
    for (const auto& [name, port] : ports) out << name << ": " << port << "\n";
    if (!out.flush()) throw std::runtime_error("cannot write ports file '" + temporary + "'");
  }
  std::error_code ec;
  std::filesystem::rename(temporary, path, ec);
  if (ec) throw std::runtime_error("cannot write ports file '" + path + "': " + ec.message());
}

hub::limits hub_limits(const feed::settings& s) {
  hub::limits l;
  l.soft_bytes = s.soft_queue_bytes;
  l.hard_bytes = s.hard_queue_bytes;
  l.soft_grace = s.slow_grace;
  l.history_events = s.history_events;
  return l;
}

http::histogram_counters counters_of(const hub::latency_histogram& h) {
  return {h.prometheus_buckets(), h.count(), h.sum_seconds()};
}

std::string profile_names(const config::daemon_config& c) {
  if (c.profiles.empty()) return "generic (built in)";
  std::string names;
  for (const auto& p : c.profiles) names += (names.empty() ? "" : ", ") + p.id;
  return names;
}

}  // namespace

struct daemon::impl {
  impl(config::daemon_config c, options o)
      : config(std::move(c)),
        opts(std::move(o)),
        log(log::component_logger("app")),
        registry(config.ingest.devices),
        node(config.cluster.enabled ? store::cluster_node_name(config.cluster.node) : std::string()),
        leases(config.cluster.enabled ? std::make_shared<store::lease_set>() : nullptr),
        timeline(opts.sink ? nullptr : open_timeline(config, leases, node)),
        durable(timeline ? std::make_shared<durable_sink>(*timeline) : nullptr),
        storage(opts.sink      ? opts.sink
                : durable ? std::static_pointer_cast<ingest::sample_sink>(durable)
                          : std::static_pointer_cast<ingest::sample_sink>(std::make_shared<ingest::memory_sink>())),
        clinic(config.profiles.empty() ? std::vector<engine::profile>{engine::generic_profile()} : config.profiles,
               config.default_profile, *storage, opts.clock ? opts.clock : clinic::wall_clock(wall_now),
               opts.clock),
        commands(clinic, config.users),
        hub(hub_limits(config.feed), clinic.alarms(), history()),
        failures(config.auth_failures),
        signals(io),
        shutdown_timer(io),
        stats_timer(io),
        tick_timer(io),
        retention_timer(io),
        ingest(io, config.ingest, registry, clinic, counters, &failures) {
    if (timeline) reads.emplace([t = timeline.get()] { return t->open_reader(); }, config.store.pool_size);
    registry.chair_in_use_by([this](std::string_view chair) { return clinic.alarms().session_id(chair) != 0; });
    registry.record_bindings_with([this](const std::string& chair, const std::string& device) {
      log->info("device '{}' now serves chair '{}' (its entry names no chair, so no other such device may)", device,
                chair);
      if (timeline) timeline->bind_chair(chair, device, opts.clock ? opts.clock() : wall_now());
    });
    commands.on_device_reset([this](const std::string& device_id, const std::string& who, const std::string& reason,
                                    std::function<void(control::reset_report)> done) {
      reset_device(device_id, who, reason, std::move(done));
    });
    if (config.control.enabled) control.emplace(io, config.control, commands, &failures);
    if (config.feed.enabled) feeds.emplace(io, config.feed, hub, config.users, &failures);
    clinic.observe([this](const std::vector<engine::event>& events,
                          std::chrono::steady_clock::time_point origin) {
                     hub.publish(events, origin);
                     for (const auto& e : events) burden.add(e);
                   },
                   [this](std::string_view chair, std::uint64_t session, std::span<const model::vital_sample> samples) {
                     hub.publish_vitals(chair, session, samples);
                   });
    if (config.http.enabled) {
      web.emplace(io, config.http, commands,
                  http::sources{[this] { return metrics(); }, [this] { return health(); },
                                reads ? &*reads : nullptr},
                  http::feed_context{hub, config.users, config.feed}, &failures);
    }
    if (timeline) {
      durable->attach(io.get_executor());
      // Read once, before anything is served; every later read runs on the read pool.
      const auto reader = timeline->open_reader();
      // Devices resume where the disk says, so resends of stored batches are dropped.
      const auto seqs = reader->device_seqs();
      for (const auto& [device, seq] : seqs) registry.seed(device, seq);
      for (const auto& [chair, device] : reader->chair_bindings()) registry.seed_binding(chair, device);

      clinic.record_state_with([this, t = timeline.get()](const std::vector<engine::event>& events,
                                                          std::vector<clinic::chair_checkpoint> checkpoints,
                                                          clinic::saved_callback saved) {
        std::vector<store::stored_checkpoint> stored;
        stored.reserve(checkpoints.size());
        for (auto& cp : checkpoints) stored.push_back({std::move(cp.chair), cp.saved_ms, std::move(cp.state)});
        store::timeline::completion done;
        if (saved) {
          // On the writer thread: the clinic and whoever waits for the answer live on the I/O thread.
          done = [this, saved = std::move(saved)](bool ok) { asio::post(io, [saved, ok] { saved(ok); }); };
        }
        t->append_state(events, std::move(stored), std::move(done));
      });
      if (leases) {
        join_cluster();
      } else {
        recover(*reader);
      }
      timeline->on_health([this](bool saving, const std::string& reason) {
        // On the writer thread: the clinic lives on the ingest thread.
        asio::post(io, [this, saving, reason] {
          timeline_saving = saving;
          timeline_reason = reason;
          if (saving) {
            log->info("the timeline is being saved again");
          } else {
            log->error("the timeline is not being saved: {}; alarms keep working, devices are not acked", reason);
          }
          clinic.storage_changed(saving);
        });
      });
      log->info("timeline in {}: {} devices resume from their stored seqs", timeline->where(), seqs.size());
    }  // without a data_dir: vigild's configuration check has warned (docs/configuration.md)
  }

  ~impl() {
    // Commit what is queued while the io_context, which commit results are posted to, still exists.
    if (timeline) {
      // A clean stop gives back the ids it reserved and did not hand out, so that ids run on
      // without a gap after an ordinary restart (only a crash skips the rest of a block).
      timeline->reserve_ids(clinic.handed_out(), nullptr, true);
      timeline->flush();
      // Committed: the other daemons may take this one's chairs over now.
      if (keeper) keeper->stop(true);
      timeline->on_health(nullptr);
      timeline->stop();
      // Events still held for a disk that never came back are lost now: say so, as the minute
      // statistics would have.
      const auto dropped = timeline->stats().events_dropped;
      if (dropped > last_events_dropped) {
        log->error("{} timeline events could not be saved before the stop (the disk was failing) and are lost",
                   dropped - last_events_dropped);
      }
    }
  }

  /// Feeds resuming from before the events kept in memory read the timeline on the read pool;
  /// the answers come back to the I/O thread. Empty without a timeline.
  hub::history history() {
    if (!timeline) return {};
    hub::history h;
    // The reader thread also encodes the events' frames, so the I/O thread only queues them.
    h.read = [this](std::uint64_t after, std::size_t limit, hub::format encoding, hub::history::done done) {
      store::read(
          *reads,
          [after, limit, encoding](store::reader& r) {
            hub::history_answer a;
            a.events = r.events_after(after, limit);
            a.frames.reserve(a.events.size());
            for (const auto& e : a.events) a.frames.push_back(hub::hub::frame_of(e, encoding));
            return a;
          },
          [this, done = std::move(done)](store::read_result<hub::history_answer> got) {
            hub::history_answer a = got.value ? std::move(*got.value) : hub::history_answer{false, got.error, {}, {}, 0};
            asio::post(io, [done, a = std::move(a)]() mutable { done(std::move(a)); });
          });
    };
    h.count = [this](std::uint64_t after, std::uint64_t before, std::size_t cap, hub::history::done done) {
      store::read(
          *reads, [after, before, cap](store::reader& r) { return r.count_events(after, before, cap); },
          [this, done = std::move(done)](store::read_result<std::size_t> got) {
            hub::history_answer a{got.value.has_value(), got.error, {}, {}, got.value.value_or(0)};
            asio::post(io, [done, a = std::move(a)]() mutable { done(std::move(a)); });
          });
    };
    return h;
  }

  /// Cluster mode: no chair is held yet (the keeper takes this daemon's share once it runs);
  /// ids come in blocks of the cluster's own, and only held chairs drive the engine.
  void join_cluster() {
    cluster_hooks hooks;
    hooks.gained = [this](const std::string& chair, std::optional<store::stored_checkpoint> checkpoint,
                          std::map<std::string, std::uint64_t> seqs) {
      asio::post(io, [this, chair, checkpoint = std::move(checkpoint), seqs = std::move(seqs)] {
        held_here.insert(chair);
        directory.erase(chair);
        for (const auto& [device, seq] : seqs) registry.resume_device(device, seq);
        std::optional<clinic::chair_checkpoint> saved;
        if (checkpoint) saved = clinic::chair_checkpoint{checkpoint->chair_id, checkpoint->saved_ms, checkpoint->state};
        std::vector<std::string> problems;
        clinic.take_over(saved, problems);
        for (const auto& problem : problems) log->error("taking chair {} over: {}", chair, problem);
        if (const auto session = clinic.alarms().session(chair)) {
          burden.watch_session(session->id, clinic.now_for(chair));
          log->info("chair {} carried on here: session {} in {} with {} active alarms", chair, session->id,
                    engine::name(session->current), session->alarms.size());
        }
      });
    };
    hooks.lost = [this](const std::string& chair) {
      asio::post(io, [this, chair] {
        held_here.erase(chair);
        const auto to = directory.find(chair);
        registry.chair_moved(chair, to != directory.end() ? to->second : ingest::chair_place{false, {}, {}, {}});
        clinic.give_up(chair);
        keeper->given_up(chair);
      });
    };
    hooks.directory = [this](std::map<std::string, ingest::chair_place, std::less<>> elsewhere) {
      asio::post(io, [this, elsewhere = std::move(elsewhere)]() mutable { directory = std::move(elsewhere); });
    };
    hooks.health = [this](bool reachable, const std::string& reason) {
      asio::post(io, [this, reachable, reason] {
        cluster_reachable = reachable;
        cluster_reason = reason;
      });
    };
    hooks.ids = [this](engine::id_range first) { asio::post(io, [this, first] { clinic.id_block_granted(first); }); };
    keeper = std::make_unique<cluster_keeper>(
        store::cluster_options{config.store.url, node, {}, config.cluster.lease}, leases, *timeline, std::move(hooks));
    clinic.hold_chairs_with([this](std::string_view chair) { return held_here.count(chair) != 0; },
                            [this](std::string_view chair) {
                              const auto it = directory.find(chair);
                              if (it == directory.end()) return std::string(" (or none yet)");
                              return " (" + it->second.node + " at " + it->second.addresses + ")";
                            });
    registry.place_chairs_with([this](std::string_view chair) {
      if (held_here.count(chair) != 0) return ingest::chair_place{};
      if (const auto it = directory.find(chair); it != directory.end()) return it->second;
      // Nobody holds it yet: taken here if this daemon has room, else offered to one that has.
      keeper->want(std::string(chair));
      return ingest::chair_place{false, {}, {}, {}};
    });
    const auto first = keeper->first_ids();
    clinic.take_id_blocks_with([this] { keeper->ask_ids(); }, first);
    // Feeds resume within this daemon's own ids: the other daemons' blocks interleave with its
    // own in the timeline (ids that mean the same on every daemon are not built yet).
    hub.carry_on(first.event - 1, first.event);
    clinic.storage_changed(true);
    log->info("cluster mode: this daemon is node {}, with leases of {} ms", node, config.cluster.lease.count());
  }

  /// Where devices and clients reach this daemon, for the cluster's redirects.
  std::string advertised_addresses() const {
    std::string host = config.cluster.advertise.empty() ? config.ingest.address : config.cluster.advertise;
    if (host.find(':') != std::string::npos) host = "[" + host + "]";
    std::string out = "ingest=" + host + ":" + std::to_string(ingest.port());
    if (web) out += " http=" + host + ":" + std::to_string(web->port());
    if (feeds) out += " feed=" + host + ":" + std::to_string(feeds->port());
    if (control) out += " control=" + host + ":" + std::to_string(control->port());
    return out;
  }

  /// Sessions, phases, baselines, alarms, pauses and timers come back from the checkpoints.
  void recover(store::reader& reader) {
    std::vector<clinic::chair_checkpoint> saved;
    for (auto& cp : reader.checkpoints()) saved.push_back({std::move(cp.chair_id), cp.saved_ms, std::move(cp.state)});
    const auto ids = reader.ids();
    clinic.reserve_event_ids(ids.next_event);
    const auto result = clinic.restore(saved, ids.next_session, ids.next_alarm);
    // /metrics counts patient time from now for the sessions this run takes over.
    for (const auto& s : clinic.alarms().sessions()) burden.watch_session(s.id, clinic.now_for(s.chair));
    for (const auto& problem : result.problems) log->error("restart recovery: {}", problem);
    reserve_ids_at_start();
    // Feeds resume from the timeline; the ids between its newest event and this run's first were
    // sent before a crash and lost with it.
    hub.carry_on(reader.last_event_id(), clinic.next_event_id());
    // The store opened: a timeline_not_saved alarm from before the restart no longer holds.
    clinic.storage_changed(true);
    if (!saved.empty()) {
      log->info("restart recovery: {} chairs restored, {} open sessions with {} active alarms", result.chairs,
                result.sessions, result.alarms);
    }
    clinic.publish();
  }

  /// An operator's reset of a device that restarted its count: in effect at once (the device's
  /// connection closes and batches already submitted no longer move its ack point), answered
  /// once the timeline holds it.
  void reset_device(const std::string& device_id, const std::string& who, const std::string& reason,
                    std::function<void(control::reset_report)> done) {
    const auto outcome = registry.reset(device_id);
    if (!outcome.known) {
      done({false, 0, true});
      return;
    }
    log->warn("device '{}' reset by {}: its ack point goes from seq {} to 0 ({})", device_id, who,
              outcome.previous_seq, reason);
    if (!timeline) {
      done({true, outcome.previous_seq, true});
      return;
    }
    const engine::millis now = opts.clock ? opts.clock() : wall_now();
    timeline->reset_device({device_id, now, who, reason, outcome.previous_seq},
                           [this, done = std::move(done), previous = outcome.previous_seq](bool saved) {
                             // On the writer thread: answer from the I/O thread.
                             asio::post(io, [done, previous, saved] { done({true, previous, saved}); });
                           });
  }

  /// Saves a reservation of ids before anything is handed out, then lets the clinic keep one
  /// ahead: ids may reach subscribers and operators before their events are committed, and after
  /// a crash the next run starts above every reservation.
  void reserve_ids_at_start() {
    const auto first = clinic.reservation_ahead();
    bool saved = false;
    timeline->reserve_ids(first, [&saved](bool ok) { saved = ok; });
    timeline->flush();
    if (!saved) log->error("the first reservation of ids could not be saved; it is retried");
    clinic.reserve_ids_with(
        [this](engine::id_range through) {
          timeline->reserve_ids(through, [this, through](bool ok) {
            // On the writer thread: the clinic lives on the I/O thread.
            if (ok) asio::post(io, [this, through] { clinic.ids_saved(through); });
          });
        },
        saved ? first : clinic.handed_out());
  }

  std::size_t open_connections() const {
    return ingest.connections() + (control ? control->connections() : 0) + (web ? web->connections() : 0) +
           (feeds ? feeds->connections() : 0);
  }

  /// The counters /metrics reports, read on the I/O thread.
  http::metrics_snapshot metrics() {
    http::metrics_snapshot m;
    m.version = VIGIL_VERSION;
    const auto listener = [&m](const char* name, const net::listener_stats& s) {
      const auto read = [](const net::listener_stats::counter& c) { return c.load(std::memory_order_relaxed); };
      m.listeners.push_back({name, read(s.active), read(s.accepted), read(s.refused), read(s.unauthenticated),
                             read(s.refused_unauthenticated), read(s.evicted), read(s.blocked), read(s.auth_failures),
                             read(s.auth_delayed), read(s.bad_requests)});
    };
    listener("ingest", ingest.connection_stats());
    // The device port counts its bad frames and protocol violations in the ingest counters.
    m.listeners.back().bad_requests += counters.protocol_errors.load(std::memory_order_relaxed);
    if (control) listener("control", control->connection_stats());
    if (web) listener("http", web->connection_stats());
    if (feeds) listener("feed", feeds->connection_stats());
    m.peers_blocked = failures.blocked_peers();
    m.peer_blocks = failures.blocks();
    const auto& hs = hub.stats();
    m.feeds = {hub.subscribers(), hub.queued_bytes(), hs.dropped_slow, hs.events, hs.frames, hs.vitals_merged, hs.resumes,
               counters_of(hub.alarm_delivery()), counters_of(hub.alarm_delivery_after_resume())};
    const auto read = [](const ingest::stats::counter& c) { return c.load(std::memory_order_relaxed); };
    m.samples_accepted = read(counters.samples_accepted);
    m.samples_rejected = read(counters.samples_rejected);
    m.samples_flagged = read(counters.samples_flagged);
    m.batches_accepted = read(counters.batches_accepted);
    m.batches_duplicate = read(counters.batches_duplicate);
    m.protocol_errors = read(counters.protocol_errors);
    m.handshakes_refused = read(counters.handshakes_refused);
    // Priorities are numbered 1 (low) to 3 (high).
    const auto slot = [](engine::priority p) { return std::min<std::size_t>(2, std::max(1, static_cast<int>(p)) - 1); };
    for (std::size_t p = 1; p <= 3; ++p) m.alarms_raised[p - 1] = clinic.stats().alarms_raised[p];
    for (std::size_t r = 1; r < clinic.stats().samples_judged.size(); ++r) {
      m.samples_judged.emplace_back(std::string(engine::name(static_cast<engine::artefact_reason>(r))),
                                    clinic.stats().samples_judged[r]);
    }
    for (const auto& s : clinic.alarms().sessions()) {
      ++m.sessions_open;
      for (const auto& a : s.alarms) ++m.alarms_active[slot(a.level)];
    }
    for (const auto& [chair, a] : clinic.alarms().chair_advisories()) ++m.alarms_active[slot(a.level)];
    m.burden = burden_metrics();
    m.process = http::read_process_counters();
    if (timeline) {
      const auto s = timeline->stats();
      http::store_counters out;
      out.saving = timeline_saving;
      out.transactions = s.transactions;
      out.failures = s.failures;
      out.events_dropped = s.events_dropped;
      out.queued = s.queued;
      out.refused = s.refused;
      for (std::size_t i = 0; i < s.latency_buckets.size(); ++i) {
        out.commit_latency.buckets.emplace_back(store::timeline::latency_bounds_ms[i] / 1000.0,
                                                s.latency_buckets[i]);
      }
      out.commit_latency.count = s.latency_count;
      out.commit_latency.sum_seconds = s.latency_sum_ms / 1000.0;
      m.store = std::move(out);
    }
    if (keeper) {
      const auto k = keeper->stats();
      m.cluster = http::cluster_counters{cluster_reachable, held_here.size(), k.rounds, k.failed_rounds,
                                         k.taken,           k.lost,            k.handed_over};
    }
    return m;
  }

  /// The alarm burden since start, with open sessions and active alarms counted to each chair's time now.
  http::burden_counters burden_metrics() {
    std::map<std::uint64_t, std::string> chairs;
    for (const auto& s : clinic.alarms().sessions()) chairs[s.id] = s.chair;
    const auto b = burden.figures([&](std::uint64_t session) {
      const auto it = chairs.find(session);
      return it != chairs.end() ? clinic.now_for(it->second) : (opts.clock ? opts.clock() : wall_now());
    });
    http::burden_counters out;
    out.patient_seconds = static_cast<double>(b.patient_ms) / 1000.0;
    for (const auto& [key, c] : b.by_rule) {
      out.rules.push_back({key.rule, std::string(engine::name(key.kind)), std::string(engine::name(key.level)), c.alarms,
                           c.short_alarms, c.acknowledged, static_cast<double>(c.alarm_ms) / 1000.0});
    }
    for (std::size_t i = 0; i < out.ack_seconds.size(); ++i) {
      const auto& c = b.by_priority[i];
      auto& h = out.ack_seconds[i];
      for (std::size_t k = 0; k < report::ack_bounds_s.size(); ++k) h.buckets.emplace_back(report::ack_bounds_s[k], c.ack_buckets[k]);
      h.count = c.acknowledged;
      h.sum_seconds = static_cast<double>(c.ack_sum_ms) / 1000.0;
    }
    return out;
  }

  /// What /healthz reports, read on the I/O thread.
  http::health_status health() const {
    http::health_status h;
    h.stopping = stopping;
    h.listeners.emplace_back("ingest", ingest.port());
    if (control) h.listeners.emplace_back("control", control->port());
    if (web) h.listeners.emplace_back("http", web->port());
    if (feeds) h.listeners.emplace_back("feed", feeds->port());
    h.timeline = timeline != nullptr;
    h.timeline_saving = timeline_saving;
    h.timeline_reason = timeline_reason;
    if (keeper) {
      h.cluster = true;
      h.cluster_node = node;
      h.cluster_reachable = cluster_reachable;
      h.cluster_reason = cluster_reason;
      h.chairs_held = held_here.size();
    }
    return h;
  }

  void begin_stop() {
    if (stopping) return;
    stopping = true;
    log->info("stopping: no new connections; closing the open ones (at most {} ms)",
              config.shutdown_timeout.count());
    stats_timer.cancel();
    tick_timer.cancel();
    retention_timer.cancel();
    listeners_open = 1 + (control ? 1 : 0) + (feeds ? 1 : 0) + (web ? 1 : 0);
    auto closed = [this] {
      if (--listeners_open > 0) return;
      shutdown_timer.cancel();
      signals.cancel();
      work.reset();
    };
    ingest.stop(closed);
    if (control) control->stop(closed);
    if (feeds) feeds->stop(closed);
    if (web) web->stop(closed);
    shutdown_timer.expires_after(config.shutdown_timeout);
    shutdown_timer.async_wait([this](boost::system::error_code ec) {
      if (ec) return;
      log->warn("shutdown timeout passed with {} connections still open; closing them", open_connections());
      io.stop();
    });
  }

  // The first signal stops gracefully; a second one, while that runs, stops at once.
  void wait_signal() {
    signals.async_wait([this](boost::system::error_code ec, int signal) {
      if (ec) return;
      const char* name = signal == SIGINT ? "SIGINT" : "SIGTERM";
      if (stopping) {
        log->warn("received {} again: stopping now with {} connections open", name, open_connections());
        io.stop();
        return;
      }
      log->info("received {}", name);
      begin_stop();
      wait_signal();
    });
  }

  void schedule_tick() {
    tick_timer.expires_after(tick_interval / tick_slices);
    // A handler already queued when begin_stop() cancels the timer runs with success: without
    // the `stopping` check it would re-arm the timer and run() would never return.
    tick_timer.async_wait([this](boost::system::error_code ec) {
      if (ec || stopping) return;
      clinic.tick(tick_slices);
      if (++ticks % tick_slices == 0) hub.tick();
      schedule_tick();
    });
  }

  void apply_retention() {
    if (!timeline || config.retention_days <= 0) return;
    const engine::millis cutoff = wall_now() - static_cast<engine::millis>(config.retention_days) * 24 * 3'600'000;
    timeline->remove_closed_before(cutoff, [this](std::size_t removed) {
      if (removed > 0) {
        asio::post(io, [this, removed] {
          log->info("retention: removed {} sessions closed more than {} days ago", removed, config.retention_days);
        });
      }
    });
    retention_timer.expires_after(retention_interval);
    retention_timer.async_wait([this](boost::system::error_code ec) {
      if (!ec && !stopping) apply_retention();
    });
  }

  void schedule_stats() {
    stats_timer.expires_after(stats_interval);
    stats_timer.async_wait([this](boost::system::error_code ec) {
      if (ec || stopping) return;
      const auto samples = counters.samples_accepted.load(std::memory_order_relaxed);
      log->info("{} device connections, {} samples accepted in the last {} s ({} in all), {} protocol errors",
                ingest.connections(), samples - last_samples,
                stats_interval.count(), samples, counters.protocol_errors.load(std::memory_order_relaxed));
      last_samples = samples;
      if (timeline) {
        const auto store_stats = timeline->stats();
        if (store_stats.events_dropped > last_events_dropped) {
          log->error("{} timeline events were dropped after the disk failed for longer than the store can hold them",
                     store_stats.events_dropped - last_events_dropped);
          last_events_dropped = store_stats.events_dropped;
        }
      }
      schedule_stats();
    });
  }

  // Everything a connection refers to is declared before the io_context, so that it outlives
  // the connections the io_context destroys when a stop runs out of time.
  config::daemon_config config;
  options opts;
  std::shared_ptr<spdlog::logger> log;
  ingest::stats counters;
  ingest::device_registry registry;
  // Cluster mode: this run's node name and the chairs it holds (empty and null otherwise).
  std::string node;
  std::shared_ptr<store::lease_set> leases;
  std::unique_ptr<store::timeline> timeline;
  std::shared_ptr<durable_sink> durable;
  std::shared_ptr<ingest::sample_sink> storage;
  clinic::clinic clinic;
  control::service commands;
  hub::hub hub;
  // The alarm burden since start, for /metrics: no list of acknowledgement times, only the histogram.
  report::burden_tally burden{false};
  // Failed authentications per peer address, shared by the four listeners.
  net::auth_tracker failures;
  asio::io_context io{1};
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work{io.get_executor()};
  // Cluster mode: the lease keeper (its hooks post to `io`, so it is declared after it and
  // stopped first) and, on the I/O thread, the chairs held here and where the others are.
  std::unique_ptr<cluster_keeper> keeper;
  std::set<std::string, std::less<>> held_here;
  std::map<std::string, ingest::chair_place, std::less<>> directory;
  bool cluster_reachable = true;
  std::string cluster_reason;
  // Reads of the timeline (feeds resuming, the REST API's stored sessions and exports), off the
  // I/O thread; their answers are posted to `io`, so it is declared after it and stopped first.
  std::optional<store::read_pool> reads;
  asio::signal_set signals;
  asio::steady_timer shutdown_timer;
  asio::steady_timer stats_timer;
  asio::steady_timer tick_timer;
  std::uint64_t ticks = 0;
  asio::steady_timer retention_timer;
  ingest::server ingest;
  std::optional<control::server> control;
  std::optional<feed::server> feeds;
  std::optional<http::server> web;
  bool timeline_saving = true;
  std::string timeline_reason;
  int listeners_open = 0;
  std::uint64_t last_samples = 0;
  std::uint64_t last_events_dropped = 0;
  bool stopping = false;
};

daemon::daemon(config::daemon_config config, options opts)
    : impl_(std::make_unique<impl>(std::move(config), std::move(opts))) {}

daemon::~daemon() = default;

void daemon::start() {
  auto& d = *impl_;
  // Protobuf reports bad input (such as invalid UTF-8 in a string) on its own; route it
  // through our logs at debug, since any client can trigger it.
  google::protobuf::SetLogHandler([](google::protobuf::LogLevel level, const char* file, int line,
                                     const std::string& message) {
    static const auto logger = log::component_logger("protobuf");
    if (level == google::protobuf::LOGLEVEL_FATAL) {
      logger->error("{}:{}: {}", file, line, message);
    } else {
      logger->debug("{}:{}: {}", file, line, message);
    }
  });
  d.ingest.listen();
  if (d.control) d.control->listen();
  if (d.feeds) d.feeds->listen();
  if (d.web) d.web->listen();
  if (!d.config.ports_file.empty()) {
    std::vector<std::pair<std::string, std::uint16_t>> ports{{"ingest", d.ingest.port()}};
    if (d.control) ports.emplace_back("control", d.control->port());
    if (d.feeds) ports.emplace_back("feed", d.feeds->port());
    if (d.web) ports.emplace_back("http", d.web->port());
    write_ports_file(d.config.ports_file, ports);
  }
  if (d.keeper) {
    d.keeper->advertise(d.advertised_addresses());
    d.keeper->start();
  }
  d.ingest.start();
  if (d.control) d.control->start();
  if (d.feeds) d.feeds->start();
  if (d.web) d.web->start();
  d.schedule_tick();
  d.apply_retention();
  if (d.opts.handle_signals) {
    d.signals.add(SIGINT);
    d.signals.add(SIGTERM);
    d.wait_signal();
  }
  d.schedule_stats();
  d.log->info("vigild {} ready with {} configured devices, {} users, profiles: {}", VIGIL_VERSION,
              d.config.ingest.devices.size(), d.config.users.size(), profile_names(d.config));
}

void daemon::run() {
  impl_->io.run();
  impl_->log->info("stopped");
}

void daemon::stop() {
  asio::post(impl_->io, [d = impl_.get()] { d->begin_stop(); });
}

std::uint16_t daemon::ingest_port() const { return impl_->ingest.port(); }

std::uint16_t daemon::control_port() const { return impl_->control ? impl_->control->port() : 0; }

std::uint16_t daemon::feed_port() const { return impl_->feeds ? impl_->feeds->port() : 0; }
std::uint16_t daemon::http_port() const { return impl_->web ? impl_->web->port() : 0; }

const ingest::stats& daemon::ingest_stats() const { return impl_->counters; }

const hub::latency_histogram& daemon::alarm_delivery() const { return impl_->hub.alarm_delivery(); }
const hub::latency_histogram& daemon::alarm_delivery_after_resume() const {
  return impl_->hub.alarm_delivery_after_resume();
}

}  // namespace vigil::app
