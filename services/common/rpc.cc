#include "services/common/rpc.h"

#include <grpcpp/impl/codegen/proto_utils.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <memory>
#include <utility>

#include "services/common/ids.h"
#include "services/common/logging.h"
#include "services/common/requests.h"

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

bool IsUsableRequestId(std::string_view id) {
  return !id.empty() && id.size() <= 128 && IsVisibleAscii(id);
}

absl::Status BeginCall(grpc::CallbackServerContext* ctx, std::string_view rpc,
                       CallContext* call) {
  call->rpc = rpc;
  call->request_id = Metadata(ctx, "x-request-id");
  if (!IsUsableRequestId(call->request_id)) {
    call->request_id = NewUlid();
  }
  if (ctx->IsCancelled()) {
    return absl::CancelledError("call cancelled by the client");
  }
  if (ctx->deadline() < std::chrono::system_clock::now()) {
    return absl::DeadlineExceededError("deadline passed before the call ran");
  }
  return absl::OkStatus();
}

std::string Authorization(const grpc::CallbackServerContext* ctx) {
  return Metadata(ctx, "authorization");
}

absl::Status ParseRequest(const grpc::ByteBuffer* bytes,
                          google::protobuf::MessageLite* request) {
  grpc::ByteBuffer copy(*bytes);  // shares the bytes; parsing consumes it
  grpc::Status s =
      grpc::SerializationTraits<google::protobuf::MessageLite>::Deserialize(
          &copy, request);
  if (s.ok()) return absl::OkStatus();
  return InvalidField("request", "is not a valid " + request->GetTypeName());
}

absl::Status SerializeResponse(const google::protobuf::MessageLite& response,
                               grpc::ByteBuffer* bytes) {
  // gRPC asserts that the buffer it serialises a large message into is
  // empty: a reused one (a stream's next message) would abort the process.
  bytes->Clear();
  bool own_buffer = false;
  grpc::Status s =
      grpc::SerializationTraits<google::protobuf::MessageLite>::Serialize(
          response, bytes, &own_buffer);
  if (s.ok()) return absl::OkStatus();
  return absl::InternalError("the response could not be serialised");
}

absl::Status AdmitCall(absl::StatusOr<Actor> actor, RoleSet allowed,
                       CallContext* call) {
  if (!actor.ok()) return actor.status();
  call->principal = *std::move(actor);
  if (!allowed.Has(call->principal.role())) {
    return absl::PermissionDeniedError(
        std::string(call->rpc) + " is not allowed for role " +
        common::v1::Role_Name(call->principal.role()));
  }
  return absl::OkStatus();
}

void EndCall(grpc::CallbackServerContext* ctx, const CallContext& call,
             const absl::Status& status,
             std::chrono::steady_clock::time_point start) {
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
    auto micros = std::chrono::duration_cast<std::chrono::microseconds>(
                      std::chrono::steady_clock::now() - start)
                      .count();
    spdlog::log(
        level,
        "rpc={} request_id={} principal={} org={} code={} "
        "duration_us={} msg={}",
        call.rpc, LogValue(call.request_id),
        LogValue(call.principal.principal_id()),
        LogValue(call.principal.organization_id()),
        absl::StatusCodeToString(status.code()), micros,
        LogValue(status.ok() ? std::string("ok")
                             : Truncated(status.message(), kMaxMessageBytes)));
  }
  ctx->AddInitialMetadata("x-request-id", call.request_id);
}

absl::Status RunHandler(
    const CallContext& call,
    const std::function<absl::Status(const CallContext&)>& handler) {
  // Exceptions never cross this boundary: a bug in a handler answers
  // INTERNAL and the process goes on.
  try {
    return handler(call);
  } catch (const std::exception& ex) {
    LogHandlerException(call.rpc, ex);
    return absl::InternalError("internal error");
  }
}

absl::Status RunRpc(
    const RpcEnv& env, grpc::CallbackServerContext* ctx, std::string_view rpc,
    RoleSet allowed,
    const std::function<absl::Status(const CallContext&)>& handler) {
  auto start = std::chrono::steady_clock::now();
  CallContext call;
  absl::Status status = BeginCall(ctx, rpc, &call);
  if (status.ok()) {
    status =
        AdmitCall(env.verifier->Verify(Authorization(ctx)), allowed, &call);
  }
  if (status.ok()) status = RunHandler(call, handler);
  EndCall(ctx, call, status, start);
  return status;
}

grpc::Status RefuseCall(const RpcEnv& env, grpc::CallbackServerContext* ctx,
                        std::string_view rpc, const absl::Status& status) {
  const auto start = std::chrono::steady_clock::now();
  CallContext call;
  // For the request id; whatever else it finds, the answer is `status`.
  BeginCall(ctx, rpc, &call).IgnoreError();
  EndCall(ctx, call, status, start);
  return ToGrpcStatus(status, env.domain);
}

absl::Status Overloaded() {
  return absl::UnavailableError("server overloaded, retry later");
}

void LogHandlerException(std::string_view rpc, const std::exception& ex) {
  spdlog::error("msg=handler_exception rpc={} error={}", rpc,
                LogValue(ex.what()));
}

struct AsyncCall::State {
  const RpcEnv* env;
  grpc::CallbackServerContext* ctx;
  CountedReactor* reactor;
  CallContext call;
  std::chrono::steady_clock::time_point start =
      std::chrono::steady_clock::now();
};

AsyncCall::AsyncCall(const RpcEnv* env, grpc::CallbackServerContext* ctx,
                     CountedReactor* reactor)
    : state_(new State{env, ctx, reactor, {}}) {}

AsyncCall& AsyncCall::operator=(AsyncCall&& other) noexcept {
  if (this != &other) {
    Abandon();
    state_ = std::exchange(other.state_, nullptr);
  }
  return *this;
}

const CallContext& AsyncCall::context() const { return state_->call; }
CallContext* AsyncCall::mutable_context() { return &state_->call; }

void AsyncCall::Finish(const absl::Status& status) && {
  std::unique_ptr<State> state(std::exchange(state_, nullptr));
  EndCall(state->ctx, state->call, status, state->start);
  state->reactor->Finish(ToGrpcStatus(status, state->env->domain));
}

void AsyncCall::OnExecutor(std::function<void(AsyncCall)> task) && {
  Executor* executor = state_->env->executor;
  // The executor's tasks are copyable: the handle goes in a shared box.
  auto box = std::make_shared<AsyncCall>(std::move(*this));
  if (!executor->Submit(
          [box, task = std::move(task)] { task(std::move(*box)); })) {
    std::move(*box).Finish(Overloaded());
  }
}

void AsyncCall::ContinueOnExecutor(
    std::function<absl::Status(const CallContext&)> handler) && {
  std::move(*this).OnExecutor([h = std::move(handler)](AsyncCall call) {
    absl::Status status = RunHandler(call.context(), h);
    std::move(call).Finish(status);
  });
}

void AsyncCall::Abandon() noexcept {
  if (state_ == nullptr) return;
  spdlog::error("msg=call_left_unfinished rpc={} request_id={}",
                state_->call.rpc, LogValue(state_->call.request_id));
  std::move(*this).Finish(absl::InternalError("internal error"));
}

}  // namespace jalon
