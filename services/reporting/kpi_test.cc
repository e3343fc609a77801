// KPI arithmetic against numbers computed by hand (the arithmetic is in the
// comments). Day counts are calendar days; 2016 and 2020 are leap years.
#include "services/reporting/kpi.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "services/common/dates.h"
#include "services/reporting/report.h"

namespace jalon::reporting {
namespace {

using roadmap::v1::IndicatorDirection;
using roadmap::v1::IndicatorUnit;
using roadmap::v1::VerificationState;

constexpr auto kIncrease = IndicatorDirection::INDICATOR_DIRECTION_INCREASE;
constexpr auto kDecrease = IndicatorDirection::INDICATOR_DIRECTION_DECREASE;
constexpr auto kVerified = VerificationState::VERIFICATION_STATE_VERIFIED;
constexpr auto kUnverified = VerificationState::VERIFICATION_STATE_UNVERIFIED;
constexpr auto kRejected = VerificationState::VERIFICATION_STATE_REJECTED;

struct Point {
  Date date;
  double value;
};

Indicator MakeIndicator(IndicatorUnit unit, IndicatorDirection direction,
                        double baseline, const Date& baseline_date,
                        double target, const Date& target_date,
                        const std::vector<Point>& trajectory = {}) {
  Indicator indicator;
  indicator.set_id("ind-1");
  indicator.set_unit(unit);
  indicator.set_direction(direction);
  indicator.set_baseline_value(baseline);
  *indicator.mutable_baseline_date() = baseline_date;
  indicator.set_target_value(target);
  *indicator.mutable_target_date() = target_date;
  for (const auto& p : trajectory) {
    auto* point = indicator.add_trajectory();
    *point->mutable_date() = p.date;
    point->set_value(p.value);
  }
  return indicator;
}

Measurement MakeMeasurement(double value, const Date& period_end,
                            VerificationState state = kVerified,
                            const std::string& id = "") {
  Measurement m;
  m.set_id(id);
  m.set_indicator_id("ind-1");
  m.set_value(value);
  *m.mutable_period_start() = period_end;
  *m.mutable_period_end() = period_end;
  m.set_verification_state(state);
  return m;
}

// --- The three 2016 ecosystems (SPEC.md) -----------------------------------
// Baseline 0 on 2016-05-02, targets due 2020-12-31.
// Days 2016-05-02 -> 2020-12-31:
//   2016-05-02 -> 2019-05-02: 3 x 365 = 1095 (Feb 29 2016 is before May)
//   2019-05-02 -> 2020-05-02: 366 (Feb 29 2020)                  -> 1461
//   2020-05-02 -> 2020-12-31: 29 (rest of May) + 30 + 31 + 31 + 30 + 31 + 30
//                             + 31 = 243                         -> 1704
// Days 2016-05-02 -> 2018-09-01: 730 + 29 + 30 + 31 + 31 + 1 = 852 = 1704/2.
// Days 2016-05-02 -> 2018-12-31: 730 + 243 = 973.
const Date kBaseline2016 = MakeDate(2016, 5, 2);
const Date kTarget2020 = MakeDate(2020, 12, 31);

Indicator Jobs() {
  return MakeIndicator(IndicatorUnit::INDICATOR_UNIT_JOBS, kIncrease, 0,
                       kBaseline2016, 13340, kTarget2020);
}
Indicator Turnover() {
  return MakeIndicator(IndicatorUnit::INDICATOR_UNIT_MAD, kIncrease, 0,
                       kBaseline2016, 11e9, kTarget2020);
}
Indicator ValueAdded() {
  return MakeIndicator(IndicatorUnit::INDICATOR_UNIT_MAD, kIncrease, 0,
                       kBaseline2016, 1.7e9, kTarget2020);
}

// A roadmap of two ecosystems, each with `indicator` (same name, so they
// roll up) and one verified figure `value` on 2026-06-30, reported for 2026
// on 2026-11-27.
pb::ReportContent TwoEcosystemsReport(const Indicator& indicator,
                                      double value) {
  RoadmapData data;
  data.roadmap.set_id("r");
  for (const char* id : {"ind-a", "ind-b"}) {
    roadmap::v1::Ecosystem eco;
    eco.set_id(std::string("eco-") + id);
    eco.set_roadmap_id("r");
    data.ecosystems.push_back(eco);
    Indicator i = indicator;
    i.set_id(id);
    i.set_ecosystem_id(eco.id());
    data.indicators.push_back(i);
    Measurement m = MakeMeasurement(value, MakeDate(2026, 6, 30));
    m.set_indicator_id(id);
    data.measurements[id].push_back(m);
  }
  pb::Period period;
  period.set_label("2026");
  *period.mutable_start_date() = MakeDate(2026, 1, 1);
  *period.mutable_end_date() = MakeDate(2026, 12, 31);
  return Compute(data, period, MakeDate(2026, 11, 27), RatingThresholds{});
}

TEST(RollupTest, NothingExpectedYetIsRedWhenTheSumWentTheWrongWay) {
  // Two ecosystems' job counts, both before their baseline date (no
  // trajectory yet), both below their baseline: the roll-up, like each
  // indicator, is not on track.
  Indicator jobs =
      MakeIndicator(IndicatorUnit::INDICATOR_UNIT_JOBS, kIncrease, 100,
                    MakeDate(2027, 1, 1), 200, MakeDate(2030, 12, 31));
  jobs.set_name("Emplois créés");
  pb::ReportContent c = TwoEcosystemsReport(jobs, 60);
  ASSERT_EQ(c.rollups_size(), 1);
  EXPECT_DOUBLE_EQ(c.rollups(0).actual_value(), 120);
  EXPECT_EQ(c.rollups(0).rating(), pb::RATING_RED);
  for (const auto& e : c.ecosystems()) {
    for (const auto& i : e.indicators()) EXPECT_EQ(i.rating(), pb::RATING_RED);
  }
}

TEST(RollupTest, APlannedDipIsRatedAsForOneIndicator) {
  // Each ecosystem plans a dip from 100 to 80 in 2026 (on 2026-11-27 its
  // trajectory is still below 100) and holds 95: better than planned,
  // GREEN, with no ratio (it would be negative).
  Indicator jobs = MakeIndicator(
      IndicatorUnit::INDICATOR_UNIT_JOBS, kIncrease, 100, MakeDate(2026, 1, 1),
      200, MakeDate(2028, 12, 31), {{MakeDate(2026, 12, 31), 80}});
  jobs.set_name("Emplois créés");
  pb::ReportContent c = TwoEcosystemsReport(jobs, 95);
  ASSERT_EQ(c.rollups_size(), 1);
  EXPECT_LT(c.rollups(0).expected_value(), 200);
  EXPECT_FALSE(c.rollups(0).has_attainment_trajectory());
  EXPECT_EQ(c.rollups(0).rating(), pb::RATING_GREEN);
  for (const auto& e : c.ecosystems()) {
    for (const auto& i : e.indicators()) {
      EXPECT_EQ(i.rating(), pb::RATING_GREEN);
    }
  }
}

TEST(RollupTest, AttainmentOfTheTargetIsUnsetWhenTheTargetIsTheBaseline) {
  // As for each indicator: nothing to attain, no percentage (it was 100%).
  Indicator centres =
      MakeIndicator(IndicatorUnit::INDICATOR_UNIT_COUNT, kIncrease, 10,
                    MakeDate(2020, 1, 1), 10, MakeDate(2030, 12, 31));
  centres.set_name("Centres techniques");
  pb::ReportContent c = TwoEcosystemsReport(centres, 8);
  ASSERT_EQ(c.rollups_size(), 1);
  EXPECT_FALSE(c.rollups(0).has_attainment_target());
  for (const auto& e : c.ecosystems()) {
    for (const auto& i : e.indicators()) {
      EXPECT_FALSE(i.has_attainment_target());
    }
  }
}

TEST(Ecosystems2016Test, DayCountsMatchTheHandArithmetic) {
  EXPECT_EQ(DaysFromCivil(kTarget2020) - DaysFromCivil(kBaseline2016), 1704);
  EXPECT_EQ(DaysFromCivil(MakeDate(2018, 9, 1)) - DaysFromCivil(kBaseline2016),
            852);
  EXPECT_EQ(
      DaysFromCivil(MakeDate(2018, 12, 31)) - DaysFromCivil(kBaseline2016),
      973);
}

TEST(Ecosystems2016Test, ExpectedJobsFollowTheStraightLine) {
  const Indicator jobs = Jobs();
  // 13340 * 852 / 1704 = 13340 / 2 = 6670 exactly.
  EXPECT_DOUBLE_EQ(ExpectedAt(jobs, MakeDate(2018, 9, 1)), 6670.0);
  // 13340 * 365 / 1704 = 4869100 / 1704 = 2857.4530516...
  EXPECT_NEAR(ExpectedAt(jobs, MakeDate(2017, 5, 2)), 2857.45305164, 1e-6);
  EXPECT_DOUBLE_EQ(ExpectedAt(jobs, kBaseline2016), 0.0);
  EXPECT_DOUBLE_EQ(ExpectedAt(jobs, kTarget2020), 13340.0);
  // Clamped outside [baseline, target].
  EXPECT_DOUBLE_EQ(ExpectedAt(jobs, MakeDate(2015, 1, 1)), 0.0);
  EXPECT_DOUBLE_EQ(ExpectedAt(jobs, MakeDate(2024, 4, 25)), 13340.0);
}

TEST(Ecosystems2016Test, FiveThousandVerifiedJobsMidwayAreRed) {
  const auto status =
      Evaluate(Jobs(), {MakeMeasurement(5000, MakeDate(2018, 6, 30))},
               MakeDate(2018, 9, 1), RatingThresholds{});
  EXPECT_EQ(status.indicator_id, "ind-1");
  EXPECT_DOUBLE_EQ(status.target, 13340.0);
  EXPECT_DOUBLE_EQ(status.expected_today, 6670.0);
  ASSERT_TRUE(status.actual.has_value());
  EXPECT_DOUBLE_EQ(*status.actual, 5000.0);
  ASSERT_TRUE(status.actual_period_end.has_value());
  EXPECT_EQ(CompareDates(*status.actual_period_end, MakeDate(2018, 6, 30)), 0);
  // vs target: 5000 / 13340 = 250 / 667 = 0.374812...
  ASSERT_TRUE(status.attainment_target.has_value());
  EXPECT_NEAR(*status.attainment_target, 0.3748125937, 1e-9);
  // vs trajectory: 5000 / 6670 = 500 / 667 = 0.749625... < 0.80 -> RED.
  ASSERT_TRUE(status.attainment_trajectory.has_value());
  EXPECT_NEAR(*status.attainment_trajectory, 0.7496251874, 1e-9);
  EXPECT_EQ(status.rating, Rating::kRed);
  EXPECT_FALSE(status.forecast.has_value());  // one point only
  EXPECT_EQ(status.unverified_count, 0);
}

TEST(Ecosystems2016Test, MoreJobsMidwayAreAmberThenGreen) {
  const Date today = MakeDate(2018, 9, 1);
  // 5400 / 6670 = 0.80959... in [0.80, 0.95) -> AMBER.
  auto status = Evaluate(Jobs(), {MakeMeasurement(5400, MakeDate(2018, 6, 30))},
                         today, RatingThresholds{});
  EXPECT_NEAR(*status.attainment_trajectory, 0.8095952024, 1e-9);
  EXPECT_EQ(status.rating, Rating::kAmber);
  // 6400 / 6670 = 0.95952... >= 0.95 -> GREEN.
  status = Evaluate(Jobs(), {MakeMeasurement(6400, MakeDate(2018, 6, 30))},
                    today, RatingThresholds{});
  EXPECT_NEAR(*status.attainment_trajectory, 0.9595202399, 1e-9);
  EXPECT_EQ(status.rating, Rating::kGreen);
}

TEST(Ecosystems2016Test, TurnoverSixBillionEndOf2018IsGreen) {
  // expected = 11e9 * 973 / 1704 = 6,281,103,286.38...
  // attainment = 6e9 / expected = 6 * 1704 / (11 * 973) = 10224 / 10703
  //            = 0.955246... >= 0.95 -> GREEN; vs target 6 / 11 = 0.5454...
  const auto status =
      Evaluate(Turnover(), {MakeMeasurement(6e9, MakeDate(2018, 12, 31))},
               MakeDate(2018, 12, 31), RatingThresholds{});
  EXPECT_NEAR(status.expected_today, 6281103286.385, 1e-2);
  EXPECT_NEAR(*status.attainment_trajectory, 10224.0 / 10703.0, 1e-12);
  EXPECT_NEAR(*status.attainment_trajectory, 0.9552461927, 1e-9);
  EXPECT_NEAR(*status.attainment_target, 0.5454545455, 1e-9);
  EXPECT_EQ(status.rating, Rating::kGreen);
}

TEST(Ecosystems2016Test, ValueAddedNineHundredMillionEndOf2018IsAmber) {
  // attainment = 0.9e9 / (1.7e9 * 973 / 1704) = 1533.6 / 1654.1 = 0.92715...
  // in [0.80, 0.95) -> AMBER; vs target 0.9 / 1.7 = 0.52941...
  const auto status =
      Evaluate(ValueAdded(), {MakeMeasurement(0.9e9, MakeDate(2018, 12, 31))},
               MakeDate(2018, 12, 31), RatingThresholds{});
  EXPECT_NEAR(*status.attainment_trajectory, 0.9271507164, 1e-9);
  EXPECT_NEAR(*status.attainment_target, 0.5294117647, 1e-9);
  EXPECT_EQ(status.rating, Rating::kAmber);
}

TEST(Ecosystems2016Test, JobsForecastFromTwoVerifiedYears) {
  // 2000 on 2017-12-31, 5000 on 2018-12-31 (365 days later): 3000 / 365 per
  // day. 2018-12-31 -> 2020-12-31 = 365 + 366 = 731 days.
  // forecast = 5000 + 3000 * 731 / 365 = 5000 + 6008.2191... = 11008.2191...
  const std::vector<Measurement> ms = {
      MakeMeasurement(2000, MakeDate(2017, 12, 31)),
      MakeMeasurement(5000, MakeDate(2018, 12, 31))};
  const auto forecast = ForecastAtTarget(Jobs(), ms);
  ASSERT_TRUE(forecast.has_value());
  EXPECT_NEAR(*forecast, 11008.2191780822, 1e-6);
  const auto status = Evaluate(Jobs(), ms, MakeDate(2019, 1, 15), {});
  ASSERT_TRUE(status.forecast.has_value());
  EXPECT_NEAR(*status.forecast, 11008.2191780822, 1e-6);
}

// --- Explicit trajectory ---------------------------------------------------
// Baseline 100 on 2020-01-01; points (2020-01-11, 200) at day 10 and
// (2020-01-31, 300) at day 30; target 600 on 2020-03-01 = day 31 + 29 = 60.
Indicator WithTrajectory(double target_value = 600,
                         std::vector<Point> extra = {}) {
  std::vector<Point> points = {{MakeDate(2020, 1, 11), 200},
                               {MakeDate(2020, 1, 31), 300}};
  for (auto& p : extra) points.push_back(p);
  return MakeIndicator(IndicatorUnit::INDICATOR_UNIT_COUNT, kIncrease, 100,
                       MakeDate(2020, 1, 1), target_value, MakeDate(2020, 3, 1),
                       points);
}

TEST(TrajectoryTest, InterpolatesBetweenConsecutivePoints) {
  const Indicator ind = WithTrajectory();
  // Day 5, between (0, 100) and (10, 200): 100 + 100 * 5 / 10 = 150.
  EXPECT_DOUBLE_EQ(ExpectedAt(ind, MakeDate(2020, 1, 6)), 150.0);
  // Day 15, between (10, 200) and (30, 300): 200 + 100 * 5 / 20 = 225.
  EXPECT_DOUBLE_EQ(ExpectedAt(ind, MakeDate(2020, 1, 16)), 225.0);
  // Day 45 (2020-02-15 = 31 + 14), between (30, 300) and (60, 600):
  // 300 + 300 * 15 / 30 = 450.
  EXPECT_DOUBLE_EQ(ExpectedAt(ind, MakeDate(2020, 2, 15)), 450.0);
  // Day 59 (2020-02-29): 300 + 300 * 29 / 30 = 590.
  EXPECT_DOUBLE_EQ(ExpectedAt(ind, MakeDate(2020, 2, 29)), 590.0);
}

TEST(TrajectoryTest, ExactlyOnAPointGivesItsValue) {
  const Indicator ind = WithTrajectory();
  EXPECT_DOUBLE_EQ(ExpectedAt(ind, MakeDate(2020, 1, 1)), 100.0);
  EXPECT_DOUBLE_EQ(ExpectedAt(ind, MakeDate(2020, 1, 11)), 200.0);
  EXPECT_DOUBLE_EQ(ExpectedAt(ind, MakeDate(2020, 1, 31)), 300.0);
  EXPECT_DOUBLE_EQ(ExpectedAt(ind, MakeDate(2020, 3, 1)), 600.0);
}

TEST(TrajectoryTest, ClampedBeforeBaselineAndAfterTarget) {
  const Indicator ind = WithTrajectory();
  EXPECT_DOUBLE_EQ(ExpectedAt(ind, MakeDate(2019, 12, 31)), 100.0);
  EXPECT_DOUBLE_EQ(ExpectedAt(ind, MakeDate(1999, 6, 1)), 100.0);
  EXPECT_DOUBLE_EQ(ExpectedAt(ind, MakeDate(2020, 3, 2)), 600.0);
  EXPECT_DOUBLE_EQ(ExpectedAt(ind, MakeDate(2030, 1, 1)), 600.0);
}

TEST(TrajectoryTest, PointOnTheTargetDateOverridesTheTargetValue) {
  // Last point (2020-03-01, 500) on the target date; target_value 600 unused.
  const Indicator ind = WithTrajectory(600, {{MakeDate(2020, 3, 1), 500}});
  EXPECT_DOUBLE_EQ(ExpectedAt(ind, MakeDate(2020, 3, 1)), 500.0);
  EXPECT_DOUBLE_EQ(ExpectedAt(ind, MakeDate(2021, 1, 1)), 500.0);
  // Day 45: 300 + (500 - 300) * 15 / 30 = 400 (not 450).
  EXPECT_DOUBLE_EQ(ExpectedAt(ind, MakeDate(2020, 2, 15)), 400.0);
}

TEST(TrajectoryTest, AFlatStretchAndADipAreFollowed) {
  // Baseline 0 on 2021-01-01; (2021-01-11, 50), (2021-01-21, 50),
  // (2021-01-31, 20); target 100 on 2021-02-10 (day 40).
  const Indicator ind =
      MakeIndicator(IndicatorUnit::INDICATOR_UNIT_COUNT, kIncrease, 0,
                    MakeDate(2021, 1, 1), 100, MakeDate(2021, 2, 10),
                    {{MakeDate(2021, 1, 11), 50},
                     {MakeDate(2021, 1, 21), 50},
                     {MakeDate(2021, 1, 31), 20}});
  EXPECT_DOUBLE_EQ(ExpectedAt(ind, MakeDate(2021, 1, 16)), 50.0);
  // Day 25: 50 + (20 - 50) * 5 / 10 = 35.
  EXPECT_DOUBLE_EQ(ExpectedAt(ind, MakeDate(2021, 1, 26)), 35.0);
  // Day 35: 20 + (100 - 20) * 5 / 10 = 60.
  EXPECT_DOUBLE_EQ(ExpectedAt(ind, MakeDate(2021, 2, 5)), 60.0);
}

TEST(TrajectoryTest, RatingUsesTheTrajectoryNotTheStraightLine) {
  // Today 2020-01-11 (day 10): trajectory 200, whereas the straight line
  // 100 -> 600 over 60 days would give 100 + 500 * 10 / 60 = 183.33.
  // Actual 196: (196 - 100) / (200 - 100) = 0.96 -> GREEN (on the straight
  // line it would be 96 / 83.33 = 1.152). Vs target: 96 / 500 = 0.192.
  const auto status =
      Evaluate(WithTrajectory(), {MakeMeasurement(196, MakeDate(2020, 1, 10))},
               MakeDate(2020, 1, 11), {});
  EXPECT_DOUBLE_EQ(status.expected_today, 200.0);
  EXPECT_NEAR(*status.attainment_trajectory, 0.96, 1e-12);
  EXPECT_NEAR(*status.attainment_target, 0.192, 1e-12);
  EXPECT_EQ(status.rating, Rating::kGreen);
  // Actual 170: 70 / 100 = 0.70 -> RED.
  const auto red =
      Evaluate(WithTrajectory(), {MakeMeasurement(170, MakeDate(2020, 1, 10))},
               MakeDate(2020, 1, 11), {});
  EXPECT_NEAR(*red.attainment_trajectory, 0.70, 1e-12);
  EXPECT_EQ(red.rating, Rating::kRed);
}

// --- A decreasing indicator: import share 60% -> 40% -----------------------
// 2020-01-01 -> 2021-01-01 = 366 days; 2020-07-02 is day 31 + 29 + 31 + 30 +
// 31 + 30 + 1 = 183 = 366 / 2.
Indicator ImportShare() {
  return MakeIndicator(IndicatorUnit::INDICATOR_UNIT_PERCENT, kDecrease, 60,
                       MakeDate(2020, 1, 1), 40, MakeDate(2021, 1, 1));
}

TEST(DecreasingTest, ExpectedValuesFall) {
  const Indicator ind = ImportShare();
  // 60 + (40 - 60) * 183 / 366 = 60 - 10 = 50.
  EXPECT_DOUBLE_EQ(ExpectedAt(ind, MakeDate(2020, 7, 2)), 50.0);
  // Day 61 (2020-03-02): 60 - 20 * 61 / 366 = 60 - 3.3333... = 56.6666...
  EXPECT_NEAR(ExpectedAt(ind, MakeDate(2020, 3, 2)), 56.6666666667, 1e-9);
  EXPECT_DOUBLE_EQ(ExpectedAt(ind, MakeDate(2019, 1, 1)), 60.0);
  EXPECT_DOUBLE_EQ(ExpectedAt(ind, MakeDate(2022, 1, 1)), 40.0);
}

TEST(DecreasingTest, ProgressIsPositiveWhenTheValueFalls) {
  // (55 - 60) / (40 - 60) = -5 / -20 = 0.25.
  EXPECT_DOUBLE_EQ(*Progress(55, 60, 40), 0.25);
  // (40 - 60) / (40 - 60) = 1.
  EXPECT_DOUBLE_EQ(*Progress(40, 60, 40), 1.0);
  // Rising is going backwards: (65 - 60) / (40 - 60) = -0.25.
  EXPECT_DOUBLE_EQ(*Progress(65, 60, 40), -0.25);
}

TEST(DecreasingTest, Rating) {
  const Date today = MakeDate(2020, 7, 2);  // expected 50
  // 51: (51 - 60) / (50 - 60) = 0.9 -> AMBER; vs target 9 / 20 = 0.45.
  auto s = Evaluate(ImportShare(), {MakeMeasurement(51, MakeDate(2020, 6, 30))},
                    today, {});
  EXPECT_NEAR(*s.attainment_trajectory, 0.9, 1e-12);
  EXPECT_NEAR(*s.attainment_target, 0.45, 1e-12);
  EXPECT_EQ(s.rating, Rating::kAmber);
  // 49: 11 / 10 = 1.1 -> GREEN.
  s = Evaluate(ImportShare(), {MakeMeasurement(49, MakeDate(2020, 6, 30))},
               today, {});
  EXPECT_NEAR(*s.attainment_trajectory, 1.1, 1e-12);
  EXPECT_EQ(s.rating, Rating::kGreen);
  // 62: -2 / -10 = -0.2 -> RED.
  s = Evaluate(ImportShare(), {MakeMeasurement(62, MakeDate(2020, 6, 30))},
               today, {});
  EXPECT_NEAR(*s.attainment_trajectory, -0.2, 1e-12);
  EXPECT_EQ(s.rating, Rating::kRed);
}

// --- Nothing expected yet: rating by direction -----------------------------
TEST(NoExpectedProgressTest, OnTheBaselineDateIncreasing) {
  const Indicator jobs = Jobs();
  auto s =
      Evaluate(jobs, {MakeMeasurement(0, kBaseline2016)}, kBaseline2016, {});
  EXPECT_DOUBLE_EQ(s.expected_today, 0.0);
  EXPECT_FALSE(s.attainment_trajectory.has_value());
  EXPECT_DOUBLE_EQ(*s.attainment_target, 0.0);
  EXPECT_EQ(s.rating, Rating::kGreen);  // 0 >= 0
  s = Evaluate(jobs, {MakeMeasurement(-3, kBaseline2016)}, kBaseline2016, {});
  EXPECT_EQ(s.rating, Rating::kRed);  // -3 < 0
  // Before the baseline date as well.
  s = Evaluate(jobs, {MakeMeasurement(10, MakeDate(2016, 1, 31))},
               MakeDate(2016, 2, 1), {});
  EXPECT_FALSE(s.attainment_trajectory.has_value());
  EXPECT_EQ(s.rating, Rating::kGreen);
}

TEST(NoExpectedProgressTest, OnTheBaselineDateDecreasing) {
  const Date today = MakeDate(2020, 1, 1);
  auto s = Evaluate(ImportShare(), {MakeMeasurement(58, today)}, today, {});
  EXPECT_FALSE(s.attainment_trajectory.has_value());
  EXPECT_EQ(s.rating, Rating::kGreen);  // 58 <= 60
  s = Evaluate(ImportShare(), {MakeMeasurement(60, today)}, today, {});
  EXPECT_EQ(s.rating, Rating::kGreen);  // 60 <= 60
  s = Evaluate(ImportShare(), {MakeMeasurement(61, today)}, today, {});
  EXPECT_EQ(s.rating, Rating::kRed);  // 61 > 60
}

TEST(NoExpectedProgressTest, TrajectoryFlatAtTheBaseline) {
  // Nothing expected before 2020-07-01: (2020-07-01, 100) at baseline 100.
  const Indicator ind = MakeIndicator(
      IndicatorUnit::INDICATOR_UNIT_COUNT, kIncrease, 100, MakeDate(2020, 1, 1),
      200, MakeDate(2021, 1, 1), {{MakeDate(2020, 7, 1), 100}});
  const Date today = MakeDate(2020, 4, 1);
  auto s = Evaluate(ind, {MakeMeasurement(100, today)}, today, {});
  EXPECT_DOUBLE_EQ(s.expected_today, 100.0);
  EXPECT_FALSE(s.attainment_trajectory.has_value());
  EXPECT_EQ(s.rating, Rating::kGreen);
  s = Evaluate(ind, {MakeMeasurement(99, today)}, today, {});
  EXPECT_EQ(s.rating, Rating::kRed);
}

TEST(NoExpectedProgressTest, APlannedDipIsRatedAgainstTheDip) {
  // Baseline 100, a planned dip to 80 on 2020-07-01 (a restructuring),
  // target 150. On the dip's day the ratio (actual - 100) / (80 - 100)
  // would rate 90 (better than planned) RED and 60 (worse) GREEN: there
  // is no ratio, and the figure is on track when it is at least the plan.
  const Indicator ind = MakeIndicator(
      IndicatorUnit::INDICATOR_UNIT_COUNT, kIncrease, 100, MakeDate(2020, 1, 1),
      150, MakeDate(2021, 1, 1), {{MakeDate(2020, 7, 1), 80}});
  const Date today = MakeDate(2020, 7, 1);
  auto s = Evaluate(ind, {MakeMeasurement(90, today)}, today, {});
  EXPECT_DOUBLE_EQ(s.expected_today, 80.0);
  EXPECT_FALSE(s.attainment_trajectory.has_value());
  EXPECT_EQ(s.rating, Rating::kGreen);
  s = Evaluate(ind, {MakeMeasurement(80, today)}, today, {});
  EXPECT_EQ(s.rating, Rating::kGreen);
  s = Evaluate(ind, {MakeMeasurement(60, today)}, today, {});
  EXPECT_EQ(s.rating, Rating::kRed);
  // Past the dip, back above the baseline: the ratio again. On 2020-10-01
  // (92 of 184 days from the dip to the target), 80 + 70 / 2 = 115.
  const Date later = MakeDate(2020, 10, 1);
  s = Evaluate(ind, {MakeMeasurement(115, later)}, later, {});
  EXPECT_DOUBLE_EQ(s.expected_today, 115.0);
  ASSERT_TRUE(s.attainment_trajectory.has_value());
  EXPECT_DOUBLE_EQ(*s.attainment_trajectory, 1.0);
  EXPECT_EQ(s.rating, Rating::kGreen);
}

TEST(NoExpectedProgressTest, ADecreasingIndicatorsPlannedRiseToo) {
  // Share of imports: baseline 60, a planned rise to 70, target 40.
  const Indicator ind =
      MakeIndicator(IndicatorUnit::INDICATOR_UNIT_PERCENT, kDecrease, 60,
                    MakeDate(2020, 1, 1), 40, MakeDate(2021, 1, 1),
                    {{MakeDate(2020, 7, 1), 70}});
  const Date today = MakeDate(2020, 7, 1);
  EXPECT_EQ(Evaluate(ind, {MakeMeasurement(65, today)}, today, {}).rating,
            Rating::kGreen);
  EXPECT_EQ(Evaluate(ind, {MakeMeasurement(75, today)}, today, {}).rating,
            Rating::kRed);
}

// --- Missing and unverified data -------------------------------------------
TEST(MissingDataTest, NoMeasurements) {
  const auto s = Evaluate(Jobs(), {}, MakeDate(2018, 9, 1), {});
  EXPECT_EQ(s.rating, Rating::kNoData);
  EXPECT_DOUBLE_EQ(s.expected_today, 6670.0);
  EXPECT_DOUBLE_EQ(s.target, 13340.0);
  EXPECT_FALSE(s.actual.has_value());
  EXPECT_FALSE(s.actual_period_end.has_value());
  EXPECT_FALSE(s.attainment_target.has_value());
  EXPECT_FALSE(s.attainment_trajectory.has_value());
  EXPECT_FALSE(s.forecast.has_value());
  EXPECT_EQ(s.unverified_count, 0);
  EXPECT_FALSE(LatestVerified({}).has_value());
  EXPECT_FALSE(ForecastAtTarget(Jobs(), {}).has_value());
}

TEST(MissingDataTest, OnlyUnverifiedIsNoDataButCounted) {
  const std::vector<Measurement> ms = {
      MakeMeasurement(4000, MakeDate(2017, 12, 31), kUnverified),
      MakeMeasurement(7000, MakeDate(2018, 6, 30), kUnverified)};
  const auto s = Evaluate(Jobs(), ms, MakeDate(2018, 9, 1), {});
  EXPECT_EQ(s.rating, Rating::kNoData);
  EXPECT_FALSE(s.actual.has_value());
  EXPECT_FALSE(s.forecast.has_value());  // two points, but not verified
  EXPECT_EQ(s.unverified_count, 2);
  EXPECT_FALSE(LatestVerified(ms).has_value());
}

TEST(MissingDataTest, RejectedAndUnverifiedAreIgnored) {
  const std::vector<Measurement> ms = {
      MakeMeasurement(5000, MakeDate(2018, 6, 30), kVerified, "v"),
      MakeMeasurement(9000, MakeDate(2018, 8, 31), kRejected, "r"),
      MakeMeasurement(8000, MakeDate(2018, 7, 31), kUnverified, "u")};
  const auto s = Evaluate(Jobs(), ms, MakeDate(2018, 9, 1), {});
  ASSERT_TRUE(s.actual.has_value());
  EXPECT_DOUBLE_EQ(*s.actual, 5000.0);
  EXPECT_EQ(s.rating, Rating::kRed);     // 5000 / 6670 as above
  EXPECT_EQ(s.unverified_count, 1);      // the rejected one is not counted
  EXPECT_FALSE(s.forecast.has_value());  // one verified point only
  EXPECT_EQ(LatestVerified(ms)->id(), "v");
}

TEST(LatestVerifiedTest, ChosenByPeriodEndNotRecordingOrder) {
  // The 2018 figure was recorded after the 2019 one: 2019 still counts.
  const std::vector<Measurement> ms = {
      MakeMeasurement(6000, MakeDate(2019, 6, 30), kVerified, "2019"),
      MakeMeasurement(5000, MakeDate(2018, 12, 31), kVerified, "2018")};
  EXPECT_EQ(LatestVerified(ms)->id(), "2019");
  const auto s = Evaluate(Jobs(), ms, MakeDate(2019, 9, 1), {});
  EXPECT_DOUBLE_EQ(*s.actual, 6000.0);
  EXPECT_EQ(CompareDates(*s.actual_period_end, MakeDate(2019, 6, 30)), 0);
}

TEST(LatestVerifiedTest, TiesGoToTheLaterRecorded) {
  const std::vector<Measurement> ms = {
      MakeMeasurement(5000, MakeDate(2018, 12, 31), kVerified, "first"),
      MakeMeasurement(5100, MakeDate(2018, 12, 31), kVerified, "second"),
      MakeMeasurement(4000, MakeDate(2018, 6, 30), kVerified, "older"),
      MakeMeasurement(5200, MakeDate(2018, 12, 31), kUnverified, "pending")};
  EXPECT_EQ(LatestVerified(ms)->id(), "second");
  EXPECT_DOUBLE_EQ(LatestVerified(ms)->value(), 5100.0);
}

// --- Forecast --------------------------------------------------------------
TEST(ForecastTest, LeastSquaresThroughThreeNonCollinearPoints) {
  // Target 2020-01-31. Points at 2020-01-01 (x = 0), 2020-01-11 (x = 10),
  // 2020-01-21 (x = 20) with y = 100, 400, 400 (x relative to 2020-01-01;
  // OLS does not depend on the origin).
  // mean x = 10, mean y = 300; Sxx = 100 + 0 + 100 = 200;
  // Sxy = (-10)(-200) + 0 * 100 + 10 * 100 = 3000; slope = 15 per day.
  // At x = 30: 300 + 15 * (30 - 10) = 600.
  const Indicator ind =
      MakeIndicator(IndicatorUnit::INDICATOR_UNIT_COUNT, kIncrease, 0,
                    MakeDate(2019, 1, 1), 1000, MakeDate(2020, 1, 31));
  // Recorded out of order, plus an unverified and a rejected outlier.
  const std::vector<Measurement> ms = {
      MakeMeasurement(400, MakeDate(2020, 1, 21)),
      MakeMeasurement(5000, MakeDate(2020, 1, 25), kRejected),
      MakeMeasurement(100, MakeDate(2020, 1, 1)),
      MakeMeasurement(-900, MakeDate(2020, 1, 5), kUnverified),
      MakeMeasurement(400, MakeDate(2020, 1, 11))};
  const auto forecast = ForecastAtTarget(ind, ms);
  ASSERT_TRUE(forecast.has_value());
  EXPECT_NEAR(*forecast, 600.0, 1e-9);
}

TEST(ForecastTest, ExactLineThroughTwoPoints) {
  // Import share 58 on 2020-03-02 (day 61), 52 on 2020-07-02 (day 183):
  // slope -6 / 122 per day; target 2021-01-01 is day 366, 183 after the
  // second point: 52 - 6 * 183 / 122 = 52 - 9 = 43.
  const auto forecast = ForecastAtTarget(
      ImportShare(), {MakeMeasurement(52, MakeDate(2020, 7, 2)),
                      MakeMeasurement(58, MakeDate(2020, 3, 2))});
  ASSERT_TRUE(forecast.has_value());
  EXPECT_NEAR(*forecast, 43.0, 1e-9);
}

TEST(ForecastTest, ASupersededFigureIsLeftOut) {
  // 0 on 2017-12-31 was a mistake, corrected to 3120 for the same period;
  // with 5000 on 2018-12-31 (365 days later) the line is 3120 + 1880 per
  // 365 days, at 2020-12-31 (731 days after 2018-12-31):
  // 5000 + 1880 * 731 / 365.
  const auto forecast =
      ForecastAtTarget(Jobs(), {MakeMeasurement(0, MakeDate(2017, 12, 31)),
                                MakeMeasurement(3120, MakeDate(2017, 12, 31)),
                                MakeMeasurement(5000, MakeDate(2018, 12, 31))});
  ASSERT_TRUE(forecast.has_value());
  EXPECT_NEAR(*forecast, 5000 + 1880.0 * 731 / 365, 1e-6);
  const std::vector<Measurement> recorded = {
      MakeMeasurement(0, MakeDate(2017, 12, 31), kVerified, "wrong"),
      MakeMeasurement(5000, MakeDate(2018, 12, 31), kVerified, "later"),
      MakeMeasurement(3120, MakeDate(2017, 12, 31), kVerified, "fixed")};
  const auto current = CurrentVerified(recorded);  // points into `recorded`
  ASSERT_EQ(current.size(), 2u);
  EXPECT_EQ(current[0]->id(), "fixed");
  EXPECT_EQ(current[1]->id(), "later");
}

TEST(MissingDataTest, AFigureForAPeriodNotOverYetDoesNotCount) {
  // Recorded early: 6500 for 2018, on 2018-09-01. Only 3000 (2017) counts,
  // against 6670 expected: red, as a report on that day says.
  const auto st = Evaluate(Jobs(),
                           {MakeMeasurement(3000, MakeDate(2017, 12, 31)),
                            MakeMeasurement(6500, MakeDate(2018, 12, 31))},
                           MakeDate(2018, 9, 1), RatingThresholds{});
  ASSERT_TRUE(st.actual.has_value());
  EXPECT_EQ(*st.actual, 3000);
  EXPECT_EQ(st.rating, Rating::kRed);
  EXPECT_FALSE(st.forecast.has_value());  // one figure that counts
}

TEST(ForecastTest, InsufficientData) {
  EXPECT_FALSE(
      ForecastAtTarget(Jobs(), {MakeMeasurement(5000, MakeDate(2018, 6, 30))})
          .has_value());
  // Two figures, only one verified.
  EXPECT_FALSE(
      ForecastAtTarget(
          Jobs(), {MakeMeasurement(5000, MakeDate(2018, 6, 30)),
                   MakeMeasurement(6000, MakeDate(2019, 6, 30), kUnverified)})
          .has_value());
}

TEST(ForecastTest, AllOnOnePeriodEndHasNoSlope) {
  EXPECT_FALSE(
      ForecastAtTarget(Jobs(), {MakeMeasurement(5000, MakeDate(2018, 6, 30)),
                                MakeMeasurement(5200, MakeDate(2018, 6, 30)),
                                MakeMeasurement(5100, MakeDate(2018, 6, 30))})
          .has_value());
}

// --- Thresholds ------------------------------------------------------------
// Baseline 0 on 2020-01-01, target 200 on 2020-03-01 (day 60); on 2020-01-31
// (day 30) 100 is expected, so the attainment is actual / 100.
Indicator Hundred() {
  return MakeIndicator(IndicatorUnit::INDICATOR_UNIT_COUNT, kIncrease, 0,
                       MakeDate(2020, 1, 1), 200, MakeDate(2020, 3, 1));
}

Rating RateHundred(double actual, const RatingThresholds& thresholds = {}) {
  return Evaluate(Hundred(), {MakeMeasurement(actual, MakeDate(2020, 1, 31))},
                  MakeDate(2020, 1, 31), thresholds)
      .rating;
}

TEST(ThresholdsTest, DefaultsAreInclusiveBoundaries) {
  EXPECT_DOUBLE_EQ(ExpectedAt(Hundred(), MakeDate(2020, 1, 31)), 100.0);
  EXPECT_EQ(RatingThresholds{}.green, 0.95);
  EXPECT_EQ(RatingThresholds{}.amber, 0.80);
  // 95 / 100 rounds to the same double as 0.95: exactly on the boundary.
  EXPECT_EQ(*Progress(95, 0, 100), 0.95);
  EXPECT_EQ(RateHundred(95), Rating::kGreen);
  EXPECT_EQ(RateHundred(94.99), Rating::kAmber);
  EXPECT_EQ(*Progress(80, 0, 100), 0.80);
  EXPECT_EQ(RateHundred(80), Rating::kAmber);
  EXPECT_EQ(RateHundred(79.99), Rating::kRed);
  EXPECT_EQ(RateHundred(150), Rating::kGreen);  // ahead of the trajectory
  EXPECT_EQ(RateHundred(-10), Rating::kRed);    // behind the baseline
}

TEST(ThresholdsTest, CustomThresholds) {
  const RatingThresholds custom{0.90, 0.50};
  EXPECT_EQ(RateHundred(92, custom), Rating::kGreen);
  EXPECT_EQ(RateHundred(90, custom), Rating::kGreen);
  EXPECT_EQ(RateHundred(89, custom), Rating::kAmber);
  EXPECT_EQ(RateHundred(60, custom), Rating::kAmber);  // RED by default
  EXPECT_EQ(RateHundred(60), Rating::kRed);
  EXPECT_EQ(RateHundred(50, custom), Rating::kAmber);
  EXPECT_EQ(RateHundred(40, custom), Rating::kRed);
  // Stricter than the default: 0.96 is no longer GREEN.
  EXPECT_EQ(RateHundred(96, RatingThresholds{0.99, 0.97}), Rating::kRed);
  EXPECT_EQ(RateHundred(96), Rating::kGreen);
}

// --- Progress, units, names ------------------------------------------------
TEST(ProgressTest, Basics) {
  EXPECT_DOUBLE_EQ(*Progress(5, 0, 10), 0.5);
  EXPECT_DOUBLE_EQ(*Progress(110, 100, 120), 0.5);
  EXPECT_DOUBLE_EQ(*Progress(100, 100, 120), 0.0);
  EXPECT_DOUBLE_EQ(*Progress(90, 100, 120), -0.5);
  EXPECT_FALSE(Progress(5, 3, 3).has_value());
  EXPECT_FALSE(Progress(3, 3, 3).has_value());
  EXPECT_TRUE(Progress(5, 3, 3.0000001).has_value());  // "exactly" equal only
}

TEST(UnitsTest, IsAdditive) {
  EXPECT_TRUE(IsAdditive(IndicatorUnit::INDICATOR_UNIT_JOBS));
  EXPECT_TRUE(IsAdditive(IndicatorUnit::INDICATOR_UNIT_MAD));
  EXPECT_TRUE(IsAdditive(IndicatorUnit::INDICATOR_UNIT_COUNT));
  EXPECT_FALSE(IsAdditive(IndicatorUnit::INDICATOR_UNIT_PERCENT));
  EXPECT_FALSE(IsAdditive(IndicatorUnit::INDICATOR_UNIT_UNSPECIFIED));
}

TEST(RatingNameTest, Names) {
  EXPECT_EQ(RatingName(Rating::kGreen), "GREEN");
  EXPECT_EQ(RatingName(Rating::kAmber), "AMBER");
  EXPECT_EQ(RatingName(Rating::kRed), "RED");
  EXPECT_EQ(RatingName(Rating::kNoData), "NO_DATA");
}

}  // namespace
}  // namespace jalon::reporting
