#include "services/common/entity_ops.h"

#include "absl/strings/numbers.h"

namespace jalon {

absl::Status Corrupt(std::string_view kind) {
  return absl::InternalError(
      absl::StrCat("stored ", std::string(kind), " could not be decoded"));
}

absl::StatusOr<int64_t> ParseEtag(EtagArg etag) {
  if (etag.value.empty()) return 0;
  int64_t v = 0;
  if (!absl::SimpleAtoi(absl::string_view(etag.value.data(), etag.value.size()),
                        &v) ||
      v <= 0) {
    return InvalidField(
        std::string(etag.field),
        "is not an etag this service issued; read the resource again");
  }
  return v;
}

std::string EncodeToken(const std::string& s) { return Base64UrlEncode(s); }

absl::StatusOr<std::string> DecodeToken(const std::string& token) {
  std::string out;
  if (!token.empty() && (!Base64UrlDecode(token, &out) || out.size() > 64)) {
    return InvalidField("page_token", "is not a token from a previous page");
  }
  return out;
}

absl::StatusOr<int64_t> DecodeOffset(const std::string& token) {
  auto s = DecodeToken(token);
  if (!s.ok()) return s.status();
  int64_t n = 0;
  // No list is longer than 2^40; beyond that, start + count would overflow.
  if (!s->empty() &&
      (!absl::SimpleAtoi(*s, &n) || n < 0 || n > (int64_t{1} << 40))) {
    return InvalidField("page_token", "is not a token from a previous page");
  }
  return n;
}

}  // namespace jalon
