// The deployment in miniature: two replicas each of jalon-roadmap,
// jalon-feedback and jalon-reporting on one real redis-server, each behind an
// address list as a Kubernetes Service would put them (clients balance round
// robin, feedback reaches roadmap the same way), started like the bootstrap Job
// and the Deployments start them. Under a steady load of writes and reads, one
// replica of each service is killed (SIGKILL) and restarted, then the other
// is stopped (SIGTERM, it drains) and restarted, as a crash and a rolling
// update would. Clients retry UNAVAILABLE with the same request_id, as the
// API asks. Afterwards: every acknowledged write reads back with its
// content, and every roadmap event was applied once by the feedback
// consumers (each linked item closed by itself, with one automatic change
// in its history) and by the reporting consumers (no status update
// announced twice), and the reporting read models equal a rebuild from the
// streams.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <fstream>
#include <iostream>
#include <map>
#include <mutex>
#include <set>
#include <sstream>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "jalon/feedback/v1/feedback.grpc.pb.h"
#include "jalon/reporting/v1/reporting.grpc.pb.h"
#include "jalon/roadmap/v1/roadmap.grpc.pb.h"
#include "services/common/channel.h"
#include "services/common/dates.h"
#include "services/reporting/read_model.h"
#include "services/reporting/service.h"
#include "tests/support/child_process.h"
#include "tests/support/redis_server.h"
#include "tests/support/roadmap_harness.h"
#include "tests/support/wait.h"

#ifndef JALON_ROADMAP_BINARY
#error "JALON_ROADMAP_BINARY must name the jalon-roadmap binary"
#endif
#ifndef JALON_FEEDBACK_BINARY
#error "JALON_FEEDBACK_BINARY must name the jalon-feedback binary"
#endif
#ifndef JALON_REPORTING_BINARY
#error "JALON_REPORTING_BINARY must name the jalon-reporting binary"
#endif

namespace jalon {
namespace {

namespace rpb = ::jalon::roadmap::v1;
namespace fpb = ::jalon::feedback::v1;
namespace reppb = ::jalon::reporting::v1;
using common::v1::Role;
using std::chrono::milliseconds;
using std::chrono::seconds;
using testing::ChildProcess;
using testing::ReadFile;
using testing::RedisServer;
using testing::WaitFor;

std::unique_ptr<grpc::ClientContext> Ctx(const std::string& token) {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->AddMetadata("authorization", "Bearer " + token);
  ctx->set_deadline(std::chrono::system_clock::now() + seconds(5));
  return ctx;
}

// Calls `call` until it returns something other than UNAVAILABLE (a replica
// is gone or draining) or DEADLINE_EXCEEDED (it died mid-call), for up to
// 30 s. Sets *retried when it called more than once. Not CANCELLED: a call
// a draining replica dropped unrun is answered CANCELLED, and the clients
// here dial the Jalon way (services/common/channel.h), so gRPC sends it
// again by itself; a CANCELLED that reaches the test is a failure.
template <typename Call>
grpc::Status Retry(Call call, bool* retried = nullptr) {
  auto deadline = std::chrono::steady_clock::now() + seconds(30);
  for (int attempt = 0;; ++attempt) {
    grpc::Status s = call();
    bool transient = s.error_code() == grpc::StatusCode::UNAVAILABLE ||
                     s.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED;
    if (!transient || std::chrono::steady_clock::now() > deadline) {
      if (retried) *retried = attempt > 0;
      return s;
    }
    std::this_thread::sleep_for(milliseconds(50));
  }
}

// One service's replicas: the same binary, arguments and environment, each
// on its own port; the clients' target lists them all.
class Replicas {
 public:
  Replicas(std::string name, std::string binary, int count)
      : name_(std::move(name)), binary_(std::move(binary)) {
    // 0 until the first start, which lets the kernel pick; a restart keeps
    // the replica's ports, as a restarted pod keeps its Service.
    ports_.assign(count, 0);
    http_ports_.assign(count, 0);
    processes_.resize(count);
    current_log_.resize(count);
  }

