#include "services/erasure.h"

#include <cstring>
#include <optional>

#include "absl/strings/str_cat.h"
#include "common/crash_point.h"
#include "common/errors.h"
#include "common/log.h"
#include "common/status.h"
#include "common/time.h"
#include "common/uuid.h"
#include "eventstore/validation.h"
#include "security/aead.h"

namespace kring::services {
namespace {

absl::StatusOr<std::string> NewEventId() {
  ASSIGN_OR_RETURN(std::string random, security::RandomBytes(16));
  uint64_t hi = 0, lo = 0;
  std::memcpy(&hi, random.data(), 8);
  std::memcpy(&lo, random.data() + 8, 8);
  std::string id;
  FormatUuidV4(hi, lo, &id);
  return id;
}

// A failed step as the operator sees it: UNAVAILABLE (a retry may succeed),
// saying what is already true and how it gets finished.
absl::Status StepFailed(const std::string& what, const absl::Status& cause) {
  return absl::UnavailableError(absl::StrCat(what, ": ", cause.message()));
}

}  // namespace

absl::StatusOr<v1::ErasePersonalDataResponse> Eraser::Erase(const std::string& case_id,
                                                            const std::string& operator_name) {
  if (!eventstore::IsValidId(case_id)) {
    return BadRequestError("case_id", "must be 1-64 characters of A-Z a-z 0-9 . _ : - starting with a letter or digit");
  }
  if (keys_ == nullptr) {
    return absl::FailedPreconditionError(
        "--master-key-file: this server runs without a master key, so it holds no data keys to destroy");
  }
  std::lock_guard<std::mutex> lock(mu_);
  ASSIGN_OR_RETURN(std::vector<v1::RecordedEvent> events, store_->ReadCase(CaseId(case_id), StreamVersion(1)));
  if (events.empty()) {
    return BadRequestError("case_id", "no events recorded for this case", absl::StatusCode::kNotFound);
  }
  ASSIGN_OR_RETURN(std::optional<security::KeyStore::ErasureIntent> intent, keys_->PendingErasure(case_id));
  if (!intent) {
    const v1::RecordedEvent* logged = nullptr;
    for (const v1::RecordedEvent& e : events) {
      if (e.event().has_personal_data_erased()) logged = &e;
    }
    if (logged != nullptr && keys_->IsErased(case_id)) {
      // Erased before, completely.
      v1::ErasePersonalDataResponse response;
      response.set_case_id(case_id);
      response.set_key_id(logged->event().personal_data_erased().key_id());
      response.set_global_position(logged->global_position());
      response.set_stream_version(logged->stream_version());
      response.set_already_erased(true);
      return response;
    }
    // A new erasure; or the log says erased but the key was never destroyed
    // (a store written before erasures recorded their intent first): destroy
    // it under the logged event's id, which the append then finds.
    std::string event_id;
    absl::Time occurred_at = absl::Now();
    if (logged != nullptr) {
      event_id = logged->event().event_id();
      occurred_at = FromTimestamp(logged->event().occurred_at());
    } else {
      ASSIGN_OR_RETURN(event_id, NewEventId());
    }
    KRING_CRASH_POINT("erase.before_intent");
    absl::StatusOr<security::KeyStore::ErasureIntent> begun =
        keys_->BeginErasure(case_id, event_id, logged != nullptr ? logged->source() : operator_name, occurred_at);
    if (!begun.ok()) {
      return StepFailed(
          "erasure not confirmed: recording it in the key store failed; nothing is half done: if the record "
          "reached the disk, the next start of kringd finishes the erasure, otherwise nothing changed; retry it",
          begun.status());
    }
    intent = *std::move(begun);
  }
  return Finish(*intent);
}

absl::StatusOr<v1::ErasePersonalDataResponse> Eraser::Finish(const security::KeyStore::ErasureIntent& intent) {
  eventstore::AppendBatch batch;
  batch.case_id = CaseId(intent.case_id);
  batch.source = intent.operator_name;
  batch.server_written = true;
  v1::Event& erased = batch.events.emplace_back();
  erased.set_event_id(intent.event_id);
  *erased.mutable_occurred_at() = ToTimestamp(intent.occurred_at);
  erased.mutable_personal_data_erased()->set_key_id(intent.key_id);
  absl::StatusOr<eventstore::AppendOutcome> outcome = store_->Append(std::move(batch));
  if (!outcome.ok()) {
    return StepFailed(
        "erasure recorded (the case's data key opens and seals nothing) but not finished: appending the "
        "PersonalDataErased event failed; a retry or the next start of kringd finishes it",
        outcome.status());
  }
  KRING_CRASH_POINT("erase.after_event_appended");
  if (absl::Status s = keys_->CompleteErasure(intent.case_id); !s.ok()) {
    return StepFailed(
        "erasure recorded and in the log (the data key opens nothing) but not finished: purging the old key "
        "from the key folder failed; a retry or the next start of kringd finishes it",
        s);
  }
  KRING_CRASH_POINT("erase.before_reply");
  v1::ErasePersonalDataResponse response;
  response.set_case_id(intent.case_id);
  response.set_key_id(intent.key_id);
  response.set_global_position(outcome->first_position.value());
  response.set_stream_version(outcome->first_version.value());
  response.set_already_erased(outcome->already_recorded);
  Logger("operations")
      ->info("msg=personal_data_erased position={} key_destroyed={} already_recorded={}",
             outcome->first_position.value(), !intent.key_id.empty(), outcome->already_recorded);
  return response;
}

absl::StatusOr<int> Eraser::CompletePending() {
  if (keys_ == nullptr) return 0;
  std::lock_guard<std::mutex> lock(mu_);
  ASSIGN_OR_RETURN(std::vector<security::KeyStore::ErasureIntent> pending, keys_->PendingErasures());
  int finished = 0;
  for (const security::KeyStore::ErasureIntent& intent : pending) {
    absl::StatusOr<v1::ErasePersonalDataResponse> r = Finish(intent);
    if (!r.ok()) {
      Logger("operations")
          ->error("msg=erasure_not_finished pending={} status=\"{}\"", pending.size() - finished,
                  r.status().ToString());
      return r.status();
    }
    ++finished;
  }
  if (finished > 0) Logger("operations")->warn("msg=interrupted_erasures_finished count={}", finished);
  return finished;
}

}  // namespace kring::services
