#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <map>
#include <set>
#include <thread>

#include "eventstore/event_store.h"
#include "tests/testing/test_support.h"

namespace kring::eventstore {
namespace {

using kring::testing::Batch;
using kring::testing::MoreEvents;
using kring::testing::SomeEvents;
using kring::testing::TempDir;

class EventStoreTest : public ::testing::Test {
 protected:
  std::unique_ptr<EventStore> OpenStore() {
    EventStoreOptions options;
    options.path = dir_.Sub("store");
    auto store = EventStore::Open(options);
    EXPECT_TRUE(store.ok()) << store.status();
    return std::move(store).value();
  }
  TempDir dir_;
};

TEST_F(EventStoreTest, AssignsGaplessVersionsAndPositions) {
  auto store = OpenStore();
  auto a = store->Append(Batch("case-a", SomeEvents(3), ExpectedVersion::NoStream()));
  ASSERT_TRUE(a.ok()) << a.status();
  auto b = store->Append(Batch("case-b", SomeEvents(2)));
  ASSERT_TRUE(b.ok()) << b.status();
  auto c = store->Append(Batch("case-a", MoreEvents(1), ExpectedVersion::Exact(3)));
  ASSERT_TRUE(c.ok()) << c.status();

  EXPECT_EQ(a->first_version.value(), 1u);
  EXPECT_EQ(a->last_version.value(), 3u);
  EXPECT_EQ(a->first_position.value(), 1u);
  EXPECT_EQ(b->first_position.value(), 4u);
  EXPECT_EQ(c->first_version.value(), 4u);
  EXPECT_EQ(c->last_position.value(), 6u);
  EXPECT_EQ(store->Head().value(), 6u);

  auto events = store->ReadCase(CaseId("case-a"), StreamVersion(1));
  ASSERT_TRUE(events.ok());
  ASSERT_EQ(events->size(), 4u);
  for (size_t i = 0; i < events->size(); ++i) {
    EXPECT_EQ((*events)[i].stream_version(), i + 1);
    EXPECT_EQ((*events)[i].case_id(), "case-a");
    EXPECT_EQ((*events)[i].source(), "test-partner");
    EXPECT_TRUE((*events)[i].has_recorded_at());
  }
  EXPECT_EQ((*events)[3].global_position(), 6u);

  // Reads that start inside a batch, span batches, stop at a count, and do
  // not run into a case whose id extends this one.
  ASSERT_TRUE(store->Append(Batch("case-ab", SomeEvents(2))).ok());
  auto middle = store->ReadCase(CaseId("case-a"), StreamVersion(2));
  ASSERT_EQ(middle->size(), 3u);
  EXPECT_EQ((*middle)[0].stream_version(), 2u);
  EXPECT_EQ((*middle)[2].stream_version(), 4u);
  auto one = store->ReadCase(CaseId("case-a"), StreamVersion(3), 1);
  ASSERT_EQ(one->size(), 1u);
  EXPECT_EQ((*one)[0].stream_version(), 3u);
  EXPECT_EQ((*one)[0].global_position(), 3u);
  EXPECT_TRUE(store->ReadCase(CaseId("case-a"), StreamVersion(5))->empty());
  EXPECT_TRUE(store->ReadCase(CaseId("case-zz"), StreamVersion(1))->empty());
  EXPECT_EQ(store->ReadCase(CaseId("case-b"), StreamVersion(0))->size(), 2u);

  auto all = store->ReadAll(GlobalPosition(2), 5);
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 5u);
  for (size_t i = 0; i < all->size(); ++i) EXPECT_EQ((*all)[i].global_position(), i + 2);
}

TEST_F(EventStoreTest, RejectsStaleExpectedVersionWithCurrentVersion) {
  auto store = OpenStore();
  ASSERT_TRUE(store->Append(Batch("case-a", SomeEvents(2))).ok());
  auto stale = store->Append(Batch("case-a", SomeEvents(1), ExpectedVersion::Exact(1)));
  ASSERT_FALSE(stale.ok());
  EXPECT_EQ(stale.status().code(), absl::StatusCode::kAborted);
  EXPECT_NE(stale.status().message().find("current_version=2"), std::string::npos) << stale.status();

  auto exists = store->Append(Batch("case-a", SomeEvents(1), ExpectedVersion::NoStream()));
  EXPECT_EQ(exists.status().code(), absl::StatusCode::kAborted);
  EXPECT_EQ(store->Head().value(), 2u);
}

// A partner refused a case learns nothing about it: access is checked before
// the expected version and before idempotency, and every refusal carries the
// same message (no version, no positions). Replaying another partner's batch
// is refused too, also by a partner granted access to the case.
TEST_F(EventStoreTest, PartnerRefusedACaseLearnsNeitherItsVersionNorItsPositions) {
  auto store = OpenStore();
  auto as = [](const std::string& partner, const std::string& case_id, std::vector<v1::Event> events,
               ExpectedVersion expected = ExpectedVersion::Any()) {
    AppendBatch b = Batch(case_id, std::move(events), expected);
    b.source = partner;
    b.own_cases_only = true;
    return b;
  };
  ASSERT_TRUE(store->Append(as("partner-a", "case-x", SomeEvents(1))).ok());  // moves the head past 1
  const auto a_events = SomeEvents(3);
  auto original = store->Append(as("partner-a", "case-a", a_events));
  ASSERT_TRUE(original.ok()) << original.status();

  const std::string refusal = "case_id: partner partner-b neither referred this case nor was granted access to it";
  const std::vector<AppendBatch> attempts = {
      as("partner-b", "case-a", MoreEvents(1), ExpectedVersion::Exact(1)),  // stale version
      as("partner-b", "case-a", MoreEvents(1), ExpectedVersion::Exact(3)),  // right version
      as("partner-b", "case-a", MoreEvents(1), ExpectedVersion::NoStream()),
      as("partner-b", "case-a", MoreEvents(1)),
      as("partner-b", "case-a", a_events),  // a replay of partner-a's batch
      as("partner-b", "case-a", a_events, ExpectedVersion::NoStream()),
  };
  for (const auto& attempt : attempts) {
    auto r = store->Append(attempt);
    ASSERT_FALSE(r.ok()) << "a partner without access got positions " << r->first_position.value();
    EXPECT_EQ(r.status().code(), absl::StatusCode::kPermissionDenied) << r.status();
    EXPECT_EQ(r.status().message(), refusal);
  }
  // The owner's own retry is still answered with its positions.
  auto retry = store->Append(as("partner-a", "case-a", a_events));
  ASSERT_TRUE(retry.ok()) << retry.status();
  EXPECT_TRUE(retry->already_recorded);
  EXPECT_EQ(retry->first_position, original->first_position);

  // A partner granted access may append, but not replay the referrer's batch.
  v1::Event grant = kring::testing::EventOn(2023, 2, 1);
  grant.mutable_case_access_granted()->set_partner("partner-b");
  ASSERT_TRUE(store->Append(as("partner-a", "case-a", {grant})).ok());
  auto replay = store->Append(as("partner-b", "case-a", a_events));
  ASSERT_FALSE(replay.ok()) << "replaying another partner's batch returned its positions";
  EXPECT_EQ(replay.status().code(), absl::StatusCode::kPermissionDenied) << replay.status();
  EXPECT_NE(replay.status().message().find("recorded by another partner"), std::string::npos) << replay.status();
  EXPECT_TRUE(store->Append(as("partner-b", "case-a", MoreEvents(1))).ok());
  EXPECT_EQ(store->Head().value(), 6u);
}

TEST_F(EventStoreTest, RetriedBatchReturnsOriginalPositionsAlsoAfterReopen) {
  auto events = SomeEvents(3);
  AppendOutcome first;
  {
    auto store = OpenStore();
    ASSERT_TRUE(store->Append(Batch("case-x", SomeEvents(2))).ok());
    auto r = store->Append(Batch("case-a", events, ExpectedVersion::NoStream()));
    ASSERT_TRUE(r.ok()) << r.status();
    first = *r;
    // A retry in the same session, even with an expectation that is stale now.
    auto again = store->Append(Batch("case-a", events, ExpectedVersion::NoStream()));
    ASSERT_TRUE(again.ok()) << again.status();
    EXPECT_TRUE(again->already_recorded);
    EXPECT_EQ(again->first_position, first.first_position);
    EXPECT_EQ(again->last_position, first.last_position);
    EXPECT_EQ(store->Head().value(), 5u);
  }
  auto store = OpenStore();
  auto retried = store->Append(Batch("case-a", events, ExpectedVersion::NoStream()));
  ASSERT_TRUE(retried.ok()) << retried.status();
  EXPECT_TRUE(retried->already_recorded);
  EXPECT_EQ(retried->first_position, first.first_position);
  EXPECT_EQ(retried->last_position, first.last_position);
  EXPECT_EQ(retried->first_version, first.first_version);
  EXPECT_EQ(retried->last_version, first.last_version);
  EXPECT_EQ(store->Head().value(), 5u);
  EXPECT_EQ(store->ReadAll(GlobalPosition(1), 100)->size(), 5u);
}

TEST_F(EventStoreTest, RefusesBatchMixingRecordedAndNewEvents) {
  auto store = OpenStore();
  auto events = SomeEvents(2);
  ASSERT_TRUE(store->Append(Batch("case-a", events)).ok());
  auto mixed = events;
  mixed.push_back(kring::testing::CaseReferredEvent());
  auto r = store->Append(Batch("case-a", mixed));
  EXPECT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(r.status().message().find("events[0].event_id"), std::string::npos) << r.status();
  auto other_case = store->Append(Batch("case-b", events));
  EXPECT_EQ(other_case.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(store->Head().value(), 2u);
}

TEST_F(EventStoreTest, RefusesAnEventIdReusedForDifferentContent) {
  auto store = OpenStore();
  auto events = SomeEvents(2);
  ASSERT_TRUE(store->Append(Batch("case-a", events)).ok());
  auto changed = events;
  changed[1].mutable_cost_recorded()->set_amount_cents(123);
  auto r = store->Append(Batch("case-a", changed));
  EXPECT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(r.status().message().find("events[1].event_id"), std::string::npos) << r.status();
  EXPECT_NE(r.status().message().find("different content"), std::string::npos) << r.status();
  EXPECT_EQ(store->Head().value(), 2u);
}

TEST_F(EventStoreTest, ConcurrentIdenticalRetriesGetTheSamePositions) {
  auto store = OpenStore();
  const auto events = SomeEvents(3);
  std::vector<std::thread> threads;
  std::vector<absl::StatusOr<AppendOutcome>> results(6, absl::UnknownError("not run"));
  for (int t = 0; t < 6; ++t) {
    threads.emplace_back([&, t] { results[t] = store->Append(Batch("case-a", events)); });
  }
  for (auto& th : threads) th.join();
  int fresh = 0;
  for (const auto& r : results) {
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->first_position.value(), 1u);
    EXPECT_EQ(r->last_position.value(), 3u);
    fresh += !r->already_recorded;
  }
  EXPECT_EQ(fresh, 1);
  EXPECT_EQ(store->Head().value(), 3u);
}

TEST_F(EventStoreTest, BatchWithOneBadEventStoresNothing) {
  auto store = OpenStore();
  auto events = SomeEvents(5);
  events[3].set_event_id("not-a-uuid");
  auto r = store->Append(Batch("case-a", events));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("events[3].event_id"), std::string::npos) << r.status();

