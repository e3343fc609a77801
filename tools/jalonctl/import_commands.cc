// jalonctl import / export: a whole roadmap in one file (docs/cli.md).
#include <unistd.h>

#include <fstream>
#include <iostream>

#include "tools/jalonctl/commands.h"
#include "tools/jalonctl/import_export.h"
#include "tools/jalonctl/import_file.h"

namespace jalon::ctl {
namespace {

// An export is a backup: it is written whatever the server holds. What
// its own import would refuse (two organisations of one name, an action
// whose party does not co-pilot the roadmap...) is said now, on stderr,
// rather than on the day the backup is needed.
void WarnIfNotImportable(const std::string& text, const std::string& where) {
  std::vector<std::string> errors;
  ParseImportFile(where, text, &errors);
  if (errors.empty()) return;
  std::cerr << "warning: jalonctl import would refuse this export ("
            << errors.size() << " problem" << (errors.size() == 1 ? "" : "s")
            << "); fix them on the server, or in the file before importing "
               "it:\n";
  for (const auto& e : errors) std::cerr << "warning: " << e << "\n";
}

}  // namespace

void RegisterImportCommands(Cli& cli) {
  Session& s = *cli.session;
  {
    auto a = NewArgs();
    CLI::App* v = Verb(
        cli, cli.app, "import",
        "Import a whole roadmap from YAML or JSON; re-importing updates what "
        "changed and creates nothing twice",
        "  jalonctl import examples/roadmap-2016.yaml --dry-run\n"
        "  jalonctl import examples/roadmap-2016.yaml\n"
        "  jalonctl export --roadmap 01J... > backup.yaml && jalonctl import "
        "backup.yaml",
        [&s, a] {
          std::string text =
              a->file == "-"
                  ? std::string(std::istreambuf_iterator<char>(std::cin), {})
                  : ReadTextFile(a->file);
          std::vector<std::string> errors;
          ImportFile file = ParseImportFile(a->file, text, &errors);
          if (!errors.empty()) {
            std::string msg;
            for (const auto& e : errors) msg += "error: " + e + "\n";
            msg += "nothing was imported (" + std::to_string(errors.size()) +
                   " problem" + (errors.size() == 1 ? "" : "s") + ")";
            throw CliError(kExitInvalid, msg);
          }
          ImportOptions options;
          options.dry_run = a->flag;
          options.progress = !a->flag && ::isatty(STDERR_FILENO) && !a->flag2;
          ImportSummary sum = RunImport(s, file, options, std::cout);
          std::cout << (options.dry_run ? "dry run: " : "") << sum.created
                    << (options.dry_run ? " to create, " : " created, ")
                    << sum.updated
                    << (options.dry_run ? " to update, " : " updated, ")
                    << sum.unchanged << " unchanged, " << sum.warnings
                    << " warnings\n";
        });
    v->add_option("file", a->file, "YAML or JSON file (- reads stdin)")
        ->required();
    v->add_flag(
        "--dry-run", a->flag,
        "validate and print what would be created or changed; touch nothing");
    v->add_flag("--no-progress", a->flag2,
                "no progress bar even on a terminal");
  }
  {
    auto a = NewArgs();
    CLI::App* v = Verb(
        cli, cli.app, "export",
        "Export a roadmap and everything in it in the import format",
        "  jalonctl export --roadmap 01J... > roadmap.yaml\n"
        "  jalonctl export --roadmap 01J... --output-file roadmap.yaml",
        [&s, a] {
          // The import format is YAML, whatever -o says: refuse -o json or
          // csv rather than write YAML under that name.
          if (s.printer().format() == Format::kJson ||
              s.printer().format() == Format::kCsv) {
            UsageError(
                "export writes the import format (YAML); -o json and -o csv "
                "do not apply");
          }
          std::string text = RunExport(s, a->roadmap);
          const bool to_stdout =
              a->output_file.empty() || a->output_file == "-";
          if (to_stdout) {
            std::cout << text;
          } else {
            std::ofstream out(a->output_file, std::ios::trunc);
            out << text;
            if (!out) {
              throw CliError(kExitOther,
                             "error: cannot write " + a->output_file);
            }
          }
          WarnIfNotImportable(text, to_stdout ? "<stdout>" : a->output_file);
        });
    v->add_option("--roadmap", a->roadmap, "roadmap id")->required();
    v->add_option("--output-file", a->output_file,
                  "write here instead of stdout");
  }
}

}  // namespace jalon::ctl