  void Configure(std::vector<std::string> args,
                 std::map<std::string, std::string> env,
                 const std::string& log_dir) {
    args_ = std::move(args);
    env_ = std::move(env);
    log_dir_ = log_dir;
  }

  // Starts replica i (again); `extra` are per-replica flags.
  absl::Status Start(int i) {
    auto env = env_;
    env["JALON_LISTEN"] = "127.0.0.1:" + std::to_string(ports_[i]);
    std::vector<std::string> argv{binary_};
    argv.insert(argv.end(), args_.begin(), args_.end());
    if (name_ == "feedback" || name_ == "reporting") {
      // Each pod's name in the consumer group (the Deployment uses the pod
      // name); a restarted process keeps it, as a restarted container does.
      argv.push_back("--consumer-name=" + name_ + "-" + std::to_string(i));
    }
    if (name_ == "reporting") {
      argv.push_back("--http-listen=127.0.0.1:" +
                     std::to_string(http_ports_[i]));
    }
    processes_[i] = std::make_unique<ChildProcess>();
    std::string log = log_dir_ + "/" + name_ + "-" + std::to_string(i) + "." +
                      std::to_string(++starts_) + ".log";
    logs_.push_back(log);
    current_log_[i] = log;
    if (auto s = processes_[i]->Start(argv, env, log); !s.ok()) return s;
    auto ports = processes_[i]->WaitForListening(seconds(20));
    if (!ports.ok()) {
      return absl::InternalError(name_ + " did not start: " + ReadFile(log));
    }
    ports_[i] = ports->grpc;
    http_ports_[i] = ports->http;
    return absl::OkStatus();
  }

  void Kill(int i) {
    processes_[i]->Signal(SIGKILL);
    (void)processes_[i]->Wait(seconds(10));
  }

  // SIGTERM: drain, exit 0.
  absl::StatusOr<int> Terminate(int i) {
    processes_[i]->Signal(SIGTERM);
    return processes_[i]->Wait(seconds(20));
  }

  // What a Service gives its clients: every replica.
  std::string Target() const {
    std::string t = "ipv4:";
    for (size_t i = 0; i < ports_.size(); ++i) {
      t += (i ? "," : "") + std::string("127.0.0.1:") +
           std::to_string(ports_[i]);
    }
    return t;
  }

  // A client's channel to every replica, for `service` (its full name).
  std::shared_ptr<grpc::Channel> Channel(std::string_view service) const {
    grpc::ChannelArguments args;
    args.SetLoadBalancingPolicyName("round_robin");
    return Dial(Target(), service, std::move(args));
  }

  // The log of replica i's latest start.
  std::string Log(int i) const { return current_log_[i]; }
  // Every log of every start, restarts included.
  const std::vector<std::string>& logs() const { return logs_; }

