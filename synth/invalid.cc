#include "synth/invalid.h"

#include <algorithm>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"

namespace kring::synth {
namespace {

using absl::StatusCode;

// What the kinds need to know about the valid stream: where the milestones
// are (their index, or n when the stream has none) and a few of its events.
struct Stream {
  const std::string& case_id;
  const std::vector<v1::Event>& events;
  size_t n = 0;
  size_t coordinator = 0;
  size_t conference = 0;
  size_t plan = 0;
  size_t closed = 0;
  size_t retraction = 0;
  std::vector<std::string> central;  // central persons named in the referral
};

Stream Scan(const std::string& case_id, const std::vector<v1::Event>& events) {
  Stream s{case_id, events, events.size(), 0, 0, 0, 0, 0, {}};
  s.n = events.size();
  s.coordinator = s.conference = s.plan = s.closed = s.retraction = s.n;
  for (size_t i = 0; i < events.size(); ++i) {
    const v1::Event& e = events[i];
    auto first = [i](size_t& index) { index = std::min(index, i); };
    switch (e.payload_case()) {
      case v1::Event::kCaseReferred:
        for (const std::string& id : e.case_referred().central_person_ids()) s.central.push_back(id);
        break;
      case v1::Event::kCoordinatorAssigned:
        first(s.coordinator);
        break;
      case v1::Event::kConferenceHeld:
        first(s.conference);
        break;
      case v1::Event::kPlanAdopted:
        first(s.plan);
        break;
      case v1::Event::kCaseClosed:
        first(s.closed);
        break;
      case v1::Event::kEventRetracted:
        first(s.retraction);
        break;
      default:
        break;
    }
  }
  return s;
}

// Every kind: its label, weight, and the range of `after` where it is wrong
// (empty when lo > hi).
enum class Kind {
  // INVALID_ARGUMENT / RESOURCE_EXHAUSTED: formats, whatever the case holds.
  kCaseIdMalformed,
  kEventIdNotUuid,
  kOccurredAtMissing,
  kOccurredAtBeforeFloor,
  kOccurredAtInFuture,
  kOccurredAtNanos,
  kPayloadMissing,
  kEnumUnspecified,
  kEnumUnknown,
  kMunicipalityCode,
  kLanguageTag,
  kParticipantIdMalformed,
  kAttendeeTwice,
  kPlanWithoutActions,
  kActionIdTwice,
  kCostNotPositive,
  kCurrency,
  kChildrenAffected,
  kRetractionWithoutReason,
  kRetractionTargetMalformed,
  kRetractsItself,
  kPersonalData,
  kErasureByPartner,
  kCausationIdMalformed,
  kBatchTooLarge,
  // FAILED_PRECONDITION: the case rules, at a point where they are broken.
  kReferralFirst,
  kReferralOnce,
  kParticipantNotInvited,
  kPreparationOver,
  kConferenceNeedsCoordinator,
  kAttendeeNotInvited,
  kPlanNeedsConference,
  kActionOwnerNotInvited,
  kDecisionNeedsPlan,
  kUnknownAction,
  kFollowUpNeedsPlan,
  kSupporterNotInvited,
  kReviewNeedsPlan,
  kReviewAttendeeNotInvited,
  kCaseClosed,
  kRetractedEventUnknown,
  kRetractionOfRetraction,
  kAlreadyRetracted,
  kCount,
};

struct KindInfo {
  Kind kind;
  const char* label;
  int weight;
};

// Weights: even, except the oversize batch (4 MiB of memory each) and the
// kinds that need a correction in the stream (few cases have one).
constexpr KindInfo kKinds[] = {
    {Kind::kCaseIdMalformed, "CASE_ID_MALFORMED", 10},
    {Kind::kEventIdNotUuid, "EVENT_ID_NOT_UUID", 10},
    {Kind::kOccurredAtMissing, "OCCURRED_AT_MISSING", 10},
    {Kind::kOccurredAtBeforeFloor, "OCCURRED_AT_BEFORE_FLOOR", 10},
    {Kind::kOccurredAtInFuture, "OCCURRED_AT_IN_FUTURE", 10},
    {Kind::kOccurredAtNanos, "OCCURRED_AT_NANOS_OUT_OF_RANGE", 10},
    {Kind::kPayloadMissing, "PAYLOAD_MISSING", 10},
    {Kind::kEnumUnspecified, "ENUM_UNSPECIFIED", 10},
    {Kind::kEnumUnknown, "ENUM_UNKNOWN", 10},
    {Kind::kMunicipalityCode, "MUNICIPALITY_CODE_MALFORMED", 10},
    {Kind::kLanguageTag, "LANGUAGE_TAG_MALFORMED", 10},
    {Kind::kParticipantIdMalformed, "PARTICIPANT_ID_MALFORMED", 10},
    {Kind::kAttendeeTwice, "ATTENDEE_TWICE", 10},
    {Kind::kPlanWithoutActions, "PLAN_WITHOUT_ACTIONS", 10},
    {Kind::kActionIdTwice, "ACTION_ID_TWICE", 10},
    {Kind::kCostNotPositive, "COST_NOT_POSITIVE", 10},
    {Kind::kCurrency, "CURRENCY_NOT_EUR", 10},
    {Kind::kChildrenAffected, "CHILDREN_AFFECTED_TOO_MANY", 10},
    {Kind::kRetractionWithoutReason, "RETRACTION_WITHOUT_REASON", 10},
    {Kind::kRetractionTargetMalformed, "RETRACTION_TARGET_MALFORMED", 10},
    {Kind::kRetractsItself, "RETRACTS_ITSELF", 10},
    {Kind::kPersonalData, "PERSONAL_FIELD_NAME_MALFORMED", 10},
    {Kind::kErasureByPartner, "ERASURE_BY_PARTNER", 10},
    {Kind::kCausationIdMalformed, "CAUSATION_ID_MALFORMED", 10},
    {Kind::kBatchTooLarge, "BATCH_TOO_LARGE", 2},
    {Kind::kReferralFirst, "REFERRAL_FIRST", 10},
    {Kind::kReferralOnce, "REFERRAL_ONCE", 10},
    {Kind::kParticipantNotInvited, "PARTICIPANT_NOT_INVITED", 10},
    {Kind::kPreparationOver, "PREPARATION_OVER", 10},
    {Kind::kConferenceNeedsCoordinator, "CONFERENCE_NEEDS_COORDINATOR", 10},
    {Kind::kAttendeeNotInvited, "ATTENDEE_NOT_INVITED", 10},
    {Kind::kPlanNeedsConference, "PLAN_NEEDS_CONFERENCE", 10},
    {Kind::kActionOwnerNotInvited, "ACTION_OWNER_NOT_INVITED", 10},
    {Kind::kDecisionNeedsPlan, "DECISION_NEEDS_PLAN", 10},
    {Kind::kUnknownAction, "UNKNOWN_ACTION", 10},
    {Kind::kFollowUpNeedsPlan, "FOLLOW_UP_NEEDS_PLAN", 10},
    {Kind::kSupporterNotInvited, "SUPPORTER_NOT_INVITED", 10},
    {Kind::kReviewNeedsPlan, "REVIEW_NEEDS_PLAN", 10},
    {Kind::kReviewAttendeeNotInvited, "REVIEW_ATTENDEE_NOT_INVITED", 10},
    {Kind::kCaseClosed, "CASE_CLOSED", 10},
    {Kind::kRetractedEventUnknown, "RETRACTED_EVENT_UNKNOWN", 10},
    {Kind::kRetractionOfRetraction, "RETRACTION_OF_RETRACTION", 10},
    {Kind::kAlreadyRetracted, "ALREADY_RETRACTED", 10},
};
static_assert(std::size(kKinds) == static_cast<size_t>(Kind::kCount), "one entry per kind");

struct Range {
  size_t lo;
  size_t hi;  // inclusive; empty when lo > hi
};

// Where each kind is wrong. Format errors are wrong anywhere; a case rule
// only where the stream has (or lacks) what the rule asks about. Every rule
// kind except CASE_CLOSED lies before the closure (CASE_CLOSED is checked
// first), except those whose payload may follow a closure.
Range WhereWrong(Kind kind, const Stream& s) {
  const size_t n = s.n;
  const size_t open_until = s.closed;  // last `after` before CaseClosed is appended
  const bool has_retraction = s.retraction < n;
  switch (kind) {
    case Kind::kReferralFirst:
      return {0, 0};
    case Kind::kReferralOnce:
    case Kind::kParticipantNotInvited:
    case Kind::kUnknownAction:
      return {1, open_until};
    case Kind::kConferenceNeedsCoordinator:
      return {1, std::min(s.coordinator, open_until)};
    case Kind::kAttendeeNotInvited:
      return {s.coordinator + 1, open_until};
    case Kind::kPreparationOver:
    case Kind::kActionOwnerNotInvited:
      return {s.conference + 1, open_until};
    case Kind::kPlanNeedsConference:
      return {1, std::min(s.conference, open_until)};
    case Kind::kDecisionNeedsPlan:
    case Kind::kFollowUpNeedsPlan:
    case Kind::kReviewNeedsPlan:
      return {1, std::min(s.plan, open_until)};
    case Kind::kSupporterNotInvited:  // follow-ups may follow the closure
      return {s.plan + 1, n};
    case Kind::kReviewAttendeeNotInvited:
      return {s.plan + 1, open_until};
    case Kind::kCaseClosed:
      return {s.closed + 1, n};
    case Kind::kRetractedEventUnknown:
      return {1, n};
    case Kind::kRetractionOfRetraction:
    case Kind::kAlreadyRetracted:
      return has_retraction ? Range{s.retraction + 1, n} : Range{1, 0};
    case Kind::kMunicipalityCode:
      return {0, 0};  // the partner's first attempt at the referral
    case Kind::kRetractionWithoutReason:
    case Kind::kRetractionTargetMalformed:
      return {1, n};  // they name an event already recorded
    default:
      return {0, n};
  }
}

// True when `id` has no uppercase letter (raising its case changed nothing).
bool IsLowerUuidLike(const std::string& id) {
  return std::none_of(id.begin(), id.end(), [](char c) { return c >= 'A' && c <= 'F'; });
}

constexpr char kRetractionReason[] = "entered in the wrong case";

class Builder {
 public:
  Builder(const Stream& s, Rng& rng, size_t max_batch_bytes) : s_(s), rng_(rng), max_batch_bytes_(max_batch_bytes) {}

