// Tests of the atomic change+event primitive against a real redis-server.
#include "services/common/commit.h"

#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "services/common/status.h"
#include "tests/support/redis_server.h"
#include "tests/support/wait.h"

namespace jalon {
namespace {

using std::chrono::milliseconds;

constexpr char kStream[] = "t:events";
constexpr char kChannel[] = "t:wakeup";

// Every key's DUMP (the stream's included): equal snapshots mean a commit
// wrote nothing at all.
using Snapshot = std::map<std::string, std::string>;

class CommitTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(server_.Start().ok());
    redis_ = std::make_unique<RedisClient>(server_.options());
    committer_ =
        std::make_unique<Committer>(redis_.get(), EventLog{kStream, kChannel});
  }

  RedisReply Cmd(const RedisArgs& args) {
    auto r = redis_->Command(args);
    EXPECT_TRUE(r.ok()) << r.status();
    EXPECT_FALSE(r.ok() && r->is_error()) << r->str();
    return r.ok() ? *r : RedisReply();
  }

  int64_t StreamLength() { return Cmd({"XLEN", kStream}).integer(); }

  std::map<std::string, std::string> Hash(const std::string& key) {
    std::map<std::string, std::string> out;
    RedisReply all = Cmd({"HGETALL", key});
    const auto& el = all.elements();
    for (size_t i = 0; i + 1 < el.size(); i += 2) {
      out[el[i].str()] = el[i + 1].str();
    }
    return out;
  }

  Snapshot Take() {
    Snapshot out;
    RedisReply keys = Cmd({"KEYS", "*"});
    for (const auto& k : keys.elements()) {
      out[k.str()] = Cmd({"DUMP", k.str()}).str();
    }
    return out;
  }

  // A mutation creating entity `key` at version 1 with its event.
  static Mutation Create(const std::string& key) {
    Mutation m;
    m.ExpectAbsent(key, key);
    m.Put(key, 1, "data of " + key);
    m.AddEvent("created " + key);
    return m;
  }

  static testing::RedisServerOptions ServerOptions() {
    testing::RedisServerOptions o;
    o.fsync_always = true;
    return o;
  }

  testing::RedisServer server_{ServerOptions()};
  std::unique_ptr<RedisClient> redis_;
  std::unique_ptr<Committer> committer_;
};

TEST_F(CommitTest, CommitsEntityIndexAndEventTogether) {
  const std::string event("event\0bytes\r\n", 13);
  Mutation m;
  m.ExpectVersion("t:action:1", 0, "action 1");
  m.Put("t:action:1", 1, "payload-1");
  m.IndexAdd("t:actions", "1");
  m.HashSet("t:meta", "last", "1");
  m.AddEvent(event);
  auto result = committer_->Commit(m);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_FALSE(result->duplicate);
  ASSERT_FALSE(result->stream_id.empty());

  auto entity = Hash("t:action:1");
  EXPECT_EQ(entity["v"], "1");
  EXPECT_EQ(entity["d"], "payload-1");
  EXPECT_FALSE(Cmd({"ZSCORE", "t:actions", "1"}).is_nil());
  EXPECT_EQ(Hash("t:meta")["last"], "1");

  RedisReply range = Cmd({"XRANGE", kStream, "-", "+"});
  ASSERT_EQ(range.elements().size(), 1u);
  const RedisReply& entry = range.elements()[0];
  EXPECT_EQ(entry.elements()[0].str(), result->stream_id);
  const auto& fields = entry.elements()[1].elements();
  ASSERT_EQ(fields.size(), 2u);
  EXPECT_EQ(fields[0].str(), "e");
  EXPECT_EQ(fields[1].str(), event);  // binary-safe, byte for byte
}

TEST_F(CommitTest, UpdateWithTheCurrentVersionCommits) {
  ASSERT_TRUE(committer_->Commit(Create("t:e")).ok());
  Mutation m;
  m.ExpectVersion("t:e", 1, "entity");
  m.Put("t:e", 2, "second");
  m.AddEvent("updated");
  auto result = committer_->Commit(m);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(Hash("t:e")["v"], "2");
  EXPECT_EQ(Hash("t:e")["d"], "second");
  EXPECT_EQ(StreamLength(), 2);
}

