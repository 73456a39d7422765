package nl.kring.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.grpc.Status;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.List;
import java.util.concurrent.TimeUnit;
import nl.kring.client.examples.SyntheticCase;
import nl.kring.v1.AppendResult;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The builder's TLS settings against a kringd with a TLS listener and client certificates
 * (certificates from tests/testing/make_certs.sh, valid for one day).
 */
class TlsTest {
  private static final Instant START = Instant.now().minus(400, ChronoUnit.DAYS).truncatedTo(ChronoUnit.DAYS);
  private static final String CERT_PARTNER = "partner-c";

  @TempDir static Path certs;
  private static Kringd kringd;

  @BeforeAll
  static void startKringd() throws Exception {
    Path script = Path.of("../../tests/testing/make_certs.sh").toAbsolutePath().normalize();
    Process p =
        new ProcessBuilder("bash", script.toString(), certs.toString(), CERT_PARTNER)
            .redirectErrorStream(true)
            .start();
    String output = new String(p.getInputStream().readAllBytes());
    if (!p.waitFor(60, TimeUnit.SECONDS) || p.exitValue() != 0) {
      throw new IllegalStateException("make_certs.sh failed:\n" + output);
    }
    kringd =
        Kringd.start(
            List.of(
                "--tls-cert", certs.resolve("server.pem").toString(),
                "--tls-key", certs.resolve("server.key").toString(),
                "--tls-client-ca", certs.resolve("ca.pem").toString()),
            "partner " + CERT_PARTNER + " cert\n");
  }

  @AfterAll
  static void stopKringd() throws Exception {
    if (kringd != null) kringd.close();
  }

  private static AppendResult appendReferral(KringClient client) {
    return client.append(KringClientTest.newCaseId(), Expected.noStream(), List.of(SyntheticCase.referral(START)));
  }

  @Test
  void tlsWithATokenAppends() {
    try (KringClient client = kringd.builder(Kringd.PARTNER_A).tls(certs.resolve("ca.pem")).build()) {
      assertEquals(1, appendReferral(client).getLastStreamVersion());
    }
  }

  @Test
  void aClientCertificateIdentifiesThePartner() {
    try (KringClient client =
        KringClient.builder(kringd.address)
            .tls(certs.resolve("ca.pem"))
            .clientCertificate(certs.resolve(CERT_PARTNER + ".pem"), certs.resolve(CERT_PARTNER + ".key"))
            .build()) {
      assertEquals(1, appendReferral(client).getLastStreamVersion());
    }
  }

  @Test
  void aServerNotSignedByTheGivenCaIsRefused() {
    try (KringClient client =
        kringd.builder(Kringd.PARTNER_A).tls(certs.resolve("other-ca.pem")).retryPolicy(RetryPolicy.none()).build()) {
      KringException e = assertThrows(KringException.class, () -> appendReferral(client));
      assertEquals(Status.Code.UNAVAILABLE, e.code());
    }
  }

  @Test
  void plaintextToATlsListenerFails() {
    try (KringClient client = kringd.builder(Kringd.PARTNER_A).retryPolicy(RetryPolicy.none()).build()) {
      KringException e = assertThrows(KringException.class, () -> appendReferral(client));
      assertEquals(Status.Code.UNAVAILABLE, e.code());
    }
  }

  @Test
  void aClientCertificateWithoutTlsIsRefusedByTheBuilder() {
    IllegalArgumentException e =
        assertThrows(
            IllegalArgumentException.class,
            () -> KringClient.builder("127.0.0.1:1").clientCertificate(certs.resolve("a.pem"), certs.resolve("a.key")).build());
    assertEquals(true, e.getMessage().startsWith("clientCertificate:"), e.getMessage());
    assertEquals(false, Files.exists(certs.resolve("a.pem")));
  }
}
