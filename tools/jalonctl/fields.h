// Protobuf messages seen as text: reading a field as a display string,
// setting a field from a flag's value, JSON and YAML conversions, enum names
// without their prefix. Pure functions over protobuf reflection; thread-safe.
#ifndef JALON_TOOLS_JALONCTL_FIELDS_H_
#define JALON_TOOLS_JALONCTL_FIELDS_H_

#include <google/protobuf/descriptor.h>
#include <google/protobuf/message.h>
#include <yaml-cpp/yaml.h>

#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "jalon/common/v1/common.pb.h"

namespace jalon::ctl {

// "ACTION_STATUS_IN_PROGRESS" -> "IN_PROGRESS".
std::string ShortEnumName(const google::protobuf::EnumValueDescriptor* value);
// Parses an enum value given as its short or full name, any case, '-' for
// '_' ("in-progress"). Throws CliError (usage) listing the choices.
int ParseEnum(const google::protobuf::EnumDescriptor* type,
              const std::string& text, const std::string& what);
// The short names of an enum's values, UNSPECIFIED excluded.
std::vector<std::string> EnumChoices(
    const google::protobuf::EnumDescriptor* type);

// "YYYY-MM-DD" -> Date; throws CliError (usage) naming `what`.
common::v1::Date ParseDate(const std::string& text, const std::string& what);
std::string FormatDateOrEmpty(const common::v1::Date& d);
// Today where jalonctl runs (the local time zone: TZ, else /etc/localtime).
common::v1::Date Today();

// A field for display: dotted path ("audit.create_time"), enums short,
// dates YYYY-MM-DD, timestamps RFC 3339, repeated values joined by ",".
std::string FieldText(const google::protobuf::Message& message,
                      const std::string& path);

// Sets a top-level field from text (as a flag gives it). Repeated scalar
// fields take comma-separated values. Throws CliError (usage) naming
// `flag` (default: "--<field>").
void SetFieldFromText(google::protobuf::Message* message,
                      const std::string& field, const std::string& text,
                      const std::string& flag = "");

// The protobuf JSON mapping, proto field names, on one line or indented.
std::string ToJson(const google::protobuf::Message& message, bool pretty);
// Parses the protobuf JSON mapping; throws CliError (exit 6) naming `what`.
void FromJson(const std::string& json, google::protobuf::Message* message,
              const std::string& what);

// YAML (or JSON, a subset) -> JSON text; plain scalars that look like
// numbers, booleans or null stay unquoted.
std::string YamlToJson(const YAML::Node& node);
// JSON text -> YAML block text.
std::string JsonToYaml(const std::string& json);
// `json` with each escaped surrogate pair ("\ud83d\ude00") written as the
// character's UTF-8 instead; every other escape is left as it is.
std::string JoinSurrogateEscapes(std::string_view json);
// Whether `text` starts (after blanks) like a JSON object or array.
bool LooksLikeJson(std::string_view text);

// Reads a YAML or JSON file into a message (protobuf JSON mapping); returns
// the top-level keys the file set. Throws CliError.
std::set<std::string> ReadMessageFile(const std::string& path,
                                      google::protobuf::Message* message);

// Copies the named top-level fields from `from` to `to`.
void CopyFields(const google::protobuf::Message& from,
                google::protobuf::Message* to,
                const std::set<std::string>& fields);

// Reads a whole file; throws CliError.
std::string ReadTextFile(const std::string& path);

// `s` with every byte that is not printable ASCII written \xNN: safe to
// show in an error about text in an unknown encoding.
std::string EscapedBytes(std::string_view s);

// Where the text of a file is not UTF-8 (its first such byte), for an
// error naming the file: nullopt when it all is.
struct Utf8Problem {
  size_t line = 0;   // from 1
  std::string what;  // "byte 0xE9 is not UTF-8 text; save the file ..."
};
std::optional<Utf8Problem> Utf8ProblemOfFile(std::string_view text);

}  // namespace jalon::ctl

#endif  // JALON_TOOLS_JALONCTL_FIELDS_H_