TEST_F(CommitTest, MutationWithoutEventIsRefusedAndWritesNothing) {
  Snapshot before = Take();
  Mutation m;
  m.Put("t:e", 1, "x");
  auto result = committer_->Commit(m);
  EXPECT_EQ(result.status().code(), absl::StatusCode::kInternal);
  EXPECT_EQ(Take(), before);
}

TEST_F(CommitTest, StaleVersionIsAbortedNamesItsSubjectAndWritesNothing) {
  ASSERT_TRUE(committer_->Commit(Create("t:e")).ok());
  Snapshot before = Take();
  Mutation m;
  m.ExpectVersion("t:e", 5, "action A-17");
  m.Put("t:e", 6, "lost update");
  m.IndexAdd("t:idx", "e");
  m.AddEvent("updated");
  auto result = committer_->Commit(m);
  ASSERT_EQ(result.status().code(), absl::StatusCode::kAborted)
      << result.status();
  EXPECT_EQ(StaleSubject(result.status()), "action A-17");
  EXPECT_EQ(ReasonOf(result.status()), "STALE_ETAG");
  EXPECT_TRUE(CommitRefused(result.status()));
  EXPECT_EQ(Take(), before);
}

TEST_F(CommitTest, ExpectedVersionOfMissingEntityIsNotFoundAndWritesNothing) {
  Snapshot before = Take();
  Mutation m;
  m.ExpectVersion("t:missing", 3, "action A-9");
  m.Put("t:missing", 4, "x");
  m.AddEvent("updated");
  auto result = committer_->Commit(m);
  ASSERT_EQ(result.status().code(), absl::StatusCode::kNotFound)
      << result.status();
  EXPECT_EQ(StaleSubject(result.status()), "action A-9");
  EXPECT_TRUE(CommitRefused(result.status()));
  EXPECT_EQ(Take(), before);
}

TEST_F(CommitTest, CreateOverExistingEntityIsAlreadyExistsAndWritesNothing) {
  ASSERT_TRUE(committer_->Commit(Create("t:e")).ok());
  Snapshot before = Take();
  auto result = committer_->Commit(Create("t:e"));
  ASSERT_EQ(result.status().code(), absl::StatusCode::kAlreadyExists)
      << result.status();
  EXPECT_EQ(StaleSubject(result.status()), "t:e");
  EXPECT_TRUE(CommitRefused(result.status()));
  EXPECT_EQ(Take(), before);
}

TEST_F(CommitTest, AGuardAtVersionZeroThatMovedIsAbortedNotAlreadyExists) {
  // An internal guard (e.g. a dependency graph not yet written) that a
  // concurrent writer created: the caller must retry, so ABORTED.
  Mutation first;
  first.HashIncrement("t:graph", "v");
  first.AddEvent("graph changed");
  ASSERT_TRUE(committer_->Commit(first).ok());
  Snapshot before = Take();
  Mutation m;
  m.ExpectVersion("t:graph", 0, "graph");
  m.HashIncrement("t:graph", "v");
  m.AddEvent("graph changed again");
  auto result = committer_->Commit(m);
  ASSERT_EQ(result.status().code(), absl::StatusCode::kAborted)
      << result.status();
  EXPECT_EQ(StaleSubject(result.status()), "graph");
  EXPECT_EQ(Take(), before);
}

TEST_F(CommitTest, ChecksRunBeforeEveryWriteWhateverTheirOrder) {
  // The failing check comes after two writes in the mutation: it must still
  // be evaluated before them.
  Snapshot before = Take();
  Mutation m;
  m.Put("t:a", 1, "a");
  m.IndexAdd("t:idx", "a");
  m.ExpectVersion("t:b", 2, "b");
  m.AddEvent("never");
  auto result = committer_->Commit(m);
  EXPECT_EQ(result.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(Take(), before);
}

TEST_F(CommitTest, MissingReferencedMemberIsInvalidArgumentNamingTheField) {
  Cmd({"ZADD", "t:ecosystems", "0", "eco-1"});
  Snapshot before = Take();
  Mutation m;
  m.RequireMember("t:ecosystems", "eco-404", "action.ecosystem_id");
  m.Put("t:e", 1, "x");
  m.AddEvent("created");
  auto result = committer_->Commit(m);
  ASSERT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument)
      << result.status();
  auto violations = ViolationsOf(result.status());
  ASSERT_EQ(violations.size(), 1u);
  EXPECT_EQ(violations[0].field, "action.ecosystem_id");
  EXPECT_EQ(Take(), before);

  Mutation ok;
  ok.RequireMember("t:ecosystems", "eco-1", "action.ecosystem_id");
  ok.Put("t:e", 1, "x");
  ok.AddEvent("created");
  EXPECT_TRUE(committer_->Commit(ok).ok());
}

