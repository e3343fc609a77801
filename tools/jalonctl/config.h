// jalonctl's configuration: the config file with named contexts (service
// addresses, token file), overridden by JALON_* variables, then by flags.
// The token itself is read from JALON_TOKEN or a file, never from a flag.
// Not thread-safe.
#ifndef JALON_TOOLS_JALONCTL_CONFIG_H_
#define JALON_TOOLS_JALONCTL_CONFIG_H_

#include <map>
#include <string>

namespace jalon::ctl {

inline constexpr char kDefaultRoadmapAddress[] = "127.0.0.1:50051";
inline constexpr char kDefaultFeedbackAddress[] = "127.0.0.1:50052";
inline constexpr char kDefaultReportingAddress[] = "127.0.0.1:50053";

// One named context of the config file.
struct Context {
  std::string roadmap_address;
  std::string feedback_address;
  std::string reporting_address;
  std::string token_file;
};

// The config file.
struct ConfigFile {
  std::string current_context;
  std::map<std::string, Context> contexts;
};

// What the command line says about configuration (empty: not given).
struct GlobalFlags {
  std::string config_path;
  std::string context;
  std::string roadmap_address;
  std::string feedback_address;
  std::string reporting_address;
  std::string token_file;
};

// The settings a command runs with, everything resolved.
struct Settings {
  std::string config_path;
  std::string context_name;
  Context endpoints;  // addresses and token file after every override
};

// --config, else JALON_CONFIG, else $XDG_CONFIG_HOME/jalon/config.yaml, else
// $HOME/.config/jalon/config.yaml.
std::string ConfigPath(const std::string& flag);

// Reads the file; a missing file is an empty config. Throws CliError (usage)
// on a malformed file.
ConfigFile LoadConfig(const std::string& path);
// Writes the file (creating its directory), mode 0600.
void SaveConfig(const std::string& path, const ConfigFile& config);
// The file as YAML text.
std::string ConfigToYaml(const ConfigFile& config);

// Defaults < context < JALON_* variables < flags.
Settings Resolve(const GlobalFlags& flags);

// The token: JALON_TOKEN, else the token file's first line. Throws CliError
// (exit 3) when there is none.
std::string ReadToken(const Settings& settings);

}  // namespace jalon::ctl

#endif  // JALON_TOOLS_JALONCTL_CONFIG_H_
