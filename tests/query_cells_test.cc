// Query cells (projections/query_cells.h): every research RPC answered from
// the cells gives, byte for byte, the answer of the plain scan of every row —
// for every grouping, filter, period on and off month boundaries, and query
// parameters — also after new cases, changed cases and retractions (which
// forget a case and fold it again, moving it between cells or out of them)
// were applied to models whose memos were filled before. And the pieces the
// cells rely on: DenseCounts merging small and large histograms, ExactSum not
// depending on the order of its additions.
#include "projections/query_cells.h"

#include <google/protobuf/text_format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "eventstore/event_store.h"
#include "projections/engine.h"
#include "projections/funnel.h"
#include "projections/network_size.h"
#include "projections/outcomes.h"
#include "projections/replay.h"
#include "projections/statistics.h"
#include "projections/support.h"
#include "synth/cohort.h"
#include "tests/testing/cell_key_testing.h"
#include "tests/testing/test_support.h"

namespace kring::projections {
namespace {

using eventstore::EventStore;
using kring::testing::Batch;

std::string Text(const google::protobuf::Message& m) {
  std::string out;
  google::protobuf::TextFormat::PrintToString(m, &out);
  return out;
}

template <typename Response>
std::string AnswerText(const absl::StatusOr<Response>& r) {
  EXPECT_TRUE(r.ok()) << r.status();
  return r.ok() ? Text(*r) : "error: " + r.status().ToString();
}

// Fields 1-8 of a research request.
struct Shape {
  std::string name;
  std::function<void(google::protobuf::RepeatedField<int>* domains, google::protobuf::RepeatedField<int>* frameworks,
                     google::protobuf::RepeatedPtrField<std::string>* municipalities, v1::DateRange* referral,
                     v1::DateRange* conference)>
      set;
};

std::vector<Shape> Shapes() {
  auto period = [](v1::DateRange* r, const char* from, const char* to) {
    if (*from) r->set_from(from);
    if (*to) r->set_to(to);
  };
  return {
      {"everything", [](auto*, auto*, auto*, auto*, auto*) {}},
      {"referred 2020-01-01..2022-12-31 (whole months)",
       [=](auto*, auto*, auto*, v1::DateRange* r, auto*) { period(r, "2020-01-01", "2022-12-31"); }},
      {"referred 2020-02-14..2022-11-03 (boundary months)",
       [=](auto*, auto*, auto*, v1::DateRange* r, auto*) { period(r, "2020-02-14", "2022-11-03"); }},
      {"referred from 2021-06-17", [=](auto*, auto*, auto*, v1::DateRange* r, auto*) { period(r, "2021-06-17", ""); }},
      {"one day, 2021-03-09",
       [=](auto*, auto*, auto*, v1::DateRange* r, auto*) { period(r, "2021-03-09", "2021-03-09"); }},
      {"youth protection or housing, Jeugdwet or none",
       [](google::protobuf::RepeatedField<int>* d, google::protobuf::RepeatedField<int>* f, auto*, auto*, auto*) {
         d->Add(v1::DOMAIN_YOUTH_PROTECTION);
         d->Add(v1::DOMAIN_HOUSING);
         f->Add(v1::LEGAL_FRAMEWORK_JEUGDWET);
         f->Add(v1::LEGAL_FRAMEWORK_NONE);
       }},
      {"three municipalities",
       [](auto*, auto*, google::protobuf::RepeatedPtrField<std::string>* m, auto*, auto*) {
         *m->Add() = "GM0363";
         *m->Add() = "GM0599";
         *m->Add() = "GM0014";
       }},
      {"conference 2021-01-01..2023-06-30 (whole months)",
       [=](auto*, auto*, auto*, auto*, v1::DateRange* c) { period(c, "2021-01-01", "2023-06-30"); }},
      {"conference 2021-01-15..2023-06-20 (boundary months)",
       [=](auto*, auto*, auto*, auto*, v1::DateRange* c) { period(c, "2021-01-15", "2023-06-20"); }},
      {"conference from 2022-03-10",
       [=](auto*, auto*, auto*, auto*, v1::DateRange* c) { period(c, "2022-03-10", ""); }},
      {"all filters, boundary months",
       [=](google::protobuf::RepeatedField<int>* d, auto*, google::protobuf::RepeatedPtrField<std::string>* m,
           v1::DateRange* r, v1::DateRange* c) {
         d->Add(v1::DOMAIN_YOUTH_PROTECTION);
         *m->Add() = "GM0363";
         *m->Add() = "GM0344";
         period(r, "2019-07-08", "2023-02-27");
         period(c, "2019-09-02", "2024-10-30");
       }},
  };
}

const std::vector<v1::Grouping>& Groupings() {
  static const std::vector<v1::Grouping> g = {v1::GROUPING_UNSPECIFIED,  v1::GROUPING_YEAR,
                                              v1::GROUPING_QUARTER,      v1::GROUPING_DOMAIN,
                                              v1::GROUPING_MUNICIPALITY, v1::GROUPING_LEGAL_FRAMEWORK};
  return g;
}

template <typename Request>
Request MakeRequest(const Shape& shape, v1::Grouping grouping) {
  Request r;
  shape.set(r.mutable_domains(), r.mutable_legal_frameworks(), r.mutable_municipality_codes(),
            r.mutable_referral_period(), r.mutable_conference_period());
  r.set_group_by(grouping);
  r.mutable_disclosure()->set_min_cell_size(5);
  return r;
}

// A cost model other than the built-in one: what a case adds changes.
v1::CostModel OtherCostModel() {
  v1::CostModel m = BuiltInCostModel();
  m.set_conference_cost_cents(m.conference_cost_cents() + 12345);
  if (m.savings_size() > 0) {
    m.mutable_savings(0)->set_amount_cents(m.savings(0).amount_cents() * 2 + 1);
    m.mutable_savings(0)->set_per_child(!m.savings(0).per_child());
  }
  return m;
}

struct Model {
  std::string name;
  ProjectionFactory factory;
  // Every answer of every query of this test, in order.
  std::function<std::vector<std::string>(const ProjectionEngine&)> answers;
};

std::vector<Model> Models() {
  std::vector<Model> models;
  models.push_back({"network-size",
                    [] { return std::make_unique<NetworkSizeProjection>(kring::testing::TestCellKeySecret()); },
                    [](const ProjectionEngine& e) {
                      std::vector<std::string> out;
                      for (const Shape& s : Shapes()) {
                        for (v1::Grouping g : Groupings()) {
                          out.push_back(AnswerText(QueryNetworkSize(e, MakeRequest<v1::NetworkSizeRequest>(s, g))));
                        }
                      }
                      return out;
                    }});
  models.push_back({"outcomes",
                    [] { return std::make_unique<OutcomesProjection>(kring::testing::TestCellKeySecret()); },
                    [](const ProjectionEngine& e) {
                      std::vector<std::string> out;
                      for (const Shape& s : Shapes()) {
                        for (v1::Grouping g : Groupings()) {
                          out.push_back(AnswerText(QueryOutcomes(e, MakeRequest<v1::OutcomesRequest>(s, g))));
                          auto c = MakeRequest<v1::CostBenefitRequest>(s, g);
                          out.push_back(AnswerText(QueryCostBenefit(e, c)));
                          *c.mutable_cost_model() = OtherCostModel();
                          out.push_back(AnswerText(QueryCostBenefit(e, c)));
                        }
                      }
                      return out;
                    }});
  models.push_back({"funnel", [] { return std::make_unique<FunnelProjection>(kring::testing::TestCellKeySecret()); },
                    [](const ProjectionEngine& e) {
                      std::vector<std::string> out;
                      for (const Shape& s : Shapes()) {
                        for (v1::Grouping g : Groupings()) {
                          out.push_back(AnswerText(QueryFunnel(e, MakeRequest<v1::FunnelRequest>(s, g))));
                        }
                      }
                      return out;
                    }});
  models.push_back({"support", [] { return std::make_unique<SupportProjection>(kring::testing::TestCellKeySecret()); },
                    [](const ProjectionEngine& e) {
                      std::vector<std::string> out;
                      for (const Shape& s : Shapes()) {
                        for (v1::Grouping g : Groupings()) {
                          auto r = MakeRequest<v1::SupportRequest>(s, g);
                          out.push_back(AnswerText(QuerySupport(e, r)));
                          r.set_window_days(120);
                          r.set_lapse_threshold(0.6);
                          r.set_data_cutoff("2024-12-31");
                          out.push_back(AnswerText(QuerySupport(e, r)));
                        }
                      }
                      return out;
                    }});
  return models;
}

synth::CohortOptions Synthetic(uint64_t seed, size_t cases, double correction_share) {
  synth::CohortOptions options;
  options.seed = seed;
  options.cases = cases;
  options.first_referral_year = 2019;
  options.last_referral_year = 2024;
  options.as_of = absl::FromCivil(absl::CivilDay(2026, 6, 30), absl::UTCTimeZone());
  options.correction_share = correction_share;
  return options;
}

class QueryCellsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = kring::testing::OpenUnsyncedStore(dir_.Sub("store"));
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = std::move(store).value();
  }
  void TearDown() override { SetQueryCells(true); }

