#include "services/operations_service.h"

#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/errors.h"
#include "common/log.h"
#include "common/status.h"
#include "common/time.h"
#include "common/uuid.h"
#include "security/aead.h"
#include "services/grpc_status.h"

namespace kring::services {
namespace {

namespace fs = std::filesystem;

// The stream of one Rebuild call. The rebuild's thread queues messages with
// Send() and ends with End(); gRPC's threads drive the writes. A progress
// message still waiting is replaced by a newer one; the last (done) message
// is always written. After End() the rebuild's thread touches nothing.
class RebuildReactor : public grpc::ServerWriteReactor<v1::RebuildProgress> {
 public:
  void Send(const v1::RebuildProgress& progress) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (broken_) return;
      if (!queue_.empty() && !queue_.back().done()) {
        queue_.back() = progress;
      } else {
        queue_.push_back(progress);
      }
    }
    Pump();
  }
  void End(const grpc::Status& status) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      end_ = true;
      status_ = status;
    }
    Pump();
  }
  bool cancelled() const { return cancelled_.load(); }

  void OnWriteDone(bool ok) override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      writing_ = false;
      if (!ok) {
        broken_ = true;
        queue_.clear();
      }
    }
    Pump();
  }
  void OnCancel() override { cancelled_ = true; }
  void OnDone() override { delete this; }

 private:
  // Starts the next write, or finishes once everything is written; the
  // decision is taken under the lock, the call made outside it (gRPC may run
  // OnWriteDone inline).
  void Pump() {
    enum { kNothing, kWrite, kFinish } action = kNothing;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (writing_ || finished_) return;
      if (!queue_.empty()) {
        current_ = queue_.front();
        queue_.pop_front();
        writing_ = true;
        action = kWrite;
      } else if (end_) {
        finished_ = true;
        action = kFinish;
      }
    }
    if (action == kWrite) StartWrite(&current_);
    if (action == kFinish) Finish(status_);
  }

  std::mutex mu_;
  std::deque<v1::RebuildProgress> queue_;
  v1::RebuildProgress current_;  // the message being written
  bool writing_ = false;
  bool broken_ = false;
  bool end_ = false;
  bool finished_ = false;
  grpc::Status status_;
  std::atomic<bool> cancelled_{false};
};

class UnaryReactor : public grpc::ServerUnaryReactor {
 public:
  void OnDone() override { delete this; }
};

}  // namespace

v1::RebuildProgress ToRebuildProgress(const projections::RebuildStatus& status) {
  v1::RebuildProgress p;
  p.set_events_done(status.events_done);
  p.set_events_total(status.events_total);
  const double rate = status.seconds > 0 ? status.events_done / status.seconds : 0;
  p.set_events_per_second(rate);
  if (!status.done && rate > 0 && status.events_total > status.events_done) {
    p.set_eta_seconds((status.events_total - status.events_done) / rate);
  }
  p.set_done(status.done);
  return p;
}

