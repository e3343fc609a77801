// Polling with a deadline, so tests wait for asynchronous outcomes (a
// subscriber's message, a reconnect, a reclaimed entry) as long as a loaded
// machine needs and no longer than the condition takes. Thread-safe.
#ifndef JALON_TESTS_SUPPORT_WAIT_H_
#define JALON_TESTS_SUPPORT_WAIT_H_

#include <chrono>
#include <thread>

namespace jalon::testing {

// Calls `condition` until it returns true or `timeout` passes; returns its
// last result.
template <typename Condition>
bool WaitFor(
    Condition condition, std::chrono::milliseconds timeout,
    std::chrono::milliseconds interval = std::chrono::milliseconds(10)) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (condition()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return condition();
    std::this_thread::sleep_for(interval);
  }
}

}  // namespace jalon::testing

#endif  // JALON_TESTS_SUPPORT_WAIT_H_
