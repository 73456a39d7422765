// An erasure killed at each of its steps (issue 12, defect 4;
// services/erasure.h, docs/security.md "Erasure and crashes"). For every
// named crash point (common/crash_point.h) a real kringd with a master key
// takes a case with personal data, runs the erasure with KRING_CRASH_AT set,
// dies by SIGKILL at that point, and is started again without it. Then:
//  - the auditor's read never opens the personal part once the log says
//    erased, and the log says erased exactly when the erasure was recorded
//    (every point from the key store's intent on): start-up finished it;
//  - finished means: the event is in the log once, the key opens nothing,
//    no intent is pending and the old wrapped key is in no file of the key
//    folder; a crash before the intent leaves the case as it was, and a
//    retry erases it;
//  - a repeated erasure reports already_erased with the same position;
//  - new personal data for the case is refused; other cases keep theirs;
//  - the hash chain verifies.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <rocksdb/db.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <filesystem>
#include <fstream>
#include <iterator>

#include "absl/strings/str_cat.h"
#include "kring/v1/audit.grpc.pb.h"
#include "kring/v1/ingest.grpc.pb.h"
#include "security/key_store.h"
#include "tests/testing/kringd_process.h"
#include "tests/testing/planted.h"
#include "tests/testing/test_support.h"

namespace kring {
namespace {

using testing::FilesContaining;
using testing::kPlantedPersonal;

// Every step of an erasure, in order (services/erasure.h).
const char* const kCrashPoints[] = {
    "erase.before_intent",      "keys.erase.after_intent", "erase.after_event_appended", "keys.purge.before_compact",
    "keys.purge.after_compact", "keys.erase.after_purge",  "erase.before_reply",
};

std::unique_ptr<grpc::ClientContext> Context(const std::string& purpose = "") {
  auto context = std::make_unique<grpc::ClientContext>();
  context->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
  if (!purpose.empty()) context->AddMetadata("kring-purpose", purpose);
  return context;
}

// The case ids with an erasure in progress in the key folder, read past the
// running server.
std::vector<std::string> PendingInKeyFolder(const std::string& keys_dir) {
  rocksdb::DB* raw = nullptr;
  rocksdb::Status s = rocksdb::DB::OpenForReadOnly(rocksdb::Options(), keys_dir, &raw);
  EXPECT_TRUE(s.ok()) << s.ToString();
  if (!s.ok()) return {"(unreadable)"};
  std::unique_ptr<rocksdb::DB> db(raw);
  std::vector<std::string> pending;
  std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(rocksdb::ReadOptions()));
  for (it->Seek("erase/"); it->Valid() && it->key().starts_with("erase/"); it->Next()) {
    pending.push_back(it->key().ToString().substr(6));
  }
  return pending;
}

// The case's stored key record, read past the running server.
std::string PeekKeyRecord(const std::string& keys_dir, const std::string& case_id) {
  rocksdb::DB* raw = nullptr;
  rocksdb::Status s = rocksdb::DB::OpenForReadOnly(rocksdb::Options(), keys_dir, &raw);
  EXPECT_TRUE(s.ok()) << s.ToString();
  if (!s.ok()) return "";
  std::unique_ptr<rocksdb::DB> db(raw);
  std::string value;
  EXPECT_TRUE(db->Get(rocksdb::ReadOptions(), "case/" + case_id, &value).ok());
  return value;
}

class ErasureCrashTest : public ::testing::TestWithParam<const char*> {
 protected:
  void SetUp() override {
    std::string key(32, '\0');
    for (size_t i = 0; i < key.size(); ++i) key[i] = static_cast<char>(i * 11 + 5);
    {
      std::ofstream out(key_file_, std::ios::binary);
      out << key;
    }
    ASSERT_EQ(::chmod(key_file_.c_str(), 0600), 0);
  }

  // kringd with the master key; KRING_CRASH_AT=`crash_at` when given.
  std::unique_ptr<testing::KringdProcess> Start(const std::string& crash_at = "") {
    if (!crash_at.empty()) ::setenv("KRING_CRASH_AT", crash_at.c_str(), 1);
    std::unique_ptr<testing::KringdProcess> kringd;
    try {
      kringd =
          std::make_unique<testing::KringdProcess>(data_dir_, std::vector<std::string>{"--master-key-file", key_file_});
    } catch (const std::exception& e) {
      ADD_FAILURE() << e.what();
    }
    ::unsetenv("KRING_CRASH_AT");
    if (kringd) channel_ = testing::NewChannel(kringd->address());
    return kringd;
  }

  grpc::Status Append(const std::string& case_id, const std::vector<v1::Event>& events) {
    v1::AppendRequest request;
    request.set_case_id(case_id);
    for (const auto& e : events) *request.add_events() = e;
    v1::AppendResult result;
    return v1::IngestService::NewStub(channel_)->Append(Context().get(), request, &result);
  }

  grpc::Status Erase(const std::string& case_id, v1::ErasePersonalDataResponse* response) {
    v1::ErasePersonalDataRequest request;
    request.set_case_id(case_id);
    return v1::OperationsService::NewStub(channel_)->ErasePersonalData(Context().get(), request, response);
  }

  v1::ReadCaseResponse ReadCase(const std::string& case_id) {
    v1::ReadCaseRequest request;
    request.set_case_id(case_id);
    v1::ReadCaseResponse response;
    const grpc::Status s = v1::AuditService::NewStub(channel_)->ReadCase(
        Context("erasure crash test: check the case").get(), request, &response);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return response;
  }

  static v1::Event WithPersonal(v1::Event e, const std::string& field, const std::string& value) {
    (*e.mutable_personal()->mutable_fields())[field] = value;
    return e;
  }

