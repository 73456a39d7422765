// KringServer: one kringd process with the roles of --roles (services/
// roles.h; by default every role — event store, Kafka relay
// (and the embedded cluster when no brokers are configured), the projection
// workers of the read models, and the gRPC services (ingest, research, operations, audit)
// with health checking and reflection).
//
// Data folder: <data>/events (the event store), <data>/projections/ (the read
// models, see projections/read_model.h), <data>/keys (the wrapped data keys,
// with a master key), <data>/access-log (security/access_log.h).
//
// Lifecycle: Start() opens and starts everything in dependency order;
// Shutdown() (on SIGTERM) stops accepting RPCs and finishes in-flight ones,
// lets the relay flush the outbox, stops the worker, and closes the stores.
#pragma once

#include <grpcpp/server.h>

#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "absl/status/statusor.h"
#include "bus/kafka.h"
#include "bus/relay.h"
#include "eventstore/event_store.h"
#include "projections/read_model.h"
#include "security/access_log.h"
#include "security/auth.h"
#include "security/key_store.h"
#include "services/audit_service.h"
#include "services/health.h"
#include "services/ingest_service.h"
#include "services/metrics.h"
#include "services/operations_service.h"
#include "services/options.h"
#include "services/remote_event_source.h"
#include "services/replication_service.h"
#include "services/research_service.h"

namespace kring::services {

class KringServer {
 public:
  static absl::StatusOr<std::unique_ptr<KringServer>> Start(ServerOptions options);
  ~KringServer();

  // For tests that run a server in-process: the gRPC address (with the chosen
  // port), the Kafka bootstrap servers, and the event store (read-only use).
  const std::string& address() const { return address_; }
  const std::string& kafka_bootstrap() const { return kafka_bootstrap_; }
  // host:port of /metrics; empty without --metrics-listen.
  std::string metrics_address() const { return metrics_ ? metrics_->address() : ""; }
  // The store exists with the ingest role only.
  const eventstore::EventStore& store() const { return *store_; }
  // What this process runs (--roles), e.g. for status.
  const Roles& roles() const { return options_.roles; }
  // The ingest service, e.g. for its admission counters.
  IngestService& ingest() { return *ingest_; }

  void Shutdown();

  // What this process is doing, for OperationsService.GetStatus and
  // `kringctl status` (services/server_status.cc).
  v1::GetStatusResponse Status() const;
  // The health statuses and lags as last evaluated (services/health.h).
  HealthSnapshot health() const { return monitor_->Snapshot(); }
  // True when this process runs the embedded Kafka cluster (no
  // --kafka-bootstrap).
  bool embedded_kafka() const { return embedded_kafka_ != nullptr; }
  // True when it does so in production mode (--embedded-kafka-in-production):
  // the log is readable there without credentials.
  bool embedded_kafka_unauthenticated() const { return embedded_kafka_ != nullptr && !auth_->development_mode(); }

 private:
  explicit KringServer(ServerOptions options) : options_(std::move(options)) {}
  absl::Status StartAll();
  absl::Status WriteReadyFile() const;
  // The start-up steps, one per role (services/roles.h).
  absl::Status StartIngest();
  absl::Status ConnectIngestNode();
  absl::StatusOr<bus::KafkaOptions> StartKafka();
  absl::Status StartRelay(const bus::KafkaOptions& kafka);
  absl::Status StartProjections(const bus::KafkaOptions& kafka);
  absl::Status StartGrpc();
  // Where the read models fill from: the local store, or without the ingest
  // role the ingest node (remote_).
  const eventstore::EventSource* event_source() const;
  // Starts the health monitor that publishes every named status.
  void StartHealthMonitor();

  const ServerOptions options_;
  std::unique_ptr<security::Authenticator> auth_;
  std::unique_ptr<security::KeyStore> keys_;  // with --master-key-file only
  std::unique_ptr<security::AccessLog> access_log_;
  std::unique_ptr<eventstore::EventStore> store_;  // with the ingest role only
  std::unique_ptr<RemoteEventSource> remote_;      // without it
  std::unique_ptr<bus::EmbeddedKafka> embedded_kafka_;
  std::unique_ptr<bus::OutboxRelay> relay_;
  // Every read model, by name (network-size, outcomes, funnel, support).
  std::map<std::string, std::unique_ptr<projections::LiveReadModel>> read_models_;
  std::unique_ptr<IngestService> ingest_;
  std::unique_ptr<ResearchService> research_;
  std::unique_ptr<OperationsService> operations_;
  std::unique_ptr<AuditService> audit_;
  std::unique_ptr<ReplicationService> replication_;
  std::unique_ptr<grpc::Server> grpc_;
  std::string address_;
  std::string kafka_bootstrap_;
  bool shut_down_ = false;
  std::unique_ptr<HealthMonitor> monitor_;
  // The monitor, for callbacks that may come before it exists or after it
  // stops (the relay's and the store's threads).
  std::mutex monitor_mu_;
  HealthMonitor* poke_ = nullptr;  // guarded by monitor_mu_
  void PokeMonitor();
  // What a metrics scrape reads (services/server_status.cc); empty until the
  // server serves and after Shutdown began.
  Gauges MetricGauges();
  std::unique_ptr<Metrics> metrics_;  // with --metrics-listen only
};

}  // namespace kring::services
