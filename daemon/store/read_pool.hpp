#pragma once

// Reads of the timeline off the caller's thread: a few threads, each with a reader of its own,
// run read jobs in the order posted. The daemon's I/O thread (which evaluates every chair's
// alarms) never reads the store itself: it posts here and gets the result posted back.

#include "daemon/store/timeline.hpp"

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

namespace vigil::store {

class read_pool {
 public:
  /// Added to the nice value of the pool's threads ("vigil-read"): a burst of resumes, exports or
  /// reports never takes the CPU the alarms need.
  static constexpr int niceness = 10;

  /// Makes a reader; called on a pool thread before its first job, and again after a job's
  /// reader threw (the connection may be broken). May throw: the job then gets the reason.
  using opener = std::function<std::unique_ptr<reader>()>;
  /// A job: runs on a pool thread with that thread's reader, or with null and why none could be
  /// opened. It must not throw.
  using job = std::function<void(reader* r, const std::string& error)>;

  explicit read_pool(opener open, std::size_t threads = 2);
  /// Runs the jobs already posted, then joins the threads.
  ~read_pool();
  read_pool(const read_pool&) = delete;
  read_pool& operator=(const read_pool&) = delete;

  void post(job j);

  /// Jobs posted and not finished.
  std::size_t pending() const;

 private:
  void run();

  opener open_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<job> jobs_;
  std::size_t running_ = 0;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

/// What a read gave: its value, or why it failed.
template <class T>
struct read_result {
  std::optional<T> value;
  std::string error;
};

/// Runs `read(reader&)` on the pool, then `done(read_result)` on the pool's thread: the caller
/// posts the result to its own thread. An exception of `read` becomes the result's error.
template <class Read, class Done>
void read(read_pool& pool, Read read, Done done) {
  using value = std::invoke_result_t<Read&, reader&>;
  pool.post([read = std::move(read), done = std::move(done)](reader* r, const std::string& error) mutable {
    read_result<value> out;
    if (r == nullptr) {
      out.error = error;
    } else {
      try {
        out.value.emplace(read(*r));
      } catch (const std::exception& e) {
        out.error = e.what();
      }
    }
    done(std::move(out));
  });
}

}  // namespace vigil::store
