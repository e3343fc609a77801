#include "services/common/server.h"

#include <grpc/grpc.h>
#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/health_check_service_interface.h>
#include <signal.h>
#include <spdlog/spdlog.h>

#include "absl/strings/numbers.h"
#include "absl/synchronization/mutex.h"
#include "services/common/logging.h"

namespace jalon {

ServerHost::ServerHost(const ServiceConfig& config, std::string health_name,
                       RedisClient* redis)
    : config_(config), health_name_(std::move(health_name)), redis_(redis) {}

ServerHost::~ServerHost() { Shutdown(); }

absl::Status ServerHost::Start() {
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  builder.AddListeningPort(config_.listen, grpc::InsecureServerCredentials(),
                           &port_);
  for (auto* s : services_) builder.RegisterService(s);
  // gRPC sets SO_REUSEPORT by default: a second process on the same port
  // then starts as well and takes half of the connections (an old binary
  // left running answers next to the new one). Fail to bind instead.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  builder.SetMaxReceiveMessageSize(config_.max_message_bytes);
  builder.SetMaxSendMessageSize(config_.max_message_bytes);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS,
                             static_cast<int>(config_.keepalive_time.count()));
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 10000);
  builder.AddChannelArgument(
      GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS, 10000);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  if (config_.max_connection_age.count() > 0) {
    builder.AddChannelArgument(
        GRPC_ARG_MAX_CONNECTION_AGE_MS,
        static_cast<int>(config_.max_connection_age.count()));
    builder.AddChannelArgument(GRPC_ARG_MAX_CONNECTION_AGE_GRACE_MS,
                               static_cast<int>(config_.grace_period.count()));
  }
  server_ = builder.BuildAndStart();
  if (!server_ || port_ == 0) {
    return absl::UnavailableError("cannot listen on " + config_.listen);
  }
  auto* health = server_->GetHealthCheckService();
  ready_ = redis_->Ping().ok();
  // The overall status "" is liveness: SERVING for as long as the process
  // serves (a restart cannot bring Redis back). The service's own name is
  // readiness, and follows Redis.
  health->SetServingStatus("", true);
  health->SetServingStatus(health_name_, ready_.load());
  health_thread_ = std::thread([this] { WatchHealth(); });
  spdlog::info("msg=listening address={} port={} ready={}", config_.listen,
               port_, ready_.load());
  return absl::OkStatus();
}

void ServerHost::WatchHealth() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopping_) {
    cv_.wait_for(lock, config_.health_interval);
    if (stopping_) break;
    lock.unlock();
    bool ok = redis_->Ping().ok();
    lock.lock();
    if (stopping_) break;
    if (ok != ready_.load()) {
      spdlog::warn("msg=readiness_changed serving={} reason={}", ok,
                   ok ? "redis_reachable" : "redis_unreachable");
    }
    ready_ = ok;
    server_->GetHealthCheckService()->SetServingStatus(health_name_, ok);
  }
}

void ServerHost::Shutdown() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  cv_.notify_all();
  if (health_thread_.joinable()) health_thread_.join();
  if (!server_) return;
  // Readiness first, so load balancers stop sending before we stop taking.
  server_->GetHealthCheckService()->Shutdown();
  spdlog::info("msg=draining grace_ms={} inflight={}",
               config_.grace_period.count(), inflight_.load());
  auto deadline = std::chrono::system_clock::now() + config_.grace_period;
  // Server::Shutdown stops accepting calls at once, but then also waits for
  // idle client connections to go away, until the deadline. Our calls are
  // what must finish: once none is in flight, cancel what is left (idle
  // connections, reflection streams) so the stop takes as long as the
  // slowest call, not the whole grace period.
  // A call gRPC took before the shutdown may still be on its way to a
  // handler (not yet counted): so the cancel waits until nothing has been
  // in flight for a quiet window, not merely for one instant. (A call that
  // arrives after the shutdown began is dropped by gRPC itself, answered
  // CANCELLED; Jalon's clients send it again: services/common/channel.h.)
  std::thread stopper([&] { server_->Shutdown(deadline); });
  constexpr auto kQuiet = std::chrono::milliseconds(250);
  auto quiet_since = std::chrono::system_clock::now();
  for (;;) {
    const auto now = std::chrono::system_clock::now();
    if (now >= deadline) break;
    if (inflight_.load() > 0) {
      quiet_since = now;
    } else if (now - quiet_since >= kQuiet) {
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  grpc_server_cancel_all_calls(server_->c_server());
  stopper.join();
  server_->Wait();
  spdlog::info("msg=stopped inflight={}", inflight_.load());
}

void BlockStopSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

void TuneForServing() {
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
}

int WaitForStopSignal() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  int sig = 0;
  sigwait(&set, &sig);
  return sig;
}

}  // namespace jalon
