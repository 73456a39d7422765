// The partner API of issue 15 against a real kringd with partner identities:
// the google.rpc.ErrorInfo of a wrong expected version (unary Append and the
// AppendStream acknowledgement), IngestService.ReadCaseHead (own case, a
// foreign case refused as an append, a case without events, a closed case,
// an identity with every role, the access-log entry), and kringctl append and
// case-head as a partner runs them.
#include <google/protobuf/util/json_util.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "cli/append_file.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "kring/v1/audit.grpc.pb.h"
#include "kring/v1/ingest.grpc.pb.h"
#include "security/auth.h"
#include "tests/testing/kringd_process.h"
#include "tests/testing/test_support.h"

namespace kring {
namespace {

constexpr char kPurpose[] = "partner api test: resume after ABORTED";

struct Caller {
  std::string token;    // "" sends no authorization metadata
  std::string purpose;  // "" sends no kring-purpose metadata
};

std::unique_ptr<grpc::ClientContext> Context(const Caller& caller) {
  auto context = std::make_unique<grpc::ClientContext>();
  context->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  if (!caller.token.empty()) context->AddMetadata("authorization", "Bearer " + caller.token);
  if (!caller.purpose.empty()) context->AddMetadata("kring-purpose", caller.purpose);
  return context;
}

// The google.rpc.ErrorInfo among `details`, if there is one.
std::optional<google::rpc::ErrorInfo> FindErrorInfo(
    const google::protobuf::RepeatedPtrField<google::protobuf::Any>& details) {
  for (const google::protobuf::Any& any : details) {
    google::rpc::ErrorInfo info;
    if (any.UnpackTo(&info)) return info;
  }
  return std::nullopt;
}

// The details a unary call's status carries in grpc-status-details-bin.
google::protobuf::RepeatedPtrField<google::protobuf::Any> DetailsOf(const grpc::Status& s) {
  google::rpc::Status rpc;
  EXPECT_TRUE(rpc.ParseFromString(s.error_details())) << "grpc-status-details-bin is not a google.rpc.Status";
  EXPECT_EQ(rpc.code(), static_cast<int>(s.error_code()));
  EXPECT_EQ(rpc.message(), s.error_message());
  return rpc.details();
}

v1::Event ClosedEvent() {
  v1::Event e = testing::EventOn(2023, 10, 1);
  e.mutable_case_closed()->set_end_reason(v1::END_REASON_COMPLETED_AS_PLANNED);
  return e;
}

int ExitCode(const testing::CommandResult& r) { return WIFEXITED(r.status) ? WEXITSTATUS(r.status) : -1; }

// A kringd with identities: partners a and b, an auditor (tokens).
class PartnerApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string identities = "# role name credential\n";
    for (const auto& [name, role] : std::vector<std::pair<std::string, std::string>>{
             {"partner-a", "partner"}, {"partner-b", "partner"}, {"auditor-1", "auditor"}}) {
      tokens_[name] = "krt_test_" + name + "_" + testing::NewUuid();
      identities += absl::StrCat(role, "  ", name, "  sha256:", security::TokenHash(tokens_[name]), "\n");
      std::ofstream(dir_.Sub(name + ".token")) << tokens_[name] << "\n";
    }
    std::ofstream(dir_.Sub("identities")) << identities;
    Start({"--identities", dir_.Sub("identities"), "--embedded-kafka-in-production"});
  }
  void TearDown() override {
    if (server_) server_->Terminate();
  }

  void Start(const std::vector<std::string>& args) {
    server_ = std::make_unique<testing::KringdProcess>(dir_.Sub("data"), args);
    channel_ = testing::NewChannel(server_->address());
  }
  void Stop() {
    ASSERT_EQ(server_->Terminate(), 0);
    server_.reset();
  }

  Caller As(const std::string& name, const std::string& purpose = kPurpose) const {
    return {tokens_.at(name), purpose};
  }

  grpc::Status Append(const Caller& caller, const std::string& case_id, const std::vector<v1::Event>& events,
                      std::optional<v1::ExpectedVersion> expected = std::nullopt, v1::AppendResult* result = nullptr) {
    v1::AppendRequest request;
    request.set_case_id(case_id);
    if (expected) *request.mutable_expected_version() = *expected;
    for (const auto& e : events) *request.add_events() = e;
    v1::AppendResult ignored;
    return v1::IngestService::NewStub(channel_)->Append(Context(caller).get(), request, result ? result : &ignored);
  }

