package nl.kring.client;

import nl.kring.v1.ExpectedVersion;

/** The expected version of an append (optimistic concurrency), as docs/api.md describes it. */
public final class Expected {
  private Expected() {}

  /** No check: the batch is appended whatever the case's version. */
  public static ExpectedVersion any() {
    return ExpectedVersion.newBuilder().setAny(true).build();
  }

  /** The case must not have any events yet. */
  public static ExpectedVersion noStream() {
    return ExpectedVersion.newBuilder().setNoStream(true).build();
  }

  /** The case must be at exactly this version (0: it must not exist yet). */
  public static ExpectedVersion exact(long version) {
    if (version < 0) throw new IllegalArgumentException("version: must not be negative");
    return ExpectedVersion.newBuilder().setExact(version).build();
  }
}
