// ingest_bench: durable ingest throughput and latency of kringd, end to end.
//
// Starts kringd as a child process on a fresh data folder (by default a fresh
// kringd and folder per scenario), connects over real gRPC (loopback TCP) and
// runs two scenarios, each as a warm-up and then N timed rounds:
//   (a) AppendStream: S concurrent bidi streams (default 4), each sending
//       batches of B events (default 100, one fresh case per batch, expected
//       version "no stream") with up to W batches unacknowledged (default 32);
//   (b) unary Append: C concurrent clients (default 16), each appending one
//       event at a time to its own cases (expected version exact) and waiting
//       for the acknowledgement before sending the next.
//   (p) personal data: scenario (b) three times on one kringd with a master
//       key, side by side: events without a personal part; every event with
//       a personal part (so each append seals, and each new case creates and
//       syncs its data key); and the same while an operator erases cases
//       back to back (each erasure appends an event and purges the key
//       folder: a flush and a full compaction).
// For each round it prints durable events/s (events acknowledged OK / wall
// time until the last acknowledgement), acknowledgement latency p50/p99 and
// the CPU used by the server, by this client and by everything else on the
// machine; then the median over the rounds beside the target, and one JSON
// line. Every acknowledgement is checked (status, versions, positions): any
// refused or wrong acknowledgement is a failure, reported, and makes the exit
// code 1.
//
// Payloads come from the synthetic cohort generator (kring::synth), with
// fresh event ids (and causation ids remapped to them) and fresh case ids per
// append. Requests are built before the timed part; sending one only rewrites
// its ids.
//
// Exit codes: 0 all appends acknowledged OK; 1 some append refused, lost or
// wrongly acknowledged; 2 bad flags; 3 kringd could not be started or the
// bench could not run; 4 a target was missed and --enforce-targets was given;
// 130 interrupted (SIGINT/SIGTERM).
#include <fcntl.h>
#include <grpcpp/grpcpp.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <tuple>
#include <unordered_map>
#include <vector>

#include "absl/time/time.h"
#include "bench/bench_support.h"
#include "common/uuid.h"
#include "kring/v1/audit.grpc.pb.h"
#include "kring/v1/events.pb.h"
#include "kring/v1/ingest.grpc.pb.h"
#include "synth/cohort.h"

#ifndef KRING_KRINGD_PATH
#define KRING_KRINGD_PATH "kringd"
#endif

namespace {

using namespace kring::bench;  // NOLINT: the shared bench pieces (bench_support.h)
namespace v1 = kring::v1;

// ---------------------------------------------------------------------------
// Options
// ---------------------------------------------------------------------------

struct Options {
  std::string kringd = KRING_KRINGD_PATH;
  std::string data_parent;  // the fresh folder is created inside; default: system temp
  bool keep_data = false;
  std::vector<std::string> kringd_args;
  std::string kringd_log_level = "warn";
  double start_timeout_s = 60;
  double stop_timeout_s = 60;

  std::string scenarios = "ab";
  double warmup_s = 3;
  int rounds = 3;
  double duration_s = 10;
  uint64_t events_a = 0;  // per round; 0: no count limit
  uint64_t events_b = 0;

  int streams = 4;
  int batch = 100;
  int window = 32;
  bool stream_channels = true;  // one channel (TCP connection) per stream

  int clients = 16;
  int unary_channels = 2;
  std::string unary_mode = "callback";

  uint64_t seed = 20240917;
  double target_a = 100000;
  double target_b = 15000;
  bool enforce_targets = false;
  std::string json_file;
  bool thread_profile = true;
  bool shared_server = false;
  double rpc_timeout_s = 60;
};

// ---------------------------------------------------------------------------
// Rounds (RoundControl, WorkerResult, RoundResult: bench_support.h)
// ---------------------------------------------------------------------------

class StreamWorker final : public grpc::ClientBidiReactor<v1::AppendRequest, v1::AppendAck> {
 public:
  // request_id = seq << 8 | slot, so an ack names its slot whatever the order.
  static constexpr int kMaxWindow = 256;

  StreamWorker(const Workload& w, int index, int batch, int window, const std::string& run)
      : ids_(run, 'a', index), uuids_(RandomSeed() ^ (static_cast<uint64_t>(index) << 48)) {
    slots_.resize(static_cast<size_t>(window));
    // Slot s of stream i always carries template batch (i * window + s): the
    // events of one synthetic case from its referral on, so that the batch
    // passes the case rules, their causation links kept inside the batch; a
    // case shorter than the batch is padded with CostRecorded events, which
    // the rules allow at any time after the referral.
    v1::Event padding;
    padding.mutable_cost_recorded()->set_kind(v1::COST_KIND_OTHER);
    padding.mutable_cost_recorded()->set_amount_cents(15000);
    padding.mutable_cost_recorded()->set_currency("EUR");
    for (int s = 0; s < window; ++s) {
      Slot& slot = slots_[static_cast<size_t>(s)];
      const Workload::Case& c = w.cases[(static_cast<size_t>(index) * window + s) % w.cases.size()];
      const size_t first = c.begin;
      slot.cause.assign(static_cast<size_t>(batch), -1);
      for (int k = 0; k < batch; ++k) {
        const size_t p = first + static_cast<size_t>(k);
        v1::Event* e = slot.request.add_events();
        if (p >= c.end) {
          *e = padding;
          *e->mutable_occurred_at() = w.pool[c.end - 1].occurred_at();
          continue;
        }
        *e = w.pool[p];
        const int cause = w.cause[p];
        if (cause >= static_cast<int>(first) && cause < static_cast<int>(p)) {
          slot.cause[static_cast<size_t>(k)] = cause - static_cast<int>(first);
        } else {
          e->clear_causation_id();
        }
      }
      slot.request.mutable_expected_version()->set_no_stream(true);
      free_.push_back(s);
    }
    batch_ = batch;
  }

  // The worker (and its prebuilt requests) serves every round; this readies
  // it for the next one, after the previous stream has ended.
  void ResetForRound() {
    std::lock_guard<std::mutex> lock(mu_);
    write_queue_.clear();
    free_.clear();
    for (size_t s = 0; s < slots_.size(); ++s) {
      slots_[s].in_flight = false;
      free_.push_back(static_cast<int>(s));
    }
    outstanding_ = 0;
    writing_ = stopping_ = writes_done_ = broken_ = done_ = false;
  }

