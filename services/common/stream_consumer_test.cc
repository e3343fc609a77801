// Tests of at-least-once delivery through a consumer group, against a real
// redis-server.
#include "services/common/stream_consumer.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "tests/support/redis_server.h"
#include "tests/support/wait.h"

namespace jalon {
namespace {

using std::chrono::milliseconds;

constexpr char kStream[] = "t:events";
constexpr char kGroup[] = "reporting";

class StreamConsumerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(server_.Start().ok());
    redis_ = std::make_unique<RedisClient>(server_.options());
  }

  RedisReply Cmd(const RedisArgs& args) {
    auto r = redis_->Command(args);
    EXPECT_TRUE(r.ok()) << r.status();
    EXPECT_FALSE(r.ok() && r->is_error()) << r->str();
    return r.ok() ? *r : RedisReply();
  }

  // Appends events "event-0".."event-(n-1)"; returns their ids.
  std::vector<std::string> Append(int n, const std::string& prefix = "event-") {
    std::vector<std::string> ids;
    for (int i = 0; i < n; ++i) {
      ids.push_back(
          Cmd({"XADD", kStream, "*", "e", absl::StrCat(prefix, i)}).str());
    }
    return ids;
  }

  // How many entries of the group are delivered and not acknowledged.
  int64_t Pending() {
    RedisReply r = Cmd({"XPENDING", kStream, kGroup});
    return r.elements().empty() ? -1 : r.elements()[0].integer();
  }

  ConsumerOptions Options(const std::string& consumer) {
    ConsumerOptions o;
    o.stream = kStream;
    o.group = kGroup;
    o.consumer = consumer;
    o.block = milliseconds(50);
    return o;
  }

  testing::RedisServer server_;
  std::unique_ptr<RedisClient> redis_;
};

TEST(StreamIdLessTest, OrdersAsRedisDoesNotAsText) {
  EXPECT_TRUE(StreamIdLess("9-5", "10-0"));
  EXPECT_TRUE(StreamIdLess("10-2", "10-10"));
  EXPECT_FALSE(StreamIdLess("10-0", "10-0"));
  EXPECT_TRUE(StreamIdLess("0-0", "1700000000000-0"));
}

TEST_F(StreamConsumerTest, EnsureGroupIsIdempotent) {
  StreamConsumer consumer(redis_.get(), Options("c1"),
                          [](const StreamEntry&) { return absl::OkStatus(); });
  ASSERT_TRUE(consumer.EnsureGroup().ok());
  Append(2);
  ASSERT_TRUE(consumer.EnsureGroup().ok());
  RedisReply groups = Cmd({"XINFO", "GROUPS", kStream});
  ASSERT_EQ(groups.elements().size(), 1u);
  // The second call did not move the group: both entries are still new.
  auto applied = consumer.PollOnce();
  ASSERT_TRUE(applied.ok()) << applied.status();
  EXPECT_EQ(*applied, 2);
}

TEST_F(StreamConsumerTest, GroupCreatedOnAnExistingStreamReadsFromTheStart) {
  Append(3);
  std::vector<std::string> seen;
  StreamConsumer consumer(redis_.get(), Options("c1"),
                          [&](const StreamEntry& e) {
                            seen.push_back(e.payload);
                            return absl::OkStatus();
                          });
  ASSERT_TRUE(consumer.EnsureGroup().ok());
  ASSERT_EQ(consumer.PollOnce().value_or(-1), 3);
  EXPECT_EQ(seen, (std::vector<std::string>{"event-0", "event-1", "event-2"}));
}

TEST_F(StreamConsumerTest, PollOnceAppliesInOrderAndAcknowledges) {
  std::vector<StreamEntry> seen;
  StreamConsumer consumer(redis_.get(), Options("c1"),
                          [&](const StreamEntry& e) {
                            seen.push_back(e);
                            return absl::OkStatus();
                          });
  ASSERT_TRUE(consumer.EnsureGroup().ok());
  std::vector<std::string> ids = Append(5);
  auto applied = consumer.PollOnce();
  ASSERT_TRUE(applied.ok()) << applied.status();
  EXPECT_EQ(*applied, 5);
  ASSERT_EQ(seen.size(), 5u);
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(seen[i].id, ids[i]);
    EXPECT_EQ(seen[i].payload, absl::StrCat("event-", i));
    EXPECT_EQ(seen[i].deliveries, 1);
  }
  EXPECT_EQ(Pending(), 0);
  // Nothing new: the next poll waits `block` and applies nothing.
  EXPECT_EQ(consumer.PollOnce().value_or(-1), 0);
  EXPECT_EQ(seen.size(), 5u);
}

