// End to end: a real kringd process, real gRPC channels, real Kafka clients —
// on the embedded cluster and against a real Apache Kafka broker.
#include <google/protobuf/util/message_differencer.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <atomic>
#include <future>
#include <map>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "cli/cohort_client.h"
#include "eventstore/event_store.h"
#include "kring/v1/ingest.grpc.pb.h"
#include "kring/v1/research.grpc.pb.h"
#include "projections/cell_key.h"
#include "projections/network_size.h"
#include "services/provenance.h"
#include "synth/cohort.h"
#include "tests/testing/kringd_process.h"
#include "tests/testing/test_support.h"

namespace kring {
namespace {

using google::protobuf::util::MessageDifferencer;
using testing::KringdProcess;

constexpr char kTopic[] = "kring.case-events.v1";

client::CohortStreamOptions Cohort(size_t first, size_t cases) {
  client::CohortStreamOptions o;
  o.cohort.seed = 7;
  o.cohort.first_case = first;
  o.cohort.cases = cases;
  return o;
}

// The network-size figures of cohort cases [1, cases], computed here from the
// generator's events by the definition, independently of the read model.
// The published overall conferences and mean of the cohort's first `cases`
// cases: the exact figures perturbed by the cell key method with the secret
// kringd keeps in `data_dir` (docs/research.md), at the default k of 10.
std::pair<uint64_t, double> ExpectedNetworkSize(size_t cases, const std::string& data_dir) {
  auto secret = projections::CellKeySecret::Load(data_dir + "/cell-key", "cell-key");
  EXPECT_TRUE(secret.ok()) << secret.status();
  if (!secret.ok()) return {0, 0};
  const synth::CohortOptions options = Cohort(1, cases).cohort;
  synth::CohortGenerator generator(options);
  synth::SyntheticCase c;
  uint64_t conferences = 0, total = 0, cell_key = 0;
  while (generator.Next(&c)) {
    std::set<std::string> excluded;
    for (const auto& e : c.events) {
      if (e.has_coordinator_assigned()) excluded.insert(e.coordinator_assigned().coordinator_id());
      if (e.has_participant_invited() && e.participant_invited().relation() == v1::RELATION_PROFESSIONAL) {
        excluded.insert(e.participant_invited().participant_id());
      }
      if (e.has_conference_held()) {
        std::set<std::string> counted;
        for (const auto& a : e.conference_held().attendee_ids()) {
          if (!excluded.count(a)) counted.insert(a);
        }
        ++conferences;
        total += counted.size();
        cell_key += (*secret)->ConferenceKey(e.event_id());
      }
    }
  }
  const uint64_t published = projections::PerturbCount(conferences, cell_key, 10);
  return {published,
          static_cast<double>(projections::PerturbIntegerSum(static_cast<int64_t>(total), conferences, cell_key)) /
              published};
}

// Asks until the read model reflects at least `events` events; expects
// exactly that many unless `at_least`.
v1::NetworkSizeResponse QueryWhenApplied(const std::string& address, uint64_t events, bool at_least = false) {
  auto stub = v1::ResearchService::NewStub(grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
  v1::NetworkSizeRequest request;
  request.set_group_by(v1::GROUPING_YEAR);
  v1::NetworkSizeResponse response;
  // Up to 3 minutes: the worker runs at a lower CPU priority than appends and
  // lags on a busy machine.
  for (int i = 0; i < 1800; ++i) {
    grpc::ClientContext context;
    response.Clear();
    grpc::Status s = stub->GetNetworkSize(&context, request, &response);
    EXPECT_TRUE(s.ok()) << s.error_message();
    if (response.watermark().events_applied() >= events) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  if (at_least) {
    EXPECT_GE(response.watermark().events_applied(), events);
  } else {
    EXPECT_EQ(response.watermark().events_applied(), events);
  }
  return response;
}

// Rebuilds the network-size read model straight from a stopped server's event
// store, in this process, and answers the same query.
v1::NetworkSizeResponse CleanRebuild(const std::string& data_dir, const std::string& scratch) {
  eventstore::EventStoreOptions store_options;
  store_options.path = data_dir + "/events";
  auto store = std::move(eventstore::EventStore::Open(store_options)).value();
  auto secret = projections::CellKeySecret::Load(data_dir + "/cell-key", "cell-key");  // the server's
  EXPECT_TRUE(secret.ok()) << secret.status();
  projections::ProjectionOptions options;
  options.path = scratch;
  auto engine = std::move(projections::ProjectionEngine::Open(
                              options, std::make_unique<projections::NetworkSizeProjection>(*secret), store.get()))
                    .value();
  EXPECT_TRUE(engine->CatchUpFromStore().ok());
  v1::NetworkSizeRequest request;
  request.set_group_by(v1::GROUPING_YEAR);
  auto answer = projections::QueryNetworkSize(*engine, request);
  EXPECT_TRUE(answer.ok()) << answer.status();
  services::SetProvenance(request, &*answer);  // as the server sends it
  return *answer;
}

// Every position 1..head present; per case, versions 1, 2, 3… in topic order
// once repeats are skipped. Returns how many messages were repeats.
size_t ExpectCompleteAndOrdered(const std::vector<testing::ConsumedEvent>& consumed, uint64_t head) {
  std::set<uint64_t> positions;
  std::map<std::string, uint64_t> last;
  size_t repeats = 0;
  for (const auto& c : consumed) {
    positions.insert(c.event.global_position());
    uint64_t& v = last[c.event.case_id()];
    if (c.event.stream_version() <= v) {
      ++repeats;
      continue;
    }
    EXPECT_EQ(c.event.stream_version(), v + 1) << c.event.case_id();
    v = c.event.stream_version();
  }
  EXPECT_EQ(positions.size(), head);
  if (!positions.empty()) {
    EXPECT_EQ(*positions.rbegin(), head);
  }
  return repeats;
}

// Asks the reflection service to list the services, with raw bytes:
// ServerReflectionRequest{list_services: ""} is 3a 00.
std::string ReflectionListServices(const std::shared_ptr<grpc::Channel>& channel) {
  return testing::ServerReflectionCall(channel, std::string("\x3a\x00", 2));
}

class EndToEndTest : public ::testing::Test {
 protected:
  std::string DataDir() const { return dir_.Sub("data"); }
  testing::TempDir dir_;
};

TEST_F(EndToEndTest, AppendQueryAndConsumeOnTheEmbeddedCluster) {
  KringdProcess server(DataDir());
  auto channel = grpc::CreateChannel(server.address(), grpc::InsecureChannelCredentials());

  // Health checking answers SERVING (HealthCheckResponse{status: SERVING} is 08 01).
  {
    grpc::GenericStub generic(channel);
    grpc::ClientContext context;
    grpc::Slice empty(std::string{});  // HealthCheckRequest{service: ""}
    grpc::ByteBuffer request(&empty, 1), response;
    std::promise<grpc::Status> done;
    generic.UnaryCall(&context, "/grpc.health.v1.Health/Check", grpc::StubOptions(), &request, &response,
                      [&](grpc::Status s) { done.set_value(s); });
    ASSERT_TRUE(done.get_future().get().ok());
    std::vector<grpc::Slice> slices;
    ASSERT_TRUE(response.Dump(&slices).ok());
    std::string bytes;
    for (const auto& s : slices) bytes.append(reinterpret_cast<const char*>(s.begin()), s.size());
    EXPECT_EQ(bytes, std::string("\x08\x01", 2));
  }

  // Server reflection lists the services (what grpcurl-like tools ask first).
  EXPECT_NE(ReflectionListServices(channel).find("kring.v1.IngestService"), std::string::npos);

  const auto totals = client::StreamCohort(channel, Cohort(1, 300));
  ASSERT_TRUE(totals.status.ok()) << totals.status;
  EXPECT_EQ(totals.refused, 0u);
  EXPECT_EQ(totals.cases, 300u);
  const uint64_t head = totals.appended;

  const auto answer = QueryWhenApplied(server.address(), head);
  const auto [conferences, mean] = ExpectedNetworkSize(300, DataDir());
  EXPECT_EQ(answer.overall().conferences(), conferences);
  EXPECT_NEAR(answer.overall().mean(), mean, 1e-9);
  EXPECT_EQ(answer.watermark().max_global_position(), head);

  const auto consumed = testing::ConsumeTopic(server.kafka_bootstrap(), kTopic, head);
  EXPECT_EQ(consumed.size(), head) << "a Kafka consumer must see each event exactly once";
  EXPECT_EQ(ExpectCompleteAndOrdered(consumed, head), 0u);

  // Errors over the wire name the field and the rule, and change nothing.
  auto ingest = v1::IngestService::NewStub(channel);
  v1::AppendRequest bad;
  bad.set_case_id("case-e2e");
  *bad.add_events() = testing::CaseReferredEvent();
  bad.mutable_events(0)->set_event_id("123");
  v1::AppendResult result;
  {
    grpc::ClientContext context;
    grpc::Status s = ingest->Append(&context, bad, &result);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_NE(s.error_message().find("events[0].event_id"), std::string::npos) << s.error_message();
  }
  v1::AppendRequest stale;
  stale.set_case_id("SYNTH-7-000001");
  stale.mutable_expected_version()->set_exact(1);
  *stale.add_events() = testing::CaseReferredEvent();
  {
    grpc::ClientContext context;
    grpc::Status s = ingest->Append(&context, stale, &result);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::ABORTED);
    EXPECT_NE(s.error_message().find("current_version="), std::string::npos) << s.error_message();
  }
  // Sending the whole cohort again is a retry: nothing new is stored.
  const auto again = client::StreamCohort(channel, Cohort(1, 300));
  EXPECT_EQ(again.appended, 0u);
  EXPECT_EQ(again.already_recorded, head);
  EXPECT_EQ(QueryWhenApplied(server.address(), head).watermark().events_applied(), head);
  EXPECT_EQ(server.Terminate(), 0);
}

TEST_F(EndToEndTest, KillDashNineAndRestartEndsEqualToACleanRebuild) {
  uint64_t first_half;
  {
    KringdProcess server(DataDir());
    auto channel = grpc::CreateChannel(server.address(), grpc::InsecureChannelCredentials());
    const auto totals = client::StreamCohort(channel, Cohort(1, 150));
    ASSERT_TRUE(totals.status.ok()) << totals.status;
    first_half = totals.appended;
    QueryWhenApplied(server.address(), first_half / 2, /*at_least=*/true);  // part-way or done
    server.Kill();
  }
  KringdProcess server(DataDir());
  auto channel = grpc::CreateChannel(server.address(), grpc::InsecureChannelCredentials());
  const auto totals = client::StreamCohort(channel, Cohort(1, 300));
  ASSERT_TRUE(totals.status.ok()) << totals.status;
  EXPECT_EQ(totals.already_recorded, first_half) << "every acknowledged event survived kill -9";
  const uint64_t head = first_half + totals.appended;
  const auto live = QueryWhenApplied(server.address(), head);
  ASSERT_EQ(server.Terminate(), 0);
  EXPECT_TRUE(MessageDifferencer::Equals(live, CleanRebuild(DataDir(), dir_.Sub("rebuild"))));
  EXPECT_EQ(live.overall().conferences(), ExpectedNetworkSize(300, DataDir()).first);
}

// SIGTERM while partners stream: kringd acknowledges what it has read and
// exits 0; every acknowledged event is stored. An acknowledgement can still
// be lost on the wire when the connection closes, so the partner sends the
// unacknowledged batches again: the retry finds exactly what was stored, and
// in the end every event is stored once.
TEST_F(EndToEndTest, SigtermLosesNoAcknowledgedEventAndRetriesCompleteTheCohort) {
  constexpr size_t kCases = 6000;
  client::CohortStreamTotals first;
  {
    KringdProcess server(DataDir());
    auto channel = grpc::CreateChannel(server.address(), grpc::InsecureChannelCredentials());
    std::atomic<uint64_t> acknowledged{0};
    client::CohortStreamOptions options = Cohort(1, kCases);
    options.acknowledged_batches = &acknowledged;
    auto streaming = std::async(std::launch::async, [&] { return client::StreamCohort(channel, options); });
    // SIGTERM once the server has acknowledged a batch: the stream is under way.
    ASSERT_TRUE(testing::WaitFor([&] { return acknowledged.load() > 0; }))
        << "no batch acknowledged within two minutes";
    const int status = server.Terminate();
    first = streaming.get();
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "kringd did not stop cleanly: " << status;
    ASSERT_FALSE(first.status.ok()) << "the cohort finished before SIGTERM; nothing was tested";
    ASSERT_GT(first.appended, 0u);
    // The relay flushed everything to Kafka before the process ended.
    const auto log = testing::RunCommand("grep relay_stopped " + server.log_path()).output;
    EXPECT_NE(log.find("flushed=true"), std::string::npos) << log;
  }
  uint64_t stored;
  {
    eventstore::EventStoreOptions options;
    options.path = DataDir() + "/events";
    auto store = std::move(eventstore::EventStore::Open(options)).value();
    stored = store->Head().value();
  }
  EXPECT_GE(stored, first.appended) << "an acknowledged event was lost";

  KringdProcess server(DataDir());
  auto channel = grpc::CreateChannel(server.address(), grpc::InsecureChannelCredentials());
  const auto retry = client::StreamCohort(channel, Cohort(1, kCases));
  ASSERT_TRUE(retry.status.ok()) << retry.status;
  EXPECT_EQ(retry.refused, 0u);
  EXPECT_EQ(retry.already_recorded, stored) << "a stored batch was not recognised as a retry";
  EXPECT_EQ(QueryWhenApplied(server.address(), stored + retry.appended).watermark().max_global_position(),
            stored + retry.appended)
      << "positions are not gapless";
  EXPECT_EQ(server.Terminate(), 0);
}

// Kafka unreachable from the start: kringd still starts, acknowledges and
// stores appends although the relay never confirms a single event to Kafka
// (so no acknowledgement waited for Kafka), and stops cleanly within its
// shutdown budget.
TEST_F(EndToEndTest, AppendsNeverWaitForKafkaEvenWhenItIsDownAtStart) {
  KringdProcess server(DataDir(), {"--kafka-bootstrap", "127.0.0.1:1", "--shutdown-timeout-ms", "2000"});
  auto channel = grpc::CreateChannel(server.address(), grpc::InsecureChannelCredentials());
  const auto totals = client::StreamCohort(channel, Cohort(1, 50));
  ASSERT_TRUE(totals.status.ok()) << totals.status;
  EXPECT_EQ(totals.refused, 0u);
  EXPECT_GT(totals.appended, 0u);
  const int status = server.Terminate();
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  // Every append was acknowledged while the relay had confirmed nothing.
  const auto log = testing::RunCommand("grep relay_stopped " + server.log_path()).output;
  EXPECT_NE(log.find(absl::StrCat("confirmed_position=0 head_position=", totals.appended, " ")), std::string::npos)
      << log;

  eventstore::EventStoreOptions options;
  options.path = DataDir() + "/events";
  auto store = std::move(eventstore::EventStore::Open(options)).value();
  EXPECT_EQ(store->Head().value(), totals.appended);
}

// Against a real Apache Kafka broker (KRaft, one node on loopback), started
// from the broker's jars fetched through Maven by tests/kafka/kafka-broker.sh.
TEST_F(EndToEndTest, AgainstARealKafkaBroker) {
  testing::KafkaBroker broker(dir_.Sub("kafka"));
  const std::vector<std::string> args = {"--kafka-bootstrap", broker.bootstrap()};
  uint64_t first_half;
  {
    KringdProcess server(DataDir(), args);
    EXPECT_EQ(server.kafka_bootstrap(), broker.bootstrap());
    auto channel = grpc::CreateChannel(server.address(), grpc::InsecureChannelCredentials());
    const auto totals = client::StreamCohort(channel, Cohort(1, 150));
    ASSERT_TRUE(totals.status.ok()) << totals.status;
    first_half = totals.appended;
    QueryWhenApplied(server.address(), first_half);
    const auto consumed = testing::ConsumeTopic(broker.bootstrap(), kTopic, first_half);
    EXPECT_EQ(consumed.size(), first_half);
    EXPECT_EQ(ExpectCompleteAndOrdered(consumed, first_half), 0u);
    server.Kill();  // the outbox and the worker's offsets carry over to the restart
  }
  KringdProcess server(DataDir(), args);
  auto channel = grpc::CreateChannel(server.address(), grpc::InsecureChannelCredentials());
  const auto totals = client::StreamCohort(channel, Cohort(1, 300));
  ASSERT_TRUE(totals.status.ok()) << totals.status;
  EXPECT_EQ(totals.already_recorded, first_half);
  const uint64_t head = first_half + totals.appended;
  const auto live = QueryWhenApplied(server.address(), head);
  const auto consumed = testing::ConsumeTopic(broker.bootstrap(), kTopic, head);
  ExpectCompleteAndOrdered(consumed, head);
  ASSERT_EQ(server.Terminate(), 0);
  EXPECT_TRUE(MessageDifferencer::Equals(live, CleanRebuild(DataDir(), dir_.Sub("rebuild"))));
  EXPECT_EQ(live.overall().conferences(), ExpectedNetworkSize(300, DataDir()).first);
}

// Three real brokers (replication factor 3, min.insync.replicas 2). One is
// stopped while partners keep appending (Kafka still takes writes); then a
// second one, so that Kafka cannot take a single write: appends are still
// acknowledged, and at that moment the partitions that still answer hold none
// of them, so they never waited for Kafka. Both brokers are restarted, and afterwards the topic
// holds every event exactly once, in order per case, and the read model
// equals a clean rebuild.
TEST_F(EndToEndTest, BrokersOfThreeStoppedAndRestartedNeitherBlockAppendsNorLoseOrDuplicateEvents) {
  testing::KafkaBroker cluster(dir_.Sub("kafka"), 3);
  KringdProcess server(DataDir(), {"--kafka-bootstrap", cluster.bootstrap()});
  auto channel = grpc::CreateChannel(server.address(), grpc::InsecureChannelCredentials());
  uint64_t head = 0;
  auto append = [&](size_t first, size_t cases) {
    const auto totals = client::StreamCohort(channel, Cohort(first, cases));
    ASSERT_TRUE(totals.status.ok()) << totals.status;
    ASSERT_EQ(totals.refused, 0u);
    head += totals.appended;
  };
  append(1, 100);
  QueryWhenApplied(server.address(), head);

  cluster.StopNode(2);
  append(101, 100);
  cluster.StopNode(3);  // one in-sync replica left: Kafka confirms no write
  const uint64_t before_outage = head;
  append(201, 100);
  ASSERT_GT(head, before_outage);
  {
    // The acknowledgements are in; the partitions that still answer (those
    // led by the broker left) hold none of their positions.
    const auto seen =
        testing::ConsumeTopic(cluster.bootstrap(), kTopic, head, std::chrono::seconds(30), std::chrono::seconds(5));
    EXPECT_FALSE(seen.empty()) << "no partition answered: nothing was checked";
    size_t past_outage = 0;
    for (const auto& c : seen) past_outage += c.event.global_position() > before_outage;
    EXPECT_EQ(past_outage, 0u) << "acknowledged positions were on Kafka although Kafka could take no write";
  }
  // Together: each restart waits until the cluster serves three brokers.
  auto restart_3 = std::async(std::launch::async, [&] { cluster.RestartNode(3); });
  cluster.RestartNode(2);
  restart_3.get();
  append(301, 100);

  const auto live = QueryWhenApplied(server.address(), head);
  const auto consumed = testing::ConsumeTopic(cluster.bootstrap(), kTopic, head);
  EXPECT_EQ(ExpectCompleteAndOrdered(consumed, head), 0u) << "events duplicated on the topic";
  EXPECT_EQ(consumed.size(), head);
  ASSERT_EQ(server.Terminate(), 0);
  EXPECT_TRUE(MessageDifferencer::Equals(live, CleanRebuild(DataDir(), dir_.Sub("rebuild"))));
  EXPECT_EQ(live.overall().conferences(), ExpectedNetworkSize(400, DataDir()).first);
}

}  // namespace
}  // namespace kring