namespace {

// Where a backup into `destination` is written before it is renamed to
// `destination`: the path without trailing slashes, plus ".tmp". It holds
// the checkpoints events/, keys/ and access-log/ (RocksDB stages each in
// <name>.tmp beside it). A backup that fails removes it; one killed midway
// leaves it behind.
std::string StagingFolder(std::string destination) {
  while (destination.size() > 1 && destination.back() == '/') destination.pop_back();
  return destination + ".tmp";
}

// The list of running backups' staging folders, one per line.
std::string RunningBackupsFile(const std::string& data_dir) { return data_dir + "/backups-running"; }

// The names of the files a checkpoint writes: the table, blob and log files
// (digits and an extension), MANIFEST-n, OPTIONS-n, CURRENT, IDENTITY and
// RocksDB's temporary files (*.dbtmp).
bool IsCheckpointFileName(const std::string& name) {
  if (name == "CURRENT" || name == "IDENTITY") return true;
  for (const char* prefix : {"MANIFEST-", "OPTIONS-"}) {
    if (name.rfind(prefix, 0) == 0) return true;
  }
  const size_t dot = name.find('.');
  if (dot == std::string::npos || dot == 0) return false;
  for (size_t i = 0; i < dot; ++i) {
    if (name[i] < '0' || name[i] > '9') return false;
  }
  const std::string ext = name.substr(dot);
  return ext == ".sst" || ext == ".log" || ext == ".blob" || ext == ".dbtmp";
}

// The checkpoints of a backup, as sub-folders of its staging folder and of
// the finished backup.
constexpr const char* kBackupParts[] = {"events", "keys", "access-log"};

bool IsBackupPartName(const std::string& name) {
  for (const char* part : kBackupParts) {
    if (name == part || name == absl::StrCat(part, ".tmp")) return true;
  }
  return false;
}

// True when `folder` is a real folder that holds nothing but checkpoint files
// and (when `nested`) the checkpoint folders of kBackupParts (and their
// RocksDB staging folders): what a backup killed midway leaves in its staging
// folder. A staging folder of an older kringd holds checkpoint files only.
bool IsLeftoverStaging(const fs::path& folder, size_t* files, bool nested = true) {
  std::error_code ec;
  if (!fs::is_directory(fs::symlink_status(folder, ec))) return false;
  if (nested) *files = 0;
  for (fs::directory_iterator it(folder, ec), end; !ec && it != end; it.increment(ec)) {
    std::error_code type_ec;
    const std::string name = it->path().filename().string();
    if (nested && !it->is_symlink(type_ec) && it->is_directory(type_ec) && IsBackupPartName(name)) {
      if (!IsLeftoverStaging(it->path(), files, /*nested=*/false)) return false;
      continue;
    }
    if (!it->is_regular_file(type_ec) || it->is_symlink(type_ec)) return false;
    if (!IsCheckpointFileName(name)) return false;
    ++*files;
  }
  return !ec;
}

// True when `path` is `folder` or lies inside it, after resolving symbolic
// links and "..": both as far as they exist.
bool IsInside(const std::string& path, const std::string& folder) {
  if (folder.empty()) return false;
  std::error_code ec;
  const fs::path p = fs::weakly_canonical(fs::absolute(path, ec), ec);
  if (ec) return false;
  const fs::path f = fs::weakly_canonical(fs::absolute(folder, ec), ec);
  if (ec || f.empty()) return false;
  auto pi = p.begin();
  for (auto fi = f.begin(); fi != f.end(); ++fi, ++pi) {
    if (fi->empty()) continue;  // a trailing slash
    if (pi == p.end() || *pi != *fi) return false;
  }
  return true;
}

}  // namespace

absl::Status OperationsService::RemoveLeftoverStaging(const std::string& destination) const {
  const std::string staging = StagingFolder(destination);
  std::error_code ec;
  if (!fs::exists(fs::symlink_status(staging, ec))) return absl::OkStatus();
  size_t files = 0;
  if (!IsLeftoverStaging(staging, &files)) {
    return absl::FailedPreconditionError(absl::StrCat(
        "destination: ", staging,
        " exists and is not a backup's staging folder (RocksDB stages the copy there before it renames it to the "
        "destination): move it away or choose another destination"));
  }
  fs::remove_all(staging, ec);
  if (ec) {
    return absl::InternalError(absl::StrCat("backup: could not remove the staging folder ", staging,
                                            " left by an earlier backup: ", ec.message()));
  }
  Logger("operations")
      ->warn("msg=backup_staging_removed path={} files={} reason=\"left by a killed backup\"", staging, files);
  return absl::OkStatus();
}

absl::Status OperationsService::RecordRunningBackups() {
  if (data_dir_.empty()) return absl::OkStatus();
  const std::string path = RunningBackupsFile(data_dir_);
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    for (const std::string& staging : backups_running_) out << staging << "\n";
    out.flush();
    if (!out) return absl::InternalError(absl::StrCat("backup: could not write ", tmp, ": ", std::strerror(errno)));
  }
  // Not synced: losing the list in a power cut only leaves a staging folder
  // for the operator to delete, as before the list existed.
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec) return absl::InternalError(absl::StrCat("backup: could not write ", path, ": ", ec.message()));
  return absl::OkStatus();
}

