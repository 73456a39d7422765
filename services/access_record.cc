#include "services/access_record.h"

#include <utility>

#include "common/log.h"

namespace kring::services {

absl::Status RecordRead(security::AccessLog& access_log, const security::Identity& reader, const char* rpc,
                        const std::string& case_id, const std::string& scope, std::string purpose,
                        const char* subsystem) {
  v1::AccessLogEntry entry;
  entry.set_identity(reader.name);
  entry.set_role(reader.proto_role());
  entry.set_rpc(rpc);
  entry.set_case_id(case_id);
  entry.set_scope(scope);
  entry.set_purpose(std::move(purpose));
  if (absl::StatusOr<v1::AccessLogEntry> recorded = access_log.Record(std::move(entry)); !recorded.ok()) {
    Logger(subsystem)->error("msg=access_log_write_failed rpc={} status_code={}", rpc,
                             absl::StatusCodeToString(recorded.status().code()));
    return absl::UnavailableError("access log: the read could not be recorded, so it is refused; try again");
  }
  return absl::OkStatus();
}

}  // namespace kring::services