  events = SomeEvents(4);
  events[2].clear_occurred_at();
  r = store->Append(Batch("case-a", events));
  EXPECT_NE(r.status().message().find("events[2].occurred_at"), std::string::npos) << r.status();

  events = SomeEvents(2);
  events[1] = events[0];
  r = store->Append(Batch("case-a", events));
  EXPECT_NE(r.status().message().find("events[1].event_id"), std::string::npos) << r.status();

  events = SomeEvents(3);
  events[2].set_event_id("123E4567-E89B-42D3-A456-426614174000");
  r = store->Append(Batch("case-a", events));
  EXPECT_NE(r.status().message().find("events[2].event_id: must be a UUID in lowercase"), std::string::npos)
      << r.status();

  EXPECT_EQ(store->Head().value(), 0u);
  EXPECT_EQ(store->CaseVersion(CaseId("case-a"))->value(), 0u);
  EXPECT_TRUE(store->ReadAll(GlobalPosition(1), 10)->empty());
}

TEST_F(EventStoreTest, RefusesOversizeBatchAsResourceExhausted) {
  auto store = OpenStore();
  auto r = store->Append(Batch("case-a", SomeEvents(1001)));
  EXPECT_EQ(r.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(store->Head().value(), 0u);
}

TEST_F(EventStoreTest, PositionsStayGaplessUnderEightConcurrentAppenders) {
  auto store = OpenStore();
  constexpr int kThreads = 8, kBatches = 200;
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  ASSERT_TRUE(store->Append(Batch("hot-case", SomeEvents(1))).ok());
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kBatches; ++i) {
        // Half the threads share one hot case, racing on "any".
        const std::string case_id = t % 2 ? "hot-case" : "case-" + std::to_string(t) + "-" + std::to_string(i % 7);
        const size_t n = 1 + i % 3;
        if (!store->Append(Batch(case_id, t % 2 || i >= 7 ? MoreEvents(n) : SomeEvents(n))).ok()) failures++;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);

  auto all = store->ReadAll(GlobalPosition(1), SIZE_MAX);
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), store->Head().value());
  std::map<std::string, uint64_t> versions;
  for (size_t i = 0; i < all->size(); ++i) {
    const auto& e = (*all)[i];
    EXPECT_EQ(e.global_position(), i + 1);
    EXPECT_EQ(e.stream_version(), ++versions[e.case_id()]) << e.case_id();
  }
}

