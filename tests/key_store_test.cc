// The key store (security/key_store.h) and AES-256-GCM (security/aead.h):
// sealing and opening personal data, the master key file's checks, reopen,
// erasure and master-key rotation, including that destroyed or replaced key
// material no longer rests in any file of the key folder.
#include "security/key_store.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <rocksdb/db.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>
#include <thread>
#include <tuple>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "security/aead.h"
#include "testing/test_support.h"

namespace kring::security {
namespace {

using kring::testing::FilesContaining;
using kring::testing::TempDir;

// Writes `content` to `path` and gives it `mode` (umask aside).
void WriteFile(const std::string& path, const std::string& content, mode_t mode = 0600) {
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << content;
  }
  ASSERT_EQ(::chmod(path.c_str(), mode), 0);
}

std::string NewKey() {
  absl::StatusOr<std::string> key = RandomBytes(kKeyBytes);
  EXPECT_TRUE(key.ok());
  return *key;
}

v1::PersonalData Personal(const std::string& name, const std::string& phone) {
  v1::PersonalData p;
  (*p.mutable_fields())["name"] = name;
  (*p.mutable_fields())["phone"] = phone;
  return p;
}

// A case's key record as stored, read past the store (layout in
// key_store.h), with its data key unwrapped by the master key.
struct RawRecord {
  std::string value;
  std::string key_id;
  std::string wrapped;   // live only
  std::string data_key;  // live only
};

RawRecord PeekRecord(const std::string& db_path, const std::string& case_id, const std::string& master_key) {
  RawRecord out;
  rocksdb::DB* raw = nullptr;
  rocksdb::Options options;
  rocksdb::Status s = rocksdb::DB::OpenForReadOnly(options, db_path, &raw);
  EXPECT_TRUE(s.ok()) << s.ToString();
  if (!s.ok()) return out;
  std::unique_ptr<rocksdb::DB> db(raw);
  s = db->Get(rocksdb::ReadOptions(), "case/" + case_id, &out.value);
  EXPECT_TRUE(s.ok()) << s.ToString();
  std::string master_key_id;
  EXPECT_TRUE(db->Get(rocksdb::ReadOptions(), "meta/master_key_id", &master_key_id).ok());
  EXPECT_EQ(master_key_id, MasterKeyId(master_key));
  if (out.value.size() != 1 + 32 + kNonceBytes + kKeyBytes + kTagBytes || out.value[0] != 'L') return out;
  out.key_id = out.value.substr(1, 32);
  const std::string nonce = out.value.substr(33, kNonceBytes);
  out.wrapped = out.value.substr(33 + kNonceBytes);
  const std::string nul(1, '\0');
  absl::StatusOr<std::string> data_key =
      OpenAead(master_key, nonce, out.wrapped,
               absl::StrCat("kring data key", nul, case_id, nul, out.key_id, nul, master_key_id));
  EXPECT_TRUE(data_key.ok()) << data_key.status();
  if (data_key.ok()) out.data_key = *data_key;
  return out;
}

class KeyStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    master_key_ = NewKey();
    WriteFile(key_file_, master_key_);
  }

  KeyStoreOptions Options(const std::string& key_file) const {
    KeyStoreOptions o;
    o.path = db_path_;
    o.master_key_file = key_file;
    return o;
  }

  std::unique_ptr<KeyStore> OpenStore() { return OpenStoreWith(key_file_); }
  std::unique_ptr<KeyStore> OpenStoreWith(const std::string& key_file) {
    absl::StatusOr<std::unique_ptr<KeyStore>> store = KeyStore::Open(Options(key_file));
    EXPECT_TRUE(store.ok()) << store.status();
    return store.ok() ? *std::move(store) : nullptr;
  }

  TempDir dir_;
  std::string db_path_ = dir_.Sub("keys");
  std::string key_file_ = dir_.Sub("master.key");
  std::string master_key_;
};

