// kringctl's commands for researchers, over kring.v1.ResearchService
// (proto/kring/v1/research.proto, docs/research.md):
//   kringctl research network-size   network size per conference
//   kringctl research outcomes       outcomes per 100 referrals and per 100 conferences
//   kringctl research cost-benefit   conference costs and savings from a cost model
//   kringctl research support        two-year sustained support: retention, Kaplan–Meier
//   kringctl research funnel         referral to accepted plan, stop reasons, right to a plan
//   kringctl network-size            the same as `research network-size` (the demo's command)
// Every command takes the same selection flags (--domain, --legal-framework,
// --municipality, --referred-from/--referred-to, --conference-from/
// --conference-to, --group-by, --min-cell-size, --as-of) and prints a
// readable table, one tidy CSV table (--format csv, --table NAME) or the
// answer as JSON (--format json). Exit codes: 0 success; 1 the server refused
// (its message names the field); 2 bad usage; 3 unreachable or timed out.
// See cli/README.md.
#pragma once

#include <CLI/CLI.hpp>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cli/console.h"
#include "kring/v1/research.pb.h"

namespace kring::client {

// Registers `research …` and `network-size` on a CLI11 app; runs the one given.
// Not thread-safe; used once from main.
class ResearchCommands {
 public:
  // `connect` (the global --server, --tls-*, --token, --purpose flags) is
  // read when a command runs; a command's own --server takes precedence.
  ResearchCommands(CLI::App& app, const ConnectOptions& connect);
  ~ResearchCommands();

  // True when the parsed command line names one of these commands.
  bool parsed() const;
  // Runs that command; returns the exit code.
  int Run();

  struct Args;  // the parsed options (research_commands.cc)

 private:
  const ConnectOptions& connect_;
  std::unique_ptr<Args> args_;
};

// Pure formatting and parsing helpers of the research commands (no server
// involved), declared here so that tests/research_cli_test.cc can test them.
namespace research {

// A table cell for a count: the number, or "<k" for a primary and "x" for a
// secondary suppression; "-" when absent without a reason.
std::string CountCell(std::optional<uint64_t> value, v1::Suppression suppression);
// A derived figure (mean, share, …): printf `format` applied to the value, or
// "-" when absent.
std::string DerivedCell(std::optional<double> value, const char* format);
// A share as a percentage with one decimal ("42.5%"), or "-".
std::string PercentCell(std::optional<double> share);
// A figure with its 95% confidence interval, as tables print it:
// "12.3 [10.1, 14.8]" (printf `format` for the figure and both bounds, each
// multiplied by `scale`, `suffix` after the figure); the figure alone when
// `ci` is null (absent); "-" when the figure is absent.
std::string IntervalCell(std::optional<double> value, const v1::ConfidenceInterval* ci, const char* format,
                         double scale = 1, const char* suffix = "");
// The legend of the table cells above.
extern const char kLegend[];

// 1234567 -> "1,234,567"; -1234 -> "-1,234".
std::string Thousands(int64_t value);
// Euro cents as whole euros with thousands separators, rounded half away
// from zero: 123456789 -> "EUR 1,234,568"; "-" when absent.
std::string EuroCell(std::optional<int64_t> cents);
// Euro cents as a CSV number of euros: 123456789 -> "1234567.89"; "" when absent.
std::string EuroCsv(std::optional<int64_t> cents);

// "primary", "secondary", or "" (SUPPRESSION_NONE): the CSV `suppression` column.
std::string SuppressionCsv(v1::Suppression suppression);
// One CSV field: quoted (with quotes doubled) when it holds a comma, quote or newline.
std::string CsvField(const std::string& field);
// A number for CSV: the shortest text that reads back as the same double; "" when absent.
std::string DoubleCsv(std::optional<double> value);

// An enum value without its type's prefix: DOMAIN_HOUSING -> HOUSING.
std::string ShortEnumName(const google::protobuf::EnumValueDescriptor* value);
// Parses an enum value name the way a person types it: "YOUTH_PROTECTION",
// "youth_protection", "youth-protection" or "DOMAIN_YOUTH_PROTECTION". The
// UNSPECIFIED value is refused. nullopt when no value matches.
std::optional<int> ParseEnumName(const google::protobuf::EnumDescriptor* type, const std::string& text);
// "year", "quarter", "domain", "municipality", "legal-framework" (any case,
// '_' or '-'); nullopt otherwise.
std::optional<v1::Grouping> ParseGrouping(const std::string& text);
// True for a valid calendar date written "YYYY-MM-DD".
bool IsDate(const std::string& text);

// The first lines of every CSV export: one line per Provenance field, in the
// proto's order, "# <field>: <value>\n" (pandas.read_csv(path, comment="#")
// skips them).
std::string ProvenanceCsvLines(const v1::Provenance& provenance);
// A group's label: its key, or "key/key2" with a second grouping.
std::string GroupLabel(const std::string& key, const std::string& key2);
// --compare-with as typed, into the label the server compares with: each
// "/"-separated part that names a domain or legal framework (by the grouping
// in its place) in its full enum name ("housing" -> "DOMAIN_HOUSING"); other
// parts as typed.
std::string CompareWithLabel(const std::string& text, v1::Grouping group_by, v1::Grouping then_by);
// The comparison of an answer (compare_with) as a CSV table: reference,
// group, measure, item, estimate, ci_lower, ci_upper, method.
std::string ComparisonCsv(const v1::Comparison& comparison);
// The log-rank tests of a support answer's comparison as a CSV table: test
// ("pairwise" or "all"), groups (" vs "-joined), chi_square,
// degrees_of_freedom, p_value, absent_reason.
std::string LogRankCsv(const v1::Comparison& comparison);

// A text table with aligned columns: the first column left-aligned, the
// others right-aligned, unless a column's header starts with '<' (then
// left-aligned, the '<' dropped).
class TextTable {
 public:
  explicit TextTable(std::vector<std::string> headers);
  void AddRow(std::vector<std::string> cells);  // fewer cells than columns: the rest empty
  // The table, a line per row, each line `indent` spaces in; no trailing spaces.
  std::string Render(int indent = 0) const;
  // For other renderings (the HTML report): the headers without their '<',
  // whether each column is left-aligned, the rows.
  const std::vector<std::string>& headers() const { return headers_; }
  const std::vector<bool>& left_aligned() const { return left_; }
  const std::vector<std::vector<std::string>>& rows() const { return rows_; }

 private:
  std::vector<std::string> headers_;
  std::vector<bool> left_;
  std::vector<std::vector<std::string>> rows_;
};

// A table with its title (empty: none), as the text output prints it.
struct TitledTable {
  std::string title;
  TextTable table;
};
// The tables of each answer, in the order the text output prints them (the
// HTML report renders the same). Group labels are shortened
// (DOMAIN_HOUSING -> HOUSING; "2023/HOUSING" with a second grouping).
std::vector<TitledTable> NetworkSizeTables(const v1::NetworkSizeResponse& r);
std::vector<TitledTable> OutcomesTables(const v1::OutcomesResponse& r);
std::vector<TitledTable> CostBenefitTables(const v1::CostBenefitResponse& r);
std::vector<TitledTable> SupportTables(const v1::SupportResponse& r);
std::vector<TitledTable> FunnelTables(const v1::FunnelResponse& r);
// A support group's Kaplan–Meier table.
TextTable CurveTable(const v1::SupportGroup& g);
// The differences and (support) log-rank tests of a comparison; none when
// the answer has no comparison.
std::vector<TitledTable> ComparisonTables(const v1::Comparison& c);

}  // namespace research
}  // namespace kring::client
