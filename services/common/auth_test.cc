// Tests of bearer-token verification, its cache and revocation, against a
// real redis-server.
#include "services/common/auth.h"

#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <string>
#include <thread>

#include "services/common/ids.h"
#include "services/common/status.h"
#include "tests/support/redis_server.h"
#include "tests/support/wait.h"

namespace jalon {
namespace {

using std::chrono::milliseconds;

constexpr char kPrefix[] = "t:token_hash:";
constexpr char kRevocations[] = "t:revocations";

class AuthTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(server_.Start().ok());
    redis_ = std::make_unique<RedisClient>(server_.options());
    actor_.set_principal_id("tok-1");
    actor_.set_principal_name("a.benali");
    actor_.set_organization_id("org-fimme");
    actor_.set_role(Role::ROLE_COPILOT);
  }

  AuthOptions Options(milliseconds ttl) {
    AuthOptions o;
    o.key_prefix = kPrefix;
    o.revocation_channel = kRevocations;
    o.cache_ttl = ttl;
    return o;
  }

  // Stores `actor_` as the principal of a new token; returns the token.
  std::string Issue() {
    std::string token = NewTokenSecret();
    auto r = redis_->Command(
        {"SET", kPrefix + Sha256Hex(token), actor_.SerializeAsString()});
    EXPECT_TRUE(r.ok() && !r->is_error());
    return token;
  }

  void Revoke(const std::string& token) {
    auto r = redis_->Command({"DEL", kPrefix + Sha256Hex(token)});
    EXPECT_TRUE(r.ok() && r->integer() == 1);
  }

  static void ExpectUnauthenticated(const absl::StatusOr<Actor>& r,
                                    const std::string& what) {
    EXPECT_EQ(r.status().code(), absl::StatusCode::kUnauthenticated) << what;
    EXPECT_EQ(ReasonOf(r.status()), "UNAUTHENTICATED") << what;
  }

  testing::RedisServer server_;
  std::unique_ptr<RedisClient> redis_;
  Actor actor_;
};

TEST_F(AuthTest, MissingOrMalformedCredentialsAreUnauthenticated) {
  TokenVerifier verifier(redis_.get(), Options(milliseconds(1000)));
  for (const std::string header :
       {"", "Basic dXNlcjpwYXNz", "Basic x", "Bearer ", "Bearer", "bear x",
        "Token jalon_abc"}) {
    ExpectUnauthenticated(verifier.Verify(header), "'" + header + "'");
  }
  // An absurdly long token is refused without a lookup.
  ExpectUnauthenticated(verifier.Verify("Bearer " + std::string(4096, 'a')),
                        "long token");
}

TEST_F(AuthTest, UnknownTokenIsUnauthenticatedWithoutEchoingIt) {
  TokenVerifier verifier(redis_.get(), Options(milliseconds(1000)));
  const std::string token = NewTokenSecret();
  auto r = verifier.Verify("Bearer " + token);
  ExpectUnauthenticated(r, "unknown");
  EXPECT_EQ(r.status().message().find(token), std::string::npos);
}

TEST_F(AuthTest, StoredPrincipalVerifies) {
  TokenVerifier verifier(redis_.get(), Options(milliseconds(1000)));
  const std::string token = Issue();
  auto r = verifier.Verify("Bearer " + token);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->principal_id(), "tok-1");
  EXPECT_EQ(r->principal_name(), "a.benali");
  EXPECT_EQ(r->organization_id(), "org-fimme");
  EXPECT_EQ(r->role(), Role::ROLE_COPILOT);
  // The scheme is case-insensitive (RFC 7235).
  EXPECT_TRUE(verifier.Verify("bearer " + token).ok());
  // Another token is not this one.
  ExpectUnauthenticated(verifier.Verify("Bearer " + token + "x"), "suffix");
}

TEST_F(AuthTest, GarbageStoredUnderTheHashIsUnauthenticated) {
  TokenVerifier verifier(redis_.get(), Options(milliseconds(1000)));
  const std::string token = NewTokenSecret();
  ASSERT_TRUE(redis_
                  ->Command({"SET", kPrefix + Sha256Hex(token),
                             std::string("\xff\xff\xff\xff", 4)})
                  .ok());
  ExpectUnauthenticated(verifier.Verify("Bearer " + token), "garbage");
}