  // Starts a round: opens the stream and fills the window.
  void Start(v1::IngestService::Stub* stub, RoundControl* control, double rpc_timeout_s, WorkerResult* result) {
    control_ = control;
    result_ = result;
    context_ = std::make_unique<grpc::ClientContext>();
    // Bounds a stalled round; normal rounds end long before.
    context_->set_deadline(std::chrono::system_clock::now() +
                           std::chrono::milliseconds(static_cast<int64_t>(rpc_timeout_s * 1000)));
    stub->async()->AppendStream(context_.get(), this);
    {
      std::lock_guard<std::mutex> lock(mu_);
      StartRead(&ack_);
      IssueLocked();
    }
    StartCall();
  }

  // Waits for the end of the stream (OnDone); false on timeout.
  bool Wait(double timeout_s) {
    std::unique_lock<std::mutex> lock(mu_);
    return done_cv_.wait_for(lock, std::chrono::milliseconds(static_cast<int64_t>(timeout_s * 1000)),
                             [&] { return done_; });
  }
  void Cancel() { context_->TryCancel(); }

  void OnWriteDone(bool ok) override {
    std::lock_guard<std::mutex> lock(mu_);
    const int s = write_queue_.front();
    write_queue_.pop_front();
    writing_ = false;
    if (!ok) {
      // The call is over (cancelled, deadline or connection lost); OnDone
      // reports what was never acknowledged.
      broken_ = true;
      stopping_ = true;
      return;
    }
    Slot& slot = slots_[static_cast<size_t>(s)];
    slot.written = true;
    if (slot.acked) Release(s);
    IssueLocked();
  }

  void OnReadDone(bool ok) override {
    if (!ok) return;  // the server finished the call; OnDone follows
    const Clock::time_point now = Clock::now();
    std::lock_guard<std::mutex> lock(mu_);
    HandleAckLocked(now);
    IssueLocked();
    StartRead(&ack_);
  }

  void OnDone(const grpc::Status& status) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (outstanding_ > 0) {
      result_->failures += static_cast<uint64_t>(outstanding_) - 1;
      result_->Fail("AppendStream ended with " + std::to_string(outstanding_) + " batches unacknowledged: status " +
                    std::to_string(status.error_code()) + " " + status.error_message());
    } else if (!status.ok()) {
      result_->Fail("AppendStream ended with status " + std::to_string(status.error_code()) + " " +
                    status.error_message());
    }
    done_ = true;
    done_cv_.notify_all();
  }

 private:
  struct Slot {
    v1::AppendRequest request;
    std::vector<int> cause;  // index in the batch of each event's cause, or -1
    uint64_t seq = 0;
    Clock::time_point sent;
    bool in_flight = false;
    bool written = false;
    bool acked = false;
  };

  void IssueLocked() {
    while (!free_.empty() && !stopping_) {
      if (!control_->TryIssue(batch_)) {
        stopping_ = true;
        break;
      }
      const int s = free_.back();
      free_.pop_back();
      Slot& slot = slots_[static_cast<size_t>(s)];
      slot.seq = ++next_seq_;
      ids_.Next(slot.request.mutable_case_id());
      auto* events = slot.request.mutable_events();
      for (auto& e : *events) uuids_.Fill(e.mutable_event_id());
      for (size_t k = 0; k < slot.cause.size(); ++k) {
        if (slot.cause[k] >= 0)
          events->Mutable(static_cast<int>(k))->set_causation_id(events->Get(slot.cause[k]).event_id());
      }
      slot.request.set_request_id(slot.seq << 8 | static_cast<uint64_t>(s));
      slot.in_flight = true;
      slot.written = false;
      slot.acked = false;
      ++outstanding_;
      write_queue_.push_back(s);
      slot.sent = Clock::now();
    }
    if (!writing_ && !broken_ && !write_queue_.empty()) {
      writing_ = true;
      StartWrite(&slots_[static_cast<size_t>(write_queue_.front())].request);
    }
    if (stopping_ && !broken_ && !writing_ && write_queue_.empty() && !writes_done_) {
      writes_done_ = true;
      StartWritesDone();
    }
  }

  void HandleAckLocked(Clock::time_point now) {
    const uint64_t id = ack_.request_id();
    const size_t s = static_cast<size_t>(id & 0xff);
    if (s >= slots_.size() || !slots_[s].in_flight || slots_[s].acked || slots_[s].seq != (id >> 8)) {
      result_->Fail("ack for unknown request_id " + std::to_string(id));
      return;
    }
    Slot& slot = slots_[s];
    slot.acked = true;
    --outstanding_;
    result_->last_ack = now;
    result_->latency_ns.push_back(std::chrono::duration_cast<std::chrono::nanoseconds>(now - slot.sent).count());
    const v1::AppendResult& r = ack_.result();
    const uint64_t n = static_cast<uint64_t>(batch_);
    if (ack_.code() != 0) {
      result_->Fail("batch " + slot.request.case_id() + " refused: code " + std::to_string(ack_.code()) + " " +
                    ack_.message());
    } else if (r.case_id() != slot.request.case_id() || r.already_recorded() || r.first_stream_version() != 1 ||
               r.last_stream_version() != n || r.first_global_position() == 0 ||
               r.last_global_position() != r.first_global_position() + n - 1) {
      result_->Fail("batch " + slot.request.case_id() + ": unexpected result " + r.ShortDebugString());
    } else {
      ++result_->requests_ok;
      result_->events_ok += n;
    }
    if (slot.written) Release(static_cast<int>(s));
  }

  void Release(int s) {
    slots_[static_cast<size_t>(s)].in_flight = false;
    free_.push_back(s);
  }

  CaseIds ids_;
  UuidGen uuids_;
  int batch_ = 0;
  RoundControl* control_ = nullptr;
  WorkerResult* result_ = nullptr;
  std::unique_ptr<grpc::ClientContext> context_;

  std::mutex mu_;
  std::condition_variable done_cv_;
  std::vector<Slot> slots_;
  std::vector<int> free_;
  std::deque<int> write_queue_;  // front is being written while writing_
  v1::AppendAck ack_;
  uint64_t next_seq_ = 0;
  int outstanding_ = 0;
  bool writing_ = false;
  bool stopping_ = false;
  bool writes_done_ = false;
  bool broken_ = false;
  bool done_ = false;
};

