// ProjectionEngine: keeps one read model up to date from the events topic,
// exactly once in effect.
//
// A consumer group per read model reads the topic. For each poll batch the
// engine writes, in one RocksDB write: the read model's changes, the stream
// version applied per case, the next offset per partition (under the Kafka
// cluster id, so offsets of an earlier embedded cluster are never reused) and
// the watermark. On (re)assignment it seeks to its own stored offsets.
// An event whose version is not newer than the case's applied version is
// skipped; one that leaves a gap first gets the missing events from the event
// store. So redelivery, restarts and republishing leave the model exact.
// An EventRetracted makes the read model forget the case and replay its
// history without the withdrawn events (see Projection).
//
// CatchUpFromStore() replays the event store directly, without Kafka (the
// fast path), optionally only up to a position: a fresh engine filled that way
// holds the read model "as of" that position (see replay.h), and an online
// rebuild (read_model.h) fills a fresh engine next to the live one. The free
// function CatchUpFromStore(engines, store, …) fills several engines from one
// scan: each chunk of events is read and parsed once, into an arena, and
// handed to every engine without a copy (EventStore::ScanChunks).
//
// Filling an empty engine from the store (a rebuild, a replay "as of", the
// start-up fill of a fresh folder) keeps the applied stream version per case
// in memory instead of reading and writing a "v:" key per case per batch:
// positions come gapless and in order, so every event is the case's next
// one. The batches write only the model's keys (behind a "filling" marker
// written first); the applied versions, the watermark and the removal of the
// marker follow in one write when the catch-up ends — also when it stops
// early (CANCELLED, an error). A crash before that write leaves the marker:
// the next Open empties the folder (as for a new layout) and the model is
// filled again, so it is never left with states whose versions are unknown
// (which a redelivery would apply twice).
//
// Files: engine.cc holds the applier (the database, ApplyBatch) and the store
// feed (CatchUpFromStore); kafka_feed.cc the Kafka feed (the consumer thread,
// the damaged-message repair and the fill-from-store fallback, which
// ProjectionOptions::fill_from_store switches off).
//
// Threads: the consumer runs on its own thread; ApplyBatch, both
// CatchUpFromStore, CopyOffsetsFrom, SyncWal and Scan* may be called from
// any thread (writes are serialized by a mutex).
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "bus/kafka.h"
#include "common/types.h"
#include "eventstore/upcast.h"
#include "projections/projection.h"

namespace rocksdb {
class DB;
struct WriteOptions;
}  // namespace rocksdb

namespace kring::eventstore {
class EventStore;
class EventSource;
}  // namespace kring::eventstore

