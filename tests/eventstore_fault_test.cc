// The event store's failure paths, driven by a fault-injecting file system
// (tests/testing/fault_fs.h) and by the writer's test hooks: a full disk, a
// failed write or sync, a crash that loses unsynced bytes, a retry staged with
// its original in a failing group, and the order of acknowledgements.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <future>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "absl/cleanup/cleanup.h"
#include "eventstore/event_store.h"
#include "tests/testing/fault_fs.h"
#include "tests/testing/test_support.h"

namespace kring::eventstore {
namespace {

using kring::testing::Batch;
using kring::testing::FaultFs;
using kring::testing::MoreEvents;
using kring::testing::SomeEvents;
using kring::testing::TempDir;
using Op = FaultFs::Op;

constexpr auto kDeadline = std::chrono::seconds(60);

// A FaultFs whose file system reports the free space the test sets (the
// store's free-space check asks the Env), so a full disk can be shown to the
// guard without filling one.
class FreeSpaceFs : public FaultFs {
 public:
  void SetFreeBytes(uint64_t bytes) { free_.store(bytes); }
  rocksdb::IOStatus GetFreeSpace(const std::string&, const rocksdb::IOOptions&, uint64_t* free,
                                 rocksdb::IODebugContext*) override {
    *free = free_.load();
    return rocksdb::IOStatus::OK();
  }

 private:
  std::atomic<uint64_t> free_{uint64_t{1} << 40};
};

// Records every write-health change the store reports and waits for one.
class HealthLog {
 public:
  void Record(const WriteHealth& h) {
    std::lock_guard<std::mutex> lock(mu_);
    states_.push_back(h.state);
    cv_.notify_all();
  }
  // Waits (bounded) until the latest state is `state`.
  bool WaitFor(WriteHealth::State state) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, kDeadline, [&] { return !states_.empty() && states_.back() == state; });
  }
  bool Saw(WriteHealth::State state) {
    std::lock_guard<std::mutex> lock(mu_);
    return std::find(states_.begin(), states_.end(), state) != states_.end();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<WriteHealth::State> states_;
};

// A latch for the writer hooks: Wait blocks until Open.
class Gate {
 public:
  void Open() {
    std::lock_guard<std::mutex> lock(mu_);
    open_ = true;
    cv_.notify_all();
  }
  bool Wait() {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, kDeadline, [&] { return open_; });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool open_ = false;
};

class EventStoreFaultTest : public ::testing::Test {
 protected:
  EventStoreOptions Options() {
    EventStoreOptions options;
    options.path = dir_.Sub("store");
    options.env = env_.get();
    // The free-space guard has a test of its own; here the file system's
    // faults reach RocksDB.
    options.min_free_bytes = 0;
    options.recovery_interval = std::chrono::milliseconds(20);
    return options;
  }
  std::unique_ptr<EventStore> Open(EventStoreOptions options) {
    auto store = EventStore::Open(std::move(options));
    EXPECT_TRUE(store.ok()) << store.status();
    return store.ok() ? std::move(store).value() : nullptr;
  }
  // Appends a new case of `n` events; on success records its ids.
  absl::StatusOr<AppendOutcome> AppendNewCase(EventStore& store, size_t n = 3) {
    auto events = SomeEvents(n);
    auto r = store.Append(Batch("case-" + std::to_string(next_case_++), events));
    if (r.ok()) {
      for (const auto& e : events) acknowledged_.insert(e.event_id());
    }
    return r;
  }
  // Every acknowledged event is stored exactly once, positions are gapless
  // and the chain verifies.
  void ExpectAcknowledgedStored(const EventStore& store) {
    auto all = store.ReadAll(GlobalPosition(1), SIZE_MAX);
    ASSERT_TRUE(all.ok()) << all.status();
    std::map<std::string, int> stored;
    for (size_t i = 0; i < all->size(); ++i) {
      EXPECT_EQ((*all)[i].global_position(), i + 1);
      stored[(*all)[i].event().event_id()]++;
    }
    for (const auto& [id, n] : stored) EXPECT_EQ(n, 1) << "stored twice: " << id;
    for (const auto& id : acknowledged_) EXPECT_EQ(stored.count(id), 1u) << "acknowledged event lost: " << id;
    auto verified = store.VerifyChain(GlobalPosition(1), GlobalPosition(UINT64_MAX));
    ASSERT_TRUE(verified.ok()) << verified.status();
    EXPECT_TRUE(verified->ok) << verified->reason;
  }

