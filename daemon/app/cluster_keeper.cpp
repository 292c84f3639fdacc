#include "daemon/app/cluster_keeper.hpp"

#include "daemon/clinic/clinic.hpp"
#include "daemon/log/log.hpp"
#include "daemon/model/background.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <sstream>

namespace vigil::app {

std::string ingest_address(const std::string& addresses) {
  std::istringstream words(addresses);
  std::string word;
  while (words >> word) {
    if (word.rfind("ingest=", 0) == 0) return word.substr(7);
  }
  return {};
}

cluster_keeper::cluster_keeper(store::cluster_options opts, std::shared_ptr<store::lease_set> leases,
                               store::timeline& timeline, cluster_hooks hooks)
    : opts_(opts),
      leases_(std::move(leases)),
      timeline_(timeline),
      hooks_(std::move(hooks)),
      log_(log::component_logger("cluster")),
      db_(std::move(opts)) {}

cluster_keeper::~cluster_keeper() { stop(false); }

engine::id_range cluster_keeper::first_ids() {
  return db_.take_ids(clinic::clinic::id_blocks);
}

void cluster_keeper::advertise(std::string addresses) { db_.advertise(std::move(addresses)); }

void cluster_keeper::start() {
  thread_ = std::thread([this] { run(); });
}

void cluster_keeper::stop(bool leave) {
  {
    std::lock_guard lock(mutex_);
    if (stopping_ && !thread_.joinable()) return;
    stopping_ = true;
  }
  wake_.notify_one();
  if (thread_.joinable()) thread_.join();
  if (!leave) return;
  try {
    db_.leave();
    log_->info("left the cluster: the other daemons take this one's chairs over now");
  } catch (const std::exception& e) {
    log_->warn("could not leave the cluster cleanly ({}); the other daemons take the chairs over once their leases run "
               "out", e.what());
  }
}

void cluster_keeper::want(const std::string& chair) {
  {
    std::lock_guard lock(mutex_);
    if (std::find(wanted_.begin(), wanted_.end(), chair) != wanted_.end()) return;
    wanted_.push_back(chair);
  }
  wake_.notify_one();
}

void cluster_keeper::ask_ids() {
  {
    std::lock_guard lock(mutex_);
    ids_asked_ = true;
  }
  wake_.notify_one();
}

void cluster_keeper::given_up(const std::string& chair) {
  {
    std::lock_guard lock(mutex_);
    released_.insert(chair);
  }
  wake_.notify_one();
}

cluster_keeper::counters cluster_keeper::stats() const {
  std::lock_guard lock(mutex_);
  return stats_;
}

void cluster_keeper::run() {
  model::run_in_background("vigil-cluster", 0);
  const auto every = opts_.lease / 3;
  auto next = std::chrono::steady_clock::now();
  for (;;) {
    {
      std::unique_lock lock(mutex_);
      // Woken early by a device asking for a chair, a request for ids, or a chair given up.
      wake_.wait_until(lock, next, [&] { return stopping_ || ids_asked_ || !wanted_.empty() || !released_.empty(); });
      if (stopping_) return;
    }
    const auto now = std::chrono::steady_clock::now();
    try {
      bool ids = false;
      {
        std::lock_guard lock(mutex_);
        ids = ids_asked_;
      }
      if (ids) {
        // Asked again at the next wake if this fails: the clinic asks only once per block.
        const auto first = first_ids();
        {
          std::lock_guard lock(mutex_);
          ids_asked_ = false;
        }
        hooks_.ids(first);
      }
      if (now >= next) {
        next = now + every;
        round();
      } else {
        // Between rounds: only what was asked for.
        std::deque<std::string> wanted;
        {
          std::lock_guard lock(mutex_);
          wanted.swap(wanted_);
        }
        for (const auto& chair : wanted) {
          if (!db_.holder_of(chair)) take_or_offer(chair);
        }
        release_given_up();
      }
      if (!reachable_) {
        reachable_ = true;
        log_->info("the cluster's database answers again");
        hooks_.health(true, {});
      }
    } catch (const std::exception& e) {
      std::lock_guard lock(mutex_);
      ++stats_.failed_rounds;
      if (reachable_) {
        reachable_ = false;
        log_->error("cannot renew this daemon's chair leases: {}; its chairs' alarms go on from memory, and another "
                    "daemon takes them over once their leases run out", e.what());
        hooks_.health(false, e.what());
      }
      next = std::chrono::steady_clock::now() + every;
    }
  }
}

void cluster_keeper::take(const std::string& chair) {
  const auto epoch = db_.take(chair);
  if (!epoch) return;
  // Held before anything is written for it; the old holder's writes are refused from now on.
  leases_->hold(chair, *epoch);
  std::optional<store::stored_checkpoint> checkpoint;
  std::map<std::string, std::uint64_t> seqs;
  try {
    checkpoint = db_.checkpoint_of(chair);
    seqs = db_.device_seqs_of(chair);
  } catch (...) {
    // Not carried on here after all: given back, for this daemon or another to take again.
    leases_->drop(chair);
    try {
      db_.release(chair, *epoch);
    } catch (const std::exception&) {
      // Unreachable: the lease runs out on its own.
    }
    throw;
  }
  {
    std::lock_guard lock(mutex_);
    ++stats_.taken;
  }
  log_->info("took chair {} (lease epoch {}){}", chair, *epoch, checkpoint ? ", carrying on from its checkpoint" : "");
  hooks_.gained(chair, std::move(checkpoint), std::move(seqs));
}

void cluster_keeper::take_or_offer(const std::string& chair) {
  if (leases_->epoch_of(chair) != 0 || handing_over_.count(chair) != 0) return;
  if (leases_->held().size() < share_) {
    take(chair);
  } else {
    db_.offer(chair);  // for a daemon with room to take
  }
}

void cluster_keeper::round() {
  const auto r = db_.renew();
  {
    std::lock_guard lock(mutex_);
    ++stats_.rounds;
  }
  // Where the others' chairs are, first: the chairs lost below send their devices there.
  std::map<std::string, ingest::chair_place, std::less<>> elsewhere;
  for (const auto& [chair, other] : r.elsewhere) {
    elsewhere[chair] = {false, ingest_address(other.addresses), other.node, other.addresses};
  }
  hooks_.directory(std::move(elsewhere));
  // Chairs this daemon believed it held that another took over meanwhile (it was frozen or cut
  // off past its lease): their writes are refused from now on; the daemon forgets them.
  for (const auto& [chair, epoch] : leases_->held()) {
    const auto still = r.held.find(chair);
    if (still != r.held.end() && still->second == epoch) continue;
    if (handing_over_.count(chair) != 0) continue;
    leases_->drop(chair);
    {
      std::lock_guard lock(mutex_);
      ++stats_.lost;
    }
    log_->warn("chair {} was taken over by another daemon (this one's lease ran out); giving it up", chair);
    hooks_.lost(chair);
  }

  // This daemon's share: the chairs known, spread evenly over the live daemons.
  std::deque<std::string> wanted;
  {
    std::lock_guard lock(mutex_);
    wanted.swap(wanted_);
  }
  std::size_t known = r.chairs;
  for (const auto& chair : wanted) {
    if (r.held.count(chair) == 0 && r.elsewhere.count(chair) == 0 &&
        std::find(r.free_chairs.begin(), r.free_chairs.end(), chair) == r.free_chairs.end()) {
      ++known;
    }
  }
  const std::size_t live = std::max<std::size_t>(r.live_nodes, 1);
  const std::size_t share = (known + live - 1) / live;
  share_ = share;
  // Chairs asked for here first, then any free chair.
  for (const auto& chair : wanted) {
    if (r.elsewhere.count(chair) == 0) take_or_offer(chair);
  }
  std::size_t mine = leases_->held().size();
  for (const auto& chair : r.free_chairs) {
    if (mine >= share) break;
    if (leases_->epoch_of(chair) != 0 || handing_over_.count(chair) != 0) continue;
    take(chair);
    mine = leases_->held().size();
  }
  // A daemon that joined, or came back, holds fewer than its share: hand it some, one round's
  // worth at a time, each once what was written for it is committed (given_up()).
  std::size_t least = share;
  for (const auto& [node, load] : r.load) {
    if (node != opts_.node) least = std::min(least, load);
  }
  if (mine > share && least + 1 < share && handing_over_.empty()) {
    const std::size_t give = std::min(mine - share, share - least - 1);
    const auto held = leases_->held();
    std::size_t given = 0;
    for (auto it = held.rbegin(); it != held.rend() && given < give; ++it, ++given) {
      handing_over_[it->first] = it->second;
      {
        std::lock_guard lock(mutex_);
        ++stats_.handed_over;
      }
      log_->info("handing chair {} over: this daemon holds {} chairs, its share is {}", it->first, mine, share);
      hooks_.lost(it->first);
    }
  }
  release_given_up();
}

void cluster_keeper::release_given_up() {
  std::set<std::string> released;
  {
    std::lock_guard lock(mutex_);
    released.swap(released_);
  }
  for (const auto& chair : released) {
    const auto it = handing_over_.find(chair);
    if (it == handing_over_.end()) continue;
    // Everything the daemon queued for the chair is committed before the lease goes, so the
    // daemon taking it over starts from all of it.
    timeline_.flush();
    leases_->drop(chair);
    db_.release(chair, it->second);
    handing_over_.erase(it);
    log_->info("chair {} handed over", chair);
  }
}

}  // namespace vigil::app
