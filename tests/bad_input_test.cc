// Bad input and concurrency, through the real gRPC surface of an in-process
// KringServer (event store, relay, embedded Kafka cluster):
//  - a table-driven battery of malformed batches and broken case rules, each
//    checked for its status code, the exact field path (and rule type) in the
//    google.rpc error details, and for leaving the store and the topic as
//    they were;
//  - two clients racing conflicting events into one case: exactly one wins;
//  - the case rules' state at the event-store level: retractions undo what
//    they withdraw, and the state survives reopening and cache eviction.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <iostream>
#include <iterator>
#include <map>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "common/errors.h"
#include "eventstore/event_store.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "kring/v1/ingest.grpc.pb.h"
#include "services/server.h"
#include "tests/testing/test_support.h"

namespace kring {
namespace {

using testing::EventOn;

constexpr char kTopic[] = "kring.case-events.v1";

// ---------------------------------------------------------------------------
// Events
// ---------------------------------------------------------------------------

v1::Event Referral() {
  v1::Event e = testing::CaseReferredEvent();
  e.mutable_case_referred()->add_central_person_ids("cp-1");
  return e;
}
v1::Event Coordinator(const std::string& id = "coord-1") { return testing::CoordinatorAssignedEvent(id); }
v1::Event Invite(const std::string& id, v1::Relation relation = v1::RELATION_FAMILY) {
  return testing::ParticipantInvitedEvent(id, relation);
}
v1::Event Conference(const std::vector<std::string>& attendees) { return testing::ConferenceHeldEvent(attendees); }
v1::Event Responded(const std::string& id, v1::InvitationResponse response = v1::INVITATION_RESPONSE_ACCEPTED) {
  v1::Event e = EventOn(2023, 1, 25);
  e.mutable_participant_responded()->set_participant_id(id);
  e.mutable_participant_responded()->set_response(response);
  return e;
}
v1::PlanAction Action(const std::string& id, const std::string& owner) {
  v1::PlanAction a;
  a.set_action_id(id);
  a.set_owner_id(owner);
  a.set_owner_kind(v1::ACTION_OWNER_KIND_NETWORK);
  a.set_category_code("housing");
  return a;
}
v1::Event Plan(const std::vector<v1::PlanAction>& actions) {
  v1::Event e = EventOn(2023, 3, 1);
  auto* p = e.mutable_plan_adopted();  // set even without actions
  for (const auto& a : actions) *p->add_actions() = a;
  return e;
}
v1::Event Decided(v1::PlanDecision decision = v1::PLAN_DECISION_ACCEPTED) {
  v1::Event e = EventOn(2023, 3, 10);
  e.mutable_plan_decided()->set_decision(decision);
  return e;
}
v1::Event ActionStatus(const std::string& action, v1::ActionStatus status = v1::ACTION_STATUS_DONE) {
  v1::Event e = EventOn(2023, 5, 1);
  e.mutable_plan_action_status_changed()->set_action_id(action);
  e.mutable_plan_action_status_changed()->set_status(status);
  return e;
}
v1::Event FollowUp(const std::vector<std::string>& supporters) {
  v1::Event e = EventOn(2023, 9, 1);
  auto* p = e.mutable_follow_up_recorded();
  for (const auto& s : supporters) p->add_active_supporter_ids(s);
  p->set_plan_execution(v1::PLAN_EXECUTION_MOSTLY);
  p->set_reported_by(v1::REPORTER_COORDINATOR);
  return e;
}
v1::Event Review(const std::vector<std::string>& attendees) {
  v1::Event e = EventOn(2023, 9, 15);
  auto* p = e.mutable_review_conference_held();  // set even without attendees
  for (const auto& a : attendees) p->add_attendee_ids(a);
  return e;
}
v1::Event Outcome(v1::OutcomeType outcome = v1::OUTCOME_TYPE_OTS_PREVENTED) {
  v1::Event e = EventOn(2023, 10, 1);
  e.mutable_outcome_recorded()->set_outcome(outcome);
  return e;
}
v1::Event Cost(int64_t cents = 400000) { return testing::CostRecordedEvent(cents); }
v1::Event Closed(v1::EndReason reason = v1::END_REASON_COMPLETED_AS_PLANNED) {
  v1::Event e = EventOn(2023, 11, 1);
  e.mutable_case_closed()->set_end_reason(reason);
  return e;
}
v1::Event Stopped(v1::PreparationStopReason reason = v1::PREPARATION_STOP_REASON_FAMILY_DECLINED) {
  v1::Event e = EventOn(2023, 2, 1);
  e.mutable_preparation_stopped()->set_reason(reason);
  return e;
}
v1::Event Retract(const std::string& event_id, const std::string& reason = "entered in the wrong case") {
  v1::Event e = EventOn(2023, 12, 1);
  e.mutable_event_retracted()->set_retracted_event_id(event_id);
  e.mutable_event_retracted()->set_reason(reason);
  return e;
}
// An event with `mutate` applied.
template <typename F>
v1::Event With(v1::Event e, F mutate) {
  mutate(e);
  return e;
}

// The valid events a row's case holds before its bad batch.
enum class Stage {
  kFresh,          // nothing
  kNoCoordinator,  // referred (central person cp-1), p-1 and p-2 invited
  kReferred,       // referred, coordinator coord-1, p-1 and p-2 invited
  kConference,     // ... and a conference attended by p-1, p-2, coord-1
  kPlan,           // ... and a plan with actions a-1 (owner p-1), a-2 (owner p-2)
  kClosed,         // ... and the case closed
};

std::vector<v1::Event> Prefix(Stage stage) {
  std::vector<v1::Event> out;
  if (stage == Stage::kFresh) return out;
  out.push_back(Referral());
  if (stage != Stage::kNoCoordinator) out.push_back(Coordinator());
  out.push_back(Invite("p-1"));
  out.push_back(Invite("p-2"));
  if (stage == Stage::kNoCoordinator || stage == Stage::kReferred) return out;
  out.push_back(Conference({"p-1", "p-2", "coord-1"}));
  if (stage == Stage::kConference) return out;
  out.push_back(Plan({Action("a-1", "p-1"), Action("a-2", "p-2")}));
  if (stage == Stage::kPlan) return out;
  out.push_back(Closed());
  return out;
}

// ---------------------------------------------------------------------------
// The battery's rows
// ---------------------------------------------------------------------------

struct Row {
  std::string name;
  std::string case_id;
  // Valid batches appended first, in order: (case id, events).
  std::vector<std::pair<std::string, std::vector<v1::Event>>> prefix;
  v1::AppendRequest request;  // the bad batch
  grpc::StatusCode code = grpc::StatusCode::INVALID_ARGUMENT;
  std::string field;  // BadRequest field, or PreconditionFailure subject
  std::string type;   // PreconditionFailure violation type; empty for BadRequest
  bool also_stream = false;
};

class Rows {
 public:
  // A malformed batch: INVALID_ARGUMENT (or `code`) with a BadRequest naming `field`.
  Row& Bad(const std::string& name, Stage stage, std::vector<v1::Event> events, const std::string& field,
           grpc::StatusCode code = grpc::StatusCode::INVALID_ARGUMENT) {
    Row& r = Add(name, stage, std::move(events));
    r.code = code;
    r.field = field;
    return r;
  }
  // A case rule broken: FAILED_PRECONDITION with a PreconditionFailure.
  Row& Refused(const std::string& name, Stage stage, std::vector<v1::Event> events, const std::string& type,
               const std::string& subject) {
    Row& r = Add(name, stage, std::move(events));
    r.code = grpc::StatusCode::FAILED_PRECONDITION;
    r.type = type;
    r.field = subject;
    return r;
  }
  std::vector<Row>& rows() { return rows_; }