// A child process appends as fast as it can and reports each acknowledged
// batch on a pipe; the parent kills it with SIGKILL mid-stream and checks
// that every acknowledged event is in the reopened store.
TEST_F(EventStoreTest, SigkillLosesNoAcknowledgedEvent) {
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  const std::string path = dir_.Sub("store");
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    close(fds[0]);
    EventStoreOptions options;
    options.path = path;
    auto store = EventStore::Open(options);
    if (!store.ok()) _exit(2);
    std::vector<std::thread> writers;
    std::mutex pipe_mu;
    for (int t = 0; t < 4; ++t) {
      writers.emplace_back([&, t] {
        for (int i = 0;; ++i) {
          auto events = i < 50 ? SomeEvents(1 + i % 4) : MoreEvents(1 + i % 4);
          auto r = (*store)->Append(Batch("case-" + std::to_string(t) + "-" + std::to_string(i % 50), events));
          if (!r.ok()) _exit(3);
          std::lock_guard<std::mutex> lock(pipe_mu);
          for (const auto& e : events) {
            std::string line = e.event_id() + "\n";
            if (write(fds[1], line.data(), line.size()) < 0) _exit(4);
          }
        }
      });
    }
    for (auto& w : writers) w.join();
    _exit(0);
  }
  close(fds[1]);
  std::set<std::string> acknowledged;
  std::string buffer;
  char chunk[4096];
  while (acknowledged.size() < 3000) {
    ssize_t n = read(fds[0], chunk, sizeof(chunk));
    ASSERT_GT(n, 0) << "child stopped early";
    buffer.append(chunk, n);
    size_t nl;
    while ((nl = buffer.find('\n')) != std::string::npos) {
      acknowledged.insert(buffer.substr(0, nl));
      buffer.erase(0, nl + 1);
    }
  }
  kill(child, SIGKILL);
  int status = 0;
  waitpid(child, &status, 0);
  ASSERT_TRUE(WIFSIGNALED(status));
  // Acknowledgements already in the pipe when the child died count too.
  ssize_t n;
  while ((n = read(fds[0], chunk, sizeof(chunk))) > 0) buffer.append(chunk, n);
  size_t nl;
  while ((nl = buffer.find('\n')) != std::string::npos) {
    acknowledged.insert(buffer.substr(0, nl));
    buffer.erase(0, nl + 1);
  }
  close(fds[0]);

  auto store = OpenStore();
  auto all = store->ReadAll(GlobalPosition(1), SIZE_MAX);
  ASSERT_TRUE(all.ok());
  std::set<std::string> stored;
  for (size_t i = 0; i < all->size(); ++i) {
    EXPECT_EQ((*all)[i].global_position(), i + 1);
    stored.insert((*all)[i].event().event_id());
  }
  EXPECT_GE(stored.size(), acknowledged.size());
  for (const auto& id : acknowledged) ASSERT_TRUE(stored.count(id)) << "acknowledged event lost: " << id;
}

