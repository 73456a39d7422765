// Pieces shared by the benches that drive a kringd child process over gRPC
// (ingest_bench, side_by_side): the child process, CPU accounting from /proc,
// fast UUIDs, the synthetic workload, round control and per-round results.
#pragma once

#include <grpcpp/grpcpp.h>
#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <limits>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/uuid.h"
#include "kring/v1/events.pb.h"

namespace kring::bench {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using Json = nlohmann::json;

// Set by OnSignal (install it for SIGINT/SIGTERM); every loop checks it.
extern std::atomic<bool> g_interrupted;
extern "C" void OnSignal(int);

inline double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

// ---------------------------------------------------------------------------
// Formatting and statistics
// ---------------------------------------------------------------------------

// 1234567.4 -> "1,234,567".
std::string Grouped(double value);
std::string Fixed(double value, int decimals);
std::string Pad(const std::string& s, size_t width, bool left_align = false);
double Median(std::vector<double> values);
// Nearest-rank percentile of latencies in nanoseconds, returned in ms.
double PercentileMs(std::vector<int64_t>& ns, double p);

// Fast v4 UUIDs (xoshiro256**); the server only needs them unique.
class UuidGen {
 public:
  explicit UuidGen(uint64_t seed) {
    for (auto& s : s_) s = SplitMix(seed);
  }

  // Overwrites *out with a fresh lowercase v4 UUID (no allocation once *out
  // has held 36 characters).
  void Fill(std::string* out) {
    const uint64_t hi = Next();
    const uint64_t lo = Next();
    kring::FormatUuidV4(hi, lo, out);
  }

