// Tests of the request helpers' UTF-8 check.
#include "services/common/requests.h"

#include <gtest/gtest.h>

#include <string>

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

}  // namespace
}  // namespace jalon
