// Tests of flag and environment parsing and of the shared service settings.
#include "services/common/config.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "services/common/dates.h"
#include "services/common/service_config.h"

namespace jalon {
namespace {

using std::chrono::milliseconds;

// Sets an environment variable for the life of the object.
class ScopedEnv {
 public:
  ScopedEnv(std::string name, const std::string& value)
      : name_(std::move(name)) {
    if (const char* old = std::getenv(name_.c_str())) old_ = old;
    setenv(name_.c_str(), value.c_str(), 1);
  }
  ~ScopedEnv() {
    if (old_) {
      setenv(name_.c_str(), old_->c_str(), 1);
    } else {
      unsetenv(name_.c_str());
    }
  }

 private:
  std::string name_;
  std::optional<std::string> old_;
};

// A file in a fresh temporary directory, removed with the object.
class TempFile {
 public:
  explicit TempFile(const std::string& content) {
    char tmpl[] = "/tmp/jalon-config-test-XXXXXX";
    dir_ = mkdtemp(tmpl);
    path_ = dir_ + "/secret";
    std::ofstream(path_) << content;
  }
  ~TempFile() { std::filesystem::remove_all(dir_); }
  const std::string& path() const { return path_; }

 private:
  std::string dir_;
  std::string path_;
};

// The flags of a small test program; names are unique to this test so the
// real JALON_* of the environment cannot interfere.
struct TestConfig {
  std::string name = "default";
  int count = 3;
  int64_t big = 10;
  milliseconds wait{250};
  bool verbose = false;
  std::string secret;

  Flags MakeFlags() {
    Flags f("jalon-test", "a test program");
    f.String("cfgtest-name", &name, "a name");
    f.Int("cfgtest-count", &count, 1, 100, "a count");
    f.Int64("cfgtest-big", &big, 0, int64_t{1} << 40, "a big number");
    f.Duration("cfgtest-wait", &wait, milliseconds(10), std::chrono::hours(1),
               "a wait");
    f.Bool("cfgtest-verbose", &verbose, "talk more");
    f.SecretFile("cfgtest-password-file", &secret, "a password file");
    return f;
  }
};

TEST(FlagsTest, EnvNameIsPrefixedUpperSnakeCase) {
  EXPECT_EQ(Flags::EnvName("redis-password-file"), "JALON_REDIS_PASSWORD_FILE");
  EXPECT_EQ(Flags::EnvName("listen"), "JALON_LISTEN");
}

TEST(FlagsTest, DefaultsStayWithoutFlagsOrEnvironment) {
  TestConfig c;
  Flags f = c.MakeFlags();
  ASSERT_TRUE(f.Parse(std::vector<std::string>{}).ok());
  EXPECT_EQ(c.name, "default");
  EXPECT_EQ(c.count, 3);
  EXPECT_EQ(c.wait, milliseconds(250));
  EXPECT_FALSE(c.verbose);
  EXPECT_TRUE(c.secret.empty());
}

TEST(FlagsTest, ParsesBothFlagForms) {
  TestConfig c;
  Flags f = c.MakeFlags();
  absl::Status s = f.Parse({"--cfgtest-name=alpha", "--cfgtest-count", "42",
                            "--cfgtest-big=1099511627776", "--cfgtest-verbose",
                            "--cfgtest-wait", "2s"});
  ASSERT_TRUE(s.ok()) << s;
  EXPECT_EQ(c.name, "alpha");
  EXPECT_EQ(c.count, 42);
  EXPECT_EQ(c.big, int64_t{1} << 40);
  EXPECT_TRUE(c.verbose);
  EXPECT_EQ(c.wait, milliseconds(2000));
}

TEST(FlagsTest, ArgvFormSkipsTheProgramName) {
  TestConfig c;
  Flags f = c.MakeFlags();
  char arg0[] = "jalon-test";
  char arg1[] = "--cfgtest-count=7";
  char* argv[] = {arg0, arg1, nullptr};
  ASSERT_TRUE(f.Parse(2, argv).ok());
  EXPECT_EQ(c.count, 7);
}

TEST(FlagsTest, EnvironmentSetsAndFlagOverrides) {
  ScopedEnv name("JALON_CFGTEST_NAME", "from-env");
  ScopedEnv count("JALON_CFGTEST_COUNT", "9");
  TestConfig c;
  Flags f = c.MakeFlags();
  ASSERT_TRUE(f.Parse({"--cfgtest-name=from-flag"}).ok());
  EXPECT_EQ(c.name, "from-flag");
  EXPECT_EQ(c.count, 9);
}

TEST(FlagsTest, BadIntegerNamesTheFlagItsVariableAndWhatIsExpected) {
  TestConfig c;
  Flags f = c.MakeFlags();
  absl::Status s = f.Parse({"--cfgtest-count=lots"});
  ASSERT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("--cfgtest-count (JALON_CFGTEST_COUNT)"),
            std::string::npos)
      << s;
  EXPECT_NE(s.message().find("1..100"), std::string::npos) << s;

