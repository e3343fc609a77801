#include "services/common/rpc.h"

#include <spdlog/spdlog.h>

#include <chrono>

#include "services/common/ids.h"
#include "services/common/logging.h"

namespace jalon {
namespace {

std::string Metadata(const grpc::CallbackServerContext* ctx,
                     std::string_view key) {
  const auto& md = ctx->client_metadata();
  auto it = md.find(grpc::string_ref(key.data(), key.size()));
  if (it == md.end()) return "";
  return std::string(it->second.data(), it->second.size());
}

}  // namespace

absl::Status RunRpc(
    const RpcEnv& env, grpc::CallbackServerContext* ctx, std::string_view rpc,
    RoleSet allowed,
    const std::function<absl::Status(const CallContext&)>& handler) {
  auto start = std::chrono::steady_clock::now();
  CallContext call;
  call.rpc = rpc;
  call.request_id = Metadata(ctx, "x-request-id");
  if (call.request_id.empty() || call.request_id.size() > 128) {
    call.request_id = NewUlid();
  }
  absl::Status status;
  if (ctx->IsCancelled()) {
    status = absl::CancelledError("call cancelled by the client");
  } else if (ctx->deadline() < std::chrono::system_clock::now()) {
    status = absl::DeadlineExceededError("deadline passed before the call ran");
  } else {
    auto actor = env.verifier->Verify(Metadata(ctx, "authorization"));
    if (!actor.ok()) {
      status = actor.status();
    } else if (!allowed.Has(actor->role())) {
      call.principal = *actor;
      status = absl::PermissionDeniedError(
          std::string(rpc) + " is not allowed for role " +
          common::v1::Role_Name(actor->role()));
    } else {
      call.principal = *std::move(actor);
      // Exceptions never cross this boundary: a bug in a handler answers
      // INTERNAL and the process goes on.
      try {
        status = handler(call);
      } catch (const std::exception& ex) {
        spdlog::error("msg=handler_exception rpc={} error={}", rpc,
                      LogValue(ex.what()));
        status = absl::InternalError("internal error");
      }
    }
  }
  auto micros = std::chrono::duration_cast<std::chrono::microseconds>(
                    std::chrono::steady_clock::now() - start)
                    .count();
  // One line per call; errors the client caused are info, ours are errors.
  auto level = spdlog::level::debug;
  switch (status.code()) {
    case absl::StatusCode::kOk:
      break;
    case absl::StatusCode::kInternal:
    case absl::StatusCode::kUnknown:
    case absl::StatusCode::kDataLoss:
      level = spdlog::level::err;
      break;
    case absl::StatusCode::kUnavailable:
      level = spdlog::level::warn;
      break;
    default:
      level = spdlog::level::info;
  }
  if (spdlog::should_log(level)) {
    spdlog::log(level,
                "rpc={} request_id={} principal={} org={} code={} "
                "duration_us={} msg={}",
                rpc, LogValue(call.request_id),
                LogValue(call.principal.principal_id()),
                LogValue(call.principal.organization_id()),
                absl::StatusCodeToString(status.code()), micros,
                LogValue(status.ok() ? std::string("ok")
                                     : std::string(status.message())));
  }
  ctx->AddInitialMetadata("x-request-id", call.request_id);
  return status;
}

}  // namespace jalon
