#include "services/common/redis.h"

#include <hiredis.h>
#include <openssl/sha.h>
#include <poll.h>
#include <signal.h>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <mutex>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "services/common/logging.h"
#include "services/common/status.h"

namespace jalon {

namespace {

// Error replies of a Redis that cannot serve for a while, and will again
// by itself: loading its data after a restart, running a script past
// busy-reply-threshold, a replica without its master or one that refuses
// writes, a full client table. A retry later can succeed.
bool IsTransientErrorReply(std::string_view error) {
  for (std::string_view code :
       {"LOADING ", "BUSY ", "MASTERDOWN ", "TRYAGAIN ", "READONLY ",
        "CLUSTERDOWN ", "NOREPLICAS ", "ERR max number of clients reached"}) {
    if (error.substr(0, code.size()) == code) return true;
  }
  // A write refused inside a script reads "...: READONLY You can't...".
  return error.find(" READONLY You can't write") != std::string_view::npos;
}

absl::Status Unavailable() {
  return absl::UnavailableError("storage unavailable, retry later");
}

}  // namespace

absl::Status StatusOfErrorReply(const RedisReply& reply,
                                std::string_view what) {
  // A Redis whose last snapshot or append-only write failed (a full or
  // broken disk) refuses writes until one succeeds: an operator must act,
  // so an error in the log, but clients only have to retry later.
  if (reply.str().rfind("MISCONF ", 0) == 0 ||
      reply.str().find(" MISCONF ") != std::string::npos) {
    spdlog::error("msg=redis_cannot_persist what={} error={}", what,
                  LogValue(reply.str()));
    return Unavailable();
  }
  if (IsTransientErrorReply(reply.str())) {
    spdlog::warn("msg=redis_busy what={} error={}", what,
                 LogValue(reply.str()));
    return Unavailable();
  }
  spdlog::error("msg=redis_error_reply what={} error={}", what,
                LogValue(reply.str()));
  // Inside a script the error reads "...: OOM command not allowed...".
  if (reply.str().rfind("OOM ", 0) == 0 ||
      reply.str().find(" OOM command not allowed") != std::string::npos) {
    return WithReason(
        absl::ResourceExhaustedError(
            "storage is full: writes are refused until an operator makes "
            "room; nothing was changed"),
        "STORAGE_FULL");
  }
  return absl::InternalError("internal storage error");
}

bool IsNoSuchKeyReply(const RedisReply& reply) {
  return reply.is_error() && reply.str() == "ERR no such key";
}

absl::StatusOr<RedisReply> Checked(absl::StatusOr<RedisReply> reply,
                                   std::string_view what) {
  if (reply.ok() && reply->is_error()) {
    return StatusOfErrorReply(*reply, what);
  }
  return reply;
}

absl::StatusOr<std::vector<RedisReply>> Checked(
    absl::StatusOr<std::vector<RedisReply>> replies, std::string_view what) {
  if (!replies.ok()) return replies;
  for (const auto& r : *replies) {
    if (r.is_error()) return StatusOfErrorReply(r, what);
  }
  return replies;
}

namespace {

timeval ToTimeval(std::chrono::milliseconds ms) {
  timeval tv;
  tv.tv_sec = ms.count() / 1000;
  tv.tv_usec = (ms.count() % 1000) * 1000;
  return tv;
}

// A command as hiredis takes it: pointers and lengths (binary-safe).
struct Argv {
  explicit Argv(const RedisArgs& args) {
    ptrs.reserve(args.size());
    lens.reserve(args.size());
    for (const auto& a : args) {
      ptrs.push_back(a.data());
      lens.push_back(a.size());
    }
  }
  // Appends the command to the context's output buffer.
  bool AppendTo(redisContext* ctx) {
    return redisAppendCommandArgv(ctx, static_cast<int>(ptrs.size()),
                                  ptrs.data(), lens.data()) == REDIS_OK;
  }
  std::vector<const char*> ptrs;
  std::vector<size_t> lens;
};

// Sends one command on a context and reads its reply. nullptr on a
// transport error (ctx->err is then set).
redisReply* Exec(redisContext* ctx, const RedisArgs& args) {
  Argv a(args);
  return static_cast<redisReply*>(redisCommandArgv(
      ctx, static_cast<int>(a.ptrs.size()), a.ptrs.data(), a.lens.data()));
}

}  // namespace

RedisReply RedisReply::FromHiredis(const redisReply* r) {
  RedisReply out;
  switch (r->type) {
    case REDIS_REPLY_NIL:
      out.type_ = Type::kNil;
      break;
    case REDIS_REPLY_INTEGER:
      out.type_ = Type::kInteger;
      out.integer_ = r->integer;
      break;
    case REDIS_REPLY_STRING:
      out.type_ = Type::kString;
      out.str_.assign(r->str, r->len);
      break;
    case REDIS_REPLY_STATUS:
      out.type_ = Type::kStatus;
      out.str_.assign(r->str, r->len);
      break;
    case REDIS_REPLY_ERROR:
      out.type_ = Type::kError;
      out.str_.assign(r->str, r->len);
      break;
    case REDIS_REPLY_ARRAY:
      out.type_ = Type::kArray;
      out.elements_.reserve(r->elements);
      for (size_t i = 0; i < r->elements; ++i) {
        out.elements_.push_back(FromHiredis(r->element[i]));
      }
      break;
    default:
      out.type_ = Type::kNil;
  }
  return out;
}

absl::Status RedisOptions::ParseUrl(std::string_view url) {
  std::string_view rest = url;
  if (rest.substr(0, 8) == "redis://") rest.remove_prefix(8);
  if (rest.find('@') != std::string_view::npos) {
    return absl::InvalidArgumentError(
        "must not contain credentials; put the password in a file and pass "
        "it with --redis-password-file / JALON_REDIS_PASSWORD_FILE");
  }
  std::string_view hostport = rest;
  if (auto slash = rest.find('/'); slash != std::string_view::npos) {
    hostport = rest.substr(0, slash);
    std::string_view dbs = rest.substr(slash + 1);
    if (!dbs.empty() &&
        (!absl::SimpleAtoi(std::string(dbs), &db) || db < 0 || db > 15)) {
      return absl::InvalidArgumentError("database must be a number 0..15");
    }
  }
  auto colon = hostport.rfind(':');
  if (colon == std::string_view::npos || colon == 0) {
    return absl::InvalidArgumentError(
        "expected redis://HOST:PORT[/DB], e.g. redis://127.0.0.1:6379/0");
  }
  host = std::string(hostport.substr(0, colon));
  if (!absl::SimpleAtoi(std::string(hostport.substr(colon + 1)), &port) ||
      port <= 0 || port > 65535) {
    return absl::InvalidArgumentError("port must be a number 1..65535");
  }
  return absl::OkStatus();
}

std::string RedisOptions::Describe() const {
  return absl::StrCat(host, ":", port, "/", db);
}

RedisScript::RedisScript(std::string source) : source_(std::move(source)) {
  unsigned char digest[SHA_DIGEST_LENGTH];
  SHA1(reinterpret_cast<const unsigned char*>(source_.data()), source_.size(),
       digest);
  char hex[2 * SHA_DIGEST_LENGTH + 1];
  for (int i = 0; i < SHA_DIGEST_LENGTH; ++i) {
    std::snprintf(hex + 2 * i, 3, "%02x", digest[i]);
  }
  sha_.assign(hex, 2 * SHA_DIGEST_LENGTH);
}

redisContext* ConnectRedis(const RedisOptions& options) {
  // hiredis 0.14 writes with write(), not send(MSG_NOSIGNAL): a write of
  // more than a socket buffer to a Redis that went away raises SIGPIPE,
  // which would kill the process instead of returning UNAVAILABLE.
  static std::once_flag ignore_sigpipe;
  std::call_once(ignore_sigpipe, [] { signal(SIGPIPE, SIG_IGN); });
  redisContext* ctx = redisConnectWithTimeout(
      options.host.c_str(), options.port, ToTimeval(options.connect_timeout));
  if (ctx == nullptr) return nullptr;
  if (ctx->err) {
    spdlog::warn("msg=redis_connect_failed redis={} error={}",
                 options.Describe(), ctx->errstr);
    redisFree(ctx);
    return nullptr;
  }
  redisSetTimeout(ctx, ToTimeval(options.command_timeout));
  redisEnableKeepAlive(ctx);
  auto check = [&](const RedisArgs& args, const char* what) {
    redisReply* r = Exec(ctx, args);
    bool ok = r != nullptr && r->type != REDIS_REPLY_ERROR;
    if (!ok) {
      // The reply text of a failed AUTH names no secret; still, log only
      // which step failed.
      spdlog::warn("msg=redis_handshake_failed step={} redis={}", what,
                   options.Describe());
    }
    if (r) freeReplyObject(r);
    return ok;
  };
  if (!options.password.empty() && !check({"AUTH", options.password}, "AUTH")) {
    redisFree(ctx);
    return nullptr;
  }
  if (options.db != 0 &&
      !check({"SELECT", std::to_string(options.db)}, "SELECT")) {
    redisFree(ctx);
    return nullptr;
  }
  return ctx;
}

RedisClient::RedisClient(RedisOptions options) : options_(std::move(options)) {
  if (options_.pool_size < 1) options_.pool_size = 1;
  for (int i = 0; i < options_.pool_size; ++i) {
    slots_.push_back(std::make_unique<Slot>(options_));
    free_.push_back(slots_.back().get());
  }
}

RedisClient::~RedisClient() {
  for (auto& s : slots_) {
    if (s->ctx) redisFree(s->ctx);
  }
}

RedisClient::Slot* RedisClient::Acquire() {
  std::unique_lock<std::mutex> lock(mu_);
  if (!cv_.wait_for(lock, options_.command_timeout,
                    [&] { return !free_.empty(); })) {
    return nullptr;
  }
  Slot* s = free_.back();
  free_.pop_back();
  return s;
}

void RedisClient::Release(Slot* slot) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    free_.push_back(slot);
  }
  cv_.notify_one();
}

