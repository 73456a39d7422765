// Roles and read replicas (services/roles.h, docs/architecture.md "Roles and
// read replicas"): one kringd with --roles ingest,relay on a real Kafka
// cluster, read replicas with --roles projections,query that have no event
// store and fill what Kafka did not bring from the ingest node over gRPC
// (ReplicationService).
#include <google/protobuf/util/message_differencer.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>
#include <memory>
#include <sstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "cli/cohort_client.h"
#include "kring/v1/research.grpc.pb.h"
#include "tests/testing/kringd_process.h"
#include "tests/testing/test_support.h"

namespace kring {
namespace {

using google::protobuf::util::MessageDifferencer;
using testing::KringdProcess;

client::CohortStreamOptions Cohort(size_t first, size_t cases) {
  client::CohortStreamOptions o;
  o.cohort.seed = 11;
  o.cohort.first_case = first;
  o.cohort.cases = cases;
  return o;
}

// A cell key secret shared by every process of a test (--cell-key-file).
std::string WriteCellKey(const std::string& path) {
  std::ofstream(path) << "replica test cell key secret, at least 32 bytes";
  ::chmod(path.c_str(), 0600);
  return path;
}

std::string ReadLog(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// Every research answer of one server, watermarks cleared; `as_of` adds a
// network-size answer replayed as of that position (a replica replays from
// the ingest node's log).
struct Answers {
  v1::NetworkSizeResponse network_size;
  v1::OutcomesResponse outcomes;
  v1::CostBenefitResponse cost_benefit;
  v1::SupportResponse support;
  v1::FunnelResponse funnel;
  v1::NetworkSizeResponse network_size_as_of;
};

template <typename Response>
bool Applied(const Response& r, uint64_t head) {
  return r.watermark().events_applied() == head && r.watermark().max_global_position() == head;
}

// Asks every research RPC until every read model has applied exactly `head`
// events (up to 3 minutes: the projection threads run at a lower priority).
Answers AskAll(const std::string& address, uint64_t head, uint64_t as_of) {
  auto stub = v1::ResearchService::NewStub(grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
  Answers a;
  auto call = [&](auto method, auto request, auto* response) {
    grpc::ClientContext context;
    response->Clear();
    grpc::Status s = ((*stub).*method)(&context, request, response);
    EXPECT_TRUE(s.ok()) << s.error_message();
  };
  v1::NetworkSizeRequest network_size;
  network_size.set_group_by(v1::GROUPING_YEAR);
  v1::OutcomesRequest outcomes;
  outcomes.set_group_by(v1::GROUPING_YEAR);
  v1::CostBenefitRequest cost_benefit;
  cost_benefit.set_group_by(v1::GROUPING_YEAR);
  v1::SupportRequest support;
  support.set_group_by(v1::GROUPING_YEAR);
  v1::FunnelRequest funnel;
  funnel.set_group_by(v1::GROUPING_YEAR);
  bool all = false;
  for (int i = 0; i < 1800 && !all; ++i) {
    if (i > 0) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    call(&v1::ResearchService::Stub::GetNetworkSize, network_size, &a.network_size);
    call(&v1::ResearchService::Stub::GetOutcomes, outcomes, &a.outcomes);
    call(&v1::ResearchService::Stub::GetCostBenefit, cost_benefit, &a.cost_benefit);
    call(&v1::ResearchService::Stub::GetSustainedSupport, support, &a.support);
    call(&v1::ResearchService::Stub::GetFunnel, funnel, &a.funnel);
    all = Applied(a.network_size, head) && Applied(a.outcomes, head) && Applied(a.cost_benefit, head) &&
          Applied(a.support, head) && Applied(a.funnel, head);
  }
  EXPECT_TRUE(all) << address << " did not apply exactly " << head << " events; network-size watermark "
                   << a.network_size.watermark().ShortDebugString();
  network_size.set_as_of_position(as_of);
  call(&v1::ResearchService::Stub::GetNetworkSize, network_size, &a.network_size_as_of);
  for (auto* r : {&a.network_size, &a.network_size_as_of}) r->clear_watermark();
  a.outcomes.clear_watermark();
  a.cost_benefit.clear_watermark();
  a.support.clear_watermark();
  a.funnel.clear_watermark();
  return a;
}

void ExpectSameAnswers(const Answers& expected, const Answers& actual, const std::string& who) {
  auto same = [&](const google::protobuf::Message& e, const google::protobuf::Message& a, const char* rpc) {
    EXPECT_TRUE(MessageDifferencer::Equals(e, a))
        << who << " " << rpc << " differs from a single all-roles kringd:\nexpected "
        << e.ShortDebugString().substr(0, 600) << "\nactual   " << a.ShortDebugString().substr(0, 600);
  };
  same(expected.network_size, actual.network_size, "GetNetworkSize");
  same(expected.outcomes, actual.outcomes, "GetOutcomes");
  same(expected.cost_benefit, actual.cost_benefit, "GetCostBenefit");
  same(expected.support, actual.support, "GetSustainedSupport");
  same(expected.funnel, actual.funnel, "GetFunnel");
  same(expected.network_size_as_of, actual.network_size_as_of, "GetNetworkSize as of");
  EXPECT_GT(actual.network_size.overall().conferences(), 0u) << who << ": nothing was compared";
}

class ReplicaTest : public ::testing::Test {
 protected:
  std::vector<std::string> ReplicaArgs(const std::string& ingest_node, const std::string& bootstrap,
                                       const std::string& prefix) {
    return {"--roles", "projections,query",       "--ingest-node", ingest_node,       "--kafka-bootstrap",
            bootstrap, "--consumer-group-prefix", prefix,          "--cell-key-file", cell_key_};
  }
  testing::TempDir dir_;
  const std::string cell_key_ = WriteCellKey(dir_.Sub("cell-key"));
};

// Two replicas, each its own consumer group, on a three-broker cluster: one
// is killed with SIGKILL and restarted, one broker is stopped while partners
// append and brought back; then both answer every research RPC (and a replay
// "as of") exactly as one all-roles kringd over the same events.
TEST_F(ReplicaTest, TwoReplicasOnThreeBrokersAnswerAsOneAllRolesServer) {
  testing::KafkaBroker cluster(dir_.Sub("kafka"), 3);
  KringdProcess ingest(dir_.Sub("ingest"), {"--roles", "ingest,relay", "--kafka-bootstrap", cluster.bootstrap()});
  auto replica_a = std::make_unique<KringdProcess>(
      dir_.Sub("replica-a"), ReplicaArgs(ingest.address(), cluster.bootstrap(), "kring.replica-a"));
  auto replica_b = std::make_unique<KringdProcess>(
      dir_.Sub("replica-b"), ReplicaArgs(ingest.address(), cluster.bootstrap(), "kring.replica-b"));
  auto channel = grpc::CreateChannel(ingest.address(), grpc::InsecureChannelCredentials());
  uint64_t head = 0;
  auto append = [&](size_t first, size_t cases) {
    const auto totals = client::StreamCohort(channel, Cohort(first, cases));
    ASSERT_TRUE(totals.status.ok()) << totals.status;
    ASSERT_EQ(totals.refused, 0u);
    head += totals.appended;
  };
  append(1, 80);
  replica_a->Kill();
  append(81, 80);
  replica_a = std::make_unique<KringdProcess>(dir_.Sub("replica-a"),
                                              ReplicaArgs(ingest.address(), cluster.bootstrap(), "kring.replica-a"));
  cluster.StopNode(2);
  append(161, 80);
  cluster.RestartNode(2);
  append(241, 40);
  ASSERT_GT(head, 0u);

  const Answers a = AskAll(replica_a->address(), head, head / 2);
  const Answers b = AskAll(replica_b->address(), head, head / 2);
  // Each replica consumes in its own groups (else they would split the
  // partitions, and each would fill half the log from the ingest node).
  EXPECT_NE(ReadLog(replica_a->log_path()).find("group=kring.replica-a.network-size"), std::string::npos);
  EXPECT_NE(ReadLog(replica_b->log_path()).find("group=kring.replica-b.network-size"), std::string::npos);
  ASSERT_EQ(ingest.Terminate(), 0);
  // The reference: every role in one process over the ingest node's events
  // (its read models fill from its own store at start, on the embedded cluster).
  KringdProcess single(dir_.Sub("ingest"), {"--cell-key-file", cell_key_});
  const Answers expected = AskAll(single.address(), head, head / 2);
  ExpectSameAnswers(expected, a, "replica a (killed and restarted)");
  ExpectSameAnswers(expected, b, "replica b");
}

// A replica whose Kafka topic holds nothing (it reads another topic than the
// ingest node's relay writes) still gets every event: at start from the
// ingest node's log over gRPC, and afterwards by the gap fill.
TEST_F(ReplicaTest, AReplicaFillsWhatKafkaDidNotBringFromTheIngestNode) {
  testing::KafkaBroker broker(dir_.Sub("kafka"));
  KringdProcess ingest(dir_.Sub("ingest"), {"--roles", "ingest,relay", "--kafka-bootstrap", broker.bootstrap()});
  auto channel = grpc::CreateChannel(ingest.address(), grpc::InsecureChannelCredentials());
  auto totals = client::StreamCohort(channel, Cohort(1, 100));
  ASSERT_TRUE(totals.status.ok()) << totals.status;
  uint64_t head = totals.appended;

  std::vector<std::string> args = ReplicaArgs(ingest.address(), broker.bootstrap(), "kring.replica-late");
  args.insert(args.end(), {"--kafka-topic", "kring.nothing-published-here"});
  KringdProcess replica(dir_.Sub("replica"), args);
  AskAll(replica.address(), head, head);
  EXPECT_NE(ReadLog(replica.log_path()).find("msg=remote_scan"), std::string::npos)
      << "the start-up fill did not come from the ingest node";

  totals = client::StreamCohort(channel, Cohort(101, 50));
  ASSERT_TRUE(totals.status.ok()) << totals.status;
  head += totals.appended;
  AskAll(replica.address(), head, head);
  EXPECT_NE(ReadLog(replica.log_path()).find("msg=filling_from_store"), std::string::npos)
      << "the gap fill did not run";
}

}  // namespace
}  // namespace kring
