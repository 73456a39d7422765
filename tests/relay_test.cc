#include "bus/relay.h"

#include <gtest/gtest.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <atomic>
#include <map>
#include <set>
#include <thread>

#include "eventstore/event_store.h"
#include "tests/testing/test_support.h"

namespace kring::bus {
namespace {

using eventstore::EventStore;
using kring::testing::Batch;
using kring::testing::ConsumeTopic;
using kring::testing::SomeEvents;

constexpr char kTopic[] = "kring.case-events.v1";

class RelayTest : public ::testing::Test {
 protected:
  void SetUp() override {
    eventstore::EventStoreOptions options;
    options.path = dir_.Sub("store");
    store_ = std::move(EventStore::Open(options)).value();
  }

  void StartKafka(int brokers) { kafka_ = std::move(EmbeddedKafka::Start(brokers, kTopic, 6)).value(); }

  RelayOptions Options() const {
    RelayOptions options;
    options.kafka.bootstrap = kafka_->bootstrap();
    options.kafka.topic = kTopic;
    return options;
  }

  std::unique_ptr<OutboxRelay> StartRelay(const RelayOptions& options) {
    auto relay = OutboxRelay::Start(store_.get(), options);
    EXPECT_TRUE(relay.ok()) << relay.status();
    return std::move(relay).value();
  }
  std::unique_ptr<OutboxRelay> StartRelay() { return StartRelay(Options()); }

  // The number of messages on the topic, read from its partitions' offsets:
  // with ExpectExactlyOnceInOrder's check that every position is there, it
  // proves that nothing is there twice, whenever a copy arrived.
  uint64_t MessagesOnTopic() const {
    uint64_t n = 0;
    for (const auto& [partition, range] : testing::TopicOffsets(kafka_->bootstrap(), kTopic)) {
      n += static_cast<uint64_t>(range.second - range.first);
    }
    return n;
  }

  // Appends `cases` cases of `per_case` events, interleaved, from 4 threads.
  void AppendCases(const std::string& prefix, int cases, int per_case) {
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
      threads.emplace_back([&, t] {
        for (int round = 0; round < per_case; ++round) {
          for (int c = t; c < cases; c += 4) {
            auto events = round == 0 ? SomeEvents(1) : testing::MoreEvents(1);
            ASSERT_TRUE(store_->Append(Batch(prefix + std::to_string(c), events)).ok());
          }
        }
      });
    }
    for (auto& th : threads) th.join();
  }

  // Every position 1..head exactly once; per case, versions 1, 2, 3… in topic
  // order; key, headers and partition stable per case.
  void ExpectExactlyOnceInOrder(const std::vector<testing::ConsumedEvent>& consumed, bool allow_duplicates) {
    const uint64_t head = store_->Head().value();
    std::map<uint64_t, int> seen;
    std::map<std::string, uint64_t> last_version;
    std::map<std::string, int32_t> partition_of;
    for (const auto& c : consumed) {
      const auto& e = c.event;
      seen[e.global_position()]++;
      EXPECT_EQ(c.key, e.case_id());
      EXPECT_EQ(c.headers.at(kHeaderGlobalPosition), std::to_string(e.global_position()));
      EXPECT_EQ(c.headers.at(kHeaderEventType), e.event().has_case_referred() ? "CaseReferred" : "CostRecorded");
      EXPECT_EQ(c.headers.at(kHeaderSchema), "kring.v1.RecordedEvent");
      auto [it, fresh] = partition_of.emplace(e.case_id(), c.partition);
      EXPECT_EQ(it->second, c.partition) << "a case spread over partitions";
      uint64_t& last = last_version[e.case_id()];
      if (allow_duplicates && e.stream_version() <= last) continue;
      EXPECT_EQ(e.stream_version(), last + 1) << "case " << e.case_id() << " out of order";
      last = e.stream_version();
    }
    ASSERT_EQ(seen.size(), head) << "missing events";
    EXPECT_EQ(seen.begin()->first, 1u);
    EXPECT_EQ(seen.rbegin()->first, head);
    if (!allow_duplicates) {
      for (const auto& [position, count] : seen) EXPECT_EQ(count, 1) << "position " << position << " duplicated";
    }
  }

