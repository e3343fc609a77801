// Tests of the replica's entity cache: what it serves, what makes it stop
// (its own invalidations, a commit's PUBLISH on a real redis-server, a lost
// or silent subscription, its TTL), and the race between a read and an
// invalidation.
#include "services/common/entity_cache.h"

#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "services/common/commit.h"
#include "tests/support/redis_server.h"
#include "tests/support/wait.h"

namespace jalon {
namespace {

using std::chrono::milliseconds;

Stored At(int64_t version, std::string data) {
  Stored s;
  s.version = version;
  s.data = std::move(data);
  return s;
}

TEST(EntityCacheTest, ServesWhatAReadFoundMarkedCached) {
  EntityCache cache({});
  cache.SetLive(true);
  EXPECT_FALSE(cache.Get("k:1"));
  cache.Put("k:1", cache.Begin("k:1"), At(3, "three"));
  auto hit = cache.Get("k:1");
  ASSERT_TRUE(hit);
  EXPECT_EQ(hit->version, 3);
  EXPECT_EQ(hit->data, "three");
  EXPECT_TRUE(hit->cached);
  EXPECT_EQ(cache.hits(), 1u);
  EXPECT_EQ(cache.misses(), 1u);
}

TEST(EntityCacheTest, RendersOncePerStateAndTag) {
  EntityCache cache({});
  cache.SetLive(true);
  int renders = 0;
  auto render = [&](const Stored& s) -> absl::StatusOr<std::string> {
    ++renders;
    return absl::StrCat(s.data, "@v", s.version);
  };
  auto miss = cache.Rendered("k:1", 7, render);
  ASSERT_TRUE(miss.ok());
  EXPECT_EQ(*miss, nullptr);
  EXPECT_EQ(renders, 0);

  cache.Put("k:1", cache.Begin("k:1"), At(3, "three"));
  auto first = cache.Rendered("k:1", 7, render);
  ASSERT_TRUE(first.ok() && *first);
  EXPECT_EQ(**first, "three@v3");
  auto again = cache.Rendered("k:1", 7, render);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, *first);  // the same bytes, not made again
  EXPECT_EQ(renders, 1);
  EXPECT_EQ(cache.hits(), 2u);

  // Another tag (another day) is rendered anew, and replaces the first.
  EXPECT_EQ(**cache.Rendered("k:1", 8, render), "three@v3");
  EXPECT_EQ(renders, 2);
  cache.Rendered("k:1", 7, render).IgnoreError();
  EXPECT_EQ(renders, 3);

