#include "services/reporting/kpi.h"

#include <algorithm>
#include <cstdint>
#include <utility>

#include "services/common/dates.h"

namespace jalon::reporting {
namespace {

using roadmap::v1::IndicatorDirection;
using roadmap::v1::IndicatorUnit;
using roadmap::v1::VerificationState;

// One vertex of the expected-trajectory polyline: days since 1970, value.
struct Vertex {
  int64_t day;
  double value;
};

// (baseline, explicit trajectory points..., target), in that order. The
// target vertex is left out when the last trajectory point already falls on
// the target date: that point's value is the one expected there (the
// roadmap service accepts such a point only with the target value since
// 2026-11-28; one stored before may hold another). Trajectory
// points with an invalid date cannot be placed on the time axis and are
// skipped (the roadmap service rejects them on write anyway).
std::vector<Vertex> Polyline(const Indicator& indicator) {
  std::vector<Vertex> points;
  points.reserve(indicator.trajectory_size() + 2);
  points.push_back(
      {DaysFromCivil(indicator.baseline_date()), indicator.baseline_value()});
  const Date* last_point_date = nullptr;
  for (const auto& point : indicator.trajectory()) {
    if (!IsValidDate(point.date())) continue;
    points.push_back({DaysFromCivil(point.date()), point.value()});
    last_point_date = &point.date();
  }
  if (last_point_date == nullptr ||
      CompareDates(*last_point_date, indicator.target_date()) != 0) {
    points.push_back(
        {DaysFromCivil(indicator.target_date()), indicator.target_value()});
  }
  return points;
}

bool IsVerified(const Measurement& m) {
  return m.verification_state() ==
         VerificationState::VERIFICATION_STATE_VERIFIED;
}

// INCREASE unless the indicator says DECREASE, or, with no direction
// recorded, its target lies below its baseline (the inference the roadmap
// service applies on create).
bool Decreasing(const Indicator& indicator) {
  switch (indicator.direction()) {
    case IndicatorDirection::INDICATOR_DIRECTION_DECREASE:
      return true;
    case IndicatorDirection::INDICATOR_DIRECTION_INCREASE:
      return false;
    default:
      return indicator.target_value() < indicator.baseline_value();
  }
}

}  // namespace

double ExpectedAt(const Indicator& indicator, const Date& date) {
  const std::vector<Vertex> points = Polyline(indicator);
  const int64_t day = DaysFromCivil(date);
  // Clamp before the first vertex.
  if (day < points.front().day) return points.front().value;
  // `a` = the last vertex at or before `day` (so a vertex hit exactly gives
  // its own value); `b` = the vertex after it. Dates are strictly increasing
  // for a valid indicator, so b.day > day >= a.day and the division below
  // never divides by zero.
  size_t a = 0;
  while (a + 1 < points.size() && points[a + 1].day <= day) ++a;
  if (a + 1 == points.size()) return points[a].value;  // clamp after the last
  const Vertex& from = points[a];
  const Vertex& to = points[a + 1];
  return from.value + (to.value - from.value) *
                          static_cast<double>(day - from.day) /
                          static_cast<double>(to.day - from.day);
}

std::vector<const Measurement*> CurrentVerified(
    const std::vector<Measurement>& measurements) {
  std::vector<const Measurement*> out;
  for (const auto& m : measurements) {
    if (!IsVerified(m)) continue;
    auto same = std::find_if(out.begin(), out.end(), [&m](const auto* o) {
      return CompareDates(o->period_end(), m.period_end()) == 0;
    });
    if (same == out.end()) {
      out.push_back(&m);
    } else {
      *same = &m;  // recorded later: supersedes
    }
  }
  return out;
}

std::optional<Measurement> LatestVerified(
    const std::vector<Measurement>& measurements) {
  const Measurement* latest = nullptr;
  for (const Measurement* m : CurrentVerified(measurements)) {
    if (latest == nullptr ||
        CompareDates(m->period_end(), latest->period_end()) > 0) {
      latest = m;
    }
  }
  if (latest == nullptr) return std::nullopt;
  return *latest;
}

std::optional<double> Progress(double value, double baseline,
                               double reference) {
  if (reference == baseline) return std::nullopt;
  return (value - baseline) / (reference - baseline);
}

std::optional<double> TrajectoryAttainment(double actual, double baseline,
                                           double expected, bool decreasing) {
  const bool forward = decreasing ? expected < baseline : expected > baseline;
  if (!forward) return std::nullopt;
  return Progress(actual, baseline, expected);
}

Rating RateOnTrajectory(double actual, double baseline, double expected,
                        bool decreasing, const RatingThresholds& thresholds) {
  if (auto a = TrajectoryAttainment(actual, baseline, expected, decreasing)) {
    return *a >= thresholds.green   ? Rating::kGreen
           : *a >= thresholds.amber ? Rating::kAmber
                                    : Rating::kRed;
  }
  const bool on_track = decreasing ? actual <= expected : actual >= expected;
  return on_track ? Rating::kGreen : Rating::kRed;
}

std::optional<double> ForecastAtTarget(
    const Indicator& indicator, const std::vector<Measurement>& measurements) {
  std::vector<std::pair<int64_t, double>> xy;
  for (const Measurement* m : CurrentVerified(measurements)) {
    xy.emplace_back(DaysFromCivil(m->period_end()), m->value());
  }
  if (xy.size() < 2) return std::nullopt;
  bool varied = false;
  for (const auto& [x, y] : xy) varied = varied || x != xy.front().first;
  if (!varied) return std::nullopt;

  // Centred sums: the days since 1970 are ~18,000, their squares would
  // lose precision in the textbook n*Sxy - Sx*Sy form.
  const double n = static_cast<double>(xy.size());
  double sum_x = 0, sum_y = 0;
  for (const auto& [x, y] : xy) {
    sum_x += static_cast<double>(x);
    sum_y += y;
  }
  const double mean_x = sum_x / n, mean_y = sum_y / n;
  double sxx = 0, sxy = 0;
  for (const auto& [x, y] : xy) {
    const double dx = static_cast<double>(x) - mean_x;
    sxx += dx * dx;
    sxy += dx * (y - mean_y);
  }
  if (sxx == 0) return std::nullopt;
  const double slope = sxy / sxx;
  const double target_x =
      static_cast<double>(DaysFromCivil(indicator.target_date()));
  return mean_y + slope * (target_x - mean_x);
}

IndicatorStatus Evaluate(const Indicator& indicator,
                         const std::vector<Measurement>& all, const Date& today,
                         const RatingThresholds& thresholds) {
  // A figure recorded ahead of its period's end does not count yet.
  std::vector<Measurement> measurements;
  for (const auto& m : all) {
    if (CompareDates(m.period_end(), today) <= 0) measurements.push_back(m);
  }
  IndicatorStatus status;
  status.indicator_id = indicator.id();
  status.target = indicator.target_value();
  status.expected_today = ExpectedAt(indicator, today);
  for (const auto& m : measurements) {
    if (m.verification_state() ==
        VerificationState::VERIFICATION_STATE_UNVERIFIED) {
      ++status.unverified_count;
    }
  }
  status.forecast = ForecastAtTarget(indicator, measurements);

  const std::optional<Measurement> latest = LatestVerified(measurements);
  if (!latest) {
    status.rating = Rating::kNoData;
    return status;
  }
  const double baseline = indicator.baseline_value();
  const double actual = latest->value();
  status.actual = actual;
  status.actual_period_end = latest->period_end();
  status.attainment_target =
      Progress(actual, baseline, indicator.target_value());
  const bool decreasing = Decreasing(indicator);
  status.attainment_trajectory =
      TrajectoryAttainment(actual, baseline, status.expected_today, decreasing);
  status.rating = RateOnTrajectory(actual, baseline, status.expected_today,
                                   decreasing, thresholds);
  return status;
}

bool IsAdditive(IndicatorUnit unit) {
  switch (unit) {
    case IndicatorUnit::INDICATOR_UNIT_JOBS:
    case IndicatorUnit::INDICATOR_UNIT_MAD:
    case IndicatorUnit::INDICATOR_UNIT_COUNT:
      return true;
    default:
      return false;
  }
}

std::string RatingName(Rating rating) {
  switch (rating) {
    case Rating::kGreen:
      return "GREEN";
    case Rating::kAmber:
      return "AMBER";
    case Rating::kRed:
      return "RED";
    case Rating::kNoData:
      return "NO_DATA";
  }
  return "NO_DATA";  // not a Rating value: nothing meaningful to say
}

}  // namespace jalon::reporting
