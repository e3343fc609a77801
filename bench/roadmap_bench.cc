// roadmap_bench: what the roadmap service costs over bare gRPC on this
// machine. In one run it measures a bare echo service (hosted by the same
// ServerHost, called by the same client) and CreateAction, UpdateAction and
// GetAction of the real service in-process over a real redis-server, at
// several concurrencies; checks the Redis round-trip budget with INFO
// commandstats; measures the write floor, the least CPU Redis can spend on
// a write (bench/write_floor.h); and compares the service's way of calling
// Redis (blocking hiredis calls on a pool) with hiredis' async API. See
// docs/performance.md.
// Not a test: it asserts nothing, it prints figures.
#include <spdlog/spdlog.h>
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <iostream>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "bench/echo.grpc.pb.h"
#include "bench/load.h"
#include "bench/raw_redis.h"
#include "bench/write_floor.h"
#include "services/common/async_redis.h"
#include "services/common/auth.h"
#include "services/common/config.h"
#include "services/common/executor.h"
#include "services/common/ids.h"
#include "services/common/rpc.h"
#include "services/common/server.h"
#include "services/common/service_config.h"
#include "services/roadmap/store.h"
#include "tests/support/roadmap_harness.h"

namespace jalon::bench {
namespace {

namespace rpb = ::jalon::roadmap::v1;
namespace epb = ::jalon::bench::v1;
using testing::Ctx;
using testing::D;

struct BenchConfig {
  int seconds = 3;
  std::chrono::milliseconds warmup{500};
  int repeat = 3;
  std::string concurrency = "1,16,64";
  int actions = 256;
  int max_channels = 4;
  bool raw_redis = true;
  bool breakdown = true;
  bool floor = true;
  int floor_writes = 20000;
  bool absl_deadlock_detection = false;
  std::string only;  // comma-separated scenario names; empty: all
  int redis_loops = testing::HarnessOptions().redis_loops;
};

// The baseline and two steps from it towards a real handler (see
// echo.proto). EchoServed authenticates like every Jalon RPC, so the
// benchmark's token must verify against the same Redis.
class EchoService final
    : public epb::EchoService::WithRawCallbackMethod_ServeActionBytes<
          epb::EchoService::CallbackService> {
 public:
  EchoService(RpcEnv env, AsyncRedis* redis)
      : env_(std::move(env)), redis_(redis) {}

  grpc::ServerUnaryReactor* Echo(grpc::CallbackServerContext* ctx,
                                 const epb::EchoRequest* req,
                                 epb::EchoResponse* resp) override {
    resp->set_payload(req->payload());
    grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }

  grpc::ServerUnaryReactor* EchoOnExecutor(grpc::CallbackServerContext* ctx,
                                           const epb::EchoRequest* req,
                                           epb::EchoResponse* resp) override {
    grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
    bool queued = env_.executor->Submit([req, resp, reactor] {
      resp->set_payload(req->payload());
      reactor->Finish(grpc::Status::OK);
    });
    if (!queued) reactor->Finish(grpc::Status(grpc::UNAVAILABLE, "queue full"));
    return reactor;
  }

  grpc::ServerUnaryReactor* EchoServed(grpc::CallbackServerContext* ctx,
                                       const epb::EchoRequest* req,
                                       epb::EchoResponse* resp) override {
    return Serve(env_, ctx, "EchoServed", RoleSet::Any(),
                 [req, resp](const CallContext&) {
                   resp->set_payload(req->payload());
                   return absl::OkStatus();
                 });
  }

  grpc::ServerUnaryReactor* EchoViaRedis(grpc::CallbackServerContext* ctx,
                                         const epb::EchoRequest* req,
                                         epb::EchoResponse* resp) override {
    grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
    redis_->Command(
        {"PING"}, [req, resp, reactor](absl::StatusOr<RedisReply> r) {
          if (!r.ok()) {
            reactor->Finish(grpc::Status(grpc::UNAVAILABLE, "redis"));
            return;
          }
          resp->set_payload(req->payload());
          reactor->Finish(grpc::Status::OK);
        });
    return reactor;
  }

  grpc::ServerUnaryReactor* EchoServedAsync(grpc::CallbackServerContext* ctx,
                                            const epb::EchoRequest* req,
                                            epb::EchoResponse* resp) override {
    return ServeAsync(
        env_, ctx, "EchoServedAsync", RoleSet::Any(),
        [this, req, resp](AsyncCall call) {
          redis_->Command({"PING"}, [call = std::move(call), req, resp](
                                        absl::StatusOr<RedisReply> r) mutable {
            if (!r.ok()) {
              return std::move(call).Finish(r.status());
            }
            resp->set_payload(req->payload());
            std::move(call).Finish(absl::OkStatus());
          });
        });
  }

  grpc::ServerUnaryReactor* ServeAction(grpc::CallbackServerContext* ctx,
                                        const rpb::GetActionRequest*,
                                        rpb::GetActionResponse* resp) override {
    *resp = prepared_;
    grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }
  grpc::ServerUnaryReactor* ServeActionBytes(grpc::CallbackServerContext* ctx,
                                             const grpc::ByteBuffer*,
                                             grpc::ByteBuffer* resp) override {
    *resp = prepared_bytes_;
    grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }
  // Before any ServeAction or ServeActionBytes call.
  void set_prepared(rpb::GetActionResponse r) {
    prepared_ = std::move(r);
    bool own = false;
    grpc::SerializationTraits<rpb::GetActionResponse>::Serialize(
        prepared_, &prepared_bytes_, &own);
  }

  grpc::ServerUnaryReactor* EchoServedInline(grpc::CallbackServerContext* ctx,
                                             const epb::EchoRequest* req,
                                             epb::EchoResponse* resp) override {
    return ServeAsync(env_, ctx, "EchoServedInline", RoleSet::Any(),
                      [req, resp](AsyncCall call) {
                        resp->set_payload(req->payload());
                        std::move(call).Finish(absl::OkStatus());
                      });
  }

 private:
  RpcEnv env_;
  AsyncRedis* redis_;
  rpb::GetActionResponse prepared_;
  grpc::ByteBuffer prepared_bytes_;
};

// Commands a client sends, as counted by INFO commandstats. Redis 7 also
// counts the commands a Lua script runs (HSET, XADD...); those are no round
// trips, so only what the service itself sends is kept: EVALSHA (a write),
// HMGET (a read) and GET (a token-cache miss).
struct CommandCounts {
  int64_t evalsha = 0;
  int64_t hmget = 0;
  int64_t get = 0;
  int64_t other_scripts = 0;  // SCRIPT LOAD after NOSCRIPT, EVAL