TEST_F(CommitTest, MissingMemberCarriesTheCallersProblem) {
  Cmd({"ZADD", "t:copilots", "0", "org-a", "0", "org-b"});
  Snapshot before = Take();
  Mutation m;
  m.RequireMember("t:copilots", "org-c", "action.partner_organization_id",
                  "must be one of the roadmap's co-pilot organisations");
  m.Put("t:e", 1, "x");
  m.AddEvent("created");
  auto result = committer_->Commit(m);
  ASSERT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument)
      << result.status();
  auto violations = ViolationsOf(result.status());
  ASSERT_EQ(violations.size(), 1u);
  EXPECT_EQ(violations[0].field, "action.partner_organization_id");
  EXPECT_EQ(violations[0].description,
            "must be one of the roadmap's co-pilot organisations");
  EXPECT_EQ(Take(), before);
}

TEST_F(CommitTest, MissingRequiredKeyIsInvalidArgumentNamingTheField) {
  Snapshot before = Take();
  Mutation m;
  m.RequireKey("t:roadmap:404", "action.roadmap_id");
  m.Put("t:e", 1, "x");
  m.AddEvent("created");
  auto result = committer_->Commit(m);
  ASSERT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument)
      << result.status();
  auto violations = ViolationsOf(result.status());
  ASSERT_EQ(violations.size(), 1u);
  EXPECT_EQ(violations[0].field, "action.roadmap_id");
  EXPECT_EQ(Take(), before);

  Cmd({"SET", "t:roadmap:404", "now it exists"});
  EXPECT_TRUE(committer_->Commit(m).ok());
}

TEST_F(CommitTest, DedupeReturnsTheFirstValueAndWritesNothingTheSecondTime) {
  Mutation first = Create("t:e:1");
  first.Dedupe("t:req:abc", "id-1", 600);
  auto r1 = committer_->Commit(first);
  ASSERT_TRUE(r1.ok()) << r1.status();
  EXPECT_FALSE(r1->duplicate);
  EXPECT_EQ(Cmd({"GET", "t:req:abc"}).str(), "id-1");
  int64_t ttl = Cmd({"TTL", "t:req:abc"}).integer();
  EXPECT_GT(ttl, 0);
  EXPECT_LE(ttl, 600);

  Snapshot before = Take();
  // A retry of the same request would have minted another id.
  Mutation retry = Create("t:e:2");
  retry.Dedupe("t:req:abc", "id-2", 600);
  auto r2 = committer_->Commit(retry);
  ASSERT_TRUE(r2.ok()) << r2.status();
  EXPECT_TRUE(r2->duplicate);
  EXPECT_EQ(r2->duplicate_value, "id-1");
  EXPECT_TRUE(r2->stream_id.empty());
  EXPECT_EQ(Take(), before);
  EXPECT_EQ(StreamLength(), 1);
}

TEST_F(CommitTest, EventsOfOneMutationAreAppendedInOrder) {
  Mutation m = Create("t:e");
  m.AddEvent("second");
  m.AddEvent("third");
  auto result = committer_->Commit(m);
  ASSERT_TRUE(result.ok()) << result.status();
  RedisReply range = Cmd({"XRANGE", kStream, "-", "+"});
  ASSERT_EQ(range.elements().size(), 3u);
  EXPECT_EQ(range.elements()[0].elements()[1].elements()[1].str(),
            "created t:e");
  EXPECT_EQ(range.elements()[1].elements()[1].elements()[1].str(), "second");
  EXPECT_EQ(range.elements()[2].elements()[1].elements()[1].str(), "third");
  // The result names the last one.
  EXPECT_EQ(range.elements()[2].elements()[0].str(), result->stream_id);
}