// --- Scenario (b): one event per unary Append --------------------------------

// One client: appends the events of one synthetic case after another, each
// under a fresh case id, one event per call, expected version exact.
class UnaryWorker {
 public:
  UnaryWorker(const Workload& w, int index, int clients, const std::string& run)
      : workload_(w),
        clients_(clients),
        ids_(run, 'b', index),
        uuids_(RandomSeed() ^ (static_cast<uint64_t>(index) << 40)) {
    next_case_ = static_cast<size_t>(index);
    request_.add_events();
  }

  void BeginRound(RoundControl* control, WorkerResult* result) {
    control_ = control;
    result_ = result;
    done_ = false;
  }
  // Every event from now on carries a personal part (scenario p).
  void SetPersonal(bool personal) { personal_ = personal; }

  // Builds the next request; false when the round allows no more.
  bool Prepare() {
    if (!control_->TryIssue(1)) return false;
    if (pos_ >= end_) {  // start the next case
      const Workload::Case& c = workload_.cases[next_case_ % workload_.cases.size()];
      next_case_ += static_cast<size_t>(clients_);
      begin_ = pos_ = c.begin;
      end_ = c.end;
      version_ = 0;
      case_ids_.clear();
      ids_.Next(request_.mutable_case_id());
    }
    v1::Event* e = request_.mutable_events(0);
    *e = workload_.pool[pos_];
    case_ids_.emplace_back();
    uuids_.Fill(&case_ids_.back());
    e->set_event_id(case_ids_.back());
    const int cause = workload_.cause[pos_];
    if (cause >= 0) e->set_causation_id(case_ids_[static_cast<size_t>(cause) - begin_]);
    if (personal_) {
      // A name and a short note: about 120 bytes to seal, as a partner's
      // case tool would send with a referral or a follow-up.
      auto& fields = *e->mutable_personal()->mutable_fields();
      fields["name"] = "Bench Person";
      fields["note"] = "contact by phone in the afternoon; the family prefers Dutch and Arabic; 2 children";
    }
    if (version_ == 0) {
      request_.mutable_expected_version()->set_no_stream(true);
    } else {
      request_.mutable_expected_version()->set_exact(version_);
    }
    context_ = std::make_unique<grpc::ClientContext>();
    context_->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    sent_ = Clock::now();
    return true;
  }

  void Complete(const grpc::Status& status) {
    const Clock::time_point now = Clock::now();
    result_->last_ack = now;
    result_->latency_ns.push_back(std::chrono::duration_cast<std::chrono::nanoseconds>(now - sent_).count());
    const uint64_t want = version_ + 1;
    if (!status.ok()) {
      result_->Fail("Append " + request_.case_id() + " v" + std::to_string(want) + " refused: code " +
                    std::to_string(status.error_code()) + " " + status.error_message());
      pos_ = end_;  // the case's version is unknown now: go on with a new case
      return;
    }
    if (response_.case_id() != request_.case_id() || response_.already_recorded() ||
        response_.first_stream_version() != want || response_.last_stream_version() != want ||
        response_.first_global_position() == 0 ||
        response_.last_global_position() != response_.first_global_position()) {
      result_->Fail("Append " + request_.case_id() + ": unexpected result " + response_.ShortDebugString());
      pos_ = end_;
      return;
    }
    ++result_->requests_ok;
    ++result_->events_ok;
    version_ = want;
    ++pos_;
  }

  // Callback mode: the next call starts from the completion of the last.
  void StartCallbackChain(v1::IngestService::Stub* stub) {
    stub_ = stub;
    CallNext();
  }
  void MarkDone() {
    std::lock_guard<std::mutex> lock(mu_);
    done_ = true;
    done_cv_.notify_all();
  }
  bool Wait(double timeout_s) {
    std::unique_lock<std::mutex> lock(mu_);
    return done_cv_.wait_for(lock, std::chrono::milliseconds(static_cast<int64_t>(timeout_s * 1000)),
                             [&] { return done_; });
  }
  void Cancel() {
    std::lock_guard<std::mutex> lock(mu_);
    if (context_) context_->TryCancel();
  }

  // Blocking mode: runs on its own thread until the round ends.
  void RunBlocking(v1::IngestService::Stub* stub) {
    for (;;) {
      {
        std::lock_guard<std::mutex> lock(mu_);
        if (!Prepare()) break;
      }
      const grpc::Status status = stub->Append(context_.get(), request_, &response_);
      std::lock_guard<std::mutex> lock(mu_);
      Complete(status);
    }
    MarkDone();
  }

  // Completion-queue mode: starts the next call on `cq` (tagged with this);
  // false when the round allows no more.
  bool StartOnQueue(v1::IngestService::Stub* stub, grpc::CompletionQueue* cq) {
    std::lock_guard<std::mutex> lock(mu_);
    if (!Prepare()) return false;
    reader_ = stub->AsyncAppend(context_.get(), request_, cq);
    reader_->Finish(&response_, &status_, this);
    return true;
  }
  void CompleteFromQueue() {
    std::lock_guard<std::mutex> lock(mu_);
    Complete(status_);
  }

  v1::AppendRequest request_;
  v1::AppendResult response_;

 private:
  void CallNext() {
    bool more;
    {
      std::lock_guard<std::mutex> lock(mu_);
      more = Prepare();
    }
    if (!more) {
      MarkDone();
      return;
    }
    stub_->async()->Append(context_.get(), &request_, &response_, [this](grpc::Status status) {
      {
        std::lock_guard<std::mutex> lock(mu_);
        Complete(status);
      }
      CallNext();
    });
  }

  const Workload& workload_;
  const int clients_;
  CaseIds ids_;
  UuidGen uuids_;
  RoundControl* control_ = nullptr;
  WorkerResult* result_ = nullptr;
  v1::IngestService::Stub* stub_ = nullptr;
  std::unique_ptr<grpc::ClientContext> context_;
  Clock::time_point sent_;
  std::unique_ptr<grpc::ClientAsyncResponseReader<v1::AppendResult>> reader_;
  grpc::Status status_;
  size_t next_case_ = 0;
  size_t begin_ = 0, pos_ = 0, end_ = 0;
  uint64_t version_ = 0;
  std::vector<std::string> case_ids_;  // fresh event ids of the current case
  bool personal_ = false;

