// Streams a SYNTHETIC cohort to a Kring server over AppendStream: one batch
// per case (expected version "no stream"), several streams in parallel, a
// window of unacknowledged batches per stream. Used by `kringctl cohort` and
// the end-to-end tests.
#pragma once

#include <grpcpp/channel.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "synth/cohort.h"

namespace kring::client {

// The cut-off used unless told otherwise: fixed, so that a cohort streamed
// on any later day is the same.
inline absl::Time DefaultCohortCutoff() { return absl::FromCivil(absl::CivilDay(2026, 6, 30), absl::UTCTimeZone()); }

struct CohortStreamOptions {
  // Which cases to send: cases first_case .. first_case+cases-1 of the
  // cohort (see synth::CohortOptions). Default: synth's defaults with the cut-off
  // DefaultCohortCutoff().
  synth::CohortOptions cohort = [] {
    synth::CohortOptions o;
    o.as_of = DefaultCohortCutoff();
    return o;
  }();
  // Concurrent streams. Default: 4.
  int streams = 4;
  // Unacknowledged batches per stream. Default: 32.
  int window = 32;
  // If set, incremented once for every acknowledged batch (recorded, a retry
  // or refused) as its acknowledgement arrives: lets a caller on another
  // thread wait until the stream is under way. Default: nullptr (not counted).
  std::atomic<uint64_t>* acknowledged_batches = nullptr;
};

struct CohortStreamTotals {
  uint64_t cases = 0;
  uint64_t appended = 0;            // events newly recorded
  uint64_t already_recorded = 0;    // events of batches that were retries
  uint64_t refused = 0;             // events of refused batches
  std::vector<std::string> errors;  // the first few refusals, "case: message"
  double seconds = 0;
  // Not OK if a stream broke (server unreachable, shutting down); the counts
  // above still hold for the batches acknowledged until then.
  absl::Status status;
};

// Refused batches are counted in the totals, not failures of the call.
CohortStreamTotals StreamCohort(const std::shared_ptr<grpc::Channel>& channel, const CohortStreamOptions& options);

}  // namespace kring::client
