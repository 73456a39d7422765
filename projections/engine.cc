// The applier of a ProjectionEngine (its database, ApplyBatch, the replay of
// retracted cases) and its store feed (CatchUpFromStore). The Kafka feed is in
// kafka_feed.cc.
#include "projections/engine.h"

#include <rocksdb/db.h>
#include <rocksdb/utilities/write_batch_with_index.h>

#include <system_error>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"
#include "common/bytes.h"
#include "common/log.h"
#include "common/status.h"
#include "eventstore/event_store.h"
#include "eventstore/info_log.h"

namespace kring::projections {
namespace {

// Key spaces of a read model's database.
constexpr char kModelPrefix[] = "m:";    // the read model's own keys
constexpr char kAppliedPrefix[] = "v:";  // case_id -> BE64 applied stream version
constexpr char kOffsetPrefix[] = "o:";   // cluster \0 topic \0 BE64(partition) -> BE64 next offset
constexpr char kWatermarkKey[] = "w:";   // BE64 events applied, BE64 max position
constexpr char kLayoutKey[] = "l:";      // Projection::layout() of what is stored
constexpr char kFillingKey[] = "f:";     // present while an empty engine is filled (BeginFill)

absl::Status FromRocks(const rocksdb::Status& s, const char* what) {
  if (s.ok()) return absl::OkStatus();
  return absl::InternalError(absl::StrCat("projection store: ", what, ": ", s.ToString()));
}

std::string OffsetKey(const std::string& cluster_id, const std::string& topic, KafkaPartition partition) {
  std::string key = absl::StrCat(kOffsetPrefix, cluster_id, std::string(1, '\0'), topic, std::string(1, '\0'));
  PutBigEndian64(&key, static_cast<uint64_t>(partition.value()));
  return key;
}

}  // namespace

absl::StatusOr<std::optional<std::string>> ModelTxn::Get(std::string_view key) {
  std::string value;
  rocksdb::Status s = batch_->GetFromBatchAndDB(db_, rocksdb::ReadOptions(),
                                                rocksdb::Slice(absl::StrCat(kModelPrefix, std::string(key))), &value);
  if (s.IsNotFound()) return std::nullopt;
  RETURN_IF_ERROR(FromRocks(s, "read"));
  return value;
}

void ModelTxn::Put(std::string_view key, std::string_view value) {
  batch_->Put(absl::StrCat(kModelPrefix, std::string(key)), rocksdb::Slice(value.data(), value.size()));
}

void ModelTxn::Delete(std::string_view key) { batch_->Delete(absl::StrCat(kModelPrefix, std::string(key))); }

absl::Status ModelTxn::DeletePrefix(std::string_view prefix) {
  const std::string full = absl::StrCat(kModelPrefix, std::string(prefix));
  std::vector<std::string> keys;
  std::unique_ptr<rocksdb::Iterator> it(batch_->NewIteratorWithBase(db_->NewIterator(rocksdb::ReadOptions())));
  for (it->Seek(full); it->Valid() && it->key().starts_with(full); it->Next()) keys.push_back(it->key().ToString());
  RETURN_IF_ERROR(FromRocks(it->status(), "scan for delete"));
  for (const std::string& key : keys) batch_->Delete(key);
  return absl::OkStatus();
}

ProjectionEngine::ProjectionEngine(ProjectionOptions options, std::unique_ptr<Projection> projection,
                                   const eventstore::EventSource* store)
    : options_(std::move(options)), projection_(std::move(projection)), store_(store) {}

absl::StatusOr<std::unique_ptr<ProjectionEngine>> ProjectionEngine::Open(ProjectionOptions options,
                                                                         std::unique_ptr<Projection> projection,
                                                                         const eventstore::EventSource* store) {
  if (options.path.empty()) return absl::InvalidArgumentError("projection: path is required");
  if (options.group_id.empty()) options.group_id = options.group_prefix + "." + projection->name();
  std::unique_ptr<ProjectionEngine> engine(new ProjectionEngine(std::move(options), std::move(projection), store));
  RETURN_IF_ERROR(engine->OpenDb());
  return engine;
}

absl::Status ProjectionEngine::OpenDb() {
  rocksdb::Options options;
  options.create_if_missing = true;
  options.max_background_jobs = 2;
  // No LOG writer or automatic recovery that could abort kringd after a
  // failed write (info_log.h); a failed write leaves this database refusing
  // writes until kringd restarts.
  eventstore::UseFailSafeErrorHandling(&options, options_.path);
  rocksdb::DB* raw = nullptr;
  RETURN_IF_ERROR(FromRocks(rocksdb::DB::Open(options, options_.path, &raw), "open"));
  db_.reset(raw);
  std::string value;
  // A folder written with another layout of this model starts empty: the
  // store (and Kafka, from the first offset) fill it again.
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), kLayoutKey, &value);
  if (!s.ok() && !s.IsNotFound()) RETURN_IF_ERROR(FromRocks(s, "read layout"));
  // A fill from the store that did not end (a crash) left states whose
  // applied versions were never written: start empty, as for a new layout.
  std::string filling;
  rocksdb::Status f = db_->Get(rocksdb::ReadOptions(), kFillingKey, &filling);
  if (!f.ok() && !f.IsNotFound()) RETURN_IF_ERROR(FromRocks(f, "read filling marker"));
  if (s.IsNotFound() || value != projection_->layout() || f.ok()) {
    if (f.ok()) {
      Logger("projections")->warn("msg=interrupted_fill_discarded projection={}", projection_->name());
    } else if (s.ok()) {
      Logger("projections")
          ->warn("msg=layout_changed projection={} stored={} current={}", projection_->name(), value,
                 projection_->layout());
    }
    rocksdb::WriteBatch reset;
    reset.DeleteRange(db_->DefaultColumnFamily(), "", "\xff");
    reset.Put(kLayoutKey, projection_->layout());
    RETURN_IF_ERROR(FromRocks(db_->Write(WriteOpts(), &reset), "reset for a new layout"));
  }
  {
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions()));
    for (it->Seek(kModelPrefix); it->Valid() && it->key().starts_with(kModelPrefix); it->Next()) {
      RETURN_IF_ERROR(
          projection_->Load(it->key().ToStringView().substr(sizeof(kModelPrefix) - 1), it->value().ToStringView()));
    }
    RETURN_IF_ERROR(FromRocks(it->status(), "load"));
  }
  s = db_->Get(rocksdb::ReadOptions(), kWatermarkKey, &value);
  if (s.ok() && value.size() == 16) {
    events_applied_ = ReadBigEndian64(value);
    max_position_ = ReadBigEndian64(std::string_view(value).substr(8));
  } else if (!s.IsNotFound()) {
    RETURN_IF_ERROR(FromRocks(s, "read watermark"));
  }
  Logger("projections")
      ->info("msg=opened projection={} events_applied={} max_position={}", projection_->name(), events_applied_.load(),
             max_position_.load());
  return absl::OkStatus();
}

