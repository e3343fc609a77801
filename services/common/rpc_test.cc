// The raw-method helpers of rpc.h that run without a server.
#include "services/common/rpc.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "jalon/common/v1/common.pb.h"
#include "services/common/status.h"

namespace jalon {
namespace {

std::string BytesOf(const grpc::ByteBuffer& buffer) {
  std::vector<grpc::Slice> slices;
  EXPECT_TRUE(buffer.Dump(&slices).ok());
  std::string bytes;
  for (const auto& s : slices) {
    bytes.append(reinterpret_cast<const char*>(s.begin()), s.size());
  }
  return bytes;
}

// A stream writes each message into the same buffer. gRPC asserts that the
// buffer a message past its inline size goes into is empty: reusing one
// aborted the process.
TEST(SerializeResponseTest, ReusesABufferForMessagesOfAnySize) {
  grpc::ByteBuffer buffer;
  for (size_t size : {10, 5000, 3, 70000}) {
    common::v1::Actor actor;
    actor.set_principal_id(std::string(size, 'p'));
    ASSERT_TRUE(SerializeResponse(actor, &buffer).ok());
    EXPECT_EQ(BytesOf(buffer), actor.SerializeAsString());
  }
}

TEST(ParseRequestTest, BytesThatAreNotTheMessageNameTheRequestAndItsType) {
  const std::string garbage = "\x0a\xff\xff";
  grpc::Slice slice(garbage.data(), garbage.size());
  grpc::ByteBuffer buffer(&slice, 1);
  common::v1::Actor actor;
  absl::Status s = ParseRequest(&buffer, &actor);
  EXPECT_TRUE(absl::IsInvalidArgument(s)) << s;
  auto violations = ViolationsOf(s);
  ASSERT_EQ(violations.size(), 1u);
  EXPECT_EQ(violations[0].field, "request");
  EXPECT_NE(s.message().find("jalon.common.v1.Actor"), std::string::npos) << s;
  // The buffer is left as it was: a second parse sees the same bytes.
  EXPECT_EQ(BytesOf(buffer), garbage);
}

}  // namespace
}  // namespace jalon
