#include "eventstore/event_store.h"

#include <google/protobuf/arena.h>
#include <pthread.h>
#include <rocksdb/db.h>
#include <rocksdb/env.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/listener.h>
#include <rocksdb/memtablerep.h>
#include <rocksdb/slice_transform.h>
#include <rocksdb/table.h>
#include <rocksdb/utilities/checkpoint.h>
#include <rocksdb/write_batch.h>

#include <future>

#include "absl/strings/str_cat.h"
#include "common/bytes.h"
#include "common/errors.h"
#include "common/log.h"
#include "common/status.h"
#include "common/time.h"
#include "eventstore/chain.h"
#include "eventstore/info_log.h"
#include "kring/storage/eventstore.pb.h"

namespace kring::eventstore {

// Where an already-recorded event id lives.
struct RecordedId {
  uint64_t position;
  uint64_t version;
  std::string case_id;
};

namespace {

constexpr const char* kEvents = "events";
constexpr const char* kStreams = "streams";
constexpr const char* kEventIds = "event_ids";
constexpr const char* kHeads = "heads";
const std::string kPublishedPrefix = "published/";

absl::Status FromRocks(const rocksdb::Status& s, const char* what) {
  if (s.ok()) return absl::OkStatus();
  const std::string message = absl::StrCat("event store: ", what, ": ", s.ToString());
  if (s.IsNoSpace()) return absl::ResourceExhaustedError(message);
  return absl::InternalError(message);
}

// Switches RocksDB's automatic recovery from background errors off: in 7.8
// it may reuse the WAL writer that saw the error, which aborts on Debian's
// librocksdb (assertion `sync_without_flush_called_`). The store recovers by
// reopening the database instead (EventStore::Reopen).
class NoAutoRecovery : public rocksdb::EventListener {
 public:
  const char* Name() const override { return "KringNoAutoRecovery"; }
  void OnErrorRecoveryBegin(rocksdb::BackgroundErrorReason, rocksdb::Status, bool* auto_recovery) override {
    *auto_recovery = false;
  }
};

std::string Mib(uint64_t bytes) { return absl::StrCat(bytes >> 20, " MiB"); }

std::string StreamKey(std::string_view case_id, uint64_t version) {
  std::string key(case_id);
  key.push_back('\0');
  PutBigEndian64(&key, version);
  return key;
}

// For keys looked up one by one, mostly absent (event ids of new events):
// bloom filters in the tables and in the memtable answer "absent" cheaply.
rocksdb::ColumnFamilyOptions PointLookupOptions() {
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
// makes the insert of a random UUID O(1) instead of a skiplist search, which
// was the writer thread's largest cost. Ids are canonical UUIDs, so their
// first 8 characters spread evenly over the buckets.
rocksdb::ColumnFamilyOptions EventIdOptions() {
  rocksdb::ColumnFamilyOptions cf = PointLookupOptions();
  cf.prefix_extractor.reset(rocksdb::NewFixedPrefixTransform(8));
  cf.memtable_factory.reset(rocksdb::NewHashSkipListRepFactory(1 << 20));
  // Flushing a hashed memtable sorts it first; smaller memtables, and room for
  // more of them while one flushes, keep appends from stalling behind that.
  cf.write_buffer_size = 32 << 20;
  cf.max_write_buffer_number = 4;
  return cf;
}

void AppendVarint(std::string* out, uint64_t v) {
  while (v >= 0x80) {
    out->push_back(static_cast<char>(v | 0x80));
    v >>= 7;
  }
  out->push_back(static_cast<char>(v));
}

std::string EncodeRecordedId(uint64_t position, uint64_t version, std::string_view case_id) {
  std::string v = BigEndian64(position);
  PutBigEndian64(&v, version);
  v.append(case_id);
  return v;
}

RecordedId DecodeRecordedId(std::string_view v) {
  return {ReadBigEndian64(v), ReadBigEndian64(v.substr(8)), std::string(v.substr(16))};
}

}  // namespace

// What the writer has staged in the group being built, so that later requests
// of the same group see the effects of earlier ones.
struct EventStore::GroupState {
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
};

EventStore::EventStore(EventStoreOptions options) : options_(std::move(options)) {}

absl::StatusOr<std::unique_ptr<EventStore>> EventStore::Open(EventStoreOptions options) {
  if (options.path.empty()) return absl::InvalidArgumentError("event store: path is required");
  std::unique_ptr<EventStore> store(new EventStore(std::move(options)));
  RETURN_IF_ERROR(store->OpenDb());
  store->writer_ = std::thread([s = store.get()] {
    pthread_setname_np(pthread_self(), "kring-writer");
    s->WriterLoop();
  });
  store->completer_ = std::thread([s = store.get()] {
    pthread_setname_np(pthread_self(), "kring-acks");
    s->CompletionLoop();
  });
  return store;
}

absl::Status EventStore::OpenDb(bool read_only) {
  rocksdb::DBOptions db_options;
  if (options_.env != nullptr) db_options.env = options_.env;
  db_options.listeners.push_back(std::make_shared<NoAutoRecovery>());
  // RocksDB's own LOG writer aborts the process on its first line after a
  // failed write (info_log.h).
  db_options.info_log = NewInfoLog(options_.path);
  db_options.max_bgerror_resume_count = 0;
  db_options.create_if_missing = true;
  db_options.create_missing_column_families = true;
  db_options.max_background_jobs = 2;
  db_options.bytes_per_sync = 1 << 20;
  // One writer thread writes everything, and the hashed memtable of event ids
  // does not support concurrent inserts.
  db_options.allow_concurrent_memtable_write = false;

  rocksdb::ColumnFamilyOptions sequential;
  sequential.write_buffer_size = 64 << 20;
  sequential.compression = rocksdb::kLZ4Compression;
  std::vector<rocksdb::ColumnFamilyDescriptor> cfs = {
      {rocksdb::kDefaultColumnFamilyName, rocksdb::ColumnFamilyOptions()},
      {kEvents, sequential},
      {kStreams, PointLookupOptions()},
      {kEventIds, EventIdOptions()},
      {kHeads, PointLookupOptions()},
  };
  rocksdb::DB* raw = nullptr;
  if (read_only) {
    RETURN_IF_ERROR(
        FromRocks(rocksdb::DB::OpenForReadOnly(db_options, options_.path, cfs, &handles_, &raw), "open read-only"));
  } else {
    RETURN_IF_ERROR(FromRocks(rocksdb::DB::Open(db_options, options_.path, cfs, &handles_, &raw), "open"));
  }
  db_.reset(raw);
  events_cf_ = handles_[1];
  streams_cf_ = handles_[2];
  event_ids_cf_ = handles_[3];
  heads_cf_ = handles_[4];

  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), events_cf_));
  it->SeekToLast();
  RETURN_IF_ERROR(FromRocks(it->status(), "find head"));
  std::string last_hash;
  if (it->Valid()) {
    ASSIGN_OR_RETURN(last_hash, CheckRecordHash(it->value().ToStringView()));
  }
  // A reopen after a failed write may find that write on disk after all
  // (it reached the WAL before its sync failed): the head moves on to it.
  {
    std::lock_guard<std::mutex> lock(head_mu_);
    head_.store(it->Valid() ? ReadBigEndian64(it->key().ToStringView()) : 0, std::memory_order_release);
  }
  head_cv_.notify_all();
  last_hash_ = std::move(last_hash);
  Logger("eventstore")->info("msg=opened head_position={} read_only={}", head_.load(), read_only);
  return absl::OkStatus();
}

