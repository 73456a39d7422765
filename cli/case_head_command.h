// kringctl case-head --case ID [--json]: the head of a case the partner may
// append to (IngestService.ReadCaseHead, partner role; the read is recorded in
// the access log with --purpose): whether it exists, its version (the exact
// expected version of the next append), its last event and whether it is
// closed. docs/api.md "Reading a case's head".
// Exit codes: 0 the head was shown (a case without events too), 1 refused,
// 2 bad usage (no --purpose), 3 unreachable.
#pragma once

#include <string>

#include "cli/console.h"
#include "kring/v1/ingest.pb.h"

namespace kring::client {

int RunCaseHead(const ConnectOptions& connect, const std::string& case_id, bool json);

// The table kringctl case-head prints: one "name value" line per field.
std::string FormatCaseHead(const v1::CaseHead& head);

// The JSON kringctl case-head --json prints: the CaseHead in the protobuf JSON
// mapping with the .proto field names and every field (false and 0 too);
// uint64 fields are strings, as the mapping writes them.
std::string CaseHeadJson(const v1::CaseHead& head);

}  // namespace kring::client
