#include "test_support.hpp"

#include "backends/loopback_guard.hpp"

#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <stdexcept>

#include <fcntl.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace orasi::test {

temp_config_file::temp_config_file(const std::string& content) {
  std::string pattern =
      (std::filesystem::temp_directory_path() / "orasi-test-XXXXXX").string();
  if (mkdtemp(pattern.data()) == nullptr)
    throw std::runtime_error("mkdtemp failed");
  dir_ = pattern;
  path_ = dir_ + "/config.json";
  write(content);
}

temp_config_file::~temp_config_file() {
  std::error_code ignored;
  std::filesystem::remove_all(dir_, ignored);
}

void temp_config_file::write(const std::string& content) {
  // Write to a temp name and rename, as editors and config tools do, so a
  // reader never sees a half-written file.
  auto staging = path_ + ".tmp";
  {
    std::ofstream out{staging, std::ios::binary | std::ios::trunc};
    out << content;
  }
  // Move the mtime forward explicitly: two writes within one timestamp tick
  // must still look different to a poller.
  ++generation_;
  struct timespec times[2];
  clock_gettime(CLOCK_REALTIME, &times[0]);
  times[0].tv_sec += generation_;
  times[1] = times[0];
  utimensat(AT_FDCWD, staging.c_str(), times, 0);
  std::filesystem::rename(staging, path_);
}

bool eventually(const std::function<bool()>& condition,
                std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition())
      return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return condition();
}

child_process::child_process(std::vector<std::string> argv) {
  int pipe_fds[2];
  if (pipe(pipe_fds) != 0)
    throw std::runtime_error("pipe failed");
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], STDERR_FILENO);
  posix_spawn_file_actions_addclose(&actions, pipe_fds[0]);
  std::vector<char*> args;
  for (auto& arg : argv)
    args.push_back(arg.data());
  args.push_back(nullptr);
  auto rc =
      posix_spawn(&pid_, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  close(pipe_fds[1]);
  if (rc != 0) {
    close(pipe_fds[0]);
    throw std::runtime_error("cannot spawn " + argv[0]);
  }
  output_fd_ = pipe_fds[0];
  reader_ = std::thread{[this] {
    char buffer[4096];
    for (;;) {
      auto n = read(output_fd_, buffer, sizeof(buffer));
      if (n <= 0)
        break;
      std::lock_guard<std::mutex> guard{mutex_};
      output_.append(buffer, static_cast<size_t>(n));
    }
  }};
}

child_process::~child_process() {
  if (!exited_) {
    kill(pid_, SIGKILL);
    wait_for_exit(std::chrono::seconds(5));
  }
  if (reader_.joinable())
    reader_.join();
  close(output_fd_);
  report_loopback_refusals();
}

// The child inherited ORASI_LOOPBACK_ONLY: a refusal it logged counts in
// this process too, so the test main fails the run.
void child_process::report_loopback_refusals() const {
  auto log = output();
  auto at = log.find(loopback_guard::refusal_marker);
  if (at == std::string::npos)
    return;
  auto end = log.find('\n', at);
  loopback_guard::refuse(
      "in a child process: " +
      log.substr(at, end == std::string::npos ? end : end - at));
}

bool child_process::wait_for_output(const std::string& text,
                                    std::chrono::milliseconds timeout) {
  return eventually([&] { return output().find(text) != std::string::npos; },
                    timeout);
}

std::string child_process::output() const {
  std::lock_guard<std::mutex> guard{mutex_};
  return output_;
}

void child_process::send_signal(int signal) {
  if (!exited_)
    kill(pid_, signal);
}

int child_process::wait_for_exit(std::chrono::milliseconds timeout) {
  if (exited_)
    return exit_code_;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    int status = 0;
    auto rc = waitpid(pid_, &status, WNOHANG);
    if (rc == pid_) {
      exited_ = true;
      exit_code_ =
          WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      // The reader may still hold the last lines: it ends at end of file,
      // which the exit just caused, so output() is complete after this.
      if (reader_.joinable())
        reader_.join();
      return exit_code_;
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      kill(pid_, SIGKILL);
      waitpid(pid_, &status, 0);
      exited_ = true;
      exit_code_ = -1;
      return -1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

uint16_t admin_port_from_log(const std::string& log) {
  static const std::regex pattern{R"(listening on http://[^:\s]+:(\d+))"};
  std::smatch match;
  if (!std::regex_search(log, match, pattern))
    return 0;
  return static_cast<uint16_t>(std::stoi(match[1].str()));
}

} // namespace orasi::test
