// Metrics: kringd's Prometheus endpoint (--metrics-listen), in the text
// format at /metrics (prometheus-cpp). Off by default. Every series and its
// meaning: docs/operations.md, "Metrics". No label ever holds a case id, an
// identity's name or personal data: labels are results, codes, gRPC method
// names, read model and health service names.
//
// Two kinds of series:
//   - events counted where they happen: appends and their latency (the event
//     store's on_appended hook), gRPC calls by method and code and their
//     latency (a server interceptor, research queries included);
//   - gauges read at scrape time from the running parts (Gauges, filled by
//     KringServer::MetricGauges): head, relay, read models, store, disk,
//     queue, health.
#pragma once

#include <grpcpp/support/server_interceptor.h>

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace prometheus {
class Registry;
class Exposer;
class Counter;
class Histogram;
template <typename T>
class Family;
}  // namespace prometheus

namespace kring::services {

// What the scrape reads from the running server.
struct Gauges {
  double head = 0;
  double published = 0;  // relay: confirmed by Kafka
  double relay_lag_events = 0;
  double relay_lag_seconds = 0;
  double relay_producer_up = 0;  // 0/1
  double store_writable = 0;     // 0/1
  double disk_free_bytes = 0;
  double min_free_bytes = 0;
  double queued_events = 0;  // append batches waiting for the store
  double queued_bytes = 0;
  double groups_written = 0;    // group commits
  double requests_written = 0;  // append requests in them
  double embedded_kafka = 0;    // 0/1
  double embedded_kafka_unauthenticated = 0;
  double rocksdb_live_data_bytes = 0;
  double rocksdb_pending_compaction_bytes = 0;
  double data_keys = -1;  // -1: no key store
  struct ReadModel {
    std::string name;
    double applied = 0, events_applied = 0, lag_events = 0, lag_seconds = 0, rebuilding = 0;
  };
  std::vector<ReadModel> read_models;
  std::map<std::string, double> health;  // service name -> 1 serving, 0 not
};

class Metrics {
 public:
  // Listens on `address` (host:port; port 0 picks one). INVALID_ARGUMENT
  // naming --metrics-listen when it cannot.
  static absl::StatusOr<std::unique_ptr<Metrics>> Start(const std::string& address, std::function<Gauges()> gauges);
  ~Metrics();

  // host:port it listens on.
  const std::string& address() const { return address_; }

  // For EventStoreOptions::on_appended.
  void ObserveAppend(size_t events, absl::StatusCode code, bool already_recorded, double seconds);
  // For grpc::ServerBuilder::experimental().SetInterceptorCreators.
  std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface> InterceptorFactory();
  void ObserveCall(const std::string& method, grpc::StatusCode code, double seconds);

 private:
  class GaugeCollector;
  Metrics() = default;

  std::shared_ptr<prometheus::Registry> registry_;
  std::shared_ptr<GaugeCollector> gauges_;
  std::unique_ptr<prometheus::Exposer> exposer_;
  std::string address_;
  prometheus::Family<prometheus::Counter>* appends_ = nullptr;
  prometheus::Family<prometheus::Counter>* events_ = nullptr;
  prometheus::Histogram* append_seconds_ = nullptr;
  prometheus::Family<prometheus::Counter>* calls_ = nullptr;
  prometheus::Family<prometheus::Histogram>* call_seconds_ = nullptr;
};

}  // namespace kring::services
