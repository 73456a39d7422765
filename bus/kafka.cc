#include "bus/kafka.h"

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <librdkafka/rdkafkacpp.h>

#include "absl/strings/str_cat.h"
#include "common/log.h"

namespace kring::bus {

absl::StatusOr<std::unique_ptr<RdKafka::Conf>> MakeConf(const KafkaOptions& options,
                                                        const std::map<std::string, std::string>& settings) {
  std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  std::string err;
  auto set = [&](const std::string& key, const std::string& value) -> absl::Status {
    if (conf->set(key, value, err) != RdKafka::Conf::CONF_OK) {
      return absl::InvalidArgumentError(absl::StrCat("kafka property ", key, ": ", err));
    }
    return absl::OkStatus();
  };
  if (auto s = set("bootstrap.servers", options.bootstrap); !s.ok()) return s;
  for (const auto& [k, v] : settings) {
    if (auto s = set(k, v); !s.ok()) return s;
  }
  for (const auto& [k, v] : options.client_config) {
    if (settings.count(k)) {
      return absl::InvalidArgumentError(
          absl::StrCat("kafka property ", k,
                       ": set by Kring itself (its delivery guarantees depend on it); remove it from --kafka-config"));
    }
    if (auto s = set(k, v); !s.ok()) return s;
  }
  return conf;
}

absl::StatusOr<std::unique_ptr<EmbeddedKafka>> EmbeddedKafka::Start(int brokers, const std::string& topic,
                                                                    int partitions) {
  std::unique_ptr<EmbeddedKafka> kafka(new EmbeddedKafka());
  char err[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  // The handle only hosts the mock cluster; it never produces.
  rd_kafka_conf_set(conf, "log_level", "3", err, sizeof(err));
  kafka->handle_ = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
  if (kafka->handle_ == nullptr) {
    rd_kafka_conf_destroy(conf);
    return absl::InternalError(absl::StrCat("embedded kafka: cannot create host handle: ", err));
  }
  kafka->mock_ = rd_kafka_mock_cluster_new(kafka->handle_, brokers);
  if (kafka->mock_ == nullptr) return absl::InternalError("embedded kafka: cannot start the mock cluster");
  if (rd_kafka_resp_err_t e =
          rd_kafka_mock_topic_create(kafka->mock_, topic.c_str(), partitions, brokers > 2 ? 3 : brokers);
      e != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return absl::InternalError(absl::StrCat("embedded kafka: cannot create topic: ", rd_kafka_err2str(e)));
  }
  kafka->bootstrap_ = rd_kafka_mock_cluster_bootstraps(kafka->mock_);
  Logger("bus")->info("msg=embedded_kafka_started bootstrap={} topic={} partitions={} brokers={}", kafka->bootstrap_,
                      topic, partitions, brokers);
  return kafka;
}

EmbeddedKafka::~EmbeddedKafka() {
  if (mock_ != nullptr) rd_kafka_mock_cluster_destroy(mock_);
  if (handle_ != nullptr) rd_kafka_destroy(handle_);
}

}  // namespace kring::bus
