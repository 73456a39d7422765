// The hash chain: every stored event links to its predecessor in the log and
// in its case; verification finds exactly where stored bytes were changed,
// deleted or swapped behind the store's back.
#include "eventstore/chain.h"

#include <gtest/gtest.h>
#include <rocksdb/db.h>

#include "common/bytes.h"
#include "eventstore/event_store.h"
#include "tests/testing/test_support.h"

namespace kring::eventstore {
namespace {

using kring::testing::Batch;
using kring::testing::MoreEvents;
using kring::testing::SomeEvents;

class ChainTest : public ::testing::Test {
 protected:
  std::unique_ptr<EventStore> OpenStore() {
    EventStoreOptions options;
    options.path = dir_.Sub("store");
    auto store = EventStore::Open(options);
    EXPECT_TRUE(store.ok()) << store.status();
    return store.ok() ? std::move(store).value() : nullptr;
  }

  // 30 events: three cases, interleaved batches.
  void AppendLog() {
    auto store = OpenStore();
    for (const char* c : {"case-a", "case-b", "case-c"}) ASSERT_TRUE(store->Append(Batch(c, SomeEvents(4))).ok());
    for (int round = 0; round < 3; ++round) {
      for (const char* c : {"case-a", "case-b", "case-c"}) {
        ASSERT_TRUE(store->Append(Batch(c, MoreEvents(2))).ok());
      }
    }
  }

  // Changes the raw `events` column family with the store closed.
  void EditRaw(const std::function<void(rocksdb::DB*, rocksdb::ColumnFamilyHandle*)>& edit) {
    std::vector<std::string> names;
    ASSERT_TRUE(rocksdb::DB::ListColumnFamilies(rocksdb::DBOptions(), dir_.Sub("store"), &names).ok());
    std::vector<rocksdb::ColumnFamilyDescriptor> cfs;
    for (const auto& n : names) cfs.emplace_back(n, rocksdb::ColumnFamilyOptions());
    std::vector<rocksdb::ColumnFamilyHandle*> handles;
    rocksdb::DB* db = nullptr;
    ASSERT_TRUE(rocksdb::DB::Open(rocksdb::DBOptions(), dir_.Sub("store"), cfs, &handles, &db).ok());
    for (size_t i = 0; i < names.size(); ++i) {
      if (names[i] == "events") edit(db, handles[i]);
    }
    for (auto* h : handles) db->DestroyColumnFamilyHandle(h);
    delete db;
  }

  static std::string Get(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* cf, uint64_t position) {
    std::string value;
    EXPECT_TRUE(db->Get(rocksdb::ReadOptions(), cf, BigEndian64(position), &value).ok());
    return value;
  }

