// Calendar dates (jalon.common.v1.Date) and timestamps: validity,
// comparison, conversion from the clock in the process's date time zone.
// Pure functions, but for SetDateTimeZone.
#ifndef JALON_SERVICES_COMMON_DATES_H_
#define JALON_SERVICES_COMMON_DATES_H_

#include <google/protobuf/timestamp.pb.h>

#include <chrono>
#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "jalon/common/v1/common.pb.h"

namespace jalon {

using common::v1::Date;

// True for a real calendar day between 1900-01-01 and 9999-12-31.
bool IsValidDate(const Date& d);
// True when no field is set (an optional date left empty).
inline bool IsUnset(const Date& d) {
  return d.year() == 0 && d.month() == 0 && d.day() == 0;
}
// <0, 0, >0 like strcmp.
int CompareDates(const Date& a, const Date& b);
// Days since 1970-01-01 (valid dates only).
int64_t DaysFromCivil(const Date& d);
// The date days after 1970-01-01 (the inverse of DaysFromCivil).
Date DateFromDays(int64_t days);
// The date of the instant `t` in the date time zone: "today", lateness,
// on-time completion and report periods all follow it.
Date DateOf(std::chrono::system_clock::time_point t);
// The date of `t` in `zone` (jalonctl: the local zone).
Date DateIn(std::chrono::system_clock::time_point t,
            const absl::TimeZone& zone);
// Sets the date time zone, an IANA name ("Africa/Casablanca", "UTC") read
// from the system's tz database; UTC until then. INVALID_ARGUMENT for an
// unknown name. Once, at start, before other threads read dates.
absl::Status SetDateTimeZone(const std::string& name);
// The date time zone's name.
const std::string& DateTimeZoneName();
Date MakeDate(int year, int month, int day);
std::string FormatDate(const Date& d);  // YYYY-MM-DD
google::protobuf::Timestamp ToTimestamp(
    std::chrono::system_clock::time_point t);

}  // namespace jalon

#endif  // JALON_SERVICES_COMMON_DATES_H_