TEST_F(CommitTest, NonEmptyIndexIsAlreadyExistsAndWritesNothing) {
  Mutation first = Create("t:e:1");
  first.RequireEmpty("t:children", "roadmap R-1");
  ASSERT_TRUE(committer_->Commit(first).ok());

  Cmd({"ZADD", "t:children", "0", "child"});
  Snapshot before = Take();
  Mutation m = Create("t:e:2");
  m.RequireEmpty("t:children", "roadmap R-1");
  auto result = committer_->Commit(m);
  ASSERT_EQ(result.status().code(), absl::StatusCode::kAlreadyExists)
      << result.status();
  EXPECT_EQ(StaleSubject(result.status()), "roadmap R-1");
  EXPECT_EQ(Take(), before);
}

// Why every check must run before the first write: Redis does not roll back
// a Lua script that fails after it wrote. What it did stays, and is
// persisted and replicated.
TEST_F(CommitTest, RedisDoesNotRollBackAScriptThatFailsAfterWriting) {
  RedisScript half(
      "redis.call('SET', KEYS[1], 'written')\n"
      "return redis.call('INCR', KEYS[2])");  // WRONGTYPE on a hash
  Cmd({"HSET", "t:hash", "f", "v"});
  auto r = redis_->Eval(half, {"t:first", "t:hash"}, {});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->is_error());
  EXPECT_EQ(Cmd({"GET", "t:first"}).str(), "written");
}

// A write that Redis would refuse (a key of the wrong type, a counter that
// is not an integer) must not leave the writes before it in place without
// their event: the commit fails as a whole and writes nothing.
TEST_F(CommitTest, WriteRedisWouldRefuseFailsTheCommitAndWritesNothing) {
  Cmd({"SET", "t:string", "a string"});
  Cmd({"HSET", "t:hash", "count", "not a number"});
  struct Case {
    const char* name;
    std::function<void(Mutation&)> bad_write;
  };
  std::vector<Case> cases = {
      {"zadd on a string", [](Mutation& m) { m.IndexAdd("t:string", "e"); }},
      {"hset on a string",
       [](Mutation& m) { m.HashSet("t:string", "f", "v"); }},
      {"rpush on a hash", [](Mutation& m) { m.Append("t:hash", "v"); }},
      {"hincr of a non-integer",
       [](Mutation& m) { m.HashIncrement("t:hash", "count"); }},
      {"zadd on a key this mutation sets",
       [](Mutation& m) {
         m.Set("t:fresh", "v");
         m.IndexAdd("t:fresh", "e");
       }},
  };
  for (const auto& tc : cases) {
    SCOPED_TRACE(tc.name);
    Snapshot before = Take();
    Mutation m;
    m.ExpectVersion("t:e", 0, "entity");
    m.Put("t:e", 1, "x");
    m.IndexAdd("t:idx", "e");
    tc.bad_write(m);
    m.AddEvent("created");
    auto result = committer_->Commit(m);
    ASSERT_EQ(result.status().code(), absl::StatusCode::kInternal);
    // The Redis error text stays in the log, not in the status.
    EXPECT_EQ(result.status().message(), "internal storage error");
    EXPECT_EQ(Take(), before);
  }
  // A key of the wrong type that this mutation deletes first is fine.
  Mutation m = Create("t:e");
  m.Delete("t:string");
  m.IndexAdd("t:string", "e");
  auto result = committer_->Commit(m);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_FALSE(Cmd({"ZSCORE", "t:string", "e"}).is_nil());
}

TEST_F(CommitTest, AFullRedisIsResourceExhaustedAndWritesNothing) {
  ASSERT_TRUE(committer_->Commit(Create("e:1")).ok());
  const Snapshot before = Take();
  // Redis at its maxmemory with noeviction refuses writes (OOM).
  Cmd({"CONFIG", "SET", "maxmemory-policy", "noeviction"});
  Cmd({"CONFIG", "SET", "maxmemory", "1"});
  auto full = committer_->Commit(Create("e:2"));
  Cmd({"CONFIG", "SET", "maxmemory", "0"});
  EXPECT_TRUE(absl::IsResourceExhausted(full.status())) << full.status();
  EXPECT_EQ(ReasonOf(full.status()), "STORAGE_FULL");
  EXPECT_EQ(full.status().message().find("OOM"), std::string::npos);
  EXPECT_TRUE(CommitRefused(full.status()));
  EXPECT_EQ(Take(), before);
  // Room again: the same commit goes through.
  EXPECT_TRUE(committer_->Commit(Create("e:2")).ok());
}

