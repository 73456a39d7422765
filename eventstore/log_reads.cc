// EventStore, log reads: by case, by position, the head, and the outbox
// watermark per Kafka cluster. Every read holds db_mu_ shared (LockDb). See
// event_store.h.
#include <google/protobuf/arena.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/bytes.h"
#include "common/errors.h"
#include "common/status.h"
#include "eventstore/chain.h"
#include "eventstore/event_pool.h"
#include "eventstore/store_internal.h"
#include "kring/storage/eventstore.pb.h"

namespace kring::eventstore {
namespace {

// A forward iterator over the stored events of positions [from, to], set up
// for a bulk scan (ScanAll, ScanChunks): read-ahead, and no filling of the
// block cache, which would only evict what point reads need. Held by pointer:
// the read options point into `upper`.
struct BulkScan {
  std::string upper;
  rocksdb::Slice upper_slice;
  rocksdb::ReadOptions ro;
  std::unique_ptr<rocksdb::Iterator> it;
};

std::unique_ptr<BulkScan> OpenBulkScan(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* cf, GlobalPosition from,
                                       GlobalPosition to) {
  auto scan = std::make_unique<BulkScan>();
  scan->ro.readahead_size = 2 << 20;
  scan->upper = BigEndian64(to.value() + 1);
  scan->upper_slice = rocksdb::Slice(scan->upper);
  if (to.value() != UINT64_MAX) scan->ro.iterate_upper_bound = &scan->upper_slice;
  scan->ro.fill_cache = false;
  scan->it.reset(db->NewIterator(scan->ro, cf));
  scan->it->Seek(BigEndian64(from.value()));
  return scan;
}

}  // namespace

absl::StatusOr<std::vector<v1::RecordedEvent>> EventStore::ReadCase(const CaseId& case_id, StreamVersion from,
                                                                    size_t max_count) const {
  ASSIGN_OR_RETURN(auto lock, LockDb());
  return ReadCaseLocked(case_id, from, max_count);
}

absl::StatusOr<std::vector<v1::RecordedEvent>> EventStore::ReadCaseLocked(const CaseId& case_id, StreamVersion from,
                                                                          size_t max_count) const {
  std::vector<v1::RecordedEvent> out;
  const std::string prefix = case_id.value() + std::string(1, '\0');
  const std::string start = StreamKey(case_id.value(), from.value());
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), streams_cf_));
  // The batch holding `from` starts at or before it.
  it->SeekForPrev(start);
  if (!it->Valid() || !it->key().starts_with(prefix)) it->Seek(start);
  std::string value;
  for (; it->Valid() && it->key().starts_with(prefix) && out.size() < max_count; it->Next()) {
    const uint64_t first_version = ReadBigEndian64(it->key().ToStringView().substr(prefix.size()));
    const uint64_t first_position = ReadBigEndian64(it->value().ToStringView());
    const uint64_t count = ReadBigEndian64(it->value().ToStringView().substr(8));
    for (uint64_t v = std::max(first_version, from.value()); v < first_version + count && out.size() < max_count; ++v) {
      const uint64_t position = first_position + (v - first_version);
      RETURN_IF_ERROR(
          FromRocks(db_->Get(rocksdb::ReadOptions(), events_cf_, BigEndian64(position), &value), "read event"));
      if (!out.emplace_back().ParseFromString(value)) {
        return absl::DataLossError(absl::StrCat("event store: unreadable event at position ", position));
      }
      RETURN_IF_ERROR(options_.upcasters->Apply(*out.back().mutable_event()));
    }
  }
  RETURN_IF_ERROR(FromRocks(it->status(), "read case"));
  return out;
}

absl::StatusOr<RecordedCaseHead> EventStore::ReadCaseHead(const CaseId& case_id) const {
  ASSIGN_OR_RETURN(auto lock, LockDb());
  // One read of the case's events (its stream index is iterated as of one
  // moment), so the head and the state agree.
  ASSIGN_OR_RETURN(std::vector<v1::RecordedEvent> events, ReadCaseLocked(case_id, StreamVersion(1), SIZE_MAX));
  RecordedCaseHead head;
  if (events.empty()) return head;
  head.version = StreamVersion(events.back().stream_version());
  head.last_event_id = events.back().event().event_id();
  head.last_position = GlobalPosition(events.back().global_position());
  head.state = FoldCaseState(events);
  return head;
}

absl::Status EventStore::ScanAll(GlobalPosition from, GlobalPosition to, const ScanFn& fn) const {
  ASSIGN_OR_RETURN(auto lock, LockDb());
  const std::unique_ptr<BulkScan> scan = OpenBulkScan(db_.get(), events_cf_, from, to);
  rocksdb::Iterator* it = scan->it.get();
  // Parsing into an arena, reset every so many events, spares the allocator
  // most of the work of a long scan.
  constexpr size_t kEventsPerArena = 1024;
  google::protobuf::Arena arena;
  v1::RecordedEvent* event = nullptr;
  size_t parsed = 0;
  for (; it->Valid(); it->Next()) {
    if (parsed++ % kEventsPerArena == 0) {
      arena.Reset();
      event = google::protobuf::Arena::CreateMessage<v1::RecordedEvent>(&arena);
    }
    if (!event->ParseFromArray(it->value().data(), static_cast<int>(it->value().size()))) {
      return absl::DataLossError(
          absl::StrCat("event store: unreadable event at position ", ReadBigEndian64(it->key().ToStringView())));
    }
    RETURN_IF_ERROR(options_.upcasters->Apply(*event->mutable_event()));
    if (!fn(*event, it->value().ToStringView())) break;
  }
  return FromRocks(it->status(), "scan");
}

