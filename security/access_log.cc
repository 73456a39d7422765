#include "security/access_log.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <rocksdb/db.h>
#include <rocksdb/utilities/checkpoint.h>

#include <algorithm>
#include <atomic>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/bytes.h"
#include "common/errors.h"
#include "common/log.h"
#include "common/status.h"
#include "common/time.h"
#include "eventstore/chain.h"
#include "eventstore/info_log.h"

namespace kring::security {
namespace {

constexpr uint32_t kDefaultReadLimit = 1000;
constexpr uint32_t kMaxReadLimit = 10000;
constexpr size_t kKeyBytes = 8;

absl::Status FromRocks(const rocksdb::Status& s, const char* what) {
  if (s.ok()) return absl::OkStatus();
  return absl::InternalError(absl::StrCat("access log: ", what, ": ", s.ToString()));
}

absl::Status EntryLoss(uint64_t sequence, const std::string& why) {
  return absl::DataLossError(absl::StrCat("access log: entry ", sequence, ": ", why));
}

std::string SerializeDeterministic(const v1::AccessLogEntry& entry, std::string out = {}) {
  {
    google::protobuf::io::StringOutputStream stream(&out);  // appends to `out`
    google::protobuf::io::CodedOutputStream coded(&stream);
    coded.SetSerializationDeterministic(true);
    entry.SerializeToCodedStream(&coded);
  }
  return out;
}

// SHA-256 over entry.prev_hash followed by the entry serialized without its
// prev_hash and hash (see access_log.h).
std::string EntryHash(v1::AccessLogEntry entry) {
  std::string prev_hash = std::move(*entry.mutable_prev_hash());
  entry.clear_prev_hash();
  entry.clear_hash();
  return eventstore::Sha256(SerializeDeterministic(entry, std::move(prev_hash)));
}

// Reads the entry stored under `key`/`value`; DATA_LOSS when either is not
// what Record writes (naming entry `expected` when the key is not a sequence).
absl::StatusOr<v1::AccessLogEntry> ParseStored(const rocksdb::Slice& key, const rocksdb::Slice& value,
                                               uint64_t expected) {
  if (key.size() != kKeyBytes) return EntryLoss(expected, "stored under a key that is not a sequence number");
  const uint64_t sequence = ReadBigEndian64(key.ToStringView());
  v1::AccessLogEntry entry;
  if (!entry.ParseFromArray(value.data(), static_cast<int>(value.size()))) {
    return EntryLoss(sequence, "the stored bytes are not an access log entry");
  }
  if (entry.sequence() != sequence) {
    return EntryLoss(sequence, absl::StrCat("stored under this sequence but carries sequence ", entry.sequence()));
  }
  return entry;
}

}  // namespace

struct AccessLog::Impl {
  AccessLogOptions options;
  std::unique_ptr<rocksdb::DB> db;