absl::Status RedisClient::Ensure(Slot* slot) {
  if (slot->ctx) return absl::OkStatus();
  auto now = Backoff::Clock::now();
  if (!slot->backoff.Ready(now)) return Unavailable();
  slot->ctx = ConnectRedis(options_);
  if (slot->ctx == nullptr) {
    // From the attempt's end: one that took longer than the backoff (a
    // Redis that accepts and never answers AUTH) would leave none.
    slot->backoff.Failed(Backoff::Clock::now());
    return Unavailable();
  }
  slot->backoff.Succeeded();
  return absl::OkStatus();
}

void RedisClient::Discard(Slot* slot, std::string_view why) {
  spdlog::warn("msg=redis_connection_dropped redis={} error={}",
               options_.Describe(), LogValue(why));
  redisFree(slot->ctx);
  slot->ctx = nullptr;
  // Reconnect on next use without waiting: the next failure starts backoff.
  slot->backoff.RetryNow();
}

absl::StatusOr<std::vector<RedisReply>> RedisClient::RunPipeline(
    Slot* slot, const RedisArgs* const* commands, size_t n) {
  if (auto s = Ensure(slot); !s.ok()) return s;
  redisContext* ctx = slot->ctx;
  for (size_t c = 0; c < n; ++c) {
    if (!Argv(*commands[c]).AppendTo(ctx)) {
      Discard(slot, ctx->errstr);
      return Unavailable();
    }
  }
  std::vector<RedisReply> out;
  out.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    void* raw = nullptr;
    if (redisGetReply(ctx, &raw) != REDIS_OK || raw == nullptr) {
      Discard(slot, ctx->errstr);
      return Unavailable();
    }
    auto* r = static_cast<redisReply*>(raw);
    out.push_back(RedisReply::FromHiredis(r));
    freeReplyObject(r);
  }
  return out;
}

