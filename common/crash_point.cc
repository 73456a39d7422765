#include "common/crash_point.h"

#include <signal.h>
#include <unistd.h>

#include <cstdlib>
#include <map>
#include <mutex>

#include "common/log.h"

namespace kring {
namespace {

// The point named by KRING_CRASH_AT ("" when unset), read once.
const std::string& CrashAt() {
  static const std::string* at = [] {
    const char* env = std::getenv("KRING_CRASH_AT");
    return new std::string(env == nullptr ? "" : env);
  }();
  return *at;
}

std::mutex& HooksMutex() {
  static auto* mu = new std::mutex;
  return *mu;
}
std::map<std::string, std::function<void()>, std::less<>>& Hooks() {
  static auto* hooks = new std::map<std::string, std::function<void()>, std::less<>>;
  return *hooks;
}

}  // namespace

namespace crash_point_internal {

std::atomic<bool> armed{!CrashAt().empty()};

void Reached(std::string_view name) {
  if (!CrashAt().empty() && name == CrashAt()) {
    Logger("crash_point")->warn("msg=crash_point_reached point={} action=sigkill", name);
    ::kill(::getpid(), SIGKILL);
    ::pause();  // SIGKILL cannot be caught; this thread goes no further
  }
  std::function<void()> hook;
  {
    std::lock_guard<std::mutex> lock(HooksMutex());
    auto it = Hooks().find(name);
    if (it == Hooks().end()) return;
    hook = it->second;
  }
  hook();
}

}  // namespace crash_point_internal

void SetCrashPointHook(const std::string& name, std::function<void()> hook) {
  std::lock_guard<std::mutex> lock(HooksMutex());
  Hooks()[name] = std::move(hook);
  crash_point_internal::armed.store(true);
}

void ClearCrashPointHooks() {
  std::lock_guard<std::mutex> lock(HooksMutex());
  Hooks().clear();
  crash_point_internal::armed.store(!CrashAt().empty());
}

}  // namespace kring