void OperationsService::RemoveStagingOfKilledBackups() {
  if (data_dir_.empty()) return;
  std::ifstream in(RunningBackupsFile(data_dir_));
  std::string staging;
  while (std::getline(in, staging)) {
    if (staging.empty() || backups_running_.count(staging) > 0) continue;
    std::error_code ec;
    if (!fs::exists(fs::symlink_status(staging, ec))) continue;
    size_t files = 0;
    if (!IsLeftoverStaging(staging, &files)) {
      Logger("operations")
          ->warn(
              "msg=backup_staging_kept path={} reason=\"left by a killed backup, but holds more than RocksDB's "
              "files\"",
              staging);
      continue;
    }
    fs::remove_all(staging, ec);
    if (ec) {
      Logger("operations")->warn("msg=backup_staging_kept path={} reason=\"{}\"", staging, ec.message());
    } else {
      Logger("operations")
          ->warn("msg=backup_staging_removed path={} files={} reason=\"left by a killed backup\"", staging, files);
    }
  }
}

uint64_t FolderBytes(const std::string& path) {
  uint64_t bytes = 0;
  std::error_code ec;
  for (fs::recursive_directory_iterator it(path, ec), end; !ec && it != end; it.increment(ec)) {
    std::error_code size_ec;
    if (it->is_regular_file(size_ec)) {
      const uintmax_t size = it->file_size(size_ec);
      if (!size_ec) bytes += size;
    }
  }
  return bytes;
}

grpc::ServerWriteReactor<v1::RebuildProgress>* OperationsService::Rebuild(grpc::CallbackServerContext* context,
                                                                          const v1::RebuildRequest* request) {
  auto* reactor = new RebuildReactor();
  if (absl::Status allowed = auth_->Authorize(*context, security::Role::kOperator).status(); !allowed.ok()) {
    reactor->End(ToGrpc(allowed));
    return reactor;
  }
  auto it = read_models_.find(request->read_model());
  if (it == read_models_.end()) {
    std::vector<std::string> known;
    for (const auto& [name, model] : read_models_) known.push_back(name);
    reactor->End(ToGrpc(absl::InvalidArgumentError(absl::StrCat(
        "read_model: unknown read model \"", request->read_model(), "\" (known: ", absl::StrJoin(known, ", "), ")"))));
    return reactor;
  }
  projections::LiveReadModel* model = it->second;
  if (model->rebuilding()) {
    reactor->End(ToGrpc(absl::FailedPreconditionError(
        absl::StrCat("read_model: a rebuild of ", model->name(), " is already running; wait for it to finish"))));
    return reactor;
  }
  const bool started = background_.Run("kring-rebuild", 10, [model, reactor](const std::atomic<bool>& stopping) {
    bool sent = false;
    std::chrono::steady_clock::time_point last_sent;
    absl::Status status = model->Rebuild([&](const projections::RebuildStatus& st) {
      if (stopping.load() || reactor->cancelled()) return false;
      const auto now = std::chrono::steady_clock::now();
      if (st.done || !sent || now - last_sent >= std::chrono::seconds(1)) {
        reactor->Send(ToRebuildProgress(st));
        sent = true;
        last_sent = now;
      }
      return true;
    });
    if (status.code() == absl::StatusCode::kCancelled && stopping.load()) {
      status = absl::UnavailableError("rebuild abandoned: the server is shutting down; the read model was not changed");
    } else if (status.code() == absl::StatusCode::kCancelled) {
      status = absl::CancelledError("rebuild abandoned: the call was cancelled; the read model was not changed");
    }
    reactor->End(ToGrpc(status));
  });
  if (!started) reactor->End(grpc::Status(grpc::StatusCode::UNAVAILABLE, "the server is shutting down"));
  return reactor;
}

