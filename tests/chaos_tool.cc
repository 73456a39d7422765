// chaos_tool: the clients and the checker of scripts/chaos.sh (the kill -9
// loop; docs/operations.md, "Chaos runs").
//
//   chaos_tool client --server ADDR --journal FILE --client K --mode unary|stream
//                     --seed S --stop-file FILE [--threads N] [--window N]
//       Appends SYNTHETIC cases (synth/cohort.h, cases K*10^7+1…) in batches
//       with exact expected versions, plus the generator's invalid batches,
//       over Append (unary, N threads) or AppendStream (N cases in flight).
//       Every answer goes to the journal, one line each, flushed at once:
//         A case event_id position version fresh|retry   an acknowledged event
//         R case event_id code label                       an event of a refused (invalid) batch
//         V text                                           a violation the client saw
//         S acked=… batches=… retries=… already_recorded=… refused=… reconnects=…
//       A batch whose answer did not come (server killed, stream broken,
//       UNAVAILABLE, DEADLINE_EXCEEDED, INTERNAL) is sent again, unchanged:
//       the same event ids, the same expected version. Once the stop file
//       exists, no new case is started; the batches in flight are sent until
//       answered, then the S line is written and the client exits 0. A server
//       unreachable for --max-outage seconds (default 180) ends it with 3.
//
//   chaos_tool check --server ADDR --journal-dir DIR [--no-read-models]
//                    [--catch-up-seconds N]
//       Reads the whole log back through AuditService.ReadAll and checks the
//       journals against it (docs/operations.md lists the checks), verifies
//       the hash chain (AuditService.VerifyChain) and compares every read
//       model's research answer with its answer after a clean rebuild
//       (OperationsService.Rebuild), once every live read model has caught up
//       with the head (waiting at most --catch-up-seconds, default 300). Prints each violation (the first 20 of a
//       kind) and one JSON line of figures; exits 1 on any violation.
//
//   chaos_tool tamper --events DIR --delete-position P
//       Deletes the event at position P from a STOPPED event store's RocksDB
//       folder, bypassing Kring: only to prove that `check` catches a lost
//       event.
#include <google/protobuf/util/message_differencer.h>
#include <grpcpp/grpcpp.h>
#include <rocksdb/db.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "cli/cohort_client.h"
#include "kring/v1/audit.grpc.pb.h"
#include "kring/v1/ingest.grpc.pb.h"
#include "kring/v1/research.grpc.pb.h"
#include "synth/cohort.h"
#include "synth/random.h"

namespace kring::chaos {
namespace {

using Clock = std::chrono::steady_clock;

// --name value pairs; a missing required one ends the program with 2.
class Args {
 public:
  Args(int argc, char** argv, int first) {
    for (int i = first; i < argc; ++i) {
      std::string key = argv[i];
      if (key.rfind("--", 0) != 0) Usage("unexpected argument " + key);
      key = key.substr(2);
      if (key == "no-read-models") {
        values_[key] = "1";
      } else if (i + 1 < argc) {
        values_[key] = argv[++i];
      } else {
        Usage("--" + key + " needs a value");
      }
    }
  }
  std::string Get(const std::string& key, const std::string& fallback = "\x01") const {
    auto it = values_.find(key);
    if (it != values_.end()) return it->second;
    if (fallback == "\x01") Usage("--" + key + " is required");
    return fallback;
  }
  int64_t Int(const std::string& key, int64_t fallback) const {
    auto it = values_.find(key);
    return it == values_.end() ? fallback : std::stoll(it->second);
  }
  bool Has(const std::string& key) const { return values_.count(key) > 0; }
  [[noreturn]] static void Usage(const std::string& why) {
    std::cerr << "chaos_tool: " << why << "\n"
              << "usage: chaos_tool client|check|tamper … (see tests/chaos_tool.cc)\n";
    std::exit(2);
  }

 private:
  std::map<std::string, std::string> values_;
};

std::shared_ptr<grpc::Channel> Channel(const std::string& address) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  args.SetMaxReceiveMessageSize(64 << 20);
  args.SetMaxSendMessageSize(-1);
  // Reconnect quickly after a kill: the server is back within seconds.
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
  return grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(), args);
}

// ---------------------------------------------------------------------------
// Client
// ---------------------------------------------------------------------------

