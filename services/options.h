// ServerOptions: everything kringd can be told, and the one place that turns
// flags and environment variables into it.
#pragma once

#include <chrono>
#include <functional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "bus/kafka.h"
#include "eventstore/validation.h"
#include "security/auth.h"
#include "services/admission.h"
#include "services/roles.h"

namespace kring::services {

struct ServerOptions {
  // Folder for all state: event store, read models. Default: "./data"
  // (--data-dir, KRING_DATA_DIR).
  std::string data_dir = "./data";
  // gRPC listen address; port 0 picks a free port. Default: "127.0.0.1:50051"
  // (--listen, KRING_LISTEN).
  std::string listen = "127.0.0.1:50051";
  // Who may call, and TLS (security/auth.h): --identities, --tls-cert,
  // --tls-key, --tls-client-ca, --allow-insecure. Default: development mode
  // on loopback.
  security::AuthOptions auth;
  // The master key that wraps the per-case data keys (security/key_store.h);
  // without it, events with personal data are refused. Default: ""
  // (--master-key-file, KRING_MASTER_KEY_FILE).
  std::string master_key_file;
  // The secret of the cell key method (projections/cell_key.h): a file of at
  // least 32 bytes, not accessible by group or others, used whole. Replays
  // "as of" use it too; another secret changes every published figure.
  // Default: "" = <data_dir>/cell-key, created at first start with 32 random
  // bytes, mode 0600 (--cell-key-file, KRING_CELL_KEY_FILE).
  std::string cell_key_file;
  // Kafka: empty bootstrap starts the embedded cluster (--kafka-bootstrap,
  // KRING_KAFKA_BOOTSTRAP; --kafka-topic, KRING_KAFKA_TOPIC; repeated
  // --kafka-config key=value).
  bus::KafkaOptions kafka;
  // Production mode (an identities file is set) refuses to start on the
  // embedded cluster: it is in memory, keeps only the newest ~5 MiB per
  // partition, and serves the whole log to any local Kafka client without
  // credentials. This flag runs it anyway (a demo, a trial); every start then
  // logs a warning and status says so. Default: false
  // (--embedded-kafka-in-production, KRING_EMBEDDED_KAFKA_IN_PRODUCTION).
  bool embedded_kafka_in_production = false;
  // Limits on one append batch (--max-batch-events, --max-batch-bytes) and
  // the occurred_at window (--occurred-at-floor, --clock-skew-seconds).
  eventstore::ValidationOptions validation;
  // Free space the data folder's file system must keep: appends are refused
  // with RESOURCE_EXHAUSTED ("disk full: ...") while less is free and resume
  // by themselves once space is freed (EventStoreOptions::min_free_bytes).
  // Default: 256 MiB (--min-free-mib, KRING_MIN_FREE_MIB).
  uint64_t min_free_bytes = uint64_t{256} << 20;
  // The append-queue bound (services/admission.h): events and bytes of
  // batches read and not yet answered by the event store, overall and per
  // connection (--max-queued-events, --max-queued-bytes,
  // --max-queued-events-per-connection, --max-queued-bytes-per-connection).
  // Defaults: 20000 events and 64 MiB overall, 5000 events and 16 MiB per
  // connection.
  AdmissionOptions admission;
  // Most bytes of the metadata (headers) of one request; a larger one is
  // refused by gRPC with RESOURCE_EXHAUSTED. Default: 8 KiB, gRPC's own
  // (--max-metadata-bytes).
  int max_metadata_bytes = 8 << 10;
  // Most concurrent calls (HTTP/2 streams) on one connection; the client
  // queues further calls until one ends. Default: 100
  // (--max-concurrent-streams).
  int max_concurrent_streams = 100;
  // A connection without any call for this long is closed (HTTP/2 GOAWAY;
  // clients reconnect on their next call). Default: 300000 ms, 5 minutes
  // (--max-connection-idle-ms).
  std::chrono::milliseconds max_connection_idle{300000};
  // The gRPC ResourceQuota: memory the transport may take for its buffers
  // across all connections; under pressure gRPC shrinks its flow-control
  // windows. No kringd test drives it to its limit. Default: 1 GiB
  // (--memory-quota-bytes).
  size_t memory_quota_bytes = size_t{1} << 30;
  // The Prometheus endpoint (services/metrics.h): host:port serving /metrics;
  // port 0 picks a free one (the ready file names it as "metrics"). Empty:
  // off. Default: "" (--metrics-listen, KRING_METRICS_LISTEN).
  std::string metrics_listen;
  // When set, a JSON file written once the server is ready, naming the gRPC
  // address, the Kafka bootstrap servers and the topic. Default: "" (--ready-file,
  // KRING_READY_FILE).
  std::string ready_file;
  // How long a SIGTERM shutdown waits for in-flight RPCs and for Kafka to
  // confirm the outbox. Default: 15 s (--shutdown-timeout-ms).
  std::chrono::milliseconds shutdown_timeout{15000};
  // Health (services/health.h): the relay turns NOT_SERVING once the
  // earliest event it has not published has waited longer than
  // max_relay_lag; a read model once the earliest event it has not applied
  // has waited longer than max_read_model_lag. Defaults: 60 s each
  // (--max-relay-lag-seconds, --max-read-model-lag-seconds).
  std::chrono::seconds max_relay_lag{60};
  std::chrono::seconds max_read_model_lag{60};
  // Roles and read replicas (services/roles.h, docs/operations.md "Roles and
  // replicas"). What this process runs. Default: all four
  // (--roles ingest,relay,projections,query, KRING_ROLES).
  Roles roles;
  // For a process without the ingest role: the ingest node's gRPC
  // "host:port", from which the read models fill what Kafka did not bring
  // (ReplicationService). Default: "" (--ingest-node, KRING_INGEST_NODE).
  std::string ingest_node;
  // A file holding the bearer token of an identity with the replica role on
  // the ingest node. Default: "" = no token (the ingest node in development
  // mode) (--ingest-node-token-file, KRING_INGEST_NODE_TOKEN_FILE).
  std::string ingest_node_token_file;
  // PEM CA of the ingest node's certificate; set: TLS to the ingest node.
  // Default: "" = plaintext (--ingest-node-tls-ca, KRING_INGEST_NODE_TLS_CA).
  std::string ingest_node_tls_ca_file;
  // Name checked in the ingest node's certificate instead of its host.
  // Default: "" (--ingest-node-tls-server-name).
  std::string ingest_node_tls_server_name;
  // Read model consumer groups are "<prefix>.<model name>"; give every read
  // replica its own. Default: "kring.projection" (--consumer-group-prefix,
  // KRING_CONSUMER_GROUP_PREFIX).
  std::string consumer_group_prefix = "kring.projection";
  // spdlog level. Default: "info" (--log-level, KRING_LOG_LEVEL).
  std::string log_level = "info";
  // "text" (key=value lines) or "json" (one object per line; common/log.h).
  // Default: "text" (--log-format, KRING_LOG_FORMAT).
  std::string log_format = "text";
  // Tests only (no flag): turns off the read models' fill from the store
  // (ProjectionOptions::fill_from_store), so that they depend on Kafka
  // alone. Default: true.
  bool fill_from_store = true;
  // Tests only (no flag): the event store's clock (EventStoreOptions::clock).
  // Default: unset, the system clock.
  std::function<absl::Time()> clock;
};

// Parses argv and the environment (flags win). Returns CANCELLED with the
// message to print and exit code 0 for --help and --version;
// INVALID_ARGUMENT naming the flag otherwise.
absl::StatusOr<ServerOptions> ParseServerOptions(int argc, char** argv);

}  // namespace kring::services