void EventStore::CloseDb() {
  if (!db_) return;
  for (auto* h : handles_) db_->DestroyColumnFamilyHandle(h);
  handles_.clear();
  // After a failed write Close reports that error again; nothing is lost by
  // it (the WAL holds every synced write).
  auto s = db_->Close();
  if (!s.ok()) Logger("eventstore")->warn("msg=close_status status=\"{}\"", s.ToString());
  db_.reset();
  events_cf_ = streams_cf_ = event_ids_cf_ = heads_cf_ = nullptr;
}

absl::StatusOr<std::shared_lock<std::shared_mutex>> EventStore::LockDb() const {
  std::shared_lock<std::shared_mutex> lock(db_mu_);
  if (!db_) {
    return absl::UnavailableError(
        "event store: the database is closed (shut down, or being reopened after a failed write)");
  }
  return lock;
}

EventStore::~EventStore() { Close(); }

void EventStore::StopAppends() {
  {
    std::lock_guard<std::mutex> lock(queue_mu_);
    closing_ = true;
  }
  queue_cv_.notify_all();
  if (writer_.joinable()) writer_.join();
  {
    std::lock_guard<std::mutex> lock(completion_mu_);
    writer_done_ = true;
  }
  completion_cv_.notify_all();
  if (completer_.joinable()) completer_.join();
}

void EventStore::Close() {
  StopAppends();
  std::lock_guard<std::mutex> lock(queue_mu_);
  if (closed_) return;
  closed_ = true;
  std::unique_lock<std::shared_mutex> db_lock(db_mu_);
  if (db_) {
    CloseDb();
    Logger("eventstore")
        ->info("msg=closed head_position={} groups={} mean_group_requests={:.2f}", head_.load(), groups_written_,
               groups_written_ ? double(requests_written_) / groups_written_ : 0.0);
  }
}

