#include "services/common/logging.h"

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include "absl/strings/str_cat.h"

namespace jalon {

void InitLogging(std::string_view service_view, std::string_view level) {
  const std::string service(service_view);
  auto logger = spdlog::stderr_logger_mt(absl::StrCat("jalon-", service));
  logger->set_pattern(
      absl::StrCat("%Y-%m-%dT%H:%M:%S.%eZ level=%l service=", service, " %v"),
      spdlog::pattern_time_type::utc);
  logger->set_level(spdlog::level::from_str(std::string(level)));
  logger->flush_on(spdlog::level::info);
  spdlog::set_default_logger(logger);
}

std::string LogValue(std::string_view value) {
  if (value.find_first_of(" \"=\n") == std::string_view::npos &&
      !value.empty()) {
    return std::string(value);
  }
  std::string out = "\"";
  for (char c : value) {
    if (c == '"' || c == '\\') out += '\\';
    out += c == '\n' ? ' ' : c;
  }
  out += '"';
  return out;
}

}  // namespace jalon
