// ThreadSanitizer builds only (scripts/tsan.sh, KRING_TSAN=ON): C11 threads
// (<threads.h>) on top of pthreads, so that ThreadSanitizer sees them.
//
// Debian's librdkafka creates its threads with glibc's thrd_create and locks
// with mtx_lock/cnd_wait. glibc implements these by calling its internal
// pthread functions, past ThreadSanitizer's interceptors (clang 14 and gcc 12
// intercept no C11 thread function): a thread started that way has no
// ThreadSanitizer state and crashes at its first allocation (SEGV at a small
// address in __tsan::user_alloc_internal), and its locks are invisible. The
// definitions below are linked into the test executables; the executable's
// symbol wins over libc's in librdkafka's lookups, and the pthread calls go
// through the interceptors. glibc's mtx_t and cnd_t have the layout of
// pthread_mutex_t and pthread_cond_t (glibc casts them the same way), and
// thrd_t is pthread_t.
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <threads.h>

#include <new>

namespace {

struct Start {
  thrd_start_t func;
  void* arg;
};

void* Trampoline(void* p) {
  Start start = *static_cast<Start*>(p);
  delete static_cast<Start*>(p);
  return reinterpret_cast<void*>(static_cast<intptr_t>(start.func(start.arg)));
}

int Result(int rc) {
  if (rc == 0) return thrd_success;
  if (rc == ETIMEDOUT) return thrd_timedout;
  if (rc == EBUSY) return thrd_busy;
  if (rc == ENOMEM) return thrd_nomem;
  return thrd_error;
}

pthread_mutex_t* M(mtx_t* m) { return reinterpret_cast<pthread_mutex_t*>(m); }
pthread_cond_t* C(cnd_t* c) { return reinterpret_cast<pthread_cond_t*>(c); }

}  // namespace

extern "C" {

int thrd_create(thrd_t* thr, thrd_start_t func, void* arg) {
  auto* start = new (std::nothrow) Start{func, arg};
  if (start == nullptr) return thrd_nomem;
  const int rc = pthread_create(thr, nullptr, Trampoline, start);
  if (rc != 0) delete start;
  return Result(rc);
}

int thrd_join(thrd_t thr, int* res) {
  void* ret = nullptr;
  const int rc = pthread_join(thr, &ret);
  if (rc == 0 && res != nullptr) *res = static_cast<int>(reinterpret_cast<intptr_t>(ret));
  return Result(rc);
}

int thrd_detach(thrd_t thr) { return Result(pthread_detach(thr)); }

int mtx_init(mtx_t* m, int type) {
  pthread_mutexattr_t attr;
  pthread_mutexattr_init(&attr);
  if (type & mtx_recursive) pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE);
  const int rc = pthread_mutex_init(M(m), &attr);
  pthread_mutexattr_destroy(&attr);
  return Result(rc);
}
int mtx_lock(mtx_t* m) { return Result(pthread_mutex_lock(M(m))); }
int mtx_trylock(mtx_t* m) { return Result(pthread_mutex_trylock(M(m))); }
int mtx_timedlock(mtx_t* __restrict m, const struct timespec* __restrict ts) {
  return Result(pthread_mutex_timedlock(M(m), ts));
}
int mtx_unlock(mtx_t* m) { return Result(pthread_mutex_unlock(M(m))); }
void mtx_destroy(mtx_t* m) { pthread_mutex_destroy(M(m)); }

int cnd_init(cnd_t* c) { return Result(pthread_cond_init(C(c), nullptr)); }
int cnd_signal(cnd_t* c) { return Result(pthread_cond_signal(C(c))); }
int cnd_broadcast(cnd_t* c) { return Result(pthread_cond_broadcast(C(c))); }
int cnd_wait(cnd_t* c, mtx_t* m) { return Result(pthread_cond_wait(C(c), M(m))); }
int cnd_timedwait(cnd_t* __restrict c, mtx_t* __restrict m, const struct timespec* __restrict ts) {
  return Result(pthread_cond_timedwait(C(c), M(m), ts));
}
void cnd_destroy(cnd_t* c) { pthread_cond_destroy(C(c)); }

}  // extern "C"