 private:
  Row& Add(const std::string& name, Stage stage, std::vector<v1::Event> events) {
    Row r;
    r.name = name;
    r.case_id = absl::StrCat("battery-", rows_.size() + 1);
    std::vector<v1::Event> prefix = Prefix(stage);
    if (!prefix.empty()) r.prefix.push_back({r.case_id, std::move(prefix)});
    r.request.set_case_id(r.case_id);
    for (auto& e : events) *r.request.add_events() = std::move(e);
    rows_.push_back(std::move(r));
    return rows_.back();
  }
  std::vector<Row> rows_;
};

std::vector<Row> BuildBattery() {
  Rows t;
  using S = Stage;
  const std::string e0 = "events[0]";

  // --- The envelope and the batch ---
  t.Bad("case_id with a space", S::kFresh, {Referral()}, "case_id").request.set_case_id("case 1");
  t.Bad("case_id of 65 characters", S::kFresh, {Referral()}, "case_id").request.set_case_id(std::string(65, 'c'));
  t.Bad("case_id starting with a dash", S::kFresh, {Referral()}, "case_id").request.set_case_id("-case");
  t.Bad("empty batch", S::kReferred, {}, "events");
  t.Bad("event_id not a UUID", S::kReferred, {With(Cost(), [](v1::Event& e) { e.set_event_id("event-1"); })},
        "events[0].event_id")
      .also_stream = true;
  t.Bad("event_id in uppercase", S::kReferred,
        {With(Cost(), [](v1::Event& e) { e.set_event_id("123E4567-E89B-42D3-A456-426614174000"); })},
        "events[0].event_id");
  {
    v1::Event a = Cost(), b = Cost(7);
    b.set_event_id(a.event_id());
    t.Bad("duplicate event ids in one batch", S::kReferred, {a, b}, "events[1].event_id");
  }
  t.Bad("missing occurred_at", S::kReferred, {With(Cost(), [](v1::Event& e) { e.clear_occurred_at(); })},
        "events[0].occurred_at");
  t.Bad("occurred_at before 1989-01-01", S::kReferred,
        {With(Cost(),
              [](v1::Event& e) {
                e.mutable_occurred_at()->set_seconds(absl::ToUnixSeconds(
                    absl::FromCivil(absl::CivilSecond(1988, 12, 31, 23, 59, 59), absl::UTCTimeZone())));
              })},
        "events[0].occurred_at");
  t.Bad("occurred_at an hour in the future", S::kReferred,
        {With(Cost(),
              [](v1::Event& e) { e.mutable_occurred_at()->set_seconds(absl::ToUnixSeconds(absl::Now()) + 3600); })},
        "events[0].occurred_at");
  t.Bad("occurred_at nanos of a full second", S::kReferred,
        {With(Cost(), [](v1::Event& e) { e.mutable_occurred_at()->set_nanos(1000000000); })},
        "events[0].occurred_at.nanos");
  t.Bad("occurred_at negative nanos", S::kReferred,
        {With(Cost(), [](v1::Event& e) { e.mutable_occurred_at()->set_nanos(-1); })}, "events[0].occurred_at.nanos");
  t.Bad("correlation_id not a UUID", S::kReferred, {With(Cost(), [](v1::Event& e) { e.set_correlation_id("c1"); })},
        "events[0].correlation_id");
  t.Bad("causation_id in uppercase", S::kReferred,
        {With(Cost(), [](v1::Event& e) { e.set_causation_id("123E4567-E89B-42D3-A456-426614174000"); })},
        "events[0].causation_id");
  t.Bad("no payload", S::kReferred, {EventOn(2023, 6, 1)}, "events[0].payload");
  t.Bad("personal_data_erased from a partner", S::kReferred,
        {With(EventOn(2023, 6, 1), [](v1::Event& e) { e.mutable_personal_data_erased()->set_key_id("k1"); })},
        "events[0].personal_data_erased");
  // This server has no master key: personal data cannot be sealed.
  t.Bad("personal data without a master key", S::kReferred,
        {With(Cost(), [](v1::Event& e) { (*e.mutable_personal()->mutable_fields())["name"] = "Jan"; })},
        "events[0].personal", grpc::StatusCode::FAILED_PRECONDITION);
  t.Bad("personal field name not lowercase", S::kReferred,
        {With(Cost(), [](v1::Event& e) { (*e.mutable_personal()->mutable_fields())["Name"] = "Jan"; })},
        "events[0].personal.fields");
  t.Bad("personal part without fields", S::kReferred, {With(Cost(), [](v1::Event& e) { e.mutable_personal(); })},
        "events[0].personal.fields");
  t.Bad("case_access_granted naming no partner", S::kReferred,
        {With(EventOn(2023, 6, 1), [](v1::Event& e) { e.mutable_case_access_granted(); })},
        "events[0].case_access_granted.partner");
  t.Bad("expected_version.any = false", S::kReferred, {Cost()}, "expected_version.any")
      .request.mutable_expected_version()
      ->set_any(false);
  t.Bad("expected_version.no_stream = false", S::kFresh, {Referral()}, "expected_version.no_stream")
      .request.mutable_expected_version()
      ->set_no_stream(false);

  // --- Payloads: every required enum, formats, lists ---
  const auto referral = [](auto mutate) { return std::vector<v1::Event>{With(Referral(), mutate)}; };
  t.Bad("domain UNSPECIFIED", S::kFresh, referral([](v1::Event& e) { e.mutable_case_referred()->clear_domain(); }),
        "events[0].case_referred.domain");
  t.Bad("domain 99 (unknown)", S::kFresh,
        referral([](v1::Event& e) { e.mutable_case_referred()->set_domain(static_cast<v1::Domain>(99)); }),
        "events[0].case_referred.domain")
      .also_stream = true;
  t.Bad("legal_framework UNSPECIFIED", S::kFresh,
        referral([](v1::Event& e) { e.mutable_case_referred()->clear_legal_framework(); }),
        "events[0].case_referred.legal_framework");
  t.Bad("referrer_kind UNSPECIFIED", S::kFresh,
        referral([](v1::Event& e) { e.mutable_case_referred()->clear_referrer_kind(); }),
        "events[0].case_referred.referrer_kind");
  t.Bad("threatened_measures[1] UNSPECIFIED", S::kFresh, referral([](v1::Event& e) {
          e.mutable_case_referred()->add_threatened_measures(v1::PROTECTION_MEASURE_OTS);
          e.mutable_case_referred()->add_threatened_measures(v1::PROTECTION_MEASURE_UNSPECIFIED);
        }),
        "events[0].case_referred.threatened_measures[1]");
  t.Bad("municipality code of three digits", S::kFresh,
        referral([](v1::Event& e) { e.mutable_case_referred()->set_municipality_code("GM363"); }),
        "events[0].case_referred.municipality_code");
  t.Bad("municipality code in lowercase", S::kFresh,
        referral([](v1::Event& e) { e.mutable_case_referred()->set_municipality_code("gm0363"); }),
        "events[0].case_referred.municipality_code");
  t.Bad("preferred language not a BCP 47 tag", S::kFresh,
        referral([](v1::Event& e) { e.mutable_case_referred()->add_preferred_languages("Dutch"); }),
        "events[0].case_referred.preferred_languages[1]");
  t.Bad("central person id with a space", S::kFresh,
        referral([](v1::Event& e) { e.mutable_case_referred()->add_central_person_ids("cp 2"); }),
        "events[0].case_referred.central_person_ids[1]");
  t.Bad("plan_right_offered legal_framework UNSPECIFIED", S::kReferred,
        {With(EventOn(2023, 1, 11), [](v1::Event& e) { e.mutable_plan_right_offered(); })},
        "events[0].plan_right_offered.legal_framework");
  t.Bad("plan_right_declined without reason_code", S::kReferred,
        {With(EventOn(2023, 1, 11), [](v1::Event& e) { e.mutable_plan_right_declined(); })},
        "events[0].plan_right_declined.reason_code");
  t.Bad("coordinator id with a slash", S::kReferred, {Coordinator("coord/2")},
        "events[0].coordinator_assigned.coordinator_id");
  t.Bad("coordinator language not a tag", S::kReferred,
        {With(Coordinator("coord-2"), [](v1::Event& e) { e.mutable_coordinator_assigned()->add_languages("x"); })},
        "events[0].coordinator_assigned.languages[1]");
  t.Bad("participant id starting with a dot", S::kReferred, {Invite(".p-3")},
        "events[0].participant_invited.participant_id");
  t.Bad("relation UNSPECIFIED", S::kReferred, {Invite("p-3", v1::RELATION_UNSPECIFIED)},
        "events[0].participant_invited.relation");
  t.Bad("response UNSPECIFIED", S::kReferred, {Responded("p-1", v1::INVITATION_RESPONSE_UNSPECIFIED)},
        "events[0].participant_responded.response");
  t.Bad("preparation stop reason UNSPECIFIED", S::kReferred, {Stopped(v1::PREPARATION_STOP_REASON_UNSPECIFIED)},
        "events[0].preparation_stopped.reason");
  t.Bad("attendee listed twice", S::kReferred, {Conference({"p-1", "p-1"})},
        "events[0].conference_held.attendee_ids[1]");
  t.Bad("no attendees", S::kReferred, {Conference({})}, "events[0].conference_held.attendee_ids");
  t.Bad("attendee id of 65 characters", S::kReferred, {Conference({"p-1", std::string(65, 'p')})},
        "events[0].conference_held.attendee_ids[1]");
  t.Bad("plan without actions", S::kConference, {Plan({})}, "events[0].plan_adopted.actions");
  t.Bad("two actions with one id", S::kConference, {Plan({Action("a-1", "p-1"), Action("a-1", "p-2")})},
        "events[0].plan_adopted.actions[1].action_id");
  t.Bad("action id empty", S::kConference, {Plan({Action("", "p-1")})}, "events[0].plan_adopted.actions[0].action_id");
  t.Bad("action owner id malformed", S::kConference, {Plan({Action("a-1", "p 1")})},
        "events[0].plan_adopted.actions[0].owner_id");
  {
    v1::PlanAction a = Action("a-1", "p-1");
    a.clear_owner_kind();
    t.Bad("action owner_kind UNSPECIFIED", S::kConference, {Plan({a})}, "events[0].plan_adopted.actions[0].owner_kind");
  }
  t.Bad("decision UNSPECIFIED", S::kPlan, {Decided(v1::PLAN_DECISION_UNSPECIFIED)}, "events[0].plan_decided.decision");
  t.Bad("action status UNSPECIFIED", S::kPlan, {ActionStatus("a-1", v1::ACTION_STATUS_UNSPECIFIED)},
        "events[0].plan_action_status_changed.status");
  t.Bad("action status for a malformed action id", S::kPlan, {ActionStatus("a 1")},
        "events[0].plan_action_status_changed.action_id");
  t.Bad("plan_execution UNSPECIFIED", S::kPlan,
        {With(FollowUp({"p-1"}), [](v1::Event& e) { e.mutable_follow_up_recorded()->clear_plan_execution(); })},
        "events[0].follow_up_recorded.plan_execution");
  t.Bad("reported_by UNSPECIFIED", S::kPlan,
        {With(FollowUp({"p-1"}), [](v1::Event& e) { e.mutable_follow_up_recorded()->clear_reported_by(); })},
        "events[0].follow_up_recorded.reported_by");
  t.Bad("supporter listed twice", S::kPlan, {FollowUp({"p-1", "p-2", "p-1"})},
        "events[0].follow_up_recorded.active_supporter_ids[2]");
  t.Bad("review without attendees", S::kPlan, {Review({})}, "events[0].review_conference_held.attendee_ids");
  t.Bad("outcome UNSPECIFIED", S::kPlan, {Outcome(v1::OUTCOME_TYPE_UNSPECIFIED)}, "events[0].outcome_recorded.outcome");
  t.Bad("children_affected 26", S::kPlan,
        {With(Outcome(), [](v1::Event& e) { e.mutable_outcome_recorded()->set_children_affected(26); })},
        "events[0].outcome_recorded.children_affected");
  t.Bad("cost kind UNSPECIFIED", S::kReferred,
        {With(Cost(), [](v1::Event& e) { e.mutable_cost_recorded()->clear_kind(); })}, "events[0].cost_recorded.kind");
  t.Bad("cost amount 0", S::kReferred, {Cost(0)}, "events[0].cost_recorded.amount_cents");
  t.Bad("cost amount negative", S::kReferred, {Cost(-100)}, "events[0].cost_recorded.amount_cents");
  t.Bad("cost currency USD", S::kReferred,
        {With(Cost(), [](v1::Event& e) { e.mutable_cost_recorded()->set_currency("USD"); })},
        "events[0].cost_recorded.currency");
  t.Bad("cost currency empty", S::kReferred,
        {With(Cost(), [](v1::Event& e) { e.mutable_cost_recorded()->clear_currency(); })},
        "events[0].cost_recorded.currency");
  t.Bad("end_reason UNSPECIFIED", S::kPlan, {Closed(v1::END_REASON_UNSPECIFIED)}, "events[0].case_closed.end_reason");
  t.Bad("retraction of a malformed id", S::kReferred, {Retract("not-an-event-id")},
        "events[0].event_retracted.retracted_event_id");
  t.Bad("retraction without reason", S::kReferred, {Retract(testing::NewUuid(), "")},
        "events[0].event_retracted.reason");
  t.Bad("retraction with a reason over 500 bytes", S::kReferred, {Retract(testing::NewUuid(), std::string(501, 'r'))},
        "events[0].event_retracted.reason");
  t.Bad("retraction naming itself", S::kReferred,
        {With(Retract(""), [](v1::Event& e) { e.mutable_event_retracted()->set_retracted_event_id(e.event_id()); })},
        "events[0].event_retracted.retracted_event_id");
  t.Bad("bad event in the middle of a valid batch", S::kReferred,
        {Cost(), Invite("p-3"), Invite("p-4", v1::RELATION_UNSPECIFIED), Cost()},
        "events[2].participant_invited.relation")
      .also_stream = true;

  // --- Limits ---
  {
    std::vector<v1::Event> many;
    for (int i = 0; i < 1001; ++i) many.push_back(Cost());
    t.Bad("1001 events", S::kReferred, std::move(many), "events", grpc::StatusCode::RESOURCE_EXHAUSTED).also_stream =
        true;
  }
  {
    // 5 x 900 kB: over the 4 MiB batch limit, under gRPC's 5 MiB message limit.
    std::vector<v1::Event> big;
    for (int i = 0; i < 5; ++i) big.push_back(Retract(testing::NewUuid(), std::string(900000, 'x')));
    t.Bad("over 4 MiB", S::kReferred, std::move(big), "events", grpc::StatusCode::RESOURCE_EXHAUSTED);
  }

  // --- Case rules ---
  t.Refused("first event not case_referred", S::kFresh, {Cost()}, "REFERRAL_FIRST", e0);
  t.Refused("first event a retraction", S::kFresh, {Retract(testing::NewUuid())}, "REFERRAL_FIRST", e0);
  t.Refused("a batch that refers only second", S::kFresh, {Cost(), Referral()}, "REFERRAL_FIRST", e0);
  t.Refused("a second referral", S::kReferred, {Referral()}, "REFERRAL_ONCE", "events[0].case_referred").also_stream =
      true;
  t.Refused("two referrals in the first batch", S::kFresh, {Referral(), Coordinator(), Referral()}, "REFERRAL_ONCE",
            "events[2].case_referred");
  t.Refused("conference without coordinator", S::kNoCoordinator, {Conference({"p-1", "p-2"})},
            "CONFERENCE_NEEDS_COORDINATOR", "events[0].conference_held");
  t.Refused("attendee not invited", S::kReferred, {Conference({"p-1", "p-2", "stranger"})}, "ATTENDEE_NOT_INVITED",
            "events[0].conference_held.attendee_ids[2]")
      .also_stream = true;
  t.Refused("attendee invited only later in the batch", S::kReferred, {Conference({"p-1", "p-3"}), Invite("p-3")},
            "ATTENDEE_NOT_INVITED", "events[0].conference_held.attendee_ids[1]");
  t.Refused("response from a participant not invited", S::kReferred, {Responded("p-9")}, "PARTICIPANT_NOT_INVITED",
            "events[0].participant_responded.participant_id");
  t.Refused("response from a central person not invited", S::kReferred, {Responded("cp-1")}, "PARTICIPANT_NOT_INVITED",
            "events[0].participant_responded.participant_id");
  t.Refused("action owner not invited", S::kConference, {Plan({Action("a-1", "p-1"), Action("a-2", "stranger")})},
            "ACTION_OWNER_NOT_INVITED", "events[0].plan_adopted.actions[1].owner_id");
  t.Refused("plan without conference", S::kReferred, {Plan({Action("a-1", "p-1")})}, "PLAN_NEEDS_CONFERENCE",
            "events[0].plan_adopted");
  t.Refused("decision without plan", S::kConference, {Decided()}, "DECISION_NEEDS_PLAN", "events[0].plan_decided");
  t.Refused("status of an unknown action", S::kPlan, {ActionStatus("a-3")}, "UNKNOWN_ACTION",
            "events[0].plan_action_status_changed.action_id");
  t.Refused("follow-up without plan", S::kConference, {FollowUp({"p-1"})}, "FOLLOW_UP_NEEDS_PLAN",
            "events[0].follow_up_recorded");
  t.Refused("supporter not invited", S::kPlan, {FollowUp({"p-1", "stranger"})}, "SUPPORTER_NOT_INVITED",
            "events[0].follow_up_recorded.active_supporter_ids[1]");
  t.Refused("review without plan", S::kConference, {Review({"p-1"})}, "REVIEW_NEEDS_PLAN",
            "events[0].review_conference_held");
  t.Refused("review attendee not invited", S::kPlan, {Review({"p-1", "coord-1", "stranger"})}, "ATTENDEE_NOT_INVITED",
            "events[0].review_conference_held.attendee_ids[2]");
  t.Refused("preparation stopped after the conference", S::kConference, {Stopped()}, "PREPARATION_OVER",
            "events[0].preparation_stopped");
  t.Refused("invitation after closure", S::kClosed, {Invite("p-3")}, "CASE_CLOSED", e0);
  t.Refused("conference after closure", S::kClosed, {Conference({"p-1"})}, "CASE_CLOSED", e0);
  t.Refused("a second closure", S::kClosed, {Closed()}, "CASE_CLOSED", e0);
  t.Refused("a referral after closure", S::kClosed, {Referral()}, "CASE_CLOSED", e0);
  t.Refused("closure, then a decision, in one batch", S::kPlan, {Closed(), Decided()}, "CASE_CLOSED", "events[1]");
  t.Refused("retraction of an unknown event", S::kReferred, {Retract(testing::NewUuid())}, "RETRACTED_EVENT_UNKNOWN",
            "events[0].event_retracted.retracted_event_id");
  {
    Row& r = t.Refused("retraction of an event of another case", S::kReferred, {}, "RETRACTED_EVENT_UNKNOWN",
                       "events[0].event_retracted.retracted_event_id");
    v1::Event other = Referral();
    *r.request.add_events() = Retract(other.event_id());
    r.prefix.push_back({r.case_id + "-other", {other}});
  }
  {
    v1::Event cost = Cost();
    v1::Event retraction = Retract(cost.event_id());
    Row& r = t.Refused("retraction of a retraction", S::kReferred, {Retract(retraction.event_id())},
                       "RETRACTION_OF_RETRACTION", "events[0].event_retracted.retracted_event_id");
    r.prefix.push_back({r.case_id, {cost}});
    r.prefix.push_back({r.case_id, {retraction}});
  }
  {
    v1::Event cost = Cost();
    Row& r = t.Refused("retraction of an event already retracted", S::kReferred, {Retract(cost.event_id())},
                       "ALREADY_RETRACTED", "events[0].event_retracted.retracted_event_id");
    r.prefix.push_back({r.case_id, {cost, Retract(cost.event_id())}});
  }
  {
    v1::Event cost = Cost();
    t.Refused("the same event retracted twice in one batch", S::kReferred,
              {cost, Retract(cost.event_id()), Retract(cost.event_id())}, "ALREADY_RETRACTED",
              "events[2].event_retracted.retracted_event_id");
  }
  {
    Row& r = t.Refused("an event after the referral was retracted", S::kFresh, {Cost()}, "REFERRAL_RETRACTED", e0);
    v1::Event referral = Referral();
    r.prefix.push_back({r.case_id, {referral, Retract(referral.event_id())}});
  }
  {
    // The coordinator withdrawn earlier in the same batch.
    Row& r = t.Refused("conference after its coordinator is retracted in the batch", S::kNoCoordinator, {},
                       "CONFERENCE_NEEDS_COORDINATOR", "events[1].conference_held");
    v1::Event coordinator = Coordinator();
    r.prefix.back().second.push_back(coordinator);
    *r.request.add_events() = Retract(coordinator.event_id());
    *r.request.add_events() = Conference({"p-1"});
  }
  t.Refused("valid event after a rule violation in the batch", S::kReferred, {Conference({"p-1", "stranger"}), Cost()},
            "ATTENDEE_NOT_INVITED", "events[0].conference_held.attendee_ids[1]");
  t.Refused("rule violation in the middle of a valid batch", S::kReferred,
            {Cost(), Invite("p-3"), Responded("p-3"), Responded("p-4"), Cost()}, "PARTICIPANT_NOT_INVITED",
            "events[3].participant_responded.participant_id");
  return std::move(t.rows());
}

// ---------------------------------------------------------------------------
// The server and the client side
// ---------------------------------------------------------------------------

// What a refused batch reported: its code and its google.rpc details.
struct Reported {
  int code = 0;
  std::string message;
  google::protobuf::RepeatedPtrField<google::protobuf::Any> details;
};

Reported FromUnary(const grpc::Status& s) {
  Reported r;
  r.code = s.error_code();
  r.message = s.error_message();
  google::rpc::Status rpc;
  if (!s.error_details().empty()) {
    EXPECT_TRUE(rpc.ParseFromString(s.error_details())) << "grpc-status-details-bin is not a google.rpc.Status";
    EXPECT_EQ(rpc.code(), r.code);
    EXPECT_EQ(rpc.message(), r.message);
  }
  r.details = rpc.details();
  return r;
}

// Exactly one detail naming exactly one violation: `field` (and `type`).
void ExpectDetails(const Reported& r, grpc::StatusCode code, const std::string& field, const std::string& type) {
  EXPECT_EQ(r.code, code) << r.message;
  ASSERT_EQ(r.details.size(), 1) << r.message;
  const google::protobuf::Any& any = r.details[0];
  if (type.empty()) {
    EXPECT_EQ(any.type_url(), kBadRequestTypeUrl);
    google::rpc::BadRequest bad;
    ASSERT_TRUE(any.UnpackTo(&bad));
    ASSERT_EQ(bad.field_violations_size(), 1) << bad.DebugString();
    EXPECT_EQ(bad.field_violations(0).field(), field);
    EXPECT_FALSE(bad.field_violations(0).description().empty());
  } else {
    EXPECT_EQ(any.type_url(), kPreconditionFailureTypeUrl);
    google::rpc::PreconditionFailure failure;
    ASSERT_TRUE(any.UnpackTo(&failure));
    ASSERT_EQ(failure.violations_size(), 1) << failure.DebugString();
    EXPECT_EQ(failure.violations(0).type(), type);
    EXPECT_EQ(failure.violations(0).subject(), field);
    EXPECT_FALSE(failure.violations(0).description().empty());
  }
  // The message starts with the field path too.
  EXPECT_EQ(r.message.rfind(field + ": ", 0), 0u) << r.message;
}

// The ids in one multiset and not the other, for a short failure message.
std::string Difference(const std::multiset<std::string>& a, const std::multiset<std::string>& b) {
  std::vector<std::string> only_a, only_b;
  std::set_difference(a.begin(), a.end(), b.begin(), b.end(), std::back_inserter(only_a));
  std::set_difference(b.begin(), b.end(), a.begin(), a.end(), std::back_inserter(only_b));
  return absl::StrCat("only in the first: ", absl::StrJoin(only_a, ", "),
                      "; only in the second: ", absl::StrJoin(only_b, ", "));
}

using testing::NewChannel;

class BadInputTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new testing::TempDir();
    services::ServerOptions options;
    options.data_dir = dir_->Sub("data");
    options.listen = "127.0.0.1:0";
    options.shutdown_timeout = std::chrono::milliseconds(5000);
    auto server = services::KringServer::Start(options);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = server->release();
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
    delete dir_;
    dir_ = nullptr;
  }

