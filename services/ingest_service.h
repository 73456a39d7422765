// IngestService: partner systems append batches of case events.
//   Append        one batch, answered once it is durable (or refused);
//   AppendStream  many batches on one stream, one AppendAck each (carrying the
//                 request_id), at most kMaxInFlightPerStream batches waiting
//                 at a time — past that the server stops reading, so gRPC flow
//                 control pushes back on the client.
// Both are callback handlers: no thread waits while a batch is written.
//
// Shutdown: BeginShutdown() makes every open stream stop reading; each one
// acknowledges the batches it has already read, then ends with UNAVAILABLE.
#pragma once

#include <mutex>
#include <set>

#include "eventstore/event_store.h"
#include "kring/v1/ingest.grpc.pb.h"
#include "security/auth.h"
#include "services/append_request.h"

namespace kring::services {

class IngestService final : public v1::IngestService::CallbackService {
 public:
  static constexpr int kMaxInFlightPerStream = 64;

  // Every call needs the partner role; the caller's identity is the source
  // of what it appends. `store` and `auth` must outlive the service.
  IngestService(eventstore::EventStore* store, const security::Authenticator* auth) : store_(store), auth_(auth) {}

  // Drains open AppendStreams (see above). Call before grpc::Server::Shutdown.
  void BeginShutdown();

  grpc::ServerUnaryReactor* Append(grpc::CallbackServerContext* context, const v1::AppendRequest* request,
                                   v1::AppendResult* result) override;
  grpc::ServerBidiReactor<v1::AppendRequest, v1::AppendAck>* AppendStream(
      grpc::CallbackServerContext* context) override;

 private:
  friend class AppendStreamReactor;
  eventstore::EventStore* const store_;
  const security::Authenticator* const auth_;
  std::mutex streams_mu_;
  bool shutting_down_ = false;
  std::set<class AppendStreamReactor*> streams_;
};

}  // namespace kring::services
