// CaseStateProjection<State, Row>: a read model that folds every case into
// one protobuf `State` and keeps all states in memory, each with a compact
// `Row` derived from it (MakeRow) that holds what queries read. Rows are
// dense and small, so that a research query over a million cases reads a few
// tens of megabytes in order instead of chasing a million protobuf messages.
//
// Queries: ReduceCells answers from the query cells (query_cells.h), which
// keep the committed rows by referral month, first-conference month, domain,
// legal framework and municipality, with memos of the queries' tallies per
// cell; Reduce scans every row.
//
// Storage: one key "c:<case_id>" per case holding the serialized State,
// written once per case per batch (EndBatch), in the engine's batch write.
// At open the engine passes every stored key to Load(), which fills memory.
//
// A batch folds into copies of the states it touches ("pending"); after the
// batch's write they replace the committed states (AfterWrite(true)), or are
// dropped (AfterWrite(false)), so memory always equals what is stored.
//
// Threads: Apply, ForgetCase, EndBatch, AfterWrite and Load run on the
// engine's writer (serialized by the engine); Reduce may run on any thread
// at any time and sees whole batches only.
//
// Row: a copyable struct with a `ProfileRow profile` member (research.h).
// Its profile.record_key is the case's record key (projections/cell_key.h),
// derived from the case id with the projection's secret when the case first
// enters memory, and never stored.
#pragma once

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>

#include <algorithm>
#include <atomic>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <system_error>
#include <thread>
#include <unordered_map>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "projections/cell_key.h"
#include "projections/projection.h"
#include "projections/query_cells.h"

namespace kring::projections {

// How CaseStateProjection::Reduce splits a query over threads: models of at
// least `parallel_from` cases over `threads` threads (0: the hardware's, at
// most 4). Process-wide; tests lower it to split small models.
struct QuerySplit {
  size_t parallel_from = size_t{1} << 15;
  size_t threads = 0;
};
namespace case_state_internal {
inline std::atomic<size_t> split_from{QuerySplit{}.parallel_from};
inline std::atomic<size_t> split_threads{QuerySplit{}.threads};
}  // namespace case_state_internal
inline void SetQuerySplit(QuerySplit split) {
  case_state_internal::split_from = split.parallel_from;
  case_state_internal::split_threads = split.threads;
}

template <typename State, typename Row>
class CaseStateProjection : public Projection {
 public:
  // `secret` (not null) derives the cases' record keys.
  explicit CaseStateProjection(std::shared_ptr<const CellKeySecret> secret) : secret_(std::move(secret)) {}

  absl::Status Apply(const v1::RecordedEvent& event, ModelTxn& txn) final {
    if (!Relevant(event.event())) return absl::OkStatus();
    return Fold(event, Mutable(event.case_id()));
  }

  absl::Status ForgetCase(const std::string& case_id, ModelTxn& txn) final {
    pending_[case_id].reset();
    return absl::OkStatus();
  }

  absl::Status Load(std::string_view key, std::string_view value) final {
    if (key.substr(0, 2) != kStatePrefix) return absl::OkStatus();
    State state;
    if (!state.ParseFromArray(value.data(), static_cast<int>(value.size()))) {
      return absl::DataLossError(absl::StrCat(name(), ": unreadable case state"));
    }
    Commit(std::string(key.substr(2)), std::make_unique<State>(std::move(state)));
    return absl::OkStatus();
  }

  absl::Status EndBatch(ModelTxn& txn) final {
    std::string key, value;
    for (const auto& [case_id, state] : pending_) {
      key.assign(kStatePrefix).append(case_id);
      if (state) {
        // Deterministic: map fields in key order, so that the same state is
        // stored as the same bytes whatever path folded it (a rebuild, the
        // consumer, a replay "as of").
        value.clear();
        {
          google::protobuf::io::StringOutputStream out(&value);
          google::protobuf::io::CodedOutputStream coded(&out);
          coded.SetSerializationDeterministic(true);
          state->SerializeToCodedStream(&coded);
        }
        txn.Put(key, value);
      } else {
        txn.Delete(key);
      }
    }
    return absl::OkStatus();
  }

  void AfterWrite(bool written) final {
    if (written) {
      std::unique_lock<std::shared_mutex> lock(mu_);
      for (auto& [case_id, state] : pending_) Commit(case_id, std::move(state));
    }
    pending_.clear();
  }

