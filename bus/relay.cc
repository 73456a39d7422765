#include "bus/relay.h"

#include <librdkafka/rdkafkacpp.h>
#include <pthread.h>

#include <deque>

#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "common/status.h"
#include "common/thread.h"
#include "eventstore/event_store.h"

namespace kring::bus {
namespace {

std::string EventTypeName(const v1::Event& e) {
  const auto* field = v1::Event::descriptor()->FindFieldByNumber(e.payload_case());
  if (field == nullptr) return "Unknown";
  return field->message_type()->name();
}

}  // namespace

// One librdkafka producer and the bookkeeping of what it has confirmed.
// Used by the relay thread only (delivery reports arrive inside poll()).
class OutboxRelay::Producer : public RdKafka::DeliveryReportCb, public RdKafka::EventCb {
 public:
  absl::Status Init(const KafkaOptions& kafka, int linger_ms, uint64_t confirmed) {
    ASSIGN_OR_RETURN(auto conf, MakeConf(kafka, {
                                                    {"enable.idempotence", "true"},
                                                    {"acks", "all"},
                                                    {"message.timeout.ms", "0"},  // retry until Kafka is back
                                                    {"linger.ms", std::to_string(linger_ms)},
                                                    {"batch.num.messages", "10000"},
                                                    {"queue.buffering.max.messages", "500000"},
                                                    {"queue.buffering.max.kbytes", "1048576"},
                                                    {"compression.type", "lz4"},
                                                }));
    std::string err;
    conf->set("dr_cb", static_cast<RdKafka::DeliveryReportCb*>(this), err);
    conf->set("event_cb", static_cast<RdKafka::EventCb*>(this), err);
    producer_.reset(RdKafka::Producer::create(conf.get(), err));
    if (!producer_) return absl::InternalError(absl::StrCat("relay: cannot create producer: ", err));
    confirmed_ = confirmed;
    window_.clear();
    return absl::OkStatus();
  }

  // Queues one event; false if the local queue is full (poll and retry).
  bool Send(const std::string& topic, const v1::RecordedEvent& event, std::string_view stored) {
    RdKafka::Headers* headers = RdKafka::Headers::create();
    const std::string type = EventTypeName(event.event());
    const std::string position = std::to_string(event.global_position());
    headers->add(kHeaderEventType, type);
    headers->add(kHeaderGlobalPosition, position);
    headers->add(kHeaderSchema, "kring.v1.RecordedEvent");
    const int64_t timestamp_ms = event.recorded_at().seconds() * 1000 + event.recorded_at().nanos() / 1000000;
    RdKafka::ErrorCode err = producer_->produce(
        topic, RdKafka::Topic::PARTITION_UA, RdKafka::Producer::RK_MSG_COPY, const_cast<char*>(stored.data()),
        stored.size(), event.case_id().data(), event.case_id().size(), timestamp_ms, headers,
        reinterpret_cast<void*>(static_cast<uintptr_t>(event.global_position())));
    if (err == RdKafka::ERR_NO_ERROR) return true;
    delete headers;
    if (err == RdKafka::ERR__QUEUE_FULL) return false;
    Logger("relay")->error("msg=produce_refused position={} error=\"{}\"", position, RdKafka::err2str(err));
    failed_ = true;
    return false;
  }

  void Poll(int timeout_ms) { producer_->poll(timeout_ms); }
  // The id of the cluster this producer talks to; empty if unreachable.
  std::string ClusterId(int timeout_ms) { return producer_->clusterid(timeout_ms); }
  // Before anything is sent: positions up to `confirmed` count as confirmed.
  void SetConfirmed(uint64_t confirmed) { confirmed_ = confirmed; }
  uint64_t confirmed() const { return confirmed_; }
  bool failed() const { return failed_; }
  void Close(std::chrono::milliseconds timeout) {
    if (producer_) {
      if (producer_->flush(static_cast<int>(timeout.count())) != RdKafka::ERR_NO_ERROR) {
        producer_->purge(RdKafka::Producer::PURGE_QUEUE | RdKafka::Producer::PURGE_INFLIGHT);
        producer_->poll(0);
      }
      producer_.reset();
    }
  }

  void dr_cb(RdKafka::Message& message) override {
    const uint64_t position = reinterpret_cast<uintptr_t>(message.msg_opaque());
    if (message.err() != RdKafka::ERR_NO_ERROR) {
      Logger("relay")->error("msg=delivery_failed position={} error=\"{}\"", position, message.errstr());
      failed_ = true;
      return;
    }
    if (position <= confirmed_) return;
    const size_t index = position - confirmed_ - 1;
    if (window_.size() <= index) window_.resize(index + 1, false);
    window_[index] = true;
    while (!window_.empty() && window_.front()) {
      window_.pop_front();
      ++confirmed_;
    }
  }

