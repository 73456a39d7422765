package nl.kring.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.Status;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import nl.kring.client.examples.SyntheticCase;
import nl.kring.v1.AppendResult;
import nl.kring.v1.Event;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** AppendStream against a real kringd: one acknowledgement per batch, matched by request id. */
class AppendStreamTest {
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

  /** What the listener saw of one acknowledgement. */
  record Ack(AppendResult result, KringException error) {}

  @Test
  void everyBatchIsAcknowledgedAndARefusedBatchDoesNotEndTheStream() throws Exception {
    String caseId = KringClientTest.newCaseId();
    String otherCase = KringClientTest.newCaseId();
    List<List<Event>> batches = SyntheticCase.wholeCase(START);
    Map<Long, Ack> acks = new ConcurrentHashMap<>();
    List<CompletableFuture<AppendResult>> futures = new ArrayList<>();
    try (AppendStream stream = partnerA.appendStream((id, r, e) -> acks.put(id, new Ack(r, e)))) {
      long v1 = batches.get(0).size();
      long v2 = v1 + batches.get(1).size();
      // Pipelined: each batch expects the version the previous one will leave.
      futures.add(stream.send(caseId, Expected.noStream(), batches.get(0)));
      // A case must start with its referral: refused, acknowledged with the rule.
      futures.add(stream.send(otherCase, Expected.noStream(), batches.get(1)));
      futures.add(stream.send(caseId, Expected.exact(v1), batches.get(1)));
      futures.add(stream.send(caseId, Expected.exact(v2), batches.get(2)));
    }

    assertEquals(4, acks.size(), acks.toString());
    ExecutionException refused = assertThrows(ExecutionException.class, () -> futures.get(1).get(0, TimeUnit.SECONDS));
    KringException e = assertInstanceOf(KringException.class, refused.getCause());
    assertEquals(Status.Code.FAILED_PRECONDITION, e.code());
    assertEquals(2, e.requestId());
    assertEquals("REFERRAL_FIRST", e.preconditionViolations().get(0).type(), e.preconditionViolations().toString());
    assertEquals("events[0]", e.preconditionViolations().get(0).subject());
    assertNull(acks.get(2L).result());
    assertEquals(e, acks.get(2L).error());

    long version = 0;
    for (int i : new int[] {0, 2, 3}) {
      AppendResult r = futures.get(i).get(0, TimeUnit.SECONDS);
      assertEquals(version + 1, r.getFirstStreamVersion());
      version = r.getLastStreamVersion();
      assertEquals(r, acks.get((long) i + 1).result());
      assertNull(acks.get((long) i + 1).error());
    }
    assertEquals(KringClientTest.size(batches), version);
    assertEquals(version, partnerA.readCaseHead(caseId).getVersion());
    assertFalse(partnerA.readCaseHead(otherCase).getExists());
  }

  @Test
  void aWrongExpectedVersionOnTheStreamCarriesTheCurrentVersion() throws Exception {
    String caseId = KringClientTest.newCaseId();
    List<Event> first = SyntheticCase.wholeCase(START).get(0);
    CompletableFuture<AppendResult> stale;
    try (AppendStream stream = partnerA.appendStream()) {
      stream.send(caseId, Expected.noStream(), first);
      stale = stream.send(caseId, Expected.noStream(), List.of(SyntheticCase.event(START, 40)
          .setCaseClosed(nl.kring.v1.CaseClosed.newBuilder().setEndReasonValue(1)).build()));
    }
    ExecutionException x = assertThrows(ExecutionException.class, () -> stale.get(0, TimeUnit.SECONDS));
    KringException e = assertInstanceOf(KringException.class, x.getCause());
    assertEquals(Status.Code.ABORTED, e.code());
    assertTrue(e.isWrongExpectedVersion());
    assertEquals(first.size(), e.currentVersion().getAsLong());
    assertEquals("no_stream", e.expectedVersion().orElseThrow());
  }

