// Alarm latency at clinic scale: vigild in-process; N monitors (default 1,000, one session
// each) stream four vitals once a second; every few seconds each chair's heart rate crosses
// its limit, and a feed subscriber on the TCP feed port waits for the alarms. The latency of
// one alarm runs from the moment the load generator hands the crossing sample to its socket
// to the moment the subscriber has read the alarm_raised frame: the daemon's part (read,
// engine, hub, write) plus both loopback hops, so an upper bound of "sample received to alarm
// frame written". The daemon's own measure of that (vigil_feed_alarm_delivery_seconds: the
// sample's frame read from its socket to the alarm's frame written to the subscriber's) is
// printed beside it.
//
// With --resumers N, N more feed subscribers resume from the first event in a loop (most of it read
// from the timeline), from a process of their own, as they would from other machines; alarms that
// wait for such a subscriber's replay to be written are reported on their own line.
//
//   alarm_latency [--chairs N] [--seconds S] [--period P] [--data-dir DIR]
//                 [--resumers N --history-events E --resume-pause-ms MS]

#include "daemon/app/daemon.hpp"
#include "daemon/codec/frame.hpp"
#include "daemon/engine/profile.hpp"
#include "daemon/log/log.hpp"
#include "sim/device_client.hpp"
#include "vigil/v1/control.pb.h"
#include "vigil/v1/feed.pb.h"

#include <CLI/CLI.hpp>
#include <boost/asio.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <map>
#include <mutex>
#include <optional>
#include <thread>

#include <pthread.h>
#include <sys/wait.h>
#include <unistd.h>

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using steady = std::chrono::steady_clock;

namespace {

constexpr const char* admin_token = "latency-admin-token";

std::int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

/// Reads one delimited message from a blocking socket.
template <class Message>
bool read_message(tcp::socket& socket, vigil::codec::frame_decoder& decoder, Message& out) {
  for (;;) {
    const auto f = decoder.next(out);
    if (f.status == vigil::codec::decode_status::ok) return true;
    if (f.status == vigil::codec::decode_status::bad) return false;
    const auto space = decoder.prepare();
    boost::system::error_code ec;
    const auto n = socket.read_some(asio::buffer(space.data(), space.size()), ec);
    if (ec) return false;
    decoder.commit(n);
  }
}

void open_sessions(std::uint16_t port, int chairs) {
  asio::io_context io;
  tcp::socket socket(io);
  socket.connect({asio::ip::make_address("127.0.0.1"), port});
  vigil::codec::frame_decoder decoder(vigil::codec::hard_max_frame_bytes);
  for (int c = 0; c < chairs; ++c) {
    vigil::v1::ControlRequest request;
    request.set_token(admin_token);
    request.set_request_id(static_cast<std::uint64_t>(c + 1));
    request.mutable_open_session()->set_chair_id(fmt::format("chair-{}", c));
    request.mutable_open_session()->set_patient_ref(fmt::format("P-{}", c));
    std::string frame;
    vigil::codec::append_frame(frame, request);
    asio::write(socket, asio::buffer(frame));
    vigil::v1::ControlResponse response;
    if (!read_message(socket, decoder, response) || response.error() != vigil::v1::CONTROL_ERROR_NONE) {
      throw std::runtime_error("cannot open session: " + response.message());
    }
  }
}

/// What the resuming subscribers did.
struct resume_counts {
  std::atomic<std::uint64_t> done{0};      // replays that reached their ResumeDone
  std::atomic<std::uint64_t> refused{0};   // closed by the daemon instead
  std::atomic<std::uint64_t> replayed{0};  // events replayed, in all
};

/// A feed subscriber that resumes after `cursor` (long gone from memory), reads the replay to its
/// ResumeDone, leaves and, after `pause`, does it again, until `stop`: the load of subscribers coming back from
/// far behind, which makes the daemon read its timeline.
void resume_in_a_loop(std::uint16_t port, std::uint64_t cursor, std::chrono::milliseconds pause,
                      const std::atomic<bool>& stop, resume_counts& counts) {
  for (bool first = true; !stop; first = false) {
    if (!first) std::this_thread::sleep_for(pause);
    asio::io_context io;
    tcp::socket socket(io);
    boost::system::error_code ec;
    socket.connect({asio::ip::make_address("127.0.0.1"), port}, ec);
    if (ec) return;
    vigil::v1::FeedRequest request;
    request.set_token(admin_token);
    request.mutable_subscribe()->set_resume_after(cursor);
    std::string frame;
    vigil::codec::append_frame(frame, request);
    asio::write(socket, asio::buffer(frame), ec);
    vigil::codec::frame_decoder decoder(vigil::codec::hard_max_frame_bytes);
    vigil::v1::FeedMessage m;
    while (read_message(socket, decoder, m)) {
      if (m.has_event()) counts.replayed.fetch_add(1, std::memory_order_relaxed);
      if (m.has_resumed()) {
        counts.done.fetch_add(1, std::memory_order_relaxed);
        break;
      }
      if (m.has_closing()) {
        counts.refused.fetch_add(1, std::memory_order_relaxed);
        break;
      }
    }
    socket.close(ec);
  }
}

/// The resuming subscribers run in a process of their own, as they would on other machines: their
/// threads, allocations and decoding share the two cores with vigild but not its heap. Forked
/// before the daemon starts any thread; told the feed port, then told to stop, through a pipe.
class resumer_process {
 public:
  explicit resumer_process(int subscribers, std::chrono::milliseconds pause) {
    if (pipe(to_child_) != 0 || pipe(from_child_) != 0) throw std::runtime_error("pipe failed");
    pid_ = fork();
    if (pid_ < 0) throw std::runtime_error("fork failed");
    if (pid_ == 0) {
      close(to_child_[1]);
      close(from_child_[0]);
      _exit(run_child(subscribers, pause));
    }
    close(to_child_[0]);
    close(from_child_[1]);
  }
  resumer_process(const resumer_process&) = delete;
  resumer_process& operator=(const resumer_process&) = delete;
  ~resumer_process() {
    if (pid_ > 0) finish();
  }

