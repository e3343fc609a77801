#include "bench/raw_redis.h"

#include <hiredis/async.h>
#include <poll.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "services/common/async_redis.h"

namespace jalon::bench {
namespace {

using SteadyClock = std::chrono::steady_clock;

// Sleeps through the warm-up and the measured window, moving `phase` from
// 0 (warm-up) to 1 (measure) to 2 (stop); returns the window in seconds.
double RunWindow(const RawRedisOptions& options, std::atomic<int>* phase) {
  std::this_thread::sleep_for(options.warmup);
  auto t0 = SteadyClock::now();
  *phase = 1;
  std::this_thread::sleep_for(options.measure);
  *phase = 2;
  return std::chrono::duration<double>(SteadyClock::now() - t0).count();
}

Nanos Since(SteadyClock::time_point start) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             SteadyClock::now() - start)
      .count();
}

// --- (b) hiredis async on a hand-written poll() loop ------------------------

// hiredis 0.14 has no poll() adapter: its hooks only tell us which events
// the connection wants; the loop below waits for them and calls back in.
struct PollEvents {
  bool reading = false;
  bool writing = false;
};

void AddRead(void* p) { static_cast<PollEvents*>(p)->reading = true; }
void DelRead(void* p) { static_cast<PollEvents*>(p)->reading = false; }
void AddWrite(void* p) { static_cast<PollEvents*>(p)->writing = true; }
void DelWrite(void* p) { static_cast<PollEvents*>(p)->writing = false; }
void Cleanup(void* p) {
  auto* ev = static_cast<PollEvents*>(p);
  ev->reading = ev->writing = false;
}

// One pipelined run. Replies come back in order on one connection, but each
// command carries its slot so latency is per command regardless.
class AsyncRun {
 public:
  explicit AsyncRun(const RawRedisOptions& options) : options_(options) {
    for (const auto& a : options.command) {
      argv_.push_back(a.data());
      lens_.push_back(a.size());
    }
    starts_.resize(options.concurrency);
  }

  RunResult Run() {
    RunResult out;
    ac_ = redisAsyncConnect(options_.redis.host.c_str(), options_.redis.port);
    if (ac_ == nullptr || ac_->err) {
      out.errors = 1;
      out.first_error = ac_ ? ac_->errstr : "cannot allocate a context";
      if (ac_) redisAsyncFree(ac_);
      return out;
    }
    ac_->data = this;
    ac_->ev.data = &events_;
    ac_->ev.addRead = AddRead;
    ac_->ev.delRead = DelRead;
    ac_->ev.addWrite = AddWrite;
    ac_->ev.delWrite = DelWrite;
    ac_->ev.cleanup = Cleanup;
    // On a transport error hiredis frees the context itself and says so
    // here; the loop must not touch it afterwards.
    redisAsyncSetDisconnectCallback(ac_, &AsyncRun::OnDisconnect);
    // Queued before the first command; the connection completes in the loop.
    if (!options_.redis.password.empty()) {
      const char* auth[] = {"AUTH", options_.redis.password.c_str()};
      redisAsyncCommandArgv(ac_, nullptr, nullptr, 2, auth, nullptr);
    }
    if (options_.redis.db != 0) {
      std::string db = std::to_string(options_.redis.db);
      const char* select[] = {"SELECT", db.c_str()};
      redisAsyncCommandArgv(ac_, nullptr, nullptr, 2, select, nullptr);
    }
    for (int i = 0; i < options_.concurrency; ++i) Send(i);

    auto begin = SteadyClock::now();
    auto t0 = begin + options_.warmup;
    auto t1 = t0 + options_.measure;
    while (phase_ != kStop || in_flight_ > 0) {
      auto now = SteadyClock::now();
      if (phase_ == kWarmup && now >= t0) phase_ = kMeasure;
      if (phase_ == kMeasure && now >= t1) phase_ = kStop;
      if (failed_ || ac_ == nullptr) break;
      pollfd pfd{ac_->c.fd, 0, 0};
      if (events_.reading) pfd.events |= POLLIN;
      if (events_.writing) pfd.events |= POLLOUT;
      if (poll(&pfd, 1, 10) <= 0) continue;
      if (pfd.revents & (POLLIN | POLLERR | POLLHUP)) {
        redisAsyncHandleRead(ac_);
      }
      if (ac_ != nullptr && !failed_ && (pfd.revents & POLLOUT)) {
        redisAsyncHandleWrite(ac_);
      }
    }
    stopping_free_ = true;
    // Calls any callback still pending with a null reply, then frees.
    if (ac_ != nullptr) redisAsyncFree(ac_);
    if (failed_) {
      out.errors = 1;
      out.first_error = disconnect_error_;
    }
    Summarize(latencies_, std::chrono::duration<double>(t1 - t0).count(), &out);
    out.total_calls = total_;
    out.errors += errors_;
    if (out.first_error.empty()) out.first_error = first_error_;
    return out;
  }

 private:
  enum Phase { kWarmup, kMeasure, kStop };

  void Send(int slot) {
    starts_[slot] = SteadyClock::now();
    if (redisAsyncCommandArgv(ac_, &AsyncRun::OnReply,
                              reinterpret_cast<void*>(intptr_t{slot}),
                              static_cast<int>(argv_.size()), argv_.data(),
                              lens_.data()) != REDIS_OK) {
      failed_ = true;
      return;
    }
    ++in_flight_;
  }

  static void OnDisconnect(const redisAsyncContext* ac, int status) {
    auto* self = static_cast<AsyncRun*>(ac->data);
    if (status != REDIS_OK && !self->stopping_free_) {
      self->failed_ = true;
      self->disconnect_error_ = ac->errstr ? ac->errstr : "disconnected";
    }
    self->ac_ = nullptr;
  }