// A Redis whose last snapshot failed (a full or broken disk) refuses every
// write with MISCONF until one succeeds: an outage an operator fixes, not
// a bug, so UNAVAILABLE (retry later), as READONLY; it used to be INTERNAL.
TEST_F(CommitTest, ARedisThatCannotSaveIsUnavailableAndWritesNothing) {
  ASSERT_TRUE(committer_->Commit(Create("e:1")).ok());
  const Snapshot before = Take();
  // The snapshot cannot replace a directory: BGSAVE fails.
  const std::string blocker = server_.dir() + "/dump.rdb";
  ASSERT_TRUE(std::filesystem::create_directory(blocker));
  Cmd({"CONFIG", "SET", "save", "3600 1"});
  Cmd({"BGSAVE"});
  ASSERT_TRUE(testing::WaitFor(
      [&] {
        return Cmd({"INFO", "persistence"})
                   .str()
                   .find("rdb_last_bgsave_status:err") != std::string::npos;
      },
      std::chrono::seconds(10)));
  auto refused = committer_->Commit(Create("e:2"));
  EXPECT_TRUE(absl::IsUnavailable(refused.status())) << refused.status();
  EXPECT_EQ(refused.status().message().find("MISCONF"), std::string::npos);
  EXPECT_EQ(Take(), before);
  // Snapshots work again: so do writes.
  std::filesystem::remove(blocker);
  Cmd({"CONFIG", "SET", "save", ""});
  EXPECT_TRUE(committer_->Commit(Create("e:2")).ok());
}

// A commit whose reply never came may have run: not "refused".
TEST_F(CommitTest, ACommitWithoutAnAnswerIsNotCountedAsRefused) {
  RedisOptions o = server_.options();
  o.command_timeout = std::chrono::milliseconds(200);
  RedisClient slow(o);
  Committer committer(&slow, EventLog{kStream, kChannel});
  ASSERT_TRUE(committer.Commit(Create("t:warm")).ok());
  // Redis holds every command for a while: the commit's reply does not come
  // in time, though Redis may run it once the pause ends.
  Cmd({"CLIENT", "PAUSE", "1500", "ALL"});
  auto lost = committer.Commit(Create("t:e"));
  ASSERT_EQ(lost.status().code(), absl::StatusCode::kUnavailable)
      << lost.status();
  EXPECT_FALSE(CommitRefused(lost.status()));
}

TEST_F(CommitTest, EventStreamOfTheWrongTypeFailsAndWritesNothing) {
  Cmd({"SET", kStream, "not a stream"});
  Snapshot before = Take();
  auto result = committer_->Commit(Create("t:e"));
  ASSERT_EQ(result.status().code(), absl::StatusCode::kInternal);
  EXPECT_EQ(Take(), before);
}

TEST_F(CommitTest, CommitsAgainAfterScriptFlush) {
  ASSERT_TRUE(committer_->Commit(Create("t:a")).ok());
  Cmd({"SCRIPT", "FLUSH"});
  auto result = committer_->Commit(Create("t:b"));
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(Hash("t:b")["v"], "1");
  EXPECT_EQ(StreamLength(), 2);
}

TEST(MutationTest, WrittenHashesNameEachHashOnceWithThePutVersion) {
  Mutation m;
  m.ExpectVersion("t:a:1", 4, "a 1");  // a check writes nothing
  m.Put("t:a:1", 5, "five", /*whole=*/true);
  m.Put("t:a:2", 1, "one");
  m.HashSet("t:a:2", "h", "x");  // a second write: no version
  m.HashIncrement("t:counts", "n");
  m.IndexAdd("t:index", "1");  // not a hash
  m.Delete("t:a:3");
  auto w = m.WrittenHashes();
  ASSERT_EQ(w.size(), 4u);
  EXPECT_EQ(w[0].key, "t:a:1");
  EXPECT_EQ(w[0].version, 5);
  EXPECT_EQ(w[0].data, "five");
  EXPECT_TRUE(w[0].whole);
  EXPECT_EQ(w[1].key, "t:a:2");
  EXPECT_EQ(w[1].version, 0);
  EXPECT_FALSE(w[1].whole);
  EXPECT_EQ(w[2].key, "t:counts");
  EXPECT_EQ(w[2].version, 0);
  EXPECT_EQ(w[3].key, "t:a:3");
  EXPECT_EQ(w[3].version, 0);
}

