// Online backup of the data keys and the access log, not only the events
// (issue 14; services/operations_service.cc WriteCheckpoints,
// security/key_store.h and access_log.h Checkpoint, kringctl restore):
//  - a backup taken while cases with personal data are appended and the
//    access log grows restores (with the kringctl binary) into a data folder
//    on which a new kringd opens every sealed personal part of every case in
//    the backup (auditor ReadCase), and whose access log chain verifies and
//    ends at the entry the backup reported;
//  - a backup of an older kringd (the event store's checkpoint itself)
//    still restores.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "kring/v1/audit.grpc.pb.h"
#include "kring/v1/ingest.grpc.pb.h"
#include "tests/testing/kringd_process.h"
#include "tests/testing/test_support.h"

namespace kring {
namespace {

namespace fs = std::filesystem;
using std::chrono::seconds;
using testing::NewChannel;

constexpr char kPurpose[] = "online backup test";

std::string Hex(const std::string& bytes) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) {
    out += digits[c >> 4];
    out += digits[c & 15];
  }
  return out;
}

// The personal part of case `i`'s referral (synthetic).
std::string NameOf(int i) { return absl::StrCat("Synthetic Person ", i); }

grpc::Status AppendCase(v1::IngestService::Stub& ingest, const std::string& case_id, int i) {
  v1::Event referral = testing::CaseReferredEvent();
  (*referral.mutable_personal()->mutable_fields())["name"] = NameOf(i);
  v1::AppendRequest request;
  request.set_case_id(case_id);
  *request.add_events() = referral;
  grpc::ClientContext context;
  context.AddMetadata("kring-purpose", kPurpose);
  context.set_deadline(std::chrono::system_clock::now() + seconds(30));
  v1::AppendResult result;
  return ingest.Append(&context, request, &result);
}

grpc::Status ReadCase(v1::AuditService::Stub& audit, const std::string& case_id, v1::ReadCaseResponse* response) {
  v1::ReadCaseRequest request;
  request.set_case_id(case_id);
  grpc::ClientContext context;
  context.AddMetadata("kring-purpose", kPurpose);
  context.set_deadline(std::chrono::system_clock::now() + seconds(30));
  return audit.ReadCase(&context, request, response);
}

struct Kringctl {
  int exit_code;
  std::string out;
  std::string err;
};

Kringctl RunKringctl(const std::string& args, const std::string& scratch) {
  const std::string err_file = scratch + "/kringctl.err";
  const auto r = testing::RunCommand(absl::StrCat(KRING_KRINGCTL_PATH, " ", args, " 2>", err_file));
  std::ifstream in(err_file);
  std::stringstream err;
  err << in.rdbuf();
  return {WIFEXITED(r.status) ? WEXITSTATUS(r.status) : -1, r.output, err.str()};
}

