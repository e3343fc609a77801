#include "services/common/requests.h"

#include <google/protobuf/text_format.h>
#include <google/protobuf/util/field_mask_util.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <iterator>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "services/common/dates.h"
#include "services/common/status.h"

namespace jalon {
namespace {

using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;

constexpr int kDefaultPageSize = 50;
constexpr int kMaxPageSize = 1000;

}  // namespace

size_t Utf8Length(std::string_view s) {
  size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

bool IsVisibleAscii(std::string_view s) {
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return c >= 0x21 && c <= 0x7e; });
}

size_t InvalidUtf8At(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    size_t n = 0;
    unsigned char lo = 0x80, hi = 0xBF;  // the second byte's range
    if (c < 0x80) {
      ++i;
      continue;
    } else if (c >= 0xC2 && c <= 0xDF) {
      n = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
      n = 3;
      if (c == 0xE0) lo = 0xA0;  // overlong
      if (c == 0xED) hi = 0x9F;  // surrogates
    } else if (c >= 0xF0 && c <= 0xF4) {
      n = 4;
      if (c == 0xF0) lo = 0x90;  // overlong
      if (c == 0xF4) hi = 0x8F;  // above U+10FFFF
    } else {
      return i;
    }
    if (i + n > s.size()) return i;
    for (size_t k = 1; k < n; ++k) {
      const auto b = static_cast<unsigned char>(s[i + k]);
      if (k == 1 ? (b < lo || b > hi) : (b < 0x80 || b > 0xBF)) return i;
    }
    i += n;
  }
  return std::string_view::npos;
}

absl::Status CheckEnumFilter(const std::string& field, int value,
                             const google::protobuf::EnumDescriptor* type,
                             bool unspecified_ok) {
  if ((value == 0 && unspecified_ok) ||
      (value != 0 && type->FindValueByNumber(value) != nullptr)) {
    return absl::OkStatus();
  }
  std::vector<std::string> names;
  for (int i = 0; i < type->value_count(); ++i) {
    if (type->value(i)->number() != 0) names.push_back(type->value(i)->name());
  }
  return InvalidField(
      field, absl::StrCat("must be one of ", absl::StrJoin(names, ", ")));
}

absl::Status CheckEnumFilters(
    const std::string& field,
    const google::protobuf::RepeatedField<int>& values,
    const google::protobuf::EnumDescriptor* type) {
  for (int i = 0; i < values.size(); ++i) {
    if (auto s = CheckEnumFilter(absl::StrCat(field, "[", i, "]"), values[i],
                                 type, /*unspecified_ok=*/false);
        !s.ok()) {
      return s;
    }
  }
  return absl::OkStatus();
}

bool IsBlank(std::string_view text) {
  for (size_t i = 0; i < text.size();) {
    const unsigned char c = text[i];
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
      i += 1;
      continue;
    }
    const std::string_view rest = text.substr(i);
    if (rest.substr(0, 2) == "\xC2\xA0") {  // U+00A0
      i += 2;
      continue;
    }
    if (rest.size() >= 3 && rest[0] == '\xE2' && rest[1] == '\x80' &&
        ((static_cast<unsigned char>(rest[2]) >= 0x80 &&
          static_cast<unsigned char>(rest[2]) <= 0x8B) ||  // U+2000..U+200B
         rest[2] == '\xAF')) {                             // U+202F
      i += 3;
      continue;
    }
    if (rest.substr(0, 3) == "\xE3\x80\x80") {  // U+3000
      i += 3;
      continue;
    }
    return false;
  }
  return true;
}

