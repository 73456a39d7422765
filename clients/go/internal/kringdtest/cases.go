package kringdtest

import (
	"crypto/rand"
	"encoding/hex"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/kring-project/kring/clients/go/kringv1"
)

// CaseID is a new SYNTHETIC case id, unique per call.
func CaseID() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return "SYNTHETIC-GO-" + hex.EncodeToString(b[:])
}

// day is a date of the synthetic case: day 0 is 2025-03-03 09:00 UTC.
func day(d int) *timestamppb.Timestamp {
	return timestamppb.New(time.Date(2025, 3, 3, 9, 0, 0, 0, time.UTC).AddDate(0, 0, d))
}

// WholeCase is a whole valid SYNTHETIC case, from referral to closure, in
// three batches: preparation (6 events), the conference and its plan (4),
// follow-ups to closure (5). Event ids are left empty (the client fills
// them). Participants: central person p1, invited p2 (family) and p3
// (friend), coordinator c1.
func WholeCase() [][]*kringv1.Event {
	preparation := []*kringv1.Event{
		{OccurredAt: day(0), Payload: &kringv1.Event_CaseReferred{CaseReferred: &kringv1.CaseReferred{
			Domain:             kringv1.Domain_DOMAIN_YOUTH_CARE,
			LegalFramework:     kringv1.LegalFramework_LEGAL_FRAMEWORK_JEUGDWET,
			ReferrerKind:       kringv1.ReferrerKind_REFERRER_KIND_MUNICIPALITY,
			MunicipalityCode:   "GM0363",
			PreferredLanguages: []string{"nl"},
			CentralPersonIds:   []string{"p1"},
		}}},
		{OccurredAt: day(1), Payload: &kringv1.Event_PlanRightOffered{PlanRightOffered: &kringv1.PlanRightOffered{
			LegalFramework: kringv1.LegalFramework_LEGAL_FRAMEWORK_JEUGDWET}}},
		{OccurredAt: day(3), Payload: &kringv1.Event_CoordinatorAssigned{CoordinatorAssigned: &kringv1.CoordinatorAssigned{
			CoordinatorId: "c1", Languages: []string{"nl"}, LanguagePreferenceMet: true}}},
		{OccurredAt: day(7), Payload: &kringv1.Event_ParticipantInvited{ParticipantInvited: &kringv1.ParticipantInvited{
			ParticipantId: "p2", Relation: kringv1.Relation_RELATION_FAMILY}}},
		{OccurredAt: day(7), Payload: &kringv1.Event_ParticipantInvited{ParticipantInvited: &kringv1.ParticipantInvited{
			ParticipantId: "p3", Relation: kringv1.Relation_RELATION_FRIEND}}},
		{OccurredAt: day(9), Payload: &kringv1.Event_ParticipantResponded{ParticipantResponded: &kringv1.ParticipantResponded{
			ParticipantId: "p2", Response: kringv1.InvitationResponse_INVITATION_RESPONSE_ACCEPTED}}},
	}
	conference := []*kringv1.Event{
		{OccurredAt: day(21), Payload: &kringv1.Event_ConferenceHeld{ConferenceHeld: &kringv1.ConferenceHeld{
			AttendeeIds: []string{"p1", "p2", "p3"}, PrivateFamilyTimeHeld: true, Languages: []string{"nl"}}}},
		{OccurredAt: day(21), Payload: &kringv1.Event_PlanAdopted{PlanAdopted: &kringv1.PlanAdopted{
			Actions: []*kringv1.PlanAction{
				{ActionId: "a1", OwnerId: "p2", OwnerKind: kringv1.ActionOwnerKind_ACTION_OWNER_KIND_NETWORK, CategoryCode: "school"},
				{ActionId: "a2", OwnerId: "p3", OwnerKind: kringv1.ActionOwnerKind_ACTION_OWNER_KIND_NETWORK, CategoryCode: "childcare"},
			}}}},
		{OccurredAt: day(24), Payload: &kringv1.Event_PlanDecided{PlanDecided: &kringv1.PlanDecided{
			Decision: kringv1.PlanDecision_PLAN_DECISION_ACCEPTED}}},
		{OccurredAt: day(40), Payload: &kringv1.Event_PlanActionStatusChanged{PlanActionStatusChanged: &kringv1.PlanActionStatusChanged{
			ActionId: "a1", Status: kringv1.ActionStatus_ACTION_STATUS_DONE}}},
	}
	followUp := []*kringv1.Event{
		{OccurredAt: day(90), Payload: &kringv1.Event_FollowUpRecorded{FollowUpRecorded: &kringv1.FollowUpRecorded{
			ActiveSupporterIds: []string{"p2", "p3"}, PlanExecution: kringv1.PlanExecution_PLAN_EXECUTION_MOSTLY,
			ReportedBy: kringv1.Reporter_REPORTER_COORDINATOR}}},
		{OccurredAt: day(92), Payload: &kringv1.Event_ReviewConferenceHeld{ReviewConferenceHeld: &kringv1.ReviewConferenceHeld{
			AttendeeIds: []string{"p1", "p2"}}}},
		{OccurredAt: day(95), Payload: &kringv1.Event_OutcomeRecorded{OutcomeRecorded: &kringv1.OutcomeRecorded{
			Outcome: kringv1.OutcomeType_OUTCOME_TYPE_PLACEMENT_PREVENTED, ChildrenAffected: 1}}},
		{OccurredAt: day(95), Payload: &kringv1.Event_CostRecorded{CostRecorded: &kringv1.CostRecorded{
			Kind: kringv1.CostKind_COST_KIND_CONFERENCE, AmountCents: 125000, Currency: "EUR"}}},
		{OccurredAt: day(100), Payload: &kringv1.Event_CaseClosed{CaseClosed: &kringv1.CaseClosed{
			EndReason: kringv1.EndReason_END_REASON_COMPLETED_AS_PLANNED}}},
	}
	return [][]*kringv1.Event{preparation, conference, followUp}
}

// Referral is one valid case_referred event (a new case's first event).
func Referral() *kringv1.Event { return WholeCase()[0][0] }

// Cost is one valid event that may be appended to any case after its
// referral (a cost record: it needs no plan).
func Cost() *kringv1.Event {
	return &kringv1.Event{OccurredAt: day(30), Payload: &kringv1.Event_CostRecorded{CostRecorded: &kringv1.CostRecorded{
		Kind: kringv1.CostKind_COST_KIND_COORDINATOR_HOURS, AmountCents: 4500, Currency: "EUR"}}}
}
