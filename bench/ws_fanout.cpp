// WebSocket fan-out: vigild in-process on one thread, N WebSocket feed subscribers on
// another (asynchronous clients on one io_context each), and monitors on a third streaming
// heart rates that cross the limit of a zero-delay profile at every sample, so that every
// sample raises or clears an alarm. The figure counts alarm events delivered to subscribers
// per second of wall time, from the first sample sent to the last event received.
//
//   ws_fanout [--subscribers N] [--rate EVENTS_PER_SECOND] [--seconds S] [--chairs C] [--batch B]
//             [--client-threads T]
//
// --rate is the events the monitors cause per second; each is delivered to every subscriber.
// Subscribers that fall behind the hub's queue limits are cut off and counted.

#include "daemon/app/daemon.hpp"
#include "daemon/engine/profile.hpp"
#include "daemon/log/log.hpp"
#include "sim/device_client.hpp"

#include <CLI/CLI.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <fmt/format.h>

#include <sys/resource.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <thread>
#include <vector>

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using asio::ip::tcp;
using steady = std::chrono::steady_clock;

namespace {

constexpr const char* user_token = "bench-admin-token-0000";
constexpr const char* device_token = "bench-device-token";
constexpr auto nothrow = asio::as_tuple(asio::use_awaitable);

std::int64_t now_ns() { return std::chrono::duration_cast<std::chrono::nanoseconds>(steady::now().time_since_epoch()).count(); }

std::int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

struct subscriber {
  explicit subscriber(asio::io_context& io) : ws(io) {}
  websocket::stream<beast::tcp_stream> ws;
  beast::flat_buffer buffer;
  std::atomic<std::uint64_t> events{0};
  std::atomic<std::int64_t> last_event_ns{0};
  std::atomic<bool> ready{false};
  std::atomic<bool> cut_off{false};
  std::atomic<bool> ended{false};
  std::string failure;
};

/// Connects, subscribes to alarms and counts the events that arrive, without parsing them.
asio::awaitable<void> subscribe(subscriber& s, std::uint16_t port, std::atomic<int>& ready) {
  auto& lowest = beast::get_lowest_layer(s.ws);
  auto [connect_ec] = co_await lowest.async_connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port), nothrow);
  if (!connect_ec) {
    auto [handshake_ec] = co_await s.ws.async_handshake(fmt::format("127.0.0.1:{}", port), "/api/v1/feed", nothrow);
    connect_ec = handshake_ec;
  }
  if (connect_ec) {
    s.failure = connect_ec.message();
    s.ended = true;
    ++ready;
    co_return;
  }
  const std::string request =
      fmt::format(R"({{"token":"{}","subscribe":{{"categories":["EVENT_CATEGORY_ALARMS"]}}}})", user_token);
  co_await s.ws.async_write(asio::buffer(request), nothrow);
  for (;;) {
    s.buffer.clear();
    auto [ec, n] = co_await s.ws.async_read(s.buffer, nothrow);
    if (ec) break;
    const std::string_view message(static_cast<const char*>(s.buffer.data().data()), n);
    // A message holds one or more FeedMessages, one per line.
    std::uint64_t events = 0;
    for (std::size_t start = 0; start < message.size();) {
      const auto end = std::min(message.find('\n', start), message.size());
      const auto text = message.substr(start, end - start);
      start = end + 1;
      if (text.starts_with(R"({"event")")) {
        ++events;
      } else if (text.starts_with(R"({"snapshot")")) {
        s.ready = true;
        ++ready;
      } else if (text.starts_with(R"({"closing")") && text.find("FEED_ERROR_TOO_SLOW") != std::string_view::npos) {
        s.cut_off = true;
      }
    }
    if (events > 0) {
      s.events.fetch_add(events, std::memory_order_relaxed);
      s.last_event_ns.store(now_ns(), std::memory_order_relaxed);
    }
  }
  s.ended = true;
}

