// Named crash points: a TEST FACILITY for driving a process into the states
// that a crash between two steps leaves behind.
//
//   KRING_CRASH_POINT("erase.after_event_appended");
//
// marks a step. When the environment variable KRING_CRASH_AT names that point
// (read once, at process start), reaching it sends SIGKILL to the process
// itself: no destructor, no flush, no close runs, as with `kill -9` or a power
// cut after the last synced write. In-process tests can instead install a hook
// (SetCrashPointHook) that runs when a point is reached, e.g. to hold a step
// until the test releases it.
//
// Cost when nothing is armed (no KRING_CRASH_AT, no hook): one relaxed load of
// an atomic bool and a branch per point. Production never sets either.
//
// Threads: points may be reached from any thread. Hooks are installed and
// cleared by tests; a hook runs on the thread that reaches the point, outside
// any lock of this facility, so it may block.
#pragma once

#include <atomic>
#include <functional>
#include <string>
#include <string_view>

namespace kring {

namespace crash_point_internal {
// True while KRING_CRASH_AT is set or a hook is installed.
extern std::atomic<bool> armed;
void Reached(std::string_view name);
}  // namespace crash_point_internal

// Runs `hook` each time the point `name` is reached (replacing an earlier hook
// of that point). For tests in the same process.
void SetCrashPointHook(const std::string& name, std::function<void()> hook);
// Removes every hook (KRING_CRASH_AT stays as it was).
void ClearCrashPointHooks();

}  // namespace kring

#define KRING_CRASH_POINT(name)                                                 \
  do {                                                                          \
    if (::kring::crash_point_internal::armed.load(std::memory_order_relaxed)) { \
      ::kring::crash_point_internal::Reached(name);                             \
    }                                                                           \
  } while (false)
