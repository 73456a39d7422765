#include "eventstore/validation.h"

#include <algorithm>
#include <unordered_set>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/errors.h"
#include "common/time.h"
#include "eventstore/event_store.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/message.h"
#include "google/protobuf/unknown_field_set.h"

namespace kring::eventstore {
namespace {

constexpr size_t kMaxViolations = 50;
// Free text outside `personal` is stored and published in clear and survives
// an erasure: a retraction's reason is kept to a code or a short phrase
// (docs/security.md "Free text outside personal").
constexpr size_t kMaxReasonBytes = 100;
constexpr uint32_t kMaxChildrenAffected = 25;
constexpr size_t kMaxPersonalFields = 64;
constexpr size_t kMaxPersonalValueBytes = 4096;
constexpr int64_t kMaxAmountCents = 100'000'000'000;  // EUR 1 billion: a typo, not a cost

bool IsLowerHex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); }
bool IsLower(char c) { return c >= 'a' && c <= 'z'; }
bool IsAlnum(char c) { return (c >= '0' && c <= '9') || IsLower(c) || (c >= 'A' && c <= 'Z'); }

// Collects the violations of one batch, each as field path and rule.
class Checker {
 public:
  void Add(const std::string& field, const std::string& rule) {
    if (violations_.size() < kMaxViolations) violations_.push_back({field, rule});
  }
  bool ok() const { return violations_.empty(); }
  absl::Status Status() const { return ok() ? absl::OkStatus() : BadRequestError(violations_); }

  // An enum field: a value this server knows, and not *_UNSPECIFIED (0).
  template <typename IsValid>
  void Enum(const std::string& field, int value, IsValid is_valid) {
    if (value == 0) {
      Add(field, "is required (the *_UNSPECIFIED value 0 means not given)");
    } else if (!is_valid(value)) {
      Add(field, absl::StrCat("unknown value ", value, "; see the enum in kring/v1/events.proto"));
    }
  }
  void Id(const std::string& field, const std::string& value) {
    if (!IsValidId(value)) Add(field, kIdRule);
  }
  // A list of ids: each well-formed and none twice; at least `min` of them.
  void Ids(const std::string& field, const google::protobuf::RepeatedPtrField<std::string>& ids, int min = 0) {
    if (ids.size() < min) Add(field, absl::StrCat("must name at least ", min, min == 1 ? " id" : " ids"));
    std::unordered_set<std::string_view> seen;
    for (int i = 0; i < ids.size(); ++i) {
      const std::string at = absl::StrCat(field, "[", i, "]");
      if (!IsValidId(ids[i])) {
        Add(at, kIdRule);
      } else if (!seen.insert(ids[i]).second) {
        Add(at, "appears twice in this list");
      }
    }
  }
  void Languages(const std::string& field, const google::protobuf::RepeatedPtrField<std::string>& tags) {
    for (int i = 0; i < tags.size(); ++i) {
      if (!IsLanguageTag(tags[i])) {
        Add(absl::StrCat(field, "[", i, "]"), "must be a BCP 47 language tag such as \"nl\", \"ar\" or \"pt-BR\"");
      }
    }
  }
  void OptionalCode(const std::string& field, const std::string& value) {
    if (!value.empty()) Id(field, value);
  }

 private:
  std::vector<FieldViolation> violations_;
};

