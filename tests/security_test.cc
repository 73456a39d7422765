// Security and privacy (issue 6, docs/security.md), against in-process
// servers over real loopback sockets:
//  - no credentials: UNAUTHENTICATED; a known identity in the wrong role:
//    PERMISSION_DENIED, on every service;
//  - a partner appends only to cases it referred or was granted; the source
//    of every event is the authenticated identity;
//  - TLS and mTLS: a client certificate names the partner, one from another
//    CA fails the handshake, plaintext does not reach a TLS listener; a
//    non-loopback address needs TLS;
//  - erasure: a planted personal string is nowhere after it — not through the
//    audit API, not in the RocksDB files after compaction, not in the Kafka
//    topic — and the hash chain verifies;
//  - the access log: exactly one entry, with its purpose, per audited read;
//  - the master key: loose permissions refused, rotation keeps cases readable.
#include <google/protobuf/util/json_util.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <rocksdb/db.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "kring/v1/audit.grpc.pb.h"
#include "kring/v1/ingest.grpc.pb.h"
#include "kring/v1/research.grpc.pb.h"
#include "security/key_store.h"
#include "services/server.h"
#include "tests/testing/kringd_process.h"
#include "tests/testing/planted.h"
#include "tests/testing/test_support.h"

namespace kring {
namespace {

namespace fs = std::filesystem;
using testing::kPlantedPersonal;

std::string ReadAllBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

void WriteFile(const std::string& path, const std::string& content, mode_t mode = 0600) {
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << content;
  }
  ASSERT_EQ(chmod(path.c_str(), mode), 0);
}

// Every regular file under `dir` whose bytes contain `needle`.
std::vector<std::string> FilesContaining(const std::string& dir, const std::string& needle) {
  std::vector<std::string> found;
  for (const auto& entry : fs::recursive_directory_iterator(dir)) {
    if (entry.is_regular_file() && ReadAllBytes(entry.path()).find(needle) != std::string::npos) {
      found.push_back(entry.path());
    }
  }
  return found;
}

// Compacts every column family of the RocksDB database at `path` (closed
// by its owner) with the bottommost level forced, as operations would.
void CompactDatabase(const std::string& path) {
  std::vector<std::string> names;
  ASSERT_TRUE(rocksdb::DB::ListColumnFamilies(rocksdb::DBOptions(), path, &names).ok()) << path;
  std::vector<rocksdb::ColumnFamilyDescriptor> cfs;
  for (const auto& n : names) cfs.emplace_back(n, rocksdb::ColumnFamilyOptions());
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  ASSERT_TRUE(rocksdb::DB::Open(rocksdb::DBOptions(), path, cfs, &handles, &raw).ok()) << path;
  std::unique_ptr<rocksdb::DB> db(raw);
  rocksdb::CompactRangeOptions compact;
  compact.bottommost_level_compaction = rocksdb::BottommostLevelCompaction::kForce;
  for (auto* h : handles) {
    ASSERT_TRUE(db->Flush(rocksdb::FlushOptions(), h).ok());
    ASSERT_TRUE(db->CompactRange(compact, h, nullptr, nullptr).ok());
  }
  for (auto* h : handles) ASSERT_TRUE(db->DestroyColumnFamilyHandle(h).ok());
  ASSERT_TRUE(db->Close().ok());
}

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

// A server with identities (tokens for every role, certificates for the
// partners), a master key and test certificates; started by Start().
class SecurityTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto certs = testing::RunCommand(
        absl::StrCat(KRING_SOURCE_DIR, "/tests/testing/make_certs.sh ", dir_.Sub("certs"), " partner-a 2>&1"));
    ASSERT_EQ(certs.status, 0) << certs.output;
    std::string identities = "# role name credential\npartner partner-a cert\n";
    for (const auto& [name, role] : std::vector<std::pair<std::string, std::string>>{{"partner-a", "partner"},
                                                                                     {"partner-b", "partner"},
                                                                                     {"partner-c", "partner"},
                                                                                     {"researcher-1", "researcher"},
                                                                                     {"auditor-1", "auditor"},
                                                                                     {"operator-1", "operator"}}) {
      tokens_[name] = "krt_test_" + name + "_" + testing::NewUuid();
      identities += absl::StrCat(role, "  ", name, "  sha256:", security::TokenHash(tokens_[name]), "\n");
    }
    WriteFile(dir_.Sub("identities"), identities);
    std::string key(32, '\0');
    for (size_t i = 0; i < key.size(); ++i) key[i] = static_cast<char>(i * 7 + 3);
    WriteFile(dir_.Sub("master.key"), key);
    options_.data_dir = dir_.Sub("data");
    options_.listen = "127.0.0.1:0";
    options_.auth.identities_file = dir_.Sub("identities");
    options_.master_key_file = dir_.Sub("master.key");
    options_.shutdown_timeout = std::chrono::milliseconds(3000);
  }

  void Start() {
    auto server = services::KringServer::Start(options_);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    channel_ = testing::NewChannel(server_->address());
  }

  std::string Cert(const std::string& name) const { return ReadAllBytes(dir_.Sub("certs/" + name)); }
  void UseTls(bool mutual) {
    options_.auth.tls_cert_file = dir_.Sub("certs/server.pem");
    options_.auth.tls_key_file = dir_.Sub("certs/server.key");
    if (mutual) options_.auth.tls_client_ca_file = dir_.Sub("certs/ca.pem");
  }
  // A TLS channel to the server, with a client certificate when `client` is
  // given ("partner-a", "other-partner-a").
  std::shared_ptr<grpc::Channel> TlsChannel(const std::string& client = "") const {
    grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs = Cert("ca.pem");
    if (!client.empty()) {
      ssl.pem_private_key = Cert(client + ".key");
      ssl.pem_cert_chain = Cert(client + ".pem");
    }
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    return grpc::CreateCustomChannel(server_->address(), grpc::SslCredentials(ssl), args);
  }

  Caller As(const std::string& name, const std::string& purpose = "") const { return {tokens_.at(name), purpose}; }

  grpc::Status Append(const std::shared_ptr<grpc::Channel>& channel, const Caller& caller, const std::string& case_id,
                      const std::vector<v1::Event>& events, v1::AppendResult* result = nullptr) {
    v1::AppendRequest request;
    request.set_case_id(case_id);
    for (const auto& e : events) *request.add_events() = e;
    v1::AppendResult ignored;
    return v1::IngestService::NewStub(channel)->Append(Context(caller).get(), request, result ? result : &ignored);
  }
  grpc::Status Append(const Caller& caller, const std::string& case_id, const std::vector<v1::Event>& events,
                      v1::AppendResult* result = nullptr) {
    return Append(channel_, caller, case_id, events, result);
  }

  grpc::Status ReadCase(const Caller& caller, const std::string& case_id, v1::ReadCaseResponse* response) {
    v1::ReadCaseRequest request;
    request.set_case_id(case_id);
    return v1::AuditService::NewStub(channel_)->ReadCase(Context(caller).get(), request, response);
  }

  v1::ReadAccessLogResponse AccessLog(const std::string& case_id = "") {
    v1::ReadAccessLogRequest request;
    request.set_case_id(case_id);
    request.set_limit(10000);
    v1::ReadAccessLogResponse response;
    const grpc::Status s = v1::AuditService::NewStub(channel_)->ReadAccessLog(
        Context(As("auditor-1", "security test: check the access log")).get(), request, &response);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return response;
  }

  static v1::Event WithPersonal(v1::Event e, const std::map<std::string, std::string>& fields) {
    for (const auto& [k, v] : fields) (*e.mutable_personal()->mutable_fields())[k] = v;
    return e;
  }

  testing::TempDir dir_;
  services::ServerOptions options_;
  std::map<std::string, std::string> tokens_;
  std::unique_ptr<services::KringServer> server_;
  std::shared_ptr<grpc::Channel> channel_;
};

