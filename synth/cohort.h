// Synthetic cohort generator: SYNTHETIC Family Group Conference cases
// (Eigen Kracht-conferenties) as event streams of the kring.v1 catalog, for
// tests, benchmarks, demos and for checking read models against known,
// calibrated proportions. Nothing here is real data: every id starts with
// "SYNTH-". The calibration and its sources are in synth/README.md.
//
// Use:
//   kring::synth::CohortOptions options;
//   options.seed = 42;
//   options.cases = 10000;
//   kring::synth::CohortGenerator generator(options);
//   kring::synth::SyntheticCase c;
//   while (generator.Next(&c)) Append(c.case_id, c.events);
//
// Lifecycle and threads: a CohortGenerator produces its cases one at a time
// and holds no case after Next() returns, so memory stays constant however
// many cases are asked for. One generator is not thread-safe; give each thread
// its own generator (for example with disjoint `first_case` ranges).
//
// Reproducibility: a case depends only on (seed, case number) and on the
// cut-off time (see `as_of`); the same inputs give the same bytes on every
// platform. The generator uses no std::*_distribution (their results are
// implementation-defined) and no transcendental libm function, only raw
// std::mt19937_64 outputs and IEEE-754 basic arithmetic.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "kring/v1/events.pb.h"
#include "synth/invalid.h"

namespace kring::synth {

struct CohortOptions {
  // Seed of the cohort. The same seed (and the same `as_of`) gives the same
  // cohort, byte for byte; the seed also appears in every case id.
  // Default: 1.
  uint64_t seed = 1;

  // Number of cases Next() produces before it returns false. Default: 1000.
  size_t cases = 1000;

  // Number of the first case (1-based): case k of a cohort is the same
  // whether it is generated in one run or by a generator that starts at k,
  // so several generators can split one cohort between threads.
  // Default: 1.
  size_t first_case = 1;

  // Referral dates are spread over the years [first_referral_year,
  // last_referral_year] (calendar years, UTC), weighted by the yearly volume
  // in synth/README.md. Years are clamped to [1989, the year of the cut-off]
  // and swapped when given in the wrong order. Default: 2019.
  int first_referral_year = 2019;

  // Last referral year (inclusive). Default: 2024.
  int last_referral_year = 2024;

  // Cut-off: no event lies after min(as_of, the real clock at construction)
  // minus one day. Events of a case that would lie later (a 24-month follow-up
  // of a recent referral, a conference still to come) are not emitted, so the
  // case simply ends earlier. For any two cut-offs after the last referral
  // year, the cases agree up to the earlier one (the referral dates are only
  // spread up to the cut-off when it falls inside the referral years). Fix it
  // to make a cohort reproducible across days.
  // Default: absl::InfiniteFuture(), meaning "now".
  absl::Time as_of = absl::InfiniteFuture();

  // Share of cases (0..1) in which a cost was entered with a wrong amount and
  // corrected: the wrong CostRecorded, then an EventRetracted naming it and a
  // CostRecorded with the right amount (synth/README.md). The correction is
  // drawn after the rest of the case, so every other event stays the same and
  // the live costs do not change. Default: 0 (no corrections), which keeps
  // the cohorts, figures and counts documented in README.md and synth/README.md.
  double correction_share = 0.0;

  // Invalid mode: share of cases (0..1) that also get one to three invalid
  // batches in SyntheticCase::invalid, each a single event the write side
  // must refuse, labelled with the expected refusal (synth/invalid.h). They
  // come from their own random stream: `events` stays the same whatever this
  // share is. Default: 0 (none).
  double invalid_share = 0.0;

  // The server's largest batch in bytes (eventstore::ValidationOptions::
  // max_batch_bytes), which the invalid "BATCH_TOO_LARGE" event exceeds.
  // Default: 4 MiB, the server's default.
  size_t server_max_batch_bytes = 4 << 20;
};

// One generated case: its id and its events in stream order (non-decreasing
// occurred_at), ready to append with expected version "no stream".
struct SyntheticCase {
  // "SYNTH-<seed>-<case number, at least 6 digits>", e.g. "SYNTH-1-000001".
  std::string case_id;
  // The case's events in stream order; event ids are random UUIDs (v4 form).
  std::vector<v1::Event> events;
  // Invalid mode only (CohortOptions::invalid_share): batches to send between
  // the valid ones, ordered by InvalidBatch::after; each must be refused as
  // its label says, and the case continues validly afterwards.
  std::vector<InvalidBatch> invalid;
};

class CohortGenerator {
 public:
  explicit CohortGenerator(CohortOptions options);

  // Fills `out` with the next case (replacing what it held) and returns true,
  // or returns false once `options.cases` cases have been produced.
  bool Next(SyntheticCase* out);

  // The latest occurred_at any generated event may have.
  absl::Time cutoff() const { return cutoff_; }

 private:
  struct YearRange {
    int year;
    int64_t first_day;  // days since the Unix epoch, UTC
    int64_t last_day;   // inclusive
    uint64_t weight;    // yearly volume x available days
  };

  CohortOptions options_;
  absl::Time cutoff_;
  std::vector<YearRange> years_;  // one entry per referral year, not per case
  uint64_t total_year_weight_ = 0;
  size_t produced_ = 0;
};

}  // namespace kring::synth
