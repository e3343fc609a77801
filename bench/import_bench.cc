// How long `jalonctl import` takes to bring a roadmap of 10,000 actions
// with milestones into an empty system, beside bare create loops measured
// in the same run: the same CreateAction requests sent by one client one at
// a time, and 16 at a time (the import's concurrency). A benchmark, not a
// test: it prints medians and asserts nothing. See docs/performance.md.
//
// The roadmap and feedback services run in-process (the test harness, with
// a real redis-server); jalonctl runs as the child process a user starts.
#include <grpcpp/grpcpp.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "services/common/config.h"
#include "tests/support/feedback_harness.h"

#ifndef JALONCTL_BINARY
#error "JALONCTL_BINARY must name the jalonctl binary"
#endif

namespace jalon {
namespace {

namespace rpb = ::jalon::roadmap::v1;
using Steady = std::chrono::steady_clock;

double Ms(Steady::duration d) {
  return std::chrono::duration<double, std::milli>(d).count();
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

// The import file: two co-pilots, a roadmap, an ecosystem and `n` actions
// with two milestones each.
std::string ImportFile(int n) {
  std::string y = R"(version: 1
organizations:
  - {key: fimme, name: FIMME, kind: federation}
  - {key: industrie, name: Département de l'Industrie, kind: ministry}
roadmap:
  key: bench
  title: Feuille de route de mesure
  start_date: 2016-05-02
  horizon_date: 2030-12-31
  status: active
  copilots: [fimme, industrie]
ecosystems:
  - {key: metaux, name: Travail des métaux, creation_date: 2016-05-02}
actions:
)";
  for (int i = 0; i < n; ++i) {
    absl::StrAppend(&y, "  - key: a", i, R"(
    ecosystem: metaux
    title: Action de mesure numéro )",
                    i, R"( pour l'import
    lead: fimme
    partner: industrie
    priority: medium
    start_date: 2020-01-01
    due_date: 2030-12-31
    milestones:
      - {key: m1, title: Première étape, due_date: 2025-06-30}
      - {key: m2, title: Deuxième étape, due_date: 2028-06-30}
)");
  }
  return y;
}

rpb::CreateActionRequest Request(const testing::Fixture& f, int i) {
  rpb::CreateActionRequest req;
  req.set_request_id(absl::StrCat("bench-", i, "-", getpid()));
  auto* a = req.mutable_action();
  a->set_roadmap_id(f.roadmap);
  a->set_ecosystem_id(f.ecosystem);
  a->set_title(absl::StrCat("Action de mesure numéro ", i, " pour l'import"));
  a->set_lead_organization_id(f.federation);
  a->set_partner_organization_id(f.ministry);
  a->set_priority(rpb::ACTION_PRIORITY_MEDIUM);
  *a->mutable_start_date() = testing::D(2020, 1, 1);
  *a->mutable_due_date() = testing::D(2030, 12, 31);
  auto* m1 = a->add_milestones();
  m1->set_title("Première étape");
  *m1->mutable_due_date() = testing::D(2025, 6, 30);
  auto* m2 = a->add_milestones();
  m2->set_title("Deuxième étape");
  *m2->mutable_due_date() = testing::D(2028, 6, 30);
  return req;
}

// `n` creates on `width` threads; wall time in ms, or -1 on a failure.
double CreateLoop(rpb::RoadmapService::Stub* stub, const testing::Fixture& f,
                  const std::string& token, int n, int width, int round) {
  std::atomic<int> next{0};
  std::atomic<bool> failed{false};
  auto start = Steady::now();
  std::vector<std::thread> threads;
  for (int t = 0; t < width; ++t) {
    threads.emplace_back([&] {
      for (int i = next++; i < n && !failed; i = next++) {
        rpb::CreateActionRequest req = Request(f, round * n + i);
        rpb::CreateActionResponse resp;
        auto ctx = testing::Ctx(token);
        if (!stub->CreateAction(ctx.get(), req, &resp).ok()) failed = true;
      }
    });
  }
  for (auto& t : threads) t.join();
  return failed ? -1 : Ms(Steady::now() - start);
}

// Runs jalonctl import; wall time in ms, or -1 on a failure.
double Import(const std::string& file, const std::string& token_file,
              const std::string& roadmap, const std::string& feedback) {
  auto start = Steady::now();
  pid_t pid = fork();
  if (pid == 0) {
    setenv("JALON_TOKEN_FILE", token_file.c_str(), 1);
    setenv("JALON_ROADMAP_ADDRESS", roadmap.c_str(), 1);
    setenv("JALON_FEEDBACK_ADDRESS", feedback.c_str(), 1);
    setenv("XDG_CONFIG_HOME", "/nonexistent", 1);
    if (!freopen("/dev/null", "w", stdout)) _exit(126);
    execl(JALONCTL_BINARY, JALONCTL_BINARY, "import", file.c_str(),
          static_cast<char*>(nullptr));
    _exit(127);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  const double ms = Ms(Steady::now() - start);
  return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? ms : -1;
}

int Main(int argc, char** argv) {
  int actions = 10000, repeat = 3;
  Flags flags("import_bench",
              "jalonctl import of a roadmap of N actions with milestones "
              "into an empty system, beside bare create loops.");
  flags.Int("actions", &actions, 1, 1'000'000, "actions in the file");
  flags.Int("repeat", &repeat, 1, 99, "runs; the median is reported");
  if (auto s = flags.Parse(argc, argv); !s.ok()) {
    std::cerr << "import_bench: " << s.message() << "\n";
    return 2;
  }
  if (flags.help_requested()) {
    std::cout << flags.Help();
    return 0;
  }
  testing::HarnessOptions options;
  options.workers = 16;
  options.redis_pool_size = 16;
  std::vector<double> imports, loop1, loop16;
  const std::string dir = "/tmp/jalon-import-bench-" + std::to_string(getpid());
  std::system(("mkdir -p " + dir).c_str());
  const std::string file = dir + "/roadmap.yaml";
  std::ofstream(file) << ImportFile(actions);
  for (int round = 0; round < repeat; ++round) {
    // A fresh, empty system for each import.
    testing::FeedbackHarness h(options);
    if (!h.Start().ok()) return 1;
    const std::string token_file = dir + "/admin.token";
    std::ofstream(token_file) << h.roadmap().admin_token() << "\n";
    const double ms = Import(file, token_file, h.roadmap().target(),
                             "127.0.0.1:" + std::to_string(h.port()));
    if (ms < 0) {
      std::cerr << "import_bench: jalonctl import failed\n";
      return 1;
    }
    imports.push_back(ms);
    // The bare loops, on the same kind of system (the import's data is
    // there too; creates do not depend on it).
    testing::Fixture f = h.roadmap().MakeFixture();
    auto stub = h.roadmap().Stub();
    const double one =
        CreateLoop(stub.get(), f, f.federation_copilot, actions, 1, 2 * round);
    const double sixteen = CreateLoop(stub.get(), f, f.federation_copilot,
                                      actions, 16, 2 * round + 1);
    if (one < 0 || sixteen < 0) {
      std::cerr << "import_bench: a create failed\n";
      return 1;
    }
    loop1.push_back(one);
    loop16.push_back(sixteen);
    std::fprintf(stderr,
                 "  round %d/%d: import %.0f ms, loop x1 %.0f ms, loop x16 "
                 "%.0f ms\n",
                 round + 1, repeat, ms, one, sixteen);
  }
  std::system(("rm -rf " + dir).c_str());
  const double imp = Median(imports), l1 = Median(loop1), l16 = Median(loop16);
  std::printf("%d actions with 2 milestones each, median of %d runs:\n",
              actions, repeat);
  std::printf(
      "  jalonctl import (empty system)     %8.0f ms  %8.0f actions/s\n", imp,
      actions / (imp / 1000));
  std::printf(
      "  bare CreateAction loop, 1 at once  %8.0f ms  %8.0f actions/s"
      "  (import: %.2fx)\n",
      l1, actions / (l1 / 1000), imp / l1);
  std::printf(
      "  bare CreateAction loop, 16 at once %8.0f ms  %8.0f actions/s"
      "  (import: %.2fx)\n",
      l16, actions / (l16 / 1000), imp / l16);
  std::printf("Target: import of 10,000 actions <= 5 s: %s\n",
              actions == 10000 ? (imp <= 5000 ? "PASS" : "MISS")
                               : "(not the target's size)");
  return 0;
}

}  // namespace
}  // namespace jalon

int main(int argc, char** argv) { return jalon::Main(argc, argv); }
