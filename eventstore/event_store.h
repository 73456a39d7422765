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
// validated and serialized on the caller's thread, then queued to one writer
// thread, which folds all requests waiting at that moment into one WriteBatch
// written with sync=true (group commit), so a batch is acknowledged only once
// it is on disk, and positions and versions are assigned by that one writer:
// gapless and in write order; the case rules (case_rules.h) are checked
// there too, against the state the earlier batches of the group left. When more batches wait, completion callbacks
// run on a separate completion thread so that the writer can start the next
// group at once; otherwise the writer runs them itself, saving a thread hop.
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/types.h"
#include "eventstore/case_rules.h"
#include "eventstore/upcast.h"
#include "eventstore/validation.h"
#include "kring/v1/events.pb.h"

namespace rocksdb {
class DB;
class ColumnFamilyHandle;
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
};

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

class EventStore {
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
                                                          size_t max_count = SIZE_MAX) const;
  // Events with global position >= from, at most max_count, in order.
  absl::StatusOr<std::vector<v1::RecordedEvent>> ReadAll(GlobalPosition from, size_t max_count) const;
  // Calls fn for each event with position in [from, to], in order, until fn
  // returns false. `stored` is the event's bytes exactly as stored (not
  // upcast).
  using ScanFn = std::function<bool(const v1::RecordedEvent& event, std::string_view stored)>;
  absl::Status ScanAll(GlobalPosition from, GlobalPosition to, const ScanFn& fn) const;

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
  GlobalPosition Head() const { return GlobalPosition(head_.load(std::memory_order_acquire)); }
  // Current version of a case (0 when it has no events).
  absl::StatusOr<StreamVersion> CaseVersion(const CaseId& case_id) const;
  // Waits until Head() > after or the timeout passes; returns Head().
  GlobalPosition WaitForHead(GlobalPosition after, std::chrono::milliseconds timeout) const;

  // Outbox: the first position the Kafka cluster `cluster_id` has not
  // confirmed (Head()+1 when it has them all, 1 for a cluster never used).
  absl::StatusOr<GlobalPosition> FirstUnpublished(const std::string& cluster_id) const;
  // Records that `cluster_id` confirmed every position <= up_to.
  absl::Status MarkPublished(const std::string& cluster_id, GlobalPosition up_to);

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

  explicit EventStore(EventStoreOptions options);
  absl::Time Now() const { return options_.clock ? options_.clock() : absl::Now(); }
  absl::Status OpenDb();
  void WriterLoop();
  void CompletionLoop();
  static void Deliver(Completion& c);
  Completion WriteGroup(std::vector<Pending>& group);
  absl::StatusOr<AppendOutcome> Stage(const Pending& pending, GroupState& state);
  // The outcome of a batch whose events are all recorded: the original
  // positions if it repeats them exactly, FAILED_PRECONDITION otherwise.
  absl::StatusOr<AppendOutcome> RetryOutcome(const Pending& pending, const std::vector<RecordedId>& found,
                                             const GroupState& state) const;
  absl::StatusOr<uint64_t> LoadCaseVersion(const std::string& case_id) const;
  // The stored record at a position (NOT_FOUND when there is none).
  absl::StatusOr<std::string> ReadRecord(uint64_t position) const;
  // The rule state of a case as recorded, folded from its events.
  absl::StatusOr<CaseState> LoadCaseState(const std::string& case_id) const;
  // The event a retraction names, if recorded or staged in this group.
  absl::StatusOr<std::optional<RetractionTarget>> FindEvent(const std::string& event_id, const GroupState& state) const;

  const EventStoreOptions options_;
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
  std::thread writer_;

  std::mutex completion_mu_;
  std::condition_variable completion_cv_;
  std::deque<Completion> completions_;
  bool writer_done_ = false;
  std::thread completer_;

  // Writer thread only: group-commit statistics, logged on close.
  uint64_t groups_written_ = 0;
  uint64_t requests_written_ = 0;
  // Writer thread only: the hash of the last event of the log (chain.h).
  std::string last_hash_;
  // Writer thread only: the rule state of recently appended cases.
  std::unordered_map<std::string, CaseState> case_states_;
};

}  // namespace kring::eventstore
