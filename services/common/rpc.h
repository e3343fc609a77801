// Runs unary RPCs of the callback API, in one of two ways. Serve: the
// reaction returns at once and the handler runs on the Executor, where it
// may block on Redis. ServeAsync: the handler starts non-blocking work
// (AsyncRedis) from the reaction and finishes from its callback. Either way
// the result is logged once and turned into a grpc::Status with rich
// details. Each RPC names the roles it allows; authentication happens here,
// never in a handler. Thread-safe.
#ifndef JALON_SERVICES_COMMON_RPC_H_
#define JALON_SERVICES_COMMON_RPC_H_

#include <google/protobuf/message_lite.h>
#include <grpcpp/grpcpp.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "absl/status/status.h"
#include "services/common/auth.h"
#include "services/common/executor.h"
#include "services/common/status.h"

namespace jalon {

// What a handler knows about its call.
struct CallContext {
  Actor principal;
  std::string request_id;  // x-request-id from the client, or generated
  std::string_view rpc;
};

// What every RPC of a service shares.
struct RpcEnv {
  Executor* executor = nullptr;
  TokenVerifier* verifier = nullptr;
  std::string domain;  // ErrorInfo.domain, e.g. "roadmap.jalon"
  // Calls accepted and not yet finished (ServerHost::inflight()), so a
  // graceful stop knows when the last one is done.
  std::atomic<int64_t>* inflight = nullptr;
};

// Whether a client's x-request-id is kept: 1..128 visible ASCII
// characters. It goes back in the response's headers, where gRPC aborts
// the process on anything else (a UTF-8 letter, a control character).
bool IsUsableRequestId(std::string_view id);

// The steps every call goes through, whichever way it is served.
// Fills the request id (the client's if usable, else a new ULID); fails
// when the call is cancelled or past deadline.
absl::Status BeginCall(grpc::CallbackServerContext* ctx, std::string_view rpc,
                       CallContext* call);
// The "authorization" metadata value.
std::string Authorization(const grpc::CallbackServerContext* ctx);
// Sets the principal; fails when authentication failed or the role is not
// allowed.
absl::Status AdmitCall(absl::StatusOr<Actor> actor, RoleSet allowed,
                       CallContext* call);
// The request of a raw method (bytes in, bytes out), parsed; INVALID_ARGUMENT
// naming the request's type when its bytes are not one.
absl::Status ParseRequest(const grpc::ByteBuffer* bytes,
                          google::protobuf::MessageLite* request);
// The response of a raw method, serialised into `bytes` (whose previous
// content is dropped).
absl::Status SerializeResponse(const google::protobuf::MessageLite& response,
                               grpc::ByteBuffer* bytes);
// The answer to a call that finds the executor's queue full.
absl::Status Overloaded();
// Logs an exception that escaped a handler (a bug).
void LogHandlerException(std::string_view rpc, const std::exception& ex);
// Logs the outcome once and echoes the request id to the client.
void EndCall(grpc::CallbackServerContext* ctx, const CallContext& call,
             const absl::Status& status,
             std::chrono::steady_clock::time_point start);

// The answer to a call refused before it ran (the server's queue is
// full): logged, with its request id echoed and the error's details, as
// every other answer is.
grpc::Status RefuseCall(const RpcEnv& env, grpc::CallbackServerContext* ctx,
                        std::string_view rpc, const absl::Status& status);

// Authenticates, checks the role, runs `handler(call)`, logs the outcome.
absl::Status RunRpc(
    const RpcEnv& env, grpc::CallbackServerContext* ctx, std::string_view rpc,
    RoleSet allowed,
    const std::function<absl::Status(const CallContext&)>& handler);

// A unary reactor that counts itself in flight until gRPC is done with it,
// i.e. until its status has been sent, so a graceful stop never cuts a
// response that is on its way.
class CountedReactor final : public grpc::ServerUnaryReactor {
 public:
  explicit CountedReactor(std::atomic<int64_t>* inflight)
      : inflight_(inflight) {
    if (inflight_) inflight_->fetch_add(1);
  }
  void OnDone() override {
    if (inflight_) inflight_->fetch_sub(1);
    delete this;
  }
  // OnDone above and the default OnCancel are trivial, so gRPC may run them
  // on the thread that completes the call. Otherwise it hands every OnDone
  // to its default executor: a thread wake-up per call, which measured as
  // a third of a cached GetAction's CPU (docs/performance.md). gRPC calls
  // this hook internal; `override` makes a gRPC without it fail to build.
  bool InternalInlineable() override { return true; }

