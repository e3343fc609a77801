#include "tools/jalonctl/commands.h"
namespace jalon::ctl {
void RegisterImportCommands(Cli&) {}
}  // namespace jalon::ctl
