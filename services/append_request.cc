#include "services/append_request.h"

#include "common/errors.h"
#include "services/wire_walk.h"

namespace kring::services {

absl::StatusOr<eventstore::AppendBatch> ToBatch(v1::AppendRequest&& request, const std::string& source) {
  eventstore::AppendBatch batch;
  batch.case_id = CaseId(std::move(*request.mutable_case_id()));
  const v1::ExpectedVersion& expected = request.expected_version();
  switch (expected.kind_case()) {
    case v1::ExpectedVersion::kExact:
      batch.expected = eventstore::ExpectedVersion::Exact(expected.exact());
      break;
    case v1::ExpectedVersion::kNoStream:
      if (!expected.no_stream()) {
        return BadRequestError("expected_version.no_stream",
                               "must be true when set (leave expected_version unset for \"any\")");
      }
      batch.expected = eventstore::ExpectedVersion::NoStream();
      break;
    case v1::ExpectedVersion::kAny:
      if (!expected.any()) {
        return BadRequestError("expected_version.any", "must be true when set (use exact or no_stream for a check)");
      }
      batch.expected = eventstore::ExpectedVersion::Any();
      break;
    default:
      batch.expected = eventstore::ExpectedVersion::Any();
  }
  batch.events.reserve(request.events_size());
  for (auto& e : *request.mutable_events()) batch.events.push_back(std::move(e));
  batch.source = source;
  return batch;
}

absl::Status UndecodableRequestError(absl::string_view bytes) {
  std::optional<WireProblem> problem = FindWireProblem(*v1::AppendRequest::descriptor(), bytes);
  if (!problem) {
    return BadRequestError("request", "does not decode as a kring.v1.AppendRequest");
  }
  return BadRequestError(problem->field.empty() ? "request" : problem->field, problem->rule);
}

std::optional<uint64_t> ReadableRequestId(absl::string_view bytes) {
  return ReadTopLevelVarint(bytes, v1::AppendRequest::kRequestIdFieldNumber);
}

absl::Status DecodeAppendRequest(absl::string_view bytes, v1::AppendRequest* request) {
  if (request->ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) return absl::OkStatus();
  return UndecodableRequestError(bytes);
}

void ToResult(const std::string& case_id, const eventstore::AppendOutcome& outcome, v1::AppendResult* result) {
  result->set_case_id(case_id);
  result->set_first_stream_version(outcome.first_version.value());
  result->set_last_stream_version(outcome.last_version.value());
  result->set_first_global_position(outcome.first_position.value());
  result->set_last_global_position(outcome.last_position.value());
  result->set_already_recorded(outcome.already_recorded);
}

}  // namespace kring::services