  CommandCounts operator-(const CommandCounts& o) const {
    return {evalsha - o.evalsha, hmget - o.hmget, get - o.get,
            other_scripts - o.other_scripts};
  }
  CommandCounts& operator+=(const CommandCounts& o) {
    evalsha += o.evalsha;
    hmget += o.hmget;
    get += o.get;
    other_scripts += o.other_scripts;
    return *this;
  }
  int64_t total() const { return evalsha + hmget + get + other_scripts; }
};

absl::StatusOr<CommandCounts> ClientCommands(RedisClient& redis) {
  auto r = redis.Command({"INFO", "commandstats"});
  if (!r.ok()) return r.status();
  std::map<std::string, int64_t> calls;
  for (absl::string_view line : absl::StrSplit(r->str(), "\r\n")) {
    // cmdstat_hmget:calls=12,usec=...
    if (!absl::ConsumePrefix(&line, "cmdstat_")) continue;
    size_t colon = line.find(':');
    size_t eq = line.find("calls=");
    if (colon == absl::string_view::npos || eq == absl::string_view::npos) {
      continue;
    }
    size_t comma = line.find(',', eq);
    int64_t n = 0;
    if (absl::SimpleAtoi(line.substr(eq + 6, comma - eq - 6), &n)) {
      calls[std::string(line.substr(0, colon))] = n;
    }
  }
  CommandCounts c;
  c.evalsha = calls["evalsha"];
  c.hmget = calls["hmget"];
  c.get = calls["get"];
  c.other_scripts = calls["script|load"] + calls["eval"];
  return c;
}

// kBaseline: the echo the targets compare with; kStep: an echo with part of
// a real handler's work, to take the gap apart.
// CPU time used so far, in seconds: this process (the client and every
// server: echo, roadmap) and redis-server (its INFO cpu). Per call, it says
// where the work goes whatever the machine's noise did to throughput.
struct CpuTime {
  double process = 0;
  double redis = 0;

