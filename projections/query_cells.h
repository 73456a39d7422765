// Query cells: how a research query over a million cases answers without
// reading a million rows (docs/research.md, "How a query is answered").
//
// Every referred case's row lies in one cell: the combination of its referral
// month, the month of its first held conference (or none), its domain, legal
// framework and municipality. CaseStateProjection keeps the cells' members up
// to date as batches are committed (QueryCells::Place) and records, per cell,
// when a member last changed.
//
// A query names its Tally, the parameters of its own that change what a case
// adds (support's window and threshold, cost–benefit's cost model, network
// size's conference period; see ReduceCells), and its Selection. Its cells
// are the cells merged along the dimensions the query does not filter or
// group on ("coarse cells": always the referral month; the first-conference
// month only with a conference_period filter on the case; domain, legal
// framework, municipality only when filtered or grouped on). Per coarse cell
// the query's own tallies of all its rows are kept (a memo, per Tally type,
// parameters, grouping and dimensions) and recomputed only when a row of the
// coarse cell changed since. A query then:
//  - skips coarse cells that the filters exclude as a whole;
//  - merges the memo of coarse cells whose months lie wholly inside the
//    periods (every row of them passes the filters, so their tallies do not
//    depend on where the period starts or ends);
//  - reads the rows of the boundary months (a period that starts or ends
//    within the month) one by one, as the plain scan does.
// All tallies are sums of integers (or ExactSum, DenseCounts), so the order in
// which cells are merged does not change an answer: it is identical to the
// plain scan of every row (tests/query_cells_test.cc checks every RPC).
//
// Threads: Place runs on the engine's writer with the model's lock held
// exclusively; Reduce runs under the model's shared lock and serializes
// queries of one model on the memo's own mutex.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <typeinfo>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/hash/hash.h"
#include "projections/research.h"

namespace kring::projections {

// Whether queries answer from cells (true, the default) or by scanning every
// row (false). Process-wide; tests compare the two.
namespace query_cells_internal {
inline std::atomic<bool> enabled{true};
}  // namespace query_cells_internal
inline void SetQueryCells(bool enabled) { query_cells_internal::enabled = enabled; }
inline bool QueryCellsEnabled() { return query_cells_internal::enabled; }

// Months as year * 12 + (month - 1), of a day (days since 1970-01-01, UTC),
// and the first day of a month.
int32_t MonthOf(int32_t day);
int32_t FirstDayOfMonth(int32_t month);

// A cell (or coarse cell): a value per dimension; kAny where a coarse cell
// merges the dimension. conference_month is kNoConference for the cases
// without a held conference.
struct CellCoordinates {
  static constexpr int32_t kAny = INT32_MIN;
  static constexpr int32_t kNoConference = INT32_MIN + 1;
  int32_t referral_month = kAny;
  int32_t conference_month = kAny;
  int32_t municipality = kAny;
  int32_t domain = kAny;
  int32_t legal_framework = kAny;

  friend bool operator==(const CellCoordinates& a, const CellCoordinates& b) {
    return a.referral_month == b.referral_month && a.conference_month == b.conference_month &&
           a.municipality == b.municipality && a.domain == b.domain && a.legal_framework == b.legal_framework;
  }
  template <typename H>
  friend H AbslHashValue(H h, const CellCoordinates& k) {
    return H::combine(std::move(h), k.referral_month, k.conference_month, k.municipality, k.domain, k.legal_framework);
  }
};

// The cell of a referred case's profile.
CellCoordinates CellOf(const ProfileRow& profile);

// The dimensions a query's coarse cells keep (see the file comment).
struct CellDimensions {
  bool conference_month = false, municipality = false, domain = false, legal_framework = false;
  static CellDimensions For(const Selection& selection);
  CellCoordinates Coarsen(const CellCoordinates& cell) const;
  std::string Name() const;
};

// Where a coarse cell lies for a selection.
enum class CellFit {
  kOutside,   // no row of it passes the filters
  kWhole,     // every row of it passes the filters
  kBoundary,  // some may: its rows are read one by one
};
CellFit FitOf(const CellCoordinates& coarse, const Selection& selection);

// What a model's query cells hold: cells, and bytes of the cells' members
// and index and of the memos.
struct QueryCellFigures {
  size_t cells = 0, cell_bytes = 0, memo_bytes = 0;
};

class QueryCells {
 public:
  // At most this many memos (parameter sets) are kept per model; the least
  // recently used goes first.
  static constexpr size_t kMaxMemos = 24;

  // Puts `slot` into the cell of `profile`, or into none when it is null or
  // not referred; marks the cells it leaves and enters as changed (also when
  // it stays: its row changed).
  void Place(uint32_t slot, const ProfileRow* profile);

  // The tallies of the rows the selection keeps: add(GroupedTally<Tally>&,
  // slot) must add one row exactly as a plain scan would (filters included).
  // `parameters` names everything besides the row that changes what add()
  // adds for a row the selection keeps as a whole (the query's own options);
  // the Tally type, grouping and dimensions are added to it here.
  template <typename Tally, typename Add>
  GroupedTally<Tally> Reduce(const Selection& selection, std::string_view parameters, Add&& add) const;