  void start(std::uint16_t feed_port) { write_all(to_child_[1], &feed_port, sizeof feed_port); }

  /// Stops the subscribers and returns what they did.
  std::array<std::uint64_t, 3> finish() {
    std::array<std::uint64_t, 3> counts{};
    close(to_child_[1]);
    read_all(from_child_[0], counts.data(), sizeof counts);
    close(from_child_[0]);
    waitpid(pid_, nullptr, 0);
    pid_ = -1;
    return counts;
  }

 private:
  int run_child(int subscribers, std::chrono::milliseconds pause) {
    std::uint16_t port = 0;
    if (!read_all(to_child_[0], &port, sizeof port)) return 0;
    std::atomic<bool> stop{false};
    resume_counts counts;
    std::vector<std::thread> threads;
    for (int r = 0; r < subscribers; ++r) {
      threads.emplace_back([&] { resume_in_a_loop(port, 1, pause, stop, counts); });
    }
    char ignored = 0;
    while (read(to_child_[0], &ignored, 1) > 0) {
    }
    stop = true;
    for (auto& t : threads) t.join();
    const std::array<std::uint64_t, 3> out{counts.done.load(), counts.refused.load(), counts.replayed.load()};
    write_all(from_child_[1], out.data(), sizeof out);
    return 0;
  }
  static bool read_all(int fd, void* data, std::size_t n) {
    auto* p = static_cast<char*>(data);
    while (n > 0) {
      const auto got = read(fd, p, n);
      if (got <= 0) return false;
      p += got;
      n -= static_cast<std::size_t>(got);
    }
    return true;
  }
  static void write_all(int fd, const void* data, std::size_t n) {
    const auto* p = static_cast<const char*>(data);
    while (n > 0) {
      const auto put = write(fd, p, n);
      if (put <= 0) return;
      p += put;
      n -= static_cast<std::size_t>(put);
    }
  }

  pid_t pid_ = -1;
  int to_child_[2] = {-1, -1};
  int from_child_[2] = {-1, -1};
};

}  // namespace