  InvalidBatch Make(const KindInfo& info, size_t after) {
    InvalidBatch b;
    b.label = info.label;
    b.after = after;
    b.case_id = s_.case_id;
    // Times of the point in the stream: the event just recorded, or the
    // referral's for a case with nothing recorded yet.
    at_ = s_.events[after == 0 ? 0 : after - 1].occurred_at().seconds();
    after_ = after;
    v1::Event& e = b.event;
    ExpectedRefusal& x = b.expected;
    switch (info.kind) {
      case Kind::kCaseIdMalformed:
        e = Next();
        b.case_id = absl::StrCat(s_.case_id, " ");  // a pasted trailing space
        Invalid(x, "case_id");
        break;
      case Kind::kEventIdNotUuid:
        e = Next();
        e.set_event_id(absl::StrCat("{", absl::AsciiStrToUpper(e.event_id()), "}"));  // a GUID as Windows spells it
        Invalid(x, "events[0].event_id");
        break;
      case Kind::kOccurredAtMissing:
        e = Next();
        e.clear_occurred_at();
        Invalid(x, "events[0].occurred_at");
        break;
      case Kind::kOccurredAtBeforeFloor:
        e = Next();
        e.mutable_occurred_at()->set_seconds(
            absl::ToUnixSeconds(absl::FromCivil(absl::CivilDay(1988, 12, 31), absl::UTCTimeZone())));
        Invalid(x, "events[0].occurred_at");
        break;
      case Kind::kOccurredAtInFuture:  // a typo in the year, fixed so the label never depends on the clock
        e = Next();
        e.mutable_occurred_at()->set_seconds(
            absl::ToUnixSeconds(absl::FromCivil(absl::CivilDay(2205, 3, 14), absl::UTCTimeZone())));
        Invalid(x, "events[0].occurred_at");
        break;
      case Kind::kOccurredAtNanos:
        e = Next();
        e.mutable_occurred_at()->set_nanos(1000000000);
        Invalid(x, "events[0].occurred_at.nanos");
        break;
      case Kind::kPayloadMissing:
        e = Next();
        e.clear_payload();
        Invalid(x, "events[0].payload");
        break;
      case Kind::kEnumUnspecified:
      case Kind::kEnumUnknown:
        e = Fresh();
        BadEnum(info.kind == Kind::kEnumUnspecified ? 0 : static_cast<int>(rng_.UniformInt(40, 99)), e, x);
        break;
      case Kind::kMunicipalityCode:
        e = Copy(0);
        e.mutable_case_referred()->set_municipality_code(rng_.Bernoulli(0.5) ? "GM363" : "0363");
        Invalid(x, "events[0].case_referred.municipality_code");
        break;
      case Kind::kLanguageTag: {
        e = Fresh();
        v1::CoordinatorAssigned* c = e.mutable_coordinator_assigned();
        c->set_coordinator_id("SYNTH-C-0001");
        c->add_languages("nl");
        c->add_languages(rng_.Bernoulli(0.5) ? "Arabic" : "tr_TR");
        Invalid(x, "events[0].coordinator_assigned.languages[1]");
        break;
      }
      case Kind::kParticipantIdMalformed:
        e = Fresh();
        e.mutable_participant_invited()->set_participant_id(absl::StrCat(s_.case_id, " P", rng_.UniformInt(1, 40)));
        e.mutable_participant_invited()->set_relation(v1::RELATION_FAMILY);
        Invalid(x, "events[0].participant_invited.participant_id");
        break;
      case Kind::kAttendeeTwice: {
        e = Fresh();
        std::vector<std::string> ids = Attendees();
        const size_t j = Pick(ids.size());
        const size_t k = static_cast<size_t>(rng_.UniformInt(static_cast<int64_t>(j) + 1, ids.size()));
        const std::string twice = ids[j];
        ids.insert(ids.begin() + static_cast<ptrdiff_t>(k), twice);
        for (const std::string& id : ids) e.mutable_conference_held()->add_attendee_ids(id);
        e.mutable_conference_held()->add_languages("nl");
        Invalid(x, absl::StrCat("events[0].conference_held.attendee_ids[", k, "]"));
        break;
      }
      case Kind::kPlanWithoutActions:
        e = Fresh();
        e.mutable_plan_adopted();
        Invalid(x, "events[0].plan_adopted.actions");
        break;
      case Kind::kActionIdTwice: {
        e = Plan();
        auto* actions = e.mutable_plan_adopted()->mutable_actions();
        const size_t k = 1 + Pick(actions->size() - 1);
        const size_t j = Pick(k);
        actions->Mutable(static_cast<int>(k))->set_action_id(actions->Get(static_cast<int>(j)).action_id());
        Invalid(x, absl::StrCat("events[0].plan_adopted.actions[", k, "].action_id"));
        break;
      }
      case Kind::kCostNotPositive:
        e = Cost();
        e.mutable_cost_recorded()->set_amount_cents(rng_.Bernoulli(0.5) ? 0 : -400000);
        Invalid(x, "events[0].cost_recorded.amount_cents");
        break;
      case Kind::kCurrency:
        e = Cost();
        e.mutable_cost_recorded()->set_currency(rng_.Bernoulli(0.5) ? "eur" : "");
        Invalid(x, "events[0].cost_recorded.currency");
        break;
      case Kind::kChildrenAffected:
        e = Fresh();
        e.mutable_outcome_recorded()->set_outcome(v1::OUTCOME_TYPE_PLACEMENT_PREVENTED);
        e.mutable_outcome_recorded()->set_children_affected(static_cast<uint32_t>(rng_.UniformInt(26, 120)));
        Invalid(x, "events[0].outcome_recorded.children_affected");
        break;
      case Kind::kRetractionWithoutReason:
        e = Retraction(Recorded());
        e.mutable_event_retracted()->clear_reason();
        Invalid(x, "events[0].event_retracted.reason");
        break;
      case Kind::kRetractionTargetMalformed:
        e = Retraction(absl::AsciiStrToUpper(Recorded()));
        if (IsLowerUuidLike(e.event_retracted().retracted_event_id())) {  // no hex letter to raise
          e.mutable_event_retracted()->set_retracted_event_id(absl::StrCat("{", Recorded(), "}"));
        }
        Invalid(x, "events[0].event_retracted.retracted_event_id");
        break;
      case Kind::kRetractsItself:
        e = Retraction("");
        e.mutable_event_retracted()->set_retracted_event_id(e.event_id());
        Invalid(x, "events[0].event_retracted.retracted_event_id");
        break;
      case Kind::kPersonalData:
        e = Next();
        // A field name must be lowercase (a-z 0-9 _): refused whether or not
        // the server has a master key to seal the value with.
        (*e.mutable_personal()->mutable_fields())["Free Note"] = "SYNTHETIC free text that belongs in the sealed part";
        Invalid(x, "events[0].personal.fields");
        break;
      case Kind::kErasureByPartner:
        e = Fresh();
        e.mutable_personal_data_erased()->set_key_id("SYNTH-K-1");
        Invalid(x, "events[0].personal_data_erased");
        break;
      case Kind::kCausationIdMalformed:
        e = Next();
        e.set_causation_id(s_.case_id);  // an id, but not an event id
        Invalid(x, "events[0].causation_id");
        break;
      case Kind::kBatchTooLarge: {
        // A runaway export: one attendee repeated until the event exceeds the
        // server's batch limit. The size is checked before any field.
        e = Fresh();
        v1::ConferenceHeld* held = e.mutable_conference_held();
        const std::string& id = s_.central.empty() ? s_.case_id : s_.central[0];
        const size_t copies = max_batch_bytes_ / (id.size() + 2) + 1;
        held->mutable_attendee_ids()->Reserve(static_cast<int>(copies));
        for (size_t i = 0; i < copies; ++i) held->add_attendee_ids(id);
        x.code = StatusCode::kResourceExhausted;
        x.field = "events";
        break;
      }
      case Kind::kReferralFirst:
        e = s_.n > 1 ? Copy(1) : Coordinator();
        Precondition(x, "REFERRAL_FIRST", "events[0]");
        break;
      case Kind::kReferralOnce:
        e = Copy(0);
        Precondition(x, "REFERRAL_ONCE", "events[0].case_referred");
        break;
      case Kind::kParticipantNotInvited:
        e = Fresh();
        e.mutable_participant_responded()->set_participant_id(Stranger());
        e.mutable_participant_responded()->set_response(v1::INVITATION_RESPONSE_ACCEPTED);
        Precondition(x, "PARTICIPANT_NOT_INVITED", "events[0].participant_responded.participant_id");
        break;
      case Kind::kPreparationOver:
        e = Fresh();
        e.mutable_preparation_stopped()->set_reason(v1::PREPARATION_STOP_REASON_FAMILY_DECLINED);
        Precondition(x, "PREPARATION_OVER", "events[0].preparation_stopped");
        break;
      case Kind::kConferenceNeedsCoordinator:
        e = Conference(nullptr);
        Precondition(x, "CONFERENCE_NEEDS_COORDINATOR", "events[0].conference_held");
        break;
      case Kind::kAttendeeNotInvited: {
        size_t k = 0;
        e = Conference(&k);
        Precondition(x, "ATTENDEE_NOT_INVITED", absl::StrCat("events[0].conference_held.attendee_ids[", k, "]"));
        break;
      }
      case Kind::kPlanNeedsConference:
        e = Plan();
        Precondition(x, "PLAN_NEEDS_CONFERENCE", "events[0].plan_adopted");
        break;
      case Kind::kActionOwnerNotInvited: {
        e = Plan();
        auto* actions = e.mutable_plan_adopted()->mutable_actions();
        const size_t k = Pick(actions->size());
        actions->Mutable(static_cast<int>(k))->set_owner_id(Stranger());
        Precondition(x, "ACTION_OWNER_NOT_INVITED", absl::StrCat("events[0].plan_adopted.actions[", k, "].owner_id"));
        break;
      }
      case Kind::kDecisionNeedsPlan:
        e = Fresh();
        e.mutable_plan_decided()->set_decision(v1::PLAN_DECISION_ACCEPTED);
        e.mutable_plan_decided()->set_reason_code("safety_and_feasibility_met");
        Precondition(x, "DECISION_NEEDS_PLAN", "events[0].plan_decided");
        break;
      case Kind::kUnknownAction:
        e = Fresh();
        // Plans hold at most 8 actions (A1..A8), so A9 and up name none.
        e.mutable_plan_action_status_changed()->set_action_id(absl::StrCat(s_.case_id, "-A", rng_.UniformInt(9, 99)));
        e.mutable_plan_action_status_changed()->set_status(v1::ACTION_STATUS_DONE);
        Precondition(x, "UNKNOWN_ACTION", "events[0].plan_action_status_changed.action_id");
        break;
      case Kind::kFollowUpNeedsPlan:
        e = FollowUp(nullptr);
        Precondition(x, "FOLLOW_UP_NEEDS_PLAN", "events[0].follow_up_recorded");
        break;
      case Kind::kSupporterNotInvited: {
        size_t k = 0;
        e = FollowUp(&k);
        Precondition(x, "SUPPORTER_NOT_INVITED",
                     absl::StrCat("events[0].follow_up_recorded.active_supporter_ids[", k, "]"));
        break;
      }
      case Kind::kReviewNeedsPlan:
        e = Review(nullptr);
        Precondition(x, "REVIEW_NEEDS_PLAN", "events[0].review_conference_held");
        break;
      case Kind::kReviewAttendeeNotInvited: {
        size_t k = 0;
        e = Review(&k);
        Precondition(x, "ATTENDEE_NOT_INVITED", absl::StrCat("events[0].review_conference_held.attendee_ids[", k, "]"));
        break;
      }
      case Kind::kCaseClosed:
        // A late update after closure, of a kind that may not follow it.
        if (rng_.Bernoulli(0.5)) {
          e = Fresh();
          e.mutable_participant_invited()->set_participant_id(Stranger());
          e.mutable_participant_invited()->set_relation(v1::RELATION_FRIEND);
        } else {
          e = Coordinator();
        }
        Precondition(x, "CASE_CLOSED", "events[0]");
        break;
      case Kind::kRetractedEventUnknown:
        // An id never recorded: random, or an event of this case not yet sent.
        e = Retraction(after_ < s_.n && rng_.Bernoulli(0.5) ? s_.events[after_].event_id() : rng_.Uuid());
        Precondition(x, "RETRACTED_EVENT_UNKNOWN", "events[0].event_retracted.retracted_event_id");
        break;
      case Kind::kRetractionOfRetraction:
        e = Retraction(s_.events[s_.retraction].event_id());
        Precondition(x, "RETRACTION_OF_RETRACTION", "events[0].event_retracted.retracted_event_id");
        break;
      case Kind::kAlreadyRetracted:
        e = Retraction(s_.events[s_.retraction].event_retracted().retracted_event_id());
        Precondition(x, "ALREADY_RETRACTED", "events[0].event_retracted.retracted_event_id");
        break;
      case Kind::kCount:
        break;
    }
    return b;
  }

