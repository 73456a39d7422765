// EventStore: the source of truth. Case streams of recorded events in RocksDB,
// written with group commit, read by case or by global position, with the
// outbox that the Kafka relay drains.
//
// Layout (column families):
//   events     BE64(global_position)            -> RecordedEvent bytes, ending
//                                                  with the hash chain (chain.h)
//   streams    case_id \0 BE64(first version)   -> BE64(first position) BE64(count)
//              (one entry per batch: its events have consecutive versions at
//              consecutive positions)
//   event_ids  event_id                         -> BE64(position) BE64(version) case_id
//   heads      case_id                          -> BE64(stream_version)
//   default    "published/" cluster id          -> BE64(last position that Kafka
//                                                  cluster confirmed)
// The outbox is the tail of the `events` log past the published watermark of
// the cluster the relay publishes to: an event enters it in the same atomic
// write that records it, and leaves it when that cluster confirms delivery. A
// cluster the store has never published to gets the whole log.
//
// Threads: every public method may be called from any thread. Appends are
// validated and serialized on the caller's thread, then queued to the writer
// (group commit, group_commit.cc), two threads in a pipeline:
//   kring-writer  folds all requests waiting at that moment into one group and
//                 stages it into a WriteBatch: positions and versions are
//                 assigned there (gapless, in write order), and the case rules
//                 (case_rules.h) are checked against the state the earlier
//                 batches left, those of the group still being written
//                 included;
//   kring-wal     writes the staged group with sync=true, so a batch is
//                 acknowledged only once it is on disk, and only then makes
//                 it visible to readers (RocksDB shows a synced write once its
//                 sync returns; Head() moves after).
// So the next group is staged while the previous one's sync is in flight, and
// requests that arrive meanwhile join it. It goes to disk only after that
// write succeeded: kring-wal takes it itself as soon as the write returns
// (the writer "parks" it between staging rounds), or the writer hands it over
// after staging a late request into it. If the write failed, nothing of the
// next group is written: it is refused like every group until the database
// is reopened. When more batches wait, completion callbacks
// run on a separate completion thread so that the next group is written at
// once; otherwise (and only when that thread is idle) kring-wal runs
// them itself, saving a thread hop. Either way callbacks run one at a time and
// in write order: every callback of a group returns before the first of the
// next group runs, so the acknowledgements of one stream keep the order of its
// requests.
//
// Failed writes (docs/operations.md, "Failure modes"): every acknowledgement
// depends on the synced write that makes it durable, a retry answered from
// the group being built included. Before each group the writer checks that
// the data folder's file system keeps `min_free_bytes` free and refuses the
// group with RESOURCE_EXHAUSTED ("disk full: ...") otherwise. When a write
// fails anyway, RocksDB's WAL writer that saw the error is never used again:
// the store refuses appends (RESOURCE_EXHAUSTED for a full disk, UNAVAILABLE
// otherwise), and the writer closes and reopens the database in-process once
// space allows (at most every `recovery_interval`), re-reading the head and
// the last hash from disk and dropping its cache of case states. RocksDB's own
// automatic error recovery is switched off: in 7.8 it can reuse that WAL
// writer, and Debian's librocksdb then aborts on the assertion
// `sync_without_flush_called_`. Reads keep working meanwhile. write_health()
// and WatchWriteHealth() report the state for health checks.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "common/types.h"
#include "eventstore/case_rules.h"
#include "eventstore/event_source.h"
#include "eventstore/upcast.h"
#include "eventstore/validation.h"
#include "kring/v1/events.pb.h"

namespace rocksdb {
class DB;
class ColumnFamilyHandle;
class Env;
}  // namespace rocksdb

