#include "services/common/channel.h"

#include "absl/strings/str_cat.h"

namespace jalon {

std::string ClientServiceConfig(std::string_view service) {
  // No retryThrottling: a drain cancels every call in flight at once, and a
  // throttle would stop retrying after the first few. maxAttempts bounds
  // the extra load to 2 more calls per call, and only CANCELLED is retried.
  return absl::StrCat(
      R"({"methodConfig":[{"name":[{"service":")", std::string(service),
      R"("}],"retryPolicy":{"maxAttempts":3,"initialBackoff":"0.1s",)"
      R"("maxBackoff":"1s","backoffMultiplier":2,)"
      R"("retryableStatusCodes":["CANCELLED"]}}]})");
}

std::shared_ptr<grpc::Channel> Dial(const std::string& target,
                                    std::string_view service,
                                    grpc::ChannelArguments args) {
  args.SetServiceConfigJSON(ClientServiceConfig(service));
  return grpc::CreateCustomChannel(target, grpc::InsecureChannelCredentials(),
                                   args);
}

}  // namespace jalon
