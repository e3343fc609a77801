// Tests of the error helpers and their gRPC form (AIP-193 rich errors).
#include "services/common/status.h"

#include <gtest/gtest.h>

#include <string>

#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"

namespace jalon {
namespace {

TEST(ViolationsTest, EmptyIsOk) {
  Violations v;
  EXPECT_TRUE(v.empty());
  EXPECT_TRUE(v.ToStatus().ok());
}

TEST(ViolationsTest, AllFieldsAreReportedAtOnce) {
  Violations v;
  v.Add("action.title", "must not be empty");
  v.Add("action.due_date.month", "must be 1..12");
  absl::Status s = v.ToStatus();
  ASSERT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("action.title: must not be empty"),
            std::string::npos)
      << s;
  EXPECT_NE(s.message().find("action.due_date.month: must be 1..12"),
            std::string::npos)
      << s;
  auto list = ViolationsOf(s);
  ASSERT_EQ(list.size(), 2u);
  EXPECT_EQ(list[0].field, "action.title");
  EXPECT_EQ(list[0].description, "must not be empty");
  EXPECT_EQ(list[1].field, "action.due_date.month");
  EXPECT_EQ(ReasonOf(s), "INVALID_FIELD");
}

TEST(ViolationsTest, InvalidFieldIsOneViolation) {
  absl::Status s = InvalidField("page_size", "must be 0..1000");
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  auto list = ViolationsOf(s);
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0].field, "page_size");
}

TEST(StatusTest, ReasonAndViolationsAbsentOnPlainStatus) {
  absl::Status s = absl::NotFoundError("action A-1 not found");
  EXPECT_TRUE(ViolationsOf(s).empty());
  EXPECT_TRUE(ReasonOf(s).empty());
  EXPECT_EQ(ReasonOf(WithReason(s, "ACTION_NOT_FOUND")), "ACTION_NOT_FOUND");
}

// The google.rpc.Status in a grpc::Status' details.
google::rpc::Status Rich(const grpc::Status& status) {
  google::rpc::Status rich;
  EXPECT_TRUE(rich.ParseFromString(status.error_details()));
  return rich;
}

TEST(ToGrpcStatusTest, OkIsOk) {
  grpc::Status g = ToGrpcStatus(absl::OkStatus(), "roadmap.jalon");
  EXPECT_TRUE(g.ok());
  EXPECT_TRUE(g.error_details().empty());
}

TEST(ToGrpcStatusTest, InvalidArgumentCarriesErrorInfoAndBadRequest) {
  Violations v;
  v.Add("action.title", "must not be empty");
  v.Add("action.owner", "unknown principal");
  grpc::Status g = ToGrpcStatus(v.ToStatus(), "roadmap.jalon");
  EXPECT_EQ(g.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(g.error_message(), std::string(v.ToStatus().message()));

  google::rpc::Status rich = Rich(g);
  EXPECT_EQ(rich.code(), static_cast<int>(grpc::StatusCode::INVALID_ARGUMENT));
  EXPECT_EQ(rich.message(), g.error_message());
  bool saw_info = false, saw_bad = false;
  for (const auto& any : rich.details()) {
    google::rpc::ErrorInfo info;
    google::rpc::BadRequest bad;
    if (any.Is<google::rpc::ErrorInfo>()) {
      ASSERT_TRUE(any.UnpackTo(&info));
      saw_info = true;
      EXPECT_EQ(info.reason(), "INVALID_FIELD");
      EXPECT_EQ(info.domain(), "roadmap.jalon");
    } else if (any.Is<google::rpc::BadRequest>()) {
      ASSERT_TRUE(any.UnpackTo(&bad));
      saw_bad = true;
      ASSERT_EQ(bad.field_violations_size(), 2);
      EXPECT_EQ(bad.field_violations(0).field(), "action.title");
      EXPECT_EQ(bad.field_violations(0).description(), "must not be empty");
      EXPECT_EQ(bad.field_violations(1).field(), "action.owner");
    }
  }
  EXPECT_TRUE(saw_info);
  EXPECT_TRUE(saw_bad);
}

TEST(ToGrpcStatusTest, CodeWithoutReasonGetsTheCodeNameAsReason) {
  grpc::Status g = ToGrpcStatus(absl::FailedPreconditionError("not allowed"),
                                "roadmap.jalon");
  EXPECT_EQ(g.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  google::rpc::Status rich = Rich(g);
  ASSERT_EQ(rich.details_size(), 1);
  google::rpc::ErrorInfo info;
  ASSERT_TRUE(rich.details(0).UnpackTo(&info));
  EXPECT_EQ(info.reason(), "FAILED_PRECONDITION");
}

TEST(ToGrpcStatusTest, EveryCodeMapsToTheSameGrpcCode) {
  for (int c = 1; c <= 16; ++c) {
    auto code = static_cast<absl::StatusCode>(c);
    grpc::Status g = ToGrpcStatus(absl::Status(code, "m"), "d");
    EXPECT_EQ(static_cast<int>(g.error_code()), c);
    EXPECT_EQ(g.error_message(), "m");
  }
}

TEST(FromGrpcStatusTest, RoundTripsCodeMessageReasonAndViolations) {
  Violations v;
  v.Add("feedback.kind", "must be set");
  absl::Status original = v.ToStatus();
  absl::Status back = FromGrpcStatus(ToGrpcStatus(original, "feedback.jalon"));
  EXPECT_EQ(back.code(), original.code());
  EXPECT_EQ(back.message(), original.message());
  EXPECT_EQ(ReasonOf(back), "INVALID_FIELD");
  auto list = ViolationsOf(back);
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0].field, "feedback.kind");
  EXPECT_EQ(list[0].description, "must be set");

  absl::Status stale =
      WithReason(absl::AbortedError("stale etag"), "STALE_ETAG");
  absl::Status stale_back = FromGrpcStatus(ToGrpcStatus(stale, "d"));
  EXPECT_EQ(stale_back.code(), absl::StatusCode::kAborted);
  EXPECT_EQ(ReasonOf(stale_back), "STALE_ETAG");
  EXPECT_TRUE(ViolationsOf(stale_back).empty());
}

TEST(FromGrpcStatusTest, PlainAndGarbledDetailsKeepCodeAndMessage) {
  EXPECT_TRUE(FromGrpcStatus(grpc::Status::OK).ok());
  absl::Status plain = FromGrpcStatus(
      grpc::Status(grpc::StatusCode::UNAVAILABLE, "server overloaded"));
  EXPECT_EQ(plain.code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(plain.message(), "server overloaded");
  EXPECT_TRUE(ReasonOf(plain).empty());

  absl::Status garbled = FromGrpcStatus(grpc::Status(
      grpc::StatusCode::INTERNAL, "oops", std::string("\xff\x01garbage", 9)));
  EXPECT_EQ(garbled.code(), absl::StatusCode::kInternal);
  EXPECT_EQ(garbled.message(), "oops");
}

}  // namespace
}  // namespace jalon