  testing::TempDir dir_;
};

TEST_F(ChainTest, EveryEventLinksToItsPredecessorsAndTheWholeLogVerifies) {
  AppendLog();
  auto store = OpenStore();
  auto all = store->ReadAll(GlobalPosition(1), SIZE_MAX).value();
  ASSERT_EQ(all.size(), 30u);
  std::map<std::string, std::string> case_tip;
  for (size_t i = 0; i < all.size(); ++i) {
    const auto& e = all[i];
    EXPECT_EQ(e.hash().size(), kHashBytes);
    EXPECT_EQ(e.prev_hash(), i == 0 ? "" : all[i - 1].hash()) << i;
    EXPECT_EQ(e.case_prev_hash(), case_tip[e.case_id()]) << i;
    case_tip[e.case_id()] = e.hash();
  }
  auto whole = store->VerifyChain(GlobalPosition(1), GlobalPosition(UINT64_MAX));
  ASSERT_TRUE(whole.ok()) << whole.status();
  EXPECT_TRUE(whole->ok) << whole->reason;
  EXPECT_EQ(whole->events_verified, 30u);
  EXPECT_EQ(whole->last_position.value(), 30u);
  EXPECT_EQ(whole->head_hash, all.back().hash());

  auto middle = store->VerifyChain(GlobalPosition(11), GlobalPosition(20));
  EXPECT_TRUE(middle->ok) << middle->reason;
  EXPECT_EQ(middle->events_verified, 10u);
  EXPECT_EQ(middle->head_hash, all[19].hash());

  auto one_case = store->VerifyCase(CaseId("case-b"));
  EXPECT_TRUE(one_case->ok) << one_case->reason;
  EXPECT_EQ(one_case->events_verified, 10u);
  EXPECT_EQ(one_case->head_hash, case_tip["case-b"]);

  // The chain continues across a restart.
  store.reset();
  store = OpenStore();
  ASSERT_TRUE(store->Append(Batch("case-a", MoreEvents(3))).ok());
  auto after = store->VerifyChain(GlobalPosition(1), GlobalPosition(UINT64_MAX));
  EXPECT_TRUE(after->ok) << after->reason;
  EXPECT_EQ(after->events_verified, 33u);
  EXPECT_TRUE(store->VerifyCase(CaseId("case-a"))->ok);
}

TEST_F(ChainTest, OneChangedByteIsReportedAtExactlyItsPosition) {
  AppendLog();
  EditRaw([](rocksdb::DB* db, rocksdb::ColumnFamilyHandle* cf) {
    std::string value = Get(db, cf, 17);
    value[value.size() / 2] ^= 0x01;
    ASSERT_TRUE(db->Put(rocksdb::WriteOptions(), cf, BigEndian64(17), value).ok());
  });
  auto store = OpenStore();
  auto r = store->VerifyChain(GlobalPosition(1), GlobalPosition(UINT64_MAX));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_FALSE(r->ok);
  EXPECT_EQ(r->first_bad_position.value(), 17u);
  EXPECT_NE(r->reason.find("do not match their hash"), std::string::npos) << r->reason;
  EXPECT_EQ(r->events_verified, 16u);
  EXPECT_EQ(r->last_position.value(), 16u);

  // A range that ends before the damage verifies; the case's own chain
  // stops at the same position.
  EXPECT_TRUE(store->VerifyChain(GlobalPosition(1), GlobalPosition(16))->ok);
  auto by_case = store->VerifyCase(CaseId("case-c"));  // positions 9-12, 17-18, 23-24, 29-30
  EXPECT_FALSE(by_case->ok);
  EXPECT_EQ(by_case->first_bad_position.value(), 17u);
}

TEST_F(ChainTest, ARewrittenEventWithAFreshHashBreaksTheLinkAfterIt) {
  AppendLog();
  // An attacker who recomputes the record's own hash still breaks the next
  // record's prev_hash.
  EditRaw([](rocksdb::DB* db, rocksdb::ColumnFamilyHandle* cf) {
    v1::RecordedEvent e;
    ASSERT_TRUE(e.ParseFromString(Get(db, cf, 12)));
    e.set_source("someone-else");
    e.clear_hash();
    std::string body = e.SerializeAsString();
    // Re-seal: drop the links serialized above and append them in chain order.
    const std::string prev = e.prev_hash(), case_prev = e.case_prev_hash();
    e.clear_prev_hash();
    e.clear_case_prev_hash();
    body = e.SerializeAsString();
    SealRecord(&body, prev, case_prev);
    ASSERT_TRUE(db->Put(rocksdb::WriteOptions(), cf, BigEndian64(12), body).ok());
  });
  auto store = OpenStore();
  auto r = store->VerifyChain(GlobalPosition(1), GlobalPosition(UINT64_MAX));
  EXPECT_FALSE(r->ok);
  EXPECT_EQ(r->first_bad_position.value(), 13u);
  EXPECT_NE(r->reason.find("prev_hash"), std::string::npos) << r->reason;
}

TEST_F(ChainTest, ADeletedEventIsReportedAtItsPosition) {
  AppendLog();
  EditRaw([](rocksdb::DB* db, rocksdb::ColumnFamilyHandle* cf) {
    ASSERT_TRUE(db->Delete(rocksdb::WriteOptions(), cf, BigEndian64(9)).ok());
  });
  auto store = OpenStore();
  auto r = store->VerifyChain(GlobalPosition(1), GlobalPosition(UINT64_MAX));
  EXPECT_FALSE(r->ok);
  EXPECT_EQ(r->first_bad_position.value(), 9u);
  EXPECT_NE(r->reason.find("missing"), std::string::npos) << r->reason;
  EXPECT_EQ(r->events_verified, 8u);
}

TEST_F(ChainTest, ASwappedPairIsReportedAtTheFirstOfThem) {
  AppendLog();
  EditRaw([](rocksdb::DB* db, rocksdb::ColumnFamilyHandle* cf) {
    const std::string a = Get(db, cf, 21), b = Get(db, cf, 22);
    ASSERT_TRUE(db->Put(rocksdb::WriteOptions(), cf, BigEndian64(21), b).ok());
    ASSERT_TRUE(db->Put(rocksdb::WriteOptions(), cf, BigEndian64(22), a).ok());
  });
  auto store = OpenStore();
  auto r = store->VerifyChain(GlobalPosition(1), GlobalPosition(UINT64_MAX));
  EXPECT_FALSE(r->ok);
  EXPECT_EQ(r->first_bad_position.value(), 21u);
  EXPECT_NE(r->reason.find("swapped"), std::string::npos) << r->reason;
}

TEST_F(ChainTest, ACheckpointTakenUnderLoadHoldsAVerifiedPrefix) {
  auto store = OpenStore();
  std::atomic<bool> stop{false};
  std::thread writer([&] {
    for (int i = 0; !stop.load(); ++i) {
      const std::string c = "load-" + std::to_string(i);
      ASSERT_TRUE(store->Append(Batch(c, SomeEvents(5))).ok());
    }
  });
  while (store->Head().value() < 2000) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  auto head = store->Checkpoint(dir_.Sub("backup"));
  stop = true;
  writer.join();
  ASSERT_TRUE(head.ok()) << head.status();
  EXPECT_GE(head->value(), 2000u);

  EventStoreOptions options;
  options.path = dir_.Sub("backup");
  auto copy = std::move(EventStore::Open(options)).value();
  EXPECT_EQ(copy->Head(), *head);
  auto verified = copy->VerifyChain(GlobalPosition(1), GlobalPosition(UINT64_MAX));
  EXPECT_TRUE(verified->ok) << verified->reason;
  EXPECT_EQ(verified->events_verified, head->value());
  auto original = store->VerifyChain(GlobalPosition(1), *head);
  EXPECT_EQ(verified->head_hash, original->head_hash);
  EXPECT_FALSE(store->Checkpoint(dir_.Sub("backup")).ok()) << "an existing destination is refused";
}

}  // namespace
}  // namespace kring::eventstore
