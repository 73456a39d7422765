// Kafka plumbing shared by the relay, the projection workers and tests: the
// topic's name, client configuration, and the embedded cluster.
#pragma once

#include <librdkafka/rdkafkacpp.h>

#include <chrono>
#include <map>
#include <memory>
#include <string>

#include "absl/status/statusor.h"

struct rd_kafka_s;
struct rd_kafka_mock_cluster_s;

namespace kring::bus {

// Headers on every published event.
inline constexpr char kHeaderEventType[] = "kring-event-type";            // e.g. "ConferenceHeld"
inline constexpr char kHeaderGlobalPosition[] = "kring-global-position";  // decimal
inline constexpr char kHeaderSchema[] = "kring-schema";                   // "kring.v1.RecordedEvent"

struct KafkaOptions {
  // Bootstrap servers of a real cluster ("host:port,…"). Empty: start the
  // embedded mock cluster in-process. Default: "" (flag --kafka-bootstrap,
  // environment KRING_KAFKA_BOOTSTRAP).
  std::string bootstrap;
  // Topic of the case events. Default: "kring.case-events.v1".
  std::string topic = "kring.case-events.v1";
  // Partitions of the topic on the embedded cluster (a real cluster's topic is
  // created by its operators or by auto-creation). Default: 6.
  int embedded_partitions = 6;
  // Brokers of the embedded cluster. Default: 1.
  int embedded_brokers = 1;
  // Extra librdkafka properties for every client (security.protocol, sasl.*,
  // ssl.*), from "--kafka-config key=value". Default: none.
  std::map<std::string, std::string> client_config;
};

// The log position a published message carries in its kring-global-position
// header; DATA_LOSS when the header is missing or unreadable.
absl::StatusOr<uint64_t> PositionOf(RdKafka::Message& message);

// Writes one librdkafka log or error event to the "kafka" spdlog logger
// (level from its syslog severity; text escaped). MakeConf's configurations
// route every event here; a client that installs its own event_cb calls it.
void LogKafkaEvent(RdKafka::Event& event);

// Builds a librdkafka configuration with bootstrap servers, `settings` and the
// extra properties, logging through LogKafkaEvent; fails naming a property librdkafka refused, or an extra
// property that would override one of `settings` (acks, idempotence, group
// and offset handling are what exactly-once in effect rests on).
absl::StatusOr<std::unique_ptr<RdKafka::Conf>> MakeConf(const KafkaOptions& options,
                                                        const std::map<std::string, std::string>& settings);

// Asks the cluster for its metadata once: the number of brokers it lists, or
// UNAVAILABLE saying why no answer came within `timeout` (kringctl status).
absl::StatusOr<int> ProbeBrokers(const KafkaOptions& options, std::chrono::milliseconds timeout);

// librdkafka's mock cluster, running in this process on loopback. Any Kafka
// client can connect to bootstrap(). It keeps nothing across restarts.
// Thread-safe; the cluster stops on destruction.
class EmbeddedKafka {
 public:
  static absl::StatusOr<std::unique_ptr<EmbeddedKafka>> Start(int brokers, const std::string& topic, int partitions);
  ~EmbeddedKafka();
  EmbeddedKafka(const EmbeddedKafka&) = delete;
  EmbeddedKafka& operator=(const EmbeddedKafka&) = delete;

  const std::string& bootstrap() const { return bootstrap_; }
  // The mock cluster keeps only the newest ~5 MiB (or 100,000 message sets)
  // of each partition and drops older ones (librdkafka hard-codes this).
  // Returns the first log position from which the topic holds every event it
  // was sent: 1 while no partition has dropped anything, else the largest
  // position at the start of a partition that has. Reads each partition's
  // low watermark and the kring-global-position header of its first message.
  absl::StatusOr<uint64_t> CompleteFrom() const;
  // For fault injection in tests (rdkafka_mock.h).
  rd_kafka_mock_cluster_s* mock() const { return mock_; }

 private:
  EmbeddedKafka() = default;
  rd_kafka_s* handle_ = nullptr;
  rd_kafka_mock_cluster_s* mock_ = nullptr;
  std::string bootstrap_;
  std::string topic_;
  int partitions_ = 0;
};

}  // namespace kring::bus
