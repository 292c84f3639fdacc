#include "tests/integration/harness.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/write.hpp>

#include <cstdlib>
#include <sstream>
#include <stdexcept>

namespace vigil::test {

namespace asio = boost::asio;
using asio::ip::tcp;

void recording_sink::submit(const ingest::batch_view& view, const std::shared_ptr<ingest::device_state>& device) {
  {
    std::lock_guard lock(mutex_);
    batches_.push_back({std::string(view.device_id), std::string(view.chair_id), view.seq,
                        std::vector<model::vital_sample>(view.samples.begin(), view.samples.end())});
  }
  device->mark_stored(view.seq, device->epoch);
}

std::vector<recording_sink::batch> recording_sink::batches() const {
  std::lock_guard lock(mutex_);
  return batches_;
}

std::size_t recording_sink::sample_count() const {
  std::lock_guard lock(mutex_);
  std::size_t n = 0;
  for (const auto& b : batches_) n += b.samples.size();
  return n;
}

config::daemon_config test_config() {
  config::daemon_config c;
  c.ingest.address = "127.0.0.1";
  c.ingest.port = 0;
  c.ingest.handshake_timeout = std::chrono::seconds(5);
  c.ingest.idle_timeout = std::chrono::seconds(30);
  c.ingest.devices = {{"dev-*", device_token, ""}, {"pinned", device_token, "chair-pinned"}};
  c.control.port = 0;
  c.feed.port = 0;
  c.http.port = 0;
  c.users = {{"nurse-ana", operator_token, control::role::admin}};
  c.log.level = "warn";
  return c;
}

namespace {
/// With a data_dir or a PostgreSQL store the daemon keeps its own timeline; otherwise batches go
/// to the test's sink.
app::daemon::options options_for(const config::daemon_config& config, std::shared_ptr<recording_sink> sink) {
  const bool stores = !config.data_dir.empty() || config.store.backend == "postgres";
  return {false, stores ? nullptr : std::move(sink), {}};
}
}  // namespace

daemon_under_test::daemon_under_test(config::daemon_config config)
    : sink_(std::make_shared<recording_sink>()), daemon_(config, options_for(config, sink_)) {
  daemon_.start();
  thread_ = std::thread([this] { daemon_.run(); });
}

daemon_under_test::~daemon_under_test() { stop(); }

void daemon_under_test::stop() {
  if (!thread_.joinable()) return;
  daemon_.stop();
  thread_.join();
}

void open_from(tcp::socket& socket, const std::string& source) {
  socket.open(tcp::v4());
  if (!source.empty()) socket.bind(tcp::endpoint(asio::ip::make_address(source), 0));
}

test_client::test_client(std::uint16_t port, const std::string& source)
    : socket_(io_), decoder_(codec::hard_max_frame_bytes) {
  open_from(socket_, source);
  socket_.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
  socket_.set_option(tcp::no_delay(true));
}

void test_client::send(const v1::DeviceMessage& message) {
  std::string frame;
  codec::append_frame(frame, message);
  send_raw(frame);
}

void test_client::send_raw(const std::string& bytes) { asio::write(socket_, asio::buffer(bytes)); }

namespace {

enum class read_result { data, closed, timed_out };

/// One read into `decoder` that gives up after `timeout`: the tests' only way of waiting.
read_result read_within(asio::io_context& io, tcp::socket& socket, codec::frame_decoder& decoder,
                        std::chrono::milliseconds timeout) {
  bool done = false;
  boost::system::error_code result;
  const auto space = decoder.prepare();
  socket.async_read_some(asio::buffer(space.data(), space.size()), [&](boost::system::error_code ec, std::size_t n) {
    done = true;
    result = ec;
    decoder.commit(n);
  });
  io.restart();
  io.run_for(timeout);
  if (!done) {
    socket.cancel();
    io.restart();
    io.run();
    return read_result::timed_out;
  }
  return result ? read_result::closed : read_result::data;
}

}  // namespace

bool test_client::read_some(std::chrono::milliseconds timeout) {
  if (eof_) return false;
  const auto r = read_within(io_, socket_, decoder_, timeout);
  if (r == read_result::closed) eof_ = true;
  return r == read_result::data;
}

std::optional<v1::DaemonMessage> test_client::receive(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  v1::DaemonMessage message;
  for (;;) {
    const auto frame = decoder_.next(message);
    if (frame.status == codec::decode_status::ok) {
      if (message.has_ack()) acks_.push_back(message.ack().acked_seq());
      return message;
    }
    if (frame.status == codec::decode_status::bad) throw std::runtime_error("daemon sent a bad frame");
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0 || !read_some(left)) return std::nullopt;
  }
}

