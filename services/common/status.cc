#include "services/common/status.h"

#include <algorithm>
#include <utility>

#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"

namespace jalon {
namespace {

constexpr char kViolationsUrl[] = "type.googleapis.com/google.rpc.BadRequest";
constexpr char kReasonUrl[] = "jalon/reason";

}  // namespace

void Violations::Add(std::string field, std::string description) {
  list_.push_back({std::move(field), std::move(description)});
}

absl::Status Violations::ToStatus() const {
  if (list_.empty()) return absl::OkStatus();
  // The message names what fits in kMaxMessageBytes, with room left for
  // "; and N more"; the BadRequest lists what fits in kMaxReportedBytes.
  constexpr size_t kSuffixRoom = 24;
  std::string message = "invalid request:";
  size_t in_message = 0;
  bool message_full = false;
  google::rpc::BadRequest bad;
  for (const auto& v : list_) {
    auto* fv = bad.add_field_violations();
    fv->set_field(Truncated(v.field, kMaxFieldBytes));
    fv->set_description(Truncated(v.description, kMaxDescriptionBytes));
    if (bad.field_violations_size() > 1 &&
        bad.ByteSizeLong() > kMaxReportedBytes) {
      bad.mutable_field_violations()->RemoveLast();
      break;
    }
    std::string entry = absl::StrCat(in_message == 0 ? " " : "; ", fv->field(),
                                     ": ", fv->description());
    message_full =
        message_full ||
        (in_message > 0 &&
         message.size() + entry.size() + kSuffixRoom > kMaxMessageBytes);
    if (!message_full) {
      message += entry;
      ++in_message;
    }
  }
  if (in_message < list_.size()) {
    absl::StrAppend(&message, "; and ", list_.size() - in_message, " more");
  }
  absl::Status status = absl::InvalidArgumentError(message);
  status.SetPayload(kViolationsUrl, absl::Cord(bad.SerializeAsString()));
  return WithReason(std::move(status), "INVALID_FIELD");
}

std::string Truncated(absl::string_view text, size_t max_bytes) {
  if (text.size() <= max_bytes) return std::string(text);
  constexpr absl::string_view kEllipsis = "\xE2\x80\xA6";
  if (max_bytes < kEllipsis.size()) return std::string();
  size_t end = max_bytes - kEllipsis.size();
  // Not inside a character: back up over continuation bytes (10xxxxxx).
  while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) {
    --end;
  }
  return absl::StrCat(text.substr(0, end), kEllipsis);
}

absl::Status InvalidField(std::string field, std::string description) {
  Violations v;
  v.Add(std::move(field), std::move(description));
  return v.ToStatus();
}

absl::Status WithReason(absl::Status status, std::string_view reason) {
  status.SetPayload(kReasonUrl, absl::Cord(std::string(reason)));
  return status;
}

std::vector<FieldViolation> ViolationsOf(const absl::Status& status) {
  std::vector<FieldViolation> out;
  auto payload = status.GetPayload(kViolationsUrl);
  if (!payload) return out;
  google::rpc::BadRequest bad;
  if (!bad.ParseFromString(std::string(*payload))) return out;
  for (const auto& fv : bad.field_violations()) {
    out.push_back({fv.field(), fv.description()});
  }
  return out;
}

std::string ReasonOf(const absl::Status& status) {
  auto payload = status.GetPayload(kReasonUrl);
  return payload ? std::string(*payload) : std::string();
}

grpc::Status ToGrpcStatus(const absl::Status& status, std::string_view domain) {
  if (status.ok()) return grpc::Status::OK;
  google::rpc::Status rich;
  rich.set_code(static_cast<int>(status.code()));
  const std::string message = Truncated(status.message(), kMaxMessageBytes);
  rich.set_message(message);
  google::rpc::ErrorInfo info;
  std::string reason = ReasonOf(status);
  if (reason.empty()) {
    reason = absl::StatusCodeToString(status.code());
    for (char& c : reason) c = c == ' ' ? '_' : static_cast<char>(toupper(c));
  }
  info.set_reason(reason);
  info.set_domain(std::string(domain));
  rich.add_details()->PackFrom(info);
  if (auto payload = status.GetPayload(kViolationsUrl)) {
    google::rpc::BadRequest bad;
    if (bad.ParseFromString(std::string(*payload))) {
      rich.add_details()->PackFrom(bad);
    }
  }
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()), message,
                      rich.SerializeAsString());
}

absl::Status FromGrpcStatus(const grpc::Status& status) {
  if (status.ok()) return absl::OkStatus();
  absl::Status out(static_cast<absl::StatusCode>(status.error_code()),
                   status.error_message());
  google::rpc::Status rich;
  if (status.error_details().empty() ||
      !rich.ParseFromString(status.error_details())) {
    return out;
  }
  for (const auto& any : rich.details()) {
    google::rpc::ErrorInfo info;
    google::rpc::BadRequest bad;
    if (any.UnpackTo(&info)) {
      out = WithReason(out, info.reason());
    } else if (any.UnpackTo(&bad)) {
      out.SetPayload(kViolationsUrl, absl::Cord(bad.SerializeAsString()));
    }
  }
  return out;
}

}  // namespace jalon
