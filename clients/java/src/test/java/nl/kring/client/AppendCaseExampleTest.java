package nl.kring.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import nl.kring.client.examples.AppendCase;
import nl.kring.client.examples.SyntheticCase;
import nl.kring.v1.CaseHead;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The example (examples/AppendCase) runs against a real kringd as README.md shows it. */
class AppendCaseExampleTest {
  private static Kringd kringd;

  @BeforeAll
  static void startKringd() throws Exception {
    kringd = Kringd.start();
  }

  @AfterAll
  static void stopKringd() throws Exception {
    if (kringd != null) kringd.close();
  }

  @Test
  void theExampleAppendsAWholeCaseAndRecoversFromBothRefusals() throws Exception {
    Path tokenFile = kringd.dir.resolve("partner-a.token");
    Files.writeString(tokenFile, kringd.tokens.get(Kringd.PARTNER_A) + "\n");
    String caseId = KringClientTest.newCaseId();
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ByteArrayOutputStream err = new ByteArrayOutputStream();

    int status =
        AppendCase.run(
            new String[] {kringd.address, "--token-file", tokenFile.toString(), "--case-id", caseId},
            new PrintStream(out, true, StandardCharsets.UTF_8),
            new PrintStream(err, true, StandardCharsets.UTF_8));

    String printed = out.toString(StandardCharsets.UTF_8);
    assertEquals(0, status, printed + err.toString(StandardCharsets.UTF_8));
    List<String> lines = printed.lines().toList();
    int total = SyntheticCase.wholeCase(java.time.Instant.now()).stream().mapToInt(List::size).sum();
    int first = SyntheticCase.wholeCase(java.time.Instant.now()).get(0).size();
    assertTrue(lines.stream().anyMatch(l -> l.startsWith("refused: FAILED_PRECONDITION events[0].conference_held")),
        printed);
    assertTrue(lines.stream().anyMatch(l -> l.startsWith("  rule ATTENDEE_NOT_INVITED at events[0].conference_held.attendee_ids[4]: ")), printed);
    assertTrue(lines.contains("refused: ABORTED, expected " + (first - 1) + ", the case is at " + first), printed);
    assertTrue(lines.stream().anyMatch(l -> l.startsWith("head: version " + first + ", ")), printed);
    assertEquals("done: case at version " + total + ", closed true", lines.get(lines.size() - 1), printed);

    try (KringClient client = kringd.client(Kringd.PARTNER_A)) {
      CaseHead head = client.readCaseHead(caseId);
      assertEquals(total, head.getVersion());
      assertTrue(head.getClosed());
    }
  }

  @Test
  void withoutATargetTheExampleShowsItsUsage() {
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    int status = AppendCase.run(new String[] {}, System.out, new PrintStream(err, true, StandardCharsets.UTF_8));
    assertEquals(2, status);
    assertTrue(err.toString(StandardCharsets.UTF_8).contains("usage: AppendCase TARGET"));
  }
}
