// AuditService and the auditors' kringctl commands, over real loopback
// sockets:
//  - ReadCase as known at chosen instants: a case recorded on three days
//    (the store's test clock), with a retraction, reads back exactly as it
//    was known at each;
//  - ReadAll ends at the head, delivers what is appended after it started
//    with follow, and ends promptly when the client cancels and when the
//    server shuts down;
//  - a deliberately slow reader of a large log keeps the server's memory
//    bounded (RSS of a real kringd), and still gets every position in order;
//  - kringctl case show (table and JSON), export (NDJSON with hashes), tail
//    and verify, with their exit codes.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <future>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "kring/v1/audit.grpc.pb.h"
#include "kring/v1/ingest.grpc.pb.h"
#include "kring/v1/research.grpc.pb.h"
#include "services/server.h"
#include "tests/testing/kringd_process.h"
#include "tests/testing/test_support.h"

namespace kring {
namespace {

// Case-level audit reads state why (the kring-purpose metadata).
constexpr char kPurpose[] = "audit test";

using std::chrono::milliseconds;
using std::chrono::seconds;
using std::chrono::steady_clock;

using testing::NewChannel;

google::protobuf::Timestamp Ts(absl::Time t) {
  google::protobuf::Timestamp ts;
  ts.set_seconds(absl::ToUnixSeconds(t));
  ts.set_nanos(static_cast<int32_t>((t - absl::FromUnixSeconds(ts.seconds())) / absl::Nanoseconds(1)));
  return ts;
}

absl::Time At(int y, int m, int d, int hh = 0, int mm = 0, int ss = 0) {
  return absl::FromCivil(absl::CivilSecond(y, m, d, hh, mm, ss), absl::UTCTimeZone());
}

v1::Event Referral() {
  v1::Event e = testing::CaseReferredEvent();
  e.mutable_case_referred()->add_central_person_ids("cp-1");
  return e;
}

v1::Event Retract(const std::string& event_id, const std::string& reason = "entered twice") {
  v1::Event e = testing::EventOn(2023, 12, 1);
  e.mutable_event_retracted()->set_retracted_event_id(event_id);
  e.mutable_event_retracted()->set_reason(reason);
  return e;
}

v1::AppendRequest Request(const std::string& case_id, const std::vector<v1::Event>& events) {
  v1::AppendRequest r;
  r.set_case_id(case_id);
  for (const auto& e : events) *r.add_events() = e;
  return r;
}

grpc::Status Append(const std::string& address, const std::string& case_id, const std::vector<v1::Event>& events) {
  auto stub = v1::IngestService::NewStub(NewChannel(address));
  grpc::ClientContext context;
  context.AddMetadata("kring-purpose", kPurpose);
  context.set_deadline(std::chrono::system_clock::now() + seconds(30));
  v1::AppendResult result;
  return stub->Append(&context, Request(case_id, events), &result);
}

// An in-process KringServer on a loopback port.
std::unique_ptr<services::KringServer> StartServer(const testing::TempDir& dir,
                                                   std::function<absl::Time()> clock = nullptr,
                                                   milliseconds shutdown_timeout = milliseconds(10000)) {
  services::ServerOptions options;
  options.data_dir = dir.Sub("data");
  options.listen = "127.0.0.1:0";
  options.shutdown_timeout = shutdown_timeout;
  options.clock = std::move(clock);
  auto server = services::KringServer::Start(options);
  EXPECT_TRUE(server.ok()) << server.status();
  return server.ok() ? *std::move(server) : nullptr;
}

// ---------------------------------------------------------------------------
// ReadCase as known at, and the kringctl commands, on a case recorded on
// three days
// ---------------------------------------------------------------------------

// 2024-03-01 09:00  v1-v4  referral, coordinator, p-1 invited, a cost
// 2024-03-05 14:00  v5-v6  p-2 invited, another cost
// 2024-03-12 10:00  v7     the first cost (v4) retracted
class AuditCaseTest : public ::testing::Test {
 protected:
  static constexpr char kCase[] = "audit-case-1";
  static inline const absl::Time kDay1 = At(2024, 3, 1, 9);
  static inline const absl::Time kDay2 = At(2024, 3, 5, 14);
  static inline const absl::Time kDay3 = At(2024, 3, 12, 10);

