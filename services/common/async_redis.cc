#include "services/common/async_redis.h"

#include <errno.h>
#include <fcntl.h>
#include <hiredis.h>
#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <exception>
#include <mutex>
#include <optional>
#include <string_view>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "services/common/logging.h"

namespace jalon {
namespace {

using Clock = std::chrono::steady_clock;

absl::Status Unavailable() {
  return absl::UnavailableError("storage unavailable, retry later");
}

void AppendBulk(std::string* out, std::string_view s) {
  absl::StrAppend(out, "$", s.size(), "\r\n");
  out->append(s.data(), s.size());
  out->append("\r\n");
}

constexpr char kEvalShaPrefix[] = "$7\r\nEVALSHA\r\n$40\r\n";

// The loop a thread runs, so a blocking call from a callback is caught
// instead of deadlocking.
thread_local const void* current_loop = nullptr;

}  // namespace

class AsyncRedis::Loop {
 public:
  Loop(const RedisOptions* options, int index, std::atomic<size_t>* pending)
      : options_(options),
        index_(index),
        pending_(pending),
        backoff_(*options) {
    wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    thread_ = std::thread([this] { Run(); });
  }

  ~Loop() {
    Stop();
    Join();
    close(wake_fd_);
  }

  // Stops taking commands; the thread fails what is pending and exits.
  void Stop() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    Wake();
  }
  void Join() {
    if (thread_.joinable()) thread_.join();
  }

