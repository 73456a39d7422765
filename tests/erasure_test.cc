// Erasure under failing disks and a held purge (issue 12, defects 4 and 10;
// services/erasure.h, security/key_store.h). The key store runs on the
// fault-injecting file system (tests/testing/fault_fs.h):
//  - a failed sync of the erasure's first write changes nothing, says so,
//    and a retry erases;
//  - a failed write during the purge is reported as recorded but not
//    finished, the key already opens nothing, and a retry or the next start
//    finishes it;
//  - a crash right after the first write keeps the marker and the intent
//    (they were synced);
//  - while an erasure's purge is held, and while a new case's first key
//    write is held, seals of other cases complete (neither runs under the
//    store's lock).
#include "services/erasure.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <future>
#include <iterator>
#include <mutex>

#include "absl/strings/str_cat.h"
#include "common/crash_point.h"
#include "eventstore/event_store.h"
#include "security/key_store.h"
#include "tests/testing/fault_fs.h"
#include "tests/testing/test_support.h"

namespace kring {
namespace {

using testing::FaultFs;
using testing::FilesContaining;

v1::PersonalData Personal(const std::string& name) {
  v1::PersonalData p;
  (*p.mutable_fields())["name"] = name;
  return p;
}

// A gate that a crash-point hook waits at until the test opens it, and that
// tells the test when the hook has arrived.
class Gate {
 public:
  void Arrive() {
    std::unique_lock<std::mutex> lock(mu_);
    arrived_ = true;
    cv_.notify_all();
    cv_.wait(lock, [&] { return open_; });
  }
  bool WaitArrived() {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, std::chrono::seconds(60), [&] { return arrived_; });
  }
  void Open() {
    std::lock_guard<std::mutex> lock(mu_);
    open_ = true;
    cv_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool arrived_ = false;
  bool open_ = false;
};

class ErasureTest : public ::testing::Test {
 protected:
  void SetUp() override {
    {
      std::ofstream out(key_file_, std::ios::binary);
      out << std::string(32, 'm');
    }
    ASSERT_EQ(::chmod(key_file_.c_str(), 0600), 0);
    OpenKeys();
    OpenStore();
  }

  void OpenStore() {
    eventstore::EventStoreOptions store_options;
    store_options.path = dir_.Sub("events");
    store_options.sealer = keys_.get();
    auto store = eventstore::EventStore::Open(store_options);
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = *std::move(store);
    eraser_ = std::make_unique<services::Eraser>(store_.get(), keys_.get());
  }

  // What a restart of kringd does: both stores open again (the key store
  // purges what is due), and the erasures in progress are finished before
  // anything else. Returns how many were.
  int Restart() {
    eraser_.reset();
    store_.reset();
    keys_.reset();
    OpenKeys();
    OpenStore();
    auto finished = eraser_->CompletePending();
    EXPECT_TRUE(finished.ok()) << finished.status();
    return finished.ok() ? *finished : -1;
  }

  // The bytes that start the case's live key record ('L' and the key id).
  static std::string LiveRecordPrefix(const v1::RecordedEvent& e) { return "L" + e.sealed_personal().key_id(); }
  void TearDown() override { ClearCrashPointHooks(); }

  void OpenKeys() {
    security::KeyStoreOptions options;
    options.path = keys_path_;
    options.master_key_file = key_file_;
    options.env = env_.get();
    auto keys = security::KeyStore::Open(options);
    ASSERT_TRUE(keys.ok()) << keys.status();
    keys_ = *std::move(keys);
  }

  // A case with one sealed personal part; returns the sealed part as stored.
  v1::RecordedEvent AppendCase(const std::string& case_id) {
    v1::Event referral = testing::CaseReferredEvent();
    *referral.mutable_personal() = Personal("Jan");
    auto appended = store_->Append(testing::Batch(case_id, {referral}));
    EXPECT_TRUE(appended.ok()) << appended.status();
    auto events = store_->ReadCase(CaseId(case_id), StreamVersion(1));
    EXPECT_TRUE(events.ok() && events->size() == 1u);
    return events.ok() && !events->empty() ? events->front() : v1::RecordedEvent();
  }

  bool Opens(const v1::RecordedEvent& e) {
    auto opened = keys_->OpenSealed(e.case_id(), e.event().event_id(), e.sealed_personal());
    EXPECT_TRUE(opened.ok()) << opened.status();
    return opened.ok() && opened->has_value();
  }

