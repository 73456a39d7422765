#include "projections/engine.h"

#include <librdkafka/rdkafkacpp.h>
#include <pthread.h>
#include <rocksdb/db.h>
#include <rocksdb/utilities/write_batch_with_index.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <unordered_map>
#include <unordered_set>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/bytes.h"
#include "common/log.h"
#include "common/status.h"
#include "eventstore/event_store.h"

namespace kring::projections {
namespace {

// Key spaces of a read model's database.
constexpr char kModelPrefix[] = "m:";    // the read model's own keys
constexpr char kAppliedPrefix[] = "v:";  // case_id -> BE64 applied stream version
constexpr char kOffsetPrefix[] = "o:";   // cluster \0 topic \0 BE64(partition) -> BE64 next offset
constexpr char kWatermarkKey[] = "w:";   // BE64 events applied, BE64 max position
constexpr char kLayoutKey[] = "l:";      // Projection::layout() of what is stored

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

// The Kafka consumer of one engine; used by the consumer thread only (the
// rebalance callback runs inside consume()).
class ProjectionEngine::Consumer : public RdKafka::RebalanceCb {
 public:
  explicit Consumer(ProjectionEngine* engine) : engine_(engine) {}

  // Creates the consumer, waits (checking `stopping` every second) until the
  // cluster answers with its id, and subscribes. The same client keeps
  // trying, so a slow first connection is not started over.
  absl::Status Init(const std::atomic<bool>& stopping) {
    const ProjectionOptions& o = engine_->options_;
    ASSIGN_OR_RETURN(auto conf, bus::MakeConf(o.kafka, {
                                                           {"group.id", o.group_id},
                                                           {"enable.auto.commit", "false"},
                                                           {"enable.auto.offset.store", "false"},
                                                           {"auto.offset.reset", "earliest"},
                                                           {"fetch.wait.max.ms", "200"},
                                                           {"session.timeout.ms", "10000"},
                                                           {"heartbeat.interval.ms", "1000"},
                                                       }));
    std::string err;
    conf->set("rebalance_cb", static_cast<RdKafka::RebalanceCb*>(this), err);
    consumer_.reset(RdKafka::KafkaConsumer::create(conf.get(), err));
    if (!consumer_) return absl::InternalError(absl::StrCat("projection consumer: ", err));
    for (int attempt = 0; cluster_id_.empty(); ++attempt) {
      if (stopping.load()) return absl::CancelledError("projection consumer: stopped while waiting for Kafka");
      if (attempt > 0 && attempt % 30 == 0) {
        Logger("projections")->warn("msg=waiting_for_kafka projection={} seconds={}", o.group_id, attempt);
      }
      cluster_id_ = consumer_->clusterid(1000);
    }
    if (RdKafka::ErrorCode e = consumer_->subscribe({o.kafka.topic}); e != RdKafka::ERR_NO_ERROR) {
      return absl::InternalError(absl::StrCat("projection consumer: subscribe: ", RdKafka::err2str(e)));
    }
    return absl::OkStatus();
  }

  void rebalance_cb(RdKafka::KafkaConsumer* consumer, RdKafka::ErrorCode err,
                    std::vector<RdKafka::TopicPartition*>& partitions) override {
    if (err != RdKafka::ERR__ASSIGN_PARTITIONS) {
      consumer->unassign();
      return;
    }
    for (RdKafka::TopicPartition* tp : partitions) {
      auto stored = engine_->StoredOffset(cluster_id_, KafkaPartition(tp->partition()));
      tp->set_offset(stored.ok() && *stored ? (*stored)->value() : RdKafka::Topic::OFFSET_BEGINNING);
    }
    consumer->assign(partitions);
    Logger("projections")
        ->info("msg=partitions_assigned projection={} count={}", engine_->projection_->name(), partitions.size());
  }

