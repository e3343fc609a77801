#include "tools/jalonctl/errors.h"

#include "absl/strings/str_cat.h"
#include "services/common/status.h"

namespace jalon::ctl {
namespace {

const char* CodeName(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::OK:
      return "OK";
    case grpc::StatusCode::CANCELLED:
      return "CANCELLED";
    case grpc::StatusCode::UNKNOWN:
      return "UNKNOWN";
    case grpc::StatusCode::INVALID_ARGUMENT:
      return "INVALID_ARGUMENT";
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return "DEADLINE_EXCEEDED";
    case grpc::StatusCode::NOT_FOUND:
      return "NOT_FOUND";
    case grpc::StatusCode::ALREADY_EXISTS:
      return "ALREADY_EXISTS";
    case grpc::StatusCode::PERMISSION_DENIED:
      return "PERMISSION_DENIED";
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
      return "RESOURCE_EXHAUSTED";
    case grpc::StatusCode::FAILED_PRECONDITION:
      return "FAILED_PRECONDITION";
    case grpc::StatusCode::ABORTED:
      return "ABORTED";
    case grpc::StatusCode::OUT_OF_RANGE:
      return "OUT_OF_RANGE";
    case grpc::StatusCode::UNIMPLEMENTED:
      return "UNIMPLEMENTED";
    case grpc::StatusCode::INTERNAL:
      return "INTERNAL";
    case grpc::StatusCode::UNAVAILABLE:
      return "UNAVAILABLE";
    case grpc::StatusCode::DATA_LOSS:
      return "DATA_LOSS";
    case grpc::StatusCode::UNAUTHENTICATED:
      return "UNAUTHENTICATED";
    default:
      return "UNKNOWN";
  }
}

}  // namespace

int ExitCodeFor(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::OK:
      return kExitOk;
    case grpc::StatusCode::NOT_FOUND:
      return kExitNotFound;
    case grpc::StatusCode::UNAUTHENTICATED:
    case grpc::StatusCode::PERMISSION_DENIED:
      return kExitDenied;
    case grpc::StatusCode::ABORTED:
    case grpc::StatusCode::ALREADY_EXISTS:
    case grpc::StatusCode::FAILED_PRECONDITION:
      return kExitConflict;
    case grpc::StatusCode::UNAVAILABLE:
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return kExitUnavailable;
    case grpc::StatusCode::INVALID_ARGUMENT:
      return kExitInvalid;
    default:
      return kExitOther;
  }
}

std::string DescribeRpcError(const grpc::Status& status,
                             const std::string& what) {
  absl::Status s = FromGrpcStatus(status);
  std::string out =
      absl::StrCat("error: ", what, ": ", CodeName(status.error_code()), ": ",
                   status.error_message());
  std::string reason = ReasonOf(s);
  if (!reason.empty()) absl::StrAppend(&out, "\n  reason: ", reason);
  auto violations = ViolationsOf(s);
  if (!violations.empty()) {
    absl::StrAppend(&out, "\n  invalid fields:");
    for (const auto& v : violations) {
      absl::StrAppend(&out, "\n    ", v.field, ": ", v.description);
    }
  }
  switch (status.error_code()) {
    case grpc::StatusCode::UNAVAILABLE:
      absl::StrAppend(&out,
                      "\n  hint: is the service running at the "
                      "configured address? (jalonctl config view)");
      break;
    case grpc::StatusCode::UNAUTHENTICATED:
      absl::StrAppend(&out,
                      "\n  hint: check JALON_TOKEN / JALON_TOKEN_FILE "
                      "or the context's token_file");
      break;
    case grpc::StatusCode::ABORTED:
      absl::StrAppend(&out,
                      "\n  hint: the resource changed meanwhile; get "
                      "it again and retry");
      break;
    default:
      break;
  }
  return out;
}

void CheckRpc(const grpc::Status& status, const std::string& what) {
  if (status.ok()) return;
  throw CliError(ExitCodeFor(status.error_code()),
                 DescribeRpcError(status, what));
}

void UsageError(const std::string& message) {
  throw CliError(kExitUsage, "error: " + message);
}

}  // namespace jalon::ctl
