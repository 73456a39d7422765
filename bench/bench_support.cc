// See bench_support.h.
#include "bench/bench_support.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <fstream>
#include <random>
#include <sstream>
#include <thread>
#include <unordered_map>

#include "synth/cohort.h"

namespace kring::bench {

namespace v1 = kring::v1;

std::atomic<bool> g_interrupted{false};

extern "C" void OnSignal(int) { g_interrupted.store(true); }

std::string Grouped(double value) {
  const bool negative = value < 0;
  uint64_t v = static_cast<uint64_t>(std::llround(negative ? -value : value));
  std::string digits = std::to_string(v);
  std::string out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out.push_back(',');
    out.push_back(digits[i]);
  }
  return negative ? "-" + out : out;
}

std::string Fixed(double value, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, value);
  return buf;
}

std::string Pad(const std::string& s, size_t width, bool left_align) {
  if (s.size() >= width) return s;
  return left_align ? s + std::string(width - s.size(), ' ') : std::string(width - s.size(), ' ') + s;
}

double Median(std::vector<double> values) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  const size_t n = values.size();
  return n % 2 == 1 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
}

// Nearest-rank percentile of latencies in nanoseconds, returned in ms.
double PercentileMs(std::vector<int64_t>& ns, double p) {
  if (ns.empty()) return 0;
  size_t rank = static_cast<size_t>(std::ceil(p * static_cast<double>(ns.size())));
  rank = std::clamp<size_t>(rank, 1, ns.size());
  std::nth_element(ns.begin(), ns.begin() + static_cast<std::ptrdiff_t>(rank - 1), ns.end());
  return static_cast<double>(ns[rank - 1]) / 1e6;
}

uint64_t RandomSeed() {
  std::random_device rd;
  return (static_cast<uint64_t>(rd()) << 32) ^ rd() ^
         static_cast<uint64_t>(std::chrono::system_clock::now().time_since_epoch().count());
}

double ClockTick() {
  static const double tick = static_cast<double>(sysconf(_SC_CLK_TCK));
  return tick;
}

// utime+stime (seconds) from the text of a /proc/.../stat file; name = comm.
bool ParseProcStat(const std::string& text, std::string* name, double* cpu_s) {
  const size_t open = text.find('(');
  const size_t close = text.rfind(')');
  if (open == std::string::npos || close == std::string::npos || close < open) return false;
  if (name) *name = text.substr(open + 1, close - open - 1);
  std::istringstream rest(text.substr(close + 2));
  std::string field;
  // Fields after comm start at 3 (state); utime is 14, stime 15.
  double utime = 0, stime = 0;
  for (int i = 3; i <= 15 && (rest >> field); ++i) {
    if (i == 14) utime = std::strtod(field.c_str(), nullptr);
    if (i == 15) stime = std::strtod(field.c_str(), nullptr);
  }
  *cpu_s = (utime + stime) / ClockTick();
  return true;
}

std::string ReadSmallFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

namespace {

// The parent process id from the text of a /proc/<pid>/stat file, or -1.
pid_t ParentOf(const std::string& text) {
  const size_t close = text.rfind(')');
  if (close == std::string::npos) return -1;
  std::istringstream rest(text.substr(close + 2));
  std::string state;
  pid_t ppid = -1;
  rest >> state >> ppid;
  return ppid;
}

double ProcessCpu(pid_t pid) {
  double s = 0;
  ParseProcStat(ReadSmallFile("/proc/" + std::to_string(pid) + "/stat"), nullptr, &s);
  return s;
}

}  // namespace

CpuSnapshot TakeCpuSnapshot(pid_t server, bool with_children) {
  CpuSnapshot s;
  s.at = Clock::now();
  s.server_s = ProcessCpu(server);
  if (with_children) {
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator("/proc", ec)) {
      const std::string name = entry.path().filename().string();
      if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) continue;
      const std::string text = ReadSmallFile(entry.path().string() + "/stat");
      if (ParentOf(text) != server) continue;
      double cpu = 0;
      if (ParseProcStat(text, nullptr, &cpu)) s.server_s += cpu;
    }
  }
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  s.client_s = static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
               static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
  std::istringstream stat(ReadSmallFile("/proc/stat"));
  std::string cpu;
  stat >> cpu;
  double total = 0, idle = 0, v = 0;
  for (int i = 0; i < 8 && (stat >> v); ++i) {  // user nice system idle iowait irq softirq steal
    total += v;
    if (i == 3 || i == 4) idle += v;
    if (i == 7) s.steal_s = v / ClockTick();
  }
  s.machine_busy_s = (total - idle) / ClockTick();
  s.machine_total_s = total / ClockTick();
  return s;
}