std::string TextProblem(std::string_view value, size_t min, size_t max,
                        bool multiline) {
  size_t n = 0;
  for (size_t i = 0; i < value.size(); ++i) {
    const unsigned char c = value[i];
    if ((c & 0xC0) == 0x80) continue;  // a continuation byte
    ++n;
    if (multiline && (c == '\t' || c == '\n' || c == '\r')) continue;
    // U+0080..U+009F are 0xC2 0x80..0x9F in UTF-8.
    const bool c1 = c == 0xC2 && i + 1 < value.size() &&
                    static_cast<unsigned char>(value[i + 1]) <= 0x9F;
    if (c < 0x20 || c == 0x7F || c1) {
      const unsigned code = c1 ? static_cast<unsigned char>(value[i + 1]) : c;
      const bool line = c == '\t' || c == '\n' || c == '\r';
      return absl::StrFormat(
          "%s (U+%04X at character %d)",
          line ? "must be a single line, without line breaks or tabs"
               : "must not contain control characters",
          code, n);
    }
  }
  if (n < min || (min > 0 && IsBlank(value))) {
    return min == 1 ? "is required"
                    : absl::StrCat("needs at least ", min, " characters");
  }
  if (n > max) return absl::StrCat("is longer than ", max, " characters");
  return "";
}

void FieldChecker::Text(const std::string& field, std::string_view value,
                        size_t min, size_t max) {
  if (std::string p = TextProblem(value, min, max); !p.empty()) {
    Add(field, std::move(p));
  }
}

void FieldChecker::Line(const std::string& field, std::string_view value,
                        size_t min, size_t max) {
  if (std::string p = TextProblem(value, min, max, /*multiline=*/false);
      !p.empty()) {
    Add(field, std::move(p));
  }
}

void FieldChecker::Required(const std::string& field, std::string_view value) {
  if (IsBlank(value)) Add(field, "is required");
}

void FieldChecker::DateField(const std::string& field,
                             const common::v1::Date& d, bool required) {
  if (IsUnset(d)) {
    if (required) Add(field, "is required");
  } else if (!IsValidDate(d)) {
    Add(field,
        "is not a valid date (year 1900..9999, month 1..12, a day of that "
        "month)");
  }
}

void FieldChecker::Finite(const std::string& field, double v) {
  if (!std::isfinite(v)) Add(field, "must be a finite number");
}

void FieldChecker::Add(const std::string& field, std::string description) {
  violations_.Add(absl::StrCat(prefix_, field), std::move(description));
}

absl::Status WithRequestId(absl::Status body, std::string_view request_id) {
  absl::Status id = ValidateRequestId(request_id);
  if (id.ok()) return body;
  if (body.ok()) return id;
  if (!absl::IsInvalidArgument(body)) return body;
  Violations all;
  for (auto& v : ViolationsOf(body)) {
    all.Add(std::move(v.field), std::move(v.description));
  }
  for (auto& v : ViolationsOf(id)) {
    all.Add(std::move(v.field), std::move(v.description));
  }
  return all.ToStatus();
}