  testing::TempDir dir_;
  std::string data_dir_ = dir_.Sub("data");
  std::string key_file_ = dir_.Sub("master.key");
  std::shared_ptr<grpc::Channel> channel_;
};

TEST_P(ErasureCrashTest, AKilledErasureIsFinishedAtStartOrNotDoneAndNeverHalfDone) {
  const std::string crash_at = GetParam();
  const bool recorded_before_crash = crash_at != "erase.before_intent";
  std::string live_record;
  {
    auto kringd = Start(crash_at);
    ASSERT_NE(kringd, nullptr);
    ASSERT_TRUE(Append("case-crash", {WithPersonal(testing::CaseReferredEvent(), "name", kPlantedPersonal[0]),
                                      WithPersonal(testing::CostRecordedEvent(), "note", kPlantedPersonal[2])})
                    .ok());
    ASSERT_TRUE(Append("case-other", {WithPersonal(testing::CaseReferredEvent(), "name", "Other")}).ok());
    const v1::ReadCaseResponse before = ReadCase("case-crash");
    ASSERT_EQ(before.events_size(), 2);
    ASSERT_EQ(before.events(0).personal_state(), v1::PERSONAL_DATA_STATE_OPENED);
    live_record = PeekKeyRecord(data_dir_ + "/keys", "case-crash");
    ASSERT_EQ(live_record[0], 'L');
    ASSERT_FALSE(FilesContaining(data_dir_ + "/keys", live_record).empty()) << "the scan below can see the key";

    v1::ErasePersonalDataResponse ignored;
    const grpc::Status died = Erase("case-crash", &ignored);
    EXPECT_FALSE(died.ok()) << "the server was to die at " << crash_at;
    const int status = kringd->Terminate();
    ASSERT_TRUE(WIFSIGNALED(status)) << "status " << status;
    ASSERT_EQ(WTERMSIG(status), SIGKILL) << "killed at the crash point, not stopped by the test's SIGTERM";
  }

  int64_t logged_position = 0;
  {
    auto kringd = Start();
    ASSERT_NE(kringd, nullptr);
    EXPECT_EQ(PendingInKeyFolder(data_dir_ + "/keys"), std::vector<std::string>{}) << "finished at start-up";
    v1::ReadCaseResponse after = ReadCase("case-crash");
    int erased_events = 0;
    for (const v1::AuditEvent& e : after.events()) {
      if (!e.event().event().has_personal_data_erased()) continue;
      ++erased_events;
      logged_position = static_cast<int64_t>(e.event().global_position());
    }
    // Recorded before the crash: finished by the start-up. Not recorded:
    // nothing happened, the personal part still opens.
    ASSERT_EQ(erased_events, recorded_before_crash ? 1 : 0);
    const v1::PersonalDataState expected =
        recorded_before_crash ? v1::PERSONAL_DATA_STATE_ERASED : v1::PERSONAL_DATA_STATE_OPENED;
    EXPECT_EQ(after.events(0).personal_state(), expected);
    EXPECT_EQ(after.events(1).personal_state(), expected);

    v1::ErasePersonalDataResponse retried;
    const grpc::Status retry = Erase("case-crash", &retried);
    ASSERT_TRUE(retry.ok()) << retry.error_message();
    EXPECT_EQ(retried.already_erased(), recorded_before_crash);
    if (recorded_before_crash) EXPECT_EQ(static_cast<int64_t>(retried.global_position()), logged_position);

    after = ReadCase("case-crash");
    ASSERT_EQ(after.events_size(), 3) << "one PersonalDataErased event";
    EXPECT_TRUE(after.events(2).event().event().has_personal_data_erased());
    for (int i = 0; i < 2; ++i) EXPECT_EQ(after.events(i).personal_state(), v1::PERSONAL_DATA_STATE_ERASED);
    const std::string shown = after.SerializeAsString();
    for (const char* planted : kPlantedPersonal) EXPECT_EQ(shown.find(planted), std::string::npos) << planted;

    const grpc::Status refused = Append("case-crash", {WithPersonal(testing::CostRecordedEvent(), "note", "new")});
    EXPECT_EQ(refused.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << refused.error_message();
    EXPECT_EQ(ReadCase("case-other").events(0).personal().fields().at("name"), "Other");

    v1::VerifyChainResponse verified;
    ASSERT_TRUE(v1::AuditService::NewStub(channel_)
                    ->VerifyChain(Context("erasure crash test: verify").get(), v1::VerifyChainRequest(), &verified)
                    .ok());
    EXPECT_TRUE(verified.ok()) << verified.reason();
    EXPECT_EQ(verified.events_verified(), 4u);
    EXPECT_EQ(kringd->Terminate(), 0);
  }

  // Finished: no intent pending, the key gone from every file of the folder.
  EXPECT_EQ(FilesContaining(data_dir_ + "/keys", live_record), std::vector<std::string>{});
  security::KeyStoreOptions key_options;
  key_options.path = data_dir_ + "/keys";
  key_options.master_key_file = key_file_;
  auto keys = security::KeyStore::Open(key_options);
  ASSERT_TRUE(keys.ok()) << keys.status();
  auto pending = (*keys)->PendingErasures();
  ASSERT_TRUE(pending.ok());
  EXPECT_TRUE(pending->empty());
  EXPECT_TRUE((*keys)->IsErased("case-crash"));
}

INSTANTIATE_TEST_SUITE_P(EveryStep, ErasureCrashTest, ::testing::ValuesIn(kCrashPoints),
                         [](const ::testing::TestParamInfo<const char*>& info) {
                           std::string name = info.param;
                           for (char& c : name) {
                             if (c == '.') c = '_';
                           }
                           return name;
                         });

}  // namespace
}  // namespace kring
