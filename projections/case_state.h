// CaseStateProjection<State>: a read model that folds every case into one
// protobuf `State` and keeps all states in memory, so that research queries
// over a million cases scan memory instead of RocksDB.
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
// engine's writer (serialized by the engine); ForEach may run on any thread
// at any time and sees whole batches only.
#pragma once

#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "projections/projection.h"

namespace kring::projections {

template <typename State>
class CaseStateProjection : public Projection {
 public:
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
        state->SerializeToString(&value);
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

  // Calls fn(const State&) for every case, from committed batches only.
  template <typename Fn>
  void ForEach(Fn&& fn) const {
    std::shared_lock<std::shared_mutex> lock(mu_);
    for (size_t i = 0; i < states_.size(); ++i) {
      if (live_[i]) fn(states_[i]);
    }
  }

  size_t cases() const {
    std::shared_lock<std::shared_mutex> lock(mu_);
    return index_.size();
  }

 protected:
  // Whether an event can change a State; others are skipped without
  // creating one.
  virtual bool Relevant(const v1::Event& event) const = 0;
  // Folds one event (in version order) into the case's state.
  virtual absl::Status Fold(const v1::RecordedEvent& event, State& state) = 0;

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
      free_.push_back(it->second);
      index_.erase(it);
      return;
    }
    if (it != index_.end()) {
      states_[it->second] = std::move(*state);
      return;
    }
    uint32_t slot;
    if (!free_.empty()) {
      slot = free_.back();
      free_.pop_back();
      states_[slot] = std::move(*state);
      live_[slot] = true;
    } else {
      slot = static_cast<uint32_t>(states_.size());
      states_.push_back(std::move(*state));
      live_.push_back(true);
    }
    index_.emplace(case_id, slot);
  }

  // Committed: dense, so that queries scan memory in order.
  mutable std::shared_mutex mu_;
  std::unordered_map<std::string, uint32_t> index_;
  std::vector<State> states_;
  std::vector<bool> live_;
  std::vector<uint32_t> free_;
  // This batch's states; null: forgotten (ForgetCase) and not folded again.
  std::unordered_map<std::string, std::unique_ptr<State>> pending_;
};

}  // namespace kring::projections