  static const eventstore::EventStore& store() { return server_->store(); }
  static uint64_t Head() { return store().Head().value(); }
  static uint64_t Version(const std::string& case_id) {
    auto v = store().CaseVersion(CaseId(case_id));
    EXPECT_TRUE(v.ok()) << v.status();
    return v.ok() ? v->value() : UINT64_MAX;
  }

  static grpc::Status Append(v1::IngestService::Stub& stub, const v1::AppendRequest& request,
                             v1::AppendResult* result = nullptr) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    v1::AppendResult ignored;
    return stub.Append(&context, request, result ? result : &ignored);
  }

  // One batch over AppendStream: its acknowledgement.
  static v1::AppendAck AppendOnStream(v1::IngestService::Stub& stub, v1::AppendRequest request) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    auto stream = stub.AppendStream(&context);
    request.set_request_id(4242);
    EXPECT_TRUE(stream->Write(request));
    EXPECT_TRUE(stream->WritesDone());
    v1::AppendAck ack;
    EXPECT_TRUE(stream->Read(&ack));
    v1::AppendAck extra;
    EXPECT_FALSE(stream->Read(&extra)) << "one acknowledgement per batch";
    grpc::Status finished = stream->Finish();
    EXPECT_TRUE(finished.ok()) << finished.error_message();
    EXPECT_EQ(ack.request_id(), 4242u);
    return ack;
  }

  // Every event id in the store, and the number of events.
  static std::multiset<std::string> StoredIds() {
    auto all = store().ReadAll(GlobalPosition(1), SIZE_MAX);
    EXPECT_TRUE(all.ok()) << all.status();
    std::multiset<std::string> ids;
    for (const auto& e : *all) ids.insert(e.event().event_id());
    return ids;
  }
  static std::multiset<std::string> TopicIds(size_t expected, std::chrono::milliseconds settle) {
    std::multiset<std::string> ids;
    for (const auto& c :
         testing::ConsumeTopic(server_->kafka_bootstrap(), kTopic, expected, std::chrono::seconds(60), settle)) {
      ids.insert(c.event.event().event_id());
    }
    return ids;
  }

  static testing::TempDir* dir_;
  static services::KringServer* server_;
};

