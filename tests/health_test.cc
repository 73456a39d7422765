// Operability seen from outside (issue 14): each kind of trouble is caused —
// Kafka's broker taken down, the disk "full", the embedded cluster dropping
// old messages — and the test checks what the health statuses
// (grpc.health.v1) and the status RPC (kringctl status) say about it, and that
// they return to SERVING once the trouble is over. Also: reflection describes
// the health service (grpcurl, grpc-health-probe), kringctl status and
// --version, and librdkafka's log routed through spdlog in the JSON format.
#include <google/protobuf/descriptor.pb.h>
#include <google/protobuf/unknown_field_set.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <librdkafka/rdkafkacpp.h>
#include <sys/statvfs.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "bus/kafka.h"
#include "cli/cohort_client.h"
#include "common/log.h"
#include "common/version.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "kring/v1/audit.grpc.pb.h"
#include "services/server.h"
#include "tests/testing/kringd_process.h"
#include "tests/testing/test_support.h"

namespace kring {
namespace {

using grpc::health::v1::HealthCheckRequest;
using grpc::health::v1::HealthCheckResponse;
using testing::NewChannel;
using testing::WaitFor;

constexpr int kServing = HealthCheckResponse::SERVING;
constexpr int kNotServing = HealthCheckResponse::NOT_SERVING;

// The status the health service reports for `service`; -1 if the call fails
// (NOT_FOUND for a name the server does not know).
int Health(const std::shared_ptr<grpc::Channel>& channel, const std::string& service) {
  auto stub = grpc::health::v1::Health::NewStub(channel);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  HealthCheckRequest request;
  request.set_service(service);
  HealthCheckResponse response;
  if (!stub->Check(&context, request, &response).ok()) return -1;
  return response.status();
}

v1::GetStatusResponse Status(const std::shared_ptr<grpc::Channel>& channel) {
  auto stub = v1::OperationsService::NewStub(channel);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  v1::GetStatusResponse status;
  const grpc::Status s = stub->GetStatus(&context, v1::GetStatusRequest(), &status);
  EXPECT_TRUE(s.ok()) << s.error_message();
  return status;
}

const v1::HealthStatus* Find(const v1::GetStatusResponse& status, const std::string& service) {
  for (const v1::HealthStatus& h : status.health()) {
    if (h.service() == service) return &h;
  }
  return nullptr;
}

client::CohortStreamOptions Cohort(size_t first, size_t cases) {
  client::CohortStreamOptions o;
  o.cohort.seed = 14;
  o.cohort.first_case = first;
  o.cohort.cases = cases;
  o.streams = 2;
  return o;
}

const std::vector<std::string> kReadModels = {"funnel", "network-size", "outcomes", "support"};

services::ServerOptions BaseOptions(const std::string& data_dir) {
  services::ServerOptions options;
  options.data_dir = data_dir;
  options.listen = "127.0.0.1:0";
  options.shutdown_timeout = std::chrono::milliseconds(5000);
  return options;
}

std::unique_ptr<services::KringServer> Start(services::ServerOptions options) {
  auto server = services::KringServer::Start(std::move(options));
  EXPECT_TRUE(server.ok()) << server.status();
  return server.ok() ? *std::move(server) : nullptr;
}

// Every named status this server publishes, and "" (liveness).
std::vector<std::string> AllNames() {
  std::vector<std::string> names = {"", "kring.ready", "kring.v1.IngestService", "kring.v1.ResearchService",
                                    "kring.relay"};
  for (const std::string& m : kReadModels) names.push_back("kring.read-model." + m);
  return names;
}

bool AllServing(const std::shared_ptr<grpc::Channel>& channel) {
  for (const std::string& name : AllNames()) {
    if (Health(channel, name) != kServing) return false;
  }
  return true;
}

// The broker of the Kafka cluster kringd publishes to goes down while
// partners append: the outbox grows, the relay and every read model fall
// behind, and once the earliest waiting event is older than the limits their
// statuses turn NOT_SERVING, with the research service and readiness;
// liveness and ingest stay SERVING (appends go on). Status says why. When
// the broker is back, everything catches up and turns SERVING again. The read
// models' fill from the store is off: it would hide the broken feed.
TEST(HealthTest, ABrokerOutageTurnsRelayReadModelsResearchAndReadinessNotServingUntilItEnds) {
  testing::TempDir dir;
  auto kafka = bus::EmbeddedKafka::Start(1, "kring.case-events.v1", 3);
  ASSERT_TRUE(kafka.ok()) << kafka.status();
  services::ServerOptions options = BaseOptions(dir.Sub("data"));
  options.kafka.bootstrap = (*kafka)->bootstrap();  // to kringd, a real cluster it does not own
  options.fill_from_store = false;
  options.max_relay_lag = std::chrono::seconds(1);
  options.max_read_model_lag = std::chrono::seconds(1);
  auto server = Start(options);
  ASSERT_NE(server, nullptr);
  auto channel = NewChannel(server->address());

  ASSERT_EQ(client::StreamCohort(channel, Cohort(1, 20)).refused, 0u);
  ASSERT_TRUE(WaitFor([&] { return AllServing(channel); }));
  v1::GetStatusResponse healthy = Status(channel);
  EXPECT_TRUE(healthy.kafka().reachable());
  EXPECT_EQ(healthy.kafka().brokers(), 1u);
  EXPECT_EQ(healthy.health(0).service(), "kring.ready");
  EXPECT_TRUE(healthy.health(0).serving());

  ASSERT_EQ(rd_kafka_mock_broker_set_down((*kafka)->mock(), 1), RD_KAFKA_RESP_ERR_NO_ERROR);
  const auto more = client::StreamCohort(channel, Cohort(21, 20));
  ASSERT_TRUE(more.status.ok()) << more.status;  // appends go on
  ASSERT_EQ(more.refused, 0u);
  ASSERT_TRUE(WaitFor([&] { return Health(channel, "kring.ready") == kNotServing; }));
  ASSERT_TRUE(WaitFor([&] {
    for (const std::string& m : kReadModels) {
      if (Health(channel, "kring.read-model." + m) != kNotServing) return false;
    }
    return Health(channel, "kring.relay") == kNotServing;
  }));
  EXPECT_EQ(Health(channel, "kring.v1.ResearchService"), kNotServing);
  EXPECT_EQ(Health(channel, ""), kServing);
  EXPECT_EQ(Health(channel, "kring.v1.IngestService"), kServing);

  const v1::GetStatusResponse down = Status(channel);
  EXPECT_FALSE(down.kafka().reachable());
  EXPECT_FALSE(down.kafka().error().empty());
  EXPECT_EQ(down.kafka().relay_lag_events(), down.head_position() - down.kafka().published_position());
  EXPECT_GT(down.kafka().relay_lag_events(), 0u);
  EXPECT_GT(down.kafka().relay_lag_seconds(), 1.0);
  ASSERT_EQ(down.read_models_size(), 4);
  for (const v1::ReadModelStatus& m : down.read_models()) {
    EXPECT_GT(m.lag_events(), 0u) << m.name();
    EXPECT_FALSE(m.serving()) << m.name();
  }
  ASSERT_NE(Find(down, "kring.relay"), nullptr);
  EXPECT_FALSE(Find(down, "kring.relay")->serving());
  EXPECT_NE(Find(down, "kring.relay")->reason().find("behind the head"), std::string::npos);
  EXPECT_FALSE(Find(down, "kring.ready")->serving());
  EXPECT_TRUE(Find(down, "kring.v1.IngestService")->serving());

  ASSERT_EQ(rd_kafka_mock_broker_set_up((*kafka)->mock(), 1), RD_KAFKA_RESP_ERR_NO_ERROR);
  ASSERT_TRUE(WaitFor([&] { return AllServing(channel); }));
  const v1::GetStatusResponse recovered = Status(channel);
  EXPECT_EQ(recovered.kafka().published_position(), recovered.head_position());
  for (const v1::ReadModelStatus& m : recovered.read_models()) {
    EXPECT_EQ(m.applied_position(), recovered.head_position()) << m.name();
    EXPECT_EQ(m.lag_events(), 0u) << m.name();
  }
  server->Shutdown();
}

// Less free space than --min-free-mib: appends are refused as disk full;
// ingest and readiness turn NOT_SERVING, research and liveness stay SERVING,
// and status names the state, the reason and the free space.
TEST(HealthTest, AFullDiskTurnsIngestAndReadinessNotServingAndStatusSaysWhy) {
  testing::TempDir dir;
  services::ServerOptions options = BaseOptions(dir.Sub("data"));
  struct statvfs fs {};
  ASSERT_EQ(statvfs(dir.path().c_str(), &fs), 0);
  // More than the whole file system holds.
  options.min_free_bytes = static_cast<uint64_t>(fs.f_blocks) * fs.f_frsize + (uint64_t{1} << 30);
  auto server = Start(options);
  ASSERT_NE(server, nullptr);
  auto channel = NewChannel(server->address());

  const auto refused = client::StreamCohort(channel, Cohort(1, 1));
  EXPECT_EQ(refused.appended, 0u);
  ASSERT_TRUE(WaitFor([&] { return Health(channel, "kring.v1.IngestService") == kNotServing; }));
  ASSERT_TRUE(WaitFor([&] { return Health(channel, "kring.ready") == kNotServing; }));
  EXPECT_EQ(Health(channel, ""), kServing);
  EXPECT_EQ(Health(channel, "kring.v1.ResearchService"), kServing);

  const v1::GetStatusResponse status = Status(channel);
  EXPECT_FALSE(status.store().writable());
  EXPECT_EQ(status.store().write_state(), "disk_full");
  EXPECT_FALSE(status.store().reason().empty());
  EXPECT_LT(status.store().disk_free_bytes(), status.store().min_free_bytes());
  EXPECT_GT(status.store().disk_total_bytes(), 0u);
  EXPECT_NE(Find(status, "kring.ready")->reason().find("kring.v1.IngestService"), std::string::npos);
  server->Shutdown();
}

// The embedded cluster keeps only the newest ~5 MiB of a partition. Status
// says from which position its topic holds every event, and a consumer
// reading the topic from the beginning finds exactly that: on one partition,
// every position from there to the head and none before.
TEST(HealthTest, StatusSaysFromWhichPositionTheEmbeddedTopicHoldsEveryEvent) {
  testing::TempDir dir;
  services::ServerOptions options = BaseOptions(dir.Sub("data"));
  options.kafka.embedded_partitions = 1;
  auto server = Start(options);
  ASSERT_NE(server, nullptr);
  auto channel = NewChannel(server->address());
  ASSERT_EQ(client::StreamCohort(channel, Cohort(1, 20)).refused, 0u);
  ASSERT_TRUE(WaitFor([&] {
    const v1::GetStatusResponse s = Status(channel);
    return s.kafka().published_position() == s.head_position();
  }));
  EXPECT_EQ(Status(channel).kafka().embedded_complete_from(), 1u);  // nothing dropped yet
  EXPECT_TRUE(Status(channel).kafka().embedded());
  EXPECT_FALSE(Status(channel).kafka().embedded_unauthenticated());

  ASSERT_EQ(client::StreamCohort(channel, Cohort(21, 1500)).refused, 0u);
  v1::GetStatusResponse status;
  ASSERT_TRUE(WaitFor([&] {
    status = Status(channel);
    return status.kafka().published_position() == status.head_position();
  }));
  const uint64_t head = status.head_position();
  const uint64_t from = status.kafka().embedded_complete_from();
  ASSERT_GT(from, 1u) << "the cohort did not exceed what the embedded cluster keeps";

  const auto consumed = testing::ConsumeTopic(server->kafka_bootstrap(), options.kafka.topic, head - from + 1);
  std::set<uint64_t> positions;
  for (const auto& m : consumed) positions.insert(std::stoull(m.headers.at(bus::kHeaderGlobalPosition)));
  ASSERT_FALSE(positions.empty());
  EXPECT_EQ(*positions.begin(), from);
  EXPECT_EQ(*positions.rbegin(), head);
  EXPECT_EQ(positions.size(), head - from + 1);
  server->Shutdown();
}

// Reflection describes grpc.health.v1.Health, so grpcurl and
// grpc-health-probe can call it by name.
TEST(HealthTest, ReflectionDescribesTheHealthService) {
  testing::TempDir dir;
  auto server = Start(BaseOptions(dir.Sub("data")));
  ASSERT_NE(server, nullptr);
  // ServerReflectionRequest{file_containing_symbol (4): "grpc.health.v1.Health"}
  const std::string symbol = "grpc.health.v1.Health";
  const std::string bytes = testing::ServerReflectionCall(
      NewChannel(server->address()), std::string("\x22") + static_cast<char>(symbol.size()) + symbol);
  ASSERT_FALSE(bytes.empty());

  // ServerReflectionResponse.file_descriptor_response (4) holds the files.
  google::protobuf::UnknownFieldSet fields;
  ASSERT_TRUE(fields.ParseFromString(bytes));
  bool described = false;
  for (int i = 0; i < fields.field_count(); ++i) {
    ASSERT_NE(fields.field(i).number(), 7) << "reflection answered with an error";
    if (fields.field(i).number() != 4) continue;
    google::protobuf::UnknownFieldSet files;
    ASSERT_TRUE(files.ParseFromString(fields.field(i).length_delimited()));
    for (int j = 0; j < files.field_count(); ++j) {
      google::protobuf::FileDescriptorProto file;
      ASSERT_TRUE(file.ParseFromString(files.field(j).length_delimited()));
      for (const auto& service : file.service()) {
        if (file.package() != "grpc.health.v1" || service.name() != "Health") continue;
        std::set<std::string> methods;
        for (const auto& m : service.method()) methods.insert(m.name());
        EXPECT_EQ(methods, (std::set<std::string>{"Check", "Watch"}));
        described = true;
      }
    }
  }
  EXPECT_TRUE(described) << "no descriptor of grpc.health.v1.Health";
  server->Shutdown();
}

// kringctl status prints the table and --json the same status as JSON;
// kringd and kringctl print their version.
TEST(HealthTest, KringctlStatusShowsTheServerAndBothBinariesTellTheirVersion) {
  testing::TempDir dir;
  testing::KringdProcess kringd(dir.Sub("data"));
  ASSERT_EQ(client::StreamCohort(NewChannel(kringd.address()), Cohort(1, 10)).refused, 0u);
  const std::string kringctl = absl::StrCat(KRING_KRINGCTL_PATH, " --server ", kringd.address());

  const auto json = testing::RunCommand(kringctl + " status --json");
  ASSERT_EQ(WEXITSTATUS(json.status), 0) << json.output;
  const nlohmann::json status = nlohmann::json::parse(json.output);
  const uint64_t head = std::stoull(status.at("head_position").get<std::string>());
  EXPECT_GT(head, 0u);
  EXPECT_EQ(status.at("roles").size(), 4u);
  EXPECT_EQ(status.at("read_models").size(), 4u);
  EXPECT_EQ(status.at("kafka").at("embedded"), true);
  EXPECT_EQ(status.at("health").at(0).at("service"), "kring.ready");

  const auto table = testing::RunCommand(kringctl + " status");
  ASSERT_EQ(WEXITSTATUS(table.status), 0) << table.output;
  EXPECT_NE(table.output.find(absl::StrCat("head position   ", head)), std::string::npos) << table.output;
  for (const std::string& m : kReadModels) EXPECT_NE(table.output.find(m), std::string::npos) << table.output;
  EXPECT_NE(table.output.find("kring.relay"), std::string::npos) << table.output;

  for (const auto& [binary, name] : {std::pair{std::string(KRING_KRINGD_PATH), "kringd "},
                                     std::pair{std::string(KRING_KRINGCTL_PATH), "kringctl "}}) {
    const auto version = testing::RunCommand(binary + " --version");
    EXPECT_EQ(WEXITSTATUS(version.status), 0) << version.output;
    EXPECT_EQ(version.output.rfind(name + std::string(kring::Version()), 0), 0u) << version.output;
  }
#ifdef KRING_EXPECT_JEMALLOC
  // kringd runs on jemalloc (services/CMakeLists.txt); losing the link would
  // silently cost the append path (bench/README.md).
  const auto version = testing::RunCommand(std::string(KRING_KRINGD_PATH) + " --version");
  EXPECT_NE(version.output.find("\nallocator: jemalloc "), std::string::npos) << version.output;
#endif
}

// librdkafka's log goes through spdlog: with --log-format json every line
// kringd writes is one JSON object, librdkafka's complaints about an
// unreachable broker among them (no raw "%3|…|rdkafka" lines).
TEST(HealthTest, LibrdkafkaLogsThroughSpdlogAsJsonLines) {
  testing::TempDir dir;
  { testing::KringdProcess kringd(dir.Sub("data"), {"--log-format", "json", "--kafka-bootstrap", "127.0.0.1:1"}); }
  std::ifstream log(dir.Sub("data") + ".log");
  std::string line;
  int lines = 0, kafka_lines = 0;
  while (std::getline(log, line)) {
    ++lines;
    nlohmann::json record;
    ASSERT_NO_THROW(record = nlohmann::json::parse(line)) << line;
    EXPECT_TRUE(record.contains("ts") && record.contains("level") && record.contains("msg")) << line;
    if (record.at("subsystem") == "kafka" &&
        record.at("msg").get<std::string>().find("127.0.0.1:1") != std::string::npos) {
      ++kafka_lines;
    }
  }
  EXPECT_GT(lines, 3);
  EXPECT_GT(kafka_lines, 0) << "no librdkafka line about the unreachable broker came through spdlog";
}

// Each read model commits the offsets it applied to its consumer group
// (advisory: its own stored offsets stay authoritative), so Kafka's tools
// (kafka-consumer-groups --describe) show its real lag: on a real broker, once
// the models have applied the head, every group's committed offsets are the
// partitions' ends (LAG 0).
TEST(HealthTest, ReadModelsCommitTheirOffsetsSoKafkaToolsShowTheirLag) {
  testing::TempDir dir;
  testing::KafkaBroker broker(dir.Sub("kafka"));
  testing::KringdProcess kringd(dir.Sub("data"), {"--kafka-bootstrap", broker.bootstrap()});
  auto channel = NewChannel(kringd.address());
  ASSERT_EQ(client::StreamCohort(channel, Cohort(1, 30)).refused, 0u);
  ASSERT_TRUE(WaitFor([&] {
    const v1::GetStatusResponse s = Status(channel);
    for (const v1::ReadModelStatus& m : s.read_models()) {
      if (m.applied_position() != s.head_position()) return false;
    }
    return s.read_models_size() == 4 && s.kafka().published_position() == s.head_position();
  }));
  const std::string topic = "kring.case-events.v1";
  for (const std::string& model : kReadModels) {
    const std::string group = "kring.projection." + model;
    // A client of the group that does not join it: it only reads what the
    // group committed, as kafka-consumer-groups does.
    bus::KafkaOptions options;
    options.bootstrap = broker.bootstrap();
    auto conf = bus::MakeConf(options, {{"group.id", group}, {"enable.auto.commit", "false"}});
    ASSERT_TRUE(conf.ok()) << conf.status();
    std::string err;
    std::unique_ptr<RdKafka::KafkaConsumer> reader(RdKafka::KafkaConsumer::create(conf->get(), err));
    ASSERT_NE(reader, nullptr) << err;
    int64_t lag = -1;
    ASSERT_TRUE(WaitFor(
        [&] {
          const auto ends = testing::TopicOffsets(broker.bootstrap(), topic);
          std::vector<RdKafka::TopicPartition*> partitions;
          for (const auto& [p, range] : ends) partitions.push_back(RdKafka::TopicPartition::create(topic, p));
          const bool answered = !ends.empty() && reader->committed(partitions, 5000) == RdKafka::ERR_NO_ERROR;
          lag = 0;
          for (RdKafka::TopicPartition* tp : partitions) {
            const int64_t end = ends.at(tp->partition()).second;
            lag += tp->offset() >= 0 ? end - tp->offset() : end;  // no commit: the whole partition
          }
          RdKafka::TopicPartition::destroy(partitions);
          return answered && lag == 0;
        },
        std::chrono::seconds(60)))
        << group << ": committed offsets lag the topic by " << lag;
    reader->close();
  }
}

TEST(LogTest, EscapedValuesStayOnOneLine) {
  EXPECT_EQ(EscapeLogValue("plain text"), "plain text");
  EXPECT_EQ(EscapeLogValue("a \"quoted\" \\ path"), "a \\\"quoted\\\" \\\\ path");
  EXPECT_EQ(EscapeLogValue("two\nlines\r\tend"), "two\\nlines\\r\\tend");
  EXPECT_EQ(EscapeLogValue(std::string("bell\x07", 5)), "bell\\x07");
}

}  // namespace
}  // namespace kring
