// A child process for end-to-end tests: a real service binary started with
// its arguments and environment, its stdout read line by line, signals sent
// to it and its exit awaited. The child is killed if the test dies. Not
// thread-safe.
#ifndef JALON_TESTS_SUPPORT_CHILD_PROCESS_H_
#define JALON_TESTS_SUPPORT_CHILD_PROCESS_H_

#include <sys/types.h>

#include <chrono>
#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace jalon::testing {

class ChildProcess {
 public:
  ChildProcess() = default;
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  // Starts `argv[0]` with `argv` and the current environment plus `env`.
  // Its stderr goes to `stderr_path` (if set), stdout to a pipe.
  absl::Status Start(const std::vector<std::string>& argv,
                     const std::map<std::string, std::string>& env,
                     const std::string& stderr_path = "");
  // Reads stdout until a line containing `needle`; returns that line.
  absl::StatusOr<std::string> WaitForLine(const std::string& needle,
                                          std::chrono::milliseconds timeout);
  // Waits for a Jalon service's "listening on port N" line, printed once it
  // serves, and reads the ports from it. A test starts a service on port 0
  // and learns here which port the kernel gave it: no port can be taken by
  // another process between a probe and the bind.
  struct Ports {
    int grpc = 0;
    int http = 0;  // the reporting service's "(http M)"; 0 if not printed
  };
  absl::StatusOr<Ports> WaitForListening(std::chrono::milliseconds timeout);
  void Signal(int sig);
  // Waits for the exit; the exit code, or 128 + signal, or an error on
  // timeout (the child is then killed).
  absl::StatusOr<int> Wait(std::chrono::milliseconds timeout);
  bool running() const { return pid_ > 0; }

 private:
  pid_t pid_ = 0;
  int stdout_fd_ = -1;
  std::string buffer_;
};

// The whole file, without trailing newlines ("" if it cannot be read): for
// logs in failure messages and for token files.
std::string ReadFile(const std::string& path);

}  // namespace jalon::testing

#endif  // JALON_TESTS_SUPPORT_CHILD_PROCESS_H_