// One batch as sent, and re-sent unchanged until answered.
struct Batch {
  v1::AppendRequest request;
  bool invalid = false;
  std::string label;                                  // invalid only
  absl::StatusCode expected = absl::StatusCode::kOk;  // invalid only
  int attempts = 0;
};

// A case's batches in order: the valid events in runs of 1 to 6 with exact
// expected versions (no_stream first), and each invalid batch alone, at its
// point, with no expectation so that it gets its labelled refusal.
std::vector<Batch> Batches(const synth::SyntheticCase& c, synth::Rng& rng) {
  std::vector<Batch> out;
  size_t next_invalid = 0;
  size_t i = 0;
  uint64_t version = 0;
  auto add_invalid_due = [&](size_t at) {
    for (; next_invalid < c.invalid.size() && c.invalid[next_invalid].after <= at; ++next_invalid) {
      const synth::InvalidBatch& b = c.invalid[next_invalid];
      Batch batch;
      batch.invalid = true;
      batch.label = b.label;
      batch.expected = b.expected.code;
      batch.request.set_case_id(b.case_id);
      *batch.request.add_events() = b.event;
      out.push_back(std::move(batch));
    }
  };
  while (i < c.events.size()) {
    add_invalid_due(i);
    size_t end = std::min(c.events.size(), i + static_cast<size_t>(rng.UniformInt(1, 6)));
    if (next_invalid < c.invalid.size()) end = std::min(end, std::max(i + 1, c.invalid[next_invalid].after));
    Batch batch;
    batch.request.set_case_id(c.case_id);
    if (version == 0) {
      batch.request.mutable_expected_version()->set_no_stream(true);
    } else {
      batch.request.mutable_expected_version()->set_exact(version);
    }
    for (size_t k = i; k < end; ++k) *batch.request.add_events() = c.events[k];
    version += end - i;
    i = end;
    out.push_back(std::move(batch));
  }
  add_invalid_due(c.events.size());
  return out;
}

bool Transient(absl::StatusCode code, const Batch& b) {
  switch (code) {
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kDeadlineExceeded:
    case absl::StatusCode::kCancelled:
    case absl::StatusCode::kInternal:
    case absl::StatusCode::kUnknown:
      return true;
    case absl::StatusCode::kResourceExhausted:  // overload push-back; an oversize invalid batch is refused
      return !(b.invalid && b.expected == code);
    default:
      return false;
  }
}

class Journal {
 public:
  explicit Journal(const std::string& path) : f_(std::fopen(path.c_str(), "a")) {
    if (f_ == nullptr) Args::Usage("cannot open the journal " + path);
  }
  ~Journal() { std::fclose(f_); }
  void Write(const std::string& lines) {
    std::lock_guard<std::mutex> lock(mu_);
    std::fputs(lines.c_str(), f_);
    std::fflush(f_);
  }

 private:
  std::mutex mu_;
  std::FILE* f_;
};

struct Totals {
  std::atomic<uint64_t> acked{0}, batches{0}, retries{0}, already{0}, refused{0}, reconnects{0};
};

class Client {
 public:
  explicit Client(const Args& a)
      : server_(a.Get("server")),
        journal_(a.Get("journal")),
        stop_file_(a.Get("stop-file")),
        max_outage_(std::chrono::seconds(a.Int("max-outage", 180))),
        channel_(Channel(server_)) {
    synth::CohortOptions o;
    o.seed = static_cast<uint64_t>(a.Int("seed", 1));
    o.first_case = static_cast<size_t>(a.Int("client", 0)) * 10'000'000 + 1;
    o.cases = 10'000'000;
    o.as_of = client::DefaultCohortCutoff();
    o.correction_share = 0.05;  // retractions, too
    o.invalid_share = 0.05;     // refused batches: their ids must never be stored
    generator_ = std::make_unique<synth::CohortGenerator>(o);
    rng_ = std::make_unique<synth::Rng>(o.seed * 1000003 + o.first_case);
  }

  bool Stopping() const {
    std::error_code ec;
    return std::filesystem::exists(stop_file_, ec);
  }

  // The next case's batches; empty once stopping.
  std::vector<Batch> NextCase() {
    if (Stopping()) return {};
    std::lock_guard<std::mutex> lock(mu_);
    synth::SyntheticCase c;
    if (!generator_->Next(&c)) return {};
    return Batches(c, *rng_);
  }