 private:
  std::atomic<int64_t>* inflight_;
};

template <typename Handler>
grpc::ServerUnaryReactor* Serve(const RpcEnv& env,
                                grpc::CallbackServerContext* ctx,
                                std::string_view rpc, RoleSet allowed,
                                Handler handler) {
  auto* reactor = new CountedReactor(env.inflight);
  const RpcEnv* e = &env;
  bool queued = env.executor->Submit(
      [e, ctx, rpc, allowed, reactor, h = std::move(handler)]() mutable {
        absl::Status status = RunRpc(*e, ctx, rpc, allowed, h);
        reactor->Finish(ToGrpcStatus(status, e->domain));
      });
  if (!queued) {
    reactor->Finish(RefuseCall(env, ctx, rpc, Overloaded()));
  }
  return reactor;
}

// A call served without the executor: its handler starts non-blocking
// work (AsyncRedis) and finishes the call from the last callback, on
// whatever thread that runs. Used for the hot RPCs, where two thread
// hand-offs per call cost more than the work itself (docs/performance.md).
//
// An AsyncCall is the duty to finish its call, and is moved, never copied,
// to whatever will finish it: the callback of the work it started. Finish
// ends the call, once. A handle dropped while its call is open (a callback
// threw before finishing, or was destroyed without being run) finishes it
// with INTERNAL, so the client gets an answer, and a graceful stop does not
// wait its whole grace period for a call nobody will finish.
class AsyncCall {
 public:
  AsyncCall(AsyncCall&& other) noexcept
      : state_(std::exchange(other.state_, nullptr)) {}
  AsyncCall& operator=(AsyncCall&& other) noexcept;
  AsyncCall(const AsyncCall&) = delete;
  AsyncCall& operator=(const AsyncCall&) = delete;
  ~AsyncCall() { Abandon(); }

  // Valid until the call is finished.
  const CallContext& context() const;
  // Logs the outcome and sends the status; the handle is empty after.
  void Finish(const absl::Status& status) &&;
  // Goes on with work that may block (a synchronous Redis call) on the
  // executor: `handler(context)` runs there and its status finishes the
  // call (UNAVAILABLE at once when the executor's queue is full). The
  // handle is empty after.
  void ContinueOnExecutor(
      std::function<absl::Status(const CallContext&)> handler) &&;

 private:
  struct State;
  template <typename Start>
  friend grpc::ServerUnaryReactor* ServeAsync(const RpcEnv& env,
                                              grpc::CallbackServerContext* ctx,
                                              std::string_view rpc,
                                              RoleSet allowed, Start start);
  template <typename Start>
  friend void RunAsync(AsyncCall call, absl::StatusOr<Actor> actor,
                       RoleSet allowed, Start& start);
  AsyncCall(const RpcEnv* env, grpc::CallbackServerContext* ctx,
            CountedReactor* reactor);
  CallContext* mutable_context();
  // Hands the call to `task` on the executor; finishes it UNAVAILABLE at
  // once when the executor's queue is full.
  void OnExecutor(std::function<void(AsyncCall)> task) &&;
  // Finishes an open call with INTERNAL.
  void Abandon() noexcept;

