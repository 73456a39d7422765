// Thread priority shared by the background work of kringd (relay, read-model
// consumers, replays and rebuilds).
#pragma once

#include <sched.h>
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

// Puts the calling thread under SCHED_IDLE: it runs when no thread of normal
// policy wants the core, and such a thread waking takes the core from it at
// once (a thread at niceness 19 keeps the core until its slice is up, EEVDF's
// run-to-parity, while an append thread waits). It is never starved
// altogether: against a busy thread at niceness 0 it gets weight 3 to 1024
// (niceness 19: 15 to 1024). Threads it starts afterwards inherit it. A
// refusal is logged as a warning of `subsystem`, and the thread runs on at
// niceness `fallback_nice` (NiceThisThread).
inline void IdleThisThread(int fallback_nice, const char* subsystem) {
  sched_param param{};  // SCHED_IDLE takes priority 0
  if (sched_setscheduler(0, SCHED_IDLE, &param) == 0) return;
  Logger(subsystem)->warn("msg=sched_idle_failed errno={}", errno);
  NiceThisThread(fallback_nice, subsystem);
}

}  // namespace kring