void EventStore::AppendAsync(AppendBatch batch, AppendCallback done) {
  if (absl::Status s = ValidateBatch(batch, options_.validation, Now()); !s.ok()) {
    done(s);
    return;
  }
  // Seal and serialize here, on the caller's thread, so the writer only
  // frames bytes. The personal part never reaches the writer in clear.
  std::vector<v1::SealedPersonalData> sealed;
  for (size_t i = 0; i < batch.events.size(); ++i) {
    v1::Event& e = batch.events[i];
    if (!e.has_personal()) continue;
    if (!options_.sealer) {
      done(BadRequestError(absl::StrCat("events[", i, "].personal"),
                           "this server has no master key (--master-key-file), so it cannot seal personal data; "
                           "leave it empty",
                           absl::StatusCode::kFailedPrecondition));
      return;
    }
    absl::StatusOr<v1::SealedPersonalData> s = options_.sealer->Seal(batch.case_id.value(), e.event_id(), e.personal());
    if (!s.ok()) {
      done(absl::Status(s.status().code(), absl::StrCat("events[", i, "].personal: ", s.status().message())));
      return;
    }
    sealed.resize(batch.events.size());
    sealed[i] = *std::move(s);
    e.clear_personal();
  }
  std::vector<std::string> serialized(batch.events.size());
  for (size_t i = 0; i < batch.events.size(); ++i) batch.events[i].SerializeToString(&serialized[i]);
  {
    std::lock_guard<std::mutex> lock(queue_mu_);
    if (!closing_) {
      queue_.push_back(Pending{std::move(batch), std::move(serialized), std::move(sealed), std::move(done)});
      queue_cv_.notify_one();
      return;
    }
  }
  done(absl::UnavailableError("event store: shutting down, not taking appends"));
}

absl::StatusOr<AppendOutcome> EventStore::Append(AppendBatch batch) {
  std::promise<absl::StatusOr<AppendOutcome>> promise;
  auto future = promise.get_future();
  AppendAsync(std::move(batch), [&promise](absl::StatusOr<AppendOutcome> r) { promise.set_value(std::move(r)); });
  return future.get();
}