  std::mutex mu_;
  std::condition_variable done_cv_;
  bool done_ = false;
};

// Scenario (p)'s operator: appends a case with personal data and erases it,
// back to back, until stopped; counts the erasures and their latency.
class EraseLoop {
 public:
  EraseLoop(const std::shared_ptr<grpc::Channel>& channel, const v1::Event& referral, const std::string& run)
      : ingest_(v1::IngestService::NewStub(channel)),
        ops_(v1::OperationsService::NewStub(channel)),
        referral_(referral),
        run_(run) {
    (*referral_.mutable_personal()->mutable_fields())["name"] = "Bench Erased";
    referral_.clear_causation_id();
    thread_ = std::thread([this] { Loop(); });
  }
  ~EraseLoop() { Stop(); }
  void Stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  uint64_t erasures() const { return erasures_; }
  uint64_t failures() const { return failures_; }
  std::vector<int64_t>& latency_ns() { return latency_ns_; }
  const std::string& first_error() const { return first_error_; }

 private:
  void Loop() {
    UuidGen uuids(RandomSeed());
    for (uint64_t n = 1; !stop_ && !g_interrupted; ++n) {
      v1::AppendRequest append;
      append.set_case_id("SYNTH-E" + run_ + "-" + std::to_string(n));
      *append.add_events() = referral_;
      uuids.Fill(append.mutable_events(0)->mutable_event_id());
      v1::AppendResult appended;
      grpc::ClientContext append_context;
      append_context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
      grpc::Status s = ingest_->Append(&append_context, append, &appended);
      if (s.ok()) {
        v1::ErasePersonalDataRequest erase;
        erase.set_case_id(append.case_id());
        v1::ErasePersonalDataResponse erased;
        grpc::ClientContext erase_context;
        erase_context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
        const Clock::time_point start = Clock::now();
        s = ops_->ErasePersonalData(&erase_context, erase, &erased);
        latency_ns_.push_back(std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - start).count());
      }
      if (s.ok()) {
        ++erasures_;
      } else {
        ++failures_;
        if (first_error_.empty()) first_error_ = std::to_string(s.error_code()) + " " + s.error_message();
      }
    }
  }

  std::unique_ptr<v1::IngestService::Stub> ingest_;
  std::unique_ptr<v1::OperationsService::Stub> ops_;
  v1::Event referral_;
  std::string run_;
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> erasures_{0};
  std::atomic<uint64_t> failures_{0};
  std::vector<int64_t> latency_ns_;
  std::string first_error_;
  std::thread thread_;
};

// ---------------------------------------------------------------------------
// Scenario driver
// ---------------------------------------------------------------------------

struct ScenarioResult {
  std::string key;  // "scenario_a"
  std::string title;
  double target = 0;
  std::vector<RoundResult> rounds;  // timed rounds only
  std::optional<RoundResult> warmup;
  std::vector<std::pair<std::string, double>> thread_cpu;  // name (count), % of one core
  Json settings;

  uint64_t extra_failures = 0;  // failed erasures of scenario (p)

  uint64_t Failures() const {
    uint64_t f = (warmup ? warmup->failures : 0) + extra_failures;
    for (const auto& r : rounds) f += r.failures;
    return f;
  }
  double MedianRate() const {
    std::vector<double> v;
    for (const auto& r : rounds) v.push_back(r.events_per_s);
    return Median(v);
  }
  Json ToJson() const {
    std::vector<double> p50, p99, rate, server, client, other;
    Json rounds_json = Json::array();
    for (const auto& r : rounds) {
      p50.push_back(r.p50_ms);
      p99.push_back(r.p99_ms);
      rate.push_back(r.events_per_s);
      server.push_back(r.cpu.server);
      client.push_back(r.cpu.client);
      other.push_back(r.cpu.other);
      rounds_json.push_back(r.ToJson());
    }
    Json j = settings;
    j["events_per_s"] = std::round(Median(rate));
    j["p50_ms"] = std::round(Median(p50) * 1000) / 1000;
    j["p99_ms"] = std::round(Median(p99) * 1000) / 1000;
    j["target_events_per_s"] = target;
    j["meets_target"] = !rounds.empty() && Median(rate) >= target;
    j["failures"] = Failures();
    j["cpu_pct_median"] = {{"server", std::round(Median(server))},
                           {"client", std::round(Median(client))},
                           {"other", std::round(Median(other))}};
    j["rounds"] = rounds_json;
    return j;
  }
};

void PrintRoundHeader(std::ostream& out, const std::string& unit) {
  out << Pad("round", 8, true) << Pad("events", 12) << Pad("seconds", 9) << Pad("events/s", 11) << Pad(unit, 10)
      << Pad("p50 ms", 9) << Pad("p99 ms", 9) << Pad("cpu srv%", 10) << Pad("cli%", 6) << Pad("other%", 8)
      << Pad("failed", 8) << "\n";
}

void PrintRound(std::ostream& out, const RoundResult& r) {
  out << Pad(r.label, 8, true) << Pad(Grouped(static_cast<double>(r.events)), 12) << Pad(Fixed(r.seconds, 2), 9)
      << Pad(Grouped(r.events_per_s), 11) << Pad(Grouped(static_cast<double>(r.requests)), 10)
      << Pad(Fixed(r.p50_ms, 2), 9) << Pad(Fixed(r.p99_ms, 2), 9) << Pad(Fixed(r.cpu.server, 0), 10)
      << Pad(Fixed(r.cpu.client, 0), 6) << Pad(Fixed(r.cpu.other, 0), 8) << Pad(std::to_string(r.failures), 8) << "\n"
      << std::flush;
}

