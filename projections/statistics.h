// Statistics for the research read models (DESIGN section 4): the
// Kaplan–Meier estimator with Greenwood confidence bands ("support held"), and
// percentiles by linear interpolation between closest ranks, from sorted
// values or from a histogram of counts ("median days between steps"); and
// DenseCounts, the histogram a query counts into.
//
// The functions are pure: no state, safe to call from any thread. A
// DenseCounts belongs to one thread at a time.
#pragma once

#include <algorithm>
#include <cassert>
#include <cmath>
#include <cstdint>
#include <map>
#include <optional>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace kring::projections {

// ---------------------------------------------------------------------------
// Kaplan–Meier
//
// Conventions:
//  - Time is a whole number of days since the origin, ≥ 0.
//  - At risk at t: the observations with time ≥ t. Ties: the events at t
//    happen before the censorings at t, so a subject censored at t is counted
//    at risk at t (the standard convention, as lifelines and R's survfit).
//  - S(t) = Π_{t_i ≤ t} (1 − d_i / n_i), a right-continuous step function.
//  - Greenwood: Var(S(t)) = S(t)² · Σ_{t_i ≤ t} d_i / (n_i (n_i − d_i)). A
//    time where everyone at risk has the event (d_i = n_i, so S = 0) adds
//    nothing to the sum (as lifelines does; the term is undefined).
//  - Bands (KaplanMeierOptions::band): log(−log) by default, linear as an
//    option. Where S = 1 (no event yet) or S = 0 the band is undefined and is
//    reported as lower = upper = S, with standard error 0; lifelines reports
//    the same figures there.
// ---------------------------------------------------------------------------

// One subject's follow-up.
struct SurvivalObservation {
  // Days from the origin to the event or to censoring; must be ≥ 0.
  int64_t days = 0;
  // True: the event happened at `days`; false: censored at `days`.
  bool event = false;
};

// Events and censorings at one time: the unit an aggregation counts and
// merges (add the fields of two counts at the same time).
struct SurvivalCounts {
  uint64_t events = 0;
  uint64_t censored = 0;
};

// How the confidence band is formed from Greenwood's variance.
enum class ConfidenceBand {
  // log(−log) or "exponential Greenwood": with
  // σ = sqrt(Σ d_i / (n_i (n_i − d_i))) / |log S(t)|,
  // lower = S(t)^exp(+z σ), upper = S(t)^exp(−z σ). Always inside [0, 1].
  // This is what lifelines' KaplanMeierFitter reports in
  // confidence_interval_, and R's survfit with conf.type = "log-log".
  kLogLog,
  // S(t) ± z · SE(t), clipped to [0, 1].
  kLinear,
};

// Φ⁻¹(0.975): the standard normal quantile of a two-sided 95% band.
inline constexpr double kZ95 = 1.959963984540054;

struct KaplanMeierOptions {
  // The band's transform.
  // Default: ConfidenceBand::kLogLog (as lifelines)
  ConfidenceBand band = ConfidenceBand::kLogLog;
  // The standard normal quantile z = Φ⁻¹(1 − α/2) for the band's two-sided
  // level; must be finite and ≥ 0.
  // Default: kZ95 (a 95% band)
  double z = kZ95;
};

// One row of the table: a distinct time with at least one event or censoring.
struct KaplanMeierRow {
  int64_t days = 0;
  // Observations with time ≥ days (n_i).
  uint64_t at_risk = 0;
  // Events at days (d_i).
  uint64_t events = 0;
  // Censored at days (c_i).
  uint64_t censored = 0;
  // S after this row's events.
  double survival = 1;
  // Greenwood standard error of `survival`.
  double standard_error = 0;
  // The confidence band around `survival`.
  double lower = 1;
  double upper = 1;
};

struct KaplanMeierCurve {
  // Ascending by days; empty when there were no observations.
  std::vector<KaplanMeierRow> rows;
};