ProjectionEngine::~ProjectionEngine() {
  StopConsumer();
  if (db_) db_->Close();
}

absl::StatusOr<std::optional<KafkaOffset>> ProjectionEngine::StoredOffset(const std::string& cluster_id,
                                                                          KafkaPartition partition) const {
  std::string value;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), OffsetKey(cluster_id, options_.kafka.topic, partition), &value);
  if (s.IsNotFound()) return std::nullopt;
  RETURN_IF_ERROR(FromRocks(s, "read offset"));
  return KafkaOffset(static_cast<int64_t>(ReadBigEndian64(value)));
}

absl::Status ProjectionEngine::ApplyBatch(const std::vector<v1::RecordedEvent>& events, const std::string& cluster_id,
                                          const std::vector<PartitionOffset>& offsets) {
  std::vector<const v1::RecordedEvent*> pointers;
  pointers.reserve(events.size());
  for (const v1::RecordedEvent& e : events) pointers.push_back(&e);
  return ApplyEvents(pointers, cluster_id, offsets);
}

absl::Status ProjectionEngine::ApplyEvents(absl::Span<const v1::RecordedEvent* const> events,
                                           const std::string& cluster_id, const std::vector<PartitionOffset>& offsets) {
  std::lock_guard<std::mutex> lock(write_mu_);
  rocksdb::WriteBatchWithIndex batch(rocksdb::BytewiseComparator(), 0, /*overwrite_key=*/true);
  ModelTxn txn(db_.get(), &batch);
  // A batch that fails before its write leaves nothing pending in the model.
  bool write_reported = false;
  auto discard = absl::MakeCleanup([&] {
    if (!write_reported) projection_->AfterWrite(false);
  });
  std::unordered_map<std::string, uint64_t> applied;  // case -> version, for this batch
  uint64_t events_applied = events_applied_.load();
  uint64_t max_position = max_position_.load();

  // The case's entry in `applied`, read from memory (filling) or the
  // database the first time. Events of a case often come in a row: the last
  // entry is remembered (entries of an unordered_map never move).
  const std::string* last_case = nullptr;
  uint64_t* last_slot = nullptr;
  auto applied_slot = [&](const std::string& case_id) -> absl::StatusOr<uint64_t*> {
    if (last_case != nullptr && *last_case == case_id) return last_slot;
    auto [it, inserted] = applied.try_emplace(case_id, 0);
    if (inserted && filling_) {
      // Filling: every version applied is in memory; none is stored yet.
      if (auto found = fill_versions_.find(case_id); found != fill_versions_.end()) it->second = found->second;
    } else if (inserted) {
      std::string value;
      rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), absl::StrCat(kAppliedPrefix, case_id), &value);
      if (s.ok()) {
        it->second = ReadBigEndian64(value);
      } else if (!s.IsNotFound()) {
        applied.erase(it);
        return FromRocks(s, "read applied version");
      }
    }
    last_case = &it->first;
    last_slot = &it->second;
    return &it->second;
  };
  // Cases with a retraction in this batch: their history is applied again,
  // once, at the end of the batch (so a case with many retractions costs one
  // replay per batch, not one per retraction).
  std::unordered_set<std::string> replay;
  auto apply_one = [&](const v1::RecordedEvent& e, uint64_t* slot) -> absl::Status {
    if (e.event().has_event_retracted() || (!replay.empty() && replay.count(e.case_id()))) {
      replay.insert(e.case_id());
    } else {
      RETURN_IF_ERROR(projection_->Apply(e, txn));
    }
    *slot = e.stream_version();
    ++events_applied;
    max_position = std::max<uint64_t>(max_position, e.global_position());
    return absl::OkStatus();
  };

  for (const v1::RecordedEvent* event : events) {
    const v1::RecordedEvent& e = *event;
    ASSIGN_OR_RETURN(uint64_t * slot, applied_slot(e.case_id()));
    uint64_t version = *slot;
    if (e.stream_version() <= version) continue;  // redelivered
    if (e.stream_version() > version + 1) {
      // A gap: the missing events come from the store, in order.
      ASSIGN_OR_RETURN(auto missing, store_->ReadCase(CaseId(e.case_id()), StreamVersion(version + 1),
                                                      e.stream_version() - version - 1));
      for (const auto& m : missing) {
        if (m.stream_version() != version + 1) break;
        RETURN_IF_ERROR(apply_one(m, slot));
        version = m.stream_version();
      }
      if (version + 1 != e.stream_version()) {
        return absl::DataLossError(absl::StrCat("projection ", projection_->name(), ": versions ", version + 1, "..",
                                                e.stream_version() - 1, " of a case missing from the store"));
      }
    }
    RETURN_IF_ERROR(apply_one(e, slot));
  }

  for (const std::string& case_id : replay) RETURN_IF_ERROR(ReplayWithoutRetracted(case_id, applied[case_id], txn));
  // While filling, the versions and the watermark wait for EndFill.
  if (!filling_) {
    for (const auto& [case_id, version] : applied) {
      batch.Put(absl::StrCat(kAppliedPrefix, case_id), BigEndian64(version));
    }
    std::string watermark = BigEndian64(events_applied);
    PutBigEndian64(&watermark, max_position);
    batch.Put(kWatermarkKey, watermark);
  }
  for (const PartitionOffset& o : offsets) {
    batch.Put(OffsetKey(cluster_id, options_.kafka.topic, o.partition),
              BigEndian64(static_cast<uint64_t>(o.next_offset.value())));
  }
  absl::Status written = projection_->EndBatch(txn);
  if (written.ok()) written = FromRocks(db_->Write(WriteOpts(), batch.GetWriteBatch()), "write");
  projection_->AfterWrite(written.ok());
  write_reported = true;
  RETURN_IF_ERROR(written);
  if (filling_) {
    for (const auto& [case_id, version] : applied) fill_versions_[case_id] = version;
  }
  events_applied_ = events_applied;
  max_position_ = max_position;
  return absl::OkStatus();
}