 private:
  std::string name_, binary_, log_dir_;
  std::vector<int> ports_, http_ports_;
  std::vector<std::string> args_;
  std::map<std::string, std::string> env_;
  std::vector<std::unique_ptr<ChildProcess>> processes_;
  std::vector<std::string> logs_, current_log_;
  int starts_ = 0;
};

class ReplicaTest : public ::testing::Test {
 protected:
  void SetUp() override {
    testing::RedisServerOptions ro;
    ro.password = "e2e-replicas";
    redis_ = std::make_unique<RedisServer>(ro);
    ASSERT_TRUE(redis_->Start().ok());
    dir_ = redis_->dir();
    std::ofstream(dir_ + "/redis-password") << ro.password << "\n";
    // The ConfigMap jalon-common: Redis, its password file, the drain.
    std::map<std::string, std::string> env{
        {"JALON_REDIS_URL",
         "redis://127.0.0.1:" + std::to_string(redis_->port()) + "/0"},
        {"JALON_REDIS_PASSWORD_FILE", dir_ + "/redis-password"},
        {"JALON_GRACE_PERIOD", "5s"},
        {"JALON_HEALTH_INTERVAL", "100ms"}};

    // The bootstrap Job: one jalon-roadmap writes the first admin token and
    // the services token, then stops.
    {
      ChildProcess job;
      auto job_env = env;
      job_env["JALON_LISTEN"] = "127.0.0.1:0";
      ASSERT_TRUE(job.Start({JALON_ROADMAP_BINARY,
                             "--bootstrap-admin-token-file=" + dir_ + "/admin",
                             "--service-token-file=" + dir_ + "/services"},
                            job_env, dir_ + "/bootstrap.log")
                      .ok());
      ASSERT_TRUE(job.WaitForLine("listening on port", seconds(20)).ok())
          << ReadFile(dir_ + "/bootstrap.log");
      job.Signal(SIGTERM);
      auto code = job.Wait(seconds(20));
      ASSERT_TRUE(code.ok() && *code == 0);
    }
    admin_ = ReadFile(dir_ + "/admin");

    roadmap_ = std::make_unique<Replicas>("roadmap", JALON_ROADMAP_BINARY, 2);
    roadmap_->Configure({}, env, dir_);
    // The roadmap replicas first: the others' target lists their ports.
    for (int i = 0; i < 2; ++i) ASSERT_TRUE(roadmap_->Start(i).ok());
    feedback_ =
        std::make_unique<Replicas>("feedback", JALON_FEEDBACK_BINARY, 2);
    auto feedback_env = env;
    feedback_env["JALON_ROADMAP_ADDRESS"] = roadmap_->Target();
    feedback_env["JALON_ROADMAP_TOKEN_FILE"] = dir_ + "/services";
    // A killed replica's events go to the other one after this idle time.
    feedback_env["JALON_CLAIM_MIN_IDLE"] = "2s";
    feedback_->Configure({}, feedback_env, dir_);
    reporting_ =
        std::make_unique<Replicas>("reporting", JALON_REPORTING_BINARY, 2);
    auto reporting_env = feedback_env;
    reporting_env["JALON_TICK_INTERVAL"] = "500ms";
    reporting_->Configure({}, reporting_env, dir_);
    for (int i = 0; i < 2; ++i) {
      ASSERT_TRUE(feedback_->Start(i).ok());
      ASSERT_TRUE(reporting_->Start(i).ok());
    }
    rm_ = rpb::RoadmapService::NewStub(
        roadmap_->Channel(rpb::RoadmapService::service_full_name()));
    fb_ = fpb::FeedbackService::NewStub(
        feedback_->Channel(fpb::FeedbackService::service_full_name()));
    rep_ = reppb::ReportingService::NewStub(
        reporting_->Channel(reppb::ReportingService::service_full_name()));
    redis_client_ = std::make_unique<RedisClient>(redis_->options());
  }

  std::string Org(const std::string& name, rpb::OrganizationKind kind) {
    return testing::CreateOrganization(*rm_, admin_, name, kind);
  }

  std::string Token(const std::string& org, Role role) {
    return testing::IssueToken(*rm_, admin_, org, role);
  }

  // A create that the client retries with the same request_id.
  grpc::Status CreateAction(const std::string& request_id,
                            const std::string& title, rpb::Action* out) {
    rpb::CreateActionRequest req;
    req.set_request_id(request_id);
    auto* a = req.mutable_action();
    a->set_roadmap_id(roadmap_id_);
    a->set_title(title);
    a->set_lead_organization_id(fed_);
    a->set_partner_organization_id(min_);
    *a->mutable_due_date() = MakeDate(2099, 1, 1);
    rpb::CreateActionResponse resp;
    grpc::Status s = Retry(
        [&] { return rm_->CreateAction(Ctx(fed_copilot_).get(), req, &resp); });
    *out = resp.action();
    return s;
  }

