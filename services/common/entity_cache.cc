#include "services/common/entity_cache.h"

#include <algorithm>
#include <charconv>
#include <functional>
#include <limits>
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

size_t EntityCache::size() {
  size_t n = 0;
  for (Shard& shard : shards_) {
    std::shared_lock lock(shard.mu);
    n += shard.entries.size();
  }
  return n;
}

bool EntityCache::live() const {
  if (per_shard_ == 0) return false;
  return listener_ ? listener_->connected() : live_.load();
}

std::shared_ptr<const EntityCache::Held> EntityCache::Find(
    std::string_view key) {
  if (!live()) return nullptr;
  std::shared_ptr<const Held> found;
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
  (found ? hits_ : misses_).fetch_add(1, std::memory_order_relaxed);
  return found;
}

std::optional<Stored> EntityCache::Get(std::string_view key) {
  auto found = Find(key);
  if (!found) return std::nullopt;
  Stored out = *found;
  out.cached = true;
  return out;
}

absl::StatusOr<EntityCache::Rendering> EntityCache::Rendered(
    std::string_view key, int64_t tag, Render render) {
  auto found = Find(key);
  if (!found) return nullptr;
  {
    std::lock_guard lock(found->mu);
    if (found->rendering && found->rendering_tag == tag) {
      return found->rendering;
    }
  }
  // Made outside the lock: two callers may both render, and the same state
  // renders the same, so either result will do.
  auto made = render(*found);
  if (!made.ok()) return made.status();
  auto rendering = std::make_shared<const std::string>(*std::move(made));
  std::lock_guard lock(found->mu);
  found->rendering = rendering;
  found->rendering_tag = tag;
  return rendering;
}

EntityCache::Ticket EntityCache::Begin(std::string_view key) {
  Ticket t;
  t.begun = std::chrono::steady_clock::now();
  if (!live()) return t;
  Shard& shard = ShardOf(key);
  std::shared_lock lock(shard.mu);
  t.generation = shard.generation;
  t.live = true;
  return t;
}

bool EntityCache::Below(const Shard& shard, std::string_view key,
                        int64_t version,
                        std::chrono::steady_clock::time_point now,
                        bool versioned_only) {
  auto it = shard.floors.find(key);
  if (it == shard.floors.end() || now >= it->second.expires) return false;
  if (!versioned_only && it->second.unversioned) return true;
  return it->second.version > version;
}

std::shared_ptr<const EntityCache::Held> EntityCache::Kept(std::string data,
                                                           int64_t version) {
  auto kept = std::make_shared<Held>();
  kept->data = std::move(data);
  kept->version = version;
  return kept;
}

void EntityCache::Keep(Shard& shard, std::string_view key,
                       std::shared_ptr<const Held> kept,
                       std::chrono::steady_clock::time_point now,
                       std::chrono::steady_clock::time_point asked) {
  const int64_t version = kept->version;
  // A ttl from when Redis was asked, not from when its answer came: the
  // bound on staleness holds however slow the answer was.
  Entry entry{std::move(kept), asked + options_.ttl};
  // The sweep below must not wait past the first expiry of anything held.
  shard.next_sweep = std::min(shard.next_sweep, entry.expires);
  auto it = shard.entries.find(key);
  if (it != shard.entries.end()) {
    // Versions only grow: never replace a newer state with an older one.
    if (it->second.stored->version <= version) it->second = std::move(entry);
    return;
  }
  if (shard.entries.size() >= per_shard_) {
    // Room goes first to what has expired (an expired entry stays until
    // then), so a burst of entries read once does not push out the ones
    // read again and again. The sweep runs when something can have expired:
    // next_sweep is the first expiry of what it left or was added since.
    if (now >= shard.next_sweep) {
      auto soonest = std::chrono::steady_clock::time_point::max();
      std::erase_if(shard.entries, [&](const auto& e) {
        if (e.second.expires <= now) return true;
        soonest = std::min(soonest, e.second.expires);
        return false;
      });
      shard.next_sweep = soonest;
    }
    if (shard.entries.size() >= per_shard_) {
      // Full of live entries: the one that expires first goes. (Not
      // begin(): libstdc++ often puts the newest node there, and a full
      // shard would then churn what it just took in.)
      auto oldest =
          std::min_element(shard.entries.begin(), shard.entries.end(),
                           [](const auto& a, const auto& b) {
                             return a.second.expires < b.second.expires;
                           });
      shard.entries.erase(oldest);
    }
  }
  shard.entries.emplace(std::string(key), std::move(entry));
}