 private:
  static void Invalid(ExpectedRefusal& x, std::string field) {
    x.code = StatusCode::kInvalidArgument;
    x.field = std::move(field);
  }
  static void Precondition(ExpectedRefusal& x, std::string type, std::string field) {
    x.code = StatusCode::kFailedPrecondition;
    x.field = std::move(field);
    x.violation_type = std::move(type);
  }

  size_t Pick(size_t n) { return static_cast<size_t>(rng_.UniformInt(0, static_cast<int64_t>(n) - 1)); }

  // An event with a fresh id at the current point's time, no payload yet.
  v1::Event Fresh() {
    v1::Event e;
    e.set_event_id(rng_.Uuid());
    e.mutable_occurred_at()->set_seconds(at_);
    return e;
  }
  // A copy of events[i] under a fresh id.
  v1::Event Copy(size_t i) {
    v1::Event e = s_.events[i];
    e.set_event_id(rng_.Uuid());
    return e;
  }
  // The event the partner was about to send (or the last one, at the end),
  // under a fresh id: format errors are errors in an otherwise real event.
  v1::Event Next() { return Copy(std::min(after_, s_.n - 1)); }
  // The id of an event already recorded at this point.
  std::string Recorded() { return s_.events[Pick(after_)].event_id(); }
  // A participant id never invited to the case.
  std::string Stranger() { return absl::StrCat(s_.case_id, "-X", rng_.UniformInt(1, 9)); }