class RedisClient::Lease {
 public:
  explicit Lease(RedisClient* c) : client_(c), slot_(c->Acquire()) {}
  ~Lease() {
    if (slot_) client_->Release(slot_);
  }
  Slot* get() const { return slot_; }

 private:
  RedisClient* client_;
  Slot* slot_;
};

absl::StatusOr<std::vector<RedisReply>> RedisClient::Run(
    const RedisArgs* const* commands, size_t n) {
  Lease lease(this);
  if (!lease.get()) {
    return absl::UnavailableError("storage busy, retry later");
  }
  round_trips_.fetch_add(1, std::memory_order_relaxed);
  return RunPipeline(lease.get(), commands, n);
}

absl::StatusOr<std::vector<RedisReply>> RedisClient::Pipeline(
    const std::vector<RedisArgs>& commands) {
  std::vector<const RedisArgs*> refs;
  refs.reserve(commands.size());
  for (const auto& c : commands) refs.push_back(&c);
  return Run(refs.data(), refs.size());
}

absl::StatusOr<RedisReply> RedisClient::Command(const RedisArgs& args) {
  const RedisArgs* one = &args;
  auto replies = Run(&one, 1);
  if (!replies.ok()) return replies.status();
  return std::move((*replies)[0]);
}

absl::StatusOr<RedisReply> RedisClient::Eval(const RedisScript& script,
                                             const RedisArgs& keys,
                                             const RedisArgs& args) {
  RedisArgs cmd;
  cmd.reserve(3 + keys.size() + args.size());
  cmd.push_back("EVALSHA");
  cmd.push_back(script.sha());
  cmd.push_back(std::to_string(keys.size()));
  cmd.insert(cmd.end(), keys.begin(), keys.end());
  cmd.insert(cmd.end(), args.begin(), args.end());
  auto reply = Command(cmd);
  if (!reply.ok()) return reply;
  if (reply->is_error() && reply->str().rfind("NOSCRIPT", 0) == 0) {
    // Redis restarted or SCRIPT FLUSH ran: load it and call it again. Both
    // go in one pipeline; EVALSHA after SCRIPT LOAD cannot miss.
    auto replies = Pipeline({{"SCRIPT", "LOAD", script.source()}, cmd});
    if (!replies.ok()) return replies.status();
    return std::move((*replies)[1]);
  }
  return reply;
}

