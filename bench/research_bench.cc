// research_bench: how fast the research read models rebuild from the event
// log, and how fast their queries answer (issue 4, bench/README.md).
//
// Fills an event store in --data-dir with a SYNTHETIC cohort of --cases cases
// (whole cases, one batch each, sync=false), or reuses the folder when it
// already holds them, and then, in --rounds rounds:
//   scan only   EventStore::ScanAll, and ScanChunks (what rebuilds read),
//               over the whole log (the floor of a rebuild)
//   alone       each read model rebuilt by itself: a fresh ProjectionEngine
//               filled with CatchUpFromStore (one scan of the log each)
//   sequential  the four rebuilt one after the other: log events / the sum
//   parallel    the four rebuilt at once, spread over --threads threads
//   shared      the four filled by projections::CatchUpFromStore(engines, …):
//               one scan, chunks parsed once and handed to the four engines
//               without a copy (what kringd's start-up fill does)
// Each round prints the load average (/proc/loadavg) before it.
// Then the research queries, each with no grouping, grouped by year, with a
// filter (one domain and a referral period of whole months), with the
// filter over a period that starts and ends within a month, and grouped by
// year x domain with compare_with "2022/DOMAIN_YOUTH_PROTECTION" (issue 15):
// one first run
// (timed apart: it fills the query cells' memos), --query-warmup runs, then
// --query-iterations timed runs, p50/p99 in ms, with the load average. First over the engines of the
// last parallel rebuild (the cases of the store), then, with --grow-to, after
// synthetic cases were applied directly into the same engines with
// ProjectionEngine::ApplyBatch (no event store, no Kafka) until the models
// hold --grow-to cases.
//
// Timings are printed, never asserted (targets: rebuild >= 500,000 events/s,
// query p99 < 10 ms).
#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <functional>
#include <future>
#include <iostream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/time/time.h"
#include "common/log.h"
#include "eventstore/event_store.h"
#include "projections/cell_key.h"
#include "projections/engine.h"
#include "projections/funnel.h"
#include "projections/network_size.h"
#include "projections/outcomes.h"
#include "projections/support.h"
#include "synth/cohort.h"

