#include "synth/random.h"

#include <limits>

#include "common/uuid.h"

namespace kring::synth {

uint64_t Mix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

double ExpNeg(double x) {
  // e^-x = (e^(-x / 2^k))^(2^k) with x / 2^k <= 1/2; halving is exact.
  int k = 0;
  while (x > 0.5) {
    x /= 2;
    ++k;
  }
  double term = 1.0;
  double sum = 1.0;
  for (int i = 1; i <= 20; ++i) {
    term = term * -x / i;
    sum = sum + term;
  }
  for (; k > 0; --k) sum = sum * sum;
  return sum;
}

int64_t Rng::UniformInt(int64_t lo, int64_t hi) {
  if (hi <= lo) return lo;
  const uint64_t range = static_cast<uint64_t>(hi) - static_cast<uint64_t>(lo) + 1;
  if (range == 0) return static_cast<int64_t>(Bits());  // the full 64-bit range
  // Reject the top partial block so every value is equally likely.
  const uint64_t limit = std::numeric_limits<uint64_t>::max() - std::numeric_limits<uint64_t>::max() % range;
  uint64_t x = Bits();
  while (x >= limit) x = Bits();
  return lo + static_cast<int64_t>(x % range);
}

int Rng::Poisson(double mean) {
  if (mean <= 0) return 0;
  const double limit = ExpNeg(mean);
  int k = 0;
  double product = Uniform01();
  while (product > limit) {
    ++k;
    product = product * Uniform01();
  }
  return k;
}

int Rng::NegativeBinomial(int r, double mean) {
  if (mean <= 0 || r <= 0) return 0;
  const double p = static_cast<double>(r) / (static_cast<double>(r) + mean);
  int failures = 0;
  for (int successes = 0; successes < r;) {
    if (Bernoulli(p)) {
      ++successes;
    } else {
      ++failures;
    }
  }
  return failures;
}

std::string Rng::Uuid() {
  const uint64_t hi = Bits();
  const uint64_t lo = Bits();
  std::string out;
  FormatUuidV4(hi, lo, &out);
  return out;
}

}  // namespace kring::synth