  @Test
  void sendWaitsWhileTheWindowOfUnacknowledgedBatchesIsFull() throws Exception {
    List<CompletableFuture<AppendResult>> futures = new ArrayList<>();
    int maxSeen = 0;
    try (KringClient client = kringd.builder(Kringd.PARTNER_A).maxUnacknowledged(2).build();
        AppendStream stream = client.appendStream()) {
      for (int i = 0; i < 20; i++) {
        futures.add(stream.send(KringClientTest.newCaseId(), Expected.noStream(), List.of(SyntheticCase.referral(START))));
        maxSeen = Math.max(maxSeen, stream.unacknowledged());
      }
      assertTrue(stream.closeAndWait(Duration.ofSeconds(60)));
      assertEquals(0, stream.unacknowledged());
    }
    assertTrue(maxSeen <= 2, "at most 2 unacknowledged, saw " + maxSeen);
    for (CompletableFuture<AppendResult> f : futures) {
      AppendResult r = f.get(0, TimeUnit.SECONDS);
      assertNotNull(r);
      assertEquals(1, r.getLastStreamVersion());
    }
  }

  @Test
  void whenTheServerStopsABatchWithoutAcknowledgementFailsUnavailableAndCanBeSentAgain() throws Exception {
    Kringd own = Kringd.start();
    List<Event> batch = List.of(SyntheticCase.referral(START));
    String caseId = KringClientTest.newCaseId();
    CompletableFuture<AppendResult> late;
    try (KringClient client = own.client(Kringd.PARTNER_A)) {
      AppendStream stream = client.appendStream();
      assertEquals(1, stream.send(KringClientTest.newCaseId(), Expected.noStream(), batch).get(60, TimeUnit.SECONDS)
          .getLastStreamVersion());
      own.close();  // SIGTERM: kringd ends the stream with UNAVAILABLE
      late = stream.send(caseId, Expected.noStream(), batch);
      ExecutionException x = assertThrows(ExecutionException.class, () -> late.get(60, TimeUnit.SECONDS));
      KringException e = assertInstanceOf(KringException.class, x.getCause());
      assertEquals(Status.Code.UNAVAILABLE, e.code());
      assertEquals(2, e.requestId());
      assertEquals(0, stream.unacknowledged());
      stream.close();
    }
    // The same batch, sent again to a running server, is stored.
    AppendResult again = partnerA.append(caseId, Expected.noStream(), batch);
    assertEquals(1, again.getLastStreamVersion());
  }

  @Test
  void batchesStillWaitingForTheirAcknowledgementWhenTheStreamEndsFailUnavailable() throws Exception {
    Kringd own = Kringd.start();
    Faults.DropStreamAcks drop = new Faults.DropStreamAcks();
    List<Event> batch = List.of(SyntheticCase.referral(START));
    try (KringClient client = own.builder(Kringd.PARTNER_A).interceptor(drop).build()) {
      AppendStream stream = client.appendStream();
      List<CompletableFuture<AppendResult>> waiting = new ArrayList<>();
      for (int i = 0; i < 3; i++) waiting.add(stream.send(KringClientTest.newCaseId(), Expected.noStream(), batch));
      // The server stores and acknowledges all three; the acknowledgements are lost on the way.
      Instant giveUp = Instant.now().plusSeconds(60);
      while (drop.dropped.get() < 3 && Instant.now().isBefore(giveUp)) Thread.sleep(10);
      assertEquals(3, drop.dropped.get(), "acknowledgements that reached the client");
      assertEquals(3, stream.unacknowledged());
      own.close();  // SIGTERM: kringd ends the stream
      for (int i = 0; i < 3; i++) {
        int index = i;
        ExecutionException x = assertThrows(ExecutionException.class, () -> waiting.get(index).get(60, TimeUnit.SECONDS));
        KringException e = assertInstanceOf(KringException.class, x.getCause());
        assertEquals(Status.Code.UNAVAILABLE, e.code());
        assertEquals(i + 1, e.requestId());
      }
      assertEquals(0, stream.unacknowledged());
      stream.close();
    }
  }

  @Test
  void sendAfterCloseIsRefused() {
    AppendStream stream = partnerA.appendStream();
    stream.close();
    assertThrows(IllegalStateException.class, () -> stream.send(KringClientTest.newCaseId(), null, List.of(SyntheticCase.referral(START))));
  }
}
