package nl.kring.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.Timestamp;
import io.grpc.Status;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.UUID;
import java.util.stream.Collectors;
import nl.kring.client.examples.SyntheticCase;
import nl.kring.v1.AppendResult;
import nl.kring.v1.CaseHead;
import nl.kring.v1.CaseReferred;
import nl.kring.v1.ConferenceHeld;
import nl.kring.v1.Event;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** KringClient's unary calls against a real kringd with two partners. */
class KringClientTest {
  private static final Instant START = Instant.now().minus(400, ChronoUnit.DAYS).truncatedTo(ChronoUnit.DAYS);
  private static Kringd kringd;
  private static KringClient partnerA;

  @BeforeAll
  static void startKringd() throws Exception {
    kringd = Kringd.start();
    partnerA = kringd.client(Kringd.PARTNER_A);
  }

  @AfterAll
  static void stopKringd() throws Exception {
    if (partnerA != null) partnerA.close();
    if (kringd != null) kringd.close();
  }

  static String newCaseId() {
    return "SYNTHETIC-" + UUID.randomUUID().toString().substring(0, 8);
  }

  static int size(List<List<Event>> batches) {
    return batches.stream().mapToInt(List::size).sum();
  }

  @Test
  void aWholeCaseIsAppendedBatchByBatchWithExactVersions() {
    String caseId = newCaseId();
    List<List<Event>> batches = SyntheticCase.wholeCase(START);
    long version = 0;
    AppendResult last = null;
    for (List<Event> batch : batches) {
      last = partnerA.append(caseId, version == 0 ? Expected.noStream() : Expected.exact(version), batch);
      assertFalse(last.getAlreadyRecorded());
      assertEquals(version + 1, last.getFirstStreamVersion());
      assertEquals(version + batch.size(), last.getLastStreamVersion());
      assertEquals(batch.size() - 1, last.getLastGlobalPosition() - last.getFirstGlobalPosition());
      version = last.getLastStreamVersion();
    }
    assertEquals(size(batches), version);

    CaseHead head = partnerA.readCaseHead(caseId);
    assertTrue(head.getExists());
    assertEquals(caseId, head.getCaseId());
    assertEquals(version, head.getVersion());
    assertEquals(last.getLastGlobalPosition(), head.getLastGlobalPosition());
    List<Event> lastBatch = batches.get(batches.size() - 1);
    assertEquals(lastBatch.get(lastBatch.size() - 1).getEventId(), head.getLastEventId());
    assertTrue(head.getClosed());
  }

  @Test
  void aRetryAfterALostAnswerIsAlreadyRecordedWithTheOriginalPositions() {
    Faults.LoseFirstAnswer lose = new Faults.LoseFirstAnswer();
    List<Duration> waits = new ArrayList<>();
    String caseId = newCaseId();
    List<Event> batch = SyntheticCase.wholeCase(START).get(0);
    try (KringClient client =
        kringd.builder(Kringd.PARTNER_A).interceptor(lose).sleeper(waits::add).build()) {
      AppendResult result = client.append(caseId, Expected.noStream(), batch);

      assertEquals(2, lose.appendCalls.get(), "the batch is sent twice");
      assertEquals(1, waits.size(), "one wait between the two attempts");
      assertEquals(1, lose.lost.size(), "the server answered the first attempt");
      AppendResult original = (AppendResult) lose.lost.get(0);
      assertFalse(original.getAlreadyRecorded());
      // The retry carried the same event ids: nothing new was stored, the positions are the
      // first attempt's (and the stale no_stream expectation did not matter).
      assertTrue(result.getAlreadyRecorded());
      assertEquals(original.toBuilder().setAlreadyRecorded(true).build(), result);
      assertEquals(batch.size(), partnerA.readCaseHead(caseId).getVersion());
    }
  }

  @Test
  void unavailableDeadlineExceededAndResourceExhaustedAreRetriedWithGrowingWaits() {
    Faults.FailAppends fail =
        new Faults.FailAppends(
            Status.UNAVAILABLE.withDescription("test"),
            Status.DEADLINE_EXCEEDED.withDescription("test"),
            Status.RESOURCE_EXHAUSTED.withDescription("ingest queue full (test)"));
    List<Duration> waits = new ArrayList<>();
    RetryPolicy policy = RetryPolicy.of(4, Duration.ofMillis(100), Duration.ofMillis(300), 2.0);
    try (KringClient client =
        kringd.builder(Kringd.PARTNER_A).interceptor(fail).retryPolicy(policy).sleeper(waits::add).build()) {
      String caseId = newCaseId();
      AppendResult result = client.append(caseId, Expected.noStream(), List.of(SyntheticCase.referral(START)));
      assertFalse(result.getAlreadyRecorded());
      assertEquals(1, result.getLastStreamVersion());
      assertEquals(4, fail.appendCalls.get());
      // Ceilings 100, 200, 300 (capped) ms; each wait lies in [ceiling/2, ceiling].
      long[] ceilings = {100, 200, 300};
      assertEquals(3, waits.size());
      for (int i = 0; i < 3; i++) {
        long ms = waits.get(i).toMillis();
        assertTrue(ms >= ceilings[i] / 2 && ms <= ceilings[i], "wait " + i + " = " + ms + " ms");
      }
    }
  }