absl::Status ProjectionEngine::BeginFill() {
  std::lock_guard<std::mutex> lock(write_mu_);
  if (filling_ || events_applied_.load() != 0 || max_position_.load() != 0) return absl::OkStatus();
  RETURN_IF_ERROR(FromRocks(db_->Put(WriteOpts(), kFillingKey, ""), "write filling marker"));
  filling_ = true;
  fill_versions_.clear();
  return absl::OkStatus();
}

absl::Status ProjectionEngine::EndFill() {
  std::lock_guard<std::mutex> lock(write_mu_);
  if (!filling_) return absl::OkStatus();
  rocksdb::WriteBatch batch;
  for (const auto& [case_id, version] : fill_versions_) {
    batch.Put(absl::StrCat(kAppliedPrefix, case_id), BigEndian64(version));
  }
  std::string watermark = BigEndian64(events_applied_.load());
  PutBigEndian64(&watermark, max_position_.load());
  batch.Put(kWatermarkKey, watermark);
  batch.Delete(kFillingKey);
  // On failure the marker stays (the next Open empties the folder) and so
  // does filling: later batches keep deferring, a later EndFill retries.
  RETURN_IF_ERROR(FromRocks(db_->Write(WriteOpts(), &batch), "write applied versions"));
  Logger("projections")
      ->info("msg=fill_ended projection={} cases={} events_applied={} max_position={}", projection_->name(),
             fill_versions_.size(), events_applied_.load(), max_position_.load());
  filling_ = false;
  fill_versions_.clear();
  fill_versions_.rehash(0);
  return absl::OkStatus();
}

