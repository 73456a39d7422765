#include "projections/research.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/civil_time.h"
#include "common/status.h"
#include "eventstore/validation.h"

namespace kring::projections {
namespace {

constexpr int64_t kSecondsPerDay = 86400;

// Days from 1970-01-01 to a civil date (H. Hinnant's days_from_civil).
int32_t DayFromCivil(int64_t y, uint32_t m, uint32_t d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const uint32_t yoe = static_cast<uint32_t>(y - era * 400);
  const uint32_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const uint32_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return static_cast<int32_t>(era * 146097 + static_cast<int64_t>(doe) - 719468);
}

absl::Status ParseRange(const v1::DateRange& range, const std::string& field, int32_t* from, int32_t* to) {
  if (!range.from().empty()) {
    ASSIGN_OR_RETURN(*from, ParseDay(range.from(), field + ".from"));
  }
  if (!range.to().empty()) {
    ASSIGN_OR_RETURN(*to, ParseDay(range.to(), field + ".to"));
  }
  if (*from > *to) return absl::InvalidArgumentError(absl::StrCat(field, ": from must not lie after to"));
  return absl::OkStatus();
}

// The counts of one row to suppress because of their nesting (see Nested):
// until stable, an inner count whose difference from a published outer one
// counts 1..k-1 cases.
std::vector<bool> ForcedByNesting(const std::vector<uint64_t>& cells, uint64_t total, const std::vector<Nested>& nested,
                                  uint32_t k) {
  std::vector<bool> forced(cells.size(), false);
  auto small = [&](uint64_t v) { return v > 0 && v < k; };
  auto value = [&](size_t i) { return i == Nested::kTotal ? total : cells[i]; };
  auto published = [&](size_t i) { return !small(value(i)) && (i == Nested::kTotal || !forced[i]); };
  for (bool changed = true; changed;) {
    changed = false;
    for (const Nested& n : nested) {
      if (!published(n.outer) || !published(n.inner) || value(n.outer) < value(n.inner)) continue;
      if (small(value(n.outer) - value(n.inner))) {
        forced[n.inner] = true;
        changed = true;
      }
    }
  }
  return forced;
}

uint32_t MunicipalityNumber(const std::string& code) {
  uint32_t n = 0;
  return code.size() == 6 && absl::SimpleAtoi(code.substr(2), &n) ? n : 0;
}

}  // namespace

absl::StatusOr<int32_t> ParseDay(const std::string& text, const std::string& field) {
  absl::CivilDay day;
  if (!absl::ParseCivilTime(text, &day)) {
    return absl::InvalidArgumentError(absl::StrCat(field, ": must be a date YYYY-MM-DD, got \"", text, "\""));
  }
  return DayFromCivil(day.year(), day.month(), day.day());
}

void SetWatermark(const ProjectionEngine& engine, v1::ReadModelWatermark* out) {
  const Watermark w = engine.watermark();
  out->set_events_applied(w.events_applied);
  out->set_max_global_position(w.max_global_position);
}

int32_t DayOf(const google::protobuf::Timestamp& t) {
  int64_t s = t.seconds();
  return static_cast<int32_t>(s >= 0 ? s / kSecondsPerDay : -((-s + kSecondsPerDay - 1) / kSecondsPerDay));
}

CivilDate CivilFromDay(int32_t day) {
  // H. Hinnant's civil_from_days.
  const int64_t z = static_cast<int64_t>(day) + 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const uint32_t doe = static_cast<uint32_t>(z - era * 146097);
  const uint32_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const uint32_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const uint32_t mp = (5 * doy + 2) / 153;
  const uint32_t d = doy - (153 * mp + 2) / 5 + 1;
  const uint32_t m = mp < 10 ? mp + 3 : mp - 9;
  return {static_cast<int32_t>(yoe + era * 400 + (m <= 2)), m, d};
}

uint64_t ParticipantKey(std::string_view id) {
  uint64_t h = 14695981039346656037ull;
  for (unsigned char c : id) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

void FoldProfile(const v1::RecordedEvent& event, storage::CaseProfile& profile) {
  const v1::Event& e = event.event();
  if (e.has_case_referred()) {
    const v1::CaseReferred& r = e.case_referred();
    profile.set_referred(true);
    profile.set_domain(r.domain());
    profile.set_legal_framework(r.legal_framework());
    profile.set_municipality(MunicipalityNumber(r.municipality_code()));
    profile.set_referral_day(DayOf(e.occurred_at()));
    profile.set_protection_measure(r.threatened_measures_size() > 0);
  } else if (e.has_conference_held() && !profile.has_conference_day()) {
    profile.set_conference_day(DayOf(e.occurred_at()));
  }
}

ProfileRow ToRow(const storage::CaseProfile& p) {
  ProfileRow row;
  row.referral_day = p.referral_day();
  if (p.has_conference_day()) row.conference_day = p.conference_day();
  row.municipality = static_cast<uint16_t>(p.municipality());  // validated: four digits
  row.domain = static_cast<uint8_t>(p.domain());
  row.legal_framework = static_cast<uint8_t>(p.legal_framework());
  row.referred = p.referred();
  row.protection_measure = p.protection_measure();
  return row;
}

int64_t QuarterOf(int32_t day) {
  static constexpr int32_t kDays = 65536;  // 1970-01-01 .. 2149-06-05
  static const std::vector<uint16_t>* const table = [] {
    auto* t = new std::vector<uint16_t>(kDays);
    for (int32_t d = 0; d < kDays; ++d) {
      const CivilDate c = CivilFromDay(d);
      (*t)[d] = static_cast<uint16_t>((c.year - 1970) * 4 + (c.month - 1) / 3);
    }
    return t;
  }();
  if (day >= 0 && day < kDays) return int64_t{1970 * 4} + (*table)[day];
  const CivilDate c = CivilFromDay(day);
  return int64_t{c.year} * 4 + (c.month - 1) / 3;
}

namespace {
std::string KeyName(v1::Grouping grouping, int64_t group) {
  switch (grouping) {
    case v1::GROUPING_YEAR:
      return std::to_string(group);
    case v1::GROUPING_QUARTER:
      return absl::StrCat(group / 4, "-Q", group % 4 + 1);
    case v1::GROUPING_DOMAIN:
      return v1::Domain_Name(static_cast<v1::Domain>(group));
    case v1::GROUPING_MUNICIPALITY:
      return absl::StrFormat("GM%04d", group);
    case v1::GROUPING_LEGAL_FRAMEWORK:
      return v1::LegalFramework_Name(static_cast<v1::LegalFramework>(group));
    default:
      return "";
  }
}
}  // namespace

std::string Selection::GroupName(int64_t group) const { return KeyName(group_by, two_way() ? group / kPair : group); }

std::string Selection::GroupName2(int64_t group) const {
  return two_way() ? KeyName(then_by, group % kPair) : std::string();
}

absl::StatusOr<Selection> ParseSelectionFields(const google::protobuf::RepeatedField<int>& domains,
                                               const google::protobuf::RepeatedField<int>& legal_frameworks,
                                               const google::protobuf::RepeatedPtrField<std::string>& municipalities,
                                               const v1::DateRange& referral_period,
                                               const v1::DateRange& conference_period, v1::Grouping group_by,
                                               const v1::DisclosureControl& disclosure, v1::Grouping then_by) {
  Selection s;
  for (int i = 0; i < domains.size(); ++i) {
    const int d = domains.Get(i);
    if (!v1::Domain_IsValid(d) || d == v1::DOMAIN_UNSPECIFIED) {
      return absl::InvalidArgumentError(absl::StrCat("domains[", i, "]: must be a known domain, not ", d));
    }
    s.domain_filter = true;
    s.domains.set(d);
  }
  for (int i = 0; i < legal_frameworks.size(); ++i) {
    const int f = legal_frameworks.Get(i);
    if (!v1::LegalFramework_IsValid(f) || f == v1::LEGAL_FRAMEWORK_UNSPECIFIED) {
      return absl::InvalidArgumentError(
          absl::StrCat("legal_frameworks[", i, "]: must be a known legal framework, not ", f));
    }
    s.legal_framework_filter = true;
    s.legal_frameworks.set(f);
  }
  for (int i = 0; i < municipalities.size(); ++i) {
    if (!eventstore::IsMunicipalityCode(municipalities.Get(i))) {
      return absl::InvalidArgumentError(
          absl::StrCat("municipality_codes[", i, "]: must be a CBS code like GM0363 (GM and four digits)"));
    }
    s.municipality_filter = true;
    s.municipalities.set(MunicipalityNumber(municipalities.Get(i)));
  }
  RETURN_IF_ERROR(ParseRange(referral_period, "referral_period", &s.referral_from, &s.referral_to));
  RETURN_IF_ERROR(ParseRange(conference_period, "conference_period", &s.conference_from, &s.conference_to));
  s.conference_filter = !conference_period.from().empty() || !conference_period.to().empty();
  if (!v1::Grouping_IsValid(group_by)) return absl::InvalidArgumentError("group_by: unknown grouping");
  s.group_by = group_by;
  if (!v1::Grouping_IsValid(then_by)) return absl::InvalidArgumentError("then_by: unknown grouping");
  if (then_by != v1::GROUPING_UNSPECIFIED) {
    if (group_by == v1::GROUPING_UNSPECIFIED) {
      return absl::InvalidArgumentError("then_by: needs group_by (the first grouping) to be set");
    }
    if (then_by == group_by) return absl::InvalidArgumentError("then_by: must differ from group_by");
  }
  s.then_by = then_by;
  if (disclosure.min_cell_size() != 0) s.disclosure.min_cell_size = disclosure.min_cell_size();
  RETURN_IF_ERROR(ValidateDisclosure(s.disclosure));
  return s;
}

void ReportPerturbation(v1::DisclosureReport* report) {
  report->set_method("cell key");
  report->set_ptable_version(kPtableVersion);
  report->set_max_count_perturbation(kMaxCountPerturbation);
  report->set_sum_rule(kSumRule);
}

v1::Suppression ToProto(Suppression s) {
  switch (s) {
    case Suppression::kPrimary:
      return v1::SUPPRESSION_PRIMARY;
    case Suppression::kSecondary:
      return v1::SUPPRESSION_SECONDARY;
    default:
      return v1::SUPPRESSION_NONE;
  }
}

absl::StatusOr<Disclosed> Disclosed::Apply(const std::vector<std::vector<uint64_t>>& group_cells,
                                           const std::vector<uint64_t>& group_totals,
                                           const std::vector<uint64_t>& overall_cells, uint64_t overall_total,
                                           bool additive_rows, const std::vector<Nested>& nested,
                                           const Selection& selection, v1::DisclosureReport* report,
                                           const Relations* relations) {
  const bool grouped = selection.group_by != v1::GROUPING_UNSPECIFIED;
  const uint32_t k = selection.disclosure.min_cell_size;
  CountTable table;
  table.cols = overall_cells.size();
  table.additive_rows = additive_rows;
  table.additive_cols = true;
  table.col_totals = overall_cells;
  table.grand_total = overall_total;
  table.forced_col_totals = ForcedByNesting(overall_cells, overall_total, nested, k);
  if (grouped) {
    table.rows = group_cells.size();
    for (size_t r = 0; r < group_cells.size(); ++r) {
      table.cells.insert(table.cells.end(), group_cells[r].begin(), group_cells[r].end());
      const std::vector<bool> forced = ForcedByNesting(group_cells[r], group_totals[r], nested, k);
      table.forced_cells.insert(table.forced_cells.end(), forced.begin(), forced.end());
    }
    table.row_totals = group_totals;
  } else {
    table.rows = 1;
    table.cells = overall_cells;
    table.forced_cells = table.forced_col_totals;
    table.row_totals = {overall_total};
  }
  if (relations != nullptr) {
    table.hidden_cols = relations->hidden_cols;
    const size_t sums = relations->sums.size();
    // The sums of row `row` (kOverall: the column totals' row) as extras,
    // then their equations.
    auto add_row = [&](size_t row, const RowSums& row_sums) -> absl::Status {
      if (row_sums.values.size() != sums) {
        return absl::InternalError("disclosure: a row's sums do not match the answer's sum columns");
      }
      auto count_index = [&](size_t col) {
        if (row == kOverall) return col == Nested::kTotal ? table.GrandTotalIndex() : table.ColTotalIndex(col);
        return col == Nested::kTotal ? table.RowTotalIndex(row) : table.CellIndex(row, col);
      };
      const size_t first = table.extras.size();
      for (size_t j = 0; j < sums; ++j) {
        table.extras.push_back(
            {row_sums.values[j], count_index(relations->sums[j].follows), relations->sums[j].published});
      }
      for (const RowEquation& re : row_sums.equations) {
        Equation eq;
        eq.constant = re.constant;
        for (const RowTerm& t : re.terms) {
          if (t.coefficient == 0) continue;
          eq.terms.emplace_back(
              t.kind == RowTerm::Kind::kCount ? count_index(t.index) : table.ExtraIndex(first + t.index),
              t.coefficient);
        }
        table.equations.push_back(std::move(eq));
      }
      return absl::OkStatus();
    };
    if (grouped) {
      if (relations->groups.size() != group_cells.size()) {
        return absl::InternalError("disclosure: the sums do not match the answer's groups");
      }
      for (size_t r = 0; r < group_cells.size(); ++r) RETURN_IF_ERROR(add_row(r, relations->groups[r]));
    }
    const size_t overall_first = table.extras.size();
    RETURN_IF_ERROR(add_row(kOverall, relations->overall));
    if (grouped) {
      // The groups partition the units: each sum of the overall row is the sum
      // of the groups'.
      for (size_t j = 0; j < sums; ++j) {
        Equation eq;
        for (size_t r = 0; r < group_cells.size(); ++r) eq.terms.emplace_back(table.ExtraIndex(r * sums + j), 1);
        eq.terms.emplace_back(table.ExtraIndex(overall_first + j), -1);
        table.equations.push_back(std::move(eq));
      }
    }
  }
  ASSIGN_OR_RETURN(SuppressionMask mask, Suppress(table, selection.disclosure));
  report->set_min_cell_size(selection.disclosure.min_cell_size);
  return Disclosed(std::move(mask));
}

void CountSuppressedFields(const google::protobuf::Message& answer, v1::DisclosureReport* report) {
  const google::protobuf::Descriptor* d = answer.GetDescriptor();
  const google::protobuf::Reflection* r = answer.GetReflection();
  for (int i = 0; i < d->field_count(); ++i) {
    const google::protobuf::FieldDescriptor* f = d->field(i);
    if (f->type() == google::protobuf::FieldDescriptor::TYPE_ENUM && f->enum_type() == v1::Suppression_descriptor() &&
        !f->is_repeated()) {
      const int s = r->GetEnumValue(answer, f);
      if (s == v1::SUPPRESSION_PRIMARY) report->set_primary_cells(report->primary_cells() + 1);
      if (s == v1::SUPPRESSION_SECONDARY) report->set_secondary_cells(report->secondary_cells() + 1);
    } else if (f->type() == google::protobuf::FieldDescriptor::TYPE_MESSAGE) {
      if (f->is_repeated()) {
        for (int n = 0; n < r->FieldSize(answer, f); ++n)
          CountSuppressedFields(r->GetRepeatedMessage(answer, f, n), report);
      } else if (r->HasField(answer, f)) {
        CountSuppressedFields(r->GetMessage(answer, f), report);
      }
    }
  }
}

}  // namespace kring::projections