  TempDir dir_;
  FreeSpaceFs fs_;
  std::unique_ptr<rocksdb::Env> env_ = fs_.NewEnv();
  std::set<std::string> acknowledged_;
  int next_case_ = 0;
};

// A crash that loses every byte not synced (FaultFs::DropUnsyncedData after
// Deactivate) keeps every acknowledged event: an acknowledgement waits for
// the sync. With EventStoreOptions::sync = false this test fails.
TEST_F(EventStoreFaultTest, AcknowledgedEventsSurviveACrashThatDropsUnsyncedBytes) {
  {
    auto store = Open(Options());
    ASSERT_NE(store, nullptr);
    for (int i = 0; i < 40; ++i) ASSERT_TRUE(AppendNewCase(*store, 1 + i % 4).ok());
    fs_.Deactivate();  // the process dies: nothing more reaches the disk
    store->Close();
  }
  fs_.DropUnsyncedData();
  fs_.Reactivate();
  auto store = Open(Options());
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(store->Head().value(), 100u);  // 40 batches of 1..4 events
  ExpectAcknowledgedStored(*store);
}

// A full disk met by a write: the group fails with RESOURCE_EXHAUSTED saying
// so, health says disk full, later appends are refused the same way while
// reads keep working, and once space is freed appends resume by themselves,
// with nothing acknowledged lost.
TEST_F(EventStoreFaultTest, FullDiskRefusesAppendsKeepsReadsAndResumesOnceSpaceIsFreed) {
  auto store = Open(Options());
  ASSERT_NE(store, nullptr);
  HealthLog health;
  store->WatchWriteHealth([&](const WriteHealth& h) { health.Record(h); });
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(AppendNewCase(*store).ok());
  const uint64_t head = store->Head().value();

  fs_.SetWriteBudget(0);
  auto failed = AppendNewCase(*store);
  ASSERT_EQ(failed.status().code(), absl::StatusCode::kResourceExhausted) << failed.status();
  EXPECT_NE(failed.status().message().find("disk full"), std::string::npos) << failed.status();
  EXPECT_EQ(store->write_health().state, WriteHealth::State::kDiskFull);
  EXPECT_NE(store->write_health().reason.find("space"), std::string::npos) << store->write_health().reason;
  for (int i = 0; i < 3; ++i) {
    auto refused = AppendNewCase(*store);
    EXPECT_EQ(refused.status().code(), absl::StatusCode::kResourceExhausted) << refused.status();
    EXPECT_NE(refused.status().message().find("disk full"), std::string::npos) << refused.status();
  }
  EXPECT_EQ(store->write_health().state, WriteHealth::State::kDiskFull);

  // Reads work while appends are refused.
  auto events = store->ReadCase(CaseId("case-0"), StreamVersion(1));
  ASSERT_TRUE(events.ok()) << events.status();
  EXPECT_EQ(events->size(), 3u);
  auto all = store->ReadAll(GlobalPosition(1), SIZE_MAX);
  ASSERT_TRUE(all.ok()) << all.status();
  EXPECT_EQ(all->size(), head);
  auto verified = store->VerifyChain(GlobalPosition(1), GlobalPosition(head));
  ASSERT_TRUE(verified.ok()) << verified.status();
  EXPECT_TRUE(verified->ok) << verified->reason;

  fs_.SetWriteBudget(-1);  // space freed
  ASSERT_TRUE(health.WaitFor(WriteHealth::State::kOk));
  for (int i = 0; i < 5; ++i) {
    auto r = AppendNewCase(*store);
    ASSERT_TRUE(r.ok()) << r.status();
  }
  ExpectAcknowledgedStored(*store);
  store->Close();
  // And after a restart.
  auto reopened = Open(Options());
  ASSERT_NE(reopened, nullptr);
  ExpectAcknowledgedStored(*reopened);
}

// One failed group write (of the WAL, or its sync) fails that group's
// requests with UNAVAILABLE, health says so, and the store recovers without a
// restart: it does not stay wedged. The failed batch, retried unchanged, is
// stored exactly once (its write may have reached the WAL before the sync
// failed).
class FailedWriteTest : public EventStoreFaultTest, public ::testing::WithParamInterface<Op> {};

TEST_P(FailedWriteTest, FailedGroupWriteFailsTheGroupAndTheStoreRecoversWithoutRestart) {
  auto store = Open(Options());
  ASSERT_NE(store, nullptr);
  HealthLog health;
  store->WatchWriteHealth([&](const WriteHealth& h) { health.Record(h); });
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(AppendNewCase(*store).ok());

  fs_.FailOn(GetParam(), ".log", FaultFs::Error::kIoError, 0, 1);
  const auto events = SomeEvents(2);
  auto failed = store->Append(Batch("case-failed", events));
  ASSERT_EQ(failed.status().code(), absl::StatusCode::kUnavailable) << failed.status();
  EXPECT_NE(failed.status().message().find("retry it unchanged"), std::string::npos) << failed.status();
  EXPECT_EQ(fs_.faults_injected(), 1);
  EXPECT_TRUE(health.Saw(WriteHealth::State::kWriteFailed));

  ASSERT_TRUE(health.WaitFor(WriteHealth::State::kOk));
  for (int i = 0; i < 5; ++i) {
    auto r = AppendNewCase(*store);
    ASSERT_TRUE(r.ok()) << r.status();
  }
  auto retried = store->Append(Batch("case-failed", events));
  ASSERT_TRUE(retried.ok()) << retried.status();
  for (const auto& e : events) acknowledged_.insert(e.event_id());
  ExpectAcknowledgedStored(*store);
}

INSTANTIATE_TEST_SUITE_P(WalWriteAndSync, FailedWriteTest, ::testing::Values(Op::kWrite, Op::kSync),
                         [](const auto& info) { return info.param == Op::kWrite ? "Write" : "Sync"; });

// A retry staged in the same group as its original is answered from the
// group's id map; when that group's write fails, the retry fails too: no
// acknowledgement without the write that makes it durable.
TEST_F(EventStoreFaultTest, RetryStagedWithItsOriginalFailsWhenTheGroupWriteFails) {
  Gate first_group_held, release_first_group;
  std::atomic<int> groups{0};
  std::atomic<size_t> second_group_requests{0};
  EventStoreOptions options = Options();
  options.before_group_write = [&](size_t requests) {
    const int n = ++groups;
    if (n == 1) {
      first_group_held.Open();
      release_first_group.Wait();
    } else if (n == 2) {
      second_group_requests = requests;
      fs_.FailOn(Op::kWrite, ".log", FaultFs::Error::kIoError, 0, 1);  // this group's WAL write fails
    }
  };
  auto store = Open(options);
  ASSERT_NE(store, nullptr);

  std::promise<absl::StatusOr<AppendOutcome>> first, original, retry;
  store->AppendAsync(Batch("case-first", SomeEvents(1)), [&](auto r) { first.set_value(std::move(r)); });
  ASSERT_TRUE(first_group_held.Wait());
  // The writer is held: both of these queue up for the next group.
  const auto events = SomeEvents(2);
  store->AppendAsync(Batch("case-a", events), [&](auto r) { original.set_value(std::move(r)); });
  store->AppendAsync(Batch("case-a", events), [&](auto r) { retry.set_value(std::move(r)); });
  release_first_group.Open();

  EXPECT_TRUE(first.get_future().get().ok());
  auto original_result = original.get_future().get();
  auto retry_result = retry.get_future().get();
  EXPECT_EQ(second_group_requests.load(), 2u) << "the original and its retry were not in one group";
  EXPECT_EQ(original_result.status().code(), absl::StatusCode::kUnavailable) << original_result.status();
  EXPECT_EQ(retry_result.status().code(), absl::StatusCode::kUnavailable)
      << (retry_result.ok() ? "the retry was acknowledged although its group's write failed"
                            : retry_result.status().ToString());
}

// Callbacks run in write order, one group after the other: while a callback
// of group 1 runs (on the completion thread), group 2 is written, but its
// callback waits until group 1's have returned.
TEST_F(EventStoreFaultTest, CallbacksOfAGroupAllRunBeforeThoseOfTheNextGroup) {
  Gate first_group_held, release_first_group, a_started, release_a, second_group_handled;
  std::atomic<int> before{0}, after{0};
  EventStoreOptions options = Options();
  options.before_group_write = [&](size_t) {
    if (++before == 1) {
      first_group_held.Open();
      release_first_group.Wait();
    }
  };
  options.after_group = [&] {
    if (++after == 2) second_group_handled.Open();
  };
  auto store = Open(options);
  ASSERT_NE(store, nullptr);

  std::mutex order_mu;
  std::vector<std::string> order;
  auto note = [&](const std::string& what) {
    std::lock_guard<std::mutex> lock(order_mu);
    order.push_back(what);
  };
  std::promise<void> b_done;
  store->AppendAsync(Batch("case-a", SomeEvents(1)), [&](auto r) {
    EXPECT_TRUE(r.ok()) << r.status();
    note("a begins");
    a_started.Open();
    release_a.Wait();
    note("a ends");
  });
  ASSERT_TRUE(first_group_held.Wait());
  store->AppendAsync(Batch("case-b", SomeEvents(1)), [&](auto r) {
    EXPECT_TRUE(r.ok()) << r.status();
    note("b");
    b_done.set_value();
  });
  // B waits in the queue, so group 1's acknowledgement goes to the
  // completion thread, where A's callback blocks; the writer goes on with B.
  release_first_group.Open();
  ASSERT_TRUE(a_started.Wait());
  ASSERT_TRUE(second_group_handled.Wait());
  {
    std::lock_guard<std::mutex> lock(order_mu);
    EXPECT_EQ(order, std::vector<std::string>({"a begins"})) << "group 2's callback ran before group 1's returned";
  }
  release_a.Open();
  b_done.get_future().wait();
  std::lock_guard<std::mutex> lock(order_mu);
  EXPECT_EQ(order, std::vector<std::string>({"a begins", "a ends", "b"}));
}

// The pipeline: while a group's sync is on its way to disk, nothing of it is
// readable, and the next group is already staged on its effects: a batch
// expecting the version it leaves, or a retry of its batch (answered from
// it). Once the sync returns, both are acknowledged as if written one after
// the other.
TEST_F(EventStoreFaultTest, TheNextGroupIsStagedWhileThePreviousSyncIsInFlight) {
  std::atomic<int> staged{0};
  EventStoreOptions options = Options();
  options.after_group_staged = [&](size_t) { ++staged; };
  auto store = Open(options);
  ASSERT_NE(store, nullptr);
  using Result = absl::StatusOr<AppendOutcome>;

  // Group 1 held in its sync; group 2 expects the version group 1 leaves.
  fs_.HoldSyncs(".log");
  const auto first_events = SomeEvents(2);
  std::promise<Result> first, second;
  store->AppendAsync(Batch("case-a", first_events, ExpectedVersion::NoStream()),
                     [&](auto r) { first.set_value(std::move(r)); });
  ASSERT_TRUE(testing::WaitFor([&] { return fs_.held_syncs() == 1; }));
  EXPECT_EQ(store->Head().value(), 0u);
  auto unsynced = store->ReadCase(CaseId("case-a"), StreamVersion(1), SIZE_MAX);
  ASSERT_TRUE(unsynced.ok()) << unsynced.status();
  EXPECT_TRUE(unsynced->empty()) << "an event is readable before its sync returned";
  const auto second_events = MoreEvents(1);
  store->AppendAsync(Batch("case-a", second_events, ExpectedVersion::Exact(2)),
                     [&](auto r) { second.set_value(std::move(r)); });
  ASSERT_TRUE(testing::WaitFor([&] { return staged.load() == 2; }));
  EXPECT_EQ(fs_.held_syncs(), 1) << "group 2 was staged only after group 1's sync returned";
  fs_.ReleaseSyncs();
  Result first_result = first.get_future().get();
  Result second_result = second.get_future().get();
  ASSERT_TRUE(first_result.ok()) << first_result.status();
  ASSERT_TRUE(second_result.ok()) << second_result.status();
  EXPECT_EQ(first_result->last_position.value(), 2u);
  EXPECT_EQ(second_result->first_version.value(), 3u);
  EXPECT_EQ(second_result->first_position.value(), 3u);

  // Group 3 held in its sync; group 4 retries its batch.
  fs_.HoldSyncs(".log");
  const auto third_events = MoreEvents(2);
  std::promise<Result> third, retry;
  store->AppendAsync(Batch("case-a", third_events, ExpectedVersion::Exact(3)),
                     [&](auto r) { third.set_value(std::move(r)); });
  ASSERT_TRUE(testing::WaitFor([&] { return fs_.held_syncs() == 1; }));
  store->AppendAsync(Batch("case-a", third_events, ExpectedVersion::Exact(3)),
                     [&](auto r) { retry.set_value(std::move(r)); });
  ASSERT_TRUE(testing::WaitFor([&] { return staged.load() == 4; }));
  EXPECT_EQ(fs_.held_syncs(), 1) << "group 4 was staged only after group 3's sync returned";
  fs_.ReleaseSyncs();
  Result third_result = third.get_future().get();
  Result retry_result = retry.get_future().get();
  ASSERT_TRUE(third_result.ok()) << third_result.status();
  ASSERT_TRUE(retry_result.ok()) << retry_result.status();
  EXPECT_FALSE(third_result->already_recorded);
  EXPECT_TRUE(retry_result->already_recorded);
  EXPECT_EQ(retry_result->first_position.value(), 4u);
  EXPECT_EQ(retry_result->last_position.value(), 5u);

  for (const auto* events : {&first_events, &second_events, &third_events}) {
    for (const auto& e : *events) acknowledged_.insert(e.event_id());
  }
  ExpectAcknowledgedStored(*store);
}

// Requests that arrive while a group's sync is in flight join the group
// staged behind it, however late they come: once the sync returns, they all
// go to disk in one write, not one round each.
TEST_F(EventStoreFaultTest, RequestsArrivingWhileAGroupIsWrittenJoinTheNextGroup) {
  std::atomic<int> staging_rounds{0};
  EventStoreOptions options = Options();
  options.after_group_staged = [&](size_t) { ++staging_rounds; };
  auto store = Open(options);
  ASSERT_NE(store, nullptr);
  using Result = absl::StatusOr<AppendOutcome>;

  const auto first_events = SomeEvents(1);
  std::promise<Result> first;
  std::vector<std::vector<v1::Event>> later;
  std::vector<std::promise<Result>> results(3);
  fs_.HoldSyncs(".log");
  // Also when an assertion ends the test early: no sync left held, and every
  // callback run before the promises go.
  absl::Cleanup release = [&] {
    fs_.ReleaseSyncs();
    store->Close();
  };
  store->AppendAsync(Batch("case-first", first_events), [&](auto r) { first.set_value(std::move(r)); });
  ASSERT_TRUE(testing::WaitFor([&] { return fs_.held_syncs() == 1; }));
  // One at a time, each staged before the next is sent.
  for (int i = 0; i < 3; ++i) {
    later.push_back(SomeEvents(2));
    store->AppendAsync(Batch("case-" + std::to_string(i), later.back()),
                       [&, i](auto r) { results[i].set_value(std::move(r)); });
    ASSERT_TRUE(testing::WaitFor([&] { return staging_rounds.load() == 2 + i; }))
        << "request " << i << " was not staged while the first group's sync was held";
  }
  EXPECT_EQ(fs_.held_syncs(), 1);
  fs_.ReleaseSyncs();

  ASSERT_TRUE(first.get_future().get().ok());
  for (int i = 0; i < 3; ++i) {
    Result r = results[i].get_future().get();
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->first_position.value(), 2u + 2 * i) << "acknowledged out of order";
  }
  EXPECT_EQ(store->groups_written(), 2u) << "the late requests were not written together";
  EXPECT_EQ(store->requests_written(), 4u);
  for (const auto& e : first_events) acknowledged_.insert(e.event_id());
  for (const auto& events : later) {
    for (const auto& e : events) acknowledged_.insert(e.event_id());
  }
  ExpectAcknowledgedStored(*store);
}

