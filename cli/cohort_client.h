// Streams a SYNTHETIC cohort to a Kring server over AppendStream: one batch
// per case (expected version "no stream"), several streams in parallel, a
// window of unacknowledged batches per stream. Used by `kringctl cohort` and
// the end-to-end tests.
#pragma once

#include <grpcpp/channel.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace kring::client {

struct CohortStreamOptions {
  // Cohort seed. Default: 1.
  uint64_t seed = 1;
  // Cases to send. Default: 1000.
  size_t cases = 1000;
  // First case number (cases first .. first+cases-1 of the cohort). Default: 1.
  size_t first_case = 1;
  // Cut-off of the cohort, fixed so that it is the same on every day.
  // Default: 2026-06-30.
  absl::Time as_of = absl::FromCivil(absl::CivilDay(2026, 6, 30), absl::UTCTimeZone());
  // Concurrent streams. Default: 4.
  int streams = 4;
  // Unacknowledged batches per stream. Default: 32.
  int window = 32;
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