  grpc::Status ReadHead(const Caller& caller, const std::string& case_id, v1::CaseHead* head) {
    v1::ReadCaseHeadRequest request;
    request.set_case_id(case_id);
    return v1::IngestService::NewStub(channel_)->ReadCaseHead(Context(caller).get(), request, head);
  }

  std::vector<v1::AccessLogEntry> AccessLog(const std::string& case_id) {
    v1::ReadAccessLogRequest request;
    request.set_case_id(case_id);
    request.set_limit(1000);
    v1::ReadAccessLogResponse response;
    const grpc::Status s = v1::AuditService::NewStub(channel_)->ReadAccessLog(
        Context(As("auditor-1", "partner api test: check the access log")).get(), request, &response);
    EXPECT_TRUE(s.ok()) << s.error_message();
    std::vector<v1::AccessLogEntry> out;
    for (const auto& e : response.entries()) {
      if (e.rpc() == "IngestService.ReadCaseHead") out.push_back(e);
    }
    return out;
  }

  static v1::ExpectedVersion Exact(uint64_t v) {
    v1::ExpectedVersion e;
    e.set_exact(v);
    return e;
  }
  static v1::ExpectedVersion NoStream() {
    v1::ExpectedVersion e;
    e.set_no_stream(true);
    return e;
  }

  std::string Kringctl(const std::string& as) const {
    return absl::StrCat(KRING_KRINGCTL_PATH, " --server ", server_->address(), " --token-file ",
                        dir_.Sub(as + ".token"));
  }

  testing::TempDir dir_;
  std::map<std::string, std::string> tokens_;
  std::unique_ptr<testing::KringdProcess> server_;
  std::shared_ptr<grpc::Channel> channel_;
};

// ---------------------------------------------------------------------------
// ErrorInfo on ABORTED
// ---------------------------------------------------------------------------

TEST_F(PartnerApiTest, UnaryAppendWithAWrongExpectedVersionCarriesErrorInfoWithBothVersions) {
  const std::string c = "SYNTHETIC-errinfo-1";
  ASSERT_TRUE(Append(As("partner-a"), c, testing::SomeEvents(3), NoStream()).ok());

  const grpc::Status stale = Append(As("partner-a"), c, testing::MoreEvents(1), Exact(1));
  ASSERT_EQ(stale.error_code(), grpc::StatusCode::ABORTED);
  // The text as before, for people.
  EXPECT_EQ(stale.error_message(),
            "expected_version: expected version 1, but the case is at version 3 "
            "(current_version=3)");
  const auto info = FindErrorInfo(DetailsOf(stale));
  ASSERT_TRUE(info.has_value()) << "no google.rpc.ErrorInfo in grpc-status-details-bin";
  EXPECT_EQ(info->reason(), "WRONG_EXPECTED_VERSION");
  EXPECT_EQ(info->domain(), "kring.v1");
  EXPECT_EQ(info->metadata().size(), 2u) << "versions only: nothing about the case itself";
  EXPECT_EQ(info->metadata().at("current_version"), "3");
  EXPECT_EQ(info->metadata().at("expected_version"), "1");

  const grpc::Status exists = Append(As("partner-a"), c, testing::MoreEvents(1), NoStream());
  ASSERT_EQ(exists.error_code(), grpc::StatusCode::ABORTED);
  const auto no_stream = FindErrorInfo(DetailsOf(exists));
  ASSERT_TRUE(no_stream.has_value());
  EXPECT_EQ(no_stream->metadata().at("current_version"), "3");
  EXPECT_EQ(no_stream->metadata().at("expected_version"), "no_stream");

  // The current version from the ErrorInfo is the one the next append needs.
  EXPECT_TRUE(Append(As("partner-a"), c, testing::MoreEvents(1), Exact(3)).ok());
}

