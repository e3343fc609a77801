// End to end: the jalonctl binary as a child process against jalon-roadmap
// and jalon-feedback processes on a real redis-server, with a temporary HOME
// and XDG_CONFIG_HOME. Covers --help on every command, each output format,
// the exit codes, the config file, the example roadmap's import (idempotent,
// --dry-run, broken files) and the export -> import -> export round trip.
// The reporting commands need jalon-reporting and are tested with it.
#include <fcntl.h>
#include <google/protobuf/util/json_util.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/civil_time.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "jalon/feedback/v1/feedback.pb.h"
#include "jalon/reporting/v1/reporting.pb.h"
#include "jalon/roadmap/v1/roadmap.pb.h"
#include "tests/support/child_process.h"
#include "tests/support/free_port.h"
#include "tests/support/redis_server.h"
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
#ifndef JALONCTL_BINARY
#error "JALONCTL_BINARY must name the jalonctl binary"
#endif
#ifndef JALON_EXAMPLE_ROADMAP
#error "JALON_EXAMPLE_ROADMAP must name examples/roadmap-2016.yaml"
#endif

namespace jalon {
namespace {

namespace fpb = ::jalon::feedback::v1;
namespace rpb = ::jalon::roadmap::v1;
using testing::ChildProcess;
using testing::RedisServer;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string Trimmed(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
  return s;
}

struct Result {
  int code = -1;
  std::string out, err;
};

std::ostream& operator<<(std::ostream& os, const Result& r) {
  return os << "exit " << r.code << "\nstdout:\n"
            << r.out << "\nstderr:\n"
            << r.err;
}

// Redis, jalon-roadmap, jalon-feedback and jalon-reporting for one test.
class Services {
 public:
  void Start() {
    testing::RedisServerOptions ro;
    ro.password = "e2e-jalonctl";
    redis_ = std::make_unique<RedisServer>(ro);
    ASSERT_TRUE(redis_->Start().ok());
    dir_ = redis_->dir();
    std::ofstream(dir_ + "/redis-password") << ro.password << "\n";
    std::map<std::string, std::string> env = {
        {"JALON_REDIS_URL",
         "redis://127.0.0.1:" + std::to_string(redis_->port()) + "/0"},
        {"JALON_REDIS_PASSWORD_FILE", dir_ + "/redis-password"}};
    env["JALON_LISTEN"] = "127.0.0.1:0";
    ASSERT_TRUE(
        roadmap_
            .Start({JALON_ROADMAP_BINARY,
                    "--bootstrap-admin-token-file=" + admin_token_file(),
                    "--service-token-file=" + dir_ + "/services"},
                   env, dir_ + "/roadmap.log")
            .ok());
    auto roadmap_ports = roadmap_.WaitForListening(std::chrono::seconds(20));
    ASSERT_TRUE(roadmap_ports.ok()) << ReadFile(dir_ + "/roadmap.log");
    roadmap_port_ = roadmap_ports->grpc;
    ASSERT_TRUE(feedback_
                    .Start({JALON_FEEDBACK_BINARY,
                            "--roadmap-address=" + roadmap_address(),
                            "--roadmap-token-file=" + dir_ + "/services",
                            "--consumer-name=e2e"},
                           env, dir_ + "/feedback.log")
                    .ok());
    auto feedback_ports = feedback_.WaitForListening(std::chrono::seconds(20));
    ASSERT_TRUE(feedback_ports.ok()) << ReadFile(dir_ + "/feedback.log");
    feedback_port_ = feedback_ports->grpc;
    StartReporting(env, /*http_port=*/0);
  }

  // SIGTERM, then a new process on the same ports: a rolling restart.
  void RestartReporting() {
    ASSERT_NO_FATAL_FAILURE(StopReporting());
    ASSERT_NO_FATAL_FAILURE(StartReportingAgain());
  }
  void StopReporting() {
    reporting_->Signal(SIGTERM);
    auto code = reporting_->Wait(std::chrono::seconds(20));
    ASSERT_TRUE(code.ok() && *code == 0);
  }
  void StartReportingAgain() { StartReporting(reporting_env_, http_port_); }
  // Stops reporting and starts it again with these settings as well.
  void RestartReportingWith(const std::map<std::string, std::string>& env) {
    ASSERT_NO_FATAL_FAILURE(StopReporting());
    for (const auto& [k, v] : env) reporting_env_[k] = v;
    ASSERT_NO_FATAL_FAILURE(StartReportingAgain());
  }
  const std::string& dir() const { return dir_; }
  std::string admin_token_file() const { return dir_ + "/admin"; }
  std::string roadmap_address() const {
    return "127.0.0.1:" + std::to_string(roadmap_port_);
  }
  std::string feedback_address() const {
    return "127.0.0.1:" + std::to_string(feedback_port_);
  }
  std::string reporting_address() const {
    return "127.0.0.1:" + std::to_string(reporting_port_);
  }

 private:
  // Starts the reporting service with `env` (JALON_LISTEN=127.0.0.1:0 for
  // a port the kernel picks) and `http_port` (0: the same), then keeps the
  // ports it got for the next start.
  void StartReporting(std::map<std::string, std::string> env, int http_port) {
    reporting_env_ = std::move(env);
    reporting_ = std::make_unique<ChildProcess>();
    ASSERT_TRUE(
        reporting_
            ->Start({JALON_REPORTING_BINARY,
                     "--roadmap-address=" + roadmap_address(),
                     "--roadmap-token-file=" + dir_ + "/services",
                     "--http-listen=127.0.0.1:" + std::to_string(http_port),
                     "--consumer-name=e2e"},
                    reporting_env_, dir_ + "/reporting.log")
            .ok());
    auto ports = reporting_->WaitForListening(std::chrono::seconds(20));
    ASSERT_TRUE(ports.ok()) << ReadFile(dir_ + "/reporting.log");
    reporting_port_ = ports->grpc;
    http_port_ = ports->http;
    reporting_env_["JALON_LISTEN"] =
        "127.0.0.1:" + std::to_string(reporting_port_);
  }

  std::unique_ptr<RedisServer> redis_;
  std::string dir_;
  int roadmap_port_ = 0, feedback_port_ = 0, reporting_port_ = 0,
      http_port_ = 0;
  ChildProcess roadmap_, feedback_;
  std::unique_ptr<ChildProcess> reporting_;
  std::map<std::string, std::string> reporting_env_;
};

class JalonctlTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/jalonctl-test-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    home_ = tmpl;
    std::filesystem::create_directories(home_ + "/xdg");
  }
  void TearDown() override { std::filesystem::remove_all(home_); }

  void StartServices() { ASSERT_NO_FATAL_FAILURE(services_.Start()); }

  // The environment jalonctl runs with: a fresh HOME, nothing inherited
  // but PATH, the services of this test.
  std::map<std::string, std::string> BaseEnv() const {
    std::map<std::string, std::string> env = {
        {"HOME", home_},
        {"XDG_CONFIG_HOME", home_ + "/xdg"},
        {"PATH", "/usr/bin:/bin"}};
    if (!services_.dir().empty()) {
      env["JALON_TOKEN_FILE"] = services_.admin_token_file();
      env["JALON_ROADMAP_ADDRESS"] = services_.roadmap_address();
      env["JALON_FEEDBACK_ADDRESS"] = services_.feedback_address();
      env["JALON_REPORTING_ADDRESS"] = services_.reporting_address();
    }
    return env;
  }

  // Runs jalonctl with `args`; `env` entries override BaseEnv (an empty
  // value removes the variable).
  Result Run(const std::vector<std::string>& args,
             const std::map<std::string, std::string>& env = {}) {
    std::vector<std::string> argv = {JALONCTL_BINARY};
    argv.insert(argv.end(), args.begin(), args.end());
    return RunProgram(argv, env);
  }

  Result RunProgram(const std::vector<std::string>& program,
                    const std::map<std::string, std::string>& env = {}) {
    auto all = BaseEnv();
    for (const auto& [k, v] : env) {
      if (v.empty()) {
        all.erase(k);
      } else {
        all[k] = v;
      }
    }
    std::vector<std::string> env_strings, argv = program;
    for (const auto& [k, v] : all) env_strings.push_back(k + "=" + v);
    std::vector<char*> envp, argp;
    for (auto& s : env_strings) envp.push_back(s.data());
    envp.push_back(nullptr);
    for (auto& s : argv) argp.push_back(s.data());
    argp.push_back(nullptr);
    std::string out_path = home_ + "/out", err_path = home_ + "/err";
    int out_fd = open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    int err_fd = open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    int in_fd = open("/dev/null", O_RDONLY);
    pid_t pid = fork();
    if (pid == 0) {
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      dup2(in_fd, STDIN_FILENO);
      dup2(out_fd, STDOUT_FILENO);
      dup2(err_fd, STDERR_FILENO);
      sigset_t none;
      sigemptyset(&none);
      sigprocmask(SIG_SETMASK, &none, nullptr);
      execve(argp[0], argp.data(), envp.data());
      _exit(127);
    }
    close(out_fd);
    close(err_fd);
    close(in_fd);
    Result r;
    int status = 0;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(90);
    for (;;) {
      pid_t done = waitpid(pid, &status, WNOHANG);
      if (done == pid) break;
      if (std::chrono::steady_clock::now() > deadline) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
        ADD_FAILURE() << "jalonctl timed out";
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    r.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    r.out = ReadFile(out_path);
    r.err = ReadFile(err_path);
    return r;
  }

  std::string Write(const std::string& name, const std::string& text) {
    std::string path = home_ + "/" + name;
    std::ofstream(path) << text;
    return path;
  }

  // The first resource id in a JSON output ("id": "<ULID>"); empty if none.
  // Whether reporting applied every event of the streams it reads, as
  // its status for `roadmap` says (tools/run_summary.py --caught-up).
  bool CaughtUp(const std::string& roadmap) {
    Result r = Run({"report", "status", "--roadmap", roadmap, "-o", "json"});
    if (r.code != 0) return false;
    ::jalon::reporting::v1::GetRoadmapStatusResponse status;
    google::protobuf::util::JsonParseOptions lenient;
    lenient.ignore_unknown_fields = true;
    if (!google::protobuf::util::JsonStringToMessage(r.out, &status, lenient)
             .ok()) {
      return false;
    }
    if (status.positions().empty()) return false;
    for (const auto& p : status.positions()) {
      if (p.pending() != 0 || p.lag() != 0) return false;
    }
    return true;
  }

  static std::string FirstId(const Result& r) {
    std::smatch m;
    if (!std::regex_search(r.out, m,
                           std::regex("\"id\": \"([0-9A-Z]{26})\""))) {
      return "";
    }
    return m[1];
  }

  // What a `create -o json` (or any `-o json` of one resource) printed.
  template <typename M>
  M Parse(const Result& r) {
    M m;
    EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(r.out, &m).ok())
        << r;
    return m;
  }

  // Lines of a CSV list, header excluded.
  int CsvRows(const Result& r) {
    EXPECT_EQ(r.code, 0) << r;
    int lines = 0;
    for (char c : r.out) lines += c == '\n';
    return lines - 1;
  }

  std::string home_;
  Services services_;
};

// Walks the command tree from the top-level --help.
std::vector<std::string> Subcommands(const std::string& help) {
  std::vector<std::string> out;
  auto pos = help.find("Subcommands:");
  if (pos == std::string::npos) return out;
  std::istringstream in(help.substr(pos));
  std::string line;
  std::getline(in, line);
  static const std::regex kLine("^  ([a-z][a-z-]*)[ ,].*");
  while (std::getline(in, line) && !line.empty()) {
    std::smatch m;
    if (std::regex_match(line, m, kLine)) out.push_back(m[1]);
  }
  return out;
}