TEST(AeadTest, RoundTripsAndRejectsWrongKeyOrAssociatedData) {
  const std::string key = NewKey();
  absl::StatusOr<Sealed> sealed = SealAead(key, "secret text", "ad");
  ASSERT_TRUE(sealed.ok()) << sealed.status();
  EXPECT_EQ(sealed->nonce.size(), kNonceBytes);
  EXPECT_EQ(sealed->ciphertext.size(), std::string("secret text").size() + kTagBytes);
  EXPECT_EQ(sealed->ciphertext.find("secret"), std::string::npos);

  absl::StatusOr<std::string> opened = OpenAead(key, sealed->nonce, sealed->ciphertext, "ad");
  ASSERT_TRUE(opened.ok()) << opened.status();
  EXPECT_EQ(*opened, "secret text");

  EXPECT_EQ(OpenAead(NewKey(), sealed->nonce, sealed->ciphertext, "ad").status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(OpenAead(key, sealed->nonce, sealed->ciphertext, "other").status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(OpenAead(key, sealed->nonce, sealed->ciphertext.substr(0, kTagBytes - 1), "ad").status().code(),
            absl::StatusCode::kDataLoss);
  EXPECT_EQ(SealAead("short", "x", "").status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(AeadTest, EmptyPlaintextIsAuthenticatedToo) {
  const std::string key = NewKey();
  absl::StatusOr<Sealed> sealed = SealAead(key, "", "ad");
  ASSERT_TRUE(sealed.ok());
  EXPECT_EQ(sealed->ciphertext.size(), kTagBytes);
  absl::StatusOr<std::string> opened = OpenAead(key, sealed->nonce, sealed->ciphertext, "ad");
  ASSERT_TRUE(opened.ok());
  EXPECT_EQ(*opened, "");
  EXPECT_EQ(OpenAead(key, sealed->nonce, sealed->ciphertext, "ae").status().code(), absl::StatusCode::kDataLoss);
}

TEST(AeadTest, NoncesAreFreshPerCall) {
  const std::string key = NewKey();
  absl::StatusOr<Sealed> a = SealAead(key, "same", "");
  absl::StatusOr<Sealed> b = SealAead(key, "same", "");
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_NE(a->nonce, b->nonce);
  EXPECT_NE(a->ciphertext, b->ciphertext);
}

TEST(MasterKeyIdTest, IsSixteenHexDigitsAndNamesTheKey) {
  const std::string key = NewKey();
  const std::string id = MasterKeyId(key);
  EXPECT_EQ(id.size(), 16u);
  EXPECT_EQ(id.find_first_not_of("0123456789abcdef"), std::string::npos);
  EXPECT_EQ(MasterKeyId(key), id);
  EXPECT_NE(MasterKeyId(NewKey()), id);
  EXPECT_EQ(id.find(absl::BytesToHexString(key).substr(0, 16)), std::string::npos);
}

TEST_F(KeyStoreTest, SealsAndOpensPersonalData) {
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  const v1::PersonalData personal = Personal("Jan de Vries", "+31 6 1234 5678");
  absl::StatusOr<v1::SealedPersonalData> sealed = store->Seal("case-1", "event-1", personal);
  ASSERT_TRUE(sealed.ok()) << sealed.status();
  EXPECT_EQ(sealed->nonce().size(), kNonceBytes);
  EXPECT_EQ(sealed->ciphertext().find("Jan de Vries"), std::string::npos);
  EXPECT_EQ(sealed->key_id(), *store->KeyIdOf("case-1"));

  absl::StatusOr<std::optional<v1::PersonalData>> opened = store->OpenSealed("case-1", "event-1", *sealed);
  ASSERT_TRUE(opened.ok()) << opened.status();
  ASSERT_TRUE(opened->has_value());
  EXPECT_EQ((*opened)->fields().at("name"), "Jan de Vries");
  EXPECT_EQ((*opened)->fields().at("phone"), "+31 6 1234 5678");
  EXPECT_EQ((*opened)->fields_size(), 2);
  EXPECT_FALSE(store->IsErased("case-1"));
}

TEST_F(KeyStoreTest, RefusesASealedPartUnderAnotherEventId) {
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  absl::StatusOr<v1::SealedPersonalData> one = store->Seal("case-1", "event-1", Personal("A", "1"));
  absl::StatusOr<v1::SealedPersonalData> two = store->Seal("case-1", "event-2", Personal("B", "2"));
  ASSERT_TRUE(one.ok() && two.ok());
  auto swapped = store->OpenSealed("case-1", "event-2", *one);
  EXPECT_EQ(swapped.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(std::string(swapped.status().message()).find('A'), std::string::npos);
  EXPECT_EQ(store->OpenSealed("case-1", "event-1", *two).status().code(), absl::StatusCode::kDataLoss);
  EXPECT_TRUE(store->OpenSealed("case-1", "event-2", *two).ok());
}

TEST_F(KeyStoreTest, RefusesAlteredBytes) {
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  absl::StatusOr<v1::SealedPersonalData> sealed = store->Seal("case-1", "event-1", Personal("Name", "06"));
  ASSERT_TRUE(sealed.ok());

  v1::SealedPersonalData flipped = *sealed;
  flipped.mutable_ciphertext()->at(0) ^= 0x01;
  EXPECT_EQ(store->OpenSealed("case-1", "event-1", flipped).status().code(), absl::StatusCode::kDataLoss);

  v1::SealedPersonalData bad_tag = *sealed;
  bad_tag.mutable_ciphertext()->back() ^= 0x80;
  EXPECT_EQ(store->OpenSealed("case-1", "event-1", bad_tag).status().code(), absl::StatusCode::kDataLoss);

  v1::SealedPersonalData bad_nonce = *sealed;
  bad_nonce.mutable_nonce()->at(3) ^= 0x10;
  EXPECT_EQ(store->OpenSealed("case-1", "event-1", bad_nonce).status().code(), absl::StatusCode::kDataLoss);

  v1::SealedPersonalData truncated = *sealed;
  truncated.mutable_ciphertext()->resize(5);
  EXPECT_EQ(store->OpenSealed("case-1", "event-1", truncated).status().code(), absl::StatusCode::kDataLoss);

  v1::SealedPersonalData other_key = *sealed;
  other_key.set_key_id(std::string(32, '0'));
  EXPECT_EQ(store->OpenSealed("case-1", "event-1", other_key).status().code(), absl::StatusCode::kDataLoss);
}

TEST_F(KeyStoreTest, RefusesASealedPartOfAnotherCase) {
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  absl::StatusOr<v1::SealedPersonalData> sealed = store->Seal("case-1", "event-1", Personal("Name", "06"));
  ASSERT_TRUE(store->Seal("case-2", "event-9", Personal("Other", "07")).ok());
  ASSERT_TRUE(sealed.ok());
  // Another case with a key of its own: the key ids differ.
  EXPECT_EQ(store->OpenSealed("case-2", "event-1", *sealed).status().code(), absl::StatusCode::kDataLoss);
  // A case that has no key at all.
  EXPECT_EQ(store->OpenSealed("case-3", "event-1", *sealed).status().code(), absl::StatusCode::kDataLoss);
}

TEST_F(KeyStoreTest, OneKeyPerCase) {
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(*store->KeyIdOf("case-1"), "");
  auto a1 = store->Seal("case-1", "e1", Personal("a", "1"));
  auto a2 = store->Seal("case-1", "e2", Personal("b", "2"));
  auto b1 = store->Seal("case-2", "e3", Personal("c", "3"));
  ASSERT_TRUE(a1.ok() && a2.ok() && b1.ok());
  EXPECT_EQ(a1->key_id(), a2->key_id());
  EXPECT_NE(a1->key_id(), b1->key_id());
  EXPECT_EQ(a1->key_id().size(), 32u);
  EXPECT_EQ(a1->key_id().find_first_not_of("0123456789abcdef"), std::string::npos);
  EXPECT_EQ(*store->KeyIdOf("case-1"), a1->key_id());
  EXPECT_EQ(*store->KeyIdOf("case-2"), b1->key_id());
}

TEST_F(KeyStoreTest, ConcurrentFirstSealsOfACaseShareOneKey) {
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  constexpr int kThreads = 8;
  std::vector<std::string> key_ids(kThreads);
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      auto sealed = store->Seal("case-1", absl::StrCat("event-", i), Personal("n", "p"));
      if (sealed.ok()) key_ids[i] = sealed->key_id();
    });
  }
  for (auto& t : threads) t.join();
  const std::set<std::string> distinct(key_ids.begin(), key_ids.end());
  ASSERT_EQ(distinct.size(), 1u);
  EXPECT_EQ(*distinct.begin(), *store->KeyIdOf("case-1"));
}

TEST_F(KeyStoreTest, KeysSurviveReopen) {
  std::string key_id;
  v1::SealedPersonalData sealed;
  {
    auto store = OpenStore();
    ASSERT_NE(store, nullptr);
    auto s = store->Seal("case-1", "event-1", Personal("Name", "06"));
    ASSERT_TRUE(s.ok());
    sealed = *s;
    key_id = s->key_id();
  }
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(*store->KeyIdOf("case-1"), key_id);
  EXPECT_EQ(store->master_key_id(), MasterKeyId(master_key_));
  auto opened = store->OpenSealed("case-1", "event-1", sealed);
  ASSERT_TRUE(opened.ok()) << opened.status();
  ASSERT_TRUE(opened->has_value());
  EXPECT_EQ((*opened)->fields().at("name"), "Name");
  auto again = store->Seal("case-1", "event-2", Personal("x", "y"));
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->key_id(), key_id);
}

TEST_F(KeyStoreTest, RefusesAMasterKeyFileReadableByOthers) {
  const std::string hex = absl::BytesToHexString(master_key_);
  WriteFile(key_file_, hex + "\n", 0644);
  auto store = KeyStore::Open(Options(key_file_));
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), absl::StatusCode::kPermissionDenied);
  const std::string message(store.status().message());
  EXPECT_EQ(message.rfind("--master-key-file: ", 0), 0u) << message;
  EXPECT_NE(message.find("0644"), std::string::npos) << message;
  EXPECT_NE(message.find("chmod 600"), std::string::npos) << message;
  EXPECT_EQ(message.find(hex), std::string::npos);
  EXPECT_EQ(message.find(hex.substr(0, 8)), std::string::npos);
  EXPECT_EQ(message.find(master_key_), std::string::npos);
  // Group-writable is refused as well.
  WriteFile(key_file_, master_key_, 0620);
  EXPECT_EQ(KeyStore::Open(Options(key_file_)).status().code(), absl::StatusCode::kPermissionDenied);
  // Nothing was created for a refused key.
  EXPECT_FALSE(std::filesystem::exists(db_path_));
}

