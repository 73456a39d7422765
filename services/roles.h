// What one kringd process does (--roles, KRING_ROLES; docs/architecture.md
// "Roles and read replicas"):
//   ingest       the event store and IngestService, AuditService,
//                OperationsService and ReplicationService (the log for
//                replicas);
//   relay        the outbox relay to Kafka (needs ingest: the outbox is in
//                the local store);
//   projections  the read models, fed by Kafka; without ingest they fill
//                gaps from the ingest node (--ingest-node) over gRPC;
//   query        ResearchService (needs projections: the read models are
//                in-process).
#pragma once

#include <string>

#include "absl/status/statusor.h"

namespace kring::services {

struct Roles {
  bool ingest = true;
  bool relay = true;
  bool projections = true;
  bool query = true;

  bool all() const { return ingest && relay && projections && query; }
  // "ingest,relay,projections,query" (the roles set, in this order).
  std::string ToString() const;
};

// Parses a comma-separated, non-empty subset of ingest, relay, projections,
// query (spaces around names ignored, repeats allowed). INVALID_ARGUMENT
// naming --roles for an unknown or missing name.
absl::StatusOr<Roles> ParseRoles(const std::string& text);

// The rules between roles and the flags they need: relay needs ingest, query
// needs projections; projections without ingest need `ingest_node` and a
// real Kafka cluster (`kafka_bootstrap` non-empty). INVALID_ARGUMENT naming
// the flag.
absl::Status ValidateRoles(const Roles& roles, const std::string& ingest_node, const std::string& kafka_bootstrap);

}  // namespace kring::services
