// Errors that a partner's developer can act on: absl::Status values carrying
// the standard google.rpc error details (BadRequest for malformed input,
// PreconditionFailure for rule violations, ErrorInfo for a wrong expected
// version) as payloads under their type URLs.
// The message is the first violation as "field: rule"; the details list them
// all. At the service edge ToRpcStatus() turns both into the google.rpc.Status
// that gRPC sends in the `grpc-status-details-bin` trailer.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"

namespace kring {

inline constexpr char kBadRequestTypeUrl[] = "type.googleapis.com/google.rpc.BadRequest";
inline constexpr char kPreconditionFailureTypeUrl[] = "type.googleapis.com/google.rpc.PreconditionFailure";
inline constexpr char kErrorInfoTypeUrl[] = "type.googleapis.com/google.rpc.ErrorInfo";

// The google.rpc.ErrorInfo of a wrong expected version (ingest.proto,
// AppendAck.details): reason, domain and metadata keys, which partners'
// programs branch on.
inline constexpr char kWrongExpectedVersionReason[] = "WRONG_EXPECTED_VERSION";
inline constexpr char kErrorDomain[] = "kring.v1";
inline constexpr char kCurrentVersionKey[] = "current_version";
inline constexpr char kExpectedVersionKey[] = "expected_version";
inline constexpr char kNoStreamVersion[] = "no_stream";  // expected_version of "the case must not exist yet"

struct FieldViolation {
  std::string field;        // path, e.g. "events[3].conference_held.attendee_ids[2]"
  std::string description;  // the rule in plain words
};

// A malformed request: `code` (INVALID_ARGUMENT unless a limit was exceeded)
// with a google.rpc.BadRequest listing every violation. `violations` must not
// be empty.
absl::Status BadRequestError(const std::vector<FieldViolation>& violations,
                             absl::StatusCode code = absl::StatusCode::kInvalidArgument);
absl::Status BadRequestError(const std::string& field, const std::string& description,
                             absl::StatusCode code = absl::StatusCode::kInvalidArgument);

// A rule of the case's current state broken: FAILED_PRECONDITION with a
// google.rpc.PreconditionFailure. `type` is the rule's stable name,
// `subject` the field path.
absl::Status PreconditionError(const std::string& type, const std::string& subject, const std::string& description);

// The case is not at the version the batch expected: ABORTED with `message`
// and a google.rpc.ErrorInfo (kWrongExpectedVersionReason, kErrorDomain)
// whose metadata holds current_version (decimal) and expected_version
// (decimal, or kNoStreamVersion when `expected` is nullopt). Versions only:
// never a case id.
absl::Status WrongExpectedVersionError(const std::string& message, uint64_t current, std::optional<uint64_t> expected);

// The google.rpc.Status of `s`: its code, message and the details it carries.
google::rpc::Status ToRpcStatus(const absl::Status& s);

}  // namespace kring