namespace kring::eventstore {

struct RecordedId;

// Seals the `personal` part of an event before it is stored (security/
// key_store.h implements it with per-case data keys).
class PersonalDataSealer {
 public:
  virtual ~PersonalDataSealer() = default;
  // FAILED_PRECONDITION when the case's personal data was erased.
  virtual absl::StatusOr<v1::SealedPersonalData> Seal(const std::string& case_id, const std::string& event_id,
                                                      const v1::PersonalData& personal) = 0;
};

struct EventStoreOptions {
  // Folder of the RocksDB database; created when missing. Required.
  std::string path;
  // Sync the WAL on every group write: an acknowledged batch survives power
  // loss and kill -9. Default: true. Only benchmarks of the raw engine and
  // throwaway tests turn it off.
  bool sync = true;
  // Most append requests folded into one group write. Default: 2048.
  size_t max_group_requests = 2048;
  // Most events in one group write (a single larger batch still goes alone).
  // Default: 20000.
  size_t max_group_events = 20000;
  // Limits and formats checked before a batch is queued.
  ValidationOptions validation;
  // Most cases whose rule state (case_rules.h) the writer keeps in memory;
  // a case not kept is folded again from its events when next appended to.
  // When the cache is full it is emptied. Default: 100000.
  size_t max_cached_cases = 100000;
  // Seals the `personal` part of each event before it is stored and
  // published; without one, events with personal data are refused. Default:
  // none. Must outlive the store.
  PersonalDataSealer* sealer = nullptr;
  // Applied to every event read (ReadCase, ReadAll, ScanAll's parsed event;
  // never to the stored bytes). Default: Upcasters::Current(). Must outlive
  // the store.
  const Upcasters* upcasters = &Upcasters::Current();
  // The clock that stamps recorded_at (transaction time) and bounds
  // occurred_at in validation. Default (unset): absl::Now. Tests only, to
  // record events on chosen days; must be safe to call from any thread.
  std::function<absl::Time()> clock;
  // The RocksDB environment (file system) of the database. Default: nullptr,
  // RocksDB's default Env. Tests pass one over a fault-injecting file system
  // (tests/testing/fault_fs.h). Must outlive the store.
  rocksdb::Env* env = nullptr;
  // Free space the data folder's file system must keep: while less is free,
  // groups are refused with RESOURCE_EXHAUSTED ("disk full: ...") before
  // RocksDB meets a full disk, and appends resume by themselves once space is
  // freed. Room for RocksDB to flush its memtables (about 200 MiB at most with
  // this store's settings) and compact. 0 switches the check off. Default:
  // 256 MiB (kringd: --min-free-mib).
  uint64_t min_free_bytes = uint64_t{256} << 20;
  // Called once for every append request when its callback runs, on the
  // thread that runs it: the batch's events, its result (OK, or the refusal's
  // code; already_recorded for a retry of recorded events) and the seconds
  // since AppendAsync. For metrics; must be cheap and not block.
  // Default: none.
  std::function<void(size_t events, absl::StatusCode code, bool already_recorded, double seconds)> on_appended;
  // While appends are refused after a failed write or for lack of space, how
  // often the writer looks again (free space; reopening the database) when
  // no append arrives. Default: 1 s.
  std::chrono::milliseconds recovery_interval{1000};
  // Tests only: called on kring-wal just before it writes a group, with the
  // number of requests in it; it may block to hold the write (the writer
  // meanwhile stages what arrives into the next group). Default: unset.
  std::function<void(size_t requests)> before_group_write;
  // Tests only: called on the writer thread after each round of staging,
  // with the number of requests staged: a group's first requests, or those
  // that joined it while the previous group was written. Default: unset.
  std::function<void(size_t requests)> after_group_staged;
  // Tests only: called once a group's acknowledgements have been delivered
  // or handed to the completion thread (on kring-wal for a written group, on
  // the writer for a group with nothing to write). Default: unset.
  std::function<void()> after_group;
};

// Whether the store can take appends now (EventStore::write_health()).
struct WriteHealth {
  enum class State {
    kOk,           // appends are written
    kDiskFull,     // refused with RESOURCE_EXHAUSTED until space is freed
    kWriteFailed,  // refused with UNAVAILABLE until the database is reopened
  };
  State state = State::kOk;
  // Why appends are refused (empty when ok). Never personal data.
  std::string reason;
  bool ok() const { return state == State::kOk; }
};
const char* WriteHealthName(WriteHealth::State state);

// The version a case must be at for an append to be accepted.
struct ExpectedVersion {
  enum class Kind { kAny, kNoStream, kExact };
  Kind kind = Kind::kAny;
  StreamVersion version{0};  // for kExact