  // A new state is a new entry: it never serves the old state's rendering.
  cache.Install("k:1", cache.BeginCommit(), At(4, "four"));
  EXPECT_EQ(**cache.Rendered("k:1", 7, render), "four@v4");
  EXPECT_EQ(renders, 4);
  // Get still serves the state itself.
  EXPECT_EQ(cache.Get("k:1")->data, "four");
}

// Readers render while a writer installs new states: every rendering a
// reader gets was made from one state under the tag it asked for, never a
// mix, and versions never go back for a reader.
TEST(EntityCacheTest, RenderingsFollowTheirStateUnderConcurrentWrites) {
  EntityCache cache({});
  cache.SetLive(true);
  cache.Install("k:1", cache.BeginCommit(), At(1, "s1"));
  std::atomic<bool> stop{false};
  std::atomic<int> bad{0};
  std::vector<std::thread> readers;
  for (int r = 0; r < 3; ++r) {
    readers.emplace_back([&, r] {
      int64_t last = 0;
      for (int i = 0; !stop.load(); ++i) {
        const int64_t tag = (i + r) % 3;
        auto got = cache.Rendered(
            "k:1", tag, [&](const Stored& s) -> absl::StatusOr<std::string> {
              return absl::StrCat(s.data, "@v", s.version, "#", tag);
            });
        if (!got.ok() || *got == nullptr) {
          ++bad;
          continue;
        }
        // "s<N>@v<N>#<tag>"
        const std::string& text = **got;
        size_t at = text.find("@v"), hash = text.find('#');
        const std::string data = text.substr(1, at - 1);
        const std::string version = text.substr(at + 2, hash - at - 2);
        const int64_t v = std::stoll(version);
        if (data != version || text.substr(hash + 1) != std::to_string(tag) ||
            v < last) {
          ++bad;
        }
        last = v;
      }
    });
  }
  for (int v = 2; v <= 2000; ++v) {
    cache.Install("k:1", cache.BeginCommit(), At(v, absl::StrCat("s", v)));
  }
  stop = true;
  for (auto& t : readers) t.join();
  EXPECT_EQ(bad.load(), 0);
  // A tag no reader used is rendered now, from the last state (tag 0 may
  // already hold a reader's rendering of that state, which is as right).
  EXPECT_EQ(
      **cache.Rendered("k:1", 99,
                       [](const Stored& s) -> absl::StatusOr<std::string> {
                         return s.data;
                       }),
      "s2000");
}

TEST(EntityCacheTest, AFailedRenderingIsReturnedAndNotKept) {
  EntityCache cache({});
  cache.SetLive(true);
  cache.Put("k:1", cache.Begin("k:1"), At(1, "one"));
  bool fail = true;
  auto render = [&](const Stored& s) -> absl::StatusOr<std::string> {
    if (fail) return absl::DataLossError("corrupt");
    return s.data;
  };
  EXPECT_EQ(cache.Rendered("k:1", 0, render).status().code(),
            absl::StatusCode::kDataLoss);
  fail = false;
  auto ok = cache.Rendered("k:1", 0, render);
  ASSERT_TRUE(ok.ok() && *ok);
  EXPECT_EQ(**ok, "one");
}

TEST(EntityCacheTest, AReadThatRacedAnInvalidationIsNotKept) {
  EntityCache cache({});
  cache.SetLive(true);
  auto ticket = cache.Begin("k:1");
  cache.Invalidate("k:1");  // a write landed while the read was in flight
  cache.Put("k:1", ticket, At(1, "old"));
  EXPECT_FALSE(cache.Get("k:1"));
  // A read that began after it is kept.
  cache.Put("k:1", cache.Begin("k:1"), At(2, "new"));
  EXPECT_EQ(cache.Get("k:1")->data, "new");
}

TEST(EntityCacheTest, AReadBelowAnAnnouncedVersionIsNotKept) {
  EntityCache cache({});
  cache.SetLive(true);
  auto ticket = cache.Begin("k:1");
  cache.Invalidate("k:1", 6);  // version 6 was committed meanwhile
  cache.Put("k:1", ticket, At(5, "five"));
  EXPECT_FALSE(cache.Get("k:1"));
  ticket = cache.Begin("k:1");
  cache.Invalidate("k:1", 6);  // the same announcement, late: harmless
  cache.Put("k:1", ticket, At(6, "six"));
  EXPECT_EQ(cache.Get("k:1")->version, 6);
}

// A write without a version, then a versioned one: the second still stops
// a read that began between them and found an older version (the first
// voids only the reads in flight when it came).
TEST(EntityCacheTest, AVersionAnnouncedAfterAWriteWithoutOneStillCounts) {
  EntityCache cache({});
  cache.SetLive(true);
  cache.Invalidate("k:1");  // e.g. a field written outside {v, d}
  auto ticket = cache.Begin("k:1");
  cache.Invalidate("k:1", 7);  // version 7 committed while the read flew
  cache.Put("k:1", ticket, At(6, "six"));
  EXPECT_FALSE(cache.Get("k:1"));
  cache.Put("k:1", cache.Begin("k:1"), At(7, "seven"));
  EXPECT_EQ(cache.Get("k:1")->version, 7);
}

TEST(EntityCacheTest, ALateListenerDoesNotEmptyTheCache) {
  EntityCache cache({});
  cache.SetLive(true);
  cache.Put("k:1", cache.Begin("k:1"), At(5, "five"));
  auto ticket = cache.Begin("k:2");
  // Announcements of versions the cache already holds or passed, arriving
  // late, neither drop the entry nor void a read in flight.
  cache.InvalidateList("k:1 3\nk:1 5\nk:2 2");
  EXPECT_EQ(cache.Get("k:1")->version, 5);
  cache.Put("k:2", ticket, At(4, "four"));
  EXPECT_EQ(cache.Get("k:2")->version, 4);
}

TEST(EntityCacheTest, AReadSlowerThanTheTtlIsNotKept) {
  EntityCache cache({.capacity = 100, .ttl = milliseconds(30)});
  cache.SetLive(true);
  auto ticket = cache.Begin("k:1");
  std::this_thread::sleep_for(milliseconds(40));
  cache.Put("k:1", ticket, At(1, "one"));
  EXPECT_FALSE(cache.Get("k:1"));
}

TEST(EntityCacheTest, ASlowReadIsKeptATtlFromWhenItWasSentNotLonger) {
  // Wide margins: the machine may stall for a while between two steps.
  EntityCache cache({.capacity = 100, .ttl = milliseconds(2000)});
  cache.SetLive(true);
  auto ticket = cache.Begin("k:1");
  auto commit = cache.BeginCommit();
  std::this_thread::sleep_for(milliseconds(1000));  // slow answers
  cache.Put("k:1", ticket, At(1, "one"));
  cache.Install("k:2", commit, At(1, "two"));
  EXPECT_TRUE(cache.Get("k:1"));
  EXPECT_TRUE(cache.Get("k:2"));
  // A ttl after the read and the commit were sent, not after their
  // answers came (that would keep them until 3000 ms).
  std::this_thread::sleep_for(milliseconds(1300));
  EXPECT_FALSE(cache.Get("k:1"));
  EXPECT_FALSE(cache.Get("k:2"));
}

TEST(EntityCacheTest, NeverReplacesANewerVersion) {
  EntityCache cache({});
  cache.SetLive(true);
  auto early = cache.Begin("k:1");
  cache.Put("k:1", cache.Begin("k:1"), At(5, "five"));
  cache.Put("k:1", early, At(4, "four"));
  EXPECT_EQ(cache.Get("k:1")->version, 5);
}

TEST(EntityCacheTest, InvalidationsDropTheirKeysOnly) {
  EntityCache cache({});
  cache.SetLive(true);
  for (const char* k : {"k:1", "k:2", "k:3"}) {
    cache.Put(k, cache.Begin(k), At(1, k));
  }
  cache.InvalidateList("k:1\nk:3\n\nunknown");
  EXPECT_FALSE(cache.Get("k:1"));
  EXPECT_TRUE(cache.Get("k:2"));
  EXPECT_FALSE(cache.Get("k:3"));
  cache.InvalidateAll();
  EXPECT_FALSE(cache.Get("k:2"));
}

TEST(EntityCacheTest, KeepsNoEntityWithAnExtraField) {
  EntityCache cache({});
  cache.SetLive(true);
  Stored token = At(1, "token");
  token.extra = "hash";  // written outside {v, d}: never cached
  cache.Put("k:1", cache.Begin("k:1"), token);
  EXPECT_FALSE(cache.Get("k:1"));
  cache.Put("k:2", cache.Begin("k:2"), At(0, "absent"));
  EXPECT_FALSE(cache.Get("k:2"));
}

TEST(EntityCacheTest, NotLiveMeansNoServingAndNoFilling) {
  EntityCache cache({});
  cache.Put("k:1", cache.Begin("k:1"), At(1, "x"));
  cache.SetLive(true);
  EXPECT_FALSE(cache.Get("k:1"));
  cache.Put("k:1", cache.Begin("k:1"), At(1, "x"));
  cache.SetLive(false);
  EXPECT_FALSE(cache.Get("k:1"));
  EntityCache off({.capacity = 0});
  off.SetLive(true);
  off.Put("k:1", off.Begin("k:1"), At(1, "x"));
  EXPECT_FALSE(off.Get("k:1"));
}

TEST(EntityCacheTest, EntriesExpire) {
  EntityCache cache({.capacity = 100, .ttl = milliseconds(300)});
  cache.SetLive(true);
  cache.Put("k:1", cache.Begin("k:1"), At(1, "x"));
  EXPECT_TRUE(cache.Get("k:1"));
  std::this_thread::sleep_for(milliseconds(400));
  EXPECT_FALSE(cache.Get("k:1"));
}

TEST(EntityCacheTest, HoldsAtMostItsCapacityAndLetsTheOldestGo) {
  EntityCache cache({.capacity = 32, .ttl = milliseconds(10000)});
  cache.SetLive(true);
  for (int i = 0; i < 1000; ++i) {
    std::string k = "k:" + std::to_string(i);
    cache.Put(k, cache.Begin(k), At(1, k));
  }
  // What is kept is the newest: the keys read last, not early ones that a
  // full shard never let go while it churned its newest entry.
  int kept = 0;
  for (int i = 0; i < 1000; ++i) {
    if (!cache.Get("k:" + std::to_string(i))) continue;
    ++kept;
    EXPECT_GE(i, 800) << "k:" << i << " outlived 800 newer keys";
  }
  EXPECT_GT(kept, 0);
  EXPECT_LE(kept, 32);
}

TEST(EntityCacheTest, MakesRoomWithExpiredEntriesFirst) {
  // Long enough that a stalled thread on a busy machine expires nothing
  // before the sleeps do.
  EntityCache cache({.capacity = 16 * 8, .ttl = milliseconds(500)});
  cache.SetLive(true);
  for (int i = 0; i < 1000; ++i) {  // read once, long ago: every shard full
    std::string k = "cold:" + std::to_string(i);
    cache.Put(k, cache.Begin(k), At(1, "cold"));
  }
  ASSERT_EQ(cache.size(), 16u * 8);
  std::this_thread::sleep_for(milliseconds(600));
  for (int i = 0; i < 200; ++i) {
    const std::string k = "hot:" + std::to_string(i % 8);
    if (!cache.Get(k)) cache.Put(k, cache.Begin(k), At(1, "hot"));
  }
  // In each shard a hot entry went to, the expired entries made room (the
  // others keep theirs until they need room), so none of the 8 entries in
  // use was pushed out by another: at most 8 per shard fit.
  EXPECT_LE(cache.size(), 8u + 8u * 15);
  for (int i = 0; i < 8; ++i) {
    EXPECT_TRUE(cache.Get("hot:" + std::to_string(i))) << i;
  }
  // Again and again: a sweep that emptied a shard must not stop the next.
  for (int round = 0; round < 3; ++round) {
    for (int i = 0; i < 1000; ++i) {
      std::string k = absl::StrCat("cold:", round, ":", i);
      cache.Put(k, cache.Begin(k), At(1, "cold"));
    }
    ASSERT_EQ(cache.size(), 16u * 8);
    std::this_thread::sleep_for(milliseconds(600));
    for (int i = 0; i < 8; ++i) {
      std::string k = absl::StrCat("hot:", round, ":", i);
      cache.Put(k, cache.Begin(k), At(1, "hot"));
    }
    // The shards the hot keys went to dropped their 8 expired entries.
    EXPECT_LT(cache.size(), 16u * 8) << "round " << round;
  }
}

constexpr int kRaceKeys = 4;

// A reader as GetAsync reads, until `stop`: a hit is served (and counted
// stale if older than the key's `floor` when the Get began); a miss takes a
// ticket, reads "Redis" (`truth`) and Puts.
void ReadUntilStopped(EntityCache& cache,
                      const std::atomic<int64_t> (&truth)[kRaceKeys],
                      const std::atomic<int64_t> (&floor)[kRaceKeys],
                      const std::atomic<bool>& stop, int first,
                      std::atomic<int64_t>& hits, std::atomic<int64_t>& stale) {
  for (int n = first; !stop; ++n) {
    const int k = n % kRaceKeys;
    const std::string key = "k:" + std::to_string(k);
    const int64_t at_least = floor[k].load();
    if (auto hit = cache.Get(key)) {
      ++hits;
      if (hit->version < at_least) ++stale;
      continue;
    }
    auto ticket = cache.Begin(key);
    const int64_t v = truth[k].load();
    cache.Put(key, ticket, At(v, std::to_string(v)));
  }
}

// Readers fill the cache the way GetAsync does (ticket, read "Redis",
// Put) while a writer bumps "Redis" and then invalidates, as a commit and
// its PUBLISH do. Once an invalidation is done, no Get may return an older
// version, however the threads interleave.
TEST(EntityCacheTest, NeverServesAVersionOlderThanACompletedInvalidation) {
  EntityCache cache({.capacity = 64});
  cache.SetLive(true);
  constexpr int kKeys = kRaceKeys;
  std::atomic<int64_t> truth[kKeys];
  std::atomic<int64_t> invalidated[kKeys];
  for (int k = 0; k < kKeys; ++k) {
    truth[k] = 1;
    invalidated[k] = 1;
  }
  auto key = [](int k) { return "k:" + std::to_string(k); };
  std::atomic<bool> stop{false};
  std::atomic<int64_t> stale{0}, hits{0};
  std::vector<std::thread> threads;
  for (int r = 0; r < 3; ++r) {
    threads.emplace_back([&, r] {
      ReadUntilStopped(cache, truth, invalidated, stop, r, hits, stale);
    });
  }
  threads.emplace_back([&] {
    // Enough writes, and enough served reads between them to mean
    // something (the writer can outrun the readers' start).
    const auto give_up = std::chrono::steady_clock::now() + milliseconds(30000);
    for (int n = 0; (n < 20000 || hits < 1000) &&
                    std::chrono::steady_clock::now() < give_up;
         ++n) {
      const int k = n % kKeys;
      const int64_t v = ++truth[k];
      cache.Invalidate(key(k));
      invalidated[k] = v;
      if (n >= 20000) {
        // Enough writes, too few hits (a busy machine): leave the readers
        // room to be served between writes.
        std::this_thread::sleep_for(std::chrono::microseconds(200));
      } else if (n % 64 == 0) {
        std::this_thread::yield();
      }
    }
    stop = true;
  });
  for (auto& t : threads) t.join();
  EXPECT_EQ(stale.load(), 0);
  EXPECT_GE(hits.load(), 1000);  // the cache did serve meanwhile
}

// --- What a replica keeps of its own commits (Install) ---

TEST(EntityCacheInstallTest, KeepsWhatThisReplicaCommitted) {
  EntityCache cache({});
  cache.SetLive(true);
  cache.Put("k:1", cache.Begin("k:1"), At(1, "one"));
  auto ticket = cache.BeginCommit();
  cache.Install("k:1", ticket, At(2, "two"));
  auto hit = cache.Get("k:1");
  ASSERT_TRUE(hit);
  EXPECT_EQ(hit->version, 2);
  EXPECT_EQ(hit->data, "two");
  // Its own announcement, arriving after, leaves it; a later one drops it.
  cache.InvalidateList("k:1 2");
  EXPECT_EQ(cache.Get("k:1")->version, 2);
  cache.InvalidateList("k:1 3");
  EXPECT_FALSE(cache.Get("k:1"));
}

TEST(EntityCacheInstallTest, ItsOwnAnnouncementMayArriveFirst) {
  EntityCache cache({});
  cache.SetLive(true);
  cache.Put("k:1", cache.Begin("k:1"), At(1, "one"));
  auto ticket = cache.BeginCommit();
  cache.Invalidate("k:1", 2);  // the listener was faster than the reply
  EXPECT_FALSE(cache.Get("k:1"));
  cache.Install("k:1", ticket, At(2, "two"));
  EXPECT_EQ(cache.Get("k:1")->version, 2);
}

TEST(EntityCacheInstallTest, ANewerWriteAnnouncedFirstWins) {
  EntityCache cache({});
  cache.SetLive(true);
  cache.Put("k:1", cache.Begin("k:1"), At(1, "one"));
  auto ticket = cache.BeginCommit();
  cache.Invalidate("k:1", 3);  // another replica wrote after this one
  cache.Install("k:1", ticket, At(2, "two"));
  EXPECT_FALSE(cache.Get("k:1"));
  // A write without a version (0) is above every version.
  ticket = cache.BeginCommit();
  cache.Invalidate("k:2");
  cache.Install("k:2", ticket, At(7, "seven"));
  EXPECT_FALSE(cache.Get("k:2"));
}

TEST(EntityCacheInstallTest, ALostSubscriptionVoidsTheTicket) {
  EntityCache cache({});
  cache.SetLive(true);
  auto ticket = cache.BeginCommit();
  cache.InvalidateAll();  // what the listener does when it loses Redis
  cache.Install("k:1", ticket, At(2, "two"));
  EXPECT_FALSE(cache.Get("k:1"));
  cache.SetLive(false);  // not subscribed when the commit was sent
  ticket = cache.BeginCommit();
  cache.SetLive(true);
  cache.Install("k:1", ticket, At(2, "two"));
  EXPECT_FALSE(cache.Get("k:1"));
}

TEST(EntityCacheInstallTest, ATicketOlderThanTheTtlIsRefused) {
  // Floors last 2 x ttl: a commit answered later than a ttl after it was
  // sent may have missed one, so it keeps nothing.
  EntityCache cache({.capacity = 100, .ttl = milliseconds(50)});
  cache.SetLive(true);
  auto ticket = cache.BeginCommit();
  std::this_thread::sleep_for(milliseconds(60));
  cache.Put("k:1", cache.Begin("k:1"), At(1, "one"));
  cache.Install("k:1", ticket, At(2, "two"));
  EXPECT_FALSE(cache.Get("k:1"));  // and the older entry is gone
}

TEST(EntityCacheInstallTest, NeverOverANewerStateAndDropLeavesNothing) {
  EntityCache cache({});
  cache.SetLive(true);
  cache.Put("k:1", cache.Begin("k:1"), At(5, "five"));
  cache.Install("k:1", cache.BeginCommit(), At(4, "four"));
  EXPECT_EQ(cache.Get("k:1")->version, 5);
  Stored with_extra = At(6, "six");
  with_extra.extra = "h";
  cache.Install("k:1", cache.BeginCommit(), with_extra);
  EXPECT_FALSE(cache.Get("k:1"));  // not kept, and nothing older stays
  cache.Put("k:2", cache.Begin("k:2"), At(1, "one"));
  cache.Drop("k:2");
  EXPECT_FALSE(cache.Get("k:2"));
}

TEST(EntityCacheInstallTest, AnnouncementsCarryVersions) {
  EntityCache cache({});
  cache.SetLive(true);
  cache.Put("k:1", cache.Begin("k:1"), At(5, "five"));
  cache.Put("k:2", cache.Begin("k:2"), At(5, "five"));
  cache.Put("k:3", cache.Begin("k:3"), At(5, "five"));
  cache.Put("k:4", cache.Begin("k:4"), At(5, "five"));
  cache.InvalidateList("k:1 5\nk:2 6\nk:3\nk:4 x5");
  EXPECT_TRUE(cache.Get("k:1"));   // it holds that version already
  EXPECT_FALSE(cache.Get("k:2"));  // older
  EXPECT_FALSE(cache.Get("k:3"));  // no version: any entry goes
  EXPECT_FALSE(cache.Get("k:4"));  // a version that does not parse: same
}

// Two writers (this replica, which installs its commits, and another one)
// and readers, on a few keys. Versions come from one counter per key, as
// Redis serialises commits; each commit's announcement is an Invalidate
// with its version, which this replica's writer sends before or after its
// Install. Once an announcement is done, no Get may return an older
// version.
TEST(EntityCacheInstallTest, NeverServesAVersionOlderThanAnAnnouncedOne) {
  EntityCache cache({});
  cache.SetLive(true);
  constexpr int kKeys = kRaceKeys;
  std::atomic<int64_t> truth[kKeys] = {};
  std::atomic<int64_t> announced[kKeys] = {};
  std::atomic<bool> stop{false};
  std::atomic<int64_t> stale{0}, hits{0};
  std::atomic<int> installs{0};
  auto key = [](int k) { return "k:" + std::to_string(k); };
  auto announce = [&](int k, int64_t v) {
    cache.Invalidate(key(k), v);
    int64_t seen = announced[k].load();
    while (seen < v && !announced[k].compare_exchange_weak(seen, v)) {
    }
  };
  std::vector<std::thread> threads;
  threads.emplace_back([&] {  // this replica: commit, then Install
    for (int n = 0; !stop; ++n) {
      const int k = n % kKeys;
      auto ticket = cache.BeginCommit();
      const int64_t v = ++truth[k];
      if (n % 2 == 0) announce(k, v);
      cache.Install(key(k), ticket, At(v, std::to_string(v)));
      if (n % 2 == 1) announce(k, v);
      ++installs;
      // Enough installs, too few hits (a busy machine): leave the readers
      // room to be served between writes.
      if (installs >= 20000 && hits < 1000) {
        std::this_thread::sleep_for(std::chrono::microseconds(200));
      }
    }
  });
  threads.emplace_back([&] {  // another replica: commit, announce
    for (int n = 0; !stop; ++n) {
      const int k = (n * 7) % kKeys;
      announce(k, ++truth[k]);
      if (installs >= 20000 && hits < 1000) {
        std::this_thread::sleep_for(std::chrono::microseconds(200));
      } else if (n % 16 == 0) {
        std::this_thread::yield();
      }
    }
  });
  for (int r = 0; r < 2; ++r) {
    threads.emplace_back([&, r] {
      ReadUntilStopped(cache, truth, announced, stop, r, hits, stale);
    });
  }
  const auto give_up = std::chrono::steady_clock::now() + milliseconds(30000);
  while ((installs < 20000 || hits < 1000) &&
         std::chrono::steady_clock::now() < give_up) {
    std::this_thread::sleep_for(milliseconds(10));
  }
  stop = true;
  for (auto& t : threads) t.join();
  EXPECT_EQ(stale.load(), 0);
  EXPECT_GE(hits.load(), 1000);
  EXPECT_GE(installs.load(), 20000);
}

class EntityCacheRedisTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(server_.Start().ok()); }

  // Waits until the cache's listener is subscribed (live).
  static bool Live(const EntityCache& cache) {
    return testing::WaitFor([&] { return cache.live(); }, milliseconds(5000));
  }

  testing::RedisServer server_;
};

