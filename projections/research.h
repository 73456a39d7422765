// What the research read models share: the case profile they filter and
// group on, the selection every research request carries (fields 1-8 of each
// request in research.proto), and the calendar arithmetic on days.
//
// Definitions are in docs/research.md; each read model's file says what it
// counts.
#pragma once

#include <algorithm>
#include <bitset>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "kring/storage/readmodels.pb.h"
#include "kring/v1/events.pb.h"
#include "kring/v1/research.pb.h"
#include "projections/cell_key.h"
#include "projections/disclosure.h"
#include "projections/engine.h"

namespace kring::projections {

// Days since 1970-01-01 (UTC) of a timestamp, and back to a civil date.
int32_t DayOf(const google::protobuf::Timestamp& t);
struct CivilDate {
  int32_t year;
  uint32_t month;  // 1..12
  uint32_t day;    // 1..31
};
CivilDate CivilFromDay(int32_t day);

// A participant, coordinator or attendee id as the read models keep it: its
// 64-bit FNV-1a hash, which only needs to tell the people of one case apart.
uint64_t ParticipantKey(std::string_view id);

// Whether `ids` (participant keys of one case) holds `id`.
inline bool ContainsKey(const google::protobuf::RepeatedField<uint64_t>& ids, uint64_t id) {
  return std::find(ids.begin(), ids.end(), id) != ids.end();
}

// Folds the events that shape a case's profile (CaseReferred, the first
// ConferenceHeld); others leave it unchanged.
void FoldProfile(const v1::RecordedEvent& event, storage::CaseProfile& profile);

// A case's profile as queries read it: 24 bytes in the dense row of every
// read model (CaseStateProjection::Row), so that a query over a million cases
// reads a few tens of megabytes of memory in order.
struct ProfileRow {
  static constexpr int32_t kNoDay = INT32_MIN;
  uint64_t record_key = 0;  // the case's (cell_key.h); set by CaseStateProjection, not by ToRow
  int32_t referral_day = 0;
  int32_t conference_day = kNoDay;  // the first ConferenceHeld
  uint16_t municipality = 0;        // CBS number (four digits)
  uint8_t domain = 0;
  uint8_t legal_framework = 0;
  bool referred = false;
  bool protection_measure = false;

  bool has_conference() const { return conference_day != kNoDay; }
};
ProfileRow ToRow(const storage::CaseProfile& profile);

// year * 4 + quarter (0-3) of a day (days since 1970-01-01), from a table
// for the days of 1970-2149: a query may ask it a million times.
int64_t QuarterOf(int32_t day);

// A research request's selection: filters, grouping and disclosure control.
// Matches and GroupOf run once per case of a query, so they are inline and
// test bits, not sets.
struct Selection {
  static constexpr size_t kMunicipalities = 10000;  // CBS numbers have four digits
  // Filters; each applies only when its flag is set.
  bool domain_filter = false, legal_framework_filter = false, municipality_filter = false;
  std::bitset<v1::Domain_ARRAYSIZE> domains;
  std::bitset<v1::LegalFramework_ARRAYSIZE> legal_frameworks;
  std::bitset<kMunicipalities> municipalities;
  int32_t referral_from = INT32_MIN, referral_to = INT32_MAX;  // days, inclusive
  bool conference_filter = false;
  int32_t conference_from = INT32_MIN, conference_to = INT32_MAX;
  v1::Grouping group_by = v1::GROUPING_UNSPECIFIED;
  // The second grouping (request field then_by); only with group_by, never
  // equal to it.
  v1::Grouping then_by = v1::GROUPING_UNSPECIFIED;
  // The reference group's label (request field compare_with); empty: no
  // comparison. Only with group_by.
  std::string compare_with;
  DisclosureOptions disclosure;

  bool grouped() const { return group_by != v1::GROUPING_UNSPECIFIED; }
  bool two_way() const { return then_by != v1::GROUPING_UNSPECIFIED; }
  // Whether the selection groups on `g`, first or second.
  bool groups_on(v1::Grouping g) const { return group_by == g || then_by == g; }

