// ReplicationService on an ingest node in production mode: only the replica
// role reads the log, and a read replica's RemoteEventSource sends its token
// (--ingest-node-token-file). In-process, on the embedded cluster.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <fstream>

#include "absl/strings/str_cat.h"
#include "kring/v1/replication.grpc.pb.h"
#include "security/auth.h"
#include "services/remote_event_source.h"
#include "services/server.h"
#include "tests/testing/test_support.h"

namespace kring {
namespace {

class ReplicationAuthTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::ofstream(dir_.Sub("identities")) << "replica replica-1 sha256:" << security::TokenHash(kReplicaToken) << "\n"
                                          << "researcher umcg sha256:" << security::TokenHash(kResearcherToken) << "\n";
    services::ServerOptions options;
    options.data_dir = dir_.Sub("data");
    options.listen = "127.0.0.1:0";
    options.auth.identities_file = dir_.Sub("identities");
    options.roles = *services::ParseRoles("ingest,relay");
    options.shutdown_timeout = std::chrono::milliseconds(3000);
    auto server = services::KringServer::Start(options);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
  }

  absl::StatusOr<std::vector<v1::RecordedEvent>> ReadAs(const std::string& token) {
    services::RemoteEventSourceOptions options;
    options.connect.server = server_->address();
    options.connect.token = token;
    auto source = services::RemoteEventSource::Create(options);
    if (!source.ok()) return source.status();
    return (*source)->ReadAll(GlobalPosition(1), 10);
  }

  grpc::Status ReadLog(const std::string& token, uint32_t max_events) {
    auto stub = v1::ReplicationService::NewStub(testing::NewChannel(server_->address()));
    grpc::ClientContext context;
    if (!token.empty()) context.AddMetadata("authorization", "Bearer " + token);
    v1::ReadLogRequest request;
    request.set_max_events(max_events);
    v1::ReadLogResponse response;
    return stub->ReadLog(&context, request, &response);
  }

  static constexpr char kReplicaToken[] = "krt_replica_token_for_the_test";
  static constexpr char kResearcherToken[] = "krt_researcher_token_for_the_test";
  testing::TempDir dir_;
  std::unique_ptr<services::KringServer> server_;
};

TEST_F(ReplicationAuthTest, OnlyTheReplicaRoleReadsTheLog) {
  EXPECT_EQ(ReadLog(kReplicaToken, 0).error_code(), grpc::StatusCode::OK);
  EXPECT_EQ(ReadLog(kResearcherToken, 0).error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(ReadLog("", 0).error_code(), grpc::StatusCode::UNAUTHENTICATED);
}

TEST_F(ReplicationAuthTest, TooManyEventsAskedIsRefusedNamingTheField) {
  const grpc::Status s = ReadLog(kReplicaToken, 10001);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(s.error_message().find("max_events"), std::string::npos) << s.error_message();
}

TEST_F(ReplicationAuthTest, TheRemoteSourceSendsItsTokenAndReportsARefusalNamingTheFlag) {
  auto read = ReadAs(kReplicaToken);
  EXPECT_TRUE(read.ok()) << read.status();
  auto refused = ReadAs(kResearcherToken);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_NE(refused.status().message().find("--ingest-node"), std::string::npos) << refused.status();
}

}  // namespace
}  // namespace kring
