// Internals shared by the event store's source files (not part of its API):
// column family names and options, key and value encodings, and the state of
// the group the writer is building. The files split EventStore by job:
//   event_store.cc  lifecycle, group commit, failed writes and write health
//   staging.cc      staging a batch into a group (idempotency, access,
//                   versions, case rules, chain)
//   log_reads.cc    reads by case and by position, and the outbox watermark
//   chain_verify.cc hash-chain verification
#pragma once

#include <google/protobuf/timestamp.pb.h>
#include <rocksdb/db.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/memtablerep.h>
#include <rocksdb/slice_transform.h>
#include <rocksdb/table.h>
#include <rocksdb/write_batch.h>

#include <atomic>
#include <string>
#include <string_view>
#include <unordered_map>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/bytes.h"
#include "eventstore/event_store.h"
#include "eventstore/id_memtable.h"

namespace kring::eventstore {

// Where an already-recorded event id lives.
struct RecordedId {
  uint64_t position;
  uint64_t version;
  std::string case_id;
};

inline constexpr const char* kEvents = "events";
inline constexpr const char* kStreams = "streams";
inline constexpr const char* kEventIds = "event_ids";
inline constexpr const char* kHeads = "heads";
inline const std::string kPublishedPrefix = "published/";

inline absl::Status FromRocks(const rocksdb::Status& s, const char* what) {
  if (s.ok()) return absl::OkStatus();
  const std::string message = absl::StrCat("event store: ", what, ": ", s.ToString());
  if (s.IsNoSpace()) return absl::ResourceExhaustedError(message);
  return absl::InternalError(message);
}

inline std::string StreamKey(std::string_view case_id, uint64_t version) {
  std::string key(case_id);
  key.push_back('\0');
  PutBigEndian64(&key, version);
  return key;
}

// For keys looked up one by one, mostly absent (event ids of new events):
// bloom filters in the tables and in the memtable answer "absent" cheaply.
inline rocksdb::ColumnFamilyOptions PointLookupOptions() {
  rocksdb::ColumnFamilyOptions cf;
  rocksdb::BlockBasedTableOptions table;
  table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
  cf.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  cf.memtable_whole_key_filtering = true;
  cf.memtable_prefix_bloom_size_ratio = 0.05;
  // Random keys and small values compress poorly; spare the CPU.
  cf.compression = rocksdb::kNoCompression;
  return cf;
}

// Event ids are only ever looked up whole, never scanned: a hashed memtable
// (id_memtable.h) makes the insert of a random UUID O(1) instead of a skiplist
// search, and sorts the ids once, cheaply, when the memtable is flushed. A
// 32 MiB memtable holds about 290,000 ids, one bucket each.
inline rocksdb::ColumnFamilyOptions EventIdOptions() {
  rocksdb::ColumnFamilyOptions cf = PointLookupOptions();
  cf.prefix_extractor.reset(rocksdb::NewFixedPrefixTransform(8));
  cf.memtable_factory = NewIdMemTableFactory(1 << 18);
  cf.write_buffer_size = 32 << 20;
  cf.max_write_buffer_number = 4;
  return cf;
}

inline void AppendVarint(std::string* out, uint64_t v) {
  while (v >= 0x80) {
    out->push_back(static_cast<char>(v | 0x80));
    v >>= 7;
  }
  out->push_back(static_cast<char>(v));
}

inline std::string EncodeRecordedId(uint64_t position, uint64_t version, std::string_view case_id) {
  std::string v = BigEndian64(position);
  PutBigEndian64(&v, version);
  v.append(case_id);
  return v;
}

inline RecordedId DecodeRecordedId(std::string_view v) {
  return {ReadBigEndian64(v), ReadBigEndian64(v.substr(8)), std::string(v.substr(16))};
}

// What the writer has staged in the group being built, so that later requests
// of the same group see the effects of earlier ones. `previous` is the group
// kring-wal is still writing (not yet visible in the database): staging looks
// there after its own maps and before the database.
struct EventStore::GroupState {
  const GroupState* previous = nullptr;
  uint64_t first_position = 0;  // of the group: the head before it + 1
  rocksdb::WriteBatch batch;
  uint64_t next_position;
  std::unordered_map<std::string, CaseState> cases;  // case -> rule state after staged events
  std::unordered_map<std::string, RecordedId> ids;   // event id -> where staged
  struct Staged {
    const std::string* bytes;   // the event's bytes
    const std::string* source;  // who sent it
  };
  std::unordered_map<std::string, Staged> staged_bytes;  // event id -> what was staged
  google::protobuf::Timestamp recorded_at;
  std::string last_hash;  // of the last event staged (or recorded)

  // Where an event id is staged, in this group or the previous one.
  const RecordedId* FindId(const std::string& event_id) const {
    for (const GroupState* g = this; g != nullptr; g = g->previous) {
      if (auto it = g->ids.find(event_id); it != g->ids.end()) return &it->second;
    }
    return nullptr;
  }
  const Staged* FindStaged(const std::string& event_id) const {
    for (const GroupState* g = this; g != nullptr; g = g->previous) {
      if (auto it = g->staged_bytes.find(event_id); it != g->staged_bytes.end()) return &it->second;
    }
    return nullptr;
  }
};

// A staged group on its way through kring-wal.
struct EventStore::InFlight {
  std::deque<Pending> group;  // kept until collected: the next group's staging reads its bytes
  GroupState state;
  Completion completion;
  // Set by kring-wal before `done`: OK, or why the write failed.
  absl::Status failure;
  bool no_space = false;
  std::atomic<bool> done{false};  // written (or failed) and acknowledgements handed on
};

}  // namespace kring::eventstore
