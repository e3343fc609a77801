// The gRPC adapter of the reporting service: the unary RPCs (rpcs.inc) go
// to ReportingService on the executor; WatchStatus streams on a thread of
// its own per watcher, reading the status stream from the client's cursor.
// Every method is raw: it parses its own request (rpc.h, RawMethods).
// Memory per watcher is bounded: one batch is read only when the previous
// one was written, and a client that leaves a message unread longer than
// `write_timeout` is cut off with RESOURCE_EXHAUSTED (it may resume from its
// last cursor); one that reads nothing more for `cutoff_grace` is cancelled.
// A token revoked while watching ends the stream. Thread-safe.
#ifndef JALON_SERVICES_REPORTING_GRPC_SERVICE_H_
#define JALON_SERVICES_REPORTING_GRPC_SERVICE_H_

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>

#include "jalon/reporting/v1/reporting.grpc.pb.h"
#include "services/common/rpc.h"
#include "services/reporting/service.h"

namespace jalon::reporting {

namespace internal {
using Service = pb::ReportingService;
// The generated service with every method raw (bytes in, bytes out).
#define JALON_REPORTING_RPC(Name, Roles) , Service::WithRawCallbackMethod_##Name
using RawReportingService =
    RawMethods<Service::CallbackService
#include "services/reporting/rpcs.inc"
               ,
               Service::WithRawCallbackMethod_WatchStatus>;
#undef JALON_REPORTING_RPC
}  // namespace internal

struct WatchOptions {
  // How long a written message may stay unread before the cut-off.
  std::chrono::milliseconds write_timeout{10000};
  // After the cut-off, how long the client has to take that message (it
  // then sees RESOURCE_EXHAUSTED right after it); past this the call is
  // cancelled, as one may not finish with a write in flight.
  std::chrono::milliseconds cutoff_grace{10000};
  // Concurrent watchers; more get RESOURCE_EXHAUSTED.
  int max_watchers = 256;
  // Updates read per batch.
  int batch = 100;
  // A watch whose filter left updates out tells its client how far it read
  // at most this often (a message with only a cursor).
  std::chrono::milliseconds progress_every{10000};
  // Redis connection options for the watchers' blocking reads.
  RedisOptions redis;
};

class ReportingGrpcService final : public internal::RawReportingService {
 public:
  ReportingGrpcService(ReportingService* service, RpcEnv env,
                       WatchOptions watch);
  ~ReportingGrpcService() override;

#define JALON_REPORTING_RPC JALON_EXECUTOR_RPC
#include "services/reporting/rpcs.inc"
#undef JALON_REPORTING_RPC

  grpc::ServerWriteReactor<grpc::ByteBuffer>* WatchStatus(
      grpc::CallbackServerContext* ctx, const grpc::ByteBuffer* req) override;

  // Ends every watch with UNAVAILABLE (clients resume elsewhere) and waits
  // for their threads. Call before the server's Shutdown.
  void StopWatchers();

 private:
  friend class WatchReactor;
  ReportingService* service_;
  RpcEnv env_;
  WatchOptions watch_;
  std::atomic<bool> stopping_{false};
  std::mutex mu_;
  std::condition_variable cv_;
  int watchers_ = 0;
};

}  // namespace jalon::reporting

#endif  // JALON_SERVICES_REPORTING_GRPC_SERVICE_H_