  testing::TempDir dir_;
  std::unique_ptr<EventStore> store_;
  std::unique_ptr<EmbeddedKafka> kafka_;
};

TEST_F(RelayTest, EveryEventArrivesExactlyOnceAndInOrderPerCase) {
  StartKafka(1);
  auto relay = StartRelay();
  AppendCases("case-", 40, 25);
  ASSERT_TRUE(relay->Flush(std::chrono::seconds(30)));
  EXPECT_EQ(relay->Confirmed(), store_->Head());
  relay->Stop();
  const std::string cluster_id = testing::ClusterId(kafka_->bootstrap());
  EXPECT_EQ(store_->FirstUnpublished(cluster_id)->value(), store_->Head().value() + 1) << "outbox not drained";
  ExpectExactlyOnceInOrder(ConsumeTopic(kafka_->bootstrap(), kTopic, 1000), /*allow_duplicates=*/false);
}

// The relay's thread and its producer's librdkafka threads run at niceness
// 10 (RelayOptions::nice), so appends keep more of the CPU under overload;
// the embedded cluster's threads, started by this test's thread, do not.
TEST_F(RelayTest, TheRelayAndItsProducerThreadsRunNiced) {
  StartKafka(1);
  auto relay = StartRelay();
  AppendCases("case-", 4, 2);
  ASSERT_TRUE(relay->Flush(std::chrono::seconds(30)));
  auto nice = testing::ThreadNiceness();
  relay->Stop();
  EXPECT_EQ(nice["kring-relay"], std::multiset<int>({10}));
  EXPECT_EQ(nice["rdk:main"].count(10), 1u) << "the producer's main thread";
  EXPECT_GE(nice["rdk:main"].count(0), 1u) << "the embedded cluster's";
}

TEST_F(RelayTest, RestartedRelayContinuesFromTheOutbox) {
  StartKafka(1);
  AppendCases("case-", 10, 10);
  {
    auto relay = StartRelay();
    ASSERT_TRUE(relay->Flush(std::chrono::seconds(30)));
  }
  AppendCases("later-", 10, 10);
  auto relay = StartRelay();
  ASSERT_TRUE(relay->Flush(std::chrono::seconds(30)));
  ExpectExactlyOnceInOrder(ConsumeTopic(kafka_->bootstrap(), kTopic, 200), /*allow_duplicates=*/false);
}

TEST_F(RelayTest, AClusterNeverPublishedToReceivesTheWholeLog) {
  StartKafka(1);
  AppendCases("case-", 10, 10);
  {
    auto relay = StartRelay();
    ASSERT_TRUE(relay->Flush(std::chrono::seconds(30)));
  }
  // The same data folder, pointed at another cluster: it gets everything,
  // although the first cluster confirmed it all.
  auto first = std::move(kafka_);
  StartKafka(1);
  auto relay = StartRelay();
  ASSERT_TRUE(relay->Flush(std::chrono::seconds(30)));
  ExpectExactlyOnceInOrder(ConsumeTopic(kafka_->bootstrap(), kTopic, 100), /*allow_duplicates=*/false);
}

TEST_F(RelayTest, AppendsContinueWhileTheBrokerIsDownAndEverythingArrivesAfter) {
  StartKafka(1);
  auto relay = StartRelay();
  AppendCases("before-", 20, 10);
  ASSERT_TRUE(relay->Flush(std::chrono::seconds(30)));

  ASSERT_EQ(rd_kafka_mock_broker_set_down(kafka_->mock(), 1), RD_KAFKA_RESP_ERR_NO_ERROR);
  AppendCases("during-", 20, 25);  // every append succeeds (asserted inside)
  EXPECT_LT(relay->Confirmed(), store_->Head()) << "published while the broker was down";
  EXPECT_TRUE(relay->Health().ok()) << "an unreachable broker is no producer failure";

  ASSERT_EQ(rd_kafka_mock_broker_set_up(kafka_->mock(), 1), RD_KAFKA_RESP_ERR_NO_ERROR);
  ASSERT_TRUE(relay->Flush(std::chrono::seconds(60)));
  ExpectExactlyOnceInOrder(ConsumeTopic(kafka_->bootstrap(), kTopic, 700), /*allow_duplicates=*/false);
}

TEST_F(RelayTest, InjectedProduceErrorsAreRetriedUntilEverythingArrives) {
  StartKafka(1);
  // Produce is Kafka API key 0; these errors are retriable.
  rd_kafka_mock_push_request_errors(kafka_->mock(), 0, 6, RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS,
                                    RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS, RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT,
                                    RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION, RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS,
                                    RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE);
  auto relay = StartRelay();
  AppendCases("case-", 30, 10);
  ASSERT_TRUE(relay->Flush(std::chrono::seconds(60)));
  ExpectExactlyOnceInOrder(ConsumeTopic(kafka_->bootstrap(), kTopic, 300), /*allow_duplicates=*/false);
}

TEST_F(RelayTest, NonRetriableProduceErrorsRebuildTheProducerAndResend) {
  StartKafka(1);
  auto relay = StartRelay();
  AppendCases("first-", 10, 5);
  ASSERT_TRUE(relay->Flush(std::chrono::seconds(30)));
  // A permanent error fails delivery: the relay rebuilds its producer and
  // sends again from its last confirmed position. Consumers see each event at
  // least once and every case still in order once duplicates are skipped.
  rd_kafka_mock_push_request_errors(kafka_->mock(), 0, 2, RD_KAFKA_RESP_ERR_INVALID_RECORD,
                                    RD_KAFKA_RESP_ERR_INVALID_RECORD);
  AppendCases("second-", 10, 5);
  ASSERT_TRUE(relay->Flush(std::chrono::seconds(60)));
  ExpectExactlyOnceInOrder(ConsumeTopic(kafka_->bootstrap(), kTopic, 100), /*allow_duplicates=*/true);
}

// Defect 8 of issue 12: when the producer failed and could not be created
// again, the relay went on with no producer and crashed. Now it retries with
// backoff, reports itself unhealthy meanwhile, and once a producer is up
// again it publishes everything, nothing twice.
TEST_F(RelayTest, AProducerThatCannotBeRebuiltIsRetriedWhileUnhealthyAndNothingIsLostOrDuplicated) {
  StartKafka(1);
  std::atomic<bool> refuse{false};
  std::atomic<int> refused{0};
  RelayOptions options = Options();
  options.producer_retry_initial = std::chrono::milliseconds(10);
  options.producer_retry_max = std::chrono::milliseconds(40);
  options.before_producer_create = [&]() -> absl::Status {
    if (!refuse.load()) return absl::OkStatus();
    ++refused;
    return absl::InternalError("injected: producer creation refused");
  };
  // What the server turns into the health status "kring.relay".
  std::mutex changes_mu;
  std::vector<absl::StatusCode> changes;
  options.on_health_change = [&](const absl::Status& health) {
    std::lock_guard<std::mutex> lock(changes_mu);
    changes.push_back(health.code());
  };
  auto relay = StartRelay(options);
  AppendCases("first-", 10, 5);
  ASSERT_TRUE(relay->Flush(std::chrono::seconds(30)));
  EXPECT_TRUE(relay->Health().ok()) << relay->Health();

  // Nothing in flight; the next produce request fails for good, so the relay
  // drops its producer, and creating a new one is refused.
  refuse = true;
  rd_kafka_mock_push_request_errors(kafka_->mock(), 0, 1, RD_KAFKA_RESP_ERR_INVALID_RECORD);
  ASSERT_TRUE(store_->Append(Batch("trigger", SomeEvents(1))).ok());
  ASSERT_TRUE(testing::WaitFor([&] { return refused.load() >= 3; })) << "the relay stopped trying";
  const absl::Status health = relay->Health();
  EXPECT_EQ(health.code(), absl::StatusCode::kUnavailable) << health;
  EXPECT_NE(health.message().find("cannot create the Kafka producer"), std::string::npos) << health;
  EXPECT_NE(health.message().find("injected: producer creation refused"), std::string::npos) << health;

  // Appends go on; nothing more is confirmed while there is no producer.
  AppendCases("during-", 10, 5);
  EXPECT_LT(relay->Confirmed(), store_->Head());
  EXPECT_FALSE(relay->Health().ok());

  refuse = false;
  ASSERT_TRUE(relay->Flush(std::chrono::seconds(60)));
  EXPECT_TRUE(relay->Health().ok()) << relay->Health();
  EXPECT_EQ(relay->Confirmed(), store_->Head());
  relay->Stop();
  {
    std::lock_guard<std::mutex> lock(changes_mu);
    EXPECT_EQ(changes, (std::vector<absl::StatusCode>{absl::StatusCode::kUnavailable, absl::StatusCode::kOk}))
        << "the relay reports each change of its health once";
  }
  const uint64_t head = store_->Head().value();
  ExpectExactlyOnceInOrder(ConsumeTopic(kafka_->bootstrap(), kTopic, head), /*allow_duplicates=*/false);
  EXPECT_EQ(MessagesOnTopic(), head);
}

// Stop() does not wait out a backoff: a relay that cannot create its producer
// stops as soon as asked.
TEST_F(RelayTest, ARelayWaitingToRetryItsProducerStopsWhenAsked) {
  StartKafka(1);
  std::atomic<bool> refuse{false};
  std::atomic<int> refused{0};
  RelayOptions options = Options();
  options.producer_retry_initial = std::chrono::hours(1);
  options.producer_retry_max = std::chrono::hours(1);
  options.before_producer_create = [&]() -> absl::Status {
    if (!refuse.load()) return absl::OkStatus();
    ++refused;
    return absl::InternalError("injected");
  };
  auto relay = StartRelay(options);
  refuse = true;
  rd_kafka_mock_push_request_errors(kafka_->mock(), 0, 1, RD_KAFKA_RESP_ERR_INVALID_RECORD);
  ASSERT_TRUE(store_->Append(Batch("trigger", SomeEvents(1))).ok());
  ASSERT_TRUE(testing::WaitFor([&] { return refused.load() >= 1; }));
  // Flush fails at once (0 ms): Stop then joins a thread that is waiting out
  // an hour's backoff; it must wake it rather than wait. The test's own
  // timeout (ctest) is what catches a hang.
  relay->Stop(std::chrono::milliseconds(0));
  EXPECT_EQ(refused.load(), 1);
  EXPECT_EQ(store_->FirstUnpublished(testing::ClusterId(kafka_->bootstrap()))->value(), 1u);
}

}  // namespace
}  // namespace kring::bus
