#include "tests/support/redis_server.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "tests/support/free_port.h"

namespace jalon::testing {
namespace {

// A value for redis.conf, quoted the way Redis' config parser unquotes it.
std::string ConfQuote(const std::string& value) {
  std::string out = "\"";
  for (char c : value) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  out += '"';
  return out;
}

}  // namespace

RedisServer::RedisServer(RedisServerOptions options)
    : options_(std::move(options)) {
  char tmpl[] = "/tmp/jalon-redis-XXXXXX";
  if (mkdtemp(tmpl) == nullptr) {
    std::perror("mkdtemp");
    std::abort();
  }
  dir_ = tmpl;
}

RedisServer::~RedisServer() {
  Stop();
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

RedisOptions RedisServer::options() const {
  RedisOptions o;
  o.host = "127.0.0.1";
  o.port = port_;
  o.password = options_.password;
  o.connect_timeout = std::chrono::milliseconds(2000);
  o.command_timeout = std::chrono::milliseconds(5000);
  o.pool_size = 4;
  o.min_backoff = std::chrono::milliseconds(10);
  o.max_backoff = std::chrono::milliseconds(200);
  return o;
}

void RedisServer::WriteConfig() const {
  std::string path = dir_ + "/redis.conf";
  std::ofstream conf(path, std::ios::trunc);
  conf << "port " << port_ << "\n"
       << "bind 127.0.0.1\n"
       << "dir " << ConfQuote(dir_) << "\n"
       << "daemonize no\n"
       << "logfile \"\"\n"  // stdout, which the child sends to redis.log
       << "appendonly yes\n"
       << "appendfsync " << (options_.fsync_always ? "always" : "everysec")
       << "\n"
       << "save \"\"\n"
       << "enable-debug-command local\n";
  if (!options_.password.empty()) {
    conf << "requirepass " << ConfQuote(options_.password) << "\n";
  }
  conf.close();
  chmod(path.c_str(), 0600);  // it may hold the password
}

absl::Status RedisServer::Launch() {
  WriteConfig();
  std::string conf = dir_ + "/redis.conf";
  std::string log = dir_ + "/redis.log";
  // Everything the child needs is prepared before fork: between fork and
  // exec a multi-threaded process may only make async-signal-safe calls.
  std::vector<char*> argv = {const_cast<char*>(options_.binary.c_str()),
                             conf.data(), nullptr};
  int log_fd =
      open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (log_fd < 0) return absl::InternalError("cannot open " + log);
  int null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
  sigset_t no_signals;
  sigemptyset(&no_signals);
  pid_t parent = getpid();
  pid_t pid = fork();
  if (pid < 0) {
    close(log_fd);
    if (null_fd >= 0) close(null_fd);
    return absl::InternalError("fork failed");
  }
  if (pid == 0) {
    // Die with the thread that started us, even if it crashes.
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(1);
    // Whatever the test process blocked or ignored (SIGTERM blocked by a
    // service's main loop, SIGPIPE ignored by the Redis client) must not
    // leak into redis-server, or Stop() could not stop it.
    sigprocmask(SIG_SETMASK, &no_signals, nullptr);
    signal(SIGPIPE, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    if (null_fd >= 0) dup2(null_fd, STDIN_FILENO);
    dup2(log_fd, STDOUT_FILENO);
    dup2(log_fd, STDERR_FILENO);
    execv(argv[0], argv.data());
    _exit(127);
  }
  close(log_fd);
  if (null_fd >= 0) close(null_fd);
  pid_ = pid;
  return WaitReady();
}

absl::Status RedisServer::WaitReady() {
  auto deadline = std::chrono::steady_clock::now() + options_.start_timeout;
  RedisOptions o = options();
  o.pool_size = 1;
  o.connect_timeout = std::chrono::milliseconds(500);
  o.command_timeout = std::chrono::milliseconds(1000);
  while (std::chrono::steady_clock::now() < deadline) {
    int wstatus = 0;
    if (waitpid(pid_, &wstatus, WNOHANG) == pid_) {
      pid_ = 0;
      return absl::InternalError(
          absl::StrCat("redis-server exited at start-up (status ", wstatus,
                       "); log:\n", LogTail()));
    }
    // A fresh client each time: no reconnect backoff to wait out.
    RedisClient client(o);
    if (client.Ping().ok()) return absl::OkStatus();
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  Kill();
  return absl::DeadlineExceededError(
      absl::StrCat("redis-server did not answer PING; log:\n", LogTail()));
}

absl::Status RedisServer::Start() {
  if (running()) return absl::FailedPreconditionError("already running");
  absl::Status last;
  // The free port may be taken between our probe and Redis' bind: retry
  // with another one.
  for (int attempt = 0; attempt < 5; ++attempt) {
    port_ = FreeLoopbackPort();
    if (port_ == 0) return absl::InternalError("no free loopback port");
    last = Launch();
    if (last.ok()) return last;
  }
  return last;
}

absl::Status RedisServer::Restart() {
  if (port_ == 0) return absl::FailedPreconditionError("never started");
  Stop();
  // The port must stay the same; if a client socket of another process
  // happens to hold it for a moment, try again shortly.
  absl::Status last;
  for (int attempt = 0; attempt < 5; ++attempt) {
    if (attempt > 0)
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    last = Launch();
    if (last.ok() || running()) return last;
  }
  return last;
}

bool RedisServer::Reap(std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    int wstatus = 0;
    pid_t r = waitpid(pid_, &wstatus, WNOHANG);
    if (r == pid_ || (r < 0 && errno == ECHILD)) {
      pid_ = 0;
      return true;
    }
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

void RedisServer::Stop() {
  if (!running()) return;
  kill(pid_, SIGTERM);
  if (Reap(std::chrono::milliseconds(10000))) return;
  Kill();
}

void RedisServer::Kill() {
  if (!running()) return;
  kill(pid_, SIGKILL);
  Reap(std::chrono::milliseconds(60000));
  pid_ = 0;
}

absl::StatusOr<RedisReply> RedisServer::Command(const RedisArgs& args) const {
  RedisOptions o = options();
  o.pool_size = 1;
  RedisClient client(o);
  return client.Command(args);
}

std::string RedisServer::LogTail() const {
  std::ifstream in(dir_ + "/redis.log");
  std::stringstream ss;
  ss << in.rdbuf();
  std::string text = ss.str();
  constexpr size_t kTail = 4000;
  return text.size() > kTail ? text.substr(text.size() - kTail) : text;
}

}  // namespace jalon::testing
