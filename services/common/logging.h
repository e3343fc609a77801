// Logging setup: spdlog, one line per event in logfmt
// ("time level service=... rpc=... request_id=... msg=..."), UTC times,
// level from --log-level / JALON_LOG_LEVEL. Callers never pass a token or a
// password. Thread-safe after InitLogging.
#ifndef JALON_SERVICES_COMMON_LOGGING_H_
#define JALON_SERVICES_COMMON_LOGGING_H_

#include <fmt/format.h>

#include <string>
#include <string_view>

#include "absl/strings/string_view.h"

namespace jalon {

// Sets the default spdlog logger's pattern and level for `service`.
void InitLogging(std::string_view service, std::string_view level);

// Quotes a value for logfmt when it holds spaces, quotes or '='.
std::string LogValue(std::string_view value);

}  // namespace jalon

// Debian's Abseil has its own string_view (not std's); let spdlog print it,
// e.g. a status message.
template <>
struct fmt::formatter<absl::string_view> : fmt::formatter<fmt::string_view> {
  auto format(absl::string_view s, fmt::format_context& ctx) const {
    return fmt::formatter<fmt::string_view>::format(
        fmt::string_view(s.data(), s.size()), ctx);
  }
};

#endif  // JALON_SERVICES_COMMON_LOGGING_H_