  void event_cb(RdKafka::Event& event) override {
    LogKafkaEvent(event);
    if (event.type() == RdKafka::Event::EVENT_ERROR && event.fatal()) failed_ = true;
  }

 private:
  std::unique_ptr<RdKafka::Producer> producer_;
  uint64_t confirmed_ = 0;
  std::deque<bool> window_;  // delivered flags for positions confirmed_+1, …
  bool failed_ = false;
};

OutboxRelay::OutboxRelay(eventstore::EventStore* store, RelayOptions options)
    : store_(store), options_(std::move(options)) {}

absl::StatusOr<std::unique_ptr<OutboxRelay>> OutboxRelay::Start(eventstore::EventStore* store, RelayOptions options) {
  std::unique_ptr<OutboxRelay> relay(new OutboxRelay(store, std::move(options)));
  // The first producer is made on a thread of the relay's niceness, so that
  // the librdkafka threads it starts inherit it.
  absl::Status created;
  std::thread([&] {
    relay->LowerThreadPriority();
    created = relay->CreateProducer(0);
  }).join();
  RETURN_IF_ERROR(created);
  relay->thread_ = std::thread([r = relay.get()] {
    pthread_setname_np(pthread_self(), "kring-relay");
    r->Run();
  });
  return relay;
}

absl::Status OutboxRelay::CreateProducer(uint64_t confirmed) {
  auto producer = std::make_unique<Producer>();
  absl::Status created = options_.before_producer_create ? options_.before_producer_create() : absl::OkStatus();
  if (created.ok()) created = producer->Init(options_.kafka, options_.linger_ms, confirmed);
  bool changed;
  absl::Status health;
  {
    std::lock_guard<std::mutex> lock(mu_);
    const bool was_ok = health_.ok();
    if (created.ok()) {
      producer_ = std::move(producer);
      failed_creations_ = 0;
      health_ = absl::OkStatus();
    } else {
      ++failed_creations_;
      health_ = absl::UnavailableError(
          absl::StrCat("relay: cannot create the Kafka producer (", failed_creations_,
                       " attempts failed, retrying; events wait in the outbox): ", created.message()));
    }
    changed = was_ok != health_.ok();
    health = health_;
  }
  if (changed && options_.on_health_change) options_.on_health_change(health);
  return created;
}

absl::Status OutboxRelay::Health() const {
  std::lock_guard<std::mutex> lock(mu_);
  return health_;
}

bool OutboxRelay::WaitUnlessStopping(std::chrono::milliseconds delay) {
  std::unique_lock<std::mutex> lock(mu_);
  return !stop_cv_.wait_for(lock, delay, [&] { return stopping_.load(); });
}

void OutboxRelay::PublishConfirmed(uint64_t confirmed) {
  if (confirmed == confirmed_.load()) return;
  {
    std::lock_guard<std::mutex> lock(mu_);
    confirmed_.store(confirmed);
  }
  confirmed_cv_.notify_all();
}

OutboxRelay::~OutboxRelay() { Stop(); }

bool OutboxRelay::FindStart() {
  // The outbox is kept per cluster: learn which one this is. Kafka may be
  // down; appends do not wait for it, and neither does anything else.
  for (int attempt = 0; !stopping_.load(); ++attempt) {
    cluster_id_ = producer_->ClusterId(1000);
    if (!cluster_id_.empty()) break;
    if (attempt % 30 == 0) Logger("relay")->warn("msg=waiting_for_kafka bootstrap={}", options_.kafka.bootstrap);
  }
  if (stopping_.load()) return false;
  uint64_t start = 1;
  if (!options_.republish_from_start) {
    auto first = store_->FirstUnpublished(cluster_id_);
    if (first.ok()) {
      start = first->value();
    } else {  // sending too much is safe, consumers skip repeats
      Logger("relay")->error("msg=outbox_read_failed status=\"{}\" resend_from_position=1", first.status().ToString());
    }
  }
  producer_->SetConfirmed(start - 1);
  checkpointed_ = start - 1;
  {
    std::lock_guard<std::mutex> lock(mu_);
    confirmed_ = start - 1;
  }
  confirmed_cv_.notify_all();
  Logger("relay")->info("msg=relay_started topic={} cluster_id={} from_position={} head_position={}",
                        options_.kafka.topic, cluster_id_, start, store_->Head().value());
  return true;
}

void OutboxRelay::LowerThreadPriority() const { NiceThisThread(options_.nice, "relay"); }

void OutboxRelay::Run() {
  LowerThreadPriority();  // producers rebuilt here inherit it
  if (!FindStart()) return;
  uint64_t cursor = confirmed_.load() + 1;
  auto last_checkpoint = std::chrono::steady_clock::now();
  std::chrono::milliseconds backoff = options_.producer_retry_initial;
  while (!stopping_.load()) {
    if (!producer_ || producer_->failed()) {
      // Rebuild the producer and resend everything not yet confirmed.
      if (producer_) {
        producer_->Close(std::chrono::milliseconds(0));
        PublishConfirmed(producer_->confirmed());
        producer_.reset();
        Logger("relay")->warn("msg=producer_restart resend_from_position={}", confirmed_.load() + 1);
      }
      const uint64_t confirmed = confirmed_.load();
      if (absl::Status s = CreateProducer(confirmed); !s.ok()) {
        // No producer: report unhealthy (CreateProducer did), wait, try again.
        // Appends go on; the outbox holds their events.
        Logger("relay")->error("msg=producer_init_failed retry_in_ms={} status=\"{}\"", backoff.count(), s.ToString());
        if (!WaitUnlessStopping(backoff)) break;
        backoff = std::min(backoff * 2, options_.producer_retry_max);
        continue;
      }
      backoff = options_.producer_retry_initial;
      cursor = confirmed + 1;
    }

    const uint64_t head = store_->Head().value();
    const uint64_t in_flight = cursor - 1 - producer_->confirmed();
    if (cursor <= head && in_flight < options_.max_in_flight) {
      const uint64_t last = std::min(head, cursor + std::min<uint64_t>(2000, options_.max_in_flight - in_flight) - 1);
      absl::Status scanned = store_->ScanAll(GlobalPosition(cursor), GlobalPosition(last),
                                             [&](const v1::RecordedEvent& e, std::string_view raw) {
                                               while (!producer_->Send(options_.kafka.topic, e, raw)) {
                                                 if (producer_->failed() || stopping_.load()) return false;
                                                 producer_->Poll(10);
                                               }
                                               cursor = e.global_position() + 1;
                                               return true;
                                             });
      if (!scanned.ok()) {
        Logger("relay")->error("msg=read_failed status=\"{}\"", scanned.ToString());
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
      producer_->Poll(0);
    } else if (cursor > head) {
      producer_->Poll(0);
      // Caught up: wait for new events, then let a few milliseconds of them
      // gather, so the relay reads the store in runs rather than per group
      // (the producer batches for linger.ms anyway).
      if (store_->WaitForHead(GlobalPosition(head), std::chrono::milliseconds(20)) > GlobalPosition(head)) {
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
      }
    } else {
      producer_->Poll(20);
    }

    PublishConfirmed(producer_->confirmed());
    if (std::chrono::steady_clock::now() - last_checkpoint >= options_.checkpoint_interval) {
      Checkpoint();
      last_checkpoint = std::chrono::steady_clock::now();
    }
  }
}

void OutboxRelay::Checkpoint() {
  const uint64_t confirmed = confirmed_.load();
  if (confirmed <= checkpointed_) return;
  if (auto s = store_->MarkPublished(cluster_id_, GlobalPosition(confirmed)); !s.ok()) {
    Logger("relay")->error("msg=checkpoint_failed status=\"{}\"", s.ToString());
    return;
  }
  checkpointed_ = confirmed;
}

bool OutboxRelay::Flush(std::chrono::milliseconds timeout) {
  const uint64_t target = store_->Head().value();
  std::unique_lock<std::mutex> lock(mu_);
  return confirmed_cv_.wait_for(lock, timeout, [&] { return confirmed_.load() >= target; });
}

void OutboxRelay::Stop(std::chrono::milliseconds timeout) {
  if (!thread_.joinable()) return;
  const bool flushed = Flush(timeout);
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  stop_cv_.notify_all();
  thread_.join();
  if (producer_) {
    producer_->Close(std::chrono::milliseconds(flushed ? 1000 : 0));
    confirmed_ = producer_->confirmed();
  }
  Checkpoint();
  Logger("relay")->info("msg=relay_stopped confirmed_position={} head_position={} flushed={}", confirmed_.load(),
                        store_->Head().value(), flushed);
}

}  // namespace kring::bus
