// Error helpers shared by every service: building absl::Status values that
// carry field violations and reasons, and turning them into a grpc::Status
// with a google.rpc.Status (ErrorInfo, BadRequest) at the gRPC boundary.
// Pure functions; thread-safe.
#ifndef JALON_SERVICES_COMMON_STATUS_H_
#define JALON_SERVICES_COMMON_STATUS_H_

#include <grpcpp/support/status.h>

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"

namespace jalon {

// One invalid field of a request, e.g. {"action.title", "must not be empty"}.
struct FieldViolation {
  std::string field;
  std::string description;
};

// Collects every violation of a request so the client sees them all at once
// (in the BadRequest, as many as fit in kMaxReportedBytes, each cut to a
// bounded length; the message names those that fit in kMaxMessageBytes and
// says how many more there are): an error has to fit in gRPC's response
// headers, whatever the request held.
class Violations {
 public:
  void Add(std::string field, std::string description);
  bool empty() const { return list_.empty(); }
  const std::vector<FieldViolation>& list() const { return list_; }
  // OkStatus() when empty, else INVALID_ARGUMENT naming every field.
  absl::Status ToStatus() const;

  static constexpr size_t kMaxReportedBytes = 2000;
  static constexpr size_t kMaxFieldBytes = 128;
  static constexpr size_t kMaxDescriptionBytes = 400;

 private:
  std::vector<FieldViolation> list_;
};

// `text` cut to at most `max_bytes` bytes at a UTF-8 character boundary,
// "…" included, when it is longer. For what a client sent that goes back
// into an error message or a log line.
std::string Truncated(absl::string_view text, size_t max_bytes);

// The longest message a status carries to a client or into a log line.
// gRPC percent-encodes a message's non-ASCII bytes (3 bytes each on the
// wire) and base64-encodes the details, which repeat it: 768 bytes and a
// BadRequest of 2000 stay under 6.5 KiB of headers, against a client's
// default limit of 8 KiB.
inline constexpr size_t kMaxMessageBytes = 768;

// INVALID_ARGUMENT for one field.
absl::Status InvalidField(std::string field, std::string description);

// A status with a machine-readable reason (ErrorInfo.reason), e.g.
// WithReason(absl::AbortedError("..."), "STALE_ETAG").
absl::Status WithReason(absl::Status status, std::string_view reason);

// The field violations carried by a status (empty if none).
std::vector<FieldViolation> ViolationsOf(const absl::Status& status);
// The reason carried by a status (empty if none).
std::string ReasonOf(const absl::Status& status);

// The gRPC form of a status: same code and message (at most
// kMaxMessageBytes), plus a serialized google.rpc.Status in the details with
// ErrorInfo{reason, domain} and, for INVALID_ARGUMENT, BadRequest field
// violations.
grpc::Status ToGrpcStatus(const absl::Status& status, std::string_view domain);

// The reverse, for clients and tests: the absl form of a grpc::Status,
// keeping the violations and reason from its details.
absl::Status FromGrpcStatus(const grpc::Status& status);

}  // namespace jalon

#endif  // JALON_SERVICES_COMMON_STATUS_H_
