#include "services/options.h"

#include <CLI/CLI.hpp>

#include "absl/strings/str_cat.h"
#include "common/status.h"
#include "common/version.h"

// jemalloc's control interface, present only when kringd links jemalloc
// (services/CMakeLists.txt, KRING_JEMALLOC).
extern "C" int mallctl(const char* name, void* oldp, size_t* oldlenp, void* newp, size_t newlen) __attribute__((weak));

namespace kring::services {

namespace {

// What --version prints: the version and the allocator this binary runs on.
std::string VersionText() {
  std::string allocator = "glibc malloc";
  const char* jemalloc_version = nullptr;
  size_t length = sizeof(jemalloc_version);
  if (mallctl != nullptr && mallctl("version", &jemalloc_version, &length, nullptr, 0) == 0) {
    allocator = absl::StrCat("jemalloc ", jemalloc_version);
  }
  return absl::StrCat("kringd ", Version(), "\nallocator: ", allocator, "\n");
}

// --roles and the flags of a read replica (services/roles.h).
void AddRoleOptions(CLI::App& app, ServerOptions& o, std::string& roles) {
  app.add_option("--roles", roles,
                 "what this process runs: a comma-separated, non-empty subset of ingest, relay, projections, query")
      ->envname("KRING_ROLES")
      ->capture_default_str();
  app.add_option("--ingest-node", o.ingest_node,
                 "without the ingest role: the ingest node's gRPC host:port, to fill what Kafka did not bring")
      ->envname("KRING_INGEST_NODE");
  app.add_option("--ingest-node-token-file", o.ingest_node_token_file,
                 "file with the bearer token of a replica identity on the ingest node")
      ->envname("KRING_INGEST_NODE_TOKEN_FILE");
  app.add_option("--ingest-node-tls-ca", o.ingest_node_tls_ca_file,
                 "PEM CA of the ingest node's certificate (TLS to the ingest node)")
      ->envname("KRING_INGEST_NODE_TLS_CA");
  app.add_option("--ingest-node-tls-server-name", o.ingest_node_tls_server_name,
                 "name checked in the ingest node's certificate instead of its host");
  app.add_option("--consumer-group-prefix", o.consumer_group_prefix,
                 "read model consumer groups are <prefix>.<model name>; one prefix per read replica")
      ->envname("KRING_CONSUMER_GROUP_PREFIX")
      ->capture_default_str();
}

absl::Status CheckRoleOptions(const std::string& roles, ServerOptions& o) {
  ASSIGN_OR_RETURN(o.roles, ParseRoles(roles));
  RETURN_IF_ERROR(ValidateRoles(o.roles, o.ingest_node, o.kafka.bootstrap));
  if (o.consumer_group_prefix.empty()) return absl::InvalidArgumentError("--consumer-group-prefix: must not be empty");
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<ServerOptions> ParseServerOptions(int argc, char** argv) {
  ServerOptions o;
  CLI::App app{"kringd: the Kring event-store server (ingest, Kafka relay, projections, queries)"};
  std::vector<std::string> kafka_config;
  size_t max_batch_events = o.validation.max_batch_events;
  size_t max_batch_bytes = o.validation.max_batch_bytes;
  int64_t shutdown_ms = o.shutdown_timeout.count();
  int64_t idle_ms = o.max_connection_idle.count();
  std::string occurred_at_floor = absl::FormatTime("%Y-%m-%d", o.validation.occurred_at_floor, absl::UTCTimeZone());
  int64_t clock_skew_s = absl::ToInt64Seconds(o.validation.clock_skew);
  app.add_option("--data-dir", o.data_dir, "folder for the event store and read models")
      ->envname("KRING_DATA_DIR")
      ->capture_default_str();
  app.add_option("--listen", o.listen, "gRPC listen address (port 0: any free port)")
      ->envname("KRING_LISTEN")
      ->capture_default_str();
  app.add_option("--identities", o.auth.identities_file,
                 "who may call in which role: lines '<role> <name> cert|sha256:<token hash>'; empty: development "
                 "mode (loopback only, every caller has every role)")
      ->envname("KRING_IDENTITIES");
  app.add_option("--tls-cert", o.auth.tls_cert_file, "PEM certificate chain of the listener (TLS)")
      ->envname("KRING_TLS_CERT");
  app.add_option("--tls-key", o.auth.tls_key_file, "PEM private key of the listener")->envname("KRING_TLS_KEY");
  app.add_option("--tls-client-ca", o.auth.tls_client_ca_file,
                 "PEM CA of accepted client certificates (mTLS; the certificate's CN names the identity)")
      ->envname("KRING_TLS_CLIENT_CA");
  app.add_flag("--allow-insecure", o.auth.allow_insecure,
               "serve a non-loopback address without TLS (only on a network you trust)");
  app.add_option("--master-key-file", o.master_key_file,
                 "the master key (32 bytes or 64 hex digits, mode 0600) that wraps the per-case data keys; "
                 "without it, personal data is refused")
      ->envname("KRING_MASTER_KEY_FILE");
  app.add_option("--cell-key-file", o.cell_key_file,
                 "the secret of the cell key method that perturbs research figures (at least 32 bytes, no group or "
                 "other access); empty: <data-dir>/cell-key, created at first start")
      ->envname("KRING_CELL_KEY_FILE");
  app.add_option("--kafka-bootstrap", o.kafka.bootstrap,
                 "bootstrap servers of a real Kafka cluster; empty: embedded mock cluster")
      ->envname("KRING_KAFKA_BOOTSTRAP");
  app.add_option("--kafka-topic", o.kafka.topic, "topic of the case events")
      ->envname("KRING_KAFKA_TOPIC")
      ->capture_default_str();
  app.add_option("--kafka-config", kafka_config,
                 "extra librdkafka property key=value (repeatable; in the environment, separate them with ';' "
                 "— keeps secrets such as sasl.password out of the process list)")
      ->envname("KRING_KAFKA_CONFIG")
      ->delimiter(';');
  app.add_flag("--embedded-kafka-in-production", o.embedded_kafka_in_production,
               "with --identities (production mode), run on the embedded cluster anyway: in memory, keeps only the "
               "newest ~5 MiB per partition, readable without credentials by any local Kafka client")
      ->envname("KRING_EMBEDDED_KAFKA_IN_PRODUCTION");
  app.add_option("--embedded-partitions", o.kafka.embedded_partitions, "partitions of the embedded cluster's topic")
      ->capture_default_str()
      ->check(CLI::Range(1, 1024));
  app.add_option("--max-batch-events", max_batch_events, "most events in one append batch")
      ->capture_default_str()
      ->check(CLI::Range(1, 100000));
  app.add_option("--max-batch-bytes", max_batch_bytes, "most bytes in one append batch")
      ->capture_default_str()
      ->check(CLI::Range(1024, 64 << 20));
  app.add_option("--max-queued-events", o.admission.max_queued_events,
                 "most events of append batches waiting for the store, over all connections")
      ->capture_default_str()
      ->check(CLI::Range(size_t{1}, size_t{10000000}));
  app.add_option("--max-queued-bytes", o.admission.max_queued_bytes,
                 "most bytes of append batches waiting for the store, over all connections")
      ->capture_default_str()
      ->check(CLI::Range(size_t{1024}, size_t{1} << 40));
  app.add_option("--max-queued-events-per-connection", o.admission.max_queued_events_per_connection,
                 "most events of append batches waiting for the store from one connection")
      ->capture_default_str()
      ->check(CLI::Range(size_t{1}, size_t{10000000}));
  app.add_option("--max-queued-bytes-per-connection", o.admission.max_queued_bytes_per_connection,
                 "most bytes of append batches waiting for the store from one connection")
      ->capture_default_str()
      ->check(CLI::Range(size_t{1024}, size_t{1} << 40));
  app.add_option("--max-metadata-bytes", o.max_metadata_bytes, "most bytes of one request's metadata (headers)")
      ->capture_default_str()
      ->check(CLI::Range(1024, 16 << 20));
  app.add_option("--max-concurrent-streams", o.max_concurrent_streams, "most concurrent calls on one connection")
      ->capture_default_str()
      ->check(CLI::Range(1, 100000));
  app.add_option("--max-connection-idle-ms", idle_ms, "close a connection without calls after this long")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{100}, int64_t{86400000}));
  app.add_option("--memory-quota-bytes", o.memory_quota_bytes, "memory gRPC may take for its buffers (ResourceQuota)")
      ->capture_default_str()
      ->check(CLI::Range(size_t{16} << 20, size_t{1} << 40));
  app.add_option("--occurred-at-floor", occurred_at_floor, "earliest accepted occurred_at, a UTC date YYYY-MM-DD")
      ->envname("KRING_OCCURRED_AT_FLOOR")
      ->capture_default_str();
  app.add_option("--clock-skew-seconds", clock_skew_s, "how far past the server's clock occurred_at may lie")
      ->capture_default_str()
      ->check(CLI::Range(0, 86400));
  uint64_t min_free_mib = o.min_free_bytes >> 20;
  app.add_option("--min-free-mib", min_free_mib,
                 "free space (MiB) the data folder must keep; appends are refused as disk full below it (0: off)")
      ->envname("KRING_MIN_FREE_MIB")
      ->capture_default_str()
      ->check(CLI::Range(uint64_t{0}, uint64_t{1} << 30));
  int64_t max_relay_lag_s = o.max_relay_lag.count();
  int64_t max_read_model_lag_s = o.max_read_model_lag.count();
  app.add_option("--max-relay-lag-seconds", max_relay_lag_s,
                 "health: the relay is NOT_SERVING once an unpublished event has waited longer than this")
      ->envname("KRING_MAX_RELAY_LAG_SECONDS")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{1}, int64_t{86400}));
  app.add_option("--max-read-model-lag-seconds", max_read_model_lag_s,
                 "health: a read model is NOT_SERVING once an event it has not applied has waited longer than this")
      ->envname("KRING_MAX_READ_MODEL_LAG_SECONDS")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{1}, int64_t{86400}));
  app.add_option("--metrics-listen", o.metrics_listen,
                 "host:port of the Prometheus endpoint /metrics (port 0: any free port); empty: no metrics")
      ->envname("KRING_METRICS_LISTEN");
  app.add_option("--ready-file", o.ready_file, "write a JSON file with addresses once ready")
      ->envname("KRING_READY_FILE");
  app.add_option("--shutdown-timeout-ms", shutdown_ms, "graceful shutdown budget")->capture_default_str();
  app.add_option("--log-level", o.log_level, "trace, debug, info, warn, error, off")
      ->envname("KRING_LOG_LEVEL")
      ->capture_default_str()
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "off"}));
  app.add_option("--log-format", o.log_format, "text (key=value lines) or json (one object per line)")
      ->envname("KRING_LOG_FORMAT")
      ->capture_default_str()
      ->check(CLI::IsMember({"text", "json"}));
  app.set_version_flag("--version", VersionText());
  std::string roles = "ingest,relay,projections,query";
  AddRoleOptions(app, o, roles);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    return absl::CancelledError(app.help());
  } catch (const CLI::CallForVersion&) {
    return absl::CancelledError(VersionText());
  } catch (const CLI::ParseError& e) {
    return absl::InvalidArgumentError(e.what());
  }
  for (const std::string& kv : kafka_config) {
    const size_t eq = kv.find('=');
    if (eq == std::string::npos || eq == 0) {
      return absl::InvalidArgumentError(absl::StrCat("--kafka-config: expected key=value, got \"", kv, "\""));
    }
    o.kafka.client_config[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  RETURN_IF_ERROR(CheckRoleOptions(roles, o));
  if (!o.auth.identities_file.empty() && o.kafka.bootstrap.empty() && !o.embedded_kafka_in_production) {
    return absl::InvalidArgumentError(
        "--kafka-bootstrap: required in production mode (--identities is set). Without it kringd would run on the "
        "embedded Kafka cluster, which is in memory, keeps only the newest ~5 MiB per partition and serves the whole "
        "log to any local Kafka client without credentials. Give real brokers, or --embedded-kafka-in-production to "
        "run on the embedded cluster anyway");
  }
  o.validation.max_batch_events = max_batch_events;
  o.validation.max_batch_bytes = max_batch_bytes;
  absl::CivilDay floor;
  if (!absl::ParseCivilTime(occurred_at_floor, &floor)) {
    return absl::InvalidArgumentError(
        absl::StrCat("--occurred-at-floor: must be a date YYYY-MM-DD, got \"", occurred_at_floor, "\""));
  }
  o.validation.occurred_at_floor = absl::FromCivil(floor, absl::UTCTimeZone());
  o.validation.clock_skew = absl::Seconds(clock_skew_s);
  o.shutdown_timeout = std::chrono::milliseconds(shutdown_ms);
  o.max_relay_lag = std::chrono::seconds(max_relay_lag_s);
  o.max_read_model_lag = std::chrono::seconds(max_read_model_lag_s);
  o.min_free_bytes = min_free_mib << 20;
  o.max_connection_idle = std::chrono::milliseconds(idle_ms);
  return o;
}

}  // namespace kring::services