absl::Status ValidateRequestId(std::string_view id) {
  if (id.size() > 128) {
    return InvalidField("request_id", "is longer than 128 characters");
  }
  for (char c : id) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' &&
        c != '.' && c != ':') {
      return InvalidField("request_id",
                          "may only hold letters, digits and - _ . :");
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<int> PageSize(int requested) {
  if (requested < 0 || requested > kMaxPageSize) {
    return InvalidField("page_size",
                        absl::StrCat("must be 0..", kMaxPageSize, " (0 means ",
                                     kDefaultPageSize, ")"));
  }
  return requested == 0 ? kDefaultPageSize : requested;
}

absl::Status ApplyMask(const Message& patch,
                       const google::protobuf::FieldMask& mask,
                       const std::set<std::string>& updatable,
                       Message* target) {
  if (mask.paths_size() == 0) {
    return InvalidField("update_mask",
                        absl::StrCat("is empty; name the fields to update: ",
                                     absl::StrJoin(updatable, ", ")));
  }
  // One violation naming every path refused (not one each: the list of
  // what is allowed would repeat).
  std::vector<std::string> refused;
  for (const auto& path : mask.paths()) {
    if (!updatable.count(path)) refused.push_back("'" + path + "'");
  }
  if (!refused.empty()) {
    return InvalidField("update_mask",
                        absl::StrCat(refused.size() == 1 ? "field " : "fields ",
                                     absl::StrJoin(refused, ", "),
                                     " cannot be updated; allowed: ",
                                     absl::StrJoin(updatable, ", ")));
  }
  google::protobuf::util::FieldMaskUtil::MergeOptions options;
  options.set_replace_message_fields(true);
  options.set_replace_repeated_fields(true);
  google::protobuf::util::FieldMaskUtil::MergeMessageTo(patch, mask, options,
                                                        target);
  // A message field taken from the patch brings the fields the client sent
  // that this build does not know (no limit bounds them): dropped. Those a
  // newer build stored elsewhere in `target` stay: an older replica's
  // update must not erase them in a rolling deploy.
  const Reflection* ref = target->GetReflection();
  for (const auto& path : mask.paths()) {
    const FieldDescriptor* f = target->GetDescriptor()->FindFieldByName(path);
    if (f == nullptr || f->cpp_type() != FieldDescriptor::CPPTYPE_MESSAGE) {
      continue;
    }
    if (f->is_repeated()) {
      for (int i = 0; i < ref->FieldSize(*target, f); ++i) {
        ref->MutableRepeatedMessage(target, f, i)->DiscardUnknownFields();
      }
    } else if (ref->HasField(*target, f)) {
      ref->MutableMessage(target, f)->DiscardUnknownFields();
    }
  }
  // MergeMessageTo does not clear a proto3 `optional` scalar absent from the
  // patch; clearing it is what "set to unset" means here.
  const auto* desc = target->GetDescriptor();
  for (const auto& path : mask.paths()) {
    const FieldDescriptor* f = desc->FindFieldByName(path);
    if (f && f->has_presence() && !f->is_repeated() &&
        f->cpp_type() != FieldDescriptor::CPPTYPE_MESSAGE &&
        !patch.GetReflection()->HasField(patch, f)) {
      target->GetReflection()->ClearField(target, f);
    }
  }
  return absl::OkStatus();
}

namespace {

// Text format on one line, with UTF-8 kept as is: a French title reads
// "Métal recyclé" in the history, not "M\303\251tal recycl\303\251".
const google::protobuf::TextFormat::Printer& HistoryPrinter() {
  static const auto* printer = [] {
    auto* p = new google::protobuf::TextFormat::Printer;
    p->SetSingleLineMode(true);
    p->SetUseUtf8StringEscaping(true);
    return p;
  }();
  return *printer;
}

// Whether element `i` (-1: the singular value) of `f` is the same in both
// messages, which have the same type. Exact: bit for bit for floating
// point, so two values it calls equal always print the same. It may call
// two equal values different (a NaN), which only costs a print.
bool SameValue(const Message& a, const Message& b, const Reflection* r,
               const FieldDescriptor* f, int i) {
  const bool rep = i >= 0;
  // Compares through the reflection getters of the field's type; `key`
  // turns a value into what is compared.
  auto same = [&](auto get, auto get_repeated, auto key) {
    return rep ? key((r->*get_repeated)(a, f, i)) ==
                     key((r->*get_repeated)(b, f, i))
               : key((r->*get)(a, f)) == key((r->*get)(b, f));
  };
  auto value = [](auto x) { return x; };
  auto bits = [](auto x) {
    uint64_t u = 0;
    std::memcpy(&u, &x, sizeof x);
    return u;
  };
  using R = Reflection;
  switch (f->cpp_type()) {
    case FieldDescriptor::CPPTYPE_INT32:
      return same(&R::GetInt32, &R::GetRepeatedInt32, value);
    case FieldDescriptor::CPPTYPE_INT64:
      return same(&R::GetInt64, &R::GetRepeatedInt64, value);
    case FieldDescriptor::CPPTYPE_UINT32:
      return same(&R::GetUInt32, &R::GetRepeatedUInt32, value);
    case FieldDescriptor::CPPTYPE_UINT64:
      return same(&R::GetUInt64, &R::GetRepeatedUInt64, value);
    case FieldDescriptor::CPPTYPE_DOUBLE:
      return same(&R::GetDouble, &R::GetRepeatedDouble, bits);
    case FieldDescriptor::CPPTYPE_FLOAT:
      return same(&R::GetFloat, &R::GetRepeatedFloat, bits);
    case FieldDescriptor::CPPTYPE_BOOL:
      return same(&R::GetBool, &R::GetRepeatedBool, value);
    case FieldDescriptor::CPPTYPE_ENUM:
      return same(&R::GetEnumValue, &R::GetRepeatedEnumValue, value);
    case FieldDescriptor::CPPTYPE_STRING: {
      std::string sa, sb;
      return (rep ? r->GetRepeatedStringReference(a, f, i, &sa)
                  : r->GetStringReference(a, f, &sa)) ==
             (rep ? r->GetRepeatedStringReference(b, f, i, &sb)
                  : r->GetStringReference(b, f, &sb));
    }
    case FieldDescriptor::CPPTYPE_MESSAGE: {
      const Message& ma =
          rep ? r->GetRepeatedMessage(a, f, i) : r->GetMessage(a, f);
      const Message& mb =
          rep ? r->GetRepeatedMessage(b, f, i) : r->GetMessage(b, f);
      // Serialised bytes of one type and one binary: equal bytes are equal
      // messages. Unequal bytes fall back to printing, which decides.
      return ma.SerializeAsString() == mb.SerializeAsString();
    }
  }
  return false;
}

// Whether field `f` is the same in both messages (presence included).
bool SameField(const Message& a, const Message& b, const Reflection* r,
               const FieldDescriptor* f) {
  if (f->is_repeated()) {
    const int n = r->FieldSize(a, f);
    if (n != r->FieldSize(b, f)) return false;
    for (int i = 0; i < n; ++i) {
      if (!SameValue(a, b, r, f, i)) return false;
    }
    return true;
  }
  if (f->has_presence() && r->HasField(a, f) != r->HasField(b, f)) {
    return false;
  }
  return SameValue(a, b, r, f, -1);
}

}  // namespace

std::vector<common::v1::FieldChange> Diff(const Message& before,
                                          const Message& after) {
  constexpr std::string_view kIgnored[] = {"etag", "audit", "late",
                                           "progress_percent"};
  std::vector<common::v1::FieldChange> out;
  const auto* desc = after.GetDescriptor();
  const Reflection* r = after.GetReflection();
  const auto& printer = HistoryPrinter();
  auto render = [&](const Message& m, const FieldDescriptor* f) {
    std::string out_text;
    if (f->is_repeated()) {
      int n = r->FieldSize(m, f);
      if (n == 0) return out_text;
      std::vector<std::string> items;
      for (int i = 0; i < n; ++i) {
        std::string item;
        printer.PrintFieldValueToString(m, f, i, &item);
        items.push_back(item);
      }
      return absl::StrCat("[", absl::StrJoin(items, ", "), "]");
    }
    if (r->HasField(m, f)) {  // proto3 scalars: "has" means non-default
      printer.PrintFieldValueToString(m, f, -1, &out_text);
    }
    return out_text;
  };
  for (int i = 0; i < desc->field_count(); ++i) {
    const FieldDescriptor* f = desc->field(i);
    if (std::find(std::begin(kIgnored), std::end(kIgnored), f->name()) !=
        std::end(kIgnored)) {
      continue;
    }
    // Printing is most of a diff's cost: print only what changed.
    if (SameField(before, after, r, f)) continue;
    std::string old_value = render(before, f);
    std::string new_value = render(after, f);
    if (old_value == new_value) continue;
    common::v1::FieldChange change;
    change.set_field(f->name());
    change.set_old_value(std::move(old_value));
    change.set_new_value(std::move(new_value));
    out.push_back(std::move(change));
  }
  return out;
}

}  // namespace jalon
