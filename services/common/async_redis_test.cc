// Tests of the non-blocking Redis client against a real redis-server.
#include "services/common/async_redis.h"

#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <functional>
#include <future>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/redis_server.h"
#include "tests/support/wait.h"

namespace jalon {
namespace {

using std::chrono::milliseconds;

class AsyncRedisTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(server_.Start().ok()); }

  testing::RedisServer server_;
};

TEST_F(AsyncRedisTest, RepliesOfEveryTypeAndBinarySafeArguments) {
  AsyncRedis redis(server_.options(), 2);
  const std::string binary("a\0b\r\n$3\r\n", 10);
  auto set = redis.CommandSync({"SET", binary, binary});
  ASSERT_TRUE(set.ok()) << set.status();
  EXPECT_EQ(set->type(), RedisReply::Type::kStatus);
  auto get = redis.CommandSync({"GET", binary});
  ASSERT_TRUE(get.ok());
  EXPECT_EQ(get->str(), binary);
  EXPECT_TRUE(redis.CommandSync({"GET", "t:missing"})->is_nil());
  EXPECT_EQ(redis.CommandSync({"INCRBY", "t:n", "41"})->integer(), 41);
  redis.CommandSync({"RPUSH", "t:l", "a", "", "c"}).IgnoreError();
  auto list = redis.CommandSync({"LRANGE", "t:l", "0", "-1"});
  ASSERT_TRUE(list.ok() && list->is_array());
  ASSERT_EQ(list->elements().size(), 3u);
  EXPECT_EQ(list->elements()[1].str(), "");
  // A Redis error is a reply, not a transport failure.
  auto wrong = redis.CommandSync({"LPUSH", binary, "x"});
  ASSERT_TRUE(wrong.ok()) << wrong.status();
  EXPECT_TRUE(wrong->is_error());
  EXPECT_EQ(wrong->str().rfind("WRONGTYPE", 0), 0u);
}

TEST_F(AsyncRedisTest, ManyConcurrentCommandsEachGetTheirOwnReply) {
  AsyncRedis redis(server_.options(), 2);
  constexpr int kThreads = 8, kPerThread = 2000;
  std::atomic<int> answered{0}, wrong{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        std::string v = std::to_string(t * kPerThread + i);
        // ECHO answers with its argument: a reply given to the wrong
        // callback would show.
        redis.Command({"ECHO", v}, [&, v](absl::StatusOr<RedisReply> r) {
          if (!r.ok() || r->str() != v) wrong.fetch_add(1);
          answered.fetch_add(1);
        });
      }
    });
  }
  for (auto& t : threads) t.join();
  ASSERT_TRUE(
      testing::WaitFor([&] { return answered.load() == kThreads * kPerThread; },
                       milliseconds(20000), milliseconds(5)));
  EXPECT_EQ(wrong.load(), 0);
}

TEST_F(AsyncRedisTest, CallbacksMayChainCommands) {
  AsyncRedis redis(server_.options(), 1);
  std::mutex mu;
  std::condition_variable cv;
  std::string result;
  redis.Command({"SET", "t:chain", "1"}, [&](absl::StatusOr<RedisReply>) {
    // Queued from the loop's own thread: it must not wait for a wake-up.
    redis.Command({"INCR", "t:chain"}, [&](absl::StatusOr<RedisReply>) {
      redis.Command({"GET", "t:chain"}, [&](absl::StatusOr<RedisReply> r) {
        std::lock_guard<std::mutex> lock(mu);
        result = r.ok() ? r->str() : "error";
        cv.notify_one();
      });
    });
  });
  std::unique_lock<std::mutex> lock(mu);
  ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(5),
                          [&] { return !result.empty(); }));
  EXPECT_EQ(result, "2");
}

// Each loop has its own connection, so CLIENT ID tells which loop ran a
// command.
TEST_F(AsyncRedisTest, AChainStaysOnItsLoop) {
  AsyncRedis redis(server_.options(), 4);
  std::mutex mu;
  std::condition_variable cv;
  std::vector<int64_t> ids;
  std::function<void(absl::StatusOr<RedisReply>)> step =
      [&](absl::StatusOr<RedisReply> r) {
        bool more;
        {
          std::lock_guard<std::mutex> lock(mu);
          ids.push_back(r.ok() && !r->is_error() ? r->integer() : -1);
          more = ids.size() < 8;
        }
        cv.notify_one();
        if (more) {
          redis.Command({"CLIENT", "ID"}, [&](absl::StatusOr<RedisReply> r) {
            step(std::move(r));
          });
        }
      };
  // Started from this thread: round robin. Make the other loops' connections
  // first, so a chain that wandered would see other ids.
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(redis.CommandSync({"PING"}).ok());
  redis.Command({"CLIENT", "ID"},
                [&](absl::StatusOr<RedisReply> r) { step(std::move(r)); });
  std::unique_lock<std::mutex> lock(mu);
  ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(5),
                          [&] { return ids.size() == 8; }));
  for (int64_t id : ids) EXPECT_EQ(id, ids[0]);
  EXPECT_GT(ids[0], 0);
}

