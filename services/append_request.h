// The mapping between the wire's append messages and the event store's batch,
// kept apart from the gRPC handlers so that the fuzz target (fuzz/) exercises
// exactly the code kringd runs without linking the whole server.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "eventstore/event_store.h"
#include "kring/v1/ingest.pb.h"

namespace kring::services {

// The store's batch for a request; `source` is the authenticated sender.
// INVALID_ARGUMENT for an expected_version whose flag is set to false.
absl::StatusOr<eventstore::AppendBatch> ToBatch(v1::AppendRequest&& request, const std::string& source);

// The INVALID_ARGUMENT (with a google.rpc.BadRequest) for request bytes that
// the protobuf parser refused, naming what could not be decoded and where
// (wire_walk.h): "events[2].event_id: invalid UTF-8 in a string field".
absl::Status UndecodableRequestError(absl::string_view bytes);
// The request_id of such bytes, when the top-level framing lets it be read.
std::optional<uint64_t> ReadableRequestId(absl::string_view bytes);
// Parses `bytes`, or UndecodableRequestError.
absl::Status DecodeAppendRequest(absl::string_view bytes, v1::AppendRequest* request);

void ToResult(const std::string& case_id, const eventstore::AppendOutcome& outcome, v1::AppendResult* result);

}  // namespace kring::services