TEST_F(JalonctlTest, HelpOnEveryCommandExitsZeroWithExamples) {
  std::vector<std::vector<std::string>> queue = {{}};
  int leaves = 0;
  while (!queue.empty()) {
    auto path = queue.back();
    queue.pop_back();
    auto args = path;
    args.push_back("--help");
    Result r = Run(args);
    ASSERT_EQ(r.code, 0) << r;
    EXPECT_TRUE(absl::StrContains(r.out, "Usage:")) << r;
    auto subs = Subcommands(r.out);
    if (subs.empty()) {
      ++leaves;
      EXPECT_TRUE(absl::StrContains(r.out, "Examples:"))
          << "no examples in the help of: " << absl::StrJoin(path, " ");
    }
    for (const auto& s : subs) {
      auto next = path;
      next.push_back(s);
      queue.push_back(next);
    }
  }
  EXPECT_GT(leaves, 80);
}

TEST_F(JalonctlTest, UsageErrorsExitOne) {
  EXPECT_EQ(Run({}).code, 1);
  EXPECT_EQ(Run({"org", "list", "--no-such-flag"}).code, 1);
  EXPECT_EQ(Run({"org", "get"}).code, 1);
  EXPECT_EQ(Run({"-o", "xml", "org", "list"}).code, 1);
  // A word that is no command is named, with where to look.
  Result unknown = Run({"action", "transition", "01ABC"});
  EXPECT_EQ(unknown.code, 1) << unknown;
  EXPECT_TRUE(absl::StrContains(
      unknown.err, "unknown command \"transition\" for \"jalonctl action\""))
      << unknown;
  EXPECT_TRUE(absl::StrContains(unknown.err, "jalonctl action --help"))
      << unknown;
  Result top = Run({"bogus"});
  EXPECT_EQ(top.code, 1) << top;
  EXPECT_TRUE(
      absl::StrContains(top.err, "unknown command \"bogus\" for \"jalonctl\""))
      << top;
  // report export's -o names a file: a format name there is a slip, not a
  // file called "json" (no server needed to say so).
  Result slip = Run({"report", "export", "01ABC", "-o", "json"},
                    {{"JALON_TOKEN", "jalon_x"}});
  EXPECT_EQ(slip.code, 1) << slip;
  EXPECT_TRUE(absl::StrContains(slip.err, "--format json")) << slip;
  EXPECT_FALSE(std::filesystem::exists(home_ + "/json"));
  // An argument that is not UTF-8 (a Latin-1 terminal) is refused before
  // anything is sent: the server could not parse the request (it answers
  // INVALID_ARGUMENT on `request`, which names no argument). It is named
  // with its bytes escaped, not echoed raw.
  Result latin1 =
      Run({"action", "create", "--roadmap", "01ABC", "--title", "M\xE9tal"},
          {{"JALON_TOKEN", "jalon_x"}});
  EXPECT_EQ(latin1.code, 1) << latin1;
  EXPECT_TRUE(absl::StrContains(latin1.err, "M\\xE9tal")) << latin1;
  EXPECT_TRUE(absl::StrContains(latin1.err, "not UTF-8")) << latin1;
  EXPECT_FALSE(absl::StrContains(latin1.err, "M\xE9tal")) << latin1;
  // And a file given with -f.
  Write("latin1.yaml", "name: Fonderie\ndescription: M\xE9tal\n");
  Result file = Run({"org", "create", "-f", home_ + "/latin1.yaml"},
                    {{"JALON_TOKEN", "jalon_x"}});
  EXPECT_EQ(file.code, 6) << file;
  EXPECT_TRUE(absl::StrContains(file.err, "latin1.yaml:2: byte 0xE9")) << file;
  // A path that exists is only a path, whatever its encoding: its text is
  // what is sent.
  Write("m\xE9tal.yaml",
        "name: Fonderie\nkind: ORGANIZATION_KIND_MEMBER_COMPANY\n");
  Result path = Run({"--timeout", "2", "--roadmap-address",
                     testing::RefusingLoopbackPort().address(), "org", "create",
                     "-f", home_ + "/m\xE9tal.yaml"},
                    {{"JALON_TOKEN", "jalon_x"}});
  EXPECT_EQ(path.code, 5) << path;  // it got as far as calling
  EXPECT_FALSE(absl::StrContains(path.err, "not UTF-8")) << path;
}

TEST_F(JalonctlTest, CompletionScriptIsValidBash) {
  Result r = Run({"completion", "bash"});
  ASSERT_EQ(r.code, 0) << r;
  std::string path = Write("completion.bash", r.out);
  EXPECT_EQ(std::system(("bash -n " + path).c_str()), 0);
  // Loaded (without a word on stderr), it completes resources, verbs of a
  // resource, the formats of -o, and a file where -o names one.
  Write("zz-report.csv", "");
  auto complete = [&](const std::string& words, int cword) {
    std::string probe = Write(
        "probe.sh", "source " + path + "\ncd " + home_ + "\nCOMP_WORDS=(" +
                        words + ")\nCOMP_CWORD=" + std::to_string(cword) +
                        "\n_jalonctl\necho \"${COMPREPLY[*]}\"\n");
    std::string out = home_ + "/probe.out";
    EXPECT_EQ(std::system(("bash " + probe + " > " + out + " 2>&1").c_str()),
              0);
    return Trimmed(ReadFile(out));
  };
  EXPECT_EQ(complete("jalonctl ro", 1), "roadmap");
  EXPECT_EQ(complete("jalonctl action re", 2), "request-completion reject");
  EXPECT_EQ(complete("jalonctl action list -o j", 4), "json");
  EXPECT_EQ(complete("jalonctl report export 01J -o zz", 5), "zz-report.csv");
}

TEST_F(JalonctlTest, CreateGetListUpdateInEveryFormat) {
  StartServices();
  Result created = Run({"org", "create", "--name", "FIMME", "--kind",
                        "federation", "-o", "json"});
  ASSERT_EQ(created.code, 0) << created;
  auto fed = Parse<rpb::Organization>(created);
  ASSERT_FALSE(fed.id().empty());
  EXPECT_EQ(fed.kind(), rpb::ORGANIZATION_KIND_FEDERATION);

  Result yaml = Run({"org", "get", fed.id(), "-o", "yaml"});
  ASSERT_EQ(yaml.code, 0) << yaml;
  EXPECT_TRUE(absl::StrContains(yaml.out, "name: FIMME")) << yaml;
  EXPECT_TRUE(absl::StrContains(yaml.out, "etag: \"1\"")) << yaml;

  Result csv = Run({"org", "list", "-o", "csv"});
  ASSERT_EQ(csv.code, 0) << csv;
  EXPECT_TRUE(absl::StartsWith(csv.out, "ID,NAME,KIND,EMAIL\r\n")) << csv;
  EXPECT_TRUE(absl::StrContains(csv.out, fed.id() + ",FIMME,FEDERATION,\r\n"));

  Result table = Run({"org", "list"});
  ASSERT_EQ(table.code, 0) << table;
  EXPECT_TRUE(absl::StrContains(table.out, fed.id() + "  FIMME")) << table;

  Result updated = Run({"org", "update", fed.id(), "--email",
                        "contact@fimme.example", "-o", "json"});
  ASSERT_EQ(updated.code, 0) << updated;
  auto after = Parse<rpb::Organization>(updated);
  EXPECT_EQ(after.contact_email(), "contact@fimme.example");
  EXPECT_EQ(after.name(), "FIMME");
  EXPECT_NE(after.etag(), fed.etag());

  // A roadmap and an action from files (YAML and JSON), then flags.
  auto min =
      Parse<rpb::Organization>(Run({"org", "create", "--name", "Industrie",
                                    "--kind", "ministry", "-o", "json"}));
  std::string roadmap_file =
      Write("roadmap.yaml",
            "title: Feuille de route IMME\nstart_date: {year: 2016, "
            "month: 5, day: 2}\nhorizon_date: {year: 2026, month: 12, "
            "day: 31}\ncopilot_organization_ids: [" +
                fed.id() + ", " + min.id() + "]\n");
  auto roadmap = Parse<rpb::Roadmap>(
      Run({"roadmap", "create", "-f", roadmap_file, "-o", "json"}));
  ASSERT_FALSE(roadmap.id().empty());
  std::string action_file =
      Write("action.json",
            "{\"title\": \"Plateforme de tri\", \"lead_organization_id\": \"" +
                fed.id() + "\", \"partner_organization_id\": \"" + min.id() +
                "\", \"due_date\": {\"year\": 2030, "
                "\"month\": 1, \"day\": 1}}");
  Result action_created =
      Run({"action", "create", "--roadmap", roadmap.id(), "-f", action_file,
           "--priority", "high", "-o", "json"});
  ASSERT_EQ(action_created.code, 0) << action_created;
  auto action = Parse<rpb::Action>(action_created);
  EXPECT_EQ(action.priority(), rpb::ACTION_PRIORITY_HIGH);
  EXPECT_EQ(action.status(), rpb::ACTION_STATUS_PROPOSED);

  Result moved = Run({"action", "update", action.id(), "--due", "2031-06-30",
                      "--tags", "tri,recyclage", "-o", "json"});
  ASSERT_EQ(moved.code, 0) << moved;
  action = Parse<rpb::Action>(moved);
  EXPECT_EQ(action.due_date().year(), 2031);
  EXPECT_EQ(action.tags_size(), 2);
  EXPECT_EQ(action.title(), "Plateforme de tri");

  ASSERT_EQ(Run({"milestone", "add", action.id(), "--id", "etude", "--title",
                 "Étude", "--due", "2030-06-30"})
                .code,
            0);
  ASSERT_EQ(
      Run({"milestone", "done", action.id(), "etude", "--date", "2025-05-01"})
          .code,
      0);
  ASSERT_EQ(Run({"action", "plan", action.id()}).code, 0);
  ASSERT_EQ(Run({"action", "start", action.id()}).code, 0);
  action =
      Parse<rpb::Action>(Run({"action", "get", action.id(), "-o", "json"}));
  EXPECT_EQ(action.status(), rpb::ACTION_STATUS_IN_PROGRESS);
  EXPECT_EQ(action.progress_percent(), 100);
  ASSERT_EQ(action.milestones_size(), 1);
  EXPECT_EQ(action.milestones(0).done_date().month(), 5);

  Result history = Run({"action", "history", action.id(), "-o", "csv"});
  // Created, updated (due, tags), two milestone updates, two transitions.
  EXPECT_EQ(CsvRows(history), 6) << history;
  EXPECT_TRUE(absl::StrContains(history.out, "roadmap.action.transitioned"));

  Result listed = Run({"action", "list", "--roadmap", roadmap.id(), "--status",
                       "in-progress", "-o", "yaml"});
  ASSERT_EQ(listed.code, 0) << listed;
  EXPECT_TRUE(absl::StrContains(listed.out, "- id: " + action.id())) << listed;
  EXPECT_EQ(
      CsvRows(Run({"action", "list", "--status", "blocked", "-o", "csv"})), 0);
}

