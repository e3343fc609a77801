#include "tools/jalonctl/fields.h"

#include <google/protobuf/timestamp.pb.h>
#include <google/protobuf/util/json_util.h>
#include <google/protobuf/util/time_util.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "services/common/dates.h"
#include "services/common/requests.h"
#include "tools/jalonctl/errors.h"

namespace jalon::ctl {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::EnumDescriptor;
using google::protobuf::EnumValueDescriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;

std::string EnumPrefix(const EnumDescriptor* type) {
  const EnumValueDescriptor* zero = type->FindValueByNumber(0);
  if (zero == nullptr) return "";
  const std::string& n = zero->name();
  const std::string suffix = "UNSPECIFIED";
  if (n.size() > suffix.size() &&
      n.compare(n.size() - suffix.size(), suffix.size(), suffix) == 0) {
    return n.substr(0, n.size() - suffix.size());
  }
  return "";
}

bool IsDate(const Descriptor* d) {
  return d->full_name() == "jalon.common.v1.Date";
}
bool IsTimestamp(const Descriptor* d) {
  return d->full_name() == "google.protobuf.Timestamp";
}

std::string FormatDouble(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.15g", v);
  return buf;
}

std::string ScalarText(const Message& m, const FieldDescriptor* f, int index) {
  const Reflection* r = m.GetReflection();
  bool rep = f->is_repeated();
  switch (f->cpp_type()) {
    case FieldDescriptor::CPPTYPE_STRING:
      return rep ? r->GetRepeatedString(m, f, index) : r->GetString(m, f);
    case FieldDescriptor::CPPTYPE_INT32:
      return std::to_string(rep ? r->GetRepeatedInt32(m, f, index)
                                : r->GetInt32(m, f));
    case FieldDescriptor::CPPTYPE_INT64:
      return std::to_string(rep ? r->GetRepeatedInt64(m, f, index)
                                : r->GetInt64(m, f));
    case FieldDescriptor::CPPTYPE_UINT32:
      return std::to_string(rep ? r->GetRepeatedUInt32(m, f, index)
                                : r->GetUInt32(m, f));
    case FieldDescriptor::CPPTYPE_UINT64:
      return std::to_string(rep ? r->GetRepeatedUInt64(m, f, index)
                                : r->GetUInt64(m, f));
    case FieldDescriptor::CPPTYPE_DOUBLE:
      return FormatDouble(rep ? r->GetRepeatedDouble(m, f, index)
                              : r->GetDouble(m, f));
    case FieldDescriptor::CPPTYPE_FLOAT:
      return FormatDouble(rep ? r->GetRepeatedFloat(m, f, index)
                              : r->GetFloat(m, f));
    case FieldDescriptor::CPPTYPE_BOOL:
      return (rep ? r->GetRepeatedBool(m, f, index) : r->GetBool(m, f))
                 ? "true"
                 : "false";
    case FieldDescriptor::CPPTYPE_ENUM:
      return ShortEnumName(rep ? r->GetRepeatedEnum(m, f, index)
                               : r->GetEnum(m, f));
    case FieldDescriptor::CPPTYPE_MESSAGE: {
      const Message& sub =
          rep ? r->GetRepeatedMessage(m, f, index) : r->GetMessage(m, f);
      if (IsDate(f->message_type())) {
        return FormatDateOrEmpty(static_cast<const common::v1::Date&>(sub));
      }
      if (IsTimestamp(f->message_type())) {
        const auto& ts = static_cast<const google::protobuf::Timestamp&>(sub);
        if (ts.seconds() == 0 && ts.nanos() == 0) return "";
        google::protobuf::Timestamp whole = ts;
        whole.set_nanos(0);
        return google::protobuf::util::TimeUtil::ToString(whole);
      }
      return ToJson(sub, false);
    }
  }
  return "";
}

}  // namespace

std::string ShortEnumName(const EnumValueDescriptor* value) {
  if (value == nullptr) return "";
  std::string prefix = EnumPrefix(value->type());
  const std::string& n = value->name();
  if (!prefix.empty() && n.rfind(prefix, 0) == 0)
    return n.substr(prefix.size());
  return n;
}

std::vector<std::string> EnumChoices(const EnumDescriptor* type) {
  std::vector<std::string> out;
  for (int i = 0; i < type->value_count(); ++i) {
    if (type->value(i)->number() == 0) continue;
    out.push_back(ShortEnumName(type->value(i)));
  }
  return out;
}

