#include "security/key_store.h"

#include <fcntl.h>
#include <openssl/crypto.h>
#include <rocksdb/db.h>
#include <rocksdb/options.h>
#include <rocksdb/utilities/checkpoint.h>
#include <rocksdb/write_batch.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <filesystem>
#include <unordered_set>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "common/crash_point.h"
#include "common/errors.h"
#include "common/log.h"
#include "common/status.h"
#include "eventstore/chain.h"
#include "eventstore/info_log.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "security/aead.h"

namespace kring::security {

namespace {

const std::string kMasterKeyIdKey = "meta/master_key_id";
// Present from the write of a rotation until its Purge() is done: Open
// finishes a purge that a crash interrupted.
const std::string kPurgePendingKey = "meta/purge_pending";
const std::string kCasePrefix = "case/";
// "erase/" case_id: an erasure whose marker is durable and whose purge (and
// event, see key_store.h) may not be.
const std::string kErasePrefix = "erase/";
constexpr char kLive = 'L';
constexpr char kErased = 'E';
constexpr size_t kKeyIdBytes = 16;  // random; stored and shown as 32 hex digits
constexpr size_t kKeyIdHexChars = 2 * kKeyIdBytes;
constexpr size_t kWrappedBytes = kKeyBytes + kTagBytes;
constexpr size_t kLiveRecordBytes = 1 + kKeyIdHexChars + kNonceBytes + kWrappedBytes;
// Longer than any valid key file ("64 hex digits\n"): not read at all.
constexpr off_t kMostKeyFileBytes = 2 * kKeyBytes + 1;

// A std::string holding key material, overwritten when it goes away.
class Secret {
 public:
  Secret() = default;
  explicit Secret(std::string bytes) : bytes_(std::move(bytes)) {}
  Secret(const Secret& other) : bytes_(other.bytes_) {}
  // Copies, then wipes the source: a moved-from std::string may keep its
  // bytes in a buffer nobody overwrites.
  Secret(Secret&& other) noexcept : bytes_(other.bytes_) { other.Clear(); }
  Secret& operator=(const Secret& other) {
    if (this != &other) {
      Clear();
      bytes_ = other.bytes_;
    }
    return *this;
  }
  Secret& operator=(Secret&& other) noexcept {
    if (this != &other) {
      Clear();
      bytes_ = other.bytes_;
      other.Clear();
    }
    return *this;
  }
  ~Secret() { Clear(); }
  void Clear() {
    OPENSSL_cleanse(bytes_.data(), bytes_.size());
    bytes_.clear();
  }
  const std::string& bytes() const { return bytes_; }
  std::string* mutable_bytes() { return &bytes_; }

