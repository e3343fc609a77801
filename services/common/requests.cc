#include "services/common/requests.h"

#include <google/protobuf/text_format.h>
#include <google/protobuf/util/field_mask_util.h>

#include <cctype>
#include <cmath>

#include "absl/strings/str_cat.h"
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

void FieldChecker::Text(const std::string& field, std::string_view value,
                        size_t min, size_t max) {
  size_t n = Utf8Length(value);
  if (n < min) {
    Add(field, min == 1 ? "is required"
                        : absl::StrCat("needs at least ", min, " characters"));
  } else if (n > max) {
    Add(field, absl::StrCat("is longer than ", max, " characters"));
  }
}

void FieldChecker::Required(const std::string& field, std::string_view value) {
  if (value.empty()) Add(field, "is required");
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
  Violations v;
  for (const auto& path : mask.paths()) {
    if (!updatable.count(path)) {
      v.Add("update_mask",
            absl::StrCat("field '", path, "' cannot be updated; allowed: ",
                         absl::StrJoin(updatable, ", ")));
    }
  }
  if (!v.empty()) return v.ToStatus();
  google::protobuf::util::FieldMaskUtil::MergeOptions options;
  options.set_replace_message_fields(true);
  options.set_replace_repeated_fields(true);
  google::protobuf::util::FieldMaskUtil::MergeMessageTo(patch, mask, options,
                                                        target);
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

std::vector<common::v1::FieldChange> Diff(const Message& before,
                                          const Message& after) {
  static const std::set<std::string> kIgnored = {"etag", "audit", "late",
                                                 "progress_percent"};
  std::vector<common::v1::FieldChange> out;
  const auto* desc = after.GetDescriptor();
  const Reflection* rb = before.GetReflection();
  const Reflection* ra = after.GetReflection();
  google::protobuf::TextFormat::Printer printer;
  printer.SetSingleLineMode(true);
  auto render = [&](const Message& m, const Reflection* r,
                    const FieldDescriptor* f) {
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
    if (kIgnored.count(f->name())) continue;
    std::string old_value = render(before, rb, f);
    std::string new_value = render(after, ra, f);
    if (old_value == new_value) continue;
    common::v1::FieldChange change;
    change.set_field(f->name());
    change.set_old_value(old_value);
    change.set_new_value(new_value);
    out.push_back(std::move(change));
  }
  return out;
}

}  // namespace jalon
