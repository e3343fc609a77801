// Hosts a service's gRPC servers: the callback-API services, the standard
// grpc.health.v1 health service whose readiness (the service's own name)
// follows a live Redis PING (NOT_SERVING while Redis is unreachable, SERVING
// when it returns; the process never exits for it) and whose liveness (the
// overall status "") stays SERVING until the stop, server reflection, keepalive
// and message size limits, and a graceful stop: NOT_SERVING first, then
// in-flight calls drain within the grace period. Start/Shutdown from one
// thread; the health watcher runs on its own thread.
#ifndef JALON_SERVICES_COMMON_SERVER_H_
#define JALON_SERVICES_COMMON_SERVER_H_

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "services/common/redis.h"
#include "services/common/service_config.h"

namespace jalon {

class ServerHost {
 public:
  // `health_name` is the fully qualified service name reported by health,
  // e.g. "jalon.roadmap.v1.RoadmapService".
  ServerHost(const ServiceConfig& config, std::string health_name,
             RedisClient* redis);
  ~ServerHost();

  void AddService(grpc::Service* service) { services_.push_back(service); }
  // Binds and starts serving; fails if the address cannot be bound.
  absl::Status Start();
  // The port actually bound (useful with ":0").
  int port() const { return port_; }
  // NOT_SERVING, then stop accepting and wait for in-flight calls up to the
  // grace period, then cancel what is left. Idempotent.
  void Shutdown();
  // The count of our RPCs in flight; give it to RpcEnv::inflight.
  std::atomic<int64_t>* inflight() { return &inflight_; }
  // Whether the last readiness probe found Redis.
  bool ready() const { return ready_.load(); }

 private:
  void WatchHealth();

  const ServiceConfig config_;
  std::string health_name_;
  RedisClient* redis_;
  std::vector<grpc::Service*> services_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
  std::atomic<bool> ready_{false};
  std::atomic<int64_t> inflight_{0};
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::thread health_thread_;
};

// Blocks SIGTERM and SIGINT in the calling thread (call first in main, so
// every thread inherits the mask) and returns; WaitForStopSignal then
// returns the signal that arrived.
void BlockStopSignals();
int WaitForStopSignal();

// Process-wide settings of a service binary; call once at the start of main.
// Turns off Abseil's mutex deadlock detection. Debian builds Abseil with it
// on, so every absl::Mutex acquisition (gRPC takes several per call) records
// edges in a global lock graph; in bench/roadmap_bench that is 7% of the CPU
// of an echo call and 15% of an UpdateAction's. Tests keep it on: there it
// finds lock-order bugs, in production it only costs.
void TuneForServing();

}  // namespace jalon

#endif  // JALON_SERVICES_COMMON_SERVER_H_