// A group staged on a write whose sync then fails is not written at all: its
// batches are refused (UNAVAILABLE, nothing recorded), health says the write
// failed, and after the store's reopen the same batch goes in as new.
TEST_F(EventStoreFaultTest, AGroupStagedOnAWriteWhoseSyncFailsIsRefusedAndNotWritten) {
  std::atomic<int> staged{0};
  HealthLog health;
  EventStoreOptions options = Options();
  options.after_group_staged = [&](size_t) { ++staged; };
  auto store = Open(options);
  ASSERT_NE(store, nullptr);
  store->WatchWriteHealth([&](const WriteHealth& h) { health.Record(h); });
  ASSERT_TRUE(AppendNewCase(*store).ok());

  fs_.HoldSyncs(".log");
  std::promise<absl::StatusOr<AppendOutcome>> first, second;
  store->AppendAsync(Batch("case-x", SomeEvents(2), ExpectedVersion::NoStream()),
                     [&](auto r) { first.set_value(std::move(r)); });
  ASSERT_TRUE(testing::WaitFor([&] { return fs_.held_syncs() == 1; }));
  const auto second_events = SomeEvents(3);
  store->AppendAsync(Batch("case-y", second_events, ExpectedVersion::NoStream()),
                     [&](auto r) { second.set_value(std::move(r)); });
  ASSERT_TRUE(testing::WaitFor([&] { return staged.load() == 3; }));  // case-1, case-x, case-y
  fs_.FailOn(Op::kSync, ".log", FaultFs::Error::kIoError, 0, 1);
  fs_.ReleaseSyncs();

  auto first_result = first.get_future().get();
  auto second_result = second.get_future().get();
  EXPECT_EQ(first_result.status().code(), absl::StatusCode::kUnavailable) << first_result.status();
  EXPECT_EQ(second_result.status().code(), absl::StatusCode::kUnavailable) << second_result.status();
  EXPECT_NE(second_result.status().message().find("nothing of this batch was recorded"), std::string::npos)
      << second_result.status();
  EXPECT_TRUE(health.Saw(WriteHealth::State::kWriteFailed));

  // After the reopen: case-y was never written, so the same batch is new.
  ASSERT_TRUE(health.WaitFor(WriteHealth::State::kOk));
  auto again = store->Append(Batch("case-y", second_events, ExpectedVersion::NoStream()));
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_FALSE(again->already_recorded);
  EXPECT_EQ(again->first_version.value(), 1u);
  for (const auto& e : second_events) acknowledged_.insert(e.event_id());
  ExpectAcknowledgedStored(*store);
}