  grpc::Status Submit(const std::string& request_id, const std::string& title,
                      fpb::FeedbackItem* out) {
    fpb::SubmitFeedbackRequest req;
    req.set_request_id(request_id);
    auto* i = req.mutable_item();
    i->set_roadmap_id(roadmap_id_);
    i->set_kind(fpb::FEEDBACK_KIND_BLOCKER);
    i->set_severity(fpb::SEVERITY_HIGH);
    i->set_title(title);
    i->set_body("Body of " + title);
    fpb::SubmitFeedbackResponse resp;
    grpc::Status s = Retry(
        [&] { return fb_->SubmitFeedback(Ctx(member_).get(), req, &resp); });
    *out = resp.item();
    return s;
  }

  // A transition retried after a lost answer may find it already done.
  grpc::Status Transition(const std::string& id, rpb::ActionStatus target,
                          const std::string& token) {
    rpb::TransitionActionRequest req;
    req.set_id(id);
    req.set_target_status(target);
    rpb::TransitionActionResponse resp;
    bool retried = false;
    grpc::Status s = Retry(
        [&] { return rm_->TransitionAction(Ctx(token).get(), req, &resp); },
        &retried);
    if (!s.ok() && retried) {
      rpb::GetActionRequest get;
      get.set_id(id);
      rpb::GetActionResponse got;
      if (Retry([&] {
            return rm_->GetAction(Ctx(token).get(), get, &got);
          }).ok() &&
          got.action().status() == target) {
        return grpc::Status::OK;
      }
    }
    return s;
  }

  // One item through the whole loop: linked to a new action that the two
  // co-pilots complete; the feedback consumers close the item.
  grpc::Status CloseTheLoop(const std::string& key, std::string* item_id) {
    rpb::Action action;
    if (auto s = CreateAction(key + "-action", "Loop " + key, &action);
        !s.ok()) {
      return s;
    }
    fpb::FeedbackItem item;
    if (auto s = Submit(key + "-item", "Loop " + key, &item); !s.ok()) {
      return s;
    }
    *item_id = item.id();
    fpb::AcknowledgeFeedbackRequest ack;
    ack.set_id(item.id());
    fpb::AcknowledgeFeedbackResponse acked;
    bool retried = false;
    grpc::Status s = Retry(
        [&] {
          return fb_->AcknowledgeFeedback(Ctx(min_copilot_).get(), ack, &acked);
        },
        &retried);
    if (!s.ok() &&
        !(retried && s.error_code() == grpc::StatusCode::FAILED_PRECONDITION)) {
      return s;
    }
    fpb::LinkFeedbackRequest link;
    link.set_id(item.id());
    link.add_action_ids(action.id());
    fpb::LinkFeedbackResponse linked;
    retried = false;
    s = Retry(
        [&] {
          return fb_->LinkFeedback(Ctx(min_copilot_).get(), link, &linked);
        },
        &retried);
    if (!s.ok() &&
        !(retried && s.error_code() == grpc::StatusCode::FAILED_PRECONDITION)) {
      return s;
    }
    for (auto [target, token] :
         std::vector<std::pair<rpb::ActionStatus, std::string>>{
             {rpb::ACTION_STATUS_PLANNED, fed_copilot_},
             {rpb::ACTION_STATUS_IN_PROGRESS, fed_copilot_},
             {rpb::ACTION_STATUS_COMPLETION_REQUESTED, fed_copilot_},
             {rpb::ACTION_STATUS_DONE, min_copilot_}}) {
      if (auto t = Transition(action.id(), target, token); !t.ok()) return t;
    }
    return grpc::Status::OK;
  }

