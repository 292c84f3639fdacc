#pragma once

// The hub: fans events and vitals out to subscribers (the TCP feed, the WebSocket feed).
// Lives on the I/O thread with the engine; no locks. Each subscriber has a queue bounded in
// bytes: vitals for a slow reader are merged into the latest value per chair, while events
// (alarms, sessions, notes) are never dropped; a subscriber over its hard limit, or over its
// soft limit for longer than the grace, is disconnected with a reason and can resume from
// the id of the last event it received.

#include "daemon/engine/engine.hpp"
#include "daemon/hub/latency.hpp"
#include "daemon/model/vitals.hpp"
#include "vigil/v1/feed.pb.h"

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <vector>

namespace vigil::hub {

/// How a subscriber's frames are encoded.
enum class format : std::uint8_t {
  protobuf,  // varint length-delimited FeedMessage frames (the TCP feed)
  json,      // one FeedMessage in protobuf's JSON mapping per frame (the WebSocket feed)
};

/// What a subscriber wants to see.
struct filter {
  std::set<std::string, std::less<>> chairs;  // empty: every chair
  std::set<std::uint64_t> sessions;           // empty: every session, and chairs without one
  std::uint32_t categories = 0;               // bits 1 << v1::EventCategory; 0: all
  engine::millis vitals_interval_ms = 1000;   // per chair, on the monitor's clock
  std::chrono::milliseconds heartbeat{0};     // a Heartbeat after this long with nothing sent; 0: none

  bool wants(v1::EventCategory category) const noexcept;
  bool admits(std::string_view chair, std::uint64_t session) const;
  /// A filter from a Subscribe message; an error message if it asks for something unknown.
  static std::optional<filter> from(const v1::Subscribe& s, std::string& error);
};

/// The category an event belongs to.
v1::EventCategory category_of(engine::event_type type) noexcept;

struct limits {
  std::size_t soft_bytes = 256 * 1024;
  std::size_t hard_bytes = 4 * 1024 * 1024;
  std::chrono::milliseconds soft_grace{5'000};
  std::size_t history_events = 65'536;      // kept in memory for resumes
  std::size_t max_replay_events = 100'000;  // a resume asking for more is refused
};

class hub;

/// What a read of the timeline behind memory gave: events, or a count of them; or why it failed.
struct history_answer {
  bool ok = true;
  std::string error;                 // when not ok: the store's reason
  std::vector<engine::event> events;  // for history::read
  // For history::read, if the reader encoded them (hub::frame_of, on its own thread): each
  // event's frame in the format asked for, so the hub's thread only queues them.
  std::vector<std::shared_ptr<const std::string>> frames;
  std::size_t count = 0;  // for history::count
};

/// The timeline behind the events kept in memory, read off the hub's thread: each call answers
/// later through `done`, on the hub's thread (or at once, within the call). Empty without a
/// timeline.
struct history {
  using done = std::function<void(history_answer)>;
  /// The events with an id above `after`, in id order, at most `limit`, with their frames in
  /// `encoding` if it can.
  std::function<void(std::uint64_t after, std::size_t limit, format encoding, done)> read;
  /// How many events have an id above `after` and below `before`, counting no further than `cap`.
  std::function<void(std::uint64_t after, std::uint64_t before, std::size_t cap, done)> count;

  explicit operator bool() const noexcept { return read && count; }
};

/// One subscriber's queue. Made by the hub, owned by the connection that serves it.
class subscription {
 public:
  /// Frames to write, oldest first; each is encoded once per format and shared. Vitals whose
  /// interval has passed come after the events. While a resume is being replayed, each take
  /// first queues the next batch of missed events (about half the soft limit's bytes), so a
  /// resume from far back is encoded as the subscriber reads it, not all at once.
  std::vector<std::shared_ptr<const std::string>> take();
  /// The connection has written everything `take()` returned: records, for each alarm raised by
  /// a sample among those frames, the time from the sample's arrival to now.
  void written(std::chrono::steady_clock::time_point now);
  /// Set when the hub disconnects the subscriber; the connection sends `closing()` and closes.
  bool closed() const noexcept { return closed_; }
  /// The FeedClosing frame to send last (empty unless closed).
  const std::string& closing() const noexcept { return closing_; }
  /// Why the hub closed it, for the log: "FEED_ERROR_TOO_SLOW: more than ... bytes ..." (empty unless closed).
  const std::string& close_reason() const noexcept { return close_reason_; }
  /// The error it was closed with (FEED_ERROR_UNSPECIFIED unless closed).
  v1::FeedError close_error() const noexcept { return close_error_; }
  std::size_t queued_bytes() const noexcept { return bytes_; }
  format encoding() const noexcept { return format_; }

