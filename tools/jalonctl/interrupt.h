// Clean-up on Ctrl-C for the commands that leave something behind if they
// die half-way (the import's short-lived tokens and reopened consultation
// windows). While an InterruptGuard lives, the first SIGINT, SIGTERM,
// SIGHUP (the terminal went away) or SIGPIPE (stdout's reader did) runs its
// clean-up on a thread of its own (the command's thread may be inside an
// RPC) and then exits with 128 + the signal (130 for Ctrl-C); a second one
// (SIGPIPE aside) exits at once.
#ifndef JALON_TOOLS_JALONCTL_INTERRUPT_H_
#define JALON_TOOLS_JALONCTL_INTERRUPT_H_

#include <signal.h>

#include <functional>
#include <thread>

namespace jalon::ctl {

class InterruptGuard {
 public:
  // `cleanup` must be safe to run while the command goes on, and must
  // leave the command unable to undo it (e.g. failing its later calls).
  explicit InterruptGuard(std::function<void()> cleanup);
  // Restores the previous handlers. Not during a clean-up: that one exits.
  ~InterruptGuard();
  InterruptGuard(const InterruptGuard&) = delete;
  InterruptGuard& operator=(const InterruptGuard&) = delete;

 private:
  void Watch();

  std::function<void()> cleanup_;
  int pipe_[2] = {-1, -1};
  struct sigaction old_[4]{};  // of SIGINT, SIGTERM, SIGHUP, SIGPIPE
  std::thread watcher_;
};

}  // namespace jalon::ctl

#endif  // JALON_TOOLS_JALONCTL_INTERRUPT_H_
