#include <google/protobuf/util/message_differencer.h>
#include <gtest/gtest.h>
#include <librdkafka/rdkafkacpp.h>
#include <sched.h>

#include "bus/relay.h"
#include "eventstore/event_store.h"
#include "projections/engine.h"
#include "projections/network_size.h"
#include "tests/testing/cell_key_testing.h"
#include "tests/testing/test_support.h"

namespace kring::projections {
namespace {

using eventstore::EventStore;
using google::protobuf::util::MessageDifferencer;
using kring::testing::Batch;
using kring::testing::CaseReferredEvent;
using kring::testing::ConferenceHeldEvent;
using kring::testing::CoordinatorAssignedEvent;
using kring::testing::ParticipantInvitedEvent;

class ProjectionTest : public ::testing::Test {
 protected:
  // The engine's effects (exactly once, redelivery, restarts) and network
  // size's definition are checked on exact counts computed by hand; the cell
  // key method is tested in cell_key_test and differencing_test.
  const projections::ExactFiguresForTesting exact_;

  void SetUp() override {
    eventstore::EventStoreOptions options;
    options.path = dir_.Sub("store");
    store_ = std::move(EventStore::Open(options)).value();
  }

  // An engine on `bootstrap`. Tests of the Kafka path pass
  // fill_from_store = false, so that the store fallback cannot repair what
  // they break (see ProjectionOptions::fill_from_store).
  std::unique_ptr<ProjectionEngine> OpenEngine(const std::string& name, const std::string& bootstrap = "",
                                               bool fill_from_store = true,
                                               const std::function<void(ProjectionOptions&)>& adjust = nullptr) {
    ProjectionOptions options;
    options.path = dir_.Sub(name);
    options.kafka.bootstrap = bootstrap;
    options.fill_from_store = fill_from_store;
    options.fill_from_store_after = std::chrono::milliseconds(200);
    if (adjust) adjust(options);
    auto engine = ProjectionEngine::Open(
        options, std::make_unique<NetworkSizeProjection>(kring::testing::TestCellKeySecret()), store_.get());
    EXPECT_TRUE(engine.ok()) << engine.status();
    return std::move(engine).value();
  }

  // A case with `network` non-professional attendees (the first one the
  // central person), plus one professional and the coordinator attending.
  void AddCase(const std::string& id, int network, v1::Domain domain, const std::string& municipality, int year,
               int month) {
    std::vector<v1::Event> events = {CaseReferredEvent(domain, municipality, year, 1, 5),
                                     CoordinatorAssignedEvent(id + "-coord", year, 1, 6)};
    std::vector<std::string> attendees = {id + "-coord", id + "-pro"};
    events.push_back(ParticipantInvitedEvent(id + "-pro", v1::RELATION_PROFESSIONAL));
    for (int i = 0; i < network; ++i) {
      const std::string p = id + "-p" + std::to_string(i);
      events.push_back(ParticipantInvitedEvent(p, i % 3 == 2 ? v1::RELATION_FRIEND : v1::RELATION_FAMILY, i == 0));
      attendees.push_back(p);
    }
    events.push_back(ConferenceHeldEvent(attendees, year, month, 15));
    ASSERT_TRUE(store_->Append(Batch(id, events)).ok());
  }

  // Four conferences of sizes 3, 5, 8 and 12.
  void AddHandMadeCohort() {
    for (int copy = 0; copy < kCopies; ++copy) {
      const std::string c = "-" + std::to_string(copy);
      AddCase("case-1" + c, 3, v1::DOMAIN_YOUTH_PROTECTION, "GM0363", 2022, 2);
      AddCase("case-2" + c, 5, v1::DOMAIN_HOUSING, "GM0599", 2022, 8);
      AddCase("case-3" + c, 8, v1::DOMAIN_YOUTH_PROTECTION, "GM0363", 2023, 5);
      AddCase("case-4" + c, 12, v1::DOMAIN_YOUTH_PROTECTION, "GM0599", 2023, 11);
    }
  }

  // Each hand-made case is added this often, so that every cell holds at
  // least the smallest k disclosure control allows (5), which Query asks for.
  static constexpr int kCopies = 5;

  static v1::NetworkSizeResponse Query(const ProjectionEngine& engine, v1::NetworkSizeRequest request = {}) {
    if (request.disclosure().min_cell_size() == 0) request.mutable_disclosure()->set_min_cell_size(kCopies);
    auto r = QueryNetworkSize(engine, request);
    EXPECT_TRUE(r.ok()) << r.status();
    return *r;
  }