  void SetUp() override {
    now_ = kDay1;
    server_ = StartServer(dir_, [this] {
      std::lock_guard<std::mutex> lock(clock_mu_);
      return now_;
    });
    ASSERT_NE(server_, nullptr);
    ids_.clear();
    std::vector<v1::Event> day1 = {Referral(), testing::CoordinatorAssignedEvent("coord-1"),
                                   testing::ParticipantInvitedEvent("p-1", v1::RELATION_FAMILY),
                                   testing::CostRecordedEvent(400000)};
    std::vector<v1::Event> day2 = {testing::ParticipantInvitedEvent("p-2", v1::RELATION_FRIEND),
                                   testing::CostRecordedEvent(250000)};
    std::vector<v1::Event> day3 = {Retract(day1[3].event_id())};
    for (const auto* day : {&day1, &day2, &day3}) {
      for (const auto& e : *day) ids_.push_back(e.event_id());
    }
    SetNow(kDay1);
    ASSERT_TRUE(Append(server_->address(), kCase, day1).ok());
    SetNow(kDay2);
    ASSERT_TRUE(Append(server_->address(), kCase, day2).ok());
    SetNow(kDay3);
    ASSERT_TRUE(Append(server_->address(), kCase, day3).ok());
  }

  void SetNow(absl::Time t) {
    std::lock_guard<std::mutex> lock(clock_mu_);
    now_ = t;
  }

  grpc::Status ReadCase(const std::string& case_id, std::optional<absl::Time> as_known_at,
                        v1::ReadCaseResponse* response) {
    v1::ReadCaseRequest request;
    request.set_case_id(case_id);
    if (as_known_at) *request.mutable_as_known_at() = Ts(*as_known_at);
    return ReadCase(request, response);
  }
  grpc::Status ReadCase(const v1::ReadCaseRequest& request, v1::ReadCaseResponse* response) {
    auto stub = v1::AuditService::NewStub(NewChannel(server_->address()));
    grpc::ClientContext context;
    context.AddMetadata("kring-purpose", kPurpose);
    context.set_deadline(std::chrono::system_clock::now() + seconds(30));
    return stub->ReadCase(&context, request, response);
  }

  // What a read shows: per event "v<version>" and "(retracted by v<n>)".
  std::string Shown(const v1::ReadCaseResponse& r) {
    std::string out = absl::StrCat("version ", r.version(), ":");
    for (const auto& a : r.events()) {
      absl::StrAppend(&out, " v", a.event().stream_version());
      if (a.retracted()) {
        const auto& ids = ids_;
        const size_t by = std::find(ids.begin(), ids.end(), a.retracted_by_event_id()) - ids.begin() + 1;
        absl::StrAppend(&out, "(retracted by v", by, ")");
      }
    }
    return out;
  }

  std::string Kringctl(const std::string& args) {
    return absl::StrCat(KRING_KRINGCTL_PATH, " --server ", server_->address(), " --purpose '", kPurpose, "' ", args);
  }

