// Rebuilding read models from the store (issue 13, "Speed: Rebuild"): the
// shared, copy-free catch-up (CatchUpFromStore(engines, store, …)) against
// the per-model path it replaces (every event copied and applied with
// ApplyBatch, "v:" versions and the watermark written per batch — what the
// Kafka consumer still does), on a synthetic cohort with retractions and
// erasures, interleaved in the log.
#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "eventstore/event_store.h"
#include "projections/engine.h"
#include "projections/funnel.h"
#include "projections/network_size.h"
#include "projections/outcomes.h"
#include "projections/read_model.h"
#include "projections/replay.h"
#include "projections/support.h"
#include "synth/cohort.h"
#include "tests/testing/cell_key_testing.h"
#include "tests/testing/test_support.h"

namespace kring {
namespace {

using eventstore::EventStore;
using projections::ProjectionEngine;
using projections::ProjectionFactory;
using testing::Batch;

struct Model {
  std::string name;
  ProjectionFactory factory;
  // Text of the answers to a few queries (the watermark included).
  std::function<std::vector<std::string>(const ProjectionEngine&)> answers;
};

template <typename Response>
std::string Answer(const absl::StatusOr<Response>& r) {
  EXPECT_TRUE(r.ok()) << r.status();
  return r.ok() ? r->DebugString() : "error: " + r.status().ToString();
}

template <typename Request>
std::vector<Request> Requests() {
  std::vector<Request> out;
  for (v1::Grouping g : {v1::GROUPING_UNSPECIFIED, v1::GROUPING_YEAR, v1::GROUPING_MUNICIPALITY}) {
    Request r;
    r.set_group_by(g);
    r.mutable_disclosure()->set_min_cell_size(5);
    out.push_back(r);
  }
  return out;
}

std::vector<Model> Models() {
  return {
      {"network-size",
       [] { return std::make_unique<projections::NetworkSizeProjection>(kring::testing::TestCellKeySecret()); },
       [](const ProjectionEngine& e) {
         std::vector<std::string> out;
         for (const auto& r : Requests<v1::NetworkSizeRequest>()) out.push_back(Answer(QueryNetworkSize(e, r)));
         return out;
       }},
      {"outcomes",
       [] { return std::make_unique<projections::OutcomesProjection>(kring::testing::TestCellKeySecret()); },
       [](const ProjectionEngine& e) {
         std::vector<std::string> out;
         for (const auto& r : Requests<v1::OutcomesRequest>()) out.push_back(Answer(QueryOutcomes(e, r)));
         for (const auto& r : Requests<v1::CostBenefitRequest>()) out.push_back(Answer(QueryCostBenefit(e, r)));
         return out;
       }},
      {"funnel", [] { return std::make_unique<projections::FunnelProjection>(kring::testing::TestCellKeySecret()); },
       [](const ProjectionEngine& e) {
         std::vector<std::string> out;
         for (const auto& r : Requests<v1::FunnelRequest>()) out.push_back(Answer(QueryFunnel(e, r)));
         return out;
       }},
      {"support", [] { return std::make_unique<projections::SupportProjection>(kring::testing::TestCellKeySecret()); },
       [](const ProjectionEngine& e) {
         std::vector<std::string> out;
         for (const auto& r : Requests<v1::SupportRequest>()) out.push_back(Answer(QuerySupport(e, r)));
         return out;
       }},
  };
}

// Everything a model stored, its watermark and its answers.
struct Snapshot {
  std::map<std::string, std::string> stored;
  uint64_t events_applied = 0;
  uint64_t max_position = 0;
  std::vector<std::string> answers;
  bool operator==(const Snapshot& o) const {
    return stored == o.stored && events_applied == o.events_applied && max_position == o.max_position &&
           answers == o.answers;
  }
};

// Where two snapshots differ first, for the failure message.
std::string FirstDifference(const Snapshot& a, const Snapshot& b) {
  if (a.events_applied != b.events_applied || a.max_position != b.max_position) {
    return "watermark " + std::to_string(a.events_applied) + "/" + std::to_string(a.max_position) + " vs " +
           std::to_string(b.events_applied) + "/" + std::to_string(b.max_position);
  }
  for (auto i = a.stored.begin(), j = b.stored.begin(); i != a.stored.end() || j != b.stored.end(); ++i, ++j) {
    if (i == a.stored.end() || j == b.stored.end() || i->first != j->first) {
      return "stored keys differ at " + (i == a.stored.end() ? std::string("(end)") : i->first);
    }
    if (i->second != j->second) return "stored value of " + i->first + " differs";
  }
  for (size_t k = 0; k < a.answers.size() && k < b.answers.size(); ++k) {
    if (a.answers[k] != b.answers[k])
      return "answer " + std::to_string(k) + ":\n" + a.answers[k] + "\nvs\n" + b.answers[k];
  }
  return a.answers.size() == b.answers.size() ? "" : "number of answers";
}

Snapshot Take(const ProjectionEngine& engine, const Model& model) {
  Snapshot s;
  EXPECT_TRUE(engine.ScanModel("", [&](std::string_view k, std::string_view v) { s.stored[std::string(k)] = v; }).ok());
  s.events_applied = engine.watermark().events_applied;
  s.max_position = engine.watermark().max_global_position;
  s.answers = model.answers(engine);
  return s;
}

class RebuildTest : public ::testing::Test {
 protected:
  void SetUp() override {
    eventstore::EventStoreOptions options;
    options.path = dir_.Sub("store");
    options.sync = false;  // figures, not durability, are tested here
    store_ = EventStore::Open(options).value();
    AppendCohort();
    head_ = store_->Head().value();
    all_ = store_->ReadAll(GlobalPosition(1), SIZE_MAX).value();
    ASSERT_EQ(all_.size(), head_);
    for (const Model& m : models_) {
      auto engine = Open("reference-" + m.name, m);
      // The per-model path: copies, ApplyBatch, versions per batch.
      for (size_t begin = 0; begin < all_.size(); begin += 700) {
        const size_t end = std::min(all_.size(), begin + 700);
        ASSERT_TRUE(engine->ApplyBatch({all_.begin() + begin, all_.begin() + end}).ok());
      }
      reference_.push_back(Take(*engine, m));
      ASSERT_EQ(reference_.back().events_applied, head_);
      ASSERT_FALSE(reference_.back().stored.empty()) << m.name;
    }
  }

