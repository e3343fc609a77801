// Tests of the Redis client and subscriber against a real redis-server.
#include "services/common/redis.h"

#include <gtest/gtest.h>
#include <hiredis.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/redis_server.h"
#include "tests/support/wait.h"

namespace jalon {
namespace {

using std::chrono::milliseconds;

class RedisTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(server_.Start().ok()); }

  testing::RedisServer server_;
};

// Reconnects wait min_backoff after a failure, twice as long after each
// further one, never more than max_backoff, and start over after a
// success.
TEST(BackoffTest, DoublesUpToTheCapAndStartsOverAfterASuccess) {
  RedisOptions o;
  o.min_backoff = milliseconds(50);
  o.max_backoff = milliseconds(300);
  Backoff b(o);
  const auto t0 = Backoff::Clock::now();
  EXPECT_TRUE(b.Ready(t0));
  std::vector<int64_t> waits;
  auto now = t0;
  for (int i = 0; i < 6; ++i) {
    b.Failed(now);
    waits.push_back(b.delay().count());
    EXPECT_FALSE(b.Ready(now + b.delay() - milliseconds(1)));
    EXPECT_TRUE(b.Ready(now + b.delay()));
    now += b.delay();
  }
  EXPECT_EQ(waits, (std::vector<int64_t>{50, 100, 200, 300, 300, 300}));
  b.Succeeded();
  EXPECT_EQ(b.delay().count(), 0);
  b.Failed(now);
  EXPECT_EQ(b.delay().count(), 50);
  b.RetryNow();  // a connection that worked and broke: try again at once
  EXPECT_TRUE(b.Ready(now));
}

TEST(StatusOfErrorReplyTest, ARedisThatCannotServeForAWhileIsUnavailable) {
  auto status_of = [](std::string text) {
    redisReply r{};
    r.type = REDIS_REPLY_ERROR;
    r.str = text.data();
    r.len = text.size();
    return StatusOfErrorReply(RedisReply::FromHiredis(&r), "test");
  };
  for (const char* transient :
       {"LOADING Redis is loading the dataset in memory",
        "BUSY Redis is busy running a script.",
        "MASTERDOWN Link with MASTER is down",
        "READONLY You can't write against a read only replica.",
        "ERR Error running script (call to f_0): @user_script:1: "
        "@user_script: 1: READONLY You can't write against a read only "
        "replica.",
        "ERR max number of clients reached",
        "MISCONF Redis is configured to save RDB snapshots, but it's "
        "currently unable to persist to disk.",
        "ERR Error running script (call to f_0): @user_script:1: "
        "@user_script: 1: MISCONF Errors writing to the AOF file: No space "
        "left on device"}) {
    absl::Status s = status_of(transient);
    EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable) << transient;
    EXPECT_EQ(s.message(), "storage unavailable, retry later");
  }
  EXPECT_EQ(status_of("WRONGTYPE Operation against a key").code(),
            absl::StatusCode::kInternal);
  EXPECT_EQ(status_of("ERR unknown command 'BUSYNESS'").code(),
            absl::StatusCode::kInternal);
  EXPECT_EQ(status_of("OOM command not allowed").code(),
            absl::StatusCode::kResourceExhausted);
}

TEST_F(RedisTest, CheckedTurnsAnErrorReplyIntoItsStatus) {
  RedisClient redis(server_.options());
  ASSERT_TRUE(redis.Command({"SET", "t:string", "v"}).ok());
  // Plain Command: the error is a reply, which a careless read takes for
  // an empty list.
  auto raw = redis.Command({"ZRANGE", "t:string", "0", "-1"});
  ASSERT_TRUE(raw.ok());
  EXPECT_TRUE(raw->is_error());
  EXPECT_TRUE(raw->elements().empty());
  auto wrong = Checked(redis.Command({"ZRANGE", "t:string", "0", "-1"}), "t");
  EXPECT_EQ(wrong.status().code(), absl::StatusCode::kInternal);
  EXPECT_EQ(wrong.status().message().find("WRONGTYPE"), std::string::npos);
  auto fine = Checked(redis.Command({"GET", "t:string"}), "t");
  ASSERT_TRUE(fine.ok()) << fine.status();
  EXPECT_EQ(fine->str(), "v");
  auto nil = Checked(redis.Command({"GET", "t:missing"}), "t");
  ASSERT_TRUE(nil.ok()) << nil.status();
  EXPECT_TRUE(nil->is_nil());
  // A pipeline fails on its first error reply, wherever it is.
  auto some = Checked(redis.Pipeline({{"GET", "t:string"},
                                      {"ZRANGE", "t:string", "0", "-1"},
                                      {"GET", "t:missing"}}),
                      "t");
  EXPECT_EQ(some.status().code(), absl::StatusCode::kInternal);
  auto all =
      Checked(redis.Pipeline({{"GET", "t:string"}, {"GET", "t:missing"}}), "t");
  ASSERT_TRUE(all.ok()) << all.status();
  EXPECT_EQ(all->size(), 2u);
  // XINFO of a stream not created yet is no failure; of a string, it is.
  auto none = redis.Command({"XINFO", "STREAM", "t:no-stream"});
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(IsNoSuchKeyReply(*none)) << none->str();
  auto typed = redis.Command({"XINFO", "STREAM", "t:string"});
  ASSERT_TRUE(typed.ok());
  EXPECT_TRUE(typed->is_error());
  EXPECT_FALSE(IsNoSuchKeyReply(*typed)) << typed->str();
  // A failed call stays what it was.
  RedisOptions away = server_.options();
  away.port = 1;
  away.connect_timeout = std::chrono::milliseconds(200);
  RedisClient gone(away);
  EXPECT_EQ(Checked(gone.Command({"GET", "t:string"}), "t").status().code(),
            absl::StatusCode::kUnavailable);
}