TEST_F(EntityCacheRedisTest, ACommitOnAnotherReplicaInvalidatesWhatItWrote) {
  EntityCache cache({});
  cache.StartListener(server_.options(), "t:wakeup");
  ASSERT_TRUE(Live(cache));
  for (const char* k : {"t:a", "t:b"}) {
    cache.Put(k, cache.Begin(k), At(1, "v1"));
  }
  // Another replica (this Committer has no cache) updates t:a.
  RedisClient redis(server_.options());
  Committer other(&redis, {"t:events", "t:wakeup", 1000});
  Mutation m;
  m.Put("t:a", 2, "v2");
  m.AddEvent("updated t:a");
  ASSERT_TRUE(other.Commit(m).ok());
  EXPECT_TRUE(
      testing::WaitFor([&] { return !cache.Get("t:a"); }, milliseconds(5000)));
  EXPECT_TRUE(cache.Get("t:b"));
}

TEST_F(EntityCacheRedisTest, ALostSubscriptionEmptiesAndPausesTheCache) {
  EntityCache cache({});
  cache.StartListener(server_.options(), "t:wakeup");
  ASSERT_TRUE(Live(cache));
  cache.Put("t:a", cache.Begin("t:a"), At(1, "v1"));
  ASSERT_TRUE(cache.Get("t:a"));
  RedisClient redis(server_.options());
  ASSERT_TRUE(redis.Command({"CLIENT", "KILL", "TYPE", "pubsub"}).ok());
  // Whatever was published meanwhile is lost: nothing old is served again.
  EXPECT_TRUE(
      testing::WaitFor([&] { return !cache.Get("t:a"); }, milliseconds(5000)));
  ASSERT_TRUE(Live(cache));  // resubscribed
  EXPECT_FALSE(cache.Get("t:a"));
  cache.Put("t:a", cache.Begin("t:a"), At(2, "v2"));
  EXPECT_EQ(cache.Get("t:a")->version, 2);
}

