// projections/intervals.h against values from scipy 1.17 (Student t, chi
// square), statsmodels 0.15 (Wilson, Newcombe), scipy's ttest_ind /
// ttest_1samp (Welch, t), lifelines 0.30 (log-rank, restricted mean) and an
// independent numpy implementation of the RMST variance. How each value was
// computed is written beside it. tests/km_lifelines_test.py checks the same
// functions on random data through km_tool.
#include "projections/intervals.h"

#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <vector>

namespace kring::projections {
namespace {

void ExpectRelative(double expected, double actual, double tolerance = 1e-10) {
  EXPECT_NEAR(actual, expected, tolerance * std::max(1.0, std::fabs(expected))) << "expected " << expected;
}

TEST(IntervalsTest, StudentTQuantileAndCdfMatchScipy) {
  // scipy.stats.t.ppf(p, df)
  ExpectRelative(12.706204736174694, StudentTQuantile(0.975, 1));
  ExpectRelative(4.302652729749462, StudentTQuantile(0.975, 2));
  ExpectRelative(2.262157162798205, StudentTQuantile(0.975, 9));
  ExpectRelative(2.043724966772122, StudentTQuantile(0.975, 29.5));
  ExpectRelative(1.9623390808264083, StudentTQuantile(0.975, 1000));
  ExpectRelative(2.8675207071911895, StudentTQuantile(0.975, 3.7));
  ExpectRelative(1.4758840488244815, StudentTQuantile(0.9, 5));
  ExpectRelative(-1.4758840488244815, StudentTQuantile(0.1, 5));
  // scipy.stats.t.cdf(t, df)
  ExpectRelative(0.9490302605850708, StudentTCdf(2.0, 5));
  ExpectRelative(0.10900858554175706, StudentTCdf(-1.3, 12));
  ExpectRelative(0.6395903655346387, StudentTCdf(0.4, 2.5));
}

TEST(IntervalsTest, ChiSquareUpperTailMatchesScipy) {
  // scipy.stats.chi2.sf(x, df)
  ExpectRelative(0.05004352124870519, ChiSquareSurvival(3.84, 1));
  ExpectRelative(0.7788007830714049, ChiSquareSurvival(0.5, 2));
  ExpectRelative(0.01856613546304325, ChiSquareSurvival(10.0, 3));
  EXPECT_NEAR(ChiSquareSurvival(25.0, 4), 5.0309817823062075e-05, 1e-15);
  ExpectRelative(0.920344325445942, ChiSquareSurvival(0.01, 1));
  EXPECT_NEAR(ChiSquareSurvival(60, 5), 1.2154569777183007e-11, 1e-20);
  EXPECT_EQ(ChiSquareSurvival(0, 3), 1);
}

TEST(IntervalsTest, WilsonMatchesStatsmodels) {
  // statsmodels proportion_confint(x, n, alpha=0.05, method="wilson")
  auto i = Wilson(7, 40);
  ASSERT_TRUE(i.has_value());
  ExpectRelative(0.0874541374603592, i->lower);
  ExpectRelative(0.3194999033178772, i->upper);
  i = Wilson(0, 12);
  EXPECT_NEAR(i->lower, 0.0, 1e-15);
  ExpectRelative(0.24249400665524096, i->upper);
  i = Wilson(12, 12);
  ExpectRelative(0.7575059933447589, i->lower);
  ExpectRelative(1.0, i->upper);
  // A perturbed numerator above its denominator counts as the denominator.
  i = Wilson(13, 12);
  ExpectRelative(0.7575059933447589, i->lower);
  EXPECT_FALSE(Wilson(0, 0).has_value());
}

TEST(IntervalsTest, NewcombeDifferenceMatchesStatsmodels) {
  // statsmodels confint_proportions_2indep(30, 80, 12, 60, method="newcomb", compare="diff")
  auto i = NewcombeDifference(30, 80, 12, 60);
  ASSERT_TRUE(i.has_value());
  ExpectRelative(0.02171429310629369, i->lower);
  ExpectRelative(0.3116395767117006, i->upper);
  EXPECT_FALSE(NewcombeDifference(3, 0, 1, 5).has_value());
}

TEST(IntervalsTest, TMeanAndWelchMatchScipy) {
  // a = [3, 5, 7, 2, 9, 4, 6], b = [1, 2, 2, 3, 8, 1, 4, 4, 5]
  const double mean_a = 36.0 / 7, mean_b = 30.0 / 9;
  const auto sd_a = SampleSd(7, int64_t{36}, __int128{9 + 25 + 49 + 4 + 81 + 16 + 36});
  const auto sd_b = SampleSd(9, 30.0, 1.0 + 4 + 4 + 9 + 64 + 1 + 16 + 16 + 25);
  ASSERT_TRUE(sd_a && sd_b);
  ExpectRelative(2.410295378065479, *sd_a);  // numpy std(ddof=1)
  ExpectRelative(2.23606797749979, *sd_b);
  // scipy.stats.ttest_1samp(a, 0).confidence_interval(0.95)
  auto m = MeanInterval(mean_a, *sd_a, 7);
  ExpectRelative(2.9137057102626516, m->lower);
  ExpectRelative(7.372008575451635, m->upper);
  // scipy.stats.ttest_ind(a, b, equal_var=False).confidence_interval(0.95)
  auto w = WelchDifference(mean_a, *sd_a, 7, mean_b, *sd_b, 9);
  ExpectRelative(-0.7434226430544131, w->lower);
  ExpectRelative(4.362470262102033, w->upper);
  EXPECT_FALSE(MeanInterval(3, 1, 1).has_value());
  EXPECT_FALSE(SampleSd(1, int64_t{3}, __int128{9}).has_value());
  EXPECT_FALSE(WelchDifference(1, 1, 1, 2, 1, 5).has_value());
}

// lifelines' documented example of multivariate_logrank_test:
// T = [5, 3, 9, 8, 7, 4, 4, 3, 2, 5, 6, 7], E = [1, 1, 1, 1, 1, 1, 0, 0, 1, 1, 1, 0],
// G = [0, 0, 0, 0, 1, 1, 1, 1, 1, 2, 2, 2].
std::vector<std::map<int64_t, SurvivalCounts>> LifelinesExample() {
  const std::vector<int64_t> t = {5, 3, 9, 8, 7, 4, 4, 3, 2, 5, 6, 7};
  const std::vector<int> e = {1, 1, 1, 1, 1, 1, 0, 0, 1, 1, 1, 0}, g = {0, 0, 0, 0, 1, 1, 1, 1, 1, 2, 2, 2};
  std::vector<std::map<int64_t, SurvivalCounts>> groups(3);
  for (size_t i = 0; i < t.size(); ++i) {
    SurvivalCounts& c = groups[g[i]][t[i]];
    (e[i] ? c.events : c.censored) += 1;
  }
  return groups;
}

TEST(IntervalsTest, LogRankMatchesLifelines) {
  const auto groups = LifelinesExample();
  auto all = LogRank(groups);
  ASSERT_TRUE(all.ok()) << all.status();
  // multivariate_logrank_test(T, G, E)
  ExpectRelative(1.0800467314891906, all->chi_square);
  ExpectRelative(0.5827346361862382, all->p_value);
  EXPECT_EQ(all->degrees_of_freedom, 2u);
  // logrank_test(T[G == 0], T[G == 1], E[G == 0], E[G == 1])
  auto pair = LogRank({groups[0], groups[1]});
  ASSERT_TRUE(pair.ok()) << pair.status();
  ExpectRelative(0.641094062708472, pair->chi_square);
  ExpectRelative(0.4233148987080776, pair->p_value);
  EXPECT_EQ(pair->degrees_of_freedom, 1u);
  // The same test with the groups in the other order.
  ExpectRelative(pair->chi_square, LogRank({groups[1], groups[0]})->chi_square);
}

TEST(IntervalsTest, LogRankWithoutEventsOrWithOneGroupIsRefused) {
  std::map<int64_t, SurvivalCounts> censored_only = {{5, {0, 3}}};
  EXPECT_EQ(LogRank({censored_only, censored_only}).status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(LogRank({censored_only}).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(IntervalsTest, RestrictedMeanAndVarianceMatchLifelinesAndTheFormula) {
  std::map<int64_t, SurvivalCounts> all;
  for (const auto& g : LifelinesExample()) {
    for (const auto& [t, c] : g) {
      all[t].events += c.events;
      all[t].censored += c.censored;
    }
  }
  auto curve = KaplanMeierFromCounts(all);
  ASSERT_TRUE(curve.ok());
  // restricted_mean_survival_time(KaplanMeierFitter().fit(T, E), t=tau); the
  // variance: Σ A_i² d_i / (n_i (n_i − d_i)) in numpy (see the file's header).
  RestrictedMean r = RestrictedMeanSurvival(curve->rows, 6);
  ExpectRelative(5.019841269841271, r.days);
  ExpectRelative(0.14769167146576437, r.variance);
  r = RestrictedMeanSurvival(curve->rows, 20);  // past the last row (S = 0 from day 9)
  ExpectRelative(5.919312169312169, r.days);
  ExpectRelative(0.452258301828145, r.variance);
  // With a day-0 row of S = 1 in front, nothing changes.
  std::vector<KaplanMeierRow> rows = curve->rows;
  KaplanMeierRow start;
  start.at_risk = 12;
  rows.insert(rows.begin(), start);
  ExpectRelative(5.019841269841271, RestrictedMeanSurvival(rows, 6).days);
  ExpectRelative(0.14769167146576437, RestrictedMeanSurvival(rows, 6).variance);
  // No row: S = 1 throughout.
  EXPECT_EQ(RestrictedMeanSurvival({}, 730).days, 730);
}

TEST(IntervalsTest, GreenwoodVarianceOfThePublishedTable) {
  // Rows (n, d): (10, 2) at day 3, (8, 8) at day 5: S = 0.8 then 0.
  std::vector<KaplanMeierRow> rows(2);
  rows[0].days = 3, rows[0].at_risk = 10, rows[0].events = 2, rows[0].survival = 0.8;
  rows[1].days = 5, rows[1].at_risk = 8, rows[1].events = 8, rows[1].survival = 0;
  EXPECT_EQ(GreenwoodVariance(rows, 2), 0);
  ExpectRelative(0.8 * 0.8 * 2.0 / (10 * 8), GreenwoodVariance(rows, 4));
  EXPECT_EQ(GreenwoodVariance(rows, 5), 0);
}

}  // namespace
}  // namespace kring::projections