// Schema evolution: an older payload version is upcast when read; the stored
// bytes stay as they were sent.
TEST_F(EventStoreTest, UpcastsAnOlderPayloadVersionOnRead) {
  // A hypothetical first version of CostRecorded counted whole euros.
  Upcasters upcasters;
  upcasters.Register(v1::Event::kCostRecorded, 1, [](v1::Event& e) {
    e.mutable_cost_recorded()->set_amount_cents(e.cost_recorded().amount_cents() * 100);
    return absl::OkStatus();
  });
  EventStoreOptions options;
  options.path = dir_.Sub("store");
  options.upcasters = &upcasters;
  auto store = std::move(EventStore::Open(options)).value();
  v1::Event old = kring::testing::CostRecordedEvent(4000);
  old.set_payload_version(1);
  v1::Event current = kring::testing::CostRecordedEvent(400000);
  current.set_payload_version(2);
  ASSERT_TRUE(store->Append(Batch("case-a", {kring::testing::CaseReferredEvent(), old, current})).ok());

  auto read = store->ReadCase(CaseId("case-a"), StreamVersion(2));
  ASSERT_TRUE(read.ok()) << read.status();
  for (const auto& e : *read) {
    EXPECT_EQ(e.event().payload_version(), 2u);
    EXPECT_EQ(e.event().cost_recorded().amount_cents(), 400000);
  }
  ASSERT_TRUE(store
                  ->ScanAll(GlobalPosition(2), GlobalPosition(2),
                            [&](const v1::RecordedEvent& e, std::string_view stored) {
                              EXPECT_EQ(e.event().cost_recorded().amount_cents(), 400000);
                              v1::RecordedEvent raw;
                              EXPECT_TRUE(raw.ParseFromArray(stored.data(), static_cast<int>(stored.size())));
                              EXPECT_EQ(raw.event().payload_version(), 1u);
                              EXPECT_EQ(raw.event().cost_recorded().amount_cents(), 4000);
                              return true;
                            })
                  .ok());
  EXPECT_TRUE(Upcasters::Current().empty()) << "document the new payload version in docs/schema-evolution.md";
}