  static ExpectedVersion Any() { return {}; }
  static ExpectedVersion NoStream() { return {Kind::kNoStream, StreamVersion(0)}; }
  static ExpectedVersion Exact(uint64_t v) { return {Kind::kExact, StreamVersion(v)}; }
};

struct AppendBatch {
  CaseId case_id;
  ExpectedVersion expected;
  std::vector<v1::Event> events;
  // The authenticated sender; recorded as each event's `source`.
  std::string source;
  // The sender is a partner: it may append only to a case it referred (the
  // source of its case_referred) or was granted (case_access_granted naming
  // it); other cases are refused with PERMISSION_DENIED, and only the
  // referrer may grant.
  bool own_cases_only = false;
  // Written by the server itself (an erasure): may hold payloads a partner
  // may not send (personal_data_erased).
  bool server_written = false;
};

// The head of one case as recorded (EventStore::ReadCaseHead).
struct RecordedCaseHead {
  StreamVersion version{0};         // the last event's version; 0: the case has no events
  std::string last_event_id;        // that event's id (empty when version is 0)
  GlobalPosition last_position{0};  // its global position (0 when version is 0)
  // The case rules' state after every recorded event (case_rules.h): who
  // referred the case, who was granted access, live closures.
  CaseState state;
};

// The result of checking the hash chain (see the class comment).
struct ChainVerification {
  bool ok = true;
  uint64_t events_verified = 0;     // events that verified before the first failure
  GlobalPosition last_position{0};  // the last position verified
  std::string head_hash;            // its hash (32 bytes; empty when nothing verified)
  GlobalPosition first_bad_position{0};
  std::string reason;  // why first_bad_position does not verify
};

struct AppendOutcome {
  StreamVersion first_version;
  StreamVersion last_version;
  GlobalPosition first_position;
  GlobalPosition last_position;
  // Every event of the batch had been recorded before: these are the original
  // positions and nothing was written.
  bool already_recorded = false;
};

class EventStore : public EventSource {
 public:
  using AppendCallback = std::function<void(absl::StatusOr<AppendOutcome>)>;

  // Opens (or creates) the store and starts its writer thread.
  static absl::StatusOr<std::unique_ptr<EventStore>> Open(EventStoreOptions options);
  ~EventStore();
  EventStore(const EventStore&) = delete;
  EventStore& operator=(const EventStore&) = delete;

  // Validates and queues a batch; `done` runs on the writer thread once the
  // batch is durable or refused (or at once, on this thread, when the batch is
  // malformed). `done` must not block.
  void AppendAsync(AppendBatch batch, AppendCallback done);
  // Appends and waits until the batch is durable or refused.
  absl::StatusOr<AppendOutcome> Append(AppendBatch batch);

