#include "tools/jalonctl/interrupt.h"

#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <iostream>
#include <stdexcept>

namespace jalon::ctl {
namespace {

// The write end of the live guard's pipe (one guard at a time).
std::atomic<int> g_wake_fd{-1};
std::atomic<bool> g_signalled{false};

// Async-signal-safe: a byte to the pipe, or _exit on the second signal.
void OnSignal(int) {
  if (g_signalled.exchange(true)) _exit(130);
  const char byte = 's';
  int fd = g_wake_fd.load();
  if (fd < 0 || write(fd, &byte, 1) != 1) _exit(130);
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
  sigaction(SIGINT, &sa, &old_int_);
  sigaction(SIGTERM, &sa, &old_term_);
}

InterruptGuard::~InterruptGuard() {
  sigaction(SIGINT, &old_int_, nullptr);
  sigaction(SIGTERM, &old_term_, nullptr);
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
  _exit(130);
}

}  // namespace jalon::ctl