  // Memory held by the cells (members and index), and by the memos, in bytes
  // (estimated from sizes and capacities).
  size_t CellBytes() const;
  size_t MemoBytes() const;
  size_t cells() const { return cells_.size(); }

 private:
  static constexpr uint32_t kNone = UINT32_MAX;
  struct Cell {
    CellCoordinates key;
    std::vector<uint32_t> slots;
    uint64_t changed_at = 0;  // change_ when a member last changed
  };
  struct MemoBase {
    virtual ~MemoBase() = default;
    virtual size_t Bytes() const = 0;
    uint64_t used_at = 0;
  };
  template <typename Tally>
  struct Memo : MemoBase {
    struct Coarse {
      CellCoordinates key;
      std::vector<uint32_t> cells;  // indices into cells_
      bool valid = false;           // `tallies` reflect every member
      GroupedTally<Tally> tallies;
    };
    CellDimensions dimensions;
    uint64_t seen_change = 0;  // changes up to here are reflected in `valid`
    size_t seen_cells = 0;     // cells_[0, seen_cells) are in `coarse`
    std::vector<Coarse> coarse;
    absl::flat_hash_map<CellCoordinates, uint32_t> index;
    size_t Bytes() const override {
      size_t bytes =
          sizeof(*this) + coarse.capacity() * sizeof(Coarse) + index.capacity() * (sizeof(CellCoordinates) + 8);
      for (const Coarse& c : coarse) bytes += c.cells.capacity() * sizeof(uint32_t);
      return bytes;
    }
  };

  void MarkChanged(uint32_t cell) { cells_[cell].changed_at = ++change_; }

  std::vector<Cell> cells_;
  absl::flat_hash_map<CellCoordinates, uint32_t> index_;
  std::vector<uint32_t> cell_of_;      // per slot: its cell, or kNone
  std::vector<uint32_t> position_of_;  // per slot: its index in its cell's slots
  uint64_t change_ = 0;

  mutable std::mutex memo_mu_;
  mutable uint64_t use_ = 0;
  mutable std::map<std::string, std::unique_ptr<MemoBase>, std::less<>> memos_;
};

// ---------------------------------------------------------------------------
// Implementation of the template.

template <typename Tally, typename Add>
GroupedTally<Tally> QueryCells::Reduce(const Selection& selection, std::string_view parameters, Add&& add) const {
  const CellDimensions dimensions = CellDimensions::For(selection);
  std::string key(typeid(Tally).name());
  key.append("|").append(std::to_string(selection.group_by)).append("x").append(std::to_string(selection.then_by));
  key.append("|").append(dimensions.Name());
  key.append("|").append(parameters);

  std::lock_guard<std::mutex> lock(memo_mu_);
  auto it = memos_.find(key);
  Memo<Tally>* memo = it == memos_.end() ? nullptr : dynamic_cast<Memo<Tally>*>(it->second.get());
  if (memo == nullptr) {
    if (memos_.size() >= kMaxMemos && it == memos_.end()) {
      auto oldest = std::min_element(memos_.begin(), memos_.end(), [](const auto& a, const auto& b) {
        return a.second->used_at < b.second->used_at;
      });
      memos_.erase(oldest);
    }
    auto fresh = std::make_unique<Memo<Tally>>();
    fresh->dimensions = dimensions;
    memo = fresh.get();
    memos_[key] = std::move(fresh);
  }
  memo->used_at = ++use_;

  // Cells new since the last query, and cells changed since: their coarse
  // cells are recomputed when a query needs them whole.
  for (; memo->seen_cells < cells_.size(); ++memo->seen_cells) {
    const CellCoordinates coarse = dimensions.Coarsen(cells_[memo->seen_cells].key);
    auto [found, inserted] = memo->index.try_emplace(coarse, static_cast<uint32_t>(memo->coarse.size()));
    if (inserted) memo->coarse.push_back({coarse, {}, false, {}});
    memo->coarse[found->second].cells.push_back(static_cast<uint32_t>(memo->seen_cells));
  }
  if (memo->seen_change != change_) {
    for (auto& coarse : memo->coarse) {
      for (uint32_t cell : coarse.cells) {
        if (cells_[cell].changed_at > memo->seen_change) {
          coarse.valid = false;
          break;
        }
      }
    }
    memo->seen_change = change_;
  }

  GroupedTally<Tally> out;
  for (auto& coarse : memo->coarse) {
    switch (FitOf(coarse.key, selection)) {
      case CellFit::kOutside:
        break;
      case CellFit::kWhole:
        if (!coarse.valid) {
          coarse.tallies = GroupedTally<Tally>();
          for (uint32_t cell : coarse.cells) {
            for (uint32_t slot : cells_[cell].slots) add(coarse.tallies, slot);
          }
          coarse.valid = true;
        }
        out.Merge(coarse.tallies);
        break;
      case CellFit::kBoundary:
        for (uint32_t cell : coarse.cells) {
          for (uint32_t slot : cells_[cell].slots) add(out, slot);
        }
        break;
    }
  }
  return out;
}

}  // namespace kring::projections