TEST_F(StreamConsumerTest, HandlerFailureLeavesTheEntryPending) {
  StreamConsumer consumer(
      redis_.get(), Options("c1"), [](const StreamEntry& e) {
        return e.payload == "event-1" ? absl::InternalError("boom")
                                      : absl::OkStatus();
      });
  ASSERT_TRUE(consumer.EnsureGroup().ok());
  std::vector<std::string> ids = Append(3);
  EXPECT_EQ(consumer.PollOnce().value_or(-1), 2);
  EXPECT_EQ(Pending(), 1);
  RedisReply detail = Cmd({"XPENDING", kStream, kGroup, "-", "+", "10"});
  ASSERT_EQ(detail.elements().size(), 1u);
  EXPECT_EQ(detail.elements()[0].elements()[0].str(), ids[1]);
}

TEST_F(StreamConsumerTest, EntriesOfADeadConsumerAreReclaimed) {
  std::map<std::string, int64_t> deliveries;
  ConsumerOptions o = Options("survivor");
  o.claim_min_idle = milliseconds(50);
  StreamConsumer survivor(redis_.get(), o, [&](const StreamEntry& e) {
    deliveries[e.id] = e.deliveries;
    return absl::OkStatus();
  });
  ASSERT_TRUE(survivor.EnsureGroup().ok());
  std::vector<std::string> ids = Append(4);
  // Another consumer reads everything, then dies without acknowledging.
  RedisReply read = Cmd({"XREADGROUP", "GROUP", kGroup, "dead", "COUNT", "10",
                         "STREAMS", kStream, ">"});
  ASSERT_EQ(read.elements()[0].elements()[1].elements().size(), 4u);
  ASSERT_EQ(Pending(), 4);

  EXPECT_TRUE(testing::WaitFor(
      [&] {
        auto n = survivor.PollOnce();
        EXPECT_TRUE(n.ok()) << n.status();
        return deliveries.size() == 4;
      },
      milliseconds(10000)));
  for (const auto& id : ids) {
    EXPECT_EQ(deliveries[id], 2) << id;  // the dead one's, then ours
  }
  EXPECT_EQ(Pending(), 0);
}

TEST_F(StreamConsumerTest, RepeatedFailureEndsInTheDeadLetterStream) {
  constexpr int kMaxDeliveries = 3;
  int calls = 0;
  ConsumerOptions o = Options("c1");
  o.claim_min_idle = milliseconds(50);
  o.max_deliveries = kMaxDeliveries;
  StreamConsumer consumer(redis_.get(), o, [&](const StreamEntry&) {
    ++calls;
    return absl::InternalError("poison");
  });
  ASSERT_TRUE(consumer.EnsureGroup().ok());
  std::vector<std::string> ids = Append(1, "poison-");
  const std::string dead = std::string(kStream) + ":dead";
  EXPECT_TRUE(testing::WaitFor(
      [&] {
        EXPECT_TRUE(consumer.PollOnce().ok());
        return Cmd({"XLEN", dead}).integer() > 0;
      },
      milliseconds(10000)));
  EXPECT_EQ(calls, kMaxDeliveries);
  EXPECT_EQ(Pending(), 0);
  RedisReply range = Cmd({"XRANGE", dead, "-", "+"});
  ASSERT_EQ(range.elements().size(), 1u);
  std::map<std::string, std::string> fields;
  const auto& f = range.elements()[0].elements()[1].elements();
  for (size_t i = 0; i + 1 < f.size(); i += 2)
    fields[f[i].str()] = f[i + 1].str();
  EXPECT_EQ(fields["e"], "poison-0");
  EXPECT_EQ(fields["source_id"], ids[0]);
  EXPECT_EQ(fields["group"], kGroup);
  EXPECT_EQ(fields["deliveries"], std::to_string(kMaxDeliveries + 1));
  // Not delivered again.
  EXPECT_EQ(consumer.PollOnce().value_or(-1), 0);
  EXPECT_EQ(calls, kMaxDeliveries);
}