  @Test
  void theLastFailureIsThrownWhenNoAttemptIsLeft() {
    Faults.FailAppends fail =
        new Faults.FailAppends(
            Status.UNAVAILABLE.withDescription("down 1"),
            Status.UNAVAILABLE.withDescription("down 2"),
            Status.UNAVAILABLE.withDescription("down 3"));
    RetryPolicy policy = RetryPolicy.of(3, Duration.ofMillis(10), Duration.ofMillis(10), 1.0);
    try (KringClient client =
        kringd.builder(Kringd.PARTNER_A).interceptor(fail).retryPolicy(policy).sleeper(d -> {}).build()) {
      KringException e =
          assertThrows(
              KringException.class,
              () -> client.append(newCaseId(), Expected.noStream(), List.of(SyntheticCase.referral(START))));
      assertEquals(Status.Code.UNAVAILABLE, e.code());
      assertEquals("down 3", e.serverMessage());
      assertEquals(3, e.attempts());
      assertEquals(3, fail.appendCalls.get());
    }
  }

  @Test
  void aBadBatchGivesEveryFieldViolationAndIsNotRetried() {
    Faults.FailAppends count = new Faults.FailAppends();
    try (KringClient client = kringd.builder(Kringd.PARTNER_A).interceptor(count).build()) {
      Event noTime = SyntheticCase.referral(START).toBuilder().clearOccurredAt().build();
      Event upperCaseId =
          SyntheticCase.event(START, 1)
              .setEventId(UUID.randomUUID().toString().toUpperCase())
              .setCaseReferred(SyntheticCase.referral(START).getCaseReferred())
              .build();
      Event badMunicipality =
          SyntheticCase.event(START, 2)
              .setCaseReferred(
                  CaseReferred.newBuilder(SyntheticCase.referral(START).getCaseReferred()).setMunicipalityCode("0363"))
              .build();
      String caseId = newCaseId();
      KringException e =
          assertThrows(
              KringException.class,
              () -> client.append(caseId, Expected.noStream(), List.of(noTime, upperCaseId, badMunicipality)));

      assertEquals(Status.Code.INVALID_ARGUMENT, e.code());
      assertEquals(1, e.attempts());
      assertEquals(1, count.appendCalls.get());
      Set<String> fields =
          e.fieldViolations().stream().map(KringException.FieldViolation::field).collect(Collectors.toSet());
      assertEquals(
          Set.of("events[0].occurred_at", "events[1].event_id", "events[2].case_referred.municipality_code"),
          fields,
          e.fieldViolations().toString());
      e.fieldViolations().forEach(v -> assertFalse(v.description().isEmpty(), v.toString()));
      assertTrue(e.serverMessage().startsWith(e.fieldViolations().get(0).field() + ": "), e.serverMessage());
      assertFalse(partnerA.readCaseHead(caseId).getExists(), "nothing was stored");
    }
  }

  @Test
  void aBrokenCaseRuleGivesThePreconditionViolation() {
    String caseId = newCaseId();
    partnerA.append(caseId, Expected.noStream(), List.of(SyntheticCase.referral(START)));
    Event conference =
        SyntheticCase.event(START, 2).setConferenceHeld(ConferenceHeld.newBuilder().addAttendeeIds("synthetic-p-1")).build();

    KringException e = assertThrows(KringException.class, () -> partnerA.append(caseId, Expected.exact(1), List.of(conference)));

    assertEquals(Status.Code.FAILED_PRECONDITION, e.code());
    assertEquals(1, e.attempts());
    List<String> rules =
        e.preconditionViolations().stream().map(KringException.PreconditionViolation::type).toList();
    assertTrue(rules.contains("CONFERENCE_NEEDS_COORDINATOR"), rules.toString());
    KringException.PreconditionViolation v = e.preconditionViolations().get(rules.indexOf("CONFERENCE_NEEDS_COORDINATOR"));
    assertEquals("events[0].conference_held", v.subject());
    assertFalse(v.description().isEmpty());
  }