  // A synthetic cohort whose cases are appended in two halves (so that the
  // log interleaves them), with corrected costs (retractions), retracted
  // follow-ups and conferences, and erasures, some followed by more events.
  void AppendCohort() {
    synth::CohortOptions options;
    options.seed = 77;
    options.cases = 240;
    options.correction_share = 0.2;
    options.as_of = absl::FromCivil(absl::CivilDay(2026, 6, 30), absl::UTCTimeZone());
    synth::CohortGenerator generator(options);
    std::vector<synth::SyntheticCase> cases;
    for (synth::SyntheticCase c; generator.Next(&c);) cases.push_back(c);
    for (int half = 0; half < 2; ++half) {
      for (const auto& c : cases) {
        const size_t mid = c.events.size() / 2;
        std::vector<v1::Event> part(half == 0 ? c.events.begin() : c.events.begin() + mid,
                                    half == 0 ? c.events.begin() + mid : c.events.end());
        if (!part.empty()) ASSERT_TRUE(store_->Append(Batch(c.case_id, part)).ok()) << c.case_id;
      }
    }
    int retracted = 0, erased = 0;
    for (size_t i = 0; i < cases.size(); ++i) {
      const auto& c = cases[i];
      if (i % 5 == 1) {
        for (auto it = c.events.rbegin(); it != c.events.rend(); ++it) {
          if (it->has_follow_up_recorded() || (i % 10 == 1 && it->has_conference_held())) {
            if (store_->Append(Batch(c.case_id, {testing::RetractionOf(*it, 2026, 7, 1)})).ok()) ++retracted;
            break;
          }
        }
      }
      if (i % 7 == 3) {
        eventstore::AppendBatch batch = Batch(c.case_id, {});
        batch.server_written = true;
        v1::Event& e = batch.events.emplace_back(testing::EventOn(2026, 7, 2));
        e.mutable_personal_data_erased()->set_key_id("key-" + std::to_string(i));
        ASSERT_TRUE(store_->Append(std::move(batch)).ok()) << c.case_id;
        ++erased;
        if (i % 2 == 1) (void)store_->Append(Batch(c.case_id, testing::MoreEvents(2)));
      }
    }
    ASSERT_GT(retracted, 10);
    ASSERT_GT(erased, 10);
  }

