#include "services/reporting/grpc_service.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <thread>

#include "absl/strings/str_cat.h"
#include "services/common/logging.h"
#include "services/common/status.h"
#include "services/reporting/watch_header.h"

namespace jalon::reporting {
namespace {

// How often a watcher waiting on a slow client checks for a stop, and how
// long a stopping server lets a client take its last message: a stop then
// ends every watcher within about a second (a read blocks up to 1 s),
// well inside the grace period before the kubelet's SIGKILL.
constexpr std::chrono::milliseconds kStopPoll{100};
constexpr std::chrono::milliseconds kStopGrace{200};

}  // namespace

// One WatchStatus call. Its thread reads the status stream and writes one
// message at a time, waiting for each write to complete (or the client to
// go, or the timeout); it calls Finish last and never touches the reactor
// after that (OnDone deletes it).
class WatchReactor final : public grpc::ServerWriteReactor<grpc::ByteBuffer> {
 public:
  // `request`: the request's bytes, parsed once the caller is admitted.
  WatchReactor(ReportingGrpcService* owner, grpc::CallbackServerContext* ctx,
               const grpc::ByteBuffer& request)
      : owner_(owner), ctx_(ctx), request_bytes_(request) {}

  void Start() {
    std::thread([this] { Run(); }).detach();
  }

  void OnWriteDone(bool ok) override { Settle(ok); }
  void OnSendInitialMetadataDone(bool ok) override { Settle(ok); }
  void OnCancel() override {
    std::lock_guard<std::mutex> lock(mu_);
    cancelled_ = true;
    cv_.notify_all();
  }
  void OnDone() override { delete this; }

 private:
  std::string Metadata(std::string_view key) const {
    const auto& md = ctx_->client_metadata();
    auto it = md.find(grpc::string_ref(key.data(), key.size()));
    if (it == md.end()) return "";
    return std::string(it->second.data(), it->second.size());
  }

  // The end of the one operation this reactor has in flight at a time.
  void Settle(bool ok) {
    std::lock_guard<std::mutex> lock(mu_);
    write_pending_ = false;
    write_ok_ = ok;
    cv_.notify_all();
  }

  // Sends the headers with the cursor the watch starts from, before any
  // update: a client that asked for "from now on" and is cut off before
  // the first update resumes from there, not from a later "now".
  bool SendStart(const std::string& cursor, absl::Status* status) {
    ctx_->AddInitialMetadata(kWatchCursorHeader, cursor);
    return Await([this] { StartSendInitialMetadata(); }, cursor, status);
  }

  // Writes one message (an update, or only a cursor when `u` is null) and
  // waits for it to be taken.
  bool Send(const pb::StatusUpdate* u, const std::string& cursor,
            absl::Status* status) {
    pb::WatchStatusResponse msg;
    if (u != nullptr) *msg.mutable_update() = *u;
    msg.set_cursor(cursor);
    // A member: gRPC holds the pointer until OnWriteDone.
    if (auto s = SerializeResponse(msg, &msg_); !s.ok()) {
      *status = s;
      return false;
    }
    return Await([this] { StartWrite(&msg_); }, cursor, status);
  }

  // Starts an operation and waits for it to complete. False if the client
  // went away, left it unread for the write timeout, or the server stops
  // meanwhile (then the operation is still in flight); *status says how
  // the call ends, and that it may resume from `cursor`.
  template <typename StartOp>
  bool Await(StartOp start, const std::string& cursor, absl::Status* status) {
    std::unique_lock<std::mutex> lock(mu_);
    write_pending_ = true;
    lock.unlock();
    start();
    lock.lock();
    // Woken by the write or a cancellation; a stop is polled, so that a
    // slow client cannot hold the server's stop for the write timeout.
    const auto deadline =
        std::chrono::steady_clock::now() + owner_->watch_.write_timeout;
    auto settled = [this] {
      return !write_pending_ || cancelled_ || owner_->stopping_.load();
    };
    while (!settled() && std::chrono::steady_clock::now() < deadline) {
      cv_.wait_until(
          lock,
          std::min(deadline, std::chrono::steady_clock::now() + kStopPoll),
          settled);
    }
    if (!write_pending_ && write_ok_) {
      told_ = cursor;
      told_at_ = std::chrono::steady_clock::now();
      return true;
    }
    if (cancelled_ || !write_pending_) {
      *status = absl::CancelledError("client went away");
      return false;
    }
    if (owner_->stopping_.load()) {
      *status = WithReason(
          absl::UnavailableError(
              "server shutting down; resume from the last cursor received"),
          "SHUTTING_DOWN");
      return false;
    }
    *status = WithReason(absl::ResourceExhaustedError(
                             absl::StrCat("the client did not read for ",
                                          owner_->watch_.write_timeout.count(),
                                          " ms; resume from cursor ", cursor)),
                         "SLOW_CLIENT");
    return false;
  }