  // Reads up to max messages (waiting at most ~100 ms for the first).
  void Poll(size_t max, std::vector<v1::RecordedEvent>* events, std::vector<PartitionOffset>* offsets) {
    std::unordered_map<int32_t, int64_t> next;
    for (int timeout = 100; events->size() < max; timeout = 0) {
      std::unique_ptr<RdKafka::Message> m(consumer_->consume(timeout));
      if (m->err() == RdKafka::ERR__TIMED_OUT || m->err() == RdKafka::ERR__PARTITION_EOF) break;
      if (m->err() != RdKafka::ERR_NO_ERROR) {
        Logger("projections")->warn("msg=consume_error error=\"{}\"", m->errstr());
        break;
      }
      v1::RecordedEvent e;
      if (e.ParseFromArray(m->payload(), static_cast<int>(m->len())) &&
          engine_->options_.upcasters->Apply(*e.mutable_event()).ok()) {
        events->push_back(std::move(e));
      } else if (auto repaired = FromStore(*m); repaired.ok()) {
        // The message is damaged, but its header names the position: the
        // store holds the original.
        events->push_back(*std::move(repaired));
      } else {
        Logger("projections")
            ->error("msg=unreadable_message partition={} offset={} status=\"{}\"", m->partition(), m->offset(),
                    repaired.status().ToString());
      }
      next[m->partition()] = m->offset() + 1;
    }
    for (const auto& [p, o] : next) offsets->push_back({KafkaPartition(p), KafkaOffset(o)});
  }

  const std::string& cluster_id() const { return cluster_id_; }

  absl::StatusOr<v1::RecordedEvent> FromStore(RdKafka::Message& m) const {
    const RdKafka::Headers* headers = m.headers();
    if (headers == nullptr) return absl::DataLossError("no headers");
    const RdKafka::Headers::Header h = headers->get_last(bus::kHeaderGlobalPosition);
    if (h.err() != RdKafka::ERR_NO_ERROR || h.value() == nullptr) return absl::DataLossError("no position header");
    uint64_t position = 0;
    if (!absl::SimpleAtoi(std::string(static_cast<const char*>(h.value()), h.value_size()), &position)) {
      return absl::DataLossError("unreadable position header");
    }
    ASSIGN_OR_RETURN(auto events, engine_->store_->ReadAll(GlobalPosition(position), 1));
    if (events.empty() || events[0].global_position() != position) {
      return absl::DataLossError("position not in the event store");
    }
    return std::move(events[0]);
  }
  void Close() {
    if (consumer_) consumer_->close();
  }

 private:
  ProjectionEngine* engine_;
  std::unique_ptr<RdKafka::KafkaConsumer> consumer_;
  std::string cluster_id_;
};

ProjectionEngine::ProjectionEngine(ProjectionOptions options, std::unique_ptr<Projection> projection,
                                   const eventstore::EventStore* store)
    : options_(std::move(options)), projection_(std::move(projection)), store_(store) {}

absl::StatusOr<std::unique_ptr<ProjectionEngine>> ProjectionEngine::Open(ProjectionOptions options,
                                                                         std::unique_ptr<Projection> projection,
                                                                         const eventstore::EventStore* store) {
  if (options.path.empty()) return absl::InvalidArgumentError("projection: path is required");
  if (options.group_id.empty()) options.group_id = "kring.projection." + projection->name();
  std::unique_ptr<ProjectionEngine> engine(new ProjectionEngine(std::move(options), std::move(projection), store));
  RETURN_IF_ERROR(engine->OpenDb());
  return engine;
}

absl::Status ProjectionEngine::OpenDb() {
  rocksdb::Options options;
  options.create_if_missing = true;
  options.max_background_jobs = 2;
  rocksdb::DB* raw = nullptr;
  RETURN_IF_ERROR(FromRocks(rocksdb::DB::Open(options, options_.path, &raw), "open"));
  db_.reset(raw);
  std::string value;
  // A folder written with another layout of this model starts empty: the
  // store (and Kafka, from the first offset) fill it again.
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), kLayoutKey, &value);
  if (!s.ok() && !s.IsNotFound()) RETURN_IF_ERROR(FromRocks(s, "read layout"));
  if (s.IsNotFound() || value != projection_->layout()) {
    if (s.ok()) {
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

  auto applied_version = [&](const std::string& case_id) -> absl::StatusOr<uint64_t> {
    if (auto it = applied.find(case_id); it != applied.end()) return it->second;
    std::string value;
    rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), absl::StrCat(kAppliedPrefix, case_id), &value);
    if (s.IsNotFound()) return applied[case_id] = 0;
    RETURN_IF_ERROR(FromRocks(s, "read applied version"));
    return applied[case_id] = ReadBigEndian64(value);
  };
  // Cases with a retraction in this batch: their history is applied again,
  // once, at the end of the batch (so a case with many retractions costs one
  // replay per batch, not one per retraction).
  std::unordered_set<std::string> replay;
  auto apply_one = [&](const v1::RecordedEvent& e) -> absl::Status {
    if (e.event().has_event_retracted() || replay.count(e.case_id())) {
      replay.insert(e.case_id());
    } else {
      RETURN_IF_ERROR(projection_->Apply(e, txn));
    }
    applied[e.case_id()] = e.stream_version();
    ++events_applied;
    max_position = std::max<uint64_t>(max_position, e.global_position());
    return absl::OkStatus();
  };

