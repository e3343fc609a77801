// Request conventions every service shares (AIP): request ids of idempotent
// creates, page sizes, field-mask updates, and the field-by-field diff kept
// in a resource's history. Pure functions; thread-safe.
#ifndef JALON_SERVICES_COMMON_REQUESTS_H_
#define JALON_SERVICES_COMMON_REQUESTS_H_

#include <google/protobuf/field_mask.pb.h>
#include <google/protobuf/message.h>

#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "jalon/common/v1/common.pb.h"
#include "services/common/status.h"

namespace jalon {

// Length in Unicode code points (UTF-8 continuation bytes not counted): the
// unit of every length limit in the API.
size_t Utf8Length(std::string_view s);

// The offset of the first byte of `s` that is not part of well-formed UTF-8
// (RFC 3629: no overlong forms, no surrogates, nothing above U+10FFFF), or
// npos when it all is. A proto3 string must be UTF-8: a request holding
// anything else does not parse.
size_t InvalidUtf8At(std::string_view s);

// Whether every byte of `s` is visible ASCII (0x21..0x7E): what a token or
// a request id is, and what may travel in a gRPC header, where gRPC
// aborts the process on anything else.
bool IsVisibleAscii(std::string_view s);

// Whether `text` holds nothing but spaces, tabs and line breaks (ASCII,
// and the Unicode spaces French text uses: U+00A0, U+2000..U+200B, U+202F,
// U+3000), or nothing at all: a required text that is blank is missing.
bool IsBlank(std::string_view text);

// What is wrong with `value` as text of `min`..`max` characters (min 1:
// required, and not blank), or "" when nothing is. Control characters (C0, DEL,
// C1) are refused: a terminal obeys them, XML 1.0 forbids most of them, and no
// one means to type them. `multiline` text may hold tabs and line breaks; a
// single line (a title, a name) may not.
std::string TextProblem(std::string_view value, size_t min, size_t max,
                        bool multiline = true);

// Collects every violation of a message, each field named after `prefix`
// (e.g. "action."), so a client sees them all at once. Not thread-safe.
class FieldChecker {
 public:
  explicit FieldChecker(std::string_view prefix) : prefix_(prefix) {}

  // `min`..`max` characters of text (TextProblem); min 1 reads "is
  // required". Line: the same, on a single line.
  void Text(const std::string& field, std::string_view value, size_t min,
            size_t max);
  void Line(const std::string& field, std::string_view value, size_t min,
            size_t max);
  void Required(const std::string& field, std::string_view value);
  // A valid calendar date, or unset when not `required`.
  void DateField(const std::string& field, const common::v1::Date& d,
                 bool required);
  void Finite(const std::string& field, double v);
  void Add(const std::string& field, std::string description);
  // OK, or INVALID_ARGUMENT naming every field added.
  absl::Status Done() const { return violations_.ToStatus(); }

 private:
  std::string prefix_;
  Violations violations_;
};

// A filter on an enum: OK when `value` is one of `type`'s values other than
// its UNSPECIFIED 0 (which filters nothing when `unspecified_ok`, and would
// match nothing otherwise), else INVALID_ARGUMENT on `field`, listing the
// values. A value this build does not know would silently match nothing.
absl::Status CheckEnumFilter(const std::string& field, int value,
                             const google::protobuf::EnumDescriptor* type,
                             bool unspecified_ok);
// The same for each value of a repeated filter, named `field[i]`; none may
// be UNSPECIFIED.
absl::Status CheckEnumFilters(
    const std::string& field,
    const google::protobuf::RepeatedField<int>& values,
    const google::protobuf::EnumDescriptor* type);

// At most 128 characters of letters, digits and - _ . : (empty: none).
absl::Status ValidateRequestId(std::string_view request_id);
// `body`, a create's validation, with the request id's violations added to
// its own: the client sees every bad field at once, before any permission
// or reference check.
absl::Status WithRequestId(absl::Status body, std::string_view request_id);
// page_size 0 means the default (50); negative or above 1000 is invalid.
absl::StatusOr<int> PageSize(int requested);

// Copies the fields named by `mask` from `patch` into `target`. Each path
// must be one of `updatable`; else INVALID_ARGUMENT on "update_mask". An
// empty mask is invalid too (AIP-134 would mean "all", which is too easy
// to get wrong for a co-piloted record).
absl::Status ApplyMask(const google::protobuf::Message& patch,
                       const google::protobuf::FieldMask& mask,
                       const std::set<std::string>& updatable,
                       google::protobuf::Message* target);

// The top-level fields that differ, with old and new values in single-line
// text format (UTF-8 kept as is). Output-only and bookkeeping fields (etag,
// audit, late, progress_percent) are left out. Both messages have the same
// type. Only the fields that changed are printed.
std::vector<common::v1::FieldChange> Diff(
    const google::protobuf::Message& before,
    const google::protobuf::Message& after);

}  // namespace jalon

#endif  // JALON_SERVICES_COMMON_REQUESTS_H_
