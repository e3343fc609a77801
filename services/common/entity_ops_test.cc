// Tests of the request helpers of entity_ops.h that need no Redis.
#include "services/common/entity_ops.h"

#include <gtest/gtest.h>

#include "services/common/status.h"

namespace jalon {
namespace {

TEST(DecodeOffsetTest, ReadsWhatEncodeTokenWroteAndRefusesTheRest) {
  EXPECT_EQ(DecodeOffset("").value_or(-1), 0);
  EXPECT_EQ(DecodeOffset(EncodeToken("150")).value_or(-1), 150);
  EXPECT_EQ(DecodeOffset(EncodeToken("1099511627776")).value_or(-1),
            int64_t{1} << 40);
  // An offset that would overflow the range it starts (start + count) is
  // no token of ours, nor are the others.
  for (const char* bad : {"9223372036854775800", "1099511627777", "-1", "12a",
                          "99999999999999999999"}) {
    auto s = DecodeOffset(EncodeToken(bad)).status();
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << bad;
    ASSERT_EQ(ViolationsOf(s).size(), 1u) << bad;
    EXPECT_EQ(ViolationsOf(s)[0].field, "page_token");
  }
  EXPECT_EQ(DecodeOffset("not base64!").status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace jalon
