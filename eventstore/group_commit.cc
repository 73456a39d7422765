// EventStore, group commit: the writer thread stages groups, kring-wal writes
// them (synced) while the writer stages the next, and the acknowledgements go
// out in write order (see the class comment in event_store.h).
#include "common/log.h"
#include "common/time.h"
#include "eventstore/store_internal.h"

namespace kring::eventstore {

void EventStore::WriterLoop() {
  std::deque<Pending> group;
  size_t group_events = 0;
  std::unique_ptr<InFlight> inflight;  // the group kring-wal writes or has written
  while (true) {
    {
      std::unique_lock<std::mutex> lock(queue_mu_);
      auto ready = [&] { return closing_ || !queue_.empty() || (inflight && inflight->done.load()); };
      if (refusal_.ok()) {
        queue_cv_.wait(lock, ready);
      } else {
        // Appends are refused: look again after a while even if none comes,
        // so that health recovers by itself.
        queue_cv_.wait_for(lock, options_.recovery_interval, ready);
      }
      if (closing_ && queue_.empty()) break;  // closing and drained
      group_events = 0;
      TakeQueued(group, group_events);
      staging_ = !group.empty();
    }
    // A reopen (after a failed write) only ever runs with nothing in flight:
    // the failure is known once its group is collected, and nothing is
    // handed to kring-wal after it.
    const absl::Status writable = CheckWritable();
    if (group.empty()) {
      // Woken to look again, or because kring-wal is done.
      if (inflight && inflight->done.load()) Collect(inflight).IgnoreError();  // a failure refuses later groups
      continue;
    }
    if (!writable.ok()) {
      Collect(inflight).IgnoreError();  // its acknowledgements first
      SetStaging(false);
      HandOver(Refuse(group, writable));
      group.clear();
      if (options_.after_group) options_.after_group();
      continue;
    }

    auto next = std::make_unique<InFlight>();
    next->group = std::move(group);
    group.clear();
    GroupState& state = next->state;
    state.previous = inflight ? &inflight->state : nullptr;
    state.next_position = inflight ? inflight->state.next_position : head_.load() + 1;
    state.first_position = state.next_position;
    state.last_hash = inflight ? inflight->state.last_hash : last_hash_;
    StageNew(0, *next);
    // While the previous group is written, this one waits parked: requests
    // that arrive join it rather than wait for the next round, and kring-wal
    // takes it itself the moment the previous write succeeded (no hop
    // through this thread between two writes).
    bool taken = false;
    while (inflight) {
      const size_t staged = next->group.size();
      {
        std::unique_lock<std::mutex> lock(queue_mu_);
        const bool park = state.batch.Count() > 0;  // a group with nothing to write stays here
        if (park) parked_ = next.get();
        queue_cv_.wait(
            lock, [&] { return inflight->done.load() || (!queue_.empty() && !GroupFull(next->group, group_events)); });
        taken = park && parked_ == nullptr;  // kring-wal took it (and writes it now)
        parked_ = nullptr;
        if (inflight->done.load()) break;
        TakeQueued(next->group, group_events);
      }
      StageNew(staged, *next);
    }
    auto& results = next->completion.results;

    // This group goes to disk only after the previous one is there. The
    // previous group is freed by the completion thread, after this one is
    // handed on (freeing a group's batches is not free, and neither kring-wal
    // nor the next group's staging need wait for it).
    std::unique_ptr<InFlight> retired;
    const absl::Status previous = Collect(inflight, &retired);
    state.previous = nullptr;  // kring-wal never reads it
    // A taken group was parked, so it had something to write on a write that
    // succeeded (and kring-wal may be writing its batch now: not read here).
    if (!taken && (!previous.ok() || state.batch.Count() == 0)) {
      if (previous.ok()) {
        CacheCaseStates(state.cases);  // nothing to write
      } else {
        // Staged on a write that failed: nothing of it is written, and its
        // case states are not kept (Collect emptied the cache).
        for (auto& r : results) r = previous;
      }
      SetStaging(false);
      HandOver(std::move(next->completion));
      if (options_.after_group) options_.after_group();
      continue;
    }
    inflight = std::move(next);
    SetStaging(false);
    if (!taken) {
      {
        std::lock_guard<std::mutex> lock(wal_mu_);
        wal_job_ = inflight.get();
      }
      wal_cv_.notify_one();
    }
    Retire(std::move(retired));
  }
  Collect(inflight).IgnoreError();
}

bool EventStore::GroupFull(const std::deque<Pending>& group, size_t events) const {
  if (group.size() >= options_.max_group_requests) return true;
  // A batch that would take the group past max_group_events waits for the next one.
  return !group.empty() && events + queue_.front().batch.events.size() > options_.max_group_events;
}

void EventStore::TakeQueued(std::deque<Pending>& group, size_t& events) {
  // Staging keeps pointers into the group's requests: a deque's elements
  // stay where they are as it grows.
  while (!queue_.empty() && !GroupFull(group, events)) {
    events += queue_.front().batch.events.size();
    group.push_back(std::move(queue_.front()));
    queue_.pop_front();
  }
}

void EventStore::StageNew(size_t from, InFlight& next) {
  std::deque<Pending>& group = next.group;
  next.state.recorded_at = ToTimestamp(Now());
  for (size_t i = from; i < group.size(); ++i) {
    next.completion.results.push_back(Stage(group[i], next.state));
    next.completion.callbacks.push_back(std::move(group[i].done));
  }
  if (options_.after_group_staged) options_.after_group_staged(group.size() - from);
}

void EventStore::WalLoop() {
  InFlight* job = nullptr;
  while (true) {
    if (job == nullptr) {
      std::unique_lock<std::mutex> lock(wal_mu_);
      wal_cv_.wait(lock, [this] { return wal_stop_ || wal_job_ != nullptr; });
      if (wal_job_ == nullptr) return;  // stopping, nothing handed over
      job = std::exchange(wal_job_, nullptr);
    }
    WriteInFlight(*job);
    // The writer may release the job from here on. After a successful write,
    // the group parked behind it is taken and written next.
    InFlight* next = nullptr;
    {
      std::lock_guard<std::mutex> lock(queue_mu_);
      job->done = true;
      if (job->failure.ok()) next = std::exchange(parked_, nullptr);
    }
    queue_cv_.notify_all();
    job = next;
  }
}

void EventStore::WriteInFlight(InFlight& job) {
  GroupState& state = job.state;
  if (options_.before_group_write) options_.before_group_write(job.group.size());
  rocksdb::WriteOptions wo;
  wo.sync = options_.sync;
  const rocksdb::Status s = db_->Write(wo, &state.batch);
  const uint64_t last_position = state.next_position - 1;
  if (s.ok()) {
    groups_written_++;
    requests_written_ += job.group.size();
    {
      std::lock_guard<std::mutex> lock(head_mu_);
      head_.store(last_position, std::memory_order_release);
    }
    head_cv_.notify_all();
  } else {
    Logger("eventstore")->error("msg=group_write_failed requests={} status=\"{}\"", job.group.size(), s.ToString());
    // Whether the write reached the disk is unknown (it may be in the WAL
    // although its sync failed): the answer says so, and a retry with the
    // same event ids is answered with the positions if it is there.
    const char* outcome =
        "; the batch may or may not have been recorded: retry it unchanged (same event ids) once appends resume, "
        "and a recorded batch is answered with its positions";
    job.no_space = s.IsNoSpace();
    if (job.no_space) {
      job.failure = absl::ResourceExhaustedError(
          absl::StrCat("disk full: the event store's write failed for lack of space", outcome));
      SetWriteHealth(WriteHealth::State::kDiskFull, absl::StrCat("a write failed for lack of space: ", s.ToString()));
    } else {
      // The RocksDB status (with file names) goes to the log, not to clients.
      job.failure = absl::UnavailableError(absl::StrCat("event store: the write failed", outcome));
      SetWriteHealth(WriteHealth::State::kWriteFailed, absl::StrCat("a write failed: ", s.ToString()));
    }
    // Every answer that depends on this write fails with it: new batches,
    // and retries of batches staged earlier in this group (their positions
    // lie past the durable head too).
    for (auto& r : job.completion.results) {
      if (r.ok() && r->last_position.value() >= state.first_position) r = job.failure;
    }
  }
  HandOver(std::move(job.completion));
  if (options_.after_group) options_.after_group();
}

absl::Status EventStore::Collect(std::unique_ptr<InFlight>& inflight, std::unique_ptr<InFlight>* retired) {
  if (!inflight) return absl::OkStatus();
  {
    std::unique_lock<std::mutex> lock(queue_mu_);
    queue_cv_.wait(lock, [&] { return inflight->done.load(); });
  }
  absl::Status result = absl::OkStatus();
  if (inflight->failure.ok()) {
    last_hash_ = inflight->state.last_hash;
    CacheCaseStates(inflight->state.cases);
  } else {
    // The cached case states may hold effects of the failed write (and of
    // groups staged on it); they are folded again from the store when needed.
    case_states_.clear();
    // RocksDB's WAL writer saw the error and must not be used again: no
    // write until the database is reopened (CheckWritable).
    needs_reopen_ = true;
    refusal_ = absl::Status(inflight->failure.code(),
                            absl::StrCat(inflight->no_space ? "disk full: " : "event store: ",
                                         "appends are refused after a failed write until the database is reopened, "
                                         "which the store retries by itself; nothing of this batch was recorded"));
    next_recovery_ = std::chrono::steady_clock::now();
    result = refusal_;
  }
  if (retired != nullptr) {
    *retired = std::move(inflight);
  } else {
    inflight.reset();
  }
  return result;
}

void EventStore::CacheCaseStates(std::unordered_map<std::string, CaseState>& cases) {
  if (case_states_.size() + cases.size() > options_.max_cached_cases) case_states_.clear();
  for (auto& [case_id, case_state] : cases) case_states_[case_id] = std::move(case_state);
}

void EventStore::SetStaging(bool staging) {
  std::lock_guard<std::mutex> lock(queue_mu_);
  staging_ = staging;
}

void EventStore::HandOver(Completion c) {
  bool more_waiting;
  {
    std::lock_guard<std::mutex> lock(queue_mu_);
    more_waiting = !queue_.empty() || staging_;
  }
  std::unique_lock<std::mutex> lock(completion_mu_);
  if (more_waiting || !completions_.empty() || delivering_) {
    // Others wait to be written: hand the acknowledgements over and go on
    // at once.
    completions_.push_back(std::move(c));
    lock.unlock();
    completion_cv_.notify_one();
  } else {
    // Nobody waits and the completion thread is idle: acknowledging here
    // saves a thread hop of latency and keeps the order.
    lock.unlock();
    Deliver(c);
  }
}

void EventStore::Deliver(Completion& c) {
  for (size_t i = 0; i < c.callbacks.size(); ++i) c.callbacks[i](std::move(c.results[i]));
}

void EventStore::Retire(std::unique_ptr<InFlight> group) {
  if (!group) return;
  {
    std::lock_guard<std::mutex> lock(completion_mu_);
    retired_.push_back(std::move(group));
  }
  completion_cv_.notify_one();
}

void EventStore::CompletionLoop() {
  while (true) {
    Completion c;
    std::vector<std::unique_ptr<InFlight>> retired;
    {
      std::unique_lock<std::mutex> lock(completion_mu_);
      completion_cv_.wait(lock, [this] { return writer_done_ || !completions_.empty() || !retired_.empty(); });
      retired.swap(retired_);
      if (completions_.empty()) {
        if (retired.empty()) return;  // writer stopped, all delivered and freed
        continue;                     // `retired` is freed here, outside the lock
      }
      c = std::move(completions_.front());
      completions_.pop_front();
      delivering_ = true;
    }
    Deliver(c);
    retired.clear();
    std::lock_guard<std::mutex> lock(completion_mu_);
    delivering_ = false;
  }
}

}  // namespace kring::eventstore
