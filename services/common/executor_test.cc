// Tests of the bounded worker pool.
#include "services/common/executor.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <set>
#include <stdexcept>
#include <thread>

#include "tests/support/wait.h"

namespace jalon {
namespace {

using std::chrono::milliseconds;

// A gate tasks wait on until the test opens it.
class Gate {
 public:
  void Wait() {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return open_; });
  }
  void Open() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      open_ = true;
    }
    cv_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool open_ = false;
};

TEST(ExecutorTest, RunsEveryTaskOnItsWorkers) {
  Executor executor(4, 1000);
  std::atomic<int> ran{0};
  std::mutex mu;
  std::set<std::thread::id> threads;
  for (int i = 0; i < 500; ++i) {
    ASSERT_TRUE(executor.Submit([&] {
      ++ran;
      std::lock_guard<std::mutex> lock(mu);
      threads.insert(std::this_thread::get_id());
    }));
  }
  EXPECT_TRUE(
      testing::WaitFor([&] { return ran.load() == 500; }, milliseconds(10000)));
  executor.Shutdown();
  EXPECT_EQ(ran.load(), 500);
  EXPECT_EQ(threads.count(std::this_thread::get_id()), 0u);
  EXPECT_LE(threads.size(), 4u);
}

// A task that throws (a bug) used to end the process (the exception left
// the worker's thread); the worker now logs it and runs what comes next.
TEST(ExecutorTest, ATaskThatThrowsDoesNotStopItsWorker) {
  Executor executor(1, 100);
  std::atomic<int> ran{0};
  ASSERT_TRUE(executor.Submit([] { throw std::runtime_error("a bug"); }));
  ASSERT_TRUE(executor.Submit([&] { ++ran; }));
  executor.Shutdown();
  EXPECT_EQ(ran.load(), 1);
}

TEST(ExecutorTest, FullQueueRejectsAndDoesNotRunTheTask) {
  Executor executor(1, 2);
  Gate gate;
  std::atomic<bool> started{false};
  std::atomic<int> ran{0};
  ASSERT_TRUE(executor.Submit([&] {
    started = true;
    gate.Wait();
    ++ran;
  }));
  // The worker holds the first task; the queue holds the next two.
  ASSERT_TRUE(
      testing::WaitFor([&] { return started.load(); }, milliseconds(10000)));
  EXPECT_TRUE(executor.Submit([&] { ++ran; }));
  EXPECT_TRUE(executor.Submit([&] { ++ran; }));
  bool rejected_ran = false;
  EXPECT_FALSE(executor.Submit([&] { rejected_ran = true; }));
  gate.Open();
  executor.Shutdown();
  EXPECT_EQ(ran.load(), 3);
  EXPECT_FALSE(rejected_ran);
}

TEST(ExecutorTest, ShutdownDrainsTheQueueThenRefusesNewTasks) {
  Executor executor(2, 100);
  Gate gate;
  std::atomic<int> ran{0};
  for (int i = 0; i < 50; ++i) {
    ASSERT_TRUE(executor.Submit([&] {
      gate.Wait();
      std::this_thread::sleep_for(milliseconds(1));
      ++ran;
    }));
  }
  std::thread opener([&] {
    std::this_thread::sleep_for(milliseconds(50));
    gate.Open();
  });
  executor.Shutdown();  // returns only when all 50 ran
  EXPECT_EQ(ran.load(), 50);
  EXPECT_FALSE(executor.Submit([&] { ++ran; }));
  executor.Shutdown();  // idempotent
  opener.join();
  EXPECT_EQ(ran.load(), 50);
}

TEST(ExecutorTest, DestructorDrains) {
  std::atomic<int> ran{0};
  {
    Executor executor(1, 100);
    for (int i = 0; i < 20; ++i) {
      ASSERT_TRUE(executor.Submit([&] { ++ran; }));
    }
  }
  EXPECT_EQ(ran.load(), 20);
}

TEST(ExecutorTest, ZeroThreadsStillRuns) {
  Executor executor(0, 10);
  std::atomic<bool> ran{false};
  ASSERT_TRUE(executor.Submit([&] { ran = true; }));
  executor.Shutdown();
  EXPECT_TRUE(ran.load());
}

}  // namespace
}  // namespace jalon
