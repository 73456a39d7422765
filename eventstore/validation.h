// Checks on the shape of an append batch that need no case state: formats of
// ids and codes, required envelope and payload fields, known enum values, time
// bounds and batch limits. They run on the caller's thread before a batch is
// queued, so a malformed batch never reaches the writer. A refusal is
// INVALID_ARGUMENT (RESOURCE_EXHAUSTED for limits) carrying a
// google.rpc.BadRequest that lists every violation found (up to 50) by field
// path and rule, e.g.
//   events[3].conference_held.attendee_ids[2]: must be 1-64 characters of ...
// The rules that depend on the case's state are in case_rules.h.
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

// The rule IsValidId checks, as error messages state it.
inline constexpr char kIdRule[] = "must be 1-64 characters of A-Z a-z 0-9 . _ : - starting with a letter or digit";

// True for 1-64 characters of [A-Za-z0-9._:-], starting with a letter or digit:
// the format of case, participant, coordinator and action ids, and of codes.
bool IsValidId(std::string_view id);
// True for a canonical UUID: 8-4-4-4-12 lowercase hexadecimal digits (one
// spelling per id, so that an id is the same key wherever it is used).
bool IsValidUuid(std::string_view id);
// True for 1-64 characters of [A-Za-z0-9._-]: the name of a caller in the
// server's identities file (security/auth.h), e.g. a partner in a grant.
bool IsIdentityName(std::string_view name);
// True for a CBS municipality code: "GM" and four digits, e.g. GM0363.
bool IsMunicipalityCode(std::string_view code);
// True for a BCP 47 language tag of the common shape: a 2-3 letter lowercase
// primary language, then subtags of 1-8 letters or digits, e.g. "nl", "pt-BR".
bool IsLanguageTag(std::string_view tag);

// OK, or INVALID_ARGUMENT / RESOURCE_EXHAUSTED with a google.rpc.BadRequest.
absl::Status ValidateBatch(const AppendBatch& batch, const ValidationOptions& options, absl::Time now);

}  // namespace kring::eventstore