// The get, create and update verbs of every other resource: each create
// sends what its flags say, each get shows it, each update changes only
// what it names and starts from the etag it just read.
TEST_F(JalonctlTest, EveryResourceIsCreatedShownAndUpdated) {
  StartServices();
  auto org = [&](const std::string& name, const std::string& kind) {
    return Parse<rpb::Organization>(
        Run({"org", "create", "--name", name, "--kind", kind, "-o", "json"}));
  };
  rpb::Organization fed = org("FIMME", "federation");
  rpb::Organization min = org("Industrie", "ministry");
  rpb::Organization member = org("Atlas Fonderie", "member-company");
  // A token of another principal, in a file of its own.
  // In CSV, an issued token is its row and its secret.
  Result csv_token = Run({"token", "issue", "--org", member.id(), "--role",
                          "reader", "--principal", "bot", "-o", "csv"});
  ASSERT_EQ(csv_token.code, 0) << csv_token;
  EXPECT_TRUE(std::regex_search(
      csv_token.out,
      std::regex("^ID,PRINCIPAL,ORGANIZATION,ROLE,STATE,SECRET\r\n[0-9A-Z]{26},"
                 "bot," +
                 member.id() + ",READER,ACTIVE,[A-Za-z0-9_-]{20,}\r\n$")))
      << csv_token;
  auto token = [&](const rpb::Organization& o, const std::string& role) {
    std::string file = home_ + "/" + role + "-" + o.id();
    Result issued =
        Run({"token", "issue", "--org", o.id(), "--role", role, "--principal",
             role + "@" + o.name(), "--secret-file", file});
    EXPECT_EQ(issued.code, 0) << issued;
    return std::map<std::string, std::string>{{"JALON_TOKEN_FILE", file}};
  };
  // `group get ID -o json`, parsed.
  auto get = [&]<typename M>(const std::string& group, const M& m) {
    Result r = Run({group, "get", m.id(), "-o", "json"});
    EXPECT_EQ(r.code, 0) << r;
    return Parse<M>(r);
  };

  Result created = Run({"roadmap", "create", "--title", "IMME", "--start",
                        "2016-05-02", "--horizon", "2030-12-31", "--copilots",
                        fed.id() + "," + min.id(), "-o", "json"});
  ASSERT_EQ(created.code, 0) << created;
  auto roadmap = Parse<rpb::Roadmap>(created);
  EXPECT_EQ(get("roadmap", roadmap).title(), "IMME");
  Result updated = Run(
      {"roadmap", "update", roadmap.id(), "--status", "active", "-o", "json"});
  ASSERT_EQ(updated.code, 0) << updated;
  EXPECT_EQ(Parse<rpb::Roadmap>(updated).status(), rpb::ROADMAP_STATUS_ACTIVE);
  EXPECT_EQ(get("roadmap", roadmap).title(), "IMME");

  auto ecosystem = Parse<rpb::Ecosystem>(
      Run({"ecosystem", "create", "--roadmap", roadmap.id(), "--name",
           "Travail des métaux", "--created", "2016-05-02", "-o", "json"}));
  ASSERT_FALSE(ecosystem.id().empty());
  EXPECT_EQ(ecosystem.roadmap_id(), roadmap.id());
  EXPECT_EQ(get("ecosystem", ecosystem).name(), "Travail des métaux");
  // A stale etag changes nothing; the current one (the default) does.
  ASSERT_EQ(Run({"ecosystem", "update", ecosystem.id(), "--description",
                 "Fonderie, forge"})
                .code,
            0);
  Result stale = Run({"ecosystem", "update", ecosystem.id(), "--etag",
                      ecosystem.etag(), "--description", "autre"});
  EXPECT_EQ(stale.code, 4) << stale;
  EXPECT_EQ(get("ecosystem", ecosystem).description(), "Fonderie, forge");
  EXPECT_EQ(get("ecosystem", ecosystem).name(), "Travail des métaux");
  Result nothing = Run({"ecosystem", "update", ecosystem.id()});
  EXPECT_EQ(nothing.code, 1) << nothing;
  EXPECT_TRUE(absl::StrContains(nothing.err, "nothing to update")) << nothing;

  auto indicator = Parse<rpb::Indicator>(
      Run({"indicator",       "create",       "--roadmap",  roadmap.id(),
           "--ecosystem",     ecosystem.id(), "--name",     "Nouveaux emplois",
           "--unit",          "jobs",         "--baseline", "0",
           "--baseline-date", "2016-01-01",   "--target",   "13340",
           "--target-date",   "2020-12-31",   "-o",         "json"}));
  ASSERT_FALSE(indicator.id().empty());
  EXPECT_EQ(indicator.ecosystem_id(), ecosystem.id());
  ASSERT_EQ(
      Run({"indicator", "update", indicator.id(), "--target", "14000"}).code,
      0);
  EXPECT_EQ(get("indicator", indicator).target_value(), 14000);
  EXPECT_EQ(get("indicator", indicator).name(), "Nouveaux emplois");
  // A bad value is reported under the flag the user typed.
  Result bad_date = Run(
      {"indicator", "update", indicator.id(), "--target-date", "2020-02-30"});
  EXPECT_EQ(bad_date.code, 1) << bad_date;
  EXPECT_TRUE(absl::StrContains(bad_date.err, "--target-date")) << bad_date;
  EXPECT_FALSE(absl::StrContains(bad_date.err, "target_date")) << bad_date;
  Result missing = Run({"indicator", "get", "01NOSUCHINDICATOR000000000"});
  EXPECT_EQ(missing.code, 2) << missing;
  EXPECT_TRUE(absl::StartsWith(missing.err, "error: get indicator: "))
      << missing;

  // Recorded by a co-pilot, under its alias.
  Result recorded =
      Run({"measurement", "record", "--indicator", indicator.id(), "--value",
           "4120", "--period-start", "2017-01-01", "--period-end", "2017-12-31",
           "--source", "CNSS 2017", "-o", "json"},
          token(fed, "copilot"));
  ASSERT_EQ(recorded.code, 0) << recorded;
  auto measurement = Parse<rpb::Measurement>(recorded);
  EXPECT_EQ(get("measurement", measurement).value(), 4120);
  EXPECT_EQ(get("measurement", measurement).verification_state(),
            rpb::VERIFICATION_STATE_UNVERIFIED);

  auto consultation = Parse<fpb::Consultation>(
      Run({"consultation", "create", "--roadmap", roadmap.id(), "--title",
           "Rencontre FIMME", "--place", "Casablanca", "--date", "2024-07-11",
           "--open", "2024-07-01T00:00:00Z", "--close", "2099-12-31T00:00:00Z",
           "-o", "json"}));
  ASSERT_FALSE(consultation.id().empty());
  ASSERT_EQ(
      Run({"consultation", "update", consultation.id(), "--place", "Rabat"})
          .code,
      0);
  EXPECT_EQ(get("consultation", consultation).place(), "Rabat");
  EXPECT_EQ(get("consultation", consultation).title(), "Rencontre FIMME");

  auto as_member = token(member, "member");
  Result bad_kind = Run({"feedback", "create", "--roadmap", roadmap.id(),
                         "--kind", "complaint", "--title", "T", "--body", "B"},
                        as_member);
  EXPECT_EQ(bad_kind.code, 1) << bad_kind;
  EXPECT_TRUE(absl::StrContains(bad_kind.err, "--kind")) << bad_kind;
  Result submitted = Run(
      {"feedback", "submit", "--roadmap", roadmap.id(), "--consultation",
       consultation.id(), "--kind", "blocker", "--severity", "high", "--title",
       "Accès au foncier", "--body", "Pas de terrains.", "-o", "json"},
      as_member);
  ASSERT_EQ(submitted.code, 0) << submitted;
  auto item = Parse<fpb::FeedbackItem>(submitted);
  EXPECT_EQ(item.kind(), fpb::FEEDBACK_KIND_BLOCKER);
  EXPECT_EQ(item.consultation_id(), consultation.id());
  Result edited = Run(
      {"feedback", "update", item.id(), "--severity", "critical", "-o", "json"},
      as_member);
  ASSERT_EQ(edited.code, 0) << edited;
  EXPECT_EQ(Parse<fpb::FeedbackItem>(edited).severity(),
            fpb::SEVERITY_CRITICAL);
  EXPECT_EQ(get("feedback", item).title(), "Accès au foncier");
  // The list shows only the feedback just submitted.
  EXPECT_EQ(CsvRows(Run(
                {"feedback", "list", "--roadmap", roadmap.id(), "-o", "csv"})),
            1);
}

TEST_F(JalonctlTest, ListPaginatesAndLimits) {
  StartServices();
  // More than one page of the server's default page size (50).
  for (int i = 0; i < 55; ++i) {
    ASSERT_EQ(Run({"org", "create", "--name", "Membre " + std::to_string(i),
                   "--kind", "member-company", "-o", "csv"})
                  .code,
              0);
  }
  EXPECT_EQ(CsvRows(Run({"org", "list", "-o", "csv"})), 56);
  EXPECT_EQ(CsvRows(Run({"org", "list", "-o", "csv", "--limit", "7"})), 7);
  EXPECT_EQ(CsvRows(Run({"org", "list", "--kind", "federation", "-o", "csv"})),
            1);
}

TEST_F(JalonctlTest, TableFitsOneHundredColumns) {
  StartServices();
  std::string long_name(150, 'x');
  ASSERT_EQ(Run({"org", "create", "--name", long_name, "--kind",
                 "member-company", "--email", "a@b.example"})
                .code,
            0);
  Result r = Run({"org", "list"});
  ASSERT_EQ(r.code, 0) << r;
  for (absl::string_view line : absl::StrSplit(r.out, '\n')) {
    size_t width = 0;
    for (unsigned char c : line) width += (c & 0xC0) != 0x80;
    EXPECT_LE(width, 100u) << line;
  }
  EXPECT_TRUE(absl::StrContains(r.out, "…")) << r;
}