  testing::TempDir dir_;
  std::mutex clock_mu_;
  absl::Time now_;
  std::unique_ptr<services::KringServer> server_;
  std::vector<std::string> ids_;  // event ids by version - 1
};

TEST_F(AuditCaseTest, ReadsTheCaseAsKnownAtEachChosenInstant) {
  v1::ReadCaseResponse r;
  // Before the case existed: OK, version 0, nothing.
  ASSERT_TRUE(ReadCase(kCase, At(2024, 2, 29, 23, 59, 59), &r).ok());
  EXPECT_EQ(r.case_id(), kCase);
  EXPECT_EQ(Shown(r), "version 0:");

  // The first of the three chosen dates: after day 1.
  r.Clear();
  ASSERT_TRUE(ReadCase(kCase, At(2024, 3, 3, 12), &r).ok());
  EXPECT_EQ(Shown(r), "version 4: v1 v2 v3 v4");
  for (int i = 0; i < r.events_size(); ++i) {
    EXPECT_EQ(r.events(i).event().event().event_id(), ids_[i]);
    EXPECT_EQ(r.events(i).event().stream_version(), i + 1u);
    EXPECT_EQ(absl::FromUnixSeconds(r.events(i).event().recorded_at().seconds()), kDay1) << "transaction time";
    EXPECT_EQ(r.events(i).event().recorded_at().nanos(), 0);
  }
  EXPECT_TRUE(r.events(0).event().event().has_case_referred());

  // The second: after day 2, before the retraction.
  r.Clear();
  ASSERT_TRUE(ReadCase(kCase, At(2024, 3, 8), &r).ok());
  EXPECT_EQ(Shown(r), "version 6: v1 v2 v3 v4 v5 v6");
  EXPECT_EQ(absl::FromUnixSeconds(r.events(5).event().recorded_at().seconds()), kDay2);

  // The third: after the retraction; it is shown, and marks what it withdraws.
  r.Clear();
  ASSERT_TRUE(ReadCase(kCase, At(2024, 3, 20), &r).ok());
  EXPECT_EQ(Shown(r), "version 7: v1 v2 v3 v4(retracted by v7) v5 v6 v7");
  EXPECT_EQ(r.events(3).retracted_by_event_id(), ids_[6]);
  EXPECT_TRUE(r.events(6).event().event().has_event_retracted());
  EXPECT_FALSE(r.events(6).retracted());

  // Boundaries are inclusive: recorded_at <= as_known_at.
  r.Clear();
  ASSERT_TRUE(ReadCase(kCase, kDay2, &r).ok());
  EXPECT_EQ(Shown(r), "version 6: v1 v2 v3 v4 v5 v6");
  r.Clear();
  ASSERT_TRUE(ReadCase(kCase, kDay2 - absl::Nanoseconds(1), &r).ok());
  EXPECT_EQ(Shown(r), "version 4: v1 v2 v3 v4");
  r.Clear();
  ASSERT_TRUE(ReadCase(kCase, kDay1, &r).ok());
  EXPECT_EQ(Shown(r), "version 4: v1 v2 v3 v4");

  // Without as_known_at: everything, retractions applied.
  r.Clear();
  ASSERT_TRUE(ReadCase(kCase, std::nullopt, &r).ok());
  EXPECT_EQ(Shown(r), "version 7: v1 v2 v3 v4(retracted by v7) v5 v6 v7");
}

TEST_F(AuditCaseTest, RefusesBadRequestsNamingTheFieldAndAnUnknownCaseWithNotFound) {
  v1::ReadCaseResponse r;
  grpc::Status s = ReadCase("not a case id", std::nullopt, &r);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(s.error_message().rfind("case_id: ", 0), 0u) << s.error_message();

  v1::ReadCaseRequest request;
  request.set_case_id(kCase);
  request.mutable_as_known_at()->set_seconds(absl::ToUnixSeconds(kDay2));
  request.mutable_as_known_at()->set_nanos(-1);
  s = ReadCase(request, &r);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(s.error_message(), "as_known_at.nanos: must lie in 0..999999999");

  s = ReadCase("no-such-case", std::nullopt, &r);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(s.error_message(), "case_id: no events recorded for this case");
  // Unknown even at a time: NOT_FOUND, not version 0.
  s = ReadCase("no-such-case", kDay3, &r);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND);
}

int ExitCode(const testing::CommandResult& r) { return WIFEXITED(r.status) ? WEXITSTATUS(r.status) : -1; }

TEST_F(AuditCaseTest, KringctlCaseShowPrintsATableOrJson) {
  auto r = testing::RunCommand(Kringctl(absl::StrCat("case show ", kCase, " 2>&1")));
  ASSERT_EQ(ExitCode(r), 0) << r.output;
  EXPECT_NE(r.output.find("Case audit-case-1: version 7 (everything recorded)"), std::string::npos) << r.output;
  EXPECT_TRUE(std::regex_search(r.output, std::regex(R"(\n +4 +4  2024-03-01 09:00:00  2023-06-01 12:00  )"
                                                     R"(CostRecorded +by v7 +\S+ +kind=CONFERENCE amount=4000\.00 )"
                                                     R"(currency=EUR\n)")))
      << r.output;
  EXPECT_TRUE(
      std::regex_search(r.output, std::regex(R"(\n +7 +7  2024-03-12 10:00:00 .* EventRetracted .* retracts v4\n)")))
      << r.output;
  EXPECT_TRUE(
      std::regex_search(r.output, std::regex(R"(CaseReferred .*domain=YOUTH_PROTECTION .*central_person_ids:1)")))
      << r.output;
  EXPECT_EQ(r.output.find("cp-1"), std::string::npos) << "no ids of people in the summary";
  EXPECT_EQ(r.output.find("entered twice"), std::string::npos) << "no free text in the summary";

  // A date means the end of that day (UTC).
  r = testing::RunCommand(Kringctl(absl::StrCat("case show ", kCase, " --as-known-at 2024-03-05 2>&1")));
  ASSERT_EQ(ExitCode(r), 0) << r.output;
  EXPECT_NE(r.output.find("version 6 (as known at 2024-03-05T23:59:59.999999999Z)"), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("by v7"), std::string::npos) << r.output;
  r = testing::RunCommand(Kringctl(absl::StrCat("case show ", kCase, " --as-known-at 2024-02-01T00:00:00Z 2>&1")));
  ASSERT_EQ(ExitCode(r), 0) << r.output;
  EXPECT_NE(r.output.find("version 0"), std::string::npos) << r.output;

  r = testing::RunCommand(Kringctl(absl::StrCat("case show ", kCase, " --json --as-known-at 2024-03-20")));
  ASSERT_EQ(ExitCode(r), 0) << r.output;
  const auto j = nlohmann::json::parse(r.output);
  EXPECT_EQ(j["version"], 7);
  ASSERT_EQ(j["events"].size(), 7u);
  EXPECT_EQ(j["events"][3]["retracted"], true);
  EXPECT_EQ(j["events"][3]["retracted_by_event_id"], ids_[6]);
  EXPECT_EQ(j["events"][3]["event"]["cost_recorded"]["amount_cents"], "400000");  // int64: a string in JSON
  EXPECT_EQ(j["events"][0]["recorded_at"], "2024-03-01T09:00:00Z");
  EXPECT_EQ(j["events"][0]["source"], "local");  // development mode's identity

  r = testing::RunCommand(Kringctl("case show no-such-case 2>&1"));
  EXPECT_EQ(ExitCode(r), 1) << r.output;
  EXPECT_NE(r.output.find("case_id: no events recorded"), std::string::npos) << r.output;
  r = testing::RunCommand(Kringctl(absl::StrCat("case show ", kCase, " --as-known-at yesterday 2>&1")));
  EXPECT_EQ(ExitCode(r), 2) << r.output;
  r = testing::RunCommand(Kringctl("case 2>&1"));
  EXPECT_EQ(ExitCode(r), 2) << r.output;
}

TEST_F(AuditCaseTest, KringctlExportWritesNdjsonWithHexHashesAndTailPrintsTheLog) {
  const std::string file = dir_.Sub("case.ndjson");
  auto r = testing::RunCommand(Kringctl(absl::StrCat("export --case ", kCase, " --output ", file, " 2>&1")));
  ASSERT_EQ(ExitCode(r), 0) << r.output;
  EXPECT_NE(r.output.find("exported 7 events"), std::string::npos) << r.output;
  std::ifstream in(file);
  std::string line;
  std::vector<nlohmann::ordered_json> lines;
  while (std::getline(in, line)) lines.push_back(nlohmann::ordered_json::parse(line));
  ASSERT_EQ(lines.size(), 7u);
  const std::regex hex("[0-9a-f]{64}");
  for (size_t i = 0; i < lines.size(); ++i) {
    const auto& l = lines[i];
    std::vector<std::string> keys;
    for (auto it = l.begin(); it != l.end(); ++it) keys.push_back(it.key());
    EXPECT_EQ(keys, (std::vector<std::string>{"case_id", "stream_version", "global_position", "recorded_at", "source",
                                              "event", "prev_hash", "case_prev_hash", "hash"}));
    EXPECT_EQ(l["case_id"], kCase);
    EXPECT_EQ(l["stream_version"], i + 1);
    EXPECT_EQ(l["global_position"], i + 1);
    EXPECT_EQ(l["event"]["event_id"], ids_[i]);
    EXPECT_TRUE(std::regex_match(l["hash"].get<std::string>(), hex)) << l.dump();
    if (i > 0) {
      EXPECT_EQ(l["prev_hash"], lines[i - 1]["hash"]);
      EXPECT_EQ(l["case_prev_hash"], lines[i - 1]["hash"]);
    }
  }
  // As of a time, and a range of the log to standard output.
  r = testing::RunCommand(
      Kringctl(absl::StrCat("export --case ", kCase, " --as-known-at 2024-03-05T14:00:00Z 2>/dev/null | wc -l")));
  EXPECT_EQ(r.output, "6\n");
  r = testing::RunCommand(Kringctl("export --from 2 --to 3 2>/dev/null"));
  ASSERT_EQ(ExitCode(r), 0) << r.output;
  std::istringstream range(r.output);
  std::vector<uint64_t> positions;
  while (std::getline(range, line)) positions.push_back(nlohmann::json::parse(line)["global_position"]);
  EXPECT_EQ(positions, (std::vector<uint64_t>{2, 3}));
  r = testing::RunCommand(Kringctl("export --from 3 --to 2 2>&1"));
  EXPECT_EQ(ExitCode(r), 2) << r.output;
  r = testing::RunCommand(Kringctl("export --case no-such-case 2>&1"));
  EXPECT_EQ(ExitCode(r), 1) << r.output;

  r = testing::RunCommand(Kringctl("tail -n 3 2>&1"));
  ASSERT_EQ(ExitCode(r), 0) << r.output;
  EXPECT_TRUE(std::regex_match(
      r.output, std::regex(R"( +5  2024-03-05 14:00:00  audit-case-1 +v5 +ParticipantInvited .*\n)"
                           R"( +6  .* v6 +CostRecorded .*\n)"
                           R"( +7  2024-03-12 10:00:00  .* v7 +EventRetracted +retracts event [0-9a-f]{8}\n)")))
      << r.output;
  r = testing::RunCommand(Kringctl("tail --from 7 --json"));
  ASSERT_EQ(ExitCode(r), 0) << r.output;
  EXPECT_EQ(nlohmann::json::parse(r.output)["event"]["event_retracted"]["retracted_event_id"], ids_[3]);
}

TEST_F(AuditCaseTest, KringctlVerifyExitsZeroWhenTheChainVerifies) {
  auto r = testing::RunCommand(Kringctl("verify 2>&1"));
  EXPECT_EQ(ExitCode(r), 0) << r.output;
  EXPECT_NE(r.output.find("OK: the hash chain of the log verifies"), std::string::npos) << r.output;
  EXPECT_TRUE(std::regex_search(r.output, std::regex("events verified +7\n"))) << r.output;
  r = testing::RunCommand(Kringctl(absl::StrCat("verify --json --case ", kCase)));
  ASSERT_EQ(ExitCode(r), 0) << r.output;
  const auto j = nlohmann::json::parse(r.output);
  EXPECT_EQ(j["ok"], true);
  EXPECT_EQ(j["events_verified"], 7);
  EXPECT_EQ(j["last_position"], 7);
  EXPECT_TRUE(std::regex_match(j["head_hash"].get<std::string>(), std::regex("[0-9a-f]{64}"))) << r.output;
  r = testing::RunCommand(Kringctl("verify --from 2 --to 5 --json"));
  ASSERT_EQ(ExitCode(r), 0) << r.output;
  EXPECT_EQ(nlohmann::json::parse(r.output)["events_verified"], 4);
  EXPECT_EQ(nlohmann::json::parse(r.output)["last_position"], 5);

  r = testing::RunCommand(Kringctl("verify --from 5 --to 2 2>&1"));
  EXPECT_EQ(ExitCode(r), 1) << r.output;
  EXPECT_NE(r.output.find("range.to: "), std::string::npos) << r.output;
  r = testing::RunCommand(Kringctl("verify --case no-such-case 2>&1"));
  EXPECT_EQ(ExitCode(r), 1) << r.output;
}

// ---------------------------------------------------------------------------
// ReadAll: end, follow, cancel, shutdown
// ---------------------------------------------------------------------------

class ReadAllTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = StartServer(dir_);
    ASSERT_NE(server_, nullptr);
    stub_ = v1::AuditService::NewStub(NewChannel(server_->address()));
  }

  // Reads a whole non-follow stream: the positions of every message.
  grpc::Status ReadAll(const v1::ReadAllRequest& request, std::vector<std::vector<uint64_t>>* messages,
                       uint64_t* head = nullptr) {
    grpc::ClientContext context;
    context.AddMetadata("kring-purpose", kPurpose);
    context.set_deadline(std::chrono::system_clock::now() + seconds(30));
    auto reader = stub_->ReadAll(&context, request);
    v1::ReadAllResponse m;
    while (reader->Read(&m)) {
      auto& positions = messages->emplace_back();
      for (const auto& e : m.events()) positions.push_back(e.global_position());
      if (head) *head = m.head_position();
    }
    return reader->Finish();
  }

  static v1::ReadAllRequest Request(uint64_t from, uint64_t to, uint32_t batch, bool follow = false) {
    v1::ReadAllRequest r;
    r.set_from_position(from);
    r.set_to_position(to);
    r.set_batch_size(batch);
    r.set_follow(follow);
    return r;
  }

  // Reads from a follow stream until `n` events came; their positions.
  static std::vector<uint64_t> ReadEvents(grpc::ClientReader<v1::ReadAllResponse>& reader, size_t n) {
    std::vector<uint64_t> out;
    v1::ReadAllResponse m;
    while (out.size() < n && reader.Read(&m)) {
      for (const auto& e : m.events()) out.push_back(e.global_position());
    }
    return out;
  }

  static std::vector<uint64_t> Range(uint64_t first, uint64_t last) {
    std::vector<uint64_t> out;
    for (uint64_t p = first; p <= last; ++p) out.push_back(p);
    return out;
  }

  testing::TempDir dir_;
  std::unique_ptr<services::KringServer> server_;
  std::unique_ptr<v1::AuditService::Stub> stub_;
};

