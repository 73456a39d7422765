// Two-way grouping, confidence intervals, the Kaplan–Meier day-0 row, the
// restricted mean survival time and comparisons (issue 15; docs/research.md
// "Two-way grouping", "Confidence intervals", "Comparisons", "Restricted mean
// survival time") on the read models, over a synthetic cohort and over
// hand-made cases whose figures are known.
#include <gtest/gtest.h>

#include <google/protobuf/text_format.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "eventstore/event_store.h"
#include "projections/engine.h"
#include "projections/funnel.h"
#include "projections/intervals.h"
#include "projections/network_size.h"
#include "projections/outcomes.h"
#include "projections/query_cells.h"
#include "projections/support.h"
#include "synth/cohort.h"
#include "tests/testing/cell_key_testing.h"
#include "tests/testing/test_support.h"

namespace kring::projections {
namespace {

using kring::testing::Batch;

std::string Text(const google::protobuf::Message& m) {
  std::string out;
  google::protobuf::TextFormat::PrintToString(m, &out);
  return out;
}

class ComparisonTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = kring::testing::OpenUnsyncedStore(dir_.Sub("store"));
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = std::move(store).value();
  }
  void TearDown() override { SetQueryCells(true); }

  void AppendCohort(uint64_t seed, size_t cases) {
    synth::CohortOptions options;
    options.seed = seed;
    options.cases = cases;
    options.first_referral_year = 2020;
    options.last_referral_year = 2023;
    options.as_of = absl::FromCivil(absl::CivilDay(2026, 6, 30), absl::UTCTimeZone());
    synth::CohortGenerator generator(options);
    synth::SyntheticCase c;
    while (generator.Next(&c)) {
      for (size_t begin = 0; begin < c.events.size(); begin += 1000) {
        const size_t end = std::min(c.events.size(), begin + 1000);
        std::vector<v1::Event> part(c.events.begin() + static_cast<ptrdiff_t>(begin),
                                    c.events.begin() + static_cast<ptrdiff_t>(end));
        ASSERT_TRUE(store_->Append(Batch(c.case_id, std::move(part))).ok());
      }
    }
  }

  template <typename Model>
  std::unique_ptr<ProjectionEngine> Rebuilt(const std::string& folder) {
    ProjectionOptions options;
    options.path = dir_.Sub(folder);
    auto engine =
        ProjectionEngine::Open(options, std::make_unique<Model>(kring::testing::TestCellKeySecret()), store_.get());
    EXPECT_TRUE(engine.ok()) << engine.status();
    EXPECT_TRUE((*engine)->CatchUpFromStore().ok());
    return std::move(engine).value();
  }

  template <typename Request>
  static Request YearByDomain(uint32_t k = 5) {
    Request r;
    r.set_group_by(v1::GROUPING_YEAR);
    r.set_then_by(v1::GROUPING_DOMAIN);
    r.mutable_disclosure()->set_min_cell_size(k);
    return r;
  }

  testing::TempDir dir_;
  std::unique_ptr<eventstore::EventStore> store_;
};

template <typename Request, typename Query>
void ExpectInvalid(const ProjectionEngine& engine, Query query, const Request& request, const std::string& field) {
  auto r = query(engine, request);
  ASSERT_FALSE(r.ok()) << field;
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StartsWith(r.status().message(), field + ": ")) << r.status();
}

template <typename Request, typename Query>
void ExpectSelectionRules(const ProjectionEngine& engine, Query query) {
  Request r;
  r.set_then_by(v1::GROUPING_DOMAIN);
  ExpectInvalid(engine, query, r, "then_by");  // without group_by
  r.set_group_by(v1::GROUPING_DOMAIN);
  ExpectInvalid(engine, query, r, "then_by");  // equal to group_by
  r.set_then_by(static_cast<v1::Grouping>(77));
  ExpectInvalid(engine, query, r, "then_by");  // unknown
  Request c;
  c.set_compare_with("2021");
  ExpectInvalid(engine, query, c, "compare_with");  // without group_by
  c.set_group_by(v1::GROUPING_YEAR);
  c.set_compare_with("1999");
  ExpectInvalid(engine, query, c, "compare_with");  // not a listed group
  c.set_then_by(v1::GROUPING_DOMAIN);
  c.set_compare_with("2021");
  ExpectInvalid(engine, query, c, "compare_with");  // with then_by the label is key/key2
}