  // Adds every case to an Acc with add(Acc&, const Row&, const State&),
  // from committed batches only. A query reads the row; the state only where
  // the row says it must (it is many cache misses away). A large model's
  // cases are split over threads (QuerySplit), each with its own Acc, merged
  // in order into the first (Acc::Merge).
  template <typename Acc, typename Fn>
  Acc Reduce(Fn&& add) const {
    std::shared_lock<std::shared_mutex> lock(mu_);
    const size_t n = rows_.size();
    size_t parts = case_state_internal::split_threads;
    if (parts == 0) parts = std::clamp<size_t>(std::thread::hardware_concurrency(), 1, 4);
    if (n < case_state_internal::split_from || n < parts) parts = 1;
    std::vector<Acc> accs(parts);
    auto run = [&](size_t part) {
      for (size_t i = n * part / parts, end = n * (part + 1) / parts; i < end; ++i) {
        if (live_[i]) add(accs[part], rows_[i], states_[i]);
      }
    };
    std::vector<std::thread> threads;
    for (size_t part = 1; part < parts; ++part) {
      try {
        threads.emplace_back(run, part);
      } catch (const std::system_error&) {  // no thread to be had: do it here
        run(part);
      }
    }
    run(0);
    for (std::thread& t : threads) t.join();
    for (size_t part = 1; part < parts; ++part) accs[0].Merge(accs[part]);
    return std::move(accs[0]);
  }

  // The tallies of the rows a selection keeps, answered from the query
  // cells (query_cells.h; QueryCells::Reduce says what `parameters` must
  // name) or, when they are off (SetQueryCells), by scanning every row
  // (Reduce). add(GroupedTally<Tally>&, const Row&, const State&) adds one
  // row as a plain scan would, filters included.
  template <typename Tally, typename Fn>
  GroupedTally<Tally> ReduceCells(const Selection& selection, std::string_view parameters, Fn&& add) const {
    if (!QueryCellsEnabled()) return Reduce<GroupedTally<Tally>>(add);
    std::shared_lock<std::shared_mutex> lock(mu_);
    return cells_.template Reduce<Tally>(selection, parameters, [&](GroupedTally<Tally>& tallies, uint32_t slot) {
      add(tallies, rows_[slot], states_[slot]);
    });
  }

  size_t cases() const {
    std::shared_lock<std::shared_mutex> lock(mu_);
    return index_.size();
  }

  // What the query cells hold.
  QueryCellFigures cell_figures() const {
    std::shared_lock<std::shared_mutex> lock(mu_);
    return {cells_.cells(), cells_.CellBytes(), cells_.MemoBytes()};
  }

 protected:
  const CellKeySecret& secret() const { return *secret_; }

  // Whether an event can change a State; others are skipped without
  // creating one.
  virtual bool Relevant(const v1::Event& event) const = 0;
  // Folds one event (in version order) into the case's state.
  virtual absl::Status Fold(const v1::RecordedEvent& event, State& state) = 0;
  // What queries read of a state.
  virtual Row MakeRow(const State& state) const = 0;

 private:
  static constexpr char kStatePrefix[] = "c:";

  // The case's pending state, copied from the committed one (or new).
  State& Mutable(const std::string& case_id) {
    auto [it, inserted] = pending_.try_emplace(case_id);
    if (it->second) return *it->second;
    it->second = std::make_unique<State>();
    // A case forgotten earlier in this batch starts over; otherwise from the
    // committed state (only this thread changes it, so no lock).
    if (inserted) {
      if (auto found = index_.find(case_id); found != index_.end()) *it->second = states_[found->second];
    }
    return *it->second;
  }

  // Installs (or with null removes) a case's state; the caller holds mu_
  // exclusively, or runs before any query can (Load).
  void Commit(const std::string& case_id, std::unique_ptr<State> state) {
    auto it = index_.find(case_id);
    if (!state) {
      if (it == index_.end()) return;
      live_[it->second] = false;
      states_[it->second].Clear();
      rows_[it->second] = Row{};
      cells_.Place(it->second, nullptr);
      free_.push_back(it->second);
      index_.erase(it);
      return;
    }
    Row row = MakeRow(*state);
    if (it != index_.end()) {
      row.profile.record_key = rows_[it->second].profile.record_key;  // derived once per case
      rows_[it->second] = std::move(row);
      states_[it->second] = std::move(*state);
      cells_.Place(it->second, &rows_[it->second].profile);
      return;
    }
    row.profile.record_key = secret_->CaseKey(case_id);
    uint32_t slot;
    if (!free_.empty()) {
      slot = free_.back();
      free_.pop_back();
      rows_[slot] = std::move(row);
      states_[slot] = std::move(*state);
      live_[slot] = true;
    } else {
      slot = static_cast<uint32_t>(states_.size());
      rows_.push_back(std::move(row));
      states_.push_back(std::move(*state));
      live_.push_back(true);
    }
    cells_.Place(slot, &rows_[slot].profile);
    index_.emplace(case_id, slot);
  }

  const std::shared_ptr<const CellKeySecret> secret_;
  // Committed: dense, so that queries scan memory in order.
  mutable std::shared_mutex mu_;
  std::unordered_map<std::string, uint32_t> index_;
  std::vector<State> states_;
  std::vector<Row> rows_;  // rows_[i] = MakeRow(states_[i])
  std::vector<bool> live_;
  std::vector<uint32_t> free_;
  QueryCells cells_;  // the committed rows by cell, with the queries' memos
  // This batch's states; null: forgotten (ForgetCase) and not folded again.
  std::unordered_map<std::string, std::unique_ptr<State>> pending_;
};

}  // namespace kring::projections
