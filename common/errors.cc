#include "common/errors.h"

#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"

namespace kring {

absl::Status BadRequestError(const std::vector<FieldViolation>& violations, absl::StatusCode code) {
  google::rpc::BadRequest details;
  for (const FieldViolation& v : violations) {
    auto* fv = details.add_field_violations();
    fv->set_field(v.field);
    fv->set_description(v.description);
  }
  std::string message =
      violations.empty() ? "invalid request" : absl::StrCat(violations[0].field, ": ", violations[0].description);
  if (violations.size() > 1) {
    absl::StrAppend(&message, " (and ", violations.size() - 1, " more in the error details)");
  }
  absl::Status status(code, message);
  status.SetPayload(kBadRequestTypeUrl, absl::Cord(details.SerializeAsString()));
  return status;
}

absl::Status BadRequestError(const std::string& field, const std::string& description, absl::StatusCode code) {
  return BadRequestError(std::vector<FieldViolation>{{field, description}}, code);
}

absl::Status PreconditionError(const std::string& type, const std::string& subject, const std::string& description) {
  google::rpc::PreconditionFailure details;
  auto* v = details.add_violations();
  v->set_type(type);
  v->set_subject(subject);
  v->set_description(description);
  absl::Status status = absl::FailedPreconditionError(absl::StrCat(subject, ": ", description));
  status.SetPayload(kPreconditionFailureTypeUrl, absl::Cord(details.SerializeAsString()));
  return status;
}

absl::Status WrongExpectedVersionError(const std::string& message, uint64_t current, std::optional<uint64_t> expected) {
  google::rpc::ErrorInfo info;
  info.set_reason(kWrongExpectedVersionReason);
  info.set_domain(kErrorDomain);
  auto& metadata = *info.mutable_metadata();
  metadata[kCurrentVersionKey] = absl::StrCat(current);
  metadata[kExpectedVersionKey] = expected ? absl::StrCat(*expected) : std::string(kNoStreamVersion);
  absl::Status status = absl::AbortedError(message);
  status.SetPayload(kErrorInfoTypeUrl, absl::Cord(info.SerializeAsString()));
  return status;
}

google::rpc::Status ToRpcStatus(const absl::Status& s) {
  google::rpc::Status out;
  out.set_code(static_cast<int>(s.code()));
  out.set_message(std::string(s.message()));
  s.ForEachPayload([&out](absl::string_view type_url, const absl::Cord& payload) {
    auto* any = out.add_details();
    any->set_type_url(std::string(type_url));
    any->set_value(std::string(payload));
  });
  return out;
}

}  // namespace kring
