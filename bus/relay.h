// OutboxRelay: publishes the event store's log to Kafka, in global-position
// order, with an idempotent producer (acks=all), key case_id, value the
// RecordedEvent exactly as stored, and headers for event type, global
// position and schema. It confirms positions to the store's outbox only from
// delivery reports, so an event is marked published only once Kafka has it.
// The outbox is kept per Kafka cluster id: a cluster the store never
// published to receives the whole log.
//
// Kafka outages never block appends: the relay runs on its own thread,
// producing with an unlimited message timeout, and the outbox waits on disk.
// If the producer fails fatally, it is rebuilt and everything after the last
// confirmed position is sent again (consumers skip by stream version).
//
// Threads: Start() launches one relay thread; Flush(), Confirmed() and Stop()
// may be called from any thread.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>

#include "absl/status/statusor.h"
#include "bus/kafka.h"
#include "common/types.h"

namespace kring::eventstore {
class EventStore;
}

namespace kring::bus {

struct RelayOptions {
  KafkaOptions kafka;
  // Publish from position 1 instead of from the outbox: for the embedded
  // cluster, which starts empty on every run. Default: false.
  bool republish_from_start = false;
  // Most events sent but not yet confirmed. Default: 200000.
  size_t max_in_flight = 200000;
  // How often confirmed positions are written back to the outbox.
  // Default: 200 ms.
  std::chrono::milliseconds checkpoint_interval{200};
  // How long the producer gathers events into one request: fewer, larger
  // requests cost the brokers (and the embedded cluster) far less CPU.
  // Default: 50 ms.
  int linger_ms = 50;
};

class OutboxRelay {
 public:
  static absl::StatusOr<std::unique_ptr<OutboxRelay>> Start(eventstore::EventStore* store, RelayOptions options);
  ~OutboxRelay();

  // Waits until every event up to the store's head at the time of the call is
  // confirmed by Kafka; false if `timeout` passes first.
  bool Flush(std::chrono::milliseconds timeout);
  // Highest position p such that every event up to p is confirmed.
  GlobalPosition Confirmed() const { return GlobalPosition(confirmed_.load()); }
  // Flushes for at most `timeout`, records what was confirmed, stops.
  void Stop(std::chrono::milliseconds timeout = std::chrono::seconds(10));

 private:
  class Producer;
  OutboxRelay(eventstore::EventStore* store, RelayOptions options);
  // Learns the cluster id and where its outbox starts; false if stopped first.
  bool FindStart();
  void Run();
  void Checkpoint();

  eventstore::EventStore* const store_;
  const RelayOptions options_;
  std::unique_ptr<Producer> producer_;
  std::atomic<uint64_t> confirmed_{0};
  std::string cluster_id_;  // relay thread, then Stop() after joining it
  uint64_t checkpointed_ = 0;
  std::atomic<bool> stopping_{false};
  std::mutex mu_;
  std::condition_variable confirmed_cv_;
  std::thread thread_;
};

}  // namespace kring::bus