  TestConfig c2;
  Flags f2 = c2.MakeFlags();
  s = f2.Parse({"--cfgtest-count=101"});
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(c2.count, 3);
}

TEST(FlagsTest, BadIntegerInTheEnvironmentNamesTheVariableAndTheFlag) {
  ScopedEnv count("JALON_CFGTEST_COUNT", "0x10");
  TestConfig c;
  Flags f = c.MakeFlags();
  absl::Status s = f.Parse(std::vector<std::string>{});
  ASSERT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("JALON_CFGTEST_COUNT"), std::string::npos) << s;
  EXPECT_NE(s.message().find("--cfgtest-count"), std::string::npos) << s;
}

TEST(FlagsTest, JalonVariablesThatAreNoFlagAreReportedIgnored) {
  TestConfig c;
  Flags f = c.MakeFlags();
  setenv("JALON_CFGTEST_WAITT", "5s", 1);  // a typo of JALON_CFGTEST_WAIT
  setenv("JALON_CFGTEST_WAIT", "5s", 1);
  setenv("NOT_JALON_X", "1", 1);
  ASSERT_TRUE(f.Parse(std::vector<std::string>{}).ok());
  const auto ignored = f.IgnoredEnvironment();
  unsetenv("JALON_CFGTEST_WAITT");
  unsetenv("JALON_CFGTEST_WAIT");
  unsetenv("NOT_JALON_X");
  EXPECT_EQ(c.wait, std::chrono::seconds(5));
  EXPECT_NE(std::find(ignored.begin(), ignored.end(), "JALON_CFGTEST_WAITT"),
            ignored.end());
  EXPECT_EQ(std::find(ignored.begin(), ignored.end(), "JALON_CFGTEST_WAIT"),
            ignored.end());
  EXPECT_EQ(std::find(ignored.begin(), ignored.end(), "NOT_JALON_X"),
            ignored.end());
}

TEST(FlagsTest, Durations) {
  milliseconds d;
  ASSERT_TRUE(ParseDuration("250ms", &d));
  EXPECT_EQ(d, milliseconds(250));
  ASSERT_TRUE(ParseDuration("2s", &d));
  EXPECT_EQ(d, milliseconds(2000));
  ASSERT_TRUE(ParseDuration("1m", &d));
  EXPECT_EQ(d, milliseconds(60000));
  ASSERT_TRUE(ParseDuration("0s", &d));
  EXPECT_EQ(d, milliseconds(0));
  d = milliseconds(5);
  ASSERT_TRUE(ParseDuration("0", &d));  // only zero goes without a unit
  EXPECT_EQ(d, milliseconds(0));
  for (const char* bad : {"", "5", "ms", "5h", "-1s", "1.5s", "2 s", "s2"}) {
    EXPECT_FALSE(ParseDuration(bad, &d)) << "'" << bad << "'";
  }

  TestConfig c;
  Flags f = c.MakeFlags();
  absl::Status s = f.Parse({"--cfgtest-wait=5h"});
  ASSERT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("--cfgtest-wait"), std::string::npos) << s;
  EXPECT_NE(s.message().find("250ms"), std::string::npos) << s;
}

TEST(FlagsTest, Booleans) {
  for (const auto& [arg, want] : std::vector<std::pair<std::string, bool>>{
           {"--cfgtest-verbose", true},
           {"--cfgtest-verbose=1", true},
           {"--cfgtest-verbose=true", true},
           {"--cfgtest-verbose=false", false},
           {"--cfgtest-verbose=0", false}}) {
    TestConfig c;
    c.verbose = !want;
    Flags f = c.MakeFlags();
    ASSERT_TRUE(f.Parse({arg}).ok()) << arg;
    EXPECT_EQ(c.verbose, want) << arg;
  }
  TestConfig c;
  Flags f = c.MakeFlags();
  EXPECT_EQ(f.Parse({"--cfgtest-verbose=maybe"}).code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(FlagsTest, UnknownFlagMissingValueAndStrayArgumentAreErrors) {
  TestConfig c;
  Flags f = c.MakeFlags();
  absl::Status s = f.Parse({"--no-such-flag=1"});
  ASSERT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("unknown flag --no-such-flag"), std::string::npos)
      << s;

  s = f.Parse({"--cfgtest-name"});
  ASSERT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("--cfgtest-name"), std::string::npos) << s;

  s = f.Parse({"stray"});
  ASSERT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("stray"), std::string::npos) << s;
}

