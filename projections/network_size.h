// The network-size read model (DESIGN section 4, docs/read-models.md):
// per held conference, the number of distinct attendees from the person's own
// network — central persons included; the coordinator and participants
// invited as professionals excluded. Attendees never invited in the case are
// counted, with relation "unknown".
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "kring/storage/readmodels.pb.h"
#include "kring/v1/research.pb.h"
#include "projections/engine.h"
#include "projections/projection.h"

namespace kring::projections {

class NetworkSizeProjection : public Projection {
 public:
  static constexpr char kName[] = "network-size";
  std::string name() const override { return kName; }
  absl::Status Apply(const v1::RecordedEvent& event, ModelTxn& txn) override;
  absl::Status ForgetCase(const std::string& case_id, ModelTxn& txn) override;
};

// Figures over a set of conferences: count, mean, median and percentiles
// (linear interpolation between closest ranks, as numpy's default and R's
// type 7), min, max, histogram (sizes 0..29, last bin "30 or more") and
// composition by relation.
v1::NetworkSizeStats Summarize(const std::vector<storage::ConferenceFact>& facts);

// Checks a query's filters, naming the field and rule (INVALID_ARGUMENT).
// as_of_position is not checked here: it depends on the log's head.
absl::Status ValidateNetworkSizeRequest(const v1::NetworkSizeRequest& request);

// Answers a query from the read model: validates the filters (naming the field
// and rule), filters, groups and summarizes, and reports the watermark. It
// ignores as_of_position: the caller passes the engine to answer from (a
// ReplayedModel's for a position).
absl::StatusOr<v1::NetworkSizeResponse> QueryNetworkSize(const ProjectionEngine& engine,
                                                         const v1::NetworkSizeRequest& request);

// The definition in words, returned with every answer.
extern const char kNetworkSizeDefinition[];

}  // namespace kring::projections
