#include "services/common/entity_cache.h"

#include <algorithm>
#include <functional>
#include <utility>
#include <vector>

namespace jalon {

EntityCache::EntityCache(EntityCacheOptions options)
    : options_(options),
      per_shard_(options.capacity == 0
                     ? 0
                     : std::max<size_t>(1, options.capacity / kShards)) {}

EntityCache::~EntityCache() {
  if (listener_) listener_->Stop();
}

EntityCache::Shard& EntityCache::ShardOf(std::string_view key) {
  return shards_[std::hash<std::string_view>()(key) % kShards];
}

bool EntityCache::live() const {
  if (per_shard_ == 0) return false;
  return listener_ ? listener_->connected() : live_.load();
}

std::optional<Stored> EntityCache::Get(std::string_view key) {
  if (!live()) return std::nullopt;
  std::shared_ptr<const Stored> found;
  {
    // An expired entry stays until a Put replaces it or makes room.
    Shard& shard = ShardOf(key);
    std::shared_lock lock(shard.mu);
    auto it = shard.entries.find(key);
    if (it != shard.entries.end() &&
        std::chrono::steady_clock::now() < it->second.expires) {
      found = it->second.stored;
    }
  }
  if (!found) {
    misses_.fetch_add(1, std::memory_order_relaxed);
    return std::nullopt;
  }
  hits_.fetch_add(1, std::memory_order_relaxed);
  Stored out = *found;
  out.cached = true;
  return out;
}

EntityCache::Ticket EntityCache::Begin(std::string_view key) {
  if (!live()) return kNoTicket;
  Shard& shard = ShardOf(key);
  std::shared_lock lock(shard.mu);
  return shard.generation;
}

void EntityCache::Put(std::string_view key, Ticket ticket, const Stored& s) {
  // An entity with an "h" field is also written outside its {v, d} (e.g. a
  // token's hash): only whole entities are kept.
  if (ticket == kNoTicket || s.version <= 0 || !s.extra.empty() || !live()) {
    return;
  }
  auto kept = std::make_shared<Stored>();
  kept->data = s.data;
  kept->version = s.version;
  std::shared_ptr<const Stored> stored = std::move(kept);
  const auto expires = std::chrono::steady_clock::now() + options_.ttl;
  Shard& shard = ShardOf(key);
  std::unique_lock lock(shard.mu);
  if (shard.generation != ticket) return;  // invalidated while in flight
  auto it = shard.entries.find(key);
  if (it != shard.entries.end()) {
    // Versions only grow: never replace a newer state with an older one.
    if (it->second.stored->version <= s.version) {
      it->second = Entry{std::move(stored), expires};
    }
    return;
  }
  if (shard.entries.size() >= per_shard_) {
    shard.entries.erase(shard.entries.begin());  // any one will do
  }
  shard.entries.emplace(std::string(key), Entry{std::move(stored), expires});
}

void EntityCache::Invalidate(std::string_view key) {
  Shard& shard = ShardOf(key);
  std::unique_lock lock(shard.mu);
  if (auto it = shard.entries.find(key); it != shard.entries.end()) {
    shard.entries.erase(it);
  }
  ++shard.generation;
}

void EntityCache::InvalidateList(std::string_view keys) {
  while (!keys.empty()) {
    size_t end = keys.find('\n');
    std::string_view key = keys.substr(0, end);
    if (!key.empty()) Invalidate(key);
    if (end == std::string_view::npos) break;
    keys.remove_prefix(end + 1);
  }
}

void EntityCache::InvalidateAll() {
  for (Shard& shard : shards_) {
    std::unique_lock lock(shard.mu);
    shard.entries.clear();
    ++shard.generation;
  }
}

void EntityCache::StartListener(const RedisOptions& options,
                                std::string channel) {
  RedisOptions o = options;
  o.pool_size = 1;
  listener_ = std::make_unique<RedisSubscriber>(
      o, std::vector<std::string>{std::move(channel)},
      [this](const std::string&, const std::string& keys) {
        InvalidateList(keys);
      },
      [this] { InvalidateAll(); });
  listener_->Start();
}

}  // namespace jalon
