// Operations (issue 5), through the real gRPC surface of an in-process
// KringServer (event store, relay, embedded Kafka cluster, network-size
// worker) and the kringctl and kringd executables:
//  - an online rebuild while appends continue and queries keep coming: no
//    query fails, progress arrives and ends with done=true, and the rebuilt
//    model ends equal to a clean rebuild;
//  - answers "as of" a position do not change when the log grows;
//  - a backup taken under load, restored with `kringctl restore` into a new
//    data folder: the chain verifies, the head hash is the one the backup
//    reported, and a kringd started on it serves the same history;
//  - a backup refuses a destination inside the data folder; the next backup
//    removes the staging folder (DEST.tmp) of a backup killed midway, and
//    leaves a DEST.tmp that is not a staging folder alone;
//  - kringctl rebuild, backup and restore: output and exit codes.
#include <google/protobuf/util/message_differencer.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "cli/cohort_client.h"
#include "eventstore/event_store.h"
#include "kring/v1/audit.grpc.pb.h"
#include "kring/v1/research.grpc.pb.h"
#include "projections/cell_key.h"
#include "projections/engine.h"
#include "projections/network_size.h"
#include "services/server.h"
#include "tests/testing/kringd_process.h"
#include "tests/testing/test_support.h"

namespace kring {
namespace {

namespace fs = std::filesystem;
using google::protobuf::util::MessageDifferencer;

client::CohortStreamOptions Cohort(size_t first, size_t cases) {
  client::CohortStreamOptions o;
  o.cohort.seed = 11;
  o.cohort.first_case = first;
  o.cohort.cases = cases;
  o.streams = 2;
  return o;
}

using testing::NewChannel;

std::unique_ptr<services::KringServer> StartServer(const std::string& data_dir) {
  services::ServerOptions options;
  options.data_dir = data_dir;
  options.listen = "127.0.0.1:0";
  options.shutdown_timeout = std::chrono::milliseconds(5000);
  auto server = services::KringServer::Start(options);
  EXPECT_TRUE(server.ok()) << server.status();
  return server.ok() ? *std::move(server) : nullptr;
}

grpc::Status Query(v1::ResearchService::Stub& stub, const v1::NetworkSizeRequest& request,
                   v1::NetworkSizeResponse* response) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(120));
  return stub.GetNetworkSize(&context, request, response);
}

v1::NetworkSizeRequest AsOf(uint64_t position, v1::Grouping group_by = v1::GROUPING_YEAR) {
  v1::NetworkSizeRequest r;
  r.set_as_of_position(position);
  r.set_group_by(group_by);
  return r;
}

// The figures of an answer, without what says where they come from (the
// watermark, the position asked for, and the provenance, which names both).
v1::NetworkSizeResponse WithoutWatermark(v1::NetworkSizeResponse r) {
  r.clear_watermark();
  r.clear_as_of_position();
  r.clear_provenance();
  return r;
}

// Polls the live read model until it reflects `events` events.
v1::NetworkSizeResponse WaitForLiveModel(v1::ResearchService::Stub& stub, uint64_t events,
                                         v1::Grouping group_by = v1::GROUPING_YEAR) {
  v1::NetworkSizeResponse r;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  while (std::chrono::steady_clock::now() < deadline) {
    r.Clear();
    const grpc::Status s = Query(stub, AsOf(0, group_by), &r);
    EXPECT_TRUE(s.ok()) << s.error_message();
    if (r.watermark().events_applied() == events) return r;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ADD_FAILURE() << "the live read model reflects " << r.watermark().events_applied() << " events, not " << events;
  return r;
}

// A clean rebuild: a fresh engine filled from the store, queried directly.
// The network-size answer of a fresh engine filled from `store`, with the
// cell key secret the server created in `data_dir` (its published figures
// are perturbed with it).
v1::NetworkSizeResponse CleanRebuild(const eventstore::EventStore& store, const std::string& data_dir,
                                     const std::string& path, v1::Grouping group_by = v1::GROUPING_YEAR) {
  projections::ProjectionOptions options;
  options.path = path;
  auto secret = projections::CellKeySecret::Load(data_dir + "/cell-key", "cell key");
  EXPECT_TRUE(secret.ok()) << secret.status();
  auto engine = projections::ProjectionEngine::Open(
      options, std::make_unique<projections::NetworkSizeProjection>(*secret), &store);
  EXPECT_TRUE(engine.ok()) << engine.status();
  EXPECT_TRUE((*engine)->CatchUpFromStore().ok());
  auto r = projections::QueryNetworkSize(**engine, AsOf(0, group_by));
  EXPECT_TRUE(r.ok()) << r.status();
  return *r;
}

std::string Hex(const std::string& bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) {
    out.push_back(kDigits[c >> 4]);
    out.push_back(kDigits[c & 0xf]);
  }
  return out;
}