// The help and the docs say 0600 or 0400: an execute bit (0700, 0500), a
// set-id or sticky bit is refused too, with a message naming the flag, the
// mode and the rule; nothing is created.
TEST_F(KeyStoreTest, AcceptsOnlyMode0600Or0400ForTheMasterKeyFile) {
  for (const mode_t mode : {0700, 0500, 0640, 0604, 04600, 01600}) {
    WriteFile(key_file_, master_key_, mode);
    auto store = KeyStore::Open(Options(key_file_));
    ASSERT_FALSE(store.ok()) << absl::StrFormat("mode %04o", mode);
    EXPECT_EQ(store.status().code(), absl::StatusCode::kPermissionDenied) << store.status();
    const std::string message(store.status().message());
    EXPECT_EQ(message.rfind("--master-key-file: ", 0), 0u) << message;
    EXPECT_NE(message.find(absl::StrFormat("has mode %04o", mode)), std::string::npos) << message;
    EXPECT_NE(message.find("must be mode 0600 or 0400"), std::string::npos) << message;
    EXPECT_NE(message.find("chmod 600"), std::string::npos) << message;
    EXPECT_FALSE(std::filesystem::exists(db_path_));
    // The same rule for a rotation's new key file, under its own name.
    EXPECT_EQ(ReadMasterKeyFile(key_file_, "new_master_key_file").status().code(), absl::StatusCode::kPermissionDenied);
  }
  for (const mode_t mode : {0600, 0400}) {
    WriteFile(key_file_, master_key_, mode);
    EXPECT_TRUE(ReadMasterKeyFile(key_file_, "--master-key-file").ok()) << absl::StrFormat("mode %04o", mode);
  }
}

