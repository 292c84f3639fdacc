#pragma once

// A thread that works in the background of the I/O thread (store reads, the commit writer, the
// password checks of sign-ins) names itself, for `top -H` and profiles, and lowers its CPU
// priority, so that under load the I/O thread, which evaluates every chair's alarms, is
// scheduled first. Linux gives each thread its own nice value; lowering it needs no privilege.
// Best effort: a failure leaves the thread as it was.

#include <pthread.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cerrno>

namespace vigil::model {

/// Names the calling thread (up to 15 characters) and adds `niceness` (0 to 19) to its nice value.
inline void run_in_background(const char* name, int niceness) {
  pthread_setname_np(pthread_self(), name);
  const auto self = static_cast<id_t>(gettid());
  errno = 0;
  const int current = getpriority(PRIO_PROCESS, self);
  if (errno != 0) return;
  setpriority(PRIO_PROCESS, self, current + niceness > 19 ? 19 : current + niceness);
}

}  // namespace vigil::model
