// One gRPC call written by hand over HTTP/2, for headers that gRPC's own
// client refuses to send (a value with bytes outside printable ASCII): what
// a hostile or broken client can put on the wire. Plain text (h2c), HPACK
// literals only, no flow control beyond the first window: enough for one
// small unary call.
#ifndef JALON_TESTS_SUPPORT_RAW_HTTP2_H_
#define JALON_TESTS_SUPPORT_RAW_HTTP2_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

namespace jalon::testing {

// Sends a unary call to `path` (e.g. "/jalon.roadmap.v1.RoadmapService/
// ListRoadmaps") on 127.0.0.1:`port` with an empty request message and the
// `headers` given, verbatim; returns the bytes the server sent, once the
// call's stream has ended (its trailers, or a reset). UNAVAILABLE when the
// connection closed before (e.g. the server died), DEADLINE_EXCEEDED after
// `timeout_ms`.
absl::StatusOr<std::string> RawGrpcCall(
    int port, const std::string& path,
    const std::vector<std::pair<std::string, std::string>>& headers,
    int timeout_ms = 5000);

}  // namespace jalon::testing

#endif  // JALON_TESTS_SUPPORT_RAW_HTTP2_H_