TEST_F(KeyStoreTest, RefusesAMasterKeyFileOfTheWrongShape) {
  WriteFile(key_file_, master_key_.substr(0, 31));
  auto short_key = ReadMasterKeyFile(key_file_, "--master-key-file");
  EXPECT_EQ(short_key.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(std::string(short_key.status().message()).rfind("--master-key-file: ", 0), 0u);
  EXPECT_EQ(std::string(short_key.status().message()).find(master_key_.substr(0, 31)), std::string::npos);

  WriteFile(key_file_, master_key_ + "\n");  // raw bytes take no newline
  EXPECT_EQ(ReadMasterKeyFile(key_file_, "--master-key-file").status().code(), absl::StatusCode::kInvalidArgument);
  WriteFile(key_file_, std::string(63, 'a') + "g");
  EXPECT_EQ(ReadMasterKeyFile(key_file_, "--master-key-file").status().code(), absl::StatusCode::kInvalidArgument);
  WriteFile(key_file_, std::string(4096, 'a'));
  EXPECT_EQ(ReadMasterKeyFile(key_file_, "--master-key-file").status().code(), absl::StatusCode::kInvalidArgument);
  WriteFile(key_file_, "");
  EXPECT_EQ(KeyStore::Open(Options(key_file_)).status().code(), absl::StatusCode::kInvalidArgument);

  auto missing = ReadMasterKeyFile(dir_.Sub("absent.key"), "--master-key-file");
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(std::string(missing.status().message()).find("--master-key-file"), std::string::npos);

  std::filesystem::create_directory(dir_.Sub("a-folder"));
  ::chmod(dir_.Sub("a-folder").c_str(), 0700);
  EXPECT_EQ(ReadMasterKeyFile(dir_.Sub("a-folder"), "--master-key-file").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ReadMasterKeyFile("", "--master-key-file").status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(KeyStoreTest, ReadsRawAndHexKeyFilesAlike) {
  const std::string hex = absl::BytesToHexString(master_key_);
  const std::string hex_file = dir_.Sub("hex.key");
  const std::string upper_file = dir_.Sub("upper.key");
  WriteFile(hex_file, hex + "\n", 0400);
  std::string upper = hex;
  for (char& c : upper) c = static_cast<char>(toupper(c));
  WriteFile(upper_file, upper);
  auto raw = ReadMasterKeyFile(key_file_, "--master-key-file");
  auto from_hex = ReadMasterKeyFile(hex_file, "--master-key-file");
  auto from_upper = ReadMasterKeyFile(upper_file, "--master-key-file");
  ASSERT_TRUE(raw.ok() && from_hex.ok() && from_upper.ok());
  EXPECT_EQ(*raw, master_key_);
  EXPECT_EQ(*from_hex, master_key_);
  EXPECT_EQ(*from_upper, master_key_);
  // The store opened with the raw file opens with the hex one.
  { ASSERT_NE(OpenStore(), nullptr); }
  auto store = OpenStoreWith(hex_file);
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(store->master_key_id(), MasterKeyId(master_key_));
}

TEST_F(KeyStoreTest, RefusesADifferentMasterKeyAtReopen) {
  { ASSERT_NE(OpenStore(), nullptr); }
  const std::string other_key = NewKey();
  const std::string other_file = dir_.Sub("other.key");
  WriteFile(other_file, other_key);
  auto store = KeyStore::Open(Options(other_file));
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), absl::StatusCode::kFailedPrecondition);
  const std::string message(store.status().message());
  EXPECT_NE(message.find("--master-key-file"), std::string::npos) << message;
  EXPECT_NE(message.find(MasterKeyId(master_key_)), std::string::npos) << message;
  EXPECT_NE(message.find(MasterKeyId(other_key)), std::string::npos) << message;
  EXPECT_EQ(message.find(absl::BytesToHexString(other_key)), std::string::npos);
  // The refusal changed nothing: the right key still opens the store.
  EXPECT_NE(OpenStore(), nullptr);
}

TEST_F(KeyStoreTest, ErasureDestroysTheKeyAndRefusesNewPersonalData) {
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  auto sealed = store->Seal("case-1", "event-1", Personal("Name", "06"));
  ASSERT_TRUE(sealed.ok());
  ASSERT_TRUE(store->Seal("case-2", "event-2", Personal("Other", "07")).ok());

  auto erasure = store->Erase("case-1");
  ASSERT_TRUE(erasure.ok()) << erasure.status();
  EXPECT_EQ(erasure->key_id, sealed->key_id());
  EXPECT_FALSE(erasure->already_erased);
  EXPECT_TRUE(store->IsErased("case-1"));
  EXPECT_EQ(*store->KeyIdOf("case-1"), sealed->key_id());

  auto opened = store->OpenSealed("case-1", "event-1", *sealed);
  ASSERT_TRUE(opened.ok()) << opened.status();
  EXPECT_FALSE(opened->has_value());
  EXPECT_EQ(store->Seal("case-1", "event-3", Personal("New", "08")).status().code(),
            absl::StatusCode::kFailedPrecondition);

  auto again = store->Erase("case-1");
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->already_erased);
  EXPECT_EQ(again->key_id, sealed->key_id());

  // Other cases are untouched.
  EXPECT_FALSE(store->IsErased("case-2"));
  EXPECT_TRUE(store->Seal("case-2", "event-4", Personal("More", "09")).ok());
}