TEST_F(AuthTest, AnErrorReplyIsNotAnUnknownToken) {
  TokenVerifier verifier(redis_.get(), Options(milliseconds(60000)));
  const std::string token = Issue();
  ASSERT_TRUE(verifier.Verify("Bearer " + token).ok());
  // Redis busy with a script past busy-reply-threshold answers BUSY to
  // everything, as it answers LOADING while it loads its data.
  ASSERT_TRUE(
      redis_->Command({"CONFIG", "SET", "busy-reply-threshold", "50"}).ok());
  std::thread busy([&] {
    RedisOptions o = server_.options();
    o.command_timeout = milliseconds(30000);
    RedisClient other(o);
    (void)other.Command({"EVAL", "while true do end", "0"});
  });
  RedisClient probe(server_.options());
  EXPECT_TRUE(testing::WaitFor(
      [&] {
        auto r = probe.Command({"PING"});
        return r.ok() && r->is_error() && r->str().rfind("BUSY", 0) == 0;
      },
      milliseconds(10000), milliseconds(20)));
  auto fresh = verifier.VerifyFresh("Bearer " + token);
  EXPECT_EQ(fresh.status().code(), absl::StatusCode::kUnavailable)
      << fresh.status();
  EXPECT_TRUE(testing::WaitFor(
      [&] {
        auto r = probe.Command({"SCRIPT", "KILL"});
        return r.ok() && !r->is_error();
      },
      milliseconds(10000), milliseconds(20)));
  busy.join();
  // The cached principal was not evicted as if the token were unknown.
  auto cached = verifier.VerifyCached("Bearer " + token);
  ASSERT_TRUE(cached.has_value());
  EXPECT_TRUE(cached->ok()) << cached->status();
  // Another error (a key of the wrong type) is ours: INTERNAL, not
  // "invalid or revoked token".
  const std::string other = NewTokenSecret();
  ASSERT_TRUE(redis_->Command({"LPUSH", kPrefix + Sha256Hex(other), "x"}).ok());
  auto wrong = verifier.Verify("Bearer " + other);
  EXPECT_EQ(wrong.status().code(), absl::StatusCode::kInternal)
      << wrong.status();
  EXPECT_EQ(wrong.status().message().find("WRONGTYPE"), std::string::npos);
}

TEST_F(AuthTest, CacheServesWithoutRedisWithinItsTtl) {
  TokenVerifier verifier(redis_.get(), Options(milliseconds(60000)));
  TokenVerifier short_lived(redis_.get(), Options(milliseconds(200)));
  const std::string token = Issue();
  ASSERT_TRUE(verifier.Verify("Bearer " + token).ok());
  ASSERT_TRUE(short_lived.Verify("Bearer " + token).ok());
  server_.Kill();
  auto cached = verifier.Verify("Bearer " + token);
  EXPECT_TRUE(cached.ok()) << cached.status();
  // Past its TTL the cache asks Redis, which is down.
  std::this_thread::sleep_for(milliseconds(300));
  EXPECT_EQ(short_lived.Verify("Bearer " + token).status().code(),
            absl::StatusCode::kUnavailable);
  // An uncached token needs Redis.
  EXPECT_EQ(verifier.Verify("Bearer " + NewTokenSecret()).status().code(),
            absl::StatusCode::kUnavailable);
}

// VerifyFresh answers what Redis holds now, whatever the cache says, and a
// revocation it finds clears the cache for every later Verify.
TEST_F(AuthTest, AFreshVerifyLooksPastTheCache) {
  TokenVerifier verifier(redis_.get(), Options(milliseconds(60000)));
  const std::string token = Issue();
  ASSERT_TRUE(verifier.Verify("Bearer " + token).ok());
  Revoke(token);  // no message: the cache alone would keep it for a minute
  EXPECT_TRUE(verifier.Verify("Bearer " + token).ok());
  ExpectUnauthenticated(verifier.VerifyFresh("Bearer " + token), "fresh");
  ExpectUnauthenticated(verifier.Verify("Bearer " + token), "after fresh");
  // A live token is verified fresh too, and cached for the plain Verify.
  const std::string live = Issue();
  auto fresh = verifier.VerifyFresh("Bearer " + live);
  ASSERT_TRUE(fresh.ok()) << fresh.status();
  EXPECT_EQ(fresh->principal_name(), "a.benali");
  server_.Kill();
  EXPECT_TRUE(verifier.Verify("Bearer " + live).ok());
  EXPECT_EQ(verifier.VerifyFresh("Bearer " + live).status().code(),
            absl::StatusCode::kUnavailable);
}

TEST_F(AuthTest, PublishedRevocationTakesEffectWithinASecond) {
  // A TTL far longer than the test: only the revocation message can
  // invalidate the cache.
  TokenVerifier verifier(redis_.get(), Options(milliseconds(60000)));
  verifier.StartRevocationListener(server_.options());
  ASSERT_TRUE(testing::WaitFor(
      [&] {
        auto r = redis_->Command({"PUBSUB", "NUMSUB", kRevocations});
        return r.ok() && r->elements().size() == 2 &&
               r->elements()[1].integer() == 1;
      },
      milliseconds(5000)));
  const std::string token = Issue();
  const std::string other = Issue();
  ASSERT_TRUE(verifier.Verify("Bearer " + token).ok());
  ASSERT_TRUE(verifier.Verify("Bearer " + other).ok());

  Revoke(token);
  // Still cached: the deletion alone is not seen.
  EXPECT_TRUE(verifier.Verify("Bearer " + token).ok());
  ASSERT_TRUE(
      redis_->Command({"PUBLISH", kRevocations, Sha256Hex(token)}).ok());
  // Within a second, as a rule; 10 s for a stalled machine, still far
  // inside the minute of the TTL.
  EXPECT_TRUE(
      testing::WaitFor([&] { return !verifier.Verify("Bearer " + token).ok(); },
                       milliseconds(10000)));
  ExpectUnauthenticated(verifier.Verify("Bearer " + token), "revoked");
  // Only that token was dropped.
  EXPECT_TRUE(verifier.Verify("Bearer " + other).ok());
}