  // Whether a referred case's profile passes the filters.
  bool Matches(const ProfileRow& p) const {
    if (!p.referred || p.referral_day < referral_from || p.referral_day > referral_to) return false;
    if (domain_filter && !(p.domain < domains.size() && domains[p.domain])) return false;
    if (legal_framework_filter &&
        !(p.legal_framework < legal_frameworks.size() && legal_frameworks[p.legal_framework])) {
      return false;
    }
    if (municipality_filter && !(p.municipality < kMunicipalities && municipalities[p.municipality])) return false;
    if (conference_filter &&
        (!p.has_conference() || p.conference_day < conference_from || p.conference_day > conference_to)) {
      return false;
    }
    return true;
  }
  // Two-way groups are numbered first key * kPair + second key: every key of
  // one grouping lies in [0, kPair), so the numbers sort by (key, key2).
  static constexpr int64_t kPair = int64_t{1} << 24;
  // The group of a case (by `day` for year and quarter), as a number that
  // sorts like the group's name; GroupName turns it into "2023", "2023-Q2",
  // "DOMAIN_HOUSING", "GM0363" or "LEGAL_FRAMEWORK_WMO" (GroupName2: the
  // then_by key).
  int64_t GroupOf(const ProfileRow& p, int32_t day) const {
    if (!two_way()) return KeyOf(group_by, p, day);
    return KeyOf(group_by, p, day) * kPair + KeyOf(then_by, p, day);
  }
  static int64_t KeyOf(v1::Grouping grouping, const ProfileRow& p, int32_t day) {
    switch (grouping) {
      case v1::GROUPING_YEAR:
        return QuarterOf(day) / 4;
      case v1::GROUPING_QUARTER:
        return QuarterOf(day);
      case v1::GROUPING_DOMAIN:
        return p.domain;
      case v1::GROUPING_MUNICIPALITY:
        return p.municipality;
      case v1::GROUPING_LEGAL_FRAMEWORK:
        return p.legal_framework;
      default:
        return 0;
    }
  }
  std::string GroupName(int64_t group) const;
  // The then_by key of a group; empty without then_by.
  std::string GroupName2(int64_t group) const;
};

absl::StatusOr<Selection> ParseSelectionFields(const google::protobuf::RepeatedField<int>& domains,
                                               const google::protobuf::RepeatedField<int>& legal_frameworks,
                                               const google::protobuf::RepeatedPtrField<std::string>& municipalities,
                                               const v1::DateRange& referral_period,
                                               const v1::DateRange& conference_period, v1::Grouping group_by,
                                               const v1::DisclosureControl& disclosure,
                                               v1::Grouping then_by = v1::GROUPING_UNSPECIFIED);

// Reads fields 1-8 and then_by (20) of any research request, naming the field
// and rule of what is wrong (INVALID_ARGUMENT). as_of_position is checked by
// the service; compare_with (21) here only needs group_by, and must name a
// listed group once the groups are known (comparison.h, ReferenceGroup).
template <typename Request>
absl::StatusOr<Selection> ParseSelection(const Request& request) {
  absl::StatusOr<Selection> s = ParseSelectionFields(
      request.domains(), request.legal_frameworks(), request.municipality_codes(), request.referral_period(),
      request.conference_period(), request.group_by(), request.disclosure(), request.then_by());
  if (!s.ok()) return s;
  if (!request.compare_with().empty() && !s->grouped()) {
    return absl::InvalidArgumentError("compare_with: needs group_by (the groups to compare)");
  }
  s->compare_with = request.compare_with();
  return s;
}

// A count of a row contained in another of the same row (a funnel step's
// cases in those of the step before, an outcome's completer cases in its
// referred cases): publishing both would publish their difference, so the
// inner one is suppressed (as primary) when that difference counts fewer than
// k cases. Indices are columns; kTotal is the row's cases.
struct Nested {
  static constexpr size_t kTotal = SIZE_MAX;
  size_t outer;
  size_t inner;
};

// Sums and relations an answer publishes besides its counts (issue 13): a
// mean times its n is a sum, bins times their sizes add up to it, an amount
// divided by its unit price is a count. Disclosed::Apply puts them under the
// same audit as the counts (see projections/disclosure.h): a sum is published
// with the count whose units it sums and protected with it; the groups
// partition the units, so a sum of the overall row is the sum of its groups'
// (Apply adds those equations).
struct SumColumn {
  // The count column whose units it sums, or Nested::kTotal (the row's units).
  size_t follows = Nested::kTotal;
  // False: never published (an unknown of the equations, such as the sizes of
  // the conferences in the "30 or more" bin).
  bool published = true;
};
// A term of an equation within one row.
struct RowTerm {
  enum class Kind { kCount, kSum };
  Kind kind = Kind::kCount;
  size_t index = 0;  // a count column (Nested::kTotal: the row's total) or a sum column
  int64_t coefficient = 1;
};
// sum(coefficient * term) = constant within one row.
struct RowEquation {
  std::vector<RowTerm> terms;
  int64_t constant = 0;
};
struct RowSums {
  std::vector<int64_t> values;         // one per Relations::sums
  std::vector<RowEquation> equations;  // true within the row
};
struct Relations {
  std::vector<SumColumn> sums;
  // Count columns the answer never publishes but whose relations are known
  // (see CountTable::hidden_cols). Empty: none.
  std::vector<bool> hidden_cols;
  RowSums overall;
  std::vector<RowSums> groups;  // one per group row when grouped, in row order
};

// Disclosure control over an answer's counts: one row per group, one column
// per count, the overall row as the column totals (groups partition the cases,
// so the columns add up over the groups), each group's cases as row totals
// (additive over the columns only when `additive_rows`). Without grouping
// there is one row, the overall one. `nested` lists the counts contained in
// others (see Nested); `relations`, when given, the sums and equations the
// answer publishes besides. Sets the report's k; CountSuppressedFields counts
// the suppressions once the answer is filled.
class Disclosed {
 public:
  static absl::StatusOr<Disclosed> Apply(const std::vector<std::vector<uint64_t>>& group_cells,
                                         const std::vector<uint64_t>& group_totals,
                                         const std::vector<uint64_t>& overall_cells, uint64_t overall_total,
                                         bool additive_rows, const std::vector<Nested>& nested,
                                         const Selection& selection, v1::DisclosureReport* report,
                                         const Relations* relations = nullptr);
  // Of column `col` in group row `row`, or in the overall row (kOverall).
  static constexpr size_t kOverall = SIZE_MAX;
  Suppression cell(size_t row, size_t col) const {
    return row == kOverall ? mask_.col_totals[col] : mask_.cell(row, col);
  }
  Suppression total(size_t row) const { return row == kOverall ? mask_.grand_total : mask_.row_totals[row]; }