TEST(FlagsTest, HelpIsRequestedAndListsFlagsWithVariables) {
  TestConfig c;
  Flags f = c.MakeFlags();
  ASSERT_TRUE(f.Parse({"--help"}).ok());
  EXPECT_TRUE(f.help_requested());
  std::string help = f.Help();
  EXPECT_NE(help.find("--cfgtest-count (JALON_CFGTEST_COUNT)"),
            std::string::npos)
      << help;
  EXPECT_NE(help.find("[default: 3]"), std::string::npos) << help;
}

TEST(FlagsTest, SecretFileIsReadWithoutTrailingNewline) {
  TempFile file("correct horse battery staple\r\n\n");
  TestConfig c;
  Flags f = c.MakeFlags();
  ASSERT_TRUE(f.Parse({"--cfgtest-password-file=" + file.path()}).ok());
  EXPECT_EQ(c.secret, "correct horse battery staple");
  // The help never shows a secret.
  EXPECT_EQ(f.Help().find("correct horse"), std::string::npos);
}

TEST(FlagsTest, SecretFileFromTheEnvironment) {
  TempFile file("from-env-file\n");
  ScopedEnv env("JALON_CFGTEST_PASSWORD_FILE", file.path());
  TestConfig c;
  Flags f = c.MakeFlags();
  ASSERT_TRUE(f.Parse(std::vector<std::string>{}).ok());
  EXPECT_EQ(c.secret, "from-env-file");
}

TEST(FlagsTest, MissingOrEmptySecretFileIsAnError) {
  TestConfig c;
  Flags f = c.MakeFlags();
  absl::Status s =
      f.Parse({"--cfgtest-password-file=/nonexistent/jalon/secret"});
  ASSERT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("--cfgtest-password-file"), std::string::npos)
      << s;
  EXPECT_NE(s.message().find("/nonexistent/jalon/secret"), std::string::npos)
      << s;

  TempFile empty("\n");
  s = f.Parse({"--cfgtest-password-file=" + empty.path()});
  ASSERT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("empty"), std::string::npos) << s;
}

TEST(ServiceConfigTest, DefaultsAreValid) {
  ServiceConfig config;
  Flags f("svc", "test");
  config.Register(f);
  ASSERT_TRUE(f.Parse(std::vector<std::string>{}).ok());
  EXPECT_TRUE(config.Validate().ok()) << config.Validate();
  auto redis = config.Redis();
  ASSERT_TRUE(redis.ok());
  EXPECT_EQ(redis->host, "127.0.0.1");
  EXPECT_EQ(redis->port, 6379);
  EXPECT_EQ(redis->pool_size, config.redis_pool_size);
  EXPECT_EQ(redis->command_timeout, config.redis_timeout);
}

TEST(ServiceConfigTest, FlagsReachTheRedisOptions) {
  TempFile password("pw-from-file\n");
  ServiceConfig config;
  Flags f("svc", "test");
  config.Register(f);
  ASSERT_TRUE(f.Parse({"--redis-url=redis://10.0.0.5:6380/2",
                       "--redis-password-file=" + password.path(),
                       "--redis-timeout=750ms", "--redis-pool-size=3"})
                  .ok());
  auto redis = config.Redis();
  ASSERT_TRUE(redis.ok()) << redis.status();
  EXPECT_EQ(redis->host, "10.0.0.5");
  EXPECT_EQ(redis->port, 6380);
  EXPECT_EQ(redis->db, 2);
  EXPECT_EQ(redis->password, "pw-from-file");
  EXPECT_EQ(redis->command_timeout, milliseconds(750));
  EXPECT_EQ(redis->pool_size, 3);
}

