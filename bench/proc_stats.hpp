// What the benchmarks read about a process from Linux: per-thread CPU time
// (any thread of this process, by its tid), RSS, context switches, and the
// CPU time of another process (/proc/PID/stat); and the kernel's TCP socket
// counts (/proc/net/sockstat).
#pragma once

#include <cstdint>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <dirent.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace orasi::bench::proc {

/// The calling thread's id.
inline pid_t this_thread_id() {
  return static_cast<pid_t>(::syscall(SYS_gettid));
}

/// Every thread of this process but the calling one.
inline std::vector<pid_t> other_threads() {
  std::vector<pid_t> result;
  auto self = this_thread_id();
  if (auto* dir = ::opendir("/proc/self/task")) {
    while (auto* entry = ::readdir(dir)) {
      auto tid = static_cast<pid_t>(std::atol(entry->d_name));
      if (tid > 0 && tid != self)
        result.push_back(tid);
    }
    ::closedir(dir);
  }
  return result;
}

/// The CPU-time clock of thread `tid` of this process (the kernel's
/// encoding, as glibc's pthread_getcpuclockid builds it).
inline clockid_t thread_clock(pid_t tid) {
  return static_cast<clockid_t>((~static_cast<unsigned>(tid) << 3) | 6);
}

/// CPU nanoseconds of `tids` together (a thread that ended counts 0).
inline int64_t cpu_ns(const std::vector<pid_t>& tids) {
  int64_t total = 0;
  for (auto tid : tids) {
    timespec ts{};
    if (::clock_gettime(thread_clock(tid), &ts) == 0)
      total += int64_t{ts.tv_sec} * 1000000000 + ts.tv_nsec;
  }
  return total;
}

/// CPU nanoseconds of this whole process.
inline int64_t process_cpu_ns() {
  timespec ts{};
  ::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return int64_t{ts.tv_sec} * 1000000000 + ts.tv_nsec;
}

/// CPU seconds of this whole process.
inline double process_cpu_seconds() {
  return static_cast<double>(process_cpu_ns()) / 1e9;
}

/// utime + stime of process `pid` in nanoseconds (clock-tick resolution),
/// 0 if it cannot be read.
inline int64_t other_process_cpu_ns(long pid) {
  std::ifstream in{"/proc/" + std::to_string(pid) + "/stat"};
  std::string text;
  std::getline(in, text);
  auto close = text.rfind(')'); // the command name may hold spaces
  if (close == std::string::npos)
    return 0;
  std::istringstream fields{text.substr(close + 2)};
  std::string field;
  long utime = 0, stime = 0;
  // Fields from 3 (state); utime and stime are fields 14 and 15.
  for (int i = 3; i <= 15 && fields >> field; ++i) {
    if (i == 14)
      utime = std::atol(field.c_str());
    if (i == 15)
      stime = std::atol(field.c_str());
  }
  return (utime + stime) * (1000000000 / ::sysconf(_SC_CLK_TCK));
}

/// A field of a /proc status file ("VmRSS:" in kB, counters as they are).
inline long status_field(const std::string& path, const std::string& field) {
  std::ifstream in{path};
  for (std::string line; std::getline(in, line);)
    if (line.compare(0, field.size(), field) == 0)
      return std::atol(line.c_str() + field.size());
  return 0;
}

inline long rss_bytes() {
  return status_field("/proc/self/status", "VmRSS:") * 1024;
}

/// Voluntary plus involuntary context switches of every thread of this
/// process (/proc/self/status counts the main thread only).
inline long context_switches() {
  long total = 0;
  auto tids = other_threads();
  tids.push_back(this_thread_id());
  for (auto tid : tids) {
    auto path = "/proc/self/task/" + std::to_string(tid) + "/status";
    total += status_field(path, "voluntary_ctxt_switches:") +
             status_field(path, "nonvoluntary_ctxt_switches:");
  }
  return total;
}

/// Context switches of a process, summed over its threads.
struct switch_counts {
  long voluntary = 0;
  long involuntary = 0;
};

/// Every live thread of process `pid` ("self" for this one), from
/// /proc/PID/task/*/status; a thread that ended is no longer counted.
inline switch_counts thread_switches(const std::string& pid = "self") {
  switch_counts total;
  auto tasks = "/proc/" + pid + "/task";
  if (auto* dir = ::opendir(tasks.c_str())) {
    while (auto* entry = ::readdir(dir)) {
      if (entry->d_name[0] == '.')
        continue;
      auto path = tasks + "/" + entry->d_name + "/status";
      total.voluntary += status_field(path, "voluntary_ctxt_switches:");
      total.involuntary += status_field(path, "nonvoluntary_ctxt_switches:");
    }
    ::closedir(dir);
  }
  return total;
}

/// The "TCP:" line of /proc/net/sockstat (the whole network namespace).
struct tcp_sockstat {
  long inuse = 0;
  long orphan = 0;
  long tw = 0;
  long alloc = 0;
  long mem_pages = 0; // socket buffers, in pages
};

inline tcp_sockstat read_tcp_sockstat() {
  tcp_sockstat result;
  std::ifstream in{"/proc/net/sockstat"};
  for (std::string line; std::getline(in, line);) {
    if (line.compare(0, 4, "TCP:") != 0)
      continue;
    std::istringstream fields{line.substr(4)};
    std::string name;
    long value = 0;
    while (fields >> name >> value) {
      if (name == "inuse")
        result.inuse = value;
      else if (name == "orphan")
        result.orphan = value;
      else if (name == "tw")
        result.tw = value;
      else if (name == "alloc")
        result.alloc = value;
      else if (name == "mem")
        result.mem_pages = value;
    }
  }
  return result;
}

} // namespace orasi::bench::proc