void EntityCache::Put(std::string_view key, Ticket ticket, const Stored& s) {
  // An entity with an "h" field is also written outside its {v, d} (e.g. a
  // token's hash): only whole entities are kept.
  if (!ticket.live || s.version <= 0 || !s.extra.empty() || !live()) return;
  const auto now = std::chrono::steady_clock::now();
  // Older than a ttl, the read may have raced a floor that is forgotten.
  if (now - ticket.begun >= options_.ttl) return;
  auto kept = Kept(s.data, s.version);
  Shard& shard = ShardOf(key);
  std::unique_lock lock(shard.mu);
  if (shard.generation != ticket.generation) return;  // see Shard
  // A write newer than what the read found was announced meanwhile. (A
  // write without a version bumped the generation instead.)
  if (Below(shard, key, s.version, now, /*versioned_only=*/true)) return;
  Keep(shard, key, std::move(kept), now, ticket.begun);
}

EntityCache::CommitTicket EntityCache::BeginCommit() const {
  // The epoch is read first: a loss after it voids the ticket, a loss
  // before it shows as not live.
  CommitTicket t;
  t.epoch = epoch_.load();
  t.sent = std::chrono::steady_clock::now();
  t.live = live();
  return t;
}

void EntityCache::Install(std::string_view key, const CommitTicket& ticket,
                          Stored s) {
  const int64_t version = s.version;
  const bool whole = s.extra.empty();
  auto kept = Kept(std::move(s.data), version);
  const auto now = std::chrono::steady_clock::now();
  Shard& shard = ShardOf(key);
  std::unique_lock lock(shard.mu);
  // A read in flight may have begun before the commit: whatever it found
  // is not newer than this, so it is not kept.
  ++shard.generation;
  const bool keep = ticket.live && live() && epoch_.load() == ticket.epoch &&
                    now - ticket.sent < options_.ttl && version > 0 && whole &&
                    !Below(shard, key, version, now);
  if (keep) {
    Keep(shard, key, std::move(kept), now, ticket.sent);
    return;
  }
  auto it = shard.entries.find(key);
  if (it != shard.entries.end() && it->second.stored->version < version) {
    shard.entries.erase(it);
  }
}

void EntityCache::Drop(std::string_view key) {
  Shard& shard = ShardOf(key);
  std::unique_lock lock(shard.mu);
  if (auto it = shard.entries.find(key); it != shard.entries.end()) {
    shard.entries.erase(it);
  }
  ++shard.generation;
}

void EntityCache::Invalidate(std::string_view key, int64_t version) {
  const auto now = std::chrono::steady_clock::now();
  const int64_t floor =
      version > 0 ? version : std::numeric_limits<int64_t>::max();
  Shard& shard = ShardOf(key);
  std::unique_lock lock(shard.mu);
  if (auto it = shard.entries.find(key);
      it != shard.entries.end() && it->second.stored->version < floor) {
    shard.entries.erase(it);
  }
  // A versioned announcement stops older reads through the floor alone.
  if (version <= 0) ++shard.generation;
  auto [it, inserted] = shard.floors.try_emplace(std::string(key));
  Floor& f = it->second;
  if (!inserted && now >= f.expires) f = Floor{};  // forgotten: start again
  if (version > 0) {
    f.version = std::max(f.version, version);
  } else {
    f.unversioned = true;
  }
  f.expires = now + 2 * options_.ttl;
  if (shard.floors.size() >= shard.sweep_at) {
    std::erase_if(shard.floors,
                  [&](const auto& f) { return f.second.expires <= now; });
    shard.sweep_at = std::max<size_t>(64, 2 * shard.floors.size());
  }
}

void EntityCache::InvalidateList(std::string_view lines) {
  while (!lines.empty()) {
    size_t end = lines.find('\n');
    std::string_view line = lines.substr(0, end);
    int64_t version = 0;
    if (size_t space = line.find(' '); space != std::string_view::npos) {
      // A version that does not parse counts as none: drop, whatever it is.
      std::string_view digits = line.substr(space + 1);
      auto [end_digits, ec] = std::from_chars(
          digits.data(), digits.data() + digits.size(), version);
      if (ec != std::errc() || end_digits != digits.data() + digits.size()) {
        version = 0;
      }
      line = line.substr(0, space);
    }
    if (!line.empty()) Invalidate(line, version);
    if (end == std::string_view::npos) break;
    lines.remove_prefix(end + 1);
  }
}

void EntityCache::InvalidateAll() {
  epoch_.fetch_add(1);
  for (Shard& shard : shards_) {
    std::unique_lock lock(shard.mu);
    shard.entries.clear();
    shard.floors.clear();
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