  void Run() {
    absl::Status status = Serve();
    if (absl::IsCancelled(status)) status = absl::OkStatus();
    spdlog::debug("msg=watch_end code={} detail={}",
                  absl::StatusCodeToString(status.code()),
                  LogValue(std::string(status.message())));
    {
      // Finish must not overtake a write in flight: give the client the
      // grace to take it (then it sees the status right after), else cancel
      // the call, which completes the write. A stop, even one that comes
      // during the grace, cuts it to kStopGrace: the server has a deadline.
      auto deadline =
          std::chrono::steady_clock::now() + owner_->watch_.cutoff_grace;
      bool stop_seen = false;
      auto settled = [this] { return !write_pending_ || cancelled_; };
      std::unique_lock<std::mutex> lock(mu_);
      while (!settled() && std::chrono::steady_clock::now() < deadline) {
        const auto now = std::chrono::steady_clock::now();
        if (!stop_seen && owner_->stopping_.load()) {
          stop_seen = true;
          deadline = std::min(deadline, now + kStopGrace);
        }
        cv_.wait_until(lock, std::min(deadline, now + kStopPoll), settled);
      }
      if (!settled()) {
        lock.unlock();
        ctx_->TryCancel();
        lock.lock();
      }
      cv_.wait(lock, [this] { return !write_pending_; });
    }
    grpc::Status final_status = ToGrpcStatus(status, owner_->env_.domain);
    {
      std::lock_guard<std::mutex> lock(owner_->mu_);
      --owner_->watchers_;
      owner_->cv_.notify_all();
    }
    Finish(final_status);  // last use of `this` on this thread
  }

  absl::Status Serve() {
    const std::string authorization = Metadata("authorization");
    auto actor = owner_->env_.verifier->Verify(authorization);
    if (!actor.ok()) return actor.status();
    if (auto s = ParseRequest(&request_bytes_, &req_); !s.ok()) return s;
    if (auto s = ReportingService::ValidateFilter(req_.filter(), "filter");
        !s.ok()) {
      return s;
    }
    RedisOptions options = owner_->watch_.redis;
    options.pool_size = 1;
    RedisClient conn(options);
    auto cursor = owner_->service_->ResolveCursor(&conn, req_.cursor());
    if (!cursor.ok()) return cursor.status();
    std::string position = *cursor;
    if (absl::Status why; !SendStart(position, &why)) return why;
    // Block less than the command timeout, and wake to notice a stop.
    const auto block =
        std::min(std::chrono::milliseconds(1000), options.command_timeout / 2);
    for (;;) {
      {
        std::lock_guard<std::mutex> lock(mu_);
        if (cancelled_) return absl::CancelledError("client went away");
      }
      // A token revoked while watching stops the stream too (the verifier
      // caches for --auth-cache-ttl, so this is cheap).
      if (auto again = owner_->env_.verifier->Verify(authorization);
          !again.ok()) {
        return again.status();
      }
      if (owner_->stopping_.load()) {
        return WithReason(
            absl::UnavailableError(absl::StrCat(
                "server shutting down; resume from cursor ", position)),
            "SHUTTING_DOWN");
      }
      auto updates = owner_->service_->ReadUpdates(
          &conn, req_.filter(), &position, owner_->watch_.batch, block);
      if (!updates.ok()) return updates.status();
      for (const auto& u : *updates) {
        absl::Status why;
        if (!Send(&u, u.cursor(), &why)) return why;
      }
      // Read past updates the filter left out: say so, now and then.
      if (position != told_ && std::chrono::steady_clock::now() - told_at_ >=
                                   owner_->watch_.progress_every) {
        absl::Status why;
        if (!Send(nullptr, position, &why)) return why;
      }
    }
  }

  ReportingGrpcService* owner_;
  grpc::CallbackServerContext* ctx_;
  const grpc::ByteBuffer request_bytes_;
  pb::WatchStatusRequest req_;  // parsed by Serve
  std::mutex mu_;
  std::condition_variable cv_;
  bool write_pending_ = false;
  bool write_ok_ = true;
  bool cancelled_ = false;
  grpc::ByteBuffer msg_;  // the message being written
  // The last cursor the client was sent, and when (the serving thread's).
  std::string told_;
  std::chrono::steady_clock::time_point told_at_;
};

ReportingGrpcService::ReportingGrpcService(ReportingService* service,
                                           RpcEnv env, WatchOptions watch)
    : service_(service), env_(std::move(env)), watch_(std::move(watch)) {}

ReportingGrpcService::~ReportingGrpcService() { StopWatchers(); }

grpc::ServerWriteReactor<grpc::ByteBuffer>* ReportingGrpcService::WatchStatus(
    grpc::CallbackServerContext* ctx, const grpc::ByteBuffer* req) {
  auto* reactor = new WatchReactor(this, ctx, *req);
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_.load()) {
      reactor->Finish(grpc::Status(grpc::StatusCode::UNAVAILABLE,
                                   "server shutting down; retry elsewhere"));
      return reactor;
    }
    if (watchers_ >= watch_.max_watchers) {
      reactor->Finish(grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                                   "too many watchers; retry later"));
      return reactor;
    }
    ++watchers_;
  }
  reactor->Start();
  return reactor;
}

void ReportingGrpcService::StopWatchers() {
  stopping_.store(true);
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [this] { return watchers_ == 0; });
}

}  // namespace jalon::reporting