void EventStore::WriterLoop() {
  std::vector<Pending> group;
  while (true) {
    {
      std::unique_lock<std::mutex> lock(queue_mu_);
      auto ready = [this] { return closing_ || !queue_.empty(); };
      if (refusal_.ok()) {
        queue_cv_.wait(lock, ready);
      } else {
        // Appends are refused: look again after a while even if none comes,
        // so that health recovers by itself.
        queue_cv_.wait_for(lock, options_.recovery_interval, ready);
      }
      if (closing_ && queue_.empty()) return;  // closing and drained
      size_t events = 0;
      while (!queue_.empty() && group.size() < options_.max_group_requests) {
        const size_t n = queue_.front().batch.events.size();
        if (!group.empty() && events + n > options_.max_group_events) break;
        events += n;
        group.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
    }
    const absl::Status writable = CheckWritable();
    if (group.empty()) continue;  // woken only to look again
    Completion completion;
    if (writable.ok()) {
      completion = WriteGroup(group);
      groups_written_++;
      requests_written_ += group.size();
    } else {
      completion = Refuse(group, writable);
    }
    group.clear();
    bool more_waiting;
    {
      std::lock_guard<std::mutex> lock(queue_mu_);
      more_waiting = !queue_.empty();
    }
    std::unique_lock<std::mutex> lock(completion_mu_);
    if (more_waiting || !completions_.empty() || delivering_) {
      // Others wait to be written: hand the acknowledgements over and start
      // the next group at once.
      completions_.push_back(std::move(completion));
      lock.unlock();
      completion_cv_.notify_one();
    } else {
      // Nobody waits and the completion thread is idle: acknowledging here
      // saves a thread hop of latency and keeps the order.
      lock.unlock();
      Deliver(completion);
    }
    if (options_.after_group) options_.after_group();
  }
}

void EventStore::Deliver(Completion& c) {
  for (size_t i = 0; i < c.callbacks.size(); ++i) c.callbacks[i](std::move(c.results[i]));
}

void EventStore::CompletionLoop() {
  while (true) {
    Completion c;
    {
      std::unique_lock<std::mutex> lock(completion_mu_);
      completion_cv_.wait(lock, [this] { return writer_done_ || !completions_.empty(); });
      if (completions_.empty()) return;  // writer stopped and all delivered
      c = std::move(completions_.front());
      completions_.pop_front();
      delivering_ = true;
    }
    Deliver(c);
    std::lock_guard<std::mutex> lock(completion_mu_);
    delivering_ = false;
  }
}

const char* WriteHealthName(WriteHealth::State state) {
  switch (state) {
    case WriteHealth::State::kOk:
      return "ok";
    case WriteHealth::State::kDiskFull:
      return "disk_full";
    case WriteHealth::State::kWriteFailed:
      return "write_failed";
  }
  return "unknown";
}

WriteHealth EventStore::write_health() const {
  std::lock_guard<std::mutex> lock(health_mu_);
  return health_;
}

void EventStore::WatchWriteHealth(std::function<void(const WriteHealth&)> listener) {
  std::lock_guard<std::mutex> lock(health_mu_);
  health_listener_ = std::move(listener);
  if (health_listener_) health_listener_(health_);
}

void EventStore::SetWriteHealth(WriteHealth::State state, std::string reason) {
  std::lock_guard<std::mutex> lock(health_mu_);
  if (health_.state == state && health_.reason == reason) return;
  if (state == WriteHealth::State::kOk) {
    Logger("eventstore")->info("msg=appends_resumed was={}", WriteHealthName(health_.state));
  } else {
    Logger("eventstore")->error("msg=appends_refused state={} reason=\"{}\"", WriteHealthName(state), reason);
  }
  health_.state = state;
  health_.reason = std::move(reason);
  if (health_listener_) health_listener_(health_);
}

absl::StatusOr<uint64_t> EventStore::FreeBytes() const {
  rocksdb::Env* env = options_.env != nullptr ? options_.env : rocksdb::Env::Default();
  uint64_t free = 0;
  RETURN_IF_ERROR(FromRocks(env->GetFreeSpace(options_.path, &free), "free space"));
  return free;
}

absl::Status EventStore::CheckWritable() {
  const auto now = std::chrono::steady_clock::now();
  if (!refusal_.ok() && now < next_recovery_) return refusal_;
  if (options_.min_free_bytes > 0) {
    absl::StatusOr<uint64_t> free = FreeBytes();
    if (!free.ok()) {
      // Unknown free space does not stop appends; a failed write would.
      Logger("eventstore")->warn("msg=free_space_unknown status=\"{}\"", free.status().ToString());
    } else if (*free < options_.min_free_bytes) {
      std::string reason =
          absl::StrCat("the data folder's file system has ", Mib(*free), " free, below the minimum of ",
                       Mib(options_.min_free_bytes), " (min_free_bytes, kringd --min-free-mib)");
      refusal_ = absl::ResourceExhaustedError(
          absl::StrCat("disk full: ", reason, "; nothing of this batch was recorded, retry it once space is freed"));
      next_recovery_ = now + options_.recovery_interval;
      SetWriteHealth(WriteHealth::State::kDiskFull, std::move(reason));
      return refusal_;
    }
  }
  if (needs_reopen_) {
    absl::Status s = Reopen();
    // From the end of this attempt: a reopen can take a while (it replays
    // the WAL), and appends are refused at once in between.
    next_recovery_ = std::chrono::steady_clock::now() + options_.recovery_interval;
    if (!s.ok()) {
      const bool no_space = absl::IsResourceExhausted(s);
      refusal_ = absl::Status(
          no_space ? absl::StatusCode::kResourceExhausted : absl::StatusCode::kUnavailable,
          absl::StrCat(no_space ? "disk full: " : "event store: ",
                       "cannot write (the database could not be reopened after a failed write: ", s.message(),
                       "); nothing of this batch was recorded, and appends resume by themselves once it can"));
      SetWriteHealth(no_space ? WriteHealth::State::kDiskFull : WriteHealth::State::kWriteFailed,
                     absl::StrCat("reopen failed: ", s.message()));
      return refusal_;
    }
    needs_reopen_ = false;
  }
  refusal_ = absl::OkStatus();
  SetWriteHealth(WriteHealth::State::kOk, "");
  return refusal_;
}

absl::Status EventStore::Reopen() {
  auto log = Logger("eventstore");
  log->info("msg=reopening_after_failed_write");
  std::unique_lock<std::shared_mutex> lock(db_mu_);
  CloseDb();
  // The cached case states may hold effects of the failed write; the head
  // and last hash are read again by OpenDb.
  case_states_.clear();
  absl::Status s = OpenDb();
  if (s.ok()) return s;
  log->error("msg=reopen_failed status=\"{}\"", s.ToString());
  // Keep reads working meanwhile: a read-only open writes nothing.
  CloseDb();
  if (absl::Status ro = OpenDb(/*read_only=*/true); !ro.ok()) {
    log->error("msg=reopen_read_only_failed status=\"{}\"", ro.ToString());
    CloseDb();
  }
  return s;
}

EventStore::Completion EventStore::Refuse(std::vector<Pending>& group, const absl::Status& status) {
  Completion completion;
  for (Pending& p : group) {
    completion.callbacks.push_back(std::move(p.done));
    completion.results.emplace_back(status);
  }
  return completion;
}

EventStore::Completion EventStore::WriteGroup(std::vector<Pending>& group) {
  GroupState state;
  const uint64_t durable_head = head_.load();
  state.next_position = durable_head + 1;
  state.last_hash = last_hash_;
  state.recorded_at = ToTimestamp(Now());

  Completion completion;
  auto& results = completion.results;
  results.reserve(group.size());
  for (const Pending& p : group) results.push_back(Stage(p, state));

  const uint64_t last_position = state.next_position - 1;
  // The group's case states go back to the cache unless a write of them
  // failed (then those cases are folded again from the store when needed).
  bool keep_case_states = true;
  if (state.batch.Count() > 0) {
    if (options_.before_group_write) options_.before_group_write(group.size());
    rocksdb::WriteOptions wo;
    wo.sync = options_.sync;
    const rocksdb::Status s = db_->Write(wo, &state.batch);
    if (!s.ok()) {
      Logger("eventstore")->error("msg=group_write_failed requests={} status=\"{}\"", group.size(), s.ToString());
      // Whether the write reached the disk is unknown (it may be in the WAL
      // although its sync failed): the answer says so, and a retry with the
      // same event ids is answered with the positions if it is there.
      const char* outcome =
          "; the batch may or may not have been recorded: retry it unchanged (same event ids) once appends resume, "
          "and a recorded batch is answered with its positions";
      absl::Status failed;
      if (s.IsNoSpace()) {
        failed = absl::ResourceExhaustedError(
            absl::StrCat("disk full: the event store's write failed for lack of space", outcome));
        SetWriteHealth(WriteHealth::State::kDiskFull, absl::StrCat("a write failed for lack of space: ", s.ToString()));
      } else {
        // The RocksDB status (with file names) goes to the log, not to clients.
        failed = absl::UnavailableError(absl::StrCat("event store: the write failed", outcome));
        SetWriteHealth(WriteHealth::State::kWriteFailed, absl::StrCat("a write failed: ", s.ToString()));
      }
      // Every answer that depends on this write fails with it: new batches,
      // and retries of batches staged earlier in this group (their positions
      // lie past the durable head too).
      for (auto& r : results) {
        if (r.ok() && r->last_position.value() > durable_head) r = failed;
      }
      keep_case_states = false;
      // RocksDB's WAL writer saw the error and must not be used again: no
      // write until the database is reopened (CheckWritable).
      needs_reopen_ = true;
      refusal_ = absl::Status(failed.code(), absl::StrCat(s.IsNoSpace() ? "disk full: " : "event store: ",
                                                          "appends are refused after a failed write until the "
                                                          "database is reopened, which the store retries by itself; "
                                                          "nothing of this batch was recorded"));
      next_recovery_ = std::chrono::steady_clock::now();
    } else {
      last_hash_ = state.last_hash;
      {
        std::lock_guard<std::mutex> lock(head_mu_);
        head_.store(last_position, std::memory_order_release);
      }
      head_cv_.notify_all();
    }
  }
  if (keep_case_states) {
    if (case_states_.size() + state.cases.size() > options_.max_cached_cases) case_states_.clear();
    for (auto& [case_id, case_state] : state.cases) case_states_[case_id] = std::move(case_state);
  }
  for (Pending& p : group) completion.callbacks.push_back(std::move(p.done));
  return completion;
}

absl::StatusOr<AppendOutcome> EventStore::RetryOutcome(const Pending& pending, const std::vector<RecordedId>& found,
                                                       const GroupState& state) const {
  const AppendBatch& batch = pending.batch;
  AppendOutcome outcome;
  outcome.already_recorded = true;
  std::string value;
  storage::StoredEventView stored;
  for (size_t i = 0; i < found.size(); ++i) {
    if (found[i].case_id != batch.case_id.value()) {
      return PreconditionError("EVENT_ID_IN_OTHER_CASE", absl::StrCat("events[", i, "].event_id"),
                               "already recorded in another case; event ids are unique across all cases");
    }
    // A retry repeats the same event; the same id on different content is a
    // different event and must not be answered as if it were stored.
    const std::string* recorded_bytes = nullptr;
    const std::string* recorded_source = nullptr;
    if (auto it = state.staged_bytes.find(batch.events[i].event_id()); it != state.staged_bytes.end()) {
      recorded_bytes = it->second.bytes;
      recorded_source = it->second.source;
    } else {
      ASSIGN_OR_RETURN(value, ReadRecord(found[i].position));
      if (!stored.ParseFromString(value)) {
        return absl::DataLossError(absl::StrCat("event store: unreadable event at position ", found[i].position));
      }
      recorded_bytes = &stored.event();
      recorded_source = &stored.source();
    }
    // A partner's retry is answered with positions only for its own events:
    // replaying another partner's batch learns nothing about it.
    if (batch.own_cases_only && *recorded_source != batch.source) {
      return absl::PermissionDeniedError(absl::StrCat("events[", i,
                                                      "].event_id: recorded by another partner; a partner may only "
                                                      "retry its own batches, and a new event needs a new id"));
    }
    if (*recorded_bytes != pending.serialized[i]) {
      return PreconditionError(
          "EVENT_ID_REUSED", absl::StrCat("events[", i, "].event_id"),
          absl::StrCat("already recorded at global position ", found[i].position,
                       " with different content; an event id names one event forever, so a new event needs a new id"));
    }
    if (i == 0 || found[i].position < outcome.first_position.value()) {
      outcome.first_position = GlobalPosition(found[i].position);
      outcome.first_version = StreamVersion(found[i].version);
    }
    if (i == 0 || found[i].position > outcome.last_position.value()) {
      outcome.last_position = GlobalPosition(found[i].position);
      outcome.last_version = StreamVersion(found[i].version);
    }
  }
  return outcome;
}

absl::StatusOr<uint64_t> EventStore::LoadCaseVersion(const std::string& case_id) const {
  std::string value;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), heads_cf_, case_id, &value);
  if (s.IsNotFound()) return 0;
  RETURN_IF_ERROR(FromRocks(s, "read case head"));
  return ReadBigEndian64(value);
}

