#include "bus/kafka.h"

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <librdkafka/rdkafkacpp.h>

#include <algorithm>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "common/status.h"

namespace kring::bus {

namespace {

spdlog::level::level_enum LevelOf(int syslog_severity) {
  if (syslog_severity <= 3) return spdlog::level::err;  // emerg, alert, crit, err
  if (syslog_severity == 4) return spdlog::level::warn;
  if (syslog_severity <= 6) return spdlog::level::info;  // notice, info
  return spdlog::level::debug;
}

void Log(int severity, const std::string& facility, const std::string& text) {
  Logger("kafka")->log(LevelOf(severity), "msg=librdkafka facility={} text=\"{}\"", EscapeLogValue(facility),
                       EscapeLogValue(text));
}

class LogEvents : public RdKafka::EventCb {
 public:
  void event_cb(RdKafka::Event& event) override { LogKafkaEvent(event); }
};
LogEvents log_events;

// For the embedded cluster's C handle.
void LogFromC(const rd_kafka_t*, int level, const char* facility, const char* text) { Log(level, facility, text); }

}  // namespace

absl::StatusOr<uint64_t> PositionOf(RdKafka::Message& message) {
  const RdKafka::Headers* headers = message.headers();
  if (headers == nullptr) return absl::DataLossError("no headers");
  const RdKafka::Headers::Header h = headers->get_last(kHeaderGlobalPosition);
  if (h.err() != RdKafka::ERR_NO_ERROR || h.value() == nullptr) {
    return absl::DataLossError(absl::StrCat("no ", kHeaderGlobalPosition, " header"));
  }
  uint64_t position = 0;
  if (!absl::SimpleAtoi(std::string(static_cast<const char*>(h.value()), h.value_size()), &position) || position == 0) {
    return absl::DataLossError(absl::StrCat("unreadable ", kHeaderGlobalPosition, " header"));
  }
  return position;
}

void LogKafkaEvent(RdKafka::Event& event) {
  switch (event.type()) {
    case RdKafka::Event::EVENT_LOG:
      Log(event.severity(), event.fac(), event.str());
      break;
    case RdKafka::Event::EVENT_ERROR:
      Logger("kafka")->log(event.fatal() ? spdlog::level::err : spdlog::level::warn,
                           "msg=kafka_error error={} fatal={} text=\"{}\"", RdKafka::err2str(event.err()),
                           event.fatal(), EscapeLogValue(event.str()));
      break;
    default:
      break;
  }
}

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
  if (conf->set("event_cb", static_cast<RdKafka::EventCb*>(&log_events), err) != RdKafka::Conf::CONF_OK) {
    return absl::InternalError(absl::StrCat("kafka: cannot set the log callback: ", err));
  }
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
  rd_kafka_conf_set_log_cb(conf, LogFromC);
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
  kafka->topic_ = topic;
  kafka->partitions_ = partitions;
  Logger("bus")->info("msg=embedded_kafka_started bootstrap={} topic={} partitions={} brokers={}", kafka->bootstrap_,
                      topic, partitions, brokers);
  return kafka;
}

absl::StatusOr<int> ProbeBrokers(const KafkaOptions& options, std::chrono::milliseconds timeout) {
  ASSIGN_OR_RETURN(std::unique_ptr<RdKafka::Conf> conf, MakeConf(options, {}));
  std::string err;
  std::unique_ptr<RdKafka::Producer> producer(RdKafka::Producer::create(conf.get(), err));
  if (!producer) return absl::UnavailableError(absl::StrCat("kafka: cannot create a client: ", err));
  RdKafka::Metadata* raw = nullptr;
  const RdKafka::ErrorCode e = producer->metadata(false, nullptr, &raw, static_cast<int>(timeout.count()));
  std::unique_ptr<RdKafka::Metadata> metadata(raw);
  if (e != RdKafka::ERR_NO_ERROR) {
    return absl::UnavailableError(
        absl::StrCat("kafka: no metadata from ", options.bootstrap, ": ", RdKafka::err2str(e)));
  }
  return static_cast<int>(metadata->brokers()->size());
}

absl::StatusOr<uint64_t> EmbeddedKafka::CompleteFrom() const {
  KafkaOptions options;
  options.bootstrap = bootstrap_;
  ASSIGN_OR_RETURN(std::unique_ptr<RdKafka::Conf> conf, MakeConf(options, {}));
  std::string err;
  // A simple (group-less) consumer: it reads one message at a chosen offset.
  std::unique_ptr<RdKafka::Consumer> consumer(RdKafka::Consumer::create(conf.get(), err));
  if (!consumer) return absl::InternalError(absl::StrCat("embedded kafka: cannot create a consumer: ", err));
  // Should the cluster drop the message at the low watermark before it is
  // fetched, the read restarts at the new first message.
  std::unique_ptr<RdKafka::Conf> topic_conf(RdKafka::Conf::create(RdKafka::Conf::CONF_TOPIC));
  if (topic_conf->set("auto.offset.reset", "smallest", err) != RdKafka::Conf::CONF_OK) {
    return absl::InternalError(absl::StrCat("embedded kafka: ", err));
  }
  std::unique_ptr<RdKafka::Topic> topic(RdKafka::Topic::create(consumer.get(), topic_, topic_conf.get(), err));
  if (!topic) return absl::InternalError(absl::StrCat("embedded kafka: ", err));
  uint64_t complete_from = 1;
  for (int p = 0; p < partitions_; ++p) {
    int64_t low = 0, high = 0;
    if (RdKafka::ErrorCode e = consumer->query_watermark_offsets(topic_, p, &low, &high, 5000);
        e != RdKafka::ERR_NO_ERROR) {
      return absl::UnavailableError(
          absl::StrCat("embedded kafka: watermarks of partition ", p, ": ", RdKafka::err2str(e)));
    }
    if (low == 0 || low >= high) continue;  // nothing dropped here
    if (RdKafka::ErrorCode e = consumer->start(topic.get(), p, low); e != RdKafka::ERR_NO_ERROR) {
      return absl::UnavailableError(
          absl::StrCat("embedded kafka: cannot read partition ", p, ": ", RdKafka::err2str(e)));
    }
    std::unique_ptr<RdKafka::Message> first;
    for (int attempt = 0; attempt < 100; ++attempt) {  // up to 10 s
      first.reset(consumer->consume(topic.get(), p, 100));
      if (first->err() == RdKafka::ERR_NO_ERROR) break;
    }
    consumer->stop(topic.get(), p);
    if (first->err() != RdKafka::ERR_NO_ERROR) {
      return absl::UnavailableError(
          absl::StrCat("embedded kafka: cannot read the first message of partition ", p, ": ", first->errstr()));
    }
    const absl::StatusOr<uint64_t> position = PositionOf(*first);
    if (!position.ok()) {
      return absl::DataLossError(
          absl::StrCat("embedded kafka: the first message of partition ", p, ": ", position.status().message()));
    }
    complete_from = std::max(complete_from, *position);
  }
  return complete_from;
}

EmbeddedKafka::~EmbeddedKafka() {
  if (mock_ != nullptr) rd_kafka_mock_cluster_destroy(mock_);
  if (handle_ != nullptr) rd_kafka_destroy(handle_);
}

}  // namespace kring::bus