absl::Status EventStore::ScanChunks(GlobalPosition from, GlobalPosition to, size_t max_events,
                                    const ChunkFn& fn) const {
  if (max_events == 0) return absl::InvalidArgumentError("event store: max_events must be at least 1");
  ASSIGN_OR_RETURN(auto lock, LockDb());
  const std::unique_ptr<BulkScan> scan = OpenBulkScan(db_.get(), events_cf_, from, to);
  rocksdb::Iterator* it = scan->it.get();
  // The chunk's messages are parsed into again for the next chunk.
  RecordedEventPool pool(/*initial_block=*/8 << 20, /*reset_after=*/64 << 20);
  std::vector<const v1::RecordedEvent*> chunk;
  chunk.reserve(std::min<size_t>(max_events, 1 << 16));
  bool more = true;
  auto hand_over = [&] {
    more = fn(absl::MakeConstSpan(chunk));
    chunk.clear();
    pool.EndRound();
  };
  for (; it->Valid() && more; it->Next()) {
    v1::RecordedEvent* event = pool.At(chunk.size());
    if (!event->ParseFromArray(it->value().data(), static_cast<int>(it->value().size()))) {
      return absl::DataLossError(
          absl::StrCat("event store: unreadable event at position ", ReadBigEndian64(it->key().ToStringView())));
    }
    RETURN_IF_ERROR(options_.upcasters->Apply(*event->mutable_event()));
    chunk.push_back(event);
    if (chunk.size() >= max_events) hand_over();
  }
  RETURN_IF_ERROR(FromRocks(it->status(), "scan"));
  if (more && !chunk.empty()) hand_over();
  return absl::OkStatus();
}

absl::StatusOr<std::vector<v1::RecordedEvent>> EventStore::ReadAll(GlobalPosition from, size_t max_count) const {
  std::vector<v1::RecordedEvent> out;
  if (max_count == 0) return out;
  RETURN_IF_ERROR(ScanAll(from, GlobalPosition(UINT64_MAX), [&](const v1::RecordedEvent& e, std::string_view) {
    out.push_back(e);
    return out.size() < max_count;
  }));
  return out;
}

absl::StatusOr<StreamVersion> EventStore::CaseVersion(const CaseId& case_id) const {
  ASSIGN_OR_RETURN(auto lock, LockDb());
  ASSIGN_OR_RETURN(uint64_t v, LoadCaseVersion(case_id.value()));
  return StreamVersion(v);
}

GlobalPosition EventStore::WaitForHead(GlobalPosition after, std::chrono::milliseconds timeout) const {
  std::unique_lock<std::mutex> lock(head_mu_);
  head_cv_.wait_for(lock, timeout, [&] { return head_.load() > after.value(); });
  return Head();
}

absl::StatusOr<GlobalPosition> EventStore::FirstUnpublished(const std::string& cluster_id) const {
  ASSIGN_OR_RETURN(auto lock, LockDb());
  return FirstUnpublishedLocked(cluster_id);
}

absl::StatusOr<GlobalPosition> EventStore::FirstUnpublishedLocked(const std::string& cluster_id) const {
  std::string value;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), kPublishedPrefix + cluster_id, &value);
  if (s.IsNotFound()) return GlobalPosition(1);
  RETURN_IF_ERROR(FromRocks(s, "read published watermark"));
  return GlobalPosition(ReadBigEndian64(value) + 1);
}

absl::Status EventStore::MarkPublished(const std::string& cluster_id, GlobalPosition up_to) {
  if (up_to > Head()) {
    return absl::InvalidArgumentError(absl::StrCat("event store: cannot mark position ", up_to.value(),
                                                   " published beyond the head ", Head().value()));
  }
  ASSIGN_OR_RETURN(auto lock, LockDb());
  ASSIGN_OR_RETURN(GlobalPosition first_unpublished, FirstUnpublishedLocked(cluster_id));
  if (up_to < first_unpublished) return absl::OkStatus();  // never move back
  return FromRocks(db_->Put(rocksdb::WriteOptions(), kPublishedPrefix + cluster_id, BigEndian64(up_to.value())),
                   "mark published");
}

absl::StatusOr<std::string> EventStore::ReadRecord(uint64_t position) const {
  std::string value;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), events_cf_, BigEndian64(position), &value);
  if (s.IsNotFound()) return absl::NotFoundError(absl::StrCat("no event at position ", position));
  RETURN_IF_ERROR(FromRocks(s, "read event"));
  return value;
}

}  // namespace kring::eventstore
