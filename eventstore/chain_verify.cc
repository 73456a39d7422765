// EventStore, chain verification: VerifyChain and VerifyCase (chain.h has
// the record format). See event_store.h.
#include "absl/strings/str_cat.h"
#include "common/bytes.h"
#include "common/errors.h"
#include "common/status.h"
#include "eventstore/chain.h"
#include "eventstore/store_internal.h"
#include "kring/storage/eventstore.pb.h"

namespace kring::eventstore {
namespace {

// Checks records one after another against the chain; the first failure
// ends the walk. Buffers are reused: verification runs over whole logs.
class ChainChecker {
 public:
  // The record `stored` at position `stored_at` must link to `global_prev`
  // in the log and `case_prev` in its case, and be version
  // `expected_version` of its case (`expected_case` when not null).
  bool Check(uint64_t stored_at, std::string_view stored, std::string_view global_prev, std::string_view case_prev,
             uint64_t expected_version, const std::string* expected_case) {
    auto hash = CheckRecordHash(stored);
    if (!hash.ok()) return Fail(stored_at, std::string(hash.status().message()));
    if (!ReadChainFields(stored, &view_)) return Fail(stored_at, "the record does not parse");
    if (view_.global_position != stored_at) {
      return Fail(stored_at, absl::StrCat("the record says global position ", view_.global_position,
                                          " but is stored at ", stored_at, " (records moved or swapped)"));
    }
    if (view_.prev_hash != global_prev) {
      return Fail(stored_at, absl::StrCat("prev_hash does not match the hash of position ", stored_at - 1));
    }
    if (expected_case != nullptr && view_.case_id != *expected_case) {
      return Fail(stored_at, "the record belongs to another case than its index says");
    }
    if (view_.stream_version != expected_version) {
      return Fail(stored_at, absl::StrCat("stream version ", view_.stream_version, " where version ", expected_version,
                                          " of its case was expected"));
    }
    if (view_.case_prev_hash != case_prev) {
      return Fail(stored_at,
                  absl::StrCat("case_prev_hash does not match the hash of the case's version ", expected_version - 1));
    }
    result_.events_verified++;
    result_.last_position = GlobalPosition(stored_at);
    result_.head_hash.assign(*hash);
    return true;
  }

  // No record at `position`; `next_stored` is the next position that has
  // one (0: none).
  bool Missing(uint64_t position, uint64_t next_stored) {
    std::string reason = absl::StrCat("position ", position, " is missing from the log");
    if (next_stored != 0) absl::StrAppend(&reason, " (the next stored record is at ", next_stored, ")");
    return Fail(position, std::move(reason));
  }

  bool Fail(uint64_t position, std::string reason) {
    result_.ok = false;
    result_.first_bad_position = GlobalPosition(position);
    result_.reason = std::move(reason);
    return false;
  }

  const ChainVerification& result() const { return result_; }
  // The hash of the last record that verified.
  const std::string& last_hash() const { return result_.head_hash; }

 private:
  ChainVerification result_;
  ChainFields view_;
};

// The hash a record carries, without checking it.
std::string CarriedHash(std::string_view stored) {
  ChainFields fields;
  return ReadChainFields(stored, &fields) ? std::string(fields.hash) : std::string();
}

}  // namespace

absl::StatusOr<ChainVerification> EventStore::VerifyChain(GlobalPosition from, GlobalPosition to) const {
  const uint64_t first = std::max<uint64_t>(from.value(), 1);
  const uint64_t last = std::min(to.value(), Head().value());
  ChainChecker checker;
  if (first > last) return checker.result();
  ASSIGN_OR_RETURN(auto lock, LockDb());
  // What the first record must link to: its predecessor, trusted as stored.
  std::string global_prev;
  if (first > 1) {
    ASSIGN_OR_RETURN(std::string prev, ReadRecord(first - 1));
    global_prev = CarriedHash(prev);
  }
  // Per case: the version and hash of its last record seen.
  struct CaseTip {
    uint64_t version = 0;
    std::string hash;
  };
  std::unordered_map<std::string, CaseTip> tips;
  rocksdb::ReadOptions ro;
  ro.readahead_size = 2 << 20;
  ro.fill_cache = false;
  const std::string upper = BigEndian64(last + 1);
  rocksdb::Slice upper_slice(upper);
  ro.iterate_upper_bound = &upper_slice;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, events_cf_));
  uint64_t expected = first;
  ChainFields key_fields;
  std::string case_key;
  for (it->Seek(BigEndian64(first)); it->Valid(); it->Next(), ++expected) {
    const uint64_t at = ReadBigEndian64(it->key().ToStringView());
    const std::string_view stored = it->value().ToStringView();
    if (at != expected) {
      checker.Missing(expected, at);
      return checker.result();
    }
    ReadChainFields(stored, &key_fields);  // checked below
    case_key.assign(key_fields.case_id);
    auto [tip, fresh] = tips.try_emplace(case_key);
    if (fresh && key_fields.stream_version > 1) {
      // The case's previous record lies before the range.
      tip->second.version = key_fields.stream_version - 1;
      auto events = ReadCaseLocked(CaseId(std::string(key_fields.case_id)), StreamVersion(tip->second.version), 1);
      if (!events.ok() || events->empty()) {
        checker.Fail(at, absl::StrCat("the case's previous event (version ", tip->second.version, ") cannot be read"));
        return checker.result();
      }
      tip->second.hash = (*events)[0].hash();
    }
    if (!checker.Check(at, stored, global_prev, tip->second.hash, tip->second.version + 1, nullptr)) {
      return checker.result();
    }
    global_prev.assign(checker.last_hash());
    tip->second.version++;
    tip->second.hash.assign(checker.last_hash());
  }
  RETURN_IF_ERROR(FromRocks(it->status(), "verify"));
  if (expected <= last) checker.Missing(expected, 0);
  return checker.result();
}

absl::StatusOr<ChainVerification> EventStore::VerifyCase(const CaseId& case_id) const {
  ASSIGN_OR_RETURN(auto lock, LockDb());
  ChainChecker checker;
  const std::string prefix = case_id.value() + std::string(1, '\0');
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), streams_cf_));
  std::string case_prev;
  uint64_t version = 0;
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
    const uint64_t first_position = ReadBigEndian64(it->value().ToStringView());
    const uint64_t count = ReadBigEndian64(it->value().ToStringView().substr(8));
    // A batch's events lie at consecutive positions: only the first one's
    // predecessor in the log belongs to another case and must be read.
    std::string global_prev;
    if (first_position > 1) {
      if (auto prev = ReadRecord(first_position - 1); prev.ok()) global_prev = CarriedHash(*prev);
    }
    for (uint64_t position = first_position; position < first_position + count; ++position) {
      auto stored = ReadRecord(position);
      if (absl::IsNotFound(stored.status())) {
        checker.Missing(position, 0);
        return checker.result();
      }
      RETURN_IF_ERROR(stored.status());
      if (!checker.Check(position, *stored, global_prev, case_prev, ++version, &case_id.value())) {
        return checker.result();
      }
      case_prev = global_prev = checker.last_hash();
    }
  }
  RETURN_IF_ERROR(FromRocks(it->status(), "verify case"));
  return checker.result();
}

}  // namespace kring::eventstore
