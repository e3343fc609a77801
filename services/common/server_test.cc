// Process-wide settings of the service binaries (jalon::TuneForServing).
#include "services/common/server.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

#include "absl/synchronization/mutex.h"
#include "services/common/redis.h"
#include "services/common/service_config.h"
#include "tests/support/free_port.h"

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

class TuneForServingTest : public ::testing::Test {
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
      ::testing::ExitedWithCode(0), "");
}

// gRPC sets SO_REUSEPORT unless told not to: a second server on a port in
// use started too, and answered half of the calls.
TEST(ServerHostTest, APortInUseIsAnError) {
  testing::RefusingLoopbackPort nothing;  // Redis: never ready, no matter
  RedisOptions ro;
  ro.port = nothing.port();
  RedisClient redis(ro);
  ServiceConfig config;
  config.listen = "127.0.0.1:0";
  ServerHost first(config, "jalon.test.v1.Test", &redis);
  ASSERT_TRUE(first.Start().ok());
  config.listen = "127.0.0.1:" + std::to_string(first.port());
  ServerHost second(config, "jalon.test.v1.Test", &redis);
  const absl::Status s = second.Start();
  EXPECT_TRUE(absl::IsUnavailable(s)) << s;
}

}  // namespace
}  // namespace jalon