 private:
  explicit Disclosed(SuppressionMask mask) : mask_(std::move(mask)) {}
  SuppressionMask mask_;
};

// Adds to `report` every field of `answer` (recursively) of type
// kring.v1.Suppression that is not SUPPRESSION_NONE: the report counts exactly
// the suppressed fields an answer shows.
void CountSuppressedFields(const google::protobuf::Message& answer, v1::DisclosureReport* report);

// An answer's tallies: the overall one, and one per group when the selection
// groups. Tally::Add takes the arguments Add() is given. The groups partition
// what is counted, so a grouped query adds to its group only and the overall
// tally is their sum (Overall()).
template <typename Tally>
class GroupedTally {
 public:
  template <typename... Args>
  void Add(const Selection& selection, int64_t group, const Args&... args) {
    if (selection.grouped()) {
      Group(group).Add(args...);
    } else {
      overall_.Add(args...);
    }
  }

  void Merge(const GroupedTally& other) {
    overall_.Merge(other.overall_);
    for (const auto& [key, tally] : other.groups_) Group(key).Merge(tally);
  }

  Tally Overall() const {
    Tally out = overall_;
    for (const auto& [key, tally] : groups_) out.Merge(tally);
    return out;
  }

  // The groups in key order.
  std::vector<std::pair<int64_t, const Tally*>> Groups() const {
    std::vector<std::pair<int64_t, const Tally*>> out;
    for (const auto& [key, tally] : groups_) out.emplace_back(key, &tally);
    std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    return out;
  }

 private:
  // Group keys (years, quarters, municipality numbers, enum values) are
  // small: found by index, not by hashing, once per case.
  static constexpr int64_t kDirect = 1 << 16;
  static constexpr size_t kLinear = 8;

  Tally& Group(int64_t key) {
    if (direct_.empty() && other_.empty()) {
      // Few groups (a query cell's memo holds one or two): looked up in
      // order, without the index, which costs 256 KiB.
      for (auto& [k, tally] : groups_) {
        if (k == key) return tally;
      }
      if (groups_.size() < kLinear) return groups_.emplace_back(key, Tally{}).second;
      for (size_t i = 0; i < groups_.size(); ++i) Index(groups_[i].first, i);
    }
    if (key >= 0 && key < kDirect) {
      uint32_t& slot = direct_[key];  // 1 + index in groups_; 0: none yet
      if (slot == 0) {
        groups_.emplace_back(key, Tally{});
        slot = static_cast<uint32_t>(groups_.size());
      }
      return groups_[slot - 1].second;
    }
    auto [it, inserted] = other_.try_emplace(key, groups_.size());
    if (inserted) groups_.emplace_back(key, Tally{});
    return groups_[it->second].second;
  }
  void Index(int64_t key, size_t i) {
    if (direct_.empty()) direct_.assign(kDirect, 0);
    if (key >= 0 && key < kDirect) {
      direct_[key] = static_cast<uint32_t>(i + 1);
    } else {
      other_.emplace(key, i);
    }
  }