TEST_F(ReadAllTest, EndsAtTheHeadInBatchesAndRefusesBadRequests) {
  std::vector<std::vector<uint64_t>> messages;
  // An empty log: no messages, OK.
  ASSERT_TRUE(ReadAll(Request(0, 0, 0), &messages).ok());
  EXPECT_TRUE(messages.empty());

  ASSERT_TRUE(Append(server_->address(), "c-1", testing::SomeEvents(6)).ok());
  ASSERT_TRUE(Append(server_->address(), "c-2", testing::SomeEvents(4)).ok());
  uint64_t head = 0;
  ASSERT_TRUE(ReadAll(Request(0, 0, 3), &messages, &head).ok());
  EXPECT_EQ(messages, (std::vector<std::vector<uint64_t>>{{1, 2, 3}, {4, 5, 6}, {7, 8, 9}, {10}}));
  EXPECT_EQ(head, 10u);

  messages.clear();
  ASSERT_TRUE(ReadAll(Request(4, 8, 0), &messages).ok());
  EXPECT_EQ(messages, (std::vector<std::vector<uint64_t>>{{4, 5, 6, 7, 8}}));
  messages.clear();
  ASSERT_TRUE(ReadAll(Request(9, 1000, 0), &messages).ok());  // past the head: ends at the head
  EXPECT_EQ(messages, (std::vector<std::vector<uint64_t>>{{9, 10}}));
  messages.clear();
  ASSERT_TRUE(ReadAll(Request(11, 0, 0), &messages).ok());
  EXPECT_TRUE(messages.empty());

  grpc::Status s = ReadAll(Request(1, 0, 10001), &messages);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(s.error_message(), "batch_size: must be at most 10000");
  s = ReadAll(Request(5, 4, 0), &messages);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(s.error_message().rfind("to_position: ", 0), 0u) << s.error_message();
}

