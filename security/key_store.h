// KeyStore: one random data key per case, stored wrapped (AES-256-GCM) by the
// master key, in its own RocksDB folder (<data>/keys) — not inside the event
// store, so event-store backups and the Kafka topic never hold a key.
//
// Layout (default column family):
//   "meta/master_key_id"  -> id of the master key the data keys are wrapped with
//   "case/" case_id       -> kring.security.WrappedKey-like record: key id,
//                            nonce, wrapped key; or the erased marker (key id
//                            kept, no key material) once the case is erased
//
// The master key comes from a file that only the server's user may read
// (mode 0600 or 0400, a regular file): 32 raw bytes, or 64 hex digits with an
// optional trailing newline. Its id is the first 8 bytes of
// SHA-256("kring master key id" || key), in hex: it names the key without
// revealing it. Open refuses a master key whose id differs from the stored
// one (after a rotation, point --master-key-file at the new key).
//
// Erase destroys a case's data key for good: the record becomes the erased
// marker, then the memtable is flushed and the key range compacted, so the
// wrapped key no longer rests in any live file of the folder. A case once
// erased never gets a new key: sealing new personal data for it is refused.
//
// Threads: every method may be called from any thread.
#pragma once

#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include "absl/status/statusor.h"
#include "eventstore/event_store.h"
#include "kring/v1/events.pb.h"

namespace rocksdb {
class DB;
}

namespace kring::security {

struct KeyStoreOptions {
  // RocksDB folder of the wrapped data keys; created when missing. Required.
  std::string path;
  // The master key file (see above). Required.
  std::string master_key_file;
  // Sync every key write: a key is durable before any event sealed with it
  // is. Default: true.
  bool sync = true;
};

// Reads and checks a master key file (see above); errors start with `flag`
// (e.g. "--master-key-file: must not be readable by group or others (mode 0644); chmod 600 it").
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
  // Destroys the case's data key (see above). Idempotent.
  absl::StatusOr<Erasure> Erase(const std::string& case_id);

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

 private:
  KeyStore() = default;
  // (implementation state: the DB, the master key, a cache of unwrapped
  // data keys, a mutex for key creation and rotation)
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace kring::security
