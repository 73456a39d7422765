// AccessLog (security/access_log.h): sequences and timestamps, the hash chain
// across restarts, paging and the case filter of Read, tamper evidence,
// concurrent Record calls, and a failed sync under the fault-injecting file
// system.
#include "security/access_log.h"

#include <google/protobuf/util/message_differencer.h>
#include <gtest/gtest.h>
#include <rocksdb/db.h>

#include <algorithm>
#include <atomic>
#include <functional>
#include <set>
#include <thread>
#include <vector>

#include "common/bytes.h"
#include "common/errors.h"
#include "eventstore/chain.h"
#include "testing/fault_fs.h"
#include "testing/test_support.h"

namespace kring::security {
namespace {

using google::protobuf::util::MessageDifferencer;

const absl::Time kEpoch = absl::FromUnixSeconds(1'700'000'000);

v1::AccessLogEntry EntryAbout(const std::string& case_id, const std::string& purpose = "complaint 2024-017") {
  v1::AccessLogEntry e;
  e.set_identity("auditor-7");
  e.set_role(v1::ROLE_AUDITOR);
  e.set_rpc("AuditService.ReadCase");
  e.set_case_id(case_id);
  e.set_scope("as known at 2024-01-01T00:00:00Z");
  e.set_purpose(purpose);
  return e;
}

std::vector<uint64_t> Sequences(const v1::ReadAccessLogResponse& r) {
  std::vector<uint64_t> out;
  for (const auto& e : r.entries()) out.push_back(e.sequence());
  return out;
}

// The documented hash, computed independently of the implementation:
// SHA-256(prev_hash || entry serialized without prev_hash and hash).
std::string DocumentedHash(v1::AccessLogEntry e) {
  std::string input = e.prev_hash();
  e.clear_prev_hash();
  e.clear_hash();
  input += e.SerializeAsString();
  return eventstore::Sha256(input);
}

class AccessLogTest : public ::testing::Test {
 protected:
  // Each reading of the clock is 1.5 s after the previous one, so `at`
  // shows which reading an entry got, nanos included.
  absl::Time Tick(int64_t i) const { return kEpoch + absl::Milliseconds(1500 * i); }

  AccessLogOptions Options(bool sync = true) {
    AccessLogOptions o;
    o.path = dir_.Sub("access-log");
    o.sync = sync;
    o.clock = [this] { return Tick(ticks_.fetch_add(1)); };
    return o;
  }

  std::unique_ptr<AccessLog> OpenLog(bool sync = true) {
    auto log = AccessLog::Open(Options(sync));
    EXPECT_TRUE(log.ok()) << log.status();
    return log.ok() ? std::move(*log) : nullptr;
  }

  void RecordN(AccessLog& log, int n, const std::string& case_id = "case-1") {
    for (int i = 0; i < n; ++i) ASSERT_TRUE(log.Record(EntryAbout(case_id)).ok());
  }

  v1::ReadAccessLogResponse ReadOrDie(const AccessLog& log, uint64_t from, uint32_t limit,
                                      const std::string& case_id = "") {
    v1::ReadAccessLogRequest req;
    req.set_from_sequence(from);
    req.set_limit(limit);
    req.set_case_id(case_id);
    auto r = log.Read(req);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : v1::ReadAccessLogResponse();
  }

  // Opens the closed log's RocksDB folder directly, as someone with access
  // to the disk could, and hands it to `change`.
  void TamperWith(const std::function<void(rocksdb::DB*)>& change) {
    rocksdb::Options options;
    rocksdb::DB* raw = nullptr;
    rocksdb::Status s = rocksdb::DB::Open(options, dir_.Sub("access-log"), &raw);
    ASSERT_TRUE(s.ok()) << s.ToString();
    std::unique_ptr<rocksdb::DB> db(raw);
    change(db.get());
    ASSERT_TRUE(db->Close().ok());
  }

  static v1::AccessLogEntry GetRaw(rocksdb::DB* db, uint64_t sequence) {
    std::string value;
    EXPECT_TRUE(db->Get(rocksdb::ReadOptions(), BigEndian64(sequence), &value).ok());
    v1::AccessLogEntry e;
    EXPECT_TRUE(e.ParseFromString(value));
    return e;
  }

  static void PutRaw(rocksdb::DB* db, const v1::AccessLogEntry& e) {
    ASSERT_TRUE(db->Put(rocksdb::WriteOptions(), BigEndian64(e.sequence()), e.SerializeAsString()).ok());
  }

  kring::testing::TempDir dir_;
  std::atomic<int64_t> ticks_{0};
};

// On the fault-injecting file system (AccessLogOptions::env): an entry whose
// sync fails is not acknowledged, uses up no sequence, and a crash right
// after keeps every acknowledged entry and the chain.
TEST_F(AccessLogTest, AFailedSyncIsRefusedUsesNoSequenceAndACrashKeepsWhatWasAcknowledged) {
  kring::testing::FaultFs fs;
  std::unique_ptr<rocksdb::Env> env = fs.NewEnv();
  AccessLogOptions options = Options();
  options.env = env.get();
  {
    auto log = AccessLog::Open(options);
    ASSERT_TRUE(log.ok()) << log.status();
    RecordN(**log, 2);
    fs.FailOn(kring::testing::FaultFs::Op::kSync, ".log", kring::testing::FaultFs::Error::kIoError, 0, 1);
    auto refused = (*log)->Record(EntryAbout("case-1"));
    EXPECT_FALSE(refused.ok());
    EXPECT_EQ(fs.faults_injected(), 1);
    EXPECT_EQ((*log)->size(), 2u) << "a failed write uses up no sequence";
    fs.Deactivate();
  }
  fs.DropUnsyncedData();
  fs.Reactivate();
  auto log = AccessLog::Open(options);
  ASSERT_TRUE(log.ok()) << log.status();
  EXPECT_EQ((*log)->size(), 2u) << "the refused entry was never acknowledged and is gone";
  EXPECT_TRUE((*log)->Verify().ok());
  EXPECT_EQ(Sequences(ReadOrDie(**log, 1, 10)).front(), 1u);
}

TEST_F(AccessLogTest, OpenRequiresAPath) {
  auto log = AccessLog::Open(AccessLogOptions());
  ASSERT_FALSE(log.ok());
  EXPECT_EQ(log.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(AccessLogTest, EmptyLogHasNoEntriesAndVerifies) {
  auto log = OpenLog();
  EXPECT_EQ(log->size(), 0u);
  EXPECT_TRUE(log->Verify().ok());
  auto r = ReadOrDie(*log, 0, 0);
  EXPECT_EQ(r.entries_size(), 0);
  EXPECT_EQ(r.next_sequence(), 1u);
  EXPECT_TRUE(r.chain_ok());
}

TEST_F(AccessLogTest, AssignsGaplessSequencesAndTimestampsFromTheClock) {
  auto log = OpenLog();
  for (uint64_t i = 1; i <= 3; ++i) {
    auto e = log->Record(EntryAbout("case-1"));
    ASSERT_TRUE(e.ok()) << e.status();
    EXPECT_EQ(e->sequence(), i);
    const absl::Time want = Tick(static_cast<int64_t>(i - 1));
    EXPECT_EQ(e->at().seconds(), absl::ToUnixSeconds(want));
    EXPECT_EQ(e->at().nanos(), i == 2 ? 500'000'000 : 0);  // 1.5 s after the first reading
  }
  EXPECT_EQ(log->size(), 3u);
}

TEST_F(AccessLogTest, KeepsTheGivenFieldsAndOverwritesTheChainFields) {
  auto log = OpenLog();
  v1::AccessLogEntry given = EntryAbout("case-42", "audit reference AR-9");
  given.set_role(v1::ROLE_OPERATOR);
  given.set_rpc("AuditService.ReadAll");
  given.set_scope("positions 1-500");
  // A caller cannot choose where its entry goes or what it links to.
  given.set_sequence(99);
  given.mutable_at()->set_seconds(5);
  given.set_prev_hash("forged");
  given.set_hash("forged");

  auto stored = log->Record(given);
  ASSERT_TRUE(stored.ok()) << stored.status();
  EXPECT_EQ(stored->sequence(), 1u);
  EXPECT_EQ(stored->at().seconds(), absl::ToUnixSeconds(kEpoch));
  EXPECT_EQ(stored->prev_hash(), "");
  EXPECT_EQ(stored->hash().size(), 32u);
  EXPECT_EQ(stored->identity(), "auditor-7");
  EXPECT_EQ(stored->role(), v1::ROLE_OPERATOR);
  EXPECT_EQ(stored->rpc(), "AuditService.ReadAll");
  EXPECT_EQ(stored->case_id(), "case-42");
  EXPECT_EQ(stored->scope(), "positions 1-500");
  EXPECT_EQ(stored->purpose(), "audit reference AR-9");

  auto r = ReadOrDie(*log, 0, 0);
  ASSERT_EQ(r.entries_size(), 1);
  EXPECT_TRUE(MessageDifferencer::Equals(r.entries(0), *stored)) << r.entries(0).DebugString();
}

TEST_F(AccessLogTest, EachHashCoversThePreviousHashAndTheEntry) {
  auto log = OpenLog();
  RecordN(*log, 3);
  auto r = ReadOrDie(*log, 0, 0);
  ASSERT_EQ(r.entries_size(), 3);
  EXPECT_EQ(r.entries(0).prev_hash(), "");  // the first entry links to nothing
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(r.entries(i).hash(), DocumentedHash(r.entries(i))) << "entry " << i + 1;
    if (i > 0) {
      EXPECT_EQ(r.entries(i).prev_hash(), r.entries(i - 1).hash()) << "entry " << i + 1;
    }
  }
  // Equal content at another place in the chain hashes differently.
  EXPECT_NE(r.entries(1).hash(), r.entries(2).hash());
}

TEST_F(AccessLogTest, ReopenContinuesTheSequenceAndTheChain) {
  std::string last_hash;
  {
    auto log = OpenLog();
    RecordN(*log, 2);
    last_hash = ReadOrDie(*log, 2, 1).entries(0).hash();
  }
  auto log = OpenLog();
  EXPECT_EQ(log->size(), 2u);
  auto e = log->Record(EntryAbout("case-2"));
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_EQ(e->sequence(), 3u);
  EXPECT_EQ(e->prev_hash(), last_hash);
  EXPECT_EQ(log->size(), 3u);
  EXPECT_TRUE(log->Verify().ok()) << log->Verify();
}

TEST_F(AccessLogTest, ReadPagesWithLimitAndFromSequence) {
  auto log = OpenLog(/*sync=*/false);
  RecordN(*log, 7);
  auto p1 = ReadOrDie(*log, 0, 3);
  EXPECT_EQ(Sequences(p1), (std::vector<uint64_t>{1, 2, 3}));
  EXPECT_EQ(p1.next_sequence(), 4u);
  EXPECT_EQ(Sequences(ReadOrDie(*log, 1, 3)), Sequences(p1));  // 0 and 1 both mean the start
  auto p2 = ReadOrDie(*log, p1.next_sequence(), 3);
  EXPECT_EQ(Sequences(p2), (std::vector<uint64_t>{4, 5, 6}));
  EXPECT_EQ(p2.next_sequence(), 7u);
  auto p3 = ReadOrDie(*log, p2.next_sequence(), 3);
  EXPECT_EQ(Sequences(p3), (std::vector<uint64_t>{7}));
  EXPECT_EQ(p3.next_sequence(), 8u);
  auto p4 = ReadOrDie(*log, p3.next_sequence(), 3);
  EXPECT_EQ(p4.entries_size(), 0);
  EXPECT_EQ(p4.next_sequence(), 8u);  // nothing looked at: ask again from here
  EXPECT_TRUE(p4.chain_ok());
}

TEST_F(AccessLogTest, ReadLimitZeroMeansAThousand) {
  auto log = OpenLog(/*sync=*/false);
  RecordN(*log, 1001);
  auto r = ReadOrDie(*log, 0, 0);
  EXPECT_EQ(r.entries_size(), 1000);
  EXPECT_EQ(r.entries(999).sequence(), 1000u);
  EXPECT_EQ(r.next_sequence(), 1001u);
  EXPECT_EQ(ReadOrDie(*log, 0, 10000).entries_size(), 1001);  // the maximum is allowed
}

TEST_F(AccessLogTest, ReadRefusesALimitAboveTenThousandNamingTheField) {
  auto log = OpenLog();
  v1::ReadAccessLogRequest req;
  req.set_limit(10001);
  auto r = log->Read(req);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(r.status().message().substr(0, 7), "limit: ") << r.status();
  auto details = r.status().GetPayload(kBadRequestTypeUrl);
  ASSERT_TRUE(details.has_value());
  google::rpc::BadRequest bad;
  ASSERT_TRUE(bad.ParseFromString(std::string(*details)));
  ASSERT_EQ(bad.field_violations_size(), 1);
  EXPECT_EQ(bad.field_violations(0).field(), "limit");
}

TEST_F(AccessLogTest, ReadFiltersByCaseAndPagesPastSkippedEntries) {
  auto log = OpenLog(/*sync=*/false);
  for (const char* c : {"A", "B", "A", "B", "B", "A", "B"}) RecordN(*log, 1, c);  // A at 1, 3, 6
  auto p1 = ReadOrDie(*log, 0, 2, "A");
  EXPECT_EQ(Sequences(p1), (std::vector<uint64_t>{1, 3}));
  EXPECT_EQ(p1.next_sequence(), 4u);
  auto p2 = ReadOrDie(*log, p1.next_sequence(), 2, "A");
  EXPECT_EQ(Sequences(p2), (std::vector<uint64_t>{6}));
  EXPECT_EQ(p2.next_sequence(), 8u);  // entry 7 (case B) was looked at too
  for (const auto& e : p2.entries()) EXPECT_EQ(e.case_id(), "A");
  EXPECT_EQ(ReadOrDie(*log, p2.next_sequence(), 2, "A").entries_size(), 0);
  EXPECT_EQ(ReadOrDie(*log, 0, 0, "C").entries_size(), 0);
  EXPECT_EQ(ReadOrDie(*log, 0, 0, "C").next_sequence(), 8u);
}

TEST_F(AccessLogTest, VerifyAcceptsAGoodLogAndReadSaysSo) {
  auto log = OpenLog(/*sync=*/false);
  RecordN(*log, 20);
  EXPECT_TRUE(log->Verify().ok()) << log->Verify();
  auto r = ReadOrDie(*log, 0, 5);
  EXPECT_TRUE(r.chain_ok());
  EXPECT_EQ(r.chain_reason(), "");
}

TEST_F(AccessLogTest, ChangedPurposeFailsVerifyAtThatEntry) {
  {
    auto log = OpenLog();
    RecordN(*log, 5);
  }
  TamperWith([](rocksdb::DB* db) {
    v1::AccessLogEntry e = GetRaw(db, 3);
    e.set_purpose("nothing to see here");
    PutRaw(db, e);
  });
  auto log = OpenLog();
  absl::Status v = log->Verify();
  EXPECT_EQ(v.code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(v.message(), "access log: entry 3: the hash does not match the entry: it was changed after it was written");
  auto r = ReadOrDie(*log, 0, 0);
  EXPECT_EQ(r.entries_size(), 5);  // an auditor still sees the log, with the verdict beside it
  EXPECT_FALSE(r.chain_ok());
  EXPECT_EQ(r.chain_reason(), std::string(v.message()));
}

TEST_F(AccessLogTest, ChangedEntryWithARecomputedHashFailsAtTheNextEntry) {
  {
    auto log = OpenLog();
    RecordN(*log, 5);
  }
  TamperWith([](rocksdb::DB* db) {
    v1::AccessLogEntry e = GetRaw(db, 3);
    e.set_purpose("nothing to see here");
    e.set_hash(DocumentedHash(e));
    PutRaw(db, e);
  });
  auto log = OpenLog();
  absl::Status v = log->Verify();
  EXPECT_EQ(v.code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(v.message(), "access log: entry 4: prev_hash is not the hash of entry 3");
  EXPECT_FALSE(ReadOrDie(*log, 0, 0).chain_ok());
}

TEST_F(AccessLogTest, DeletedEntryFailsVerifyAtThatEntry) {
  {
    auto log = OpenLog();
    RecordN(*log, 5);
  }
  TamperWith([](rocksdb::DB* db) { ASSERT_TRUE(db->Delete(rocksdb::WriteOptions(), BigEndian64(3)).ok()); });
  auto log = OpenLog();
  absl::Status v = log->Verify();
  EXPECT_EQ(v.code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(v.message(), "access log: entry 3: missing (the next stored entry is 4)");
  auto r = ReadOrDie(*log, 0, 0);
  EXPECT_EQ(Sequences(r), (std::vector<uint64_t>{1, 2, 4, 5}));
  EXPECT_FALSE(r.chain_ok());
  EXPECT_EQ(r.chain_reason(), std::string(v.message()));
}

TEST_F(AccessLogTest, ConcurrentRecordsAreGaplessAndChained) {
  constexpr int kThreads = 4;
  constexpr int kPerThread = 200;
  auto log = OpenLog(/*sync=*/false);  // durability is not what this test is about
  std::vector<std::vector<uint64_t>> got(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        auto e = log->Record(EntryAbout("case-" + std::to_string(t)));
        if (e.ok()) got[t].push_back(e->sequence());
      }
    });
  }
  for (auto& th : threads) th.join();

  std::set<uint64_t> all;
  for (const auto& g : got) {
    EXPECT_EQ(g.size(), static_cast<size_t>(kPerThread));
    EXPECT_TRUE(std::is_sorted(g.begin(), g.end()));  // one thread's entries in its own order
    all.insert(g.begin(), g.end());
  }
  ASSERT_EQ(all.size(), static_cast<size_t>(kThreads * kPerThread));  // no sequence handed out twice
  EXPECT_EQ(*all.begin(), 1u);
  EXPECT_EQ(*all.rbegin(), static_cast<uint64_t>(kThreads * kPerThread));
  EXPECT_EQ(log->size(), static_cast<uint64_t>(kThreads * kPerThread));
  EXPECT_TRUE(log->Verify().ok()) << log->Verify();
  auto r = ReadOrDie(*log, 0, 1000);
  EXPECT_EQ(r.entries_size(), kThreads * kPerThread);
  EXPECT_TRUE(r.chain_ok());
}

}  // namespace
}  // namespace kring::security
