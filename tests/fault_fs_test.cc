// The fault-injecting file system that the failure-path tests stand on: each
// fault it promises is seen by a plain RocksDB database.
#include "tests/testing/fault_fs.h"

#include <gtest/gtest.h>
#include <rocksdb/db.h>

#include "tests/testing/test_support.h"

namespace kring::testing {
namespace {

class FaultFsTest : public ::testing::Test {
 protected:
  void Open() {
    rocksdb::Options options;
    options.create_if_missing = true;
    options.env = env_.get();
    rocksdb::DB* raw = nullptr;
    ASSERT_TRUE(rocksdb::DB::Open(options, dir_.path(), &raw).ok());
    db_.reset(raw);
  }
  rocksdb::Status Put(const std::string& key, bool sync) {
    rocksdb::WriteOptions wo;
    wo.sync = sync;
    return db_->Put(wo, key, "value-of-" + key);
  }
  bool Has(const std::string& key) {
    std::string value;
    return db_->Get(rocksdb::ReadOptions(), key, &value).ok();
  }
  // A crash: the process stops writing, the database is gone, and what was
  // not synced is lost; then the database opens again.
  void CrashAndReopen() {
    fs_.Deactivate();
    db_->Close().PermitUncheckedError();
    db_.reset();
    fs_.DropUnsyncedData();
    fs_.Reactivate();
    Open();
  }

  TempDir dir_;
  FaultFs fs_;
  std::unique_ptr<rocksdb::Env> env_ = fs_.NewEnv();
  std::unique_ptr<rocksdb::DB> db_;
};

TEST_F(FaultFsTest, ACrashKeepsSyncedWritesAndDropsUnsyncedOnes) {
  Open();
  ASSERT_TRUE(Put("synced", true).ok());
  ASSERT_TRUE(Put("unsynced", false).ok());
  EXPECT_GT(fs_.syncs(), 0);
  CrashAndReopen();
  EXPECT_TRUE(Has("synced"));
  EXPECT_FALSE(Has("unsynced"));
}

TEST_F(FaultFsTest, AFailedSyncFailsTheWrite) {
  Open();
  fs_.FailOn(FaultFs::Op::kSync, ".log", FaultFs::Error::kIoError, 0, 1);
  rocksdb::Status s = Put("a", true);
  EXPECT_TRUE(s.IsIOError()) << s.ToString();
  EXPECT_EQ(fs_.faults_injected(), 1);
}

TEST_F(FaultFsTest, AnExhaustedWriteBudgetIsNoSpace) {
  Open();
  ASSERT_TRUE(Put("before", true).ok());
  fs_.SetWriteBudget(0);
  rocksdb::Status s = Put("after", true);
  EXPECT_TRUE(s.IsNoSpace()) << s.ToString();
}

TEST_F(FaultFsTest, SkippedOperationsSucceedBeforeTheFault) {
  Open();
  fs_.FailOn(FaultFs::Op::kWrite, ".log", FaultFs::Error::kIoError, 2, 1);
  EXPECT_TRUE(Put("1", true).ok());
  EXPECT_TRUE(Put("2", true).ok());
  EXPECT_FALSE(Put("3", true).ok());
}

TEST_F(FaultFsTest, FailedReadsReachTheReader) {
  Open();
  ASSERT_TRUE(Put("k", true).ok());
  ASSERT_TRUE(db_->Flush(rocksdb::FlushOptions()).ok());
  // A fresh open reads the table file through the wrapper.
  db_.reset();
  Open();
  fs_.FailOn(FaultFs::Op::kRead, ".sst");
  std::string value;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), "k", &value);
  EXPECT_FALSE(s.ok() && value == "value-of-k") << s.ToString();
}

}  // namespace
}  // namespace kring::testing
