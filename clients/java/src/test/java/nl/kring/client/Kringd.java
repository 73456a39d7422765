package nl.kring.client;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;
import java.util.Base64;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A real kringd for the tests: the binary from $KRINGD (ctest sets it), a fresh data folder, the
 * embedded Kafka, an identities file with two partners ("partner-a", "partner-b") and their bearer
 * tokens, listening on a free loopback port. Without $KRINGD the tests fail: a skipped test
 * would count as a pass.
 */
final class Kringd implements AutoCloseable {
  static final String PARTNER_A = "partner-a";
  static final String PARTNER_B = "partner-b";

  final Path dir;
  final String address;
  final Map<String, String> tokens;
  private final Process process;
  private final Path log;

  private Kringd(Path dir, String address, Map<String, String> tokens, Process process, Path log) {
    this.dir = dir;
    this.address = address;
    this.tokens = tokens;
    this.process = process;
    this.log = log;
  }

  static Kringd start() throws IOException, InterruptedException {
    return start(List.of(), "");
  }

  /**
   * As {@link #start()}, with more kringd flags and more lines for the identities file (e.g.
   * "partner NAME cert" for a client certificate with CN=NAME).
   */
  static Kringd start(List<String> extraArgs, String extraIdentities) throws IOException, InterruptedException {
    String binary = System.getenv("KRINGD");
    if (binary == null || binary.isEmpty()) {
      throw new IllegalStateException(
          "$KRINGD is not set: these tests need a kringd binary (ctest sets KRINGD; or "
              + "KRINGD=build/services/kringd mvn test after scripts/build.sh kringd)");
    }
    if (!Files.isExecutable(Path.of(binary))) {
      throw new IllegalStateException("$KRINGD=" + binary + " is not an executable file");
    }
    Path dir = Files.createTempDirectory("kring-java-client-");
    Map<String, String> tokens = new LinkedHashMap<>();
    StringBuilder identities = new StringBuilder();
    for (String name : List.of(PARTNER_A, PARTNER_B)) {
      String token = newToken();
      tokens.put(name, token);
      identities.append("partner ").append(name).append(" sha256:").append(sha256Hex(token)).append('\n');
    }
    identities.append(extraIdentities);
    Path identitiesFile = dir.resolve("identities");
    Files.writeString(identitiesFile, identities);
    Path ready = dir.resolve("ready.json");
    Path log = dir.resolve("kringd.log");
    List<String> command =
        new java.util.ArrayList<>(
            List.of(
                binary,
                "--data-dir", dir.resolve("data").toString(),
                "--listen", "127.0.0.1:0",
                "--ready-file", ready.toString(),
                "--identities", identitiesFile.toString(),
                // Default log level (info): with ctest, the lines also go to
                // $KRING_LOG_FILE, which server_log_scan checks for personal data.
                "--embedded-kafka-in-production"));
    command.addAll(extraArgs);
    Process p =
        new ProcessBuilder(command)
            .redirectErrorStream(true)
            .redirectOutput(log.toFile())
            .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")))
            .start();
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
    Pattern grpc = Pattern.compile("\"grpc\"\\s*:\\s*\"([^\"]+)\"");
    while (true) {
      if (!p.isAlive()) {
        throw new IllegalStateException("kringd exited with " + p.exitValue() + " before it was ready:\n" + tail(log));
      }
      if (Files.exists(ready)) {
        Matcher m = grpc.matcher(Files.readString(ready));
        if (m.find()) return new Kringd(dir, m.group(1), tokens, p, log);
      }
      if (System.nanoTime() > deadline) {
        p.destroyForcibly();
        throw new IllegalStateException("kringd wrote no ready file within 60 s:\n" + tail(log));
      }
      Thread.sleep(50);
    }
  }

  /** The purpose the tests' clients send with readCaseHead (kring-purpose). */
  static final String PURPOSE = "java client tests";

  /** A client of this server as the given partner, with the default settings. */
  KringClient client(String partner) {
    return builder(partner).build();
  }

  /** A builder for a client of this server as the given partner, with the tests' purpose. */
  KringClient.Builder builder(String partner) {
    return KringClient.builder(address).token(tokens.get(partner)).purpose(PURPOSE);
  }

  String logTail() {
    return tail(log);
  }

  /** Stops kringd with SIGTERM; fails when it does not exit cleanly. */
  @Override
  public void close() throws InterruptedException {
    process.destroy();
    if (!process.waitFor(30, TimeUnit.SECONDS)) {
      process.destroyForcibly();
      process.waitFor();
      throw new IllegalStateException("kringd did not stop within 30 s of SIGTERM:\n" + tail(log));
    }
    if (process.exitValue() != 0) {
      throw new IllegalStateException("kringd exited with " + process.exitValue() + " on SIGTERM:\n" + tail(log));
    }
    // Only after a clean stop: a failed run leaves its data folder and log to look at.
    try (var paths = Files.walk(dir)) {
      paths.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    } catch (IOException e) {
      // A leftover temp folder is harmless.
    }
  }

  private static String newToken() {
    byte[] b = new byte[32];
    new SecureRandom().nextBytes(b);
    return "krt_" + Base64.getUrlEncoder().withoutPadding().encodeToString(b);
  }

  private static String sha256Hex(String s) {
    try {
      return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(s.getBytes(StandardCharsets.UTF_8)));
    } catch (NoSuchAlgorithmException e) {
      throw new AssertionError(e);
    }
  }

  private static String tail(Path log) {
    try {
      List<String> lines = Files.readAllLines(log);
      return String.join("\n", lines.subList(Math.max(0, lines.size() - 40), lines.size()));
    } catch (IOException e) {
      return "(no log)";
    }
  }
}