/// Opens a session on `chair` over the REST API.
void open_session(std::uint16_t port, const std::string& chair) {
  namespace bh = beast::http;
  asio::io_context io;
  beast::tcp_stream stream(io);
  stream.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
  bh::request<bh::string_body> req(bh::verb::post, "/api/v1/sessions", 11);
  req.set(bh::field::host, "127.0.0.1");
  req.set(bh::field::authorization, fmt::format("Bearer {}", user_token));
  req.set(bh::field::content_type, "application/json");
  req.body() = fmt::format(R"({{"chair_id":"{}","patient_ref":"P-{}"}})", chair, chair);
  req.prepare_payload();
  bh::write(stream, req);
  beast::flat_buffer buffer;
  bh::response<bh::string_body> res;
  bh::read(stream, buffer, res);
  if (res.result() != bh::status::created) throw std::runtime_error("cannot open a session: " + res.body());
}

}  // namespace

int main(int argc, char** argv) {
  int subscribers = 1000;
  double rate = 600;
  double seconds = 10;
  int chairs = 4;
  int batch_size = 10;
  int client_threads = 1;
  CLI::App cli{"ws_fanout: events delivered per second to WebSocket feed subscribers"};
  cli.add_option("--subscribers", subscribers, "WebSocket subscribers")->capture_default_str();
  cli.add_option("--rate", rate, "Alarm events caused per second (each goes to every subscriber)")->capture_default_str();
  cli.add_option("--seconds", seconds, "How long the monitors stream")->capture_default_str();
  cli.add_option("--chairs", chairs, "Monitors, one chair and session each")->capture_default_str();
  cli.add_option("--batch", batch_size, "Samples per batch (one event each)")->capture_default_str();
  cli.add_option("--client-threads", client_threads, "Threads running the subscribers")->capture_default_str();
  CLI11_PARSE(cli, argc, argv);

  // Two sockets per subscriber in this one process.
  rlimit files{};
  if (getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur < files.rlim_max) {
    files.rlim_cur = files.rlim_max;
    setrlimit(RLIMIT_NOFILE, &files);
  }

  vigil::config::daemon_config config;
  config.ingest.port = 0;
  config.ingest.devices = {{"load-*", device_token, ""}};
  config.control.enabled = false;
  config.feed.enabled = false;  // the TCP feed; the WebSocket feed is on the HTTP listener
  config.http.port = 0;
  config.http.max_connections = static_cast<std::size_t>(subscribers) + 16;
  // Every subscriber connects from loopback at once and does not retry: room for all of them
  // before their FeedRequests arrive.
  config.http.max_unauthenticated = config.http.max_connections;
  config.http.max_unauthenticated_per_peer = config.http.max_connections;
  config.users = {{"bench", user_token, vigil::control::role::admin}};
  auto fast = vigil::engine::generic_profile();
  fast.id = "fast";
  for (auto& rule : fast.limits) rule.delay_ms = 0;
  fast.news2.enabled = false;
  config.profiles = {fast};
  config.default_profile = "fast";
  config.log.level = "error";  // every sample raises or clears an alarm, which the clinic logs
  vigil::log::configure(config.log);
  vigil::app::daemon daemon(config, {false, nullptr, {}});
  daemon.start();
  std::thread daemon_thread([&] { daemon.run(); });
  const auto http_port = daemon.http_port();
  for (int c = 0; c < chairs; ++c) open_session(http_port, fmt::format("chair-{}", c));

  // Subscribers, spread over the client threads.
  std::vector<std::unique_ptr<asio::io_context>> client_ios;
  for (int t = 0; t < client_threads; ++t) client_ios.push_back(std::make_unique<asio::io_context>(1));
  std::vector<std::unique_ptr<subscriber>> subs;
  std::atomic<int> ready{0};
  for (int i = 0; i < subscribers; ++i) {
    auto& io = *client_ios[static_cast<std::size_t>(i % client_threads)];
    subs.push_back(std::make_unique<subscriber>(io));
    asio::co_spawn(io, subscribe(*subs.back(), http_port, ready), asio::detached);
  }
  std::vector<std::thread> client_threads_run;
  for (auto& io : client_ios) client_threads_run.emplace_back([&io = *io] { io.run(); });
  const auto connect_start = steady::now();
  while (ready.load() < subscribers && steady::now() - connect_start < std::chrono::seconds(60)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));  // the bench's own progress poll, not a test
  }
  const double connect_seconds = std::chrono::duration<double>(steady::now() - connect_start).count();
  int failed = 0;
  for (const auto& s : subs) failed += s->ready ? 0 : 1;

  // Monitors: each sample's heart rate is on the other side of the limit from the last one.
  asio::io_context device_io(1);
  std::vector<std::unique_ptr<vigil::sim::device_client>> devices;
  const double per_device = rate / chairs;
  const std::int64_t t0 = wall_ms();
  std::atomic<bool> generating{true};
  const auto start = steady::now();
  const std::int64_t start_ns = now_ns();
  for (int c = 0; c < chairs; ++c) {
    vigil::sim::device_client::options o;
    o.port = daemon.ingest_port();
    o.device_id = fmt::format("load-{}", c);
    o.chair_id = fmt::format("chair-{}", c);
    o.token = device_token;
    devices.push_back(std::make_unique<vigil::sim::device_client>(device_io.get_executor(), o));
    auto& client = *devices.back();
    asio::co_spawn(device_io, client.run(), asio::detached);
    const auto pace = [&client, &generating, per_device, batch_size, t0, seconds]() -> asio::awaitable<void> {
      asio::steady_timer timer(co_await asio::this_coro::executor);
      const auto begin = steady::now();
      std::uint64_t sent = 0;  // samples
      google::protobuf::RepeatedPtrField<vigil::v1::Sample> batch;
      for (;;) {
        const double elapsed = std::chrono::duration<double>(steady::now() - begin).count();
        if (elapsed >= seconds) break;
        const auto due = static_cast<std::uint64_t>(per_device * elapsed);
        while (sent + static_cast<std::uint64_t>(batch_size) <= due) {
          batch.Clear();
          for (int i = 0; i < batch_size; ++i, ++sent) {
            auto& s = *batch.Add();
            s.set_kind(vigil::v1::HEART_RATE);
            s.set_value(sent % 2 == 0 ? 150 : 80);
            s.set_time_ms(t0 + static_cast<std::int64_t>(sent) * 10);
          }
          co_await client.wait_for_room();
          client.push(batch);
        }
        timer.expires_after(std::chrono::milliseconds(5));
        co_await timer.async_wait(asio::use_awaitable);
      }
      co_await client.drain();
      client.stop();
    };
    asio::co_spawn(device_io, pace, asio::detached);
  }
  std::thread device_thread([&] { device_io.run(); });
  device_thread.join();
  generating = false;
  const double generate_seconds = std::chrono::duration<double>(steady::now() - start).count();
  fmt::print(stderr, "monitors done after {:.2f} s; waiting for the subscribers to catch up\n", generate_seconds);

  // Wait until every subscriber still connected has as many events as the one with the most,
  // or nothing has arrived for two seconds.
  std::uint64_t published = 0;
  for (auto settle_start = steady::now();;) {
    published = 0;
    bool behind = false;
    std::int64_t newest = 0;
    for (const auto& s : subs) published = std::max(published, s->events.load());
    for (const auto& s : subs) {
      if (!s->ended && s->events.load() < published) behind = true;
      newest = std::max(newest, s->last_event_ns.load());
    }
    if (!behind) break;
    if (now_ns() - newest > 2'000'000'000LL || steady::now() - settle_start > std::chrono::seconds(60)) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  std::uint64_t delivered = 0;
  std::uint64_t fewest = published;
  std::int64_t last_ns = start_ns;
  int cut_off = 0;
  for (const auto& s : subs) {
    delivered += s->events.load();
    fewest = std::min<std::uint64_t>(fewest, s->events.load());
    last_ns = std::max(last_ns, s->last_event_ns.load());
    cut_off += s->cut_off ? 1 : 0;
  }
  const double window = static_cast<double>(last_ns - start_ns) / 1e9;

  daemon.stop();
  daemon_thread.join();
  // Subscribers still behind when the daemon's stop ran out of time have open sockets left.
  for (auto& io : client_ios) io->stop();
  for (auto& t : client_threads_run) t.join();

  fmt::print("ws_fanout --subscribers {} --rate {} --seconds {} --chairs {} --batch {} --client-threads {}\n",
             subscribers, rate, seconds, chairs, batch_size, client_threads);
  fmt::print("subscribers={} failed={} connect_seconds={:.2f} cut_off={} events_published={} events_per_second_caused={:.0f} "
             "delivered={} fewest_per_subscriber={} seconds={:.3f} events_delivered_per_second={:.0f}\n",
             subscribers, failed, connect_seconds, cut_off, published, static_cast<double>(published) / generate_seconds,
             delivered, fewest, window, static_cast<double>(delivered) / window);
  return failed == 0 && cut_off == 0 && fewest == published ? 0 : 1;
}