testing::TempDir* BadInputTest::dir_ = nullptr;
services::KringServer* BadInputTest::server_ = nullptr;

TEST_F(BadInputTest, EveryBadInputIsRefusedWithItsFieldPathAndChangesNothing) {
  std::vector<Row> rows = BuildBattery();
  ASSERT_GE(rows.size(), 40u);
  std::set<std::string> names, cases;
  for (const Row& r : rows) {
    EXPECT_TRUE(names.insert(r.name).second) << "two rows named " << r.name;
    EXPECT_TRUE(cases.insert(r.case_id).second);
  }
  auto stub = v1::IngestService::NewStub(NewChannel(server_->address()));

  // The valid prefixes of every row.
  std::map<std::string, uint64_t> setup_versions;
  uint64_t setup_events = 0;
  for (const Row& r : rows) {
    for (const auto& [case_id, events] : r.prefix) {
      v1::AppendRequest request;
      request.set_case_id(case_id);
      for (const auto& e : events) *request.add_events() = e;
      grpc::Status s = Append(*stub, request);
      ASSERT_TRUE(s.ok()) << r.name << ": setup refused: " << s.error_message();
      setup_versions[case_id] += events.size();
      setup_events += events.size();
    }
  }
  ASSERT_EQ(Head(), setup_events);
  // The relay has published the setup, and nothing else.
  const std::multiset<std::string> stored = StoredIds();
  ASSERT_EQ(stored.size(), setup_events);
  const std::multiset<std::string> published = TopicIds(setup_events, std::chrono::milliseconds(500));
  ASSERT_TRUE(published == stored) << "topic vs store: " << Difference(published, stored);

  std::set<std::string> bad_ids;
  size_t streamed = 0, bad_requests = 0, refused_by_rule = 0;
  for (const Row& r : rows) {
    SCOPED_TRACE(absl::StrCat(r.case_id, ": ", r.name));
    const uint64_t head = Head();
    const uint64_t version = Version(r.request.case_id());
    EXPECT_EQ(version, setup_versions[r.request.case_id()]);
    for (const auto& e : r.request.events()) bad_ids.insert(e.event_id());

    grpc::Status s = Append(*stub, r.request);
    EXPECT_FALSE(s.ok());
    ExpectDetails(FromUnary(s), r.code, r.field, r.type);
    EXPECT_EQ(Head(), head);
    EXPECT_EQ(Version(r.request.case_id()), version);

    if (r.also_stream) {
      // AppendStream carries the same details in the acknowledgement.
      v1::AppendAck ack = AppendOnStream(*stub, r.request);
      Reported reported;
      reported.code = ack.code();
      reported.message = ack.message();
      reported.details = ack.details();
      EXPECT_FALSE(ack.has_result());
      ExpectDetails(reported, r.code, r.field, r.type);
      EXPECT_EQ(ack.message(), s.error_message());
      EXPECT_EQ(Head(), head);
      EXPECT_EQ(Version(r.request.case_id()), version);
      ++streamed;
    }
    ++bad_requests;
    refused_by_rule += !r.type.empty();
  }
  EXPECT_GE(bad_requests, 40u);
  EXPECT_GE(refused_by_rule, 30u);
  EXPECT_GE(streamed, 4u);

  // Nothing of any bad batch reached the store or the topic: the topic still
  // holds exactly the setup, and no message follows within the settle window.
  EXPECT_EQ(Head(), setup_events);
  const std::multiset<std::string> stored_after = StoredIds();
  EXPECT_TRUE(stored_after == stored) << "store after vs before: " << Difference(stored_after, stored);
  const std::multiset<std::string> topic = TopicIds(setup_events, std::chrono::seconds(2));
  EXPECT_EQ(topic.size(), setup_events);
  EXPECT_TRUE(topic == stored) << "topic vs store: " << Difference(topic, stored);
  for (const auto& id : bad_ids) {
    if (id.empty()) continue;
    // A duplicated id row reuses an id of its own batch, never a stored one.
    EXPECT_EQ(topic.count(id), 0u) << id;
  }
  std::cout << "battery rows: " << rows.size() << " (" << refused_by_rule << " case rules, " << streamed
            << " also over AppendStream)\n";
}

