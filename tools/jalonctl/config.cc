#include "tools/jalonctl/config.h"

#include <sys/stat.h>
#include <yaml-cpp/yaml.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/string_view.h"
#include "services/common/requests.h"
#include "tools/jalonctl/errors.h"

namespace jalon::ctl {
namespace {

std::string Env(const char* name) {
  const char* v = std::getenv(name);
  return v == nullptr ? std::string() : std::string(v);
}

std::string ExpandHome(const std::string& path) {
  if (path.rfind("~/", 0) == 0) return Env("HOME") + path.substr(1);
  return path;
}

void Override(std::string* field, const std::string& value) {
  if (!value.empty()) *field = value;
}

}  // namespace

std::string ConfigPath(const std::string& flag) {
  if (!flag.empty()) return flag;
  if (std::string v = Env("JALON_CONFIG"); !v.empty()) return v;
  if (std::string x = Env("XDG_CONFIG_HOME"); !x.empty()) {
    return x + "/jalon/config.yaml";
  }
  return Env("HOME") + "/.config/jalon/config.yaml";
}

ConfigFile LoadConfig(const std::string& path) {
  ConfigFile config;
  if (!std::filesystem::exists(path)) return config;
  try {
    YAML::Node root = YAML::LoadFile(path);
    if (!root || root.IsNull()) return config;
    // A value left blank (or ~) is absent, not the text "null" (yaml-cpp's
    // reading of it); a list or a map is an error naming its key.
    auto scalar = [&path](const YAML::Node& n, const std::string& key) {
      if (!n || n.IsNull()) return std::string();
      if (!n.IsScalar()) {
        throw CliError(kExitUsage, "error: config file " + path + ": " + key +
                                       " must be a single value");
      }
      return n.as<std::string>();
    };
    config.current_context = scalar(root["current-context"], "current-context");
    if (const YAML::Node contexts = root["contexts"]) {
      for (const auto& entry : contexts) {
        const std::string name = entry.first.as<std::string>();
        const YAML::Node& v = entry.second;
        auto get = [&](const char* key) {
          return v.IsMap() ? scalar(v[key], "contexts." + name + "." + key)
                           : std::string();
        };
        Context c;
        c.roadmap_address = get("roadmap");
        c.feedback_address = get("feedback");
        c.reporting_address = get("reporting");
        c.token_file = get("token_file");
        config.contexts[name] = c;
      }
    }
  } catch (const YAML::Exception& e) {
    throw CliError(kExitUsage, "error: config file " + path + ": " + e.what());
  }
  return config;
}

std::string ConfigToYaml(const ConfigFile& config) {
  YAML::Emitter out;
  out << YAML::BeginMap;
  out << YAML::Key << "current-context" << YAML::Value
      << config.current_context;
  out << YAML::Key << "contexts" << YAML::Value << YAML::BeginMap;
  for (const auto& [name, c] : config.contexts) {
    out << YAML::Key << name << YAML::Value << YAML::BeginMap;
    auto put = [&out](const char* key, const std::string& value) {
      if (!value.empty()) out << YAML::Key << key << YAML::Value << value;
    };
    put("roadmap", c.roadmap_address);
    put("feedback", c.feedback_address);
    put("reporting", c.reporting_address);
    put("token_file", c.token_file);
    out << YAML::EndMap;
  }
  out << YAML::EndMap << YAML::EndMap;
  return std::string(out.c_str()) + "\n";
}

void SaveConfig(const std::string& path, const ConfigFile& config) {
  std::filesystem::path p(path);
  std::error_code ec;
  if (p.has_parent_path())
    std::filesystem::create_directories(p.parent_path(), ec);
  std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << ConfigToYaml(config);
    if (!out) throw CliError(kExitOther, "error: cannot write " + tmp);
  }
  ::chmod(tmp.c_str(), 0600);
  std::filesystem::rename(tmp, path, ec);
  if (ec) throw CliError(kExitOther, "error: cannot write " + path);
}