TEST_F(RedisTest, CommandRepliesOfEveryType) {
  RedisClient redis(server_.options());
  EXPECT_TRUE(redis.Ping().ok());

  auto set = redis.Command({"SET", "t:k", "v"});
  ASSERT_TRUE(set.ok()) << set.status();
  EXPECT_EQ(set->type(), RedisReply::Type::kStatus);
  EXPECT_EQ(set->str(), "OK");

  auto get = redis.Command({"GET", "t:k"});
  ASSERT_TRUE(get.ok());
  EXPECT_EQ(get->type(), RedisReply::Type::kString);
  EXPECT_EQ(get->str(), "v");

  auto missing = redis.Command({"GET", "t:missing"});
  ASSERT_TRUE(missing.ok());
  EXPECT_TRUE(missing->is_nil());

  auto incr = redis.Command({"INCRBY", "t:n", "41"});
  ASSERT_TRUE(incr.ok());
  EXPECT_EQ(incr->type(), RedisReply::Type::kInteger);
  EXPECT_EQ(incr->integer(), 41);

  redis.Command({"RPUSH", "t:list", "a", "b", "c"}).IgnoreError();
  auto list = redis.Command({"LRANGE", "t:list", "0", "-1"});
  ASSERT_TRUE(list.ok());
  ASSERT_TRUE(list->is_array());
  ASSERT_EQ(list->elements().size(), 3u);
  EXPECT_EQ(list->elements()[2].str(), "c");

  // A Redis error is a reply, not a transport failure.
  auto wrong = redis.Command({"LPUSH", "t:k", "x"});
  ASSERT_TRUE(wrong.ok()) << wrong.status();
  EXPECT_TRUE(wrong->is_error());
  EXPECT_EQ(wrong->str().rfind("WRONGTYPE", 0), 0u) << wrong->str();
  // ...and the connection is still good.
  EXPECT_EQ(redis.Command({"GET", "t:k"})->str(), "v");
}

// XINFO answers flat key/value arrays; Field finds a value by its key.
TEST_F(RedisTest, FieldFindsAValueInAFlatReply) {
  RedisClient redis(server_.options());
  auto added = redis.Command({"XADD", "t:s", "*", "k", "v"});
  ASSERT_TRUE(added.ok());
  auto info = redis.Command({"XINFO", "STREAM", "t:s"});
  ASSERT_TRUE(info.ok());
  const RedisReply* length = info->Field("length");
  ASSERT_NE(length, nullptr);
  EXPECT_EQ(length->integer(), 1);
  const RedisReply* last = info->Field("last-generated-id");
  ASSERT_NE(last, nullptr);
  EXPECT_EQ(last->str(), added->str());
  EXPECT_EQ(info->Field("no-such-key"), nullptr);
  // Not a flat array (a missing stream is an error reply): no field.
  auto missing = redis.Command({"XINFO", "STREAM", "t:none"});
  ASSERT_TRUE(missing.ok());
  EXPECT_TRUE(missing->is_error());
  EXPECT_EQ(missing->Field("length"), nullptr);
}