// The curve from raw observations. An empty list gives an empty curve.
// INVALID_ARGUMENT for a negative time or an invalid option.
[[nodiscard]] absl::StatusOr<KaplanMeierCurve> KaplanMeier(const std::vector<SurvivalObservation>& observations,
                                                           const KaplanMeierOptions& options = {});

// The curve from counts per time (what an aggregation keeps). Times with no
// event and no censoring are skipped. INVALID_ARGUMENT for a negative time, a
// total count beyond 2^64 − 1, or an invalid option.
[[nodiscard]] absl::StatusOr<KaplanMeierCurve> KaplanMeierFromCounts(const std::map<int64_t, SurvivalCounts>& counts,
                                                                     const KaplanMeierOptions& options = {});

// The curve from given rows (days ascending, each with at_risk and events;
// censored is carried along): S and the band computed exactly as
// KaplanMeierFromCounts does, from each row's own at_risk and events rather
// than from counts at later times. What a published curve whose counts were
// perturbed (cell_key.h) is computed from. INVALID_ARGUMENT for a negative
// time, times not strictly ascending, events above at_risk, or an invalid
// option.
[[nodiscard]] absl::StatusOr<KaplanMeierCurve> KaplanMeierFromRows(std::vector<KaplanMeierRow> rows,
                                                                   const KaplanMeierOptions& options = {});

// The row in effect at `days` (the last row with time ≤ days), or nullopt
// before the first row, where S = 1. After the last row the last row stays in
// effect (S is carried forward, as lifelines and R do; past the last
// observation the estimate is not informed by data — check `at_risk`).
std::optional<KaplanMeierRow> RowAt(const KaplanMeierCurve& curve, int64_t days);

// S(days) from the step function, e.g. at 365 and 730 days; 1 before the first
// row.
double SurvivalAt(const KaplanMeierCurve& curve, int64_t days);

// The median survival time: the first time with S ≤ 0.5 (S within 1e-12 of 0.5
// counts as 0.5, so that an exact half is not lost to rounding), or nullopt
// when S stays above 0.5. Same definition as lifelines' median_survival_time_
// (which reports inf for "none").
std::optional<int64_t> MedianSurvival(const KaplanMeierCurve& curve);

// ---------------------------------------------------------------------------
// Percentiles
//
// Linear interpolation between closest ranks (numpy's default, R's type 7):
// over n values x_0 ≤ … ≤ x_{n−1}, rank = p (n − 1), lo = ⌊rank⌋,
// hi = min(lo + 1, n − 1), and the percentile is
// x_lo + (rank − lo) (x_hi − x_lo). The median is p = 0.5.
// INVALID_ARGUMENT when there are no values or p is not in [0, 1].
// ---------------------------------------------------------------------------

// From values sorted ascending (a precondition, checked only in debug builds).
template <typename T>
[[nodiscard]] absl::StatusOr<double> Percentile(const std::vector<T>& sorted, double p);

// From a histogram value → count, without expanding it; values with count 0
// are ignored. Gives exactly the figure Percentile() gives over the expanded
// sorted values.
[[nodiscard]] absl::StatusOr<double> Percentile(const std::map<int64_t, uint64_t>& histogram, double p);

// ---------------------------------------------------------------------------
// Counts by a small whole number (days, sizes), for a query that adds up a
// million cases: keys 0..kDense-1 in an array, others (negative, very large)
// in a map, so that counting a value allocates nothing in the common case.
// Up to kSmall distinct keys of the array's range are kept as a short list
// instead, so that the thousands of small histograms of query cells
// (query_cells.h) cost little memory and merge fast. ToMap() gives what
// Percentile takes: every key with a count, in order.
class DenseCounts {
 public:
  static constexpr int64_t kDense = 1 << 14;
  static constexpr size_t kSmall = 16;