// Runs kringctl with `args`: exit code, stdout and stderr.
struct Kringctl {
  int exit_code;
  std::string out, err;
};
Kringctl RunKringctl(const std::string& args, const std::string& scratch) {
  const std::string err_file = scratch + "/kringctl.err";
  const auto r = testing::RunCommand(absl::StrCat(KRING_KRINGCTL_PATH, " ", args, " 2>", err_file));
  std::ifstream in(err_file);
  std::stringstream err;
  err << in.rdbuf();
  return {WIFEXITED(r.status) ? WEXITSTATUS(r.status) : -1, r.output, err.str()};
}

// Every stored event's bytes with position in [1, to].
std::vector<std::string> StoredBytes(const eventstore::EventStore& store, uint64_t to) {
  std::vector<std::string> out;
  EXPECT_TRUE(store
                  .ScanAll(GlobalPosition(1), GlobalPosition(to),
                           [&](const v1::RecordedEvent&, std::string_view stored) {
                             out.emplace_back(stored);
                             return true;
                           })
                  .ok());
  return out;
}

// ---------------------------------------------------------------------------

TEST(OperationsTest, OnlineRebuildWhileAppendsContinueEqualsCleanRebuild) {
  testing::TempDir dir;
  auto server = StartServer(dir.Sub("data"));
  ASSERT_NE(server, nullptr);
  auto channel = NewChannel(server->address());
  const auto preload = client::StreamCohort(channel, Cohort(1, 3000));
  ASSERT_TRUE(preload.status.ok()) << preload.status;
  ASSERT_EQ(preload.refused, 0u);
  auto research = v1::ResearchService::NewStub(NewChannel(server->address()));
  auto operations = v1::OperationsService::NewStub(NewChannel(server->address()));

  // Unknown read model: refused, naming the field.
  {
    grpc::ClientContext context;
    v1::RebuildRequest request;
    request.set_read_model("no-such-model");
    auto reader = operations->Rebuild(&context, request);
    v1::RebuildProgress p;
    EXPECT_FALSE(reader->Read(&p));
    const grpc::Status s = reader->Finish();
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_NE(s.error_message().find("read_model"), std::string::npos) << s.error_message();
  }

  // Queries in a loop for the whole time; appends during the rebuild.
  std::atomic<bool> stop_queries{false};
  std::atomic<uint64_t> queries{0}, failures{0}, went_back{0};
  std::string first_failure;
  std::thread querier([&] {
    uint64_t last_applied = 0;
    while (!stop_queries.load()) {
      v1::NetworkSizeResponse r;
      const grpc::Status s = Query(*research, AsOf(0), &r);
      ++queries;
      if (!s.ok()) {
        if (failures++ == 0) first_failure = s.error_message();
        continue;
      }
      if (r.watermark().events_applied() < last_applied) ++went_back;
      last_applied = r.watermark().events_applied();
    }
  });
  client::CohortStreamTotals appended;
  std::thread appender([&] { appended = client::StreamCohort(NewChannel(server->address()), Cohort(3001, 2000)); });

  const auto started = std::chrono::steady_clock::now();
  std::vector<v1::RebuildProgress> progress;
  grpc::Status second;
  grpc::Status rebuilt;
  {
    grpc::ClientContext context;
    v1::RebuildRequest request;
    request.set_read_model("network-size");
    auto reader = operations->Rebuild(&context, request);
    v1::RebuildProgress p;
    while (reader->Read(&p)) {
      progress.push_back(p);
      if (progress.size() == 1) {
        // A second rebuild while this one runs is refused.
        grpc::ClientContext context2;
        auto reader2 = operations->Rebuild(&context2, request);
        v1::RebuildProgress ignored;
        while (reader2->Read(&ignored)) {
        }
        second = reader2->Finish();
      }
    }
    rebuilt = reader->Finish();
  }
  const double rebuild_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  appender.join();
  ASSERT_TRUE(rebuilt.ok()) << rebuilt.error_message();
  EXPECT_EQ(second.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << second.error_message();
  EXPECT_NE(second.error_message().find("already running"), std::string::npos) << second.error_message();
  ASSERT_TRUE(appended.status.ok()) << appended.status;
  EXPECT_EQ(appended.refused, 0u);

  // Progress: about once a second, the last one done.
  ASSERT_FALSE(progress.empty());
  EXPECT_TRUE(progress.back().done());
  for (size_t i = 0; i + 1 < progress.size(); ++i) EXPECT_FALSE(progress[i].done());
  EXPECT_GE(progress.front().events_total(), preload.appended);
  EXPECT_GE(progress.back().events_done(), progress.back().events_total());
  EXPECT_GT(progress.back().events_per_second(), 0);
  if (rebuild_seconds > 2.5) {
    EXPECT_GE(progress.size(), 3u);
  }

  // Appends have stopped: the live (rebuilt) model catches up and equals a
  // clean rebuild, and the same question as of the head.
  const uint64_t head = server->store().Head().value();
  const v1::NetworkSizeResponse live = WaitForLiveModel(*research, head);
  stop_queries = true;
  querier.join();
  EXPECT_EQ(failures.load(), 0u) << first_failure;
  EXPECT_EQ(went_back.load(), 0u) << "the watermark a query saw went back";
  EXPECT_GT(queries.load(), 0u);
  EXPECT_EQ(live.watermark().max_global_position(), head);
  const v1::NetworkSizeResponse clean = CleanRebuild(server->store(), dir.Sub("data"), dir.Sub("clean"));
  EXPECT_TRUE(MessageDifferencer::Equals(WithoutWatermark(live), WithoutWatermark(clean)))
      << live.overall().DebugString() << "\nvs\n"
      << clean.overall().DebugString();
  v1::NetworkSizeResponse as_of_head;
  ASSERT_TRUE(Query(*research, AsOf(head), &as_of_head).ok());
  EXPECT_TRUE(MessageDifferencer::Equals(WithoutWatermark(live), WithoutWatermark(as_of_head)));

  // The rebuilt folder is current; the old one is gone.
  std::ifstream current(dir.Sub("data/projections/network-size.current"));
  std::string folder;
  std::getline(current, folder);
  EXPECT_EQ(folder, "network-size.rebuild-1");
  EXPECT_FALSE(fs::exists(dir.Sub("data/projections/network-size")));
  std::cout << "[ figures ] rebuild of " << progress.back().events_done() << " events ("
            << progress.front().events_total() << " at the start) in " << rebuild_seconds << " s, " << progress.size()
            << " progress messages, " << appended.appended << " events appended and " << queries.load()
            << " queries answered meanwhile; head " << head << ", " << live.overall().conferences() << " conferences\n";

  // A restart opens the rebuilt folder, and a second rebuild works too.
  server.reset();
  server = StartServer(dir.Sub("data"));
  ASSERT_NE(server, nullptr);
  research = v1::ResearchService::NewStub(NewChannel(server->address()));
  v1::NetworkSizeResponse reopened;
  ASSERT_TRUE(Query(*research, AsOf(0), &reopened).ok());
  EXPECT_EQ(reopened.watermark().events_applied(), head);
  operations = v1::OperationsService::NewStub(NewChannel(server->address()));
  {
    grpc::ClientContext context;
    v1::RebuildRequest request;
    request.set_read_model("network-size");
    auto reader = operations->Rebuild(&context, request);
    v1::RebuildProgress p;
    bool done = false;
    while (reader->Read(&p)) done = p.done();
    EXPECT_TRUE(reader->Finish().ok());
    EXPECT_TRUE(done);
  }
  std::ifstream current2(dir.Sub("data/projections/network-size.current"));
  std::getline(current2, folder);
  EXPECT_EQ(folder, "network-size.rebuild-2");
  EXPECT_FALSE(fs::exists(dir.Sub("data/projections/network-size.rebuild-1")));
  v1::NetworkSizeResponse after;
  ASSERT_TRUE(Query(*research, AsOf(0), &after).ok());
  EXPECT_TRUE(MessageDifferencer::Equals(WithoutWatermark(after), WithoutWatermark(clean)));
}

TEST(OperationsTest, AsOfPositionGivesTheSameAnswerAfterMoreEvents) {
  testing::TempDir dir;
  auto server = StartServer(dir.Sub("data"));
  ASSERT_NE(server, nullptr);
  auto channel = NewChannel(server->address());
  ASSERT_EQ(client::StreamCohort(channel, Cohort(1, 300)).refused, 0u);
  auto research = v1::ResearchService::NewStub(channel);
  const uint64_t p = server->store().Head().value();

  v1::NetworkSizeResponse before;
  ASSERT_TRUE(Query(*research, AsOf(p), &before).ok());
  EXPECT_EQ(before.watermark().events_applied(), p);
  EXPECT_EQ(before.watermark().max_global_position(), p);
  EXPECT_GT(before.overall().conferences(), 0u);

  ASSERT_EQ(client::StreamCohort(channel, Cohort(301, 300)).refused, 0u);
  const uint64_t head = server->store().Head().value();
  ASSERT_GE(head - p, 10000u);
  v1::NetworkSizeResponse after;
  ASSERT_TRUE(Query(*research, AsOf(p), &after).ok());
  EXPECT_TRUE(MessageDifferencer::Equals(before, after)) << before.overall().DebugString() << "\nvs\n"
                                                         << after.overall().DebugString();
  v1::NetworkSizeResponse now;
  ASSERT_TRUE(Query(*research, AsOf(head), &now).ok());
  EXPECT_GT(now.overall().conferences(), before.overall().conferences());
  EXPECT_EQ(now.watermark().max_global_position(), head);

  // Beyond the head, and bad filters: refused, naming the field.
  v1::NetworkSizeResponse ignored;
  grpc::Status beyond = Query(*research, AsOf(head + 1), &ignored);
  EXPECT_EQ(beyond.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(beyond.error_message().rfind("as_of_position:", 0), 0u) << beyond.error_message();
  v1::NetworkSizeRequest bad = AsOf(p);
  bad.add_domains(v1::DOMAIN_UNSPECIFIED);
  grpc::Status bad_filter = Query(*research, bad, &ignored);
  EXPECT_EQ(bad_filter.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(bad_filter.error_message().rfind("domains[0]:", 0), 0u) << bad_filter.error_message();

  // The temporary read models are gone.
  std::error_code ec;
  EXPECT_TRUE(!fs::exists(dir.Sub("data/projections/tmp")) || fs::is_empty(dir.Sub("data/projections/tmp"), ec));
  std::cout << "[ figures ] as of position " << p << ": " << before.overall().conferences()
            << " conferences, the same after " << head - p << " more events\n";
}

TEST(OperationsTest, BackupUnderLoadRestoresTheSameChainAndHistory) {
  testing::TempDir dir;
  auto server = StartServer(dir.Sub("data"));
  ASSERT_NE(server, nullptr);
  auto channel = NewChannel(server->address());
  ASSERT_EQ(client::StreamCohort(channel, Cohort(1, 1000)).refused, 0u);
  auto research = v1::ResearchService::NewStub(channel);
  auto operations = v1::OperationsService::NewStub(NewChannel(server->address()));

  client::CohortStreamTotals appended;
  const uint64_t preloaded = server->store().Head().value();
  std::thread appender([&] { appended = client::StreamCohort(NewChannel(server->address()), Cohort(1001, 4000)); });
  // The backup starts once appends are flowing.
  while (server->store().Head().value() < preloaded + 5000) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  const uint64_t head_before = server->store().Head().value();
  v1::BackupResponse backup;
  {
    grpc::ClientContext context;
    v1::BackupRequest request;
    request.set_destination(dir.Sub("backup"));
    const grpc::Status s = operations->Backup(&context, request, &backup);
    ASSERT_TRUE(s.ok()) << s.error_message();
  }
  appender.join();
  ASSERT_TRUE(appended.status.ok()) << appended.status;
  const uint64_t head_after = server->store().Head().value();
  EXPECT_EQ(backup.path(), dir.Sub("backup"));
  EXPECT_GE(backup.head_position(), head_before);
  EXPECT_LT(backup.head_position(), head_after) << "the appends ended before the backup did";
  EXPECT_EQ(backup.head_hash().size(), 32u);
  EXPECT_GT(backup.bytes(), 0u);
  const uint64_t p = backup.head_position();

  // Refusals name the field.
  for (const std::string& destination : {std::string(""), std::string("relative/backup"), dir.Sub("backup")}) {
    grpc::ClientContext context;
    v1::BackupRequest request;
    request.set_destination(destination);
    v1::BackupResponse ignored;
    const grpc::Status s = operations->Backup(&context, request, &ignored);
    EXPECT_FALSE(s.ok()) << destination;
    EXPECT_EQ(s.error_message().rfind("destination:", 0), 0u) << s.error_message();
  }

  // Restore with the binary, into a new data folder.
  const Kringctl restored = RunKringctl(
      absl::StrCat("restore --from ", dir.Sub("backup"), " --data-dir ", dir.Sub("restored"), " --json"), dir.path());
  ASSERT_EQ(restored.exit_code, 0) << restored.out << restored.err;
  const nlohmann::json j = nlohmann::json::parse(restored.out);
  EXPECT_EQ(j["verified"], true);
  EXPECT_EQ(j["head_position"], p);
  EXPECT_EQ(j["head_hash"], Hex(backup.head_hash()));
  EXPECT_EQ(j["events_verified"], p);

  // The original's answer as of the backup's head, for comparison.
  v1::NetworkSizeResponse original;
  ASSERT_TRUE(Query(*research, AsOf(p), &original).ok());

  // A kringd on the restored folder serves the same history: its live read
  // model (built from the restored store through its own Kafka) and its
  // answer as of the head equal the original's as of the backup's head.
  // The operator keeps the cell key secret apart from the backup and puts it
  // back (docs/operations.md, "The cell key secret"): the restored kringd then
  // publishes the same perturbed figures.
  fs::copy_file(dir.Sub("data/cell-key"), dir.Sub("restored/cell-key"));
  fs::permissions(dir.Sub("restored/cell-key"), fs::perms::owner_read | fs::perms::owner_write);
  {
    testing::KringdProcess kringd(dir.Sub("restored"));
    auto restored_research = v1::ResearchService::NewStub(NewChannel(kringd.address()));
    const v1::NetworkSizeResponse live = WaitForLiveModel(*restored_research, p);
    v1::NetworkSizeResponse original_live = original;  // the same figures and watermark, asked live
    original_live.clear_as_of_position();
    original_live.clear_provenance();  // its filters name the position asked
    v1::NetworkSizeResponse live_figures = live;
    live_figures.clear_provenance();
    EXPECT_TRUE(MessageDifferencer::Equals(live_figures, original_live));
    v1::NetworkSizeResponse as_of;
    ASSERT_TRUE(Query(*restored_research, AsOf(p), &as_of).ok());
    EXPECT_TRUE(MessageDifferencer::Equals(as_of, original));
    EXPECT_EQ(kringd.Terminate(), 0);
  }
  // Byte for byte: the restored log is the original's up to the backup's head.
  eventstore::EventStoreOptions options;
  options.path = dir.Sub("restored/events");
  auto store = eventstore::EventStore::Open(options);
  ASSERT_TRUE(store.ok()) << store.status();
  EXPECT_EQ((*store)->Head().value(), p);
  const std::vector<std::string> restored_bytes = StoredBytes(**store, p);
  const std::vector<std::string> original_bytes = StoredBytes(server->store(), p);
  ASSERT_EQ(restored_bytes.size(), p);
  EXPECT_TRUE(restored_bytes == original_bytes);
  auto chain = (*store)->VerifyChain(GlobalPosition(1), GlobalPosition(p));
  ASSERT_TRUE(chain.ok()) << chain.status();
  EXPECT_TRUE(chain->ok) << chain->reason;
  EXPECT_EQ(chain->head_hash, backup.head_hash());
  std::cout << "[ figures ] backup of " << p << " events (" << backup.bytes() << " bytes) taken while "
            << appended.appended << " events were appended (head " << head_before << " -> " << head_after
            << "); restored and verified\n";
}

grpc::Status Backup(v1::OperationsService::Stub& operations, const std::string& destination,
                    v1::BackupResponse* response) {
  grpc::ClientContext context;
  v1::BackupRequest request;
  request.set_destination(destination);
  return operations.Backup(&context, request, response);
}

TEST(OperationsTest, BackupRefusesADestinationInsideTheDataFolder) {
  testing::TempDir dir;
  auto server = StartServer(dir.Sub("data"));
  ASSERT_NE(server, nullptr);
  ASSERT_EQ(client::StreamCohort(NewChannel(server->address()), Cohort(1, 20)).refused, 0u);
  auto operations = v1::OperationsService::NewStub(NewChannel(server->address()));
  fs::create_directory_symlink(dir.Sub("data"), dir.Sub("link"));
  // Into the live event store, the data folder itself, a read model's
  // folder, through "..", and through a symbolic link to the data folder.
  for (const std::string& destination :
       {dir.Sub("data/events/backup"), dir.Sub("data/backup"), dir.Sub("data/projections/backup"),
        dir.Sub("elsewhere/../data/events/backup"), dir.Sub("link/events/backup")}) {
    v1::BackupResponse ignored;
    const grpc::Status s = Backup(*operations, destination, &ignored);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << destination << ": " << s.error_message();
    EXPECT_EQ(s.error_message().rfind("destination: must be outside the server's data folder", 0), 0u)
        << s.error_message();
    EXPECT_FALSE(fs::exists(destination)) << destination;
    EXPECT_FALSE(fs::exists(destination + ".tmp")) << destination;
  }
  // A sibling whose name starts like the data folder's is outside it.
  v1::BackupResponse backup;
  const grpc::Status s = Backup(*operations, dir.Sub("data-backup"), &backup);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(backup.head_position(), server->store().Head().value());
}

TEST(OperationsTest, TheNextBackupRemovesTheStagingFolderOfABackupKilledMidway) {
  testing::TempDir dir;
  const std::string data = dir.Sub("data");
  // kringd is killed (SIGKILL) while its backup's staging folder exists: the
  // events in its memtable make RocksDB flush them before it links the
  // files, so the staging folder lives long enough to be seen. If a backup
  // still finishes first, the next attempt appends more and tries again.
  std::string killed;
  for (int attempt = 1; attempt <= 5 && killed.empty(); ++attempt) {
    testing::KringdProcess kringd(data);
    ASSERT_EQ(
        client::StreamCohort(NewChannel(kringd.address()), Cohort(static_cast<size_t>(attempt - 1) * 1500 + 1, 1500))
            .refused,
        0u);
    const std::string destination = dir.Sub("killed-" + std::to_string(attempt));
    std::thread backup([&] {
      auto operations = v1::OperationsService::NewStub(NewChannel(kringd.address()));
      v1::BackupResponse ignored;
      Backup(*operations, destination, &ignored).ok();  // killed: UNAVAILABLE, or OK if it won the race
    });
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (!fs::exists(destination + ".tmp") && !fs::exists(destination) &&
           std::chrono::steady_clock::now() < deadline) {
    }
    if (fs::exists(destination + ".tmp")) kringd.Kill();
    backup.join();
    if (fs::exists(destination + ".tmp") && !fs::exists(destination)) killed = destination;
  }
  ASSERT_FALSE(killed.empty()) << "no backup was killed midway in 5 attempts";
  std::cout << "[ figures ] kringd killed during its backup into " << fs::path(killed).filename() << "\n";
  ASSERT_TRUE(fs::is_directory(killed + ".tmp"));

  // A restarted kringd, a backup elsewhere: the leftover is gone.
  testing::KringdProcess kringd(data);
  auto operations = v1::OperationsService::NewStub(NewChannel(kringd.address()));
  v1::BackupResponse backup;
  const grpc::Status s = Backup(*operations, dir.Sub("next"), &backup);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_FALSE(fs::exists(killed + ".tmp"));
  EXPECT_FALSE(fs::exists(killed));
  EXPECT_TRUE(fs::exists(dir.Sub("next/events/CURRENT")));
  EXPECT_GT(backup.head_position(), 0u);
  std::ifstream log(kringd.log_path());
  const std::string text((std::istreambuf_iterator<char>(log)), std::istreambuf_iterator<char>());
  EXPECT_NE(text.find("msg=backup_staging_removed path=" + killed + ".tmp"), std::string::npos);
}

TEST(OperationsTest, BackupLeavesAStagingPathThatIsNotAStagingFolderAlone) {
  testing::TempDir dir;
  auto server = StartServer(dir.Sub("data"));
  ASSERT_NE(server, nullptr);
  ASSERT_EQ(client::StreamCohort(NewChannel(server->address()), Cohort(1, 20)).refused, 0u);
  auto operations = v1::OperationsService::NewStub(NewChannel(server->address()));
  // DEST.tmp holds a file of someone else: RocksDB would delete it before
  // staging there. The backup is refused, naming the field, and the file stays.
  fs::create_directory(dir.Sub("other.tmp"));
  std::ofstream(dir.Sub("other.tmp/notes.txt")) << "not a backup\n";
  v1::BackupResponse ignored;
  const grpc::Status refused = Backup(*operations, dir.Sub("other"), &ignored);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << refused.error_message();
  EXPECT_EQ(refused.error_message().rfind("destination: " + dir.Sub("other.tmp") + " exists and is not", 0), 0u)
      << refused.error_message();
  EXPECT_TRUE(fs::exists(dir.Sub("other.tmp/notes.txt")));
  EXPECT_FALSE(fs::exists(dir.Sub("other")));
}

TEST(OperationsTest, KringctlRebuildBackupAndRestoreOutputAndExitCodes) {
  testing::TempDir dir;
  auto server = StartServer(dir.Sub("data"));
  ASSERT_NE(server, nullptr);
  ASSERT_EQ(client::StreamCohort(NewChannel(server->address()), Cohort(1, 200)).refused, 0u);
  const std::string at = absl::StrCat("--server ", server->address(), " ");

  // rebuild --json: one JSON object per line, the last one done.
  Kringctl r = RunKringctl(at + "rebuild network-size --json", dir.path());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::vector<nlohmann::json> lines;
  for (absl::string_view line : absl::StrSplit(r.out, '\n', absl::SkipEmpty())) {
    lines.push_back(nlohmann::json::parse(line));
  }
  ASSERT_FALSE(lines.empty()) << r.out;
  EXPECT_EQ(lines.back()["done"], true);
  EXPECT_EQ(lines.back()["events_total"], server->store().Head().value());
  EXPECT_TRUE(lines.back().contains("events_per_second"));
  EXPECT_TRUE(lines.back().contains("eta_seconds"));

  r = RunKringctl(at + "rebuild network-size", dir.path());
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("Rebuilt read model 'network-size'"), std::string::npos) << r.out;
  r = RunKringctl(at + "rebuild no-such-model", dir.path());
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("read_model"), std::string::npos) << r.err;
  r = RunKringctl("--server 127.0.0.1:1 rebuild network-size --connect-timeout 1", dir.path());
  EXPECT_EQ(r.exit_code, 3) << r.err;
  r = RunKringctl(at + "rebuild", dir.path());
  EXPECT_EQ(r.exit_code, 2);

  // backup: a table, or JSON.
  r = RunKringctl(at + "backup --to relative/folder", dir.path());
  EXPECT_EQ(r.exit_code, 2) << r.err;
  r = RunKringctl(at + "backup --to " + dir.Sub("backup"), dir.path());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("head position  " + std::to_string(server->store().Head().value())), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("head hash"), std::string::npos) << r.out;
  r = RunKringctl(at + "backup --to " + dir.Sub("backup"), dir.path());
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("already exists"), std::string::npos) << r.err;
  r = RunKringctl(at + "backup --json --to " + dir.Sub("backup2"), dir.path());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const nlohmann::json backup = nlohmann::json::parse(r.out);
  EXPECT_EQ(backup["head_hash"].get<std::string>().size(), 64u);

  // restore: 0 when it verifies, 4 when the head hash is not the expected
  // one, 1 into a folder in use, 2 from a folder that does not exist.
  r = RunKringctl(absl::StrCat("restore --from ", dir.Sub("backup2"), " --data-dir ", dir.Sub("r1"),
                               " --expect-head-hash ", backup["head_hash"].get<std::string>()),
                  dir.path());
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("verifies"), std::string::npos) << r.out;
  EXPECT_TRUE(fs::exists(dir.Sub("r1/events/CURRENT")));
  r = RunKringctl(
      absl::StrCat("restore --from ", dir.Sub("backup2"), " --data-dir ", dir.Sub("r2"), " --expect-head-hash 00"),
      dir.path());
  EXPECT_EQ(r.exit_code, 4) << r.out << r.err;
  EXPECT_NE(r.out.find("DOES NOT VERIFY"), std::string::npos) << r.out;
  EXPECT_FALSE(fs::exists(dir.Sub("r2/events")));
  r = RunKringctl(absl::StrCat("restore --from ", dir.Sub("backup2"), " --data-dir ", dir.Sub("r1")), dir.path());
  EXPECT_EQ(r.exit_code, 1);
  r = RunKringctl(absl::StrCat("restore --from ", dir.Sub("nothing"), " --data-dir ", dir.Sub("r3")), dir.path());
  EXPECT_EQ(r.exit_code, 2);
}

}  // namespace
}  // namespace kring
