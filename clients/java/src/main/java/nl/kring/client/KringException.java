package nl.kring.client;

import com.google.protobuf.Any;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.rpc.BadRequest;
import com.google.rpc.ErrorInfo;
import com.google.rpc.PreconditionFailure;
import io.grpc.Status;
import io.grpc.protobuf.StatusProto;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalLong;
import nl.kring.v1.AppendAck;

/**
 * A call or a batch that Kring refused or that failed, with what the server said about it.
 *
 * <p>Built from the gRPC status of a unary call (its {@code grpc-status-details-bin} trailer) or
 * from the {@link AppendAck} of a batch on a stream ({@code code}, {@code message}, {@code
 * details}): both carry the same google.rpc error details.
 *
 * <ul>
 *   <li>{@link #fieldViolations()}: every offending field of an {@code INVALID_ARGUMENT} or {@code
 *       RESOURCE_EXHAUSTED} (google.rpc.BadRequest).
 *   <li>{@link #preconditionViolations()}: the broken case rules of a {@code FAILED_PRECONDITION}
 *       (google.rpc.PreconditionFailure; {@code type} is the rule, e.g. {@code
 *       CONFERENCE_NEEDS_COORDINATOR}).
 *   <li>{@link #currentVersion()} and {@link #expectedVersion()}: for {@code ABORTED} (wrong
 *       expected version), from the google.rpc.ErrorInfo with reason {@code
 *       WRONG_EXPECTED_VERSION}.
 * </ul>
 */
public final class KringException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  /** The ErrorInfo reason of an ABORTED append (wrong expected version). */
  public static final String WRONG_EXPECTED_VERSION = "WRONG_EXPECTED_VERSION";

  /** The ErrorInfo domain of Kring's errors. */
  public static final String DOMAIN = "kring.v1";

  /** One offending field of a refused request (google.rpc.BadRequest.FieldViolation). */
  public record FieldViolation(String field, String description) {}

  /**
   * One broken rule (google.rpc.PreconditionFailure.Violation): {@code type} is the rule's name,
   * {@code subject} the field path, {@code description} why.
   */
  public record PreconditionViolation(String type, String subject, String description) {}

  private final Status.Code code;
  private final String serverMessage;
  private final long requestId;
  private final int attempts;
  private final List<FieldViolation> fieldViolations;
  private final List<PreconditionViolation> preconditionViolations;
  private final ErrorInfo errorInfo;

  private KringException(
      Status.Code code,
      String serverMessage,
      List<Any> details,
      long requestId,
      int attempts,
      Throwable cause) {
    super(code + ": " + serverMessage, cause);
    this.code = code;
    this.serverMessage = serverMessage;
    this.requestId = requestId;
    this.attempts = attempts;
    List<FieldViolation> fields = new ArrayList<>();
    List<PreconditionViolation> preconditions = new ArrayList<>();
    ErrorInfo info = null;
    for (Any any : details) {
      try {
        if (any.is(BadRequest.class)) {
          for (BadRequest.FieldViolation v : any.unpack(BadRequest.class).getFieldViolationsList()) {
            fields.add(new FieldViolation(v.getField(), v.getDescription()));
          }
        } else if (any.is(PreconditionFailure.class)) {
          for (PreconditionFailure.Violation v :
              any.unpack(PreconditionFailure.class).getViolationsList()) {
            preconditions.add(
                new PreconditionViolation(v.getType(), v.getSubject(), v.getDescription()));
          }
        } else if (any.is(ErrorInfo.class) && info == null) {
          info = any.unpack(ErrorInfo.class);
        }
      } catch (InvalidProtocolBufferException e) {
        // A detail that does not decode is left out; the code and message still stand.
        addSuppressed(e);
      }
    }
    this.fieldViolations = Collections.unmodifiableList(fields);
    this.preconditionViolations = Collections.unmodifiableList(preconditions);
    this.errorInfo = info;
  }

  /** From a failed unary call: its status, message and error details. */
  public static KringException fromThrowable(Throwable t, int attempts) {
    Status status = Status.fromThrowable(t);
    com.google.rpc.Status proto = StatusProto.fromThrowable(t);
    List<Any> details = proto == null ? List.of() : proto.getDetailsList();
    String message = status.getDescription() == null ? "" : status.getDescription();
    return new KringException(status.getCode(), message, details, 0, attempts, t);
  }

  /** From the acknowledgement of a refused batch on AppendStream ({@code code} != 0). */
  public static KringException fromAck(AppendAck ack) {
    return new KringException(
        Status.fromCodeValue(ack.getCode()).getCode(),
        ack.getMessage(),
        ack.getDetailsList(),
        ack.getRequestId(),
        1,
        null);
  }

  /** A stream that broke: every batch still waiting for its acknowledgement fails with this. */
  static KringException streamBroken(Throwable t, long requestId) {
    Status status = Status.fromThrowable(t);
    String message =
        (status.getDescription() == null ? "the stream ended" : status.getDescription())
            + " (no acknowledgement for this batch: it may or may not be stored; send it again)";
    return new KringException(status.getCode(), message, List.of(), requestId, 1, t);
  }

  /** The gRPC status code. */
  public Status.Code code() {
    return code;
  }

  /** The server's message (for a refused batch: the first violation as "field path: rule"). */
  public String serverMessage() {
    return serverMessage;
  }

  /** The batch's request_id on AppendStream; 0 for a unary call. */
  public long requestId() {
    return requestId;
  }

  /** How many times the request was sent before this answer (1 without retries). */
  public int attempts() {
    return attempts;
  }

  /** Every offending field (google.rpc.BadRequest), in the server's order; empty if none. */
  public List<FieldViolation> fieldViolations() {
    return fieldViolations;
  }

  /** Every broken rule (google.rpc.PreconditionFailure), in the server's order; empty if none. */
  public List<PreconditionViolation> preconditionViolations() {
    return preconditionViolations;
  }

  /** The google.rpc.ErrorInfo reason ("WRONG_EXPECTED_VERSION"), when the server sent one. */
  public Optional<String> reason() {
    return errorInfo == null ? Optional.empty() : Optional.of(errorInfo.getReason());
  }

  /** The google.rpc.ErrorInfo metadata; empty when there is none. */
  public Map<String, String> metadata() {
    return errorInfo == null ? Map.of() : errorInfo.getMetadataMap();
  }

  /**
   * For ABORTED (wrong expected version): the case's version when the batch was refused, from
   * ErrorInfo metadata {@code current_version}; the next append expects exactly this version.
   */
  public OptionalLong currentVersion() {
    String v = metadata().get("current_version");
    if (v == null) return OptionalLong.empty();
    try {
      return OptionalLong.of(Long.parseUnsignedLong(v));
    } catch (NumberFormatException e) {
      return OptionalLong.empty();
    }
  }

  /**
   * For ABORTED: the expectation the batch was sent with, from ErrorInfo metadata {@code
   * expected_version}: a decimal version, or {@code "no_stream"}.
   */
  public Optional<String> expectedVersion() {
    return Optional.ofNullable(metadata().get("expected_version"));
  }

  /** True when the batch was refused for a wrong expected version (ABORTED with ErrorInfo). */
  public boolean isWrongExpectedVersion() {
    return code == Status.Code.ABORTED && reason().filter(WRONG_EXPECTED_VERSION::equals).isPresent();
  }
}
