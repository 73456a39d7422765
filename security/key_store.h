// KeyStore: one random data key per case, stored wrapped (AES-256-GCM) by the
// master key, in its own RocksDB folder (<data>/keys) — not inside the event
// store, so event-store backups and the Kafka topic never hold a key.
//
// Layout (default column family):
//   "meta/master_key_id"  -> id of the master key the data keys are wrapped with
//   "meta/purge_pending"  -> "" while a rotation's purge is due
//   "case/" case_id       -> the case's record, one of
//       live:   'L' key_id nonce wrapped   (1 + 32 + 12 + 48 bytes)
//       erased: 'E' key_id                 (key id kept, no key material;
//                                           key_id "" when the case never
//                                           had a key)
//     key_id: 16 random bytes as 32 hex digits; nonce: 12 bytes; wrapped:
//     the 32-byte data key sealed (aead.h) under the master key, tag
//     included, with associated data
//       "kring data key" NUL case_id NUL key_id NUL master_key_id
//     so a record moved to another case or re-labelled does not unwrap.
//   "erase/" case_id      -> an erasure in progress (see below):
//       key_id NUL event_id NUL operator_name NUL occurred_at (Unix ns, decimal)
//
// A sealed personal part is AES-256-GCM of the PersonalData's deterministic
// serialization under the case's data key, with associated data
//   case_id NUL event_id
// so it opens only as part of the event it was sealed for.
//
// The master key comes from a file that only the server's user may read
// (mode 0600 or 0400 exactly, a regular file): 32 raw bytes, or 64 hex digits
// with an optional trailing newline. Its id is the first 8 bytes of
// SHA-256("kring master key id" || key), in hex: it names the key without
// revealing it. Open refuses a master key whose id differs from the stored
// one (after a rotation, point --master-key-file at the new key).
//
// Erasure is two steps, so that it is all-or-nothing across a crash when the
// caller (services/erasure.h) appends the PersonalDataErased event between
// them:
//   1. BeginErasure: ONE synced write turns the case's record into the erased
//      marker and records the intent ("erase/" case_id, naming the event id
//      the caller will append). From here on the key opens nothing and seals
//      nothing, in this process and after any restart.
//   2. CompleteErasure: the purge (below), then the intent is deleted.
// A crash between them leaves the intent; PendingErasures() lists it at the
// next start, and the caller appends the event (idempotent on its id) and
// completes. So the log never says "erased" while the key still opens: the
// marker is durable before the event is appended.
//
// The purge makes overwritten records unrecoverable from the folder: the
// memtable is flushed, the whole folder compacted into the bottommost level
// and the obsolete WAL and table files deleted, so the wrapped key no longer
// rests in any live file of the folder. Open purges when it finds an intent
// or "meta/purge_pending" (a crash came before the purge finished). A case
// once erased never gets a new key: sealing new personal data is refused.
// A rotation purges the old wrappings the same way.
//
// Unwrapped data keys are cached in memory, one per case used since Open
// (about 100 bytes each), and overwritten when erased or on destruction.
//
// Threads: every method may be called from any thread. Sealing and opening
// hold the store's mutex only to look a key up: a new case's key is written
// (synced) outside it, so the first seal of one case never waits for another
// case's fsync, and a seal of the same case waits for that one write only.
// Erasures, purges and rotations are serialized by a second mutex that the
// append path never takes: an erasure's purge (a compaction of the folder)
// runs while other cases seal. A rotation holds the store's mutex for its
// scan and its one write (not for its purge).
//
// Crash points (common/crash_point.h), in order of an erasure:
//   keys.erase.after_intent      marker and intent durable
//   keys.purge.before_compact    memtable flushed
//   keys.purge.after_compact     compacted, obsolete files not yet deleted
//   keys.erase.after_purge       purged, intent not yet deleted
// and keys.create.before_write before a new data key's synced write.
#pragma once

#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "eventstore/event_store.h"
#include "kring/v1/events.pb.h"

namespace rocksdb {
class DB;
class Env;
}  // namespace rocksdb

