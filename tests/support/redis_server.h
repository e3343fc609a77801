// A real redis-server for tests: a child process on a free loopback port, in
// a fresh temporary directory, with the AOF on (so Kill + Restart shows what
// survives a crash) and RDB snapshots off. The child dies with the thread
// that started it (PR_SET_PDEATHSIG), so a crashed test leaves no server
// behind. Not thread-safe: start, stop, kill and restart it from the test's
// main thread; clients on other threads may use it meanwhile.
#ifndef JALON_TESTS_SUPPORT_REDIS_SERVER_H_
#define JALON_TESTS_SUPPORT_REDIS_SERVER_H_

#include <sys/types.h>

#include <chrono>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "services/common/redis.h"

namespace jalon::testing {

struct RedisServerOptions {
  std::string binary = "/usr/bin/redis-server";
  // Non-empty: requirepass, and options() carries it.
  std::string password;
  // appendfsync always (every write is on disk before Redis answers) rather
  // than everysec.
  bool fsync_always = false;
  // How long Start/Restart wait for PING to answer.
  std::chrono::milliseconds start_timeout{10000};
};

class RedisServer {
 public:
  explicit RedisServer(RedisServerOptions options = {});
  // Stops the server and removes its directory.
  ~RedisServer();
  RedisServer(const RedisServer&) = delete;
  RedisServer& operator=(const RedisServer&) = delete;

  // Starts redis-server and waits until it answers PING.
  absl::Status Start();
  // SIGTERM and wait (Redis flushes its AOF on the way out).
  void Stop();
  // SIGKILL and wait: a crash.
  void Kill();
  // Starts again on the same port and directory (stopping it first if it
  // runs); Redis reloads its AOF. Waits until PING answers.
  absl::Status Restart();

  bool running() const { return pid_ > 0; }
  int port() const { return port_; }
  const std::string& dir() const { return dir_; }
  // Client options pointing at this server (with its password), with
  // generous timeouts and a short reconnect backoff for tests.
  RedisOptions options() const;

  // Runs one command on a fresh connection, for assertions.
  absl::StatusOr<RedisReply> Command(const RedisArgs& args) const;
  // The end of the server's log, for failure messages.
  std::string LogTail() const;

 private:
  absl::Status Launch();
  absl::Status WaitReady();
  void WriteConfig() const;
  // Waits for the child to exit, up to `timeout`; true if it did.
  bool Reap(std::chrono::milliseconds timeout);

  RedisServerOptions options_;
  std::string dir_;
  int port_ = 0;
  pid_t pid_ = 0;
};

}  // namespace jalon::testing

#endif  // JALON_TESTS_SUPPORT_REDIS_SERVER_H_