  std::unique_ptr<ProjectionEngine> OpenEngine(const std::string& folder, const ProjectionFactory& factory) {
    ProjectionOptions options;
    options.path = dir_.Sub(folder);
    auto engine = ProjectionEngine::Open(options, factory(), store_.get());
    EXPECT_TRUE(engine.ok()) << engine.status();
    return engine.ok() ? std::move(engine).value() : nullptr;
  }

  std::vector<synth::SyntheticCase> Append(synth::CohortOptions options) {
    std::vector<synth::SyntheticCase> cases;
    synth::CohortGenerator generator(options);
    synth::SyntheticCase c;
    while (generator.Next(&c)) {
      for (size_t begin = 0; begin < c.events.size(); begin += 1000) {
        const size_t end = std::min(c.events.size(), begin + 1000);
        std::vector<v1::Event> part(c.events.begin() + static_cast<ptrdiff_t>(begin),
                                    c.events.begin() + static_cast<ptrdiff_t>(end));
        auto r = store_->Append(Batch(c.case_id, std::move(part)));
        EXPECT_TRUE(r.ok()) << c.case_id << ": " << r.status();
      }
      cases.push_back(c);
    }
    return cases;
  }

  // Whether the store accepts the retraction of the case's first event that
  // `has` picks (the case rules may refuse it).
  template <typename Has>
  bool Retract(const synth::SyntheticCase& c, Has has) {
    for (const v1::Event& e : c.events) {
      if (!(e.*has)()) continue;
      return store_->Append(Batch(c.case_id, {testing::RetractionOf(e, 2026, 7, 1)})).ok();
    }
    return false;
  }

