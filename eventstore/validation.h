// Checks on the shape of an append batch that need no case state: formats of
// ids, required envelope fields, time bounds and batch limits. They run on the
// caller's thread before a batch is queued, so a malformed batch never reaches
// the writer. Errors name the field path and the rule, e.g.
//   events[3].event_id: must be a UUID (8-4-4-4-12 hexadecimal digits)
#pragma once

#include <chrono>
#include <cstddef>
#include <string_view>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "kring/v1/events.pb.h"

namespace kring::eventstore {

struct AppendBatch;

struct ValidationOptions {
  // Most events in one batch. Default: 1000.
  size_t max_batch_events = 1000;
  // Most serialized bytes of the events of one batch. Default: 4 MiB.
  size_t max_batch_bytes = 4 << 20;
  // Earliest accepted occurred_at. Default: 1989-01-01 (the method's start).
  absl::Time occurred_at_floor = absl::FromCivil(absl::CivilDay(1989, 1, 1), absl::UTCTimeZone());
  // How far past the server's clock occurred_at may lie. Default: 5 minutes.
  absl::Duration clock_skew = absl::Minutes(5);
};

// True for 1–64 characters of [A-Za-z0-9._:-], starting with a letter or digit:
// the format of case, participant, coordinator and action ids.
bool IsValidId(std::string_view id);
// True for a canonical UUID: 8-4-4-4-12 lowercase hexadecimal digits (one
// spelling per id, so that an id is the same key wherever it is used).
bool IsValidUuid(std::string_view id);

// INVALID_ARGUMENT or RESOURCE_EXHAUSTED naming the first offending field.
absl::Status ValidateBatch(const AppendBatch& batch, const ValidationOptions& options, absl::Time now);

}  // namespace kring::eventstore
