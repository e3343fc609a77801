// The short name of a protobuf enum value, as exports, the Atom feed and
// status messages print it: ACTION_STATUS_IN_PROGRESS -> "IN_PROGRESS".
// A value this build does not know (a newer producer's) prints as its
// number, never throws. Thread-safe.
#ifndef JALON_SERVICES_REPORTING_ENUM_NAME_H_
#define JALON_SERVICES_REPORTING_ENUM_NAME_H_

#include <google/protobuf/generated_enum_reflection.h>

#include <string>
#include <string_view>

#include "absl/strings/str_cat.h"

namespace jalon::reporting {

// "ActionStatus" -> "ACTION_STATUS".
inline std::string UpperSnake(std::string_view camel) {
  std::string out;
  for (const char c : camel) {
    if (c >= 'A' && c <= 'Z' && !out.empty()) out += '_';
    out += static_cast<char>(c >= 'a' && c <= 'z' ? c - 'a' + 'A' : c);
  }
  return out;
}

template <typename E>
std::string ShortName(E value) {
  const auto* descriptor = google::protobuf::GetEnumDescriptor<E>();
  const auto* v = descriptor->FindValueByNumber(static_cast<int>(value));
  if (v == nullptr) return absl::StrCat(static_cast<int>(value));
  const std::string prefix = UpperSnake(descriptor->name()) + "_";
  std::string_view name = v->name();
  if (name.substr(0, prefix.size()) == prefix)
    name.remove_prefix(prefix.size());
  return std::string(name);
}

}  // namespace jalon::reporting

#endif  // JALON_SERVICES_REPORTING_ENUM_NAME_H_
