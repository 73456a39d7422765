// The Kafka feed of a ProjectionEngine: the consumer thread, which applies
// what it consumes through ApplyBatch (engine.cc), repairs a damaged message
// from the store by its position header, and, unless
// ProjectionOptions::fill_from_store is off, fills from the store what Kafka
// has not delivered. The applier and the store feed (CatchUpFromStore) are in
// engine.cc.
#include <librdkafka/rdkafkacpp.h>
#include <pthread.h>

#include <unordered_map>

#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "common/status.h"
#include "common/thread.h"
#include "eventstore/event_pool.h"
#include "eventstore/event_store.h"
#include "projections/engine.h"

namespace kring::projections {
// The Kafka consumer of one engine; used by the consumer thread only (the
// rebalance callback runs inside consume()).
class ProjectionEngine::Consumer : public RdKafka::RebalanceCb {
 public:
  explicit Consumer(ProjectionEngine* engine) : engine_(engine) {}

  // Creates the consumer, waits (checking `stopping` every second) until the
  // cluster answers with its id, and subscribes. The same client keeps
  // trying, so a slow first connection is not started over.
  absl::Status Init(const std::atomic<bool>& stopping) {
    const ProjectionOptions& o = engine_->options_;
    ASSIGN_OR_RETURN(auto conf, bus::MakeConf(o.kafka, {
                                                           {"group.id", o.group_id},
                                                           {"enable.auto.commit", "false"},
                                                           {"enable.auto.offset.store", "false"},
                                                           {"auto.offset.reset", "earliest"},
                                                           {"fetch.wait.max.ms", "200"},
                                                           {"session.timeout.ms", "10000"},
                                                           {"heartbeat.interval.ms", "1000"},
                                                       }));
    std::string err;
    conf->set("rebalance_cb", static_cast<RdKafka::RebalanceCb*>(this), err);
    consumer_.reset(RdKafka::KafkaConsumer::create(conf.get(), err));
    if (!consumer_) return absl::InternalError(absl::StrCat("projection consumer: ", err));
    for (int attempt = 0; cluster_id_.empty(); ++attempt) {
      if (stopping.load()) return absl::CancelledError("projection consumer: stopped while waiting for Kafka");
      if (attempt > 0 && attempt % 30 == 0) {
        Logger("projections")->warn("msg=waiting_for_kafka projection={} seconds={}", o.group_id, attempt);
      }
      cluster_id_ = consumer_->clusterid(1000);
    }
    if (RdKafka::ErrorCode e = consumer_->subscribe({o.kafka.topic}); e != RdKafka::ERR_NO_ERROR) {
      return absl::InternalError(absl::StrCat("projection consumer: subscribe: ", RdKafka::err2str(e)));
    }
    return absl::OkStatus();
  }

  void rebalance_cb(RdKafka::KafkaConsumer* consumer, RdKafka::ErrorCode err,
                    std::vector<RdKafka::TopicPartition*>& partitions) override {
    if (err != RdKafka::ERR__ASSIGN_PARTITIONS) {
      consumer->unassign();
      return;
    }
    for (RdKafka::TopicPartition* tp : partitions) {
      auto stored = engine_->StoredOffset(cluster_id_, KafkaPartition(tp->partition()));
      tp->set_offset(stored.ok() && *stored ? (*stored)->value() : RdKafka::Topic::OFFSET_BEGINNING);
    }
    consumer->assign(partitions);
    Logger("projections")
        ->info("msg=partitions_assigned projection={} count={}", engine_->projection_->name(), partitions.size());
  }

  // Reads up to max messages (waiting at most ~100 ms for the first) into
  // messages of `pool`, this round's.
  void Poll(size_t max, eventstore::RecordedEventPool& pool, std::vector<const v1::RecordedEvent*>* events,
            std::vector<PartitionOffset>* offsets) {
    std::unordered_map<int32_t, int64_t> next;
    for (int timeout = 100; events->size() < max; timeout = 0) {
      std::unique_ptr<RdKafka::Message> m(consumer_->consume(timeout));
      if (m->err() == RdKafka::ERR__TIMED_OUT || m->err() == RdKafka::ERR__PARTITION_EOF) break;
      if (m->err() != RdKafka::ERR_NO_ERROR) {
        Logger("projections")->warn("msg=consume_error error=\"{}\"", m->errstr());
        break;
      }
      v1::RecordedEvent* e = pool.At(events->size());
      if (e->ParseFromArray(m->payload(), static_cast<int>(m->len())) &&
          engine_->options_.upcasters->Apply(*e->mutable_event()).ok()) {
        events->push_back(e);
      } else if (auto repaired = FromStore(*m); repaired.ok()) {
        // The message is damaged, but its header names the position: the
        // store holds the original.
        *e = *std::move(repaired);
        events->push_back(e);
      } else {
        Logger("projections")
            ->error("msg=unreadable_message partition={} offset={} status=\"{}\"", m->partition(), m->offset(),
                    repaired.status().ToString());
      }
      next[m->partition()] = m->offset() + 1;
    }
    for (const auto& [p, o] : next) offsets->push_back({KafkaPartition(p), KafkaOffset(o)});
  }

  const std::string& cluster_id() const { return cluster_id_; }

