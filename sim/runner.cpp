#include "sim/runner.hpp"

#include "daemon/client/rest_client.hpp"
#include "sim/device_client.hpp"
#include "daemon/codec/frame.hpp"
#include "vigil/v1/control.pb.h"
#include "vigil/v1/feed.pb.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/http/verb.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <map>
#include <memory>
#include <optional>

#include <unistd.h>

namespace vigil::sim {

namespace asio = boost::asio;
namespace bh = boost::beast::http;
using namespace std::chrono_literals;

namespace {

constexpr auto nothrow = asio::as_tuple(asio::use_awaitable);
/// The nurse acts 900 ms after the monitor's last sample, just before the next: between two
/// samples, so that the command lands at the same session time whatever the speed, as long as
/// the daemon has not carried the chair's clock further meanwhile (docs/simulator.md, Time).
constexpr std::int64_t nurse_lag_ms = 900;

/// Session time as +H:MM:SS.
std::string elapsed_text(std::int64_t ms) {
  const std::int64_t s = ms / 1000;
  return fmt::format("+{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60);
}

struct chair_run {
  chair_run(const chair_plan& p, asio::any_io_executor executor)
      : plan(p),
        patient(p.patient, p.dose, p.events),
        mon(patient, p.patient.seed, p.monitor, p.faults, p.dose.at_ms, p.artefacts),
        pace(executor) {
    if (p.recording) recording.emplace(*p.recording);
  }

  /// What the monitor sends for the second that starts at session time `t_ms`.
  void second(std::int64_t t_ms, google::protobuf::RepeatedPtrField<v1::Sample>& out) {
    if (recording) {
      recording->second(t_ms, origin, out);
    } else {
      mon.second(t_ms, origin + t_ms, out);
    }
  }

  const chair_plan& plan;
  physiology patient;
  monitor mon;
  std::optional<replay_source> recording;
  asio::steady_timer pace;
  std::unique_ptr<device_client> client;
  std::uint64_t session = 0;
  std::int64_t opened_at = 0;  // the chair's session time at the open, as the daemon stamped it
  std::int64_t origin = 0;     // the monitor's clock at the open (session time 0)
  std::int64_t last_sent = 0;  // the latest stamp of a sample the monitor has sent; 0: none yet
  std::uint64_t generated = 0;
  std::string outcome = "waiting";
  std::array<std::uint64_t, 4> alarms{};  // raised, seen on the feed, by priority (1 low .. 3 high)
  std::vector<raised_alarm> raised;       // every alarm raised on the session, seen on the feed
  bool end_seen = false;                  // the feed has shown the session's close (or abort)
  bool failed = false;
  bool finished = false;
  bool offline = false;  // in a network drop
};

class clinic_run {
 public:
  clinic_run(asio::io_context& io, const scenario& plan, const run_options& opts)
      : io_(io),
        plan_(plan),
        opts_(opts),
        rest_(io.get_executor(), client::endpoint{opts.host, opts.http_port}, opts.api_token, "vigil-sim/" VIGIL_VERSION),
        progress_(io),
        signals_(io, SIGINT, SIGTERM),
        feed_socket_(io),
        feed_retry_(io),
        feed_ready_timer_(io) {
    feed_ready_timer_.expires_at(asio::steady_timer::time_point::max());
    for (const auto& c : plan_.chairs) chairs_.push_back(std::make_unique<chair_run>(c, io.get_executor()));
    if (opts_.batch_seconds > 0) {
      per_batch_ = opts_.batch_seconds;
    } else if (opts_.speed > 0) {
      // One batch a second of monitor time, but not more than about one per 10 ms of wall
      // time: at x1000 a batch holds 10 s.
      per_batch_ = std::clamp(static_cast<int>(opts_.speed / 100), 1, 60);
    } else {
      per_batch_ = 10;
    }
  }

  int run() {
    started_ = std::chrono::steady_clock::now();
    for (auto& c : chairs_) {
      ++running_;
      asio::co_spawn(io_, chair_loop(*c), [this, &c](std::exception_ptr e) {
        if (e) {
          try {
            std::rethrow_exception(e);
          } catch (const std::exception& ex) {
            fail(*c, fmt::format("stopped: {}", ex.what()));
          }
        }
        c->finished = true;
        if (c->client) c->client->stop();
        if (--running_ == 0) finish();
      });
    }
    signals_.async_wait([this](boost::system::error_code ec, int) {
      if (ec) return;
      stop();
      signals_.async_wait([this](boost::system::error_code again, int) {
        if (!again) io_.stop();  // a second Ctrl-C: now
      });
    });
    asio::co_spawn(io_, watch_alarms(), asio::detached);
    tick();
    io_.run();
    if (!opts_.quiet && interactive_) std::fputc('\n', stderr);
    return summary();
  }

 private:
  void stop() {
    stopping_ = true;
    mark_feed_ready();
    for (auto& c : chairs_) {
      c->pace.cancel();
      // A monitor still trying to reach the daemon gives up; a connected one stays for the abort.
      if (c->client && !c->client->connected()) c->client->stop();
    }
  }

  /// Every chair is done: the feed gets a moment to deliver the last events, then the run ends.
  void finish() {
    progress_.cancel();
    signals_.cancel();
    feed_retry_.expires_after(feed_socket_.is_open() && !ends_seen() ? 2s : 0s);
    feed_retry_.async_wait([this](boost::system::error_code) { stop_feed(); });
  }

  void stop_feed() {
    feed_done_ = true;
    boost::system::error_code ignored;
    feed_socket_.close(ignored);
    feed_retry_.cancel();
  }

  /// Whether the feed has shown the end of every session this run closed or aborted: it has
  /// then shown every alarm of the run.
  bool ends_seen() const {
    for (const auto& c : chairs_) {
      if ((c->outcome == "closed" || c->outcome == "aborted") && !c->end_seen) return false;
    }
    return true;
  }

  /// The feed is subscribed (or cannot be): sessions may open, and none of their alarms is missed.
  void mark_feed_ready() {
    feed_ready_ = true;
    feed_ready_timer_.cancel();
  }

  chair_run* chair_of(const std::string& id) {
    for (auto& c : chairs_) {
      if (c->plan.chair == id) return c.get();
    }
    return nullptr;
  }

  /// Counts the alarms raised on the simulated chairs, from the daemon's feed (alarms and
  /// session events); after a drop, resumes from the last event. Without a feed, no counts.
  asio::awaitable<void> watch_alarms() {
    std::optional<std::uint64_t> last_event;
    v1::FeedMessage message;
    while (!feed_done_) {
      std::uint16_t port = opts_.feed_port;
      if (!opts_.ports_file.empty()) port = client::read_port(opts_.ports_file, "feed").value_or(port);
      asio::ip::tcp::resolver resolver(io_);
      auto [rec, endpoints] = co_await resolver.async_resolve(opts_.host, std::to_string(port), nothrow);
      if (!rec && !feed_done_) {
        feed_socket_ = asio::ip::tcp::socket(io_);
        auto [cec, endpoint] = co_await asio::async_connect(feed_socket_, endpoints, nothrow);
        v1::FeedRequest request;
        request.set_token(opts_.api_token);
        for (const auto& c : chairs_) request.mutable_subscribe()->add_chair_ids(c->plan.chair);
        request.mutable_subscribe()->add_categories(v1::EVENT_CATEGORY_ALARMS);
        request.mutable_subscribe()->add_categories(v1::EVENT_CATEGORY_SESSIONS);
        if (last_event) request.mutable_subscribe()->set_resume_after(*last_event);
        std::string frame;
        codec::append_frame(frame, request);
        if (!cec && !feed_done_) {
          auto [wec, wn] = co_await asio::async_write(feed_socket_, asio::buffer(frame), nothrow);
          codec::frame_decoder decoder(codec::hard_max_frame_bytes);
          while (!wec && !feed_done_) {
            const auto next = decoder.next(message);
            if (next.status == codec::decode_status::bad) break;
            if (next.status == codec::decode_status::need_more) {
              const auto space = decoder.prepare();
              auto [ec, n] = co_await feed_socket_.async_read_some(asio::buffer(space.data(), space.size()), nothrow);
              if (ec) break;
              decoder.commit(n);
              continue;
            }
            feed_seen_ = true;
            if (message.has_snapshot()) last_event = message.snapshot().last_event_id();
            if (message.has_resumed()) last_event = message.resumed().last_event_id();
            if (message.has_snapshot() || message.has_resumed()) mark_feed_ready();
            if (message.has_closing()) break;
            if (!message.has_event()) continue;
            const auto& e = message.event().event();
            last_event = e.event_id();
            // Only this run's sessions: not one an earlier run left open on the chair.
            auto* c = chair_of(e.chair_id());
            if (!c || c->session == 0 || c->session != e.session_id()) continue;
            if (e.type() == v1::EVENT_TYPE_SESSION_CLOSED) {
              c->end_seen = true;
              if (running_ == 0 && ends_seen()) stop_feed();
            }
            if (e.type() != v1::EVENT_TYPE_ALARM_RAISED) continue;
            c->raised.push_back({c->plan.chair, e.rule(), e.kind() == v1::ALARM_KIND_PHYSIOLOGICAL, e.at_ms() - c->origin});
            if (e.priority() >= 1 && e.priority() <= 3) ++c->alarms[static_cast<std::size_t>(e.priority())];
          }
        }
        boost::system::error_code ignored;
        feed_socket_.close(ignored);
      }
      // No feed to wait for (none answered, or it dropped): the sessions go on without it.
      mark_feed_ready();
      if (feed_done_) break;
      feed_retry_.expires_after(500ms);
      co_await feed_retry_.async_wait(nothrow);
    }
  }

  void fail(chair_run& c, std::string why) {
    c.failed = true;
    c.outcome = why;
    std::printf("%s: %s\n", c.plan.chair.c_str(), why.c_str());
    std::fflush(stdout);
  }

  /// Says once, on standard error, that a port of vigild cannot be reached and why in plain
  /// words, and once that it answers again, quiet or not: a wrong port, or a daemon not started,
  /// shows at once rather than as a summary of zeros or a failure after the nurse's patience.
  void reachability(std::string& said, const std::string& what, const std::string& why) {
    if (why == said) return;
    if (interactive_ && !opts_.quiet) std::fputs("\r\033[K", stderr);
    if (!why.empty()) {
      std::fprintf(stderr, "vigil-sim: cannot reach %s: %s; still trying\n", what.c_str(), why.c_str());
    } else {
      std::fprintf(stderr, "vigil-sim: %s answers again\n", what.c_str());
    }
    said = why;
  }

  std::string rest_place() const {
    return fmt::format("vigild's REST API at {}:{}", rest_.where().host, rest_.where().port);
  }

  void say(const chair_run& c, const std::string& line) {
    if (opts_.quiet) return;
    if (interactive_ && !opts_.quiet) std::fputs("\r\033[K", stderr);
    std::printf("%s: %s\n", c.plan.chair.c_str(), line.c_str());
    std::fflush(stdout);
  }

  /// Waits until simulated time (from the start of the run) reaches `sim_ms`.
  asio::awaitable<void> wait_sim(chair_run& c, std::int64_t sim_ms) {
    if (opts_.speed <= 0 || stopping_) co_return;
    const auto due = started_ + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                    std::chrono::duration<double, std::milli>(static_cast<double>(sim_ms) / opts_.speed));
    if (due <= std::chrono::steady_clock::now()) co_return;
    c.pace.expires_at(due);
    co_await c.pace.async_wait(nothrow);
  }

  asio::awaitable<void> pause_wall(chair_run& c, std::chrono::milliseconds how_long) {
    c.pace.expires_after(how_long);
    co_await c.pace.async_wait(nothrow);
  }

  /// One REST call as the nurse makes it: retried while the daemon cannot be reached or is
  /// busy (a restart), for up to rest_patience. nullopt when it never answered.
  asio::awaitable<std::optional<client::reply>> nurse(chair_run& c, bh::verb method, std::string target, std::string body,
                                                      std::chrono::milliseconds patience) {
    const auto deadline = std::chrono::steady_clock::now() + patience;
    std::string last_error;
    for (;;) {
      if (!opts_.ports_file.empty()) {
        if (const auto port = client::read_port(opts_.ports_file, "http")) rest_.set_endpoint({opts_.host, *port});
      }
      std::optional<client::reply> answer;
      try {
        answer = co_await rest_.call(method, target, body);
        reachability(rest_said_, rest_place(), "");
      } catch (const boost::system::system_error& e) {
        last_error = client::describe(e.code());
        reachability(rest_said_, rest_place(), last_error);
      } catch (const std::exception& e) {
        last_error = e.what();
      }
      // 503 is a busy or restarting daemon, asked again; but not_saved is an answer: the command
      // is done and in effect, only not on disk yet (control.md 7.2), and must not be repeated.
      if (answer && (answer->status != 503 || client::refusal_of(*answer).error == "not_saved")) co_return answer;
      if (answer) last_error = client::refusal_of(*answer).message;
      if (std::chrono::steady_clock::now() >= deadline || (stopping_ && patience > 1s)) {
        fail(c, fmt::format("{} did not answer {}: {}", rest_place(), target, last_error));
        co_return std::nullopt;
      }
      co_await pause_wall(c, 200ms);
    }
  }

  /// Whether the command was done: answered 2xx, or done but not yet saved (the daemon retries
  /// the save; the timeline_not_saved alarm says so on every session).
  static bool ok(const std::optional<client::reply>& r) {
    return r && (r->status / 100 == 2 || (r->status == 503 && client::refusal_of(*r).error == "not_saved"));
  }

  void refused(chair_run& c, const char* what, const client::reply& r) {
    const auto why = client::refusal_of(r);
    fail(c, fmt::format("{} refused: {}: {}", what, why.error, why.message));
  }

  /// Opens the chair's session (closing one an earlier run left open) and learns its open time.
  asio::awaitable<bool> open_session(chair_run& c) {
    v1::OpenSession open;
    open.set_chair_id(c.plan.chair);
    open.set_patient_ref(c.plan.patient_ref);
    open.set_profile(c.plan.profile);
    const std::string body = client::json_of(open);
    auto r = co_await nurse(c, bh::verb::post, "/api/v1/sessions", body, opts_.rest_patience);
    if (!r) co_return false;
    if (r->status == 409 && client::refusal_of(*r).error == "session_already_open") {
      v1::ControlResponse left;
      client::parse_json(r->body, left);
      v1::CloseSession abort;
      abort.set_reason("vigil-sim: left open by an earlier run");
      say(c, fmt::format("aborting session {}, left open by an earlier run", left.session_id()));
      const auto aborted = co_await nurse(c, bh::verb::post, fmt::format("/api/v1/sessions/{}/abort", left.session_id()),
                                          client::json_of(abort), opts_.rest_patience);
      if (!ok(aborted)) {
        if (aborted) refused(c, "abort of the earlier session", *aborted);
        co_return false;
      }
      r = co_await nurse(c, bh::verb::post, "/api/v1/sessions", body, opts_.rest_patience);
      if (!r) co_return false;
    }
    if (!ok(r)) {
      refused(c, "open", *r);
      co_return false;
    }
    v1::ControlResponse opened;
    client::parse_json(r->body, opened);
    c.session = opened.session_id();
    const auto listed = co_await nurse(c, bh::verb::get, "/api/v1/sessions", "", opts_.rest_patience);
    if (!ok(listed)) {
      if (listed) refused(c, "listing sessions", *listed);
      co_return false;
    }
    v1::ControlResponse sessions;
    client::parse_json(listed->body, sessions);
    std::int64_t opened_at = 0;
    for (const auto& s : sessions.sessions()) {
      if (s.session_id() == c.session) opened_at = s.opened_at_ms();
    }
    if (opened_at == 0) {
      fail(c, fmt::format("session {} is not among the open sessions", c.session));
      co_return false;
    }
    // The monitor's samples start on the next whole second after the open: a session sees only
    // samples after it opened, and the daemon's clock for the chair is the monitor's.
    c.opened_at = opened_at;
    c.origin = (opened_at / 1000 + 1) * 1000 + c.plan.monitor.clock_skew_ms;
    c.outcome = "open";
    say(c, fmt::format("session {} opened for {} ({}, profile {})", c.session, c.plan.patient_ref, name(c.plan.dose.by),
                       c.plan.profile));
    co_return true;
  }

  /// The time a nurse's command carries for its moment `planned_ms` (on the monitor's clock):
  /// that moment, but never more than nurse_lag_ms after the last sample the monitor sent
  /// (or the open, before any). The daemon's clock for the chair is the monitor's: while the
  /// monitor sends nothing (a recording with no sample in its last rows, or around the dose)
  /// it moves only with the daemon's own clock, so a command stamped at the moment the
  /// recording names would be ahead of it, and refused.
  static std::int64_t command_time(const chair_run& c, std::int64_t planned_ms) {
    return std::min(planned_ms, std::max(c.opened_at, c.last_sent) + nurse_lag_ms);
  }

  asio::awaitable<bool> mark_dose(chair_run& c, std::int64_t planned_ms) {
    const std::int64_t at_ms = command_time(c, planned_ms);
    const std::string target = fmt::format("/api/v1/sessions/{}/dose", c.session);
    v1::MarkDose dose;
    dose.set_route(std::string(name(c.plan.dose.by)));
    dose.set_dose(c.plan.dose_text);
    dose.set_at_ms(at_ms);
    auto r = co_await nurse(c, bh::verb::post, target, client::json_of(dose), opts_.rest_patience);
    if (!r) co_return false;
    if (r->status == 409 && client::refusal_of(*r).error == "predose_gate") {
      // The pre-dose blood pressure was high: the nurse has it reviewed, overrides, and doses.
      v1::OverridePredose override_cmd;
      override_cmd.set_reason("vigil-sim: pre-dose blood pressure reviewed");
      const auto o = co_await nurse(c, bh::verb::post, fmt::format("/api/v1/sessions/{}/override", c.session),
                                    client::json_of(override_cmd), opts_.rest_patience);
      if (!ok(o)) {
        if (o) refused(c, "pre-dose override", *o);
        co_return false;
      }
      say(c, "pre-dose check overridden");
      r = co_await nurse(c, bh::verb::post, target, client::json_of(dose), opts_.rest_patience);
      if (!r) co_return false;
    }
    if (!ok(r)) {
      refused(c, "dose", *r);
      co_return false;
    }
    c.outcome = "dosed";
    say(c, fmt::format("dose marked at {}: {} {}{}", elapsed_text(at_ms - c.origin), name(c.plan.dose.by),
                       c.plan.dose_text, at_ms < planned_ms ? moved_text(c, planned_ms) : ""));
    // A daemon too busy to take the dose before its clock passed the moment marks it later.
    if (const auto listed = co_await nurse(c, bh::verb::get, "/api/v1/sessions", "", opts_.rest_patience); ok(listed)) {
      v1::ControlResponse sessions;
      client::parse_json(listed->body, sessions);
      for (const auto& s : sessions.sessions()) {
        if (s.session_id() == c.session && s.dose_at_ms() > planned_ms) {
          late_doses_ += 1;
          std::printf("%s: the dose landed %lld ms late: the daemon's clock for the chair had passed its moment "
                      "(the daemon is behind; alarms timed from the dose may differ from a real-time run)\n",
                      c.plan.chair.c_str(), static_cast<long long>(s.dose_at_ms() - planned_ms));
        }
      }
    }
    co_return true;
  }

  /// Says that a command came before its moment `planned_ms`, and why.
  static std::string moved_text(const chair_run& c, std::int64_t planned_ms) {
    return fmt::format(" ({} ms after {}, not at {}: the daemon's clock for the chair moves with the samples)", nurse_lag_ms,
                       c.last_sent > c.opened_at ? "the last sample sent" : "the open", elapsed_text(planned_ms - c.origin));
  }

  asio::awaitable<void> close_session(chair_run& c, std::int64_t planned_ms, bool abort) {
    const std::int64_t at_ms = abort ? 0 : command_time(c, planned_ms);
    v1::CloseSession close;
    close.set_at_ms(at_ms);
    if (abort) close.set_reason("simulation stopped");
    const auto r = co_await nurse(c, bh::verb::post, fmt::format("/api/v1/sessions/{}/{}", c.session, abort ? "abort" : "close"),
                                  client::json_of(close), abort ? 2000ms : opts_.rest_patience);
    if (!ok(r)) {
      if (r) refused(c, abort ? "abort" : "close", *r);
      co_return;
    }
    c.outcome = abort ? "aborted" : "closed";
    say(c, abort ? fmt::format("session {} aborted", c.session)
                 : fmt::format("session {} closed at {}{}", c.session, elapsed_text(at_ms - c.origin),
                               at_ms < planned_ms ? moved_text(c, planned_ms) : ""));
  }

  asio::awaitable<void> push(chair_run& c, google::protobuf::RepeatedPtrField<v1::Sample>& batch, std::uint64_t& last_seq) {
    if (batch.empty()) co_return;
    c.generated += static_cast<std::uint64_t>(batch.size());
    for (const auto& s : batch) c.last_sent = std::max(c.last_sent, s.time_ms());
    // During a network drop the monitor buffers whatever it measures: no ack can make room.
    if (!c.offline) co_await c.client->wait_for_room();
    last_seq = c.client->push(batch);
    batch.Clear();
  }

  asio::awaitable<void> chair_loop(chair_run& c) {
    const auto& p = c.plan;
    co_await wait_sim(c, p.start_ms);
    if (stopping_) co_return;
    device_client::options o;
    o.host = opts_.host;
    o.port = opts_.ingest_port;
    o.more_addresses = opts_.more_ingest;
    o.device_id = p.device;
    o.chair_id = p.chair;
    o.token = opts_.device_token;
    // A simulated monitor sends its numerics every second and says so; a recording's cadence is
    // whatever it holds, learned by the daemon from what arrives.
    if (!p.recording) {
      for (const auto kind : {v1::HEART_RATE, v1::PULSE_RATE, v1::SPO2, v1::RESPIRATORY_RATE}) {
        o.cadences.emplace_back(kind, 1000);
      }
    }
    if (opts_.speed <= 0) o.max_queued = 512;  // as fast as acked: keep the queue short
    c.client = std::make_unique<device_client>(io_.get_executor(), o);
    asio::co_spawn(io_, c.client->run(), asio::detached);
    co_await c.client->wait_connected();
    if (c.client->refused()) {
      fail(c, fmt::format("monitor {} refused: {}", p.device, c.client->last_error()));
      co_return;
    }
    // Every alarm of the session is on the feed only if the subscription came before the open.
    if (!feed_ready_) co_await feed_ready_timer_.async_wait(nothrow);
    if (stopping_ || !co_await open_session(c)) co_return;

    google::protobuf::RepeatedPtrField<v1::Sample> batch;
    std::uint64_t last_seq = 0;
    int seconds_in_batch = 0;
    std::int64_t t = 0;
    for (; t < p.duration_ms && !stopping_; t += second_ms) {
      c.second(t, batch);
      ++seconds_in_batch;
      const std::int64_t next = t + second_ms;
      bool drop_edge = false;
      for (const auto& f : p.faults) {
        drop_edge |= f.kind == fault_kind::network_drop && (f.start_ms == next || f.start_ms + f.duration_ms == next);
      }
      const bool dose_now = t == p.dose.at_ms;
      if (seconds_in_batch >= per_batch_ || dose_now || drop_edge || next >= p.duration_ms) {
        co_await push(c, batch, last_seq);
        seconds_in_batch = 0;
      }
      if (dose_now) {
        // Everything up to the dose is evaluated before it, and nothing after it.
        co_await c.client->wait_acked(last_seq);
        if (stopping_ || !co_await mark_dose(c, c.origin + t + nurse_lag_ms)) break;
      }
      for (const auto& f : p.faults) {
        if (f.kind != fault_kind::network_drop) continue;
        if (f.start_ms == next) {
          c.offline = true;
          c.client->suspend();
          say(c, fmt::format("network drop at {} for {} s", elapsed_text(next), f.duration_ms / 1000));
        } else if (f.start_ms + f.duration_ms == next) {
          c.offline = false;
          c.client->resume();
          say(c, fmt::format("network back at {}", elapsed_text(next)));
        }
      }
      co_await wait_sim(c, p.start_ms + next);
    }
    if (c.failed) co_return;
    if (stopping_) {
      if (c.session != 0) co_await close_session(c, 0, true);
      co_return;
    }
    co_await c.client->drain();
    if (p.close) {
      co_await close_session(c, c.origin + p.duration_ms - second_ms + nurse_lag_ms, false);
    } else {
      c.outcome = "left open";
    }
  }

  struct totals {
    std::array<std::uint64_t, 4> alarms{};
    std::uint64_t generated = 0, sent = 0, acked = 0, rejected = 0, connects = 0;
    int connected = 0, open = 0, closed = 0, failed = 0;
  };

  totals count() const {
    totals t;
    for (const auto& c : chairs_) {
      t.generated += c->generated;
      for (std::size_t p = 0; p < t.alarms.size(); ++p) t.alarms[p] += c->alarms[p];
      t.failed += c->failed ? 1 : 0;
      t.closed += c->outcome == "closed" ? 1 : 0;
      t.open += c->outcome == "open" || c->outcome == "dosed" ? 1 : 0;
      if (!c->client) continue;
      const auto& s = c->client->stats();
      t.sent += s.samples_sent;
      t.acked += s.samples_acked;
      t.rejected += s.samples_rejected;
      t.connects += s.connects;
      t.connected += c->client->connected() ? 1 : 0;
    }
    return t;
  }

  std::int64_t sim_elapsed_ms() const {
    const double wall = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started_).count();
    return static_cast<std::int64_t>(opts_.speed > 0 ? wall * opts_.speed : wall);
  }