TEST_F(EntityCacheRedisTest, ASilentSubscriptionCountsAsLost) {
  std::atomic<int> lost{0};
  RedisOptions o = server_.options();
  o.command_timeout = milliseconds(1000);
  RedisSubscriber sub(
      o, {"t:wakeup"}, [](const std::string&, const std::string&) {},
      [&] { ++lost; });
  sub.set_ping_every(milliseconds(100));
  sub.Start();
  ASSERT_TRUE(
      testing::WaitFor([&] { return sub.connected(); }, milliseconds(5000)));
  // Quiet is not silence: PINGs keep an idle subscription up.
  std::this_thread::sleep_for(milliseconds(600));
  EXPECT_TRUE(sub.connected());
  EXPECT_EQ(lost.load(), 0);
  // Redis stops answering (the connection stays open).
  RedisClient redis(server_.options());
  ASSERT_TRUE(redis.Command({"CLIENT", "PAUSE", "6000", "ALL"}).ok());
  // Noticed after a PING and the command timeout, long before the pause
  // ends (nothing closes the connection).
  EXPECT_TRUE(
      testing::WaitFor([&] { return !sub.connected(); }, milliseconds(5000)));
  EXPECT_GE(lost.load(), 1);
  EXPECT_TRUE(
      testing::WaitFor([&] { return sub.connected(); }, milliseconds(10000)));
  sub.Stop();
}

}  // namespace
}  // namespace jalon