absl::Status RedisClient::Ping() {
  auto reply = Command({"PING"});
  if (!reply.ok()) return reply.status();
  if (reply->str() != "PONG") {
    // e.g. LOADING while Redis replays its AOF: not ready yet.
    return absl::UnavailableError("storage not ready");
  }
  return absl::OkStatus();
}

RedisSubscriber::RedisSubscriber(RedisOptions options,
                                 std::vector<std::string> channels,
                                 MessageFn on_message,
                                 std::function<void()> on_reconnect)
    : options_(std::move(options)),
      channels_(std::move(channels)),
      on_message_(std::move(on_message)),
      on_reconnect_(std::move(on_reconnect)) {}

RedisSubscriber::~RedisSubscriber() { Stop(); }

void RedisSubscriber::Start() {
  thread_ = std::thread([this] { Run(); });
}

void RedisSubscriber::Stop() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

namespace {

// Appends a command to the context's output and writes it out.
bool SendCommand(redisContext* ctx, const RedisArgs& args) {
  if (!Argv(args).AppendTo(ctx)) return false;
  int done = 0;
  while (!done) {
    if (redisBufferWrite(ctx, &done) != REDIS_OK) return false;
  }
  return true;
}

bool IsKind(const redisReply* r, std::string_view kind) {
  return r->type == REDIS_REPLY_ARRAY && r->elements >= 1 &&
         r->element[0]->type == REDIS_REPLY_STRING &&
         std::string_view(r->element[0]->str, r->element[0]->len) == kind;
}

}  // namespace

