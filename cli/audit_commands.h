// kringctl's commands for auditors, over kring.v1.AuditService
// (docs/audit.md):
//   kringctl case show CASE   one case, optionally as known at a time
//   kringctl tail             the log, one line per event; --follow waits for more
//   kringctl verify           the hash chain over a range or one case
//   kringctl export           a case or a range as NDJSON, hashes in hex
// Readable tables by default, --json (NDJSON for tail and export) for scripts.
// Exit codes: 0 success; 1 the server refused or failed (e.g. an unknown
// case); 2 bad usage; 3 server unreachable; 4 (verify) the chain does not
// verify.
#pragma once

#include <CLI/CLI.hpp>
#include <memory>
#include <string>

namespace kring::client {

class AuditCommands {
 public:
  // Registers the commands on `app`. `server` (the --server option's target)
  // is read when a command runs, so it may be parsed after this.
  AuditCommands(CLI::App& app, const std::string& server);
  ~AuditCommands();

  // True when the parsed command line names one of these commands.
  bool parsed() const;
  // Runs that command; returns the exit code.
  int Run();

  struct Args;  // the parsed options (audit_commands.cc)

 private:
  const std::string& server_;
  std::unique_ptr<Args> args_;
};

}  // namespace kring::client
