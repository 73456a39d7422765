// The event-id memtable (eventstore/id_memtable.h) under a plain RocksDB
// database: what Get, MultiGet and iterators return from it, before and after
// a flush and a reopen, with few buckets (so that keys share them), keys that
// share their first 8 bytes, short keys and bytes above 0x7f; and lookups
// while one writer inserts.
#include "eventstore/id_memtable.h"

#include <gtest/gtest.h>
#include <rocksdb/db.h>

#include <atomic>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/escaping.h"
#include "tests/testing/test_support.h"

namespace kring::eventstore {
namespace {

class IdMemTableTest : public ::testing::Test {
 protected:
  void Open(size_t buckets = 4) {
    rocksdb::Options options;
    options.create_if_missing = true;
    options.allow_concurrent_memtable_write = false;
    options.memtable_factory = NewIdMemTableFactory(buckets);
    options.write_buffer_size = 64 << 20;  // flushed only when the test says so
    rocksdb::DB* raw = nullptr;
    ASSERT_TRUE(rocksdb::DB::Open(options, dir_.path(), &raw).ok());
    db_.reset(raw);
  }
  void Put(const std::string& key, const std::string& value) {
    ASSERT_TRUE(db_->Put(rocksdb::WriteOptions(), key, value).ok());
    model_[key] = value;
  }
  void Delete(const std::string& key) {
    ASSERT_TRUE(db_->Delete(rocksdb::WriteOptions(), key).ok());
    model_.erase(key);
  }

  // Every key ever written, and some never written, read one by one, with
  // MultiGet, and by a full scan in both directions, as the model says.
  void ExpectReadsMatchTheModel(const std::vector<std::string>& keys) {
    for (const std::string& key : keys) {
      std::string value;
      const rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), key, &value);
      const auto it = model_.find(key);
      if (it == model_.end()) {
        EXPECT_TRUE(s.IsNotFound()) << "Get found a key never written or deleted: " << absl::CHexEscape(key);
      } else {
        ASSERT_TRUE(s.ok()) << s.ToString() << " for " << absl::CHexEscape(key);
        EXPECT_EQ(value, it->second) << "for " << absl::CHexEscape(key);
      }
    }
    std::vector<rocksdb::Slice> slices(keys.begin(), keys.end());
    std::vector<std::string> values;
    const std::vector<rocksdb::Status> statuses = db_->MultiGet(rocksdb::ReadOptions(), slices, &values);
    for (size_t i = 0; i < keys.size(); ++i) {
      const auto it = model_.find(keys[i]);
      EXPECT_EQ(statuses[i].ok(), it != model_.end()) << "MultiGet for " << absl::CHexEscape(keys[i]);
      if (statuses[i].ok() && it != model_.end()) EXPECT_EQ(values[i], it->second);
    }

    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions()));
    std::vector<std::pair<std::string, std::string>> forward, backward;
    for (it->SeekToFirst(); it->Valid(); it->Next()) forward.emplace_back(it->key().ToString(), it->value().ToString());
    for (it->SeekToLast(); it->Valid(); it->Prev()) backward.emplace_back(it->key().ToString(), it->value().ToString());
    ASSERT_TRUE(it->status().ok()) << it->status().ToString();
    const std::vector<std::pair<std::string, std::string>> expected(model_.begin(), model_.end());
    EXPECT_EQ(forward, expected) << "a full scan is not in bytewise key order";
    EXPECT_EQ(std::vector(backward.rbegin(), backward.rend()), expected);

    // Seek and SeekForPrev land on the neighbours the model gives.
    for (const std::string& key : keys) {
      it->Seek(key);
      const auto at_or_after = model_.lower_bound(key);
      ASSERT_EQ(it->Valid(), at_or_after != model_.end()) << "Seek " << absl::CHexEscape(key);
      if (it->Valid()) EXPECT_EQ(it->key().ToString(), at_or_after->first);
      it->SeekForPrev(key);
      auto at_or_before = model_.upper_bound(key);
      ASSERT_EQ(it->Valid(), at_or_before != model_.begin()) << "SeekForPrev " << absl::CHexEscape(key);
      if (it->Valid()) EXPECT_EQ(it->key().ToString(), (--at_or_before)->first);
    }
  }

  // Random lowercase UUIDs (the event ids), keys sharing their first 8 bytes
  // (the order prefix ties), keys shorter than 8 bytes or with zero bytes, and
  // bytes above 0x7f (which sort after ASCII).
  std::vector<std::string> Keys(size_t random_count) {
    std::vector<std::string> keys = {"",         std::string("a"), std::string("a\0", 2), "a\x01",        "ab",
                                     "aaaaaaaa", "aaaaaaaa-0",     "aaaaaaaa-1",          "aaaaaaaa\x80", "\x7f",
                                     "\x80",     "\xff\xff",       "zzzzzzzz\xff",        "a\x7f",        "a\x80",
                                     "b"};
    std::mt19937_64 random(42);
    for (size_t i = 0; i < random_count; ++i) {
      char id[37];
      const uint64_t a = random(), b = random();
      snprintf(id, sizeof(id), "%08x-%04x-4%03x-8%03x-%012llx", static_cast<unsigned>(a >> 32),
               static_cast<unsigned>(a >> 16) & 0xffff, static_cast<unsigned>(a) & 0xfff,
               static_cast<unsigned>(b >> 48) & 0xfff, static_cast<unsigned long long>(b & 0xffffffffffffULL));
      keys.push_back(id);
    }
    return keys;
  }

  testing::TempDir dir_;
  std::unique_ptr<rocksdb::DB> db_;
  std::map<std::string, std::string> model_;
};