int main(int argc, char** argv) {
  int chairs = 1000;
  int seconds = 20;
  int period = 6;
  std::string data_dir;
  int resumers = 0;
  std::size_t history_events = 65'536;
  int resume_pause_ms = 0;
  CLI::App cli{"alarm_latency: time from a sample crossing a limit to its alarm on a feed subscriber"};
  cli.add_option("--chairs", chairs, "Monitors, one open session each")->capture_default_str();
  cli.add_option("--seconds", seconds, "How long the monitors stream")->capture_default_str();
  cli.add_option("--period", period, "Seconds between a chair's limit crossings (it clears in between)")
      ->capture_default_str();
  cli.add_option("--data-dir", data_dir,
                 "Keep the timeline in this directory (a fresh one: it is emptied), as a clinic would; "
                 "default: in memory only");
  cli.add_option("--resumers", resumers,
                 "Feed subscribers that resume from the first event, read the replay and do it again, all "
                 "run long (needs --data-dir: the replay is read from the timeline)")
      ->capture_default_str();
  cli.add_option("--resume-pause-ms", resume_pause_ms, "How long a resuming subscriber waits before resuming again")
      ->capture_default_str();
  cli.add_option("--history-events", history_events, "feed.history_events: events kept in memory for resumes")
      ->capture_default_str();
  CLI11_PARSE(cli, argc, argv);
  if (resumers > 0 && data_dir.empty()) {
    fmt::print(stderr, "--resumers needs --data-dir: resumes from before memory read the timeline\n");
    return 2;
  }

  vigil::config::daemon_config config;
  config.ingest.port = 0;
  config.ingest.devices = {{"mon-*", "latency-device-token", ""}};
  config.ingest.max_connections = static_cast<std::size_t>(chairs) + 16;
  // Every monitor connects from loopback at once: room for all of them to say Hello together.
  config.ingest.max_unauthenticated = config.ingest.max_connections;
  config.ingest.max_unauthenticated_per_peer = config.ingest.max_connections;
  config.control.port = 0;
  config.feed.port = 0;
  config.feed.history_events = history_events;
  config.http.enabled = false;
  config.users = {{"bench-admin", admin_token, vigil::control::role::admin}};
  auto fast = vigil::engine::generic_profile();
  fast.id = "fast";
  // Immediate alarms, to time the path rather than the rules: no delay, one reading raises and
  // one clears (alarms.md 5.2), and no artefact judgement of the jump to 150 and back.
  for (auto& rule : fast.limits) {
    rule.delay_ms = 0;
    rule.min_readings = 1;
  }
  fast.artefacts.enabled = false;
  fast.news2.enabled = false;
  fast.predose.require_reading = false;
  config.profiles = {fast};
  config.default_profile = "fast";
  config.log.level = "error";
  if (!data_dir.empty()) {
    std::filesystem::remove_all(data_dir);
    config.data_dir = data_dir;
  }
  vigil::log::configure(config.log);
  std::optional<resumer_process> resuming;
  if (resumers > 0) resuming.emplace(resumers, std::chrono::milliseconds(resume_pause_ms));
  vigil::app::daemon daemon(config, {false, nullptr, {}});
  daemon.start();
  std::thread daemon_thread([&] {
    pthread_setname_np(pthread_self(), "vigild-io");  // to find it in a profile
    daemon.run();
  });
  open_sessions(daemon.control_port(), chairs);

  // Push times of the crossing samples, by (chair, sample time), and the latencies measured.
  std::mutex mutex;
  // (A chair with no sample yet follows the daemon's clock, so an alarm may be stamped a little
  // after its sample: it is matched to the chair's crossing of the second before it.)
  std::map<std::pair<std::string, std::int64_t>, steady::time_point> crossings;
  std::vector<double> latencies_us;

  asio::io_context sub_io;
  tcp::socket sub(sub_io);
  sub.connect({asio::ip::make_address("127.0.0.1"), daemon.feed_port()});
  {
    vigil::v1::FeedRequest request;
    request.set_token(admin_token);
    request.mutable_subscribe()->add_categories(vigil::v1::EVENT_CATEGORY_ALARMS);
    std::string frame;
    vigil::codec::append_frame(frame, request);
    asio::write(sub, asio::buffer(frame));
  }
  // The snapshot first: from then on every alarm raised reaches the subscriber as an event.
  vigil::codec::frame_decoder decoder(vigil::codec::hard_max_frame_bytes);
  {
    vigil::v1::FeedMessage snapshot;
    if (!read_message(sub, decoder, snapshot) || !snapshot.has_snapshot()) {
      fmt::print(stderr, "the feed did not answer with a snapshot\n");
      return 1;
    }
  }
  std::thread subscriber([&] {
    vigil::v1::FeedMessage m;
    while (read_message(sub, decoder, m)) {
      const auto now = steady::now();
      if (!m.has_event() || m.event().event().type() != vigil::v1::EVENT_TYPE_ALARM_RAISED) continue;
      const auto& e = m.event().event();
      if (e.rule() != "hr_high") continue;  // not latching: raised at every crossing
      std::lock_guard lock(mutex);
      auto it = crossings.upper_bound({e.chair_id(), e.at_ms()});
      if (it == crossings.begin()) continue;
      --it;
      if (it->first.first != e.chair_id() || e.at_ms() - it->first.second >= 1000) continue;
      latencies_us.push_back(std::chrono::duration<double, std::micro>(now - it->second).count());
      crossings.erase(it);
    }
  });

  // Resuming from the first event: every chair's session_opened and everything since, most of it
  // read from the timeline once it has left memory.
  if (resuming) resuming->start(daemon.feed_port());

  asio::io_context io(1);
  std::vector<std::unique_ptr<vigil::sim::device_client>> clients;
  for (int c = 0; c < chairs; ++c) {
    vigil::sim::device_client::options o;
    o.port = daemon.ingest_port();
    o.device_id = fmt::format("mon-{}", c);
    o.chair_id = fmt::format("chair-{}", c);
    o.token = "latency-device-token";
    clients.push_back(std::make_unique<vigil::sim::device_client>(io.get_executor(), o));
  }
  std::uint64_t crossings_sent = 0;
  for (int c = 0; c < chairs; ++c) {
    auto& client = *clients[static_cast<std::size_t>(c)];
    asio::co_spawn(io, client.run(), asio::detached);
    asio::co_spawn(
        io,
        [&, c]() -> asio::awaitable<void> {
          asio::steady_timer timer(co_await asio::this_coro::executor);
          // Chairs start spread over the first second, as real monitors would be.
          timer.expires_after(std::chrono::microseconds(c * 1'000'000 / std::max(chairs, 1)));
          co_await timer.async_wait(asio::use_awaitable);
          const std::string chair = fmt::format("chair-{}", c);
          for (int s = 0; s < seconds; ++s) {
            const std::int64_t at = wall_ms();
            // High for one second in every `period`: raised, then cleared the next second.
            const bool crossing = (s + c) % period == 0;
            google::protobuf::RepeatedPtrField<vigil::v1::Sample> batch;
            const std::pair<vigil::v1::VitalKind, double> values[] = {{vigil::v1::HEART_RATE, crossing ? 150.0 : 80.0},
                                                                      {vigil::v1::SPO2, 97},
                                                                      {vigil::v1::RESPIRATORY_RATE, 14},
                                                                      {vigil::v1::PULSE_RATE, crossing ? 150.0 : 80.0}};
            for (const auto& [kind, value] : values) {
              auto& sample = *batch.Add();
              sample.set_kind(kind);
              sample.set_value(value);
              sample.set_time_ms(at);
            }
            if (crossing) {
              std::lock_guard lock(mutex);
              crossings[{chair, at}] = steady::now();
              ++crossings_sent;
            }
            client.push(batch);
            timer.expires_after(std::chrono::seconds(1));
            co_await timer.async_wait(asio::use_awaitable);
          }
          co_await client.drain();
          client.stop();
        },
        asio::detached);
  }
  const auto start = steady::now();
  io.run();
  const double elapsed = std::chrono::duration<double>(steady::now() - start).count();
  // The last alarms are in flight for a moment: wait until every crossing is seen, or 5 s.
  for (int i = 0; i < 500; ++i) {
    {
      std::lock_guard lock(mutex);
      if (latencies_us.size() >= crossings_sent) break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  const auto resumed = resuming ? resuming->finish() : std::array<std::uint64_t, 3>{};
  boost::system::error_code ignored;
  sub.shutdown(tcp::socket::shutdown_both, ignored);
  sub.close(ignored);
  subscriber.join();
  const auto samples = daemon.ingest_stats().samples_accepted.load();

  for (const auto& [key, pushed] : crossings) {
    fmt::print(stderr, "no alarm seen for chair {} at {}\n", key.first, key.second);
  }
  std::sort(latencies_us.begin(), latencies_us.end());
  auto pct = [&](double p) {
    if (latencies_us.empty()) return 0.0;
    return latencies_us[std::min(latencies_us.size() - 1, static_cast<std::size_t>(p * static_cast<double>(latencies_us.size())))];
  };
  const auto& daemon_side = daemon.alarm_delivery();
  fmt::print("chairs={} seconds={:.1f} samples_accepted={} samples_per_second={:.0f} alarms_sent={} alarms_seen={}\n"
             "  end to end (load generator's send to subscriber's read): p50_us={:.0f} p99_us={:.0f} max_us={:.0f}\n"
             "  in vigild (sample read to alarm frame written, all alarms): count={} p50_us={:.0f} p99_us={:.0f} "
             "p999_us={:.0f}\n",
             chairs, elapsed, samples, static_cast<double>(samples) / elapsed, crossings_sent, latencies_us.size(),
             pct(0.50), pct(0.99), latencies_us.empty() ? 0.0 : latencies_us.back(), daemon_side.count(),
             daemon_side.quantile_us(0.50), daemon_side.quantile_us(0.99), daemon_side.quantile_us(0.999));
  if (resumers > 0) {
    const auto& behind = daemon.alarm_delivery_after_resume();
    fmt::print("  in vigild, alarms that waited for a resume's replay to be written (to the resuming subscriber): "
               "count={} p50_us={:.0f} p99_us={:.0f}\n",
               behind.count(), behind.quantile_us(0.50), behind.quantile_us(0.99));
    fmt::print("  resuming subscribers={} history_events={} pause_ms={}: replays done={} refused={} events replayed={}\n",
               resumers, history_events, resume_pause_ms, resumed[0], resumed[1], resumed[2]);
  }
  daemon.stop();
  daemon_thread.join();
  return latencies_us.size() == crossings_sent ? 0 : 1;
}