// The free-space guard: below min_free_bytes a group is refused with
// RESOURCE_EXHAUSTED before RocksDB writes anything, health says disk full,
// and appends resume by themselves once space is freed.
TEST_F(EventStoreFaultTest, RefusesGroupsBelowMinFreeBytesBeforeWritingAndResumes) {
  EventStoreOptions options = Options();
  options.min_free_bytes = 64 << 20;
  auto store = Open(options);
  ASSERT_NE(store, nullptr);
  HealthLog health;
  store->WatchWriteHealth([&](const WriteHealth& h) { health.Record(h); });
  ASSERT_TRUE(AppendNewCase(*store).ok());
  const uint64_t head = store->Head().value();
  const int64_t syncs = fs_.syncs();

  fs_.SetFreeBytes(10 << 20);
  auto refused = AppendNewCase(*store);
  ASSERT_EQ(refused.status().code(), absl::StatusCode::kResourceExhausted) << refused.status();
  EXPECT_NE(refused.status().message().find("disk full: "), std::string::npos) << refused.status();
  EXPECT_NE(refused.status().message().find("10 MiB free, below the minimum of 64 MiB"), std::string::npos)
      << refused.status();
  EXPECT_EQ(store->write_health().state, WriteHealth::State::kDiskFull);
  EXPECT_EQ(store->Head().value(), head);
  EXPECT_EQ(fs_.syncs(), syncs) << "RocksDB wrote the refused group";
  EXPECT_EQ(fs_.faults_injected(), 0);
  EXPECT_TRUE(store->ReadCase(CaseId("case-0"), StreamVersion(1)).ok());

  fs_.SetFreeBytes(uint64_t{1} << 30);
  ASSERT_TRUE(health.WaitFor(WriteHealth::State::kOk));
  auto resumed = AppendNewCase(*store);
  ASSERT_TRUE(resumed.ok()) << resumed.status();
  ExpectAcknowledgedStored(*store);
}

}  // namespace
}  // namespace kring::eventstore