absl::StatusOr<CaseState> EventStore::LoadCaseState(const std::string& case_id) const {
  CaseState state;
  ASSIGN_OR_RETURN(uint64_t version, LoadCaseVersion(case_id));
  if (version == 0) return state;
  ASSIGN_OR_RETURN(std::vector<v1::RecordedEvent> events, ReadCaseLocked(CaseId(case_id), StreamVersion(1), SIZE_MAX));
  std::unordered_map<std::string_view, size_t> index;  // event id -> position in `events`
  for (size_t i = 0; i < events.size(); ++i) {
    const v1::Event& e = events[i].event();
    const v1::Event* retracted = nullptr;
    if (e.has_event_retracted()) {
      if (auto it = index.find(e.event_retracted().retracted_event_id()); it != index.end()) {
        retracted = &events[it->second].event();
      }
    }
    ApplyToCaseState(state, e, events[i].source(), retracted);
    index.emplace(e.event_id(), i);
  }
  state.last_hash = events.back().hash();
  return state;
}

absl::StatusOr<std::optional<RetractionTarget>> EventStore::FindEvent(const std::string& event_id,
                                                                      const GroupState& state) const {
  RetractionTarget target;
  if (auto it = state.ids.find(event_id); it != state.ids.end()) {
    target.case_id = it->second.case_id;
    if (!target.event.ParseFromString(*state.staged_bytes.at(event_id).bytes)) {
      return absl::InternalError("event store: unreadable staged event");
    }
    return target;
  }
  std::string value;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), event_ids_cf_, event_id, &value);
  if (s.IsNotFound()) return std::nullopt;
  RETURN_IF_ERROR(FromRocks(s, "read event id"));
  const RecordedId where = DecodeRecordedId(value);
  ASSIGN_OR_RETURN(value, ReadRecord(where.position));
  v1::RecordedEvent recorded;
  if (!recorded.ParseFromString(value)) {
    return absl::DataLossError(absl::StrCat("event store: unreadable event at position ", where.position));
  }
  RETURN_IF_ERROR(options_.upcasters->Apply(*recorded.mutable_event()));
  target.case_id = recorded.case_id();
  target.event = std::move(*recorded.mutable_event());
  return target;
}