TEST_F(ReadAllTest, FollowDeliversNewEventsAndEndsPromptlyWhenTheClientCancels) {
  ASSERT_TRUE(Append(server_->address(), "c-1", testing::SomeEvents(5)).ok());
  grpc::ClientContext context;
  context.AddMetadata("kring-purpose", kPurpose);
  auto reader = stub_->ReadAll(&context, Request(0, 0, 2, /*follow=*/true));
  EXPECT_EQ(ReadEvents(*reader, 5), Range(1, 5));

  // Appended after the stream caught up.
  ASSERT_TRUE(Append(server_->address(), "c-1", testing::MoreEvents(3)).ok());
  EXPECT_EQ(ReadEvents(*reader, 3), Range(6, 8));
  ASSERT_TRUE(Append(server_->address(), "c-2", testing::SomeEvents(1)).ok());
  EXPECT_EQ(ReadEvents(*reader, 1), Range(9, 9));

  // A follow stream with an end stops there.
  {
    grpc::ClientContext bounded;
    bounded.AddMetadata("kring-purpose", kPurpose);
    auto r2 = stub_->ReadAll(&bounded, Request(8, 11, 0, /*follow=*/true));
    EXPECT_EQ(ReadEvents(*r2, 2), Range(8, 9));
    ASSERT_TRUE(Append(server_->address(), "c-2", testing::MoreEvents(4)).ok());
    EXPECT_EQ(ReadEvents(*r2, 2), Range(10, 11));
    v1::ReadAllResponse extra;
    EXPECT_FALSE(r2->Read(&extra));
    EXPECT_TRUE(r2->Finish().ok());
  }
  EXPECT_EQ(ReadEvents(*reader, 4), Range(10, 13));

  // The client cancels while the stream waits for new events.
  context.TryCancel();
  v1::ReadAllResponse m;
  EXPECT_FALSE(reader->Read(&m));
  EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::CANCELLED);

  // The server holds no trace of it: a new follow stream works.
  grpc::ClientContext again;
  again.AddMetadata("kring-purpose", kPurpose);
  auto r3 = stub_->ReadAll(&again, Request(13, 0, 0, /*follow=*/true));
  EXPECT_EQ(ReadEvents(*r3, 1), Range(13, 13));
  again.TryCancel();
  EXPECT_EQ(r3->Finish().error_code(), grpc::StatusCode::CANCELLED);
}

