#include "cli/research_commands.h"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/util/json_util.h>
#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <sstream>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/civil_time.h"
#include "cli/console.h"
#include "cli/report_html.h"
#include "common/version.h"
#include "kring/v1/research.grpc.pb.h"

namespace kring::client {

// ---------------------------------------------------------------------------
// Formatting helpers
// ---------------------------------------------------------------------------

namespace research {

const char kLegend[] =
    "Legend: <k fewer than k cases (primary suppression); x suppressed so that no total reveals a <k cell "
    "(secondary suppression); - not available (derived from a suppressed figure)";

std::string CountCell(std::optional<uint64_t> value, v1::Suppression suppression) {
  if (value) return Thousands(static_cast<int64_t>(*value));
  switch (suppression) {
    case v1::SUPPRESSION_PRIMARY:
      return "<k";
    case v1::SUPPRESSION_SECONDARY:
      return "x";
    default:
      return "-";
  }
}

std::string DerivedCell(std::optional<double> value, const char* format) {
  if (!value) return "-";
  char buf[64];
  std::snprintf(buf, sizeof(buf), format, *value);
  return buf;
}

std::string PercentCell(std::optional<double> share) {
  if (!share) return "-";
  return DerivedCell(100 * *share, "%.1f") + "%";
}

std::string Thousands(int64_t value) {
  // Through uint64_t so that INT64_MIN has a magnitude.
  uint64_t magnitude = value < 0 ? 0 - static_cast<uint64_t>(value) : static_cast<uint64_t>(value);
  std::string digits = std::to_string(magnitude);
  std::string out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return value < 0 ? "-" + out : out;
}

std::string EuroCell(std::optional<int64_t> cents) {
  if (!cents) return "-";
  const int64_t c = *cents;
  const uint64_t magnitude = c < 0 ? 0 - static_cast<uint64_t>(c) : static_cast<uint64_t>(c);
  const std::string euros = Thousands(static_cast<int64_t>((magnitude + 50) / 100));
  return c < 0 && magnitude >= 50 ? "EUR -" + euros : "EUR " + euros;
}

std::string EuroCsv(std::optional<int64_t> cents) {
  if (!cents) return "";
  const int64_t c = *cents;
  const uint64_t magnitude = c < 0 ? 0 - static_cast<uint64_t>(c) : static_cast<uint64_t>(c);
  char buf[48];
  std::snprintf(buf, sizeof(buf), "%s%llu.%02llu", c < 0 ? "-" : "", static_cast<unsigned long long>(magnitude / 100),
                static_cast<unsigned long long>(magnitude % 100));
  return buf;
}

std::string SuppressionCsv(v1::Suppression suppression) {
  switch (suppression) {
    case v1::SUPPRESSION_PRIMARY:
      return "primary";
    case v1::SUPPRESSION_SECONDARY:
      return "secondary";
    default:
      return "";
  }
}

std::string CsvField(const std::string& field) {
  if (field.find_first_of(",\"\r\n") == std::string::npos) return field;
  std::string out = "\"";
  for (char c : field) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

std::string DoubleCsv(std::optional<double> value) {
  if (!value) return "";
  if (!std::isfinite(*value)) return std::isnan(*value) ? "NaN" : (*value > 0 ? "Inf" : "-Inf");
  char buf[40];
  for (int precision = 6; precision <= 17; ++precision) {
    std::snprintf(buf, sizeof(buf), "%.*g", precision, *value);
    if (std::strtod(buf, nullptr) == *value) break;
  }
  return buf;
}

std::string ShortEnumName(const google::protobuf::EnumValueDescriptor* value) {
  std::string prefix = value->type()->value(0)->name();  // e.g. DOMAIN_UNSPECIFIED
  const size_t at = prefix.rfind("UNSPECIFIED");
  prefix = at == std::string::npos ? "" : prefix.substr(0, at);
  // Suppression's first value is SUPPRESSION_NONE: its prefix is SUPPRESSION_.
  if (prefix.empty() && value->type()->value(0)->name().rfind("_NONE") != std::string::npos) {
    const std::string& first = value->type()->value(0)->name();
    prefix = first.substr(0, first.rfind("NONE"));
  }
  const std::string& name = value->name();
  return !prefix.empty() && name.rfind(prefix, 0) == 0 ? name.substr(prefix.size()) : name;
}

namespace {

// "youth-protection" -> "YOUTH_PROTECTION".
std::string Canonical(const std::string& text) {
  std::string out;
  for (char c : text) out += c == '-' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

std::string Lower(std::string text) {
  for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text;
}

}  // namespace

std::optional<int> ParseEnumName(const google::protobuf::EnumDescriptor* type, const std::string& text) {
  const std::string key = Canonical(text);
  if (key.empty()) return std::nullopt;
  for (int i = 0; i < type->value_count(); ++i) {
    const auto* v = type->value(i);
    if (v->number() == 0) continue;  // UNSPECIFIED is never a filter
    if (v->name() == key || ShortEnumName(v) == key) return v->number();
  }
  return std::nullopt;
}

std::optional<v1::Grouping> ParseGrouping(const std::string& text) {
  const std::string key = Canonical(text);
  if (key.empty() || key == "UNSPECIFIED" || key == "GROUPING_UNSPECIFIED") return std::nullopt;
  auto value = ParseEnumName(v1::Grouping_descriptor(), key);
  if (!value) return std::nullopt;
  return static_cast<v1::Grouping>(*value);
}

bool IsDate(const std::string& text) {
  if (text.size() != 10 || text[4] != '-' || text[7] != '-') return false;
  for (size_t i : {0, 1, 2, 3, 5, 6, 8, 9}) {
    if (!std::isdigit(static_cast<unsigned char>(text[i]))) return false;
  }
  absl::CivilDay day;
  // A civil day normalises 2023-02-30 to March: only a date that formats back to itself is valid.
  return absl::ParseCivilTime(text, &day) && absl::FormatCivilTime(day) == text;
}

std::string IntervalCell(std::optional<double> value, const v1::ConfidenceInterval* ci, const char* format,
                         double scale, const char* suffix) {
  if (!value) return "-";
  std::string out = DerivedCell(*value * scale, format) + suffix;
  if (ci != nullptr) {
    absl::StrAppend(&out, " [", DerivedCell(ci->lower() * scale, format), ", ",
                    DerivedCell(ci->upper() * scale, format), "]");
  }
  return out;
}

std::string ProvenanceCsvLines(const v1::Provenance& provenance) {
  std::string out;
  const auto* d = v1::Provenance::descriptor();
  const auto* r = provenance.GetReflection();
  for (int i = 0; i < d->field_count(); ++i) {
    const auto* f = d->field(i);
    std::string value;
    switch (f->cpp_type()) {
      case google::protobuf::FieldDescriptor::CPPTYPE_UINT64:
        value = std::to_string(r->GetUInt64(provenance, f));
        break;
      case google::protobuf::FieldDescriptor::CPPTYPE_UINT32:
        value = std::to_string(r->GetUInt32(provenance, f));
        break;
      default:
        value = r->GetString(provenance, f);
    }
    // One line each: a value never carries a line break into the table.
    for (char& c : value) {
      if (c == '\n' || c == '\r') c = ' ';
    }
    absl::StrAppend(&out, "# ", f->name(), ": ", value, "\n");
  }
  return out;
}

std::string GroupLabel(const std::string& key, const std::string& key2) {
  return key2.empty() ? key : key + "/" + key2;
}

std::string CompareWithLabel(const std::string& text, v1::Grouping group_by, v1::Grouping then_by) {
  std::vector<std::string> parts = absl::StrSplit(text, '/');
  const v1::Grouping groupings[] = {group_by, then_by};
  for (size_t i = 0; i < parts.size() && i < 2; ++i) {
    const google::protobuf::EnumDescriptor* type = groupings[i] == v1::GROUPING_DOMAIN ? v1::Domain_descriptor()
                                                   : groupings[i] == v1::GROUPING_LEGAL_FRAMEWORK
                                                       ? v1::LegalFramework_descriptor()
                                                       : nullptr;
    if (type == nullptr) continue;
    if (auto v = ParseEnumName(type, parts[i])) parts[i] = type->FindValueByNumber(*v)->name();
  }
  return absl::StrJoin(parts, "/");
}

std::string ComparisonCsv(const v1::Comparison& comparison) {
  std::string out = "reference,group,measure,item,estimate,ci_lower,ci_upper,method\n";
  for (const auto& g : comparison.groups()) {
    for (const auto& d : g.differences()) {
      const bool has = d.has_estimate();
      absl::StrAppend(&out, CsvField(comparison.reference()), ",", CsvField(g.group()), ",", CsvField(d.measure()), ",",
                      CsvField(d.item()), ",", has ? DoubleCsv(d.estimate()) : "", ",",
                      has && d.has_ci() ? DoubleCsv(d.ci().lower()) : "", ",",
                      has && d.has_ci() ? DoubleCsv(d.ci().upper()) : "", ",", CsvField(d.method()), "\n");
    }
  }
  return out;
}

std::string LogRankCsv(const v1::Comparison& comparison) {
  std::string out = "test,groups,chi_square,degrees_of_freedom,p_value,absent_reason\n";
  auto row = [&out](const char* test, const v1::LogRankTest& t) {
    absl::StrAppend(&out, test, ",", CsvField(absl::StrJoin(t.groups(), " vs ")), ",",
                    t.has_chi_square() ? DoubleCsv(t.chi_square()) : "", ",", t.degrees_of_freedom(), ",",
                    t.has_p_value() ? DoubleCsv(t.p_value()) : "", ",", CsvField(t.absent_reason()), "\n");
  };
  for (const auto& g : comparison.groups()) {
    if (g.has_log_rank()) row("pairwise", g.log_rank());
  }
  if (comparison.has_log_rank_all()) row("all", comparison.log_rank_all());
  return out;
}

TextTable::TextTable(std::vector<std::string> headers) {
  for (size_t i = 0; i < headers.size(); ++i) {
    std::string& h = headers[i];
    const bool left = i == 0 || (!h.empty() && h[0] == '<');
    if (!h.empty() && h[0] == '<') h.erase(0, 1);
    left_.push_back(left);
  }
  headers_ = std::move(headers);
}

void TextTable::AddRow(std::vector<std::string> cells) {
  cells.resize(headers_.size());
  rows_.push_back(std::move(cells));
}

std::string TextTable::Render(int indent) const {
  std::vector<size_t> widths(headers_.size());
  for (size_t i = 0; i < headers_.size(); ++i) widths[i] = headers_[i].size();
  for (const auto& row : rows_) {
    for (size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], row[i].size());
  }
  std::string out;
  auto line = [&](const std::vector<std::string>& cells) {
    std::string l(static_cast<size_t>(std::max(indent, 0)), ' ');
    for (size_t i = 0; i < cells.size(); ++i) {
      if (i > 0) l += "  ";
      const std::string pad(widths[i] - cells[i].size(), ' ');
      l += left_[i] ? cells[i] + pad : pad + cells[i];
    }
    while (!l.empty() && l.back() == ' ') l.pop_back();
    out += l + "\n";
  };
  line(headers_);
  for (const auto& row : rows_) line(row);
  return out;
}

}  // namespace research

// ---------------------------------------------------------------------------
// The commands
// ---------------------------------------------------------------------------

namespace {

using namespace research;  // NOLINT: the helpers above

constexpr char kOverall[] = "all";

enum class Model { kNetworkSize, kOutcomes, kCostBenefit, kSupport, kFunnel };

// The CSV tables of each model; the first is the default.
std::vector<std::string> CsvTables(Model model) {
  switch (model) {
    case Model::kNetworkSize:
      return {"stats", "histogram", "composition", "comparison"};
    case Model::kOutcomes:
      return {"outcomes", "groups", "comparison"};
    case Model::kCostBenefit:
      return {"groups", "lines", "comparison"};
    case Model::kSupport:
      return {"retention", "curve", "groups", "comparison", "log-rank"};
    case Model::kFunnel:
      return {"steps", "stop-reasons", "plan-right", "comparison"};
  }
  return {};
}

template <typename T>
std::optional<T> Opt(bool has, T value) {
  return has ? std::optional<T>(value) : std::nullopt;
}

// A group key as a table shows it: DOMAIN_HOUSING -> HOUSING; each part of
// "key/key2".
std::string Label(const std::string& key) {
  if (key.empty()) return kOverall;
  if (const size_t slash = key.find('/'); slash != std::string::npos) {
    return Label(key.substr(0, slash)) + "/" + Label(key.substr(slash + 1));
  }
  for (const char* prefix : {"DOMAIN_", "LEGAL_FRAMEWORK_"}) {
    if (key.rfind(prefix, 0) == 0) return key.substr(std::strlen(prefix));
  }
  return key;
}

std::string Name(const google::protobuf::EnumValueDescriptor* v) { return v ? ShortEnumName(v) : "?"; }

// The header: what was asked, how far the read model is, what disclosure control did.
void PrintHeader(const char* title, const char* read_model, const v1::ReadModelWatermark& w, uint64_t as_of,
                 const v1::DisclosureReport& d) {
  std::string line = absl::StrCat(title, " | read model '", read_model, "': ", Thousands(w.events_applied()),
                                  " events applied, up to position ", w.max_global_position());
  if (as_of) absl::StrAppend(&line, " | as of position ", as_of);
  absl::StrAppend(&line, " | disclosure: k = ", d.min_cell_size(), ", ", d.primary_cells() + d.secondary_cells(),
                  " figures suppressed (", d.primary_cells(), " primary, ", d.secondary_cells(), " secondary)");
  if (!d.method().empty()) {
    absl::StrAppend(&line, " | ", d.method(), " perturbation (", d.ptable_version(), "): counts within +-",
                    d.max_count_perturbation(), ", sums ", d.sum_rule());
  }
  std::printf("%s\n%s\n\n", line.c_str(), kLegend);
}

void PrintDefinition(const std::string& definition) {
  if (!definition.empty()) std::printf("\nDefinition: %s\n", definition.c_str());
}

// The answer's provenance in one line, to cite it (docs/research.md "Provenance").
void PrintProvenance(const v1::Provenance& p) {
  if (p.answer_sha256().empty()) return;
  std::printf(
      "\nProvenance: log position %llu, k = %u, %s, definition %s%s%s, kringd %s, filters %s, answer sha256 %s\n",
      static_cast<unsigned long long>(p.log_position()), p.min_cell_size(), p.disclosure_method().c_str(),
      p.definition_version().c_str(), p.cost_model_version().empty() ? "" : ", cost model ",
      p.cost_model_version().c_str(), p.server_version().c_str(), p.filters_json().c_str(), p.answer_sha256().c_str());
}

// Prints tables as the text output does: a blank line between tables, each
// table's title (if any) on the line before it.
void PrintTables(const std::vector<TitledTable>& tables) {
  for (size_t i = 0; i < tables.size(); ++i) {
    if (i > 0) std::printf("\n");
    if (!tables[i].title.empty()) std::printf("%s\n", tables[i].title.c_str());
    std::fputs(tables[i].table.Render().c_str(), stdout);
  }
}

// The comparison (compare_with) after an answer's tables.
void PrintComparison(const v1::Comparison& c) {
  const std::vector<TitledTable> tables = ComparisonTables(c);
  if (tables.empty()) return;
  std::printf("\n");
  PrintTables(tables);
}

// --- CSV, by reflection: a column per scalar field, named as in the proto ---

// A CSV table: rows of (group label, the messages whose scalar fields fill the row).
struct CsvRows {
  std::vector<const google::protobuf::Descriptor*> types;
  std::vector<std::pair<std::string, std::vector<const google::protobuf::Message*>>> rows;
  // Not empty: the whole table, already formatted (the comparison tables).
  std::string text;
};

bool IsScalar(const google::protobuf::FieldDescriptor* f) {
  return !f->is_repeated() && f->cpp_type() != google::protobuf::FieldDescriptor::CPPTYPE_MESSAGE &&
         f->name() != "key" && f->name() != "key2";
}

// A ConfidenceInterval field: two columns, <name>_lower and <name>_upper.
bool IsInterval(const google::protobuf::FieldDescriptor* f) {
  return !f->is_repeated() && f->message_type() == v1::ConfidenceInterval::descriptor();
}

std::string CsvValue(const google::protobuf::Message& m, const google::protobuf::FieldDescriptor* f) {
  using FD = google::protobuf::FieldDescriptor;
  const auto* r = m.GetReflection();
  if (f->has_presence() && !r->HasField(m, f)) return "";  // suppressed, or derived from a suppressed figure
  switch (f->cpp_type()) {
    case FD::CPPTYPE_INT32:
      return std::to_string(r->GetInt32(m, f));
    case FD::CPPTYPE_INT64:
      return std::to_string(r->GetInt64(m, f));
    case FD::CPPTYPE_UINT32:
      return std::to_string(r->GetUInt32(m, f));
    case FD::CPPTYPE_UINT64:
      return std::to_string(r->GetUInt64(m, f));
    case FD::CPPTYPE_DOUBLE:
      return DoubleCsv(r->GetDouble(m, f));
    case FD::CPPTYPE_FLOAT:
      return DoubleCsv(r->GetFloat(m, f));
    case FD::CPPTYPE_BOOL:
      return r->GetBool(m, f) ? "true" : "false";
    case FD::CPPTYPE_ENUM: {
      const auto* v = r->GetEnum(m, f);
      if (f->enum_type() == v1::Suppression_descriptor())
        return SuppressionCsv(static_cast<v1::Suppression>(v->number()));
      return Lower(ShortEnumName(v));
    }
    case FD::CPPTYPE_STRING:
      return r->GetString(m, f);
    default:
      return "";
  }
}

// The provenance lines, then the table. With a second grouping (`two_way`)
// the label splits into the columns group and group2.
void PrintCsv(const v1::Provenance& provenance, const CsvRows& t, bool two_way) {
  std::string out = ProvenanceCsvLines(provenance);
  if (!t.text.empty()) {
    out += t.text;
    std::fwrite(out.data(), 1, out.size(), stdout);
    return;
  }
  std::vector<std::string> header = {"group"};
  if (two_way) header.push_back("group2");
  for (const auto* type : t.types) {
    for (int i = 0; i < type->field_count(); ++i) {
      const auto* f = type->field(i);
      if (IsScalar(f)) header.push_back(f->name());
      if (IsInterval(f)) {
        header.push_back(f->name() + "_lower");
        header.push_back(f->name() + "_upper");
      }
    }
  }
  absl::StrAppend(&out, absl::StrJoin(header, ","), "\n");
  for (const auto& [group, messages] : t.rows) {
    std::vector<std::string> cells;
    if (two_way) {
      const size_t slash = group.find('/');
      cells.push_back(CsvField(group.substr(0, slash)));
      cells.push_back(CsvField(slash == std::string::npos ? "" : group.substr(slash + 1)));
    } else {
      cells.push_back(CsvField(group));
    }
    for (size_t k = 0; k < t.types.size(); ++k) {
      for (int i = 0; i < t.types[k]->field_count(); ++i) {
        const auto* f = t.types[k]->field(i);
        if (IsScalar(f)) cells.push_back(CsvField(CsvValue(*messages[k], f)));
        if (IsInterval(f)) {
          const auto* r = messages[k]->GetReflection();
          const bool has = r->HasField(*messages[k], f);
          const auto& ci = static_cast<const v1::ConfidenceInterval&>(r->GetMessage(*messages[k], f));
          cells.push_back(has ? DoubleCsv(ci.lower()) : "");
          cells.push_back(has ? DoubleCsv(ci.upper()) : "");
        }
      }
    }
    absl::StrAppend(&out, absl::StrJoin(cells, ","), "\n");
  }
  std::fwrite(out.data(), 1, out.size(), stdout);
}

// The overall row as "all", then the groups: (label, group message); the
// label is "key/key2" with a second grouping.
template <typename Group, typename Response>
std::vector<std::pair<std::string, const Group*>> Groups(const Response& r) {
  std::vector<std::pair<std::string, const Group*>> out = {{kOverall, &r.overall()}};
  for (const auto& g : r.groups()) out.emplace_back(GroupLabel(g.key(), g.key2()), &g);
  return out;
}

// One CSV row per element of a repeated child of every group.
template <typename Group, typename Response, typename Children>
CsvRows NestedCsv(const Response& r, const google::protobuf::Descriptor* type, Children children) {
  CsvRows t{{type}, {}, ""};
  for (const auto& [label, g] : Groups<Group>(r)) {
    for (const auto& child : children(*g)) t.rows.push_back({label, {&child}});
  }
  return t;
}

// The comparison tables every model offers in CSV.
std::optional<CsvRows> ComparisonCsvRows(const v1::Comparison& c, const std::string& table) {
  if (table == "comparison") return CsvRows{{}, {}, ComparisonCsv(c)};
  if (table == "log-rank") return CsvRows{{}, {}, LogRankCsv(c)};
  return std::nullopt;
}

}  // namespace

// --- The tables of each answer (text output and the HTML report) ---

namespace research {

std::vector<TitledTable> NetworkSizeTables(const v1::NetworkSizeResponse& r) {
  std::vector<TitledTable> out;
  TextTable stats({"group", "conferences", "mean", "median", "p10", "p25", "p75", "p90", "central persons"});
  auto row = [&stats](const std::string& label, const v1::NetworkSizeStats& s) {
    stats.AddRow({label, CountCell(Opt(s.has_conferences(), s.conferences()), s.suppression()),
                  IntervalCell(Opt(s.has_mean(), s.mean()), s.has_mean_ci() ? &s.mean_ci() : nullptr, "%.2f"),
                  DerivedCell(Opt(s.has_median(), s.median()), "%.1f"), DerivedCell(Opt(s.has_p10(), s.p10()), "%.1f"),
                  DerivedCell(Opt(s.has_p25(), s.p25()), "%.1f"), DerivedCell(Opt(s.has_p75(), s.p75()), "%.1f"),
                  DerivedCell(Opt(s.has_p90(), s.p90()), "%.1f"),
                  IntervalCell(Opt(s.has_central_persons_mean(), s.central_persons_mean()),
                               s.has_central_persons_mean_ci() ? &s.central_persons_mean_ci() : nullptr, "%.2f")});
  };
  row(kOverall, r.overall());
  for (const auto& g : r.groups()) row(Label(GroupLabel(g.key(), g.key2())), g.stats());
  out.push_back({"", std::move(stats)});

  const auto& s = r.overall();
  TextTable composition({"relation", "attendees", "per conference", "share", "conferences"});
  for (const auto& c : s.composition()) {
    std::string name = c.relation() == v1::RELATION_UNSPECIFIED
                           ? "unknown (not invited)"
                           : Name(v1::Relation_descriptor()->FindValueByNumber(c.relation()));
    composition.AddRow(
        {name, CountCell(Opt(c.has_attendees(), c.attendees()), c.suppression()),
         IntervalCell(Opt(c.has_mean_per_conference(), c.mean_per_conference()),
                      c.has_mean_per_conference_ci() ? &c.mean_per_conference_ci() : nullptr, "%.2f"),
         IntervalCell(Opt(c.has_share(), c.share()), c.has_share_ci() ? &c.share_ci() : nullptr, "%.1f", 100, "%"),
         CountCell(Opt(c.has_conferences(), c.conferences()), c.suppression())});
  }
  out.push_back({"Composition (all conferences)", std::move(composition)});

  uint64_t peak = 1;
  for (const auto& b : s.histogram()) peak = std::max<uint64_t>(peak, b.has_conferences() ? b.conferences() : 0);
  TextTable histogram({"size", "conferences", "<"});
  for (const auto& b : s.histogram()) {
    const uint64_t n = b.has_conferences() ? b.conferences() : 0;
    histogram.AddRow({absl::StrCat(b.size(), b.size() >= 30 ? "+" : ""),
                      CountCell(Opt(b.has_conferences(), b.conferences()), b.suppression()),
                      std::string(static_cast<size_t>(50.0 * n / peak), '#')});
  }
  out.push_back({"Histogram (all conferences; size 30 counts 30 and more)", std::move(histogram)});
  return out;
}

std::vector<TitledTable> OutcomesTables(const v1::OutcomesResponse& r) {
  const auto groups = Groups<v1::OutcomeGroup>(r);
  TextTable cohorts({"group", "referred", "conferences"});
  for (const auto& [label, g] : groups) {
    cohorts.AddRow({Label(label), CountCell(Opt(g->has_referred(), g->referred()), g->referred_suppression()),
                    CountCell(Opt(g->has_conferences(), g->conferences()), g->conferences_suppression())});
  }
  TextTable outcomes(
      {"group", "<outcome", "referred cases", "per 100 referrals", "conference cases", "per 100 conferences"});
  for (const auto& [label, g] : groups) {
    for (const auto& o : g->outcomes()) {
      outcomes.AddRow({Label(label), Name(v1::OutcomeType_descriptor()->FindValueByNumber(o.outcome())),
                       CountCell(Opt(o.has_referred_cases(), o.referred_cases()), o.referred_suppression()),
                       IntervalCell(Opt(o.has_per_100_referrals(), o.per_100_referrals()),
                                    o.has_per_100_referrals_ci() ? &o.per_100_referrals_ci() : nullptr, "%.1f"),
                       CountCell(Opt(o.has_conference_cases(), o.conference_cases()), o.conference_suppression()),
                       IntervalCell(Opt(o.has_per_100_conferences(), o.per_100_conferences()),
                                    o.has_per_100_conferences_ci() ? &o.per_100_conferences_ci() : nullptr, "%.1f")});
    }
  }
  std::vector<TitledTable> out;
  out.push_back({"", std::move(cohorts)});
  out.push_back({"", std::move(outcomes)});
  return out;
}

std::vector<TitledTable> CostBenefitTables(const v1::CostBenefitResponse& r) {
  const auto groups = Groups<v1::CostBenefitGroup>(r);
  TextTable table({"group", "conferences", "with recorded cost", "conference costs", "gross savings", "of which domain",
                   "net savings", "net per conference"});
  for (const auto& [label, g] : groups) {
    table.AddRow({Label(label), CountCell(Opt(g->has_conferences(), g->conferences()), g->conferences_suppression()),
                  CountCell(Opt(g->has_conferences_with_recorded_cost(), g->conferences_with_recorded_cost()),
                            v1::SUPPRESSION_NONE),
                  EuroCell(Opt(g->has_conference_costs_cents(), g->conference_costs_cents())),
                  EuroCell(Opt(g->has_gross_savings_cents(), g->gross_savings_cents())),
                  EuroCell(Opt(g->has_domain_savings_cents(), g->domain_savings_cents())),
                  EuroCell(Opt(g->has_net_savings_cents(), g->net_savings_cents())),
                  EuroCell(Opt(g->has_net_savings_per_conference_cents(), g->net_savings_per_conference_cents()))});
  }
  TextTable lines({"group", "<outcome", "cases", "units", "savings"});
  for (const auto& [label, g] : groups) {
    for (const auto& l : g->lines()) {
      lines.AddRow({Label(label), Name(v1::OutcomeType_descriptor()->FindValueByNumber(l.outcome())),
                    CountCell(Opt(l.has_cases(), l.cases()), l.suppression()),
                    CountCell(Opt(l.has_units(), l.units()), v1::SUPPRESSION_NONE),
                    EuroCell(Opt(l.has_savings_cents(), l.savings_cents()))});
    }
  }
  std::vector<TitledTable> out;
  out.push_back({"", std::move(table)});
  out.push_back({"Savings per outcome (completer cases)", std::move(lines)});
  return out;
}

std::vector<TitledTable> SupportTables(const v1::SupportResponse& r) {
  const auto groups = Groups<v1::SupportGroup>(r);
  // The columns: the months of the overall row's retention figures (6, 12, 24).
  std::vector<uint32_t> months;
  for (const auto& f : r.overall().retention()) months.push_back(f.months());
  std::vector<std::string> headers = {"group", "cases"};
  for (uint32_t mo : months) {
    headers.push_back(absl::StrCat("n ", mo, "m"));
    headers.push_back(absl::StrCat("retention ", mo, "m"));
  }
  headers.push_back("S(12m)");
  headers.push_back("S(24m)");
  headers.push_back("RMST 24m (days)");
  TextTable retention(headers);
  for (const auto& [label, g] : groups) {
    std::vector<std::string> cells = {Label(label), CountCell(Opt(g->has_cases(), g->cases()), g->suppression())};
    for (uint32_t mo : months) {
      const v1::RetentionFigure* figure = nullptr;
      for (const auto& f : g->retention()) {
        if (f.months() == mo) figure = &f;
      }
      cells.push_back(figure ? CountCell(Opt(figure->has_cases(), figure->cases()), figure->suppression()) : "-");
      cells.push_back(figure ? IntervalCell(Opt(figure->has_mean_retention(), figure->mean_retention()),
                                            figure->has_mean_retention_ci() ? &figure->mean_retention_ci() : nullptr,
                                            "%.3f")
                             : "-");
    }
    cells.push_back(IntervalCell(Opt(g->has_survival_12m(), g->survival_12m()),
                                 g->has_survival_12m_ci() ? &g->survival_12m_ci() : nullptr, "%.3f"));
    cells.push_back(IntervalCell(Opt(g->has_survival_24m(), g->survival_24m()),
                                 g->has_survival_24m_ci() ? &g->survival_24m_ci() : nullptr, "%.3f"));
    cells.push_back(IntervalCell(Opt(g->has_rmst_24m_days(), g->rmst_24m_days()),
                                 g->has_rmst_24m_ci() ? &g->rmst_24m_ci() : nullptr, "%.1f"));
    retention.AddRow(std::move(cells));
  }
  std::vector<TitledTable> out;
  out.push_back({"Mean retention of the support network at follow-ups near 6, 12 and 24 months", std::move(retention)});
  return out;
}

TextTable CurveTable(const v1::SupportGroup& g) {
  TextTable curve({"day", "at risk", "events", "censored", "survival", "95% band"});
  for (const auto& row : g.curve()) {
    char band[48];
    std::snprintf(band, sizeof(band), "%.3f-%.3f", row.lower_95(), row.upper_95());
    curve.AddRow({std::to_string(row.day()), Thousands(row.at_risk()), Thousands(row.events()),
                  Thousands(row.censored()), DerivedCell(row.survival(), "%.3f"), band});
  }
  return curve;
}

std::vector<TitledTable> FunnelTables(const v1::FunnelResponse& r) {
  const auto groups = Groups<v1::FunnelGroup>(r);
  TextTable steps({"group", "<step", "cases", "share of referred", "median days from previous"});
  for (const auto& [label, g] : groups) {
    for (const auto& s : g->steps()) {
      steps.AddRow({Label(label), Name(v1::FunnelStep_descriptor()->FindValueByNumber(s.step())),
                    CountCell(Opt(s.has_cases(), s.cases()), s.suppression()),
                    IntervalCell(Opt(s.has_share_of_referred(), s.share_of_referred()),
                                 s.has_share_of_referred_ci() ? &s.share_of_referred_ci() : nullptr, "%.1f", 100, "%"),
                    DerivedCell(Opt(s.has_median_days_from_previous(), s.median_days_from_previous()), "%.1f")});
    }
  }
  TextTable stops({"group", "<reason", "cases"});
  for (const auto& [label, g] : groups) {
    for (const auto& s : g->stop_reasons()) {
      stops.AddRow({Label(label), Name(v1::PreparationStopReason_descriptor()->FindValueByNumber(s.reason())),
                    CountCell(Opt(s.has_cases(), s.cases()), s.suppression())});
    }
  }
  TextTable plan(
      {"group", "protection cases", "plan offered", "share offered", "plan made", "share made", "plans rejected"});
  for (const auto& [label, g] : groups) {
    const auto& p = g->plan_right();
    plan.AddRow({Label(label),
                 CountCell(Opt(p.has_protection_cases(), p.protection_cases()), p.protection_suppression()),
                 CountCell(Opt(p.has_plan_offered(), p.plan_offered()), p.offered_suppression()),
                 IntervalCell(Opt(p.has_share_offered(), p.share_offered()),
                              p.has_share_offered_ci() ? &p.share_offered_ci() : nullptr, "%.1f", 100, "%"),
                 CountCell(Opt(p.has_plan_made(), p.plan_made()), p.made_suppression()),
                 IntervalCell(Opt(p.has_share_made(), p.share_made()),
                              p.has_share_made_ci() ? &p.share_made_ci() : nullptr, "%.1f", 100, "%"),
                 CountCell(Opt(g->has_plan_rejected(), g->plan_rejected()), g->plan_rejected_suppression())});
  }
  std::vector<TitledTable> out;
  out.push_back({"", std::move(steps)});
  out.push_back({"Stop reasons (preparation stopped before a conference)", std::move(stops)});
  out.push_back({"The right to a plan (cases referred with a threatened protection measure)", std::move(plan)});
  return out;
}

namespace {

std::string LogRankCell(const v1::LogRankTest& t, bool p_value) {
  if (!t.absent_reason().empty()) return p_value ? "-" : "- (" + t.absent_reason() + ")";
  if (p_value) return t.has_p_value() ? DerivedCell(t.p_value(), "%.4g") : "-";
  return t.has_chi_square() ? DerivedCell(t.chi_square(), "%.3f") : "-";
}

}  // namespace

std::vector<TitledTable> ComparisonTables(const v1::Comparison& c) {
  std::vector<TitledTable> out;
  if (c.reference().empty()) return out;
  TextTable differences({"<group", "<measure", "<item", "difference [95% CI]", "<method"});
  for (const auto& g : c.groups()) {
    for (const auto& d : g.differences()) {
      differences.AddRow({Label(g.group()), d.measure(), d.item(),
                          IntervalCell(Opt(d.has_estimate(), d.estimate()), d.has_ci() ? &d.ci() : nullptr, "%.3f"),
                          d.method()});
    }
  }
  out.push_back({"Comparison with " + Label(c.reference()) + " (group minus reference)", std::move(differences)});
  bool log_rank = c.has_log_rank_all();
  for (const auto& g : c.groups()) log_rank = log_rank || g.has_log_rank();
  if (log_rank) {
    TextTable tests({"<test", "<groups", "chi-square", "df", "p"});
    for (const auto& g : c.groups()) {
      if (!g.has_log_rank()) continue;
      tests.AddRow({"log-rank", absl::StrJoin(g.log_rank().groups(), " vs "), LogRankCell(g.log_rank(), false),
                    std::to_string(g.log_rank().degrees_of_freedom()), LogRankCell(g.log_rank(), true)});
    }
    if (c.has_log_rank_all()) {
      tests.AddRow({"log-rank (all)", absl::StrJoin(c.log_rank_all().groups(), " vs "),
                    LogRankCell(c.log_rank_all(), false), std::to_string(c.log_rank_all().degrees_of_freedom()),
                    LogRankCell(c.log_rank_all(), true)});
    }
    out.push_back({"Log-rank tests of the Kaplan-Meier curves (support held)", std::move(tests)});
  }
  return out;
}

}  // namespace research

namespace {

// --- Network size ---

void PrintNetworkSizeTable(const v1::NetworkSizeResponse& r) {
  PrintHeader("Network size per conference", "network-size", r.watermark(), r.as_of_position(), r.disclosure());
  PrintTables(NetworkSizeTables(r));
  PrintComparison(r.comparison());
  PrintDefinition(r.definition());
  PrintProvenance(r.provenance());
}

CsvRows NetworkSizeCsv(const v1::NetworkSizeResponse& r, const std::string& table) {
  if (auto c = ComparisonCsvRows(r.comparison(), table)) return *c;
  std::vector<std::pair<std::string, const v1::NetworkSizeStats*>> groups = {{kOverall, &r.overall()}};
  for (const auto& g : r.groups()) groups.emplace_back(GroupLabel(g.key(), g.key2()), &g.stats());
  CsvRows t;
  if (table == "stats") {
    t.types = {v1::NetworkSizeStats::descriptor()};
    for (const auto& [label, s] : groups) t.rows.push_back({label, {s}});
  } else if (table == "histogram") {
    t.types = {v1::HistogramBin::descriptor()};
    for (const auto& [label, s] : groups) {
      for (const auto& b : s->histogram()) t.rows.push_back({label, {&b}});
    }
  } else {
    t.types = {v1::RelationShare::descriptor()};
    for (const auto& [label, s] : groups) {
      for (const auto& c : s->composition()) t.rows.push_back({label, {&c}});
    }
  }
  return t;
}

// --- Outcomes ---

void PrintOutcomesTable(const v1::OutcomesResponse& r) {
  PrintHeader("Outcomes per referral cohort and per held conference", "outcomes", r.watermark(), r.as_of_position(),
              r.disclosure());
  PrintTables(OutcomesTables(r));
  PrintComparison(r.comparison());
  PrintDefinition(r.definition());
  PrintProvenance(r.provenance());
}

CsvRows OutcomesCsv(const v1::OutcomesResponse& r, const std::string& table) {
  if (auto c = ComparisonCsvRows(r.comparison(), table)) return *c;
  if (table == "groups") {
    CsvRows t{{v1::OutcomeGroup::descriptor()}, {}, ""};
    for (const auto& [label, g] : Groups<v1::OutcomeGroup>(r)) t.rows.push_back({label, {g}});
    return t;
  }
  return NestedCsv<v1::OutcomeGroup>(
      r, v1::OutcomeFigure::descriptor(), [](const v1::OutcomeGroup& g) -> const auto& { return g.outcomes(); });
}

// --- Cost–benefit ---

void PrintCostBenefitTable(const v1::CostBenefitResponse& r) {
  PrintHeader("Cost-benefit of the held conferences", "outcomes", r.watermark(), r.as_of_position(), r.disclosure());
  const auto& m = r.cost_model();
  std::printf(
      "Cost model %s (%s): a conference costs %s where the case records no cost; professional input fell by "
      "%.0f%% (reported, not priced)\n\n",
      m.version().empty() ? "(unversioned)" : m.version().c_str(), m.currency().empty() ? "EUR" : m.currency().c_str(),
      EuroCell(m.conference_cost_cents()).c_str(), 100 * m.professional_input_reduction());
  PrintTables(CostBenefitTables(r));
  PrintComparison(r.comparison());
  PrintDefinition(r.definition());
  PrintProvenance(r.provenance());
}

CsvRows CostBenefitCsv(const v1::CostBenefitResponse& r, const std::string& table) {
  if (auto c = ComparisonCsvRows(r.comparison(), table)) return *c;
  if (table == "lines") {
    return NestedCsv<v1::CostBenefitGroup>(
        r, v1::SavingLine::descriptor(), [](const v1::CostBenefitGroup& g) -> const auto& { return g.lines(); });
  }
  CsvRows t{{v1::CostBenefitGroup::descriptor()}, {}, ""};
  for (const auto& [label, g] : Groups<v1::CostBenefitGroup>(r)) t.rows.push_back({label, {g}});
  return t;
}

// --- Sustained support ---

void PrintCurve(const std::string& label, const v1::SupportGroup& g) {
  std::printf("\nKaplan-Meier: support held, days since the first conference (%s)\n", label.c_str());
  if (g.curve().empty()) {
    std::printf("  no curve: %s\n",
                g.has_cases() ? "no rows with at least k cases at risk" : "the cases are suppressed");
  } else {
    std::fputs(CurveTable(g).Render().c_str(), stdout);
  }
  std::printf("S(12m) = %s, S(24m) = %s%s\n", DerivedCell(Opt(g.has_survival_12m(), g.survival_12m()), "%.3f").c_str(),
              DerivedCell(Opt(g.has_survival_24m(), g.survival_24m()), "%.3f").c_str(),
              g.curve_truncated() ? " (curve truncated: later rows had fewer than k cases at risk)" : "");
}

void PrintSupportTable(const v1::SupportResponse& r, bool curves) {
  PrintHeader("Two-year sustained support", "support", r.watermark(), r.as_of_position(), r.disclosure());
  PrintTables(SupportTables(r));
  PrintCurve(kOverall, r.overall());
  if (curves) {
    for (const auto& g : r.groups()) PrintCurve(Label(GroupLabel(g.key(), g.key2())), g);
  }
  PrintComparison(r.comparison());
  PrintDefinition(r.definition());
  PrintProvenance(r.provenance());
}

CsvRows SupportCsv(const v1::SupportResponse& r, const std::string& table) {
  if (auto c = ComparisonCsvRows(r.comparison(), table)) return *c;
  if (table == "curve") {
    return NestedCsv<v1::SupportGroup>(
        r, v1::SurvivalRow::descriptor(), [](const v1::SupportGroup& g) -> const auto& { return g.curve(); });
  }
  if (table == "groups") {
    CsvRows t{{v1::SupportGroup::descriptor()}, {}, ""};
    for (const auto& [label, g] : Groups<v1::SupportGroup>(r)) t.rows.push_back({label, {g}});
    return t;
  }
  return NestedCsv<v1::SupportGroup>(
      r, v1::RetentionFigure::descriptor(), [](const v1::SupportGroup& g) -> const auto& { return g.retention(); });
}

// --- Funnel ---

void PrintFunnelTable(const v1::FunnelResponse& r) {
  PrintHeader("Funnel and the right to a plan", "funnel", r.watermark(), r.as_of_position(), r.disclosure());
  PrintTables(FunnelTables(r));
  PrintComparison(r.comparison());
  PrintDefinition(r.definition());
  PrintProvenance(r.provenance());
}

CsvRows FunnelCsv(const v1::FunnelResponse& r, const std::string& table) {
  if (auto c = ComparisonCsvRows(r.comparison(), table)) return *c;
  if (table == "stop-reasons") {
    return NestedCsv<v1::FunnelGroup>(
        r, v1::StopReasonFigure::descriptor(),
        [](const v1::FunnelGroup& g) -> const auto& { return g.stop_reasons(); });
  }
  if (table == "plan-right") {
    CsvRows t{{v1::PlanRightFigures::descriptor(), v1::FunnelGroup::descriptor()}, {}, ""};
    for (const auto& [label, g] : Groups<v1::FunnelGroup>(r)) t.rows.push_back({label, {&g->plan_right(), g}});
    return t;
  }
  return NestedCsv<v1::FunnelGroup>(
      r, v1::FunnelStepFigure::descriptor(), [](const v1::FunnelGroup& g) -> const auto& { return g.steps(); });
}

}  // namespace

// ---------------------------------------------------------------------------
// Options and running
// ---------------------------------------------------------------------------

struct ResearchCommands::Args {
  struct Command {
    CLI::App* app = nullptr;
    Model model;
    std::string name;  // for messages: "research outcomes", "network-size"
    CLI::Option* server = nullptr;
  };
  std::vector<Command> commands;