  for (const v1::RecordedEvent& e : events) {
    ASSIGN_OR_RETURN(uint64_t version, applied_version(e.case_id()));
    if (e.stream_version() <= version) continue;  // redelivered
    if (e.stream_version() > version + 1) {
      // A gap: the missing events come from the store, in order.
      ASSIGN_OR_RETURN(auto missing, store_->ReadCase(CaseId(e.case_id()), StreamVersion(version + 1),
                                                      e.stream_version() - version - 1));
      for (const auto& m : missing) {
        if (m.stream_version() != version + 1) break;
        RETURN_IF_ERROR(apply_one(m));
        version = m.stream_version();
      }
      if (version + 1 != e.stream_version()) {
        return absl::DataLossError(absl::StrCat("projection ", projection_->name(), ": versions ", version + 1, "..",
                                                e.stream_version() - 1, " of a case missing from the store"));
      }
    }
    RETURN_IF_ERROR(apply_one(e));
  }

  for (const std::string& case_id : replay) RETURN_IF_ERROR(ReplayWithoutRetracted(case_id, applied[case_id], txn));
  for (const auto& [case_id, version] : applied) {
    batch.Put(absl::StrCat(kAppliedPrefix, case_id), BigEndian64(version));
  }
  for (const PartitionOffset& o : offsets) {
    batch.Put(OffsetKey(cluster_id, options_.kafka.topic, o.partition),
              BigEndian64(static_cast<uint64_t>(o.next_offset.value())));
  }
  std::string watermark = BigEndian64(events_applied);
  PutBigEndian64(&watermark, max_position);
  batch.Put(kWatermarkKey, watermark);
  absl::Status written = projection_->EndBatch(txn);
  if (written.ok()) written = FromRocks(db_->Write(WriteOpts(), batch.GetWriteBatch()), "write");
  projection_->AfterWrite(written.ok());
  write_reported = true;
  RETURN_IF_ERROR(written);
  events_applied_ = events_applied;
  max_position_ = max_position;
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
  const uint64_t to = std::min(up_to.value(), store_->Head().value());
  const Watermark w = watermark();
  // Every position up to the watermark is applied when there are as many
  // distinct events as the highest position: start after it.
  const uint64_t from = w.events_applied == w.max_global_position ? w.max_global_position + 1 : 1;
  CatchUpProgress done;
  done.events_total = to >= from ? to - from + 1 : 0;
  if (done.events_total == 0) {
    if (progress) progress(done);
    return absl::OkStatus();
  }
  std::vector<v1::RecordedEvent> chunk;
  chunk.reserve(options_.max_batch);
  absl::Status apply_status;
  auto flush = [&]() -> absl::Status {
    RETURN_IF_ERROR(ApplyBatch(chunk));
    done.events_done += chunk.size();
    chunk.clear();
    if (progress && !progress(done)) {
      return absl::CancelledError(absl::StrCat("projection ", projection_->name(), ": catch-up stopped after ",
                                               done.events_done, " of ", done.events_total, " events"));
    }
    return absl::OkStatus();
  };
  RETURN_IF_ERROR(
      store_->ScanAll(GlobalPosition(from), GlobalPosition(to), [&](const v1::RecordedEvent& e, std::string_view) {
        chunk.push_back(e);
        if (chunk.size() >= options_.max_batch) apply_status = flush();
        return apply_status.ok();
      }));
  RETURN_IF_ERROR(apply_status);
  if (!chunk.empty()) RETURN_IF_ERROR(flush());
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

void ProjectionEngine::StartConsumer() {
  if (consumer_thread_.joinable()) return;
  stopping_ = false;
  consumer_.reset();  // of an earlier run, stopped and closed
  consumer_thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "kring-project");
    ConsumeLoop();
  });
}

