#include "projections/replay.h"

#include <unistd.h>

#include <atomic>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "common/status.h"
#include "eventstore/event_store.h"

namespace kring::projections {
namespace {

void RemoveFolder(const std::string& path) {
  std::error_code ec;
  std::filesystem::remove_all(path, ec);
  if (ec) Logger("projections")->warn("msg=remove_failed path={} error=\"{}\"", path, ec.message());
}

}  // namespace

absl::StatusOr<std::unique_ptr<ReplayedModel>> ReplayedModel::Build(const std::string& parent_dir,
                                                                    const ProjectionFactory& factory,
                                                                    const eventstore::EventSource* store,
                                                                    GlobalPosition up_to,
                                                                    const CatchUpProgressFn& progress) {
  const GlobalPosition head = store->Head();
  if (up_to.value() == 0 || up_to > head) {
    return absl::OutOfRangeError(
        absl::StrCat("position ", up_to.value(), " is not in the log (positions 1..", head.value(), ")"));
  }
  static std::atomic<uint64_t> counter{0};
  std::unique_ptr<Projection> projection = factory();
  const std::string path = absl::StrCat(parent_dir, "/", projection->name(), ".as-of-", up_to.value(), ".", getpid(),
                                        "-", counter.fetch_add(1));
  std::error_code ec;
  std::filesystem::create_directories(parent_dir, ec);
  if (ec) return absl::InternalError(absl::StrCat("replay: cannot create ", parent_dir, ": ", ec.message()));
  RemoveFolder(path);  // a leftover of a crashed process with the same pid

  ProjectionOptions options;
  options.path = path;
  options.write_ahead_log = false;  // never reopened
  auto engine = ProjectionEngine::Open(options, std::move(projection), store);
  if (!engine.ok()) {
    RemoveFolder(path);
    return engine.status();
  }
  std::unique_ptr<ReplayedModel> model(new ReplayedModel(path, *std::move(engine)));
  const auto started = std::chrono::steady_clock::now();
  RETURN_IF_ERROR(model->engine_->CatchUpFromStore(up_to, progress));  // the destructor removes the folder
  Logger("projections")
      ->info("msg=replayed projection={} up_to={} seconds={:.2f}", model->engine_->name(), up_to.value(),
             std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
  return model;
}

ReplayedModel::~ReplayedModel() {
  engine_.reset();
  RemoveFolder(path_);
}

}  // namespace kring::projections
