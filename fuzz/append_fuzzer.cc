// libFuzzer target over the append path as kringd runs it: request decoding
// (kring.v1.AppendRequest, protobuf binary), services::ToBatch, batch
// validation and the event store's writer (idempotency, optimistic
// concurrency, staging, group commit) on a real RocksDB-backed EventStore.
//
// One input is a sequence of requests (fuzz/append_input.h). They are
// submitted back to back with AppendAsync, as one AppendStream would, so the
// writer may fold several into one group; then every outcome is checked:
//   - a refusal is one of the documented codes (INVALID_ARGUMENT,
//     FAILED_PRECONDITION, ABORTED, RESOURCE_EXHAUSTED); anything else
//     (INTERNAL, DATA_LOSS, UNKNOWN, …) aborts;
//   - accepted batches get the next global positions and the next versions of
//     their case, gapless and in submission order; refusals and retries
//     ("already recorded") move neither Head() nor any case version;
//   - the events read back from the store are the ones sent.
//
// The store is opened once per process (in a fresh folder under $TMPDIR) and
// keeps what earlier inputs wrote, so later inputs also meet recorded ids and
// existing cases. Running one input alone (reproducing a crash) starts from an
// empty store. Every check compares with the state read just before the input.
#include <google/protobuf/stubs/logging.h>
#include <stdlib.h>

#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "eventstore/event_store.h"
#include "fuzz/append_input.h"
#include "services/append_request.h"

