// kringctl: the command-line client for operators, partners' developers and
// researchers.
//   kringctl cohort        stream a SYNTHETIC cohort to kringd over gRPC
//   kringctl research network-size|outcomes|cost-benefit|support|funnel: for researchers
//                          (cli/research_commands.h); kringctl network-size is research network-size
//   kringctl append        append the events of an NDJSON file (one CaseEvent per line)
//   kringctl case-head     the head of a case the partner may append to (cli/case_head_command.h)
//   kringctl [ops] rebuild, backup, restore, erase, rotate-master-key: for operators (cli/ops_commands.h)
//   kringctl [audit] case show, tail, verify, export, access-log: for auditors (cli/audit_commands.h)
//   kringctl token new     a bearer token and its line for the server's identities file (cli/token.h)
// Global flags say how to reach and authenticate to the server: --server,
// --tls-ca/--tls-cert/--tls-key/--tls-server-name, --token/--token-file,
// --purpose (each also from the environment: KRING_SERVER, KRING_TLS_CA, …).
// Exit codes: 0 success; 1 the server refused or failed; 2 bad usage;
// 3 server unreachable or timed out; 4 (verify, restore, access-log) a hash chain does not verify.
#include <grpcpp/grpcpp.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "cli/append_file.h"
#include "cli/audit_commands.h"
#include "cli/case_head_command.h"
#include "cli/cohort_client.h"
#include "cli/console.h"
#include "cli/ops_commands.h"
#include "cli/research_commands.h"
#include "cli/status_command.h"
#include "cli/token.h"
#include "common/version.h"