absl::Status OperationsService::WriteCheckpoints(const std::string& staging, v1::BackupResponse* response) const {
  // The events first, then the keys: a data key is durable before any event
  // sealed with it (key_store.h), so every sealed part in the events'
  // checkpoint has its key in the later keys' checkpoint. The access log is
  // a chain of its own; its checkpoint holds a prefix that verifies.
  ASSIGN_OR_RETURN(const GlobalPosition head, store_->Checkpoint(staging + "/events"));
  response->set_head_position(head.value());
  if (head.value() > 0) {
    // Events are never rewritten: the live store's event at the
    // checkpoint's head is the checkpoint's, byte for byte.
    ASSIGN_OR_RETURN(auto last, store_->ReadAll(head, 1));
    if (last.empty() || last.front().global_position() != head.value()) {
      return absl::InternalError("backup: the checkpoint's head is not in the store");
    }
    response->set_head_hash(last.front().hash());
  }
  if (keys_ != nullptr) {
    ASSIGN_OR_RETURN(std::string master_key_id, keys_->Checkpoint(staging + "/keys"));
    response->set_keys_master_key_id(std::move(master_key_id));
  }
  if (access_log_ != nullptr) {
    ASSIGN_OR_RETURN(const security::AccessLog::Head access_head, access_log_->Checkpoint(staging + "/access-log"));
    response->set_access_log_entries(access_head.entries);
    response->set_access_log_head_hash(access_head.hash);
  }
  return absl::OkStatus();
}

grpc::ServerUnaryReactor* OperationsService::Backup(grpc::CallbackServerContext* context,
                                                    const v1::BackupRequest* request, v1::BackupResponse* response) {
  auto* reactor = new UnaryReactor();
  const std::string& destination = request->destination();
  if (absl::Status allowed = auth_->Authorize(*context, security::Role::kOperator).status(); !allowed.ok()) {
    reactor->Finish(ToGrpc(allowed));
    return reactor;
  }
  absl::Status invalid;
  std::error_code ec;
  if (destination.empty()) {
    invalid = absl::InvalidArgumentError("destination: required: a folder on the server's machine that does not exist");
  } else if (!fs::path(destination).is_absolute()) {
    invalid = absl::InvalidArgumentError(
        absl::StrCat("destination: must be an absolute path on the server's machine, got \"", destination, "\""));
  } else if (IsInside(destination, data_dir_)) {
    invalid = absl::InvalidArgumentError(absl::StrCat(
        "destination: must be outside the server's data folder ", data_dir_,
        " (a backup there would change the live folders and be lost with them), got \"", destination, "\""));
  } else if (fs::exists(destination, ec) || fs::is_symlink(destination, ec)) {
    invalid = absl::AlreadyExistsError(absl::StrCat("destination: ", destination, " already exists"));
  } else if (const fs::path parent = fs::path(destination).parent_path(); !fs::is_directory(parent, ec)) {
    invalid = absl::FailedPreconditionError(
        absl::StrCat("destination: the folder ", parent.string(), " does not exist on the server's machine"));
  }
  // Two backups into one destination would share its staging folder.
  const std::string staging = StagingFolder(destination);
  if (invalid.ok()) {
    std::lock_guard<std::mutex> lock(backup_mu_);
    RemoveStagingOfKilledBackups();
    if (!backups_running_.insert(staging).second) {
      invalid = absl::FailedPreconditionError(absl::StrCat("destination: a backup into ", destination, " is running"));
    } else if (absl::Status recorded = RecordRunningBackups(); !recorded.ok()) {
      backups_running_.erase(staging);
      invalid = recorded;
    }
  }
  if (!invalid.ok()) {
    reactor->Finish(ToGrpc(invalid));
    return reactor;
  }
  const bool started =
      background_.Run("kring-backup", 0, [this, reactor, destination, staging, response](const std::atomic<bool>&) {
        auto log = Logger("operations");
        const auto started_at = std::chrono::steady_clock::now();
        absl::Status status = RemoveLeftoverStaging(destination);
        std::error_code ec;
        if (status.ok() && !fs::create_directory(staging, ec)) {
          status = absl::InternalError(
              absl::StrCat("backup: could not create the staging folder ", staging, ": ", ec.message()));
        }
        if (status.ok()) {
          status = WriteCheckpoints(staging, response);
          if (status.ok()) {
            fs::rename(staging, destination, ec);
            if (ec) {
              status = absl::InternalError(
                  absl::StrCat("backup: could not rename ", staging, " to ", destination, ": ", ec.message()));
            }
          }
          size_t files = 0;
          if (!status.ok() && IsLeftoverStaging(staging, &files)) fs::remove_all(staging, ec);
        }
        if (status.ok()) {
          response->set_path(destination);
          response->set_bytes(FolderBytes(destination));
          log->info("msg=backup_written path={} head_position={} keys={} access_log_entries={} bytes={} seconds={:.2f}",
                    destination, response->head_position(),
                    response->keys_master_key_id().empty() ? "none" : "included", response->access_log_entries(),
                    response->bytes(),
                    std::chrono::duration<double>(std::chrono::steady_clock::now() - started_at).count());
        } else {
          log->error("msg=backup_failed path={} status=\"{}\"", destination, status.ToString());
        }
        {
          std::lock_guard<std::mutex> lock(backup_mu_);
          backups_running_.erase(staging);
          if (absl::Status recorded = RecordRunningBackups(); !recorded.ok()) {
            log->warn("msg=backup_list_not_written status=\"{}\"", recorded.ToString());
          }
        }
        reactor->Finish(ToGrpc(status));
      });
  if (!started) {
    std::lock_guard<std::mutex> lock(backup_mu_);
    backups_running_.erase(staging);
    RecordRunningBackups().IgnoreError();  // the list is a help for the next backup, not a promise
    reactor->Finish(grpc::Status(grpc::StatusCode::UNAVAILABLE, "the server is shutting down"));
  }
  return reactor;
}