  // Records the answer to `b`; false when the rest of its case must be
  // dropped (a valid batch refused).
  bool Answered(Batch& b, const absl::Status& status, const v1::AppendResult& result) {
    std::string lines;
    bool go_on = true;
    const int n = b.request.events_size();
    if (status.ok()) {
      if (b.invalid) {
        lines += absl::StrCat("V invalid batch ", b.label, " of ", b.request.case_id(), " was acknowledged\n");
      }
      if (result.last_global_position() - result.first_global_position() != static_cast<uint64_t>(n - 1) ||
          result.last_stream_version() - result.first_stream_version() != static_cast<uint64_t>(n - 1) ||
          result.case_id() != b.request.case_id()) {
        lines += absl::StrCat("V ack of ", b.request.case_id(), " does not span its ", n,
                              " events: ", result.ShortDebugString(), "\n");
      }
      if (result.already_recorded() && b.attempts == 1) {
        lines += absl::StrCat("V first attempt of a batch of ", b.request.case_id(), " answered already_recorded\n");
      }
      for (int i = 0; i < n; ++i) {
        lines += absl::StrCat("A ", b.request.case_id(), " ", b.request.events(i).event_id(), " ",
                              result.first_global_position() + i, " ", result.first_stream_version() + i, " ",
                              result.already_recorded() ? "retry" : "fresh", "\n");
      }
      totals_.acked += n;
      totals_.already += result.already_recorded() ? 1 : 0;
    } else if (b.invalid) {
      if (status.code() != b.expected) {
        lines += absl::StrCat("V invalid batch ", b.label, " refused with ", absl::StatusCodeToString(status.code()),
                              " instead of ", absl::StatusCodeToString(b.expected), ": ", status.message(), "\n");
      }
      for (const auto& e : b.request.events()) {
        lines += absl::StrCat("R ", b.request.case_id(), " ", e.event_id(), " ", static_cast<int>(status.code()), " ",
                              b.label, "\n");
      }
      totals_.refused += n;
    } else {
      lines += absl::StrCat("V valid batch of ", b.request.case_id(), " (", n, " events, attempt ", b.attempts,
                            ") refused: ", absl::StatusCodeToString(status.code()), " ", status.message(), "\n");
      go_on = false;
    }
    ++totals_.batches;
    journal_.Write(lines);
    return go_on;
  }

