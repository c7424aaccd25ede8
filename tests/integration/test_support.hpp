// Helpers for integration tests: temp files, bounded waits, and a child
// process (the real launcher) whose output is captured.
#pragma once

#include <chrono>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <sys/types.h>

namespace orasi::test {

/// A file in a fresh temp directory, removed with the directory.
class temp_config_file {
public:
  explicit temp_config_file(const std::string& content);
  ~temp_config_file();

  /// Replaces the content; the mtime moves forward so that pollers notice.
  void write(const std::string& content);
  const std::string& path() const { return path_; }

private:
  std::string dir_;
  std::string path_;
  int generation_ = 0;
};

/// Polls `condition` every 10 ms until it holds or `timeout` passes.
bool eventually(const std::function<bool()>& condition,
                std::chrono::milliseconds timeout = std::chrono::seconds(10));

/// A child process with stdout and stderr captured into one log.
class child_process {
public:
  explicit child_process(std::vector<std::string> argv);
  ~child_process(); // SIGKILL if still running

  /// Waits until the output contains `text`; false on timeout or exit.
  bool
  wait_for_output(const std::string& text,
                  std::chrono::milliseconds timeout = std::chrono::seconds(10));

  /// Everything the process printed so far.
  std::string output() const;

  void send_signal(int signal);

  /// Waits for the exit code; -1 on timeout (the process is then killed),
  /// 128 + signal if it was killed by a signal.
  int wait_for_exit(
      std::chrono::milliseconds timeout = std::chrono::seconds(10));

private:
  void report_loopback_refusals() const;

  pid_t pid_ = -1;
  int output_fd_ = -1;
  std::thread reader_;
  mutable std::mutex mutex_;
  std::string output_;
  bool exited_ = false;
  int exit_code_ = -1;
};

/// The admin port a launcher reported in its log ("listening on
/// http://127.0.0.1:PORT"); 0 if not found.
uint16_t admin_port_from_log(const std::string& log);

} // namespace orasi::test