TEST(OnlineBackupTest, BackupWhileAppendingRestoresKeysThatOpenEveryCaseAndAnAccessLogThatVerifies) {
  testing::TempDir dir;
  const std::string master_key = dir.Sub("master.key");
  {
    std::ofstream out(master_key, std::ios::binary);
    out << std::string(64, 'a');  // 64 hex digits
  }
  ASSERT_EQ(::chmod(master_key.c_str(), 0600), 0);

  v1::BackupResponse backup;
  std::map<std::string, int> appended;  // case id -> i, acknowledged
  {
    testing::KringdProcess kringd(dir.Sub("data"), {"--master-key-file", master_key});
    auto ingest = v1::IngestService::NewStub(NewChannel(kringd.address()));
    auto audit = v1::AuditService::NewStub(NewChannel(kringd.address()));
    std::mutex mu;
    std::atomic<bool> stop{false};
    std::atomic<bool> failed{false};
    // New cases with personal data (each a new data key), and audit reads of
    // them (each an access log entry), both going on during the backup.
    std::thread appender([&] {
      for (int i = 0; !stop.load(); ++i) {
        const std::string case_id = absl::StrCat("backup-case-", i);
        if (!AppendCase(*ingest, case_id, i).ok()) {
          failed = true;
          return;
        }
        std::lock_guard<std::mutex> lock(mu);
        appended[case_id] = i;
      }
    });
    std::thread reader([&] {
      while (!stop.load()) {
        std::string case_id;
        {
          std::lock_guard<std::mutex> lock(mu);
          if (!appended.empty()) case_id = appended.rbegin()->first;
        }
        if (case_id.empty()) {
          std::this_thread::yield();
          continue;
        }
        v1::ReadCaseResponse r;
        if (!ReadCase(*audit, case_id, &r).ok()) {
          failed = true;
          return;
        }
      }
    });
    ASSERT_TRUE(testing::WaitFor([&] {
      std::lock_guard<std::mutex> lock(mu);
      return appended.size() >= 100 || failed.load();
    }));
    size_t before = 0;
    {
      std::lock_guard<std::mutex> lock(mu);
      before = appended.size();
    }
    auto operations = v1::OperationsService::NewStub(NewChannel(kringd.address()));
    grpc::ClientContext context;
    v1::BackupRequest request;
    request.set_destination(dir.Sub("backup"));
    const grpc::Status s = operations->Backup(&context, request, &backup);
    size_t after = 0;
    {
      std::lock_guard<std::mutex> lock(mu);
      after = appended.size();
    }
    // Appends go on after the backup for a while, so that the backup is
    // a cut through a running workload, not its end.
    testing::WaitFor([&] {
      std::lock_guard<std::mutex> lock(mu);
      return appended.size() >= after + 50 || failed.load();
    });
    stop = true;
    appender.join();
    reader.join();
    ASSERT_TRUE(s.ok()) << s.error_message();
    ASSERT_FALSE(failed.load());
    EXPECT_GE(backup.head_position(), before);
    EXPECT_FALSE(backup.keys_master_key_id().empty());
    EXPECT_GT(backup.access_log_entries(), 0u);
    EXPECT_EQ(backup.access_log_head_hash().size(), 32u);
    EXPECT_TRUE(fs::exists(dir.Sub("backup/events/CURRENT")));
    EXPECT_TRUE(fs::exists(dir.Sub("backup/keys/CURRENT")));
    EXPECT_TRUE(fs::exists(dir.Sub("backup/access-log/CURRENT")));
    EXPECT_FALSE(fs::exists(dir.Sub("backup.tmp")));
    EXPECT_EQ(kringd.Terminate(), 0);
    std::cout << "[ figures ] backup at head " << backup.head_position() << " with " << backup.access_log_entries()
              << " access log entries, taken while " << after - before << " cases were appended\n";
  }

  // Restore with the binary, into a new data folder.
  const Kringctl restored =
      RunKringctl(absl::StrCat("restore --from ", dir.Sub("backup"), " --data-dir ", dir.Sub("restored"),
                               " --expect-head-hash ", Hex(backup.head_hash()), " --json"),
                  dir.path());
  ASSERT_EQ(restored.exit_code, 0) << restored.out << restored.err;
  const nlohmann::json j = nlohmann::json::parse(restored.out);
  EXPECT_EQ(j["verified"], true);
  EXPECT_EQ(j["keys_restored"], true);
  EXPECT_EQ(j["access_log_entries_verified"], backup.access_log_entries());
  EXPECT_TRUE(fs::exists(dir.Sub("restored/keys/CURRENT")));

  // A kringd on the restored folder opens every sealed personal part of
  // every case the backup holds: the keys of all of them are in it.
  testing::KringdProcess kringd(dir.Sub("restored"), {"--master-key-file", master_key});
  auto audit = v1::AuditService::NewStub(NewChannel(kringd.address()));
  uint64_t cases_in_backup = 0;
  for (const auto& [case_id, i] : appended) {
    v1::ReadCaseResponse r;
    const grpc::Status s = ReadCase(*audit, case_id, &r);
    if (s.error_code() == grpc::StatusCode::NOT_FOUND) continue;  // appended after the backup's head
    ASSERT_TRUE(s.ok()) << case_id << ": " << s.error_message();
    if (r.version() == 0) continue;
    ++cases_in_backup;
    ASSERT_EQ(r.events_size(), 1) << case_id;
    EXPECT_EQ(r.events(0).personal_state(), v1::PERSONAL_DATA_STATE_OPENED) << case_id;
    EXPECT_EQ(r.events(0).personal().fields().at("name"), NameOf(i)) << case_id;
  }
  // One case a position: every case the backup's events hold was read.
  EXPECT_EQ(cases_in_backup, backup.head_position());

  // The restored access log: its chain verifies, and the backup's last
  // entry is in it (the restored kringd recorded its reads after it).
  v1::ReadAccessLogRequest request;
  request.set_from_sequence(backup.access_log_entries());
  request.set_limit(1);
  v1::ReadAccessLogResponse log;
  grpc::ClientContext context;
  context.AddMetadata("kring-purpose", kPurpose);
  const grpc::Status s = audit->ReadAccessLog(&context, request, &log);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_TRUE(log.chain_ok()) << log.chain_reason();
  ASSERT_EQ(log.entries_size(), 1);
  EXPECT_EQ(log.entries(0).sequence(), backup.access_log_entries());
  EXPECT_EQ(log.entries(0).hash(), backup.access_log_head_hash());
  EXPECT_EQ(kringd.Terminate(), 0);
}

// A backup of an older kringd is the event store's checkpoint itself (no
// events/ folder): kringctl restore still restores it, without keys or
// access log.
TEST(OnlineBackupTest, RestoreStillTakesABackupOfAnOlderKringdThatHoldsOnlyTheEvents) {
  testing::TempDir dir;
  GlobalPosition head;
  {
    auto store = testing::OpenUnsyncedStore(dir.Sub("events"));
    ASSERT_TRUE(store.ok()) << store.status();
    ASSERT_TRUE((*store)->Append(testing::Batch("old-case-1", testing::SomeEvents(5))).ok());
    auto checkpoint = (*store)->Checkpoint(dir.Sub("old-backup"));
    ASSERT_TRUE(checkpoint.ok()) << checkpoint.status();
    head = *checkpoint;
  }
  ASSERT_EQ(head.value(), 5u);
  const Kringctl restored = RunKringctl(
      absl::StrCat("restore --from ", dir.Sub("old-backup"), " --data-dir ", dir.Sub("restored"), " --json"),
      dir.path());
  ASSERT_EQ(restored.exit_code, 0) << restored.out << restored.err;
  const nlohmann::json j = nlohmann::json::parse(restored.out);
  EXPECT_EQ(j["verified"], true);
  EXPECT_EQ(j["head_position"], 5u);
  EXPECT_EQ(j["keys_restored"], false);
  EXPECT_FALSE(j.contains("access_log_entries_verified"));
  EXPECT_TRUE(fs::exists(dir.Sub("restored/events/CURRENT")));
  EXPECT_FALSE(fs::exists(dir.Sub("restored/keys")));
}

}  // namespace
}  // namespace kring
