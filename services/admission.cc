#include "services/admission.h"

#include <algorithm>
#include <thread>

#include "absl/strings/str_cat.h"

namespace kring::services {
namespace {

// Within `limit`, or the scope holds nothing (a batch larger than the budget
// on its own then goes alone rather than never).
bool Fits(size_t used, size_t add, size_t limit) { return used == 0 || used + add <= limit; }

// Callers that can wait (streams) fill at most kStreamShare of the overall
// budget; the rest stays for unary appends, which cannot wait and would
// otherwise be refused for as long as streams keep the queue full.
size_t OverallLimit(size_t limit, const AdmissionController::Waiter* waiter) {
  return waiter == nullptr ? limit : std::max<size_t>(1, limit / 4 * 3);
}

}  // namespace

absl::Status AdmissionController::Admit(const std::string& connection, AdmissionCost cost, Waiter* waiter) {
  std::lock_guard<std::mutex> lock(mu_);
  Usage& conn = by_connection_[connection];
  const char* full = nullptr;
  size_t limit = 0;
  if (!Fits(conn.events, cost.events, options_.max_queued_events_per_connection)) {
    full = "events waiting to be stored from this connection";
    limit = options_.max_queued_events_per_connection;
  } else if (!Fits(conn.bytes, cost.bytes, options_.max_queued_bytes_per_connection)) {
    full = "bytes waiting to be stored from this connection";
    limit = options_.max_queued_bytes_per_connection;
  } else if (!Fits(total_.events, cost.events, OverallLimit(options_.max_queued_events, waiter))) {
    full = "events waiting to be stored";
    limit = OverallLimit(options_.max_queued_events, waiter);
  } else if (!Fits(total_.bytes, cost.bytes, OverallLimit(options_.max_queued_bytes, waiter))) {
    full = "bytes waiting to be stored";
    limit = OverallLimit(options_.max_queued_bytes, waiter);
  }
  if (full != nullptr) {
    if (conn.events == 0 && conn.bytes == 0) by_connection_.erase(connection);
    ++stats_.refused;
    if (waiter != nullptr) waiters_.push_back(waiter);
    return absl::ResourceExhaustedError(absl::StrCat("ingest queue full: at most ", limit, " ", full,
                                                     "; retry with backoff once earlier appends are answered"));
  }
  conn.events += cost.events;
  conn.bytes += cost.bytes;
  total_.events += cost.events;
  total_.bytes += cost.bytes;
  ++stats_.admitted;
  stats_.peak_events = std::max(stats_.peak_events, total_.events);
  stats_.peak_bytes = std::max(stats_.peak_bytes, total_.bytes);
  stats_.peak_connection_events = std::max(stats_.peak_connection_events, conn.events);
  stats_.peak_connection_bytes = std::max(stats_.peak_connection_bytes, conn.bytes);
  return absl::OkStatus();
}

void AdmissionController::Release(const std::string& connection, AdmissionCost cost) {
  std::unique_lock<std::mutex> lock(mu_);
  auto it = by_connection_.find(connection);
  if (it != by_connection_.end()) {
    it->second.events -= std::min(it->second.events, cost.events);
    it->second.bytes -= std::min(it->second.bytes, cost.bytes);
    if (it->second.events == 0 && it->second.bytes == 0) by_connection_.erase(it);
  }
  total_.events -= std::min(total_.events, cost.events);
  total_.bytes -= std::min(total_.bytes, cost.bytes);
  if (waiters_.empty()) return;
  // One thread calls the waiters at a time; a Release meanwhile (on another
  // thread, or from a waiter's own batch refused at once) makes it go round
  // again instead of calling waiters itself.
  if (notifying_) {
    again_ = true;
    return;
  }
  notifying_ = true;
  notifier_ = std::this_thread::get_id();
  do {
    again_ = false;
    ready_.splice(ready_.end(), waiters_);
    while (!ready_.empty()) {
      current_ = ready_.front();
      ready_.pop_front();
      lock.unlock();
      current_->OnBudgetFreed();
      lock.lock();
      current_ = nullptr;
      called_.notify_all();
    }
  } while (again_ && !waiters_.empty());
  notifying_ = false;
  notifier_ = std::thread::id();
}

void AdmissionController::RemoveWaiter(Waiter* waiter) {
  std::unique_lock<std::mutex> lock(mu_);
  waiters_.remove(waiter);
  ready_.remove(waiter);
  // Being called on another thread: wait until that call returns.
  if (notifier_ != std::this_thread::get_id()) called_.wait(lock, [&] { return current_ != waiter; });
}

AdmissionController::Stats AdmissionController::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  Stats s = stats_;
  s.queued_events = total_.events;
  s.queued_bytes = total_.bytes;
  s.waiters = waiters_.size();
  return s;
}

}  // namespace kring::services
