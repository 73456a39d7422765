// End to end (issue 15): a real kringd (embedded Kafka, a temp data folder)
// takes a synthetic cohort over IngestService, and a researcher asks, over
// gRPC, a two-way grouped support answer (year x domain) compared with a
// reference group: intervals present where their figures are and absent
// under disclosure control, differences absent where a figure is suppressed,
// the log-rank tests absent with their reason when a group's cases are
// suppressed; and then_by / compare_with refused with INVALID_ARGUMENT naming
// the field.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <thread>
#include <tuple>

#include "cli/cohort_client.h"
#include "kring/v1/research.grpc.pb.h"
#include "tests/testing/kringd_process.h"
#include "tests/testing/test_support.h"

namespace kring {
namespace {

using testing::KringdProcess;

std::string Label(const v1::SupportGroup& g) { return g.key() + "/" + g.key2(); }

TEST(ResearchComparisonE2eTest, TwoWayComparisonWithIntervalsAndLogRankUnderDisclosureControl) {
  testing::TempDir dir;
  KringdProcess server(dir.Sub("kringd"));
  auto channel = grpc::CreateChannel(server.address(), grpc::InsecureChannelCredentials());
  client::CohortStreamOptions cohort;
  cohort.cohort.seed = 41;
  cohort.cohort.cases = 1200;
  cohort.cohort.first_referral_year = 2021;
  cohort.cohort.last_referral_year = 2023;
  const client::CohortStreamTotals totals = client::StreamCohort(channel, cohort);
  ASSERT_TRUE(totals.status.ok()) << totals.status;
  ASSERT_EQ(totals.refused, 0u);

  auto research = v1::ResearchService::NewStub(channel);
  v1::SupportRequest request;
  request.set_group_by(v1::GROUPING_YEAR);
  request.set_then_by(v1::GROUPING_DOMAIN);
  request.mutable_disclosure()->set_min_cell_size(10);
  v1::SupportResponse plain;
  // Until the read model has applied every event (bounded: 3 minutes).
  for (int i = 0; i < 1800; ++i) {
    grpc::ClientContext context;
    plain.Clear();
    ASSERT_TRUE(research->GetSustainedSupport(&context, request, &plain).ok());
    if (plain.watermark().events_applied() >= totals.appended) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_EQ(plain.watermark().events_applied(), totals.appended);
  ASSERT_GT(plain.groups_size(), 3);
  EXPECT_FALSE(plain.has_comparison());

  // The reference: the listed pair with the most cases.
  const v1::SupportGroup* reference = &plain.groups(0);
  for (const auto& g : plain.groups()) {
    EXPECT_FALSE(g.key2().empty());
    if (g.cases() > reference->cases()) reference = &g;
  }
  request.set_compare_with(Label(*reference));
  v1::SupportResponse answer;
  {
    grpc::ClientContext context;
    grpc::Status s = research->GetSustainedSupport(&context, request, &answer);
    ASSERT_TRUE(s.ok()) << s.error_message();
  }
  ASSERT_EQ(answer.groups_size(), plain.groups_size());
  const v1::Comparison& c = answer.comparison();
  EXPECT_EQ(c.reference(), Label(*reference));
  ASSERT_EQ(c.groups_size(), answer.groups_size() - 1);

  size_t suppressed_groups = 0, tests = 0, absent_tests = 0, differences = 0, absent_differences = 0;
  int compared = 0;
  for (const v1::SupportGroup& g : answer.groups()) {
    // Intervals exactly where their figures are.
    EXPECT_EQ(g.has_survival_12m(), g.has_survival_12m_ci()) << Label(g);
    EXPECT_EQ(g.has_rmst_24m_days(), g.has_rmst_24m_ci()) << Label(g);
    for (const v1::RetentionFigure& f : g.retention()) {
      if (!f.has_mean_retention()) EXPECT_FALSE(f.has_mean_retention_ci()) << Label(g);
    }
    if (!g.has_cases()) {
      ++suppressed_groups;
      EXPECT_EQ(g.curve_size(), 0);
      EXPECT_FALSE(g.has_survival_12m_ci());
    } else {
      ASSERT_GT(g.curve_size(), 0);
      EXPECT_EQ(g.curve(0).day(), 0u);
    }
    if (Label(g) == Label(*reference)) continue;
    const v1::GroupComparison& gc = c.groups(compared++);
    ASSERT_EQ(gc.group(), Label(g));
    for (const v1::Difference& d : gc.differences()) {
      EXPECT_EQ(d.has_estimate(), d.has_ci());
      (d.has_estimate() ? differences : absent_differences) += 1;
      if (d.measure() == "survival_12m") {
        EXPECT_EQ(d.has_estimate(), g.has_survival_12m() && reference->has_survival_12m()) << Label(g);
      }
      if (d.measure() == "rmst_24m_days") {
        EXPECT_EQ(d.has_estimate(), g.has_rmst_24m_days() && reference->has_rmst_24m_days()) << Label(g);
      }
    }
    if (g.has_cases()) {
      EXPECT_TRUE(gc.log_rank().has_p_value()) << gc.log_rank().absent_reason();
      ++tests;
    } else {
      EXPECT_FALSE(gc.log_rank().has_chi_square());
      EXPECT_EQ(gc.log_rank().absent_reason(), "a group's cases are suppressed (fewer than k)");
      ++absent_tests;
    }
  }
  // The cohort is small enough that k = 10 suppresses some pairs, and large
  // enough that others are compared.
  EXPECT_GT(suppressed_groups, 0u);
  EXPECT_GT(tests, 0u);
  EXPECT_GT(absent_tests, 0u);
  EXPECT_GT(differences, 0u);
  EXPECT_GT(absent_differences, 0u);
  EXPECT_FALSE(c.log_rank_all().has_chi_square());
  EXPECT_FALSE(c.log_rank_all().absent_reason().empty());

  // Refusals name the field.
  for (const auto& [then_by, compare_with, field] :
       {std::tuple{v1::GROUPING_YEAR, std::string(), std::string("then_by")},
        std::tuple{v1::GROUPING_DOMAIN, std::string("2022"), std::string("compare_with")}}) {
    v1::SupportRequest bad = request;
    bad.set_then_by(then_by);
    bad.set_compare_with(compare_with);
    grpc::ClientContext context;
    v1::SupportResponse ignored;
    grpc::Status s = research->GetSustainedSupport(&context, bad, &ignored);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_EQ(s.error_message().rfind(field + ": ", 0), 0u) << s.error_message();
  }
}

}  // namespace
}  // namespace kring
