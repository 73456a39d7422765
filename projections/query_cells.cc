#include "projections/query_cells.h"

#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"

namespace kring::projections {
namespace {

const absl::CivilDay kEpoch(1970, 1, 1);

// Where the month lies for a period of days [from, to].
CellFit MonthFit(int32_t month, int32_t from, int32_t to) {
  const int64_t first = FirstDayOfMonth(month), last = int64_t{FirstDayOfMonth(month + 1)} - 1;
  if (last < from || first > to) return CellFit::kOutside;
  if (first >= from && last <= to) return CellFit::kWhole;
  return CellFit::kBoundary;
}

CellFit Worse(CellFit a, CellFit b) {
  if (a == CellFit::kOutside || b == CellFit::kOutside) return CellFit::kOutside;
  if (a == CellFit::kBoundary || b == CellFit::kBoundary) return CellFit::kBoundary;
  return CellFit::kWhole;
}

}  // namespace

int32_t MonthOf(int32_t day) {
  const absl::CivilMonth m(kEpoch + day);
  return static_cast<int32_t>(m.year() * 12 + (m.month() - 1));
}

int32_t FirstDayOfMonth(int32_t month) {
  const int64_t year = month >= 0 ? month / 12 : -((-int64_t{month} + 11) / 12);
  const int64_t m = int64_t{month} - year * 12;  // 0..11
  return static_cast<int32_t>(absl::CivilDay(year, static_cast<int>(m + 1), 1) - kEpoch);
}

CellCoordinates CellOf(const ProfileRow& p) {
  CellCoordinates key;
  key.referral_month = MonthOf(p.referral_day);
  key.conference_month = p.has_conference() ? MonthOf(p.conference_day) : CellCoordinates::kNoConference;
  key.municipality = p.municipality;
  key.domain = p.domain;
  key.legal_framework = p.legal_framework;
  return key;
}

CellDimensions CellDimensions::For(const Selection& s) {
  CellDimensions d;
  d.conference_month = s.conference_filter;
  d.municipality = s.municipality_filter || s.groups_on(v1::GROUPING_MUNICIPALITY);
  d.domain = s.domain_filter || s.groups_on(v1::GROUPING_DOMAIN);
  d.legal_framework = s.legal_framework_filter || s.groups_on(v1::GROUPING_LEGAL_FRAMEWORK);
  return d;
}

CellCoordinates CellDimensions::Coarsen(const CellCoordinates& cell) const {
  CellCoordinates out;
  out.referral_month = cell.referral_month;
  if (conference_month) out.conference_month = cell.conference_month;
  if (municipality) out.municipality = cell.municipality;
  if (domain) out.domain = cell.domain;
  if (legal_framework) out.legal_framework = cell.legal_framework;
  return out;
}

std::string CellDimensions::Name() const {
  return absl::StrCat("month", conference_month ? "+conference" : "", municipality ? "+municipality" : "",
                      domain ? "+domain" : "", legal_framework ? "+framework" : "");
}

CellFit FitOf(const CellCoordinates& c, const Selection& s) {
  // The tests of Selection::Matches, on the dimensions the coarse cell keeps
  // (CellDimensions::For keeps every dimension the selection filters on).
  if (s.domain_filter && !(c.domain >= 0 && static_cast<size_t>(c.domain) < s.domains.size() && s.domains[c.domain])) {
    return CellFit::kOutside;
  }
  if (s.legal_framework_filter &&
      !(c.legal_framework >= 0 && static_cast<size_t>(c.legal_framework) < s.legal_frameworks.size() &&
        s.legal_frameworks[c.legal_framework])) {
    return CellFit::kOutside;
  }
  if (s.municipality_filter &&
      !(c.municipality >= 0 && static_cast<size_t>(c.municipality) < Selection::kMunicipalities &&
        s.municipalities[c.municipality])) {
    return CellFit::kOutside;
  }
  CellFit fit = MonthFit(c.referral_month, s.referral_from, s.referral_to);
  if (s.conference_filter) {
    fit = c.conference_month == CellCoordinates::kNoConference
              ? CellFit::kOutside
              : Worse(fit, MonthFit(c.conference_month, s.conference_from, s.conference_to));
  }
  return fit;
}

void QueryCells::Place(uint32_t slot, const ProfileRow* profile) {
  if (slot >= cell_of_.size()) {
    cell_of_.resize(slot + 1, kNone);
    position_of_.resize(slot + 1, 0);
  }
  uint32_t to = kNone;
  if (profile != nullptr && profile->referred) {
    const CellCoordinates key = CellOf(*profile);
    auto [it, inserted] = index_.try_emplace(key, static_cast<uint32_t>(cells_.size()));
    if (inserted) cells_.push_back({key, {}, 0});
    to = it->second;
  }
  const uint32_t from = cell_of_[slot];
  if (from != kNone) MarkChanged(from);
  if (from == to) return;
  if (from != kNone) {  // swap with the last member
    std::vector<uint32_t>& slots = cells_[from].slots;
    const uint32_t at = position_of_[slot];
    slots[at] = slots.back();
    position_of_[slots[at]] = at;
    slots.pop_back();
  }
  cell_of_[slot] = to;
  if (to != kNone) {
    position_of_[slot] = static_cast<uint32_t>(cells_[to].slots.size());
    cells_[to].slots.push_back(slot);
    MarkChanged(to);
  }
}

size_t QueryCells::CellBytes() const {
  size_t bytes = cells_.capacity() * sizeof(Cell) +
                 index_.capacity() * (sizeof(CellCoordinates) + sizeof(uint32_t) + 1) +
                 (cell_of_.capacity() + position_of_.capacity()) * sizeof(uint32_t);
  for (const Cell& c : cells_) bytes += c.slots.capacity() * sizeof(uint32_t);
  return bytes;
}

size_t QueryCells::MemoBytes() const {
  std::lock_guard<std::mutex> lock(memo_mu_);
  size_t bytes = 0;
  for (const auto& [key, memo] : memos_) bytes += key.size() + memo->Bytes();
  return bytes;
}

}  // namespace kring::projections