TEST_F(ComparisonTest, ThenByAndCompareWithRulesAreRefusedNamingTheField) {
  AppendCohort(7, 200);
  auto outcomes = Rebuilt<OutcomesProjection>("outcomes");
  ExpectSelectionRules<v1::OutcomesRequest>(*outcomes, &QueryOutcomes);
  ExpectSelectionRules<v1::CostBenefitRequest>(*outcomes, &QueryCostBenefit);
  ExpectSelectionRules<v1::FunnelRequest>(*Rebuilt<FunnelProjection>("funnel"), &QueryFunnel);
  ExpectSelectionRules<v1::NetworkSizeRequest>(*Rebuilt<NetworkSizeProjection>("network"), &QueryNetworkSize);
  ExpectSelectionRules<v1::SupportRequest>(*Rebuilt<SupportProjection>("support"), &QuerySupport);
}

// Each (year, domain) row counts the cases of that year's row in the answer
// filtered on that domain: the same cases, so the same published counts
// (cell key perturbation depends on the cases only) wherever both are
// published. Rows come in (key, key2) order.
TEST_F(ComparisonTest, TwoWayRowsArePairsInKeyOrderCountingTheCasesOfTheFilteredOneWayRow) {
  AppendCohort(11, 1500);
  auto outcomes = Rebuilt<OutcomesProjection>("outcomes");
  auto two_way = QueryOutcomes(*outcomes, YearByDomain<v1::OutcomesRequest>());
  ASSERT_TRUE(two_way.ok()) << two_way.status();
  ASSERT_GT(two_way->groups_size(), 4);
  std::vector<std::pair<std::string, int>> keys;
  size_t compared = 0;
  for (const v1::OutcomeGroup& g : two_way->groups()) {
    v1::Domain domain;
    ASSERT_TRUE(v1::Domain_Parse(g.key2(), &domain)) << g.key2();
    keys.emplace_back(g.key(), static_cast<int>(domain));
    v1::OutcomesRequest one_way;
    one_way.set_group_by(v1::GROUPING_YEAR);
    one_way.add_domains(domain);
    one_way.mutable_disclosure()->set_min_cell_size(5);
    auto filtered = QueryOutcomes(*outcomes, one_way);
    ASSERT_TRUE(filtered.ok());
    for (const v1::OutcomeGroup& f : filtered->groups()) {
      if (f.key() != g.key()) continue;
      EXPECT_TRUE(f.key2().empty());
      if (g.has_referred() && f.has_referred()) {
        EXPECT_EQ(g.referred(), f.referred()) << g.key() << "/" << g.key2();
        ++compared;
      }
    }
  }
  EXPECT_GT(compared, 4u);
  EXPECT_TRUE(std::is_sorted(keys.begin(), keys.end()));
  EXPECT_EQ(std::adjacent_find(keys.begin(), keys.end()), keys.end());
}