TEST_F(SecurityTest, NoCredentialsIsUnauthenticatedOnEveryService) {
  Start();
  const Caller nobody;
  EXPECT_EQ(Append(nobody, "case-1", {testing::CaseReferredEvent()}).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  const Caller unknown{"krt_not_a_token_this_server_knows", "audit"};
  const grpc::Status refused = Append(unknown, "case-1", {testing::CaseReferredEvent()});
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(refused.error_message().find("krt_not_a_token"), std::string::npos) << "never echo a token";

  v1::NetworkSizeRequest research;
  v1::NetworkSizeResponse answer;
  EXPECT_EQ(
      v1::ResearchService::NewStub(channel_)->GetNetworkSize(Context(nobody).get(), research, &answer).error_code(),
      grpc::StatusCode::UNAUTHENTICATED);
  v1::ReadCaseResponse read;
  EXPECT_EQ(ReadCase({"", "complaint 2026-17"}, "case-1", &read).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  v1::BackupRequest backup;
  backup.set_destination(dir_.Sub("backup"));
  v1::BackupResponse backed_up;
  EXPECT_EQ(v1::OperationsService::NewStub(channel_)->Backup(Context(nobody).get(), backup, &backed_up).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_FALSE(fs::exists(dir_.Sub("backup")));

  // Streams too: AppendStream and ReadAll end with UNAUTHENTICATED.
  auto context = Context(nobody);
  auto stream = v1::IngestService::NewStub(channel_)->AppendStream(context.get());
  v1::AppendRequest request;
  request.set_case_id("case-1");
  *request.add_events() = testing::CaseReferredEvent();
  stream->Write(request);
  stream->WritesDone();
  v1::AppendAck ack;
  EXPECT_FALSE(stream->Read(&ack));
  EXPECT_EQ(stream->Finish().error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(server_->store().Head().value(), 0u) << "nothing was appended";

  // A malformed authorization header is refused the same way.
  auto malformed = std::make_unique<grpc::ClientContext>();
  malformed->AddMetadata("authorization", "Basic dXNlcjpwYXNz");
  v1::AppendResult result;
  v1::AppendRequest one;
  one.set_case_id("case-1");
  *one.add_events() = testing::CaseReferredEvent();
  EXPECT_EQ(v1::IngestService::NewStub(channel_)->Append(malformed.get(), one, &result).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
}

TEST_F(SecurityTest, AValidIdentityInTheWrongRoleIsPermissionDenied) {
  Start();
  const grpc::Status researcher_appends = Append(As("researcher-1"), "case-1", {testing::CaseReferredEvent()});
  EXPECT_EQ(researcher_appends.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_NE(researcher_appends.error_message().find("partner role"), std::string::npos)
      << researcher_appends.error_message();

  ASSERT_TRUE(Append(As("partner-a"), "case-1", {testing::CaseReferredEvent()}).ok());
  v1::NetworkSizeResponse answer;
  EXPECT_EQ(v1::ResearchService::NewStub(channel_)
                ->GetNetworkSize(Context(As("partner-a")).get(), v1::NetworkSizeRequest(), &answer)
                .error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_TRUE(v1::ResearchService::NewStub(channel_)
                  ->GetNetworkSize(Context(As("researcher-1")).get(), v1::NetworkSizeRequest(), &answer)
                  .ok());

  v1::ReadCaseResponse read;
  EXPECT_EQ(ReadCase(As("partner-a", "my own case"), "case-1", &read).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(ReadCase(As("operator-1", "maintenance"), "case-1", &read).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(ReadCase(As("researcher-1", "study"), "case-1", &read).error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_TRUE(ReadCase(As("auditor-1", "complaint 2026-17"), "case-1", &read).ok());

  v1::ErasePersonalDataRequest erase;
  erase.set_case_id("case-1");
  v1::ErasePersonalDataResponse erased;
  EXPECT_EQ(v1::OperationsService::NewStub(channel_)
                ->ErasePersonalData(Context(As("auditor-1")).get(), erase, &erased)
                .error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  v1::RebuildRequest rebuild;
  rebuild.set_read_model("network-size");
  auto context = Context(As("partner-a"));
  auto progress = v1::OperationsService::NewStub(channel_)->Rebuild(context.get(), rebuild);
  v1::RebuildProgress p;
  while (progress->Read(&p)) {
  }
  EXPECT_EQ(progress->Finish().error_code(), grpc::StatusCode::PERMISSION_DENIED);

  // Refused reads leave no access-log entry; the one allowed read does.
  const v1::ReadAccessLogResponse log = AccessLog("case-1");
  ASSERT_EQ(log.entries_size(), 2);  // the ReadCase, and this ReadAccessLog
  EXPECT_EQ(log.entries(0).identity(), "auditor-1");
  EXPECT_EQ(log.entries(0).rpc(), "AuditService.ReadCase");
}

TEST_F(SecurityTest, APartnerAppendsOnlyToCasesItReferredOrWasGranted) {
  Start();
  ASSERT_TRUE(Append(As("partner-a"), "case-a", {testing::CaseReferredEvent()}).ok());
  ASSERT_TRUE(Append(As("partner-b"), "case-b", {testing::CaseReferredEvent()}).ok());

  const grpc::Status denied = Append(As("partner-a"), "case-b", {testing::CostRecordedEvent()});
  EXPECT_EQ(denied.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_NE(denied.error_message().find("neither referred this case nor was granted"), std::string::npos)
      << denied.error_message();
  EXPECT_EQ(Append(As("partner-b"), "case-a", {testing::CostRecordedEvent()}).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);

  // Only the referrer grants; a grant lets the other partner append.
  v1::Event grant = testing::EventOn(2023, 2, 1);
  grant.mutable_case_access_granted()->set_partner("partner-b");
  EXPECT_EQ(Append(As("partner-c"), "case-a", {grant}).error_code(), grpc::StatusCode::PERMISSION_DENIED);
  ASSERT_TRUE(Append(As("partner-a"), "case-a", {grant}).ok());
  ASSERT_TRUE(Append(As("partner-b"), "case-a", {testing::CostRecordedEvent()}).ok());
  v1::Event grant_c = testing::EventOn(2023, 2, 2);
  grant_c.mutable_case_access_granted()->set_partner("partner-c");
  const grpc::Status regrant = Append(As("partner-b"), "case-a", {grant_c});
  EXPECT_EQ(regrant.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_NE(regrant.error_message().find("only the partner that referred"), std::string::npos);
  EXPECT_EQ(Append(As("partner-c"), "case-a", {testing::CostRecordedEvent()}).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);

  // The source of every event is who sent it, whatever the client fills in.
  auto events = server_->store().ReadCase(CaseId("case-a"), StreamVersion(1));
  ASSERT_TRUE(events.ok());
  ASSERT_EQ(events->size(), 3u);
  EXPECT_EQ((*events)[0].source(), "partner-a");
  EXPECT_EQ((*events)[1].source(), "partner-a");
  EXPECT_EQ((*events)[2].source(), "partner-b");

  // Retracting the grant withdraws it; only the referrer may.
  const v1::Event withdraw = testing::RetractionOf(grant);
  EXPECT_EQ(Append(As("partner-b"), "case-a", {withdraw}).error_code(), grpc::StatusCode::PERMISSION_DENIED);
  ASSERT_TRUE(Append(As("partner-a"), "case-a", {withdraw}).ok());
  EXPECT_EQ(Append(As("partner-b"), "case-a", {testing::CostRecordedEvent()}).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_TRUE(Append(As("partner-a"), "case-a", {testing::CostRecordedEvent()}).ok());

  // A grant must name a well-formed identity.
  v1::Event bad = testing::EventOn(2023, 2, 3);
  bad.mutable_case_access_granted()->set_partner("partner b!");
  const grpc::Status malformed = Append(As("partner-a"), "case-a", {bad});
  EXPECT_EQ(malformed.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(malformed.error_message().find("events[0].case_access_granted.partner"), std::string::npos);
}

TEST_F(SecurityTest, MutualTlsNamesThePartnerAndACertificateFromAnotherCaFailsTheHandshake) {
  UseTls(/*mutual=*/true);
  Start();
  // The certificate's CN is the identity: the event's source is partner-a.
  v1::AppendResult result;
  const grpc::Status s = Append(TlsChannel("partner-a"), Caller{}, "case-tls", {testing::CaseReferredEvent()}, &result);
  ASSERT_TRUE(s.ok()) << s.error_message();
  auto events = server_->store().ReadCase(CaseId("case-tls"), StreamVersion(1));
  ASSERT_TRUE(events.ok());
  ASSERT_EQ(events->size(), 1u);
  EXPECT_EQ(events->front().source(), "partner-a");

  // Same CN, another CA: the handshake fails, nothing reaches a service.
  auto other = TlsChannel("other-partner-a");
  EXPECT_FALSE(other->WaitForConnected(std::chrono::system_clock::now() + std::chrono::seconds(5)));
  EXPECT_EQ(Append(other, Caller{}, "case-tls-2", {testing::CaseReferredEvent()}).error_code(),
            grpc::StatusCode::UNAVAILABLE);

  // No client certificate: TLS still works, and a token is needed.
  auto plain_tls = TlsChannel();
  EXPECT_EQ(Append(plain_tls, Caller{}, "case-tls-3", {testing::CaseReferredEvent()}).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_TRUE(Append(plain_tls, As("partner-b"), "case-tls-3", {testing::CaseReferredEvent()}).ok());

  // Plaintext does not reach a TLS listener.
  EXPECT_EQ(Append(channel_, As("partner-b"), "case-tls-4", {testing::CaseReferredEvent()}).error_code(),
            grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(server_->store().Head().value(), 2u);
}

TEST(AuthenticatorTest, ANonLoopbackAddressNeedsTlsAndIdentities) {
  testing::TempDir dir;
  security::AuthOptions options;
  auto plain = security::Authenticator::Create(options, "0.0.0.0:50051");
  ASSERT_FALSE(plain.ok());
  EXPECT_NE(plain.status().message().find("--listen: 0.0.0.0:50051 is not a loopback address"), std::string::npos)
      << plain.status();
  options.allow_insecure = true;
  auto no_identities = security::Authenticator::Create(options, "0.0.0.0:50051");
  ASSERT_FALSE(no_identities.ok());
  EXPECT_NE(no_identities.status().message().find("--identities"), std::string::npos);

  { std::ofstream(dir.Sub("identities")) << "researcher umcg sha256:" << security::TokenHash("t") << "\n"; }
  options.identities_file = dir.Sub("identities");
  EXPECT_TRUE(security::Authenticator::Create(options, "0.0.0.0:50051").ok()) << "explicitly insecure";

  auto dev = security::Authenticator::Create(security::AuthOptions(), "127.0.0.1:0");
  ASSERT_TRUE(dev.ok());
  EXPECT_TRUE((*dev)->development_mode());
  EXPECT_TRUE(security::Authenticator::Create(security::AuthOptions(), "[::1]:50051").ok());

  { std::ofstream(dir.Sub("bad")) << "# comment\nresearcher umcg sha256:abc\n"; }
  options.identities_file = dir.Sub("bad");
  auto bad = security::Authenticator::Create(options, "127.0.0.1:0");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("line 2"), std::string::npos) << bad.status();
  { std::ofstream(dir.Sub("role")) << "admin root cert\n"; }
  options.identities_file = dir.Sub("role");
  EXPECT_NE(security::Authenticator::Create(options, "127.0.0.1:0").status().message().find("role must be one of"),
            std::string::npos);
  security::AuthOptions half;
  half.tls_cert_file = "/nonexistent.pem";
  EXPECT_NE(security::Authenticator::Create(half, "127.0.0.1:0").status().message().find("--tls-key"),
            std::string::npos);
}

TEST_F(SecurityTest, AfterErasureAPlantedPersonalStringIsNowhereAndTheChainVerifies) {
  Start();
  const auto partner = As("partner-a");
  const std::string name = kPlantedPersonal[0], address = kPlantedPersonal[1], note = kPlantedPersonal[2];
  ASSERT_TRUE(Append(partner, "case-erase",
                     {WithPersonal(testing::CaseReferredEvent(), {{"name", name}, {"address", address}}),
                      testing::CoordinatorAssignedEvent("coord-1")})
                  .ok());
  ASSERT_TRUE(Append(partner, "case-erase", {WithPersonal(testing::CostRecordedEvent(), {{"note", note}})}).ok());
  ASSERT_TRUE(Append(partner, "case-other", {WithPersonal(testing::CaseReferredEvent(), {{"name", "Other"}})}).ok());
  // A value over the limit is refused without being echoed.
  const grpc::Status too_long = Append(
      partner, "case-erase", {WithPersonal(testing::CostRecordedEvent(), {{"note", note + std::string(5000, 'x')}})});
  EXPECT_EQ(too_long.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(too_long.error_message().find("events[0].personal.fields[\"note\"]"), std::string::npos)
      << too_long.error_message();
  EXPECT_EQ(too_long.error_message().find(note), std::string::npos);

  // The auditor sees the personal parts, opened.
  const Caller auditor = As("auditor-1", "complaint 2026-17 by the family");
  v1::ReadCaseResponse before;
  ASSERT_TRUE(ReadCase(auditor, "case-erase", &before).ok());
  ASSERT_EQ(before.events_size(), 3);
  EXPECT_EQ(before.events(0).personal_state(), v1::PERSONAL_DATA_STATE_OPENED);
  EXPECT_EQ(before.events(0).personal().fields().at("name"), name);
  EXPECT_EQ(before.events(1).personal_state(), v1::PERSONAL_DATA_STATE_UNSPECIFIED);
  EXPECT_EQ(before.events(2).personal().fields().at("note"), note);
  EXPECT_TRUE(before.events(0).event().has_sealed_personal());
  EXPECT_FALSE(before.events(0).event().event().has_personal()) << "stored with personal cleared";

  // The operator erases the case.
  v1::ErasePersonalDataRequest erase;
  erase.set_case_id("case-erase");
  v1::ErasePersonalDataResponse erased;
  auto ops = v1::OperationsService::NewStub(channel_);
  ASSERT_TRUE(ops->ErasePersonalData(Context(As("operator-1")).get(), erase, &erased).ok());
  EXPECT_FALSE(erased.key_id().empty());
  EXPECT_EQ(erased.key_id(), before.events(0).event().sealed_personal().key_id());
  EXPECT_EQ(erased.stream_version(), 4u);
  EXPECT_FALSE(erased.already_erased());
  v1::ErasePersonalDataResponse again;
  ASSERT_TRUE(ops->ErasePersonalData(Context(As("operator-1")).get(), erase, &again).ok());
  EXPECT_TRUE(again.already_erased());
  EXPECT_EQ(again.global_position(), erased.global_position());

  // Through the audit API: the sealed parts show as erased, the rest stays.
  v1::ReadCaseResponse after;
  ASSERT_TRUE(ReadCase(auditor, "case-erase", &after).ok());
  ASSERT_EQ(after.events_size(), 4);
  EXPECT_EQ(after.events(0).personal_state(), v1::PERSONAL_DATA_STATE_ERASED);
  EXPECT_EQ(after.events(2).personal_state(), v1::PERSONAL_DATA_STATE_ERASED);
  EXPECT_TRUE(after.events(0).event().event().has_case_referred());
  EXPECT_EQ(after.events(3).event().event().personal_data_erased().key_id(), erased.key_id());
  EXPECT_EQ(after.events(3).event().source(), "operator-1");
  const std::string after_bytes = after.SerializeAsString();
  for (const char* planted : kPlantedPersonal) EXPECT_EQ(after_bytes.find(planted), std::string::npos) << planted;
  v1::ReadCaseResponse other;
  ASSERT_TRUE(ReadCase(auditor, "case-other", &other).ok());
  EXPECT_EQ(other.events(0).personal().fields().at("name"), "Other") << "other cases keep their key";

  // New personal data for the erased case is refused; other events are not.
  const grpc::Status refused =
      Append(partner, "case-erase", {WithPersonal(testing::CostRecordedEvent(), {{"n", "x"}})});
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_NE(refused.error_message().find("events[0].personal"), std::string::npos) << refused.error_message();
  EXPECT_TRUE(Append(partner, "case-erase", {testing::CostRecordedEvent()}).ok());

  // The hash chain still verifies, over the log and the case.
  auto audit = v1::AuditService::NewStub(channel_);
  v1::VerifyChainRequest whole;
  v1::VerifyChainResponse verified;
  ASSERT_TRUE(audit->VerifyChain(Context(auditor).get(), whole, &verified).ok());
  EXPECT_TRUE(verified.ok()) << verified.reason();
  EXPECT_EQ(verified.events_verified(), server_->store().Head().value());
  v1::VerifyChainRequest one_case;
  one_case.set_case_id("case-erase");
  ASSERT_TRUE(audit->VerifyChain(Context(auditor).get(), one_case, &verified).ok());
  EXPECT_TRUE(verified.ok()) << verified.reason();

  // The Kafka topic: every event, sealed parts as ciphertext only.
  const uint64_t head = server_->store().Head().value();
  const auto consumed = testing::ConsumeTopic(server_->kafka_bootstrap(), options_.kafka.topic, head);
  ASSERT_EQ(consumed.size(), head);
  size_t sealed_in_kafka = 0;
  v1::SealedPersonalData from_kafka;
  for (const auto& m : consumed) {
    const std::string bytes = m.event.SerializeAsString() + m.key;
    for (const char* planted : kPlantedPersonal) EXPECT_EQ(bytes.find(planted), std::string::npos) << planted;
    if (m.event.has_sealed_personal() && m.event.case_id() == "case-erase") {
      ++sealed_in_kafka;
      from_kafka = m.event.sealed_personal();
      EXPECT_FALSE(m.event.event().has_personal());
    }
  }
  EXPECT_EQ(sealed_in_kafka, 2u);

  // The raw files, after the server stopped and the databases were compacted.
  server_->Shutdown();
  server_.reset();
  CompactDatabase(options_.data_dir + "/events");
  CompactDatabase(options_.data_dir + "/keys");
  for (const char* planted : kPlantedPersonal) {
    EXPECT_EQ(FilesContaining(options_.data_dir, planted), std::vector<std::string>{}) << planted;
  }
  // The copy in Kafka can no longer be opened: its key is gone.
  security::KeyStoreOptions key_options;
  key_options.path = options_.data_dir + "/keys";
  key_options.master_key_file = options_.master_key_file;
  auto keys = security::KeyStore::Open(key_options);
  ASSERT_TRUE(keys.ok()) << keys.status();
  auto opened = (*keys)->OpenSealed("case-erase", after.events(2).event().event().event_id(), from_kafka);
  ASSERT_TRUE(opened.ok()) << opened.status();
  EXPECT_FALSE(opened->has_value());
}

TEST_F(SecurityTest, EveryAuditedCaseReadLeavesExactlyOneAccessLogEntryWithItsPurpose) {
  Start();
  for (const char* c : {"case-1", "case-2", "case-3"}) {
    ASSERT_TRUE(Append(As("partner-a"), c, {testing::CaseReferredEvent()}).ok());
  }
  const std::vector<std::pair<std::string, std::string>> reads = {
      {"case-1", "complaint 2026-17"},
      {"case-2", "NEN 7513 spot check week 48"},
      {"case-1", "complaint 2026-17, second look"},
      {"case-3", "court order 2026/123"},
  };
  for (const auto& [case_id, purpose] : reads) {
    v1::ReadCaseResponse r;
    ASSERT_TRUE(ReadCase(As("auditor-1", purpose), case_id, &r).ok());
  }
  // Without a purpose, the read is refused and leaves no entry.
  v1::ReadCaseResponse r;
  const grpc::Status no_purpose = ReadCase(As("auditor-1"), "case-2", &r);
  EXPECT_EQ(no_purpose.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(no_purpose.error_message().find("kring-purpose"), std::string::npos);
  EXPECT_EQ(ReadCase(As("auditor-1", std::string(201, 'p')), "case-2", &r).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);

  const v1::ReadAccessLogResponse log = AccessLog();
  EXPECT_TRUE(log.chain_ok()) << log.chain_reason();
  ASSERT_EQ(log.entries_size(), static_cast<int>(reads.size()) + 1);
  for (size_t i = 0; i < reads.size(); ++i) {
    const v1::AccessLogEntry& e = log.entries(static_cast<int>(i));
    EXPECT_EQ(e.sequence(), i + 1);
    EXPECT_EQ(e.rpc(), "AuditService.ReadCase");
    EXPECT_EQ(e.case_id(), reads[i].first);
    EXPECT_EQ(e.purpose(), reads[i].second);
    EXPECT_EQ(e.identity(), "auditor-1");
    EXPECT_EQ(e.role(), v1::ROLE_AUDITOR);
    EXPECT_GT(e.at().seconds(), 0);
  }
  // Reading the access log was itself recorded.
  const v1::AccessLogEntry& self = log.entries(static_cast<int>(reads.size()));
  EXPECT_EQ(self.rpc(), "AuditService.ReadAccessLog");
  EXPECT_EQ(self.purpose(), "security test: check the access log");
  // About case-1: its two reads, and this filtered read of the log itself.
  EXPECT_EQ(AccessLog("case-1").entries_size(), 3);

  // ReadAll and VerifyChain are case-level reads too.
  auto audit = v1::AuditService::NewStub(channel_);
  v1::ReadAllRequest all;
  auto context = Context(As("auditor-1", "export for the inspectorate"));
  auto stream = audit->ReadAll(context.get(), all);
  v1::ReadAllResponse batch;
  size_t events = 0;
  while (stream->Read(&batch)) events += batch.events_size();
  ASSERT_TRUE(stream->Finish().ok());
  EXPECT_EQ(events, 3u);
  v1::VerifyChainRequest verify;
  verify.set_case_id("case-2");
  v1::VerifyChainResponse verified;
  ASSERT_TRUE(audit->VerifyChain(Context(As("auditor-1", "integrity check")).get(), verify, &verified).ok());
  // Since `log`: the filtered read of the log, ReadAll, VerifyChain, and this
  // read of the log.
  const v1::ReadAccessLogResponse later = AccessLog();
  ASSERT_EQ(later.entries_size(), log.entries_size() + 4);
  const int first = log.entries_size() + 1;
  EXPECT_EQ(later.entries(first).rpc(), "AuditService.ReadAll");
  EXPECT_EQ(later.entries(first).purpose(), "export for the inspectorate");
  EXPECT_EQ(later.entries(first + 1).rpc(), "AuditService.VerifyChain");
  EXPECT_EQ(later.entries(first + 1).case_id(), "case-2");
  EXPECT_TRUE(later.chain_ok());
}

TEST_F(SecurityTest, TheMasterKeyFileMustBePrivateAndRotationKeepsCasesReadable) {
  ASSERT_EQ(chmod(options_.master_key_file.c_str(), 0644), 0);
  auto loose = services::KringServer::Start(options_);
  ASSERT_FALSE(loose.ok());
  EXPECT_NE(loose.status().message().find("--master-key-file"), std::string::npos) << loose.status();
  ASSERT_EQ(chmod(options_.master_key_file.c_str(), 0600), 0);

  Start();
  ASSERT_TRUE(
      Append(As("partner-a"), "case-k", {WithPersonal(testing::CaseReferredEvent(), {{"name", kPlantedPersonal[0]}})})
          .ok());
  std::string new_key(64, 'a');
  for (size_t i = 0; i < new_key.size(); ++i) new_key[i] = "0123456789abcdef"[(i * 5 + 1) % 16];
  WriteFile(dir_.Sub("master-2.key"), new_key + "\n");
  v1::RotateMasterKeyRequest rotate;
  rotate.set_new_master_key_file(dir_.Sub("master-2.key"));
  v1::RotateMasterKeyResponse rotated;
  auto ops = v1::OperationsService::NewStub(channel_);
  ASSERT_TRUE(ops->RotateMasterKey(Context(As("operator-1")).get(), rotate, &rotated).ok());
  EXPECT_EQ(rotated.data_keys_rewrapped(), 1u);
  EXPECT_NE(rotated.previous_master_key_id(), rotated.master_key_id());
  server_->Shutdown();
  server_.reset();

  // The old key no longer opens the store; the new one does, and the case
  // still reads.
  auto old_key = services::KringServer::Start(options_);
  ASSERT_FALSE(old_key.ok());
  EXPECT_NE(old_key.status().message().find(rotated.master_key_id()), std::string::npos) << old_key.status();
  options_.master_key_file = dir_.Sub("master-2.key");
  Start();
  v1::ReadCaseResponse read;
  ASSERT_TRUE(ReadCase(As("auditor-1", "after key rotation"), "case-k", &read).ok());
  EXPECT_EQ(read.events(0).personal().fields().at("name"), kPlantedPersonal[0]);
}

TEST(SealingTest, WithoutAMasterKeyPersonalDataIsRefused) {
  testing::TempDir dir;
  services::ServerOptions options;
  options.data_dir = dir.Sub("data");
  options.listen = "127.0.0.1:0";
  auto server = services::KringServer::Start(options);
  ASSERT_TRUE(server.ok()) << server.status();
  v1::AppendRequest request;
  request.set_case_id("case-1");
  v1::Event e = testing::CaseReferredEvent();
  (*e.mutable_personal()->mutable_fields())["name"] = kPlantedPersonal[0];
  *request.add_events() = e;
  v1::AppendResult result;
  grpc::ClientContext context;
  const grpc::Status s =
      v1::IngestService::NewStub(testing::NewChannel((*server)->address()))->Append(&context, request, &result);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_NE(s.error_message().find("--master-key-file"), std::string::npos) << s.error_message();
  EXPECT_EQ(s.error_message().find(kPlantedPersonal[0]), std::string::npos);
  EXPECT_EQ((*server)->store().Head().value(), 0u);
}

// The way an operator and its partners would use it: kringctl makes the
// tokens, kringd serves TLS with them and a master key, a partner appends an
// NDJSON file with personal data, an auditor reads the case (with a
// purpose), an operator erases it, and the access log shows the reads.
TEST(KringdSecurityTest, KringctlTokensOverTlsFromAppendToErasureAndTheAccessLog) {
  testing::TempDir dir;
  const std::string certs = dir.Sub("certs");
  ASSERT_EQ(testing::RunCommand(absl::StrCat(KRING_SOURCE_DIR, "/tests/testing/make_certs.sh ", certs)).status, 0);
  const std::string kringctl = KRING_KRINGCTL_PATH;
  std::map<std::string, std::string> token_files;
  for (const auto& [role, name] : std::vector<std::pair<std::string, std::string>>{
           {"partner", "jeugdzorg-a"}, {"auditor", "igj-1"}, {"operator", "ops-1"}}) {
    token_files[role] = dir.Sub(role + ".token");
    const auto made =
        testing::RunCommand(absl::StrCat(kringctl, " token new --role ", role, " --name ", name, " --append-to ",
                                         dir.Sub("identities"), " > ", token_files[role], " 2>/dev/null"));
    ASSERT_EQ(made.status, 0);
  }
  struct stat st;
  ASSERT_EQ(stat(dir.Sub("identities").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  WriteFile(dir.Sub("master.key"), std::string(32, 'k'));

  // Not on a non-loopback address without TLS.
  const auto refused = testing::RunCommand(
      absl::StrCat(KRING_KRINGD_PATH, " --data-dir ", dir.Sub("x"),
                   " --listen 0.0.0.0:0 --embedded-kafka-in-production --identities ", dir.Sub("identities"), " 2>&1"));
  EXPECT_EQ(WEXITSTATUS(refused.status), 1);
  EXPECT_NE(refused.output.find("--listen: 0.0.0.0:0 is not a loopback address"), std::string::npos) << refused.output;

  // Production mode (identities) does not start on the embedded cluster
  // unless told to: it would serve the log without credentials.
  const auto embedded = testing::RunCommand(
      absl::StrCat(KRING_KRINGD_PATH, " --data-dir ", dir.Sub("y"), " --identities ", dir.Sub("identities"), " 2>&1"));
  EXPECT_EQ(WEXITSTATUS(embedded.status), 2);
  EXPECT_NE(embedded.output.find("--kafka-bootstrap: required in production mode"), std::string::npos)
      << embedded.output;
  EXPECT_NE(embedded.output.find("--embedded-kafka-in-production"), std::string::npos) << embedded.output;
  EXPECT_FALSE(std::filesystem::exists(dir.Sub("y"))) << "a refused start changes nothing";

  testing::KringdProcess kringd(
      dir.Sub("data"),
      {"--identities", dir.Sub("identities"), "--embedded-kafka-in-production", "--tls-cert", certs + "/server.pem",
       "--tls-key", certs + "/server.key", "--master-key-file", dir.Sub("master.key")});
  const auto as = [&](const std::string& role, const std::string& args) {
    return testing::RunCommand(absl::StrCat(kringctl, " --server ", kringd.address(), " --tls-ca ", certs,
                                            "/ca.pem --token-file ", token_files.at(role), " ", args, " 2>&1"));
  };

  v1::Event referral = testing::CaseReferredEvent();
  (*referral.mutable_personal()->mutable_fields())["name"] = kPlantedPersonal[0];
  v1::CaseEvent line;
  line.set_case_id("case-ndjson");
  *line.mutable_event() = referral;
  std::string json;
  ASSERT_TRUE(google::protobuf::util::MessageToJsonString(line, &json).ok());
  { std::ofstream(dir.Sub("events.ndjson")) << json << "\n"; }
  const auto appended = as("partner", "append --file " + dir.Sub("events.ndjson"));
  ASSERT_EQ(appended.status, 0) << appended.output;

  // The partner may not read; the auditor must say why.
  const auto partner_reads = as("partner", "--purpose curious case show case-ndjson");
  EXPECT_NE(partner_reads.status, 0);
  EXPECT_NE(partner_reads.output.find("PERMISSION_DENIED"), std::string::npos) << partner_reads.output;
  const auto no_purpose = as("auditor", "case show case-ndjson");
  EXPECT_NE(no_purpose.status, 0);
  EXPECT_NE(no_purpose.output.find("kring-purpose"), std::string::npos) << no_purpose.output;
  const auto shown = as("auditor", "--purpose 'klacht 2026-17' case show case-ndjson --json");
  ASSERT_EQ(shown.status, 0) << shown.output;
  const auto opened = nlohmann::json::parse(shown.output);
  EXPECT_EQ(opened["events"][0]["personal_state"], "opened");
  EXPECT_EQ(opened["events"][0]["personal"]["name"], kPlantedPersonal[0]);
  EXPECT_EQ(opened["events"][0]["source"], "jeugdzorg-a");

  const auto erased = as("operator", "ops erase --case case-ndjson");
  ASSERT_EQ(erased.status, 0) << erased.output;
  const auto after = as("auditor", "--purpose 'klacht 2026-17, after erasure' case show case-ndjson --json");
  ASSERT_EQ(after.status, 0) << after.output;
  EXPECT_EQ(nlohmann::json::parse(after.output)["events"][0]["personal_state"], "erased");
  EXPECT_EQ(after.output.find(kPlantedPersonal[0]), std::string::npos);
  // An export carries the sealed part as stored, which no one can open now.
  const auto exported = as("auditor", "--purpose 'export for the archive' export --case case-ndjson");
  ASSERT_EQ(exported.status, 0) << exported.output;
  const size_t json_start = exported.output.find('{');
  ASSERT_NE(json_start, std::string::npos) << exported.output;
  const auto first_line =
      nlohmann::json::parse(exported.output.substr(json_start, exported.output.find('\n', json_start) - json_start));
  EXPECT_FALSE(first_line["sealed_personal"]["ciphertext"].get<std::string>().empty()) << exported.output;
  EXPECT_EQ(exported.output.find(kPlantedPersonal[0]), std::string::npos);
  const auto verified = as("auditor", "--purpose 'integrity check' verify");
  EXPECT_EQ(verified.status, 0) << verified.output;

  const auto log = as("auditor", "--purpose 'access review' audit access-log --format json");
  ASSERT_EQ(log.status, 0) << log.output;
  for (const char* purpose : {"klacht 2026-17", "klacht 2026-17, after erasure", "integrity check", "access review"}) {
    EXPECT_NE(log.output.find(purpose), std::string::npos) << purpose << " in " << log.output;
  }
  EXPECT_EQ(log.output.find("curious"), std::string::npos) << "a refused read is not a read";
  EXPECT_EQ(kringd.Terminate(), 0);
  EXPECT_EQ(ReadAllBytes(kringd.log_path()).find(kPlantedPersonal[0]), std::string::npos);
}

}  // namespace
}  // namespace kring
