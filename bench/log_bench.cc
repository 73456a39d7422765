// log_bench: how fast the event log can be read back and its hash chain
// verified — the audit side's two bulk operations (bench/README.md).
//
// Fills an event store in a folder with a SYNTHETIC cohort (whole cases, each
// appended as one batch, so every event passes the case rules and carries its
// chain links), or reuses the folder when it already holds enough events, and
// then times, in --rounds rounds each:
//   read-all  EventStore::ScanAll over the whole log: every record read and
//             parsed into a kring.v1.RecordedEvent (what AuditService.ReadAll
//             and a rebuild read);
//   verify    EventStore::VerifyChain over the whole log: every record's
//             SHA-256, links, positions and versions checked.
// Prints events/s per round and the median, against the targets of issue 5
// (read-all >= 1,000,000 events/s, verify >= 500,000 events/s).
#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <future>
#include <iostream>
#include <vector>

#include "eventstore/event_store.h"
#include "synth/cohort.h"

namespace {

using namespace kring;  // NOLINT
using Clock = std::chrono::steady_clock;

double Seconds(Clock::time_point since) { return std::chrono::duration<double>(Clock::now() - since).count(); }

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

int Fill(eventstore::EventStore& store, uint64_t events) {
  synth::CohortOptions options;
  options.seed = 7;
  options.cases = SIZE_MAX;
  synth::CohortGenerator generator(options);
  synth::SyntheticCase c;
  const auto start = Clock::now();
  std::vector<std::future<absl::StatusOr<eventstore::AppendOutcome>>> pending;
  uint64_t appended = store.Head().value();
  while (appended < events && generator.Next(&c)) {
    eventstore::AppendBatch batch;
    batch.case_id = CaseId(c.case_id);
    batch.events = std::move(c.events);
    batch.source = "log-bench";
    appended += batch.events.size();
    auto promise = std::make_shared<std::promise<absl::StatusOr<eventstore::AppendOutcome>>>();
    pending.push_back(promise->get_future());
    store.AppendAsync(std::move(batch),
                      [promise](absl::StatusOr<eventstore::AppendOutcome> r) { promise->set_value(std::move(r)); });
    if (pending.size() >= 256) {
      for (auto& f : pending) {
        auto r = f.get();
        if (!r.ok()) {
          std::cerr << "log_bench: append refused: " << r.status() << "\n";
          return 1;
        }
      }
      pending.clear();
      std::fprintf(stderr, "\rfilling: %llu / %llu events (%.0f events/s)   ", (unsigned long long)appended,
                   (unsigned long long)events, appended / Seconds(start));
    }
  }
  for (auto& f : pending) {
    if (auto r = f.get(); !r.ok()) {
      std::cerr << "log_bench: append refused: " << r.status() << "\n";
      return 1;
    }
  }
  std::fprintf(stderr, "\rfilled %llu events in %.1f s%30s\n", (unsigned long long)store.Head().value(), Seconds(start),
               "");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"log_bench: read-all and chain-verification rates over a large event log"};
  std::string dir;
  uint64_t events = 10'000'000;
  int rounds = 3;
  double target_read = 1'000'000, target_verify = 500'000;
  app.add_option("--data-dir", dir, "event store folder (filled when it holds fewer events; kept)")->required();
  app.add_option("--events", events, "events in the log")->capture_default_str();
  app.add_option("--rounds", rounds, "timed rounds per measurement")->capture_default_str()->check(CLI::Range(1, 50));
  app.add_option("--target-read", target_read, "read-all target, events/s")->capture_default_str();
  app.add_option("--target-verify", target_verify, "verify target, events/s")->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  eventstore::EventStoreOptions options;
  options.path = dir;
  options.sync = false;  // filling a throwaway benchmark log; reads and verification do not depend on it
  auto opened = eventstore::EventStore::Open(options);
  if (!opened.ok()) {
    std::cerr << "log_bench: " << opened.status() << "\n";
    return 1;
  }
  auto store = std::move(opened).value();
  if (store->Head().value() < events && Fill(*store, events) != 0) return 1;
  store->StopAppends();
  const uint64_t head = store->Head().value();
  std::cout << "log: " << head << " events in " << dir << "\n";

  std::vector<double> read_rates, verify_rates;
  for (int r = 1; r <= rounds; ++r) {
    uint64_t n = 0, bytes = 0;
    auto start = Clock::now();
    absl::Status s =
        store->ScanAll(GlobalPosition(1), GlobalPosition(head), [&](const v1::RecordedEvent&, std::string_view stored) {
          ++n;
          bytes += stored.size();
          return true;
        });
    const double read_s = Seconds(start);
    if (!s.ok() || n != head) {
      std::cerr << "log_bench: read-all: " << s << " after " << n << " events\n";
      return 1;
    }
    read_rates.push_back(n / read_s);
    start = Clock::now();
    auto verified = store->VerifyChain(GlobalPosition(1), GlobalPosition(head));
    const double verify_s = Seconds(start);
    if (!verified.ok() || !verified->ok || verified->events_verified != head) {
      std::cerr << "log_bench: verify failed: " << (verified.ok() ? verified->reason : verified.status().ToString())
                << "\n";
      return 1;
    }
    verify_rates.push_back(head / verify_s);
    std::printf("round %d   read-all %10.0f events/s (%.1f s, %.0f MiB)   verify %10.0f events/s (%.1f s)\n", r,
                read_rates.back(), read_s, bytes / 1048576.0, verify_rates.back(), verify_s);
  }
  const double read = Median(read_rates), verify = Median(verify_rates);
  std::printf("median    read-all %10.0f events/s (target %.0f: %s)   verify %10.0f events/s (target %.0f: %s)\n", read,
              target_read, read >= target_read ? "MET" : "NOT MET", verify, target_verify,
              verify >= target_verify ? "MET" : "NOT MET");
  return 0;
}