  // Puts `events` on the topic (partition 0, key the case id, the position
  // header), with `value` as each message's value.
  static void Produce(const std::string& bootstrap, const std::vector<v1::RecordedEvent>& events,
                      const std::function<std::string(const v1::RecordedEvent&)>& value) {
    std::string err;
    std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
    conf->set("bootstrap.servers", bootstrap, err);
    std::unique_ptr<RdKafka::Producer> producer(RdKafka::Producer::create(conf.get(), err));
    ASSERT_TRUE(producer) << err;
    for (const auto& e : events) {
      const std::string v = value(e);
      RdKafka::Headers* headers = RdKafka::Headers::create();
      headers->add(bus::kHeaderGlobalPosition, std::to_string(e.global_position()));
      ASSERT_EQ(producer->produce(kTopic, 0, RdKafka::Producer::RK_MSG_COPY, const_cast<char*>(v.data()), v.size(),
                                  e.case_id().data(), e.case_id().size(), 0, headers, nullptr),
                RdKafka::ERR_NO_ERROR);
    }
    ASSERT_EQ(producer->flush(10000), RdKafka::ERR_NO_ERROR);
  }

  // Whether `engine` has applied every message on the topic: its stored
  // offsets are the end of every partition. Duplicates included, so a test
  // that waits for this has seen them all applied (or skipped).
  static bool ConsumedToTheEnd(const ProjectionEngine& engine, const std::string& bootstrap) {
    return testing::ConsumedToTheEnd(bootstrap, kTopic,
                                     [&](const std::string& cluster_id, int32_t partition) -> std::optional<int64_t> {
                                       auto stored = engine.StoredOffset(cluster_id, KafkaPartition(partition));
                                       if (!stored.ok() || !stored->has_value()) return std::nullopt;
                                       return (*stored)->value();
                                     });
  }