  // Commits the offsets of an applied batch to the consumer group too, so
  // that Kafka's own tools (kafka-consumer-groups --describe) show the real
  // lag. Advisory: the offsets stored with the model stay authoritative (an
  // assignment seeks to them), so a lost commit changes nothing.
  void CommitToGroup(const std::vector<PartitionOffset>& offsets) {
    std::vector<RdKafka::TopicPartition*> list;
    for (const PartitionOffset& o : offsets) {
      list.push_back(
          RdKafka::TopicPartition::create(engine_->options_.kafka.topic, o.partition.value(), o.next_offset.value()));
    }
    if (RdKafka::ErrorCode e = consumer_->commitAsync(list); e != RdKafka::ERR_NO_ERROR) {
      Logger("projections")->debug("msg=group_commit_failed error={}", RdKafka::err2str(e));
    }
    RdKafka::TopicPartition::destroy(list);
  }

  absl::StatusOr<v1::RecordedEvent> FromStore(RdKafka::Message& m) const {
    ASSIGN_OR_RETURN(const uint64_t position, bus::PositionOf(m));
    ASSIGN_OR_RETURN(auto events, engine_->store_->ReadAll(GlobalPosition(position), 1));
    if (events.empty() || events[0].global_position() != position) {
      return absl::DataLossError("position not in the event store");
    }
    return std::move(events[0]);
  }
  void Close() {
    if (consumer_) consumer_->close();
  }

 private:
  ProjectionEngine* engine_;
  std::unique_ptr<RdKafka::KafkaConsumer> consumer_;
  std::string cluster_id_;
};

void ProjectionEngine::ConsumerDeleter::operator()(Consumer* consumer) const { delete consumer; }

void ProjectionEngine::StartConsumer() {
  if (consumer_thread_.joinable()) return;
  stopping_ = false;
  consumer_.reset();  // of an earlier run, stopped and closed
  consumer_thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "kring-project");
    ConsumeLoop();
  });
}

void ProjectionEngine::ConsumeLoop() {
  // Below the append path in CPU priority (ProjectionOptions::idle, nice).
  // librdkafka's threads, created below from this thread, inherit it.
  if (options_.idle) {
    IdleThisThread(options_.nice, "projections");
  } else {
    NiceThisThread(options_.nice, "projections");
  }
  // Kafka may be down when we start: keep trying, appends do not wait for us.
  consumer_.reset(new Consumer(this));
  if (absl::Status s = consumer_->Init(stopping_); !s.ok()) {
    if (!stopping_.load()) {
      Logger("projections")
          ->error("msg=consumer_init_failed projection={} status=\"{}\"", projection_->name(), s.ToString());
    }
    consumer_.reset();
    return;
  }
  Logger("projections")->info("msg=consumer_started projection={} group={}", projection_->name(), options_.group_id);
  // Consumed events are parsed into messages that the next poll reuses.
  eventstore::RecordedEventPool pool(/*initial_block=*/1 << 20, /*reset_after=*/16 << 20);
  std::vector<const v1::RecordedEvent*> events;
  std::vector<PartitionOffset> offsets;
  uint64_t last_applied = events_applied_.load();
  auto last_progress = std::chrono::steady_clock::now();
  while (!stopping_.load()) {
    events.clear();
    offsets.clear();
    pool.EndRound();
    consumer_->Poll(options_.max_batch, pool, &events, &offsets);
    if (!offsets.empty()) {
      // Nothing of a failed batch was written; retry it rather than skip it.
      for (absl::Status s = ApplyEvents(events, consumer_->cluster_id(), offsets); !s.ok() && !stopping_.load();
           s = ApplyEvents(events, consumer_->cluster_id(), offsets)) {
        Logger("projections")->error("msg=apply_failed projection={} status=\"{}\"", projection_->name(), s.ToString());
        std::this_thread::sleep_for(std::chrono::seconds(1));
      }
      if (!stopping_.load()) consumer_->CommitToGroup(offsets);
    }
    // Kafka may never deliver some events: a topic's retention (the embedded
    // cluster keeps about 5 MiB per partition) can drop messages before this
    // worker read them, and a broker can lose them. The watermark shows it:
    // fewer distinct events applied than the highest position (a hole), or a
    // highest position below the store's head (lag). When that stays so for
    // fill_from_store_after, the store supplies what is missing; everything
    // applied already is skipped by version, so this is exact.
    const Watermark w = watermark();
    const auto now = std::chrono::steady_clock::now();
    if (w.events_applied != last_applied) {
      last_applied = w.events_applied;
      last_progress = now;
    } else if (options_.fill_from_store && now - last_progress >= options_.fill_from_store_after &&
               (w.events_applied < w.max_global_position || w.max_global_position < store_->Head().value())) {
      Logger("projections")
          ->info("msg=filling_from_store projection={} events_applied={} max_position={} head_position={}",
                 projection_->name(), w.events_applied, w.max_global_position, store_->Head().value());
      if (absl::Status s =
              CatchUpFromStore(store_->Head(), [this](const CatchUpProgress&) { return !stopping_.load(); });
          !s.ok() && !stopping_.load()) {
        Logger("projections")->error("msg=fill_failed projection={} status=\"{}\"", projection_->name(), s.ToString());
      }
      last_applied = events_applied_.load();
      last_progress = std::chrono::steady_clock::now();
    }
  }
}

void ProjectionEngine::StopConsumer() {
  if (!consumer_thread_.joinable()) return;
  stopping_ = true;
  consumer_thread_.join();
  if (consumer_) consumer_->Close();
  Logger("projections")
      ->info("msg=consumer_stopped projection={} events_applied={}", projection_->name(), events_applied_.load());
}

}  // namespace kring::projections