CpuUse CpuBetween(const CpuSnapshot& a, const CpuSnapshot& b) {
  CpuUse u;
  const double wall = std::max(1e-9, Seconds(b.at - a.at));
  u.server = 100 * (b.server_s - a.server_s) / wall;
  u.client = 100 * (b.client_s - a.client_s) / wall;
  u.other = std::max(0.0, 100 * (b.machine_busy_s - a.machine_busy_s) / wall - u.server - u.client);
  const double total = b.machine_total_s - a.machine_total_s;
  u.steal_pct = total > 0 ? 100 * (b.steal_s - a.steal_s) / total : 0;
  return u;
}

// CPU seconds per server thread, keyed by tid, with the thread's name.
std::map<int, std::pair<std::string, double>> ServerThreads(pid_t server) {
  std::map<int, std::pair<std::string, double>> out;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator("/proc/" + std::to_string(server) + "/task", ec)) {
    std::string name;
    double cpu = 0;
    if (ParseProcStat(ReadSmallFile(entry.path().string() + "/stat"), &name, &cpu)) {
      out[std::atoi(entry.path().filename().c_str())] = {name, cpu};
    }
  }
  return out;
}

bool KringdProcess::Start(const std::string& binary, const std::string& log_level,
                          const std::vector<std::string>& extra_args, const fs::path& data_dir,
                          const fs::path& ready_file, const fs::path& log_path, std::string* error) {
  std::vector<std::string> args = {binary,         "--data-dir",        data_dir.string(), "--listen", "127.0.0.1:0",
                                   "--ready-file", ready_file.string(), "--log-level",     log_level};
  args.insert(args.end(), extra_args.begin(), extra_args.end());
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  const int log_fd = open(log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (log_fd < 0) {
    *error = "cannot create " + log_path.string() + ": " + std::strerror(errno);
    return false;
  }
  const pid_t parent = getpid();
  const pid_t pid = fork();
  if (pid < 0) {
    *error = std::string("fork: ") + std::strerror(errno);
    close(log_fd);
    return false;
  }
  if (pid == 0) {
    // Child: die with the bench, default signal handling, logs to the file.
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != parent) _exit(127);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    dup2(log_fd, STDOUT_FILENO);
    dup2(log_fd, STDERR_FILENO);
    execv(argv[0], argv.data());
    std::fprintf(stderr, "exec %s: %s\n", argv[0], std::strerror(errno));
    _exit(127);
  }
  close(log_fd);
  pid_ = pid;
  return true;
}

bool KringdProcess::Running() {
  if (pid_ <= 0) return false;
  int status = 0;
  const pid_t r = waitpid(pid_, &status, WNOHANG);
  if (r == pid_) {
    status_ = status;
    pid_ = -1;
    return false;
  }
  return true;
}