absl::StatusOr<AppendOutcome> EventStore::Stage(const Pending& pending, GroupState& state) {
  const AppendBatch& batch = pending.batch;
  const std::string& case_id = batch.case_id.value();

  // The case's rule state after what is recorded and staged so far.
  auto staged = state.cases.find(case_id);
  if (staged == state.cases.end()) {
    if (auto cached = case_states_.find(case_id); cached != case_states_.end()) {
      // Taken out of the cache for the group; WriteGroup puts it back.
      staged = state.cases.emplace(case_id, std::move(cached->second)).first;
      case_states_.erase(cached);
    } else {
      ASSIGN_OR_RETURN(CaseState loaded, LoadCaseState(case_id));
      staged = state.cases.emplace(case_id, std::move(loaded)).first;
    }
  }
  uint64_t current = staged->second.version;

  // Access before anything else: a partner refused a case learns nothing
  // about it (no version, no positions), whatever its batch holds.
  if (batch.own_cases_only) RETURN_IF_ERROR(CheckPartnerMayAppend(staged->second, batch.source));

  // Idempotency: a batch is either entirely new or an exact retry.
  std::vector<RecordedId> found;
  size_t first_found = 0;
  for (size_t i = 0; i < batch.events.size(); ++i) {
    const std::string& id = batch.events[i].event_id();
    if (auto it = state.ids.find(id); it != state.ids.end()) {
      if (found.empty()) first_found = i;
      found.push_back(it->second);
      continue;
    }
    std::string value;
    rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), event_ids_cf_, id, &value);
    if (s.IsNotFound()) continue;
    RETURN_IF_ERROR(FromRocks(s, "read event id"));
    if (found.empty()) first_found = i;
    found.push_back(DecodeRecordedId(value));
  }
  if (!found.empty()) {
    if (found.size() != batch.events.size()) {
      return PreconditionError("BATCH_PARTLY_RECORDED", absl::StrCat("events[", first_found, "].event_id"),
                               absl::StrCat("already recorded at global position ", found[0].position,
                                            ", but other events of this batch are new; a batch must be ",
                                            "either entirely new or an exact retry of an earlier batch"));
    }
    return RetryOutcome(pending, found, state);
  }

  // Optimistic concurrency against the case's current version.
  const ExpectedVersion& expected = batch.expected;
  if (expected.kind == ExpectedVersion::Kind::kNoStream && current != 0) {
    return absl::AbortedError(absl::StrCat("expected_version: the case must not exist yet, but it is at version ",
                                           current, " (current_version=", current, ")"));
  }
  if (expected.kind == ExpectedVersion::Kind::kExact && expected.version.value() != current) {
    return absl::AbortedError(absl::StrCat("expected_version: expected version ", expected.version.value(),
                                           ", but the case is at version ", current, " (current_version=", current,
                                           ")"));
  }

  // The case rules, event by event, on a copy: a refused batch leaves the
  // state as it was.
  CaseState next = staged->second;
  std::unordered_map<std::string_view, size_t> in_batch;  // event id -> index, for retractions
  for (size_t i = 0; i < batch.events.size(); ++i) {
    const v1::Event& e = batch.events[i];
    std::optional<RetractionTarget> target;
    if (e.has_event_retracted()) {
      const std::string& id = e.event_retracted().retracted_event_id();
      if (auto it = in_batch.find(id); it != in_batch.end()) {
        target = RetractionTarget{case_id, batch.events[it->second]};
      } else {
        ASSIGN_OR_RETURN(target, FindEvent(id, state));
      }
    }
    if (batch.own_cases_only) RETURN_IF_ERROR(CheckCaseAccess(next, batch.source, e, i, target ? &*target : nullptr));
    RETURN_IF_ERROR(CheckCaseRules(next, case_id, e, i, target ? &*target : nullptr));
    ApplyToCaseState(next, e, batch.source, target ? &target->event : nullptr);
    in_batch.emplace(e.event_id(), i);
  }

  AppendOutcome outcome;
  outcome.first_version = StreamVersion(current + 1);
  outcome.first_position = GlobalPosition(state.next_position);
  // The stored bytes are a RecordedEvent: the envelope fields the server sets,
  // then field 6 (event) framed around the bytes serialized by the caller.
  v1::RecordedEvent recorded;
  recorded.set_case_id(case_id);
  *recorded.mutable_recorded_at() = state.recorded_at;
  recorded.set_source(batch.source);
  std::string value;
  constexpr char kEventFieldTag = (6 << 3) | 2;  // field 6, length-delimited
  for (size_t i = 0; i < batch.events.size(); ++i) {
    const std::string& event_id = batch.events[i].event_id();
    const std::string& event_bytes = pending.serialized[i];
    const uint64_t version = ++current;
    const uint64_t position = state.next_position++;
    recorded.set_stream_version(version);
    recorded.set_global_position(position);
    if (!pending.sealed.empty() && !pending.sealed[i].ciphertext().empty()) {
      *recorded.mutable_sealed_personal() = pending.sealed[i];
    } else {
      recorded.clear_sealed_personal();
    }
    value.clear();
    recorded.SerializeToString(&value);
    value.push_back(kEventFieldTag);
    AppendVarint(&value, event_bytes.size());
    value.append(event_bytes);
    state.last_hash = SealRecord(&value, state.last_hash, next.last_hash);
    next.last_hash = state.last_hash;

    const std::string pos_key = BigEndian64(position);
    state.batch.Put(events_cf_, pos_key, value);
    state.batch.Put(event_ids_cf_, event_id, EncodeRecordedId(position, version, case_id));
    state.ids[event_id] = RecordedId{position, version, case_id};
    state.staged_bytes[event_id] = GroupState::Staged{&event_bytes, &batch.source};
  }
  // A batch has consecutive versions at consecutive positions: one index
  // entry per batch locates all of them.
  std::string run = BigEndian64(outcome.first_position.value());
  PutBigEndian64(&run, batch.events.size());
  state.batch.Put(streams_cf_, StreamKey(case_id, outcome.first_version.value()), run);
  state.batch.Put(heads_cf_, case_id, BigEndian64(current));
  staged->second = std::move(next);
  outcome.last_version = StreamVersion(current);
  outcome.last_position = GlobalPosition(state.next_position - 1);
  return outcome;
}

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