  State* state_;
};

// Admits the caller, then runs `start(call)`. An exception out of `start`
// is logged; the call is finished by its handle, wherever that was moved.
template <typename Start>
void RunAsync(AsyncCall call, absl::StatusOr<Actor> actor, RoleSet allowed,
              Start& start) {
  if (auto s = AdmitCall(std::move(actor), allowed, call.mutable_context());
      !s.ok()) {
    return std::move(call).Finish(s);
  }
  const std::string_view rpc = call.context().rpc;
  try {
    start(std::move(call));
  } catch (const std::exception& ex) {
    LogHandlerException(rpc, ex);
  }
}

// Serves a call with `start(AsyncCall)`, which must not block, and whose
// handle must reach a Finish. Authentication is answered from the token
// cache in the reaction itself; only a cache miss (a Redis lookup) goes
// through the executor first.
template <typename Start>
grpc::ServerUnaryReactor* ServeAsync(const RpcEnv& env,
                                     grpc::CallbackServerContext* ctx,
                                     std::string_view rpc, RoleSet allowed,
                                     Start start) {
  auto* reactor = new CountedReactor(env.inflight);
  AsyncCall call(&env, ctx, reactor);
  if (auto s = BeginCall(ctx, rpc, call.mutable_context()); !s.ok()) {
    std::move(call).Finish(s);
    return reactor;
  }
  std::string authorization = Authorization(ctx);
  if (auto cached = env.verifier->VerifyCached(authorization)) {
    RunAsync(std::move(call), *std::move(cached), allowed, start);
    return reactor;
  }
  const RpcEnv* e = &env;
  std::move(call).OnExecutor([e, allowed,
                              authorization = std::move(authorization),
                              start = std::move(start)](AsyncCall c) mutable {
    RunAsync(std::move(c), e->verifier->Verify(authorization), allowed, start);
  });
  return reactor;
}

// Raw methods. gRPC parses a typed method's request before any of ours
// runs, and answers bytes that do not parse with UNIMPLEMENTED and no
// message, as if the method did not exist. A raw method (bytes in, bytes
// out) parses its own request, after authentication, and answers such
// bytes with INVALID_ARGUMENT naming `request` and its type. Every unary
// method of the Jalon services is raw.
//
// RawMethods<pb::X::CallbackService, pb::X::WithRawCallbackMethod_A, ...>
// is the generated service with methods A... made raw.
template <class Base, template <class> class... Raw>
struct RawMethodsOf;
template <class Base>
struct RawMethodsOf<Base> {
  using type = Base;
};
template <class Base, template <class> class First,
          template <class> class... Rest>
struct RawMethodsOf<Base, First, Rest...> {
  using type = First<typename RawMethodsOf<Base, Rest...>::type>;
};
template <class Base, template <class> class... Raw>
using RawMethods = typename RawMethodsOf<Base, Raw...>::type;

// A raw method's request and response, alive until its call finishes.
template <typename Request, typename Response>
struct Exchange {
  Request request;
  Response response;
};

// Serve for a raw method: `handler(call, request, &response)` runs on the
// executor with the parsed request; its response is then serialised.
template <typename Request, typename Response, typename Handler>
grpc::ServerUnaryReactor* ServeParsed(const RpcEnv& env,
                                      grpc::CallbackServerContext* ctx,
                                      std::string_view rpc, RoleSet allowed,
                                      const grpc::ByteBuffer* in,
                                      grpc::ByteBuffer* out, Handler handler) {
  return Serve(env, ctx, rpc, allowed,
               [in, out, h = std::move(handler)](const CallContext& call) {
                 Exchange<Request, Response> x;
                 if (auto s = ParseRequest(in, &x.request); !s.ok()) return s;
                 if (auto s = h(call, x.request, &x.response); !s.ok()) {
                   return s;
                 }
                 return SerializeResponse(x.response, out);
               });
}

// Runs `start(context, request, &response, done)` for an exchange already
// parsed; `done(status)` serialises the response when the status is OK and
// finishes the call. The exchange lives as long as `done`.
template <typename Request, typename Response, typename Start>
void StartParsed(AsyncCall call,
                 std::shared_ptr<Exchange<Request, Response>> exchange,
                 grpc::ByteBuffer* out, Start& start) {
  const CallContext& context = call.context();
  const Request& request = exchange->request;
  Response* response = &exchange->response;
  start(context, request, response,
        [call = std::move(call), x = std::move(exchange),
         out](absl::Status s) mutable {
          if (s.ok()) s = SerializeResponse(x->response, out);
          x.reset();
          std::move(call).Finish(s);
        });
}

// ServeAsync for a raw method: the request is parsed once the caller is
// admitted, then as StartParsed.
template <typename Request, typename Response, typename Start>
grpc::ServerUnaryReactor* ServeAsyncParsed(const RpcEnv& env,
                                           grpc::CallbackServerContext* ctx,
                                           std::string_view rpc,
                                           RoleSet allowed,
                                           const grpc::ByteBuffer* in,
                                           grpc::ByteBuffer* out, Start start) {
  return ServeAsync(
      env, ctx, rpc, allowed,
      [in, out, start = std::move(start)](AsyncCall call) mutable {
        auto x = std::make_shared<Exchange<Request, Response>>();
        if (auto s = ParseRequest(in, &x->request); !s.ok()) {
          return std::move(call).Finish(s);
        }
        StartParsed(std::move(call), std::move(x), out, start);
      });
}

}  // namespace jalon

// The override of the raw unary method `Name` in a service's gRPC adapter
// (a class with members env_ and service_, in a namespace where `pb` names
// the service's proto package): served on the executor by
// service_->Name(call, request, &response).
#define JALON_EXECUTOR_RPC(Name, Roles)                                 \
  grpc::ServerUnaryReactor* Name(grpc::CallbackServerContext* ctx,      \
                                 const grpc::ByteBuffer* req,           \
                                 grpc::ByteBuffer* resp) override {     \
    return ::jalon::ServeParsed<pb::Name##Request, pb::Name##Response>( \
        env_, ctx, #Name, Roles, req, resp,                             \
        [this](const ::jalon::CallContext& c,                           \
               const pb::Name##Request& request,                        \
               pb::Name##Response* response) {                          \
          return service_->Name(c, request, response);                  \
        });                                                             \
  }

#endif  // JALON_SERVICES_COMMON_RPC_H_