TEST_F(RedisTest, PipelineReturnsOneReplyPerCommandInOrder) {
  RedisClient redis(server_.options());
  auto replies = redis.Pipeline({{"SET", "t:a", "1"},
                                 {"INCR", "t:a"},
                                 {"HSET", "t:a", "f", "v"},
                                 {"GET", "t:a"}});
  ASSERT_TRUE(replies.ok()) << replies.status();
  ASSERT_EQ(replies->size(), 4u);
  EXPECT_EQ((*replies)[0].str(), "OK");
  EXPECT_EQ((*replies)[1].integer(), 2);
  EXPECT_TRUE((*replies)[2].is_error());  // WRONGTYPE, the others still ran
  EXPECT_EQ((*replies)[3].str(), "2");
}

TEST_F(RedisTest, EvalRunsByShaAndReloadsAfterScriptFlush) {
  RedisClient redis(server_.options());
  RedisScript script(
      "redis.call('SET', KEYS[1], ARGV[1]) return redis.call('GET', KEYS[1])");
  EXPECT_EQ(script.sha().size(), 40u);
  auto r = redis.Eval(script, {"t:s"}, {"first"});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->str(), "first");
  auto exists = redis.Command({"SCRIPT", "EXISTS", script.sha()});
  ASSERT_TRUE(exists.ok());
  EXPECT_EQ(exists->elements()[0].integer(), 1);

  ASSERT_TRUE(redis.Command({"SCRIPT", "FLUSH"}).ok());
  r = redis.Eval(script, {"t:s"}, {"second"});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->str(), "second");
}

TEST_F(RedisTest, ArgumentsAreBinarySafe) {
  RedisClient redis(server_.options());
  const std::string key("t:\0key with spaces\r\n", 21);
  const std::string value("a\0b\r\nc\r\n$3\r\nSET\r\n\xff", 19);
  ASSERT_EQ(redis.Command({"SET", key, value})->str(), "OK");
  auto get = redis.Command({"GET", key});
  ASSERT_TRUE(get.ok());
  EXPECT_EQ(get->str(), value);
  // Nothing was split into another command or key.
  EXPECT_EQ(redis.Command({"DBSIZE"})->integer(), 1);
  auto script = redis.Eval(RedisScript("return ARGV[1]"), {}, {value});
  ASSERT_TRUE(script.ok());
  EXPECT_EQ(script->str(), value);
}

// A Redis that accepts connections and never answers (hung, or a
// black hole behind a proxy): each connect ends in the AUTH's timeout, and
// the backoff that follows is counted from there, so calls meanwhile fail
// at once instead of each trying (and waiting out) another connect. Counted
// in connects, not timed: a stall of the test cannot fake the outcome.
TEST(RedisHungTest, BackoffStartsWhenTheFailedConnectEnds) {
  int listener = socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(listener, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(listen(listener, 16), 0);
  socklen_t len = sizeof addr;
  ASSERT_EQ(getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  // Accepts and counts connections, and never answers.
  std::atomic<bool> stop{false};
  std::atomic<int> connects{0};
  std::vector<int> accepted;
  std::thread acceptor([&] {
    while (!stop) {
      pollfd p{listener, POLLIN, 0};
      if (poll(&p, 1, 20) != 1) continue;
      const int fd = accept(listener, nullptr, nullptr);
      if (fd >= 0) {
        accepted.push_back(fd);
        ++connects;
      }
    }
  });
  RedisOptions o;
  o.host = "127.0.0.1";
  o.port = ntohs(addr.sin_port);
  o.password = "secret";
  o.pool_size = 1;
  o.command_timeout = milliseconds(1000);
  o.min_backoff = milliseconds(800);  // shorter than a connect takes here
  o.max_backoff = milliseconds(800);
  RedisClient redis(o);
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(redis.Ping().code(), absl::StatusCode::kUnavailable);
  }
  stop = true;
  acceptor.join();
  for (int fd : accepted) close(fd);
  close(listener);
  // Timed from the attempt's start, the backoff was over when the attempt
  // ended: each of the 4 calls connected. From its end, the calls right
  // after it fail without connecting (a second connect only if the test
  // stalled past the backoff, twice in a row for a third).
  EXPECT_LT(connects.load(), 4);
}

TEST_F(RedisTest, ConcurrentCallsShareThePool) {
  RedisOptions o = server_.options();
  o.pool_size = 2;
  RedisClient redis(o);
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < 6; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 200; ++i) {
        auto r = redis.Command({"INCR", "t:counter"});
        if (!r.ok() || r->is_error()) ++failures;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(redis.Command({"GET", "t:counter"})->str(), "1200");
}

TEST_F(RedisTest, UnavailableWhenRedisIsDownAndReconnectsAfterRestart) {
  RedisClient redis(server_.options());
  ASSERT_EQ(redis.Command({"SET", "t:k", "kept"})->str(), "OK");
  server_.Stop();
  auto down = redis.Command({"GET", "t:k"});
  EXPECT_EQ(down.status().code(), absl::StatusCode::kUnavailable);
  // A generic message: no Redis error text or address reaches a client.
  EXPECT_EQ(down.status().message(), "storage unavailable, retry later");
  EXPECT_FALSE(redis.Ping().ok());

  ASSERT_TRUE(server_.Restart().ok());
  EXPECT_TRUE(testing::WaitFor([&] { return redis.Ping().ok(); },
                               milliseconds(10000), milliseconds(20)));
  auto get = redis.Command({"GET", "t:k"});
  ASSERT_TRUE(get.ok()) << get.status();
  EXPECT_EQ(get->str(), "kept");  // from the AOF
}

// A write larger than the socket buffer to a Redis that went away fails
// with EPIPE; with hiredis' plain write() that is a SIGPIPE, which must not
// kill the process.
TEST_F(RedisTest, LargeWriteToARedisThatWentAwayIsUnavailableNotACrash) {
  RedisOptions o = server_.options();
  o.pool_size = 1;
  RedisClient redis(o);
  ASSERT_TRUE(redis.Ping().ok());  // a connection in the pool
  server_.Kill();
  auto r = redis.Command({"SET", "t:big", std::string(8 << 20, 'x')});
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnavailable);
}