namespace {

using namespace kring;  // NOLINT

using client::Connect;
using client::ConnectFailed;
using client::ConnectOptions;
using client::kExitRefused;
using client::kExitUnreachable;
using client::kExitUsage;

// A stream the server ended because of who is calling (no credentials, the
// wrong role): "UNAUTHENTICATED: …", exit 1, since running it again will not help.
std::optional<int> RefusedCaller(const char* command, const absl::Status& status) {
  if (status.code() != absl::StatusCode::kUnauthenticated && status.code() != absl::StatusCode::kPermissionDenied) {
    return std::nullopt;
  }
  std::cerr << "kringctl " << command << ": " << absl::StatusCodeToString(status.code()) << ": " << status.message()
            << "\n";
  return kExitRefused;
}

// ---------------------------------------------------------------------------
// cohort
// ---------------------------------------------------------------------------

struct CohortArgs {
  ConnectOptions connect;
  client::CohortStreamOptions stream;
  std::string as_of = absl::FormatTime("%Y-%m-%d", client::DefaultCohortCutoff(), absl::UTCTimeZone());
};

int RunCohort(const CohortArgs& args) {
  client::CohortStreamOptions options = args.stream;
  std::string err;
  if (!absl::ParseTime("%Y-%m-%d", args.as_of, &options.cohort.as_of, &err)) {
    std::cerr << "kringctl cohort: --as-of: must be a date YYYY-MM-DD (" << err << ")\n";
    return kExitUsage;
  }
  auto channel = Connect(args.connect);
  if (!channel.ok()) return ConnectFailed("cohort", channel.status());
  if (!(*channel)->WaitForConnected(std::chrono::system_clock::now() + std::chrono::seconds(10))) {
    std::cerr << "kringctl cohort: cannot reach " << args.connect.server << "\n";
    return kExitUnreachable;
  }
  std::cout << "Streaming a SYNTHETIC cohort (seed " << options.cohort.seed << ", " << options.cohort.cases
            << " cases, " << options.streams << " streams) to " << args.connect.server << " ...\n";
  const auto totals = client::StreamCohort(*channel, options);
  if (auto code = RefusedCaller("cohort", totals.status)) return *code;
  if (!totals.status.ok()) {
    std::cerr << "kringctl cohort: " << totals.status.message() << "\n";
    return kExitUnreachable;
  }
  std::printf("cases %llu | events appended %llu | already recorded %llu | refused %llu | %.1f s | %.0f events/s\n",
              static_cast<unsigned long long>(totals.cases), static_cast<unsigned long long>(totals.appended),
              static_cast<unsigned long long>(totals.already_recorded), static_cast<unsigned long long>(totals.refused),
              totals.seconds, (totals.appended + totals.already_recorded) / totals.seconds);
  for (const auto& e : totals.errors) std::cerr << "refused: " << e << "\n";
  return totals.refused ? kExitRefused : 0;
}

// ---------------------------------------------------------------------------
// append
// ---------------------------------------------------------------------------

struct AppendArgs {
  ConnectOptions connect;
  std::string file;
  client::AppendFileOptions options;
  bool json = false;
  int connect_timeout_s = 10;
  bool progress = false;     // --progress: draw the bar even if stderr is not a terminal or the file is small
  bool no_progress = false;  // --no-progress: never draw it
};

// The append's progress: bytes of the file read, lines, events acknowledged.
void DrawAppendProgress(client::ProgressLine& line, const client::AppendFileProgress& p) {
  const double fraction = p.total_bytes ? double(p.bytes_read) / p.total_bytes : 1.0;
  const double bytes_rate = p.seconds > 0 ? p.bytes_read / p.seconds : 0;
  char counts[96];
  std::snprintf(counts, sizeof(counts), "%.1f/%.1f MiB | %llu lines", p.bytes_read / 1048576.0,
                p.total_bytes / 1048576.0, static_cast<unsigned long long>(p.lines_read));
  line.Draw(fraction, counts, p.seconds > 0 ? p.events_acknowledged / p.seconds : 0,
            bytes_rate > 0 ? (p.total_bytes - p.bytes_read) / bytes_rate : -1);
}

void PrintAppendSummary(const client::AppendFileResult& r, bool json) {
  if (json) {
    nlohmann::json j = {{"lines_read", r.lines_read},
                        {"events_appended", r.appended},
                        {"already_present", r.already_present},
                        {"refused", r.refused},
                        {"held_back", r.held_back},
                        {"skipped", r.skipped},
                        {"unacknowledged", r.unacknowledged},
                        {"batches", r.batches},
                        {"seconds", r.seconds}};
    std::cout << j.dump() << "\n";
    return;
  }
  auto row = [](const char* name, uint64_t n) {
    std::printf("%-18s %12llu\n", name, static_cast<unsigned long long>(n));
  };
  row("lines read", r.lines_read);
  row("events appended", r.appended);
  row("already present", r.already_present);
  row("refused", r.refused);
  if (r.held_back) row("  of which held back", r.held_back);
  row("skipped", r.skipped);
  if (r.unacknowledged) row("unacknowledged", r.unacknowledged);
  std::printf("%-18s %12.1f\n", "seconds", r.seconds);
}

int RunAppend(const AppendArgs& args) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(args.file, ec)) {
    std::cerr << "kringctl append: --file: " << args.file << " is not a readable file\n";
    return kExitUsage;
  }
  client::AppendFileOptions options = args.options;
  options.connect_timeout = absl::Seconds(args.connect_timeout_s);
  const uint64_t size = std::filesystem::file_size(args.file, ec);
  const bool progress =
      !args.no_progress && (args.progress || (isatty(STDERR_FILENO) && !ec && size > (uint64_t{1} << 20)));
  client::ProgressLine bar;
  if (progress) options.on_progress = [&bar](const client::AppendFileProgress& p) { DrawAppendProgress(bar, p); };
  options.on_error = [&bar, &args](const client::LineError& e) {
    bar.Clear();
    std::fprintf(stderr, "%s\n", client::FormatLineError(args.file, e).c_str());
  };
  auto channel = Connect(args.connect);
  if (!channel.ok()) return ConnectFailed("append", channel.status());
  const auto result = client::AppendFile(*channel, args.file, options);
  bar.Clear();
  if (auto code = RefusedCaller("append", result.status)) return *code;
  if (result.status.code() == absl::StatusCode::kNotFound) {
    std::cerr << "kringctl append: " << result.status.message() << "\n";
    return kExitUsage;
  }
  if (!result.status.ok() && result.lines_read == 0) {
    std::cerr << "kringctl append: cannot reach " << args.connect.server << ": " << result.status.message() << "\n";
    return kExitUnreachable;
  }
  PrintAppendSummary(result, args.json);
  if (!result.status.ok()) {
    std::cerr << "kringctl append: " << result.status.message() << "; " << result.unacknowledged
              << " events were sent without an answer (run the file again: stored batches come back already "
                 "present)\n";
    return kExitUnreachable;
  }
  return result.refused ? kExitRefused : 0;
}

