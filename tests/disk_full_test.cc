// A full disk under a real kringd: its data folder is a small tmpfs (mounted
// here; the test needs root, as CI runs, and fails when it cannot mount),
// appends run while the rest of the space is filled. kringd must not die: the
// client sees RESOURCE_EXHAUSTED "disk full", health reports NOT_SERVING for
// kring.v1.IngestService (the overall "" status stays SERVING), and once the
// filler is removed appends are acknowledged again, with every acknowledged
// event stored exactly once.
#include <fcntl.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <future>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "eventstore/event_store.h"
#include "kring/v1/ingest.grpc.pb.h"
#include "tests/testing/kringd_process.h"
#include "tests/testing/test_support.h"

namespace kring {
namespace {

using testing::KringdProcess;

// A tmpfs of `mib` MiB mounted at `dir`, unmounted on destruction.
class Tmpfs {
 public:
  Tmpfs(const std::string& dir, int mib) : dir_(dir) {
    std::filesystem::create_directories(dir);
    const std::string data = "size=" + std::to_string(mib) + "m";
    if (mount("tmpfs", dir.c_str(), "tmpfs", 0, data.c_str()) != 0) {
      error_ = std::string("mount -t tmpfs -o ") + data + " tmpfs " + dir + ": " + std::strerror(errno) +
               " (this test needs root, as CI runs it)";
    }
  }
  ~Tmpfs() {
    if (error_.empty()) umount2(dir_.c_str(), MNT_DETACH);
  }
  const std::string& error() const { return error_; }

 private:
  std::string dir_;
  std::string error_;
};

uint64_t FreeBytes(const std::string& dir) {
  struct statvfs s;
  if (statvfs(dir.c_str(), &s) != 0) return 0;
  return uint64_t{s.f_bsize} * s.f_bfree;
}

// Takes the free space of the file system holding `path` but `leave` bytes
// (fallocate in shrinking steps down to one page).
void FillDisk(const std::string& path, uint64_t leave) {
  const int fd = open(path.c_str(), O_CREAT | O_WRONLY, 0600);
  ASSERT_GE(fd, 0) << std::strerror(errno);
  off_t size = 0;
  for (off_t step = off_t{1} << 30; step >= 4096; step /= 2) {
    while (FreeBytes(path) >= leave + step && posix_fallocate(fd, size, step) == 0) size += step;
  }
  close(fd);
}

// The serving status the health service reports for `service`
// (HealthCheckResponse.status: 1 SERVING, 2 NOT_SERVING; -1 on error).
int HealthStatus(const std::shared_ptr<grpc::Channel>& channel, const std::string& service) {
  grpc::GenericStub generic(channel);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  std::string request_bytes;  // HealthCheckRequest{service}
  if (!service.empty()) {
    request_bytes.push_back(0x0a);
    request_bytes.push_back(static_cast<char>(service.size()));
    request_bytes.append(service);
  }
  grpc::Slice slice(request_bytes);
  grpc::ByteBuffer request(&slice, 1), response;
  std::promise<grpc::Status> done;
  generic.UnaryCall(&context, "/grpc.health.v1.Health/Check", grpc::StubOptions(), &request, &response,
                    [&](grpc::Status s) { done.set_value(s); });
  if (!done.get_future().get().ok()) return -1;
  std::vector<grpc::Slice> slices;
  if (!response.Dump(&slices).ok()) return -1;
  std::string bytes;
  for (const auto& s : slices) bytes.append(reinterpret_cast<const char*>(s.begin()), s.size());
  if (bytes.empty()) return 0;
  return bytes.size() == 2 && bytes[0] == 0x08 ? bytes[1] : -1;
}

bool Alive(pid_t pid) {
  int status = 0;
  return waitpid(pid, &status, WNOHANG) == 0;
}

// Two ways:
// - Guarded: the whole data folder on the tmpfs, kringd with --min-free-mib
//   16, the disk filled to 4 MiB free: appends are refused before RocksDB
//   meets a full disk (the other databases of kringd keep a little room).
// - Unguarded: only the event store's folder (<data>/events) on the tmpfs,
//   --min-free-mib 0, the disk filled to the last page: RocksDB's write fails
//   with ENOSPC (32 MiB: too small for RocksDB to preallocate a 70 MiB WAL,
//   which would hold appends for a while), and the store recovers by reopening its database once space
//   is freed. (The other databases of kringd are kept off the full disk
//   here: they open with the same fail-safe options, see docs/operations.md,
//   but this test does not show them meeting a full disk.)
struct DiskFullCase {
  int tmpfs_mib;
  int min_free_mib;
  bool events_only;
  uint64_t leave_free;
};
void PrintTo(const DiskFullCase& c, std::ostream* os) {
  *os << "tmpfs_mib=" << c.tmpfs_mib << " min_free_mib=" << c.min_free_mib << " events_only=" << c.events_only;
}

class DiskFullTest : public ::testing::TestWithParam<DiskFullCase> {
 protected:
  // Appends a new case of three events; records the ids when acknowledged.
  grpc::Status AppendNewCase(v1::IngestService::Stub& ingest) {
    v1::AppendRequest request;
    request.set_case_id("case-" + std::to_string(next_case_++));
    std::vector<v1::Event> events = testing::SomeEvents(3);
    for (const auto& e : events) *request.add_events() = e;
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    v1::AppendResult result;
    grpc::Status s = ingest.Append(&context, request, &result);
    std::lock_guard<std::mutex> lock(mu_);
    if (s.ok()) {
      for (const auto& e : events) acknowledged_.insert(e.event_id());
    } else {
      codes_[s.error_code()]++;
      if (s.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED) last_refusal_ = s.error_message();
    }
    return s;
  }