  Tally overall_;  // of an ungrouped query
  std::vector<std::pair<int64_t, Tally>> groups_;
  std::vector<uint32_t> direct_;
  absl::flat_hash_map<int64_t, size_t> other_;
};

// The tallies of every case of `model` (a CaseStateProjection) that the
// selection keeps, grouped by its referral (the cohort), from committed
// batches only: add(tallies, group, row, state) per case. `parameters` names
// the query's own options that change what add() adds (QueryCells::Reduce);
// empty when there are none.
template <typename Tally, typename Model, typename Fn>
GroupedTally<Tally> TallyCohort(const Model& model, const Selection& selection, std::string_view parameters, Fn&& add) {
  return model.template ReduceCells<Tally>(
      selection, parameters, [&](GroupedTally<Tally>& tallies, const auto& row, const auto& state) {
        if (!selection.Matches(row.profile)) return;
        add(tallies, selection.grouped() ? selection.GroupOf(row.profile, row.profile.referral_day) : 0, row, state);
      });
}

// Applies disclosure control to the tallies' counts (Tally::Cells() as the
// columns, Tally::Total() as a group's cases; see Disclosed), with the
// `relations` when given (groups in the order of tallies.Groups()), fills the
// overall row and a keyed row per group with
// fill(tally, disclosed, row, Group*) -> absl::Status, and counts the
// suppressed fields into `report`.
template <typename Tally, typename Group, typename Fill>
absl::Status PublishGroups(const GroupedTally<Tally>& tallies, const Selection& selection, bool additive_rows,
                           const std::vector<Nested>& nested, v1::DisclosureReport* report, Group* overall,
                           google::protobuf::RepeatedPtrField<Group>* groups, Fill&& fill,
                           const Relations* relations = nullptr) {
  const auto groups_in_order = tallies.Groups();
  std::vector<std::vector<uint64_t>> cells;
  std::vector<uint64_t> totals;
  for (const auto& [key, tally] : groups_in_order) {
    cells.push_back(tally->Cells());
    totals.push_back(tally->Total());
  }
  const Tally all = tallies.Overall();
  absl::StatusOr<Disclosed> d =
      Disclosed::Apply(cells, totals, all.Cells(), all.Total(), additive_rows, nested, selection, report, relations);
  if (!d.ok()) return d.status();
  absl::Status status = fill(all, *d, Disclosed::kOverall, overall);
  size_t row = 0;
  for (const auto& [key, tally] : groups_in_order) {
    if (!status.ok()) break;
    Group* g = groups->Add();
    g->set_key(selection.GroupName(key));
    g->set_key2(selection.GroupName2(key));
    status = fill(*tally, *d, row++, g);
  }
  if (!status.ok()) return status;
  CountSuppressedFields(*overall, report);
  for (const Group& g : *groups) CountSuppressedFields(g, report);
  return absl::OkStatus();
}

// The read model of type Model that `engine` holds (INTERNAL when it holds
// another one: a programmer error in the service's wiring).
template <typename Model>
absl::StatusOr<const Model*> ModelOf(const ProjectionEngine& engine) {
  const auto* model = dynamic_cast<const Model*>(&engine.projection());
  if (model == nullptr) return absl::InternalError(engine.name() + ": not the read model the query expects");
  return model;
}

// The published value of an exact count c whose units have cell key `key`
// (PerturbCount with floor k). Only for counts disclosure control publishes.
inline uint64_t PublishedCount(uint64_t c, const CellKey& key, const Selection& selection) {
  return PerturbCount(c, key.sum, selection.disclosure.min_cell_size);
}

// States the cell key method and its parameters in an answer's report.
void ReportPerturbation(v1::DisclosureReport* report);

// The engine's watermark into an answer. Taken before the model is read, so
// the answer reflects at least this much of the log.
void SetWatermark(const ProjectionEngine& engine, v1::ReadModelWatermark* out);

// Parses "YYYY-MM-DD" into days since 1970-01-01, naming `field` when it is
// not a date.
absl::StatusOr<int32_t> ParseDay(const std::string& text, const std::string& field);

// Turns a suppression mask entry into the API's enum.
v1::Suppression ToProto(Suppression s);

}  // namespace kring::projections
