// KPI arithmetic of the reporting service, free of Redis and gRPC: the
// trajectory value expected at a date (linear from baseline to target, or
// interpolated between explicit trajectory points), attainment against the
// target and against the trajectory, a red/amber/green rating with
// configurable thresholds, a least-squares forecast at the target date from
// the verified measurements, and per-roadmap roll-ups of additive units.
// Only VERIFIED measurements count; the others are reported apart.
// Pure functions; thread-safe.
#ifndef JALON_SERVICES_REPORTING_KPI_H_
#define JALON_SERVICES_REPORTING_KPI_H_

#include <optional>
#include <string>
#include <vector>

#include "jalon/common/v1/common.pb.h"
#include "jalon/roadmap/v1/roadmap.pb.h"

namespace jalon::reporting {

using common::v1::Date;
using roadmap::v1::Indicator;
using roadmap::v1::Measurement;

enum class Rating { kGreen, kAmber, kRed, kNoData };

// Thresholds on the attainment against the trajectory (actual progress /
// expected progress, both measured from the baseline): >= green is GREEN,
// >= amber is AMBER, below is RED. Defaults: 0.95 and 0.80.
struct RatingThresholds {
  double green = 0.95;
  double amber = 0.80;
};

// The value expected on `date`. Before the baseline date: the baseline
// value; after the target date: the target value. In between: linear
// between consecutive points of (baseline, explicit trajectory points...,
// target), by days (DaysFromCivil).
double ExpectedAt(const Indicator& indicator, const Date& date);

// The VERIFIED measurements that count, in `measurements` order: one per
// period_end, a later-recorded one (later in the list) superseding an
// earlier one of the same period.
std::vector<const Measurement*> CurrentVerified(
    const std::vector<Measurement>& measurements);

// The measurement that counts as "the latest verified actual": among
// CurrentVerified, the one with the latest period_end. nullopt if none.
std::optional<Measurement> LatestVerified(
    const std::vector<Measurement>& measurements);

// Progress from the baseline: (value - baseline) / (reference - baseline),
// so 1.0 means the reference is reached, for increasing and decreasing
// indicators alike. nullopt when reference == baseline.
std::optional<double> Progress(double value, double baseline, double reference);

// How far `actual` is towards `expected`, on a trajectory that starts at
// `baseline`: Progress(actual, baseline, expected), but only once the
// trajectory has moved from the baseline in the indicator's direction.
// Before it has (the baseline date, a flat stretch), or while it plans a
// move the other way (a dip before growth), the ratio would read a better
// figure as a worse one: nullopt.
std::optional<double> TrajectoryAttainment(double actual, double baseline,
                                           double expected, bool decreasing);

// GREEN, AMBER or RED: TrajectoryAttainment against the thresholds; without
// it, GREEN when `actual` is at least as good as `expected` (in the
// indicator's direction), RED when not.
Rating RateOnTrajectory(double actual, double baseline, double expected,
                        bool decreasing, const RatingThresholds& thresholds);

// A least-squares line through CurrentVerified (x = days of period_end
// since 1970, y = value), evaluated at the target date. nullopt
// ("insufficient data") with fewer than two verified measurements or when
// all of them share one period_end.
std::optional<double> ForecastAtTarget(
    const Indicator& indicator, const std::vector<Measurement>& measurements);

// Everything a report says about one indicator on `today`.
struct IndicatorStatus {
  std::string indicator_id;
  double target = 0;
  double expected_today = 0;              // ExpectedAt(today)
  std::optional<double> actual;           // latest verified value
  std::optional<Date> actual_period_end;  // its period_end
  std::optional<double>
      attainment_target;  // Progress(actual, baseline, target)
  std::optional<double>
      attainment_trajectory;        // TrajectoryAttainment(.., expected_today)
  Rating rating = Rating::kNoData;  // RateOnTrajectory; kNoData without actual
  std::optional<double> forecast;   // ForecastAtTarget
  int unverified_count = 0;         // UNVERIFIED measurements, shown apart
};

// Measurements whose period ends after `today` are left out: every
// rating (reports, status, the feed's rating changes) counts the same.
IndicatorStatus Evaluate(const Indicator& indicator,
                         const std::vector<Measurement>& measurements,
                         const Date& today, const RatingThresholds& thresholds);

// Units whose values add up across ecosystems (JOBS, MAD, COUNT; not
// PERCENT).
bool IsAdditive(roadmap::v1::IndicatorUnit unit);

// "GREEN", "AMBER", "RED", "NO_DATA".
std::string RatingName(Rating rating);

}  // namespace jalon::reporting

#endif  // JALON_SERVICES_REPORTING_KPI_H_