void CheckPayload(const v1::Event& e, const std::string& at, bool server_written, Checker& c) {
  switch (e.payload_case()) {
    case v1::Event::kCaseReferred: {
      const auto& p = e.case_referred();
      const std::string f = at + ".case_referred";
      c.Enum(f + ".domain", p.domain(), v1::Domain_IsValid);
      c.Enum(f + ".legal_framework", p.legal_framework(), v1::LegalFramework_IsValid);
      for (int i = 0; i < p.threatened_measures_size(); ++i) {
        c.Enum(absl::StrCat(f, ".threatened_measures[", i, "]"), p.threatened_measures(i),
               v1::ProtectionMeasure_IsValid);
      }
      c.Enum(f + ".referrer_kind", p.referrer_kind(), v1::ReferrerKind_IsValid);
      if (!IsMunicipalityCode(p.municipality_code())) {
        c.Add(f + ".municipality_code", "must be a CBS municipality code: GM and four digits, e.g. GM0363");
      }
      c.Languages(f + ".preferred_languages", p.preferred_languages());
      c.Ids(f + ".central_person_ids", p.central_person_ids());
      return;
    }
    case v1::Event::kPlanRightOffered:
      c.Enum(at + ".plan_right_offered.legal_framework", e.plan_right_offered().legal_framework(),
             v1::LegalFramework_IsValid);
      return;
    case v1::Event::kPlanRightDeclined:
      c.Id(at + ".plan_right_declined.reason_code", e.plan_right_declined().reason_code());
      return;
    case v1::Event::kCoordinatorAssigned:
      c.Id(at + ".coordinator_assigned.coordinator_id", e.coordinator_assigned().coordinator_id());
      c.Languages(at + ".coordinator_assigned.languages", e.coordinator_assigned().languages());
      return;
    case v1::Event::kParticipantInvited:
      c.Id(at + ".participant_invited.participant_id", e.participant_invited().participant_id());
      c.Enum(at + ".participant_invited.relation", e.participant_invited().relation(), v1::Relation_IsValid);
      return;
    case v1::Event::kParticipantResponded:
      c.Id(at + ".participant_responded.participant_id", e.participant_responded().participant_id());
      c.Enum(at + ".participant_responded.response", e.participant_responded().response(),
             v1::InvitationResponse_IsValid);
      return;
    case v1::Event::kPreparationStopped:
      c.Enum(at + ".preparation_stopped.reason", e.preparation_stopped().reason(), v1::PreparationStopReason_IsValid);
      return;
    case v1::Event::kConferenceHeld:
      c.Ids(at + ".conference_held.attendee_ids", e.conference_held().attendee_ids(), 1);
      c.Languages(at + ".conference_held.languages", e.conference_held().languages());
      return;
    case v1::Event::kPlanAdopted: {
      const auto& actions = e.plan_adopted().actions();
      if (actions.empty()) c.Add(at + ".plan_adopted.actions", "a plan holds at least one action");
      std::unordered_set<std::string_view> ids;
      for (int i = 0; i < actions.size(); ++i) {
        const std::string f = absl::StrCat(at, ".plan_adopted.actions[", i, "]");
        c.Id(f + ".action_id", actions[i].action_id());
        if (IsValidId(actions[i].action_id()) && !ids.insert(actions[i].action_id()).second) {
          c.Add(f + ".action_id", "appears twice in this plan");
        }
        c.Id(f + ".owner_id", actions[i].owner_id());
        c.Enum(f + ".owner_kind", actions[i].owner_kind(), v1::ActionOwnerKind_IsValid);
        c.Id(f + ".category_code", actions[i].category_code());
      }
      return;
    }
    case v1::Event::kPlanDecided:
      c.Enum(at + ".plan_decided.decision", e.plan_decided().decision(), v1::PlanDecision_IsValid);
      c.OptionalCode(at + ".plan_decided.reason_code", e.plan_decided().reason_code());
      return;
    case v1::Event::kPlanActionStatusChanged:
      c.Id(at + ".plan_action_status_changed.action_id", e.plan_action_status_changed().action_id());
      c.Enum(at + ".plan_action_status_changed.status", e.plan_action_status_changed().status(),
             v1::ActionStatus_IsValid);
      return;
    case v1::Event::kFollowUpRecorded: {
      const auto& p = e.follow_up_recorded();
      c.Ids(at + ".follow_up_recorded.active_supporter_ids", p.active_supporter_ids());
      c.Enum(at + ".follow_up_recorded.plan_execution", p.plan_execution(), v1::PlanExecution_IsValid);
      c.Enum(at + ".follow_up_recorded.reported_by", p.reported_by(), v1::Reporter_IsValid);
      return;
    }
    case v1::Event::kReviewConferenceHeld:
      c.Ids(at + ".review_conference_held.attendee_ids", e.review_conference_held().attendee_ids(), 1);
      return;
    case v1::Event::kOutcomeRecorded:
      c.Enum(at + ".outcome_recorded.outcome", e.outcome_recorded().outcome(), v1::OutcomeType_IsValid);
      if (e.outcome_recorded().children_affected() > kMaxChildrenAffected) {
        c.Add(at + ".outcome_recorded.children_affected", absl::StrCat("must be at most ", kMaxChildrenAffected));
      }
      return;
    case v1::Event::kCostRecorded: {
      const auto& p = e.cost_recorded();
      c.Enum(at + ".cost_recorded.kind", p.kind(), v1::CostKind_IsValid);
      if (p.amount_cents() <= 0 || p.amount_cents() > kMaxAmountCents) {
        c.Add(at + ".cost_recorded.amount_cents",
              "must be a positive amount in cents of at most 100000000000 (a correction is a retraction)");
      }
      if (p.currency() != "EUR") c.Add(at + ".cost_recorded.currency", "must be \"EUR\" (ISO 4217)");
      return;
    }
    case v1::Event::kCaseClosed:
      c.Enum(at + ".case_closed.end_reason", e.case_closed().end_reason(), v1::EndReason_IsValid);
      return;
    case v1::Event::kEventRetracted: {
      const auto& p = e.event_retracted();
      if (!IsValidUuid(p.retracted_event_id())) {
        c.Add(at + ".event_retracted.retracted_event_id",
              "must be the event_id (a lowercase UUID) of the event to withdraw");
      } else if (p.retracted_event_id() == e.event_id()) {
        c.Add(at + ".event_retracted.retracted_event_id", "an event cannot retract itself");
      }
      if (p.reason().empty() || p.reason().size() > kMaxReasonBytes) {
        c.Add(at + ".event_retracted.reason",
              absl::StrCat("is required: 1-", kMaxReasonBytes,
                           " bytes saying why (a code or a short phrase), without personal data: it is stored in "
                           "clear and outlives an erasure; put a longer note in the event's personal part, which "
                           "is sealed"));
      }
      return;
    }
    case v1::Event::kPersonalDataErased:
      if (!server_written) c.Add(at + ".personal_data_erased", "is written by the server only, never by a partner");
      return;
    case v1::Event::kCaseAccessGranted:
      if (!IsIdentityName(e.case_access_granted().partner())) {
        c.Add(at + ".case_access_granted.partner",
              "must be the partner's identity name: 1-64 characters of A-Z a-z 0-9 . _ -");
      }
      return;
    case v1::Event::PAYLOAD_NOT_SET:
      c.Add(at + ".payload", "exactly one event payload (case_referred ... event_retracted) is required");
      return;
  }
}

