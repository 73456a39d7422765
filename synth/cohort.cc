#include "synth/cohort.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "synth/calibration.h"
#include "synth/case_simulation.h"
#include "synth/random.h"

namespace kring::synth {
namespace {

// The earliest day a referral may fall on: the day after the method's start
// in 1989, the floor of valid occurred_at times.
constexpr int kFloorYear = 1989;

// Mixed into a case's seed for its invalid batches' own random stream.
constexpr uint64_t kInvalidStreamSalt = 0x1a7a11d5eed0bad1ULL;

int64_t DayNumber(int year, int month, int day) {
  const absl::Time t = absl::FromCivil(absl::CivilDay(year, month, day), absl::UTCTimeZone());
  return absl::ToUnixSeconds(t) / kSecondsPerDay;
}

}  // namespace

CohortGenerator::CohortGenerator(CohortOptions options) : options_(std::move(options)) {
  // Nothing may lie in the future, whatever `as_of` says, nor before 1989.
  const absl::Time earliest_cutoff = absl::FromCivil(absl::CivilDay(kFloorYear, 1, 3), absl::UTCTimeZone());
  cutoff_ = std::max(std::min(options_.as_of, absl::Now()) - absl::Hours(24), earliest_cutoff);
  const int64_t cutoff_day = absl::ToUnixSeconds(cutoff_) / kSecondsPerDay;
  const int cutoff_year = static_cast<int>(absl::ToCivilYear(cutoff_, absl::UTCTimeZone()).year());

  int first = std::clamp(options_.first_referral_year, kFloorYear, cutoff_year);
  int last = std::clamp(options_.last_referral_year, kFloorYear, cutoff_year);
  if (first > last) std::swap(first, last);
  const int64_t floor_day = DayNumber(kFloorYear, 1, 2);
  for (int year = first; year <= last; ++year) {
    const int64_t first_day = std::max(DayNumber(year, 1, 1), floor_day);
    const int64_t last_day = std::min(DayNumber(year + 1, 1, 1) - 1, cutoff_day - 1);
    if (first_day > last_day) continue;
    const uint64_t weight =
        static_cast<uint64_t>(calibration::YearVolumePercent(year)) * static_cast<uint64_t>(last_day - first_day + 1);
    years_.push_back({year, first_day, last_day, weight});
  }
  if (years_.empty()) {  // only when the cut-off is the first day of a year
    years_.push_back({cutoff_year, cutoff_day - 1, cutoff_day - 1, 1});
  }
}

bool CohortGenerator::Next(SyntheticCase* out) {
  if (produced_ >= options_.cases) return false;
  const uint64_t number = options_.first_case + produced_;
  ++produced_;

  // Each case has its own random stream, derived from (seed, case number):
  // a case does not depend on the cases before it.
  Rng rng(Mix64(Mix64(options_.seed) + number));
  const YearRange& year = years_[rng.Weighted(years_)];
  const int64_t referral_day = rng.UniformInt(year.first_day, year.last_day);

  out->case_id = absl::StrCat("SYNTH-", options_.seed, "-", absl::Dec(number, absl::kZeroPad6));
  CaseSimulation simulation(out->case_id, std::move(rng), year.year, referral_day, options_.correction_share);
  simulation.Run();
  simulation.Finish(absl::ToUnixSeconds(cutoff_), &out->events);

  // The invalid batches draw from a stream of their own, so the valid events
  // are the same with and without them.
  out->invalid.clear();
  if (options_.invalid_share > 0) {
    Rng invalid_rng(Mix64(Mix64(Mix64(options_.seed) + number) ^ kInvalidStreamSalt));
    if (invalid_rng.Bernoulli(options_.invalid_share)) {
      const int64_t batches = invalid_rng.UniformInt(1, 3);
      AddInvalidBatches(out->case_id, out->events, static_cast<int>(batches), options_.server_max_batch_bytes,
                        invalid_rng, &out->invalid);
    }
  }
  return true;
}

}  // namespace kring::synth
