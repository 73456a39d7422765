#include "tests/testing/fault_fs.h"

#include <unistd.h>

#include <filesystem>

namespace kring::testing {
namespace {

using rocksdb::IODebugContext;
using rocksdb::IOOptions;
using rocksdb::IOStatus;
using rocksdb::Slice;

// A writable file whose appends and syncs pass through the FaultFs checks and
// whose synced size the FaultFs tracks.
class FaultWritableFile : public rocksdb::FSWritableFileOwnerWrapper {
 public:
  FaultWritableFile(FaultFs* fs, std::string path, std::unique_ptr<rocksdb::FSWritableFile> target)
      : FSWritableFileOwnerWrapper(std::move(target)), fs_(fs), path_(std::move(path)) {}

  IOStatus Append(const Slice& data, const IOOptions& o, IODebugContext* d) override {
    IOStatus s = fs_->ChargeWrite(path_, data.size());
    if (!s.ok()) return s;
    s = target()->Append(data, o, d);
    if (s.ok()) fs_->Appended(path_, data.size());
    return s;
  }
  IOStatus Append(const Slice& data, const IOOptions& o, const rocksdb::DataVerificationInfo&,
                  IODebugContext* d) override {
    return Append(data, o, d);
  }
  IOStatus PositionedAppend(const Slice& data, uint64_t offset, const IOOptions& o, IODebugContext* d) override {
    IOStatus s = fs_->ChargeWrite(path_, data.size());
    if (!s.ok()) return s;
    return target()->PositionedAppend(data, offset, o, d);
  }
  IOStatus PositionedAppend(const Slice& data, uint64_t offset, const IOOptions& o,
                            const rocksdb::DataVerificationInfo&, IODebugContext* d) override {
    return PositionedAppend(data, offset, o, d);
  }
  IOStatus Sync(const IOOptions& o, IODebugContext* d) override { return DoSync(false, o, d); }
  IOStatus Fsync(const IOOptions& o, IODebugContext* d) override { return DoSync(true, o, d); }

 private:
  IOStatus DoSync(bool full, const IOOptions& o, IODebugContext* d) {
    fs_->MaybeHoldSync(path_);
    IOStatus s = fs_->Check(FaultFs::Op::kSync, path_);
    if (!s.ok()) return s;
    s = full ? target()->Fsync(o, d) : target()->Sync(o, d);
    if (s.ok()) fs_->Synced(path_);
    return s;
  }

  FaultFs* const fs_;
  const std::string path_;
};

class FaultRandomAccessFile : public rocksdb::FSRandomAccessFileOwnerWrapper {
 public:
  FaultRandomAccessFile(FaultFs* fs, std::string path, std::unique_ptr<rocksdb::FSRandomAccessFile> target)
      : FSRandomAccessFileOwnerWrapper(std::move(target)), fs_(fs), path_(std::move(path)) {}
  IOStatus Read(uint64_t offset, size_t n, const IOOptions& o, Slice* result, char* scratch,
                IODebugContext* d) const override {
    IOStatus s = fs_->Check(FaultFs::Op::kRead, path_);
    if (!s.ok()) return s;
    return target()->Read(offset, n, o, result, scratch, d);
  }
  IOStatus MultiRead(rocksdb::FSReadRequest* reqs, size_t num_reqs, const IOOptions& o, IODebugContext* d) override {
    IOStatus s = fs_->Check(FaultFs::Op::kRead, path_);
    if (!s.ok()) {
      for (size_t i = 0; i < num_reqs; ++i) reqs[i].status = s;
      return s;
    }
    return target()->MultiRead(reqs, num_reqs, o, d);
  }