TEST_F(KeyStoreTest, ErasureSurvivesReopen) {
  v1::SealedPersonalData sealed;
  {
    auto store = OpenStore();
    ASSERT_NE(store, nullptr);
    auto s = store->Seal("case-1", "event-1", Personal("Name", "06"));
    ASSERT_TRUE(s.ok());
    sealed = *s;
    ASSERT_TRUE(store->Erase("case-1").ok());
  }
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  EXPECT_TRUE(store->IsErased("case-1"));
  EXPECT_EQ(*store->KeyIdOf("case-1"), sealed.key_id());
  auto opened = store->OpenSealed("case-1", "event-1", sealed);
  ASSERT_TRUE(opened.ok());
  EXPECT_FALSE(opened->has_value());
  EXPECT_EQ(store->Seal("case-1", "event-2", Personal("x", "y")).status().code(),
            absl::StatusCode::kFailedPrecondition);
  auto again = store->Erase("case-1");
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->already_erased);
  EXPECT_EQ(again->key_id, sealed.key_id());
}

TEST_F(KeyStoreTest, ACaseWithoutAKeyCanBeErased) {
  {
    auto store = OpenStore();
    ASSERT_NE(store, nullptr);
    EXPECT_FALSE(store->IsErased("case-1"));
    auto erasure = store->Erase("case-1");
    ASSERT_TRUE(erasure.ok()) << erasure.status();
    EXPECT_EQ(erasure->key_id, "");
    EXPECT_FALSE(erasure->already_erased);
    EXPECT_TRUE(store->IsErased("case-1"));
    EXPECT_EQ(store->Seal("case-1", "event-1", Personal("x", "y")).status().code(),
              absl::StatusCode::kFailedPrecondition);
    EXPECT_EQ(*store->KeyIdOf("case-1"), "");
  }
  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  EXPECT_TRUE(store->IsErased("case-1"));
  EXPECT_EQ(store->Seal("case-1", "event-1", Personal("x", "y")).status().code(),
            absl::StatusCode::kFailedPrecondition);
  auto again = store->Erase("case-1");
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->already_erased);
  EXPECT_EQ(again->key_id, "");
}