namespace kring::projections {

struct ProjectionOptions {
  // Folder of this read model's RocksDB database. Required.
  std::string path;
  // Kafka cluster and topic to consume. Default: see KafkaOptions.
  bus::KafkaOptions kafka;
  // Consumer group. Default: "<group_prefix>.<projection name>".
  std::string group_id;
  // The consumer group's prefix when group_id is empty: each read replica
  // has its own (--consumer-group-prefix), so that every replica reads every
  // partition. Default: "kring.projection".
  std::string group_prefix = "kring.projection";
  // Most messages applied in one write. Default: 5000.
  size_t max_batch = 5000;
  // CPU priority of the consumer thread (and the librdkafka threads it
  // starts). `idle` (the default): SCHED_IDLE (IdleThisThread in
  // common/thread.h): it runs on what the append path leaves, and an append
  // thread that wakes takes the core from it at once. Otherwise niceness
  // `nice`: a busy append thread gets about 70 times its CPU share at 19, but
  // waits for the core while the consumer's slice lasts (ingest_bench,
  // batches of 10 × 16 streams: about 12 % fewer events/s than under
  // SCHED_IDLE). Either way, under overload appends keep the CPU and the read
  // model lags (kring_read_model_lag_events), catching up when the load
  // falls. Defaults: idle true, nice 19 (also the fallback should SCHED_IDLE
  // be refused).
  bool idle = true;
  int nice = 19;
  // The consumer's fallback: when it has applied nothing for
  // fill_from_store_after while the watermark shows a hole or lags the
  // store's head, the missing events come from the store (messages lost to
  // Kafka retention or a broker). Tests of the Kafka path turn it off, so
  // that the fallback cannot repair what they break. Default: true.
  bool fill_from_store = true;
  // How long the consumer waits without progress before that fallback runs.
  // Default: 2 s.
  std::chrono::milliseconds fill_from_store_after{2000};
  // Applied to every event consumed from Kafka (events read from the store
  // are upcast by the store). Default: Upcasters::Current(). Must outlive the
  // engine.
  const eventstore::Upcasters* upcasters = &eventstore::Upcasters::Current();
  // Write RocksDB's write-ahead log. Throwaway engines (a read model replayed
  // "as of" a position into a temporary folder) turn it off: they are never
  // reopened. Default: true.
  bool write_ahead_log = true;
};

struct Watermark {
  uint64_t events_applied = 0;       // distinct events applied
  uint64_t max_global_position = 0;  // highest global position applied
};

// How far CatchUpFromStore has got: positions scanned since it started, of
// those it was asked to scan.
struct CatchUpProgress {
  uint64_t events_done = 0;
  uint64_t events_total = 0;
};
// Called after every applied batch; returning false stops the catch-up with
// CANCELLED (what was applied so far stays applied).
using CatchUpProgressFn = std::function<bool(const CatchUpProgress&)>;

// A message position in Kafka, to be stored with the batch it completes.
struct PartitionOffset {
  KafkaPartition partition;
  KafkaOffset next_offset;
};

class ProjectionEngine;

// Catches every engine up from ONE scan of `store` (the store they were
// opened with) up to `up_to` (capped at the store's head), as each engine's
// own CatchUpFromStore(up_to) would: an engine that holds every position up
// to its watermark gets the positions after it, another every position
// (skipping by version what it has). The scan starts at the smallest of these
// starts; chunks of the engines' smallest max_batch events are applied to
// every engine, spread over `threads` threads (this one and threads - 1
// started for the catch-up; at most one per engine). `progress` is called
// after each chunk (events_done: positions scanned; events_total: positions
// to scan); returning false stops with CANCELLED, what was applied staying
// applied (each filled engine's versions and watermark written).
// INVALID_ARGUMENT when `engines` is empty, holds a null or the same engine
// twice, an engine was opened with another store, or threads is 0. Not
// concurrently with another catch-up of the same engine.
absl::Status CatchUpFromStore(const std::vector<ProjectionEngine*>& engines, const eventstore::EventSource& store,
                              GlobalPosition up_to, const CatchUpProgressFn& progress = nullptr, size_t threads = 1);

class ProjectionEngine {
 public:
  // `store` supplies missing events and rebuilds; it must outlive the engine.
  static absl::StatusOr<std::unique_ptr<ProjectionEngine>> Open(ProjectionOptions options,
                                                                std::unique_ptr<Projection> projection,
                                                                const eventstore::EventSource* store);
  ~ProjectionEngine();

  // Applies events in one write (see class comment), with the offsets they
  // complete under `cluster_id`.
  absl::Status ApplyBatch(const std::vector<v1::RecordedEvent>& events, const std::string& cluster_id = "",
                          const std::vector<PartitionOffset>& offsets = {});
  // Replays every event of the store not yet applied, without Kafka.
  absl::Status CatchUpFromStore();
  // The same, only for positions <= up_to (capped at the store's head), with
  // `progress` called after each batch. When the engine holds every position
  // up to its watermark (events_applied == max_global_position, as an engine
  // filled only from the store does), the scan starts after it; otherwise it
  // starts at position 1 and skips what is applied. The free function
  // CatchUpFromStore with this engine alone.
  absl::Status CatchUpFromStore(GlobalPosition up_to, const CatchUpProgressFn& progress = nullptr);

