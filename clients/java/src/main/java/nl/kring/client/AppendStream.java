package nl.kring.client;

import io.grpc.Status;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import nl.kring.v1.AppendAck;
import nl.kring.v1.AppendRequest;
import nl.kring.v1.AppendResult;
import nl.kring.v1.Event;
import nl.kring.v1.ExpectedVersion;
import nl.kring.v1.IngestServiceGrpc;

/**
 * Many batches on one {@code IngestService.AppendStream} call, one acknowledgement each.
 *
 * <p>{@link #send} gives each batch the next request_id (1, 2, 3, ...) and returns a future that
 * completes with the batch's {@link AppendResult}, or exceptionally with a {@link KringException}
 * for a refused batch (the stream goes on). At most {@code maxUnacknowledged} batches are
 * unacknowledged; {@code send} waits for an acknowledgement beyond that.
 *
 * <p>When the stream breaks (the server shuts down, the connection drops), every batch without an
 * acknowledgement fails with the stream's status ({@code UNAVAILABLE}, ...): it may or may not be
 * stored. Send those batches again, unchanged, on a new stream or with {@link KringClient#append}:
 * a stored one comes back {@code already_recorded}. A stream does not retry by itself.
 *
 * <p>Not for concurrent {@code send} from several threads without outside ordering: batches of one
 * case are stored in the order they are sent.
 */
public final class AppendStream implements AutoCloseable {
  /** Called for every acknowledgement, on a gRPC thread; must not block. */
  @FunctionalInterface
  public interface AckListener {
    /**
     * One batch's outcome: {@code result} when stored (code 0), else {@code error} (the ack's
     * code, message and details, or the broken stream's status).
     */
    void onAck(long requestId, AppendResult result, KringException error);
  }

  private final Map<Long, CompletableFuture<AppendResult>> pending = new ConcurrentHashMap<>();
  private final Semaphore window;
  private final AckListener listener;
  private final CountDownLatch done = new CountDownLatch(1);
  private final ClientCallStreamObserver<AppendRequest> requests;
  private long nextRequestId = 1;
  private volatile Throwable broken;
  private boolean halfClosed;

  AppendStream(IngestServiceGrpc.IngestServiceStub stub, int maxUnacknowledged, AckListener listener) {
    this.window = new Semaphore(maxUnacknowledged);
    this.listener = listener;
    Responses responses = new Responses();
    stub.appendStream(responses);
    this.requests = responses.requests;
  }

  /** Sends one batch (expected null: "any"); see the class comment. */
  public CompletableFuture<AppendResult> send(String caseId, ExpectedVersion expected, List<Event> events) {
    AppendRequest.Builder r =
        AppendRequest.newBuilder().setCaseId(Objects.requireNonNull(caseId, "caseId")).addAllEvents(events);
    if (expected != null) r.setExpectedVersion(expected);
    return send(r);
  }

  /** Sends one batch built by the caller; its request_id is replaced by the stream's next one. */
  public synchronized CompletableFuture<AppendResult> send(AppendRequest.Builder request) {
    if (halfClosed) throw new IllegalStateException("send: the stream is closed");
    try {
      window.acquire();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("send: interrupted while waiting for an acknowledgement", e);
    }
    long id = nextRequestId++;
    CompletableFuture<AppendResult> f = new CompletableFuture<>();
    pending.put(id, f);
    Throwable b = broken;
    if (b != null) {
      fail(id, KringException.streamBroken(b, id));
      return f;
    }
    requests.onNext(request.setRequestId(id).build());
    return f;
  }

  /** Batches sent and not yet acknowledged. */
  public int unacknowledged() {
    return pending.size();
  }

  /**
   * Half-closes the stream and waits up to {@code timeout} until every batch is acknowledged and
   * the server has ended the call. Returns false on time-out (the futures stay pending).
   */
  public boolean closeAndWait(Duration timeout) throws InterruptedException {
    halfClose();
    return done.await(timeout.toNanos(), TimeUnit.NANOSECONDS);
  }

  /** Half-closes the stream and waits up to 60 seconds for the outstanding acknowledgements. */
  @Override
  public void close() {
    try {
      if (!closeAndWait(Duration.ofSeconds(60))) {
        requests.cancel("closed before every batch was acknowledged", null);
      }
    } catch (InterruptedException e) {
      requests.cancel("interrupted", e);
      Thread.currentThread().interrupt();
    }
  }

  private synchronized void halfClose() {
    if (halfClosed) return;
    halfClosed = true;
    if (broken == null) requests.onCompleted();
  }

  private void complete(long id, AppendResult result) {
    CompletableFuture<AppendResult> f = pending.remove(id);
    if (f == null) return;
    window.release();
    if (listener != null) listener.onAck(id, result, null);
    f.complete(result);
  }

  private void fail(long id, KringException error) {
    CompletableFuture<AppendResult> f = pending.remove(id);
    if (f == null) return;
    window.release();
    if (listener != null) listener.onAck(id, null, error);
    f.completeExceptionally(error);
  }

  private final class Responses implements ClientResponseObserver<AppendRequest, AppendAck> {
    ClientCallStreamObserver<AppendRequest> requests;

    @Override
    public void beforeStart(ClientCallStreamObserver<AppendRequest> requestStream) {
      this.requests = requestStream;
    }

    @Override
    public void onNext(AppendAck ack) {
      if (ack.getCode() == Status.Code.OK.value()) {
        complete(ack.getRequestId(), ack.getResult());
      } else {
        fail(ack.getRequestId(), KringException.fromAck(ack));
      }
    }

    @Override
    public void onError(Throwable t) {
      broken = t;
      for (Long id : List.copyOf(pending.keySet())) fail(id, KringException.streamBroken(t, id));
      done.countDown();
    }

    @Override
    public void onCompleted() {
      Throwable t = Status.UNAVAILABLE.withDescription("the server ended the stream").asRuntimeException();
      broken = t;
      for (Long id : List.copyOf(pending.keySet())) fail(id, KringException.streamBroken(t, id));
      done.countDown();
    }
  }
}