  static constexpr char kTopic[] = "kring.case-events.v1";
  testing::TempDir dir_;
  std::unique_ptr<EventStore> store_;
};

TEST_F(ProjectionTest, HandMadeCohortGivesHandComputedFigures) {
  AddHandMadeCohort();
  auto engine = OpenEngine("model");
  ASSERT_TRUE(engine->CatchUpFromStore().ok());
  const auto r = Query(*engine);
  const auto& s = r.overall();
  // Sizes 3, 5, 8 and 12, five conferences each: n = 20.
  EXPECT_EQ(s.conferences(), 20u);
  EXPECT_DOUBLE_EQ(s.mean(), 7.0);    // (3+5+8+12)/4
  EXPECT_DOUBLE_EQ(s.median(), 6.5);  // rank 9.5: (5+8)/2
  EXPECT_DOUBLE_EQ(s.p10(), 3.0);     // rank 1.9: 3 + 0.9*(3-3)
  EXPECT_DOUBLE_EQ(s.p25(), 4.5);     // rank 4.75: 3 + 0.75*(5-3)
  EXPECT_DOUBLE_EQ(s.p75(), 9.0);     // rank 14.25: 8 + 0.25*(12-8)
  EXPECT_DOUBLE_EQ(s.p90(), 12.0);    // rank 17.1: 12 + 0.1*(12-12)
  EXPECT_DOUBLE_EQ(s.central_persons_mean(), 1.0);
  ASSERT_EQ(s.histogram_size(), 4);
  EXPECT_EQ(s.histogram(0).size(), 3u);
  EXPECT_EQ(s.histogram(0).conferences(), 5u);
  // Friends are every third network member: 1 + 1 + 2 + 4 = 8 of 28, five
  // times.
  ASSERT_EQ(s.composition_size(), 2);
  EXPECT_EQ(s.composition(0).relation(), v1::RELATION_FAMILY);
  EXPECT_EQ(s.composition(0).attendees(), 100u);
  EXPECT_EQ(s.composition(1).relation(), v1::RELATION_FRIEND);
  EXPECT_EQ(s.composition(1).attendees(), 40u);
  EXPECT_DOUBLE_EQ(s.composition(1).mean_per_conference(), 2.0);
  EXPECT_DOUBLE_EQ(s.composition(1).share(), 8.0 / 28.0);
  EXPECT_EQ(r.watermark().events_applied(), store_->Head().value());
  EXPECT_EQ(r.watermark().max_global_position(), store_->Head().value());
}

TEST_F(ProjectionTest, FiltersAndGroups) {
  AddHandMadeCohort();
  auto engine = OpenEngine("model");
  ASSERT_TRUE(engine->CatchUpFromStore().ok());

  v1::NetworkSizeRequest by_domain;
  by_domain.add_domains(v1::DOMAIN_YOUTH_PROTECTION);
  EXPECT_EQ(Query(*engine, by_domain).overall().conferences(), 15u);
  EXPECT_DOUBLE_EQ(Query(*engine, by_domain).overall().mean(), 23.0 / 3);

  v1::NetworkSizeRequest by_place;
  by_place.add_municipality_codes("GM0599");
  EXPECT_DOUBLE_EQ(Query(*engine, by_place).overall().mean(), 8.5);

  v1::NetworkSizeRequest by_period;
  by_period.mutable_conference_period()->set_from("2022-08-15");
  by_period.mutable_conference_period()->set_to("2023-05-15");
  EXPECT_DOUBLE_EQ(Query(*engine, by_period).overall().mean(), 6.5);  // inclusive on both ends

  v1::NetworkSizeRequest by_year;
  by_year.set_group_by(v1::GROUPING_YEAR);
  auto grouped = Query(*engine, by_year);
  ASSERT_EQ(grouped.groups_size(), 2);
  EXPECT_EQ(grouped.groups(0).key(), "2022");
  EXPECT_DOUBLE_EQ(grouped.groups(0).stats().mean(), 4.0);
  EXPECT_EQ(grouped.groups(1).key(), "2023");
  EXPECT_DOUBLE_EQ(grouped.groups(1).stats().mean(), 10.0);

  v1::NetworkSizeRequest by_quarter;
  by_quarter.set_group_by(v1::GROUPING_QUARTER);
  EXPECT_EQ(Query(*engine, by_quarter).groups(3).key(), "2023-Q4");
}

TEST_F(ProjectionTest, RefusesBadFiltersNamingTheField) {
  auto engine = OpenEngine("model");
  v1::NetworkSizeRequest bad_date;
  bad_date.mutable_conference_period()->set_from("2023-13-01");
  auto r = QueryNetworkSize(*engine, bad_date);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("conference_period.from"), std::string::npos);

  v1::NetworkSizeRequest bad_code;
  bad_code.add_municipality_codes("Amsterdam");
  r = QueryNetworkSize(*engine, bad_code);
  EXPECT_NE(r.status().message().find("municipality_codes[0]"), std::string::npos);