int ParseEnum(const EnumDescriptor* type, const std::string& text,
              const std::string& what) {
  std::string up = absl::AsciiStrToUpper(text);
  for (char& c : up) {
    if (c == '-') c = '_';
  }
  std::string prefix = EnumPrefix(type);
  for (const std::string& candidate : {up, prefix + up}) {
    const EnumValueDescriptor* v = type->FindValueByName(candidate);
    if (v != nullptr && v->number() != 0) return v->number();
  }
  UsageError(what + ": \"" + text + "\" is not one of " +
             absl::StrJoin(EnumChoices(type), ", "));
}

common::v1::Date ParseDate(const std::string& text, const std::string& what) {
  std::vector<std::string> parts = absl::StrSplit(text, '-');
  int y = 0, m = 0, d = 0;
  if (parts.size() != 3 || !absl::SimpleAtoi(parts[0], &y) ||
      !absl::SimpleAtoi(parts[1], &m) || !absl::SimpleAtoi(parts[2], &d)) {
    UsageError(what + ": \"" + text + "\" is not a date YYYY-MM-DD");
  }
  common::v1::Date date = MakeDate(y, m, d);
  if (!IsValidDate(date)) {
    UsageError(what + ": \"" + text + "\" is not a valid calendar date");
  }
  return date;
}

std::string FormatDateOrEmpty(const common::v1::Date& d) {
  return IsUnset(d) ? std::string() : FormatDate(d);
}

common::v1::Date Today() {
  return DateIn(std::chrono::system_clock::now(), absl::LocalTimeZone());
}

std::string FieldText(const Message& message, const std::string& path) {
  const Message* m = &message;
  std::vector<std::string> parts = absl::StrSplit(path, '.');
  for (size_t i = 0; i < parts.size(); ++i) {
    const FieldDescriptor* f = m->GetDescriptor()->FindFieldByName(parts[i]);
    if (f == nullptr) return "";
    const Reflection* r = m->GetReflection();
    if (i + 1 < parts.size()) {
      if (f->cpp_type() != FieldDescriptor::CPPTYPE_MESSAGE) return "";
      if (f->is_repeated()) {
        std::string rest;
        for (size_t k = i + 1; k < parts.size(); ++k) {
          rest += (k > i + 1 ? "." : "") + parts[k];
        }
        std::vector<std::string> values;
        for (int k = 0; k < r->FieldSize(*m, f); ++k) {
          values.push_back(FieldText(r->GetRepeatedMessage(*m, f, k), rest));
        }
        return absl::StrJoin(values, ",");
      }
      m = &r->GetMessage(*m, f);
      continue;
    }
    if (f->is_repeated()) {
      std::vector<std::string> values;
      for (int k = 0; k < r->FieldSize(*m, f); ++k) {
        values.push_back(ScalarText(*m, f, k));
      }
      return absl::StrJoin(values, ",");
    }
    if (f->has_presence() && !r->HasField(*m, f)) return "";
    return ScalarText(*m, f, 0);
  }
  return "";
}

void SetFieldFromText(Message* message, const std::string& field,
                      const std::string& text, const std::string& flag) {
  const FieldDescriptor* f = message->GetDescriptor()->FindFieldByName(field);
  if (f == nullptr) UsageError("unknown field " + field);
  const Reflection* r = message->GetReflection();
  const std::string what = flag.empty() ? "--" + field : flag;
  std::vector<std::string> values;
  if (f->is_repeated()) {
    r->ClearField(message, f);
    for (absl::string_view v : absl::StrSplit(text, ',', absl::SkipEmpty())) {
      values.emplace_back(absl::StripAsciiWhitespace(v));
    }
  } else {
    values.push_back(text);
  }
  for (const std::string& v : values) {
    bool rep = f->is_repeated();
    switch (f->cpp_type()) {
      case FieldDescriptor::CPPTYPE_STRING:
        rep ? r->AddString(message, f, v) : r->SetString(message, f, v);
        break;
      case FieldDescriptor::CPPTYPE_INT32: {
        int32_t n;
        if (!absl::SimpleAtoi(v, &n)) UsageError(what + ": not an integer");
        rep ? r->AddInt32(message, f, n) : r->SetInt32(message, f, n);
        break;
      }
      case FieldDescriptor::CPPTYPE_INT64: {
        int64_t n;
        if (!absl::SimpleAtoi(v, &n)) UsageError(what + ": not an integer");
        rep ? r->AddInt64(message, f, n) : r->SetInt64(message, f, n);
        break;
      }
      case FieldDescriptor::CPPTYPE_DOUBLE: {
        double n;
        if (!absl::SimpleAtod(v, &n)) UsageError(what + ": not a number");
        rep ? r->AddDouble(message, f, n) : r->SetDouble(message, f, n);
        break;
      }
      case FieldDescriptor::CPPTYPE_BOOL: {
        bool b;
        if (!absl::SimpleAtob(v, &b)) UsageError(what + ": not true/false");
        rep ? r->AddBool(message, f, b) : r->SetBool(message, f, b);
        break;
      }
      case FieldDescriptor::CPPTYPE_ENUM: {
        int n = ParseEnum(f->enum_type(), v, what);
        rep ? r->AddEnumValue(message, f, n) : r->SetEnumValue(message, f, n);
        break;
      }
      case FieldDescriptor::CPPTYPE_MESSAGE: {
        Message* sub =
            rep ? r->AddMessage(message, f) : r->MutableMessage(message, f);
        if (IsDate(f->message_type())) {
          static_cast<common::v1::Date*>(sub)->CopyFrom(ParseDate(v, what));
        } else if (IsTimestamp(f->message_type())) {
          auto* ts = static_cast<google::protobuf::Timestamp*>(sub);
          if (!google::protobuf::util::TimeUtil::FromString(v, ts)) {
            UsageError(what + ": \"" + v +
                       "\" is not an RFC 3339 time (2024-07-11T09:00:00Z)");
          }
        } else {
          FromJson(v, sub, what);
        }
        break;
      }
      default:
        UsageError(what + ": this field cannot be set from a flag");
    }
  }
}