// Storage unreachable or full for a while is not the entries' fault: they
// are not dead-lettered however long it lasts, and apply once it passes.
// (Every failure used to count: a few minutes of a full Redis sent events
// to the dead-letter stream for good.)
TEST_F(StreamConsumerTest, TransientFailuresDoNotCountTowardsDeadLetters) {
  constexpr int kMaxDeliveries = 2;
  for (absl::StatusCode code :
       {absl::StatusCode::kUnavailable, absl::StatusCode::kResourceExhausted,
        absl::StatusCode::kDeadlineExceeded, absl::StatusCode::kAborted}) {
    Cmd({"DEL", kStream, std::string(kStream) + ":dead"});
    int failures_left = 4 * kMaxDeliveries;
    std::vector<std::string> applied;
    ConsumerOptions o = Options("c1");
    o.claim_min_idle = milliseconds(20);
    o.max_deliveries = kMaxDeliveries;
    StreamConsumer consumer(redis_.get(), o, [&](const StreamEntry& e) {
      if (failures_left > 0) {
        --failures_left;
        return absl::Status(code, "storage unavailable");
      }
      applied.push_back(e.payload);
      return absl::OkStatus();
    });
    ASSERT_TRUE(consumer.EnsureGroup().ok());
    Append(3);
    // Said, so that the consumer backs off.
    absl::StatusOr<int> first = consumer.PollOnce();
    EXPECT_EQ(first.status().code(), code);
    EXPECT_EQ(Pending(), 3);
    EXPECT_TRUE(testing::WaitFor(
        [&] {
          (void)consumer.PollOnce();
          return applied.size() == 3;
        },
        milliseconds(10000)))
        << absl::StatusCodeToString(code);
    std::sort(applied.begin(), applied.end());
    EXPECT_EQ(applied,
              (std::vector<std::string>{"event-0", "event-1", "event-2"}));
    EXPECT_EQ(Cmd({"XLEN", std::string(kStream) + ":dead"}).integer(), 0);
    EXPECT_EQ(Pending(), 0);
  }
}

// A transient failure sets back only the count this consumer saw, on an
// entry it still owns: another consumer that claimed it meanwhile (this
// handler was slow) and failed it keeps its delivery counted, and the
// entry.
TEST_F(StreamConsumerTest, AnEntryClaimedMeanwhileKeepsItsCountAndOwner) {
  ConsumerOptions o = Options("slow");
  StreamConsumer consumer(redis_.get(), o, [&](const StreamEntry& e) {
    // Meanwhile another consumer claimed the entry (its count is now 2).
    Cmd({"XCLAIM", kStream, kGroup, "other", "0", e.id});
    return absl::UnavailableError("storage unavailable");
  });
  ASSERT_TRUE(consumer.EnsureGroup().ok());
  std::vector<std::string> ids = Append(1);
  EXPECT_FALSE(consumer.PollOnce().ok());
  RedisReply detail = Cmd({"XPENDING", kStream, kGroup, "-", "+", "10"});
  ASSERT_EQ(detail.elements().size(), 1u);
  EXPECT_EQ(detail.elements()[0].elements()[1].str(), "other");
  EXPECT_EQ(detail.elements()[0].elements()[3].integer(), 2);
}