TEST(ServiceConfigTest, ValidateNamesTheFlagAndItsVariable) {
  struct Case {
    std::function<void(ServiceConfig&)> mutate;
    std::string flag;
  };
  std::vector<Case> cases = {
      {[](ServiceConfig& c) { c.listen = "50051"; }, "--listen (JALON_LISTEN)"},
      {[](ServiceConfig& c) { c.redis_url = "redis://:pw@host:6379"; },
       "--redis-url (JALON_REDIS_URL)"},
      {[](ServiceConfig& c) { c.redis_url = "redis://host"; },
       "--redis-url (JALON_REDIS_URL)"},
      {[](ServiceConfig& c) { c.log_level = "verbose"; },
       "--log-level (JALON_LOG_LEVEL)"},
      {[](ServiceConfig& c) { c.health_interval = milliseconds(1); },
       "--health-interval (JALON_HEALTH_INTERVAL)"},
  };
  for (const auto& tc : cases) {
    ServiceConfig config;
    tc.mutate(config);
    absl::Status s = config.Validate();
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << tc.flag;
    EXPECT_NE(s.message().find(tc.flag), std::string::npos) << s;
    EXPECT_EQ(s.message().find("pw@"), std::string::npos) << s;
  }
}

TEST(ServiceConfigTest, DurationsOutOfTheirRangeAreRefusedAtParse) {
  for (const char* bad :
       {"--redis-timeout=0", "--redis-timeout=5ms", "--redis-timeout=2m",
        "--redis-connect-timeout=0", "--health-interval=1ms",
        "--keepalive-time=0", "--max-connection-age=30000m",
        "--grace-period=2h", "--claim-min-idle=0", "--roadmap-deadline=0",
        "--auth-cache-ttl=99999999999999m"}) {
    ServiceConfig config;
    RoadmapLinkConfig link;
    Flags f("svc", "test");
    config.Register(f);
    link.Register(f);
    absl::Status s = f.Parse({bad});
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << bad;
    const std::string flag =
        std::string(bad).substr(0, std::string(bad).find('='));
    EXPECT_NE(s.message().find(flag), std::string::npos) << s;
    EXPECT_NE(s.message().find("expected a duration from"), std::string::npos)
        << s;
  }
  ServiceConfig config;
  Flags f("svc", "test");
  config.Register(f);
  ASSERT_TRUE(f.Parse({"--redis-timeout=10ms", "--max-connection-age=10080m",
                       "--grace-period=0"})
                  .ok());
  EXPECT_EQ(config.redis_timeout, milliseconds(10));
  EXPECT_EQ(config.max_connection_age, std::chrono::hours(24 * 7));
  // A consumer never blocks for 0 (forever).
  RoadmapLinkConfig link;
  EXPECT_GT(link.Consumer(config, "s", "g", "d").block, milliseconds(0));
}

TEST(FlagsTest, FormatDurationReadsBack) {
  for (milliseconds d : {milliseconds(0), milliseconds(250), milliseconds(2000),
                         milliseconds(300000), milliseconds(90500)}) {
    milliseconds back{-1};
    ASSERT_TRUE(ParseDuration(FormatDuration(d), &back)) << FormatDuration(d);
    EXPECT_EQ(back, d);
  }
  EXPECT_EQ(FormatDuration(milliseconds(30000)), "30s");
  EXPECT_EQ(FormatDuration(milliseconds(600000)), "10m");
}

TEST(ServiceConfigTest, OutOfRangeSettingIsRefusedAtParse) {
  ServiceConfig config;
  Flags f("svc", "test");
  config.Register(f);
  absl::Status s = f.Parse({"--workers=0"});
  ASSERT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("--workers"), std::string::npos) << s;
}

// Runs ParseServiceFlags on `args` (after a program name), capturing what
// it prints.
struct ParseOutcome {
  std::optional<int> exit_code;
  std::string out, err;
};
ParseOutcome ParseWith(Flags& flags, const ServiceConfig& common,
                       std::vector<std::string> args,
                       const std::function<absl::Status()>& check = nullptr) {
  args.insert(args.begin(), "svc");
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  ::testing::internal::CaptureStdout();
  ::testing::internal::CaptureStderr();
  ParseOutcome o;
  o.exit_code = ParseServiceFlags(flags, common, static_cast<int>(args.size()),
                                  argv.data(), check);
  o.out = ::testing::internal::GetCapturedStdout();
  o.err = ::testing::internal::GetCapturedStderr();
  return o;
}

