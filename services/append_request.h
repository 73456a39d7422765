// The mapping between the wire's append messages and the event store's batch,
// kept apart from the gRPC handlers so that the fuzz target (fuzz/) exercises
// exactly the code kringd runs without linking the whole server.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "eventstore/event_store.h"
#include "kring/v1/ingest.pb.h"

namespace kring::services {

// The store's batch for a request; `source` is the authenticated sender.
// INVALID_ARGUMENT for an expected_version whose flag is set to false.
absl::StatusOr<eventstore::AppendBatch> ToBatch(v1::AppendRequest&& request, const std::string& source);
void ToResult(const std::string& case_id, const eventstore::AppendOutcome& outcome, v1::AppendResult* result);

}  // namespace kring::services
