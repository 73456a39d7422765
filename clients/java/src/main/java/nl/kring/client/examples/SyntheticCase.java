package nl.kring.client.examples;

import com.google.protobuf.Timestamp;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import nl.kring.v1.ActionOwnerKind;
import nl.kring.v1.ActionStatus;
import nl.kring.v1.CaseClosed;
import nl.kring.v1.CaseReferred;
import nl.kring.v1.ConferenceHeld;
import nl.kring.v1.CoordinatorAssigned;
import nl.kring.v1.Domain;
import nl.kring.v1.EndReason;
import nl.kring.v1.Event;
import nl.kring.v1.FollowUpRecorded;
import nl.kring.v1.InvitationResponse;
import nl.kring.v1.LegalFramework;
import nl.kring.v1.OutcomeRecorded;
import nl.kring.v1.OutcomeType;
import nl.kring.v1.ParticipantInvited;
import nl.kring.v1.ParticipantResponded;
import nl.kring.v1.PlanAction;
import nl.kring.v1.PlanActionStatusChanged;
import nl.kring.v1.PlanAdopted;
import nl.kring.v1.PlanDecided;
import nl.kring.v1.PlanDecision;
import nl.kring.v1.PlanExecution;
import nl.kring.v1.PlanRightOffered;
import nl.kring.v1.ReferrerKind;
import nl.kring.v1.Relation;
import nl.kring.v1.Reporter;

/**
 * The events of one SYNTHETIC case, from referral to closure: invented pseudonymous ids, no
 * personal data. Each event gets a fresh lowercase UUID as its event_id once, when built: keep the
 * list to send it again.
 */
public final class SyntheticCase {
  private SyntheticCase() {}

  /** A new random event id (lowercase UUID, as the server requires). */
  public static String newEventId() {
    return UUID.randomUUID().toString();
  }

  /** An event with a fresh id, occurring {@code day} days after {@code start}. */
  public static Event.Builder event(Instant start, int day) {
    Instant at = start.plus(day, ChronoUnit.DAYS);
    return Event.newBuilder()
        .setEventId(newEventId())
        .setOccurredAt(Timestamp.newBuilder().setSeconds(at.getEpochSecond()).build());
  }

  /** The referral: the first event of every case. */
  public static Event referral(Instant start) {
    return event(start, 0)
        .setCaseReferred(
            CaseReferred.newBuilder()
                .setDomain(Domain.DOMAIN_YOUTH_CARE)
                .setLegalFramework(LegalFramework.LEGAL_FRAMEWORK_JEUGDWET)
                .setReferrerKind(ReferrerKind.REFERRER_KIND_MUNICIPALITY)
                .setMunicipalityCode("GM0363")
                .addPreferredLanguages("nl")
                .addCentralPersonIds("synthetic-p-1"))
        .build();
  }

  /**
   * A whole case in three batches, as a partner system records it over time: the referral and
   * preparation; the conference and the plan; the follow-up, outcome and closure.
   */
  public static List<List<Event>> wholeCase(Instant start) {
    List<Event> preparation = new ArrayList<>();
    preparation.add(referral(start));
    preparation.add(
        event(start, 1)
            .setPlanRightOffered(
                PlanRightOffered.newBuilder().setLegalFramework(LegalFramework.LEGAL_FRAMEWORK_JEUGDWET))
            .build());
    preparation.add(
        event(start, 3)
            .setCoordinatorAssigned(
                CoordinatorAssigned.newBuilder()
                    .setCoordinatorId("synthetic-c-1")
                    .addLanguages("nl")
                    .setLanguagePreferenceMet(true))
            .build());
    String[][] network = {
      {"synthetic-p-1", "FAMILY", "true"},
      {"synthetic-p-2", "FAMILY", "false"},
      {"synthetic-p-3", "FRIEND", "false"},
      {"synthetic-p-4", "NEIGHBOUR", "false"},
    };
    for (String[] p : network) {
      preparation.add(
          event(start, 5)
              .setParticipantInvited(
                  ParticipantInvited.newBuilder()
                      .setParticipantId(p[0])
                      .setRelation(Relation.valueOf("RELATION_" + p[1]))
                      .setCentralPerson(Boolean.parseBoolean(p[2])))
              .build());
      preparation.add(
          event(start, 8)
              .setParticipantResponded(
                  ParticipantResponded.newBuilder()
                      .setParticipantId(p[0])
                      .setResponse(InvitationResponse.INVITATION_RESPONSE_ACCEPTED))
              .build());
    }

    List<Event> conference = new ArrayList<>();
    conference.add(
        event(start, 21)
            .setConferenceHeld(
                ConferenceHeld.newBuilder()
                    .addAttendeeIds("synthetic-p-1")
                    .addAttendeeIds("synthetic-p-2")
                    .addAttendeeIds("synthetic-p-3")
                    .addAttendeeIds("synthetic-p-4")
                    .setPrivateFamilyTimeHeld(true)
                    .addLanguages("nl"))
            .build());
    conference.add(
        event(start, 21)
            .setPlanAdopted(
                PlanAdopted.newBuilder()
                    .addActions(
                        PlanAction.newBuilder()
                            .setActionId("synthetic-a-1")
                            .setOwnerId("synthetic-p-2")
                            .setOwnerKind(ActionOwnerKind.ACTION_OWNER_KIND_NETWORK)
                            .setCategoryCode("childcare"))
                    .addActions(
                        PlanAction.newBuilder()
                            .setActionId("synthetic-a-2")
                            .setOwnerId("synthetic-p-3")
                            .setOwnerKind(ActionOwnerKind.ACTION_OWNER_KIND_NETWORK)
                            .setCategoryCode("school")))
            .build());
    conference.add(
        event(start, 22)
            .setPlanDecided(PlanDecided.newBuilder().setDecision(PlanDecision.PLAN_DECISION_ACCEPTED))
            .build());

    List<Event> followUp = new ArrayList<>();
    followUp.add(
        event(start, 60)
            .setPlanActionStatusChanged(
                PlanActionStatusChanged.newBuilder()
                    .setActionId("synthetic-a-1")
                    .setStatus(ActionStatus.ACTION_STATUS_DONE))
            .build());
    followUp.add(
        event(start, 90)
            .setFollowUpRecorded(
                FollowUpRecorded.newBuilder()
                    .addActiveSupporterIds("synthetic-p-2")
                    .addActiveSupporterIds("synthetic-p-3")
                    .setPlanExecution(PlanExecution.PLAN_EXECUTION_MOSTLY)
                    .setProblemsResolved(true)
                    .setReportedBy(Reporter.REPORTER_COORDINATOR))
            .build());
    followUp.add(
        event(start, 120)
            .setOutcomeRecorded(
                OutcomeRecorded.newBuilder()
                    .setOutcome(OutcomeType.OUTCOME_TYPE_PLACEMENT_PREVENTED)
                    .setChildrenAffected(2))
            .build());
    followUp.add(
        event(start, 121)
            .setCaseClosed(CaseClosed.newBuilder().setEndReason(EndReason.END_REASON_COMPLETED_AS_PLANNED))
            .build());
    return List.of(preparation, conference, followUp);
  }
}