  // Events of one case with version >= from, at most max_count, in order.
  absl::StatusOr<std::vector<v1::RecordedEvent>> ReadCase(const CaseId& case_id, StreamVersion from,
                                                          size_t max_count = SIZE_MAX) const override;
  // Events with global position >= from, at most max_count, in order.
  absl::StatusOr<std::vector<v1::RecordedEvent>> ReadAll(GlobalPosition from, size_t max_count) const override;
  // Calls fn for each event with position in [from, to], in order, until fn
  // returns false. `stored` is the event's bytes exactly as stored (not
  // upcast).
  using ScanFn = std::function<bool(const v1::RecordedEvent& event, std::string_view stored)>;
  absl::Status ScanAll(GlobalPosition from, GlobalPosition to, const ScanFn& fn) const;
  // The same in chunks of up to `max_events` events (at least 1), parsed and
  // upcast once, into an arena: fn gets each chunk, in order, until it
  // returns false. The events live until fn returns (their messages are then
  // parsed into again for the next chunk): nothing is copied, and fn must
  // not keep them. What rebuilds
  // read (projections/engine.h, CatchUpFromStore). INVALID_ARGUMENT when
  // max_events is 0.
  absl::Status ScanChunks(GlobalPosition from, GlobalPosition to, size_t max_events, const ChunkFn& fn) const override;

  // Checks the hash chain of every event with position in [from, to] (to is
  // capped at Head()): each event's stored bytes hash to its `hash`, its
  // `prev_hash` is the hash of the event before it in the log, its
  // `case_prev_hash` the hash of the case's previous event, and positions and
  // versions are where they should be. Stops at the first failure.
  absl::StatusOr<ChainVerification> VerifyChain(GlobalPosition from, GlobalPosition to) const;
  // The same over the events of one case, in version order.
  absl::StatusOr<ChainVerification> VerifyCase(const CaseId& case_id) const;
  // Writes a consistent copy of the store (a RocksDB checkpoint: hard links
  // where possible) to `destination`, which must not exist; appends may go
  // on meanwhile. Returns the head position the copy holds.
  absl::StatusOr<GlobalPosition> Checkpoint(const std::string& destination) const;

  // Last durable global position (0 when empty).
  GlobalPosition Head() const override { return GlobalPosition(head_.load(std::memory_order_acquire)); }
  // Current version of a case (0 when it has no events).
  absl::StatusOr<StreamVersion> CaseVersion(const CaseId& case_id) const;
  // The head of a case and its rule state, folded from its events as the
  // writer folds them, so CheckPartnerMayAppend on `state` answers as an
  // append would have at that moment. Reads the case's events (the access
  // rules depend on all of them), not the rest of the log.
  absl::StatusOr<RecordedCaseHead> ReadCaseHead(const CaseId& case_id) const;
  // Waits until Head() > after or the timeout passes; returns Head().
  GlobalPosition WaitForHead(GlobalPosition after, std::chrono::milliseconds timeout) const;

  // Outbox: the first position the Kafka cluster `cluster_id` has not
  // confirmed (Head()+1 when it has them all, 1 for a cluster never used).
  absl::StatusOr<GlobalPosition> FirstUnpublished(const std::string& cluster_id) const;
  // Records that `cluster_id` confirmed every position <= up_to.
  absl::Status MarkPublished(const std::string& cluster_id, GlobalPosition up_to);

  // Whether appends are written now, and if not why (see the class comment).
  WriteHealth write_health() const;
  // Group commits so far: synced group writes, and the append requests they
  // held (their ratio is the mean group size).
  uint64_t groups_written() const { return groups_written_.load(std::memory_order_relaxed); }
  uint64_t requests_written() const { return requests_written_.load(std::memory_order_relaxed); }
  // A RocksDB integer property of the database, e.g.
  // "rocksdb.estimate-live-data-size" (metrics); 0 when unknown.
  uint64_t RocksIntProperty(const std::string& name) const;
  // Calls `listener` at once with the current write health and then on every
  // change (on the writer thread; never two calls at a time). Replaces an
  // earlier listener; nullptr removes it. `listener` must not call the store.
  void WatchWriteHealth(std::function<void(const WriteHealth&)> listener);

  // Stops taking appends (new ones fail with UNAVAILABLE), finishes every
  // queued batch and stops the writer; reads keep working. Idempotent.
  void StopAppends();
  // StopAppends(), then closes the database. Idempotent.
  void Close();