  std::unique_ptr<RedisServer> redis_;
  std::string dir_, admin_;
  std::unique_ptr<Replicas> roadmap_, feedback_, reporting_;
  std::unique_ptr<rpb::RoadmapService::Stub> rm_;
  std::unique_ptr<fpb::FeedbackService::Stub> fb_;
  std::unique_ptr<reppb::ReportingService::Stub> rep_;
  std::unique_ptr<RedisClient> redis_client_;
  std::string fed_, min_, roadmap_id_;
  std::string fed_copilot_, min_copilot_, member_;
};

TEST_F(ReplicaTest, KillAndTerminateReplicasUnderLoad) {
  fed_ = Org("FIMME", rpb::ORGANIZATION_KIND_FEDERATION);
  min_ = Org("Département de l'Industrie", rpb::ORGANIZATION_KIND_MINISTRY);
  std::string company =
      Org("Atlas Câbles", rpb::ORGANIZATION_KIND_MEMBER_COMPANY);
  fed_copilot_ = Token(fed_, Role::ROLE_COPILOT);
  min_copilot_ = Token(min_, Role::ROLE_COPILOT);
  member_ = Token(company, Role::ROLE_MEMBER);
  rpb::CreateRoadmapRequest rr;
  rr.mutable_roadmap()->set_title("Feuille de route IMME");
  *rr.mutable_roadmap()->mutable_start_date() = MakeDate(2016, 5, 2);
  *rr.mutable_roadmap()->mutable_horizon_date() = MakeDate(2030, 12, 31);
  rr.mutable_roadmap()->add_copilot_organization_ids(fed_);
  rr.mutable_roadmap()->add_copilot_organization_ids(min_);
  rpb::CreateRoadmapResponse created;
  ASSERT_TRUE(rm_->CreateRoadmap(Ctx(admin_).get(), rr, &created).ok());
  roadmap_id_ = created.roadmap().id();

  std::atomic<bool> stop{false};
  std::mutex mu;
  std::map<std::string, std::string> actions;  // acknowledged: id -> title
  std::map<std::string, std::string> items;    // acknowledged: id -> title
  std::vector<std::string> loops;              // items that must close
  std::vector<std::string> errors;
  std::atomic<int> reads{0};
  auto error = [&](const std::string& what, const grpc::Status& s) {
    std::lock_guard<std::mutex> lock(mu);
    errors.push_back(what + ": " + std::to_string(s.error_code()) + " " +
                     s.error_message());
  };

  std::vector<std::thread> load;
  // Writers of actions and of feedback, each reading back what it wrote.
  for (int w = 0; w < 2; ++w) {
    load.emplace_back([&, w] {
      for (int n = 0; !stop; ++n) {
        std::string key = "w" + std::to_string(w) + "-" + std::to_string(n);
        if (w == 0) {
          rpb::Action a;
          grpc::Status s = CreateAction(key, "Action " + key, &a);
          if (!s.ok()) {
            error("CreateAction " + key, s);
            continue;
          }
          {
            std::lock_guard<std::mutex> lock(mu);
            actions[a.id()] = "Action " + key;
          }
          rpb::GetActionRequest get;
          get.set_id(a.id());
          rpb::GetActionResponse got;
          s = Retry([&] {
            return rm_->GetAction(Ctx(fed_copilot_).get(), get, &got);
          });
          if (!s.ok()) error("GetAction " + key, s);
        } else {
          fpb::FeedbackItem item;
          grpc::Status s = Submit(key, "Item " + key, &item);
          if (!s.ok()) {
            error("SubmitFeedback " + key, s);
            continue;
          }
          {
            std::lock_guard<std::mutex> lock(mu);
            items[item.id()] = "Item " + key;
          }
          fpb::GetFeedbackRequest get;
          get.set_id(item.id());
          fpb::GetFeedbackResponse got;
          s = Retry(
              [&] { return fb_->GetFeedback(Ctx(member_).get(), get, &got); });
          if (!s.ok()) error("GetFeedback " + key, s);
        }
        ++reads;
      }
    });
  }
  // The loop: items linked to actions that complete while replicas die.
  for (int w = 0; w < 2; ++w) {
    load.emplace_back([&, w] {
      for (int n = 0; !stop; ++n) {
        std::string key = "l" + std::to_string(w) + "-" + std::to_string(n);
        std::string item_id;
        grpc::Status s = CloseTheLoop(key, &item_id);
        if (!s.ok()) {
          error("CloseTheLoop " + key, s);
          continue;
        }
        std::lock_guard<std::mutex> lock(mu);
        loops.push_back(item_id);
      }
    });
  }

  auto pause = [](int ms) { std::this_thread::sleep_for(milliseconds(ms)); };
  pause(2000);
  // A crash of one replica of each service, restarted as the kubelet would.
  roadmap_->Kill(0);
  feedback_->Kill(0);
  reporting_->Kill(0);
  pause(1000);
  ASSERT_TRUE(roadmap_->Start(0).ok());
  ASSERT_TRUE(feedback_->Start(0).ok());
  ASSERT_TRUE(reporting_->Start(0).ok());
  pause(2000);
  // A rolling update: the other replicas drain and exit 0, then return.
  auto roadmap_exit = roadmap_->Terminate(1);
  auto feedback_exit = feedback_->Terminate(1);
  auto reporting_exit = reporting_->Terminate(1);
  ASSERT_TRUE(roadmap_exit.ok());
  EXPECT_EQ(*roadmap_exit, 0) << ReadFile(roadmap_->Log(1));
  ASSERT_TRUE(feedback_exit.ok());
  EXPECT_EQ(*feedback_exit, 0) << ReadFile(feedback_->Log(1));
  ASSERT_TRUE(reporting_exit.ok());
  EXPECT_EQ(*reporting_exit, 0) << ReadFile(reporting_->Log(1));
  ASSERT_TRUE(roadmap_->Start(1).ok());
  ASSERT_TRUE(feedback_->Start(1).ok());
  ASSERT_TRUE(reporting_->Start(1).ok());
  pause(2000);
  stop = true;
  for (auto& t : load) t.join();

  for (const auto& e : errors) ADD_FAILURE() << e;
  std::cout << "replica_test: " << actions.size() << " actions, "
            << items.size() << " items, " << loops.size() << " closed loops"
            << std::endl;
  if (!errors.empty()) {
    // What the replicas said about the failed calls.
    for (auto* r : {roadmap_.get(), feedback_.get()}) {
      for (const auto& path : r->logs()) {
        std::istringstream log(ReadFile(path));
        for (std::string line; std::getline(log, line);) {
          if (line.find("level=info") == std::string::npos ||
              line.find("msg=draining") != std::string::npos ||
              line.find("msg=stopped") != std::string::npos ||
              line.find("code=CANCELLED") != std::string::npos) {
            std::cerr << path << ": " << line << "\n";
          }
        }
      }
    }
  }
  EXPECT_GT(actions.size(), 10u);
  EXPECT_GT(items.size(), 10u);
  EXPECT_GT(loops.size(), 3u);
  // No acknowledged write is lost.
  for (const auto& [id, title] : actions) {
    rpb::GetActionRequest get;
    get.set_id(id);
    rpb::GetActionResponse got;
    grpc::Status s = Retry(
        [&] { return rm_->GetAction(Ctx(fed_copilot_).get(), get, &got); });
    ASSERT_TRUE(s.ok()) << id << ": " << s.error_message();
    EXPECT_EQ(got.action().title(), title);
  }
  for (const auto& [id, title] : items) {
    fpb::GetFeedbackRequest get;
    get.set_id(id);
    fpb::GetFeedbackResponse got;
    grpc::Status s =
        Retry([&] { return fb_->GetFeedback(Ctx(member_).get(), get, &got); });
    ASSERT_TRUE(s.ok()) << id << ": " << s.error_message();
    EXPECT_EQ(got.item().title(), title);
    EXPECT_EQ(got.item().body(), "Body of " + title);
  }
  // Every event applied, and once: each linked item closed by itself with
  // exactly one automatic change in its history.
  for (const auto& id : loops) {
    EXPECT_TRUE(WaitFor(
        [&] {
          fpb::GetFeedbackRequest get;
          get.set_id(id);
          fpb::GetFeedbackResponse got;
          return fb_->GetFeedback(Ctx(member_).get(), get, &got).ok() &&
                 got.item().status() == fpb::FEEDBACK_STATUS_ADDRESSED;
        },
        seconds(20)))
        << id << "\n"
        << ReadFile(feedback_->Log(0));
    fpb::ListFeedbackHistoryRequest req;
    req.set_feedback_id(id);
    fpb::ListFeedbackHistoryResponse history;
    ASSERT_TRUE(Retry([&] {
                  return fb_->ListFeedbackHistory(Ctx(member_).get(), req,
                                                  &history);
                }).ok());
    int automatic = 0;
    std::set<std::string> event_ids;
    for (const auto& e : history.entries()) {
      automatic += e.event_type() == "feedback.item.addressed";
      EXPECT_TRUE(e.event_id().empty() || event_ids.insert(e.event_id()).second)
          << id << " has event " << e.event_id() << " twice";
    }
    EXPECT_EQ(automatic, 1) << id;
  }
  // The reporting replicas consumed every event of both streams (a killed
  // replica's pending ones were claimed by the other)...
  auto drained = [&] {
    for (const char* stream :
         {reporting::kRoadmapStream, reporting::kFeedbackStream}) {
      auto r = redis_client_->Command({"XINFO", "GROUPS", stream});
      if (!r.ok()) return false;
      bool found = false;
      for (const auto& g : r->elements()) {
        const RedisReply* name = g.Field("name");
        if (name == nullptr || name->str() != reporting::kGroup) continue;
        found = true;
        const RedisReply* pending = g.Field("pending");
        const RedisReply* lag = g.Field("lag");
        if (pending == nullptr || pending->integer() != 0 || lag == nullptr ||
            lag->integer() != 0) {
          return false;
        }
      }
      if (!found) return false;
    }
    return true;
  };
  ASSERT_TRUE(WaitFor(drained, seconds(30))) << ReadFile(reporting_->Log(0));
  // ...announced nothing twice...
  std::map<std::string, int> announced;    // source event -> updates
  std::map<std::string, int> transitions;  // action -> ACTION_TRANSITIONED
  auto all = StreamConsumer::Replay(
      redis_client_.get(), reporting::Keys::Stream(),
      [&](const StreamEntry& e) {
        events::v1::Event ev;
        reppb::StatusUpdate u;
        if (ev.ParseFromString(e.payload) && ev.state().UnpackTo(&u)) {
          if (!u.source_event_id().empty()) ++announced[u.source_event_id()];
          if (u.kind() == reppb::STATUS_KIND_ACTION_TRANSITIONED) {
            ++transitions[u.subject_id()];
          }
        }
        return absl::OkStatus();
      });
  ASSERT_TRUE(all.ok());
  for (const auto& [event, n] : announced) {
    EXPECT_EQ(n, 1) << "source event " << event << " announced " << n
                    << " times";
  }
  EXPECT_GT(transitions.size(), 3u);
  for (const auto& [action, n] : transitions) EXPECT_LE(n, 4) << action;
  // ...and kept models equal to a rebuild from the streams.
  reporting::ReadModel models(redis_client_.get(), 1'000'000);
  auto incremental = models.Dump();
  ASSERT_TRUE(incremental.ok());
  reppb::RebuildReadModelsRequest rebuild;
  reppb::RebuildReadModelsResponse rebuilt;
  grpc::Status rs = Retry([&] {
    return rep_->RebuildReadModels(Ctx(admin_).get(), rebuild, &rebuilt);
  });
  ASSERT_TRUE(rs.ok()) << rs.error_message();
  reporting::ReadModel after(redis_client_.get(), 1'000'000);
  auto from_streams = after.Dump();
  ASSERT_TRUE(from_streams.ok());
  EXPECT_GT(incremental->size(), 100u);
  EXPECT_TRUE(*incremental == *from_streams)
      << incremental->size() << " keys incrementally, " << from_streams->size()
      << " rebuilt";

  for (int i = 0; i < 2; ++i) {
    auto p = reporting_->Terminate(i);
    EXPECT_TRUE(p.ok() && *p == 0);
    auto f = feedback_->Terminate(i);
    EXPECT_TRUE(f.ok() && *f == 0);
    auto r = roadmap_->Terminate(i);
    EXPECT_TRUE(r.ok() && *r == 0);
  }
}

}  // namespace
}  // namespace jalon