TEST_F(AuthTest, UnpublishedRevocationTakesEffectAfterTheTtl) {
  constexpr milliseconds kTtl(300);
  TokenVerifier verifier(redis_.get(), Options(kTtl));
  const std::string token = Issue();
  auto verified = std::chrono::steady_clock::now();
  ASSERT_TRUE(verifier.Verify("Bearer " + token).ok());
  Revoke(token);
  auto still = verifier.Verify("Bearer " + token);
  if (std::chrono::steady_clock::now() - verified < kTtl) {
    EXPECT_TRUE(still.ok()) << "served from the cache within its TTL";
  }
  std::this_thread::sleep_for(kTtl + milliseconds(50));
  ExpectUnauthenticated(verifier.Verify("Bearer " + token), "after ttl");
}

TEST_F(AuthTest, InvalidateDropsCachedPrincipals) {
  TokenVerifier verifier(redis_.get(), Options(milliseconds(60000)));
  const std::string a = Issue();
  const std::string b = Issue();
  ASSERT_TRUE(verifier.Verify("Bearer " + a).ok());
  ASSERT_TRUE(verifier.Verify("Bearer " + b).ok());
  Revoke(a);
  Revoke(b);
  verifier.Invalidate(Sha256Hex(a));
  ExpectUnauthenticated(verifier.Verify("Bearer " + a), "a");
  EXPECT_TRUE(verifier.Verify("Bearer " + b).ok());
  verifier.InvalidateAll();
  ExpectUnauthenticated(verifier.Verify("Bearer " + b), "b");
}

TEST(RoleSetTest, HasExactlyItsRoles) {
  constexpr RoleSet writers({Role::ROLE_ADMIN, Role::ROLE_COPILOT});
  static_assert(writers.Has(Role::ROLE_ADMIN));
  EXPECT_TRUE(writers.Has(Role::ROLE_ADMIN));
  EXPECT_TRUE(writers.Has(Role::ROLE_COPILOT));
  EXPECT_FALSE(writers.Has(Role::ROLE_MEMBER));
  EXPECT_FALSE(writers.Has(Role::ROLE_READER));
  EXPECT_FALSE(writers.Has(Role::ROLE_UNSPECIFIED));

  constexpr RoleSet any = RoleSet::Any();
  for (Role r : {Role::ROLE_ADMIN, Role::ROLE_COPILOT, Role::ROLE_MEMBER,
                 Role::ROLE_READER}) {
    EXPECT_TRUE(any.Has(r)) << Role_Name(r);
  }
  EXPECT_FALSE(any.Has(Role::ROLE_UNSPECIFIED));
}

TEST(TokenVerifierSingleFlightTest, ConcurrentMissesOfOneTokenLookItUpOnce) {
  std::atomic<int> lookups{0};
  TokenVerifier verifier(
      [&](std::string_view,
          const std::string&) -> absl::StatusOr<std::optional<Actor>> {
        ++lookups;
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
        Actor a;
        a.set_principal_id("p");
        a.set_role(common::v1::Role::ROLE_MEMBER);
        return std::optional<Actor>(a);
      },
      AuthOptions{"", "unused", std::chrono::seconds(10)});
  std::vector<std::thread> callers;
  std::atomic<int> ok{0};
  for (int i = 0; i < 16; ++i) {
    callers.emplace_back([&] {
      if (verifier.Verify("Bearer jalon_same").ok()) ++ok;
    });
  }
  for (auto& t : callers) t.join();
  EXPECT_EQ(ok.load(), 16);
  EXPECT_EQ(lookups.load(), 1);
}

// Feedback and reporting send the token on to the roadmap service in a
// header, where gRPC aborts the process on bytes other than visible ASCII:
// such a token is refused before any lookup.
TEST(TokenVerifierLookupTest, ATokenWithBytesNoHeaderMayHoldIsNeverLookedUp) {
  std::atomic<int> lookups{0};
  TokenVerifier verifier(
      [&](std::string_view,
          const std::string&) -> absl::StatusOr<std::optional<Actor>> {
        ++lookups;
        return std::optional<Actor>();
      },
      AuthOptions{"", "unused", std::chrono::seconds(10)});
  for (const std::string& token :
       {std::string("jalon_\x01"
                    "abc"),
        std::string("jalon_caf\xc3\xa9"), std::string("jalon_a b"),
        std::string("jalon_tab\t"), std::string("jalon_\x7f"),
        std::string("jalon_nul\0x", 11)}) {
    auto r = verifier.Verify("Bearer " + token);
    EXPECT_EQ(r.status().code(), absl::StatusCode::kUnauthenticated);
    EXPECT_EQ(r.status().message(), "invalid token");
  }
  EXPECT_EQ(lookups.load(), 0);
  // A token of visible ASCII is looked up (and unknown here).
  EXPECT_EQ(verifier.Verify("Bearer jalon_AZaz09-_").status().code(),
            absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(lookups.load(), 1);
}

}  // namespace
}  // namespace jalon