absl::Status EventStore::ScanAll(GlobalPosition from, GlobalPosition to, const ScanFn& fn) const {
  ASSIGN_OR_RETURN(auto lock, LockDb());
  rocksdb::ReadOptions ro;
  ro.readahead_size = 2 << 20;
  const std::string upper = BigEndian64(to.value() + 1);
  rocksdb::Slice upper_slice(upper);
  if (to.value() != UINT64_MAX) ro.iterate_upper_bound = &upper_slice;
  ro.fill_cache = false;  // a bulk scan would only evict what point reads need
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, events_cf_));
  // Parsing into an arena, reset every so many events, spares the allocator
  // most of the work of a long scan.
  constexpr size_t kEventsPerArena = 1024;
  google::protobuf::Arena arena;
  v1::RecordedEvent* event = nullptr;
  size_t parsed = 0;
  for (it->Seek(BigEndian64(from.value())); it->Valid(); it->Next()) {
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

}  // namespace kring::eventstore

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

absl::StatusOr<std::string> EventStore::ReadRecord(uint64_t position) const {
  std::string value;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), events_cf_, BigEndian64(position), &value);
  if (s.IsNotFound()) return absl::NotFoundError(absl::StrCat("no event at position ", position));
  RETURN_IF_ERROR(FromRocks(s, "read event"));
  return value;
}

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