TEST_F(ReadAllTest, FollowStreamsEndPromptlyWhenTheServerShutsDown) {
  // A server whose shutdown timeout is an hour: a stream left open would hold
  // its shutdown that long.
  server_.reset();
  server_ = StartServer(dir_, nullptr, std::chrono::hours(1));
  ASSERT_NE(server_, nullptr);
  stub_ = v1::AuditService::NewStub(NewChannel(server_->address()));
  ASSERT_TRUE(Append(server_->address(), "c-1", testing::SomeEvents(3)).ok());
  // Two waiting follow streams and one still reading.
  grpc::ClientContext c1, c2;
  c1.AddMetadata("kring-purpose", kPurpose);
  c2.AddMetadata("kring-purpose", kPurpose);
  auto r1 = stub_->ReadAll(&c1, Request(0, 0, 0, /*follow=*/true));
  auto r2 = stub_->ReadAll(&c2, Request(3, 0, 1, /*follow=*/true));
  EXPECT_EQ(ReadEvents(*r1, 3), Range(1, 3));
  EXPECT_EQ(ReadEvents(*r2, 1), Range(3, 3));

  // A stream left open would hold the shutdown for the hour: waiting two
  // minutes for it tells the two apart without a timing bound (a shutdown
  // that streams do not hold takes a few seconds, on a busy machine too).
  auto shutdown = std::async(std::launch::async, [this] { server_->Shutdown(); });
  ASSERT_EQ(shutdown.wait_for(seconds(120)), std::future_status::ready) << "Shutdown waits for follow streams";
  for (auto* r : {r1.get(), r2.get()}) {
    v1::ReadAllResponse m;
    EXPECT_FALSE(r->Read(&m));
    const grpc::Status s = r->Finish();
    EXPECT_TRUE(s.ok() || s.error_code() == grpc::StatusCode::CANCELLED) << s.error_message();
  }
}

