// Process-wide settings of the service binaries (jalon::TuneForServing).
#include "services/common/server.h"

#include <gtest/gtest.h>

#include <cstdlib>

#include "absl/synchronization/mutex.h"

namespace jalon {
namespace {

// Takes two mutexes in one order, then in the other: a lock-order
// inversion, which Abseil's deadlock detection reports.
void InvertLockOrder() {
  absl::Mutex a;
  absl::Mutex b;
  {
    absl::MutexLock la(&a);
    absl::MutexLock lb(&b);
  }
  {
    absl::MutexLock lb(&b);
    absl::MutexLock la(&a);
  }
}

class TuneForServingTest : public testing::Test {
 protected:
  void SetUp() override { GTEST_FLAG_SET(death_test_style, "threadsafe"); }
};

// The control: without TuneForServing, this Abseil checks lock order (that
// is what costs), and an inversion aborts once told to.
TEST_F(TuneForServingTest, AbseilChecksLockOrderByDefault) {
  EXPECT_DEATH(
      {
        absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kAbort);
        InvertLockOrder();
        std::exit(0);
      },
      "deadlock");
}

TEST_F(TuneForServingTest, TurnsLockOrderChecksOff) {
  EXPECT_EXIT(
      {
        absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kAbort);
        TuneForServing();
        InvertLockOrder();
        std::exit(0);
      },
      testing::ExitedWithCode(0), "");
}

}  // namespace
}  // namespace jalon
