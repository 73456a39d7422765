package nl.kring.client;

import io.grpc.Channel;
import io.grpc.ChannelCredentials;
import io.grpc.ClientInterceptor;
import io.grpc.ClientInterceptors;
import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import io.grpc.Metadata;
import io.grpc.StatusRuntimeException;
import io.grpc.TlsChannelCredentials;
import io.grpc.stub.MetadataUtils;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.TimeUnit;
import nl.kring.v1.AppendRequest;
import nl.kring.v1.AppendResult;
import nl.kring.v1.CaseHead;
import nl.kring.v1.Event;
import nl.kring.v1.ExpectedVersion;
import nl.kring.v1.IngestServiceGrpc;
import nl.kring.v1.ReadCaseHeadRequest;

/**
 * A partner system's connection to Kring's IngestService.
 *
 * <pre>{@code
 * try (KringClient kring = KringClient.builder("127.0.0.1:50051").token(token).build()) {
 *   AppendResult r = kring.append("SYNTHETIC-0001", Expected.noStream(), events);
 * }
 * }</pre>
 *
 * <p>Thread-safe: one client (one channel) serves the whole application. See README.md.
 */
public final class KringClient implements AutoCloseable {
  /** The metadata key of the bearer token. */
  static final Metadata.Key<String> AUTHORIZATION =
      Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER);

  /** The metadata key of the purpose of a case-level read (recorded in the access log). */
  static final Metadata.Key<String> PURPOSE =
      Metadata.Key.of("kring-purpose", Metadata.ASCII_STRING_MARSHALLER);

  /** Waits between attempts; replaced in tests to record the waits instead of sleeping. */
  interface Sleeper {
    void sleep(Duration d) throws InterruptedException;
  }

  private final ManagedChannel channel;
  private final Channel intercepted;
  private final Duration timeout;
  private final RetryPolicy retryPolicy;
  private final String purpose;
  private final int maxUnacknowledged;
  private final Sleeper sleeper;

  private KringClient(Builder b, ManagedChannel channel) {
    this.channel = channel;
    List<ClientInterceptor> interceptors = new ArrayList<>(b.interceptors);
    if (b.token != null && !b.token.isEmpty()) {
      Metadata m = new Metadata();
      m.put(AUTHORIZATION, "Bearer " + b.token);
      // The last interceptor given runs first; the token is added before the caller's ones run.
      interceptors.add(MetadataUtils.newAttachHeadersInterceptor(m));
    }
    this.intercepted = ClientInterceptors.intercept(channel, interceptors);
    this.timeout = b.timeout;
    this.retryPolicy = b.retryPolicy;
    this.purpose = b.purpose;
    this.maxUnacknowledged = b.maxUnacknowledged;
    this.sleeper = b.sleeper;
  }

  /** A builder for a client of the kringd at {@code target} ("host:port"). */
  public static Builder builder(String target) {
    return new Builder(target);
  }

  /**
   * Appends one batch to one case and returns when it is on disk, sending it again (the same
   * request, so the same event ids) after a failure the {@link RetryPolicy} allows.
   *
   * @param caseId the case stream
   * @param expected the expected version ({@link Expected}); null means "any"
   * @param events the batch, stored all or nothing, in this order; each with its event_id
   * @return the positions of the batch; {@code already_recorded} when every event had been stored
   *     before (a retry), with the original positions
   * @throws KringException when the batch is refused, or the last allowed attempt failed
   */
  public AppendResult append(String caseId, ExpectedVersion expected, List<Event> events) {
    AppendRequest.Builder r =
        AppendRequest.newBuilder().setCaseId(Objects.requireNonNull(caseId, "caseId")).addAllEvents(events);
    if (expected != null) r.setExpectedVersion(expected);
    return append(r.build());
  }

  /** {@link #append(String, ExpectedVersion, List)} with a request built by the caller. */
  public AppendResult append(AppendRequest request) {
    IngestServiceGrpc.IngestServiceBlockingStub stub = IngestServiceGrpc.newBlockingStub(intercepted);
    for (int attempt = 1; ; attempt++) {
      try {
        return stub.withDeadlineAfter(timeout.toNanos(), TimeUnit.NANOSECONDS).append(request);
      } catch (StatusRuntimeException e) {
        KringException k = KringException.fromThrowable(e, attempt);
        if (attempt >= retryPolicy.maxAttempts() || !RetryPolicy.isRetryable(k)) throw k;
        pause(retryPolicy.backoff(attempt), k);
      }
    }
  }

  /**
   * The head of a case this partner may append to: its version (the exact expected version of
   * the next append), last event id and position, and whether it is closed. A case without events
   * is {@code exists = false}, version 0. A case the partner may not append to is refused as an
   * append to it would be. The read is recorded in Kring's access log with the builder's {@link
   * Builder#purpose purpose}.
   */
  public CaseHead readCaseHead(String caseId) {
    return readCaseHead(caseId, purpose);
  }

  /** {@link #readCaseHead(String)} with this purpose (kring-purpose metadata) for this call. */
  public CaseHead readCaseHead(String caseId, String purpose) {
    IngestServiceGrpc.IngestServiceBlockingStub stub = IngestServiceGrpc.newBlockingStub(intercepted);
    if (purpose != null && !purpose.isEmpty()) {
      Metadata m = new Metadata();
      m.put(PURPOSE, purpose);
      stub = stub.withInterceptors(MetadataUtils.newAttachHeadersInterceptor(m));
    }
    ReadCaseHeadRequest request =
        ReadCaseHeadRequest.newBuilder().setCaseId(Objects.requireNonNull(caseId, "caseId")).build();
    try {
      return stub.withDeadlineAfter(timeout.toNanos(), TimeUnit.NANOSECONDS).readCaseHead(request);
    } catch (StatusRuntimeException e) {
      throw KringException.fromThrowable(e, 1);
    }
  }

  /** Opens an AppendStream; see {@link AppendStream}. */
  public AppendStream appendStream() {
    return appendStream(null);
  }

  /**
   * Opens an AppendStream whose acknowledgements are also given to {@code listener}, on a gRPC
   * thread, as they arrive.
   */
  public AppendStream appendStream(AppendStream.AckListener listener) {
    return new AppendStream(IngestServiceGrpc.newStub(intercepted), maxUnacknowledged, listener);
  }

  /** Closes the channel; calls still running are cancelled after 5 seconds. */
  @Override
  public void close() {
    channel.shutdown();
    try {
      if (!channel.awaitTermination(5, TimeUnit.SECONDS)) channel.shutdownNow();
    } catch (InterruptedException e) {
      channel.shutdownNow();
      Thread.currentThread().interrupt();
    }
  }

  private void pause(Duration d, KringException last) {
    try {
      sleeper.sleep(d);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw last;
    }
  }

  /** Settings of a {@link KringClient}. */
  public static final class Builder {
    private final String target;
    private String token;
    private String purpose;
    private Path rootCertificates;
    private Path certificateChain;
    private Path privateKey;
    private String authority;
    private Duration timeout = Duration.ofSeconds(30);
    private RetryPolicy retryPolicy = RetryPolicy.defaults();
    private int maxUnacknowledged = 32;
    private final List<ClientInterceptor> interceptors = new ArrayList<>();
    private Sleeper sleeper = d -> Thread.sleep(d.toMillis(), d.toNanosPart() % 1_000_000);

    private Builder(String target) {
      if (target == null || target.isEmpty()) throw new IllegalArgumentException("target: required (host:port)");
      this.target = target;
    }

    /**
     * The bearer token ({@code kringctl token new --role partner --name NAME}), sent as {@code
     * authorization: Bearer <token>} metadata on every call, also over a plaintext loopback
     * connection. Default: none (mTLS identifies the caller, or development mode).
     */
    public Builder token(String token) {
      if (token != null && !token.chars().allMatch(c -> c > 0x20 && c < 0x7f)) {
        throw new IllegalArgumentException("token: must be printable ASCII without spaces");
      }
      this.token = token;
      return this;
    }

    /**
     * The purpose sent as {@code kring-purpose} metadata with {@link #readCaseHead}, recorded in
     * the access log. Default: none.
     */
    public Builder purpose(String purpose) {
      if (purpose != null && !purpose.chars().allMatch(c -> c >= 0x20 && c < 0x7f)) {
        throw new IllegalArgumentException("purpose: must be printable ASCII");
      }
      this.purpose = purpose;
      return this;
    }

    /**
     * Turns TLS on: the server's certificate is verified against this CA (PEM file). Default:
     * plaintext, which kringd accepts only on loopback.
     */
    public Builder tls(Path rootCertificates) {
      this.rootCertificates = Objects.requireNonNull(rootCertificates, "rootCertificates");
      return this;
    }

    /**
     * A client certificate for mTLS: the certificate chain and its PKCS#8 private key, PEM files.
     * Needs {@link #tls}. Default: none.
     */
    public Builder clientCertificate(Path certificateChain, Path privateKey) {
      this.certificateChain = Objects.requireNonNull(certificateChain, "certificateChain");
      this.privateKey = Objects.requireNonNull(privateKey, "privateKey");
      return this;
    }

    /**
     * The name checked in the server's certificate instead of the host in the target (e.g. when
     * connecting by IP address). Default: the target's host.
     */
    public Builder authority(String authority) {
      this.authority = authority;
      return this;
    }

    /** The deadline of each attempt of a unary call. Default: 30 s. */
    public Builder timeout(Duration timeout) {
      if (timeout == null || timeout.isZero() || timeout.isNegative()) {
        throw new IllegalArgumentException("timeout: must be positive");
      }
      this.timeout = timeout;
      return this;
    }

    /** When {@link #append} sends a batch again. Default: {@link RetryPolicy#defaults()}. */
    public Builder retryPolicy(RetryPolicy retryPolicy) {
      this.retryPolicy = Objects.requireNonNull(retryPolicy, "retryPolicy");
      return this;
    }

    /**
     * At most this many batches unacknowledged on an {@link AppendStream}; {@code send} waits
     * beyond it. 1 to 64 (the server reads at most 64 ahead). Default: 32.
     */
    public Builder maxUnacknowledged(int n) {
      if (n < 1 || n > 64) throw new IllegalArgumentException("maxUnacknowledged: must be 1 to 64");
      this.maxUnacknowledged = n;
      return this;
    }

    /** A gRPC interceptor for every call (tracing, extra metadata). Default: none. */
    public Builder interceptor(ClientInterceptor interceptor) {
      interceptors.add(Objects.requireNonNull(interceptor, "interceptor"));
      return this;
    }

    Builder sleeper(Sleeper sleeper) {
      this.sleeper = sleeper;
      return this;
    }

    /** Opens the channel (lazily: the first call connects). */
    public KringClient build() {
      if (certificateChain != null && rootCertificates == null) {
        throw new IllegalArgumentException("clientCertificate: needs tls(rootCertificates)");
      }
      ChannelCredentials creds;
      if (rootCertificates == null) {
        creds = InsecureChannelCredentials.create();
      } else {
        try {
          TlsChannelCredentials.Builder tls =
              TlsChannelCredentials.newBuilder().trustManager(rootCertificates.toFile());
          if (certificateChain != null) tls.keyManager(certificateChain.toFile(), privateKey.toFile());
          creds = tls.build();
        } catch (IOException e) {
          throw new IllegalArgumentException("tls: cannot read a certificate or key file: " + e.getMessage(), e);
        }
      }
      ManagedChannelBuilder<?> cb = Grpc.newChannelBuilder(target, creds);
      if (authority != null) cb.overrideAuthority(authority);
      return new KringClient(this, cb.build());
    }
  }
}