 private:
  static uint64_t SplitMix(uint64_t& x) {
    uint64_t z = (x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  static uint64_t Rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  uint64_t Next() {
    const uint64_t result = Rotl(s_[1] * 5, 7) * 9;
    const uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = Rotl(s_[3], 45);
    return result;
  }
  uint64_t s_[4];
};

uint64_t RandomSeed();

// ---------------------------------------------------------------------------
// CPU accounting: server (from /proc), this process (getrusage), the machine.
// ---------------------------------------------------------------------------

double ClockTick();
// utime+stime (seconds) from the text of a /proc/.../stat file; name = comm.
bool ParseProcStat(const std::string& text, std::string* name, double* cpu_s);
std::string ReadSmallFile(const std::string& path);

struct CpuSnapshot {
  Clock::time_point at;
  double server_s = 0;
  double client_s = 0;
  double machine_busy_s = 0;
  double machine_total_s = 0;  // every jiffy of /proc/stat's cpu line (idle included)
  double steal_s = 0;          // /proc/stat's steal
};

// `server`: the server's process id; with `with_children`, the CPU of its
// child processes counts as the server's too (a PostgreSQL cluster: the
// postmaster and its backends, WAL writer, checkpointer …).
CpuSnapshot TakeCpuSnapshot(pid_t server, bool with_children = false);

struct CpuUse {  // in % of one core over the interval
  double server = 0, client = 0, other = 0;
  double steal_pct = 0;  // % of all CPU time over the interval that the hypervisor stole
};

CpuUse CpuBetween(const CpuSnapshot& a, const CpuSnapshot& b);

// CPU seconds per server thread, keyed by tid, with the thread's name.
std::map<int, std::pair<std::string, double>> ServerThreads(pid_t server);

// ---------------------------------------------------------------------------
// kringd child process
// ---------------------------------------------------------------------------

class KringdProcess {
 public:
  KringdProcess() = default;
  KringdProcess(const KringdProcess&) = delete;
  KringdProcess& operator=(const KringdProcess&) = delete;
  ~KringdProcess() { Stop(10); }

  // Forks and execs `binary` with --data-dir, --listen 127.0.0.1:0,
  // --ready-file, --log-level and then `extra_args`; its stdout and stderr go
  // to `log_path`.
  bool Start(const std::string& binary, const std::string& log_level, const std::vector<std::string>& extra_args,
             const fs::path& data_dir, const fs::path& ready_file, const fs::path& log_path, std::string* error);

  // Reaps the child if it has exited; returns true while it runs.
  bool Running();

  // Waits, polling, until `ready_file` exists, and returns what it says
  // (grpc, metrics, … addresses). nullopt with *error when kringd exited, the
  // file did not appear within `timeout_s`, it does not parse, or the bench
  // was interrupted (g_interrupted).
  std::optional<Json> WaitReady(const fs::path& ready_file, double timeout_s, std::string* error);

  // SIGTERM, then waits up to `timeout_s` (then SIGKILL). Returns a summary.
  std::string Stop(double timeout_s);

  pid_t pid() const { return pid_; }
  std::optional<int> status() const { return status_; }
  double stop_seconds() const { return stop_seconds_; }

  static std::string Describe(int status);

 private:
  pid_t pid_ = -1;
  std::optional<int> status_;
  double stop_seconds_ = 0;
};

// The last `lines` lines of a file, each indented by four spaces.
std::string Tail(const fs::path& path, size_t lines);
uint64_t FolderBytes(const fs::path& dir);

// ---------------------------------------------------------------------------
// Workload: realistic event payloads from the synthetic cohort
// ---------------------------------------------------------------------------

struct Workload {
  std::vector<kring::v1::Event> pool;  // template events, their ids to be replaced
  std::vector<int> cause;              // pool index of each event's causation event, or -1
  struct Case {
    size_t begin, end;  // [begin, end) in pool
  };
  std::vector<Case> cases;  // the synthetic cases
};

// At least `min_events` template events and `min_cases` whole cases.
Workload BuildWorkload(uint64_t seed, size_t min_events, size_t min_cases);

// Unique case ids: SYNTH-B<run>-<scenario><worker>-<n>.
class CaseIds {
 public:
  CaseIds(const std::string& run, char scenario, int worker) {
    prefix_ = "SYNTH-B" + run + "-" + scenario + std::to_string(worker) + "-";
  }
  void Next(std::string* out) {
    out->assign(prefix_);
    out->append(std::to_string(++n_));
  }

 private:
  std::string prefix_;
  uint64_t n_ = 0;
};

// ---------------------------------------------------------------------------
// Rounds
// ---------------------------------------------------------------------------

// Decides, for every worker, whether one more append may start.
class RoundControl {
 public:
  RoundControl(Clock::time_point deadline, uint64_t event_limit)
      : deadline_(deadline),
        left_(event_limit == 0 ? std::numeric_limits<int64_t>::max() : static_cast<int64_t>(event_limit)) {}
  bool TryIssue(int events) {
    if (g_interrupted.load(std::memory_order_relaxed) || stop_.load(std::memory_order_relaxed)) return false;
    if (Clock::now() >= deadline_) return false;
    if (left_.fetch_sub(events, std::memory_order_relaxed) < events) {
      stop_.store(true, std::memory_order_relaxed);
      return false;
    }
    return true;
  }

 private:
  const Clock::time_point deadline_;
  std::atomic<int64_t> left_;
  std::atomic<bool> stop_{false};
};

// What one worker (stream or client) saw in one round.
struct WorkerResult {
  uint64_t requests_ok = 0;
  uint64_t events_ok = 0;
  uint64_t failures = 0;
  std::vector<int64_t> latency_ns;
  std::vector<std::string> errors;  // the first few, for the report
  Clock::time_point last_ack{};

  void Fail(std::string message) {
    ++failures;
    if (errors.size() < 5) errors.push_back(std::move(message));
  }
};

struct RoundResult {
  std::string label;
  uint64_t requests = 0;
  uint64_t events = 0;
  uint64_t failures = 0;
  double seconds = 0;
  double events_per_s = 0;
  double p50_ms = 0;
  double p99_ms = 0;
  CpuUse cpu;
  std::vector<std::string> errors;

  Json ToJson() const;
};

// Sums the workers' results; events/s over the wall time from `start` to the
// last acknowledgement.
RoundResult Combine(std::string label, std::vector<WorkerResult>& workers, Clock::time_point start, const CpuUse& cpu);

// A channel with its own TCP connection.
std::shared_ptr<grpc::Channel> MakeChannel(const std::string& target);
bool Connect(const std::shared_ptr<grpc::Channel>& channel, double timeout_s);

}  // namespace kring::bench
