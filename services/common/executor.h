// A fixed pool of worker threads with a bounded queue. RPC handlers run their
// blocking work (Redis calls) here so gRPC's callback reaction threads never
// block. Thread-safe.
#ifndef JALON_SERVICES_COMMON_EXECUTOR_H_
#define JALON_SERVICES_COMMON_EXECUTOR_H_

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace jalon {

class Executor {
 public:
  Executor(size_t threads, size_t max_queue);
  ~Executor();
  Executor(const Executor&) = delete;
  Executor& operator=(const Executor&) = delete;

  // Queues `task`; false (and the task is not run) when the queue is full or
  // the executor is shutting down: the caller answers UNAVAILABLE.
  bool Submit(std::function<void()> task);
  // Runs what is queued, then joins the workers. Idempotent.
  void Shutdown();

 private:
  void Work();

  const size_t max_queue_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> queue_;
  bool stopping_ = false;
  std::vector<std::thread> workers_;
};

}  // namespace jalon

#endif  // JALON_SERVICES_COMMON_EXECUTOR_H_
