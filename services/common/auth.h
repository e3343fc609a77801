// Bearer-token authentication shared by every service. A token is looked up
// by its SHA-256 (the secret itself is stored nowhere), the principal found
// is cached for at most `cache_ttl`, and a revocation published on
// `revocation_channel` drops it from every process's cache at once; the TTL
// bounds how late a revocation can be even if that message is lost.
// Thread-safe.
#ifndef JALON_SERVICES_COMMON_AUTH_H_
#define JALON_SERVICES_COMMON_AUTH_H_

#include <chrono>
#include <functional>
#include <initializer_list>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "absl/status/statusor.h"
#include "jalon/common/v1/common.pb.h"
#include "services/common/redis.h"

namespace jalon {

using common::v1::Actor;
using common::v1::Role;

struct AuthOptions {
  // Key of a principal: prefix + hex SHA-256 of the token; value: a
  // serialized jalon.common.v1.Actor.
  std::string key_prefix = "jalon:roadmap:token_hash:";
  std::string revocation_channel = "jalon:roadmap:revocations";
  std::chrono::milliseconds cache_ttl{1000};
};

// Finds the principal of a token; nullopt when it is unknown or revoked.
using PrincipalLookup = std::function<absl::StatusOr<std::optional<Actor>>(
    std::string_view token, const std::string& token_hash)>;

class TokenVerifier {
 public:
  // Looks principals up in Redis under options.key_prefix (the service that
  // owns the tokens).
  TokenVerifier(RedisClient* redis, AuthOptions options);
  // Looks principals up with `lookup` (e.g. asking the roadmap service).
  TokenVerifier(PrincipalLookup lookup, AuthOptions options);
  ~TokenVerifier();

  // Verifies an "authorization" metadata value ("Bearer <token>").
  // UNAUTHENTICATED (missing, malformed, unknown or revoked token; the
  // message never echoes the token), UNAVAILABLE (Redis down, or unable to
  // serve for a while: loading, busy) or INTERNAL (another error reply).
  absl::StatusOr<Actor> Verify(std::string_view authorization);
  // Verify without a lookup, for a thread that must not block: the answer
  // when the header is malformed or the principal is cached, else nullopt
  // (call Verify where blocking is allowed).
  std::optional<absl::StatusOr<Actor>> VerifyCached(
      std::string_view authorization);
  // Verify that always looks the token up (and caches what it finds), for
  // an answer other processes will cache in turn: one from this cache could
  // be up to a TTL old, and theirs would add another.
  absl::StatusOr<Actor> VerifyFresh(std::string_view authorization);

  // Listens for revocations on its own Redis connection.
  void StartRevocationListener(const RedisOptions& options);
  void Invalidate(const std::string& token_hash);
  void InvalidateAll();

  const AuthOptions& options() const { return options_; }

 private:
  struct Entry {
    std::shared_ptr<const Actor> actor;
    std::chrono::steady_clock::time_point expires;
  };
  // The principal cached for `hash`, if fresh.
  std::shared_ptr<const Actor> Cached(
      const std::string& hash, std::chrono::steady_clock::time_point now);
  // Verify's lookup, from the cache unless `fresh`.
  absl::StatusOr<Actor> Verify(std::string_view authorization, bool fresh);

  PrincipalLookup lookup_;
  AuthOptions options_;
  // Every call reads the cache, from every gRPC thread at once: readers
  // share the lock, so they never wait for each other.
  std::shared_mutex mu_;
  std::unordered_map<std::string, Entry> cache_;
  // Bumped by every invalidation: a lookup that started before one must not
  // cache what it found (it may be a principal revoked meanwhile).
  uint64_t generation_ = 0;
  // Misses of one token wait for one lookup instead of each making their
  // own (striped by hash, so different tokens rarely wait for each other).
  std::mutex lookup_mu_[16];
  std::unique_ptr<RedisSubscriber> subscriber_;
};

// A set of roles an RPC allows.
class RoleSet {
 public:
  constexpr RoleSet(std::initializer_list<Role> roles) {
    for (Role r : roles) bits_ |= 1u << static_cast<int>(r);
  }
  constexpr bool Has(Role r) const {
    return (bits_ >> static_cast<int>(r)) & 1u;
  }
  static constexpr RoleSet Any() {
    return RoleSet({Role::ROLE_ADMIN, Role::ROLE_COPILOT, Role::ROLE_MEMBER,
                    Role::ROLE_READER});
  }

 private:
  unsigned bits_ = 0;
};

}  // namespace jalon

#endif  // JALON_SERVICES_COMMON_AUTH_H_
