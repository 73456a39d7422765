package nl.kring.client.examples;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import nl.kring.client.Expected;
import nl.kring.client.KringClient;
import nl.kring.client.KringException;
import nl.kring.v1.AppendResult;
import nl.kring.v1.CaseHead;
import nl.kring.v1.ConferenceHeld;
import nl.kring.v1.Event;

/**
 * Appends one whole SYNTHETIC case, the way a partner system would, and handles what Kring
 * refuses:
 *
 * <ol>
 *   <li>the referral and preparation, expecting a new case ({@code no_stream});
 *   <li>the conference with an attendee who was never invited: refused ({@code
 *       FAILED_PRECONDITION}, rule {@code ATTENDEE_NOT_INVITED}); the example prints every
 *       violation and sends the corrected batch;
 *   <li>that batch with a stale expected version: refused ({@code ABORTED}); the example reads the
 *       case's head and sends it again expecting the head's version;
 *   <li>the follow-up, outcome and closure.
 * </ol>
 *
 * <pre>
 * java -cp ... nl.kring.client.examples.AppendCase TARGET [--token-file FILE] [--case-id ID]
 * </pre>
 *
 * Without {@code --token-file} the token is taken from {@code $KRING_TOKEN} (none if unset).
 * Exit status 0 when the case is stored and closed, 1 when Kring refused something unexpected, 2
 * for bad usage.
 */
public final class AppendCase {
  private AppendCase() {}

  public static void main(String[] args) {
    int status = run(args, System.out, System.err);
    if (status != 0) System.exit(status);
  }

  /** The example's work; returns its exit status. */
  public static int run(String[] args, PrintStream out, PrintStream err) {
    String target = null;
    String token = System.getenv("KRING_TOKEN");
    String caseId = "SYNTHETIC-" + UUID.randomUUID().toString().substring(0, 8);
    for (int i = 0; i < args.length; i++) {
      switch (args[i]) {
        case "--token-file" -> {
          if (++i == args.length) return usage(err, "--token-file needs a file");
          try {
            token = Files.readString(Path.of(args[i]), StandardCharsets.US_ASCII).strip();
          } catch (IOException e) {
            return usage(err, "cannot read " + args[i] + ": " + e.getMessage());
          }
        }
        case "--case-id" -> {
          if (++i == args.length) return usage(err, "--case-id needs an id");
          caseId = args[i];
        }
        default -> {
          if (target != null || args[i].startsWith("-")) return usage(err, "unexpected " + args[i]);
          target = args[i];
        }
      }
    }
    if (target == null) return usage(err, "TARGET (host:port of kringd) is required");

    try (KringClient kring =
        KringClient.builder(target).token(token).purpose("continue an append (example)").build()) {
      appendCase(kring, caseId, out);
      return 0;
    } catch (KringException e) {
      err.println("refused: " + e.getMessage());
      return 1;
    }
  }

  private static int usage(PrintStream err, String problem) {
    err.println("AppendCase: " + problem);
    err.println("usage: AppendCase TARGET [--token-file FILE] [--case-id ID]");
    return 2;
  }

  static void appendCase(KringClient kring, String caseId, PrintStream out) {
    Instant start = Instant.now().minus(400, ChronoUnit.DAYS).truncatedTo(ChronoUnit.DAYS);
    List<List<Event>> batches = SyntheticCase.wholeCase(start);

    // 1. The referral and preparation: the case must be new.
    AppendResult first = kring.append(caseId, Expected.noStream(), batches.get(0));
    out.printf("stored %d events: versions %d-%d, positions %d-%d%n",
        batches.get(0).size(), first.getFirstStreamVersion(), first.getLastStreamVersion(),
        first.getFirstGlobalPosition(), first.getLastGlobalPosition());
    long version = first.getLastStreamVersion();

    // 2. A conference batch naming somebody who was never invited is refused as a whole.
    List<Event> wrong = new ArrayList<>(batches.get(1));
    Event held = wrong.get(0);
    wrong.set(0, held.toBuilder()
        .setEventId(SyntheticCase.newEventId())
        .setConferenceHeld(ConferenceHeld.newBuilder(held.getConferenceHeld()).addAttendeeIds("synthetic-p-9"))
        .build());
    try {
      kring.append(caseId, Expected.exact(version), wrong);
      throw new IllegalStateException("the server stored a conference with an uninvited attendee");
    } catch (KringException e) {
      out.printf("refused: %s %s%n", e.code(), e.serverMessage());
      for (KringException.PreconditionViolation v : e.preconditionViolations()) {
        out.printf("  rule %s at %s: %s%n", v.type(), v.subject(), v.description());
      }
      for (KringException.FieldViolation v : e.fieldViolations()) {
        out.printf("  field %s: %s%n", v.field(), v.description());
      }
    }

    // 3. The corrected batch, sent with a stale expectation (as if our bookkeeping lagged):
    //    ABORTED says where the case is; read the head to continue from there.
    try {
      kring.append(caseId, Expected.exact(version - 1), batches.get(1));
      throw new IllegalStateException("the server accepted a stale expected version");
    } catch (KringException e) {
      if (!e.isWrongExpectedVersion()) throw e;
      out.printf("refused: %s, expected %s, the case is at %d%n",
          e.code(), e.expectedVersion().orElse("?"), e.currentVersion().orElse(-1));
      CaseHead head = kring.readCaseHead(caseId);
      out.printf("head: version %d, last position %d, closed %b%n",
          head.getVersion(), head.getLastGlobalPosition(), head.getClosed());
      version = head.getVersion();
    }
    AppendResult conference = kring.append(caseId, Expected.exact(version), batches.get(1));
    out.printf("stored %d events: versions %d-%d%n", batches.get(1).size(),
        conference.getFirstStreamVersion(), conference.getLastStreamVersion());

    // 4. Follow-up, outcome and closure.
    AppendResult last = kring.append(caseId, Expected.exact(conference.getLastStreamVersion()), batches.get(2));
    out.printf("stored %d events: versions %d-%d%n", batches.get(2).size(),
        last.getFirstStreamVersion(), last.getLastStreamVersion());
    CaseHead head = kring.readCaseHead(caseId);
    out.printf("done: case at version %d, closed %b%n", head.getVersion(), head.getClosed());
  }
}