absl::StatusOr<GlobalPosition> EventStore::Checkpoint(const std::string& destination) const {
  ASSIGN_OR_RETURN(auto lock, LockDb());
  rocksdb::Checkpoint* raw = nullptr;
  RETURN_IF_ERROR(FromRocks(rocksdb::Checkpoint::Create(db_.get(), &raw), "checkpoint"));
  std::unique_ptr<rocksdb::Checkpoint> checkpoint(raw);
  RETURN_IF_ERROR(FromRocks(checkpoint->CreateCheckpoint(destination), "checkpoint"));
  // The head the copy holds: open it read-only and look.
  std::vector<rocksdb::ColumnFamilyDescriptor> cfs = {
      {rocksdb::kDefaultColumnFamilyName, rocksdb::ColumnFamilyOptions()},
      {kEvents, rocksdb::ColumnFamilyOptions()},
      {kStreams, PointLookupOptions()},
      {kEventIds, EventIdOptions()},
      {kHeads, PointLookupOptions()},
  };
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* copy_raw = nullptr;
  rocksdb::DBOptions copy_options;
  copy_options.info_log = NewInfoLog(destination);  // a full disk must not abort (info_log.h)
  RETURN_IF_ERROR(
      FromRocks(rocksdb::DB::OpenForReadOnly(copy_options, destination, cfs, &handles, &copy_raw), "open checkpoint"));
  std::unique_ptr<rocksdb::DB> copy(copy_raw);
  uint64_t head = 0;
  {
    std::unique_ptr<rocksdb::Iterator> it(copy->NewIterator(rocksdb::ReadOptions(), handles[1]));
    it->SeekToLast();
    if (it->Valid()) head = ReadBigEndian64(it->key().ToStringView());
  }
  for (auto* h : handles) copy->DestroyColumnFamilyHandle(h);
  return GlobalPosition(head);
}

}  // namespace kring::eventstore