 private:
  FaultFs* const fs_;
  const std::string path_;
};

class FaultSequentialFile : public rocksdb::FSSequentialFileOwnerWrapper {
 public:
  FaultSequentialFile(FaultFs* fs, std::string path, std::unique_ptr<rocksdb::FSSequentialFile> target)
      : FSSequentialFileOwnerWrapper(std::move(target)), fs_(fs), path_(std::move(path)) {}
  IOStatus Read(size_t n, const IOOptions& o, Slice* result, char* scratch, IODebugContext* d) override {
    IOStatus s = fs_->Check(FaultFs::Op::kRead, path_);
    if (!s.ok()) return s;
    return target()->Read(n, o, result, scratch, d);
  }

 private:
  FaultFs* const fs_;
  const std::string path_;
};

IOStatus Injected(FaultFs::Error error, const std::string& path) {
  if (error == FaultFs::Error::kNoSpace) return IOStatus::NoSpace("injected: no space left on device", path);
  return IOStatus::IOError("injected I/O error", path);
}

}  // namespace

FaultFs::FaultFs() : FileSystemWrapper(rocksdb::FileSystem::Default()) {}

std::unique_ptr<rocksdb::Env> FaultFs::NewEnv() {
  // The Env holds a shared_ptr; the FaultFs is owned by the test, which
  // keeps it alive longer than the Env, so the pointer does not own it.
  return rocksdb::NewCompositeEnv(std::shared_ptr<rocksdb::FileSystem>(this, [](rocksdb::FileSystem*) {}));
}

void FaultFs::FailOn(Op op, std::string path_part, Error error, int skip, int times) {
  std::lock_guard<std::mutex> lock(mu_);
  rules_.push_back(Rule{op, std::move(path_part), error, skip, times});
}

void FaultFs::Clear() {
  std::lock_guard<std::mutex> lock(mu_);
  rules_.clear();
  budget_ = -1;
}

void FaultFs::SetWriteBudget(int64_t bytes) {
  std::lock_guard<std::mutex> lock(mu_);
  budget_ = bytes;
}

void FaultFs::Deactivate() {
  std::lock_guard<std::mutex> lock(mu_);
  active_ = false;
}

void FaultFs::Reactivate() {
  std::lock_guard<std::mutex> lock(mu_);
  active_ = true;
}

void FaultFs::DropUnsyncedData() {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& [path, state] : files_) {
    std::error_code ec;
    const auto size = std::filesystem::file_size(path, ec);
    if (ec) continue;  // deleted or renamed away since
    if (size > state.synced) std::filesystem::resize_file(path, state.synced, ec);
    state.size = state.synced;
  }
}

void FaultFs::HoldSyncs(std::string path_part) {
  std::lock_guard<std::mutex> lock(mu_);
  hold_part_ = std::move(path_part);
}

void FaultFs::ReleaseSyncs() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    hold_part_.clear();
  }
  hold_cv_.notify_all();
}

int FaultFs::held_syncs() const {
  std::lock_guard<std::mutex> lock(mu_);
  return held_;
}

void FaultFs::MaybeHoldSync(const std::string& path) {
  std::unique_lock<std::mutex> lock(mu_);
  auto holds = [&] { return !hold_part_.empty() && path.find(hold_part_) != std::string::npos; };
  if (!holds()) return;
  held_++;
  hold_cv_.wait(lock, [&] { return !holds(); });
  held_--;
}

IOStatus FaultFs::Check(Op op, const std::string& path) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!active_ && op != Op::kRead) {
    faults_++;
    return IOStatus::IOError("injected: the process has crashed", path);
  }
  for (Rule& rule : rules_) {
    if (rule.op != op || rule.times == 0) continue;
    if (!rule.path_part.empty() && path.find(rule.path_part) == std::string::npos) continue;
    if (rule.skip > 0) {
      rule.skip--;
      continue;
    }
    if (rule.times > 0) rule.times--;
    faults_++;
    return Injected(rule.error, path);
  }
  return IOStatus::OK();
}

IOStatus FaultFs::ChargeWrite(const std::string& path, size_t bytes) {
  IOStatus s = Check(Op::kWrite, path);
  if (!s.ok()) return s;
  std::lock_guard<std::mutex> lock(mu_);
  if (budget_ >= 0) {
    if (static_cast<int64_t>(bytes) > budget_) {
      faults_++;
      return Injected(Error::kNoSpace, path);
    }
    budget_ -= static_cast<int64_t>(bytes);
  }
  return IOStatus::OK();
}

