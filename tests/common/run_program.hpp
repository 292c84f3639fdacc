#pragma once

// Runs a built program (vigilctl) as a child process and collects its exit status and output.

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

namespace vigil::test {

struct run_result {
  int status = -1;
  std::string out;
  std::string err;
};

inline std::string slurp(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

/// Runs `program` with `args` in an environment holding only VIGIL_TOKEN=`token` (none when
/// unset); standard input is `input` (through a file in `dir`; none given: the test's own), standard
/// output and error go through files in `dir`. Everything the child needs is
/// prepared before fork(), so other threads of the test (a daemon) may run meanwhile.
inline run_result run_program(const std::string& program, const std::vector<std::string>& args,
                              const std::filesystem::path& dir, const std::optional<std::string>& token = std::nullopt,
                              const std::optional<std::string>& input = std::nullopt) {
  const std::string in_path = (dir / "stdin").string();
  if (input) std::ofstream(in_path, std::ios::binary | std::ios::trunc) << *input;
  const std::string out_path = (dir / "stdout").string();
  const std::string err_path = (dir / "stderr").string();
  std::vector<std::string> words = {program};
  words.insert(words.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& w : words) argv.push_back(w.data());
  argv.push_back(nullptr);
  std::string env_token = token ? "VIGIL_TOKEN=" + *token : std::string();
  std::vector<char*> envp;
  if (token) envp.push_back(env_token.data());
  envp.push_back(nullptr);
  const pid_t pid = fork();
  if (pid == 0) {
    const int o = open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    const int e = open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (input) {
      const int i = open(in_path.c_str(), O_RDONLY);
      dup2(i, STDIN_FILENO);
    }
    dup2(o, STDOUT_FILENO);
    dup2(e, STDERR_FILENO);
    execve(program.c_str(), argv.data(), envp.data());
    _exit(127);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status), slurp(out_path), slurp(err_path)};
}

}  // namespace vigil::test
