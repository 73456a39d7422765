// OperationsService: operators' work on a running server (proto/kring/v1/
// audit.proto).
//   GetStatus what the process is doing (KringServer::Status): head, store,
//            Kafka and relay, read models, health.
//   Rebuild  rebuilds a read model online (projections/read_model.h) on a
//            thread of its own, streaming RebuildProgress about once a second
//            and a last message with done=true once the rebuilt model has
//            taken over. Unknown read model: INVALID_ARGUMENT naming
//            `read_model`; one already rebuilding: FAILED_PRECONDITION.
//            Cancelling the call abandons the rebuild (the live model stays).
//   Backup   a RocksDB checkpoint of the event store, taken while appends go
//            on, into `destination`: an absolute path on the server's machine,
//            outside the data folder, that does not exist yet
//            (INVALID_ARGUMENT / ALREADY_EXISTS naming `destination`
//            otherwise). RocksDB stages the copy in `destination`.tmp; the
//            staging folder of a backup killed midway is removed by the next
//            backup (DATA/backups-running lists the running ones).
//
// Lifecycle: BeginShutdown() makes rebuilds stop (their calls end with
// UNAVAILABLE); Shutdown() also waits for every rebuild and backup. Call both
// before the event store and read models close.
#pragma once

#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <string>

#include "eventstore/event_store.h"
#include "kring/v1/audit.grpc.pb.h"
#include "projections/read_model.h"
#include "security/access_log.h"
#include "security/auth.h"
#include "security/key_store.h"
#include "services/background.h"
#include "services/erasure.h"

namespace kring::services {

class OperationsService final : public v1::OperationsService::CallbackService {
 public:
  // `read_models` by name; they, `store`, `auth`, `keys` (null when the
  // server has no master key) and `access_log` (null: backups hold none)
  // must outlive the service. `data_dir` is the server's data folder, where
  // no backup may go. Every call needs the operator role.
  OperationsService(eventstore::EventStore* store, std::map<std::string, projections::LiveReadModel*> read_models,
                    const security::Authenticator* auth, security::KeyStore* keys, security::AccessLog* access_log,
                    std::string data_dir)
      : store_(store),
        read_models_(std::move(read_models)),
        auth_(auth),
        keys_(keys),
        access_log_(access_log),
        data_dir_(std::move(data_dir)),
        eraser_(store, keys) {}
  ~OperationsService() override { Shutdown(); }

  // The process's status (KringServer::Status); set before serving.
  void SetStatusSource(std::function<v1::GetStatusResponse()> source) { status_source_ = std::move(source); }

  grpc::ServerUnaryReactor* GetStatus(grpc::CallbackServerContext* context, const v1::GetStatusRequest* request,
                                      v1::GetStatusResponse* response) override;
  grpc::ServerWriteReactor<v1::RebuildProgress>* Rebuild(grpc::CallbackServerContext* context,
                                                         const v1::RebuildRequest* request) override;
  grpc::ServerUnaryReactor* Backup(grpc::CallbackServerContext* context, const v1::BackupRequest* request,
                                   v1::BackupResponse* response) override;
  grpc::ServerUnaryReactor* ErasePersonalData(grpc::CallbackServerContext* context,
                                              const v1::ErasePersonalDataRequest* request,
                                              v1::ErasePersonalDataResponse* response) override;
  grpc::ServerUnaryReactor* RotateMasterKey(grpc::CallbackServerContext* context,
                                            const v1::RotateMasterKeyRequest* request,
                                            v1::RotateMasterKeyResponse* response) override;

  // Finishes the erasures that a crash or a failure interrupted
  // (services/erasure.h); the server calls it at start-up, before serving.
  absl::StatusOr<int> CompletePendingErasures() { return eraser_.CompletePending(); }

  void BeginShutdown() { background_.BeginShutdown(); }
  void Shutdown() { background_.Shutdown(); }

 private:
  // Removes `destination`.tmp when it is a staging folder that a backup
  // killed midway left behind; FAILED_PRECONDITION naming `destination` when
  // that path holds anything else (RocksDB would delete its files).
  absl::Status RemoveLeftoverStaging(const std::string& destination) const;
  // The staging folders of running backups are listed in
  // DATA/backups-running (RecordRunningBackups, after each change of
  // backups_running_). A listed folder that no backup of this process owns
  // belongs to a backup killed midway: RemoveStagingOfKilledBackups deletes it
  // if it holds only RocksDB's files. Both need backup_mu_.
  absl::Status RecordRunningBackups();
  void RemoveStagingOfKilledBackups();
  // The checkpoints of one backup, written into `staging` (a new folder)
  // in this order: events/, keys/, access-log/ (see "Backup" in
  // docs/operations.md); fills `response` but for path and bytes.
  absl::Status WriteCheckpoints(const std::string& staging, v1::BackupResponse* response) const;

  eventstore::EventStore* const store_;
  const std::map<std::string, projections::LiveReadModel*> read_models_;
  const security::Authenticator* const auth_;
  security::KeyStore* const keys_;
  security::AccessLog* const access_log_;
  const std::string data_dir_;
  std::function<v1::GetStatusResponse()> status_source_;
  Eraser eraser_;  // the erasures themselves (see ErasePersonalData in audit.proto)
  std::mutex backup_mu_;
  std::set<std::string> backups_running_;  // staging folders of backups in flight; guarded by backup_mu_
  BackgroundWork background_;
};

// RebuildProgress from a rebuild's status: the rate over the whole rebuild so
// far, and the time left at that rate (0 when done).
v1::RebuildProgress ToRebuildProgress(const projections::RebuildStatus& status);

// The size in bytes of every regular file under `path` (hard links counted in
// full).
uint64_t FolderBytes(const std::string& path);

}  // namespace kring::services