  void tick() {
    progress_.expires_after(1s);
    progress_.async_wait([this](boost::system::error_code ec) {
      if (ec || running_ == 0) return;
      ++ticks_;
      check_device_port();
      // On a terminal the line is redrawn every second; in a log, one line every ten.
      if (!opts_.quiet && (interactive_ || ticks_ % 10 == 0)) {
        const auto t = count();
        const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
        std::fprintf(stderr,
                     "%svigil-sim %.0fs%s | sessions %d open, %d closed | monitors %d connected | samples %llu sent, %llu "
                     "acked | alarms %s%s",
                     interactive_ ? "\r\033[K" : "", wall,
                     opts_.speed > 0 ? fmt::format(" (sim {})", elapsed_text(sim_elapsed_ms())).c_str() : "", t.open,
                     t.closed, t.connected, static_cast<unsigned long long>(t.sent),
                     static_cast<unsigned long long>(t.acked), alarm_text(t.alarms).c_str(), interactive_ ? "" : "\n");
      }
      tick();
    });
  }

  /// Whether the monitors reach the device port: the first one that cannot, and why.
  void check_device_port() {
    std::string why, where;
    for (const auto& c : chairs_) {
      if (!c->client) continue;
      const auto& s = c->client->settings();
      if (where.empty()) where = fmt::format("vigild's device port at {}:{}", s.host, s.port);
      if (!c->client->connected() && c->client->unreachable()) {
        why = client::describe(c->client->unreachable());
        where = fmt::format("vigild's device port at {}:{}", s.host, s.port);
        break;
      }
    }
    if (!where.empty()) reachability(device_said_, where, why);
  }