namespace {

using kring::CaseId;
using kring::GlobalPosition;
using kring::eventstore::AppendOutcome;
using kring::eventstore::EventStore;

EventStore* g_store = nullptr;
std::string* g_dir = nullptr;
// KRING_FUZZ_VERBOSE=1 prints every request's outcome (for reading seeds and
// reproducing a crash; far too slow for fuzzing).
bool g_verbose = false;

[[noreturn]] void Fail(const std::string& what) {
  fprintf(stderr, "append_fuzzer: invariant broken: %s\n", what.c_str());
  fflush(stderr);
  abort();
}

#define FUZZ_CHECK(cond, ...)                                  \
  do {                                                         \
    if (!(cond)) Fail(absl::StrCat(#cond, ": ", __VA_ARGS__)); \
  } while (false)

// Closes the store before static destructors and LeakSanitizer's final check
// run, so RocksDB's threads and buffers are gone by then, and removes the
// folder.
void CloseStore() {
  if (g_store == nullptr) return;
  g_store->Close();
  delete g_store;
  g_store = nullptr;
  std::error_code ec;
  std::filesystem::remove_all(*g_dir, ec);
  delete g_dir;
  g_dir = nullptr;
}

// Protobuf logs every proto3 string that is not UTF-8 while parsing; such a
// request fails to decode, which is an expected outcome here, and the fuzzer
// makes millions of them. Other protobuf messages still go to stderr.
void ProtobufLog(google::protobuf::LogLevel level, const char* file, int line, const std::string& message) {
  if (message.find("invalid UTF-8 data") != std::string::npos) return;
  fprintf(stderr, "[libprotobuf %d %s:%d] %s\n", static_cast<int>(level), file, line, message.c_str());
}

bool IsDocumentedRefusal(absl::StatusCode code) {
  switch (code) {
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kFailedPrecondition:
    case absl::StatusCode::kAborted:
    case absl::StatusCode::kResourceExhausted:
      return true;
    default:
      return false;
  }
}

// Counts outstanding callbacks; they run on the store's threads, or at once on
// this one for a malformed batch.
class Latch {
 public:
  explicit Latch(size_t n) : remaining_(n) {}
  void CountDown() {
    std::lock_guard<std::mutex> lock(mu_);
    if (--remaining_ == 0) cv_.notify_all();
  }
  void Wait() {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [this] { return remaining_ == 0; });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  size_t remaining_;
};

struct Submission {
  kring::v1::AppendRequest request;  // as decoded, kept for the read-back
  bool mapped = false;               // ToBatch accepted it and it went to the store
  absl::StatusOr<AppendOutcome> result = absl::UnknownError("no answer");
};

constexpr char kSource[] = "fuzz";

}  // namespace

extern "C" int LLVMFuzzerInitialize(int* argc, char*** argv) {
  kring::SetLogLevel("warn");
  const char* verbose = getenv("KRING_FUZZ_VERBOSE");
  g_verbose = verbose != nullptr && std::string(verbose) == "1";
  if (!g_verbose) google::protobuf::SetLogHandler(ProtobufLog);
  const char* base = getenv("TMPDIR");
  std::string tmpl = std::string(base && *base ? base : "/tmp") + "/kring-append-fuzz-XXXXXX";
  if (mkdtemp(tmpl.data()) == nullptr) Fail("mkdtemp failed");
  g_dir = new std::string(tmpl);
  kring::eventstore::EventStoreOptions options;
  options.path = *g_dir + "/events";
  options.sync = false;  // durability is not under test; fsyncs would only slow the fuzzer down
  // Small limits, so that inputs of a few KiB reach RESOURCE_EXHAUSTED.
  options.validation.max_batch_events = 32;
  options.validation.max_batch_bytes = 4096;
  auto store = EventStore::Open(options);
  if (!store.ok()) Fail(absl::StrCat("cannot open the event store: ", store.status().ToString()));
  g_store = store->release();
  atexit(CloseStore);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::vector<kring::v1::AppendRequest> requests = kring::fuzz::DecodeRequests(data, size);
  if (requests.empty()) return 0;
  EventStore& store = *g_store;

  const uint64_t head_before = store.Head().value();
  std::vector<Submission> subs(requests.size());
  std::map<std::string, uint64_t> versions;  // case -> version before this input
  std::vector<absl::StatusOr<kring::eventstore::AppendBatch>> batches;
  for (size_t i = 0; i < requests.size(); ++i) {
    subs[i].request = requests[i];
    auto batch = kring::services::ToBatch(std::move(requests[i]), kSource);
    if (!batch.ok()) {
      FUZZ_CHECK(batch.status().code() == absl::StatusCode::kInvalidArgument, "ToBatch: ", batch.status().ToString());
      subs[i].result = batch.status();
    } else {
      subs[i].mapped = true;
      const std::string& case_id = batch->case_id.value();
      if (versions.count(case_id) == 0) {
        auto v = store.CaseVersion(batch->case_id);
        FUZZ_CHECK(v.ok(), "CaseVersion: ", v.status().ToString());
        versions[case_id] = v->value();
      }
    }
    batches.push_back(std::move(batch));
  }

  size_t mapped = 0;
  for (const Submission& s : subs) mapped += s.mapped;
  Latch latch(mapped);
  for (size_t i = 0; i < subs.size(); ++i) {
    if (!subs[i].mapped) continue;
    store.AppendAsync(*std::move(batches[i]), [&subs, &latch, i](absl::StatusOr<AppendOutcome> r) {
      subs[i].result = std::move(r);
      latch.CountDown();
    });
  }
  latch.Wait();

  // The writer handles the queue in order, and nothing else writes: accepted
  // batches take consecutive positions and versions, in submission order.
  uint64_t next_position = head_before + 1;
  std::map<std::string, uint64_t> expected_versions = versions;
  std::vector<size_t> accepted;
  for (size_t i = 0; i < subs.size(); ++i) {
    const Submission& s = subs[i];
    const std::string at = absl::StrCat("request ", i, ": ");
    if (g_verbose) {
      fprintf(stderr, "request %zu case=%s events=%d: %s\n", i, s.request.case_id().c_str(), s.request.events_size(),
              !s.result.ok()
                  ? s.result.status().ToString().c_str()
                  : absl::StrCat("OK", s.result->already_recorded ? " already recorded" : "", " versions ",
                                 s.result->first_version.value(), "..", s.result->last_version.value(), " positions ",
                                 s.result->first_position.value(), "..", s.result->last_position.value())
                        .c_str());
    }
    if (!s.result.ok()) {
      FUZZ_CHECK(IsDocumentedRefusal(s.result.status().code()), at, s.result.status().ToString());
      FUZZ_CHECK(!s.result.status().message().empty(), at, "a refusal without a message");
      continue;
    }
    FUZZ_CHECK(s.mapped, at, "OK without reaching the store");
    const AppendOutcome& o = *s.result;
    const uint64_t n = s.request.events_size();
    uint64_t& version = expected_versions[s.request.case_id()];
    if (o.already_recorded) {
      // A retry: the original positions, all recorded before it (possibly by
      // an earlier request of this input), and nothing new.
      FUZZ_CHECK(o.first_position.value() >= 1 && o.first_position <= o.last_position &&
                     o.last_position.value() < next_position,
                 at, "retry positions ", o.first_position.value(), "..", o.last_position.value(), " with next ",
                 next_position);
      FUZZ_CHECK(o.first_version.value() >= 1 && o.first_version <= o.last_version && o.last_version.value() <= version,
                 at, "retry versions ", o.first_version.value(), "..", o.last_version.value(), " with case at ",
                 version);
      continue;
    }
    FUZZ_CHECK(n >= 1, at, "an empty batch was accepted");
    FUZZ_CHECK(o.first_position.value() == next_position && o.last_position.value() == next_position + n - 1, at,
               "positions ", o.first_position.value(), "..", o.last_position.value(), " for ", n,
               " events, expected to start at ", next_position);
    FUZZ_CHECK(o.first_version.value() == version + 1 && o.last_version.value() == version + n, at, "versions ",
               o.first_version.value(), "..", o.last_version.value(), " for ", n, " events on a case at ", version);
    next_position += n;
    version += n;
    accepted.push_back(i);
  }

  const uint64_t head_after = store.Head().value();
  FUZZ_CHECK(head_after == next_position - 1, "Head() is ", head_after, " but the accepted batches end at ",
             next_position - 1, " (head before the input: ", head_before, ")");
  for (const auto& [case_id, version] : expected_versions) {
    auto v = store.CaseVersion(CaseId(case_id));
    FUZZ_CHECK(v.ok() && v->value() == version, "case version ", v.ok() ? v->value() : 0, " instead of ", version);
  }

  // Read back what was appended: the events as sent, with the envelope the
  // server sets.
  if (head_after > head_before) {
    size_t batch = 0, event = 0;
    uint64_t position = head_before + 1;
    absl::Status scanned = store.ScanAll(
        GlobalPosition(head_before + 1), GlobalPosition(head_after),
        [&](const kring::v1::RecordedEvent& recorded, std::string_view) {
          FUZZ_CHECK(batch < accepted.size(), "more events stored than accepted");
          const Submission& s = subs[accepted[batch]];
          const AppendOutcome& o = *s.result;
          FUZZ_CHECK(recorded.global_position() == position, "position ", recorded.global_position(), " at ", position);
          FUZZ_CHECK(recorded.case_id() == s.request.case_id(), "stored case id differs at position ", position);
          FUZZ_CHECK(recorded.stream_version() == o.first_version.value() + event, "version ",
                     recorded.stream_version(), " at position ", position);
          FUZZ_CHECK(recorded.source() == kSource, "source at position ", position);
          FUZZ_CHECK(recorded.event().SerializeAsString() == s.request.events(event).SerializeAsString(),
                     "the stored event differs from the one sent, position ", position);
          ++position;
          if (++event == static_cast<size_t>(s.request.events_size())) {
            ++batch;
            event = 0;
          }
          return true;
        });
    FUZZ_CHECK(scanned.ok(), "ScanAll: ", scanned.ToString());
    FUZZ_CHECK(position == head_after + 1, "read back up to ", position - 1, " of ", head_after);
  }
  return 0;
}
