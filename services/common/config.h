// Command-line flags and JALON_* environment variables parsed into typed
// fields, validated at start-up. A flag overrides its variable; a secret is
// never a flag value but a file (--x-file / JALON_X_FILE) read at start-up.
// Not thread-safe; used once in main().
#ifndef JALON_SERVICES_COMMON_CONFIG_H_
#define JALON_SERVICES_COMMON_CONFIG_H_

#include <chrono>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"

namespace jalon {

class Flags {
 public:
  Flags(std::string program, std::string summary);

  void String(std::string name, std::string* target, std::string help);
  void Int(std::string name, int* target, int min, int max, std::string help);
  void Int64(std::string name, int64_t* target, int64_t min, int64_t max,
             std::string help);
  // Accepts "250ms", "2s", "1m" (and "0"), from `min` to `max`.
  void Duration(std::string name, std::chrono::milliseconds* target,
                std::chrono::milliseconds min, std::chrono::milliseconds max,
                std::string help);
  void Bool(std::string name, bool* target, std::string help);
  // `name` is the flag of the file's path (e.g. "redis-password-file"); the
  // file's content, without a trailing newline, goes to `secret`.
  void SecretFile(std::string name, std::string* secret, std::string help);

  // Parses argv (--name=value or --name value) over the environment. On an
  // error the status names the flag and its variable and what is expected.
  // Sets help_requested() on --help (and returns OK).
  absl::Status Parse(int argc, char** argv);
  absl::Status Parse(const std::vector<std::string>& args);
  bool help_requested() const { return help_requested_; }
  const std::string& program() const { return program_; }
  std::string Help() const;

  // "JALON_" + upper-cased name with '-' as '_'.
  static std::string EnvName(std::string_view flag);
  // The names of the JALON_* variables in the environment that are no
  // flag of this program (a typo, or another program's setting): Parse
  // ignores them, and the caller should say so.
  std::vector<std::string> IgnoredEnvironment() const;

 private:
  struct Option {
    std::string name;
    std::string help;
    std::string default_text;
    bool is_bool = false;
    std::function<absl::Status(const std::string&)> set;
  };
  void Add(Option option);

  std::string program_;
  std::string summary_;
  std::vector<Option> options_;
  bool help_requested_ = false;
};

// Parses "250ms", "2s", "3m" (and "0") into milliseconds.
bool ParseDuration(std::string_view text, std::chrono::milliseconds* out);
// A duration as ParseDuration reads it, in the largest exact unit: "0",
// "250ms", "2s", "5m".
std::string FormatDuration(std::chrono::milliseconds d);

}  // namespace jalon

#endif  // JALON_SERVICES_COMMON_CONFIG_H_
