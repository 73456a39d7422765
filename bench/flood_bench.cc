// flood_bench: kringd's memory under a flood of AppendStreams that never read
// their acknowledgements (issue 12, defect 6), and whether another client's
// Append is answered meanwhile. Starts the kringd of this build (or --kringd,
// e.g. an older build to compare) on a fresh data folder, then:
//   1. RSS at rest;
//   2. opens --streams streams over --channels connections; each writes
//      --batches batches of --events events (new cases) as fast as flow
//      control lets it and never reads; RSS is sampled until the writes stop
//      moving (every stream blocked by back-pressure or done);
//   3. one Append from another connection (30 s deadline): its status;
//   4. cancels every stream, waits until all ended, RSS again.
// With --refused the batches are refused by the server (never stored), which
// shows the cost of the streams and the ingest path alone: stored events cost
// memory of their own (the embedded Kafka cluster holds every message).
// Prints the figures; a measurement, not a test (no pass/fail but the exit
// code 1 when kringd cannot be started).
#include <grpcpp/grpcpp.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <condition_variable>
#include <fstream>
#include <iostream>
#include <mutex>
#include <thread>

#include "absl/strings/str_cat.h"
#include "kring/v1/ingest.grpc.pb.h"
#include "nlohmann/json.hpp"
#include "tests/testing/test_support.h"

namespace {

using namespace kring;

size_t RssBytes(pid_t pid) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/status"));
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stoull(line.substr(6)) * 1024;
  }
  return 0;
}