 private:
  friend class hub;
  struct pending_vitals {
    std::uint64_t session = 0;
    std::map<model::vital_kind, v1::VitalValue> values;
    engine::millis newest = 0;
  };

  // A resume under way: the id of the last event looked at, and how many were sent. While the
  // timeline is asked (how many events a resume from far back would replay, or the next events
  // behind memory), the replay waits for the answer.
  struct replay_state {
    std::uint64_t cursor = 0;
    std::uint64_t replayed = 0;
    bool checking = false;  // the count of events behind memory is awaited
    bool reading = false;   // a read of events behind memory is awaited
    bool in_call = false;   // within the history's read call: an answer given at once waits here
    std::optional<history_answer> chunk;  // an answer not yet used
  };

  std::uint64_t id_ = 0;
  std::weak_ptr<subscription> self_;  // for the timeline's answers, which may outlive it
  hub* owner_ = nullptr;  // the hub that queues its replay; null once the hub is gone
  std::optional<replay_state> replay_;
  format format_ = format::protobuf;
  filter filter_;
  std::function<void()> wake_;
  std::shared_ptr<latency_histogram> delivery_;
  std::shared_ptr<latency_histogram> delivery_after_resume_;
  std::deque<std::shared_ptr<const std::string>> frames_;
  // Arrival times of the samples that raised the alarms queued, then being written; `behind_replay`
  // when the alarm was queued before the resume's replay was written (it waits for it, by design).
  struct alarm_origin {
    std::chrono::steady_clock::time_point arrived;
    bool behind_replay = false;
  };
  std::vector<alarm_origin> alarm_origins_;
  std::vector<alarm_origin> origins_in_flight_;
  // Where a resume's ResumeDone is: an alarm queued before it is written waits for the replay.
  enum class resume_done : std::uint8_t { written, queued, writing } resume_done_ = resume_done::written;
  std::size_t bytes_ = 0;
  std::map<std::string, pending_vitals, std::less<>> vitals_;  // merged, per chair
  std::map<std::string, engine::millis, std::less<>> vitals_sent_;  // per chair: newest sample time sent
  std::optional<std::chrono::steady_clock::time_point> over_soft_since_;
  std::chrono::steady_clock::time_point last_push_{};  // for heartbeats
  bool closed_ = false;
  bool to_wake_ = false;  // queued for a wake at the end of the current publish
  std::string closing_;
  std::string close_reason_;
  v1::FeedError close_error_ = v1::FEED_ERROR_UNSPECIFIED;
  std::string close_message_;
};

class hub {
 public:
  using clock = std::function<std::chrono::steady_clock::time_point()>;

  /// `past`: the timeline, for resumes from before the events kept in memory (empty without one).
  hub(limits l, const engine::engine& engine, history past = {}, clock now = nullptr);

  /// An event's frame in a format, as every subscriber of that format is sent it. Pure and
  /// callable from any thread: the timeline's reader encodes replayed events with it.
  static std::shared_ptr<const std::string> frame_of(const engine::event& e, format f);
  ~hub();
  hub(const hub&) = delete;
  hub& operator=(const hub&) = delete;

  struct subscribe_result {
    std::shared_ptr<subscription> sub;  // null when refused
    v1::FeedError error = v1::FEED_ERROR_UNSPECIFIED;
    std::string message;
  };
  /// Registers a subscriber and queues its snapshot, or, with `resume_after`, checks that every
  /// matching event after that id can be replayed and queues the first batch of them; the rest,
  /// then a ResumeDone, are queued as the subscriber takes its frames. A resume from before the
  /// events kept in memory asks the timeline how many it would replay, and reads them, without
  /// waiting: it is accepted, and closed with FEED_ERROR_RESUME_TOO_OLD once the answer says it
  /// cannot be served. `wake` is called whenever frames are queued (and when the subscriber is
  /// closed); it must not call back into the hub.
  subscribe_result subscribe(const filter& f, format fmt, std::optional<std::uint64_t> resume_after,
                             std::function<void()> wake);
  void unsubscribe(const subscription& sub);