// Two clients on their own connections race conflicting batches into one case,
// released together; only the case rules decide (expected version "any").
TEST_F(BadInputTest, RacingClientsOnlyOneConflictingEventWins) {
  auto a = v1::IngestService::NewStub(NewChannel(server_->address()));
  auto b = v1::IngestService::NewStub(NewChannel(server_->address()));
  constexpr int kRounds = 50;
  int wins_a = 0, wins_b = 0;
  for (int round = 0; round < kRounds; ++round) {
    SCOPED_TRACE(absl::StrCat("round ", round));
    const bool closing = round % 2 == 0;
    const std::string case_id = absl::StrCat("race-", round);
    uint64_t prefix = 0;
    if (closing) {
      v1::AppendRequest setup;
      setup.set_case_id(case_id);
      *setup.add_events() = Referral();
      *setup.add_events() = Coordinator();
      ASSERT_TRUE(Append(*a, setup).ok());
      prefix = 2;
    }
    // Closing a referred case twice (CASE_CLOSED), or referring a fresh case
    // twice (REFERRAL_ONCE).
    v1::AppendRequest requests[2];
    for (auto& r : requests) {
      r.set_case_id(case_id);
      r.mutable_expected_version()->set_any(true);
      *r.add_events() = closing ? Closed() : Referral();
    }
    grpc::Status results[2];
    std::atomic<int> ready{0};
    std::atomic<bool> go{false};
    auto run = [&](int k, v1::IngestService::Stub* stub) {
      ready++;
      while (!go.load()) std::this_thread::yield();
      results[k] = Append(*stub, requests[k]);
    };
    std::thread ta(run, 0, a.get()), tb(run, 1, b.get());
    while (ready.load() < 2) std::this_thread::yield();
    go = true;
    ta.join();
    tb.join();

    ASSERT_NE(results[0].ok(), results[1].ok())
        << "a: " << results[0].error_message() << "; b: " << results[1].error_message();
    const int winner = results[0].ok() ? 0 : 1;
    (winner == 0 ? wins_a : wins_b)++;
    ExpectDetails(FromUnary(results[1 - winner]), grpc::StatusCode::FAILED_PRECONDITION,
                  closing ? "events[0]" : "events[0].case_referred", closing ? "CASE_CLOSED" : "REFERRAL_ONCE");

    auto events = store().ReadCase(CaseId(case_id), StreamVersion(1));
    ASSERT_TRUE(events.ok()) << events.status();
    ASSERT_EQ(events->size(), prefix + 1);
    EXPECT_EQ(events->back().event().event_id(), requests[winner].events(0).event_id());
    for (const auto& e : *events) EXPECT_NE(e.event().event_id(), requests[1 - winner].events(0).event_id());
  }
  EXPECT_EQ(wins_a + wins_b, kRounds);
  std::cout << "wins: a " << wins_a << ", b " << wins_b << "\n";
}

