#include "services/metrics.h"

#include <prometheus/collectable.h>
#include <prometheus/counter.h>
#include <prometheus/exposer.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <chrono>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/log.h"

namespace kring::services {

namespace {

// Latency buckets in seconds: 0.5 ms to 10 s.
const prometheus::Histogram::BucketBoundaries kSeconds = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                                          0.1,    0.25,  0.5,    1,     2.5,  5,     10};

std::string CodeName(absl::StatusCode code) { return absl::AsciiStrToLower(absl::StatusCodeToString(code)); }

std::string CodeName(grpc::StatusCode code) { return CodeName(static_cast<absl::StatusCode>(code)); }

prometheus::ClientMetric Value(double v, std::vector<prometheus::ClientMetric::Label> labels = {}) {
  prometheus::ClientMetric m;
  m.label = std::move(labels);
  m.gauge.value = v;
  return m;
}

prometheus::MetricFamily Gauge(const std::string& name, const std::string& help,
                               std::vector<prometheus::ClientMetric> metrics) {
  return {name, help, prometheus::MetricType::Gauge, std::move(metrics)};
}

prometheus::MetricFamily Counter(const std::string& name, const std::string& help, double v) {
  prometheus::ClientMetric m;
  m.counter.value = v;
  return {name, help, prometheus::MetricType::Counter, {m}};
}

}  // namespace

class Metrics::GaugeCollector : public prometheus::Collectable {
 public:
  explicit GaugeCollector(std::function<Gauges()> gauges) : gauges_(std::move(gauges)) {}

  std::vector<prometheus::MetricFamily> Collect() const override {
    const Gauges g = gauges_();
    std::vector<prometheus::MetricFamily> f = {
        Gauge("kring_head_position", "The log's last position.", {Value(g.head)}),
        Gauge("kring_relay_published_position", "Every event up to this position is confirmed by Kafka.",
              {Value(g.published)}),
        Gauge("kring_relay_lag_events", "Events appended and not yet confirmed by Kafka.", {Value(g.relay_lag_events)}),
        Gauge("kring_relay_lag_seconds", "How long the earliest unpublished event has waited.",
              {Value(g.relay_lag_seconds)}),
        Gauge("kring_relay_producer_up", "1 while the relay has a working Kafka producer.",
              {Value(g.relay_producer_up)}),
        Gauge("kring_store_writable", "1 while the event store accepts appends (0: disk full or failed write).",
              {Value(g.store_writable)}),
        Gauge("kring_disk_free_bytes", "Free bytes on the data folder's file system.", {Value(g.disk_free_bytes)}),
        Gauge("kring_disk_min_free_bytes", "Appends are refused below this many free bytes (--min-free-mib).",
              {Value(g.min_free_bytes)}),
        Gauge("kring_append_queue_events", "Events of append batches waiting for the event store.",
              {Value(g.queued_events)}),
        Gauge("kring_append_queue_bytes", "Bytes of append batches waiting for the event store.",
              {Value(g.queued_bytes)}),
        Counter("kring_store_group_commits_total", "Synced group writes of the event store.", g.groups_written),
        Counter("kring_store_group_commit_requests_total",
                "Append requests written by those group writes (ratio: the mean group size).", g.requests_written),
        Gauge("kring_embedded_kafka", "1 when kringd runs the embedded (in-memory) Kafka cluster.",
              {Value(g.embedded_kafka)}),
        Gauge("kring_embedded_kafka_unauthenticated",
              "1 when it does so in production mode: the topic is readable without credentials.",
              {Value(g.embedded_kafka_unauthenticated)}),
        Gauge("kring_rocksdb_live_data_bytes", "The event store's estimated live data (RocksDB).",
              {Value(g.rocksdb_live_data_bytes)}),
        Gauge("kring_rocksdb_pending_compaction_bytes", "Bytes RocksDB estimates it must compact.",
              {Value(g.rocksdb_pending_compaction_bytes)}),
    };
    if (g.data_keys >= 0)
      f.push_back(Gauge("kring_data_keys", "Per-case data keys in the key store.", {Value(g.data_keys)}));
    std::vector<prometheus::ClientMetric> applied, events_applied, lag_events, lag_seconds, rebuilding, health;
    for (const Gauges::ReadModel& m : g.read_models) {
      const std::vector<prometheus::ClientMetric::Label> label = {{"read_model", m.name}};
      applied.push_back(Value(m.applied, label));
      events_applied.push_back(Value(m.events_applied, label));
      lag_events.push_back(Value(m.lag_events, label));
      lag_seconds.push_back(Value(m.lag_seconds, label));
      rebuilding.push_back(Value(m.rebuilding, label));
    }
    f.push_back(Gauge("kring_read_model_applied_position", "Highest log position the read model has applied.",
                      std::move(applied)));
    f.push_back(Gauge("kring_read_model_events_applied", "Distinct events the read model has applied.",
                      std::move(events_applied)));
    f.push_back(Gauge("kring_read_model_lag_events", "Events in the log the read model has not applied.",
                      std::move(lag_events)));
    f.push_back(Gauge("kring_read_model_lag_seconds", "How long the earliest event it has not applied has waited.",
                      std::move(lag_seconds)));
    f.push_back(Gauge("kring_read_model_rebuilding", "1 while an online rebuild of the read model runs.",
                      std::move(rebuilding)));
    for (const auto& [service, serving] : g.health) health.push_back(Value(serving, {{"service", service}}));
    f.push_back(
        Gauge("kring_health_serving", "1 while the gRPC health status of the service is SERVING.", std::move(health)));
    return f;
  }