std::optional<Json> KringdProcess::WaitReady(const fs::path& ready_file, double timeout_s, std::string* error) {
  const Clock::time_point start = Clock::now();
  for (;;) {
    if (g_interrupted) {
      *error = "interrupted while waiting for kringd";
      return std::nullopt;
    }
    if (!Running()) {
      *error = "kringd exited before it was ready";
      return std::nullopt;
    }
    if (fs::exists(ready_file)) {
      try {
        return Json::parse(ReadSmallFile(ready_file.string()));
      } catch (const std::exception& e) {
        *error = std::string("unreadable ready file: ") + e.what();
        return std::nullopt;
      }
    }
    if (Seconds(Clock::now() - start) > timeout_s) {
      *error = "kringd not ready within " + std::to_string(static_cast<int>(timeout_s)) + " s";
      return std::nullopt;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

std::string KringdProcess::Stop(double timeout_s) {
  if (pid_ <= 0) return status_ ? Describe(*status_) : "";
  const Clock::time_point start = Clock::now();
  kill(pid_, SIGTERM);
  bool killed = false;
  for (;;) {
    int status = 0;
    const pid_t r = waitpid(pid_, &status, WNOHANG);
    if (r == pid_ || (r < 0 && errno != EINTR)) {
      status_ = status;
      break;
    }
    if (!killed && Seconds(Clock::now() - start) > timeout_s) {
      kill(pid_, SIGKILL);
      killed = true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  pid_ = -1;
  stop_seconds_ = Seconds(Clock::now() - start);
  return (killed ? "did not stop within the timeout, killed; " : "") + Describe(*status_) + " after SIGTERM in " +
         Fixed(stop_seconds_, 2) + " s";
}

std::string KringdProcess::Describe(int status) {
  if (WIFEXITED(status)) return "exited with code " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return std::string("killed by signal ") + strsignal(WTERMSIG(status));
  return "status " + std::to_string(status);
}

std::string Tail(const fs::path& path, size_t lines) {
  std::ifstream in(path);
  std::deque<std::string> last;
  std::string line;
  while (std::getline(in, line)) {
    last.push_back(line);
    if (last.size() > lines) last.pop_front();
  }
  std::string out;
  for (const auto& l : last) out += "    " + l + "\n";
  return out;
}

uint64_t FolderBytes(const fs::path& dir) {
  uint64_t bytes = 0;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::recursive_directory_iterator();
       it.increment(ec)) {
    if (it->is_regular_file(ec)) bytes += it->file_size(ec);
  }
  return bytes;
}

Workload BuildWorkload(uint64_t seed, size_t min_events, size_t min_cases) {
  Workload w;
  kring::synth::CohortOptions options;
  options.seed = seed;
  options.cases = std::numeric_limits<size_t>::max();
  kring::synth::CohortGenerator generator(options);
  kring::synth::SyntheticCase c;
  while ((w.pool.size() < min_events || w.cases.size() < min_cases) && generator.Next(&c)) {
    const size_t begin = w.pool.size();
    std::unordered_map<std::string, int> index;
    for (auto& e : c.events) {
      index[e.event_id()] = static_cast<int>(w.pool.size());
      int cause = -1;
      if (!e.causation_id().empty()) {
        auto it = index.find(e.causation_id());
        if (it != index.end())
          cause = it->second;
        else
          e.clear_causation_id();
      }
      w.cause.push_back(cause);
      w.pool.push_back(std::move(e));
    }
    w.cases.push_back({begin, w.pool.size()});
  }
  return w;
}

Json RoundResult::ToJson() const {
  return Json{
      {"events", events},
      {"requests", requests},
      {"seconds", std::round(seconds * 1000) / 1000},
      {"events_per_s", std::round(events_per_s)},
      {"p50_ms", std::round(p50_ms * 1000) / 1000},
      {"p99_ms", std::round(p99_ms * 1000) / 1000},
      {"failures", failures},
      {"cpu_pct",
       {{"server", std::round(cpu.server)}, {"client", std::round(cpu.client)}, {"other", std::round(cpu.other)}}}};
}

RoundResult Combine(std::string label, std::vector<WorkerResult>& workers, Clock::time_point start, const CpuUse& cpu) {
  RoundResult r;
  r.label = std::move(label);
  std::vector<int64_t> all;
  Clock::time_point end = start;
  for (auto& w : workers) {
    r.requests += w.requests_ok;
    r.events += w.events_ok;
    r.failures += w.failures;
    all.insert(all.end(), w.latency_ns.begin(), w.latency_ns.end());
    end = std::max(end, w.last_ack);
    for (auto& e : w.errors) {
      if (r.errors.size() < 10) r.errors.push_back(e);
    }
  }
  r.seconds = Seconds(end - start);
  r.events_per_s = r.seconds > 0 ? static_cast<double>(r.events) / r.seconds : 0;
  r.p50_ms = PercentileMs(all, 0.50);
  r.p99_ms = PercentileMs(all, 0.99);
  r.cpu = cpu;
  return r;
}

std::shared_ptr<grpc::Channel> MakeChannel(const std::string& target) {
  grpc::ChannelArguments args;
  // Its own TCP connection: channels with equal arguments would otherwise
  // share one subchannel.
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  args.SetMaxReceiveMessageSize(64 << 20);
  args.SetMaxSendMessageSize(64 << 20);
  return grpc::CreateCustomChannel(target, grpc::InsecureChannelCredentials(), args);
}

bool Connect(const std::shared_ptr<grpc::Channel>& channel, double timeout_s) {
  return channel->WaitForConnected(std::chrono::system_clock::now() +
                                   std::chrono::milliseconds(static_cast<int64_t>(timeout_s * 1000)));
}

// --- Scenario (a): pipelined AppendStream -----------------------------------

}  // namespace kring::bench
