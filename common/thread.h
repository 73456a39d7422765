// Thread priority shared by the background work of kringd (relay, read-model
// consumers, replays and rebuilds).
#pragma once

#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>

#include "common/log.h"

namespace kring {

// Lowers the calling thread's CPU priority to niceness `nice` (nothing when
// `nice` <= 0); threads it starts afterwards inherit it. A refusal is logged
// as a warning of `subsystem`, and the thread runs on at its priority.
inline void NiceThisThread(int nice, const char* subsystem) {
  if (nice <= 0) return;
  if (setpriority(PRIO_PROCESS, static_cast<id_t>(syscall(SYS_gettid)), nice) != 0) {
    Logger(subsystem)->warn("msg=setpriority_failed nice={} errno={}", nice, errno);
  }
}

}  // namespace kring
