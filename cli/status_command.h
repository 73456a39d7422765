// kringctl status [--json]: what a kringd process is doing — its version and
// roles, the log's head, the store's write health and disk, Kafka (reachable,
// published watermark, relay lag, what the embedded topic holds), each read
// model's applied position and lag, and every health status
// (OperationsService.GetStatus, operator role; docs/operations.md "Status").
// Exit codes: 0 the status was shown (whatever it says), 1 refused, 3
// unreachable.
#pragma once

#include "cli/console.h"
#include "kring/v1/audit.pb.h"

namespace kring::client {

int RunStatus(const ConnectOptions& connect, bool json);

// The table kringctl status prints.
std::string FormatStatus(const v1::GetStatusResponse& status);

}  // namespace kring::client
