package nl.kring.client;

import io.grpc.Status;
import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.ThreadLocalRandom;

/**
 * When and how often {@link KringClient#append} sends a batch again.
 *
 * <p>A batch is sent again, unchanged (the same event ids), after {@code UNAVAILABLE}, {@code
 * DEADLINE_EXCEEDED} or {@code RESOURCE_EXHAUSTED} without field violations (a full ingest queue,
 * a full disk). A batch that was stored although its answer was lost comes back with {@code
 * already_recorded = true} and its original positions: a retry never stores anything twice. A
 * {@code RESOURCE_EXHAUSTED} that names fields (a batch over the size limits) is not retried: the
 * batch must be split. Every other code is final.
 *
 * <p>Before attempt n+1 the client waits a random time between half and all of {@code
 * initialBackoff * multiplier^(n-1)}, at most {@code maxBackoff}.
 */
public final class RetryPolicy {
  /** Attempts in all, the first included. Default: 5. */
  private final int maxAttempts;

  /** The wait before the second attempt (before jitter). Default: 200 ms. */
  private final Duration initialBackoff;

  /** The longest wait between two attempts. Default: 5 s. */
  private final Duration maxBackoff;

  /** Each wait is this many times the previous one (before jitter). Default: 2.0. */
  private final double multiplier;

  private RetryPolicy(int maxAttempts, Duration initialBackoff, Duration maxBackoff, double multiplier) {
    if (maxAttempts < 1) throw new IllegalArgumentException("maxAttempts: must be at least 1");
    if (initialBackoff.isNegative() || maxBackoff.isNegative()) {
      throw new IllegalArgumentException("initialBackoff, maxBackoff: must not be negative");
    }
    if (multiplier < 1.0) throw new IllegalArgumentException("multiplier: must be at least 1.0");
    this.maxAttempts = maxAttempts;
    this.initialBackoff = initialBackoff;
    this.maxBackoff = maxBackoff;
    this.multiplier = multiplier;
  }

  /** 5 attempts, waits from 200 ms doubling up to 5 s. */
  public static RetryPolicy defaults() {
    return new RetryPolicy(5, Duration.ofMillis(200), Duration.ofSeconds(5), 2.0);
  }

  /** No retries: every failure is reported at once. */
  public static RetryPolicy none() {
    return new RetryPolicy(1, Duration.ZERO, Duration.ZERO, 1.0);
  }

  /** A policy with these values (see the class comment). */
  public static RetryPolicy of(int maxAttempts, Duration initialBackoff, Duration maxBackoff, double multiplier) {
    return new RetryPolicy(
        maxAttempts,
        Objects.requireNonNull(initialBackoff, "initialBackoff"),
        Objects.requireNonNull(maxBackoff, "maxBackoff"),
        multiplier);
  }

  public int maxAttempts() {
    return maxAttempts;
  }

  public Duration initialBackoff() {
    return initialBackoff;
  }

  public Duration maxBackoff() {
    return maxBackoff;
  }

  public double multiplier() {
    return multiplier;
  }

  /** Whether a failed attempt may be sent again (if attempts are left). */
  public static boolean isRetryable(KringException e) {
    Status.Code code = e.code();
    if (code == Status.Code.UNAVAILABLE || code == Status.Code.DEADLINE_EXCEEDED) return true;
    // A batch over the limits names its fields: sending it again cannot help.
    return code == Status.Code.RESOURCE_EXHAUSTED && e.fieldViolations().isEmpty();
  }

  /** The upper bound of the wait after failed attempt {@code attempt} (1-based), before jitter. */
  public Duration backoffCeiling(int attempt) {
    double nanos = initialBackoff.toNanos() * Math.pow(multiplier, Math.max(0, attempt - 1));
    return Duration.ofNanos((long) Math.min(nanos, (double) maxBackoff.toNanos()));
  }

  /** The wait after failed attempt {@code attempt}: uniform in [ceiling/2, ceiling]. */
  Duration backoff(int attempt) {
    long ceiling = backoffCeiling(attempt).toNanos();
    if (ceiling <= 0) return Duration.ZERO;
    return Duration.ofNanos(ceiling / 2 + ThreadLocalRandom.current().nextLong(ceiling / 2 + 1));
  }
}
