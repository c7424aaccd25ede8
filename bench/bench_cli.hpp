// Command-line parsing shared by the benchmarks: "--flag value" pairs and
// value-less switches, --help, and the program's usage text (exit 2) for
// anything unknown or malformed.
#pragma once

#include <cstdlib>
#include <string>

namespace orasi::bench {

class cli_args {
public:
  /// Prints the usage to stdout (status 0) or stderr and exits.
  using usage_function = void (*)(const char* program, int status);

  cli_args(int argc, char** argv, usage_function usage)
      : argc_(argc), argv_(argv), usage_(usage) {}

  /// Calls `handle(flag)` for every flag; it reads the flag's value, if it
  /// takes one, with value(), real() or integer(), and returns false for a
  /// flag it does not know.
  template <class Handle>
  void parse(Handle handle) {
    for (index_ = 1; index_ < argc_; ++index_) {
      std::string flag = argv_[index_];
      if (flag == "--help" || flag == "-h")
        usage_(argv_[0], 0);
      if (!handle(flag))
        fail();
    }
  }

  const char* value() {
    if (index_ + 1 >= argc_)
      fail();
    return argv_[++index_];
  }

  double real() {
    auto text = value();
    char* end = nullptr;
    auto result = std::strtod(text, &end);
    if (end == text || *end != '\0')
      fail();
    return result;
  }

  /// A non-negative integer.
  long integer() {
    auto text = value();
    char* end = nullptr;
    auto result = std::strtol(text, &end, 10);
    if (end == text || *end != '\0' || result < 0)
      fail();
    return result;
  }

  [[noreturn]] void fail() const {
    usage_(argv_[0], 2);
    std::exit(2); // usage_ exits; this tells the compiler so
  }

private:
  int argc_;
  char** argv_;
  usage_function usage_;
  int index_ = 1;
};

} // namespace orasi::bench