// The memo of query cells is kept per grouping: a two-way query after a
// one-way one (which filled the memo of that grouping) answers as the scan.
TEST_F(ComparisonTest, TwoWayAnswersFromQueryCellsEqualTheScanOfEveryRow) {
  AppendCohort(13, 800);
  auto outcomes = Rebuilt<OutcomesProjection>("outcomes");
  auto funnel = Rebuilt<FunnelProjection>("funnel");
  auto network = Rebuilt<NetworkSizeProjection>("network");
  auto support = Rebuilt<SupportProjection>("support");
  auto answers = [&](v1::Grouping then_by) {
    std::vector<std::string> out;
    auto outcomes_request = YearByDomain<v1::OutcomesRequest>();
    outcomes_request.set_then_by(then_by);
    out.push_back(Text(QueryOutcomes(*outcomes, outcomes_request).value()));
    auto cost_request = YearByDomain<v1::CostBenefitRequest>();
    cost_request.set_then_by(then_by);
    out.push_back(Text(QueryCostBenefit(*outcomes, cost_request).value()));
    auto funnel_request = YearByDomain<v1::FunnelRequest>();
    funnel_request.set_then_by(then_by);
    out.push_back(Text(QueryFunnel(*funnel, funnel_request).value()));
    auto network_request = YearByDomain<v1::NetworkSizeRequest>();
    network_request.set_then_by(then_by);
    out.push_back(Text(QueryNetworkSize(*network, network_request).value()));
    auto support_request = YearByDomain<v1::SupportRequest>();
    support_request.set_then_by(then_by);
    out.push_back(Text(QuerySupport(*support, support_request).value()));
    return out;
  };
  SetQueryCells(true);
  answers(v1::GROUPING_UNSPECIFIED);  // fills the one-way memos
  const std::vector<std::string> cells = answers(v1::GROUPING_DOMAIN);
  SetQueryCells(false);
  const std::vector<std::string> scan = answers(v1::GROUPING_DOMAIN);
  ASSERT_EQ(cells.size(), scan.size());
  for (size_t i = 0; i < cells.size(); ++i) EXPECT_EQ(cells[i], scan[i]) << "answer " << i;
}

void ExpectWilson(const v1::ConfidenceInterval& ci, double x, double n, double scale) {
  const auto w = Wilson(x, n);
  ASSERT_TRUE(w.has_value());
  EXPECT_DOUBLE_EQ(ci.lower(), w->lower * scale);
  EXPECT_DOUBLE_EQ(ci.upper(), w->upper * scale);
}

// Every rate and share has its Wilson interval from the published counts,
// and no interval where the figure is absent (suppressed).
TEST_F(ComparisonTest, ProportionIntervalsAreWilsonOfThePublishedCountsAndAbsentWithTheirFigure) {
  AppendCohort(17, 1500);
  auto outcomes = Rebuilt<OutcomesProjection>("outcomes");
  auto answer = QueryOutcomes(*outcomes, YearByDomain<v1::OutcomesRequest>(10));
  ASSERT_TRUE(answer.ok());
  size_t present = 0, absent = 0;
  std::vector<const v1::OutcomeGroup*> rows = {&answer->overall()};
  for (const auto& g : answer->groups()) rows.push_back(&g);
  for (const v1::OutcomeGroup* g : rows) {
    for (const v1::OutcomeFigure& f : g->outcomes()) {
      EXPECT_EQ(f.has_per_100_referrals(), f.has_per_100_referrals_ci());
      EXPECT_EQ(f.has_per_100_conferences(), f.has_per_100_conferences_ci());
      if (f.has_per_100_referrals()) {
        ExpectWilson(f.per_100_referrals_ci(), f.referred_cases(), g->referred(), 100);
        EXPECT_LE(f.per_100_referrals_ci().lower(), f.per_100_referrals());
        EXPECT_GE(f.per_100_referrals_ci().upper(), f.per_100_referrals());
        ++present;
      } else {
        ++absent;
      }
      if (f.has_per_100_conferences()) ExpectWilson(f.per_100_conferences_ci(), f.conference_cases(), g->conferences(), 100);
    }
  }
  EXPECT_GT(present, 0u);
  EXPECT_GT(absent, 0u);  // the cohort is small enough for suppressions at k = 10

  auto funnel = Rebuilt<FunnelProjection>("funnel");
  auto f = QueryFunnel(*funnel, YearByDomain<v1::FunnelRequest>(10));
  ASSERT_TRUE(f.ok());
  for (const v1::FunnelGroup& g : f->groups()) {
    for (const v1::FunnelStepFigure& s : g.steps()) {
      EXPECT_EQ(s.has_share_of_referred(), s.has_share_of_referred_ci());
      if (s.has_share_of_referred()) ExpectWilson(s.share_of_referred_ci(), s.cases(), g.steps(0).cases(), 1);
    }
    const v1::PlanRightFigures& p = g.plan_right();
    EXPECT_EQ(p.has_share_offered(), p.has_share_offered_ci());
    EXPECT_EQ(p.has_share_made(), p.has_share_made_ci());
    if (p.has_share_made()) ExpectWilson(p.share_made_ci(), p.plan_made(), p.protection_cases(), 1);
  }
}