// ---------------------------------------------------------------------------
// A slow reader of a large log, against a real kringd
// ---------------------------------------------------------------------------

uint64_t RssBytes(pid_t pid) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/status"));
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stoull(line.substr(6)) * 1024;  // "VmRSS:  12345 kB"
  }
  return 0;
}

TEST(ReadAllMemoryTest, ASlowReaderOfALargeLogKeepsTheServersMemoryBounded) {
  constexpr int kCases = 300;
  constexpr int kEventsPerCase = 1000;  // one batch each
  constexpr uint64_t kEvents = uint64_t{kCases} * kEventsPerCase;
  constexpr uint64_t kBoundBytes = 64 << 20;
  testing::TempDir dir;
  // A master key, so that the retractions can carry a sealed note (a
  // retraction's reason is at most 100 bytes).
  {
    std::ofstream key(dir.Sub("master.key"), std::ios::binary);
    key << std::string(32, 'k');
  }
  std::filesystem::permissions(dir.Sub("master.key"), std::filesystem::perms::owner_read);
  testing::KringdProcess kringd(dir.Sub("data"), {"--kafka-config", "queued.max.messages.kbytes=4096",
                                                  "--master-key-file", dir.Sub("master.key")});
  auto channel = NewChannel(kringd.address());

  // The log: per case a referral, then costs each followed by its retraction
  // with a 500-byte sealed note (~0.5 KB per event on average).
  {
    auto stub = v1::IngestService::NewStub(channel);
    grpc::ClientContext context;
    context.AddMetadata("kring-purpose", kPurpose);
    auto stream = stub->AppendStream(&context);
    std::atomic<uint64_t> acked{0}, refused{0};
    std::thread acks([&] {
      v1::AppendAck ack;
      while (stream->Read(&ack)) {
        acked += ack.result().last_stream_version();
        if (ack.code() != 0) ++refused;
      }
    });
    const std::string note(500, 'r');
    for (int c = 0; c < kCases; ++c) {
      std::vector<v1::Event> events = {Referral()};
      while (events.size() + 2 <= kEventsPerCase) {
        events.push_back(testing::CostRecordedEvent());
        events.push_back(Retract(events.back().event_id()));
        (*events.back().mutable_personal()->mutable_fields())["note"] = note;
      }
      while (events.size() < kEventsPerCase) events.push_back(testing::CostRecordedEvent());
      v1::AppendRequest request = Request(absl::StrCat("big-", c), events);
      request.set_request_id(c);
      ASSERT_TRUE(stream->Write(request));
    }
    stream->WritesDone();
    acks.join();
    ASSERT_TRUE(stream->Finish().ok());
    ASSERT_EQ(refused.load(), 0u);
    ASSERT_EQ(acked.load(), kEvents);
  }
  // The relay publishes the log to the embedded cluster and the read models
  // apply it (that work is part of the baseline, not of the read): wait until
  // every read model has applied the whole log, then until kringd's RSS
  // settles. The consumers' prefetch is capped (--kafka-config
  // queued.max.messages.kbytes) so that they add little noise.
  {
    auto research = v1::ResearchService::NewStub(channel);
    auto applied = [&](auto call) {
      grpc::ClientContext c;
      c.AddMetadata("kring-purpose", kPurpose);
      c.set_deadline(std::chrono::system_clock::now() + seconds(10));
      return call(c);
    };
    const auto deadline = steady_clock::now() + seconds(180);
    while (steady_clock::now() < deadline) {
      uint64_t least = kEvents;
      v1::NetworkSizeResponse n;
      v1::OutcomesResponse o;
      v1::FunnelResponse f;
      v1::SupportResponse s;
      applied([&](grpc::ClientContext& c) { return research->GetNetworkSize(&c, {}, &n); });
      applied([&](grpc::ClientContext& c) { return research->GetOutcomes(&c, {}, &o); });
      applied([&](grpc::ClientContext& c) { return research->GetFunnel(&c, {}, &f); });
      applied([&](grpc::ClientContext& c) { return research->GetSustainedSupport(&c, {}, &s); });
      for (uint64_t w : {n.watermark().events_applied(), o.watermark().events_applied(), f.watermark().events_applied(),
                         s.watermark().events_applied()}) {
        least = std::min(least, w);
      }
      if (least == kEvents) break;
      std::this_thread::sleep_for(milliseconds(500));
    }
  }
  {
    const auto deadline = steady_clock::now() + seconds(90);
    uint64_t last = RssBytes(kringd.pid());
    int stable = 0;
    while (stable < 6 && steady_clock::now() < deadline) {
      std::this_thread::sleep_for(milliseconds(500));
      const uint64_t now = RssBytes(kringd.pid());
      stable = (now > last ? now - last : last - now) < (2u << 20) ? stable + 1 : 0;
      last = now;
    }
  }
  const uint64_t before = RssBytes(kringd.pid());
  ASSERT_GT(before, 0u);

  auto stub = v1::AuditService::NewStub(channel);
  grpc::ClientContext context;
  context.AddMetadata("kring-purpose", kPurpose);
  v1::ReadAllRequest request;
  request.set_batch_size(1000);
  auto reader = stub->ReadAll(&context, request);
  uint64_t next = 1, log_bytes = 0, peak = before;
  v1::ReadAllResponse m;
  auto take = [&](const v1::ReadAllResponse& m) {
    for (const auto& e : m.events()) {
      ASSERT_EQ(e.global_position(), next) << "every position, in order";
      ++next;
      log_bytes += e.ByteSizeLong();
    }
  };
  // Slowly: one message (1000 events) every 100 ms for 5 s.
  for (int i = 0; i < 50 && reader->Read(&m); ++i) {
    take(m);
    std::this_thread::sleep_for(milliseconds(100));
    peak = std::max(peak, RssBytes(kringd.pid()));
  }
  const uint64_t slow_events = next - 1;
  // Then the rest as fast as it comes.
  while (reader->Read(&m)) {
    take(m);
    if (next % 20000 < 1000) peak = std::max(peak, RssBytes(kringd.pid()));
  }
  ASSERT_TRUE(reader->Finish().ok());
  EXPECT_EQ(next - 1, kEvents);
  const uint64_t growth = peak - before;
  std::cout << "log " << log_bytes / 1048576.0 << " MiB in " << kEvents << " events; kringd RSS " << before / 1048576.0
            << " MiB before the read, peak growth " << growth / 1048576.0 << " MiB (" << slow_events
            << " events read slowly)\n";
  EXPECT_GT(log_bytes, 100u << 20) << "the log must be far larger than the bound";
  EXPECT_LT(growth, kBoundBytes);
}

}  // namespace
}  // namespace kring
