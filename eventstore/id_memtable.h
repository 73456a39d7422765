// A RocksDB memtable for keys that are only ever read whole (Get, MultiGet),
// never by range: the event-id index (column family `event_ids`), whose keys
// are random UUIDs.
//
// Inserts go into a hash table: a fixed array of buckets, each a list kept in
// internal-key order (user key ascending, sequence number descending), so an
// insert or a lookup costs a hash and about one key comparison. Order across
// buckets is only needed when the memtable is flushed (or iterated): the
// iterator then sorts a copy of the entry pointers, first by the first 8 bytes
// of the user key read as a big-endian number (no memory access beyond the
// entry, no comparator call), the rare ties by RocksDB's comparator.
//
// Why not RocksDB's own hashed memtables: both (hash skiplist, hash linked
// list) build a full skiplist of every entry when flushed, one random insert
// per entry, which took 40-45 % of a core at 100,000 events/s (issue 16);
// the hash skiplist also spends about 250 bytes per entry on a skiplist per
// bucket, so a 32 MiB memtable held only about 95,000 ids.
//
// Reads: MemTableRep has no public way to read the key of a LookupKey, so Get
// runs RocksDB's default Get, which asks GetDynamicPrefixIterator() for an
// iterator, seeks it to the key and never deletes it (RocksDB 7.8). During
// that call the iterator returned is a per-thread lookup iterator over one
// bucket (no allocation); every other caller gets the sorted iterator.
//
// Requires the column family's default (bytewise) comparator. Safe for one
// writer and any number of concurrent readers (RocksDB's contract for
// memtables without concurrent inserts).
#pragma once

#include <rocksdb/memtablerep.h>

#include <cstddef>
#include <memory>

namespace kring::eventstore {

// `bucket_count` is rounded up to a power of two; about one bucket per entry
// the memtable holds when full is right (an event-id memtable of 32 MiB holds
// about 290,000). The bucket array is allocated outside RocksDB's arena (8
// bytes per bucket) and counted in the memtable's memory usage.
std::shared_ptr<rocksdb::MemTableRepFactory> NewIdMemTableFactory(size_t bucket_count);

// Sorted iterators of these memtables not yet destroyed, in this process (for
// tests: a Get must not leave one behind).
size_t IdMemTableLiveIterators();

}  // namespace kring::eventstore
