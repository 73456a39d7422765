// Confidence intervals, differences and tests for the research answers
// (docs/research.md, "Confidence intervals", "Comparisons", "Restricted mean
// survival time"): Wilson score intervals for proportions, Student t
// intervals for means, Newcombe's hybrid score interval for a difference of
// proportions, Welch's interval for a difference of means, normal intervals
// from variances, the restricted mean of a Kaplan–Meier curve with its
// variance, and the Mantel–Haenszel log-rank test.
//
// The distribution functions (Student t quantile, chi-square upper tail) are
// small implementations of the regularized incomplete beta and gamma
// functions (continued fractions and series, as in Numerical Recipes §6.2 and
// §6.4), checked against scipy's values in tests/statistics_test.cc to a
// relative 1e-10.
//
// The functions are pure: safe to call from any thread.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <vector>

#include "absl/status/statusor.h"
#include "projections/statistics.h"

namespace kring::projections {

struct Interval {
  double lower = 0;
  double upper = 0;
};

// P(T ≤ t) for Student's t with `df` > 0 degrees of freedom (df may be
// fractional, as Welch's is).
double StudentTCdf(double t, double df);
// The p quantile (0 < p < 1) of Student's t with `df` > 0 degrees of freedom.
double StudentTQuantile(double p, double df);
// P(X ≥ x) for a chi-square variable with `df` > 0 degrees of freedom.
double ChiSquareSurvival(double x, double df);

// The Wilson score interval of the proportion x / n, at the normal quantile
// z (95%: kZ95). x is taken as n when above it (a perturbed numerator may
// exceed its perturbed denominator); the lower bound at x = 0 is 0 and the
// upper at x = n is 1, exactly. nullopt when n is 0.
std::optional<Interval> Wilson(double x, double n, double z = kZ95);

// The sample standard deviation (divisor N − 1) of N values with the given
// sum and sum of squares; nullopt when N < 2. Exact (in 128-bit integers)
// for whole numbers.
std::optional<double> SampleSd(uint64_t count, int64_t sum, const __int128& sum_of_squares);
std::optional<double> SampleSd(uint64_t count, double sum, double sum_of_squares);

// The Student t interval of a mean: mean ± t(0.975, n − 1) · sd / sqrt(n).
// nullopt when n < 2.
std::optional<Interval> MeanInterval(double mean, double sd, double n);

// Newcombe's hybrid score interval (his method 10) of p1 − p2, p = x / n, from
// the two Wilson intervals. nullopt when n1 or n2 is 0.
std::optional<Interval> NewcombeDifference(double x1, double n1, double x2, double n2);

// Welch's interval of mean1 − mean2: the difference ± t(0.975, ν) · se, with
// se² = sd1²/n1 + sd2²/n2 and ν the Welch–Satterthwaite degrees of freedom.
// When se is 0 the interval is the difference itself. nullopt when n1 or n2
// is below 2.
std::optional<Interval> WelchDifference(double mean1, double sd1, double n1, double mean2, double sd2, double n2);

// The normal interval estimate ± z · sqrt(variance).
Interval NormalInterval(double estimate, double variance, double z = kZ95);

// Greenwood's variance of S(days) from a table's rows (days ascending, each
// with at_risk, events and survival): S(days)² · Σ_{t_i ≤ days} d_i /
// (n_i (n_i − d_i)), rows with d_i = n_i adding nothing (as the bands do).
double GreenwoodVariance(const std::vector<KaplanMeierRow>& rows, int64_t days);

// The restricted mean survival time to `horizon` days of the step function
// the rows give (S = 1 before the first row, flat after the last), and its
// variance Σ_{t_i ≤ horizon} A_i² d_i / (n_i (n_i − d_i)) with
// A_i = ∫_{t_i}^{horizon} S(u) du (rows with d_i = n_i adding nothing).
struct RestrictedMean {
  double days = 0;
  double variance = 0;
};
RestrictedMean RestrictedMeanSurvival(const std::vector<KaplanMeierRow>& rows, int64_t horizon);

// The Mantel–Haenszel log-rank test of equal survival over k ≥ 2 groups, each
// given as its counts of events and censorings per time (the exact
// observations). At each time t with d events among n at risk, group j with
// n_j at risk and d_j events: O_j − E_j += d_j − d n_j / n, and the
// covariance V_jl += d (n − d) / (n − 1) · n_j / n · (δ_jl − n_l / n) (n > 1).
// chi_square = (O − E)ᵀ V⁻¹ (O − E) over the first k − 1 groups, with k − 1
// degrees of freedom (what lifelines' multivariate_logrank_test computes;
// with two groups its logrank_test). FAILED_PRECONDITION when V is singular
// (no event in the groups' common follow-up); INVALID_ARGUMENT for fewer than
// two groups.
struct LogRankResult {
  double chi_square = 0;
  uint32_t degrees_of_freedom = 0;
  double p_value = 1;
};
absl::StatusOr<LogRankResult> LogRank(const std::vector<std::map<int64_t, SurvivalCounts>>& groups);

}  // namespace kring::projections