// Five conferences of sizes 2, 3, 4, 5 and 6 (sample SD sqrt(2.5)): the mean's
// interval is the published mean ± t(0.975, n − 1) · sqrt(2.5) / sqrt(n) with
// n the published count of conferences.
TEST_F(ComparisonTest, MeanIntervalIsStudentTWithTheExactStandardDeviation) {
  for (int size = 2; size <= 6; ++size) {
    const std::string id = "SYNTHETIC-mean-" + std::to_string(size);
    std::vector<v1::Event> ev = {testing::CaseReferredEvent(v1::DOMAIN_HOUSING, "GM0363", 2022, 1, 10),
                                 testing::CoordinatorAssignedEvent(id + "-coord", 2022, 1, 12)};
    std::vector<std::string> attendees = {id + "-coord"};  // not counted
    for (int p = 0; p < size; ++p) {
      attendees.push_back(id + "-p" + std::to_string(p));
      ev.push_back(testing::ParticipantInvitedEvent(attendees.back(), v1::RELATION_FAMILY));
    }
    const google::protobuf::Timestamp referred = ev.front().occurred_at();
    for (v1::Event& e : ev) *e.mutable_occurred_at() = referred;
    ev.push_back(testing::ConferenceHeldEvent(attendees, 2022, 3, 1));
    auto appended = store_->Append(Batch(id, ev));
    ASSERT_TRUE(appended.ok()) << appended.status();
  }
  auto network = Rebuilt<NetworkSizeProjection>("network");
  v1::NetworkSizeRequest request;
  request.mutable_disclosure()->set_min_cell_size(5);
  auto answer = QueryNetworkSize(*network, request);
  ASSERT_TRUE(answer.ok()) << answer.status();
  const v1::NetworkSizeStats& s = answer->overall();
  ASSERT_TRUE(s.has_mean());
  ASSERT_TRUE(s.has_mean_ci());
  const double n = static_cast<double>(s.conferences());
  const double half = StudentTQuantile(0.975, n - 1) * std::sqrt(2.5) / std::sqrt(n);
  EXPECT_NEAR(s.mean_ci().lower(), s.mean() - half, 1e-12);
  EXPECT_NEAR(s.mean_ci().upper(), s.mean() + half, 1e-12);
  // Every conference has no central person: SD 0, the interval is the mean.
  EXPECT_NEAR(s.central_persons_mean_ci().lower(), s.central_persons_mean(), 1e-12);
  ASSERT_EQ(s.composition_size(), 1);
  // Family attendees per conference are the sizes: the same SD.
  EXPECT_NEAR(s.composition(0).mean_per_conference_ci().upper(), s.composition(0).mean_per_conference() + half,
              1e-12);
  ExpectWilson(s.composition(0).share_ci(), s.composition(0).attendees(), s.composition(0).attendees(), 1);
}