 private:
  std::string bytes_;
};

absl::Status FromRocks(const rocksdb::Status& s, const char* what) {
  if (s.ok()) return absl::OkStatus();
  return absl::InternalError(absl::StrCat("key store: ", what, ": ", s.ToString()));
}

// A case's row as stored (see the layout in key_store.h).
struct Record {
  bool erased = false;
  std::string key_id;
  std::string nonce;    // live only
  std::string wrapped;  // live only: the data key sealed under the master key
};

std::string EncodeRecord(const Record& r) {
  std::string out(1, r.erased ? kErased : kLive);
  out.append(r.key_id);
  if (!r.erased) {
    out.append(r.nonce);
    out.append(r.wrapped);
  }
  return out;
}

absl::StatusOr<Record> DecodeRecord(std::string_view v) {
  const absl::Status malformed = absl::DataLossError("key store: malformed data key record");
  if (v.empty()) return malformed;
  Record r;
  r.erased = v[0] == kErased;
  if (r.erased) {
    if (v.size() != 1 && v.size() != 1 + kKeyIdHexChars) return malformed;
    r.key_id = std::string(v.substr(1));
    return r;
  }
  if (v[0] != kLive || v.size() != kLiveRecordBytes) return malformed;
  r.key_id = std::string(v.substr(1, kKeyIdHexChars));
  r.nonce = std::string(v.substr(1 + kKeyIdHexChars, kNonceBytes));
  r.wrapped = std::string(v.substr(1 + kKeyIdHexChars + kNonceBytes));
  return r;
}

// An erasure in progress as stored: key_id NUL event_id NUL operator_name
// NUL occurred_at as Unix nanoseconds (none of them holds a NUL: hex, a
// UUID, an identity name, digits).
std::string EncodeIntent(const KeyStore::ErasureIntent& intent) {
  const std::string nul(1, '\0');
  return absl::StrCat(intent.key_id, nul, intent.event_id, nul, intent.operator_name, nul,
                      absl::ToUnixNanos(intent.occurred_at));
}

absl::StatusOr<KeyStore::ErasureIntent> DecodeIntent(const std::string& case_id, std::string_view v) {
  std::vector<std::string> parts = absl::StrSplit(absl::string_view(v.data(), v.size()), absl::ByChar('\0'));
  int64_t nanos = 0;
  if (parts.size() != 4 || !absl::SimpleAtoi(parts[3], &nanos)) {
    return absl::DataLossError("key store: malformed erasure-in-progress record");
  }
  KeyStore::ErasureIntent intent;
  intent.case_id = case_id;
  intent.key_id = std::move(parts[0]);
  intent.event_id = std::move(parts[1]);
  intent.operator_name = std::move(parts[2]);
  intent.occurred_at = absl::FromUnixNanos(nanos);
  return intent;
}

// Binds a wrapped data key to its case, its own id and the master key that
// wraps it, so that a record copied to another case, or re-labelled, fails
// to unwrap.
std::string WrapAssociatedData(std::string_view case_id, std::string_view key_id, std::string_view master_key_id) {
  std::string ad = "kring data key";
  ad.push_back('\0');
  ad.append(case_id);
  ad.push_back('\0');
  ad.append(key_id);
  ad.push_back('\0');
  ad.append(master_key_id);
  return ad;
}

// Binds a sealed personal part to its event: case id, NUL, event id. Case
// ids never contain NUL (validation allows [A-Za-z0-9._:-] only).
std::string SealAssociatedData(std::string_view case_id, std::string_view event_id) {
  std::string ad(case_id);
  ad.push_back('\0');
  ad.append(event_id);
  return ad;
}

absl::Status ErasedError() {
  return PreconditionError("PERSONAL_DATA_ERASED", "personal",
                           "the case's personal data was erased; it takes no new personal data");
}

bool IsHex(std::string_view s) {
  for (char c : s) {
    if (!absl::ascii_isxdigit(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

}  // namespace

absl::StatusOr<std::string> ReadMasterKeyFile(const std::string& path, const std::string& flag) {
  if (path.empty()) return absl::InvalidArgumentError(absl::StrCat(flag, ": a master key file is required"));
  // Open first and check the opened file, so that the checks and the read
  // are about the same file.
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
  if (fd < 0) {
    const int err = errno;
    if (err == ENOENT) return absl::NotFoundError(absl::StrCat(flag, ": ", path, " does not exist"));
    if (err == EACCES) {
      return absl::PermissionDeniedError(absl::StrCat(flag, ": ", path, " cannot be read by this user"));
    }
    return absl::FailedPreconditionError(absl::StrCat(flag, ": cannot open ", path, ": ", std::strerror(err)));
  }
  struct FdCloser {
    int fd;
    ~FdCloser() { ::close(fd); }
  } closer{fd};

  struct stat st;
  if (::fstat(fd, &st) != 0) {
    return absl::FailedPreconditionError(absl::StrCat(flag, ": cannot stat ", path, ": ", std::strerror(errno)));
  }
  if (!S_ISREG(st.st_mode)) {
    return absl::InvalidArgumentError(absl::StrCat(flag, ": ", path, " is not a regular file"));
  }
  // Mode 0600 or 0400 only: no bit for group or others, no execute bit, no
  // set-id or sticky bit.
  const mode_t mode = st.st_mode & 07777;
  if (mode != 0600 && mode != 0400) {
    return absl::PermissionDeniedError(absl::StrFormat(
        "%s: %s has mode %04o, but must be mode 0600 or 0400 (readable by its owner only, no group, other or "
        "execute bits); chmod 600 it",
        flag, path, mode));
  }
  const absl::Status bad_content = absl::InvalidArgumentError(
      absl::StrCat(flag, ": ", path, " must hold the master key: ", kKeyBytes, " raw bytes, or ", 2 * kKeyBytes,
                   " hex digits and an optional newline (it holds ", st.st_size, " bytes)"));
  if (st.st_size > kMostKeyFileBytes) return bad_content;

  Secret content(std::string(kMostKeyFileBytes + 1, '\0'));
  std::string& buffer = *content.mutable_bytes();
  size_t got = 0;
  while (got < buffer.size()) {
    const ssize_t n = ::read(fd, buffer.data() + got, buffer.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      return absl::FailedPreconditionError(absl::StrCat(flag, ": cannot read ", path, ": ", std::strerror(errno)));
    }
    if (n == 0) break;
    got += static_cast<size_t>(n);
  }
  std::string_view text(buffer.data(), got);
  if (text.size() == kKeyBytes) return std::string(text);
  if (text.size() == 2 * kKeyBytes + 1 && text.back() == '\n') text.remove_suffix(1);
  if (text.size() != 2 * kKeyBytes || !IsHex(text)) return bad_content;
  return absl::HexStringToBytes(absl::string_view(text.data(), text.size()));
}

std::string MasterKeyId(const std::string& master_key) {
  std::string input = absl::StrCat("kring master key id", master_key);
  const std::string digest = eventstore::Sha256(input);
  OPENSSL_cleanse(input.data(), input.size());
  return eventstore::ToHex(std::string_view(digest).substr(0, 8));
}

// A case's data key as the store knows it.
struct CaseKey {
  std::string key_id;  // "" when erased before it ever had a key
  bool erased = false;
  Secret data_key;  // empty when erased
};

struct KeyStore::Impl {
  KeyStoreOptions options;
  std::unique_ptr<rocksdb::DB> db;

  // Guards everything below it. Held to look a key up and to update the
  // cache, never across a synced write of a single case (see `busy`); a
  // rotation holds it for its scan and write.
  mutable std::mutex mu;
  // Signalled when `busy` shrinks or a rotation ends.
  mutable std::condition_variable cv;
  Secret master_key;
  std::string master_key_id;
  // Case id -> its data key, unwrapped, or its erased marker. Filled on
  // first use; every write below updates it.
  mutable std::unordered_map<std::string, CaseKey> cache;
  // Cases whose record is being written (a new key, or an erasure's marker)
  // outside `mu`: others wait for that write before they look the case up,
  // so a case never gets two keys, and a key is never created over a marker.
  std::unordered_set<std::string> busy;
  // A rotation is waiting for `busy` to drain or is writing: no new key
  // starts meanwhile (it would be wrapped under the old master key).
  bool rotating = false;

  // Serializes erasures, purges and rotations with each other; the append
  // path (Seal) never takes it, so a purge's compaction stalls no seal.
  std::mutex admin_mu;
  // A write, flush or compaction failed since the last resume.
  std::atomic<bool> write_failed{false};

  // The stored record of `case_id`; std::nullopt when it has none.
  absl::StatusOr<std::optional<Record>> ReadRecord(const std::string& case_id) const {
    std::string value;
    rocksdb::Status s = db->Get(rocksdb::ReadOptions(), kCasePrefix + case_id, &value);
    if (s.IsNotFound()) return std::nullopt;
    RETURN_IF_ERROR(FromRocks(s, "read data key"));
    ASSIGN_OR_RETURN(Record r, DecodeRecord(value));
    return std::optional<Record>(std::move(r));
  }

  // The case's key from the cache, or read and unwrapped into it; nullptr
  // when the case has no record. `mu` held.
  absl::StatusOr<const CaseKey*> Load(const std::string& case_id) const {
    if (auto it = cache.find(case_id); it != cache.end()) return &it->second;
    ASSIGN_OR_RETURN(std::optional<Record> record, ReadRecord(case_id));
    if (!record) return static_cast<const CaseKey*>(nullptr);
    CaseKey key;
    key.key_id = record->key_id;
    key.erased = record->erased;
    if (!record->erased) {
      absl::StatusOr<std::string> data_key = OpenAead(master_key.bytes(), record->nonce, record->wrapped,
                                                      WrapAssociatedData(case_id, record->key_id, master_key_id));
      if (!data_key.ok()) {
        return absl::DataLossError(
            absl::StrCat("key store: data key ", record->key_id, " does not unwrap under the master key"));
      }
      key.data_key = Secret(*std::move(data_key));
    }
    return &cache.emplace(case_id, std::move(key)).first->second;
  }

  // The live key of `case_id` (a copy), created and stored durably when it
  // has none. The new key's synced write runs outside `mu`, with the case
  // marked busy.
  absl::StatusOr<CaseKey> LoadOrCreate(const std::string& case_id) {
    std::unique_lock<std::mutex> lock(mu);
    for (;;) {
      cv.wait(lock, [&] { return busy.count(case_id) == 0; });
      ASSIGN_OR_RETURN(const CaseKey* existing, Load(case_id));
      if (existing != nullptr) {
        if (existing->erased) return ErasedError();
        return *existing;
      }
      if (!rotating) break;
      cv.wait(lock, [&] { return !rotating; });
    }
    busy.insert(case_id);
    const Secret wrapping_key = master_key;
    const std::string wrapping_key_id = master_key_id;
    lock.unlock();
    absl::StatusOr<CaseKey> created = CreateKey(case_id, wrapping_key, wrapping_key_id);
    lock.lock();
    busy.erase(case_id);
    if (created.ok()) cache.insert_or_assign(case_id, *created);
    cv.notify_all();
    return created;
  }

  // Makes and durably stores a new data key for `case_id`, wrapped under
  // `wrapping_key`. The case is busy; `mu` is not held.
  absl::StatusOr<CaseKey> CreateKey(const std::string& case_id, const Secret& wrapping_key,
                                    const std::string& wrapping_key_id) {
    ASSIGN_OR_RETURN(std::string data_key_bytes, RandomBytes(kKeyBytes));
    Secret data_key(std::move(data_key_bytes));
    ASSIGN_OR_RETURN(std::string key_id_bytes, RandomBytes(kKeyIdBytes));
    Record record;
    record.key_id = absl::BytesToHexString(key_id_bytes);
    ASSIGN_OR_RETURN(Sealed wrapped, SealAead(wrapping_key.bytes(), data_key.bytes(),
                                              WrapAssociatedData(case_id, record.key_id, wrapping_key_id)));
    record.nonce = std::move(wrapped.nonce);
    record.wrapped = std::move(wrapped.ciphertext);
    KRING_CRASH_POINT("keys.create.before_write");
    RETURN_IF_ERROR(ResumeAfterFailure());
    rocksdb::WriteOptions wo;
    wo.sync = options.sync;
    RETURN_IF_ERROR(Written(FromRocks(db->Put(wo, kCasePrefix + case_id, EncodeRecord(record)), "write data key")));
    Logger("keys")->debug("msg=data_key_created key_id={}", record.key_id);
    CaseKey key;
    key.key_id = record.key_id;
    key.data_key = std::move(data_key);
    return key;
  }

  absl::StatusOr<std::optional<ErasureIntent>> ReadIntent(const std::string& case_id) const {
    std::string value;
    rocksdb::Status s = db->Get(rocksdb::ReadOptions(), kErasePrefix + case_id, &value);
    if (s.IsNotFound()) return std::nullopt;
    RETURN_IF_ERROR(FromRocks(s, "read the erasure in progress"));
    ASSIGN_OR_RETURN(ErasureIntent intent, DecodeIntent(case_id, value));
    return std::optional<ErasureIntent>(std::move(intent));
  }

  // Makes overwritten records unrecoverable from the folder: the memtable
  // goes to a table file (so the WAL that held the old value is obsolete),
  // every table is compacted into the bottommost level (dropping the old
  // versions; no snapshots are ever taken), and the obsolete WAL and table
  // files are deleted; then a rotation's pending-purge marker goes. Costs a
  // rewrite of the whole folder (one small record per case). `admin_mu`
  // held, `mu` not: seals go on meanwhile.
  absl::Status Purge() { return Written(PurgeSteps()); }
  absl::Status PurgeSteps() {
    RETURN_IF_ERROR(ResumeAfterFailure());
    rocksdb::FlushOptions flush;
    flush.wait = true;
    RETURN_IF_ERROR(FromRocks(db->Flush(flush), "flush"));
    KRING_CRASH_POINT("keys.purge.before_compact");
    rocksdb::CompactRangeOptions compact;
    compact.bottommost_level_compaction = rocksdb::BottommostLevelCompaction::kForce;
    compact.exclusive_manual_compaction = true;
    RETURN_IF_ERROR(FromRocks(db->CompactRange(compact, nullptr, nullptr), "compact"));
    KRING_CRASH_POINT("keys.purge.after_compact");
    // The background job deletes the files it made obsolete just after it
    // reports done; enabling deletions scans for obsolete files and deletes
    // them on this thread, so none outlives the call (but one that the
    // background job is deleting at that very moment, a moment longer).
    RETURN_IF_ERROR(FromRocks(db->DisableFileDeletions(), "disable file deletions"));
    RETURN_IF_ERROR(FromRocks(db->EnableFileDeletions(/*force=*/true), "delete obsolete files"));
    std::string pending;
    rocksdb::Status s = db->Get(rocksdb::ReadOptions(), kPurgePendingKey, &pending);
    if (s.IsNotFound()) return absl::OkStatus();
    RETURN_IF_ERROR(FromRocks(s, "read the pending purge"));
    rocksdb::WriteOptions wo;
    wo.sync = true;
    return FromRocks(db->Delete(wo, kPurgePendingKey), "clear the pending purge");
  }

  // After a failed write or flush RocksDB stops taking writes (a background
  // error) until it is resumed. The next write tries DB::Resume(); RocksDB
  // 7.8 refuses to resume after most I/O errors (a failed WAL sync, a failed
  // table write), and then only a restart helps: Open replays what reached
  // the disk and purges, and the server finishes any erasure in progress.
  absl::Status ResumeAfterFailure() {
    if (!write_failed.exchange(false)) return absl::OkStatus();
    rocksdb::Status s = db->Resume();
    if (s.ok()) return absl::OkStatus();
    write_failed = true;
    return absl::UnavailableError(absl::StrCat(
        "key store: stopped after a failed write (", s.ToString(),
        "); restart kringd: the start-up finishes any erasure in progress, and the key store takes writes again"));
  }
  // Remembers a failed write for ResumeAfterFailure.
  absl::Status Written(const absl::Status& s) {
    if (!s.ok()) write_failed = true;
    return s;
  }

  // True when an erasure or rotation left a purge to do. `admin_mu` held.
  absl::StatusOr<bool> PurgeDue() const {
    std::string pending;
    rocksdb::Status s = db->Get(rocksdb::ReadOptions(), kPurgePendingKey, &pending);
    if (s.ok()) return true;
    if (!s.IsNotFound()) RETURN_IF_ERROR(FromRocks(s, "read the pending purge"));
    std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(rocksdb::ReadOptions()));
    it->Seek(kErasePrefix);
    const bool intent = it->Valid() && it->key().starts_with(kErasePrefix);
    RETURN_IF_ERROR(FromRocks(it->status(), "scan the erasures in progress"));
    return intent;
  }
};

absl::StatusOr<std::unique_ptr<KeyStore>> KeyStore::Open(KeyStoreOptions options) {
  if (options.path.empty()) return absl::InvalidArgumentError("key store: path is required");
  ASSIGN_OR_RETURN(std::string master_key_bytes, ReadMasterKeyFile(options.master_key_file, "--master-key-file"));
  Secret master_key(std::move(master_key_bytes));
  const std::string master_key_id = MasterKeyId(master_key.bytes());

  std::error_code ec;
  if (std::filesystem::create_directories(options.path, ec)) {
    // Only the server's user has any business in the key folder.
    std::filesystem::permissions(options.path, std::filesystem::perms::owner_all, ec);
  }
  if (ec) return absl::InternalError(absl::StrCat("key store: create ", options.path, ": ", ec.message()));

  rocksdb::Options db_options;
  db_options.create_if_missing = true;
  db_options.max_background_jobs = 1;
  // Obsolete WAL files are deleted at once, never archived or reused: after
  // Purge() no WAL holds an overwritten wrapped key.
  db_options.WAL_ttl_seconds = 0;
  db_options.WAL_size_limit_MB = 0;
  db_options.recycle_log_file_num = 0;
  db_options.keep_log_file_num = 5;
  // Keys and wrapped keys are random bytes: compression would only cost CPU.
  db_options.compression = rocksdb::kNoCompression;
  if (options.env != nullptr) db_options.env = options.env;
  // No LOG writer or automatic recovery that could abort kringd after a
  // failed write (info_log.h); a failed write leaves this database refusing
  // writes until kringd restarts.
  eventstore::UseFailSafeErrorHandling(&db_options, options.path);
  rocksdb::DB* raw = nullptr;
  RETURN_IF_ERROR(FromRocks(rocksdb::DB::Open(db_options, options.path, &raw), "open"));

  std::unique_ptr<KeyStore> store(new KeyStore());
  store->impl_ = std::make_unique<Impl>();
  Impl& impl = *store->impl_;
  impl.db.reset(raw);
  impl.options = std::move(options);

  std::string stored_id;
  rocksdb::Status s = impl.db->Get(rocksdb::ReadOptions(), kMasterKeyIdKey, &stored_id);
  if (s.IsNotFound()) {
    rocksdb::WriteOptions wo;
    wo.sync = true;
    RETURN_IF_ERROR(FromRocks(impl.db->Put(wo, kMasterKeyIdKey, master_key_id), "write master key id"));
  } else {
    RETURN_IF_ERROR(FromRocks(s, "read master key id"));
    if (stored_id != master_key_id) {
      return absl::FailedPreconditionError(absl::StrCat("--master-key-file: the key in ", impl.options.master_key_file,
                                                        " has id ", master_key_id, ", but the data keys in ",
                                                        impl.options.path, " are wrapped with master key ", stored_id,
                                                        "; after a rotation, point --master-key-file at the new key"));
    }
  }
  impl.master_key = std::move(master_key);
  impl.master_key_id = master_key_id;
  // Finishes the purge of an erasure or rotation that a crash (or a failed
  // write) interrupted. An erasure's intent stays until its caller has
  // appended the event and called CompleteErasure.
  ASSIGN_OR_RETURN(const bool purge_due, impl.PurgeDue());
  if (purge_due) {
    RETURN_IF_ERROR(impl.Purge());
    Logger("keys")->warn("msg=interrupted_purge_completed");
  }
  Logger("keys")->info("msg=opened master_key_id={}", master_key_id);
  return store;
}

KeyStore::~KeyStore() {
  if (!impl_ || !impl_->db) return;
  std::lock_guard<std::mutex> admin(impl_->admin_mu);
  std::lock_guard<std::mutex> lock(impl_->mu);
  impl_->cache.clear();
  impl_->master_key.Clear();
  rocksdb::Status s = impl_->db->Close();
  if (!s.ok()) Logger("keys")->error("msg=close_failed status=\"{}\"", s.ToString());
  impl_->db.reset();
}

absl::StatusOr<v1::SealedPersonalData> KeyStore::Seal(const std::string& case_id, const std::string& event_id,
                                                      const v1::PersonalData& personal) {
  ASSIGN_OR_RETURN(CaseKey key, impl_->LoadOrCreate(case_id));
  // Deterministic: the same personal data always gives the same plaintext
  // (map fields in key order).
  Secret plaintext;
  {
    std::string bytes;
    bytes.reserve(personal.ByteSizeLong());
    {
      google::protobuf::io::StringOutputStream stream(&bytes);
      google::protobuf::io::CodedOutputStream coded(&stream);
      coded.SetSerializationDeterministic(true);
      if (!personal.SerializeToCodedStream(&coded)) {
        return absl::InvalidArgumentError("personal: does not serialize");
      }
    }
    plaintext = Secret(std::move(bytes));
  }
  ASSIGN_OR_RETURN(Sealed sealed,
                   SealAead(key.data_key.bytes(), plaintext.bytes(), SealAssociatedData(case_id, event_id)));
  v1::SealedPersonalData out;
  out.set_key_id(std::move(key.key_id));
  out.set_nonce(std::move(sealed.nonce));
  out.set_ciphertext(std::move(sealed.ciphertext));
  return out;
}

absl::StatusOr<std::optional<v1::PersonalData>> KeyStore::OpenSealed(const std::string& case_id,
                                                                     const std::string& event_id,
                                                                     const v1::SealedPersonalData& sealed) const {
  Secret data_key;
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    ASSIGN_OR_RETURN(const CaseKey* key, impl_->Load(case_id));
    if (key != nullptr && key->erased) return std::nullopt;
    if (key == nullptr) {
      return absl::DataLossError(
          absl::StrCat("key store: personal data sealed with key ", sealed.key_id(), ", but the case has no key"));
    }
    if (sealed.key_id() != key->key_id) {
      return absl::DataLossError(absl::StrCat("key store: personal data sealed with key ", sealed.key_id(),
                                              ", but the case's key is ", key->key_id));
    }
    data_key = key->data_key;
  }
  ASSIGN_OR_RETURN(std::string plaintext_bytes, OpenAead(data_key.bytes(), sealed.nonce(), sealed.ciphertext(),
                                                         SealAssociatedData(case_id, event_id)));
  Secret plaintext(std::move(plaintext_bytes));
  v1::PersonalData personal;
  if (!personal.ParseFromString(plaintext.bytes())) {
    return absl::DataLossError("key store: sealed personal data verifies but does not parse");
  }
  return std::optional<v1::PersonalData>(std::move(personal));
}

absl::StatusOr<std::string> KeyStore::KeyIdOf(const std::string& case_id) const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  if (auto it = impl_->cache.find(case_id); it != impl_->cache.end()) return it->second.key_id;
  ASSIGN_OR_RETURN(std::optional<Record> record, impl_->ReadRecord(case_id));
  return record ? record->key_id : "";
}

bool KeyStore::IsErased(const std::string& case_id) const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  if (auto it = impl_->cache.find(case_id); it != impl_->cache.end()) return it->second.erased;
  absl::StatusOr<std::optional<Record>> record = impl_->ReadRecord(case_id);
  if (!record.ok()) {
    Logger("keys")->error("msg=read_failed status=\"{}\"", record.status().ToString());
    return false;
  }
  return record->has_value() && (*record)->erased;
}

absl::StatusOr<KeyStore::ErasureIntent> KeyStore::BeginErasure(const std::string& case_id, const std::string& event_id,
                                                               const std::string& operator_name,
                                                               absl::Time occurred_at) {
  Impl& impl = *impl_;
  std::lock_guard<std::mutex> admin(impl.admin_mu);
  ASSIGN_OR_RETURN(std::optional<ErasureIntent> pending, impl.ReadIntent(case_id));
  if (pending) return *std::move(pending);

  ErasureIntent intent;
  intent.case_id = case_id;
  intent.event_id = event_id;
  intent.operator_name = operator_name;
  intent.occurred_at = occurred_at;
  {
    // No new key starts for the case while its marker is written, and a key
    // being created now is written first (and then erased).
    std::unique_lock<std::mutex> lock(impl.mu);
    impl.cv.wait(lock, [&] { return impl.busy.count(case_id) == 0; });
    // Straight from the record, without unwrapping: a key that no longer
    // unwraps can still be destroyed.
    ASSIGN_OR_RETURN(std::optional<Record> record, impl.ReadRecord(case_id));
    if (record) intent.key_id = record->key_id;
    impl.busy.insert(case_id);
  }
  Record marker;
  marker.erased = true;
  marker.key_id = intent.key_id;
  rocksdb::WriteBatch batch;
  absl::Status written = FromRocks(batch.Put(kCasePrefix + case_id, EncodeRecord(marker)), "stage erased marker");
  if (written.ok()) {
    written = FromRocks(batch.Put(kErasePrefix + case_id, EncodeIntent(intent)), "stage the erasure in progress");
  }
  if (written.ok()) {
    rocksdb::WriteOptions wo;
    wo.sync = true;
    written = impl.ResumeAfterFailure();
    if (written.ok()) written = impl.Written(FromRocks(impl.db->Write(wo, &batch), "write erased marker"));
  }
  {
    std::lock_guard<std::mutex> lock(impl.mu);
    impl.busy.erase(case_id);
    if (written.ok()) {
      CaseKey erased;
      erased.key_id = intent.key_id;
      erased.erased = true;
      // Replacing the entry overwrites the old key's bytes (Secret).
      impl.cache.insert_or_assign(case_id, std::move(erased));
    }
    impl.cv.notify_all();
  }
  RETURN_IF_ERROR(written);
  KRING_CRASH_POINT("keys.erase.after_intent");
  Logger("keys")->info("msg=erasure_begun key_id={}", intent.key_id.empty() ? "none" : intent.key_id);
  return intent;
}

absl::Status KeyStore::CompleteErasure(const std::string& case_id) {
  Impl& impl = *impl_;
  std::lock_guard<std::mutex> admin(impl.admin_mu);
  ASSIGN_OR_RETURN(std::optional<ErasureIntent> pending, impl.ReadIntent(case_id));
  if (!pending) return absl::OkStatus();
  RETURN_IF_ERROR(impl.Purge());
  KRING_CRASH_POINT("keys.erase.after_purge");
  rocksdb::WriteOptions wo;
  wo.sync = true;
  RETURN_IF_ERROR(
      impl.Written(FromRocks(impl.db->Delete(wo, kErasePrefix + case_id), "clear the erasure in progress")));
  Logger("keys")->info("msg=data_key_erased key_id={}", pending->key_id.empty() ? "none" : pending->key_id);
  return absl::OkStatus();
}

absl::StatusOr<std::vector<KeyStore::ErasureIntent>> KeyStore::PendingErasures() const {
  std::vector<ErasureIntent> out;
  std::unique_ptr<rocksdb::Iterator> it(impl_->db->NewIterator(rocksdb::ReadOptions()));
  for (it->Seek(kErasePrefix); it->Valid() && it->key().starts_with(kErasePrefix); it->Next()) {
    ASSIGN_OR_RETURN(ErasureIntent intent,
                     DecodeIntent(it->key().ToString().substr(kErasePrefix.size()), it->value().ToStringView()));
    out.push_back(std::move(intent));
  }
  RETURN_IF_ERROR(FromRocks(it->status(), "scan the erasures in progress"));
  return out;
}

absl::StatusOr<std::optional<KeyStore::ErasureIntent>> KeyStore::PendingErasure(const std::string& case_id) const {
  return impl_->ReadIntent(case_id);
}

absl::StatusOr<KeyStore::Erasure> KeyStore::Erase(const std::string& case_id) {
  Erasure erasure;
  ASSIGN_OR_RETURN(std::optional<ErasureIntent> pending, PendingErasure(case_id));
  erasure.already_erased = !pending && IsErased(case_id);
  if (erasure.already_erased) {
    ASSIGN_OR_RETURN(erasure.key_id, KeyIdOf(case_id));
    return erasure;
  }
  ASSIGN_OR_RETURN(ErasureIntent intent, BeginErasure(case_id, "", "", absl::Now()));
  erasure.key_id = intent.key_id;
  RETURN_IF_ERROR(CompleteErasure(case_id));
  return erasure;
}

absl::StatusOr<KeyStore::Rotation> KeyStore::RotateMasterKey(const std::string& new_master_key_file) {
  ASSIGN_OR_RETURN(std::string new_key_bytes, ReadMasterKeyFile(new_master_key_file, "new_master_key_file"));
  Secret new_key(std::move(new_key_bytes));
  const std::string new_id = MasterKeyId(new_key.bytes());

  Impl& impl = *impl_;
  std::lock_guard<std::mutex> admin(impl.admin_mu);
  Rotation rotation;
  {
    std::unique_lock<std::mutex> lock(impl.mu);
    rotation.previous_master_key_id = impl.master_key_id;
    rotation.master_key_id = new_id;
    if (new_id == impl.master_key_id) {
      return absl::InvalidArgumentError(absl::StrCat("new_master_key_file: the key has id ", new_id,
                                                     ", the current master key's; nothing to rotate"));
    }
    // Keys being created now were wrapped under the old master key: let
    // their writes land (no new one starts), then re-wrap everything.
    impl.rotating = true;
    impl.cv.wait(lock, [&] { return impl.busy.empty(); });
    absl::Status written = [&]() -> absl::Status {
      rocksdb::WriteBatch batch;
      std::unique_ptr<rocksdb::Iterator> it(impl.db->NewIterator(rocksdb::ReadOptions()));
      for (it->Seek(kCasePrefix); it->Valid() && it->key().starts_with(kCasePrefix); it->Next()) {
        const std::string case_id = it->key().ToString().substr(kCasePrefix.size());
        ASSIGN_OR_RETURN(Record record, DecodeRecord(it->value().ToStringView()));
        if (record.erased) continue;
        absl::StatusOr<std::string> data_key_bytes =
            OpenAead(impl.master_key.bytes(), record.nonce, record.wrapped,
                     WrapAssociatedData(case_id, record.key_id, impl.master_key_id));
        if (!data_key_bytes.ok()) {
          return absl::DataLossError(absl::StrCat("key store: data key ", record.key_id,
                                                  " does not unwrap under the master key; nothing rotated"));
        }
        Secret data_key(*std::move(data_key_bytes));
        ASSIGN_OR_RETURN(Sealed wrapped, SealAead(new_key.bytes(), data_key.bytes(),
                                                  WrapAssociatedData(case_id, record.key_id, new_id)));
        record.nonce = std::move(wrapped.nonce);
        record.wrapped = std::move(wrapped.ciphertext);
        RETURN_IF_ERROR(FromRocks(batch.Put(it->key(), EncodeRecord(record)), "stage re-wrapped key"));
        rotation.data_keys_rewrapped++;
      }
      RETURN_IF_ERROR(FromRocks(it->status(), "scan data keys"));
      RETURN_IF_ERROR(FromRocks(batch.Put(kMasterKeyIdKey, new_id), "stage master key id"));
      RETURN_IF_ERROR(FromRocks(batch.Put(kPurgePendingKey, ""), "stage the pending purge"));
      RETURN_IF_ERROR(impl.ResumeAfterFailure());
      rocksdb::WriteOptions wo;
      wo.sync = true;
      return impl.Written(FromRocks(impl.db->Write(wo, &batch), "write re-wrapped keys"));
    }();
    if (written.ok()) {
      // Committed: from here on only the new key unwraps. The cached data
      // keys are the same keys and stay valid.
      impl.master_key = new_key;
      impl.master_key_id = new_id;
    }
    impl.rotating = false;
    impl.cv.notify_all();
    RETURN_IF_ERROR(written);
  }
  Logger("keys")->info("msg=master_key_rotated previous_master_key_id={} master_key_id={} data_keys_rewrapped={}",
                       rotation.previous_master_key_id, new_id, rotation.data_keys_rewrapped);
  if (absl::Status s = impl.Purge(); !s.ok()) {
    return absl::InternalError(absl::StrCat("key store: rotated to master key ", new_id,
                                            ", but the old wrappings may remain until the next open: ", s.message()));
  }
  return rotation;
}

std::string KeyStore::master_key_id() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->master_key_id;
}

absl::StatusOr<std::string> KeyStore::Checkpoint(const std::string& destination) const {
  // No erasure's purge or rotation runs while the copy is taken (admin_mu),
  // and none starts: a purge deletes the files a checkpoint links.
  std::lock_guard<std::mutex> admin(impl_->admin_mu);
  rocksdb::Checkpoint* raw = nullptr;
  RETURN_IF_ERROR(FromRocks(rocksdb::Checkpoint::Create(impl_->db.get(), &raw), "checkpoint"));
  std::unique_ptr<rocksdb::Checkpoint> checkpoint(raw);
  RETURN_IF_ERROR(FromRocks(checkpoint->CreateCheckpoint(destination), "checkpoint"));
  return master_key_id();
}

}  // namespace kring::security
