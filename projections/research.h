// What the research read models share: the case profile they filter and
// group on, the selection every research request carries (fields 1-8 of each
// request in research.proto), and the calendar arithmetic on days.
//
// Definitions are in docs/research.md; each read model's file says what it
// counts.
#pragma once

#include <algorithm>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "kring/storage/readmodels.pb.h"
#include "kring/v1/events.pb.h"
#include "kring/v1/research.pb.h"
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
// Days per month on average (365.2425 / 12), for "6, 12 and 24 months".
constexpr double kDaysPerMonth = 30.436875;

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

// A research request's selection: filters, grouping and disclosure control.
struct Selection {
  std::set<int> domains;  // empty: all
  std::set<int> legal_frameworks;
  std::set<uint32_t> municipalities;
  int32_t referral_from = INT32_MIN, referral_to = INT32_MAX;  // days, inclusive
  bool conference_filter = false;
  int32_t conference_from = INT32_MIN, conference_to = INT32_MAX;
  v1::Grouping group_by = v1::GROUPING_UNSPECIFIED;
  DisclosureOptions disclosure;

  // Whether a referred case's profile passes the filters.
  bool Matches(const storage::CaseProfile& profile) const;
  // The group of a case (by `day` for year and quarter), as a number that
  // sorts like the group's name; GroupName turns it into "2023", "2023-Q2",
  // "DOMAIN_HOUSING", "GM0363" or "LEGAL_FRAMEWORK_WMO".
  int64_t GroupOf(const storage::CaseProfile& profile, int32_t day) const;
  std::string GroupName(int64_t group) const;
};

absl::StatusOr<Selection> ParseSelectionFields(const google::protobuf::RepeatedField<int>& domains,
                                               const google::protobuf::RepeatedField<int>& legal_frameworks,
                                               const google::protobuf::RepeatedPtrField<std::string>& municipalities,
                                               const v1::DateRange& referral_period,
                                               const v1::DateRange& conference_period, v1::Grouping group_by,
                                               const v1::DisclosureControl& disclosure);

// Reads fields 1-8 of any research request, naming the field and rule of
// what is wrong (INVALID_ARGUMENT). as_of_position is checked by the service.
template <typename Request>
absl::StatusOr<Selection> ParseSelection(const Request& request) {
  return ParseSelectionFields(request.domains(), request.legal_frameworks(), request.municipality_codes(),
                              request.referral_period(), request.conference_period(), request.group_by(),
                              request.disclosure());
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

// Disclosure control over an answer's counts: one row per group, one column
// per count, the overall row as the column totals (groups partition the cases,
// so the columns add up over the groups), each group's cases as row totals
// (additive over the columns only when `additive_rows`). Without grouping
// there is one row, the overall one. `nested` lists the counts contained in
// others (see Nested). Counts the suppressions into `report`, the totals' only
// when `report_totals` (a second table over the same groups shares its totals
// with the first).
class Disclosed {
 public:
  static absl::StatusOr<Disclosed> Apply(const std::vector<std::vector<uint64_t>>& group_cells,
                                         const std::vector<uint64_t>& group_totals,
                                         const std::vector<uint64_t>& overall_cells, uint64_t overall_total,
                                         bool additive_rows, const std::vector<Nested>& nested,
                                         const Selection& selection, v1::DisclosureReport* report,
                                         bool report_totals = true);
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

// Calls fn(group, state) for every case state of `model` (a
// CaseStateProjection) that the selection keeps, grouped by its referral (the
// cohort), from committed batches only.
template <typename Model, typename Fn>
void ForEachInCohort(const Model& model, const Selection& selection, Fn&& fn) {
  model.ForEach([&](const auto& c) {
    if (selection.Matches(c.profile())) fn(selection.GroupOf(c.profile(), c.profile().referral_day()), c);
  });
}

// An answer's tallies: the overall one, and one per group when the selection
// groups. Tally::Add takes the arguments Add() is given.
template <typename Tally>
struct GroupedTally {
  Tally overall;
  std::map<int64_t, Tally> groups;

  template <typename... Args>
  void Add(const Selection& selection, int64_t group, const Args&... args) {
    overall.Add(args...);
    if (selection.group_by != v1::GROUPING_UNSPECIFIED) groups[group].Add(args...);
  }
};

// Applies disclosure control to the tallies' counts (Tally::Cells() as the
// columns, Tally::Total() as a group's cases; see Disclosed) and fills the
// overall row and a keyed row per group with
// fill(tally, disclosed, row, Group*) -> absl::Status.
template <typename Tally, typename Group, typename Fill>
absl::Status PublishGroups(const GroupedTally<Tally>& tallies, const Selection& selection, bool additive_rows,
                           const std::vector<Nested>& nested, v1::DisclosureReport* report, Group* overall,
                           google::protobuf::RepeatedPtrField<Group>* groups, Fill&& fill) {
  std::vector<std::vector<uint64_t>> cells;
  std::vector<uint64_t> totals;
  for (const auto& [key, tally] : tallies.groups) {
    cells.push_back(tally.Cells());
    totals.push_back(tally.Total());
  }
  absl::StatusOr<Disclosed> d = Disclosed::Apply(cells, totals, tallies.overall.Cells(), tallies.overall.Total(),
                                                 additive_rows, nested, selection, report);
  if (!d.ok()) return d.status();
  absl::Status status = fill(tallies.overall, *d, Disclosed::kOverall, overall);
  size_t row = 0;
  for (const auto& [key, tally] : tallies.groups) {
    if (!status.ok()) break;
    Group* g = groups->Add();
    g->set_key(selection.GroupName(key));
    status = fill(tally, *d, row++, g);
  }
  return status;
}

// The read model of type Model that `engine` holds (INTERNAL when it holds
// another one: a programmer error in the service's wiring).
template <typename Model>
absl::StatusOr<const Model*> ModelOf(const ProjectionEngine& engine) {
  const auto* model = dynamic_cast<const Model*>(&engine.projection());
  if (model == nullptr) return absl::InternalError(engine.name() + ": not the read model the query expects");
  return model;
}

// The engine's watermark into an answer. Taken before the model is read, so
// the answer reflects at least this much of the log.
void SetWatermark(const ProjectionEngine& engine, v1::ReadModelWatermark* out);

// Parses "YYYY-MM-DD" into days since 1970-01-01, naming `field` when it is
// not a date.
absl::StatusOr<int32_t> ParseDay(const std::string& text, const std::string& field);

// Turns a suppression mask entry into the API's enum.
v1::Suppression ToProto(Suppression s);

}  // namespace kring::projections
