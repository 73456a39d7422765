// kringctl: the command-line client for operators, partners' developers and
// researchers.
//   kringctl cohort        stream a SYNTHETIC cohort to kringd over gRPC
//   kringctl network-size  print the network-size read model (table or JSON)
// Exit codes: 0 success; 1 the server refused or failed; 2 bad usage;
// 3 server unreachable or timed out.
#include <grpcpp/grpcpp.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <iostream>
#include <mutex>
#include <thread>

#include <CLI/CLI.hpp>
#include <google/protobuf/util/json_util.h>

#include "absl/time/time.h"
#include "kring/v1/ingest.grpc.pb.h"
#include "kring/v1/research.grpc.pb.h"
#include "synth/cohort.h"

namespace {

using namespace kring;  // NOLINT

constexpr int kExitRefused = 1;
constexpr int kExitUsage = 2;
constexpr int kExitUnreachable = 3;

std::shared_ptr<grpc::Channel> Connect(const std::string& server) {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(64 << 20);
  return grpc::CreateCustomChannel(server, grpc::InsecureChannelCredentials(), args);
}

int ExitFor(const grpc::Status& s) {
  return s.error_code() == grpc::StatusCode::UNAVAILABLE || s.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED
             ? kExitUnreachable
             : kExitRefused;
}

// ---------------------------------------------------------------------------
// cohort
// ---------------------------------------------------------------------------

struct CohortArgs {
  std::string server;
  size_t cases = 1000;
  uint64_t seed = 1;
  int streams = 4;
  std::string as_of = "2026-06-30";
  int window = 32;
};

struct CohortTotals {
  std::atomic<uint64_t> cases{0}, appended{0}, already{0}, refused{0};
  std::mutex mu;
  std::vector<std::string> errors;
};

// One AppendStream carrying cases [first, first + count): one batch per case,
// at most `window` batches waiting for their acknowledgement.
grpc::Status StreamCases(v1::IngestService::Stub& stub, const CohortArgs& args, absl::Time as_of, size_t first,
                         size_t count, CohortTotals& totals) {
  synth::CohortOptions options;
  options.seed = args.seed;
  options.first_case = first;
  options.cases = count;
  options.as_of = as_of;
  synth::CohortGenerator generator(options);

  grpc::ClientContext context;
  auto stream = stub.AppendStream(&context);
  std::mutex mu;
  std::condition_variable cv;
  int outstanding = 0;
  std::vector<uint64_t> batch_events;  // by request id
  std::vector<std::string> batch_cases;

  std::thread reader([&] {
    v1::AppendAck ack;
    while (stream->Read(&ack)) {
      uint64_t events;
      std::string case_id;
      {
        std::lock_guard<std::mutex> lock(mu);
        events = batch_events[ack.request_id()];
        case_id = batch_cases[ack.request_id()];
        --outstanding;
      }
      cv.notify_one();
      totals.cases++;
      if (ack.code() != 0) {
        totals.refused += events;
        std::lock_guard<std::mutex> lock(totals.mu);
        if (totals.errors.size() < 10) totals.errors.push_back(case_id + ": " + ack.message());
      } else if (ack.result().already_recorded()) {
        totals.already += events;
      } else {
        totals.appended += events;
      }
    }
  });

  synth::SyntheticCase c;
  v1::AppendRequest request;
  bool writing = true;
  while (writing && generator.Next(&c)) {
    request.Clear();
    request.set_case_id(c.case_id);
    request.mutable_expected_version()->set_no_stream(true);
    for (auto& e : c.events) *request.add_events() = std::move(e);
    {
      std::unique_lock<std::mutex> lock(mu);
      cv.wait(lock, [&] { return outstanding < args.window; });
      request.set_request_id(batch_events.size());
      batch_events.push_back(request.events_size());
      batch_cases.push_back(c.case_id);
      ++outstanding;
    }
    writing = stream->Write(request);
  }
  stream->WritesDone();
  reader.join();
  return stream->Finish();
}

int RunCohort(const CohortArgs& args) {
  absl::Time as_of;
  std::string err;
  if (!absl::ParseTime("%Y-%m-%d", args.as_of, &as_of, &err)) {
    std::cerr << "kringctl cohort: --as-of: must be a date YYYY-MM-DD (" << err << ")\n";
    return kExitUsage;
  }
  auto channel = Connect(args.server);
  if (!channel->WaitForConnected(std::chrono::system_clock::now() + std::chrono::seconds(10))) {
    std::cerr << "kringctl cohort: cannot reach " << args.server << "\n";
    return kExitUnreachable;
  }
  auto stub = v1::IngestService::NewStub(channel);
  std::cout << "Streaming a SYNTHETIC cohort (seed " << args.seed << ", " << args.cases << " cases, " << args.streams
            << " streams) to " << args.server << " ...\n";
  CohortTotals totals;
  std::vector<std::thread> threads;
  std::vector<grpc::Status> results(args.streams);
  const auto started = std::chrono::steady_clock::now();
  for (int s = 0; s < args.streams; ++s) {
    const size_t first = 1 + args.cases * s / args.streams;
    const size_t last = args.cases * (s + 1) / args.streams;  // inclusive
    threads.emplace_back([&, s, first, last] {
      results[s] = StreamCases(*stub, args, as_of, first, last + 1 - first, totals);
    });
  }
  for (auto& t : threads) t.join();
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  for (const auto& r : results) {
    if (!r.ok()) {
      std::cerr << "kringctl cohort: stream failed: " << r.error_message() << "\n";
      return ExitFor(r);
    }
  }
  std::printf("cases %llu | events appended %llu | already recorded %llu | refused %llu | %.1f s | %.0f events/s\n",
              static_cast<unsigned long long>(totals.cases.load()),
              static_cast<unsigned long long>(totals.appended.load()),
              static_cast<unsigned long long>(totals.already.load()),
              static_cast<unsigned long long>(totals.refused.load()), seconds,
              (totals.appended + totals.already) / seconds);
  for (const auto& e : totals.errors) std::cerr << "refused: " << e << "\n";
  return totals.refused ? kExitRefused : 0;
}

// ---------------------------------------------------------------------------
// network-size
// ---------------------------------------------------------------------------

struct NetworkSizeArgs {
  std::string server;
  std::vector<std::string> domains;
  std::vector<std::string> municipalities;
  std::string from, to, group_by;
  bool json = false;
  uint64_t wait_events = 0;
  int timeout_s = 60;
};

void PrintStatsRow(const std::string& key, const v1::NetworkSizeStats& s) {
  std::printf("%-24s %11llu %7.2f %7.1f %6.1f %6.1f %6.1f %6.1f %5u %5u\n", key.c_str(),
              static_cast<unsigned long long>(s.conferences()), s.mean(), s.median(), s.p10(), s.p25(), s.p75(),
              s.p90(), s.min(), s.max());
}

void PrintNetworkSize(const v1::NetworkSizeResponse& r) {
  std::printf("Network size per conference (read model 'network-size', %llu events applied, up to position %llu)\n\n",
              static_cast<unsigned long long>(r.watermark().events_applied()),
              static_cast<unsigned long long>(r.watermark().max_global_position()));
  std::printf("%-24s %11s %7s %7s %6s %6s %6s %6s %5s %5s\n", "group", "conferences", "mean", "median", "p10", "p25",
              "p75", "p90", "min", "max");
  PrintStatsRow("all", r.overall());
  for (const auto& g : r.groups()) PrintStatsRow(g.key(), g.stats());

  const auto& s = r.overall();
  std::printf("\nComposition (all conferences; central persons per conference: %.2f)\n", s.central_persons_mean());
  std::printf("%-24s %10s %10s %8s\n", "relation", "attendees", "per conf.", "share");
  for (const auto& c : s.composition()) {
    std::string name = v1::Relation_Name(c.relation());
    name = c.relation() == v1::RELATION_UNSPECIFIED ? "unknown (not invited)" : name.substr(sizeof("RELATION_") - 1);
    std::printf("%-24s %10llu %10.2f %7.1f%%\n", name.c_str(), static_cast<unsigned long long>(c.attendees()),
                c.mean_per_conference(), 100 * c.share());
  }
  uint64_t peak = 1;
  for (const auto& b : s.histogram()) peak = std::max<uint64_t>(peak, b.conferences());
  std::printf("\nHistogram (network size: conferences)\n");
  for (const auto& b : s.histogram()) {
    std::printf("%3u%s %7llu %s\n", b.size(), b.size() >= 30 ? "+" : " ",
                static_cast<unsigned long long>(b.conferences()),
                std::string(static_cast<size_t>(50.0 * b.conferences() / peak), '#').c_str());
  }
  std::printf("\nDefinition: %s\n", r.definition().c_str());
}

int RunNetworkSize(const NetworkSizeArgs& args) {
  v1::NetworkSizeRequest request;
  for (const auto& d : args.domains) {
    v1::Domain domain;
    if (!v1::Domain_Parse("DOMAIN_" + d, &domain) && !v1::Domain_Parse(d, &domain)) {
      std::cerr << "kringctl network-size: --domain: unknown domain \"" << d << "\" (e.g. YOUTH_PROTECTION, HOUSING)\n";
      return kExitUsage;
    }
    request.add_domains(domain);
  }
  for (const auto& m : args.municipalities) request.add_municipality_codes(m);
  request.mutable_conference_period()->set_from(args.from);
  request.mutable_conference_period()->set_to(args.to);
  if (!args.group_by.empty()) {
    v1::Grouping g;
    if (!v1::Grouping_Parse("GROUPING_" + args.group_by, &g)) {
      std::cerr << "kringctl network-size: --group-by: one of YEAR, QUARTER, DOMAIN, MUNICIPALITY\n";
      return kExitUsage;
    }
    request.set_group_by(g);
  }
  auto stub = v1::ResearchService::NewStub(Connect(args.server));
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(args.timeout_s);
  v1::NetworkSizeResponse response;
  while (true) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    response.Clear();
    grpc::Status s = stub->GetNetworkSize(&context, request, &response);
    if (!s.ok()) {
      std::cerr << "kringctl network-size: " << s.error_message() << "\n";
      return ExitFor(s);
    }
    if (response.watermark().events_applied() >= args.wait_events) break;
    if (std::chrono::steady_clock::now() > deadline) {
      std::cerr << "kringctl network-size: read model reflects " << response.watermark().events_applied()
                << " events, not " << args.wait_events << ", after " << args.timeout_s << " s\n";
      return kExitUnreachable;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  if (args.json) {
    std::string out;
    google::protobuf::util::JsonPrintOptions options;
    options.add_whitespace = true;
    (void)google::protobuf::util::MessageToJsonString(response, &out, options);
    std::cout << out;
  } else {
    PrintNetworkSize(response);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"kringctl: command-line client of a Kring server"};
  app.require_subcommand(1);
  std::string server = "127.0.0.1:50051";
  app.add_option("--server", server, "kringd gRPC address")->envname("KRING_SERVER")->capture_default_str();

  CohortArgs cohort;
  auto* cohort_cmd = app.add_subcommand("cohort", "stream a SYNTHETIC cohort to the server (one batch per case)");
  cohort_cmd->add_option("--cases", cohort.cases, "number of cases")->capture_default_str();
  cohort_cmd->add_option("--seed", cohort.seed, "cohort seed")->capture_default_str();
  cohort_cmd->add_option("--streams", cohort.streams, "concurrent AppendStream streams")
      ->capture_default_str()
      ->check(CLI::Range(1, 64));
  cohort_cmd->add_option("--as-of", cohort.as_of, "cut-off date of the cohort (fixed, so it is reproducible)")
      ->capture_default_str();

  NetworkSizeArgs ns;
  auto* ns_cmd = app.add_subcommand("network-size", "print the network-size read model");
  ns_cmd->add_option("--domain", ns.domains, "filter: domain, e.g. YOUTH_PROTECTION (repeatable)");
  ns_cmd->add_option("--municipality", ns.municipalities, "filter: CBS code, e.g. GM0363 (repeatable)");
  ns_cmd->add_option("--from", ns.from, "filter: conferences on or after YYYY-MM-DD");
  ns_cmd->add_option("--to", ns.to, "filter: conferences on or before YYYY-MM-DD");
  ns_cmd->add_option("--group-by", ns.group_by, "YEAR, QUARTER, DOMAIN or MUNICIPALITY");
  ns_cmd->add_flag("--json", ns.json, "print the answer as JSON");
  ns_cmd->add_option("--wait-events", ns.wait_events, "wait until the read model reflects this many events");
  ns_cmd->add_option("--timeout", ns.timeout_s, "seconds to wait with --wait-events")->capture_default_str();

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : kExitUsage;
  }
  if (cohort_cmd->parsed()) {
    cohort.server = server;
    return RunCohort(cohort);
  }
  ns.server = server;
  return RunNetworkSize(ns);
}