TEST_F(AsyncRedisTest, BlockingCallFromACallbackIsRefusedNotADeadlock) {
  AsyncRedis redis(server_.options(), 1);
  std::atomic<int> code{-1};
  redis.Command({"PING"}, [&](absl::StatusOr<RedisReply>) {
    code = static_cast<int>(redis.CommandSync({"PING"}).status().code());
  });
  ASSERT_TRUE(testing::WaitFor([&] { return code.load() >= 0; },
                               milliseconds(5000), milliseconds(5)));
  EXPECT_EQ(code.load(), static_cast<int>(absl::StatusCode::kInternal));
}

TEST_F(AsyncRedisTest, EvalBySHAFallsBackToEvalAfterScriptFlush) {
  AsyncRedis redis(server_.options(), 1);
  RedisScript script("return {KEYS[1], ARGV[1], #ARGV}");
  auto first = redis.EvalSync(script, {"t:key"}, {"x\r\ny", "2"});
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_FALSE(first->is_error()) << first->str();
  ASSERT_EQ(first->elements().size(), 3u);
  EXPECT_EQ(first->elements()[0].str(), "t:key");
  EXPECT_EQ(first->elements()[1].str(), "x\r\ny");
  EXPECT_EQ(first->elements()[2].integer(), 2);
  ASSERT_TRUE(redis.CommandSync({"SCRIPT", "FLUSH"}).ok());
  auto again = redis.EvalSync(script, {"t:key"}, {"z"});
  ASSERT_TRUE(again.ok()) << again.status();
  ASSERT_FALSE(again->is_error()) << again->str();
  EXPECT_EQ(again->elements()[1].str(), "z");
  // EVAL cached it: EVALSHA works again.
  auto exists = redis.CommandSync({"SCRIPT", "EXISTS", script.sha()});
  ASSERT_TRUE(exists.ok());
  EXPECT_EQ(exists->elements()[0].integer(), 1);
}

TEST_F(AsyncRedisTest, UnavailableWhileRedisIsDownAndReconnectsAfterRestart) {
  RedisOptions o = server_.options();
  o.command_timeout = milliseconds(500);
  AsyncRedis redis(o, 2);
  ASSERT_TRUE(redis.CommandSync({"SET", "t:k", "v"}).ok());
  server_.Kill();
  // Both loops notice: every command fails, none hangs.
  for (int i = 0; i < 4; ++i) {
    auto r = redis.CommandSync({"GET", "t:k"});
    EXPECT_EQ(r.status().code(), absl::StatusCode::kUnavailable);
    EXPECT_EQ(r.status().message(), "storage unavailable, retry later");
  }
  ASSERT_TRUE(server_.Restart().ok());
  EXPECT_TRUE(testing::WaitFor(
      [&] {
        auto a = redis.CommandSync({"GET", "t:k"});
        auto b = redis.CommandSync({"GET", "t:k"});
        return a.ok() && b.ok();
      },
      milliseconds(10000), milliseconds(20)));
}

