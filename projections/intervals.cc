#include "projections/intervals.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <set>

namespace kring::projections {
namespace {

constexpr double kEpsilon = 1e-16;
constexpr double kTiny = 1e-300;
constexpr int kMaxIterations = 10000;

// The continued fraction of the incomplete beta function (modified Lentz).
double BetaContinuedFraction(double a, double b, double x) {
  const double qab = a + b, qap = a + 1, qam = a - 1;
  double c = 1, d = 1 - qab * x / qap;
  if (std::fabs(d) < kTiny) d = kTiny;
  d = 1 / d;
  double h = d;
  for (int m = 1; m <= kMaxIterations; ++m) {
    const double m2 = 2.0 * m;
    double aa = m * (b - m) * x / ((qam + m2) * (a + m2));
    d = 1 + aa * d;
    if (std::fabs(d) < kTiny) d = kTiny;
    c = 1 + aa / c;
    if (std::fabs(c) < kTiny) c = kTiny;
    d = 1 / d;
    h *= d * c;
    aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2));
    d = 1 + aa * d;
    if (std::fabs(d) < kTiny) d = kTiny;
    c = 1 + aa / c;
    if (std::fabs(c) < kTiny) c = kTiny;
    d = 1 / d;
    const double del = d * c;
    h *= del;
    if (std::fabs(del - 1) < kEpsilon) break;
  }
  return h;
}

// The regularized incomplete beta function I_x(a, b).
double IncompleteBeta(double a, double b, double x) {
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  const double front =
      std::exp(std::lgamma(a + b) - std::lgamma(a) - std::lgamma(b) + a * std::log(x) + b * std::log1p(-x));
  if (x < (a + 1) / (a + b + 2)) return front * BetaContinuedFraction(a, b, x) / a;
  return 1 - front * BetaContinuedFraction(b, a, 1 - x) / b;
}

// P(T ≥ t) for t ≥ 0.
double StudentTUpperTail(double t, double df) { return 0.5 * IncompleteBeta(df / 2, 0.5, df / (df + t * t)); }

// The regularized upper incomplete gamma function Q(a, x).
double UpperIncompleteGamma(double a, double x) {
  if (x <= 0) return 1;
  const double log_front = -x + a * std::log(x) - std::lgamma(a);
  if (x < a + 1) {
    // Series for P(a, x).
    double ap = a, sum = 1 / a, del = sum;
    for (int n = 0; n < kMaxIterations; ++n) {
      ap += 1;
      del *= x / ap;
      sum += del;
      if (std::fabs(del) < std::fabs(sum) * kEpsilon) break;
    }
    return 1 - sum * std::exp(log_front);
  }
  // Continued fraction for Q(a, x) (modified Lentz).
  double b = x + 1 - a, c = 1 / kTiny, d = 1 / b, h = d;
  for (int i = 1; i <= kMaxIterations; ++i) {
    const double an = -i * (i - a);
    b += 2;
    d = an * d + b;
    if (std::fabs(d) < kTiny) d = kTiny;
    c = b + an / c;
    if (std::fabs(c) < kTiny) c = kTiny;
    d = 1 / d;
    const double del = d * c;
    h *= del;
    if (std::fabs(del - 1) < kEpsilon) break;
  }
  return std::exp(log_front) * h;
}

}  // namespace

double StudentTCdf(double t, double df) {
  const double tail = StudentTUpperTail(std::fabs(t), df);
  return t >= 0 ? 1 - tail : tail;
}

double StudentTQuantile(double p, double df) {
  if (p == 0.5) return 0;
  if (p < 0.5) return -StudentTQuantile(1 - p, df);
  // Solve P(T ≥ t) = 1 − p for t > 0 by bisection on the (decreasing) tail.
  const double tail = 1 - p;
  double lo = 0, hi = 1;
  while (StudentTUpperTail(hi, df) > tail && hi < 1e300) hi *= 2;
  for (int i = 0; i < 2000 && hi - lo > 1e-15 * hi; ++i) {
    const double mid = lo + (hi - lo) / 2;
    if (mid <= lo || mid >= hi) break;
    (StudentTUpperTail(mid, df) > tail ? lo : hi) = mid;
  }
  return lo + (hi - lo) / 2;
}

