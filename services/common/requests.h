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

namespace jalon {

// At most 128 characters of letters, digits and - _ . : (empty: none).
absl::Status ValidateRequestId(std::string_view request_id);
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

// The top-level fields that differ, with old and new values in text format.
// Output-only and bookkeeping fields (etag, audit, late, progress_percent)
// are left out.
std::vector<common::v1::FieldChange> Diff(
    const google::protobuf::Message& before,
    const google::protobuf::Message& after);

}  // namespace jalon

#endif  // JALON_SERVICES_COMMON_REQUESTS_H_
