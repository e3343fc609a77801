// Tests of the error helpers and their gRPC form (AIP-193 rich errors).
#include "services/common/status.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
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

// The bytes a grpc::Status takes in response headers: grpc-message
// percent-encodes all but printable ASCII, grpc-status-details-bin is
// base64.
size_t HeaderBytes(const grpc::Status& g) {
  size_t message = 0;
  for (unsigned char c : g.error_message()) {
    message += (c >= 0x20 && c < 0x7f && c != '%') ? 1 : 3;
  }
  return message + (g.error_details().size() + 2) / 3 * 4;
}

// However much a request held, its error fits in gRPC's response headers
// (8 KiB by default on the client): the violations reported and their
// texts are bounded, and the message says how many it leaves out.
TEST(ViolationsTest, AreBoundedWhateverTheRequestHeld) {
  for (const std::string& letter : {std::string("x"), std::string("é")}) {
    Violations v;
    for (int i = 0; i < 200; ++i) {
      std::string value;
      for (int k = 0; k < 3000; ++k) value += letter;
      v.Add("action.depends_on_action_ids[" + std::to_string(i) + "]" + value,
            "no such action " + value);
    }
    absl::Status s = v.ToStatus();
    ASSERT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
    std::vector<FieldViolation> reported = ViolationsOf(s);
    ASSERT_GE(reported.size(), 1u);
    ASSERT_LT(reported.size(), 200u);
    for (const auto& r : reported) {
      EXPECT_LE(r.field.size(), Violations::kMaxFieldBytes);
      EXPECT_LE(r.description.size(), Violations::kMaxDescriptionBytes);
      EXPECT_EQ(r.field.rfind("action.depends_on_action_ids[", 0), 0u);
    }
    grpc::Status g = ToGrpcStatus(s, "roadmap.jalon");
    EXPECT_LE(g.error_message().size(), kMaxMessageBytes);
    // What the message leaves out, it says: never cut off at the boundary.
    EXPECT_TRUE(absl::EndsWith(g.error_message(), " more"))
        << g.error_message();
    EXPECT_EQ(g.error_message(), std::string(s.message()));
    EXPECT_LT(HeaderBytes(g), 6656u);
  }
}

// A normal request's violations are all named, in the message too.
TEST(ViolationsTest, AFewViolationsAreAllInTheMessage) {
  Violations v;
  for (int i = 0; i < 6; ++i) {
    v.Add("action.milestones[" + std::to_string(i) + "].title",
          "is longer than 200 characters");
  }
  absl::Status s = v.ToStatus();
  EXPECT_EQ(ViolationsOf(s).size(), 6u);
  EXPECT_NE(s.message().find("action.milestones[5].title"), std::string::npos);
  EXPECT_EQ(s.message().find("more"), std::string::npos) << s.message();
}

TEST(TruncatedTest, CutsAtACharacterBoundaryAndSaysSo) {
  EXPECT_EQ(Truncated("court", 10), "court");
  EXPECT_EQ(Truncated("abcdefgh", 6), "abc\xE2\x80\xA6");
  // "é" is two bytes: never cut in half.
  EXPECT_EQ(Truncated("\xC3\xA9\xC3\xA9\xC3\xA9", 5), "\xC3\xA9\xE2\x80\xA6");
  EXPECT_EQ(Truncated("\xC3\xA9\xC3\xA9\xC3\xA9", 4), "\xE2\x80\xA6");
  EXPECT_EQ(Truncated("abcdef", 2), "");
  // A four-byte character (an emoji) is kept whole or dropped.
  EXPECT_EQ(Truncated("a\xF0\x9F\x8F\xAD"
                      "bcdef",
                      7),
            "a\xE2\x80\xA6");
}

TEST(ToGrpcStatusTest, AHugeMessageIsCutToFitTheHeaders) {
  absl::Status s =
      absl::NotFoundError("no action " + std::string(1 << 20, 'x'));
  grpc::Status g = ToGrpcStatus(s, "roadmap.jalon");
  EXPECT_EQ(g.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_LE(g.error_message().size(), kMaxMessageBytes);
  EXPECT_EQ(g.error_message().rfind("no action xxx", 0), 0u);
  google::rpc::Status rich;
  ASSERT_TRUE(rich.ParseFromString(g.error_details()));
  EXPECT_EQ(rich.message(), g.error_message());
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