TEST_F(RedisTest, CommandTimeoutIsUnavailableAndTheNextCommandWorks) {
  RedisOptions o = server_.options();
  o.command_timeout = milliseconds(200);
  o.pool_size = 1;
  RedisClient redis(o);
  // (Steps that must succeed are retried: a stalled machine can make any
  // one command miss a 200 ms timeout. The blocking commands below take far
  // longer than the bounds, so a client without a timeout fails them.)
  ASSERT_TRUE(testing::WaitFor([&] { return redis.Ping().ok(); },
                               milliseconds(10000), milliseconds(20)));

  // Blocks only its connection: the next command, on a fresh connection,
  // is answered long before the BLPOP would have returned.
  auto start = std::chrono::steady_clock::now();
  auto blocked = redis.Command({"BLPOP", "t:empty", "30"});
  EXPECT_EQ(blocked.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_LT(std::chrono::steady_clock::now() - start, milliseconds(10000));
  absl::StatusOr<RedisReply> next;
  EXPECT_TRUE(testing::WaitFor(
      [&] {
        return (next = redis.Command({"SET", "t:k", "v"})).ok();
      },
      milliseconds(10000), milliseconds(10)));
  ASSERT_TRUE(next.ok()) << next.status();
  EXPECT_EQ(next->str(), "OK");

  // Blocks the whole server for 5 s: calls time out until it is back.
  start = std::chrono::steady_clock::now();
  auto slept = redis.Command({"DEBUG", "SLEEP", "5"});
  EXPECT_EQ(slept.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_LT(std::chrono::steady_clock::now() - start, milliseconds(4000));
  absl::StatusOr<RedisReply> got;
  EXPECT_TRUE(testing::WaitFor(
      [&] {
        return (got = redis.Command({"GET", "t:k"})).ok();
      },
      milliseconds(20000), milliseconds(50)));
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->str(), "v");
}

class RedisAuthTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(server_.Start().ok()); }

  static testing::RedisServerOptions ServerOptions() {
    testing::RedisServerOptions o;
    o.password = "s3cret \"quoted\" pass";
    return o;
  }

  testing::RedisServer server_{ServerOptions()};
};

TEST_F(RedisAuthTest, RightPasswordAuthenticates) {
  RedisClient redis(server_.options());
  EXPECT_TRUE(redis.Ping().ok());
  EXPECT_EQ(redis.Command({"SET", "t:k", "v"})->str(), "OK");
}

TEST_F(RedisAuthTest, WrongPasswordIsUnavailable) {
  RedisOptions o = server_.options();
  o.password = "wrong";
  RedisClient redis(o);
  auto r = redis.Command({"GET", "t:k"});
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(r.status().message().find("wrong"), std::string::npos);
  EXPECT_FALSE(redis.Ping().ok());
}

TEST_F(RedisAuthTest, NoPasswordIsRefused) {
  RedisOptions o = server_.options();
  o.password.clear();
  RedisClient redis(o);
  EXPECT_FALSE(redis.Ping().ok());
  auto r = redis.Command({"GET", "t:k"});
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->is_error());
  EXPECT_EQ(r->str().rfind("NOAUTH", 0), 0u) << r->str();
}

