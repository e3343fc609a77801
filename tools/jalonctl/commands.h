// Building blocks of jalonctl's commands and the registration functions of
// each command file. A command's callback only records what to run; main()
// runs it after parsing, so parse errors and run errors stay apart.
#ifndef JALON_TOOLS_JALONCTL_COMMANDS_H_
#define JALON_TOOLS_JALONCTL_COMMANDS_H_

#include <google/protobuf/field_mask.pb.h>
#include <google/protobuf/message.h>

#include <CLI/CLI.hpp>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <utility>
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
  std::map<std::string, std::string> values_;  // field -> value given
  std::map<std::string, std::string> flags_;   // field -> its flag, for errors
};

// The resource a create sends: the -f file (if any), then the flags.
void BuildFromInput(const std::string& file, const FieldFlags& flags,
                    google::protobuf::Message* resource);
// An update: applies the -f file's fields and the flags to the fetched
// `current` and returns the update mask: the flags given, and the file's
// fields whose value differs from `current` (so a file saved by `get -o
// yaml` and edited names only what was edited). A non-empty etag in the
// file becomes the expected etag. Usage error when neither a file nor a
// flag is given; an empty mask when the file changes nothing.
google::protobuf::FieldMask ApplyUpdate(const std::string& file,
                                        const FieldFlags& flags,
                                        google::protobuf::Message* current);

// An RPC of `Stub`, as its generated blocking method.
template <typename Stub, typename Req, typename Resp>
using Rpc = grpc::Status (Stub::*)(grpc::ClientContext*, const Req&, Resp*);

// One unary call with `token` (empty: the session's) and the session's
// deadline; throws CliError on failure, naming `what`.
template <typename Stub, typename Req, typename Resp>
Resp CallAs(Session& session, const std::string& token, Stub& stub,
            Rpc<Stub, Req, Resp> rpc, const Req& request,
            const std::string& what) {
  Resp response;
  auto ctx = token.empty() ? session.Ctx() : session.CtxAs(token);
  CheckRpc((stub.*rpc)(ctx.get(), request, &response), what);
  return response;
}

// The same with the session's token.
template <typename Stub, typename Req, typename Resp>
Resp Call(Session& session, Stub& stub, Rpc<Stub, Req, Resp> rpc,
          const Req& request, const std::string& what) {
  return CallAs(session, "", stub, rpc, request, what);
}

// Every page of a List (following next_page_token), at most `limit` items
// (0: all). `items` picks the repeated field of a response.
template <typename Item, typename Stub, typename Req, typename Resp,
          typename Items>