bool test_client::wait_closed(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!eof_) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    if (!read_some(left) && !eof_) return false;
  }
  return true;
}

std::optional<v1::DaemonMessage> test_client::hello(const std::string& device_id, const std::string& token,
                                                    const std::string& chair) {
  send(make_hello(device_id, token, chair));
  return receive();
}

bool test_client::wait_ack(std::uint64_t seq, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    auto message = receive(left);
    if (!message) return false;
    if (message->has_error() && message->error().fatal()) return false;
    if (message->has_ack() && message->ack().acked_seq() >= seq) return true;
  }
}

void test_client::close() {
  boost::system::error_code ignored;
  socket_.close(ignored);
}

v1::DeviceMessage make_hello(const std::string& device_id, const std::string& token, const std::string& chair) {
  v1::DeviceMessage m;
  auto& h = *m.mutable_hello();
  h.set_device_id(device_id);
  h.set_token(token);
  h.set_chair_id(chair);
  h.set_protocol_version(v1::PROTOCOL_VERSION_1);
  h.set_software("integration test");
  return m;
}

v1::DeviceMessage make_batch(std::uint64_t seq, int count, std::int64_t first_time_ms) {
  v1::DeviceMessage m;
  auto& b = *m.mutable_batch();
  b.set_seq(seq);
  for (int i = 0; i < count; ++i) {
    auto& s = *b.add_samples();
    s.set_kind(v1::HEART_RATE);
    s.set_value(60 + i % 30);
    s.set_time_ms(first_time_ms + i * 1000);
  }
  return m;
}

}  // namespace vigil::test

namespace vigil::test {

control_client::control_client(std::uint16_t port, const std::string& source)
    : socket_(io_), decoder_(codec::hard_max_frame_bytes) {
  open_from(socket_, source);
  socket_.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
}

std::optional<v1::ControlResponse> control_client::call(v1::ControlRequest request, std::chrono::milliseconds timeout) {
  if (request.token().empty()) request.set_token(operator_token);
  request.set_request_id(next_id_++);
  std::string frame;
  codec::append_frame(frame, request);
  send_raw(frame);
  return receive(timeout);
}

void control_client::send_raw(const std::string& bytes) {
  boost::system::error_code ignored;  // the daemon may have closed already: what it sent says why
  asio::write(socket_, asio::buffer(bytes), ignored);
}

std::optional<v1::ControlResponse> control_client::receive(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  v1::ControlResponse response;
  for (;;) {
    const auto f = decoder_.next(response);
    if (f.status == codec::decode_status::ok) return response;
    if (f.status == codec::decode_status::bad || eof_) return std::nullopt;
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return std::nullopt;
    const auto r = read_within(io_, socket_, decoder_, left);
    if (r == read_result::closed) eof_ = true;
    if (r == read_result::timed_out) return std::nullopt;
  }
}

bool control_client::wait_closed(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  v1::ControlResponse dropped;
  while (!eof_) {
    while (decoder_.next(dropped).status == codec::decode_status::ok) {
    }
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    const auto r = read_within(io_, socket_, decoder_, left);
    if (r == read_result::closed) eof_ = true;
    if (r == read_result::timed_out) return false;
  }
  return true;
}

feed_client::feed_client(std::uint16_t port, int receive_buffer, const std::string& source)
    : socket_(io_), decoder_(codec::hard_max_frame_bytes) {
  open_from(socket_, source);
  if (receive_buffer > 0) socket_.set_option(asio::socket_base::receive_buffer_size(receive_buffer));
  socket_.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
}

void feed_client::subscribe(v1::FeedRequest request) {
  if (request.token().empty()) request.set_token(operator_token);
  std::string frame;
  codec::append_frame(frame, request);
  send_raw(frame);
}

void feed_client::send_raw(const std::string& bytes) {
  boost::system::error_code ignored;  // the daemon may have closed already: what it sent says why
  asio::write(socket_, asio::buffer(bytes), ignored);
}

std::optional<v1::FeedMessage> feed_client::next(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  v1::FeedMessage m;
  for (;;) {
    const auto f = decoder_.next(m);
    if (f.status == codec::decode_status::ok) return m;
    if (f.status == codec::decode_status::bad) throw std::runtime_error("daemon sent a bad feed frame");
    if (eof_) return std::nullopt;
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return std::nullopt;
    const auto r = read_within(io_, socket_, decoder_, left);
    if (r == read_result::closed) eof_ = true;
    if (r == read_result::timed_out) return std::nullopt;
  }
}

std::optional<v1::FeedMessage> feed_client::next_event(std::chrono::milliseconds timeout) {
  for (;;) {
    auto m = next(timeout);
    if (!m || !m->has_vitals()) return m;
  }
}

}  // namespace vigil::test