bool RedisSubscriber::ReadMessages(redisContext* ctx, size_t* confirmed) {
  if (redisBufferRead(ctx) != REDIS_OK) return false;
  bool ok = true;
  void* raw = nullptr;
  while (redisGetReplyFromReader(ctx, &raw) == REDIS_OK && raw) {
    auto* r = static_cast<redisReply*>(raw);
    if (r->type == REDIS_REPLY_ERROR) {
      spdlog::warn("msg=redis_subscribe_refused redis={}", options_.Describe());
      ok = false;
    } else if (IsKind(r, "subscribe")) {
      ++*confirmed;
    } else if (IsKind(r, "message") && r->elements == 3) {
      on_message_(std::string(r->element[1]->str, r->element[1]->len),
                  std::string(r->element[2]->str, r->element[2]->len));
    }  // else a "pong"
    freeReplyObject(r);
    raw = nullptr;
  }
  return ok;
}

void RedisSubscriber::Run() {
  using Clock = std::chrono::steady_clock;
  Backoff backoff(options_);
  bool first = true;
  while (!stop_) {
    redisContext* ctx = ConnectRedis(options_);
    if (ctx == nullptr) {
      backoff.Failed(Clock::now());
      std::this_thread::sleep_for(backoff.delay());
      continue;
    }
    RedisArgs sub = {"SUBSCRIBE"};
    sub.insert(sub.end(), channels_.begin(), channels_.end());
    bool ok = SendCommand(ctx, sub);
    // Subscribed only once Redis confirms every channel: a refused
    // SUBSCRIBE (e.g. by an ACL) must not pass for a live subscription.
    size_t confirmed = 0;
    auto deadline =
        Clock::now() + options_.connect_timeout + options_.command_timeout;
    while (ok && confirmed < channels_.size() && Clock::now() < deadline) {
      pollfd pfd{ctx->fd, POLLIN, 0};
      if (poll(&pfd, 1, 100) <= 0) continue;
      ok = ReadMessages(ctx, &confirmed);
    }
    ok = ok && confirmed == channels_.size();
    if (ok) {
      backoff.Succeeded();
      connected_ = true;
      if (!first && on_reconnect_) on_reconnect_();
      first = false;
    } else {
      backoff.Failed(Clock::now());
      std::this_thread::sleep_for(backoff.delay());
    }
    // Poll with a short timeout so Stop() is honoured promptly; hiredis'
    // own read timeout would break the context. After `ping_every_` of
    // quiet, a PING; nothing heard within the command timeout after it
    // means the connection is gone, whatever TCP says.
    const auto tick = std::min(std::chrono::milliseconds(200), ping_every_);
    auto heard = Clock::now();
    bool pinged = false;
    while (ok && !stop_) {
      pollfd pfd{ctx->fd, POLLIN, 0};
      int n = poll(&pfd, 1, static_cast<int>(tick.count()));
      if (n < 0) break;
      const auto now = Clock::now();
      if (n > 0) {
        if (!ReadMessages(ctx, &confirmed)) break;
        heard = now;
        pinged = false;
        continue;
      }
      if (!pinged && now - heard >= ping_every_) {
        if (!SendCommand(ctx, {"PING"})) break;
        pinged = true;
      } else if (pinged &&
                 now - heard >= ping_every_ + options_.command_timeout) {
        spdlog::warn("msg=redis_subscriber_silent redis={}",
                     options_.Describe());
        break;
      }
    }
    connected_ = false;
    // A lost subscription may have missed messages: tell the user now, not
    // only once we are back.
    if (!stop_ && on_reconnect_) on_reconnect_();
    redisFree(ctx);
  }
}

}  // namespace jalon