Settings Resolve(const GlobalFlags& flags) {
  Settings s;
  s.config_path = ConfigPath(flags.config_path);
  ConfigFile file = LoadConfig(s.config_path);
  s.context_name = !flags.context.empty()          ? flags.context
                   : !Env("JALON_CONTEXT").empty() ? Env("JALON_CONTEXT")
                                                   : file.current_context;
  s.endpoints = {kDefaultRoadmapAddress, kDefaultFeedbackAddress,
                 kDefaultReportingAddress, ""};
  if (!s.context_name.empty()) {
    auto it = file.contexts.find(s.context_name);
    if (it == file.contexts.end()) {
      // Whoever named it: the defaults (this machine) would be the wrong
      // system to talk to.
      const char* by = !flags.context.empty()          ? "--context"
                       : !Env("JALON_CONTEXT").empty() ? "$JALON_CONTEXT"
                                                       : "current-context";
      throw CliError(kExitUsage, "error: no context \"" + s.context_name +
                                     "\" (named by " + by + ") in " +
                                     s.config_path);
    } else {
      Override(&s.endpoints.roadmap_address, it->second.roadmap_address);
      Override(&s.endpoints.feedback_address, it->second.feedback_address);
      Override(&s.endpoints.reporting_address, it->second.reporting_address);
      // A relative token_file written in the file by hand is relative to
      // the file, as kubectl reads its kubeconfig: not to wherever the
      // command runs.
      std::string token_file = it->second.token_file;
      if (!token_file.empty() && token_file.rfind("~/", 0) != 0 &&
          std::filesystem::path(token_file).is_relative()) {
        token_file =
            (std::filesystem::path(s.config_path).parent_path() / token_file)
                .string();
      }
      Override(&s.endpoints.token_file, token_file);
    }
  }
  Override(&s.endpoints.roadmap_address, Env("JALON_ROADMAP_ADDRESS"));
  Override(&s.endpoints.feedback_address, Env("JALON_FEEDBACK_ADDRESS"));
  Override(&s.endpoints.reporting_address, Env("JALON_REPORTING_ADDRESS"));
  Override(&s.endpoints.token_file, Env("JALON_TOKEN_FILE"));
  Override(&s.endpoints.roadmap_address, flags.roadmap_address);
  Override(&s.endpoints.feedback_address, flags.feedback_address);
  Override(&s.endpoints.reporting_address, flags.reporting_address);
  Override(&s.endpoints.token_file, flags.token_file);
  s.endpoints.token_file = ExpandHome(s.endpoints.token_file);
  return s;
}

namespace {

// A token as read, without the whitespace around it (a file's or a
// Secret's trailing newline); refused, without echoing it, when what is
// left could not travel in an HTTP/2 header (gRPC would abort the process,
// printing the header).
std::string CheckedToken(std::string token, const std::string& source) {
  absl::string_view trimmed = absl::StripAsciiWhitespace(token);
  if (!IsVisibleAscii(std::string_view(trimmed.data(), trimmed.size()))) {
    throw CliError(kExitDenied, "error: the token from " + source +
                                    " contains characters a token never "
                                    "has (spaces or control characters)");
  }
  if (trimmed.empty()) {
    throw CliError(kExitDenied,
                   "error: the token from " + source + " is empty");
  }
  return std::string(trimmed);
}

}  // namespace

std::string ReadToken(const Settings& settings) {
  if (std::string t = Env("JALON_TOKEN"); !t.empty()) {
    return CheckedToken(std::move(t), "$JALON_TOKEN");
  }
  const std::string& path = settings.endpoints.token_file;
  if (path.empty()) {
    throw CliError(kExitDenied,
                   "error: no token: set JALON_TOKEN, JALON_TOKEN_FILE, "
                   "--token-file or token_file in the config context");
  }
  std::ifstream in(path);
  std::string token;
  if (!in || !std::getline(in, token)) {
    throw CliError(kExitDenied, "error: cannot read the token file " + path);
  }
  return CheckedToken(std::move(token), "the token file " + path);
}

}  // namespace jalon::ctl