  @Test
  void aWrongExpectedVersionGivesTheCurrentAndExpectedVersion() {
    String caseId = newCaseId();
    List<Event> first = SyntheticCase.wholeCase(START).get(0);
    partnerA.append(caseId, Expected.noStream(), first);
    Event more =
        SyntheticCase.event(START, 30)
            .setCaseClosed(nl.kring.v1.CaseClosed.newBuilder().setEndReasonValue(1))
            .build();

    KringException exact = assertThrows(KringException.class, () -> partnerA.append(caseId, Expected.exact(2), List.of(more)));
    assertEquals(Status.Code.ABORTED, exact.code());
    assertTrue(exact.isWrongExpectedVersion(), exact.reason().toString());
    assertEquals(first.size(), exact.currentVersion().getAsLong());
    assertEquals("2", exact.expectedVersion().orElseThrow());
    assertEquals(1, exact.attempts(), "ABORTED is not retried");

    KringException noStream =
        assertThrows(KringException.class, () -> partnerA.append(caseId, Expected.noStream(), List.of(more)));
    assertEquals(first.size(), noStream.currentVersion().getAsLong());
    assertEquals("no_stream", noStream.expectedVersion().orElseThrow());

    // Continue from the head, as the error says.
    AppendResult r = partnerA.append(caseId, Expected.exact(exact.currentVersion().getAsLong()), List.of(more));
    assertEquals(first.size() + 1, r.getLastStreamVersion());
  }

  @Test
  void readCaseHeadOfACaseWithoutEventsSaysItDoesNotExist() {
    CaseHead head = partnerA.readCaseHead(newCaseId());
    assertFalse(head.getExists());
    assertEquals(0, head.getVersion());
    assertEquals("", head.getLastEventId());
    assertFalse(head.getClosed());
  }

  @Test
  void readCaseHeadOfAnotherPartnersCaseIsRefusedLikeAnAppend() throws Exception {
    String caseId = newCaseId();
    partnerA.append(caseId, Expected.noStream(), List.of(SyntheticCase.referral(START)));
    try (KringClient partnerB = kringd.client(Kringd.PARTNER_B)) {
      KringException read = assertThrows(KringException.class, () -> partnerB.readCaseHead(caseId));
      KringException append =
          assertThrows(
              KringException.class,
              () -> partnerB.append(caseId, Expected.any(), List.of(SyntheticCase.event(START, 1)
                  .setCaseClosed(nl.kring.v1.CaseClosed.newBuilder().setEndReasonValue(1)).build())));
      assertEquals(Status.Code.PERMISSION_DENIED, read.code());
      assertEquals(append.code(), read.code());
      assertEquals(append.serverMessage(), read.serverMessage());
      assertFalse(read.serverMessage().contains(caseId), "no case id in the message");
    }
  }

  @Test
  void readCaseHeadWithoutAPurposeIsInvalidArgument() {
    try (KringClient noPurpose = KringClient.builder(kringd.address).token(kringd.tokens.get(Kringd.PARTNER_A)).build()) {
      KringException e = assertThrows(KringException.class, () -> noPurpose.readCaseHead(newCaseId()));
      assertEquals(Status.Code.INVALID_ARGUMENT, e.code());
      assertTrue(e.serverMessage().contains("kring-purpose"), e.serverMessage());
      // The purpose given with the call is sent.
      assertFalse(noPurpose.readCaseHead(newCaseId(), Kringd.PURPOSE).getExists());
    }
  }

  @Test
  void aBadTokenIsUnauthenticated() {
    try (KringClient client = KringClient.builder(kringd.address).token("krt_not-a-known-token").build()) {
      KringException e =
          assertThrows(KringException.class, () -> client.append(newCaseId(), null, List.of(SyntheticCase.referral(START))));
      assertEquals(Status.Code.UNAUTHENTICATED, e.code());
      assertEquals(1, e.attempts());
    }
  }

  @Test
  void aTokenWithSpacesIsRefusedByTheBuilder() {
    IllegalArgumentException e =
        assertThrows(IllegalArgumentException.class, () -> KringClient.builder("127.0.0.1:1").token("a b"));
    assertTrue(e.getMessage().startsWith("token:"), e.getMessage());
  }

  static Timestamp at(Instant i) {
    return Timestamp.newBuilder().setSeconds(i.getEpochSecond()).build();
  }
}