  void NoteContact() { last_contact_.store(Clock::now().time_since_epoch().count()); }
  // Waits (bounded by --max-outage since the last answer) until the channel
  // connects; false when the outage lasted too long.
  bool Reconnect() {
    ++totals_.reconnects;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));  // backoff, also when still connected
    for (;;) {
      if (channel_->WaitForConnected(std::chrono::system_clock::now() + std::chrono::milliseconds(500))) return true;
      const auto last = Clock::time_point(Clock::duration(last_contact_.load()));
      if (Clock::now() - last > max_outage_) return false;
    }
  }

  int RunUnary(int threads) {
    NoteContact();
    std::atomic<bool> gave_up{false};
    std::vector<std::thread> workers;
    for (int t = 0; t < threads; ++t) {
      workers.emplace_back([&] {
        auto stub = v1::IngestService::NewStub(channel_);
        while (!gave_up) {
          std::vector<Batch> batches = NextCase();
          if (batches.empty()) return;
          for (Batch& b : batches) {
            bool answered = false;
            bool go_on = true;
            while (!answered) {
              grpc::ClientContext context;
              context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
              v1::AppendResult result;
              ++b.attempts;
              if (b.attempts > 1) ++totals_.retries;
              const grpc::Status s = stub->Append(&context, b.request, &result);
              const absl::Status status(static_cast<absl::StatusCode>(s.error_code()), s.error_message());
              if (!Transient(status.code(), b)) {
                NoteContact();
                go_on = Answered(b, status, result);
                answered = true;
              } else if (!Reconnect()) {
                gave_up = true;
                return;
              }
            }
            if (!go_on || Stopping()) break;
          }
        }
      });
    }
    for (auto& w : workers) w.join();
    return Finish(gave_up);
  }

  int RunStream(int window) {
    NoteContact();
    auto stub = v1::IngestService::NewStub(channel_);
    struct Slot {
      std::vector<Batch> batches;
      size_t next = 0;  // the batch outstanding (sent or to send)
    };
    std::vector<Slot> slots;  // cases in progress
    uint64_t request_id = 0;
    bool stopping = false;
    for (;;) {
      // Fill the window with new cases unless stopping.
      while (!stopping && static_cast<int>(slots.size()) < window) {
        std::vector<Batch> batches = NextCase();
        if (batches.empty()) {
          stopping = true;
          break;
        }
        slots.push_back(Slot{std::move(batches), 0});
      }
      if (slots.empty()) return Finish(false);
      grpc::ClientContext context;
      context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(120));
      auto stream = stub->AppendStream(&context);
      std::unordered_map<uint64_t, size_t> in_flight;  // request id -> slot
      auto send = [&](size_t slot) {
        Batch& b = slots[slot].batches[slots[slot].next];
        b.request.set_request_id(++request_id);
        ++b.attempts;
        if (b.attempts > 1) ++totals_.retries;
        in_flight[request_id] = slot;
        return stream->Write(b.request);
      };
      bool broken = false;
      for (size_t s = 0; s < slots.size() && !broken; ++s) broken = !send(s);
      v1::AppendAck ack;
      while (!broken && !in_flight.empty()) {
        if (!stream->Read(&ack)) {
          broken = true;
          break;
        }
        auto it = in_flight.find(ack.request_id());
        if (it == in_flight.end()) {
          journal_.Write(absl::StrCat("V an acknowledgement for an unknown request id ", ack.request_id(), "\n"));
          continue;
        }
        const size_t s = it->second;
        in_flight.erase(it);
        Batch& b = slots[s].batches[slots[s].next];
        const absl::Status status(static_cast<absl::StatusCode>(ack.code()), ack.message());
        if (Transient(status.code(), b)) {
          std::this_thread::sleep_for(std::chrono::milliseconds(50));  // backoff before the same batch again
          broken = !send(s);
          continue;
        }
        NoteContact();
        const bool go_on = Answered(b, status, ack.result());
        ++slots[s].next;
        if (!go_on || slots[s].next == slots[s].batches.size() || Stopping()) {
          // The case is done (or dropped, or we stop): a new one takes its slot.
          std::vector<Batch> batches;
          if (!stopping) batches = NextCase();
          if (batches.empty()) {
            stopping = true;
            slots[s].batches.clear();  // emptied slots are removed after this stream
            continue;
          }
          slots[s] = Slot{std::move(batches), 0};
        }
        broken = !send(s);
      }
      // Slots whose case ended leave; the others keep their outstanding batch.
      std::vector<Slot> kept;
      for (Slot& s : slots) {
        if (!s.batches.empty() && s.next < s.batches.size()) kept.push_back(std::move(s));
      }
      slots = std::move(kept);
      if (broken) {
        context.TryCancel();
        stream->Finish().ok();  // the outcome is known: broken; its status says nothing more
        if (!Reconnect()) return Finish(true);
      } else {
        stream->WritesDone();
        stream->Finish().ok();
      }
    }
  }

  int Finish(bool gave_up) {
    std::string lines;
    if (gave_up) lines += absl::StrCat("V the server stayed unreachable for ", max_outage_.count(), " s\n");
    lines += absl::StrCat("S acked=", totals_.acked.load(), " batches=", totals_.batches.load(),
                          " retries=", totals_.retries.load(), " already_recorded=", totals_.already.load(),
                          " refused=", totals_.refused.load(), " reconnects=", totals_.reconnects.load(), "\n");
    journal_.Write(lines);
    return gave_up ? 3 : 0;
  }

 private:
  const std::string server_;
  Journal journal_;
  const std::string stop_file_;
  const std::chrono::seconds max_outage_;
  std::shared_ptr<grpc::Channel> channel_;
  std::mutex mu_;  // guards generator_ and rng_
  std::unique_ptr<synth::CohortGenerator> generator_;
  std::unique_ptr<synth::Rng> rng_;
  std::atomic<Clock::rep> last_contact_{0};
  Totals totals_;
};

int RunClient(const Args& a) {
  Client client(a);
  const std::string mode = a.Get("mode");
  if (mode == "unary") return client.RunUnary(static_cast<int>(a.Int("threads", 4)));
  if (mode == "stream") return client.RunStream(static_cast<int>(a.Int("window", 16)));
  Args::Usage("--mode must be unary or stream");
}

// ---------------------------------------------------------------------------
// Check
// ---------------------------------------------------------------------------

struct Where {
  std::string case_id;
  uint64_t position = 0;
  uint64_t version = 0;
  bool operator==(const Where& o) const {
    return case_id == o.case_id && position == o.position && version == o.version;
  }
};
std::string ToString(const Where& w) {
  return absl::StrCat(w.case_id, " position ", w.position, " version ", w.version);
}

