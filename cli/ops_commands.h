// kringctl's commands for operators:
//   kringctl rebuild READ_MODEL              rebuild a read model online (progress bar on stderr)
//   kringctl backup --to DIR                 checkpoint the event store on the server's machine
//   kringctl restore --from BACKUP --data-dir NEW_DATA_DIR
//                                            restore a backup locally and verify its hash chain
//   kringctl erase --case ID                 erase a case's personal data (destroy its data key)
//   kringctl rotate-master-key --new-key-file PATH
//                                            wrap every data key under a new master key
// Each is also `kringctl ops <command>`.
// `--json` makes each print JSON for scripts. Exit codes: 0 success; 1 the
// server refused or failed, or a local error; 2 bad usage; 3 server
// unreachable; 4 (restore) the restored store's hash chain does not verify.
// See docs/operations.md.
#pragma once

#include <CLI/CLI.hpp>
#include <memory>
#include <optional>
#include <string>

#include "cli/console.h"

namespace kring::client {

class OpsCommands {
 public:
  // Adds the subcommands to `app` and to an `ops` subcommand of it.
  // `connect` (the global --server, --tls-*, --token, --purpose flags) is
  // read when a command runs, after parsing; it must outlive this object.
  OpsCommands(CLI::App& app, const ConnectOptions* connect);
  ~OpsCommands();

  // After parsing: the exit code of the operator command given, or nullopt
  // when another command was given.
  std::optional<int> Run() const;

 private:
  struct Args;
  std::unique_ptr<Args> args_;
};

}  // namespace kring::client