std::vector<Item> FetchList(Session& session, Stub& stub,
                            Rpc<Stub, Req, Resp> rpc, Req request, Items items,
                            const std::string& what, int limit) {
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

// Fresh values for one verb; its callback keeps them alive.
std::shared_ptr<Args> NewArgs();

// The verb's required positional argument `id`.
void AddIdArgument(CLI::App* verb, Args* args, const std::string& what);

// --roadmap ID, setting the created resource's roadmap_id.
void InRoadmap(CLI::App* verb, Args* args);

// The message field `name` of `message`: the resource a request or a
// response carries (GetActionResponse.action, UpdateActionRequest.action).
const google::protobuf::Message& ResourceIn(
    const google::protobuf::Message& message, const std::string& name);
google::protobuf::Message* MutableResourceIn(google::protobuf::Message* message,
                                             const std::string& name);

// The get, create and update verbs of one resource, the same for every
// resource whose requests and responses carry it in a field named after it
// (CreateEcosystemRequest.ecosystem, GetEcosystemResponse.ecosystem...):
//   get ID                  one Get, the resource printed;
//   create [-f F] [flags]   the file, then the flags; a fresh request id
//                           unless --request-id is given;
//   update ID [-f F] [flags] [--etag E]
//                           a Get, the changes applied to what it returned,
//                           an Update whose mask lists what was given and
//                           whose etag is the one just read unless --etag.
template <typename Stub>
class ResourceVerbs {
 public:
  // `field`: the field carrying the resource; `noun`: its name in help and
  // errors ("get organisation: ..."); `add_fields`: the flags that set its
  // fields, for create and update (FieldFlags). `columns` must outlive the
  // command line's run.
  ResourceVerbs(Cli& cli, CLI::App* group, Stub& (Session::*stub)(),
                std::string field, std::string noun,
                const std::vector<Column>& columns,
                std::function<void(CLI::App*, Args*)> add_fields = nullptr)
      : cli_(cli),
        group_(group),
        add_fields_(std::move(add_fields)),
        target_{cli.session, stub, std::move(field), std::move(noun),
                &columns} {}

  template <typename Req, typename Resp>
  CLI::App* Get(Rpc<Stub, Req, Resp> rpc, const std::string& help,
                const std::string& examples) {
    auto a = NewArgs();
    CLI::App* v =
        Verb(cli_, group_, "get", help, examples, [t = target_, a, rpc] {
          Req req;
          req.set_id(a->id);
          t.Print(t.Call(rpc, req, "get " + t.noun));
        });
    AddIdArgument(v, a.get(), target_.noun + " id");
    return v;
  }

  // `what` names the call in errors ("record measurement");
  // `create_fields` adds flags for fields that only a create sets
  // (--roadmap...).
  template <typename Req, typename Resp>
  CLI::App* Create(
      Rpc<Stub, Req, Resp> rpc, const std::string& what,
      const std::string& help, const std::string& examples,
      const std::function<void(CLI::App*, Args*)>& create_fields = nullptr) {
    auto a = NewArgs();
    CLI::App* v = Verb(
        cli_, group_, "create", help, examples, [t = target_, a, rpc, what] {
          Req req;
          req.set_request_id(a->request_id.empty() ? NewRequestId()
                                                   : a->request_id);
          BuildFromInput(a->file, a->fields, MutableResourceIn(&req, t.field));
          t.Print(t.Call(rpc, req, what));
        });
    AddFileOption(v, a.get());
    v->add_option("--request-id", a->request_id,
                  "idempotency key of this create");
    if (create_fields) create_fields(v, a.get());
    if (add_fields_) add_fields_(v, a.get());
    return v;
  }

  template <typename GetReq, typename GetResp, typename Req, typename Resp>
  CLI::App* Update(Rpc<Stub, GetReq, GetResp> get, Rpc<Stub, Req, Resp> rpc,
                   const std::string& help, const std::string& examples) {
    auto a = NewArgs();
    CLI::App* v = Verb(
        cli_, group_, "update", help, examples, [t = target_, a, get, rpc] {
          GetReq read;
          read.set_id(a->id);
          Req req;
          google::protobuf::Message* resource =
              MutableResourceIn(&req, t.field);
          resource->CopyFrom(
              ResourceIn(t.Call(get, read, "get " + t.noun), t.field));
          *req.mutable_update_mask() =
              ApplyUpdate(a->file, a->fields, resource);
          if (req.update_mask().paths().empty()) {
            std::cerr << t.noun << " " << a->id << " unchanged: " << a->file
                      << " changes nothing\n";
            return;
          }
          if (!a->etag.empty()) SetFieldFromText(resource, "etag", a->etag);
          t.Print(t.Call(rpc, req, "update " + t.noun));
        });
    AddIdArgument(v, a.get(), target_.noun + " id");
    AddFileOption(v, a.get());
    v->add_option("--etag", a->etag,
                  "expected etag (default: the -f file's, else the one "
                  "just read)");
    if (add_fields_) add_fields_(v, a.get());
    return v;
  }

 private:
  // What a verb's run needs: copied into it, since the run comes after
  // this object is gone.
  struct Target {
    Session* session;
    Stub& (Session::*stub)();
    std::string field;
    std::string noun;
    const std::vector<Column>* columns;

    template <typename Req, typename Resp>
    Resp Call(Rpc<Stub, Req, Resp> rpc, const Req& req,
              const std::string& what) const {
      return ctl::Call(*session, (session->*stub)(), rpc, req, what);
    }
    void Print(const google::protobuf::Message& response) const {
      session->printer().One(ResourceIn(response, field), *columns);
    }
  };

  Cli& cli_;
  CLI::App* group_;
  std::function<void(CLI::App*, Args*)> add_fields_;
  Target target_;
};

// Registration, one per command file.
void RegisterConfigCommands(Cli& cli);
void RegisterRoadmapCommands(Cli& cli);
void RegisterFeedbackCommands(Cli& cli);
void RegisterReportingCommands(Cli& cli);
void RegisterImportCommands(Cli& cli);
void RegisterCompletionCommand(Cli& cli);

}  // namespace jalon::ctl

#endif  // JALON_TOOLS_JALONCTL_COMMANDS_H_
