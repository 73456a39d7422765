// AdmissionController: the bound on the append queue. It counts the events
// and bytes of append batches that the ingest service has read and handed to
// the event store but that the store has not answered yet — overall and per
// connection (gRPC peer) — and admits a batch only while both stay within
// their budgets:
//   - unary Append: a batch that does not fit is refused at once with
//     RESOURCE_EXHAUSTED (the caller retries with backoff);
//   - AppendStream: the stream keeps the batch it read, stops reading (so
//     HTTP/2 flow control pushes back on the client) and waits until an
//     answer of the store frees enough budget (Waiter::OnBudgetFreed).
// Fairness: the per-connection budget keeps one flooding connection from
// filling the whole queue, and streams (callers that pass a waiter) fill at
// most three quarters of the overall budget, so that unary appends from other
// clients still get a place while many connections flood streams.
//
// A batch larger than a budget on its own is admitted only while nothing else
// is queued in that scope, so no batch waits forever; whenever every batch
// fits a budget, the counts never exceed it.
//
// Threads: every method may be called from any thread. Waiters are called on
// a thread that releases budget (an event-store thread), one at a time, with
// no lock of this class held; a waiter may call Admit and Release from
// OnBudgetFreed.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <list>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>

#include "absl/status/status.h"

namespace kring::services {

struct AdmissionOptions {
  // Events of batches read and not yet answered by the event store, over all
  // connections. Default: 20000 (--max-queued-events).
  size_t max_queued_events = 20000;
  // Their serialized bytes. Default: 64 MiB (--max-queued-bytes).
  size_t max_queued_bytes = 64 << 20;
  // The same, per connection (one gRPC peer address). Default: 5000 events
  // (--max-queued-events-per-connection).
  size_t max_queued_events_per_connection = 5000;
  // Default: 16 MiB (--max-queued-bytes-per-connection).
  size_t max_queued_bytes_per_connection = 16 << 20;
};

// What one batch costs.
struct AdmissionCost {
  size_t events = 0;
  size_t bytes = 0;
};

class AdmissionController {
 public:
  // A stream waiting for budget.
  class Waiter {
   public:
    virtual ~Waiter() = default;
    virtual void OnBudgetFreed() = 0;
  };

  struct Stats {
    size_t queued_events = 0;
    size_t queued_bytes = 0;
    size_t peak_events = 0;             // highest queued_events seen
    size_t peak_bytes = 0;              // highest queued_bytes seen
    size_t peak_connection_events = 0;  // highest count of one connection
    size_t peak_connection_bytes = 0;
    uint64_t admitted = 0;  // batches
    uint64_t refused = 0;   // Admit calls that did not fit
    size_t waiters = 0;     // streams waiting for budget now
  };

  explicit AdmissionController(AdmissionOptions options) : options_(options) {}

  // Admits `cost` for `connection` if it fits (a caller with a `waiter`: in
  // three quarters of the overall budget); otherwise RESOURCE_EXHAUSTED
  // naming the budget that is used up (no personal data, no peer address),
  // and, given a `waiter`, adds it in the same step (so no Release is missed):
  // it is called once, at the next Release, and then forgotten (it calls
  // Admit again with itself if its batch still does not fit).
  absl::Status Admit(const std::string& connection, AdmissionCost cost, Waiter* waiter = nullptr);
  // Returns what Admit took, once the store has answered the batch; wakes the
  // waiters.
  void Release(const std::string& connection, AdmissionCost cost);

  // After this returns, `waiter` is not called any more (it may be deleted).
  void RemoveWaiter(Waiter* waiter);

  Stats stats() const;
  const AdmissionOptions& options() const { return options_; }

 private:
  struct Usage {
    size_t events = 0;
    size_t bytes = 0;
  };

  const AdmissionOptions options_;
  // Lock order: a waiter's own lock, then mu_ (never held while a waiter runs).
  mutable std::mutex mu_;
  Usage total_;
  std::unordered_map<std::string, Usage> by_connection_;
  std::list<Waiter*> waiters_;  // waiting for the next Release
  std::list<Waiter*> ready_;    // being called by the notifying thread
  Waiter* current_ = nullptr;   // the one being called now
  bool notifying_ = false;
  bool again_ = false;  // a Release came while notifying
  std::thread::id notifier_;
  std::condition_variable called_;  // current_ changed
  Stats stats_;
};

}  // namespace kring::services