  // Copies every Kafka offset stored by `other` (all clusters) into this
  // engine, in one write. Used when a rebuilt engine takes over from the live
  // one: `other`'s consumer must be stopped, and this engine must already
  // hold every event stored when it stopped (see docs/operations.md), so
  // that the copied offsets are never ahead of what this engine applied.
  absl::Status CopyOffsetsFrom(const ProjectionEngine& other);
  // Syncs the write-ahead log: everything applied so far survives power loss.
  absl::Status SyncWal();

  // Starts the consumer thread; it connects (retrying while Kafka is
  // unreachable) and then applies what it consumes. No-op while it runs; may
  // be called again after StopConsumer. Not concurrently with StopConsumer.
  void StartConsumer();
  // Stops the consumer thread (leaves the group); idempotent.
  void StopConsumer();

  Watermark watermark() const;
  // The next Kafka offset stored for a partition of this cluster (what the
  // consumer has applied up to), if any.
  absl::StatusOr<std::optional<KafkaOffset>> StoredOffset(const std::string& cluster_id,
                                                          KafkaPartition partition) const;
  const std::string& path() const { return options_.path; }
  std::string name() const { return projection_->name(); }
  // The read model, for queries (which read what it keeps in memory).
  const Projection& projection() const { return *projection_; }
  // Calls fn for every model key with this prefix (prefix included in the
  // key), from one consistent snapshot.
  absl::Status ScanModel(std::string_view prefix,
                         const std::function<void(std::string_view key, std::string_view value)>& fn) const;

 private:
  // The Kafka feed (kafka_feed.cc): the consumer and its thread.
  class Consumer;
  struct ConsumerDeleter {  // defined where Consumer is complete
    void operator()(Consumer* consumer) const;
  };
  friend absl::Status CatchUpFromStore(const std::vector<ProjectionEngine*>& engines,
                                       const eventstore::EventSource& store, GlobalPosition up_to,
                                       const CatchUpProgressFn& progress, size_t threads);
  ProjectionEngine(ProjectionOptions options, std::unique_ptr<Projection> projection,
                   const eventstore::EventSource* store);
  absl::Status OpenDb();
  // ApplyBatch over events that live elsewhere (a scanned chunk).
  absl::Status ApplyEvents(absl::Span<const v1::RecordedEvent* const> events, const std::string& cluster_id,
                           const std::vector<PartitionOffset>& offsets);
  // The first position a catch-up from the store gives this engine (see
  // CatchUpFromStore(up_to)).
  uint64_t StoreFeedStart() const;
  // An empty engine starts filling (writes the marker; versions kept in
  // memory); no-op otherwise. EndFill writes what filling deferred.
  absl::Status BeginFill();
  absl::Status EndFill();
  void ConsumeLoop();
  // After an EventRetracted: forgets the case and applies its history up to
  // `up_to_version` again, without retractions and the events they withdrew.
  absl::Status ReplayWithoutRetracted(const std::string& case_id, uint64_t up_to_version, ModelTxn& txn);
  rocksdb::WriteOptions WriteOpts() const;

  const ProjectionOptions options_;
  std::unique_ptr<Projection> projection_;
  const eventstore::EventSource* store_;
  std::unique_ptr<rocksdb::DB> db_;
  std::mutex write_mu_;
  std::atomic<uint64_t> events_applied_{0};
  std::atomic<uint64_t> max_position_{0};
  // Filling (BeginFill..EndFill): batches leave out the "v:" keys and the
  // watermark; the versions they applied are kept here. Guarded by write_mu_.
  bool filling_ = false;
  absl::flat_hash_map<std::string, uint64_t> fill_versions_;

  std::unique_ptr<Consumer, ConsumerDeleter> consumer_;
  std::atomic<bool> stopping_{false};
  std::thread consumer_thread_;
};

}  // namespace kring::projections
