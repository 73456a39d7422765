// kringctl's commands for auditors, over kring.v1.AuditService
// (docs/audit.md):
//   kringctl case show CASE   one case, optionally as known at a time
//   kringctl tail             the log, one line per event; --follow waits for more
//   kringctl verify           the hash chain over a range or one case
//   kringctl export           a case or a range as NDJSON, hashes in hex
//   kringctl access-log       who read which case when and why (NEN 7513)
// Each is also `kringctl audit <command>`. The server records every one of
// these reads in its access log and wants a purpose (--purpose).
// Readable tables by default, --json (NDJSON for tail and export) for scripts.
// Exit codes: 0 success; 1 the server refused or failed (e.g. an unknown
// case); 2 bad usage; 3 server unreachable; 4 (verify, access-log) the chain
// does not verify.
#pragma once

#include <CLI/CLI.hpp>
#include <memory>
#include <string>

#include "cli/console.h"

namespace kring::client {

class AuditCommands {
 public:
  // Registers the commands on `app` and on an `audit` subcommand of it.
  // `connect` (the global --server, --tls-*, --token, --purpose flags) is
  // read when a command runs, so it may be parsed after this.
  AuditCommands(CLI::App& app, const ConnectOptions& connect);
  ~AuditCommands();

  // True when the parsed command line names one of these commands.
  bool parsed() const;
  // Runs that command; returns the exit code.
  int Run();

  struct Args;  // the parsed options (audit_commands.cc)

 private:
  const ConnectOptions& connect_;
  std::unique_ptr<Args> args_;
};

}  // namespace kring::client