#include <boost/beast/http/read.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>

namespace vigil::test {

std::string http_reply::header(const std::string& lower_name) const {
  const auto it = headers.find(lower_name);
  return it == headers.end() ? std::string() : it->second;
}

http_client::http_client(std::uint16_t port, const std::string& source) : socket_(io_) {
  open_from(socket_, source);
  socket_.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
}

std::optional<http_reply> http_client::request(const std::string& method, const std::string& target,
                                               const std::string& token, const std::string& body,
                                               const std::string& content_type) {
  std::string text = method + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\n";
  if (!token.empty()) text += "Authorization: Bearer " + token + "\r\n";
  if (!body.empty()) text += "Content-Type: " + content_type + "\r\n";
  if (!body.empty() || method == "POST") text += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  text += "\r\n" + body;
  send_raw(text);
  return receive();
}

void http_client::send_raw(const std::string& bytes) {
  boost::system::error_code ec;
  asio::write(socket_, asio::buffer(bytes), ec);  // the daemon may have closed already: the reply says why
}

std::optional<http_reply> http_client::receive(std::chrono::milliseconds timeout) {
  namespace bh = boost::beast::http;
  bh::response_parser<bh::string_body> parser;
  parser.body_limit(64 * 1024 * 1024);
  bool done = false;
  boost::system::error_code result;
  bh::async_read(socket_, buffer_, parser, [&](boost::system::error_code ec, std::size_t) {
    done = true;
    result = ec;
  });
  io_.restart();
  io_.run_for(timeout);
  if (!done) {
    socket_.cancel();
    io_.restart();
    io_.run();
    return std::nullopt;
  }
  if (result) return std::nullopt;
  auto& message = parser.get();
  http_reply reply;
  reply.status = static_cast<int>(message.result_int());
  for (const auto& field : message) {
    std::string name(field.name_string());
    for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    reply.headers[name] = std::string(field.value());
  }
  reply.body = message.body();
  reply.keep_alive = message.keep_alive();
  return reply;
}

bool http_client::wait_closed(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    bool done = false;
    boost::system::error_code result;
    auto space = buffer_.prepare(4096);
    socket_.async_read_some(space, [&](boost::system::error_code ec, std::size_t n) {
      done = true;
      result = ec;
      buffer_.commit(n);
    });
    io_.restart();
    io_.run_for(left);
    if (!done) {
      socket_.cancel();
      io_.restart();
      io_.run();
      return false;
    }
    if (result) return true;
    buffer_.consume(buffer_.size());
  }
}

}  // namespace vigil::test

#include <boost/beast/core/buffers_to_string.hpp>
#include <google/protobuf/util/json_util.h>

namespace vigil::test {

namespace websocket = boost::beast::websocket;

ws_client::ws_client(std::uint16_t http_port, int receive_buffer, const std::string& target) : ws_(io_) {
  auto& socket = boost::beast::get_lowest_layer(ws_).socket();
  socket.open(tcp::v4());
  if (receive_buffer > 0) socket.set_option(asio::socket_base::receive_buffer_size(receive_buffer));
  socket.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), http_port));
  bool done = false;
  boost::system::error_code result;
  boost::beast::get_lowest_layer(ws_).expires_after(default_wait);
  ws_.async_handshake("127.0.0.1:" + std::to_string(http_port), target, [&](boost::system::error_code ec) {
    done = true;
    result = ec;
  });
  io_.run();
  if (!done || result) throw std::runtime_error("WebSocket upgrade failed: " + result.message());
  boost::beast::get_lowest_layer(ws_).expires_never();
}