grpc::ServerUnaryReactor* OperationsService::ErasePersonalData(grpc::CallbackServerContext* context,
                                                               const v1::ErasePersonalDataRequest* request,
                                                               v1::ErasePersonalDataResponse* response) {
  auto* reactor = new UnaryReactor();
  absl::StatusOr<security::Identity> caller = auth_->Authorize(*context, security::Role::kOperator);
  if (!caller.ok()) {
    reactor->Finish(ToGrpc(caller.status()));
    return reactor;
  }
  // The compaction that purges the key may take a moment: off gRPC's threads.
  const bool started = background_.Run(
      "kring-erase", 0,
      [this, reactor, response, case_id = request->case_id(), name = caller->name](const std::atomic<bool>&) {
        absl::StatusOr<v1::ErasePersonalDataResponse> r = eraser_.Erase(case_id, name);
        if (r.ok()) *response = *std::move(r);
        reactor->Finish(ToGrpc(r.status()));
      });
  if (!started) reactor->Finish(grpc::Status(grpc::StatusCode::UNAVAILABLE, "the server is shutting down"));
  return reactor;
}

grpc::ServerUnaryReactor* OperationsService::GetStatus(grpc::CallbackServerContext* context,
                                                       const v1::GetStatusRequest* /*request*/,
                                                       v1::GetStatusResponse* response) {
  auto* reactor = new UnaryReactor();
  absl::Status allowed = auth_->Authorize(*context, security::Role::kOperator).status();
  if (allowed.ok() && !status_source_) allowed = absl::UnavailableError("status: the server is starting");
  if (allowed.ok()) *response = status_source_();
  reactor->Finish(ToGrpc(allowed));
  return reactor;
}

grpc::ServerUnaryReactor* OperationsService::RotateMasterKey(grpc::CallbackServerContext* context,
                                                             const v1::RotateMasterKeyRequest* request,
                                                             v1::RotateMasterKeyResponse* response) {
  auto* reactor = new UnaryReactor();
  absl::Status allowed = auth_->Authorize(*context, security::Role::kOperator).status();
  if (!allowed.ok()) {
    reactor->Finish(ToGrpc(allowed));
    return reactor;
  }
  if (keys_ == nullptr) {
    reactor->Finish(ToGrpc(absl::FailedPreconditionError(
        "--master-key-file: this server runs without a master key; there is nothing to rotate")));
    return reactor;
  }
  const bool started = background_.Run(
      "kring-rotate", 0, [this, reactor, response, file = request->new_master_key_file()](const std::atomic<bool>&) {
        absl::StatusOr<security::KeyStore::Rotation> r = keys_->RotateMasterKey(file);
        if (r.ok()) {
          response->set_previous_master_key_id(r->previous_master_key_id);
          response->set_master_key_id(r->master_key_id);
          response->set_data_keys_rewrapped(r->data_keys_rewrapped);  // the key store logs the rotation
        }
        reactor->Finish(ToGrpc(r.status()));
      });
  if (!started) reactor->Finish(grpc::Status(grpc::StatusCode::UNAVAILABLE, "the server is shutting down"));
  return reactor;
}

}  // namespace kring::services
