// Building blocks of jalonctl's commands and the registration functions of
// each command file. A command's callback only records what to run; main()
// runs it after parsing, so parse errors and run errors stay apart.
#ifndef JALON_TOOLS_JALONCTL_COMMANDS_H_
#define JALON_TOOLS_JALONCTL_COMMANDS_H_

#include <google/protobuf/field_mask.pb.h>
#include <google/protobuf/message.h>

#include <CLI/CLI.hpp>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "tools/jalonctl/fields.h"
#include "tools/jalonctl/output.h"
#include "tools/jalonctl/session.h"

namespace jalon::ctl {

// Where commands are registered: the parser, the global options and the
// session, and the action chosen by the command line.
struct Cli {
  CLI::App* app = nullptr;
  GlobalOptions* options = nullptr;
  Session* session = nullptr;
  std::function<void()> action;
};

// A resource group ("action") whose verbs are subcommands.
CLI::App* Group(CLI::App* parent, const std::string& name,
                const std::string& description);
// A verb: `examples` are shown by --help; `run` is what it does.
CLI::App* Verb(Cli& cli, CLI::App* group, const std::string& name,
               const std::string& description, const std::string& examples,
               std::function<void()> run);

// Flags that set fields of a resource ("--due" -> due_date), for create and
// update. Remembers which were given, for the update mask.
class FieldFlags {
 public:
  // --<flag> VALUE sets `field`.
  FieldFlags& Add(CLI::App* app, const std::string& flag,
                  const std::string& field, const std::string& help);
  void Apply(google::protobuf::Message* message) const;
  std::set<std::string> given() const;

 private:
  std::map<std::string, std::string> values_;
};

// The resource a create sends: the -f file (if any), then the flags.
void BuildFromInput(const std::string& file, const FieldFlags& flags,
                    google::protobuf::Message* resource);
// An update: applies the -f file's fields and the flags to the fetched
// `current` and returns the update mask of what was given. Usage error when
// nothing was.
google::protobuf::FieldMask ApplyUpdate(const std::string& file,
                                        const FieldFlags& flags,
                                        google::protobuf::Message* current);

// One unary call with the session's token and deadline; throws CliError on
// failure, naming `what`.
template <typename Stub, typename Req, typename Resp>
Resp Call(Session& session, Stub& stub,
          grpc::Status (Stub::*rpc)(grpc::ClientContext*, const Req&, Resp*),
          const Req& request, const std::string& what) {
  Resp response;
  auto ctx = session.Ctx();
  CheckRpc((stub.*rpc)(ctx.get(), request, &response), what);
  return response;
}

// Every page of a List (following next_page_token), at most `limit` items
// (0: all). `items` picks the repeated field of a response.
template <typename Item, typename Stub, typename Req, typename Resp,
          typename Items>
std::vector<Item> FetchList(Session& session, Stub& stub,
                            grpc::Status (Stub::*rpc)(grpc::ClientContext*,
                                                      const Req&, Resp*),
                            Req request, Items items, const std::string& what,
                            int limit) {
  std::vector<Item> out;
  session.Paginate(
      [&](const std::string& token, std::string* next) {
        request.set_page_token(token);
        Resp r = Call(session, stub, rpc, request, what);
        for (const auto& x : items(r)) out.push_back(x);
        *next = r.next_page_token();
        return static_cast<int>(items(r).size());
      },
      limit);
  if (limit > 0 && static_cast<int>(out.size()) > limit) out.resize(limit);
  return out;
}

// The same call with another principal's token (empty: the session's).
template <typename Stub, typename Req, typename Resp>
Resp CallAs(Session& session, const std::string& token, Stub& stub,
            grpc::Status (Stub::*rpc)(grpc::ClientContext*, const Req&, Resp*),
            const Req& request, const std::string& what) {
  Resp response;
  auto ctx = token.empty() ? session.Ctx() : session.CtxAs(token);
  CheckRpc((stub.*rpc)(ctx.get(), request, &response), what);
  return response;
}

// The values a verb's flags and arguments fill; each verb uses a few.
struct Args {
  std::string id, id2, file, request_id, etag, reason, roadmap, ecosystem,
      organization, kind, status, query, order, text, contact, date, format,
      language, output_file, output_dir, cursor, period;
  std::vector<std::string> ids, kinds, statuses;
  bool flag = false, flag2 = false;
  FieldFlags fields;
};

// Adds -f/--file (the resource as YAML or JSON).
void AddFileOption(CLI::App* verb, Args* args);

// A fresh request id for a create.
std::string NewRequestId();

// Registration, one per command file.
void RegisterConfigCommands(Cli& cli);
void RegisterRoadmapCommands(Cli& cli);
void RegisterFeedbackCommands(Cli& cli);
void RegisterReportingCommands(Cli& cli);
void RegisterImportCommands(Cli& cli);
void RegisterCompletionCommand(Cli& cli);

}  // namespace jalon::ctl

#endif  // JALON_TOOLS_JALONCTL_COMMANDS_H_