TEST_F(JalonctlTest, ExitCodesScriptsCanTrust) {
  StartServices();
  // 2: not found.
  Result missing = Run({"org", "get", "01NOSUCHORGANIZATION0000000"});
  EXPECT_EQ(missing.code, 2) << missing;
  EXPECT_TRUE(absl::StrContains(missing.err, "NOT_FOUND")) << missing;
  // 3: a bad token, from the environment.
  Result denied =
      Run({"org", "list"}, {{"JALON_TOKEN", "jalon_notarealtoken"}});
  EXPECT_EQ(denied.code, 3) << denied;
  EXPECT_FALSE(absl::StrContains(denied.err, "jalon_notarealtoken")) << denied;
  // 3: no token at all.
  EXPECT_EQ(Run({"org", "list"}, {{"JALON_TOKEN_FILE", ""}}).code, 3);
  // A Secret's trailing newline is no part of the token...
  const std::string admin = ReadFile(services_.admin_token_file());
  EXPECT_EQ(Run({"org", "list"}, {{"JALON_TOKEN", admin + "\n"}}).code, 0);
  // ...but a token no header can carry is refused, never echoed (gRPC
  // aborted on it, printing the header).
  Result garbled = Run({"org", "list"}, {{"JALON_TOKEN", "jalon_ab\tcd"}});
  EXPECT_EQ(garbled.code, 3) << garbled;
  EXPECT_FALSE(absl::StrContains(garbled.err, "jalon_ab")) << garbled;
  // 6: invalid argument, with the field named.
  Result invalid = Run({"org", "create", "--name", "", "--kind", "federation"});
  EXPECT_EQ(invalid.code, 6) << invalid;
  EXPECT_TRUE(absl::StrContains(invalid.err, "organization.name: is required"))
      << invalid;
  // 4: a stale etag.
  auto org = Parse<rpb::Organization>(Run(
      {"org", "create", "--name", "A", "--kind", "federation", "-o", "json"}));
  ASSERT_EQ(Run({"org", "update", org.id(), "--description", "v2"}).code, 0);
  Result stale = Run(
      {"org", "update", org.id(), "--etag", org.etag(), "--description", "v3"});
  EXPECT_EQ(stale.code, 4) << stale;
  EXPECT_TRUE(absl::StrContains(stale.err, "ABORTED")) << stale;
  // 4: an illegal transition names the allowed ones.
  auto min = Parse<rpb::Organization>(Run(
      {"org", "create", "--name", "M", "--kind", "ministry", "-o", "json"}));
  auto roadmap = Parse<rpb::Roadmap>(
      Run({"roadmap", "create", "--title", "R", "--start", "2016-05-02",
           "--horizon", "2026-12-31", "--copilots", org.id() + "," + min.id(),
           "-o", "json"}));
  auto action = Parse<rpb::Action>(Run(
      {"action", "create", "--roadmap", roadmap.id(), "--title", "A", "--lead",
       org.id(), "--partner", min.id(), "--due", "2030-01-01", "-o", "json"}));
  Result illegal = Run({"action", "approve", action.id()});
  EXPECT_EQ(illegal.code, 4) << illegal;
  EXPECT_TRUE(absl::StrContains(illegal.err, "allowed from PROPOSED"))
      << illegal;
  // 5: nothing listening, and a deadline.
  testing::RefusingLoopbackPort refusing;
  std::string nowhere = refusing.address();
  Result down =
      Run({"--roadmap-address", nowhere, "--timeout", "2", "org", "list"});
  EXPECT_EQ(down.code, 5) << down;
  // The reporting service is not started in this test.
  EXPECT_EQ(Run({"--timeout", "2", "report", "list", "--roadmap", roadmap.id()},
                {{"JALON_REPORTING_ADDRESS", nowhere}})
                .code,
            5);
}

TEST_F(JalonctlTest, ConfigContextsAndOverrides) {
  StartServices();
  std::string token_file = services_.admin_token_file();
  Result set = Run({"config", "set-context", "local", "--roadmap",
                    services_.roadmap_address(), "--feedback",
                    services_.feedback_address(), "--token-file", token_file},
                   {{"JALON_TOKEN_FILE", ""}, {"JALON_ROADMAP_ADDRESS", ""}});
  ASSERT_EQ(set.code, 0) << set;
  std::string config = home_ + "/xdg/jalon/config.yaml";
  ASSERT_TRUE(std::filesystem::exists(config));
  EXPECT_EQ(std::filesystem::status(config).permissions() &
                std::filesystem::perms::others_read,
            std::filesystem::perms::none);
  std::map<std::string, std::string> only_config = {
      {"JALON_TOKEN_FILE", ""},
      {"JALON_ROADMAP_ADDRESS", ""},
      {"JALON_FEEDBACK_ADDRESS", ""}};
  EXPECT_EQ(Trimmed(Run({"config", "current-context"}, only_config).out),
            "local");
  EXPECT_EQ(Run({"whoami"}, only_config).code, 0);
  // JALON_* overrides the context; a flag overrides JALON_*.
  testing::RefusingLoopbackPort refusing;
  std::string nowhere = refusing.address();
  auto env_override = only_config;
  env_override["JALON_ROADMAP_ADDRESS"] = nowhere;
  EXPECT_EQ(Run({"--timeout", "2", "whoami"}, env_override).code, 5);
  EXPECT_EQ(Run({"--roadmap-address", services_.roadmap_address(), "whoami"},
                env_override)
                .code,
            0);
  // A second context; use-context switches; --config names another file.
  ASSERT_EQ(Run({"config", "set-context", "elsewhere", "--roadmap", nowhere},
                only_config)
                .code,
            0);
  ASSERT_EQ(Run({"config", "use-context", "elsewhere"}, only_config).code, 0);
  EXPECT_EQ(Run({"--timeout", "2", "whoami"}, only_config).code, 3);
  EXPECT_EQ(Run({"--context", "local", "whoami"}, only_config).code, 0);
  EXPECT_EQ(Run({"config", "use-context", "nope"}, only_config).code, 2);
  // A context works from any directory: a token file given relative to
  // where set-context ran is saved absolute.
  ASSERT_EQ(
      RunProgram({"/bin/sh", "-c",
                  "cd " + home_ + " && exec " + JALONCTL_BINARY +
                      " config set-context relative --roadmap " +
                      services_.roadmap_address() + " --token-file " +
                      std::filesystem::relative(token_file, home_).string()},
                 only_config)
          .code,
      0);
  EXPECT_EQ(RunProgram({"/bin/sh", "-c",
                        std::string("cd / && exec ") + JALONCTL_BINARY +
                            " --context relative whoami"},
                       only_config)
                .code,
            0);
  // A relative token_file written by hand is relative to the config file.
  std::filesystem::copy_file(token_file, home_ + "/xdg/jalon/by-hand.token");
  Write("xdg/jalon/by-hand.yaml",
        "current-context: by-hand\ncontexts:\n  by-hand:\n    roadmap: " +
            services_.roadmap_address() + "\n    token_file: by-hand.token\n");
  EXPECT_EQ(
      RunProgram({"/bin/sh", "-c",
                  std::string("cd / && exec ") + JALONCTL_BINARY +
                      " --config " + home_ + "/xdg/jalon/by-hand.yaml whoami"},
                 only_config)
          .code,
      0);
  // A value left blank is absent (the default), not the text "null"; a
  // list where a value goes is an error naming it.
  Write("xdg/jalon/blank.yaml",
        "current-context:\ncontexts:\n  blank:\n    roadmap: " +
            services_.roadmap_address() +
            "\n    feedback:\n    token_file: " + token_file + "\n");
  const std::string blank = home_ + "/xdg/jalon/blank.yaml";
  Result blank_view = Run(
      {"--config", blank, "--context", "blank", "config", "view"}, only_config);
  EXPECT_EQ(blank_view.code, 0) << blank_view;
  EXPECT_FALSE(absl::StrContains(blank_view.out + blank_view.err, "null"))
      << blank_view;
  EXPECT_EQ(
      Run({"--config", blank, "--context", "blank", "whoami"}, only_config)
          .code,
      0);
  Write("xdg/jalon/listed.yaml", "contexts:\n  listed:\n    roadmap: [a, b]\n");
  Result listed = Run({"--config", home_ + "/xdg/jalon/listed.yaml",
                       "--context", "listed", "whoami"},
                      only_config);
  EXPECT_EQ(listed.code, 1) << listed;
  EXPECT_TRUE(absl::StrContains(listed.err, "contexts.listed.roadmap"))
      << listed;
  // A context named by $JALON_CONTEXT that does not exist is an error, as
  // with --context: the defaults would be another system.
  auto typo = only_config;
  typo["JALON_CONTEXT"] = "locla";
  Result missing = Run({"whoami"}, typo);
  EXPECT_EQ(missing.code, 1) << missing;
  EXPECT_TRUE(absl::StrContains(missing.err, "$JALON_CONTEXT")) << missing;
  EXPECT_EQ(
      Run({"--config", home_ + "/other.yaml", "config", "current-context"},
          only_config)
          .code,
      2);
  Result view = Run({"config", "view"}, only_config);
  EXPECT_TRUE(absl::StrContains(view.out, "current-context: elsewhere"))
      << view;
  // Naming a context the file lacks: the file is still shown, to see why.
  Result dangling = Run({"config", "view"}, typo);
  EXPECT_EQ(dangling.code, 1) << dangling;
  EXPECT_TRUE(absl::StrContains(dangling.out, "current-context: elsewhere"))
      << dangling;
  EXPECT_TRUE(absl::StrContains(dangling.err, "locla")) << dangling;
}

TEST_F(JalonctlTest, ImportOfTheExampleIsIdempotent) {
  StartServices();
  Result first = Run({"import", JALON_EXAMPLE_ROADMAP});
  ASSERT_EQ(first.code, 0) << first;
  EXPECT_TRUE(absl::StrContains(first.out, "0 warnings")) << first;
  // Piped stderr: no progress bar.
  EXPECT_FALSE(absl::StrContains(first.err, "\r")) << first;
  Result roadmaps = Run({"roadmap", "list", "-o", "csv"});
  ASSERT_EQ(CsvRows(roadmaps), 1);
  std::string roadmap_id =
      roadmaps.out.substr(roadmaps.out.find("\r\n") + 2, 26);
  auto counts = [&] {
    return std::vector<int>{
        CsvRows(Run({"org", "list", "-o", "csv"})),
        CsvRows(
            Run({"ecosystem", "list", "--roadmap", roadmap_id, "-o", "csv"})),
        CsvRows(
            Run({"indicator", "list", "--roadmap", roadmap_id, "-o", "csv"})),
        CsvRows(Run({"action", "list", "--roadmap", roadmap_id, "-o", "csv"})),
        CsvRows(Run(
            {"consultation", "list", "--roadmap", roadmap_id, "-o", "csv"})),
        CsvRows(Run({"feedback", "list", "--roadmap", roadmap_id,
                     "--include-hidden", "-o", "csv"}))};
  };
  std::vector<int> before = counts();
  EXPECT_EQ(before, (std::vector<int>{8, 3, 5, 8, 1, 7}));
  Result again = Run({"import", JALON_EXAMPLE_ROADMAP});
  ASSERT_EQ(again.code, 0) << again;
  EXPECT_TRUE(absl::StrContains(again.out, "0 created, 0 updated")) << again;
  EXPECT_EQ(counts(), before);
  // The figures and their co-validation came in too.
  Result blocked = Run({"action", "list", "--roadmap", roadmap_id, "--status",
                        "blocked,done,completion-requested", "-o", "csv"});
  EXPECT_EQ(CsvRows(blocked), 3) << blocked;

  // A change in the file is an update, not a duplicate.
  std::string changed = ReadFile(JALON_EXAMPLE_ROADMAP);
  changed.replace(changed.find("due_date: 2026-11-30"), 20,
                  "due_date: 2026-10-31");
  Result update = Run({"import", Write("changed.yaml", changed)});
  ASSERT_EQ(update.code, 0) << update;
  EXPECT_TRUE(absl::StrContains(update.out,
                                "updated action prospection-export (due_date)"))
      << update;
  EXPECT_TRUE(absl::StrContains(update.out, "0 created, 1 updated")) << update;
  EXPECT_EQ(counts(), before);

  // What the server cannot change is a warning, and the rest of the file
  // still goes in: a field of a DONE action (that stopped the import, every
  // time), a feedback status the lifecycle cannot go back to.
  auto import_warns = [&](const std::string& from, const std::string& to,
                          const std::string& warning) {
    std::string edited = changed;
    edited.replace(edited.find(from), from.size(), to);
    Result r = Run({"import", Write("edited.yaml", edited)});
    EXPECT_EQ(r.code, 0) << r;
    EXPECT_TRUE(absl::StrContains(r.out, warning)) << r;
  };
  import_warns("owner: Secrétariat FIMME", "owner: Quelqu'un d'autre",
               "action plateforme-collecte is DONE: owner cannot change on "
               "the server");
  import_warns(
      "consultation: rencontre-casablanca\n    status: acknowledged",
      "consultation: rencontre-casablanca\n    status: submitted",
      "feedback savoir-faire-recyclage is ACKNOWLEDGED: it cannot move to "
      "SUBMITTED");

  // An action made outside an import, exported and imported back into the
  // same system, is the same action, not a second one.
  const std::string orgs = Run({"org", "list", "-o", "csv"}).out;
  auto org_id = [&](const std::string& name) {
    // Rows are "ID,NAME,...", ids 26 characters long.
    for (const auto& line : absl::StrSplit(orgs, "\r\n")) {
      if (absl::StartsWith(line.substr(std::min<size_t>(27, line.size())),
                           name + ",")) {
        return std::string(line.substr(0, 26));
      }
    }
    return std::string();
  };
  ASSERT_EQ(Run({"action", "create", "--roadmap", roadmap_id, "--title",
                 "Action manuelle", "--lead", org_id("FIMME"), "--partner",
                 org_id("Département de l'Industrie"), "--due", "2027-01-01"})
                .code,
            0);
  std::vector<int> with_manual = counts();
  Result backup = Run({"export", "--roadmap", roadmap_id});
  ASSERT_EQ(backup.code, 0) << backup;
  Result restored = Run({"import", Write("backup.yaml", backup.out)});
  ASSERT_EQ(restored.code, 0) << restored;
  EXPECT_FALSE(absl::StrContains(restored.out, "created action")) << restored;
  EXPECT_EQ(counts(), with_manual);
}