  testing::TempDir dir_;
  std::mutex mu_;
  std::set<std::string> acknowledged_;
  std::map<grpc::StatusCode, int> codes_;
  std::string last_refusal_;
  std::atomic<int> next_case_{0};
};

TEST_P(DiskFullTest, KringdRefusesAppendsWhileTheDiskIsFullAndResumesOnceSpaceIsFreed) {
  // kringd's log (<data>.log) lies outside the tmpfs.
  const DiskFullCase c = GetParam();
  const std::string data = dir_.Sub("data");
  const std::string small = c.events_only ? data + "/events" : data;
  Tmpfs tmpfs(small, c.tmpfs_mib);
  ASSERT_TRUE(tmpfs.error().empty()) << tmpfs.error();

  std::unique_ptr<KringdProcess> server;
  ASSERT_NO_THROW(server = std::make_unique<KringdProcess>(
                      data, std::vector<std::string>{"--min-free-mib", std::to_string(c.min_free_mib)}));
  auto channel = testing::NewChannel(server->address());
  auto ingest = v1::IngestService::NewStub(channel);
  ASSERT_EQ(HealthStatus(channel, "kring.v1.IngestService"), 1);

  // Appends run while the disk fills (stopped and joined on every way out).
  std::atomic<bool> stop{false};
  std::atomic<int> refused_full{0};
  const pid_t pid = server->pid();
  std::thread appender_thread([&] {
    while (!stop.load()) {
      grpc::Status s = AppendNewCase(*ingest);
      if (s.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED) refused_full++;
      if (s.error_code() == grpc::StatusCode::UNAVAILABLE && kill(pid, 0) != 0) return;
    }
  });
  struct Joiner {
    std::atomic<bool>& stop;
    std::thread& thread;
    ~Joiner() {
      stop = true;
      if (thread.joinable()) thread.join();
    }
  } joiner{stop, appender_thread};
  for (int i = 0; i < 50; ++i) ASSERT_TRUE(AppendNewCase(*ingest).ok());
  const std::string filler = small + "/filler";
  FillDisk(filler, c.leave_free);
  EXPECT_LT(FreeBytes(small), c.leave_free + (uint64_t{1} << 20));

  // Wait (bounded) until appends are refused as disk full.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (refused_full.load() < 20 && std::chrono::steady_clock::now() < deadline && Alive(server->pid())) {
    // RocksDB frees space as it goes (obsolete WAL files): keep the disk full.
    FillDisk(filler, c.leave_free);
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_TRUE(Alive(server->pid())) << "kringd died on a full disk; its log:\n"
                                    << testing::RunCommand("tail -n 40 " + server->log_path()).output;
  ASSERT_GE(refused_full.load(), 20) << "appends were not refused as RESOURCE_EXHAUSTED";
  {
    std::lock_guard<std::mutex> lock(mu_);
    EXPECT_NE(last_refusal_.find("disk full"), std::string::npos) << last_refusal_;
  }
  EXPECT_EQ(HealthStatus(channel, "kring.v1.IngestService"), 2);  // NOT_SERVING
  EXPECT_EQ(HealthStatus(channel, ""), 1);                        // the process serves reads
  grpc::Status refused = AppendNewCase(*ingest);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << refused.error_message();

  // Space freed: appends resume by themselves.
  std::filesystem::remove(filler);
  testing::WaitFor([&] { return HealthStatus(channel, "kring.v1.IngestService") == 1; }, std::chrono::seconds(60));
  EXPECT_EQ(HealthStatus(channel, "kring.v1.IngestService"), 1);
  stop = true;
  appender_thread.join();
  ASSERT_TRUE(Alive(server->pid()));
  for (int i = 0; i < 20; ++i) {
    grpc::Status s = AppendNewCase(*ingest);
    ASSERT_TRUE(s.ok()) << s.error_code() << " " << s.error_message();
  }
  EXPECT_EQ(server->Terminate(), 0);
  // What the store went through, for the test's output.
  for (const char* what : {"msg=group_write_failed", "msg=reopening_after_failed_write", "msg=reopen_failed",
                           "msg=appends_refused", "msg=appends_resumed"}) {
    std::cout << what << " " << testing::RunCommand("grep -c '" + std::string(what) + "' " + server->log_path()).output;
  }

  // Every acknowledged event is stored, once, and the chain verifies.
  eventstore::EventStoreOptions options;
  options.path = data + "/events";
  auto store = eventstore::EventStore::Open(options);
  ASSERT_TRUE(store.ok()) << store.status();
  auto all = (*store)->ReadAll(GlobalPosition(1), SIZE_MAX);
  ASSERT_TRUE(all.ok()) << all.status();
  std::map<std::string, int> stored;
  for (const auto& e : *all) stored[e.event().event_id()]++;
  for (const auto& [id, n] : stored) EXPECT_EQ(n, 1) << "stored twice: " << id;
  for (const auto& id : acknowledged_) ASSERT_EQ(stored.count(id), 1u) << "acknowledged event lost: " << id;
  auto verified = (*store)->VerifyChain(GlobalPosition(1), GlobalPosition(UINT64_MAX));
  ASSERT_TRUE(verified.ok()) << verified.status();
  EXPECT_TRUE(verified->ok) << verified->reason;
  std::cout << "acknowledged=" << acknowledged_.size() << " stored=" << stored.size()
            << " refused_resource_exhausted=" << codes_[grpc::StatusCode::RESOURCE_EXHAUSTED]
            << " refused_unavailable=" << codes_[grpc::StatusCode::UNAVAILABLE] << "\n";
}

INSTANTIATE_TEST_SUITE_P(FreeSpace, DiskFullTest,
                         ::testing::Values(DiskFullCase{128, 16, false, uint64_t{4} << 20},
                                           DiskFullCase{32, 0, true, 0}),
                         [](const auto& info) { return info.param.min_free_mib ? "Guarded" : "Unguarded"; });

}  // namespace
}  // namespace kring