// The erased keys' bytes, wrapped or plain, are in no file of the folder:
// neither a key that already sat in a table file (made in an earlier
// session) nor one still in the WAL and memtable (made in this one). A key
// that was not erased is found by the same scan, so the scan can see.
TEST_F(KeyStoreTest, ErasedKeyBytesAreInNoFileOfTheFolder) {
  {
    auto store = OpenStore();
    ASSERT_NE(store, nullptr);
    ASSERT_TRUE(store->Seal("old-case", "event-1", Personal("Name", "06")).ok());
  }
  // Reopening flushed and compacted old-case's record into a table file.
  const RawRecord old_case = PeekRecord(db_path_, "old-case", master_key_);
  ASSERT_EQ(old_case.wrapped.size(), kKeyBytes + kTagBytes);
  ASSERT_EQ(old_case.data_key.size(), kKeyBytes);
  EXPECT_FALSE(FilesContaining(db_path_, old_case.wrapped).empty());

  auto store = OpenStore();
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->Seal("new-case", "event-2", Personal("Name", "06")).ok());
  ASSERT_TRUE(store->Seal("kept-case", "event-3", Personal("Name", "06")).ok());
  // Read-only peeks (no lock) while the store is open: both records are
  // still only in the WAL.
  const RawRecord new_case = PeekRecord(db_path_, "new-case", master_key_);
  const RawRecord kept_case = PeekRecord(db_path_, "kept-case", master_key_);
  ASSERT_EQ(new_case.wrapped.size(), kKeyBytes + kTagBytes);
  ASSERT_EQ(kept_case.wrapped.size(), kKeyBytes + kTagBytes);
  EXPECT_FALSE(FilesContaining(db_path_, new_case.wrapped).empty());

  ASSERT_TRUE(store->Erase("old-case").ok());
  ASSERT_TRUE(store->Erase("new-case").ok());
  // Gone as soon as Erase returns, and still gone once RocksDB has finished
  // every background job at close.
  for (const char* when : {"with the store open", "after close"}) {
    if (std::string(when) == "after close") store.reset();
    for (const RawRecord* erased : {&old_case, &new_case}) {
      EXPECT_EQ(FilesContaining(db_path_, erased->wrapped), std::vector<std::string>{}) << when;
      EXPECT_EQ(FilesContaining(db_path_, erased->data_key), std::vector<std::string>{}) << when;
      EXPECT_EQ(FilesContaining(db_path_, erased->value), std::vector<std::string>{}) << when;
    }
  }
  EXPECT_FALSE(FilesContaining(db_path_, kept_case.wrapped).empty());
  // An unwrapped data key is never written anywhere.
  EXPECT_EQ(FilesContaining(db_path_, kept_case.data_key), std::vector<std::string>{});
  // The erased markers keep the key ids.
  const RawRecord marker = PeekRecord(db_path_, "old-case", master_key_);
  EXPECT_EQ(marker.value, "E" + old_case.key_id);
}