  std::unique_ptr<ProjectionEngine> Open(const std::string& folder, const Model& m, size_t max_batch = 5000) {
    projections::ProjectionOptions options;
    options.path = dir_.Sub(folder);
    options.max_batch = max_batch;
    auto engine = ProjectionEngine::Open(options, m.factory(), store_.get());
    EXPECT_TRUE(engine.ok()) << engine.status();
    return std::move(engine).value();
  }
  std::vector<std::unique_ptr<ProjectionEngine>> OpenAll(const std::string& prefix, size_t max_batch = 5000) {
    std::vector<std::unique_ptr<ProjectionEngine>> engines;
    for (const Model& m : models_) engines.push_back(Open(prefix + m.name, m, max_batch));
    return engines;
  }
  static std::vector<ProjectionEngine*> Pointers(const std::vector<std::unique_ptr<ProjectionEngine>>& engines) {
    std::vector<ProjectionEngine*> out;
    for (const auto& e : engines) out.push_back(e.get());
    return out;
  }
  void ExpectReference(const std::vector<std::unique_ptr<ProjectionEngine>>& engines, const std::string& what) {
    for (size_t i = 0; i < models_.size(); ++i) {
      const Snapshot got = Take(*engines[i], models_[i]);
      EXPECT_EQ(got.stored.size(), reference_[i].stored.size()) << models_[i].name << " " << what;
      EXPECT_EQ(got.events_applied, reference_[i].events_applied) << models_[i].name << " " << what;
      EXPECT_TRUE(got == reference_[i]) << models_[i].name << " " << what << ": "
                                        << FirstDifference(got, reference_[i]);
    }
  }
  // Closes the engines and opens their folders again (a restart).
  void Reopen(std::vector<std::unique_ptr<ProjectionEngine>>& engines) {
    for (size_t i = 0; i < engines.size(); ++i) {
      const std::string folder = std::filesystem::path(engines[i]->path()).filename().string();
      engines[i].reset();
      engines[i] = Open(folder, models_[i]);
    }
  }
  // Every event delivered again, as Kafka may after a restart.
  void Redeliver(std::vector<std::unique_ptr<ProjectionEngine>>& engines) {
    for (auto& e : engines) ASSERT_TRUE(e->ApplyBatch(all_).ok());
  }