  CpuTime operator-(const CpuTime& o) const {
    return {process - o.process, redis - o.redis};
  }
  CpuTime& operator+=(const CpuTime& o) {
    process += o.process;
    redis += o.redis;
    return *this;
  }
};

absl::StatusOr<CpuTime> TakeCpuTime(RedisClient& redis) {
  CpuTime t;
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  auto secs = [](const timeval& tv) { return tv.tv_sec + tv.tv_usec / 1e6; };
  t.process = secs(ru.ru_utime) + secs(ru.ru_stime);
  auto r = redis.Command({"INFO", "cpu"});
  if (!r.ok()) return r.status();
  for (absl::string_view line : absl::StrSplit(r->str(), "\r\n")) {
    double v = 0;
    if ((absl::ConsumePrefix(&line, "used_cpu_sys:") ||
         absl::ConsumePrefix(&line, "used_cpu_user:")) &&
        absl::SimpleAtod(line, &v)) {
      t.redis += v;
    }
  }
  return t;
}

enum class Kind { kBaseline, kStep, kWrite, kRead };

struct Scenario {
  std::string name;
  Kind kind;
  // Round-trip budget per RPC (the service's SPEC): at most this many.
  double max_evalsha = 0;
  double max_hmget = 0;
  // GETs the commit script itself runs per EVALSHA (the idempotency check
  // of a create with a request_id): INFO counts them, but they are no round
  // trips and no token-cache misses.
  int scripted_gets_per_evalsha = 0;
  // Callers for a given concurrency.
  std::function<CallerFactory(int concurrency)> callers;
};

// Figures of one scenario at one concurrency, over all its runs.
struct Cell {
  std::vector<RunResult> runs;
  CommandCounts commands;
  CpuTime cpu;
  int64_t rpcs = 0;  // every call the runs made, warm-up and drain too
};

// The same action as the service test's NewAction(): valid, steerable by
// the federation's copilot.
rpb::Action NewAction(const testing::Fixture& f, const std::string& title) {
  rpb::Action a;
  a.set_roadmap_id(f.roadmap);
  a.set_ecosystem_id(f.ecosystem);
  a.set_title(title);
  a.set_lead_organization_id(f.federation);
  a.set_partner_organization_id(f.ministry);
  a.set_owner("k.alaoui");
  *a.mutable_start_date() = D(2024, 7, 11);
  *a.mutable_due_date() = D(2099, 12, 31);
  auto* m = a.add_milestones();
  m->set_title("Cahier des charges");
  *m->mutable_due_date() = D(2098, 1, 1);
  a.add_tags("recyclage");
  return a;
}

absl::StatusOr<std::vector<int>> ParseConcurrency(const std::string& text) {
  std::vector<int> out;
  for (absl::string_view part : absl::StrSplit(text, ',', absl::SkipEmpty())) {
    int n = 0;
    if (!absl::SimpleAtoi(part, &n) || n < 1 || n > 1024) {
      return absl::InvalidArgumentError(
          "--concurrency: expected a comma-separated list of 1..1024, e.g. "
          "1,16,64");
    }
    out.push_back(n);
  }
  if (out.empty()) return absl::InvalidArgumentError("--concurrency is empty");
  return out;
}

// The ids a slot works on: slot, slot + c, slot + 2c... so that no two
// calls in flight ever touch the same action (no compare-and-write retry is
// measured).
std::vector<std::string> SlotShare(const std::vector<std::string>& ids,
                                   int slot, int concurrency) {
  std::vector<std::string> out;
  for (size_t i = slot; i < ids.size(); i += concurrency) out.push_back(ids[i]);
  return out;
}

const char* Verdict(bool ok) { return ok ? "met" : "NOT MET"; }

// Turns redis-server's AOF on or off and, on, waits until the rewrite
// that turning it on starts is over (it would compete with what follows).
absl::Status SetAof(RedisClient& redis, bool on) {
  auto r = redis.Command({"CONFIG", "SET", "appendonly", on ? "yes" : "no"});
  if (!r.ok()) return r.status();
  if (r->is_error()) return absl::InternalError(r->str());
  if (!on) return absl::OkStatus();
  for (int i = 0; i < 600; ++i) {  // a minute
    auto info = redis.Command({"INFO", "persistence"});
    if (!info.ok()) return info.status();
    if (absl::StrContains(info->str(), "aof_rewrite_in_progress:0") &&
        absl::StrContains(info->str(), "aof_rewrite_scheduled:0")) {
      return absl::OkStatus();
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return absl::DeadlineExceededError("the AOF rewrite did not end");
}

// The write floor (bench/write_floor.h), with the AOF as the benchmark runs
// (on, everysec) and off, and the ceiling the least script sets on the
// writes' CPU-cost ratio at concurrency `level`. `cost` and `redis_cost` give a
// scenario's CPU per call at that level, in seconds (0: not run).
void PrintWriteFloor(
    RedisClient& redis, const std::string& action_id, int level, int writes,
    const std::function<double(const std::string&)>& cost,
    const std::function<double(const std::string&)>& redis_cost) {
  WriteFloorOptions o;
  o.action_id = action_id;
  o.batch = level;
  o.writes = writes;
  o.redis_cpu = [&redis]() -> absl::StatusOr<double> {
    auto t = TakeCpuTime(redis);
    if (!t.ok()) return t.status();
    return t->redis;
  };
  std::fprintf(stderr, "  write floor\n");
  auto with_aof = MeasureWriteFloor(redis, o);
  absl::StatusOr<WriteFloor> without_aof = absl::UnknownError("not run");
  if (with_aof.ok()) {
    if (auto s = SetAof(redis, false); !s.ok()) {
      without_aof = s;
    } else {
      without_aof = MeasureWriteFloor(redis, o);
      if (auto s = SetAof(redis, true); !s.ok()) without_aof = s;
    }
  }
  std::printf("\nWrite floor at concurrency %d:\n", level);
  for (const auto* f : {&with_aof, &without_aof}) {
    if (!f->ok()) {
      // Not found: the run wrote no action event to read the bytes from.
      std::printf("  not measured: %s%s\n",
                  std::string(f->status().message()).c_str(),
                  absl::IsNotFound(f->status())
                      ? " (it needs a CreateAction and an UpdateAction run)"
                      : "");
      return;
    }
  }
  const WriteFloor& fl = *with_aof;
  std::printf(
      "  redis-server CPU per write of a write's own commands, %d writes per "
      "round trip: plain (no script, no check)\n  and in the least commit "
      "script the SPEC allows (its required checks, the same writes);\n"
      "  payloads: state %zu B, create event %zu B and history %zu B, update "
      "event %zu B and history %zu B\n",
      o.batch, fl.state, fl.create_event, fl.create_history, fl.update_event,
      fl.update_history);
  const double echo = cost("Echo");
  // With the CPUs saturated, QPS follows CPU per call: to reach 0.7x the
  // echo, a write may cost at most echo / 0.7 in all.
  std::printf(
      "  Echo: %.1f us of CPU per call in all; a write at 0.70x may cost "
      "%.1f us, %.1f us more than the echo\n",
      1e6 * echo, 1e6 * echo / 0.7, 1e6 * echo * (1 / 0.7 - 1));
  std::printf("  %-13s %9s | %-30s | %s\n", "", "service",
              "      AOF on (as measured)", "      AOF off");
  std::printf("  %-13s %9s | %8s %11s %9s | %8s %11s %9s\n", "scenario",
              "script us", "plain us", "min-scr us", "ceiling", "plain us",
              "min-scr us", "ceiling");
  struct Row {
    const char* name;
    double plain, script, plain_no_aof, script_no_aof;
  };
  const Row rows[] = {
      {"CreateAction", with_aof->create_us, with_aof->script_create_us,
       without_aof->create_us, without_aof->script_create_us},
      {"UpdateAction", with_aof->update_us, with_aof->script_update_us,
       without_aof->update_us, without_aof->script_update_us}};
  for (const auto& row : rows) {
    std::printf("  %-13s %9.1f | %8.1f %11.1f %8.2fx | %8.1f %11.1f %8.2fx\n",
                row.name, 1e6 * redis_cost(row.name), row.plain, row.script,
                echo / (echo + row.script / 1e6), row.plain_no_aof,
                row.script_no_aof, echo / (echo + row.script_no_aof / 1e6));
  }
  std::printf(
      "  service script us: redis-server CPU per call of the scenario above; "
      "plain, min-scr: per write of the floor.\n"
      "  ceiling: echo / (echo + min-scr), the CPU-cost ratio a write could "
      "reach were everything but its least script as cheap as the echo.\n");
}

int Main(int argc, char** argv) {
  BenchConfig config;
  Flags flags("roadmap_bench",
              "Echo vs CreateAction/UpdateAction/GetAction of the roadmap "
              "service, the Redis round-trip budget, and blocking vs async "
              "hiredis. Prints a table; see docs/performance.md.");
  flags.Int("seconds", &config.seconds, 1, 600,
            "measured seconds of each run of each scenario");
  flags.Duration("warmup", &config.warmup, std::chrono::milliseconds(0),
                 std::chrono::minutes(10),
                 "warm-up before each measured run, e.g. 500ms");
  flags.Int("repeat", &config.repeat, 1, 99,
            "runs of each scenario; the median is reported");
  flags.String("concurrency", &config.concurrency,
               "calls kept in flight, a comma-separated list");
  flags.Int("actions", &config.actions, 1, 100000,
            "actions pre-created for UpdateAction and GetAction");
  flags.Bool("raw-redis", &config.raw_redis,
             "also run the raw Redis section (blocking pool vs async)");
  flags.Bool("breakdown", &config.breakdown,
             "also run the echo steps (+executor, +Serve/auth, +loop/PING, "
             "+ServeAsync/inl, +ServeAsync)");
  flags.Bool("floor", &config.floor,
             "also measure the write floor: redis-server's CPU for the "
             "writes of one create and one update, as plain pipelined "
             "commands and in the least commit script, and the ratio "
             "ceiling it implies");
  flags.Int("floor-writes", &config.floor_writes, 1, 10000000,
            "writes of each kind the write floor measures");
  flags.Bool("absl-deadlock-detection", &config.absl_deadlock_detection,
             "leave Abseil's mutex deadlock detection on for the whole "
             "process (gRPC's locks are absl::Mutex); the service binaries "
             "turn it off (jalon::TuneForServing)");
  flags.Int("redis-loops", &config.redis_loops, 1, 64,
            "the service's Redis event loops (--redis-loops of the service)");
  flags.String("only", &config.only,
               "run only these scenarios (comma-separated names, e.g. "
               "Echo,GetAction), for profiling");
  if (auto s = flags.Parse(argc, argv); !s.ok()) {
    std::cerr << "roadmap_bench: " << s.message() << "\n";
    return 2;
  }
  if (flags.help_requested()) {
    std::cout << flags.Help();
    return 0;
  }
  if (!config.absl_deadlock_detection) jalon::TuneForServing();
  auto levels = ParseConcurrency(config.concurrency);
  if (!levels.ok()) {
    std::cerr << "roadmap_bench: " << levels.status().message() << "\n";
    return 2;
  }
  const int max_level = *std::max_element(levels->begin(), levels->end());
  config.actions = std::max(config.actions, max_level);

  // The service as main.cc wires it, with the production defaults.
  const ServiceConfig defaults;
  testing::HarnessOptions ho;
  ho.workers = defaults.workers;
  ho.redis_pool_size = defaults.redis_pool_size;
  ho.redis_loops = config.redis_loops;
  ho.auth_cache_ttl = defaults.auth_cache_ttl;
  ho.health_interval = defaults.health_interval;
  testing::RoadmapHarness harness(ho);
  // The harness polls Redis until it answers; its refused connections at
  // start-up are expected.
  spdlog::set_level(spdlog::level::err);
  if (auto s = harness.Start(); !s.ok()) {
    std::cerr << "roadmap_bench: cannot start Redis and the service: "
              << s.message() << "\n";
    return 1;
  }
  spdlog::set_level(spdlog::level::warn);
  const testing::Fixture f = harness.MakeFixture();
  if (f.roadmap.empty() || f.ecosystem.empty() ||
      f.federation_copilot.empty()) {
    std::cerr << "roadmap_bench: fixture creation failed\n";
    return 1;
  }
  const std::string& token = f.federation_copilot;

  // The echo server: same ServerHost (keepalive, health, reflection), its
  // health probe and EchoServed's token checks on the same Redis, its
  // executor sized like the service's.
  RedisOptions echo_redis_options = harness.redis_server().options();
  echo_redis_options.pool_size = defaults.redis_pool_size;
  RedisClient echo_redis(echo_redis_options);
  TokenVerifier echo_verifier(
      &echo_redis,
      AuthOptions{roadmap::Keys::TokenHashPrefix(),
                  roadmap::Keys::RevocationChannel(), defaults.auth_cache_ttl});
  Executor echo_executor(defaults.workers, defaults.max_queue);
  AsyncRedis echo_async_redis(echo_redis_options, config.redis_loops);
  EchoService echo_service(
      RpcEnv{&echo_executor, &echo_verifier, "bench.jalon"}, &echo_async_redis);
  ServiceConfig echo_config;
  echo_config.listen = "127.0.0.1:0";
  ServerHost echo_host(echo_config, "jalon.bench.v1.EchoService", &echo_redis);
  echo_host.AddService(&echo_service);
  if (auto s = echo_host.Start(); !s.ok()) {
    std::cerr << "roadmap_bench: cannot start the echo server: " << s.message()
              << "\n";
    return 1;
  }

  auto echo_channels = MakeChannels(
      "127.0.0.1:" + std::to_string(echo_host.port()), config.max_channels);
  auto roadmap_channels = MakeChannels(harness.target(), config.max_channels);
  std::vector<std::unique_ptr<epb::EchoService::Stub>> echo_stubs;
  std::vector<std::unique_ptr<rpb::RoadmapService::Stub>> roadmap_stubs;
  for (auto& c : echo_channels)
    echo_stubs.push_back(epb::EchoService::NewStub(c));
  for (auto& c : roadmap_channels) {
    roadmap_stubs.push_back(rpb::RoadmapService::NewStub(c));
  }
  auto channels_for = [&](int concurrency) {
    return std::min(concurrency, config.max_channels);
  };

  const rpb::Action action = NewAction(f, "Plateforme de collecte du cuivre");
  // The echo carries as many bytes as an action, so both move alike on the
  // wire.
  const std::string payload(action.ByteSizeLong(), 'x');

  // Actions to update and read.
  std::vector<std::string> pool;
  {
    auto stub = harness.Stub();
    for (int i = 0; i < config.actions; ++i) {
      rpb::CreateActionRequest req;
      *req.mutable_action() = NewAction(f, "Action " + std::to_string(i));
      rpb::CreateActionResponse resp;
      grpc::Status s = stub->CreateAction(Ctx(token).get(), req, &resp);
      if (!s.ok()) {
        std::cerr << "roadmap_bench: cannot create the actions: "
                  << s.error_message() << "\n";
        return 1;
      }
      pool.push_back(resp.action().id());
    }
    rpb::GetActionRequest get;
    get.set_id(pool[0]);
    rpb::GetActionResponse got;
    grpc::Status s = stub->GetAction(Ctx(token).get(), get, &got);
    if (!s.ok()) {
      std::cerr << "roadmap_bench: cannot read an action: " << s.error_message()
                << "\n";
      return 1;
    }
    echo_service.set_prepared(std::move(got));
  }
  // Titles must change on every update, or the service writes nothing.
  std::atomic<uint64_t> title_serial{0};

  using EchoCaller = UnaryCaller<epb::EchoRequest, epb::EchoResponse>;
  using CreateCaller =
      UnaryCaller<rpb::CreateActionRequest, rpb::CreateActionResponse>;
  using UpdateCaller =
      UnaryCaller<rpb::UpdateActionRequest, rpb::UpdateActionResponse>;
  using GetCaller = UnaryCaller<rpb::GetActionRequest, rpb::GetActionResponse>;

  std::vector<Scenario> scenarios;
  // `start` calls one echo method: stub->async()->Method(ctx, req, resp,
  // done).
  auto echo_callers = [&](auto start) {
    return [&, start](int c) -> CallerFactory {
      return [&, c, start](int slot) -> std::unique_ptr<Caller> {
        auto* stub = echo_stubs[slot % channels_for(c)].get();
        return std::make_unique<EchoCaller>(
            [stub, start](auto* ctx, auto* req, auto* resp, auto done) {
              start(stub->async(), ctx, req, resp, std::move(done));
            },
            [&](uint64_t n, epb::EchoRequest* req) {
              if (n == 0) req->set_payload(payload);
            });
      };
    };
  };
  scenarios.push_back(
      {"Echo", Kind::kBaseline, 0, 0, 0,
       echo_callers([](auto* async, auto... args) { async->Echo(args...); })});
  if (config.breakdown) {
    scenarios.push_back({"+executor", Kind::kStep, 0, 0, 0,
                         echo_callers([](auto* async, auto... args) {
                           async->EchoOnExecutor(args...);
                         })});
    scenarios.push_back({"+Serve/auth", Kind::kStep, 0, 0, 0,
                         echo_callers([](auto* async, auto... args) {
                           async->EchoServed(args...);
                         })});
    scenarios.push_back({"+loop/PING", Kind::kStep, 0, 0, 0,
                         echo_callers([](auto* async, auto... args) {
                           async->EchoViaRedis(args...);
                         })});
    scenarios.push_back({"+ServeAsync/inl", Kind::kStep, 0, 0, 0,
                         echo_callers([](auto* async, auto... args) {
                           async->EchoServedInline(args...);
                         })});
    scenarios.push_back({"+ServeAsync", Kind::kStep, 0, 0, 0,
                         echo_callers([](auto* async, auto... args) {
                           async->EchoServedAsync(args...);
                         })});
  }
  scenarios.push_back(
      {"CreateAction", Kind::kWrite, 1, 0, 1, [&](int c) -> CallerFactory {
         return [&, c](int slot) -> std::unique_ptr<Caller> {
           auto* stub = roadmap_stubs[slot % channels_for(c)].get();
           return std::make_unique<CreateCaller>(
               [stub](auto* ctx, auto* req, auto* resp, auto done) {
                 stub->async()->CreateAction(ctx, req, resp, std::move(done));
               },
               [&](uint64_t n, rpb::CreateActionRequest* req) {
                 if (n == 0) *req->mutable_action() = action;
                 // A real client names each create, so a retry is safe.
                 req->set_request_id(NewUlid());
               });
         };
       }});
  scenarios.push_back(
      {"UpdateAction", Kind::kWrite, 1, 1, 0, [&](int c) -> CallerFactory {
         return [&, c](int slot) -> std::unique_ptr<Caller> {
           auto* stub = roadmap_stubs[slot % channels_for(c)].get();
           return std::make_unique<UpdateCaller>(
               [stub](auto* ctx, auto* req, auto* resp, auto done) {
                 stub->async()->UpdateAction(ctx, req, resp, std::move(done));
               },
               [&, ids = SlotShare(pool, slot, c)](
                   uint64_t n, rpb::UpdateActionRequest* req) {
                 if (n == 0) req->mutable_update_mask()->add_paths("title");
                 // No etag: "whatever is current", as an editing form that
                 // does not guard against concurrent edits would send.
                 req->mutable_action()->set_id(ids[n % ids.size()]);
                 req->mutable_action()->set_title(
                     "Titre révisé " +
                     std::to_string(title_serial.fetch_add(1)));
               });
         };
       }});
  // `start` calls GetAction, or its bare twin, on one of `stubs`.
  auto get_callers = [&](auto& stubs, auto start) {
    return [&, start](int c) -> CallerFactory {
      return [&, c, start](int slot) -> std::unique_ptr<Caller> {
        auto* stub = stubs[slot % channels_for(c)].get();
        return std::make_unique<GetCaller>(
            [stub, start](auto* ctx, auto* req, auto* resp, auto done) {
              start(stub->async(), ctx, req, resp, std::move(done));
            },
            [&, ids = SlotShare(pool, slot, c)](uint64_t n,
                                                rpb::GetActionRequest* req) {
              req->set_id(ids[n % ids.size()]);
            });
      };
    };
  };
  scenarios.push_back(
      {"GetAction", Kind::kRead, 0, 1, 0,
       get_callers(roadmap_stubs, [](auto* async, auto... args) {
         async->GetAction(args...);
       })});
  scenarios.push_back({"GetAction/bare", Kind::kStep, 0, 0, 0,
                       get_callers(echo_stubs, [](auto* async, auto... args) {
                         async->ServeAction(args...);
                       })});
  scenarios.push_back({"GetAction/bytes", Kind::kStep, 0, 0, 0,
                       get_callers(echo_stubs, [](auto* async, auto... args) {
                         async->ServeActionBytes(args...);
                       })});

  if (!config.only.empty()) {
    std::vector<std::string> keep = absl::StrSplit(config.only, ',');
    std::erase_if(scenarios, [&](const Scenario& sc) {
      return std::find(keep.begin(), keep.end(), sc.name) == keep.end();
    });
    if (scenarios.empty()) {
      std::cerr << "roadmap_bench: --only matches no scenario; names are "
                   "Echo, +executor, +Serve/auth, CreateAction, "
                   "UpdateAction, GetAction\n";
      return 2;
    }
  }

  const unsigned cpus = std::thread::hardware_concurrency();
  std::printf(
      "roadmap_bench: %d run(s) x %d s (+%lld ms warm-up) per scenario, "
      "median of runs\n"
      "machine: %u CPU(s); client, service and redis-server share them\n"
      "service: %d workers, Redis pool %d, %d Redis event loop(s), auth "
      "cache %lld ms; echo payload "
      "%zu bytes; %zu actions for update/get; absl deadlock detection %s\n\n",
      config.repeat, config.seconds,
      static_cast<long long>(config.warmup.count()), cpus, ho.workers,
      ho.redis_pool_size, ho.redis_loops,
      static_cast<long long>(ho.auth_cache_ttl.count()), payload.size(),
      pool.size(), config.absl_deadlock_detection ? "on" : "off");
  std::fflush(stdout);

  // Runs are interleaved (every scenario once, then again) so that a noisy
  // neighbour hurts all scenarios alike rather than one.
  std::map<std::pair<std::string, int>, Cell> cells;
  bool failed = false;
  for (int rep = 0; rep < config.repeat && !failed; ++rep) {
    for (int c : *levels) {
      for (const auto& sc : scenarios) {
        LoadOptions lo;
        lo.concurrency = c;
        lo.warmup = config.warmup;
        lo.measure = std::chrono::seconds(config.seconds);
        lo.token = token;
        auto before = ClientCommands(harness.redis());
        auto cpu_before = TakeCpuTime(harness.redis());
        RunResult r = RunLoad(lo, sc.callers(c));
        auto cpu_after = TakeCpuTime(harness.redis());
        auto after = ClientCommands(harness.redis());
        if (!before.ok() || !after.ok() || !cpu_before.ok() ||
            !cpu_after.ok()) {
          std::cerr << "roadmap_bench: INFO on Redis failed\n";
          failed = true;
          break;
        }
        Cell& cell = cells[{sc.name, c}];
        cell.runs.push_back(r);
        CommandCounts delta = *after - *before;
        delta.get -= delta.evalsha * sc.scripted_gets_per_evalsha;
        cell.commands += delta;
        cell.cpu += *cpu_after - *cpu_before;
        cell.rpcs += r.total_calls;
        std::fprintf(stderr, "  run %d/%d  %-15s c=%-3d %9.0f QPS%s\n", rep + 1,
                     config.repeat, sc.name.c_str(), c, r.qps,
                     r.errors ? "  (errors)" : "");
      }
    }
  }

  std::printf("%-15s %5s %9s %7s %8s %8s %7s %8s %8s %7s %9s %8s %8s %8s %7s\n",
              "scenario", "conc", "QPS", "spread", "p50 us", "p99 us", "x echo",
              "cpu us", "redis us", "cpu x", "cmds/RPC", "evalsha", "hmget",
              "authGET", "errors");
  // CPU time per call, all processes together: on a machine the benchmark
  // saturates, the echo's cost / a scenario's cost is the throughput ratio
  // the scenario can reach, and it is far less noisy than QPS.
  auto cost = [&](const std::string& name, int c) {
    auto it = cells.find({name, c});
    if (it == cells.end() || it->second.rpcs == 0) return 0.0;
    return (it->second.cpu.process + it->second.cpu.redis) / it->second.rpcs;
  };
  auto cpu_ratio = [&](const std::string& name, int c) {
    double mine = cost(name, c);
    return mine > 0 ? cost("Echo", c) / mine : 0.0;
  };
  std::map<std::pair<std::string, int>, double> ratio;
  int64_t errors = 0;
  for (int c : *levels) {
    const std::vector<RunResult> no_runs;
    const auto& echo_runs =
        cells.count({"Echo", c}) ? cells[{"Echo", c}].runs : no_runs;
    for (const auto& sc : scenarios) {
      Cell& cell = cells[{sc.name, c}];
      RunResult m = Median(cell.runs);
      double per = cell.rpcs > 0 ? 1.0 / cell.rpcs : 0;
      ratio[{sc.name, c}] = MedianQpsRatio(cell.runs, echo_runs);
      errors += m.errors;
      std::printf(
          "%-15s %5d %9.0f %6.0f%% %8.0f %8.0f %7.2f %8.1f %8.1f %7.2f %9.3f "
          "%8.3f %8.3f %8.4f %7lld\n",
          sc.name.c_str(), c, m.qps, 100 * QpsSpread(cell.runs), m.p50_us,
          m.p99_us, ratio[{sc.name, c}], 1e6 * cell.cpu.process * per,
          1e6 * cell.cpu.redis * per, cpu_ratio(sc.name, c),
          cell.commands.total() * per, cell.commands.evalsha * per,
          cell.commands.hmget * per, cell.commands.get * per,
          static_cast<long long>(m.errors));
      if (m.errors > 0) {
        std::printf("  first error: %s\n", m.first_error.c_str());
      }
    }
  }

  std::printf(
      "spread: (max - min) / median QPS of the runs. x echo: median of the "
      "runs' QPS / the echo's in the same round.\n"
      "cpu us, redis us: CPU time per call of this process (client and "
      "servers) and of redis-server; cpu x: the echo's total / this row's.\n"
      "cmds/RPC: client commands per call (EVALSHA, HMGET, GET); authGET: "
      "token-cache misses.\n");
  std::printf("\nTargets at concurrency %d:\n", max_level);
  const bool have_echo = cells.count({"Echo", max_level}) > 0;
  if (!have_echo) std::printf("  (Echo was not run)\n");
  for (const auto& sc : scenarios) {
    if (!have_echo) break;
    if (sc.kind != Kind::kWrite && sc.kind != Kind::kRead) continue;
    double want = sc.kind == Kind::kWrite ? 0.7 : 0.9;
    double got = ratio[{sc.name, max_level}];
    double spread = std::max(QpsSpread(cells[{sc.name, max_level}].runs),
                             QpsSpread(cells[{"Echo", max_level}].runs));
    std::printf("  %-13s %s >= %.2fx echo: %.2fx  %-7s (CPU-cost ratio %.2fx)",
                sc.name.c_str(), sc.kind == Kind::kWrite ? "write" : "read ",
                want, got, Verdict(got >= want), cpu_ratio(sc.name, max_level));
    // A QPS ratio between runs whose QPS varied this much says more about
    // the neighbours than about the service.
    if (spread > 0.25) {
      std::printf("  [noisy: QPS spread %.0f%%; rerun on a quiet machine]",
                  100 * spread);
    }
    std::printf("\n");
  }

  // The budget counts round trips per RPC over every call of every run; a
  // token-cache refresh (one GET per TTL, not per call) is reported apart.
  std::printf("\nRedis round-trip budget (client commands per RPC):\n");
  for (const auto& sc : scenarios) {
    if (sc.kind != Kind::kWrite && sc.kind != Kind::kRead) continue;
    CommandCounts total;
    int64_t rpcs = 0;
    for (int c : *levels) {
      total += cells[{sc.name, c}].commands;
      rpcs += cells[{sc.name, c}].rpcs;
    }
    if (rpcs == 0) continue;
    double evalsha = static_cast<double>(total.evalsha) / rpcs;
    double hmget = static_cast<double>(total.hmget) / rpcs;
    double get = static_cast<double>(total.get) / rpcs;
    const double eps = 1e-9;
    bool held = evalsha <= sc.max_evalsha + eps &&
                hmget <= sc.max_hmget + eps && total.other_scripts == 0;
    bool cached = get < 0.01;
    std::printf(
        "  %-13s %lld RPCs: evalsha %.4f (<= %.0f), hmget %.4f (<= %.0f)  "
        "%s; auth GET %.5f/RPC (%lld)  %s\n",
        sc.name.c_str(), static_cast<long long>(rpcs), evalsha, sc.max_evalsha,
        hmget, sc.max_hmget, held ? "held" : "NOT HELD", get,
        static_cast<long long>(total.get),
        cached ? "cached" : "NOT CACHED (a GET per call)");
  }
  std::fflush(stdout);

  if (config.floor && !failed && have_echo) {
    auto redis_cost = [&](const std::string& name) {
      const Cell& cell = cells[{name, max_level}];
      return cell.rpcs > 0 ? cell.cpu.redis / cell.rpcs : 0.0;
    };
    PrintWriteFloor(
        harness.redis(), pool.front(), max_level, config.floor_writes,
        [&](const std::string& name) { return cost(name, max_level); },
        redis_cost);
  }
  std::fflush(stdout);

  // Release the servers' clients before the raw section competes for CPU.
  echo_stubs.clear();
  roadmap_stubs.clear();
  echo_channels.clear();
  roadmap_channels.clear();
  echo_host.Shutdown();
  echo_executor.Shutdown();

  if (config.raw_redis && !failed) {
    RawRedisOptions ro;
    ro.redis = harness.redis_server().options();
    ro.command = {"HMGET", roadmap::Keys::Entity(roadmap::kAction, pool[0]),
                  "v", "d", "h"};
    ro.warmup = config.warmup;
    ro.measure = std::chrono::seconds(config.seconds);
    ro.loops = config.redis_loops;
    std::map<std::pair<int, int>, std::vector<RunResult>> raw;
    std::map<std::pair<int, int>, CpuTime> raw_cpu;
    for (int rep = 0; rep < config.repeat; ++rep) {
      for (int c : *levels) {
        ro.concurrency = c;
        for (int k = 0; k < 3; ++k) {
          auto cpu_before = TakeCpuTime(harness.redis());
          raw[{k, c}].push_back(k == 0   ? RunBlockingPool(ro)
                                : k == 1 ? RunAsyncPipelined(ro)
                                         : RunAsyncRedis(ro));
          auto cpu_after = TakeCpuTime(harness.redis());
          if (cpu_before.ok() && cpu_after.ok()) {
            raw_cpu[{k, c}] += *cpu_after - *cpu_before;
          }
        }
        std::fprintf(stderr, "  raw run %d/%d c=%d\n", rep + 1, config.repeat,
                     c);
      }
    }
    std::printf(
        "\nRaw Redis: HMGET of one action hash (v d h), median of %d runs\n",
        config.repeat);
    std::printf("%-34s %5s %9s %7s %8s %8s %7s %8s %8s %7s\n", "client", "conc",
                "QPS", "spread", "p50 us", "p99 us", "x pool", "cpu us",
                "redis us", "errors");
    const std::string names[] = {
        "blocking pool (RedisClient)", "hiredis async, 1 conn, pipelined",
        absl::StrCat("AsyncRedis, ", ro.loops, " loop(s)")};
    for (int c : *levels) {
      for (int k = 0; k < 3; ++k) {
        const auto& runs = raw[{k, c}];
        RunResult m = Median(runs);
        errors += m.errors;
        const CpuTime& cpu = raw_cpu[{k, c}];
        double per = m.total_calls > 0 ? 1e6 / m.total_calls : 0;
        std::printf(
            "%-34s %5d %9.0f %6.0f%% %8.0f %8.0f %7.2f %8.2f %8.2f %7lld\n",
            names[k].c_str(), c, m.qps, 100 * QpsSpread(runs), m.p50_us,
            m.p99_us, MedianQpsRatio(runs, raw[{0, c}]), cpu.process * per,
            cpu.redis * per, static_cast<long long>(m.errors));
        if (m.errors > 0) {
          std::printf("  first error: %s\n", m.first_error.c_str());
        }
      }
    }
    std::printf("(pool: min(conc, %d) connections, one thread per caller)\n",
                ro.max_pool);
  }
  if (errors > 0) {
    std::printf("\n%lld call(s) failed: the figures above are not valid.\n",
                static_cast<long long>(errors));
    return 1;
  }
  return failed ? 1 : 0;
}

}  // namespace
}  // namespace jalon::bench

int main(int argc, char** argv) { return jalon::bench::Main(argc, argv); }