// Fields this server's schema does not define, anywhere in the event:
// refused, since they cannot be checked and would be stored and published in
// clear, beyond the reach of an erasure (docs/schema-evolution.md rule 4).
// Only the field numbers are named, never their content.
void CheckUnknownFields(const google::protobuf::Message& m, const std::string& at, Checker& c) {
  const google::protobuf::Reflection* reflection = m.GetReflection();
  const google::protobuf::UnknownFieldSet& unknown = reflection->GetUnknownFields(m);
  for (int i = 0; i < unknown.field_count(); ++i) {
    c.Add(at, absl::StrCat("carries field number ", unknown.field(i).number(),
                           ", which this server's schema (kring/v1/events.proto) does not define; unknown fields "
                           "are refused (they cannot be checked and would be stored in clear): leave the field out, "
                           "or upgrade the server first"));
  }
  std::vector<const google::protobuf::FieldDescriptor*> fields;
  reflection->ListFields(m, &fields);
  for (const google::protobuf::FieldDescriptor* f : fields) {
    if (f->cpp_type() != google::protobuf::FieldDescriptor::CPPTYPE_MESSAGE) continue;
    const std::string path = absl::StrCat(at, ".", f->name());
    if (!f->is_repeated()) {
      CheckUnknownFields(reflection->GetMessage(m, f), path, c);
      continue;
    }
    for (int i = 0; i < reflection->FieldSize(m, f); ++i) {
      CheckUnknownFields(reflection->GetRepeatedMessage(m, f, i), absl::StrCat(path, "[", i, "]"), c);
    }
  }
}

// The personal part: only its shape, and never its values in a message
// (field names are a schema, values are personal data).
void CheckPersonal(const v1::PersonalData& personal, const std::string& at, Checker& c) {
  if (personal.fields().empty()) c.Add(at + ".fields", "must hold at least one field when personal is set");
  if (personal.fields_size() > static_cast<int>(kMaxPersonalFields)) {
    c.Add(at + ".fields", absl::StrCat("holds at most ", kMaxPersonalFields, " fields"));
  }
  for (const auto& [key, value] : personal.fields()) {
    const bool key_ok = !key.empty() && key.size() <= 64 && std::all_of(key.begin(), key.end(), [](char ch) {
      return IsLower(ch) || ch == '_' || (ch >= '0' && ch <= '9');
    });
    if (!key_ok) {
      c.Add(at + ".fields", "every key must be 1-64 characters of a-z 0-9 _ (the value is not shown)");
    } else if (value.size() > kMaxPersonalValueBytes) {
      c.Add(absl::StrCat(at, ".fields[\"", key, "\"]"),
            absl::StrCat("must be at most ", kMaxPersonalValueBytes, " bytes (the value is not shown)"));
    }
  }
}

}  // namespace

