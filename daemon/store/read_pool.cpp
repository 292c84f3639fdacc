#include "daemon/store/read_pool.hpp"

#include "daemon/model/background.hpp"

namespace vigil::store {

read_pool::read_pool(opener open, std::size_t threads) : open_(std::move(open)) {
  if (threads == 0) threads = 1;
  threads_.reserve(threads);
  for (std::size_t i = 0; i < threads; ++i) threads_.emplace_back([this] { run(); });
}

read_pool::~read_pool() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  for (auto& t : threads_) t.join();
}

void read_pool::post(job j) {
  {
    std::lock_guard lock(mutex_);
    jobs_.push_back(std::move(j));
  }
  wake_.notify_one();
}

std::size_t read_pool::pending() const {
  std::lock_guard lock(mutex_);
  return jobs_.size() + running_;
}

void read_pool::run() {
  model::run_in_background("vigil-read", niceness);
  std::unique_ptr<reader> mine;
  for (;;) {
    job next;
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [this] { return stopping_ || !jobs_.empty(); });
      if (jobs_.empty()) return;  // stopping, and every job posted has run
      next = std::move(jobs_.front());
      jobs_.pop_front();
      ++running_;
    }
    std::string error;
    if (!mine) {
      try {
        mine = open_();
      } catch (const std::exception& e) {
        error = e.what();
      }
    }
    next(mine.get(), error);
    {
      std::lock_guard lock(mutex_);
      --running_;
    }
  }
}

}  // namespace vigil::store