// Entities are matched on their names, and created with a request id that
// is the same at every import. Renamed in the file within the servers'
// 24-hour deduplication window, an entity is thus created "again" and the
// server answers with the one of the old name: the import must see that
// and rename it, not claim a creation and leave the old name.
TEST_F(JalonctlTest, ARenameInTheFileWithinADayRenamesTheEntity) {
  StartServices();
  Result first = Run({"import", JALON_EXAMPLE_ROADMAP});
  ASSERT_EQ(first.code, 0) << first;
  std::string renamed = ReadFile(JALON_EXAMPLE_ROADMAP);
  auto rename = [&](const std::string& from, const std::string& to) {
    ASSERT_NE(renamed.find(from), std::string::npos) << from;
    renamed.replace(renamed.find(from), from.size(), to);
  };
  rename("name: Cuivre du Sud\n", "name: Cuivre du Sud SA\n");
  rename("title: Feuille de route commune et inclusive des IMME\n",
         "title: Feuille de route commune des IMME\n");
  rename("name: Travail des métaux\n", "name: Travail et formage des métaux\n");
  rename("name: Nouveaux emplois\n", "name: Emplois nouveaux\n");
  rename("title: Rencontre FIMME, Casablanca, 11 juillet\n",
         "title: Rencontre des membres, Casablanca, 11 juillet\n");
  Result again = Run({"import", Write("renamed.yaml", renamed)});
  ASSERT_EQ(again.code, 0) << again;
  for (const char* line : {"updated organization cuivre-du-sud (name)",
                           "updated roadmap imme-2016 (title)",
                           "updated ecosystem travail-metaux (name)",
                           "updated indicator emplois (name)",
                           "updated consultation rencontre-casablanca (title)",
                           "0 created, 5 updated"}) {
    EXPECT_TRUE(absl::StrContains(again.out, line)) << line << "\n" << again;
  }
  Result roadmaps = Run({"roadmap", "list", "-o", "csv"});
  ASSERT_EQ(CsvRows(roadmaps), 1) << roadmaps;
  EXPECT_TRUE(absl::StrContains(roadmaps.out, "Feuille de route commune des"))
      << roadmaps;
  const std::string roadmap_id =
      roadmaps.out.substr(roadmaps.out.find("\r\n") + 2, 26);
  Result orgs = Run({"org", "list", "-o", "csv"});
  EXPECT_EQ(CsvRows(orgs), 8) << orgs;
  EXPECT_TRUE(absl::StrContains(orgs.out, "Cuivre du Sud SA")) << orgs;
  for (const auto& [what, name] :
       std::vector<std::pair<std::string, std::string>>{
           {"ecosystem", "Travail et formage des métaux"},
           {"indicator", "Emplois nouveaux"},
           {"consultation", "Rencontre des membres"}}) {
    Result list = Run({what, "list", "--roadmap", roadmap_id, "-o", "csv"});
    EXPECT_TRUE(absl::StrContains(list.out, name)) << list;
  }
  // And the file now matches the servers.
  Result third = Run({"import", Write("renamed.yaml", renamed)});
  ASSERT_EQ(third.code, 0) << third;
  EXPECT_TRUE(absl::StrContains(third.out, "0 created, 0 updated")) << third;
}

// A completion requested by hand by the other party than the file names
// is approved by the counterpart of who requested it on the server: the
// import used to ask the requester itself, and failed on every run.
TEST_F(JalonctlTest, ImportApprovesWithTheServersCounterpart) {
  StartServices();
  ASSERT_EQ(Run({"import", JALON_EXAMPLE_ROADMAP}).code, 0);
  const std::string roadmap = FirstId(Run({"roadmap", "list", "-o", "json"}));
  std::string action, ministry;
  for (const auto& line : absl::StrSplit(
           Run({"action", "list", "--roadmap", roadmap, "-o", "csv"}).out,
           "\r\n")) {
    if (absl::StrContains(line, "Formation aux métiers")) {
      action = std::string(line.substr(0, 26));
    }
  }
  for (const auto& line :
       absl::StrSplit(Run({"org", "list", "-o", "csv"}).out, "\r\n")) {
    if (absl::StrContains(line, "Département de l'Industrie")) {
      ministry = std::string(line.substr(0, 26));
    }
  }
  ASSERT_EQ(action.size(), 26u);
  ASSERT_EQ(ministry.size(), 26u);
  // The file's lead is the federation; the ministry, its partner, asks.
  const std::string file = home_ + "/ministry.token";
  ASSERT_EQ(Run({"token", "issue", "--org", ministry, "--role", "copilot",
                 "--principal", "copilote ministère", "--secret-file", file})
                .code,
            0);
  Result asked = Run({"action", "request-completion", action},
                     {{"JALON_TOKEN_FILE", file}});
  ASSERT_EQ(asked.code, 0) << asked;

  std::string done = ReadFile(JALON_EXAMPLE_ROADMAP);
  const std::string from =
      "premiere-promotion, title: Première promotion de 300 stagiaires, "
      "due_date: 2026-09-30}";
  const size_t at = done.find("status: in-progress", done.find(from));
  ASSERT_NE(at, std::string::npos);
  done.replace(at, 19, "status: done");
  // Likewise a figure the ministry recorded, which the file now says the
  // federation recorded and verified: the federation verifies it.
  const std::string figure =
      "recorded_by: industrie\n        verification: unverified";
  ASSERT_NE(done.find(figure), std::string::npos);
  done.replace(done.find(figure), figure.size(),
               "recorded_by: fimme\n        verification: verified");
  Result imported = Run({"import", Write("done.yaml", done)});
  ASSERT_EQ(imported.code, 0) << imported;
  EXPECT_TRUE(absl::StrContains(
      Run({"action", "get", action, "-o", "json"}).out, "ACTION_STATUS_DONE"));
  EXPECT_TRUE(absl::StrContains(
      imported.out, "updated measurement emplois-2019 (verification)"))
      << imported;
}

TEST_F(JalonctlTest, ProgressBarOnlyOnATerminal) {
  StartServices();
  // script(1) gives jalonctl a terminal for stdout and stderr.
  Result r = RunProgram(
      {"/usr/bin/script", "-qec",
       std::string(JALONCTL_BINARY) + " import " + JALON_EXAMPLE_ROADMAP,
       "/dev/null"});
  ASSERT_EQ(r.code, 0) << r;
  EXPECT_TRUE(absl::StrContains(r.out, "\r\033[K[")) << r;
  EXPECT_TRUE(absl::StrContains(r.out, "] 37/37 ")) << r;
  EXPECT_TRUE(absl::StrContains(r.out, "37 created")) << r;
  // The bar is erased before each change line (stdout, the same terminal):
  // no line is glued to the end of the bar.
  int lines = 0;
  for (size_t at = r.out.find("created "); at != std::string::npos;
       at = r.out.find("created ", at + 1)) {
    ++lines;
    const bool clean = at == 0 || r.out[at - 1] == '\n' ||
                       (at >= 3 && r.out.compare(at - 3, 3, "\033[K") == 0);
    EXPECT_TRUE(clean) << r.out.substr(at > 60 ? at - 60 : 0, 80);
  }
  EXPECT_GT(lines, 10);
}

TEST_F(JalonctlTest, DryRunTouchesNothing) {
  StartServices();
  Result dry = Run({"import", "--dry-run", JALON_EXAMPLE_ROADMAP});
  ASSERT_EQ(dry.code, 0) << dry;
  EXPECT_TRUE(absl::StrContains(dry.out, "would create roadmap imme-2016"))
      << dry;
  EXPECT_TRUE(absl::StrContains(dry.out, "dry run: 37 to create")) << dry;
  EXPECT_EQ(CsvRows(Run({"roadmap", "list", "-o", "csv"})), 0);
  EXPECT_EQ(CsvRows(Run({"org", "list", "-o", "csv"})), 1);  // bootstrap
  EXPECT_EQ(CsvRows(Run({"token", "list", "--include-revoked", "-o", "csv"})),
            2);  // admin and services: no import token was issued
}

TEST_F(JalonctlTest, BrokenFileNamesLineAndFieldAndImportsNothing) {
  StartServices();
  std::string path = Write("broken.yaml", R"(version: 1
organizations:
  - key: fed
    name: Fédération
    kind: federation
  - key: min
    name: Ministère
    kind: ministry
    colour: blue
roadmap:
  key: r
  title: R
  start_date: 2016-05-02
  horizon_date: 2026-12-31
  copilots: [fed, min]
indicators:
  - key: jobs
    name: Emplois
    unit: jobs
    baseline_value: many
    baseline_date: 2016-05-02
    target_value: 10
    target_date: 2020-12-31
actions:
  - key: a
    title: A
    lead: fed
    partner: nobody
    depends_on: [b]
  - key: b
    title: B
    lead: fed
    partner: min
    depends_on: [a]
)");
  Result r = Run({"import", path});
  EXPECT_EQ(r.code, 6) << r;
  EXPECT_TRUE(absl::StrContains(
      r.err, path + ":9: organizations[1].colour: unknown field"))
      << r;
  EXPECT_TRUE(absl::StrContains(
      r.err, path + ":20: indicators[0].baseline_value: must be a number"))
      << r;
  EXPECT_TRUE(absl::StrContains(
      r.err,
      path + ":28: actions[0].partner: no organisation with key \"nobody\""))
      << r;
  EXPECT_TRUE(absl::StrContains(r.err, "dependency cycle: a -> b -> a")) << r;
  EXPECT_TRUE(absl::StrContains(r.err, "nothing was imported")) << r;
  EXPECT_EQ(CsvRows(Run({"org", "list", "-o", "csv"})), 1);
  EXPECT_EQ(CsvRows(Run({"roadmap", "list", "-o", "csv"})), 0);
  // Not YAML at all.
  Result garbage = Run({"import", Write("garbage.yaml", "a: [1, 2\nb: }")});
  EXPECT_EQ(garbage.code, 6) << garbage;
  EXPECT_TRUE(absl::StrContains(garbage.err, "garbage.yaml:")) << garbage;
}