  v1::Event Coordinator() {
    v1::Event e = Fresh();
    e.mutable_coordinator_assigned()->set_coordinator_id(absl::StrCat("SYNTH-C-", rng_.UniformInt(1000, 1299)));
    e.mutable_coordinator_assigned()->add_languages("nl");
    return e;
  }
  v1::Event Cost() {
    v1::Event e = Fresh();
    e.mutable_cost_recorded()->set_kind(v1::COST_KIND_CONFERENCE);
    e.mutable_cost_recorded()->set_amount_cents(400000);
    e.mutable_cost_recorded()->set_currency("EUR");
    return e;
  }
  v1::Event Retraction(const std::string& target) {
    v1::Event e = Fresh();
    e.mutable_event_retracted()->set_retracted_event_id(target);
    e.mutable_event_retracted()->set_reason(kRetractionReason);
    return e;
  }
  // Central persons: participants of the case from its first event on.
  std::vector<std::string> Attendees() const {
    return s_.central.empty() ? std::vector<std::string>{absl::StrCat(s_.case_id, "-P01")} : s_.central;
  }
  // `ids` with a stranger inserted; its index goes to *k.
  std::vector<std::string> WithStranger(std::vector<std::string> ids, size_t* k) {
    *k = static_cast<size_t>(rng_.UniformInt(0, static_cast<int64_t>(ids.size())));
    ids.insert(ids.begin() + static_cast<ptrdiff_t>(*k), Stranger());
    return ids;
  }
  // A conference of the central persons; with a stranger when k != nullptr.
  v1::Event Conference(size_t* k) {
    v1::Event e = Fresh();
    std::vector<std::string> ids = Attendees();
    if (k != nullptr) ids = WithStranger(std::move(ids), k);
    for (const std::string& id : ids) e.mutable_conference_held()->add_attendee_ids(id);
    e.mutable_conference_held()->set_private_family_time_held(true);
    e.mutable_conference_held()->add_languages("nl");
    return e;
  }
  v1::Event Review(size_t* k) {
    v1::Event e = Fresh();
    std::vector<std::string> ids = Attendees();
    if (k != nullptr) ids = WithStranger(std::move(ids), k);
    for (const std::string& id : ids) e.mutable_review_conference_held()->add_attendee_ids(id);
    return e;
  }
  v1::Event FollowUp(size_t* k) {
    v1::Event e = Fresh();
    std::vector<std::string> ids = Attendees();
    if (k != nullptr) ids = WithStranger(std::move(ids), k);
    v1::FollowUpRecorded* f = e.mutable_follow_up_recorded();
    for (const std::string& id : ids) f->add_active_supporter_ids(id);
    f->set_plan_execution(v1::PLAN_EXECUTION_MOSTLY);
    f->set_problems_resolved(true);
    f->set_escalation_prevented(true);
    f->set_reported_by(v1::REPORTER_COORDINATOR);
    return e;
  }
  // The case's own plan if it has one (its owners are invited before the
  // conference), else three actions owned by a central person.
  v1::Event Plan() {
    if (s_.plan < s_.n) {
      v1::Event e = Copy(s_.plan);
      e.mutable_occurred_at()->set_seconds(at_);
      return e;
    }
    v1::Event e = Fresh();
    for (int i = 1; i <= 3; ++i) {
      v1::PlanAction* a = e.mutable_plan_adopted()->add_actions();
      a->set_action_id(absl::StrCat(s_.case_id, "-A", i));
      a->set_owner_id(Attendees()[0]);
      a->set_owner_kind(v1::ACTION_OWNER_KIND_NETWORK);
      a->set_category_code("daily_care");
    }
    return e;
  }
  // One enum field set to `value` (0: UNSPECIFIED, else a number no enum has).
  void BadEnum(int value, v1::Event& e, ExpectedRefusal& x) {
    switch (rng_.UniformInt(0, 5)) {
      case 0:
        e.mutable_participant_invited()->set_participant_id(Stranger());
        e.mutable_participant_invited()->set_relation(static_cast<v1::Relation>(value));
        Invalid(x, "events[0].participant_invited.relation");
        return;
      case 1:
        e = Cost();
        e.mutable_cost_recorded()->set_kind(static_cast<v1::CostKind>(value));
        Invalid(x, "events[0].cost_recorded.kind");
        return;
      case 2:
        e.mutable_case_closed()->set_end_reason(static_cast<v1::EndReason>(value));
        Invalid(x, "events[0].case_closed.end_reason");
        return;
      case 3:
        e = FollowUp(nullptr);
        e.mutable_follow_up_recorded()->set_plan_execution(static_cast<v1::PlanExecution>(value));
        Invalid(x, "events[0].follow_up_recorded.plan_execution");
        return;
      case 4:
        e.mutable_outcome_recorded()->set_outcome(static_cast<v1::OutcomeType>(value));
        Invalid(x, "events[0].outcome_recorded.outcome");
        return;
      default:
        e.mutable_plan_right_offered()->set_legal_framework(static_cast<v1::LegalFramework>(value));
        Invalid(x, "events[0].plan_right_offered.legal_framework");
        return;
    }
  }

