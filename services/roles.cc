#include "services/roles.h"

#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace kring::services {

std::string Roles::ToString() const {
  std::vector<std::string> names;
  if (ingest) names.push_back("ingest");
  if (relay) names.push_back("relay");
  if (projections) names.push_back("projections");
  if (query) names.push_back("query");
  return absl::StrJoin(names, ",");
}

absl::StatusOr<Roles> ParseRoles(const std::string& text) {
  Roles roles{false, false, false, false};
  for (absl::string_view part : absl::StrSplit(text, ',')) {
    const absl::string_view name = absl::StripAsciiWhitespace(part);
    if (name == "ingest") {
      roles.ingest = true;
    } else if (name == "relay") {
      roles.relay = true;
    } else if (name == "projections") {
      roles.projections = true;
    } else if (name == "query") {
      roles.query = true;
    } else if (name.empty()) {
      return absl::InvalidArgumentError(
          "--roles: a comma-separated, non-empty list of ingest, relay, projections, query; got an empty name");
    } else {
      return absl::InvalidArgumentError(absl::StrCat("--roles: \"", name,
                                                     "\" is not a role; a comma-separated, non-empty list of "
                                                     "ingest, relay, projections, query"));
    }
  }
  return roles;
}

absl::Status ValidateRoles(const Roles& roles, const std::string& ingest_node, const std::string& kafka_bootstrap) {
  if (roles.relay && !roles.ingest) {
    return absl::InvalidArgumentError("--roles: relay needs ingest (the outbox it publishes is in the local store)");
  }
  if (roles.query && !roles.projections) {
    return absl::InvalidArgumentError(
        "--roles: query needs projections (the read models it answers from run in "
        "the same process)");
  }
  if (roles.projections && !roles.ingest) {
    if (ingest_node.empty()) {
      return absl::InvalidArgumentError(
          "--ingest-node: required with --roles projections without ingest (the ingest node's host:port, to fill "
          "what Kafka did not bring)");
    }
    if (kafka_bootstrap.empty()) {
      return absl::InvalidArgumentError(
          "--kafka-bootstrap: required with --roles projections without ingest (the embedded cluster lives inside "
          "the ingest node's process and cannot be shared)");
    }
  }
  if (roles.ingest && !ingest_node.empty()) {
    return absl::InvalidArgumentError("--ingest-node: only for a process without the ingest role");
  }
  return absl::OkStatus();
}

}  // namespace kring::services
