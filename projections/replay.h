// Read models "as of" a global position: a fresh engine in a temporary
// folder, filled from the event store up to and including the position and
// removed again when the ReplayedModel is destroyed. The log below a position
// never changes, so the same position always gives the same state: that is
// what makes an answer "as of P" reproducible. Kafka is not involved.
//
// Any read model can be replayed: the caller passes a factory for its
// Projection. Queries then run over ReplayedModel::engine() exactly as over
// the live engine.
//
// Threads: Build may be called from any thread, concurrently; each call has
// its own folder. A ReplayedModel is read-only once built and may be queried
// from any thread.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "common/types.h"
#include "projections/engine.h"
#include "projections/projection.h"

namespace kring::projections {

// Makes a fresh Projection of one read model.
using ProjectionFactory = std::function<std::unique_ptr<Projection>()>;

class ReplayedModel {
 public:
  // Replays positions 1..up_to into a new folder under `parent_dir` (created
  // when missing). OUT_OF_RANGE when up_to is 0 or lies beyond the store's
  // head; CANCELLED when `progress` returns false. The folder is removed on
  // failure too.
  static absl::StatusOr<std::unique_ptr<ReplayedModel>> Build(const std::string& parent_dir,
                                                              const ProjectionFactory& factory,
                                                              const eventstore::EventSource* store,
                                                              GlobalPosition up_to,
                                                              const CatchUpProgressFn& progress = nullptr);
  // Closes the engine and removes its folder.
  ~ReplayedModel();
  ReplayedModel(const ReplayedModel&) = delete;
  ReplayedModel& operator=(const ReplayedModel&) = delete;

  const ProjectionEngine& engine() const { return *engine_; }
  const std::string& path() const { return path_; }

 private:
  ReplayedModel(std::string path, std::unique_ptr<ProjectionEngine> engine)
      : path_(std::move(path)), engine_(std::move(engine)) {}

  std::string path_;
  std::unique_ptr<ProjectionEngine> engine_;
};

}  // namespace kring::projections
