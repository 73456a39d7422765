// Invalid mode of the synthetic cohort: single-event batches that the write
// side must refuse, each placed at a point of its case's stream where it is
// wrong and labelled with the refusal expected (status code, field path
// relative to the batch, and for FAILED_PRECONDITION the PreconditionFailure
// violation type). Everything here is SYNTHETIC. The kinds follow
// eventstore/validation.cc (INVALID_ARGUMENT, RESOURCE_EXHAUSTED) and
// eventstore/case_rules.cc (FAILED_PRECONDITION); synth/README.md lists them.
//
// Use (see tests/cohort_append_test.cc): append a case's events in batches
// that break at every InvalidBatch::after; before appending events[after],
// send each invalid batch whose `after` equals that index as a batch of its
// own, and compare the refusal with `expected`. A refused batch stores
// nothing, so the case then continues validly.
//
// Pure functions over values; thread-compatible.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "kring/v1/events.pb.h"
#include "synth/random.h"

namespace kring::synth {

// The refusal an invalid batch must get.
struct ExpectedRefusal {
  // INVALID_ARGUMENT, FAILED_PRECONDITION or RESOURCE_EXHAUSTED.
  absl::StatusCode code = absl::StatusCode::kOk;
  // Field path relative to the batch, e.g.
  // "events[0].conference_held.attendee_ids[2]": the status message starts
  // with "<field>: ", and it is the only google.rpc.BadRequest field violation
  // (INVALID_ARGUMENT, RESOURCE_EXHAUSTED) or the PreconditionFailure
  // violation's subject (FAILED_PRECONDITION).
  std::string field;
  // FAILED_PRECONDITION only: the violation type, e.g. "ATTENDEE_NOT_INVITED".
  std::string violation_type;
};

// One batch of one event that must be refused.
struct InvalidBatch {
  // What is wrong, e.g. "ATTENDEE_NOT_INVITED" or "MUNICIPALITY_CODE_MALFORMED"
  // (a violation type, or a name of ours for format errors).
  std::string label;
  // Send it once exactly the first `after` events of the case are appended
  // (0: before the case has any event).
  size_t after = 0;
  // The batch's case id: the case's own, except for CASE_ID_MALFORMED.
  std::string case_id;
  v1::Event event;
  ExpectedRefusal expected;
};

// Appends `count` invalid batches for the case `case_id` whose valid stream
// is `events` (non-empty), kinds and places drawn from `rng`, to `out`, kept
// ordered by `after` (stable). `max_batch_bytes` is the server's batch size
// limit, for the oversize kind.
void AddInvalidBatches(const std::string& case_id, const std::vector<v1::Event>& events, int count,
                       size_t max_batch_bytes, Rng& rng, std::vector<InvalidBatch>* out);

}  // namespace kring::synth