void PrintSummary(std::ostream& out, const ScenarioResult& s) {
  std::vector<double> p50, p99, server, client, other;
  for (const auto& r : s.rounds) {
    p50.push_back(r.p50_ms);
    p99.push_back(r.p99_ms);
    server.push_back(r.cpu.server);
    client.push_back(r.cpu.client);
    other.push_back(r.cpu.other);
  }
  const double rate = s.MedianRate();
  out << Pad("median", 8, true) << Pad("", 12) << Pad("", 9) << Pad(Grouped(rate), 11) << Pad("", 10)
      << Pad(Fixed(Median(p50), 2), 9) << Pad(Fixed(Median(p99), 2), 9) << Pad(Fixed(Median(server), 0), 10)
      << Pad(Fixed(Median(client), 0), 6) << Pad(Fixed(Median(other), 0), 8) << Pad(std::to_string(s.Failures()), 8)
      << "\n";
  out << "target  >= " << Grouped(s.target) << " events/s: " << (rate >= s.target ? "MET" : "NOT MET") << " ("
      << Fixed(100 * rate / s.target, 0) << "% of target)\n";
  if (!s.thread_cpu.empty()) {
    out << "server threads over the timed rounds (% of one core):";
    for (const auto& [name, pct] : s.thread_cpu) out << "  " << name << " " << Fixed(pct, 0);
    out << "\n";
  }
  if (s.warmup) {
    for (const auto& e : s.warmup->errors) out << "  warm-up: " << e << "\n";
  }
  for (const auto& r : s.rounds) {
    for (const auto& e : r.errors) out << "  round " << r.label << ": " << e << "\n";
  }
  out << std::flush;
}

// The busiest server threads over an interval, in % of one core: threads
// that share a name and each use little are summed as "name(xN)".
std::vector<std::pair<std::string, double>> ThreadCpu(const std::map<int, std::pair<std::string, double>>& before,
                                                      const std::map<int, std::pair<std::string, double>>& after,
                                                      double wall_s) {
  std::vector<std::pair<std::string, double>> out;
  std::map<std::string, std::pair<int, double>> small;
  for (const auto& [tid, v] : after) {
    auto it = before.find(tid);
    const double pct = 100 * (v.second - (it != before.end() ? it->second.second : 0.0)) / std::max(1e-9, wall_s);
    if (pct >= 5) {
      out.emplace_back(v.first + "[" + std::to_string(tid) + "]", pct);
    } else {
      auto& slot = small[v.first];
      slot.first += 1;
      slot.second += pct;
    }
  }
  for (const auto& [name, v] : small) {
    if (v.second >= 1) out.emplace_back(name + "(x" + std::to_string(v.first) + ")", v.second);
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.second > b.second; });
  if (out.size() > 20) out.resize(20);
  return out;
}

// Runs warm-up + rounds; `run_round` runs one round and fills its workers.
template <typename RunRound>
ScenarioResult RunScenario(const Options& o, KringdProcess& kringd, std::string key, std::string title, double target,
                           uint64_t round_events, const std::string& unit, RunRound run_round) {
  const pid_t server = kringd.pid();
  ScenarioResult s;
  s.key = std::move(key);
  s.title = std::move(title);
  s.target = target;
  std::cout << "\n" << s.title << "\n";
  PrintRoundHeader(std::cout, unit);
  auto one = [&](const std::string& label, double duration_s, uint64_t events) {
    const Clock::time_point start = Clock::now();
    const Clock::time_point deadline = duration_s > 0
                                           ? start + std::chrono::milliseconds(static_cast<int64_t>(duration_s * 1000))
                                           : Clock::time_point::max();
    RoundControl control(deadline, events);
    const CpuSnapshot cpu_before = TakeCpuSnapshot(server);
    std::vector<WorkerResult> workers = run_round(&control, start);
    const CpuSnapshot cpu_after = TakeCpuSnapshot(server);
    RoundResult r = Combine(label, workers, start, CpuBetween(cpu_before, cpu_after));
    PrintRound(std::cout, r);
    return r;
  };
  if (o.warmup_s > 0 && !g_interrupted && kringd.Running()) {
    s.warmup = one("warm-up", o.warmup_s, round_events / 4);
  }
  const auto threads_before = ServerThreads(server);
  const Clock::time_point timed_start = Clock::now();
  for (int i = 1; i <= o.rounds && !g_interrupted && kringd.Running(); ++i) {
    s.rounds.push_back(one(std::to_string(i), o.duration_s, round_events));
  }
  if (o.thread_profile) {
    s.thread_cpu = ThreadCpu(threads_before, ServerThreads(server), Seconds(Clock::now() - timed_start));
  }
  PrintSummary(std::cout, s);
  return s;
}

// ---------------------------------------------------------------------------
// main
// ---------------------------------------------------------------------------