// The curve starts at day 0 with S = 1 and all published cases at risk; the
// RMST is the area under the published step function to day 730 (absent
// when the curve is cut before it); the 12- and 24-month intervals are the
// band at those days.
TEST_F(ComparisonTest, SupportCurveStartsAtDayZeroWithRmstAndSurvivalIntervals) {
  AppendCohort(19, 1500);
  auto support = Rebuilt<SupportProjection>("support");
  auto answer = QuerySupport(*support, YearByDomain<v1::SupportRequest>(5));
  ASSERT_TRUE(answer.ok()) << answer.status();
  std::vector<const v1::SupportGroup*> rows = {&answer->overall()};
  for (const auto& g : answer->groups()) rows.push_back(&g);
  size_t with_rmst = 0, without_rmst = 0;
  for (const v1::SupportGroup* g : rows) {
    if (!g->has_cases()) {
      EXPECT_EQ(g->curve_size(), 0);
      EXPECT_FALSE(g->has_rmst_24m_days());
      continue;
    }
    ASSERT_GT(g->curve_size(), 0);
    const v1::SurvivalRow& first = g->curve(0);
    EXPECT_EQ(first.day(), 0u);
    if (first.events() == 0 && first.censored() == 0) {
      EXPECT_EQ(first.at_risk(), g->cases());
      EXPECT_EQ(first.survival(), 1.0);
      EXPECT_EQ(first.lower_95(), 1.0);
      EXPECT_EQ(first.upper_95(), 1.0);
    }
    // The step function's area, by hand.
    double area = 0, s = 1;
    int64_t from = 0;
    for (const v1::SurvivalRow& r : g->curve()) {
      if (r.day() > 730) break;
      area += s * static_cast<double>(static_cast<int64_t>(r.day()) - from);
      s = r.survival();
      from = r.day();
    }
    area += s * static_cast<double>(730 - from);
    const bool cut_short = g->curve_truncated() && g->curve(g->curve_size() - 1).day() < 730;
    EXPECT_EQ(g->has_rmst_24m_days(), !cut_short);
    EXPECT_EQ(g->has_rmst_24m_days(), g->has_rmst_24m_ci());
    if (g->has_rmst_24m_days()) {
      EXPECT_NEAR(g->rmst_24m_days(), area, 1e-9);
      EXPECT_LE(g->rmst_24m_ci().lower(), g->rmst_24m_days());
      EXPECT_GE(g->rmst_24m_ci().upper(), g->rmst_24m_days());
      ++with_rmst;
    } else {
      ++without_rmst;
    }
    EXPECT_EQ(g->has_survival_12m(), g->has_survival_12m_ci());
    EXPECT_EQ(g->has_survival_24m(), g->has_survival_24m_ci());
    if (g->has_survival_12m()) {
      const v1::SurvivalRow* at = nullptr;
      for (const v1::SurvivalRow& r : g->curve()) {
        if (r.day() <= 365) at = &r;
      }
      ASSERT_NE(at, nullptr);
      EXPECT_EQ(g->survival_12m_ci().lower(), at->lower_95());
      EXPECT_EQ(g->survival_12m_ci().upper(), at->upper_95());
    }
    for (const v1::RetentionFigure& f : g->retention()) {
      EXPECT_EQ(f.has_mean_retention() && f.cases() >= 2, f.has_mean_retention_ci());
    }
  }
  EXPECT_GT(with_rmst, 0u);
  EXPECT_GT(without_rmst, 0u);
}