class Violations {
 public:
  void Add(const std::string& kind, const std::string& detail) {
    if (++by_kind_[kind] <= 20) std::cout << "VIOLATION " << kind << ": " << detail << "\n";
    ++total_;
  }
  uint64_t total() const { return total_; }
  const std::map<std::string, uint64_t>& by_kind() const { return by_kind_; }

 private:
  std::map<std::string, uint64_t> by_kind_;
  uint64_t total_ = 0;
};

template <typename Request, typename Response>
using Query = grpc::Status (v1::ResearchService::Stub::*)(grpc::ClientContext*, const Request&, Response*);

// Every read model's answer to a plain question, as one message each.
struct Answers {
  v1::NetworkSizeResponse network_size;
  v1::OutcomesResponse outcomes;
  v1::FunnelResponse funnel;
  v1::SupportResponse support;
};

template <typename Request, typename Response>
grpc::Status Ask(v1::ResearchService::Stub& stub, Query<Request, Response> query, const Request& request,
                 Response* response) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(120));
  return (stub.*query)(&context, request, response);
}

grpc::Status AskAll(v1::ResearchService::Stub& stub, Answers* a) {
  v1::NetworkSizeRequest n;
  n.set_group_by(v1::GROUPING_YEAR);
  grpc::Status s = Ask(stub, &v1::ResearchService::Stub::GetNetworkSize, n, &a->network_size);
  if (s.ok()) s = Ask(stub, &v1::ResearchService::Stub::GetOutcomes, v1::OutcomesRequest(), &a->outcomes);
  if (s.ok()) s = Ask(stub, &v1::ResearchService::Stub::GetFunnel, v1::FunnelRequest(), &a->funnel);
  if (s.ok()) s = Ask(stub, &v1::ResearchService::Stub::GetSustainedSupport, v1::SupportRequest(), &a->support);
  return s;
}

bool CaughtUp(const Answers& a, uint64_t head) {
  return a.network_size.watermark().max_global_position() == head &&
         a.outcomes.watermark().max_global_position() == head && a.funnel.watermark().max_global_position() == head &&
         a.support.watermark().max_global_position() == head;
}

// Why the checker reads the log (audit reads of case-level data state it).
constexpr const char* kPurpose = "chaos check: acknowledged events against the log (scripts/chaos.sh)";

