// ServeAsync and the AsyncCall handle when a handler's code throws (a
// bug): the client still gets one answer, the process goes on, and no call
// stays in flight. The calls go over real gRPC on loopback to a server
// hosted as the services host theirs; the work a handler starts is a real
// Redis PING on AsyncRedis. The roadmap proto only supplies the methods.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>

#include "jalon/roadmap/v1/roadmap.grpc.pb.h"
#include "services/common/async_redis.h"
#include "services/common/auth.h"
#include "services/common/executor.h"
#include "services/common/rpc.h"
#include "services/common/server.h"
#include "tests/support/redis_server.h"
#include "tests/support/wait.h"

namespace jalon {
namespace {

namespace rpb = ::jalon::roadmap::v1;

// Each method is one way for a handler to go wrong, or right.
class Misbehaving final : public rpb::RoadmapService::CallbackService {
 public:
  Misbehaving(RpcEnv env, AsyncRedis* redis)
      : env_(std::move(env)), redis_(redis) {}

  // Throws before its handle went anywhere.
  grpc::ServerUnaryReactor* GetAction(grpc::CallbackServerContext* ctx,
                                      const rpb::GetActionRequest*,
                                      rpb::GetActionResponse*) override {
    return ServeAsync(env_, ctx, "GetAction", RoleSet::Any(),
                      [](AsyncCall) { throw std::runtime_error("a bug"); });
  }

  // Hands its handle to the callback of a Redis command, which throws
  // before finishing.
  grpc::ServerUnaryReactor* GetRoadmap(grpc::CallbackServerContext* ctx,
                                       const rpb::GetRoadmapRequest*,
                                       rpb::GetRoadmapResponse*) override {
    return ServeAsync(
        env_, ctx, "GetRoadmap", RoleSet::Any(), [this](AsyncCall call) {
          redis_->Command({"PING"}, [call = std::move(call)](
                                        absl::StatusOr<RedisReply>) mutable {
            throw std::runtime_error("a bug");
          });
        });
  }

  // The callback finishes, then throws: the call is answered once, OK.
  grpc::ServerUnaryReactor* GetEcosystem(grpc::CallbackServerContext* ctx,
                                         const rpb::GetEcosystemRequest*,
                                         rpb::GetEcosystemResponse*) override {
    return ServeAsync(
        env_, ctx, "GetEcosystem", RoleSet::Any(), [this](AsyncCall call) {
          redis_->Command({"PING"}, [call = std::move(call)](
                                        absl::StatusOr<RedisReply> r) mutable {
            std::move(call).Finish(r.status());
            throw std::runtime_error("a bug");
          });
        });
  }

  // Hands its handle to a Redis command's callback, which finishes, then
  // throws itself: the call is answered once, OK.
  grpc::ServerUnaryReactor* GetIndicator(grpc::CallbackServerContext* ctx,
                                         const rpb::GetIndicatorRequest*,
                                         rpb::GetIndicatorResponse*) override {
    return ServeAsync(
        env_, ctx, "GetIndicator", RoleSet::Any(), [this](AsyncCall call) {
          redis_->Command({"PING"}, [call = std::move(call)](
                                        absl::StatusOr<RedisReply> r) mutable {
            std::move(call).Finish(r.status());
          });
          throw std::runtime_error("a bug");
        });
  }

  // Loses its handle: the work it was given to is dropped, never run.
  grpc::ServerUnaryReactor* GetOrganization(
      grpc::CallbackServerContext* ctx, const rpb::GetOrganizationRequest*,
      rpb::GetOrganizationResponse*) override {
    return ServeAsync(
        env_, ctx, "GetOrganization", RoleSet::Any(), [](AsyncCall call) {
          absl::AnyInvocable<void()&&> lost = [call =
                                                   std::move(call)]() mutable {
            std::move(call).Finish(absl::OkStatus());
          };
        });
  }

  // Goes on on the executor with a synchronous Redis call: answered OK.
  grpc::ServerUnaryReactor* GetMeasurement(
      grpc::CallbackServerContext* ctx, const rpb::GetMeasurementRequest*,
      rpb::GetMeasurementResponse*) override {
    return ServeAsync(
        env_, ctx, "GetMeasurement", RoleSet::Any(), [this](AsyncCall call) {
          std::move(call).ContinueOnExecutor([this](const CallContext&) {
            return blocking_->Command({"PING"}).status();
          });
        });
  }

  // Goes on on the executor, where its work throws: INTERNAL.
  grpc::ServerUnaryReactor* GetCurrentPrincipal(
      grpc::CallbackServerContext* ctx, const rpb::GetCurrentPrincipalRequest*,
      rpb::GetCurrentPrincipalResponse*) override {
    return ServeAsync(env_, ctx, "GetCurrentPrincipal", RoleSet::Any(),
                      [](AsyncCall call) {
                        std::move(call).ContinueOnExecutor(
                            [](const CallContext&) -> absl::Status {
                              throw std::runtime_error("a bug");
                            });
                      });
  }

  RedisClient* blocking_ = nullptr;

