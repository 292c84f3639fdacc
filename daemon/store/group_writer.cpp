#include "daemon/store/group_writer.hpp"

#include "daemon/model/background.hpp"

#include <algorithm>
#include <utility>

namespace vigil::store {

group_writer::group_writer(std::size_t max_group_items, std::shared_ptr<const lease_set> leases)
    : max_group_items_(max_group_items), leases_(std::move(leases)) {}

void group_writer::count_refused(std::uint64_t items) {
  std::lock_guard lock(mutex_);
  stats_.refused += items;
}

group_writer::~group_writer() { stop(); }

void group_writer::start() { writer_ = std::thread([this] { run(); }); }

void group_writer::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_one();
  if (writer_.joinable()) writer_.join();
}

void group_writer::push(item it) {
  {
    std::lock_guard lock(mutex_);
    queue_.push_back(std::move(it));
  }
  wake_.notify_one();
}

void group_writer::append_batch(std::string device_id, std::string chair_id, std::uint64_t session,
                                  std::uint64_t seq, std::span<const model::vital_sample> samples, completion done,
                                  std::uint64_t epoch) {
  item it;
  it.type = item::what::batch;
  it.batch = {std::move(device_id), std::move(chair_id), session, seq, {samples.begin(), samples.end()}, std::move(done),
              std::chrono::steady_clock::now(), epoch, false};
  if (leases_) it.batch.lease = leases_->epoch_of(it.batch.chair_id);
  push(std::move(it));
}

void group_writer::append_state(std::vector<engine::event> events, std::vector<stored_checkpoint> checkpoints,
                                  completion done) {
  if (events.empty() && checkpoints.empty()) {
    if (done) done(true);
    return;
  }
  item it;
  it.type = item::what::state;
  it.state = {std::move(events), std::move(checkpoints), {}, false};
  if (leases_) {
    for (const auto& e : it.state.events) it.state.leases.emplace(e.chair, leases_->epoch_of(e.chair));
    for (const auto& c : it.state.checkpoints) it.state.leases.emplace(c.chair_id, leases_->epoch_of(c.chair_id));
  }
  it.done = std::move(done);
  push(std::move(it));
}

void group_writer::reset_device(device_reset reset, completion done) {
  item it;
  it.type = item::what::reset;
  it.reset = std::move(reset);
  it.done = std::move(done);
  push(std::move(it));
}

void group_writer::reserve_ids(id_range through, completion done, bool exact) {
  item it;
  it.type = item::what::reservation;
  it.ids = through;
  it.exact = exact;
  it.done = std::move(done);
  push(std::move(it));
}

void group_writer::bind_chair(std::string chair_id, std::string device_id, engine::millis at_ms) {
  item it;
  it.type = item::what::binding;
  it.binding = {std::move(chair_id), std::move(device_id), at_ms, 0, false};
  if (leases_) it.binding.lease = leases_->epoch_of(it.binding.chair_id);
  push(std::move(it));
}

void group_writer::remove_closed_before(engine::millis cutoff_ms, std::function<void(std::size_t)> done) {
  item it;
  it.type = item::what::retention;
  it.cutoff = cutoff_ms;
  it.retention_done = std::move(done);
  push(std::move(it));
}

void group_writer::flush() {
  std::mutex m;
  std::condition_variable cv;
  bool done = false;
  item it;
  it.type = item::what::marker;
  it.marker = [&] {
    std::lock_guard lock(m);
    done = true;
    cv.notify_one();
  };
  push(std::move(it));
  std::unique_lock lock(m);
  cv.wait(lock, [&] { return done; });
}

void group_writer::on_health(health_callback callback) {
  std::lock_guard lock(mutex_);
  health_ = std::move(callback);
}