absl::Status ProjectionEngine::ReplayWithoutRetracted(const std::string& case_id, uint64_t up_to_version,
                                                      ModelTxn& txn) {
  ASSIGN_OR_RETURN(auto history, store_->ReadCase(CaseId(case_id), StreamVersion(1), up_to_version));
  if (history.size() != up_to_version) {
    return absl::DataLossError(absl::StrCat("projection ", projection_->name(), ": the store holds ", history.size(),
                                            " events of a case to be replayed up to version ", up_to_version));
  }
  std::unordered_set<std::string> withdrawn;
  for (const auto& e : history) {
    if (e.event().has_event_retracted()) withdrawn.insert(e.event().event_retracted().retracted_event_id());
  }
  RETURN_IF_ERROR(projection_->ForgetCase(case_id, txn));
  for (const auto& e : history) {
    if (e.event().has_event_retracted() || withdrawn.count(e.event().event_id())) continue;
    RETURN_IF_ERROR(projection_->Apply(e, txn));
  }
  return absl::OkStatus();
}

absl::Status ProjectionEngine::CatchUpFromStore() { return CatchUpFromStore(store_->Head()); }

absl::Status ProjectionEngine::CatchUpFromStore(GlobalPosition up_to, const CatchUpProgressFn& progress) {
  return projections::CatchUpFromStore({this}, *store_, up_to, progress);
}

uint64_t ProjectionEngine::StoreFeedStart() const {
  const Watermark w = watermark();
  // Every position up to the watermark is applied when there are as many
  // distinct events as the highest position: start after it.
  return w.events_applied == w.max_global_position ? w.max_global_position + 1 : 1;
}