int RunCheck(const Args& a) {
  Violations v;
  // 1. The journals.
  std::unordered_map<std::string, Where> acked;
  std::unordered_set<std::string> refused;
  uint64_t clients = 0, finished = 0;
  std::map<std::string, uint64_t> figures;  // summed S fields
  for (const auto& entry : std::filesystem::directory_iterator(a.Get("journal-dir"))) {
    if (entry.path().extension() != ".journal") continue;
    ++clients;
    std::ifstream in(entry.path());
    std::string line;
    bool saw_summary = false;
    while (std::getline(in, line)) {
      std::vector<std::string> f = absl::StrSplit(line, ' ');
      if (f[0] == "A" && f.size() == 6) {
        Where w{f[1], std::stoull(f[3]), std::stoull(f[4])};
        auto [it, inserted] = acked.emplace(f[2], w);
        if (!inserted && !(it->second == w)) {
          v.Add("acknowledged twice at different places",
                absl::StrCat("event ", f[2], ": ", ToString(it->second), " and ", ToString(w)));
        }
      } else if (f[0] == "R" && f.size() >= 4) {
        refused.insert(f[2]);
      } else if (f[0] == "V") {
        v.Add("client saw", absl::StrCat(entry.path().filename().string(), ": ", line.substr(2)));
      } else if (f[0] == "S") {
        saw_summary = true;
        for (size_t i = 1; i < f.size(); ++i) {
          std::vector<std::string> kv = absl::StrSplit(f[i], '=');
          if (kv.size() == 2) figures[kv[0]] += std::stoull(kv[1]);
        }
      }
    }
    if (saw_summary) {
      ++finished;
    } else {
      v.Add("client did not finish", entry.path().filename().string());
    }
  }
  for (const std::string& id : refused) {
    if (acked.count(id)) v.Add("refused and acknowledged", id);
  }

  // 2. The log, read back through the audit API.
  auto channel = Channel(a.Get("server"));
  auto audit = v1::AuditService::NewStub(channel);
  std::unordered_map<std::string, Where> stored;
  std::unordered_map<std::string, uint64_t> case_version;
  uint64_t head = 0;
  {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::minutes(10));
    context.AddMetadata("kring-purpose", kPurpose);
    v1::ReadAllRequest request;
    request.set_from_position(1);
    request.set_batch_size(5000);
    auto reader = audit->ReadAll(&context, request);
    v1::ReadAllResponse response;
    while (reader->Read(&response)) {
      for (const v1::RecordedEvent& e : response.events()) {
        if (e.global_position() != head + 1) {
          v.Add("position gap", absl::StrCat("after position ", head, " comes ", e.global_position()));
        }
        head = e.global_position();
        uint64_t& version = case_version[e.case_id()];
        if (e.stream_version() != version + 1) {
          v.Add("version gap", absl::StrCat(e.case_id(), ": after version ", version, " comes ", e.stream_version(),
                                            " at position ", e.global_position()));
        }
        version = e.stream_version();
        Where w{e.case_id(), e.global_position(), e.stream_version()};
        auto [it, inserted] = stored.emplace(e.event().event_id(), w);
        if (!inserted) {
          v.Add("stored twice",
                absl::StrCat("event ", e.event().event_id(), " at ", ToString(it->second), " and ", ToString(w)));
        }
      }
    }
    const grpc::Status s = reader->Finish();
    if (!s.ok()) {
      std::cout << "chaos check: ReadAll failed: " << s.error_code() << " " << s.error_message() << "\n";
      return 2;
    }
  }
  for (const auto& [id, w] : acked) {
    auto it = stored.find(id);
    if (it == stored.end()) {
      v.Add("acknowledged but not stored", absl::StrCat("event ", id, " acknowledged at ", ToString(w)));
    } else if (!(it->second == w)) {
      v.Add("stored elsewhere than acknowledged",
            absl::StrCat("event ", id, " acknowledged at ", ToString(w), ", stored at ", ToString(it->second)));
    }
  }
  for (const auto& [id, w] : stored) {
    if (refused.count(id)) v.Add("refused but stored", absl::StrCat("event ", id, " at ", ToString(w)));
    if (!acked.count(id)) v.Add("stored but never acknowledged", absl::StrCat("event ", id, " at ", ToString(w)));
  }

  // 3. The hash chain.
  {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::minutes(10));
    context.AddMetadata("kring-purpose", kPurpose);
    v1::VerifyChainResponse chain;
    const grpc::Status s = audit->VerifyChain(&context, v1::VerifyChainRequest(), &chain);
    if (!s.ok()) {
      v.Add("chain", absl::StrCat("VerifyChain failed: ", s.error_message()));
    } else if (!chain.ok() || chain.events_verified() != head) {
      v.Add("chain",
            absl::StrCat("does not verify: ", chain.events_verified(), " of ", head,
                         " events verified; first bad position ", chain.first_bad_position(), ": ", chain.reason()));
    }
  }

  // 4. Every read model's answer equals its answer after a clean rebuild.
  bool read_models_compared = false;
  if (!a.Has("no-read-models")) {
    auto research = v1::ResearchService::NewStub(channel);
    auto operations = v1::OperationsService::NewStub(channel);
    Answers live;
    grpc::Status s;
    const auto deadline = Clock::now() + std::chrono::seconds(a.Int("catch-up-seconds", 300));
    for (;;) {
      live = Answers();
      s = AskAll(*research, &live);
      if (!s.ok() || CaughtUp(live, head) || Clock::now() > deadline) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    if (!s.ok()) {
      v.Add("read models", absl::StrCat("a research query failed: ", s.error_message()));
    } else if (!CaughtUp(live, head)) {
      v.Add("read models",
            absl::StrCat("did not catch up with the head ", head, " within --catch-up-seconds: network-size at ",
                         live.network_size.watermark().max_global_position(), ", outcomes at ",
                         live.outcomes.watermark().max_global_position(), ", funnel at ",
                         live.funnel.watermark().max_global_position(), ", support at ",
                         live.support.watermark().max_global_position()));
    } else {
      for (const char* model : {"network-size", "outcomes", "funnel", "support"}) {
        grpc::ClientContext context;
        v1::RebuildRequest request;
        request.set_read_model(model);
        auto reader = operations->Rebuild(&context, request);
        v1::RebuildProgress progress;
        bool done = false;
        while (reader->Read(&progress)) done = done || progress.done();
        const grpc::Status rs = reader->Finish();
        if (!rs.ok() || !done)
          v.Add("read models", absl::StrCat("rebuild of ", model, " failed: ", rs.error_message()));
      }
      Answers rebuilt;
      s = AskAll(*research, &rebuilt);
      using google::protobuf::util::MessageDifferencer;
      if (!s.ok()) {
        v.Add("read models", absl::StrCat("a research query after the rebuild failed: ", s.error_message()));
      } else {
        read_models_compared = true;
        if (!MessageDifferencer::Equals(live.network_size, rebuilt.network_size)) {
          v.Add("read model differs from a clean rebuild", "network-size");
        }
        if (!MessageDifferencer::Equals(live.outcomes, rebuilt.outcomes)) {
          v.Add("read model differs from a clean rebuild", "outcomes");
        }
        if (!MessageDifferencer::Equals(live.funnel, rebuilt.funnel)) {
          v.Add("read model differs from a clean rebuild", "funnel");
        }
        if (!MessageDifferencer::Equals(live.support, rebuilt.support)) {
          v.Add("read model differs from a clean rebuild", "support");
        }
      }
    }
  }

  for (const auto& [kind, n] : v.by_kind()) std::cout << "chaos check: " << n << " x " << kind << "\n";
  std::cout << "{\"clients\":" << clients << ",\"clients_finished\":" << finished << ",\"head\":" << head
            << ",\"cases\":" << case_version.size() << ",\"events_acknowledged\":" << acked.size()
            << ",\"events_refused\":" << refused.size()
            << ",\"read_models_compared\":" << (read_models_compared ? "true" : "false");
  for (const auto& [k, n] : figures) std::cout << ",\"" << k << "\":" << n;
  std::cout << ",\"violations\":" << v.total() << "}\n";
  return v.total() == 0 ? 0 : 1;
}