  v1::NetworkSizeRequest bad_domain;
  bad_domain.add_domains(v1::DOMAIN_UNSPECIFIED);
  r = QueryNetworkSize(*engine, bad_domain);
  EXPECT_NE(r.status().message().find("domains[0]"), std::string::npos);
}

TEST_F(ProjectionTest, CountsAttendeesOnceAndExcludesCoordinatorAndProfessionals) {
  std::vector<v1::Event> events = {
      CaseReferredEvent(),
      CoordinatorAssignedEvent("coord-1"),
      ParticipantInvitedEvent("mother", v1::RELATION_FAMILY, true),
      ParticipantInvitedEvent("neighbour", v1::RELATION_NEIGHBOUR),
      ParticipantInvitedEvent("teacher", v1::RELATION_PROFESSIONAL),
      ConferenceHeldEvent({"mother", "neighbour", "teacher", "coord-1"}),
  };
  for (int copy = 0; copy < kCopies; ++copy) {
    for (auto& e : events) e.set_event_id(testing::NewUuid());
    ASSERT_TRUE(store_->Append(Batch("case-x" + std::to_string(copy), events)).ok());
  }
  auto engine = OpenEngine("model");
  ASSERT_TRUE(engine->CatchUpFromStore().ok());
  const auto s = Query(*engine).overall();
  EXPECT_DOUBLE_EQ(s.mean(), 2.0);  // mother, neighbour
  ASSERT_EQ(s.composition_size(), 2);
  EXPECT_EQ(s.composition(0).relation(), v1::RELATION_FAMILY);
  EXPECT_EQ(s.composition(1).relation(), v1::RELATION_NEIGHBOUR);
  EXPECT_DOUBLE_EQ(s.central_persons_mean(), 1.0);  // the mother
}

TEST_F(ProjectionTest, CentralPersonsNamedInTheReferralCount) {
  v1::Event referred = CaseReferredEvent();
  referred.mutable_case_referred()->add_central_person_ids("child");
  std::vector<v1::Event> events = {referred, CoordinatorAssignedEvent("coord-1"),
                                   ParticipantInvitedEvent("aunt", v1::RELATION_FAMILY),
                                   ConferenceHeldEvent({"child", "aunt"})};
  for (int copy = 0; copy < kCopies; ++copy) {
    for (auto& e : events) e.set_event_id(testing::NewUuid());
    ASSERT_TRUE(store_->Append(Batch("case-y" + std::to_string(copy), events)).ok());
  }
  auto engine = OpenEngine("model");
  ASSERT_TRUE(engine->CatchUpFromStore().ok());
  const auto s = Query(*engine).overall();
  EXPECT_DOUBLE_EQ(s.mean(), 2.0);
  EXPECT_DOUBLE_EQ(s.central_persons_mean(), 1.0);
}

TEST_F(ProjectionTest, RedeliveringTheSameEventsChangesNothing) {
  AddHandMadeCohort();
  auto engine = OpenEngine("model");
  auto all = store_->ReadAll(GlobalPosition(1), SIZE_MAX).value();
  ASSERT_TRUE(engine->ApplyBatch(all).ok());
  const auto once = Query(*engine);
  ASSERT_TRUE(engine->ApplyBatch(all).ok());
  std::vector<v1::RecordedEvent> reversed(all.rbegin(), all.rend());
  ASSERT_TRUE(engine->ApplyBatch(reversed).ok());
  EXPECT_TRUE(MessageDifferencer::Equals(once, Query(*engine)));
  EXPECT_EQ(engine->watermark().events_applied, all.size());
}

v1::Event Retraction(const v1::Event& target) {
  v1::Event e = testing::EventOn(2024, 2, 1);
  e.mutable_event_retracted()->set_retracted_event_id(target.event_id());
  e.mutable_event_retracted()->set_reason("entered in the wrong case");
  return e;
}

// A second store holding the hand-made cohort and corrections that were
// retracted, against the cohort alone: the same figures, live (event by
// event, with redeliveries) and rebuilt.
TEST_F(ProjectionTest, ARetractedEventCountsAsNeverRecorded) {
  AddHandMadeCohort();
  // case-2: a second conference recorded by mistake, then withdrawn.
  const v1::Event wrong_conference = ConferenceHeldEvent({"case-2-0-p0", "case-2-0-p1"}, 2022, 9, 1);
  ASSERT_TRUE(store_->Append(Batch("case-2-0", {wrong_conference})).ok());
  // case-3: a participant invited by mistake, withdrawn before it counted.
  const v1::Event wrong_invitation = ParticipantInvitedEvent("case-3-0-extra", v1::RELATION_NEIGHBOUR);
  ASSERT_TRUE(store_->Append(Batch("case-3-0", {wrong_invitation})).ok());
  // case-5: a conference whose only attendee's invitation was withdrawn
  // afterwards: the attendee counts as never invited (relation UNSPECIFIED).
  ASSERT_TRUE(store_
                  ->Append(Batch("case-5", {CaseReferredEvent(v1::DOMAIN_HOUSING, "GM0363", 2023, 1, 5),
                                            CoordinatorAssignedEvent("c5-coord", 2023, 1, 6)}))
                  .ok());
  const v1::Event invited = ParticipantInvitedEvent("c5-aunt", v1::RELATION_FAMILY);
  ASSERT_TRUE(store_->Append(Batch("case-5", {invited, ConferenceHeldEvent({"c5-aunt"}, 2023, 4, 1)})).ok());

  auto live = OpenEngine("live");
  auto before = store_->ReadAll(GlobalPosition(1), SIZE_MAX).value();
  ASSERT_TRUE(live->ApplyBatch(before).ok());
  EXPECT_EQ(Query(*live).overall().conferences(), 4u * kCopies + 2);

  ASSERT_TRUE(store_->Append(Batch("case-2-0", {Retraction(wrong_conference)})).ok());
  ASSERT_TRUE(store_->Append(Batch("case-3-0", {Retraction(wrong_invitation)})).ok());
  ASSERT_TRUE(store_->Append(Batch("case-5", {Retraction(invited)})).ok());
  const auto all = store_->ReadAll(GlobalPosition(1), SIZE_MAX).value();
  for (const auto& e : all) ASSERT_TRUE(live->ApplyBatch({e}).ok());
  ASSERT_TRUE(live->ApplyBatch(all).ok());  // redelivered
  auto rebuilt = OpenEngine("rebuilt");
  ASSERT_TRUE(rebuilt->CatchUpFromStore().ok());

  // The same cohort without the withdrawn events.
  testing::TempDir other_dir;
  eventstore::EventStoreOptions options;
  options.path = other_dir.Sub("store");
  auto other = std::move(EventStore::Open(options)).value();
  std::swap(store_, other);
  AddHandMadeCohort();
  ASSERT_TRUE(store_
                  ->Append(Batch("case-5", {CaseReferredEvent(v1::DOMAIN_HOUSING, "GM0363", 2023, 1, 5),
                                            CoordinatorAssignedEvent("c5-coord", 2023, 1, 6)}))
                  .ok());
  // Never invited: the rules would refuse the attendee, so the comparison
  // cohort records the conference through the engine directly.
  auto expected = OpenEngine("expected");
  ASSERT_TRUE(expected->CatchUpFromStore().ok());
  v1::RecordedEvent conference;
  conference.set_case_id("case-5");
  conference.set_stream_version(3);
  conference.set_global_position(store_->Head().value() + 1);
  *conference.mutable_event() = ConferenceHeldEvent({"c5-aunt"}, 2023, 4, 1);
  ASSERT_TRUE(expected->ApplyBatch({conference}).ok());
  std::swap(store_, other);

  for (const v1::Grouping grouping : {v1::GROUPING_UNSPECIFIED, v1::GROUPING_DOMAIN, v1::GROUPING_YEAR}) {
    v1::NetworkSizeRequest request;
    request.set_group_by(grouping);
    auto want = Query(*expected, request);
    auto got_live = Query(*live, request);
    auto got_rebuilt = Query(*rebuilt, request);
    for (auto* r : {&want, &got_live, &got_rebuilt}) r->clear_watermark();
    EXPECT_TRUE(MessageDifferencer::Equals(want, got_live)) << want.DebugString() << got_live.DebugString();
    EXPECT_TRUE(MessageDifferencer::Equals(want, got_rebuilt)) << got_rebuilt.DebugString();
  }
  EXPECT_EQ(Query(*live).overall().conferences(), 4u * kCopies + 1);
  EXPECT_EQ(live->watermark().events_applied, all.size());
}

TEST_F(ProjectionTest, FillsAVersionGapFromTheStore) {
  AddHandMadeCohort();
  auto engine = OpenEngine("model");
  // Deliver only each case's last event (its ConferenceHeld).
  std::vector<v1::RecordedEvent> lasts;
  const auto all = store_->ReadAll(GlobalPosition(1), SIZE_MAX).value();
  for (const auto& e : all) {
    if (e.event().has_conference_held()) lasts.push_back(e);
  }
  ASSERT_TRUE(engine->ApplyBatch(lasts).ok());
  auto rebuilt = OpenEngine("rebuilt");
  ASSERT_TRUE(rebuilt->CatchUpFromStore().ok());
  EXPECT_TRUE(MessageDifferencer::Equals(Query(*engine), Query(*rebuilt)));
  EXPECT_EQ(Query(*engine).overall().conferences(), 4u * kCopies);
}

// A message damaged on the topic is replaced by the original from the store,
// found through its global-position header. The store fallback is off: it
// would otherwise fill the damaged events in after a while, whether or not
// the header path works.
TEST_F(ProjectionTest, ADamagedMessageIsReadFromTheStoreByItsPositionHeader) {
  AddHandMadeCohort();
  auto kafka = std::move(bus::EmbeddedKafka::Start(1, kTopic, 1)).value();
  const auto all = store_->ReadAll(GlobalPosition(1), SIZE_MAX).value();
  // Every case's last event (its ConferenceHeld) arrives as garbage.
  Produce(kafka->bootstrap(), all, [](const v1::RecordedEvent& e) {
    return e.event().has_conference_held() ? std::string("\xff\xff garbage") : e.SerializeAsString();
  });

  auto worker = OpenEngine("live", kafka->bootstrap(), /*fill_from_store=*/false);
  worker->StartConsumer();
  ASSERT_TRUE(testing::WaitFor([&] { return ConsumedToTheEnd(*worker, kafka->bootstrap()); }));
  worker->StopConsumer();
  EXPECT_EQ(worker->watermark().events_applied, all.size());
  EXPECT_EQ(Query(*worker).overall().conferences(), 4u * kCopies);
}

// The consumer and the librdkafka threads it starts run under SCHED_IDLE
// (ProjectionOptions::idle), so that an append thread waking takes the core
// from them at once; with idle off, at niceness 19 (ProjectionOptions::nice).
// The embedded cluster's threads, started by this test's thread, do neither.
TEST_F(ProjectionTest, TheConsumerAndItsKafkaThreadsRunUnderSchedIdleOrAtNiceness19) {
  AddHandMadeCohort();
  auto kafka = std::move(bus::EmbeddedKafka::Start(1, kTopic, 1)).value();
  const auto all = store_->ReadAll(GlobalPosition(1), SIZE_MAX).value();
  Produce(kafka->bootstrap(), all, [](const v1::RecordedEvent& e) { return e.SerializeAsString(); });
  for (const bool idle : {true, false}) {
    SCOPED_TRACE(idle ? "idle" : "niceness 19");
    auto worker = OpenEngine(idle ? "idle" : "nice", kafka->bootstrap(), /*fill_from_store=*/false,
                             [&](ProjectionOptions& o) { o.idle = idle; });
    worker->StartConsumer();
    ASSERT_TRUE(testing::WaitFor([&] { return ConsumedToTheEnd(*worker, kafka->bootstrap()); }));
    auto nice = testing::ThreadNiceness();
    auto policy = testing::ThreadPolicies();
    worker->StopConsumer();
    const int expected_policy = idle ? SCHED_IDLE : SCHED_OTHER;
    EXPECT_EQ(policy["kring-project"], std::multiset<int>({expected_policy}));
    EXPECT_EQ(policy["rdk:main"].count(SCHED_IDLE), idle ? 1u : 0u) << "the consumer's main thread";
    EXPECT_GE(policy["rdk:main"].count(SCHED_OTHER), 1u) << "the embedded cluster's";
    if (!idle) {
      EXPECT_EQ(nice["kring-project"], std::multiset<int>({19}));
      EXPECT_EQ(nice["rdk:main"].count(19), 1u) << "the consumer's main thread";
    }
    EXPECT_GE(nice["rdk:main"].count(0), 1u) << "the embedded cluster's";
    EXPECT_EQ(worker->watermark().events_applied, all.size());
  }
}

// The store fallback on its own: a topic that lost the messages of some cases
// (a hole) and never got the last ones (lag). Without the fallback, the
// worker holds exactly what Kafka delivered; reopened with it, the same worker
// (its offsets at the end of the topic, so Kafka has nothing more for it)
// fills the rest from the store and ends equal to a clean rebuild.
TEST_F(ProjectionTest, WhatKafkaNeverDeliveredIsFilledFromTheStore) {
  AddHandMadeCohort();
  auto kafka = std::move(bus::EmbeddedKafka::Start(1, kTopic, 1)).value();
  const auto all = store_->ReadAll(GlobalPosition(1), SIZE_MAX).value();
  std::vector<v1::RecordedEvent> delivered;
  for (const auto& e : all) {
    const bool lost = e.case_id().rfind("case-2-", 0) == 0 || e.case_id() == "case-4-4";  // case-4-4 is last
    if (!lost) delivered.push_back(e);
  }
  ASSERT_LT(delivered.size(), all.size());
  Produce(kafka->bootstrap(), delivered, [](const v1::RecordedEvent& e) { return e.SerializeAsString(); });

  auto worker = OpenEngine("worker", kafka->bootstrap(), /*fill_from_store=*/false);
  worker->StartConsumer();
  ASSERT_TRUE(testing::WaitFor([&] { return ConsumedToTheEnd(*worker, kafka->bootstrap()); }));
  worker->StopConsumer();
  EXPECT_EQ(worker->watermark().events_applied, delivered.size());
  EXPECT_EQ(worker->watermark().max_global_position, delivered.back().global_position());
  EXPECT_EQ(Query(*worker).overall().conferences(), 3u * kCopies - 1);
  worker.reset();

  worker = OpenEngine("worker", kafka->bootstrap(), /*fill_from_store=*/true);
  worker->StartConsumer();
  ASSERT_TRUE(testing::WaitFor([&] { return worker->watermark().events_applied == all.size(); }))
      << "applied " << worker->watermark().events_applied << " of " << all.size();
  worker->StopConsumer();
  auto rebuilt = OpenEngine("rebuilt");
  ASSERT_TRUE(rebuilt->CatchUpFromStore().ok());
  EXPECT_TRUE(MessageDifferencer::Equals(Query(*worker), Query(*rebuilt)));
  EXPECT_EQ(Query(*worker).overall().conferences(), 4u * kCopies);
}

// The fallback also covers a Kafka path that delivers nothing at all (a
// topic never published to): the read model converges from the store.
TEST_F(ProjectionTest, AWorkerOnAnEmptyTopicConvergesFromTheStore) {
  AddHandMadeCohort();
  auto kafka = std::move(bus::EmbeddedKafka::Start(1, kTopic, 3)).value();
  auto worker = OpenEngine("live", kafka->bootstrap(), /*fill_from_store=*/true);
  worker->StartConsumer();
  const uint64_t head = store_->Head().value();
  ASSERT_TRUE(testing::WaitFor([&] { return worker->watermark().events_applied == head; }))
      << "applied " << worker->watermark().events_applied << " of " << head;
  worker->StopConsumer();
  EXPECT_EQ(Query(*worker).overall().conferences(), 4u * kCopies);
}

// Through the embedded Kafka cluster: a worker stopped mid-stream and a new
// one started on its store, while the relay republishes everything from the
// start (as after a restart of the embedded cluster), ends equal to a clean
// rebuild from the store.
// The store fallback is off, so the worker has only Kafka to go by.
TEST_F(ProjectionTest, RestartedWorkerUnderRepublishingEqualsCleanRebuild) {
  auto kafka = std::move(bus::EmbeddedKafka::Start(1, kTopic, 6)).value();
  bus::RelayOptions relay_options;
  relay_options.kafka.bootstrap = kafka->bootstrap();
  auto relay = std::move(bus::OutboxRelay::Start(store_.get(), relay_options)).value();

  for (int i = 0; i < 60; ++i) {
    AddCase("a-" + std::to_string(i), 2 + i % 17, v1::DOMAIN_YOUTH_PROTECTION, "GM0363", 2021 + i % 3, 1 + i % 12);
  }
  {
    auto worker = OpenEngine("live", kafka->bootstrap(), /*fill_from_store=*/false);
    worker->StartConsumer();
    ASSERT_TRUE(testing::WaitFor([&] { return worker->watermark().events_applied > 0; }));
  }  // stopped, possibly mid-stream
  for (int i = 0; i < 60; ++i) {
    AddCase("b-" + std::to_string(i), 4 + i % 13, v1::DOMAIN_HOUSING, "GM0599", 2022 + i % 2, 1 + i % 12);
  }
  ASSERT_TRUE(relay->Flush(std::chrono::seconds(30)));
  relay.reset();
  relay_options.republish_from_start = true;  // every event a second time
  relay = std::move(bus::OutboxRelay::Start(store_.get(), relay_options)).value();
  ASSERT_TRUE(relay->Flush(std::chrono::seconds(30)));

  auto worker = OpenEngine("live", kafka->bootstrap(), /*fill_from_store=*/false);
  worker->StartConsumer();
  const uint64_t head = store_->Head().value();
  // Every message, duplicates included, applied or skipped.
  ASSERT_TRUE(testing::WaitFor([&] { return ConsumedToTheEnd(*worker, kafka->bootstrap()); }))
      << "applied " << worker->watermark().events_applied << " of " << head;
  worker->StopConsumer();
  EXPECT_EQ(worker->watermark().events_applied, head);

  auto rebuilt = OpenEngine("rebuilt");
  ASSERT_TRUE(rebuilt->CatchUpFromStore().ok());
  v1::NetworkSizeRequest by_year;
  by_year.set_group_by(v1::GROUPING_YEAR);
  EXPECT_TRUE(MessageDifferencer::Equals(Query(*worker, by_year), Query(*rebuilt, by_year)));
  EXPECT_EQ(Query(*worker).overall().conferences(), 120u);
}

}  // namespace
}  // namespace kring::projections
