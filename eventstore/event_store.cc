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
#include "eventstore/store_internal.h"

namespace kring::eventstore {

namespace {

std::string Mib(uint64_t bytes) { return absl::StrCat(bytes >> 20, " MiB"); }

}  // namespace

EventStore::EventStore(EventStoreOptions options) : options_(std::move(options)) {}

absl::StatusOr<std::unique_ptr<EventStore>> EventStore::Open(EventStoreOptions options) {
  if (options.path.empty()) return absl::InvalidArgumentError("event store: path is required");
  std::unique_ptr<EventStore> store(new EventStore(std::move(options)));
  RETURN_IF_ERROR(store->OpenDb());
  store->writer_ = std::thread([s = store.get()] {
    pthread_setname_np(pthread_self(), "kring-writer");
    s->WriterLoop();
  });
  store->wal_ = std::thread([s = store.get()] {
    pthread_setname_np(pthread_self(), "kring-wal");
    s->WalLoop();
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
  // No LOG writer or automatic recovery that could abort the process after a
  // failed write (info_log.h); the store reopens the database instead.
  UseFailSafeErrorHandling(&db_options, options_.path);
  db_options.create_if_missing = true;
  db_options.create_missing_column_families = true;
  db_options.max_background_jobs = 2;
  db_options.bytes_per_sync = 1 << 20;
  // One writer thread writes everything, and the memtable of event ids
  // (id_memtable.h) does not support concurrent inserts.
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
  if (writer_.joinable()) writer_.join();  // after collecting its last group
  {
    std::lock_guard<std::mutex> lock(wal_mu_);
    wal_stop_ = true;
  }
  wal_cv_.notify_all();
  if (wal_.joinable()) wal_.join();
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
        ->info("msg=closed head_position={} groups={} mean_group_requests={:.2f}", head_.load(), groups_written_.load(),
               groups_written_ ? double(requests_written_) / groups_written_ : 0.0);
  }
}

void EventStore::AppendAsync(AppendBatch batch, AppendCallback done) {
  if (options_.on_appended) {
    done = [observe = options_.on_appended, events = batch.events.size(), start = std::chrono::steady_clock::now(),
            done = std::move(done)](absl::StatusOr<AppendOutcome> r) {
      observe(events, r.status().code(), r.ok() && r->already_recorded,
              std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
      done(std::move(r));
    };
  }
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
  if (!refusal_.ok()) {
    // Only on the way back: a failure kring-wal has just reported (and the
    // writer not yet collected) must not be overwritten.
    refusal_ = absl::OkStatus();
    SetWriteHealth(WriteHealth::State::kOk, "");
  }
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

EventStore::Completion EventStore::Refuse(std::deque<Pending>& group, const absl::Status& status) {
  Completion completion;
  for (Pending& p : group) {
    completion.callbacks.push_back(std::move(p.done));
    completion.results.emplace_back(status);
  }
  return completion;
}

uint64_t EventStore::RocksIntProperty(const std::string& name) const {
  absl::StatusOr<std::shared_lock<std::shared_mutex>> lock = LockDb();
  uint64_t value = 0;
  if (!lock.ok() || !db_->GetIntProperty(name, &value)) return 0;
  return value;
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
