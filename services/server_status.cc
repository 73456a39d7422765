// KringServer::Status: what `kringctl status` shows (docs/operations.md,
// "Status"), gathered from the store, the relay, the read models and the
// health monitor's last evaluation.
#include <sys/statvfs.h>

#include "absl/strings/str_split.h"
#include "common/log.h"
#include "common/version.h"
#include "services/server.h"

namespace kring::services {

namespace {

constexpr std::chrono::milliseconds kKafkaProbeTimeout{2000};

void FillStore(const eventstore::EventStore& store, const std::string& data_dir, uint64_t min_free_bytes,
               v1::StoreStatus* out) {
  const eventstore::WriteHealth health = store.write_health();
  out->set_writable(health.ok());
  out->set_write_state(eventstore::WriteHealthName(health.state));
  out->set_reason(health.reason);
  struct statvfs fs {};
  if (statvfs(data_dir.c_str(), &fs) == 0) {
    out->set_disk_free_bytes(static_cast<uint64_t>(fs.f_bavail) * fs.f_frsize);
    out->set_disk_total_bytes(static_cast<uint64_t>(fs.f_blocks) * fs.f_frsize);
  }
  out->set_min_free_bytes(min_free_bytes);
}

}  // namespace

v1::GetStatusResponse KringServer::Status() const {
  v1::GetStatusResponse status;
  status.set_version(Version());
  for (absl::string_view role : absl::StrSplit(options_.roles.ToString(), ',')) status.add_roles(std::string(role));
  const HealthSnapshot health = monitor_->Snapshot();
  // The store's head now; the monitor's is up to a second old.
  status.set_head_position(store_ ? store_->Head().value() : health.head);
  if (store_) FillStore(*store_, options_.data_dir, options_.min_free_bytes, status.mutable_store());

  v1::KafkaStatus* kafka = status.mutable_kafka();
  kafka->set_bootstrap(kafka_bootstrap_);
  kafka->set_topic(options_.kafka.topic);
  kafka->set_embedded(embedded_kafka());
  kafka->set_embedded_unauthenticated(embedded_kafka_unauthenticated());
  if (embedded_kafka_) {
    absl::StatusOr<uint64_t> complete_from = embedded_kafka_->CompleteFrom();
    if (complete_from.ok()) {
      kafka->set_embedded_complete_from(*complete_from);
    } else {
      Logger("server")->warn("msg=embedded_topic_unknown status=\"{}\"",
                             EscapeLogValue(complete_from.status().ToString()));
    }
  }
  bus::KafkaOptions probe = options_.kafka;
  probe.bootstrap = kafka_bootstrap_;
  absl::StatusOr<int> brokers = bus::ProbeBrokers(probe, kKafkaProbeTimeout);
  kafka->set_reachable(brokers.ok());
  if (brokers.ok()) {
    kafka->set_brokers(static_cast<uint32_t>(*brokers));
  } else {
    kafka->set_error(std::string(brokers.status().message()));
  }
  if (relay_) {
    kafka->set_published_position(relay_->Confirmed().value());
    kafka->set_producer_ok(relay_->Health().ok());
  }
  if (health.relay) {
    kafka->set_relay_lag_events(health.relay->events);
    kafka->set_relay_lag_seconds(health.relay->seconds);
  }

  for (const Lag& lag : health.read_models) {
    v1::ReadModelStatus* model = status.add_read_models();
    model->set_name(lag.name);
    model->set_applied_position(lag.position);
    model->set_lag_events(lag.events);
    model->set_lag_seconds(lag.seconds);
    const auto it = read_models_.find(lag.name);
    if (it != read_models_.end()) {
      model->set_events_applied(it->second->engine()->watermark().events_applied);
      model->set_rebuilding(it->second->rebuilding());
    }
    for (const ServiceHealth& s : health.services) {
      if (s.name == kReadModelHealthPrefix + lag.name) model->set_serving(s.serving);
    }
  }
  for (const ServiceHealth& s : health.services) {
    v1::HealthStatus* h = status.add_health();
    h->set_service(s.name);
    h->set_serving(s.serving);
    h->set_reason(s.reason);
  }
  return status;
}

Gauges KringServer::MetricGauges() {
  std::lock_guard<std::mutex> lock(monitor_mu_);  // the parts stay up while it is held
  Gauges g;
  if (poke_ == nullptr) return g;
  const HealthSnapshot health = poke_->Snapshot();
  g.head = static_cast<double>(health.head);
  if (relay_) {
    g.published = static_cast<double>(relay_->Confirmed().value());
    g.relay_producer_up = relay_->Health().ok() ? 1 : 0;
  }
  if (health.relay) {
    g.relay_lag_events = static_cast<double>(health.relay->events);
    g.relay_lag_seconds = health.relay->seconds;
  }
  if (store_) {
    v1::StoreStatus store;
    FillStore(*store_, options_.data_dir, options_.min_free_bytes, &store);
    g.store_writable = store.writable() ? 1 : 0;
    g.disk_free_bytes = static_cast<double>(store.disk_free_bytes());
    g.min_free_bytes = static_cast<double>(store.min_free_bytes());
    g.groups_written = static_cast<double>(store_->groups_written());
    g.requests_written = static_cast<double>(store_->requests_written());
    g.rocksdb_live_data_bytes = static_cast<double>(store_->RocksIntProperty("rocksdb.estimate-live-data-size"));
    g.rocksdb_pending_compaction_bytes =
        static_cast<double>(store_->RocksIntProperty("rocksdb.estimate-pending-compaction-bytes"));
  }
  if (ingest_) {
    const AdmissionController::Stats queue = ingest_->admission().stats();
    g.queued_events = static_cast<double>(queue.queued_events);
    g.queued_bytes = static_cast<double>(queue.queued_bytes);
  }
  g.embedded_kafka = embedded_kafka() ? 1 : 0;
  g.embedded_kafka_unauthenticated = embedded_kafka_unauthenticated() ? 1 : 0;
  for (const Lag& lag : health.read_models) {
    Gauges::ReadModel m;
    m.name = lag.name;
    m.applied = static_cast<double>(lag.position);
    m.lag_events = static_cast<double>(lag.events);
    m.lag_seconds = lag.seconds;
    if (const auto it = read_models_.find(lag.name); it != read_models_.end()) {
      m.events_applied = static_cast<double>(it->second->engine()->watermark().events_applied);
      m.rebuilding = it->second->rebuilding() ? 1 : 0;
    }
    g.read_models.push_back(m);
  }
  for (const ServiceHealth& s : health.services) g.health[s.name] = s.serving ? 1 : 0;
  return g;
}

}  // namespace kring::services
