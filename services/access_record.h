// Recording a case-level read in the access log (NEN 7513) before it is
// answered: one path for AuditService's reads and IngestService.ReadCaseHead.
#pragma once

#include <string>

#include "absl/status/status.h"
#include "security/access_log.h"
#include "security/auth.h"

namespace kring::services {

// Records that `reader` called `rpc` on `case_id` (empty: a read across
// cases) with `scope` and `purpose`. A failed write is logged under
// `subsystem` (without personal data) and returned as UNAVAILABLE: the read
// must then be refused.
absl::Status RecordRead(security::AccessLog& access_log, const security::Identity& reader, const char* rpc,
                        const std::string& case_id, const std::string& scope, std::string purpose,
                        const char* subsystem);

}  // namespace kring::services
