#include "projections/statistics.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <map>
#include <random>
#include <vector>

namespace kring::projections {
namespace {

// The 6-MP (treatment) group of Freireich et al. (1963), the acute leukaemia
// remission data, in weeks; false = censored ("+" in the source):
// 6,6,6,6+,7,9+,10,10+,11+,13,16,17+,19+,20+,22,23,25+,32+,32+,34+,35+.
// As tabulated in Kleinbaum & Klein, "Survival Analysis: A Self-Learning
// Text" (3rd ed., 2012), chapter 2: the product-limit table for group 1.
std::vector<SurvivalObservation> SixMpGroup() {
  return {{6, true},   {6, true},   {6, true},   {6, false},  {7, true},   {9, false},  {10, true},
          {10, false}, {11, false}, {13, true},  {16, true},  {17, false}, {19, false}, {20, false},
          {22, true},  {23, true},  {25, false}, {32, false}, {32, false}, {34, false}, {35, false}};
}

KaplanMeierCurve MustFit(const std::vector<SurvivalObservation>& observations, const KaplanMeierOptions& options = {}) {
  absl::StatusOr<KaplanMeierCurve> curve = KaplanMeier(observations, options);
  EXPECT_TRUE(curve.ok()) << curve.status();
  return curve.ok() ? *std::move(curve) : KaplanMeierCurve{};
}

// Survival, Greenwood SE and bands printed to 3–4 decimals in the sources;
// the figures below are exact to 1e-9.
constexpr double kTolerance = 1e-9;

TEST(KaplanMeierTest, MatchesTheTextbookSixMpTableWithTiesAndCensoring) {
  const KaplanMeierCurve curve = MustFit(SixMpGroup());
  // One row per distinct time with an event or a censoring. Ties at 6 and at
  // 10: the censored subject is at risk at that time (events before
  // censorings), so n drops only after the row.
  struct Expected {
    int64_t days;
    uint64_t at_risk, events, censored;
    double survival;
  };
  // S by hand, product of (n - d) / n; Kleinbaum & Klein print S(6) = 0.857,
  // S(7) = 0.807, S(10) = 0.753, S(13) = 0.690, S(16) = 0.627, S(22) = 0.538,
  // S(23) = 0.448 with n = 21, 17, 15, 12, 11, 7, 6 at those times.
  //   S(6)  = 18/21                 = 0.857142857
  //   S(7)  = 0.857142857 * 16/17   = 0.806722689
  //   S(10) = 0.806722689 * 14/15   = 0.752941176
  //   S(13) = 0.752941176 * 11/12   = 0.690196078
  //   S(16) = 0.690196078 * 10/11   = 0.627450980
  //   S(22) = 0.627450980 * 6/7     = 0.537815126
  //   S(23) = 0.537815126 * 5/6     = 0.448179272
  const double s6 = 18.0 / 21, s7 = s6 * 16 / 17, s10 = s7 * 14 / 15, s13 = s10 * 11 / 12, s16 = s13 * 10 / 11,
               s22 = s16 * 6 / 7, s23 = s22 * 5 / 6;
  const std::vector<Expected> expected = {
      {6, 21, 3, 1, s6},   {7, 17, 1, 0, s7},   {9, 16, 0, 1, s7},   {10, 15, 1, 1, s10},
      {11, 13, 0, 1, s10}, {13, 12, 1, 0, s13}, {16, 11, 1, 0, s16}, {17, 10, 0, 1, s16},
      {19, 9, 0, 1, s16},  {20, 8, 0, 1, s16},  {22, 7, 1, 0, s22},  {23, 6, 1, 0, s23},
      {25, 5, 0, 1, s23},  {32, 4, 0, 2, s23},  {34, 2, 0, 1, s23},  {35, 1, 0, 1, s23},
  };
  ASSERT_EQ(curve.rows.size(), expected.size());
  for (size_t i = 0; i < expected.size(); ++i) {
    const KaplanMeierRow& row = curve.rows[i];
    SCOPED_TRACE(row.days);
    EXPECT_EQ(row.days, expected[i].days);
    EXPECT_EQ(row.at_risk, expected[i].at_risk);
    EXPECT_EQ(row.events, expected[i].events);
    EXPECT_EQ(row.censored, expected[i].censored);
    EXPECT_NEAR(row.survival, expected[i].survival, kTolerance);
  }
  EXPECT_NEAR(curve.rows[0].survival, 0.857142857, 1e-9);
  EXPECT_NEAR(curve.rows[11].survival, 0.448179272, 1e-9);

  // Greenwood, by hand:
  //   t=6:  Σ = 3/(21*18) = 1/126 = 0.0079365079, sqrt = 0.0890870806,
  //         SE = 0.857142857 * 0.0890870806 = 0.0763603548 (≈ 0.0764).
  //   t=23: Σ = 3/(21*18) + 1/(17*16) + 1/(15*14) + 1/(12*11) + 1/(11*10)
  //           + 1/(7*6) + 1/(6*5) = 0.0901844071, sqrt = 0.3003071879,
  //         SE = 0.448179272 * 0.3003071879 = 0.1345914568.
  EXPECT_NEAR(curve.rows[0].standard_error, 0.0763603548, 1e-9);
  EXPECT_NEAR(curve.rows[1].standard_error, 0.0869352852, 1e-9);  // 0.806722689 * sqrt(1/126 + 1/272)
  EXPECT_NEAR(curve.rows[11].standard_error, 0.1345914568, 1e-9);
  // A censoring-only row keeps the previous row's S and SE.
  EXPECT_EQ(curve.rows[2].standard_error, curve.rows[1].standard_error);

  // log(-log) band at t=6, by hand: log S = ln(6/7) = -0.1541506798,
  //   σ = 0.0890870806 / 0.1541506798 = 0.5779220743, zσ = 1.959963985 * σ
  //   = 1.1327064515, exp(zσ) = 3.1040460921, exp(-zσ) = 0.3221601646,
  //   lower = (6/7)^3.1040460921 = exp(-0.4784908153) = 0.6197179553,
  //   upper = (6/7)^0.3221601646 = exp(-0.0496612084) = 0.9515517476.
  EXPECT_NEAR(curve.rows[0].lower, 0.6197179553, 1e-9);
  EXPECT_NEAR(curve.rows[0].upper, 0.9515517476, 1e-9);
  // t=23: log S = -0.8025620, σ = 0.3003071879 / 0.8025620 = 0.3741857,
  //   zσ = 0.7333904, lower = S^exp(0.7333904) = S^2.0821280 = 0.1880520,
  //   upper = S^exp(-0.7333904) = S^0.4802779 = 0.6801426.
  EXPECT_NEAR(curve.rows[11].lower, 0.188052006, 1e-8);
  EXPECT_NEAR(curve.rows[11].upper, 0.680142628, 1e-8);
  for (const KaplanMeierRow& row : curve.rows) {
    EXPECT_LT(row.lower, row.survival);
    EXPECT_GT(row.upper, row.survival);
  }
}

TEST(KaplanMeierTest, LinearBandIsSurvivalPlusMinusZTimesSeClippedToOne) {
  KaplanMeierOptions options;
  options.band = ConfidenceBand::kLinear;
  const KaplanMeierCurve curve = MustFit(SixMpGroup(), options);
  ASSERT_EQ(curve.rows.size(), 16u);
  // t=6: 0.857142857 ± 1.959963985 * 0.0763603548 = 0.857142857 ± 0.1496635
  //   = [0.7074793, 1.0068064], the upper clipped to 1.
  EXPECT_NEAR(curve.rows[0].lower, 0.7074793118, 1e-9);
  EXPECT_EQ(curve.rows[0].upper, 1.0);
  // t=23: 0.448179272 ± 1.959963985 * 0.1345914568 = 0.448179272 ± 0.2637944
  //   = [0.1843849, 0.7119737].
  EXPECT_NEAR(curve.rows[11].lower, 0.1843848638, 1e-9);
  EXPECT_NEAR(curve.rows[11].upper, 0.7119736796, 1e-9);
  // The estimate and its SE do not depend on the band.
  EXPECT_NEAR(curve.rows[0].standard_error, 0.0763603548, 1e-9);
}

TEST(KaplanMeierTest, MedianIsTheFirstTimeWithSurvivalAtOrBelowHalf) {
  // Kleinbaum & Klein: median remission of the 6-MP group is 23 weeks
  // (S(22) = 0.538, S(23) = 0.448).
  EXPECT_EQ(MedianSurvival(MustFit(SixMpGroup())), 23);
  // An exact half counts: 1 - 1/2 at t=5.
  EXPECT_EQ(MedianSurvival(MustFit({{5, true}, {9, false}})), 5);
  // Exactly 0.5 through several steps (3/4 * 2/3 = 1/2) despite rounding.
  EXPECT_EQ(MedianSurvival(MustFit({{1, true}, {2, true}, {3, false}, {3, false}})), 2);
  // S stays above 0.5: none.
  EXPECT_EQ(MedianSurvival(MustFit({{1, true}, {2, false}, {3, false}})), std::nullopt);
}

TEST(KaplanMeierTest, SurvivalAtLooksUpTheStepFunction) {
  const KaplanMeierCurve six_mp = MustFit(SixMpGroup());
  EXPECT_EQ(SurvivalAt(six_mp, 0), 1.0);
  EXPECT_EQ(SurvivalAt(six_mp, 5), 1.0);
  EXPECT_EQ(RowAt(six_mp, 5), std::nullopt);
  EXPECT_NEAR(SurvivalAt(six_mp, 6), 18.0 / 21, 1e-12);
  EXPECT_NEAR(SurvivalAt(six_mp, 8), 18.0 / 21 * 16 / 17, 1e-12);
  EXPECT_NEAR(SurvivalAt(six_mp, 9), 18.0 / 21 * 16 / 17, 1e-12);
  ASSERT_TRUE(RowAt(six_mp, 12).has_value());
  EXPECT_EQ(RowAt(six_mp, 12)->days, 11);
  // Carried forward past the last observation.
  EXPECT_NEAR(SurvivalAt(six_mp, 1000), 0.448179272, 1e-9);

  // Days, one and two years: events at 100, 500, 800; censored at 400.
  //   S(365) = 3/4 = 0.75 (n = 4 at 100), S(730) = 0.75 * 1/2 = 0.375 (n = 2
  //   at 500), S(800) = 0.
  const KaplanMeierCurve years = MustFit({{100, true}, {400, false}, {500, true}, {800, true}});
  EXPECT_DOUBLE_EQ(SurvivalAt(years, 365), 0.75);
  EXPECT_DOUBLE_EQ(SurvivalAt(years, 730), 0.375);
  EXPECT_EQ(SurvivalAt(years, 800), 0.0);
  ASSERT_TRUE(RowAt(years, 730).has_value());
  EXPECT_EQ(RowAt(years, 730)->at_risk, 2u);
}

TEST(KaplanMeierTest, FromCountsEqualsFromObservationsAndMerges) {
  const KaplanMeierCurve direct = MustFit(SixMpGroup());
  // Two partial aggregations (odd and even positions), merged by adding.
  std::map<int64_t, SurvivalCounts> a, b;
  const std::vector<SurvivalObservation> all = SixMpGroup();
  for (size_t i = 0; i < all.size(); ++i) {
    SurvivalCounts& c = (i % 2 ? a : b)[all[i].days];
    (all[i].event ? c.events : c.censored) += 1;
  }
  std::map<int64_t, SurvivalCounts> merged = a;
  for (const auto& [days, c] : b) {
    merged[days].events += c.events;
    merged[days].censored += c.censored;
  }
  merged[3] = {};  // A time with no counts adds no row.
  absl::StatusOr<KaplanMeierCurve> from_counts = KaplanMeierFromCounts(merged);
  ASSERT_TRUE(from_counts.ok()) << from_counts.status();
  ASSERT_EQ(from_counts->rows.size(), direct.rows.size());
  for (size_t i = 0; i < direct.rows.size(); ++i) {
    EXPECT_EQ(from_counts->rows[i].days, direct.rows[i].days);
    EXPECT_EQ(from_counts->rows[i].at_risk, direct.rows[i].at_risk);
    EXPECT_EQ(from_counts->rows[i].survival, direct.rows[i].survival);
    EXPECT_EQ(from_counts->rows[i].lower, direct.rows[i].lower);
    EXPECT_EQ(from_counts->rows[i].upper, direct.rows[i].upper);
  }
}

TEST(KaplanMeierTest, EmptyInputGivesAnEmptyCurve) {
  const KaplanMeierCurve curve = MustFit({});
  EXPECT_TRUE(curve.rows.empty());
  EXPECT_EQ(SurvivalAt(curve, 365), 1.0);
  EXPECT_EQ(MedianSurvival(curve), std::nullopt);
  absl::StatusOr<KaplanMeierCurve> from_counts = KaplanMeierFromCounts({});
  ASSERT_TRUE(from_counts.ok());
  EXPECT_TRUE(from_counts->rows.empty());
}

TEST(KaplanMeierTest, AllCensoredKeepsSurvivalAtOneWithADegenerateBand) {
  for (ConfidenceBand band : {ConfidenceBand::kLogLog, ConfidenceBand::kLinear}) {
    KaplanMeierOptions options;
    options.band = band;
    const KaplanMeierCurve curve = MustFit({{0, false}, {3, false}, {3, false}, {10, false}}, options);
    ASSERT_EQ(curve.rows.size(), 3u);
    EXPECT_EQ(curve.rows[1].at_risk, 3u);
    EXPECT_EQ(curve.rows[1].censored, 2u);
    for (const KaplanMeierRow& row : curve.rows) {
      EXPECT_EQ(row.survival, 1.0);
      EXPECT_EQ(row.standard_error, 0.0);
      EXPECT_EQ(row.lower, 1.0);
      EXPECT_EQ(row.upper, 1.0);
    }
    EXPECT_EQ(MedianSurvival(curve), std::nullopt);
  }
}

TEST(KaplanMeierTest, AllEventsAtOneTimeDropSurvivalToZero) {
  for (ConfidenceBand band : {ConfidenceBand::kLogLog, ConfidenceBand::kLinear}) {
    KaplanMeierOptions options;
    options.band = band;
    const KaplanMeierCurve curve = MustFit({{4, true}, {4, true}, {4, true}}, options);
    ASSERT_EQ(curve.rows.size(), 1u);
    const KaplanMeierRow& row = curve.rows[0];
    EXPECT_EQ(row.at_risk, 3u);
    EXPECT_EQ(row.events, 3u);
    EXPECT_EQ(row.survival, 0.0);
    EXPECT_EQ(row.standard_error, 0.0);
    EXPECT_EQ(row.lower, 0.0);
    EXPECT_EQ(row.upper, 0.0);
    EXPECT_EQ(MedianSurvival(curve), 4);
  }
}

TEST(KaplanMeierTest, TheLastEventAfterEarlierOnesEndsAtZeroWithoutNans) {
  // n = 3 at 1 (one event), then 2 at 2 (both events): S = 2/3, then 0. The
  // d = n term is left out of Greenwood's sum (it is undefined).
  const KaplanMeierCurve curve = MustFit({{1, true}, {2, true}, {2, true}});
  ASSERT_EQ(curve.rows.size(), 2u);
  EXPECT_NEAR(curve.rows[0].standard_error, 2.0 / 3 * std::sqrt(1.0 / 6), 1e-12);
  EXPECT_EQ(curve.rows[1].survival, 0.0);
  EXPECT_EQ(curve.rows[1].standard_error, 0.0);
  EXPECT_EQ(curve.rows[1].lower, 0.0);
  EXPECT_EQ(curve.rows[1].upper, 0.0);
}

TEST(KaplanMeierTest, EventsAtDayZeroCount) {
  const KaplanMeierCurve curve = MustFit({{0, true}, {0, false}, {5, true}, {7, false}});
  ASSERT_EQ(curve.rows.size(), 3u);
  EXPECT_EQ(curve.rows[0].days, 0);
  EXPECT_EQ(curve.rows[0].at_risk, 4u);
  EXPECT_DOUBLE_EQ(curve.rows[0].survival, 0.75);
  EXPECT_DOUBLE_EQ(curve.rows[1].survival, 0.75 * 0.5);
}

TEST(KaplanMeierTest, RejectsNegativeTimesAndBadOptions) {
  EXPECT_EQ(KaplanMeier({{3, true}, {-1, false}}).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(KaplanMeierFromCounts({{-2, {1, 0}}}).status().code(), absl::StatusCode::kInvalidArgument);
  KaplanMeierOptions options;
  options.z = -1;
  EXPECT_EQ(KaplanMeier({{3, true}}, options).status().code(), absl::StatusCode::kInvalidArgument);
  options.z = std::nan("");
  EXPECT_EQ(KaplanMeier({{3, true}}, options).status().code(), absl::StatusCode::kInvalidArgument);
  const uint64_t max = std::numeric_limits<uint64_t>::max();
  EXPECT_EQ(KaplanMeierFromCounts({{1, {max, 0}}, {2, {0, 1}}}).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(PercentileTest, InterpolatesBetweenClosestRanks) {
  const std::vector<int64_t> values = {1, 2, 3, 4};
  // rank = p * 3.
  EXPECT_EQ(*Percentile(values, 0.0), 1.0);
  EXPECT_DOUBLE_EQ(*Percentile(values, 0.1), 1.3);  // rank 0.3
  EXPECT_DOUBLE_EQ(*Percentile(values, 0.5), 2.5);  // rank 1.5
  EXPECT_DOUBLE_EQ(*Percentile(values, 0.9), 3.7);  // rank 2.7
  EXPECT_EQ(*Percentile(values, 1.0), 4.0);
  EXPECT_EQ(*Percentile(std::vector<uint32_t>{7}, 0.25), 7.0);
  EXPECT_DOUBLE_EQ(*Percentile(std::vector<double>{-1.5, 0.5, 10.0}, 0.75), 5.25);  // rank 1.5
}

TEST(PercentileTest, HistogramGivesTheSameFiguresWithoutExpanding) {
  // {1, 1, 1, 5, 9, 9}: rank = p * 5.
  const std::map<int64_t, uint64_t> histogram = {{1, 3}, {4, 0}, {5, 1}, {9, 2}};
  EXPECT_EQ(*Percentile(histogram, 0.0), 1.0);
  EXPECT_EQ(*Percentile(histogram, 0.4), 1.0);         // rank 2: the last 1
  EXPECT_DOUBLE_EQ(*Percentile(histogram, 0.5), 3.0);  // rank 2.5: between 1 and 5
  EXPECT_DOUBLE_EQ(*Percentile(histogram, 0.7), 7.0);  // rank 3.5: between 5 and 9
  EXPECT_EQ(*Percentile(histogram, 1.0), 9.0);
  // Counts far beyond what could be expanded.
  const std::map<int64_t, uint64_t> huge = {{10, 3'000'000'000'000}, {20, 1'000'000'000'000}};
  EXPECT_EQ(*Percentile(huge, 0.5), 10.0);
  EXPECT_EQ(*Percentile(huge, 1.0), 20.0);
}

TEST(PercentileTest, VectorAndHistogramAgreeOnRandomData) {
  std::mt19937_64 random(20240607);
  for (int trial = 0; trial < 200; ++trial) {
    const int n = 1 + static_cast<int>(random() % 300);
    const int64_t spread = 1 + static_cast<int64_t>(random() % 50);
    std::vector<int64_t> values;
    std::map<int64_t, uint64_t> histogram;
    for (int i = 0; i < n; ++i) {
      const int64_t v = static_cast<int64_t>(random() % spread) - 10;
      values.push_back(v);
      ++histogram[v];
    }
    std::sort(values.begin(), values.end());
    for (double p : {0.0, 0.1, 0.25, 0.5, 0.75, 0.9, 1.0, std::uniform_real_distribution<double>(0, 1)(random)}) {
      SCOPED_TRACE(testing::Message() << "trial " << trial << " n " << n << " p " << p);
      absl::StatusOr<double> from_vector = Percentile(values, p);
      absl::StatusOr<double> from_histogram = Percentile(histogram, p);
      ASSERT_TRUE(from_vector.ok() && from_histogram.ok());
      EXPECT_EQ(*from_vector, *from_histogram);
    }
  }
}

TEST(PercentileTest, RejectsNoValuesAndPOutsideZeroToOne) {
  EXPECT_EQ(Percentile(std::vector<int64_t>{}, 0.5).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Percentile(std::map<int64_t, uint64_t>{}, 0.5).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Percentile(std::map<int64_t, uint64_t>{{3, 0}}, 0.5).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Percentile(std::vector<int64_t>{1, 2}, 1.5).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Percentile(std::vector<int64_t>{1, 2}, -0.1).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Percentile(std::map<int64_t, uint64_t>{{1, 2}}, std::nan("")).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(DenseCountsTest, CountsAndMergesKeysInAndOutsideTheArray) {
  DenseCounts a, b;
  a.Add(5);
  a.Add(0, 2);
  a.Add(-3);                       // negative: outside the array
  a.Add(DenseCounts::kDense + 7);  // too large for it
  b.Add(5, 4);
  b.Add(-3);
  b.Add(9000);
  a.Merge(b);
  const std::map<int64_t, uint64_t> want = {{-3, 2}, {0, 2}, {5, 5}, {9000, 1}, {DenseCounts::kDense + 7, 1}};
  EXPECT_EQ(a.ToMap(), want);
  EXPECT_EQ(*Percentile(a.ToMap(), 0.5), 5.0);  // 11 values: the 6th is 5
  EXPECT_TRUE(DenseCounts().ToMap().empty());
}

}  // namespace
}  // namespace kring::projections
