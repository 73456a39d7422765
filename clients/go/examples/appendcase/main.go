// Command appendcase appends one whole SYNTHETIC Family Group Conference
// case to kringd with package kring, from referral to closure, and shows
// how a partner handles a refused batch:
//
//   - a batch that breaks a case rule (an attendee nobody invited) is refused
//     as a whole: it prints every violation, fixes the batch and sends it
//     again;
//   - a batch sent with a stale expected version (another of the partner's
//     systems appended meanwhile) is ABORTED: it reads the case's head and
//     sends the same batch again with the current version.
//
// Usage:
//
//	KRING_TOKEN=<partner token> go run ./examples/appendcase -server host:port [-ca ca.pem]
//
// Without a token it works against kringd in development mode (loopback, no
// --identities). Every id and value here is invented.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/kring-project/kring/clients/go/kring"
	"github.com/kring-project/kring/clients/go/kringv1"
)

func main() {
	server := flag.String("server", "127.0.0.1:50051", "kringd's gRPC address, host:port")
	ca := flag.String("ca", "", "PEM file of the CA that signed kringd's certificate (enables TLS)")
	caseID := flag.String("case", "", "case id (default: a new SYNTHETIC-GO-… id)")
	flag.Parse()
	if *caseID == "" {
		*caseID = "SYNTHETIC-GO-" + kring.NewEventID()[:8]
	}
	if err := run(*server, *ca, *caseID); err != nil {
		fmt.Fprintln(os.Stderr, "appendcase:", err)
		os.Exit(1)
	}
}

func run(server, ca, caseID string) error {
	var opts []kring.Option
	if token := os.Getenv("KRING_TOKEN"); token != "" {
		opts = append(opts, kring.WithToken(token))
	}
	if ca != "" {
		config, err := kring.LoadTLSConfig(ca, "", "")
		if err != nil {
			return err
		}
		opts = append(opts, kring.WithTLS(config))
	}
	client, err := kring.Dial(server, opts...)
	if err != nil {
		return err
	}
	defer client.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	// 1. The referral and the preparation, as a new case (NoStream).
	res, err := client.Append(ctx, caseID, kring.NoStream(), preparation())
	if err != nil {
		return fmt.Errorf("preparation: %w", err)
	}
	printStored(caseID, "referral and preparation", res)
	version := res.GetLastStreamVersion()

	// 2. The conference with an attendee nobody invited: refused whole.
	conference := conferenceAndPlan([]string{"p1", "p2", "p3", "p9"})
	_, err = client.Append(ctx, caseID, kring.Exact(version), conference)
	var kerr *kring.Error
	if !errors.As(err, &kerr) || kerr.Code != codes.FailedPrecondition {
		return fmt.Errorf("the batch with an uninvited attendee: want FAILED_PRECONDITION, got %v", err)
	}
	printRefusal(kerr)
	// Fixed: p9 was not there. The fixed events are new events, so they get
	// new ids (never reuse an event id for other content).
	res, err = client.Append(ctx, caseID, kring.Exact(version), conferenceAndPlan([]string{"p1", "p2", "p3"}))
	if err != nil {
		return fmt.Errorf("conference: %w", err)
	}
	printStored(caseID, "conference and plan", res)
	version = res.GetLastStreamVersion()

	// 3. Meanwhile another system of this partner records a cost, so the
	// version this program knows is stale.
	if _, err := client.Append(ctx, caseID, kring.Any(), []*kringv1.Event{costRecord()}); err != nil {
		return fmt.Errorf("cost: %w", err)
	}

	// 4. Follow-ups to closure with the stale version: ABORTED. Read the
	// head, decide (here: the cost changes nothing), send again.
	followUps := followUpsToClosure()
	res, err = client.Append(ctx, caseID, kring.Exact(version), followUps)
	if errors.As(err, &kerr) && kerr.Code == codes.Aborted {
		printRefusal(kerr)
		head, headErr := client.ReadCaseHead(ctx, caseID, "resume after ABORTED")
		if headErr != nil {
			return fmt.Errorf("case head: %w", headErr)
		}
		fmt.Printf("case head: version %d, last event %s, closed %v; sending again at version %d\n",
			head.GetVersion(), head.GetLastEventId(), head.GetClosed(), head.GetVersion())
		// The same events (same ids): the batch was not stored.
		res, err = client.Append(ctx, caseID, kring.Exact(head.GetVersion()), followUps)
	}
	if err != nil {
		return fmt.Errorf("follow-ups: %w", err)
	}
	printStored(caseID, "follow-ups and closure", res)

	head, err := client.ReadCaseHead(ctx, caseID, "check the case is complete")
	if err != nil {
		return fmt.Errorf("case head: %w", err)
	}
	fmt.Printf("case %s: %d events, closed %v\n", caseID, head.GetVersion(), head.GetClosed())
	if !head.GetClosed() {
		return errors.New("the case is not closed")
	}
	return nil
}

// printRefusal prints what a refused batch says: code, message, and every
// field violation, broken rule and version in its details.
func printRefusal(e *kring.Error) {
	fmt.Printf("refused: %s: %s\n", kring.CodeName(e.Code), e.Message)
	for _, v := range e.FieldViolations {
		fmt.Printf("  field %s: %s\n", v.Field, v.Description)
	}
	for _, v := range e.PreconditionViolations {
		fmt.Printf("  rule %s at %s: %s\n", v.Type, v.Subject, v.Description)
	}
	if current, ok := e.CurrentVersion(); ok {
		expected, _ := e.ExpectedVersion()
		fmt.Printf("  expected version %s, the case is at version %d\n", expected, current)
	}
}

func printStored(caseID, what string, r *kringv1.AppendResult) {
	fmt.Printf("case %s: %s stored as versions %d-%d (log positions %d-%d)\n", caseID, what,
		r.GetFirstStreamVersion(), r.GetLastStreamVersion(), r.GetFirstGlobalPosition(), r.GetLastGlobalPosition())
}

// day is a date of the case: day 0 is 2025-03-03 09:00 UTC.
func day(d int) *timestamppb.Timestamp {
	return timestamppb.New(time.Date(2025, 3, 3, 9, 0, 0, 0, time.UTC).AddDate(0, 0, d))
}

// preparation: the referral (central person p1), the offer of an own plan,
// a coordinator, two invited participants (p2 family, p3 friend) and a
// response. Append gives every event a new id.
func preparation() []*kringv1.Event {
	return []*kringv1.Event{
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
}

// conferenceAndPlan: the conference with these attendees, the plan the
// network makes there (two actions), its acceptance, and one action done.
func conferenceAndPlan(attendees []string) []*kringv1.Event {
	return []*kringv1.Event{
		{OccurredAt: day(21), Payload: &kringv1.Event_ConferenceHeld{ConferenceHeld: &kringv1.ConferenceHeld{
			AttendeeIds: attendees, PrivateFamilyTimeHeld: true, Languages: []string{"nl"}}}},
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
}

// costRecord: coordinator hours, as another system of the partner records.
func costRecord() *kringv1.Event {
	return &kringv1.Event{OccurredAt: day(30), Payload: &kringv1.Event_CostRecorded{CostRecorded: &kringv1.CostRecorded{
		Kind: kringv1.CostKind_COST_KIND_COORDINATOR_HOURS, AmountCents: 45000, Currency: "EUR"}}}
}

// followUpsToClosure: a follow-up three months on, a review conference, the
// outcome, the conference's cost, and the closure.
func followUpsToClosure() []*kringv1.Event {
	return []*kringv1.Event{
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
}