// ---------------------------------------------------------------------------
// The rule state at the event-store level
// ---------------------------------------------------------------------------

// The PreconditionFailure type of a refusal ("" when there is none).
std::string RuleType(const absl::Status& s) {
  auto payload = s.GetPayload(kPreconditionFailureTypeUrl);
  google::rpc::PreconditionFailure failure;
  if (!payload || !failure.ParseFromString(std::string(*payload)) || failure.violations_size() != 1) return "";
  return failure.violations(0).type();
}

class CaseRuleStateTest : public ::testing::Test {
 protected:
  std::unique_ptr<eventstore::EventStore> Open(size_t max_cached_cases = 100000) {
    eventstore::EventStoreOptions options;
    options.path = dir_.Sub("store");
    options.sync = false;
    options.max_cached_cases = max_cached_cases;
    auto store = eventstore::EventStore::Open(options);
    EXPECT_TRUE(store.ok()) << store.status();
    return std::move(store).value();
  }
  static void Accept(eventstore::EventStore& store, const std::string& case_id, std::vector<v1::Event> events) {
    auto r = store.Append(testing::Batch(case_id, std::move(events)));
    EXPECT_TRUE(r.ok()) << r.status();
  }
  // Refused with `type`, and nothing stored.
  static void Refuse(eventstore::EventStore& store, const std::string& case_id, std::vector<v1::Event> events,
                     const std::string& type) {
    const uint64_t head = store.Head().value();
    auto r = store.Append(testing::Batch(case_id, std::move(events)));
    EXPECT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition) << r.status();
    EXPECT_EQ(RuleType(r.status()), type) << r.status();
    EXPECT_EQ(store.Head().value(), head);
  }

  // A case whose coordinator and a cost were retracted (by the returned ids:
  // the cost, and the retraction of the coordinator).
  struct Built {
    std::string cost_id;
    std::string retraction_id;
  };
  static Built Build(eventstore::EventStore& store, const std::string& case_id) {
    v1::Event coordinator = Coordinator("coord-1");
    v1::Event cost = Cost();
    v1::Event retract_coordinator = Retract(coordinator.event_id());
    Accept(store, case_id, {Referral(), coordinator, Invite("p-1")});
    Accept(store, case_id, {cost});
    Accept(store, case_id, {retract_coordinator, Retract(cost.event_id())});
    return {cost.event_id(), retract_coordinator.event_id()};
  }
  // The refusals such a case gives; none changes it.
  static void ExpectRefusals(eventstore::EventStore& store, const std::string& case_id, const Built& b) {
    SCOPED_TRACE(case_id);
    Refuse(store, case_id, {Conference({"p-1"})}, "CONFERENCE_NEEDS_COORDINATOR");
    Refuse(store, case_id, {Conference({"p-1", "coord-1"})}, "CONFERENCE_NEEDS_COORDINATOR");
    Refuse(store, case_id, {Referral()}, "REFERRAL_ONCE");
    Refuse(store, case_id, {Retract(b.cost_id)}, "ALREADY_RETRACTED");
    Refuse(store, case_id, {Retract(b.retraction_id)}, "RETRACTION_OF_RETRACTION");
    Refuse(store, case_id, {Responded("p-2")}, "PARTICIPANT_NOT_INVITED");
    Refuse(store, case_id, {Plan({Action("a-1", "p-1")})}, "PLAN_NEEDS_CONFERENCE");
  }
  // A new coordinator makes the conference possible; the coordinator retracted
  // earlier still is no attendee.
  static void ExpectConferenceAfterNewCoordinator(eventstore::EventStore& store, const std::string& case_id) {
    SCOPED_TRACE(case_id);
    Accept(store, case_id, {Coordinator("coord-2")});
    Refuse(store, case_id, {Conference({"p-1", "coord-1"})}, "ATTENDEE_NOT_INVITED");
    Accept(store, case_id, {Conference({"p-1", "coord-2"})});
    Accept(store, case_id, {Plan({Action("a-1", "p-1")})});
  }

  testing::TempDir dir_;
};