TEST_F(StreamConsumerTest, AnEntryThatCannotBeDeadLetteredStaysPending) {
  ConsumerOptions o = Options("c1");
  o.claim_min_idle = milliseconds(50);
  o.max_deliveries = 1;
  StreamConsumer consumer(redis_.get(), o, [](const StreamEntry&) {
    return absl::InternalError("poison");
  });
  ASSERT_TRUE(consumer.EnsureGroup().ok());
  const std::string dead = std::string(kStream) + ":dead";
  Cmd({"SET", dead, "not a stream"});  // the dead-letter XADD fails
  Append(1, "poison-");
  for (int i = 0; i < 10; ++i) {
    (void)consumer.PollOnce();
    std::this_thread::sleep_for(milliseconds(60));
  }
  EXPECT_EQ(Pending(), 1);  // not acknowledged: not lost
  EXPECT_EQ(Cmd({"TYPE", dead}).str(), "string");
  // Once the dead-letter key is fixed, the entry gets there.
  Cmd({"DEL", dead});
  EXPECT_TRUE(testing::WaitFor(
      [&] {
        (void)consumer.PollOnce();
        return Cmd({"EXISTS", dead}).integer() == 1;
      },
      milliseconds(10000)));
  EXPECT_EQ(Pending(), 0);
}

TEST_F(StreamConsumerTest, AHandlerThatThrowsFailsOnlyItsEntry) {
  ConsumerOptions o = Options("c1");
  o.claim_min_idle = milliseconds(50);
  o.max_deliveries = 2;
  std::vector<std::string> applied;
  bool broken = true;
  StreamConsumer consumer(redis_.get(), o, [&](const StreamEntry& e) {
    if (broken && e.payload.rfind("poison-", 0) == 0) {
      throw std::runtime_error("bug");
    }
    applied.push_back(e.payload);
    return absl::OkStatus();
  });
  ASSERT_TRUE(consumer.EnsureGroup().ok());
  Append(1, "healthy-");
  Append(1, "poison-");
  Append(1, "after-");
  const std::string dead = std::string(kStream) + ":dead";
  ASSERT_TRUE(testing::WaitFor(
      [&] {
        EXPECT_TRUE(consumer.PollOnce().ok());
        return Cmd({"XLEN", dead}).integer() == 1;
      },
      milliseconds(10000)));
  EXPECT_EQ(applied, (std::vector<std::string>{"healthy-0", "after-0"}));
  EXPECT_EQ(Pending(), 0);
  // Still throwing: the dead letter stays; a replay stops at it.
  EXPECT_EQ(consumer.RedriveDeadLetters().value_or(-1), 0);
  EXPECT_EQ(Cmd({"XLEN", dead}).integer(), 1);
  auto replayed = StreamConsumer::Replay(
      redis_.get(), kStream,
      [&](const StreamEntry& e) {
        if (e.payload == "poison-0") throw std::runtime_error("bug");
        return absl::OkStatus();
      },
      10);
  EXPECT_EQ(replayed.status().code(), absl::StatusCode::kInternal);
  broken = false;
  EXPECT_EQ(consumer.RedriveDeadLetters().value_or(-1), 1);
  EXPECT_EQ(applied.back(), "poison-0");
}

TEST_F(StreamConsumerTest, DeadLettersAreRedrivenOnceTheCauseIsFixed) {
  bool broken = true;
  std::vector<std::string> applied;
  ConsumerOptions o = Options("c1");
  o.claim_min_idle = milliseconds(50);
  o.max_deliveries = 1;
  StreamConsumer consumer(redis_.get(), o, [&](const StreamEntry& e) {
    if (broken && e.payload != "healthy-0") {
      return absl::InternalError("broken");
    }
    applied.push_back(e.payload);
    return absl::OkStatus();
  });
  ASSERT_TRUE(consumer.EnsureGroup().ok());
  std::vector<std::string> ids = Append(3, "poison-");
  Append(1, "healthy-");
  const std::string dead = std::string(kStream) + ":dead";
  // Another group's dead letter in the same stream is left alone.
  Cmd({"XADD", dead, "*", "e", "theirs", "source_id", "1-1", "group", "other",
       "deliveries", "6"});
  ASSERT_TRUE(testing::WaitFor(
      [&] {
        (void)consumer.PollOnce();
        return Cmd({"XLEN", dead}).integer() == 4;
      },
      milliseconds(10000)));
  // Still broken: nothing is lost, nothing removed.
  EXPECT_EQ(consumer.RedriveDeadLetters().value_or(-1), 0);
  EXPECT_EQ(Cmd({"XLEN", dead}).integer(), 4);
  broken = false;
  EXPECT_EQ(consumer.RedriveDeadLetters().value_or(-1), 3);
  EXPECT_EQ(applied, (std::vector<std::string>{"healthy-0", "poison-0",
                                               "poison-1", "poison-2"}));
  RedisReply left = Cmd({"XRANGE", dead, "-", "+"});
  ASSERT_EQ(left.elements().size(), 1u);
  EXPECT_EQ(left.elements()[0].elements()[1].Field("group")->str(), "other");
}

