#include "daemon/ingest/device_protocol.hpp"

#include "daemon/ingest/validate.hpp"
#include "daemon/log/log.hpp"
#include "daemon/net/listener.hpp"
#include "vigil/v1/device.pb.h"

#include <spdlog/spdlog.h>

#include <algorithm>

namespace vigil::ingest {
namespace {

// A SAMPLE_REJECTED error lists at most this many samples; its message gives the total.
constexpr int max_listed_rejections = 16;
// Hello.software is free text from the device: escaped and cut to this many bytes in the log.
constexpr std::size_t max_logged_software = 128;

v1::ErrorCode wire_code(codec::frame_error error) {
  switch (error) {
    case codec::frame_error::malformed_varint: return v1::MALFORMED_VARINT;
    case codec::frame_error::frame_too_large: return v1::FRAME_TOO_LARGE;
    case codec::frame_error::empty_frame: return v1::EMPTY_FRAME;
    case codec::frame_error::unparsable_message: return v1::UNPARSABLE_MESSAGE;
    case codec::frame_error::truncated_varint:
    case codec::frame_error::truncated_frame: return v1::PROTOCOL_VIOLATION;
    case codec::frame_error::none: break;
  }
  return v1::INTERNAL;
}

}  // namespace

device_protocol::device_protocol(std::uint64_t connection_id, context ctx, device_link& link, net::auth_gate* gate)
    : id_(connection_id), ctx_(ctx), link_(link), gate_(gate) {}

device_protocol::~device_protocol() {
  if (!device_) return;
  device_registry::release(*device_, link_);
  // A device that reconnected already has a new owner: its link never went down.
  if (device_->owner == nullptr) ctx_.sink.link_changed(device_->device_id, device_->chair_id, false);
}

void device_protocol::on_message(const v1::DeviceMessage& message, std::chrono::steady_clock::time_point arrived) {
  if (closing()) return;
  switch (message.body_case()) {
    case v1::DeviceMessage::kHello:
      if (phase_ != phase::awaiting_hello) {
        ctx_.counters.add(ctx_.counters.protocol_errors);
        fail(v1::PROTOCOL_VIOLATION, "a second Hello on one connection");
        return;
      }
      on_hello(message.hello());
      return;
    case v1::DeviceMessage::kBatch:
    case v1::DeviceMessage::kPing:
      if (phase_ != phase::streaming) {
        ctx_.counters.add(ctx_.counters.protocol_errors);
        fail(v1::PROTOCOL_VIOLATION, "the first frame must be a Hello");
        return;
      }
      if (message.has_batch()) {
        on_batch(message.batch(), arrived);
      } else {
        v1::DaemonMessage reply;
        reply.mutable_pong()->set_nonce(message.ping().nonce());
        codec::append_frame(queued_, reply);
      }
      return;
    case v1::DeviceMessage::BODY_NOT_SET: break;
  }
  ctx_.counters.add(ctx_.counters.protocol_errors);
  fail(v1::PROTOCOL_VIOLATION, "frame has no known body (hello, batch or ping)");
}

void device_protocol::on_hello(const v1::Hello& hello) {
  admission admitted = ctx_.registry.admit(hello, link_);
  if (!admitted.device) {
    ctx_.counters.add(ctx_.counters.handshakes_refused);
    // Guessing device ids or tokens is what the failure tracker slows down; a wrong version or
    // chair comes with the right credentials and is a configuration problem instead.
    if (gate_ != nullptr && (admitted.error_code == v1::UNKNOWN_DEVICE || admitted.error_code == v1::BAD_TOKEN)) {
      reply_delay_ = gate_->failed().delay;
    }
    fail(admitted.error_code, std::move(admitted.reason), &admitted.place);
    return;
  }
  if (gate_ != nullptr) gate_->passed();
  device_ = std::move(admitted.device);
  phase_ = phase::streaming;
  sent_ack_ = device_->stored_seq;
  ctx_.counters.add(ctx_.counters.handshakes_accepted);
  // A device that moved to another chair no longer serves its old one.
  if (!admitted.left_chair.empty()) ctx_.sink.link_changed(device_->device_id, admitted.left_chair, false);
  ctx_.sink.link_changed(device_->device_id, device_->chair_id, true);
  std::vector<declared_cadence> cadences;
  for (const auto& c : hello.cadences()) {
    cadences.push_back({static_cast<model::vital_kind>(c.kind()), static_cast<std::int64_t>(c.interval_ms())});
  }
  ctx_.sink.cadences_declared(device_->device_id, device_->chair_id, cadences);
  ctx_.log.info("[C{}] device '{}' for chair '{}' connected ({}); resumes after seq {}", id_,
                device_->device_id, device_->chair_id,
                hello.software().empty() ? std::string("no software info") : log::clip(hello.software(), max_logged_software),
                device_->stored_seq);

  v1::DaemonMessage reply;
  auto& welcome = *reply.mutable_welcome();
  welcome.set_protocol_version(v1::PROTOCOL_VERSION_1);
  welcome.set_acked_seq(device_->stored_seq);
  welcome.set_max_frame_bytes(static_cast<std::uint32_t>(ctx_.config.max_frame_bytes));
  welcome.set_idle_timeout_ms(static_cast<std::uint32_t>(ctx_.config.idle_timeout.count()));
  welcome.set_daemon_version(VIGIL_VERSION);
  codec::append_frame(queued_, reply);
}

void device_protocol::on_batch(const v1::SampleBatch& batch, std::chrono::steady_clock::time_point arrived) {
  if (batch.seq() == 0) {
    ctx_.counters.add(ctx_.counters.protocol_errors);
    fail(v1::BAD_SEQUENCE, "batch seq must start at 1");
    return;
  }
  if (batch.seq() <= last_seq_) {
    // Within one connection numbers only go up; anything else is a device that lost its count.
    ctx_.counters.add(ctx_.counters.protocol_errors);
    fail(v1::BAD_SEQUENCE, fmt::format("batch seq {} after seq {} on this connection; seqs must increase",
                                       batch.seq(), last_seq_));
    return;
  }
  last_seq_ = batch.seq();
  // Numbers are judged against the ack point the device knows: a new seq may be at most the
  // window above it, so one wild number cannot make every later batch a "duplicate"; a resend
  // is less than the window below it, so a device that restarted its count is told, not
  // silently dropped.
  const std::uint64_t ack = device_->stored_seq;
  const std::uint64_t window = ctx_.config.seq_window;
  if (batch.seq() <= device_->accepted_seq) {
    if (ack >= window && batch.seq() <= ack - window) {
      ctx_.counters.add(ctx_.counters.protocol_errors);
      fail(v1::BAD_SEQUENCE,
           fmt::format("batch seq {} is {} or more below the last ack {}: the device seems to have restarted its "
                       "count; continue above the Welcome's acked_seq, or have an operator reset the device",
                       batch.seq(), window, ack));
      return;
    }
    // A resend after a reconnect: already taken, so only the ack is owed.
    ctx_.counters.add(ctx_.counters.batches_duplicate);
    ack_requested_ = device_->stored_seq > 0;
    return;
  }
  if (batch.seq() - ack > window) {
    ctx_.counters.add(ctx_.counters.protocol_errors);
    fail(v1::BAD_SEQUENCE, fmt::format("batch seq {} is more than {} above the last ack {}", batch.seq(), window, ack));
    return;
  }

  samples_.clear();
  v1::DaemonMessage rejection;
  int rejected = 0;
  std::uint64_t flagged = 0;
  for (int i = 0; i < batch.samples_size(); ++i) {
    const sample_check check = check_sample(batch.samples(i));
    if (check.outcome == verdict::rejected) {
      if (++rejected <= max_listed_rejections) {
        auto& entry = *rejection.mutable_error()->add_rejected();
        entry.set_index(static_cast<std::uint32_t>(i));
        entry.set_reason(std::string(check.reason));
      }
      continue;
    }
    if (check.outcome == verdict::flagged) ++flagged;
    samples_.push_back(check.sample);
  }

  device_->accepted_seq = batch.seq();
  ctx_.counters.add(ctx_.counters.batches_accepted);
  ctx_.counters.add(ctx_.counters.samples_accepted, samples_.size());
  if (flagged > 0) ctx_.counters.add(ctx_.counters.samples_flagged, flagged);
  if (rejected > 0) {
    ctx_.counters.add(ctx_.counters.samples_rejected, static_cast<std::uint64_t>(rejected));
    auto& error = *rejection.mutable_error();
    error.set_code(v1::SAMPLE_REJECTED);
    error.set_fatal(false);
    error.set_seq(batch.seq());
    error.set_message(fmt::format("{} of {} samples rejected", rejected, batch.samples_size()));
    codec::append_frame(queued_, rejection);
    ctx_.log.debug("[C{}] batch {}: {} samples rejected", id_, batch.seq(), rejected);
  }

  // The sink may report the batch stored before submit returns.
  ctx_.sink.submit({device_->device_id, device_->chair_id, batch.seq(), samples_, 0, arrived}, device_);
}

void device_protocol::on_sequence_reset() {
  fail(v1::SEQUENCE_RESET, "an operator reset this device's sequence numbers; reconnect and number batches from 1");
}

void device_protocol::on_chair_moved(const std::string& redirect, const std::string& node) {
  const chair_place place{false, redirect, node, {}};
  fail(v1::CHAIR_ELSEWHERE,
       redirect.empty() ? "another daemon of the cluster takes this chair over; reconnect shortly"
                        : fmt::format("daemon {} at {} holds this chair now; reconnect there", node, redirect),
       &place);
}

void device_protocol::on_bad_frame(codec::frame_error error) {
  if (closing()) return;
  ctx_.counters.add(ctx_.counters.protocol_errors);
  fail(wire_code(error), std::string(codec::describe(error)));
}

void device_protocol::on_timeout() {
  if (closing()) return;
  if (phase_ == phase::awaiting_hello) {
    ctx_.counters.add(ctx_.counters.handshake_timeouts);
    fail(v1::HANDSHAKE_TIMEOUT,
         fmt::format("no Hello within the handshake timeout of {} ms", ctx_.config.handshake_timeout.count()));
  } else {
    ctx_.counters.add(ctx_.counters.idle_timeouts);
    fail(v1::IDLE_TIMEOUT, fmt::format("nothing received for {} ms", ctx_.config.idle_timeout.count()));
  }
}

void device_protocol::on_peer_closed(codec::frame_error leftover) {
  if (closing()) return;
  phase_ = phase::closing;
  peer_closed_ = true;
  if (leftover != codec::frame_error::none) {
    ctx_.counters.add(ctx_.counters.protocol_errors);
    close_is_fault_ = true;
    close_reason_ = fmt::format("closed by the device: {}", codec::describe(leftover));
  } else {
    close_reason_ = "closed by the device";
  }
}

void device_protocol::on_transport_error(std::string_view what) {
  if (closing()) return;
  phase_ = phase::closing;
  close_is_fault_ = true;
  close_reason_ = fmt::format("connection error: {}", what);
}

void device_protocol::fail(int code, std::string reason, const chair_place* place) {
  if (closing()) return;
  phase_ = phase::closing;
  close_is_fault_ = code != v1::SHUTTING_DOWN && code != v1::DEVICE_RECONNECTED && code != v1::SEQUENCE_RESET &&
                    code != v1::CHAIR_ELSEWHERE;
  v1::DaemonMessage message;
  auto& error = *message.mutable_error();
  error.set_code(static_cast<v1::ErrorCode>(code));
  error.set_message(reason);
  error.set_fatal(true);
  if (place != nullptr && !place->redirect.empty()) {
    error.mutable_redirect()->set_ingest_address(place->redirect);
    error.mutable_redirect()->set_node(place->node);
  }
  fatal_.clear();
  codec::append_frame(fatal_, message);
  close_reason_ = fmt::format("{}: {}", v1::ErrorCode_Name(static_cast<v1::ErrorCode>(code)), reason);
}

bool device_protocol::has_output() const noexcept {
  return !queued_.empty() || !fatal_.empty() ||
         (device_ && (ack_requested_ || device_->stored_seq > sent_ack_));
}

bool device_protocol::awaiting_ack() const noexcept {
  // A batch that failed to store, a reset or a newer connection of the device ends the wait:
  // each takes accepted_seq back or the device away from this link.
  return peer_closed_ && device_ && device_->owner == &link_ &&
         device_->stored_seq < std::min(last_seq_, device_->accepted_seq);
}

void device_protocol::take_output(std::string& out) {
  out.append(queued_);
  queued_.clear();
  if (device_ && (ack_requested_ || device_->stored_seq > sent_ack_)) {
    v1::DaemonMessage ack;
    ack.mutable_ack()->set_acked_seq(device_->stored_seq);
    codec::append_frame(out, ack);
    sent_ack_ = device_->stored_seq;
    ack_requested_ = false;
  }
  out.append(fatal_);
  fatal_.clear();
}

}  // namespace vigil::ingest
