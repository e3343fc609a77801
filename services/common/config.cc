#include "services/common/config.h"

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

extern char** environ;

namespace jalon {

bool ParseDuration(std::string_view text, std::chrono::milliseconds* out) {
  if (text == "0") {  // zero needs no unit ("0: never" in flag help)
    *out = std::chrono::milliseconds(0);
    return true;
  }
  int64_t n = 0;
  auto unit_at = text.find_first_not_of("0123456789");
  if (unit_at == 0 || unit_at == std::string_view::npos) return false;
  if (!absl::SimpleAtoi(std::string(text.substr(0, unit_at)), &n)) return false;
  // Far beyond any setting, and no overflow once in milliseconds.
  if (n > 1'000'000'000'000) return false;
  std::string_view unit = text.substr(unit_at);
  if (unit == "ms") {
    *out = std::chrono::milliseconds(n);
  } else if (unit == "s") {
    *out = std::chrono::seconds(n);
  } else if (unit == "m") {
    *out = std::chrono::minutes(n);
  } else {
    return false;
  }
  return true;
}

std::string FormatDuration(std::chrono::milliseconds d) {
  const int64_t ms = d.count();
  if (ms == 0) return "0";
  if (ms % 60000 == 0) return absl::StrCat(ms / 60000, "m");
  if (ms % 1000 == 0) return absl::StrCat(ms / 1000, "s");
  return absl::StrCat(ms, "ms");
}

Flags::Flags(std::string program, std::string summary)
    : program_(std::move(program)), summary_(std::move(summary)) {}

std::string Flags::EnvName(std::string_view flag) {
  std::string env = "JALON_";
  for (char c : flag) env += c == '-' ? '_' : absl::ascii_toupper(c);
  return env;
}

void Flags::Add(Option option) { options_.push_back(std::move(option)); }

void Flags::String(std::string name, std::string* target, std::string help) {
  Add({name, std::move(help), *target, false, [target](const std::string& v) {
         *target = v;
         return absl::OkStatus();
       }});
}

void Flags::Int(std::string name, int* target, int min, int max,
                std::string help) {
  Add({name, std::move(help), std::to_string(*target), false,
       [=](const std::string& v) {
         int n;
         if (!absl::SimpleAtoi(v, &n) || n < min || n > max) {
           return absl::InvalidArgumentError(
               absl::StrCat("expected an integer in ", min, "..", max));
         }
         *target = n;
         return absl::OkStatus();
       }});
}

void Flags::Int64(std::string name, int64_t* target, int64_t min, int64_t max,
                  std::string help) {
  Add({name, std::move(help), std::to_string(*target), false,
       [=](const std::string& v) {
         int64_t n;
         if (!absl::SimpleAtoi(v, &n) || n < min || n > max) {
           return absl::InvalidArgumentError(
               absl::StrCat("expected an integer in ", min, "..", max));
         }
         *target = n;
         return absl::OkStatus();
       }});
}

void Flags::Duration(std::string name, std::chrono::milliseconds* target,
                     std::chrono::milliseconds min,
                     std::chrono::milliseconds max, std::string help) {
  Add({name, std::move(help), FormatDuration(*target), false,
       [=](const std::string& v) {
         std::chrono::milliseconds d;
         if (!ParseDuration(v, &d) || d < min || d > max) {
           return absl::InvalidArgumentError(absl::StrCat(
               "expected a duration from ", FormatDuration(min), " to ",
               FormatDuration(max), ", such as 250ms, 2s or 1m"));
         }
         *target = d;
         return absl::OkStatus();
       }});
}

void Flags::Bool(std::string name, bool* target, std::string help) {
  Add({name, std::move(help), *target ? "true" : "false", true,
       [=](const std::string& v) {
         if (v == "true" || v == "1" || v.empty()) {
           *target = true;
         } else if (v == "false" || v == "0") {
           *target = false;
         } else {
           return absl::InvalidArgumentError("expected true or false");
         }
         return absl::OkStatus();
       }});
}

void Flags::SecretFile(std::string name, std::string* secret,
                       std::string help) {
  Add({name, std::move(help), "", false, [=](const std::string& path) {
         if (path.empty()) return absl::OkStatus();
         std::ifstream in(path);
         if (!in) {
           return absl::InvalidArgumentError(
               absl::StrCat("cannot read file ", path));
         }
         std::stringstream ss;
         ss << in.rdbuf();
         std::string value = ss.str();
         while (!value.empty() &&
                (value.back() == '\n' || value.back() == '\r')) {
           value.pop_back();
         }
         if (value.empty()) {
           return absl::InvalidArgumentError(
               absl::StrCat("file ", path, " is empty"));
         }
         *secret = std::move(value);
         return absl::OkStatus();
       }});
}

absl::Status Flags::Parse(int argc, char** argv) {
  std::vector<std::string> args;
  for (int i = 1; i < argc; ++i) args.emplace_back(argv[i]);
  return Parse(args);
}

std::vector<std::string> Flags::IgnoredEnvironment() const {
  std::vector<std::string> ignored;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    std::string_view entry(*e);
    const std::string_view name = entry.substr(0, entry.find('='));
    if (name.substr(0, 6) != "JALON_") continue;
    const bool known =
        std::any_of(options_.begin(), options_.end(),
                    [&](const Option& o) { return EnvName(o.name) == name; });
    if (!known) ignored.emplace_back(name);
  }
  std::sort(ignored.begin(), ignored.end());
  return ignored;
}

