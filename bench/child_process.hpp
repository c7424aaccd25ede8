// Child processes of the benchmarks (etcdctl): start with stdout on a file
// descriptor, wait, time a command; and the one child a signal must stop.
#pragma once

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace orasi::bench {

/// Starts `args` (args[0] looked up in PATH) with stdout on `stdout_fd`.
inline pid_t spawn(const std::vector<std::string>& args, int stdout_fd) {
  std::vector<char*> argv;
  for (const auto& arg : args)
    argv.push_back(const_cast<char*>(arg.c_str()));
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, stdout_fd, STDOUT_FILENO);
  pid_t pid = 0;
  int err =
      posix_spawnp(&pid, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (err != 0)
    throw std::runtime_error("cannot start " + args[0] + ": " +
                             std::strerror(err));
  return pid;
}

/// Waits for `pid`; its exit status, or -1 if killed by a signal.
inline int wait_for(pid_t pid) {
  int status = 0;
  while (waitpid(pid, &status, 0) < 0)
    if (errno != EINTR)
      return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/// Runs `args` with stdout on /dev/null; its wall time from spawn to exit.
inline std::chrono::steady_clock::duration
time_command(const std::vector<std::string>& args) {
  int null_fd = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
  if (null_fd < 0)
    throw std::runtime_error("cannot open /dev/null");
  auto t0 = std::chrono::steady_clock::now();
  auto pid = spawn(args, null_fd);
  auto status = wait_for(pid);
  auto elapsed = std::chrono::steady_clock::now() - t0;
  ::close(null_fd);
  if (status != 0)
    throw std::runtime_error(args[0] + " " + args[1] + " ... failed (status " +
                             std::to_string(status) + ")");
  return elapsed;
}

/// The etcdctl watch, for the signal handler: killed with the benchmark,
/// it would keep retrying a stopped etcd forever.
inline volatile sig_atomic_t watch_child = 0;

inline void on_terminate(int signal) {
  if (watch_child > 0)
    ::kill(watch_child, SIGTERM);
  std::signal(signal, SIG_DFL);
  std::raise(signal);
}
} // namespace orasi::bench