TEST_F(CaseRuleStateTest, RetractedCoordinatorMakesAConferenceWaitForANewOne) {
  auto store = Open();
  const Built b = Build(*store, "case-a");
  ExpectRefusals(*store, "case-a", b);
  ExpectConferenceAfterNewCoordinator(*store, "case-a");
}

TEST_F(CaseRuleStateTest, RetractedReferralAllowsANewReferralAndRefusesOtherEventsUntilThen) {
  auto store = Open();
  v1::Event referral = Referral();
  Accept(*store, "case-a", {referral, Coordinator(), Invite("p-1")});
  Accept(*store, "case-a", {Retract(referral.event_id())});
  Refuse(*store, "case-a", {Cost()}, "REFERRAL_RETRACTED");
  Refuse(*store, "case-a", {Coordinator("coord-2")}, "REFERRAL_RETRACTED");
  Refuse(*store, "case-a", {Conference({"p-1"})}, "REFERRAL_RETRACTED");
  Refuse(*store, "case-a", {Retract(referral.event_id())}, "ALREADY_RETRACTED");
  // The same after a reopen: the state is folded from the stored events.
  store->Close();
  store = Open();
  Refuse(*store, "case-a", {Cost()}, "REFERRAL_RETRACTED");
  Accept(*store, "case-a", {Referral()});
  Refuse(*store, "case-a", {Referral()}, "REFERRAL_ONCE");
  // Invitations and the coordinator from before the new referral still count.
  Accept(*store, "case-a", {Conference({"p-1"}), Cost()});
  store->Close();
  store = Open();
  Refuse(*store, "case-a", {Referral()}, "REFERRAL_ONCE");
  Accept(*store, "case-a", {Cost()});
}

