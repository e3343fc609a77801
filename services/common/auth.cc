#include "services/common/auth.h"

#include <strings.h>

#include <utility>

#include "absl/strings/match.h"
#include "services/common/ids.h"
#include "services/common/requests.h"
#include "services/common/status.h"

namespace jalon {
namespace {

absl::Status Unauthenticated(std::string_view why) {
  return WithReason(absl::UnauthenticatedError(std::string(why)),
                    "UNAUTHENTICATED");
}

}  // namespace

TokenVerifier::TokenVerifier(RedisClient* redis, AuthOptions options)
    : options_(std::move(options)) {
  lookup_ =
      [redis, prefix = options_.key_prefix](
          std::string_view,
          const std::string& hash) -> absl::StatusOr<std::optional<Actor>> {
    auto reply = redis->Command({"GET", prefix + hash});
    if (!reply.ok()) return reply.status();
    // An error reply (Redis still loading its data, say) says nothing
    // about the token: not "unknown", which would evict it from the cache
    // and answer UNAUTHENTICATED.
    if (reply->is_error()) return StatusOfErrorReply(*reply, "GET token");
    Actor actor;
    if (reply->is_nil() || !actor.ParseFromString(reply->str())) {
      return std::optional<Actor>();
    }
    return std::optional<Actor>(std::move(actor));
  };
}

TokenVerifier::TokenVerifier(PrincipalLookup lookup, AuthOptions options)
    : lookup_(std::move(lookup)), options_(std::move(options)) {}

TokenVerifier::~TokenVerifier() {
  if (subscriber_) subscriber_->Stop();
}

void TokenVerifier::StartRevocationListener(const RedisOptions& options) {
  RedisOptions o = options;
  o.pool_size = 1;
  subscriber_ = std::make_unique<RedisSubscriber>(
      o, std::vector<std::string>{options_.revocation_channel},
      [this](const std::string&, const std::string& hash) { Invalidate(hash); },
      [this] { InvalidateAll(); });
  subscriber_->Start();
}

void TokenVerifier::Invalidate(const std::string& token_hash) {
  std::unique_lock lock(mu_);
  cache_.erase(token_hash);
  ++generation_;
}

void TokenVerifier::InvalidateAll() {
  std::unique_lock lock(mu_);
  cache_.clear();
  ++generation_;
}

namespace {

// The token of an "authorization" value, or why there is none.
absl::StatusOr<std::string_view> BearerToken(std::string_view authorization) {
  if (authorization.empty()) {
    return Unauthenticated(
        "missing credentials: send 'authorization: Bearer <token>'");
  }
  constexpr std::string_view kBearer = "Bearer ";
  if (authorization.size() <= kBearer.size() ||
      strncasecmp(authorization.data(), kBearer.data(), kBearer.size()) != 0) {
    return Unauthenticated(
        "malformed authorization header: expected 'Bearer <token>'");
  }
  std::string_view token = authorization.substr(kBearer.size());
  // Jalon's tokens are visible ASCII. Nothing else goes further: feedback
  // and reporting send the token on to the roadmap service, and gRPC aborts
  // the process on a header value with other bytes.
  if (token.size() > 512 || !IsVisibleAscii(token)) {
    return Unauthenticated("invalid token");
  }
  return token;
}

}  // namespace

std::optional<absl::StatusOr<Actor>> TokenVerifier::VerifyCached(
    std::string_view authorization) {
  auto token = BearerToken(authorization);
  if (!token.ok()) return token.status();
  auto actor = Cached(Sha256Hex(*token), std::chrono::steady_clock::now());
  if (actor) return *actor;
  return std::nullopt;
}

std::shared_ptr<const Actor> TokenVerifier::Cached(
    const std::string& hash, std::chrono::steady_clock::time_point now) {
  std::shared_lock lock(mu_);
  auto it = cache_.find(hash);
  if (it != cache_.end() && it->second.expires > now) return it->second.actor;
  return nullptr;
}

absl::StatusOr<Actor> TokenVerifier::Verify(std::string_view authorization) {
  return Verify(authorization, /*fresh=*/false);
}

absl::StatusOr<Actor> TokenVerifier::VerifyFresh(
    std::string_view authorization) {
  return Verify(authorization, /*fresh=*/true);
}

absl::StatusOr<Actor> TokenVerifier::Verify(std::string_view authorization,
                                            bool fresh) {
  auto bearer = BearerToken(authorization);
  if (!bearer.ok()) return bearer.status();
  std::string_view token = *bearer;
  std::string hash = Sha256Hex(token);
  auto now = std::chrono::steady_clock::now();
  if (!fresh) {
    if (auto actor = Cached(hash, now)) return *actor;
  }
  std::lock_guard<std::mutex> single_flight(
      lookup_mu_[std::hash<std::string>{}(hash) % 16]);
  // Read before looking again: an invalidation from here on voids the
  // lookup's answer for the cache.
  uint64_t generation;
  {
    std::shared_lock lock(mu_);
    generation = generation_;
  }
  // Another caller of this token may have filled the cache meanwhile.
  if (!fresh) {
    if (auto actor = Cached(hash, now)) return *actor;
  }
  auto found = lookup_(token, hash);
  if (!found.ok()) return found.status();
  if (!found->has_value()) {
    // A fresh look may find a principal the cache still holds revoked.
    std::unique_lock lock(mu_);
    cache_.erase(hash);
    return Unauthenticated("invalid or revoked token");
  }
  auto actor = std::make_shared<const Actor>(**std::move(found));
  std::unique_lock lock(mu_);
  if (generation != generation_) return *actor;  // answer, but do not cache
  // Bounded: one entry per live token; stale ones are overwritten or erased.
  if (cache_.size() > 100'000) cache_.clear();
  cache_[hash] = {actor, now + options_.cache_ttl};
  return *actor;
}

}  // namespace jalon
