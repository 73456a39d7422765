// ReplicationService (proto/kring/v1/replication.proto): the ingest node's
// log for read replicas, which have no event store of their own (services/
// roles.h). GetHead, ReadLog (a range of positions) and ReadCaseEvents (one
// case from a version), each a bounded unary call. Every call needs the
// replica role (development mode: any local caller). Events are sent as
// stored and upcast: sealed personal parts stay sealed. Not recorded in the
// access log: a replica reads the whole log, and the read models it feeds
// hold only aggregates (docs/security.md).
#pragma once

#include "eventstore/event_store.h"
#include "kring/v1/replication.grpc.pb.h"
#include "security/auth.h"

namespace kring::services {

class ReplicationService final : public v1::ReplicationService::CallbackService {
 public:
  // Events per call: the default, and the most a client may ask for.
  static constexpr uint32_t kDefaultMaxEvents = 1000;
  static constexpr uint32_t kMaxEvents = 10000;
  // A ReadLog answer stops growing past this many bytes (at least one event).
  static constexpr size_t kMaxResponseBytes = 4 << 20;

  // Both must outlive the service.
  ReplicationService(const eventstore::EventStore* store, const security::Authenticator* auth);

  grpc::ServerUnaryReactor* GetHead(grpc::CallbackServerContext* context, const v1::GetHeadRequest* request,
                                    v1::GetHeadResponse* response) override;
  grpc::ServerUnaryReactor* ReadLog(grpc::CallbackServerContext* context, const v1::ReadLogRequest* request,
                                    v1::ReadLogResponse* response) override;
  grpc::ServerUnaryReactor* ReadCaseEvents(grpc::CallbackServerContext* context,
                                           const v1::ReadCaseEventsRequest* request,
                                           v1::ReadCaseEventsResponse* response) override;

 private:
  const eventstore::EventStore* const store_;
  const security::Authenticator* const auth_;
};

}  // namespace kring::services