void FaultFs::Appended(const std::string& path, size_t bytes) {
  std::lock_guard<std::mutex> lock(mu_);
  files_[path].size += bytes;
}

void FaultFs::Synced(const std::string& path) {
  syncs_++;
  std::lock_guard<std::mutex> lock(mu_);
  FileState& state = files_[path];
  state.synced = state.size;
}

IOStatus FaultFs::Wrap(const std::string& f, IOStatus s, std::unique_ptr<rocksdb::FSWritableFile>* r, bool fresh) {
  if (!s.ok()) return s;
  {
    std::lock_guard<std::mutex> lock(mu_);
    FileState& state = files_[f];
    if (fresh) {
      state = FileState{};
    } else {
      // Reopened: what is on disk now counts as durable.
      std::error_code ec;
      const auto size = std::filesystem::file_size(f, ec);
      state.size = state.synced = ec ? 0 : size;
    }
  }
  *r = std::make_unique<FaultWritableFile>(this, f, std::move(*r));
  return s;
}

IOStatus FaultFs::NewWritableFile(const std::string& f, const rocksdb::FileOptions& o,
                                  std::unique_ptr<rocksdb::FSWritableFile>* r, IODebugContext* d) {
  IOStatus s = Check(Op::kCreate, f);
  if (!s.ok()) return s;
  return Wrap(f, target()->NewWritableFile(f, o, r, d), r, true);
}

IOStatus FaultFs::ReopenWritableFile(const std::string& f, const rocksdb::FileOptions& o,
                                     std::unique_ptr<rocksdb::FSWritableFile>* r, IODebugContext* d) {
  IOStatus s = Check(Op::kCreate, f);
  if (!s.ok()) return s;
  return Wrap(f, target()->ReopenWritableFile(f, o, r, d), r, false);
}

IOStatus FaultFs::ReuseWritableFile(const std::string& f, const std::string& old, const rocksdb::FileOptions& o,
                                    std::unique_ptr<rocksdb::FSWritableFile>* r, IODebugContext* d) {
  IOStatus s = Check(Op::kCreate, f);
  if (!s.ok()) return s;
  return Wrap(f, target()->ReuseWritableFile(f, old, o, r, d), r, true);
}

IOStatus FaultFs::NewRandomAccessFile(const std::string& f, const rocksdb::FileOptions& o,
                                      std::unique_ptr<rocksdb::FSRandomAccessFile>* r, IODebugContext* d) {
  IOStatus s = Check(Op::kRead, f);
  if (!s.ok()) return s;
  s = target()->NewRandomAccessFile(f, o, r, d);
  if (s.ok()) *r = std::make_unique<FaultRandomAccessFile>(this, f, std::move(*r));
  return s;
}

IOStatus FaultFs::NewSequentialFile(const std::string& f, const rocksdb::FileOptions& o,
                                    std::unique_ptr<rocksdb::FSSequentialFile>* r, IODebugContext* d) {
  IOStatus s = Check(Op::kRead, f);
  if (!s.ok()) return s;
  s = target()->NewSequentialFile(f, o, r, d);
  if (s.ok()) *r = std::make_unique<FaultSequentialFile>(this, f, std::move(*r));
  return s;
}

IOStatus FaultFs::RenameFile(const std::string& s, const std::string& t, const IOOptions& o, IODebugContext* d) {
  IOStatus st = Check(Op::kRename, t);
  if (!st.ok()) return st;
  st = target()->RenameFile(s, t, o, d);
  if (st.ok()) {
    std::lock_guard<std::mutex> lock(mu_);
    if (auto it = files_.find(s); it != files_.end()) {
      files_[t] = it->second;
      files_.erase(s);
    }
  }
  return st;
}

}  // namespace kring::testing
