// AuditService: the recorded history for auditors (docs/audit.md).
//   ReadCase     one case in version order, optionally as known at a recorded
//                time (transaction time), retractions marked;
//   ReadAll      the log from a position, streamed in batches. The next batch
//                is read only once the previous one was sent (OnWriteDone), so
//                a slow reader holds at most one batch in the server's memory.
//                With follow, a stream that has caught up is parked: one
//                waiter thread per service waits for the head to move
//                (EventStore::WaitForHead) and resumes the parked streams, so
//                no gRPC thread blocks;
//   VerifyChain  the hash chain over a range of positions or one case;
//   ReadAccessLog the access log (security/access_log.h).
// Callback handlers throughout. Every call needs the auditor role and the
// metadata kring-purpose, and is recorded in the access log (who, which
// case, what, why) before anything is read; a read that cannot be recorded
// is refused. ReadCase opens the sealed personal parts of the case (or marks
// them erased); ReadAll streams them sealed.
//
// Shutdown: BeginShutdown() (before grpc::Server::Shutdown) ends every
// ReadAll stream at its next batch boundary: a parked follow stream at once
// with OK, a stream with a write in flight when that write completes (OK for
// follow streams, UNAVAILABLE naming the position to read on from for the
// others). A write that never completes (a client that stopped reading) is
// cancelled by grpc::Server::Shutdown's deadline.
#pragma once

#include <condition_variable>
#include <mutex>
#include <set>
#include <thread>

#include "eventstore/event_store.h"
#include "kring/v1/audit.grpc.pb.h"
#include "security/access_log.h"
#include "security/auth.h"
#include "security/key_store.h"

namespace kring::services {

class ReadAllReactor;

class AuditService final : public v1::AuditService::CallbackService {
 public:
  // Events per ReadAll message: the default, and the most a client may ask for.
  static constexpr uint32_t kDefaultBatchSize = 1000;
  static constexpr uint32_t kMaxBatchSize = 10000;
  // A ReadAll message stops growing past this many bytes of events (it always
  // holds at least one event), well under the clients' 4 MiB receive limit
  // for events of ordinary size.
  static constexpr size_t kMaxBatchBytes = 2 << 20;

  // All must outlive the service; `keys` is null when the server has no
  // master key.
  AuditService(const eventstore::EventStore* store, const security::Authenticator* auth,
               security::AccessLog* access_log, const security::KeyStore* keys);
  ~AuditService() override;

  // Ends the open ReadAll streams (see above). Call before
  // grpc::Server::Shutdown. Idempotent.
  void BeginShutdown();

  grpc::ServerUnaryReactor* ReadCase(grpc::CallbackServerContext* context, const v1::ReadCaseRequest* request,
                                     v1::ReadCaseResponse* response) override;
  grpc::ServerWriteReactor<v1::ReadAllResponse>* ReadAll(grpc::CallbackServerContext* context,
                                                         const v1::ReadAllRequest* request) override;
  grpc::ServerUnaryReactor* VerifyChain(grpc::CallbackServerContext* context, const v1::VerifyChainRequest* request,
                                        v1::VerifyChainResponse* response) override;
  grpc::ServerUnaryReactor* ReadAccessLog(grpc::CallbackServerContext* context, const v1::ReadAccessLogRequest* request,
                                          v1::ReadAccessLogResponse* response) override;

 private:
  friend class ReadAllReactor;
  void WaiterLoop();
  // The auditor calling, once its purpose is known, `request_ok` is OK and
  // the read is recorded in the access log (in this order; the first
  // failure is returned).
  absl::StatusOr<security::Identity> Admit(const grpc::ServerContextBase& context, const char* rpc,
                                           const absl::Status& request_ok, const std::string& case_id,
                                           const std::string& scope);

  const eventstore::EventStore* const store_;
  const security::Authenticator* const auth_;
  security::AccessLog* const access_log_;
  const security::KeyStore* const keys_;
  // Guards parked_, shutting_down_, stop_waiter_, and every stream's parked and
  // cancelled state.
  std::mutex mu_;
  std::condition_variable parked_cv_;
  bool shutting_down_ = false;
  bool stop_waiter_ = false;
  std::set<ReadAllReactor*> parked_;  // follow streams waiting for the head to move
  std::thread waiter_;
};

}  // namespace kring::services