 private:
  struct Pending {
    AppendBatch batch;
    std::vector<std::string> serialized;  // events[i] as bytes, `personal` cleared
    // events[i]'s sealed personal part (empty when none); empty vector: no
    // event of the batch had one.
    std::vector<v1::SealedPersonalData> sealed;
    AppendCallback done;
  };
  struct Completion {
    std::vector<AppendCallback> callbacks;
    std::vector<absl::StatusOr<AppendOutcome>> results;
  };
  struct GroupState;
  struct InFlight;
  // The writer's group: whether the next queued request no longer fits
  // (queue_mu_ held, queue not empty); taking queued requests into it
  // (queue_mu_ held); staging next.group[from, end).
  bool GroupFull(const std::deque<Pending>& group, size_t events) const;
  void TakeQueued(std::deque<Pending>& group, size_t& events);
  void StageNew(size_t from, InFlight& next);
  // Hands a collected group to the completion thread to be freed.
  void Retire(std::unique_ptr<InFlight> group);

  explicit EventStore(EventStoreOptions options);
  absl::Time Now() const { return options_.clock ? options_.clock() : absl::Now(); }
  // Opens the database (read-only: only for reads while a reopen after a
  // failed write does not succeed) and reads the head and last hash. The
  // caller holds db_mu_ exclusively or is Open().
  absl::Status OpenDb(bool read_only = false);
  // Closes the database; the caller holds db_mu_ exclusively.
  void CloseDb();
  // Readers hold db_mu_ shared while they use db_ (only the writer's reopen
  // replaces it); UNAVAILABLE when the database is closed.
  absl::StatusOr<std::shared_lock<std::shared_mutex>> LockDb() const;
  // group_commit.cc: the writer (stages groups), kring-wal (writes them) and
  // the completion thread.
  void WriterLoop();
  void WalLoop();
  void CompletionLoop();
  static void Deliver(Completion& c);
  // Delivers `c` on this thread when nothing waits and the completion thread
  // is idle, else hands it to that thread (keeping write order).
  void HandOver(Completion c);
  void SetStaging(bool staging);
  // Writer thread: the case states of a group whose write succeeded (or that
  // wrote nothing) go back to the cache.
  void CacheCaseStates(std::unordered_map<std::string, CaseState>& cases);
  // Writer thread: waits until kring-wal has written `inflight` (if any),
  // takes its outcome over (case states, last hash; after a failure the
  // refusal and the reopen) and releases it (into `retired`, when given, to
  // be freed later). OK, or the refusal for the groups staged on it.
  absl::Status Collect(std::unique_ptr<InFlight>& inflight, std::unique_ptr<InFlight>* retired = nullptr);
  // kring-wal: writes one staged group and delivers its acknowledgements.
  void WriteInFlight(InFlight& job);
  // Writer thread: OK when a group may be written now; otherwise the status
  // that refuses it. Checks free space and, after a failed write, reopens
  // the database once space allows (at most every recovery_interval).
  absl::Status CheckWritable();
  // Writer thread: closes and reopens the database after a failed write.
  absl::Status Reopen();
  // Free bytes of the data folder's file system.
  absl::StatusOr<uint64_t> FreeBytes() const;
  void SetWriteHealth(WriteHealth::State state, std::string reason);
  static Completion Refuse(std::deque<Pending>& group, const absl::Status& status);
  absl::StatusOr<AppendOutcome> Stage(const Pending& pending, GroupState& state);
  // The outcome of a batch whose events are all recorded: the original
  // positions if it repeats them exactly, FAILED_PRECONDITION otherwise.
  absl::StatusOr<AppendOutcome> RetryOutcome(const Pending& pending, const std::vector<RecordedId>& found,
                                             const GroupState& state) const;
  absl::StatusOr<uint64_t> LoadCaseVersion(const std::string& case_id) const;
  // ReadCase without taking db_mu_ (the caller holds it or is the writer).
  absl::StatusOr<std::vector<v1::RecordedEvent>> ReadCaseLocked(const CaseId& case_id, StreamVersion from,
                                                                size_t max_count) const;
  absl::StatusOr<GlobalPosition> FirstUnpublishedLocked(const std::string& cluster_id) const;
  // The stored record at a position (NOT_FOUND when there is none).
  absl::StatusOr<std::string> ReadRecord(uint64_t position) const;
  // The rule state of a case as recorded, folded from its events.
  absl::StatusOr<CaseState> LoadCaseState(const std::string& case_id) const;
  // The rule state after `events` (a case's events from version 1, in order).
  static CaseState FoldCaseState(const std::vector<v1::RecordedEvent>& events);
  // The event a retraction names, if recorded or staged in this group.
  absl::StatusOr<std::optional<RetractionTarget>> FindEvent(const std::string& event_id, const GroupState& state) const;

