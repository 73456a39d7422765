// The formatting and parsing helpers of `kringctl research …`
// (cli/research_commands.h); no server involved.
#include <gtest/gtest.h>

#include <limits>

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

}  // namespace
}  // namespace kring::client::research