TEST_F(PartnerApiTest, StreamAcknowledgementOfAWrongExpectedVersionCarriesErrorInfo) {
  const std::string c = "SYNTHETIC-errinfo-2";
  ASSERT_TRUE(Append(As("partner-a"), c, testing::SomeEvents(2)).ok());

  auto context = Context(As("partner-a"));
  auto stream = v1::IngestService::NewStub(channel_)->AppendStream(context.get());
  v1::AppendRequest request;
  request.set_case_id(c);
  request.set_request_id(7);
  *request.mutable_expected_version() = Exact(5);
  *request.add_events() = testing::MoreEvents(1)[0];
  ASSERT_TRUE(stream->Write(request));
  v1::AppendAck ack;
  ASSERT_TRUE(stream->Read(&ack));
  stream->WritesDone();
  EXPECT_TRUE(stream->Finish().ok());

  EXPECT_EQ(ack.request_id(), 7u);
  EXPECT_EQ(ack.code(), static_cast<int>(grpc::StatusCode::ABORTED));
  const auto info = FindErrorInfo(ack.details());
  ASSERT_TRUE(info.has_value()) << "no google.rpc.ErrorInfo in AppendAck.details";
  EXPECT_EQ(info->reason(), "WRONG_EXPECTED_VERSION");
  EXPECT_EQ(info->domain(), "kring.v1");
  EXPECT_EQ(info->metadata().at("current_version"), "2");
  EXPECT_EQ(info->metadata().at("expected_version"), "5");

  // kringctl's rendering of that acknowledgement names both versions.
  const auto errors = client::LocateServerErrors(ack.code(), ack.message(), ack.details(), {4});
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(client::FormatLineError("f", errors[0]),
            "f:4: ABORTED: expected_version: expected version 5, but the case is at version 2 (current_version=2) "
            "[WRONG_EXPECTED_VERSION current_version=2 expected_version=5]");
}

// ---------------------------------------------------------------------------
// ReadCaseHead
// ---------------------------------------------------------------------------

TEST_F(PartnerApiTest, ReadCaseHeadAnswersThePartnersOwnCaseWithTheVersionTheNextAppendNeeds) {
  const std::string c = "SYNTHETIC-head-1";
  v1::AppendResult first, second;
  ASSERT_TRUE(Append(As("partner-a"), c, testing::SomeEvents(3), NoStream(), &first).ok());
  const std::vector<v1::Event> more = testing::MoreEvents(2);
  ASSERT_TRUE(Append(As("partner-a"), c, more, Exact(3), &second).ok());

  v1::CaseHead head;
  const grpc::Status s = ReadHead(As("partner-a"), c, &head);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(head.case_id(), c);
  EXPECT_TRUE(head.exists());
  EXPECT_EQ(head.version(), 5u);
  EXPECT_EQ(head.last_event_id(), more.back().event_id());
  EXPECT_EQ(head.last_global_position(), second.last_global_position());
  EXPECT_FALSE(head.closed());
  // It is what an exact append needs.
  EXPECT_TRUE(Append(As("partner-a"), c, testing::MoreEvents(1), Exact(head.version())).ok());
}