  const EventStoreOptions options_;
  // Guards db_ and the handles against the writer's reopen: readers hold it
  // shared, Reopen exclusively. The writer thread reads without it (it is
  // the only one that replaces db_). A reopen waits for reads in progress
  // (a long scan delays it). Reads may nest on one thread (a ScanAll
  // callback that reads the store): glibc's rwlock, under std::shared_mutex,
  // prefers readers, so a waiting reopen does not block the inner read.
  mutable std::shared_mutex db_mu_;
  std::unique_ptr<rocksdb::DB> db_;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;
  rocksdb::ColumnFamilyHandle* events_cf_ = nullptr;
  rocksdb::ColumnFamilyHandle* streams_cf_ = nullptr;
  rocksdb::ColumnFamilyHandle* event_ids_cf_ = nullptr;
  rocksdb::ColumnFamilyHandle* heads_cf_ = nullptr;

  std::atomic<uint64_t> head_{0};
  mutable std::mutex head_mu_;
  mutable std::condition_variable head_cv_;

  std::mutex queue_mu_;
  std::condition_variable queue_cv_;
  std::deque<Pending> queue_;
  bool closing_ = false;
  bool closed_ = false;
  // The writer holds a group it has not yet handed on (HandOver then leaves
  // acknowledgements to the completion thread, so the group is not held up).
  bool staging_ = false;
  // A staged group waiting for the previous group's write (nothing else
  // touches it while parked): kring-wal takes it once that write succeeded.
  InFlight* parked_ = nullptr;
  std::thread writer_;

  // The group handed to kring-wal (owned by the writer until collected).
  std::mutex wal_mu_;
  std::condition_variable wal_cv_;
  InFlight* wal_job_ = nullptr;
  bool wal_stop_ = false;
  std::thread wal_;

  std::mutex completion_mu_;
  std::condition_variable completion_cv_;
  std::deque<Completion> completions_;
  bool writer_done_ = false;
  // The completion thread is running callbacks (outside the lock): the
  // writer must then hand its group over instead of delivering it itself.
  bool delivering_ = false;
  // Groups the writer is done with, freed by the completion thread.
  std::vector<std::unique_ptr<InFlight>> retired_;
  std::thread completer_;

  mutable std::mutex health_mu_;
  WriteHealth health_;
  std::function<void(const WriteHealth&)> health_listener_;
  // Writer thread only: a write failed, so the database must be reopened
  // before the next write; until then groups are refused with `refusal_`.
  bool needs_reopen_ = false;
  absl::Status refusal_;
  std::chrono::steady_clock::time_point next_recovery_;

  // Group-commit statistics (kring-wal), logged on close.
  std::atomic<uint64_t> groups_written_{0};
  std::atomic<uint64_t> requests_written_{0};
  // Writer thread only: the hash of the last event of the log (chain.h).
  std::string last_hash_;
  // Writer thread only: the rule state of recently appended cases.
  std::unordered_map<std::string, CaseState> case_states_;
};

}  // namespace kring::eventstore
