#include "services/common/dates.h"

#include <cstdio>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"

namespace jalon {

bool IsValidDate(const Date& d) {
  if (d.year() < 1900 || d.year() > 9999 || d.month() < 1 || d.month() > 12 ||
      d.day() < 1) {
    return false;
  }
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30,
                                  31, 31, 30, 31, 30, 31};
  int y = d.year();
  bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  int max = kDays[d.month() - 1] + (d.month() == 2 && leap ? 1 : 0);
  return d.day() <= max;
}

int CompareDates(const Date& a, const Date& b) {
  if (a.year() != b.year()) return a.year() < b.year() ? -1 : 1;
  if (a.month() != b.month()) return a.month() < b.month() ? -1 : 1;
  if (a.day() != b.day()) return a.day() < b.day() ? -1 : 1;
  return 0;
}

int64_t DaysFromCivil(const Date& d) {
  // Howard Hinnant's days_from_civil.
  int64_t y = d.year() - (d.month() <= 2 ? 1 : 0);
  int64_t era = (y >= 0 ? y : y - 399) / 400;
  int64_t yoe = y - era * 400;
  int64_t m = d.month();
  int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d.day() - 1;
  int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

namespace {

// The date time zone: UTC (no zone to load) unless set. Written once at
// start, before any other thread runs, then only read.
struct DateZone {
  std::string name = "UTC";
  bool utc = true;
  absl::TimeZone zone = absl::UTCTimeZone();
};

DateZone& Zone() {
  static DateZone* zone = new DateZone;
  return *zone;
}

}  // namespace

absl::Status SetDateTimeZone(const std::string& name) {
  absl::TimeZone zone;
  if (name.empty() || !absl::LoadTimeZone(name, &zone)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "unknown time zone '", name,
        "': expected a name of the tz database, such as Africa/Casablanca "
        "or UTC"));
  }
  DateZone& z = Zone();
  z.name = name;
  z.utc = name == "UTC";
  z.zone = zone;
  return absl::OkStatus();
}

const std::string& DateTimeZoneName() { return Zone().name; }

Date DateOf(std::chrono::system_clock::time_point t) {
  const DateZone& z = Zone();
  if (z.utc) {
    return DateFromDays(
        std::chrono::floor<std::chrono::days>(t).time_since_epoch().count());
  }
  return DateIn(t, z.zone);
}

Date DateIn(std::chrono::system_clock::time_point t,
            const absl::TimeZone& zone) {
  const absl::CivilDay day = absl::ToCivilDay(absl::FromChrono(t), zone);
  return MakeDate(static_cast<int>(day.year()), day.month(), day.day());
}

Date DateFromDays(int64_t z) {
  z += 719468;
  int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  int64_t doe = z - era * 146097;
  int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  int64_t y = yoe + era * 400;
  int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  int64_t mp = (5 * doy + 2) / 153;
  int64_t day = doy - (153 * mp + 2) / 5 + 1;
  int64_t month = mp + (mp < 10 ? 3 : -9);
  return MakeDate(static_cast<int>(y + (month <= 2 ? 1 : 0)),
                  static_cast<int>(month), static_cast<int>(day));
}

Date MakeDate(int year, int month, int day) {
  Date d;
  d.set_year(year);
  d.set_month(month);
  d.set_day(day);
  return d;
}

std::string FormatDate(const Date& d) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02d", d.year(), d.month(),
                d.day());
  return buf;
}

google::protobuf::Timestamp ToTimestamp(
    std::chrono::system_clock::time_point t) {
  auto ns =
      std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch())
          .count();
  google::protobuf::Timestamp ts;
  ts.set_seconds(ns / 1'000'000'000);
  ts.set_nanos(static_cast<int32_t>(ns % 1'000'000'000));
  return ts;
}

}  // namespace jalon