TEST_F(CommitTest, PublishesTheChangedKeysAndRequestedMessagesAfterCommit) {
  std::mutex mu;
  std::vector<std::pair<std::string, std::string>> got;
  RedisOptions o = server_.options();
  RedisSubscriber sub(
      o, {kChannel, "t:revocations"},
      [&](const std::string& channel, const std::string& msg) {
        std::lock_guard<std::mutex> lock(mu);
        got.emplace_back(channel, msg);
      },
      nullptr);
  sub.Start();
  // Subscribed once Redis counts the subscriber on both channels.
  ASSERT_TRUE(testing::WaitFor(
      [&] {
        auto r =
            redis_->Command({"PUBSUB", "NUMSUB", kChannel, "t:revocations"});
        return r.ok() && r->elements().size() == 4 &&
               r->elements()[1].integer() == 1 &&
               r->elements()[3].integer() == 1;
      },
      milliseconds(5000)));

  Mutation m = Create("t:token:1");
  m.HashSet("t:token:2", "h", "x");
  m.HashSet("t:token:1", "h", "y");   // named once
  m.IndexAdd("t:index", "1");         // not a hash: not named
  m.Put("t:action:9", 3, "state-3");  // only a put: named with its version
  m.Publish("t:revocations", "hash-of-token-1");
  auto result = committer_->Commit(m);
  ASSERT_TRUE(result.ok()) << result.status();

  auto has = [&](const std::string& channel, const std::string& msg) {
    std::lock_guard<std::mutex> lock(mu);
    for (const auto& [c, m] : got) {
      if (c == channel && m == msg) return true;
    }
    return false;
  };
  EXPECT_TRUE(
      testing::WaitFor([&] { return has("t:revocations", "hash-of-token-1"); },
                       milliseconds(5000)));
  EXPECT_TRUE(testing::WaitFor(
      [&] { return has(kChannel, "t:token:1\nt:token:2\nt:action:9 3"); },
      milliseconds(5000)));
  sub.Stop();
}

TEST_F(CommitTest, UnavailableWhileRedisIsDownThenReconnects) {
  ASSERT_TRUE(committer_->Commit(Create("t:before")).ok());
  server_.Kill();
  auto down = committer_->Commit(Create("t:during"));
  EXPECT_EQ(down.status().code(), absl::StatusCode::kUnavailable)
      << down.status();

  ASSERT_TRUE(server_.Restart().ok());
  absl::StatusOr<CommitResult> up = absl::UnknownError("not tried");
  EXPECT_TRUE(testing::WaitFor(
      [&] {
        up = committer_->Commit(Create("t:after"));
        return up.status().code() != absl::StatusCode::kUnavailable;
      },
      milliseconds(10000), milliseconds(50)));
  ASSERT_TRUE(up.ok()) << up.status();
  // The acknowledged commit survived the crash (appendfsync always).
  EXPECT_EQ(Hash("t:before")["v"], "1");
  EXPECT_EQ(Hash("t:after")["v"], "1");
}

