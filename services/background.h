// BackgroundWork: long work of an RPC (a replay "as of" a position, a rebuild,
// a backup) on threads of its own, so that gRPC's callback threads never
// block on it, with a way to stop it all and wait for it at shutdown.
//
// Threads: Run, Shutdown and stopping may be called from any thread. Each
// piece of work runs on its own thread at the given niceness; it should check
// `stopping` now and then and end soon once it is set.
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>

#include "common/thread.h"

namespace kring::services {

class BackgroundWork {
 public:
  using Work = std::function<void(const std::atomic<bool>& stopping)>;

  // Starts `work` on a new thread (named `thread_name`, at most 15
  // characters) at niceness `nice`. False once Shutdown has begun: nothing
  // runs then.
  bool Run(const char* thread_name, int nice, Work work) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopping_.load()) return false;
      ++running_;
    }
    std::thread([this, thread_name, nice, work = std::move(work)] {
      pthread_setname_np(pthread_self(), thread_name);
      NiceThisThread(nice, "services");
      work(stopping_);
      std::lock_guard<std::mutex> lock(mu_);
      if (--running_ == 0) cv_.notify_all();
    }).detach();
    return true;
  }

  // Sets `stopping` for every piece of work and refuses new ones; idempotent.
  void BeginShutdown() {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  // BeginShutdown, then waits until every piece of work has ended.
  void Shutdown() {
    BeginShutdown();
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [this] { return running_ == 0; });
  }
  bool stopping() const { return stopping_.load(); }

  ~BackgroundWork() { Shutdown(); }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  int running_ = 0;
  std::atomic<bool> stopping_{false};
};

}  // namespace kring::services
