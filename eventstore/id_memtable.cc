#include "eventstore/id_memtable.h"

#include <rocksdb/slice.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <new>
#include <string_view>
#include <vector>

#include "absl/numeric/bits.h"

namespace kring::eventstore {
namespace {

using rocksdb::KeyHandle;
using rocksdb::MemTableRep;
using rocksdb::Slice;

// One entry: the link to the next entry of its bucket, then what MemTable::Add
// encodes (the length-prefixed internal key, then the value).
struct Node {
  std::atomic<Node*> next{nullptr};
  const char* entry() const { return reinterpret_cast<const char*>(this + 1); }
};

// An internal key without its 8-byte tag (sequence number and type).
Slice UserKeyOfInternal(const Slice& internal_key) { return Slice(internal_key.data(), internal_key.size() - 8); }

// The first 8 bytes of a user key as a big-endian number, zero-padded: its
// order is the bytewise order of the keys wherever two of them differ.
uint64_t OrderPrefix(const Slice& user_key) {
  uint64_t prefix = 0;
  for (size_t i = 0; i < 8; ++i) {
    prefix = (prefix << 8) | (i < user_key.size() ? static_cast<unsigned char>(user_key[i]) : 0u);
  }
  return prefix;
}

// A memtable entry with its order prefix, as the sorted iterator holds it.
struct Sorted {
  uint64_t prefix;
  const char* entry;
};

class IdMemTableRep;

// Get's iterator: the entries of one bucket from the first >= the key sought.
// Get only seeks and steps forward; the other moves leave it invalid.
class LookupIterator final : public MemTableRep::Iterator {
 public:
  void Reset(const IdMemTableRep* rep) {
    rep_ = rep;
    node_ = nullptr;
  }
  bool Valid() const override { return node_ != nullptr; }
  const char* key() const override { return node_->entry(); }
  void Next() override { node_ = node_->next.load(std::memory_order_acquire); }
  void Prev() override { node_ = nullptr; }
  void Seek(const Slice& internal_key, const char* memtable_key) override;
  void SeekForPrev(const Slice&, const char*) override { node_ = nullptr; }
  void SeekToFirst() override { node_ = nullptr; }
  void SeekToLast() override { node_ = nullptr; }

 private:
  const IdMemTableRep* rep_ = nullptr;
  const Node* node_ = nullptr;
};

std::atomic<size_t> live_sorted_iterators{0};

// Every other iterator: a sorted copy of the entry pointers taken when it was
// made (entries inserted later are not in it).
class SortedIterator final : public MemTableRep::Iterator {
 public:
  SortedIterator(const MemTableRep::KeyComparator& compare, std::vector<Sorted> entries)
      : compare_(compare), entries_(std::move(entries)), pos_(entries_.size()) {
    live_sorted_iterators.fetch_add(1, std::memory_order_relaxed);
  }
  ~SortedIterator() override { live_sorted_iterators.fetch_sub(1, std::memory_order_relaxed); }
  bool Valid() const override { return pos_ < entries_.size(); }
  const char* key() const override { return entries_[pos_].entry; }
  void Next() override { ++pos_; }
  void Prev() override { pos_ = pos_ == 0 ? entries_.size() : pos_ - 1; }
  void Seek(const Slice& internal_key, const char*) override { pos_ = FirstAfter(internal_key, /*or_equal=*/false); }
  void SeekForPrev(const Slice& internal_key, const char*) override {
    const size_t after = FirstAfter(internal_key, /*or_equal=*/true);
    pos_ = after == 0 ? entries_.size() : after - 1;
  }
  void SeekToFirst() override { pos_ = 0; }
  void SeekToLast() override { pos_ = entries_.empty() ? 0 : entries_.size() - 1; }

 private:
  // The index of the first entry > internal_key (or_equal: also skipping
  // entries equal to it), else >=.
  size_t FirstAfter(const Slice& internal_key, bool or_equal) const {
    const auto it = std::partition_point(entries_.begin(), entries_.end(), [&](const Sorted& sorted) {
      const int c = compare_(sorted.entry, internal_key);
      return or_equal ? c <= 0 : c < 0;
    });
    return static_cast<size_t>(it - entries_.begin());
  }

  const MemTableRep::KeyComparator& compare_;
  const std::vector<Sorted> entries_;
  size_t pos_;
};

// Set while this thread is inside IdMemTableRep::Get: RocksDB's default Get
// then receives the lookup iterator below (which it does not delete).
thread_local const IdMemTableRep* tls_getting = nullptr;
thread_local LookupIterator tls_lookup;

class IdMemTableRep final : public MemTableRep {
 public:
  IdMemTableRep(const KeyComparator& compare, rocksdb::Allocator* allocator, size_t bucket_count)
      : MemTableRep(allocator),
        compare_(compare),
        mask_(bucket_count - 1),
        buckets_(new std::atomic<Node*>[bucket_count]) {
    for (size_t i = 0; i < bucket_count; ++i) buckets_[i].store(nullptr, std::memory_order_relaxed);
  }

  // The node, then the entry, from the memtable's allocator (whose blocks are
  // not aligned: the node is placed at the first aligned byte).
  KeyHandle Allocate(const size_t len, char** buf) override {
    size_t space = alignof(Node) - 1 + sizeof(Node) + len;
    char* raw = nullptr;
    MemTableRep::Allocate(space, &raw);
    void* aligned = raw;
    std::align(alignof(Node), sizeof(Node) + len, aligned, space);
    Node* node = new (aligned) Node();
    *buf = const_cast<char*>(node->entry());
    return node;
  }