TEST(ParseServiceFlagsTest, GoesOnOnlyWhenEverythingIsValid) {
  // A fresh program per command line, as a process parses once.
  auto parse = [](std::vector<std::string> args,
                  const std::function<absl::Status()>& check = nullptr) {
    ServiceConfig config;
    Flags f("jalon-svc", "test");
    config.Register(f);
    ParseOutcome o = ParseWith(f, config, std::move(args), check);
    return std::make_pair(o, config);
  };
  auto [ok, config] = parse({"--workers=4"});
  EXPECT_FALSE(ok.exit_code.has_value());
  EXPECT_EQ(config.workers, 4);
  EXPECT_EQ(ok.out + ok.err, "");

  ParseOutcome help = parse({"--help"}).first;
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_NE(help.out.find("--redis-url"), std::string::npos) << help.out;

  ParseOutcome bad = parse({"--workers=none"}).first;
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_EQ(bad.err.rfind("jalon-svc: ", 0), 0u) << bad.err;
  EXPECT_NE(bad.err.find("--workers"), std::string::npos) << bad.err;

  ParseOutcome zone = parse({"--time-zone=Mars/Olympus_Mons"}).first;
  EXPECT_EQ(zone.exit_code, 2);
  EXPECT_NE(zone.err.find("--time-zone (JALON_TIME_ZONE)"), std::string::npos)
      << zone.err;
  EXPECT_EQ(DateTimeZoneName(), "UTC");

  ParseOutcome invalid = parse({"--log-level=loud"}).first;
  EXPECT_EQ(invalid.exit_code, 2);
  EXPECT_NE(invalid.err.find("--log-level"), std::string::npos) << invalid.err;

  bool checked = false;
  ParseOutcome refused =
      parse({}, [&] {
        checked = true;
        return absl::InvalidArgumentError("--amber must not exceed --green");
      }).first;
  EXPECT_TRUE(checked);
  EXPECT_EQ(refused.exit_code, 2);
  EXPECT_EQ(refused.err, "jalon-svc: --amber must not exceed --green\n");
}

TEST(RoadmapLinkConfigTest, TheTokenIsRequiredAndComesFromItsFile) {
  RoadmapLinkConfig link;
  EXPECT_NE(link.consumer_name.find("-" + std::to_string(getpid())),
            std::string::npos)
      << link.consumer_name;
  Flags f("svc", "test");
  link.Register(f);
  ASSERT_TRUE(f.Parse(std::vector<std::string>{}).ok());
  absl::Status missing = link.Validate();
  EXPECT_EQ(missing.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(
      missing.message().find("--roadmap-token-file (JALON_ROADMAP_TOKEN_FILE)"),
      std::string::npos)
      << missing;

  TempFile token("jalon_reader_secret\n");
  ASSERT_TRUE(
      f.Parse({"--roadmap-token-file=" + token.path(),
               "--roadmap-address=10.0.0.7:50051", "--consumer-name=replica-a"})
          .ok());
  EXPECT_TRUE(link.Validate().ok()) << link.Validate();
  EXPECT_EQ(link.roadmap_token, "jalon_reader_secret");
  EXPECT_EQ(link.roadmap_address, "10.0.0.7:50051");
  EXPECT_EQ(link.consumer_name, "replica-a");
  // The token itself never appears in an error.
  link.consumer_name.clear();
  absl::Status unnamed = link.Validate();
  EXPECT_NE(unnamed.message().find("--consumer-name"), std::string::npos);
  EXPECT_EQ(unnamed.message().find("jalon_reader_secret"), std::string::npos);
}

TEST(RoadmapLinkConfigTest, ConsumersBlockForLessThanTheRedisTimeout) {
  RoadmapLinkConfig link;
  link.consumer_name = "replica-a";
  link.claim_min_idle = milliseconds(4000);
  ServiceConfig common;
  common.redis_timeout = milliseconds(600);
  ConsumerOptions o =
      link.Consumer(common, "jalon:roadmap:events", "feedback", "dead");
  EXPECT_EQ(o.stream, "jalon:roadmap:events");
  EXPECT_EQ(o.group, "feedback");
  EXPECT_EQ(o.consumer, "replica-a");
  EXPECT_EQ(o.dead_letter, "dead");
  EXPECT_EQ(o.claim_min_idle, milliseconds(4000));
  EXPECT_EQ(o.block, milliseconds(300));
  common.redis_timeout = milliseconds(10000);
  EXPECT_EQ(link.Consumer(common, "s", "g", "d").block, milliseconds(1000));
}

}  // namespace
}  // namespace jalon