TEST_F(PartnerApiTest, ReadCaseHeadRefusesAnotherPartnersCaseExactlyAsAnAppendWould) {
  const std::string c = "SYNTHETIC-head-2";
  ASSERT_TRUE(Append(As("partner-a"), c, testing::SomeEvents(2)).ok());

  v1::CaseHead head;
  const grpc::Status read = ReadHead(As("partner-b"), c, &head);
  const grpc::Status append = Append(As("partner-b"), c, testing::MoreEvents(1));
  ASSERT_EQ(append.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(read.error_code(), append.error_code());
  EXPECT_EQ(read.error_message(), append.error_message());
  EXPECT_EQ(read.error_details(), append.error_details());
  EXPECT_EQ(head.version(), 0u) << "a refused read says nothing about the case";

  // Once partner-a grants access, partner-b may read it, as it may append.
  v1::Event grant = testing::EventOn(2023, 2, 1);
  grant.mutable_case_access_granted()->set_partner("partner-b");
  ASSERT_TRUE(Append(As("partner-a"), c, {grant}).ok());
  const grpc::Status granted = ReadHead(As("partner-b"), c, &head);
  ASSERT_TRUE(granted.ok()) << granted.error_message();
  EXPECT_EQ(head.version(), 3u);
  EXPECT_EQ(head.last_event_id(), grant.event_id());
}

TEST_F(PartnerApiTest, ReadCaseHeadOfACaseWithoutEventsSaysItDoesNotExist) {
  v1::CaseHead head;
  head.set_version(99);
  const grpc::Status s = ReadHead(As("partner-b"), "SYNTHETIC-head-none", &head);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(head.case_id(), "SYNTHETIC-head-none");
  EXPECT_FALSE(head.exists());
  EXPECT_EQ(head.version(), 0u);
  EXPECT_EQ(head.last_event_id(), "");
  EXPECT_EQ(head.last_global_position(), 0u);
  EXPECT_FALSE(head.closed());
}

TEST_F(PartnerApiTest, ReadCaseHeadSaysWhenTheCaseIsClosed) {
  const std::string c = "SYNTHETIC-head-3";
  ASSERT_TRUE(Append(As("partner-a"), c, testing::SomeEvents(1)).ok());
  const v1::Event closed = ClosedEvent();
  ASSERT_TRUE(Append(As("partner-a"), c, {closed}).ok());
  v1::CaseHead head;
  ASSERT_TRUE(ReadHead(As("partner-a"), c, &head).ok());
  EXPECT_TRUE(head.closed());
  EXPECT_EQ(head.version(), 2u);

  // Retracting the closure reopens the case.
  ASSERT_TRUE(Append(As("partner-a"), c, {testing::RetractionOf(closed)}).ok());
  ASSERT_TRUE(ReadHead(As("partner-a"), c, &head).ok());
  EXPECT_FALSE(head.closed());
  EXPECT_EQ(head.version(), 3u);
}

TEST_F(PartnerApiTest, ReadCaseHeadRefusesBadRequestsAndOtherRoles) {
  v1::CaseHead head;
  grpc::Status s = ReadHead(As("partner-a"), "", &head);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(s.error_message().rfind("case_id: must be 1-64 characters", 0), 0u) << s.error_message();
  google::rpc::BadRequest bad;
  ASSERT_EQ(DetailsOf(s).size(), 1);
  ASSERT_TRUE(DetailsOf(s)[0].UnpackTo(&bad));
  EXPECT_EQ(bad.field_violations(0).field(), "case_id");

  s = ReadHead(As("partner-a", ""), "SYNTHETIC-head-4", &head);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(s.error_message().find("kring-purpose"), std::string::npos) << s.error_message();

  s = ReadHead(As("auditor-1"), "SYNTHETIC-head-4", &head);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  s = ReadHead(Caller{"", kPurpose}, "SYNTHETIC-head-4", &head);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_TRUE(AccessLog("SYNTHETIC-head-4").empty()) << "refused reads read nothing and are not recorded";
}

TEST_F(PartnerApiTest, ReadCaseHeadIsRecordedInTheAccessLogWithThePurpose) {
  const std::string c = "SYNTHETIC-head-5";
  ASSERT_TRUE(Append(As("partner-a"), c, testing::SomeEvents(1)).ok());
  v1::CaseHead head;
  ASSERT_TRUE(ReadHead(As("partner-a", "resume after ABORTED on batch 17"), c, &head).ok());
  ASSERT_EQ(ReadHead(As("partner-b"), c, &head).error_code(), grpc::StatusCode::PERMISSION_DENIED);

  const std::vector<v1::AccessLogEntry> entries = AccessLog(c);
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0].identity(), "partner-a");
  EXPECT_EQ(entries[0].role(), v1::ROLE_PARTNER);
  EXPECT_EQ(entries[0].case_id(), c);
  EXPECT_EQ(entries[0].scope(), "head");
  EXPECT_EQ(entries[0].purpose(), "resume after ABORTED on batch 17");

  // A case without events is a read too (it says the case does not exist).
  ASSERT_TRUE(ReadHead(As("partner-b"), "SYNTHETIC-head-6", &head).ok());
  ASSERT_EQ(AccessLog("SYNTHETIC-head-6").size(), 1u);
  EXPECT_EQ(AccessLog("SYNTHETIC-head-6")[0].identity(), "partner-b");
}

TEST_F(PartnerApiTest, AnIdentityWithEveryRoleReadsAnyCasesHead) {
  const std::string c = "SYNTHETIC-head-7";
  v1::AppendResult appended;
  ASSERT_TRUE(Append(As("partner-a"), c, testing::SomeEvents(2), NoStream(), &appended).ok());
  // The same data in development mode: the caller "local" has every role,
  // and partner-a referred the case.
  Stop();
  Start({});
  v1::CaseHead head;
  const grpc::Status s = ReadHead(Caller{"", kPurpose}, c, &head);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(head.version(), 2u);
  EXPECT_EQ(head.last_global_position(), appended.last_global_position());
}

// ---------------------------------------------------------------------------
// kringctl
// ---------------------------------------------------------------------------

