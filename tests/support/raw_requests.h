// Requests written by hand: what a hostile or broken client can put on the
// wire, and the libraries' own clients refuse to send.
#ifndef JALON_TESTS_SUPPORT_RAW_REQUESTS_H_
#define JALON_TESTS_SUPPORT_RAW_REQUESTS_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

namespace jalon::testing {

// One gRPC call over HTTP/2, for headers that gRPC's own client refuses
// to send (a value with bytes outside printable ASCII). Plain text (h2c),
// HPACK literals only, no flow control beyond the first window: enough for
// one small unary call. Sends a unary call to `path` (e.g.
// "/jalon.roadmap.v1.RoadmapService/ ListRoadmaps") on 127.0.0.1:`port` with an
// empty request message and the `headers` given, verbatim; returns the bytes
// the server sent, once the call's stream has ended (its trailers, or a reset).
// UNAVAILABLE when the connection closed before (e.g. the server died),
// DEADLINE_EXCEEDED after `timeout_ms`.
absl::StatusOr<std::string> RawGrpcCall(
    int port, const std::string& path,
    const std::vector<std::pair<std::string, std::string>>& headers,
    int timeout_ms = 5000);

// Sends `bytes` as they are to 127.0.0.1:`port` and returns what comes back
// until what came holds `until` (if not empty) or the server closes the
// connection; DEADLINE_EXCEEDED if neither happens within `timeout_ms`.
absl::StatusOr<std::string> RawExchange(int port, const std::string& bytes,
                                        int timeout_ms,
                                        const std::string& until = "");

}  // namespace jalon::testing

#endif  // JALON_TESTS_SUPPORT_RAW_REQUESTS_H_