// ---------------------------------------------------------------------------
// token new
// ---------------------------------------------------------------------------

struct TokenArgs {
  std::string role;
  std::string name;
  std::string append_to;
};

// The token alone on stdout (for a pipe or a file), the identities line on
// stderr, and with --append-to that line appended to the identities file.
int RunTokenNew(const TokenArgs& args) {
  for (const absl::Status& s : {client::ValidateRole(args.role), client::ValidateIdentityName(args.name)}) {
    if (!s.ok()) {
      std::cerr << "kringctl token new: " << s.message() << "\n";
      return kExitUsage;
    }
  }
  auto token = client::NewToken();
  if (!token.ok()) {
    std::cerr << "kringctl token new: " << token.status().message() << "\n";
    return kExitRefused;
  }
  const std::string line = client::IdentityLine(args.role, args.name, *token);
  if (!args.append_to.empty()) {
    if (absl::Status s = client::AppendIdentityLine(args.append_to, line); !s.ok()) {
      std::cerr << "kringctl token new: " << s.message() << "\n";
      return kExitRefused;
    }
  }
  std::cout << *token << std::endl;
  std::cerr << line << "\n";
  if (!args.append_to.empty()) std::cerr << "(appended to " << args.append_to << ")\n";
  return 0;
}

// The global connection flags, once parsed: --token-file read, then checked.
int ResolveConnectOptions(const std::string& token_file, ConnectOptions* connect) {
  if (!token_file.empty()) {
    if (!connect->token.empty()) {
      std::cerr << "kringctl: --token-file: give either --token (KRING_TOKEN) or --token-file (KRING_TOKEN_FILE)\n";
      return kExitUsage;
    }
    auto token = client::ReadTokenFile(token_file);
    if (!token.ok()) {
      std::cerr << "kringctl: " << token.status().message() << "\n";
      return kExitUsage;
    }
    connect->token = *std::move(token);
  }
  if (absl::Status s = client::ValidateConnectOptions(*connect); !s.ok()) {
    std::cerr << "kringctl: " << s.message() << "\n";
    return kExitUsage;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"kringctl: command-line client of a Kring server"};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string("kringctl ") + kring::Version());
  ConnectOptions connect;
  std::string token_file;
  app.add_option("--server", connect.server, "kringd gRPC address")->envname("KRING_SERVER")->capture_default_str();
  app.add_option("--tls-ca", connect.tls_ca_file, "PEM file of the CA of the server's certificate; enables TLS")
      ->envname("KRING_TLS_CA");
  app.add_option("--tls-cert", connect.tls_cert_file,
                 "PEM file of the client certificate (mTLS; its CN is who you are)")
      ->envname("KRING_TLS_CERT");
  app.add_option("--tls-key", connect.tls_key_file, "PEM file of the client certificate's private key")
      ->envname("KRING_TLS_KEY");
  app.add_option("--tls-server-name", connect.tls_server_name,
                 "the name to check in the server's certificate (default: the host of --server)");
  app.add_option("--token", connect.token, "bearer token (kringctl token new); prefer --token-file or KRING_TOKEN")
      ->envname("KRING_TOKEN");
  app.add_option("--token-file", token_file, "file holding the bearer token (keeps it out of the process list)")
      ->envname("KRING_TOKEN_FILE");
  app.add_option("--purpose", connect.purpose,
                 "why case-level data is read (sent as kring-purpose; the audit reads need it), e.g. \"complaint 17\"")
      ->envname("KRING_PURPOSE");

  CohortArgs cohort;
  auto* cohort_cmd = app.add_subcommand("cohort", "stream a SYNTHETIC cohort to the server (one batch per case)");
  cohort_cmd->add_option("--cases", cohort.stream.cohort.cases, "number of cases")->capture_default_str();
  cohort_cmd->add_option("--seed", cohort.stream.cohort.seed, "cohort seed")->capture_default_str();
  cohort_cmd->add_option("--streams", cohort.stream.streams, "concurrent AppendStream streams")
      ->capture_default_str()
      ->check(CLI::Range(1, 64));
  cohort_cmd->add_option("--as-of", cohort.as_of, "cut-off date of the cohort (fixed, so it is reproducible)")
      ->capture_default_str();

  AppendArgs append;
  auto* append_cmd = app.add_subcommand("append", "append the events of an NDJSON file (one CaseEvent per line)");
  append_cmd->add_option("--file", append.file, "the NDJSON file: {\"case_id\": …, \"event\": {…}} per line")
      ->required();
  append_cmd->add_option("--window", append.options.window, "unacknowledged batches on the stream")
      ->capture_default_str()
      ->check(CLI::Range(1, 64));
  append_cmd->add_option("--connect-timeout", append.connect_timeout_s, "seconds to wait for the server")
      ->capture_default_str()
      ->check(CLI::Range(1, 3600));
  append_cmd->add_flag("--json", append.json, "print the summary as one JSON object");
  auto* progress_flag = append_cmd->add_flag("--progress", append.progress, "always draw the progress bar on stderr");
  append_cmd->add_flag("--no-progress", append.no_progress, "never draw the progress bar")->excludes(progress_flag);

  std::string head_case;
  bool head_json = false;
  auto* case_head_cmd = app.add_subcommand(
      "case-head", "the head of a case you may append to: version, last event, closed (partner role; needs --purpose)");
  case_head_cmd->add_option("--case", head_case, "the case id")->required();
  case_head_cmd->add_flag("--json", head_json, "print the head as one JSON object");

  TokenArgs token;
  auto* token_cmd = app.add_subcommand("token", "bearer tokens for the server's identities file");
  token_cmd->require_subcommand(1);
  auto* token_new_cmd = token_cmd->add_subcommand(
      "new", "print a new token on stdout and its identities-file line (role name sha256:…) on stderr");
  token_new_cmd->add_option("--role", token.role, "partner, researcher, auditor, operator or replica")->required();
  token_new_cmd->add_option("--name", token.name, "the identity's name: 1-64 of A-Z a-z 0-9 . _ -")->required();
  token_new_cmd->add_option("--append-to", token.append_to,
                            "append the line to this identities file (created with mode 0600 if missing)");

  bool status_json = false;
  auto* status_cmd = app.add_subcommand("status", "what the server is doing: head, store, Kafka, read models, health");
  status_cmd->add_flag("--json", status_json, "print the status as one JSON object");

  const client::OpsCommands ops(app, &connect);     // [ops] rebuild, backup, restore, erase, rotate-master-key
  client::AuditCommands audit(app, connect);        // [audit] case show, tail, verify, export, access-log
  client::ResearchCommands research(app, connect);  // research …, network-size

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : kExitUsage;
  }
  if (token_new_cmd->parsed()) return RunTokenNew(token);
  if (int code = ResolveConnectOptions(token_file, &connect); code != 0) return code;
  if (std::optional<int> exit_code = ops.Run()) return *exit_code;
  if (status_cmd->parsed()) return client::RunStatus(connect, status_json);
  if (cohort_cmd->parsed()) {
    cohort.connect = connect;
    return RunCohort(cohort);
  }
  if (append_cmd->parsed()) {
    append.connect = connect;
    return RunAppend(append);
  }
  if (case_head_cmd->parsed()) return client::RunCaseHead(connect, head_case, head_json);
  if (audit.parsed()) return audit.Run();
  if (research.parsed()) return research.Run();
  return kExitUsage;
}
