#pragma once

// A program run as a child process (vigild, vigil-sim), its standard output and error read
// through one pipe by a thread of its own, so a chatty child never blocks on a full pipe.

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <condition_variable>
#include <mutex>
#include <regex>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace vigil::test {

class child_process {
 public:
  /// How the child's output is seen: as a terminal or file would be, or as systemd's journal
  /// stream (JOURNAL_STREAM names the pipe, as systemd does for a service's standard error).
  enum class output_to : std::uint8_t { pipe, journal };

  child_process(const std::string& program, std::vector<std::string> args, output_to to = output_to::pipe) {
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) throw std::runtime_error("pipe failed");
    std::vector<char*> argv;
    std::string path = program;
    argv.push_back(path.data());
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    // The environment is made before fork: the child only dup2s and execs.
    std::vector<std::string> env_text;
    for (char** e = environ; *e != nullptr; ++e) {
      if (std::string_view(*e).starts_with("JOURNAL_STREAM=")) continue;
      env_text.emplace_back(*e);
    }
    if (to == output_to::journal) {
      struct stat st {};
      if (fstat(fds[1], &st) != 0) throw std::runtime_error("fstat failed");
      env_text.push_back("JOURNAL_STREAM=" + std::to_string(st.st_dev) + ":" + std::to_string(st.st_ino));
    }
    std::vector<char*> envp;
    for (auto& e : env_text) envp.push_back(e.data());
    envp.push_back(nullptr);
    pid_ = fork();
    if (pid_ == 0) {
      dup2(fds[1], STDERR_FILENO);
      dup2(fds[1], STDOUT_FILENO);
      execve(path.c_str(), argv.data(), envp.data());
      _exit(127);
    }
    close(fds[1]);
    reader_ = std::thread([this, fd = fds[0]] { read_all(fd); });
  }
  child_process(const child_process&) = delete;
  child_process& operator=(const child_process&) = delete;

  ~child_process() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    reader_.join();
  }

  /// The child's process id (to signal it: SIGSTOP, SIGCONT).
  pid_t pid() const noexcept { return pid_; }

  /// Waits until a line of output matches `pattern` (lines seen before included, each line
  /// matched once); the match, or empty after `timeout` or at the end of the output.
  std::smatch wait_line(const std::regex& pattern, std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    std::unique_lock lock(mutex_);
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      while (next_line_ < lines_.size()) {
        line_ = lines_[next_line_++];
        std::smatch m;
        if (std::regex_search(line_, m, pattern)) return m;
      }
      if (ended_ || changed_.wait_until(lock, deadline) == std::cv_status::timeout) {
        if (next_line_ >= lines_.size()) return {};
      }
    }
  }

  /// Waits for the process to exit; its exit status (128 + signal when killed), or -1 after `timeout`.
  int wait_exit(std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    {
      std::unique_lock lock(mutex_);
      if (!changed_.wait_for(lock, timeout, [&] { return ended_; })) return -1;
    }
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }

  void signal(int sig) { kill(pid_, sig); }
  std::string output() const {
    std::lock_guard lock(mutex_);
    return output_;
  }

 private:
  void read_all(int fd) {
    char chunk[4096];
    std::string partial;
    for (;;) {
      const ssize_t n = read(fd, chunk, sizeof chunk);
      if (n < 0 && errno == EINTR) continue;
      std::lock_guard lock(mutex_);
      if (n <= 0) {
        if (!partial.empty()) lines_.push_back(partial);
        ended_ = true;
        changed_.notify_all();
        break;
      }
      output_.append(chunk, static_cast<std::size_t>(n));
      partial.append(chunk, static_cast<std::size_t>(n));
      for (auto nl = partial.find('\n'); nl != std::string::npos; nl = partial.find('\n')) {
        lines_.push_back(partial.substr(0, nl));
        partial.erase(0, nl + 1);
      }
      changed_.notify_all();
    }
    close(fd);
  }

  pid_t pid_ = -1;
  std::thread reader_;
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<std::string> lines_;
  std::size_t next_line_ = 0;
  std::string line_;
  std::string output_;
  bool ended_ = false;
};

}  // namespace vigil::test
