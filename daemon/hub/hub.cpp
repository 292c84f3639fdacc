#include "daemon/hub/hub.hpp"

#include "daemon/model/identifiers.hpp"

#include "daemon/codec/frame.hpp"
#include "daemon/wire/events.hpp"
#include "daemon/wire/json.hpp"
#include "daemon/wire/views.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>

namespace vigil::hub {

using engine::event_type;
using wire::fill;

v1::EventCategory category_of(event_type type) noexcept {
  switch (type) {
    case event_type::alarm_raised:
    case event_type::alarm_escalated:
    case event_type::alarm_acknowledged:
    case event_type::alarm_resounded:
    case event_type::alarm_cleared:
    case event_type::audio_paused:
    case event_type::audio_resumed: return v1::EVENT_CATEGORY_ALARMS;
    case event_type::note_added: return v1::EVENT_CATEGORY_NOTES;
    case event_type::session_opened:
    case event_type::phase_changed:
    case event_type::baseline_set:
    case event_type::predose_override:
    case event_type::dose_marked:
    case event_type::session_closed: return v1::EVENT_CATEGORY_SESSIONS;
  }
  return v1::EVENT_CATEGORY_SESSIONS;
}

bool filter::wants(v1::EventCategory category) const noexcept {
  return categories == 0 || (categories & (1u << static_cast<unsigned>(category))) != 0;
}

bool filter::admits(std::string_view chair, std::uint64_t session) const {
  if (!chairs.empty() && !chairs.contains(chair)) return false;
  return sessions.empty() || sessions.contains(session);
}

std::optional<filter> filter::from(const v1::Subscribe& s, std::string& error) {
  filter f;
  constexpr int max_filter_entries = 1'000;
  if (s.chair_ids_size() > max_filter_entries || s.session_ids_size() > max_filter_entries) {
    error = fmt::format("a filter names at most {} chairs and {} sessions", max_filter_entries, max_filter_entries);
    return std::nullopt;
  }
  for (const auto& chair : s.chair_ids()) {
    // The chair rule of every interface: a chair no monitor could name is a mistake.
    if (!model::valid_chair_id(chair)) {
      error = "a chair id is 1 to 64 printable ASCII characters without spaces";
      return std::nullopt;
    }
    f.chairs.insert(chair);
  }
  for (const auto session : s.session_ids()) f.sessions.insert(session);
  for (const int c : s.categories()) {
    if (c < v1::EVENT_CATEGORY_SESSIONS || c > v1::EVENT_CATEGORY_NOTES) {
      error = fmt::format("unknown event category {}", c);
      return std::nullopt;
    }
    f.categories |= 1u << static_cast<unsigned>(c);
  }
  constexpr std::uint32_t max_interval_ms = 3'600'000;
  if (s.vitals_interval_ms() > max_interval_ms) {
    error = fmt::format("vitals_interval_ms is at most {}", max_interval_ms);
    return std::nullopt;
  }
  if (s.vitals_interval_ms() != 0) f.vitals_interval_ms = s.vitals_interval_ms();
  constexpr std::uint32_t min_heartbeat_ms = 1'000;
  constexpr std::uint32_t max_heartbeat_ms = 60'000;
  if (s.heartbeat_ms() != 0 && (s.heartbeat_ms() < min_heartbeat_ms || s.heartbeat_ms() > max_heartbeat_ms)) {
    error = fmt::format("heartbeat_ms is 0 (none) or from {} to {}", min_heartbeat_ms, max_heartbeat_ms);
    return std::nullopt;
  }
  f.heartbeat = std::chrono::milliseconds(s.heartbeat_ms());
  return f;
}

std::vector<std::shared_ptr<const std::string>> subscription::take() {
  if (replay_ && owner_ != nullptr) owner_->continue_replay(*this);
  std::vector<std::shared_ptr<const std::string>> out(std::make_move_iterator(frames_.begin()),
                                                      std::make_move_iterator(frames_.end()));
  frames_.clear();
  bytes_ = 0;
  over_soft_since_.reset();
  origins_in_flight_.insert(origins_in_flight_.end(), alarm_origins_.begin(), alarm_origins_.end());
  alarm_origins_.clear();
  if (resume_done_ == resume_done::queued) resume_done_ = resume_done::writing;
  return out;
}

void subscription::written(std::chrono::steady_clock::time_point now) {
  for (const auto& origin : origins_in_flight_) {
    const auto& histogram = origin.behind_replay ? delivery_after_resume_ : delivery_;
    if (histogram) histogram->record(now - origin.arrived);
  }
  origins_in_flight_.clear();
  if (resume_done_ == resume_done::writing) resume_done_ = resume_done::written;  // from now on, live
}

hub::hub(limits l, const engine::engine& engine, history past, clock now)
    : limits_(l),
      engine_(engine),
      history_(std::move(past)),
      now_(now ? std::move(now) : clock([] { return std::chrono::steady_clock::now(); })) {}

hub::~hub() {
  for (auto& [id, s] : subs_) s->owner_ = nullptr;
}

std::shared_ptr<const std::string> hub::encode(const v1::FeedMessage& m, format f) {
  auto out = std::make_shared<std::string>();
  if (f == format::protobuf) {
    codec::append_frame(*out, m);
  } else {
    *out = wire::to_json(m);
  }
  return out;
}

std::shared_ptr<const std::string> hub::frame_of(const engine::event& e, format f) {
  v1::FeedMessage m;
  *m.mutable_event()->mutable_event() = wire::to_proto(e);
  return encode(m, f);
}

std::shared_ptr<const std::string> hub::event_frame(const engine::event& e, encoded& cache, format f) {
  auto& frame = cache.of(f);
  if (!frame) frame = frame_of(e, f);
  return frame;
}

bool hub::admits(const subscription& s, const engine::event& e) const {
  return s.filter_.wants(category_of(e.type)) && s.filter_.admits(e.chair, e.session);
}

void hub::push(subscription& s, std::shared_ptr<const std::string> frame, bool replay) {
  if (s.closed_) return;
  s.bytes_ += frame->size();
  s.frames_.push_back(std::move(frame));
  s.last_push_ = now_at_entry_;
  ++stats_.frames;
  if (s.bytes_ > limits_.hard_bytes && !replay) {
    close(s, v1::FEED_ERROR_TOO_SLOW,
          fmt::format("more than {} bytes waiting to be read; resume with the last event id", limits_.hard_bytes));
    return;
  }
  if (s.bytes_ > limits_.soft_bytes && !s.over_soft_since_) s.over_soft_since_ = now_at_entry_;
}

void hub::close(subscription& s, v1::FeedError error, std::string message) {
  if (s.closed_) return;
  if (error == v1::FEED_ERROR_TOO_SLOW) ++stats_.dropped_slow;
  s.closed_ = true;
  // What is queued will never be read in time: the subscriber resumes from its last id instead.
  s.frames_.clear();
  s.bytes_ = 0;
  s.vitals_.clear();
  s.alarm_origins_.clear();
  s.close_reason_ = fmt::format("{}: {}", v1::FeedError_Name(error), message);
  s.close_error_ = error;
  s.close_message_ = message;
  v1::FeedMessage m;
  m.mutable_closing()->set_error(error);
  m.mutable_closing()->set_message(std::move(message));
  s.closing_ = *encode(m, s.format_);
  if (s.wake_) s.wake_();
}

hub::subscribe_result hub::subscribe(const filter& f, format fmt, std::optional<std::uint64_t> resume_after,
                                     std::function<void()> wake) {
  auto s = std::make_shared<subscription>();
  s->self_ = s;
  s->id_ = next_sub_++;
  s->format_ = fmt;
  s->filter_ = f;
  s->delivery_ = delivery_;
  s->delivery_after_resume_ = delivery_after_resume_;
  now_at_entry_ = now_();
  if (resume_after) {
    std::string message;
    if (!start_replay(s, *resume_after, message)) return {nullptr, v1::FEED_ERROR_RESUME_TOO_OLD, std::move(message)};
    // Refused by a timeline that answered at once: as if refused here.
    if (s->closed_) return {nullptr, s->close_error_, s->close_message_};
    ++stats_.resumes;
  } else if (std::string message; !queue_snapshot(*s, message)) {
    return {nullptr, v1::FEED_ERROR_BAD_REQUEST, std::move(message)};
  }
  s->wake_ = std::move(wake);
  subs_.emplace(s->id_, s);
  ++stats_.subscribed;
  return {s, v1::FEED_ERROR_UNSPECIFIED, {}};
}

void hub::unsubscribe(const subscription& sub) {
  const auto it = subs_.find(sub.id_);
  if (it == subs_.end()) return;
  it->second->owner_ = nullptr;  // a timeline answer that comes later finds no hub to continue in
  subs_.erase(it);
}

bool hub::queue_snapshot(subscription& s, std::string& message) {
  v1::FeedMessage m;
  auto& snap = *m.mutable_snapshot();
  snap.set_last_event_id(last_id_);
  const bool want_vitals = s.filter_.wants(v1::EVENT_CATEGORY_VITALS);
  for (const auto& view : engine_.sessions()) {
    if (!s.filter_.admits(view.chair, view.id)) continue;
    fill(*snap.add_sessions(), view);
    if (want_vitals && !fill(*snap.add_vitals(), engine_, view.chair, view.id)) snap.mutable_vitals()->RemoveLast();
  }
  for (const auto& [chair, alarm] : engine_.chair_advisories()) {
    if (!s.filter_.admits(chair, 0)) continue;
    auto& advisory = *snap.add_advisories();
    advisory.set_chair_id(chair);
    fill(*advisory.mutable_alarm(), alarm);
    if (want_vitals && !fill(*snap.add_vitals(), engine_, chair, 0)) snap.mutable_vitals()->RemoveLast();
  }
  // No frame the daemon sends is larger than the framing's hard maximum, so a client that takes
  // frames up to it takes every one; a clinic that large subscribes chair by chair.
  auto frame = encode(m, s.format_);
  if (frame->size() > codec::hard_max_frame_bytes) {
    message = fmt::format("the snapshot would be {} bytes, above the {} a message may hold: subscribe with a filter "
                          "(chair_ids)",
                          frame->size(), codec::hard_max_frame_bytes);
    return false;
  }
  push(s, std::move(frame));
  return true;
}

void hub::carry_on(std::uint64_t last_saved, std::uint64_t first_new) {
  last_id_ = std::max(last_id_, last_saved);
  lost_after_ = last_saved;
  lost_through_ = first_new > 0 ? first_new - 1 : 0;
}

bool hub::start_replay(const std::shared_ptr<subscription>& s, std::uint64_t after, std::string& message) {
  if (after > lost_after_ && after <= lost_through_) {
    message = fmt::format("event {} was sent before the daemon's last restart and was lost with it (not saved; the "
                          "newest saved is {}); subscribe again for a snapshot",
                          after, lost_after_);
    return false;
  }
  if (after > last_id_) {
    message = fmt::format("event {} has not happened yet (the newest is {})", after, last_id_);
    return false;
  }
  s->owner_ = this;
  s->replay_.emplace();
  s->replay_->cursor = after;
  const std::uint64_t memory_from = recent_.empty() ? last_id_ + 1 : recent_.front().event.id;
  if (after + 1 >= memory_from) {
    continue_replay(*s);
    return true;
  }
  // Older than memory holds: the timeline counts what lies between, up to where memory starts
  // (ids have gaps, those lost in a restart, so events are counted, not ids). Until it answers,
  // the subscriber gets nothing.
  if (!history_) {
    message = fmt::format("event {} is older than the {} events kept in memory, and there is no timeline to "
                          "read it from; subscribe again for a snapshot",
                          after, limits_.history_events);
    s->replay_.reset();
    return false;
  }
  s->replay_->checking = true;
  history_.count(after, memory_from, limits_.max_replay_events + 1, [weak = s->self_](history_answer counted) {
    const auto sub = weak.lock();
    if (sub && sub->owner_ != nullptr) sub->owner_->checked(*sub, std::move(counted));
  });
  return true;
}

void hub::checked(subscription& s, history_answer counted) {
  if (!s.replay_ || !s.replay_->checking || s.closed_) return;
  s.replay_->checking = false;
  now_at_entry_ = now_();
  if (!counted.ok) {
    close(s, v1::FEED_ERROR_RESUME_TOO_OLD,
          fmt::format("the timeline could not be read ({}); subscribe again for a snapshot", counted.error));
    return;
  }
  if (counted.count > limits_.max_replay_events) {
    close(s, v1::FEED_ERROR_RESUME_TOO_OLD,
          fmt::format("resuming after event {} would replay more than {} events; subscribe again for a snapshot",
                      s.replay_->cursor, limits_.max_replay_events));
    return;
  }
  continue_replay(s);
  if (s.wake_) s.wake_();
}

void hub::read_behind(subscription& s) {
  auto& r = *s.replay_;
  r.reading = true;
  r.in_call = true;
  history_.read(r.cursor, replay_read_events, s.format_, [weak = s.self_](history_answer chunk) {
    const auto sub = weak.lock();
    if (!sub || sub->owner_ == nullptr || !sub->replay_ || !sub->replay_->reading) return;
    sub->replay_->reading = false;
    sub->replay_->chunk = std::move(chunk);
    if (sub->replay_->in_call) return;  // answered at once: continue_replay takes it
    hub& owner = *sub->owner_;
    owner.now_at_entry_ = owner.now_();
    owner.continue_replay(*sub);
    if (sub->wake_) sub->wake_();
  });
  // The call may have ended the replay (it never does today: an answer only fills `chunk`).
  if (s.replay_) s.replay_->in_call = false;
}

void hub::continue_replay(subscription& s) {
  if (!s.replay_ || s.closed_ || s.replay_->checking) return;
  auto& r = *s.replay_;
  // A batch is about half the soft limit: the subscriber is never cut off for its own resume,
  // and the daemon holds one batch per resuming subscriber, however far back it reaches.
  const std::size_t batch_bytes = std::max<std::size_t>(limits_.soft_bytes / 2, 1);
  // Frames come encoded: from memory, as published; from the timeline, by its reader.
  auto send = [&](const engine::event& e, encoded& frames) {
    r.cursor = e.id;
    if (!admits(s, e)) return;
    push(s, event_frame(e, frames, s.format_), /*replay=*/true);
    ++r.replayed;
  };
  while (s.bytes_ < batch_bytes) {
    const std::uint64_t memory_from = recent_.empty() ? last_id_ + 1 : recent_.front().event.id;
    if (r.cursor + 1 < memory_from) {
      // Behind memory (from the start, or memory moved on while the subscriber read): the
      // timeline, read on another thread. Ids it does not hold up to memory were lost in a restart.
      if (!history_) {
        close(s, v1::FEED_ERROR_RESUME_TOO_OLD,
              fmt::format("the events after {} left memory while being replayed, and there is no timeline to read "
                          "them from; subscribe again for a snapshot",
                          r.cursor));
        return;
      }
      if (!r.chunk) {
        if (r.reading) return;  // its answer continues the replay
        read_behind(s);
        if (!r.chunk) return;
      }
      const auto chunk = std::move(*r.chunk);
      r.chunk.reset();
      if (!chunk.ok) {
        close(s, v1::FEED_ERROR_RESUME_TOO_OLD,
              fmt::format("the timeline could not be read ({}); subscribe again for a snapshot", chunk.error));
        return;
      }
      bool moved = false;
      const bool encoded_by_reader = chunk.frames.size() == chunk.events.size();
      for (std::size_t i = 0; i < chunk.events.size(); ++i) {
        const auto& e = chunk.events[i];
        if (e.id <= r.cursor) continue;  // read before memory moved on: already looked at
        if (e.id >= memory_from || s.bytes_ >= batch_bytes) break;
        encoded frames;
        if (encoded_by_reader) frames.of(s.format_) = chunk.frames[i];
        send(e, frames);
        moved = true;
      }
      if (!moved) r.cursor = memory_from - 1;
      continue;
    }
    // From memory: the events after the cursor, in id order.
    auto it = std::upper_bound(recent_.begin(), recent_.end(), r.cursor,
                               [](std::uint64_t id, const kept_event& k) { return id < k.event.id; });
    if (it == recent_.end()) {
      v1::FeedMessage done;
      done.mutable_resumed()->set_last_event_id(last_id_);
      done.mutable_resumed()->set_replayed(r.replayed);
      s.replay_.reset();
      push(s, encode(done, s.format_), /*replay=*/true);
      s.resume_done_ = subscription::resume_done::queued;
      return;
    }
    for (; it != recent_.end() && s.bytes_ < batch_bytes; ++it) send(it->event, it->frames);
  }
}

void hub::publish(std::span<const engine::event> events, std::chrono::steady_clock::time_point origin) {
  // Every event is queued first, then each subscriber is woken once: a burst of events (a tick
  // firing many timers) leaves in one write per subscriber.
  woken_.clear();
  now_at_entry_ = now_();
  for (const auto& e : events) {
    ++stats_.events;
    last_id_ = std::max(last_id_, e.id);
    recent_.push_back({e, {}});
    encoded& cache = recent_.back().frames;  // encoded once per format, kept for resumes
    for (auto& [id, s] : subs_) {
      // A resume under way reaches this event from memory, in order.
      if (s->closed_ || s->replay_ || !admits(*s, e)) continue;
      push(*s, event_frame(e, cache, s->format_));
      if (origin != std::chrono::steady_clock::time_point{} && e.type == event_type::alarm_raised && !s->closed_) {
        s->alarm_origins_.push_back({origin, s->resume_done_ != subscription::resume_done::written});
      }
      if (!s->to_wake_) {
        s->to_wake_ = true;
        woken_.push_back(s);
      }
    }
    if (recent_.size() > limits_.history_events) recent_.pop_front();
  }
  for (const auto& s : woken_) {
    s->to_wake_ = false;
    if (s->wake_) s->wake_();
  }
  woken_.clear();
}

void hub::publish_vitals(std::string_view chair, std::uint64_t session, std::span<const model::vital_sample> samples) {
  if (samples.empty() || subs_.empty()) return;
  now_at_entry_ = now_();
  for (auto& [id, s] : subs_) {
    if (s->closed_ || s->replay_ || !s->filter_.wants(v1::EVENT_CATEGORY_VITALS) || !s->filter_.admits(chair, session)) {
      continue;  // vitals follow a resume's ResumeDone
    }
    auto it = s->vitals_.find(chair);
    if (it == s->vitals_.end()) it = s->vitals_.emplace(std::string(chair), subscription::pending_vitals{}).first;
    auto& pending = it->second;
    if (!pending.values.empty()) ++stats_.vitals_merged;
    pending.session = session;
    for (const auto& sample : samples) {
      auto& v = pending.values[sample.kind];
      if (v.time_ms() > sample.time_ms) continue;  // keep the newest of each kind
      v.set_kind(static_cast<v1::VitalKind>(sample.kind));
      v.set_value(sample.value);
      v.set_time_ms(sample.time_ms);
      v.set_quality(sample.quality);
      pending.newest = std::max(pending.newest, sample.time_ms);
    }
    const auto sent = s->vitals_sent_.find(chair);
    if (sent == s->vitals_sent_.end() || pending.newest >= sent->second + s->filter_.vitals_interval_ms) {
      flush_vitals(*s, chair);
      if (s->wake_) s->wake_();
    }
  }
}

void hub::flush_vitals(subscription& s, std::string_view chair) {
  auto it = s.vitals_.find(chair);
  if (it == s.vitals_.end() || it->second.values.empty()) return;
  v1::FeedMessage m;
  auto& update = *m.mutable_vitals();
  update.set_chair_id(std::string(chair));
  update.set_session_id(it->second.session);
  for (auto& [kind, value] : it->second.values) *update.add_values() = std::move(value);
  s.vitals_sent_.insert_or_assign(std::string(chair), it->second.newest);
  s.vitals_.erase(it);
  push(s, encode(m, s.format_));
}

void hub::tick() {
  const auto now = now_();
  now_at_entry_ = now;
  std::array<std::shared_ptr<const std::string>, 2> heartbeat;  // encoded once per format
  for (auto& [id, s] : subs_) {
    if (s->closed_ || s->replay_) continue;  // a resume under way: its own frames, nothing else
    if (s->over_soft_since_ && now - *s->over_soft_since_ >= limits_.soft_grace) {
      close(*s, v1::FEED_ERROR_TOO_SLOW,
            fmt::format("more than {} bytes waiting to be read for {} ms; resume with the last event id",
                        limits_.soft_bytes, limits_.soft_grace.count()));
      continue;
    }
    // Vitals held back by the interval go out once a second at the latest.
    bool queued = false;
    std::vector<std::string> chairs;
    for (const auto& [chair, pending] : s->vitals_) chairs.push_back(chair);
    for (const auto& chair : chairs) {
      flush_vitals(*s, chair);
      queued = true;
    }
    if (s->filter_.heartbeat.count() > 0 && now - s->last_push_ >= s->filter_.heartbeat) {
      auto& frame = heartbeat[static_cast<std::size_t>(s->format_)];
      if (!frame) {
        v1::FeedMessage m;
        m.mutable_heartbeat()->set_last_event_id(last_id_);
        frame = encode(m, s->format_);
      }
      push(*s, frame);
      queued = true;
    }
    if (queued && s->wake_) s->wake_();
  }
}

std::size_t hub::queued_bytes() const {
  std::size_t total = 0;
  for (const auto& [id, s] : subs_) total += s->bytes_;
  return total;
}

}  // namespace vigil::hub