// compare_with: a GroupComparison per other listed group, differences of the
// published figures (absent where either is), and log-rank tests that are
// absent with a reason when a group's cases are suppressed.
TEST_F(ComparisonTest, ComparisonsOfTwoWayGroupsWithTheReference) {
  AppendCohort(23, 1500);
  auto support = Rebuilt<SupportProjection>("support");
  auto request = YearByDomain<v1::SupportRequest>(10);
  auto plain = QuerySupport(*support, request);
  ASSERT_TRUE(plain.ok());
  // The reference: the listed group with the most cases.
  const v1::SupportGroup* reference = &plain->groups(0);
  for (const auto& g : plain->groups()) {
    if (g.cases() > reference->cases()) reference = &g;
  }
  const std::string label = reference->key() + "/" + reference->key2();
  request.set_compare_with(label);
  auto answer = QuerySupport(*support, request);
  ASSERT_TRUE(answer.ok()) << answer.status();
  const v1::Comparison& c = answer->comparison();
  EXPECT_EQ(c.reference(), label);
  ASSERT_EQ(c.groups_size(), answer->groups_size() - 1);
  size_t estimates = 0, absent_estimates = 0, tests = 0, absent_tests = 0;
  int compared = 0;
  for (const v1::SupportGroup& g : answer->groups()) {
    const std::string group_label = g.key() + "/" + g.key2();
    if (group_label == label) continue;
    const v1::GroupComparison& gc = c.groups(compared++);
    EXPECT_EQ(gc.group(), group_label);
    for (const v1::Difference& d : gc.differences()) {
      EXPECT_EQ(d.has_estimate(), d.has_ci());
      double figure = 0, reference_figure = 0;
      bool both = false;
      if (d.measure() == "survival_12m") {
        both = g.has_survival_12m() && reference->has_survival_12m();
        figure = g.survival_12m(), reference_figure = reference->survival_12m();
      } else if (d.measure() == "rmst_24m_days") {
        both = g.has_rmst_24m_days() && reference->has_rmst_24m_days();
        figure = g.rmst_24m_days(), reference_figure = reference->rmst_24m_days();
      } else if (d.measure() == "mean_retention" && d.item() == "12") {
        both = g.retention(1).has_mean_retention() && reference->retention(1).has_mean_retention() &&
               g.retention(1).cases() >= 2;
        figure = g.retention(1).mean_retention(), reference_figure = reference->retention(1).mean_retention();
      } else {
        continue;
      }
      EXPECT_EQ(d.has_estimate(), both) << d.measure() << " " << group_label;
      if (d.has_estimate()) {
        EXPECT_DOUBLE_EQ(d.estimate(), figure - reference_figure);
        EXPECT_LE(d.ci().lower(), d.estimate());
        EXPECT_GE(d.ci().upper(), d.estimate());
        ++estimates;
      } else {
        ++absent_estimates;
      }
    }
    const v1::LogRankTest& t = gc.log_rank();
    ASSERT_EQ(t.groups_size(), 2);
    EXPECT_EQ(t.degrees_of_freedom(), 1u);
    if (g.has_cases()) {
      EXPECT_TRUE(t.has_chi_square()) << t.absent_reason();
      EXPECT_GE(t.p_value(), 0);
      EXPECT_LE(t.p_value(), 1);
      EXPECT_NEAR(t.p_value(), ChiSquareSurvival(t.chi_square(), 1), 1e-12);
      ++tests;
    } else {
      EXPECT_FALSE(t.has_chi_square());
      EXPECT_FALSE(t.has_p_value());
      EXPECT_FALSE(t.absent_reason().empty());
      ++absent_tests;
    }
  }
  EXPECT_GT(estimates, 0u);
  EXPECT_GT(absent_estimates, 0u);
  EXPECT_GT(tests, 0u);
  EXPECT_GT(absent_tests, 0u);
  // Some group is suppressed: the k-sample test is absent, with its reason.
  EXPECT_EQ(c.log_rank_all().groups_size(), answer->groups_size());
  EXPECT_FALSE(c.log_rank_all().has_chi_square());
  EXPECT_EQ(c.log_rank_all().absent_reason(), "a group's cases are suppressed (fewer than k)");

  // One-way by year: every group published, the k-sample test is there.
  v1::SupportRequest by_year;
  by_year.set_group_by(v1::GROUPING_YEAR);
  by_year.set_compare_with("2021");
  by_year.mutable_disclosure()->set_min_cell_size(5);
  auto years = QuerySupport(*support, by_year);
  ASSERT_TRUE(years.ok()) << years.status();
  const v1::LogRankTest& all = years->comparison().log_rank_all();
  ASSERT_TRUE(all.has_chi_square()) << all.absent_reason();
  EXPECT_EQ(all.degrees_of_freedom(), static_cast<uint32_t>(years->groups_size() - 1));
}