  int ErasedEventsIn(const std::string& case_id) {
    auto events = store_->ReadCase(CaseId(case_id), StreamVersion(1));
    EXPECT_TRUE(events.ok());
    int n = 0;
    for (const auto& e : *events) n += e.event().has_personal_data_erased() ? 1 : 0;
    return n;
  }

  testing::TempDir dir_;
  std::string key_file_ = dir_.Sub("master.key");
  std::string keys_path_ = dir_.Sub("keys");
  FaultFs fs_;
  std::unique_ptr<rocksdb::Env> env_ = fs_.NewEnv();
  std::unique_ptr<security::KeyStore> keys_;
  std::unique_ptr<eventstore::EventStore> store_;
  std::unique_ptr<services::Eraser> eraser_;
};

// A failed sync of the first write: the erasure is not confirmed, nothing
// is half done in this process (no event, the key still opens here), and
// the key store says it needs a restart; after the restart (whatever of the
// record reached the disk) a retry leaves it erased, with one event.
TEST_F(ErasureTest, AFailedSyncOfTheFirstStepIsNotHalfDoneAndARetryAfterTheRestartErases) {
  const v1::RecordedEvent sealed = AppendCase("case-1");
  fs_.FailOn(FaultFs::Op::kSync, ".log", FaultFs::Error::kIoError, 0, 1);
  auto failed = eraser_->Erase("case-1", "operator-1");
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(failed.status().message().rfind("erasure not confirmed: recording it in the key store failed; nothing "
                                            "is half done",
                                            0),
            0u)
      << failed.status();
  EXPECT_EQ(fs_.faults_injected(), 1);
  EXPECT_EQ(ErasedEventsIn("case-1"), 0);
  EXPECT_TRUE(Opens(sealed)) << "not erased here: the log does not say so, and the key still opens";

  fs_.Clear();
  auto stopped = eraser_->Erase("case-1", "operator-1");
  ASSERT_FALSE(stopped.ok());
  EXPECT_NE(stopped.status().message().find("restart kringd"), std::string::npos) << stopped.status();
  EXPECT_EQ(ErasedEventsIn("case-1"), 0);

  Restart();  // what reached the disk of the first attempt may be finished here
  auto erased = eraser_->Erase("case-1", "operator-1");
  ASSERT_TRUE(erased.ok()) << erased.status();
  EXPECT_EQ(ErasedEventsIn("case-1"), 1);
  EXPECT_FALSE(Opens(sealed));
  EXPECT_TRUE(keys_->PendingErasures()->empty());
}

// A failed write during the purge: recorded and in the log, the key opens
// and seals nothing already; the error says a retry or the next start
// finishes it.
TEST_F(ErasureTest, AFailedWriteDuringThePurgeIsReportedAndTheKeyAlreadyOpensNothing) {
  const v1::RecordedEvent sealed = AppendCase("case-1");
  // The flush of the purge writes a table file: it fails.
  fs_.FailOn(FaultFs::Op::kWrite, ".sst", FaultFs::Error::kIoError);
  auto failed = eraser_->Erase("case-1", "operator-1");
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(failed.status().message().rfind("erasure recorded and in the log (the data key opens nothing) but not "
                                            "finished: purging the old key from the key folder failed; a retry or "
                                            "the next start of kringd finishes it: ",
                                            0),
            0u)
      << failed.status();
  EXPECT_EQ(ErasedEventsIn("case-1"), 1);
  EXPECT_FALSE(Opens(sealed));
  EXPECT_EQ(keys_->Seal("case-1", testing::NewUuid(), Personal("new")).status().code(),
            absl::StatusCode::kFailedPrecondition);
  ASSERT_EQ(keys_->PendingErasures()->size(), 1u);
}

TEST_F(ErasureTest, AFailedPurgeIsFinishedByTheNextStart) {
  const v1::RecordedEvent sealed = AppendCase("case-1");
  ASSERT_FALSE(FilesContaining(keys_path_, LiveRecordPrefix(sealed)).empty()) << "the scan below can see the key";
  fs_.FailOn(FaultFs::Op::kWrite, ".sst", FaultFs::Error::kIoError);
  ASSERT_EQ(eraser_->Erase("case-1", "operator-1").status().code(), absl::StatusCode::kUnavailable);
  fs_.Clear();
  EXPECT_EQ(Restart(), 1);
  EXPECT_TRUE(keys_->PendingErasures()->empty());
  EXPECT_EQ(ErasedEventsIn("case-1"), 1) << "the event appended once, not again";
  EXPECT_FALSE(Opens(sealed));
  EXPECT_EQ(FilesContaining(keys_path_, LiveRecordPrefix(sealed)), std::vector<std::string>{});
  auto again = eraser_->Erase("case-1", "operator-1");
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_TRUE(again->already_erased());
}

// The first step's write is synced: a crash right after it (the process
// stops writing, unsynced bytes are lost) keeps the marker and the intent.
TEST_F(ErasureTest, TheFirstStepSurvivesACrash) {
  const v1::RecordedEvent sealed = AppendCase("case-1");
  auto intent = keys_->BeginErasure("case-1", testing::NewUuid(), "operator-1", absl::Now());
  ASSERT_TRUE(intent.ok()) << intent.status();
  fs_.Deactivate();
  eraser_.reset();
  store_.reset();
  keys_.reset();
  fs_.DropUnsyncedData();
  fs_.Reactivate();
  OpenKeys();
  OpenStore();
  EXPECT_TRUE(keys_->IsErased("case-1"));
  EXPECT_FALSE(Opens(sealed));
  auto pending = keys_->PendingErasures();
  ASSERT_TRUE(pending.ok());
  ASSERT_EQ(pending->size(), 1u);
  EXPECT_EQ((*pending)[0].event_id, intent->event_id);
  EXPECT_EQ((*pending)[0].operator_name, "operator-1");
  EXPECT_EQ((*pending)[0].key_id, sealed.sealed_personal().key_id());
}

// Defect 10: an erasure's purge (a compaction of the key folder) does not
// hold the lock that seals take; held at its crash point, a seal of another
// case — a new one, whose key is created — completes.
TEST_F(ErasureTest, ASealOfAnotherCaseCompletesWhileAnErasuresPurgeIsHeld) {
  AppendCase("case-1");
  AppendCase("case-2");
  Gate gate;
  SetCrashPointHook("keys.purge.before_compact", [&] { gate.Arrive(); });
  auto erasure = std::async(std::launch::async, [&] { return eraser_->Erase("case-1", "operator-1"); });
  ASSERT_TRUE(gate.WaitArrived());
  auto seals = std::async(std::launch::async, [&] {
    auto existing = keys_->Seal("case-2", testing::NewUuid(), Personal("B"));
    auto created = keys_->Seal("case-3", testing::NewUuid(), Personal("C"));
    return existing.ok() && created.ok();
  });
  const bool done = seals.wait_for(std::chrono::seconds(60)) == std::future_status::ready;
  gate.Open();
  EXPECT_TRUE(done) << "the seals waited for the purge";
  EXPECT_TRUE(seals.get());
  auto erased = erasure.get();
  ASSERT_TRUE(erased.ok()) << erased.status();
  EXPECT_TRUE(keys_->IsErased("case-1"));
}

// Defect 10: a new case's first seal writes (and syncs) its key outside the
// lock: held just before that write, seals of other cases complete, and a
// second seal of the same case gets the same key once the write is done.
TEST_F(ErasureTest, ASealOfAnotherCaseCompletesWhileANewCasesKeyWriteIsHeld) {
  AppendCase("case-2");
  Gate gate;
  SetCrashPointHook("keys.create.before_write", [&] { gate.Arrive(); });
  auto first = std::async(std::launch::async, [&] { return keys_->Seal("case-new", "e1", Personal("A")); });
  ASSERT_TRUE(gate.WaitArrived());
  ClearCrashPointHooks();
  auto same_case = std::async(std::launch::async, [&] { return keys_->Seal("case-new", "e2", Personal("B")); });
  auto other = std::async(std::launch::async, [&] { return keys_->Seal("case-2", "e3", Personal("C")); });
  const bool done = other.wait_for(std::chrono::seconds(60)) == std::future_status::ready;
  gate.Open();
  EXPECT_TRUE(done) << "a seal of another case waited for a new case's key write";
  EXPECT_TRUE(other.get().ok());
  auto a = first.get();
  auto b = same_case.get();
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->key_id(), b->key_id());
}

}  // namespace
}  // namespace kring
