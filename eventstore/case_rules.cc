#include "eventstore/case_rules.h"

#include "absl/strings/str_cat.h"
#include "common/errors.h"
#include "common/status.h"

namespace kring::eventstore {
namespace {

bool Live(const std::unordered_map<std::string, uint32_t>& counts, const std::string& id) {
  auto it = counts.find(id);
  return it != counts.end() && it->second > 0;
}

void Count(std::unordered_map<std::string, uint32_t>& counts, const std::string& id, int delta) {
  uint32_t& n = counts[id];
  n = delta > 0 ? n + 1 : (n > 0 ? n - 1 : 0);
  if (n == 0) counts.erase(id);
}

void Bump(uint32_t& n, int delta) { n = delta > 0 ? n + 1 : (n > 0 ? n - 1 : 0); }

// The payload's contribution to the state, added (delta +1) or withdrawn (-1).
void ApplyPayload(CaseState& s, const v1::Event& e, int delta) {
  switch (e.payload_case()) {
    case v1::Event::kCaseReferred:
      Bump(s.referrals, delta);
      for (const auto& id : e.case_referred().central_person_ids()) Count(s.central, id, delta);
      break;
    case v1::Event::kCoordinatorAssigned:
      Count(s.coordinators, e.coordinator_assigned().coordinator_id(), delta);
      break;
    case v1::Event::kParticipantInvited:
      Count(s.invited, e.participant_invited().participant_id(), delta);
      break;
    case v1::Event::kConferenceHeld:
      Bump(s.conferences, delta);
      break;
    case v1::Event::kPlanAdopted:
      Bump(s.plans, delta);
      for (const auto& action : e.plan_adopted().actions()) Count(s.actions, action.action_id(), delta);
      break;
    case v1::Event::kCaseClosed:
      Bump(s.closures, delta);
      break;
    case v1::Event::kCaseAccessGranted:
      Count(s.granted, e.case_access_granted().partner(), delta);
      break;
    case v1::Event::kPersonalDataErased:
      Bump(s.erasures, delta);
      break;
    default:
      break;
  }
}

// The case's participants: invited, or named as central persons in the
// referral.
bool IsParticipant(const CaseState& s, const std::string& id) { return Live(s.invited, id) || Live(s.central, id); }

constexpr char kParticipantRule[] =
    "must be a participant of this case: invited (participant_invited) or a central person named in case_referred";

// Each id must be a participant; attendees of a (review) conference may also
// be the case's coordinator, whom the read models leave out of the network.
absl::Status CheckParticipants(const CaseState& s, const google::protobuf::RepeatedPtrField<std::string>& ids,
                               const std::string& type, const std::string& field, bool coordinator_may_attend = false) {
  for (int k = 0; k < ids.size(); ++k) {
    if (IsParticipant(s, ids[k]) || (coordinator_may_attend && Live(s.coordinators, ids[k]))) continue;
    return PreconditionError(type, absl::StrCat(field, "[", k, "]"),
                             coordinator_may_attend ? absl::StrCat(kParticipantRule, ", or its coordinator")
                                                    : std::string(kParticipantRule));
  }
  return absl::OkStatus();
}

bool AllowedAfterClosure(v1::Event::PayloadCase p) {
  return p == v1::Event::kFollowUpRecorded || p == v1::Event::kOutcomeRecorded || p == v1::Event::kCostRecorded ||
         p == v1::Event::kEventRetracted || p == v1::Event::kCaseAccessGranted;
}

}  // namespace

absl::Status CheckCaseRules(const CaseState& s, const std::string& case_id, const v1::Event& e, size_t index,
                            const RetractionTarget* target) {
  const std::string at = absl::StrCat("events[", index, "]");
  const v1::Event::PayloadCase payload = e.payload_case();
  // An erasure (written by the server) applies to any case that exists,
  // closed or not, once.
  if (payload == v1::Event::kPersonalDataErased) {
    if (s.version == 0) return PreconditionError("REFERRAL_FIRST", at, "this case has no events");
    if (s.erasures > 0) {
      return PreconditionError("ALREADY_ERASED", at + ".personal_data_erased",
                               "the personal data of this case was erased before");
    }
    return absl::OkStatus();
  }
  if (payload != v1::Event::kCaseReferred && s.referrals == 0) {
    if (s.version == 0) {
      return PreconditionError("REFERRAL_FIRST", at, "a case starts with case_referred; this case has no events yet");
    }
    if (payload != v1::Event::kEventRetracted) {
      return PreconditionError("REFERRAL_RETRACTED", at,
                               "this case's referral was retracted; record a new case_referred first");
    }
  }
  if (s.closures > 0 && !AllowedAfterClosure(payload)) {
    return PreconditionError("CASE_CLOSED", at,
                             "the case is closed; only follow_up_recorded, outcome_recorded, cost_recorded and "
                             "event_retracted may follow case_closed");
  }
  switch (payload) {
    case v1::Event::kCaseReferred:
      if (s.referrals > 0) {
        return PreconditionError("REFERRAL_ONCE", at + ".case_referred",
                                 "the case was already referred; a case has one case_referred (retract it to "
                                 "correct it)");
      }
      break;
    case v1::Event::kParticipantResponded:
      if (!Live(s.invited, e.participant_responded().participant_id())) {
        return PreconditionError("PARTICIPANT_NOT_INVITED", at + ".participant_responded.participant_id",
                                 "must be a participant invited to this case (participant_invited) to respond");
      }
      break;
    case v1::Event::kPreparationStopped:
      if (s.conferences > 0) {
        return PreconditionError("PREPARATION_OVER", at + ".preparation_stopped",
                                 "preparation cannot stop after the conference was held");
      }
      break;
    case v1::Event::kConferenceHeld:
      if (s.coordinators.empty()) {
        return PreconditionError("CONFERENCE_NEEDS_COORDINATOR", at + ".conference_held",
                                 "a conference needs a coordinator; record coordinator_assigned first");
      }
      return CheckParticipants(s, e.conference_held().attendee_ids(), "ATTENDEE_NOT_INVITED",
                               at + ".conference_held.attendee_ids", /*coordinator_may_attend=*/true);
    case v1::Event::kPlanAdopted: {
      if (s.conferences == 0) {
        return PreconditionError("PLAN_NEEDS_CONFERENCE", at + ".plan_adopted",
                                 "a plan is made at a conference; record conference_held first");
      }
      const auto& actions = e.plan_adopted().actions();
      for (int k = 0; k < actions.size(); ++k) {
        if (!IsParticipant(s, actions[k].owner_id())) {
          return PreconditionError("ACTION_OWNER_NOT_INVITED",
                                   absl::StrCat(at, ".plan_adopted.actions[", k, "].owner_id"), kParticipantRule);
        }
      }
      break;
    }
    case v1::Event::kPlanDecided:
      if (s.plans == 0) {
        return PreconditionError("DECISION_NEEDS_PLAN", at + ".plan_decided",
                                 "there is no plan to decide on; record plan_adopted first");
      }
      break;
    case v1::Event::kPlanActionStatusChanged:
      if (!Live(s.actions, e.plan_action_status_changed().action_id())) {
        return PreconditionError("UNKNOWN_ACTION", at + ".plan_action_status_changed.action_id",
                                 "must be the action_id of an action in an adopted plan of this case");
      }
      break;
    case v1::Event::kFollowUpRecorded: {
      if (s.plans == 0) {
        return PreconditionError("FOLLOW_UP_NEEDS_PLAN", at + ".follow_up_recorded",
                                 "a follow-up follows a plan; record plan_adopted first");
      }
      return CheckParticipants(s, e.follow_up_recorded().active_supporter_ids(), "SUPPORTER_NOT_INVITED",
                               at + ".follow_up_recorded.active_supporter_ids");
    }
    case v1::Event::kReviewConferenceHeld:
      if (s.plans == 0) {
        return PreconditionError("REVIEW_NEEDS_PLAN", at + ".review_conference_held",
                                 "a review conference reviews a plan; record plan_adopted first");
      }
      return CheckParticipants(s, e.review_conference_held().attendee_ids(), "ATTENDEE_NOT_INVITED",
                               at + ".review_conference_held.attendee_ids", /*coordinator_may_attend=*/true);
    case v1::Event::kEventRetracted: {
      const std::string field = at + ".event_retracted.retracted_event_id";
      // The same answer for an unknown id and an id of another case, so that a
      // partner learns nothing about cases that are not its own.
      if (target == nullptr || target->case_id != case_id) {
        return PreconditionError("RETRACTED_EVENT_UNKNOWN", field, "names no recorded event of this case");
      }
      if (target->event.has_event_retracted()) {
        return PreconditionError("RETRACTION_OF_RETRACTION", field,
                                 "names a retraction; a retraction cannot be withdrawn, record the event again with "
                                 "a new event_id instead");
      }
      if (target->event.has_personal_data_erased()) {
        return PreconditionError("ERASURE_IS_FINAL", field, "an erasure of personal data cannot be withdrawn");
      }
      if (s.retracted.count(target->event.event_id())) {
        return PreconditionError("ALREADY_RETRACTED", field, "the event it names was already retracted");
      }
      break;
    }
    default:
      break;
  }
  return absl::OkStatus();
}

absl::Status CheckPartnerMayAppend(const CaseState& s, const std::string& source) {
  // A new case is the sender's own: its case_referred makes it the referrer.
  if (s.version == 0 || source == s.referrer || Live(s.granted, source)) return absl::OkStatus();
  // One message for every refusal: it names nothing of the case.
  return absl::PermissionDeniedError(
      absl::StrCat("case_id: partner ", source, " neither referred this case nor was granted access to it"));
}

absl::Status CheckCaseAccess(const CaseState& s, const std::string& source, const v1::Event& e, size_t index,
                             const RetractionTarget* target) {
  if (s.version == 0) return absl::OkStatus();
  RETURN_IF_ERROR(CheckPartnerMayAppend(s, source));
  const bool referrer = source == s.referrer;
  const bool grant_change = e.has_case_access_granted() || (target && target->event.has_case_access_granted());
  if (grant_change && !referrer) {
    return absl::PermissionDeniedError(absl::StrCat("events[", index,
                                                    "]: only the partner that referred the case may grant or "
                                                    "withdraw access to it"));
  }
  return absl::OkStatus();
}

void ApplyToCaseState(CaseState& s, const v1::Event& e, const std::string& source, const v1::Event* retracted) {
  s.version++;
  if (e.has_case_referred() && s.referrer.empty()) s.referrer = source;
  if (e.has_event_retracted()) {
    if (retracted != nullptr && s.retracted.insert(e.event_retracted().retracted_event_id()).second) {
      ApplyPayload(s, *retracted, -1);
    }
    return;
  }
  ApplyPayload(s, e, +1);
}

}  // namespace kring::eventstore