void group_writer::run() {
  model::run_in_background("vigil-commit", 0);  // named only: acks and answers wait for its commits
  // Events whose transaction failed go again with the next one, up to a bound; batches are not
  // kept (they were not acked, so their devices send them again).
  constexpr std::size_t max_retained_events = 100'000;
  std::vector<item> group;
  std::vector<item> retry;
  for (;;) {
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (queue_.empty() && stopping_ && retry.empty()) return;
      group = std::move(retry);
      retry.clear();
      // Everything waiting goes into one transaction: the busier the daemon, the bigger the group.
      // State items ride along: only batches count toward the group's size.
      std::size_t batches = 0;
      while (!queue_.empty() && batches < max_group_items_) {
        if (queue_.front().type == item::what::batch) ++batches;
        group.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
    }
    for (auto& it : group) {
      if (it.type != item::what::batch) continue;
      auto failed = failed_epochs_.find(it.batch.device_id);
      it.batch.fenced = failed != failed_epochs_.end() && it.batch.epoch <= failed->second;
    }
    const bool ok = commit(group);
    if (!ok) {
      for (const auto& it : group) {
        if (it.type != item::what::batch || it.batch.fenced) continue;
        auto& epoch = failed_epochs_[it.batch.device_id];
        epoch = std::max(epoch, it.batch.epoch);
      }
    }
    if (ok != healthy_) {
      healthy_ = ok;
      std::lock_guard lock(mutex_);
      if (health_) health_(ok, ok ? std::string() : last_error_);
    }
    std::size_t retained = 0;
    for (auto& it : group) {
      switch (it.type) {
        case item::what::batch:
          if (it.batch.done) it.batch.done(ok && !it.batch.fenced);
          break;
        case item::what::state:
          // What the backend refused is gone for good (another daemon holds its chair now): not
          // saved, and never retried.
          if (!it.reported) {
            it.reported = true;
            if (it.done) it.done(ok && !it.state.refused);
          }
          if (!ok && retained + it.state.events.size() <= max_retained_events) {
            retained += it.state.events.size();
            retry.push_back(std::move(it));
          } else if (!ok) {
            std::lock_guard lock(mutex_);
            stats_.events_dropped += it.state.events.size();
          }
          break;
        case item::what::reset:
        case item::what::reservation:
        case item::what::binding:
          // Small, and what they record must not be lost: kept for every retry.
          if (!it.reported) {
            it.reported = true;
            if (it.done) it.done(ok);
          }
          if (!ok) retry.push_back(std::move(it));
          break;
        case item::what::retention:
          if (!ok && it.retention_done) it.retention_done(0);
          break;
        case item::what::marker: it.marker(); break;
      }
    }
    group.clear();
    if (!ok) {
      // A failing disk is not retried in a tight loop; new items wait with the retained ones.
      std::unique_lock lock(mutex_);
      wake_.wait_for(lock, std::chrono::milliseconds(200), [&] { return stopping_; });
      if (stopping_ && !retry.empty()) {
        stats_.events_dropped += [&] {
          std::uint64_t n = 0;
          for (const auto& it : retry) n += it.type == item::what::state ? it.state.events.size() : 0;
          return n;
        }();
        retry.clear();
      }
    }
  }
}

bool group_writer::commit(std::vector<item>& group) {
  const bool has_data = std::any_of(group.begin(), group.end(), [](const item& it) { return it.type != item::what::marker; });
  if (!has_data) return true;
  std::string error;
  if (!write_group(group, error)) {
    last_error_ = std::move(error);
    std::lock_guard lock(mutex_);
    ++stats_.failures;
    return false;
  }
  for (auto& it : group) {
    if (it.type == item::what::retention && it.retention_done) it.retention_done(it.removed);
  }
  const auto committed = std::chrono::steady_clock::now();
  std::lock_guard lock(mutex_);
  for (const auto& it : group) {
    if (it.type == item::what::state) stats_.events += it.state.events.size();
    if (it.type != item::what::batch || it.batch.fenced) continue;
    ++stats_.batches;
    stats_.samples += it.batch.samples.size();
    const double ms = std::chrono::duration<double, std::milli>(committed - it.batch.queued).count();
    for (std::size_t b = 0; b < latency_bounds_ms.size(); ++b) {
      if (ms <= latency_bounds_ms[b]) ++stats_.latency_buckets[b];
    }
    ++stats_.latency_count;
    stats_.latency_sum_ms += ms;
  }
  ++stats_.transactions;
  return true;
}

group_writer::counters group_writer::stats() {
  std::lock_guard lock(mutex_);
  counters out = stats_;
  out.queued = queue_.size();
  return out;
}

}  // namespace vigil::store
