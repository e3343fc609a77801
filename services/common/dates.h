// Calendar dates (jalon.common.v1.Date) and timestamps: validity,
// comparison, conversion from the clock (UTC). Pure functions.
#ifndef JALON_SERVICES_COMMON_DATES_H_
#define JALON_SERVICES_COMMON_DATES_H_

#include <google/protobuf/timestamp.pb.h>

#include <chrono>
#include <cstdint>
#include <string>

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
Date DateOf(std::chrono::system_clock::time_point t);  // UTC
Date MakeDate(int year, int month, int day);
std::string FormatDate(const Date& d);  // YYYY-MM-DD
google::protobuf::Timestamp ToTimestamp(
    std::chrono::system_clock::time_point t);

}  // namespace jalon

#endif  // JALON_SERVICES_COMMON_DATES_H_