TEST_F(IdMemTableTest, ReadsGiveTheNewestValueInTheMemtableAfterAFlushAndAfterAReopen) {
  Open();
  const std::vector<std::string> keys = Keys(2000);
  // Half the keys: never written in this phase (Get must say NotFound).
  for (size_t i = 0; i < keys.size(); i += 2) Put(keys[i], "first-" + std::to_string(i));
  // Overwrites: a newer sequence number of the same key, in the same bucket.
  for (size_t i = 0; i < keys.size(); i += 6) Put(keys[i], "second-" + std::to_string(i));
  for (size_t i = 0; i < keys.size(); i += 10) Delete(keys[i]);
  ExpectReadsMatchTheModel(keys);
  // Get runs RocksDB's default Get, which never deletes the iterator it asks
  // for: the memtable must hand it one that needs no deleting.
  EXPECT_EQ(IdMemTableLiveIterators(), 0u) << "lookups left iterators behind";

  // The flush writes a table from the memtable's sorted iterator: a table out
  // of order would lose keys to the lookups' binary search.
  ASSERT_TRUE(db_->Flush(rocksdb::FlushOptions()).ok());
  ExpectReadsMatchTheModel(keys);

  // New writes over the flushed ones, then a reopen: the write-ahead log is
  // replayed into a new memtable of this kind.
  for (size_t i = 1; i < keys.size(); i += 2) Put(keys[i], "third-" + std::to_string(i));
  for (size_t i = 0; i < keys.size(); i += 8) Put(keys[i], "fourth-" + std::to_string(i));
  for (size_t i = 3; i < keys.size(); i += 14) Delete(keys[i]);
  ExpectReadsMatchTheModel(keys);
  ASSERT_TRUE(db_->Close().ok());
  db_.reset();
  Open();
  ExpectReadsMatchTheModel(keys);
}

TEST_F(IdMemTableTest, LookupsWhileOneWriterInsertsFindEveryKeyWrittenBeforeThem) {
  Open(/*buckets=*/64);
  const std::vector<std::string> keys = Keys(20000);
  std::atomic<size_t> written{0};
  std::atomic<size_t> missing{0}, wrong{0}, lookups{0}, unordered_scans{0};
  std::atomic<bool> done{false};
  auto reader = [&](uint64_t seed) {
    std::mt19937_64 random(seed);
    while (!done.load()) {
      const size_t n = written.load();
      if (n == 0) continue;
      const size_t i = random() % n;
      std::string value;
      const rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), keys[i], &value);
      if (!s.ok()) ++missing;
      if (s.ok() && value != "v" + std::to_string(i)) ++wrong;
      ++lookups;
      if (random() % 500 == 0) {  // a scan of the memtable being written
        std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions()));
        std::string previous;
        bool first = true;
        for (it->SeekToFirst(); it->Valid(); it->Next()) {
          if (!first && it->key().ToString() <= previous) ++unordered_scans;
          previous = it->key().ToString();
          first = false;
        }
      }
    }
  };
  std::thread reader1(reader, 1), reader2(reader, 2);
  for (size_t i = 0; i < keys.size(); ++i) {
    ASSERT_TRUE(db_->Put(rocksdb::WriteOptions(), keys[i], "v" + std::to_string(i)).ok());
    written.store(i + 1);
  }
  // Let the readers do some more lookups after the last insert.
  const size_t after_writes = lookups.load() + 2000;
  while (lookups.load() < after_writes) std::this_thread::yield();
  done = true;
  reader1.join();
  reader2.join();
  EXPECT_EQ(missing.load(), 0u) << "keys written before the lookup were not found";
  EXPECT_EQ(wrong.load(), 0u);
  EXPECT_EQ(unordered_scans.load(), 0u);
}

}  // namespace
}  // namespace kring::eventstore