  void Send(std::string command, Callback done) {
    bool wake = false;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!stop_) {
        queue_.push_back({std::move(command), std::move(done),
                          Clock::now() + options_->command_timeout});
        wake = sleeping_ && !wake_sent_;
        if (wake) wake_sent_ = true;
        done = nullptr;
      }
    }
    if (done) {  // stopped: fail here, outside the lock
      Complete(std::move(done), Unavailable());
      return;
    }
    if (wake) Wake();
  }

 private:
  struct Pending {
    std::string command;
    Callback done;
    Clock::time_point deadline;
  };
  struct InFlight {
    Callback done;
    Clock::time_point deadline;
  };

  // Every command ends here: it no longer counts as pending.
  // A callback that throws (a bug) is logged; the loop and every other
  // command on it go on.
  void Complete(Callback done, absl::StatusOr<RedisReply> result) {
    pending_->fetch_sub(1, std::memory_order_relaxed);
    try {
      std::move(done)(std::move(result));
    } catch (const std::exception& ex) {
      spdlog::error("msg=redis_callback_exception loop={} error={}", index_,
                    LogValue(ex.what()));
    }
  }

  void Wake() {
    uint64_t one = 1;
    // A full counter (EAGAIN) still wakes the loop: nothing to handle.
    [[maybe_unused]] ssize_t n = write(wake_fd_, &one, sizeof(one));
  }

  void Run() {
    current_loop = this;
    std::vector<Pending> batch;
    for (;;) {
      {
        std::lock_guard<std::mutex> lock(mu_);
        if (stop_) break;
        batch.swap(queue_);
      }
      if (!batch.empty()) Admit(&batch);
      if (ctx_ != nullptr) Flush();
      int timeout_ms = -1;
      if (!inflight_.empty()) {
        auto left = std::chrono::ceil<std::chrono::milliseconds>(
            inflight_.front().deadline - Clock::now());
        timeout_ms = static_cast<int>(std::max<int64_t>(0, left.count()));
      }
      {
        std::lock_guard<std::mutex> lock(mu_);
        if (stop_ || !queue_.empty()) continue;  // more work: do not sleep
        sleeping_ = true;
      }
      pollfd fds[2] = {{wake_fd_, POLLIN, 0}, {-1, 0, 0}};
      if (ctx_ != nullptr) {
        fds[1].fd = ctx_->fd;
        fds[1].events = POLLIN | (sdslen(ctx_->obuf) > 0 ? POLLOUT : 0);
      }
      int n = poll(fds, 2, timeout_ms);
      bool drain_wake = false;
      {
        std::lock_guard<std::mutex> lock(mu_);
        sleeping_ = false;
        drain_wake = wake_sent_;
        wake_sent_ = false;
      }
      if (drain_wake || (n > 0 && (fds[0].revents & POLLIN))) {
        uint64_t count;
        [[maybe_unused]] ssize_t r = read(wake_fd_, &count, sizeof(count));
      }
      if (n > 0 && ctx_ != nullptr && fds[1].revents != 0) {
        if (fds[1].revents & (POLLIN | POLLERR | POLLHUP)) ReadReplies();
      }
      if (ctx_ != nullptr && !inflight_.empty() &&
          inflight_.front().deadline <= Clock::now()) {
        Drop("command timed out");
      }
    }
    // Stopping: everything not answered fails.
    Drop({});
    std::vector<Pending> rest;
    {
      std::lock_guard<std::mutex> lock(mu_);
      rest.swap(queue_);
    }
    for (auto& p : rest) Complete(std::move(p.done), Unavailable());
  }

  // Appends a batch of commands to the connection's output buffer, making
  // the connection first if needed.
  void Admit(std::vector<Pending>* batch) {
    if (ctx_ == nullptr && !Connect()) {
      for (auto& p : *batch) Complete(std::move(p.done), Unavailable());
      batch->clear();
      return;
    }
    // Connect() may have blocked: a command whose time ran out meanwhile
    // fails unsent, so its caller knows it was not applied (sent, it might
    // be, with the caller told otherwise), and it does not make the turn
    // drop the connection for the fresh ones.
    const auto now = Clock::now();
    for (auto& p : *batch) {
      if (p.deadline <= now) {
        Complete(std::move(p.done), Unavailable());
        continue;
      }
      if (redisAppendFormattedCommand(ctx_, p.command.data(),
                                      p.command.size()) != REDIS_OK) {
        Complete(std::move(p.done), Unavailable());
        continue;
      }
      inflight_.push_back({std::move(p.done), p.deadline});
    }
    batch->clear();
  }

  bool Connect() {
    auto now = Clock::now();
    if (!backoff_.Ready(now)) return false;
    ctx_ = ConnectRedis(*options_);
    if (ctx_ == nullptr) {
      backoff_.Failed(Clock::now());  // from the attempt's end, as RedisClient
      return false;
    }
    int flags = fcntl(ctx_->fd, F_GETFL);
    if (flags < 0 || fcntl(ctx_->fd, F_SETFL, flags | O_NONBLOCK) < 0) {
      redisFree(ctx_);
      ctx_ = nullptr;
      return false;
    }
    ctx_->flags &= ~REDIS_BLOCK;
    backoff_.Succeeded();
    if (dropped_) {
      spdlog::info("msg=redis_reconnected redis={} loop={}",
                   options_->Describe(), index_);
      dropped_ = false;
    }
    return true;
  }

  void Flush() {
    while (sdslen(ctx_->obuf) > 0) {
      size_t before = sdslen(ctx_->obuf);
      int done = 0;
      if (redisBufferWrite(ctx_, &done) != REDIS_OK) {
        Drop(ctx_->errstr);
        return;
      }
      if (sdslen(ctx_->obuf) == before) return;  // socket full: poll
    }
  }

  void ReadReplies() {
    char buf[64 * 1024];
    for (;;) {
      ssize_t n = read(ctx_->fd, buf, sizeof(buf));
      if (n > 0) {
        if (redisReaderFeed(ctx_->reader, buf, static_cast<size_t>(n)) !=
            REDIS_OK) {
          Drop("protocol error");
          return;
        }
        if (static_cast<size_t>(n) < sizeof(buf)) break;
        continue;
      }
      if (n == 0) {
        Drop("connection closed by Redis");
        return;
      }
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      Drop(std::strerror(errno));
      return;
    }
    for (;;) {
      void* raw = nullptr;
      if (redisReaderGetReply(ctx_->reader, &raw) != REDIS_OK) {
        Drop("protocol error");
        return;
      }
      if (raw == nullptr) return;
      auto* reply = static_cast<redisReply*>(raw);
      if (inflight_.empty()) {  // a reply nobody asked for: out of step
        freeReplyObject(reply);
        Drop("unexpected reply");
        return;
      }
      InFlight f = std::move(inflight_.front());
      inflight_.pop_front();
      RedisReply r = RedisReply::FromHiredis(reply);
      freeReplyObject(reply);
      Complete(std::move(f.done), std::move(r));
    }
  }

  // Discards the connection; every command on it fails UNAVAILABLE (their
  // replies can no longer be matched). The next command reconnects. An
  // empty `why` is a deliberate stop, not worth a warning.
  void Drop(std::string_view why) {
    if (ctx_ != nullptr) {
      if (!why.empty()) {
        spdlog::warn("msg=redis_connection_dropped redis={} loop={} error={}",
                     options_->Describe(), index_, LogValue(why));
      }
      redisFree(ctx_);
      ctx_ = nullptr;
      dropped_ = true;
    }
    std::deque<InFlight> failed;
    failed.swap(inflight_);
    for (auto& f : failed) Complete(std::move(f.done), Unavailable());
  }

  const RedisOptions* options_;
  const int index_;
  std::atomic<size_t>* pending_;
  int wake_fd_ = -1;

  std::mutex mu_;
  std::vector<Pending> queue_;  // guarded by mu_
  bool sleeping_ = false;       // guarded by mu_
  bool wake_sent_ = false;      // guarded by mu_
  bool stop_ = false;           // guarded by mu_

  // Loop thread only.
  redisContext* ctx_ = nullptr;
  std::deque<InFlight> inflight_;
  Backoff backoff_;
  bool dropped_ = false;

  std::thread thread_;
};