// ---------------------------------------------------------------------------
// Tamper
// ---------------------------------------------------------------------------

int RunTamper(const Args& a) {
  const std::string path = a.Get("events");
  const uint64_t position = static_cast<uint64_t>(a.Int("delete-position", 0));
  std::vector<std::string> names;
  rocksdb::Status s = rocksdb::DB::ListColumnFamilies(rocksdb::DBOptions(), path, &names);
  if (!s.ok()) {
    std::cerr << "tamper: " << s.ToString() << "\n";
    return 1;
  }
  std::vector<rocksdb::ColumnFamilyDescriptor> cfs;
  for (const auto& n : names) cfs.emplace_back(n, rocksdb::ColumnFamilyOptions());
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  s = rocksdb::DB::Open(rocksdb::DBOptions(), path, cfs, &handles, &raw);
  if (!s.ok()) {
    std::cerr << "tamper: " << s.ToString() << "\n";
    return 1;
  }
  std::unique_ptr<rocksdb::DB> db(raw);
  char key[8];
  for (int i = 0; i < 8; ++i) key[i] = static_cast<char>(position >> (56 - 8 * i));
  int rc = 1;
  for (size_t i = 0; i < names.size(); ++i) {
    if (names[i] != "events") continue;
    std::string value;
    s = db->Get(rocksdb::ReadOptions(), handles[i], rocksdb::Slice(key, 8), &value);
    if (!s.ok()) {
      std::cerr << "tamper: position " << position << ": " << s.ToString() << "\n";
      break;
    }
    rocksdb::WriteOptions w;
    w.sync = true;
    s = db->Delete(w, handles[i], rocksdb::Slice(key, 8));
    std::cerr << "tamper: deleted the event at position " << position << " (" << value.size()
              << " bytes): " << s.ToString() << "\n";
    rc = s.ok() ? 0 : 1;
  }
  for (auto* h : handles) db->DestroyColumnFamilyHandle(h);
  return rc;
}

}  // namespace
}  // namespace kring::chaos

int main(int argc, char** argv) {
  using kring::chaos::Args;
  if (argc < 2) Args::Usage("a command is required");
  const std::string command = argv[1];
  const Args args(argc, argv, 2);
  if (command == "client") return kring::chaos::RunClient(args);
  if (command == "check") return kring::chaos::RunCheck(args);
  if (command == "tamper") return kring::chaos::RunTamper(args);
  Args::Usage("unknown command " + command);
}