 private:
  RpcEnv env_;
  AsyncRedis* redis_;
};

class AsyncCallTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(redis_server_.Start().ok()) << redis_server_.LogTail();
    redis_ = std::make_unique<RedisClient>(redis_server_.options());
    async_redis_ = std::make_unique<AsyncRedis>(redis_server_.options(), 1);
    // Any token is someone; the first call of a token goes through the
    // executor (a lookup), the next ones are answered from the cache.
    verifier_ = std::make_unique<TokenVerifier>(
        [](std::string_view,
           const std::string&) -> absl::StatusOr<std::optional<Actor>> {
          Actor actor;
          actor.set_principal_id("someone");
          actor.set_organization_id("org");
          actor.set_role(common::v1::ROLE_ADMIN);
          return actor;
        },
        AuthOptions{});
    executor_ = std::make_unique<Executor>(2, 100);
    ServiceConfig config;
    config.listen = "127.0.0.1:0";
    config.grace_period = std::chrono::milliseconds(100);
    host_ = std::make_unique<ServerHost>(config, "jalon.roadmap.v1.Test",
                                         redis_.get());
    service_ =
        std::make_unique<Misbehaving>(RpcEnv{executor_.get(), verifier_.get(),
                                             "test.jalon", host_->inflight()},
                                      async_redis_.get());
    service_->blocking_ = redis_.get();
    host_->AddService(service_.get());
    ASSERT_TRUE(host_->Start().ok());
    stub_ = rpb::RoadmapService::NewStub(
        grpc::CreateChannel("127.0.0.1:" + std::to_string(host_->port()),
                            grpc::InsecureChannelCredentials()));
  }

  void TearDown() override {
    if (host_) host_->Shutdown();
    if (executor_) executor_->Shutdown();
  }

  // Calls `method` twice with a new token: once through the executor (the
  // token's lookup), once from the token cache. Each answer must come well
  // before the deadline.
  template <typename Request, typename Response, typename Method>
  void CallTwice(Method method, grpc::StatusCode want) {
    const std::string token = "t" + std::to_string(++tokens_);
    for (const char* path : {"executor", "cached"}) {
      grpc::ClientContext ctx;
      ctx.AddMetadata("authorization", "Bearer " + token);
      ctx.set_deadline(std::chrono::system_clock::now() +
                       std::chrono::seconds(10));
      Request request;
      Response response;
      const grpc::Status s = (stub_.get()->*method)(&ctx, request, &response);
      EXPECT_EQ(s.error_code(), want) << path << ": " << s.error_message();
    }
    EXPECT_TRUE(testing::WaitFor([&] { return host_->inflight()->load() == 0; },
                                 std::chrono::seconds(5)))
        << "calls left in flight: " << host_->inflight()->load();
  }

  testing::RedisServer redis_server_;
  std::unique_ptr<RedisClient> redis_;
  std::unique_ptr<AsyncRedis> async_redis_;
  std::unique_ptr<TokenVerifier> verifier_;
  std::unique_ptr<Executor> executor_;
  std::unique_ptr<ServerHost> host_;
  std::unique_ptr<Misbehaving> service_;
  std::unique_ptr<rpb::RoadmapService::Stub> stub_;
  int tokens_ = 0;
};

TEST_F(AsyncCallTest, AHandlerThatThrowsIsAnsweredInternal) {
  CallTwice<rpb::GetActionRequest, rpb::GetActionResponse>(
      &rpb::RoadmapService::Stub::GetAction, grpc::StatusCode::INTERNAL);
}

TEST_F(AsyncCallTest, ACallbackThatThrowsBeforeFinishingIsAnsweredInternal) {
  CallTwice<rpb::GetRoadmapRequest, rpb::GetRoadmapResponse>(
      &rpb::RoadmapService::Stub::GetRoadmap, grpc::StatusCode::INTERNAL);
}

TEST_F(AsyncCallTest, ACallbackThatThrowsAfterFinishingKeepsItsAnswer) {
  CallTwice<rpb::GetEcosystemRequest, rpb::GetEcosystemResponse>(
      &rpb::RoadmapService::Stub::GetEcosystem, grpc::StatusCode::OK);
}

TEST_F(AsyncCallTest, AHandlerThatThrowsAfterHandingItsCallOnKeepsItsAnswer) {
  CallTwice<rpb::GetIndicatorRequest, rpb::GetIndicatorResponse>(
      &rpb::RoadmapService::Stub::GetIndicator, grpc::StatusCode::OK);
}

TEST_F(AsyncCallTest, ACallNobodyFinishesIsAnsweredInternal) {
  CallTwice<rpb::GetOrganizationRequest, rpb::GetOrganizationResponse>(
      &rpb::RoadmapService::Stub::GetOrganization, grpc::StatusCode::INTERNAL);
}

TEST_F(AsyncCallTest, ACallContinuedOnTheExecutorIsAnswered) {
  CallTwice<rpb::GetMeasurementRequest, rpb::GetMeasurementResponse>(
      &rpb::RoadmapService::Stub::GetMeasurement, grpc::StatusCode::OK);
}

TEST_F(AsyncCallTest, ACallContinuedOnTheExecutorThatThrowsIsAnsweredInternal) {
  CallTwice<rpb::GetCurrentPrincipalRequest, rpb::GetCurrentPrincipalResponse>(
      &rpb::RoadmapService::Stub::GetCurrentPrincipal,
      grpc::StatusCode::INTERNAL);
}

}  // namespace
}  // namespace jalon
