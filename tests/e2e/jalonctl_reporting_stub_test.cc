// jalonctl's client-side behaviour of the reporting commands, against an
// in-process stub of jalon.reporting.v1.ReportingService (the real service
// is tested with jalonctl once its binary exists): `feed watch` resumes
// after a disconnect from the last cursor it printed, with no gap and no
// duplicate, and `report export` writes one file or a directory of CSVs.
// The stub implements only what these two checks need.
#include <fcntl.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>
#include <thread>

#include "absl/strings/match.h"
#include "jalon/reporting/v1/reporting.grpc.pb.h"

#ifndef JALONCTL_BINARY
#error "JALONCTL_BINARY must name the jalonctl binary"
#endif

namespace jalon {
namespace {

namespace xpb = ::jalon::reporting::v1;

class StubReporting final : public xpb::ReportingService::Service {
 public:
  grpc::Status WatchStatus(
      grpc::ServerContext* ctx, const xpb::WatchStatusRequest* req,
      grpc::ServerWriter<xpb::WatchStatusResponse>* writer) override {
    int call;
    {
      std::lock_guard<std::mutex> lock(mu_);
      cursors_.push_back(req->cursor());
      roadmaps_.push_back(req->filter().roadmap_id());
      call = static_cast<int>(cursors_.size());
    }
    int after = req->cursor().empty() ? 0 : std::stoi(req->cursor());
    for (int i = after + 1; i <= after + 2; ++i) {
      xpb::WatchStatusResponse r;
      r.mutable_update()->set_cursor(std::to_string(i));
      r.mutable_update()->set_kind(xpb::STATUS_KIND_ACTION_TRANSITIONED);
      r.mutable_update()->set_subject_id("subject-" + std::to_string(i));
      r.mutable_update()->set_summary("update " + std::to_string(i));
      writer->Write(r);
    }
    if (call == 1)
      return grpc::Status(grpc::StatusCode::UNAVAILABLE, "going away");
    for (int i = 0; i < 500 && !ctx->IsCancelled(); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return grpc::Status::OK;
  }

  grpc::Status ExportReport(grpc::ServerContext*,
                            const xpb::ExportReportRequest* req,
                            xpb::ExportReportResponse* resp) override {
    if (req->id() != "r1")
      return grpc::Status(grpc::StatusCode::NOT_FOUND, "no report");
    if (req->format() == xpb::EXPORT_FORMAT_CSV) {
      for (const char* name :
           {"indicators.csv", "actions.csv", "feedback.csv"}) {
        auto* f = resp->add_files();
        f->set_name(name);
        f->set_content(std::string("table,") + name + "\r\n");
      }
    } else {
      auto* f = resp->add_files();
      f->set_name("report.html");
      f->set_content(req->language() == xpb::LANGUAGE_EN ? "<html>en</html>"
                                                         : "<html>fr</html>");
    }
    return grpc::Status::OK;
  }

  std::vector<std::string> cursors() {
    std::lock_guard<std::mutex> lock(mu_);
    return cursors_;
  }
  std::vector<std::string> roadmaps() {
    std::lock_guard<std::mutex> lock(mu_);
    return roadmaps_;
  }

 private:
  std::mutex mu_;
  std::vector<std::string> cursors_, roadmaps_;
};

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

class ReportingStubTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/jalonctl-stub-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    std::ofstream(dir_ + "/token") << "jalon_stub\n";
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(),
                             &port_);
    builder.RegisterService(&stub_);
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
  }
  void TearDown() override {
    server_->Shutdown(std::chrono::system_clock::now());
    std::filesystem::remove_all(dir_);
  }

  // Runs jalonctl; returns the exit code, stdout in `out`, stderr in `err`.
  int Run(std::vector<std::string> args, std::string* out, std::string* err) {
    std::vector<std::string> env = {
        "HOME=" + dir_, "XDG_CONFIG_HOME=" + dir_, "PATH=/usr/bin:/bin",
        "JALON_TOKEN_FILE=" + dir_ + "/token",
        "JALON_REPORTING_ADDRESS=127.0.0.1:" + std::to_string(port_)};
    args.insert(args.begin(), JALONCTL_BINARY);
    std::vector<char*> argp, envp;
    for (auto& a : args) argp.push_back(a.data());
    argp.push_back(nullptr);
    for (auto& e : env) envp.push_back(e.data());
    envp.push_back(nullptr);
    std::string out_path = dir_ + "/out", err_path = dir_ + "/err";
    pid_t pid = fork();
    if (pid == 0) {
      int o = open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
      int e = open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
      dup2(o, STDOUT_FILENO);
      dup2(e, STDERR_FILENO);
      execve(argp[0], argp.data(), envp.data());
      _exit(127);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    *out = ReadFile(out_path);
    *err = ReadFile(err_path);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }

  std::string dir_;
  int port_ = 0;
  StubReporting stub_;
  std::unique_ptr<grpc::Server> server_;
};

TEST_F(ReportingStubTest, FeedWatchResumesFromTheLastCursorAfterADisconnect) {
  std::string out, err;
  int code = Run({"feed", "watch", "--roadmap", "R1", "--cursor", "0",
                  "--max-events", "4", "-o", "json"},
                 &out, &err);
  ASSERT_EQ(code, 0) << out << err;
  EXPECT_EQ(stub_.cursors(), (std::vector<std::string>{"0", "2"}));
  EXPECT_EQ(stub_.roadmaps(), (std::vector<std::string>{"R1", "R1"}));
  // Each update exactly once, in order, one JSON object per line.
  size_t pos = 0;
  for (int i = 1; i <= 4; ++i) {
    std::string subject =
        "\"subject_id\":\"subject-" + std::to_string(i) + "\"";
    size_t at = out.find(subject, pos);
    ASSERT_NE(at, std::string::npos) << out;
    EXPECT_EQ(out.find(subject, at + 1), std::string::npos) << out;
    pos = at;
  }
  EXPECT_TRUE(absl::StrContains(err, "resuming after cursor 2")) << err;
}

TEST_F(ReportingStubTest, ReportExportWritesOneFileOrADirectory) {
  std::string out, err;
  std::string html = dir_ + "/report.html";
  ASSERT_EQ(Run({"report", "export", "r1", "--format", "html", "--lang", "en",
                 "-o", html},
                &out, &err),
            0)
      << err;
  EXPECT_EQ(ReadFile(html), "<html>en</html>");
  ASSERT_EQ(Run({"report", "export", "r1", "--format", "html"}, &out, &err), 0);
  EXPECT_EQ(out, "<html>fr</html>");
  // Several CSV files need a directory.
  EXPECT_EQ(Run({"report", "export", "r1", "--format", "csv"}, &out, &err), 1);
  EXPECT_TRUE(absl::StrContains(err, "--output-dir")) << err;
  std::string csv = dir_ + "/csv";
  ASSERT_EQ(
      Run({"report", "export", "r1", "--format", "csv", "--output-dir", csv},
          &out, &err),
      0)
      << err;
  EXPECT_EQ(ReadFile(csv + "/actions.csv"), "table,actions.csv\r\n");
  EXPECT_TRUE(std::filesystem::exists(csv + "/indicators.csv"));
  EXPECT_TRUE(std::filesystem::exists(csv + "/feedback.csv"));
  EXPECT_EQ(Run({"report", "export", "nope", "--format", "pdf"}, &out, &err),
            1);
  EXPECT_EQ(Run({"report", "export", "nope", "--format", "md"}, &out, &err), 2);
}

}  // namespace
}  // namespace jalon