  static std::string alarm_text(const std::array<std::uint64_t, 4>& a) {
    return fmt::format("{} high {} medium {} low", a[3], a[2], a[1]);
  }

  int summary() {
    const auto t = count();
    const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
    std::printf("summary: scenario %s, %zu chairs, %.1f s wall for %s simulated%s\n", plan_.name.c_str(), chairs_.size(),
                wall, elapsed_text(plan_.length_ms()).c_str(), stopping_ ? " (stopped before the end)" : "");
    bool all_acked = true;
    for (const auto& c : chairs_) {
      const std::uint64_t acked = c->client ? c->client->stats().samples_acked : 0;
      all_acked &= acked == c->generated;
      std::printf("chair %s device %s session %llu %s samples %llu acked %llu resent %llu connects %llu alarms %s\n",
                  c->plan.chair.c_str(), c->plan.device.c_str(), static_cast<unsigned long long>(c->session),
                  c->failed ? "failed" : c->outcome.c_str(), static_cast<unsigned long long>(c->generated),
                  static_cast<unsigned long long>(acked),
                  static_cast<unsigned long long>(c->client ? c->client->stats().samples_sent - std::min(c->client->stats().samples_sent, c->generated) : 0),
                  static_cast<unsigned long long>(c->client ? c->client->stats().connects : 0),
                  alarm_text(c->alarms).c_str());
    }
    std::printf(
        "total: samples %llu generated, %llu sent (resends included), %llu acked, %llu rejected; %d sessions closed, "
        "%d failed; alarms raised %s%s\n",
        static_cast<unsigned long long>(t.generated), static_cast<unsigned long long>(t.sent),
        static_cast<unsigned long long>(t.acked), static_cast<unsigned long long>(t.rejected), t.closed, t.failed,
        alarm_text(t.alarms).c_str(), feed_seen_ ? "" : " (no feed: not counted)");
    if (late_doses_ > 0) std::printf("late doses: %d (see above)\n", late_doses_);
    const bool ran = t.failed == 0 && all_acked && !stopping_;
    const bool labels_met = judge(ran);
    std::fflush(stdout);
    if (!ran) return 1;
    return labels_met ? 0 : labels_not_met;
  }