TEST_F(EventStoreTest, OutboxHoldsEverythingUntilMarkedPublished) {
  auto store = OpenStore();
  ASSERT_TRUE(store->Append(Batch("case-a", SomeEvents(5))).ok());
  EXPECT_EQ(store->FirstUnpublished("cluster-a")->value(), 1u);
  ASSERT_TRUE(store->MarkPublished("cluster-a", GlobalPosition(3)).ok());
  EXPECT_EQ(store->FirstUnpublished("cluster-a")->value(), 4u);
  ASSERT_TRUE(store->MarkPublished("cluster-a", GlobalPosition(2)).ok());  // never moves back
  EXPECT_EQ(store->FirstUnpublished("cluster-a")->value(), 4u);
  ASSERT_TRUE(store->MarkPublished("cluster-a", GlobalPosition(5)).ok());
  EXPECT_EQ(store->FirstUnpublished("cluster-a")->value(), 6u);
  EXPECT_FALSE(store->MarkPublished("cluster-a", GlobalPosition(6)).ok()) << "beyond the head";
  // Another cluster has received nothing yet.
  EXPECT_EQ(store->FirstUnpublished("cluster-b")->value(), 1u);
}

TEST_F(EventStoreTest, CloseFinishesQueuedBatchesThenRefuses) {
  auto store = OpenStore();
  std::atomic<int> done{0};
  for (int i = 0; i < 50; ++i) {
    store->AppendAsync(Batch("case-a", i == 0 ? SomeEvents(2) : MoreEvents(2)), [&](absl::StatusOr<AppendOutcome> r) {
      EXPECT_TRUE(r.ok()) << r.status();
      done++;
    });
  }
  store->Close();
  EXPECT_EQ(done.load(), 50);
  auto after = store->Append(Batch("case-a", SomeEvents(1)));
  EXPECT_EQ(after.status().code(), absl::StatusCode::kUnavailable);
  auto reopened = OpenStore();
  EXPECT_EQ(reopened->Head().value(), 100u);
}

}  // namespace
}  // namespace kring::eventstore
