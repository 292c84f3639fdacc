#pragma once

// A throwaway PostgreSQL 15 for the tests that need one: a cluster made by initdb in a new
// directory under the system's temporary directory, its server listening on 127.0.0.1 only, at a
// free port, with a Unix socket in that directory; stopped and removed at the end. Nothing is
// installed as a service and nothing outside the directory is touched.
//
// PostgreSQL refuses to run as root, and CI runs as root: then initdb and the server run as the
// `postgres` user that Debian's postgresql-15 package creates, and the directory is given to it.
// (That is also why the directory is under /tmp and not under the build tree: the `postgres` user
// must be able to reach it.)

#include <fcntl.h>
#include <grp.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace vigil::test {

class postgres_server {
 public:
  /// Where Debian's postgresql-15 puts initdb, pg_ctl and postgres.
  static constexpr const char* bin_dir = "/usr/lib/postgresql/15/bin";

  /// Makes the cluster and starts its server; throws with the reason (and the tail of the
  /// server's log) if it cannot.
  postgres_server() {
    std::string pattern = (std::filesystem::temp_directory_path() / "vigil-pg-XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed: " + std::string(strerror(errno)));
    dir_ = pattern;
    if (geteuid() == 0) {
      const passwd* pw = getpwnam("postgres");
      if (pw == nullptr) throw std::runtime_error("running as root, and there is no `postgres` user to run PostgreSQL as");
      as_uid_ = pw->pw_uid;
      as_gid_ = pw->pw_gid;
      if (chown(dir_.c_str(), as_uid_, as_gid_) != 0) {
        throw std::runtime_error("chown " + dir_.string() + " failed: " + strerror(errno));
      }
    }
    if (run({"initdb", "-D", data_dir(), "-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync"}) != 0) {
      throw std::runtime_error("initdb failed: " + log_tail(dir_ / "commands.log"));
    }
    // A port free now may be taken before the server binds it: a few tries.
    for (int attempt = 0;; ++attempt) {
      port_ = free_port();
      if (try_start()) break;
      if (attempt == 4) throw std::runtime_error("the PostgreSQL server did not start: " + log_tail(dir_ / "server.log"));
    }
  }
  postgres_server(const postgres_server&) = delete;
  postgres_server& operator=(const postgres_server&) = delete;

  ~postgres_server() {
    if (running_) stop();
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }

  std::uint16_t port() const noexcept { return port_; }
  /// The cluster's directory (data/, the logs, the Unix socket).
  const std::filesystem::path& directory() const noexcept { return dir_; }
  bool running() const noexcept { return running_; }

  /// A libpq connection URL for `database` as the superuser `postgres`.
  std::string url(std::string_view database = "postgres") const {
    return "postgresql://postgres@127.0.0.1:" + std::to_string(port_) + "/" + std::string(database);
  }

  /// Stops the server at once, as a crash would (`pg_ctl stop -m immediate`): what was committed
  /// is on disk, connections are cut.
  void stop() {
    if (run({"pg_ctl", "-D", data_dir(), "-m", "immediate", "-w", "stop"}) != 0) {
      throw std::runtime_error("pg_ctl stop failed: " + log_tail(dir_ / "commands.log"));
    }
    running_ = false;
  }

  /// Starts the server again, on the same port.
  void start() {
    if (!try_start()) throw std::runtime_error("the PostgreSQL server did not start: " + log_tail(dir_ / "server.log"));
  }

  /// Freezes the server and every process of it (SIGSTOP), as a hung machine would: connections
  /// stay open, and nothing answers. thaw() lets it go on.
  void freeze() { signal_all(SIGSTOP); }
  void thaw() { signal_all(SIGCONT); }

  /// A TCP port on 127.0.0.1 that nothing listens on now.
  static std::uint16_t free_port() {
    const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) throw std::runtime_error("socket failed");
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      close(fd);
      throw std::runtime_error("no free port on 127.0.0.1");
    }
    close(fd);
    return ntohs(addr.sin_port);
  }

  /// Runs one of PostgreSQL's programs (as `postgres` when we are root), its output appended to
  /// commands.log; its exit status.
 private:
  std::string data_dir() const { return (dir_ / "data").string(); }

  /// Sends `sig` to the postmaster (its pid is the first line of postmaster.pid) and its children.
  void signal_all(int sig) const {
    std::ifstream pid_file(dir_ / "data" / "postmaster.pid");
    pid_t postmaster = 0;
    if (!(pid_file >> postmaster) || postmaster <= 0) throw std::runtime_error("no postmaster.pid: is the server running?");
    std::vector<pid_t> targets{postmaster};
    for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
      const std::string name = entry.path().filename().string();
      if (name.find_first_not_of("0123456789") != std::string::npos) continue;
      std::ifstream stat(entry.path() / "stat");
      std::string line;
      if (!std::getline(stat, line)) continue;
      // pid (comm) state ppid ...: the command may hold spaces, so read after its last ')'.
      const auto close = line.rfind(')');
      if (close == std::string::npos) continue;
      std::istringstream rest(line.substr(close + 1));
      std::string state;
      pid_t parent = 0;
      if (rest >> state >> parent && parent == postmaster) targets.push_back(static_cast<pid_t>(std::stoi(name)));
    }
    for (const pid_t pid : targets) kill(pid, sig);
  }

  bool try_start() {
    const std::string options = "-c listen_addresses=127.0.0.1 -c port=" + std::to_string(port_) +
                                " -c unix_socket_directories=" + dir_.string() +
                                " -c fsync=on -c synchronous_commit=on -c max_connections=100";
    running_ = run({"pg_ctl", "-D", data_dir(), "-l", (dir_ / "server.log").string(), "-w", "-t", "60", "-o", options,
                    "start"}) == 0;
    return running_;
  }

  int run(std::vector<std::string> args) const {
    const std::string program = std::string(bin_dir) + "/" + args.front();
    const std::string log = (dir_ / "commands.log").string();
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    const pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
      if (as_uid_ != 0 && (setgroups(0, nullptr) != 0 || setgid(as_gid_) != 0 || setuid(as_uid_) != 0)) _exit(126);
      const int out = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      if (out >= 0) {
        dup2(out, STDOUT_FILENO);
        dup2(out, STDERR_FILENO);
      }
      const int null = open("/dev/null", O_RDONLY);
      if (null >= 0) dup2(null, STDIN_FILENO);
      setenv("LC_ALL", "C", 1);
      unsetenv("PGDATA");
      execv(program.c_str(), argv.data());
      _exit(127);
    }
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }

  static std::string log_tail(const std::filesystem::path& path) {
    std::ifstream in(path);
    std::stringstream s;
    s << in.rdbuf();
    const std::string text = s.str();
    return text.size() > 2000 ? text.substr(text.size() - 2000) : text;
  }

  std::filesystem::path dir_;
  uid_t as_uid_ = 0;  // 0: run as ourselves
  gid_t as_gid_ = 0;
  std::uint16_t port_ = 0;
  bool running_ = false;
};

}  // namespace vigil::test