ws_client::~ws_client() {
  boost::system::error_code ignored;
  boost::beast::get_lowest_layer(ws_).socket().close(ignored);
  io_.restart();
  io_.poll();
}

void ws_client::subscribe(v1::FeedRequest request) {
  if (request.token().empty()) request.set_token(operator_token);
  std::string text;
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  if (!google::protobuf::util::MessageToJsonString(request, &text, options).ok()) throw std::runtime_error("bad request");
  send_text(text);
}

void ws_client::send_text(const std::string& text) {
  ws_.text(true);
  boost::system::error_code ignored;  // the daemon may have closed already: what it sent says why
  ws_.write(asio::buffer(text), ignored);
}

void ws_client::send_binary(const std::string& bytes) {
  ws_.binary(true);
  boost::system::error_code ignored;
  ws_.write(asio::buffer(bytes), ignored);
  ws_.text(true);
}

std::optional<std::string> ws_client::next_text(std::chrono::milliseconds timeout) {
  if (!lines_.empty()) {
    auto line = std::move(lines_.front());
    lines_.pop_front();
    return line;
  }
  if (ended_) return std::nullopt;
  if (!reading_) {
    reading_ = true;
    read_done_ = false;
    buffer_.clear();
    ws_.async_read(buffer_, [this](boost::system::error_code ec, std::size_t) {
      read_done_ = true;
      read_ec_ = ec;
    });
  }
  io_.restart();
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!read_done_ && std::chrono::steady_clock::now() < deadline) {
    io_.run_one_until(deadline);
  }
  if (!read_done_) return std::nullopt;  // still pending: the next call waits on
  reading_ = false;
  if (read_ec_) {
    ended_ = true;
    end_error_ = read_ec_;
    close_code_ = static_cast<int>(ws_.reason().code);
    close_reason_ = std::string(ws_.reason().reason.c_str());
    // Let Beast finish its side of the close (the reply to the daemon's close frame).
    io_.restart();
    io_.run_for(std::chrono::milliseconds(100));
    return std::nullopt;
  }
  if (!ws_.got_text()) throw std::runtime_error("the daemon sent a binary message");
  const std::string text = boost::beast::buffers_to_string(buffer_.data());
  for (std::size_t start = 0; start <= text.size();) {
    const auto end = std::min(text.find('\n', start), text.size());
    lines_.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  auto line = std::move(lines_.front());
  lines_.pop_front();
  return line;
}

std::optional<v1::FeedMessage> ws_client::next(std::chrono::milliseconds timeout) {
  auto text = next_text(timeout);
  if (!text) return std::nullopt;
  v1::FeedMessage m;
  const auto parsed = google::protobuf::util::JsonStringToMessage(*text, &m);
  if (!parsed.ok()) throw std::runtime_error("the daemon sent a message that is not a FeedMessage: " + *text);
  return m;
}

std::optional<v1::FeedMessage> ws_client::next_event(std::chrono::milliseconds timeout) {
  for (;;) {
    auto m = next(timeout);
    if (!m || !m->has_vitals()) return m;
  }
}

void ws_client::close() {
  bool done = false;
  ws_.async_close(websocket::close_code::normal, [&](boost::system::error_code) { done = true; });
  io_.restart();
  const auto deadline = std::chrono::steady_clock::now() + default_wait;
  while (!done && std::chrono::steady_clock::now() < deadline) io_.run_one_until(deadline);
  ended_ = true;
}

double metric(daemon_under_test& d, const std::string& series) {
  http_client client(d.http_port());
  const auto r = client.request("GET", "/metrics");
  if (!r || r->status != 200) return -2;
  std::istringstream lines(r->body);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind(series + " ", 0) == 0) return std::strtod(line.c_str() + series.size() + 1, nullptr);
  }
  return -1;
}

}  // namespace vigil::test
