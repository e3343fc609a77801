#include "services/common/executor.h"

#include <spdlog/spdlog.h>

#include <exception>
#include <utility>

#include "services/common/logging.h"

namespace jalon {

Executor::Executor(size_t threads, size_t max_queue) : max_queue_(max_queue) {
  if (threads == 0) threads = 1;
  workers_.reserve(threads);
  for (size_t i = 0; i < threads; ++i)
    workers_.emplace_back([this] { Work(); });
}

Executor::~Executor() { Shutdown(); }

bool Executor::Submit(std::function<void()> task) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_ || queue_.size() >= max_queue_) return false;
    queue_.push_back(std::move(task));
  }
  cv_.notify_one();
  return true;
}

void Executor::Shutdown() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_ && workers_.empty()) return;
    stopping_ = true;
  }
  cv_.notify_all();
  for (auto& w : workers_) {
    if (w.joinable()) w.join();
  }
  workers_.clear();
}

void Executor::Work() {
  for (;;) {
    std::function<void()> task;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping and drained
      task = std::move(queue_.front());
      queue_.pop_front();
    }
    // A task that throws (a bug) is logged; the worker goes on with the next.
    try {
      task();
    } catch (const std::exception& ex) {
      spdlog::error("msg=executor_task_exception error={}",
                    LogValue(ex.what()));
    }
  }
}

}  // namespace jalon