TEST_F(KeyStoreTest, RotationRewrapsEveryLiveKey) {
  const std::string new_key = NewKey();
  const std::string new_file = dir_.Sub("new.key");
  WriteFile(new_file, absl::BytesToHexString(new_key) + "\n");
  v1::SealedPersonalData a, b;
  RawRecord before;
  {
    auto store = OpenStore();
    ASSERT_NE(store, nullptr);
    auto sa = store->Seal("case-a", "event-1", Personal("A", "1"));
    auto sb = store->Seal("case-b", "event-2", Personal("B", "2"));
    ASSERT_TRUE(sa.ok() && sb.ok());
    a = *sa;
    b = *sb;
    ASSERT_TRUE(store->Erase("case-c").ok());
    ASSERT_TRUE(store->Seal("case-d", "event-3", Personal("D", "4")).ok());
    ASSERT_TRUE(store->Erase("case-d").ok());
    before = PeekRecord(db_path_, "case-a", master_key_);
    ASSERT_EQ(before.wrapped.size(), kKeyBytes + kTagBytes);

    // The same key is no rotation.
    auto same = store->RotateMasterKey(key_file_);
    EXPECT_EQ(same.status().code(), absl::StatusCode::kInvalidArgument);
    // The new file is checked like the one at Open, under its own name.
    ASSERT_EQ(::chmod(new_file.c_str(), 0640), 0);
    auto readable = store->RotateMasterKey(new_file);
    EXPECT_EQ(readable.status().code(), absl::StatusCode::kPermissionDenied);
    EXPECT_EQ(std::string(readable.status().message()).rfind("new_master_key_file: ", 0), 0u) << readable.status();
    ASSERT_EQ(::chmod(new_file.c_str(), 0600), 0);

    auto rotation = store->RotateMasterKey(new_file);
    ASSERT_TRUE(rotation.ok()) << rotation.status();
    EXPECT_EQ(rotation->previous_master_key_id, MasterKeyId(master_key_));
    EXPECT_EQ(rotation->master_key_id, MasterKeyId(new_key));
    EXPECT_EQ(rotation->data_keys_rewrapped, 2u);
    EXPECT_EQ(store->master_key_id(), MasterKeyId(new_key));

    auto opened = store->OpenSealed("case-a", "event-1", a);
    ASSERT_TRUE(opened.ok() && opened->has_value()) << opened.status();
    EXPECT_EQ((*opened)->fields().at("name"), "A");
    // New keys are wrapped under the new master key.
    ASSERT_TRUE(store->Seal("case-e", "event-4", Personal("E", "5")).ok());
    EXPECT_TRUE(store->IsErased("case-c"));
  }
  EXPECT_EQ(FilesContaining(db_path_, before.wrapped), std::vector<std::string>{});
  EXPECT_EQ(FilesContaining(db_path_, before.data_key), std::vector<std::string>{});
  const RawRecord after = PeekRecord(db_path_, "case-a", new_key);
  EXPECT_EQ(after.key_id, before.key_id);
  EXPECT_EQ(after.data_key, before.data_key);
  EXPECT_NE(after.wrapped, before.wrapped);

  auto with_old = KeyStore::Open(Options(key_file_));
  ASSERT_FALSE(with_old.ok());
  EXPECT_EQ(with_old.status().code(), absl::StatusCode::kFailedPrecondition);

  auto store = OpenStoreWith(new_file);
  ASSERT_NE(store, nullptr);
  for (const auto& [case_id, event_id, sealed, name] :
       {std::tuple{"case-a", "event-1", &a, "A"}, std::tuple{"case-b", "event-2", &b, "B"}}) {
    auto opened = store->OpenSealed(case_id, event_id, *sealed);
    ASSERT_TRUE(opened.ok() && opened->has_value()) << opened.status();
    EXPECT_EQ((*opened)->fields().at("name"), name);
  }
  EXPECT_TRUE(store->IsErased("case-c"));
  EXPECT_TRUE(store->IsErased("case-d"));
  EXPECT_EQ(store->Seal("case-c", "event-5", Personal("x", "y")).status().code(),
            absl::StatusCode::kFailedPrecondition);
  // And once more, back to a third key: three live keys now.
  const std::string third_file = dir_.Sub("third.key");
  WriteFile(third_file, NewKey());
  auto rotation = store->RotateMasterKey(third_file);
  ASSERT_TRUE(rotation.ok()) << rotation.status();
  EXPECT_EQ(rotation->data_keys_rewrapped, 3u);
}

}  // namespace
}  // namespace kring::security
