#include "tools/jalonctl/commands.h"

#include <google/protobuf/reflection.h>
#include <google/protobuf/util/message_differencer.h>

#include <algorithm>
#include <stdexcept>

#include "services/common/ids.h"
#include "tools/jalonctl/errors.h"
#include "tools/jalonctl/import_file.h"

namespace jalon::ctl {

CLI::App* Group(CLI::App* parent, const std::string& name,
                const std::string& description) {
  CLI::App* g = parent->add_subcommand(name, description);
  g->require_subcommand(1);
  std::string path = name;
  for (const CLI::App* p = parent; p != nullptr; p = p->get_parent()) {
    path = p->get_name() + " " + path;
  }
  g->footer("\nRun '" + path +
            " <verb> --help' for a verb's flags and examples.");
  return g;
}

CLI::App* Verb(Cli& cli, CLI::App* group, const std::string& name,
               const std::string& description, const std::string& examples,
               std::function<void()> run) {
  CLI::App* v = group->add_subcommand(name, description);
  if (!examples.empty()) v->footer("\nExamples:\n" + examples);
  Cli* c = &cli;
  v->callback([c, run = std::move(run)] { c->action = run; });
  return v;
}

FieldFlags& FieldFlags::Add(CLI::App* app, const std::string& flag,
                            const std::string& field, const std::string& help) {
  flags_[field] = "--" + flag;
  app->add_option_function<std::string>(
      "--" + flag,
      [this, field](const std::string& value) { values_[field] = value; },
      help);
  return *this;
}

void FieldFlags::Apply(google::protobuf::Message* message) const {
  for (const auto& [field, value] : values_) {
    SetFieldFromText(message, field, value, flags_.at(field));
  }
}

std::set<std::string> FieldFlags::given() const {
  std::set<std::string> out;
  for (const auto& [field, value] : values_) out.insert(field);
  return out;
}

void BuildFromInput(const std::string& file, const FieldFlags& flags,
                    google::protobuf::Message* resource) {
  if (!file.empty()) ReadMessageFile(file, resource);
  flags.Apply(resource);
}

google::protobuf::FieldMask ApplyUpdate(const std::string& file,
                                        const FieldFlags& flags,
                                        google::protobuf::Message* current) {
  if (file.empty() && flags.given().empty()) {
    UsageError("nothing to update: give -f FILE or flags");
  }
  std::set<std::string> fields;
  if (!file.empty()) {
    std::unique_ptr<google::protobuf::Message> from(current->New());
    fields = ReadMessageFile(file, from.get());
    const google::protobuf::Descriptor* d = current->GetDescriptor();
    // A file saved by `get -o yaml` was read at its etag: an edit of it
    // must not overwrite a change made since (ABORTED instead).
    const google::protobuf::FieldDescriptor* etag = d->FindFieldByName("etag");
    if (fields.count("etag") && etag != nullptr &&
        !from->GetReflection()->GetString(*from, etag).empty()) {
      current->GetReflection()->SetString(
          current, etag, from->GetReflection()->GetString(*from, etag));
    }
    for (const char* ignored : {"id", "etag", "audit"}) fields.erase(ignored);
    // Only what the file changes: a file saved by `get -o yaml` holds every
    // field, those the server computes (status, progress, late...) too.
    std::erase_if(fields, [&](const std::string& name) {
      const google::protobuf::FieldDescriptor* f = d->FindFieldByName(name);
      return f != nullptr &&
             google::protobuf::util::MessageDifferencer().CompareWithFields(
                 *from, *current, {f}, {f});
    });
    CopyFields(*from, current, fields);
  }
  // The import's key tags (jalon-key-...) are how it finds an action
  // again: --tags replaces the user's tags, not those, while there is room.
  const google::protobuf::FieldDescriptor* tags =
      current->GetDescriptor()->FindFieldByName("tags");
  const bool tagged =
      tags != nullptr && tags->is_repeated() &&
      tags->type() == google::protobuf::FieldDescriptor::TYPE_STRING;
  const auto* r = current->GetReflection();
  const std::vector<std::string> before =
      tagged ? std::vector<std::string>(
                   r->GetRepeatedFieldRef<std::string>(*current, tags).begin(),
                   r->GetRepeatedFieldRef<std::string>(*current, tags).end())
             : std::vector<std::string>();
  flags.Apply(current);
  for (const std::string& f : flags.given()) fields.insert(f);
  if (tagged && fields.count("tags")) {
    for (const std::string& t : before) {
      const auto now = r->GetRepeatedFieldRef<std::string>(*current, tags);
      if (t.rfind(kKeyTagPrefix, 0) == 0 &&
          std::find(now.begin(), now.end(), t) == now.end() &&
          now.size() < kMaxActionTags) {
        r->AddString(current, tags, t);
      }
    }
  }
  google::protobuf::FieldMask mask;
  for (const std::string& f : fields) mask.add_paths(f);
  return mask;
}

void AddFileOption(CLI::App* verb, Args* args) {
  verb->add_option("-f,--file", args->file,
                   "the resource as YAML or JSON (protobuf JSON mapping); - "
                   "reads stdin");
}

std::string NewRequestId() { return "jalonctl-" + NewUlid(); }

std::shared_ptr<Args> NewArgs() { return std::make_shared<Args>(); }

void AddIdArgument(CLI::App* verb, Args* args, const std::string& what) {
  verb->add_option("id", args->id, what)->required();
}

void InRoadmap(CLI::App* verb, Args* args) {
  args->fields.Add(verb, "roadmap", "roadmap_id", "roadmap id");
}

namespace {

// The message field `name` of `type`; a misnamed field is a bug of a
// command's registration, caught by the first run of its verb.
const google::protobuf::FieldDescriptor& MessageField(
    const google::protobuf::Descriptor& type, const std::string& name) {
  const google::protobuf::FieldDescriptor* f = type.FindFieldByName(name);
  if (f == nullptr || f->is_repeated() ||
      f->cpp_type() != google::protobuf::FieldDescriptor::CPPTYPE_MESSAGE) {
    throw std::logic_error(type.full_name() + " has no message field " + name);
  }
  return *f;
}

}  // namespace

const google::protobuf::Message& ResourceIn(
    const google::protobuf::Message& message, const std::string& name) {
  return message.GetReflection()->GetMessage(
      message, &MessageField(*message.GetDescriptor(), name));
}

google::protobuf::Message* MutableResourceIn(google::protobuf::Message* message,
                                             const std::string& name) {
  return message->GetReflection()->MutableMessage(
      message, &MessageField(*message->GetDescriptor(), name));
}

}  // namespace jalon::ctl