  // The answers with cells (twice: filling the memos, then from them) and
  // without; the cells' must equal the scan's.
  static std::vector<std::string> ExpectCellsAnswerAsTheScan(const Model& m, const ProjectionEngine& engine,
                                                             const std::string& when) {
    SetQueryCells(false);
    const std::vector<std::string> scan = m.answers(engine);
    SetQueryCells(true);
    for (int pass = 0; pass < 2; ++pass) {
      const std::vector<std::string> cells = m.answers(engine);
      EXPECT_EQ(scan.size(), cells.size());
      for (size_t i = 0; i < std::min(scan.size(), cells.size()); ++i) {
        EXPECT_EQ(scan[i], cells[i]) << m.name << " " << when << ", pass " << pass << ", query " << i;
        if (scan[i] != cells[i]) return scan;  // one difference tells enough
      }
    }
    return scan;
  }

  testing::TempDir dir_;
  std::unique_ptr<EventStore> store_;
};

TEST_F(QueryCellsTest, CellAnswersEqualTheScanOfEveryRowBeforeAndAfterChanges) {
  const std::vector<synth::SyntheticCase> first = Append(Synthetic(61, 1500, 0.1));
  const std::vector<Model> models = Models();
  std::vector<std::unique_ptr<ProjectionEngine>> engines;
  std::vector<std::vector<std::string>> before;
  for (const Model& m : models) {
    engines.push_back(OpenEngine("engine-" + m.name, m.factory));
    ASSERT_TRUE(engines.back()->CatchUpFromStore().ok());
    before.push_back(ExpectCellsAnswerAsTheScan(m, *engines.back(), "before the changes"));
  }
  // Each shape selects something else than everything (network size: one
  // answer per shape and grouping).
  const size_t groupings = Groupings().size();
  for (size_t i = groupings; i < before[0].size(); ++i) {
    EXPECT_NE(before[0][i], before[0][i % groupings]) << "network-size query " << i;
  }

  // Changes: new cases; new events in old cases; retractions of conferences
  // (the case moves to another cell or leaves the conference filter), of
  // plans and follow-ups, and of referrals (the case leaves every cell).
  Append(Synthetic(62, 300, 0.1));
  size_t retracted = 0;
  for (size_t i = 0; i < first.size(); ++i) {
    const synth::SyntheticCase& c = first[i];
    switch (i % 9) {
      case 0:
        ASSERT_TRUE(store_
                        ->Append(Batch(c.case_id, {testing::OutcomeRecordedEvent(v1::OUTCOME_TYPE_PLACEMENT_PREVENTED,
                                                                                 2, 2026, 7, 1)}))
                        .ok());
        break;
      case 1:
        retracted += Retract(c, &v1::Event::has_conference_held);
        break;
      case 2:
        retracted += Retract(c, &v1::Event::has_follow_up_recorded);
        break;
      case 3:
        retracted += Retract(c, &v1::Event::has_plan_adopted);
        break;
      case 4:
        retracted += Retract(c, &v1::Event::has_case_referred);
        break;
      case 5:
        retracted += Retract(c, &v1::Event::has_participant_invited);
        break;
      default:
        break;
    }
  }
  EXPECT_GT(retracted, 50u);
  for (size_t i = 0; i < models.size(); ++i) {
    ASSERT_TRUE(engines[i]->CatchUpFromStore().ok());
    const std::vector<std::string> after = ExpectCellsAnswerAsTheScan(models[i], *engines[i], "after the changes");
    EXPECT_NE(before[i], after) << models[i].name << ": the changes changed nothing";
    // A fresh engine with the same events agrees (the cells of a model that
    // was changed are those of one that was built at once).
    auto fresh = OpenEngine("fresh-" + models[i].name, models[i].factory);
    ASSERT_TRUE(fresh->CatchUpFromStore().ok());
    EXPECT_EQ(after, models[i].answers(*fresh)) << models[i].name;
  }
}