double ChiSquareSurvival(double x, double df) { return UpperIncompleteGamma(df / 2, x / 2); }

std::optional<Interval> Wilson(double x, double n, double z) {
  if (!(n > 0)) return std::nullopt;
  const double p = std::clamp(x, 0.0, n) / n;
  const double z2 = z * z;
  const double denominator = 1 + z2 / n;
  const double center = (p + z2 / (2 * n)) / denominator;
  const double half = z * std::sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / denominator;
  // At p = 0 (p = 1) the bound is 0 (1) exactly; the subtraction leaves a
  // rounding residue.
  return Interval{p == 0 ? 0.0 : center - half, p == 1 ? 1.0 : center + half};
}

std::optional<double> SampleSd(uint64_t count, int64_t sum, const __int128& sum_of_squares) {
  if (count < 2) return std::nullopt;
  const __int128 n = count;
  const __int128 numerator = n * sum_of_squares - static_cast<__int128>(sum) * sum;  // N²·s²·(N−1)/N, ≥ 0
  const long double variance =
      static_cast<long double>(numerator) / (static_cast<long double>(count) * static_cast<long double>(count - 1));
  return static_cast<double>(std::sqrt(std::max(variance, 0.0L)));
}

std::optional<double> SampleSd(uint64_t count, double sum, double sum_of_squares) {
  if (count < 2) return std::nullopt;
  const long double n = count;
  const long double variance = (static_cast<long double>(sum_of_squares) - static_cast<long double>(sum) * sum / n) /
                               (n - 1);
  return static_cast<double>(std::sqrt(std::max(variance, 0.0L)));
}

std::optional<Interval> MeanInterval(double mean, double sd, double n) {
  if (!(n >= 2)) return std::nullopt;
  const double half = StudentTQuantile(0.975, n - 1) * sd / std::sqrt(n);
  return Interval{mean - half, mean + half};
}

std::optional<Interval> NewcombeDifference(double x1, double n1, double x2, double n2) {
  const std::optional<Interval> w1 = Wilson(x1, n1), w2 = Wilson(x2, n2);
  if (!w1 || !w2) return std::nullopt;
  const double p1 = std::clamp(x1, 0.0, n1) / n1, p2 = std::clamp(x2, 0.0, n2) / n2;
  const double d = p1 - p2;
  return Interval{d - std::hypot(p1 - w1->lower, w2->upper - p2), d + std::hypot(w1->upper - p1, p2 - w2->lower)};
}

std::optional<Interval> WelchDifference(double mean1, double sd1, double n1, double mean2, double sd2, double n2) {
  if (!(n1 >= 2) || !(n2 >= 2)) return std::nullopt;
  const double d = mean1 - mean2;
  const double v1 = sd1 * sd1 / n1, v2 = sd2 * sd2 / n2;
  const double se2 = v1 + v2;
  if (!(se2 > 0)) return Interval{d, d};
  const double df = se2 * se2 / (v1 * v1 / (n1 - 1) + v2 * v2 / (n2 - 1));
  const double half = StudentTQuantile(0.975, df) * std::sqrt(se2);
  return Interval{d - half, d + half};
}

Interval NormalInterval(double estimate, double variance, double z) {
  const double half = z * std::sqrt(std::max(variance, 0.0));
  return Interval{estimate - half, estimate + half};
}

namespace {
double GreenwoodTerm(const KaplanMeierRow& r) {
  if (r.at_risk <= r.events) return 0;
  const double n = static_cast<double>(r.at_risk), d = static_cast<double>(r.events);
  return d / (n * (n - d));
}
}  // namespace

double GreenwoodVariance(const std::vector<KaplanMeierRow>& rows, int64_t days) {
  double s = 1, sum = 0;
  for (const KaplanMeierRow& r : rows) {
    if (r.days > days) break;
    s = r.survival;
    sum += GreenwoodTerm(r);
  }
  return s * s * sum;
}

