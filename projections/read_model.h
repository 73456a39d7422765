// LiveReadModel: one read model as kringd runs it — the engine that queries
// use, behind a handle that an online rebuild swaps, its consumer, its folder,
// and replays "as of" a position.
//
// Folders, under LiveReadModelOptions::dir (kringd: <data>/projections):
//   <name>.current    a small file naming the folder of the live engine; when
//                     missing, the folder is <name> (as before rebuilds existed)
//   <name>            or <name>.rebuild-<k>: the live engine's RocksDB
//   <name>.rebuild-<k> a rebuild in progress (removed at Open unless current)
//   tmp/<name>.as-of-* read models replayed "as of" a position (removed after
//                     the query, and at Open)
//
// Online rebuild (Rebuild()):
//   1. a fresh engine in <name>.rebuild-<k> catches up from the event store to
//      the head at the start, reporting progress; queries keep answering from
//      the live engine, whose consumer keeps running;
//   2. it catches up again to the head (what was appended meanwhile);
//   3. the live consumer is stopped (queries still answer from its state);
//   4. the fresh engine catches up to the head a last time, then copies the
//      live engine's stored Kafka offsets — safe because every message the
//      stopped consumer read is an event that was in the store before it was
//      published, so the fresh engine has applied it — and syncs its log;
//   5. <name>.current is replaced atomically (this is the commit point: a crash
//      before it restarts on the old folder, after it on the new one);
//   6. the handle is swapped and the fresh engine's consumer started; it
//      resumes at the copied offsets, skipping by version whatever it has;
//   7. once no query holds the old engine any more, it is closed and its
//      folder removed.
// Queries never fail: until step 6 they read the old engine, afterwards the
// new one, and a query in flight keeps the engine it started with alive.
//
// Threads: every method may be called from any thread. One Rebuild runs at a
// time (a second gets FAILED_PRECONDITION).
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/types.h"
#include "projections/engine.h"
#include "projections/replay.h"

namespace kring::projections {

// The engine queries of one read model use; Exchange() swaps it atomically.
// A reader's shared_ptr keeps the engine it got alive until it lets go.
class ReadModelHandle {
 public:
  explicit ReadModelHandle(std::shared_ptr<ProjectionEngine> engine = nullptr) : engine_(std::move(engine)) {}
  std::shared_ptr<ProjectionEngine> Get() const {
    std::lock_guard<std::mutex> lock(mu_);
    return engine_;
  }
  // Installs `next`; returns the engine it replaces.
  std::shared_ptr<ProjectionEngine> Exchange(std::shared_ptr<ProjectionEngine> next) {
    std::lock_guard<std::mutex> lock(mu_);
    engine_.swap(next);
    return next;
  }

 private:
  mutable std::mutex mu_;
  std::shared_ptr<ProjectionEngine> engine_;
};

struct LiveReadModelOptions {
  // Folder of the read models (kringd: <data>/projections). Required.
  std::string dir;
  // Makes the read model's Projection. Required.
  ProjectionFactory factory;
  // The engine's options; `path` is set from `dir` and the current folder.
  ProjectionOptions engine;
  // How long a rebuild waits for queries in flight to let go of the old
  // engine before leaving its folder to be removed at the next start.
  // Default: 60 s.
  std::chrono::milliseconds release_timeout{60000};
};

// Progress of a rebuild, passed about every batch (5,000 events).
struct RebuildStatus {
  uint64_t events_done = 0;   // events the fresh engine has applied
  uint64_t events_total = 0;  // the log's head when the rebuild started
  double seconds = 0;         // since the rebuild started
  bool done = false;          // the fresh engine has taken over
};

class LiveReadModel;

// kringd's start-up fill: catches the live engine of every model up to the
// store's head from ONE scan of the store (CatchUpFromStore(engines, …) in
// engine.h): a fresh or emptied folder is filled at the scan's speed instead
// of each consumer's, and a model that is up to date costs nothing. Call it
// before StartConsumer and not during a Rebuild. `progress` and `threads`
// as there. INVALID_ARGUMENT when `models` is empty or the models use
// different stores.
absl::Status FillFromStore(const std::vector<LiveReadModel*>& models, const CatchUpProgressFn& progress = nullptr,
                           size_t threads = 1);

class LiveReadModel {
 public:
  // Opens the current folder (creating it when missing), removes leftovers of
  // interrupted rebuilds and replays. The consumer is not started.
  static absl::StatusOr<std::unique_ptr<LiveReadModel>> Open(LiveReadModelOptions options,
                                                             const eventstore::EventSource* store);
  // Stops the consumer.
  ~LiveReadModel();
  LiveReadModel(const LiveReadModel&) = delete;
  LiveReadModel& operator=(const LiveReadModel&) = delete;

  const std::string& name() const { return name_; }
  // The engine to answer a query from; hold it only for the query.
  std::shared_ptr<const ProjectionEngine> engine() const { return handle_.Get(); }

  void StartConsumer();
  // Stops the consumer for good: a rebuild running stops with CANCELLED and a
  // later one is refused.
  void StopConsumer();

  // Rebuilds online (see the file comment). `progress` runs on this thread
  // after every batch and once with done=true after the swap; returning false
  // abandons the rebuild (CANCELLED; the live engine stays, the fresh folder is
  // removed). FAILED_PRECONDITION when a rebuild is already running.
  absl::Status Rebuild(const std::function<bool(const RebuildStatus&)>& progress = nullptr);
  bool rebuilding() const { return rebuilding_.load(); }

  // This read model replayed from the store up to and including `position`,
  // in a temporary folder under <dir>/tmp (see replay.h).
  absl::StatusOr<std::unique_ptr<ReplayedModel>> ReplayAsOf(GlobalPosition position,
                                                            const CatchUpProgressFn& progress = nullptr) const;

  const eventstore::EventSource* store() const { return store_; }

 private:
  friend absl::Status FillFromStore(const std::vector<LiveReadModel*>& models, const CatchUpProgressFn& progress,
                                    size_t threads);
  LiveReadModel(LiveReadModelOptions options, std::string name, const eventstore::EventSource* store)
      : options_(std::move(options)), name_(std::move(name)), store_(store) {}
  absl::Status RemoveLeftovers(const std::string& current_folder) const;
  absl::Status WriteCurrent(const std::string& folder) const;
  absl::StatusOr<std::shared_ptr<ProjectionEngine>> OpenEngine(const std::string& folder) const;

  const LiveReadModelOptions options_;
  const std::string name_;
  const eventstore::EventSource* const store_;
  ReadModelHandle handle_;

  // Serializes starting and stopping the consumer with a rebuild's swap.
  std::mutex lifecycle_mu_;
  bool consumer_wanted_ = false;
  bool stopped_ = false;
  std::atomic<bool> stopping_{false};
  std::atomic<bool> rebuilding_{false};
};

}  // namespace kring::projections