TEST_F(StreamConsumerTest, AStoppedConsumerLeavesTheGroupUnlessItOwesEntries) {
  auto consumers = [&] {
    std::vector<std::string> names;
    const RedisReply all = Cmd({"XINFO", "CONSUMERS", kStream, kGroup});
    for (const auto& c : all.elements()) {
      if (const RedisReply* name = c.Field("name"))
        names.push_back(name->str());
    }
    return names;
  };
  {
    std::atomic<int> applied{0};
    StreamConsumer done(redis_.get(), Options("done"), [&](const StreamEntry&) {
      ++applied;
      return absl::OkStatus();
    });
    ASSERT_TRUE(done.EnsureGroup().ok());
    Append(2);
    done.Start();
    EXPECT_TRUE(testing::WaitFor([&] { return applied == 2 && Pending() == 0; },
                                 milliseconds(5000)));
    EXPECT_EQ(consumers(), std::vector<std::string>{"done"});
  }  // stopped, nothing pending: gone
  EXPECT_TRUE(consumers().empty());
  {
    StreamConsumer owing(
        redis_.get(), Options("owing"),
        [](const StreamEntry&) { return absl::InternalError("not now"); });
    Append(1);
    owing.Start();
    EXPECT_TRUE(
        testing::WaitFor([&] { return Pending() == 1; }, milliseconds(5000)));
  }  // stopped with an entry pending: kept, so the entry is not lost
  EXPECT_EQ(consumers(), std::vector<std::string>{"owing"});
  EXPECT_EQ(Pending(), 1);
}

TEST_F(StreamConsumerTest, EntriesTrimmedBeforeTheGroupReadThemAreCounted) {
  std::vector<std::string> seen;
  ConsumerOptions o = Options("c1");
  o.batch = 2;
  StreamConsumer consumer(redis_.get(), o, [&](const StreamEntry& e) {
    seen.push_back(e.payload);
    return absl::OkStatus();
  });
  ASSERT_TRUE(consumer.EnsureGroup().ok());
  Append(4, "early-");
  ASSERT_EQ(consumer.PollOnce().value_or(-1), 2);  // reads 2 of 4
  EXPECT_EQ(consumer.CheckTrimmedUnread().value_or(-1), 0);
  // Six more, and the stream keeps the last two only: the group never
  // read early-2, early-3 and four of the new ones.
  for (int i = 0; i < 6; ++i) {
    Cmd({"XADD", kStream, "MAXLEN", "2", "*", "e", absl::StrCat("late-", i)});
  }
  EXPECT_EQ(consumer.CheckTrimmedUnread().value_or(-1), 6);
  EXPECT_EQ(consumer.CheckTrimmedUnread().value_or(-1), 6);  // said once
  // What is left is still delivered.
  while (consumer.PollOnce().value_or(0) > 0) {
  }
  EXPECT_EQ(seen, (std::vector<std::string>{"early-0", "early-1", "late-4",
                                            "late-5"}));
  // Trimming what the group has read loses nothing.
  Cmd({"XTRIM", kStream, "MAXLEN", "1"});
  EXPECT_EQ(consumer.CheckTrimmedUnread().value_or(-1), 6);
}

