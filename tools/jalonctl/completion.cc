// jalonctl completion bash: a completion script generated from the parser
// itself, so it never falls behind the commands.
#include <algorithm>
#include <iostream>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_join.h"
#include "tools/jalonctl/commands.h"

namespace jalon::ctl {
namespace {

// Every command's words (subcommands, aliases, options), keyed by its path
// from the root ("jalonctl", "jalonctl action", ...): bash refuses an empty
// key in an associative array. `o_file`: the paths where -o names a file.
void Walk(const CLI::App* app, const std::string& path,
          std::map<std::string, std::vector<std::string>>* words,
          std::vector<std::string>* o_file) {
  std::vector<std::string>& w = (*words)[path];
  for (const CLI::App* sub : app->get_subcommands({})) {
    w.push_back(sub->get_name());
    for (const std::string& alias : sub->get_aliases()) w.push_back(alias);
    Walk(sub, path + " " + sub->get_name(), words, o_file);
  }
  for (const CLI::Option* opt : app->get_options({})) {
    for (const std::string& l : opt->get_lnames()) w.push_back("--" + l);
    const auto& shorts = opt->get_snames();
    if (app->get_parent() != nullptr &&
        std::find(shorts.begin(), shorts.end(), "o") != shorts.end()) {
      o_file->push_back(path);
    }
  }
}

std::string Script(const CLI::App* root) {
  std::map<std::string, std::vector<std::string>> words;
  std::vector<std::string> o_file;
  const std::string top =
      root->get_name().empty() ? "jalonctl" : root->get_name();
  Walk(root, top, &words, &o_file);
  // Global options work after any subcommand (fallthrough).
  std::vector<std::string> global;
  for (const CLI::Option* opt : root->get_options({})) {
    for (const std::string& l : opt->get_lnames()) global.push_back("--" + l);
  }
  std::string out =
      "# bash completion for jalonctl; load with\n"
      "#   source <(jalonctl completion bash)\n"
      "declare -A _jalonctl_words=(\n";
  for (const auto& [path, w] : words) {
    std::vector<std::string> all = w;
    if (path != top) all.insert(all.end(), global.begin(), global.end());
    out += "  [\"" + path + "\"]=\"" + absl::StrJoin(all, " ") + "\"\n";
  }
  out += ")\ndeclare -A _jalonctl_o_file=(\n";
  for (const auto& path : o_file) out += "  [\"" + path + "\"]=1\n";
  out +=
      ")\n"
      "_jalonctl() {\n"
      "  local cur prev path w i candidate\n"
      "  cur=\"${COMP_WORDS[COMP_CWORD]}\"\n"
      "  prev=\"${COMP_WORDS[COMP_CWORD-1]}\"\n"
      "  path=\"" +
      top +
      "\"\n"
      "  for ((i=1; i<COMP_CWORD; i++)); do\n"
      "    w=\"${COMP_WORDS[i]}\"\n"
      "    [[ \"$w\" == -* ]] && continue\n"
      "    candidate=\"$path $w\"\n"
      "    if [[ -n \"${_jalonctl_words[$candidate]+x}\" ]]; then "
      "path=\"$candidate\"; fi\n"
      "  done\n"
      "  case \"$prev\" in\n"
      "    -f|--file|--config|--token-file|--secret-file|--output-file|"
      "--output-dir)\n"
      "      COMPREPLY=( $(compgen -f -- \"$cur\") ); return ;;\n"
      "    -o|--output)\n"
      "      if [[ \"$prev\" == -o && -n \"${_jalonctl_o_file[$path]+x}\" ]]; "
      "then\n"
      "        COMPREPLY=( $(compgen -f -- \"$cur\") )\n"
      "      else\n"
      "        COMPREPLY=( $(compgen -W \"table json yaml csv\" -- \"$cur\") "
      ")\n"
      "      fi\n"
      "      return ;;\n"
      "  esac\n"
      "  COMPREPLY=( $(compgen -W \"${_jalonctl_words[$path]}\" -- \"$cur\") "
      ")\n"
      "}\n"
      "complete -o default -F _jalonctl jalonctl\n";
  return out;
}

}  // namespace

void RegisterCompletionCommand(Cli& cli) {
  CLI::App* g = Group(cli.app, "completion", "Shell completion scripts");
  const CLI::App* root = cli.app;
  Verb(cli, g, "bash", "Print the bash completion script",
       "  source <(jalonctl completion bash)\n"
       "  jalonctl completion bash > /etc/bash_completion.d/jalonctl",
       [root] { std::cout << Script(root); });
}

}  // namespace jalon::ctl
