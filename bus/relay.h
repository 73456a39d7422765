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
// confirmed position is sent again (consumers skip by stream version). If
// rebuilding it fails, the relay retries with exponential backoff and reports
// itself unhealthy (Health()) until a producer is up again; appends go on.
//
// Threads: Start() launches one relay thread; Flush(), Confirmed(), Health()
// and Stop() may be called from any thread.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
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
  // After a failed attempt to rebuild the producer, the relay waits this long
  // before the next attempt, doubling the wait after each further failure up
  // to producer_retry_max. Default: 100 ms.
  std::chrono::milliseconds producer_retry_initial{100};
  // The longest wait between attempts to rebuild the producer. Default: 10 s.
  std::chrono::milliseconds producer_retry_max{10000};
  // Niceness of the relay's thread and of the librdkafka threads of its
  // producer: under overload appends keep more of the CPU and the outbox
  // grows (kring_relay_lag_events), drained when the load falls. Unlike the
  // read models' consumers (niceness 19) the relay keeps a larger share,
  // so events keep flowing to Kafka. 0: the normal priority. Default: 10.
  int nice = 10;
  // Called (on the relay's thread, or in Start()) whenever Health() changes
  // between OK and not OK, with the new status; the server turns it into the
  // gRPC health status "kring.relay". Must not block. Default: none.
  std::function<void(const absl::Status&)> on_health_change;
  // Fault injection for tests: called before every producer the relay creates
  // (the first one in Start() included); a non-OK status makes that creation
  // fail as if librdkafka had refused it. Default: none.
  std::function<absl::Status()> before_producer_create;
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
  // OK while the relay has a working producer (also while Kafka is merely
  // unreachable: the producer keeps trying by itself). UNAVAILABLE, saying
  // why, while rebuilding a failed producer fails and the relay is waiting to
  // try again; appends go on and the outbox holds the events meanwhile.
  absl::Status Health() const;

 private:
  class Producer;
  OutboxRelay(eventstore::EventStore* store, RelayOptions options);
  // Learns the cluster id and where its outbox starts; false if stopped first.
  bool FindStart();
  void Run();
  // Gives the calling thread options_.nice (threads it starts inherit it).
  void LowerThreadPriority() const;
  void Checkpoint();
  // Creates producer_ (confirmed up to `confirmed`); on failure leaves it
  // null, records why in health_ and returns the error.
  absl::Status CreateProducer(uint64_t confirmed);
  // Waits for `delay` or until Stop(); false if stopping.
  bool WaitUnlessStopping(std::chrono::milliseconds delay);
  void PublishConfirmed(uint64_t confirmed);

  eventstore::EventStore* const store_;
  const RelayOptions options_;
  std::unique_ptr<Producer> producer_;  // null while a rebuild keeps failing
  std::atomic<uint64_t> confirmed_{0};
  std::string cluster_id_;  // relay thread, then Stop() after joining it
  uint64_t checkpointed_ = 0;
  std::atomic<bool> stopping_{false};
  mutable std::mutex mu_;
  std::condition_variable confirmed_cv_;
  std::condition_variable stop_cv_;  // wakes a backoff wait on Stop()
  absl::Status health_;              // guarded by mu_
  int failed_creations_ = 0;         // in a row; guarded by mu_
  std::thread thread_;
};

}  // namespace kring::bus
