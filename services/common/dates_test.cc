// Tests of calendar dates and the date time zone.
#include "services/common/dates.h"

#include <gtest/gtest.h>

#include <chrono>

namespace jalon {
namespace {

using std::chrono::hours;
using std::chrono::sys_days;
using std::chrono::system_clock;

// Each test that sets the zone puts UTC back for the tests that follow.
class DateTimeZoneTest : public ::testing::Test {
 protected:
  void TearDown() override { ASSERT_TRUE(SetDateTimeZone("UTC").ok()); }
};

// 2026-11-26 at 23:30 UTC is already the 27th in Casablanca (UTC+1), and
// still the 26th in New York.
const system_clock::time_point kLateEvening =
    sys_days(std::chrono::year(2026) / 11 / 26) + hours(23) +
    std::chrono::minutes(30);

TEST_F(DateTimeZoneTest, UtcUntilSetThenTheZonesCalendarDay) {
  EXPECT_EQ(DateTimeZoneName(), "UTC");
  EXPECT_EQ(FormatDate(DateOf(kLateEvening)), "2026-11-26");
  ASSERT_TRUE(SetDateTimeZone("Africa/Casablanca").ok());
  EXPECT_EQ(DateTimeZoneName(), "Africa/Casablanca");
  EXPECT_EQ(FormatDate(DateOf(kLateEvening)), "2026-11-27");
  EXPECT_EQ(FormatDate(DateOf(kLateEvening - hours(1))), "2026-11-26");
  ASSERT_TRUE(SetDateTimeZone("America/New_York").ok());
  EXPECT_EQ(FormatDate(DateOf(kLateEvening + hours(2))), "2026-11-26");
}

TEST_F(DateTimeZoneTest, AnUnknownZoneIsRefusedAndChangesNothing) {
  ASSERT_TRUE(SetDateTimeZone("Africa/Casablanca").ok());
  for (const char* bad :
       {"", "Mars/Olympus_Mons", "+01:00", "../../etc/passwd"}) {
    absl::Status s = SetDateTimeZone(bad);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_NE(s.message().find("Africa/Casablanca"), std::string::npos) << s;
  }
  EXPECT_EQ(DateTimeZoneName(), "Africa/Casablanca");
  EXPECT_EQ(FormatDate(DateOf(kLateEvening)), "2026-11-27");
}

TEST(DateFromDaysTest, InvertsDaysFromCivilWhateverTheZone) {
  for (const Date& d : {MakeDate(1900, 1, 1), MakeDate(1969, 12, 31),
                        MakeDate(1970, 1, 1), MakeDate(2024, 2, 29),
                        MakeDate(2026, 11, 27), MakeDate(9999, 12, 31)}) {
    EXPECT_EQ(CompareDates(DateFromDays(DaysFromCivil(d)), d), 0)
        << FormatDate(d);
  }
}

}  // namespace
}  // namespace jalon