RestrictedMean RestrictedMeanSurvival(const std::vector<KaplanMeierRow>& rows, int64_t horizon) {
  // The rows in effect before the horizon; A_i from the last one back.
  size_t used = 0;
  while (used < rows.size() && rows[used].days <= horizon) ++used;
  RestrictedMean out;
  double after = 0;  // ∫_{t_{i+1}}^{horizon} S
  for (size_t i = used; i-- > 0;) {
    const int64_t end = i + 1 < used ? rows[i + 1].days : horizon;
    const double area = rows[i].survival * static_cast<double>(end - rows[i].days) + after;  // A_i
    out.variance += area * area * GreenwoodTerm(rows[i]);
    after = area;
  }
  const int64_t first = used > 0 ? rows[0].days : horizon;
  out.days = static_cast<double>(first) + after;  // S = 1 before the first row
  return out;
}

absl::StatusOr<LogRankResult> LogRank(const std::vector<std::map<int64_t, SurvivalCounts>>& groups) {
  const size_t k = groups.size();
  if (k < 2) return absl::InvalidArgumentError("log-rank: needs at least two groups");
  std::set<int64_t> times;
  std::vector<double> at_risk(k, 0);
  for (size_t j = 0; j < k; ++j) {
    for (const auto& [t, c] : groups[j]) {
      times.insert(t);
      at_risk[j] += static_cast<double>(c.events + c.censored);
    }
  }
  const size_t m = k - 1;
  std::vector<double> u(m, 0);
  std::vector<std::vector<double>> v(m, std::vector<double>(m, 0));
  for (int64_t t : times) {
    std::vector<double> d_j(k, 0), removed(k, 0);
    double d = 0, n = 0;
    for (size_t j = 0; j < k; ++j) {
      auto it = groups[j].find(t);
      if (it != groups[j].end()) {
        d_j[j] = static_cast<double>(it->second.events);
        removed[j] = static_cast<double>(it->second.events + it->second.censored);
      }
      d += d_j[j];
      n += at_risk[j];
    }
    if (d > 0 && n > 0) {
      const double factor = n > 1 ? d * (n - d) / (n - 1) : 0;
      for (size_t j = 0; j < m; ++j) {
        u[j] += d_j[j] - d * at_risk[j] / n;
        for (size_t l = 0; l < m; ++l) {
          v[j][l] += factor * at_risk[j] / n * ((j == l ? 1.0 : 0.0) - at_risk[l] / n);
        }
      }
    }
    for (size_t j = 0; j < k; ++j) at_risk[j] -= removed[j];
  }
  // Solve V x = u (Gaussian elimination with partial pivoting); chi² = u·x.
  std::vector<double> x = u;
  double scale = 0;
  for (size_t j = 0; j < m; ++j) scale = std::max(scale, std::fabs(v[j][j]));
  for (size_t c = 0; c < m; ++c) {
    size_t pivot = c;
    for (size_t r = c + 1; r < m; ++r) {
      if (std::fabs(v[r][c]) > std::fabs(v[pivot][c])) pivot = r;
    }
    if (!(std::fabs(v[pivot][c]) > 1e-12 * scale) || scale == 0) {
      return absl::FailedPreconditionError("log-rank: no variance (no lapse where the groups are followed)");
    }
    std::swap(v[c], v[pivot]);
    std::swap(x[c], x[pivot]);
    for (size_t r = c + 1; r < m; ++r) {
      const double f = v[r][c] / v[c][c];
      for (size_t l = c; l < m; ++l) v[r][l] -= f * v[c][l];
      x[r] -= f * x[c];
    }
  }
  for (size_t c = m; c-- > 0;) {
    for (size_t l = c + 1; l < m; ++l) x[c] -= v[c][l] * x[l];
    x[c] /= v[c][c];
  }
  LogRankResult out;
  for (size_t j = 0; j < m; ++j) out.chi_square += u[j] * x[j];
  out.degrees_of_freedom = static_cast<uint32_t>(m);
  out.p_value = ChiSquareSurvival(out.chi_square, static_cast<double>(m));
  return out;
}

}  // namespace kring::projections