  // Held while an entry is chained and written, so sequences and links are
  // assigned in write order.
  std::mutex record_mu;
  std::string last_hash;  // guarded by record_mu; empty while the log is empty
  // The last durable sequence: written under record_mu, read anywhere.
  std::atomic<uint64_t> last_sequence{0};
};

absl::StatusOr<std::unique_ptr<AccessLog>> AccessLog::Open(AccessLogOptions options) {
  if (options.path.empty()) return absl::InvalidArgumentError("access log: path is required");
  if (!options.clock) options.clock = [] { return absl::Now(); };

  std::unique_ptr<AccessLog> log(new AccessLog());
  log->impl_ = std::make_unique<Impl>();
  Impl& impl = *log->impl_;
  impl.options = std::move(options);

  rocksdb::Options db_options;
  db_options.create_if_missing = true;
  // Small and written rarely (one entry per audited read): keep it light.
  db_options.max_background_jobs = 1;
  if (impl.options.env != nullptr) db_options.env = impl.options.env;
  // No LOG writer or automatic recovery that could abort kringd after a
  // failed write (info_log.h); a failed write leaves this database refusing
  // writes until kringd restarts.
  eventstore::UseFailSafeErrorHandling(&db_options, impl.options.path);
  rocksdb::DB* raw = nullptr;
  RETURN_IF_ERROR(FromRocks(rocksdb::DB::Open(db_options, impl.options.path, &raw), "open"));
  impl.db.reset(raw);

  // Continue the chain after the last stored entry.
  std::unique_ptr<rocksdb::Iterator> it(impl.db->NewIterator(rocksdb::ReadOptions()));
  it->SeekToLast();
  RETURN_IF_ERROR(FromRocks(it->status(), "find the last entry"));
  if (it->Valid()) {
    if (it->key().size() != kKeyBytes) return absl::DataLossError("access log: the last key is not a sequence number");
    const uint64_t sequence = ReadBigEndian64(it->key().ToStringView());
    ASSIGN_OR_RETURN(v1::AccessLogEntry last, ParseStored(it->key(), it->value(), sequence));
    impl.last_sequence.store(last.sequence());
    impl.last_hash = last.hash();
  }
  Logger("access-log")->info("msg=opened entries={}", impl.last_sequence.load());
  return log;
}

AccessLog::~AccessLog() {
  if (!impl_ || !impl_->db) return;
  rocksdb::Status s = impl_->db->Close();
  if (!s.ok()) Logger("access-log")->error("msg=close_failed status=\"{}\"", s.ToString());
  Logger("access-log")->info("msg=closed entries={}", impl_->last_sequence.load());
}

absl::StatusOr<v1::AccessLogEntry> AccessLog::Record(v1::AccessLogEntry entry) {
  Impl& impl = *impl_;
  std::lock_guard<std::mutex> lock(impl.record_mu);
  const uint64_t sequence = impl.last_sequence.load() + 1;
  entry.set_sequence(sequence);
  *entry.mutable_at() = ToTimestamp(impl.options.clock());
  entry.set_prev_hash(impl.last_hash);
  entry.clear_hash();
  std::string hash = EntryHash(entry);
  entry.set_hash(hash);

  rocksdb::WriteOptions wo;
  wo.sync = impl.options.sync;
  absl::Status written = FromRocks(impl.db->Put(wo, BigEndian64(sequence), SerializeDeterministic(entry)), "write");
  if (!written.ok()) {
    // The sequence stays free: the next Record retries it, so the log stays gapless.
    Logger("access-log")->error("msg=record_failed sequence={} status=\"{}\"", sequence, written.ToString());
    return written;
  }
  impl.last_hash = std::move(hash);
  impl.last_sequence.store(sequence);
  return entry;
}

absl::StatusOr<v1::ReadAccessLogResponse> AccessLog::Read(const v1::ReadAccessLogRequest& request) const {
  if (request.limit() > kMaxReadLimit) {
    return BadRequestError("limit", absl::StrCat("at most ", kMaxReadLimit, " (0 means ", kDefaultReadLimit, ")"));
  }
  const uint32_t limit = request.limit() == 0 ? kDefaultReadLimit : request.limit();
  const uint64_t from = std::max<uint64_t>(request.from_sequence(), 1);

  v1::ReadAccessLogResponse response;
  uint64_t next = from;
  std::unique_ptr<rocksdb::Iterator> it(impl_->db->NewIterator(rocksdb::ReadOptions()));
  for (it->Seek(BigEndian64(from)); it->Valid() && static_cast<uint32_t>(response.entries_size()) < limit; it->Next()) {
    ASSIGN_OR_RETURN(v1::AccessLogEntry entry, ParseStored(it->key(), it->value(), next));
    next = entry.sequence() + 1;
    if (!request.case_id().empty() && entry.case_id() != request.case_id()) continue;
    *response.add_entries() = std::move(entry);
  }
  RETURN_IF_ERROR(FromRocks(it->status(), "read"));
  response.set_next_sequence(next);

  if (absl::Status chain = Verify(); !chain.ok()) {
    if (chain.code() != absl::StatusCode::kDataLoss) return chain;  // could not check: no verdict to report
    response.set_chain_ok(false);
    response.set_chain_reason(std::string(chain.message()));
  } else {
    response.set_chain_ok(true);
  }
  return response;
}

absl::Status AccessLog::Verify() const {
  uint64_t expected = 1;
  std::string prev_hash;  // entry 1 has an empty prev_hash
  std::unique_ptr<rocksdb::Iterator> it(impl_->db->NewIterator(rocksdb::ReadOptions()));
  for (it->SeekToFirst(); it->Valid(); it->Next(), ++expected) {
    ASSIGN_OR_RETURN(v1::AccessLogEntry entry, ParseStored(it->key(), it->value(), expected));
    if (entry.sequence() < expected) return EntryLoss(entry.sequence(), "sequences start at 1");
    if (entry.sequence() != expected) {
      return EntryLoss(expected, absl::StrCat("missing (the next stored entry is ", entry.sequence(), ")"));
    }
    if (entry.prev_hash() != prev_hash) {
      return EntryLoss(expected, expected == 1 ? "the first entry has a prev_hash"
                                               : absl::StrCat("prev_hash is not the hash of entry ", expected - 1));
    }
    std::string hash = EntryHash(entry);
    if (entry.hash() != hash) {
      return EntryLoss(expected, "the hash does not match the entry: it was changed after it was written");
    }
    prev_hash = std::move(hash);
  }
  RETURN_IF_ERROR(FromRocks(it->status(), "verify"));
  Logger("access-log")->debug("msg=verified entries={}", expected - 1);
  return absl::OkStatus();
}

uint64_t AccessLog::size() const { return impl_->last_sequence.load(); }

absl::StatusOr<AccessLog::Head> AccessLog::Checkpoint(const std::string& destination) const {
  std::lock_guard<std::mutex> lock(impl_->record_mu);
  rocksdb::Checkpoint* raw = nullptr;
  RETURN_IF_ERROR(FromRocks(rocksdb::Checkpoint::Create(impl_->db.get(), &raw), "checkpoint"));
  std::unique_ptr<rocksdb::Checkpoint> checkpoint(raw);
  RETURN_IF_ERROR(FromRocks(checkpoint->CreateCheckpoint(destination), "checkpoint"));
  return Head{impl_->last_sequence.load(), impl_->last_hash};
}

}  // namespace kring::security
