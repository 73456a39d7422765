// AccessLog: the append-only record of every read of case-level data (who,
// which case, when, the stated purpose — NEN 7513), in its own RocksDB folder
// (<data>/access-log). Entries are hash-chained like events (each entry's
// hash covers the previous entry's hash and the entry's own fields), so a
// removed or altered entry shows when the log is verified. There is no API to
// change or remove an entry.
//
// Layout (default column family): BE64(sequence) -> AccessLogEntry bytes
// (deterministic serialization, prev_hash and hash set).
//
// Chain: hash = SHA-256(prev_hash || the entry serialized deterministically
// with prev_hash and hash cleared); prev_hash is the previous entry's hash,
// and empty for entry 1 (as for position 1 of the event chain). A changed
// entry fails at its own hash, a changed entry whose hash was recomputed at
// the next entry's prev_hash, a removed entry as a gap. Removing the newest
// entries leaves a shorter chain that still verifies: only a copy of the
// head (size() and the last hash) kept elsewhere shows that.
//
// Threads: every method may be called from any thread; Record calls are
// serialized (sequence and chain are assigned under a mutex).
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "kring/v1/audit.pb.h"

namespace rocksdb {
class DB;
class Env;
}  // namespace rocksdb

namespace kring::security {

struct AccessLogOptions {
  // RocksDB folder; created when missing. Required.
  std::string path;
  // Sync every entry: an entry is durable before the read it records is
  // answered. Default: true.
  bool sync = true;
  // Stamps `at`. Default (unset): absl::Now. Tests only.
  std::function<absl::Time()> clock;
  // The RocksDB environment the folder is written through, e.g. a
  // fault-injecting one (tests/testing/fault_fs.h); must outlive the log.
  // Default: nullptr (the default environment).
  rocksdb::Env* env = nullptr;
};

class AccessLog {
 public:
  static absl::StatusOr<std::unique_ptr<AccessLog>> Open(AccessLogOptions options);
  ~AccessLog();

  // Appends `entry` (identity, role, rpc, case_id, scope, purpose as given;
  // sequence, at, prev_hash and hash set here, overwriting what the caller
  // put there) and returns it as stored, once durable (with sync). A failed
  // write uses up no sequence.
  absl::StatusOr<v1::AccessLogEntry> Record(v1::AccessLogEntry entry);
  // Entries with sequence >= request.from_sequence (about request.case_id
  // when set), at most request.limit (0: 1000; more than 10000:
  // INVALID_ARGUMENT naming `limit`), oldest first; next_sequence set.
  // next_sequence is one past the last entry looked at, filtered out or not
  // (the first sequence asked for when there was none), so paging on it skips
  // nothing. chain_ok/chain_reason: the result of Verify() over the whole
  // log (so a Read costs a pass over the log). An entry that cannot be
  // parsed at all fails the Read with DATA_LOSS.
  absl::StatusOr<v1::ReadAccessLogResponse> Read(const v1::ReadAccessLogRequest& request) const;
  // Checks the whole chain: gapless sequences from 1, each prev_hash the
  // previous entry's hash, each hash over the entry. OK, or DATA_LOSS naming
  // the first bad sequence and why.
  absl::Status Verify() const;
  // Number of entries (the last sequence).
  uint64_t size() const;

  // The head of a checkpoint: how many entries it holds, and the last one's
  // hash (empty when none).
  struct Head {
    uint64_t entries = 0;
    std::string hash;
  };
  // Writes a consistent RocksDB checkpoint of the log into `destination`
  // (must not exist; RocksDB stages it in `destination`.tmp) while kringd
  // runs. Records wait for it (it holds the record mutex), so the copy holds
  // exactly entries 1..Head::entries, a chain that verifies.
  absl::StatusOr<Head> Checkpoint(const std::string& destination) const;

 private:
  AccessLog() = default;
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace kring::security