void ProjectionEngine::ConsumeLoop() {
  // Below the append path in CPU priority: under overload the read model lags
  // and catches up later, instead of slowing acknowledgements. librdkafka's
  // threads, created below from this thread, inherit the niceness.
  if (options_.nice > 0 && setpriority(PRIO_PROCESS, static_cast<id_t>(syscall(SYS_gettid)), options_.nice) != 0) {
    Logger("projections")->warn("msg=setpriority_failed errno={}", errno);
  }
  // Kafka may be down when we start: keep trying, appends do not wait for us.
  consumer_ = std::make_unique<Consumer>(this);
  if (absl::Status s = consumer_->Init(stopping_); !s.ok()) {
    if (!stopping_.load()) {
      Logger("projections")
          ->error("msg=consumer_init_failed projection={} status=\"{}\"", projection_->name(), s.ToString());
    }
    consumer_.reset();
    return;
  }
  Logger("projections")->info("msg=consumer_started projection={} group={}", projection_->name(), options_.group_id);
  std::vector<v1::RecordedEvent> events;
  std::vector<PartitionOffset> offsets;
  uint64_t last_applied = events_applied_.load();
  auto last_progress = std::chrono::steady_clock::now();
  while (!stopping_.load()) {
    events.clear();
    offsets.clear();
    consumer_->Poll(options_.max_batch, &events, &offsets);
    if (!offsets.empty()) {
      // Nothing of a failed batch was written; retry it rather than skip it.
      for (absl::Status s = ApplyBatch(events, consumer_->cluster_id(), offsets); !s.ok() && !stopping_.load();
           s = ApplyBatch(events, consumer_->cluster_id(), offsets)) {
        Logger("projections")->error("msg=apply_failed projection={} status=\"{}\"", projection_->name(), s.ToString());
        std::this_thread::sleep_for(std::chrono::seconds(1));
      }
    }
    // Kafka may never deliver some events: a topic's retention (the embedded
    // cluster keeps about 5 MiB per partition) can drop messages before this
    // worker read them, and a broker can lose them. The watermark shows it:
    // fewer distinct events applied than the highest position (a hole), or a
    // highest position below the store's head (lag). When that stays so for
    // fill_from_store_after, the store supplies what is missing; everything
    // applied already is skipped by version, so this is exact.
    const Watermark w = watermark();
    const auto now = std::chrono::steady_clock::now();
    if (w.events_applied != last_applied) {
      last_applied = w.events_applied;
      last_progress = now;
    } else if (options_.fill_from_store && now - last_progress >= options_.fill_from_store_after &&
               (w.events_applied < w.max_global_position || w.max_global_position < store_->Head().value())) {
      Logger("projections")
          ->info("msg=filling_from_store projection={} events_applied={} max_position={} head_position={}",
                 projection_->name(), w.events_applied, w.max_global_position, store_->Head().value());
      if (absl::Status s =
              CatchUpFromStore(store_->Head(), [this](const CatchUpProgress&) { return !stopping_.load(); });
          !s.ok() && !stopping_.load()) {
        Logger("projections")->error("msg=fill_failed projection={} status=\"{}\"", projection_->name(), s.ToString());
      }
      last_applied = events_applied_.load();
      last_progress = std::chrono::steady_clock::now();
    }
  }
}

void ProjectionEngine::StopConsumer() {
  if (!consumer_thread_.joinable()) return;
  stopping_ = true;
  consumer_thread_.join();
  if (consumer_) consumer_->Close();
  Logger("projections")
      ->info("msg=consumer_stopped projection={} events_applied={}", projection_->name(), events_applied_.load());
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
