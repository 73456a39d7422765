// Platform-independent random draws for the synthetic cohort.
//
// std::uniform_int_distribution and friends are implementation-defined (the
// same engine gives different numbers under libstdc++, libc++ and MSVC), and
// libm's exp/log may differ in the last bit between platforms. So every draw
// here is built from raw std::mt19937_64 outputs (whose sequence the standard
// fixes) with integer arithmetic or IEEE-754 basic operations only (+ - * /,
// correctly rounded everywhere; the target compiles with -ffp-contract=off so
// no fused multiply-add changes a rounding).
//
// Thread-safety: an Rng is a plain value; use one per thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <random>
#include <string>

namespace kring::synth {

// splitmix64's output function: a bijective 64-bit mixer, used to derive
// independent seeds from (cohort seed, case number).
uint64_t Mix64(uint64_t x);

// e^-x for x >= 0, from a Taylor series and repeated squaring (basic
// arithmetic only, so identical on every IEEE-754 platform). Relative error
// below 1e-12 for x <= 50.
double ExpNeg(double x);

class Rng {
 public:
  explicit Rng(uint64_t seed) : engine_(seed) {}

  // 64 raw random bits.
  uint64_t Bits() { return engine_(); }

  // Uniform in [0, 1), with 53 random bits.
  double Uniform01() { return static_cast<double>(Bits() >> 11) * (1.0 / 9007199254740992.0); }

  // Uniform integer in [lo, hi] (inclusive), without modulo bias.
  int64_t UniformInt(int64_t lo, int64_t hi);

  // True with probability p.
  bool Bernoulli(double p) { return Uniform01() < p; }

  // Poisson with the given mean (Knuth's product method; mean <= 50).
  int Poisson(double mean);

  // Negative binomial: failures before the r-th success in Bernoulli trials
  // with success probability r / (r + mean), so the mean is `mean` and the
  // variance mean + mean^2 / r (overdispersed; smaller r, heavier tail).
  int NegativeBinomial(int r, double mean);

  // Index drawn with probability weights[i] / sum(weights). Integer weights
  // keep the draw exact. The sum must be positive.
  template <typename Weights>
  size_t Weighted(const Weights& weights) {
    uint64_t total = 0;
    for (const auto& w : weights) total += WeightOf(w);
    int64_t u = UniformInt(0, static_cast<int64_t>(total) - 1);
    size_t i = 0;
    for (const auto& w : weights) {
      u -= static_cast<int64_t>(WeightOf(w));
      if (u < 0) return i;
      ++i;
    }
    return i - 1;
  }

  // A random UUID in version-4 form, lowercase: xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx.
  std::string Uuid();

 private:
  static uint64_t WeightOf(uint64_t w) { return w; }
  static uint64_t WeightOf(int w) { return static_cast<uint64_t>(w); }
  template <typename T>
  static uint64_t WeightOf(const T& choice) {
    return static_cast<uint64_t>(choice.weight);
  }

  std::mt19937_64 engine_;
};

}  // namespace kring::synth
