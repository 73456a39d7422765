#include "projections/read_model.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "common/status.h"
#include "eventstore/event_store.h"

namespace kring::projections {
namespace {

namespace fs = std::filesystem;

constexpr char kCurrentSuffix[] = ".current";
constexpr char kRebuildInfix[] = ".rebuild-";
constexpr char kTmpFolder[] = "tmp";

// True for "<name>" and "<name>.rebuild-<digits>": the folders a live engine
// of this read model may live in.
bool IsEngineFolder(const std::string& name, const std::string& folder) {
  if (folder == name) return true;
  const std::string prefix = name + kRebuildInfix;
  if (!absl::StartsWith(folder, prefix) || folder.size() == prefix.size()) return false;
  uint64_t k = 0;
  return absl::SimpleAtoi(folder.substr(prefix.size()), &k);
}

void RemoveFolder(const std::string& path) {
  std::error_code ec;
  fs::remove_all(path, ec);
  if (ec) Logger("projections")->warn("msg=remove_failed path={} error=\"{}\"", path, ec.message());
}

double SecondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

absl::StatusOr<std::unique_ptr<LiveReadModel>> LiveReadModel::Open(LiveReadModelOptions options,
                                                                   const eventstore::EventSource* store) {
  if (options.dir.empty()) return absl::InvalidArgumentError("read model: dir is required");
  if (!options.factory) return absl::InvalidArgumentError("read model: factory is required");
  const std::string name = options.factory()->name();
  std::unique_ptr<LiveReadModel> model(new LiveReadModel(std::move(options), name, store));
  const std::string dir = model->options_.dir;
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return absl::InternalError(absl::StrCat("read model: cannot create ", dir, ": ", ec.message()));

  std::string folder = name;
  const std::string current_file = absl::StrCat(dir, "/", name, kCurrentSuffix);
  if (fs::exists(current_file, ec)) {
    std::ifstream in(current_file);
    std::string line;
    std::getline(in, line);
    line = std::string(absl::StripAsciiWhitespace(line));
    if (!IsEngineFolder(name, line)) {
      return absl::DataLossError(absl::StrCat("read model ", name, ": ", current_file, " names no folder of it"));
    }
    folder = line;
  }
  RETURN_IF_ERROR(model->RemoveLeftovers(folder));
  ASSIGN_OR_RETURN(auto engine, model->OpenEngine(folder));
  model->handle_.Exchange(std::move(engine));
  return model;
}

LiveReadModel::~LiveReadModel() { StopConsumer(); }

absl::StatusOr<std::shared_ptr<ProjectionEngine>> LiveReadModel::OpenEngine(const std::string& folder) const {
  ProjectionOptions options = options_.engine;
  options.path = absl::StrCat(options_.dir, "/", folder);
  ASSIGN_OR_RETURN(auto engine, ProjectionEngine::Open(options, options_.factory(), store_));
  return std::shared_ptr<ProjectionEngine>(std::move(engine));
}

absl::Status LiveReadModel::RemoveLeftovers(const std::string& current_folder) const {
  std::error_code ec;
  for (const fs::directory_entry& entry : fs::directory_iterator(options_.dir, ec)) {
    const std::string folder = entry.path().filename().string();
    if (entry.is_directory() && folder != current_folder && IsEngineFolder(name_, folder)) {
      Logger("projections")->info("msg=removing_leftover projection={} folder={}", name_, folder);
      RemoveFolder(entry.path().string());
    }
  }
  if (ec) return absl::InternalError(absl::StrCat("read model: cannot list ", options_.dir, ": ", ec.message()));
  const std::string tmp = absl::StrCat(options_.dir, "/", kTmpFolder);
  for (const fs::directory_entry& entry : fs::directory_iterator(tmp, ec)) {
    if (absl::StartsWith(entry.path().filename().string(), name_ + ".as-of-")) RemoveFolder(entry.path().string());
  }
  return absl::OkStatus();
}

absl::Status LiveReadModel::WriteCurrent(const std::string& folder) const {
  const std::string path = absl::StrCat(options_.dir, "/", name_, kCurrentSuffix);
  const std::string tmp = path + ".tmp";
  const std::string text = folder + "\n";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return absl::InternalError(absl::StrCat("read model: cannot write ", tmp));
  const bool written = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) && ::fsync(fd) == 0;
  ::close(fd);
  if (!written) return absl::InternalError(absl::StrCat("read model: cannot write ", tmp));
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec) return absl::InternalError(absl::StrCat("read model: cannot replace ", path, ": ", ec.message()));
  if (const int dir_fd = ::open(options_.dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC); dir_fd >= 0) {
    ::fsync(dir_fd);
    ::close(dir_fd);
  }
  return absl::OkStatus();
}

void LiveReadModel::StartConsumer() {
  std::lock_guard<std::mutex> lock(lifecycle_mu_);
  if (stopped_) return;
  consumer_wanted_ = true;
  handle_.Get()->StartConsumer();
}

void LiveReadModel::StopConsumer() {
  stopping_ = true;
  std::lock_guard<std::mutex> lock(lifecycle_mu_);
  stopped_ = true;
  consumer_wanted_ = false;
  if (auto engine = handle_.Get()) engine->StopConsumer();
}

absl::StatusOr<std::unique_ptr<ReplayedModel>> LiveReadModel::ReplayAsOf(GlobalPosition position,
                                                                         const CatchUpProgressFn& progress) const {
  return ReplayedModel::Build(absl::StrCat(options_.dir, "/", kTmpFolder), options_.factory, store_, position,
                              progress);
}

