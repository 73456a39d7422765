#include "cli/ops_commands.h"

#include <grpcpp/grpcpp.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>
#include <vector>

#include "absl/strings/str_cat.h"
#include "cli/console.h"
#include "eventstore/chain.h"
#include "eventstore/event_store.h"
#include "kring/v1/audit.grpc.pb.h"
#include "security/access_log.h"

namespace kring::client {
namespace {

namespace fs = std::filesystem;

std::string Bytes(uint64_t bytes) {
  char buf[48];
  if (bytes >= (uint64_t{1} << 30)) {
    std::snprintf(buf, sizeof(buf), "%.2f GiB", bytes / 1073741824.0);
  } else {
    std::snprintf(buf, sizeof(buf), "%.1f MiB", bytes / 1048576.0);
  }
  return buf;
}

nlohmann::json ProgressJson(const v1::RebuildProgress& p) {
  return {{"events_done", p.events_done()},
          {"events_total", p.events_total()},
          {"events_per_second", p.events_per_second()},
          {"eta_seconds", p.eta_seconds()},
          {"done", p.done()}};
}

// The rebuild's progress line.
void DrawRebuildBar(ProgressLine& line, const v1::RebuildProgress& p) {
  line.Draw(p.done()           ? 1.0
            : p.events_total() ? double(p.events_done()) / p.events_total()
                               : 0.0,
            absl::StrCat(p.events_done(), "/", p.events_total(), " events"), p.events_per_second(),
            p.eta_seconds() > 0 ? p.eta_seconds() : -1);
}

}  // namespace

struct OpsCommands::Args {
  const ConnectOptions* connect = nullptr;

  // Each command twice: `kringctl X` and `kringctl ops X`.
  std::vector<CLI::App*> rebuild_cmds, backup_cmds, restore_cmds, erase_cmds, rotate_cmds;

  std::string read_model;
  bool rebuild_json = false;
  bool progress = false;
  bool no_progress = false;

  std::string backup_to;
  bool backup_json = false;

  std::string restore_from;
  std::string restore_data_dir;
  std::string expect_head_hash;
  bool restore_json = false;

  std::string erase_case;
  bool erase_json = false;

  std::string new_key_file;
  bool rotate_json = false;

  int connect_timeout_s = 10;

