// A closed-loop load generator for unary gRPC calls: `concurrency` calls
// kept in flight with the callback client API (each completion starts the
// next call of its slot), a warm-up, then a fixed measured window; and the
// statistics the benchmark prints. RunLoad is called from one thread; the
// calls complete on gRPC's threads.
#ifndef JALON_BENCH_LOAD_H_
#define JALON_BENCH_LOAD_H_

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace jalon::bench {

using Nanos = int64_t;

// What one measured window gave.
struct RunResult {
  int64_t calls = 0;   // successful calls completed in the measured window
  double seconds = 0;  // length of the window
  double qps = 0;
  double p50_us = 0;
  double p99_us = 0;
  int64_t total_calls = 0;  // every completed call, warm-up and drain too
  int64_t errors = 0;
  std::string first_error;
};

// Fills qps, p50 and p99 from the latencies of a window (sorts them).
void Summarize(std::vector<Nanos>& latencies, double seconds, RunResult* out);

// The median of each figure over several runs of one scenario (each figure
// on its own); counts are summed.
RunResult Median(const std::vector<RunResult>& runs);

// The median over runs of runs[i].qps / baseline[i].qps. Run i of each was
// taken at about the same time, so a slow spell of a noisy machine cancels
// out of the ratio.
double MedianQpsRatio(const std::vector<RunResult>& runs,
                      const std::vector<RunResult>& baseline);

// (max - min) / median of the runs' QPS: how noisy the figure is.
double QpsSpread(const std::vector<RunResult>& runs);

// Starts calls of one kind for one in-flight slot, so it may own its
// request and response: Start() is not called again before `done` ran.
class Caller {
 public:
  virtual ~Caller() = default;
  virtual void Start(grpc::ClientContext* ctx,
                     std::function<void(grpc::Status)> done) = 0;
};

// A Caller of a unary method: `fill` prepares the request of each call
// (given how many calls this slot made before), `invoke` starts it through
// stub->async()->Method(...).
template <typename Request, typename Response>
class UnaryCaller : public Caller {
 public:
  using Fill = std::function<void(uint64_t n, Request*)>;
  using Invoke =
      std::function<void(grpc::ClientContext*, const Request*, Response*,
                         std::function<void(grpc::Status)>)>;

  UnaryCaller(Invoke invoke, Fill fill)
      : invoke_(std::move(invoke)), fill_(std::move(fill)) {}

  void Start(grpc::ClientContext* ctx,
             std::function<void(grpc::Status)> done) override {
    if (fill_) fill_(n_++, &request_);
    response_.Clear();
    invoke_(ctx, &request_, &response_, std::move(done));
  }

 private:
  Invoke invoke_;
  Fill fill_;
  uint64_t n_ = 0;
  Request request_;
  Response response_;
};

// Makes the Caller of slot `slot` (0..concurrency-1).
using CallerFactory = std::function<std::unique_ptr<Caller>(int slot)>;

struct LoadOptions {
  int concurrency = 1;
  std::chrono::milliseconds warmup{500};
  std::chrono::milliseconds measure{3000};
  // Sent as "authorization: Bearer <token>" on every call, with a request
  // id and a deadline, as a real client would.
  std::string token;
};

// Runs one scenario: warm-up, measured window, then waits for the calls in
// flight to finish.
RunResult RunLoad(const LoadOptions& options, const CallerFactory& factory);

// `count` channels to `target` that do not share a connection (distinct
// channel arguments and a local subchannel pool).
std::vector<std::shared_ptr<grpc::Channel>> MakeChannels(
    const std::string& target, int count);

}  // namespace jalon::bench

#endif  // JALON_BENCH_LOAD_H_