  /// Prints, per label of the scenario, met or missed, and the labels' summary line; whether
  /// every label is met. Labels are judged only on a run that completed and whose feed showed
  /// every session's end, so every alarm raised.
  bool judge(bool ran) {
    std::vector<label> labels;
    std::vector<raised_alarm> alarms;
    std::string unseen;
    for (const auto& c : chairs_) {
      if (c->plan.labels.empty()) continue;
      labels.insert(labels.end(), c->plan.labels.begin(), c->plan.labels.end());
      alarms.insert(alarms.end(), c->raised.begin(), c->raised.end());
      if (!c->end_seen) unseen += (unseen.empty() ? "" : ", ") + c->plan.chair;
    }
    if (labels.empty()) return true;
    if (!ran) {
      std::printf("labels: not judged: the run did not complete\n");
      return false;
    }
    if (!unseen.empty()) {
      std::printf("labels: not judged: the daemon's feed did not show the end of the session of %s, so not every alarm "
                  "raised (--feed-port, or the feed: line of the ports file)\n",
                  unseen.c_str());
      return false;
    }
    const auto report = judge_labels(labels, alarms);
    for (const auto& o : report.outcomes) std::printf("%s\n", describe(o).c_str());
    std::printf("%s\n", summary_line(report).c_str());
    return report.all_met();
  }

  asio::io_context& io_;
  const scenario& plan_;
  run_options opts_;
  client::rest_client rest_;
  asio::steady_timer progress_;
  asio::signal_set signals_;
  asio::ip::tcp::socket feed_socket_;
  asio::steady_timer feed_retry_;
  asio::steady_timer feed_ready_timer_;  // cancelled when the feed is subscribed, or cannot be
  bool feed_ready_ = false;
  bool feed_done_ = false;
  bool feed_seen_ = false;
  int late_doses_ = 0;
  std::vector<std::unique_ptr<chair_run>> chairs_;
  std::chrono::steady_clock::time_point started_;
  int per_batch_ = 1;
  int running_ = 0;
  std::uint64_t ticks_ = 0;
  std::string rest_said_;    // why the REST API could not be reached, as last said; empty: it answers
  std::string device_said_;  // the same for the device port
  bool stopping_ = false;
  bool interactive_ = isatty(STDERR_FILENO) != 0;
};

}  // namespace

int run_scenario(const scenario& plan, const run_options& options) {
  asio::io_context io(1);
  clinic_run run(io, plan, options);
  return run.run();
}

}  // namespace vigil::sim