// Outcomes, funnel and network size compare their rates, shares and means;
// cost-benefit lists the groups without differences.
TEST_F(ComparisonTest, EveryAnswerComparesItsDocumentedMeasures) {
  AppendCohort(29, 1000);
  auto outcomes = Rebuilt<OutcomesProjection>("outcomes");
  v1::OutcomesRequest o;
  o.set_group_by(v1::GROUPING_YEAR);
  o.set_compare_with("2021");
  auto oa = QueryOutcomes(*outcomes, o);
  ASSERT_TRUE(oa.ok()) << oa.status();
  ASSERT_EQ(oa->comparison().groups_size(), oa->groups_size() - 1);
  const v1::GroupComparison& og = oa->comparison().groups(0);
  ASSERT_EQ(og.differences_size(), 2 * (v1::OutcomeType_ARRAYSIZE - 1));
  EXPECT_EQ(og.differences(0).measure(), "per_100_referrals");
  EXPECT_EQ(og.differences(1).measure(), "per_100_conferences");
  EXPECT_EQ(og.differences(0).method(), "Newcombe hybrid score (Wilson)");
  // The first group against 2021, by hand from the published counts.
  const v1::OutcomeGroup& g0 = oa->groups(0);
  const v1::OutcomeGroup* ref = nullptr;
  for (const auto& g : oa->groups()) {
    if (g.key() == "2021") ref = &g;
  }
  ASSERT_NE(ref, nullptr);
  const v1::OutcomeFigure& f0 = g0.outcomes(0);
  const v1::OutcomeFigure& fr = ref->outcomes(0);
  if (f0.has_per_100_referrals() && fr.has_per_100_referrals()) {
    const auto i = NewcombeDifference(f0.referred_cases(), g0.referred(), fr.referred_cases(), ref->referred());
    EXPECT_DOUBLE_EQ(og.differences(0).ci().lower(), i->lower * 100);
    EXPECT_DOUBLE_EQ(og.differences(0).ci().upper(), i->upper * 100);
  } else {
    EXPECT_FALSE(og.differences(0).has_estimate());
  }

  v1::CostBenefitRequest cb;
  cb.set_group_by(v1::GROUPING_YEAR);
  cb.set_compare_with("2021");
  auto cba = QueryCostBenefit(*outcomes, cb);
  ASSERT_TRUE(cba.ok()) << cba.status();
  ASSERT_EQ(cba->comparison().groups_size(), cba->groups_size() - 1);
  EXPECT_EQ(cba->comparison().groups(0).differences_size(), 0);

  auto funnel = Rebuilt<FunnelProjection>("funnel");
  v1::FunnelRequest fr_request;
  fr_request.set_group_by(v1::GROUPING_YEAR);
  fr_request.set_compare_with("2021");
  auto fa = QueryFunnel(*funnel, fr_request);
  ASSERT_TRUE(fa.ok()) << fa.status();
  const v1::GroupComparison& fg = fa->comparison().groups(0);
  ASSERT_EQ(fg.differences_size(), 6);  // four steps after referral, offered, made
  EXPECT_EQ(fg.differences(0).item(), "FUNNEL_STEP_COORDINATOR_ASSIGNED");
  EXPECT_EQ(fg.differences(5).measure(), "share_made");

  auto network = Rebuilt<NetworkSizeProjection>("network");
  v1::NetworkSizeRequest n;
  n.set_group_by(v1::GROUPING_YEAR);
  n.set_compare_with("2021");
  auto na = QueryNetworkSize(*network, n);
  ASSERT_TRUE(na.ok()) << na.status();
  const v1::GroupComparison& ng = na->comparison().groups(0);
  ASSERT_EQ(ng.differences_size(), 1);
  EXPECT_EQ(ng.differences(0).measure(), "mean");
  EXPECT_EQ(ng.differences(0).method(), "Welch t");
  ASSERT_TRUE(ng.differences(0).has_estimate());
  EXPECT_DOUBLE_EQ(ng.differences(0).estimate(), na->groups(0).stats().mean() - [&] {
    for (const auto& g : na->groups()) {
      if (g.key() == "2021") return g.stats().mean();
    }
    return 0.0;
  }());
}

}  // namespace
}  // namespace kring::projections