absl::Status FillFromStore(const std::vector<LiveReadModel*>& models, const CatchUpProgressFn& progress,
                           size_t threads) {
  if (models.empty()) return absl::InvalidArgumentError("fill from store: models must name at least one model");
  std::vector<std::shared_ptr<ProjectionEngine>> held;  // alive for the fill
  std::vector<ProjectionEngine*> engines;
  for (LiveReadModel* model : models) {
    if (model == nullptr || model->store_ != models[0]->store_) {
      return absl::InvalidArgumentError("fill from store: every model must be a model of the same store");
    }
    held.push_back(model->handle_.Get());
    engines.push_back(held.back().get());
  }
  const auto started = std::chrono::steady_clock::now();
  const GlobalPosition head = models[0]->store_->Head();
  RETURN_IF_ERROR(CatchUpFromStore(engines, *models[0]->store_, head, progress, threads));
  Logger("projections")
      ->info("msg=filled_from_store models={} threads={} head_position={} seconds={:.2f}", engines.size(), threads,
             head.value(), SecondsSince(started));
  return absl::OkStatus();
}

absl::Status LiveReadModel::Rebuild(const std::function<bool(const RebuildStatus&)>& progress) {
  if (stopping_.load()) return absl::FailedPreconditionError(absl::StrCat("read model ", name_, " is stopping"));
  bool expected = false;
  if (!rebuilding_.compare_exchange_strong(expected, true)) {
    return absl::FailedPreconditionError(absl::StrCat("read_model: a rebuild of ", name_, " is already running"));
  }
  struct Done {
    std::atomic<bool>* flag;
    ~Done() { *flag = false; }
  } done_guard{&rebuilding_};
  auto log = Logger("projections");
  const auto started = std::chrono::steady_clock::now();

  std::shared_ptr<ProjectionEngine> old = handle_.Get();
  const std::string old_path = old->path();
  const std::string current = fs::path(old_path).filename().string();
  std::string folder;
  for (int k = 1;; ++k) {
    folder = absl::StrCat(name_, kRebuildInfix, k);
    std::error_code ec;
    if (folder != current && !fs::exists(absl::StrCat(options_.dir, "/", folder), ec)) break;
  }
  const std::string fresh_path = absl::StrCat(options_.dir, "/", folder);
  ASSIGN_OR_RETURN(std::shared_ptr<ProjectionEngine> fresh, OpenEngine(folder));
  const uint64_t total = store_->Head().value();
  log->info("msg=rebuild_started projection={} folder={} events_total={}", name_, folder, total);

  auto report = [&](bool done) {
    RebuildStatus st;
    st.events_done = fresh->watermark().events_applied;
    st.events_total = total;
    st.seconds = SecondsSince(started);
    st.done = done;
    return !progress || progress(st);
  };
  auto step = [&](const CatchUpProgress&) { return !stopping_.load() && report(false); };
  auto abandon = [&](const absl::Status& s) {
    fresh.reset();
    RemoveFolder(fresh_path);
    log->warn("msg=rebuild_abandoned projection={} status=\"{}\"", name_, s.ToString());
    return s;
  };

  // 1 and 2: up to the head at the start, then up to the head now, while the
  // live engine keeps consuming and answering.
  if (absl::Status s = fresh->CatchUpFromStore(GlobalPosition(total), step); !s.ok()) return abandon(s);
  if (absl::Status s = fresh->CatchUpFromStore(store_->Head(), step); !s.ok()) return abandon(s);
  double frozen_seconds = 0;
  {
    std::lock_guard<std::mutex> lock(lifecycle_mu_);
    const auto frozen = std::chrono::steady_clock::now();
    if (stopping_.load()) return abandon(absl::CancelledError(absl::StrCat("read model ", name_, " is stopping")));
    // 3 and 4: freeze the live engine; every message its consumer read is in
    // the store by now, so after this catch-up the fresh engine has applied
    // it and may take over the offsets.
    old->StopConsumer();
    absl::Status s = fresh->CatchUpFromStore(store_->Head());
    if (s.ok()) s = fresh->CopyOffsetsFrom(*old);
    if (s.ok()) s = fresh->SyncWal();
    // 5: the commit point.
    if (s.ok()) s = WriteCurrent(folder);
    if (!s.ok()) {
      if (consumer_wanted_) old->StartConsumer();
      return abandon(s);
    }
    // 6: queries move over; the consumer resumes at the copied offsets.
    handle_.Exchange(fresh);
    if (consumer_wanted_) fresh->StartConsumer();
    frozen_seconds = SecondsSince(frozen);
  }
  const Watermark w = fresh->watermark();
  log->info(
      "msg=rebuild_swapped projection={} folder={} events_applied={} max_position={} seconds={:.2f} "
      "frozen_seconds={:.3f}",
      name_, folder, w.events_applied, w.max_global_position, SecondsSince(started), frozen_seconds);

  // 7: queries in flight keep the old engine alive; wait for them.
  const auto deadline = std::chrono::steady_clock::now() + options_.release_timeout;
  while (old.use_count() > 1 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  if (old.use_count() > 1) {
    log->warn("msg=old_engine_still_in_use projection={} folder={} (removed at the next start)", name_, current);
    old.reset();
  } else {
    old.reset();
    RemoveFolder(old_path);
  }
  report(true);
  return absl::OkStatus();
}

}  // namespace kring::projections