  /// Events as the clinic publishes them (ids given). `origin`: when the sample that caused them
  /// arrived (default: not caused by a sample), for the alarm delivery latency.
  void publish(std::span<const engine::event> events, std::chrono::steady_clock::time_point origin = {});
  /// After a restart: the newest event the timeline holds is `last_saved`, and this run's ids
  /// start at `first_new`. Ids between were handed out before the restart and lost with it (not
  /// saved): a subscriber that saw one holds state the daemon no longer has, so its resume is
  /// refused and it takes a snapshot.
  void carry_on(std::uint64_t last_saved, std::uint64_t first_new);
  /// Samples the clinic took from a chair's monitor.
  void publish_vitals(std::string_view chair, std::uint64_t session, std::span<const model::vital_sample> samples);
  /// Sends vitals held back by a subscriber's interval once it has passed, and disconnects
  /// subscribers over their soft limit for longer than the grace, and queues heartbeats for
  /// subscribers that asked for them and were sent nothing for that long. Call about once a second.
  void tick();

  struct counters {
    std::uint64_t subscribed = 0;
    std::uint64_t dropped_slow = 0;     // disconnected for falling behind
    std::uint64_t events = 0;           // events published
    std::uint64_t frames = 0;           // frames queued to subscribers
    std::uint64_t vitals_merged = 0;    // vitals updates merged into a later one
    std::uint64_t resumes = 0;
  };
  const counters& stats() const noexcept { return stats_; }
  std::size_t subscribers() const noexcept { return subs_.size(); }
  /// Bytes queued across all subscribers.
  std::size_t queued_bytes() const;
  /// From the arrival of a sample to the end of the write of the alarm it raised, per subscriber
  /// and alarm, except alarms that waited for the write of a resume's replay (below).
  const latency_histogram& alarm_delivery() const noexcept { return *delivery_; }
  /// The same for alarms raised while a resuming subscriber's replay was still being written:
  /// they follow its ResumeDone, so they wait for that subscriber to read its replay.
  const latency_histogram& alarm_delivery_after_resume() const noexcept { return *delivery_after_resume_; }
  /// The id of the newest event published, 0 if none.
  std::uint64_t last_event_id() const noexcept { return last_id_; }

 private:
  friend class subscription;  // take() continues a resume
  struct encoded {
    std::shared_ptr<const std::string> protobuf;
    std::shared_ptr<const std::string> json;
    std::shared_ptr<const std::string>& of(format f) { return f == format::protobuf ? protobuf : json; }
  };

  static std::shared_ptr<const std::string> encode(const v1::FeedMessage& m, format f);
  std::shared_ptr<const std::string> event_frame(const engine::event& e, encoded& cache, format f);
  /// Queues a frame; over the hard limit the subscriber is cut off, except for a resume's own
  /// frames (queued a batch at a time).
  void push(subscription& s, std::shared_ptr<const std::string> frame, bool replay = false);
  void close(subscription& s, v1::FeedError error, std::string message);
  /// Queues the snapshot; false (and why) when it would not fit in one frame.
  bool queue_snapshot(subscription& s, std::string& message);
  /// Checks that a resume after `after` can be served (false, and why, if not) and starts it.
  bool start_replay(const std::shared_ptr<subscription>& s, std::uint64_t after, std::string& message);
  /// The timeline's count of the events a resume from far back would replay.
  void checked(subscription& s, history_answer counted);
  /// Queues the next batch of a resume's missed events; at the end, the ResumeDone.
  void continue_replay(subscription& s);
  /// Asks the timeline for the events after the replay's cursor; the answer continues the replay.
  void read_behind(subscription& s);
  void flush_vitals(subscription& s, std::string_view chair);
  bool admits(const subscription& s, const engine::event& e) const;

  limits limits_;
  const engine::engine& engine_;
  history history_;
  // Events read from the timeline at a time when a resume reaches back past memory (a batch
  // holds about half the soft limit's bytes).
  static constexpr std::size_t replay_read_events = 256;
  clock now_;
  std::map<std::uint64_t, std::shared_ptr<subscription>> subs_;
  // The newest events, for resumes, with the frames already encoded for them.
  struct kept_event {
    engine::event event;
    encoded frames;
  };
  std::deque<kept_event> recent_;
  std::vector<std::shared_ptr<subscription>> woken_;  // reused by publish()
  // The clock, read once as publish, publish_vitals, subscribe or tick begins: the time of
  // every frame they queue (for heartbeats), without a clock read per frame and subscriber.
  std::chrono::steady_clock::time_point now_at_entry_{};
  std::uint64_t last_id_ = 0;
  std::uint64_t lost_after_ = 0;    // ids in (lost_after_, lost_through_] were lost in a restart
  std::uint64_t lost_through_ = 0;
  std::uint64_t next_sub_ = 1;
  counters stats_;
  std::shared_ptr<latency_histogram> delivery_ = std::make_shared<latency_histogram>();
  std::shared_ptr<latency_histogram> delivery_after_resume_ = std::make_shared<latency_histogram>();
};

}  // namespace vigil::hub
