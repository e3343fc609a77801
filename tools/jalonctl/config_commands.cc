// jalonctl config: view and edit the config file's contexts.
#include <filesystem>
#include <iostream>

#include "tools/jalonctl/commands.h"

namespace jalon::ctl {

void RegisterConfigCommands(Cli& cli) {
  GlobalOptions& o = *cli.options;
  CLI::App* g = Group(cli.app, "config", "The config file and its contexts");
  Verb(cli, g, "view", "Print the config file and the settings in effect",
       "  jalonctl config view", [&o] {
         std::string path = ConfigPath(o.flags.config_path);
         ConfigFile file = LoadConfig(path);
         // The file first: it is what to look at when the context named
         // is missing from it (Resolve's error, after it).
         std::cout << "# " << path << "\n" << ConfigToYaml(file) << std::flush;
         Settings s = Resolve(o.flags);
         std::cout << "# in effect (context \"" << s.context_name << "\")\n"
                   << "# roadmap: " << s.endpoints.roadmap_address << "\n"
                   << "# feedback: " << s.endpoints.feedback_address << "\n"
                   << "# reporting: " << s.endpoints.reporting_address << "\n"
                   << "# token_file: " << s.endpoints.token_file
                   << (std::getenv("JALON_TOKEN") ? " (JALON_TOKEN overrides)"
                                                  : "")
                   << "\n";
       });
  Verb(cli, g, "current-context", "Print the current context's name",
       "  jalonctl config current-context", [&o] {
         Settings s = Resolve(o.flags);
         if (s.context_name.empty()) {
           throw CliError(kExitNotFound, "error: no current context");
         }
         std::cout << s.context_name << "\n";
       });
  {
    auto name = std::make_shared<std::string>();
    CLI::App* v =
        Verb(cli, g, "use-context", "Make a context the current one",
             "  jalonctl config use-context prod", [&o, name] {
               std::string path = ConfigPath(o.flags.config_path);
               ConfigFile file = LoadConfig(path);
               if (!file.contexts.count(*name)) {
                 throw CliError(kExitNotFound, "error: no context \"" + *name +
                                                   "\" in " + path);
               }
               file.current_context = *name;
               SaveConfig(path, file);
               std::cout << "current context: " << *name << "\n";
             });
    v->add_option("name", *name, "context name")->required();
  }
  {
    auto name = std::make_shared<std::string>();
    auto c = std::make_shared<Context>();
    auto current = std::make_shared<bool>(false);
    CLI::App* v = Verb(
        cli, g, "set-context",
        "Create or change a context (only the values given change)",
        "  jalonctl config set-context local --token-file ~/jalon/admin.token\n"
        "  jalonctl config set-context prod --roadmap 10.0.0.5:50051 "
        "--feedback 10.0.0.5:50052 --reporting 10.0.0.5:50053 --use",
        [&o, name, c, current] {
          std::string path = ConfigPath(o.flags.config_path);
          ConfigFile file = LoadConfig(path);
          Context& ctx = file.contexts[*name];
          if (!c->roadmap_address.empty())
            ctx.roadmap_address = c->roadmap_address;
          if (!c->feedback_address.empty())
            ctx.feedback_address = c->feedback_address;
          if (!c->reporting_address.empty())
            ctx.reporting_address = c->reporting_address;
          if (!c->token_file.empty()) {
            // Kept absolute: a context is used from any directory.
            ctx.token_file =
                c->token_file.rfind("~/", 0) == 0
                    ? c->token_file
                    : std::filesystem::absolute(c->token_file).string();
          }
          if (*current || file.current_context.empty())
            file.current_context = *name;
          SaveConfig(path, file);
          std::cout << "context " << *name << " saved in " << path << "\n";
        });
    v->add_option("name", *name, "context name")->required();
    v->add_option("--roadmap", c->roadmap_address, "roadmap service host:port");
    v->add_option("--feedback", c->feedback_address,
                  "feedback service host:port");
    v->add_option("--reporting", c->reporting_address,
                  "reporting service host:port");
    v->add_option("--token-file", c->token_file, "file holding the token");
    v->add_flag("--use", *current, "also make it the current context");
  }
}

}  // namespace jalon::ctl
