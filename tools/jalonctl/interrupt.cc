#include "tools/jalonctl/interrupt.h"

#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <iostream>
#include <iterator>
#include <stdexcept>

namespace jalon::ctl {
namespace {

// The write end of the live guard's pipe (one guard at a time).
std::atomic<int> g_wake_fd{-1};
std::atomic<bool> g_signalled{false};
std::atomic<int> g_signal{0};  // the first one, for the exit code

// The signals that stop a guarded command: Ctrl-C, kill, the terminal
// going away (ssh dropped), and stdout's reader going away (`| head`).
constexpr int kSignals[] = {SIGINT, SIGTERM, SIGHUP, SIGPIPE};

// Async-signal-safe: a byte to the pipe, or _exit on the second signal.
void OnSignal(int sig) {
  if (g_signalled.exchange(true)) {
    // The clean-up's own messages may hit the closed pipe again: only a
    // signal someone sent cuts the clean-up short.
    if (sig == SIGPIPE) return;
    _exit(128 + sig);
  }
  g_signal = sig;
  const char byte = 's';
  int fd = g_wake_fd.load();
  if (fd < 0 || write(fd, &byte, 1) != 1) _exit(128 + sig);
}

}  // namespace

InterruptGuard::InterruptGuard(std::function<void()> cleanup)
    : cleanup_(std::move(cleanup)) {
  if (pipe(pipe_) != 0) throw std::runtime_error("pipe failed");
  g_signalled = false;
  g_wake_fd = pipe_[1];
  watcher_ = std::thread([this] { Watch(); });
  struct sigaction sa {};
  sa.sa_handler = OnSignal;
  sigemptyset(&sa.sa_mask);
  static_assert(std::size(kSignals) == sizeof(old_) / sizeof(old_[0]),
                "one saved handler per signal");
  for (size_t i = 0; i < std::size(kSignals); ++i) {
    sigaction(kSignals[i], &sa, &old_[i]);
  }
}

InterruptGuard::~InterruptGuard() {
  for (size_t i = 0; i < std::size(kSignals); ++i) {
    sigaction(kSignals[i], &old_[i], nullptr);
  }
  if (!g_signalled.exchange(true)) {
    const char byte = 'q';
    while (write(pipe_[1], &byte, 1) < 0 && errno == EINTR) {
    }
    watcher_.join();
  } else {
    // A signal came: its clean-up runs and exits the process.
    watcher_.detach();
    for (;;) pause();
  }
  g_wake_fd = -1;
  close(pipe_[0]);
  close(pipe_[1]);
}

void InterruptGuard::Watch() {
  char byte = 0;
  while (read(pipe_[0], &byte, 1) < 0 && errno == EINTR) {
  }
  if (byte != 's') return;
  std::cerr << "\ninterrupted: undoing what must not outlive the command "
               "(Ctrl-C again to quit at once)\n";
  try {
    cleanup_();
  } catch (const std::exception& e) {
    std::cerr << "warning: " << e.what() << "\n";
  }
  std::cerr.flush();
  _exit(128 + g_signal.load());
}

}  // namespace jalon::ctl