  // One writer at a time (RocksDB's contract without concurrent inserts);
  // readers see the node once the release store links it.
  void Insert(KeyHandle handle) override {
    Node* node = static_cast<Node*>(handle);
    std::atomic<Node*>* link = &Bucket(MemTableRep::UserKey(node->entry()));
    Node* next = link->load(std::memory_order_relaxed);
    while (next != nullptr && compare_(next->entry(), node->entry()) < 0) {
      link = &next->next;
      next = link->load(std::memory_order_relaxed);
    }
    node->next.store(next, std::memory_order_relaxed);
    link->store(node, std::memory_order_release);
    entries_.store(entries_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);  // one writer
  }

  bool Contains(const char* key) const override {
    const Node* node = Bucket(MemTableRep::UserKey(key)).load(std::memory_order_acquire);
    while (node != nullptr && compare_(node->entry(), key) < 0) node = node->next.load(std::memory_order_acquire);
    return node != nullptr && compare_(node->entry(), key) == 0;
  }

  void Get(const rocksdb::LookupKey& k, void* callback_args,
           bool (*callback_func)(void* arg, const char* entry)) override {
    struct Getting {
      explicit Getting(const IdMemTableRep* rep) { tls_getting = rep; }
      ~Getting() { tls_getting = nullptr; }
    } getting(this);
    MemTableRep::Get(k, callback_args, callback_func);
  }

  size_t ApproximateMemoryUsage() override { return (mask_ + 1) * sizeof(std::atomic<Node*>); }

  Iterator* GetIterator(rocksdb::Arena* arena) override {
    std::vector<Sorted> entries = SortedEntries();
    if (arena == nullptr) return new SortedIterator(compare_, std::move(entries));
    // The caller destroys an iterator made "in the arena" without freeing its
    // memory. RocksDB's Arena is not in its public headers, and the memtable's
    // own allocator must not grow once the memtable is immutable (RocksDB
    // asserts that its memory usage stays as counted): the storage is kept
    // here and freed with the memtable, which outlives its iterators.
    std::lock_guard<std::mutex> lock(iterator_storage_mu_);
    iterator_storage_.push_back(std::make_unique<IteratorStorage>());
    return new (iterator_storage_.back()->bytes) SortedIterator(compare_, std::move(entries));
  }

  Iterator* GetDynamicPrefixIterator(rocksdb::Arena* arena) override {
    if (arena == nullptr && tls_getting == this) {
      tls_lookup.Reset(this);
      return &tls_lookup;
    }
    return GetIterator(arena);
  }

  // The first entry >= internal_key in its bucket, or null.
  const Node* SeekInBucket(const Slice& internal_key) const {
    const Node* node = Bucket(UserKeyOfInternal(internal_key)).load(std::memory_order_acquire);
    while (node != nullptr && compare_(node->entry(), internal_key) < 0) {
      node = node->next.load(std::memory_order_acquire);
    }
    return node;
  }

 private:
  std::atomic<Node*>& Bucket(const Slice& user_key) const {
    return buckets_[std::hash<std::string_view>()(std::string_view(user_key.data(), user_key.size())) & mask_];
  }

  // Every entry, in internal-key order.
  std::vector<Sorted> SortedEntries() const {
    std::vector<Sorted> sorted;
    sorted.reserve(entries_.load(std::memory_order_relaxed));
    for (size_t i = 0; i <= mask_; ++i) {
      for (const Node* node = buckets_[i].load(std::memory_order_acquire); node != nullptr;
           node = node->next.load(std::memory_order_acquire)) {
        sorted.push_back({OrderPrefix(MemTableRep::UserKey(node->entry())), node->entry()});
      }
    }
    std::sort(sorted.begin(), sorted.end(), [this](const Sorted& a, const Sorted& b) {
      if (a.prefix != b.prefix) return a.prefix < b.prefix;
      return compare_(a.entry, b.entry) < 0;
    });
    return sorted;
  }

  struct IteratorStorage {
    alignas(SortedIterator) unsigned char bytes[sizeof(SortedIterator)];
  };

  const KeyComparator& compare_;
  const size_t mask_;
  const std::unique_ptr<std::atomic<Node*>[]> buckets_;
  std::atomic<size_t> entries_{0};
  std::mutex iterator_storage_mu_;
  std::vector<std::unique_ptr<IteratorStorage>> iterator_storage_;
};

void LookupIterator::Seek(const Slice& internal_key, const char*) { node_ = rep_->SeekInBucket(internal_key); }

class IdMemTableFactory final : public rocksdb::MemTableRepFactory {
 public:
  explicit IdMemTableFactory(size_t bucket_count) : bucket_count_(absl::bit_ceil(bucket_count)) {}
  MemTableRep* CreateMemTableRep(const MemTableRep::KeyComparator& compare, rocksdb::Allocator* allocator,
                                 const rocksdb::SliceTransform*, rocksdb::Logger*) override {
    return new IdMemTableRep(compare, allocator, bucket_count_);
  }
  const char* Name() const override { return "KringIdMemTableFactory"; }

 private:
  const size_t bucket_count_;
};

}  // namespace

size_t IdMemTableLiveIterators() { return live_sorted_iterators.load(std::memory_order_relaxed); }

std::shared_ptr<rocksdb::MemTableRepFactory> NewIdMemTableFactory(size_t bucket_count) {
  return std::make_shared<IdMemTableFactory>(bucket_count);
}

}  // namespace kring::eventstore
