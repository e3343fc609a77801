// The wall clock as an interface, so tests can set "today" (lateness, due
// dates) and time can be injected like leveldb's Env. Thread-safe.
#ifndef JALON_SERVICES_COMMON_CLOCK_H_
#define JALON_SERVICES_COMMON_CLOCK_H_

#include <atomic>
#include <chrono>

namespace jalon {

class Clock {
 public:
  virtual ~Clock() = default;
  virtual std::chrono::system_clock::time_point Now() const = 0;
  // The process's real clock.
  static const Clock* Real();
};

// A clock tests move by hand.
class FakeClock : public Clock {
 public:
  explicit FakeClock(std::chrono::system_clock::time_point t) : now_(t) {}
  std::chrono::system_clock::time_point Now() const override { return now_; }
  void Set(std::chrono::system_clock::time_point t) { now_ = t; }

 private:
  std::atomic<std::chrono::system_clock::time_point> now_;
};

}  // namespace jalon

#endif  // JALON_SERVICES_COMMON_CLOCK_H_
