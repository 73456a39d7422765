// IngestService: partner systems append batches of case events.
//   Append        one batch, answered once it is durable (or refused);
//   AppendStream  many batches on one stream, one AppendAck each (carrying the
//                 request_id), at most kMaxInFlightPerStream batches waiting
//                 at a time — past that the server stops reading, so gRPC flow
//                 control pushes back on the client.
//   ReadCaseHead  the head (version, last event id and position, closed) of
//                 a case the caller may append to, refused exactly as an
//                 append to it would be; recorded in the access log
//                 (read_case_head.cc).
// All are callback handlers: no thread waits while a batch is written.
//
// The handlers take the raw request bytes and decode them here (protobuf
// first; wire_walk.h only when that fails), so a request that does not decode
// gets INVALID_ARGUMENT naming what could not be decoded — on a stream as the
// acknowledgement of that request (its request_id when it can be read), with
// the stream's other batches still read and answered.
//
// Back-pressure (admission.h): every batch read is admitted against the
// append-queue budgets before it goes to the store; a unary Append that does
// not fit gets RESOURCE_EXHAUSTED, a stream keeps the batch and stops reading
// until the store's answers free enough budget.
//
// Shutdown: BeginShutdown() makes every open stream stop reading; each one
// acknowledges the batches it has already read, then ends with UNAVAILABLE.
#pragma once

#include <grpcpp/support/byte_buffer.h>

#include <atomic>
#include <mutex>
#include <set>

#include "eventstore/event_store.h"
#include "kring/v1/ingest.grpc.pb.h"
#include "security/access_log.h"
#include "security/auth.h"
#include "services/admission.h"
#include "services/append_request.h"

namespace kring::services {

using RawIngestService =
    v1::IngestService::WithRawCallbackMethod_Append<v1::IngestService::WithRawCallbackMethod_AppendStream<
        v1::IngestService::WithCallbackMethod_ReadCaseHead<v1::IngestService::Service>>>;

class IngestService final : public RawIngestService {
 public:
  static constexpr int kMaxInFlightPerStream = 64;
  // When the last open AppendStream ends and at least this many have ended
  // since the last time, the freed heap memory is given back to the system
  // (glibc's malloc_trim; docs/operations.md "Limits and back-pressure").
  static constexpr size_t kStreamEndsPerMemoryReturn = 64;

  // Every call needs the partner role; the caller's identity is the source
  // of what it appends. ReadCaseHead records each answered call in
  // `access_log`. `store`, `auth` and `access_log` must outlive the service.
  IngestService(eventstore::EventStore* store, const security::Authenticator* auth, security::AccessLog* access_log,
                AdmissionOptions admission = {})
      : store_(store), auth_(auth), access_log_(access_log), admission_(admission) {}

  // Drains open AppendStreams (see above). Call before grpc::Server::Shutdown.
  void BeginShutdown();

  grpc::ServerUnaryReactor* Append(grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
                                   grpc::ByteBuffer* response) override;
  grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>* AppendStream(
      grpc::CallbackServerContext* context) override;
  // Partner role (an identity with every role may read any case's head) and
  // the metadata kring-purpose. The case's state decides as for an append
  // (eventstore::CheckPartnerMayAppend): a case the caller may not append to
  // gets the append's PERMISSION_DENIED; a case without events is answered
  // with exists=false. An answer is recorded in the access log (rpc
  // "IngestService.ReadCaseHead") before it is sent; one that cannot be
  // recorded is refused with UNAVAILABLE.
  grpc::ServerUnaryReactor* ReadCaseHead(grpc::CallbackServerContext* context, const v1::ReadCaseHeadRequest* request,
                                         v1::CaseHead* response) override;

  // The append-queue bound, e.g. for tests to read its counters.
  AdmissionController& admission() { return admission_; }
  // AppendStreams open now (until gRPC is done with them), and the most that
  // were running at once: counted from the start of a call until the server
  // finishes it, which precedes the end of its HTTP/2 stream, so the count
  // never runs ahead of the transport's concurrent-stream limit.
  size_t open_streams() const;
  size_t peak_open_streams() const { return peak_running_.load(); }
  // How often freed heap memory was given back to the system after streams
  // ended (see kStreamEndsPerMemoryReturn).
  size_t memory_returns() const;

 private:
  friend class AppendStreamReactor;
  eventstore::EventStore* const store_;
  const security::Authenticator* const auth_;
  security::AccessLog* const access_log_;
  AdmissionController admission_;
  mutable std::mutex streams_mu_;
  bool shutting_down_ = false;
  std::set<class AppendStreamReactor*> streams_;
  std::atomic<size_t> running_{0};       // started and not yet finished by the server
  std::atomic<size_t> peak_running_{0};  // the most running_ has been
  size_t streams_ended_since_return_ = 0;
  size_t memory_returns_ = 0;
};

}  // namespace kring::services