  const Stream& s_;
  Rng& rng_;
  size_t max_batch_bytes_;
  int64_t at_ = 0;
  size_t after_ = 0;
};

}  // namespace

void AddInvalidBatches(const std::string& case_id, const std::vector<v1::Event>& events, int count,
                       size_t max_batch_bytes, Rng& rng, std::vector<InvalidBatch>* out) {
  if (events.empty()) return;
  const Stream stream = Scan(case_id, events);
  std::vector<KindInfo> eligible;
  std::vector<Range> ranges;
  for (const KindInfo& info : kKinds) {
    const Range r = WhereWrong(info.kind, stream);
    if (r.lo <= r.hi) {
      eligible.push_back(info);
      ranges.push_back(r);
    }
  }
  Builder builder(stream, rng, max_batch_bytes);
  for (int i = 0; i < count; ++i) {
    const size_t k = rng.Weighted(eligible);
    const int64_t after = rng.UniformInt(static_cast<int64_t>(ranges[k].lo), static_cast<int64_t>(ranges[k].hi));
    out->push_back(builder.Make(eligible[k], static_cast<size_t>(after)));
  }
  std::stable_sort(out->begin(), out->end(),
                   [](const InvalidBatch& a, const InvalidBatch& b) { return a.after < b.after; });
}

}  // namespace kring::synth