TEST_F(JalonctlTest, ExportImportExportGivesTheSameFile) {
  StartServices();
  ASSERT_EQ(Run({"import", JALON_EXAMPLE_ROADMAP}).code, 0);
  Result roadmaps = Run({"roadmap", "list", "-o", "csv"});
  std::string id = roadmaps.out.substr(roadmaps.out.find("\r\n") + 2, 26);
  // The feedback linked to a done action becomes ADDRESSED by itself.
  ASSERT_TRUE(testing::WaitFor(
      [&] {
        return absl::StrContains(Run({"feedback", "list", "--roadmap", id,
                                      "--status", "addressed", "-o", "csv"})
                                     .out,
                                 "BLOCKER");
      },
      std::chrono::seconds(20), std::chrono::milliseconds(200)));
  // What the server allows beyond what an import makes: as many tags as an
  // action can have (no room left for the import's key tag), a milestone
  // id that is no slug.
  Result started = Run({"action", "list", "--roadmap", id, "--status",
                        "in-progress", "-o", "json"});
  const std::string action = FirstId(started);
  ASSERT_FALSE(action.empty()) << started;
  std::vector<std::string> tags;
  for (int i = 1; i <= 20; ++i) tags.push_back("t" + std::to_string(i));
  Result tagged =
      Run({"action", "update", action, "--tags", absl::StrJoin(tags, ",")});
  ASSERT_EQ(tagged.code, 0) << tagged;
  Result step = Run({"milestone", "add", action, "--id", "Étape 2 (bis)",
                     "--title", "Essais", "--due", "2026-09-30"});
  ASSERT_EQ(step.code, 0) << step;
  Result first = Run({"export", "--roadmap", id});
  ASSERT_EQ(first.code, 0) << first;
  EXPECT_EQ(Run({"export", "--roadmap", id, "-o", "json"}).code, 1);
  std::string exported = Write("export1.yaml", first.out);

  // Into an empty system.
  Services empty;
  ASSERT_NO_FATAL_FAILURE(empty.Start());
  std::map<std::string, std::string> there = {
      {"JALON_TOKEN_FILE", empty.admin_token_file()},
      {"JALON_ROADMAP_ADDRESS", empty.roadmap_address()},
      {"JALON_FEEDBACK_ADDRESS", empty.feedback_address()}};
  Result imported = Run({"import", exported}, there);
  ASSERT_EQ(imported.code, 0) << imported;
  EXPECT_TRUE(absl::StrContains(imported.out, "20 tags")) << imported;
  Result roadmaps2 = Run({"roadmap", "list", "-o", "csv"}, there);
  std::string id2 = roadmaps2.out.substr(roadmaps2.out.find("\r\n") + 2, 26);
  std::string second;
  testing::WaitFor(
      [&] {
        second = Run({"export", "--roadmap", id2}, there).out;
        return second == first.out;
      },
      std::chrono::seconds(20), std::chrono::milliseconds(200));
  EXPECT_EQ(second, first.out);
}

// An export is written whatever the server holds, and says on stderr
// what its own import would refuse.
TEST_F(JalonctlTest, ExportWarnsWhatItsImportWouldRefuse) {
  StartServices();
  ASSERT_EQ(Run({"import", JALON_EXAMPLE_ROADMAP}).code, 0);
  Result roadmaps = Run({"roadmap", "list", "-o", "csv"});
  std::string id = roadmaps.out.substr(roadmaps.out.find("\r\n") + 2, 26);
  Result clean = Run({"export", "--roadmap", id});
  ASSERT_EQ(clean.code, 0) << clean;
  EXPECT_EQ(clean.err, "");

  // Two organisations of one name: the import matches organisations by name.
  Result ministry = Run({"org", "list", "--kind", "ministry", "-o", "json"});
  const std::string ministry_id = FirstId(ministry);
  ASSERT_FALSE(ministry_id.empty()) << ministry;
  ASSERT_EQ(Run({"org", "update", ministry_id, "--name", "FIMME"}).code, 0);
  const std::string file = Write("dup.yaml", "");
  Result dup = Run({"export", "--roadmap", id, "--output-file", file});
  EXPECT_EQ(dup.code, 0) << dup;
  EXPECT_TRUE(absl::StrContains(dup.err, "import would refuse this export"))
      << dup;
  EXPECT_TRUE(absl::StrContains(dup.err, file + ":")) << dup;
  EXPECT_TRUE(absl::StrContains(dup.err, ".name")) << dup;
  EXPECT_TRUE(absl::StrContains(ReadFile(file), "name: FIMME")) << dup;
  EXPECT_EQ(Run({"import", file, "--dry-run"}).code, 6);
}