TEST_F(CaseRuleStateTest, StateSurvivesReopeningTheStore) {
  Built b;
  {
    auto store = Open();
    b = Build(*store, "case-a");
    ExpectRefusals(*store, "case-a", b);
    store->Close();
  }
  auto store = Open();
  ExpectRefusals(*store, "case-a", b);
  ExpectConferenceAfterNewCoordinator(*store, "case-a");
  store->Close();
  store = Open();
  Refuse(*store, "case-a", {Referral()}, "REFERRAL_ONCE");
  Refuse(*store, "case-a", {ActionStatus("a-2")}, "UNKNOWN_ACTION");
  Accept(*store, "case-a", {ActionStatus("a-1"), Closed()});
  store->Close();
  store = Open();
  Refuse(*store, "case-a", {Invite("p-5")}, "CASE_CLOSED");
  Accept(*store, "case-a", {FollowUp({"p-1"}), Outcome(), Cost()});
}

TEST_F(CaseRuleStateTest, StateSurvivesCacheEviction) {
  // One cached case: appending to one case evicts the other.
  auto store = Open(/*max_cached_cases=*/1);
  const Built a = Build(*store, "case-a");
  const Built b = Build(*store, "case-b");
  ExpectRefusals(*store, "case-a", a);
  Accept(*store, "case-b", {Invite("p-9")});
  ExpectRefusals(*store, "case-a", a);
  Accept(*store, "case-a", {Invite("p-9")});
  ExpectRefusals(*store, "case-b", b);
  ExpectConferenceAfterNewCoordinator(*store, "case-a");
  Accept(*store, "case-b", {Invite("p-8")});
  ExpectConferenceAfterNewCoordinator(*store, "case-b");
  Refuse(*store, "case-a", {Referral()}, "REFERRAL_ONCE");
  Accept(*store, "case-b", {Closed()});
  Refuse(*store, "case-a", {ActionStatus("a-7")}, "UNKNOWN_ACTION");
  Accept(*store, "case-a", {Cost()});
  Refuse(*store, "case-b", {Invite("p-5")}, "CASE_CLOSED");
  Accept(*store, "case-a", {Closed()});
  Refuse(*store, "case-a", {Closed()}, "CASE_CLOSED");
}

}  // namespace
}  // namespace kring