TEST_F(AsyncRedisTest, TimeoutFailsEveryCommandOnTheConnectionThenRecovers) {
  RedisOptions o = server_.options();
  o.command_timeout = milliseconds(200);
  AsyncRedis redis(o, 1);
  ASSERT_TRUE(redis.CommandSync({"SET", "t:k", "v"}).ok());
  // A blocking command holds the connection: it and the command pipelined
  // behind it time out; the connection is replaced.
  std::atomic<int> failed{0};
  auto start = std::chrono::steady_clock::now();
  redis.Command({"BLPOP", "t:empty", "2"}, [&](absl::StatusOr<RedisReply> r) {
    if (r.status().code() == absl::StatusCode::kUnavailable) ++failed;
  });
  auto behind = redis.CommandSync({"GET", "t:k"});
  EXPECT_EQ(behind.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_LT(std::chrono::steady_clock::now() - start, milliseconds(1500));
  EXPECT_TRUE(testing::WaitFor([&] { return failed.load() == 1; },
                               milliseconds(2000), milliseconds(5)));
  // A retry only covers a reconnect slower than the 200 ms timeout on a
  // busy machine.
  absl::StatusOr<RedisReply> next;
  EXPECT_TRUE(testing::WaitFor(
      [&] {
        return (next = redis.CommandSync({"GET", "t:k"})).ok();
      },
      milliseconds(1000), milliseconds(10)));
  ASSERT_TRUE(next.ok()) << next.status();
  EXPECT_EQ(next->str(), "v");
}

TEST_F(AsyncRedisTest, ACommandWhoseTimeRanOutInTheQueueFailsUnsent) {
  RedisOptions o = server_.options();
  o.command_timeout = milliseconds(200);
  AsyncRedis redis(o, 1);
  ASSERT_TRUE(redis.CommandSync({"PING"}).ok());
  // The loop is held in a callback well past the timeout (a test thread
  // slow to queue the INCR still queues it in time), the INCR waiting.
  std::promise<void> held;
  redis.Command({"PING"}, [&](absl::StatusOr<RedisReply>) {
    held.set_value();
    std::this_thread::sleep_for(milliseconds(1500));
  });
  held.get_future().wait();
  std::atomic<int> code{-1};
  redis.Command({"INCR", "t:n"}, [&](absl::StatusOr<RedisReply> r) {
    code = static_cast<int>(r.status().code());
  });
  ASSERT_TRUE(testing::WaitFor([&] { return code.load() != -1; },
                               milliseconds(3000), milliseconds(5)));
  EXPECT_EQ(code.load(), static_cast<int>(absl::StatusCode::kUnavailable));
  // Failed means not applied: it was never sent.
  auto n = redis.CommandSync({"GET", "t:n"});
  ASSERT_TRUE(n.ok()) << n.status();
  EXPECT_TRUE(n->is_nil()) << n->str();
}

TEST_F(AsyncRedisTest, StoppingFailsWhatIsPendingAndLaterCommands) {
  auto redis = std::make_unique<AsyncRedis>(server_.options(), 1);
  std::atomic<int> unavailable{0}, answered{0};
  redis->Command({"BLPOP", "t:empty", "5"}, [&](absl::StatusOr<RedisReply> r) {
    if (r.status().code() == absl::StatusCode::kUnavailable) ++unavailable;
    ++answered;
  });
  std::this_thread::sleep_for(milliseconds(50));
  redis.reset();  // must not wait for the BLPOP
  EXPECT_EQ(answered.load(), 1);
  EXPECT_EQ(unavailable.load(), 1);
}

TEST_F(AsyncRedisTest, PastMaxPendingACommandFailsAtOnceAsOverloaded) {
  AsyncRedis redis(server_.options(), 1, /*max_pending=*/2);
  std::atomic<int> done{0};
  // Two commands hold the only slots (the BLPOP blocks the connection).
  redis.Command({"BLPOP", "t:empty", "1"},
                [&](absl::StatusOr<RedisReply>) { ++done; });
  redis.Command({"PING"}, [&](absl::StatusOr<RedisReply>) { ++done; });
  auto start = std::chrono::steady_clock::now();
  auto third = redis.CommandSync({"PING"});
  EXPECT_EQ(third.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(third.status().message(), "server overloaded, retry later");
  EXPECT_LT(std::chrono::steady_clock::now() - start, milliseconds(500));
  // Once they are answered, the slots are free again.
  ASSERT_TRUE(testing::WaitFor([&] { return done.load() == 2; },
                               milliseconds(5000), milliseconds(5)));
  EXPECT_TRUE(redis.CommandSync({"PING"}).ok());
}

TEST_F(AsyncRedisTest, ACallbackThatThrowsDoesNotStopTheLoop) {
  AsyncRedis redis(server_.options(), 1);
  redis.Command({"PING"}, [](absl::StatusOr<RedisReply>) {
    throw std::runtime_error("a bug in a callback");
  });
  auto next = redis.CommandSync({"PING"});
  ASSERT_TRUE(next.ok()) << next.status();
  EXPECT_EQ(next->str(), "PONG");
}

class AsyncRedisAuthTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(server_.Start().ok()); }
  static testing::RedisServerOptions ServerOptions() {
    testing::RedisServerOptions o;
    o.password = "an \"async\" pass";
    return o;
  }
  testing::RedisServer server_{ServerOptions()};
};

TEST_F(AsyncRedisAuthTest, AuthenticatesAndAWrongPasswordIsUnavailable) {
  AsyncRedis good(server_.options(), 1);
  EXPECT_EQ(good.CommandSync({"SET", "t:k", "v"})->str(), "OK");
  RedisOptions o = server_.options();
  o.password = "wrong";
  AsyncRedis bad(o, 1);
  auto r = bad.CommandSync({"GET", "t:k"});
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(r.status().message().find("wrong"), std::string::npos);
}

}  // namespace
}  // namespace jalon
