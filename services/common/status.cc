#include "services/common/status.h"

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
  std::string message = "invalid request:";
  google::rpc::BadRequest bad;
  for (const auto& v : list_) {
    absl::StrAppend(&message, " ", v.field, ": ", v.description, ";");
    auto* fv = bad.add_field_violations();
    fv->set_field(v.field);
    fv->set_description(v.description);
  }
  message.pop_back();
  absl::Status status = absl::InvalidArgumentError(message);
  status.SetPayload(kViolationsUrl, absl::Cord(bad.SerializeAsString()));
  return WithReason(std::move(status), "INVALID_FIELD");
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
  rich.set_message(std::string(status.message()));
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
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()),
                      std::string(status.message()), rich.SerializeAsString());
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