  static void OnReply(redisAsyncContext* ac, void* reply, void* privdata) {
    auto* self = static_cast<AsyncRun*>(ac->data);
    int slot = static_cast<int>(reinterpret_cast<intptr_t>(privdata));
    self->Reply(slot, static_cast<redisReply*>(reply));
  }

  void Reply(int slot, redisReply* reply) {
    --in_flight_;
    if (stopping_free_) return;
    ++total_;
    if (reply == nullptr || reply->type == REDIS_REPLY_ERROR) {
      if (errors_++ == 0) {
        first_error_ = reply ? std::string(reply->str, reply->len)
                             : std::string("connection lost");
      }
      if (reply == nullptr) failed_ = true;
    } else if (phase_ == kMeasure) {
      latencies_.push_back(Since(starts_[slot]));
    }
    if (phase_ != kStop && !failed_) Send(slot);
  }

  const RawRedisOptions options_;
  std::vector<const char*> argv_;
  std::vector<size_t> lens_;
  redisAsyncContext* ac_ = nullptr;
  PollEvents events_;
  Phase phase_ = kWarmup;
  bool failed_ = false;
  bool stopping_free_ = false;
  int in_flight_ = 0;
  int64_t total_ = 0;
  int64_t errors_ = 0;
  std::string first_error_;
  std::string disconnect_error_;
  std::vector<SteadyClock::time_point> starts_;
  std::vector<Nanos> latencies_;
};

}  // namespace

// --- (a) the service's way: blocking calls on a pool, one thread each -----

RunResult RunBlockingPool(const RawRedisOptions& options) {
  RedisOptions ro = options.redis;
  ro.pool_size = std::min(options.concurrency, options.max_pool);
  RedisClient client(ro);
  // Connect every pooled connection before the clock starts.
  for (int i = 0; i < ro.pool_size; ++i) client.Ping().IgnoreError();

  std::atomic<int> phase{0};  // 0 warm-up, 1 measure, 2 stop
  std::atomic<int64_t> total{0}, errors{0};
  std::mutex mu;
  std::string first_error;
  std::vector<std::vector<Nanos>> latencies(options.concurrency);
  std::vector<std::thread> threads;
  for (int i = 0; i < options.concurrency; ++i) {
    threads.emplace_back([&, i] {
      latencies[i].reserve(1 << 16);
      while (phase.load() != 2) {
        auto start = SteadyClock::now();
        auto reply = client.Command(options.command);
        Nanos took = Since(start);
        total.fetch_add(1);
        if (!reply.ok() || reply->is_error()) {
          if (errors.fetch_add(1) == 0) {
            std::lock_guard<std::mutex> lock(mu);
            first_error = reply.ok() ? reply->str()
                                     : std::string(reply.status().message());
          }
        } else if (phase.load() == 1) {
          latencies[i].push_back(took);
        }
      }
    });
  }
  const double seconds = RunWindow(options, &phase);
  for (auto& t : threads) t.join();

  RunResult out;
  std::vector<Nanos> all;
  for (const auto& l : latencies) all.insert(all.end(), l.begin(), l.end());
  Summarize(all, seconds, &out);
  out.total_calls = total.load();
  out.errors = errors.load();
  out.first_error = first_error;
  return out;
}

RunResult RunAsyncPipelined(const RawRedisOptions& options) {
  AsyncRun run(options);
  return run.Run();
}

namespace {

// One in-flight slot of RunAsyncRedis: each reply starts the next command.
struct AsyncRedisSlot {
  AsyncRedis* redis;
  const RawRedisOptions* options;
  std::atomic<int>* phase;
  std::atomic<int64_t>* total;
  std::atomic<int64_t>* errors;
  std::atomic<int>* idle;  // slots that stopped issuing
  std::vector<Nanos> latencies;
  std::string first_error;

  void Next() {
    if (phase->load() == 2) {
      idle->fetch_add(1);
      return;
    }
    auto start = SteadyClock::now();
    redis->Command(
        options->command, [this, start](absl::StatusOr<RedisReply> reply) {
          Nanos took = Since(start);
          total->fetch_add(1);
          if (!reply.ok() || reply->is_error()) {
            if (errors->fetch_add(1) == 0) {
              first_error = reply.ok() ? reply->str()
                                       : std::string(reply.status().message());
            }
          } else if (phase->load() == 1) {
            latencies.push_back(took);
          }
          Next();
        });
  }
};

}  // namespace

RunResult RunAsyncRedis(const RawRedisOptions& options) {
  AsyncRedis redis(options.redis, options.loops);
  std::atomic<int> phase{0};
  std::atomic<int64_t> total{0}, errors{0};
  std::atomic<int> idle{0};
  std::vector<std::unique_ptr<AsyncRedisSlot>> slots;
  for (int i = 0; i < options.concurrency; ++i) {
    slots.push_back(std::make_unique<AsyncRedisSlot>(AsyncRedisSlot{
        &redis, &options, &phase, &total, &errors, &idle, {}, {}}));
    slots.back()->latencies.reserve(1 << 16);
  }
  for (auto& s : slots) s->Next();
  const double seconds = RunWindow(options, &phase);
  while (idle.load() < options.concurrency) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  RunResult out;
  std::vector<Nanos> all;
  for (const auto& s : slots) {
    all.insert(all.end(), s->latencies.begin(), s->latencies.end());
    if (out.first_error.empty()) out.first_error = s->first_error;
  }
  Summarize(all, seconds, &out);
  out.total_calls = total.load();
  out.errors = errors.load();
  return out;
}

}  // namespace jalon::bench