std::string ToJson(const Message& message, bool pretty) {
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  options.add_whitespace = pretty;
  std::string out;
  auto status =
      google::protobuf::util::MessageToJsonString(message, &out, options);
  if (!status.ok()) return "{}";
  if (pretty && !out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

void FromJson(const std::string& json, Message* message,
              const std::string& what) {
  google::protobuf::util::JsonParseOptions options;
  auto status =
      google::protobuf::util::JsonStringToMessage(json, message, options);
  if (!status.ok()) {
    throw CliError(kExitInvalid,
                   "error: " + what + ": " + std::string(status.message()));
  }
}

namespace {

void JsonString(const std::string& s, std::string* out) {
  out->push_back('"');
  for (unsigned char c : s) {
    switch (c) {
      case '"':
        out->append("\\\"");
        break;
      case '\\':
        out->append("\\\\");
        break;
      case '\n':
        out->append("\\n");
        break;
      case '\r':
        out->append("\\r");
        break;
      case '\t':
        out->append("\\t");
        break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out->append(buf);
        } else {
          out->push_back(static_cast<char>(c));
        }
    }
  }
  out->push_back('"');
}

bool LooksRaw(const std::string& s) {
  if (s == "true" || s == "false" || s == "null") return true;
  double d;
  return !s.empty() && s[0] != '+' &&
         !(s.size() > 1 && s[0] == '0' && isdigit(s[1])) &&
         absl::SimpleAtod(s, &d) &&
         s.find_first_of("xXnN") == std::string::npos;
}

void YamlToJsonInto(const YAML::Node& node, std::string* out) {
  switch (node.Type()) {
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined:
      out->append("null");
      break;
    case YAML::NodeType::Scalar:
      if (node.Tag() != "!" && LooksRaw(node.Scalar())) {
        out->append(node.Scalar() == "~" ? "null" : node.Scalar());
      } else {
        JsonString(node.Scalar(), out);
      }
      break;
    case YAML::NodeType::Sequence: {
      out->push_back('[');
      bool first = true;
      for (const auto& item : node) {
        if (!first) out->push_back(',');
        first = false;
        YamlToJsonInto(item, out);
      }
      out->push_back(']');
      break;
    }
    case YAML::NodeType::Map: {
      out->push_back('{');
      bool first = true;
      for (const auto& item : node) {
        if (!first) out->push_back(',');
        first = false;
        JsonString(item.first.as<std::string>(), out);
        out->push_back(':');
        YamlToJsonInto(item.second, out);
      }
      out->push_back('}');
      break;
    }
  }
}

// Whether a YAML reader could take the string `s`, written plain, for
// something else: a boolean or null (YAML 1.1 reads yes, No, on, ~...), or
// a number, date or time (+212522123456, 0522123456, 2026-01-01,
// 12:30). Such strings are written quoted, so every reader gets the text.
// Quoting more than needed is harmless.
bool YamlWouldRetype(const std::string& s) {
  if (s.empty()) return true;
  static const char* const kWords[] = {"y",    "yes",   "n",     "no",   "true",
                                       "on",   "false", "off",   "null", "~",
                                       ".inf", "-.inf", "+.inf", ".nan"};
  const std::string lower = absl::AsciiStrToLower(s);
  for (const char* w : kWords) {
    if (lower == w) return true;
  }
  return std::string_view("0123456789+-.").find(s[0]) !=
             std::string_view::npos &&
         s.find_first_not_of("0123456789+-._: eExXoOabcdfABCDFtTzZ") ==
             std::string::npos;
}

void EmitYaml(const YAML::Node& node, YAML::Emitter& out) {
  switch (node.Type()) {
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined:
      out << YAML::Null;
      break;
    case YAML::NodeType::Scalar:
      // A quoted string (tag "!") stays quoted where it would otherwise
      // read back as something else: for our own reader (LooksRaw) and for
      // others (YamlWouldRetype).
      if (node.Tag() == "!" &&
          (LooksRaw(node.Scalar()) || YamlWouldRetype(node.Scalar()))) {
        out << YAML::DoubleQuoted << node.Scalar();
      } else {
        out << node.Scalar();
      }
      break;
    case YAML::NodeType::Sequence:
      out << YAML::BeginSeq;
      for (const auto& item : node) EmitYaml(item, out);
      out << YAML::EndSeq;
      break;
    case YAML::NodeType::Map:
      out << YAML::BeginMap;
      for (const auto& item : node) {
        out << YAML::Key << item.first.as<std::string>() << YAML::Value;
        EmitYaml(item.second, out);
      }
      out << YAML::EndMap;
      break;
  }
}

}  // namespace

std::string YamlToJson(const YAML::Node& node) {
  std::string out;
  YamlToJsonInto(node, &out);
  return out;
}

namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// The code unit of a "\uXXXX" escape starting at `at`, or -1.
int EscapedUnit(std::string_view s, size_t at) {
  if (at + 6 > s.size() || s[at] != '\\' || s[at + 1] != 'u') return -1;
  int v = 0;
  for (size_t k = at + 2; k < at + 6; ++k) {
    int h = HexValue(s[k]);
    if (h < 0) return -1;
    v = v * 16 + h;
  }
  return v;
}

void AppendUtf8(uint32_t cp, std::string* out) {
  out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
  out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
  out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
  out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
}

}  // namespace

