#include "eventstore/validation.h"

#include <unordered_set>

#include "absl/strings/str_cat.h"
#include "eventstore/event_store.h"

namespace kring::eventstore {
namespace {

bool IsLowerHex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); }
bool IsAlnum(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

absl::Status Invalid(const std::string& field, const std::string& rule) {
  return absl::InvalidArgumentError(absl::StrCat(field, ": ", rule));
}

}  // namespace

bool IsValidId(std::string_view id) {
  if (id.empty() || id.size() > 64 || !IsAlnum(id[0])) return false;
  for (char c : id) {
    if (!IsAlnum(c) && c != '.' && c != '_' && c != ':' && c != '-') return false;
  }
  return true;
}

bool IsValidUuid(std::string_view id) {
  if (id.size() != 36) return false;
  for (size_t i = 0; i < id.size(); ++i) {
    const bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash ? id[i] != '-' : !IsLowerHex(id[i])) return false;
  }
  return true;
}

absl::Status ValidateBatch(const AppendBatch& batch, const ValidationOptions& options, absl::Time now) {
  if (!IsValidId(batch.case_id.value())) {
    return Invalid("case_id", "must be 1-64 characters of A-Z a-z 0-9 . _ : - starting with a letter or digit");
  }
  if (batch.events.empty()) return Invalid("events", "a batch must hold at least one event");
  if (batch.events.size() > options.max_batch_events) {
    return absl::ResourceExhaustedError(absl::StrCat("events: a batch holds at most ", options.max_batch_events,
                                                     " events; this one has ", batch.events.size()));
  }
  size_t bytes = 0;
  std::unordered_set<std::string_view> ids;
  const absl::Time latest = now + options.clock_skew;
  for (size_t i = 0; i < batch.events.size(); ++i) {
    const v1::Event& e = batch.events[i];
    const std::string at = absl::StrCat("events[", i, "]");
    bytes += e.ByteSizeLong();
    if (!IsValidUuid(e.event_id())) {
      return Invalid(at + ".event_id", "must be a UUID in lowercase hexadecimal (8-4-4-4-12 digits)");
    }
    if (!ids.insert(e.event_id()).second) {
      return Invalid(at + ".event_id", "appears twice in this batch; every event needs its own id");
    }
    if (!e.has_occurred_at()) return Invalid(at + ".occurred_at", "is required");
    const auto& ts = e.occurred_at();
    if (ts.nanos() < 0 || ts.nanos() > 999999999) {
      return Invalid(at + ".occurred_at.nanos", "must lie in 0..999999999");
    }
    const absl::Time occurred = absl::FromUnixSeconds(ts.seconds()) + absl::Nanoseconds(ts.nanos());
    if (occurred < options.occurred_at_floor) {
      return Invalid(at + ".occurred_at",
                     absl::StrCat("must not lie before ", absl::FormatTime(options.occurred_at_floor)));
    }
    if (occurred > latest) {
      return Invalid(at + ".occurred_at", "must not lie in the future (beyond the allowed clock skew)");
    }
    if (!e.correlation_id().empty() && !IsValidUuid(e.correlation_id())) {
      return Invalid(at + ".correlation_id", "must be empty or a lowercase UUID");
    }
    if (!e.causation_id().empty() && !IsValidUuid(e.causation_id())) {
      return Invalid(at + ".causation_id", "must be empty or a lowercase UUID");
    }
    if (e.payload_case() == v1::Event::PAYLOAD_NOT_SET) {
      return Invalid(at + ".payload", "exactly one event payload (case_referred … case_closed) is required");
    }
    if (e.payload_case() == v1::Event::kPersonalDataErased) {
      return Invalid(at + ".personal_data_erased", "is written by the server only, never by a partner");
    }
    if (e.has_personal()) {
      // Sealing with per-case data keys is not part of this server version;
      // refusing keeps personal data from ever resting in clear.
      return Invalid(at + ".personal", "this server does not accept personal data yet; leave it empty");
    }
  }
  if (bytes > options.max_batch_bytes) {
    return absl::ResourceExhaustedError(
        absl::StrCat("events: a batch holds at most ", options.max_batch_bytes, " bytes; this one has ", bytes));
  }
  return absl::OkStatus();
}

}  // namespace kring::eventstore