AsyncRedis::AsyncRedis(RedisOptions options, int loops, size_t max_pending)
    : options_(std::move(options)), max_pending_(max_pending) {
  for (int i = 0; i < std::max(1, loops); ++i) {
    loops_.push_back(std::make_unique<Loop>(&options_, i, &pending_));
  }
}

AsyncRedis::~AsyncRedis() {
  // Every loop stops before any is destroyed: a callback failed by one
  // loop's shutdown may still queue a command on another, which must then
  // fail at once rather than reach a destroyed loop.
  for (auto& loop : loops_) loop->Stop();
  for (auto& loop : loops_) loop->Join();
}

std::string AsyncRedis::Format(const RedisArgs& args) {
  size_t size = 16;
  for (const auto& a : args) size += a.size() + 16;
  std::string out;
  out.reserve(size);
  absl::StrAppend(&out, "*", args.size(), "\r\n");
  for (const auto& a : args) AppendBulk(&out, a);
  return out;
}

void AsyncRedis::Send(std::string command, Callback done) {
  // Bounded like the executor's queue: past it, fail at once rather than
  // let commands pile up until they time out.
  if (pending_.fetch_add(1, std::memory_order_relaxed) >= max_pending_) {
    pending_.fetch_sub(1, std::memory_order_relaxed);
    std::move(done)(absl::UnavailableError("server overloaded, retry later"));
    return;
  }
  // A command sent from one of our loops' callbacks (the next step of a
  // chain, e.g. an update's EVALSHA after its HMGET) stays on that loop: it
  // goes out with the loop's next write and wakes no other thread. Any
  // other command goes round robin.
  for (const auto& loop : loops_) {
    if (loop.get() == current_loop) {
      loop->Send(std::move(command), std::move(done));
      return;
    }
  }
  unsigned i = next_.fetch_add(1, std::memory_order_relaxed) % loops_.size();
  loops_[i]->Send(std::move(command), std::move(done));
}

void AsyncRedis::Command(const RedisArgs& args, Callback done) {
  Send(Format(args), std::move(done));
}

void AsyncRedis::Eval(const RedisScript& script, const RedisArgs& keys,
                      const RedisArgs& args, Callback done) {
  std::string header = absl::StrCat("*", 3 + keys.size() + args.size(), "\r\n");
  std::string tail;  // numkeys, keys, args: the same for EVAL and EVALSHA
  AppendBulk(&tail, std::to_string(keys.size()));
  for (const auto& k : keys) AppendBulk(&tail, k);
  for (const auto& a : args) AppendBulk(&tail, a);
  std::string evalsha =
      absl::StrCat(header, kEvalShaPrefix, script.sha(), "\r\n", tail);
  Send(std::move(evalsha),
       [this, &script, header = std::move(header), tail = std::move(tail),
        done = std::move(done)](absl::StatusOr<RedisReply> r) mutable {
         if (r.ok() && r->is_error() && r->str().rfind("NOSCRIPT", 0) == 0) {
           std::string eval = header;
           eval.append("$4\r\nEVAL\r\n");
           AppendBulk(&eval, script.source());
           eval.append(tail);
           Send(std::move(eval), std::move(done));
           return;
         }
         std::move(done)(std::move(r));
       });
}

namespace {

// Waits for one callback's result.
class Waiter {
 public:
  AsyncRedis::Callback Callback() {
    return [this](absl::StatusOr<RedisReply> r) {
      std::lock_guard<std::mutex> lock(mu_);
      result_ = std::move(r);
      cv_.notify_one();
    };
  }
  absl::StatusOr<RedisReply> Wait() {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return result_.has_value(); });
    return *std::move(result_);
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::optional<absl::StatusOr<RedisReply>> result_;
};

}  // namespace

absl::StatusOr<RedisReply> AsyncRedis::CommandSync(const RedisArgs& args) {
  if (current_loop != nullptr) {
    return absl::InternalError("blocking Redis call on an event loop");
  }
  Waiter w;
  Command(args, w.Callback());
  return w.Wait();
}

absl::StatusOr<RedisReply> AsyncRedis::EvalSync(const RedisScript& script,
                                                const RedisArgs& keys,
                                                const RedisArgs& args) {
  if (current_loop != nullptr) {
    return absl::InternalError("blocking Redis call on an event loop");
  }
  Waiter w;
  Eval(script, keys, args, w.Callback());
  return w.Wait();
}

}  // namespace jalon
