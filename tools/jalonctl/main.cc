// jalonctl: the admin CLI of Jalon, `jalonctl <resource> <verb> [args]
// [flags]` in the conventions of kubectl and gh. See docs/cli.md.
#include <CLI/CLI.hpp>
#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

#include "services/common/requests.h"
#include "tools/jalonctl/commands.h"
#include "tools/jalonctl/errors.h"
#include "tools/jalonctl/fields.h"
#include "tools/jalonctl/session.h"

namespace {

// "jalonctl action bogus": CLI11 only says that a subcommand is required.
// The message naming the word it did not take, as kubectl's; empty when
// that is not the error.
std::string UnknownCommand(const CLI::App& app) {
  const CLI::App* at = &app;
  while (!at->get_subcommands().empty()) at = at->get_subcommands().front();
  const std::vector<std::string> left = app.remaining(true);
  if (at->get_require_subcommand_min() == 0 || left.empty() ||
      left.front().empty() || left.front()[0] == '-') {
    return "";
  }
  std::string path = at->get_name();
  for (const CLI::App* p = at->get_parent(); p != nullptr;
       p = p->get_parent()) {
    path = p->get_name() + " " + path;
  }
  return "error: unknown command \"" + jalon::ctl::EscapedBytes(left.front()) +
         "\" for \"" + path + "\"\nRun '" + path +
         " --help' for its commands.\n";
}

}  // namespace

int main(int argc, char** argv) {
  using namespace jalon::ctl;
  CLI::App app{
      "jalonctl: run Jalon roadmaps, feedback and reports from a terminal.\n"
      "The token is read from $JALON_TOKEN or a token file "
      "($JALON_TOKEN_FILE, --token-file, the context's token_file).",
      "jalonctl"};
  app.fallthrough();
  app.require_subcommand(1);
  GlobalOptions options;
  Session session(options);
  Cli cli{&app, &options, &session, {}};

  app.add_option("-o,--output", options.output, "table, json, yaml or csv")
      ->check(CLI::IsMember({"table", "json", "yaml", "csv"}));
  app.add_option("--timeout", options.timeout_seconds,
                 "deadline of each call, in seconds (default 10)");
  app.add_option("--limit", options.limit, "list: at most this many items");
  app.add_option("--config", options.flags.config_path,
                 "config file (default $JALON_CONFIG, "
                 "$XDG_CONFIG_HOME/jalon/config.yaml)");
  app.add_option("--context", options.flags.context,
                 "context of the config file to use");
  app.add_option("--roadmap-address", options.flags.roadmap_address,
                 "roadmap service host:port");
  app.add_option("--feedback-address", options.flags.feedback_address,
                 "feedback service host:port");
  app.add_option("--reporting-address", options.flags.reporting_address,
                 "reporting service host:port");
  app.add_option("--token-file", options.flags.token_file,
                 "file holding the token (never the token itself)");

  RegisterConfigCommands(cli);
  RegisterRoadmapCommands(cli);
  RegisterFeedbackCommands(cli);
  RegisterReportingCommands(cli);
  RegisterImportCommands(cli);
  RegisterCompletionCommand(cli);
  // After the commands, so that they do not inherit it.
  app.footer(
      "\nExit codes: 0 ok, 1 usage, 2 not found, 3 unauthenticated or "
      "permission denied,\n4 conflict or stale etag, 5 unavailable or "
      "deadline exceeded, 6 invalid argument,\n7 other.\n\nExamples:\n"
      "  jalonctl config set-context local --token-file ~/jalon/admin.token\n"
      "  jalonctl roadmap list\n"
      "  jalonctl action list --roadmap 01J... --late -o csv\n"
      "  jalonctl import examples/roadmap-2016.yaml --dry-run");

  // Every text the services take is UTF-8: an argument in another encoding
  // (a Latin-1 terminal) would make a request that does not parse. A path
  // that exists is only a path (the file's own text is checked on reading).
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    std::error_code ec;
    if (jalon::InvalidUtf8At(arg) != std::string_view::npos &&
        !std::filesystem::exists(argv[i], ec)) {
      std::cerr << "error: argument " << i << " ("
                << jalon::ctl::EscapedBytes(arg)
                << ") is not UTF-8 text; set the terminal to UTF-8, or "
                   "convert it (iconv -f latin1 -t utf-8)\n";
      return kExitUsage;
    }
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (dynamic_cast<const CLI::RequiredError*>(&e) != nullptr) {
      if (std::string unknown = UnknownCommand(app); !unknown.empty()) {
        std::cerr << unknown;
        return kExitUsage;
      }
    }
    int code = app.exit(e);
    return code == 0 ? kExitOk : kExitUsage;
  }
  if (options.timeout_seconds <= 0) {
    std::cerr << "error: --timeout must be positive\n";
    return kExitUsage;
  }
  if (!cli.action) return kExitUsage;
  try {
    cli.action();
  } catch (const CliError& e) {
    std::cout.flush();
    std::cerr << e.what() << "\n";
    return e.code();
  } catch (const std::exception& e) {
    std::cout.flush();
    std::cerr << "error: " << e.what() << "\n";
    return kExitOther;
  }
  return kExitOk;
}