 private:
  std::function<Gauges()> gauges_;
};

namespace {

class CallInterceptor : public grpc::experimental::Interceptor {
 public:
  CallInterceptor(Metrics* metrics, std::string method)
      : metrics_(metrics), method_(std::move(method)), start_(std::chrono::steady_clock::now()) {}
  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(grpc::experimental::InterceptionHookPoints::PRE_SEND_STATUS)) {
      metrics_->ObserveCall(method_, methods->GetSendStatus().error_code(),
                            std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count());
    }
    methods->Proceed();
  }

 private:
  Metrics* const metrics_;
  const std::string method_;
  const std::chrono::steady_clock::time_point start_;
};

class CallInterceptorFactory : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  explicit CallInterceptorFactory(Metrics* metrics) : metrics_(metrics) {}
  grpc::experimental::Interceptor* CreateServerInterceptor(grpc::experimental::ServerRpcInfo* info) override {
    // Unknown methods arrive with their raw path: one label for all of them.
    const std::string method = info->method() != nullptr ? info->method() : "unknown";
    return new CallInterceptor(metrics_, method);
  }

 private:
  Metrics* const metrics_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<Metrics>> Metrics::Start(const std::string& address, std::function<Gauges()> gauges) {
  const size_t colon = address.rfind(':');
  if (colon == std::string::npos || colon == 0) {
    return absl::InvalidArgumentError(absl::StrCat("--metrics-listen: expected host:port, got \"", address, "\""));
  }
  std::unique_ptr<Metrics> m(new Metrics());
  m->registry_ = std::make_shared<prometheus::Registry>();
  m->appends_ = &prometheus::BuildCounter()
                     .Name("kring_appends_total")
                     .Help("Append requests (batches) by result: ok, already_recorded, or the refusal's code.")
                     .Register(*m->registry_);
  m->events_ = &prometheus::BuildCounter()
                    .Name("kring_append_events_total")
                    .Help("Events in append requests, by the request's result.")
                    .Register(*m->registry_);
  m->append_seconds_ = &prometheus::BuildHistogram()
                            .Name("kring_append_duration_seconds")
                            .Help("From the event store taking an append request to its answer (fsync included).")
                            .Register(*m->registry_)
                            .Add({}, kSeconds);
  m->calls_ = &prometheus::BuildCounter()
                   .Name("kring_grpc_server_handled_total")
                   .Help("gRPC calls by full method name and status code.")
                   .Register(*m->registry_);
  m->call_seconds_ =
      &prometheus::BuildHistogram()
           .Name("kring_grpc_server_handling_seconds")
           .Help("gRPC call durations by full method name (research queries: /kring.v1.ResearchService/…).")
           .Register(*m->registry_);
  m->gauges_ = std::make_shared<GaugeCollector>(std::move(gauges));
  try {
    m->exposer_ = std::make_unique<prometheus::Exposer>(address, 1);
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat("--metrics-listen: cannot listen on ", address, ": ", e.what()));
  }
  m->exposer_->RegisterCollectable(m->registry_);
  m->exposer_->RegisterCollectable(m->gauges_);
  const std::vector<int> ports = m->exposer_->GetListeningPorts();
  if (ports.empty()) return absl::InvalidArgumentError(absl::StrCat("--metrics-listen: cannot listen on ", address));
  m->address_ = absl::StrCat(address.substr(0, colon), ":", ports.front());
  Logger("server")->info("msg=metrics_listening address={}", m->address_);
  return m;
}

Metrics::~Metrics() = default;

void Metrics::ObserveAppend(size_t events, absl::StatusCode code, bool already_recorded, double seconds) {
  const std::string result = code != absl::StatusCode::kOk ? CodeName(code)
                             : already_recorded            ? "already_recorded"
                                                           : "ok";
  appends_->Add({{"result", result}}).Increment();
  events_->Add({{"result", result}}).Increment(static_cast<double>(events));
  append_seconds_->Observe(seconds);
}

std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface> Metrics::InterceptorFactory() {
  return std::make_unique<CallInterceptorFactory>(this);
}

void Metrics::ObserveCall(const std::string& method, grpc::StatusCode code, double seconds) {
  calls_->Add({{"method", method}, {"code", CodeName(code)}}).Increment();
  call_seconds_->Add({{"method", method}}, kSeconds).Observe(seconds);
}

}  // namespace kring::services