  void Register(CLI::App* parent);
  // A stub of OperationsService, once the server answers; otherwise nullptr,
  // the message printed and *exit_code set.
  std::unique_ptr<v1::OperationsService::Stub> Dial(const char* command, int* exit_code) const;
  int RunRebuild() const;
  int RunBackup() const;
  int RunRestore() const;
  int RunErase() const;
  int RunRotateMasterKey() const;
};

namespace {

bool AnyParsed(const std::vector<CLI::App*>& commands) {
  return std::any_of(commands.begin(), commands.end(), [](const CLI::App* c) { return c->parsed(); });
}

}  // namespace

OpsCommands::OpsCommands(CLI::App& app, const ConnectOptions* connect) : args_(std::make_unique<Args>()) {
  args_->connect = connect;
  args_->Register(&app);
  CLI::App* ops = app.add_subcommand("ops", "the operators' commands (each also without `ops`)");
  ops->require_subcommand(1);
  args_->Register(ops);
}

void OpsCommands::Args::Register(CLI::App* parent) {
  Args& a = *this;
  CLI::App* rebuild_cmd = parent->add_subcommand(
      "rebuild", "rebuild a read model online from the event store; queries keep answering meanwhile");
  rebuild_cmd->add_option("READ_MODEL", a.read_model, "the read model, e.g. network-size")->required();
  rebuild_cmd->add_flag("--json", a.rebuild_json, "print every progress message as one JSON line on stdout");
  auto* progress = rebuild_cmd->add_flag("--progress", a.progress, "always draw the progress bar on stderr");
  rebuild_cmd->add_flag("--no-progress", a.no_progress, "never draw the progress bar")->excludes(progress);

  CLI::App* backup_cmd = parent->add_subcommand("backup", "checkpoint the event store while the server runs");
  backup_cmd
      ->add_option("--to", a.backup_to, "absolute path of a folder on the server's machine that does not exist yet")
      ->required();
  backup_cmd->add_flag("--json", a.backup_json, "print the result as one JSON object");

  CLI::App* restore_cmd = parent->add_subcommand(
      "restore", "restore a backup into a new data folder (locally, no server involved) and verify its hash chain");
  restore_cmd->add_option("--from", a.restore_from, "the backup folder (made by kringctl backup)")->required();
  restore_cmd
      ->add_option("--data-dir", a.restore_data_dir,
                   "the new data folder for kringd --data-dir; must not exist or be empty")
      ->required();
  restore_cmd->add_option("--expect-head-hash", a.expect_head_hash,
                          "the head hash (hex) the backup reported; exit 4 if the restored one differs");
  restore_cmd->add_flag("--json", a.restore_json, "print the result as one JSON object");

  CLI::App* erase_cmd = parent->add_subcommand(
      "erase", "erase a case's personal data: destroy its data key and record PersonalDataErased (idempotent)");
  erase_cmd->add_option("--case", a.erase_case, "the case id")->required();
  erase_cmd->add_flag("--json", a.erase_json, "print the result as one JSON object");

  CLI::App* rotate_cmd = parent->add_subcommand("rotate-master-key",
                                                "wrap every data key under a new master key (events are not touched)");
  rotate_cmd
      ->add_option("--new-key-file", a.new_key_file,
                   "absolute path of the new master key file on the server's machine (32 bytes or 64 hex digits)")
      ->required();
  rotate_cmd->add_flag("--json", a.rotate_json, "print the result as one JSON object");

  for (CLI::App* cmd : {rebuild_cmd, backup_cmd, erase_cmd, rotate_cmd}) {
    cmd->add_option("--connect-timeout", a.connect_timeout_s, "seconds to wait for the server")
        ->capture_default_str()
        ->check(CLI::Range(1, 3600));
  }
  a.rebuild_cmds.push_back(rebuild_cmd);
  a.backup_cmds.push_back(backup_cmd);
  a.restore_cmds.push_back(restore_cmd);
  a.erase_cmds.push_back(erase_cmd);
  a.rotate_cmds.push_back(rotate_cmd);
}

OpsCommands::~OpsCommands() = default;

std::optional<int> OpsCommands::Run() const {
  if (AnyParsed(args_->rebuild_cmds)) return args_->RunRebuild();
  if (AnyParsed(args_->backup_cmds)) return args_->RunBackup();
  if (AnyParsed(args_->restore_cmds)) return args_->RunRestore();
  if (AnyParsed(args_->erase_cmds)) return args_->RunErase();
  if (AnyParsed(args_->rotate_cmds)) return args_->RunRotateMasterKey();
  return std::nullopt;
}

std::unique_ptr<v1::OperationsService::Stub> OpsCommands::Args::Dial(const char* command, int* exit_code) const {
  auto channel = Connect(*connect);
  if (!channel.ok()) {
    *exit_code = ConnectFailed(command, channel.status());
    return nullptr;
  }
  if (!(*channel)->WaitForConnected(std::chrono::system_clock::now() + std::chrono::seconds(connect_timeout_s))) {
    std::cerr << "kringctl " << command << ": cannot reach " << connect->server << "\n";
    *exit_code = kExitUnreachable;
    return nullptr;
  }
  return v1::OperationsService::NewStub(*channel);
}

// ---------------------------------------------------------------------------
// rebuild
// ---------------------------------------------------------------------------

int OpsCommands::Args::RunRebuild() const {
  int exit_code = 0;
  const auto stub = Dial("rebuild", &exit_code);
  if (!stub) return exit_code;
  const bool bar = !no_progress && (progress || (!rebuild_json && isatty(STDERR_FILENO)));
  grpc::ClientContext context;
  v1::RebuildRequest request;
  request.set_read_model(read_model);
  auto reader = stub->Rebuild(&context, request);
  v1::RebuildProgress p, last;
  ProgressLine line;
  bool done = false;
  while (reader->Read(&p)) {
    if (rebuild_json) std::cout << ProgressJson(p).dump() << std::endl;
    if (bar) DrawRebuildBar(line, p);
    done = done || p.done();
    last = p;
  }
  const grpc::Status status = reader->Finish();
  line.Clear();
  if (!status.ok()) {
    std::cerr << "kringctl rebuild: " << ErrorText(status) << "\n";
    return ExitFor(status);
  }
  if (!done) {
    std::cerr << "kringctl rebuild: the server ended the rebuild without confirming the take-over\n";
    return kExitRefused;
  }
  if (!rebuild_json) {
    const double seconds = last.events_per_second() > 0 ? last.events_done() / last.events_per_second() : 0;
    std::printf("Rebuilt read model '%s': %llu events in %.1f s (%.0f events/s); the rebuilt model has taken over.\n",
                read_model.c_str(), static_cast<unsigned long long>(last.events_done()), seconds,
                last.events_per_second());
  }
  return 0;
}

// ---------------------------------------------------------------------------
// backup
// ---------------------------------------------------------------------------

int OpsCommands::Args::RunBackup() const {
  if (!fs::path(backup_to).is_absolute()) {
    std::cerr << "kringctl backup: --to: must be an absolute path on the server's machine, got \"" << backup_to
              << "\"\n";
    return kExitUsage;
  }
  int exit_code = 0;
  const auto stub = Dial("backup", &exit_code);
  if (!stub) return exit_code;
  grpc::ClientContext context;
  v1::BackupRequest request;
  request.set_destination(backup_to);
  v1::BackupResponse response;
  const grpc::Status status = stub->Backup(&context, request, &response);
  if (!status.ok()) {
    std::cerr << "kringctl backup: " << ErrorText(status) << "\n";
    return ExitFor(status);
  }
  if (backup_json) {
    nlohmann::json j = {{"path", response.path()},
                        {"head_position", response.head_position()},
                        {"head_hash", eventstore::ToHex(response.head_hash())},
                        {"bytes", response.bytes()},
                        {"keys_master_key_id", response.keys_master_key_id()},
                        {"access_log_entries", response.access_log_entries()},
                        {"access_log_head_hash", eventstore::ToHex(response.access_log_head_hash())}};
    std::cout << j.dump() << "\n";
  } else {
    std::printf("%-14s %s\n", "path", response.path().c_str());
    std::printf("%-14s %llu\n", "head position", static_cast<unsigned long long>(response.head_position()));
    std::printf("%-14s %s\n", "head hash", eventstore::ToHex(response.head_hash()).c_str());
    std::printf("%-14s %s (%llu bytes)\n", "size", Bytes(response.bytes()).c_str(),
                static_cast<unsigned long long>(response.bytes()));
    std::printf("%-14s %s\n", "keys",
                response.keys_master_key_id().empty()
                    ? "none (the server has no master key)"
                    : absl::StrCat("wrapped by master key ", response.keys_master_key_id()).c_str());
    std::printf("%-14s %llu entries\n", "access log", static_cast<unsigned long long>(response.access_log_entries()));
  }
  return 0;
}

// ---------------------------------------------------------------------------
// restore
// ---------------------------------------------------------------------------

int OpsCommands::Args::RunRestore() const {
  std::error_code ec;
  if (!fs::is_directory(restore_from, ec)) {
    std::cerr << "kringctl restore: --from: " << restore_from << " is not a folder\n";
    return kExitUsage;
  }
  // A backup holds events/, keys/ (with a master key) and access-log/; one
  // of an older kringd is the event store's checkpoint itself.
  const bool parts = fs::exists(fs::path(restore_from) / "events" / "CURRENT", ec);
  const fs::path events_from = parts ? fs::path(restore_from) / "events" : fs::path(restore_from);
  if (!fs::exists(events_from / "CURRENT", ec)) {
    std::cerr << "kringctl restore: --from: " << restore_from
              << " is not a backup of an event store (no CURRENT, nor events/CURRENT)\n";
    return kExitRefused;
  }
  if (fs::exists(restore_data_dir, ec) &&
      !(fs::is_directory(restore_data_dir, ec) && fs::is_empty(restore_data_dir, ec))) {
    std::cerr << "kringctl restore: --data-dir: " << restore_data_dir
              << " already exists and is not empty; restore into a new folder\n";
    return kExitRefused;
  }
  // kringd keeps its event store in <data>/events (services/server.cc). The
  // copy is verified under another name first, so that a kringd started on
  // the folder never sees a half-copied or unverified store.
  const fs::path events = fs::path(restore_data_dir) / "events";
  const fs::path staging = fs::path(restore_data_dir) / "events.restoring";
  fs::create_directories(restore_data_dir, ec);
  if (!ec) fs::copy(events_from, staging, fs::copy_options::recursive, ec);
  if (ec) {
    std::cerr << "kringctl restore: cannot copy " << events_from.string() << " to " << staging.string() << ": "
              << ec.message() << "\n";
    return kExitRefused;
  }
  if (!restore_json) std::cerr << "Copied the backup; verifying the hash chain ...\n";

  eventstore::ChainVerification chain;
  GlobalPosition head;
  {
    eventstore::EventStoreOptions options;
    options.path = staging.string();
    auto store = eventstore::EventStore::Open(options);
    if (!store.ok()) {
      std::cerr << "kringctl restore: cannot open the restored store: " << store.status().message() << "\n";
      return kExitRefused;
    }
    head = (*store)->Head();
    auto verified = (*store)->VerifyChain(GlobalPosition(1), head);
    if (!verified.ok()) {
      std::cerr << "kringctl restore: cannot verify the restored store: " << verified.status().message() << "\n";
      return kExitRefused;
    }
    chain = *std::move(verified);
    (*store)->Close();
  }
  const std::string head_hash = eventstore::ToHex(chain.head_hash);
  bool ok = chain.ok && chain.last_position == head;
  std::string reason = chain.reason;
  if (ok && !expect_head_hash.empty() && expect_head_hash != head_hash) {
    ok = false;
    reason = absl::StrCat("head hash ", head_hash, " differs from the expected ", expect_head_hash);
  }
  const fs::path final_path = ok ? events : fs::path(restore_data_dir) / "events.unverified";
  fs::rename(staging, final_path, ec);
  if (ec) {
    std::cerr << "kringctl restore: cannot rename " << staging.string() << ": " << ec.message() << "\n";
    return kExitRefused;
  }
  // The keys and the access log, once the events verify: each copied under
  // another name first, renamed to where kringd expects it when complete.
  bool keys_restored = false;
  std::optional<uint64_t> access_log_entries;
  if (ok && fs::is_directory(fs::path(restore_from) / "keys", ec)) {
    const fs::path keys_staging = fs::path(restore_data_dir) / "keys.restoring";
    fs::copy(fs::path(restore_from) / "keys", keys_staging, fs::copy_options::recursive, ec);
    if (!ec) fs::rename(keys_staging, fs::path(restore_data_dir) / "keys", ec);
    if (ec) {
      std::cerr << "kringctl restore: cannot copy the keys to " << keys_staging.string() << ": " << ec.message()
                << "\n";
      return kExitRefused;
    }
    keys_restored = true;
  }
  if (ok && fs::is_directory(fs::path(restore_from) / "access-log", ec)) {
    const fs::path log_staging = fs::path(restore_data_dir) / "access-log.restoring";
    fs::copy(fs::path(restore_from) / "access-log", log_staging, fs::copy_options::recursive, ec);
    if (ec) {
      std::cerr << "kringctl restore: cannot copy the access log to " << log_staging.string() << ": " << ec.message()
                << "\n";
      return kExitRefused;
    }
    absl::Status verified;
    {
      security::AccessLogOptions log_options;
      log_options.path = log_staging.string();
      auto access_log = security::AccessLog::Open(log_options);
      verified = access_log.ok() ? (*access_log)->Verify() : access_log.status();
      if (access_log.ok()) access_log_entries = (*access_log)->size();
    }
    if (!verified.ok()) {
      ok = false;
      reason = absl::StrCat("the access log does not verify: ", verified.message());
    }
    fs::rename(log_staging, fs::path(restore_data_dir) / (verified.ok() ? "access-log" : "access-log.unverified"), ec);
    if (ec) {
      std::cerr << "kringctl restore: cannot rename " << log_staging.string() << ": " << ec.message() << "\n";
      return kExitRefused;
    }
  }
  if (restore_json) {
    nlohmann::json j = {{"path", final_path.string()},
                        {"verified", ok},
                        {"head_position", head.value()},
                        {"head_hash", head_hash},
                        {"events_verified", chain.events_verified},
                        {"keys_restored", keys_restored}};
    if (access_log_entries) j["access_log_entries_verified"] = *access_log_entries;
    if (!ok) {
      j["first_bad_position"] = chain.first_bad_position.value();
      j["reason"] = reason;
    }
    std::cout << j.dump() << "\n";
  } else {
    std::printf("%-16s %s\n", "restored to", final_path.string().c_str());
    std::printf("%-16s %llu\n", "head position", static_cast<unsigned long long>(head.value()));
    std::printf("%-16s %s\n", "head hash", head_hash.c_str());
    std::printf("%-16s %llu\n", "events verified", static_cast<unsigned long long>(chain.events_verified));
    std::printf("%-16s %s\n", "chain", ok ? "verifies" : "DOES NOT VERIFY");
    std::printf("%-16s %s\n", "keys", keys_restored ? "restored" : "not in the backup");
    if (access_log_entries) {
      std::printf("%-16s %llu entries, %s\n", "access log", static_cast<unsigned long long>(*access_log_entries),
                  ok ? "verifies" : "see reason");
    } else {
      std::printf("%-16s %s\n", "access log", "not in the backup");
    }
    if (!ok) {
      if (chain.first_bad_position.value()) {
        std::printf("%-16s %llu\n", "first bad", static_cast<unsigned long long>(chain.first_bad_position.value()));
      }
      std::printf("%-16s %s\n", "reason", reason.c_str());
    }
    if (ok) std::printf("\nStart kringd with --data-dir %s\n", restore_data_dir.c_str());
  }
  return ok ? 0 : kExitChainBroken;
}

// ---------------------------------------------------------------------------
// erase
// ---------------------------------------------------------------------------

int OpsCommands::Args::RunErase() const {
  int exit_code = 0;
  const auto stub = Dial("erase", &exit_code);
  if (!stub) return exit_code;
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
  v1::ErasePersonalDataRequest request;
  request.set_case_id(erase_case);
  v1::ErasePersonalDataResponse response;
  const grpc::Status status = stub->ErasePersonalData(&context, request, &response);
  if (!status.ok()) {
    std::cerr << "kringctl erase: " << ErrorText(status) << "\n";
    return ExitFor(status);
  }
  if (erase_json) {
    nlohmann::json j = {{"case_id", response.case_id()},
                        {"key_id", response.key_id()},
                        {"global_position", response.global_position()},
                        {"stream_version", response.stream_version()},
                        {"already_erased", response.already_erased()}};
    std::cout << j.dump() << "\n";
    return 0;
  }
  if (response.already_erased()) {
    std::printf("Case %s: personal data already erased; nothing appended.\n", response.case_id().c_str());
    if (!response.key_id().empty()) std::printf("%-14s %s (destroyed)\n", "key id", response.key_id().c_str());
    return 0;
  }
  std::printf("Case %s: personal data erased; its sealed parts can no longer be opened.\n", response.case_id().c_str());
  std::printf("%-14s %s\n", "key id",
              response.key_id().empty() ? "- (the case had no personal data)" : response.key_id().c_str());
  std::printf("%-14s %llu\n", "position", static_cast<unsigned long long>(response.global_position()));
  std::printf("%-14s %llu\n", "version", static_cast<unsigned long long>(response.stream_version()));
  return 0;
}

// ---------------------------------------------------------------------------
// rotate-master-key
// ---------------------------------------------------------------------------

int OpsCommands::Args::RunRotateMasterKey() const {
  if (!fs::path(new_key_file).is_absolute()) {
    std::cerr << "kringctl rotate-master-key: --new-key-file: must be an absolute path on the server's machine, got \""
              << new_key_file << "\"\n";
    return kExitUsage;
  }
  int exit_code = 0;
  const auto stub = Dial("rotate-master-key", &exit_code);
  if (!stub) return exit_code;
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(600));
  v1::RotateMasterKeyRequest request;
  request.set_new_master_key_file(new_key_file);
  v1::RotateMasterKeyResponse response;
  const grpc::Status status = stub->RotateMasterKey(&context, request, &response);
  if (!status.ok()) {
    std::cerr << "kringctl rotate-master-key: " << ErrorText(status) << "\n";
    return ExitFor(status);
  }
  if (rotate_json) {
    nlohmann::json j = {{"previous_master_key_id", response.previous_master_key_id()},
                        {"master_key_id", response.master_key_id()},
                        {"data_keys_rewrapped", response.data_keys_rewrapped()}};
    std::cout << j.dump() << "\n";
    return 0;
  }
  std::printf("%-20s %s\n", "previous master key", response.previous_master_key_id().c_str());
  std::printf("%-20s %s\n", "master key", response.master_key_id().c_str());
  std::printf("%-20s %llu\n", "data keys rewrapped", static_cast<unsigned long long>(response.data_keys_rewrapped()));
  std::printf("\nRestart kringd with --master-key-file %s\n", new_key_file.c_str());
  return 0;
}

}  // namespace kring::client