absl::Status CatchUpFromStore(const std::vector<ProjectionEngine*>& engines, const eventstore::EventSource& store,
                              GlobalPosition up_to, const CatchUpProgressFn& progress, size_t threads) {
  if (engines.empty()) return absl::InvalidArgumentError("catch-up: engines must name at least one engine");
  if (threads == 0) return absl::InvalidArgumentError("catch-up: threads must be at least 1");
  threads = std::min(threads, engines.size());
  std::unordered_set<const ProjectionEngine*> seen;
  for (const ProjectionEngine* engine : engines) {
    if (engine == nullptr) return absl::InvalidArgumentError("catch-up: engines must not hold a null engine");
    if (!seen.insert(engine).second) {
      return absl::InvalidArgumentError(absl::StrCat("catch-up: engines names ", engine->name(), " twice"));
    }
    if (engine->store_ != &store) {
      return absl::InvalidArgumentError(
          absl::StrCat("catch-up: engine ", engine->name(), " was opened with another event store"));
    }
  }
  const uint64_t to = std::min(up_to.value(), store.Head().value());
  std::vector<uint64_t> starts;
  uint64_t from = UINT64_MAX;
  size_t chunk_events = SIZE_MAX;
  for (const ProjectionEngine* engine : engines) {
    starts.push_back(engine->StoreFeedStart());
    from = std::min(from, starts.back());
    chunk_events = std::min(chunk_events, std::max<size_t>(engine->options_.max_batch, 1));
  }
  CatchUpProgress done;
  done.events_total = to >= from ? to - from + 1 : 0;
  if (done.events_total == 0) {
    if (progress) progress(done);
    return absl::OkStatus();
  }
  for (ProjectionEngine* engine : engines) RETURN_IF_ERROR(engine->BeginFill());
  absl::Status apply_status;
  bool stopped = false;
  std::vector<absl::Status> statuses(engines.size());
  absl::Status scanned = store.ScanChunks(
      GlobalPosition(from), GlobalPosition(to), chunk_events, [&](absl::Span<const v1::RecordedEvent* const> chunk) {
        // Engine i on thread i % threads; each engine has its own database
        // and lock, and only reads the chunk.
        auto apply = [&](size_t thread) {
          for (size_t i = thread; i < engines.size(); i += threads) {
            // The chunk is in position order: this engine's part is a suffix.
            size_t first = 0;
            while (first < chunk.size() && chunk[first]->global_position() < starts[i]) ++first;
            if (first < chunk.size()) statuses[i] = engines[i]->ApplyEvents(chunk.subspan(first), "", {});
          }
        };
        std::vector<std::thread> helpers;
        for (size_t t = 1; t < threads; ++t) {
          try {
            helpers.emplace_back(apply, t);
          } catch (const std::system_error&) {  // no thread to be had: do it here
            apply(t);
          }
        }
        apply(0);
        for (std::thread& helper : helpers) helper.join();
        for (const absl::Status& s : statuses) {
          if (apply_status.ok()) apply_status = s;
        }
        if (!apply_status.ok()) return false;
        done.events_done += chunk.size();
        stopped = progress && !progress(done);
        return !stopped;
      });
  // Whatever happened, what was applied gets its versions and watermark.
  absl::Status ended;
  for (ProjectionEngine* engine : engines) {
    if (absl::Status s = engine->EndFill(); ended.ok()) ended = s;
  }
  RETURN_IF_ERROR(scanned);
  RETURN_IF_ERROR(apply_status);
  RETURN_IF_ERROR(ended);
  if (stopped) {
    return absl::CancelledError(
        absl::StrCat("catch-up stopped after ", done.events_done, " of ", done.events_total, " events"));
  }
  return absl::OkStatus();
}

absl::Status ProjectionEngine::CopyOffsetsFrom(const ProjectionEngine& other) {
  rocksdb::WriteBatch batch;
  std::unique_ptr<rocksdb::Iterator> it(other.db_->NewIterator(rocksdb::ReadOptions()));
  size_t copied = 0;
  for (it->Seek(kOffsetPrefix); it->Valid() && it->key().starts_with(kOffsetPrefix); it->Next()) {
    batch.Put(it->key(), it->value());
    ++copied;
  }
  RETURN_IF_ERROR(FromRocks(it->status(), "scan offsets"));
  std::lock_guard<std::mutex> lock(write_mu_);
  RETURN_IF_ERROR(FromRocks(db_->Write(WriteOpts(), &batch), "write offsets"));
  Logger("projections")->info("msg=offsets_copied projection={} offsets={}", projection_->name(), copied);
  return absl::OkStatus();
}

absl::Status ProjectionEngine::SyncWal() {
  if (!options_.write_ahead_log) return FromRocks(db_->Flush(rocksdb::FlushOptions()), "flush");
  return FromRocks(db_->SyncWAL(), "sync wal");
}

rocksdb::WriteOptions ProjectionEngine::WriteOpts() const {
  rocksdb::WriteOptions wo;
  wo.disableWAL = !options_.write_ahead_log;
  return wo;
}

Watermark ProjectionEngine::watermark() const { return {events_applied_.load(), max_position_.load()}; }

absl::Status ProjectionEngine::ScanModel(std::string_view prefix,
                                         const std::function<void(std::string_view, std::string_view)>& fn) const {
  const std::string full = absl::StrCat(kModelPrefix, std::string(prefix));
  rocksdb::ReadOptions ro;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro));  // iterators read one implicit snapshot
  for (it->Seek(full); it->Valid() && it->key().starts_with(full); it->Next()) {
    fn(it->key().ToStringView().substr(sizeof(kModelPrefix) - 1), it->value().ToStringView());
  }
  return FromRocks(it->status(), "scan");
}

}  // namespace kring::projections