  void Add(int64_t key, uint64_t n = 1) {
    if (key < 0 || key >= kDense) {
      sparse_[key] += n;
      return;
    }
    if (dense_.empty()) {
      for (auto& [k, count] : small_) {
        if (k == key) {
          count += n;
          return;
        }
      }
      if (small_.size() < kSmall) {
        small_.emplace_back(key, n);
        return;
      }
      ToDense();
    }
    const auto k = static_cast<size_t>(key);
    if (k >= dense_.size()) dense_.resize(k + 1);
    dense_[k] += n;
  }
  void Merge(const DenseCounts& other) {
    if (!other.dense_.empty()) {
      ToDense();
      if (other.dense_.size() > dense_.size()) dense_.resize(other.dense_.size());
      for (size_t k = 0; k < other.dense_.size(); ++k) dense_[k] += other.dense_[k];
    }
    for (const auto& [key, n] : other.small_) Add(key, n);
    for (const auto& [key, n] : other.sparse_) sparse_[key] += n;
  }
  std::map<int64_t, uint64_t> ToMap() const {
    std::map<int64_t, uint64_t> out(sparse_.begin(), sparse_.end());
    for (const auto& [key, n] : small_) {
      if (n != 0) out.emplace(key, n);
    }
    for (size_t k = 0; k < dense_.size(); ++k) {
      if (dense_[k] != 0) out.emplace(static_cast<int64_t>(k), dense_[k]);
    }
    return out;
  }

 private:
  // Moves the short list into the array (which is then never empty).
  void ToDense() {
    if (!dense_.empty()) return;
    int64_t top = 0;
    for (const auto& [key, n] : small_) top = std::max(top, key);
    dense_.resize(static_cast<size_t>(top) + 1);
    for (const auto& [key, n] : small_) dense_[static_cast<size_t>(key)] += n;
    small_.clear();
    small_.shrink_to_fit();
  }

  std::vector<std::pair<int64_t, uint64_t>> small_;  // while dense_ is empty
  std::vector<uint64_t> dense_;
  std::map<int64_t, uint64_t> sparse_;
};

// ---------------------------------------------------------------------------
// The sum of many doubles as the exact sum rounded once to the nearest
// double (what Python's math.fsum gives), so that it does not depend on the
// order of the additions: a query adds its cases in any order (over threads,
// over query cells) and gets the same figure. Kept in fixed point, exact for
// every double that is a whole multiple of 2^-96 with a total below 2^31 in
// magnitude — every ratio a/b of whole numbers in [0, 1] with b < 2^44 (a
// retention) is one.
class ExactSum {
 public:
  static constexpr int kFractionBits = 96;
  void Add(double x) {
    const double scaled = std::ldexp(x, kFractionBits);
    assert(scaled == std::trunc(scaled) && std::fabs(x) < 2147483648.0);
    fixed_ += static_cast<__int128>(scaled);
  }
  void Merge(const ExactSum& other) { fixed_ += other.fixed_; }
  // The exact sum, rounded to the nearest double (ties to even).
  double Value() const { return std::ldexp(static_cast<double>(fixed_), -kFractionBits); }

 private:
  __int128 fixed_ = 0;
};

// ---------------------------------------------------------------------------
// Implementation of the template.

namespace statistics_internal {
absl::Status CheckPercentileArguments(uint64_t n, double p);
}  // namespace statistics_internal

template <typename T>
absl::StatusOr<double> Percentile(const std::vector<T>& sorted, double p) {
  absl::Status status = statistics_internal::CheckPercentileArguments(sorted.size(), p);
  if (!status.ok()) return status;
  assert(std::is_sorted(sorted.begin(), sorted.end()));
  const double rank = p * static_cast<double>(sorted.size() - 1);
  const size_t lo = std::min(static_cast<size_t>(std::floor(rank)), sorted.size() - 1);
  const size_t hi = std::min(lo + 1, sorted.size() - 1);
  const double x_lo = static_cast<double>(sorted[lo]);
  const double x_hi = static_cast<double>(sorted[hi]);
  return x_lo + (rank - static_cast<double>(lo)) * (x_hi - x_lo);
}

}  // namespace kring::projections