int Run(const Options& o) {
  // Fresh data folder (removed at the end unless --keep-data).
  std::error_code ec;
  fs::path parent = o.data_parent.empty() ? fs::temp_directory_path(ec) : fs::path(o.data_parent);
  fs::create_directories(parent, ec);
  std::string pattern = (parent / "kring-bench-XXXXXX").string();
  if (mkdtemp(pattern.data()) == nullptr) {
    std::cerr << "ingest_bench: cannot create a folder in " << parent << ": " << std::strerror(errno) << "\n";
    return 3;
  }
  const fs::path work = pattern;
  struct Cleanup {
    fs::path dir;
    bool keep;
    ~Cleanup() {
      std::error_code e;
      if (keep) {
        std::cout << "data kept in " << dir << "\n";
      } else {
        fs::remove_all(dir, e);
      }
    }
  } cleanup{work, o.keep_data};

  char run_buf[16];
  std::snprintf(run_buf, sizeof run_buf, "%08llx", static_cast<unsigned long long>(RandomSeed() & 0xffffffffULL));
  const std::string run = run_buf;

  // Payload templates first (single-threaded, before any child or gRPC thread).
  const Clock::time_point gen_start = Clock::now();
  const size_t a_events = static_cast<size_t>(o.streams) * static_cast<size_t>(o.window) * static_cast<size_t>(o.batch);
  const Workload workload = BuildWorkload(o.seed, std::max<size_t>(a_events, 20000), static_cast<size_t>(o.clients));
  size_t template_bytes = 0;
  for (const auto& e : workload.pool) template_bytes += e.ByteSizeLong();
  std::cout << "ingest_bench: run " << run << " in " << work.string() << ", " << workload.pool.size()
            << " template events from " << workload.cases.size() << " synthetic cases (seed " << o.seed << ", mean "
            << Fixed(static_cast<double>(template_bytes) / static_cast<double>(workload.pool.size()), 0)
            << " bytes/event), built in " << Fixed(Seconds(Clock::now() - gen_start), 2) << " s\n";

  KringdProcess kringd;
  fs::path data_dir, log_file;
  std::string target;
  bool died = false;
  bool clean_stop = true;
  auto fail_setup = [&](const std::string& message) {
    std::cerr << "ingest_bench: " << message << "\n";
    std::cerr << "kringd: " << kringd.Stop(o.stop_timeout_s) << "\nkringd log (tail):\n" << Tail(log_file, 30);
    return 3;
  };
  // Starts kringd on the fresh data folder `name` and waits (bounded) for its
  // ready file; 0, or the exit code to return.
  // Every kringd gets a master key (mode 0600): scenario (p) seals; the
  // others send no personal part, so it costs them nothing.
  const fs::path master_key = work / "master.key";
  {
    std::ofstream key(master_key, std::ios::binary);
    std::mt19937_64 random(RandomSeed());
    for (int i = 0; i < 4; ++i) {
      const uint64_t word = random();
      key.write(reinterpret_cast<const char*>(&word), sizeof word);
    }
  }
  fs::permissions(master_key, fs::perms::owner_read | fs::perms::owner_write, fs::perm_options::replace, ec);
  Options with_key = o;
  with_key.kringd_args.insert(with_key.kringd_args.begin(), {"--master-key-file", master_key.string()});
  auto start_server = [&](const std::string& name) -> int {
    data_dir = work / ("data-" + name);
    log_file = work / ("kringd-" + name + ".log");
    const fs::path ready_file = work / ("ready-" + name + ".json");
    std::string error;
    std::cout << "\nkringd: " << o.kringd << " on " << data_dir.string() << "\n" << std::flush;
    if (!kringd.Start(with_key.kringd, with_key.kringd_log_level, with_key.kringd_args, data_dir, ready_file, log_file,
                      &error)) {
      std::cerr << "ingest_bench: cannot start kringd: " << error << "\n";
      return 3;
    }
    const Clock::time_point wait_start = Clock::now();
    const std::optional<Json> ready = kringd.WaitReady(ready_file, o.start_timeout_s, &error);
    if (!ready) {
      const int code = fail_setup(error);
      return g_interrupted ? 130 : code;
    }
    try {
      target = ready->at("grpc").get<std::string>();
    } catch (const std::exception& e) {
      return fail_setup(std::string("unreadable ready file: ") + e.what());
    }
    std::cout << "ready:  " << ready->dump() << " after " << Fixed(Seconds(Clock::now() - wait_start), 2) << " s\n";
    return 0;
  };
  auto stop_server = [&] {
    if (!kringd.Running()) {
      died = true;
      std::cerr << "ingest_bench: kringd " << KringdProcess::Describe(kringd.status().value_or(0))
                << " during the bench\n";
    }
    const uint64_t data_bytes = FolderBytes(data_dir);
    const std::string stopped = died ? "had stopped" : kringd.Stop(o.stop_timeout_s);
    std::cout << "kringd " << stopped << "; data folder " << Fixed(static_cast<double>(data_bytes) / (1 << 20), 0)
              << " MiB\n";
    const bool clean = kringd.status() && WIFEXITED(*kringd.status()) && WEXITSTATUS(*kringd.status()) == 0;
    if (!clean) std::cout << "kringd log (tail):\n" << Tail(log_file, 30);
    clean_stop = clean_stop && clean;
  };

  std::vector<ScenarioResult> results;
  const double wait_slack_s = 30;
  const double round_cap_s = (o.duration_s > 0 ? o.duration_s : 600) + wait_slack_s;

  auto run_a = [&]() -> int {
    std::vector<std::shared_ptr<grpc::Channel>> channels;
    std::vector<std::unique_ptr<v1::IngestService::Stub>> stubs;
    const int nchannels = o.stream_channels ? o.streams : 1;
    for (int i = 0; i < nchannels; ++i) {
      channels.push_back(MakeChannel(target));
      if (!Connect(channels.back(), 10)) return fail_setup("cannot connect to " + target);
      stubs.push_back(v1::IngestService::NewStub(channels.back()));
    }
    std::vector<std::unique_ptr<StreamWorker>> workers;
    for (int i = 0; i < o.streams; ++i) {
      workers.push_back(std::make_unique<StreamWorker>(workload, i, o.batch, o.window, run));
    }
    auto round = [&](RoundControl* control, Clock::time_point) {
      std::vector<WorkerResult> out(static_cast<size_t>(o.streams));
      for (auto& w : out) w.latency_ns.reserve(1 << 16);
      for (int i = 0; i < o.streams; ++i) {
        workers[static_cast<size_t>(i)]->ResetForRound();
        workers[static_cast<size_t>(i)]->Start(stubs[static_cast<size_t>(i % nchannels)].get(), control,
                                               round_cap_s + 2 * wait_slack_s, &out[static_cast<size_t>(i)]);
      }
      for (auto& w : workers) {
        if (!w->Wait(round_cap_s)) {
          w->Cancel();
          if (!w->Wait(wait_slack_s)) {
            std::cerr << "ingest_bench: a stream did not end after cancel; giving up\n";
            std::_Exit(3);  // the reactor is still referenced by gRPC
          }
        }
      }
      return out;
    };
    Json settings = {{"streams", o.streams}, {"batch_events", o.batch}, {"window", o.window}, {"channels", nchannels}};
    ScenarioResult s =
        RunScenario(o, kringd, "scenario_a",
                    "Scenario (a): AppendStream, " + std::to_string(o.streams) + " streams x batches of " +
                        std::to_string(o.batch) + " events (one new case each), up to " + std::to_string(o.window) +
                        " batches outstanding per stream; latency = batch send -> ack",
                    o.target_a, o.events_a, "batches", round);
    s.settings = settings;
    results.push_back(std::move(s));
    return 0;
  };

  // Scenario (b); with `personal`, every event carries a personal part; with
  // `erasing`, an EraseLoop runs beside the rounds. `key` names the result.
  auto run_unary = [&](const std::string& key, bool personal, bool erasing) -> int {
    std::vector<std::shared_ptr<grpc::Channel>> channels;
    std::vector<std::unique_ptr<v1::IngestService::Stub>> stubs;
    for (int i = 0; i < o.unary_channels; ++i) {
      channels.push_back(MakeChannel(target));
      if (!Connect(channels.back(), 10)) return fail_setup("cannot connect to " + target);
      stubs.push_back(v1::IngestService::NewStub(channels.back()));
    }
    std::vector<std::unique_ptr<UnaryWorker>> workers;
    for (int i = 0; i < o.clients; ++i) {
      workers.push_back(std::make_unique<UnaryWorker>(workload, i, o.clients, run + key.substr(key.size() - 1)));
      workers.back()->SetPersonal(personal);
    }
    std::unique_ptr<EraseLoop> eraser;
    if (erasing) eraser = std::make_unique<EraseLoop>(channels.front(), workload.pool.front(), run);
    const bool blocking = o.unary_mode == "blocking";
    const bool queue = o.unary_mode == "cq";
    auto round = [&](RoundControl* control, Clock::time_point) {
      std::vector<WorkerResult> out(static_cast<size_t>(o.clients));
      for (auto& w : out) w.latency_ns.reserve(1 << 17);
      std::vector<std::thread> threads;
      for (int i = 0; i < o.clients; ++i) {
        workers[static_cast<size_t>(i)]->BeginRound(control, &out[static_cast<size_t>(i)]);
      }
      if (queue) {
        // One completion queue and one thread per channel, driving its clients.
        for (int c = 0; c < o.unary_channels; ++c) {
          threads.emplace_back([&, c] {
            v1::IngestService::Stub* stub = stubs[static_cast<size_t>(c)].get();
            grpc::CompletionQueue cq;
            int active = 0;
            for (int i = c; i < o.clients; i += o.unary_channels) {
              UnaryWorker* w = workers[static_cast<size_t>(i)].get();
              if (w->StartOnQueue(stub, &cq)) {
                ++active;
              } else {
                w->MarkDone();
              }
            }
            void* tag = nullptr;
            bool ok = false;
            while (active > 0 && cq.Next(&tag, &ok)) {
              auto* w = static_cast<UnaryWorker*>(tag);
              w->CompleteFromQueue();
              if (!w->StartOnQueue(stub, &cq)) {
                w->MarkDone();
                --active;
              }
            }
            cq.Shutdown();
            while (cq.Next(&tag, &ok)) {
            }
          });
        }
      }
      for (int i = 0; i < o.clients && !queue; ++i) {
        UnaryWorker* w = workers[static_cast<size_t>(i)].get();
        v1::IngestService::Stub* stub = stubs[static_cast<size_t>(i % o.unary_channels)].get();
        if (blocking) {
          threads.emplace_back([w, stub] { w->RunBlocking(stub); });
        } else {
          w->StartCallbackChain(stub);
        }
      }
      for (auto& w : workers) {
        if (!w->Wait(round_cap_s)) {
          w->Cancel();
          if (!w->Wait(wait_slack_s)) {
            std::cerr << "ingest_bench: a unary client did not finish after cancel; giving up\n";
            std::_Exit(3);
          }
        }
      }
      for (auto& t : threads) t.join();
      return out;
    };
    const std::string what = std::string(personal ? ", every event with a personal part" : "") +
                             (erasing ? ", while an operator erases cases back to back" : "");
    ScenarioResult s = RunScenario(o, kringd, key,
                                   std::string(key == "scenario_b" ? "Scenario (b)" : "Scenario (p)") +
                                       ": unary Append, " + std::to_string(o.clients) + " clients x single events" +
                                       what + ", each waiting " + "for its ack (" + o.unary_mode + " API, " +
                                       std::to_string(o.unary_channels) + " channels); latency = call -> ack",
                                   key == "scenario_b" ? o.target_b : 0, o.events_b, "requests", round);
    s.settings = {{"clients", o.clients},
                  {"channels", o.unary_channels},
                  {"mode", o.unary_mode},
                  {"personal", personal},
                  {"erasing", erasing}};
    if (eraser) {
      eraser->Stop();
      auto& ns = eraser->latency_ns();
      s.settings["erasures"] = eraser->erasures();
      s.settings["erasure_failures"] = eraser->failures();
      s.settings["erasure_p50_ms"] = ns.empty() ? 0.0 : PercentileMs(ns, 0.50);
      s.settings["erasure_p99_ms"] = ns.empty() ? 0.0 : PercentileMs(ns, 0.99);
      std::cout << "erasures during the rounds: " << eraser->erasures() << " ("
                << (ns.empty() ? std::string("none")
                               : "p50 " + Fixed(PercentileMs(ns, 0.50), 1) + " ms, p99 " +
                                     Fixed(PercentileMs(ns, 0.99), 1) + " ms")
                << "), failed: " << eraser->failures()
                << (eraser->failures() > 0 ? " (first: " + eraser->first_error() + ")" : "") << "\n";
      if (eraser->failures() > 0) s.extra_failures += eraser->failures();
    }
    results.push_back(std::move(s));
    return 0;
  };
  auto run_b = [&]() -> int { return run_unary("scenario_b", false, false); };
  // Scenario (p): the three runs of (b) on one server, then side by side.
  auto run_p = [&]() -> int {
    const size_t first = results.size();
    for (const auto& [key, personal, erasing] :
         {std::tuple{"scenario_p_plain", false, false}, std::tuple{"scenario_p_personal", true, false},
          std::tuple{"scenario_p_personal_erasing", true, true}}) {
      if (g_interrupted || !kringd.Running()) break;
      if (const int rc = run_unary(key, personal, erasing); rc != 0) return rc;
    }
    std::cout << "\nScenario (p) side by side (medians over the rounds; load average "
              << ReadSmallFile("/proc/loadavg").substr(0, 14) << ")\n"
              << Pad("", 30, true) << Pad("events/s", 11) << Pad("p50 ms", 9) << Pad("p99 ms", 9) << "\n";
    for (size_t i = first; i < results.size(); ++i) {
      const Json j = results[i].ToJson();
      std::cout << Pad(results[i].key.substr(11), 30, true) << Pad(Grouped(j["events_per_s"].get<double>()), 11)
                << Pad(Fixed(j["p50_ms"].get<double>(), 2), 9) << Pad(Fixed(j["p99_ms"].get<double>(), 2), 9) << "\n";
    }
    return 0;
  };

  // By default each scenario gets its own kringd on its own fresh data folder,
  // so neither runs while the server still digests the other's events
  // (outbox relay, projection, compaction); --shared-server runs them on one.
  if (o.shared_server) {
    if (const int rc = start_server("shared"); rc != 0) return rc;
  }
  for (const char scenario : o.scenarios) {
    if (g_interrupted || died) break;
    if (!o.shared_server) {
      if (const int rc = start_server(std::string(1, scenario)); rc != 0) return rc;
    }
    if (const int rc = scenario == 'a' ? run_a() : scenario == 'b' ? run_b() : run_p(); rc != 0) return rc;
    if (!o.shared_server) stop_server();
  }
  if (o.shared_server) stop_server();
  const bool interrupted = g_interrupted.load();

  uint64_t failures = 0;
  bool targets_met = true;
  Json line = Json::object();
  for (const auto& s : results) {
    failures += s.Failures();
    if (s.target > 0 && s.MedianRate() < s.target) targets_met = false;
    line[s.key] = s.ToJson();
  }
  line["failures"] = failures;
  line["date"] = absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", absl::Now(), absl::UTCTimeZone());
  line["rounds"] = o.rounds;
  line["round_seconds"] = o.duration_s;
  line["kringd_clean_stop"] = clean_stop;
  line["server_per_scenario"] = !o.shared_server;
  if (interrupted) std::cout << "\ninterrupted: the figures cover the rounds run so far\n";
  std::cout << "\n"
            << (failures == 0 ? "all appends acknowledged OK"
                              : "FAILED: " + std::to_string(failures) + " appends refused, lost or wrong")
            << "\n";
  const std::string json = line.dump();
  std::cout << json << "\n" << std::flush;
  if (!o.json_file.empty()) std::ofstream(o.json_file) << json << "\n";

  if (interrupted) return 130;
  if (died) return 3;
  if (failures > 0) return 1;
  if (o.enforce_targets && !targets_met) return 4;
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  CLI::App app{"ingest_bench: starts kringd on a fresh data folder and measures durable ingest over gRPC"};
  app.add_option("--kringd", o.kringd, "kringd binary to start")->capture_default_str();
  app.add_option("--data-dir", o.data_parent,
                 "folder in which a fresh kring-bench-XXXXXX data folder is made (default: system temp)");
  app.add_flag("--keep-data", o.keep_data, "keep the data folder (and kringd.log) at the end");
  app.add_option("--kringd-log-level", o.kringd_log_level, "kringd --log-level")->capture_default_str();
  app.add_option("--kringd-arg", o.kringd_args, "extra kringd argument (repeatable, e.g. --kringd-arg=--foo=1)");
  app.add_option("--start-timeout", o.start_timeout_s, "seconds to wait for kringd's ready file")
      ->capture_default_str();
  app.add_option("--stop-timeout", o.stop_timeout_s, "seconds to wait for kringd after SIGTERM before SIGKILL")
      ->capture_default_str();
  app.add_option("--scenarios", o.scenarios,
                 "which scenarios to run, in order: any of a, b and p (p: (b) without and with personal data, "
                 "and with erasures running)")
      ->capture_default_str()
      ->check([](const std::string& v) {
        return !v.empty() && v.find_first_not_of("abp") == std::string::npos ? std::string()
                                                                             : std::string("letters a, b, p only");
      });
  app.add_option("--warmup", o.warmup_s, "warm-up seconds before the timed rounds (0: none)")->capture_default_str();
  app.add_option("--rounds", o.rounds, "timed rounds per scenario")->capture_default_str()->check(CLI::Range(1, 100));
  app.add_option("--duration", o.duration_s, "seconds per round (0: until the event count)")->capture_default_str();
  app.add_option("--events-a", o.events_a, "events per round of (a) (0: no limit; the round ends at the first limit)")
      ->capture_default_str();
  app.add_option("--events-b", o.events_b, "events per round of (b) (0: no limit)")->capture_default_str();
  app.add_option("--streams", o.streams, "(a) concurrent AppendStream streams")
      ->capture_default_str()
      ->check(CLI::Range(1, 256));
  app.add_option("--batch", o.batch, "(a) events per batch")->capture_default_str()->check(CLI::Range(1, 100000));
  app.add_option("--window", o.window, "(a) most batches outstanding per stream")
      ->capture_default_str()
      ->check(CLI::Range(1, StreamWorker::kMaxWindow));
  app.add_flag("!--shared-channel", o.stream_channels, "(a) all streams on one channel (default: one each)");
  app.add_option("--clients", o.clients, "(b) concurrent unary clients")
      ->capture_default_str()
      ->check(CLI::Range(1, 4096));
  app.add_option("--unary-channels", o.unary_channels, "(b) channels the clients share")
      ->capture_default_str()
      ->check(CLI::Range(1, 256));
  app.add_option("--unary-mode", o.unary_mode,
                 "(b) cq (completion queues, one thread per channel), callback (callback API) or blocking (one "
                 "thread per client)")
      ->capture_default_str()
      ->check(CLI::IsMember({"cq", "callback", "blocking"}));
  app.add_option("--seed", o.seed, "seed of the synthetic cohort the payloads come from")->capture_default_str();
  app.add_option("--target-a", o.target_a, "(a) target events/s")->capture_default_str();
  app.add_option("--target-b", o.target_b, "(b) target events/s")->capture_default_str();
  app.add_flag("--shared-server", o.shared_server,
               "run all scenarios on one kringd (default: a fresh kringd and data folder per scenario)");
  app.add_flag("--enforce-targets", o.enforce_targets, "exit 4 when a median misses its target");
  app.add_option("--json", o.json_file, "also write the JSON result line to this file");
  app.add_flag("!--no-thread-profile", o.thread_profile, "do not print the server's CPU per thread");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  if (o.duration_s <= 0 && (o.events_a == 0 || o.events_b == 0)) {
    std::cerr << "ingest_bench: --duration 0 needs --events-a and --events-b\n";
    return 2;
  }

  struct sigaction sa {};
  sa.sa_handler = OnSignal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  signal(SIGPIPE, SIG_IGN);

  return Run(o);
}