// A changed case is seen in the very next query, also when its cell's memo
// was filled a moment before and the case stays in the same cell.
TEST_F(QueryCellsTest, AnEventForACaseChangesTheNextAnswerFromItsCell) {
  const std::vector<synth::SyntheticCase> cases = Append(Synthetic(63, 200, 0));
  auto engine =
      OpenEngine("outcomes", [] { return std::make_unique<OutcomesProjection>(kring::testing::TestCellKeySecret()); });
  ASSERT_TRUE(engine->CatchUpFromStore().ok());
  v1::OutcomesRequest request;
  request.mutable_disclosure()->set_min_cell_size(5);
  auto count = [&] {
    auto r = QueryOutcomes(*engine, request);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? r->overall().outcomes(v1::OUTCOME_TYPE_EVICTION_PREVENTED - 1).referred_cases() : 0;
  };
  uint64_t want = count();
  for (size_t i = 0; i < 10; ++i) {
    ASSERT_TRUE(store_
                    ->Append(Batch(cases[i * 7].case_id,
                                   {testing::OutcomeRecordedEvent(v1::OUTCOME_TYPE_EVICTION_PREVENTED, 1, 2026, 7, 1)}))
                    .ok());
    ASSERT_TRUE(engine->CatchUpFromStore().ok());
    SetQueryCells(false);
    want = count();
    SetQueryCells(true);
    EXPECT_EQ(count(), want) << "after " << i + 1 << " more outcomes";
  }
  EXPECT_GE(want, 10u);
}

TEST(DenseCountsCellsTest, SmallAndLargeHistogramsMergeToTheSameCounts) {
  std::mt19937 rng(5);
  std::map<int64_t, uint64_t> want;
  DenseCounts total;
  for (int part = 0; part < 50; ++part) {
    DenseCounts d;
    const int n = part % 5 == 0 ? 200 : part % 7;  // some past the short list, most within it
    for (int i = 0; i < n; ++i) {
      const int64_t key = static_cast<int64_t>(rng() % 700) - (i % 13 == 0 ? 800 : 0);
      d.Add(key, 1 + i % 3);
      want[key] += 1 + i % 3;
    }
    total.Merge(d);
  }
  EXPECT_EQ(total.ToMap(), want);
  // Merging into a small one, too.
  DenseCounts small;
  small.Add(3);
  DenseCounts copy = small;
  copy.Merge(total);
  want[3] += 1;
  EXPECT_EQ(copy.ToMap(), want);
}

TEST(ExactSumTest, TheSumDoesNotDependOnTheOrderAndIsTheExactSumRounded) {
  std::vector<double> values;
  for (uint32_t network = 1; network <= 40; ++network) {
    for (uint32_t still = 0; still <= network; ++still) values.push_back(static_cast<double>(still) / network);
  }
  ExactSum forward, backward;
  for (double v : values) forward.Add(v);
  for (auto it = values.rbegin(); it != values.rend(); ++it) backward.Add(*it);
  EXPECT_EQ(forward.Value(), backward.Value());
  std::mt19937 rng(7);
  for (int round = 0; round < 20; ++round) {
    std::shuffle(values.begin(), values.end(), rng);
    ExactSum a, b;
    for (size_t i = 0; i < values.size(); ++i) (i % 3 == 0 ? a : b).Add(values[i]);
    a.Merge(b);
    EXPECT_EQ(a.Value(), forward.Value());
  }
  // Exact where plain double addition is not: 0.1 (the double) ten times.
  ExactSum tenth;
  double plain = 0;
  for (int i = 0; i < 10; ++i) {
    tenth.Add(0.1);
    plain += 0.1;
  }
  EXPECT_NE(plain, 1.0);
  EXPECT_EQ(tenth.Value(), 1.0);  // the exact sum 10 x 0.1000000000000000055511 rounds to 1
}

}  // namespace
}  // namespace kring::projections