// The gap check (two XINFOs) runs before a read only while the group is
// behind (the last read filled a batch), not on every poll while entries
// trickle in.
TEST_F(StreamConsumerTest, TheGapCheckRunsOnlyWhileTheGroupIsBehind) {
  ConsumerOptions o = Options("c1");
  o.batch = 2;
  o.gap_check_every = std::chrono::hours(1);
  StreamConsumer consumer(redis_.get(), o,
                          [](const StreamEntry&) { return absl::OkStatus(); });
  ASSERT_TRUE(consumer.EnsureGroup().ok());
  ASSERT_TRUE(consumer.PollOnce().ok());  // the first poll checks
  auto xinfo_calls = [&] {
    auto r = redis_->Command({"INFO", "commandstats"});
    const std::string& text = r->str();
    size_t at = text.find("cmdstat_xinfo|stream:calls=");
    return at == std::string::npos ? 0 : std::stoll(text.substr(at + 27));
  };
  Cmd({"CONFIG", "RESETSTAT"});
  Append(1);
  ASSERT_EQ(consumer.PollOnce().value_or(-1), 1);  // less than a batch
  Append(1);
  ASSERT_EQ(consumer.PollOnce().value_or(-1), 1);
  EXPECT_EQ(xinfo_calls(), 0);
  Append(3);
  ASSERT_EQ(consumer.PollOnce().value_or(-1), 2);  // a full batch: behind
  ASSERT_EQ(consumer.PollOnce().value_or(-1), 1);
  EXPECT_EQ(xinfo_calls(), 1);
}

TEST_F(StreamConsumerTest, ReplayReadsEverythingInOrderAcrossBatches) {
  std::vector<std::string> ids = Append(23);
  std::vector<std::string> seen;
  auto n = StreamConsumer::Replay(
      redis_.get(), kStream,
      [&](const StreamEntry& e) {
        seen.push_back(e.id);
        return absl::OkStatus();
      },
      /*batch=*/5);
  ASSERT_TRUE(n.ok()) << n.status();
  EXPECT_EQ(*n, 23);
  EXPECT_EQ(seen, ids);

  // An exact multiple of the batch size ends too.
  seen.clear();
  auto m = StreamConsumer::Replay(
      redis_.get(), kStream,
      [&](const StreamEntry& e) {
        seen.push_back(e.id);
        return absl::OkStatus();
      },
      /*batch=*/23);
  EXPECT_EQ(m.value_or(-1), 23);
  EXPECT_EQ(seen, ids);
}