// A kringd process on `data_dir` with `extra` flags; its pid and gRPC address
// once its ready file appears (60 s at most).
struct Server {
  pid_t pid = -1;
  std::string address;
};
Server StartKringd(const std::string& kringd, const std::string& data_dir, const std::string& log_level,
                   const std::vector<std::string>& extra) {
  const std::string ready = data_dir + ".ready";
  std::vector<std::string> args = {kringd,         "--data-dir", data_dir,      "--listen", "127.0.0.1:0",
                                   "--ready-file", ready,        "--log-level", log_level};
  args.insert(args.end(), extra.begin(), extra.end());
  Server s;
  s.pid = fork();
  if (s.pid == 0) {
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    execv(argv[0], argv.data());
    _exit(127);
  }
  for (int i = 0; i < 600 && s.address.empty(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    std::ifstream in(ready);
    nlohmann::json j = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
    if (!j.is_discarded() && j.contains("grpc")) s.address = j["grpc"];
  }
  return s;
}

double MiB(double bytes) { return bytes / 1048576.0; }

bool refused_batches = false;  // --refused

v1::AppendRequest Batch(const std::string& case_id, size_t events) {
  v1::AppendRequest r;
  r.set_case_id(case_id);
  if (refused_batches) r.mutable_expected_version()->set_any(false);  // INVALID_ARGUMENT, never stored
  for (auto& e : testing::SomeEvents(events)) *r.add_events() = std::move(e);
  return r;
}

// Writes its batches one after the other and never reads an acknowledgement.
class FloodStream final : public grpc::ClientBidiReactor<v1::AppendRequest, v1::AppendAck> {
 public:
  FloodStream(v1::IngestService::Stub* stub, int id, int batches, size_t events, std::atomic<int64_t>* written)
      : id_(id), batches_(batches), events_(events), written_(written) {
    stub->async()->AppendStream(&context_, this);
    Next();
    StartCall();
  }
  void OnWriteDone(bool ok) override {
    if (!ok) return;
    written_->fetch_add(1);
    if (++sent_ < batches_) {
      Next();
    } else {
      StartWritesDone();
    }
  }
  void OnDone(const grpc::Status&) override {
    std::lock_guard<std::mutex> lock(mu_);
    done_ = true;
    cv_.notify_all();
  }
  void Cancel() { context_.TryCancel(); }
  void Wait() {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return done_; });
  }

 private:
  void Next() {
    request_ = Batch(absl::StrCat("FLOOD-", id_, "-", sent_), events_);
    StartWrite(&request_);
  }
  grpc::ClientContext context_;
  const int id_;
  const int batches_;
  const size_t events_;
  std::atomic<int64_t>* const written_;
  int sent_ = 0;
  v1::AppendRequest request_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;
};

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"flood_bench: kringd's RSS under AppendStreams that never read their acknowledgements"};
  int streams = 1200;
  int channels = 12;
  int batches = 200;
  size_t events = 10;
  std::vector<std::string> extra;
  std::string kringd = KRING_KRINGD_PATH;
  std::string log_level = "warn";
  app.add_option("--kringd", kringd, "the kringd binary")->capture_default_str();
  app.add_option("--streams", streams, "streams that never read")->capture_default_str();
  app.add_option("--channels", channels, "connections they share")->capture_default_str();
  app.add_option("--batches", batches, "batches each stream writes")->capture_default_str();
  app.add_option("--events", events, "events per batch")->capture_default_str();
  app.add_flag("--refused", refused_batches,
               "send batches the server refuses (expected_version.any=false): the ingest path without stored data");
  app.add_option("--log-level", log_level, "kringd's --log-level (info shows msg=freed_memory_returned)")
      ->capture_default_str();
  app.add_option("--kringd-arg", extra, "extra kringd flag (repeatable), e.g. --kringd-arg=--max-queued-events=1000");
  CLI11_PARSE(app, argc, argv);

  testing::TempDir dir;
  const Server server = StartKringd(kringd, dir.Sub("data"), log_level, extra);
  if (server.address.empty()) {
    std::cerr << "flood_bench: " << kringd << " did not become ready\n";
    if (server.pid > 0) kill(server.pid, SIGKILL);
    return 1;
  }
  const pid_t pid = server.pid;
  std::this_thread::sleep_for(std::chrono::seconds(2));
  const size_t rss_rest = RssBytes(pid);

  std::vector<std::shared_ptr<grpc::Channel>> chans;
  std::vector<std::unique_ptr<v1::IngestService::Stub>> stubs;
  for (int c = 0; c < channels; ++c) {
    chans.push_back(testing::NewChannel(server.address));
    stubs.push_back(v1::IngestService::NewStub(chans.back()));
  }
  std::atomic<int64_t> written{0};
  std::vector<std::unique_ptr<FloodStream>> flood;
  for (int s = 0; s < streams; ++s) {
    flood.push_back(std::make_unique<FloodStream>(stubs[s % channels].get(), s, batches, events, &written));
  }
  // Until the writes stop moving for 3 s (at most 120 s), sampling RSS.
  size_t rss_peak = 0;
  int64_t last = -1;
  auto still_since = std::chrono::steady_clock::now();
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  while (std::chrono::steady_clock::now() < give_up) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    rss_peak = std::max(rss_peak, RssBytes(pid));
    const int64_t now = written.load();
    if (now != last) {
      last = now;
      still_since = std::chrono::steady_clock::now();
    } else if (std::chrono::steady_clock::now() - still_since > std::chrono::seconds(3)) {
      break;
    }
  }
  const size_t rss_flood = RssBytes(pid);

  // Another client, on its own connection.
  auto other = v1::IngestService::NewStub(testing::NewChannel(server.address));
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  v1::AppendResult result;
  const auto t0 = std::chrono::steady_clock::now();
  refused_batches = false;
  grpc::Status other_status = other->Append(&context, Batch("FLOOD-OTHER", 3), &result);
  const double other_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();

  for (auto& f : flood) f->Cancel();
  for (auto& f : flood) f->Wait();
  std::this_thread::sleep_for(std::chrono::seconds(5));
  const size_t rss_after = RssBytes(pid);

  std::cout << "streams=" << streams << " channels=" << channels << " batches_per_stream=" << batches
            << " events_per_batch=" << events << "\n"
            << "batches_written_before_back_pressure=" << written.load() << " of " << int64_t{streams} * batches << "\n"
            << "rss_rest_mib=" << MiB(rss_rest) << "\n"
            << "rss_flood_peak_mib=" << MiB(rss_peak) << " (+" << MiB(double(rss_peak) - double(rss_rest)) << ")\n"
            << "rss_flood_end_mib=" << MiB(rss_flood) << "\n"
            << "other_client_append=" << (other_status.ok() ? "OK" : other_status.error_message())
            << " in_ms=" << other_ms << "\n"
            << "rss_after_cancel_mib=" << MiB(rss_after) << " (+" << MiB(double(rss_after) - double(rss_rest))
            << " over rest)\n";
  kill(pid, SIGTERM);
  int status = 0;
  waitpid(pid, &status, 0);
  return 0;
}
