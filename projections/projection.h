// The contract between the projection engine and one read model.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "kring/v1/events.pb.h"

namespace rocksdb {
class DB;
class WriteBatchWithIndex;
}  // namespace rocksdb

namespace kring::projections {

// The read model's view of its own keys while events are applied: reads see
// the writes of earlier events of the same batch. All writes of a batch land
// in one RocksDB write, together with the applied versions and offsets.
class ModelTxn {
 public:
  ModelTxn(rocksdb::DB* db, rocksdb::WriteBatchWithIndex* batch) : db_(db), batch_(batch) {}
  absl::StatusOr<std::optional<std::string>> Get(std::string_view key);
  void Put(std::string_view key, std::string_view value);
  void Delete(std::string_view key);
  // Deletes every key that starts with `prefix`, as seen by this batch.
  absl::Status DeletePrefix(std::string_view prefix);

 private:
  rocksdb::DB* db_;
  rocksdb::WriteBatchWithIndex* batch_;
};

// A read model. Apply() receives every event of every case exactly once, in
// stream-version order per case (the engine skips duplicates and fills gaps
// before calling it). It must be deterministic: a rebuild gives the same state.
//
// Retractions: Apply() never sees an EventRetracted. When one arrives, the
// engine calls ForgetCase() and then Apply() again for every event of the
// case up to the retraction, leaving out retractions and the events they
// withdrew. So a read model treats a retracted event as never recorded, live
// and in rebuilds alike, as long as everything it keeps about a case is
// removed by ForgetCase().
class Projection {
 public:
  virtual ~Projection() = default;
  // Short stable name: the consumer group is "kring.projection.<name>".
  virtual std::string name() const = 0;
  virtual absl::Status Apply(const v1::RecordedEvent& event, ModelTxn& txn) = 0;
  // Removes everything this read model keeps about the case.
  virtual absl::Status ForgetCase(const std::string& case_id, ModelTxn& txn) = 0;

  // The layout of what the model stores. When it differs from the one a
  // read model's folder was written with, the engine empties the folder and
  // the model is filled again from the store (and Kafka). Default: "1".
  virtual std::string layout() const { return "1"; }
  // Called when the engine opens, once for every key the model stored, in
  // key order, so a model can hold what it folds and queries in memory.
  // Default: nothing.
  virtual absl::Status Load(std::string_view key, std::string_view value) { return absl::OkStatus(); }
  // Called after the last Apply/ForgetCase of a batch and before its write:
  // a model that folds in memory writes what changed. Default: nothing.
  virtual absl::Status EndBatch(ModelTxn& txn) { return absl::OkStatus(); }
  // After the batch's write: `written` says whether it reached the store.
  // Default: nothing.
  virtual void AfterWrite(bool written) {}
};

}  // namespace kring::projections
