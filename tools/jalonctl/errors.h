// How jalonctl fails: a CliError carries the exit code scripts rely on and
// a message for stderr. RPC failures are turned into CliErrors here, with the
// server's message and its field violations in one block. Thread-safe.
#ifndef JALON_TOOLS_JALONCTL_ERRORS_H_
#define JALON_TOOLS_JALONCTL_ERRORS_H_

#include <grpcpp/support/status.h>

#include <stdexcept>
#include <string>

namespace jalon::ctl {

// The documented exit codes (docs/cli.md).
enum ExitCode {
  kExitOk = 0,
  kExitUsage = 1,
  kExitNotFound = 2,
  kExitDenied = 3,       // UNAUTHENTICATED, PERMISSION_DENIED
  kExitConflict = 4,     // ABORTED, ALREADY_EXISTS, FAILED_PRECONDITION
  kExitUnavailable = 5,  // UNAVAILABLE, DEADLINE_EXCEEDED
  kExitInvalid = 6,      // INVALID_ARGUMENT
  kExitOther = 7,
};

// Thrown by commands, caught once in main(); never escapes the binary.
class CliError : public std::runtime_error {
 public:
  CliError(int code, const std::string& message)
      : std::runtime_error(message), code_(code) {}
  int code() const { return code_; }

 private:
  int code_;
};

// The exit code for a gRPC status code.
int ExitCodeFor(grpc::StatusCode code);

// A readable block: "error: <CODE>: <message>" then the reason and every
// field violation, one per line. `what` names the call (e.g. "get action").
std::string DescribeRpcError(const grpc::Status& status,
                             const std::string& what);

// Throws a CliError for a failed status; does nothing for OK.
void CheckRpc(const grpc::Status& status, const std::string& what);

// A usage error (exit 1).
[[noreturn]] void UsageError(const std::string& message);

}  // namespace jalon::ctl

#endif  // JALON_TOOLS_JALONCTL_ERRORS_H_