bool IsIdentityName(std::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  for (char ch : name) {
    if (!IsAlnum(ch) && ch != '.' && ch != '_' && ch != '-') return false;
  }
  return true;
}

bool IsValidId(std::string_view id) {
  if (id.empty() || id.size() > 64 || !IsAlnum(id[0])) return false;
  for (char c : id) {
    if (!IsAlnum(c) && c != '.' && c != '_' && c != ':' && c != '-') return false;
  }
  return true;
}

bool IsValidUuid(std::string_view id) {
  if (id.size() != 36) return false;
  for (size_t i = 0; i < id.size(); ++i) {
    const bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash ? id[i] != '-' : !IsLowerHex(id[i])) return false;
  }
  return true;
}

bool IsMunicipalityCode(std::string_view code) {
  if (code.size() != 6 || code[0] != 'G' || code[1] != 'M') return false;
  for (size_t i = 2; i < 6; ++i) {
    if (code[i] < '0' || code[i] > '9') return false;
  }
  return true;
}

bool IsLanguageTag(std::string_view tag) {
  size_t i = 0;
  while (i < tag.size() && IsLower(tag[i])) ++i;
  if (i < 2 || i > 3) return false;
  while (i < tag.size()) {
    if (tag[i] != '-') return false;
    const size_t start = ++i;
    while (i < tag.size() && IsAlnum(tag[i])) ++i;
    if (i == start || i - start > 8) return false;
  }
  return tag.size() <= 35;
}

absl::Status ValidateBatch(const AppendBatch& batch, const ValidationOptions& options, absl::Time now) {
  if (!IsValidId(batch.case_id.value())) return BadRequestError("case_id", kIdRule);
  if (batch.events.empty()) return BadRequestError("events", "a batch must hold at least one event");
  if (batch.events.size() > options.max_batch_events) {
    return BadRequestError(
        "events",
        absl::StrCat("a batch holds at most ", options.max_batch_events, " events; this one has ", batch.events.size()),
        absl::StatusCode::kResourceExhausted);
  }
  size_t bytes = 0;
  for (const v1::Event& e : batch.events) bytes += e.ByteSizeLong();
  if (bytes > options.max_batch_bytes) {
    return BadRequestError(
        "events", absl::StrCat("a batch holds at most ", options.max_batch_bytes, " bytes; this one has ", bytes),
        absl::StatusCode::kResourceExhausted);
  }

  Checker c;
  std::unordered_set<std::string_view> ids;
  const absl::Time latest = now + options.clock_skew;
  for (size_t i = 0; i < batch.events.size(); ++i) {
    const v1::Event& e = batch.events[i];
    const std::string at = absl::StrCat("events[", i, "]");
    if (!IsValidUuid(e.event_id())) {
      c.Add(at + ".event_id", "must be a UUID in lowercase hexadecimal (8-4-4-4-12 digits)");
    } else if (!ids.insert(e.event_id()).second) {
      c.Add(at + ".event_id", "appears twice in this batch; every event needs its own id");
    }
    if (!e.has_occurred_at()) {
      c.Add(at + ".occurred_at", "is required");
    } else if (e.occurred_at().nanos() < 0 || e.occurred_at().nanos() > 999999999) {
      c.Add(at + ".occurred_at.nanos", "must lie in 0..999999999");
    } else {
      const absl::Time occurred = FromTimestamp(e.occurred_at());
      if (occurred < options.occurred_at_floor) {
        c.Add(at + ".occurred_at",
              absl::StrCat("must not lie before ",
                           absl::FormatTime("%Y-%m-%d", options.occurred_at_floor, absl::UTCTimeZone())));
      } else if (occurred > latest) {
        c.Add(at + ".occurred_at", absl::StrCat("must not lie in the future (more than ",
                                                absl::FormatDuration(options.clock_skew), " past the server's clock)"));
      }
    }
    if (!e.correlation_id().empty() && !IsValidUuid(e.correlation_id())) {
      c.Add(at + ".correlation_id", "must be empty or a lowercase UUID");
    }
    if (!e.causation_id().empty() && !IsValidUuid(e.causation_id())) {
      c.Add(at + ".causation_id", "must be empty or a lowercase UUID");
    }
    if (e.has_personal()) CheckPersonal(e.personal(), at + ".personal", c);
    CheckPayload(e, at, batch.server_written, c);
    CheckUnknownFields(e, at, c);
  }
  return c.Status();
}

}  // namespace kring::eventstore