TEST_F(StreamConsumerTest, ReplayStopsAtTheFirstError) {
  Append(10);
  int calls = 0;
  auto n = StreamConsumer::Replay(
      redis_.get(), kStream,
      [&](const StreamEntry& e) {
        ++calls;
        return e.payload == "event-6" ? absl::DataLossError("bad event")
                                      : absl::OkStatus();
      },
      /*batch=*/4);
  EXPECT_EQ(n.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(calls, 7);
}

TEST_F(StreamConsumerTest, ReplayOfAMissingStreamReadsNothing) {
  auto n = StreamConsumer::Replay(
      redis_.get(), "t:nothing",
      [](const StreamEntry&) { return absl::InternalError("unexpected"); });
  EXPECT_EQ(n.value_or(-1), 0);
}

TEST_F(StreamConsumerTest, ResetToStartRedeliversEverything) {
  std::vector<std::string> seen;
  StreamConsumer consumer(redis_.get(), Options("c1"),
                          [&](const StreamEntry& e) {
                            seen.push_back(e.payload);
                            return absl::OkStatus();
                          });
  ASSERT_TRUE(consumer.EnsureGroup().ok());
  Append(3);
  ASSERT_EQ(consumer.PollOnce().value_or(-1), 3);
  ASSERT_EQ(consumer.PollOnce().value_or(-1), 0);
  ASSERT_TRUE(consumer.ResetToStart().ok());
  EXPECT_EQ(consumer.PollOnce().value_or(-1), 3);
  EXPECT_EQ(seen, (std::vector<std::string>{"event-0", "event-1", "event-2",
                                            "event-0", "event-1", "event-2"}));
  EXPECT_EQ(Pending(), 0);
}

TEST_F(StreamConsumerTest, StartedConsumerAppliesWhatArrives) {
  std::atomic<int> applied{0};
  StreamConsumer consumer(redis_.get(), Options("c1"), [&](const StreamEntry&) {
    ++applied;
    return absl::OkStatus();
  });
  consumer.Start();  // creates the group itself
  EXPECT_TRUE(testing::WaitFor(
      [&] {
        auto r = redis_->Command({"XINFO", "GROUPS", kStream});
        return r.ok() && r->is_array() && r->elements().size() == 1;
      },
      milliseconds(5000)));
  Append(7);
  EXPECT_TRUE(testing::WaitFor([&] { return applied.load() == 7; },
                               milliseconds(5000)));
  consumer.Stop();
  EXPECT_EQ(Pending(), 0);
}

// How many times Redis ran `command` (a name of INFO commandstats, e.g.
// "xgroup|create"), failed calls included.
int64_t Calls(RedisClient* redis, const std::string& command) {
  auto r = redis->Command({"INFO", "commandstats"});
  if (!r.ok() || r->is_error()) return -1;
  const std::string key = "cmdstat_" + command + ":calls=";
  size_t at = r->str().find(key);
  if (at == std::string::npos) return 0;
  return std::stoll(r->str().substr(at + key.size()));
}

TEST_F(StreamConsumerTest, StartedConsumerMakesTheGroupOnceAndAgainIfItGoes) {
  std::atomic<int> applied{0};
  auto o = Options("c1");
  o.block = milliseconds(20);
  StreamConsumer consumer(redis_.get(), o, [&](const StreamEntry&) {
    ++applied;
    return absl::OkStatus();
  });
  consumer.Start();
  Append(3);
  ASSERT_TRUE(testing::WaitFor([&] { return applied.load() == 3; },
                               milliseconds(5000)));
  // Idle polls (one per 20 ms) do not ask for the group again.
  const int64_t reads = Calls(redis_.get(), "xreadgroup");
  ASSERT_TRUE(testing::WaitFor(
      [&] { return Calls(redis_.get(), "xreadgroup") >= reads + 10; },
      milliseconds(5000)));
  EXPECT_EQ(Calls(redis_.get(), "xgroup|create"), 1);

  // The stream goes, group and all; new events make a stream with no
  // group. The consumer fails once (NOGROUP), makes the group and reads
  // them from the start.
  Cmd({"DEL", kStream});
  Append(2, "after-");
  EXPECT_TRUE(testing::WaitFor([&] { return applied.load() == 5; },
                               milliseconds(5000)));
  EXPECT_EQ(Calls(redis_.get(), "xgroup|create"), 2);
  consumer.Stop();
  EXPECT_EQ(Pending(), 0);
}

TEST_F(StreamConsumerTest, ABatchIsAcknowledgedInOneXackAfterItsApplies) {
  std::vector<int64_t> pending_while_applying;
  StreamConsumer consumer(
      redis_.get(), Options("c1"), [&](const StreamEntry& e) {
        pending_while_applying.push_back(Pending());
        return e.payload == "event-2" ? absl::InternalError("cannot apply")
                                      : absl::OkStatus();
      });
  ASSERT_TRUE(consumer.EnsureGroup().ok());
  Append(5);
  const int64_t acks = Calls(redis_.get(), "xack");
  EXPECT_EQ(consumer.PollOnce().value_or(-1), 4);
  EXPECT_EQ(Calls(redis_.get(), "xack"), acks + 1) << "one XACK for the batch";
  // No entry was acknowledged before its batch was applied...
  EXPECT_EQ(pending_while_applying, (std::vector<int64_t>{5, 5, 5, 5, 5}));
  // ...and the one that failed stays pending, to be retried.
  EXPECT_EQ(Pending(), 1);
  RedisReply left = Cmd({"XPENDING", kStream, kGroup, "-", "+", "10"});
  ASSERT_EQ(left.elements().size(), 1u);
  RedisReply entry =
      Cmd({"XRANGE", kStream, left.elements()[0].elements()[0].str(),
           left.elements()[0].elements()[0].str()});
  ASSERT_EQ(entry.elements().size(), 1u);
  EXPECT_EQ(entry.elements()[0].elements()[1].elements()[1].str(), "event-2");
}

}  // namespace
}  // namespace jalon
