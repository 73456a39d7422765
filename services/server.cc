#include "services/server.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/resource_quota.h>
#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server_builder.h>

#include <filesystem>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "common/status.h"
#include "grpc/health/v1/health.pb.h"
#include "projections/funnel.h"
#include "projections/network_size.h"
#include "projections/outcomes.h"
#include "projections/support.h"
#include "services/roles.h"

namespace kring::services {

absl::StatusOr<std::unique_ptr<KringServer>> KringServer::Start(ServerOptions options) {
  std::unique_ptr<KringServer> server(new KringServer(std::move(options)));
  RETURN_IF_ERROR(server->StartAll());
  return server;
}

// Start-up in dependency order, one step per role (services/roles.h): the
// store (ingest), Kafka, the relay (relay), the read models (projections),
// then the gRPC services of the roles this process runs.
absl::Status KringServer::StartAll() {
  std::error_code ec;
  std::filesystem::create_directories(options_.data_dir + "/projections", ec);
  if (ec) return absl::InvalidArgumentError(absl::StrCat("--data-dir: cannot create folder: ", ec.message()));
  RETURN_IF_ERROR(ValidateRoles(options_.roles, options_.ingest_node, options_.kafka.bootstrap));

  ASSIGN_OR_RETURN(auth_, security::Authenticator::Create(options_.auth, options_.listen));
  if (!options_.metrics_listen.empty()) {
    ASSIGN_OR_RETURN(metrics_, Metrics::Start(options_.metrics_listen, [this] { return MetricGauges(); }));
  }
  if (options_.roles.ingest) RETURN_IF_ERROR(StartIngest());
  if (!options_.roles.ingest) RETURN_IF_ERROR(ConnectIngestNode());
  ASSIGN_OR_RETURN(const bus::KafkaOptions kafka, StartKafka());
  if (options_.roles.relay) RETURN_IF_ERROR(StartRelay(kafka));
  if (options_.roles.projections) RETURN_IF_ERROR(StartProjections(kafka));
  RETURN_IF_ERROR(StartGrpc());
  StartHealthMonitor();
  Logger("server")->info(
      "msg=serving grpc={} roles={} tls={} mutual_tls={} development_mode={} personal_data_sealing={} "
      "kafka_bootstrap={} topic={} embedded_kafka={} data_dir={}",
      address_, options_.roles.ToString(), auth_->tls(), auth_->mutual_tls(), auth_->development_mode(),
      keys_ != nullptr, kafka_bootstrap_, kafka.topic, embedded_kafka_ != nullptr, options_.data_dir);
  return WriteReadyFile();
}

// ingest: the keys, the access log and the event store.
absl::Status KringServer::StartIngest() {
  if (!options_.master_key_file.empty()) {
    security::KeyStoreOptions key_options;
    key_options.path = options_.data_dir + "/keys";
    key_options.master_key_file = options_.master_key_file;
    ASSIGN_OR_RETURN(keys_, security::KeyStore::Open(key_options));
  }
  security::AccessLogOptions access_options;
  access_options.path = options_.data_dir + "/access-log";
  access_options.clock = options_.clock;
  ASSIGN_OR_RETURN(access_log_, security::AccessLog::Open(access_options));

  eventstore::EventStoreOptions store_options;
  if (metrics_) {
    store_options.on_appended = [m = metrics_.get()](size_t events, absl::StatusCode code, bool already, double s) {
      m->ObserveAppend(events, code, already, s);
    };
  }
  store_options.path = options_.data_dir + "/events";
  store_options.sealer = keys_.get();
  store_options.validation = options_.validation;
  store_options.clock = options_.clock;
  store_options.min_free_bytes = options_.min_free_bytes;
  ASSIGN_OR_RETURN(store_, eventstore::EventStore::Open(store_options));
  return absl::OkStatus();
}

// Without ingest: the ingest node's log over gRPC (ReplicationService), where
// the read models fill what Kafka did not bring.
absl::Status KringServer::ConnectIngestNode() {
  RemoteEventSourceOptions remote;
  remote.connect.server = options_.ingest_node;
  remote.connect.tls_ca_file = options_.ingest_node_tls_ca_file;
  remote.connect.tls_server_name = options_.ingest_node_tls_server_name;
  if (!options_.ingest_node_token_file.empty()) {
    absl::StatusOr<std::string> token = client::ReadTokenFile(options_.ingest_node_token_file);
    if (!token.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--ingest-node-token-file: cannot read ", options_.ingest_node_token_file));
    }
    remote.connect.token = *std::move(token);
  }
  ASSIGN_OR_RETURN(remote_, RemoteEventSource::Create(std::move(remote)));
  return absl::OkStatus();
}

// The Kafka cluster: the given brokers, or (ingest only, options.cc and
// ValidateRoles refuse it otherwise) the embedded cluster.
absl::StatusOr<bus::KafkaOptions> KringServer::StartKafka() {
  bus::KafkaOptions kafka = options_.kafka;
  if (kafka.bootstrap.empty()) {
    ASSIGN_OR_RETURN(embedded_kafka_,
                     bus::EmbeddedKafka::Start(kafka.embedded_brokers, kafka.topic, kafka.embedded_partitions));
    kafka.bootstrap = embedded_kafka_->bootstrap();
    if (!auth_->development_mode()) {
      // Only with --embedded-kafka-in-production (options.cc refuses it
      // otherwise), or an in-process server built without flags.
      Logger("server")->warn(
          "msg=embedded_kafka_in_production bootstrap={} detail=\"the embedded cluster is in memory, keeps only the "
          "newest ~5 MiB per partition and serves the log to any local Kafka client without credentials\"",
          kafka.bootstrap);
    }
  }
  kafka_bootstrap_ = kafka.bootstrap;
  return kafka;
}

// relay: the outbox of the local store to Kafka.
absl::Status KringServer::StartRelay(const bus::KafkaOptions& kafka) {
  bus::RelayOptions relay_options;
  relay_options.kafka = kafka;
  // The embedded cluster starts empty: publish the whole log again; workers
  // skip what they have applied.
  relay_options.republish_from_start = embedded_kafka_ != nullptr;
  relay_options.on_health_change = [this](const absl::Status&) { PokeMonitor(); };
  ASSIGN_OR_RETURN(relay_, bus::OutboxRelay::Start(store_.get(), relay_options));
  return absl::OkStatus();
}

const eventstore::EventSource* KringServer::event_source() const {
  if (store_) return store_.get();
  return remote_.get();
}

// projections: the read models, filled once from the log (the local store or
// the ingest node) and then fed by their Kafka consumers.
absl::Status KringServer::StartProjections(const bus::KafkaOptions& kafka) {
  // The cell key secret: the live models and their replays "as of" all
  // derive record keys from it.
  std::shared_ptr<const projections::CellKeySecret> secret;
  if (options_.cell_key_file.empty()) {
    bool created = false;
    ASSIGN_OR_RETURN(
        secret, projections::CellKeySecret::LoadOrCreate(options_.data_dir + "/cell-key", "--cell-key-file", &created));
    if (created) Logger("server")->info("msg=cell_key_created file={}/cell-key", options_.data_dir);
  } else {
    ASSIGN_OR_RETURN(secret, projections::CellKeySecret::Load(options_.cell_key_file, "--cell-key-file"));
  }
  const std::vector<projections::ProjectionFactory> factories = {
      [secret] { return std::make_unique<projections::NetworkSizeProjection>(secret); },
      [secret] { return std::make_unique<projections::OutcomesProjection>(secret); },
      [secret] { return std::make_unique<projections::FunnelProjection>(secret); },
      [secret] { return std::make_unique<projections::SupportProjection>(secret); },
  };
  projections::ProjectionOptions engine_options;
  engine_options.kafka = kafka;
  engine_options.fill_from_store = options_.fill_from_store;
  engine_options.group_prefix = options_.consumer_group_prefix;
  for (const auto& factory : factories) {
    projections::LiveReadModelOptions model_options;
    model_options.dir = options_.data_dir + "/projections";
    model_options.factory = factory;
    model_options.engine = engine_options;
    ASSIGN_OR_RETURN(auto model, projections::LiveReadModel::Open(model_options, event_source()));
    read_models_[model->name()] = std::move(model);
  }
  // What the read models lack of the log (a fresh or emptied folder, a
  // crash's lag) comes from one scan for all of them, before their consumers
  // start; the consumers then skip by version what is applied. Should it
  // fail, the consumers and their own fill from the log still converge.
  // One thread: on the 2-core build machine, two were slower
  // (bench/README.md, research_bench).
  if (engine_options.fill_from_store) {
    std::vector<projections::LiveReadModel*> models;
    for (const auto& [name, model] : read_models_) models.push_back(model.get());
    if (absl::Status s = projections::FillFromStore(models); !s.ok()) {
      Logger("server")->error("msg=fill_from_store_failed status=\"{}\"", s.ToString());
    }
  }
  for (const auto& [name, model] : read_models_) model->StartConsumer();
  return absl::OkStatus();
}

// gRPC's health service is not built from a generated class, so nothing in
// kringd would reference grpc/health/v1/health.pb.cc and the linker would drop
// it from kring_proto: reflection could then not describe
// grpc.health.v1.Health, and grpcurl could not call it by name (docs/api.md;
// tests/api_examples_test.py runs that against the kringd binary).
namespace {
void LinkHealthDescriptor() { (void)::grpc::health::v1::HealthCheckRequest::descriptor(); }
}  // namespace

// The gRPC services of this process's roles, health checking and reflection.
absl::Status KringServer::StartGrpc() {
  std::map<std::string, projections::LiveReadModel*> by_name;
  for (const auto& [name, model] : read_models_) by_name[name] = model.get();
  if (options_.roles.ingest) {
    ingest_ = std::make_unique<IngestService>(store_.get(), auth_.get(), access_log_.get(), options_.admission);
    operations_ = std::make_unique<OperationsService>(store_.get(), by_name, auth_.get(), keys_.get(),
                                                      access_log_.get(), options_.data_dir);
    operations_->SetStatusSource([this] { return Status(); });
    // An erasure that a crash interrupted is finished before anyone can read
    // or append (services/erasure.h). Should that fail, the case's key already
    // opens nothing; the server serves, and a repeated erasure finishes it.
    if (absl::StatusOr<int> finished = operations_->CompletePendingErasures(); !finished.ok()) {
      Logger("server")->error("msg=interrupted_erasure_not_finished status=\"{}\"", finished.status().ToString());
    }
    audit_ = std::make_unique<AuditService>(store_.get(), auth_.get(), access_log_.get(), keys_.get());
    replication_ = std::make_unique<ReplicationService>(store_.get(), auth_.get());
  }
  if (options_.roles.query) {
    ResearchModels research_models;
    research_models.network_size = by_name.at(projections::NetworkSizeProjection::kName);
    research_models.outcomes = by_name.at(projections::OutcomesProjection::kName);
    research_models.funnel = by_name.at(projections::FunnelProjection::kName);
    research_models.support = by_name.at(projections::SupportProjection::kName);
    research_ = std::make_unique<ResearchService>(research_models, auth_.get());
  }
  grpc::EnableDefaultHealthCheckService(true);
  LinkHealthDescriptor();
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(options_.listen, auth_->ServerCredentials(), &port);
  builder.SetMaxReceiveMessageSize(static_cast<int>(options_.validation.max_batch_bytes) + (1 << 20));
  // Limits and back-pressure (docs/operations.md). Compressed requests are
  // refused (UNIMPLEMENTED): gRPC 1.51 checks the receive limit before it
  // inflates a message and then inflates it whole, so a small request could
  // take any amount of memory.
  builder.SetCompressionAlgorithmSupportStatus(GRPC_COMPRESS_DEFLATE, false);
  builder.SetCompressionAlgorithmSupportStatus(GRPC_COMPRESS_GZIP, false);
  builder.AddChannelArgument(GRPC_ARG_MAX_METADATA_SIZE, options_.max_metadata_bytes);
  builder.AddChannelArgument(GRPC_ARG_MAX_CONCURRENT_STREAMS, options_.max_concurrent_streams);
  builder.AddChannelArgument(GRPC_ARG_MAX_CONNECTION_IDLE_MS, static_cast<int>(options_.max_connection_idle.count()));
  grpc::ResourceQuota quota("kringd");
  quota.Resize(options_.memory_quota_bytes);
  builder.SetResourceQuota(quota);
  if (metrics_) {
    std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> interceptors;
    interceptors.push_back(metrics_->InterceptorFactory());
    builder.experimental().SetInterceptorCreators(std::move(interceptors));
  }
  if (ingest_) builder.RegisterService(ingest_.get());
  if (research_) builder.RegisterService(research_.get());
  if (operations_) builder.RegisterService(operations_.get());
  if (audit_) builder.RegisterService(audit_.get());
  if (replication_) builder.RegisterService(replication_.get());
  grpc_ = builder.BuildAndStart();
  if (!grpc_ || port == 0) {
    return absl::UnavailableError(absl::StrCat("--listen: cannot listen on ", options_.listen));
  }
  address_ = options_.listen.substr(0, options_.listen.rfind(':') + 1) + std::to_string(port);
  grpc_->GetHealthCheckService()->SetServingStatus(true);  // "" (liveness)
  return absl::OkStatus();
}

// The named statuses (services/health.h). Ingest health follows the store's
// write health: NOT_SERVING while appends are refused (disk full, failed
// write). The overall "" status (liveness) stays SERVING meanwhile: reads,
// research and audit still work, and a probe that restarted or drained the
// process on "" would not free any space (docs/operations.md, "Health").
void KringServer::StartHealthMonitor() {
  HealthOptions health_options;
  health_options.max_relay_lag = options_.max_relay_lag;
  health_options.max_read_model_lag = options_.max_read_model_lag;
  HealthInputs inputs;
  // A replica's head is the ingest node's, as it last learned it.
  const eventstore::EventSource* source = event_source();
  inputs.head = [source] { return source->Head().value(); };
  eventstore::EventStore* store = store_.get();
  if (store != nullptr) {
    inputs.store = [store]() -> absl::Status {
      const eventstore::WriteHealth h = store->write_health();
      if (h.ok()) return absl::OkStatus();
      return absl::UnavailableError(absl::StrCat(eventstore::WriteHealthName(h.state), ": ", h.reason));
    };
  }
  if (bus::OutboxRelay* relay = relay_.get(); relay != nullptr) {
    inputs.relay_confirmed = [relay] { return relay->Confirmed().value(); };
    inputs.relay_producer = [relay] { return relay->Health(); };
  }
  for (const auto& [name, model] : read_models_) {
    projections::LiveReadModel* m = model.get();
    inputs.read_models.push_back({name, [m] { return m->engine()->watermark().max_global_position; }});
  }
  grpc::HealthCheckServiceInterface* health = grpc_->GetHealthCheckService();
  inputs.publish = [health](const std::string& service, bool serving) { health->SetServingStatus(service, serving); };
  monitor_ = std::make_unique<HealthMonitor>(health_options, std::move(inputs));
  {
    std::lock_guard<std::mutex> lock(monitor_mu_);
    poke_ = monitor_.get();
  }
  if (store_ == nullptr) return;
  store_->WatchWriteHealth([this](const eventstore::WriteHealth& h) {
    Logger("server")->info("msg=store_write_health state={}", eventstore::WriteHealthName(h.state));
    PokeMonitor();
  });
}

void KringServer::PokeMonitor() {
  std::lock_guard<std::mutex> lock(monitor_mu_);
  if (poke_ != nullptr) poke_->Poke();
}

absl::Status KringServer::WriteReadyFile() const {
  if (options_.ready_file.empty()) return absl::OkStatus();
  const std::string tmp = options_.ready_file + ".tmp";
  {
    std::ofstream out(tmp);
    out << "{\"grpc\": \"" << address_ << "\", \"kafka_bootstrap\": \"" << kafka_bootstrap_ << "\", \"topic\": \""
        << options_.kafka.topic << "\", \"metrics\": \"" << metrics_address() << "\"}\n";
    if (!out) return absl::InternalError(absl::StrCat("--ready-file: cannot write ", tmp));
  }
  std::error_code ec;
  std::filesystem::rename(tmp, options_.ready_file, ec);
  if (ec) return absl::InternalError(absl::StrCat("--ready-file: ", ec.message()));
  return absl::OkStatus();
}

void KringServer::Shutdown() {
  if (shut_down_) return;
  shut_down_ = true;
  auto log = Logger("server");
  log->info("msg=shutting_down");
  if (store_) store_->WatchWriteHealth(nullptr);
  {
    std::lock_guard<std::mutex> lock(monitor_mu_);
    poke_ = nullptr;  // the relay's thread may still report until it stops
  }
  monitor_.reset();  // before the services it reads go away
  if (grpc_) {
    grpc_->GetHealthCheckService()->SetServingStatus(false);
    if (ingest_) ingest_->BeginShutdown();
    if (audit_) audit_->BeginShutdown();  // ends ReadAll streams, follow streams included
    // Rebuilds and replays "as of" stop; their calls end with UNAVAILABLE.
    if (operations_) operations_->BeginShutdown();
    if (research_) research_->BeginShutdown();
    // Stops accepting; in-flight appends finish (the store is still open).
    grpc_->Shutdown(std::chrono::system_clock::now() + options_.shutdown_timeout);
    grpc_->Wait();
  }
  if (operations_) operations_->Shutdown();
  if (research_) research_->Shutdown();
  if (audit_) audit_->BeginShutdown();  // idempotent: its waiter stops before the store closes
  if (store_) store_->StopAppends();    // finishes queued batches, refuses new ones
  if (relay_) relay_->Stop(options_.shutdown_timeout);
  for (auto& [name, model] : read_models_) model->StopConsumer();
  read_models_.clear();
  relay_.reset();
  embedded_kafka_.reset();
  store_.reset();
  remote_.reset();
  metrics_.reset();  // after the store: its appends report to it
  access_log_.reset();
  keys_.reset();
  log->info("msg=stopped");
}

KringServer::~KringServer() { Shutdown(); }

}  // namespace kring::services
