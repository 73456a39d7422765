// FaultFs: a rocksdb::FileSystem wrapper for fault-injection tests of every
// RocksDB database Kring keeps (event store, key store, access log, read
// models). It can
//   - fail writes (Append), syncs (Sync/Fsync), renames, reads and file
//     creation on demand, for files whose name contains a given substring,
//     after a given number of successful operations, once or until cleared;
//   - simulate a full disk: a budget of bytes that may still be appended,
//     after which every append fails with IOStatus::NoSpace ("disk full")
//     until the budget is raised again ("space freed");
//   - simulate a crash: Deactivate() makes every later write, sync and
//     rename fail (the process is "dead" to the disk), and after the database
//     object is closed, DropUnsyncedData() truncates every file written
//     through this wrapper to the size it had at its last successful sync,
//     as power loss or kill -9 of the machine would. Files created but never
//     synced become empty.
//
// Use: wrap the default file system, build an Env from it (NewEnv()) and hand
// that Env to the database's options (EventStoreOptions::env and the like).
//
// Threads: every method may be called from any thread; RocksDB calls the file
// operations from its writer, flush and compaction threads.
#pragma once

#include <rocksdb/env.h>
#include <rocksdb/file_system.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>

namespace kring::testing {

class FaultFs : public rocksdb::FileSystemWrapper {
 public:
  enum class Op { kWrite, kSync, kRename, kRead, kCreate };
  enum class Error { kNoSpace, kIoError };

  // Wraps rocksdb::FileSystem::Default().
  FaultFs();
  static const char* kClassName() { return "KringFaultFs"; }
  const char* Name() const override { return kClassName(); }

  // An Env over this file system (it keeps a reference to it).
  std::unique_ptr<rocksdb::Env> NewEnv();

  // From now on, `op` on a file whose path contains `path_part` (empty: any
  // file) fails with `error` after `skip` more successful ones; `times`
  // failures in all (negative: until Clear()).
  void FailOn(Op op, std::string path_part = "", Error error = Error::kIoError, int skip = 0, int times = -1);
  // Removes every FailOn rule and lifts the write budget.
  void Clear();

  // At most `bytes` more bytes may be appended (in all files) before appends
  // fail with NoSpace; negative: unlimited.
  void SetWriteBudget(int64_t bytes);

  // Every later write, sync, rename and file creation fails (a crashed
  // process). Reads keep working.
  void Deactivate();
  // Writes work again (after DropUnsyncedData, to reopen the database).
  void Reactivate();
  // Truncates every file written through this wrapper to its size at its
  // last successful sync (0 when never synced). Call after the database
  // object is closed or destroyed.
  void DropUnsyncedData();

  // From now on, a sync of a file whose path contains `path_part` waits,
  // before the FailOn rules are looked at, until ReleaseSyncs(): a write is
  // "on its way to disk" for as long as the test wants. Then FailOn(kSync,
  // ...) and ReleaseSyncs() make the held sync fail.
  void HoldSyncs(std::string path_part);
  // Lets held syncs (and later ones) go on.
  void ReleaseSyncs();
  // Syncs waiting in HoldSyncs now.
  int held_syncs() const;
  // Called by the file wrapper before a sync.
  void MaybeHoldSync(const std::string& path);

  // Faults injected so far (every failed operation counts).
  int64_t faults_injected() const { return faults_.load(); }
  // Successful syncs so far (Sync/Fsync of writable files).
  int64_t syncs() const { return syncs_.load(); }

  // --- rocksdb::FileSystem ---
  rocksdb::IOStatus NewWritableFile(const std::string& f, const rocksdb::FileOptions& o,
                                    std::unique_ptr<rocksdb::FSWritableFile>* r, rocksdb::IODebugContext* d) override;
  rocksdb::IOStatus ReopenWritableFile(const std::string& f, const rocksdb::FileOptions& o,
                                       std::unique_ptr<rocksdb::FSWritableFile>* r,
                                       rocksdb::IODebugContext* d) override;
  rocksdb::IOStatus ReuseWritableFile(const std::string& f, const std::string& old, const rocksdb::FileOptions& o,
                                      std::unique_ptr<rocksdb::FSWritableFile>* r, rocksdb::IODebugContext* d) override;
  rocksdb::IOStatus NewRandomAccessFile(const std::string& f, const rocksdb::FileOptions& o,
                                        std::unique_ptr<rocksdb::FSRandomAccessFile>* r,
                                        rocksdb::IODebugContext* d) override;
  rocksdb::IOStatus NewSequentialFile(const std::string& f, const rocksdb::FileOptions& o,
                                      std::unique_ptr<rocksdb::FSSequentialFile>* r,
                                      rocksdb::IODebugContext* d) override;
  rocksdb::IOStatus RenameFile(const std::string& s, const std::string& t, const rocksdb::IOOptions& o,
                               rocksdb::IODebugContext* d) override;

  // Called by the file wrappers (public so they need no friendship).
  rocksdb::IOStatus Check(Op op, const std::string& path);
  rocksdb::IOStatus ChargeWrite(const std::string& path, size_t bytes);
  void Appended(const std::string& path, size_t bytes);
  void Synced(const std::string& path);

 private:
  struct Rule {
    Op op;
    std::string path_part;
    Error error;
    int skip;
    int times;
  };
  struct FileState {
    uint64_t size = 0;    // bytes appended through this wrapper since creation
    uint64_t synced = 0;  // size at the last successful sync
  };
  rocksdb::IOStatus Wrap(const std::string& f, rocksdb::IOStatus s, std::unique_ptr<rocksdb::FSWritableFile>* r,
                         bool fresh);

  mutable std::mutex mu_;
  std::condition_variable hold_cv_;
  std::string hold_part_;  // empty: no sync is held
  int held_ = 0;
  std::vector<Rule> rules_;
  int64_t budget_ = -1;
  bool active_ = true;
  std::map<std::string, FileState> files_;
  std::atomic<int64_t> faults_{0};
  std::atomic<int64_t> syncs_{0};
};

}  // namespace kring::testing