namespace kring::security {

struct KeyStoreOptions {
  // RocksDB folder of the wrapped data keys; created when missing. Required.
  std::string path;
  // The master key file (see above). Required.
  std::string master_key_file;
  // Sync the write of each new data key: a key is durable before any event
  // sealed with it is. Erasures and rotations are always synced.
  // Default: true.
  bool sync = true;
  // The RocksDB environment the folder is written through, e.g. a
  // fault-injecting one (tests/testing/fault_fs.h); must outlive the store.
  // Default: nullptr (the default environment).
  rocksdb::Env* env = nullptr;
};

// Reads and checks a master key file (see above); errors start with `flag`,
// used as given ("--master-key-file" at Open, "new_master_key_file" for a
// rotation), and never hold key bytes: e.g. "--master-key-file:
// /etc/kring/master.key has mode 0700, but must be mode 0600 or 0400
// (readable by its owner only, no group, other or execute bits); chmod 600
// it". NOT_FOUND when missing, PERMISSION_DENIED for any mode other than 0600
// and 0400, INVALID_ARGUMENT for a non-regular file or content of the wrong
// shape.
absl::StatusOr<std::string> ReadMasterKeyFile(const std::string& path, const std::string& flag);
// The id of a master key (see above).
std::string MasterKeyId(const std::string& master_key);

class KeyStore final : public eventstore::PersonalDataSealer {
 public:
  static absl::StatusOr<std::unique_ptr<KeyStore>> Open(KeyStoreOptions options);
  ~KeyStore() override;

  // Seals `personal` under the case's data key, creating the key (durably)
  // on first use; associated data: case id and event id. FAILED_PRECONDITION
  // when the case was erased.
  absl::StatusOr<v1::SealedPersonalData> Seal(const std::string& case_id, const std::string& event_id,
                                              const v1::PersonalData& personal) override;
  // Opens a sealed part of an event of `case_id`. std::nullopt: the case was
  // erased (the key is gone). DATA_LOSS when the bytes do not verify.
  absl::StatusOr<std::optional<v1::PersonalData>> OpenSealed(const std::string& case_id, const std::string& event_id,
                                                             const v1::SealedPersonalData& sealed) const;

  // The id of the case's data key; "" when it has none (never sealed anything).
  absl::StatusOr<std::string> KeyIdOf(const std::string& case_id) const;
  bool IsErased(const std::string& case_id) const;

  struct Erasure {
    std::string key_id;           // the destroyed key; "" when the case had none
    bool already_erased = false;  // erased before this call
  };
  // Both steps of an erasure at once, without an event: for a key store used
  // on its own. Idempotent.
  absl::StatusOr<Erasure> Erase(const std::string& case_id);

  // An erasure whose first step is durable and whose second is not done.
  struct ErasureIntent {
    std::string case_id;
    std::string key_id;         // the destroyed key; "" when the case had none
    std::string event_id;       // the PersonalDataErased event to append
    std::string operator_name;  // who asked: the event's source
    absl::Time occurred_at;     // the event's occurred_at (so a repeated append is the same event)
  };
  // Step 1 (see above). When an intent for the case is pending already, it
  // is returned unchanged (with its own event id and operator), and nothing
  // is written. A case erased before gets a new intent and keeps its marker.
  absl::StatusOr<ErasureIntent> BeginErasure(const std::string& case_id, const std::string& event_id,
                                             const std::string& operator_name, absl::Time occurred_at);
  // Step 2 (see above): purges, then deletes the intent. OK when none is
  // pending.
  absl::Status CompleteErasure(const std::string& case_id);
  // The intents still pending, in case id order.
  absl::StatusOr<std::vector<ErasureIntent>> PendingErasures() const;
  // The pending intent of `case_id`, if any.
  absl::StatusOr<std::optional<ErasureIntent>> PendingErasure(const std::string& case_id) const;

  struct Rotation {
    std::string previous_master_key_id;
    std::string master_key_id;
    uint64_t data_keys_rewrapped = 0;
  };
  // Reads the new master key file (same checks as at Open) and re-wraps every
  // data key under it in one atomic write; from then on the new key is used.
  // The events are not touched.
  absl::StatusOr<Rotation> RotateMasterKey(const std::string& new_master_key_file);

  std::string master_key_id() const;

  // Writes a consistent RocksDB checkpoint of the key folder into
  // `destination` (must not exist; RocksDB stages it in `destination`.tmp)
  // while seals go on. It waits for a running erasure, purge or rotation and
  // holds them off meanwhile, so the copy never holds a half-purged folder.
  // Every data key created before the call is in the copy. The copy is
  // wrapped by master_key_id(), which is returned.
  absl::StatusOr<std::string> Checkpoint(const std::string& destination) const;

 private:
  KeyStore() = default;
  // (implementation state: the DB, the master key, a cache of unwrapped
  // data keys, a mutex for key creation and rotation)
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace kring::security
