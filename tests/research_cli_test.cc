// The formatting and parsing helpers of `kringctl research …`
// (cli/research_commands.h); no server involved.
#include <gtest/gtest.h>

#include <limits>
#include <tuple>

#include "cli/report_html.h"
#include "cli/research_commands.h"

namespace kring::client::research {
namespace {

TEST(ResearchCliTest, CountCellShowsSuppressionReason) {
  EXPECT_EQ(CountCell(1234, v1::SUPPRESSION_NONE), "1,234");
  EXPECT_EQ(CountCell(0, v1::SUPPRESSION_NONE), "0");
  EXPECT_EQ(CountCell(std::nullopt, v1::SUPPRESSION_PRIMARY), "<k");
  EXPECT_EQ(CountCell(std::nullopt, v1::SUPPRESSION_SECONDARY), "x");
  EXPECT_EQ(CountCell(std::nullopt, v1::SUPPRESSION_NONE), "-");
}

TEST(ResearchCliTest, DerivedFiguresPrintDashWhenAbsent) {
  EXPECT_EQ(DerivedCell(3.14159, "%.2f"), "3.14");
  EXPECT_EQ(DerivedCell(std::nullopt, "%.2f"), "-");
  EXPECT_EQ(PercentCell(0.425), "42.5%");
  EXPECT_EQ(PercentCell(std::nullopt), "-");
}

TEST(ResearchCliTest, ThousandsSeparators) {
  EXPECT_EQ(Thousands(0), "0");
  EXPECT_EQ(Thousands(999), "999");
  EXPECT_EQ(Thousands(1000), "1,000");
  EXPECT_EQ(Thousands(1234567), "1,234,567");
  EXPECT_EQ(Thousands(-1234), "-1,234");
  EXPECT_EQ(Thousands(std::numeric_limits<int64_t>::min()), "-9,223,372,036,854,775,808");
}

TEST(ResearchCliTest, EurosRoundToWholeEurosInTablesAndKeepCentsInCsv) {
  EXPECT_EQ(EuroCell(123456789), "EUR 1,234,568");
  EXPECT_EQ(EuroCell(400000), "EUR 4,000");
  EXPECT_EQ(EuroCell(49), "EUR 0");
  EXPECT_EQ(EuroCell(-150), "EUR -2");
  EXPECT_EQ(EuroCell(-20), "EUR 0");
  EXPECT_EQ(EuroCell(std::nullopt), "-");
  EXPECT_EQ(EuroCsv(123456789), "1234567.89");
  EXPECT_EQ(EuroCsv(-5), "-0.05");
  EXPECT_EQ(EuroCsv(std::nullopt), "");
}

TEST(ResearchCliTest, CsvFieldsAndSuppressionColumn) {
  EXPECT_EQ(CsvField("GM0363"), "GM0363");
  EXPECT_EQ(CsvField("a,b"), "\"a,b\"");
  EXPECT_EQ(CsvField("say \"hi\""), "\"say \"\"hi\"\"\"");
  EXPECT_EQ(SuppressionCsv(v1::SUPPRESSION_NONE), "");
  EXPECT_EQ(SuppressionCsv(v1::SUPPRESSION_PRIMARY), "primary");
  EXPECT_EQ(SuppressionCsv(v1::SUPPRESSION_SECONDARY), "secondary");
  EXPECT_EQ(DoubleCsv(0.1), "0.1");
  EXPECT_EQ(DoubleCsv(2.0), "2");
  EXPECT_EQ(DoubleCsv(1.0 / 3), "0.3333333333333333");
  EXPECT_EQ(DoubleCsv(std::nullopt), "");
}

TEST(ResearchCliTest, EnumNamesParseAsPeopleTypeThem) {
  const auto* domain = v1::Domain_descriptor();
  EXPECT_EQ(ParseEnumName(domain, "YOUTH_PROTECTION"), v1::DOMAIN_YOUTH_PROTECTION);
  EXPECT_EQ(ParseEnumName(domain, "youth_protection"), v1::DOMAIN_YOUTH_PROTECTION);
  EXPECT_EQ(ParseEnumName(domain, "youth-protection"), v1::DOMAIN_YOUTH_PROTECTION);
  EXPECT_EQ(ParseEnumName(domain, "DOMAIN_HOUSING"), v1::DOMAIN_HOUSING);
  EXPECT_EQ(ParseEnumName(domain, "UNSPECIFIED"), std::nullopt);
  EXPECT_EQ(ParseEnumName(domain, "gardening"), std::nullopt);
  EXPECT_EQ(ParseEnumName(domain, ""), std::nullopt);
  EXPECT_EQ(ParseEnumName(v1::LegalFramework_descriptor(), "wmo"), v1::LEGAL_FRAMEWORK_WMO);
  EXPECT_EQ(ShortEnumName(v1::Domain_descriptor()->FindValueByNumber(v1::DOMAIN_MULTI_PROBLEM)), "MULTI_PROBLEM");
  EXPECT_EQ(ShortEnumName(v1::Suppression_descriptor()->FindValueByNumber(v1::SUPPRESSION_PRIMARY)), "PRIMARY");
}

TEST(ResearchCliTest, GroupingParses) {
  EXPECT_EQ(ParseGrouping("year"), v1::GROUPING_YEAR);
  EXPECT_EQ(ParseGrouping("QUARTER"), v1::GROUPING_QUARTER);
  EXPECT_EQ(ParseGrouping("legal-framework"), v1::GROUPING_LEGAL_FRAMEWORK);
  EXPECT_EQ(ParseGrouping("legal_framework"), v1::GROUPING_LEGAL_FRAMEWORK);
  EXPECT_EQ(ParseGrouping("month"), std::nullopt);
  EXPECT_EQ(ParseGrouping("unspecified"), std::nullopt);
}

TEST(ResearchCliTest, DatesMustBeRealCalendarDays) {
  EXPECT_TRUE(IsDate("2024-02-29"));
  EXPECT_FALSE(IsDate("2023-02-29"));
  EXPECT_FALSE(IsDate("2023-13-01"));
  EXPECT_FALSE(IsDate("2023-1-01"));
  EXPECT_FALSE(IsDate("01-01-2023"));
  EXPECT_FALSE(IsDate(""));
}

TEST(ResearchCliTest, TextTableAlignsColumns) {
  TextTable t({"group", "<name", "cases"});
  t.AddRow({"all", "x", "1,234"});
  t.AddRow({"2023-Q1", "longer", "<k"});
  EXPECT_EQ(t.Render(),
            "group    name    cases\n"
            "all      x       1,234\n"
            "2023-Q1  longer     <k\n");
  TextTable short_row({"a", "b"});
  short_row.AddRow({"1"});
  EXPECT_EQ(short_row.Render(2), "  a  b\n  1\n");
}

v1::ConfidenceInterval Ci(double lower, double upper) {
  v1::ConfidenceInterval ci;
  ci.set_lower(lower);
  ci.set_upper(upper);
  return ci;
}

TEST(ResearchCliTest, IntervalsPrintAfterTheirFigureInBrackets) {
  const auto ci = Ci(10.14, 14.8);
  EXPECT_EQ(IntervalCell(12.34, &ci, "%.1f"), "12.3 [10.1, 14.8]");
  EXPECT_EQ(IntervalCell(12.34, nullptr, "%.1f"), "12.3");
  EXPECT_EQ(IntervalCell(std::nullopt, &ci, "%.1f"), "-");
  const auto share = Ci(0.401, 0.449);
  EXPECT_EQ(IntervalCell(0.425, &share, "%.1f", 100, "%"), "42.5% [40.1, 44.9]");
}

TEST(ResearchCliTest, CsvStartsWithOneProvenanceLinePerField) {
  v1::Provenance p;
  p.set_log_position(81401);
  p.set_min_cell_size(10);
  p.set_disclosure_method("threshold suppression, cell key (kring-ptable-1)");
  p.set_filters_json("{\"group_by\":\"GROUPING_YEAR\"}");
  p.set_definition_version("support/2");
  p.set_answer_sha256(std::string(64, 'a'));
  p.set_server_version("0.1.0 (git 123456789abc)");
  EXPECT_EQ(ProvenanceCsvLines(p),
            "# log_position: 81401\n"
            "# min_cell_size: 10\n"
            "# disclosure_method: threshold suppression, cell key (kring-ptable-1)\n"
            "# filters_json: {\"group_by\":\"GROUPING_YEAR\"}\n"
            "# definition_version: support/2\n"
            "# cost_model_version: \n"
            "# answer_sha256: " +
                std::string(64, 'a') +
                "\n"
                "# server_version: 0.1.0 (git 123456789abc)\n");
}

TEST(ResearchCliTest, CompareWithTakesShortNamesForDomainsAndLegalFrameworks) {
  EXPECT_EQ(CompareWithLabel("housing", v1::GROUPING_DOMAIN, v1::GROUPING_UNSPECIFIED), "DOMAIN_HOUSING");
  EXPECT_EQ(CompareWithLabel("DOMAIN_HOUSING", v1::GROUPING_DOMAIN, v1::GROUPING_UNSPECIFIED), "DOMAIN_HOUSING");
  EXPECT_EQ(CompareWithLabel("2023/youth-protection", v1::GROUPING_YEAR, v1::GROUPING_DOMAIN),
            "2023/DOMAIN_YOUTH_PROTECTION");
  EXPECT_EQ(CompareWithLabel("jeugdwet/GM0363", v1::GROUPING_LEGAL_FRAMEWORK, v1::GROUPING_MUNICIPALITY),
            "LEGAL_FRAMEWORK_JEUGDWET/GM0363");
  // Not a value: as typed (the server names compare_with and the rule).
  EXPECT_EQ(CompareWithLabel("nowhere", v1::GROUPING_DOMAIN, v1::GROUPING_UNSPECIFIED), "nowhere");
  EXPECT_EQ(GroupLabel("2023", ""), "2023");
  EXPECT_EQ(GroupLabel("2023", "DOMAIN_HOUSING"), "2023/DOMAIN_HOUSING");
}

v1::Comparison SomeComparison() {
  v1::Comparison c;
  c.set_reference("2022");
  auto* g = c.add_groups();
  g->set_group("2023");
  auto* d = g->add_differences();
  d->set_measure("survival_12m");
  d->set_estimate(-0.05);
  *d->mutable_ci() = Ci(-0.125, 0.025);
  d->set_method("normal, Greenwood variances");
  auto* absent = g->add_differences();
  absent->set_measure("rmst_24m_days");
  absent->set_method("normal, RMST variances");
  g->mutable_log_rank()->add_groups("2023");
  g->mutable_log_rank()->add_groups("2022");
  g->mutable_log_rank()->set_chi_square(1.5);
  g->mutable_log_rank()->set_degrees_of_freedom(1);
  g->mutable_log_rank()->set_p_value(0.2207);
  c.mutable_log_rank_all()->add_groups("2022");
  c.mutable_log_rank_all()->add_groups("2023");
  c.mutable_log_rank_all()->set_degrees_of_freedom(1);
  c.mutable_log_rank_all()->set_absent_reason("a group's cases are suppressed");
  return c;
}

TEST(ResearchCliTest, ComparisonsAndLogRankTestsAsCsvAndTables) {
  const v1::Comparison c = SomeComparison();
  EXPECT_EQ(ComparisonCsv(c),
            "reference,group,measure,item,estimate,ci_lower,ci_upper,method\n"
            "2022,2023,survival_12m,,-0.05,-0.125,0.025,\"normal, Greenwood variances\"\n"
            "2022,2023,rmst_24m_days,,,,,\"normal, RMST variances\"\n");
  EXPECT_EQ(LogRankCsv(c),
            "test,groups,chi_square,degrees_of_freedom,p_value,absent_reason\n"
            "pairwise,2023 vs 2022,1.5,1,0.2207,\n"
            "all,2022 vs 2023,,1,,a group's cases are suppressed\n");
  const auto tables = ComparisonTables(c);
  ASSERT_EQ(tables.size(), 2u);
  EXPECT_EQ(tables[0].title, "Comparison with 2022 (group minus reference)");
  EXPECT_EQ(tables[0].table.rows()[0][3], "-0.050 [-0.125, 0.025]");
  EXPECT_EQ(tables[0].table.rows()[1][3], "-");
  EXPECT_EQ(tables[1].table.rows()[0][2], "1.500");
  EXPECT_EQ(tables[1].table.rows()[1][2], "- (a group's cases are suppressed)");
  EXPECT_TRUE(ComparisonTables(v1::Comparison()).empty());
}

TEST(ResearchCliTest, TwoWayGroupsShowBothKeysAndTheirIntervals) {
  v1::NetworkSizeResponse r;
  auto* g = r.add_groups();
  g->set_key("2023");
  g->set_key2("DOMAIN_HOUSING");
  g->mutable_stats()->set_conferences(40);
  g->mutable_stats()->set_mean(7.25);
  *g->mutable_stats()->mutable_mean_ci() = Ci(6.5, 8.0);
  const auto tables = NetworkSizeTables(r);
  ASSERT_GE(tables.size(), 1u);
  ASSERT_EQ(tables[0].table.rows().size(), 2u);  // all, then the pair
  EXPECT_EQ(tables[0].table.rows()[1][0], "2023/HOUSING");
  EXPECT_EQ(tables[0].table.rows()[1][2], "7.25 [6.50, 8.00]");

  v1::SupportResponse s;
  s.mutable_overall()->set_rmst_24m_days(612.25);
  *s.mutable_overall()->mutable_rmst_24m_ci() = Ci(590.0, 634.5);
  const auto support = SupportTables(s);
  EXPECT_EQ(support[0].table.headers().back(), "RMST 24m (days)");
  EXPECT_EQ(support[0].table.rows()[0].back(), "612.2 [590.0, 634.5]");
}

TEST(ResearchCliTest, TheReportEscapesEveryTextAndDrawsTheCurveAsSteps) {
  EXPECT_EQ(report::HtmlEscape("<b>\"A&B's\"</b>"), "&lt;b&gt;&quot;A&amp;B&#39;s&quot;&lt;/b&gt;");
  v1::SupportGroup g;
  EXPECT_EQ(report::KaplanMeierSvg(g, "all"), "");  // no curve, no chart
  for (auto [day, s, lo, hi] : {std::tuple{0u, 1.0, 1.0, 1.0}, {365u, 0.5, 0.25, 0.75}, {730u, 0.25, 0.0, 0.5}}) {
    auto* row = g.add_curve();
    row->set_day(day);
    row->set_survival(s);
    row->set_lower_95(lo);
    row->set_upper_95(hi);
  }
  const std::string svg = report::KaplanMeierSvg(g, "<2023>");
  // x: 44 + 484 * day / 730; y: 12 + 214 * (1 - S).
  EXPECT_NE(svg.find("class=\"km-curve\" d=\"M44.00,12.00 H286.00 V119.00 H528.00 V172.50\""), std::string::npos)
      << svg;
  EXPECT_NE(svg.find("<polygon class=\"km-band\" points=\"44.00,12.00 286.00,12.00 286.00,65.50 528.00,65.50 "
                     "528.00,119.00 528.00,119.00 528.00,226.00 528.00,226.00 528.00,172.50 286.00,172.50 "
                     "286.00,12.00 44.00,12.00 \""),
            std::string::npos)
      << svg;
  EXPECT_NE(svg.find("&lt;2023&gt;"), std::string::npos);
  EXPECT_EQ(svg.find("<2023>"), std::string::npos);

  report::ReportAnswers answers;
  answers.support.set_definition("<script>alert('x')</script>");
  answers.network_size.mutable_provenance()->set_filters_json("{\"municipality_codes\":[\"<x>\"]}");
  const std::string page = report::RenderReport(answers);
  EXPECT_EQ(page.find("<script"), std::string::npos);
  EXPECT_NE(page.find("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"), std::string::npos);
  EXPECT_NE(page.find("{&quot;municipality_codes&quot;:[&quot;&lt;x&gt;&quot;]}"), std::string::npos);
}

}  // namespace
}  // namespace kring::client::research