TEST_F(JalonctlTest, FeedbackTriageEndorsementAndPartnership) {
  StartServices();
  ASSERT_EQ(Run({"import", JALON_EXAMPLE_ROADMAP}).code, 0);
  Result roadmaps = Run({"roadmap", "list", "-o", "csv"});
  std::string id = roadmaps.out.substr(roadmaps.out.find("\r\n") + 2, 26);
  // A member's token, written to a file (never on the command line).
  Result orgs = Run({"org", "list", "--kind", "member-company", "-o", "json"});
  std::regex id_re("\"id\": \"([0-9A-Z]{26})\",\\s*\"name\": \"Atlas");
  std::smatch m;
  ASSERT_TRUE(std::regex_search(orgs.out, m, id_re)) << orgs;
  std::string atlas = m[1];
  std::string member_token = home_ + "/atlas.token";
  Result issued = Run({"token", "issue", "--org", atlas, "--role", "member",
                       "--principal", "achats", "--secret-file", member_token});
  ASSERT_EQ(issued.code, 0) << issued;
  EXPECT_FALSE(absl::StrContains(issued.out, "jalon_")) << issued;
  EXPECT_EQ(
      std::filesystem::status(member_token).permissions(),
      std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  std::map<std::string, std::string> as_member = {
      {"JALON_TOKEN_FILE", member_token}};

  Result submitted =
      Run({"feedback", "create", "--roadmap", id, "--kind", "blocker",
           "--severity", "high", "--title", "Coût de l'énergie", "--body",
           "Trop élevé", "-o", "csv"},
          as_member);
  ASSERT_EQ(submitted.code, 0) << submitted;
  std::string item = submitted.out.substr(submitted.out.find("\r\n") + 2, 26);
  // Partnership offer of the example, by Maroc Vélo: Atlas is interested.
  Result offers = Run({"feedback", "list", "--roadmap", id, "--kind",
                       "partnership-offer", "-o", "csv"});
  std::string offer = offers.out.substr(offers.out.find("\r\n") + 2, 26);
  Result interest = Run({"partnership", "interest", offer, "--contact",
                         "achats@atlas.example", "--message", "Intéressés"},
                        as_member);
  ASSERT_EQ(interest.code, 0) << interest;
  EXPECT_TRUE(absl::StrContains(interest.out, "PENDING")) << interest;
  EXPECT_EQ(CsvRows(Run({"interest", "list", offer, "-o", "csv"}, as_member)),
            1);
  // Endorsing another member's item, then withdrawing.
  Result endorse = Run({"feedback", "endorse",
                        offers.out.substr(offers.out.find("\r\n") + 2, 26)},
                       as_member);
  EXPECT_EQ(endorse.code, 0) << endorse;
  EXPECT_TRUE(absl::StrContains(endorse.out, "1")) << endorse;
  EXPECT_EQ(Run({"feedback", "unendorse", offer}, as_member).code, 0);
  // Triage by the admin.
  EXPECT_EQ(Run({"feedback", "ack", item}).code, 0);
  Result actions =
      Run({"action", "list", "--roadmap", id, "--tag", "foncier", "-o", "csv"});
  std::string action = actions.out.substr(actions.out.find("\r\n") + 2, 26);
  Result linked = Run({"feedback", "link", item, "--action", action});
  ASSERT_EQ(linked.code, 0) << linked;
  EXPECT_TRUE(absl::StrContains(linked.out, "LINKED")) << linked;
  Result hidden = Run({"feedback", "hide", item, "--reason", "doublon"});
  EXPECT_TRUE(absl::StrContains(hidden.out, "true")) << hidden;
  EXPECT_EQ(Run({"feedback", "restore", item, "--reason", "vérifié"}).code, 0);
  Result history = Run({"feedback", "history", item, "-o", "csv"});
  EXPECT_GE(CsvRows(history), 5) << history;
  // A member cannot acknowledge.
  EXPECT_EQ(Run({"feedback", "ack", offer}, as_member).code, 3);
  // Members cannot moderate; a decline needs an answer (usage).
  EXPECT_EQ(Run({"feedback", "decline", item}).code, 1);
}

TEST_F(JalonctlTest, ReportsFeedsAndSchedulesAgainstTheRealService) {
  StartServices();
  ASSERT_EQ(Run({"import", JALON_EXAMPLE_ROADMAP}).code, 0);
  Result roadmaps = Run({"roadmap", "list", "-o", "json"});
  ASSERT_EQ(roadmaps.code, 0) << roadmaps;
  const std::regex kId("\"id\": \"([0-9A-Z]{26})\"");
  std::smatch m;
  ASSERT_TRUE(std::regex_search(roadmaps.out, m, kId)) << roadmaps;
  const std::string roadmap = m[1];
  // The reporting service follows the others through their streams: the
  // indicator first, its rating once the measurements have followed.
  Result status;
  for (int i = 0; i < 300; ++i) {
    status = Run({"report", "status", "--roadmap", roadmap});
    if (status.code == 0 &&
        status.out.find("Nouveaux emplois") != std::string::npos &&
        status.out.find("RED") != std::string::npos) {
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_EQ(status.code, 0) << status;
  EXPECT_NE(status.out.find("RED"), std::string::npos) << status;

  Result generated = Run({"report", "generate", "--roadmap", roadmap,
                          "--period", "2026-Q3", "-o", "json"});
  ASSERT_EQ(generated.code, 0) << generated;
  auto report = Parse<reporting::v1::Report>(generated);
  ASSERT_FALSE(report.id().empty());
  EXPECT_EQ(report.content_sha256().size(), 64u);
  EXPECT_EQ(CsvRows(Run({"report", "list", "--roadmap", roadmap, "-o", "csv"})),
            1);
  Result html = Run({"report", "export", report.id(), "--format", "html",
                     "--lang", "en", "-o", home_ + "/r.html"});
  ASSERT_EQ(html.code, 0) << html;
  const std::string page = ReadFile(home_ + "/r.html");
  EXPECT_NE(page.find("<svg"), std::string::npos);
  EXPECT_NE(page.find("lang=\"en\""), std::string::npos);
  Result csv = Run({"report", "export", report.id(), "--format", "csv",
                    "--output-dir", home_ + "/csv"});
  ASSERT_EQ(csv.code, 0) << csv;
  EXPECT_TRUE(std::filesystem::exists(home_ + "/csv/indicators.csv"));
  EXPECT_EQ(Run({"report", "get", "01NOSUCHREPORT0000000000000"}).code, 2);
  EXPECT_EQ(
      Run({"report", "generate", "--roadmap", roadmap, "--period", "2026-13"})
          .code,
      6);
  // Export flags are checked before the report is made: a rerun with them
  // fixed would make a second, immutable one.
  const int reports =
      CsvRows(Run({"report", "list", "--roadmap", roadmap, "-o", "csv"}));
  for (const std::vector<std::string>& bad :
       std::vector<std::vector<std::string>>{
           {"--format", "pdf"},
           {"--format", "html", "--lang", "de"},
           {"--format", "csv"},
           {"--lang", "en"},
           {"--output-file", home_ + "/r.html"},
           // CSV's files go into a directory, and this is a file.
           {"--format", "csv", "--output-file", home_ + "/r.html"},
           {"--format", "csv", "--output-dir", home_ + "/r.html"}}) {
    std::vector<std::string> args = {"report", "generate", "--roadmap",
                                     roadmap,  "--period", "2027"};
    args.insert(args.end(), bad.begin(), bad.end());
    Result refused = Run(args);
    EXPECT_EQ(refused.code, 1) << absl::StrJoin(bad, " ") << "\n" << refused;
  }
  EXPECT_EQ(CsvRows(Run({"report", "list", "--roadmap", roadmap, "-o", "csv"})),
            reports);

  // The feed from the start: the report is in it.
  Result feed =
      Run({"feed", "watch", "--roadmap", roadmap, "--cursor", "0", "--kind",
           "report-generated", "--max-events", "1", "-o", "json"});
  ASSERT_EQ(feed.code, 0) << feed;
  EXPECT_NE(feed.out.find(report.id()), std::string::npos) << feed;
  Result key = Run({"feed", "key", "issue", "--roadmap", roadmap,
                    "--description", "lecteur RSS", "-o", "json"});
  ASSERT_EQ(key.code, 0) << key;
  EXPECT_NE(key.out.find("\"secret\""), std::string::npos) << key;
  // In CSV too: the key's columns and its secret, shown this once.
  Result csv_key = Run({"feed", "key", "issue", "--roadmap", roadmap,
                        "--description", "tableur", "-o", "csv"});
  ASSERT_EQ(csv_key.code, 0) << csv_key;
  EXPECT_TRUE(absl::StartsWith(
      csv_key.out, "ID,ROADMAP,KINDS,REVOKED,DESCRIPTION,SECRET\r\n"))
      << csv_key;
  EXPECT_TRUE(std::regex_search(
      csv_key.out, std::regex("\r\n[0-9A-Z]{26}," + roadmap +
                              ",,false,tableur,[A-Za-z0-9_-]{20,}\r\n$")))
      << csv_key;

  ASSERT_EQ(
      Run({"schedule", "set", "--roadmap", roadmap, "--frequency", "quarterly"})
          .code,
      0);
  EXPECT_EQ(CsvRows(Run({"schedule", "list", "-o", "csv"})), 1);
  EXPECT_EQ(
      Run({"schedule", "set", "--roadmap", roadmap, "--frequency", "weekly"})
          .code,
      1);  // not a frequency jalonctl knows: a usage error
  Result rebuilt = Run({"rebuild-read-models"});
  EXPECT_EQ(rebuilt.code, 0) << rebuilt;
}

TEST_F(JalonctlTest, FeedWatchResumesAcrossARestartOfReporting) {
  StartServices();
  ASSERT_EQ(Run({"import", JALON_EXAMPLE_ROADMAP}).code, 0);
  Result roadmaps = Run({"roadmap", "list", "-o", "json"});
  const std::string roadmap = FirstId(roadmaps);
  ASSERT_FALSE(roadmap.empty());
  for (int i = 0; i < 100; ++i) {
    if (Run({"report", "status", "--roadmap", roadmap}).code == 0) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  auto generate = [&](const std::string& period) {
    Result r = Run({"report", "generate", "--roadmap", roadmap, "--period",
                    period, "-o", "json"});
    EXPECT_EQ(r.code, 0) << r;
    return Parse<reporting::v1::Report>(r).id();
  };
  // jalonctl watches four reports; the service restarts after two.
  ChildProcess watch;
  std::map<std::string, std::string> env = BaseEnv();
  ASSERT_TRUE(
      watch
          .Start({JALONCTL_BINARY, "feed", "watch", "--roadmap", roadmap,
                  "--cursor", "0", "--kind", "report-generated", "--max-events",
                  "4", "-o", "json"},
                 env, home_ + "/watch.err")
          .ok());
  std::vector<std::string> ids = {generate("2026-Q1"), generate("2026-Q2")};
  for (const auto& id : ids) {
    ASSERT_TRUE(watch.WaitForLine(id, std::chrono::seconds(20)).ok())
        << ReadFile(home_ + "/watch.err");
  }
  ASSERT_NO_FATAL_FAILURE(services_.RestartReporting());
  ids.push_back(generate("2026-Q3"));
  ids.push_back(generate("2026-Q4"));
  std::vector<std::string> seen;
  for (size_t i = 2; i < ids.size(); ++i) {
    auto line = watch.WaitForLine("\"subject_id\"", std::chrono::seconds(30));
    ASSERT_TRUE(line.ok()) << ReadFile(home_ + "/watch.err");
    seen.push_back(*line);
  }
  auto code = watch.Wait(std::chrono::seconds(20));
  ASSERT_TRUE(code.ok());
  EXPECT_EQ(*code, 0);
  // After the restart: the two later reports, in order, none twice.
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_NE(seen[0].find(ids[2]), std::string::npos) << seen[0];
  EXPECT_NE(seen[1].find(ids[3]), std::string::npos) << seen[1];
  EXPECT_NE(ReadFile(home_ + "/watch.err").find("resuming after cursor"),
            std::string::npos);
}

// get -o yaml, edit, update -f: only the edited fields are sent (the file
// also holds status, progress, late... which no update may set), and the
// file's etag guards against a change made since it was saved.
TEST_F(JalonctlTest, UpdateTakesAnEditedGetFile) {
  StartServices();
  ASSERT_EQ(Run({"import", JALON_EXAMPLE_ROADMAP}).code, 0);
  Result started =
      Run({"action", "list", "--status", "in-progress", "-o", "json"});
  const std::string id = FirstId(started);
  ASSERT_FALSE(id.empty()) << started;
  Result got = Run({"action", "get", id, "-o", "yaml"});
  ASSERT_EQ(got.code, 0) << got;
  auto edited = [&](const std::string& title) {
    std::string text;
    for (const auto& line : absl::StrSplit(got.out, '\n')) {
      text += absl::StartsWith(line, "title:") ? "title: " + title
                                               : std::string(line);
      text += "\n";
    }
    return text;
  };
  const std::string file = Write("action.yaml", edited("Titre modifié"));
  Result updated = Run({"action", "update", id, "-f", file, "-o", "json"});
  ASSERT_EQ(updated.code, 0) << updated;
  auto action = Parse<rpb::Action>(updated);
  EXPECT_EQ(action.title(), "Titre modifié");
  EXPECT_EQ(action.status(), rpb::ACTION_STATUS_IN_PROGRESS);
  Result history = Run({"action", "history", id, "-o", "json"});
  EXPECT_TRUE(absl::StrContains(history.out, "Titre modifié")) << history;

  // The same file again changes nothing, and says so.
  Result again = Run({"action", "update", id, "-f", file});
  EXPECT_EQ(again.code, 0) << again;
  EXPECT_TRUE(absl::StrContains(again.err, "unchanged")) << again;

  // Saved before another change: refused, not overwritten.
  const std::string stale = Write("stale.yaml", edited("Autre titre"));
  Result stale_update = Run({"action", "update", id, "-f", stale});
  EXPECT_EQ(stale_update.code, 4) << stale_update;  // ABORTED
  EXPECT_EQ(
      Parse<rpb::Action>(Run({"action", "get", id, "-o", "json"})).title(),
      "Titre modifié");

  // A field only the server sets, edited: the server's error names it.
  Result fresh = Run({"action", "get", id, "-o", "yaml"});
  std::string status_edit;
  for (const auto& line : absl::StrSplit(fresh.out, '\n')) {
    status_edit += absl::StartsWith(line, "status:")
                       ? "status: ACTION_STATUS_DONE"
                       : std::string(line);
    status_edit += "\n";
  }
  Result forbidden =
      Run({"action", "update", id, "-f", Write("done.yaml", status_edit)});
  EXPECT_NE(forbidden.code, 0) << forbidden;
  EXPECT_TRUE(absl::StrContains(forbidden.err, "status")) << forbidden;

  // --tags replaces the user's tags, not the import's key tag: the next
  // import still finds the action (renamed above), and creates nothing.
  Result retagged =
      Run({"action", "update", id, "--tags", "a,b", "-o", "json"});
  ASSERT_EQ(retagged.code, 0) << retagged;
  auto tags = Parse<rpb::Action>(retagged).tags();
  EXPECT_EQ(std::count(tags.begin(), tags.end(), "a"), 1);
  EXPECT_EQ(std::count_if(tags.begin(), tags.end(),
                          [](const std::string& t) {
                            return absl::StartsWith(t, "jalon-key-");
                          }),
            1);
  Result again_import = Run({"import", JALON_EXAMPLE_ROADMAP});
  ASSERT_EQ(again_import.code, 0) << again_import;
  EXPECT_TRUE(absl::StrContains("\n" + again_import.out, "\n0 created,"))
      << again_import;
}

// Ctrl-C in the middle of an import: the short-lived tokens it issued are
// revoked and the consultation window it opened is put back, as on any
// other end of the import.
// Ctrl-C, and the ways a terminal session ends a command without one: the
// terminal went away (SIGHUP, an ssh session dropped) or the reader of the
// output did (SIGPIPE, `jalonctl import f | head`). Each used to leave the
// import's tokens live and a closed consultation open for an hour.
TEST_F(JalonctlTest, AnInterruptedImportLeavesNoTokenNorOpenWindow) {
  StartServices();
  std::string file;
  for (int sig : {SIGINT, SIGHUP, SIGPIPE}) {
    SCOPED_TRACE(strsignal(sig));
    // The example, and enough feedback for the import to be still at it
    // (new items each time: their titles differ).
    std::string text = ReadFile(JALON_EXAMPLE_ROADMAP);
    for (int i = 0; i < 3000; ++i) {
      absl::StrAppend(&text, "  - key: extra-", i,
                      "\n    kind: strength\n    author: cuivre-du-sud\n"
                      "    title: Atout ",
                      sig, "-", i, "\n    body: Un atout de plus.\n",
                      "    consultation: rencontre-casablanca\n");
    }
    file = Write("big.yaml", text);
    ChildProcess import;
    const std::string err = home_ + "/import.err";
    ASSERT_TRUE(
        import.Start({JALONCTL_BINARY, "import", file}, BaseEnv(), err).ok());
    // Past the first extra item: its author's token and the window are in
    // use. (Lines come in blocks: the import is well into the feedback.)
    ASSERT_TRUE(
        import.WaitForLine("created feedback extra-", std::chrono::seconds(60))
            .ok())
        << ReadFile(err);
    import.Signal(sig);
    auto code = import.Wait(std::chrono::seconds(30));
    ASSERT_TRUE(code.ok());
    EXPECT_EQ(*code, 128 + sig) << ReadFile(err);
    EXPECT_TRUE(absl::StrContains(ReadFile(err), "interrupted"))
        << ReadFile(err);

    Result tokens = Run({"token", "list", "-o", "json"});
    ASSERT_EQ(tokens.code, 0) << tokens;
    EXPECT_FALSE(absl::StrContains(tokens.out, "jalonctl-import")) << tokens;
    Result all = Run({"token", "list", "--include-revoked", "-o", "json"});
    EXPECT_TRUE(absl::StrContains(all.out, "jalonctl-import")) << all;
    Result roadmaps = Run({"roadmap", "list", "-o", "json"});
    const std::string roadmap = FirstId(roadmaps);
    ASSERT_FALSE(roadmap.empty());
    Result cons =
        Run({"consultation", "list", "--roadmap", roadmap, "-o", "json"});
    ASSERT_EQ(cons.code, 0) << cons;
    EXPECT_TRUE(absl::StrContains(cons.out, "2024-07-31T23:59:59Z")) << cons;
  }
  // Stopped half-way, the import is run again to the end.
  Result again = Run({"import", file});
  EXPECT_EQ(again.code, 0) << again.err;
}

// A watch "from now on" that drops before its first update resumes from
// where it started (the server sent that cursor first), so what happened
// while it was cut off still arrives.
TEST_F(JalonctlTest, FeedWatchFromNowKeepsItsStartAcrossADrop) {
  StartServices();
  ASSERT_EQ(Run({"import", JALON_EXAMPLE_ROADMAP}).code, 0);
  Result roadmaps = Run({"roadmap", "list", "-o", "json"});
  const std::string roadmap = FirstId(roadmaps);
  ASSERT_FALSE(roadmap.empty());
  Result started = Run({"action", "list", "--roadmap", roadmap, "--status",
                        "in-progress", "-o", "json"});
  const std::string action = FirstId(started);
  ASSERT_FALSE(action.empty()) << started;
  // The import's updates are out before the watch starts "from now on":
  // reporting has applied every event of both streams.
  ASSERT_TRUE(testing::WaitFor([&] { return CaughtUp(roadmap); },
                               std::chrono::seconds(30)))
      << Run({"report", "status", "--roadmap", roadmap, "-o", "json"});
  ChildProcess watch;
  const std::string err = home_ + "/watch.err";
  ASSERT_TRUE(watch
                  .Start({JALONCTL_BINARY, "feed", "watch", "--roadmap",
                          roadmap, "--kind", "action-transitioned",
                          "--max-events", "1", "-o", "json"},
                         BaseEnv(), err)
                  .ok());
  ASSERT_TRUE(testing::WaitFor(
      [&] { return absl::StrContains(ReadFile(err), "watching from cursor"); },
      std::chrono::seconds(20)))
      << ReadFile(err);
  // Cut off before any update; the transition happens while reporting is
  // down, and its update is made by the catch-up when it is back, before
  // jalonctl's next try (its backoff has grown past a second by then).
  ASSERT_NO_FATAL_FAILURE(services_.StopReporting());
  ASSERT_EQ(Run({"action", "block", action, "--reason", "Foncier"}).code, 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  ASSERT_NO_FATAL_FAILURE(services_.StartReportingAgain());
  auto line = watch.WaitForLine(action, std::chrono::seconds(30));
  ASSERT_TRUE(line.ok()) << ReadFile(err);
  EXPECT_TRUE(absl::StrContains(*line, "ACTION_STATUS_BLOCKED")) << *line;
  auto code = watch.Wait(std::chrono::seconds(20));
  ASSERT_TRUE(code.ok());
  EXPECT_EQ(*code, 0);
}

// A narrow watch follows the server's progress messages: cut off, it
// resumes from how far the server read for it, not from where it began
// (which the feed's trim may have passed while nothing matched).
TEST_F(JalonctlTest, FeedWatchResumesFromTheServersProgress) {
  StartServices();
  ASSERT_NO_FATAL_FAILURE(
      services_.RestartReportingWith({{"JALON_FEED_PROGRESS_EVERY", "100ms"}}));
  ASSERT_EQ(Run({"import", JALON_EXAMPLE_ROADMAP}).code, 0);
  const std::string roadmap = FirstId(Run({"roadmap", "list", "-o", "json"}));
  ASSERT_FALSE(roadmap.empty());
  ASSERT_TRUE(testing::WaitFor([&] { return CaughtUp(roadmap); },
                               std::chrono::seconds(30)));
  // The import made action updates, and no report: nothing matches.
  ChildProcess watch;
  const std::string err = home_ + "/watch.err";
  ASSERT_TRUE(
      watch
          .Start({JALONCTL_BINARY, "feed", "watch", "--roadmap", roadmap,
                  "--cursor", "0", "--kind", "report-generated", "--max-events",
                  "1", "-o", "json"},
                 BaseEnv(), err)
          .ok());
  // The watch reads them all and is told so (every 100 ms at most, after
  // its blocking read of at most a second).
  std::this_thread::sleep_for(std::chrono::milliseconds(2500));
  ASSERT_NO_FATAL_FAILURE(services_.StopReporting());
  ASSERT_TRUE(testing::WaitFor(
      [&] { return absl::StrContains(ReadFile(err), "resuming after cursor"); },
      std::chrono::seconds(20)))
      << ReadFile(err);
  const std::string text = ReadFile(err);
  const std::string after = "resuming after cursor ";
  const size_t at = text.find(after) + after.size();
  const std::string cursor = text.substr(at, text.find(' ', at) - at);
  EXPECT_NE(cursor, "0") << text;
  EXPECT_TRUE(absl::StrContains(cursor, "-")) << text;  // a stream id
  ASSERT_NO_FATAL_FAILURE(services_.StartReportingAgain());
  Result report = Run({"report", "generate", "--roadmap", roadmap, "--period",
                       "2026-Q1", "-o", "json"});
  ASSERT_EQ(report.code, 0) << report;
  const std::string id = Parse<reporting::v1::Report>(report).id();
  ASSERT_TRUE(watch.WaitForLine(id, std::chrono::seconds(30)).ok())
      << ReadFile(err);
  auto code = watch.Wait(std::chrono::seconds(20));
  ASSERT_TRUE(code.ok());
  EXPECT_EQ(*code, 0);
}

// A server that ends streams at its --max-connection-age (as the
// deployment's does) is no failing server: each reconnect waits the first
// backoff again, not twice the last one.
TEST_F(JalonctlTest, FeedWatchReconnectsAtOnceAfterALongStream) {
  StartServices();
  ASSERT_NO_FATAL_FAILURE(services_.RestartReportingWith(
      {{"JALON_MAX_CONNECTION_AGE", "2s"}, {"JALON_GRACE_PERIOD", "0"}}));
  ChildProcess watch;
  const std::string err = home_ + "/watch.err";
  ASSERT_TRUE(watch
                  .Start({JALONCTL_BINARY, "feed", "watch", "-o", "json"},
                         BaseEnv(), err)
                  .ok());
  auto disconnects = [&] {
    const std::string text = ReadFile(err);
    int n = 0;
    for (size_t at = 0;
         (at = text.find("feed: disconnected", at)) != std::string::npos;
         ++at) {
      ++n;
    }
    return n;
  };
  ASSERT_TRUE(testing::WaitFor([&] { return disconnects() >= 3; },
                               std::chrono::seconds(30)))
      << ReadFile(err);
  watch.Signal(SIGTERM);
  (void)watch.Wait(std::chrono::seconds(10));
  const std::string text = ReadFile(err);
  EXPECT_FALSE(absl::StrContains(text, "in 1000 ms")) << text;
  EXPECT_FALSE(absl::StrContains(text, "in 2000 ms")) << text;
}

// "milestone done" without --date marks the day where jalonctl runs (its
// TZ), not UTC's: on an island at UTC+14 that is UTC's tomorrow half of
// the day.
TEST_F(JalonctlTest, MilestoneDoneTodayIsTheLocalDay) {
  StartServices();
  ASSERT_EQ(Run({"import", JALON_EXAMPLE_ROADMAP}).code, 0);
  const std::string action =
      FirstId(Run({"action", "list", "--status", "in-progress", "-o", "json"}));
  ASSERT_FALSE(action.empty());
  Result added = Run({"milestone", "add", action, "--id", "essai-local",
                      "--title", "Essai", "--due", "2099-12-31"});
  ASSERT_EQ(added.code, 0) << added;
  absl::TimeZone zone;
  ASSERT_TRUE(absl::LoadTimeZone("Pacific/Kiritimati", &zone));
  const absl::CivilDay before = absl::ToCivilDay(absl::Now(), zone);
  Result done = Run({"milestone", "done", action, "essai-local"},
                    {{"TZ", "Pacific/Kiritimati"}});
  ASSERT_EQ(done.code, 0) << done;
  const absl::CivilDay after = absl::ToCivilDay(absl::Now(), zone);
  auto got = Parse<rpb::Action>(Run({"action", "get", action, "-o", "json"}));
  const rpb::Milestone* m = nullptr;
  for (const auto& x : got.milestones()) {
    if (x.id() == "essai-local") m = &x;
  }
  ASSERT_NE(m, nullptr);
  const absl::CivilDay marked(m->done_date().year(), m->done_date().month(),
                              m->done_date().day());
  EXPECT_TRUE(marked == before || marked == after)
      << marked << " is not today in Kiritimati (" << before << ")";
}

// A provisioning script run again (the same request id) finds the token
// issued: the secret file written the first time keeps its secret, and a
// run that never got it says so instead of writing an empty file.
TEST_F(JalonctlTest, TokenIssueRetriedKeepsTheSecretFile) {
  StartServices();
  const std::string org = FirstId(Run({"org", "list", "-o", "json"}));
  ASSERT_FALSE(org.empty());
  const std::string file = home_ + "/robot.token";
  const std::vector<std::string> issue = {"token",         "issue",
                                          "--org",         org,
                                          "--role",        "reader",
                                          "--principal",   "robot",
                                          "--request-id",  "provision-robot-1",
                                          "--secret-file", file};
  Result first = Run(issue);
  ASSERT_EQ(first.code, 0) << first;
  const std::string secret = ReadFile(file);
  ASSERT_GT(secret.size(), 10u);
  Result again = Run(issue);
  EXPECT_EQ(again.code, 0) << again;
  EXPECT_EQ(ReadFile(file), secret) << "the retry emptied the secret file";
  EXPECT_TRUE(absl::StrContains(again.err, "keeps it")) << again;
  // Saved again with CRLF (a Windows editor): still its secret. (The line
  // was sent as it was, and gRPC aborted, printing the secret.)
  const std::string bare = Trimmed(secret);
  Write("robot.token", bare + "\r\n");
  Result crlf = Run(issue);
  EXPECT_EQ(crlf.code, 0) << crlf;
  EXPECT_TRUE(absl::StrContains(crlf.err, "keeps it")) << crlf;
  EXPECT_FALSE(absl::StrContains(crlf.out + crlf.err, bare)) << crlf;
  // A line no token could be: not its secret, and not sent.
  Write("robot.token", bare + "\x01\n");
  Result garbled = Run(issue);
  EXPECT_EQ(garbled.code, 4) << garbled;
  EXPECT_FALSE(absl::StrContains(garbled.out + garbled.err, bare)) << garbled;
  Write("robot.token", secret);
  // The file holding another token's secret does not hold this one: exit
  // 4, and the file is left as it is.
  const std::string other = ReadFile(services_.admin_token_file());
  Write("robot.token", other);
  Result wrong = Run(issue);
  EXPECT_EQ(wrong.code, 4) << wrong;
  EXPECT_TRUE(absl::StrContains(wrong.err, "does not hold it")) << wrong;
  EXPECT_EQ(ReadFile(file), other);
  // The same request id with the secret lost: exit 4, no empty file.
  std::remove(file.c_str());
  Result lost = Run(issue);
  EXPECT_EQ(lost.code, 4) << lost;
  EXPECT_TRUE(absl::StrContains(lost.err, "revoke the token")) << lost;
  EXPECT_NE(access(file.c_str(), F_OK), 0) << "an empty secret file was made";
}

}  // namespace
}  // namespace jalon