  testing::TempDir dir_;
  std::unique_ptr<EventStore> store_;
  const std::vector<Model> models_ = Models();
  uint64_t head_ = 0;
  std::vector<v1::RecordedEvent> all_;
  std::vector<Snapshot> reference_;
};

TEST_F(RebuildTest, OneSharedCopyFreeScanGivesTheStatesAndAnswersOfThePerModelPath) {
  auto engines = OpenAll("shared-", 300);
  int chunks = 0;
  ASSERT_TRUE(projections::CatchUpFromStore(Pointers(engines), *store_, store_->Head(), [&](const auto& p) {
                ++chunks;
                EXPECT_EQ(p.events_total, head_);
                return true;
              }).ok());
  EXPECT_EQ(chunks, static_cast<int>((head_ + 299) / 300));
  ExpectReference(engines, "after the shared rebuild");
  // The versions and the watermark were stored at the end: a restart keeps
  // the model, and redelivered events are skipped, not applied again.
  Reopen(engines);
  ExpectReference(engines, "reopened");
  Redeliver(engines);
  ExpectReference(engines, "reopened, every event redelivered");
  ASSERT_TRUE(projections::CatchUpFromStore(Pointers(engines), *store_, store_->Head()).ok());
  ExpectReference(engines, "caught up again");
}

TEST_F(RebuildTest, EnginesSpreadOverThreadsGiveTheSame) {
  auto engines = OpenAll("threads-", 350);
  ASSERT_TRUE(projections::CatchUpFromStore(Pointers(engines), *store_, store_->Head(), nullptr, 3).ok());
  ExpectReference(engines, "four engines on three threads");
  Reopen(engines);
  Redeliver(engines);
  ExpectReference(engines, "four engines on three threads, reopened, every event redelivered");
}

TEST_F(RebuildTest, StoppedInTheMiddleAndResumedAfterARestartGivesTheSame) {
  auto engines = OpenAll("stopped-", 400);
  int chunks = 0;
  absl::Status s = projections::CatchUpFromStore(Pointers(engines), *store_, store_->Head(),
                                                 [&](const auto&) { return ++chunks < 3; });
  ASSERT_EQ(s.code(), absl::StatusCode::kCancelled) << s;
  for (auto& e : engines) ASSERT_EQ(e->watermark().events_applied, 1200u) << e->name();
  Reopen(engines);
  for (auto& e : engines) {
    ASSERT_EQ(e->watermark().events_applied, 1200u) << e->name();
    ASSERT_EQ(e->watermark().max_global_position, 1200u) << e->name();
  }
  // Kafka redelivers what the stopped fill had applied: skipped by version.
  for (auto& e : engines) {
    ASSERT_TRUE(e->ApplyBatch({all_.begin(), all_.begin() + 1200}).ok());
    ASSERT_EQ(e->watermark().events_applied, 1200u) << e->name();
  }
  ASSERT_TRUE(projections::CatchUpFromStore(Pointers(engines), *store_, store_->Head()).ok());
  ExpectReference(engines, "stopped after 1200 events, restarted and resumed");
  Reopen(engines);
  Redeliver(engines);
  ExpectReference(engines, "resumed, reopened, every event redelivered");
}

TEST_F(RebuildTest, ACrashInTheMiddleOfAFillLeavesAModelThatIsFilledAgain) {
  // The folders as a crash after the second chunk leaves them: copied while
  // the fill runs (every write of a batch is in the write-ahead log).
  auto engines = OpenAll("crashing-", 400);
  int chunks = 0;
  ASSERT_TRUE(projections::CatchUpFromStore(Pointers(engines), *store_, store_->Head(), [&](const auto&) {
                if (++chunks == 2) {
                  for (size_t i = 0; i < engines.size(); ++i) {
                    std::filesystem::copy(engines[i]->path(), dir_.Sub("crashed-" + models_[i].name),
                                          std::filesystem::copy_options::recursive);
                  }
                }
                return true;
              }).ok());
  ExpectReference(engines, "the fill that was copied");
  std::vector<std::unique_ptr<ProjectionEngine>> crashed;
  for (const Model& m : models_) crashed.push_back(Open("crashed-" + m.name, m));
  for (auto& e : crashed) {
    // The interrupted fill is discarded, not taken for a model at position 0.
    EXPECT_EQ(e->watermark().events_applied, 0u) << e->name();
    bool any = false;
    ASSERT_TRUE(e->ScanModel("", [&](std::string_view, std::string_view) { any = true; }).ok());
    EXPECT_FALSE(any) << e->name() << " kept states of the interrupted fill";
  }
  ASSERT_TRUE(projections::CatchUpFromStore(Pointers(crashed), *store_, store_->Head()).ok());
  ExpectReference(crashed, "crashed in the middle of a fill, filled again");
}

TEST_F(RebuildTest, EachEngineGetsThePositionsAfterItsOwnWatermark) {
  // One engine is empty, one holds the first 1000 positions (from the store),
  // one holds everything: one scan brings all three to the reference.
  const Model& m = models_[3];
  auto empty = Open("empty", m, 250);
  auto part = Open("part", m);
  ASSERT_TRUE(part->CatchUpFromStore(GlobalPosition(1000)).ok());
  ASSERT_EQ(part->watermark().events_applied, 1000u);
  auto full = Open("full", m);
  ASSERT_TRUE(full->CatchUpFromStore().ok());
  ASSERT_TRUE(projections::CatchUpFromStore({empty.get(), part.get(), full.get()}, *store_, store_->Head()).ok());
  for (ProjectionEngine* e : {empty.get(), part.get(), full.get()}) {
    const Snapshot got = Take(*e, m);
    EXPECT_TRUE(got == reference_[3]) << e->path() << ": " << FirstDifference(got, reference_[3]);
  }
}

TEST_F(RebuildTest, RefusesEnginesThatAreMissingRepeatedOrOfAnotherStore) {
  auto engine = Open("one", models_[0]);
  EXPECT_EQ(projections::CatchUpFromStore({}, *store_, store_->Head()).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(projections::CatchUpFromStore({engine.get(), nullptr}, *store_, store_->Head()).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(projections::CatchUpFromStore({engine.get(), engine.get()}, *store_, store_->Head()).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(projections::CatchUpFromStore({engine.get()}, *store_, store_->Head(), nullptr, 0).code(),
            absl::StatusCode::kInvalidArgument);
  eventstore::EventStoreOptions options;
  options.path = dir_.Sub("other-store");
  auto other = EventStore::Open(options).value();
  EXPECT_EQ(projections::CatchUpFromStore({engine.get()}, *other, other->Head()).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(engine->watermark().events_applied, 0u);  // nothing applied
}

TEST_F(RebuildTest, KringdsStartUpFillAndAReplayAsOfAPositionGiveThePerModelStates) {
  std::vector<std::unique_ptr<projections::LiveReadModel>> live;
  std::vector<projections::LiveReadModel*> pointers;
  for (const Model& m : models_) {
    projections::LiveReadModelOptions options;
    options.dir = dir_.Sub("projections");
    options.factory = m.factory;
    live.push_back(projections::LiveReadModel::Open(options, store_.get()).value());
    pointers.push_back(live.back().get());
  }
  ASSERT_TRUE(projections::FillFromStore(pointers, nullptr, 2).ok());
  for (size_t i = 0; i < models_.size(); ++i) {
    const Snapshot got = Take(*live[i]->engine(), models_[i]);
    EXPECT_TRUE(got == reference_[i]) << models_[i].name << ": " << FirstDifference(got, reference_[i]);
  }
  // "As of" a position in the middle equals the per-model path up to it.
  const uint64_t p = head_ / 2;
  for (size_t i = 0; i < models_.size(); ++i) {
    auto replayed = live[i]->ReplayAsOf(GlobalPosition(p));
    ASSERT_TRUE(replayed.ok()) << replayed.status();
    auto expected = Open("as-of-" + models_[i].name, models_[i]);
    ASSERT_TRUE(expected->ApplyBatch({all_.begin(), all_.begin() + p}).ok());
    const Snapshot got = Take((*replayed)->engine(), models_[i]);
    const Snapshot want = Take(*expected, models_[i]);
    EXPECT_TRUE(got == want) << models_[i].name << ": " << FirstDifference(got, want);
  }
}

}  // namespace
}  // namespace kring
