// Erasure of a case's personal data (ErasePersonalData in audit.proto),
// all-or-nothing across a crash. It spans two stores: the event store gets
// the PersonalDataErased event, the key store loses the case's data key.
// The steps, each durable before the next begins:
//   1. the key store records the intent and turns the case's key into the
//      erased marker, in one synced write (KeyStore::BeginErasure): from
//      here on the key opens nothing and seals nothing;
//   2. the event store appends PersonalDataErased with the event id chosen
//      in step 1 (a repeated append of that id is answered with the original
//      positions, never stored twice);
//   3. the key store purges the old key from its files and forgets the
//      intent (KeyStore::CompleteErasure).
// A crash (or a failed write) after step 1 leaves the intent; the next
// CompletePending() (at start-up, before the server serves) or a repeated
// Erase() of that case runs steps 2 and 3. A crash before step 1 leaves
// nothing: the case is not erased, and Erase() may be called again. So the
// log never says "erased" while the key still opens, and an erasure the log
// shows is always finished by the next start.
//
// Crash points (common/crash_point.h): erase.before_intent,
// keys.erase.after_intent, erase.after_event_appended,
// keys.purge.before_compact, keys.purge.after_compact,
// keys.erase.after_purge, erase.before_reply.
//
// Threads: Erase and CompletePending may be called from any thread; they
// run one at a time.
#pragma once

#include <mutex>
#include <string>

#include "absl/status/statusor.h"
#include "eventstore/event_store.h"
#include "kring/v1/audit.pb.h"
#include "security/key_store.h"

namespace kring::services {

class Eraser {
 public:
  // `store` and `keys` must outlive the eraser; `keys` may be null (a server
  // without a master key: every erasure is FAILED_PRECONDITION).
  Eraser(eventstore::EventStore* store, security::KeyStore* keys) : store_(store), keys_(keys) {}

  // Erases the case's personal data on behalf of `operator_name` (the
  // event's source). INVALID_ARGUMENT for a malformed case id, NOT_FOUND for
  // a case without events, UNAVAILABLE when a step fails (the message says
  // whether the erasure is recorded, i.e. whether the key already opens
  // nothing, and that a retry or the next start finishes it).
  // already_erased: the event was in the log before this call.
  absl::StatusOr<v1::ErasePersonalDataResponse> Erase(const std::string& case_id, const std::string& operator_name);

  // Finishes every erasure whose intent is recorded (steps 2 and 3). Returns
  // the number finished; an error names the first step that failed (the
  // rest stay pending for a retry).
  absl::StatusOr<int> CompletePending();

 private:
  // Steps 2 and 3 for a recorded intent.
  absl::StatusOr<v1::ErasePersonalDataResponse> Finish(const security::KeyStore::ErasureIntent& intent);

  eventstore::EventStore* const store_;
  security::KeyStore* const keys_;
  std::mutex mu_;  // one erasure at a time
};

}  // namespace kring::services