TEST_F(RedisAuthTest, ReconnectsWithThePasswordAfterRestart) {
  RedisClient redis(server_.options());
  ASSERT_TRUE(redis.Ping().ok());
  server_.Kill();
  EXPECT_FALSE(redis.Ping().ok());
  ASSERT_TRUE(server_.Restart().ok());
  EXPECT_TRUE(testing::WaitFor([&] { return redis.Ping().ok(); },
                               milliseconds(10000), milliseconds(20)));
}

TEST(RedisOptionsTest, ParseUrlAcceptsHostPortAndDatabase) {
  RedisOptions o;
  ASSERT_TRUE(o.ParseUrl("redis://10.1.2.3:6380/3").ok());
  EXPECT_EQ(o.host, "10.1.2.3");
  EXPECT_EQ(o.port, 6380);
  EXPECT_EQ(o.db, 3);
  EXPECT_EQ(o.Describe(), "10.1.2.3:6380/3");

  RedisOptions bare;
  ASSERT_TRUE(bare.ParseUrl("redis.jalon.svc:6379").ok());
  EXPECT_EQ(bare.host, "redis.jalon.svc");
  EXPECT_EQ(bare.port, 6379);
  EXPECT_EQ(bare.db, 0);

  RedisOptions slash;
  ASSERT_TRUE(slash.ParseUrl("redis://localhost:7000/").ok());
  EXPECT_EQ(slash.port, 7000);
  EXPECT_EQ(slash.db, 0);
}

TEST(RedisOptionsTest, ParseUrlRejectsCredentialsAndNonsense) {
  for (const char* url :
       {"redis://:secret@localhost:6379/0", "redis://user:secret@host:6379",
        "secret@host:6379"}) {
    RedisOptions o;
    absl::Status s = o.ParseUrl(url);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << url;
    EXPECT_NE(s.message().find("credentials"), std::string::npos) << url;
    EXPECT_EQ(s.message().find("secret"), std::string::npos) << url;
  }
  for (const char* url :
       {"redis://localhost", "redis://:6379", "redis://host:port",
        "redis://host:0", "redis://host:65536", "redis://host:6379/16",
        "redis://host:6379/x", "redis://host:-1", ""}) {
    RedisOptions o;
    EXPECT_EQ(o.ParseUrl(url).code(), absl::StatusCode::kInvalidArgument)
        << url;
  }
}

TEST_F(RedisTest, SubscriberDeliversAndReportsAReconnect) {
  std::mutex mu;
  std::vector<std::string> got;
  std::atomic<int> reconnects{0};
  RedisSubscriber sub(
      server_.options(), {"t:chan"},
      [&](const std::string&, const std::string& msg) {
        std::lock_guard<std::mutex> lock(mu);
        got.push_back(msg);
      },
      [&] { ++reconnects; });
  sub.Start();
  RedisClient redis(server_.options());
  auto subscribers = [&] {
    auto r = redis.Command({"PUBSUB", "NUMSUB", "t:chan"});
    return r.ok() && r->elements().size() == 2 ? r->elements()[1].integer()
                                               : -1;
  };
  ASSERT_TRUE(
      testing::WaitFor([&] { return subscribers() == 1; }, milliseconds(5000)));
  // Redis counts the subscriber before its thread reads the confirmation.
  EXPECT_TRUE(
      testing::WaitFor([&] { return sub.connected(); }, milliseconds(5000)));
  ASSERT_EQ(redis.Command({"PUBLISH", "t:chan", "one"})->integer(), 1);
  auto received = [&](const std::string& msg) {
    std::lock_guard<std::mutex> lock(mu);
    return std::find(got.begin(), got.end(), msg) != got.end();
  };
  EXPECT_TRUE(
      testing::WaitFor([&] { return received("one"); }, milliseconds(5000)));
  EXPECT_EQ(reconnects.load(), 0);

  server_.Kill();
  // Told at once that messages may have been missed.
  EXPECT_TRUE(testing::WaitFor([&] { return reconnects.load() >= 1; },
                               milliseconds(5000)));
  EXPECT_TRUE(
      testing::WaitFor([&] { return !sub.connected(); }, milliseconds(5000)));
  ASSERT_TRUE(server_.Restart().ok());
  ASSERT_TRUE(testing::WaitFor([&] { return subscribers() == 1; },
                               milliseconds(10000)));
  EXPECT_TRUE(
      testing::WaitFor([&] { return sub.connected(); }, milliseconds(5000)));
  ASSERT_EQ(redis.Command({"PUBLISH", "t:chan", "two"})->integer(), 1);
  EXPECT_TRUE(
      testing::WaitFor([&] { return received("two"); }, milliseconds(5000)));
  sub.Stop();
}

}  // namespace
}  // namespace jalon