  ConnectOptions connect;  // the global flags, with the command's own --server
  std::string server;
  std::vector<std::string> domains, legal_frameworks, municipalities;
  std::string referred_from, referred_to, conference_from, conference_to;
  std::string group_by;
  std::string then_by, compare_with;
  uint32_t min_cell_size = 0;
  uint64_t as_of = 0;
  std::string format = "table";
  bool json = false;  // network-size's --json of old: --format json
  std::string table;
  uint64_t wait_events = 0;
  int timeout_s = 60;
  // support
  uint32_t window_days = 0;
  double lapse_threshold = 0;
  std::string data_cutoff;
  bool curves = false;
  // cost-benefit
  std::string cost_model_file;
  // report
  CLI::App* report = nullptr;
  CLI::Option* report_server = nullptr;
  std::string out;
};

namespace {

using Args = ResearchCommands::Args;

int Usage(const std::string& command, const std::string& message) {
  std::cerr << "kringctl " << command << ": " << message << "\n";
  return kExitUsage;
}

std::string ValueList(const google::protobuf::EnumDescriptor* type) {
  std::vector<std::string> names;
  for (int i = 0; i < type->value_count(); ++i) {
    if (type->value(i)->number() != 0) names.push_back(ShortEnumName(type->value(i)));
  }
  return absl::StrJoin(names, ", ");
}

// Fills the selection fields (1-8) that every request shares; an exit code on bad flags.
template <typename Request>
std::optional<int> FillSelection(const Args& a, const std::string& command, Request* request) {
  for (const auto& d : a.domains) {
    auto v = ParseEnumName(v1::Domain_descriptor(), d);
    if (!v)
      return Usage(command, absl::StrCat("--domain: unknown domain \"", d, "\" (one of ",
                                         ValueList(v1::Domain_descriptor()), ")"));
    request->add_domains(static_cast<v1::Domain>(*v));
  }
  for (const auto& f : a.legal_frameworks) {
    auto v = ParseEnumName(v1::LegalFramework_descriptor(), f);
    if (!v)
      return Usage(command, absl::StrCat("--legal-framework: unknown legal framework \"", f, "\" (one of ",
                                         ValueList(v1::LegalFramework_descriptor()), ")"));
    request->add_legal_frameworks(static_cast<v1::LegalFramework>(*v));
  }
  for (const auto& m : a.municipalities) request->add_municipality_codes(m);
  const std::pair<const char*, const std::string*> dates[] = {{"--referred-from", &a.referred_from},
                                                              {"--referred-to", &a.referred_to},
                                                              {"--conference-from", &a.conference_from},
                                                              {"--conference-to", &a.conference_to}};
  for (const auto& [flag, value] : dates) {
    if (!value->empty() && !IsDate(*value)) {
      return Usage(command, absl::StrCat(flag, ": \"", *value, "\" is not a date YYYY-MM-DD"));
    }
  }
  if (!a.referred_from.empty() || !a.referred_to.empty()) {
    request->mutable_referral_period()->set_from(a.referred_from);
    request->mutable_referral_period()->set_to(a.referred_to);
  }
  if (!a.conference_from.empty() || !a.conference_to.empty()) {
    request->mutable_conference_period()->set_from(a.conference_from);
    request->mutable_conference_period()->set_to(a.conference_to);
  }
  if (!a.group_by.empty()) {
    auto g = ParseGrouping(a.group_by);
    if (!g) return Usage(command, "--group-by: one of year, quarter, domain, municipality, legal-framework");
    request->set_group_by(*g);
  }
  if (!a.then_by.empty()) {
    auto g = ParseGrouping(a.then_by);
    if (!g) return Usage(command, "--then-by: one of year, quarter, domain, municipality, legal-framework");
    request->set_then_by(*g);
  }
  if (!a.compare_with.empty()) {
    request->set_compare_with(CompareWithLabel(a.compare_with, request->group_by(), request->then_by()));
  }
  if (a.min_cell_size > 0 && a.min_cell_size < 5) {
    return Usage(command, "--min-cell-size: k is never below 5 (0 or absent: the server's default, 10)");
  }
  if (a.min_cell_size) request->mutable_disclosure()->set_min_cell_size(a.min_cell_size);
  request->set_as_of_position(a.as_of);
  return std::nullopt;
}

template <typename Request, typename Response>
using Method = grpc::Status (v1::ResearchService::Stub::*)(grpc::ClientContext*, const Request&, Response*);

// Asks until the answer's watermark reflects --wait-events events (at most --timeout seconds).
template <typename Request, typename Response>
int Query(const Args& a, const std::string& command, Method<Request, Response> method, const Request& request,
          Response* response) {
  auto channel = Connect(a.connect);
  if (!channel.ok()) return ConnectFailed(command, channel.status());
  auto stub = v1::ResearchService::NewStub(*channel);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(a.timeout_s);
  while (true) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(std::max(a.timeout_s, 10)));
    response->Clear();
    grpc::Status s = ((*stub).*method)(&context, request, response);
    if (!s.ok()) {
      std::cerr << "kringctl " << command << ": " << ErrorText(s) << "\n";
      return ExitFor(s);
    }
    if (response->watermark().events_applied() >= a.wait_events) return 0;
    if (std::chrono::steady_clock::now() > deadline) {
      std::cerr << "kringctl " << command << ": read model reflects " << response->watermark().events_applied()
                << " events, not " << a.wait_events << ", after " << a.timeout_s << " s\n";
      return kExitUnreachable;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
}

void PrintJson(const google::protobuf::Message& m) {
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = true;
  options.always_print_primitive_fields = false;  // suppressed optionals stay absent
  options.preserve_proto_field_names = true;
  std::string out;
  (void)google::protobuf::util::MessageToJsonString(m, &out, options);
  std::cout << out;
}

// Runs one model: the request, the query, the answer in the chosen format.
template <typename Request, typename Response>
int RunModel(const Args& a, const Args::Command& c, Request request, Method<Request, Response> method,
             const std::function<void(const Response&)>& print_table,
             const std::function<CsvRows(const Response&, const std::string&)>& csv) {
  if (auto code = FillSelection(a, c.name, &request)) return *code;
  const std::string format = a.json ? "json" : a.format;
  std::string table = a.table;
  const auto tables = CsvTables(c.model);
  if (table.empty()) table = tables.front();
  if (!a.table.empty() && format != "csv") return Usage(c.name, "--table: only with --format csv");
  Response response;
  if (int code = Query(a, c.name, method, request, &response); code != 0) return code;
  if (format == "json") {
    PrintJson(response);
  } else if (format == "csv") {
    PrintCsv(response.provenance(), csv(response, table), request.then_by() != v1::GROUPING_UNSPECIFIED);
  } else {
    print_table(response);
  }
  return 0;
}

std::optional<int> ReadCostModel(const Args& a, const std::string& command, v1::CostModel* model) {
  std::ifstream in(a.cost_model_file, std::ios::binary);
  if (!in) return Usage(command, absl::StrCat("--cost-model: cannot read ", a.cost_model_file));
  std::stringstream text;
  text << in.rdbuf();
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = true;  // e.g. the file's "note"
  auto status = google::protobuf::util::JsonStringToMessage(text.str(), model, options);
  if (!status.ok()) {
    return Usage(command, absl::StrCat("--cost-model: ", a.cost_model_file,
                                       " is not a CostModel in JSON: ", std::string(status.message())));
  }
  return std::nullopt;
}

// kringctl research report: asks the five answers with the same selection
// and writes them as one HTML page (cli/report_html.h).
int RunReport(const Args& a) {
  const std::string command = "research report";
  report::ReportAnswers answers;
  v1::NetworkSizeRequest network_size;
  v1::OutcomesRequest outcomes;
  v1::CostBenefitRequest cost_benefit;
  v1::SupportRequest support;
  v1::FunnelRequest funnel;
  if (auto code = FillSelection(a, command, &network_size)) return *code;
  if (auto code = FillSelection(a, command, &outcomes)) return *code;
  if (auto code = FillSelection(a, command, &cost_benefit)) return *code;
  if (auto code = FillSelection(a, command, &support)) return *code;
  if (auto code = FillSelection(a, command, &funnel)) return *code;
  if (int code = Query(a, command, &v1::ResearchService::Stub::GetNetworkSize, network_size, &answers.network_size))
    return code;
  if (int code = Query(a, command, &v1::ResearchService::Stub::GetOutcomes, outcomes, &answers.outcomes)) return code;
  if (int code = Query(a, command, &v1::ResearchService::Stub::GetCostBenefit, cost_benefit, &answers.cost_benefit))
    return code;
  if (int code = Query(a, command, &v1::ResearchService::Stub::GetSustainedSupport, support, &answers.support))
    return code;
  if (int code = Query(a, command, &v1::ResearchService::Stub::GetFunnel, funnel, &answers.funnel)) return code;
  answers.selection = "Selection (every answer): " + answers.funnel.provenance().filters_json() +
                      "; k = " + std::to_string(answers.funnel.disclosure().min_cell_size());
  answers.generator = std::string("Written by kringctl ") + kring::Version();
  const std::string html = report::RenderReport(answers);
  std::ofstream out(a.out, std::ios::binary | std::ios::trunc);
  out << html;
  out.close();
  if (!out) {
    std::cerr << "kringctl " << command << ": cannot write " << a.out << "\n";
    return kExitUsage;
  }
  std::cerr << "kringctl " << command << ": wrote " << a.out << " (" << html.size() << " bytes)\n";
  return 0;
}

}  // namespace

ResearchCommands::ResearchCommands(CLI::App& app, const ConnectOptions& connect)
    : connect_(connect), args_(std::make_unique<Args>()) {
  Args& a = *args_;
  auto* research = app.add_subcommand("research", "research read models as tables, CSV or JSON (ResearchService)");
  research->require_subcommand(1);

  // The selection flags every research command (and the report) takes.
  auto add_selection = [&a](CLI::App* cmd, bool network) {
    cmd->add_option("--domain", a.domains,
                    "filter: domain, e.g. YOUTH_PROTECTION or youth_protection (repeatable; one of " +
                        ValueList(v1::Domain_descriptor()) + ")");
    cmd->add_option("--legal-framework", a.legal_frameworks,
                    "filter: legal framework (repeatable; one of " + ValueList(v1::LegalFramework_descriptor()) + ")");
    cmd->add_option("--municipality", a.municipalities, "filter: CBS code, e.g. GM0363 (repeatable)");
    cmd->add_option("--referred-from", a.referred_from, "filter: cases referred on or after YYYY-MM-DD");
    cmd->add_option("--referred-to", a.referred_to, "filter: cases referred on or before YYYY-MM-DD");
    cmd->add_option(network ? "--conference-from,--from" : "--conference-from", a.conference_from,
                    network ? "filter: conferences on or after YYYY-MM-DD"
                            : "filter: cases whose first conference was on or after YYYY-MM-DD");
    cmd->add_option(network ? "--conference-to,--to" : "--conference-to", a.conference_to,
                    network ? "filter: conferences on or before YYYY-MM-DD"
                            : "filter: cases whose first conference was on or before YYYY-MM-DD");
    cmd->add_option("--group-by", a.group_by, "rows per year, quarter, domain, municipality or legal-framework");
    cmd->add_option("--then-by", a.then_by,
                    "a second grouping: rows per (--group-by, --then-by) pair; one of year, quarter, domain, "
                    "municipality, legal-framework (needs --group-by, must differ from it)");
    cmd->add_option("--compare-with", a.compare_with,
                    "compare every other group with this one: its key (e.g. 2023, housing) or KEY/KEY2 with "
                    "--then-by; differences with 95% intervals (and log-rank tests for support)");
    cmd->add_option(
        "--min-cell-size", a.min_cell_size,
        "disclosure control: suppress counts of fewer than k cases (at least 5; default: the server's, 10)");
    cmd->add_option("--as-of", a.as_of, "answer as of this log position (default: the live read model)");
  };
  auto add = [&a, &add_selection](CLI::App* parent, const char* name, Model model, const char* description,
                                  const std::string& label) {
    CLI::App* cmd = parent->add_subcommand(name, description);
    Args::Command c{cmd, model, label, nullptr};
    c.server = cmd->add_option("--server", a.server, "kringd gRPC address (default: the global --server)");
    add_selection(cmd, model == Model::kNetworkSize);
    auto* format = cmd->add_option("--format", a.format, "table, csv or json")
                       ->check(CLI::IsMember({"table", "csv", "json"}))
                       ->capture_default_str();
    cmd->add_flag("--json", a.json, "the same as --format json")->excludes(format);
    std::vector<std::string> tables = CsvTables(model);
    if (tables.size() > 1) {
      cmd->add_option("--table", a.table,
                      "with --format csv: the table, one of " + absl::StrJoin(tables, ", ") + " (default " +
                          tables.front() + ")")
          ->check(CLI::IsMember(tables));
    }
    cmd->add_option("--wait-events", a.wait_events, "ask again until the read model reflects this many events");
    cmd->add_option("--timeout", a.timeout_s, "seconds to wait with --wait-events")
        ->capture_default_str()
        ->check(CLI::Range(1, 86400));
    if (model == Model::kSupport) {
      cmd->add_option("--window-days", a.window_days,
                      "half-width of the windows around 6, 12 and 24 months (default: the server's, 91)")
          ->check(CLI::Range(0, 180));
      cmd->add_option("--lapse-threshold", a.lapse_threshold,
                      "a follow-up with retention under this is a lapse, in (0, 1] (default: the server's, 0.8)")
          ->check(CLI::Range(0.0, 1.0));
      cmd->add_option("--data-cutoff", a.data_cutoff, "ignore follow-ups after YYYY-MM-DD; censor there");
      cmd->add_flag("--curves", a.curves, "table: also the Kaplan-Meier table of every group");
    }
    if (model == Model::kCostBenefit) {
      cmd->add_option("--cost-model", a.cost_model_file,
                      "a CostModel as JSON (like projections/cost_model.json) instead of the built-in one")
          ->check(CLI::ExistingFile);
    }
    a.commands.push_back(c);
  };
  add(research, "network-size", Model::kNetworkSize, "network size per conference: statistics, histogram, composition",
      "research network-size");
  add(research, "outcomes", Model::kOutcomes, "outcomes per 100 referrals and per 100 held conferences",
      "research outcomes");
  add(research, "cost-benefit", Model::kCostBenefit, "conference costs and savings from a (versioned) cost model",
      "research cost-benefit");
  add(research, "support", Model::kSupport,
      "two-year sustained support: retention at 6, 12 and 24 months, Kaplan-Meier of support held", "research support");
  add(research, "funnel", Model::kFunnel, "referral to accepted plan: steps, stop reasons, the right to a plan",
      "research funnel");
  // kringctl research report: the five answers on one HTML page.
  a.report = research->add_subcommand(
      "report",
      "one self-contained HTML page (inline SVG, no script): every answer's tables, the Kaplan-Meier curve "
      "with its band, the network-size histogram and composition, the funnel, definitions and provenance");
  a.report_server = a.report->add_option("--server", a.server, "kringd gRPC address (default: the global --server)");
  add_selection(a.report, false);
  a.report->add_option("--k", a.min_cell_size, "the same as --min-cell-size");
  a.report->add_option("--out", a.out, "the HTML file to write")->required();
  a.report->add_option("--wait-events", a.wait_events, "ask again until every read model reflects this many events");
  a.report->add_option("--timeout", a.timeout_s, "seconds to wait with --wait-events")
      ->capture_default_str()
      ->check(CLI::Range(1, 86400));
  add(&app, "network-size", Model::kNetworkSize, "the network-size read model (as kringctl research network-size)",
      "network-size");
}

ResearchCommands::~ResearchCommands() = default;

bool ResearchCommands::parsed() const {
  return (args_->report != nullptr && args_->report->parsed()) ||
         std::any_of(args_->commands.begin(), args_->commands.end(),
                     [](const Args::Command& c) { return c.app->parsed(); });
}

int ResearchCommands::Run() {
  Args& a = *args_;
  const Args::Command* c = nullptr;
  for (const auto& command : a.commands) {
    if (command.app->parsed()) c = &command;
  }
  if (c == nullptr && a.report->parsed()) {
    a.connect = connect_;
    if (a.report_server->count() > 0) a.connect.server = a.server;
    return RunReport(a);
  }
  if (c == nullptr) return kExitUsage;
  a.connect = connect_;
  if (c->server->count() > 0) a.connect.server = a.server;
  switch (c->model) {
    case Model::kNetworkSize:
      return RunModel<v1::NetworkSizeRequest, v1::NetworkSizeResponse>(
          a, *c, {}, &v1::ResearchService::Stub::GetNetworkSize, PrintNetworkSizeTable, NetworkSizeCsv);
    case Model::kOutcomes:
      return RunModel<v1::OutcomesRequest, v1::OutcomesResponse>(a, *c, {}, &v1::ResearchService::Stub::GetOutcomes,
                                                                 PrintOutcomesTable, OutcomesCsv);
    case Model::kCostBenefit: {
      v1::CostBenefitRequest request;
      if (!a.cost_model_file.empty()) {
        if (auto code = ReadCostModel(a, c->name, request.mutable_cost_model())) return *code;
      }
      return RunModel<v1::CostBenefitRequest, v1::CostBenefitResponse>(
          a, *c, request, &v1::ResearchService::Stub::GetCostBenefit, PrintCostBenefitTable, CostBenefitCsv);
    }
    case Model::kSupport: {
      v1::SupportRequest request;
      if (!a.data_cutoff.empty() && !IsDate(a.data_cutoff)) {
        return Usage(c->name, absl::StrCat("--data-cutoff: \"", a.data_cutoff, "\" is not a date YYYY-MM-DD"));
      }
      request.set_window_days(a.window_days);
      request.set_lapse_threshold(a.lapse_threshold);
      request.set_data_cutoff(a.data_cutoff);
      const bool curves = a.curves;
      return RunModel<v1::SupportRequest, v1::SupportResponse>(
          a, *c, request, &v1::ResearchService::Stub::GetSustainedSupport,
          [curves](const v1::SupportResponse& r) { PrintSupportTable(r, curves); }, SupportCsv);
    }
    case Model::kFunnel:
      return RunModel<v1::FunnelRequest, v1::FunnelResponse>(a, *c, {}, &v1::ResearchService::Stub::GetFunnel,
                                                             PrintFunnelTable, FunnelCsv);
  }
  return kExitUsage;
}

}  // namespace kring::client