bool LooksLikeJson(std::string_view text) {
  const size_t at = text.find_first_not_of(" \t\r\n");
  return at != std::string_view::npos && (text[at] == '{' || text[at] == '[');
}

std::string JoinSurrogateEscapes(std::string_view json) {
  std::string out;
  out.reserve(json.size());
  for (size_t i = 0; i < json.size();) {
    if (json[i] != '\\') {
      out.push_back(json[i++]);
      continue;
    }
    const int high = EscapedUnit(json, i);
    const int low = high >= 0 ? EscapedUnit(json, i + 6) : -1;
    if (high >= 0xD800 && high <= 0xDBFF && low >= 0xDC00 && low <= 0xDFFF) {
      AppendUtf8(0x10000 + ((static_cast<uint32_t>(high) - 0xD800) << 10) +
                     (static_cast<uint32_t>(low) - 0xDC00),
                 &out);
      i += 12;
      continue;
    }
    // Any other escape, "\\" included, is copied whole.
    out.append(json.substr(i, std::min<size_t>(2, json.size() - i)));
    i += 2;
  }
  return out;
}

std::string JsonToYaml(const std::string& json) {
  // yaml-cpp refuses the surrogate pairs protobuf escapes some characters
  // as (e.g. the tag characters of flag emoji).
  YAML::Node node = YAML::Load(JoinSurrogateEscapes(json));
  YAML::Emitter out;
  out.SetIndent(2);
  EmitYaml(node, out);
  return std::string(out.c_str()) + "\n";
}

