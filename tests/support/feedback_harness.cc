#include "tests/support/feedback_harness.h"

#include "absl/strings/str_cat.h"

namespace jalon::testing {

namespace {
// The feedback service's group on the roadmap stream, as main.cc names it.
constexpr char kConsumerGroup[] = "feedback";
}  // namespace

FeedbackHarness::FeedbackHarness(HarnessOptions options)
    : options_(options), roadmap_(options) {}

FeedbackHarness::~FeedbackHarness() { StopFeedback(); }

absl::Status FeedbackHarness::Start(bool start_consumer) {
  if (auto s = roadmap_.Start(); !s.ok()) return s;
  RedisOptions ro = roadmap_.redis_server().options();
  ro.pool_size = options_.redis_pool_size;
  redis_ = std::make_unique<RedisClient>(ro);
  // The service's own token for the roadmap service, as tools/run issues it.
  auto stub = roadmap_.Stub();
  roadmap::v1::GetCurrentPrincipalResponse who;
  if (!stub->GetCurrentPrincipal(Ctx(roadmap_.admin_token()).get(), {}, &who)
           .ok()) {
    return absl::InternalError("cannot reach the roadmap harness");
  }
  std::string service_token =
      roadmap_.IssueToken(who.principal().organization_id(),
                          common::v1::Role::ROLE_READER, "jalon-services");
  roadmap_client_ = std::make_unique<RoadmapClient>(
      roadmap_.channel(), service_token, std::chrono::seconds(5));
  verifier_ =
      VerifierAskingRoadmap(roadmap_client_.get(), options_.auth_cache_ttl, ro);
  executor_ = std::make_unique<Executor>(options_.workers, 10000);
  store_ = std::make_unique<feedback::FeedbackStore>(
      redis_.get(), EventLog{feedback::Keys::Stream(),
                             feedback::Keys::WakeupChannel(), 1'000'000});
  service_ = std::make_unique<feedback::FeedbackService>(
      store_.get(), roadmap_client_.get(), options_.clock,
      feedback::FeedbackOptions{3});
  if (start_consumer) {
    RedisOptions co = ro;
    co.pool_size = 2;
    consumer_redis_ = std::make_unique<RedisClient>(co);
    consumer_ = std::make_unique<StreamConsumer>(
        consumer_redis_.get(),
        ConsumerOptions{roadmap::Keys::Stream(), kConsumerGroup, "harness",
                        feedback::Keys::DeadLetters(), 100,
                        std::chrono::milliseconds(200),
                        std::chrono::milliseconds(30000), 5},
        [this](const StreamEntry& e) {
          return service_->ApplyRoadmapEvent(e);
        });
    consumer_->Start();
  }
  ServiceConfig config;
  config.listen = "127.0.0.1:0";
  config.health_interval = options_.health_interval;
  config.grace_period = options_.grace_period;
  host_ = std::make_unique<ServerHost>(
      config, "jalon.feedback.v1.FeedbackService", redis_.get());
  grpc_service_ = std::make_unique<feedback::FeedbackGrpcService>(
      service_.get(), RpcEnv{executor_.get(), verifier_.get(), "feedback.jalon",
                             host_->inflight()});
  host_->AddService(grpc_service_.get());
  if (auto s = host_->Start(); !s.ok()) return s;
  channel_ = grpc::CreateChannel(absl::StrCat("127.0.0.1:", host_->port()),
                                 grpc::InsecureChannelCredentials());
  return absl::OkStatus();
}

void FeedbackHarness::StopFeedback() {
  if (host_) host_->Shutdown();
  if (consumer_) consumer_->Stop();
  if (executor_) executor_->Shutdown();
}

int FeedbackHarness::port() const { return host_->port(); }

std::unique_ptr<fpb::FeedbackService::Stub> FeedbackHarness::Stub() const {
  return fpb::FeedbackService::NewStub(channel_);
}

bool FeedbackHarness::ConsumerCaughtUp() {
  if (!consumer_) return true;
  const std::string stream = roadmap::Keys::Stream();
  auto info = redis_->Command({"XINFO", "STREAM", stream});
  if (!info.ok()) return false;
  if (info->is_error()) return true;  // no stream yet: no event to apply
  auto groups = redis_->Command({"XINFO", "GROUPS", stream});
  const RedisReply* last = info->Field("last-generated-id");
  if (!groups.ok() || last == nullptr) return false;
  for (const auto& g : groups->elements()) {
    const RedisReply* name = g.Field("name");
    if (name == nullptr || name->str() != kConsumerGroup) continue;
    const RedisReply* pending = g.Field("pending");
    const RedisReply* delivered = g.Field("last-delivered-id");
    return pending != nullptr && pending->integer() == 0 &&
           delivered != nullptr && delivered->str() == last->str();
  }
  return false;  // the group is not there yet
}

}  // namespace jalon::testing