namespace {

using namespace kring;  // NOLINT
using Clock = std::chrono::steady_clock;
namespace fs = std::filesystem;

double Seconds(Clock::time_point since) { return std::chrono::duration<double>(Clock::now() - since).count(); }

// CPU seconds of the whole process (every thread, RocksDB's included): on a
// machine shared with other work, events per CPU second is what a quiet
// machine's wall clock would show for single-threaded work.
double CpuSeconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

// The 1-, 5- and 15-minute load averages, as /proc/loadavg gives them.
std::string LoadAverage() {
  std::ifstream in("/proc/loadavg");
  std::string one, five, fifteen;
  in >> one >> five >> fifteen;
  return in ? one + " " + five + " " + fifteen : "unknown";
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

// Nearest-rank percentile of sorted values.
double Percentile(const std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0;
  size_t rank = static_cast<size_t>(p / 100.0 * sorted.size() + 0.999999);
  rank = std::clamp<size_t>(rank, 1, sorted.size());
  return sorted[rank - 1];
}

synth::CohortOptions Cohort(uint64_t seed, size_t first_case, size_t cases) {
  synth::CohortOptions options;
  options.seed = seed;
  options.first_case = first_case;
  options.cases = cases;
  // The demo's fixed cut-off: the same cohort on any later day.
  options.as_of = absl::FromCivil(absl::CivilDay(2026, 6, 30), absl::UTCTimeZone());
  return options;
}

// "<seed> <cases>" of what the store holds, written after every confirmed
// group of appends, so an interrupted fill resumes after the last case.
struct Filled {
  uint64_t seed = 0;
  size_t cases = 0;
};
Filled ReadFilled(const std::string& file) {
  Filled f;
  std::ifstream in(file);
  in >> f.seed >> f.cases;
  return in ? f : Filled{};
}
void WriteFilled(const std::string& file, const Filled& f) {
  {
    std::ofstream out(file + ".tmp", std::ios::trunc);
    out << f.seed << " " << f.cases << "\n";
  }
  fs::rename(file + ".tmp", file);
}

int Fill(eventstore::EventStore& store, const std::string& marker, uint64_t seed, size_t have, size_t cases) {
  synth::CohortGenerator generator(Cohort(seed, have + 1, cases - have));
  synth::SyntheticCase c;
  const auto start = Clock::now();
  const uint64_t head_before = store.Head().value();
  std::vector<std::future<absl::StatusOr<eventstore::AppendOutcome>>> pending;
  size_t done = have;
  auto drain = [&]() -> bool {
    for (auto& f : pending) {
      auto r = f.get();
      if (!r.ok()) {
        std::cerr << "research_bench: append refused: " << r.status() << "\n";
        return false;
      }
    }
    done += pending.size();
    pending.clear();
    WriteFilled(marker, {seed, done});
    const uint64_t appended = store.Head().value() - head_before;
    std::fprintf(stderr, "\rfilling: %zu / %zu cases, %llu events (%.0f events/s)   ", done, cases,
                 (unsigned long long)store.Head().value(), appended / Seconds(start));
    return true;
  };
  while (generator.Next(&c)) {
    eventstore::AppendBatch batch;
    batch.case_id = CaseId(c.case_id);
    batch.events = std::move(c.events);
    batch.source = "research-bench";
    auto promise = std::make_shared<std::promise<absl::StatusOr<eventstore::AppendOutcome>>>();
    pending.push_back(promise->get_future());
    store.AppendAsync(std::move(batch),
                      [promise](absl::StatusOr<eventstore::AppendOutcome> r) { promise->set_value(std::move(r)); });
    if (pending.size() >= 256 && !drain()) return 1;
  }
  if (!drain()) return 1;
  std::fprintf(stderr, "\rfilled %zu cases, %llu events in %.1f s%30s\n", done,
               (unsigned long long)store.Head().value(), Seconds(start), "");
  return 0;
}

// The cell key secret of the bench (fixed: figures do not matter here).
std::shared_ptr<const projections::CellKeySecret> BenchSecret() {
  static const auto* const secret = new std::shared_ptr<const projections::CellKeySecret>(
      *projections::CellKeySecret::FromBytes("kring research bench cell key secret"));
  return *secret;
}

// The four research read models.
struct Model {
  const char* name;
  std::function<std::unique_ptr<projections::Projection>()> make;
};
const std::vector<Model>& Models() {
  static const std::vector<Model> models = {
      {"network-size", [] { return std::make_unique<projections::NetworkSizeProjection>(BenchSecret()); }},
      {"outcomes", [] { return std::make_unique<projections::OutcomesProjection>(BenchSecret()); }},
      {"funnel", [] { return std::make_unique<projections::FunnelProjection>(BenchSecret()); }},
      {"support", [] { return std::make_unique<projections::SupportProjection>(BenchSecret()); }},
  };
  return models;
}

// Cases a model holds in memory.
size_t CasesOf(const projections::ProjectionEngine& engine) {
  const projections::Projection* p = &engine.projection();
  if (auto m = dynamic_cast<const projections::NetworkSizeProjection*>(p)) return m->cases();
  if (auto m = dynamic_cast<const projections::OutcomesProjection*>(p)) return m->cases();
  if (auto m = dynamic_cast<const projections::FunnelProjection*>(p)) return m->cases();
  if (auto m = dynamic_cast<const projections::SupportProjection*>(p)) return m->cases();
  return 0;
}

struct Bench {
  const eventstore::EventStore* store = nullptr;
  std::string engines_dir;
  bool wal = true;
  size_t max_batch = 5000;
  int counter = 0;

  // A fresh engine in its own new folder.
  std::unique_ptr<projections::ProjectionEngine> Open(const Model& m) {
    projections::ProjectionOptions options;
    options.path = engines_dir + "/" + m.name + "." + std::to_string(++counter);
    options.write_ahead_log = wal;
    options.max_batch = max_batch;
    std::error_code ec;
    fs::remove_all(options.path, ec);
    auto engine = projections::ProjectionEngine::Open(options, m.make(), store);
    if (!engine.ok()) {
      std::cerr << "research_bench: open " << m.name << ": " << engine.status() << "\n";
      std::exit(1);
    }
    return *std::move(engine);
  }
  // Closes an engine and removes its folder.
  static void Close(std::unique_ptr<projections::ProjectionEngine> engine) {
    if (!engine) return;
    const std::string path = engine->path();
    engine.reset();
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  static void CatchUp(projections::ProjectionEngine& engine, uint64_t head) {
    absl::Status s = engine.CatchUpFromStore();
    if (!s.ok() || engine.watermark().events_applied != head) {
      std::cerr << "research_bench: rebuild " << engine.name() << ": " << s << ", " << engine.watermark().events_applied
                << " of " << head << " events applied\n";
      std::exit(1);
    }
  }
};

// ---------------------------------------------------------------------------
// Queries
// ---------------------------------------------------------------------------

enum class Shape { kAll, kByYear, kFiltered, kBoundary, kTwoWay };
const char* ShapeName(Shape s) {
  switch (s) {
    case Shape::kAll:
      return "no grouping";
    case Shape::kByYear:
      return "group_by year";
    case Shape::kFiltered:
      return "youth protection, referred 2021-2022";
    case Shape::kBoundary:
      return "youth prot., ref. 2021-02-15..2022-11-20";
    case Shape::kTwoWay:
      return "year x domain, compare_with 2022/youth prot.";
  }
  return "";
}

// Fields 1-8 are the same in every research request.
template <typename Request>
Request MakeRequest(Shape shape) {
  Request r;
  if (shape == Shape::kByYear) r.set_group_by(v1::GROUPING_YEAR);
  if (shape == Shape::kTwoWay) {  // issue 15: two-way groups, intervals and a comparison (log-rank for support)
    r.set_group_by(v1::GROUPING_YEAR);
    r.set_then_by(v1::GROUPING_DOMAIN);
    r.set_compare_with("2022/DOMAIN_YOUTH_PROTECTION");
  }
  if (shape == Shape::kFiltered) {
    r.add_domains(v1::DOMAIN_YOUTH_PROTECTION);
    r.mutable_referral_period()->set_from("2021-01-01");
    r.mutable_referral_period()->set_to("2022-12-31");
  }
  if (shape == Shape::kBoundary) {  // a period that starts and ends within a month
    r.add_domains(v1::DOMAIN_YOUTH_PROTECTION);
    r.mutable_referral_period()->set_from("2021-02-15");
    r.mutable_referral_period()->set_to("2022-11-20");
  }
  return r;
}

struct Query {
  const char* name;
  size_t engine;  // index into Models()
  // Answers once; returns the number of groups in the answer (a sanity
  // figure), or -1 on error.
  std::function<int(const projections::ProjectionEngine&, Shape)> run;
};

template <typename Response>
int Groups(const absl::StatusOr<Response>& r) {
  if (!r.ok()) {
    std::cerr << "research_bench: query failed: " << r.status() << "\n";
    return -1;
  }
  return r->groups_size();
}

const std::vector<Query>& Queries() {
  static const std::vector<Query> queries = {
      {"QueryNetworkSize", 0,
       [](const projections::ProjectionEngine& e, Shape s) {
         return Groups(projections::QueryNetworkSize(e, MakeRequest<v1::NetworkSizeRequest>(s)));
       }},
      {"QueryOutcomes", 1,
       [](const projections::ProjectionEngine& e, Shape s) {
         return Groups(projections::QueryOutcomes(e, MakeRequest<v1::OutcomesRequest>(s)));
       }},
      {"QueryCostBenefit", 1,
       [](const projections::ProjectionEngine& e, Shape s) {
         return Groups(projections::QueryCostBenefit(e, MakeRequest<v1::CostBenefitRequest>(s)));
       }},
      {"QuerySupport", 3,
       [](const projections::ProjectionEngine& e, Shape s) {
         return Groups(projections::QuerySupport(e, MakeRequest<v1::SupportRequest>(s)));
       }},
      {"QueryFunnel", 2,
       [](const projections::ProjectionEngine& e, Shape s) {
         return Groups(projections::QueryFunnel(e, MakeRequest<v1::FunnelRequest>(s)));
       }},
  };
  return queries;
}

struct QueryFigures {
  double p50_ms = 0, p99_ms = 0, max_ms = 0;
};

// What a model's query cells hold (projections/query_cells.h).
projections::QueryCellFigures CellFiguresOf(const projections::ProjectionEngine& engine) {
  const projections::Projection* p = &engine.projection();
  if (auto m = dynamic_cast<const projections::NetworkSizeProjection*>(p)) return m->cell_figures();
  if (auto m = dynamic_cast<const projections::OutcomesProjection*>(p)) return m->cell_figures();
  if (auto m = dynamic_cast<const projections::FunnelProjection*>(p)) return m->cell_figures();
  if (auto m = dynamic_cast<const projections::SupportProjection*>(p)) return m->cell_figures();
  return {};
}

bool RunQueries(const std::vector<std::unique_ptr<projections::ProjectionEngine>>& engines, int warmup, int iterations,
                double target_p99_ms, const char* label) {
  std::printf("\nqueries over %s: models hold", label);
  for (const auto& e : engines) std::printf(" %s %zu cases,", e->name().c_str(), CasesOf(*e));
  std::printf(" %llu events applied each\n", (unsigned long long)engines[0]->watermark().events_applied);
  std::printf("query cells %s; load average %s\n", projections::QueryCellsEnabled() ? "on" : "off (row scan)",
              LoadAverage().c_str());
  std::printf("%-18s %-38s %7s %9s %9s %9s %9s  %s\n", "query", "shape", "groups", "first ms", "p50 ms", "p99 ms",
              "max ms", "p99 target");
  bool ok = true;
  double worst = 0;
  for (const Query& q : Queries()) {
    for (Shape shape : {Shape::kAll, Shape::kByYear, Shape::kFiltered, Shape::kBoundary, Shape::kTwoWay}) {
      const auto& engine = *engines[q.engine];
      // The first run after the models changed fills the query cells' memos
      // of this shape (a scan of every row): timed apart.
      const auto first_start = Clock::now();
      int groups = q.run(engine, shape);
      const double first_ms = Seconds(first_start) * 1000.0;
      for (int i = 0; i < warmup && groups >= 0; ++i) groups = q.run(engine, shape);
      std::vector<double> ms;
      ms.reserve(iterations);
      for (int i = 0; i < iterations && groups >= 0; ++i) {
        const auto start = Clock::now();
        groups = q.run(engine, shape);
        ms.push_back(Seconds(start) * 1000.0);
      }
      if (groups < 0) {
        ok = false;
        continue;
      }
      std::sort(ms.begin(), ms.end());
      QueryFigures f{Percentile(ms, 50), Percentile(ms, 99), ms.empty() ? 0 : ms.back()};
      worst = std::max(worst, f.p99_ms);
      std::printf("%-18s %-38s %7d %9.2f %9.2f %9.2f %9.2f  %s\n", q.name, ShapeName(shape), groups, first_ms, f.p50_ms,
                  f.p99_ms, f.max_ms, f.p99_ms < target_p99_ms ? "met" : "NOT MET");
      std::fflush(stdout);
    }
  }
  std::printf("worst p99 %.2f ms (target < %.0f ms: %s); load average %s\n", worst, target_p99_ms,
              worst < target_p99_ms ? "MET" : "NOT MET", LoadAverage().c_str());
  for (const auto& e : engines) {
    const auto c = CellFiguresOf(*e);
    std::printf("query cells of %s: %zu cells, %.1f MiB members and index, %.1f MiB memos (estimated)\n",
                e->name().c_str(), c.cells, c.cell_bytes / 1048576.0, c.memo_bytes / 1048576.0);
  }
  return ok;
}

// Applies synthetic cases (case numbers first_case..) directly to the engines
// with ApplyBatch, at positions after `next_position`, until the models hold
// `target_cases` cases. Two threads apply (two engines each) while the main
// thread generates the next batch.
void Grow(std::vector<std::unique_ptr<projections::ProjectionEngine>>& engines, uint64_t seed, size_t first_case,
          size_t target_cases, uint64_t next_position, size_t batch_events) {
  const size_t have = CasesOf(*engines[0]);
  if (target_cases <= have) return;
  synth::CohortGenerator generator(Cohort(seed, first_case, target_cases - have));
  synth::SyntheticCase c;
  std::vector<v1::RecordedEvent> batch, applying;
  std::vector<std::future<absl::Status>> work;
  uint64_t events = 0;
  size_t cases = 0;
  const auto start = Clock::now();
  auto wait = [&] {
    for (auto& f : work) {
      if (absl::Status s = f.get(); !s.ok()) {
        std::cerr << "research_bench: grow: " << s << "\n";
        std::exit(1);
      }
    }
    work.clear();
  };
  auto submit = [&] {
    wait();
    applying.swap(batch);
    batch.clear();
    for (size_t half = 0; half < 2; ++half) {
      work.push_back(std::async(std::launch::async, [&, half]() -> absl::Status {
        for (size_t i = half; i < engines.size(); i += 2) {
          if (absl::Status s = engines[i]->ApplyBatch(applying); !s.ok()) return s;
        }
        return absl::OkStatus();
      }));
    }
  };
  while (generator.Next(&c)) {
    uint64_t version = 0;
    for (v1::Event& e : c.events) {
      v1::RecordedEvent& r = batch.emplace_back();
      r.set_case_id(c.case_id);
      r.set_stream_version(++version);
      r.set_global_position(next_position++);
      *r.mutable_recorded_at() = e.occurred_at();
      r.set_source("research-bench");
      *r.mutable_event() = std::move(e);
    }
    events += version;
    if (++cases % 10000 == 0) {
      std::fprintf(stderr, "\rgrowing: %zu / %zu cases applied directly (%.0f events/s)   ", have + cases, target_cases,
                   events / Seconds(start));
    }
    if (batch.size() >= batch_events) submit();
  }
  submit();
  wait();
  const double s = Seconds(start);
  std::fprintf(stderr, "\r%90s\r", "");
  std::printf(
      "grew the models by %zu cases, %llu events, with ApplyBatch in %.1f s (%.0f events/s into 4 models, "
      "generation included)\n",
      cases, (unsigned long long)events, s, events / s);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"research_bench: rebuild rates and query latencies of the research read models"};
  std::string dir;
  size_t cases = 250'000;
  uint64_t seed = 11;
  int rounds = 3, threads = 2, query_iterations = 200, query_warmup = 20;
  size_t grow_to = 1'000'000, max_batch = 5000;
  bool no_wal = false, skip_alone = false, skip_parallel = false, skip_shared = false, no_query_cells = false;
  double target_rebuild = 500'000, target_p99_ms = 10;
  std::string log_level = "warn";
  app.add_option("--data-dir", dir, "folder of the event store (filled when it holds fewer cases; kept)")->required();
  app.add_option("--cases", cases, "cases in the store (~40 events each)")->capture_default_str();
  app.add_option("--seed", seed, "seed of the synthetic cohort")->capture_default_str();
  app.add_option("--rounds", rounds, "timed rebuild rounds")->capture_default_str()->check(CLI::Range(1, 50));
  app.add_option("--threads", threads, "threads of the parallel rebuild and of the second shared one")
      ->capture_default_str()
      ->check(CLI::Range(1, 4));
  app.add_option("--max-batch", max_batch, "ProjectionOptions::max_batch (events per ApplyBatch)")
      ->capture_default_str();
  app.add_flag("--no-wal", no_wal, "engines without a write-ahead log (as replays 'as of' a position)");
  app.add_flag("--skip-alone", skip_alone, "skip the per-model rebuilds");
  app.add_flag("--skip-parallel", skip_parallel,
               "skip the parallel rebuild (queries then use the shared one's engines)");
  app.add_flag("--skip-shared", skip_shared, "skip the shared rebuild");
  app.add_option("--query-iterations", query_iterations, "timed runs per query shape")->capture_default_str();
  app.add_option("--query-warmup", query_warmup, "untimed runs per query shape first")->capture_default_str();
  app.add_option("--grow-to", grow_to, "cases the models hold for the second query measurement (0: none)")
      ->capture_default_str();
  app.add_flag("--no-query-cells", no_query_cells, "answer queries by scanning every row (as before the query cells)");
  app.add_option("--target-rebuild", target_rebuild, "rebuild target, events/s")->capture_default_str();
  app.add_option("--target-p99-ms", target_p99_ms, "query p99 target, ms")->capture_default_str();
  app.add_option("--log-level", log_level, "kring log level")->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  SetLogLevel(log_level);
  projections::SetQueryCells(!no_query_cells);

  fs::create_directories(dir);
  const std::string marker = dir + "/research_bench.cases";
  eventstore::EventStoreOptions store_options;
  store_options.path = dir + "/store";
  store_options.sync = false;  // a throwaway benchmark log; rebuilds and queries do not depend on it
  auto opened = eventstore::EventStore::Open(store_options);
  if (!opened.ok()) {
    std::cerr << "research_bench: " << opened.status() << "\n";
    return 1;
  }
  auto store = std::move(opened).value();
  Filled filled = ReadFilled(marker);
  if (store->Head().value() == 0) filled = {seed, 0};
  if (filled.seed != seed || (filled.cases == 0 && store->Head().value() > 0)) {
    std::cerr << "research_bench: " << dir << " holds a store of another seed or of unknown content; use another "
              << "--data-dir\n";
    return 2;
  }
  if (filled.cases < cases && Fill(*store, marker, seed, filled.cases, cases) != 0) return 1;
  if (filled.cases > cases) {
    std::fprintf(stderr, "research_bench: the store holds %zu cases (more than --cases %zu): using them all\n",
                 filled.cases, cases);
  }
  cases = std::max(cases, filled.cases);
  store->StopAppends();
  const uint64_t head = store->Head().value();
  std::printf("log: %zu cases, %llu events (%.1f per case) in %s; engines %s, max_batch %zu, %u hardware threads\n",
              cases, (unsigned long long)head, double(head) / cases, dir.c_str(), no_wal ? "without WAL" : "with WAL",
              max_batch, std::thread::hardware_concurrency());

  Bench bench;
  bench.store = store.get();
  bench.engines_dir = dir + "/engines";
  bench.wal = !no_wal;
  bench.max_batch = max_batch;
  std::error_code ec;
  fs::remove_all(bench.engines_dir, ec);
  fs::create_directories(bench.engines_dir);
  const auto& models = Models();

  std::vector<double> scan_rates, chunk_scan_rates, seq_rates, par_rates, shared_rates, shared_threads_rates;
  std::vector<double> chunk_scan_cpu_rates, shared_cpu_rates;  // events per process CPU second
  std::vector<std::vector<double>> alone_rates(models.size());
  std::vector<std::unique_ptr<projections::ProjectionEngine>> kept;  // of the last parallel rebuild
  auto rate = [](uint64_t n, double s) { return s > 0 ? n / s : 0.0; };
  for (int r = 1; r <= rounds; ++r) {
    std::printf("\nround %d (load average %s)\n", r, LoadAverage().c_str());
    {
      uint64_t n = 0;
      const auto start = Clock::now();
      absl::Status s =
          store->ScanAll(GlobalPosition(1), GlobalPosition(head), [&](const v1::RecordedEvent&, std::string_view) {
            ++n;
            return true;
          });
      const double secs = Seconds(start);
      if (!s.ok() || n != head) {
        std::cerr << "research_bench: scan: " << s << "\n";
        return 1;
      }
      scan_rates.push_back(rate(n, secs));
      std::printf("  %-34s %10.0f events/s  (%.1f s)\n", "scan only (ScanAll, parse)", scan_rates.back(), secs);
    }
    {
      uint64_t n = 0;
      const auto start = Clock::now();
      const double cpu_start = CpuSeconds();
      absl::Status s = store->ScanChunks(GlobalPosition(1), GlobalPosition(head), max_batch,
                                         [&](absl::Span<const v1::RecordedEvent* const> chunk) {
                                           n += chunk.size();
                                           return true;
                                         });
      const double secs = Seconds(start);
      if (!s.ok() || n != head) {
        std::cerr << "research_bench: chunk scan: " << s << "\n";
        return 1;
      }
      const double cpu = CpuSeconds() - cpu_start;
      chunk_scan_rates.push_back(rate(n, secs));
      chunk_scan_cpu_rates.push_back(rate(n, cpu));
      std::printf("  %-34s %10.0f events/s  (%.1f s; %.1f CPU s: %.0f events per CPU s)\n",
                  "scan only (ScanChunks, parse)", chunk_scan_rates.back(), secs, cpu, chunk_scan_cpu_rates.back());
    }
    if (!skip_alone) {
      double total = 0;
      for (size_t m = 0; m < models.size(); ++m) {
        auto engine = bench.Open(models[m]);
        const auto start = Clock::now();
        Bench::CatchUp(*engine, head);
        const double secs = Seconds(start);
        total += secs;
        alone_rates[m].push_back(rate(head, secs));
        std::printf("  %-34s %10.0f events/s  (%.1f s, %zu cases)\n", (std::string("alone: ") + models[m].name).c_str(),
                    alone_rates[m].back(), secs, CasesOf(*engine));
        std::fflush(stdout);
        Bench::Close(std::move(engine));
      }
      seq_rates.push_back(rate(head, total));
      std::printf("  %-34s %10.0f events/s  (%.1f s, the four one after the other)\n", "all four, sequential",
                  seq_rates.back(), total);
    }
    if (!skip_parallel) {
      for (auto& e : kept) Bench::Close(std::move(e));
      kept.clear();
      for (const Model& m : models) kept.push_back(bench.Open(m));
      const auto start = Clock::now();
      std::vector<std::thread> workers;
      for (int t = 0; t < threads; ++t) {
        workers.emplace_back([&, t] {
          for (size_t m = t; m < kept.size(); m += threads) Bench::CatchUp(*kept[m], head);
        });
      }
      for (auto& w : workers) w.join();
      const double secs = Seconds(start);
      par_rates.push_back(rate(head, secs));
      std::printf("  %-34s %10.0f events/s  (%.1f s, %d threads, one scan per model)\n", "all four, parallel",
                  par_rates.back(), secs, threads);
      std::fflush(stdout);
    }
    // One thread, then --threads (when more than one); under --skip-parallel
    // the engines of the last run serve the queries.
    std::vector<int> shared_runs;
    if (!skip_shared) shared_runs.push_back(1);
    if (!skip_shared && threads > 1) shared_runs.push_back(threads);
    for (int t : shared_runs) {
      std::vector<std::unique_ptr<projections::ProjectionEngine>> engines;
      std::vector<projections::ProjectionEngine*> pointers;
      for (const Model& m : models) {
        engines.push_back(bench.Open(m));
        pointers.push_back(engines.back().get());
      }
      const auto start = Clock::now();
      const double cpu_start = CpuSeconds();
      absl::Status s = projections::CatchUpFromStore(pointers, *store, GlobalPosition(head), nullptr, t);
      const double secs = Seconds(start);
      const double cpu = CpuSeconds() - cpu_start;
      for (const auto& e : engines) {
        if (s.ok() && e->watermark().events_applied != head) s = absl::InternalError(e->name() + " incomplete");
      }
      if (!s.ok()) {
        std::cerr << "research_bench: shared rebuild: " << s << "\n";
        return 1;
      }
      auto& rates = t == 1 ? shared_rates : shared_threads_rates;
      rates.push_back(rate(head, secs));
      if (t == 1) shared_cpu_rates.push_back(rate(head, cpu));
      std::printf(
          "  %-34s %10.0f events/s  (%.1f s; %.1f CPU s: %.0f events per CPU s; CatchUpFromStore(engines): one "
          "scan, no copy, %d thread%s)\n",
          t == 1 ? "all four, shared" : "all four, shared, threads", rates.back(), secs, cpu, rate(head, cpu), t,
          t == 1 ? "" : "s");
      std::fflush(stdout);
      if (skip_parallel) {
        for (auto& e : kept) Bench::Close(std::move(e));
        kept = std::move(engines);
      }
      for (auto& e : engines) Bench::Close(std::move(e));
    }
  }
  if (kept.empty()) {
    std::cerr << "research_bench: --skip-parallel needs the shared rebuild\n";
    return 2;
  }

  auto verdict = [&](double v) { return v >= target_rebuild ? "MET" : "NOT MET"; };
  std::printf("\nmedian over %d rounds (log events / wall seconds; target %.0f events/s; load average now %s)\n",
              rounds, target_rebuild, LoadAverage().c_str());
  std::printf("  %-34s %10.0f events/s\n", "scan only (ScanAll)", Median(scan_rates));
  std::printf("  %-34s %10.0f events/s\n", "scan only (ScanChunks)", Median(chunk_scan_rates));
  if (!skip_alone) {
    for (size_t m = 0; m < models.size(); ++m) {
      std::printf("  %-34s %10.0f events/s  %s\n", (std::string("alone: ") + models[m].name).c_str(),
                  Median(alone_rates[m]), verdict(Median(alone_rates[m])));
    }
    std::printf("  %-34s %10.0f events/s  %s\n", "all four, sequential", Median(seq_rates), verdict(Median(seq_rates)));
  }
  if (!skip_parallel) {
    std::printf("  %-34s %10.0f events/s  %s\n", "all four, parallel", Median(par_rates), verdict(Median(par_rates)));
  }
  if (!skip_shared) {
    std::printf("  %-34s %10.0f events/s  %s  (%.2f x scan only (ScanChunks))\n", "all four, shared",
                Median(shared_rates), verdict(Median(shared_rates)),
                Median(chunk_scan_rates) > 0 ? Median(shared_rates) / Median(chunk_scan_rates) : 0.0);
    std::printf("  %-34s %10.0f events/CPU s  (scan only (ScanChunks): %.0f events/CPU s, ratio %.2f)\n",
                "all four, shared, per CPU second", Median(shared_cpu_rates), Median(chunk_scan_cpu_rates),
                Median(chunk_scan_cpu_rates) > 0 ? Median(shared_cpu_rates) / Median(chunk_scan_cpu_rates) : 0.0);
    if (threads > 1) {
      std::printf("  %-34s %10.0f events/s  %s  (%.2f x scan only (ScanChunks), %d threads)\n",
                  "all four, shared, threads", Median(shared_threads_rates), verdict(Median(shared_threads_rates)),
                  Median(chunk_scan_rates) > 0 ? Median(shared_threads_rates) / Median(chunk_scan_rates) : 0.0,
                  threads);
    }
  }
  std::fflush(stdout);

  bool ok = RunQueries(kept, query_warmup, query_iterations, target_p99_ms, "the rebuilt models (the store's cases)");
  if (grow_to > 0) {
    std::printf("\n");
    Grow(kept, seed, cases + 1, grow_to, head + 1, 20000);
    ok = RunQueries(kept, query_warmup, query_iterations, target_p99_ms, "the grown models") && ok;
  }
  for (auto& e : kept) Bench::Close(std::move(e));
  fs::remove_all(bench.engines_dir, ec);
  return ok ? 0 : 1;
}