TEST_F(PartnerApiTest, KringctlAppendPrintsEveryViolationOfARefusedBatch) {
  // One case, one batch: an event with three problems of form (BadRequest)
  // ...
  v1::Event referred = testing::CaseReferredEvent();
  referred.set_event_id("not-a-uuid");
  referred.mutable_case_referred()->set_domain(v1::DOMAIN_UNSPECIFIED);
  referred.mutable_case_referred()->set_municipality_code("Amsterdam");
  // ... and a case whose batch breaks two case rules (PreconditionFailure).
  const std::vector<v1::Event> rules = {
      testing::CaseReferredEvent(), testing::ConferenceHeldEvent({"nobody-1"}),  // no coordinator, not invited
  };
  auto line = [](const std::string& c, const v1::Event& e) {
    v1::CaseEvent ce;
    ce.set_case_id(c);
    *ce.mutable_event() = e;
    std::string out;
    google::protobuf::util::JsonPrintOptions options;
    options.preserve_proto_field_names = true;
    EXPECT_TRUE(google::protobuf::util::MessageToJsonString(ce, &out, options).ok());
    return out;
  };
  const std::string path = dir_.Sub("refused.ndjson");
  {
    std::ofstream out(path);
    out << line("SYNTHETIC-cli-1", referred) << "\n";
    for (const auto& e : rules) out << line("SYNTHETIC-cli-2", e) << "\n";
  }
  const auto r = testing::RunCommand(Kringctl("partner-a") + " append --no-progress --file " + path + " 2>&1");
  EXPECT_EQ(ExitCode(r), 1) << r.output;
  EXPECT_EQ(r.output.find("more in the error details"), std::string::npos) << r.output;
  for (const std::string& expected : {
           path + ":1: INVALID_ARGUMENT: event.event_id: ",
           path + ":1: INVALID_ARGUMENT: event.case_referred.domain: ",
           path + ":1: INVALID_ARGUMENT: event.case_referred.municipality_code: ",
       }) {
    EXPECT_NE(r.output.find(expected), std::string::npos) << "missing \"" << expected << "\" in\n" << r.output;
  }
  EXPECT_NE(r.output.find(path + ":3: FAILED_PRECONDITION: event.conference_held"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("(rule "), std::string::npos) << r.output;
}

TEST_F(PartnerApiTest, KringctlCaseHeadPrintsTheHeadAsATableAndAsJson) {
  const std::string c = "SYNTHETIC-cli-3";
  v1::AppendResult appended;
  const std::vector<v1::Event> events = testing::SomeEvents(2);
  ASSERT_TRUE(Append(As("partner-a"), c, events, NoStream(), &appended).ok());
  const std::string purpose = " --purpose 'resume after ABORTED'";

  auto r = testing::RunCommand(Kringctl("partner-a") + purpose + " case-head --case " + c + " 2>&1");
  ASSERT_EQ(ExitCode(r), 0) << r.output;
  EXPECT_NE(r.output.find("exists                 true\n"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("version                2\n"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("last_event_id          " + events.back().event_id() + "\n"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("closed                 false\n"), std::string::npos) << r.output;

  r = testing::RunCommand(Kringctl("partner-a") + purpose + " case-head --json --case " + c + " 2>/dev/null");
  ASSERT_EQ(ExitCode(r), 0) << r.output;
  const auto j = nlohmann::json::parse(r.output);
  EXPECT_EQ(j["case_id"], c);
  EXPECT_EQ(j["exists"], true);
  EXPECT_EQ(j["version"], "2");  // uint64 is a string in the protobuf JSON mapping
  EXPECT_EQ(j["last_event_id"], events.back().event_id());
  EXPECT_EQ(j["last_global_position"], std::to_string(appended.last_global_position()));
  EXPECT_EQ(j["closed"], false);

  // Refused like an append: exit 1 with the server's reason.
  r = testing::RunCommand(Kringctl("partner-b") + purpose + " case-head --case " + c + " 2>&1");
  EXPECT_EQ(ExitCode(r), 1) << r.output;
  EXPECT_NE(r.output.find("PERMISSION_DENIED: "), std::string::npos) << r.output;
  // Without --purpose: usage, nothing sent.
  r = testing::RunCommand(Kringctl("partner-a") + " case-head --case " + c + " 2>&1");
  EXPECT_EQ(ExitCode(r), 2) << r.output;
  EXPECT_NE(r.output.find("--purpose"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace kring
