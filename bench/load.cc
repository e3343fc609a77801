#include "bench/load.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "tests/support/roadmap_harness.h"

namespace jalon::bench {
namespace {

using SteadyClock = std::chrono::steady_clock;

// Nearest-rank percentile of sorted values, in microseconds.
double PercentileUs(const std::vector<Nanos>& sorted, double q) {
  if (sorted.empty()) return 0;
  size_t rank = static_cast<size_t>(std::ceil(q * sorted.size()));
  rank = std::clamp<size_t>(rank, 1, sorted.size());
  return sorted[rank - 1] / 1000.0;
}

double MedianOf(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

enum class Phase { kWarmup, kMeasure, kStop };

// The slots of one run and their bookkeeping. Each slot's fields are only
// touched by the call chain of that slot (one call at a time), so they need
// no lock; the main thread reads them after the drain.
class Load {
 public:
  Load(const LoadOptions& options, const CallerFactory& factory)
      : options_(options) {
    slots_.resize(options.concurrency);
    for (int i = 0; i < options.concurrency; ++i) {
      slots_[i].caller = factory(i);
      slots_[i].latencies.reserve(1 << 16);
    }
  }

  RunResult Run() {
    in_flight_ = static_cast<int>(slots_.size());
    for (auto& s : slots_) Issue(&s);
    std::this_thread::sleep_for(options_.warmup);
    auto t0 = SteadyClock::now();
    phase_.store(Phase::kMeasure);
    std::this_thread::sleep_for(options_.measure);
    phase_.store(Phase::kStop);
    auto t1 = SteadyClock::now();
    {
      std::unique_lock<std::mutex> lock(mu_);
      drained_.wait(lock, [&] { return in_flight_ == 0; });
    }
    RunResult out;
    std::vector<Nanos> all;
    for (auto& s : slots_) {
      all.insert(all.end(), s.latencies.begin(), s.latencies.end());
    }
    Summarize(all, std::chrono::duration<double>(t1 - t0).count(), &out);
    out.total_calls = total_.load();
    out.errors = errors_.load();
    out.first_error = first_error_;
    return out;
  }

 private:
  struct Slot {
    std::unique_ptr<Caller> caller;
    std::unique_ptr<grpc::ClientContext> ctx;
    SteadyClock::time_point start;
    std::vector<Nanos> latencies;
  };

  void Issue(Slot* s) {
    // A context serves one call; replacing the previous one inside its own
    // completion is allowed (the call has released it).
    s->ctx = testing::Ctx(options_.token);
    s->start = SteadyClock::now();
    s->caller->Start(s->ctx.get(),
                     [this, s](grpc::Status status) { Done(s, status); });
  }

  void Done(Slot* s, const grpc::Status& status) {
    auto end = SteadyClock::now();
    Phase phase = phase_.load();
    total_.fetch_add(1);
    if (!status.ok()) {
      if (errors_.fetch_add(1) == 0) {
        std::lock_guard<std::mutex> lock(mu_);
        first_error_ =
            std::to_string(status.error_code()) + " " + status.error_message();
      }
    } else if (phase == Phase::kMeasure) {
      s->latencies.push_back(
          std::chrono::duration_cast<std::chrono::nanoseconds>(end - s->start)
              .count());
    }
    if (phase != Phase::kStop) {
      Issue(s);
      return;
    }
    std::lock_guard<std::mutex> lock(mu_);
    if (--in_flight_ == 0) drained_.notify_all();
  }

  const LoadOptions options_;
  std::vector<Slot> slots_;
  std::atomic<Phase> phase_{Phase::kWarmup};
  std::atomic<int64_t> total_{0};
  std::atomic<int64_t> errors_{0};
  std::mutex mu_;
  std::condition_variable drained_;
  int in_flight_ = 0;
  std::string first_error_;
};

}  // namespace

void Summarize(std::vector<Nanos>& latencies, double seconds, RunResult* out) {
  std::sort(latencies.begin(), latencies.end());
  out->calls = static_cast<int64_t>(latencies.size());
  out->seconds = seconds;
  out->qps = seconds > 0 ? latencies.size() / seconds : 0;
  out->p50_us = PercentileUs(latencies, 0.50);
  out->p99_us = PercentileUs(latencies, 0.99);
}

RunResult Median(const std::vector<RunResult>& runs) {
  RunResult out;
  std::vector<double> qps, p50, p99;
  for (const auto& r : runs) {
    qps.push_back(r.qps);
    p50.push_back(r.p50_us);
    p99.push_back(r.p99_us);
    out.calls += r.calls;
    out.seconds += r.seconds;
    out.total_calls += r.total_calls;
    out.errors += r.errors;
    if (out.first_error.empty()) out.first_error = r.first_error;
  }
  out.qps = MedianOf(qps);
  out.p50_us = MedianOf(p50);
  out.p99_us = MedianOf(p99);
  return out;
}

double MedianQpsRatio(const std::vector<RunResult>& runs,
                      const std::vector<RunResult>& baseline) {
  std::vector<double> ratios;
  for (size_t i = 0; i < runs.size() && i < baseline.size(); ++i) {
    if (baseline[i].qps > 0) ratios.push_back(runs[i].qps / baseline[i].qps);
  }
  return MedianOf(ratios);
}

double QpsSpread(const std::vector<RunResult>& runs) {
  if (runs.empty()) return 0;
  auto [lo, hi] = std::minmax_element(
      runs.begin(), runs.end(),
      [](const RunResult& a, const RunResult& b) { return a.qps < b.qps; });
  double median = Median(runs).qps;
  return median > 0 ? (hi->qps - lo->qps) / median : 0;
}

RunResult RunLoad(const LoadOptions& options, const CallerFactory& factory) {
  Load load(options, factory);
  return load.Run();
}

std::vector<std::shared_ptr<grpc::Channel>> MakeChannels(
    const std::string& target, int count) {
  std::vector<std::shared_ptr<grpc::Channel>> out;
  for (int i = 0; i < count; ++i) {
    grpc::ChannelArguments args;
    // Channels with equal arguments would share one subchannel, hence one
    // TCP connection and one HTTP/2 stream limit.
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    args.SetInt("jalon.bench.channel", i);
    out.push_back(grpc::CreateCustomChannel(
        target, grpc::InsecureChannelCredentials(), args));
    out.back()->WaitForConnected(std::chrono::system_clock::now() +
                                 std::chrono::seconds(10));
  }
  return out;
}

}  // namespace jalon::bench