// Invariant 1 under a crash: threads commit entity versions, each with an
// event carrying the same version, while redis-server is SIGKILLed. After a
// restart from the AOF, every entity's versions 1..v have exactly one event
// each, in order, and no event names a version that is not there: no change
// without its event, no event without its change. Every acknowledged commit
// survived.
TEST_F(CommitTest, CrashMidFloodLeavesNoChangeWithoutItsEventNorEventWithout) {
  constexpr int kThreads = 4;
  constexpr int kEntitiesPerThread = 8;
  constexpr int kCommitsBeforeCrash = 1000;

  std::atomic<int> committed{0};
  std::atomic<int> unexpected{0};
  // acked[t][i]: the last version of entity i of thread t that Redis
  // acknowledged.
  std::vector<std::vector<int64_t>> acked(
      kThreads, std::vector<int64_t>(kEntitiesPerThread, 0));
  auto key_of = [](int t, int i) {
    return absl::StrCat("t:flood:", t, ":", i);
  };

  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::vector<int64_t>& versions = acked[t];
      for (int n = 0;; ++n) {
        int i = n % kEntitiesPerThread;
        std::string key = key_of(t, i);
        int64_t next = versions[i] + 1;
        Mutation m;
        m.ExpectVersion(key, versions[i], key);
        m.Put(key, next, absl::StrCat("data ", next));
        m.IndexAdd("t:flood:index", key);
        m.AddEvent(absl::StrCat(key, "#", next));
        auto r = committer_->Commit(m);
        if (!r.ok()) {
          // Once Redis is gone every call fails with UNAVAILABLE; anything
          // else is a bug.
          if (r.status().code() != absl::StatusCode::kUnavailable) ++unexpected;
          return;
        }
        versions[i] = next;
        ++committed;
      }
    });
  }
  bool flooded =
      testing::WaitFor([&] { return committed.load() >= kCommitsBeforeCrash; },
                       milliseconds(30000));
  server_.Kill();
  for (auto& th : threads) th.join();
  ASSERT_TRUE(flooded) << "only " << committed.load() << " commits";
  EXPECT_EQ(unexpected.load(), 0);

  ASSERT_TRUE(server_.Restart().ok());
  std::map<std::string, std::vector<int64_t>> events;
  RedisReply range = server_.Command({"XRANGE", kStream, "-", "+"}).value();
  for (const auto& entry : range.elements()) {
    const std::string& e = entry.elements()[1].elements()[1].str();
    auto hash = e.rfind('#');
    ASSERT_NE(hash, std::string::npos) << e;
    int64_t v = 0;
    ASSERT_TRUE(absl::SimpleAtoi(e.substr(hash + 1), &v)) << e;
    events[e.substr(0, hash)].push_back(v);
  }
  int64_t total = 0;
  for (int t = 0; t < kThreads; ++t) {
    for (int i = 0; i < kEntitiesPerThread; ++i) {
      std::string key = key_of(t, i);
      auto h = Hash(key);
      int64_t stored = 0;
      if (!h.empty()) {
        ASSERT_TRUE(absl::SimpleAtoi(h["v"], &stored)) << key;
      }
      EXPECT_GE(stored, acked[t][i]) << key << ": an acknowledged commit lost";
      EXPECT_LE(stored, acked[t][i] + 1) << key;
      if (stored > 0) {
        EXPECT_EQ(h["d"], absl::StrCat("data ", stored)) << key;
      }
      std::vector<int64_t> expected;
      for (int64_t v = 1; v <= stored; ++v) expected.push_back(v);
      EXPECT_EQ(events[key], expected) << key;
      total += stored;
      events.erase(key);
    }
  }
  EXPECT_TRUE(events.empty()) << "events of unknown entities";
  EXPECT_GE(total, kCommitsBeforeCrash);
  EXPECT_EQ(static_cast<int64_t>(range.elements().size()), total);
}

// CommitAsync is the same script with the same outcomes, without blocking.
TEST_F(CommitTest, CommitAsyncGivesTheSameOutcomesAsCommit) {
  auto wait = [](const Committer& c, const Mutation& m) {
    std::promise<absl::StatusOr<CommitResult>> done;
    auto result = done.get_future();
    c.CommitAsync(m, [&done](absl::StatusOr<CommitResult> r) {
      done.set_value(std::move(r));
    });
    return result.get();
  };
  AsyncRedis async(server_.options(), 1);
  Committer committer(redis_.get(), EventLog{kStream, kChannel}, &async);
  auto created = wait(committer, Create("t:a"));
  ASSERT_TRUE(created.ok()) << created.status();
  EXPECT_FALSE(created->stream_id.empty());
  EXPECT_EQ(Hash("t:a")["v"], "1");
  EXPECT_EQ(StreamLength(), 1);

  Snapshot before = Take();
  Mutation stale;
  stale.ExpectVersion("t:a", 7, "thing");
  stale.Put("t:a", 8, "late");
  stale.AddEvent("late");
  auto aborted = wait(committer, stale);
  EXPECT_EQ(aborted.status().code(), absl::StatusCode::kAborted);
  EXPECT_EQ(StaleSubject(aborted.status()), "thing");
  EXPECT_EQ(Take(), before);

  // A committer without the non-blocking client refuses, writing nothing.
  auto refused = wait(*committer_, Create("t:b"));
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kInternal);
  EXPECT_EQ(Take(), before);
}

}  // namespace
}  // namespace jalon