std::string ReadTextFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) UsageError("cannot read " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string EscapedBytes(std::string_view s) {
  std::string out;
  for (char c : s) {
    const auto b = static_cast<unsigned char>(c);
    if (b >= 0x20 && b < 0x7f) {
      out += c;
    } else {
      out += absl::StrFormat("\\x%02X", b);
    }
  }
  return out;
}

std::optional<Utf8Problem> Utf8ProblemOfFile(std::string_view text) {
  const size_t at = InvalidUtf8At(text);
  if (at == std::string_view::npos) return std::nullopt;
  Utf8Problem p;
  p.line = 1 + std::count(text.begin(),
                          text.begin() + static_cast<std::ptrdiff_t>(at), '\n');
  p.what = absl::StrFormat(
      "byte 0x%02X is not UTF-8 text; save the file as UTF-8 (e.g. iconv -f "
      "latin1 -t utf-8)",
      static_cast<unsigned char>(text[at]));
  return p;
}

std::set<std::string> ReadMessageFile(const std::string& path,
                                      Message* message) {
  std::string text =
      path == "-" ? std::string(std::istreambuf_iterator<char>(std::cin), {})
                  : ReadTextFile(path);
  if (auto p = Utf8ProblemOfFile(text)) {
    throw CliError(kExitInvalid,
                   absl::StrFormat("error: %s:%d: %s", path, p->line, p->what));
  }
  YAML::Node node;
  std::set<std::string> keys;
  std::string json;
  try {
    // JSON may escape characters beyond U+FFFF as surrogate pairs, which
    // yaml-cpp refuses (in YAML proper a backslash may be literal).
    node = YAML::Load(LooksLikeJson(text) ? JoinSurrogateEscapes(text) : text);
    if (!node.IsMap()) {
      throw CliError(kExitInvalid, "error: " + path + ": expected a mapping");
    }
    for (const auto& item : node) keys.insert(item.first.as<std::string>());
    json = YamlToJson(node);  // a key that is a list or a map throws
  } catch (const YAML::Exception& e) {
    throw CliError(kExitInvalid, "error: " + path + ": " + e.what());
  }
  FromJson(json, message, path);
  // JSON may name fields in lowerCamelCase; report proto names.
  std::set<std::string> fields;
  for (const std::string& k : keys) {
    const FieldDescriptor* f = message->GetDescriptor()->FindFieldByName(k);
    if (f == nullptr) f = message->GetDescriptor()->FindFieldByCamelcaseName(k);
    if (f != nullptr) fields.insert(f->name());
  }
  return fields;
}

void CopyFields(const Message& from, Message* to,
                const std::set<std::string>& fields) {
  const Reflection* r = to->GetReflection();
  for (const std::string& name : fields) {
    const FieldDescriptor* f = to->GetDescriptor()->FindFieldByName(name);
    if (f == nullptr) continue;
    r->ClearField(to, f);
    if (f->is_repeated()) {
      for (int i = 0; i < from.GetReflection()->FieldSize(from, f); ++i) {
        switch (f->cpp_type()) {
          case FieldDescriptor::CPPTYPE_MESSAGE:
            r->AddMessage(to, f)->CopyFrom(
                from.GetReflection()->GetRepeatedMessage(from, f, i));
            break;
          case FieldDescriptor::CPPTYPE_STRING:
            r->AddString(to, f,
                         from.GetReflection()->GetRepeatedString(from, f, i));
            break;
          case FieldDescriptor::CPPTYPE_ENUM:
            r->AddEnumValue(
                to, f, from.GetReflection()->GetRepeatedEnumValue(from, f, i));
            break;
          case FieldDescriptor::CPPTYPE_DOUBLE:
            r->AddDouble(to, f,
                         from.GetReflection()->GetRepeatedDouble(from, f, i));
            break;
          default:
            break;
        }
      }
      continue;
    }
    if (f->has_presence() && !from.GetReflection()->HasField(from, f)) continue;
    switch (f->cpp_type()) {
      case FieldDescriptor::CPPTYPE_MESSAGE:
        r->MutableMessage(to, f)->CopyFrom(
            from.GetReflection()->GetMessage(from, f));
        break;
      case FieldDescriptor::CPPTYPE_STRING:
        r->SetString(to, f, from.GetReflection()->GetString(from, f));
        break;
      case FieldDescriptor::CPPTYPE_ENUM:
        r->SetEnumValue(to, f, from.GetReflection()->GetEnumValue(from, f));
        break;
      case FieldDescriptor::CPPTYPE_DOUBLE:
        r->SetDouble(to, f, from.GetReflection()->GetDouble(from, f));
        break;
      case FieldDescriptor::CPPTYPE_INT32:
        r->SetInt32(to, f, from.GetReflection()->GetInt32(from, f));
        break;
      case FieldDescriptor::CPPTYPE_INT64:
        r->SetInt64(to, f, from.GetReflection()->GetInt64(from, f));
        break;
      case FieldDescriptor::CPPTYPE_BOOL:
        r->SetBool(to, f, from.GetReflection()->GetBool(from, f));
        break;
      default:
        break;
    }
  }
}

}  // namespace jalon::ctl
