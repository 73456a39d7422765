package nl.kring.client;

import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.ClientCall;
import io.grpc.ClientInterceptor;
import io.grpc.ForwardingClientCall;
import io.grpc.ForwardingClientCallListener;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.Status;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import nl.kring.v1.IngestServiceGrpc;

/** Client interceptors that break unary Append calls the way a network does. */
final class Faults {
  private Faults() {}

  /**
   * Lets the first Append reach the server and be stored, then loses its answer: the caller sees
   * UNAVAILABLE. The lost answer is kept in {@link #lost}.
   */
  static final class LoseFirstAnswer implements ClientInterceptor {
    final AtomicInteger appendCalls = new AtomicInteger();
    final List<Object> lost = new ArrayList<>();

    @Override
    public <Q, R> ClientCall<Q, R> interceptCall(MethodDescriptor<Q, R> method, CallOptions options, Channel next) {
      ClientCall<Q, R> call = next.newCall(method, options);
      if (!method.equals(IngestServiceGrpc.getAppendMethod()) || appendCalls.incrementAndGet() != 1) return call;
      return new ForwardingClientCall.SimpleForwardingClientCall<>(call) {
        @Override
        public void start(Listener<R> listener, Metadata headers) {
          super.start(
              new ForwardingClientCallListener.SimpleForwardingClientCallListener<>(listener) {
                @Override
                public void onMessage(R message) {
                  synchronized (lost) {
                    lost.add(message);
                  }
                }

                @Override
                public void onClose(Status status, Metadata trailers) {
                  super.onClose(
                      status.isOk() ? Status.UNAVAILABLE.withDescription("answer lost (test)") : status,
                      new Metadata());
                }
              },
              headers);
        }
      };
    }
  }

  /**
   * Fails the next Append calls with the given codes before they reach the server, one code per
   * call, then lets calls through.
   */
  static final class FailAppends implements ClientInterceptor {
    final AtomicInteger appendCalls = new AtomicInteger();
    private final Deque<Status> failures = new ArrayDeque<>();

    FailAppends(Status... statuses) {
      failures.addAll(List.of(statuses));
    }

    @Override
    public <Q, R> ClientCall<Q, R> interceptCall(MethodDescriptor<Q, R> method, CallOptions options, Channel next) {
      if (!method.equals(IngestServiceGrpc.getAppendMethod())) return next.newCall(method, options);
      appendCalls.incrementAndGet();
      Status failure;
      synchronized (failures) {
        failure = failures.poll();
      }
      if (failure == null) return next.newCall(method, options);
      return new ClientCall<>() {
        private Listener<R> listener;

        @Override
        public void start(Listener<R> l, Metadata headers) {
          listener = l;
        }

        @Override
        public void request(int numMessages) {}

        @Override
        public void cancel(String message, Throwable cause) {}

        @Override
        public void halfClose() {
          listener.onClose(failure, new Metadata());
        }

        @Override
        public void sendMessage(Q message) {}
      };
    }
  }

  /**
   * Swallows every acknowledgement of AppendStream calls (counted in {@link #dropped}), so the
   * batches stay unacknowledged until the stream ends.
   */
  static final class DropStreamAcks implements ClientInterceptor {
    final AtomicInteger dropped = new AtomicInteger();

    @Override
    public <Q, R> ClientCall<Q, R> interceptCall(MethodDescriptor<Q, R> method, CallOptions options, Channel next) {
      ClientCall<Q, R> call = next.newCall(method, options);
      if (!method.equals(IngestServiceGrpc.getAppendStreamMethod())) return call;
      return new ForwardingClientCall.SimpleForwardingClientCall<>(call) {
        @Override
        public void start(Listener<R> listener, Metadata headers) {
          super.start(
              new ForwardingClientCallListener.SimpleForwardingClientCallListener<>(listener) {
                @Override
                public void onMessage(R message) {
                  dropped.incrementAndGet();
                  request(1);  // keep reading, as the stream's own listener would
                }
              },
              headers);
        }
      };
    }
  }
}
