#include "projections/statistics.h"

#include <cmath>
#include <limits>

#include "absl/strings/str_cat.h"

namespace kring::projections {
namespace {

absl::Status CheckOptions(const KaplanMeierOptions& options) {
  if (!std::isfinite(options.z) || options.z < 0) {
    return absl::InvalidArgumentError(absl::StrCat("z: must be finite and >= 0, got ", options.z));
  }
  if (options.band != ConfidenceBand::kLogLog && options.band != ConfidenceBand::kLinear) {
    return absl::InvalidArgumentError("band: unknown confidence band");
  }
  return absl::OkStatus();
}

absl::Status CheckDays(int64_t days) {
  if (days < 0) return absl::InvalidArgumentError(absl::StrCat("days: must be >= 0, got ", days));
  return absl::OkStatus();
}

// Fills standard_error, lower and upper from survival and the Greenwood sum.
void SetBand(double greenwood_sum, const KaplanMeierOptions& options, KaplanMeierRow& row) {
  const double s = row.survival;
  if (s <= 0 || s >= 1) {
    // No event yet, or everyone had it: the band is undefined; report S.
    row.standard_error = 0;
    row.lower = row.upper = s;
    return;
  }
  const double root = std::sqrt(greenwood_sum);
  row.standard_error = s * root;
  switch (options.band) {
    case ConfidenceBand::kLogLog: {
      // lifelines' expression: exp(−exp(log(−v) ∓ z·root / v)), v = log S < 0.
      const double v = std::log(s);
      row.lower = std::exp(-std::exp(std::log(-v) - options.z * root / v));
      row.upper = std::exp(-std::exp(std::log(-v) + options.z * root / v));
      break;
    }
    case ConfidenceBand::kLinear:
      row.lower = std::clamp(s - options.z * row.standard_error, 0.0, 1.0);
      row.upper = std::clamp(s + options.z * row.standard_error, 0.0, 1.0);
      break;
  }
}

}  // namespace

namespace statistics_internal {

absl::Status CheckPercentileArguments(uint64_t n, double p) {
  if (n == 0) return absl::InvalidArgumentError("percentile: no values");
  if (!(p >= 0 && p <= 1)) return absl::InvalidArgumentError(absl::StrCat("p: must be in [0, 1], got ", p));
  return absl::OkStatus();
}

}  // namespace statistics_internal

absl::StatusOr<KaplanMeierCurve> KaplanMeierFromCounts(const std::map<int64_t, SurvivalCounts>& counts,
                                                       const KaplanMeierOptions& options) {
  absl::Status status = CheckOptions(options);
  if (!status.ok()) return status;
  constexpr uint64_t kMax = std::numeric_limits<uint64_t>::max();
  uint64_t at_risk = 0;
  for (const auto& [days, c] : counts) {
    status = CheckDays(days);
    if (!status.ok()) return status;
    if (c.events > kMax - at_risk || c.censored > kMax - at_risk - c.events) {
      return absl::InvalidArgumentError("counts: the total number of observations overflows 64 bits");
    }
    at_risk += c.events + c.censored;
  }

  KaplanMeierCurve curve;
  double survival = 1;
  double greenwood_sum = 0;
  for (const auto& [days, c] : counts) {
    if (c.events == 0 && c.censored == 0) continue;
    KaplanMeierRow row;
    row.days = days;
    row.at_risk = at_risk;
    row.events = c.events;
    row.censored = c.censored;
    const double n = static_cast<double>(at_risk);
    const double d = static_cast<double>(c.events);
    if (c.events == at_risk) {
      survival = 0;  // Exactly, not (n − d) / n rounded.
    } else if (c.events > 0) {
      survival *= (n - d) / n;
      greenwood_sum += d / (n * (n - d));
    }
    row.survival = survival;
    SetBand(greenwood_sum, options, row);
    curve.rows.push_back(row);
    at_risk -= c.events + c.censored;
  }
  return curve;
}

absl::StatusOr<KaplanMeierCurve> KaplanMeierFromRows(std::vector<KaplanMeierRow> rows,
                                                     const KaplanMeierOptions& options) {
  absl::Status status = CheckOptions(options);
  if (!status.ok()) return status;
  KaplanMeierCurve curve;
  double survival = 1;
  double greenwood_sum = 0;
  for (size_t i = 0; i < rows.size(); ++i) {
    KaplanMeierRow& row = rows[i];
    status = CheckDays(row.days);
    if (!status.ok()) return status;
    if (i > 0 && row.days <= rows[i - 1].days) {
      return absl::InvalidArgumentError("rows: days must be strictly ascending");
    }
    if (row.events > row.at_risk) return absl::InvalidArgumentError("rows: events must not exceed at_risk");
    const double n = static_cast<double>(row.at_risk);
    const double d = static_cast<double>(row.events);
    if (row.events == row.at_risk && row.events > 0) {
      survival = 0;  // Exactly, not (n − d) / n rounded.
    } else if (row.events > 0) {
      survival *= (n - d) / n;
      greenwood_sum += d / (n * (n - d));
    }
    row.survival = survival;
    SetBand(greenwood_sum, options, row);
  }
  curve.rows = std::move(rows);
  return curve;
}

absl::StatusOr<KaplanMeierCurve> KaplanMeier(const std::vector<SurvivalObservation>& observations,
                                             const KaplanMeierOptions& options) {
  std::map<int64_t, SurvivalCounts> counts;
  for (const SurvivalObservation& o : observations) {
    absl::Status status = CheckDays(o.days);
    if (!status.ok()) return status;
    SurvivalCounts& c = counts[o.days];
    (o.event ? c.events : c.censored) += 1;
  }
  return KaplanMeierFromCounts(counts, options);
}

std::optional<KaplanMeierRow> RowAt(const KaplanMeierCurve& curve, int64_t days) {
  // The first row with time > days; the one before it is in effect.
  auto it = std::upper_bound(curve.rows.begin(), curve.rows.end(), days,
                             [](int64_t d, const KaplanMeierRow& row) { return d < row.days; });
  if (it == curve.rows.begin()) return std::nullopt;
  return *std::prev(it);
}

double SurvivalAt(const KaplanMeierCurve& curve, int64_t days) {
  std::optional<KaplanMeierRow> row = RowAt(curve, days);
  return row ? row->survival : 1.0;
}

std::optional<int64_t> MedianSurvival(const KaplanMeierCurve& curve) {
  for (const KaplanMeierRow& row : curve.rows) {
    if (row.survival <= 0.5 + 1e-12) return row.days;
  }
  return std::nullopt;
}

absl::StatusOr<double> Percentile(const std::map<int64_t, uint64_t>& histogram, double p) {
  uint64_t n = 0;
  for (const auto& [value, count] : histogram) {
    if (count > std::numeric_limits<uint64_t>::max() - n) {
      return absl::InvalidArgumentError("histogram: the total count overflows 64 bits");
    }
    n += count;
  }
  absl::Status status = statistics_internal::CheckPercentileArguments(n, p);
  if (!status.ok()) return status;
  const double rank = p * static_cast<double>(n - 1);
  const uint64_t lo = std::min(static_cast<uint64_t>(std::floor(rank)), n - 1);
  const uint64_t hi = std::min(lo + 1, n - 1);
  // Walk the cumulative counts to the values at ranks lo and hi (0-based).
  std::optional<double> x_lo;
  double x_hi = 0;
  uint64_t seen = 0;  // Values before the current bin.
  for (const auto& [value, count] : histogram) {
    if (count == 0) continue;
    seen += count;
    if (!x_lo && lo < seen) x_lo = static_cast<double>(value);
    if (hi < seen) {
      x_hi = static_cast<double>(value);
      break;
    }
  }
  return *x_lo + (rank - static_cast<double>(lo)) * (x_hi - *x_lo);
}

}  // namespace kring::projections