absl::Status Flags::Parse(const std::vector<std::string>& args) {
  auto fail = [](const Option&, const absl::Status& s,
                 const std::string& from) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid ", from, ": ", s.message()));
  };
  // Environment first, so flags override it.
  for (const auto& o : options_) {
    std::string env = EnvName(o.name);
    if (const char* v = std::getenv(env.c_str())) {
      if (auto s = o.set(v); !s.ok()) {
        return fail(o, s, absl::StrCat(env, " (--", o.name, ")"));
      }
    }
  }
  for (size_t i = 0; i < args.size(); ++i) {
    std::string_view arg = args[i];
    if (arg == "--help" || arg == "-h") {
      help_requested_ = true;
      return absl::OkStatus();
    }
    if (arg.substr(0, 2) != "--") {
      return absl::InvalidArgumentError(absl::StrCat(
          "unexpected argument '", std::string(arg), "'; see --help"));
    }
    arg.remove_prefix(2);
    std::string name(arg), value;
    bool has_value = false;
    if (auto eq = arg.find('='); eq != std::string_view::npos) {
      name = std::string(arg.substr(0, eq));
      value = std::string(arg.substr(eq + 1));
      has_value = true;
    }
    const Option* opt = nullptr;
    for (const auto& o : options_) {
      if (o.name == name) opt = &o;
    }
    if (opt == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat("unknown flag --", name, "; see --help"));
    }
    if (!has_value && !opt->is_bool) {
      if (i + 1 >= args.size()) {
        return absl::InvalidArgumentError(
            absl::StrCat("flag --", name, " needs a value"));
      }
      value = args[++i];
    }
    if (auto s = opt->set(value); !s.ok()) {
      return fail(*opt, s, absl::StrCat("--", name, " (", EnvName(name), ")"));
    }
  }
  return absl::OkStatus();
}

std::string Flags::Help() const {
  std::string out = absl::StrCat("Usage: ", program_, " [flags]\n", summary_,
                                 "\n\nFlags (each also read from its "
                                 "environment variable; a flag wins):\n");
  for (const auto& o : options_) {
    absl::StrAppend(&out, "  --", o.name, " (", EnvName(o.name), ")\n      ",
                    o.help);
    if (!o.default_text.empty()) {
      absl::StrAppend(&out, " [default: ", o.default_text, "]");
    }
    absl::StrAppend(&out, "\n");
  }
  return out;
}

}  // namespace jalon
