// Tests of the request helpers' UTF-8 check.
#include "services/common/requests.h"

#include <gtest/gtest.h>

#include <string>

#include "jalon/roadmap/v1/roadmap.pb.h"

namespace jalon {
namespace {

TEST(InvalidUtf8AtTest, FindsTheFirstByteThatIsNotUtf8) {
  constexpr size_t kValid = std::string_view::npos;
  for (const std::string ok : {"", "Métal", "مصنع", "emoji \xF0\x9F\x8F\xAD",
                               "\xEF\xBF\xBF", "\xF4\x8F\xBF\xBF"}) {
    EXPECT_EQ(InvalidUtf8At(ok), kValid) << ok;
  }
  EXPECT_EQ(InvalidUtf8At("M\xE9tal"), 1u);          // Latin-1 é
  EXPECT_EQ(InvalidUtf8At("ab\xC3"), 2u);            // cut short
  EXPECT_EQ(InvalidUtf8At("\xC0\xAF"), 0u);          // overlong '/'
  EXPECT_EQ(InvalidUtf8At("x\xE0\x80\xAF"), 1u);     // overlong
  EXPECT_EQ(InvalidUtf8At("\xED\xA0\x80"), 0u);      // a surrogate
  EXPECT_EQ(InvalidUtf8At("\xF4\x90\x80\x80"), 0u);  // above U+10FFFF
  EXPECT_EQ(InvalidUtf8At("ok\x80"), 2u);            // a lone continuation
  EXPECT_EQ(InvalidUtf8At("\xC3\xA9\xC3("), 2u);     // é, then broken
}

// An update takes no unknown field from the client (nothing bounds them),
// and keeps those already stored (a newer build's, in a rolling deploy).
TEST(ApplyMaskTest, TakesNoUnknownFieldFromThePatchAndKeepsTheStoredOnes) {
  roadmap::v1::Action stored;
  stored.set_title("Avant");
  stored.GetReflection()->MutableUnknownFields(&stored)->AddLengthDelimited(
      998, "a newer build's field");
  roadmap::v1::Action patch;
  patch.set_title("Après");
  patch.GetReflection()->MutableUnknownFields(&patch)->AddLengthDelimited(
      999, std::string(1 << 16, 'x'));
  auto* m = patch.add_milestones();
  m->set_title("Étude");
  m->GetReflection()->MutableUnknownFields(m)->AddLengthDelimited(
      999, std::string(1 << 16, 'x'));
  google::protobuf::FieldMask mask;
  mask.add_paths("title");
  mask.add_paths("milestones");
  ASSERT_TRUE(ApplyMask(patch, mask, {"title", "milestones"}, &stored).ok());
  EXPECT_EQ(stored.title(), "Après");
  ASSERT_EQ(stored.milestones_size(), 1);
  EXPECT_EQ(stored.milestones(0)
                .GetReflection()
                ->GetUnknownFields(stored.milestones(0))
                .field_count(),
            0);
  const auto& unknown = stored.GetReflection()->GetUnknownFields(stored);
  ASSERT_EQ(unknown.field_count(), 1);
  EXPECT_EQ(unknown.field(0).number(), 998);
}

}  // namespace
}  // namespace jalon
